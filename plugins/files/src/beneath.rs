//! Opening beneath a root: every file and folder the connector reads or changes is reached from
//! an open handle on its root, by a relative path of plain names, without following a symbolic
//! link at any component.
//!
//! The confinement rules ([`crate::paths`], [`crate::target`]) decide by name what a client may
//! reach, and they resolve symlinks to do so (a link inside a root to something visible inside
//! a root is followed, as the connector promises). Deciding by name and then opening by name
//! leaves a window: a folder or file swapped for a symlink between the two would be followed
//! out of the root. So the open never follows anything. It takes the canonical path the rules
//! admitted (which has no symlink in it), makes it relative to the root's handle, and opens
//! that: on Linux with one `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, elsewhere (and on
//! kernels without `openat2`) one `openat(O_NOFOLLOW)` per component from the handle down. A
//! symlink that appeared after the check makes the open fail ("changed into a symbolic link"),
//! it is never followed, and nothing can climb above the handle: the path has no `..` and no
//! link. Changes (create, link, rename, remove) act on a name inside a folder opened this way,
//! and none of those calls follows a final symlink either.
//!
//! The root itself is found by its canonical path, as configured: its handle is reopened when
//! the folder at that path is another one than the handle holds (removed and created again),
//! and the root is treated as gone while nothing (or a symlink) is there.
//!
//! On platforms other than Unix the same operations go by name (`std::fs` on the joined path),
//! checking each component with `symlink_metadata` first: the rules hold, but a local process
//! swapping a symlink in between the check and the open could still win the race there.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

/// What kind of thing an entry is, as the entry itself says (a symlink is not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A device, FIFO, socket or something unknown.
    Other,
}

/// What the connector needs to know of an entry, read without following it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// What it is.
    pub kind: Kind,
    /// Size in bytes.
    pub len: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Its permissions (what a replacement keeps).
    pub permissions: std::fs::Permissions,
}

/// One entry of a folder.
#[derive(Clone, Debug)]
pub struct Child {
    /// Its name in the folder.
    pub name: OsString,
    /// What it is (a symlink is not followed).
    pub kind: Kind,
}

/// Whether an error says a symbolic link stood where a plain name was required: the entry was
/// swapped for a link after the rules checked it, and the open refused to follow it.
pub fn is_symlink_refusal(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        error.kind() == io::ErrorKind::Other && error.to_string().contains(SYMLINK_REFUSED)
    }
}

/// The text of the error the non-Unix fallback makes when a component is a symlink.
#[cfg(not(unix))]
const SYMLINK_REFUSED: &str = "a symbolic link stands where a plain name was expected";

/// The relative path `rel` as plain names; anything else (`..`, a root, a prefix) is refused.
fn names(rel: &Path) -> io::Result<Vec<&OsStr>> {
    rel.components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a plain relative path", rel.display()),
            )),
        })
        .collect()
}

/// An open handle on a root folder.
pub struct RootDir {
    path: PathBuf,
    #[cfg(unix)]
    handle: std::sync::Mutex<unix::Handle>,
}

impl fmt::Debug for RootDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootDir").field("path", &self.path).finish()
    }
}

