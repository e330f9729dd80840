//! Keeping the index current: when to re-walk the roots, how much indexing one search may do,
//! and finishing a large first build in the background.
//!
//! A search never waits for more than `index_budget_ms` of indexing. When the roots hold more
//! than that budget can index (a whole home folder), the search answers from what is indexed,
//! says so, and a background thread finishes the build in short slices, releasing the index
//! between slices so searches keep answering meanwhile.
//!
//! The write tools tell the indexer what they changed ([`Indexer::follow`]), and the index
//! follows at once when it is open: a written file is re-read into it (whatever its mtime says,
//! so a rewrite within the file system's timestamp resolution is not missed), a deleted or
//! moved-away path loses its rows and everything under it, and a moved file is indexed under
//! its new name. A moved folder loses its old rows and marks the index stale, so the next
//! search walks the roots (as after `rescan_seconds`) and indexes it where it now is. When the
//! index is not open yet there is nothing to follow: the first search walks everything anyway.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use switchboard_plugin_api::{ErrorKind, Host, LogLevel, PluginError};

use crate::beneath::Kind;
use crate::config::Config;
use crate::index::{Index, Progress};
use crate::paths::Roots;
use crate::scan::{self, FileEntry};

/// How much one background slice indexes before it lets searches in.
const SLICE: Duration = Duration::from_millis(500);

/// What a refresh reports to, and asks, whoever wants it.
pub struct Observer<'a> {
    /// (files done, files to do) after each batch.
    pub report: &'a dyn Fn(usize, usize),
    /// Whether to stop (the client cancelled).
    pub cancelled: &'a dyn Fn() -> bool,
    /// A sentence for the person, e.g. that results are incomplete.
    pub notice: &'a dyn Fn(&str),
}

/// A change the write tools made, for the index to follow. Paths are canonical.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// A file was created or replaced.
    Written(&'a Path),
    /// A file, link or folder is gone, with everything under it.
    Removed(&'a Path),
    /// A file, link or folder was renamed.
    Moved {
        /// Where it was.
        from: &'a Path,
        /// Where it is now.
        to: &'a Path,
    },
}

/// How a refresh ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The index covers every file as of this scan.
    Current,
    /// The budget ran out first; the index covers part of the files.
    Partial,
}

/// The index and its upkeep. Cheap to clone; clones share one index.
#[derive(Clone)]
pub struct Indexer {
    inner: Arc<Inner>,
}

struct Inner {
    host: Host,
    config: Config,
    roots: Arc<Roots>,
    data_dir: PathBuf,
    state: Mutex<State>,
    building: AtomicBool,
    stopping: AtomicBool,
}

/// The index and when its last complete scan started.
#[derive(Default)]
struct State {
    index: Option<Index>,
    last_scan: Option<Instant>,
}

fn index_error(error: rusqlite::Error) -> PluginError {
    PluginError::new(
        ErrorKind::FAILED,
        format!("the search index failed: {error}"),
    )
}

impl Indexer {
    /// The upkeep of the index in `data_dir` over `roots`.
    pub fn new(host: Host, config: Config, roots: Arc<Roots>, data_dir: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                host,
                config,
                roots,
                data_dir,
                state: Mutex::new(State::default()),
                building: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic during indexing leaves at worst an uncommitted transaction, which SQLite
        // rolled back: the state is still usable.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `query` against an index brought as up to date as this request's budget allows.
    pub fn with_index<T>(
        &self,
        observer: &Observer<'_>,
        query: impl FnOnce(&Index) -> rusqlite::Result<T>,
    ) -> Result<T, PluginError> {
        let mut state = self.lock();
        if self.inner.building.load(Ordering::Acquire) {
            // The background build holds the pen; answer from what it has indexed so far.
            (observer.notice)("The files index is still being built; results may be incomplete.");
            open(&self.inner, &mut state)?;
        } else {
            let budget = Duration::from_millis(self.inner.config.index_budget_ms);
            if refresh(&self.inner, &mut state, budget, observer)? == Freshness::Partial {
                self.finish_in_background();
            }
        }
        let index = state
            .index
            .as_ref()
            .ok_or_else(|| PluginError::new(ErrorKind::FAILED, "the search index is not open"))?;
        query(index).map_err(index_error)
    }

    fn finish_in_background(&self) {
        if self.inner.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let indexer = self.clone();
        let spawned = std::thread::Builder::new()
            .name("files-index".into())
            .spawn(move || indexer.build_rest());
        if let Err(e) = spawned {
            self.inner.building.store(false, Ordering::Release);
            self.inner.host.log(
                LogLevel::WARNING,
                &format!("cannot index in the background: {e}"),
            );
        }
    }

    /// Index in slices until the build is complete or the host shuts down.
    fn build_rest(&self) {
        let inner = &self.inner;
        let started = Instant::now();
        let stopping = || inner.stopping.load(Ordering::Acquire);
        let observer = Observer {
            report: &|_, _| {},
            cancelled: &stopping,
            notice: &|_| {},
        };
        loop {
            if stopping() {
                break;
            }
            let mut state = self.lock();
            match refresh(inner, &mut state, SLICE, &observer) {
                Ok(Freshness::Current) => {
                    inner.host.log(
                        LogLevel::INFO,
                        &format!(
                            "index: the first build finished in the background after {:.1?}",
                            started.elapsed()
                        ),
                    );
                    break;
                }
                Ok(Freshness::Partial) => {}
                Err(e) => {
                    inner.host.log(
                        LogLevel::WARNING,
                        &format!("background indexing stopped: {}", e.message),
                    );
                    break;
                }
            }
            drop(state);
            // Let a waiting search take the index between slices.
            std::thread::yield_now();
        }
        inner.building.store(false, Ordering::Release);
    }

    /// Bring the index in line with a change the write tools made (see the module docs). A
    /// failure is logged and marks the index stale, so the next search rescans.
    pub fn follow(&self, change: Change<'_>) {
        let mut state = self.lock();
        let Some(index) = state.index.as_mut() else {
            return;
        };
        let inner = &self.inner;
        let roots = inner.roots.roots();
        let cap = inner.config.max_file_size;
        let mut stale = false;
        let mut reindex = |index: &mut Index, path: &Path| -> rusqlite::Result<()> {
            match self.entry_for(path) {
                Some(entry) => index.upsert(&[entry], roots, cap),
                None if path.is_dir() => {
                    stale = true;
                    Ok(())
                }
                None => index.remove_under(&path.display().to_string()).map(|_| ()),
            }
        };
        let outcome = match change {
            Change::Written(path) => reindex(index, path),
            Change::Removed(path) => index.remove_under(&path.display().to_string()).map(|_| ()),
            Change::Moved { from, to } => index
                .remove_under(&from.display().to_string())
                .and_then(|_| reindex(index, to)),
        };
        if let Err(e) = &outcome {
            inner.host.log(
                LogLevel::WARNING,
                &format!("index: could not follow a change ({e}); the next search rescans"),
            );
        }
        if stale || outcome.is_err() {
            state.last_scan = None;
        }
    }

    /// The index entry of the regular file at `path` (canonical), as a walk would list it:
    /// under the innermost root holding it (the walk leaves nested roots to themselves), when
    /// the globs let it through and it is not in the plugin's own data folder.
    fn entry_for(&self, path: &Path) -> Option<FileEntry> {
        let inner = &self.inner;
        if path.starts_with(&inner.data_dir) {
            return None;
        }
        let (index, root) = inner
            .roots
            .roots()
            .iter()
            .enumerate()
            .filter(|(_, root)| path.starts_with(&root.path))
            .max_by_key(|(_, root)| root.path.components().count())?;
        let rel = path.strip_prefix(&root.path).ok()?;
        if !inner.roots.filter().is_visible(rel, false) {
            return None;
        }
        let stat = inner.roots.stat(index, path).ok()?;
        if stat.kind != Kind::File {
            return None;
        }
        Some(FileEntry {
            path: path.to_str()?.to_string(),
            root: index,
            size: stat.len,
            mtime_ns: stat.mtime_ns,
        })
    }

    /// Stop the background build and close the index (the WAL is checkpointed on close).
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        let mut state = self.lock();
        state.index = None;
        state.last_scan = None;
    }
}

