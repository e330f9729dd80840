//! Box's content endpoints as the stand-in serves them: items as JSON (with `fields`
//! honoured as Box does), `GET /2.0/search`, `/2.0/files/{id}`, `/2.0/files/{id}/content`
//! (302 to the download server or 202 while not ready), the download server's
//! `/d/1/{ticket}/download`, `/2.0/folders/{id}/items` and `/2.0/users/me`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::seed::{self, File, Folder};
use super::{Data, SUBJECT_ID, Shared, Subject, box_error, gate, lock};

fn mini_folder(folder: &Folder) -> Value {
    json!({"type": "folder", "id": folder.id, "sequence_id": "0", "etag": "0", "name": folder.name})
}

/// The folders from the root down to `id`, as `path_collection` lists them.
fn path_of(data: &Data, id: &str) -> Vec<Value> {
    let mut path = Vec::new();
    let mut at = data.folders.get(id);
    while let Some(folder) = at {
        path.push(mini_folder(folder));
        at = folder.parent.as_ref().and_then(|p| data.folders.get(p));
    }
    path.reverse();
    path
}

/// Keep `type`, `id`, `etag` and the fields asked for, as Box does when `fields` is given.
fn only_fields(full: Value, fields: Option<&String>) -> Value {
    let Some(fields) = fields.filter(|f| !f.is_empty()) else {
        return full;
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    let Value::Object(all) = full else {
        return full;
    };
    Value::Object(
        all.into_iter()
            .filter(|(k, _)| {
                ["type", "id", "etag"].contains(&k.as_str()) || wanted.contains(&k.as_str())
            })
            .collect(),
    )
}

pub(super) fn file_json(data: &Data, file: &File) -> Value {
    let path = path_of(data, &file.parent);
    let extension = file.name.rsplit_once('.').map_or("", |(_, e)| e);
    json!({
        "type": "file",
        "id": file.id,
        "etag": "1",
        "sequence_id": "1",
        "name": file.name,
        "description": file.description,
        "size": file.content.len(),
        "extension": extension,
        "created_at": file.modified_at,
        "modified_at": file.modified_at,
        "content_modified_at": file.modified_at,
        "path_collection": {"total_count": path.len(), "entries": path},
        "parent": data.folders.get(&file.parent).map(mini_folder),
        "owned_by": seed::owner(),
        "item_status": "active",
    })
}

fn number(q: &HashMap<String, String>, key: &str, default: u64) -> Result<u64, Box<Response>> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            Box::new(box_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("Invalid value for '{key}'"),
            ))
        }),
    }
}

/// `GET /2.0/search`.
pub(super) async fn search(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut data = lock(&shared);
    if let Err(refused) = gate(&mut data, &headers) {
        return *refused;
    }
    let query = q
        .get("query")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    if query.is_empty() {
        return box_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Missing query parameter",
        );
    }
    let (limit, offset) = match (number(&q, "limit", 30), number(&q, "offset", 0)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(e), _) | (_, Err(e)) => return *e,
    };
    if !(1..=200).contains(&limit) {
        return box_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Invalid value for 'limit'. Limit must be between 1 and 200",
        );
    }
    if let Some(kind) = q
        .get("type")
        .filter(|t| !["file", "folder", "web_link"].contains(&t.as_str()))
    {
        return box_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("Invalid value '{kind}' for 'type'"),
        );
    }
    // Terms are ORed, as Box does by default; the operators are not terms.
    let terms: Vec<String> = query
        .split_whitespace()
        .map(|t| t.trim_matches('"').to_string())
        .filter(|t| !t.is_empty() && !["and", "or", "not"].contains(&t.as_str()))
        .collect();
    let matches: Vec<Value> = if q.get("type").is_some_and(|t| t != "file") {
        Vec::new()
    } else {
        data.files
            .values()
            .filter(|f| {
                let haystack = format!(
                    "{} {} {}",
                    f.name,
                    f.description,
                    String::from_utf8_lossy(&f.content)
                )
                .to_lowercase();
                terms.iter().any(|t| haystack.contains(t.as_str()))
            })
            .map(|f| only_fields(file_json(&data, f), q.get("fields")))
            .collect()
    };
    let total = matches.len();
    let entries: Vec<Value> = matches
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    axum::Json(json!({"total_count": total, "limit": limit, "offset": offset, "entries": entries}))
        .into_response()
}

