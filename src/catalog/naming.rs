//! How names are formed and checked: `<prefix>__<name>`, within MCP's tool-name rules.

/// The separator between a prefix and a provider's own name.
pub const SEPARATOR: &str = "__";

/// The longest name a client sees.
pub const MAX_NAME: usize = 64;

/// The name a client sees for `local` under `prefix` (`""` for none).
pub fn exposed(prefix: &str, local: &str) -> String {
    if prefix.is_empty() {
        local.to_string()
    } else {
        format!("{prefix}{SEPARATOR}{local}")
    }
}

/// `^[a-zA-Z0-9_-]{1,64}$`: what every exposed tool and prompt name must match.
pub fn is_valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A prefix: the same characters, short enough to leave room for a name.
pub fn is_valid_prefix(prefix: &str) -> bool {
    prefix.len() <= 40 && is_valid_tool_name(prefix)
}

/// A plugin's name: lowercase letters, digits, `_` and `-`.
pub fn is_valid_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(exposed("files", "search"), "files__search");
        assert_eq!(exposed("", "test_simple_text"), "test_simple_text");
        assert!(is_valid_tool_name("files__search"));
        assert!(is_valid_tool_name(&"a".repeat(64)));
        assert!(!is_valid_tool_name(&"a".repeat(65)));
        assert!(!is_valid_tool_name("has space"));
        assert!(!is_valid_tool_name("dotted.name"));
        assert!(!is_valid_tool_name(""));
        assert!(is_valid_plugin_name("files"));
        assert!(!is_valid_plugin_name("Files"));
    }
}
