//! Turning file bytes into text: binary detection, the size cap, UTF-8 boundaries, MIME types.
//!
//! A home folder holds photos, archives and databases next to notes and code. A file counts as
//! binary when its first 8 KiB contain a NUL byte or its (capped) contents are not UTF-8; such
//! files are indexed by name only and never returned as text. Reading stops after the first
//! 8 KiB of a binary file and after `max` bytes of a text file, so a 4 GiB video costs one
//! small read.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// How many leading bytes are checked for a NUL byte.
pub const SNIFF_LEN: usize = 8 * 1024;

/// What a file holds, as far as the connector cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contents {
    /// UTF-8 text, cut at the size cap when `truncated`.
    Text {
        /// The text (at most the cap, cut on a character boundary).
        text: String,
        /// Whether the file is longer than what `text` holds.
        truncated: bool,
    },
    /// Not text.
    Binary,
}

/// Whether `prefix` (the first bytes of a file) marks it as binary.
pub fn has_nul(prefix: &[u8]) -> bool {
    prefix[..prefix.len().min(SNIFF_LEN)].contains(&0)
}

/// Decode bytes read from a file. `cut` says the bytes stop before the end of the file, so an
/// incomplete character at the very end is the cut's doing and is dropped; anywhere else
/// invalid UTF-8 means the file is binary.
pub fn decode(mut bytes: Vec<u8>, cut: bool) -> Option<String> {
    if has_nul(&bytes) {
        return None;
    }
    match std::str::from_utf8(&bytes) {
        Ok(_) => {}
        Err(e) if cut && e.error_len().is_none() => bytes.truncate(e.valid_up_to()),
        Err(_) => return None,
    }
    String::from_utf8(bytes).ok()
}

/// Read an open file as text, at most `max` bytes of it.
pub fn read_capped(mut file: File, max: u64) -> io::Result<Contents> {
    let mut bytes = Vec::new();
    (&mut file).take(SNIFF_LEN as u64).read_to_end(&mut bytes)?;
    if has_nul(&bytes) {
        return Ok(Contents::Binary);
    }
    // One byte past the cap tells whether the file goes on.
    let budget = (max + 1).saturating_sub(bytes.len() as u64);
    file.take(budget).read_to_end(&mut bytes)?;
    let truncated = bytes.len() as u64 > max;
    if truncated {
        bytes.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    }
    Ok(match decode(bytes, truncated) {
        Some(text) => Contents::Text { text, truncated },
        None => Contents::Binary,
    })
}

/// A window of a text file, for paging through files larger than the cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The text of the window, on character boundaries.
    pub text: String,
    /// Byte offset where `text` starts (the requested offset moved past a split character).
    pub start: u64,
    /// Byte offset just past `text`.
    pub end: u64,
    /// Size of the whole file in bytes.
    pub size: u64,
}

/// Read about `length` bytes of an open text file from byte `offset`. `None` when the file is
/// binary (judged by its first 8 KiB and by the window itself).
pub fn read_window(mut file: File, offset: u64, length: u64) -> io::Result<Option<Window>> {
    let size = file.metadata()?.len();
    let mut head = Vec::new();
    (&mut file).take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    if has_nul(&head) {
        return Ok(None);
    }
    let offset = offset.min(size);
    file.seek(SeekFrom::Start(offset))?;
    // Up to three extra bytes finish a character split by the end of the window.
    let mut bytes = Vec::new();
    file.take(length.saturating_add(3))
        .read_to_end(&mut bytes)?;

    // Skip continuation bytes of a character split by the start of the window.
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|b| (**b & 0xC0) == 0x80)
        .count();
    bytes.drain(..skip);
    let start = offset + skip as u64;
    let wanted = usize::try_from(length).unwrap_or(usize::MAX);
    if bytes.len() > wanted {
        // Cut at `wanted`, then move forward to the next character boundary (at most 3 bytes).
        let mut cut = wanted;
        while cut < bytes.len() && (bytes[cut] & 0xC0) == 0x80 {
            cut += 1;
        }
        bytes.truncate(cut);
    }
    let cut = start + (bytes.len() as u64) < size;
    Ok(decode(bytes, cut).map(|text| Window {
        end: start + text.len() as u64,
        text,
        start,
        size,
    }))
}

