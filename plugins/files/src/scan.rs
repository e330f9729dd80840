//! Walking the roots to list the files the index should hold.
//!
//! The walk only stats: it yields each visible regular file with its size and modification
//! time, and the index decides which ones need reading (beneath the root, like every read). A walk
//! covers every root or one folder's subtree (what a watcher saw change), and tells its
//! caller each folder it enters, so the watcher can watch exactly the folders walked.
//! Symlinks are never followed (a link
//! could lead out of a root or into a loop), hidden folders are pruned whole rather than
//! filtered file by file, and a folder that is itself another root is left to that root's own
//! walk so no file is listed twice. Unreadable folders are counted and skipped.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::beneath::Kind;
use crate::filter::Filter;
use crate::paths::Root;

/// A regular file found by the walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Absolute path (under a canonical root, no symlinks in it).
    pub path: String,
    /// Index of its root in the slice given to [`walk`].
    pub root: usize,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// The visible regular files the caller kept ([`WalkHooks::keep`]).
    pub files: Vec<FileEntry>,
    /// Entries that could not be read (permissions, races) or whose path is not UTF-8.
    pub skipped: usize,
    /// Whether the walk stopped early because the request was cancelled.
    pub cancelled: bool,
}

/// Modification time of `metadata` in nanoseconds since the Unix epoch (negative before it,
/// 0 when the platform does not know it).
pub fn mtime_ns(metadata: &std::fs::Metadata) -> i64 {
    let Ok(modified) = metadata.modified() else {
        return 0;
    };
    match modified.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

/// What a walk reports to, and asks, whoever runs it.
pub struct WalkHooks<'a> {
    /// Polled every few hundred entries; `true` stops the walk. Also where a background walk
    /// paces itself.
    pub stop: &'a dyn Fn() -> bool,
    /// Called with each folder the walk enters (its absolute path), e.g. to watch it.
    pub folder: &'a dyn Fn(&Path),
    /// Called with each file found; `false` leaves it out of [`Walk::files`] (the caller
    /// has dealt with it, or it is unchanged).
    pub keep: &'a dyn Fn(&FileEntry) -> bool,
}

/// Walk to the end, telling nobody.
pub const QUIET: WalkHooks<'static> = WalkHooks {
    stop: &|| false,
    folder: &|_| {},
    keep: &|_| true,
};

/// Walk every root, keeping what `filter` lets through and nothing under `skip` (the plugin's
/// own data folder). Each folder is opened beneath its root handle by its path relative to the
/// root, following no symlink ([`crate::beneath`]), so a folder swapped for a link while the
/// walk runs is skipped, never entered.
pub fn walk(roots: &[Root], filter: &Filter, skip: Option<&Path>, hooks: &WalkHooks<'_>) -> Walk {
    let mut out = Walk::default();
    for index in 0..roots.len() {
        walk_under(roots, filter, skip, index, Path::new(""), hooks, &mut out);
        if out.cancelled {
            break;
        }
    }
    out
}

/// Walk the folder `start` (relative to root `index`; empty for the whole root) as [`walk`]
/// does, adding what it finds to `out`. `start` itself must be visible; the caller checks.
pub fn walk_under(
    roots: &[Root],
    filter: &Filter,
    skip: Option<&Path>,
    index: usize,
    start: &Path,
    hooks: &WalkHooks<'_>,
    out: &mut Walk,
) {
    let Some(root) = roots.get(index) else {
        return;
    };
    let other_roots: Vec<&PathBuf> = roots
        .iter()
        .filter(|r| r.path != root.path && r.path.starts_with(&root.path))
        .map(|r| &r.path)
        .collect();
    let mut seen = 0usize;
    let mut pending = vec![start.to_path_buf()];
    while let Some(rel_folder) = pending.pop() {
        // Told before its entries are read, so a watch set there misses nothing created
        // after the listing.
        let opened = root.dir.folder(&rel_folder).and_then(|folder| {
            (hooks.folder)(&root.path.join(&rel_folder));
            folder.entries().map(|children| (folder, children))
        });
        let Ok((folder, children)) = opened else {
            out.skipped += 1;
            continue;
        };
        for child in children {
            seen += 1;
            if seen.is_multiple_of(256) && (hooks.stop)() {
                out.cancelled = true;
                return;
            }
            let rel = rel_folder.join(&child.name);
            match child.kind {
                Kind::Dir => {
                    let path = root.path.join(&rel);
                    let skipped = skip.is_some_and(|s| s == path)
                        || other_roots.iter().any(|r| **r == path)
                        || filter.excludes_dir(&rel);
                    if !skipped {
                        pending.push(rel);
                    }
                }
                Kind::File if filter.admits_file(&rel) => {
                    let path = root.path.join(rel).into_os_string().into_string();
                    match (folder.stat(&child.name), path) {
                        (Ok(stat), Ok(path)) if stat.kind == Kind::File => {
                            let file = FileEntry {
                                path,
                                root: index,
                                size: stat.len,
                                mtime_ns: stat.mtime_ns,
                            };
                            if (hooks.keep)(&file) {
                                out.files.push(file);
                            }
                        }
                        // Replaced by something else since the folder was read.
                        (Ok(_), Ok(_)) => {}
                        _ => out.skipped += 1,
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::paths::Roots;
    use std::fs;

    #[test]
    fn walk_skips_hidden_excluded_links_and_nested_roots() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = fs::canonicalize(dir.path()).expect("canonical");
        for folder in ["a/b", "a/.git", "a/node_modules/x", "a/nested", "data"] {
            fs::create_dir_all(base.join(folder)).expect("mkdir");
        }
        for file in [
            "a/one.txt",
            "a/b/two.md",
            "a/.hidden",
            "a/.git/config",
            "a/node_modules/x/index.js",
            "a/nested/three.txt",
            "data/index.sqlite",
        ] {
            fs::write(base.join(file), "x").expect("write");
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(base.join("a/one.txt"), base.join("a/link.txt"))
            .expect("symlink");
        let config = Config {
            roots: vec![
                base.join("a").display().to_string(),
                base.join("a/nested").display().to_string(),
                base.display().to_string(),
            ],
            ..Config::default()
        };
        let (roots, _) = Roots::new(&config, None).expect("roots");
        let data = base.join("data");
        let walk = walk(roots.roots(), roots.filter(), Some(&data), &QUIET);
        let mut found: Vec<(String, usize)> = walk
            .files
            .iter()
            .map(|f| {
                let rel = Path::new(&f.path).strip_prefix(&base).expect("under base");
                (rel.display().to_string(), f.root)
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            vec![
                ("a/b/two.md".to_string(), 0),
                ("a/nested/three.txt".to_string(), 1),
                ("a/one.txt".to_string(), 0),
            ]
        );
        assert!(!walk.cancelled);
        assert!(walk.files.iter().all(|f| f.size == 1 && f.mtime_ns > 0));
    }

    #[test]
    fn walk_stops_when_cancelled() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..600 {
            fs::write(dir.path().join(format!("f{i}.txt")), "x").expect("write");
        }
        let config = Config {
            roots: vec![dir.path().display().to_string()],
            ..Config::default()
        };
        let (roots, _) = Roots::new(&config, None).expect("roots");
        let walk = walk(
            roots.roots(),
            roots.filter(),
            None,
            &WalkHooks {
                stop: &|| true,
                ..QUIET
            },
        );
        assert!(walk.cancelled);
        assert!(walk.files.len() < 600);
    }
}
