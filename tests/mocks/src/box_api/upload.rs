//! Box's upload (`POST /api/2.0/files/content`) as the stand-in serves it: the multipart
//! body parsed enough to read its `attributes` and `file` parts, Box's checks on the name and
//! the folder, and `409 item_name_in_use` with the file already there.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::items::{file_json, not_found};
use super::seed::File;
use super::{Shared, box_error, box_error_with, gate, lock};

/// The parts of a `multipart/form-data` body: (name, bytes), in order.
fn parts(headers: &HeaderMap, body: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut found = Vec::new();
    let mut rest = body;
    let start = find(rest, &delimiter)?;
    rest = &rest[start + delimiter.len()..];
    while !rest.starts_with(b"--") {
        rest = rest.strip_prefix(b"\r\n")?;
        let end = find(rest, &delimiter)?;
        let part = rest[..end].strip_suffix(b"\r\n")?;
        let split = find(part, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&part[..split]);
        let name = head
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name="))
            .map(|n| {
                n.split("\r\n")
                    .next()
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_string()
            })?;
        found.push((name, part[split + 4..].to_vec()));
        rest = &rest[end + delimiter.len()..];
    }
    Some(found)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `POST /api/2.0/files/content`: `attributes` (name, parent.id) then `file`.
pub(super) async fn upload(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut data = lock(&shared);
    let grant = match gate(&mut data, &headers) {
        Ok(grant) => grant,
        Err(refused) => return *refused,
    };
    let Some(parts) = parts(&headers, &body) else {
        return box_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The body is not multipart/form-data",
        );
    };
    let attributes = parts
        .iter()
        .find(|(n, _)| n == "attributes")
        .and_then(|(_, v)| serde_json::from_slice::<Value>(v).ok());
    let content = parts
        .iter()
        .find(|(n, _)| n == "file")
        .map(|(_, v)| v.clone());
    let (Some(attributes), Some(content)) = (attributes, content) else {
        return box_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "An attributes part and a file part are required",
        );
    };
    let name = attributes["name"].as_str().unwrap_or_default().to_string();
    let parent = attributes["parent"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !grant.can_write {
        return box_error(
            StatusCode::FORBIDDEN,
            "access_denied_insufficient_permissions",
            "Access denied - insufficient permission",
        );
    }
    if !data.folders.contains_key(&parent) {
        return not_found();
    }
    let bad_name = name.is_empty()
        || name.len() > 255
        || name.contains(['/', '\\'])
        || name == "."
        || name == ".."
        || name.trim() != name;
    if bad_name {
        return box_error(
            StatusCode::BAD_REQUEST,
            "item_name_invalid",
            "Item name invalid",
        );
    }
    if let Some(taken) = data
        .files
        .values()
        .find(|f| f.parent == parent && f.name == name)
    {
        let conflict =
            json!({"conflicts": {"type": "file", "id": taken.id, "etag": "1", "name": taken.name}});
        return box_error_with(
            StatusCode::CONFLICT,
            "item_name_in_use",
            "Item with the same name already exists",
            conflict,
        );
    }
    data.counter += 1;
    let id = format!("{}", 5000 + data.counter);
    let file = File {
        id: id.clone(),
        name,
        parent,
        description: String::new(),
        content,
        modified_at: "2026-01-05T10:00:00-08:00".to_string(),
    };
    let entry = file_json(&data, &file);
    data.files.insert(id, file);
    (
        StatusCode::CREATED,
        axum::Json(json!({"total_count": 1, "entries": [entry]})),
    )
        .into_response()
}
