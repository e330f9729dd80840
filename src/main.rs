//! switchboard: a stdio-first MCP host. See ARCHITECTURE.md for the road a call travels and
//! the code map; this file only hands the command line to [`cli`].

mod approval;
mod builtin;
mod catalog;
mod cli;
mod config;
mod home;
mod http;
mod hub;
mod logging;
mod mcp;
mod pipeline;
mod plugin;
mod provider;
mod requester;
mod secrets;
mod server;
mod session;
mod state;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("switchboard: {error:#}");
            ExitCode::FAILURE
        }
    }
}
