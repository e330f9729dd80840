//! Configuration that fails fast as promised: `config check` catches what the server would
//! refuse, other hosts' spellings are understood, clashes withhold only what clashes, a call
//! waits for the server it names, HTTP bounds what a client may hold, and one-shot commands
//! keep their log out of their answer.

use serde_json::{Value, json};

use crate::support::{Home, Plugin, echo_server, stderr, stdout};

/// A servers_config.json entry that runs the echo server, with `extra` keys merged in.
fn echo(extra: Value) -> Value {
    let mut entry = json!({"command": echo_server().display().to_string()});
    if let (Some(entry), Some(extra)) = (entry.as_object_mut(), extra.as_object()) {
        entry.extend(extra.clone());
    }
    entry
}

#[test]
fn one_shot_commands_log_to_the_file_and_to_stderr_only_with_v() {
    let home = Home::new("connectors:\n  probe: {enabled: true}\n");
    home.install(Plugin::Probe);
    let quiet = home
        .command()
        .env("SWITCHBOARD_LOG", "info")
        .arg("doctor")
        .output()
        .unwrap();
    // (Whether doctor finds everything healthy is beside the point here.)
    for (stream, text) in [("stdout", stdout(&quiet)), ("stderr", stderr(&quiet))] {
        assert!(
            !text.contains("plugin loaded"),
            "doctor's {stream} holds a log line:\n{text}"
        );
    }
    assert!(stdout(&quiet).contains("plugins:"), "{}", stdout(&quiet));
    let log = std::fs::read_to_string(home.path().join("state").join("switchboard.log"))
        .expect("the one-shot command wrote the log file");
    assert!(log.contains("plugin loaded"), "{log}");

    let verbose = home
        .command()
        .env("SWITCHBOARD_LOG", "info")
        .args(["-v", "plugins", "list"])
        .output()
        .unwrap();
    assert!(verbose.status.success(), "{}", stderr(&verbose));
    assert!(
        stderr(&verbose).contains("plugin loaded"),
        "{}",
        stderr(&verbose)
    );
    assert!(
        !stdout(&verbose).contains("plugin loaded"),
        "{}",
        stdout(&verbose)
    );
}

#[test]
fn enabled_false_is_understood_as_disabled() {
    let home = Home::new("");
    home.write_servers(&json!({"mcpServers": {
        "off": echo(json!({"enabled": false})),
        "on": echo(json!({"enabled": true, "prefix": "on"})),
    }}));
    let output = home.run(&["servers", "list", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let state = |name: &str| {
        report["servers"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["name"] == name))
            .map(|s| s["state"].clone())
            .unwrap_or_else(|| panic!("no {name} in {report:#}"))
    };
    assert_eq!(state("off"), "disabled", "{report:#}");
    assert_eq!(state("on"), "running", "{report:#}");
    let tools = stdout(&home.run(&["tools"]));
    assert!(tools.contains("on__echo"), "{tools}");
    assert!(
        !tools.contains("off__"),
        "a disabled server's tools are listed:\n{tools}"
    );
}

#[test]
fn config_check_refuses_what_the_server_would() {
    // A section the plugin's schema rejects: the server would fail the plugin.
    let home = Home::new("connectors:\n  probe:\n    enabled: true\n    config: {greeting: 42}\n");
    home.install(Plugin::Probe);
    let check = home.run(&["config", "check"]);
    let text = stdout(&check);
    assert!(!check.status.success(), "{text}");
    assert!(
        text.contains("invalid: ") && text.contains("connectors.probe.config.greeting"),
        "{text}"
    );
    let doctor = stdout(&home.run(&["doctor"]));
    assert!(
        doctor.contains("connectors.probe.config.greeting"),
        "the server refuses the same section:\n{doctor}"
    );

    // A misspelt connector: refused with the nearest installed name.
    home.write_config("connectors:\n  prboe:\n    enabled: true\n");
    let check = home.run(&["config", "check"]);
    let text = stdout(&check);
    assert!(!check.status.success(), "{text}");
    assert!(text.contains("connectors.prboe"), "{text}");
    assert!(text.contains("did you mean `probe`?"), "{text}");
    // ... and a shipped connector's name is known even where its library is not installed.
    home.write_config("connectors:\n  fiels: {}\n");
    let text = stdout(&home.run(&["config", "check"]));
    assert!(text.contains("did you mean `files`?"), "{text}");

    // A good section is checked against the schema and passes.
    home.write_config("connectors:\n  probe:\n    enabled: true\n    config: {greeting: howdy}\n");
    let check = home.run(&["config", "check"]);
    let text = stdout(&check);
    assert!(check.status.success(), "{text}");
    assert!(
        text.contains("connectors.probe: matches the schema of probe"),
        "{text}"
    );

    // servers_config.json, read by the server's own parser: a broken file, then a wrong entry.
    std::fs::write(
        home.path().join("servers_config.json"),
        "{\"mcpServers\": {",
    )
    .unwrap();
    let check = home.run(&["config", "check"]);
    let text = stdout(&check);
    assert!(!check.status.success(), "{text}");
    assert!(
        text.contains("servers_config.json: not valid JSON"),
        "{text}"
    );
    home.write_servers(&json!({"mcpServers": {
        "slow": echo(json!({"startup_timeout": "soon"})),
        "fine": echo(json!({})),
    }}));
    let check = home.run(&["config", "check"]);
    let text = stdout(&check);
    assert!(!check.status.success(), "{text}");
    assert!(text.contains("mcpServers.slow.startup_timeout"), "{text}");
    home.write_servers(&json!({"mcpServers": {"fine": echo(json!({"alwaysAllow": []}))}}));
    let check = home.run(&["config", "check"]);
    let text = stdout(&check);
    assert!(check.status.success(), "{text}");
    assert!(
        text.contains("mcpServers.fine.alwaysAllow is not a switchboard key"),
        "{text}"
    );
}

/// The servers of `status` (the `switchboard://status` document or a `servers list --json`
/// report) by name.
fn server_in<'a>(servers: &'a Value, name: &str) -> &'a Value {
    servers
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no server {name} in {servers:#}"))
}

