//! Where the write tools may act: the confinement rules of [`crate::paths`] extended to paths
//! that do not exist yet, and to the entry a path names rather than what a link points to.
//!
//! A path that exists must pass [`Roots::resolve`] exactly as for reading (absolute, no `..`,
//! under a root as written and once symlinks are resolved, visible under the include/exclude
//! globs, a regular file or a folder). A final symlink is checked through to its target, so a
//! link out of a root or to a hidden file is refused like the read side refuses it.
//!
//! A path that does not exist yet is confined by its deepest existing ancestor: that folder
//! must pass [`Roots::resolve`], and the new path is its canonical form plus the missing names,
//! which are plain names by construction (the path has no `..` and `Path::components` drops
//! `.`). The result must then be visible under a canonical root, as written and canonically
//! ([`Roots::admit`]), so a new file cannot be created inside a hidden folder, through a
//! symlinked folder that leads out of a root, or under a name the exclude globs hide.
//!
//! The change that follows is made beneath the root's handle on the canonical paths found
//! here, in a folder opened without following any symlink ([`crate::beneath`]): a folder
//! swapped for a symlink after these checks makes the change fail, it cannot redirect it out
//! of the root.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::paths::{PathError, Resolved, Roots};

/// What is at a path a write tool was given.
#[derive(Clone, Debug)]
pub enum Found {
    /// Something exists there.
    Existing {
        /// The entry itself: its folder canonical, its own name as given, a final symlink not
        /// followed. What `move` and `delete` act on.
        entry: PathBuf,
        /// Index of the root `entry` lies under (a link's target may lie under another).
        entry_root: usize,
        /// What it is, symlinks followed; `resolved.path` is what `write` replaces.
        resolved: Resolved,
        /// Whether the entry is a symlink.
        link: bool,
    },
    /// Nothing is there yet.
    New {
        /// The canonical deepest existing ancestor plus the missing names.
        path: PathBuf,
        /// Index of the root the new path lies under.
        root: usize,
        /// Whether its folder exists (otherwise folders must be created first).
        parent_exists: bool,
    },
}

impl Found {
    /// The path a change acts on: the entry when something exists, the new path otherwise.
    pub fn path(&self) -> &Path {
        match self {
            Found::Existing { entry, .. } => entry,
            Found::New { path, .. } => path,
        }
    }
}

