//! How the connector fails, against the stand-in: throttling waited for or reported,
//! cancellation before and during a wait, Graph's error bodies as sentences, and a next link
//! to another server refused.

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_mocks::graph::seed;
use switchboard_plugin_api::Connector;
use switchboard_plugin_api::ErrorKind;
use switchboard_plugin_api::model::SearchRequest;
use switchboard_plugin_api::testing::{self, FakeCall};

use crate::tests::app;

#[test]
fn a_throttled_search_waits_the_retry_after_and_tries_again() {
    let world = app(json!({}));
    world.mock.throttle(1, 1);
    let started = Instant::now();
    let hits = world.search("budget", 10).unwrap();
    assert_eq!(hits.len(), 5);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the Retry-After was waited for"
    );
    let seen = world.targets("/messages");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1], "the same request again");
    assert!(
        world.logged("answered 429; trying again in 1 s"),
        "{:?}",
        world.host.logs()
    );
    assert!(
        !world.logged("budget"),
        "no query text in the log: {:?}",
        world.host.logs()
    );
}

#[test]
fn a_search_throttled_past_its_tries_says_when_to_come_back() {
    let world = app(json!({}));
    world.mock.throttle(10, 1);
    let error = world.search("budget", 10).unwrap_err();
    assert_eq!(error.kind, ErrorKind::FAILED);
    assert!(
        error.message.contains("throttling this mailbox (429 TooManyRequests: Application is over its MailboxConcurrency limit.); try again in 1 s"),
        "{}",
        error.message
    );
    assert_eq!(world.targets("/messages").len(), 4, "four tries in all");
}

#[test]
fn a_cancelled_call_sends_nothing_and_one_cancelled_while_waiting_stops_the_wait() {
    let world = app(json!({}));
    let fake = FakeCall::new();
    fake.cancel();
    let request = SearchRequest {
        query: "budget".into(),
        limit: 5,
    };
    let error = world
        .outlook
        .search(request.clone(), &testing::call(&fake))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::CANCELLED);
    assert_eq!(world.mock.graph_requests(), 0);
    let error = world
        .outlook
        .fetch(seed::BUDGET_REVIEW, &testing::call(&fake))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::CANCELLED);

    world.mock.throttle(1, 30);
    let fake = FakeCall::new();
    let started = Instant::now();
    let outcome = std::thread::scope(|scope| {
        let searching = scope.spawn(|| world.outlook.search(request, &testing::call(&fake)));
        assert!(
            world
                .mock
                .wait_for_graph_requests(1, Duration::from_secs(10))
        );
        fake.cancel();
        searching.join().unwrap()
    });
    assert_eq!(outcome.unwrap_err().kind, ErrorKind::CANCELLED);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the 30 s wait was cut short"
    );
    assert_eq!(world.mock.graph_requests(), 1, "no second try");
}

#[test]
fn graph_error_bodies_become_sentences() {
    let world = app(json!({}));
    for (status, code, message, kind, says) in [
        (
            500,
            "ErrorInternalServerError",
            "An internal server error occurred.",
            ErrorKind::FAILED,
            "try again later",
        ),
        (
            400,
            "BadRequest",
            "Unsupported query.",
            ErrorKind::FAILED,
            "refused the mail search",
        ),
        (
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
            ErrorKind::DENIED,
            "grant the app",
        ),
        (
            404,
            "ErrorInvalidUser",
            "The requested user 'megan@contoso.example' is invalid.",
            ErrorKind::NOT_FOUND,
            "check the mailbox setting",
        ),
    ] {
        world.mock.fail_next(status, code, message);
        let error = world.search("budget", 5).unwrap_err();
        assert_eq!(error.kind, kind, "{code}");
        assert!(
            error
                .message
                .contains(&format!("{status} {code}: {message}")),
            "{}",
            error.message
        );
        assert!(error.message.contains(says), "{}", error.message);
    }
}

#[test]
fn a_next_link_to_another_server_is_not_followed() {
    let world = app(json!({"page_size": 2}));
    world.mock.next_links_to("http://127.0.0.2:9");
    let error = world.search("budget", 10).unwrap_err();
    assert_eq!(error.kind, ErrorKind::FAILED);
    assert!(
        error.message.contains("linked the next page of the mail search to another server than api_url's; it was not followed"),
        "{}",
        error.message
    );
    assert_eq!(
        world.targets("/messages").len(),
        1,
        "only the first page was asked for"
    );
}
