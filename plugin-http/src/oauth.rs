//! Signing in to a web service with OAuth 2.0 and keeping its token fresh: the device code
//! grant for a person at a desktop (RFC 8628), the client credentials grant for an app, the
//! refresh token grant, and [`TokenAuth`], the [`Auth`] that hands a [`Client`] a token and
//! renews it before it expires or when the service refuses it.
//!
//! Tokens live in a [`TokenStore`] (the host's secret store in a plugin; never a file, never a
//! log line: [`Token`]'s `Debug` shows no secret). Renewing holds a lock, so calls that find
//! the token expired at once wait for one renewal instead of each spending the refresh token;
//! and it looks in the store first, where another process may have kept a newer token.
//! Requests to the token endpoint are not sent twice on a failure (a grant may have been used).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use switchboard_plugin_api::Host;

use crate::client::{Auth, Client, Request, Response};
use crate::error::HttpError;

/// How long before its expiry a token is renewed.
pub const RENEW_BEFORE: Duration = Duration::from_secs(120);

/// What a person is told when a token without a refresh token has expired.
const CANNOT_RENEW: &str = "the sign-in has expired and cannot be renewed; sign in again";

/// The device code grant's type, as the token endpoint takes it.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Where a service signs in.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// The token endpoint.
    pub token: String,
    /// The device authorization endpoint, where the service has one.
    pub device: Option<String>,
    /// The authorization endpoint a browser opens ([`crate::browser`]), where it has one.
    pub authorize: Option<String>,
}

/// The app signing in: its id, its secret (a confidential app's), and the scopes it asks for.
#[derive(Clone)]
pub struct App {
    /// The client id.
    pub client_id: String,
    /// The client secret, for an app that has one.
    pub client_secret: Option<String>,
    /// The scopes, joined with spaces in requests.
    pub scopes: Vec<String>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A token the service issued, and when it expires (Unix seconds).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// What goes in `Authorization: Bearer`.
    pub access_token: String,
    /// What gets the next one, when the service issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token expires.
    pub expires_at: u64,
    /// The scopes granted, as the service said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"…")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

impl Token {
    /// Whether it expires within [`RENEW_BEFORE`] of `now` (Unix seconds).
    pub fn due(&self, now: u64) -> bool {
        self.expires_at <= now.saturating_add(RENEW_BEFORE.as_secs())
    }
}

/// Where a connector keeps its token between calls and runs.
pub trait TokenStore: Send + Sync {
    /// The token kept, if any.
    fn load(&self) -> Result<Option<Token>, HttpError>;
    /// Keep `token`, replacing the one kept.
    fn save(&self, token: &Token) -> Result<(), HttpError>;
}

/// A store in memory, for a token that need not outlive the process (an app's client
/// credentials token) and for tests.
#[derive(Default)]
pub struct MemoryStore(Mutex<Option<Token>>);

impl TokenStore for MemoryStore {
    fn load(&self) -> Result<Option<Token>, HttpError> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    fn save(&self, token: &Token) -> Result<(), HttpError> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(())
    }
}

/// A [`TokenStore`] in the OS keyring through the host: the token as JSON, kept as the
/// plugin's own secret `name` ([`Host::keep_secret`]). What a signed-in connector uses.
#[derive(Clone)]
pub struct KeptToken {
    host: Host,
    name: String,
}

impl KeptToken {
    /// The token kept as the plugin's secret `name` (`outlook.token`).
    pub fn new(host: Host, name: impl Into<String>) -> Self {
        Self {
            host,
            name: name.into(),
        }
    }

    /// Sign out: forget the kept token.
    pub fn forget(&self) -> Result<(), HttpError> {
        self.host
            .forget_secret(&self.name)
            .map_err(|e| HttpError::Auth(e.message.to_string()))
    }
}

impl TokenStore for KeptToken {
    fn load(&self) -> Result<Option<Token>, HttpError> {
        let kept = self
            .host
            .kept_secret(&self.name)
            .map_err(|e| HttpError::Auth(e.message.to_string()))?;
        kept.map(|text| {
            serde_json::from_str(&text).map_err(|_| {
                HttpError::Auth("the kept sign-in cannot be read; sign in again".to_string())
            })
        })
        .transpose()
    }