/// Locate `requested` (absolute, `~` already expanded) under the confinement rules. `new_is_dir`
/// says what would be created there when nothing exists yet (it decides which globs apply).
pub fn locate(roots: &Roots, requested: &Path, new_is_dir: bool) -> Result<Found, PathError> {
    roots.check_written(requested)?;
    let shown = || requested.display().to_string();
    match fs::symlink_metadata(requested) {
        Ok(metadata) => {
            let link = metadata.file_type().is_symlink();
            if link && fs::metadata(requested).is_err() {
                // A dangling link: nothing can vouch for where a write through it would land.
                return Err(PathError::Dangling(shown()));
            }
            let resolved = roots.resolve(requested)?;
            let (entry, entry_root) = if link {
                entry_of_link(roots, requested)?
            } else {
                (resolved.path.clone(), resolved.root)
            };
            Ok(Found::Existing {
                entry,
                entry_root,
                resolved,
                link,
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => locate_new(roots, requested, new_is_dir),
        Err(e) => Err(PathError::Io(shown(), e)),
    }
}

/// The canonical folder of a symlink joined with the link's own name, and the folder's root.
fn entry_of_link(roots: &Roots, requested: &Path) -> Result<(PathBuf, usize), PathError> {
    let shown = || requested.display().to_string();
    let (Some(parent), Some(name)) = (requested.parent(), requested.file_name()) else {
        return Err(PathError::Special(shown()));
    };
    let folder = roots.resolve(parent)?;
    if !folder.is_dir {
        return Err(PathError::Special(shown()));
    }
    Ok((folder.path.join(name), folder.root))
}

fn locate_new(roots: &Roots, requested: &Path, new_is_dir: bool) -> Result<Found, PathError> {
    let shown = || requested.display().to_string();
    let mut missing = Vec::new();
    let mut ancestor = requested;
    loop {
        let Some(name) = ancestor.file_name() else {
            return Err(PathError::Missing(shown()));
        };
        missing.push(name.to_os_string());
        ancestor = match ancestor.parent() {
            Some(parent) => parent,
            None => return Err(PathError::Missing(shown())),
        };
        match fs::symlink_metadata(ancestor) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(PathError::Io(ancestor.display().to_string(), e)),
        }
    }
    // The deepest existing ancestor, confined like any path that is read.
    let folder = roots.resolve(ancestor)?;
    if !folder.is_dir {
        return Err(PathError::NotAFolder(ancestor.display().to_string()));
    }
    let parent_exists = missing.len() == 1;
    let mut path = folder.path;
    for name in missing.iter().rev() {
        path.push(name);
    }
    let root = roots.admit(requested, &path, new_is_dir)?;
    Ok(Found::New {
        path,
        root,
        parent_exists,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::config::Config;

    struct Setup {
        _dir: tempfile::TempDir,
        base: PathBuf,
        roots: Roots,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = fs::canonicalize(dir.path()).expect("canonical");
        let root = base.join("root");
        fs::create_dir_all(root.join("docs")).expect("mkdir");
        fs::create_dir_all(root.join(".hidden")).expect("mkdir");
        fs::create_dir_all(base.join("outside")).expect("mkdir");
        fs::write(root.join("docs/a.txt"), "a").expect("write");
        std::os::unix::fs::symlink(base.join("outside"), root.join("out")).expect("symlink");
        std::os::unix::fs::symlink(root.join("docs"), root.join("docs-link")).expect("symlink");
        std::os::unix::fs::symlink(root.join("docs/a.txt"), root.join("a-link")).expect("link");
        std::os::unix::fs::symlink(base.join("nowhere"), root.join("dangling")).expect("link");
        let config = Config {
            roots: vec![root.display().to_string()],
            ..Config::default()
        };
        let (roots, _) = Roots::new(&config, None).expect("roots");
        Setup {
            _dir: dir,
            base,
            roots,
        }
    }

    #[test]
    fn new_paths_are_confined_by_their_existing_ancestor() {
        let s = setup();
        let root = s.base.join("root");
        let Ok(Found::New {
            path,
            parent_exists,
            ..
        }) = locate(&s.roots, &root.join("docs/new.txt"), false)
        else {
            panic!("a new file in a shared folder");
        };
        assert_eq!(path, root.join("docs/new.txt"));
        assert!(parent_exists);
        let Ok(Found::New {
            path,
            parent_exists,
            ..
        }) = locate(&s.roots, &root.join("docs-link/x/y.txt"), false)
        else {
            panic!("new folders under a link inside the root");
        };
        assert_eq!(path, root.join("docs/x/y.txt"));
        assert!(!parent_exists);

        for (refused, why) in [
            (root.join("out/new.txt"), "through a link out of the root"),
            (root.join(".hidden/new.txt"), "in a hidden folder"),
            (root.join(".new"), "a hidden name"),
            (root.join("x/.git/config"), "under a new hidden folder"),
            (s.base.join("outside/new.txt"), "outside"),
            (root.join("docs/../../outside/x"), "with .."),
            (root.join("docs/a.txt/x"), "under a file"),
            (root.join("dangling"), "a dangling link"),
        ] {
            assert!(
                locate(&s.roots, &refused, false).is_err(),
                "{why}: {}",
                refused.display()
            );
        }
    }

    #[test]
    fn links_are_entries_checked_through_to_their_target() {
        let s = setup();
        let root = s.base.join("root");
        let Ok(Found::Existing {
            entry,
            resolved,
            link,
            ..
        }) = locate(&s.roots, &root.join("a-link"), false)
        else {
            panic!("a link inside the root");
        };
        assert!(link);
        assert_eq!(entry, root.join("a-link"));
        assert_eq!(resolved.path, root.join("docs/a.txt"));
        assert!(matches!(
            locate(&s.roots, &root.join("out"), true),
            Err(PathError::Outside(_))
        ));
    }
}
