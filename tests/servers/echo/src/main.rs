//! A small stdio MCP server for switchboard's downstream-server tests (never shipped).
//!
//! Tools that echo, sleep (noticing cancellation), crash, emit progress, log, change the tool
//! list, ask for elicitation, spawn a grandchild process and write junk on stdout; a resource, a resource template,
//! a prompt and argument completion. Modes for the supervision tests:
//!
//! - `echo-server` serves MCP on stdin/stdout;
//! - `echo-server --hang` reads its input and never answers (not even `initialize`);
//! - `echo-server --exit-at-start CODE` writes a line to stderr and exits with CODE;
//! - `echo-server --idle` does nothing until killed (the grandchild of `spawn_grandchild`,
//!   which can also put it in a process group of its own and make it ignore SIGTERM, as
//!   servers' helpers that escape a process-group kill do);
//! - `echo-server --launch PROGRAM ARGS...` runs a program on its own stdio and waits (a
//!   client stand-in that a test can kill outright).
//!
//! `ECHO_SERVER_TAG` (environment) is included in `whoami`'s answer and in the resource URIs
//! (`echo-<tag>://...`), so tests can tell instances apart and run two side by side.

#![allow(deprecated)] // MCP logging is deprecated in 2026-07-28 only.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    CompletionInfo, ContentBlock, ElicitRequestParams, ElicitationAction, ElicitationSchema,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, JsonObject,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    LoggingLevel, LoggingMessageNotificationParam, PaginatedRequestParams,
    ProgressNotificationParam, Prompt, PromptArgument, PromptMessage, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate, Role, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Echo {
    extra_tools: Arc<Mutex<BTreeSet<String>>>,
}

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

fn text(result: impl Into<String>) -> CallToolResponse {
    CallToolResult::success(vec![ContentBlock::text(result.into())]).into()
}

fn tools() -> Vec<Tool> {
    let empty = || schema(json!({"type": "object"}));
    vec![
        Tool::new(
            "echo",
            "Answer with the text given",
            schema(json!({
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"]
            })),
        ),
        Tool::new(
            "sleep",
            "Sleep for ms milliseconds (progress 'sleeping' first); logs 'sleep cancelled' when cancelled",
            schema(json!({"type": "object", "properties": {"ms": {"type": "integer"}}})),
        ),
        Tool::new(
            "crash",
            "Exit the process at once with the given code",
            schema(json!({"type": "object", "properties": {"code": {"type": "integer"}}})),
        ),
        Tool::new(
            "progress",
            "Send `steps` progress notifications, then answer",
            schema(json!({"type": "object", "properties": {"steps": {"type": "integer"}}})),
        ),
        Tool::new(
            "log",
            "Send a log notification with the text",
            schema(json!({"type": "object", "properties": {"text": {"type": "string"}}})),
        ),
        Tool::new(
            "add_tool",
            "Add a tool named `name` (it echoes) and announce the change",
            schema(json!({
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"]
            })),
        ),
        Tool::new(
            "remove_tool",
            "Remove a tool added by add_tool and announce the change",
            schema(json!({
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"]
            })),
        ),
        Tool::new(
            "ask",
            "Ask the person (elicitation) and report the answer",
            schema(json!({"type": "object", "properties": {"message": {"type": "string"}}})),
        ),
        Tool::new(
            "spawn_grandchild",
            "Start an idle child process and answer its pid; `own_group` puts it in a process group of its own, `ignore_term` makes it ignore SIGTERM",
            schema(json!({"type": "object", "properties": {
                "own_group": {"type": "boolean"},
                "ignore_term": {"type": "boolean"}
            }})),
        ),
        Tool::new("whoami", "Answer this process's pid and tag", empty()),
        Tool::new(
            "junk",
            "Write a line of `bytes` x's (not JSON-RPC) on stdout, then answer",
            schema(json!({"type": "object", "properties": {"bytes": {"type": "integer"}}})),
        ),
    ]
}

impl Echo {
    fn all_tools(&self) -> Vec<Tool> {
        let mut all = tools();
        for name in self.extra_tools.lock().unwrap().iter() {
            all.push(Tool::new(
                name.clone(),
                "A tool added at run time",
                schema(json!({"type": "object"})),
            ));
        }
        all
    }

