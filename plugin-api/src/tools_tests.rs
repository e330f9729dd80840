//! The tool table ([`crate::tools`]): schemas from the types, dispatch, and refusals.

use std::sync::Mutex;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::abi::{ErrorKind, PluginError};
use crate::model::{JsonObject, ToolAnnotations, ToolResult};
use crate::sdk::Call;
use crate::testing::{self, FakeCall};
use crate::tools::{Tool, Tools};

/// A connector stand-in that records what its handlers were given.
#[derive(Default)]
struct Counter {
    seen: Mutex<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Add {
    /// The word to add.
    #[schemars(length(min = 1))]
    word: String,
    /// How many times.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 5))]
    times: u32,
}

fn one() -> u32 {
    1
}

#[derive(Serialize, JsonSchema)]
struct Added {
    /// How many words are held now.
    total: usize,
}

fn add(counter: &Counter, args: Add, _: &Call) -> Result<ToolResult, PluginError> {
    let mut seen = counter.seen.lock().unwrap();
    for _ in 0..args.times {
        seen.push(args.word.clone());
    }
    Ok(ToolResult::text(format!("{} words", seen.len())))
}

#[derive(Deserialize, JsonSchema)]
struct Nothing {}

fn clear(counter: &Counter, _: Nothing, _: &Call) -> Result<ToolResult, PluginError> {
    counter.seen.lock().unwrap().clear();
    Ok(ToolResult::text("cleared"))
}

fn table() -> Tools<Counter> {
    Tools::new()
        .add(
            Tool::new("add", "Add a word")
                .title("Add")
                .output::<Added>()
                .annotations(ToolAnnotations::read_only()),
            add,
        )
        .add(Tool::new("clear", "Forget every word"), clear)
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn run(
    tools: &Tools<Counter>,
    counter: &Counter,
    name: &str,
    args: Value,
) -> Result<ToolResult, PluginError> {
    let fake = FakeCall::new();
    tools.call(counter, name, object(args), &testing::call(&fake))
}

fn text(result: &ToolResult) -> String {
    serde_json::to_value(&result.content).unwrap()[0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_input_schema_is_the_argument_type_s() {
    let tools = table();
    let defs = tools.definitions();
    assert_eq!(
        defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["add", "clear"],
        "the order tools were added in"
    );
    let add = &defs[0];
    assert_eq!(add.title.as_deref(), Some("Add"));
    assert_eq!(add.description, "Add a word");
    assert_eq!(add.annotations, Some(ToolAnnotations::read_only()));
    let schema = &add.input_schema;
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], json!(["word"]));
    assert_eq!(
        schema["properties"]["word"]["description"],
        "The word to add."
    );
    assert_eq!(schema["properties"]["word"]["minLength"], 1);
    assert_eq!(schema["properties"]["times"]["default"], 1);
    assert_eq!(schema["properties"]["times"]["maximum"], 5);
    for key in ["$schema", "title", "$defs"] {
        assert!(schema.get(key).is_none(), "{key} in {schema}");
    }
    let output = add.output_schema.as_ref().expect("output schema");
    assert_eq!(output["properties"]["total"]["type"], "integer");
    assert_eq!(defs[1].input_schema["type"], "object");
    assert_eq!(
        defs[1].input_schema["properties"],
        json!({}),
        "present though empty"
    );
    assert!(defs[1].output_schema.is_none());
}

#[test]
fn a_call_reaches_its_handler_with_typed_arguments() {
    let tools = table();
    let counter = Counter::default();
    let result = run(
        &tools,
        &counter,
        "add",
        json!({"word": "garden", "times": 3}),
    )
    .unwrap();
    assert!(!result.is_error);
    assert_eq!(text(&result), "3 words");
    // The default from the argument type applies.
    run(&tools, &counter, "add", json!({"word": "river"})).unwrap();
    assert_eq!(
        *counter.seen.lock().unwrap(),
        ["garden", "garden", "garden", "river"]
    );
    run(&tools, &counter, "clear", json!({})).unwrap();
    assert!(counter.seen.lock().unwrap().is_empty());
}

#[test]
fn arguments_that_do_not_fit_are_a_tool_error_naming_the_field_and_run_nothing() {
    let tools = table();
    let counter = Counter::default();
    for (args, says) in [
        (json!({}), "missing field `word`"),
        (
            json!({"word": 7}),
            "`word`: invalid type: integer `7`, expected a string",
        ),
        (
            json!({"word": "a", "times": "two"}),
            "`times`: invalid type: string \"two\"",
        ),
        (
            json!({"word": "a", "times": -1}),
            "`times`: invalid value: integer `-1`",
        ),
        (json!({"word": "a", "extra": true}), "unknown field `extra`"),
    ] {
        let result = run(&tools, &counter, "add", args.clone()).expect("a tool result");
        assert!(result.is_error, "{args}");
        let message = text(&result);
        assert!(message.starts_with("invalid arguments: "), "{message}");
        assert!(message.contains(says), "{args}: {message}");
    }
    assert!(counter.seen.lock().unwrap().is_empty(), "no handler ran");
}

#[test]
fn a_name_not_in_the_table_is_an_error_of_the_call() {
    let tools = table();
    let error = run(&tools, &Counter::default(), "remove", json!({})).unwrap_err();
    assert_eq!(error.kind, ErrorKind::NOT_FOUND);
    assert_eq!(error.message.as_str(), "no tool named remove");
    assert!(tools.definition("remove").is_none());
    assert!(tools.definition("add").is_some());
}

#[test]
fn an_adjusted_schema_carries_what_only_the_running_plugin_knows() {
    let most = 4;
    let tools: Tools<Counter> = Tools::new().add(
        Tool::new("add", "Add a word").adjust_input(move |properties| {
            properties["times"]["maximum"] = json!(most);
        }),
        add,
    );
    let schema = &tools.definitions()[0].input_schema;
    assert_eq!(schema["properties"]["times"]["maximum"], 4);
    assert_eq!(
        schema["properties"]["times"]["minimum"], 1,
        "the rest as derived"
    );
}

#[test]
#[should_panic(expected = "the tool add is added twice")]
fn a_name_added_twice_is_refused() {
    let _ = table().add(Tool::new("add", "Again"), clear);
}

#[test]
#[should_panic(expected = "the arguments of bare are not an object")]
fn arguments_that_are_not_an_object_are_refused() {
    fn bare(_: &Counter, _: String, _: &Call) -> Result<ToolResult, PluginError> {
        Ok(ToolResult::text(""))
    }
    let _ = Tools::new().add(Tool::new("bare", "Takes a string"), bare);
}

#[test]
fn a_schema_given_as_is_is_published_unchanged_and_its_handler_gets_the_raw_arguments() {
    let fixed = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"word": {"type": "string"}},
        "properties": {"word": {"$ref": "#/$defs/word"}}
    });
    fn echo(_: &Counter, args: JsonObject, _: &Call) -> Result<ToolResult, PluginError> {
        Ok(ToolResult::text(Value::Object(args).to_string()))
    }
    let tools: Tools<Counter> =
        Tools::new().add_as_given(Tool::new("echo", "Echo"), fixed.clone(), echo);
    assert_eq!(tools.definitions()[0].input_schema, fixed);
    let result = run(&tools, &Counter::default(), "echo", json!({"word": 1})).unwrap();
    assert_eq!(
        text(&result),
        r#"{"word":1}"#,
        "not parsed, not checked here"
    );
}

