//! `switchboard approvals ...`: the person's side of the approval inbox, from any terminal.

use std::process::ExitCode;

use anyhow::{Result, bail};

use super::ApprovalsCommand;
use crate::approval::inbox;
use crate::approval::policy::{Policy, Subject};
use crate::config::Loaded;
use crate::hub::{Hub, StartOptions};
use crate::state::State;
use crate::state::approvals::Decided;

/// Run an `approvals` subcommand.
pub async fn run(loaded: Loaded, command: ApprovalsCommand) -> Result<ExitCode> {
    let state = State::open(&loaded.home.database())?;
    let keep_text = loaded.config.audit.store_arguments;
    let code = match command {
        ApprovalsCommand::List { json } => list(&state, json)?,
        ApprovalsCommand::Approve { id, remember } => {
            if let Some(scope) = &remember
                && scope != "session"
                && scope != "always"
            {
                bail!("--remember takes `session` or `always`, not {scope:?}");
            }
            decide(&state, &id, true, remember.as_deref(), keep_text)?
        }
        ApprovalsCommand::Deny { id } => decide(&state, &id, false, None, keep_text)?,
        ApprovalsCommand::Grants { json } => grants(&state, json)?,
        ApprovalsCommand::Revoke { id } => {
            if state.revoke_grant(&id)? {
                println!("revoked grant {id}");
                ExitCode::SUCCESS
            } else {
                println!("no live grant {id}; `switchboard approvals grants` lists them");
                ExitCode::FAILURE
            }
        }
        ApprovalsCommand::Explain { tool } => explain(loaded, state.clone(), &tool).await?,
        ApprovalsCommand::Ui { port, no_open } => ui(&state, port, !no_open, keep_text).await?,
    };
    state.close();
    Ok(code)
}

/// Serve the approval page until interrupted; print its address, open it when `open`.
async fn ui(state: &State, port: u16, open: bool, keep_text: bool) -> Result<ExitCode> {
    let running = crate::approval::page::start(state.clone(), port, keep_text).await?;
    let url = running.url;
    println!("{url}");
    if open && !crate::approval::page::open_browser(&url) {
        eprintln!("switchboard: could not open a browser; open the address above yourself");
    }
    eprintln!("switchboard: the approval page is at {url} (Ctrl-C to stop)");
    let _ = tokio::signal::ctrl_c().await;
    Ok(ExitCode::SUCCESS)
}

fn list(state: &State, as_json: bool) -> Result<ExitCode> {
    let pending = state.pending_approvals()?;
    if as_json {
        for row in &pending {
            println!("{}", serde_json::to_string(row)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if pending.is_empty() {
        println!("no calls are waiting for approval");
    }
    for row in &pending {
        println!(
            "{}  {} (from {}), asked {}, expires {} (local time)",
            row.id,
            crate::approval::values::escape(&row.tool, false),
            crate::approval::values::escape(&row.provider, false),
            crate::state::local_time(&row.created),
            crate::state::local_time(&row.expires)
        );
        if inbox::orphaned(row) {
            println!(
                "    (the switchboard process that asked has ended: nothing will run on a yes)"
            );
        }
        for line in row.summary.lines() {
            println!("    {line}");
        }
    }
    if !pending.is_empty() {
        println!("\napprove: switchboard approvals approve <id> [--remember session|always]");
        println!("deny:    switchboard approvals deny <id>");
    }
    Ok(ExitCode::SUCCESS)
}

fn decide(
    state: &State,
    id: &str,
    approve: bool,
    remember: Option<&str>,
    keep_text: bool,
) -> Result<ExitCode> {
    let by = format!("switchboard approvals (pid {})", std::process::id());
    let answer = Decided {
        status: if approve { "approved" } else { "denied" },
        remember,
        decided_by: &by,
        keep_text,
        card: None,
    };
    if inbox::decide(state, id, &answer)? {
        let word = if approve { "approved" } else { "denied" };
        match remember {
            Some(scope) => println!("{word} {id} (remembered for {scope})"),
            None => println!("{word} {id}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    match state.approval(id)? {
        Some(row) => println!("{id} is no longer waiting (it is {})", row.status),
        None => println!("no approval {id}; `switchboard approvals list` shows the waiting ones"),
    }
    Ok(ExitCode::FAILURE)
}

fn grants(state: &State, as_json: bool) -> Result<ExitCode> {
    let grants = state.grants()?;
    if as_json {
        for grant in &grants {
            println!("{}", serde_json::to_string(grant)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if grants.is_empty() {
        println!("no remembered approvals");
    }
    for g in &grants {
        println!(
            "{}  {:8} {} (from {}), given {} by {}",
            g.id, g.scope, g.tool, g.provider, g.created, g.created_by
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn explain(loaded: Loaded, state: State, tool: &str) -> Result<ExitCode> {
    let policy = Policy::new(&loaded.config.approvals);
    let hub = Hub::start(loaded, state, StartOptions { serving: false });
    hub.ready().await?;
    let snapshot = hub.catalog.snapshot();
    let Some(route) = snapshot.tools.get(tool) else {
        hub.shutdown().await;
        bail!("unknown tool {tool:?}; `switchboard tools` lists them");
    };
    let provider = route.provider.name();
    let verdict = policy.decide(&Subject {
        tool,
        provider,
        provider_trusted: route.provider.trusts_annotations(),
        annotations: route.tool.annotations.as_ref(),
    });
    println!("{tool} (from {provider}): {}", verdict.decision.as_str());
    println!("because {}", verdict.reason);
    if let Some(annotations) = &route.tool.annotations {
        println!("annotations: {}", serde_json::to_string(annotations)?);
    }
    let hash = crate::approval::definition::hash(&route.tool);
    let grants: Vec<_> = hub
        .state
        .grants()?
        .into_iter()
        .filter(|g| g.tool == tool)
        .collect();
    for grant in &grants {
        let applies = if grant.definition_hash == hash {
            "applies"
        } else {
            "does not apply: the tool's definition changed since"
        };
        println!("grant {} ({}) {applies}", grant.id, grant.scope);
    }
    hub.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