#[tokio::test]
async fn a_resource_uri_clash_withholds_only_the_clashing_resources_and_says_so_everywhere() {
    // Two echo servers under different prefixes: their tools are distinct, their resource
    // URIs (echo://readme, echo://item/{id}) are the same.
    let home = Home::new("servers:\n  startup_wait: 20s\n");
    home.write_servers(&json!({"mcpServers": {
        "alpha": echo(json!({})),
        "beta": echo(json!({})),
    }}));
    let (client, _events) = crate::support::connect(&home).await;
    for tool in ["alpha__echo", "beta__echo"] {
        let result = client
            .call_tool(crate::support::call(tool, json!({"text": tool})))
            .await
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert_eq!(
            crate::support::text_of(&result),
            tool,
            "the later server still serves its tools"
        );
    }
    let resources = client.list_all_resources().await.expect("resources/list");
    let readmes = resources
        .iter()
        .filter(|r| r.uri == "echo://readme")
        .count();
    assert_eq!(readmes, 1, "{resources:?}");
    client
        .read_resource(rmcp::model::ReadResourceRequestParams::new("echo://readme"))
        .await
        .expect("the kept copy is readable");
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "switchboard://status",
        ))
        .await
        .expect("status");
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("status is text")
    };
    let status: Value = serde_json::from_str(text).unwrap();
    let beta = server_in(&status["servers"], "beta");
    assert_eq!(beta["state"], "running", "{beta:#}");
    let withheld: Vec<&str> = beta["withheld"]
        .as_array()
        .unwrap_or_else(|| panic!("no withheld list: {beta:#}"))
        .iter()
        .map(|w| w["uri"].as_str().unwrap())
        .collect();
    assert_eq!(withheld, ["echo://readme", "echo://item/{id}"], "{beta:#}");
    assert!(beta["withheld"][0]["kept_by"] == "alpha", "{beta:#}");
    assert!(
        server_in(&status["servers"], "alpha")
            .get("withheld")
            .is_none(),
        "{status:#}"
    );
    client.cancel().await.ok();

    // No switchboard serving now: `servers list` starts them itself and says the same.
    let list = home.run(&["servers", "list"]);
    let text = stdout(&list);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("beta"))
        .unwrap_or_else(|| panic!("no beta line:\n{text}"));
    assert!(line.contains("running"), "{text}");
    assert!(line.contains("2 resources withheld"), "{text}");
    assert!(line.contains("\"echo://readme\" (kept by alpha)"), "{text}");
    assert!(
        line.contains("\"disabled\": true"),
        "advice that can fix it: {text}"
    );
    assert!(
        !line.contains("prefix in config.yaml"),
        "advice that cannot fix it: {text}"
    );

    // Doctor agrees, and the log says it.
    let doctor = stdout(&home.run(&["doctor"]));
    let line = doctor
        .lines()
        .find(|l| l.trim_start().starts_with("beta"))
        .unwrap_or_else(|| panic!("no beta line:\n{doctor}"));
    assert!(
        line.contains("running") && line.contains("withheld"),
        "{doctor}"
    );
    assert!(
        doctor.contains("withheld: resource \"echo://readme\" is offered by both alpha and beta: alpha's is served, beta's is withheld"),
        "{doctor}"
    );
    let log = std::fs::read_to_string(home.path().join("state").join("switchboard.log")).unwrap();
    assert!(
        log.contains("resource template \"echo://item/{id}\" is offered by both alpha and beta"),
        "{log}"
    );
}