    async fn run(
        &self,
        name: &str,
        args: &JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let string = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or("");
        let number =
            |key: &str, default: u64| args.get(key).and_then(Value::as_u64).unwrap_or(default);
        match name {
            "echo" => Ok(text(string("text"))),
            "sleep" => {
                let ms = number("ms", 1000);
                if let Some(token) = ctx.meta.get_progress_token() {
                    let param = ProgressNotificationParam::new(token, 0.0).with_message("sleeping");
                    let _ = ctx.peer.notify_progress(param).await;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(ms)) => Ok(text(format!("slept {ms} ms"))),
                    () = ctx.ct.cancelled() => {
                        let param = LoggingMessageNotificationParam::new(LoggingLevel::Warning, json!("sleep cancelled"));
                        let _ = ctx.peer.notify_logging_message(param).await;
                        Err(McpError::internal_error("cancelled", None))
                    }
                }
            }
            "crash" => std::process::exit(number("code", 3) as i32),
            "progress" => {
                let steps = number("steps", 3);
                if let Some(token) = ctx.meta.get_progress_token() {
                    for step in 1..=steps {
                        let param = ProgressNotificationParam::new(token.clone(), step as f64)
                            .with_total(steps as f64)
                            .with_message(format!("step {step}"));
                        let _ = ctx.peer.notify_progress(param).await;
                    }
                }
                Ok(text(format!("{steps} steps done")))
            }
            "log" => {
                let param =
                    LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(string("text")))
                        .with_logger("echo");
                let _ = ctx.peer.notify_logging_message(param).await;
                Ok(text("logged"))
            }
            "add_tool" | "remove_tool" => {
                {
                    let mut extra = self.extra_tools.lock().unwrap();
                    if name == "add_tool" {
                        extra.insert(string("name").to_string());
                    } else {
                        extra.remove(string("name"));
                    }
                }
                let _ = ctx.peer.notify_tool_list_changed().await;
                Ok(text("changed"))
            }
            "ask" => {
                let requested_schema = ElicitationSchema::builder()
                    .required_bool("confirm")
                    .build()
                    .map_err(|e| McpError::internal_error(e.to_string(), None))?;
                let params = ElicitRequestParams::FormElicitationParams {
                    meta: None,
                    message: string("message").to_string(),
                    requested_schema,
                };
                match ctx.peer.create_elicitation(params).await {
                    Ok(answer) => Ok(text(match answer.action {
                        ElicitationAction::Accept => {
                            format!("accepted {}", answer.content.unwrap_or(Value::Null))
                        }
                        ElicitationAction::Decline => "declined".to_string(),
                        _ => "cancelled".to_string(),
                    })),
                    Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                        "elicitation failed: {e}"
                    ))])
                    .into()),
                }
            }
            "spawn_grandchild" => {
                let flag = |key: &str| args.get(key).and_then(Value::as_bool).unwrap_or(false);
                let exe = std::env::current_exe()
                    .map_err(|e| McpError::internal_error(e.to_string(), None))?;
                let mut command = if flag("ignore_term") {
                    // A SIGTERM ignored survives exec: the idle process really ignores it.
                    let mut shell = std::process::Command::new("sh");
                    shell
                        .arg("-c")
                        .arg("trap '' TERM; exec \"$0\" --idle")
                        .arg(exe);
                    shell
                } else {
                    let mut direct = std::process::Command::new(exe);
                    direct.arg("--idle");
                    direct
                };
                #[cfg(unix)]
                if flag("own_group") {
                    use std::os::unix::process::CommandExt;
                    command.process_group(0);
                }
                let child = command
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| McpError::internal_error(e.to_string(), None))?;
                Ok(text(child.id().to_string()))
            }
            "whoami" => {
                let tag = std::env::var("ECHO_SERVER_TAG").unwrap_or_default();
                Ok(text(format!("{} {tag}", std::process::id())))
            }
            "junk" => {
                // Straight to fd 1, past rmcp's transport: what a careless server's print does.
                let mut line = vec![b'x'; number("bytes", 10) as usize];
                line.push(b'\n');
                let mut out = std::io::stdout().lock();
                let written = out.write_all(&line).and_then(|()| out.flush());
                Ok(text(format!("junk written: {}", written.is_ok())))
            }
            other if self.extra_tools.lock().unwrap().contains(other) => Ok(text(other)),
            other => Err(McpError::invalid_params(
                format!("unknown tool {other}"),
                None,
            )),
        }
    }
}

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_resources()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        ServerConfig::new(capabilities).with_server_info(Implementation::new(
            "echo-server",
            env!("CARGO_PKG_VERSION"),
        ))
    }

    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.all_tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.clone().unwrap_or_default();
        self.run(&request.name, &args, ctx).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let readme = Resource::new(format!("{}://readme", scheme()), "readme");
        Ok(ListResourcesResult::with_all_items(vec![readme]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let template = ResourceTemplate::new(format!("{}://item/{{id}}", scheme()), "item");
        Ok(ListResourceTemplatesResult::with_all_items(vec![template]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let scheme = scheme();
        let body = if request.uri == format!("{scheme}://readme") {
            "the echo server's readme".to_string()
        } else if let Some(id) = request.uri.strip_prefix(&format!("{scheme}://item/")) {
            format!("item {id}")
        } else {
            return Err(McpError::resource_not_found(
                format!("no resource {}", request.uri),
                None,
            ));
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(body, request.uri.clone())]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "greet",
            Some("Greet someone"),
            Some(vec![PromptArgument::new("name").with_required(true)]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let who = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("world")
            .to_string();
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Say hello to {who}"),
        )])
        .into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let values: Vec<String> = ["alice", "albert", "bob"]
            .iter()
            .filter(|v| v.starts_with(&request.argument.value))
            .map(|v| v.to_string())
            .collect();
        let info = CompletionInfo::new(values).map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }
}

/// `echo`, or `echo-<tag>` with `ECHO_SERVER_TAG`, so two instances offer distinct resources.
fn scheme() -> String {
    match std::env::var("ECHO_SERVER_TAG") {
        Ok(tag) if !tag.is_empty() => format!("echo-{tag}"),
        _ => "echo".to_string(),
    }
}

fn idle() -> ! {
    loop {
        std::thread::park();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--idle") => idle(),
        Some("--exit-at-start") => {
            let code = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(1);
            eprintln!("echo-server: refusing to start (exit code {code})");
            std::process::exit(code);
        }
        Some("--launch") => {
            // Run a command with our stdin/stdout/stderr and wait for it: a stand-in for an
            // MCP client process that the tests can kill outright.
            let status = std::process::Command::new(&args[1])
                .args(&args[2..])
                .status();
            std::process::exit(status.ok().and_then(|s| s.code()).unwrap_or(1));
        }
        Some("--hang") => {
            // Read everything and answer nothing, until the input closes.
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut sink).await;
            return;
        }
        _ => {}
    }
    // The non-blocking pipes (as switchboard serves): a benchmark of the hop through
    // switchboard should not be measured against a server busy handing its stdio between
    // threads.
    let running = match Echo::default().serve(rmcp::transport::stdio_pipes()).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("echo-server: {e}");
            std::process::exit(2);
        }
    };
    let _ = running.waiting().await;
}
