//! The confinement rules: which paths a client may reach, and `file://` URIs for them.
//!
//! Everything the connector returns goes through [`Roots::resolve`], which enforces, in order:
//! the path is absolute (after `~` expansion) and has no `..` component; it lies, as written,
//! under a root (so paths elsewhere are refused without touching the disk); its canonical form
//! (symlinks resolved) lies under a canonical root, so a symlink pointing out of a root is
//! refused; neither form is hidden by the include/exclude globs; and it is a regular file or a
//! folder (never a device or a FIFO, which could block a read forever).
//!
//! The write tools reuse these rules through [`Roots::check_written`] and [`Roots::admit`] for
//! paths that do not exist yet (see [`crate::target`]).
//!
//! The rules decide by name; nothing is then opened by name. Each root keeps an open handle
//! ([`RootDir`]) and what passed the rules is opened beneath it, its canonical path made
//! relative to the root, following no symlink at any component ([`crate::beneath`]): a link
//! swapped in after the check makes the open fail with [`PathError::Symlink`] instead of
//! leading out of the root.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::beneath::{self, Folder, RootDir, Stat};
use crate::config::{Config, expand_home};
use crate::filter::Filter;

/// A root as configured, and where it resolved to at creation.
#[derive(Clone, Debug)]
pub struct ConfiguredRoot {
    /// As written in the configuration.
    pub configured: String,
    /// With `~` expanded.
    pub expanded: PathBuf,
    /// Canonical path, `None` when the folder did not exist (or was not a folder) at creation.
    pub canonical: Option<PathBuf>,
}

/// A root that exists: the folders the connector shares.
#[derive(Clone, Debug)]
pub struct Root {
    /// Canonical path.
    pub path: PathBuf,
    /// As the configuration spells it, `~` expanded (may differ from `path` through symlinks).
    pub lexical: PathBuf,
    /// As written in the configuration.
    pub configured: String,
    /// The open handle everything under the root is reached from.
    pub dir: Arc<RootDir>,
}

impl Root {
    /// A short name for the root: its folder name, or the whole path for `/`.
    pub fn name(&self) -> String {
        display_name(&self.path)
    }
}

/// The name of a path for titles: its last component, or the whole path when it has none.
pub fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

/// Why a path was refused.
#[derive(Debug)]
pub enum PathError {
    /// Not absolute after `~` expansion.
    Relative(String),
    /// Contains a `..` component.
    Parent(String),
    /// Not under any root, as written or once symlinks are resolved.
    Outside(String),
    /// Under a root but hidden by the include/exclude globs.
    Excluded(String),
    /// Neither a regular file nor a folder.
    Special(String),
    /// Does not exist.
    Missing(String),
    /// Expected a folder, found a file.
    NotAFolder(String),
    /// A symlink whose target does not exist.
    Dangling(String),
    /// A symlink stood, when it was opened, where the check had found a plain file or folder.
    Symlink(String),
    /// Some other I/O failure while resolving.
    Io(String, io::Error),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Relative(p) => write!(
                f,
                "{p} is not an absolute path; give the full path (see the roots tool)"
            ),
            PathError::Parent(p) => {
                write!(f, "{p} contains a '..' component, which is not allowed")
            }
            PathError::Outside(p) => write!(f, "{p} is outside the shared folders"),
            PathError::Excluded(p) => {
                write!(f, "{p} is hidden by the connector's include/exclude rules")
            }
            PathError::Special(p) => write!(f, "{p} is neither a regular file nor a folder"),
            PathError::Missing(p) => write!(f, "{p} does not exist"),
            PathError::NotAFolder(p) => write!(f, "{p} is a file, not a folder"),
            PathError::Dangling(p) => {
                write!(f, "{p} is a symbolic link to something that does not exist")
            }
            PathError::Symlink(p) => write!(
                f,
                "{p} is a symbolic link, or lies in a folder that is one, since it was checked; \
                 links are not followed when a file is opened, so nothing was read or changed \
                 (try again once the folder stops changing)"
            ),
            PathError::Io(p, e) => write!(f, "cannot access {p}: {e}"),
        }
    }
}

