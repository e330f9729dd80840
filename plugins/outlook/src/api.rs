//! Requests to Microsoft Graph for one mailbox: the URLs (the mailbox's root, an id as one
//! path segment, a value as one query value), sending with the call's cancellation, following
//! `@odata.nextLink` exactly as given, and Graph's answers other than `2xx` turned into
//! [`MailError`]s that say what failed and what to do.
//!
//! A next link is followed only when it stays on `api_url`'s origin: the client sends the
//! token with every request, and a page must not be able to send it elsewhere.

use std::sync::Arc;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchboard_plugin_api::Call;
use switchboard_plugin_http::{Client, HttpError, Request, Response};

use crate::error::{MailError, shown};
use crate::wire::{ErrorBody, Page};

/// What the person is told to do when the sign-in is missing or refused.
pub const LOGIN: &str = "run `switchboard sources login outlook`";

/// Everything but RFC 3986's unreserved characters is encoded: an id or a query value can
/// never end its segment or its parameter.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` as one path segment or one query value.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, STRICT).to_string()
}

/// Check an id (a message's, a folder's) before it goes in a URL: Graph's ids are base64
/// with `-`, `_` and `=`, and well-known folder names are words, so anything that could
/// leave its path segment or climb out of it is refused before a request is made.
pub fn item_id<'a>(id: &'a str, what: &str) -> Result<&'a str, MailError> {
    if id.is_empty() {
        return Err(MailError::Input(format!(
            "the {what} id is empty: pass an id that search_mail or list_folders returned"
        )));
    }
    let bad = ['/', '?', '#', '\\', '%', '&']
        .into_iter()
        .find(|c| id.contains(*c))
        .map(|c| format!("'{c}'"))
        .or_else(|| id.contains("..").then(|| "'..'".to_string()))
        .or_else(|| {
            id.chars()
                .any(|c| c.is_whitespace() || c.is_control())
                .then(|| "spaces or control characters".to_string())
        })
        .or_else(|| (id.len() > 1024).then(|| "more than 1024 characters".to_string()));
    match bad {
        Some(why) => Err(MailError::Input(format!(
            "{} is not a Graph {what} id (it holds {why}): pass an id that search_mail or \
             list_folders returned",
            shown(id)
        ))),
        None => Ok(id),
    }
}

/// Whose mailbox a token reads, which decides the advice a refusal gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// A person signed in with a device code.
    Person,
    /// The app itself, with its client secret.
    App,
}

/// Graph for one mailbox.
pub struct Api {
    client: Arc<Client>,
    root: String,
    origin: String,
    identity: Identity,
}

/// `scheme://host[:port]` of `url`.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split('/').next().unwrap_or_default();
    format!("{scheme}://{authority}")
}

impl Api {
    /// Graph at `api` (no trailing `/`), reading `/me` or `/users/{mailbox}`.
    pub fn new(client: Arc<Client>, api: &str, mailbox: Option<&str>, identity: Identity) -> Self {
        let root = match mailbox {
            Some(mailbox) => format!("{api}/users/{}", encode(mailbox)),
            None => format!("{api}/me"),
        };
        Self {
            client,
            root,
            origin: origin(api),
            identity,
        }
    }

