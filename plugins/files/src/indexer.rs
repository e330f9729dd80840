//! Keeping the index current: when to re-walk the roots, how much indexing one search may do,
//! and finishing a large first build in the background.
//!
//! A search never waits for more than `index_budget_ms` of indexing. When the roots hold more
//! than that budget can index (a whole home folder), the search answers from what is indexed,
//! says so, and a background thread finishes the build in short slices, releasing the index
//! between slices so searches keep answering meanwhile.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use switchboard_plugin_api::{ErrorKind, Host, LogLevel, PluginError};

use crate::config::Config;
use crate::index::{Index, Progress};
use crate::paths::Roots;
use crate::scan;

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
    let names: Vec<String> = inner
        .roots
        .roots()
        .iter()
        .map(|r| r.path.display().to_string())
        .collect();
    // Indexing stops when the client cancels or this request's share of time is spent.
    let stop = || (observer.cancelled)() || started.elapsed() > budget;
    let synced = index.sync(
        &walk.files,
        &names,
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
