//! `switchboard-box`: Box as a data source and a few tools.
//!
//! The unified `search` finds files (`GET /search`, offset pages up to the limit) and
//! `fetch` reads one by its id: a text file's content (downloaded from Box's download server,
//! which gets no token), any other file described. The tools: `search_files`, `read_file`,
//! `list_folder`, `upload_file` (only with `writable: true`, asked about by the host's
//! policy), and the sign-in convention's `sign_in`, `check`, `sign_out`.
//!
//! Opt-in: it loads only when `connectors.box.enabled` is true. It signs in with a developer
//! token, the app's client credentials, or a person's browser sign-in ([`auth`]); tokens a
//! sign-in gives live in the OS keyring, never in the key-value store, a file or a log line.
//!
//! Modules: [`config`] (settings), [`auth`] (the ways to sign in, the session), [`signin`]
//! (the convention's tools), [`api`] (requests, ids), [`wire`] (Box's JSON), [`error`]
//! (failures as sentences), [`search`], [`fetch`], [`upload`], [`tools`] (the tool table).

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod fetch;
pub mod search;
pub mod signin;
pub mod tools;
pub mod upload;
pub mod wire;

use std::sync::{Arc, RwLock};

use serde_json::Value;
use switchboard_plugin_api::model::{Document, SearchHit, SearchRequest};
use switchboard_plugin_api::{Call, Connector, Host, Manifest, PluginError, Settings, Tools};

use crate::api::Api;
use crate::auth::Session;
use crate::config::Config;

/// The connector.
pub struct BoxSource {
    host: Host,
    config: Config,
    tools: Tools<BoxSource>,
    /// Rebuilt after a sign-in or sign-out, so the next call uses what is kept then.
    session: RwLock<Arc<Session>>,
}

impl BoxSource {
    /// The session now.
    fn session(&self) -> Arc<Session> {
        Arc::clone(&self.session.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Build the session again from the settings, the secrets and the kept token.
    fn renew_session(&self) -> Result<(), PluginError> {
        let fresh = Arc::new(auth::session(&self.config, &self.host)?);
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// The API through `session`.
    fn api<'a>(&'a self, session: &'a Session) -> Api<'a> {
        Api {
            config: &self.config,
            session,
        }
    }
}

impl Connector for BoxSource {
    fn manifest() -> Manifest {
        Manifest::new("box", env!("CARGO_PKG_VERSION"))
            .description(
                "Box: search, read and list the files an account can see, and upload when \
                 writable; signs in in the browser, with an app's client credentials, or with \
                 a developer token (opt-in)",
            )
            .data_source("Box")
            .opt_in()
            .config_schema(Config::schema())
            .secret(
                auth::CLIENT_SECRET,
                "Your Box app's Client Secret (Developer Console → your app → Configuration), \
                 for the browser sign-in and the client credentials grant",
            )
            .secret(
                auth::DEVELOPER_TOKEN,
                "A Box developer token (Developer Console → your app → Configuration → \
                 Developer Token): lasts 60 minutes, for trying the connector",
            )
    }

    fn new(host: Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::from_value(config)?;
        let session = auth::session(&config, &host)?;
        Ok(Self {
            tools: tools::table(config.writable),
            session: RwLock::new(Arc::new(session)),
            host,
            config,
        })
    }

    fn tools(&self) -> Option<&Tools<Self>> {
        Some(&self.tools)
    }

    fn search(&self, request: SearchRequest, call: &Call) -> Result<Vec<SearchHit>, PluginError> {
        let session = self.session();
        let api = self.api(&session);
        let items = search::files(&api, &request.query, request.limit, call)?;
        Ok(items.iter().map(|item| search::hit(&api, item)).collect())
    }

    fn fetch(&self, id: &str, call: &Call) -> Result<Document, PluginError> {
        let session = self.session();
        Ok(fetch::document(&self.api(&session), id, call)?)
    }
}

switchboard_plugin_api::export_connector!(BoxSource);

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;
#[cfg(test)]
mod tests_fetch;
#[cfg(test)]
mod tests_tools;
