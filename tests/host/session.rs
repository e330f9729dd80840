//! An MCP session end to end: handshake, the namespaced catalog, tool calls (including a
//! panicking one), resources, prompts, completion, progress, logging, elicitation, sampling.

#![allow(deprecated)] // MCP logging is deprecated in 2026-07-28 only.

use std::time::Duration;

use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, GetPromptRequestParams, ReadResourceRequestParams,
    Reference, ResourceContents,
};
use serde_json::json;

use crate::support::client::{ElicitAnswer, Event, Options, connect_with};
use crate::support::{Home, Plugin, call, connect, text_of};

const PROBE_AND_FIXTURE: &str =
    "connectors:\n  probe: {enabled: true}\n  fixture: {enabled: true}\n";
/// The same, with the approval inbox off: a plugin's question to a client that cannot ask
/// the person then fails at once instead of waiting in the inbox.
const NO_INBOX: &str = "approvals: {default: allow, inbox: false}\nconnectors:\n  probe: {enabled: true}\n  fixture: {enabled: true}\n";

#[tokio::test]
async fn handshake_names_switchboard_and_lists_namespaced_tools() {
    let home = Home::new(PROBE_AND_FIXTURE);
    home.install(Plugin::Probe);
    home.install(Plugin::Fixture);
    let (client, _events) = connect(&home).await;

    let info = client.peer_info().expect("server info");
    let server = info.server_info.as_ref().expect("serverInfo");
    assert_eq!(server.name, "switchboard");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    assert!(
        info.instructions
            .as_deref()
            .is_some_and(|i| i.contains("search"))
    );
    assert!(
        info.capabilities
            .tools
            .as_ref()
            .and_then(|t| t.list_changed)
            == Some(true)
    );

    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in [
        "search",
        "fetch",
        "probe__echo",
        "probe__panic",
        "test_simple_text",
        "test_image_content",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.contains(&"echo"),
        "plugin tools must carry their prefix: {names:?}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn plugin_tool_call_and_panic_leave_the_server_serving() {
    let home = Home::new(PROBE_AND_FIXTURE);
    home.install(Plugin::Probe);
    let (client, _events) = connect(&home).await;

    let result = client
        .call_tool(call("probe__echo", json!({"text": "hello there"})))
        .await
        .expect("echo");
    assert_eq!(text_of(&result), "hello there");
    assert_eq!(
        result.structured_content,
        Some(json!({"text": "hello there"}))
    );
    assert_ne!(result.is_error, Some(true));

    let panicked = client
        .call_tool(call("probe__panic", json!({})))
        .await
        .expect("panic answers");
    assert_eq!(panicked.is_error, Some(true));
    assert!(
        text_of(&panicked).contains("probe panic on purpose"),
        "{}",
        text_of(&panicked)
    );

    // The same plugin, and the server, keep working.
    let again = client
        .call_tool(call("probe__echo", json!({"text": "still here"})))
        .await
        .expect("echo again");
    assert_eq!(text_of(&again), "still here");

    // Invalid arguments are refused before the plugin sees them, naming the field.
    let err = client
        .call_tool(call("probe__echo", json!({"text": 5})))
        .await
        .expect_err("invalid args");
    let message = err.to_string();
    assert!(
        message.contains("-32602") || message.contains("invalid"),
        "{message}"
    );
    assert!(message.contains("/text"), "{message}");

    // An unknown tool is a precise error, not a hang.
    let err = client
        .call_tool(call("nope__nothing", json!({})))
        .await
        .expect_err("unknown tool");
    assert!(err.to_string().contains("unknown tool"), "{err}");
    client.cancel().await.ok();
}

#[tokio::test]
async fn key_value_store_persists_across_sessions() {
    let home = Home::new(PROBE_AND_FIXTURE);
    home.install(Plugin::Probe);
    let (client, _events) = connect(&home).await;
    let first = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("counter");
    assert_eq!(text_of(&first), "1");
    client.cancel().await.ok();

    let (client, _events) = connect(&home).await;
    let second = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .expect("counter");
    assert_eq!(text_of(&second), "2");
    client.cancel().await.ok();
}

#[tokio::test]
async fn resources_prompts_and_completion_route_to_their_plugin() {
    let home = Home::new(PROBE_AND_FIXTURE);
    home.install(Plugin::Fixture);
    let (client, _events) = connect(&home).await;

    let resources = client.list_all_resources().await.expect("resources/list");
    assert!(resources.iter().any(|r| r.uri == "test://static-text"));
    let read = client
        .read_resource(ReadResourceRequestParams::new("test://template/123/data"))
        .await
        .expect("template read");
    let text = match &read.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("expected text, got {other:?}"),
    };
    assert!(text.contains("\"id\":\"123\""), "{text}");

    let missing = client
        .read_resource(ReadResourceRequestParams::new("test://nothing-here"))
        .await;
    assert!(missing.is_err());

    let prompt = client
        .get_prompt({
            let mut p = GetPromptRequestParams::new("test_prompt_with_arguments");
            p.arguments = json!({"arg1": "hello", "arg2": "world"})
                .as_object()
                .cloned();
            p
        })
        .await
        .expect("prompts/get");
    let rendered = serde_json::to_string(&prompt.messages).unwrap();
    assert!(
        rendered.contains("arg1='hello', arg2='world'"),
        "{rendered}"
    );

    let completion = client
        .complete(CompleteRequestParams::new(
            Reference::for_prompt("test_prompt_with_arguments"),
            ArgumentInfo::new("arg1", "par"),
        ))
        .await
        .expect("completion/complete");
    assert!(
        completion.completion.values.contains(&"paris".to_string()),
        "{:?}",
        completion.completion.values
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn progress_and_log_notifications_reach_the_client() {
    let home = Home::new(PROBE_AND_FIXTURE);
    home.install(Plugin::Fixture);
    let (client, mut events) = connect(&home).await;

    client
        .call_tool(call("test_tool_with_progress", json!({})))
        .await
        .expect("progress tool");
    let last = events
        .wait_for(Duration::from_secs(5), |e| match e {
            Event::Progress(p) if p.progress >= 100.0 => Some(p.clone()),
            _ => None,
        })
        .await;
    assert_eq!(last.total, Some(100.0));

    client
        .call_tool(call("test_tool_with_logging", json!({})))
        .await
        .expect("logging tool");
    let log = events
        .wait_for(Duration::from_secs(5), |e| match e {
            Event::Log(l) if l.data.to_string().contains("Tool execution completed") => {
                Some(l.clone())
            }
            _ => None,
        })
        .await;
    assert!(format!("{:?}", log.level).contains("Info"));
    client.cancel().await.ok();
}

#[tokio::test]
async fn elicitation_and_sampling_pass_through_the_abi() {
    let home = Home::new(NO_INBOX);
    home.install(Plugin::Fixture);
    let options = Options {
        elicit: Some(ElicitAnswer::Accept(
            json!({"username": "ada", "email": "ada@example.org"}),
        )),
        sampling: true,
        ..Options::default()
    };
    let (client, _events) = connect_with(&home, options).await;

    let result = client
        .call_tool(call("test_elicitation", json!({"message": "Who are you?"})))
        .await
        .expect("elicitation tool");
    let text = text_of(&result);
    assert!(
        text.contains("accept") && text.contains("ada@example.org"),
        "{text}"
    );
    let asked = client.service().elicitations();
    assert_eq!(asked.len(), 1);
    assert!(format!("{:?}", asked[0]).contains("Who are you?"));

    let sampled = client
        .call_tool(call("test_sampling", json!({"prompt": "two plus two"})))
        .await
        .expect("sampling tool");
    let text = text_of(&sampled);
    assert!(
        text.starts_with("LLM response:") && text.contains("two plus two"),
        "{text}"
    );
    client.cancel().await.ok();

    // A client that declines: the tool hears "decline" and says so.
    let declining = Options {
        elicit: Some(ElicitAnswer::Decline),
        ..Options::default()
    };
    let (client, _events) = connect_with(&home, declining).await;
    let declined = client
        .call_tool(call("test_elicitation", json!({"message": "Who are you?"})))
        .await
        .expect("elicitation tool");
    assert!(
        text_of(&declined).contains("decline"),
        "{}",
        text_of(&declined)
    );
    client.cancel().await.ok();

    // A client without the capabilities gets a clear error result, not a hang.
    let (plain, _events) = crate::support::connect(&home).await;
    let refused = plain
        .call_tool(call("test_elicitation", json!({"message": "Who are you?"})))
        .await
        .expect("answers");
    assert_eq!(refused.is_error, Some(true), "{}", text_of(&refused));
    assert!(
        text_of(&refused).contains("elicitation"),
        "{}",
        text_of(&refused)
    );
    plain.cancel().await.ok();
}

#[tokio::test]
async fn stateless_2026_requests_are_served() {
    let home = Home::new(NO_INBOX);
    home.install(Plugin::Probe);
    home.install(Plugin::Fixture);
    let options = Options {
        stateless: true,
        ..Options::default()
    };
    let (client, _events) = connect_with(&home, options).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "probe__echo"));
    let echoed = client
        .call_tool(call("probe__echo", json!({"text": "stateless"})))
        .await
        .expect("call");
    assert_eq!(text_of(&echoed), "stateless");
    // The server may not send requests to a 2026 client: elicitation fails clearly.
    let refused = client
        .call_tool(call("test_elicitation", json!({"message": "hi"})))
        .await
        .expect("answers");
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text_of(&refused).contains("elicitation"),
        "{}",
        text_of(&refused)
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_call_past_its_deadline_fails_clearly_and_a_cancelled_one_stops() {
    let home = Home::new("connectors:\n  probe:\n    enabled: true\n    call_timeout: 500ms\n");
    home.install(Plugin::Probe);
    let (client, _events) = connect(&home).await;

    let late = client
        .call_tool(call("probe__slow", json!({"ms": 20000})))
        .await
        .expect("answers");
    assert_eq!(late.is_error, Some(true));
    assert!(
        text_of(&late).contains("timed out after 500ms")
            && text_of(&late).contains("may still complete"),
        "{}",
        text_of(&late)
    );

    // The client gives up on a call: rmcp sends notifications/cancelled when the future drops.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        client.call_tool(call("probe__slow", json!({"ms": 10000}))),
    )
    .await;
    assert!(abandoned.is_err(), "the call should still be running");
    // The plugin keeps serving: its slots were given back.
    for _ in 0..3 {
        let ok = client
            .call_tool(call("probe__echo", json!({"text": "next"})))
            .await
            .expect("echo");
        assert_eq!(text_of(&ok), "next");
    }
    client.cancel().await.ok();

    let audit = home.run(&["audit", "--json", "--limit", "50"]);
    let rows: Vec<serde_json::Value> = crate::support::stdout(&audit)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcomes: Vec<&str> = rows
        .iter()
        .filter(|r| r["tool"] == "probe__slow" && r["method"] == "tools/call")
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["timeout", "cancelled"], "{rows:#?}");
}
