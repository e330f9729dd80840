//! Linux: one inotify watch per folder the walks name, read by a thread of our own.
//!
//! Why not the `notify` crate here: its `watch()` hands the request to its event loop and
//! waits for the answer, and that loop drains events until none are left before it looks at
//! requests, so under a steady stream of changes (a program renaming in a loop) the indexer
//! waited forever for a watch while the loop's queues grew without bound. Here a watch is
//! added by the caller with one system call, and the reader takes at most one buffer of
//! events per round, so neither side can starve the other and nothing grows with the rate of
//! change.
//!
//! Watches are added with `IN_DONT_FOLLOW | IN_ONLYDIR`: a folder swapped for a symlink is
//! not watched (the walk, which opens beneath its root, decides what is there), so a link
//! never brings another tree's events in. The kernel resolves the folders above by name, so
//! a parent swapped for a link in the instant between a walk and its watch can still place
//! one watch elsewhere: its events are reported under the root's path, and the indexer
//! opens every path beneath its root, so nothing outside is ever read.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rustix::event::{EventfdFlags, PollFd, PollFlags, eventfd, poll};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

use super::{Added, Seen};

/// What is asked of the kernel for each folder: every change to what it holds, and the
/// folder itself going away.
const MASK: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::MODIFY)
    .union(WatchFlags::CLOSE_WRITE)
    .union(WatchFlags::ATTRIB)
    .union(WatchFlags::DELETE)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF)
    .union(WatchFlags::ONLYDIR)
    .union(WatchFlags::DONT_FOLLOW);

/// Bytes read per round: about 2,000 events with short names. One round is one batch for the
/// indexer, so a burst arrives as a few batches, not one per file.
const BUFFER: usize = 64 * 1024;

/// The watched folders by path and by watch descriptor. The kernel gives one descriptor per
/// folder (inode), so a folder watched again under a new path (it was renamed) keeps its
/// descriptor and only its path here changes.
#[derive(Default)]
struct Table {
    by_path: HashMap<PathBuf, i32>,
    by_wd: HashMap<i32, PathBuf>,
}

impl Table {
    fn insert(&mut self, path: &Path, wd: i32) {
        if let Some(old) = self.by_wd.insert(wd, path.to_path_buf())
            && old != path
            && self.by_path.get(&old) == Some(&wd)
        {
            self.by_path.remove(&old);
        }
        self.by_path.insert(path.to_path_buf(), wd);
    }

    /// The kernel dropped `wd` (or we removed it): forget it and the path it had.
    fn drop_wd(&mut self, wd: i32) -> Option<PathBuf> {
        let path = self.by_wd.remove(&wd)?;
        if self.by_path.get(&path) == Some(&wd) {
            self.by_path.remove(&path);
        }
        Some(path)
    }
}

/// The inotify instance, its table and the thread reading it.
pub struct Folders {
    inotify: Arc<OwnedFd>,
    /// Written once on drop to wake the reader so it returns.
    wake: Arc<OwnedFd>,
    table: Arc<Mutex<Table>>,
    /// Set by the reader when it stops on an error (not on the wake).
    stopped: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Folders {
    /// Folders are watched one by one: the walks name each.
    pub const BY_FOLDER: bool = true;

    pub fn start(sink: impl Fn(Seen) + Send + 'static) -> Result<Self, String> {
        let inotify = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)
            .map_err(|e| format!("cannot watch the folders for changes (inotify_init: {e})"))?;
        let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
            .map_err(|e| format!("cannot watch the folders for changes (eventfd: {e})"))?;
        let (inotify, wake) = (Arc::new(inotify), Arc::new(wake));
        let table = Arc::new(Mutex::new(Table::default()));
        let stopped = Arc::new(AtomicBool::new(false));
        let reader = {
            let (inotify, wake, table) = (inotify.clone(), wake.clone(), table.clone());
            let stopped = stopped.clone();
            std::thread::Builder::new()
                .name("files-watch".into())
                .spawn(move || {
                    if read_events(&inotify, &wake, &table, &sink).is_err() {
                        // Nothing more will be read: say so before asking for the walk
                        // that catches up, so that walk already knows the periodic ones
                        // must go on.
                        stopped.store(true, Ordering::Relaxed);
                        sink(Seen::Rescan);
                    }
                })
                .map_err(|e| format!("cannot watch the folders for changes: {e}"))?
        };
        Ok(Self {
            inotify,
            wake,
            table,
            stopped,
            reader: Some(reader),
        })
    }

