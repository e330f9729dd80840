//! Loading plugins: interface versions (older minor loads, newer major and broken layouts are
//! refused in one line while the rest load), plugins dropped in at run time, configuration
//! checked against each plugin's schema, and name collisions.

use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, ClientRequest, ReadResourceRequest, ReadResourceRequestParams,
    ServerResult,
};
use rmcp::service::PeerRequestOptions;

use crate::support::client::Event;
use crate::support::{Home, Plugin, connect, stderr, stdout};

fn tool_names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

#[tokio::test]
async fn incompatible_libraries_are_refused_in_one_line_and_the_rest_load() {
    let home = Home::new("connectors:\n  probe: {enabled: true}\n");
    home.install(Plugin::Probe);
    let older = home.install(Plugin::CompatOlderMinor);
    let major = home.install(Plugin::CompatNewerMajor);
    let broken = home.install(Plugin::CompatBrokenLayout);
    let garbage = home.plugins().join(format!(
        "{}garbage.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    ));
    std::fs::write(&garbage, b"this is not a shared library").unwrap();

    // The MCP view: everything loadable is there.
    let (client, _events) = connect(&home).await;
    let names = tool_names(&client.list_all_tools().await.expect("tools/list"));
    assert!(names.contains(&"probe__echo".to_string()), "{names:?}");
    assert!(
        names.contains(&"compat-v1_0__hello".to_string()),
        "older minor must load: {names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("compat-v2") || n.starts_with("compat-broken")),
        "{names:?}"
    );
    let hello = client
        .call_tool(CallToolRequestParams::new("compat-v1_0__hello"))
        .await
        .expect("older plugin callable");
    let text = format!("{:?}", hello.content);
    assert!(text.contains("plugin-api 1.0.0"), "{text}");
    client.cancel().await.ok();

    // The person's view: one line per refusal, naming the file and the reason (the log,
    // which a one-shot command writes to stderr only with -v).
    let output = home.run(&["-v", "plugins", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let log = stderr(&output);
    let line_for = |path: &std::path::Path| {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        log.lines()
            .find(|l| l.contains("plugin refused") && l.contains(&name))
            .unwrap_or_else(|| panic!("no refusal line for {name} in:\n{log}"))
            .to_string()
    };
    assert!(
        line_for(&major).contains("built against switchboard-plugin-api 2.0.0"),
        "{}",
        line_for(&major)
    );
    assert!(
        line_for(&broken).contains("interface types do not match"),
        "{}",
        line_for(&broken)
    );
    assert!(
        line_for(&garbage).contains("not a loadable library"),
        "{}",
        line_for(&garbage)
    );
    assert!(!log.contains(&format!("refused: {}", older.display())));

    // `plugins check` says the same about one file, and exits non-zero.
    let check = home.run(&["plugins", "check", major.to_str().unwrap()]);
    assert!(!check.status.success());
    assert_eq!(stdout(&check).lines().count(), 1, "{}", stdout(&check));
    let check = home.run(&["plugins", "check", older.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stdout(&check));
}

#[tokio::test]
async fn a_plugin_dropped_in_while_serving_is_loaded_and_announced() {
    let home = Home::new("connectors:\n  probe: {enabled: true}\n");
    let (client, mut events) = connect(&home).await;
    let before = tool_names(&client.list_all_tools().await.expect("tools/list"));
    assert!(
        !before.iter().any(|n| n.starts_with("probe__")),
        "{before:?}"
    );

    home.install(Plugin::Probe);
    events
        .wait_for(Duration::from_secs(20), |e| {
            matches!(e, Event::ToolsChanged).then_some(())
        })
        .await;
    let after = tool_names(&client.list_all_tools().await.expect("tools/list"));
    assert!(after.contains(&"probe__echo".to_string()), "{after:?}");

    // A plugin changing its own catalog is announced too.
    let mut add = CallToolRequestParams::new("probe__add_tool");
    add.arguments = serde_json::json!({"name": "fresh"}).as_object().cloned();
    client.call_tool(add).await.expect("add_tool");
    events
        .wait_for(Duration::from_secs(10), |e| {
            matches!(e, Event::ToolsChanged).then_some(())
        })
        .await;
    let names = tool_names(&client.list_all_tools().await.expect("tools/list"));
    assert!(names.contains(&"probe__fresh".to_string()), "{names:?}");
    client.cancel().await.ok();

    // The loaded file is on record with its digest.
    let listing = home.run(&["plugins", "list", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&listing.stdout).expect("json");
    let probe = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manifest"]["name"] == "probe")
        .expect("probe listed");
    assert_eq!(probe["status"], "loaded");
    assert_eq!(probe["sha256"].as_str().map(str::len), Some(64));
    // ...and in the database, since the server loaded it.
    assert!(
        probe["first_loaded"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{probe}"
    );
}

#[tokio::test]
async fn plugin_configuration_is_checked_against_its_schema() {
    let home = Home::new(
        "connectors:\n  probe:\n    enabled: true\n    config: {greeting: 42}\n  fixture: {enabled: true}\n",
    );
    home.install(Plugin::Probe);
    home.install(Plugin::Fixture);
    let output = home.run(&["doctor"]);
    let text = stdout(&output);
    assert!(
        !output.status.success(),
        "doctor must report the failure:\n{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("probe"))
        .unwrap_or_default();
    assert!(line.contains("connectors.probe.config.greeting"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("fixture") && l.contains("loaded")),
        "{text}"
    );

    home.write_config("connectors:\n  probe:\n    enabled: true\n    config: {greeting: howdy}\n");
    let output = home.run(&["call", "probe__greet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("howdy"), "{}", stdout(&output));
}

#[tokio::test]
async fn a_name_collision_is_a_startup_error_naming_both_owners() {
    let home = Home::new("connectors:\n  files:\n    prefix: \"\"\n    config: {roots: []}\n");
    home.install(Plugin::Files);
    let output = home.run(&["tools"]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("\"search\" is offered by both switchboard and files"),
        "{text}"
    );
}

#[tokio::test]
async fn a_slow_plugin_never_holds_up_initialize() {
    let gate_dir = tempfile::tempdir().unwrap();
    let gate = gate_dir.path().join("open");
    let home = Home::new(&format!(
        "connectors:\n  probe:\n    enabled: true\n    config: {{start_gate: {:?}}}\n",
        gate.display().to_string()
    ));
    home.install(Plugin::Probe);
    // The handshake completes while the plugin is still being created (its gate is closed).
    let (client, _events) = connect(&home).await;
    assert!(!gate.exists());
    // Listing and reading wait for the plugins present at start; open the gate and they
    // answer in full (a read sent before the plugin is up is not told the resource is absent).
    let lister = tokio::spawn({
        let peer = client.peer().clone();
        async move { peer.list_all_tools().await }
    });
    // The read is on the wire (written to switchboard's stdin) before the gate opens.
    let read = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(
        ReadResourceRequestParams::new("probe://readme"),
    ));
    let reading = client
        .peer()
        .send_request_with_option(read, PeerRequestOptions::no_options())
        .await
        .expect("resources/read sent");
    std::fs::write(&gate, b"").unwrap();
    let names = tool_names(&lister.await.unwrap().expect("tools/list"));
    assert!(names.contains(&"probe__echo".to_string()), "{names:?}");
    match reading.await_response().await.expect("resources/read") {
        ServerResult::ReadResourceResult(read) => assert_eq!(read.contents.len(), 1, "{read:?}"),
        other => panic!("not a resource: {other:?}"),
    }
    client.cancel().await.ok();
}