fn open(inner: &Inner, state: &mut State) -> Result<(), PluginError> {
    if state.index.is_some() {
        return Ok(());
    }
    // The host creates the folder; recreate it should someone have removed it since.
    let _ = std::fs::create_dir_all(&inner.data_dir);
    let path = inner.data_dir.join("index.sqlite");
    let index = Index::open(&path, inner.config.max_file_size).map_err(|e| {
        PluginError::new(
            ErrorKind::FAILED,
            format!("cannot open the search index {}: {e}", path.display()),
        )
    })?;
    state.index = Some(index);
    Ok(())
}

/// Open the index if needed and, when the last complete scan is older than `rescan_seconds`,
/// walk the roots and index what changed, for at most `budget`.
fn refresh(
    inner: &Inner,
    state: &mut State,
    budget: Duration,
    observer: &Observer<'_>,
) -> Result<Freshness, PluginError> {
    open(inner, state)?;
    let max_age = Duration::from_secs(inner.config.rescan_seconds);
    if state.last_scan.is_some_and(|at| at.elapsed() < max_age) {
        return Ok(Freshness::Current);
    }
    let Some(index) = state.index.as_mut() else {
        return Err(PluginError::new(
            ErrorKind::FAILED,
            "the search index is not open",
        ));
    };
    let started = Instant::now();
    let walk = scan::walk(
        inner.roots.roots(),
        inner.roots.filter(),
        Some(&inner.data_dir),
        observer.cancelled,
    );
    if walk.cancelled {
        return Err(PluginError::new(
            ErrorKind::CANCELLED,
            "the search was cancelled while scanning the folders",
        ));
    }
    // Indexing stops when the client cancels or this request's share of time is spent.
    let stop = || (observer.cancelled)() || started.elapsed() > budget;
    let synced = index.sync(
        &walk.files,
        inner.roots.roots(),
        inner.config.max_file_size,
        &Progress {
            report: observer.report,
            cancelled: &stop,
        },
    );
    let stats = match synced {
        Ok(stats) => stats,
        Err(e) => {
            // Reopen next time: a damaged index file is then replaced and rebuilt.
            state.index = None;
            return Err(index_error(e));
        }
    };
    if stats.indexed > 0 || stats.removed > 0 {
        inner.host.log(
            LogLevel::DEBUG,
            &format!(
                "index: {} files seen, {} (re)indexed, {} removed, {} unreadable, {} skipped by the walk, in {:.1?}",
                stats.files,
                stats.indexed,
                stats.removed,
                stats.unreadable,
                walk.skipped,
                started.elapsed()
            ),
        );
    }
    if stats.cancelled && (observer.cancelled)() {
        return Err(PluginError::new(
            ErrorKind::CANCELLED,
            format!(
                "the search was cancelled while indexing ({} files indexed so far; the next \
                 search goes on from there)",
                stats.indexed
            ),
        ));
    }
    if stats.cancelled {
        // Out of time, not cancelled: `last_scan` stays unset, so the next refresh goes on.
        (observer.notice)(&format!(
            "The files index is still being built ({} files found under the roots); results may \
             be incomplete until it is done.",
            stats.files
        ));
        return Ok(Freshness::Partial);
    }
    state.last_scan = Some(started);
    Ok(Freshness::Current)
}
