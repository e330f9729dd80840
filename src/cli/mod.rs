//! The command line: what each subcommand means and which part of the host it drives.
//!
//! `switchboard` with no subcommand serves MCP over stdio, which is how clients launch it.
//! Every other subcommand is for the person at the terminal; this module and its children are
//! the only code that prints to stdout, and never while serving.

mod approvals;
mod audit_cmd;
mod calls;
mod config_cmd;
mod doctor;
mod plugins;
mod progress_bar;
mod secrets_cmd;
mod serve;
mod servers;
mod sources;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::Loaded;
use crate::home::Home;

/// switchboard: one MCP server in front of your plugins, data sources and MCP servers.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: <home>/config.yaml, else the embedded defaults).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Also write the log to stderr (one-shot commands log to <state>/switchboard.log only;
    /// `serve` always logs to stderr).
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// What to do (default: serve MCP over stdio).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (what MCP clients launch).
    Serve(ServeArgs),
    /// Call one tool through the same pipeline as a client would, and print the result.
    Call {
        /// The tool's name as clients see it, e.g. files__read.
        tool: String,
        /// The arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
    },
    /// List the tools clients see.
    Tools {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Search every data source, as the `search` tool does.
    Search {
        /// What to look for.
        query: String,
        /// Most results.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Fetch one search result by id, as the `fetch` tool does.
    Fetch {
        /// A search result id, e.g. files:/home/me/notes.md.
        id: String,
    },
    /// Inspect plugins.
    Plugins {
        /// What to do with plugins.
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Show the audit log; `audit purge` deletes old rows.
    #[command(args_conflicts_with_subcommands = true)]
    Audit {
        /// Purge instead of showing.
        #[command(subcommand)]
        command: Option<AuditCommand>,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// How many recent rows.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Manage the configuration file.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Approve or deny calls waiting for a person; remembered approvals; the policy.
    Approvals {
        /// What to do with approvals.
        #[command(subcommand)]
        command: ApprovalsCommand,
    },
    /// Secrets in the OS keyring, for `${keyring:NAME}` references: set, get, list, delete, test.
    Secrets {
        /// What to do with secrets.
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Downstream MCP servers (servers_config.json): their state, importing a client's
    /// servers, trying one.
    Servers {
        /// What to do with servers.
        #[command(subcommand)]
        command: ServersCommand,
    },
    /// Data sources (Outlook, Box, Snowflake...): set one up, sign in, test it, remove it.
    Sources {
        /// What to do with sources.
        #[command(subcommand)]
        command: SourcesCommand,
    },
    /// Check the installation: home, configuration, state database, plugins, sources.
    Doctor,
    /// Internal: run a downstream stdio server under the guard that ends everything it
    /// starts when switchboard is gone (`server::guard`).
    #[command(name = "__guard", hide = true)]
    Guard {
        /// The server's command and its arguments, after `--`.
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Internal: open one plugin library and print a verdict. switchboard runs itself so in a
    /// child process before it opens a library content for the first time.
    #[command(name = "__probe-plugin", hide = true)]
    ProbePlugin {
        /// The private copy to open.
        file: PathBuf,
    },
}

/// `switchboard audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Delete audit rows, settled approval questions and revoked or session grants older than
    /// `audit.retention` (or `--before`); live "always" grants stay.
    Purge {
        /// An age (`30d`, `12h`) or a date (`2026-11-01`, or RFC 3339); default: the
        /// configured `audit.retention`.
        #[arg(long)]
        before: Option<String>,
    },
}

/// `switchboard sources ...`
#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// The data source connectors installed: set up or not, their secrets, signed in or not.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a source up and turn it on: write its section of config.yaml (checked against the
    /// connector's schema first) and store its secrets in the OS keyring.
    Add {
        /// The connector's name (`sources list` shows them).
        name: String,
        /// A setting as key=value (the value read as JSON when it is JSON: numbers, true,
        /// lists; else as text); a dotted key sets a nested one. Repeat for more.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// A secret the connector declares, read from standard input (one line per secret,
        /// in the order given). Without any, each declared secret is asked for when standard
        /// input is a terminal.
        #[arg(long = "secret", value_name = "NAME")]
        secrets: Vec<String>,
        /// A secret read whole from a file, as NAME=PATH: for one that spans lines (a PEM
        /// private key). Repeat for more.
        #[arg(long = "secret-file", value_name = "NAME=PATH")]
        secret_files: Vec<String>,
    },
    /// Sign in to the source (device code, the browser...: the connector says what to do).
    Login {
        /// The source's name.
        name: String,
        /// One of the connector's sign-in flows, when it has several.
        #[arg(long)]
        flow: Option<String>,
    },
    /// Make one live call to the source and say what answered or what failed.
    Test {
        /// The source's name.
        name: String,
    },
    /// Sign out, delete the secrets `add` stored and the tokens kept, remove the section.
    Remove {
        /// The source's name.
        name: String,
    },
}

/// `switchboard servers ...`
#[derive(Debug, Subcommand)]
pub enum ServersCommand {
    /// Every configured server and its state: started now, or as running switchboards see it.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy a client's MCP servers into servers_config.json and print the one entry that
    /// makes the client launch switchboard instead.
    Import {
        /// The client's configuration (default: Claude Desktop's claude_desktop_config.json).
        file: Option<PathBuf>,
    },
    /// Start one server, list what it offers, and stop it.
    Test {
        /// Its name in servers_config.json.
        name: String,
    },
}

/// `switchboard serve` options.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Serve MCP over Streamable HTTP on this address (e.g. 127.0.0.1:8765) instead of stdio.
    #[arg(long, value_name = "ADDRESS")]
    pub http: Option<std::net::SocketAddr>,
    /// The bearer token HTTP clients must send (default: <state>/http-token, made on first use).
    #[arg(long, env = "SWITCHBOARD_HTTP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Serve HTTP without a token (loopback only; for test suites that cannot send one).
    #[arg(long, conflicts_with = "token")]
    pub no_auth: bool,
}

/// `switchboard approvals ...`
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// The calls waiting for approval.
    List {
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Approve a waiting call (it runs at once).
    Approve {
        /// The id `list` shows.
        id: String,
        /// Also approve this tool for the rest of the caller's session, or always.
        #[arg(long, value_name = "session|always")]
        remember: Option<String>,
    },
    /// Deny a waiting call.
    Deny {
        /// The id `list` shows.
        id: String,
    },
    /// The remembered approvals.
    Grants {
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Forget a remembered approval.
    Revoke {
        /// The id `grants` shows.
        id: String,
    },
    /// Say whether a tool runs, is asked about or is refused, and which rule decided.
    Explain {
        /// The tool's name as clients see it.
        tool: String,
    },
    /// Serve the approval inbox as a page on 127.0.0.1 and open it in the browser.
    Ui {
        /// The port (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Print the address without opening a browser.
        #[arg(long)]
        no_open: bool,
    },
}

/// `switchboard secrets ...`
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Read a value from standard input and store it in the keyring under NAME.
    Set {
        /// The entry name, as used in `${keyring:NAME}`.
        name: String,
    },
    /// Say whether NAME is stored; print its value only with --reveal.
    Get {
        /// The entry name.
        name: String,
        /// Print the value to standard output.
        #[arg(long)]
        reveal: bool,
    },
    /// The names `secrets set` stored, and whether the store still has each.
    List,
    /// Remove NAME from the keyring.
    Delete {
        /// The entry name.
        name: String,
    },
    /// Which store is in use, what it keeps across reboots, and a round trip through it.
    Test,
}

/// `switchboard plugins ...`
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every library found and what became of it.
    List {
        /// Print JSON (includes each plugin's configuration schema).
        #[arg(long)]
        json: bool,
    },
    /// Check one library without loading it into a running server.
    Check {
        /// The library file.
        file: PathBuf,
    },
}

/// `switchboard config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write the default configuration to <home>/config.yaml (never overwrites).
    Init,
    /// Validate the configuration and say which file is in force.
    Check,
    /// Print the path of the configuration file in force.
    Path,
}

