//! Keeping the index current, off the query path: one background thread writes the index,
//! searches read it through a connection of their own and never wait for a walk.
//!
//! * **Start.** The thread starts with the first search or write-tool change. It opens the
//!   index and reads whether it holds a complete scan of the roots and rules the connector
//!   runs with now ([`crate::index`]'s `scope`). If it does, searches answer from it at once,
//!   and the thread reconciles it with the tree in the background, paced to half a core at
//!   most. If it does not (the first build, or the settings changed), the thread builds at
//!   full speed, and a search waits up to `index_budget_ms` for it, reporting progress, then
//!   answers from what is indexed so far and says so; later searches answer at once.
//! * **Changes.** Every folder a walk enters is watched ([`crate::watch`]), and a new process
//!   with a complete index watches the folders it knows before its first walk; what the watcher
//!   reports is applied within about a second: a file written is re-read, a path gone loses
//!   its rows, a folder that appeared or moved in is walked. The write tools' changes
//!   ([`Indexer::follow`]) are applied before the tool answers, so a search right after a
//!   write sees it. A walk of everything runs again every `rescan_seconds`, in the background,
//!   for what no watcher can see; it is skipped while the watcher sees every folder (see
//!   [`crate::watch`]).
//! * **Stop.** [`Indexer::shutdown`] stops the thread between two batches and commits what
//!   it wrote; an interrupted build goes on from there next time.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_plugin_api::{ErrorKind, Host, LogLevel, PluginError};

use crate::beneath::Kind;
use crate::config::Config;
use crate::index::{BATCH, Hooks, Index};
use crate::paths::Roots;
use crate::reconcile::Reconciling;
use crate::scan::{self, FileEntry, Walk, WalkHooks};
use crate::search::{Hit, Query, Searcher};
use crate::watch::{Seen, Watch};

/// How long the watcher's reports are gathered before they are applied: one editor save is
/// several events, a `git checkout` thousands.
const SETTLE: Duration = Duration::from_millis(100);

/// Paths waiting to be applied beyond which a walk of everything is cheaper.
const MAX_SEEN: usize = 20_000;

/// How often, at most, the thread hands the memory searches freed back to the system.
const TRIM_EVERY: Duration = Duration::from_millis(500);

/// How long a write tool waits for the index to take its change before answering anyway.
const FOLLOW_WAIT: Duration = Duration::from_secs(10);

/// What a search reports to, and asks, whoever wants it.
pub struct Observer<'a> {
    /// (files done, files to do) while the first build runs.
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
    /// The roots and rules, as the index records what its last complete scan covered.
    scope: String,
    searcher: Mutex<Option<Searcher>>,
    shared: Mutex<Shared>,
    /// Signalled whenever `shared` changes.
    changed: Condvar,
    stopping: AtomicBool,
    /// Set by each search; the thread then trims the heap ([`TRIM_EVERY`]).
    searched: AtomicBool,
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// What the searches, the write tools, the watcher and the thread tell each other.
#[derive(Default)]
struct Shared {
    started: bool,
    /// The index is open and its state known.
    opened: bool,
    /// The index holds a complete scan of the current scope.
    complete: bool,
    /// (done, to do) of the build in progress.
    progress: Option<(usize, usize)>,
    /// Files the last build at full speed indexed, once it is done: what a search that waited
    /// for it reports last.
    built: Option<usize>,
    /// Why the thread stopped, if it failed.
    failed: Option<String>,
    /// Paths the watcher reported, not applied yet, and since when the oldest waits.
    seen: BTreeSet<PathBuf>,
    seen_since: Option<Instant>,
    /// A walk of everything is due (events were lost).
    rescan: bool,
    /// The write tools' changes, with their tickets.
    follows: VecDeque<(u64, Followed)>,
    issued: u64,
    applied: u64,
}

