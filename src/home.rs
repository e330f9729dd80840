//! Where switchboard keeps its files: one home folder holding the configuration, the state
//! database, the log and the plugins folder.
//!
//! `SWITCHBOARD_HOME` puts everything under one folder (what tests and portable setups use).
//! Without it the platform's conventions apply: configuration in the config dir, state in the
//! data dir (`~/.config/switchboard` and `~/.local/share/switchboard` on Linux).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The folders and files switchboard reads and writes.
#[derive(Clone, Debug)]
pub struct Home {
    /// Holds `config.yaml` and `servers_config.json`.
    pub config_dir: PathBuf,
    /// Holds the database, the log and each plugin's data folder.
    pub state_dir: PathBuf,
    /// The default plugins folder.
    pub plugins_dir: PathBuf,
}

impl Home {
    /// Resolve the home from `SWITCHBOARD_HOME` or the platform's directories.
    pub fn discover() -> Result<Self> {
        if let Some(root) = std::env::var_os("SWITCHBOARD_HOME").filter(|v| !v.is_empty()) {
            return Ok(Self::rooted(Path::new(&root)));
        }
        let dirs = directories::ProjectDirs::from("", "", "switchboard").context(
            "cannot find a home folder for switchboard's files: set SWITCHBOARD_HOME to a folder",
        )?;
        Ok(Self {
            config_dir: dirs.config_dir().to_path_buf(),
            state_dir: dirs.data_dir().join("state"),
            plugins_dir: dirs.data_dir().join("plugins"),
        })
    }

    /// Everything under one folder: `config.yaml`, `state/`, `plugins/`.
    pub fn rooted(root: &Path) -> Self {
        Self {
            config_dir: root.to_path_buf(),
            state_dir: root.join("state"),
            plugins_dir: root.join("plugins"),
        }
    }

    /// The default configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.yaml")
    }

    /// The state database.
    pub fn database(&self) -> PathBuf {
        self.state_dir.join("switchboard.db")
    }

    /// The data folder of one plugin.
    pub fn plugin_data_dir(&self, plugin: &str) -> PathBuf {
        self.state_dir.join("plugins").join(plugin)
    }
}