impl RootDir {
    /// Open the folder at `path` (canonical) as a root.
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            path: path.to_path_buf(),
            #[cfg(unix)]
            handle: std::sync::Mutex::new(unix::Handle::open(path)?),
        })
    }

    /// The root's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder at `rel` under the root (the root itself when `rel` is empty).
    pub fn folder(&self, rel: &Path) -> io::Result<Folder> {
        let names = names(rel)?;
        let path = self.path.join(rel);
        #[cfg(unix)]
        {
            let root = self.current()?;
            let fd = unix::open_beneath(&root, &names, unix::folder_flags())?;
            Ok(Folder { fd, path })
        }
        #[cfg(not(unix))]
        {
            fallback::check_names(&self.path, &names, true)?;
            Ok(Folder { path })
        }
    }

    /// The regular file at `rel` under the root, open for reading. Anything else is refused
    /// (a FIFO is never waited on).
    pub fn read_file(&self, rel: &Path) -> io::Result<File> {
        let names = names(rel)?;
        #[cfg(unix)]
        {
            let root = self.current()?;
            let fd = unix::open_beneath(&root, &names, unix::read_flags())?;
            unix::regular(File::from(fd), &self.path.join(rel))
        }
        #[cfg(not(unix))]
        {
            fallback::check_names(&self.path, &names, false)?;
            fallback::regular(&self.path.join(rel))
        }
    }

    /// The entry at `rel` under the root, not followed.
    pub fn stat(&self, rel: &Path) -> io::Result<Stat> {
        let names = names(rel)?;
        match names.split_last() {
            None => self.folder(Path::new(""))?.stat_self(),
            Some((name, parents)) => self
                .folder(&parents.iter().collect::<PathBuf>())?
                .stat(name),
        }
    }

    /// Create the folders along `rel` that are missing, each inside the one before; returns
    /// the deepest. An existing entry on the way must be a folder, not a symlink to one.
    pub fn create_folders(&self, rel: &Path) -> io::Result<Folder> {
        let mut folder = self.folder(Path::new(""))?;
        for name in names(rel)? {
            match folder.create_folder(name) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            folder = folder.folder(name)?;
        }
        Ok(folder)
    }

    /// The handle on the folder now at the root's path (reopened if that folder was replaced).
    #[cfg(unix)]
    fn current(&self) -> io::Result<std::sync::Arc<rustix::fd::OwnedFd>> {
        let mut handle = self
            .handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        handle.current(&self.path)
    }
}

/// A folder opened beneath a root; what it holds is reached by name, never through a link.
pub struct Folder {
    #[cfg(unix)]
    fd: rustix::fd::OwnedFd,
    /// Its canonical path, for messages.
    path: PathBuf,
}

impl fmt::Debug for Folder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Folder").field("path", &self.path).finish()
    }
}

impl Folder {
    /// Its canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it holds, in no particular order (`.` and `..` left out).
    pub fn entries(&self) -> io::Result<Vec<Child>> {
        #[cfg(unix)]
        {
            unix::entries(&self.fd)
        }
        #[cfg(not(unix))]
        {
            fallback::entries(&self.path)
        }
    }

    /// The folder itself.
    fn stat_self(&self) -> io::Result<Stat> {
        #[cfg(unix)]
        {
            rustix::fs::fstat(&self.fd)
                .map(|s| unix::stat(&s))
                .map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            fallback::stat(&self.path)
        }
    }

