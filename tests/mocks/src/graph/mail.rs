//! Graph v1.0's user and mail endpoints, under `/me` and `/users/{user}`: who the token is, the
//! mailbox's messages (with `$search`, `$select`, `$top` and `$skiptoken` paging), one message,
//! its attachments and the folders; the gate every Graph request passes (switches, token,
//! mailbox, permissions).

// A handler's refusal is the whole answer it sends; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::odata::{graph_error, matches, option, page, project, selected, unquote};
use super::seed::{self, Message};
use super::{MAILBOX, Shared};

type Params = Path<HashMap<String, String>>;
type Options = Query<Vec<(String, String)>>;

const MESSAGE_PROPERTIES: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "isRead",
    "isDraft",
    "webLink",
    "body",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
];
const ATTACHMENT_PROPERTIES: &[&str] = &[
    "id",
    "lastModifiedDateTime",
    "name",
    "contentType",
    "size",
    "isInline",
];
const USER_PROPERTIES: &[&str] = &[
    "id",
    "displayName",
    "mail",
    "userPrincipalName",
    "givenName",
    "surname",
    "jobTitle",
    "officeLocation",
    "preferredLanguage",
];

fn unauthorized(message: &str) -> Response {
    graph_error(401, "InvalidAuthenticationToken", message)
}

/// Who called, once the token and the mailbox in the path are accepted.
pub(crate) struct Caller {
    app: bool,
    /// The person's scopes or the app's roles.
    granted: Vec<String>,
}

impl Caller {
    pub(crate) fn may(&self, any_of: &[&str]) -> Result<(), Response> {
        if any_of.iter().any(|s| self.granted.iter().any(|g| g == s)) {
            Ok(())
        } else {
            Err(graph_error(
                403,
                "ErrorAccessDenied",
                "Access is denied. Check credentials and try again.",
            ))
        }
    }
}

