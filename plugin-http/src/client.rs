//! The client: a request, its answer, and sending it with the retries of [`crate::retry`],
//! waits a call's cancellation cuts short, and an [`Auth`] asked for a new token once when
//! the server refuses the one it gave (`401`).
//!
//! Every status comes back as a [`Response`]: a connector reads a `400`'s JSON as often as a
//! `200`'s (an OAuth token endpoint says `authorization_pending` that way).
//! [`Response::success`] turns anything but `2xx` into an [`HttpError`] that says what the
//! server answered and, for a `429`, when to come back.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::config::RedirectAuthHeaders;
use ureq::http;

use crate::error::HttpError;
use crate::retry::{Retry, retry_after, retryable_status};

/// The largest answer read, in bytes; a larger one is an error, not a truncated body.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;

/// How long one wait sleeps before it looks at the cancellation again.
const WAKE: Duration = Duration::from_millis(25);

/// A request to send.
#[derive(Clone, Debug)]
pub struct Request {
    method: http::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    repeatable: bool,
    /// This request's own limit, instead of the client's.
    timeout: Option<Duration>,
}

impl Request {
    fn new(method: http::Method, url: impl Into<String>) -> Self {
        let repeatable = matches!(
            method,
            http::Method::GET
                | http::Method::HEAD
                | http::Method::PUT
                | http::Method::DELETE
                | http::Method::OPTIONS
        );
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            repeatable,
            timeout: None,
        }
    }

    /// A `GET`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(http::Method::GET, url)
    }

    /// A `POST`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(http::Method::POST, url)
    }

    /// A `PUT`.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(http::Method::PUT, url)
    }

    /// A `PATCH`.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new(http::Method::PATCH, url)
    }

    /// A `DELETE`.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(http::Method::DELETE, url)
    }

    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A body of `bytes` as they are, of type `content_type` (a multipart upload's
    /// `multipart/form-data; boundary=…`). The body and its type go together: a
    /// `content-type` header set before is replaced. [`Request::json`] and [`Request::form`]
    /// come here too.
    pub fn body(mut self, bytes: Vec<u8>, content_type: impl Into<String>) -> Self {
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        self.body = Some(bytes);
        self.header("content-type", content_type)
    }

    /// A JSON body.
    pub fn json(self, value: &impl Serialize) -> Result<Self, HttpError> {
        let body = serde_json::to_vec(value).map_err(|e| HttpError::Invalid {
            request: self.shown(),
            message: format!("the body cannot be written as JSON: {e}"),
        })?;
        Ok(self.body(body, "application/json"))
    }

    /// A form body (`application/x-www-form-urlencoded`), as token endpoints take.
    pub fn form(self, fields: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.body(body.into_bytes(), "application/x-www-form-urlencoded")
    }

    /// Mark a request whose method does not say so (a `POST` that searches) as safe to send
    /// again after a failure.
    pub fn repeatable(mut self) -> Self {
        self.repeatable = true;
        self
    }

    /// Give this request `limit` to finish instead of the client's 30 s (an upload of many
    /// megabytes).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The same request to another URL (the next page of a listing).
    pub fn to(&self, url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..self.clone()
        }
    }

    /// Where it goes.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How it is shown in messages: the method and the URL without its query, which may
    /// carry what the person typed.
    pub fn shown(&self) -> String {
        let url = self.url.split(['?', '#']).next().unwrap_or_default();
        format!("{} {url}", self.method)
    }
}

/// An answer, read whole.
#[derive(Clone, Debug)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    request: String,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body's bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text.
    pub fn text(&self) -> Result<&str, HttpError> {
        std::str::from_utf8(&self.body).map_err(|e| HttpError::Decode {
            request: self.request.clone(),
            message: format!("the body is not UTF-8 text: {e}"),
        })
    }

    /// The body parsed as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError::Decode {
            request: self.request.clone(),
            message: format!("the body is not the JSON expected: {e}"),
        })
    }

    /// This answer if its status is `2xx`, else an error saying what the server answered.
    pub fn success(self) -> Result<Self, HttpError> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let retry_after = self
            .header("retry-after")
            .and_then(|v| retry_after(v, SystemTime::now()));
        Err(HttpError::Status {
            request: self.request.clone(),
            status: self.status,
            retry_after,
            detail: excerpt(&self.body),
        })
    }
}