/// A [`Change`] that outlives the call.
enum Followed {
    Written(PathBuf),
    Removed(PathBuf),
    Moved(PathBuf, PathBuf),
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn failed(message: impl Into<String>) -> PluginError {
    PluginError::new(ErrorKind::FAILED, message.into())
}

/// The scope string of `config` over `roots`: what a complete scan covered.
fn scope_of(config: &Config, roots: &Roots) -> String {
    serde_json::json!({
        "roots": roots.roots().iter().map(|r| r.path.display().to_string()).collect::<Vec<_>>(),
        "include": config.include,
        "exclude": config.exclude,
    })
    .to_string()
}

impl Indexer {
    /// The upkeep of the index in `data_dir` over `roots`.
    pub fn new(host: Host, config: Config, roots: Arc<Roots>, data_dir: PathBuf) -> Self {
        let scope = scope_of(&config, &roots);
        Self {
            inner: Arc::new(Inner {
                host,
                config,
                roots,
                data_dir,
                scope,
                searcher: Mutex::new(None),
                shared: Mutex::new(Shared::default()),
                changed: Condvar::new(),
                stopping: AtomicBool::new(false),
                searched: AtomicBool::new(false),
                worker: Mutex::new(None),
            }),
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.inner.shared()
    }

    /// Start the background thread, once.
    fn start(&self) {
        let mut shared = self.shared();
        if shared.started || self.inner.stopping.load(Ordering::Acquire) {
            return;
        }
        shared.started = true;
        drop(shared);
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name("files-index".into())
            .spawn(move || inner.work());
        match spawned {
            Ok(handle) => {
                *self.inner.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
            }
            Err(e) => self
                .inner
                .fail(format!("cannot start the indexing thread: {e}")),
        }
    }

    /// Search the index as it is, waiting first (up to `index_budget_ms`) for a first build.
    pub fn search(
        &self,
        observer: &Observer<'_>,
        query: &Query<'_>,
    ) -> Result<Vec<Hit>, PluginError> {
        self.start();
        let budget = Duration::from_millis(self.inner.config.index_budget_ms);
        let deadline = Instant::now() + budget;
        // A complete index left by an earlier process answers at once, whatever the thread
        // is doing (it may be waiting for another process's write lock to open it).
        let on_disk = !self.shared().complete && self.complete_on_disk();
        let mut shared = self.shared();
        let mut reported = None;
        let waited = !(shared.complete || on_disk);
        loop {
            if let Some(why) = shared.failed.as_ref().filter(|_| !on_disk) {
                return Err(failed(why.clone()));
            }
            if shared.progress != reported && shared.progress.is_some() {
                reported = shared.progress;
                if let Some((done, total)) = reported {
                    (observer.report)(done, total);
                }
            }
            if (observer.cancelled)() {
                let done = shared.progress.map_or(0, |p| p.0);
                return Err(PluginError::new(
                    ErrorKind::CANCELLED,
                    format!(
                        "the search was cancelled while the index was being built ({done} files \
                         indexed so far; indexing goes on in the background)"
                    ),
                ));
            }
            let now = Instant::now();
            if on_disk || (shared.opened && (shared.complete || now >= deadline)) {
                break;
            }
            // Wake for progress, and now and then to look at the cancellation.
            let wait = deadline
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(1), Duration::from_millis(50));
            shared = self
                .inner
                .changed
                .wait_timeout(shared, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if let (true, true, Some(total)) = (waited, shared.complete, shared.built)
            && reported != Some((total, total))
        {
            (observer.report)(total, total);
        }
        if !(shared.complete || on_disk) {
            let so_far = match shared.progress {
                Some((done, total)) => format!(" ({done} of {total} files indexed so far)"),
                None => String::new(),
            };
            (observer.notice)(&format!(
                "The files index is still being built{so_far}; results may be incomplete."
            ));
        }
        drop(shared);
        let mut searcher = self
            .inner
            .searcher
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if searcher.is_none() {
            let path = self.inner.data_dir.join("index.sqlite");
            let opened = Searcher::open(&path, self.inner.config.max_file_size).map_err(|e| {
                failed(format!(
                    "cannot open the search index {}: {e}",
                    path.display()
                ))
            })?;
            *searcher = Some(opened);
        }
        let Some(open) = searcher.as_ref() else {
            return Err(failed("the search index is not open"));
        };
        let answer = open.search(query, &self.inner.roots).map_err(|e| {
            // Reopen next time.
            *searcher = None;
            failed(format!("the search index failed: {e}"))
        })?;
        self.inner.searched.store(true, Ordering::Release);
        if let Some(ranked) = answer.ranked_among {
            (observer.notice)(&format!(
                "This query matches more than {ranked} files; the best matches among the first \
                 {ranked} are shown. Add a word or a folder to narrow it."
            ));
        }
        Ok(answer.hits)
    }

    /// The search connection, opened if need be.
    fn searcher(&self) -> Result<MutexGuard<'_, Option<Searcher>>, PluginError> {
        let mut searcher = self
            .inner
            .searcher
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if searcher.is_none() {
            let path = self.inner.data_dir.join("index.sqlite");
            let opened = Searcher::open(&path, self.inner.config.max_file_size).map_err(|e| {
                failed(format!(
                    "cannot open the search index {}: {e}",
                    path.display()
                ))
            })?;
            *searcher = Some(opened);
        }
        Ok(searcher)
    }

    /// Whether the index file holds a complete scan of the current roots and rules.
    fn complete_on_disk(&self) -> bool {
        if !self.inner.data_dir.join("index.sqlite").exists() {
            return false;
        }
        self.searcher().is_ok_and(|searcher| {
            searcher
                .as_ref()
                .is_some_and(|s| matches!(s.scanned_at(&self.inner.scope), Ok(Some(_))))
        })
    }

    /// Bring the index in line with a change the write tools made, before the tool answers
    /// (see the module docs). A change the index cannot take in time is logged; the next walk
    /// catches it.
    pub fn follow(&self, change: Change<'_>) {
        self.start();
        let followed = match change {
            Change::Written(path) => Followed::Written(path.to_path_buf()),
            Change::Removed(path) => Followed::Removed(path.to_path_buf()),
            Change::Moved { from, to } => Followed::Moved(from.to_path_buf(), to.to_path_buf()),
        };
        let mut shared = self.shared();
        shared.issued += 1;
        let ticket = shared.issued;
        shared.follows.push_back((ticket, followed));
        self.inner.changed.notify_all();
        let deadline = Instant::now() + FOLLOW_WAIT;
        while shared.applied < ticket && shared.failed.is_none() {
            let now = Instant::now();
            if now >= deadline || self.inner.stopping.load(Ordering::Acquire) {
                self.inner.host.log(
                    LogLevel::WARNING,
                    "index: a change the write tools made is not in the index yet; it will be \
                     soon",
                );
                return;
            }
            shared = self
                .inner
                .changed
                .wait_timeout(shared, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Stop the background thread (it commits what it wrote) and close the index.
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::Release);
        self.inner.changed.notify_all();
        let worker = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(worker) = worker {
            let _ = worker.join();
        }
        *self
            .inner
            .searcher
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// What the thread does between two walks, and how a walk paces itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// As fast as it can: nobody has an index to search yet.
    Full,
    /// At most about half a core: the index answers meanwhile.
    Background,
}

/// Once an index can answer, its upkeep (watching the known folders, the reconciling walk,
/// following changes) runs on this thread at a lower priority, so on a busy machine, or a
/// one-shot `switchboard search` whose process starts it all, the search is served first.
/// On Linux a nice value belongs to a thread and `setpriority(PRIO_PROCESS, 0)` sets the
/// calling thread's; elsewhere it would be the whole process's, so the pacing alone keeps the
/// upkeep in check there.
fn behind_searches() {
    #[cfg(target_os = "linux")]
    {
        /// `nice 10`: half-way to the lowest, still ahead of anything niced further.
        const NICE: i32 = 10;
        let _ = rustix::process::setpriority_process(None, NICE);
    }
}

impl Inner {
    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    fn fail(&self, why: String) {
        self.host.log(LogLevel::WARNING, &why);
        let mut shared = self.shared();
        shared.failed = Some(why);
        shared.opened = true;
        self.changed.notify_all();
    }

    /// The thread: open, walk, then follow changes until told to stop.
    fn work(self: Arc<Self>) {
        // The host creates the folder; recreate it should someone have removed it since.
        let _ = std::fs::create_dir_all(&self.data_dir);
        let path = self.data_dir.join("index.sqlite");
        let mut index = match Index::open(&path, self.config.max_file_size) {
            Ok(index) => index,
            Err(e) => {
                return self.fail(format!(
                    "cannot open the search index {}: {e}",
                    path.display()
                ));
            }
        };
        let complete = matches!(index.scanned_at(&self.scope), Ok(Some(_)));
        {
            let mut shared = self.shared();
            shared.opened = true;
            shared.complete = complete;
            self.changed.notify_all();
        }
        let watch = self.watch();
        if complete {
            behind_searches();
        }
        if complete && let Some(watch) = watch.as_ref().filter(|w| w.by_folder()) {
            self.watch_known_folders(&index, watch);
        }
        let mut pace = if complete {
            Pace::Background
        } else {
            Pace::Full
        };
        loop {
            match self.walk_everything(&mut index, watch.as_ref(), pace) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    return self.fail(format!("the search index failed: {e}"));
                }
            }
            if pace == Pace::Full {
                behind_searches();
            }
            pace = Pace::Background;
            index.release_memory();
            match self.follow_changes(&mut index, watch.as_ref()) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    return self.fail(format!("the search index failed: {e}"));
                }
            }
        }
        // Anything still queued is caught by the next walk; tell the writers not to wait.
        let mut shared = self.shared();
        shared.applied = shared.issued;
        self.changed.notify_all();
    }

