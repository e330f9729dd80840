//! The approval inbox: questions kept in the shared database for clients that cannot ask
//! the person themselves, answered from any terminal or the local page.
//!
//! The process that decides writes the answer to the database, then touches a file named
//! after the question in `<state>/approvals/`. The waiting process watches that folder, so it
//! wakes the moment an answer lands; a slow re-check covers file systems without change
//! notifications.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::requester::Requester;
use crate::state::approvals::ApprovalRow;
use crate::state::{State, StateError};

/// How long an unanswered question can still be answered (for a retry).
const RETRY_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// A question to put to the person.
pub struct Question<'a> {
    /// What asks: a tool's name, or "<plugin>: question".
    pub subject: &'a str,
    /// Its provider.
    pub provider: &'a str,
    /// The tool's definition hash (`-` for plugin questions).
    pub definition_hash: &'a str,
    /// SHA-256 binding the answer to exactly this question.
    pub args_sha256: &'a str,
    /// What the person reads.
    pub summary: &'a str,
    /// The session asking.
    pub session: &'a str,
}

/// How asking through the inbox ended.
pub enum Waited {
    /// Someone answered (the row says how); it is marked used.
    Answered(Box<ApprovalRow>),
    /// Nobody answered in time; `how` says how the person can still answer it.
    TimedOut {
        /// The instructions.
        how: String,
    },
    /// The request was cancelled while waiting.
    Cancelled,
    /// The inbox could not be used.
    Failed(String),
}

fn stamp(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Put `question` in the inbox (or join the same question already waiting), tell the
/// requester and the log where to answer, and wait at most `timeout`.
pub async fn ask(
    state: &State,
    question: &Question<'_>,
    requester: &Requester,
    timeout: Duration,
) -> Waited {
    let existing = tokio::task::block_in_place(|| {
        state.open_question(
            question.subject,
            question.definition_hash,
            question.args_sha256,
        )
    });
    let id = match existing {
        Ok(Some(row)) => row.id,
        Ok(None) | Err(_) => {
            let created = chrono::Utc::now();
            let row = ApprovalRow {
                id: new_id(),
                request_id: requester.request_id().to_string(),
                session: question.session.to_string(),
                pid: i64::from(std::process::id()),
                tool: question.subject.to_string(),
                provider: question.provider.to_string(),
                definition_hash: question.definition_hash.to_string(),
                args_sha256: question.args_sha256.to_string(),
                summary: question.summary.to_string(),
                created: stamp(created),
                expires: stamp(created + RETRY_WINDOW),
                status: "pending".into(),
                remember: None,
                decided: None,
                decided_by: None,
            };
            if let Err(e) = tokio::task::block_in_place(|| state.insert_approval(&row)) {
                return Waited::Failed(format!(
                    "cannot record the question in the approval inbox: {e}"
                ));
            }
            row.id
        }
    };
    let how = format!(
        "approve it with `switchboard approvals approve {id}` (add `--remember session` or `--remember always`), deny it with `switchboard approvals deny {id}`, or use the page `switchboard approvals ui` serves"
    );
    let notice = format!("switchboard: {} needs approval: {how}", question.subject);
    tracing::warn!("{notice}");
    #[allow(deprecated)] // MCP log levels are deprecated in 2026-07-28 only.
    let level = rmcp::model::LoggingLevel::Warning;
    requester
        .log(
            level,
            Some("switchboard/approvals".into()),
            serde_json::Value::String(notice),
        )
        .await;
    let deadline = tokio::time::Instant::now() + timeout;
    match wait(state, &id, deadline, requester.cancellation()).await {
        Ok(Some(row)) => {
            let _ =
                tokio::task::block_in_place(|| state.settle_approval(&id, &row.status, "consumed"));
            Waited::Answered(Box::new(row))
        }
        Ok(None) if requester.is_cancelled() => Waited::Cancelled,
        Ok(None) => Waited::TimedOut { how },
        Err(e) => Waited::Failed(format!("waiting for the approval failed: {e}")),
    }
}

/// How often the database is re-read when no change notification arrives.
const RECHECK: Duration = Duration::from_secs(2);

/// The folder of answer signals.
pub fn signal_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("approvals")
}

/// A fresh question id: 8 lowercase letters and digits, easy to type.
pub fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to the clock and process id (ids only need to be
        // unique, not secret).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
            ^ u128::from(std::process::id());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..8]);
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Tell waiting processes that question `id` was answered.
pub fn signal(state_dir: &Path, id: &str) {
    let dir = signal_dir(state_dir);
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(id), b"")) {
        tracing::warn!(error = %e, "cannot signal the approval; the waiting call notices within {RECHECK:?}");
    }
}

/// Answer a pending question from this process (CLI, page): record it, then signal.
/// `false` when it was not pending.
pub fn decide(
    state: &State,
    id: &str,
    approve: bool,
    remember: Option<&str>,
    decided_by: &str,
) -> Result<bool, StateError> {
    let status = if approve { "approved" } else { "denied" };
    let decided = state.decide_approval(id, status, remember, decided_by)?;
    if decided {
        signal(&state_dir_of(state), id);
    }
    Ok(decided)
}

fn state_dir_of(state: &State) -> PathBuf {
    state
        .path()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Wait until question `id` is no longer pending, or `deadline` passes (then `None`).
pub async fn wait(
    state: &State,
    id: &str,
    deadline: tokio::time::Instant,
    cancelled: &tokio_util::sync::CancellationToken,
) -> Result<Option<ApprovalRow>, StateError> {
    let dir = signal_dir(&state_dir_of(state));
    let (wake_tx, mut wake) = mpsc::unbounded_channel::<()>();
    // Watch before the first read, so an answer landing in between is not missed.
    let _watch = std::fs::create_dir_all(&dir).ok().and_then(|()| {
        let target = dir.join(id);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if event.is_ok_and(|e| e.paths.iter().any(|p| p == &target)) {
                    let _ = wake_tx.send(());
                }
            })
            .ok()?;
        watcher.watch(&dir, RecursiveMode::NonRecursive).ok()?;
        Some(watcher)
    });
    loop {
        let row = {
            let state = state.clone();
            let id = id.to_string();
            tokio::task::spawn_blocking(move || state.approval(&id))
                .await
                .map_err(|e| StateError::Write(e.to_string()))??
        };
        match row {
            Some(row) if row.status != "pending" => return Ok(Some(row)),
            None => return Ok(None),
            Some(_) => {}
        }
        tokio::select! {
            _ = wake.recv() => {}
            () = tokio::time::sleep(RECHECK) => {}
            () = tokio::time::sleep_until(deadline) => return Ok(None),
            () = cancelled.cancelled() => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 8);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
}
