//! Downstream MCP servers end to end: real child processes (the workspace's echo server and
//! the npm reference server), a real switchboard, a real client over pipes. Forwarding,
//! filters, collisions, crashes and restarts, slow starts, process groups, progress, logs,
//! list changes, elicitation, cancellation, Streamable HTTP, and the `servers` commands.

#![allow(deprecated)] // MCP logging is deprecated in 2026-07-28 only.

use std::time::{Duration, Instant};

use rmcp::RoleClient;
use rmcp::model::{
    ArgumentInfo, CallToolRequest, ClientRequest, CompleteRequestParams, GetPromptRequestParams,
    ReadResourceRequestParams, Reference, ResourceContents,
};
use rmcp::service::{PeerRequestOptions, RunningService};
use serde_json::{Value, json};

use crate::support::client::{
    ElicitAnswer, Event, Options, TestClient, connect_command, connect_with,
};
use crate::support::everything::server_everything_or_skip;
use crate::support::{Home, binary, call, connect, echo_server, stdout, text_of};

/// Approvals out of the way (this file tests forwarding), and time for servers to come up
/// before the first list.
const CONFIG: &str = "approvals:\n  default: allow\nservers:\n  startup_wait: 20s\n";

type Client = RunningService<RoleClient, TestClient>;

/// A servers_config.json entry that runs the echo server, with `extra` keys merged in.
fn echo(extra: Value) -> Value {
    let mut entry = json!({"command": echo_server().display().to_string()});
    if let (Some(entry), Some(extra)) = (entry.as_object_mut(), extra.as_object()) {
        entry.extend(extra.clone());
    }
    entry
}

fn home_with(servers: Value, config: &str) -> Home {
    let home = Home::new(config);
    home.write_servers(&json!({ "mcpServers": servers }));
    home
}

async fn tool_names(client: &Client) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

async fn call_text(client: &Client, tool: &str, args: Value) -> (String, bool) {
    let result = client.call_tool(call(tool, args)).await.expect(tool);
    (text_of(&result), result.is_error == Some(true))
}

/// The `switchboard://status` resource as JSON.
async fn status(client: &Client) -> Value {
    let read = client
        .read_resource(ReadResourceRequestParams::new("switchboard://status"))
        .await
        .expect("read switchboard://status");
    match &read.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => {
            serde_json::from_str(text).expect("status is JSON")
        }
        other => panic!("status is not text: {other:?}"),
    }
}

fn server_status<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["servers"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no server {name} in {status:#}"))
}

/// `whoami` answers "<pid> <tag>".
async fn server_pid(client: &Client, tool: &str) -> i32 {
    let (text, _) = call_text(client, tool, json!({})).await;
    text.split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("whoami answered {text:?}"))
}

/// Processes (not zombies) whose process group is `group`, from /proc.
#[cfg(target_os = "linux")]
fn live_in_group(group: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2].parse() == Ok(group) {
            found.push(pid);
        }
    }
    found
}

#[cfg(target_os = "linux")]
fn process_running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .map(|i| stat[i + 1..].trim_start())
            .is_some_and(|rest| !rest.starts_with('Z'))
    })
}

