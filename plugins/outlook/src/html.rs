//! An HTML mail body as readable text: block elements end lines, list items get a dash,
//! entities are decoded, `script`, `style` and `head` are dropped, links are kept as
//! `text (url)`, and runs of spaces and blank lines collapse. Small on purpose: mail HTML is
//! read by a person or a model, not rendered, so a tag it does not know is simply left out.

/// Elements whose start and end break the line.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "tr",
    "table",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "dl",
    "dt",
    "dd",
    "center",
    "body",
    "html",
    "form",
    "fieldset",
    "figure",
    "figcaption",
    "main",
    "nav",
    "aside",
];

/// Elements whose content is not text for a reader.
const DROPPED: &[&str] = &[
    "script", "style", "head", "title", "template", "noscript", "svg",
];

/// The text of `html`.
pub fn to_text(html: &str) -> String {
    let mut out = Out::default();
    let mut rest = html;
    let mut link: Option<(String, usize)> = None;
    while let Some(at) = rest.find('<') {
        out.text(&decode(&rest[..at]));
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(end) = tag_end(rest) else {
            // A `<` that opens no tag is text.
            out.text("<");
            rest = &rest[1..];
            continue;
        };
        let tag = Tag::parse(&rest[1..end]);
        rest = &rest[end + 1..];
        if DROPPED.contains(&tag.name.as_str()) && !tag.closing && !tag.self_closing {
            rest = skip_element(rest, &tag.name);
            continue;
        }
        match tag.name.as_str() {
            "a" if !tag.closing => {
                link = tag
                    .attribute("href")
                    .filter(|h| !h.trim().to_lowercase().starts_with("javascript:"))
                    .map(|href| (href, out.text.len()));
            }
            "a" => {
                if let Some((href, start)) = link.take() {
                    let shown = out.text.get(start..).unwrap_or_default().trim().to_string();
                    let bare = href.strip_prefix("mailto:").unwrap_or(&href);
                    if shown.is_empty() {
                        out.text(&href);
                    } else if shown != href && shown != bare {
                        out.text(&format!(" ({href})"));
                    }
                }
            }
            "li" if !tag.closing => {
                out.line();
                out.raw("- ");
            }
            "td" | "th" if tag.closing => out.raw("\t"),
            "img" => {
                if let Some(alt) = tag.attribute("alt").filter(|a| !a.trim().is_empty()) {
                    out.text(&format!("[image: {}]", alt.trim()));
                }
            }
            "pre" => {
                out.line();
                out.pre = !tag.closing;
            }
            "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "table" => {
                out.paragraph();
            }
            name if BLOCKS.contains(&name) => out.line(),
            _ => {}
        }
    }
    out.text(&decode(rest));
    out.finish()
}

/// The text so far, with the whitespace rules applied as it grows.
#[derive(Default)]
struct Out {
    text: String,
    pre: bool,
}

impl Out {
    fn text(&mut self, text: &str) {
        if self.pre {
            self.text.push_str(text);
            return;
        }
        for c in text.chars() {
            if c.is_whitespace() && c != '\u{a0}' {
                if !self.text.is_empty() && !self.text.ends_with([' ', '\n', '\t']) {
                    self.text.push(' ');
                }
            } else {
                self.text.push(if c == '\u{a0}' { ' ' } else { c });
            }
        }
    }

    fn raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn line(&mut self) {
        let trimmed = self.text.trim_end_matches([' ', '\t']).len();
        self.text.truncate(trimmed);
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    fn paragraph(&mut self) {
        self.line();
        if !self.text.is_empty() && !self.text.ends_with("\n\n") {
            self.text.push('\n');
        }
    }

    fn finish(self) -> String {
        let mut lines: Vec<&str> = Vec::new();
        for line in self.text.lines().map(str::trim_end) {
            if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
                continue;
            }
            lines.push(line);
        }
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines.join("\n")
    }
}

/// Where the tag starting at `text[0] == '<'` ends (its `>`), quotes respected.
fn tag_end(text: &str) -> Option<usize> {
    let next = text[1..].chars().next()?;
    if !(next.is_ascii_alphabetic() || next == '/' || next == '!' || next == '?') {
        return None;
    }
    let mut quote = None;
    for (i, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// After the start tag of a dropped element: the text after its end tag.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let lower = rest.to_ascii_lowercase();
    match lower.find(&format!("</{name}")) {
        Some(at) => rest[at..].find('>').map_or("", |end| &rest[at + end + 1..]),
        None => "",
    }
}

struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    inside: String,
}

