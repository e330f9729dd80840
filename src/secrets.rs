//! Secrets: references in the configuration (`${env:NAME}`, `${keyring:NAME}`) and their
//! resolution from the environment or the operating system's keyring.
//!
//! A secret's value never passes through the configuration, the log or the audit trail: the
//! configuration holds only the reference, and [`Resolver::resolve`] hands the value straight
//! to the plugin that declared it.

use std::sync::OnceLock;

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

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The keyring could not be reached.
    #[error("the OS keyring is not available ({0}); use ${{env:NAME}} instead")]
    KeyringUnavailable(String),
    /// The keyring refused or failed.
    #[error("reading keyring entry {entry:?} failed: {message}")]
    Keyring {
        /// The entry.
        entry: String,
        /// What the keyring said.
        message: String,
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
            Reference::Keyring(entry) => read_keyring(entry),
        }
    }
}

fn read_keyring(entry: &str) -> Result<Option<String>, SecretError> {
    init_keyring().map_err(|e| SecretError::KeyringUnavailable(e.clone()))?;
    let item =
        keyring_core::Entry::new(KEYRING_SERVICE, entry).map_err(|e| SecretError::Keyring {
            entry: entry.to_string(),
            message: e.to_string(),
        })?;
    match item.get_password() {
        Ok(value) => Ok(Some(value)),
        Err(keyring_core::Error::NoEntry) => Ok(None),
        Err(e) => Err(SecretError::Keyring {
            entry: entry.to_string(),
            message: e.to_string(),
        }),
    }
}

/// Store a secret in the keyring (for `switchboard secrets set`).
pub fn store_in_keyring(entry: &str, value: &str) -> Result<(), SecretError> {
    init_keyring().map_err(|e| SecretError::KeyringUnavailable(e.clone()))?;
    keyring_core::Entry::new(KEYRING_SERVICE, entry)
        .and_then(|item| item.set_password(value))
        .map_err(|e| SecretError::Keyring {
            entry: entry.to_string(),
            message: e.to_string(),
        })
}

/// Install the platform's credential store once per process.
fn init_keyring() -> Result<(), &'static String> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        let store = platform_store()?;
        keyring_core::set_default_store(store);
        Ok(())
    })
    .as_ref()
    .map(|_| ())
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<std::sync::Arc<keyring_core::CredentialStore>, String> {
    let store = linux_keyutils_keyring_store::Store::new().map_err(|e| e.to_string())?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<std::sync::Arc<keyring_core::CredentialStore>, String> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(|e| e.to_string())?;
    Ok(store)
}

#[cfg(windows)]
fn platform_store() -> Result<std::sync::Arc<keyring_core::CredentialStore>, String> {
    let store = windows_native_keyring_store::Store::new().map_err(|e| e.to_string())?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn platform_store() -> Result<std::sync::Arc<keyring_core::CredentialStore>, String> {
    Err("no keyring support on this platform".into())
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
}
