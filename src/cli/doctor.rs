//! `switchboard doctor`: everything a person needs to see when something does not work,
//! down to one live call to each data source that offers a check.

use std::process::ExitCode;

use anyhow::Result;

use crate::config::Loaded;
use crate::hub::{Hub, StartOptions};
use crate::state::State;

/// Print the home, the configuration, the database and every plugin's status.
pub async fn run(loaded: Loaded) -> Result<ExitCode> {
    let mut healthy = true;
    println!("switchboard {}", env!("CARGO_PKG_VERSION"));
    println!("plugin api:    {}", switchboard_plugin_api::API_VERSION);
    println!("config dir:    {}", loaded.home.config_dir.display());
    println!("state dir:     {}", loaded.home.state_dir.display());
    println!("configuration: {}", loaded.source);
    println!("servers file:  {}", loaded.servers_file().display());
    let state = match State::open(&loaded.home.database()) {
        Ok(state) => state,
        Err(e) => {
            println!("state db:      FAILED: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("state db:      {}", state.path().display());
    for (key, value) in state.health()? {
        println!("  {key}: {value}");
    }
    healthy &= super::secrets_cmd::print_store_health("");
    let state_dir = loaded.home.state_dir.clone();
    let hub = Hub::start(loaded, state, StartOptions { serving: false });
    if let Err(e) = hub.ready().await {
        healthy = false;
        println!("catalog:       FAILED: {e}");
    }
    hub.digests_recorded().await;
    println!("plugins:");
    for found in hub.found() {
        let name = found
            .manifest
            .as_ref()
            .map(|m| m.name.as_str())
            .unwrap_or("?");
        let status = super::plugins::status_word(&found.status);
        if status.starts_with("refused") || status.starts_with("failed") {
            healthy = false;
        }
        println!("  {name:12} {status}  ({})", found.path.display());
        for line in crate::plugin::awaiting_restart(&state_dir, &found) {
            println!("  {:12} {line}", "");
        }
    }
    hub.servers_settled().await;
    let servers = hub.servers();
    println!("servers:");
    if let Some(error) = &servers.file().error {
        healthy = false;
        println!("  FAILED: {error}");
    }
    for status in servers.statuses() {
        if status.state.is_problem() {
            healthy = false;
        }
        println!("  {:12} {}", status.name, status.summary());
    }
    let snapshot = hub.catalog.snapshot();
    println!(
        "catalog:       {} tools, {} resources, {} templates, {} prompts",
        snapshot.tools.len(),
        snapshot.resources.len(),
        snapshot.templates.len(),
        snapshot.prompts.len()
    );
    for withheld in &snapshot.withheld {
        println!("  withheld: {withheld}");
    }
    let sources: Vec<String> = hub
        .data_sources()
        .into_iter()
        .map(|(n, l)| format!("{n} ({l})"))
        .collect();
    println!(
        "data sources:  {}",
        if sources.is_empty() {
            "none".to_string()
        } else {
            sources.join(", ")
        }
    );
    healthy &= super::sources::print_health(&hub).await;
    hub.shutdown().await;
    let path = hub.state.path().to_path_buf();
    let reopened = State::open(&path)?;
    let records = reopened.plugin_records()?;
    let drifted: Vec<_> = reopened
        .definitions()?
        .into_iter()
        .filter(|d| d.changed.is_some())
        .collect();
    if !drifted.is_empty() {
        println!(
            "tool definitions changed since first seen (remembered approvals no longer apply):"
        );
        for d in &drifted {
            println!(
                "  {} (from {}), changed {}",
                d.tool,
                d.provider,
                d.changed.as_deref().unwrap_or("?")
            );
        }
    }
    if !records.is_empty() {
        println!("plugin files on record (newest first):");
    }
    for r in records.iter().take(10) {
        println!(
            "  {} {} (api {}) sha256 {}  first {}  last {}  {}",
            r.name,
            r.version,
            r.api_version,
            &r.sha256[..12.min(r.sha256.len())],
            r.first_seen,
            r.last_loaded,
            r.file
        );
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
