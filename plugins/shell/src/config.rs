//! The plugin's configuration: its JSON Schema (shown to the person editing `config.yaml` and
//! used by the host to validate it), its defaults, and parsing it into [`Config`].
//!
//! Schema and serde defaults sit side by side so they cannot drift apart: every default the
//! schema names is the value of the matching `default_*` function (a test checks it).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

/// The connector's settings, with every default filled in.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folders commands may run in, as written (a leading `~` means the home folder).
    #[serde(default = "default_folders")]
    pub folders: Vec<String>,
    /// The shell that runs a `command` line, as `<shell> -c <line>`.
    #[serde(default = "default_shell")]
    pub shell: String,
    /// Timeout of a run that does not ask for one, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub default_timeout_ms: u64,
    /// The longest timeout a run may ask for, in milliseconds.
    #[serde(default = "default_max_timeout_ms")]
    pub max_timeout_ms: u64,
    /// Bytes of stdout, and of stderr, kept per run.
    #[serde(default = "default_max_output_bytes")]
    pub max_output_bytes: u64,
    /// Extra environment variables for every command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The variables of switchboard's own environment a command sees; nothing else passes
    /// (switchboard's environment may hold secrets other plugins declared).
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

impl Config {
    /// Parse the plugin's configuration section. `null` (no section) means all defaults.
    pub fn from_value(value: Value) -> Result<Self, String> {
        let config: Config = if value.is_null() {
            Config::default()
        } else {
            serde_json::from_value(value).map_err(|e| e.to_string())?
        };
        if config.default_timeout_ms == 0 || config.max_timeout_ms == 0 {
            return Err("timeouts must be at least 1 ms".to_string());
        }
        if config.default_timeout_ms > config.max_timeout_ms {
            return Err(format!(
                "default_timeout_ms ({}) is above max_timeout_ms ({})",
                config.default_timeout_ms, config.max_timeout_ms
            ));
        }
        if config.max_output_bytes == 0 {
            return Err("max_output_bytes must be at least 1".to_string());
        }
        if config.shell.trim().is_empty() {
            return Err("shell must name a program".to_string());
        }
        for (name, value) in &config.env {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(format!(
                    "env: {name:?} is not a valid variable name (empty, or holds = or NUL)"
                ));
            }
            if value.contains('\0') {
                return Err(format!("env: the value of {name} holds a NUL character"));
            }
        }
        Ok(config)
    }

    /// The JSON Schema of the configuration, for the manifest.
    pub fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "folders": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": default_folders(),
                    "description": "Folders commands may start in (a leading ~ stands for the \
                        home folder); the first is the default. A run's cwd must lie under one \
                        of them once symlinks are resolved. This chooses where a command \
                        starts; it is not a sandbox."
                },
                "shell": {
                    "type": "string",
                    "minLength": 1,
                    "default": default_shell(),
                    "description": "The shell that runs a command line, as <shell> -c <line>."
                },
                "default_timeout_ms": {
                    "type": "integer",
                    "minimum": 1,
                    "default": default_timeout_ms(),
                    "description": "Timeout of a run that names none, in milliseconds. The \
                        connector's call_timeout must be longer for it to apply."
                },
                "max_timeout_ms": {
                    "type": "integer",
                    "minimum": 1,
                    "default": default_max_timeout_ms(),
                    "description": "The longest timeout a run may ask for, in milliseconds."
                },
                "max_output_bytes": {
                    "type": "integer",
                    "minimum": 1,
                    "default": default_max_output_bytes(),
                    "description": "Bytes of stdout, and of stderr, kept per run; the rest is \
                        read and dropped, with a note saying so."
                },
                "env": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "default": {},
                    "description": "Extra environment variables for every command, on top of \
                        the inherited ones."
                },
                "inherit_env": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": default_inherit_env(),
                    "description": "The variables of switchboard's own environment a command \
                        sees; no other passes, so secrets in switchboard's environment stay out of \
                        commands."
                }
            }
        })
    }
}

pub use switchboard_plugin_api::paths::{expand_home, home_dir};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_mean_defaults() {
        assert_eq!(Config::from_value(Value::Null), Ok(Config::default()));
        assert_eq!(Config::from_value(json!({})), Ok(Config::default()));
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
            Config::from_value(Value::Object(defaults)),
            Ok(Config::default())
        );
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