    fn save(&self, token: &Token) -> Result<(), HttpError> {
        let text = serde_json::to_string(token)
            .map_err(|e| HttpError::Auth(format!("the token cannot be kept: {e}")))?;
        self.host
            .keep_secret(&self.name, &text)
            .map_err(|e| HttpError::Auth(e.message.to_string()))
    }
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct Issued {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 8628 §3.5).
#[derive(Deserialize)]
struct Refusal {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// What the token endpoint said to a grant.
pub(crate) enum Granted {
    Token(Token),
    Refused { error: String, description: String },
}

/// Send a grant to the token endpoint.
pub(crate) fn grant(
    client: &Client,
    endpoints: &Endpoints,
    app: &App,
    fields: &[(&str, &str)],
    stopped: &dyn Fn() -> bool,
) -> Result<Granted, HttpError> {
    let scope = app.scopes.join(" ");
    let mut form: Vec<(&str, &str)> = vec![("client_id", app.client_id.as_str())];
    if let Some(secret) = &app.client_secret {
        form.push(("client_secret", secret));
    }
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    form.extend_from_slice(fields);
    let response = client.send(
        &Request::post(&endpoints.token)
            .header("accept", "application/json")
            .form(&form),
        stopped,
    )?;
    read_grant(response)
}

fn read_grant(response: Response) -> Result<Granted, HttpError> {
    if (200..300).contains(&response.status()) {
        let issued: Issued = response.json()?;
        return Ok(Granted::Token(Token {
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
            // A token without a lifetime is taken to last an hour, the common default.
            expires_at: now().saturating_add(issued.expires_in.unwrap_or(3_600)),
            scope: issued.scope,
        }));
    }
    match response.json::<Refusal>() {
        Ok(refusal) => Ok(Granted::Refused {
            description: refusal
                .error_description
                .map(|d| d.lines().next().unwrap_or_default().to_string())
                .unwrap_or_default(),
            error: refusal.error,
        }),
        // Not an OAuth answer (a proxy's page, a 500): say what the server answered.
        Err(_) => Err(response
            .success()
            .err()
            .unwrap_or_else(|| HttpError::Auth("the token endpoint gave no token".to_string()))),
    }
}

pub(crate) fn refused(what: &str, error: &str, description: &str) -> HttpError {
    let detail = if description.is_empty() {
        String::new()
    } else {
        format!(": {description}")
    };
    HttpError::Auth(format!("{what} was refused ({error}{detail})"))
}

/// What a person is asked to do to sign in with a device code.
#[derive(Clone, Deserialize)]
pub struct DeviceCode {
    /// What the app polls with; not shown.
    pub device_code: String,
    /// The code the person types.
    pub user_code: String,
    /// Where they type it.
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    /// A link with the code filled in, where the service gives one.
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// Seconds between two polls (RFC 8628: 5 when not given).
    #[serde(default = "five")]
    pub interval: u64,
    /// The service's own sentence for the person, where it gives one.
    #[serde(default)]
    pub message: Option<String>,
}

fn five() -> u64 {
    5
}

impl fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCode")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl DeviceCode {
    /// The sentence to show the person.
    pub fn instructions(&self) -> String {
        match &self.message {
            Some(message) if !message.is_empty() => message.clone(),
            _ => format!(
                "To sign in, open {} and enter the code {}.",
                self.verification_uri, self.user_code
            ),
        }
    }
}

/// Ask for a device code (RFC 8628 §3.1).
pub fn start_device(
    client: &Client,
    endpoints: &Endpoints,
    app: &App,
    stopped: &dyn Fn() -> bool,
) -> Result<DeviceCode, HttpError> {
    let Some(device) = &endpoints.device else {
        return Err(HttpError::Auth(
            "this service has no device sign-in; use another sign-in method".to_string(),
        ));
    };
    let scope = app.scopes.join(" ");
    let request = Request::post(device)
        .header("accept", "application/json")
        .form(&[("client_id", app.client_id.as_str()), ("scope", &scope)]);
    client.send(&request, stopped)?.success()?.json()
}

/// Poll until the person has signed in with `code` (RFC 8628 §3.4-3.5): `wait` waits each
/// interval (and may report it, or end early with [`HttpError::Cancelled`]); `slow_down`
/// adds five seconds to the interval; the code's lifetime is counted in the intervals waited.
pub fn finish_device(
    client: &Client,
    endpoints: &Endpoints,
    app: &App,
    code: &DeviceCode,
    wait: &dyn Fn(Duration) -> Result<(), HttpError>,
    stopped: &dyn Fn() -> bool,
) -> Result<Token, HttpError> {
    let mut interval = code.interval;
    let mut waited = 0u64;
    loop {
        if waited >= code.expires_in {
            return Err(expired());
        }
        wait(Duration::from_secs(interval))?;
        waited = waited.saturating_add(interval.max(1));
        let fields = [
            ("grant_type", DEVICE_GRANT),
            ("device_code", code.device_code.as_str()),
        ];
        match grant(client, endpoints, app, &fields, stopped)? {
            Granted::Token(token) => return Ok(token),
            Granted::Refused { error, .. } if error == "authorization_pending" => {}
            Granted::Refused { error, .. } if error == "slow_down" => interval += 5,
            Granted::Refused { error, .. } if error == "expired_token" => return Err(expired()),
            Granted::Refused { error, .. }
                if error == "authorization_declined" || error == "access_denied" =>
            {
                return Err(HttpError::Auth(
                    "the sign-in was declined; sign in again to connect".to_string(),
                ));
            }
            Granted::Refused { error, description } => {
                return Err(refused("the sign-in", &error, &description));
            }
        }
    }
}

fn expired() -> HttpError {
    HttpError::Auth("the code expired before the sign-in was finished; sign in again".to_string())
}

/// A token for the app itself (the client credentials grant, RFC 6749 §4.4); `extra` adds
/// what the service asks beside (Box's `box_subject_type` and `box_subject_id`).
pub fn client_credentials(
    client: &Client,
    endpoints: &Endpoints,
    app: &App,
    extra: &[(&str, &str)],
    stopped: &dyn Fn() -> bool,
) -> Result<Token, HttpError> {
    if app.client_secret.is_none() {
        return Err(HttpError::Auth(
            "the app's client secret is not set; add it to the source's secrets".to_string(),
        ));
    }
    let mut fields = vec![("grant_type", "client_credentials")];
    fields.extend_from_slice(extra);
    match grant(client, endpoints, app, &fields, stopped)? {
        Granted::Token(token) => Ok(token),
        Granted::Refused { error, description } => {
            Err(refused("the app's credentials", &error, &description))
        }
    }
}

/// A new token for `token`'s refresh token (RFC 6749 §6). The service may issue a new
/// refresh token; when it does not, the old one is kept.
pub fn refresh(
    client: &Client,
    endpoints: &Endpoints,
    app: &App,
    token: &Token,
    stopped: &dyn Fn() -> bool,
) -> Result<Token, HttpError> {
    match refresh_grant(client, endpoints, app, token, stopped)? {
        Granted::Token(renewed) => Ok(renewed),
        Granted::Refused { error, description } => Err(refresh_refused(&error, &description)),
    }
}

/// [`refresh`], the endpoint's refusal given back as it was (for [`TokenAuth`], which looks
/// in its store before it gives up on an `invalid_grant`).
fn refresh_grant(
    client: &Client,
    endpoints: &Endpoints,
    app: &App,
    token: &Token,
    stopped: &dyn Fn() -> bool,
) -> Result<Granted, HttpError> {
    let Some(refresh_token) = &token.refresh_token else {
        return Err(HttpError::Auth(CANNOT_RENEW.to_string()));
    };
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];
    Ok(match grant(client, endpoints, app, &fields, stopped)? {
        Granted::Token(mut renewed) => {
            if renewed.refresh_token.is_none() {
                renewed.refresh_token = Some(refresh_token.clone());
            }
            Granted::Token(renewed)
        }
        refused => refused,
    })
}

