//! Microsoft Graph's JSON, as the v1.0 reference names it: the resources read (`message`,
//! `attachment`, `mailFolder`, `user`), a page of a collection, the error body, and what a new
//! draft or a sent mail is written as. Only the properties the connector uses are declared;
//! everything else Graph sends is ignored.

use serde::{Deserialize, Serialize};

/// A page of a collection: its items and the link to the next page, if any.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// `microsoft.graph.emailAddress`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct EmailAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// `microsoft.graph.recipient`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    #[serde(default)]
    pub email_address: EmailAddress,
}

impl Recipient {
    /// To an address, no display name.
    pub fn to(address: &str) -> Self {
        Self {
            email_address: EmailAddress {
                name: None,
                address: Some(address.to_string()),
            },
        }
    }

    /// `Name <address>`, or whichever of the two is known.
    pub fn shown(&self) -> String {
        let a = &self.email_address;
        match (a.name.as_deref(), a.address.as_deref()) {
            (Some(name), Some(address)) if name != address => format!("{name} <{address}>"),
            (_, Some(address)) => address.to_string(),
            (Some(name), None) => name.to_string(),
            (None, None) => "(unknown)".to_string(),
        }
    }
}

/// `microsoft.graph.itemBody`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ItemBody {
    /// `text` or `html` (Graph answers in lower case and takes either case).
    pub content_type: String,
    #[serde(default)]
    pub content: String,
}

/// `microsoft.graph.message`, the properties selected.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub body_preview: Option<String>,
    #[serde(default)]
    pub web_link: Option<String>,
    #[serde(default)]
    pub received_date_time: Option<String>,
    #[serde(default)]
    pub from: Option<Recipient>,
    #[serde(default)]
    pub to_recipients: Vec<Recipient>,
    #[serde(default)]
    pub cc_recipients: Vec<Recipient>,
    #[serde(default)]
    pub body: Option<ItemBody>,
    #[serde(default)]
    pub has_attachments: bool,
    #[serde(default)]
    pub internet_message_id: Option<String>,
    #[serde(default)]
    pub conversation_id: Option<String>,
}

impl Message {
    /// The subject, or a placeholder for a message without one.
    pub fn title(&self) -> String {
        match self.subject.as_deref().map(str::trim) {
            Some(subject) if !subject.is_empty() => subject.to_string(),
            _ => "(no subject)".to_string(),
        }
    }

    /// `receivedDateTime` as `2026-11-30 16:05 UTC`.
    pub fn received(&self) -> Option<String> {
        let at = self.received_date_time.as_deref()?;
        let (date, time) = at.split_once('T')?;
        Some(format!("{date} {} UTC", time.get(..5).unwrap_or(time)))
    }
}

/// `microsoft.graph.attachment`, the properties selected.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub is_inline: bool,
}

/// `microsoft.graph.mailFolder`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailFolder {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub total_item_count: u64,
    #[serde(default)]
    pub unread_item_count: u64,
    #[serde(default)]
    pub child_folder_count: u64,
}

/// `microsoft.graph.user`, the properties `check` selects.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

impl User {
    /// `Megan Bowen <megan@contoso.com>`.
    pub fn shown(&self) -> String {
        let address = self.mail.as_deref().or(self.user_principal_name.as_deref());
        match (self.display_name.as_deref(), address) {
            (Some(name), Some(address)) => format!("{name} <{address}>"),
            (Some(name), None) => name.to_string(),
            (None, Some(address)) => address.to_string(),
            (None, None) => "an unnamed account".to_string(),
        }
    }
}

/// Graph's error body: `{"error": {"code", "message"}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The error's code and sentence.
#[derive(Debug, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// A message to write: the body of `POST /messages` (a draft) and `sendMail`'s `message`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewMessage {
    pub subject: String,
    pub body: ItemBody,
    pub to_recipients: Vec<Recipient>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cc_recipients: Vec<Recipient>,
}

/// The body of `POST /sendMail`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMail {
    pub message: NewMessage,
    pub save_to_sent_items: bool,
}
