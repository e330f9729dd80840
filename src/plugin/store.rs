//! The private copies plugins are loaded from: `<state>/libraries/<sha256>.<ext>`, one file
//! per content, written whole and verified before anything loads it.
//!
//! A library is mapped into the process from its file, page by page, for as long as the
//! process runs. If that file is the person's own, truncating it (a `cp` of a new build over
//! it) or loading it half-copied makes the mapped pages vanish and the process dies of
//! SIGBUS. So switchboard never loads the person's file: it reads it once, checks it is a
//! complete object file ([`super::object`]), writes the bytes to a temporary file here,
//! reads that back to verify its SHA-256, renames it to its digest, and loads that. Nobody
//! else writes to this folder, so the person may replace or cut their file at any time.
//!
//! Several switchboard processes (one per client, the CLI) share the folder:
//! - A copy is created only if missing, under its digest, by rename: two processes writing
//!   the same content race harmlessly, and a name always holds that content whole.
//! - Loading holds a shared lock on `.lock` from making sure the copy exists until the
//!   library is open; cleaning takes the exclusive lock without waiting and is skipped when
//!   anyone is loading. So a copy is never deleted between "it exists" and "it is open".
//! - A copy is deleted only when its digest is neither that of a library the cleaning
//!   process just found in its folders nor one a serving switchboard reports loaded (its
//!   `live/<pid>.json`, whose `<pid>.lock` it holds for as long as it runs). Deleting a file
//!   a process has mapped is harmless on Linux and macOS (the mapping keeps it); Windows
//!   refuses to delete a loaded DLL, and that error is ignored.
//! - `<sha256>.probed` records that a child process opened that copy without crashing
//!   ([`super::probe`]), with the manifest it read, so each content is probed once and a
//!   library the configuration does not enable is never opened in the host; it goes with its
//!   copy.
//!
//! An unchanged file (same path, size and modification time as when a digest was recorded
//! for it) reuses its copy without being read again, which keeps starting fast.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use switchboard_plugin_api::Manifest;

use super::object;

/// The folder of copies under the state folder.
pub fn folder(state_dir: &Path) -> PathBuf {
    state_dir.join("libraries")
}

/// The private copy of one library, ready to load.
#[derive(Clone, Debug)]
pub struct Copy {
    /// The copy.
    pub path: PathBuf,
    /// Its (and, when it was read, the person's file's) SHA-256, hex.
    pub sha256: String,
    /// The person's file's size and modification time (ns) when it was read.
    pub stamp: Option<(i64, i64)>,
}

