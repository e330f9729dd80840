//! The JSON shapes that cross the boundary, as plain serde types.
//!
//! Each type serialises to exactly the MCP wire shape of the same name (camelCase fields,
//! `"type"`-tagged content), so the host can hand a plugin's answer to the client without
//! translating it, and a plugin author who knows MCP already knows these types.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object.
pub type JsonObject = Map<String, Value>;

/// What a plugin library is, read by the host before it creates the plugin.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The plugin's name: `[a-z0-9_-]+`, unique among loaded plugins; the default tool prefix.
    pub name: String,
    /// The plugin's own version (its crate version).
    pub version: String,
    /// One sentence for `switchboard plugins list`.
    #[serde(default)]
    pub description: String,
    /// The `switchboard-plugin-api` version the plugin was built against (the SDK fills it in).
    #[serde(default)]
    pub api_version: String,
    /// JSON Schema of the plugin's section of `config.yaml` (`plugins.<name>.config`).
    #[serde(default = "Manifest::any_object")]
    pub config_schema: Value,
    /// The secrets the plugin may ask the host for; no other name is ever resolved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretDecl>,
    /// Present when the plugin answers the unified `search` / `fetch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<DataSourceInfo>,
    /// Whether the host instantiates the plugin when the configuration does not mention it.
    #[serde(default = "default_true")]
    pub load_by_default: bool,
    /// The tool-name prefix when the configuration sets none; `None` means the plugin's name,
    /// `Some("")` means no prefix at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_prefix: Option<String>,
}

fn default_true() -> bool {
    true
}

impl Manifest {
    /// A manifest with the given name and version and every other field at its default.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            api_version: crate::API_VERSION.to_string(),
            config_schema: Self::any_object(),
            secrets: Vec::new(),
            data_source: None,
            load_by_default: true,
            default_prefix: None,
        }
    }

    fn any_object() -> Value {
        serde_json::json!({"type": "object"})
    }

    /// Set the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Set the JSON Schema of the plugin's configuration.
    pub fn config_schema(mut self, schema: Value) -> Self {
        self.config_schema = schema;
        self
    }

    /// Declare a secret the plugin may look up.
    pub fn secret(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.secrets.push(SecretDecl {
            name: name.into(),
            description: description.into(),
        });
        self
    }

    /// Declare the plugin a data source for the unified `search` / `fetch`.
    pub fn data_source(mut self, label: impl Into<String>) -> Self {
        self.data_source = Some(DataSourceInfo {
            label: label.into(),
        });
        self
    }

    /// Load only when the configuration enables the plugin explicitly.
    pub fn opt_in(mut self) -> Self {
        self.load_by_default = false;
        self
    }

    /// Use this tool-name prefix unless the configuration says otherwise (`""` for none).
    pub fn default_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.default_prefix = Some(prefix.into());
        self
    }
}

/// A secret a plugin may ask for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SecretDecl {
    /// The name the plugin asks for, e.g. `API_TOKEN`.
    pub name: String,
    /// What it is, for the person configuring it.
    #[serde(default)]
    pub description: String,
}

/// How a data source presents itself in search results.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DataSourceInfo {
    /// A human name, e.g. "Local files".
    pub label: String,
}

/// Everything a plugin offers at one moment.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    /// Tools, named without the prefix (the host adds it).
    #[serde(default)]
    pub tools: Vec<ToolDef>,
    /// Concrete resources.
    #[serde(default)]
    pub resources: Vec<ResourceDef>,
    /// Resource templates (RFC 6570 level 1 URIs such as `notes://{id}`).
    #[serde(default)]
    pub resource_templates: Vec<ResourceTemplateDef>,
    /// Prompts, named without the prefix.
    #[serde(default)]
    pub prompts: Vec<PromptDef>,
}

/// An MCP tool definition.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolDef {
    /// Name within the plugin: `[a-zA-Z0-9_-]`, short enough that prefix + `__` + name ≤ 64.
    pub name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does, for the model.
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments object.
    pub input_schema: Value,
    /// JSON Schema of `structuredContent`, when the tool returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Behaviour hints (`readOnlyHint`, `destructiveHint`, `idempotentHint`, `openWorldHint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
}

impl ToolDef {
    /// A tool taking the arguments described by `input_schema`.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
    ) -> Self {
        Self {
            name: name.into(),
            title: None,
            description: description.into(),
            input_schema,
            output_schema: None,
            annotations: None,
        }
    }

    /// Set the display title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Set the schema of the structured result.
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.output_schema = Some(schema);
        self
    }

    /// Set the behaviour hints.
    pub fn annotations(mut self, annotations: ToolAnnotations) -> Self {
        self.annotations = Some(annotations);
        self
    }
}

/// MCP tool annotations. Hints only: the host's approval policy decides what they are worth.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// Display name (older clients read it here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool does not change anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may destroy or overwrite data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Calling twice with the same arguments does nothing more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// The tool reaches outside this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

impl ToolAnnotations {
    /// Annotations of a tool that only reads local data.
    pub fn read_only() -> Self {
        Self {
            read_only_hint: Some(true),
            destructive_hint: Some(false),
            open_world_hint: Some(false),
            ..Self::default()
        }
    }
}

