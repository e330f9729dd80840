//! Human approval end to end: elicitation answered yes, no and dismissed; the approval inbox
//! answered from a second process and from the local page; timeouts and retries; grant scopes;
//! a changed tool definition voiding an "always" grant; rules; two processes asking at once;
//! the 2026-07-28 input-required round trip. The side effect that must not happen on a "no"
//! is the probe's counter, kept in the shared database.

#![allow(deprecated)] // MCP logging is deprecated in 2026-07-28 only.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::client::{ElicitAnswer, Options, connect_with};
use crate::support::{Home, Plugin, call, connect, stdout, text_of};

/// The probe is a plugin the person added: its annotations are not believed, so by default
/// every probe tool is asked about.
pub(crate) const ASKING: &str =
    "approvals:\n  timeout: 20s\nconnectors:\n  probe: {enabled: true}\n";

pub(crate) fn home(config: &str) -> Home {
    let home = Home::new(config);
    home.install(Plugin::Probe);
    home
}

fn answering(decision: &str) -> Options {
    Options {
        elicit: Some(ElicitAnswer::Accept(json!({"decision": decision}))),
        ..Options::default()
    }
}

/// How often the counter tool actually ran, read without asking anyone.
pub(crate) fn counter_value(home: &Home) -> i64 {
    let output = home
        .command()
        .args(["call", "probe__counter"])
        .env("SWITCHBOARD_CONFIG", write_allow_all(home))
        .output()
        .unwrap();
    let result: Value = serde_json::from_slice(&output.stdout).expect("counter result");
    // The counter increments when called: one more than the times it ran before.
    result["content"][0]["text"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap()
        - 1
}

fn write_allow_all(home: &Home) -> std::path::PathBuf {
    let path = home.path().join("allow-all.yaml");
    std::fs::write(
        &path,
        "plugins: {bundled: false}\napprovals: {default: allow}\nconnectors:\n  probe: {enabled: true}\n",
    )
    .unwrap();
    path
}

pub(crate) fn audit_decisions(home: &Home) -> Vec<Value> {
    let output = home.run(&["audit", "--json", "--limit", "500"]);
    stdout(&output)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["method"] == "approval")
        .collect()
}

/// Start a call that will wait for an answer; its result comes when it is answered.
pub(crate) fn call_in_background(
    client: &rmcp::service::RunningService<rmcp::RoleClient, crate::support::client::TestClient>,
    tool: &str,
    arguments: Value,
) -> tokio::task::JoinHandle<Result<rmcp::model::CallToolResult, rmcp::ServiceError>> {
    let peer = client.peer().clone();
    let params = call(tool, arguments);
    tokio::spawn(async move { peer.call_tool(params).await })
}

