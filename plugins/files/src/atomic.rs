//! Changing files so that nobody ever sees half of a change: atomic writes and moves.
//!
//! A write goes to a fresh temporary file in the destination's own folder (hidden, so neither
//! the index nor a listing ever shows it), is flushed to disk, and only then takes the
//! destination's name. Replacing uses `rename`, which swaps the name over atomically; creating
//! uses a hard link, which fails when the name is taken, so a file that appeared since the
//! check is never clobbered (on file systems without hard links it falls back to checking and
//! renaming). A replaced file keeps its permissions. On any failure the temporary file is
//! removed and the destination is as it was. Every name is taken in a folder opened beneath
//! its root ([`crate::beneath::Folder`]), so none of these steps can be redirected by a link.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::beneath::Folder;

/// Names of temporary files already tried by this process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// How many temporary names are tried before giving up.
const TEMP_ATTEMPTS: u32 = 100;

/// Create a new, empty temporary file in `folder`; its name and the open file.
fn create_temp(folder: &Folder) -> io::Result<(OsString, File)> {
    let pid = std::process::id();
    for _ in 0..TEMP_ATTEMPTS {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = OsString::from(format!(".switchboard-write-{pid}-{n}.tmp"));
        match folder.create_new(&name) {
            Ok(file) => return Ok((name, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name in the destination folder",
    ))
}

/// Give `temp` the name `dest` in `folder`: replacing what is there when `replace`, failing
/// with `AlreadyExists` otherwise.
fn install(folder: &Folder, temp: &OsStr, dest: &OsStr, replace: bool) -> io::Result<()> {
    if replace {
        return folder.rename(temp, folder, dest);
    }
    match folder.hard_link(temp, folder, dest) {
        Ok(()) => {
            // The data now has its final name; the temporary one is just an extra link.
            let _ = folder.remove_file(temp);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            // No hard links here (FAT, some network shares): check, then rename.
            if folder.stat(dest).is_ok() {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            folder.rename(temp, folder, dest)
        }
    }
}

/// Write `bytes` to the file `name` in `folder` atomically. With `replace`, an existing file
/// is replaced (keeping its permissions); without, an existing file is an `AlreadyExists`
/// error.
pub fn write(folder: &Folder, name: &OsStr, bytes: &[u8], replace: bool) -> io::Result<()> {
    let (temp, mut file) = create_temp(folder)?;
    let outcome = (|| {
        file.write_all(bytes)?;
        if replace && let Ok(existing) = folder.stat(name) {
            file.set_permissions(existing.permissions)?;
        }
        file.sync_all()?;
        drop(file);
        install(folder, &temp, name, replace)
    })();
    if outcome.is_err() {
        let _ = folder.remove_file(&temp);
    }
    outcome?;
    folder.sync();
    Ok(())
}

/// Move the regular file `from_name` in `from` to `to_name` in `to` across file systems: copy
/// it next to the destination, install the copy atomically, then remove the original.
pub fn copy_across(
    from: &Folder,
    from_name: &OsStr,
    to: &Folder,
    to_name: &OsStr,
    replace: bool,
) -> io::Result<()> {
    let mut source = from.read_file(from_name)?;
    let (temp, mut file) = create_temp(to)?;
    let outcome = (|| {
        io::copy(&mut source, &mut file)?;
        file.set_permissions(source.metadata()?.permissions())?;
        file.sync_all()?;
        drop(file);
        install(to, &temp, to_name, replace)
    })();
    if outcome.is_err() {
        let _ = to.remove_file(&temp);
    }
    outcome?;
    to.sync();
    from.remove_file(from_name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beneath::RootDir;
    use std::fs;
    use std::path::Path;

    fn folder(path: &Path) -> Folder {
        RootDir::open(path)
            .expect("root")
            .folder(Path::new(""))
            .expect("folder")
    }

    #[test]
    fn writes_replace_only_when_asked_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("note.txt");
        let at = folder(dir.path());
        let name = OsStr::new("note.txt");
        write(&at, name, b"first", false).expect("create");
        assert_eq!(fs::read_to_string(&dest).expect("read"), "first");
        let again = write(&at, name, b"second", false).expect_err("exists");
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&dest).expect("read"), "first");
        write(&at, name, b"second", true).expect("replace");
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
        let at = folder(dir.path());
        let name = OsStr::new("run.sh");
        write(&at, name, b"echo hi", false).expect("create");
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o751)).expect("chmod");
        write(&at, name, b"echo bye", true).expect("replace");
        let mode = fs::metadata(&dest).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o751);
    }

    #[test]
    fn copy_across_moves_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let from = dir.path().join("a.txt");
        let to = dir.path().join("b.txt");
        fs::write(&from, "moved").expect("write");
        let at = folder(dir.path());
        copy_across(&at, OsStr::new("a.txt"), &at, OsStr::new("b.txt"), false).expect("copy");
        assert!(!from.exists());
        assert_eq!(fs::read_to_string(&to).expect("read"), "moved");
    }
}
