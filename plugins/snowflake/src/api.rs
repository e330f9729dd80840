//! Sending one request to Snowflake's REST endpoints: the headers every request carries
//! (the credential, its token type, `Accept`, the client's `User-Agent`), and trying again
//! the way the SQL API documents it.
//!
//! plugin-http's [`Client`] sends each try (with no retries of its own); the loop here owns
//! them because the SQL API makes a statement safe to resubmit only through its `requestId`:
//! every try of one statement carries the same `requestId` and every try after the first adds
//! `retry=true`, which a client whose retries resend the same URL cannot do. So: a `429`, or a
//! `503` / `502` / `504` or failed connection, waits for its `Retry-After` (or a backoff)
//! within a budget, reporting the wait as progress and stopping when the call is cancelled;
//! a `401` gets one new JWT and one more try (a programmatic access token cannot be renewed:
//! the `401` is answered).

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use switchboard_plugin_api::Call;
use switchboard_plugin_http::retry::{Retry, retry_after};
use switchboard_plugin_http::{Client, HttpError, Request, Response};
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
    retry: Retry,
}

impl Api {
    /// Endpoints under `base`, authenticated by `auth`.
    pub fn new(base: String, auth: Auth) -> Self {
        let agent = format!("switchboard-snowflake/{}", env!("CARGO_PKG_VERSION"));
        Self {
            client: Client::new(&agent).retry(Retry::never()),
            base,
            auth,
            retry: Retry::default(),
        }
    }

    /// Try with `retry` instead (tests shorten the waits).
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
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
    /// Snowflake after the call was cancelled). A `401` comes back as [`Error::Refused`].
    pub fn send(&self, target: &Target, call: Option<&Call>) -> Result<Response, Error> {
        let stopped = || call.is_some_and(Call::is_cancelled);
        let mut failures = 0u32;
        let mut waited = Duration::ZERO;
        let mut renewed = false;
        let mut tries = 0u32;
        loop {
            let authorization = self.auth.header()?;
            let request = self.request(target, tries > 0, &authorization)?;
            tries += 1;
            let (why, answer) = match self.client.send(&request, &stopped) {
                Ok(response) if response.status() == 401 => {
                    if !renewed && self.auth.renew(&authorization)? {
                        renewed = true;
                        continue;
                    }
                    return Err(self.refused(&response));
                }
                Ok(response) if matches!(response.status(), 429 | 502 | 503 | 504) => {
                    (response.status().to_string(), Ok(response))
                }
                Ok(response) => return Ok(response),
                Err(error @ HttpError::Unreachable { .. }) => ("no answer".to_string(), Err(error)),
                Err(other) => return Err(other.into()),
            };
            failures += 1;
            let said = answer
                .as_ref()
                .ok()
                .and_then(|r| r.header("retry-after"))
                .and_then(|v| retry_after(v, SystemTime::now()));
            let wait = said.unwrap_or_else(|| self.retry.backoff(failures));
            if failures >= self.retry.attempts || waited + wait > self.retry.max_wait {
                return Err(match answer {
                    Ok(response) if response.status() == 429 => Error::Throttled(format!(
                        "{} answered 429 {failures} times",
                        request.shown()
                    )),
                    Ok(response) => unavailable(&response),
                    Err(error) => error.into(),
                });
            }
            if let Some(call) = call {
                call.progress(
                    f64::from(failures),
                    None,
                    &format!(
                        "Snowflake answered {why}: trying again in {} s",
                        wait.as_secs_f64().ceil()
                    ),
                );
            }
            sleep_unless(wait, &stopped)?;
            waited += wait;
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
