//! The store that holds `${keyring:…}` secrets: chosen once per process, and every operation on
//! it run on a thread of its own.
//!
//! The thread is not decoration: the Secret Service store talks over zbus's blocking API, which
//! drives its own tokio runtime and panics when entered from a tokio thread, and secrets are
//! resolved from async tasks (a downstream server's environment) as well as from plugins'
//! blocking threads. A store is chosen in this order: `SWITCHBOARD_SECRET_STORE` when set, else
//! the platform's own (the login keychain, the Credential Manager); on Linux the Secret Service
//! when the session bus answers for `org.freedesktop.secrets`, else the kernel keyring.

use std::sync::{Arc, OnceLock};

use super::{Action, SecretError, check_name};

/// The environment variable that names a store instead of letting switchboard choose.
pub const STORE_VARIABLE: &str = "SWITCHBOARD_SECRET_STORE";

/// Which kind of store is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// Each platform builds only its own kinds.
#[allow(dead_code)]
pub enum StoreKind {
    /// The freedesktop Secret Service on the session bus (GNOME Keyring, KWallet, KeePassXC).
    SecretService,
    /// The Linux kernel's keyutils (the user keyring).
    Keyutils,
    /// The macOS login keychain.
    Keychain,
    /// The Windows Credential Manager.
    CredentialManager,
}

impl StoreKind {
    /// The name `SWITCHBOARD_SECRET_STORE` takes for it.
    pub fn setting(self) -> &'static str {
        match self {
            Self::SecretService => "secret-service",
            Self::Keyutils => "keyutils",
            Self::Keychain => "keychain",
            Self::CredentialManager => "credential-manager",
        }
    }

    /// What a person calls it.
    pub fn title(self) -> &'static str {
        match self {
            Self::SecretService => "the Secret Service (GNOME Keyring, KWallet) on the session bus",
            Self::Keyutils => "the kernel keyring (keyutils, the user keyring @u)",
            Self::Keychain => "the macOS login keychain",
            Self::CredentialManager => "the Windows Credential Manager",
        }
    }
}

/// A failure inside a store, before it is given a name and advice.
struct Fault {
    message: String,
    /// The store said no (locked, access denied) rather than broke.
    refused: bool,
}

impl From<keyring_core::Error> for Fault {
    fn from(error: keyring_core::Error) -> Self {
        Self {
            refused: matches!(error, keyring_core::Error::NoStorageAccess(_)),
            message: error.to_string(),
        }
    }
}

#[cfg(target_os = "linux")]
impl From<linux_keyutils::KeyError> for Fault {
    fn from(error: linux_keyutils::KeyError) -> Self {
        use linux_keyutils::KeyError;
        Self {
            refused: matches!(error, KeyError::AccessDenied | KeyError::PermissionDenied),
            message: format!("the kernel said {error}"),
        }
    }
}

enum Backend {
    /// A keyring-core store; `labelled` when it takes a `label` modifier (the Secret Service
    /// shows it in Seahorse or KWalletManager).
    Core {
        store: Arc<keyring_core::CredentialStore>,
        labelled: bool,
    },
    #[cfg(target_os = "linux")]
    Keyutils(super::keyutils::UserKeyring),
}

/// The store in use in this process.
pub struct Store {
    kind: StoreKind,
    backend: Backend,
    /// Why the store this platform prefers was not used.
    passed_over: Option<String>,
}

