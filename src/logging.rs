//! Logging: `tracing` to stderr (stdout carries protocol only) and, when configured, to
//! `<state>/switchboard.log`. `SWITCHBOARD_LOG` overrides the configured filter.
//!
//! `serve` logs to both, since a client keeps a server's stderr as its log. A one-shot command
//! (`doctor`, `tools`, `plugins list`...) is read by a person at a terminal, where stderr
//! shows between the lines of its answer: it logs to the file only, and to stderr as well
//! only when asked with `-v`.

use std::fs::OpenOptions;
use std::sync::Mutex;

use anyhow::{Context, Result};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

use crate::config::Loaded;

/// Keeps logging alive; drop at exit.
pub struct Guard;

/// Who is logging, which decides where the lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// `serve`: stderr (the client's log of this server) and the log file.
    Serving,
    /// A one-shot command: the log file; stderr too when `verbose` (`-v`).
    OneShot {
        /// The command line asked for the log on stderr.
        verbose: bool,
    },
}

/// Install the global subscriber for `audience`.
pub fn init(loaded: &Loaded, audience: Audience) -> Result<Guard> {
    let filter_text = std::env::var("SWITCHBOARD_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| loaded.config.log.level.clone());
    let filter = || {
        EnvFilter::try_new(&filter_text).with_context(|| {
            format!("invalid log filter {filter_text:?} (SWITCHBOARD_LOG or log.level)")
        })
    };
    let to_stderr = match audience {
        Audience::Serving => true,
        Audience::OneShot { verbose } => verbose,
    };
    let stderr = if to_stderr {
        Some(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false)
                .with_filter(filter()?),
        )
    } else {
        None
    };
    let file = if loaded.config.log.file {
        let path = loaded.home.state_dir.join("switchboard.log");
        std::fs::create_dir_all(&loaded.home.state_dir)
            .with_context(|| format!("cannot create {}", loaded.home.state_dir.display()))?;
        // Appending whole lines: a one-shot command's lines land between a running server's,
        // never inside one (at debug level its first line names its process).
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
