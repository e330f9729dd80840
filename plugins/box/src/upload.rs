//! Uploading a file: `POST {upload_url}/files/content`, a `multipart/form-data` body whose
//! `attributes` part (JSON `{name, parent: {id}}`) comes before the `file` part, as Box
//! requires, sent through the session's client like every other request: a `401` renews the
//! token once and tries again, a `429` waits its `Retry-After` (Box did not take the
//! request); a failed connection is not retried (a `POST`), since the upload may have
//! happened, and the failure says to look in the folder first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use switchboard_plugin_api::Call;
use switchboard_plugin_http::{HttpError, Request};

use crate::api::{Api, check_id, read_json};
use crate::error::Failure;
use crate::wire::{BoxError, Item, Page};

/// Box's limit for a single upload (larger files need an upload session).
pub const MOST_BYTES: usize = 50 * 1024 * 1024;

/// How long one upload may take to send (the client's 30 s is for small requests; 50 MB on
/// a slow link takes minutes).
const UPLOAD_TIME: Duration = Duration::from_secs(300);

/// Refuse a name Box would refuse, before anything is sent.
pub fn check_name(name: &str) -> Result<(), Failure> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.chars().count() > 255 {
        Some("is longer than 255 characters")
    } else if name.contains(['/', '\\']) {
        Some("holds / or \\ (a name is not a path; choose the folder with folder_id)")
    } else if name == "." || name == ".." {
        Some("is . or ..")
    } else if name.trim() != name {
        Some("starts or ends with a space")
    } else if name.chars().any(char::is_control) {
        Some("holds a control character")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Failure::Invalid(format!(
            "the file name {:?} {problem}",
            name.chars().take(60).collect::<String>()
        ))),
        None => Ok(()),
    }
}

/// A boundary found in neither part.
fn boundary(parts: &[&[u8]]) -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let boundary = format!(
            "switchboard-{nanos:x}-{:x}",
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let clash = parts
            .iter()
            .any(|p| p.windows(boundary.len()).any(|w| w == boundary.as_bytes()));
        if !clash {
            return boundary;
        }
    }
}

/// The multipart body and its boundary.
pub fn body(name: &str, folder_id: &str, content: &[u8]) -> (Vec<u8>, String) {
    let attributes = json!({"name": name, "parent": {"id": folder_id}}).to_string();
    let boundary = boundary(&[attributes.as_bytes(), content]);
    // The name was checked: no control characters; quotes are escaped as browsers do.
    let filename = name.replace('"', "%22");
    let mut body = Vec::with_capacity(content.len() + attributes.len() + 300);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"attributes\"\r\n\r\n{attributes}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, boundary)
}

/// Upload `content` as `name` into folder `folder_id`; the new file.
pub fn upload(
    api: &Api,
    name: &str,
    folder_id: &str,
    content: &[u8],
    call: &Call,
) -> Result<Item, Failure> {
    check_id(folder_id, "folder")?;
    check_name(name)?;
    if content.len() > MOST_BYTES {
        return Err(Failure::Invalid(format!(
            "the content is {} bytes; Box takes at most {MOST_BYTES} in one upload: upload it with the Box app",
            content.len()
        )));
    }
    let what = format!("uploading {name:?} to Box folder {folder_id}");
    let method = api.session.method;
    let (body, boundary) = body(name, folder_id, content);
    let request = Request::post(api.config.upload("/files/content"))
        .body(body, format!("multipart/form-data; boundary={boundary}"))
        .timeout(UPLOAD_TIME);
    let response = api
        .session
        .client
        .send(&request, &|| call.is_cancelled())
        .map_err(|e| match e {
            HttpError::Unreachable { message, .. } => Failure::Failed(format!(
                "{what}: Box did not answer ({message}); the file may have been uploaded all the \
                 same: look in the folder (list_folder) before trying again"
            )),
            other => Failure::from_http(&what, other, method),
        })?;
    match response.status() {
        200 | 201 => {
            let page: Page<Item> = read_json(&what, response.body())?;
            page.entries.into_iter().next().ok_or_else(|| {
                Failure::Failed(format!(
                    "{what}: Box answered {} without the new file",
                    response.status()
                ))
            })
        }
        409 => Err(conflict(&what, name, response.body())),
        _ => Err(api.refused(&what, &response)),
    }
}

/// Box's `409 item_name_in_use`, as a sentence naming the file already there.
fn conflict(what: &str, name: &str, body: &[u8]) -> Failure {
    let error = BoxError::read(body).unwrap_or_default();
    let existing = error
        .context_info
        .as_ref()
        .and_then(|c| c["conflicts"]["id"].as_str().map(str::to_string));
    let which = existing.map_or_else(String::new, |id| format!(", the file there has id {id}"));
    Failure::Failed(format!(
        "{what}: Box already has an item named {name:?} in that folder (409 {}{which}); choose \
         another name: upload_file never replaces a file",
        error.code.as_deref().unwrap_or("conflict")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_box_refuses_are_refused_first() {
        for bad in [
            "",
            "a/b",
            "..\\x",
            ".",
            "..",
            " lead",
            "trail ",
            "bell\u{7}",
            &"x".repeat(256),
        ] {
            assert!(
                matches!(check_name(bad), Err(Failure::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(check_name("Q4 budget (draft) \"v2\".md").is_ok());
    }

    #[test]
    fn the_body_puts_attributes_first_and_its_boundary_is_in_no_part() {
        let content = b"--switchboard-0-0 looks like a boundary";
        let (body, boundary) = body("a\"b.txt", "100", content);
        let text = String::from_utf8_lossy(&body);
        let attributes = text.find("name=\"attributes\"").unwrap();
        let file = text.find("name=\"file\"; filename=\"a%22b.txt\"").unwrap();
        assert!(attributes < file, "{text}");
        assert!(
            text.contains(r#"{"name":"a\"b.txt","parent":{"id":"100"}}"#),
            "{text}"
        );
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert_eq!(text.matches(&format!("--{boundary}")).count(), 3);
    }
}
