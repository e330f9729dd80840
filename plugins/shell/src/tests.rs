//! End-to-end tests of the connector through the [`Connector`] interface, with a fake host and
//! a fake call standing in for switchboard: what `run` runs and returns, where it may start,
//! and that timeouts, cancellation and background leftovers leave no process behind.
//!
//! Tests wait for events (a progress line, a process gone), never for a fixed time: the fake
//! call signals each progress notification, and the only polling is for a process to vanish,
//! which nothing announces.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use abi_stable::std_types::RArc;
use serde_json::{Value, json};
use switchboard_plugin_api::model::Content;
use switchboard_plugin_api::testing::{self, FakeCall, FakeHost};
use switchboard_plugin_api::{Connector, ErrorKind, ToolResult};

use crate::Shell;

struct World {
    _dir: tempfile::TempDir,
    base: PathBuf,
    work: PathBuf,
    host: RArc<FakeHost>,
    shell: Shell,
}

/// base/work (the folder commands run in) with base/work/sub, base/outside and a link
/// base/work/out -> base/outside; `extra` is merged into the configuration.
fn world(extra: Value) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = fs::canonicalize(dir.path()).expect("canonical");
    let work = base.join("work");
    fs::create_dir_all(work.join("sub")).expect("mkdir");
    fs::create_dir_all(base.join("outside")).expect("mkdir");
    std::os::unix::fs::symlink(base.join("outside"), work.join("out")).expect("symlink");
    let mut config = json!({"folders": [work.display().to_string()]});
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            config.insert(k.clone(), v.clone());
        }
    }
    let host = FakeHost::new(PathBuf::new());
    let shell = Shell::new(testing::host(&host), config).expect("create");
    World {
        _dir: dir,
        base,
        work,
        host,
        shell,
    }
}

fn fake_call() -> RArc<FakeCall> {
    FakeCall::new()
}

/// The progress lines reported: (count so far, line).
fn lines(fake: &FakeCall) -> Vec<(f64, String)> {
    fake.progress()
        .into_iter()
        .map(|(n, _, line)| (n, line))
        .collect()
}

fn run_with(w: &World, fake: &RArc<FakeCall>, arguments: Value) -> (ToolResult, Value) {
    let call = testing::call(fake);
    let object = arguments.as_object().cloned().unwrap_or_default();
    let result = w.shell.call_tool("run", object, &call).expect("tool ran");
    let structured = result.structured_content.clone().unwrap_or(Value::Null);
    (result, structured)
}

fn run(w: &World, arguments: Value) -> (ToolResult, Value) {
    run_with(w, &fake_call(), arguments)
}

