//! A stand-in for Microsoft's identity platform (v2.0 endpoints) and Microsoft Graph v1.0 mail,
//! serving the wire format of their API reference for what the Outlook connector calls.
//!
//! Identity platform (`{url}/{tenant}/oauth2/v2.0/...`, [`identity`]):
//! - `POST devicecode`: a device code (RFC 8628 §3.2 as Entra answers it, `message` included);
//! - `POST token` with `grant_type` `urn:ietf:params:oauth:grant-type:device_code` (answers
//!   `authorization_pending` for as many polls as [`GraphMock::pending_polls`] says, then
//!   `slow_down`, `expired_token`, `authorization_declined` or tokens as
//!   [`GraphMock::device_outcome`] says), `client_credentials` (checks `client_secret`:
//!   `401 invalid_client` otherwise; the scope must be `{resource}/.default`) and
//!   `refresh_token` (rotates: the refresh token used stops working). Errors are Entra's JSON
//!   (`error`, `error_description` with its `AADSTS` code, `error_codes`, `trace_id`...).
//!
//! Graph (`{url}/v1.0`, [`mail`], [`outbox`], [`odata`]), each under `/me` (a person's token) and
//! `/users/{userPrincipalName}` (an app's token, or a person's own mailbox):
//! - `GET /me` with `$select`; `GET /messages` and `GET /mailFolders/{id}/messages` with
//!   `$search="<KQL>"`, `$top` (1-1000, default 10), `$select`, paged by an opaque `$skiptoken`
//!   in `@odata.nextLink`; `GET /messages/{id}` with `$select`; `GET
//!   /messages/{id}/attachments` with `$select`; `GET /mailFolders` paged the same way;
//!   `POST /messages` (a draft, `201`); `POST /sendMail` (`202`, no body).
//! - Errors as Graph gives them: `{"error": {"code", "message", "innerError"}}`: `401
//!   InvalidAuthenticationToken`, `403 ErrorAccessDenied` (a scope missing), `404
//!   ErrorItemNotFound`, `400 ErrorInvalidIdMalformed`, `400 BadRequest`, `429
//!   TooManyRequests` with `Retry-After`.
//!
//! The fixed credential that needs no sign-in: tenant [`TENANT`], client id [`CLIENT_ID`],
//! secret [`CLIENT_SECRET`], reading the mailbox [`MAILBOX`] (an app granted `Mail.Read`).
//! The seeded mailbox ([`seed`]) holds 12 messages, five of them about a **budget**, one HTML
//! message with an attachment.

mod identity;
mod mail;
mod odata;
mod outbox;
pub mod seed;

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use serde_json::Value;

use crate::serve::Mock;

/// The tenant the fixed credential belongs to.
pub const TENANT: &str = "contoso";
/// The app registration's client id (a public client for device code, and a confidential one).
pub const CLIENT_ID: &str = "switchboard-test-app";
/// The app's client secret.
pub const CLIENT_SECRET: &str = "test-secret";
/// The mailbox everything is read from (the person who signs in, and the app's target).
pub const MAILBOX: &str = "megan@contoso.example";

/// How a device sign-in ends once its pending polls are spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceOutcome {
    /// The person entered the code and consented: tokens.
    Approve,
    /// The person declined (`authorization_declined`).
    Decline,
    /// The code ran out (`expired_token`).
    Expire,
}

/// One request the token endpoint received (never the secret itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The tenant in the path.
    pub tenant: String,
    /// `grant_type`.
    pub grant_type: String,
    /// `client_id`.
    pub client_id: String,
    /// `scope`, as sent.
    pub scope: Option<String>,
    /// Whether a `client_secret` came with it.
    pub with_secret: bool,
}

/// An access token the stand-in issued.
#[derive(Clone, Debug)]
pub(crate) struct Issued {
    /// `None` for an app's token; the person's scopes otherwise.
    pub scopes: Option<Vec<String>>,
    pub expires_at: Instant,
    /// Refused from now on (the expire switch).
    pub revoked: bool,
}

