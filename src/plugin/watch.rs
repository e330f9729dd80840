//! Watching the plugins folder, so a library dropped in while switchboard runs is loaded.
//!
//! File systems report a copy as several events (create, writes, close); a library is handed
//! on only once it is complete: its events have been quiet for [`SETTLE`], its size and
//! modification time did not change over that time, and it reads as a whole object file
//! ([`super::object`]). A copy that pauses longer than that (a slow disk, a network share)
//! and is still cut short is waited for up to [`PATIENCE`] before it is handed on (and
//! refused by the loader, which checks again, naming the file); each later write starts
//! the wait again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::library::is_library;
use super::store::file_stamp;

/// How long a new library's events must be quiet, and its size and modification time
/// unchanged, before it is opened.
pub const SETTLE: Duration = Duration::from_millis(300);

/// How long a settled file that is still incomplete is waited for before it is handed on.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How often an incomplete, settled file is looked at again.
const RECHECK: Duration = Duration::from_secs(1);

/// A running watch; dropping it stops watching.
pub struct FolderWatch {
    _watcher: notify::RecommendedWatcher,
}

/// Watch `folder` (created if missing) and send each library that appears or changes, once
/// it has settled.
pub fn watch(
    folder: &Path,
    settled: mpsc::UnboundedSender<PathBuf>,
) -> notify::Result<FolderWatch> {
    std::fs::create_dir_all(folder).map_err(notify::Error::io)?;
    let (raw_tx, raw_rx) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Writes only: an open or a read (the loader's own, among others) changes nothing.
        if matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Modify(_)
                | EventKind::Access(AccessKind::Close(AccessMode::Write))
        ) {
            for path in event.paths {
                if is_library(&path) {
                    let _ = raw_tx.send(path);
                }
            }
        }
    })?;
    watcher.watch(folder, RecursiveMode::NonRecursive)?;
    tokio::spawn(settle(raw_rx, settled));
    Ok(FolderWatch { _watcher: watcher })
}

/// A file seen changing, not yet handed on.
struct Pending {
    /// When to look at it next.
    due: Instant,
    /// Its size and modification time when last looked at.
    stamp: Option<(i64, i64)>,
    /// Since when it has been settled but incomplete.
    incomplete_since: Option<Instant>,
}

/// Forward each path once it is complete (see the module's notes).
async fn settle(
    mut raw: mpsc::UnboundedReceiver<PathBuf>,
    settled: mpsc::UnboundedSender<PathBuf>,
) {
    let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
    loop {
        let next_due = pending.values().map(|p| p.due).min();
        tokio::select! {
            event = raw.recv() => match event {
                Some(path) => {
                    let stamp = file_stamp(&path);
                    let unchanged = pending.get(&path).is_some_and(|p| p.stamp == stamp);
                    if !unchanged {
                        pending.insert(path, Pending { due: Instant::now() + SETTLE, stamp, incomplete_since: None });
                    }
                }
                None => return,
            },
            () = async {
                match next_due {
                    Some(due) => tokio::time::sleep_until(due).await,
                    None => std::future::pending().await,
                }
            } => {
                let now = Instant::now();
                let ready: Vec<PathBuf> = pending.iter().filter(|(_, p)| p.due <= now).map(|(p, _)| p.clone()).collect();
                for path in ready {
                    let Some(mut entry) = pending.remove(&path) else { continue };
                    let stamp = file_stamp(&path);
                    if stamp.is_none() {
                        continue; // gone (or renamed away) before it settled
                    }
                    if stamp != entry.stamp {
                        // Written to without an event reaching us yet: wait again.
                        entry.stamp = stamp;
                        entry.due = now + SETTLE;
                        entry.incomplete_since = None;
                        pending.insert(path, entry);
                        continue;
                    }
                    let check_path = path.clone();
                    let complete = tokio::task::spawn_blocking(move || {
                        std::fs::read(&check_path).map(|bytes| super::object::check(&bytes))
                    })
                    .await;
                    let incomplete = matches!(complete, Ok(Ok(Err(super::object::Incomplete::Truncated { .. }))));
                    let since = *entry.incomplete_since.get_or_insert(now);
                    if incomplete && now.duration_since(since) < PATIENCE {
                        tracing::debug!(file = %path.display(), "a library in the plugins folder is not complete yet; waiting for the rest");
                        entry.due = now + RECHECK;
                        pending.insert(path, entry);
                        continue;
                    }
                    if settled.send(path).is_err() {
                        return;
                    }
                }
            }
        }
    }
}
