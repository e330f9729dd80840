//! What can go wrong talking to Box, as one typed error whose message says what failed and
//! what to do, from Box's own answer (its error body, the status) and from how the connector
//! signs in (a developer token cannot be renewed; a person signs in again; an app's
//! credentials are checked in the Admin Console). Messages never hold a token, a query or a
//! file's content.

use std::fmt;
use std::time::Duration;

use switchboard_plugin_api::{ErrorKind, PluginError};
use switchboard_plugin_http::HttpError;

use crate::auth::Method;
use crate::wire::BoxError;

/// A Box operation that did not give what was asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The request was wrong before it was sent (a bad id or name); nothing reached Box.
    Invalid(String),
    /// Box has no such item, or the account cannot see it.
    NotFound(String),
    /// Box refused the credentials or the permission.
    Denied(String),
    /// The caller gave up.
    Cancelled,
    /// Anything else: Box failed, throttled, or did not answer.
    Failed(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(m) | Self::NotFound(m) | Self::Denied(m) | Self::Failed(m) => {
                f.write_str(m)
            }
            Self::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl From<Failure> for PluginError {
    fn from(failure: Failure) -> Self {
        let kind = match &failure {
            Failure::Invalid(_) => ErrorKind::INVALID_INPUT,
            Failure::NotFound(_) => ErrorKind::NOT_FOUND,
            Failure::Denied(_) => ErrorKind::DENIED,
            Failure::Cancelled => ErrorKind::CANCELLED,
            Failure::Failed(_) => ErrorKind::FAILED,
        };
        PluginError::new(kind, failure.to_string())
    }
}

/// What the person does when the sign-in itself fails, by how the connector signs in.
pub fn remedy(method: Method) -> &'static str {
    match method {
        Method::DeveloperToken => {
            "developer tokens last 60 minutes and cannot be renewed: make a new one in the Box \
             Developer Console (your app → Configuration → Developer Token) and store it as the \
             source's developer_token secret"
        }
        Method::AppCredentials => {
            "check client_id, the client_secret secret, subject_type and subject_id, and that an \
             admin authorized the app in the Box Admin Console (Apps → Platform Apps Manager)"
        }
        Method::SignedIn => "run `switchboard sources login box`",
    }
}

impl Failure {
    /// A failure of `what` (a phrase: "searching Box") from the client.
    pub fn from_http(what: &str, error: HttpError, method: Method) -> Self {
        match error {
            HttpError::Cancelled => Self::Cancelled,
            HttpError::Auth(message) => {
                Self::Denied(format!("{what}: {message}; {}", remedy(method)))
            }
            HttpError::Invalid { message, .. } => {
                Self::Invalid(format!("{what}: the request cannot be made: {message}"))
            }
            HttpError::Unreachable { message, .. } => Self::Failed(format!(
                "{what}: Box did not answer ({message}); check the network and the api_url setting"
            )),
            other => Self::Failed(format!("{what}: {other}")),
        }
    }

    /// A failure of `what` from Box's answer `status` with `body`.
    pub fn answered(
        what: &str,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
        method: Method,
    ) -> Self {
        let error = BoxError::read(body).unwrap_or_default();
        let said = error.said();
        let quoted = if said.is_empty() {
            status.to_string()
        } else {
            format!("{status} {said}")
        };
        match status {
            401 => Self::Denied(match method {
                Method::DeveloperToken => {
                    format!(
                        "{what}: Box refused the developer token (401); {}",
                        remedy(method)
                    )
                }
                Method::SignedIn => format!(
                    "{what}: Box refused the token (401) after one refresh: {}",
                    remedy(method)
                ),
                Method::AppCredentials => format!(
                    "{what}: Box refused the app's token (401) after a new one was asked for; {}",
                    remedy(method)
                ),
            }),
            403 => Self::Denied(format!(
                "{what}: Box denied it ({quoted}): the account signed in lacks permission on \
                 this item; ask its owner to share it{}",
                if error.code.as_deref() == Some("access_denied_insufficient_permissions") {
                    ", or sign in again if the connector was made writable since"
                } else {
                    ""
                }
            )),
            404 => Self::NotFound(format!(
                "{what}: Box has no such item, or the account signed in cannot see it ({quoted})"
            )),
            429 => Self::Failed(format!(
                "{what}: Box is still throttling requests after the waits it asked for \
                 ({quoted}); try again {}",
                retry_after.map_or_else(
                    || "in a minute".to_string(),
                    |d| format!("in {} s", d.as_secs().max(1))
                )
            )),
            500..=599 => Self::Failed(format!(
                "{what}: Box failed ({quoted}); try again later, and if it lasts see \
                 https://status.box.com"
            )),
            _ => Self::Failed(format!("{what}: Box refused it ({quoted})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_error_bodies_become_sentences_that_say_what_to_do() {
        let body = br#"{"type":"error","status":404,"code":"not_found","message":"Could not find the specified resource","request_id":"abc123"}"#;
        let failure = Failure::answered("reading file 9", 404, body, None, Method::SignedIn);
        assert_eq!(
            failure,
            Failure::NotFound(
                "reading file 9: Box has no such item, or the account signed in cannot see it \
                 (404 not_found: Could not find the specified resource (request id abc123))"
                    .to_string()
            )
        );
        let refused = Failure::answered("searching Box", 401, b"", None, Method::DeveloperToken);
        assert!(
            refused.to_string().contains("60 minutes") && refused.to_string().contains("new one"),
            "{refused}"
        );
        let signed = Failure::answered("searching Box", 401, b"", None, Method::SignedIn);
        assert!(
            signed
                .to_string()
                .contains("after one refresh: run `switchboard sources login box`")
        );
        let busy = Failure::answered("x", 503, b"<html>busy</html>", None, Method::AppCredentials);
        assert!(
            busy.to_string()
                .contains("Box failed (503); try again later"),
            "{busy}"
        );
        let slow = Failure::answered(
            "x",
            429,
            b"",
            Some(Duration::from_secs(7)),
            Method::SignedIn,
        );
        assert!(slow.to_string().ends_with("try again in 7 s"), "{slow}");
        assert_eq!(
            PluginError::from(Failure::Invalid("bad".into())).kind,
            ErrorKind::INVALID_INPUT
        );
    }
}
