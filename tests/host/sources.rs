//! `switchboard sources`: a source set up, signed in, tested and removed from the terminal,
//! against the real binary, the kernel keyring and the connectors' stand-in services
//! (`tests/mocks`); and the unified search over all four sources at once.

use std::process::Output;

use serde_json::Value;

use crate::secrets::{keyctl_in_login, keyutils, keyutils_available, nowhere_in, run_with};
use crate::support::{Home, Plugin, stderr, stdout};

/// `switchboard <args>` in `home` with the kernel keyring, `stdin` fed in.
fn sb(home: &Home, args: &[&str], stdin: Option<&str>) -> Output {
    run_with(&mut keyutils(home), args, stdin)
}

fn both(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

fn list_json(home: &Home) -> Value {
    let output = sb(home, &["sources", "list", "--json"], None);
    assert!(output.status.success(), "{}", both(&output));
    serde_json::from_str(&stdout(&output)).expect("sources list --json is JSON")
}

fn entry<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|all| all.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("{name} is not listed: {list}"))
}

/// The generic road, with the probe plugin (a data source declaring one secret): a setting
/// the schema refuses writes nothing; `add` writes the section beside the person's comments
/// and the secret into the keyring (only its reference into the file); the plugin runs with
/// both; `remove` takes the section and the entry away again.
#[test]
fn add_writes_the_section_and_the_keyring_and_remove_takes_both_away() {
    if !keyutils_available() {
        return;
    }
    let home = Home::new(
        "# my own notes: keep them\nsearch:\n  default_limit: 7 # mine too\nconnectors:\n  # files stay off here\n  files:\n    enabled: false\n",
    );
    home.install(Plugin::Probe);
    let config = home.path().join("config.yaml");
    let before = std::fs::read_to_string(&config).unwrap();
    let listed = list_json(&home);
    let probe = entry(&listed, "probe");
    assert_eq!(
        (&probe["configured"], &probe["enabled"]),
        (&Value::Bool(false), &Value::Bool(false))
    );

    // Refused by the plugin's schema: nothing written, nothing stored.
    let refused = sb(
        &home,
        &[
            "sources",
            "add",
            "probe",
            "--set",
            "colour=blue",
            "--secret",
            "PROBE_TOKEN",
        ],
        Some("never-stored\n"),
    );
    assert!(!refused.status.success());
    assert!(
        both(&refused).contains("colour") && both(&refused).contains("nothing was written"),
        "{}",
        both(&refused)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    // A secret the plugin does not declare is refused by name.
    let undeclared = sb(
        &home,
        &["sources", "add", "probe", "--secret", "PASSWORD"],
        Some("x\n"),
    );
    assert!(
        both(&undeclared).contains("declares no secret \"PASSWORD\""),
        "{}",
        both(&undeclared)
    );

    let value = format!("probe-secret-{}", std::process::id());
    let added = sb(
        &home,
        &[
            "sources",
            "add",
            "probe",
            "--set",
            "greeting=hello there",
            "--secret",
            "PROBE_TOKEN",
        ],
        Some(&format!("{value}\n")),
    );
    assert!(added.status.success(), "{}", both(&added));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("# my own notes: keep them\n"), "{text}");
    assert!(
        text.contains("default_limit: 7 # mine too") && text.contains("# files stay off here"),
        "{text}"
    );
    assert!(text.contains("  probe:\n    enabled: true\n"), "{text}");
    assert!(text.contains("\"greeting\": \"hello there\""), "{text}");
    let reference = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"PROBE_TOKEN\": \""))
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no reference in {text}"))
        .to_string();
    let keyring_entry = reference
        .strip_prefix("${keyring:")
        .and_then(|r| r.strip_suffix('}'))
        .expect("a keyring reference")
        .to_string();
    assert!(
        keyring_entry.starts_with("switchboard-source/")
            && keyring_entry.ends_with("/probe/PROBE_TOKEN")
    );
    let stored = keyctl_in_login(&format!("keyctl print %user:switchboard:{keyring_entry}"));
    assert_eq!(String::from_utf8_lossy(&stored.stdout).trim_end(), value);

    // The plugin runs with the setting and the secret.
    let greet = sb(&home, &["call", "probe__greet"], None);
    assert!(stdout(&greet).contains("hello there"), "{}", both(&greet));
    let secret = sb(&home, &["call", "probe__secret"], None);
    assert!(
        stdout(&secret).contains(&format!("set ({} chars)", value.len())),
        "{}",
        both(&secret)
    );
    let listed = list_json(&home);
    let probe = entry(&listed, "probe");
    assert_eq!(probe["enabled"], true);
    assert!(
        probe["secrets"][0]["state"]
            .as_str()
            .unwrap()
            .starts_with("set ("),
        "{probe}"
    );
    // The probe has no live check: `test` says so instead of pretending.
    let test = sb(&home, &["sources", "test", "probe"], None);
    assert!(!test.status.success());
    assert!(
        both(&test).contains("offers no check tool"),
        "{}",
        both(&test)
    );
    // Adding again with one more setting keeps the secret's reference.
    let again = sb(
        &home,
        &["sources", "add", "probe", "--set", "greeting=hi"],
        None,
    );
    assert!(again.status.success(), "{}", both(&again));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(&reference)
            && text.contains("\"greeting\": \"hi\"")
            && text.matches("probe:").count() == 1,
        "{text}"
    );

    // A secret that spans lines (a PEM key) comes whole from a file.
    let outside = tempfile::tempdir().unwrap();
    let key_file = outside.path().join("key.pem");
    let key = format!("-----BEGIN KEY-----\n{value}\n-----END KEY-----\n");
    std::fs::write(&key_file, &key).unwrap();
    let from_file = format!("PROBE_TOKEN={}", key_file.display());
    let filed = sb(
        &home,
        &["sources", "add", "probe", "--secret-file", &from_file],
        None,
    );
    assert!(filed.status.success(), "{}", both(&filed));
    let secret = sb(&home, &["call", "probe__secret"], None);
    let whole = key.trim_end().chars().count();
    assert!(
        stdout(&secret).contains(&format!("set ({whole} chars)")),
        "{}",
        both(&secret)
    );

    let removed = sb(&home, &["sources", "remove", "probe"], None);
    assert!(removed.status.success(), "{}", both(&removed));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("probe"), "{text}");
    assert!(
        text.contains("# my own notes: keep them\n") && text.contains("# files stay off here"),
        "{text}"
    );
    let gone = keyctl_in_login(&format!("keyctl print %user:switchboard:{keyring_entry}"));
    assert!(!gone.status.success(), "the keyring entry is removed");
    let names = sb(&home, &["secrets", "list"], None);
    assert!(!stdout(&names).contains("probe"), "{}", stdout(&names));
    for output in [&added, &greet, &secret, &again, &filed, &removed] {
        assert!(!both(output).contains(&value));
    }
    nowhere_in(home.path(), &value);
}

