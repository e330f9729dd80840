//! What a run's output becomes: a capped copy of each stream for the result, and the lines the
//! progress notifications show while it runs.
//!
//! Each stream keeps its first `max_output_bytes` and counts the rest, which is still read (a
//! command must never block on a full pipe because nobody reads it). Lines are split as the
//! bytes arrive; for each chunk read only the number of lines and the last non-blank one are
//! passed on, so a command printing millions of lines costs no more than one printing a few.

/// Longest line, in bytes, a progress message carries; the rest of the line is dropped.
pub const MAX_LINE_BYTES: usize = 512;

/// The kept part of one output stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    bytes: Vec<u8>,
    total: u64,
    cap: usize,
}

impl Captured {
    /// An empty capture keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            bytes: Vec::new(),
            total: 0,
            cap,
        }
    }

    /// Take in a chunk read from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = self.cap.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// Bytes the stream produced in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether more was produced than kept.
    pub fn truncated(&self) -> bool {
        self.total > self.bytes.len() as u64
    }

    /// The kept bytes as text (invalid UTF-8 replaced), with a note when the output was cut.
    pub fn text(&self) -> String {
        let mut bytes: &[u8] = &self.bytes;
        if self.truncated() {
            // Drop a character the cap cut in half rather than show a replacement mark.
            if let Err(e) = std::str::from_utf8(bytes)
                && e.error_len().is_none()
            {
                bytes = &bytes[..e.valid_up_to()];
            }
        }
        let mut text = String::from_utf8_lossy(bytes).into_owned();
        if self.truncated() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(
                "[output cut at {} bytes; {} bytes were written in all]",
                self.cap, self.total
            ));
        }
        text
    }
}

/// Lines completed by one chunk of output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineBatch {
    /// How many lines the chunk completed.
    pub count: u64,
    /// The last of them that is not blank, if any.
    pub last: Option<String>,
}

/// Splits a stream into lines as chunks arrive.
#[derive(Debug, Default)]
pub struct Lines {
    /// The start of the line not yet ended (at most [`MAX_LINE_BYTES`]).
    partial: Vec<u8>,
}

fn keep_start(line: &mut Vec<u8>, more: &[u8]) {
    let room = MAX_LINE_BYTES.saturating_sub(line.len());
    line.extend_from_slice(&more[..more.len().min(room)]);
}

fn as_message(line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    if text.trim().is_empty() {
        None
    } else {
        Some(text.to_string())
    }
}

impl Lines {
    /// Take in a chunk; returns the lines it completed, if any.
    pub fn feed(&mut self, chunk: &[u8]) -> Option<LineBatch> {
        let Some(end) = chunk.iter().rposition(|b| *b == b'\n') else {
            keep_start(&mut self.partial, chunk);
            return None;
        };
        let complete = &chunk[..end];
        let count = complete.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let mut last = None;
        for (i, piece) in complete.rsplit(|b| *b == b'\n').enumerate() {
            let first = i as u64 + 1 == count;
            last = if first {
                // The first line of the chunk continues what earlier chunks started.
                let mut line = std::mem::take(&mut self.partial);
                keep_start(&mut line, piece);
                as_message(&line)
            } else {
                as_message(&piece[..piece.len().min(MAX_LINE_BYTES)])
            };
            if last.is_some() {
                break;
            }
        }
        self.partial.clear();
        keep_start(&mut self.partial, &chunk[end + 1..]);
        Some(LineBatch { count, last })
    }

    /// The stream ended: a last line without a newline, if any.
    pub fn finish(&mut self) -> Option<LineBatch> {
        if self.partial.is_empty() {
            return None;
        }
        let line = std::mem::take(&mut self.partial);
        Some(LineBatch {
            count: 1,
            last: as_message(&line),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_the_start_and_counts_the_rest() {
        let mut out = Captured::new(5);
        out.push(b"abc");
        assert!(!out.truncated());
        assert_eq!(out.text(), "abc");
        out.push(b"defgh");
        assert!(out.truncated());
        assert_eq!(out.total(), 8);
        assert_eq!(
            out.text(),
            "abcde\n[output cut at 5 bytes; 8 bytes were written in all]"
        );
        let mut cut_char = Captured::new(2);
        cut_char.push("aé".as_bytes());
        assert!(cut_char.text().starts_with("a\n[output cut"));
    }

    #[test]
    fn lines_are_counted_across_chunks() {
        let mut lines = Lines::default();
        assert_eq!(lines.feed(b"hel"), None);
        assert_eq!(
            lines.feed(b"lo\nwor"),
            Some(LineBatch {
                count: 1,
                last: Some("hello".into())
            })
        );
        assert_eq!(
            lines.feed(b"ld\r\nnext\n\n  \n"),
            Some(LineBatch {
                count: 4,
                last: Some("next".into())
            })
        );
        assert_eq!(
            lines.feed(b"\n"),
            Some(LineBatch {
                count: 1,
                last: None
            })
        );
        assert_eq!(lines.feed(b"tail"), None);
        assert_eq!(
            lines.finish(),
            Some(LineBatch {
                count: 1,
                last: Some("tail".into())
            })
        );
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn long_lines_are_cut() {
        let mut lines = Lines::default();
        let long = vec![b'x'; MAX_LINE_BYTES * 3];
        lines.feed(&long);
        let batch = lines.feed(b"x\n").expect("a line");
        assert_eq!(batch.last.map(|l| l.len()), Some(MAX_LINE_BYTES));
    }
}
