//! switchboard: a stdio-first MCP host. See ARCHITECTURE.md for the road a call travels and
//! the code map. The binary (`main.rs`) only hands the command line to [`cli`]; everything
//! lives in this library so the fuzz targets can reach the message path.

mod approval;
mod audit;
mod awake;
mod builtin;
mod catalog;
pub mod cli;
mod config;
mod framing;
mod heap;
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

/// Entry points for the fuzz targets (`fuzz/`); not an API.
#[doc(hidden)]
pub mod fuzzing {
    /// Decode one stdio line the way the server does (the direct lane's look for a tool call
    /// first); `true` when it is a message for rmcp, `false` when it is refused. Must never
    /// panic, whatever the bytes.
    pub fn decode_line(line: &[u8]) -> bool {
        let _ = crate::mcp::stdio::tool_call(line);
        matches!(
            crate::mcp::stdio::decode(line),
            crate::mcp::stdio::Decoded::Message(_)
        )
    }

    /// Parse configuration text the way `config.yaml` is parsed. Must never panic.
    pub fn parse_config(text: &str) -> bool {
        crate::config::parse(text, &crate::config::Source::Embedded).is_ok()
    }
}
