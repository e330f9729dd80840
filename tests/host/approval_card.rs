//! The MCP App approval card's side in switchboard: which tools declare it and to whom, and
//! the app-only tool it answers through: a question read with a single-use nonce, answers
//! bound to that nonce and to the asking session, "always" left to the page and the CLI, and
//! a yes given after the call returned taken by its repetition.

use rmcp::model::CallToolResult;
use serde_json::{Value, json};

use crate::approvals::{ASKING, call_in_background, counter_value, home, id_in, pending};
use crate::support::client::{Options, TestClient, connect_with};
use crate::support::{call, connect, text_of};

type Client = rmcp::service::RunningService<rmcp::RoleClient, TestClient>;

const CARD_TOOL: &str = "switchboard__approval";

fn apps() -> Options {
    Options {
        apps: true,
        ..Options::default()
    }
}

async fn card(client: &Client, arguments: Value) -> Value {
    let result: CallToolResult = client
        .call_tool(call(CARD_TOOL, arguments))
        .await
        .expect("the card's call is answered");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result.structured_content.expect("structured content")
}

#[tokio::test]
async fn tools_that_may_be_asked_about_declare_the_card_to_clients_that_render_apps() {
    let home = home(ASKING);
    let (plain, _e1) = connect(&home).await;
    let listed = plain.list_all_tools().await.unwrap();
    assert!(listed.iter().all(|t| t.name != CARD_TOOL));
    assert!(listed.iter().all(|t| t.meta.is_none()), "{listed:?}");
    let refused = plain
        .call_tool(call(CARD_TOOL, json!({"op": "question", "arguments": {}})))
        .await
        .expect("answered");
    assert_eq!(refused.is_error, Some(true), "{refused:?}");
    plain.cancel().await.ok();

    let (client, _e2) = connect_with(&home, apps()).await;
    let listed = client.list_all_tools().await.unwrap();
    let ui = |name: &str| {
        listed
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| t.meta.as_ref())
            .and_then(|m| m.get("ui").cloned())
    };
    assert_eq!(
        ui("probe__counter"),
        Some(json!({"resourceUri": "ui://switchboard/approval"}))
    );
    // The policy lets `search` run: it declares no card.
    assert_eq!(ui("search"), None);
    assert_eq!(ui(CARD_TOOL).unwrap()["visibility"], json!(["app"]));
    let html = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "ui://switchboard/approval",
        ))
        .await
        .unwrap();
    let text = serde_json::to_value(&html.contents[0]).unwrap();
    assert_eq!(text["mimeType"], "text/html;profile=mcp-app");
    assert!(text["text"].as_str().unwrap().contains("ui/initialize"));
    client.cancel().await.ok();
}

#[tokio::test]
async fn the_card_answers_once_with_its_nonce_and_only_for_its_session() {
    let home = home(ASKING);
    let (client, _e) = connect_with(&home, apps()).await;
    let waiting = call_in_background(&client, "probe__counter", json!({}));
    pending(&home, 1).await;
    let question = card(
        &client,
        json!({"op": "question", "tool": "probe__counter", "arguments": {}}),
    )
    .await;
    assert_eq!(question["status"], "open", "{question}");
    assert!(
        question["text"]
            .as_str()
            .unwrap()
            .contains("Allow probe__counter")
    );
    let (id, nonce) = (question["id"].clone(), question["nonce"].clone());

    // Another session's card cannot answer it, even with the nonce.
    let (other, _e2) = connect_with(&home, apps()).await;
    let stolen = card(
        &other,
        json!({"op": "answer", "id": id, "nonce": nonce, "decision": "once"}),
    )
    .await;
    assert_eq!(stolen["outcome"], "refused", "{stolen}");
    other.cancel().await.ok();
    // A wrong nonce, or "always", is not taken.
    let wrong = card(
        &client,
        json!({"op": "answer", "id": id, "nonce": "guess", "decision": "once"}),
    )
    .await;
    assert_eq!(wrong["outcome"], "refused", "{wrong}");
    let always = client
        .call_tool(call(
            CARD_TOOL,
            json!({"op": "answer", "id": id, "nonce": nonce, "decision": "always"}),
        ))
        .await;
    let always = format!("{always:?}");
    assert!(always.contains("approval page or with the CLI"), "{always}");

    let yes = card(
        &client,
        json!({"op": "answer", "id": id, "nonce": nonce, "decision": "once"}),
    )
    .await;
    assert_eq!(yes["outcome"], "approved", "{yes}");
    assert_eq!(text_of(&waiting.await.unwrap().unwrap()), "1");
    let replay = card(
        &client,
        json!({"op": "answer", "id": id, "nonce": nonce, "decision": "once"}),
    )
    .await;
    assert_eq!(replay["outcome"], "refused", "{replay}");
    client.cancel().await.ok();
    assert_eq!(counter_value(&home), 1);
}

#[tokio::test]
async fn a_yes_on_the_card_after_the_call_returned_runs_its_repetition_once() {
    let home = home("approvals:\n  wait: 1s\nconnectors:\n  probe: {enabled: true}\n");
    let (client, _e) = connect_with(&home, apps()).await;
    let returned = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .unwrap();
    assert_eq!(returned.is_error, Some(true));
    let question = card(&client, json!({"op": "question", "arguments": {}})).await;
    assert_eq!(
        question["id"].as_str(),
        Some(id_in(&text_of(&returned)).as_str())
    );
    let yes = card(
        &client,
        json!({"op": "answer", "id": question["id"], "nonce": question["nonce"], "decision": "once"}),
    )
    .await;
    assert_eq!(yes["outcome"], "approved");
    let repeated = client
        .call_tool(call("probe__counter", json!({})))
        .await
        .unwrap();
    assert_eq!(text_of(&repeated), "1", "{repeated:?}");
    client.cancel().await.ok();
    assert_eq!(counter_value(&home), 1);
}
