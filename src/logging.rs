//! Logging: `tracing` to stderr (stdout carries protocol only) and, when configured, to
//! `<state>/switchboard.log`. `SWITCHBOARD_LOG` overrides the configured filter.

use std::fs::OpenOptions;
use std::sync::Mutex;

use anyhow::{Context, Result};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

use crate::config::Loaded;

/// Keeps logging alive; drop at exit.
pub struct Guard;

/// Install the global subscriber. The log file is written only when serving, so one-shot
/// commands do not interleave with a running server's log.
pub fn init(loaded: &Loaded, serving: bool) -> Result<Guard> {
    let filter_text = std::env::var("SWITCHBOARD_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| loaded.config.log.level.clone());
    let filter = || {
        EnvFilter::try_new(&filter_text).with_context(|| {
            format!("invalid log filter {filter_text:?} (SWITCHBOARD_LOG or log.level)")
        })
    };
    let stderr = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_filter(filter()?);
    let file = if serving && loaded.config.log.file {
        let path = loaded.home.state_dir.join("switchboard.log");
        std::fs::create_dir_all(&loaded.home.state_dir)
            .with_context(|| format!("cannot create {}", loaded.home.state_dir.display()))?;
        match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => Some(
                fmt::layer()
                    .with_writer(Mutex::new(f))
                    .with_ansi(false)
                    .with_filter(filter()?),
            ),
            Err(e) => {
                eprintln!(
                    "switchboard: cannot open the log file {}: {e}",
                    path.display()
                );
                None
            }
        }
    } else {
        None
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init()
        .ok();
    Ok(Guard)
}
