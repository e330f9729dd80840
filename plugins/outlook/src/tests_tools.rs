//! The tools as the host lists and calls them: which are offered under which settings and
//! how they are annotated, searching a folder, reading, listing folders page by page, and
//! writing (drafts, sending) with the permission it needs and recipients checked.

use serde_json::json;
use switchboard_mocks::graph::seed;
use switchboard_plugin_api::model::ToolAnnotations;
use switchboard_plugin_api::testing::{self, FakeCall};
use switchboard_plugin_api::{Connector, ErrorKind};

use crate::Outlook;
use crate::tests::{app, person, signed_in, text};

fn names(outlook: &Outlook) -> Vec<String> {
    outlook
        .catalog()
        .tools
        .into_iter()
        .map(|t| t.name)
        .collect()
}

#[test]
fn the_manifest_declares_an_opt_in_data_source_with_its_one_secret() {
    let manifest = Outlook::manifest();
    assert_eq!(manifest.name, "outlook");
    assert!(!manifest.load_by_default, "opt-in");
    assert_eq!(manifest.data_source.unwrap().label, "Outlook mail");
    let secrets: Vec<&str> = manifest.secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(secrets, ["client_secret"]);
    assert_eq!(
        manifest.config_schema["properties"]["tenant"]["default"],
        "organizations"
    );
    assert!(!manifest.description.is_empty());
}

#[test]
fn writing_tools_are_offered_only_when_asked_and_never_as_read_only() {
    let plain = person(json!({}));
    assert_eq!(
        names(&plain.outlook),
        [
            "search_mail",
            "read_mail",
            "list_folders",
            "sign_in",
            "check",
            "sign_out"
        ]
    );
    for tool in plain.outlook.catalog().tools {
        let annotations = tool.annotations.clone().unwrap();
        let read_only =
            ["search_mail", "read_mail", "list_folders", "check"].contains(&tool.name.as_str());
        assert_eq!(
            annotations == ToolAnnotations::read_only(),
            read_only,
            "{}",
            tool.name
        );
        assert!(tool.title.is_some());
    }
    let both = person(json!({"drafts": true, "send": true}));
    assert_eq!(
        names(&both.outlook),
        [
            "search_mail",
            "read_mail",
            "list_folders",
            "create_draft",
            "send_mail",
            "sign_in",
            "check",
            "sign_out"
        ]
    );
    for tool in both
        .outlook
        .catalog()
        .tools
        .into_iter()
        .filter(|t| t.name == "create_draft" || t.name == "send_mail")
    {
        let annotations = tool.annotations.unwrap();
        assert_eq!(annotations.read_only_hint, Some(false));
        assert_eq!(annotations.destructive_hint, Some(true));
        assert_eq!(annotations.open_world_hint, Some(true));
    }
    let call = testing::call(&FakeCall::new());
    let error = plain
        .outlook
        .call_tool("send_mail", Default::default(), &call)
        .unwrap_err();
    assert_eq!(
        error.kind,
        ErrorKind::NOT_FOUND,
        "not offered, not callable"
    );
}

#[test]
fn search_mail_in_a_folder_lists_ids_and_refuses_a_folder_that_leaves_its_segment() {
    let world = app(json!({}));
    let result = world.tool(
        "search_mail",
        json!({"query": "budget", "folder": "archive"}),
    );
    assert!(!result.is_error, "{}", text(&result));
    let shown = text(&result);
    assert!(
        shown.starts_with(
            "1 messages:\n- Budget freeze FY27\n  id: AAMkAGI2TG93AAABudget-Freeze_0009AAA=\n"
        ),
        "{shown}"
    );
    assert!(
        world.targets("/messages")[0].starts_with(
            "/v1.0/users/megan%40contoso.example/mailFolders/archive/messages?$search="
        )
    );

    let none = world.tool(
        "search_mail",
        json!({"query": "ramen", "folder": "archive"}),
    );
    assert_eq!(text(&none), "No messages match \"ramen\".");

    let requests = world.mock.graph_requests();
    let hostile = world.tool(
        "search_mail",
        json!({"query": "budget", "folder": "../../users/ceo@contoso.example"}),
    );
    assert!(hostile.is_error);
    assert!(
        text(&hostile).contains("is not a Graph folder id (it holds '/')"),
        "{}",
        text(&hostile)
    );
    assert_eq!(world.mock.graph_requests(), requests);

    let unknown = world.tool(
        "search_mail",
        json!({"query": "budget", "folder": "nosuchfolder"}),
    );
    assert!(
        unknown.is_error && text(&unknown).contains("404 ErrorItemNotFound"),
        "{}",
        text(&unknown)
    );

    let wrong = world.tool("search_mail", json!({"query": "budget", "limit": "ten"}));
    assert!(
        wrong.is_error && text(&wrong).contains("limit"),
        "{}",
        text(&wrong)
    );
}

#[test]
fn read_mail_gives_the_text_and_the_link() {
    let world = app(json!({}));
    let result = world.tool("read_mail", json!({"id": seed::BUDGET_REVIEW}));
    assert!(!result.is_error, "{}", text(&result));
    let shown = text(&result);
    assert!(shown.starts_with("Subject: Q3 budget review\n"));
    assert!(shown.contains("- Q3-budget.xlsx ("));
    assert!(shown.contains("\n\nOpen in Outlook: https://outlook.office365.com/owa/?ItemID="));
    let bad = world.tool("read_mail", json!({"id": "AAMk?$expand=attachments"}));
    assert!(bad.is_error && text(&bad).contains("'?'"), "{}", text(&bad));
}

