//! From a checked request to a finished run: builds the process [`crate::process::Spec`] from
//! the configuration and the call, wires cancellation and progress to the call, and renders
//! the [`crate::process::Outcome`] as the tool's result.
//!
//! Running commands needs unix process groups; on other platforms `run` answers with an error
//! result saying so.

use std::path::PathBuf;

use switchboard_plugin_api::{Call, ToolResult};

use crate::Shell;
use crate::tool::Request;

/// Run `request` in `cwd` (already confined) and describe how it ended.
#[cfg(unix)]
pub fn run(shell: &Shell, request: &Request, cwd: PathBuf, call: &Call) -> ToolResult {
    use crate::process::{self, Spec, Stop};
    use crate::tool::Finished;

    let config = shell.config();
    let (program, args) = request.program.command(&config.shell);
    let spec = Spec {
        program,
        args,
        cwd,
        env: config
            .inherit_env
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|value| (name.clone(), value)))
            .chain(config.env.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect(),
        stdin: request.stdin.clone(),
        timeout: request.timeout,
        max_output: usize::try_from(config.max_output_bytes).unwrap_or(usize::MAX),
    };
    let cancelled = || call.is_cancelled();
    let report = |lines: u64, line: &str| call.progress(lines as f64, None, line);
    let outcome = match process::run(&spec, &cancelled, &report) {
        Ok(outcome) => outcome,
        Err(e) => {
            return ToolResult::error(format!(
                "cannot start {}: {e}",
                spec.program.to_string_lossy()
            ));
        }
    };
    let cwd = spec.cwd.display().to_string();
    let signal = outcome.signal();
    Finished {
        program: &request.program,
        cwd: &cwd,
        exit_code: outcome.exit_code(),
        signal,
        signal_name: signal.and_then(crate::group::signal_name),
        timed_out: outcome.stopped == Some(Stop::TimedOut),
        cancelled: outcome.stopped == Some(Stop::Cancelled),
        leftovers_stopped: outcome.stopped == Some(Stop::Leftovers),
        stdout: outcome.stdout.text(),
        stderr: outcome.stderr.text(),
        duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
        timeout_ms: u64::try_from(request.timeout.as_millis()).unwrap_or(u64::MAX),
        notes: outcome.notes,
    }
    .result()
}

/// Running commands is not supported here.
#[cfg(not(unix))]
pub fn run(shell: &Shell, request: &Request, cwd: PathBuf, call: &Call) -> ToolResult {
    let _ = (shell, request, cwd, call);
    ToolResult::error("the shell connector runs commands on unix systems only (Linux, macOS)")
}