#[tokio::test]
async fn tools_resources_prompts_and_completion_are_forwarded_with_filters() {
    let home = home_with(
        json!({"echo": echo(json!({"tools": {"deny": ["crash", "spawn_*"]}}))}),
        CONFIG,
    );
    let (client, _events) = connect(&home).await;

    let names = tool_names(&client).await;
    for expected in [
        "echo__echo",
        "echo__sleep",
        "echo__progress",
        "echo__whoami",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} missing from {names:?}"
        );
    }
    for denied in ["echo__crash", "echo__spawn_grandchild"] {
        assert!(
            !names.contains(&denied.to_string()),
            "{denied} was not filtered: {names:?}"
        );
    }
    assert!(
        !names.contains(&"echo".to_string()),
        "tools carry the prefix: {names:?}"
    );

    assert_eq!(
        call_text(&client, "echo__echo", json!({"text": "hello"})).await,
        ("hello".into(), false)
    );
    // A tool denied by the filter does not exist for the client.
    let denied = client.call_tool(call("echo__crash", json!({}))).await;
    assert!(
        denied.is_err(),
        "a filtered tool must not be callable: {denied:?}"
    );

    let resources = client.list_all_resources().await.expect("resources/list");
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert!(
        uris.contains(&"echo://readme") && uris.contains(&"switchboard://status"),
        "{uris:?}"
    );
    let read = client
        .read_resource(ReadResourceRequestParams::new("echo://item/42"))
        .await
        .expect("read a templated resource");
    let ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("{read:?}")
    };
    assert_eq!(text, "item 42");

    let mut params = GetPromptRequestParams::new("echo__greet");
    params.arguments = json!({"name": "Ada"}).as_object().cloned();
    let prompt = client.get_prompt(params).await.expect("prompts/get");
    assert!(
        format!("{prompt:?}").contains("Say hello to Ada"),
        "{prompt:?}"
    );
    let completion = client
        .complete(CompleteRequestParams::new(
            Reference::for_prompt("echo__greet"),
            ArgumentInfo::new("name", "al"),
        ))
        .await
        .expect("completion/complete");
    assert_eq!(completion.completion.values, vec!["alice", "albert"]);

    let status = status(&client).await;
    let echo_status = server_status(&status, "echo");
    assert_eq!(echo_status["state"], "running");
    assert_eq!(
        echo_status["tools"],
        names.iter().filter(|n| n.starts_with("echo__")).count()
    );
    assert!(echo_status["pid"].as_u64().is_some(), "{echo_status}");
    client.cancel().await.ok();

    // Downstream calls leave audit rows like every other call, naming the server.
    let audit = home.run(&["audit", "--json", "--limit", "50"]);
    let rows: Vec<Value> = stdout(&audit)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        rows.iter()
            .any(|r| r["tool"] == "echo__echo" && r["provider"] == "echo" && r["outcome"] == "ok"),
        "{rows:#?}"
    );
}