    fn watch(self: &Arc<Self>) -> Option<Watch> {
        let roots: Vec<PathBuf> = self.roots.roots().iter().map(|r| r.path.clone()).collect();
        let sink = {
            let inner = Arc::downgrade(self);
            move |seen: Seen| {
                let Some(inner) = inner.upgrade() else { return };
                let mut shared = inner.shared();
                match seen {
                    Seen::Rescan => shared.rescan = true,
                    Seen::Paths(paths) => {
                        let keep = paths
                            .into_iter()
                            .filter(|p| !p.starts_with(&inner.data_dir));
                        shared.seen.extend(keep);
                        if !shared.seen.is_empty() && shared.seen_since.is_none() {
                            shared.seen_since = Some(Instant::now());
                        }
                        if shared.seen.len() > MAX_SEEN {
                            shared.seen.clear();
                            shared.seen_since = None;
                            shared.rescan = true;
                        }
                    }
                }
                inner.changed.notify_all();
            }
        };
        let host = self.host.clone();
        match Watch::start(&roots, sink, move |m| host.log(LogLevel::WARNING, m)) {
            Ok(watch) => Some(watch),
            Err(e) => {
                self.host.log(
                    LogLevel::WARNING,
                    &format!(
                        "index: {e}; changes are found by the periodic walks (rescan_seconds)"
                    ),
                );
                None
            }
        }
    }

