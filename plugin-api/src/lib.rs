//! The contract between switchboard and its plugin connectors.
//!
//! A plugin is a `cdylib` crate that depends on this crate (and on `abi_stable`, whose macros
//! the export expands to), implements [`Connector`], and calls [`export_connector!`] once.
//! switchboard loads every library in its plugins folder, checks that it was built against a
//! compatible version of this crate, and offers the plugin's tools, resources, prompts and data
//! source to its clients.
//!
//! ```ignore
//! use switchboard_plugin_api::{Call, Connector, Host, Manifest, PluginError, ToolResult};
//! use switchboard_plugin_api::model::{Catalog, JsonObject, ToolDef};
//!
//! struct Hello;
//!
//! impl Connector for Hello {
//!     fn manifest() -> Manifest {
//!         Manifest::new("hello", env!("CARGO_PKG_VERSION")).description("Says hello")
//!     }
//!     fn new(_host: Host, _config: serde_json::Value) -> Result<Self, PluginError> {
//!         Ok(Hello)
//!     }
//!     fn catalog(&self) -> Catalog {
//!         Catalog {
//!             tools: vec![ToolDef::new("greet", "Greet someone", serde_json::json!({
//!                 "type": "object", "properties": {"name": {"type": "string"}}
//!             }))],
//!             ..Catalog::default()
//!         }
//!     }
//!     fn call_tool(&self, _name: &str, args: JsonObject, _call: &Call) -> Result<ToolResult, PluginError> {
//!         let who = args.get("name").and_then(|v| v.as_str()).unwrap_or("world");
//!         Ok(ToolResult::text(format!("Hello, {who}!")))
//!     }
//! }
//!
//! switchboard_plugin_api::export_connector!(Hello);
//! ```
//!
//! # Versions
//!
//! This crate's version is the interface version. The host loads a plugin built against the
//! same major version and the same or an older minor version; a plugin built against another
//! major version, or whose types do not match, is refused with a one-line reason. `1.1` appended
//! [`abi::RawPlugin::shutdown`].
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
pub mod sdk;
#[cfg(feature = "testing")]
pub mod testing;

pub use abi::{ErrorKind, LogLevel, PluginError};
pub use model::{Manifest, ToolResult};
pub use sdk::{Call, Connector, Host, guard};

/// The interface version this copy of the crate implements.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Items the export macro expands to. Not part of the API.
#[doc(hidden)]
pub mod reexports {
    pub use abi_stable::prefix_type::PrefixTypeTrait;
    pub use abi_stable::std_types::{RResult, RStr, RString};
    pub use abi_stable::{export_root_module, sabi_extern_fn};
}