impl Store {
    /// The store of this process, chosen on first use.
    pub fn open() -> Result<&'static Store, SecretError> {
        static STORE: OnceLock<Result<Store, String>> = OnceLock::new();
        STORE
            .get_or_init(|| on_own_thread(choose).and_then(|chosen| chosen))
            .as_ref()
            .map_err(|why| SecretError::Unavailable(why.clone()))
    }

    /// Which kind it is.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// Why the platform's preferred store is not the one in use, if it is not.
    pub fn passed_over(&self) -> Option<&str> {
        self.passed_over.as_deref()
    }

    /// What this store keeps across a reboot and a logout.
    pub fn keeps(&self) -> &'static str {
        match &self.backend {
            #[cfg(target_os = "linux")]
            Backend::Keyutils(ring) if ring.has_persistent() => {
                "in kernel memory only: gone at reboot; after the user's last process ends, kept for the persistent keyring's expiry (/proc/sys/kernel/keys/persistent_keyring_expiry, 3 days by default)"
            }
            #[cfg(target_os = "linux")]
            Backend::Keyutils(_) => {
                "in kernel memory only: gone at reboot and when the user's last process ends"
            }
            Backend::Core { .. } => "kept across reboots (encrypted on disk by the store)",
        }
    }

    /// The value of entry `name`, `None` when the store has none.
    pub fn read(&self, name: &str) -> Result<Option<String>, SecretError> {
        self.raw_read(name)
            .map_err(|fault| self.error(Action::Reading, name, fault))
    }

    /// Store `value` under `name` and read it back: it is stored, or the call fails and
    /// nothing is left under `name`.
    pub fn write(&self, name: &str, value: &str) -> Result<(), SecretError> {
        check_name(name)?;
        if value.is_empty() {
            return Err(SecretError::BadName {
                name: name.to_string(),
                why: "its value is empty (keyring stores refuse empty values)",
            });
        }
        self.raw_write(name, value)
            .map_err(|fault| self.error(Action::Writing, name, fault))?;
        let fault = match self.raw_read(name) {
            Ok(Some(back)) if back == value => return Ok(()),
            Ok(Some(_)) => Fault {
                message: "another value came back".into(),
                refused: false,
            },
            Ok(None) => Fault {
                message: "the entry was not there".into(),
                refused: false,
            },
            Err(fault) => fault,
        };
        // Whatever the store holds under `name` now is not what was asked for: remove it, so a
        // later start does not use it.
        let mut error = self.error(Action::Verifying, name, fault);
        if let Err(left) = self.raw_remove(name)
            && let SecretError::Store {
                message, advice, ..
            } = &mut error
        {
            message.push_str(&format!(", and removing it failed: {}", left.message));
            *advice = "an entry may be left under that name: `switchboard secrets delete NAME` removes it; ${env:NAME} in the configuration works everywhere";
        }
        Err(error)
    }

    /// Remove entry `name`; whether there was one.
    pub fn remove(&self, name: &str) -> Result<bool, SecretError> {
        self.raw_remove(name)
            .map_err(|fault| self.error(Action::Deleting, name, fault))
    }

    /// Store, read back and delete a probe entry of a random name.
    pub fn round_trip(&self) -> Result<(), SecretError> {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(|e| SecretError::Unavailable(e.to_string()))?;
        let name = format!("switchboard-probe-{}", hex::encode(random));
        self.write(&name, "probe")?;
        if !self.remove(&name)? {
            return Err(self.error(
                Action::Deleting,
                &name,
                Fault {
                    message: "the entry just stored was not there".into(),
                    refused: false,
                },
            ));
        }
        match self.read(&name)? {
            None => Ok(()),
            Some(_) => Err(self.error(
                Action::Deleting,
                &name,
                Fault {
                    message: "the entry was still there after it was deleted".into(),
                    refused: false,
                },
            )),
        }
    }

    fn raw_read(&self, name: &str) -> Result<Option<String>, Fault> {
        on_own_thread(|| match &self.backend {
            Backend::Core { .. } => match self.entry(name)?.get_password() {
                Ok(value) => Ok(Some(value)),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(e.into()),
            },
            #[cfg(target_os = "linux")]
            Backend::Keyutils(ring) => match ring.read(name)? {
                None => Ok(None),
                Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| Fault {
                    message: "the value is not UTF-8 text".into(),
                    refused: false,
                }),
            },
        })
        .map_err(panicked)?
    }

    fn raw_write(&self, name: &str, value: &str) -> Result<(), Fault> {
        on_own_thread(|| match &self.backend {
            Backend::Core { .. } => Ok(self.entry(name)?.set_password(value)?),
            #[cfg(target_os = "linux")]
            Backend::Keyutils(ring) => Ok(ring.write(name, value.as_bytes())?),
        })
        .map_err(panicked)?
    }

    fn raw_remove(&self, name: &str) -> Result<bool, Fault> {
        on_own_thread(|| match &self.backend {
            Backend::Core { .. } => match self.entry(name)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(e.into()),
            },
            #[cfg(target_os = "linux")]
            Backend::Keyutils(ring) => Ok(ring.remove(name)?),
        })
        .map_err(panicked)?
    }

    /// A keyring-core entry for `name` (service `switchboard`, user `name`).
    fn entry(&self, name: &str) -> Result<keyring_core::Entry, Fault> {
        let (store, labelled) = match &self.backend {
            Backend::Core { store, labelled } => (store, labelled),
            #[cfg(target_os = "linux")]
            Backend::Keyutils(_) => unreachable!("entry() is only called for keyring-core stores"),
        };
        let label = format!("switchboard: {name}");
        let mut modifiers = std::collections::HashMap::new();
        if *labelled {
            modifiers.insert("label", label.as_str());
        }
        Ok(store.build(super::KEYRING_SERVICE, name, Some(&modifiers))?)
    }

    fn error(&self, action: Action, name: &str, fault: Fault) -> SecretError {
        let advice = match (action, fault.refused, self.kind) {
            (Action::Verifying, _, _) => {
                "nothing is stored under that name now; `switchboard secrets test` checks the store, and ${env:NAME} in the configuration works everywhere"
            }
            (_, true, StoreKind::SecretService) => {
                "the Secret Service refused: unlock the login keyring (log in to the desktop; without one, `gnome-keyring-daemon --unlock` reading the password on stdin), or use ${env:NAME} in the configuration, which works everywhere"
            }
            (_, true, StoreKind::Keyutils) => {
                "the kernel refused access to the user keyring; `switchboard secrets test` checks the store, and ${env:NAME} in the configuration works everywhere"
            }
            (_, true, _) => {
                "the store refused access: allow switchboard when the system asks, or use ${env:NAME} in the configuration, which works everywhere"
            }
            (_, false, _) => {
                "`switchboard secrets test` checks the store; ${env:NAME} in the configuration works everywhere"
            }
        };
        SecretError::Store {
            action,
            name: name.to_string(),
            store: self.kind.title(),
            message: fault.message,
            advice,
        }
    }
}

