//! Changing one `connectors.<name>` section of a `config.yaml` in place, as text: the rest of
//! the file (the person's comments, order and spelling) stays exactly as it was. Used by
//! `switchboard sources add | remove`; the caller parses the result before writing it, so an
//! edit that would make the file invalid is never written.
//!
//! The file is YAML in block style, as `config init` writes it and people edit it. The
//! `connectors:` block runs from its line to the next line at column 0 that is neither blank
//! nor a comment; comments just above the next top-level key belong to that key, and comments
//! just above a section belong to that section.

/// The text with the section `name` set to `body` (lines already indented for a section's
/// body, one level below the section's own line), replacing the section if there is one and
/// adding it at the end of `connectors:` (or adding `connectors:`) if not.
pub fn set_connector(text: &str, name: &str, body: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let Some(start) = connectors_line(&lines) else {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("\nconnectors:\n  {name}:\n{}", with_newline(body)));
        return out;
    };
    // `connectors: {}` or `connectors: ~`: an empty mapping written in flow style.
    lines[start] = "connectors:".to_string();
    let end = block_end(&lines, start);
    let indent = child_indent(&lines[start + 1..end]).unwrap_or(2);
    let section = section_lines(name, indent, body);
    match find_section(&lines, start + 1, end, name, indent) {
        // Its comment stays: it says what the connector is, not what the old settings were.
        Some(found) => {
            lines.splice(found.key..found.end, section);
        }
        None => {
            let at = last_content(&lines, start, end) + 1;
            lines.splice(at..at, section);
        }
    }
    join(lines)
}

/// The text without the section `name`, or `None` when it has no such section.
pub fn remove_connector(text: &str, name: &str) -> Option<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let start = connectors_line(&lines)?;
    let end = block_end(&lines, start);
    let indent = child_indent(&lines[start + 1..end])?;
    let found = find_section(&lines, start + 1, end, name, indent)?;
    lines.drain(found.comment..found.end);
    // The last section gone: `connectors:` alone would read as null, not as no connectors.
    let left = end - (found.end - found.comment);
    if last_content(&lines, start, left) == start {
        lines[start] = "connectors: {}".to_string();
    }
    Some(join(lines))
}

fn with_newline(body: &str) -> String {
    if body.ends_with('\n') {
        body.to_string()
    } else {
        format!("{body}\n")
    }
}

