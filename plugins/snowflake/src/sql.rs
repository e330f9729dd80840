//! Which statements the read-only `query` tool takes: exactly one statement whose first
//! keyword reads (SELECT, WITH … SELECT, SHOW, DESCRIBE / DESC, EXPLAIN, LIST / LS). The text
//! is scanned the way Snowflake reads it, so comments (`--`, `//`, `/* */`), string literals
//! (`'…'` with `''` and `\` escapes, `$$…$$`) and quoted identifiers (`"…"`) cannot hide a
//! keyword or a `;`. A second statement after a `;` is refused, and the SQL API is never told
//! to take several (no `MULTI_STATEMENT_COUNT`), so Snowflake refuses one too. Everything else
//! goes to `execute`, which the host asks the person about first.

/// Why a statement is not for `query`.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It changes data, or might.
    Writes(String),
    /// More than one statement.
    Several,
    /// Nothing to run, or text that does not end (an open comment or literal).
    Malformed(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Writes(keyword) => write!(
                f,
                "a {keyword} statement is not read-only: this statement changes data: use \
                 `execute`, which asks the person first"
            ),
            Refusal::Several => write!(
                f,
                "query takes a single statement, and this holds a second one after `;`: send \
                 them one at a time"
            ),
            Refusal::Malformed(why) => write!(f, "the statement cannot be read: {why}"),
        }
    }
}

/// First keywords of statements that only read.
const READING: [&str; 7] = [
    "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "LIST",
];

/// One piece of a statement, comments and whitespace dropped.
#[derive(Debug, PartialEq)]
enum Token {
    /// A bare word, upper-cased.
    Word(String),
    /// `'…'`, `$$…$$` or `"…"`.
    Quoted,
    /// A character standing alone (`(`, `)`, `,`, `;`, `@`…).
    Symbol(char),
}

/// The statement as tokens.
fn tokens(sql: &str) -> Result<Vec<Token>, Refusal> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let open = |what: &str| Refusal::Malformed(format!("{what} is never closed"));
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if (c == '-' && next == Some('-')) || (c == '/' && next == Some('/')) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let end = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                .ok_or_else(|| open("a /* comment"))?;
            i = end + 2;
        } else if c == '\'' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(open("a string literal")),
                    Some('\\') => i += 2,
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
                    Some('\'') => break,
                    Some(_) => i += 1,
                }
            }
            i += 1;
            out.push(Token::Quoted);
        } else if c == '$' && next == Some('$') {
            let end = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == '$' && chars[j + 1] == '$')
                .ok_or_else(|| open("a $$ literal"))?;
            i = end + 2;
            out.push(Token::Quoted);
        } else if c == '"' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(open("a quoted identifier")),
                    Some('"') if chars.get(i + 1) == Some(&'"') => i += 2,
                    Some('"') => break,
                    Some(_) => i += 1,
                }
            }
            i += 1;
            out.push(Token::Quoted);
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '$')) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(Token::Word(word.to_uppercase()));
        } else {
            out.push(Token::Symbol(c));
            i += 1;
        }
    }
    Ok(out)
}

/// `Ok` when `sql` is one statement that only reads, else why not.
pub fn check_read_only(sql: &str) -> Result<(), Refusal> {
    let mut tokens = tokens(sql)?;
    // A trailing `;` (or several) ends the one statement; anything after one is another.
    while tokens.last() == Some(&Token::Symbol(';')) {
        tokens.pop();
    }
    if tokens.contains(&Token::Symbol(';')) {
        return Err(Refusal::Several);
    }
    let start = tokens
        .iter()
        .position(|t| *t != Token::Symbol('('))
        .ok_or_else(|| Refusal::Malformed("there is no statement".to_string()))?;
    let keyword = match &tokens[start] {
        Token::Word(word) => word.as_str(),
        _ => {
            return Err(Refusal::Malformed(
                "it does not start with a keyword".to_string(),
            ));
        }
    };
    let keyword = if keyword == "LS" { "LIST" } else { keyword };
    if !READING.contains(&keyword) {
        return Err(Refusal::Writes(keyword.to_string()));
    }
    if keyword == "WITH" {
        return check_with(&tokens[start + 1..]);
    }
    Ok(())
}