fn refresh_refused(error: &str, description: &str) -> HttpError {
    if error == "invalid_grant" {
        HttpError::Auth("the sign-in has expired or was revoked; sign in again".to_string())
    } else {
        refused("renewing the sign-in", error, description)
    }
}

/// How [`TokenAuth`] gets a token when it has none it can renew.
#[derive(Clone, Debug)]
pub enum Renewal {
    /// A person signed in once; only the refresh token renews it.
    SignedIn,
    /// The app asks for a token of its own whenever it needs one (with `extra` fields).
    ClientCredentials {
        /// Fields the service asks beside the grant.
        extra: Vec<(String, String)>,
    },
}

/// The [`Auth`] of a connector signed in with OAuth: a token from its store, renewed shortly
/// before it expires and when the service answers `401`, the renewed token saved back.
pub struct TokenAuth {
    client: Client,
    endpoints: Endpoints,
    app: App,
    renewal: Renewal,
    store: Arc<dyn TokenStore>,
    current: Mutex<Option<Token>>,
    clock: fn() -> u64,
}

impl TokenAuth {
    /// Tokens for `app` at `endpoints`, kept in `store`, got with `client` (one without this
    /// auth, for the token endpoint).
    pub fn new(
        client: Client,
        endpoints: Endpoints,
        app: App,
        renewal: Renewal,
        store: Arc<dyn TokenStore>,
    ) -> Self {
        Self {
            client,
            endpoints,
            app,
            renewal,
            store,
            current: Mutex::new(None),
            clock: now,
        }
    }

