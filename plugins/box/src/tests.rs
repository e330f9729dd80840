//! The connector driven as the host drives it (a fake host and fake calls) against the Box
//! stand-in: search paging, fetching each kind of file (text, not UTF-8, PDF, too large, not
//! ready yet), the download server never seeing the token, throttling waited out, hostile
//! ids refused before anything is sent, Box's errors as sentences, and cancellation. The
//! shared harness is here; sign-in tests are in `tests_auth.rs`, tool tests in
//! `tests_tools.rs`.
//!
//! Nothing waits for a fixed time: a `Retry-After` of 1 s is the behaviour under test, and a
//! cancelling thread waits for the event it cancels after (a progress message, a request the
//! stand-in recorded).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use abi_stable::std_types::RArc;
use serde_json::{Value, json};
use switchboard_mocks::box_api::{self, BoxMock, DEVELOPER_TOKEN};
use switchboard_plugin_api::model::{Content, SearchRequest};
use switchboard_plugin_api::testing::{self, FakeCall, FakeHost};
use switchboard_plugin_api::{Connector, ErrorKind, PluginError, ToolResult};

use crate::BoxSource;

/// A stand-in, a fake host and the connector pointed at the stand-in.
pub struct World {
    pub mock: BoxMock,
    pub host: RArc<FakeHost>,
    pub source: BoxSource,
}