#[tokio::test]
async fn progress_logs_and_list_changes_travel_end_to_end() {
    let home = home_with(json!({"echo": echo(json!({}))}), CONFIG);
    let (client, mut events) = connect(&home).await;

    let (text, _) = call_text(&client, "echo__progress", json!({"steps": 3})).await;
    assert_eq!(text, "3 steps done");
    let mut messages = Vec::new();
    let mut tokens = Vec::new();
    while messages.len() < 3 {
        let progress = events
            .wait_for(Duration::from_secs(10), |e| match e {
                Event::Progress(p) => Some(p.clone()),
                _ => None,
            })
            .await;
        assert_eq!(progress.total, Some(3.0));
        messages.push(progress.message.clone().unwrap_or_default());
        tokens.push(progress.progress_token.clone());
    }
    messages.sort();
    assert_eq!(messages, vec!["step 1", "step 2", "step 3"]);
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "one request, one token: {tokens:?}"
    );

    call_text(
        &client,
        "echo__log",
        json!({"text": "a downstream log line"}),
    )
    .await;
    let log = events
        .wait_for(Duration::from_secs(10), |e| match e {
            Event::Log(l) if l.data == json!("a downstream log line") => Some(l.clone()),
            _ => None,
        })
        .await;
    assert_eq!(log.logger.as_deref(), Some("echo/echo"));

    call_text(&client, "echo__add_tool", json!({"name": "fresh"})).await;
    events
        .wait_for(Duration::from_secs(10), |e| {
            matches!(e, Event::ToolsChanged).then_some(())
        })
        .await;
    assert!(
        tool_names(&client)
            .await
            .contains(&"echo__fresh".to_string())
    );
    assert_eq!(
        call_text(&client, "echo__fresh", json!({})).await,
        ("fresh".into(), false)
    );
    call_text(&client, "echo__remove_tool", json!({"name": "fresh"})).await;
    events
        .wait_for(Duration::from_secs(10), |e| {
            matches!(e, Event::ToolsChanged).then_some(())
        })
        .await;
    assert!(
        !tool_names(&client)
            .await
            .contains(&"echo__fresh".to_string())
    );

    // A name that cannot be offered (a dot) is left out; the server keeps serving the rest.
    call_text(&client, "echo__add_tool", json!({"name": "has.dot"})).await;
    call_text(&client, "echo__add_tool", json!({"name": "after"})).await;
    events
        .wait_for(Duration::from_secs(10), |e| {
            matches!(e, Event::ToolsChanged).then_some(())
        })
        .await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"echo__after".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("has.dot")), "{names:?}");
    assert_eq!(
        server_status(&status(&client).await, "echo")["state"],
        "running"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn elicitation_reaches_the_client_and_cancellation_reaches_the_server() {
    let home = home_with(json!({"echo": echo(json!({}))}), CONFIG);
    let options = Options {
        elicit: Some(ElicitAnswer::Accept(json!({"confirm": true}))),
        ..Options::default()
    };
    let (client, mut events) = connect_with(&home, options).await;

    let (text, is_error) = call_text(&client, "echo__ask", json!({"message": "Go ahead?"})).await;
    assert_eq!(
        (text.as_str(), is_error),
        ("accepted {\"confirm\":true}", false)
    );
    let asked = client.service().elicitations();
    assert_eq!(asked.len(), 1);
    assert!(format!("{:?}", asked[0]).contains("Go ahead?"), "{asked:?}");

    // A long call, cancelled by the client once the server is working on it.
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(call(
        "echo__sleep",
        json!({"ms": 60000}),
    )));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("send sleep");
    events
        .wait_for(Duration::from_secs(10), |e| match e {
            Event::Progress(p) if p.message.as_deref() == Some("sleeping") => Some(()),
            _ => None,
        })
        .await;
    handle
        .cancel(Some("changed my mind".into()))
        .await
        .expect("cancel");
    events
        .wait_for(Duration::from_secs(10), |e| match e {
            Event::Log(l) if l.data == json!("sleep cancelled") => Some(()),
            _ => None,
        })
        .await;
    // The server keeps serving.
    assert_eq!(
        call_text(&client, "echo__echo", json!({"text": "still"}))
            .await
            .0,
        "still"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_client_without_elicitation_gets_the_question_in_the_inbox_or_a_clear_refusal() {
    // With the approval inbox (the default), the question waits there for the person.
    let home = home_with(json!({"echo": echo(json!({}))}), CONFIG);
    let (client, mut events) = connect(&home).await;
    let asking = tokio::spawn({
        let peer = client.peer().clone();
        async move {
            peer.call_tool(call("echo__ask", json!({"message": "Go?"})))
                .await
        }
    });
    let id = events
        .wait_for(Duration::from_secs(20), |e| match e {
            Event::Log(l) => l.data.as_str().and_then(|text| {
                let (_, rest) = text.split_once("switchboard approvals approve ")?;
                Some(
                    rest.split(|c: char| !c.is_alphanumeric())
                        .next()?
                        .to_string(),
                )
            }),
            _ => None,
        })
        .await;
    let approved = home.run(&["approvals", "approve", &id]);
    assert!(approved.status.success(), "{}", stdout(&approved));
    let result = asking.await.expect("join").expect("echo__ask");
    assert!(text_of(&result).starts_with("accepted"), "{result:?}");
    client.cancel().await.ok();

    // Without it, nothing can ask the person: a clear refusal.
    let config = "approvals:\n  default: allow\n  inbox: false\nservers:\n  startup_wait: 20s\n";
    let home = home_with(json!({"echo": echo(json!({}))}), config);
    let (client, _events) = connect(&home).await;
    let (text, _) = call_text(&client, "echo__ask", json!({"message": "Go?"})).await;
    assert!(text.contains("elicitation failed"), "{text}");
    assert!(text.contains("cannot ask the person"), "{text}");
    assert!(text.contains("approvals.inbox"), "{text}");
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_crash_fails_the_call_in_flight_and_the_server_comes_back() {
    let restart = json!({"restart": {"max_attempts": 3, "initial_delay": "100ms"}});
    let home = home_with(json!({"echo": echo(restart)}), CONFIG);
    let (client, mut events) = connect(&home).await;
    let before = server_pid(&client, "echo__whoami").await;

    let (text, is_error) = call_text(&client, "echo__crash", json!({"code": 3})).await;
    assert!(is_error, "{text}");
    assert!(
        text.contains("server echo stopped while the tool call was running"),
        "{text}"
    );
    assert!(text.contains("exited with status 3"), "{text}");

    // Withdrawn while down, announced again when back.
    events
        .wait_for(Duration::from_secs(10), |e| {
            matches!(e, Event::ToolsChanged).then_some(())
        })
        .await;
    loop {
        if tool_names(&client)
            .await
            .contains(&"echo__whoami".to_string())
        {
            break;
        }
        events
            .wait_for(Duration::from_secs(10), |e| {
                matches!(e, Event::ToolsChanged).then_some(())
            })
            .await;
    }
    let after = server_pid(&client, "echo__whoami").await;
    assert_ne!(before, after, "a new process serves after the restart");
    let status = status(&client).await;
    let echo_status = server_status(&status, "echo");
    assert_eq!(echo_status["state"], "running");
    assert_eq!(echo_status["restarts"], 1);
    assert!(
        echo_status["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("exited with status 3")),
        "{echo_status}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_server_that_never_answers_delays_neither_initialize_nor_tools_list() {
    let home = home_with(
        json!({
            "stuck": echo(json!({"args": ["--hang"], "startup_timeout": 120})),
            "echo": echo(json!({})),
        }),
        "approvals:\n  default: allow\nservers:\n  startup_wait: 300ms\n",
    );
    let started = Instant::now();
    let (client, mut events) = connect(&home).await;
    let initialized = started.elapsed();
    let names = tool_names(&client).await;
    let listed = started.elapsed();
    assert!(
        initialized < Duration::from_secs(5),
        "initialize took {initialized:?}"
    );
    assert!(
        listed < Duration::from_secs(5),
        "tools/list took {listed:?} (stuck's startup_timeout is 120 s)"
    );
    assert!(!names.iter().any(|n| n.starts_with("stuck__")), "{names:?}");
    // The echo server is listed now, or announced when it comes up.
    while !tool_names(&client)
        .await
        .contains(&"echo__echo".to_string())
    {
        events
            .wait_for(Duration::from_secs(20), |e| {
                matches!(e, Event::ToolsChanged).then_some(())
            })
            .await;
    }
    assert_eq!(
        call_text(&client, "echo__echo", json!({"text": "ok"}))
            .await
            .0,
        "ok"
    );
    let status = status(&client).await;
    assert_eq!(server_status(&status, "stuck")["state"], "starting");
    client.cancel().await.ok();
}

#[tokio::test]
async fn colliding_and_failing_servers_are_reported_and_the_rest_serve() {
    let home = home_with(
        json!({
            "first": echo(json!({"prefix": ""})),
            "second": echo(json!({"prefix": ""})),
            "broken": echo(json!({"args": ["--exit-at-start", "4"], "restart": {"max_attempts": 0}})),
            "typo": {"command": "x", "startup_timeout": "soon"},
            "missing": {"command": "no-such-program-for-switchboard", "restart": {"max_attempts": 0}},
        }),
        CONFIG,
    );
    let (client, _events) = connect(&home).await;
    assert_eq!(
        call_text(&client, "echo", json!({"text": "one owner"}))
            .await
            .0,
        "one owner"
    );
    let status = status(&client).await;

    let second = server_status(&status, "second");
    assert_eq!(second["state"], "refused", "{second}");
    let reason = second["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("first") && reason.contains("second"),
        "names both owners: {reason}"
    );
    assert_eq!(server_status(&status, "first")["state"], "running");

    let broken = server_status(&status, "broken");
    assert_eq!(broken["state"], "failed", "{broken}");
    let error = broken["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("exited with status 4"), "{error}");
    assert!(
        error.contains("refusing to start"),
        "the server's stderr is quoted: {error}"
    );

    // Started through the guard, a missing program is still the operating system's error.
    let missing = server_status(&status, "missing");
    assert_eq!(missing["state"], "failed", "{missing}");
    let error = missing["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot start \"no-such-program-for-switchboard\": No such file")
            && error.contains("is it installed"),
        "{error}"
    );

    let typo = server_status(&status, "typo");
    assert_eq!(typo["state"], "invalid");
    assert!(
        typo["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("mcpServers.typo.startup_timeout"),
        "{typo}"
    );
    client.cancel().await.ok();
}

/// The process group of `pid`, from /proc (0 when it is gone).
#[cfg(target_os = "linux")]
fn group_of(pid: i32) -> i32 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().nth(2)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Each still running process of `pids` with its parent, for a failure's message.
#[cfg(target_os = "linux")]
fn with_parents(pids: &[i32]) -> Vec<String> {
    pids.iter()
        .map(|pid| {
            let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1).map(str::to_string)
                })
                .unwrap_or_default();
            format!("{pid} (parent {parent})")
        })
        .collect()
}

/// Processes a test started indirectly, killed when the test ends however it ends, so a
/// failing run leaves nothing behind on the machine either.
#[cfg(target_os = "linux")]
struct Leftovers(Vec<i32>);

#[cfg(target_os = "linux")]
impl Drop for Leftovers {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if process_running(pid) {
                // SAFETY: kill has no memory effects.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Start a server that leaves two grandchildren behind, one in its process group and one
/// in a group of its own that ignores SIGTERM (what a server's helper that escapes a
/// process-group kill looks like), end switchboard with `end`, and check that no descendant
/// is left: within 2 s of a kill -9, else once switchboard has exited.
#[cfg(target_os = "linux")]
async fn no_process_outlives_switchboard(end: &str) {
    let home = home_with(json!({"echo": echo(json!({}))}), CONFIG);
    let mut launcher = None;
    let (client, _events) = if end == "parent dies" {
        let mut command = tokio::process::Command::new(echo_server());
        command.arg("--launch").arg(binary()).arg("serve");
        let (client, events, pid) = connect_command(&home, command, Options::default()).await;
        launcher = pid;
        (client, events)
    } else {
        connect(&home).await
    };
    let server = server_pid(&client, "echo__whoami").await;
    let group = group_of(server);
    let spawn = async |args: Value| -> i32 {
        let (pid, _) = call_text(&client, "echo__spawn_grandchild", args).await;
        pid.parse().expect("grandchild pid")
    };
    let in_group = spawn(json!({})).await;
    let escaped = spawn(json!({"own_group": true, "ignore_term": true})).await;
    let _leftovers = Leftovers(vec![server, in_group, escaped]);
    let members = live_in_group(group);
    assert!(
        members.contains(&server) && members.contains(&in_group),
        "{members:?}"
    );
    assert_eq!(group_of(escaped), escaped, "a group of its own");
    let switchboard = status(&client).await["pid"].as_i64().expect("pid") as i32;
    let left = || {
        let mut left = live_in_group(group);
        left.extend(
            [server, in_group, escaped]
                .into_iter()
                .filter(|&p| process_running(p)),
        );
        left.sort_unstable();
        left.dedup();
        left
    };

    let limit = match end {
        "stdin closes" => {
            client.cancel().await.ok();
            Duration::from_secs(15)
        }
        "SIGTERM" => {
            unsafe { libc::kill(switchboard, libc::SIGTERM) };
            Duration::from_secs(15)
        }
        "SIGINT" => {
            unsafe { libc::kill(switchboard, libc::SIGINT) };
            Duration::from_secs(15)
        }
        "parent dies" => {
            unsafe { libc::kill(launcher.expect("launcher pid") as i32, libc::SIGKILL) };
            Duration::from_secs(15)
        }
        "SIGKILL" => {
            // No chance to clean up: only what the kernel does for switchboard counts.
            unsafe { libc::kill(switchboard, libc::SIGKILL) };
            Duration::from_secs(2)
        }
        other => panic!("unknown ending {other}"),
    };
    let deadline = Instant::now() + limit;
    loop {
        let left = left();
        if left.is_empty() && !process_running(switchboard) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {end}, within {limit:?}: switchboard running: {}; left: {:?}",
            process_running(switchboard),
            with_parents(&left)
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn no_child_process_remains_when_stdin_closes() {
    no_process_outlives_switchboard("stdin closes").await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn no_child_process_remains_after_sigterm_or_sigint() {
    no_process_outlives_switchboard("SIGTERM").await;
    no_process_outlives_switchboard("SIGINT").await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn no_descendant_remains_when_switchboard_is_killed_outright() {
    no_process_outlives_switchboard("SIGKILL").await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn no_child_process_remains_when_the_client_process_dies() {
    no_process_outlives_switchboard("parent dies").await;
}

#[tokio::test]
async fn the_reference_server_everything_is_forwarded_over_stdio() {
    let Some(everything) =
        server_everything_or_skip("the_reference_server_everything_is_forwarded_over_stdio")
    else {
        return;
    };
    let home = home_with(
        json!({"everything": {"command": "node", "args": [everything.display().to_string(), "stdio"]}}),
        CONFIG,
    );
    let (client, mut events) = connect(&home).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"everything__echo".to_string()), "{names:?}");
    assert_eq!(
        call_text(&client, "everything__echo", json!({"message": "hi"})).await,
        ("Echo: hi".into(), false)
    );
    let (sum, is_error) = call_text(&client, "everything__get-sum", json!({"a": 2, "b": 3})).await;
    assert!(!is_error && sum.contains('5'), "{sum}");
    let (text, _) = call_text(
        &client,
        "everything__trigger-long-running-operation",
        json!({"duration": 0.3, "steps": 3}),
    )
    .await;
    assert!(text.contains("Long running operation completed"), "{text}");
    let progress = events
        .wait_for(Duration::from_secs(10), |e| match e {
            Event::Progress(p) => Some(p.clone()),
            _ => None,
        })
        .await;
    assert_eq!(progress.total, Some(3.0));
    let prompts = client.list_all_prompts().await.expect("prompts/list");
    assert!(
        prompts.iter().all(|p| p.name.starts_with("everything__")),
        "{prompts:?}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_streamable_http_server_is_forwarded() {
    let Some(everything) = server_everything_or_skip("a_streamable_http_server_is_forwarded")
    else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut remote = tokio::process::Command::new("node")
        .arg(&everything)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start server-everything over HTTP");
    // Wait for its "listening" line.
    let stderr = remote.stderr.take().expect("stderr");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("listening") {
                return;
            }
        }
        panic!("server-everything ended before listening");
    })
    .await
    .expect("server-everything listens within 30 s");

    let home = home_with(
        json!({"remote": {"type": "http", "url": format!("http://127.0.0.1:{port}/mcp"),
                          "headers": {"X-Test": "${env:HOME}"}}}),
        CONFIG,
    );
    let (client, _events) = connect(&home).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"remote__echo".to_string()), "{names:?}");
    assert_eq!(
        call_text(&client, "remote__echo", json!({"message": "over http"})).await,
        ("Echo: over http".into(), false)
    );
    assert_eq!(
        server_status(&status(&client).await, "remote")["transport"],
        "http"
    );
    client.cancel().await.ok();
    remote.kill().await.ok();
}

#[tokio::test]
async fn servers_import_list_and_test_from_the_command_line() {
    let home = Home::new(CONFIG);
    let client_config = home.path().join("claude_desktop_config.json");
    std::fs::write(
        &client_config,
        serde_json::to_string_pretty(&json!({"mcpServers": {
            "echo": {"command": echo_server().display().to_string(), "env": {"ECHO_SERVER_TAG": "imported"}},
            "my tools": {"command": echo_server().display().to_string(), "env": {"ECHO_SERVER_TAG": "mine"}},
            "switchboard": {"command": binary().display().to_string(), "args": ["serve"]},
        }, "globalShortcut": ""}))
        .unwrap(),
    )
    .unwrap();
    let imported = home.run(&["servers", "import", client_config.to_str().unwrap()]);
    let text = stdout(&imported);
    assert!(imported.status.success(), "{text}");
    assert!(text.contains("imported into"), "{text}");
    assert!(
        text.contains("launches switchboard itself; not imported"),
        "{text}"
    );
    // The entry to put back launches this switchboard.
    let entry_start = text.find("{\n").expect("a JSON entry is printed");
    let entry: Value = serde_json::from_str(&text[entry_start..]).expect("the entry is JSON");
    assert_eq!(
        entry["mcpServers"]["switchboard"]["command"],
        binary().display().to_string()
    );
    assert_eq!(entry["mcpServers"]["switchboard"]["args"], json!(["serve"]));

    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join("servers_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        written["mcpServers"]["echo"]["env"]["ECHO_SERVER_TAG"],
        "imported"
    );
    assert_eq!(written["mcpServers"]["my tools"]["prefix"], "my_tools");
    assert!(written["mcpServers"].get("switchboard").is_none());
    // Importing again adds nothing and changes nothing.
    let again = home.run(&["servers", "import", client_config.to_str().unwrap()]);
    assert!(
        stdout(&again).contains("no new servers"),
        "{}",
        stdout(&again)
    );

    let tested = home.run(&["servers", "test", "echo"]);
    let text = stdout(&tested);
    assert!(tested.status.success(), "{text}");
    assert!(text.contains("echo: running"), "{text}");
    assert!(text.contains("echo__whoami"), "{text}");

    let listed = home.run(&["servers", "list"]);
    let text = stdout(&listed);
    assert!(listed.status.success(), "{text}");
    assert!(text.contains("echo") && text.contains("my tools"), "{text}");
    assert!(text.contains("running"), "{text}");

    // While a switchboard serves, the listing is its live view.
    let (client, _events) = connect(&home).await;
    assert!(
        tool_names(&client)
            .await
            .contains(&"my_tools__echo".to_string())
    );
    let live = home.run(&["servers", "list", "--json"]);
    let report: Value = serde_json::from_slice(&live.stdout).expect("JSON listing");
    assert_eq!(report["probed"], false, "{report:#}");
    let servers = &report["processes"][0]["servers"];
    assert!(
        servers.as_array().is_some_and(|s| s.len() == 2),
        "{report:#}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn junk_on_a_servers_stdout_is_skipped_and_the_server_keeps_serving() {
    let home = home_with(json!({"echo": echo(json!({}))}), CONFIG);
    let (client, _events) = connect(&home).await;
    // A stray line, then one over the 16 MiB line limit: each is dropped, the call answers.
    for bytes in [20, 17 * 1024 * 1024] {
        let (text, is_error) = call_text(&client, "echo__junk", json!({"bytes": bytes})).await;
        assert!(
            !is_error && text == "junk written: true",
            "{bytes} bytes: {text}"
        );
    }
    let (text, _) = call_text(&client, "echo__echo", json!({"text": "still here"})).await;
    assert_eq!(text, "still here");
    // The same process answered throughout.
    let status = status(&client).await;
    assert_eq!(server_status(&status, "echo")["restarts"], 0, "{status:#}");
    client.cancel().await.ok();
}
