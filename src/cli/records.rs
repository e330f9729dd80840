//! `switchboard audit`: the most recent audit rows, as a table or JSON lines.

use std::process::ExitCode;

use anyhow::Result;

use crate::config::Loaded;
use crate::state::State;

/// Print the `limit` most recent rows, oldest first.
pub fn audit(loaded: Loaded, as_json: bool, limit: u32) -> Result<ExitCode> {
    let state = State::open(&loaded.home.database())?;
    let mut rows = state.recent_audit(limit)?;
    rows.reverse();
    for row in &rows {
        if as_json {
            println!("{}", serde_json::to_string(row)?);
        } else {
            println!(
                "{}  {:10}  {:18} {:28} {:10} {:>8.1} ms  {}",
                row.time,
                row.outcome.as_str(),
                row.method,
                row.tool.as_deref().unwrap_or("-"),
                row.provider.as_deref().unwrap_or("-"),
                row.duration_ms,
                row.error.as_deref().unwrap_or("")
            );
        }
    }
    state.close();
    Ok(ExitCode::SUCCESS)
}
