//! The probe's tools: each one exercises one thing the host must get right (structured
//! results, panics, cancellation, key-value state, secrets, configuration, progress, and a
//! catalog that changes at run time).

use std::sync::{Mutex, PoisonError};
use std::thread::sleep;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_plugin_api::model::{Content, JsonObject, ToolAnnotations, ToolDef};
use switchboard_plugin_api::{Call, ErrorKind, Host, PluginError, ToolResult};

/// The name of the secret the `keep_token` tool keeps for the probe itself.
const KEPT_TOKEN: &str = "token";

/// The secret the `secret` tool reports on.
pub const TOKEN_SECRET: &str = "PROBE_TOKEN";
/// The key-value key of the `counter` tool.
const COUNTER_KEY: &str = "counter";
/// The step of the `slow` tool.
const TICK_MS: u64 = 10;
/// The `progress` tool's step count when none is given, and the most it accepts.
const DEFAULT_STEPS: u64 = 3;
const MAX_STEPS: u64 = 1_000;
/// The longest name `add_tool` accepts (room for a host prefix within MCP's 64).
const MAX_DYNAMIC_NAME: usize = 40;

/// The state the tools share; one per plugin instance.
pub struct Tools {
    host: Host,
    greeting: String,
    /// Names added by `add_tool`, in the order they were added.
    dynamic: Mutex<Vec<String>>,
    /// Serialises the counter's read-modify-write against concurrent calls.
    counter: Mutex<()>,
}

impl Tools {
    /// The tools of a plugin configured with `greeting`.
    pub fn new(host: Host, greeting: String) -> Self {
        Self {
            host,
            greeting,
            dynamic: Mutex::new(Vec::new()),
            counter: Mutex::new(()),
        }
    }

    /// The fixed tools, then the ones `add_tool` added.
    pub fn definitions(&self) -> Vec<ToolDef> {
        let mut tools = fixed_definitions();
        // The greeting is part of greet's definition, so a test can change a tool's
        // definition by changing the configuration.
        for tool in tools.iter_mut().filter(|t| t.name == "greet") {
            tool.description =
                format!("Returns the configured greeting (now {:?}).", self.greeting);
        }
        tools.extend(self.dynamic_names().into_iter().map(|name| {
            ToolDef::new(
                name,
                "A tool added at run time by add_tool: returns its text unchanged.",
                text_schema("The text to return"),
            )
            .annotations(ToolAnnotations::read_only())
        }));
        tools
    }

    /// Run the tool `name`.
    pub fn call(
        &self,
        name: &str,
        args: &JsonObject,
        call: &Call,
    ) -> Result<ToolResult, PluginError> {
        match name {
            "echo" => Ok(echo(required_str(args, "text")?)),
            "panic" => panic!("probe panic on purpose"),
            "slow" => Ok(slow(required_u64(args, "ms")?, call)),
            "counter" => self.count(),
            "secret" => self.secret(),
            "keep_token" => self.keep_token(args),
            "greet" => Ok(ToolResult::text(self.greeting.clone())),
            "progress" => progress(optional_u64(args, "steps")?.unwrap_or(DEFAULT_STEPS), call),
            "add_tool" => self.add_tool(required_str(args, "name")?),
            _ if self.dynamic_names().iter().any(|added| added == name) => {
                Ok(ToolResult::text(required_str(args, "text")?))
            }
            _ => Err(PluginError::new(
                ErrorKind::NOT_FOUND,
                format!("the probe has no tool named {name}"),
            )),
        }
    }

    fn dynamic_names(&self) -> Vec<String> {
        self.dynamic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self) -> Result<ToolResult, PluginError> {
        let _only_one_at_a_time = self.counter.lock().unwrap_or_else(PoisonError::into_inner);
        let current = match self.host.kv_get(COUNTER_KEY)? {
            None => 0,
            Some(text) => text.parse::<u64>().map_err(|e| {
                PluginError::new(
                    ErrorKind::FAILED,
                    format!("the stored counter {text:?} is not a number: {e}"),
                )
            })?,
        };
        let next = current + 1;
        self.host.kv_set(COUNTER_KEY, &next.to_string())?;
        Ok(ToolResult::text(next.to_string()))
    }

