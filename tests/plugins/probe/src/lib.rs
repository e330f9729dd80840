//! `probe`: a plugin that exists only for switchboard's integration tests.
//!
//! The host's tests build this cdylib, load it, and drive it through the host to check each
//! thing a plugin can ask of the host or do to it: structured results, panics, cancellation,
//! progress, the key-value store, secrets, configuration, a catalog that changes at run time,
//! resources, prompts and the unified search/fetch. It is never shipped, and opt-in so that
//! loading a plugins folder that happens to contain it changes nothing.
//!
//! [`tools`] holds the tools, [`corpus`] the data source; this file the manifest, the
//! configuration, the resource and the prompt.

mod corpus;
mod tools;

use serde_json::Value;
use switchboard_plugin_api::model::{
    Catalog, Content, Document, JsonObject, PromptArgument, PromptDef, PromptMessage, PromptResult,
    ResourceContents, ResourceDef, ResourceRead, SearchHit, SearchRequest,
};
use switchboard_plugin_api::{Call, Connector, ErrorKind, Host, Manifest, PluginError, ToolResult};

use crate::tools::{TOKEN_SECRET, Tools};

/// The greeting when the configuration sets none.
const DEFAULT_GREETING: &str = "hello";
/// The probe's one resource.
const README_URI: &str = "probe://readme";
const README_TEXT: &str = "The probe plugin exists for switchboard's integration tests. Its \
                           tools are echo, panic, slow, counter, secret, greet, progress and \
                           add_tool; it also answers search and fetch over five documents.";

/// One probe instance.
pub struct Probe {
    tools: Tools,
}

impl Connector for Probe {
    fn manifest() -> Manifest {
        Manifest::new("probe", env!("CARGO_PKG_VERSION"))
            .description("Test plugin for switchboard's integration tests; not for real use")
            .opt_in()
            .data_source("Probe")
            .secret(
                TOKEN_SECRET,
                "Any value; the probe only reports whether it is set and its length",
            )
            .config_schema(serde_json::json!({
                "type": "object",
                "properties": {
                    "greeting": {
                        "type": "string",
                        "default": DEFAULT_GREETING,
                        "description": "What the greet tool returns"
                    },
                    "start_gate": {
                        "type": "string",
                        "description": "A file path: creating the plugin waits (up to 60 s) until it exists, to test that a slow plugin never holds up the host"
                    }
                },
                "additionalProperties": false
            }))
    }

    fn new(host: Host, config: Value) -> Result<Self, PluginError> {
        if let Some(gate) = config.get("start_gate").and_then(Value::as_str) {
            wait_for_gate(std::path::Path::new(gate))?;
        }
        let greeting = match config.get("greeting") {
            None | Some(Value::Null) => DEFAULT_GREETING.to_owned(),
            Some(Value::String(greeting)) => greeting.clone(),
            Some(other) => {
                return Err(PluginError::new(
                    ErrorKind::INVALID_INPUT,
                    format!("the probe's `greeting` must be a string, not {other}"),
                ));
            }
        };
        Ok(Probe {
            tools: Tools::new(host, greeting),
        })
    }

    fn catalog(&self) -> Catalog {
        Catalog {
            tools: self.tools.definitions(),
            resources: vec![ResourceDef {
                uri: README_URI.into(),
                name: "readme".into(),
                title: Some("Probe readme".into()),
                description: Some("What the probe plugin is for".into()),
                mime_type: Some("text/plain".into()),
            }],
            resource_templates: Vec::new(),
            prompts: vec![PromptDef {
                name: "hello".into(),
                title: None,
                description: Some("Asks the model to greet someone by name".into()),
                arguments: vec![PromptArgument {
                    name: "name".into(),
                    description: Some("Who to greet".into()),
                    required: true,
                }],
            }],
        }
    }

    fn call_tool(
        &self,
        name: &str,
        args: JsonObject,
        call: &Call,
    ) -> Result<ToolResult, PluginError> {
        self.tools.call(name, &args, call)
    }

    fn read_resource(&self, uri: &str, _call: &Call) -> Result<ResourceRead, PluginError> {
        if uri != README_URI {
            return Err(PluginError::new(
                ErrorKind::NOT_FOUND,
                format!("the probe has no resource at {uri}"),
            ));
        }
        Ok(ResourceRead {
            contents: vec![ResourceContents::Text {
                uri: README_URI.into(),
                mime_type: Some("text/plain".into()),
                text: README_TEXT.into(),
            }],
        })
    }

    fn get_prompt(
        &self,
        name: &str,
        args: JsonObject,
        _call: &Call,
    ) -> Result<PromptResult, PluginError> {
        if name != "hello" {
            return Err(PluginError::new(
                ErrorKind::NOT_FOUND,
                format!("the probe has no prompt named {name}"),
            ));
        }
        let who = args.get("name").and_then(Value::as_str).ok_or_else(|| {
            PluginError::new(
                ErrorKind::INVALID_INPUT,
                "the prompt argument `name` is required",
            )
        })?;
        Ok(PromptResult {
            description: Some(format!("Greet {who}")),
            messages: vec![PromptMessage::user(Content::text(format!(
                "Say hello to {who}."
            )))],
        })
    }

    fn search(&self, request: SearchRequest, call: &Call) -> Result<Vec<SearchHit>, PluginError> {
        corpus::search(&request, call)
    }

    fn fetch(&self, id: &str, _call: &Call) -> Result<Document, PluginError> {
        corpus::fetch(id)
    }
}

switchboard_plugin_api::export_connector!(Probe);

/// Wait until `gate` exists (checking every 10 ms, for at most a minute).
fn wait_for_gate(gate: &std::path::Path) -> Result<(), PluginError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !gate.exists() {
        if std::time::Instant::now() > deadline {
            return Err(PluginError::new(
                ErrorKind::FAILED,
                format!("start gate {} never appeared", gate.display()),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(())
}