    /// The entry `name`, not followed.
    pub fn stat(&self, name: &OsStr) -> io::Result<Stat> {
        let name = plain(name)?;
        #[cfg(unix)]
        {
            rustix::fs::statat(&self.fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                .map(|s| unix::stat(&s))
                .map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            fallback::stat(&self.path.join(name))
        }
    }

    /// The folder `name` inside this one (a symlink is refused).
    pub fn folder(&self, name: &OsStr) -> io::Result<Folder> {
        let name = plain(name)?;
        let path = self.path.join(name);
        #[cfg(unix)]
        {
            let fd = unix::open_beneath(&self.fd, &[name], unix::folder_flags())?;
            Ok(Folder { fd, path })
        }
        #[cfg(not(unix))]
        {
            fallback::check_names(&self.path, &[name], true)?;
            Ok(Folder { path })
        }
    }

    /// The regular file `name`, open for reading (a symlink or anything else is refused).
    pub fn read_file(&self, name: &OsStr) -> io::Result<File> {
        let name = plain(name)?;
        #[cfg(unix)]
        {
            let fd = unix::open_beneath(&self.fd, &[name], unix::read_flags())?;
            unix::regular(File::from(fd), &self.path.join(name))
        }
        #[cfg(not(unix))]
        {
            fallback::check_names(&self.path, &[name], false)?;
            fallback::regular(&self.path.join(name))
        }
    }

    /// A new file `name`, open for writing; fails when anything (a symlink too) is there.
    pub fn create_new(&self, name: &OsStr) -> io::Result<File> {
        let name = plain(name)?;
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::WRONLY
                | OFlags::CREATE
                | OFlags::EXCL
                | OFlags::NOFOLLOW
                | OFlags::CLOEXEC
                | OFlags::NOCTTY;
            rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o666))
                .map(File::from)
                .map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.path.join(name))
        }
    }

    /// Create the folder `name`; `AlreadyExists` when anything is there.
    pub fn create_folder(&self, name: &OsStr) -> io::Result<()> {
        let name = plain(name)?;
        #[cfg(unix)]
        {
            rustix::fs::mkdirat(&self.fd, name, rustix::fs::Mode::from_raw_mode(0o777))
                .map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            std::fs::create_dir(self.path.join(name))
        }
    }

    /// Remove the entry `name` that is not a folder (a symlink itself, never what it points to).
    pub fn remove_file(&self, name: &OsStr) -> io::Result<()> {
        let name = plain(name)?;
        #[cfg(unix)]
        {
            rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::empty())
                .map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            std::fs::remove_file(self.path.join(name))
        }
    }

    /// Remove the folder `name` and everything in it, descending by handle (a symlink inside
    /// is removed itself; a symlink in place of `name` is refused).
    pub fn remove_tree(&self, name: &OsStr) -> io::Result<()> {
        let name = plain(name)?;
        #[cfg(unix)]
        {
            let inside = self.folder(name)?;
            for child in inside.entries()? {
                match child.kind {
                    Kind::Dir => inside.remove_tree(&child.name)?,
                    _ => inside.remove_file(&child.name)?,
                }
            }
            rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::REMOVEDIR)
                .map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            fallback::check_names(&self.path, &[name], true)?;
            std::fs::remove_dir_all(self.path.join(name))
        }
    }

    /// Give the entry `name` the name `to_name` in `to`, replacing what is there (as `rename`
    /// does: a file replaces a file, a folder an empty folder); links are moved, not followed.
    pub fn rename(&self, name: &OsStr, to: &Folder, to_name: &OsStr) -> io::Result<()> {
        let (name, to_name) = (plain(name)?, plain(to_name)?);
        #[cfg(unix)]
        {
            rustix::fs::renameat(&self.fd, name, &to.fd, to_name).map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            std::fs::rename(self.path.join(name), to.path.join(to_name))
        }
    }

    /// A second name `to_name` in `to` for the file `name`; fails when `to_name` is taken.
    pub fn hard_link(&self, name: &OsStr, to: &Folder, to_name: &OsStr) -> io::Result<()> {
        let (name, to_name) = (plain(name)?, plain(to_name)?);
        #[cfg(unix)]
        {
            rustix::fs::linkat(
                &self.fd,
                name,
                &to.fd,
                to_name,
                rustix::fs::AtFlags::empty(),
            )
            .map_err(io::Error::from)
        }
        #[cfg(not(unix))]
        {
            std::fs::hard_link(self.path.join(name), to.path.join(to_name))
        }
    }

    /// Flush the folder's entries to disk (a rename is durable only then). Best effort.
    pub fn sync(&self) {
        #[cfg(unix)]
        let _ = rustix::fs::fsync(&self.fd);
    }
}

/// `name` as a single plain name (no separator, not `.` or `..`).
fn plain(name: &OsStr) -> io::Result<&OsStr> {
    let mut components = Path::new(name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(only)), None) if only == name => Ok(name),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a plain name", Path::new(name).display()),
        )),
    }
}

#[cfg(unix)]
mod unix {
    //! The Unix implementation: handles, `openat2` on Linux, `openat(O_NOFOLLOW)` elsewhere.

    use std::ffi::{OsStr, OsString};
    use std::fs::File;
    use std::io;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::Arc;

    use rustix::fd::{AsFd, OwnedFd};
    use rustix::fs::{FileType, Mode, OFlags};
    use rustix::io::Errno;

    use super::{Child, Kind, Stat};

    /// The open root and the identity of the folder it is.
    pub(super) struct Handle {
        fd: Arc<OwnedFd>,
        id: (u64, u64),
    }

    fn identity(stat: &rustix::fs::Stat) -> (u64, u64) {
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        (stat.st_dev as u64, stat.st_ino as u64)
    }

    impl Handle {
        pub(super) fn open(path: &Path) -> io::Result<Self> {
            let fd = rustix::fs::open(path, folder_flags() | OFlags::NOFOLLOW, Mode::empty())?;
            let id = identity(&rustix::fs::fstat(&fd)?);
            Ok(Self {
                fd: Arc::new(fd),
                id,
            })
        }

        /// The handle on the folder at `path` now: the same one while it is there, a new one
        /// when another folder took its place; an error when there is none (or a symlink).
        pub(super) fn current(&mut self, path: &Path) -> io::Result<Arc<OwnedFd>> {
            let there = rustix::fs::lstat(path).map_err(|e| gone(path, e))?;
            if FileType::from_raw_mode(there.st_mode) != FileType::Directory {
                return Err(gone(path, Errno::NOTDIR));
            }
            if identity(&there) != self.id {
                *self = Self::open(path)?;
            }
            Ok(self.fd.clone())
        }
    }