/// Run `work` on a fresh thread (outside any tokio runtime); `Err` when it panicked.
fn on_own_thread<T: Send>(work: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("secrets".into())
            .spawn_scoped(scope, work)
            .map_err(|e| format!("starting the keyring thread: {e}"))?
            .join()
            .map_err(|_| "the keyring store panicked".to_string())
    })
}

fn panicked(message: String) -> Fault {
    Fault {
        message,
        refused: false,
    }
}

/// The store `SWITCHBOARD_SECRET_STORE` names, or the platform's choice.
fn choose() -> Result<Store, String> {
    let wanted = std::env::var(STORE_VARIABLE)
        .ok()
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty() && v != "auto");
    let store = platform(wanted.as_deref())?;
    tracing::debug!(store = store.kind.setting(), "secrets store chosen");
    Ok(store)
}

fn store(kind: StoreKind, backend: Backend) -> Store {
    Store {
        kind,
        backend,
        passed_over: None,
    }
}

/// The Secret Service, when the session bus has it (opening a session is the probe).
#[cfg(all(unix, not(target_os = "macos")))]
fn secret_service() -> Result<Store, String> {
    let found = zbus_secret_service_keyring_store::Store::new().map_err(|e| e.to_string())?;
    let store: Arc<keyring_core::CredentialStore> = found;
    Ok(self::store(
        StoreKind::SecretService,
        Backend::Core {
            store,
            labelled: true,
        },
    ))
}

#[cfg(target_os = "linux")]
fn keyutils() -> Result<Store, String> {
    super::keyutils::UserKeyring::open()
        .map(|ring| store(StoreKind::Keyutils, Backend::Keyutils(ring)))
        .map_err(|e| format!("the kernel keyring refused: {e}"))
}

#[cfg(target_os = "linux")]
fn platform(wanted: Option<&str>) -> Result<Store, String> {
    match wanted {
        Some("secret-service") => secret_service().map_err(|e| {
            format!("{STORE_VARIABLE}=secret-service, but the Secret Service did not answer on the session bus: {e}")
        }),
        Some("keyutils") => keyutils(),
        Some(other) => Err(format!(
            "{STORE_VARIABLE}={other:?} is no store on Linux (secret-service, keyutils, or auto)"
        )),
        None => match secret_service() {
            Ok(store) => Ok(store),
            Err(why) => {
                let mut store = keyutils()
                    .map_err(|e| format!("no Secret Service on the session bus ({why}), and {e}"))?;
                store.passed_over = Some(format!("no Secret Service on the session bus: {why}"));
                Ok(store)
            }
        },
    }
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "macos"))))]
fn platform(wanted: Option<&str>) -> Result<Store, String> {
    match wanted {
        None | Some("secret-service") => secret_service()
            .map_err(|e| format!("the Secret Service did not answer on the session bus: {e}")),
        Some(other) => Err(format!(
            "{STORE_VARIABLE}={other:?} is no store here (secret-service, or auto)"
        )),
    }
}

#[cfg(target_os = "macos")]
fn platform(wanted: Option<&str>) -> Result<Store, String> {
    if let Some(other) = wanted.filter(|w| *w != "keychain") {
        return Err(format!(
            "{STORE_VARIABLE}={other:?} is no store on macOS (keychain, or auto)"
        ));
    }
    let found = apple_native_keyring_store::keychain::Store::new().map_err(|e| e.to_string())?;
    let store: Arc<keyring_core::CredentialStore> = found;
    Ok(self::store(
        StoreKind::Keychain,
        Backend::Core {
            store,
            labelled: false,
        },
    ))
}

#[cfg(windows)]
fn platform(wanted: Option<&str>) -> Result<Store, String> {
    if let Some(other) = wanted.filter(|w| *w != "credential-manager") {
        return Err(format!(
            "{STORE_VARIABLE}={other:?} is no store on Windows (credential-manager, or auto)"
        ));
    }
    let found = windows_native_keyring_store::Store::new().map_err(|e| e.to_string())?;
    let store: Arc<keyring_core::CredentialStore> = found;
    Ok(self::store(
        StoreKind::CredentialManager,
        Backend::Core {
            store,
            labelled: false,
        },
    ))
}

#[cfg(not(any(unix, windows)))]
fn platform(_wanted: Option<&str>) -> Result<Store, String> {
    Err("switchboard has no keyring store for this platform".into())
}
