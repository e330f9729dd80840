//! Graph v1.0's user and mail endpoints, under `/me` and `/users/{user}`: who the token is, the
//! mailbox's messages (with `$search`, `$select`, `$top` and `$skiptoken` paging), one message,
//! its attachments, the folders, a new draft and sending.

// A handler's refusal is the whole answer it sends; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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

/// Graph's error answer.
pub fn graph_error(status: u16, code: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": "2026-12-01T10:00:00",
            "request-id": "0a1b2c3d-1111-4a4a-9b9b-5e5e5e5e5e5e",
            "client-request-id": "0a1b2c3d-1111-4a4a-9b9b-5e5e5e5e5e5e",
        },
    }});
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
    }
    response
}

fn unauthorized(message: &str) -> Response {
    graph_error(401, "InvalidAuthenticationToken", message)
}

/// Who called, once the token and the mailbox in the path are accepted.
struct Caller {
    app: bool,
    /// The person's scopes or the app's roles.
    granted: Vec<String>,
}

impl Caller {
    fn may(&self, any_of: &[&str]) -> Result<(), Response> {
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
fn gate(
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

fn option<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `$select`: the properties named, each one a property of the type.
fn selected(
    options: &[(String, String)],
    known: &[&str],
    type_name: &str,
) -> Result<Option<Vec<String>>, Response> {
    let Some(list) = option(options, "$select") else {
        return Ok(None);
    };
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
    if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(graph_error(
            400,
            "RequestBroker--ParseUri",
            &format!(
                "Could not find a property named '{unknown}' on type 'microsoft.graph.{type_name}'."
            ),
        ));
    }
    Ok(Some(names))
}

fn project(full: Value, select: &Option<Vec<String>>) -> Value {
    let (Some(names), Value::Object(map)) = (select, &full) else {
        return full;
    };
    let kept = map
        .iter()
        .filter(|(k, _)| k.as_str() == "id" || k.starts_with("@odata") || names.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

fn top(options: &[(String, String)]) -> Result<usize, Response> {
    match option(options, "$top") {
        None => Ok(10),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(n),
            _ => Err(graph_error(
                400,
                "BadRequest",
                &format!(
                    "Invalid value '{text}' for query option $top: it must be between 1 and 1000."
                ),
            )),
        },
    }
}

/// A `$search` value: one double-quoted string, `\"` and `\\` escaped inside.
fn unquote(raw: &str) -> Result<String, Response> {
    let syntax = |at: usize| {
        graph_error(
            400,
            "BadRequest",
            &format!("Syntax error: character '\"' is not valid at position {at} in '{raw}'."),
        )
    };
    let mut chars = raw.chars().enumerate();
    if raw.len() < 2 || chars.next().map(|(_, c)| c) != Some('"') {
        return Err(syntax(0));
    }
    let mut text = String::new();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => text.push(escaped),
                None => return Err(syntax(at)),
            },
            '"' if at + 1 == raw.chars().count() => return Ok(text),
            '"' => return Err(syntax(at)),
            c => text.push(c),
        }
    }
    Err(syntax(raw.chars().count()))
}

