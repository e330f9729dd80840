//! A stand-in for Snowflake's SQL API v2 and Cortex Search REST API, serving the wire format
//! of their reference for what the Snowflake connector calls.
//!
//! SQL API (`{url}/api/v2/statements`):
//! - `POST /api/v2/statements?requestId=<uuid>[&retry=true][&async=true]` with the JSON body
//!   (`statement`, `timeout`, `database`, `schema`, `warehouse`, `role`, `bindings`):
//!   `200` with a `ResultSet` (`resultSetMetaData` {`numRows`, `format: jsonv2`, `rowType`,
//!   `partitionInfo`}, `data` of strings or null, `statementHandle`, `statementStatusUrl`,
//!   `code 090001`), split into partitions of [`seed::PARTITION_ROWS`] rows; `202` (`code
//!   333334`) for a statement holding `SYSTEM$WAIT` (or with `async=true`), done after
//!   [`SnowflakeMock::slow_polls`] polls; `422` `QueryFailureStatus` (`code`, `message`,
//!   `sqlState`) for what fails, a second statement included (`000008`, as with
//!   `MULTI_STATEMENT_COUNT` 1). A resubmission with the same `requestId` and `retry=true`
//!   answers the first submission's result without running it again.
//! - `GET /api/v2/statements/{handle}[?partition=N]`: the status (`202` while running, the
//!   result, or the failure; `422` `000604` once cancelled) or a later partition (`data`
//!   only); `404` for an unknown handle.
//! - `POST /api/v2/statements/{handle}/cancel`.
//!
//! Cortex Search: `POST /api/v2/databases/{db}/schemas/{schema}/cortex-search-services/
//! {service}:query` with `{query, columns, limit}` → `{results: [{<column>: value}],
//! request_id}`, over the seeded `DOCUMENTS` table; `400` for a bad body, `404` for another
//! service.
//!
//! Every endpoint needs `Authorization: Bearer` and `X-Snowflake-Authorization-Token-Type`:
//! the fixed programmatic access token [`PAT`], or a key-pair JWT of a key registered with
//! [`SnowflakeMock::register_key`] ([`auth`]), and a `User-Agent`. Switches: throttle the
//! next requests (`429` + `Retry-After`), refuse the next credential (`401`, Snowflake's
//! error body), slow statements. The seed ([`seed`]) is documented there.

mod auth;
mod cortex;
pub mod seed;
mod sql;

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::serve::Mock;
use seed::{Column, Database, PARTITION_ROWS};
use sql::{Outcome, Session};

/// The account identifier.
pub const ACCOUNT: &str = "testorg-test";
/// The user the fixed credential signs in as.
pub const USER: &str = "SWITCHBOARD";
/// The programmatic access token the stand-in always accepts (until a test refuses it).
pub const PAT: &str = "snowflake-test-pat";
/// The user's default role and warehouse.
pub const ROLE: &str = "ANALYST";
pub const WAREHOUSE: &str = "COMPUTE_WH";
/// Where the documents and the search service live.
pub const DATABASE: &str = "SWITCHBOARD_DB";
pub const SCHEMA: &str = "PUBLIC";
/// The Cortex Search service over `DOCUMENTS`.
pub const SEARCH_SERVICE: &str = "DOCS_SEARCH";

/// A statement as it was submitted (after its credential was taken).
#[derive(Clone, Debug)]
pub struct Submitted {
    pub request_id: Option<String>,
    pub retry: bool,
    pub body: Value,
    pub user_agent: Option<String>,
    pub accept: Option<String>,
    pub token_type: Option<String>,
    /// Whether it ran (`false`: a resubmission answered from the first).
    pub ran: bool,
}

struct Stored {
    columns: Vec<Column>,
    rows: Vec<Vec<Option<String>>>,
    polls_left: u32,
    cancelled: bool,
    request_id: String,
}

#[derive(Default)]
struct Data {
    catalog: Vec<Database>,
    keys: HashMap<String, auth::Registered>,
    throttle: (u32, u64),
    refuse: u32,
    slow_polls: u32,
    submitted: Vec<Submitted>,
    results: HashMap<String, Stored>,
    by_request: HashMap<String, String>,
    cancelled: Vec<String>,
    refusals: Vec<String>,
    searches: Vec<Value>,
    next: u64,
}

type Shared = Arc<Mutex<Data>>;

fn lock(data: &Shared) -> MutexGuard<'_, Data> {
    data.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running stand-in.
pub struct SnowflakeMock {
    mock: Mock,
    data: Shared,
}

impl Deref for SnowflakeMock {
    type Target = Mock;
    fn deref(&self) -> &Mock {
        &self.mock
    }
}

/// Start it on a free port.
pub fn start() -> SnowflakeMock {
    start_at(None)
}

/// Start it on `port`.
pub fn start_on(port: u16) -> SnowflakeMock {
    start_at(Some(port))
}

