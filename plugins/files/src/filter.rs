//! Which paths under a root are visible: the `include` and `exclude` globs.
//!
//! One set of rules serves the walk that builds the index, the folder listings, and the checks
//! on paths a client asks for, so nothing can be read that a search would not have found.
//! Paths are matched relative to their root. A folder is hidden (with everything in it) when an
//! exclude glob matches it, or when a glob of the form `X/**` would hide everything inside it:
//! that is how `**/node_modules/**` hides `node_modules` itself. Include globs apply to files
//! only, so folders stay browsable.

use std::path::{Component, Path};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// The compiled include/exclude rules.
#[derive(Clone, Debug)]
pub struct Filter {
    /// `None` when every file is included.
    include: Option<GlobSet>,
    /// Files matching these are hidden.
    exclude_files: GlobSet,
    /// Folders matching these are hidden, with their contents.
    exclude_dirs: GlobSet,
}

fn compile(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("invalid glob {pattern:?}: {e}"))
}

fn build(set: GlobSetBuilder) -> Result<GlobSet, String> {
    set.build().map_err(|e| format!("invalid globs: {e}"))
}

impl Filter {
    /// Compile the rules; an invalid glob is an error naming it.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, String> {
        let include = if include.is_empty() {
            None
        } else {
            let mut set = GlobSetBuilder::new();
            for pattern in include {
                set.add(compile(pattern)?);
            }
            Some(build(set)?)
        };
        let mut files = GlobSetBuilder::new();
        let mut dirs = GlobSetBuilder::new();
        for pattern in exclude {
            let glob = compile(pattern)?;
            files.add(glob.clone());
            dirs.add(glob);
            if let Some(folder) = pattern.strip_suffix("/**").filter(|f| !f.is_empty()) {
                dirs.add(compile(folder)?);
            }
        }
        Ok(Self {
            include,
            exclude_files: build(files)?,
            exclude_dirs: build(dirs)?,
        })
    }

    /// Whether the folder at `rel` (relative to its root) is hidden, not counting its parents.
    pub fn excludes_dir(&self, rel: &Path) -> bool {
        !rel.as_os_str().is_empty() && self.exclude_dirs.is_match(rel)
    }

    /// Whether the file at `rel` (relative to its root) is visible, not counting its parents.
    pub fn admits_file(&self, rel: &Path) -> bool {
        if self.exclude_files.is_match(rel) {
            return false;
        }
        match &self.include {
            Some(include) => include.is_match(rel),
            None => true,
        }
    }

    /// Whether `rel` (relative to its root, without `..`) is visible, its parent folders
    /// included. The root itself (`rel` empty) is always visible.
    pub fn is_visible(&self, rel: &Path, is_dir: bool) -> bool {
        let mut ancestors: Vec<&Path> = rel.ancestors().skip(1).collect();
        ancestors.reverse();
        if ancestors.iter().any(|a| self.excludes_dir(a)) {
            return false;
        }
        if rel.as_os_str().is_empty() {
            return true;
        }
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return false;
        }
        if is_dir {
            !self.excludes_dir(rel)
        } else {
            self.admits_file(rel)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Filter {
        let config = crate::config::Config::default();
        Filter::new(&config.include, &config.exclude).expect("default globs compile")
    }

    #[test]
    fn default_excludes_hide_hidden_and_build_folders() {
        let f = defaults();
        assert!(f.excludes_dir(Path::new(".git")));
        assert!(f.excludes_dir(Path::new("proj/.cache")));
        assert!(f.excludes_dir(Path::new("web/node_modules")));
        assert!(f.excludes_dir(Path::new("crate/target")));
        assert!(f.excludes_dir(Path::new("pkg/__pycache__")));
        assert!(!f.excludes_dir(Path::new("src")));
        assert!(!f.excludes_dir(Path::new("")));

        assert!(!f.admits_file(Path::new(".bashrc")));
        assert!(!f.admits_file(Path::new("a/.env")));
        assert!(f.admits_file(Path::new("notes/todo.md")));
        assert!(f.admits_file(Path::new("targets.txt")));
    }

    #[test]
    fn visibility_checks_every_parent() {
        let f = defaults();
        assert!(f.is_visible(Path::new(""), true));
        assert!(f.is_visible(Path::new("notes/todo.md"), false));
        assert!(!f.is_visible(Path::new(".ssh/id_ed25519"), false));
        assert!(!f.is_visible(Path::new("a/.git/objects/ab/cdef"), false));
        assert!(!f.is_visible(Path::new("x/node_modules/lib/index.js"), false));
        assert!(!f.is_visible(Path::new("x/node_modules"), true));
        assert!(!f.is_visible(Path::new("x/../y"), false));
    }

    #[test]
    fn include_applies_to_files_only() {
        let f = Filter::new(&["*.md".to_string()], &[]).expect("compiles");
        assert!(f.admits_file(Path::new("a/b/readme.md")));
        assert!(!f.admits_file(Path::new("a/b/main.rs")));
        assert!(f.is_visible(Path::new("a/b"), true));
    }

    #[test]
    fn invalid_glob_is_reported() {
        let error = Filter::new(&[], &["a[".to_string()]).expect_err("invalid");
        assert!(error.contains("a["), "{error}");
    }
}
