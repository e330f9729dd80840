//! Snippets for search hits, made from the files themselves.
//!
//! The index keeps terms, not text ([`crate::index`]), so a hit's snippet is made when the hit
//! is returned: the file is read again (beneath its root, up to the size cap) and put in a
//! small in-memory FTS5 table with the index's own tokenizer, where FTS5's `snippet()` marks
//! the query's words. Same tokenizer, same stemming, same phrase rules: what the index matched
//! is what the snippet marks. Only the returned hits are read, at most [`crate::MAX_HITS`].
//!
//! A long file is not tokenized whole: only windows around the first places its text contains
//! the start of a query word (a byte search, ASCII case folded), plus its beginning. A file
//! that changed since it was indexed shows what it holds now.

use rusqlite::{Connection, params};

use crate::tokens::TOKENIZER;

/// Tokens of context in a snippet.
const SNIPPET_TOKENS: i64 = 12;

/// Characters of a file's beginning shown when a hit has no snippet of its own.
const LEAD_CHARS: usize = 160;

/// Texts up to this size are tokenized whole.
const WHOLE_BYTES: usize = 4 * 1024;

/// Bytes either side of a place a query word starts, in a long text.
const WINDOW_BYTES: usize = 400;

/// Places looked at per query word in a long text.
const PLACES_PER_WORD: usize = 3;

/// Characters of a query word's start searched for in a long text: short enough to survive
/// stemming (`running` is indexed as `run`), long enough to be rare.
const WORD_START_CHARS: usize = 4;

/// The in-memory table snippets are made in. One per searcher; empty between uses.
pub struct Snippets {
    conn: Connection,
}

/// Collapse runs of whitespace so a snippet reads as one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The beginning of a text, on one line, at most [`LEAD_CHARS`] characters.
pub fn lead(text: &str) -> Option<String> {
    // Only the beginning is looked at, however long the text: a run of whitespace longer than
    // this shows as an empty lead, which is right.
    let line = one_line(&text[..floor_boundary(text, LEAD_CHARS * 8)]);
    if line.is_empty() {
        return None;
    }
    let mut chars = line.chars();
    let head: String = chars.by_ref().take(LEAD_CHARS).collect();
    Some(if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    })
}

/// What is searched for in a long text, per token of the query's words: the token itself and
/// its first few characters (stemming may have matched another form: `parse` finds
/// `parsing`), ASCII-lowercased, since the text is searched ASCII-lowercased.
fn word_starts(words: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for word in words {
        for token in word.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
            if token.is_empty() {
                continue;
            }
            let whole = token.to_ascii_lowercase();
            let start: String = whole.chars().take(WORD_START_CHARS).collect();
            if !out.iter().any(|(w, _)| *w == whole) {
                out.push((whole, start));
            }
        }
    }
    out
}

/// Move `at` down to a character boundary of `text`.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The part of `text` worth tokenizing for a snippet of `words` (see the module docs).
pub fn excerpt<'a>(text: &'a str, words: &[&str]) -> std::borrow::Cow<'a, str> {
    if text.len() <= WHOLE_BYTES {
        return text.into();
    }
    let folded = text.to_ascii_lowercase();
    let mut spans: Vec<(usize, usize)> = vec![(0, floor_boundary(text, 2 * WINDOW_BYTES))];
    for (whole, start) in word_starts(words) {
        let start = if folded.contains(&whole) {
            whole
        } else {
            start
        };
        let mut from = 0;
        for _ in 0..PLACES_PER_WORD {
            let Some(found) = folded[from..].find(&start) else {
                break;
            };
            let at = from + found;
            spans.push((
                floor_boundary(text, at.saturating_sub(WINDOW_BYTES)),
                floor_boundary(text, at + start.len() + WINDOW_BYTES),
            ));
            from = floor_boundary(text, at + start.len() + WINDOW_BYTES);
            if from >= text.len() {
                break;
            }
        }
    }
    spans.sort_unstable();
    let mut out = String::new();
    let mut end = 0;
    for (from, to) in spans {
        let from = from.max(end);
        if from >= to {
            continue;
        }
        if from > end {
            // A paragraph break, so no phrase matches across two windows.
            out.push_str("\n…\n");
        }
        out.push_str(&text[from..to]);
        end = to;
    }
    out.into()
}