fn start_at(port: Option<u16>) -> SnowflakeMock {
    let data: Shared = Arc::new(Mutex::new(Data {
        catalog: seed::catalog(),
        slow_polls: 2,
        ..Data::default()
    }));
    let router = Router::new()
        .route("/api/v2/statements", post(submit))
        .route("/api/v2/statements/{handle}", get(status))
        .route("/api/v2/statements/{handle}/cancel", post(cancel))
        .route(
            "/api/v2/databases/{db}/schemas/{schema}/cortex-search-services/{service}",
            post(cortex::query),
        )
        .with_state(Arc::clone(&data));
    let mock = match Mock::start(router, port) {
        Ok(mock) => mock,
        Err(e) => panic!("the Snowflake stand-in could not start: {e}"),
    };
    SnowflakeMock { mock, data }
}

impl SnowflakeMock {
    /// The connector's `api_url` (and `auth_url`).
    pub fn api_url(&self) -> String {
        self.mock.url("")
    }

    /// Register `public_key_pem` for `user` (`ALTER USER … SET RSA_PUBLIC_KEY`); returns its
    /// fingerprint as `DESC USER` shows it.
    pub fn register_key(&self, user: &str, public_key_pem: &str) -> String {
        let registered = match auth::register(public_key_pem) {
            Ok(registered) => registered,
            Err(e) => panic!("register_key: {e}"),
        };
        let fingerprint = registered.fingerprint.clone();
        lock(&self.data)
            .keys
            .insert(user.to_uppercase(), registered);
        fingerprint
    }

    /// Answer the next `count` requests `429` with `Retry-After: seconds`.
    pub fn throttle(&self, count: u32, seconds: u64) {
        lock(&self.data).throttle = (count, seconds);
    }

    /// Refuse the credential of the next `count` requests (`401`, as for an expired one).
    pub fn refuse_next(&self, count: u32) {
        lock(&self.data).refuse = count;
    }

    /// Polls a slow statement answers `202` to before its result.
    pub fn slow_polls(&self, polls: u32) {
        lock(&self.data).slow_polls = polls;
    }

    /// Every statement submitted past the credential check, oldest first.
    pub fn submitted(&self) -> Vec<Submitted> {
        lock(&self.data).submitted.clone()
    }

    /// Handles of the statements cancelled.
    pub fn cancelled(&self) -> Vec<String> {
        lock(&self.data).cancelled.clone()
    }

    /// Why credentials were refused (for a failing test's message).
    pub fn refusals(&self) -> Vec<String> {
        lock(&self.data).refusals.clone()
    }

    /// The Cortex Search bodies received.
    pub fn searches(&self) -> Vec<Value> {
        lock(&self.data).searches.clone()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

/// The switches and the credential, before any endpoint.
fn gate(data: &mut Data, headers: &HeaderMap) -> Option<Response> {
    if data.throttle.0 > 0 {
        data.throttle.0 -= 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "000429",
            "Too many requests. Please retry after some time.",
        );
        if let Ok(value) = data.throttle.1.to_string().parse() {
            response.headers_mut().insert("retry-after", value);
        }
        return Some(response);
    }
    if headers.get("user-agent").is_none() {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "391903",
            "User-Agent header is required.",
        ));
    }
    let refused = match auth::identify(headers, PAT, ACCOUNT, &data.keys) {
        Ok(_) if data.refuse > 0 => {
            data.refuse -= 1;
            Some((
                if headers
                    .get("x-snowflake-authorization-token-type")
                    .is_some_and(|v| v == "KEYPAIR_JWT")
                {
                    ("390144", "JWT token is invalid.")
                } else {
                    ("390303", "Programmatic access token is invalid.")
                },
                "refused by the switch".to_string(),
            ))
        }
        Ok(_) => None,
        Err(refused) => Some(((refused.code, refused.message), refused.reason)),
    };
    match refused {
        None => None,
        Some(((code, message), reason)) => {
            data.refusals.push(reason);
            let id = format!("{:08x}-0000-4000-8000-000000000000", data.refusals.len());
            Some(error(
                StatusCode::UNAUTHORIZED,
                code,
                &format!("{message} [{id}]"),
            ))
        }
    }
}

fn handle_url(handle: &str) -> String {
    format!("/api/v2/statements/{handle}")
}

fn result_body(handle: &str, stored: &Stored) -> Value {
    let partitions: Vec<&[Vec<Option<String>>]> = if stored.rows.is_empty() {
        vec![&[]]
    } else {
        stored.rows.chunks(PARTITION_ROWS).collect()
    };
    json!({
        "resultSetMetaData": {
            "numRows": stored.rows.len(),
            "format": "jsonv2",
            "partitionInfo": partitions.iter().map(|p| json!({
                "rowCount": p.len(),
                "uncompressedSize": serde_json::to_string(p).map(|s| s.len()).unwrap_or(0),
            })).collect::<Vec<_>>(),
            "rowType": stored.columns.iter().map(Column::row_type).collect::<Vec<_>>(),
        },
        "data": partitions[0],
        "code": "090001",
        "statementStatusUrl": format!("{}?requestId={}", handle_url(handle), stored.request_id),
        "requestId": stored.request_id,
        "sqlState": "00000",
        "statementHandle": handle,
        "message": "Statement executed successfully.",
        "createdOn": 1_767_225_600_000u64,
    })
}

