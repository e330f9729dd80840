//! Secrets: references in the configuration (`${env:NAME}`, `${keyring:NAME}`), their
//! resolution, and the store behind `${keyring:…}` (`switchboard secrets`).
//!
//! A secret's value never passes through the configuration, the log or the audit trail: the
//! configuration holds only the reference, and [`Resolver::resolve`] hands the value straight
//! to whoever declared it. The store is the desktop's own: the macOS login keychain, the
//! Windows Credential Manager, and on Linux the Secret Service (GNOME Keyring, KWallet) when
//! the session bus offers one, else the kernel's keyutils (`keyutils.rs`), which keeps nothing
//! across a reboot (`store.rs` chooses; `SWITCHBOARD_SECRET_STORE` names one instead).
//! Keyring stores cannot list their entries in one portable way, so the names (never the
//! values) that `secrets set` stored are kept in the state folder (`names.rs`) for
//! `secrets list`.

#[cfg(target_os = "linux")]
mod keyutils;
mod names;
mod store;

pub use names::Names;
pub use store::Store;

/// The keyring service name under which switchboard keeps its entries.
pub const KEYRING_SERVICE: &str = "switchboard";

/// Where one secret comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// An environment variable.
    Env(String),
    /// An entry of the OS keyring (service `switchboard`, this user name).
    Keyring(String),
}

impl Reference {
    /// Parse `${env:NAME}` or `${keyring:NAME}`; anything else is not a reference.
    pub fn parse(text: &str) -> Option<Self> {
        let inner = text.trim().strip_prefix("${")?.strip_suffix('}')?;
        let (kind, name) = inner.split_once(':')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        match kind.trim() {
            "env" => Some(Self::Env(name.to_string())),
            "keyring" => Some(Self::Keyring(name.to_string())),
            _ => None,
        }
    }
}

/// What a store was asked to do when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Reading a value.
    Reading,
    /// Storing a value.
    Writing,
    /// Reading back a value just stored.
    Verifying,
    /// Removing a value.
    Deleting,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reading => "reading",
            Self::Writing => "storing",
            Self::Verifying => "reading back",
            Self::Deleting => "deleting",
        })
    }
}

/// Why a secret could not be read, stored or removed. Never holds a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No store could be opened on this machine.
    #[error(
        "no secrets store is available ({0}); use ${{env:NAME}} in the configuration instead, which works everywhere"
    )]
    Unavailable(String),
    /// The store refused or failed.
    #[error("{action} keyring entry {name:?} in {store} failed: {message}; {advice}")]
    Store {
        /// What was being done.
        action: Action,
        /// The entry.
        name: String,
        /// Which store.
        store: &'static str,
        /// What the store said.
        message: String,
        /// What to do about it.
        advice: &'static str,
    },
    /// The name cannot be an entry's (it could not be written as `${keyring:NAME}`).
    #[error("{name:?} cannot name a secret: {why}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Resolves references to values.
#[derive(Clone, Debug, Default)]
pub struct Resolver;

impl Resolver {
    /// The value behind `reference`, `None` when it is not set.
    pub fn resolve(&self, reference: &Reference) -> Result<Option<String>, SecretError> {
        match reference {
            Reference::Env(name) => Ok(std::env::var(name).ok().filter(|v| !v.is_empty())),
            Reference::Keyring(entry) => Store::open()?.read(entry),
        }
    }
}

/// Check that `name` can be an entry's name: what `${keyring:NAME}` can say.
pub fn check_name(name: &str) -> Result<(), SecretError> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.trim() != name {
        Some("it starts or ends with white space")
    } else if name.contains('}') {
        Some("a reference ends at '}'")
    } else if name.chars().any(char::is_control) {
        Some("it holds a control character")
    } else if name.len() > 200 {
        Some("it is longer than 200 bytes")
    } else {
        None
    };
    match why {
        Some(why) => Err(SecretError::BadName {
            name: name.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            Reference::parse("${env:TOKEN}"),
            Some(Reference::Env("TOKEN".into()))
        );
        assert_eq!(
            Reference::parse(" ${keyring:box/token} "),
            Some(Reference::Keyring("box/token".into()))
        );
        assert_eq!(Reference::parse("hunter2"), None);
        assert_eq!(Reference::parse("${env:}"), None);
        assert_eq!(Reference::parse("${file:/etc/passwd}"), None);
    }

    #[test]
    fn resolves_environment() {
        // PATH is set in every test environment.
        let value = Resolver.resolve(&Reference::Env("PATH".into())).unwrap();
        assert!(value.is_some());
        let missing = Resolver
            .resolve(&Reference::Env(
                "SWITCHBOARD_TEST_SURELY_UNSET_VARIABLE".into(),
            ))
            .unwrap();
        assert_eq!(missing, None);
    }

    #[test]
    fn names_must_be_writable_as_references() {
        check_name("box/token").unwrap();
        for bad in ["", " x", "a}b", "a\nb", &"x".repeat(201)] {
            let err = check_name(bad).unwrap_err();
            assert!(matches!(err, SecretError::BadName { .. }), "{bad:?}: {err}");
        }
    }
}