/// The stand-ins of the three services and a folder of notes, and a home whose four data
/// sources point at them (secrets from the environment of [`four_sources_command`]).
struct FourSources {
    graph: switchboard_mocks::graph::GraphMock,
    boxed: switchboard_mocks::box_api::BoxMock,
    flake: switchboard_mocks::snowflake::SnowflakeMock,
    _notes: tempfile::TempDir,
    home: Home,
}

fn four_sources(box_search_timeout: &str) -> FourSources {
    use switchboard_mocks::{box_api, graph, snowflake};
    let graph = graph::start();
    let boxed = box_api::start();
    let flake = snowflake::start();
    let notes = tempfile::tempdir().unwrap();
    std::fs::write(
        notes.path().join("budget-2027.md"),
        "Notes on the 2027 budget: travel is cut by a tenth.\n",
    )
    .unwrap();
    std::fs::write(notes.path().join("garden.md"), "Tomatoes and beans.\n").unwrap();
    let config = format!(
        r#"connectors:
  files:
    config:
      roots: [{notes:?}]
  outlook:
    enabled: true
    config: {{api_url: "{graph_api}", auth_url: "{graph_auth}", tenant: "{tenant}", client_id: "{client_id}", mailbox: "{mailbox}"}}
    secrets: {{client_secret: "${{env:SB_TEST_GRAPH_SECRET}}"}}
  box:
    enabled: true
    search_timeout: {box_search_timeout}
    config: {{api_url: "{box_api}", upload_url: "{box_upload}", auth_url: "{box_auth}", token_url: "{box_token}"}}
    secrets: {{developer_token: "${{env:SB_TEST_BOX_TOKEN}}"}}
  snowflake:
    enabled: true
    config:
      account: "{account}"
      user: "{user}"
      api_url: "{flake_api}"
      auth_url: "{flake_api}"
      warehouse: "{warehouse}"
      database: "{database}"
      schema: "{schema}"
      role: "{role}"
      search: {{service: "{service}", id_column: ID, title_column: TITLE, text_column: BODY, table: DOCUMENTS}}
    secrets: {{token: "${{env:SB_TEST_SNOWFLAKE_PAT}}"}}
"#,
        notes = notes.path().display().to_string(),
        graph_api = graph.url("/v1.0"),
        graph_auth = graph.url(""),
        tenant = graph::TENANT,
        client_id = graph::CLIENT_ID,
        mailbox = graph::MAILBOX,
        box_api = boxed.api_url(),
        box_upload = boxed.upload_url(),
        box_auth = boxed.auth_url(),
        box_token = boxed.token_url(),
        account = snowflake::ACCOUNT,
        user = snowflake::USER,
        flake_api = flake.api_url(),
        warehouse = snowflake::WAREHOUSE,
        database = snowflake::DATABASE,
        schema = snowflake::SCHEMA,
        role = snowflake::ROLE,
        service = snowflake::SEARCH_SERVICE,
    );
    let home = Home::new(&config);
    for plugin in [
        Plugin::Files,
        Plugin::Outlook,
        Plugin::Box,
        Plugin::Snowflake,
    ] {
        home.install(plugin);
    }
    FourSources {
        graph,
        boxed,
        flake,
        _notes: notes,
        home,
    }
}

