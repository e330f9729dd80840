//! Writing mail: `POST /messages` (a draft in Drafts, `201`) and `POST /sendMail` (`202`,
//! no body), each checked for the permission it needs.

// A handler's refusal is the whole answer it sends; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::mail::gate;
use super::odata::graph_error;
use super::seed::{self, Message};
use super::{MAILBOX, Shared};

type Params = Path<HashMap<String, String>>;

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
