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
    // The plugins section's line (other sections may say "probe" too).
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("probe "))
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

// ---------------------------------------------------------------------------------------
// Plugin files that would crash their loader: truncated, half-copied, overwritten while
// loaded, or loadable-looking but crashing the dynamic linker. None may stop switchboard.

/// The end (file offset) of the last loadable segment of the ELF library at `bytes`: a
/// file cut before it makes the dynamic linker touch pages past the end of the file.
fn end_of_loaded_segments(bytes: &[u8]) -> usize {
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    assert_eq!(&bytes[..5], b"\x7fELF\x02", "a 64-bit ELF library");
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&ph| u32::from_le_bytes(bytes[ph..ph + 4].try_into().unwrap()) == 1)
        .map(|ph| u64_at(ph + 8) + u64_at(ph + 32))
        .max()
        .expect("a PT_LOAD segment")
}

/// `plugin`'s library cut in the middle of its loaded segments, as a half-finished copy
/// leaves it.
fn truncated(plugin: Plugin) -> Vec<u8> {
    let bytes = std::fs::read(crate::support::plugin_library(plugin)).unwrap();
    let cut = end_of_loaded_segments(&bytes) / 2;
    bytes[..cut].to_vec()
}

/// A library whose headers and sections are all within the file but whose dynamic
/// section points its string table far outside the mapping: the dynamic linker crashes
/// (SIGSEGV) while opening it, before any plugin code runs.
fn crashing_loader() -> Vec<u8> {
    let mut bytes = std::fs::read(crate::support::plugin_library(Plugin::Fixture)).unwrap();
    let u16_at =
        |b: &[u8], at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap()) as usize;
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (
        u64_at(&bytes, 0x20) as usize,
        u16_at(&bytes, 0x36),
        u16_at(&bytes, 0x38),
    );
    let dynamic = (0..phnum)
        .map(|i| phoff + i * phentsize)
        .find(|&ph| u32::from_le_bytes(bytes[ph..ph + 4].try_into().unwrap()) == 2)
        .expect("a PT_DYNAMIC segment");
    let (offset, size) = (
        u64_at(&bytes, dynamic + 8) as usize,
        u64_at(&bytes, dynamic + 32) as usize,
    );
    let mut patched = false;
    for entry in (offset..offset + size).step_by(16) {
        if u64_at(&bytes, entry) == 5 {
            // DT_STRTAB
            bytes[entry + 8..entry + 16].copy_from_slice(&0x7fff_0000_0000u64.to_le_bytes());
            patched = true;
        }
    }
    assert!(patched, "the library has a DT_STRTAB entry");
    bytes
}