    /// Watch `path` (a folder; not followed if it is a link).
    ///
    /// Always asked of the kernel, even for a path watched before: a folder deleted while
    /// something holds it open keeps its watch (and its entry here) until the last holder
    /// lets go, and a folder made again at its path before then is a different folder with a
    /// descriptor of its own. The kernel's answer, not the table, says which it is; for a
    /// folder already watched the call only confirms its descriptor.
    pub fn add(&self, path: &Path) -> Added {
        let mut table = lock(&self.table);
        // Under the table's lock, so the reader cannot see this descriptor's first events
        // before the table knows its path.
        match inotify::add_watch(&*self.inotify, path, MASK) {
            Ok(wd) if table.by_path.get(path) == Some(&wd) => Added::Already,
            Ok(wd) => {
                table.insert(path, wd);
                Added::Watched
            }
            // Gone since the walk listed it, or a link or a file now: nothing to watch, and
            // whatever was watched at this path before is not there any more.
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => {
                table.by_path.remove(path);
                Added::Gone
            }
            Err(Errno::NOSPC) => Added::Limit(Errno::NOSPC.to_string()),
            Err(e) => Added::Failed(e.to_string()),
        }
    }

    /// Whether the reader is still reading: `false` once it stopped on an error the system
    /// gave it, after which no change reaches the indexer through this watcher.
    pub fn reading(&self) -> bool {
        !self.stopped.load(Ordering::Relaxed)
    }

    /// `path` and everything under it are gone: forget their paths, so a folder created
    /// there again is watched again. The kernel drops the watches of what was deleted; a
    /// folder moved elsewhere keeps its descriptor until its move is read.
    pub fn forget_under(&self, path: &Path) {
        lock(&self.table)
            .by_path
            .retain(|folder, _| !folder.starts_with(path));
    }

    pub fn folders(&self) -> usize {
        lock(&self.table).by_path.len()
    }
}

impl Drop for Folders {
    fn drop(&mut self) {
        // The thread runs this library's code, so it must be gone before the library can be.
        if rustix::io::write(&*self.wake, &1u64.to_ne_bytes()).is_ok()
            && let Some(reader) = self.reader.take()
        {
            let _ = reader.join();
        }
    }
}

fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|p| p.into_inner())
}

/// The reader: wait for events or the wake, take one buffer's worth, translate it to paths
/// under the table's lock, and hand it on without the lock. Returns `Ok` when woken to stop,
/// the error when the system will not let it wait any more.
fn read_events(
    inotify: &OwnedFd,
    wake: &OwnedFd,
    table: &Mutex<Table>,
    sink: &dyn Fn(Seen),
) -> Result<(), Errno> {
    let mut buffer = vec![MaybeUninit::<u8>::uninit(); BUFFER];
    loop {
        let mut fds = [
            PollFd::new(inotify, PollFlags::IN),
            PollFd::new(wake, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
        if !fds[1].revents().is_empty() {
            return Ok(());
        }
        let mut seen = Vec::new();
        let mut overflowed = false;
        let mut moved = Vec::new();
        {
            let mut reader = inotify::Reader::new(inotify, &mut buffer);
            let mut table = lock(table);
            loop {
                let event = match reader.next() {
                    Ok(event) => event,
                    Err(Errno::AGAIN | Errno::INTR) => break,
                    // Unreadable: whatever it held is lost, so look at everything again.
                    Err(_) => {
                        overflowed = true;
                        break;
                    }
                };
                let flags = event.events();
                if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                    overflowed = true;
                } else if flags.contains(ReadFlags::IGNORED) {
                    table.drop_wd(event.wd());
                } else if let Some(folder) = table.by_wd.get(&event.wd()) {
                    match event.file_name() {
                        Some(name) => seen.push(folder.join(OsStr::from_bytes(name.to_bytes()))),
                        None => {
                            seen.push(folder.clone());
                            if flags.contains(ReadFlags::MOVE_SELF) {
                                moved.push(event.wd());
                            }
                        }
                    }
                }
                if reader.is_buffer_empty() {
                    break;
                }
            }
            // A folder moved: its path here is wrong now. Stop watching it; the walk of
            // wherever it went watches it again (its path was reported, so if the folder is
            // still there after all it is walked and watched again too).
            for wd in moved {
                if table.drop_wd(wd).is_some() {
                    let _ = inotify::remove_watch(inotify, wd);
                }
            }
        }
        if overflowed {
            sink(Seen::Rescan);
        }
        if !seen.is_empty() {
            sink(Seen::Paths(seen));
        }
    }
}
