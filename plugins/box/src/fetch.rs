//! Reading a file: its details (`GET /files/{id}`), then, for a text file no larger than
//! `max_read_bytes`, its content (`GET /files/{id}/content`). Box answers the content with a
//! `302` to its download server, which plugin-http's client follows without the
//! `Authorization` header (it never sends credentials on a redirect); or `202 Accepted` with
//! `Retry-After` while a new file is not ready, waited for within `download_wait_seconds`.
//! Other files are described, not downloaded. Text that is not UTF-8 is decoded lossily, and
//! says so.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchboard_plugin_api::Call;
use switchboard_plugin_api::model::{Document, JsonObject};
use switchboard_plugin_http::Request;
use switchboard_plugin_http::retry::retry_after;

use crate::api::{Api, check_id, pause};
use crate::error::Failure;
use crate::wire::{FILE_FIELDS, Item};

/// Extensions read as text.
const TEXT: &[&str] = &[
    "txt",
    "text",
    "md",
    "markdown",
    "rst",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "xml",
    "html",
    "htm",
    "yaml",
    "yml",
    "toml",
    "ini",
    "cfg",
    "conf",
    "log",
    "tex",
    "sql",
    "sh",
    "bash",
    "ps1",
    "py",
    "rs",
    "go",
    "js",
    "mjs",
    "ts",
    "tsx",
    "jsx",
    "java",
    "kt",
    "c",
    "h",
    "cc",
    "cpp",
    "hpp",
    "cs",
    "rb",
    "php",
    "swift",
    "scala",
    "r",
    "pl",
    "lua",
    "css",
    "scss",
    "vtt",
    "srt",
    "properties",
    "gradle",
    "diff",
    "patch",
];

/// Names without an extension that are text.
const TEXT_NAMES: &[&str] = &["readme", "license", "makefile", "dockerfile", "changelog"];

/// What other files are, for the sentence that describes them.
const KINDS: &[(&str, &str)] = &[
    ("pdf", "a PDF document"),
    ("doc", "a Word document"),
    ("docx", "a Word document"),
    ("xls", "an Excel workbook"),
    ("xlsx", "an Excel workbook"),
    ("ppt", "a PowerPoint presentation"),
    ("pptx", "a PowerPoint presentation"),
    ("boxnote", "a Box Note"),
    ("png", "an image"),
    ("jpg", "an image"),
    ("jpeg", "an image"),
    ("gif", "an image"),
    ("zip", "an archive"),
    ("mp4", "a video"),
];

