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

use super::attention::Attention;
use crate::requester::Requester;
use crate::state::approvals::{ApprovalRow, Decided};
use crate::state::{State, StateError, stamp};

/// How many times one call goes back to ask when identical calls keep taking the answer.
const MAX_ROUNDS: usize = 16;

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
    pub text: &'a str,
    /// The arguments' JSON, shown whole on the page while the question is open.
    pub arguments: Option<&'a str>,
    /// Who asks; only this asker's calls are served by the answer.
    pub asker: &'a str,
    /// The asking client's `name/version`.
    pub client: Option<&'a str>,
    /// When the question expires.
    pub expires: chrono::DateTime<chrono::Utc>,
}

/// How asking through the inbox ended.
pub enum Waited {
    /// Someone answered (the row says how), and this call took the answer: an approval
    /// serves exactly one call.
    Answered(Box<ApprovalRow>),
    /// Nobody answered within the wait; the question stays open until it expires.
    Open(Box<ApprovalRow>),
    /// The request was cancelled while waiting.
    Cancelled,
    /// The inbox could not be used.
    Failed(String),
}

/// Ask `question` and wait at most `wait` for the answer.
///
/// An answer given earlier to the same asker's identical call (after that call returned)
/// is taken first; otherwise the call joins the same asker's open question about the same
/// call, or puts a new one (announced). Several identical calls may wait on one question:
/// a yes is taken by exactly one of them (the `approved → consumed` update only one can
/// make, in any process), and the others go back and ask again. A no answers all of them.
pub async fn ask(
    state: &State,
    question: &Question<'_>,
    requester: &Requester,
    wait: Duration,
    attention: &Attention,
) -> Waited {
    let deadline = tokio::time::Instant::now() + wait;
    let blocking = |f: &dyn Fn(&State) -> Result<Option<ApprovalRow>, StateError>| {
        tokio::task::block_in_place(|| f(state))
    };
    for _ in 0..MAX_ROUNDS {
        let earlier = blocking(&|s| {
            s.answered_approval(
                question.subject,
                question.definition_hash,
                question.args_sha256,
                question.asker,
            )
        });
        match earlier {
            Ok(Some(row)) => match take(state, row) {
                Some(row) => return Waited::Answered(row),
                None => continue,
            },
            Ok(None) => {}
            Err(e) => return Waited::Failed(format!("cannot read the approval inbox: {e}")),
        }
        let open = blocking(&|s| {
            s.open_question(
                question.subject,
                question.definition_hash,
                question.args_sha256,
                question.asker,
            )
        });
        let row = match open {
            Ok(Some(row)) => row,
            Ok(None) => match put(state, question, requester) {
                Ok(row) => {
                    attention.announce(&row).await;
                    tell(requester, &row, attention).await;
                    row
                }
                Err(e) => {
                    return Waited::Failed(format!(
                        "cannot record the question in the approval inbox: {e}"
                    ));
                }
            },
            Err(e) => return Waited::Failed(format!("cannot read the approval inbox: {e}")),
        };
        let expires = chrono::DateTime::parse_from_rfc3339(&row.expires)
            .map(|t| {
                let left = (t.with_timezone(&chrono::Utc) - chrono::Utc::now())
                    .to_std()
                    .unwrap_or_default();
                tokio::time::Instant::now() + left
            })
            .unwrap_or(deadline);
        match self::wait(
            state,
            &row.id,
            deadline.min(expires),
            requester.cancellation(),
        )
        .await
        {
            Ok(Some(answered)) => match take(state, answered) {
                Some(row) => return Waited::Answered(row),
                // Another identical call took the yes: ask again.
                None => continue,
            },
            Ok(None) if requester.is_cancelled() => return Waited::Cancelled,
            Ok(None) => return Waited::Open(Box::new(row)),
            Err(e) => return Waited::Failed(format!("waiting for the approval failed: {e}")),
        }
    }
    Waited::Failed(
        "identical calls kept taking the answers; ask the person again by repeating the call"
            .into(),
    )
}

/// Take an answered question for this call: a yes only if this call is the one that moves it
/// to `consumed`; a no always (it stays `denied`, answering every identical call of this
/// asker until it expires). `None`: nothing to take (another call took the yes, or the
/// question expired), so ask again.
fn take(state: &State, row: ApprovalRow) -> Option<Box<ApprovalRow>> {
    match row.status.as_str() {
        "approved" => {
            let won = tokio::task::block_in_place(|| {
                state.settle_approval(&row.id, "approved", "consumed")
            });
            matches!(won, Ok(true)).then(|| Box::new(row))
        }
        "denied" => Some(Box::new(row)),
        _ => None,
    }
}

/// Say in the log, and to the client as a log notification, that a question waits.
async fn tell(requester: &Requester, row: &ApprovalRow, attention: &Attention) {
    let url = attention.page_url().await;
    let how = super::attention::how_to_answer(&row.id, url.as_deref());
    let notice = format!("switchboard: {} needs approval: {how}", row.tool);
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
}

fn put(
    state: &State,
    question: &Question<'_>,
    requester: &Requester,
) -> Result<ApprovalRow, StateError> {
    let row = ApprovalRow {
        id: new_id(),
        request_id: requester.request_id().to_string(),
        session: question.asker.to_string(),
        client: question.client.map(str::to_string),
        pid: i64::from(std::process::id()),
        tool: question.subject.to_string(),
        provider: question.provider.to_string(),
        definition_hash: question.definition_hash.to_string(),
        args_sha256: question.args_sha256.to_string(),
        summary: question.text.to_string(),
        arguments: question.arguments.map(str::to_string),
        created: stamp(chrono::Utc::now()),
        expires: stamp(question.expires),
        status: "pending".into(),
        remember: None,
        decided: None,
        decided_by: None,
    };
    tokio::task::block_in_place(|| state.insert_approval(&row))?;
    Ok(row)
}

/// Whether the process that put `row` has ended while the question is bound to one of its
/// sessions, so that no call can ever take its answer (a stateless client's question can
/// still be taken by any process serving that client).
pub fn orphaned(row: &ApprovalRow) -> bool {
    row.session.starts_with("session ") && !process_alive(row.pid)
}

#[cfg(unix)]
fn process_alive(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // Signal 0 checks without sending; EPERM means it exists under another user.
    let answer = unsafe { libc::kill(pid, 0) };
    answer == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: i64) -> bool {
    // Not checked here: such questions simply expire with their time.
    true
}

/// Expire the open questions no call can take any more ([`orphaned`]), forgetting their
/// text unless `keep_text`. Blocking.
pub fn expire_orphans(state: &State, keep_text: bool) -> Result<usize, StateError> {
    let mut expired = 0;
    for row in state.pending_approvals()? {
        if orphaned(&row) && state.settle_approval(&row.id, "pending", "expired")? {
            if !keep_text {
                state.forget_text(&row.id)?;
            }
            expired += 1;
        }
    }
    Ok(expired)
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

/// Answer a pending question from this process (CLI, page, card): record it, then signal
/// the waiting call. `false` when it was not taken ([`State::decide_approval`]).
pub fn decide(state: &State, id: &str, answer: &Decided<'_>) -> Result<bool, StateError> {
    let decided = state.decide_approval(id, answer)?;
    if decided {
        signal(&state_dir_of(state), id);
    }
    Ok(decided)
}

/// The folder of the state database.
pub fn state_dir_of(state: &State) -> PathBuf {
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
