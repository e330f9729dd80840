//! `switchboard plugins list|check`: which libraries were found and what became of each.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use super::PluginsCommand;
use crate::config::Loaded;
use crate::plugin::{self, Found, Status, library, probe, store};
use crate::state::PluginRecord;

/// Run a `plugins` subcommand.
pub async fn run(loaded: Loaded, command: PluginsCommand) -> Result<ExitCode> {
    match command {
        PluginsCommand::List { json } => list(loaded, json).await,
        PluginsCommand::Check { file } => Ok(check(&loaded, &file)),
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

/// The plugins as a hub would load them now, and the database's record of loaded files.
async fn found(loaded: Loaded) -> Result<(Vec<Found>, Vec<PluginRecord>)> {
    let state = crate::state::State::open(&loaded.home.database())?;
    let options = crate::hub::StartOptions { serving: false };
    let hub = crate::hub::Hub::start(loaded, state.clone(), options);
    // A collision does not matter here: the listing shows every library regardless.
    if let Err(e) = hub.ready().await {
        tracing::error!("{e}");
    }
    hub.digests_recorded().await;
    let found = hub.found();
    // Shutting down writes the hub's records; read them afterwards.
    hub.shutdown().await;
    let path = state.path().to_path_buf();
    let records = crate::state::State::open(&path)?.plugin_records()?;
    Ok((found, records))
}

fn first_seen<'a>(records: &'a [PluginRecord], found: &Found) -> Option<&'a str> {
    let file = found.path.display().to_string();
    records
        .iter()
        .find(|r| r.file == file && Some(&r.sha256) == found.sha256.as_ref())
        .map(|r| r.first_seen.as_str())
}

async fn list(loaded: Loaded, as_json: bool) -> Result<ExitCode> {
    let folders = plugin::folders(&loaded);
    let state_dir = loaded.home.state_dir.clone();
    let (found, records) = found(loaded).await?;
    if as_json {
        let entries: Vec<_> = found
            .iter()
            .map(|f| {
                json!({
                    "file": f.path.display().to_string(),
                    "sha256": f.sha256,
                    "status": status_word(&f.status),
                    "first_loaded": first_seen(&records, f),
                    "awaiting_restart": plugin::awaiting_restart(&state_dir, f),
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
        if let Some(seen) = first_seen(&records, f) {
            println!("  since:  {seen}");
        }
        for line in plugin::awaiting_restart(&state_dir, f) {
            println!("  newer:  {line}");
        }
        if let Some(m) = &f.manifest
            && !m.description.is_empty()
        {
            println!("  about:  {}", m.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Check one library the way a load would, without ever opening it in this process: copy it
/// privately (refused when incomplete), then open the copy in a probe process.
fn check(loaded: &Loaded, file: &std::path::Path) -> ExitCode {
    let refused = |reason: String| {
        let refusal = library::Refusal {
            path: file.to_path_buf(),
            reason,
        };
        println!("refused: {refusal}");
        ExitCode::FAILURE
    };
    let store = store::Store::new(&loaded.home.state_dir);
    let _loading = store.loading();
    let copy = match store.prepare(file, |_| None) {
        Ok(copy) => copy,
        Err((error, _)) => return refused(error.to_string()),
    };
    match probe::probe(&copy.path) {
        Ok(m) => {
            store.mark_probed(&copy.sha256, &m);
            println!(
                "ok: {} {} built against switchboard-plugin-api {} (this switchboard implements {})",
                m.name,
                m.version,
                m.api_version,
                switchboard_plugin_api::API_VERSION
            );
            println!("sha256: {}", copy.sha256);
            ExitCode::SUCCESS
        }
        Err(reason) => refused(reason),
    }
}

/// `switchboard __probe-plugin <copy>`, run by switchboard itself in a child process: open
/// the library and print the verdict (see `plugin::probe`).
pub fn probe_child(copy: &std::path::Path) -> ExitCode {
    let (line, code) = probe::verdict_line(copy);
    println!("{line}");
    ExitCode::from(code)
}
