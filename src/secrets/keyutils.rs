//! The kernel keyutils store: secrets as `user` keys in the user's keyring (`@u`), described
//! `switchboard:NAME`, for Linux machines where no Secret Service answers.
//!
//! Why not the session keyring (what `linux-keyutils-keyring-store` uses): a process started
//! outside a login session (a service, a container, `ssh host cmd` without pam_keyinit) has no
//! session keyring of its own and falls back to the shared user-session keyring; that store's
//! request for the persistent keyring then makes the kernel give the process a fresh anonymous
//! session keyring, after which the key it just added sits in a keyring the process no longer
//! possesses. A new key grants everything to its possessor and only `view` to its user, so
//! linking it, and every later read, is refused ("AccessDenied"), and the value is left behind.
//!
//! Here every operation first links `@u` into a keyring private to the calling thread (its
//! thread keyring), so `@u` and its keys are possessed whatever session the process is in, and
//! no session keyring is touched. (Per thread, because since Linux 3.8 the process and session
//! keyrings live in each thread's credentials: one installed by one thread is not seen by
//! threads started before it, and the store runs every operation on a fresh thread.) A key is
//! also linked into the user's persistent keyring when the kernel allows it, so it outlives the
//! user's last process for the persistent keyring's expiry
//! (`/proc/sys/kernel/keys/persistent_keyring_expiry`, three days by default, restarted by every
//! use). Nothing here survives a reboot: keyutils keeps keys in kernel memory only.

use std::sync::atomic::{AtomicBool, Ordering};

use linux_keyutils::{Key, KeyError, KeyRing, KeyRingIdentifier};

/// The user's keyring, reachable (possessed) from this process.
pub struct UserKeyring {
    user: KeyRing,
    /// The user's persistent keyring, when the kernel has them (3.13 and later, not every
    /// container).
    persistent: Option<KeyRing>,
    /// The kernel refused a link into the persistent keyring (some containers' user
    /// namespaces do), so keys live in `@u` alone.
    persistent_refused: AtomicBool,
}

/// Whatever a keyutils operation said.
pub type Failure = KeyError;

impl UserKeyring {
    /// Find the user keyring (and the persistent one, when there is one).
    pub fn open() -> Result<Self, Failure> {
        let user = KeyRing::from_special_id(KeyRingIdentifier::User, true)?;
        let ring = Self {
            user,
            persistent: None,
            persistent_refused: AtomicBool::new(false),
        };
        ring.possess()?;
        Ok(Self {
            persistent: KeyRing::get_persistent(KeyRingIdentifier::Thread).ok(),
            ..ring
        })
    }

    /// Link `@u` (and the persistent keyring) into this thread's keyring, so that they and
    /// the keys in them are possessed by this thread.
    fn possess(&self) -> Result<(), Failure> {
        let thread = KeyRing::from_special_id(KeyRingIdentifier::Thread, true)?;
        thread.link_keyring(self.user)?;
        if self.persistent.is_some() {
            // Linking it again resets its expiry; without it the keys still live in `@u`.
            if let Err(e) = KeyRing::get_persistent(KeyRingIdentifier::Thread) {
                tracing::debug!(error = %e, "the persistent keyring was not linked");
            }
        }
        Ok(())
    }

    /// Whether keys also go to the persistent keyring (so they outlive the user's last
    /// process for a while).
    pub fn has_persistent(&self) -> bool {
        self.persistent.is_some() && !self.persistent_refused.load(Ordering::Relaxed)
    }

    /// The value of entry `name`, `None` when there is none.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, Failure> {
        self.possess()?;
        let Some(key) = self.find(name)? else {
            return Ok(None);
        };
        match key.read_to_vec() {
            Ok(value) => Ok(Some(value)),
            Err(e) if gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Store `value` as entry `name`: the kernel replaces an existing key of that description
    /// in one step, so a failure leaves the old value (or none), never half of a new one.
    pub fn write(&self, name: &str, value: &[u8]) -> Result<(), Failure> {
        self.possess()?;
        let key = self.user.add_key(&description(name), value)?;
        if let Some(persistent) = self.persistent {
            // The persistent link only lengthens the key's life; the key is stored without it.
            if let Err(e) = persistent.link_key(key) {
                self.persistent_refused.store(true, Ordering::Relaxed);
                tracing::debug!(error = %e, "a key was not linked into the persistent keyring");
            }
        }
        Ok(())
    }

    /// Remove entry `name` from every keyring that holds it; whether there was one.
    pub fn remove(&self, name: &str) -> Result<bool, Failure> {
        self.possess()?;
        let Some(key) = self.find(name)? else {
            return Ok(false);
        };
        // Invalidated while still possessed (through `@u`), then unlinked: an invalidated key
        // stays linked until the kernel's garbage collector runs.
        match key.invalidate() {
            Ok(()) => {}
            Err(e) if gone(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
        for ring in [Some(self.user), self.persistent].into_iter().flatten() {
            if let Err(e) = ring.unlink_key(key) {
                tracing::debug!(error = %e, "an invalidated key was not unlinked");
            }
        }
        Ok(true)
    }

    /// The key for `name`: in `@u`, or only in the persistent keyring (after the user's
    /// processes had all ended), then linked back into `@u`.
    fn find(&self, name: &str) -> Result<Option<Key>, Failure> {
        let description = description(name);
        match self.user.search(&description) {
            Ok(key) => return Ok(Some(key)),
            Err(e) if gone(&e) => {}
            Err(e) => return Err(e),
        }
        let Some(persistent) = self.persistent else {
            return Ok(None);
        };
        match persistent.search(&description) {
            Ok(key) => {
                if let Err(e) = self.user.link_key(key) {
                    tracing::debug!(error = %e, "a persistent key was not linked back into @u");
                }
                Ok(Some(key))
            }
            Err(e) if gone(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A key's description: `keyctl print %user:switchboard:NAME` shows it.
fn description(name: &str) -> String {
    format!("{}:{name}", super::KEYRING_SERVICE)
}

/// The errors keyutils gives for a key that is not there, depending on where in its removal
/// (or expiry) the lookup lands.
fn gone(error: &KeyError) -> bool {
    matches!(
        error,
        KeyError::KeyDoesNotExist | KeyError::KeyRevoked | KeyError::KeyExpired
    )
}
