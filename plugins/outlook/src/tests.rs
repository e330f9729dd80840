//! The connector as the host drives it, against the Graph stand-in: the unified search and
//! fetch (paging, quoting, ids, HTML, attachments). Throttling, cancellation and error
//! answers are in `tests_failures.rs`, sign-in and tokens in `tests_auth.rs`, the tools in
//! `tests_tools.rs`; the helpers here serve them all.

use std::path::PathBuf;

use abi_stable::std_types::RArc;
use serde_json::{Value, json};
use switchboard_mocks::graph::{self, GraphMock, seed};
use switchboard_plugin_api::model::{Content, SearchRequest, ToolResult};
use switchboard_plugin_api::testing::{self, FakeCall, FakeHost};
use switchboard_plugin_api::{Connector, ErrorKind, PluginError};

use crate::Outlook;

pub(crate) struct World {
    pub mock: GraphMock,
    pub host: RArc<FakeHost>,
    pub outlook: Outlook,
}

/// The settings pointing at `mock`, tenant `contoso`, with `extra` merged in.
pub(crate) fn settings(mock: &GraphMock, extra: Value) -> Value {
    let mut config = json!({
        "api_url": mock.url("/v1.0"),
        "auth_url": mock.url(""),
        "tenant": graph::TENANT,
        "client_id": graph::CLIENT_ID,
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        config[k] = v.clone();
    }
    config
}

/// The connector built on `host` for `mock`.
pub(crate) fn build(mock: GraphMock, host: RArc<FakeHost>, extra: Value) -> World {
    let outlook =
        Outlook::new(testing::host(&host), settings(&mock, extra)).expect("the connector starts");
    World {
        mock,
        host,
        outlook,
    }
}

/// The app flow: the fixed client secret and mailbox.
pub(crate) fn app(extra: Value) -> World {
    let host = FakeHost::new(PathBuf::new());
    host.set_secret("client_secret", graph::CLIENT_SECRET);
    let mut extra = extra;
    if extra.get("mailbox").is_none() {
        extra["mailbox"] = json!(graph::MAILBOX);
    }
    build(graph::start(), host, extra)
}

/// A person, not signed in yet; device codes ask for no wait between polls.
pub(crate) fn person(extra: Value) -> World {
    let mock = graph::start();
    mock.device_interval(0);
    build(mock, FakeHost::new(PathBuf::new()), extra)
}

/// A person signed in with a device code.
pub(crate) fn signed_in(extra: Value) -> World {
    let world = person(extra);
    let result = world.tool("sign_in", json!({}));
    assert!(!result.is_error, "{}", text(&result));
    world
}

impl World {
    pub fn tool(&self, name: &str, args: Value) -> ToolResult {
        self.tool_with(name, args, &FakeCall::new())
    }

    pub fn tool_with(&self, name: &str, args: Value, fake: &RArc<FakeCall>) -> ToolResult {
        let Value::Object(args) = args else {
            panic!("arguments are an object")
        };
        self.outlook
            .call_tool(name, args, &testing::call(fake))
            .expect("the tool exists")
    }

    pub fn search(
        &self,
        query: &str,
        limit: u32,
    ) -> Result<Vec<switchboard_plugin_api::model::SearchHit>, PluginError> {
        let request = SearchRequest {
            query: query.to_string(),
            limit,
        };
        self.outlook
            .search(request, &testing::call(&FakeCall::new()))
    }

    /// The Graph requests made to the mailbox path `rest` (`/messages`), path and query.
    pub fn targets(&self, rest: &str) -> Vec<String> {
        self.mock
            .seen()
            .into_iter()
            .filter(|s| {
                s.target
                    .split('?')
                    .next()
                    .is_some_and(|p| p.ends_with(rest) && p.starts_with("/v1.0/"))
            })
            .map(|s| s.target)
            .collect()
    }

    /// Whether any log line holds `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.host.logged(text)
    }
}