/// A file's extension, lowercased.
fn extension(name: &str) -> Option<String> {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

/// Whether a file named `name` is read as text.
pub fn is_text(name: &str) -> bool {
    match extension(name) {
        Some(ext) => TEXT.contains(&ext.as_str()),
        None => TEXT_NAMES.contains(&name.to_ascii_lowercase().as_str()),
    }
}

/// The file `id`: its text when it is a text file, else a sentence saying what it is.
pub fn document(api: &Api, id: &str, call: &Call) -> Result<Document, Failure> {
    check_id(id, "file")?;
    let what = format!("reading the details of Box file {id}");
    let url =
        api.config.api(&format!("/files/{id}")) + &crate::api::query(&[("fields", FILE_FIELDS)]);
    let item: Item = api.get_json(&url, &what, call)?;
    if item.kind != "file" {
        return Err(Failure::NotFound(format!(
            "Box item {id} is a {}, not a file; list it with list_folder",
            item.kind
        )));
    }
    let link = api.config.file_link(&item.id);
    let mut metadata = metadata(&item);
    let size = item.size.unwrap_or(0);
    let place = item.path().map_or_else(String::new, |p| format!(" in {p}"));
    let text = if !is_text(&item.name) {
        metadata.insert("content".into(), json!("metadata only"));
        let kind = extension(&item.name)
            .and_then(|e| {
                KINDS
                    .iter()
                    .find(|(k, _)| *k == e)
                    .map(|(_, d)| (*d).to_string())
            })
            .unwrap_or_else(|| match extension(&item.name) {
                Some(e) => format!("a .{e} file"),
                None => "a file".to_string(),
            });
        let described = item
            .described()
            .map_or_else(String::new, |d| format!(" Its description: {d}"));
        format!(
            "{} is {kind} of {size} bytes{place}; switchboard reads only text files from Box, \
             so its content is not shown. Open it in Box: {link}{described}",
            item.name
        )
    } else if size > api.config.max_read_bytes {
        metadata.insert("content".into(), json!("metadata only"));
        format!(
            "{} is a text file of {size} bytes{place}, above the {} bytes this source reads \
             (the max_read_bytes setting); open it in Box: {link}",
            item.name, api.config.max_read_bytes
        )
    } else {
        let bytes = content(api, &item, call)?;
        metadata.insert("content".into(), json!("text"));
        let (text, lossy) = decode(&bytes, api.config.max_read_bytes);
        metadata.insert("lossy".into(), json!(lossy));
        text
    };
    Ok(Document {
        id: item.id.clone(),
        title: item.name.clone(),
        text,
        url: Some(link),
        metadata,
    })
}

/// What is worth knowing of a file besides its text.
fn metadata(item: &Item) -> JsonObject {
    let mut metadata = JsonObject::new();
    metadata.insert("name".into(), json!(item.name));
    metadata.insert("size".into(), json!(item.size));
    metadata.insert("modified_at".into(), json!(item.modified_at));
    metadata.insert("path".into(), json!(item.path()));
    let owner = item.owned_by.as_ref().map_or(
        Value::Null,
        |o| json!({"id": o.id, "name": o.name, "login": o.login}),
    );
    metadata.insert("owner".into(), owner);
    if let Some(d) = item.described() {
        metadata.insert("description".into(), json!(d));
    }
    metadata
}

/// The bytes of `item`, waiting while Box prepares them.
fn content(api: &Api, item: &Item, call: &Call) -> Result<Vec<u8>, Failure> {
    let what = format!("downloading Box file {}", item.id);
    let request = Request::get(api.config.api(&format!("/files/{}/content", item.id)));
    let budget = Duration::from_secs(api.config.download_wait_seconds);
    let mut waited = Duration::ZERO;
    loop {
        let response = api.send(&request, &what, call)?;
        match response.status() {
            202 => {
                let wait = response
                    .header("retry-after")
                    .and_then(|v| retry_after(v, SystemTime::now()))
                    .unwrap_or(Duration::from_secs(2))
                    .max(Duration::from_secs(1));
                if waited + wait > budget {
                    return Err(Failure::Failed(format!(
                        "{what}: Box is still preparing the file after {} s (202 Accepted); \
                         try again in a minute",
                        waited.as_secs()
                    )));
                }
                call.progress(
                    waited.as_secs_f64(),
                    Some(budget.as_secs_f64()),
                    &format!(
                        "Box is preparing {} for download; waiting {} s",
                        item.name,
                        wait.as_secs()
                    ),
                );
                pause(wait, call)?;
                waited += wait;
            }
            200..=299 => return Ok(response.body().to_vec()),
            _ => return Err(api.refused(&what, &response)),
        }
    }
}

/// The text of `bytes`, cut at `cap` bytes, and whether bytes that are not UTF-8 were
/// replaced (said at the top of the text).
pub fn decode(bytes: &[u8], cap: u64) -> (String, bool) {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let cut = bytes.len() > cap;
    let kept = &bytes[..bytes.len().min(cap)];
    let (mut text, lossy) = match std::str::from_utf8(kept) {
        Ok(text) => (text.to_string(), false),
        // A character split by the cap is not a decoding failure.
        Err(e) if cut && e.error_len().is_none() => (
            String::from_utf8_lossy(&kept[..e.valid_up_to()]).into_owned(),
            false,
        ),
        Err(_) => (String::from_utf8_lossy(kept).into_owned(), true),
    };
    if lossy {
        text.insert_str(
            0,
            "[This file is not valid UTF-8 text; the bytes that are not were replaced with �.]\n",
        );
    }
    if cut {
        text.push_str(&format!(
            "\n[Cut at {cap} bytes: the max_read_bytes setting.]"
        ));
    }
    (text, lossy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_told_by_extension_and_bad_utf8_is_said() {
        assert!(is_text("Notes.MD") && is_text("a.tar.log") && is_text("Makefile"));
        assert!(!is_text("report.pdf") && !is_text("photo.png") && !is_text("noext"));
        assert_eq!(decode(b"plain", 100), ("plain".to_string(), false));
        let (text, lossy) = decode(b"caf\xe9", 100);
        assert!(
            lossy
                && text.starts_with("[This file is not valid UTF-8")
                && text.ends_with("caf\u{fffd}")
        );
        // "é" is two bytes; a cap between them is a cut, not a bad file.
        let (text, lossy) = decode("aé".as_bytes(), 2);
        assert!(!lossy && text.starts_with("a\n[Cut at 2 bytes"), "{text}");
    }
}
