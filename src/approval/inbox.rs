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

use crate::state::approvals::ApprovalRow;
use crate::state::{State, StateError};

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