    fn secret(&self) -> Result<ToolResult, PluginError> {
        Ok(ToolResult::text(match self.host.secret(TOKEN_SECRET)? {
            Some(value) => format!("set ({} chars)", value.chars().count()),
            None => "not set".to_owned(),
        }))
    }

    /// Keep `value` as the probe's own secret `token` (or forget it), then say what is kept:
    /// its length, never the value.
    fn keep_token(&self, args: &JsonObject) -> Result<ToolResult, PluginError> {
        if let Some(value) = args.get("value").and_then(Value::as_str) {
            self.host.keep_secret(KEPT_TOKEN, value)?;
        }
        if args.get("forget").and_then(Value::as_bool) == Some(true) {
            self.host.forget_secret(KEPT_TOKEN)?;
        }
        Ok(ToolResult::text(
            match self.host.kept_secret(KEPT_TOKEN)? {
                Some(value) => format!("kept ({} chars)", value.chars().count()),
                None => "none kept".to_owned(),
            },
        ))
    }

    fn add_tool(&self, name: &str) -> Result<ToolResult, PluginError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_DYNAMIC_NAME
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(PluginError::new(
                ErrorKind::INVALID_INPUT,
                format!(
                    "a tool name is 1 to {MAX_DYNAMIC_NAME} characters of a-z, A-Z, 0-9, _ and -; \
                     {name:?} is not"
                ),
            ));
        }
        {
            let mut dynamic = self.dynamic.lock().unwrap_or_else(PoisonError::into_inner);
            let taken = fixed_definitions().iter().any(|tool| tool.name == name)
                || dynamic.iter().any(|added| added == name);
            if taken {
                return Err(PluginError::new(
                    ErrorKind::INVALID_INPUT,
                    format!("the probe already has a tool named {name}"),
                ));
            }
            dynamic.push(name.to_owned());
        }
        // Outside the lock: the host re-reads the catalog, which takes it again.
        self.host.notify_list_changed();
        Ok(ToolResult::text("added"))
    }
}

/// The tools every probe has.
fn fixed_definitions() -> Vec<ToolDef> {
    let read_only = |tool: ToolDef| tool.annotations(ToolAnnotations::read_only());
    vec![
        read_only(
            ToolDef::new(
                "echo",
                "Returns the text it is given, as text and as structured content {\"text\": ...}.",
                text_schema("The text to echo"),
            )
            .output_schema(json!({
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"]
            })),
        ),
        read_only(ToolDef::new(
            "panic",
            "Panics inside the plugin, to test that the host survives it.",
            no_arguments(),
        )),
        read_only(ToolDef::new(
            "slow",
            "Sleeps for the given number of milliseconds in 10 ms steps, stopping early when the \
             call is cancelled.",
            json!({
                "type": "object",
                "properties": {
                    "ms": {"type": "integer", "minimum": 0, "description": "How long to sleep, in milliseconds"}
                },
                "required": ["ms"]
            }),
        )),
        ToolDef::new(
            "counter",
            "Increments a counter kept in the host's key-value store and returns its new value.",
            no_arguments(),
        ),
        read_only(ToolDef::new(
            "secret",
            "Says whether the PROBE_TOKEN secret is set, and how long it is; never its value.",
            no_arguments(),
        )),
        ToolDef::new(
            "keep_token",
            "Keeps `value` as the probe's own secret in the keyring, or forgets it; says how long \
             the kept one is, never its value.",
            json!({
                "type": "object",
                "properties": {
                    "value": {"type": "string"},
                    "forget": {"type": "boolean"}
                }
            }),
        ),
        read_only(ToolDef::new(
            "greet",
            "Returns the greeting set in the plugin's configuration (default \"hello\").",
            no_arguments(),
        )),
        read_only(ToolDef::new(
            "progress",
            "Reports progress once per step (\"step i\" of steps), then returns \"done\".",
            json!({
                "type": "object",
                "properties": {
                    "steps": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": MAX_STEPS,
                        "default": DEFAULT_STEPS,
                        "description": "How many progress notifications to send"
                    }
                }
            }),
        )),
        ToolDef::new(
            "add_tool",
            "Adds an echo-like tool with the given name to the probe's catalog and tells the host \
             the tool list changed.",
            json!({
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "pattern": "^[A-Za-z0-9_-]+$",
                        "maxLength": MAX_DYNAMIC_NAME,
                        "description": "The new tool's name"
                    }
                },
                "required": ["name"]
            }),
        ),
    ]
}