/// A device code handed out and not yet redeemed.
#[derive(Clone, Debug)]
pub(crate) struct Device {
    pub scopes: Vec<String>,
    pub pending: u32,
    pub slow_down: bool,
    pub outcome: DeviceOutcome,
    pub redeemed: bool,
}

/// Everything the stand-in knows and every switch a test flips.
pub(crate) struct State {
    pub messages: Vec<seed::Message>,
    pub folders: Vec<seed::Folder>,
    pub tokens: HashMap<String, Issued>,
    /// Refresh token -> the scopes it renews.
    pub refresh: HashMap<String, Vec<String>>,
    pub devices: HashMap<String, Device>,
    /// `$skiptoken` -> the offset it stands for.
    pub skiptokens: HashMap<String, usize>,
    pub counter: u64,
    pub throttle: u32,
    pub retry_after: u64,
    pub expire_next: u32,
    pub fail_next: Option<(u16, String, String)>,
    pub pending_polls: u32,
    pub slow_down: bool,
    pub device_outcome: DeviceOutcome,
    pub device_interval: u64,
    pub token_lifetime: u64,
    pub app_roles: Vec<String>,
    pub grants: Vec<Grant>,
    pub searches: Vec<String>,
    pub sent: Vec<Value>,
    pub graph_requests: usize,
    /// Where next links point instead of the stand-in itself.
    pub next_base: Option<String>,
}

impl State {
    /// A new opaque value (tokens, codes, skip tokens).
    pub fn opaque(&mut self, what: &str) -> String {
        self.counter += 1;
        // Not a secret scheme, just values no client could guess or build.
        let mixed = self
            .counter
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17);
        format!("{what}{:x}{mixed:016x}", self.counter)
    }
}

pub(crate) struct Inner {
    state: Mutex<State>,
    arrived: Condvar,
}

pub(crate) type Shared = Arc<Inner>;

impl Inner {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count one Graph request and wake whoever waits for it.
    pub fn arrived(&self) {
        self.lock().graph_requests += 1;
        self.arrived.notify_all();
    }
}

/// A running stand-in; derefs to [`Mock`] (`url`, `seen`, `seen_at`). Stops when dropped.
pub struct GraphMock {
    mock: Mock,
    shared: Shared,
}

impl std::ops::Deref for GraphMock {
    type Target = Mock;
    fn deref(&self) -> &Mock {
        &self.mock
    }
}

/// Start the stand-in on a free loopback port. Point `auth_url` at `url("")` and `api_url` at
/// `url("/v1.0")`.
pub fn start() -> GraphMock {
    start_on(None).unwrap_or_else(|e| panic!("the Graph stand-in could not start: {e}"))
}

/// Start the stand-in on `port` (a free one when `None`).
pub fn start_on(port: Option<u16>) -> std::io::Result<GraphMock> {
    let shared = Arc::new(Inner {
        state: Mutex::new(State {
            messages: seed::messages(),
            folders: seed::folders(),
            tokens: HashMap::new(),
            refresh: HashMap::new(),
            devices: HashMap::new(),
            skiptokens: HashMap::new(),
            counter: 0,
            throttle: 0,
            retry_after: 1,
            expire_next: 0,
            fail_next: None,
            pending_polls: 0,
            slow_down: false,
            device_outcome: DeviceOutcome::Approve,
            device_interval: 5,
            token_lifetime: 3599,
            app_roles: vec!["Mail.Read".to_string(), "User.Read.All".to_string()],
            grants: Vec::new(),
            searches: Vec::new(),
            sent: Vec::new(),
            graph_requests: 0,
            next_base: None,
        }),
        arrived: Condvar::new(),
    });
    let mock = Mock::start(router(Arc::clone(&shared)), port)?;
    Ok(GraphMock { mock, shared })
}

