//! Turning what a person typed into a safe FTS5 query, and spotting queries that are file
//! names.
//!
//! User text never reaches FTS5's query syntax as such. It is cut into phrases: text between
//! a pair of double quotes is one phrase (`"come from"` matches those words in that order),
//! every other whitespace-separated word is a phrase of its own. Each phrase becomes a
//! double-quoted FTS5 string (embedded quotes doubled), so `-`, `:`, `(`, `NEAR` or `AND` are
//! plain text and can never cause a syntax error; inside a string the tokenizer splits the
//! text as it splits documents, so `main.rs` is the phrase `main rs`. Phrases are ANDed.
//!
//! A word ending in `*` (`config*`) is matched as a prefix, when what precedes the `*` is long
//! enough to be selective. Nothing else is: matching the last word as a prefix made every
//! three-letter word (`the*`: then, there, they…) one of the slowest queries on a large index,
//! and the index's stemming already matches a word's other forms (`parsing` finds `parse`).
//! An unpaired quote is ignored.

/// Shortest text before a `*` that is matched as a prefix: shorter prefixes match too many
/// terms to be useful and make the query slow on a large index.
const MIN_PREFIX_CHARS: usize = 3;

/// Whether `c` is part of a token for the index's tokenizer (`unicode61` with `_` added): letters,
/// digits, and `_`. Words with none of these would become empty phrases, which match nothing.
fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// One phrase of a query: words that must appear together, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phrase {
    /// The text as typed (without the quotes or the trailing `*`).
    pub text: String,
    /// Whether its last token is matched as a prefix.
    pub prefix: bool,
}

impl Phrase {
    /// The phrase as an FTS5 string.
    fn fts(&self) -> String {
        let mut out = format!("\"{}\"", self.text.replace('"', "\"\""));
        if self.prefix {
            out.push('*');
        }
        out
    }
}

/// The phrases of `text`, in order (see the module docs).
pub fn phrases(text: &str) -> Vec<Phrase> {
    let mut out = Vec::new();
    let push_words = |segment: &str, out: &mut Vec<Phrase>| {
        for word in segment.split(|c: char| c.is_whitespace() || c.is_control()) {
            let (word, starred) = match word.strip_suffix('*') {
                Some(stem) => (stem.trim_end_matches('*'), true),
                None => (word, false),
            };
            if !word.chars().any(is_token_char) {
                continue;
            }
            // The prefix applies to the word's last token (`conf` in `app.conf*`): it must
            // end the word and be long enough.
            let last_token = word.chars().rev().take_while(|c| is_token_char(*c)).count();
            out.push(Phrase {
                text: word.to_string(),
                prefix: starred && last_token >= MIN_PREFIX_CHARS,
            });
        }
    };
    let quotes = text.matches('"').count();
    // With an odd number of quotes the last one is unpaired and counts as a space.
    let paired = quotes - quotes % 2;
    let mut rest = text;
    let mut seen = 0;
    while seen < paired {
        let Some(open) = rest.find('"') else { break };
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { break };
        push_words(&rest[..open], &mut out);
        let inner = after[..close]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if inner.chars().any(is_token_char) {
            out.push(Phrase {
                text: inner,
                prefix: false,
            });
        }
        rest = &after[close + 1..];
        seen += 2;
    }
    push_words(&rest.replace('"', " "), &mut out);
    out
}

/// The FTS5 MATCH expression for `text` (every phrase required), or `None` when it has no
/// searchable word.
pub fn match_expression(text: &str) -> Option<String> {
    joined(&phrases(text), " AND ")
}

/// The expression that marks matches in a snippet: any of the phrases, since a file can match
/// a query through its name or path and show only some of the words in its text.
pub fn snippet_expression(text: &str) -> Option<String> {
    joined(&phrases(text), " OR ")
}

fn joined(phrases: &[Phrase], by: &str) -> Option<String> {
    if phrases.is_empty() {
        return None;
    }
    Some(phrases.iter().map(Phrase::fts).collect::<Vec<_>>().join(by))
}

/// A query that looks like it names a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameQuery {
    /// A file name, matched exactly (ASCII case-insensitively): `Cargo.toml`, `README`.
    Name(String),
    /// The end of a path, matched as a suffix after a `/`: `src/main.rs`.
    PathSuffix(String),
    /// A glob over file names (`*.toml`) or, with a `/`, over path ends (`docs/*.md`).
    Glob(String),
}

