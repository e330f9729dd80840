//! Folder listings: the entries of one folder that the confinement rules let a client see.
//!
//! Used by the `list` tool and by reading a folder's `file://` resource, so both show the same
//! thing. A child is shown when the include/exclude globs admit it; a symlink only when it
//! resolves, under the full confinement rules, to something visible inside a root (so a link
//! pointing out of a root is not even shown). Huge folders are cut at [`MAX_ENTRIES`].

use std::cmp::Ordering;
use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

use crate::beneath;
use crate::paths::{self, PathError, Resolved, Roots};

/// Most entries returned for one folder.
pub const MAX_ENTRIES: usize = 1000;

/// What kind of thing an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
}

/// One visible entry of a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// File or folder name.
    pub name: String,
    /// File or folder (for a symlink, what it points to).
    pub kind: Kind,
    /// Size in bytes, for files.
    pub size: Option<u64>,
    /// Whether the entry is a symlink (to something visible inside a root).
    pub link: bool,
}

/// The visible entries of a folder, folders first, then by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Canonical path of the folder.
    pub path: String,
    /// The entries, at most [`MAX_ENTRIES`].
    pub entries: Vec<Entry>,
    /// How many visible entries there are in all.
    pub total: usize,
}

/// List the folder `folder` (already resolved, so visible and inside a root), opened beneath
/// its root; each entry is looked at without following it.
pub fn list(roots: &Roots, folder: &Resolved) -> Result<Listing, PathError> {
    let root = roots
        .roots()
        .get(folder.root)
        .map(|r| r.path.as_path())
        .unwrap_or(Path::new(""));
    let rel_folder = folder.path.strip_prefix(root).unwrap_or(Path::new(""));
    let filter = roots.filter();
    let opened = roots.open_folder(folder)?;
    let children = opened
        .entries()
        .map_err(|e| paths::opening(&folder.path, e))?;
    let mut entries = Vec::new();
    for child in children {
        let name = child.name.to_string_lossy().into_owned();
        let rel = rel_folder.join(&child.name);
        let entry = match child.kind {
            beneath::Kind::Dir => (!filter.excludes_dir(&rel)).then_some(Entry {
                name,
                kind: Kind::Dir,
                size: None,
                link: false,
            }),
            beneath::Kind::File => filter.admits_file(&rel).then(|| Entry {
                name,
                kind: Kind::File,
                size: opened.stat(&child.name).ok().map(|s| s.len),
                link: false,
            }),
            beneath::Kind::Symlink => {
                roots
                    .resolve(&folder.path.join(&child.name))
                    .ok()
                    .map(|target| Entry {
                        name,
                        kind: if target.is_dir { Kind::Dir } else { Kind::File },
                        size: if target.is_dir {
                            None
                        } else {
                            roots.stat(target.root, &target.path).ok().map(|s| s.len)
                        },
                        link: true,
                    })
            }
            beneath::Kind::Other => None,
        };
        entries.extend(entry);
    }
    entries.sort_by(|a, b| match (a.kind, b.kind) {
        (Kind::Dir, Kind::File) => Ordering::Less,
        (Kind::File, Kind::Dir) => Ordering::Greater,
        _ => a.name.cmp(&b.name),
    });
    let total = entries.len();
    entries.truncate(MAX_ENTRIES);
    Ok(Listing {
        path: folder.path.display().to_string(),
        entries,
        total,
    })
}

impl Listing {
    /// The listing as readable text: one entry a line, folders ending in `/`.
    pub fn render(&self) -> String {
        let count = match self.total {
            1 => "1 entry".to_string(),
            n => format!("{n} entries"),
        };
        let mut out = format!("{} ({count})\n", self.path);
        for entry in &self.entries {
            let link = if entry.link { " (link)" } else { "" };
            match entry.kind {
                Kind::Dir => out.push_str(&format!("{}/{link}\n", entry.name)),
                Kind::File => match entry.size {
                    Some(size) => out.push_str(&format!("{}  {size} bytes{link}\n", entry.name)),
                    None => out.push_str(&format!("{}{link}\n", entry.name)),
                },
            }
        }
        if self.total > self.entries.len() {
            out.push_str(&format!(
                "… {} more entries not shown\n",
                self.total - self.entries.len()
            ));
        }
        out
    }

    /// The listing as the `list` tool's structured answer.
    pub fn output(&self) -> ListOutput {
        ListOutput {
            path: self.path.clone(),
            entries: self
                .entries
                .iter()
                .map(|e| ListEntry {
                    name: e.name.clone(),
                    kind: e.kind,
                    size: e.size,
                    link: e.link.then_some(true),
                })
                .collect(),
            total: self.total,
            truncated: self.total > self.entries.len(),
        }
    }
}

/// The `list` tool's structured answer.
#[derive(Serialize, JsonSchema)]
pub struct ListOutput {
    /// The folder listed.
    path: String,
    /// What it holds (visible entries only), folders first.
    entries: Vec<ListEntry>,
    /// How many visible entries it holds in all.
    total: usize,
    /// Whether `entries` stops short of `total`.
    truncated: bool,
}

/// One entry of a listing.
#[derive(Serialize, JsonSchema)]
pub struct ListEntry {
    /// Its name.
    name: String,
    /// A file or a folder.
    kind: Kind,
    /// A file's size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// Set when the entry is a symbolic link (to a file or folder inside the roots).
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<bool>,
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::fs;

    #[test]
    fn lists_visible_entries_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = fs::canonicalize(dir.path()).expect("canonical");
        let root = base.join("root");
        for folder in ["root/sub", "root/.git", "root/node_modules", "outside"] {
            fs::create_dir_all(base.join(folder)).expect("mkdir");
        }
        fs::write(root.join("b.txt"), "bb").expect("write");
        fs::write(root.join(".env"), "SECRET=1").expect("write");
        fs::write(base.join("outside/x"), "x").expect("write");
        std::os::unix::fs::symlink(root.join("b.txt"), root.join("a-link")).expect("symlink");
        std::os::unix::fs::symlink(base.join("outside"), root.join("out")).expect("symlink");
        let config = Config {
            roots: vec![root.display().to_string()],
            ..Config::default()
        };
        let (roots, _) = Roots::new(&config, None).expect("roots");
        let folder = roots.resolve(&root).expect("root");
        let listing = list(&roots, &folder).expect("list");
        let names: Vec<(&str, Kind, bool)> = listing
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.kind, e.link))
            .collect();
        assert_eq!(
            names,
            vec![
                ("sub", Kind::Dir, false),
                ("a-link", Kind::File, true),
                ("b.txt", Kind::File, false)
            ]
        );
        assert_eq!(listing.entries[2].size, Some(2));
        assert!(listing.render().contains("sub/\n"));
        assert_eq!(
            serde_json::to_value(listing.output()).unwrap()["entries"][1]["kind"],
            "file"
        );
    }
}
