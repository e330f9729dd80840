//! A stand-in for Box's API (developer.box.com/reference), serving on loopback the endpoints
//! the Box connector calls, in Box's wire format:
//!
//! - `GET /api/oauth2/authorize`, `POST /oauth2/token` (authorization code with PKCE,
//!   refresh token rotated on each use, client credentials with `box_subject_type` /
//!   `box_subject_id`; `POST /oauth2/revoke`; see [`oauth`]);
//! - `GET /2.0/search` (`query`, `type`, `limit` ≤ 200, `offset`, `fields`; answers
//!   `total_count`, `entries`, `offset`, `limit`), matching names, descriptions and text;
//! - `GET /2.0/files/{id}` (`fields`), `GET /2.0/files/{id}/content` (`302` to the download
//!   server, a second loopback port so another origin; or `202 Accepted` + `Retry-After` while
//!   a file is "not ready");
//! - `GET /2.0/folders/{id}/items` (`fields`, `limit` ≤ 1000, `offset`), `GET /2.0/users/me`;
//! - `POST /api/2.0/files/content`, the upload (multipart: `attributes` JSON, then `file`),
//!   `201` with the new file, `409 item_name_in_use` on a name taken.
//!
//! Errors are Box's: `{"type":"error","status","code","message","request_id"}`; a missing or
//! refused token is `401` with an empty body and `WWW-Authenticate`. Switches a test flips:
//! [`BoxMock::throttle`] (the next N API or upload requests get `429` + `Retry-After`),
//! [`BoxMock::expire_next_token`] (the next API request's token is revoked and refused),
//! [`BoxMock::not_ready`], [`BoxMock::deny_next_sign_in`]. The fixed credentials:
//! [`DEVELOPER_TOKEN`], or the app [`CLIENT_ID`] / [`CLIENT_SECRET`] with [`SUBJECT_TYPE`] /
//! [`SUBJECT_ID`]. Seeded with ten files in five folders ([`seed`]), six mentioning "budget".

pub mod oauth;
pub mod seed;

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::serve::{Mock, Seen};
use seed::{File, Folder};

/// A developer token the stand-in always accepts (until a test expires it).
pub const DEVELOPER_TOKEN: &str = "box-dev-token";
/// The app's client id.
pub const CLIENT_ID: &str = "box-test-client";
/// The app's client secret.
pub const CLIENT_SECRET: &str = "box-test-secret";
/// The client credentials grant's subject type.
pub const SUBJECT_TYPE: &str = "enterprise";
/// The enterprise's id.
pub const SUBJECT_ID: &str = "1234";

/// Who a token acts for.
#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    /// The person (developer token, browser sign-in, `box_subject_type=user`).
    Person,
    /// The app's service account (`box_subject_type=enterprise`).
    Service,
}

/// What a token may do.
#[derive(Clone, Debug)]
pub struct Grant {
    pub subject: Subject,
    pub can_write: bool,
    pub refreshable: bool,
}

/// Everything the stand-in knows; behind one lock.
pub struct Data {
    pub folders: BTreeMap<String, Folder>,
    pub files: BTreeMap<String, File>,
    tokens: HashMap<String, Grant>,
    refresh_tokens: HashMap<String, Grant>,
    codes: HashMap<String, oauth::PendingCode>,
    tickets: HashMap<String, String>,
    download_origin: String,
    grants: Vec<String>,
    throttle: (usize, u64),
    expire_next: usize,
    not_ready: HashMap<String, (usize, u64)>,
    deny_next_sign_in: bool,
    counter: u64,
}

type Shared = Arc<Mutex<Data>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Data> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running stand-in: the API (deref to its [`Mock`]: `url`, `seen`, `seen_at`) and the
/// download server on a port of its own ([`BoxMock::download`]).
pub struct BoxMock {
    api: Mock,
    download: Mock,
    shared: Shared,
}

/// Start the stand-in on free ports.
pub fn start() -> BoxMock {
    start_at(None)
}

/// Start it with the API on `port` (the download server takes a free one).
pub fn start_on(port: u16) -> BoxMock {
    start_at(Some(port))
}

fn start_at(port: Option<u16>) -> BoxMock {
    let mut tokens = HashMap::new();
    tokens.insert(
        DEVELOPER_TOKEN.to_string(),
        Grant {
            subject: Subject::Person,
            can_write: true,
            refreshable: false,
        },
    );
    let shared = Arc::new(Mutex::new(Data {
        folders: seed::folders(),
        files: seed::files(),
        tokens,
        refresh_tokens: HashMap::new(),
        codes: HashMap::new(),
        tickets: HashMap::new(),
        download_origin: String::new(),
        grants: Vec::new(),
        throttle: (0, 0),
        expire_next: 0,
        not_ready: HashMap::new(),
        deny_next_sign_in: false,
        counter: 0,
    }));
    let downloads = Router::new()
        .route("/d/1/{ticket}/download", get(download))
        .with_state(Arc::clone(&shared));
    let download = Mock::start(downloads, None).expect("the Box download stand-in starts");
    lock(&shared).download_origin = download.url("");
    let router = Router::new()
        .route("/api/oauth2/authorize", get(oauth::authorize))
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/2.0/search", get(search))
        .route("/2.0/files/{id}", get(file_info))
        .route("/2.0/files/{id}/content", get(file_content))
        .route("/2.0/folders/{id}/items", get(folder_items))
        .route("/2.0/users/me", get(me))
        .route("/api/2.0/files/content", post(upload))
        .with_state(Arc::clone(&shared));
    let api = Mock::start(router, port).expect("the Box stand-in starts");
    BoxMock {
        api,
        download,
        shared,
    }
}

