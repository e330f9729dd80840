//! The stand-in's tiny statement matcher: it answers the statements the connector and its
//! tests send (the session check, SHOW DATABASES / SCHEMAS / TABLES, DESCRIBE TABLE, a table's
//! rows, a row by key with a bind variable, a slow `SYSTEM$WAIT`, writes) and fails the rest
//! as Snowflake does, with its error codes and SQL states.

use serde_json::Value;

use super::seed::{Column, Database, Table};

/// What a statement comes to.
pub enum Outcome {
    /// Columns and rows.
    Rows(Vec<Column>, Vec<Vec<Option<String>>>),
    /// It runs long: answer `202` and finish later with these rows.
    Slow(Vec<Column>, Vec<Vec<Option<String>>>),
    /// A failure: code, SQL state, message.
    Fails(&'static str, &'static str, String),
}

/// The session a statement runs in.
pub struct Session<'a> {
    pub user: &'a str,
    pub role: &'a str,
    pub warehouse: &'a str,
}

fn text(name: &'static str) -> Column {
    Column {
        name,
        kind: "text",
        scale: 0,
        nullable: true,
    }
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_string())).collect()
}

fn missing(what: &str) -> Outcome {
    Outcome::Fails(
        "002003",
        "02000",
        format!("SQL compilation error:\n{what} does not exist or not authorized."),
    )
}

/// Identifiers at the start of `text`, dot-separated (`"a"."b"` or bare, upper-cased), and
/// what follows them.
fn idents(text: &str) -> (Vec<String>, &str) {
    let mut names = Vec::new();
    let mut rest = text.trim_start();
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut name = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if quoted[i + 1..].starts_with('"') {
                        name.push('"');
                        chars.next();
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    name.push(c);
                }
            }
            let Some(end) = end else { break };
            names.push(name);
            rest = &quoted[end..];
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            names.push(rest[..end].to_uppercase());
            rest = &rest[end..];
        }
        match rest.strip_prefix('.') {
            Some(after) => rest = after,
            None => break,
        }
    }
    (names, rest.trim_start())
}

/// Whether a second statement follows a `;` (outside quotes).
fn several(statement: &str) -> bool {
    let mut quote = None;
    for (i, c) in statement.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ';') => {
                return !statement[i + 1..]
                    .trim()
                    .trim_matches(';')
                    .trim()
                    .is_empty();
            }
            _ => {}
        }
    }
    false
}

fn table<'a>(
    catalog: &'a [Database],
    names: &[String],
    default_db: &str,
    default_schema: &str,
) -> Option<&'a Table> {
    let (db, schema, name) = match names {
        [db, schema, name] => (db.as_str(), schema.as_str(), name),
        [schema, name] => (default_db, schema.as_str(), name),
        [name] => (default_db, default_schema, name),
        _ => return None,
    };
    catalog
        .iter()
        .find(|d| d.name == db)?
        .schemas
        .iter()
        .find(|s| s.name == schema)?
        .tables
        .iter()
        .find(|t| t.name == name)
}

