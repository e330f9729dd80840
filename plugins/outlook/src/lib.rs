//! `switchboard-outlook`: Outlook mail through Microsoft Graph v1.0 as a data source (the
//! unified `search` and `fetch`) and as tools (search, read, folders; drafts and sending only
//! when the settings ask), signed in as a person with a device code or as an app with its
//! client secret.
//!
//! The connector is opt-in: it reads someone's mail, so it loads only when enabled.
//!
//! This file is the glue between the [`Connector`] interface and the modules that do the
//! work: [`config`] (settings, endpoints, scopes), [`auth`] (sign-in and tokens), [`api`]
//! (Graph requests, URLs, error answers), [`wire`] (Graph's JSON), [`search`], [`fetch`],
//! [`html`] (HTML bodies as text), [`compose`] (drafts and sending), [`tools`] (the tool
//! table) and [`error`].

pub mod api;
pub mod auth;
pub mod compose;
pub mod config;
pub mod error;
pub mod fetch;
pub mod html;
pub mod search;
pub mod tools;
pub mod wire;

use serde_json::Value;
use switchboard_plugin_api::model::{Document, SearchHit, SearchRequest};
use switchboard_plugin_api::{Call, Connector, Host, Manifest, PluginError, Settings, Tools};

use crate::auth::Session;
use crate::config::Config;

/// The connector.
pub struct Outlook {
    config: Config,
    session: Session,
    tools: Tools<Outlook>,
}

impl Connector for Outlook {
    fn manifest() -> Manifest {
        Manifest::new("outlook", env!("CARGO_PKG_VERSION"))
            .description(
                "Outlook mail through Microsoft Graph: search and read messages, list folders, \
                 and (when enabled) save drafts and send mail (opt-in)",
            )
            .data_source("Outlook mail")
            .config_schema(Config::schema())
            .secret(
                auth::CLIENT_SECRET,
                "The app registration's client secret, only for reading a mailbox as the app \
                 (client credentials, with mailbox set); leave unset to sign in as a person",
            )
            .opt_in()
    }

    fn new(host: Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::from_value(config)?;
        Ok(Self {
            tools: tools::tools(&config),
            session: Session::new(config.clone(), host)?,
            config,
        })
    }

    fn tools(&self) -> Option<&Tools<Self>> {
        Some(&self.tools)
    }

    fn search(&self, request: SearchRequest, call: &Call) -> Result<Vec<SearchHit>, PluginError> {
        let api = self.session.api()?;
        let found = search::messages(
            &api,
            &request.query,
            None,
            request.limit as usize,
            self.config.page_size,
            call,
        )?;
        Ok(found.iter().map(search::hit).collect())
    }

    fn fetch(&self, id: &str, call: &Call) -> Result<Document, PluginError> {
        let api = self.session.api()?;
        Ok(fetch::message(&api, id, call)?)
    }
}

switchboard_plugin_api::export_connector!(Outlook);

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;
#[cfg(test)]
mod tests_failures;
#[cfg(test)]
mod tests_tools;
