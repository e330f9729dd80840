//! The tools as a model calls them: what the catalog offers (upload only when writable, the
//! read-only hints), listing a folder a page at a time, reading and searching through the
//! tools, and uploading: the multipart body Box receives, a name already taken (409), a
//! name or folder refused before sending, a throttled upload and a refused token answered
//! once.

use serde_json::json;
use switchboard_mocks::box_api::{CLIENT_ID, CLIENT_SECRET, SUBJECT_ID, SUBJECT_TYPE};
use switchboard_plugin_api::Connector;

use crate::BoxSource;
use crate::tests::{field, text, tool, world, world_with};

#[test]
fn the_manifest_and_catalog_offer_upload_only_when_writable() {
    let manifest = BoxSource::manifest();
    assert_eq!(manifest.name, "box");
    assert_eq!(manifest.data_source.unwrap().label, "Box");
    assert!(!manifest.load_by_default, "opt-in");
    let secrets: Vec<&str> = manifest.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(secrets, ["client_secret", "developer_token"]);
    assert_eq!(
        manifest.config_schema["properties"]["api_url"]["default"],
        "https://api.box.com/2.0"
    );

    let reader = world(json!({}));
    let tools = reader.source.catalog().tools;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "search_files",
            "read_file",
            "list_folder",
            "sign_in",
            "check",
            "sign_out"
        ]
    );
    for tool in &tools {
        let read_only = tool.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true);
        let expected = !matches!(tool.name.as_str(), "sign_in" | "sign_out");
        assert_eq!(read_only, expected, "{}", tool.name);
    }
    let refused = tool(
        &reader,
        "upload_file",
        json!({"name": "a.txt", "content": "x"}),
    )
    .unwrap_err();
    assert!(refused.message.contains("no tool named upload_file"));

    let writer = world(json!({"writable": true}));
    let upload = writer
        .source
        .catalog()
        .tools
        .into_iter()
        .find(|t| t.name == "upload_file")
        .expect("offered when writable");
    let hints = upload.annotations.unwrap();
    assert_eq!(hints.read_only_hint, Some(false));
    assert_eq!(hints.destructive_hint, Some(true));
    assert_eq!(hints.open_world_hint, Some(true));
}

#[test]
fn list_folder_pages_through_a_folder() {
    let w = world(json!({}));
    let root = tool(&w, "list_folder", json!({})).unwrap();
    assert!(!root.is_error, "{}", text(&root));
    let listing = root.structured_content.unwrap();
    let names: Vec<&str> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Engineering", "Finance", "Marketing"]);
    assert_eq!(listing["next_offset"], json!(null));
    let asked = &w.mock.seen_at("/2.0/folders/0/items")[0].target;
    assert_eq!(field(asked, "limit").as_deref(), Some("100"));
    assert_eq!(field(asked, "offset").as_deref(), Some("0"));
    assert!(field(asked, "fields").unwrap().contains("name"));

    let first = tool(&w, "list_folder", json!({"folder_id": "100", "limit": 2})).unwrap();
    let first = first.structured_content.unwrap();
    assert_eq!(first["total_count"], 4);
    assert_eq!(first["entries"][0]["type"], "folder");
    assert_eq!(first["entries"][0]["name"], "Planning");
    assert_eq!(first["next_offset"], 2);
    let rest = tool(
        &w,
        "list_folder",
        json!({"folder_id": "100", "limit": 2, "offset": 2}),
    )
    .unwrap();
    let rest = rest.structured_content.unwrap();
    let names: Vec<&str> = rest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Q3 budget review.md", "budget-2026.csv"]);
    assert_eq!(rest["next_offset"], json!(null));
}

#[test]
fn list_folder_refuses_bad_ids_and_names_a_missing_folder() {
    let w = world(json!({}));
    for id in [
        "../0",
        "0?recursive=true",
        "0/../../users/me",
        "root",
        "0 OR 1=1",
    ] {
        let result = tool(&w, "list_folder", json!({"folder_id": id})).unwrap();
        assert!(
            result.is_error && text(&result).contains("is not a Box folder id"),
            "{id}: {}",
            text(&result)
        );
    }
    assert!(w.mock.seen().is_empty());
    let missing = tool(&w, "list_folder", json!({"folder_id": "777"})).unwrap();
    assert!(
        missing.is_error
            && text(&missing).starts_with("listing Box folder 777: Box has no such item"),
        "{}",
        text(&missing)
    );
}

