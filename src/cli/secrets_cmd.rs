//! `switchboard secrets set|get|list|delete|test`: secrets in the OS keyring for
//! `${keyring:NAME}` references. A value is read from standard input (never the command line,
//! so never the shell history), printed only by `get --reveal`, and never logged or written to
//! a file; the names `set` stored are listed in the state folder for `list`.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use super::SecretsCommand;
use crate::home::Home;
use crate::secrets::{Names, Store, check_name};

/// Run a `secrets` subcommand.
pub fn run(command: SecretsCommand) -> Result<ExitCode> {
    let names = Names::in_state_dir(&Home::discover()?.state_dir);
    match command {
        SecretsCommand::Set { name } => set(&names, &name),
        SecretsCommand::Get { name, reveal } => get(&name, reveal),
        SecretsCommand::List => list(&names),
        SecretsCommand::Delete { name } => delete(&names, &name),
        SecretsCommand::Test => Ok(if print_store_health("") {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
    }
}

fn set(names: &Names, name: &str) -> Result<ExitCode> {
    check_name(name)?;
    let store = Store::open()?;
    let value = read_value(name)?;
    // The name goes on the list first: a list that names a missing value is reported by
    // `list`; a stored value nobody can list would be forgotten.
    let listed_now = names.insert(name).with_context(|| {
        format!(
            "adding {name:?} to {}; nothing stored",
            names.path().display()
        )
    })?;
    if let Err(e) = store.write(name, &value) {
        if listed_now && let Err(undo) = names.remove(name) {
            eprintln!(
                "{name:?} stays listed in {} ({undo})",
                names.path().display()
            );
        }
        return Err(e.into());
    }
    if let Some(why) = store.passed_over() {
        eprintln!("note: {why}");
    }
    println!(
        "stored {name:?} in {} ({}); reference it as ${{keyring:{name}}}",
        store.kind().title(),
        store.keeps()
    );
    Ok(ExitCode::SUCCESS)
}

fn get(name: &str, reveal: bool) -> Result<ExitCode> {
    let store = Store::open()?;
    match store.read(name)? {
        None => {
            eprintln!(
                "{name:?} is not stored in {}; store it with `switchboard secrets set {name}`",
                store.kind().title()
            );
            Ok(ExitCode::FAILURE)
        }
        Some(value) if reveal => {
            println!("{value}");
            Ok(ExitCode::SUCCESS)
        }
        Some(_) => {
            println!(
                "{name:?} is stored in {}; `--reveal` prints its value",
                store.kind().title()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(names: &Names) -> Result<ExitCode> {
    let listed = names
        .read()
        .with_context(|| format!("reading {}", names.path().display()))?;
    let store = Store::open()?;
    println!("store: {} ({})", store.kind().title(), store.keeps());
    if listed.is_empty() {
        println!("no secrets stored with `switchboard secrets set` in this home");
        return Ok(ExitCode::SUCCESS);
    }
    let mut all_there = true;
    for name in &listed {
        let state = match store.read(name) {
            Ok(Some(_)) => "stored".to_string(),
            Ok(None) => {
                all_there = false;
                "missing from the store (set it again)".to_string()
            }
            Err(e) => {
                all_there = false;
                format!("unreadable: {e}")
            }
        };
        println!("  {name}  {state}");
    }
    Ok(if all_there {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn delete(names: &Names, name: &str) -> Result<ExitCode> {
    let store = Store::open()?;
    let stored = store.remove(name)?;
    let listed = names
        .remove(name)
        .with_context(|| format!("taking {name:?} off {}", names.path().display()))?;
    if !stored && !listed {
        eprintln!("nothing named {name:?} was stored");
        return Ok(ExitCode::FAILURE);
    }
    println!("deleted {name:?} from {}", store.kind().title());
    Ok(ExitCode::SUCCESS)
}

/// Print which store is in use, what it keeps, and whether a round trip works (for `secrets
/// test` and `doctor`); whether all is well. Labels are `indent`ed and padded like doctor's.
pub fn print_store_health(indent: &str) -> bool {
    let store = match Store::open() {
        Ok(store) => store,
        Err(e) => {
            println!("{indent}secrets:       FAILED: {e}");
            return false;
        }
    };
    println!("{indent}secrets:       {}", store.kind().title());
    if let Some(why) = store.passed_over() {
        println!("{indent}  chosen as:   {why}");
    }
    // The round trip first: what a store keeps can depend on what its first write found.
    let round_trip = store.round_trip();
    println!("{indent}  keeps:       {}", store.keeps());
    match round_trip {
        Ok(()) => {
            println!("{indent}  round trip:  ok (a probe entry stored, read back, deleted)");
            true
        }
        Err(e) => {
            println!("{indent}  round trip:  FAILED: {e}");
            false
        }
    }
}

/// The value, one line of standard input (not echoed when it is a terminal); never empty.
fn read_value(name: &str) -> Result<String> {
    let value = read_line(&format!("the value of {name:?}"))?;
    if value.is_empty() {
        bail!("no value given on standard input; nothing stored");
    }
    Ok(value)
}

/// One line of standard input, without its line end (empty when the person just pressed
/// Enter): asked for as `what` and not echoed when it is a terminal.
pub(super) fn read_line(what: &str) -> Result<String> {
    let stdin = std::io::stdin();
    let typed = std::io::IsTerminal::is_terminal(&stdin);
    if typed {
        eprint!("Type {what} and press Enter: ");
    }
    let echo = typed.then(EchoOff::new).flatten();
    let mut value = String::new();
    let read = stdin.lock().read_line(&mut value);
    drop(echo);
    if typed {
        eprintln!();
    }
    read.context("reading the secret from standard input")?;
    Ok(value.trim_end_matches(['\n', '\r']).to_string())
}

/// The terminal's echo, off while this lives.
struct EchoOff {
    #[cfg(unix)]
    saved: libc::termios,
}

impl EchoOff {
    #[cfg(unix)]
    fn new() -> Option<Self> {
        // SAFETY: tcgetattr and tcsetattr on standard input with a termios this owns.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return None;
            }
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) != 0 {
                return None;
            }
            Some(Self { saved })
        }
    }

    #[cfg(not(unix))]
    fn new() -> Option<Self> {
        None
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: restores the settings read in `new`.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved);
        }
    }
}