/// The start of a body for a message: one line, at most 300 characters.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// Where a client gets its `Authorization` header, and a new one when the server refuses it.
pub trait Auth: Send + Sync {
    /// The header's value to send now (`Bearer …`).
    fn authorization(&self) -> Result<String, HttpError>;

    /// The server answered `401` to `rejected`: get a new value if there is a way (a refresh
    /// token); `true` when there is one to try. Asked once per request.
    fn refresh(&self, rejected: &str) -> Result<bool, HttpError>;
}

/// One wait between two tries, as [`Client::on_wait`] sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    /// The request, as [`Request::shown`] gives it.
    pub request: String,
    /// Why: the status (`429`) or the failure.
    pub why: String,
    /// How long.
    pub wait: Duration,
    /// The try that failed (1 for the first).
    pub attempt: u32,
}

type OnWait = Arc<dyn Fn(&Wait) + Send + Sync>;

/// An HTTP client for one connector: a pool of connections, its retry policy and its
/// authorization.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    retry: Retry,
    auth: Option<Arc<dyn Auth>>,
    on_wait: Option<OnWait>,
}

impl Client {
    /// A client that says it is `user_agent` (`switchboard-outlook/0.1.0`), with the default
    /// [`Retry`], a 30 s limit per request and no authorization.
    pub fn new(user_agent: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect never carries the token: Box sends a download to another host, and
            // a token meant for the API must not reach it (nor any host a server names).
            .redirect_auth_headers(RedirectAuthHeaders::Never)
            .user_agent(user_agent)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Self {
            agent,
            retry: Retry::default(),
            auth: None,
            on_wait: None,
        }
    }

