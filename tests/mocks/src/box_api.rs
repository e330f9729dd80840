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
//! [`SUBJECT_ID`]. Seeded with ten files in five folders ([`seed`]), seven mentioning "budget".

mod items;
pub mod oauth;
pub mod seed;
mod upload;

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
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
        .route("/d/1/{ticket}/download", get(items::download))
        .with_state(Arc::clone(&shared));
    let download = Mock::start(downloads, None).expect("the Box download stand-in starts");
    lock(&shared).download_origin = download.url("");
    let router = Router::new()
        .route("/api/oauth2/authorize", get(oauth::authorize))
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/2.0/search", get(items::search))
        .route("/2.0/files/{id}", get(items::file_info))
        .route("/2.0/files/{id}/content", get(items::file_content))
        .route("/2.0/folders/{id}/items", get(items::folder_items))
        .route("/2.0/users/me", get(items::me))
        .route("/api/2.0/files/content", post(upload::upload))
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
