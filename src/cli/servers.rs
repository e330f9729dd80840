//! `switchboard servers list|import|test`: the downstream MCP servers of servers_config.json.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use super::ServersCommand;
use crate::config::{Loaded, Source};
use crate::hub::{Hub, StartOptions};
use crate::server::Servers;
use crate::server::config::{self, EntryKind};
use crate::server::status::{self, Phase, ServerStatus};
use crate::state::State;

/// Run a `servers` subcommand.
pub async fn run(loaded: Loaded, command: ServersCommand) -> Result<ExitCode> {
    match command {
        ServersCommand::List { json } => list(&loaded, json).await,
        ServersCommand::Import { file } => import(&loaded, file.as_deref()),
        ServersCommand::Test { name } => test(&loaded, &name).await,
    }
}

fn print_statuses(statuses: &[ServerStatus]) {
    let width = statuses
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    for s in statuses {
        let transport = s.transport.as_deref().unwrap_or("?");
        println!("  {:width$}  {transport:5}  {}", s.name, s.summary());
    }
}

/// Start a hub here (plugins and servers, as `serve` would, but for this command only), wait
/// until each server runs or has failed once, merge the catalog (so a clash is reported as
/// doctor and a serving switchboard report it), and stop. Returns the servers file's error,
/// if any, and every server's state.
async fn probe(loaded: &Loaded) -> Result<(Option<String>, Vec<ServerStatus>)> {
    let state = State::open(&loaded.home.database())?;
    let hub = Hub::start(loaded.clone(), state, StartOptions { serving: false });
    if let Err(e) = hub.ready().await {
        // Plugins that collide are doctor's to show; the servers are still reported.
        tracing::error!("{e}");
    }
    hub.servers_settled().await;
    let servers = hub.servers();
    let (error, statuses) = (servers.file().error.clone(), servers.statuses());
    hub.shutdown().await;
    Ok((error, statuses))
}