    /// Watch the folders the index knows before the reconciling walk lists them (where the
    /// watcher goes folder by folder), so what changes meanwhile is seen within a second,
    /// not when the walk gets there. A folder gone or turned into a link is left to the walk.
    fn watch_known_folders(&self, index: &Index, watch: &Watch) {
        let started = Instant::now();
        let folders = match index.folders_of_files(&|| self.stopping()) {
            Ok(folders) => folders,
            Err(e) => {
                self.host.log(
                    LogLevel::WARNING,
                    &format!("index: cannot read its folders ({e}); the walk watches them"),
                );
                return;
            }
        };
        for folder in &folders {
            if self.stopping() {
                return;
            }
            let visible = self.roots.indexed_root(folder).is_some()
                && std::fs::symlink_metadata(folder).is_ok_and(|m| m.is_dir());
            if visible {
                watch.folder(folder);
            }
        }
        self.host.log(
            LogLevel::DEBUG,
            &format!(
                "index: watched {} known folders before the walk in {:.1?}",
                watch.folders(),
                started.elapsed()
            ),
        );
    }

    /// Walk every root and bring the index in line. Returns `false` when told to stop first.
    fn walk_everything(
        &self,
        index: &mut Index,
        watch: Option<&Watch>,
        pace: Pace,
    ) -> rusqlite::Result<bool> {
        let started = Instant::now();
        let pacer = Pacer::new(pace);
        let folder = |path: &Path| {
            if let Some(watch) = watch {
                watch.folder(path);
            }
        };
        let Some(reconciling) =
            Reconciling::new(index, pace == Pace::Background, &|| self.stopping())?
        else {
            return Ok(false);
        };
        // A write tool waiting for its change is served during the walk too.
        let during = RefCell::new(&mut *index);
        let walk = {
            let stop = || {
                let mut index = during.borrow_mut();
                if let Err(e) = self.catch_up(&mut index, watch) {
                    self.host.log(
                        LogLevel::WARNING,
                        &format!("index: could not apply a change ({e}); the next walk catches it"),
                    );
                }
                let roots = self.roots.roots();
                if let Err((count, e)) =
                    reconciling.catch_up(&mut index, roots, self.config.max_file_size)
                {
                    self.host.log(
                        LogLevel::WARNING,
                        &format!(
                            "index: could not re-read {count} changed files ({e}); they are \
                             tried again after the walk"
                        ),
                    );
                }
                self.stopping() || pacer.rest()
            };
            scan::walk(
                self.roots.roots(),
                self.roots.filter(),
                Some(&self.data_dir),
                &WalkHooks {
                    stop: &stop,
                    folder: &folder,
                    keep: &|file| reconciling.keep(file),
                },
            )
        };
        if walk.cancelled {
            return Ok(false);
        }
        let index = during.into_inner();
        let stop = || self.stopping() || pacer.rest();
        let walked = started.elapsed();
        let early_indexed = reconciling.early_indexed();
        let plan = reconciling.into_plan(walk.files);
        let todo = plan.todo.len();
        if todo > 0 {
            self.set_progress(Some((0, todo)));
        }
        let report = |done: usize, total: usize| self.set_progress(Some((done, total)));
        let mut stats = index.run(
            plan,
            self.roots.roots(),
            self.config.max_file_size,
            &mut Hooks {
                report: &report,
                stop: &stop,
                between: &mut |index| self.catch_up(index, watch),
            },
        )?;
        stats.indexed += early_indexed;
        self.set_progress(None);
        if stats.cancelled {
            return Ok(false);
        }
        // Logged before the scan is marked and searches are woken, so whoever sees the build
        // complete (here or on disk) can also see its report.
        if pace == Pace::Full && stats.indexed > 0 {
            self.host.log(
                LogLevel::INFO,
                &format!(
                    "index: the first build finished: {} files indexed in {:.1?}",
                    stats.indexed,
                    started.elapsed()
                ),
            );
        }
        let level = if stats.indexed > 0 || stats.removed > 0 {
            LogLevel::INFO
        } else {
            LogLevel::DEBUG
        };
        self.host.log(
            level,
            &format!(
                "index: walked {} files in {walked:.1?} ({} skipped, {} folders watched), {} \
                 (re)indexed, {} removed, {} unreadable; {:.1?} in all",
                stats.files,
                walk.skipped,
                watch.map_or(0, Watch::folders),
                stats.indexed,
                stats.removed,
                stats.unreadable,
                started.elapsed()
            ),
        );
        index.mark_scanned(&self.scope, now_unix())?;
        {
            let mut shared = self.shared();
            shared.complete = true;
            if pace == Pace::Full {
                shared.built = Some(stats.indexed);
            }
            self.changed.notify_all();
        }
        Ok(true)
    }

