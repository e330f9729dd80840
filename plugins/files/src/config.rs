//! The plugin's configuration: the settings type, whose JSON Schema (shown to the person
//! editing `config.yaml` and used by the host to validate it) is derived from it, with its
//! defaults and descriptions beside its fields.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_plugin_api::Settings;

/// The connector's settings, with every default filled in.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folders to share and search. A leading ~ stands for the home folder. Folders that do
    /// not exist are skipped with a warning.
    #[serde(default = "default_roots")]
    pub roots: Vec<String>,
    /// Globs (relative to the root, / as separator) a file must match to be searched or read,
    /// e.g. "**/*.md". Empty means every file.
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs (relative to the root) of files and folders that are never searched, listed or
    /// read. A folder that matches, or whose contents a pattern ending in /** matches, is
    /// skipped whole.
    #[serde(default = "default_exclude")]
    pub exclude: Vec<String>,
    /// Bytes of a file that are indexed or returned at most. Larger text files are cut there,
    /// with a note saying so.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(min = 1))]
    pub max_file_size: u64,
    /// How often, in seconds, the folders are walked again in the background to pick up
    /// changes the file watcher did not report (network file systems, the system's watch
    /// limit reached); skipped while every folder is watched. Searches never wait for it.
    #[serde(default = "default_rescan_seconds")]
    pub rescan_seconds: u64,
    /// How long a search waits for the first build of the index, in milliseconds, reporting
    /// progress, before it answers from what is indexed so far; the build goes on in the
    /// background. Keep it below search.source_timeout.
    #[serde(default = "default_index_budget_ms")]
    #[schemars(range(min = 100))]
    pub index_budget_ms: u64,
    /// Offer the write, move, delete and mkdir tools, confined by the same roots and
    /// include/exclude rules as reading. false shares the folders read-only: the write tools
    /// are not offered at all.
    #[serde(default = "default_writable")]
    pub writable: bool,
}

fn default_writable() -> bool {
    true
}

fn default_roots() -> Vec<String> {
    vec!["~".to_string()]
}

fn default_exclude() -> Vec<String> {
    [
        "**/.*",
        "**/.*/**",
        "**/node_modules/**",
        "**/target/**",
        "**/__pycache__/**",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect()
}

fn default_max_file_size() -> u64 {
    1024 * 1024
}

/// The watcher reports changes within a second; the walk is the safety net where it cannot see
/// everything (a network file system, the watch limit), and each one of a whole home folder
/// costs about half a second of CPU.
fn default_rescan_seconds() -> u64 {
    600
}

/// Below switchboard's default per-source search deadline (5 s), so a first search over a
/// large folder answers with partial results instead of timing out.
fn default_index_budget_ms() -> u64 {
    3000
}

impl Default for Config {
    fn default() -> Self {
        Self {
            roots: default_roots(),
            include: Vec::new(),
            exclude: default_exclude(),
            max_file_size: default_max_file_size(),
            rescan_seconds: default_rescan_seconds(),
            index_budget_ms: default_index_budget_ms(),
            writable: default_writable(),
        }
    }
}

impl Settings for Config {
    fn check(&self) -> Result<(), String> {
        if self.max_file_size == 0 {
            return Err("max_file_size must be at least 1 byte".to_string());
        }
        Ok(())
    }
}

pub use switchboard_plugin_api::paths::{expand_home, home_dir};

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn null_and_empty_mean_defaults() {
        assert_eq!(
            Config::from_value(Value::Null).ok(),
            Some(Config::default())
        );
        assert_eq!(Config::from_value(json!({})).ok(), Some(Config::default()));
    }

    #[test]
    fn unknown_fields_and_zero_size_are_refused() {
        assert!(Config::from_value(json!({"root": ["/"]})).is_err());
        assert!(Config::from_value(json!({"max_file_size": 0})).is_err());
    }

    #[test]
    fn schema_defaults_match_serde_defaults() {
        let schema = Config::schema();
        let defaults: serde_json::Map<String, Value> = schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v["default"].clone()))
            .collect();
        let parsed = Config::from_value(Value::Object(defaults));
        assert_eq!(parsed.ok(), Some(Config::default()));
        assert_eq!(schema["properties"]["index_budget_ms"]["minimum"], 100);
        assert!(
            schema["properties"]["exclude"]["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("Globs (relative to the root) of files"))
        );
    }
}