async fn list(loaded: &Loaded, as_json: bool) -> Result<ExitCode> {
    let path = loaded.servers_file();
    let live = status::live_reports(&loaded.home.state_dir, &path);
    if as_json {
        let report = if live.is_empty() {
            let (error, statuses) = probe(loaded).await?;
            json!({"file": path, "error": error, "probed": true, "servers": statuses})
        } else {
            json!({"file": path, "probed": false, "processes": live})
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("servers file: {}", path.display());
    if !live.is_empty() {
        for report in &live {
            println!(
                "\nas switchboard pid {} (serving since {}) sees them:",
                report.pid, report.since
            );
            print_statuses(&report.servers);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (error, statuses) = probe(loaded).await?;
    if let Some(error) = &error {
        println!("FAILED: {error}");
        return Ok(ExitCode::FAILURE);
    }
    if statuses.is_empty() {
        println!("\nno servers configured; `switchboard servers import` copies Claude Desktop's");
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nno switchboard is serving; started each server to check it:");
    print_statuses(&statuses);
    let healthy = !statuses.iter().any(|s| s.state.is_problem());
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn test(loaded: &Loaded, name: &str) -> Result<ExitCode> {
    let path = loaded.servers_file();
    let file = config::load(&path);
    if let Some(error) = &file.error {
        bail!("{error}");
    }
    let Some(entry) = file.entries.iter().find(|e| e.name == name) else {
        let names: Vec<&str> = file.entries.iter().map(|e| e.name.as_str()).collect();
        bail!(
            "no server {name:?} in {}; configured: {}",
            path.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let spec = match &entry.kind {
        EntryKind::Invalid(message) => bail!("{message}"),
        EntryKind::Enabled(spec) | EntryKind::Disabled(spec) => spec.clone(),
    };
    println!("starting {name} ({})...", spec.transport.kind());
    let servers = Servers::single(&path, spec);
    servers.start();
    servers.wait_settled(None).await;
    let server = &servers.servers()[0];
    let status = server.status();
    let offer = server.current_offer();
    servers.shutdown().await;
    if status.state != Phase::Running {
        println!("{name}: {}", status.summary());
        return Ok(ExitCode::FAILURE);
    }
    println!("{name}: {}", status.summary());
    let prefix = &server.spec().prefix;
    println!("\ntools ({}):", offer.tools.len());
    for tool in &offer.tools {
        let exposed = crate::catalog::naming::exposed(prefix, &tool.name);
        let description = tool.description.as_deref().unwrap_or("");
        println!(
            "  {exposed}  {}",
            description.lines().next().unwrap_or_default()
        );
    }
    if !offer.resources.is_empty() || !offer.resource_templates.is_empty() {
        println!(
            "resources: {}, templates: {}",
            offer.resources.len(),
            offer.resource_templates.len()
        );
    }
    if !offer.prompts.is_empty() {
        println!("prompts: {}", offer.prompts.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// Where Claude Desktop keeps its configuration on this platform.
fn claude_desktop_config() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| {
        dirs.config_dir()
            .join("Claude")
            .join("claude_desktop_config.json")
    })
}

/// Whether an entry launches switchboard itself (importing it would start a loop).
fn is_switchboard(entry: &Value) -> bool {
    entry
        .get("command")
        .and_then(Value::as_str)
        .and_then(|c| Path::new(c).file_stem().and_then(|s| s.to_str()))
        .is_some_and(|stem| stem == "switchboard")
}

/// A prefix made from a server name that is not usable as one.
fn prefix_for(name: &str) -> String {
    let mut prefix: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if prefix.is_empty() {
        prefix.push_str("server");
    }
    prefix
}

fn import(loaded: &Loaded, file: Option<&Path>) -> Result<ExitCode> {
    let source = match file {
        Some(file) => file.to_path_buf(),
        None => claude_desktop_config().context(
            "cannot find Claude Desktop's configuration folder; give the file: switchboard servers import FILE",
        )?,
    };
    let text = std::fs::read_to_string(&source)
        .with_context(|| format!("cannot read {}", source.display()))?;
    let client: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", source.display()))?;
    // Claude Desktop and Cursor say "mcpServers", VS Code's mcp.json says "servers".
    let Some((key, found)) = ["mcpServers", "servers"]
        .iter()
        .find_map(|key| Some((*key, client.get(*key).and_then(Value::as_object)?)))
    else {
        bail!(
            "{} has no \"mcpServers\" (or \"servers\") object: nothing to import",
            source.display()
        );
    };

    let target = loaded.servers_file();
    let mut document: Value = match std::fs::read_to_string(&target) {
        Ok(text) if !text.trim().is_empty() => serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not valid JSON; fix it before importing into it",
                target.display()
            )
        })?,
        Ok(_) => json!({}),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", target.display())),
    };
    let Some(top) = document.as_object_mut() else {
        bail!("{} must hold a JSON object", target.display());
    };
    let servers = top
        .entry("mcpServers")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(servers) = servers.as_object_mut() else {
        bail!("{}: mcpServers must be an object", target.display());
    };

    let mut imported = Vec::new();
    let mut notes = Vec::new();
    for (name, entry) in found {
        if is_switchboard(entry) {
            notes.push(format!("{name}: launches switchboard itself; not imported"));
            continue;
        }
        let mut entry = entry.clone();
        if !crate::catalog::naming::is_valid_prefix(name)
            && let Some(object) = entry.as_object_mut()
            && !object.contains_key("prefix")
        {
            let prefix = prefix_for(name);
            notes.push(format!(
                "{name}: its tools are named {prefix}__<tool> (\"prefix\" added)"
            ));
            object.insert("prefix".into(), Value::String(prefix));
        }
        match servers.get(name) {
            Some(existing) if existing == &entry => {
                notes.push(format!("{name}: already in {}", target.display()));
                continue;
            }
            Some(_) => {
                notes.push(format!(
                    "{name}: {} already has a different entry of this name; left as it is",
                    target.display()
                ));
                continue;
            }
            None => {}
        }
        let check = json!({"mcpServers": {name.clone(): entry.clone()}});
        if let Ok(entries) = config::parse(&check.to_string(), &target)
            && let Some(EntryKind::Invalid(message)) = entries.first().map(|e| &e.kind)
        {
            notes.push(format!(
                "{name}: imported, but switchboard cannot start it as it is: {message}"
            ));
        }
        servers.insert(name.clone(), entry);
        imported.push(name.clone());
    }

    if !imported.is_empty() {
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        let text = serde_json::to_string_pretty(&document)? + "\n";
        let temporary = target.with_extension("json.tmp");
        std::fs::write(&temporary, text)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &target)
            .with_context(|| format!("cannot replace {}", target.display()))?;
    }

    println!("read {}", source.display());
    if imported.is_empty() {
        println!("no new servers to import into {}", target.display());
    } else {
        println!(
            "imported into {}: {}",
            target.display(),
            imported.join(", ")
        );
    }
    for note in &notes {
        println!("  {note}");
    }
    println!(
        "\nNow make the client launch switchboard instead: in {}, replace the imported entries\n\
         under \"{key}\" with this one, and restart the client:\n",
        source.display()
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&client_entry(loaded, key))?
    );
    Ok(ExitCode::SUCCESS)
}

/// The client's entry (under `key`) that launches this switchboard with this home and
/// configuration.
fn client_entry(loaded: &Loaded, key: &str) -> Value {
    let command = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "switchboard".into());
    let mut args = Vec::new();
    if let Source::File(file) = &loaded.source
        && file != &loaded.home.config_file()
    {
        args.push("--config".to_string());
        args.push(file.display().to_string());
    }
    args.push("serve".to_string());
    let mut entry = json!({"command": command, "args": args});
    if let Some(home) = std::env::var_os("SWITCHBOARD_HOME").filter(|v| !v.is_empty()) {
        entry["env"] = json!({"SWITCHBOARD_HOME": home.to_string_lossy()});
    }
    json!({ key: {"switchboard": entry} })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_for_unusable_names() {
        assert_eq!(prefix_for("my server"), "my_server");
        assert_eq!(prefix_for("web.search"), "web_search");
        assert_eq!(prefix_for(""), "server");
        assert!(crate::catalog::naming::is_valid_prefix(&prefix_for(
            &"x".repeat(80)
        )));
    }

    #[test]
    fn finds_entries_that_launch_switchboard() {
        assert!(is_switchboard(
            &json!({"command": "/opt/sb/switchboard", "args": ["serve"]})
        ));
        assert!(!is_switchboard(&json!({"command": "npx"})));
    }
}
