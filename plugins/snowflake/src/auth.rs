//! Who the connector is to Snowflake: the `Authorization` header and the
//! `X-Snowflake-Authorization-Token-Type` that goes with it, for a programmatic access token
//! (the secret `token`, sent as it is) or a key-pair JWT (made here from the secret
//! `private_key`, kept in memory only, made again before it expires and when Snowflake
//! refuses it). Both secrets are the person's, configured and read through the host; nothing
//! this module makes is kept anywhere, so signing out has nothing to forget but the JWT in
//! memory.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use switchboard_plugin_api::Host;

use crate::config::{AuthMode, Config};
use crate::error::Error;
use crate::jwt::KeyPair;

/// The secret holding the programmatic access token.
pub const TOKEN: &str = "token";
/// The secret holding the PKCS#8 PEM private key.
pub const PRIVATE_KEY: &str = "private_key";
/// The secret holding the private key's passphrase, if it is encrypted.
pub const PASSPHRASE: &str = "private_key_passphrase";

/// A JWT is made again when less than this is left of its life.
const RENEW_BEFORE: u64 = 5 * 60;

/// A JWT made, and until when it is good.
struct Minted {
    token: String,
    exp: u64,
}

/// The connector's credential.
pub struct Auth {
    host: Host,
    mode: AuthMode,
    account: Option<String>,
    user: Option<String>,
    jwt: Mutex<Option<Minted>>,
    minted: AtomicU32,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Auth {
    /// The credential `config` asks for, its secrets read from `host` when first needed.
    pub fn new(host: Host, config: &Config) -> Self {
        Self {
            host,
            mode: config.auth,
            account: config.jwt_account(),
            user: config.user.clone(),
            jwt: Mutex::new(None),
            minted: AtomicU32::new(0),
        }
    }

    /// What kind of credential it is, in words.
    pub fn what(&self) -> &'static str {
        match self.mode {
            AuthMode::Token => "programmatic access token",
            AuthMode::KeyPair => "key-pair JWT",
        }
    }

    /// The `X-Snowflake-Authorization-Token-Type` header's value.
    pub fn token_type(&self) -> &'static str {
        match self.mode {
            AuthMode::Token => "PROGRAMMATIC_ACCESS_TOKEN",
            AuthMode::KeyPair => "KEYPAIR_JWT",
        }
    }

    /// The secret the person sets, and what goes in it.
    pub fn secret_needed(&self) -> &'static str {
        match self.mode {
            AuthMode::Token => {
                "the secret `token` (a programmatic access token made in Snowsight or with \
                 ALTER USER … ADD PROGRAMMATIC ACCESS TOKEN)"
            }
            AuthMode::KeyPair => {
                "the secret `private_key` (the PKCS#8 PEM private key whose public key is set \
                 on the user with ALTER USER … SET RSA_PUBLIC_KEY; `private_key_passphrase` \
                 too if it is encrypted)"
            }
        }
    }

    /// What to do when Snowflake refuses the credential.
    pub fn refused_todo(&self) -> String {
        match self.mode {
            AuthMode::Token => "the token was refused (expired, revoked, or not allowed by the \
                 user's network policy): make a new programmatic access token and store it \
                 with `switchboard sources add snowflake`, then `switchboard sources test \
                 snowflake`"
                .to_string(),
            AuthMode::KeyPair => format!(
                "a new JWT was made and refused too: check that user {} has this key's public \
                 key (DESC USER shows RSA_PUBLIC_KEY_FP) and that this machine's clock is \
                 right",
                self.user.as_deref().unwrap_or("?")
            ),
        }
    }

    /// How many JWTs were made so far (tests read it).
    pub fn minted(&self) -> u32 {
        self.minted.load(Ordering::SeqCst)
    }

    /// The `Authorization` header's value to send now.
    pub fn header(&self) -> Result<String, Error> {
        match self.mode {
            AuthMode::Token => Ok(format!("Bearer {}", self.token()?)),
            AuthMode::KeyPair => {
                let mut jwt = lock(&self.jwt);
                let fresh = jwt
                    .as_ref()
                    .is_some_and(|m| m.exp > now().saturating_add(RENEW_BEFORE));
                if !fresh {
                    *jwt = Some(self.mint()?);
                }
                let token = jwt.as_ref().map(|m| m.token.clone()).unwrap_or_default();
                Ok(format!("Bearer {token}"))
            }
        }
    }

    /// Snowflake refused `rejected`: make a new JWT unless another caller already did; `false`
    /// for a token, which cannot be renewed here.
    pub fn renew(&self, rejected: &str) -> Result<bool, Error> {
        if self.mode == AuthMode::Token {
            return Ok(false);
        }
        let mut jwt = lock(&self.jwt);
        let current = jwt.as_ref().map(|m| format!("Bearer {}", m.token));
        if current.as_deref() == Some(rejected) || current.is_none() {
            *jwt = Some(self.mint()?);
        }
        Ok(true)
    }

    /// Drop the JWT held in memory.
    pub fn forget(&self) {
        *lock(&self.jwt) = None;
    }

    fn secret(&self, name: &str) -> Result<Option<String>, Error> {
        self.host.secret(name).map_err(|e| {
            Error::Credential(format!(
                "the secret `{name}` could not be read: {}",
                e.message
            ))
        })
    }

    fn token(&self) -> Result<String, Error> {
        match self.secret(TOKEN)? {
            Some(token) if !token.trim().is_empty() => Ok(token.trim().to_string()),
            _ => Err(Error::Credential(format!(
                "no programmatic access token: set {} (`switchboard sources add snowflake` \
                 asks for it)",
                self.secret_needed()
            ))),
        }
    }

    /// A new JWT from the key as the secret holds it now (a rotated key is picked up).
    fn mint(&self) -> Result<Minted, Error> {
        let Some(pem) = self.secret(PRIVATE_KEY)?.filter(|p| !p.trim().is_empty()) else {
            return Err(Error::Credential(format!(
                "no private key: set {} (`switchboard sources add snowflake` asks for it)",
                self.secret_needed()
            )));
        };
        let passphrase = self.secret(PASSPHRASE)?;
        let (Some(account), Some(user)) = (&self.account, &self.user) else {
            return Err(Error::NotConfigured(
                "key-pair sign-in needs the settings account and user".to_string(),
            ));
        };
        let pair = KeyPair::from_pem(&pem, passphrase.as_deref(), account, user)
            .map_err(Error::Credential)?;
        let claims = pair.claims(now());
        let token = pair.sign(&claims).map_err(Error::Credential)?;
        self.minted.fetch_add(1, Ordering::SeqCst);
        Ok(Minted {
            token,
            exp: claims.exp,
        })
    }
}