/// Why no copy could be made, for a person.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The person's file could not be read.
    #[error("cannot read the file: {0}")]
    Read(std::io::Error),
    /// The file is not a whole library of this platform.
    #[error("{0}; rebuild or recopy it")]
    Incomplete(#[from] object::Incomplete),
    /// The copy could not be written or did not read back the same.
    #[error(
        "cannot make the private copy in {folder}: {reason}; check that the state folder is writable and has space"
    )]
    Write {
        /// The folder of copies.
        folder: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// The folder of private copies.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store under `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: folder(state_dir),
        }
    }

    fn copy_path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}.{}", std::env::consts::DLL_EXTENSION))
    }

    fn probed_path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.probed"))
    }

    fn live_dir(&self) -> PathBuf {
        self.dir.join("live")
    }

    /// Hold this while making a copy and opening it (see the module's notes).
    pub fn loading(&self) -> Lock {
        Lock::shared(&self.dir)
    }

    /// A verified private copy of the library at `source`. `known` gives the digest recorded
    /// for the file at a (size, mtime) stamp, if any; with one whose copy is in place the
    /// file is not read again.
    pub fn prepare(
        &self,
        source: &Path,
        known: impl FnOnce((i64, i64)) -> Option<String>,
    ) -> Result<Copy, (CopyError, Option<String>)> {
        let stamp = file_stamp(source);
        if let Some(sha256) = stamp.and_then(known) {
            let path = self.copy_path(&sha256);
            let size = stamp.map(|(size, _)| size as u64);
            if std::fs::metadata(&path).is_ok_and(|m| Some(m.len()) == size) {
                return Ok(Copy {
                    path,
                    sha256,
                    stamp,
                });
            }
        }
        let bytes = std::fs::read(source).map_err(|e| (CopyError::Read(e), None))?;
        let sha256 = digest(&bytes);
        object::check(&bytes).map_err(|e| (e.into(), Some(sha256.clone())))?;
        let path = self.write_copy(&sha256, &bytes).map_err(|reason| {
            (
                CopyError::Write {
                    folder: self.dir.clone(),
                    reason,
                },
                Some(sha256.clone()),
            )
        })?;
        Ok(Copy {
            path,
            sha256,
            stamp,
        })
    }

    /// The copy named `sha256` holding `bytes`: kept if it is in place and reads back right,
    /// else written to a temporary file, verified, and renamed over the name.
    fn write_copy(&self, sha256: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let path = self.copy_path(sha256);
        if digest_of_file(&path).as_deref() == Some(sha256) {
            return Ok(path);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let temporary = self
            .dir
            .join(format!(".{sha256}.{}.{}.tmp", std::process::id(), unique()));
        let written = (|| -> std::io::Result<()> {
            let mut file = File::create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(format!("writing {}: {e}", temporary.display()));
        }
        let read_back = digest_of_file(&temporary);
        if read_back.as_deref() != Some(sha256) {
            let _ = std::fs::remove_file(&temporary);
            return Err(format!(
                "the copy reads back with SHA-256 {}, not {sha256}",
                read_back.as_deref().unwrap_or("(unreadable)")
            ));
        }
        std::fs::rename(&temporary, &path).map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            format!("renaming the copy to {}: {e}", path.display())
        })?;
        Ok(path)
    }

    /// The manifest the probe process read from the copy `sha256`, when that copy was opened
    /// by one without crashing. It lets the host decide whether a library is wanted (enabled,
    /// not shadowed) before mapping it into this process. A record that cannot be read as a
    /// manifest (one written by an older switchboard, or half-written by a process that
    /// died) counts as not probed: the content is probed again.
    pub fn probed_manifest(&self, sha256: &str) -> Option<Manifest> {
        let text = std::fs::read(self.probed_path(sha256)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Record that the copy `sha256` passed its probe, with the manifest it read.
    pub fn mark_probed(&self, sha256: &str, manifest: &Manifest) {
        let written = serde_json::to_vec(manifest)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(self.probed_path(sha256), json));
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot record a probed plugin library; it will be probed again");
        }
    }

    /// Delete the copies whose digest is not in `keep` nor loaded by a serving switchboard,
    /// and temporary files left by a process that died while copying. Skipped (returns
    /// `false`) while another process is making or opening a copy.
    pub fn clean(&self, keep: &BTreeSet<String>) -> bool {
        let Some(_lock) = Lock::exclusive_now(&self.dir) else {
            return false;
        };
        let mut keep = keep.clone();
        for report in self.live_reports() {
            keep.extend(report.plugins.into_iter().map(|p| p.sha256));
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return true;
        };
        let copy_suffix = format!(".{}", std::env::consts::DLL_EXTENSION);
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let stale = if name.starts_with('.') && name.ends_with(".tmp") {
                // Copies are written under the shared lock; with the exclusive one held,
                // every temporary file is a leftover.
                true
            } else {
                let digest = name
                    .strip_suffix(copy_suffix.as_str())
                    .or_else(|| name.strip_suffix(".probed"));
                digest.is_some_and(|d| is_digest(d) && !keep.contains(d))
            };
            if stale {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::debug!(file = %path.display(), "removed an unused plugin copy")
                    }
                    Err(e) => {
                        tracing::debug!(file = %path.display(), error = %e, "cannot remove an unused plugin copy")
                    }
                }
            }
        }
        true
    }

    /// Say, for as long as this process runs, which plugin files it has loaded (what
    /// [`Store::live_reports`] shows other processes). Later calls replace the report.
    pub fn publish(&self, plugins: Vec<LivePlugin>) {
        let dir = self.live_dir();
        let pid = std::process::id();
        let published = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            Lock::hold_for_life(&dir.join(format!("{pid}.lock")))?;
            let report = LiveReport {
                pid,
                since: crate::state::now(),
                plugins,
            };
            let text = serde_json::to_vec_pretty(&report).map_err(std::io::Error::other)?;
            let temporary = dir.join(format!("{pid}.json.tmp"));
            std::fs::write(&temporary, text)?;
            std::fs::rename(&temporary, dir.join(format!("{pid}.json")))
        })();
        if let Err(e) = published {
            tracing::warn!(folder = %dir.display(), error = %e, "cannot report the loaded plugin files; `plugins list` will not see what this switchboard runs");
        }
    }

    /// The reports of the serving switchboards that are running now (not this process's),
    /// removing those of processes that are gone.
    pub fn live_reports(&self) -> Vec<LiveReport> {
        let dir = self.live_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut reports = Vec::new();
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Some(report) = std::fs::read(&path)
                .ok()
                .and_then(|text| serde_json::from_slice::<LiveReport>(&text).ok())
            else {
                continue;
            };
            if report.pid == std::process::id() {
                continue;
            }
            let lock = dir.join(format!("{}.lock", report.pid));
            if Lock::is_held(&lock) {
                reports.push(report);
            } else {
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(&lock);
            }
        }
        reports.sort_by_key(|r| r.pid);
        reports
    }
}

