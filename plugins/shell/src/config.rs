//! The plugin's configuration: the settings type, whose JSON Schema (shown to the person
//! editing `config.yaml` and used by the host to validate it) is derived from it, its
//! defaults, and the checks the schema cannot express ([`Settings::check`]).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchboard_plugin_api::Settings;

/// The connector's settings, with every default filled in.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folders commands may start in (a leading ~ stands for the home folder); the first is
    /// the default. A run's cwd must lie under one of them once symlinks are resolved. This
    /// chooses where a command starts; it is not a sandbox.
    #[serde(default = "default_folders")]
    pub folders: Vec<String>,
    /// The shell that runs a command line, as <shell> -c <line>.
    #[serde(default = "default_shell")]
    #[schemars(length(min = 1))]
    pub shell: String,
    /// Timeout of a run that names none, in milliseconds. The connector's call_timeout must
    /// be longer for it to apply.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1))]
    pub default_timeout_ms: u64,
    /// The longest timeout a run may ask for, in milliseconds.
    #[serde(default = "default_max_timeout_ms")]
    #[schemars(range(min = 1))]
    pub max_timeout_ms: u64,
    /// Bytes of stdout, and of stderr, kept per run; the rest is read and dropped, with a note
    /// saying so.
    #[serde(default = "default_max_output_bytes")]
    #[schemars(range(min = 1))]
    pub max_output_bytes: u64,
    /// Extra environment variables for every command, on top of the inherited ones.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The variables of switchboard's own environment a command sees; no other passes, so
    /// secrets in switchboard's environment stay out of commands.
    #[serde(default = "default_inherit_env")]
    pub inherit_env: Vec<String>,
}

fn default_inherit_env() -> Vec<String> {
    [
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR",
        "TZ",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect()
}

fn default_folders() -> Vec<String> {
    vec!["~".to_string()]
}

fn default_shell() -> String {
    if cfg!(windows) {
        "cmd.exe".to_string()
    } else {
        "/bin/sh".to_string()
    }
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_max_timeout_ms() -> u64 {
    600_000
}

fn default_max_output_bytes() -> u64 {
    64 * 1024
}

impl Default for Config {
    fn default() -> Self {
        Self {
            folders: default_folders(),
            shell: default_shell(),
            default_timeout_ms: default_timeout_ms(),
            max_timeout_ms: default_max_timeout_ms(),
            max_output_bytes: default_max_output_bytes(),
            env: BTreeMap::new(),
            inherit_env: default_inherit_env(),
        }
    }
}

impl Settings for Config {
    fn check(&self) -> Result<(), String> {
        if self.default_timeout_ms == 0 || self.max_timeout_ms == 0 {
            return Err("timeouts must be at least 1 ms".to_string());
        }
        if self.default_timeout_ms > self.max_timeout_ms {
            return Err(format!(
                "default_timeout_ms ({}) is above max_timeout_ms ({})",
                self.default_timeout_ms, self.max_timeout_ms
            ));
        }
        if self.max_output_bytes == 0 {
            return Err("max_output_bytes must be at least 1".to_string());
        }
        if self.shell.trim().is_empty() {
            return Err("shell must name a program".to_string());
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(format!(
                    "env: {name:?} is not a valid variable name (empty, or holds = or NUL)"
                ));
            }
            if value.contains('\0') {
                return Err(format!("env: the value of {name} holds a NUL character"));
            }
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
    fn schema_defaults_match_serde_defaults() {
        let schema = Config::schema();
        let defaults: serde_json::Map<String, Value> = schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v["default"].clone()))
            .collect();
        assert_eq!(
            Config::from_value(Value::Object(defaults)).ok(),
            Some(Config::default())
        );
        assert_eq!(
            schema["properties"]["max_timeout_ms"]["description"],
            "The longest timeout a run may ask for, in milliseconds."
        );
        assert_eq!(schema["properties"]["shell"]["minLength"], 1);
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        for bad in [
            json!({"folder": ["/"]}),
            json!({"default_timeout_ms": 0}),
            json!({"default_timeout_ms": 10, "max_timeout_ms": 5}),
            json!({"max_output_bytes": 0}),
            json!({"shell": " "}),
            json!({"env": {"A=B": "x"}}),
            json!({"env": {"A": "x\u{0}y"}}),
            json!({"env": {"A": 1}}),
        ] {
            assert!(Config::from_value(bad.clone()).is_err(), "{bad}");
        }
    }
}
