//! Black-box tests of switchboard: the built binary, real plugin libraries, a real SQLite
//! file, and a real MCP client over pipes. One test binary, so the build links once.

mod approval_card;
mod approval_holds;
mod approval_records;
mod approvals;
mod cli;
mod configuration;
mod durability;
mod files_confinement;
mod hostile;
mod plugins;
mod search;
mod secrets;
mod servers;
mod session;
mod sources;
mod support;
mod wire;
