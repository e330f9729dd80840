//! Rust types as JSON: the JSON Schema derived from a type, in the form tools and settings
//! publish it, and parsing JSON into that type with an error that names the field.
//!
//! Shared by [`crate::tools`] (tool arguments and results) and [`crate::settings`] (a
//! connector's configuration).

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The JSON Schema of `T` as input (what deserializing accepts): JSON Schema 2020-12 (MCP's
/// default dialect), every subschema inline (some clients do not follow `$ref`), no `$schema`
/// key, and no top-level `title` (the Rust type's name means nothing to a model or to a person
/// editing a file).
pub fn schema_of<T: JsonSchema>() -> Value {
    generate::<T>(SchemaSettings::draft2020_12().for_deserialize())
}

/// The JSON Schema of `T` as output (what serializing produces: an `Option` field that is
/// always written is required), in the same form as [`schema_of`].
pub fn output_schema_of<T: JsonSchema>() -> Value {
    generate::<T>(SchemaSettings::draft2020_12().for_serialize())
}

fn generate<T: JsonSchema>(settings: SchemaSettings) -> Value {
    let generator = settings
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("title");
    }
    schema
}

/// Parse `value` into `T`, or say which field did not fit and why: `invalid {what}: `limit`:
/// invalid type: string "ten", expected u64`.
pub fn parse<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            format!("invalid {what}: {inner}")
        } else {
            format!("invalid {what}: `{path}`: {inner}")
        }
    })
}