    /// The mailbox's URL: `{api}/me` or `{api}/users/{mailbox}`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// What to do when the token or a permission is refused.
    fn advice(&self, forbidden: bool) -> &'static str {
        match (self.identity, forbidden) {
            (Identity::Person, false) => LOGIN,
            (Identity::Person, true) => {
                "the sign-in lacks the permission: sign in again (`switchboard sources login outlook`) to grant it"
            }
            (Identity::App, false) => {
                "check the source's client_id, tenant and client_secret (`switchboard sources test outlook`)"
            }
            (Identity::App, true) => {
                "grant the app the Mail application permission this needs, with admin consent, in its app registration"
            }
        }
    }

    /// A request that did not reach an answer.
    pub fn http_failure(&self, error: HttpError, what: &str) -> MailError {
        match error {
            HttpError::Cancelled => MailError::Cancelled,
            HttpError::Auth(message) => {
                MailError::Denied(format!("{what}: {message} ({})", self.advice(false)))
            }
            other => MailError::Failed(format!(
                "{what} failed: {other}; check api_url and the network, then try again"
            )),
        }
    }

    /// Graph's answer other than `2xx`, in a sentence.
    fn refusal(&self, response: &Response, what: &str) -> MailError {
        let status = response.status();
        let (code, message) = match response.json::<ErrorBody>() {
            Ok(body) => (body.error.code, body.error.message),
            Err(_) => (
                format!("HTTP {status}"),
                "the answer was not Graph's error body".to_string(),
            ),
        };
        let said = format!("{status} {code}: {message}");
        match (status, code.as_str()) {
            (401, _) => MailError::Denied(format!(
                "Microsoft Graph refused the token for {what} ({said}) after one renewal: {}",
                self.advice(false)
            )),
            (403, _) => MailError::Denied(format!(
                "Microsoft Graph denied {what} ({said}): {}",
                self.advice(true)
            )),
            (404, "ErrorInvalidUser") => MailError::NotFound(format!(
                "Microsoft Graph knows no mailbox for {what} ({said}): check the mailbox setting"
            )),
            (404, _) => MailError::NotFound(format!(
                "Microsoft Graph found nothing for {what} ({said}): the id may be stale (a moved \
                 message gets a new id); search again for a current one"
            )),
            (400, "ErrorInvalidIdMalformed") => MailError::Input(format!(
                "Microsoft Graph says the id is not one of its ids for {what} ({said}): pass an \
                 id that search_mail returned"
            )),
            (429, _) => {
                let when = response
                    .header("retry-after")
                    .map_or_else(String::new, |s| format!(" in {s} s"));
                MailError::Failed(format!(
                    "Microsoft Graph is throttling this mailbox ({said}); try again{when}"
                ))
            }
            (500.., _) => MailError::Failed(format!(
                "Microsoft Graph failed {what} ({said}); try again later"
            )),
            _ => MailError::Failed(format!("Microsoft Graph refused {what} ({said})")),
        }
    }

    /// Send `request`, giving back a `2xx` answer.
    fn send(&self, request: &Request, what: &str, call: &Call) -> Result<Response, MailError> {
        let response = self
            .client
            .send(request, &|| call.is_cancelled())
            .map_err(|e| self.http_failure(e, what))?;
        if (200..300).contains(&response.status()) {
            Ok(response)
        } else {
            Err(self.refusal(&response, what))
        }
    }

    /// `GET url`, its JSON read as `T`.
    pub fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
        call: &Call,
    ) -> Result<T, MailError> {
        let request = Request::get(url).header("accept", "application/json");
        self.send(&request, what, call)?
            .json()
            .map_err(|e| self.http_failure(e, what))
    }

    /// `POST url` with a JSON body; the answer (`201` with the item, `202` empty).
    pub fn post(
        &self,
        url: &str,
        body: &impl Serialize,
        what: &str,
        call: &Call,
    ) -> Result<Response, MailError> {
        let request = Request::post(url)
            .header("accept", "application/json")
            .json(body)
            .map_err(|e| self.http_failure(e, what))?;
        self.send(&request, what, call)
    }

    /// The items of a collection from `first` on, page after page by `@odata.nextLink` used
    /// exactly as given, at most `max_pages`, handing each item to `keep` until it says it
    /// has enough (`false`). `true` when a page limit cut a longer listing short.
    pub fn pages<T: DeserializeOwned>(
        &self,
        first: String,
        what: &str,
        call: &Call,
        max_pages: usize,
        mut keep: impl FnMut(T) -> bool,
    ) -> Result<bool, MailError> {
        let mut next = Some(first);
        for _ in 0..max_pages {
            let Some(url) = next.take() else {
                return Ok(false);
            };
            if call.is_cancelled() {
                return Err(MailError::Cancelled);
            }
            let page: Page<T> = self.get(&url, what, call)?;
            for item in page.value {
                if !keep(item) {
                    return Ok(false);
                }
            }
            next = page.next_link;
            if let Some(link) = &next
                && !link.starts_with(&format!("{}/", self.origin))
            {
                return Err(MailError::Failed(format!(
                    "Microsoft Graph linked the next page of {what} to another server than \
                     api_url's; it was not followed (check api_url and any proxy)"
                )));
            }
        }
        Ok(next.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_values_cannot_leave_their_segment() {
        assert_eq!(encode("AAMk=a-b_c.d~"), "AAMk%3Da-b_c.d~");
        assert_eq!(
            encode("\"budget\" & $top=1000 #x"),
            "%22budget%22%20%26%20%24top%3D1000%20%23x"
        );
        assert_eq!(encode("megan@contoso.example"), "megan%40contoso.example");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn bad_ids_are_refused_with_what_to_do() {
        assert_eq!(item_id("AAMkAGI2=", "message"), Ok("AAMkAGI2="));
        assert_eq!(item_id("inbox", "folder"), Ok("inbox"));
        for (id, says) in [
            ("", "is empty"),
            ("../../users/ceo@contoso.com/messages", "'/'"),
            ("..", "'..'"),
            ("AAMk?$select=body", "'?'"),
            ("AAMk#frag", "'#'"),
            ("AAMk%2F..%2Fx", "'%'"),
            ("AAMk&$top=1", "'&'"),
            ("1' OR '1'='1", "spaces"),
            ("a\u{0}b", "control"),
        ] {
            let error = item_id(id, "message").unwrap_err();
            assert!(matches!(error, MailError::Input(_)), "{id:?}");
            assert!(error.message().contains(says), "{id:?}: {error}");
            assert!(error.message().contains("search_mail"), "{error}");
        }
        let long = "A".repeat(2000);
        let error = item_id(&long, "message").unwrap_err();
        assert!(error.message().contains("1024"));
        assert!(
            error.message().len() < 300,
            "a hostile id is cut in the message"
        );
    }

    #[test]
    fn the_origin_is_scheme_and_authority() {
        assert_eq!(
            origin("https://graph.microsoft.com/v1.0"),
            "https://graph.microsoft.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/v1.0"),
            "http://127.0.0.1:8080"
        );
    }
}
