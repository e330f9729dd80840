//! The unified `search` / `fetch` over a generated corpus in the `files` connector, with the
//! probe plugin as a second source that can fail or stall on demand.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{Home, Plugin, call, connect};

/// 60 small notes, one mentioning a zebra, a hidden folder that mentions it too (never
/// indexed), a binary file and a large file.
fn make_corpus(root: &Path) {
    for n in 0..60 {
        let dir = root.join(format!("folder{}", n % 6));
        std::fs::create_dir_all(&dir).unwrap();
        let body = if n == 17 {
            "Meeting notes: the zebra migration plan is approved.".to_string()
        } else {
            format!("Ordinary note number {n} about gardening and bread.")
        };
        std::fs::write(dir.join(format!("note{n}.md")), body).unwrap();
    }
    std::fs::create_dir_all(root.join(".secret")).unwrap();
    std::fs::write(root.join(".secret/key.txt"), "zebra password hunter2").unwrap();
    std::fs::write(root.join("image.bin"), [0u8, 159, 146, 150, 0, 1, 2, 3]).unwrap();
    std::fs::write(root.join("big.txt"), "lorem ipsum ".repeat(300_000)).unwrap();
}

fn config(corpus: &Path) -> String {
    format!(
        "search:\n  source_timeout: 1s\nconnectors:\n  probe: {{enabled: true}}\n  files:\n    config:\n      roots: [{:?}]\n",
        corpus.display().to_string()
    )
}

/// A served home with `files` over a fresh corpus and the probe as a second source.
async fn serve_corpus() -> (
    tempfile::TempDir,
    Home,
    rmcp::service::RunningService<rmcp::RoleClient, crate::support::client::TestClient>,
) {
    let corpus = tempfile::tempdir().unwrap();
    make_corpus(corpus.path());
    let home = Home::new(&config(corpus.path()));
    home.install(Plugin::Files);
    home.install(Plugin::Probe);
    let (client, _events) = connect(&home).await;
    (corpus, home, client)
}

fn structured(result: &rmcp::model::CallToolResult) -> Value {
    result
        .structured_content
        .clone()
        .expect("structured content")
}

#[tokio::test]
async fn search_and_fetch_across_sources() {
    let (_corpus, _home, client) = serve_corpus().await;

    let result = client
        .call_tool(call("search", json!({"query": "zebra"})))
        .await
        .expect("search");
    let found = structured(&result);
    let hits = found["results"].as_array().expect("results");
    let note = hits
        .iter()
        .find(|h| h["source"] == "files")
        .unwrap_or_else(|| panic!("no files hit in {found}"));
    let id = note["id"].as_str().unwrap();
    assert!(
        id.starts_with("files:") && id.ends_with("note17.md"),
        "{id}"
    );
    assert!(
        note["snippet"].as_str().unwrap_or("").contains("zebra"),
        "{note}"
    );
    assert!(
        !hits
            .iter()
            .any(|h| h["id"].as_str().unwrap_or("").contains(".secret")),
        "hidden files must not be indexed: {found}"
    );
    assert!(found["errors"].as_array().unwrap().is_empty(), "{found}");
    let text = result.content[0].as_text().unwrap().text.clone();
    assert!(
        text.contains(id),
        "the text rendering lists the ids: {text}"
    );

    let fetched = client
        .call_tool(call("fetch", json!({"id": id})))
        .await
        .expect("fetch");
    let document = structured(&fetched);
    assert_eq!(document["id"], id);
    assert!(
        document["text"]
            .as_str()
            .unwrap()
            .contains("zebra migration plan"),
        "{document}"
    );

    // Only the sources asked for.
    let probe_only = client
        .call_tool(call(
            "search",
            json!({"query": "orbit", "sources": ["probe"]}),
        ))
        .await
        .expect("search probe");
    let probe_hits = structured(&probe_only);
    assert!(
        probe_hits["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["source"] == "probe"),
        "{probe_hits}"
    );
    assert!(
        !probe_hits["results"].as_array().unwrap().is_empty(),
        "{probe_hits}"
    );

    // Nothing outside a root, however the id is spelled.
    for outside in ["files:/etc/passwd", &format!("{id}/../../../../etc/passwd")] {
        let escaped = client
            .call_tool(call("fetch", json!({"id": outside})))
            .await;
        match escaped {
            Ok(r) => {
                assert_eq!(r.is_error, Some(true), "{outside} must be refused");
                assert!(!format!("{:?}", r.content).contains("root:x:0"));
            }
            Err(e) => assert!(!e.to_string().contains("root:x:0")),
        }
    }
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_failing_or_slow_source_yields_partial_results_not_a_failed_call() {
    let (_corpus, _home, client) = serve_corpus().await;

    let failed = client
        .call_tool(call("search", json!({"query": "__fail__"})))
        .await
        .expect("search");
    assert_ne!(failed.is_error, Some(true));
    let body = structured(&failed);
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["source"], "probe");

    let slow = client
        .call_tool(call("search", json!({"query": "__slow__"})))
        .await
        .expect("search");
    assert_ne!(slow.is_error, Some(true));
    let body = structured(&slow);
    let error = &body["errors"][0];
    assert_eq!(error["source"], "probe", "{body}");
    assert!(
        error["error"].as_str().unwrap().contains("timed out"),
        "{body}"
    );

    // The server still answers at once afterwards.
    let again = client
        .call_tool(call("search", json!({"query": "gardening", "limit": 3})))
        .await
        .expect("search");
    assert_eq!(structured(&again)["results"].as_array().unwrap().len(), 3);
    client.cancel().await.ok();
}
