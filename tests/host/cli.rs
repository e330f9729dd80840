//! The command line: configuration errors, one-shot calls, listings, the doctor.

use crate::support::{Home, Plugin, stderr, stdout};

#[test]
fn a_bad_configuration_names_the_file_and_the_key() {
    let home = Home::new("plugins:\n  bundled: false\n  call_timeot: 5\n");
    let output = home.run(&["tools"]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("config.yaml: plugins.call_timeot: unknown field `call_timeot`"),
        "{text}"
    );

    let check = home.run(&["config", "check"]);
    assert!(!check.status.success());
    assert!(stdout(&check).contains("call_timeot"), "{}", stdout(&check));
}

#[test]
fn embedded_defaults_apply_without_a_file_and_init_writes_them() {
    let home = Home::new("");
    std::fs::remove_file(home.path().join("config.yaml")).unwrap();
    let path = home.run(&["config", "path"]);
    assert!(
        stdout(&path).contains("embedded defaults"),
        "{}",
        stdout(&path)
    );
    let check = home.run(&["config", "check"]);
    assert!(check.status.success());
    assert!(
        stdout(&check).contains("embedded default"),
        "{}",
        stdout(&check)
    );

    let init = home.run(&["config", "init"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let written = std::fs::read_to_string(home.path().join("config.yaml")).unwrap();
    assert!(written.contains("store_arguments: false"));
    let again = home.run(&["config", "init"]);
    assert!(!again.status.success(), "init never overwrites");
}

#[test]
fn call_tools_search_and_doctor_from_the_terminal() {
    let corpus = tempfile::tempdir().unwrap();
    std::fs::write(
        corpus.path().join("recipe.txt"),
        "Sourdough needs a lively starter.",
    )
    .unwrap();
    let home = Home::new(&format!(
        "connectors:\n  probe: {{enabled: true}}\n  files:\n    config: {{roots: [{:?}]}}\n",
        corpus.path().display().to_string()
    ));
    home.install(Plugin::Probe);
    home.install(Plugin::Files);

    let call = home.run(&[
        "call",
        "probe__echo",
        "--args",
        r#"{"text":"from the shell"}"#,
    ]);
    assert!(call.status.success(), "{}", stderr(&call));
    let result: serde_json::Value = serde_json::from_slice(&call.stdout).expect("result JSON");
    assert_eq!(result["content"][0]["text"], "from the shell");

    let bad = home.run(&["call", "probe__echo", "--args", "not json"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("--args must be a JSON object"),
        "{}",
        stderr(&bad)
    );

    let tools = home.run(&["tools", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&tools.stdout).expect("tools JSON");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "files__read")
    );

    let search = home.run(&["search", "lively starter"]);
    assert!(search.status.success(), "{}", stderr(&search));
    let found: serde_json::Value = serde_json::from_slice(&search.stdout).expect("search JSON");
    let id = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["source"] == "files")
        .expect("files hit")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fetch = home.run(&["fetch", &id]);
    assert!(stdout(&fetch).contains("Sourdough"), "{}", stdout(&fetch));

    let doctor = home.run(&["doctor"]);
    assert!(
        doctor.status.success(),
        "{}{}",
        stdout(&doctor),
        stderr(&doctor)
    );
    let report = stdout(&doctor);
    assert!(report.contains("journal mode: wal"), "{report}");
    assert!(
        report.contains("data sources:  files (Local files), probe (Probe)"),
        "{report}"
    );

    // The one-shot calls are audited like a client's.
    let audit = home.run(&["audit", "--json"]);
    assert!(
        stdout(&audit).contains("\"client\":\"switchboard-cli/"),
        "{}",
        stdout(&audit)
    );
}

#[test]
fn a_declared_secret_reaches_its_plugin_and_nothing_else() {
    let home = Home::new(
        "audit: {store_arguments: true}\nconnectors:\n  probe:\n    enabled: true\n    secrets: {PROBE_TOKEN: \"${env:SWITCHBOARD_TEST_PROBE_TOKEN}\"}\n",
    );
    home.install(Plugin::Probe);
    let secret = "s3cr3t-value-42";
    let output = home
        .command()
        .env("SWITCHBOARD_TEST_PROBE_TOKEN", secret)
        .env("SWITCHBOARD_LOG", "debug")
        .args(["call", "probe__secret"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(&format!("set ({} chars)", secret.len())),
        "{}",
        stdout(&output)
    );
    assert!(!stdout(&output).contains(secret) && !stderr(&output).contains(secret));

    let unset = home.run(&["call", "probe__secret"]);
    assert!(stdout(&unset).contains("not set"), "{}", stdout(&unset));

    let audit = home.run(&["audit", "--json"]);
    assert!(!stdout(&audit).contains(secret));
    // Nowhere in the state folder: database, its WAL, plugin data.
    for entry in std::fs::read_dir(home.path().join("state")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{}",
                path.display()
            );
        }
    }
}
