//! Turning what a person typed into a safe FTS5 query, and spotting queries that are file
//! names.
//!
//! User text never reaches FTS5's query syntax as such: it is split on whitespace and every
//! word becomes a double-quoted FTS5 string (embedded quotes doubled), so `-`, `*`, `:`, `(`,
//! `NEAR` or `AND` are plain text and can never cause a syntax error. Inside a string the
//! tokenizer splits the word as it splits documents, so `main.rs` is the phrase `main rs`.
//! Words are ANDed; the last word also matches as a prefix (when it is long enough for the
//! prefix to be selective), which suits queries typed incrementally.

/// Shortest last word that is also matched as a prefix: shorter prefixes match too many terms
/// to be useful and make the query slow on a large index.
const MIN_PREFIX_CHARS: usize = 3;

/// Whether `c` is part of a token for the index's tokenizer (`unicode61` with `_` added): letters,
/// digits, and `_`. Words with none of these would become empty phrases, which match nothing.
fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The FTS5 MATCH expression for `text`, or `None` when it has no searchable word.
pub fn match_expression(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| w.chars().any(is_token_char))
        .collect();
    let last = words.len().checked_sub(1)?;
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push_str(" AND ");
        }
        out.push('"');
        out.push_str(&word.replace('"', "\"\""));
        out.push('"');
        // The prefix applies to the word's last token (`rs` in `main.rs`): it must end the
        // word and be long enough.
        let last_token = word.chars().rev().take_while(|c| is_token_char(*c)).count();
        if i == last && last_token >= MIN_PREFIX_CHARS {
            out.push('*');
        }
    }
    Some(out)
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
            Some(r#""hello" AND "world"*"#)
        );
        assert_eq!(match_expression("  fn  ").as_deref(), Some(r#""fn""#));
        assert_eq!(
            match_expression(r#"say "hi""#).as_deref(),
            Some(r#""say" AND """hi""""#)
        );
        assert_eq!(match_expression("main.rs").as_deref(), Some(r#""main.rs""#));
        assert_eq!(match_expression("-x").as_deref(), Some(r#""-x""#));
        assert_eq!(match_expression("*** -- :"), None);
        assert_eq!(match_expression(""), None);
        assert_eq!(
            match_expression("snake_case").as_deref(),
            Some(r#""snake_case"*"#)
        );
        assert_eq!(
            match_expression("lib.rust").as_deref(),
            Some(r#""lib.rust"*"#)
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
        for text in nasty {
            let Some(expr) = match_expression(text) else {
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
                [match_expression("qui").expect("words")],
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
