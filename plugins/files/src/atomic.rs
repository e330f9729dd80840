//! Changing files so that nobody ever sees half of a change: atomic writes and moves.
//!
//! A write goes to a fresh temporary file in the destination's own folder (hidden, so neither
//! the index nor a listing ever shows it), is flushed to disk, and only then takes the
//! destination's name. Replacing uses `rename`, which swaps the name over atomically; creating
//! uses a hard link, which fails when the name is taken, so a file that appeared since the
//! check is never clobbered (on file systems without hard links it falls back to checking and
//! renaming). A replaced file keeps its permissions. On any failure the temporary file is
//! removed and the destination is as it was.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Names of temporary files already tried by this process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// How many temporary names are tried before giving up.
const TEMP_ATTEMPTS: u32 = 100;

/// Create a new, empty temporary file in `folder`.
fn create_temp(folder: &Path) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    for _ in 0..TEMP_ATTEMPTS {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = folder.join(format!(".switchboard-write-{pid}-{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name in the destination folder",
    ))
}

/// Flush a folder's entries to disk (a rename is durable only then). Best effort: not every
/// platform can open a folder for this.
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = folder;
}

/// Give `temp` the name `dest`: replacing what is there when `replace`, failing with
/// `AlreadyExists` otherwise.
fn install(temp: &Path, dest: &Path, replace: bool) -> io::Result<()> {
    if replace {
        return fs::rename(temp, dest);
    }
    match fs::hard_link(temp, dest) {
        Ok(()) => {
            // The data now has its final name; the temporary one is just an extra link.
            let _ = fs::remove_file(temp);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            // No hard links here (FAT, some network shares): check, then rename.
            if fs::symlink_metadata(dest).is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            fs::rename(temp, dest)
        }
    }
}

/// Write `bytes` to `dest` atomically. With `replace`, an existing file is replaced (keeping
/// its permissions); without, an existing file is an `AlreadyExists` error.
pub fn write(dest: &Path, bytes: &[u8], replace: bool) -> io::Result<()> {
    let folder = dest
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent folder"))?;
    let (temp, mut file) = create_temp(folder)?;
    let outcome = (|| {
        file.write_all(bytes)?;
        if replace && let Ok(existing) = fs::metadata(dest) {
            file.set_permissions(existing.permissions())?;
        }
        file.sync_all()?;
        drop(file);
        install(&temp, dest, replace)
    })();
    if outcome.is_err() {
        let _ = fs::remove_file(&temp);
    }
    outcome?;
    sync_folder(folder);
    Ok(())
}

/// Move the regular file `from` to `dest` across file systems: copy it next to `dest`, install
/// the copy atomically, then remove `from`.
pub fn copy_across(from: &Path, dest: &Path, replace: bool) -> io::Result<()> {
    let folder = dest
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent folder"))?;
    let (temp, file) = create_temp(folder)?;
    drop(file);
    let outcome = (|| {
        fs::copy(from, &temp)?;
        File::open(&temp)?.sync_all()?;
        install(&temp, dest, replace)
    })();
    if outcome.is_err() {
        let _ = fs::remove_file(&temp);
    }
    outcome?;
    sync_folder(folder);
    fs::remove_file(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_only_when_asked_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("note.txt");
        write(&dest, b"first", false).expect("create");
        assert_eq!(fs::read_to_string(&dest).expect("read"), "first");
        let again = write(&dest, b"second", false).expect_err("exists");
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&dest).expect("read"), "first");
        write(&dest, b"second", true).expect("replace");
        assert_eq!(fs::read_to_string(&dest).expect("read"), "second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("note.txt")]);
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("run.sh");
        write(&dest, b"echo hi", false).expect("create");
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o751)).expect("chmod");
        write(&dest, b"echo bye", true).expect("replace");
        let mode = fs::metadata(&dest).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o751);
    }

    #[test]
    fn copy_across_moves_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let from = dir.path().join("a.txt");
        let to = dir.path().join("b.txt");
        fs::write(&from, "moved").expect("write");
        copy_across(&from, &to, false).expect("copy");
        assert!(!from.exists());
        assert_eq!(fs::read_to_string(&to).expect("read"), "moved");
    }
}
