//! `switchboard secrets set NAME`: put a secret in the OS keyring without it ever touching a
//! file, the command line or the shell history (the value is read from standard input).

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::SecretsCommand;
use crate::secrets::{KEYRING_SERVICE, store_in_keyring};

/// Run a `secrets` subcommand.
pub fn run(command: SecretsCommand) -> Result<ExitCode> {
    match command {
        SecretsCommand::Set { name } => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprintln!("Type the value of {name:?} and press Enter:");
            }
            let mut value = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut value)
                .context("reading the secret from standard input")?;
            let value = value.trim_end_matches(['\n', '\r']);
            if value.is_empty() {
                bail!("no value given on standard input; nothing stored");
            }
            store_in_keyring(&name, value)?;
            println!(
                "stored in the keyring (service {KEYRING_SERVICE:?}, entry {name:?}); reference it as ${{keyring:{name}}}"
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