#[test]
fn read_file_and_search_files_answer_the_model() {
    let w = world(json!({}));
    let read = tool(&w, "read_file", json!({"id": "1004"})).unwrap();
    let said = text(&read);
    assert!(
        said.starts_with("Team offsite notes.txt (in All Files/Marketing, "),
        "{said}"
    );
    assert!(said.contains("The budget covers flights"));
    let bad = tool(&w, "read_file", json!({"id": "1004/../1001"})).unwrap();
    assert!(bad.is_error && text(&bad).contains("digits only"));

    let found = tool(&w, "search_files", json!({"query": "budget", "limit": 2})).unwrap();
    let structured = found.structured_content.clone().unwrap();
    let files = &structured["files"];
    assert_eq!(files.as_array().unwrap().len(), 2);
    assert_eq!(files[0]["id"], "1001");
    assert_eq!(files[0]["path"], "All Files/Finance");
    assert!(text(&found).contains("- Q3 budget review.md (id 1001): "));
    let none = tool(&w, "search_files", json!({"query": "zebra"})).unwrap();
    assert!(text(&none).starts_with("0 file(s) in Box"));
}

#[test]
fn upload_sends_attributes_then_the_file_and_box_keeps_it() {
    let w = world(json!({"writable": true}));
    let result = tool(
        &w,
        "upload_file",
        json!({"name": "Q4 budget.md", "content": "# Q4\nbudget: tbd\n", "folder_id": "100"}),
    )
    .unwrap();
    assert!(!result.is_error, "{}", text(&result));
    let stored = w.mock.file_named("100", "Q4 budget.md").expect("uploaded");
    assert_eq!(stored.content, b"# Q4\nbudget: tbd\n");
    assert!(text(&result).contains(&format!("id {}", stored.id)));
    assert!(text(&result).contains(&w.mock.url(&format!("/file/{}", stored.id))));
    let sent = w.mock.seen_at("/api/2.0/files/content");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some("Bearer box-dev-token")
    );
}

#[test]
fn a_name_taken_is_a_409_in_words_and_bad_names_are_not_sent() {
    let w = world(json!({"writable": true}));
    let taken = tool(
        &w,
        "upload_file",
        json!({"name": "roadmap.md", "content": "x", "folder_id": "200"}),
    )
    .unwrap();
    assert!(taken.is_error);
    assert!(
        text(&taken).contains("Box already has an item named \"roadmap.md\" in that folder (409 item_name_in_use, the file there has id 1005)")
            && text(&taken).contains("never replaces"),
        "{}",
        text(&taken)
    );
    assert_eq!(
        w.mock.file("1005").unwrap().content,
        b"# Roadmap\n\n- search everywhere\n- faster sync\n"
    );
    for (name, folder) in [
        ("../escape.txt", "0"),
        ("a\\b", "0"),
        ("..", "0"),
        ("ok.txt", "0/../1"),
        ("ok.txt", "'; --"),
    ] {
        let result = tool(
            &w,
            "upload_file",
            json!({"name": name, "content": "x", "folder_id": folder}),
        )
        .unwrap();
        assert!(result.is_error, "{name} in {folder}");
    }
    assert_eq!(
        w.mock.seen_at("/api/2.0/files/content").len(),
        1,
        "only the 409 was sent"
    );
    let missing = tool(
        &w,
        "upload_file",
        json!({"name": "a.txt", "content": "x", "folder_id": "4242"}),
    )
    .unwrap();
    assert!(
        text(&missing).contains("Box has no such item"),
        "{}",
        text(&missing)
    );
}

#[test]
fn a_throttled_upload_waits_and_a_refused_token_is_renewed_once() {
    let w = world_with(
        json!({"writable": true, "client_id": CLIENT_ID, "subject_type": SUBJECT_TYPE, "subject_id": SUBJECT_ID}),
        &[("client_secret", CLIENT_SECRET)],
    );
    w.mock.throttle(1, 1);
    let first = tool(
        &w,
        "upload_file",
        json!({"name": "one.txt", "content": "1"}),
    )
    .unwrap();
    assert!(!first.is_error, "{}", text(&first));
    assert_eq!(w.mock.seen_at("/api/2.0/files/content").len(), 2);
    w.mock.expire_next_token();
    let second = tool(
        &w,
        "upload_file",
        json!({"name": "two.txt", "content": "2"}),
    )
    .unwrap();
    assert!(!second.is_error, "{}", text(&second));
    assert_eq!(w.mock.grants(), ["client_credentials"; 2]);
    let sent = w.mock.seen_at("/api/2.0/files/content");
    assert_eq!(sent.len(), 4);
    assert_ne!(
        sent[2].authorization, sent[3].authorization,
        "retried with the new token"
    );
    assert!(w.mock.file_named("0", "two.txt").is_some());

    let dev = world(json!({"writable": true}));
    dev.mock.expire_next_token();
    let refused = tool(
        &dev,
        "upload_file",
        json!({"name": "x.txt", "content": "x"}),
    )
    .unwrap();
    assert!(
        refused.is_error && text(&refused).contains("developer token"),
        "{}",
        text(&refused)
    );
    assert_eq!(dev.mock.seen_at("/api/2.0/files/content").len(), 1);
}
