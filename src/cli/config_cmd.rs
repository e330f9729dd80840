//! `switchboard config init|check|path`.
//!
//! `check` reports what the server would refuse: the file itself, each connector section
//! against its plugin ([`crate::plugin::sections`], the check loading applies), and the
//! servers file (read by the same parser the server uses).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::ConfigCommand;
use crate::config::{ConfigError, EMBEDDED_DEFAULT, Loaded};
use crate::plugin::sections::{self, Verdict};
use crate::server::config::EntryKind;

/// Run a `config` subcommand. `loaded` is the result of loading, valid or not.
pub fn run(
    command: ConfigCommand,
    loaded: Result<Loaded, ConfigError>,
    explicit: Option<&Path>,
) -> Result<ExitCode> {
    let home = crate::home::Home::discover()?;
    match command {
        ConfigCommand::Path => {
            match explicit {
                Some(path) => println!("{}", path.display()),
                None if home.config_file().exists() => println!("{}", home.config_file().display()),
                None => println!(
                    "(none: the embedded defaults apply; `switchboard config init` writes {})",
                    home.config_file().display()
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check => match loaded {
            Ok(loaded) => Ok(check(&loaded)),
            Err(e) => {
                println!("invalid: {e}");
                Ok(ExitCode::FAILURE)
            }
        },
        ConfigCommand::Init => {
            let path = explicit
                .map(Path::to_path_buf)
                .unwrap_or_else(|| home.config_file());
            if path.exists() {
                println!("{} already exists; not overwritten", path.display());
                return Ok(ExitCode::FAILURE);
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&path, EMBEDDED_DEFAULT)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Check what the file parsed into against the plugins and the servers file; print one line
/// per finding, every problem as `invalid: ...`.
fn check(loaded: &Loaded) -> ExitCode {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for (name, verdict) in sections::check_all(loaded) {
        match verdict {
            Verdict::Good(plugin) => {
                notes.push(format!("connectors.{name}: matches the schema of {plugin}"))
            }
            Verdict::Unchecked(why) => notes.push(format!("connectors.{name}: not checked: {why}")),
            Verdict::Wrong(message) => problems.push(message),
        }
    }
    let servers = crate::server::config::load(&loaded.servers_file());
    if let Some(error) = &servers.error {
        problems.push(error.clone());
    }
    let mut running = 0;
    for entry in &servers.entries {
        match &entry.kind {
            EntryKind::Invalid(message) => problems.push(message.clone()),
            EntryKind::Enabled(_) => running += 1,
            EntryKind::Disabled(_) => {}
        }
        for key in &entry.ignored_keys {
            notes.push(format!(
                "{}: mcpServers.{}.{key} is not a switchboard key; it is ignored",
                servers.path.display(),
                entry.name
            ));
        }
    }
    if servers.error.is_none() {
        notes.push(format!(
            "servers file {}: {} server{} to start, {} entr{} in all",
            servers.path.display(),
            running,
            if running == 1 { "" } else { "s" },
            servers.entries.len(),
            if servers.entries.len() == 1 {
                "y"
            } else {
                "ies"
            }
        ));
    }
    if problems.is_empty() {
        println!("ok: {}", loaded.source);
    }
    for problem in &problems {
        println!("invalid: {problem}");
    }
    for note in &notes {
        println!("  {note}");
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
