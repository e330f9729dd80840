//! What can go wrong inside the connector, as a few kinds the host and the model each read:
//! every variant carries a sentence saying what failed and what to do, never a token, a
//! secret or a message's text.

use switchboard_plugin_api::{ErrorKind, PluginError};

/// A failure of a search, a fetch or a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailError {
    /// What the caller gave cannot be used (an id, a folder, a recipient, a query).
    Input(String),
    /// Graph has no such item.
    NotFound(String),
    /// Not signed in, the token refused, or a permission missing.
    Denied(String),
    /// The caller gave up.
    Cancelled,
    /// Anything else: the service failed, was unreachable, or answered something unexpected.
    Failed(String),
}

impl MailError {
    /// The sentence.
    pub fn message(&self) -> &str {
        match self {
            MailError::Input(m)
            | MailError::NotFound(m)
            | MailError::Denied(m)
            | MailError::Failed(m) => m,
            MailError::Cancelled => "cancelled before Microsoft Graph answered",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            MailError::Input(_) => ErrorKind::INVALID_INPUT,
            MailError::NotFound(_) => ErrorKind::NOT_FOUND,
            MailError::Denied(_) => ErrorKind::DENIED,
            MailError::Cancelled => ErrorKind::CANCELLED,
            MailError::Failed(_) => ErrorKind::FAILED,
        }
    }
}

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl From<MailError> for PluginError {
    fn from(error: MailError) -> Self {
        PluginError::new(error.kind(), error.message())
    }
}

/// A value the caller gave, shown in a message: quoted, control characters escaped, cut at
/// 60 characters so a hostile one cannot flood a log or pose as text of ours.
pub fn shown(value: &str) -> String {
    let cut: String = value.chars().take(60).collect();
    let more = if value.chars().count() > 60 {
        "…"
    } else {
        ""
    };
    format!("{cut:?}{more}")
}