/// Answer `statement` with `bindings` (`"1"` → value) against `catalog`.
pub fn answer(
    catalog: &[Database],
    statement: &str,
    bindings: &serde_json::Map<String, Value>,
    session: &Session<'_>,
    context: (&str, &str),
) -> Outcome {
    let trimmed = statement.trim().trim_end_matches(';').trim();
    let upper = trimmed.to_uppercase();
    if several(trimmed) {
        return Outcome::Fails(
            "000008",
            "0A000",
            "Actual statement count 2 did not match the desired statement count 1.".to_string(),
        );
    }
    if upper.contains("SYSTEM$WAIT") {
        return Outcome::Slow(vec![text("SYSTEM$WAIT")], vec![some(&["waited 1 seconds"])]);
    }
    if upper.contains("CURRENT_USER()") {
        let columns = vec![
            text("CURRENT_USER()"),
            text("CURRENT_ROLE()"),
            text("CURRENT_WAREHOUSE()"),
        ];
        return Outcome::Rows(
            columns,
            vec![some(&[session.user, session.role, session.warehouse])],
        );
    }
    if upper == "SHOW DATABASES" {
        let columns = vec![
            text("created_on"),
            text("name"),
            text("is_default"),
            text("owner"),
            text("comment"),
        ];
        let rows = catalog
            .iter()
            .map(|d| some(&["2026-01-01 00:00:00.000 -0800", d.name, "N", "SYSADMIN", ""]))
            .collect();
        return Outcome::Rows(columns, rows);
    }
    if let Some(rest) = upper.strip_prefix("SHOW SCHEMAS IN DATABASE ") {
        let (names, _) = idents(&trimmed[trimmed.len() - rest.len()..]);
        let Some(db) = catalog
            .iter()
            .find(|d| names.len() == 1 && d.name == names[0])
        else {
            return missing(&format!("Database '{}'", names.join(".")));
        };
        let columns = vec![
            text("created_on"),
            text("name"),
            text("database_name"),
            text("owner"),
            text("comment"),
        ];
        let rows = db
            .schemas
            .iter()
            .map(|s| {
                some(&[
                    "2026-01-01 00:00:00.000 -0800",
                    s.name,
                    db.name,
                    "SYSADMIN",
                    "",
                ])
            })
            .collect();
        return Outcome::Rows(columns, rows);
    }
    if let Some(rest) = upper.strip_prefix("SHOW TABLES IN SCHEMA ") {
        let (names, _) = idents(&trimmed[trimmed.len() - rest.len()..]);
        let schema = match names.as_slice() {
            [db, schema] => catalog
                .iter()
                .find(|d| d.name == db)
                .and_then(|d| d.schemas.iter().find(|s| s.name == schema)),
            _ => None,
        };
        let Some(schema) = schema else {
            return missing(&format!("Schema '{}'", names.join(".")));
        };
        let columns = vec![
            text("created_on"),
            text("name"),
            text("database_name"),
            text("schema_name"),
            text("kind"),
            text("comment"),
            Column {
                kind: "fixed",
                ..text("rows")
            },
        ];
        let rows = schema
            .tables
            .iter()
            .map(|t| {
                some(&[
                    "2026-01-01 00:00:00.000 -0800",
                    t.name,
                    &names[0],
                    schema.name,
                    "TABLE",
                    t.comment,
                    &t.rows.len().to_string(),
                ])
            })
            .collect();
        return Outcome::Rows(columns, rows);
    }
    for prefix in ["DESCRIBE TABLE ", "DESC TABLE "] {
        if let Some(rest) = upper.strip_prefix(prefix) {
            let (names, _) = idents(&trimmed[trimmed.len() - rest.len()..]);
            let Some(table) = table(catalog, &names, context.0, context.1) else {
                return missing(&format!("Table '{}'", names.join(".")));
            };
            let columns = vec![
                text("name"),
                text("type"),
                text("kind"),
                text("null?"),
                text("default"),
                text("primary key"),
                text("comment"),
            ];
            let rows = table
                .columns
                .iter()
                .map(|c| {
                    let kind = match (c.kind, c.scale) {
                        ("fixed", s) => format!("NUMBER(38,{s})"),
                        ("text", _) => "VARCHAR(16777216)".to_string(),
                        (other, _) => other.to_uppercase(),
                    };
                    some(&[
                        c.name,
                        &kind,
                        "COLUMN",
                        if c.nullable { "Y" } else { "N" },
                        "",
                        if c.name == "ID" { "Y" } else { "N" },
                        "",
                    ])
                })
                .collect();
            return Outcome::Rows(columns, rows);
        }
    }
    if let Some(rest) = upper.strip_prefix("SELECT * FROM ") {
        let (names, after) = idents(&trimmed[trimmed.len() - rest.len()..]);
        let Some(table) = table(catalog, &names, context.0, context.1) else {
            return missing(&format!("Object '{}'", names.join(".")));
        };
        if after.is_empty() {
            return Outcome::Rows(table.columns.clone(), table.rows.clone());
        }
        let Some(condition) = after
            .strip_prefix("WHERE ")
            .or_else(|| after.strip_prefix("where "))
        else {
            return syntax(after);
        };
        let (column, tail) = idents(condition);
        if tail.trim() != "= ?" || column.len() != 1 {
            return syntax(tail);
        }
        let Some(at) = table.columns.iter().position(|c| c.name == column[0]) else {
            return Outcome::Fails(
                "000904",
                "42000",
                format!(
                    "SQL compilation error: error line 1 at position 0\ninvalid identifier '{}'",
                    column[0]
                ),
            );
        };
        let Some(value) = bindings.get("1").and_then(|b| b["value"].as_str()) else {
            return Outcome::Fails(
                "002049",
                "42601",
                "SQL compilation error: Bind variable ? not set.".to_string(),
            );
        };
        let rows = table
            .rows
            .iter()
            .filter(|r| r[at].as_deref() == Some(value))
            .cloned()
            .collect();
        return Outcome::Rows(table.columns.clone(), rows);
    }
    if let Some(n) = upper
        .strip_prefix("SELECT ")
        .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
    {
        return Outcome::Rows(
            vec![Column {
                kind: "fixed",
                ..text("1")
            }],
            vec![some(&[n])],
        );
    }
    let first = upper.split_whitespace().next().unwrap_or_default();
    if [
        "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "MERGE", "TRUNCATE", "GRANT",
    ]
    .contains(&first)
    {
        return Outcome::Rows(
            vec![text("status")],
            vec![some(&["Statement executed successfully."])],
        );
    }
    syntax(trimmed)
}

fn syntax(near: &str) -> Outcome {
    let word = near.split_whitespace().next().unwrap_or("<EOF>");
    Outcome::Fails(
        "001003",
        "42000",
        format!("SQL compilation error:\nsyntax error line 1 at position 0 unexpected '{word}'."),
    )
}