/// What a serving switchboard says it has loaded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LiveReport {
    /// The process.
    pub pid: u32,
    /// When it last wrote this.
    pub since: String,
    /// Its loaded plugins.
    pub plugins: Vec<LivePlugin>,
}

/// One plugin a serving switchboard has loaded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LivePlugin {
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The person's file it was copied from.
    pub file: PathBuf,
    /// The digest of the copy it runs.
    pub sha256: String,
}

/// SHA-256 of `bytes`, hex.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn digest_of_file(path: &Path) -> Option<String> {
    super::library::digest_file(path).ok()
}

fn is_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A number no other temporary file of this process uses.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A file's size and modification time in nanoseconds.
pub fn file_stamp(path: &Path) -> Option<(i64, i64)> {
    let metadata = std::fs::metadata(path).ok()?;
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some((
        i64::try_from(metadata.len()).ok()?,
        i64::try_from(modified.as_nanos()).ok()?,
    ))
}

/// An advisory lock on a file (flock); released when dropped. Where there is no flock
/// (Windows), locking always succeeds and holds nothing: copies are then never cleaned while
/// the store cannot tell who is loading, and no process is reported as serving.
pub struct Lock {
    _file: Option<File>,
}

impl Lock {
    /// Wait for the shared lock of `dir` (best effort: a folder that cannot be locked is
    /// loaded from unlocked, and cleaning it is then skipped).
    fn shared(dir: &Path) -> Self {
        let file = std::fs::create_dir_all(dir)
            .and_then(|()| open_lock_file(&dir.join(".lock")))
            .ok()
            .filter(|file| flock(file, Mode::Shared));
        Self { _file: file }
    }

    /// The exclusive lock of `dir` if nobody holds it now.
    fn exclusive_now(dir: &Path) -> Option<Self> {
        if !cfg!(unix) {
            return None;
        }
        let file = open_lock_file(&dir.join(".lock")).ok()?;
        flock(&file, Mode::ExclusiveNow).then_some(Self { _file: Some(file) })
    }

    /// Lock `path` exclusively until the process ends.
    fn hold_for_life(path: &Path) -> std::io::Result<()> {
        static HELD: std::sync::OnceLock<File> = std::sync::OnceLock::new();
        if HELD.get().is_some() {
            return Ok(());
        }
        let file = open_lock_file(path)?;
        if !flock(&file, Mode::ExclusiveNow) {
            return Err(std::io::Error::other(format!(
                "{} is locked by another process",
                path.display()
            )));
        }
        let _ = HELD.set(file);
        Ok(())
    }

