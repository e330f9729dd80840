//! Calling Box's API: one request sent through the session's client (retried on `429` after
//! its `Retry-After`, the token renewed once on a `401`, stopped by the call's
//! cancellation), its answer read as JSON or turned into a [`Failure`]; the checks every id
//! passes before it becomes part of a URL; and the cancellable wait the connector's own
//! retries use.

use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;
use switchboard_plugin_api::Call;
use switchboard_plugin_http::retry::retry_after;
use switchboard_plugin_http::{Request, Response};

use crate::auth::Session;
use crate::config::Config;
use crate::error::Failure;

/// The settings and the session of one call.
pub struct Api<'a> {
    /// The settings.
    pub config: &'a Config,
    /// How requests are authorized.
    pub session: &'a Session,
}

impl Api<'_> {
    /// Send `request` for `what` ("searching Box"); any status is an answer.
    pub fn send(&self, request: &Request, what: &str, call: &Call) -> Result<Response, Failure> {
        self.session
            .client
            .send(request, &|| call.is_cancelled())
            .map_err(|e| Failure::from_http(what, e, self.session.method))
    }

    /// `GET url` and read a `2xx` answer's JSON as `T`.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
        call: &Call,
    ) -> Result<T, Failure> {
        let request = Request::get(url).header("accept", "application/json");
        let response = self.send(&request, what, call)?;
        if !(200..300).contains(&response.status()) {
            return Err(self.refused(what, &response));
        }
        read_json(what, response.body())
    }

    /// The failure Box's answer `response` means.
    pub fn refused(&self, what: &str, response: &Response) -> Failure {
        let wait = response
            .header("retry-after")
            .and_then(|v| retry_after(v, SystemTime::now()));
        Failure::answered(
            what,
            response.status(),
            response.body(),
            wait,
            self.session.method,
        )
    }
}

/// A `2xx` body as `T`.
pub fn read_json<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        Failure::Failed(format!(
            "{what}: Box's answer is not the JSON expected ({e}); check that api_url points at Box's API"
        ))
    })
}

/// `?k=v&…`, each value encoded (what the person typed cannot add a parameter).
pub fn query(pairs: &[(&str, &str)]) -> String {
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("?{encoded}")
}

/// Refuse an id that is not a Box id (digits only) before it goes into a URL: no path
/// (`../`), query (`?`, `&`) or anything else can ride along.
pub fn check_id(id: &str, what: &str) -> Result<(), Failure> {
    if !id.is_empty() && id.len() <= 24 && id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    let shown: String = id.chars().take(40).collect();
    let more = if id.chars().count() > 40 { "…" } else { "" };
    Err(Failure::Invalid(format!(
        "{shown:?}{more} is not a Box {what} id: Box ids are digits only, as search_files and \
         list_folder give them"
    )))
}

/// Sleep `wait`, waking every 25 ms to see whether the call was cancelled.
pub fn pause(wait: Duration, call: &Call) -> Result<(), Failure> {
    let until = Instant::now() + wait;
    loop {
        if call.is_cancelled() {
            return Err(Failure::Cancelled);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(25)));
    }
}
