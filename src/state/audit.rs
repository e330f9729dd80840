//! Audit rows: one per request the host serves, written by the state writer.
//!
//! A row holds what was asked (method, tool, provider), by whom (session, client), how it
//! ended and how long it took, and a SHA-256 digest of the arguments; the arguments themselves
//! only when `audit.store_arguments` is on.

use rusqlite::{Connection, Row, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It succeeded.
    Ok,
    /// The tool ran and reported a failure (`isError: true`).
    ToolError,
    /// The request failed (unknown tool, plugin error, invalid arguments...).
    Error,
    /// It ran out of time.
    Timeout,
    /// The client cancelled it.
    Cancelled,
    /// An approval decision: the call may run.
    Approved,
    /// An approval decision: the call may not run.
    Denied,
}

impl Outcome {
    /// The text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
            Outcome::Approved => "approved",
            Outcome::Denied => "denied",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "ok" => Outcome::Ok,
            "tool_error" => Outcome::ToolError,
            "timeout" => Outcome::Timeout,
            "cancelled" => Outcome::Cancelled,
            "approved" => Outcome::Approved,
            "denied" => Outcome::Denied,
            _ => Outcome::Error,
        }
    }
}

/// One audit row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The request's id, unique across processes (`<session>/<JSON-RPC id>`).
    pub request_id: String,
    /// When the request arrived (RFC 3339, UTC).
    pub time: String,
    /// The session (one per connection).
    pub session: String,
    /// The client's name and version, when it said.
    pub client: Option<String>,
    /// The MCP method, e.g. `tools/call`.
    pub method: String,
    /// The tool, prompt or resource the request named.
    pub tool: Option<String>,
    /// The provider that served it.
    pub provider: Option<String>,
    /// SHA-256 of the arguments' JSON text, hex.
    pub args_sha256: Option<String>,
    /// The arguments, only when configured.
    pub arguments: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The error text, when it failed.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// For approval decisions: which rule, grant or answer decided.
    pub decided_by: Option<String>,
}

impl AuditRecord {
    /// A row for `method` in `session`, timestamped now, outcome `Ok` until set.
    pub fn new(
        request_id: impl Into<String>,
        session: impl Into<String>,
        method: impl Into<String>,
    ) -> Self {
        Self {
            request_id: request_id.into(),
            time: super::now(),
            session: session.into(),
            client: None,
            method: method.into(),
            tool: None,
            provider: None,
            args_sha256: None,
            arguments: None,
            outcome: Outcome::Ok,
            error: None,
            duration_ms: 0.0,
            decided_by: None,
        }
    }
}

/// Hex SHA-256 of `text`.
pub fn digest(text: &str) -> String {
    digest_bytes(text.as_bytes())
}

/// Hex SHA-256 of `bytes`.
pub fn digest_bytes(bytes: &[u8]) -> String {
    // Every call digests its arguments: into a fixed buffer, not char by char into a String.
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(bytes), &mut hex).expect("64 hex digits hold 32 bytes");
    String::from_utf8_lossy(&hex).into_owned()
}

pub(super) fn insert(conn: &Connection, r: &AuditRecord) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO audit (request_id, time, session, client, method, tool, provider,
                            args_sha256, arguments, outcome, error, duration_ms, decided_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    stmt.execute(params![
        r.request_id,
        r.time,
        r.session,
        r.client,
        r.method,
        r.tool,
        r.provider,
        r.args_sha256,
        r.arguments,
        r.outcome.as_str(),
        r.error,
        r.duration_ms,
        r.decided_by
    ])?;
    Ok(())
}

const COLUMNS: &str = "request_id, time, session, client, method, tool, provider, args_sha256,
                       arguments, outcome, error, duration_ms, decided_by";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        request_id: r.get(0)?,
        time: r.get(1)?,
        session: r.get(2)?,
        client: r.get(3)?,
        method: r.get(4)?,
        tool: r.get(5)?,
        provider: r.get(6)?,
        args_sha256: r.get(7)?,
        arguments: r.get(8)?,
        outcome: Outcome::parse(&r.get::<_, String>(9)?),
        error: r.get(10)?,
        duration_ms: r.get(11)?,
        decided_by: r.get(12)?,
    })
}

pub(super) fn recent(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<AuditRecord>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM audit ORDER BY id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map(params![limit], from_row)?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_are_lowercase_hex_sha256() {
        assert_eq!(
            super::digest(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            super::digest("{\"text\":\"hi\"}"),
            "e7b995efa755c5ff3b84d2188b58cb4ae916a59470eb3761df8a814f11763500"
        );
    }
}
