//! How the connector signs in to Box, and the HTTP session that carries it.
//!
//! Three ways, chosen from what the person configured, in this order:
//! - a developer token (secret `developer_token`): sent as is, never renewed (Box does not
//!   renew them; they last 60 minutes);
//! - the app's client credentials (`subject_type` + `subject_id`, `client_id`, secret
//!   `client_secret`): a token asked for whenever one is needed, kept in memory only (the
//!   app can always ask again, so nothing is written to the keyring);
//! - a person signed in in the browser ([`crate::signin`]): the token and its refresh token
//!   kept in the OS keyring as the plugin's secret [`KEPT_TOKEN`], renewed once on a `401`
//!   (Box rotates the refresh token each time: the new one is kept).
//!
//! A [`Session`] is built once and again after a sign-in or a sign-out, so a token kept or
//! forgotten is what the next call uses: the session's `TokenAuth` reads the keyring again
//! only before it renews, so without the rebuild a sign-in as another person, or a sign-out,
//! would take effect only when the token held expires or is refused.

use std::fmt;
use std::sync::Arc;

use switchboard_plugin_api::{Host, LogLevel, PluginError};
use switchboard_plugin_http::oauth::{App, Endpoints, KeptToken, MemoryStore, Renewal, TokenAuth};
use switchboard_plugin_http::{Auth, Client, HttpError};

use crate::config::Config;

/// The plugin's kept secret holding a signed-in person's tokens: the host keeps it in the OS
/// keyring as `switchboard-plugin/<home>/box/token` (`<home>`, eight hex digits, names the
/// switchboard home), the entry `switchboard secrets list` shows.
pub const KEPT_TOKEN: &str = "token";

/// The secret holding the app's client secret.
pub const CLIENT_SECRET: &str = "client_secret";

/// The secret holding a developer token.
pub const DEVELOPER_TOKEN: &str = "developer_token";

/// What the connector says it is.
pub const USER_AGENT: &str = concat!("switchboard-box/", env!("CARGO_PKG_VERSION"));

/// How the connector signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// A developer token from the secrets.
    DeveloperToken,
    /// The app's client credentials grant.
    AppCredentials,
    /// A person signed in in the browser.
    SignedIn,
}

impl Method {
    /// The method in words, for `check`.
    pub fn described(self) -> &'static str {
        match self {
            Self::DeveloperToken => "a developer token",
            Self::AppCredentials => "the app's client credentials",
            Self::SignedIn => "the browser sign-in",
        }
    }
}

/// A developer token: sent as is; a `401` cannot be answered by renewing it.
struct DeveloperToken(String);

impl fmt::Debug for DeveloperToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeveloperToken(…)")
    }
}

impl Auth for DeveloperToken {
    fn authorization(&self) -> Result<String, HttpError> {
        Ok(format!("Bearer {}", self.0))
    }

    fn refresh(&self, _rejected: &str) -> Result<bool, HttpError> {
        Ok(false)
    }
}

/// The client and its authorization, for one way of signing in.
pub struct Session {
    /// Sends API requests with the authorization.
    pub client: Client,
    /// How it signs in.
    pub method: Method,
}

/// A secret the person configured, `None` when unset or empty.
pub fn secret(host: &Host, name: &str) -> Result<Option<String>, PluginError> {
    Ok(host
        .secret(name)?
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty()))
}

/// Where the connector signs in.
pub fn endpoints(config: &Config) -> Endpoints {
    Endpoints {
        token: config.token(),
        device: None,
        authorize: Some(config.authorize_url()),
    }
}

/// The scopes a person's sign-in asks for: read only unless the connector is writable.
pub fn scopes(config: &Config) -> Vec<String> {
    let scope = if config.writable {
        "root_readwrite"
    } else {
        "root_readonly"
    };
    vec![scope.to_string()]
}

/// A client without authorization (the token endpoint's), telling the host's log of waits.
pub fn plain_client(host: &Host) -> Client {
    let host = host.clone();
    Client::new(USER_AGENT).on_wait(move |wait| {
        // The request is shown without its query; nothing sensitive is in the line.
        host.log(
            LogLevel::INFO,
            &format!(
                "{} answered {}; trying again in {} s (try {})",
                wait.request,
                wait.why,
                wait.wait.as_secs().max(1),
                wait.attempt
            ),
        );
    })
}

/// The method the configuration and the secrets choose.
pub fn method(config: &Config, host: &Host) -> Result<Method, PluginError> {
    if secret(host, DEVELOPER_TOKEN)?.is_some() {
        Ok(Method::DeveloperToken)
    } else if config.subject_type.is_some() {
        Ok(Method::AppCredentials)
    } else {
        Ok(Method::SignedIn)
    }
}

/// The session for what is configured and kept now.
pub fn session(config: &Config, host: &Host) -> Result<Session, PluginError> {
    let method = method(config, host)?;
    let app = |scopes: Vec<String>| -> Result<App, PluginError> {
        Ok(App {
            client_id: config.client_id.clone().unwrap_or_default(),
            client_secret: secret(host, CLIENT_SECRET)?,
            scopes,
        })
    };
    let auth: Arc<dyn Auth> = match method {
        Method::DeveloperToken => Arc::new(DeveloperToken(
            secret(host, DEVELOPER_TOKEN)?.unwrap_or_default(),
        )),
        Method::AppCredentials => {
            let subject_type = config.subject_type.map(|s| s.as_str()).unwrap_or_default();
            let extra = vec![
                ("box_subject_type".to_string(), subject_type.to_string()),
                (
                    "box_subject_id".to_string(),
                    config.subject_id.clone().unwrap_or_default(),
                ),
            ];
            Arc::new(TokenAuth::new(
                plain_client(host),
                endpoints(config),
                app(Vec::new())?,
                Renewal::ClientCredentials { extra },
                Arc::new(MemoryStore::default()),
            ))
        }
        Method::SignedIn => Arc::new(TokenAuth::new(
            plain_client(host),
            endpoints(config),
            app(scopes(config))?,
            Renewal::SignedIn,
            Arc::new(KeptToken::new(host.clone(), KEPT_TOKEN)),
        )),
    };
    Ok(Session {
        client: plain_client(host).auth(auth),
        method,
    })
}
