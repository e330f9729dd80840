//! macOS and Windows: each root watched whole through the `notify` crate (FSEvents,
//! ReadDirectoryChangesW), where a watch is recursive by nature; what the rules hide is
//! filtered when the change is applied.

use std::path::Path;
use std::sync::Mutex;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::{Added, Seen};

/// The platform's recursive watcher.
pub struct Folders {
    watcher: Mutex<RecommendedWatcher>,
    watched: Mutex<usize>,
}

impl Folders {
    /// Each root is watched whole; the walks' folders are not watched one by one.
    pub const BY_FOLDER: bool = false;

    pub fn start(sink: impl Fn(Seen) + Send + 'static) -> Result<Self, String> {
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            match event {
                Ok(event) if event.need_rescan() => sink(Seen::Rescan),
                Ok(event) => {
                    let relevant = matches!(
                        event.kind,
                        EventKind::Create(_)
                            | EventKind::Modify(_)
                            | EventKind::Remove(_)
                            | EventKind::Any
                    );
                    if relevant && !event.paths.is_empty() {
                        sink(Seen::Paths(event.paths));
                    }
                }
                // An error from the watcher itself: the only safe answer is to look at
                // everything again.
                Err(_) => sink(Seen::Rescan),
            }
        })
        .map_err(|e| format!("cannot watch the folders for changes: {e}"))?;
        Ok(Self {
            watcher: Mutex::new(watcher),
            watched: Mutex::new(0),
        })
    }

    /// Watch the tree at `path` (a root).
    pub fn add(&self, path: &Path) -> Added {
        let added = self
            .watcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .watch(path, RecursiveMode::Recursive);
        match added {
            Ok(()) => {
                *self.watched.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                Added::Watched
            }
            Err(e) if matches!(&e.kind, notify::ErrorKind::PathNotFound) => Added::Gone,
            Err(e) if matches!(&e.kind, notify::ErrorKind::MaxFilesWatch) => {
                Added::Limit(e.to_string())
            }
            Err(e) => Added::Failed(e.to_string()),
        }
    }

    /// Nothing to do: the platform drops what is under a removed folder from the root's watch.
    pub fn forget_under(&self, _path: &Path) {}

    /// The platform's watcher reports its own failures as events (a rescan each).
    pub fn reading(&self) -> bool {
        true
    }

    pub fn folders(&self) -> usize {
        *self.watched.lock().unwrap_or_else(|p| p.into_inner())
    }
}
