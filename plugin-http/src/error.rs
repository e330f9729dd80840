//! What can go wrong with a request, in words a person can act on, and how each failure
//! reaches the host as a [`PluginError`].

use std::time::Duration;

use switchboard_plugin_api::{ErrorKind, PluginError};

/// A request that did not give the answer wanted. `request` is the method and the URL
/// without its query ([`crate::Request::shown`]).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No answer: the name did not resolve, the connection failed or timed out.
    #[error("{request}: no answer ({message})")]
    Unreachable { request: String, message: String },
    /// An answer other than `2xx` ([`crate::Response::success`]).
    #[error("{request} answered {}{}{}", status_line(*.status), when(*.retry_after), detail_part(.detail))]
    Status {
        request: String,
        status: u16,
        /// When the server said to come back.
        retry_after: Option<Duration>,
        /// The start of its body.
        detail: String,
    },
    /// The answer is not what the connector expected.
    #[error("{request}: {message}")]
    Decode { request: String, message: String },
    /// The request could not be made (a malformed URL or header).
    #[error("{request}: cannot be sent: {message}")]
    Invalid { request: String, message: String },
    /// Signing in, or getting a token, failed; the message says what to do.
    #[error("{0}")]
    Auth(String),
    /// The caller gave up while the request waited or ran.
    #[error("cancelled")]
    Cancelled,
}

fn status_line(status: u16) -> String {
    match ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

fn when(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |d| format!(" (retry after {} s)", d.as_secs()))
}

fn detail_part(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl From<HttpError> for PluginError {
    fn from(error: HttpError) -> Self {
        let kind = match &error {
            HttpError::Cancelled => ErrorKind::CANCELLED,
            HttpError::Status {
                status: 401 | 403, ..
            }
            | HttpError::Auth(_) => ErrorKind::DENIED,
            HttpError::Status { status: 404, .. } => ErrorKind::NOT_FOUND,
            HttpError::Invalid { .. } => ErrorKind::INVALID_INPUT,
            _ => ErrorKind::FAILED,
        };
        PluginError::new(kind, error.to_string())
    }
}
