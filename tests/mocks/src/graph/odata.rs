//! Graph's OData conventions the mail endpoints share: the error body, the query options
//! (`$select`, `$top`, `$search` and its small KQL, `$skiptoken`) and pages linked by
//! `@odata.nextLink`.

// A handler's refusal is the whole answer it sends; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use axum::Json;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::seed::Message;
use super::{MAILBOX, Shared};

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

pub fn option<'a>(options: &'a [(String, String)], name: &str) -> Option<&'a str> {
    options
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `$select`: the properties named, each one a property of the type.
pub fn selected(
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

pub fn project(full: Value, select: &Option<Vec<String>>) -> Value {
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

pub fn top(options: &[(String, String)]) -> Result<usize, Response> {
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
pub fn unquote(raw: &str) -> Result<String, Response> {
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
pub fn matches(message: &Message, query: &str) -> bool {
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

pub fn encode(text: &str) -> String {
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
pub fn page(
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
        let base = state
            .next_base
            .clone()
            .unwrap_or_else(|| format!("http://{host}"));
        body["@odata.nextLink"] = json!(format!("{base}{}?{}", uri.path(), query.join("&")));
    }
    Json(body).into_response()
}