#[test]
fn list_folders_follows_the_pages() {
    let world = app(json!({"page_size": 4}));
    let result = world.tool("list_folders", json!({}));
    assert!(!result.is_error, "{}", text(&result));
    let shown = text(&result);
    assert!(
        shown.starts_with("6 folders:\n- Inbox (9 messages, 0 unread, 1 subfolders)\n  id: "),
        "{shown}"
    );
    for name in [
        "Drafts",
        "Sent Items",
        "Deleted Items",
        "Archive",
        "Junk Email",
    ] {
        assert!(shown.contains(&format!("- {name} (")), "{name}: {shown}");
    }
    let seen = world.targets("/mailFolders");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0],
        "/v1.0/users/megan%40contoso.example/mailFolders?$top=4"
    );
    assert!(
        seen[1].contains("%24skiptoken="),
        "the next link as given: {}",
        seen[1]
    );
}

#[test]
fn create_draft_asks_for_mail_read_write_and_saves_a_text_draft() {
    let world = signed_in(json!({"drafts": true}));
    let scope = world.mock.grants()[0].scope.clone();
    assert_eq!(
        scope.as_deref(),
        Some("offline_access User.Read Mail.Read Mail.ReadWrite")
    );
    let result = world.tool(
        "create_draft",
        json!({"to": ["adele@contoso.example"], "subject": "Budget follow-up", "body": "Numbers <b>attached</b>."}),
    );
    assert!(!result.is_error, "{}", text(&result));
    assert!(
        text(&result)
            .starts_with("Saved the draft \"Budget follow-up\" in Drafts (not sent); id: AAMk"),
        "{}",
        text(&result)
    );
    let draft = world
        .mock
        .messages()
        .into_iter()
        .find(|m| m.subject == "Budget follow-up")
        .unwrap();
    assert!(draft.is_draft);
    assert_eq!(draft.folder, seed::DRAFTS);
    assert_eq!(
        draft.content_type, "text",
        "the body goes as text, never as HTML"
    );
    assert_eq!(draft.body, "Numbers <b>attached</b>.");
    assert_eq!(
        draft.to,
        [(
            "adele@contoso.example".to_string(),
            "adele@contoso.example".to_string()
        )]
    );
    assert!(world.mock.sent().is_empty(), "nothing sent");
}

#[test]
fn a_write_the_token_may_not_make_is_denied_with_what_to_grant() {
    let world = app(json!({"drafts": true}));
    let result = world.tool(
        "create_draft",
        json!({"to": ["adele@contoso.example"], "subject": "x", "body": "y"}),
    );
    assert!(result.is_error);
    assert_eq!(
        text(&result),
        "Microsoft Graph denied saving the draft (403 ErrorAccessDenied: Access is denied. Check credentials and try again.): grant the app the Mail application permission this needs, with admin consent, in its app registration"
    );
    let person = signed_in(json!({}));
    let scope = person.mock.grants()[0].scope.clone();
    assert_eq!(
        scope.as_deref(),
        Some("offline_access User.Read Mail.Read"),
        "no write scope unless asked"
    );
}

#[test]
fn send_mail_asks_for_mail_send_posts_send_mail_and_checks_recipients_first() {
    let world = signed_in(json!({"send": true}));
    assert_eq!(
        world.mock.grants()[0].scope.as_deref(),
        Some("offline_access User.Read Mail.Read Mail.Send")
    );
    let result = world.tool(
        "send_mail",
        json!({"to": ["adele@contoso.example"], "cc": ["alex@contoso.example"], "subject": "Q3 budget", "body": "Approved."}),
    );
    assert!(!result.is_error, "{}", text(&result));
    assert_eq!(
        text(&result),
        "Sent \"Q3 budget\" to adele@contoso.example; a copy is in Sent Items."
    );
    assert_eq!(
        world.mock.sent(),
        [json!({
            "message": {
                "subject": "Q3 budget",
                "body": {"contentType": "Text", "content": "Approved."},
                "toRecipients": [{"emailAddress": {"address": "adele@contoso.example"}}],
                "ccRecipients": [{"emailAddress": {"address": "alex@contoso.example"}}],
            },
            "saveToSentItems": true,
        })]
    );
    assert_eq!(world.mock.seen_at("/v1.0/me/sendMail").len(), 1);

    let requests = world.mock.graph_requests();
    for to in [
        "adele@contoso.example, ceo@contoso.example",
        "Adele <adele@contoso.example>",
        "adele@contoso.example\r\nBcc: x@evil.example",
    ] {
        let refused = world.tool(
            "send_mail",
            json!({"to": [to], "subject": "s", "body": "b"}),
        );
        assert!(refused.is_error);
        assert!(
            text(&refused).contains("is not an email address"),
            "{}",
            text(&refused)
        );
    }
    assert_eq!(
        world.mock.graph_requests(),
        requests,
        "nothing sent for a bad recipient"
    );
    assert_eq!(world.mock.sent().len(), 1);
}