    /// Read the time from `clock` (Unix seconds) instead of the system's (tests).
    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }

    /// A token to use now: the one held, renewed first when it is due (or is `rejected`).
    /// Callers that find it due at once wait for one renewal.
    ///
    /// Before renewing, and when the service refuses the renewal with `invalid_grant`, the
    /// store is read again: another process sharing it (`switchboard sources login` while
    /// `switchboard serve` runs) may have signed in again or renewed, which spends the
    /// refresh token held here; the token it kept is used instead.
    fn usable(&self, rejected: Option<&str>) -> Result<Token, HttpError> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let mut just_read = false;
        if current.is_none() {
            *current = self.store.load()?;
            just_read = true;
        }
        let now = (self.clock)();
        let stale = |token: &Token| match rejected {
            // Refused: renew only if nobody renewed it since.
            Some(rejected) => bearer(token) == rejected,
            None => token.due(now),
        };
        if let Some(token) = &*current
            && !stale(token)
        {
            return Ok(token.clone());
        }
        if !just_read
            && let Some(kept) = self.store.load()?
            && Some(&kept) != current.as_ref()
        {
            *current = Some(kept);
            if let Some(kept) = current.as_ref().filter(|t| !stale(t)) {
                return Ok(kept.clone());
            }
        }
        let never = || false;
        let held = current.clone();
        let renewed = match (&held, &self.renewal) {
            (Some(token), _) if token.refresh_token.is_some() => {
                match refresh_grant(&self.client, &self.endpoints, &self.app, token, &never)? {
                    Granted::Token(renewed) => renewed,
                    Granted::Refused { error, description } => {
                        if error == "invalid_grant"
                            && let Some(kept) = self.store.load()?
                            && kept != *token
                            && !stale(&kept)
                        {
                            *current = Some(kept.clone());
                            return Ok(kept);
                        }
                        return Err(refresh_refused(&error, &description));
                    }
                }
            }
            (_, Renewal::ClientCredentials { extra }) => {
                let extra: Vec<(&str, &str)> = extra
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                client_credentials(&self.client, &self.endpoints, &self.app, &extra, &never)?
            }
            (None, Renewal::SignedIn) => {
                return Err(HttpError::Auth(
                    "not signed in; sign in to this source first".to_string(),
                ));
            }
            (Some(_), Renewal::SignedIn) => {
                return Err(HttpError::Auth(CANNOT_RENEW.to_string()));
            }
        };
        self.store.save(&renewed)?;
        *current = Some(renewed.clone());
        Ok(renewed)
    }
}

fn bearer(token: &Token) -> String {
    format!("Bearer {}", token.access_token)
}

impl Auth for TokenAuth {
    fn authorization(&self) -> Result<String, HttpError> {
        self.usable(None).map(|t| bearer(&t))
    }

    fn refresh(&self, rejected: &str) -> Result<bool, HttpError> {
        self.usable(Some(rejected)).map(|t| bearer(&t) != rejected)
    }
}
