//! Who is on the other end: a session id and the client's self-description, for the audit
//! log and for request ids that stay unique across processes sharing one database.

use std::sync::atomic::{AtomicU64, Ordering};

/// One connection (or the CLI's one-shot use).
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// Unique across processes: process id, start time and a counter.
    pub id: String,
    /// `name/version` of the client, when it said.
    pub client: Option<String>,
}

impl SessionInfo {
    /// A new session id.
    pub fn new(client: Option<String>) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        Self {
            id: format!("{:x}-{}-{n}", started, std::process::id()),
            client,
        }
    }

    /// Who asks, as approval answers and grants are bound: this session, or for a stateless
    /// (2026-07-28) request, which has none, the client identity it carries.
    pub fn asker(&self, stateless: bool) -> String {
        if stateless {
            format!("client {}", self.client.as_deref().unwrap_or("(unnamed)"))
        } else {
            format!("session {}", self.id)
        }
    }

    /// The audit request id of the JSON-RPC request `jsonrpc_id` in this session.
    pub fn request_id(&self, jsonrpc_id: impl std::fmt::Display) -> String {
        format!("{}/{jsonrpc_id}", self.id)
    }
}
