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
