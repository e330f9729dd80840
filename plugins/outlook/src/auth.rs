//! Who the connector reads mail as, and how it gets and keeps its tokens.
//!
//! - A person (no `client_secret` configured): `sign_in` runs the device code flow, shows the
//!   code and the address as progress, polls at the interval the identity platform asks for,
//!   and keeps the tokens in the OS keyring (`KeptToken`, the plugin's secret `token`). From
//!   then on plugin-http's `TokenAuth` renews the access token before it expires and once
//!   when Graph refuses it, with the refresh token, and keeps the renewed one.
//! - An app (`client_secret` and `mailbox` configured): no sign-in; the token comes from the
//!   client credentials grant when first needed and again when it is due or refused, and lives
//!   only in memory (it can always be fetched again).
//!
//! The client and its `TokenAuth` are built on first use and dropped on sign-in and sign-out,
//! so a token kept or forgotten is what the next request uses.

use std::cell::Cell;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_plugin_api::{Call, ErrorKind, Host, LogLevel, PluginError};
use switchboard_plugin_http::oauth::{
    self, App, KeptToken, MemoryStore, Renewal, TokenAuth, TokenStore,
};
use switchboard_plugin_http::{Client, HttpError};

use crate::api::{Api, Identity, encode};
use crate::config::Config;
use crate::error::{MailError, shown};
use crate::wire::User;

/// The secret the person configures for the app flow.
pub const CLIENT_SECRET: &str = "client_secret";
/// The plugin's own keyring entry holding the person's tokens.
pub const KEPT_TOKEN: &str = "token";
/// The flows `sign_in` takes.
pub const DEVICE_CODE: &str = "device_code";
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

const NO_CLIENT_ID: &str = "client_id is not set: register an app in Microsoft Entra ID (allow \
     public client flows for a person's sign-in), then set its application id with \
     `switchboard sources add outlook --set client_id=<id>`";

/// The connector's sign-in state.
pub struct Session {
    config: Config,
    host: Host,
    identity: Identity,
    secret: Option<String>,
    kept: KeptToken,
    /// The Graph client with its `TokenAuth`, built on first use.
    linked: Mutex<Option<Arc<Client>>>,
}

fn user_agent() -> String {
    format!("switchboard-outlook/{}", env!("CARGO_PKG_VERSION"))
}

impl Session {
    /// The session the configuration and the configured secret describe.
    pub fn new(config: Config, host: Host) -> Result<Self, PluginError> {
        let secret = host.secret(CLIENT_SECRET)?.filter(|s| !s.is_empty());
        let identity = if secret.is_some() {
            Identity::App
        } else {
            Identity::Person
        };
        if identity == Identity::App && config.mailbox.is_none() {
            return Err(PluginError::new(
                ErrorKind::INVALID_INPUT,
                "client_secret is set (the app reads mail as itself) but mailbox is not: set \
                 the user principal name it reads with --set mailbox=<user@domain>",
            ));
        }
        if identity == Identity::Person && config.mailbox.is_some() {
            host.log(
                LogLevel::WARNING,
                "mailbox is used only by the app flow (with client_secret); a person reads their own mailbox",
            );
        }
        Ok(Self {
            kept: KeptToken::new(host.clone(), KEPT_TOKEN),
            config,
            host,
            identity,
            secret,
            linked: Mutex::new(None),
        })
    }

    /// Who the tokens read as.
    pub fn identity(&self) -> Identity {
        self.identity
    }