/// A connector that only says where its table is: the SDK's default catalog lists the table's
/// tools and the default call_tool runs them (and refuses a name the table lacks).
struct Tabled {
    counter: Counter,
    tools: Tools<Tabled>,
}

fn add_tabled(state: &Tabled, args: Add, call: &Call) -> Result<ToolResult, PluginError> {
    add(&state.counter, args, call)
}

impl crate::sdk::Connector for Tabled {
    fn manifest() -> crate::model::Manifest {
        crate::model::Manifest::new("tabled", "0.0.0")
    }

    fn new(_host: crate::sdk::Host, _config: Value) -> Result<Self, PluginError> {
        Ok(Tabled {
            counter: Counter::default(),
            tools: Tools::new().add(Tool::new("add", "Add a word"), add_tabled),
        })
    }

    fn tools(&self) -> Option<&Tools<Self>> {
        Some(&self.tools)
    }
}

#[test]
fn a_connector_with_a_table_is_listed_and_called_through_it_by_default() {
    use crate::sdk::Connector;
    let host = testing::FakeHost::new(std::env::temp_dir());
    let plugin = Tabled::new(testing::host(&host), Value::Null).unwrap();
    let names: Vec<String> = plugin.catalog().tools.into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["add"]);
    let fake = FakeCall::new();
    let call = testing::call(&fake);
    let args: JsonObject = serde_json::from_value(json!({"word": "kiwi", "times": 2})).unwrap();
    let result = plugin.call_tool("add", args, &call).unwrap();
    assert!(!result.is_error);
    assert_eq!(*plugin.counter.seen.lock().unwrap(), ["kiwi", "kiwi"]);
    let missing = plugin
        .call_tool("subtract", JsonObject::new(), &call)
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NOT_FOUND);
}
