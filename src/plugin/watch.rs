//! Watching the plugins folder, so a library dropped in while switchboard runs is loaded.
//!
//! File systems report a copy as several events (create, writes, close); a library is opened
//! only after its events have been quiet for [`SETTLE`], so a half-written file is never loaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::library::is_library;

/// How long a new library's events must be quiet before it is opened.
pub const SETTLE: Duration = Duration::from_millis(300);

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
        if matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Access(_)
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

/// Forward each path once no event has arrived for it for [`SETTLE`].
async fn settle(
    mut raw: mpsc::UnboundedReceiver<PathBuf>,
    settled: mpsc::UnboundedSender<PathBuf>,
) {
    let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
    loop {
        let next_due = pending.values().min().copied();
        tokio::select! {
            event = raw.recv() => match event {
                Some(path) => { pending.insert(path, Instant::now() + SETTLE); }
                None => return,
            },
            () = async {
                match next_due {
                    Some(due) => tokio::time::sleep_until(due).await,
                    None => std::future::pending().await,
                }
            } => {
                let now = Instant::now();
                let ready: Vec<PathBuf> = pending.iter().filter(|(_, due)| **due <= now).map(|(p, _)| p.clone()).collect();
                for path in ready {
                    pending.remove(&path);
                    if path.is_file() && settled.send(path).is_err() {
                        return;
                    }
                }
            }
        }
    }
}
