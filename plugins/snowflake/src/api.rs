//! Sending one request to Snowflake's REST endpoints: the headers every request carries
//! (the credential, its token type, `Accept`, the client's `User-Agent`), and trying again
//! the way the SQL API documents it.
//!
//! plugin-http's [`Client`] owns the tries: a `429`, or a `503` / `502` / `504` or failed
//! connection, waits for its `Retry-After` (or a backoff) within a budget, stopping when the
//! call is cancelled. Every request is marked repeatable: a statement is safe to resubmit
//! through its `requestId`, and the rest read or cancel. What is Snowflake's own is said to
//! the client through [`Client::send_with`]: every try of one statement carries the same
//! `requestId` and every try after the first adds `retry=true`, and each wait is reported to
//! the call as progress. A `401` gets one new JWT and one more try, here, since the
//! credential's failures are the connector's own errors (a programmatic access token cannot
//! be renewed: the `401` is answered).

use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_plugin_api::Call;
use switchboard_plugin_http::retry::Retry;
use switchboard_plugin_http::{Client, Request, Response, Wait};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::Error;
use crate::wire::Status;

/// How one wait sleeps before it looks at the cancellation again.
const WAKE: Duration = Duration::from_millis(25);

/// One request, before the headers and the try's query are added.
pub struct Target {
    post: bool,
    /// The path (and query) below the base URL.
    path: String,
    body: Option<Value>,
    /// The SQL API's `requestId`, for a statement.
    request_id: Option<Uuid>,
}

impl Target {
    /// A `GET` of `path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            post: false,
            path: path.into(),
            body: None,
            request_id: None,
        }
    }

    /// A `POST` of `body` to `path`.
    pub fn post(path: impl Into<String>, body: Option<Value>) -> Self {
        Self {
            post: true,
            path: path.into(),
            body,
            request_id: None,
        }
    }

    /// Carry a new `requestId` (a statement's submission).
    pub fn with_request_id(mut self) -> Self {
        self.request_id = Some(Uuid::new_v4());
        self
    }
}

/// The REST endpoints of one account.
pub struct Api {
    client: Client,
    base: String,
    auth: Auth,
}

impl Api {
    /// Endpoints under `base`, authenticated by `auth`.
    pub fn new(base: String, auth: Auth) -> Self {
        let agent = format!("switchboard-snowflake/{}", env!("CARGO_PKG_VERSION"));
        Self {
            client: Client::new(&agent),
            base,
            auth,
        }
    }

    /// Try with `retry` instead (tests shorten the waits).
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.client = self.client.retry(retry);
        self
    }

    /// The credential.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Send `target` until it has an answer to give back. `call` is the request being
    /// served: its cancellation stops the tries and waits, and waits are reported to it as
    /// progress. `None` sends regardless (a cancellation of a statement that must reach
    /// Snowflake after the call was cancelled). A `401` comes back as [`Error::Refused`], a
    /// last `429` as [`Error::Throttled`], a last `502`/`503`/`504` as unavailable.
    pub fn send(&self, target: &Target, call: Option<&Call>) -> Result<Response, Error> {
        let stopped = || call.is_some_and(Call::is_cancelled);
        let mut renewed = false;
        let mut resubmitting = false;
        loop {
            let authorization = self.auth.header()?;
            let request = self.request(target, resubmitting, &authorization)?;
            let resubmission = self.request(target, true, &authorization)?;
            let again = |_: &Request, wait: &Wait| {
                if let Some(call) = call {
                    let what = if wait.why.parse::<u16>().is_ok() {
                        format!("Snowflake answered {}", wait.why)
                    } else {
                        "Snowflake did not answer".to_string()
                    };
                    call.progress(
                        f64::from(wait.attempt),
                        None,
                        &format!(
                            "{what}: trying again in {} s",
                            wait.wait.as_secs_f64().ceil()
                        ),
                    );
                }
                resubmission.clone()
            };
            let response = self.client.send_with(&request, &again, &stopped)?;
            match response.status() {
                401 if !renewed && self.auth.renew(&authorization)? => {
                    renewed = true;
                    resubmitting = true;
                }
                401 => return Err(self.refused(&response)),
                429 => {
                    return Err(Error::Throttled(format!(
                        "{} still answered 429 after the waits it asked for",
                        request.shown()
                    )));
                }
                502..=504 => return Err(unavailable(&response)),
                _ => return Ok(response),
            }
        }
    }

    fn request(
        &self,
        target: &Target,
        retrying: bool,
        authorization: &str,
    ) -> Result<Request, Error> {
        let mut url = format!("{}{}", self.base, target.path);
        if let Some(id) = target.request_id {
            let join = if url.contains('?') { '&' } else { '?' };
            url.push_str(&format!("{join}requestId={id}"));
            if retrying {
                url.push_str("&retry=true");
            }
        }
        let request = if target.post {
            Request::post(url)
        } else {
            Request::get(url)
        };
        let request = request
            .repeatable()
            .header("authorization", authorization)
            .header(
                "x-snowflake-authorization-token-type",
                self.auth.token_type(),
            )
            .header("accept", "application/json");
        match &target.body {
            Some(body) => Ok(request.json(body)?),
            None => Ok(request),
        }
    }

    fn refused(&self, response: &Response) -> Error {
        let said: Status = response.json().unwrap_or_default();
        Error::Refused {
            what: self.auth.what(),
            status: response.status(),
            code: said.code,
            message: said.message,
            todo: self.auth.refused_todo(),
        }
    }
}

/// A last `503`/`502`/`504`, in words.
fn unavailable(response: &Response) -> Error {
    let said: Status = response.json().unwrap_or_default();
    Error::Answer(format!(
        "Snowflake is unavailable (answered {}{}): try again later",
        response.status(),
        said.message.map(|m| format!(": {m}")).unwrap_or_default()
    ))
}

/// Sleep `wait`, looking at `stopped` every [`WAKE`].
pub fn sleep_unless(wait: Duration, stopped: &dyn Fn() -> bool) -> Result<(), Error> {
    let until = Instant::now() + wait;
    loop {
        if stopped() {
            return Err(Error::Cancelled);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(WAKE));
    }
}