/// One block of content in a tool result or a prompt message.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, base64-encoded.
    Image {
        /// Base64 data.
        data: String,
        /// e.g. `image/png`.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// Audio, base64-encoded.
    Audio {
        /// Base64 data.
        data: String,
        /// e.g. `audio/wav`.
        #[serde(rename = "mimeType")]
        mime_type: String,
    },
    /// A resource embedded whole.
    Resource {
        /// Its contents.
        resource: ResourceContents,
    },
    /// A link to a resource the client may read.
    ResourceLink {
        /// Its URI.
        uri: String,
        /// Its name.
        name: String,
        /// What it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Its type.
        #[serde(rename = "mimeType", default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
    },
}

impl Content {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }
}

/// The contents of a resource, text or binary.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ResourceContents {
    /// Text contents.
    Text {
        /// The resource's URI.
        uri: String,
        /// Its type.
        #[serde(rename = "mimeType", default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// The text.
        text: String,
    },
    /// Binary contents, base64-encoded.
    Blob {
        /// The resource's URI.
        uri: String,
        /// Its type.
        #[serde(rename = "mimeType", default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        /// Base64 data.
        blob: String,
    },
}

/// What a tool call returns: MCP's `CallToolResult`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    /// What the model reads.
    pub content: Vec<Content>,
    /// Machine-readable result matching the tool's `outputSchema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_content: Option<Value>,
    /// The tool ran and failed; `content` says how. (Errors of the call itself are `Err`.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

impl ToolResult {
    /// A successful result of one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            content: vec![Content::text(text)],
            ..Self::default()
        }
    }

    /// A failed result the model should read.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            content: vec![Content::text(text)],
            structured_content: None,
            is_error: true,
        }
    }

    /// A successful result: `text` for the model to read, and `value` (of the type the tool's
    /// output schema was derived from, [`crate::Tool::output`]) as its structured content.
    /// A value that cannot be written as JSON (a map with non-text keys) is a failed result
    /// saying so.
    pub fn typed(text: impl Into<String>, value: &impl Serialize) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => Self {
                content: vec![Content::text(text)],
                structured_content: Some(value),
                is_error: false,
            },
            Err(e) => Self::error(format!(
                "the tool's answer could not be written as JSON: {e}"
            )),
        }
    }

    /// A successful structured result, with its JSON text as the readable content.
    pub fn structured(value: Value) -> Self {
        Self {
            content: vec![Content::text(value.to_string())],
            structured_content: Some(value),
            is_error: false,
        }
    }
}

/// An MCP resource definition.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDef {
    /// Its URI; unique across everything the host serves.
    pub uri: String,
    /// Its name.
    pub name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// An MCP resource template.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplateDef {
    /// RFC 6570 template, e.g. `notes://{id}`.
    pub uri_template: String,
    /// Its name.
    pub name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it yields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Type of what it yields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// What reading a resource returns: MCP's `ReadResourceResult`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ResourceRead {
    /// One or more contents (a folder may yield several).
    pub contents: Vec<ResourceContents>,
}

/// An MCP prompt definition.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PromptDef {
    /// Name within the plugin.
    pub name: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<PromptArgument>,
}

/// One argument of a prompt.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PromptArgument {
    /// Its name.
    pub name: String,
    /// What to put there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it must be given.
    #[serde(default)]
    pub required: bool,
}

/// One message of a rendered prompt.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PromptMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// Its content.
    pub content: Content,
}

impl PromptMessage {
    /// A user message.
    pub fn user(content: Content) -> Self {
        Self {
            role: "user".into(),
            content,
        }
    }
}

/// What rendering a prompt returns: MCP's `GetPromptResult`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PromptResult {
    /// What the rendered prompt is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The messages.
    pub messages: Vec<PromptMessage>,
}

/// MCP's `completion/complete` params.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CompletionRequest {
    /// What is being completed: `{"type": "ref/prompt", "name"}` or
    /// `{"type": "ref/resource", "uri"}` (names without the host's prefix).
    #[serde(rename = "ref")]
    pub reference: Value,
    /// The argument being typed: `{"name", "value"}`.
    pub argument: CompletionArgument,
    /// Values of the other arguments already given, when the client sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

/// The argument being completed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CompletionArgument {
    /// Its name.
    pub name: String,
    /// What the person typed so far.
    pub value: String,
}

/// MCP's `completion` object.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    /// At most 100 suggestions, best first.
    pub values: Vec<String>,
    /// How many exist in all, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u32>,
    /// Whether more exist than were returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
}

/// A query for the unified `search`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SearchRequest {
    /// What the person or model looks for, as typed.
    pub query: String,
    /// How many hits at most.
    pub limit: u32,
}

/// One search hit, with the source's native id (the host prefixes the source's name).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SearchHit {
    /// The native id that `fetch` accepts.
    pub id: String,
    /// A title for the hit.
    pub title: String,
    /// A link a person could open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A short excerpt around the match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
    /// Relevance, higher is better; comparable only within one source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// A fetched document.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Document {
    /// The native id it was fetched by.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its full text.
    pub text: String,
    /// A link a person could open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Anything else worth knowing (size, modified time, author...).
    #[serde(default)]
    pub metadata: JsonObject,
}

/// A question for the person: MCP's form-mode `elicitation/create` params.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ElicitRequest {
    /// The question.
    pub message: String,
    /// A flat object schema of primitive fields.
    pub requested_schema: Value,
}

/// The person's answer: MCP's `ElicitResult`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ElicitResponse {
    /// `accept`, `decline` or `cancel`.
    pub action: ElicitAction,
    /// The filled-in form, on accept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<JsonObject>,
}

/// How the person answered.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ElicitAction {
    /// They filled in the form.
    Accept,
    /// They said no.
    Decline,
    /// They dismissed the question.
    Cancel,
}
