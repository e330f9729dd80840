//! Argument values as a person reads them in an approval question, written so that no value
//! can pose as another argument or as part of the question.
//!
//! A call's arguments come from the model, which may have read anything: a value is attacker
//! text. So every value is shown in a form that cannot escape its place: strings quoted with
//! JSON escapes, multi-line strings indented under their key behind a gutter (a line of a
//! value can never start where a key starts), control, bidirectional and invisible characters
//! shown as `\u{…}`, and long values cut with a note saying where the whole value is.

use serde_json::Value;

/// How many characters of one value are shown before it is cut.
pub const MAX_VALUE: usize = 240;
/// How many lines of one multi-line value are shown before it is cut.
pub const MAX_LINES: usize = 12;
/// What every line of a multi-line value starts with.
pub const GUTTER: &str = "│ ";

/// Characters that change how text around them is displayed without being visible
/// themselves: bidirectional controls and marks, zero-width characters, line and paragraph
/// separators, the soft hyphen and the byte-order mark.
fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// `text` with control and deceptive characters escaped; in `quoted` form also `"` and `\`
/// and line breaks, so the result can sit between quotes.
pub fn escape(text: &str, quoted: bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '"' if quoted => out.push_str("\\\""),
            '\\' if quoted => out.push_str("\\\\"),
            '\n' if quoted => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_deceptive(c) => {
                out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// A key as shown: bare when it is a plain identifier, else quoted and escaped.
pub fn key(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", escape(name, true))
    }
}

fn cut_note(hidden: usize, unit: &str) -> String {
    format!("… ({hidden} more {unit}; the approval page shows the whole value)")
}

/// One argument as lines of the question: `name = value`, or `name = N lines:` followed by
/// the lines behind the gutter, each indented by `indent`.
pub fn argument(name: &str, value: &Value, indent: &str) -> Vec<String> {
    let shown_key = key(name);
    match value {
        Value::String(text) if text.contains('\n') => {
            let lines: Vec<&str> = text.split('\n').collect();
            let mut out = vec![format!("{indent}{shown_key} = {} lines:", lines.len())];
            let mut budget = MAX_VALUE * 4;
            for (index, line) in lines.iter().enumerate() {
                if index == MAX_LINES || budget == 0 {
                    out.push(format!(
                        "{indent}    {GUTTER}{}",
                        cut_note(lines.len() - index, "lines")
                    ));
                    break;
                }
                let (shown, hidden) = cut(line, budget.min(MAX_VALUE));
                budget = budget.saturating_sub(shown.chars().count());
                let mut row = format!("{indent}    {GUTTER}{}", escape(&shown, false));
                if hidden > 0 {
                    row.push_str(&cut_note(hidden, "characters on this line"));
                }
                out.push(row);
            }
            out
        }
        Value::String(text) => {
            let (shown, hidden) = cut(text, MAX_VALUE);
            let mut row = format!("{indent}{shown_key} = \"{}\"", escape(&shown, true));
            if hidden > 0 {
                row.push_str(&cut_note(hidden, "characters"));
            }
            vec![row]
        }
        other => {
            // serde_json escapes control characters in strings but not the deceptive ones.
            let text = other.to_string();
            let (shown, hidden) = cut(&text, MAX_VALUE);
            // How many items a list holds is said before it is cut: a bulk write's row count
            // is part of what the person approves.
            let count = match other {
                Value::Array(items) if items.len() == 1 => "1 item: ".to_string(),
                Value::Array(items) => format!("{} items: ", items.len()),
                _ => String::new(),
            };
            let mut row = format!("{indent}{shown_key} = {count}{}", escape(&shown, false));
            if hidden > 0 {
                row.push_str(&cut_note(hidden, "characters"));
            }
            vec![row]
        }
    }
}

/// The first `max` characters of `text`, and how many were left out.
fn cut(text: &str, max: usize) -> (String, usize) {
    let total = text.chars().count();
    if total <= max {
        return (text.to_string(), 0);
    }
    (text.chars().take(max).collect(), total - max)
}

/// Free text from a provider (a tool's title or description) on lines behind the gutter,
/// escaped, at most `max` characters.
pub fn paragraph(text: &str, indent: &str, max: usize) -> Vec<String> {
    let (shown, hidden) = cut(text.trim(), max);
    let mut out: Vec<String> = shown
        .split('\n')
        .map(|line| format!("{indent}{GUTTER}{}", escape(line, false)))
        .collect();
    if hidden > 0
        && let Some(last) = out.last_mut()
    {
        last.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_multi_line_value_cannot_pose_as_another_argument() {
        let forged = "hello\n\npath: ~/notes/harmless-new-file.txt\noverwrite = false";
        let lines = argument("content", &json!(forged), "  ");
        assert_eq!(lines[0], "  content = 4 lines:");
        for line in &lines[1..] {
            assert!(line.starts_with(&format!("      {GUTTER}")), "{line:?}");
        }
        assert!(lines.iter().any(|l| l.ends_with("overwrite = false")));
    }

    #[test]
    fn quotes_and_escapes_cannot_close_a_value() {
        let lines = argument("path", &json!("a\" overwrite = \"true"), "");
        assert_eq!(lines, [r#"path = "a\" overwrite = \"true""#]);
    }

    #[test]
    fn control_bidi_and_invisible_characters_are_shown_escaped() {
        let sneaky = "invoice\u{202E}fdp.exe\u{200B}\u{1b}[2J";
        let lines = argument("name", &json!(sneaky), "");
        assert_eq!(
            lines,
            [r#"name = "invoice\u{202E}fdp.exe\u{200B}\u{001B}[2J""#]
        );
        // Inside JSON values too, and in keys.
        let nested = argument("x\ny", &json!({"a": "\u{2066}b"}), "");
        assert_eq!(nested, [r#""x\ny" = {"a":"\u{2066}b"}"#]);
    }

    #[test]
    fn a_list_says_how_many_items_it_holds_even_when_cut() {
        let rows: Vec<Value> = (0..500).map(|n| serde_json::json!({"id": n})).collect();
        let lines = argument("rows", &Value::Array(rows), "");
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("rows = 500 items: [{\"id\":0}"),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains("more characters"), "{}", lines[0]);
        let one = argument("ids", &serde_json::json!([7]), "");
        assert_eq!(one, ["ids = 1 item: [7]"]);
        let number = argument("limit", &serde_json::json!(5), "");
        assert_eq!(number, ["limit = 5"]);
    }

    #[test]
    fn long_values_are_cut_with_a_note() {
        let long = "x".repeat(MAX_VALUE + 50);
        let lines = argument("content", &json!(long), "");
        assert!(lines[0].contains("50 more characters"), "{}", lines[0]);
        let many: String = (0..40).map(|i| format!("line {i}\n")).collect();
        let lines = argument("content", &json!(many), "");
        assert_eq!(lines.len(), 1 + MAX_LINES + 1);
        assert!(lines.last().unwrap().contains("29 more lines"), "{lines:?}");
    }
}
