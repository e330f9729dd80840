//! `switchboard config init|check|path`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::ConfigCommand;
use crate::config::{ConfigError, EMBEDDED_DEFAULT, Loaded};

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
            Ok(loaded) => {
                println!("ok: {}", loaded.source);
                Ok(ExitCode::SUCCESS)
            }
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
