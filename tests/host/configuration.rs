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
        assert_eq!(crate::support::text_of(&result), tool, "the later server still serves its tools");
    }
    let resources = client.list_all_resources().await.expect("resources/list");
    let readmes = resources.iter().filter(|r| r.uri == "echo://readme").count();
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
        server_in(&status["servers"], "alpha").get("withheld").is_none(),
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
    assert!(line.contains("\"disabled\": true"), "advice that can fix it: {text}");
    assert!(!line.contains("prefix in config.yaml"), "advice that cannot fix it: {text}");

    // Doctor agrees, and the log says it.
    let doctor = stdout(&home.run(&["doctor"]));
    let line = doctor
        .lines()
        .find(|l| l.trim_start().starts_with("beta"))
        .unwrap_or_else(|| panic!("no beta line:\n{doctor}"));
    assert!(line.contains("running") && line.contains("withheld"), "{doctor}");
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
