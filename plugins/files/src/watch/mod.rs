//! Watching the roots for changes made outside switchboard, so the index follows them within
//! a second instead of waiting for the next walk.
//!
//! On Linux (inotify, read by our own thread: `inotify.rs` says why not the `notify` crate) a
//! watch covers one folder, so the indexer's walks tell this module each folder they enter
//! ([`Watch::folder`]) and exactly the folders the index covers are watched: hidden and
//! excluded folders, other roots and the plugin's data folder are never watched, and no
//! symlink is followed into another tree. Elsewhere (FSEvents, ReadDirectoryChangesW through
//! `notify`, `recursive.rs`) a watch is recursive by nature and each root is watched whole;
//! what the rules hide is filtered when the change is applied.
//!
//! The watcher only says *where* something changed; the indexer looks at the path itself
//! (beneath its root, like every read) and decides. When the system cannot watch another
//! folder (Linux's `fs.inotify.max_user_watches`), that is logged once and the folders left
//! unwatched are kept current by the periodic walks (`rescan_seconds`). When the system says
//! events were lost, the whole tree is walked again.
//!
//! The periodic walks exist for what the watcher cannot see, so where it sees everything
//! ([`Watch::sees_everything`]: every folder named is watched, none on a file system changed
//! from elsewhere, such as NFS, SMB, WSL's 9P or FUSE) they are not needed, and the indexer
//! skips them. A new process still walks once, for what changed while nothing watched.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(target_os = "linux")]
mod inotify;
#[cfg(target_os = "linux")]
use inotify::Folders;

#[cfg(not(target_os = "linux"))]
mod recursive;
#[cfg(not(target_os = "linux"))]
use recursive::Folders;

#[cfg(all(test, target_os = "linux"))]
mod tests;

/// What the watcher saw.
#[derive(Debug)]
pub enum Seen {
    /// Something changed at these paths (created, written, removed, renamed from or to).
    Paths(Vec<PathBuf>),
    /// Events were lost: walk everything again.
    Rescan,
}

/// What asking the platform to watch a path came to.
enum Added {
    Watched,
    /// Watched before: nothing new.
    Already,
    /// Gone since the walk listed it, or no longer a folder: nothing to watch or report.
    Gone,
    /// The system's limit on watches is reached.
    Limit(String),
    Failed(String),
}

/// The watches on the roots.
pub struct Watch {
    folders: Folders,
    /// Set when the system's limit on watches is reached: no more are tried.
    limited: AtomicBool,
    /// Set when a folder could not be watched (the limit, or another failure).
    failed: AtomicBool,
    /// Set when a watched folder is on a file system whose changes may be made where this
    /// watcher cannot see them.
    shared: AtomicBool,
    /// Set once a failure was reported; later ones are not.
    warned: AtomicBool,
    /// Where failures are reported.
    warn: Box<dyn Fn(&str) + Send + Sync>,
}

impl Watch {
    /// Start watching, sending what is seen to `sink` (from a thread of the watcher's).
    /// `roots` are watched whole where the platform watches recursively; on Linux nothing is
    /// watched until the walks name folders.
    pub fn start(
        roots: &[PathBuf],
        sink: impl Fn(Seen) + Send + 'static,
        warn: impl Fn(&str) + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let watch = Self {
            folders: Folders::start(sink)?,
            limited: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            shared: AtomicBool::new(false),
            warned: AtomicBool::new(false),
            warn: Box::new(warn),
        };
        if !Folders::BY_FOLDER {
            for root in roots {
                watch.add(root);
            }
        }
        Ok(watch)
    }

    /// Whether folders are watched one by one ([`Watch::folder`] does something).
    pub fn by_folder(&self) -> bool {
        Folders::BY_FOLDER
    }

    /// Whether every change under the roots reaches this watcher: each folder the walks named
    /// is watched (none failed, the limit was never reached), none is on a file system
    /// changed from elsewhere, and the watcher is still reading. Only where folders are
    /// watched one by one (Linux); elsewhere the answer is `false` and the periodic walks go
    /// on.
    pub fn sees_everything(&self) -> bool {
        Folders::BY_FOLDER
            && self.folders.reading()
            && !self.failed.load(Ordering::Relaxed)
            && !self.shared.load(Ordering::Relaxed)
    }

    /// A walk entered `folder` (absolute, visible under a root): watch it, once. Returns
    /// at once whatever the watcher is doing: it is one system call.
    pub fn folder(&self, folder: &Path) {
        if !Folders::BY_FOLDER || self.limited.load(Ordering::Relaxed) {
            return;
        }
        self.add(folder);
    }

    /// `path` and everything under it are gone: forget their watches, so a folder created
    /// again there is watched again.
    pub fn forget_under(&self, path: &Path) {
        self.folders.forget_under(path);
    }

    /// How many folders (or, where watches are recursive, roots) are watched.
    pub fn folders(&self) -> usize {
        self.folders.folders()
    }

    fn add(&self, path: &Path) {
        let (e, limit) = match self.folders.add(path) {
            Added::Watched => {
                if changed_elsewhere(path) {
                    self.shared.store(true, Ordering::Relaxed);
                }
                return;
            }
            Added::Already | Added::Gone => return,
            Added::Limit(e) => (e, true),
            Added::Failed(e) => (e, false),
        };
        self.failed.store(true, Ordering::Relaxed);
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
                "index: cannot watch {} for changes: {e}{hint}; folders not watched are \
                 brought up to date by the periodic walks (rescan_seconds)",
                path.display()
            ));
        }
    }
}

/// Whether the folder at `path` is on a file system whose changes can be made where inotify
/// cannot see them: shared over a network, or served by another machine or process (NFS, SMB,
/// 9P as in WSL and VMs, FUSE as in sshfs and virtiofs, VirtualBox shared folders, cluster
/// file systems). A folder whose file system cannot be told counts as one of those.
#[cfg(target_os = "linux")]
fn changed_elsewhere(path: &Path) -> bool {
    /// `f_type` of those file systems (linux/magic.h and the file systems' own sources).
    const ELSEWHERE: [u32; 14] = [
        0x6969,      // NFS
        0x517B,      // SMB
        0xFF53_4D42, // CIFS
        0xFE53_4D42, // SMB2
        0x0102_1997, // 9P
        0x6573_5546, // FUSE
        0x00C3_6400, // Ceph
        0x5346_414F, // AFS
        0x7375_7245, // Coda
        0x564C,      // NCP
        0x7461_636F, // OCFS2
        0x0116_1970, // GFS2
        0x0BD0_0BD0, // Lustre
        0x786F_4256, // VirtualBox shared folders
    ];
    match rustix::fs::statfs(path) {
        // The magic is 32 bits wide whatever the width of the field holding it.
        #[allow(clippy::cast_possible_truncation, clippy::unnecessary_cast)]
        Ok(stat) => ELSEWHERE.contains(&(stat.f_type as u32)),
        // Gone since it was watched: nothing to see there.
        Err(rustix::io::Errno::NOENT) => false,
        Err(_) => true,
    }
}

#[cfg(not(target_os = "linux"))]
fn changed_elsewhere(_path: &Path) -> bool {
    true
}
