//! What can go wrong talking to Snowflake, as the connector's own error type: each variant
//! says what failed and what the person can do, and maps to the host's [`ErrorKind`]. No
//! variant carries a token, a key or a statement's text.

use switchboard_plugin_api::{ErrorKind, PluginError};
use switchboard_plugin_http::HttpError;

/// The connector's errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting the operation needs is missing.
    #[error("{0}")]
    NotConfigured(String),
    /// A secret is missing or unusable (never the secret itself).
    #[error("{0}")]
    Credential(String),
    /// Snowflake refused the credential (`401`/`403`).
    #[error("Snowflake refused the {what} ({status}{}): {todo}", said(.code, .message))]
    Refused {
        /// What was sent: "programmatic access token", "key-pair JWT".
        what: &'static str,
        status: u16,
        code: Option<String>,
        message: Option<String>,
        /// What to do about it.
        todo: String,
    },
    /// The statement failed in Snowflake (`422`, or a `400` about the request).
    #[error(
        "Snowflake could not run the statement (error {code}, SQL state {sql_state}): {message}"
    )]
    Sql {
        code: String,
        sql_state: String,
        message: String,
    },
    /// The statement ran past its timeout (`408`) and Snowflake cancelled it.
    #[error(
        "the statement ran longer than {0} s and Snowflake cancelled it: raise statement_timeout \
         or narrow the query"
    )]
    Timeout(u64),
    /// Snowflake kept answering `429` (or `503`) after the waits it asked for.
    #[error("Snowflake is throttling requests ({0}): try again in a little while")]
    Throttled(String),
    /// Another answer Snowflake gave, as it gave it.
    #[error("{0}")]
    Answer(String),
    /// The request did not get an answer, or could not be made.
    #[error(transparent)]
    Http(HttpError),
    /// The caller gave up.
    #[error("cancelled")]
    Cancelled,
    /// What was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The input was refused before anything was sent.
    #[error("{0}")]
    Invalid(String),
}

fn said(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(", error {code}: {message}"),
        (None, Some(message)) => format!(": {message}"),
        (Some(code), None) => format!(", error {code}"),
        (None, None) => String::new(),
    }
}

impl From<HttpError> for Error {
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::Cancelled => Self::Cancelled,
            other => Self::Http(other),
        }
    }
}

impl From<Error> for PluginError {
    fn from(error: Error) -> Self {
        let kind = match error {
            Error::Http(http) => return PluginError::from(http),
            Error::NotConfigured(_) => ErrorKind::UNSUPPORTED,
            Error::Credential(_) | Error::Refused { .. } => ErrorKind::DENIED,
            Error::Invalid(_) => ErrorKind::INVALID_INPUT,
            Error::NotFound(_) => ErrorKind::NOT_FOUND,
            Error::Cancelled => ErrorKind::CANCELLED,
            _ => ErrorKind::FAILED,
        };
        PluginError::new(kind, error.to_string())
    }
}