/// The mailbox routes, once under `/v1.0/me` and once under `/v1.0/users/{user}` (not nested,
/// so a handler's `Uri` is the whole path its next links repeat).
fn router(shared: Shared) -> Router {
    let mut router = Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(identity::devicecode),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(identity::token));
    for root in ["/v1.0/me", "/v1.0/users/{user}"] {
        router = router
            .route(root, get(mail::profile))
            .route(
                &format!("{root}/messages"),
                get(mail::list_messages).post(outbox::create_draft),
            )
            .route(&format!("{root}/messages/{{id}}"), get(mail::get_message))
            .route(
                &format!("{root}/messages/{{id}}/attachments"),
                get(mail::list_attachments),
            )
            .route(&format!("{root}/mailFolders"), get(mail::list_folders))
            .route(
                &format!("{root}/mailFolders/{{folder}}/messages"),
                get(mail::list_messages),
            )
            .route(&format!("{root}/sendMail"), post(outbox::send_mail));
    }
    router.with_state(shared)
}

impl GraphMock {
    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Answer the next `n` Graph requests `429 TooManyRequests` with `Retry-After: seconds`.
    pub fn throttle(&self, n: u32, seconds: u64) {
        let mut state = self.state();
        state.throttle = n;
        state.retry_after = seconds;
    }

    /// Refuse the token of the next `n` Graph requests as expired (`401
    /// InvalidAuthenticationToken`), and that token from then on, as the service does once a
    /// token's lifetime is over.
    pub fn expire_next(&self, n: u32) {
        self.state().expire_next = n;
    }

    /// Answer the next Graph request with `status` and Graph's error body of `code` and
    /// `message`.
    pub fn fail_next(&self, status: u16, code: &str, message: &str) {
        self.state().fail_next = Some((status, code.to_string(), message.to_string()));
    }

    /// How many polls of a device code answer `authorization_pending` before its outcome
    /// (for codes handed out from now on).
    pub fn pending_polls(&self, n: u32) {
        self.state().pending_polls = n;
    }

    /// Answer one poll of each new device code `slow_down` first.
    pub fn slow_down_once(&self) {
        self.state().slow_down = true;
    }

    /// How device sign-ins end (for codes handed out from now on).
    pub fn device_outcome(&self, outcome: DeviceOutcome) {
        self.state().device_outcome = outcome;
    }

    /// The polling interval new device codes ask for, in seconds (Entra says 5).
    pub fn device_interval(&self, seconds: u64) {
        self.state().device_interval = seconds;
    }

    /// The lifetime of tokens issued from now on (`expires_in`), in seconds.
    pub fn token_lifetime(&self, seconds: u64) {
        self.state().token_lifetime = seconds;
    }

    /// The application permissions the app's tokens carry (default `Mail.Read`,
    /// `User.Read.All`).
    pub fn app_roles(&self, roles: &[&str]) {
        self.state().app_roles = roles.iter().map(|r| (*r).to_string()).collect();
    }

    /// Link next pages to `base` (`http://elsewhere.example`) instead of the stand-in, as a
    /// misbehaving proxy or service could.
    pub fn next_links_to(&self, base: &str) {
        self.state().next_base = Some(base.to_string());
    }

    /// Make every refresh token stop working (the person revoked the app's consent).
    pub fn revoke_refresh_tokens(&self) {
        self.state().refresh.clear();
    }

    /// Every access and refresh token issued and still valid (for tests that check a token is
    /// nowhere it should not be).
    pub fn issued_tokens(&self) -> Vec<String> {
        let state = self.state();
        state
            .tokens
            .keys()
            .chain(state.refresh.keys())
            .cloned()
            .collect()
    }

    /// What the token endpoint received, oldest first.
    pub fn grants(&self) -> Vec<Grant> {
        self.state().grants.clone()
    }

    /// The `$search` strings received, as Graph read them (quotes and escapes removed).
    pub fn searches(&self) -> Vec<String> {
        self.state().searches.clone()
    }

    /// The `sendMail` bodies received.
    pub fn sent(&self) -> Vec<Value> {
        self.state().sent.clone()
    }

    /// The messages of the mailbox now (seeded, plus drafts created).
    pub fn messages(&self) -> Vec<seed::Message> {
        self.state().messages.clone()
    }

    /// How many Graph (not identity) requests arrived.
    pub fn graph_requests(&self) -> usize {
        self.state().graph_requests
    }

    /// Wait until at least `n` Graph requests have arrived, at most `limit`; `false` if not.
    pub fn wait_for_graph_requests(&self, n: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut state = self.state();
        while state.graph_requests < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .arrived
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}