/// After `WITH`: `[RECURSIVE] name [(cols)] AS (…) [, …]` and then a SELECT, not the
/// `WITH … AS PROCEDURE … CALL` of an anonymous procedure or anything else.
fn check_with(tokens: &[Token]) -> Result<(), Refusal> {
    let mut i = usize::from(tokens.first() == Some(&Token::Word("RECURSIVE".to_string())));
    loop {
        match tokens.get(i) {
            Some(Token::Word(_) | Token::Quoted) => i += 1,
            _ => {
                return Err(Refusal::Malformed(
                    "WITH names no common table expression".to_string(),
                ));
            }
        }
        if tokens.get(i) == Some(&Token::Symbol('(')) {
            i = after_parentheses(tokens, i)?;
        }
        if tokens.get(i) != Some(&Token::Word("AS".to_string())) {
            return Err(Refusal::Malformed(
                "a common table expression lacks AS".to_string(),
            ));
        }
        i += 1;
        if tokens.get(i) != Some(&Token::Symbol('(')) {
            let what = match tokens.get(i) {
                Some(Token::Word(word)) => word.clone(),
                _ => "WITH".to_string(),
            };
            return Err(Refusal::Writes(format!("WITH … AS {what}")));
        }
        i = after_parentheses(tokens, i)?;
        if tokens.get(i) == Some(&Token::Symbol(',')) {
            i += 1;
            continue;
        }
        return match tokens.get(i) {
            Some(Token::Word(word)) if word == "SELECT" => Ok(()),
            Some(Token::Symbol('(')) => Ok(()),
            Some(Token::Word(word)) => Err(Refusal::Writes(format!("WITH … {word}"))),
            _ => Err(Refusal::Malformed(
                "WITH is not followed by a SELECT".to_string(),
            )),
        };
    }
}

/// The index after the `)` closing the `(` at `open`.
fn after_parentheses(tokens: &[Token], open: usize) -> Result<usize, Refusal> {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Symbol('(') => depth += 1,
            Token::Symbol(')') => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
    }
    Err(Refusal::Malformed(
        "a parenthesis is never closed".to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_statements_pass() {
        for sql in [
            "SELECT 1",
            "  select * from t where a = 'x; DROP TABLE t' ;",
            "-- a comment; DELETE\nSELECT 1",
            "/* DELETE FROM t; */ SELECT 1 /* ; */",
            "// slash comment ; \n show databases",
            "DESCRIBE TABLE \"a;b\"",
            "desc table t",
            "EXPLAIN SELECT 1",
            "LIST @my_stage",
            "ls @my_stage",
            "(SELECT 1) UNION (SELECT 2)",
            "WITH a AS (SELECT 1), b (x) AS (SELECT 2) SELECT * FROM a, b",
            "WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT 1 FROM r) SELECT * FROM r",
            "SELECT 'it''s; fine', 'back\\'slash; too', $$ ; DROP $$",
            "SELECT \"weird\"\";col\" FROM t;;",
        ] {
            assert_eq!(check_read_only(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn writing_statements_are_sent_to_execute() {
        for (sql, keyword) in [
            ("DELETE FROM t", "DELETE"),
            ("insert into t values (1)", "INSERT"),
            ("  UPDATE t SET a = 1", "UPDATE"),
            ("/* SELECT */ DROP TABLE t", "DROP"),
            ("-- SELECT\nCREATE TABLE t (a int)", "CREATE"),
            (
                "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
                "MERGE",
            ),
            ("CALL proc()", "CALL"),
            ("GRANT ROLE r TO USER u", "GRANT"),
            ("USE ROLE ACCOUNTADMIN", "USE"),
            ("COPY INTO t FROM @s", "COPY"),
            (
                "WITH p AS PROCEDURE () RETURNS INT LANGUAGE SQL AS $$ x $$ CALL p()",
                "WITH … AS PROCEDURE",
            ),
            ("WITH a AS (SELECT 1) DELETE FROM t", "WITH … DELETE"),
        ] {
            assert_eq!(
                check_read_only(sql),
                Err(Refusal::Writes(keyword.to_string())),
                "{sql}"
            );
        }
        let said = Refusal::Writes("DELETE".to_string()).to_string();
        assert!(
            said.contains(
                "this statement changes data: use `execute`, which asks the person first"
            )
        );
    }

    #[test]
    fn a_second_statement_is_refused_however_it_hides() {
        for sql in [
            "SELECT 1; DELETE FROM t",
            "SELECT 1;DROP TABLE t;",
            "SELECT 'a'; SELECT 'b'",
            "SELECT 1 /* x */ ; -- y\n DELETE FROM t",
            "SELECT \"x\"; DROP TABLE t",
        ] {
            assert_eq!(check_read_only(sql), Err(Refusal::Several), "{sql}");
        }
    }

    #[test]
    fn text_that_never_ends_or_holds_nothing_is_refused() {
        for sql in [
            "",
            "  ;  ",
            "-- only a comment",
            "SELECT 'open",
            "SELECT /* open",
            "SELECT $$ open",
            "SELECT \"open",
            "( )",
            "WITH a AS (SELECT 1",
        ] {
            assert!(
                matches!(check_read_only(sql), Err(Refusal::Malformed(_))),
                "{sql}"
            );
        }
    }
}
