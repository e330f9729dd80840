//! The connector driven as the host drives it (a fake host and fake calls) against the Box
//! stand-in: search paging, fetching each kind of file (text, not UTF-8, PDF, too large, not
//! ready yet), the download server never seeing the token, throttling waited out, hostile
//! ids refused before anything is sent, Box's errors as sentences, and cancellation. The
//! shared harness and the search tests are here; fetching is in `tests_fetch.rs`, signing in
//! in `tests_auth.rs`, the tools in `tests_tools.rs`.
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
