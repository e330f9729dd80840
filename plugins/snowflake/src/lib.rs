//! `switchboard-snowflake`: Snowflake as a data source and a SQL tool, over the SQL API v2
//! and Cortex Search.
//!
//! The unified search asks a configured Cortex Search service and fetch reads the hit's row
//! by its key; the tools run read-only statements (`query`), any statement after the person
//! says yes (`execute`), and list and describe the catalog. It signs in with a programmatic
//! access token or a key-pair JWT, both from secrets the person configures, so there is no
//! interactive sign-in and nothing kept.
//!
//! This file is the glue between the [`Connector`] interface and the modules that do the
//! work: [`config`] (settings), [`ident`] (identifiers in SQL and URLs), [`auth`] and [`jwt`]
//! (the credential), [`api`] (one request and its retries), [`wire`] (Snowflake's JSON),
//! [`statements`] (running a statement: polling, partitions, cancelling), [`cells`] (typed
//! cells), [`render`] (rows as text), [`sql`] (what `query` accepts), [`search`] (search and
//! fetch) and [`tools`] (the tool table).

pub mod api;
pub mod auth;
pub mod cells;
pub mod config;
pub mod error;
pub mod ident;
pub mod jwt;
pub mod render;
pub mod search;
pub mod sql;
pub mod statements;
pub mod tools;
pub mod wire;

use serde_json::Value;
use switchboard_plugin_api::model::{Document, SearchHit, SearchRequest};
use switchboard_plugin_api::{Call, Connector, Host, Manifest, PluginError, Settings, Tools};

use crate::api::Api;
use crate::auth::{Auth, PASSPHRASE, PRIVATE_KEY, TOKEN};
use crate::config::Config;

/// The connector.
pub struct Snowflake {
    config: Config,
    api: Api,
    tools: Tools<Snowflake>,
}

impl Snowflake {
    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The REST endpoints it talks to.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The same connector trying requests again as `retry` says (tests shorten the waits).
    pub fn with_retry(mut self, retry: switchboard_plugin_http::Retry) -> Self {
        self.api = self.api.with_retry(retry);
        self
    }
}

impl Connector for Snowflake {
    fn manifest() -> Manifest {
        Manifest::new("snowflake", env!("CARGO_PKG_VERSION"))
            .description(
                "Snowflake: search a Cortex Search service, fetch rows by key, run read-only \
                 queries, and statements that change data after asking (opt-in)",
            )
            .data_source("Snowflake")
            .opt_in()
            .config_schema(Config::schema())
            .secret(TOKEN, "A Snowflake programmatic access token (auth: token)")
            .secret(
                PRIVATE_KEY,
                "The PKCS#8 PEM private key of the user's key pair (auth: key_pair)",
            )
            .secret(
                PASSPHRASE,
                "The private key's passphrase, if it is encrypted (auth: key_pair)",
            )
    }

    fn new(host: Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::from_value(config)?;
        let auth = Auth::new(host, &config);
        Ok(Self {
            api: Api::new(config.api_base(), auth),
            tools: tools::tools(),
            config,
        })
    }

    fn tools(&self) -> Option<&Tools<Self>> {
        Some(&self.tools)
    }

    fn search(&self, request: SearchRequest, call: &Call) -> Result<Vec<SearchHit>, PluginError> {
        Ok(search::search(
            &self.api,
            &self.config,
            &request.query,
            request.limit,
            call,
        )?)
    }

    fn fetch(&self, id: &str, call: &Call) -> Result<Document, PluginError> {
        Ok(search::fetch(&self.api, &self.config, id, call)?)
    }
}

switchboard_plugin_api::export_connector!(Snowflake);

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tools_tests;