fn text_of(result: &ToolResult) -> String {
    result
        .content
        .iter()
        .map(|c| match c {
            Content::Text { text } => text.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// The pids a command printed, one per line.
fn pids(stdout: &Value) -> Vec<i32> {
    stdout
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Linux: the state and process group of `pid`, from `/proc`.
fn proc_stat(pid: &str) -> Option<(char, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

/// Whether `pid` is gone: no such process, or a zombie waiting to be reaped by whoever
/// inherited it (it runs no more).
fn gone(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    proc_stat(&pid.to_string()).is_some_and(|(state, _)| state == 'Z')
}

/// Whether any live (non-zombie) process is in the group `pgid`.
fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        // No /proc (macOS): ask the kernel, zombies included.
        // SAFETY: signal 0 only checks that the group exists.
        return unsafe { libc::kill(-pgid, 0) } == 0;
    };
    entries.filter_map(Result::ok).any(|entry| {
        proc_stat(&entry.file_name().to_string_lossy())
            .is_some_and(|(state, pgrp)| pgrp == pgid && state != 'Z')
    })
}

/// Wait (bounded) for every pid, and the group of the first, to be gone.
fn assert_all_gone(pids: &[i32]) {
    assert!(!pids.is_empty(), "the command printed no pids");
    let deadline = Instant::now() + Duration::from_secs(10);
    let survivors = || !pids.iter().all(|p| gone(*p)) || group_alive(pids[0]);
    while survivors() {
        assert!(
            Instant::now() < deadline,
            "processes survived: {:?}",
            pids.iter().filter(|p| !gone(**p)).collect::<Vec<_>>()
        );
        std::thread::yield_now();
    }
}

#[test]
fn manifest_and_catalog() {
    let manifest = Shell::manifest();
    assert_eq!(manifest.name, "shell");
    assert!(!manifest.load_by_default, "running commands is opt-in");
    assert_eq!(manifest.config_schema["additionalProperties"], json!(false));
    let w = world(json!({"max_timeout_ms": 5000, "default_timeout_ms": 100}));
    let catalog = w.shell.catalog();
    assert_eq!(catalog.tools.len(), 1);
    let run = &catalog.tools[0];
    assert_eq!(run.name, "run");
    assert_eq!(run.input_schema["additionalProperties"], json!(false));
    assert_eq!(
        run.input_schema["properties"]["timeout_ms"]["maximum"],
        json!(5000)
    );
    let hints = run.annotations.as_ref().expect("annotations");
    assert_eq!(hints.read_only_hint, Some(false));
    assert_eq!(hints.destructive_hint, Some(true));
    assert_eq!(hints.open_world_hint, Some(true));
    let call = testing::call(&fake_call());
    let unknown = w.shell.call_tool("exec", Default::default(), &call);
    assert!(matches!(unknown, Err(e) if e.kind == ErrorKind::NOT_FOUND));
}

#[test]
fn argv_runs_without_a_shell_and_a_line_with_one() {
    let w = world(json!({}));
    let (result, out) = run(&w, json!({"argv": ["printf", "%s|", "a b", "$HOME", "c"]}));
    assert!(!result.is_error, "{}", text_of(&result));
    assert_eq!(out["stdout"], json!("a b|$HOME|c|"));
    assert_eq!(out["exit_code"], json!(0));
    assert_eq!(out["cwd"], json!(w.work.display().to_string()));
    assert!(text_of(&result).contains("$ printf '%s|' 'a b' '$HOME' c"));

    let (result, out) = run(&w, json!({"command": "echo $((40 + 2)) | tr 4 x"}));
    assert!(!result.is_error);
    assert_eq!(out["stdout"], json!("x2\n"));
    assert_eq!(out["timed_out"], json!(false));
    assert_eq!(out["cancelled"], json!(false));

    let (result, _) = run(&w, json!({"argv": ["/nonexistent/program"]}));
    assert!(result.is_error);
    assert!(
        text_of(&result).contains("cannot start"),
        "{}",
        text_of(&result)
    );
    let (result, _) = run(&w, json!({"command": "true", "argv": ["true"]}));
    assert!(result.is_error);
    assert!(text_of(&result).contains("not both"));
}

#[test]
fn exit_codes_signals_and_stderr() {
    let w = world(json!({}));
    let (result, out) = run(&w, json!({"command": "echo out; echo err >&2; exit 3"}));
    assert!(result.is_error);
    assert_eq!(out["exit_code"], json!(3));
    assert_eq!(out["stdout"], json!("out\n"));
    assert_eq!(out["stderr"], json!("err\n"));
    assert!(text_of(&result).contains("exit code 3"));

    let (result, out) = run(&w, json!({"command": "kill -9 $$"}));
    assert!(result.is_error);
    assert_eq!(out["exit_code"], Value::Null);
    assert_eq!(out["signal"], json!(9));
    assert!(text_of(&result).contains("SIGKILL"), "{}", text_of(&result));
}

#[test]
fn cwd_is_confined_to_the_folders() {
    let w = world(json!({}));
    let (_, out) = run(&w, json!({"argv": ["pwd", "-P"]}));
    assert_eq!(out["stdout"], json!(format!("{}\n", w.work.display())));
    let (_, out) = run(&w, json!({"argv": ["pwd", "-P"], "cwd": "sub"}));
    assert_eq!(
        out["stdout"],
        json!(format!("{}\n", w.work.join("sub").display()))
    );

    for (cwd, why) in [
        (w.base.join("outside").display().to_string(), "outside"),
        ("out".to_string(), "a symlink leading out"),
        ("..".to_string(), "above the folder"),
        ("/".to_string(), "the file system root"),
        ("missing".to_string(), "a folder that does not exist"),
    ] {
        let marker = w.base.join("outside/ran");
        let (result, out) = run(&w, json!({"command": "touch ran", "cwd": cwd}));
        assert!(result.is_error, "{why}");
        assert_eq!(out, Value::Null, "{why}: nothing ran");
        assert!(!marker.exists(), "{why}");
    }
    let (result, _) = run(
        &w,
        json!({"command": "true", "cwd": w.base.join("outside").display().to_string()}),
    );
    assert!(text_of(&result).contains("outside the folders"));
}

#[test]
fn stdin_is_the_calls_or_empty_and_env_is_added() {
    let w = world(json!({"env": {"GREETING": "hi there"}}));
    let (_, out) = run(&w, json!({"argv": ["cat"], "stdin": "hello\nworld\n"}));
    assert_eq!(out["stdout"], json!("hello\nworld\n"));
    // Without stdin, `cat` sees an empty input at once: the host's stdin is never inherited.
    let (result, out) = run(&w, json!({"argv": ["cat"], "timeout_ms": 20_000}));
    assert!(!result.is_error, "{}", text_of(&result));
    assert_eq!(out["stdout"], json!(""));
    let (_, out) = run(&w, json!({"command": "printf %s \"$GREETING\""}));
    assert_eq!(out["stdout"], json!("hi there"));
    assert!(w.host.logs().is_empty());
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let w = world(json!({}));
    let started = Instant::now();
    let (result, out) = run(
        &w,
        json!({"command": "sleep 30 & echo $!; echo $$; sleep 30", "timeout_ms": 300}),
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(result.is_error);
    assert_eq!(out["timed_out"], json!(true));
    assert_eq!(out["cancelled"], json!(false));
    assert_eq!(out["exit_code"], Value::Null);
    assert!(text_of(&result).contains("timed out after 300 ms"));
    let pids = pids(&out["stdout"]);
    assert_eq!(pids.len(), 2, "{out}");
    // The shell ($$, the group leader) first, then its background child.
    assert_all_gone(&[pids[1], pids[0]]);
}

#[test]
fn the_timeout_is_capped_by_the_configuration() {
    let w = world(json!({"max_timeout_ms": 200, "default_timeout_ms": 100}));
    let (result, out) = run(&w, json!({"argv": ["sleep", "20"], "timeout_ms": 600_000}));
    assert!(result.is_error);
    assert_eq!(out["timed_out"], json!(true));
    assert!(text_of(&result).contains("timed out after 200 ms"));
}

#[test]
fn cancellation_kills_the_whole_process_group() {
    let w = world(json!({}));
    let fake = fake_call();
    let (result, out) = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            run_with(
                &w,
                &fake,
                json!({"command": "sleep 30 & echo $!; echo $$; echo started; sleep 30"}),
            )
        });
        // The output streams while the command runs: cancel once it said it started.
        fake.wait_for_progress(Duration::from_secs(20), |line| line == "started");
        fake.cancel();
        running.join().expect("run thread")
    });
    assert!(result.is_error);
    assert_eq!(out["cancelled"], json!(true));
    assert_eq!(out["timed_out"], json!(false));
    assert!(out["duration_ms"].as_u64().is_some_and(|ms| ms < 10_000));
    let pids = pids(&out["stdout"]);
    assert_eq!(pids.len(), 2, "{out}");
    assert_all_gone(&[pids[1], pids[0]]);
}