/// A path that passed every rule.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Canonical path.
    pub path: PathBuf,
    /// Index of the root it lies under, in [`Roots::roots`].
    pub root: usize,
    /// Whether it is a folder (otherwise a regular file).
    pub is_dir: bool,
}

/// The shared folders and the rules for reaching into them.
#[derive(Debug)]
pub struct Roots {
    configured: Vec<ConfiguredRoot>,
    roots: Vec<Root>,
    filter: Filter,
}

impl Roots {
    /// Resolve the configured roots. Roots that do not exist are kept in
    /// [`Roots::configured`] but not shared; the returned warnings say which.
    pub fn new(config: &Config, home: Option<&Path>) -> Result<(Self, Vec<String>), String> {
        let filter = Filter::new(&config.include, &config.exclude)?;
        let mut warnings = Vec::new();
        let mut configured = Vec::new();
        let mut roots: Vec<Root> = Vec::new();
        for written in &config.roots {
            let expanded = expand_home(written, home);
            let canonical = match std::fs::canonicalize(&expanded) {
                Ok(path) if path.is_dir() => Some(path),
                Ok(_) => {
                    warnings.push(format!("root {written} is not a folder; skipping it"));
                    None
                }
                Err(e) => {
                    let shown = expanded.display().to_string();
                    let spelled = if shown == *written {
                        String::new()
                    } else {
                        format!(" ({shown})")
                    };
                    warnings.push(format!(
                        "root {written}{spelled} cannot be used: {e}; skipping it"
                    ));
                    None
                }
            };
            if let Some(path) = &canonical {
                if !expanded.is_absolute() {
                    warnings.push(format!(
                        "root {written} is a relative path; it was resolved against the \
                         working folder to {}",
                        path.display()
                    ));
                }
                if roots.iter().any(|r| &r.path == path) {
                    warnings.push(format!("root {written} is listed twice; using it once"));
                } else {
                    let lexical = if expanded.is_absolute() {
                        expanded.clone()
                    } else {
                        path.clone()
                    };
                    match RootDir::open(path) {
                        Ok(dir) => roots.push(Root {
                            path: path.clone(),
                            lexical,
                            configured: written.clone(),
                            dir: Arc::new(dir),
                        }),
                        Err(e) => warnings
                            .push(format!("root {written} cannot be opened: {e}; skipping it")),
                    }
                }
            }
            configured.push(ConfiguredRoot {
                configured: written.clone(),
                expanded,
                canonical,
            });
        }
        Ok((
            Self {
                configured,
                roots,
                filter,
            },
            warnings,
        ))
    }

    /// The roots as configured, existing or not.
    pub fn configured(&self) -> &[ConfiguredRoot] {
        &self.configured
    }

    /// The roots that exist.
    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// The include/exclude rules.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Resolve a path a client gave, as text (a leading `~` is expanded).
    pub fn resolve_str(&self, requested: &str, home: Option<&Path>) -> Result<Resolved, PathError> {
        self.resolve(&expand_home(requested, home))
    }