    fn set_progress(&self, progress: Option<(usize, usize)>) {
        let mut shared = self.shared();
        shared.progress = progress;
        self.changed.notify_all();
    }

    /// Wait for changes and apply them, until a walk of everything is due (`true`) or the
    /// thread is told to stop (`false`).
    fn follow_changes(&self, index: &mut Index, watch: Option<&Watch>) -> rusqlite::Result<bool> {
        let period = Duration::from_secs(self.config.rescan_seconds.max(1));
        let mut due = Instant::now() + period;
        let mut trimmed = Instant::now();
        loop {
            let seen = {
                let mut shared = self.shared();
                loop {
                    if self.stopping() {
                        return Ok(false);
                    }
                    if shared.rescan {
                        shared.rescan = false;
                        return Ok(true);
                    }
                    if !shared.follows.is_empty() || !shared.seen.is_empty() {
                        break;
                    }
                    let now = Instant::now();
                    if now >= due {
                        if !watch.is_some_and(Watch::sees_everything) {
                            return Ok(true);
                        }
                        // The walk would find nothing the watcher did not report.
                        due = now + period;
                        drop(shared);
                        self.host.log(
                            LogLevel::DEBUG,
                            "index: the periodic walk is skipped: every folder is watched",
                        );
                        shared = self.shared();
                        continue;
                    }
                    // Searches allocate on the host's threads, and glibc keeps what they free
                    // in those threads' arenas: a thousand searches grew the process by 20 MB.
                    shared = self
                        .changed
                        .wait_timeout(shared, (due - now).min(TRIM_EVERY))
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                    if trimmed.elapsed() >= TRIM_EVERY
                        && self.searched.swap(false, Ordering::AcqRel)
                    {
                        drop(shared);
                        crate::index::trim_heap();
                        trimmed = Instant::now();
                        shared = self.shared();
                    }
                }
                drop(shared);
                self.apply_follows(index)?;
                // Let a burst of events settle, then take them all.
                let mut shared = self.shared();
                if let Some(since) = shared.seen_since {
                    let settle = since + SETTLE;
                    loop {
                        let now = Instant::now();
                        if now >= settle || self.stopping() {
                            break;
                        }
                        shared = self
                            .changed
                            .wait_timeout(shared, settle - now)
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                    }
                }
                shared.seen_since = None;
                std::mem::take(&mut shared.seen)
            };
            self.apply_seen(index, watch, seen)?;
        }
    }

