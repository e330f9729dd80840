//! Reading one message: `GET /messages/{id}` (the id checked, then encoded as one path
//! segment), its body as text (HTML through [`crate::html`]), its attachments listed by name,
//! type and size (never their content) in the metadata and at the end of the text.

use serde_json::{Value, json};
use switchboard_plugin_api::Call;
use switchboard_plugin_api::model::{Document, JsonObject};

use crate::api::{Api, encode, item_id};
use crate::error::MailError;
use crate::html;
use crate::wire::{Attachment, Message, Recipient};

/// What a document shows.
const SELECT: &str = "subject,body,from,toRecipients,ccRecipients,receivedDateTime,webLink,\
                      hasAttachments,internetMessageId,conversationId";

/// What an attachment's listing shows.
const ATTACHMENT_SELECT: &str = "name,contentType,size,isInline";

/// The message `id`, with its attachments.
pub fn message(api: &Api, id: &str, call: &Call) -> Result<Document, MailError> {
    let url = format!(
        "{}/messages/{}",
        api.root(),
        encode(item_id(id, "message")?)
    );
    let message: Message = api.get(
        &format!("{url}?$select={}", encode(SELECT)),
        "reading the message",
        call,
    )?;
    let mut attachments = Vec::new();
    if message.has_attachments {
        let first = format!("{url}/attachments?$select={}", encode(ATTACHMENT_SELECT));
        api.pages(first, "listing the message's attachments", call, 10, |a| {
            attachments.push(a);
            true
        })?;
    }
    Ok(document(id, &message, &attachments))
}

fn people(list: &[Recipient]) -> String {
    list.iter()
        .map(Recipient::shown)
        .collect::<Vec<_>>()
        .join(", ")
}

fn body_text(message: &Message) -> String {
    match &message.body {
        Some(body) if body.content_type.eq_ignore_ascii_case("html") => {
            html::to_text(&body.content)
        }
        Some(body) => body.content.trim().to_string(),
        None => String::new(),
    }
}

fn attachment_line(a: &Attachment) -> String {
    let kind = a.content_type.as_deref().unwrap_or("unknown type");
    let inline = if a.is_inline { ", inline" } else { "" };
    format!("- {} ({kind}, {} bytes{inline})", a.name, a.size)
}

/// The document: headers, the body's text, the attachments; metadata for programs.
fn document(id: &str, message: &Message, attachments: &[Attachment]) -> Document {
    let mut text = format!("Subject: {}\n", message.title());
    if let Some(from) = &message.from {
        text.push_str(&format!("From: {}\n", from.shown()));
    }
    if !message.to_recipients.is_empty() {
        text.push_str(&format!("To: {}\n", people(&message.to_recipients)));
    }
    if !message.cc_recipients.is_empty() {
        text.push_str(&format!("Cc: {}\n", people(&message.cc_recipients)));
    }
    if let Some(at) = message.received() {
        text.push_str(&format!("Date: {at}\n"));
    }
    text.push('\n');
    text.push_str(&body_text(message));
    if !attachments.is_empty() {
        text.push_str("\n\nAttachments:\n");
        let lines: Vec<String> = attachments.iter().map(attachment_line).collect();
        text.push_str(&lines.join("\n"));
    }
    let shown = |r: &[Recipient]| Value::from(r.iter().map(Recipient::shown).collect::<Vec<_>>());
    let mut metadata = JsonObject::new();
    metadata.insert(
        "from".into(),
        json!(message.from.as_ref().map(Recipient::shown)),
    );
    metadata.insert("to".into(), shown(&message.to_recipients));
    metadata.insert("cc".into(), shown(&message.cc_recipients));
    metadata.insert("received".into(), json!(message.received_date_time));
    metadata.insert("conversation_id".into(), json!(message.conversation_id));
    metadata.insert(
        "internet_message_id".into(),
        json!(message.internet_message_id),
    );
    metadata.insert(
        "attachments".into(),
        attachments
            .iter()
            .map(|a| {
                json!({"name": a.name, "contentType": a.content_type, "size": a.size, "isInline": a.is_inline})
            })
            .collect(),
    );
    Document {
        id: id.to_string(),
        title: message.title(),
        text,
        url: message.web_link.clone(),
        metadata,
    }
}
