//! Approvals under pressure: one yes runs exactly one call however many identical calls wait
//! (in one process or two); an answer serves only the client and session that asked and
//! only until its question expires; a sealed 2026-07-28 request state opens in another
//! process but is spent once; a client that gives up while waiting still gets its yes on the
//! repeat; a call that waits too long returns saying where to answer,
//! `serve` serves that page itself, and the person gets a desktop notification on the
//! session bus.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::approvals::{
    ASKING, audit_decisions, call_in_background, counter_value, home, id_in, pending,
    wait_for_pending,
};
use crate::support::client::{Options, connect_command};
use crate::support::raw::Raw;
use crate::support::{Home, call, connect, stdout, text_of};

/// Pending question ids, oldest first, without waiting.
fn pending_now(home: &Home) -> Vec<String> {
    stdout(&home.run(&["approvals", "list", "--json"]))
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

/// Wait until a question other than those in `seen` is pending; return it.
async fn another_pending(home: &Home, seen: &[String]) -> String {
    let path = home.path().to_path_buf();
    let seen = seen.to_vec();
    tokio::task::spawn_blocking(move || {
        let home = Home::at(&path);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(id) = pending_now(&home).into_iter().find(|id| !seen.contains(id)) {
                return id;
            }
            assert!(Instant::now() < deadline, "no new question appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap()
}

/// How many calls the person's answers approved (not the policy: reading the counter is an
/// allowed call of its own).
fn approved_count(home: &Home) -> usize {
    audit_decisions(home)
        .iter()
        .filter(|r| {
            r["outcome"] == "approved"
                && r["decided_by"]
                    .as_str()
                    .is_some_and(|by| by.starts_with("the person approved"))
        })
        .count()
}

#[tokio::test]
async fn one_yes_runs_exactly_one_of_several_identical_calls() {
    let home = home(ASKING);
    let (client, _e) = connect(&home).await;
    let calls: Vec<_> = (0..3)
        .map(|_| call_in_background(&client, "probe__counter", json!({})))
        .collect();
    let first = pending(&home, 1).await;
    assert!(
        home.run(&["approvals", "approve", &first[0]])
            .status
            .success()
    );
    // Exactly one call takes the yes; the others are asked again, and each further yes
    // runs one more. Deny what is left.
    let second = another_pending(&home, &first[..1]).await;
    let mut seen = vec![first[0].clone(), second.clone()];
    assert!(
        home.run(&["approvals", "approve", &second])
            .status
            .success()
    );
    let third = another_pending(&home, &seen).await;
    seen.push(third.clone());
    assert!(home.run(&["approvals", "deny", &third]).status.success());

    let mut ran = 0;
    let mut refused = 0;
    for waiting in calls {
        let result = waiting.await.unwrap().expect("answered");
        if result.is_error == Some(true) {
            assert!(text_of(&result).contains("not approved"), "{result:?}");
            refused += 1;
        } else {
            ran += 1;
        }
    }
    assert_eq!((ran, refused), (2, 1));
    client.cancel().await.ok();
    assert_eq!(counter_value(&home), 2, "two yeses ran two calls");
    assert_eq!(approved_count(&home), 2);
}

#[tokio::test]
async fn identical_calls_from_two_processes_get_a_question_each() {
    let home = home(ASKING);
    let (first, _e1) = connect(&home).await;
    let (second, _e2) = connect(&home).await;
    let a = call_in_background(&first, "probe__counter", json!({}));
    let b = call_in_background(&second, "probe__counter", json!({}));
    let ids = pending(&home, 2).await;
    assert_eq!(ids.len(), 2, "one question per asking session");
    assert!(
        home.run(&["approvals", "approve", &ids[0]])
            .status
            .success()
    );
    assert!(home.run(&["approvals", "deny", &ids[1]]).status.success());
    let results = [a.await.unwrap().unwrap(), b.await.unwrap().unwrap()];
    let ran = results.iter().filter(|r| r.is_error != Some(true)).count();
    assert_eq!(ran, 1, "{results:?}");
    first.cancel().await.ok();
    second.cancel().await.ok();
    assert_eq!(counter_value(&home), 1);
}

/// The page address in a waiting call's answer.
fn url_in(text: &str) -> String {
    let start = text.find("http://127.0.0.1:").expect("a page address");
    text[start..].split_whitespace().next().unwrap().to_string()
}

/// One HTTP request to the page at `url` (`http://127.0.0.1:PORT/TOKEN/`).
fn page_request(url: &str, method: &str, suffix: &str, body: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let request = format!(
        "{method} /{path}{suffix} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test]
async fn a_waiting_call_returns_with_the_page_and_the_retry_after_a_yes_runs_once() {
    let home = home("approvals:\n  wait: 1s\nconnectors:\n  probe: {enabled: true}\n");
    let (client, _e) = connect(&home).await;
    let waited = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(waited.is_error, Some(true));
    let text = text_of(&waited);
    assert!(
        text.contains("Tell the person") && text.contains("call probe__counter again"),
        "{text}"
    );
    let (id, url) = (id_in(&text), url_in(&text));
    // `serve` itself serves the page named in the answer; it lists the question.
    let listing = page_request(&url, "GET", "", "");
    assert!(listing.starts_with("HTTP/1.1 200"), "{listing}");
    assert!(listing.contains(&format!("approve-{id}")), "{listing}");
    // A repeat while nobody answered joins the same question instead of asking twice.
    let again = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(id_in(&text_of(&again)), id);
    assert_eq!(pending_now(&home), std::slice::from_ref(&id));

    let decided = page_request(&url, "POST", "decide", &format!("id={id}&action=approve"));
    assert!(decided.starts_with("HTTP/1.1 303"), "{decided}");
    let retried = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("retry");
    assert_eq!(text_of(&retried), "1", "{retried:?}");
    // The yes was used: the next identical call is asked anew.
    let third = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(third.is_error, Some(true));
    assert_ne!(id_in(&text_of(&third)), id);
    client.cancel().await.ok();
    assert_eq!(counter_value(&home), 1);
}

#[tokio::test]
async fn an_answer_serves_only_the_session_that_asked_and_expires_with_its_question() {
    let home =
        home("approvals:\n  wait: 1s\n  timeout: 3s\nconnectors:\n  probe: {enabled: true}\n");
    let (asking, _e1) = connect(&home).await;
    let first = asking
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    let id = id_in(&text_of(&first));
    assert!(home.run(&["approvals", "approve", &id]).status.success());

    // Another client's identical call is not served by that yes.
    let (other, _e2) = connect(&home).await;
    let theirs = other
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(theirs.is_error, Some(true));
    let their_id = id_in(&text_of(&theirs));
    assert_ne!(their_id, id);
    other.cancel().await.ok();

    // Their question expires unanswered: it can no longer be approved.
    let path = home.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let home = Home::at(&path);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pending_now(&home).is_empty() {
            assert!(Instant::now() < deadline, "the question did not expire");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    let late = home.run(&["approvals", "approve", &their_id]);
    assert!(!late.status.success(), "{}", stdout(&late));

    // The asking session's yes expired with its question (it was asked first): the
    // repetition is asked anew, and nothing ran.
    let expired = asking
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(expired.is_error, Some(true), "{expired:?}");
    asking.cancel().await.ok();
    assert_eq!(counter_value(&home), 0);
}

fn stateless_meta(client: &str) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": client, "version": "1.0"},
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}}
    })
}

fn stateless_call(id: i64, client: &str, retry: Option<(&Value, &str)>) -> Value {
    let mut params = json!({
        "name": "probe__counter",
        "arguments": {},
        "_meta": stateless_meta(client),
    });
    if let Some((responses, state)) = retry {
        params["inputResponses"] = responses.clone();
        params["requestState"] = json!(state);
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

#[tokio::test]
async fn a_sealed_approval_opens_in_another_process_once_and_only_for_its_client() {
    let home = home(ASKING);
    let mut first = Raw::spawn(&home);
    first.send(stateless_call(1, "e2e-client", None)).await;
    let asked = first.response(1).await;
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let state = result["requestState"].as_str().expect("a request state");
    let key = result["inputRequests"]
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .expect("a question");
    let message = result["inputRequests"][&key]["params"]["message"]
        .as_str()
        .or_else(|| result["inputRequests"][&key]["message"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("probe__counter") && message.contains("client e2e-client/1.0"),
        "{asked}"
    );
    let yes = json!({&key: {"action": "accept", "content": {"decision": "once"}}});

    // The retry reaches another process (as each stateless HTTP request may): it opens.
    let mut second = Raw::spawn(&home);
    second
        .send(stateless_call(2, "e2e-client", Some((&yes, state))))
        .await;
    let ran = second.response(2).await;
    assert_eq!(ran["result"]["content"][0]["text"], "1", "{ran}");

    // A replay, in either process, is refused; so is the state sent by another client.
    for (raw, id) in [(&mut first, 3), (&mut second, 4)] {
        raw.send(stateless_call(id, "e2e-client", Some((&yes, state))))
            .await;
        let replayed = raw.response(id).await;
        assert_eq!(replayed["result"]["isError"], true, "{replayed}");
        assert!(
            replayed["result"]["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("already used"),
            "{replayed}"
        );
    }
    second
        .send(stateless_call(5, "someone-else", Some((&yes, state))))
        .await;
    let stolen = second.response(5).await;
    assert_eq!(stolen["result"]["isError"], true, "{stolen}");
    assert!(
        stolen["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("not valid"),
        "{stolen}"
    );
    drop(first);
    drop(second);
    assert_eq!(counter_value(&home), 1);
    assert_eq!(approved_count(&home), 1);
}

/// A private session bus (`dbus-daemon`) and a `dbus-monitor` on it, watching the
/// notification service's interface.
struct Bus {
    daemon: Child,
    monitor: Child,
    address: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Bus {
    fn start() -> Self {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian's dbus-daemon package; scripts/test.sh installs it)");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_string();
        let mut monitor = Command::new("dbus-monitor")
            .args([
                "--address",
                &address,
                "interface='org.freedesktop.Notifications'",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor (Debian's dbus-bin package)");
        let (tx, lines) = std::sync::mpsc::channel();
        let out = monitor.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let bus = Self {
            daemon,
            monitor,
            address,
            lines,
        };
        // The monitor is attached once it has been told it lost its own name.
        bus.until(|l| l.contains("member=NameLost"));
        bus
    }

    /// Lines until one matches `done`; returns them all.
    fn until(&self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the bus saw nothing matching; saw {seen:#?}"));
            let finished = done(&line);
            seen.push(line);
            if finished {
                return seen;
            }
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.monitor.kill();
        let _ = self.daemon.kill();
        let _ = self.monitor.wait();
        let _ = self.daemon.wait();
    }
}

#[tokio::test]
async fn serve_notifies_the_desktop_and_its_page_answers() {
    let home = home(ASKING);
    let bus = Bus::start();
    let mut command = tokio::process::Command::new(crate::support::binary());
    command
        .arg("serve")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let (client, _e, _pid) = connect_command(&home, command, Options::default()).await;
    let waiting = call_in_background(&client, "probe__counter", json!({}));

    // Notify(app, id, icon, summary, body, …): the summary names the tool, the body the page.
    let (lines, _bus) = tokio::task::spawn_blocking(move || {
        let mut seen = bus.until(|l| l.contains("member=Notify"));
        seen.extend(bus.until(|l| l.contains("http://127.0.0.1:")));
        (seen, bus)
    })
    .await
    .unwrap();
    let text = lines.join("\n");
    assert!(text.contains("Approve probe__counter?"), "{text}");
    assert!(
        text.contains("switchboard-tests/1.0.0 wants to run probe__counter"),
        "{text}"
    );
    let url = url_in(lines.last().unwrap());
    let ids = wait_for_pending(&home, 1);
    let decided = page_request(
        &url,
        "POST",
        "decide",
        &format!("id={}&action=approve", ids[0]),
    );
    assert!(decided.starts_with("HTTP/1.1 303"), "{decided}");
    let result = waiting.await.unwrap().expect("answered");
    assert_eq!(text_of(&result), "1");
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_client_that_gives_up_while_waiting_still_gets_its_yes_on_the_repeat() {
    let home = home(ASKING);
    let (client, _e) = connect(&home).await;
    let waiting = call_in_background(&client, "probe__counter", json!({}));
    let ids = pending(&home, 1).await;
    // The client abandons the call while it waits (dropping it, rmcp sends
    // notifications/cancelled); the gate records that, and the question stays open.
    waiting.abort();
    let path = home.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let home = Home::at(&path);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !audit_decisions(&home).iter().any(|r| {
            r["outcome"] == "denied"
                && r["decided_by"]
                    .as_str()
                    .is_some_and(|by| by.contains("cancelled"))
        }) {
            assert!(
                Instant::now() < deadline,
                "no decision for the abandoned call"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert_eq!(pending_now(&home), ids);
    // The question outlives the call that gave up; answering it lets the repeat run once.
    assert!(
        home.run(&["approvals", "approve", &ids[0]])
            .status
            .success()
    );
    let repeated = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("answered");
    assert_eq!(text_of(&repeated), "1", "{repeated:?}");
    client.cancel().await.ok();
    assert_eq!(counter_value(&home), 1);
}
