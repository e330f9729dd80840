//! Retention: deleting what is older than `audit.retention`, so the database holds a bounded
//! history. Live "always" grants are kept whatever their age (they are the person's standing
//! answers); open questions are kept until they expire.

use rusqlite::types::Value;
use serde::Serialize;

use super::{State, StateError, now, stamp};

/// How many rows a purge deleted, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Audit rows.
    pub audit: usize,
    /// Settled or expired approval questions.
    pub approvals: usize,
    /// Revoked grants and session grants.
    pub grants: usize,
    /// Spent request states past their expiry.
    pub states: usize,
}

/// The moment `age` ago, as the database stores times (the earliest time there is, for an
/// age longer than that).
pub fn cutoff(age: std::time::Duration) -> String {
    let then = chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    stamp(then)
}

impl State {
    /// Delete audit rows, settled questions and revoked or session grants from before
    /// `before` (RFC 3339, UTC, as the database stores times), and spent request states that
    /// have expired. Blocking: each statement goes through the writer and is committed when
    /// this returns.
    pub fn purge(&self, before: &str) -> Result<Purged, StateError> {
        let cut = || vec![Value::Text(before.to_string())];
        Ok(Purged {
            audit: self.execute("DELETE FROM audit WHERE time < ?1", cut())?,
            approvals: self.execute(
                "DELETE FROM approvals WHERE created < ?1 AND (status <> 'pending' OR expires < ?1)",
                cut(),
            )?,
            grants: self.execute(
                "DELETE FROM grants WHERE (revoked IS NOT NULL AND revoked < ?1)
                     OR (scope = 'session' AND created < ?1)",
                cut(),
            )?,
            states: self.execute(
                "DELETE FROM spent_states WHERE expires < ?1",
                vec![Value::Text(now())],
            )?,
        })
    }
}
