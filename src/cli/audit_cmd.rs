//! `switchboard audit`: the most recent audit rows, as a table or JSON lines; `audit purge`.

use std::process::ExitCode;

use anyhow::{Result, bail};

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

/// Delete what is older than `before` (an age or a date), or than `audit.retention`.
pub fn purge(loaded: Loaded, before: Option<&str>) -> Result<ExitCode> {
    let cut = match before {
        None => crate::state::retention::cutoff(loaded.config.audit.retention.get()),
        Some(text) => parse_before(text)?,
    };
    let state = State::open(&loaded.home.database())?;
    let purged = state.purge(&cut)?;
    state.close();
    println!(
        "purged what was older than {cut}: {} audit rows, {} approval questions, {} grants, {} spent approval states",
        purged.audit, purged.approvals, purged.grants, purged.states
    );
    Ok(ExitCode::SUCCESS)
}

/// `30d`-style ages and `2026-11-01` / RFC 3339 dates, as the database's time format.
fn parse_before(text: &str) -> Result<String> {
    if let Some(secs) = crate::config::duration::parse_duration(text)
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok(crate::state::retention::cutoff(
            std::time::Duration::from_secs_f64(secs),
        ));
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(crate::state::stamp(time.with_timezone(&chrono::Utc)));
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(midnight) = day.and_hms_opt(0, 0, 0)
    {
        return Ok(crate::state::stamp(midnight.and_utc()));
    }
    bail!("--before takes an age such as 30d or 12h, or a date such as 2026-11-01; not {text:?}")
}