    /// Between the steps of a long walk or run: apply the write tools' changes, and what the
    /// watcher reported once it has settled, so neither waits for the walk to end.
    fn catch_up(&self, index: &mut Index, watch: Option<&Watch>) -> rusqlite::Result<()> {
        self.apply_follows(index)?;
        let seen = {
            let mut shared = self.shared();
            if shared
                .seen_since
                .is_none_or(|since| since.elapsed() < SETTLE)
            {
                return Ok(());
            }
            shared.seen_since = None;
            std::mem::take(&mut shared.seen)
        };
        self.apply_seen(index, watch, seen)
    }

    /// Apply the write tools' queued changes, and tell them.
    fn apply_follows(&self, index: &mut Index) -> rusqlite::Result<()> {
        loop {
            let next = self.shared().follows.pop_front();
            let Some((ticket, change)) = next else {
                return Ok(());
            };
            let paths: Vec<PathBuf> = match change {
                Followed::Written(path) | Followed::Removed(path) => vec![path],
                Followed::Moved(from, to) => vec![from, to],
            };
            let outcome = self.apply_seen(index, None, paths.into_iter().collect());
            let mut shared = self.shared();
            shared.applied = shared.applied.max(ticket);
            self.changed.notify_all();
            drop(shared);
            outcome?;
        }
    }

