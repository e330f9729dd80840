//! The client against a real HTTP server on loopback that answers what each test scripts:
//! throttling with `Retry-After`, failures, a refused token, linked pages, a caller that gives
//! up. What the server saw is checked, not only what the client returned.

mod support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_plugin_http::{Auth, Client, HttpError, LinkedPages, Request, Retry, Wait};

use support::{Answer, Server};

fn never() -> bool {
    false
}

/// Small waits for tests: the backoff starts at 10 ms.
fn quick() -> Retry {
    Retry {
        attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_wait: Duration::from_secs(5),
    }
}

/// A client whose waits are recorded.
fn client(retry: Retry) -> (Client, Arc<Mutex<Vec<Wait>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&waits);
    let client = Client::new("switchboard-test/1")
        .retry(retry)
        .on_wait(move |w| seen.lock().unwrap().push(w.clone()));
    (client, waits)
}

fn ok(body: &str) -> Answer {
    (
        200,
        vec![("content-type", "application/json".into())],
        body.to_string(),
    )
}

#[test]
fn a_429_is_tried_again_after_the_retry_after_it_gives_for_any_method() {
    let server = Server::start(|n, _| match n {
        0 => (
            429,
            vec![("retry-after", "1".into())],
            r#"{"error":"slow down"}"#.into(),
        ),
        _ => ok(r#"{"done":true}"#),
    });
    let (client, waits) = client(quick());
    let request = Request::post(server.url("/search?q=x"))
        .json(&json!({"q": "x"}))
        .unwrap();
    let answer = client.send(&request, &never).unwrap().success().unwrap();
    assert_eq!(answer.json::<Value>().unwrap()["done"], true);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "sent again");
    assert_eq!(seen[1].body, r#"{"q":"x"}"#, "the same body");
    assert_eq!(seen[0].header("user-agent"), Some("switchboard-test/1"));
    let waits = waits.lock().unwrap();
    assert_eq!(waits.len(), 1);
    assert_eq!(waits[0].wait, Duration::from_secs(1), "as the server said");
    assert_eq!((waits[0].why.as_str(), waits[0].attempt), ("429", 1));
    assert_eq!(
        waits[0].request,
        format!("POST {}", server.url("/search")),
        "no query shown"
    );
}

#[test]
fn a_503_without_a_date_is_tried_again_only_for_a_request_that_may_repeat() {
    let server = Server::start(|n, r| match (n, r.method.as_str()) {
        (0, "GET") | (2, "POST") => (503, vec![], "busy".into()),
        _ => ok("{}"),
    });
    let (client, waits) = client(quick());
    let got = client
        .send(&Request::get(server.url("/a")), &never)
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(
        waits.lock().unwrap()[0].wait,
        Duration::from_millis(10),
        "the backoff"
    );

    let posted = client
        .send(&Request::post(server.url("/b")), &never)
        .unwrap();
    assert_eq!(
        posted.status(),
        503,
        "a POST that may have run is not sent twice"
    );
    let seen: Vec<(String, String)> = server
        .seen()
        .into_iter()
        .map(|s| (s.method, s.target))
        .collect();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let error = posted.success().unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "POST {} answered 503 Service Unavailable: busy",
            server.url("/b")
        )
    );
}

#[test]
fn giving_up_returns_the_last_answer_and_says_when_to_come_back() {
    let server = Server::start(|_, _| {
        (
            429,
            vec![("retry-after", "0".into())],
            "{\"error\": \"throttled\"}".into(),
        )
    });
    let (client, waits) = client(quick());
    let answer = client
        .send(&Request::get(server.url("/me/messages")), &never)
        .unwrap();
    assert_eq!(answer.status(), 429);
    assert_eq!(server.seen().len(), 3, "three tries in all");
    assert_eq!(waits.lock().unwrap().len(), 2);
    let error = answer.success().unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(
            "answered 429 Too Many Requests (retry after 0 s): {\"error\": \"throttled\"}"
        ),
        "{text}"
    );
    assert!(matches!(
        error,
        HttpError::Status {
            status: 429,
            retry_after: Some(_),
            ..
        }
    ));
}

#[test]
fn a_retry_after_beyond_the_budget_is_not_waited_for() {
    let server = Server::start(|_, _| (429, vec![("retry-after", "3600".into())], String::new()));
    let (client, waits) = client(quick());
    let answer = client.send(&Request::get(server.url("/")), &never).unwrap();
    assert_eq!(answer.status(), 429);
    assert_eq!(server.seen().len(), 1);
    assert!(
        waits.lock().unwrap().is_empty(),
        "an hour is more than five seconds"
    );
}