    /// Resolve a path a client gave, enforcing every confinement rule (see the module docs).
    pub fn resolve(&self, requested: &Path) -> Result<Resolved, PathError> {
        let shown = requested.display().to_string();
        self.check_written(requested)?;
        let canonical = std::fs::canonicalize(requested).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => PathError::Missing(shown.clone()),
            _ => PathError::Io(shown.clone(), e),
        })?;
        let metadata =
            std::fs::metadata(&canonical).map_err(|e| PathError::Io(shown.clone(), e))?;
        let is_dir = metadata.is_dir();
        if !is_dir && !metadata.is_file() {
            return Err(PathError::Special(shown));
        }
        let root = self.admit(requested, &canonical, is_dir)?;
        Ok(Resolved {
            path: canonical,
            root,
            is_dir,
        })
    }

    /// The rules on a path as written, before the disk is touched: absolute, no `..`
    /// component, and under a root (as configured or canonical).
    pub fn check_written(&self, requested: &Path) -> Result<(), PathError> {
        let shown = || requested.display().to_string();
        if requested.components().any(|c| c == Component::ParentDir) {
            return Err(PathError::Parent(shown()));
        }
        if !requested.is_absolute() {
            return Err(PathError::Relative(shown()));
        }
        if self.lexical_rels(requested).is_empty() {
            return Err(PathError::Outside(shown()));
        }
        Ok(())
    }

    /// The path as written, relative to each root it sits under (roots may nest).
    fn lexical_rels<'a>(&self, requested: &'a Path) -> Vec<&'a Path> {
        self.roots
            .iter()
            .filter_map(|root| {
                requested
                    .strip_prefix(&root.lexical)
                    .or_else(|_| requested.strip_prefix(&root.path))
                    .ok()
            })
            .collect()
    }

    /// The visibility rules on both forms of a path: as written (`requested`) it must be
    /// visible under some root, and its `canonical` form (symlinks resolved; for a path that
    /// does not exist yet, its canonical folder plus the new names) must lie and be visible
    /// under a canonical root. Returns the index of that root.
    pub fn admit(
        &self,
        requested: &Path,
        canonical: &Path,
        is_dir: bool,
    ) -> Result<usize, PathError> {
        let shown = || requested.display().to_string();
        if !self
            .lexical_rels(requested)
            .iter()
            .any(|rel| self.filter.is_visible(rel, is_dir))
        {
            return Err(PathError::Excluded(shown()));
        }
        let mut under_some_root = false;
        for (index, root) in self.roots.iter().enumerate() {
            if let Ok(rel) = canonical.strip_prefix(&root.path) {
                under_some_root = true;
                if self.filter.is_visible(rel, is_dir) {
                    return Ok(index);
                }
            }
        }
        if under_some_root {
            Err(PathError::Excluded(shown()))
        } else {
            Err(PathError::Outside(shown()))
        }
    }

    /// The handle of root `index` and `path` (canonical, under that root) relative to it.
    fn beneath<'a>(
        &'a self,
        index: usize,
        path: &'a Path,
    ) -> Result<(&'a RootDir, &'a Path), PathError> {
        let outside = || PathError::Outside(path.display().to_string());
        let root = self.roots.get(index).ok_or_else(outside)?;
        let rel = path.strip_prefix(&root.path).map_err(|_| outside())?;
        Ok((&root.dir, rel))
    }

    /// Open the regular file `resolved` names, beneath its root, for reading.
    pub fn open_file(&self, resolved: &Resolved) -> Result<File, PathError> {
        let (dir, rel) = self.beneath(resolved.root, &resolved.path)?;
        dir.read_file(rel).map_err(|e| opening(&resolved.path, e))
    }

    /// Open the folder `resolved` names, beneath its root.
    pub fn open_folder(&self, resolved: &Resolved) -> Result<Folder, PathError> {
        let (dir, rel) = self.beneath(resolved.root, &resolved.path)?;
        dir.folder(rel).map_err(|e| opening(&resolved.path, e))
    }

    /// What is at `path` (canonical, under root `index`), not followed.
    pub fn stat(&self, index: usize, path: &Path) -> Result<Stat, PathError> {
        let (dir, rel) = self.beneath(index, path)?;
        dir.stat(rel).map_err(|e| opening(path, e))
    }

    /// The folder holding `path` (canonical, under root `index`, not the root itself), opened
    /// beneath the root, and the name `path` has in it: where a change to `path` is made.
    pub fn parent_folder(
        &self,
        index: usize,
        path: &Path,
    ) -> Result<(Folder, OsString), PathError> {
        let (dir, rel) = self.beneath(index, path)?;
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(PathError::Special(path.display().to_string()));
        };
        let folder = dir.folder(parent).map_err(|e| opening(path, e))?;
        Ok((folder, name.to_os_string()))
    }

    /// Create the missing folders along `path` (canonical, under root `index`), each inside
    /// the one before, beneath the root.
    pub fn create_folders(&self, index: usize, path: &Path) -> Result<Folder, PathError> {
        let (dir, rel) = self.beneath(index, path)?;
        dir.create_folders(rel).map_err(|e| opening(path, e))
    }

    /// The root a walk lists the file at `path` (canonical) under, when the rules let it be
    /// seen: the innermost root holding it (a walk leaves nested roots to themselves).
    pub fn indexed_root(&self, path: &Path) -> Option<usize> {
        let (index, root) = self
            .roots
            .iter()
            .enumerate()
            .filter(|(_, root)| path.starts_with(&root.path))
            .max_by_key(|(_, root)| root.path.components().count())?;
        let rel = path.strip_prefix(&root.path).ok()?;
        self.filter.is_visible(rel, false).then_some(index)
    }

    /// Whether `path` (canonical) is one of the roots.
    pub fn is_root(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| root.path == path)
    }

    /// The first root at or under `path` (canonical), if any: what removing or moving `path`
    /// would take along.
    pub fn root_within(&self, path: &Path) -> Option<&Root> {
        self.roots.iter().find(|root| root.path.starts_with(path))
    }
}