impl Tag {
    fn parse(inside: &str) -> Self {
        let closing = inside.starts_with('/');
        let body = inside.trim_start_matches('/');
        let name: String = body
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Self {
            name,
            closing,
            self_closing: inside.trim_end().ends_with('/'),
            inside: body.to_string(),
        }
    }

    /// An attribute's value, entities decoded.
    fn attribute(&self, wanted: &str) -> Option<String> {
        let mut rest = self.inside.get(self.name.len()..)?;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if rest.is_empty() {
                return None;
            }
            let name_end = rest
                .find(|c: char| c == '=' || c.is_whitespace() || c == '/')
                .unwrap_or(rest.len());
            let name = rest[..name_end].to_ascii_lowercase();
            rest = rest[name_end..].trim_start();
            let value = if let Some(after) = rest.strip_prefix('=') {
                let after = after.trim_start();
                let (value, left) = match after.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let body = &after[1..];
                        let end = body.find(q).unwrap_or(body.len());
                        (&body[..end], body.get(end + 1..).unwrap_or_default())
                    }
                    _ => {
                        let end = after.find(char::is_whitespace).unwrap_or(after.len());
                        (&after[..end], &after[end..])
                    }
                };
                rest = left;
                value
            } else {
                ""
            };
            if name == wanted {
                return Some(decode(value));
            }
        }
    }
}

/// `text` with character references decoded (the named ones mail uses, and every numeric one).
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|e| *e <= 12);
        let decoded = end.and_then(|e| reference(&rest[1..e]));
        match (end, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn reference(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| !c.is_control() || c.is_whitespace());
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "bull" => '•',
        "middot" => '·',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "deg" => '°',
        "times" => '×',
        "divide" => '÷',
        "laquo" => '«',
        "raquo" => '»',
        "shy" => '\u{ad}',
        "zwnj" => '\u{200c}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_end_lines_and_inline_whitespace_collapses() {
        let html = "<html><body><h1>Q3  review</h1><p>Hi   Megan,\n  all\tgood.</p>\
                    <div>Line one<br>Line two<br/>Line three</div><p>Thanks,<br>Adele</p></body></html>";
        assert_eq!(
            to_text(html),
            "Q3 review\n\nHi Megan, all good.\n\nLine one\nLine two\nLine three\n\nThanks,\nAdele"
        );
    }

    #[test]
    fn script_style_head_and_comments_are_dropped() {
        let html = "<head><title>T</title><style>p{color:red}</style></head>\
                    <SCRIPT type=\"text/javascript\">alert('x < y')</SCRIPT><!-- tracking <b>pixel</b> -->\
                    <p>Visible</p><noscript>enable js</noscript>";
        assert_eq!(to_text(html), "Visible");
    }

    #[test]
    fn entities_are_decoded_once() {
        assert_eq!(
            to_text(
                "<p>4% &lt; plan &amp; &euro;12&nbsp;000 &#8212; &#x2713; &amp;lt; &bogus; & more</p>"
            ),
            "4% < plan & €12 000 — ✓ &lt; &bogus; & more"
        );
        assert_eq!(
            decode("&#0;&#x1F;"),
            "&#0;&#x1F;",
            "control characters stay escaped"
        );
    }

    #[test]
    fn links_are_kept_as_text_and_url() {
        let html = "<p>See the <a href=\"https://contoso.example/q3?a=1&amp;b=2\">finance site</a>, \
                    <a href='https://x.example'>https://x.example</a>, <a href=\"mailto:adele@contoso.example\">adele@contoso.example</a>, \
                    <a href=\"https://empty.example\"></a> and <a href=\"javascript:evil()\">this</a>.</p>";
        assert_eq!(
            to_text(html),
            "See the finance site (https://contoso.example/q3?a=1&b=2), https://x.example, \
             adele@contoso.example, https://empty.example and this."
        );
    }

    #[test]
    fn lists_tables_images_and_pre() {
        let html = "<ul><li>Marketing: on track</li><li>Travel: over</li></ul>\
                    <table><tr><td>A</td><td>1</td></tr><tr><td>B</td><td>2</td></tr></table>\
                    <img src=\"cid:x\" alt=\"Chart\"><pre>  keep\n    this</pre>";
        assert_eq!(
            to_text(html),
            "- Marketing: on track\n- Travel: over\n\nA\t1\nB\t2\n\n[image: Chart]\n  keep\n    this"
        );
    }

    #[test]
    fn stray_angle_brackets_and_unclosed_tags_do_not_lose_text() {
        assert_eq!(to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
        assert_eq!(to_text("before <b unclosed"), "before <b unclosed");
        assert_eq!(to_text("<script>never closed"), "");
        assert_eq!(to_text(""), "");
    }
}
