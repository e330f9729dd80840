//! The approval records: questions in the inbox, the grants people gave, and every tool
//! definition seen (so a changed definition is noticed).
//!
//! Several processes share these tables: one switchboard waits on a question another process
//! (`switchboard approvals approve`) answers. Writes that someone waits on go through the
//! writer and return once committed; the decision is then visible to every reader.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{State, StateError, now};

/// One question in the approval inbox.
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalRow {
    /// Short id a person types: `switchboard approvals approve <id>`.
    pub id: String,
    /// The audit request id of the waiting call.
    pub request_id: String,
    /// Who asked, and the only one its answer serves: a session id, or for stateless
    /// (2026-07-28) requests the client identity they carry.
    pub session: String,
    /// The asking client's `name/version`, for the person.
    pub client: Option<String>,
    /// The process that waits.
    pub pid: i64,
    /// The tool as clients see it.
    pub tool: String,
    /// Its provider.
    pub provider: String,
    /// Hash of the tool's definition when asked.
    pub definition_hash: String,
    /// SHA-256 of the arguments.
    pub args_sha256: String,
    /// The question as the person reads it; emptied once settled unless
    /// `audit.store_arguments`.
    pub summary: String,
    /// The arguments' JSON while the question is open (the page shows long values whole).
    pub arguments: Option<String>,
    /// When it was asked.
    pub created: String,
    /// When it can no longer be answered.
    pub expires: String,
    /// `pending`, `approved`, `denied`, `expired` or `consumed`.
    pub status: String,
    /// With an approval: `session` or `always` to also remember it.
    pub remember: Option<String>,
    /// When it was decided.
    pub decided: Option<String>,
    /// Who decided (the command or page).
    pub decided_by: Option<String>,
}

/// An answer to a question, as [`State::decide_approval`] records it.
pub struct Decided<'a> {
    /// `approved` or `denied`.
    pub status: &'a str,
    /// With an approval: `session` or `always` to also remember it.
    pub remember: Option<&'a str>,
    /// Who decided (the command, the page, the card).
    pub decided_by: &'a str,
    /// Keep the readable text (`audit.store_arguments`).
    pub keep_text: bool,
    /// For an App card's answer: the nonce the question was given, and the asker it must
    /// belong to.
    pub card: Option<(&'a str, &'a str)>,
}

/// A remembered approval.
#[derive(Clone, Debug, Serialize)]
pub struct GrantRow {
    /// Its id, for `switchboard approvals revoke`.
    pub id: String,
    /// The tool.
    pub tool: String,
    /// Its provider.
    pub provider: String,
    /// The definition it was given for; a changed definition voids it.
    pub definition_hash: String,
    /// `session` or `always`.
    pub scope: String,
    /// The session a `session` grant belongs to.
    pub session: Option<String>,
    /// When it was given.
    pub created: String,
    /// How it was given.
    pub created_by: String,
}

/// A tool definition as first seen, and whether it changed since.
#[derive(Clone, Debug, Serialize)]
pub struct DefinitionRow {
    /// The tool.
    pub tool: String,
    /// Its provider.
    pub provider: String,
    /// The current definition's hash.
    pub hash: String,
    /// First seen.
    pub first_seen: String,
    /// Last seen.
    pub last_seen: String,
    /// The hash before the last change.
    pub previous_hash: Option<String>,
    /// When it last changed.
    pub changed: Option<String>,
}

const APPROVAL_COLUMNS: &str = "id, request_id, session, pid, tool, provider, definition_hash,
    args_sha256, summary, created, expires, status, remember, decided, decided_by, client,
    arguments";

fn approval_row(r: &Row<'_>) -> rusqlite::Result<ApprovalRow> {
    Ok(ApprovalRow {
        id: r.get(0)?,
        request_id: r.get(1)?,
        session: r.get(2)?,
        pid: r.get(3)?,
        tool: r.get(4)?,
        provider: r.get(5)?,
        definition_hash: r.get(6)?,
        args_sha256: r.get(7)?,
        summary: r.get(8)?,
        created: r.get(9)?,
        expires: r.get(10)?,
        status: r.get(11)?,
        remember: r.get(12)?,
        decided: r.get(13)?,
        decided_by: r.get(14)?,
        client: r.get(15)?,
        arguments: r.get(16)?,
    })
}

const GRANT_COLUMNS: &str =
    "id, tool, provider, definition_hash, scope, session, created, created_by";

