//! `call`, `tools`, `search`, `fetch`: the catalog and the pipeline from the terminal, through
//! exactly the road a client's request takes (audited the same way).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rmcp::model::{CallToolResult, JsonObject};
use serde_json::{Value, json};

use super::progress_bar::ProgressBar;
use crate::config::Loaded;
use crate::hub::{Hub, StartOptions};
use crate::pipeline::{CallError, Reply, Request};
use crate::requester::Requester;
use crate::session::SessionInfo;
use crate::state::State;

/// A hub for one command, its plugins loaded.
pub(super) async fn start(loaded: Loaded) -> Result<std::sync::Arc<Hub>> {
    let state = State::open(&loaded.home.database()).with_context(|| {
        format!(
            "opening the state database {}",
            loaded.home.database().display()
        )
    })?;
    let hub = Hub::start(loaded, state, StartOptions { serving: false });
    hub.ready().await?;
    Ok(hub)
}

/// Call `tool` with `arguments`, through the pipeline.
async fn call_tool(hub: &Hub, tool: &str, arguments: JsonObject) -> Result<CallToolResult> {
    let Some(route) = hub.catalog.snapshot().tools.get(tool).cloned() else {
        bail!("unknown tool {tool:?}; `switchboard tools` lists them");
    };
    let session = SessionInfo::new(Some(format!(
        "switchboard-cli/{}",
        env!("CARGO_PKG_VERSION")
    )));
    let bar = ProgressBar::on_stderr();
    let requester = Requester::local(session.request_id(1), session.asker(false))
        .with_fallback(hub.questions.clone())
        .with_local_report(bar.clone());
    let request = Request::tool(tool.to_string(), route, arguments, requester, session);
    let reply = hub.pipeline.call(request).await;
    bar.finish();
    match reply {
        Ok(Reply::Tool(result)) => Ok(result),
        Ok(_) => bail!("internal: {tool} answered with something other than a tool result"),
        // A refusal is the tool's answer to the person, as a client sees it.
        Err(CallError::Refused(message)) => Ok(CallToolResult::error(vec![
            rmcp::model::ContentBlock::text(message),
        ])),
        Err(e) => Err(e.into()),
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn exit_for(result: &CallToolResult) -> ExitCode {
    if result.is_error == Some(true) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `switchboard call <tool> --args JSON`
pub async fn call(loaded: Loaded, tool: &str, args: &str) -> Result<ExitCode> {
    let arguments: JsonObject = serde_json::from_str(args)
        .with_context(|| format!("--args must be a JSON object, got {args:?}"))?;
    let hub = start(loaded).await?;
    let outcome = call_tool(&hub, tool, arguments).await;
    hub.shutdown().await;
    let result = outcome?;
    print_json(&result)?;
    Ok(exit_for(&result))
}

/// `switchboard tools [--json]`
pub async fn tools(loaded: Loaded, as_json: bool) -> Result<ExitCode> {
    let hub = start(loaded).await?;
    let snapshot = hub.catalog.snapshot();
    // Read the definitions on record once this run's observations are written.
    hub.shutdown().await;
    let changed: std::collections::HashMap<String, String> = State::open(hub.state.path())?
        .definitions()?
        .into_iter()
        .filter_map(|d| d.changed.map(|when| (d.tool, when)))
        .collect();
    if as_json {
        let tools: Vec<_> = snapshot.tools.values().map(|r| &r.tool).collect();
        print_json(&tools)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = snapshot
        .tools
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:width$}  {:12}  DESCRIPTION", "TOOL", "PROVIDER");
    for (name, route) in &snapshot.tools {
        let description = route.tool.description.as_deref().unwrap_or("");
        let first_line = description.lines().next().unwrap_or("");
        let drift = changed
            .get(name)
            .map(|when| {
                format!("  [definition changed {when}; remembered approvals no longer apply]")
            })
            .unwrap_or_default();
        println!(
            "{name:width$}  {:12}  {first_line}{drift}",
            route.provider.name()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `switchboard search <query>`
pub async fn search(loaded: Loaded, query: &str, limit: Option<u32>) -> Result<ExitCode> {
    let mut arguments = json!({"query": query});
    if let Some(limit) = limit {
        arguments["limit"] = json!(limit);
    }
    run_builtin(loaded, "search", arguments).await
}

/// `switchboard fetch <id>`
pub async fn fetch(loaded: Loaded, id: &str) -> Result<ExitCode> {
    run_builtin(loaded, "fetch", json!({"id": id})).await
}

async fn run_builtin(loaded: Loaded, tool: &str, arguments: Value) -> Result<ExitCode> {
    let Value::Object(arguments) = arguments else {
        bail!("internal: arguments must be an object");
    };
    let hub = start(loaded).await?;
    let outcome = call_tool(&hub, tool, arguments).await;
    hub.shutdown().await;
    let result = outcome?;
    match &result.structured_content {
        Some(structured) => print_json(structured)?,
        None => print_json(&result)?,
    }
    Ok(exit_for(&result))
}
