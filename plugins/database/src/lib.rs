//! `switchboard-database`: a database's tables as typed tools, nine per table (`create`,
//! `read`, `update`, `delete`, `list` and their bulk forms), for SQLite and PostgreSQL.
//!
//! The catalog each database reports ([`catalog`]) is the only source of names in SQL and of
//! the tools' schemas; a database implements [`backend::Backend`]. Being built: opt-in, so
//! it loads only when configured.

pub mod backend;
pub mod catalog;
pub mod config;

use serde_json::Value;
use switchboard_plugin_api::{Connector, Host, Manifest, PluginError};

/// The connector.
pub struct Database {}

impl Connector for Database {
    fn manifest() -> Manifest {
        Manifest::new("database", env!("CARGO_PKG_VERSION"))
            .description("Databases as tools: typed CRUD tools per table (SQLite, PostgreSQL)")
            .default_prefix("")
            .opt_in()
    }

    fn new(_host: Host, _config: Value) -> Result<Self, PluginError> {
        Ok(Self {})
    }
}

switchboard_plugin_api::export_connector!(Database);