/// The switches, then the token, then the mailbox in the path.
pub(crate) fn gate(
    shared: &Shared,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Caller, Response> {
    shared.arrived();
    let mut state = shared.lock();
    if state.throttle > 0 {
        state.throttle -= 1;
        let mut response = graph_error(
            429,
            "TooManyRequests",
            "Application is over its MailboxConcurrency limit.",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, state.retry_after.into());
        return Err(response);
    }
    if let Some((status, code, message)) = state.fail_next.take() {
        return Err(graph_error(status, &code, &message));
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(presented) = presented else {
        return Err(unauthorized("Access token is empty."));
    };
    let Some(token) = presented.strip_prefix("Bearer ") else {
        return Err(unauthorized(
            "IDX14100: JWT is not well formed, there are no dots (.).",
        ));
    };
    let expire = state.expire_next > 0;
    let Some(issued) = state.tokens.get_mut(token) else {
        return Err(unauthorized(
            "IDX14100: JWT is not well formed, there are no dots (.).",
        ));
    };
    if expire {
        issued.revoked = true;
    }
    if issued.revoked || issued.expires_at <= Instant::now() {
        if expire {
            state.expire_next -= 1;
        }
        return Err(unauthorized(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    let caller = match &issued.scopes {
        Some(scopes) => Caller {
            app: false,
            granted: scopes.clone(),
        },
        None => Caller {
            app: true,
            granted: state.app_roles.clone(),
        },
    };
    match params.get("user") {
        Some(user) if !user.eq_ignore_ascii_case(MAILBOX) => Err(graph_error(
            404,
            "ErrorInvalidUser",
            &format!("The requested user '{user}' is invalid."),
        )),
        None if caller.app => Err(graph_error(
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )),
        _ => Ok(caller),
    }
}

fn folder_of(state: &super::State, wanted: &str) -> Option<String> {
    state
        .folders
        .iter()
        .find(|f| f.id == wanted || f.well_known.is_some_and(|w| w.eq_ignore_ascii_case(wanted)))
        .map(|f| f.id.clone())
}

fn well_formed(id: &str) -> Result<(), Response> {
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(graph_error(
            400,
            "ErrorInvalidIdMalformed",
            "Id is malformed.",
        ))
    }
}

/// `GET /me`, `GET /users/{user}`
pub async fn profile(
    State(shared): State<Shared>,
    Path(params): Params,
    Query(options): Options,
    headers: HeaderMap,
) -> Response {
    let run = || -> Result<Response, Response> {
        let caller = gate(&shared, &headers, &params)?;
        caller
            .may(&["User.Read", "User.ReadBasic.All", "User.Read.All"])
            .map_err(|_| {
                graph_error(
                    403,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                )
            })?;
        let select = selected(&options, USER_PROPERTIES, "user")?;
        let full = json!({
            "id": "48d31887-5fad-4d73-a9f5-3c356e68a038", "displayName": "Megan Bowen",
            "mail": MAILBOX, "userPrincipalName": MAILBOX, "givenName": "Megan", "surname": "Bowen",
            "jobTitle": "Marketing Manager", "officeLocation": "12/1110", "preferredLanguage": "en-US",
        });
        Ok(Json(project(full, &select)).into_response())
    };
    run().unwrap_or_else(|refused| refused)
}

/// `GET /messages`, `GET /mailFolders/{folder}/messages`
pub async fn list_messages(
    State(shared): State<Shared>,
    Path(params): Params,
    Query(options): Options,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let run = || -> Result<Response, Response> {
        gate(&shared, &headers, &params)?.may(&[
            "Mail.Read",
            "Mail.ReadWrite",
            "Mail.ReadBasic",
        ])?;
        let select = selected(&options, MESSAGE_PROPERTIES, "message")?;
        let search = option(&options, "$search").map(unquote).transpose()?;
        let mut state = shared.lock();
        let folder = match params.get("folder") {
            None => None,
            Some(wanted) => Some(folder_of(&state, wanted).ok_or_else(|| {
                graph_error(
                    404,
                    "ErrorItemNotFound",
                    "The specified object was not found in the store.",
                )
            })?),
        };
        if let Some(search) = &search {
            state.searches.push(search.clone());
        }
        let mut found: Vec<&Message> = state
            .messages
            .iter()
            .filter(|m| folder.as_ref().is_none_or(|f| &m.folder == f))
            .filter(|m| search.as_ref().is_none_or(|q| matches(m, q)))
            .collect();
        found.sort_by(|a, b| b.received.cmp(&a.received));
        let items = found
            .iter()
            .map(|m| project(m.to_json(), &select))
            .collect();
        drop(state);
        Ok(page(&shared, &headers, &uri, &options, items))
    };
    run().unwrap_or_else(|refused| refused)
}

fn find(shared: &Shared, id: &str) -> Result<Message, Response> {
    well_formed(id)?;
    shared
        .lock()
        .messages
        .iter()
        .find(|m| m.id == id)
        .cloned()
        .ok_or_else(|| {
            graph_error(
                404,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            )
        })
}

/// `GET /messages/{id}`
pub async fn get_message(
    State(shared): State<Shared>,
    Path(params): Params,
    Query(options): Options,
    headers: HeaderMap,
) -> Response {
    let run = || -> Result<Response, Response> {
        gate(&shared, &headers, &params)?.may(&["Mail.Read", "Mail.ReadWrite"])?;
        let select = selected(&options, MESSAGE_PROPERTIES, "message")?;
        let message = find(&shared, params.get("id").map_or("", String::as_str))?;
        Ok(Json(project(message.to_json(), &select)).into_response())
    };
    run().unwrap_or_else(|refused| refused)
}

/// `GET /messages/{id}/attachments`
pub async fn list_attachments(
    State(shared): State<Shared>,
    Path(params): Params,
    Query(options): Options,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let run = || -> Result<Response, Response> {
        gate(&shared, &headers, &params)?.may(&["Mail.Read", "Mail.ReadWrite"])?;
        let select = selected(&options, ATTACHMENT_PROPERTIES, "attachment")?;
        let message = find(&shared, params.get("id").map_or("", String::as_str))?;
        let items = message
            .attachments
            .iter()
            .map(|a| project(a.to_json(), &select))
            .collect();
        Ok(page(&shared, &headers, &uri, &options, items))
    };
    run().unwrap_or_else(|refused| refused)
}

/// `GET /mailFolders`
pub async fn list_folders(
    State(shared): State<Shared>,
    Path(params): Params,
    Query(options): Options,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let run = || -> Result<Response, Response> {
        gate(&shared, &headers, &params)?.may(&[
            "Mail.Read",
            "Mail.ReadWrite",
            "Mail.ReadBasic",
        ])?;
        let state = shared.lock();
        let items = state
            .folders
            .iter()
            .filter(|f| f.parent != seed::INBOX)
            .map(|f| f.to_json(&state.messages))
            .collect();
        drop(state);
        Ok(page(&shared, &headers, &uri, &options, items))
    };
    run().unwrap_or_else(|refused| refused)
}
