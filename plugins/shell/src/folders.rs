//! Where a command may start: the configured folders, canonicalized once, and the check that a
//! run's `cwd` lies under one of them once symlinks are resolved.
//!
//! A `cwd` may be absolute, start with `~`, or be relative to the first folder (the default).
//! It is canonicalized (which resolves `..` and symlinks against the real file system) and
//! must then be a folder under a canonical configured folder, so a symlink leading out of the
//! folders is refused. This decides where a command starts, nothing more: the command itself
//! can reach whatever the user running switchboard can.

use std::io;
use std::path::{Path, PathBuf};

use crate::config::expand_home;

/// The folders commands may start in.
#[derive(Clone, Debug)]
pub struct Folders {
    /// Canonical paths of the configured folders that exist, in configured order.
    folders: Vec<PathBuf>,
    /// The configured folders as written, for messages.
    configured: Vec<String>,
}

impl Folders {
    /// Resolve the configured folders; the warnings name the ones that cannot be used.
    pub fn new(configured: &[String], home: Option<&Path>) -> (Self, Vec<String>) {
        let mut folders: Vec<PathBuf> = Vec::new();
        let mut warnings = Vec::new();
        for written in configured {
            let expanded = expand_home(written, home);
            if !expanded.is_absolute() {
                warnings.push(format!(
                    "folder {written} is not an absolute path (or one starting with ~); \
                     skipping it"
                ));
                continue;
            }
            match std::fs::canonicalize(&expanded) {
                Ok(path) if path.is_dir() => {
                    if !folders.contains(&path) {
                        folders.push(path);
                    }
                }
                Ok(_) => warnings.push(format!("folder {written} is not a folder; skipping it")),
                Err(e) => warnings.push(format!("folder {written} cannot be used: {e}")),
            }
        }
        let folders = Self {
            folders,
            configured: configured.to_vec(),
        };
        (folders, warnings)
    }

    /// The canonical folders that exist.
    pub fn paths(&self) -> &[PathBuf] {
        &self.folders
    }

    /// The folder a run starts in: `requested` checked against the folders, or the first
    /// folder when `None`. The error is a sentence for the model.
    pub fn resolve(&self, requested: Option<&str>, home: Option<&Path>) -> Result<PathBuf, String> {
        let Some(default) = self.folders.first() else {
            return Err(format!(
                "none of the folders where commands may run exists (configured: {})",
                self.configured.join(", ")
            ));
        };
        let Some(requested) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(default.clone());
        };
        let expanded = expand_home(requested, home);
        let joined = if expanded.is_absolute() {
            expanded
        } else {
            default.join(expanded)
        };
        let canonical = std::fs::canonicalize(&joined).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => format!("cwd {requested} does not exist"),
            _ => format!("cwd {requested} cannot be used: {e}"),
        })?;
        if !canonical.is_dir() {
            return Err(format!("cwd {requested} is not a folder"));
        }
        if self.folders.iter().any(|f| canonical.starts_with(f)) {
            Ok(canonical)
        } else {
            let allowed: Vec<String> = self
                .folders
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            Err(format!(
                "cwd {requested} ({}) is outside the folders where commands may run: {}",
                canonical.display(),
                allowed.join(", ")
            ))
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn cwd_is_confined_after_resolving_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = std::fs::canonicalize(dir.path()).expect("canonical");
        let work = base.join("work");
        std::fs::create_dir_all(work.join("sub")).expect("mkdir");
        std::fs::create_dir_all(base.join("outside")).expect("mkdir");
        std::os::unix::fs::symlink(base.join("outside"), work.join("out")).expect("symlink");
        let configured = vec![
            work.display().to_string(),
            base.join("missing").display().to_string(),
            "relative".to_string(),
        ];
        let (folders, warnings) = Folders::new(&configured, None);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(folders.paths(), std::slice::from_ref(&work));

        assert_eq!(folders.resolve(None, None), Ok(work.clone()));
        assert_eq!(folders.resolve(Some("sub"), None), Ok(work.join("sub")));
        let absolute = work.join("sub").display().to_string();
        assert_eq!(folders.resolve(Some(&absolute), None), Ok(work.join("sub")));
        assert_eq!(folders.resolve(Some("sub/.."), None), Ok(work.clone()));
        for refused in [
            base.join("outside").display().to_string(),
            "out".to_string(),
            "..".to_string(),
            "nope".to_string(),
            "/".to_string(),
        ] {
            assert!(folders.resolve(Some(&refused), None).is_err(), "{refused}");
        }
    }

    #[test]
    fn no_folder_means_no_run() {
        let (folders, _) = Folders::new(&["/nonexistent/for/sure".to_string()], None);
        let error = folders.resolve(None, None).expect_err("no folder");
        assert!(error.contains("none of the folders"), "{error}");
    }
}