impl Deref for BoxMock {
    type Target = Mock;
    fn deref(&self) -> &Mock {
        &self.api
    }
}

impl BoxMock {
    /// The connector's `api_url`.
    pub fn api_url(&self) -> String {
        self.api.url("/2.0")
    }
    /// The connector's `upload_url`.
    pub fn upload_url(&self) -> String {
        self.api.url("/api/2.0")
    }
    /// The connector's `auth_url` (where `/authorize` is).
    pub fn auth_url(&self) -> String {
        self.api.url("/api/oauth2")
    }
    /// The connector's `token_url`.
    pub fn token_url(&self) -> String {
        self.api.url("/oauth2/token")
    }
    /// The download server (another origin), with what it saw.
    pub fn download(&self) -> &Mock {
        &self.download
    }
    /// The requests the download server received.
    pub fn download_seen(&self) -> Vec<Seen> {
        self.download.seen()
    }
    /// Answer the next `n` API or upload requests `429` with `Retry-After: seconds`.
    pub fn throttle(&self, n: usize, seconds: u64) {
        lock(&self.shared).throttle = (n, seconds);
    }
    /// Revoke the token of the next API request and refuse it (`401`), as an expired one.
    pub fn expire_next_token(&self) {
        self.expire_tokens(1);
    }
    /// The same for each of the next `n` API requests.
    pub fn expire_tokens(&self, n: usize) {
        lock(&self.shared).expire_next = n;
    }
    /// Answer the next `times` downloads of `file_id` `202` + `Retry-After: seconds`.
    pub fn not_ready(&self, file_id: &str, times: usize, seconds: u64) {
        lock(&self.shared)
            .not_ready
            .insert(file_id.to_string(), (times, seconds));
    }
    /// The next authorize request is declined by the person (`error=access_denied`).
    pub fn deny_next_sign_in(&self) {
        lock(&self.shared).deny_next_sign_in = true;
    }
    /// The `grant_type` of every token request, oldest first.
    pub fn grants(&self) -> Vec<String> {
        lock(&self.shared).grants.clone()
    }
    /// A file as the stand-in holds it now (uploads included).
    pub fn file(&self, id: &str) -> Option<File> {
        lock(&self.shared).files.get(id).cloned()
    }
    /// The file named `name` in folder `parent`.
    pub fn file_named(&self, parent: &str, name: &str) -> Option<File> {
        lock(&self.shared)
            .files
            .values()
            .find(|f| f.parent == parent && f.name == name)
            .cloned()
    }
}

/// A Box error body with its status.
fn box_error(status: StatusCode, code: &str, message: &str) -> Response {
    box_error_with(status, code, message, Value::Null)
}

fn box_error_with(status: StatusCode, code: &str, message: &str, context: Value) -> Response {
    let mut body = json!({
        "type": "error",
        "status": status.as_u16(),
        "code": code,
        "message": message,
        "help_url": "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/",
        "request_id": format!("req{:x}", status.as_u16() as u64 * 7919),
    });
    if !context.is_null() {
        body["context_info"] = context;
    }
    (status, axum::Json(body)).into_response()
}

/// Throttling first (Box counts every request), then the bearer token.
fn gate(data: &mut Data, headers: &HeaderMap) -> Result<Grant, Box<Response>> {
    if data.throttle.0 > 0 {
        data.throttle.0 -= 1;
        let mut response = box_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "Request rate limit exceeded, please try again later",
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            data.throttle.1.to_string().parse().expect("a header value"),
        );
        return Err(Box::new(response));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let refused = || {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"Service\", error=\"invalid_token\", error_description=\"The access token provided is invalid.\"",
            )],
        )
            .into_response()
    };
    let Some(grant) = data.tokens.get(&token).cloned() else {
        return Err(Box::new(refused()));
    };
    if data.expire_next > 0 {
        data.expire_next -= 1;
        data.tokens.remove(&token);
        return Err(Box::new(refused()));
    }
    Ok(grant)
}

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

fn file_json(data: &Data, file: &File) -> Value {
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
async fn search(
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

fn not_found() -> Response {
    box_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "Could not find the specified resource",
    )
}

/// `GET /2.0/files/{id}`.
async fn file_info(
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
async fn file_content(
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
async fn download(State(shared): State<Shared>, Path(ticket): Path<String>) -> Response {
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
async fn folder_items(
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
async fn me(State(shared): State<Shared>, headers: HeaderMap) -> Response {
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
async fn upload(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
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