/// `switchboard serve` with the secrets the four sources' references name.
fn four_sources_command() -> tokio::process::Command {
    use switchboard_mocks::{box_api, graph, snowflake};
    let mut command = tokio::process::Command::new(crate::support::binary());
    command
        .arg("serve")
        .env("SB_TEST_GRAPH_SECRET", graph::CLIENT_SECRET)
        .env("SB_TEST_BOX_TOKEN", box_api::DEVELOPER_TOKEN)
        .env("SB_TEST_SNOWFLAKE_PAT", snowflake::PAT)
        // The Outlook app's token is kept in the keyring: the kernel's, as in the other tests.
        .env("SWITCHBOARD_SECRET_STORE", "keyutils")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    command
}

async fn search(
    client: &rmcp::service::RunningService<rmcp::RoleClient, crate::support::client::TestClient>,
    query: &str,
) -> Value {
    let result = client
        .call_tool(crate::support::call(
            "search",
            serde_json::json!({"query": query, "limit": 40}),
        ))
        .await
        .expect("search");
    result
        .structured_content
        .expect("structured search results")
}

fn sources_of(found: &Value) -> std::collections::BTreeSet<String> {
    found["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|hit| hit["source"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn status(
    client: &rmcp::service::RunningService<rmcp::RoleClient, crate::support::client::TestClient>,
) -> Value {
    let read = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "switchboard://status",
        ))
        .await
        .expect("read switchboard://status");
    let text = match &read.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("status is not text: {other:?}"),
    };
    serde_json::from_str(&text).expect("status is JSON")
}

fn health<'a>(status: &'a Value, source: &str) -> &'a Value {
    status["sources"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == source))
        .unwrap_or_else(|| panic!("{source} is not in the status: {status}"))
}