impl Snippets {
    /// The in-memory table.
    pub fn new() -> rusqlite::Result<Self> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE snip USING fts5 (body, tokenize = \"{TOKENIZER}\");"
        ))?;
        Ok(Self { conn })
    }

    /// For each `(key, text)`, the text around the matches of `expr` (an FTS5 expression over
    /// the same tokenizer), matches marked with « »; `None` for a text without a match.
    pub fn make(&self, expr: &str, texts: &[(i64, &str)]) -> rusqlite::Result<Vec<Option<String>>> {
        let mut out = vec![None; texts.len()];
        if texts.is_empty() {
            return Ok(out);
        }
        // The texts are put in for this call only and rolled back after it: a rollback drops
        // FTS5's pending terms at once, where deleting the rows tokenized every text again
        // (half of the snippets' cost).
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut add = tx.prepare_cached("INSERT INTO snip (rowid, body) VALUES (?1, ?2)")?;
            for (position, (_, text)) in texts.iter().enumerate() {
                add.execute(params![position as i64, text])?;
            }
            let mut found = tx.prepare_cached(&format!(
                "SELECT rowid, snippet(snip, 0, '«', '»', '…', {SNIPPET_TOKENS})
                 FROM snip WHERE snip MATCH ?1"
            ))?;
            let rows = found.query_map([expr], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            for row in rows {
                let (position, snippet) = row?;
                if let Some(slot) = usize::try_from(position).ok().and_then(|p| out.get_mut(p)) {
                    *slot = snippet.map(|s| one_line(&s)).filter(|s| !s.is_empty());
                }
            }
        }
        tx.rollback()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_stemmed_words_and_phrases() {
        let snippets = Snippets::new().expect("table");
        let made = snippets
            .make(
                "\"parse\" OR \"come from\"",
                &[
                    (
                        1,
                        "We were parsing the input when errors come from nowhere.",
                    ),
                    (2, "nothing here"),
                    (3, "from come, not the phrase"),
                ],
            )
            .expect("snippets");
        let first = made[0].as_deref().expect("a snippet");
        assert!(first.contains("«parsing»"), "{first}");
        assert!(
            first.contains("«come from»") || first.contains("«come» «from»"),
            "{first}"
        );
        assert_eq!(made[1], None);
        assert_eq!(made[2], None, "the words out of order are not the phrase");
        // The table is empty again: a later call sees only its own texts.
        let again = snippets.make("\"nothing\"", &[(9, "x")]).expect("again");
        assert_eq!(again, vec![None]);
    }

    #[test]
    fn long_texts_keep_the_places_of_the_words() {
        let filler = "lorem ipsum dolor sit amet ".repeat(10_000);
        let text = format!("Title line\n{filler} the lighthouse keeper {filler} ünïcode end");
        let cut = excerpt(&text, &["Lighthouse"]);
        assert!(cut.len() < 8 * 1024, "{}", cut.len());
        assert!(cut.starts_with("Title line"));
        assert!(cut.contains("the lighthouse keeper"));
        let snippets = Snippets::new().expect("table");
        let made = snippets
            .make("\"lighthouse\"", &[(0, cut.as_ref())])
            .expect("snippets");
        assert!(
            made[0]
                .as_deref()
                .is_some_and(|s| s.contains("«lighthouse»"))
        );
        // Windows never split a character, whatever the offsets.
        for word in ["ünï", "end", "code", "zzz"] {
            let _ = excerpt(&text, &[word]).len();
        }
        assert_eq!(excerpt("short", &["x"]), "short");
    }

    #[test]
    fn lead_is_one_line_and_capped() {
        assert_eq!(lead("  a\n\tb  ").as_deref(), Some("a b"));
        assert_eq!(lead(" \n "), None);
        let long = "word ".repeat(100);
        let shown = lead(&long).expect("lead");
        assert!(shown.ends_with('…') && shown.chars().count() == LEAD_CHARS + 1);
    }
}
