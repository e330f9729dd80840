//! Matching a concrete URI against an RFC 6570 resource template, to route a
//! `resources/read` to the provider that declared the template.
//!
//! Level 1 and reserved expansion are enough for resource templates in practice: `{var}`
//! matches one or more characters other than `/`, `{+var}` matches one or more of any.

/// A parsed template.
#[derive(Clone, Debug)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Literal(String),
    Segment,
    Reserved,
}

impl UriTemplate {
    /// Parse `template`; unsupported operators (`{?q}`, `{#f}`...) match anything there.
    pub fn parse(template: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let Some(close) = rest[open..].find('}') else {
                parts.push(Part::Literal(rest[open..].to_string()));
                rest = "";
                break;
            };
            let expr = &rest[open + 1..open + close];
            parts.push(match expr.chars().next() {
                Some('+' | '#' | '?' | '&' | '/' | ';' | '.') => Part::Reserved,
                _ => Part::Segment,
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Self { parts }
    }

    /// Whether `uri` is an instance of the template.
    pub fn matches(&self, uri: &str) -> bool {
        match_parts(&self.parts, uri)
    }

    /// How specific the template is (literal characters), to prefer the closest match.
    pub fn specificity(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => l.len(),
                _ => 0,
            })
            .sum()
    }
}

fn match_parts(parts: &[Part], text: &str) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return text.is_empty();
    };
    match first {
        Part::Literal(literal) => text
            .strip_prefix(literal.as_str())
            .is_some_and(|after| match_parts(rest, after)),
        Part::Segment | Part::Reserved => {
            let reserved = *first == Part::Reserved;
            for (index, ch) in text.char_indices() {
                if !reserved && ch == '/' {
                    return false;
                }
                let end = index + ch.len_utf8();
                if match_parts(rest, &text[end..]) {
                    return true;
                }
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let t = UriTemplate::parse("test://template/{id}/data");
        assert!(t.matches("test://template/123/data"));
        assert!(!t.matches("test://template/1/2/data"));
        assert!(!t.matches("test://template//data"));
        assert!(!t.matches("test://static-text"));
        let f = UriTemplate::parse("file://{+path}");
        assert!(f.matches("file:///home/a/b.txt"));
        assert!(!f.matches("test://x"));
        assert!(UriTemplate::parse("notes://{id}").matches("notes://42"));
    }
}
