//! Opening a library in a child process first, so a library that crashes its loader costs a
//! child, not switchboard.
//!
//! Bounds checks ([`super::object`]) catch truncated files, but a library can still crash
//! the dynamic linker or run constructors that do. Before a content (a digest) is opened in
//! switchboard for the first time, switchboard runs itself again as
//! `switchboard __probe-plugin <copy>`: the child opens the copy exactly as the host would
//! ([`super::library::open`]: dlopen, abi_stable's checks, the manifest) and prints one
//! verdict line. A child killed by a signal is a one-line refusal naming the person's file;
//! its output never reaches switchboard's stdout (it is piped here and only the verdict is
//! read, the rest logged at debug level).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use switchboard_plugin_api::Manifest;

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "__probe-plugin";

/// How long a probe may take before the library is refused as hanging its loader.
pub const LIMIT: Duration = Duration::from_secs(20);

/// What starts the verdict line (a plugin's constructors may print lines of their own).
const VERDICT: &str = "switchboard-probe-verdict ";

/// The child's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    /// It opened and is a plugin this switchboard can load.
    Ok(Box<Manifest>),
    /// It opened (or failed to, without crashing) and was refused for this reason.
    Refused(String),
}

/// In the child: open `copy` and return the verdict line to print (exit 0 when it is a
/// loadable plugin, 2 when refused).
pub fn verdict_line(copy: &Path) -> (String, u8) {
    let (verdict, code) = match super::library::open(copy) {
        Ok(library) => (Verdict::Ok(Box::new(library.manifest)), 0),
        Err(refusal) => (Verdict::Refused(refusal.reason), 2),
    };
    let json = serde_json::to_string(&verdict).unwrap_or_else(|e| {
        format!("{{\"refused\":\"the probe could not write its verdict: {e}\"}}")
    });
    (format!("{VERDICT}{json}"), code)
}

/// Open `copy` in a child process; the manifest when it is a loadable plugin, else the
/// reason to refuse it.
pub fn probe(copy: &Path) -> Result<Manifest, String> {
    let exe = std::env::current_exe().map_err(|e| {
        format!(
            "cannot find switchboard's own executable to probe the library in a child process ({e})"
        )
    })?;
    let mut child = Command::new(&exe)
        .arg(SUBCOMMAND)
        .arg(copy)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start a probe process ({} {SUBCOMMAND}): {e}",
                exe.display()
            )
        })?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < LIMIT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "its loader did not finish within {} s (a constructor that hangs?); fix or remove the library",
                    LIMIT.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for the probe process failed: {e}")),
        }
    };
    let output = collect(stdout);
    let errors = collect(stderr);
    if !errors.trim().is_empty() {
        tracing::debug!(file = %copy.display(), "the probe's stderr:\n{}", last_lines(&errors, 20));
    }
    let verdict = output
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix(VERDICT))
        .and_then(|json| serde_json::from_str::<Verdict>(json).ok());
    match (verdict, status.success()) {
        (Some(Verdict::Ok(manifest)), true) => Ok(*manifest),
        (Some(Verdict::Refused(reason)), _) => Err(reason),
        _ => Err(match crash_signal(&status) {
            Some(signal) => format!(
                "its loader crashed (signal {signal}, {}): the file is truncated or not a plugin; rebuild or recopy it",
                signal_name(signal)
            ),
            None => format!(
                "its loader ended ({status}) without saying whether it is a plugin{}; rebuild or recopy it",
                last_line(&errors)
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            ),
        }),
    }
}

/// A thread reading a pipe to its end, at most 1 MiB kept (a chatty library cannot fill
/// memory, and the pipe never fills and blocks the child).
fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<std::thread::JoinHandle<String>> {
    let mut pipe = pipe?;
    std::thread::Builder::new()
        .name("plugin-probe-output".into())
        .spawn(move || {
            let mut kept = Vec::new();
            let mut buffer = [0u8; 8192];
            while let Ok(read) = pipe.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                if kept.len() < 1 << 20 {
                    kept.extend_from_slice(&buffer[..read]);
                }
            }
            String::from_utf8_lossy(&kept).into_owned()
        })
        .ok()
}

fn collect(reader: Option<std::thread::JoinHandle<String>>) -> String {
    reader.and_then(|r| r.join().ok()).unwrap_or_default()
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty())
}

#[cfg(unix)]
fn crash_signal(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn crash_signal(_status: &std::process::ExitStatus) -> Option<i32> {
    None
}

/// The usual name of a signal that ends a process.
fn signal_name(signal: i32) -> &'static str {
    #[cfg(unix)]
    {
        let names = [
            (libc::SIGBUS, "SIGBUS"),
            (libc::SIGSEGV, "SIGSEGV"),
            (libc::SIGILL, "SIGILL"),
            (libc::SIGABRT, "SIGABRT"),
            (libc::SIGFPE, "SIGFPE"),
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGTERM, "SIGTERM"),
            (libc::SIGSYS, "SIGSYS"),
            (libc::SIGTRAP, "SIGTRAP"),
        ];
        if let Some((_, name)) = names.iter().find(|(number, _)| *number == signal) {
            return name;
        }
    }
    let _ = signal;
    "a fatal signal"
}
