//! The contract between switchboard and its plugin connectors.
//!
//! A plugin is a `cdylib` crate that depends on this crate (and on `abi_stable`, whose macros
//! the export expands to), implements [`Connector`], and calls [`export_connector!`] once.
//! switchboard loads every library in its plugins folder, checks that it was built against a
//! compatible version of this crate, and offers the plugin's tools, resources, prompts and data
//! source to its clients.
//!
//! ```ignore
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use switchboard_plugin_api::{Call, Connector, Host, Manifest, PluginError, Tool, ToolResult, Tools};
//!
//! struct Hello {
//!     tools: Tools<Hello>,
//! }
//!
//! /// The arguments of `greet`: the tool's input schema is derived from this type.
//! #[derive(Deserialize, JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! struct Greet {
//!     /// Who to greet.
//!     name: String,
//! }
//!
//! fn greet(_: &Hello, args: Greet, _: &Call) -> Result<ToolResult, PluginError> {
//!     Ok(ToolResult::text(format!("Hello, {}!", args.name)))
//! }
//!
//! impl Connector for Hello {
//!     fn manifest() -> Manifest {
//!         Manifest::new("hello", env!("CARGO_PKG_VERSION")).description("Says hello")
//!     }
//!     fn new(_host: Host, _config: serde_json::Value) -> Result<Self, PluginError> {
//!         let tools = Tools::new().add(Tool::new("greet", "Greet someone"), greet);
//!         Ok(Hello { tools })
//!     }
//!     // The catalog lists these tools and calls are routed to them.
//!     fn tools(&self) -> Option<&Tools<Self>> {
//!         Some(&self.tools)
//!     }
//! }
//!
//! switchboard_plugin_api::export_connector!(Hello);
//! ```
//!
//! A connector's settings work the same way: a type implementing [`Settings`] gives the
//! manifest's `config_schema` and parses its section of `config.yaml` ([`settings`]).
//!
//! # Versions
//!
//! This crate's version is the interface version. The host loads a plugin built against the
//! same major version and the same or an older minor version; a plugin built against another
//! major version, or whose types do not match, is refused with a one-line reason. `1.1` appended
//! [`abi::RawPlugin::shutdown`]; `1.2` appended the secrets a plugin keeps for itself
//! ([`Host::keep_secret`], [`Host::kept_secret`], [`Host::forget_secret`]). The tool table ([`tools`]) and settings ([`settings`]) are the
//! SDK's side only: nothing about them crosses the ABI, so they need no new version.
//!
//! # Threads and panics
//!
//! The host calls a plugin on threads it keeps for that plugin, several calls at once, each
//! with a timeout. A plugin that does async I/O owns its runtime. A panic in connector code
//! becomes an error result for that call; the plugin and the host keep running. A plugin
//! cannot be unloaded once loaded.

pub mod abi;
pub mod model;
pub mod paths;
pub mod schema;
pub mod sdk;
pub mod settings;
pub mod source;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tools;
// Beside the module, not under it: the host's compatibility tests copy `src/` flat.
#[cfg(test)]
mod tools_tests;

pub use abi::{ErrorKind, LogLevel, PluginError};
pub use model::{Manifest, ToolResult};
pub use sdk::{Call, Connector, Host, guard};
pub use settings::Settings;
pub use tools::{Tool, Tools};

/// The interface version this copy of the crate implements.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Items the export macro expands to. Not part of the API.
#[doc(hidden)]
pub mod reexports {
    pub use abi_stable::prefix_type::PrefixTypeTrait;
    pub use abi_stable::std_types::{RResult, RStr, RString};
    pub use abi_stable::{export_root_module, sabi_extern_fn};
}