/// A MIME type for a text file, guessed from its extension; `text/plain` when unknown.
pub fn mime_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "md" | "markdown" => "text/markdown",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "js" | "mjs" | "cjs" => "text/javascript",
        "ts" | "tsx" => "text/x-typescript",
        "json" => "application/json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "yaml" | "yml" => "application/yaml",
        "toml" => "application/toml",
        "rs" => "text/x-rust",
        "py" => "text/x-python",
        "go" => "text/x-go",
        "java" => "text/x-java",
        "c" | "h" => "text/x-c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => "text/x-c++",
        "sh" | "bash" | "zsh" => "application/x-sh",
        "sql" => "application/sql",
        "tex" => "application/x-tex",
        "rtf" => "application/rtf",
        "ics" => "text/calendar",
        "vcf" => "text/vcard",
        _ => "text/plain",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn open(path: &Path) -> File {
        File::open(path).expect("open")
    }

    #[test]
    fn nul_in_the_first_8k_is_binary() {
        assert!(has_nul(b"PK\x03\x04\x00\x00"));
        assert!(!has_nul(b"plain text"));
        let mut late = vec![b'a'; SNIFF_LEN];
        late.push(0);
        assert!(!has_nul(&late));
    }

    #[test]
    fn invalid_utf8_is_binary_unless_cut_mid_character() {
        assert_eq!(
            decode(b"caf\xc3\xa9".to_vec(), false).as_deref(),
            Some("café")
        );
        assert_eq!(decode(b"caf\xe9 latin-1".to_vec(), false), None);
        // Cut inside the two-byte é: the half character is dropped.
        assert_eq!(decode(b"caf\xc3".to_vec(), true).as_deref(), Some("caf"));
        assert_eq!(decode(b"caf\xc3".to_vec(), false), None);
        // An invalid byte in the middle stays binary even when cut.
        assert_eq!(decode(b"a\xffb\xc3".to_vec(), true), None);
    }

    #[test]
    fn read_capped_classifies_and_cuts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = dir.path().join("t.txt");
        fs::write(&text, "héllo wörld").expect("write");
        assert_eq!(
            read_capped(open(&text), 1024).expect("read"),
            Contents::Text {
                text: "héllo wörld".into(),
                truncated: false
            }
        );
        // 2 bytes: "h" and half of "é".
        assert_eq!(
            read_capped(open(&text), 2).expect("read"),
            Contents::Text {
                text: "h".into(),
                truncated: true
            }
        );
        let exact = dir.path().join("exact.txt");
        fs::write(&exact, "abcd").expect("write");
        assert_eq!(
            read_capped(open(&exact), 4).expect("read"),
            Contents::Text {
                text: "abcd".into(),
                truncated: false
            }
        );
        let bin = dir.path().join("b.png");
        fs::write(&bin, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR").expect("write");
        assert_eq!(
            read_capped(open(&bin), 1024).expect("read"),
            Contents::Binary
        );
        let latin1 = dir.path().join("l.txt");
        fs::write(&latin1, b"caf\xe9").expect("write");
        assert_eq!(
            read_capped(open(&latin1), 1024).expect("read"),
            Contents::Binary
        );
        let empty = dir.path().join("e.txt");
        fs::write(&empty, b"").expect("write");
        assert_eq!(
            read_capped(open(&empty), 1024).expect("read"),
            Contents::Text {
                text: String::new(),
                truncated: false
            }
        );
    }

    #[test]
    fn windows_respect_character_boundaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("w.txt");
        fs::write(&path, "aé€b").expect("write"); // a=1, é=2, €=3, b=1 bytes
        let all = read_window(open(&path), 0, 100)
            .expect("read")
            .expect("text");
        assert_eq!(
            (all.text.as_str(), all.start, all.end, all.size),
            ("aé€b", 0, 7, 7)
        );
        // Offset 2 is inside é: start moves to 3.
        let mid = read_window(open(&path), 2, 3).expect("read").expect("text");
        assert_eq!((mid.text.as_str(), mid.start, mid.end), ("€", 3, 6));
        // Length 2 from 0 ends inside é: the window finishes the character.
        let short = read_window(open(&path), 0, 2).expect("read").expect("text");
        assert_eq!((short.text.as_str(), short.end), ("aé", 3));
        let past = read_window(open(&path), 100, 10)
            .expect("read")
            .expect("text");
        assert_eq!((past.text.as_str(), past.start, past.end), ("", 7, 7));
        let bin = dir.path().join("b.bin");
        fs::write(&bin, b"ab\x00cd").expect("write");
        assert_eq!(read_window(open(&bin), 0, 10).expect("read"), None);
    }

    #[test]
    fn mime_types() {
        assert_eq!(mime_type(Path::new("/a/README.MD")), "text/markdown");
        assert_eq!(mime_type(Path::new("/a/main.rs")), "text/x-rust");
        assert_eq!(mime_type(Path::new("/a/Makefile")), "text/plain");
    }
}