fn no_arguments() -> Value {
    json!({"type": "object", "properties": {}})
}

/// The schema of a tool taking one required string `text`.
fn text_schema(description: &str) -> Value {
    json!({
        "type": "object",
        "properties": {"text": {"type": "string", "description": description}},
        "required": ["text"]
    })
}

fn echo(text: &str) -> ToolResult {
    ToolResult {
        content: vec![Content::text(text)],
        structured_content: Some(json!({ "text": text })),
        is_error: false,
    }
}

fn slow(ms: u64, call: &Call) -> ToolResult {
    let mut slept = 0;
    while slept < ms {
        if call.is_cancelled() {
            return ToolResult::text(format!("cancelled after {slept} ms"));
        }
        let step = TICK_MS.min(ms - slept);
        sleep(Duration::from_millis(step));
        slept += step;
    }
    ToolResult::text(format!("slept {ms} ms"))
}

fn progress(steps: u64, call: &Call) -> Result<ToolResult, PluginError> {
    if steps > MAX_STEPS {
        return Err(PluginError::new(
            ErrorKind::INVALID_INPUT,
            format!("at most {MAX_STEPS} steps"),
        ));
    }
    for step in 1..=steps {
        if call.is_cancelled() {
            return Err(PluginError::new(
                ErrorKind::CANCELLED,
                format!("cancelled before step {step}"),
            ));
        }
        // Both are at most MAX_STEPS, so the conversion to f64 is exact.
        call.progress(step as f64, Some(steps as f64), &format!("step {step}"));
    }
    Ok(ToolResult::text("done"))
}

fn required_str<'a>(args: &'a JsonObject, key: &str) -> Result<&'a str, PluginError> {
    args.get(key).and_then(Value::as_str).ok_or_else(|| {
        PluginError::new(
            ErrorKind::INVALID_INPUT,
            format!("the string argument `{key}` is required"),
        )
    })
}

fn required_u64(args: &JsonObject, key: &str) -> Result<u64, PluginError> {
    optional_u64(args, key)?.ok_or_else(|| {
        PluginError::new(
            ErrorKind::INVALID_INPUT,
            format!("the integer argument `{key}` is required"),
        )
    })
}

/// A non-negative integer argument, `None` when absent or null.
fn optional_u64(args: &JsonObject, key: &str) -> Result<Option<u64>, PluginError> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_u64().map(Some).ok_or_else(|| {
            PluginError::new(
                ErrorKind::INVALID_INPUT,
                format!("`{key}` must be a non-negative integer, not {value}"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_tools_are_described_objects() {
        let tools = fixed_definitions();
        let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "echo",
                "panic",
                "slow",
                "counter",
                "secret",
                "keep_token",
                "greet",
                "progress",
                "add_tool"
            ]
        );
        for tool in &tools {
            assert!(!tool.description.is_empty(), "{}", tool.name);
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
        }
    }

    #[test]
    fn echo_is_text_and_structured() {
        let result = echo("hi");
        assert_eq!(result.content, [Content::text("hi")]);
        assert_eq!(result.structured_content, Some(json!({"text": "hi"})));
    }

    #[test]
    fn integer_arguments_are_checked() {
        let mut args = JsonObject::new();
        assert_eq!(optional_u64(&args, "ms").ok(), Some(None));
        assert!(required_u64(&args, "ms").is_err());
        args.insert("ms".into(), json!(25));
        assert_eq!(required_u64(&args, "ms").ok(), Some(25));
        args.insert("ms".into(), json!(-1));
        assert!(required_u64(&args, "ms").is_err());
    }
}
