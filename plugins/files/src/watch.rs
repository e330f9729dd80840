//! Watching the roots for changes made outside switchboard, so the index follows them within
//! a second instead of waiting for the next walk.
//!
//! On Linux (inotify) a watch covers one folder, so the indexer's walks tell this module each
//! folder they enter ([`Watch::folder`]) and exactly the folders the index covers are watched:
//! hidden and excluded folders, other roots and the plugin's data folder are never watched,
//! and no symlink is followed into another tree. Elsewhere (FSEvents, ReadDirectoryChangesW) a
//! watch is recursive by nature and each root is watched whole; what the rules hide is
//! filtered when the change is applied.
//!
//! The watcher only says *where* something changed; the indexer looks at the path itself
//! (beneath its root, like every read) and decides. When the system cannot watch another
//! folder (Linux's `fs.inotify.max_user_watches`), that is logged once and the folders left
//! unwatched are kept current by the periodic walks (`rescan_seconds`). When the system says
//! events were lost, the whole tree is walked again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

/// What the watcher saw.
#[derive(Debug)]
pub enum Seen {
    /// Something changed at these paths (created, written, removed, renamed from or to).
    Paths(Vec<PathBuf>),
    /// Events were lost: walk everything again.
    Rescan,
}

/// The watches on the roots.
pub struct Watch {
    watcher: Mutex<RecommendedWatcher>,
    /// Folders watched one by one (Linux), so a second walk does not watch them again.
    watched: Mutex<HashSet<PathBuf>>,
    /// Whether folders are watched one by one (otherwise each root is watched whole).
    per_folder: bool,
    /// Set when the system's limit on watches is reached: no more are tried.
    limited: AtomicBool,
    /// Set once a failure was reported; later ones are not.
    warned: AtomicBool,
    /// Where failures are reported.
    warn: Box<dyn Fn(&str) + Send + Sync>,
}

impl Watch {
    /// Start watching, sending what is seen to `sink`. `roots` are watched whole where the
    /// platform watches recursively; on Linux nothing is watched until the walks name folders.
    pub fn start(
        roots: &[PathBuf],
        sink: impl Fn(Seen) + Send + 'static,
        warn: impl Fn(&str) + Send + Sync + 'static,
    ) -> Result<Self, String> {
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
                // An error from the watcher itself (e.g. the inotify queue overflowed without
                // saying so): the only safe answer is to look at everything again.
                Err(_) => sink(Seen::Rescan),
            }
        })
        .map_err(|e| format!("cannot watch the folders for changes: {e}"))?;
        let watch = Self {
            watcher: Mutex::new(watcher),
            watched: Mutex::new(HashSet::new()),
            per_folder: cfg!(target_os = "linux"),
            limited: AtomicBool::new(false),
            warned: AtomicBool::new(false),
            warn: Box::new(warn),
        };
        if !watch.per_folder {
            for root in roots {
                watch.add(root, RecursiveMode::Recursive);
            }
        }
        Ok(watch)
    }

    /// Whether folders are watched one by one ([`Watch::folder`] does something).
    pub fn by_folder(&self) -> bool {
        self.per_folder
    }

    /// A walk entered `folder` (absolute, visible under a root): watch it, once.
    pub fn folder(&self, folder: &Path) {
        if !self.per_folder || self.limited.load(Ordering::Relaxed) {
            return;
        }
        let new = self
            .watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(folder.to_path_buf());
        if new && !self.add(folder, RecursiveMode::NonRecursive) {
            self.watched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(folder);
        }
    }

    /// `path` and everything under it are gone: forget their watches (the system dropped
    /// them already), so a folder created again there is watched again.
    pub fn forget_under(&self, path: &Path) {
        if self.per_folder {
            self.watched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|folder| !folder.starts_with(path));
        }
    }

    /// How many folders are watched one by one.
    pub fn folders(&self) -> usize {
        self.watched.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn add(&self, path: &Path, mode: RecursiveMode) -> bool {
        let added = self
            .watcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .watch(path, mode);
        match added {
            Ok(()) => true,
            // Gone since the walk listed it: nothing to watch, nothing to report.
            Err(e) if matches!(&e.kind, notify::ErrorKind::PathNotFound) => false,
            Err(e) => {
                let limit = matches!(&e.kind, notify::ErrorKind::MaxFilesWatch);
                if limit {
                    self.limited.store(true, Ordering::Relaxed);
                }
                if !self.warned.swap(true, Ordering::Relaxed) {
                    let hint = if limit {
                        " (the system's limit on watched folders is reached; on Linux raise \
                         fs.inotify.max_user_watches)"
                    } else {
                        ""
                    };
                    (self.warn)(&format!(
                        "index: cannot watch {} for changes: {e}{hint}; folders not watched \
                         are brought up to date by the periodic walks (rescan_seconds)",
                        path.display()
                    ));
                }
                false
            }
        }
    }
}