pub(super) fn not_found() -> Response {
    box_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "Could not find the specified resource",
    )
}

/// `GET /2.0/files/{id}`.
pub(super) async fn file_info(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut data = lock(&shared);
    if let Err(refused) = gate(&mut data, &headers) {
        return *refused;
    }
    match data.files.get(&id) {
        Some(file) => {
            axum::Json(only_fields(file_json(&data, file), q.get("fields"))).into_response()
        }
        None => not_found(),
    }
}

/// `GET /2.0/files/{id}/content`: `202` while not ready, else `302` to the download server.
pub(super) async fn file_content(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut data = lock(&shared);
    if let Err(refused) = gate(&mut data, &headers) {
        return *refused;
    }
    if !data.files.contains_key(&id) {
        return not_found();
    }
    if let Some((left, seconds)) = data.not_ready.get_mut(&id).filter(|(left, _)| *left > 0) {
        *left -= 1;
        let seconds = seconds.to_string();
        return (StatusCode::ACCEPTED, [(header::RETRY_AFTER, seconds)]).into_response();
    }
    data.counter += 1;
    let ticket = format!("tk{}x{}", data.counter, id);
    data.tickets.insert(ticket.clone(), id);
    let location = format!("{}/d/1/{ticket}/download", data.download_origin);
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// `GET /d/1/{ticket}/download` on the download server: the bytes, no token needed.
pub(super) async fn download(State(shared): State<Shared>, Path(ticket): Path<String>) -> Response {
    let data = lock(&shared);
    let file = data.tickets.get(&ticket).and_then(|id| data.files.get(id));
    match file {
        Some(file) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            file.content.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "").into_response(),
    }
}

/// `GET /2.0/folders/{id}/items`: folders first, then files, each by name.
pub(super) async fn folder_items(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut data = lock(&shared);
    if let Err(refused) = gate(&mut data, &headers) {
        return *refused;
    }
    if !data.folders.contains_key(&id) {
        return not_found();
    }
    let (limit, offset) = match (number(&q, "limit", 100), number(&q, "offset", 0)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(e), _) | (_, Err(e)) => return *e,
    };
    if !(1..=1000).contains(&limit) {
        return box_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Invalid value for 'limit'. Limit must be between 1 and 1000",
        );
    }
    let mut folders: Vec<&Folder> = data
        .folders
        .values()
        .filter(|f| f.parent.as_deref() == Some(id.as_str()))
        .collect();
    folders.sort_by(|a, b| a.name.cmp(&b.name));
    let mut files: Vec<&File> = data.files.values().filter(|f| f.parent == id).collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let all: Vec<Value> = folders
        .into_iter()
        .map(|f| {
            let mut v = mini_folder(f);
            v["modified_at"] = json!("2025-01-01T00:00:00-08:00");
            only_fields(v, q.get("fields"))
        })
        .chain(
            files
                .into_iter()
                .map(|f| only_fields(file_json(&data, f), q.get("fields"))),
        )
        .collect();
    let total = all.len();
    let entries: Vec<Value> = all
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    axum::Json(json!({
        "total_count": total,
        "entries": entries,
        "offset": offset,
        "limit": limit,
        "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
    }))
    .into_response()
}

/// `GET /2.0/users/me`.
pub(super) async fn me(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let mut data = lock(&shared);
    let grant = match gate(&mut data, &headers) {
        Ok(grant) => grant,
        Err(refused) => return *refused,
    };
    let mut user = match grant.subject {
        Subject::Person => seed::owner(),
        Subject::Service => json!({
            "type": "user",
            "id": "20000001",
            "name": "Switchboard Service Account",
            "login": format!("AutomationUser_{SUBJECT_ID}_x9KqTt@boxdevedition.com"),
        }),
    };
    user["status"] = json!("active");
    user["created_at"] = json!("2024-01-01T00:00:00-08:00");
    axum::Json(user).into_response()
}