    fn app(&self) -> Result<App, MailError> {
        let client_id = self
            .config
            .client_id
            .clone()
            .ok_or_else(|| MailError::Input(NO_CLIENT_ID.to_string()))?;
        Ok(match self.identity {
            Identity::Person => App {
                client_id,
                client_secret: None,
                scopes: self.config.person_scopes(),
            },
            Identity::App => App {
                client_id,
                client_secret: self.secret.clone(),
                scopes: vec![self.config.app_scope()],
            },
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Client>>> {
        self.linked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Graph for the configured mailbox, with the token this session holds.
    pub fn api(&self) -> Result<Api, MailError> {
        let mut linked = self.lock();
        if linked.is_none() {
            let app = self.app()?;
            let (renewal, store): (Renewal, Arc<dyn TokenStore>) = match self.identity {
                Identity::Person => (Renewal::SignedIn, Arc::new(self.kept.clone())),
                Identity::App => (
                    Renewal::ClientCredentials { extra: Vec::new() },
                    Arc::new(MemoryStore::default()),
                ),
            };
            let auth = TokenAuth::new(
                Client::new(&user_agent()),
                self.config.endpoints(),
                app,
                renewal,
                store,
            );
            let host = self.host.clone();
            let client = Client::new(&user_agent())
                .auth(Arc::new(auth))
                .on_wait(move |wait| {
                    host.log(
                        LogLevel::INFO,
                        &format!(
                            "{} answered {}; trying again in {} s (try {})",
                            wait.request,
                            wait.why,
                            wait.wait.as_secs(),
                            wait.attempt + 1
                        ),
                    );
                });
            *linked = Some(Arc::new(client));
        }
        let client = linked
            .as_ref()
            .map(Arc::clone)
            .ok_or_else(|| MailError::Failed("the Graph client could not be built".into()))?;
        let mailbox = match self.identity {
            Identity::App => self.config.mailbox.as_deref(),
            Identity::Person => None,
        };
        Ok(Api::new(client, self.config.api(), mailbox, self.identity))
    }

    /// Forget the client, so the next request starts from the token store.
    fn reset(&self) {
        *self.lock() = None;
    }

    /// Who the token reads as: `GET /me` (or `/users/{mailbox}`) with three properties.
    pub fn who(&self, call: &Call) -> Result<User, MailError> {
        let api = self.api()?;
        let url = format!(
            "{}?$select={}",
            api.root(),
            encode("displayName,mail,userPrincipalName")
        );
        api.get(&url, "reading who is signed in", call)
    }

    /// Run the sign-in `flow` (the identity's own when `None`) and say who is signed in.
    pub fn sign_in(&self, flow: Option<&str>, call: &Call) -> Result<String, MailError> {
        match (flow, self.identity) {
            (None | Some(DEVICE_CODE), Identity::Person) => self.device_sign_in(call),
            (None | Some(CLIENT_CREDENTIALS), Identity::App) => {
                self.app()?;
                self.reset();
                let user = self.who(call)?;
                Ok(format!(
                    "Nothing to sign in: the app signs in with its client secret, and Microsoft \
                     Graph answered for the mailbox of {}.",
                    user.shown()
                ))
            }
            (Some(CLIENT_CREDENTIALS), Identity::Person) => Err(MailError::Input(
                "the client_credentials flow needs the app's client_secret (a secret of the \
                 source) and the mailbox it reads (--set mailbox=<user@domain>)"
                    .to_string(),
            )),
            (Some(DEVICE_CODE), Identity::App) => Err(MailError::Input(
                "this source reads mail as the app (client_secret is set); remove the secret \
                 to sign in as a person with a device code"
                    .to_string(),
            )),
            (Some(other), _) => Err(MailError::Input(format!(
                "no sign-in flow {}: use {DEVICE_CODE} (a person) or {CLIENT_CREDENTIALS} (the app)",
                shown(other)
            ))),
        }
    }

    fn device_sign_in(&self, call: &Call) -> Result<String, MailError> {
        let app = self.app()?;
        let endpoints = self.config.endpoints();
        let client = Client::new(&user_agent());
        let stopped = || call.is_cancelled();
        let failed = |e: HttpError| match e {
            HttpError::Cancelled => MailError::Cancelled,
            HttpError::Auth(message) => {
                MailError::Denied(format!("Signing in to Outlook: {message}"))
            }
            other => MailError::Failed(format!(
                "Signing in to Outlook failed: {other}; check auth_url, tenant and the network"
            )),
        };
        let code = oauth::start_device(&client, &endpoints, &app, &stopped).map_err(failed)?;
        call.progress(0.0, None, &code.instructions());
        let polls = Cell::new(0u32);
        let wait = |interval: Duration| {
            polls.set(polls.get() + 1);
            call.progress(
                f64::from(polls.get()),
                None,
                &format!(
                    "Waiting for the sign-in at {} with the code {}: checking again in {} s",
                    code.verification_uri,
                    code.user_code,
                    interval.as_secs()
                ),
            );
            sleep_unless(interval, &stopped)
        };
        let token = oauth::finish_device(&client, &endpoints, &app, &code, &wait, &stopped)
            .map_err(failed)?;
        self.kept
            .save(&token)
            .map_err(|e| MailError::Failed(format!("The sign-in worked but {e}")))?;
        self.reset();
        let who = self
            .who(call)
            .map_or_else(|_| "your account".to_string(), |u| u.shown());
        Ok(format!(
            "Signed in to Outlook as {who}; the token is kept in the OS keyring and renewed as needed."
        ))
    }

    /// Forget what the sign-in kept.
    pub fn sign_out(&self) -> Result<String, MailError> {
        self.reset();
        match self.identity {
            Identity::Person => {
                self.kept
                    .forget()
                    .map_err(|e| MailError::Failed(format!("Signing out failed: {e}")))?;
                Ok(
                    "Signed out of Outlook: the kept token is gone from the OS keyring."
                        .to_string(),
                )
            }
            Identity::App => Ok(
                "The app's token is dropped; the client secret stays among the source's secrets \
                 (`switchboard sources remove outlook` removes it)."
                    .to_string(),
            ),
        }
    }
}

/// Sleep `wait`, waking every 25 ms to see whether the call was given up.
fn sleep_unless(wait: Duration, stopped: &dyn Fn() -> bool) -> Result<(), HttpError> {
    let until = Instant::now() + wait;
    loop {
        if stopped() {
            return Err(HttpError::Cancelled);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(25)));
    }
}