    fn gone(path: &Path, errno: Errno) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "the shared folder {} is no longer there ({})",
                path.display(),
                io::Error::from(errno)
            ),
        )
    }

    /// How a folder is opened: to read its entries and to reach into it.
    pub(super) fn folder_flags() -> OFlags {
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
    }

    /// How a file is opened for reading: never blocking on a FIFO, never taking a terminal.
    pub(super) fn read_flags() -> OFlags {
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC
    }

    /// Open `names` (plain names) under `start` with `flags`, following no symlink anywhere.
    pub(super) fn open_beneath<Fd: AsFd>(
        start: Fd,
        names: &[&OsStr],
        flags: OFlags,
    ) -> io::Result<OwnedFd> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(opened) = linux::openat2_beneath(start.as_fd(), names, flags) {
            return opened;
        }
        by_components(start, names, flags)
    }

    /// One `openat(O_NOFOLLOW)` per component, each from the folder opened before.
    pub(super) fn by_components<Fd: AsFd>(
        start: Fd,
        names: &[&OsStr],
        flags: OFlags,
    ) -> io::Result<OwnedFd> {
        let Some((last, folders)) = names.split_last() else {
            return Ok(rustix::fs::openat(
                start,
                ".",
                flags | OFlags::CLOEXEC,
                Mode::empty(),
            )?);
        };
        let mut current: Option<OwnedFd> = None;
        for name in folders {
            let next = {
                let at = match &current {
                    Some(fd) => fd.as_fd(),
                    None => start.as_fd(),
                };
                rustix::fs::openat(at, *name, through_flags(), Mode::empty())
                    .map_err(|e| refusal(at, name, e))?
            };
            current = Some(next);
        }
        let at = match &current {
            Some(fd) => fd.as_fd(),
            None => start.as_fd(),
        };
        rustix::fs::openat(
            at,
            *last,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| refusal(at, last, e).into())
    }

    /// The error of a failed `openat(O_NOFOLLOW)` of `name`: `ELOOP` whenever `name` is a
    /// symlink (with `O_DIRECTORY` some systems say `ENOTDIR` instead), so every refusal to
    /// follow a link reads the same as `openat2`'s.
    fn refusal(at: rustix::fd::BorrowedFd<'_>, name: &OsStr, error: Errno) -> Errno {
        match rustix::fs::statat(at, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => Errno::LOOP,
            _ => error,
        }
    }

    /// How a folder on the way is opened: only to reach into it.
    fn through_flags() -> OFlags {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let flags = OFlags::PATH;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let flags = OFlags::RDONLY;
        flags | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
    }

    /// Refuse anything but a regular file (checked on the open file, so it is what is read).
    pub(super) fn regular(file: File, path: &Path) -> io::Result<File> {
        if file.metadata()?.is_file() {
            Ok(file)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ))
        }
    }

    pub(super) fn kind(file_type: FileType) -> Kind {
        match file_type {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        }
    }

    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    pub(super) fn stat(stat: &rustix::fs::Stat) -> Stat {
        use std::os::unix::fs::PermissionsExt;
        let seconds = stat.st_mtime as i64;
        let nanos = stat.st_mtime_nsec as i64;
        Stat {
            kind: kind(FileType::from_raw_mode(stat.st_mode)),
            len: u64::try_from(stat.st_size).unwrap_or(0),
            mtime_ns: seconds.saturating_mul(1_000_000_000).saturating_add(nanos),
            permissions: std::fs::Permissions::from_mode((stat.st_mode as u32) & 0o7777),
        }
    }

    pub(super) fn entries(fd: &OwnedFd) -> io::Result<Vec<Child>> {
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(fd)? {
            let entry = entry?;
            let bytes = entry.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let name = OsStr::from_bytes(bytes);
            let kind = match entry.file_type() {
                FileType::Unknown => {
                    match rustix::fs::statat(fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(s) => stat(&s).kind,
                        Err(_) => Kind::Other,
                    }
                }
                known => kind(known),
            };
            out.push(Child {
                name: OsString::from(name),
                kind,
            });
        }
        Ok(out)
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    mod linux {
        //! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, and noticing a kernel without it.

        use std::ffi::OsStr;
        use std::io;
        use std::os::unix::ffi::OsStrExt;
        use std::sync::atomic::{AtomicBool, Ordering};

        use rustix::fd::{BorrowedFd, OwnedFd};
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        use rustix::io::Errno;

        /// Set once `openat2` was found missing (Linux before 5.6, or filtered by seccomp).
        static MISSING: AtomicBool = AtomicBool::new(false);

        /// How often a lookup that raced a rename elsewhere is retried.
        const RETRIES: usize = 8;

        /// The open, or `None` when this kernel has no `openat2` (the caller walks instead).
        pub(super) fn openat2_beneath(
            start: BorrowedFd<'_>,
            names: &[&OsStr],
            flags: OFlags,
        ) -> Option<io::Result<OwnedFd>> {
            if MISSING.load(Ordering::Relaxed) {
                return None;
            }
            let mut rel = Vec::new();
            for name in names {
                if !rel.is_empty() {
                    rel.push(b'/');
                }
                rel.extend_from_slice(name.as_bytes());
            }
            if rel.is_empty() {
                rel.push(b'.');
            }
            let rel = OsStr::from_bytes(&rel);
            let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
            for _ in 0..RETRIES {
                match rustix::fs::openat2(
                    start,
                    rel,
                    flags | OFlags::CLOEXEC,
                    Mode::empty(),
                    resolve,
                ) {
                    Err(Errno::AGAIN | Errno::INTR) => continue,
                    Err(Errno::NOSYS | Errno::PERM) => {
                        MISSING.store(true, Ordering::Relaxed);
                        return None;
                    }
                    other => return Some(other.map_err(io::Error::from)),
                }
            }
            None
        }
    }
}

