//! Where configured folders point: `~` expansion the same way in every plugin and the host,
//! so `roots: ["~/notes"]` means one thing wherever it is written.

use std::path::{Path, PathBuf};

/// Expand a leading `~` (alone or followed by a separator) to `home`. Anything else, including
/// `~user`, is returned unchanged.
pub fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    let rest = if path == "~" {
        Some("")
    } else if cfg!(windows) {
        path.strip_prefix("~/").or_else(|| path.strip_prefix("~\\"))
    } else {
        path.strip_prefix("~/")
    };
    match (rest, home) {
        (Some(""), Some(home)) => home.to_path_buf(),
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The current user's home folder, if the platform knows it.
pub fn home_dir() -> Option<PathBuf> {
    std::env::home_dir().filter(|p| !p.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_forms() {
        let home = Path::new("/home/a");
        assert_eq!(expand_home("~", Some(home)), PathBuf::from("/home/a"));
        assert_eq!(
            expand_home("~/notes", Some(home)),
            PathBuf::from("/home/a/notes")
        );
        assert_eq!(expand_home("~bob/x", Some(home)), PathBuf::from("~bob/x"));
        assert_eq!(expand_home("/abs", Some(home)), PathBuf::from("/abs"));
        assert_eq!(expand_home("~/x", None), PathBuf::from("~/x"));
    }
}