/// Tokens numbered from 1; `refresh` hands out the next one while it has one.
struct Tokens {
    current: AtomicUsize,
    refreshes_left: AtomicUsize,
    refreshed: AtomicUsize,
}

impl Auth for Tokens {
    fn authorization(&self) -> Result<String, HttpError> {
        Ok(format!(
            "Bearer token-{}",
            self.current.load(Ordering::SeqCst)
        ))
    }

    fn refresh(&self, rejected: &str) -> Result<bool, HttpError> {
        assert_eq!(
            rejected,
            self.authorization()?,
            "the value the server refused"
        );
        self.refreshed.fetch_add(1, Ordering::SeqCst);
        if self.refreshes_left.load(Ordering::SeqCst) == 0 {
            return Ok(false);
        }
        self.refreshes_left.fetch_sub(1, Ordering::SeqCst);
        self.current.fetch_add(1, Ordering::SeqCst);
        Ok(true)
    }
}

#[test]
fn a_401_gets_one_refresh_and_one_more_try() {
    // Token 1 has expired; token 2 works.
    let server = Server::start(|_, r| match r.header("authorization") {
        Some("Bearer token-2") => ok("{\"id\": \"me\"}"),
        _ => (
            401,
            vec![("www-authenticate", "Bearer error=\"invalid_token\"".into())],
            String::new(),
        ),
    });
    let tokens = Arc::new(Tokens {
        current: AtomicUsize::new(1),
        refreshes_left: AtomicUsize::new(5),
        refreshed: AtomicUsize::new(0),
    });
    let client = Client::new("t").retry(quick()).auth(tokens.clone());
    let answer = client
        .send(&Request::get(server.url("/me")), &never)
        .unwrap();
    assert_eq!(answer.status(), 200);
    let seen: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(seen, ["Bearer token-1", "Bearer token-2"]);

    // A server that refuses every token: one refresh, then the 401 is the answer, no loop.
    let refusing = Server::start(|_, _| (401, vec![], "{\"error\":\"invalid_token\"}".into()));
    let answer = client
        .send(&Request::get(refusing.url("/me")), &never)
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert_eq!(refusing.seen().len(), 2);
    assert_eq!(
        tokens.refreshed.load(Ordering::SeqCst),
        2,
        "once per request"
    );
    let error: switchboard_plugin_api::PluginError = answer.success().unwrap_err().into();
    assert_eq!(error.kind, switchboard_plugin_api::ErrorKind::DENIED);
}

#[test]
fn a_caller_that_gives_up_during_a_wait_is_answered_cancelled_at_once() {
    let server = Server::start(|_, _| (503, vec![("retry-after", "30".into())], String::new()));
    let gave_up = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&gave_up);
    let client = Client::new("t")
        .retry(Retry {
            max_wait: Duration::from_secs(60),
            ..quick()
        })
        // The caller gives up as the 30-second wait begins.
        .on_wait(move |_| flag.store(true, Ordering::SeqCst));
    let stopped = || gave_up.load(Ordering::SeqCst);
    let result = client.send(&Request::get(server.url("/slow")), &stopped);
    assert!(matches!(result, Err(HttpError::Cancelled)), "{result:?}");
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn a_server_that_is_not_there_is_tried_again_for_a_get_and_named_in_the_error() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x?secret=1", closed.local_addr().unwrap());
    drop(closed);
    let (client, waits) = client(quick());
    let error = client.send(&Request::get(&url), &never).unwrap_err();
    assert!(matches!(error, HttpError::Unreachable { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "GET {}: no answer",
            url.split('?').next().unwrap()
        )),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
    assert_eq!(waits.lock().unwrap().len(), 2, "three tries");

    let (client, waits) = self::client(quick());
    assert!(client.send(&Request::post(&url), &never).is_err());
    assert!(waits.lock().unwrap().is_empty(), "a POST is not sent again");
}

