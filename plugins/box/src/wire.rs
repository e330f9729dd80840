//! Box's JSON as the connector reads it: collections (`total_count`, `entries`, `offset`,
//! `limit`), items (files and folders, with the fields the connector asks for), users, and
//! Box's error body. Fields Box may leave out (when `fields` did not ask for them) default.

use serde::Deserialize;
use serde_json::Value;

/// The `fields` a search and a file's details ask for.
pub const FILE_FIELDS: &str =
    "type,id,name,description,size,modified_at,extension,path_collection,owned_by";

/// The `fields` a folder listing asks for.
pub const LISTING_FIELDS: &str = "type,id,name,size,modified_at";

/// One page of a listing paged by offset.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    /// Box's count: for a search, one more than the offset of the last entry.
    #[serde(default)]
    pub total_count: Option<u64>,
    /// The entries of this page.
    #[serde(default = "Vec::new")]
    pub entries: Vec<T>,
}

/// A file, folder or web link.
#[derive(Clone, Debug, Deserialize)]
pub struct Item {
    /// `file`, `folder` or `web_link`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id (digits, as text).
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// What its owner wrote about it.
    #[serde(default)]
    pub description: Option<String>,
    /// Bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// When it last changed.
    #[serde(default)]
    pub modified_at: Option<String>,
    /// The folders above it, root first.
    #[serde(default)]
    pub path_collection: Option<Collection<Mini>>,
    /// Who owns it.
    #[serde(default)]
    pub owned_by: Option<User>,
}

impl Item {
    /// The folders above it joined with `/` ("All Files/Finance"), if Box said.
    pub fn path(&self) -> Option<String> {
        let folders = &self.path_collection.as_ref()?.entries;
        (!folders.is_empty()).then(|| {
            folders
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    /// The description, if it says anything.
    pub fn described(&self) -> Option<&str> {
        self.description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
    }
}

/// A collection inside an item (`path_collection`).
#[derive(Clone, Debug, Deserialize)]
pub struct Collection<T> {
    /// What it holds.
    #[serde(default = "Vec::new")]
    pub entries: Vec<T>,
}

/// A folder as a path lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct Mini {
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// A Box user.
#[derive(Clone, Debug, Deserialize)]
pub struct User {
    /// Their id.
    #[serde(default)]
    pub id: String,
    /// Their name.
    #[serde(default)]
    pub name: String,
    /// Their sign-in address.
    #[serde(default)]
    pub login: String,
}

/// Box's error body (`{"type":"error","status","code","message","request_id"}`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BoxError {
    /// The HTTP status it repeats.
    #[serde(default)]
    pub status: Option<u16>,
    /// A machine-readable code (`not_found`, `item_name_in_use`...).
    #[serde(default)]
    pub code: Option<String>,
    /// Box's sentence.
    #[serde(default)]
    pub message: Option<String>,
    /// What Box support asks for.
    #[serde(default)]
    pub request_id: Option<String>,
    /// More about the error (a 409's `conflicts`).
    #[serde(default)]
    pub context_info: Option<Value>,
}

impl BoxError {
    /// Read a body as Box's error, if it is one.
    pub fn read(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        if value.get("type").and_then(Value::as_str) != Some("error") {
            return None;
        }
        serde_json::from_value(value).ok()
    }

    /// "code: message (request id …)", what a message quotes of Box's answer.
    pub fn said(&self) -> String {
        let mut said = self.code.clone().unwrap_or_default();
        if let Some(message) = self.message.as_deref().filter(|m| !m.is_empty()) {
            if !said.is_empty() {
                said.push_str(": ");
            }
            // One line, bounded: the message is the service's, not ours.
            said.extend(
                message
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(200),
            );
        }
        if let Some(id) = self.request_id.as_deref().filter(|i| !i.is_empty()) {
            said.push_str(&format!(" (request id {id})"));
        }
        said
    }
}