    /// Retry with `retry` instead.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Send `auth`'s `Authorization` header with every request.
    pub fn auth(mut self, auth: Arc<dyn Auth>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Tell `on_wait` before each wait between two tries (for a log line or a progress note).
    pub fn on_wait(mut self, on_wait: impl Fn(&Wait) + Send + Sync + 'static) -> Self {
        self.on_wait = Some(Arc::new(on_wait));
        self
    }

    /// Send `request`, trying again as [`crate::retry`] says, until it has an answer to give
    /// back, `stopped` says the caller gave up ([`HttpError::Cancelled`]), or the tries are
    /// spent. Any status is an answer; see [`Response::success`].
    pub fn send(
        &self,
        request: &Request,
        stopped: &dyn Fn() -> bool,
    ) -> Result<Response, HttpError> {
        self.send_with(request, &|request, _| request.clone(), stopped)
    }

    /// [`Client::send`], where a try after a wait need not be the same request: `again` is
    /// given the request last sent and the wait about to begin, and answers the request to
    /// send after it (Snowflake's SQL API wants `retry=true` on a resubmission). It is asked
    /// before the wait, so a caller may also report the wait to its own caller. A request
    /// refused with a `401` is sent again as it was, with the renewed authorization.
    pub fn send_with(
        &self,
        request: &Request,
        again: &dyn Fn(&Request, &Wait) -> Request,
        stopped: &dyn Fn() -> bool,
    ) -> Result<Response, HttpError> {
        let mut request = request.clone();
        let mut failures = 0u32;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        loop {
            if stopped() {
                return Err(HttpError::Cancelled);
            }
            let authorization = match &self.auth {
                Some(auth) => Some(auth.authorization()?),
                None => None,
            };
            let (why, wait, failed) = match self.once(&request, authorization.as_deref()) {
                Ok(response) => {
                    if response.status == 401
                        && !refreshed
                        && let (Some(auth), Some(rejected)) = (&self.auth, &authorization)
                    {
                        refreshed = true;
                        if auth.refresh(rejected)? {
                            continue;
                        }
                    }
                    let said = response
                        .header("retry-after")
                        .and_then(|v| retry_after(v, SystemTime::now()));
                    if !retryable_status(response.status, request.repeatable, said.is_some()) {
                        return Ok(response);
                    }
                    failures += 1;
                    let wait = said.unwrap_or_else(|| self.retry.backoff(failures));
                    (response.status.to_string(), wait, Ok(response))
                }
                Err(error) if request.repeatable => {
                    failures += 1;
                    let wait = self.retry.backoff(failures);
                    (error.to_string(), wait, Err(error))
                }
                Err(error) => return Err(error),
            };
            if failures >= self.retry.attempts || waited + wait > self.retry.max_wait {
                return failed;
            }
            let told = Wait {
                request: request.shown(),
                why,
                wait,
                attempt: failures,
            };
            if let Some(on_wait) = &self.on_wait {
                on_wait(&told);
            }
            request = again(&request, &told);
            sleep_unless(wait, stopped)?;
            waited += wait;
        }
    }

    /// One try.
    fn once(&self, request: &Request, authorization: Option<&str>) -> Result<Response, HttpError> {
        let invalid = |message: String| HttpError::Invalid {
            request: request.shown(),
            message,
        };
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(request.url.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        // A POST, PUT or PATCH without a body says `content-length: 0` (ureq would send an
        // empty chunked body, which some servers refuse).
        let empty = matches!(
            request.method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH
        )
        .then(Vec::new);
        let mut response = match request.body.clone().or(empty) {
            Some(body) => self.run(
                request,
                builder.body(body).map_err(|e| invalid(e.to_string()))?,
            ),
            None => self.run(
                request,
                builder.body(()).map_err(|e| invalid(e.to_string()))?,
            ),
        }?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| unreachable(request, e))?;
        Ok(Response {
            status,
            headers,
            body,
            request: request.shown(),
        })
    }

    /// Run `http` for `request`, with the request's own limit when it has one.
    fn run<S: ureq::AsSendBody>(
        &self,
        request: &Request,
        http: http::Request<S>,
    ) -> Result<http::Response<ureq::Body>, HttpError> {
        let http = match request.timeout {
            Some(limit) => self
                .agent
                .configure_request(http)
                .timeout_global(Some(limit))
                .build(),
            None => http,
        };
        self.agent.run(http).map_err(|e| unreachable(request, e))
    }
}

fn unreachable(request: &Request, error: ureq::Error) -> HttpError {
    HttpError::Unreachable {
        request: request.shown(),
        message: error.to_string(),
    }
}

/// Sleep `wait`, looking at `stopped` every [`WAKE`].
fn sleep_unless(wait: Duration, stopped: &dyn Fn() -> bool) -> Result<(), HttpError> {
    let until = std::time::Instant::now() + wait;
    loop {
        if stopped() {
            return Err(HttpError::Cancelled);
        }
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(WAKE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_encoded_and_queries_kept_out_of_messages() {
        let request = Request::post("https://login.example/token?tenant=a b#x").form(&[
            ("grant_type", "device_code"),
            ("scope", "Mail.Read offline_access"),
            ("k", "a&b=c/é"),
        ]);
        assert_eq!(
            String::from_utf8(request.body.clone().unwrap()).unwrap(),
            "grant_type=device_code&scope=Mail.Read+offline_access&k=a%26b%3Dc%2F%C3%A9"
        );
        assert_eq!(request.shown(), "POST https://login.example/token");
        assert!(
            !request.repeatable,
            "a POST is not sent twice unless marked"
        );
        assert!(Request::get("x").repeatable && Request::delete("x").repeatable);
        assert!(Request::post("x").repeatable().repeatable);
    }

    #[test]
    fn an_excerpt_is_one_short_line() {
        assert_eq!(
            excerpt(b"{\n  \"error\": \"bad\"\n}"),
            "{ \"error\": \"bad\" }"
        );
        let long = "é".repeat(400);
        let cut = excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
    }
}