#[test]
fn linked_pages_are_followed_exactly_as_given_and_stop_at_the_limit() {
    let server = Arc::new(Mutex::new(String::new()));
    let base = Arc::clone(&server);
    let pages = Server::start(move |_, r| {
        let base = base.lock().unwrap().clone();
        match r.target.as_str() {
            "/messages?$top=2" => ok(&json!({"value": [1, 2], "@odata.nextLink": format!("{base}/messages?$top=2&$skiptoken=a%2Bb%3D")}).to_string()),
            "/messages?$top=2&$skiptoken=a%2Bb%3D" => ok(&json!({"value": [3], "@odata.nextLink": format!("{base}/messages?$skiptoken=last")}).to_string()),
            "/messages?$skiptoken=last" => ok(&json!({"value": [4]}).to_string()),
            other => (404, vec![], format!("no page {other}")),
        }
    });
    *server.lock().unwrap() = pages.base.clone();
    let client = Client::new("t").retry(quick());
    let first = Request::get(pages.url("/messages?$top=2")).header("ConsistencyLevel", "eventual");
    let values: Vec<Value> =
        LinkedPages::new(&client, first.clone(), "@odata.nextLink", 10, &never)
            .map(|page| page.unwrap()["value"].clone())
            .collect();
    assert_eq!(values, [json!([1, 2]), json!([3]), json!([4])]);
    assert!(
        pages
            .seen()
            .iter()
            .all(|s| s.header("consistencylevel") == Some("eventual")),
        "every page with the first's headers"
    );

    let mut cut = LinkedPages::new(&client, first, "@odata.nextLink", 2, &never);
    assert_eq!(cut.by_ref().count(), 2);
    assert!(cut.cut_short(), "a third page was linked");
}

#[test]
fn a_raw_body_is_sent_as_given_with_its_type_and_sent_again_the_same_after_a_429() {
    let server = Server::start(|n, _| match n {
        0 => (429, vec![("retry-after", "0".into())], String::new()),
        _ => ok("{}"),
    });
    let (client, _) = client(quick());
    let body = b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nhello\r\n--b--\r\n";
    let request = Request::post(server.url("/files/content"))
        .header("Content-Type", "text/plain")
        .body(body.to_vec(), "multipart/form-data; boundary=b")
        .timeout(Duration::from_secs(300));
    let answer = client.send(&request, &never).unwrap();
    assert_eq!(answer.status(), 200);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "the 429 was waited out");
    for sent in &seen {
        assert_eq!(sent.body.as_bytes(), body, "the bytes as given");
        assert_eq!(
            sent.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        let types: Vec<_> = sent
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            types,
            ["multipart/form-data; boundary=b"],
            "one type: the body's"
        );
    }
}

#[test]
fn a_try_after_a_wait_is_the_request_again_gives_and_it_is_told_of_the_wait_first() {
    let server = Server::start(|n, _| match n {
        0 => (429, vec![("retry-after", "0".into())], String::new()),
        1 => (503, vec![], String::new()),
        _ => ok("{}"),
    });
    let (client, _) = client(quick());
    let told = Mutex::new(Vec::new());
    let again = |sent: &Request, wait: &Wait| {
        told.lock().unwrap().push((wait.why.clone(), wait.attempt));
        let base = sent.url().split("&retry").next().unwrap().to_string();
        sent.to(format!("{base}&retry={}", wait.attempt))
    };
    let request = Request::post(server.url("/api/v2/statements?requestId=abc"))
        .json(&json!({"statement": "select 1"}))
        .unwrap()
        .repeatable();
    let answer = client.send_with(&request, &again, &never).unwrap();
    assert_eq!(answer.status(), 200);
    let seen = server.seen();
    let targets: Vec<_> = seen.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/api/v2/statements?requestId=abc",
            "/api/v2/statements?requestId=abc&retry=1",
            "/api/v2/statements?requestId=abc&retry=2",
        ]
    );
    assert!(seen.iter().all(|s| s.body == r#"{"statement":"select 1"}"#));
    assert_eq!(
        *told.lock().unwrap(),
        [("429".to_string(), 1), ("503".to_string(), 2)]
    );
}

/// One token that is never renewed.
struct Fixed;

impl Auth for Fixed {
    fn authorization(&self) -> Result<String, HttpError> {
        Ok("Bearer api-token".to_string())
    }

    fn refresh(&self, _rejected: &str) -> Result<bool, HttpError> {
        Ok(false)
    }
}

#[test]
fn a_redirect_to_another_server_never_carries_the_authorization() {
    // Two servers on loopback: the API and the download server it redirects to (Box's 302).
    let downloads = Server::start(|_, _| (200, vec![], "the file's bytes".into()));
    let location = downloads.url("/d/42?signed=x");
    let api = Server::start(move |_, _| (302, vec![("location", location.clone())], String::new()));
    let client = Client::new("t").retry(quick()).auth(Arc::new(Fixed));
    let answer = client
        .send(&Request::get(api.url("/files/42/content")), &never)
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().unwrap(), "the file's bytes");
    assert_eq!(
        api.seen()[0].header("authorization"),
        Some("Bearer api-token")
    );
    let fetched = downloads.seen();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].target, "/d/42?signed=x");
    assert_eq!(
        fetched[0].header("authorization"),
        None,
        "the token stays with the API"
    );
}