fn library_file(home: &Home, stem: &str) -> std::path::PathBuf {
    home.plugins().join(format!(
        "{}{stem}.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    ))
}

/// What a serving switchboard logged to its log file so far.
fn server_log(home: &Home) -> String {
    std::fs::read_to_string(home.path().join("state").join("switchboard.log")).unwrap_or_default()
}

/// Wait (polling, at most `limit`) until the serving switchboard's log has a line with
/// every one of `words`; returns that line.
async fn logged(home: &Home, words: &[&str], limit: Duration) -> String {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(line) = server_log(home)
            .lines()
            .find(|l| words.iter().all(|w| l.contains(w)))
        {
            return line.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no log line with {words:?} within {limit:?}:\n{}",
            server_log(home)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A one-shot command's run: it must end by itself, not by a signal.
fn survived(output: &std::process::Output, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            output.status.signal(),
            None,
            "`{what}` was killed by a signal:\n{}",
            stderr(output)
        );
    }
    let _ = what;
}

async fn echo_works(
    client: &rmcp::service::RunningService<rmcp::RoleClient, crate::support::client::TestClient>,
) {
    let result = client
        .call_tool(crate::support::call(
            "probe__echo",
            serde_json::json!({"text": "still here"}),
        ))
        .await
        .expect("the server still answers");
    assert!(
        crate::support::text_of(&result).contains("still here"),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_truncated_library_at_start_is_refused_by_name_and_the_rest_serve() {
    let home = Home::new("connectors:\n  probe: {enabled: true}\n  fixture: {enabled: true}\n");
    home.install(Plugin::Probe);
    let cut = library_file(&home, "switchboard_fixture");
    std::fs::write(&cut, truncated(Plugin::Fixture)).unwrap();
    let name = cut.file_name().unwrap().to_str().unwrap();

    let (client, _events) = connect(&home).await;
    let names = tool_names(&client.list_all_tools().await.expect("tools/list"));
    assert!(names.contains(&"probe__echo".to_string()), "{names:?}");
    echo_works(&client).await;
    let line = logged(&home, &["plugin refused", name], Duration::from_secs(20)).await;
    assert!(line.contains("truncated"), "{line}");
    client.cancel().await.ok();

    let tools = home.run(&["tools"]);
    survived(&tools, "tools");
    assert!(tools.status.success(), "{}", stderr(&tools));
    assert!(stdout(&tools).contains("probe__echo"), "{}", stdout(&tools));

    let list = home.run(&["plugins", "list"]);
    survived(&list, "plugins list");
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    let at = text
        .find(name)
        .unwrap_or_else(|| panic!("{name} not listed:\n{text}"));
    let status = text[at..].lines().nth(1).unwrap_or_default();
    assert!(
        status.contains("refused") && status.contains("truncated"),
        "{text}"
    );

    let doctor = home.run(&["doctor"]);
    survived(&doctor, "doctor");
    let text = stdout(&doctor);
    assert!(
        text.lines()
            .any(|l| l.contains(name) && l.contains("refused") && l.contains("truncated")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("probe") && l.contains("loaded")),
        "{text}"
    );

    let check = home.run(&["plugins", "check", cut.to_str().unwrap()]);
    survived(&check, "plugins check");
    assert!(!check.status.success());
    let text = stdout(&check);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(name) && text.contains("truncated"), "{text}");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_library_that_crashes_its_loader_is_one_refusal_and_the_rest_serve() {
    let home = Home::new("connectors:\n  probe: {enabled: true}\n");
    home.install(Plugin::Probe);
    let crasher = library_file(&home, "crasher");
    std::fs::write(&crasher, crashing_loader()).unwrap();
    let name = crasher.file_name().unwrap().to_str().unwrap();

    let check = home.run(&["plugins", "check", crasher.to_str().unwrap()]);
    survived(&check, "plugins check");
    let text = stdout(&check);
    assert!(!check.status.success(), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(name) && text.contains("its loader crashed (signal 11, SIGSEGV)"),
        "{text}"
    );

    let (client, _events) = connect(&home).await;
    echo_works(&client).await;
    let line = logged(&home, &["plugin refused", name], Duration::from_secs(20)).await;
    assert!(line.contains("loader crashed"), "{line}");
    client.cancel().await.ok();

    let list = home.run(&["plugins", "list"]);
    survived(&list, "plugins list");
    assert!(
        stdout(&list).contains("loader crashed"),
        "{}",
        stdout(&list)
    );
}

#[tokio::test]
async fn a_truncated_library_dropped_in_while_serving_is_refused_and_a_complete_one_loads() {
    let home = Home::new("connectors:\n  probe: {enabled: true}\n  fixture: {enabled: true}\n");
    home.install(Plugin::Probe);
    let (client, mut events) = connect(&home).await;
    echo_works(&client).await;

    // A copy that stops half way, as an interrupted `cp` leaves it.
    let cut = library_file(&home, "switchboard_fixture");
    std::fs::write(&cut, truncated(Plugin::Fixture)).unwrap();
    let name = cut.file_name().unwrap().to_str().unwrap();
    let line = logged(&home, &["plugin refused", name], Duration::from_secs(30)).await;
    assert!(line.contains("truncated"), "{line}");
    echo_works(&client).await;

    // The copy finished: it loads.
    std::fs::copy(crate::support::plugin_library(Plugin::Fixture), &cut).unwrap();
    events
        .wait_for(Duration::from_secs(30), |e| {
            matches!(e, Event::ToolsChanged).then_some(())
        })
        .await;
    let names = tool_names(&client.list_all_tools().await.expect("tools/list"));
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("fixture__") || n.starts_with("test_")),
        "{names:?}"
    );
    echo_works(&client).await;
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_new_build_copied_over_a_loaded_plugin_keeps_serving_and_awaits_a_restart() {
    use std::io::Write;
    let home = Home::new("connectors:\n  probe: {enabled: true}\n");
    let file = home.install(Plugin::Probe);
    let (client, _events) = connect(&home).await;
    echo_works(&client).await;

    // `cp new old` truncates the file in place and writes it: the loaded library is gone
    // from under the server while the copy runs. Call the plugin mid-copy.
    let original = std::fs::read(&file).unwrap();
    let mut newer = original.clone();
    newer.extend_from_slice(b"a newer build");
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&file)
        .unwrap();
    target.write_all(&newer[..newer.len() / 3]).unwrap();
    target.flush().unwrap();
    echo_works(&client).await;
    target.write_all(&newer[newer.len() / 3..]).unwrap();
    drop(target);

    let line = logged(&home, &["restart", "probe"], Duration::from_secs(30)).await;
    assert!(
        line.contains(file.file_name().unwrap().to_str().unwrap()),
        "{line}"
    );
    echo_works(&client).await;

    let list = home.run(&["plugins", "list"]);
    survived(&list, "plugins list");
    let text = stdout(&list);
    assert!(text.contains("restart to use 0.1.0"), "{text}");
    let doctor = home.run(&["doctor"]);
    survived(&doctor, "doctor");
    assert!(
        stdout(&doctor).contains("restart to use 0.1.0"),
        "{}",
        stdout(&doctor)
    );
    echo_works(&client).await;
    client.cancel().await.ok();
}

/// The private library copies (`<state>/libraries/…`) mapped into the process `pid`.
#[cfg(target_os = "linux")]
fn mapped_copies(home: &Home, pid: u32) -> std::collections::BTreeSet<String> {
    let libraries = home.path().join("state").join("libraries");
    let libraries = libraries.to_str().expect("a UTF-8 home path");
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .expect("the serving process's memory maps")
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|file| file.starts_with(libraries))
        .map(str::to_string)
        .collect()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_library_the_configuration_does_not_enable_is_never_mapped_into_the_server() {
    // The fixture is opt-in and disabled here outright; the probe is enabled. Both are in the
    // plugins folder, so both are found, copied and probed (in a child process).
    let home = Home::new("connectors:\n  probe: {enabled: true}\n  fixture: {enabled: false}\n");
    home.install(Plugin::Fixture);
    home.install(Plugin::Probe);
    let mut command = tokio::process::Command::new(crate::support::binary());
    command.arg("serve");
    let (client, _events, pid) = crate::support::client::connect_command(
        &home,
        command,
        crate::support::client::Options::default(),
    )
    .await;
    let pid = pid.expect("the server's pid");
    // Libraries load in folder order (fixture first), so by the time the probe answers the
    // fixture has been decided.
    echo_works(&client).await;
    let copies: Vec<_> = std::fs::read_dir(home.path().join("state").join("libraries"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.path().extension().and_then(|x| x.to_str()) == Some(std::env::consts::DLL_EXTENSION)
        })
        .collect();
    assert_eq!(copies.len(), 2, "both libraries have a private copy");
    let mapped = mapped_copies(&home, pid);
    assert_eq!(
        mapped.len(),
        1,
        "only the enabled plugin's copy is mapped into the server: {mapped:?}"
    );

    // The disabled one is still known to the commands, by the manifest its probe read.
    let list = home.run(&["plugins", "list"]);
    assert!(stdout(&list).contains("fixture"), "{}", stdout(&list));
    // A second start reads the recorded manifests and probes nothing again; still not mapped.
    client.cancel().await.ok();
    let mut command = tokio::process::Command::new(crate::support::binary());
    command.arg("serve");
    let (client, _events, pid) = crate::support::client::connect_command(
        &home,
        command,
        crate::support::client::Options::default(),
    )
    .await;
    echo_works(&client).await;
    assert_eq!(mapped_copies(&home, pid.expect("pid")).len(), 1);
    client.cancel().await.ok();
}
