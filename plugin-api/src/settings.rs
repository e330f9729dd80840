//! A connector's settings as one type: its section of `config.yaml` parsed into it, and the
//! JSON Schema the host validates that section with derived from it, so the documented
//! defaults and bounds are the ones the code applies.
//!
//! The type derives [`serde::Deserialize`], [`serde::Serialize`] (the schema shows each
//! default's value) and [`schemars::JsonSchema`]; doc comments on its fields become the
//! schema's descriptions. What the schema cannot say (one setting bounded by another, a
//! variable name's characters) goes in [`Settings::check`].
//!
//! ```ignore
//! #[derive(Deserialize, Serialize, JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     /// How many results a search returns at most.
//!     #[serde(default = "default_limit")]
//!     #[schemars(range(min = 1))]
//!     limit: u64,
//! }
//! impl Settings for Config {}
//!
//! // Connector::manifest: Manifest::new(..).config_schema(Config::schema())
//! // Connector::new:      let config = Config::from_value(config)?;
//! ```

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::abi::{ErrorKind, PluginError};
use crate::schema::{parse, schema_of};

/// A connector's settings type. Every field needs a serde default, so that no section at all
/// (`null`) and an empty one both mean the defaults.
pub trait Settings: DeserializeOwned + JsonSchema {
    /// Checks the schema cannot express; the message says which setting is wrong and why.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// The schema of the section, for [`crate::Manifest::config_schema`].
    fn schema() -> Value {
        schema_of::<Self>()
    }

    /// Parse the section (`null` when `config.yaml` has none), then [`Settings::check`] it.
    /// A failure is an [`ErrorKind::INVALID_INPUT`] error naming the setting, for the host to
    /// show the person editing the file.
    fn from_value(value: Value) -> Result<Self, PluginError> {
        let value = match value {
            Value::Null => Value::Object(Default::default()),
            // serde reads a struct from a list too (fields by position, the rest defaulted):
            // `[]` would silently mean every default.
            Value::Object(_) => value,
            other => {
                let found = match other {
                    Value::Array(_) => "a list",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    _ => "true or false",
                };
                return Err(PluginError::new(
                    ErrorKind::INVALID_INPUT,
                    format!("invalid configuration: expected a mapping of settings, found {found}"),
                ));
            }
        };
        let settings: Self = parse(value, "configuration")
            .map_err(|message| PluginError::new(ErrorKind::INVALID_INPUT, message))?;
        settings.check().map_err(|message| {
            PluginError::new(
                ErrorKind::INVALID_INPUT,
                format!("invalid configuration: {message}"),
            )
        })?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    use super::Settings;
    use crate::abi::ErrorKind;

    #[derive(Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Config {
        /// Folders to look in.
        #[serde(default = "folders")]
        folders: Vec<String>,
        /// Results per search at most.
        #[serde(default = "limit")]
        #[schemars(range(min = 1))]
        limit: u64,
        /// The most a search may ask for.
        #[serde(default = "most")]
        most: u64,
    }

    fn folders() -> Vec<String> {
        vec!["~".to_string()]
    }
    fn limit() -> u64 {
        10
    }
    fn most() -> u64 {
        50
    }

    impl Settings for Config {
        fn check(&self) -> Result<(), String> {
            if self.limit > self.most {
                return Err(format!(
                    "limit ({}) is above most ({})",
                    self.limit, self.most
                ));
            }
            Ok(())
        }
    }

    fn defaults() -> Config {
        Config {
            folders: folders(),
            limit: limit(),
            most: most(),
        }
    }

    #[test]
    fn no_section_and_an_empty_one_are_the_defaults_the_schema_shows() {
        assert_eq!(Config::from_value(Value::Null).unwrap(), defaults());
        assert_eq!(Config::from_value(json!({})).unwrap(), defaults());
        let schema = Config::schema();
        let shown: serde_json::Map<String, Value> = schema["properties"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["default"].clone()))
            .collect();
        assert_eq!(
            Value::Object(shown),
            serde_json::to_value(defaults()).unwrap()
        );
        assert_eq!(
            schema["properties"]["limit"]["description"],
            "Results per search at most."
        );
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn a_wrong_setting_is_named_and_checks_run_after_parsing() {
        for (value, says) in [
            (
                json!({"limit": "ten"}),
                "invalid configuration: `limit`: invalid type: string",
            ),
            (
                json!({"folders": [1]}),
                "invalid configuration: `folders[0]`: invalid type",
            ),
            (json!({"folder": ["/"]}), "unknown field `folder`"),
            (
                json!({"limit": 60}),
                "invalid configuration: limit (60) is above most (50)",
            ),
            (
                json!([]),
                "invalid configuration: expected a mapping of settings, found a list",
            ),
            (
                json!("limit: 5"),
                "expected a mapping of settings, found a string",
            ),
        ] {
            let error = Config::from_value(value.clone()).unwrap_err();
            assert_eq!(error.kind, ErrorKind::INVALID_INPUT);
            assert!(error.message.contains(says), "{value}: {}", error.message);
        }
        let wide = Config::from_value(json!({"limit": 60, "most": 100})).unwrap();
        assert_eq!(wide.limit, 60);
    }
}