    /// Whether some process holds a lock on `path` now.
    fn is_held(path: &Path) -> bool {
        cfg!(unix) && open_lock_file(path).is_ok_and(|file| !flock(&file, Mode::SharedNow))
    }
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

#[derive(Clone, Copy)]
enum Mode {
    Shared,
    SharedNow,
    ExclusiveNow,
}

/// Take the lock; `false` when it is held elsewhere (the `Now` modes) or locking failed.
#[cfg(unix)]
fn flock(file: &File, mode: Mode) -> bool {
    use std::os::fd::AsRawFd;
    let operation = match mode {
        Mode::Shared => libc::LOCK_SH,
        Mode::SharedNow => libc::LOCK_SH | libc::LOCK_NB,
        Mode::ExclusiveNow => libc::LOCK_EX | libc::LOCK_NB,
    };
    loop {
        // SAFETY: flock on a descriptor this File owns; it only changes advisory lock state.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return true;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

#[cfg(not(unix))]
fn flock(_file: &File, mode: Mode) -> bool {
    matches!(mode, Mode::Shared)
}

// The sample library is an ELF file: these run where ELF is what loads.
#[cfg(all(test, unix, not(target_os = "macos")))]
mod tests {
    use super::*;

    fn library_bytes() -> Vec<u8> {
        object::elf64(0x2000)
    }

    #[test]
    fn a_copy_is_verified_reused_and_cleaned_when_unknown() {
        let state = tempfile::tempdir().unwrap();
        let store = Store::new(state.path());
        let source_dir = tempfile::tempdir().unwrap();
        let source = source_dir.path().join("libsome.so");
        std::fs::write(&source, library_bytes()).unwrap();

        let copy = store.prepare(&source, |_| None).unwrap();
        assert_eq!(copy.sha256, digest(&library_bytes()));
        assert_eq!(std::fs::read(&copy.path).unwrap(), library_bytes());
        // The person's file may now be cut: the copy is unaffected.
        std::fs::write(&source, b"").unwrap();
        assert_eq!(
            digest_of_file(&copy.path).as_deref(),
            Some(copy.sha256.as_str())
        );

        // A known digest with its copy in place is used without reading the file.
        std::fs::write(
            &source,
            vec![0u8; std::fs::metadata(&copy.path).unwrap().len() as usize],
        )
        .unwrap();
        let again = store
            .prepare(&source, |_| Some(copy.sha256.clone()))
            .unwrap();
        assert_eq!(again.path, copy.path);

        // A truncated file gets no copy.
        std::fs::write(&source, &library_bytes()[..0x1000]).unwrap();
        let (error, digest) = store.prepare(&source, |_| None).unwrap_err();
        assert!(error.to_string().contains("truncated"), "{error}");
        assert!(digest.is_some());

        let manifest = Manifest::new("probe", "0.1.0");
        store.mark_probed(&copy.sha256, &manifest);
        assert_eq!(store.probed_manifest(&copy.sha256), Some(manifest));
        // A record of an older switchboard (its version only) is no manifest: probed again.
        std::fs::write(store.probed_path(&copy.sha256), "0.1.0").unwrap();
        assert_eq!(store.probed_manifest(&copy.sha256), None);
        store.mark_probed(&copy.sha256, &Manifest::new("probe", "0.1.0"));
        std::fs::write(store.dir.join(".left.1.2.tmp"), b"x").unwrap();
        assert!(store.clean(&BTreeSet::from([copy.sha256.clone()])));
        assert!(copy.path.exists());
        assert!(!store.dir.join(".left.1.2.tmp").exists());
        // Cleaning waits for nobody: while a load holds the lock it is skipped.
        let loading = store.loading();
        assert!(!store.clean(&BTreeSet::new()));
        drop(loading);
        assert!(store.clean(&BTreeSet::new()));
        assert!(!copy.path.exists());
        assert_eq!(store.probed_manifest(&copy.sha256), None);
    }

    #[test]
    fn a_copy_that_was_damaged_is_written_again() {
        let state = tempfile::tempdir().unwrap();
        let store = Store::new(state.path());
        let source_dir = tempfile::tempdir().unwrap();
        let source = source_dir.path().join("libsome.so");
        std::fs::write(&source, library_bytes()).unwrap();
        let copy = store.prepare(&source, |_| None).unwrap();
        std::fs::write(&copy.path, b"damaged").unwrap();
        let again = store.prepare(&source, |_| None).unwrap();
        assert_eq!(
            digest_of_file(&again.path).as_deref(),
            Some(copy.sha256.as_str())
        );
    }
}
