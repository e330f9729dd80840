//! Sealing the 2026-07-28 approval round trip: the request state switchboard hands a
//! stateless client with an `input_required` result, and checks when the client retries.
//!
//! The state is an AEAD blob (rmcp's `RequestStateCodec`) under a key kept in the state
//! folder (`request-state.key`, 0600), so it opens in whichever process or HTTP request the
//! retry reaches. It binds the tool, its definition, the arguments' digest, the policy's
//! version and the asking client, and expires with the question; it carries a nonce so that
//! each one is spent once (`spent_states` in the database) and a replay is refused.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use rmcp::model::{RequestStateCodec, SealOptions};
use serde::{Deserialize, Serialize};

use crate::state::audit::digest;

/// The key file's name in the state folder.
pub const KEY_FILE: &str = "request-state.key";

/// What a sealed state binds the answer to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bound {
    /// The tool as clients see it.
    pub tool: String,
    /// Its definition hash.
    pub definition: String,
    /// The arguments' digest.
    pub args: String,
    /// The approval policy's version.
    pub policy: String,
    /// Who asked (the client identity of a stateless request).
    pub asker: String,
    /// Unique per question, so each state is spent once.
    pub nonce: String,
    /// When it expires (RFC 3339), also enforced by the codec.
    pub expires: String,
}

impl Bound {
    /// Whether `other` is a state for the same call by the same asker under the same policy.
    pub fn same_call(&self, other: &Bound) -> bool {
        self.tool == other.tool
            && self.definition == other.definition
            && self.args == other.args
            && self.policy == other.policy
            && self.asker == other.asker
    }
}

/// Seals and opens request states.
pub struct Sealer {
    codec: RequestStateCodec,
}

impl Sealer {
    /// A sealer with the key in `state_dir`, creating it (0600) the first time. Several
    /// processes starting at once agree on one key: the file is written aside and linked into
    /// place, so it appears whole or not at all, and whoever loses the race reads the winner's.
    pub fn open(state_dir: &Path) -> Result<Self, String> {
        let path = state_dir.join(KEY_FILE);
        let key = match std::fs::read(&path) {
            Ok(key) => key,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(state_dir, &path)?,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        if key.len() != 32 {
            return Err(format!(
                "{} is not a key switchboard wrote ({} bytes); delete it and switchboard makes a new one",
                path.display(),
                key.len()
            ));
        }
        RequestStateCodec::try_new(key)
            .map(|codec| Self { codec })
            .map_err(|e| format!("cannot use the request-state key: {e}"))
    }

    /// Seal `bound`, valid for `ttl`.
    pub fn seal(&self, bound: &Bound, ttl: Duration) -> Result<String, String> {
        let options = SealOptions::new()
            .ttl(ttl)
            .associated_data(bound.asker.as_bytes());
        self.codec
            .seal_json_with(bound, &options)
            .map_err(|e| format!("cannot seal the approval round trip: {e}"))
    }

    /// Open a state a client sent back as `asker`.
    pub fn open_state(&self, sealed: &str, asker: &str) -> Result<Bound, String> {
        self.codec
            .open_json_with::<Bound>(sealed, asker.as_bytes())
            .map_err(|e| e.to_string())
    }
}

/// The digest a spent state is remembered by.
pub fn spent_key(sealed: &str) -> String {
    digest(sealed)
}

fn create_key(dir: &Path, path: &Path) -> Result<Vec<u8>, String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness for a key: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let aside = dir.join(format!(".{KEY_FILE}.{}", super::inbox::new_id()));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&aside)?;
        file.write_all(&key)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&aside);
        return Err(format!("cannot write {}: {e}", aside.display()));
    }
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(key.to_vec()),
        // Another process won the race: its key is the one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(asker: &str) -> Bound {
        Bound {
            tool: "t".into(),
            definition: "d".into(),
            args: "a".into(),
            policy: "p".into(),
            asker: asker.into(),
            nonce: "n".into(),
            expires: "e".into(),
        }
    }

    #[test]
    fn a_state_opens_in_another_process_with_the_same_folder_only_for_its_asker() {
        let dir = tempfile::tempdir().unwrap();
        let first = Sealer::open(dir.path()).unwrap();
        let sealed = first
            .seal(&bound("client a/1"), Duration::from_secs(60))
            .unwrap();
        // A second sealer (another process, another HTTP request) reads the same key.
        let second = Sealer::open(dir.path()).unwrap();
        assert_eq!(
            second.open_state(&sealed, "client a/1").unwrap(),
            bound("client a/1")
        );
        assert!(second.open_state(&sealed, "client b/1").is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another folder's key cannot open it.
        let other = tempfile::tempdir().unwrap();
        assert!(
            Sealer::open(other.path())
                .unwrap()
                .open_state(&sealed, "client a/1")
                .is_err()
        );
    }

    #[test]
    fn racing_processes_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || create_key(&path, &path.join(KEY_FILE)).unwrap())
            })
            .collect();
        let keys: Vec<Vec<u8>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(keys.iter().all(|k| k == &keys[0] && k.len() == 32));
    }
}