/// One unified query answered by all four sources (local files, Outlook through Graph, Box,
/// Snowflake's Cortex Search), each hit fetched back through its own source; then Box held
/// up past its own deadline: the other three still answer, Box is an error entry, and the
/// status resource shows which source failed and why.
#[tokio::test]
async fn one_search_reaches_all_four_sources_and_a_late_one_is_reported_beside_the_rest() {
    if !keyutils_available() {
        return;
    }
    let four = four_sources("2s");
    let options = crate::support::client::Options::default();
    let (client, _events, _pid) =
        crate::support::client::connect_command(&four.home, four_sources_command(), options).await;

    let found = search(&client, "budget").await;
    assert_eq!(found["errors"], serde_json::json!([]), "{found}");
    let expected: std::collections::BTreeSet<String> = ["files", "outlook", "box", "snowflake"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(sources_of(&found), expected, "{found}");
    // Each service was asked the question, as its API takes it.
    assert!(
        four.graph.searches().iter().any(|q| q.contains("budget")),
        "{:?}",
        four.graph.searches()
    );
    assert!(!four.boxed.seen_at("/2.0/search").is_empty());
    assert!(!four.flake.searches().is_empty());

    // Fetch the first hit of each source through the unified fetch.
    for source in &expected {
        let hit = found["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["source"] == source.as_str())
            .unwrap();
        let id = hit["id"].as_str().unwrap();
        assert!(id.starts_with(&format!("{source}:")), "{id}");
        let fetched = client
            .call_tool(crate::support::call("fetch", serde_json::json!({"id": id})))
            .await
            .expect("fetch");
        assert_ne!(fetched.is_error, Some(true), "{source}: {fetched:?}");
        let document = fetched.structured_content.expect("structured document");
        assert_eq!(document["id"], id, "{document}");
        assert!(
            !document["text"].as_str().unwrap_or("").trim().is_empty(),
            "{source} fetched no text: {document}"
        );
    }
    let before = status(&client).await;
    for source in &expected {
        let seen = health(&before, source);
        assert!(seen["asked"].as_u64() >= Some(2), "{seen}");
        assert_eq!(seen["failed"], 0, "{seen}");
    }

    // Box throttled for longer than its 2 s deadline: the others answer, Box is reported.
    four.boxed.throttle(50, 30);
    let partial = search(&client, "budget").await;
    let answered = sources_of(&partial);
    assert!(!answered.contains("box"), "{partial}");
    for source in ["files", "outlook", "snowflake"] {
        assert!(answered.contains(source), "{source} missing: {partial}");
    }
    let errors = partial["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{partial}");
    assert_eq!(errors[0]["source"], "box", "{partial}");
    let after = status(&client).await;
    let box_health = health(&after, "box");
    assert_eq!(box_health["failed"], 1, "{box_health}");
    assert_eq!(box_health["last_error"], errors[0]["error"], "{box_health}");
    assert_eq!(health(&after, "outlook")["failed"], 0);
    client.cancel().await.ok();
}

/// A person signs in to Outlook from the terminal with a device code: the code and the address
/// are printed while the command waits, the token lands in the keyring (not in the home), a
/// new process uses it for `sources test` and doctor's check, and `sources remove` signs out.
#[test]
fn login_prints_the_device_code_keeps_the_token_for_the_next_process_and_remove_signs_out() {
    use switchboard_mocks::graph;
    if !keyutils_available() {
        return;
    }
    let mock = graph::start();
    mock.device_interval(1);
    mock.pending_polls(2);
    let home = Home::new(&format!(
        "connectors:\n  outlook:\n    enabled: true\n    config: {{api_url: \"{}\", auth_url: \"{}\", tenant: \"{}\", client_id: \"{}\"}}\n",
        mock.url("/v1.0"),
        mock.url(""),
        graph::TENANT,
        graph::CLIENT_ID
    ));
    home.install(Plugin::Outlook);
    // Nothing kept yet: `test` says what failed and what to do.
    let before = sb(&home, &["sources", "test", "outlook"], None);
    assert!(!before.status.success());
    assert!(
        both(&before).contains("sources login outlook"),
        "{}",
        both(&before)
    );

    let login = sb(&home, &["sources", "login", "outlook"], None);
    assert!(login.status.success(), "{}", both(&login));
    let device = mock
        .grants()
        .into_iter()
        .find(|g| g.grant_type.contains("device_code"))
        .is_some();
    assert!(device, "no device code grant: {:?}", mock.grants());
    // The instructions the person follows, on the terminal while the command waited.
    assert!(
        stderr(&login).contains("/devicelogin") || stderr(&login).contains("http"),
        "{}",
        stderr(&login)
    );
    let listed = list_json(&home);
    let kept = entry(&listed, "outlook")["kept_tokens"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!kept.is_empty(), "{listed}");

    // A new process signs in with what the keyring kept.
    let test = sb(&home, &["sources", "test", "outlook"], None);
    assert!(test.status.success(), "{}", both(&test));
    let doctor = sb(&home, &["doctor"], None);
    let text = stdout(&doctor);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("outlook") && l.contains(": "))
        .unwrap_or_else(|| panic!("no outlook check in doctor:\n{text}"));
    assert!(line.contains("ok:"), "{line}");

    let removed = sb(&home, &["sources", "remove", "outlook"], None);
    assert!(removed.status.success(), "{}", both(&removed));
    let names = sb(&home, &["secrets", "list"], None);
    assert!(!stdout(&names).contains("outlook"), "{}", stdout(&names));
    let config = std::fs::read_to_string(home.path().join("config.yaml")).unwrap();
    assert!(!config.contains("outlook"), "{config}");
    // No token in any file of the home (the database, the log, the config).
    let tokens = mock.issued_tokens();
    assert!(!tokens.is_empty());
    for token in tokens {
        nowhere_in(home.path(), &token);
    }
}