/// The connector with `extra` settings and `secrets`, pointed at a new stand-in.
pub fn world_with(extra: Value, secrets: &[(&str, &str)]) -> World {
    let mock = box_api::start();
    let mut config = json!({
        "api_url": mock.api_url(),
        "upload_url": mock.upload_url(),
        "auth_url": mock.auth_url(),
        "token_url": mock.token_url(),
        "open_browser": false,
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        config[k] = v;
    }
    let host = FakeHost::new(PathBuf::new());
    for (name, value) in secrets {
        host.set_secret(name, value);
    }
    let source = BoxSource::new(testing::host(&host), config).expect("the connector starts");
    World { mock, host, source }
}

/// Signed in with the stand-in's developer token.
pub fn world(extra: Value) -> World {
    world_with(extra, &[("developer_token", DEVELOPER_TOKEN)])
}

/// A new call.
pub fn call() -> RArc<FakeCall> {
    FakeCall::new()
}

/// Run tool `name` with `args`.
pub fn tool(w: &World, name: &str, args: Value) -> Result<ToolResult, PluginError> {
    let args = args.as_object().cloned().unwrap_or_default();
    w.source.call_tool(name, args, &testing::call(&call()))
}

/// A result's text.
pub fn text(result: &ToolResult) -> String {
    result
        .content
        .iter()
        .map(|c| match c {
            Content::Text { text } => text.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// The query fields of a recorded request's target.
pub fn fields(target: &str) -> Vec<(String, String)> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The value of `name` in a recorded request's query.
pub fn field(target: &str, name: &str) -> Option<String> {
    fields(target)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn search(
    w: &World,
    query: &str,
    limit: u32,
) -> Result<Vec<switchboard_plugin_api::model::SearchHit>, PluginError> {
    let request = SearchRequest {
        query: query.to_string(),
        limit,
    };
    w.source.search(request, &testing::call(&call()))
}

#[test]
fn search_follows_offset_pages_until_the_limit() {
    let w = world(json!({"page_size": 2}));
    let hits = search(&w, "budget", 5).unwrap();
    assert_eq!(hits.len(), 5);
    let pages = w.mock.seen_at("/2.0/search");
    let offsets: Vec<String> = pages
        .iter()
        .map(|s| field(&s.target, "offset").unwrap())
        .collect();
    assert_eq!(offsets, ["0", "2", "4"]);
    for page in &pages {
        assert_eq!(field(&page.target, "limit").as_deref(), Some("2"));
        assert_eq!(field(&page.target, "type").as_deref(), Some("file"));
        assert_eq!(field(&page.target, "query").as_deref(), Some("budget"));
        assert_eq!(page.authorization.as_deref(), Some("Bearer box-dev-token"));
    }
    let review = hits
        .iter()
        .find(|h| h.title == "Q3 budget review.md")
        .expect("the review");
    assert_eq!(review.id, "1001");
    assert_eq!(
        review.url.as_deref(),
        Some(w.mock.url("/file/1001").as_str())
    );
    assert_eq!(
        review.snippet.as_deref(),
        Some("Quarterly review of the budget against actuals (in All Files/Finance)")
    );
    let mut ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 5, "no hit twice across pages: {ids:?}");
}

#[test]
fn search_stops_at_a_short_page_and_at_the_search_limit_setting() {
    let w = world(json!({"page_size": 2}));
    // Seven seeded files mention budget: pages at 0, 2, 4, 6; the last is short.
    let hits = search(&w, "budget", 100).unwrap();
    assert_eq!(hits.len(), 7, "{hits:?}");
    assert_eq!(w.mock.seen_at("/2.0/search").len(), 4);
    assert!(hits.iter().any(|h| h.title == "Annual report 2025.pdf"));

    let capped = world(json!({"search_limit": 3}));
    assert_eq!(search(&capped, "budget", 100).unwrap().len(), 3);
    let one = capped.mock.seen_at("/2.0/search");
    assert_eq!(one.len(), 1);
    assert_eq!(field(&one[0].target, "limit").as_deref(), Some("3"));
}

#[test]
fn a_query_cannot_add_parameters_and_an_empty_one_sends_nothing() {
    let w = world(json!({}));
    let hostile = "budget&type=folder&limit=999&offset=5#frag";
    search(&w, hostile, 5).unwrap();
    let seen = w.mock.seen_at("/2.0/search");
    assert_eq!(seen.len(), 1);
    let sent = fields(&seen[0].target);
    assert_eq!(field(&seen[0].target, "query").as_deref(), Some(hostile));
    assert_eq!(sent.iter().filter(|(k, _)| k == "type").count(), 1);
    assert_eq!(field(&seen[0].target, "type").as_deref(), Some("file"));
    assert_eq!(field(&seen[0].target, "offset").as_deref(), Some("0"));

    let error = search(&w, "   ", 5).unwrap_err();
    assert_eq!(error.kind, ErrorKind::INVALID_INPUT);
    assert!(error.message.contains("needs words"), "{}", error.message);
    assert_eq!(w.mock.seen_at("/2.0/search").len(), 1, "nothing more sent");
}

#[test]
fn a_429_is_waited_for_then_tried_again() {
    let w = world(json!({}));
    w.mock.throttle(1, 1);
    let started = Instant::now();
    let hits = search(&w, "budget", 3).unwrap();
    assert_eq!(hits.len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(w.mock.seen_at("/2.0/search").len(), 2);
    assert!(w.host.logged("answered 429"), "{:?}", w.host.logs());
    assert!(!w.host.logged("budget"), "the query stays out of the log");
}

#[test]
fn throttling_that_lasts_says_so_and_when_to_come_back() {
    let w = world(json!({}));
    w.mock.throttle(10, 1);
    let error = search(&w, "budget", 3).unwrap_err();
    assert_eq!(error.kind, ErrorKind::FAILED);
    assert!(
        error
            .message
            .contains("searching Box: Box is still throttling")
            && error.message.contains("rate_limit_exceeded")
            && error.message.ends_with("try again in 1 s"),
        "{}",
        error.message
    );
    assert_eq!(
        w.mock.seen_at("/2.0/search").len(),
        4,
        "the client's four tries"
    );
}

#[test]
fn a_cancelled_search_stops_during_its_wait() {
    let w = world(json!({}));
    w.mock.throttle(1, 30);
    let fake = call();
    let started = Instant::now();
    let error = std::thread::scope(|s| {
        s.spawn(|| {
            while w.mock.seen_at("/2.0/search").is_empty() {
                std::thread::yield_now();
            }
            fake.cancel();
        });
        let request = SearchRequest {
            query: "budget".into(),
            limit: 3,
        };
        w.source.search(request, &testing::call(&fake)).unwrap_err()
    });
    assert_eq!(error.kind, ErrorKind::CANCELLED);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it did not wait the 30 s"
    );
    assert_eq!(w.mock.seen_at("/2.0/search").len(), 1);

    let before = call();
    before.cancel();
    let error = w.source.fetch("1001", &testing::call(&before)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::CANCELLED);
    assert!(
        w.mock.seen_at("/2.0/files/1001").is_empty(),
        "nothing sent once cancelled"
    );
}

#[test]
fn fetch_reads_a_text_file_from_the_download_server_without_the_token() {
    let w = world(json!({}));
    let doc = w.source.fetch("1001", &testing::call(&call())).unwrap();
    assert_eq!(doc.id, "1001");
    assert_eq!(doc.title, "Q3 budget review.md");
    assert!(
        doc.text.contains("Spend is 4% under budget."),
        "{}",
        doc.text
    );
    assert_eq!(doc.url.as_deref(), Some(w.mock.url("/file/1001").as_str()));
    assert_eq!(doc.metadata["path"], "All Files/Finance");
    assert_eq!(doc.metadata["owner"]["login"], "ada@example.com");
    assert_eq!(doc.metadata["content"], "text");
    assert_eq!(doc.metadata["lossy"], false);
    assert_eq!(
        doc.metadata["size"],
        json!(w.mock.file("1001").unwrap().content.len())
    );
    let asked = w.mock.seen_at("/2.0/files/1001/content");
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].authorization.as_deref(),
        Some("Bearer box-dev-token")
    );
    let downloads = w.mock.download_seen();
    assert_eq!(
        downloads.len(),
        1,
        "the 302 was followed to the other origin"
    );
    assert_eq!(
        downloads[0].authorization, None,
        "no token for the download server"
    );
    assert!(downloads[0].target.starts_with("/d/1/"));
}

#[test]
fn text_that_is_not_utf8_is_decoded_lossily_and_says_so() {
    let w = world(json!({}));
    let doc = w.source.fetch("1009", &testing::call(&call())).unwrap();
    assert!(
        doc.text.starts_with("[This file is not valid UTF-8"),
        "{}",
        doc.text
    );
    assert!(
        doc.text.contains("Budget f\u{fffd}r Caf\u{fffd}: 1200 EUR"),
        "{}",
        doc.text
    );
    assert_eq!(doc.metadata["lossy"], true);
}

#[test]
fn other_files_and_large_ones_are_described_not_downloaded() {
    let w = world(json!({}));
    let pdf = w.source.fetch("1003", &testing::call(&call())).unwrap();
    assert!(
        pdf.text
            .starts_with("Annual report 2025.pdf is a PDF document of ")
            && pdf.text.contains("in All Files/Finance")
            && pdf.text.contains("budget summary"),
        "{}",
        pdf.text
    );
    assert_eq!(pdf.metadata["content"], "metadata only");
    let png = w.source.fetch("1010", &testing::call(&call())).unwrap();
    assert!(png.text.contains("is an image"), "{}", png.text);
    assert!(w.mock.download_seen().is_empty());
    assert!(w.mock.seen_at("/2.0/files/1003/content").is_empty());

    let small = world(json!({"max_read_bytes": 10}));
    let big = small.source.fetch("1001", &testing::call(&call())).unwrap();
    assert!(
        big.text
            .contains("above the 10 bytes this source reads (the max_read_bytes setting)"),
        "{}",
        big.text
    );
    assert!(small.mock.seen_at("/2.0/files/1001/content").is_empty());
}

#[test]
fn a_file_not_ready_is_waited_for_within_the_budget() {
    let w = world(json!({}));
    w.mock.not_ready("1002", 2, 1);
    let fake = call();
    let started = Instant::now();
    let doc = w.source.fetch("1002", &testing::call(&fake)).unwrap();
    assert!(doc.text.starts_with("team,quarter,amount"), "{}", doc.text);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "both Retry-Afters waited"
    );
    assert_eq!(w.mock.seen_at("/2.0/files/1002/content").len(), 3);
    let told: Vec<String> = fake.progress().into_iter().map(|(_, _, m)| m).collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[0].contains("Box is preparing budget-2026.csv for download; waiting 1 s"));

    let impatient = world(json!({"download_wait_seconds": 1}));
    impatient.mock.not_ready("1002", 5, 1);
    let error = impatient
        .source
        .fetch("1002", &testing::call(&call()))
        .unwrap_err();
    assert!(
        error
            .message
            .contains("still preparing the file after 1 s (202 Accepted)"),
        "{}",
        error.message
    );
    assert_eq!(impatient.mock.seen_at("/2.0/files/1002/content").len(), 2);
    assert!(impatient.mock.download_seen().is_empty());
}

