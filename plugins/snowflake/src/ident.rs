//! Snowflake identifiers (databases, schemas, tables, columns, services) as the connector puts
//! them into SQL and URLs: checked once ([`Ident::new`]), then written only double-quoted
//! with a `"` inside doubled, as Snowflake's own quoting rule says, or percent-encoded as one
//! URL path segment. A name never reaches a statement or a URL any other way, so a table
//! called `x"; DROP TABLE y; --` or a service called `../../statements` is just a strange name.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The longest identifier Snowflake accepts.
pub const MAX_LEN: usize = 255;

/// Everything but RFC 3986's unreserved characters is encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A checked identifier, exactly as Snowflake stores it (quoted identifiers are
/// case-sensitive, so `sales` is not `SALES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident(String);

impl Ident {
    /// `name` if it can be an identifier: not empty, at most [`MAX_LEN`] characters, no
    /// control characters. The message says which rule it broke.
    pub fn new(name: &str) -> Result<Self, String> {
        if name.is_empty() {
            return Err("an identifier cannot be empty".to_string());
        }
        if name.chars().count() > MAX_LEN {
            return Err(format!(
                "the identifier {}… is longer than Snowflake's {MAX_LEN} characters",
                name.chars().take(20).collect::<String>()
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(format!(
                "the identifier {:?} holds a control character",
                name.escape_debug().to_string()
            ));
        }
        Ok(Self(name.to_string()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `"name"`, a `"` inside doubled.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0.replace('"', "\"\""))
    }

    /// The name as one URL path segment (`/`, `?`, `#`, `%`, `.` runs all harmless).
    pub fn segment(&self) -> String {
        let encoded = utf8_percent_encode(&self.0, SEGMENT).to_string();
        // `.` and `..` alone are path steps, not names: encode their dots.
        if encoded.chars().all(|c| c == '.') {
            encoded.replace('.', "%2E")
        } else {
            encoded
        }
    }
}

/// `"a"."b"."c"`: a qualified name of checked parts.
pub fn qualified(parts: &[&Ident]) -> String {
    parts
        .iter()
        .map(|p| p.quoted())
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_quotes_and_keeps_case() {
        let hostile = Ident::new("x\"; DROP TABLE y; --").unwrap();
        assert_eq!(hostile.quoted(), "\"x\"\"; DROP TABLE y; --\"");
        assert_eq!(Ident::new("sales").unwrap().quoted(), "\"sales\"");
        let db = Ident::new("DB").unwrap();
        let t = Ident::new("a.b").unwrap();
        assert_eq!(qualified(&[&db, &t]), "\"DB\".\"a.b\"");
    }

    #[test]
    fn segments_cannot_leave_their_place_in_the_path() {
        let cases = [
            ("DOCS_SEARCH", "DOCS_SEARCH"),
            ("../../statements", "..%2F..%2Fstatements"),
            ("..", "%2E%2E"),
            ("a?b#c", "a%3Fb%23c"),
            ("s:query", "s%3Aquery"),
            ("100%", "100%25"),
            ("é \"x\"", "%C3%A9%20%22x%22"),
        ];
        for (name, segment) in cases {
            assert_eq!(Ident::new(name).unwrap().segment(), segment, "{name}");
        }
    }

    #[test]
    fn empty_long_and_control_names_are_refused() {
        assert!(Ident::new("").unwrap_err().contains("empty"));
        assert!(Ident::new(&"a".repeat(256)).unwrap_err().contains("255"));
        assert!(Ident::new(&"a".repeat(255)).is_ok());
        assert!(Ident::new("a\nb").unwrap_err().contains("control"));
        assert!(Ident::new("a\0b").unwrap_err().contains("control"));
    }
}
