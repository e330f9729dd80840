//! A connector's tools as one table: each tool's definition beside its handler, the input
//! schema derived from the type the handler takes, so what `tools/list` shows and what a call
//! accepts come from the same place and cannot drift.
//!
//! A handler takes its arguments already parsed into a type that derives
//! [`serde::Deserialize`] and [`schemars::JsonSchema`]; doc comments on its fields become the
//! schema's descriptions, `#[serde(default)]` its defaults, `#[serde(deny_unknown_fields)]` its
//! `additionalProperties: false`, and `#[schemars(range(min = 1))]`, `#[schemars(length(min =
//! 1))]` its bounds. The host validates a call against that schema before the plugin sees it;
//! the table parses it again into the type, and a call that does not fit (an older host, a
//! bound the schema could not say) gets a tool error naming the field, which the model can
//! correct. A name not in the table is an error of the call itself, as the host expects.
//!
//! ```ignore
//! #[derive(Deserialize, JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! struct Greet {
//!     /// Who to greet.
//!     name: String,
//! }
//!
//! fn greet(_: &Hello, args: Greet, _: &Call) -> Result<ToolResult, PluginError> {
//!     Ok(ToolResult::text(format!("Hello, {}!", args.name)))
//! }
//!
//! let tools = Tools::new().add(Tool::new("greet", "Greet someone"), greet);
//! // Connector::catalog: tools.definitions(); Connector::call_tool: tools.call(self, name, args, call)
//! ```

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::abi::{ErrorKind, PluginError};
use crate::model::{JsonObject, ToolAnnotations, ToolDef, ToolResult};
use crate::schema::{output_schema_of, parse, schema_of};
use crate::sdk::Call;

/// What a tool says about itself, all but its input schema (which comes from the argument
/// type its handler takes, see [`Tools::add`]).
pub struct Tool {
    name: String,
    title: Option<String>,
    description: String,
    output_schema: Option<Value>,
    annotations: Option<ToolAnnotations>,
    adjust: Option<Adjust>,
}

/// A change to a derived input schema's `properties` ([`Tool::adjust_input`]).
type Adjust = Box<dyn FnOnce(&mut JsonObject)>;

impl Tool {
    /// A tool named `name` (`[a-zA-Z0-9_-]`, unique in its plugin) that does `description`.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            title: None,
            description: description.into(),
            output_schema: None,
            annotations: None,
            adjust: None,
        }
    }

    /// Set the display title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Declare the shape of the structured result, derived from `O` as it serializes.
    pub fn output<O: JsonSchema>(mut self) -> Self {
        self.output_schema = Some(output_schema_of::<O>());
        self
    }

    /// Set the behaviour hints.
    pub fn annotations(mut self, annotations: ToolAnnotations) -> Self {
        self.annotations = Some(annotations);
        self
    }

    /// Change the derived input schema's `properties` with what only the running plugin
    /// knows, such as a bound or a default from its configuration. The arguments are still
    /// parsed into the handler's type; a bound set here is checked by the host's validation,
    /// so the handler must not rely on it alone.
    pub fn adjust_input(mut self, adjust: impl FnOnce(&mut JsonObject) + 'static) -> Self {
        self.adjust = Some(Box::new(adjust));
        self
    }

    fn definition(self, mut input_schema: Value) -> ToolDef {
        if let (Some(adjust), Some(properties)) = (
            self.adjust,
            input_schema
                .get_mut("properties")
                .and_then(Value::as_object_mut),
        ) {
            adjust(properties);
        }
        ToolDef {
            name: self.name,
            title: self.title,
            description: self.description,
            input_schema,
            output_schema: self.output_schema,
            annotations: self.annotations,
        }
    }
}

type Handler<S> =
    Box<dyn Fn(&S, JsonObject, &Call) -> Result<ToolResult, PluginError> + Send + Sync>;

/// One tool: its definition and its handler.
struct Route<S> {
    definition: ToolDef,
    run: Handler<S>,
}

/// The tools a connector of type `S` offers, in the order they were added (which is the order
/// `tools/list` shows them in).
pub struct Tools<S> {
    routes: Vec<Route<S>>,
}

impl<S> Default for Tools<S> {
    fn default() -> Self {
        Self { routes: Vec::new() }
    }
}

impl<S: 'static> Tools<S> {
    /// No tools yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `tool`, run by `run` with its arguments parsed into `A`; the tool's input schema is
    /// `A`'s. Panics when a tool of that name was already added (a programming error, found
    /// by the first test that builds the table).
    pub fn add<A, F>(self, tool: Tool, run: F) -> Self
    where
        A: DeserializeOwned + JsonSchema,
        F: Fn(&S, A, &Call) -> Result<ToolResult, PluginError> + Send + Sync + 'static,
    {
        let mut schema = schema_of::<A>();
        let object = schema
            .as_object_mut()
            .filter(|o| o.get("type").and_then(Value::as_str) == Some("object"));
        let Some(object) = object else {
            panic!(
                "the arguments of {} are not an object (a struct) as MCP requires",
                tool.name
            );
        };
        // A struct with no fields derives no `properties`; some clients expect the key.
        object
            .entry("properties")
            .or_insert_with(|| Value::Object(JsonObject::new()));
        self.push(
            tool.definition(schema),
            Box::new(
                move |state, args, call| match parse::<A>(Value::Object(args), "arguments") {
                    Ok(args) => run(state, args, call),
                    Err(message) => Ok(ToolResult::error(message)),
                },
            ),
        )
    }

    /// Add `tool` with an input schema fixed outside the plugin (a conformance suite's, one
    /// copied from another server's tool), published exactly as given; `run` takes the
    /// arguments as they came. Prefer [`Tools::add`]: here nothing ties the schema to what
    /// `run` reads.
    pub fn add_as_given<F>(self, tool: Tool, input_schema: Value, run: F) -> Self
    where
        F: Fn(&S, JsonObject, &Call) -> Result<ToolResult, PluginError> + Send + Sync + 'static,
    {
        self.push(tool.definition(input_schema), Box::new(run))
    }

    /// Add a route; a name taken already is a programming error.
    fn push(mut self, definition: ToolDef, run: Handler<S>) -> Self {
        assert!(
            self.route(&definition.name).is_none(),
            "the tool {} is added twice",
            definition.name
        );
        self.routes.push(Route { definition, run });
        self
    }

    /// The definitions, for [`crate::Connector::catalog`].
    pub fn definitions(&self) -> Vec<ToolDef> {
        self.routes.iter().map(|r| r.definition.clone()).collect()
    }

    /// The definition of the tool `name`, if it is in the table.
    pub fn definition(&self, name: &str) -> Option<&ToolDef> {
        self.route(name).map(|r| &r.definition)
    }

    /// Run the tool `name` on `state`, for [`crate::Connector::call_tool`]. A name not in the
    /// table is a [`ErrorKind::NOT_FOUND`] error.
    pub fn call(
        &self,
        state: &S,
        name: &str,
        args: JsonObject,
        call: &Call,
    ) -> Result<ToolResult, PluginError> {
        match self.route(name) {
            Some(route) => (route.run)(state, args, call),
            None => Err(PluginError::new(
                ErrorKind::NOT_FOUND,
                format!("no tool named {name}"),
            )),
        }
    }

    fn route(&self, name: &str) -> Option<&Route<S>> {
        self.routes.iter().find(|r| r.definition.name == name)
    }
}