    /// Look at each path that changed and bring its rows in line: a file is re-read, a folder
    /// walked, anything gone or hidden dropped with everything under it.
    fn apply_seen(
        &self,
        index: &mut Index,
        watch: Option<&Watch>,
        seen: BTreeSet<PathBuf>,
    ) -> rusqlite::Result<()> {
        let mut files: Vec<FileEntry> = Vec::new();
        let mut folders: Vec<(usize, PathBuf)> = Vec::new();
        for path in &seen {
            // A folder walked below covers everything under it.
            if folders.iter().any(|(_, f)| path.starts_with(f)) {
                continue;
            }
            match self.look_at(path) {
                Looked::File(entry) => files.push(entry),
                Looked::Folder(root) => folders.push((root, path.clone())),
                Looked::Gone => {
                    if let Some(watch) = watch {
                        watch.forget_under(path);
                    }
                    index.remove_under(&path.display().to_string())?;
                }
                Looked::Elsewhere => {}
            }
        }
        for chunk in files.chunks(BATCH) {
            index.upsert(
                chunk.to_vec(),
                self.roots.roots(),
                self.config.max_file_size,
            )?;
        }
        for (root, folder) in folders {
            let Ok(rel) = folder.strip_prefix(&self.roots.roots()[root].path) else {
                continue;
            };
            let mut walk = Walk::default();
            let watched = |path: &Path| {
                if let Some(watch) = watch {
                    watch.folder(path);
                }
            };
            scan::walk_under(
                self.roots.roots(),
                self.roots.filter(),
                Some(&self.data_dir),
                root,
                rel,
                &WalkHooks {
                    stop: &|| self.stopping(),
                    folder: &watched,
                    ..scan::QUIET
                },
                &mut walk,
            );
            if walk.cancelled {
                return Ok(());
            }
            let plan = index.plan(walk.files, Some(&folder.display().to_string()))?;
            index.run(
                plan,
                self.roots.roots(),
                self.config.max_file_size,
                &mut Hooks::quiet(&mut |_| Ok(())),
            )?;
        }
        Ok(())
    }

    /// What is at `path` now, as the index sees it.
    fn look_at(&self, path: &Path) -> Looked {
        if path.starts_with(&self.data_dir) {
            return Looked::Elsewhere;
        }
        let Some((root, holder)) = self
            .roots
            .roots()
            .iter()
            .enumerate()
            .filter(|(_, r)| path.starts_with(&r.path))
            .max_by_key(|(_, r)| r.path.components().count())
        else {
            return Looked::Elsewhere;
        };
        let Ok(rel) = path.strip_prefix(&holder.path) else {
            return Looked::Elsewhere;
        };
        let Ok(stat) = self.roots.stat(root, path) else {
            return Looked::Gone;
        };
        let filter = self.roots.filter();
        match stat.kind {
            Kind::File if filter.is_visible(rel, false) => match path.to_str() {
                Some(text) => Looked::File(FileEntry {
                    path: text.to_string(),
                    root,
                    size: stat.len,
                    mtime_ns: stat.mtime_ns,
                }),
                None => Looked::Gone,
            },
            Kind::Dir if filter.is_visible(rel, true) => Looked::Folder(root),
            _ => Looked::Gone,
        }
    }
}

/// What [`Inner::look_at`] found.
enum Looked {
    /// A visible regular file.
    File(FileEntry),
    /// A visible folder under the root of this index.
    Folder(usize),
    /// Nothing the index should hold: gone, hidden, a link or something special.
    Gone,
    /// Outside every root, or the plugin's own data folder.
    Elsewhere,
}

/// Keeps a background walk to about half a core: after each stretch of work it rests as long
/// as the stretch took.
struct Pacer {
    pace: Pace,
    since: std::cell::Cell<Instant>,
}

/// Work done between two rests of a background walk.
const STRETCH: Duration = Duration::from_millis(20);

impl Pacer {
    fn new(pace: Pace) -> Self {
        Self {
            pace,
            since: std::cell::Cell::new(Instant::now()),
        }
    }

    /// Rest if a stretch of work is done; never asks to stop.
    fn rest(&self) -> bool {
        if self.pace == Pace::Background {
            let worked = self.since.get().elapsed();
            if worked >= STRETCH {
                std::thread::sleep(worked);
                self.since.set(Instant::now());
            }
        }
        false
    }
}