fn running(handle: &str) -> Response {
    let body = json!({
        "code": "333334",
        "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
        "statementHandle": handle,
        "statementStatusUrl": handle_url(handle),
    });
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

fn failed(handle: &str, code: &str, sql_state: &str, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "sqlState": sql_state,
        "statementHandle": handle,
        "statementStatusUrl": handle_url(handle),
    });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

async fn submit(
    State(data): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut data = lock(&data);
    if let Some(response) = gate(&mut data, &headers) {
        return response;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "391900",
            "Unable to parse the request body.",
        );
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let request_id = query.get("requestId").cloned();
    let retry = query.get("retry").is_some_and(|v| v == "true");
    let earlier = request_id
        .as_ref()
        .filter(|_| retry)
        .and_then(|id| data.by_request.get(id))
        .cloned();
    data.submitted.push(Submitted {
        request_id: request_id.clone(),
        retry,
        body: body.clone(),
        user_agent: header("user-agent"),
        accept: header("accept"),
        token_type: header("x-snowflake-authorization-token-type"),
        ran: earlier.is_none(),
    });
    if let Some(handle) = earlier {
        return answer(&mut data, &handle, true);
    }
    let Some(statement) = body["statement"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "391901", "statement is required.");
    };
    let bindings = body["bindings"].as_object().cloned().unwrap_or_default();
    let session = Session {
        user: USER,
        role: body["role"].as_str().unwrap_or(ROLE),
        warehouse: body["warehouse"].as_str().unwrap_or(WAREHOUSE),
    };
    let context = (
        body["database"].as_str().unwrap_or(DATABASE),
        body["schema"].as_str().unwrap_or(SCHEMA),
    );
    let outcome = sql::answer(&data.catalog, statement, &bindings, &session, context);
    data.next += 1;
    let handle = format!("01bd{:04x}-0000-4000-8000-{:012x}", data.next, data.next);
    let request_id = request_id.unwrap_or_else(|| format!("generated-{}", data.next));
    data.by_request.insert(request_id.clone(), handle.clone());
    let asynchronous = query.get("async").is_some_and(|v| v == "true");
    let (columns, rows, polls_left) = match outcome {
        Outcome::Fails(code, sql_state, message) => {
            return failed(&handle, code, sql_state, &message);
        }
        Outcome::Rows(columns, rows) => (columns, rows, u32::from(asynchronous)),
        Outcome::Slow(columns, rows) => (columns, rows, data.slow_polls.max(1)),
    };
    let stored = Stored {
        columns,
        rows,
        polls_left,
        cancelled: false,
        request_id,
    };
    data.results.insert(handle.clone(), stored);
    answer(&mut data, &handle, true)
}

/// The status of `handle`: running (`202`; a poll, not a submission, spends one of its
/// polls), cancelled, or done.
fn answer(data: &mut Data, handle: &str, submitting: bool) -> Response {
    let Some(stored) = data.results.get_mut(handle) else {
        return error(
            StatusCode::NOT_FOUND,
            "000709",
            &format!("Statement {handle} not found."),
        );
    };
    if stored.cancelled {
        return failed(handle, "000604", "57014", "SQL execution canceled");
    }
    if stored.polls_left > 0 {
        if !submitting {
            stored.polls_left -= 1;
        }
        if submitting || stored.polls_left > 0 {
            return running(handle);
        }
    }
    axum::Json(result_body(handle, stored)).into_response()
}

async fn status(
    State(data): State<Shared>,
    Path(handle): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut data = lock(&data);
    if let Some(response) = gate(&mut data, &headers) {
        return response;
    }
    let Some(partition) = query.get("partition") else {
        return answer(&mut data, &handle, false);
    };
    let Some(stored) = data.results.get(&handle) else {
        return error(
            StatusCode::NOT_FOUND,
            "000709",
            &format!("Statement {handle} not found."),
        );
    };
    let chunks: Vec<_> = stored.rows.chunks(PARTITION_ROWS).collect();
    match partition.parse::<usize>().ok().and_then(|n| chunks.get(n)) {
        Some(rows) => axum::Json(json!({"data": rows})).into_response(),
        None => error(
            StatusCode::BAD_REQUEST,
            "391920",
            "Invalid partition number.",
        ),
    }
}

async fn cancel(
    State(data): State<Shared>,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut data = lock(&data);
    if let Some(response) = gate(&mut data, &headers) {
        return response;
    }
    let Some(stored) = data.results.get_mut(&handle) else {
        return error(
            StatusCode::NOT_FOUND,
            "000709",
            &format!("Statement {handle} not found."),
        );
    };
    stored.cancelled = true;
    data.cancelled.push(handle.clone());
    let body = json!({"code": "000604", "sqlState": "57014", "message": "successfully canceled", "statementHandle": handle, "statementStatusUrl": handle_url(&handle)});
    axum::Json(body).into_response()
}