/// The refusal for a failed open of `path` beneath its root.
pub fn opening(path: &Path, error: io::Error) -> PathError {
    let shown = path.display().to_string();
    if beneath::is_symlink_refusal(&error) {
        PathError::Symlink(shown)
    } else if error.kind() == io::ErrorKind::NotFound {
        PathError::Missing(shown)
    } else {
        PathError::Io(shown, error)
    }
}

/// Bytes that stay as they are in a `file://` URI path; everything else is percent-encoded.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/')
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().replace('\\', "/").into_bytes()
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(OsString::from_vec(bytes)))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: Vec<u8>) -> Option<PathBuf> {
    String::from_utf8(bytes)
        .ok()
        .map(|s| PathBuf::from(OsString::from(s)))
}

/// The `file://` URI of an absolute path, percent-encoding what a URI cannot hold.
pub fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file://");
    let bytes = path_bytes(path);
    if !bytes.starts_with(b"/") {
        uri.push('/');
    }
    for byte in bytes {
        if is_unreserved(byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

/// The path a `file://` URI names (`file:///p` or `file://localhost/p`), percent-decoded.
/// `None` when it is not such a URI or its escapes are malformed.
pub fn path_from_uri(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    path_from_bytes(out)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;

    struct Setup {
        _dir: tempfile::TempDir,
        base: PathBuf,
        roots: Roots,
    }

    /// base/root (shared) with a file, a hidden folder, symlinks in and out; base/outside.
    fn setup() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = fs::canonicalize(dir.path()).expect("canonical");
        let root = base.join("root");
        fs::create_dir_all(root.join("docs")).expect("mkdir");
        fs::create_dir_all(root.join(".secret")).expect("mkdir");
        fs::create_dir_all(base.join("outside")).expect("mkdir");
        fs::write(root.join("docs/a.txt"), "hello").expect("write");
        fs::write(root.join(".secret/key"), "k").expect("write");
        fs::write(base.join("outside/passwd"), "root:x").expect("write");
        std::os::unix::fs::symlink(base.join("outside/passwd"), root.join("escape"))
            .expect("symlink");
        std::os::unix::fs::symlink(base.join("outside"), root.join("escape-dir")).expect("symlink");
        std::os::unix::fs::symlink(root.join("docs/a.txt"), root.join("inside-link"))
            .expect("symlink");
        std::os::unix::fs::symlink(root.join(".secret/key"), root.join("key-link"))
            .expect("symlink");
        let config = Config {
            roots: vec![
                root.display().to_string(),
                base.join("missing").display().to_string(),
            ],
            ..Config::default()
        };
        let (roots, warnings) = Roots::new(&config, None).expect("roots");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        Setup {
            _dir: dir,
            base,
            roots,
        }
    }

    #[test]
    fn inside_is_accepted() {
        let s = setup();
        let file = s.base.join("root/docs/a.txt");
        let resolved = s.roots.resolve(&file).expect("inside");
        assert_eq!(resolved.path, file);
        assert!(!resolved.is_dir);
        let folder = s.roots.resolve(&s.base.join("root/docs")).expect("folder");
        assert!(folder.is_dir);
        let root = s.roots.resolve(&s.base.join("root")).expect("root itself");
        assert!(root.is_dir);
        let via_link = s
            .roots
            .resolve(&s.base.join("root/inside-link"))
            .expect("link in");
        assert_eq!(via_link.path, file);
    }

    #[test]
    fn parent_components_are_rejected() {
        let s = setup();
        let sneaky = s.base.join("root/docs/../../outside/passwd");
        assert!(matches!(
            s.roots.resolve(&sneaky),
            Err(PathError::Parent(_))
        ));
        let harmless = s.base.join("root/docs/../docs/a.txt");
        assert!(matches!(
            s.roots.resolve(&harmless),
            Err(PathError::Parent(_))
        ));
    }

    #[test]
    fn symlink_escape_is_refused() {
        let s = setup();
        assert!(matches!(
            s.roots.resolve(&s.base.join("root/escape")),
            Err(PathError::Outside(_))
        ));
        assert!(matches!(
            s.roots.resolve(&s.base.join("root/escape-dir/passwd")),
            Err(PathError::Outside(_))
        ));
        assert!(matches!(
            s.roots.resolve(&s.base.join("root/escape-dir")),
            Err(PathError::Outside(_))
        ));
    }

    #[test]
    fn outside_relative_missing_and_hidden_are_refused() {
        let s = setup();
        assert!(matches!(
            s.roots.resolve(&s.base.join("outside/passwd")),
            Err(PathError::Outside(_))
        ));
        assert!(matches!(
            s.roots.resolve(Path::new("/etc/passwd")),
            Err(PathError::Outside(_))
        ));
        assert!(matches!(
            s.roots.resolve(Path::new("docs/a.txt")),
            Err(PathError::Relative(_))
        ));
        assert!(matches!(
            s.roots.resolve(&s.base.join("root/nope.txt")),
            Err(PathError::Missing(_))
        ));
        assert!(matches!(
            s.roots.resolve(&s.base.join("root/.secret/key")),
            Err(PathError::Excluded(_))
        ));
        // A visible link to a hidden file is refused too: the canonical path is checked.
        assert!(matches!(
            s.roots.resolve(&s.base.join("root/key-link")),
            Err(PathError::Excluded(_))
        ));
        // A missing root is never shared.
        assert!(matches!(
            s.roots.resolve(&s.base.join("missing/x")),
            Err(PathError::Outside(_))
        ));
    }

    #[test]
    fn a_nested_root_shares_what_its_parent_hides() {
        let s = setup();
        let config = Config {
            roots: vec![
                s.base.join("root").display().to_string(),
                s.base.join("root/.secret").display().to_string(),
            ],
            ..Config::default()
        };
        let (roots, warnings) = Roots::new(&config, None).expect("roots");
        assert!(warnings.is_empty(), "{warnings:?}");
        let key = roots
            .resolve(&s.base.join("root/.secret/key"))
            .expect("shared");
        assert_eq!(key.root, 1);
        // Through the visible link, too: its target is visible under the nested root.
        assert!(roots.resolve(&s.base.join("root/key-link")).is_ok());
    }

    #[test]
    fn fifo_is_refused() {
        let s = setup();
        let fifo = s.base.join("root/pipe");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !matches!(status, Ok(st) if st.success()) {
            return; // no mkfifo on this machine
        }
        assert!(matches!(s.roots.resolve(&fifo), Err(PathError::Special(_))));
    }

    #[test]
    fn uris_round_trip() {
        let path = Path::new("/home/ada/My Notes/ünï%code#1.md");
        let uri = file_uri(path);
        assert_eq!(
            uri,
            "file:///home/ada/My%20Notes/%C3%BCn%C3%AF%25code%231.md"
        );
        assert_eq!(path_from_uri(&uri).as_deref(), Some(path));
        assert_eq!(
            path_from_uri("file://localhost/tmp/x").as_deref(),
            Some(Path::new("/tmp/x"))
        );
        assert_eq!(path_from_uri("file://host/x"), None);
        assert_eq!(path_from_uri("http://x/y"), None);
        assert_eq!(path_from_uri("file:///bad%zz"), None);
        assert_eq!(path_from_uri("file:///cut%2"), None);
    }
}