/// The question id in a waiting call's answer (`switchboard approvals approve ID`).
pub(crate) fn id_in(text: &str) -> String {
    text.split("switchboard approvals approve ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no approve command in {text}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// [`wait_for_pending`] without blocking the test's runtime.
pub(crate) async fn pending(home: &Home, count: usize) -> Vec<String> {
    let path = home.path().to_path_buf();
    tokio::task::spawn_blocking(move || wait_for_pending(&Home::at(&path), count))
        .await
        .expect("waiting for the inbox")
}

/// Wait until the inbox holds `count` questions; return their ids, oldest first.
pub(crate) fn wait_for_pending(home: &Home, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = home.run(&["approvals", "list", "--json"]);
        let ids: Vec<String> = stdout(&output)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        if ids.len() >= count {
            return ids;
        }
        assert!(Instant::now() < deadline, "no pending approval appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn elicitation_yes_runs_no_and_dismiss_do_not() {
    let home = home(ASKING);

    let (client, _e) = connect_with(&home, answering("once")).await;
    let ran = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(text_of(&ran), "1");
    let asked = client.service().elicitations();
    assert_eq!(asked.len(), 1);
    assert!(format!("{:?}", asked[0]).contains("probe__counter"));
    client.cancel().await.ok();

    for refusing in [ElicitAnswer::Decline, ElicitAnswer::Cancel] {
        let options = Options {
            elicit: Some(refusing.clone()),
            ..Options::default()
        };
        let (client, _e) = connect_with(&home, options).await;
        let refused = client
            .call_tool(call("probe__counter", json!({})))
            .await
            .expect("answered");
        assert_eq!(refused.is_error, Some(true), "{refusing:?}");
        assert!(
            text_of(&refused).contains("was not approved"),
            "{}",
            text_of(&refused)
        );
        client.cancel().await.ok();
    }
    let decisions = audit_decisions(&home);
    let outcomes: Vec<&str> = decisions
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["approved", "denied", "denied"], "{decisions:#?}");
    assert!(
        decisions[1]["decided_by"]
            .as_str()
            .unwrap()
            .contains("declined")
    );
    assert!(
        decisions[2]["decided_by"]
            .as_str()
            .unwrap()
            .contains("dismissed")
    );
    // Only the approved call ran.
    assert_eq!(counter_value(&home), 1);
}

#[tokio::test]
async fn session_and_always_grants_reach_as_far_as_they_say() {
    let home = home(ASKING);

    // "this session": the next call in the session is not asked; a new session is.
    let (client, _e) = connect_with(&home, answering("session")).await;
    client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("first");
    client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("second");
    assert_eq!(client.service().elicitations().len(), 1);
    client.cancel().await.ok();
    let declining = Options {
        elicit: Some(ElicitAnswer::Decline),
        ..Options::default()
    };
    let (client, _e) = connect_with(&home, declining.clone()).await;
    let refused = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(refused.is_error, Some(true));
    client.cancel().await.ok();

    // "always": a later session that would decline is not even asked.
    let (client, _e) = connect_with(&home, answering("always")).await;
    client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("approved");
    client.cancel().await.ok();
    let (client, _e) = connect_with(&home, declining.clone()).await;
    let ran = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("granted");
    assert_ne!(ran.is_error, Some(true), "{}", text_of(&ran));
    assert!(client.service().elicitations().is_empty());
    client.cancel().await.ok();

    // The grants are listed; revoking the "always" one brings the question back.
    let listed = stdout(&home.run(&["approvals", "grants", "--json"]));
    let grants: Vec<Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let always = grants
        .iter()
        .find(|g| g["scope"] == "always")
        .expect("always grant");
    assert!(grants.iter().any(|g| g["scope"] == "session"));
    let id = always["id"].as_str().unwrap();
    assert!(home.run(&["approvals", "revoke", id]).status.success());
    let (client, _e) = connect_with(&home, declining).await;
    let refused = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(refused.is_error, Some(true));
    client.cancel().await.ok();
    assert_eq!(counter_value(&home), 4);
}

#[tokio::test]
async fn a_changed_definition_voids_an_always_grant_and_shows() {
    let config = |greeting: &str| {
        format!(
            "approvals:\n  timeout: 20s\nconnectors:\n  probe:\n    enabled: true\n    config: {{greeting: {greeting}}}\n"
        )
    };
    let home = home(&config("hello"));
    let (client, _e) = connect_with(&home, answering("always")).await;
    let first = client
        .call_tool(call("probe__greet", json!({})))
        .await
        .expect("greet");
    assert_eq!(text_of(&first), "hello");
    client.cancel().await.ok();

    // The plugin now presents greet differently (its description names the greeting).
    home.write_config(&config("howdy"));
    let declining = Options {
        elicit: Some(ElicitAnswer::Decline),
        ..Options::default()
    };
    let (client, _e) = connect_with(&home, declining).await;
    let refused = client
        .call_tool(call("probe__greet", json!({})))
        .await
        .expect("answered");
    assert_eq!(
        refused.is_error,
        Some(true),
        "the always grant must not apply any more"
    );
    assert_eq!(client.service().elicitations().len(), 1);
    client.cancel().await.ok();

    let tools = stdout(&home.run(&["tools"]));
    let line = tools
        .lines()
        .find(|l| l.starts_with("probe__greet"))
        .unwrap_or_default();
    assert!(line.contains("definition changed"), "{tools}");
    let doctor = stdout(&home.run(&["doctor"]));
    assert!(
        doctor.contains("probe__greet") && doctor.contains("changed"),
        "{doctor}"
    );
    let explain = stdout(&home.run(&["approvals", "explain", "probe__greet"]));
    assert!(explain.contains("does not apply"), "{explain}");
}

#[tokio::test]
async fn a_deny_rule_beats_an_allow_rule() {
    let home = home(
        "approvals:\n  rules:\n    - {provider: probe, decision: allow}\n    - {tools: [\"probe__counter\"], decision: deny}\nconnectors:\n  probe: {enabled: true}\n",
    );
    let (client, _e) = connect(&home).await;
    let echoed = client
        .call_tool(call("probe__echo", json!({"text": "fine"})))
        .await
        .expect("echo");
    assert_eq!(text_of(&echoed), "fine");
    let refused = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text_of(&refused).contains("approvals.rules[1]"),
        "{}",
        text_of(&refused)
    );
    client.cancel().await.ok();
    assert_eq!(counter_value(&home), 0);

    let explained = stdout(&home.run(&["approvals", "explain", "probe__counter"]));
    assert!(
        explained.starts_with("probe__counter (from probe): deny"),
        "{explained}"
    );
    assert!(explained.contains("approvals.rules[1]"), "{explained}");
}

#[tokio::test]
async fn a_deny_rule_for_a_provider_refuses_its_resources_prompts_and_completions_too() {
    use rmcp::model::{
        ArgumentInfo, CompleteRequestParams, GetPromptRequestParams, ReadResourceRequestParams,
        Reference,
    };
    let home = Home::new(
        "approvals:\n  default: allow\n  rules:\n    - {provider: fixture, decision: deny}\nconnectors:\n  fixture: {enabled: true}\n  probe: {enabled: true}\n",
    );
    home.install(Plugin::Fixture);
    home.install(Plugin::Probe);
    let (client, _e) = connect(&home).await;
    // The first request after the handshake is a prompt: it waits for the plugins like
    // every other request, so it is refused by the rule, not "unknown".
    let prompt = client
        .get_prompt(GetPromptRequestParams::new("test_simple_prompt"))
        .await
        .expect_err("refused");
    let read = client
        .read_resource(ReadResourceRequestParams::new("test://static-text"))
        .await
        .expect_err("refused");
    let completion = client
        .complete(CompleteRequestParams::new(
            Reference::for_prompt("test_prompt_with_arguments"),
            ArgumentInfo::new("arg1", "par"),
        ))
        .await
        .expect_err("refused");
    for refused in [&prompt, &read, &completion] {
        let text = refused.to_string();
        assert!(
            text.contains("approvals.rules[0]") && text.contains("refuses"),
            "{text}"
        );
    }
    // Another provider's requests are served.
    let echoed = client
        .call_tool(call("probe__echo", json!({"text": "fine"})))
        .await
        .expect("echo");
    assert_eq!(text_of(&echoed), "fine");
    client.cancel().await.ok();
    let denied: Vec<String> = audit_decisions(&home)
        .iter()
        .filter(|r| r["outcome"] == "denied")
        .map(|r| r["tool"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        denied,
        [
            "test_simple_prompt",
            "test://static-text",
            "test_prompt_with_arguments"
        ],
        "one audited decision per refused request"
    );
}

#[tokio::test]
async fn without_elicitation_the_call_waits_for_the_inbox() {
    let home = home(ASKING);
    let (client, mut events) = connect(&home).await;
    let waiting = call_in_background(&client, "probe__counter", json!({}));
    // The client is told where to approve.
    let told = events
        .wait_for(Duration::from_secs(20), |e| match e {
            crate::support::client::Event::Log(l) => Some(l.data.to_string()),
            _ => None,
        })
        .await;
    assert!(told.contains("switchboard approvals approve"), "{told}");

    let ids = pending(&home, 1).await;
    let approve = home.run(&["approvals", "approve", &ids[0]]);
    assert!(approve.status.success(), "{}", stdout(&approve));
    let result = waiting.await.unwrap().expect("the call completes");
    assert_eq!(text_of(&result), "1");
    assert_eq!(
        stdout(&home.run(&["approvals", "list"])).trim(),
        "no calls are waiting for approval"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_timed_out_call_says_how_to_approve_and_the_retry_runs() {
    let home = home("approvals:\n  wait: 1s\nconnectors:\n  probe: {enabled: true}\n");
    let (client, _e) = connect(&home).await;
    let timed_out = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(timed_out.is_error, Some(true));
    let id = id_in(&text_of(&timed_out));

    assert!(home.run(&["approvals", "approve", &id]).status.success());
    let retried = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("retry");
    assert_eq!(text_of(&retried), "1");
    // The approval was for that call only: it cannot be replayed for other arguments or again.
    let again = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(again.is_error, Some(true));
    client.cancel().await.ok();
    assert_eq!(counter_value(&home), 1);
}

#[tokio::test]
async fn two_processes_ask_at_once_and_each_gets_its_own_answer() {
    let home = home(ASKING);
    let (first, _e1) = connect(&home).await;
    let (second, _e2) = connect(&home).await;
    let call_first = call_in_background(&first, "probe__counter", json!({}));
    let ids_one = pending(&home, 1).await;
    let call_second = call_in_background(&second, "probe__echo", json!({"text": "second"}));
    let ids = pending(&home, 2).await;
    let counter_id = ids_one[0].clone();
    let echo_id = ids.into_iter().find(|id| *id != counter_id).unwrap();

    assert!(
        home.run(&["approvals", "deny", &counter_id])
            .status
            .success()
    );
    assert!(
        home.run(&["approvals", "approve", &echo_id])
            .status
            .success()
    );
    let denied = call_first.await.unwrap().expect("answered");
    assert_eq!(denied.is_error, Some(true));
    let approved = call_second.await.unwrap().expect("answered");
    assert_eq!(text_of(&approved), "second");
    assert_eq!(counter_value(&home), 0);
    first.cancel().await.ok();
    second.cancel().await.ok();
}

#[tokio::test]
async fn the_inbox_off_and_no_elicitation_means_no() {
    let home = home("approvals:\n  inbox: false\nconnectors:\n  probe: {enabled: true}\n");
    let (client, _e) = connect(&home).await;
    let refused = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text_of(&refused).contains("approval inbox is off"),
        "{}",
        text_of(&refused)
    );
    client.cancel().await.ok();
    assert_eq!(counter_value(&home), 0);
}

#[tokio::test]
async fn stateless_clients_approve_through_the_input_required_round_trip() {
    let home = home(ASKING);
    let options = Options {
        stateless: true,
        ..answering("once")
    };
    let (client, _e) = connect_with(&home, options).await;
    let ran = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(text_of(&ran), "1", "{ran:?}");
    assert_eq!(client.service().elicitations().len(), 1);
    client.cancel().await.ok();
}

/// A running `switchboard approvals ui`, its address, and a way to talk HTTP to it.
pub(crate) struct Page {
    child: Child,
    pub(crate) base: String,
    pub(crate) port: u16,
}

impl Page {
    pub(crate) fn start(home: &Home) -> Self {
        let mut child = home
            .command()
            .args(["approvals", "ui", "--no-open"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first.trim().to_string();
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .expect("a loopback URL");
        let (port, path) = rest.split_once('/').unwrap();
        Self {
            child,
            base: format!("/{path}"),
            port: port.parse().unwrap(),
        }
    }

    pub(crate) fn request(&self, method: &str, path: &str, host: &str, body: &str) -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_local_page_approves_through_its_form() {
    let home = home(ASKING);
    let (client, _e) = connect(&home).await;
    let waiting = call_in_background(&client, "probe__counter", json!({}));
    let ids = pending(&home, 1).await;

    let page = Page::start(&home);
    let host = format!("127.0.0.1:{}", page.port);
    let listing = page.request("GET", &page.base, &host, "");
    assert!(listing.starts_with("HTTP/1.1 200"), "{listing}");
    assert!(
        listing.contains(&format!("approve-{}", ids[0])) && listing.contains("probe__counter"),
        "{listing}"
    );
    // The guards: another host name, or a path without the token, gets nothing.
    assert!(
        page.request("GET", &page.base, "evil.example:80", "")
            .starts_with("HTTP/1.1 403")
    );
    assert!(
        page.request("GET", "/", &host, "")
            .starts_with("HTTP/1.1 404")
    );

    let decided = page.request(
        "POST",
        &format!("{}decide", page.base),
        &host,
        &format!("id={}&remember=session&action=approve", ids[0]),
    );
    assert!(decided.starts_with("HTTP/1.1 303"), "{decided}");
    let result = waiting.await.unwrap().expect("the call completes");
    assert_eq!(text_of(&result), "1");
    let grants = stdout(&home.run(&["approvals", "grants"]));
    assert!(
        grants.contains("session") && grants.contains("probe__counter"),
        "{grants}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_plugins_question_goes_to_the_inbox_when_the_client_cannot_ask() {
    let home = Home::new("approvals:\n  default: allow\nconnectors:\n  fixture: {enabled: true}\n");
    home.install(Plugin::Fixture);
    let (client, _e) = connect(&home).await;
    for (verb, expected) in [("approve", "action=accept"), ("deny", "action=decline")] {
        let waiting = call_in_background(&client, "test_elicitation_sep1034_defaults", json!({}));
        let ids = pending(&home, 1).await;
        let listed = stdout(&home.run(&["approvals", "list"]));
        assert!(
            listed.contains("fixture: question") && listed.contains("John Doe"),
            "{listed}"
        );
        assert!(home.run(&["approvals", verb, &ids[0]]).status.success());
        let result = waiting.await.unwrap().expect("answered");
        let text = text_of(&result);
        assert!(text.contains(expected), "{text}");
        if verb == "approve" {
            // Approving answers with the form's defaults.
            assert!(text.contains("John Doe"), "{text}");
        }
    }
    client.cancel().await.ok();
}