#[test]
fn a_fetch_cancelled_while_waiting_for_a_file_stops() {
    let w = world(json!({}));
    w.mock.not_ready("1001", 1, 30);
    let fake = call();
    let started = Instant::now();
    let error = std::thread::scope(|s| {
        s.spawn(|| {
            fake.wait_for_progress(Duration::from_secs(10), |m| m.contains("preparing"));
            fake.cancel();
        });
        w.source.fetch("1001", &testing::call(&fake)).unwrap_err()
    });
    assert_eq!(error.kind, ErrorKind::CANCELLED);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(w.mock.seen_at("/2.0/files/1001/content").len(), 1);
}

#[test]
fn hostile_ids_are_refused_before_anything_is_sent() {
    let w = world(json!({}));
    for id in [
        "",
        "../1001",
        "1001/../../users/me",
        "1001?fields=owned_by",
        "1001&x=1",
        "1001#",
        "%31%30",
        "abc",
        "'; DROP TABLE files; --",
        "1 OR 1=1",
        "１２３",
        "-1",
        &"1".repeat(30),
    ] {
        let error = w.source.fetch(id, &testing::call(&call())).unwrap_err();
        assert_eq!(error.kind, ErrorKind::INVALID_INPUT, "{id:?}");
        assert!(
            error
                .message
                .contains("is not a Box file id: Box ids are digits only"),
            "{}",
            error.message
        );
    }
    assert!(w.mock.seen().is_empty(), "{:?}", w.mock.seen());
}

#[test]
fn an_unknown_file_is_not_found_in_box_words() {
    let w = world(json!({}));
    let error = w
        .source
        .fetch("999999", &testing::call(&call()))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::NOT_FOUND);
    assert!(
        error
            .message
            .starts_with("reading the details of Box file 999999: Box has no such item")
            && error
                .message
                .contains("404 not_found: Could not find the specified resource (request id "),
        "{}",
        error.message
    );
}