#[test]
fn output_is_capped_and_progress_is_throttled_but_ends_with_the_last_line() {
    let w = world(json!({"max_output_bytes": 1000}));
    let fake = fake_call();
    let (result, out) = run_with(&w, &fake, json!({"argv": ["seq", "1", "200000"]}));
    assert!(!result.is_error, "{}", text_of(&result));
    let stdout = out["stdout"].as_str().expect("stdout");
    assert!(stdout.starts_with("1\n2\n3\n"));
    assert!(
        stdout.ends_with("[output cut at 1000 bytes; 1288895 bytes were written in all]"),
        "{}",
        &stdout[stdout.len().saturating_sub(200)..]
    );
    assert!(stdout.len() < 1100);
    let lines = lines(&fake);
    let last = lines.last().expect("progress");
    assert_eq!(last, &(200_000.0, "200000".to_string()));
    assert!(lines.windows(2).all(|p| p[0].0 < p[1].0), "rising values");
    let duration = out["duration_ms"].as_u64().expect("duration");
    assert!(
        lines.len() as u64 <= duration / 50 + 2,
        "{} notifications in {duration} ms",
        lines.len()
    );
}

#[test]
fn stderr_lines_are_reported_as_such() {
    let w = world(json!({}));
    let fake = fake_call();
    let (_, out) = run_with(&w, &fake, json!({"command": "echo problem >&2"}));
    assert_eq!(out["stderr"], json!("problem\n"));
    assert_eq!(lines(&fake), vec![(1.0, "stderr: problem".to_string())]);
}

#[test]
fn background_processes_holding_the_output_are_stopped_when_the_command_ends() {
    let w = world(json!({}));
    let (result, out) = run(&w, json!({"command": "sleep 30 & echo $!"}));
    assert!(!result.is_error, "{}", text_of(&result));
    assert_eq!(out["exit_code"], json!(0));
    assert!(
        out["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("background")),
        "{out}"
    );
    assert_all_gone(&pids(&out["stdout"]));
}

#[test]
fn a_background_process_that_let_go_of_the_output_is_left_running() {
    let w = world(json!({}));
    let (result, out) = run(&w, json!({"command": "sleep 30 >/dev/null 2>&1 & echo $!"}));
    assert!(!result.is_error, "{}", text_of(&result));
    assert_eq!(out.get("notes"), None);
    let daemon = pids(&out["stdout"]);
    assert_eq!(daemon.len(), 1);
    assert!(!gone(daemon[0]), "the detached process still runs");
    // SAFETY: the pid is the sleep this test started; SIGKILL ends it.
    unsafe { libc::kill(daemon[0], libc::SIGKILL) };
    assert_all_gone(&daemon);
}

#[test]
fn only_the_allowed_environment_reaches_a_command() {
    // The test process's own environment stands in for switchboard's: PATH is allowed,
    // CARGO_PKG_NAME (set by cargo for every test) is not.
    assert!(std::env::var("CARGO_PKG_NAME").is_ok());
    let w = world(json!({}));
    let (_, out) = run(
        &w,
        json!({"command": "printf '%s|%s' \"${CARGO_PKG_NAME:-unset}\" \"${PATH:+set}\""}),
    );
    assert_eq!(out["stdout"], json!("unset|set"));
    let w = world(json!({"inherit_env": ["PATH", "CARGO_PKG_NAME"]}));
    let (_, out) = run(
        &w,
        json!({"command": "printf %s \"${CARGO_PKG_NAME:-unset}\""}),
    );
    assert_eq!(out["stdout"], json!("switchboard-shell"));
}