fn join(lines: Vec<String>) -> String {
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Blank or a comment: lines that belong to whatever content follows them.
fn is_filler(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.is_empty() || trimmed.starts_with('#')
}

fn connectors_line(lines: &[String]) -> Option<usize> {
    lines.iter().position(|line| {
        let Some(rest) = line.strip_prefix("connectors:") else {
            return false;
        };
        let rest = rest.split(" #").next().unwrap_or("").trim();
        rest.is_empty() || rest == "{}" || rest == "~" || rest == "null"
    })
}

/// The index after the last line of the block that starts at `start`: the next top-level key,
/// less the blank and comment lines just above it.
fn block_end(lines: &[String], start: usize) -> usize {
    let next_key = (start + 1..lines.len())
        .find(|&i| !is_filler(&lines[i]) && indent_of(&lines[i]) == 0)
        .unwrap_or(lines.len());
    let mut end = next_key;
    while end > start + 1 && is_filler(&lines[end - 1]) && indent_of(&lines[end - 1]) == 0 {
        end -= 1;
    }
    end
}

fn child_indent(block: &[String]) -> Option<usize> {
    block
        .iter()
        .find(|line| !is_filler(line))
        .map(|line| indent_of(line))
}

fn section_lines(name: &str, indent: usize, body: &str) -> Vec<String> {
    let mut lines = vec![format!("{}{name}:", " ".repeat(indent))];
    // The body is written for a two-space section indent; shift it to the file's.
    let shift = indent.saturating_sub(2);
    lines.extend(body.lines().map(|line| {
        if line.trim().is_empty() {
            String::new()
        } else {
            format!("{}{line}", " ".repeat(shift))
        }
    }));
    lines
}

/// Where a section's lines are.
struct Found {
    /// The first of the comment lines just above its key line (the key line when none).
    comment: usize,
    /// Its key line.
    key: usize,
    /// The index after its last line.
    end: usize,
}

/// The section `name` within `from..to`: its key line to the line before the next key at its
/// indent (less the comments above that key), and the comments just above its key line.
fn find_section(
    lines: &[String],
    from: usize,
    to: usize,
    name: &str,
    indent: usize,
) -> Option<Found> {
    let key = |line: &str| {
        let rest = line.get(indent..)?;
        let rest = rest.strip_prefix(name)?;
        rest.starts_with(':').then_some(())
    };
    let at = (from..to).find(|&i| indent_of(&lines[i]) == indent && key(&lines[i]).is_some())?;
    let next = (at + 1..to)
        .find(|&i| !is_filler(&lines[i]) && indent_of(&lines[i]) <= indent)
        .unwrap_or(to);
    let mut end = next;
    if next < to {
        while end > at + 1 && is_filler(&lines[end - 1]) && owns_comment(&lines[end - 1], indent) {
            end -= 1;
        }
    }
    let mut begin = at;
    while begin > from
        && lines[begin - 1].trim_start().starts_with('#')
        && indent_of(&lines[begin - 1]) == indent
    {
        begin -= 1;
    }
    Some(Found {
        comment: begin,
        key: at,
        end,
    })
}

/// A blank line, or a comment at the section's own indent or shallower: it belongs to the
/// next key rather than to the section above it.
fn owns_comment(line: &str, indent: usize) -> bool {
    line.trim().is_empty() || indent_of(line) <= indent
}

/// The last line in `start..end` that is not filler (the block's key line when it has none).
fn last_content(lines: &[String], start: usize, end: usize) -> usize {
    (start..end)
        .rev()
        .find(|&i| i == start || !is_filler(&lines[i]))
        .unwrap_or(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
log:
  level: info

# Connectors, one per plugin.
connectors:
  # Local files.
  files:
    config:
      roots: [\"~\"]
  # Shell.
  shell:
    enabled: false

# The search.
search:
  source_timeout: 5s
";

    #[test]
    fn a_new_section_goes_at_the_end_of_connectors_and_nothing_else_moves() {
        let out = set_connector(FILE, "box", "    enabled: true\n");
        let expected = FILE.replace(
            "    enabled: false\n",
            "    enabled: false\n  box:\n    enabled: true\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn an_existing_section_is_replaced_with_its_comment_kept_and_its_neighbours_whole() {
        let out = set_connector(FILE, "files", "    enabled: false\n");
        assert!(
            out.contains("  # Local files.\n  files:\n    enabled: false\n  # Shell.\n  shell:")
        );
        assert!(!out.contains("roots"));
        assert!(out.contains("# The search.\nsearch:"));
    }

    #[test]
    fn removing_takes_the_section_and_its_own_comment_only() {
        let out = remove_connector(FILE, "files").unwrap();
        assert!(!out.contains("files:") && !out.contains("Local files"));
        assert!(out.contains("connectors:\n  # Shell.\n  shell:\n    enabled: false\n"));
        assert!(out.contains("# The search.\nsearch:\n  source_timeout: 5s\n"));
        assert_eq!(remove_connector(FILE, "outlook"), None);
        // A name that is only a prefix of a section's is not that section.
        assert_eq!(remove_connector(FILE, "file"), None);
    }

    #[test]
    fn removing_the_last_section_leaves_an_empty_mapping_not_a_null() {
        let file =
            "connectors:\n  # mail\n  outlook:\n    enabled: true\nsearch:\n  default_limit: 3\n";
        let out = remove_connector(file, "outlook").unwrap();
        assert_eq!(out, "connectors: {}\nsearch:\n  default_limit: 3\n");
        let parsed = crate::config::parse(&out, &crate::config::Source::Embedded).unwrap();
        assert!(parsed.connectors.is_empty());
        // And a section can be added to it again.
        let again = set_connector(&out, "box", "    enabled: true\n");
        assert_eq!(
            again,
            "connectors:\n  box:\n    enabled: true\nsearch:\n  default_limit: 3\n"
        );
    }

    #[test]
    fn a_file_without_connectors_gets_the_block_and_a_flow_empty_one_becomes_block_style() {
        let out = set_connector("log:\n  level: info\n", "box", "    enabled: true");
        assert_eq!(
            out,
            "log:\n  level: info\n\nconnectors:\n  box:\n    enabled: true\n"
        );
        let out = set_connector(
            "connectors: {}\nsearch:\n  default_limit: 3\n",
            "box",
            "    enabled: true\n",
        );
        assert_eq!(
            out,
            "connectors:\n  box:\n    enabled: true\nsearch:\n  default_limit: 3\n"
        );
    }

    #[test]
    fn a_file_indented_by_four_keeps_its_indent() {
        let file = "connectors:\n    files:\n        enabled: true\n";
        let out = set_connector(file, "box", "    enabled: true\n    config:\n      a: 1\n");
        assert_eq!(
            out,
            "connectors:\n    files:\n        enabled: true\n    box:\n      enabled: true\n      config:\n        a: 1\n"
        );
    }

    #[test]
    fn every_edit_of_the_embedded_default_still_parses() {
        let base = crate::config::EMBEDDED_DEFAULT;
        let source = crate::config::Source::Embedded;
        for name in ["files", "shell", "fixture", "brand-new"] {
            let set = set_connector(base, name, "    enabled: true\n    config: {\"x\": 1}\n");
            let parsed = crate::config::parse(&set, &source).expect("set parses");
            assert_eq!(parsed.connectors[name].enabled, Some(true), "{name}");
            if let Some(removed) = remove_connector(base, name) {
                let parsed = crate::config::parse(&removed, &source).expect("removed parses");
                assert!(!parsed.connectors.contains_key(name), "{name}");
                assert!(parsed.connectors.len() >= 2);
            }
        }
    }
}