fn grant_row(r: &Row<'_>) -> rusqlite::Result<GrantRow> {
    Ok(GrantRow {
        id: r.get(0)?,
        tool: r.get(1)?,
        provider: r.get(2)?,
        definition_hash: r.get(3)?,
        scope: r.get(4)?,
        session: r.get(5)?,
        created: r.get(6)?,
        created_by: r.get(7)?,
    })
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

fn optional(value: Option<&str>) -> Value {
    value.map(text).unwrap_or(Value::Null)
}

impl State {
    /// Put a question in the inbox; durable when this returns (blocking).
    pub fn insert_approval(&self, row: &ApprovalRow) -> Result<(), StateError> {
        self.execute(
            "INSERT INTO approvals (id, request_id, session, pid, tool, provider, definition_hash,
                 args_sha256, summary, created, expires, status, client, arguments)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'pending', ?12, ?13)",
            vec![
                text(&row.id),
                text(&row.request_id),
                text(&row.session),
                Value::Integer(row.pid),
                text(&row.tool),
                text(&row.provider),
                text(&row.definition_hash),
                text(&row.args_sha256),
                text(&row.summary),
                text(&row.created),
                text(&row.expires),
                optional(row.client.as_deref()),
                optional(row.arguments.as_deref()),
            ],
        )
        .map(|_| ())
    }

    /// Decide a pending, unexpired question as `answer` says; `false` when it was not
    /// pending (already decided, expired, or no such id) or, for a card's answer, not that
    /// asker's or not with the nonce it was given. A given nonce is spent. The readable text
    /// goes unless `answer.keep_text`. Blocking.
    pub fn decide_approval(&self, id: &str, answer: &Decided<'_>) -> Result<bool, StateError> {
        let (nonce, asker) = match answer.card {
            Some((nonce, asker)) => (text(nonce), text(asker)),
            None => (Value::Null, Value::Null),
        };
        self.execute(
            "UPDATE approvals SET status = ?2, remember = ?3, decided = ?4, decided_by = ?5,
                 nonce = NULL,
                 summary = CASE WHEN ?6 THEN summary ELSE '' END,
                 arguments = CASE WHEN ?6 THEN arguments ELSE NULL END
             WHERE id = ?1 AND status = 'pending' AND expires > ?4
               AND (?7 IS NULL OR (nonce = ?7 AND session = ?8))",
            vec![
                text(id),
                text(answer.status),
                optional(answer.remember),
                text(now()),
                text(answer.decided_by),
                Value::Integer(i64::from(answer.keep_text)),
                nonce,
                asker,
            ],
        )
        .map(|changed| changed == 1)
    }

    /// Move a question from `from` to `to` (an answered one to `consumed`); `false` when it
    /// was not in `from`, so of several calls racing for one answer exactly one wins.
    /// Blocking.
    pub fn settle_approval(&self, id: &str, from: &str, to: &str) -> Result<bool, StateError> {
        self.execute(
            "UPDATE approvals SET status = ?3 WHERE id = ?1 AND status = ?2",
            vec![text(id), text(from), text(to)],
        )
        .map(|changed| changed == 1)
    }

    /// Mark questions nobody answered in time as `expired`, forgetting their text unless
    /// `keep_text`. Blocking.
    pub fn expire_questions(&self, keep_text: bool) -> Result<usize, StateError> {
        self.execute(
            "UPDATE approvals SET status = 'expired',
                 summary = CASE WHEN ?2 THEN summary ELSE '' END,
                 arguments = CASE WHEN ?2 THEN arguments ELSE NULL END
             WHERE status = 'pending' AND expires <= ?1",
            vec![text(now()), Value::Integer(i64::from(keep_text))],
        )
    }

    /// The newest open question `asker` put about a call with these arguments (of `tool`, when
    /// given): what an MCP App card shows.
    pub fn question_for(
        &self,
        asker: &str,
        tool: Option<&str>,
        args_sha256: &str,
    ) -> Result<Option<ApprovalRow>, StateError> {
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals
                     WHERE session = ?1 AND args_sha256 = ?2 AND (?3 IS NULL OR tool = ?3)
                       AND status = 'pending' AND expires > ?4
                     ORDER BY created DESC LIMIT 1"
                ),
                params![asker, args_sha256, tool, now()],
                approval_row,
            )
            .optional()
        })
    }

    /// Give open question `id` a fresh nonce, replacing any earlier one; `false` when it is
    /// no longer open. Blocking.
    pub fn give_nonce(&self, id: &str, nonce: &str) -> Result<bool, StateError> {
        self.execute(
            "UPDATE approvals SET nonce = ?2 WHERE id = ?1 AND status = 'pending' AND expires > ?3",
            vec![text(id), text(nonce), text(now())],
        )
        .map(|changed| changed == 1)
    }

    /// Forget question `id`'s readable text (its digest stays). Blocking.
    pub fn forget_text(&self, id: &str) -> Result<(), StateError> {
        self.execute(
            "UPDATE approvals SET summary = '', arguments = NULL WHERE id = ?1",
            vec![text(id)],
        )
        .map(|_| ())
    }

    /// Record that a sealed request state was used; `false` when it already was (a
    /// replay). Blocking.
    pub fn spend_state(&self, digest: &str, expires: &str) -> Result<bool, StateError> {
        self.execute(
            "INSERT OR IGNORE INTO spent_states (digest, expires) VALUES (?1, ?2)",
            vec![text(digest), text(expires)],
        )
        .map(|changed| changed == 1)
    }

    /// One question.
    pub fn approval(&self, id: &str) -> Result<Option<ApprovalRow>, StateError> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = ?1"),
                params![id],
                approval_row,
            )
            .optional()
        })
    }

    /// The questions waiting for an answer, oldest first.
    pub fn pending_approvals(&self) -> Result<Vec<ApprovalRow>, StateError> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {APPROVAL_COLUMNS} FROM approvals
                 WHERE status = 'pending' AND expires > ?1 ORDER BY created"
            ))?;
            let rows = stmt.query_map(params![now()], approval_row)?;
            rows.collect()
        })
    }

    /// A question `asker` put about exactly this call (tool, definition, arguments) that was
    /// answered but not yet used, and has not expired: an answer given after the asking call
    /// returned approves its repetition.
    pub fn answered_approval(
        &self,
        tool: &str,
        hash: &str,
        args_sha256: &str,
        asker: &str,
    ) -> Result<Option<ApprovalRow>, StateError> {
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals
                     WHERE tool = ?1 AND definition_hash = ?2 AND args_sha256 = ?3
                       AND session = ?4 AND status IN ('approved', 'denied') AND expires > ?5
                     ORDER BY decided DESC LIMIT 1"
                ),
                params![tool, hash, args_sha256, asker, now()],
                approval_row,
            )
            .optional()
        })
    }

    /// A question `asker` put about exactly this call still waiting for an answer, so a
    /// repeated call waits on the same question instead of asking twice.
    pub fn open_question(
        &self,
        tool: &str,
        hash: &str,
        args_sha256: &str,
        asker: &str,
    ) -> Result<Option<ApprovalRow>, StateError> {
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals
                     WHERE tool = ?1 AND definition_hash = ?2 AND args_sha256 = ?3
                       AND session = ?4 AND status = 'pending' AND expires > ?5
                     ORDER BY created DESC LIMIT 1"
                ),
                params![tool, hash, args_sha256, asker, now()],
                approval_row,
            )
            .optional()
        })
    }

    /// Remember an approval; durable when this returns (blocking).
    pub fn insert_grant(&self, grant: &GrantRow) -> Result<(), StateError> {
        self.execute(
            "INSERT INTO grants (id, tool, provider, definition_hash, scope, session, created, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            vec![
                text(&grant.id),
                text(&grant.tool),
                text(&grant.provider),
                text(&grant.definition_hash),
                text(&grant.scope),
                optional(grant.session.as_deref()),
                text(&grant.created),
                text(&grant.created_by),
            ],
        )
        .map(|_| ())
    }

    /// Revoke a grant; `false` when there was no such live grant. Blocking.
    pub fn revoke_grant(&self, id: &str) -> Result<bool, StateError> {
        self.execute(
            "UPDATE grants SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
            vec![text(id), text(now())],
        )
        .map(|changed| changed == 1)
    }

    /// The live grants, newest first.
    pub fn grants(&self) -> Result<Vec<GrantRow>, StateError> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE revoked IS NULL ORDER BY created DESC"
            ))?;
            let rows = stmt.query_map([], grant_row)?;
            rows.collect()
        })
    }

    /// The live grant that covers `tool` with definition `hash` in `session`, if any.
    pub fn matching_grant(
        &self,
        tool: &str,
        hash: &str,
        session: &str,
    ) -> Result<Option<GrantRow>, StateError> {
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT {GRANT_COLUMNS} FROM grants
                     WHERE revoked IS NULL AND tool = ?1 AND definition_hash = ?2
                       AND (scope = 'always' OR (scope = 'session' AND session = ?3))
                     ORDER BY scope = 'always' DESC LIMIT 1"
                ),
                params![tool, hash, session],
                grant_row,
            )
            .optional()
        })
    }

    /// Every tool definition on record.
    pub fn definitions(&self) -> Result<Vec<DefinitionRow>, StateError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT tool, provider, hash, first_seen, last_seen, previous_hash, changed
                 FROM tool_definitions ORDER BY tool",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(DefinitionRow {
                    tool: r.get(0)?,
                    provider: r.get(1)?,
                    hash: r.get(2)?,
                    first_seen: r.get(3)?,
                    last_seen: r.get(4)?,
                    previous_hash: r.get(5)?,
                    changed: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Record that `tool` of `provider` has definition `hash` now (queued).
    pub fn observe_definition(&self, tool: &str, provider: &str, hash: &str) {
        self.execute_later(
            "INSERT INTO tool_definitions (tool, provider, hash, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (tool) DO UPDATE SET
                 last_seen = excluded.last_seen,
                 provider = excluded.provider,
                 previous_hash = CASE WHEN hash <> excluded.hash THEN hash ELSE previous_hash END,
                 changed = CASE WHEN hash <> excluded.hash THEN excluded.last_seen ELSE changed END,
                 hash = excluded.hash",
            vec![text(tool), text(provider), text(hash), text(now())],
        );
    }
}
