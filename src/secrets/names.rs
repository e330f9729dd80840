//! The names of the secrets `switchboard secrets set` stored, for `secrets list`: a JSON array
//! in the state folder (`secret-names.json`), names only, never a value.
//!
//! Why a file of our own: the stores cannot be listed in one portable way (the Secret Service
//! and the keychain search by attributes, the Credential Manager by a pattern behind a feature,
//! keyutils by reading a keyring), and a name listed here whose value the store no longer has
//! (keyutils after a reboot) is exactly what `list` should point out. The file is replaced
//! whole (written beside, then renamed), so a crash leaves the old list or the new one.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The list of stored names of one home.
pub struct Names {
    path: PathBuf,
}

impl Names {
    /// The list kept in `state_dir`.
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join("secret-names.json"),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Eight hex digits naming this home among the homes of one user (from its state folder's
    /// path), for the keyring entries switchboard makes itself (a plugin's kept tokens, a
    /// source's secrets): the keyring is the user's, shared by every home, and two homes (a
    /// second profile, a test suite) must not sign each other out.
    pub fn scope(&self) -> String {
        use sha2::Digest;
        let folder = self.path.parent().unwrap_or(&self.path);
        let digest = sha2::Sha256::digest(folder.to_string_lossy().as_bytes());
        hex::encode(&digest[..4])
    }

    /// Every name on the list (none when there is no file yet).
    pub fn read(&self) -> std::io::Result<BTreeSet<String>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    ErrorKind::InvalidData,
                    format!("{} is not a JSON list of names: {e}", self.path.display()),
                )
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(BTreeSet::new()),
            Err(e) => Err(e),
        }
    }

    /// Add `name`; whether it was new.
    pub fn insert(&self, name: &str) -> std::io::Result<bool> {
        let mut names = self.read()?;
        if !names.insert(name.to_string()) {
            return Ok(false);
        }
        self.replace(&names)?;
        Ok(true)
    }

    /// Take `name` off; whether it was there.
    pub fn remove(&self, name: &str) -> std::io::Result<bool> {
        let mut names = self.read()?;
        if !names.remove(name) {
            return Ok(false);
        }
        self.replace(&names)?;
        Ok(true)
    }

    fn replace(&self, names: &BTreeSet<String>) -> std::io::Result<()> {
        if let Some(folder) = self.path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let partial = self.path.with_extension("json.partial");
        let text = serde_json::to_vec_pretty(names).map_err(std::io::Error::other)?;
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_added_and_removed_once() {
        let dir = tempfile::tempdir().unwrap();
        let names = Names::in_state_dir(&dir.path().join("state"));
        assert!(names.read().unwrap().is_empty());
        assert!(names.insert("b").unwrap());
        assert!(names.insert("a").unwrap());
        assert!(!names.insert("a").unwrap());
        assert_eq!(
            names.read().unwrap().into_iter().collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(names.remove("a").unwrap());
        assert!(!names.remove("a").unwrap());
        assert_eq!(names.read().unwrap().len(), 1);
    }

    #[test]
    fn a_damaged_list_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let names = Names::in_state_dir(dir.path());
        std::fs::write(names.path(), "{not json").unwrap();
        let err = names.read().unwrap_err();
        assert!(err.to_string().contains("secret-names.json"), "{err}");
    }
}