pub(crate) fn text(result: &ToolResult) -> String {
    result
        .content
        .iter()
        .map(|c| match c {
            Content::Text { text } => text.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

const APP_MESSAGES: &str = "/v1.0/users/megan%40contoso.example/messages";

fn budget_ids() -> Vec<String> {
    let mut messages: Vec<seed::Message> = seed::messages()
        .into_iter()
        .filter(|m| {
            format!("{} {}", m.subject, m.body)
                .to_lowercase()
                .contains("budget")
        })
        .collect();
    messages.sort_by(|a, b| b.received.cmp(&a.received));
    messages.into_iter().map(|m| m.id).collect()
}

#[test]
fn a_search_quotes_selects_and_follows_next_links_verbatim_until_the_limit() {
    let world = app(json!({"page_size": 2}));
    let hits = world.search("budget", 10).unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, budget_ids(), "every budget message, newest first");
    assert_eq!(ids.len(), 5);

    let seen = world.targets("/messages");
    assert_eq!(seen.len(), 3, "three pages of two: {seen:?}");
    assert_eq!(
        seen[0],
        format!(
            "{APP_MESSAGES}?$search=%22budget%22&$select=id%2Csubject%2Cfrom%2CreceivedDateTime%2CbodyPreview%2CwebLink&$top=2"
        )
    );
    for next in &seen[1..] {
        // The stand-in's links spell `$` as `%24` and carry a skip token the connector cannot
        // make up: these are its links, used as given.
        assert!(
            next.starts_with(&format!("{APP_MESSAGES}?%24search=%22budget%22&")),
            "{next}"
        );
        assert!(next.contains("%24skiptoken=MSZZ"), "{next}");
    }
    assert_ne!(seen[1], seen[2]);

    let review = &hits[0];
    assert_eq!(review.id, seed::BUDGET_REVIEW);
    assert_eq!(review.title, "Q3 budget review");
    assert!(
        review
            .url
            .as_deref()
            .unwrap()
            .starts_with("https://outlook.office365.com/owa/?ItemID=")
    );
    let snippet = review.snippet.as_deref().unwrap();
    assert!(
        snippet.starts_with("Hi Megan, Attached is the Q3 budget."),
        "{snippet}"
    );
    assert!(
        snippet.contains("from Adele Vance <adele@contoso.example>, 2026-11-30 16:05 UTC"),
        "{snippet}"
    );
}

#[test]
fn a_search_stops_asking_once_it_has_enough() {
    let world = app(json!({"page_size": 2}));
    let hits = world.search("budget", 3).unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(
        world.targets("/messages").len(),
        2,
        "two pages give three hits"
    );
    let small = world.search("budget", 1).unwrap();
    assert_eq!(small.len(), 1);
    assert!(
        world.targets("/messages")[2].ends_with("&$top=1"),
        "$top is the limit when smaller"
    );
    assert!(world.search("budget", 0).unwrap().is_empty());
    assert_eq!(
        world.targets("/messages").len(),
        3,
        "a limit of 0 asks nothing"
    );
}

#[test]
fn a_quote_in_the_query_cannot_end_the_kql_string_nor_a_parameter() {
    let world = app(json!({}));
    let hostile = "budget\" OR subject:\"lunch&$top=1000";
    let hits = world.search(hostile, 10).unwrap();
    assert!(
        hits.is_empty(),
        "one literal phrase, matching nothing: {hits:?}"
    );
    assert_eq!(
        world.mock.searches(),
        [hostile],
        "Graph read the query back unchanged"
    );
    let target = &world.targets("/messages")[0];
    assert!(
        target.contains("$search=%22budget%5C%22%20OR%20subject%3A%5C%22lunch%26%24top%3D1000%22&"),
        "{target}"
    );
    assert_eq!(target.matches("$top=").count(), 1, "{target}");

    let sql = "'; DROP TABLE messages; --";
    assert!(world.search(sql, 5).unwrap().is_empty());
    assert_eq!(world.mock.searches()[1], sql);

    let error = world.search("  \n ", 5).unwrap_err();
    assert_eq!(error.kind, ErrorKind::INVALID_INPUT);
    assert!(error.message.contains("empty"), "{}", error.message);
    assert_eq!(
        world.targets("/messages").len(),
        2,
        "an empty query asks nothing"
    );
}

#[test]
fn a_fetch_reads_html_as_text_and_lists_the_attachments() {
    let world = app(json!({}));
    let call = FakeCall::new();
    let document = world
        .outlook
        .fetch(seed::BUDGET_REVIEW, &testing::call(&call))
        .unwrap();
    assert_eq!(document.id, seed::BUDGET_REVIEW);
    assert_eq!(document.title, "Q3 budget review");
    let text = &document.text;
    for wanted in [
        "Subject: Q3 budget review\nFrom: Adele Vance <adele@contoso.example>\nTo: Megan Bowen <megan@contoso.example>\nCc: Alex Wilber <alex@contoso.example>\nDate: 2026-11-30 16:05 UTC\n\n",
        "Q3 budget review\n\nHi Megan,\n\nAttached is the Q3 budget. Spending is 4% < plan & travel is over by €12,000.",
        "- Marketing: on track\n- Travel: over",
        "Details on the finance site (https://contoso.sharepoint.example/sites/finance/q3).",
        "Thanks,\nAdele",
        "\n\nAttachments:\n- Q3-budget.xlsx (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, 48213 bytes)",
    ] {
        assert!(text.contains(wanted), "missing {wanted:?} in:\n{text}");
    }
    for dropped in ["trackOpen", "color: #333", "<p>", "&lt;", "&amp;"] {
        assert!(!text.contains(dropped), "{dropped:?} left in:\n{text}");
    }
    assert_eq!(
        document.metadata["attachments"],
        json!([{"name": "Q3-budget.xlsx", "contentType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "size": 48213, "isInline": false}])
    );
    assert_eq!(
        document.metadata["from"],
        "Adele Vance <adele@contoso.example>"
    );
    assert_eq!(
        document.metadata["internet_message_id"],
        "<q3-budget-review@contoso.example>"
    );

    let encoded = "AAMkAGI2TG93AAABudgetReview-Q3_0001AAA%3D";
    let seen: Vec<String> = world.mock.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(
        seen.len(),
        3,
        "a token, the message, its attachments: {seen:?}"
    );
    assert!(
        seen[1].starts_with(&format!(
            "{APP_MESSAGES}/{encoded}?$select=subject%2Cbody%2C"
        )),
        "{}",
        seen[1]
    );
    assert_eq!(
        seen[2],
        format!(
            "{APP_MESSAGES}/{encoded}/attachments?$select=name%2CcontentType%2Csize%2CisInline"
        )
    );
}

#[test]
fn a_message_without_attachments_is_read_in_one_request() {
    let world = app(json!({}));
    let id = "AAMkAGI2TG93AAATravel-Approval_0003AAA=";
    let document = world
        .outlook
        .fetch(id, &testing::call(&FakeCall::new()))
        .unwrap();
    assert!(
        document
            .text
            .ends_with("Flights and hotel come to 2,300 EUR."),
        "{}",
        document.text
    );
    assert!(!document.text.contains("Attachments:"));
    assert_eq!(document.metadata["attachments"], json!([]));
    assert!(world.targets("/attachments").is_empty());
}

#[test]
fn ids_that_could_leave_their_path_segment_are_refused_before_any_request() {
    let world = app(json!({}));
    for id in [
        "",
        "../../users/ceo@contoso.example/messages",
        "..",
        "AAMk/../../me",
        "AAMk?$select=body",
        "AAMk#x",
        "AAMk%2F..%2Fx",
        "1' OR '1'='1",
        "x; DROP TABLE messages",
    ] {
        let error = world
            .outlook
            .fetch(id, &testing::call(&FakeCall::new()))
            .unwrap_err();
        assert_eq!(
            error.kind,
            ErrorKind::INVALID_INPUT,
            "{id:?}: {}",
            error.message
        );
        assert!(error.message.contains("search_mail"), "{}", error.message);
    }
    assert!(
        world.mock.seen().is_empty(),
        "nothing was sent, not even for a token"
    );
}

#[test]
fn graph_s_id_errors_become_not_found_and_invalid_input() {
    let world = app(json!({}));
    let call = testing::call(&FakeCall::new());
    let missing = world
        .outlook
        .fetch("AAMkAGI2TG93AAANoSuchMessageAAA=", &call)
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NOT_FOUND);
    assert!(
        missing
            .message
            .contains("404 ErrorItemNotFound: The specified object was not found in the store."),
        "{}",
        missing.message
    );
    assert!(
        missing.message.contains("search again"),
        "{}",
        missing.message
    );

    let malformed = world.outlook.fetch("AAMk!!", &call).unwrap_err();
    assert_eq!(malformed.kind, ErrorKind::INVALID_INPUT);
    assert!(
        malformed
            .message
            .contains("400 ErrorInvalidIdMalformed: Id is malformed."),
        "{}",
        malformed.message
    );
}
