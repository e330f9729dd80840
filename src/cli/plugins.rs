//! `switchboard plugins list|check`: which libraries were found and what became of each.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use super::PluginsCommand;
use crate::config::Loaded;
use crate::plugin::{self, Found, Status, library};

/// Run a `plugins` subcommand.
pub async fn run(loaded: Loaded, command: PluginsCommand) -> Result<ExitCode> {
    match command {
        PluginsCommand::List { json } => list(loaded, json).await,
        PluginsCommand::Check { file } => Ok(check(&file)),
    }
}

/// One word for a status.
pub fn status_word(status: &Status) -> String {
    match status {
        Status::Loaded => "loaded".into(),
        Status::Disabled => "disabled".into(),
        Status::Shadowed(by) => format!("shadowed by {}", by.display()),
        Status::Refused(why) => format!("refused: {why}"),
        Status::Failed(why) => format!("failed: {why}"),
    }
}

/// The plugins as a hub would load them now.
pub async fn found(loaded: Loaded) -> Result<Vec<Found>> {
    let state = crate::state::State::open(&loaded.home.database())?;
    let hub =
        crate::hub::Hub::start(loaded, state, crate::hub::StartOptions { watch: false }).await?;
    let found = hub.found();
    hub.shutdown().await;
    Ok(found)
}

async fn list(loaded: Loaded, as_json: bool) -> Result<ExitCode> {
    let folders = plugin::folders(&loaded);
    let found = found(loaded).await?;
    if as_json {
        let entries: Vec<_> = found
            .iter()
            .map(|f| {
                json!({
                    "file": f.path.display().to_string(),
                    "sha256": f.sha256,
                    "status": status_word(&f.status),
                    "manifest": f.manifest,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (folder, bundled) in &folders {
        let kind = if *bundled {
            "bundled"
        } else {
            "plugins folder"
        };
        println!("{kind}: {}", folder.display());
    }
    if found.is_empty() {
        println!("\nno plugin libraries found");
    }
    for f in &found {
        let name = f
            .manifest
            .as_ref()
            .map(|m| format!("{} {} (api {})", m.name, m.version, m.api_version))
            .unwrap_or_else(|| "?".into());
        println!(
            "\n{name}\n  file:   {}\n  status: {}",
            f.path.display(),
            status_word(&f.status)
        );
        if let Some(m) = &f.manifest
            && !m.description.is_empty()
        {
            println!("  about:  {}", m.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(file: &std::path::Path) -> ExitCode {
    match library::open(file) {
        Ok(lib) => {
            let m = &lib.manifest;
            println!(
                "ok: {} {} built against switchboard-plugin-api {} (this switchboard implements {})",
                m.name,
                m.version,
                m.api_version,
                switchboard_plugin_api::API_VERSION
            );
            println!("sha256: {}", lib.sha256);
            ExitCode::SUCCESS
        }
        Err(refusal) => {
            println!("refused: {refusal}");
            ExitCode::FAILURE
        }
    }
}