/// A servers_config.json entry that runs `program args...` once the file `gate` exists.
fn gated(gate: &std::path::Path, program: &std::path::Path, args: &[&str]) -> Value {
    let mut argv = vec![
        "-c".to_string(),
        "while [ ! -e \"$0\" ]; do sleep 0.02; done; exec \"$@\"".to_string(),
        gate.display().to_string(),
        program.display().to_string(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    json!({"command": "sh", "args": argv, "restart": {"max_attempts": 0}})
}

/// The answer to a call of `tool`: its text, or the JSON-RPC error's text.
async fn answer(
    client: &rmcp::service::RunningService<rmcp::RoleClient, crate::support::client::TestClient>,
    tool: &str,
) -> Result<String, String> {
    client
        .call_tool(crate::support::call(tool, json!({"text": "hello"})))
        .await
        .map(|r| crate::support::text_of(&r))
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_call_to_a_starting_server_waits_for_it_and_then_answers() {
    let gate_dir = tempfile::tempdir().unwrap();
    let gate = gate_dir.path().join("open");
    // The first lists hardly wait for servers; a call waits up to 20 s.
    let home = Home::new("servers:\n  startup_wait: 1ms\n  call_wait: 20s\n");
    home.write_servers(&json!({"mcpServers": {
        "late": gated(&gate, &echo_server(), &[]),
        "doomed": gated(&gate, &echo_server(), &["--exit-at-start", "3"]),
    }}));
    let (client, _events) = crate::support::connect(&home).await;

    // A name no starting server's prefix claims is unknown at once, gate still shut.
    let unknown = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        answer(&client, "nosuch__echo"),
    )
    .await
    .expect("an unknown name does not wait");
    assert!(
        unknown.as_ref().is_err_and(|e| e.contains("unknown tool")),
        "{unknown:?}"
    );

    let late = answer(&client, "late__echo");
    let doomed = answer(&client, "doomed__echo");
    let missing = answer(&client, "late__no_such_tool");
    std::fs::write(&gate, "").unwrap();
    let (late, doomed, missing) = tokio::join!(late, doomed, missing);
    assert_eq!(
        late,
        Ok("hello".to_string()),
        "the call waited for its server"
    );
    let doomed = doomed.expect_err("its server failed");
    assert!(doomed.contains("server doomed did not start"), "{doomed}");
    assert!(
        doomed.contains("exited with status 3"),
        "says why: {doomed}"
    );
    let missing = missing.expect_err("the running server has no such tool");
    assert!(missing.contains("unknown tool"), "{missing}");
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_call_to_a_server_that_stays_starting_is_told_so_after_call_wait() {
    let home = Home::new("servers:\n  startup_wait: 1ms\n  call_wait: 300ms\n");
    home.write_servers(&json!({"mcpServers": {"stuck": echo(json!({"args": ["--hang"]}))}}));
    let (client, _events) = crate::support::connect(&home).await;
    let error = answer(&client, "stuck__echo")
        .await
        .expect_err("no answer from a hung server");
    assert!(
        error.contains("server stuck is still starting after 0.3 s"),
        "{error}"
    );
    client.cancel().await.ok();
}

/// A connection that sends `bytes` (maybe half a request) and keeps the socket open.
fn open_with(port: u16, bytes: &[u8]) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(bytes).unwrap();
    stream
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Read one response to `GET /health` on a kept-alive connection (the body is small JSON).
fn health_answer(stream: &mut std::net::TcpStream) -> std::io::Result<String> {
    use std::io::Read;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"ok\"") {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&buffer[..read]);
    }
    Ok(String::from_utf8_lossy(&seen).into_owned())
}

#[test]
fn http_drops_a_connection_that_stalls_its_headers() {
    use std::io::Read;
    let home = Home::new("serve:\n  http:\n    header_timeout: 300ms\n");
    let server = home.serve_http(&["--no-auth"]);
    let port = server.port;
    let mut stalled = open_with(port, b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty");
    // The event: the server closes the connection (at most a 408 first). The read timeout is
    // only a bound on the test, well past the configured 300 ms.
    stalled
        .set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    let mut rest = Vec::new();
    let ended = stalled.read_to_end(&mut rest);
    assert!(
        ended.is_ok(),
        "the stalled connection was not closed: {ended:?}"
    );
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
        "{rest}"
    );
    // The server still serves.
    let mut fresh = open_with(port, HEALTH);
    assert!(
        health_answer(&mut fresh)
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
}

#[test]
fn http_connections_over_the_cap_wait_and_the_served_ones_go_on() {
    let home = Home::new("serve:\n  http:\n    header_timeout: 60s\n    max_connections: 2\n");
    let server = home.serve_http(&["--no-auth"]);
    let port = server.port;
    // Two connections take the two slots: one served and kept alive, one idle.
    let mut served = open_with(port, HEALTH);
    assert!(
        health_answer(&mut served)
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    let idle = open_with(port, b"");
    // A third is over the cap: it is not served while both are open ...
    let mut waiting = open_with(port, HEALTH);
    waiting
        .set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let early = health_answer(&mut waiting);
    assert!(
        early
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut),
        "a connection over the cap was served: {early:?}"
    );
    // ... and the served connection is not affected.
    use std::io::Write;
    served.write_all(HEALTH).unwrap();
    assert!(
        health_answer(&mut served)
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    // When a slot frees, the waiting connection is taken and answered.
    drop(idle);
    waiting
        .set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    assert!(
        health_answer(&mut waiting)
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
}
