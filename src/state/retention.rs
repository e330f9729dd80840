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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::approvals::{ApprovalRow, Decided, GrantRow};

    fn answer(status: &str, keep_text: bool) -> Decided<'_> {
        Decided {
            status,
            remember: None,
            decided_by: "cli",
            keep_text,
            card: None,
        }
    }
    use crate::state::{AuditRecord, Outcome};

    fn question(id: &str, created: &str, expires: &str) -> ApprovalRow {
        ApprovalRow {
            id: id.into(),
            request_id: "r".into(),
            session: "session s".into(),
            client: None,
            pid: 1,
            tool: "t".into(),
            provider: "p".into(),
            definition_hash: "h".into(),
            args_sha256: "a".into(),
            summary: "Allow t?".into(),
            arguments: Some("{}".into()),
            created: created.into(),
            expires: expires.into(),
            status: "pending".into(),
            remember: None,
            decided: None,
            decided_by: None,
        }
    }

    fn grant(id: &str, scope: &str, created: &str) -> GrantRow {
        GrantRow {
            id: id.into(),
            tool: "t".into(),
            provider: "p".into(),
            definition_hash: "h".into(),
            scope: scope.into(),
            session: (scope == "session").then(|| "session s".into()),
            created: created.into(),
            created_by: "test".into(),
        }
    }

    #[test]
    fn purging_keeps_open_questions_and_standing_grants() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        let old = "2020-01-01T00:00:00.000Z";
        let far = "2999-01-01T00:00:00.000Z";
        let mut record = AuditRecord::new("r-old", "s", "tools/call");
        record.time = old.into();
        record.outcome = Outcome::Ok;
        state.record_audit(record);
        state.record_audit(AuditRecord::new("r-new", "s", "tools/call"));
        state
            .insert_approval(&question("settled", old, old))
            .unwrap();
        state
            .settle_approval("settled", "pending", "consumed")
            .unwrap();
        state.insert_approval(&question("open", old, far)).unwrap();
        state.insert_grant(&grant("always", "always", old)).unwrap();
        state
            .insert_grant(&grant("session", "session", old))
            .unwrap();
        state
            .insert_grant(&grant("revoked", "always", old))
            .unwrap();
        state.revoke_grant("revoked").unwrap();
        state.spend_state("spent", old).unwrap();

        let purged = state.purge("2021-01-01T00:00:00.000Z").unwrap();
        assert_eq!(
            purged,
            Purged {
                audit: 1,
                approvals: 1,
                grants: 1,
                states: 1
            }
        );
        assert!(state.approval("open").unwrap().is_some());
        // The old session grant went; the standing one stays (the revoked one, revoked just
        // now, stays until the retention passes its revocation).
        let grants: Vec<String> = state.grants().unwrap().into_iter().map(|g| g.id).collect();
        assert_eq!(grants, ["always"]);
        assert_eq!(state.recent_audit(10).unwrap().len(), 1);
        // The expired spent state is forgotten: it could be recorded again.
        assert!(state.spend_state("spent", far).unwrap());
    }

    #[test]
    fn answering_forgets_the_text_unless_kept_and_expiry_does_too() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("s.db")).unwrap();
        let far = "2999-01-01T00:00:00.000Z";
        state.insert_approval(&question("a", &now(), far)).unwrap();
        state.insert_approval(&question("b", &now(), far)).unwrap();
        assert!(
            state
                .decide_approval("a", &answer("approved", false))
                .unwrap()
        );
        assert!(state.decide_approval("b", &answer("denied", true)).unwrap());
        let a = state.approval("a").unwrap().unwrap();
        assert_eq!((a.summary.as_str(), a.arguments), ("", None));
        assert_eq!(state.approval("b").unwrap().unwrap().summary, "Allow t?");
        // One yes is taken once.
        assert!(state.settle_approval("a", "approved", "consumed").unwrap());
        assert!(!state.settle_approval("a", "approved", "consumed").unwrap());
        // An expired question can no longer be answered, and forgets its text.
        state
            .insert_approval(&question("c", &now(), "2020-01-01T00:00:00.000Z"))
            .unwrap();
        assert!(
            !state
                .decide_approval("c", &answer("approved", false))
                .unwrap()
        );
        assert_eq!(state.expire_questions(false).unwrap(), 1);
        let c = state.approval("c").unwrap().unwrap();
        assert_eq!((c.status.as_str(), c.summary.as_str()), ("expired", ""));
    }
}
