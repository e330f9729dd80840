//! `switchboard-shell`: an action connector that runs commands on this machine.
//!
//! One tool, `run`: a shell line (`<shell> -c`) or an argv (no shell), started in a folder
//! under the configured `folders`, in its own process group, with stdin from the call or empty
//! (never the host's: that is the MCP connection), stdout and stderr captured up to a cap and
//! streamed as progress while it runs, and a timeout and cancellation that kill the whole
//! process group. Its annotations (not read-only, destructive, open-world) make the host ask
//! the person before each run once the approval policy is on.
//!
//! The connector is opt-in: a library that runs arbitrary commands must not start serving
//! because it was found beside the binary, so it loads only with
//! `connectors.shell.enabled: true`.
//!
//! This file is the glue between the switchboard [`Connector`] interface and the modules that
//! do the work: [`config`] (settings), [`folders`] (where a command may start), [`tool`] (the
//! `run` tool's schema, arguments and result), [`runner`] (request to run), [`process`]
//! (spawning and supervising, unix), [`group`] (process-group calls, unix), [`capture`]
//! (capped output, line splitting) and [`progress`] (throttled notifications).

pub mod capture;
pub mod config;
pub mod folders;
#[cfg(unix)]
pub mod group;
#[cfg(unix)]
pub mod process;
pub mod progress;
pub mod runner;
pub mod tool;

use std::path::{Path, PathBuf};

use serde_json::Value;
use switchboard_plugin_api::{Connector, Host, LogLevel, Manifest, PluginError, Settings, Tools};

use crate::config::Config;
use crate::folders::Folders;

/// The connector.
pub struct Shell {
    config: Config,
    tools: Tools<Shell>,
    folders: Folders,
    home: Option<PathBuf>,
}

impl Shell {
    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where commands may start.
    pub fn folders(&self) -> &Folders {
        &self.folders
    }

    /// The home folder `~` stands for.
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }
}

impl Connector for Shell {
    fn manifest() -> Manifest {
        Manifest::new("shell", env!("CARGO_PKG_VERSION"))
            .description(
                "Run commands on this machine (a shell line or an argv) in configured folders, \
                 with output streamed as progress and timeouts that kill the whole process \
                 group (opt-in)",
            )
            .config_schema(Config::schema())
            .opt_in()
    }

    fn new(host: Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::from_value(config)?;
        let home = config::home_dir();
        let (folders, warnings) = Folders::new(&config.folders, home.as_deref());
        for warning in &warnings {
            host.log(LogLevel::WARNING, warning);
        }
        if folders.paths().is_empty() {
            host.log(
                LogLevel::WARNING,
                "none of the configured folders exists; run will refuse every command",
            );
        }
        Ok(Self {
            tools: tool::tools(&config),
            config,
            folders,
            home,
        })
    }

    fn tools(&self) -> Option<&Tools<Self>> {
        Some(&self.tools)
    }
}

switchboard_plugin_api::export_connector!(Shell);

#[cfg(all(test, unix))]
mod tests;