/// How `text` should also be matched against file names: a single word (no spaces) is tried as
/// a file name, a word with `/` as the end of a path, a word with `*` or `?` as a glob.
pub fn name_query(text: &str) -> Option<NameQuery> {
    let word = text.trim();
    if word.is_empty() || word.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let word = word.trim_start_matches("./");
    let lower = word.to_ascii_lowercase();
    if word.contains(['*', '?']) {
        return Some(NameQuery::Glob(lower));
    }
    let trimmed = lower.trim_end_matches('/');
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.contains('/') {
        let tail = trimmed.trim_start_matches('/');
        return Some(NameQuery::PathSuffix(format!("/{tail}")));
    }
    Some(NameQuery::Name(word.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn words_are_quoted_and_anded() {
        assert_eq!(
            match_expression("hello world").as_deref(),
            Some(r#""hello" AND "world""#)
        );
        assert_eq!(match_expression("  fn  ").as_deref(), Some(r#""fn""#));
        assert_eq!(match_expression("main.rs").as_deref(), Some(r#""main.rs""#));
        assert_eq!(match_expression("-x").as_deref(), Some(r#""-x""#));
        assert_eq!(match_expression("*** -- :"), None);
        assert_eq!(match_expression(""), None);
        assert_eq!(
            match_expression("snake_case").as_deref(),
            Some(r#""snake_case""#)
        );
        assert_eq!(
            snippet_expression("hello world").as_deref(),
            Some(r#""hello" OR "world""#)
        );
    }

    #[test]
    fn quotes_make_phrases_and_a_star_a_prefix() {
        assert_eq!(
            match_expression(r#"say "come  from" here"#).as_deref(),
            Some(r#""say" AND "come from" AND "here""#)
        );
        // An unpaired quote is a space; an empty pair is nothing.
        assert_eq!(
            match_expression(r#""a b" "c"#).as_deref(),
            Some(r#""a b" AND "c""#)
        );
        assert_eq!(
            match_expression(r#"x "" y"#).as_deref(),
            Some(r#""x" AND "y""#)
        );
        assert_eq!(
            match_expression(r#"it"s"#).as_deref(),
            Some(r#""it" AND "s""#)
        );
        assert_eq!(match_expression("conf*").as_deref(), Some(r#""conf"*"#));
        assert_eq!(
            match_expression("app.conf** x").as_deref(),
            Some(r#""app.conf"* AND "x""#)
        );
        // Too short to be a useful prefix: the word itself.
        assert_eq!(match_expression("th*").as_deref(), Some(r#""th""#));
        // A star inside a quoted phrase is text.
        assert_eq!(
            match_expression(r#""conf*""#).as_deref(),
            Some(r#""conf*""#)
        );
    }

    /// Every one of these must be valid FTS5 syntax and must not fail at run time.
    #[test]
    fn hostile_text_never_breaks_fts5() {
        let conn = Connection::open_in_memory().expect("sqlite");
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(name, body, tokenize = \"unicode61 tokenchars '_'\");
             INSERT INTO t VALUES ('notes.md', 'the quick brown fox: AND NOT near(\"x\") -- *');",
        )
        .expect("setup");
        let nasty = [
            "\"",
            "\"\"",
            "\"unterminated",
            "\"a\" \"b",
            "\"*\"",
            "\"NEAR(\" x",
            "\"\"\"\"",
            "\"fox brown\"*",
            "fox**",
            "* *",
            "\"\u{0}\"",
            "a\"b",
            "*",
            "fox*",
            "*fox",
            "-fox",
            "fox -brown",
            "name:fox",
            "body:",
            ":",
            "^fox",
            "fox^",
            "NEAR(fox brown)",
            "NEAR/2",
            "AND",
            "OR fox",
            "NOT",
            "fox AND",
            "(fox",
            "fox)",
            "{name body}: fox",
            "+",
            "fox + brown",
            "'",
            "fox's",
            "\\",
            "\u{0}fox",
            "fox\u{0}",
            "😀",
            "😀 fox",
            "日本語",
            "ä ö ü",
            "a_b",
            "__",
            "x",
            "...",
            "%",
            "$1",
            "[a-z]",
            "c++",
            "C#",
            "e-mail@example.com",
            "http://example.com/a?b=c#d",
            "   ",
            "\t\n",
        ];
        let expressions = nasty
            .iter()
            .flat_map(|text| [match_expression(text), snippet_expression(text)].map(|e| (text, e)));
        for (text, expr) in expressions {
            let Some(expr) = expr else {
                continue;
            };
            let result: rusqlite::Result<Vec<String>> = conn
                .prepare("SELECT name FROM t WHERE t MATCH ?1")
                .and_then(|mut stmt| {
                    stmt.query_map([&expr], |row| row.get(0))?
                        .collect::<rusqlite::Result<Vec<String>>>()
                });
            assert!(result.is_ok(), "{text:?} -> {expr:?}: {result:?}");
        }
        // And the quoting still finds things.
        let hits: i64 = conn
            .query_row(
                "SELECT count(*) FROM t WHERE t MATCH ?1",
                [match_expression("fox: AND NOT near").expect("words")],
                |r| r.get(0),
            )
            .expect("query");
        assert_eq!(hits, 1);
        let prefix: i64 = conn
            .query_row(
                "SELECT count(*) FROM t WHERE t MATCH ?1",
                [match_expression("qui*").expect("words")],
                |r| r.get(0),
            )
            .expect("query");
        assert_eq!(prefix, 1);
    }

    #[test]
    fn file_name_queries() {
        assert_eq!(
            name_query("Cargo.toml"),
            Some(NameQuery::Name("Cargo.toml".into()))
        );
        assert_eq!(
            name_query(" README "),
            Some(NameQuery::Name("README".into()))
        );
        assert_eq!(
            name_query("./src/Main.rs"),
            Some(NameQuery::PathSuffix("/src/main.rs".into()))
        );
        assert_eq!(name_query("*.TOML"), Some(NameQuery::Glob("*.toml".into())));
        assert_eq!(
            name_query("docs/*.md"),
            Some(NameQuery::Glob("docs/*.md".into()))
        );
        assert_eq!(name_query("two words"), None);
        assert_eq!(name_query("///"), None);
        assert_eq!(name_query(""), None);
    }
}