/// Run the command line; the exit code says whether it worked.
pub fn run(cli: Cli) -> Result<ExitCode> {
    crate::heap::configure();
    #[cfg(unix)]
    if let Some(Command::Guard { command }) = &cli.command {
        return Ok(crate::server::guard::run(command));
    }
    if let Some(Command::ProbePlugin { file }) = &cli.command {
        return Ok(plugins::probe_child(file));
    }
    let home = Home::discover()?;
    let loaded = Loaded::load(home, cli.config.as_deref());
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Config { command } => config_cmd::run(command, loaded, cli.config.as_deref()),
        Command::Secrets { command } => secrets_cmd::run(command),
        command => {
            let loaded = loaded?;
            let audience = match &command {
                Command::Serve(_) => crate::logging::Audience::Serving,
                _ => crate::logging::Audience::OneShot {
                    verbose: cli.verbose,
                },
            };
            let _log_guard = crate::logging::init(&loaded, audience)?;
            if !matches!(command, Command::Serve(_)) {
                tracing::debug!(pid = std::process::id(), "one-shot command started");
            }
            let mut runtime = tokio::runtime::Builder::new_multi_thread();
            // One client on stdio: one worker thread runs every task, so a request's hops
            // between tasks (reader, call, downstream reader) never wake a second thread,
            // which costs more than the work itself. Plugins run on their own threads.
            if matches!(&command, Command::Serve(args) if args.http.is_none()) {
                runtime.worker_threads(1);
            }
            let runtime = runtime.enable_all().thread_name("switchboard").build()?;
            let code = runtime.block_on(dispatch(command, loaded));
            // Plugin calls abandoned by a deadline may still hold blocking threads.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            code
        }
    }
}

async fn dispatch(command: Command, loaded: Loaded) -> Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(loaded, args).await,
        Command::Call { tool, args } => calls::call(loaded, &tool, &args).await,
        Command::Tools { json } => calls::tools(loaded, json).await,
        Command::Search { query, limit } => calls::search(loaded, &query, limit).await,
        Command::Fetch { id } => calls::fetch(loaded, &id).await,
        Command::Plugins { command } => plugins::run(loaded, command).await,
        Command::Audit {
            command: Some(AuditCommand::Purge { before }),
            ..
        } => audit_cmd::purge(loaded, before.as_deref()),
        Command::Audit {
            command: None,
            json,
            limit,
        } => audit_cmd::audit(loaded, json, limit),
        Command::Sources { command } => sources::run(loaded, command).await,
        Command::Doctor => doctor::run(loaded).await,
        Command::Approvals { command } => approvals::run(loaded, command).await,
        Command::Servers { command } => servers::run(loaded, command).await,
        Command::Config { .. }
        | Command::Secrets { .. }
        | Command::ProbePlugin { .. }
        | Command::Guard { .. } => {
            anyhow::bail!("internal: this command runs without the runtime")
        }
    }
}