/// A small KQL: every word must occur (any case); `subject:`, `from:`, `body:`,
/// `attachment:` restrict a word to one property; `AND` is ignored.
fn matches(message: &Message, query: &str) -> bool {
    query
        .split_whitespace()
        .filter(|w| *w != "AND")
        .all(|word| {
            let (property, value) = match word.split_once(':') {
                Some((p, v)) if ["subject", "from", "body", "attachment"].contains(&p) => {
                    (Some(p), v.trim_matches('"'))
                }
                _ => (None, word),
            };
            message
                .searchable(property)
                .to_lowercase()
                .contains(&value.to_lowercase())
        })
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One page of `items` from `$skiptoken` on, `$top` long, linked onward as Graph links.
fn page(
    shared: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
    options: &[(String, String)],
    items: Vec<Value>,
) -> Response {
    let top = match top(options) {
        Ok(top) => top,
        Err(refused) => return refused,
    };
    let mut state = shared.lock();
    let offset = match option(options, "$skiptoken") {
        None => 0,
        Some(token) => match state.skiptokens.get(token) {
            Some(offset) => *offset,
            None => return graph_error(400, "BadRequest", "The $skiptoken is not valid."),
        },
    };
    let value: Vec<Value> = items.iter().skip(offset).take(top).cloned().collect();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut body = json!({
        "@odata.context": format!("http://{host}/v1.0/$metadata#users('{}')/{}", encode(MAILBOX), uri.path().rsplit('/').next().unwrap_or_default()),
        "value": value,
    });
    if offset + top < items.len() {
        let token = state.opaque("MSZZQ2hhbmdlVG9rZW4");
        state.skiptokens.insert(token.clone(), offset + top);
        let mut query: Vec<String> = options
            .iter()
            .filter(|(k, _)| k != "$skiptoken")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.push(format!("%24skiptoken={token}"));
        body["@odata.nextLink"] = json!(format!("http://{host}{}?{}", uri.path(), query.join("&")));
    }
    Json(body).into_response()
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

fn recipients(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let address = r["emailAddress"]["address"].as_str()?;
            Some((
                r["emailAddress"]["name"]
                    .as_str()
                    .unwrap_or(address)
                    .to_string(),
                address.to_string(),
            ))
        })
        .collect()
}

fn composed(shared: &Shared, body: &Value, folder: &str) -> Message {
    let mut state = shared.lock();
    let id = format!("AAMkAGI2TG93AAA{}AAA=", state.opaque("Draft"));
    let content = body["body"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Message {
        id,
        folder: folder.to_string(),
        subject: body["subject"].as_str().unwrap_or_default().to_string(),
        from: ("Megan Bowen".to_string(), MAILBOX.to_string()),
        to: recipients(&body["toRecipients"]),
        cc: recipients(&body["ccRecipients"]),
        received: "2026-12-01T10:00:00Z".to_string(),
        content_type: body["body"]["contentType"]
            .as_str()
            .unwrap_or("text")
            .to_lowercase(),
        preview: content.chars().take(255).collect(),
        body: content,
        attachments: Vec::new(),
        is_draft: folder == seed::DRAFTS,
        internet_message_id: "<draft@contoso.example>".to_string(),
    }
}

/// `POST /messages`: a draft in Drafts, `201 Created`.
pub async fn create_draft(
    State(shared): State<Shared>,
    Path(params): Params,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let run = || -> Result<Response, Response> {
        gate(&shared, &headers, &params)?.may(&["Mail.ReadWrite"])?;
        let draft = composed(&shared, &body, seed::DRAFTS);
        let json = draft.to_json();
        shared.lock().messages.push(draft);
        Ok((StatusCode::CREATED, Json(json)).into_response())
    };
    run().unwrap_or_else(|refused| refused)
}

/// `POST /sendMail`: `202 Accepted`, no body.
pub async fn send_mail(
    State(shared): State<Shared>,
    Path(params): Params,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let run = || -> Result<Response, Response> {
        gate(&shared, &headers, &params)?.may(&["Mail.Send"])?;
        let message = &body["message"];
        if !message.is_object() {
            return Err(graph_error(
                400,
                "ErrorInvalidParameter",
                "The value of the parameter 'Message' is empty.",
            ));
        }
        if recipients(&message["toRecipients"]).is_empty() {
            return Err(graph_error(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
            ));
        }
        if body["saveToSentItems"].as_bool() != Some(false) {
            let sent = composed(&shared, message, seed::SENT);
            shared.lock().messages.push(sent);
        }
        shared.lock().sent.push(body.clone());
        Ok(StatusCode::ACCEPTED.into_response())
    };
    run().unwrap_or_else(|refused| refused)
}