#[cfg(not(unix))]
mod fallback {
    //! By name, checking each component with `symlink_metadata` first (see the module docs).

    use std::ffi::OsStr;
    use std::fs::{self, File};
    use std::io;
    use std::path::Path;

    use super::{Child, Kind, SYMLINK_REFUSED, Stat};

    /// Refuse when any of `names` under `start` is a symlink, or the last is not a folder
    /// when `folder`.
    pub(super) fn check_names(start: &Path, names: &[&OsStr], folder: bool) -> io::Result<()> {
        let mut path = start.to_path_buf();
        for name in names {
            path.push(name);
            if fs::symlink_metadata(&path)?.file_type().is_symlink() {
                return Err(io::Error::other(format!(
                    "{}: {SYMLINK_REFUSED}",
                    path.display()
                )));
            }
        }
        if folder && !fs::symlink_metadata(&path)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a folder", path.display()),
            ));
        }
        Ok(())
    }

    pub(super) fn regular(path: &Path) -> io::Result<File> {
        let file = File::open(path)?;
        if file.metadata()?.is_file() {
            Ok(file)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ))
        }
    }

    fn kind(file_type: fs::FileType) -> Kind {
        if file_type.is_symlink() {
            Kind::Symlink
        } else if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }

    pub(super) fn stat(path: &Path) -> io::Result<Stat> {
        let metadata = fs::symlink_metadata(path)?;
        Ok(Stat {
            kind: kind(metadata.file_type()),
            len: metadata.len(),
            mtime_ns: crate::scan::mtime_ns(&metadata),
            permissions: metadata.permissions(),
        })
    }

    pub(super) fn entries(path: &Path) -> io::Result<Vec<Child>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            out.push(Child {
                name: entry.file_name(),
                kind: kind(entry.file_type()?),
            });
        }
        Ok(out)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    struct Setup {
        _dir: tempfile::TempDir,
        base: PathBuf,
        root: RootDir,
    }

    /// base/root with a file and a folder, links to inside and outside; base/outside.
    fn setup() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = fs::canonicalize(dir.path()).expect("canonical");
        fs::create_dir_all(base.join("root/docs")).expect("mkdir");
        fs::create_dir_all(base.join("outside")).expect("mkdir");
        fs::write(base.join("root/docs/a.txt"), "inside").expect("write");
        fs::write(base.join("outside/secret"), "outside").expect("write");
        symlink(base.join("outside"), base.join("root/out")).expect("link");
        symlink("docs", base.join("root/docs-link")).expect("link");
        symlink(base.join("outside/secret"), base.join("root/docs/secret")).expect("link");
        let root = RootDir::open(&base.join("root")).expect("open root");
        Setup {
            _dir: dir,
            base,
            root,
        }
    }

    fn read(file: io::Result<File>) -> String {
        let mut text = String::new();
        file.expect("open").read_to_string(&mut text).expect("read");
        text
    }

    /// Both ways of opening: `openat2` (on Linux) and the walk by components.
    fn opens(root: &RootDir, rel: &str, flags: rustix::fs::OFlags) -> [io::Result<()>; 2] {
        let names = names(Path::new(rel)).expect("names");
        let handle = root.current().expect("handle");
        [
            unix::open_beneath(&*handle, &names, flags).map(drop),
            unix::by_components(&*handle, &names, flags).map(drop),
        ]
    }

    #[test]
    fn plain_paths_open_and_links_at_any_component_are_refused() {
        let s = setup();
        assert_eq!(read(s.root.read_file(Path::new("docs/a.txt"))), "inside");
        let flags = rustix::fs::OFlags::RDONLY;
        for opened in opens(&s.root, "docs/a.txt", flags) {
            assert!(opened.is_ok());
        }
        for rel in [
            "out/secret",
            "docs-link/a.txt",
            "docs/secret",
            "out",
            "docs-link",
        ] {
            for opened in opens(&s.root, rel, flags) {
                let error = opened.expect_err(rel);
                assert!(is_symlink_refusal(&error), "{rel}: {error}");
            }
            assert!(s.root.read_file(Path::new(rel)).is_err(), "{rel}");
        }
        assert!(s.root.folder(Path::new("out")).is_err());
        assert!(s.root.folder(Path::new("docs-link")).is_err());
        for bad in [
            "../outside/secret",
            "/etc/passwd",
            "docs/../../outside/secret",
        ] {
            assert_eq!(
                s.root.read_file(Path::new(bad)).expect_err(bad).kind(),
                io::ErrorKind::InvalidInput
            );
        }
    }

    #[test]
    fn changes_act_on_names_inside_the_folder_and_follow_nothing() {
        let s = setup();
        let docs = s.root.folder(Path::new("docs")).expect("docs");
        // A new file cannot be created over a link (it would be created at the link's target).
        assert_eq!(
            docs.create_new(OsStr::new("secret"))
                .expect_err("taken")
                .kind(),
            io::ErrorKind::AlreadyExists
        );
        // Removing a link removes the link.
        docs.remove_file(OsStr::new("secret")).expect("unlink");
        assert!(s.base.join("outside/secret").exists());
        // A tree is removed by handle; a link inside goes, its target stays.
        let made = s
            .root
            .create_folders(Path::new("tree/a/b"))
            .expect("folders");
        assert_eq!(made.path(), s.base.join("root/tree/a/b"));
        symlink(s.base.join("outside"), s.base.join("root/tree/a/out")).expect("link");
        fs::write(s.base.join("root/tree/a/b/f"), "f").expect("write");
        s.root
            .folder(Path::new(""))
            .expect("root")
            .remove_tree(OsStr::new("tree"))
            .expect("remove");
        assert!(!s.base.join("root/tree").exists());
        assert!(s.base.join("outside/secret").exists());
        // Folders are not created through a link, nor is a link removed as a tree.
        assert!(s.root.create_folders(Path::new("out/new")).is_err());
        assert!(!s.base.join("outside/new").exists());
        let top = s.root.folder(Path::new("")).expect("root");
        assert!(top.remove_tree(OsStr::new("out")).is_err());
        assert!(s.base.join("outside/secret").exists());
        assert!(top.stat(OsStr::new("out")).expect("stat").kind == Kind::Symlink);
        assert!(top.folder(OsStr::new("a/b")).is_err());
    }

    #[test]
    fn a_root_removed_and_made_again_is_reopened() {
        let s = setup();
        let root = s.base.join("root");
        fs::remove_dir_all(&root).expect("remove");
        let error = s.root.folder(Path::new("")).expect_err("gone");
        assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
        fs::create_dir_all(root.join("docs")).expect("mkdir");
        fs::write(root.join("docs/a.txt"), "again").expect("write");
        assert_eq!(read(s.root.read_file(Path::new("docs/a.txt"))), "again");
        // A symlink in the root's place is not a root.
        fs::remove_dir_all(&root).expect("remove");
        symlink(s.base.join("outside"), &root).expect("link");
        assert!(s.root.read_file(Path::new("secret")).is_err());
    }
}
