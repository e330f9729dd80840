//! Signing in, as a person would and as an app does, against the stand-in: the browser
//! sign-in with the test playing the browser (the authorize URL from the progress message,
//! Box's 302 back to the loopback redirect), tokens kept in the keyring and never logged, a
//! refused token answered by exactly one refresh (Box rotating the refresh token), the
//! client credentials grant with its subject, a developer token that cannot be renewed,
//! declining, cancelling and signing out.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_mocks::box_api::{CLIENT_ID, CLIENT_SECRET, SUBJECT_ID, SUBJECT_TYPE};
use switchboard_plugin_api::model::SearchRequest;
use switchboard_plugin_api::testing;
use switchboard_plugin_api::{Connector, ErrorKind};

use crate::tests::{World, call, field, text, tool, world, world_with};

/// Visit `url` (http://127.0.0.1:port/…) as a browser does: the status and the Location.
fn visit(url: &str) -> (u16, Option<String>) {
    let rest = url.strip_prefix("http://").expect("a loopback URL");
    let (host, path) = rest.split_once('/').expect("a path");
    let mut stream = TcpStream::connect(host).expect("connects");
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let location = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .map(str::to_string);
    (status, location)
}

/// A person's sign-in settings.
fn person(extra: Value) -> World {
    let mut config = json!({"client_id": CLIENT_ID});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        config[k] = v;
    }
    world_with(config, &[("client_secret", CLIENT_SECRET)])
}

/// Run `sign_in` while playing the browser; the result's text and whether it failed.
fn sign_in_in_browser(w: &World) -> (String, bool) {
    let fake = call();
    std::thread::scope(|s| {
        let signing = s.spawn(|| {
            let args = json!({"flow": "browser"}).as_object().cloned().unwrap();
            w.source.call_tool("sign_in", args, &testing::call(&fake))
        });
        fake.wait_for_progress(Duration::from_secs(10), |m| m.contains("open this address"));
        let message = fake.progress()[0].2.clone();
        let url = message.rsplit(' ').next().unwrap().to_string();
        let (status, back) = visit(&url);
        assert_eq!(status, 302, "Box sends the browser back");
        let (status, _) = visit(&back.expect("a Location"));
        assert_eq!(status, 200, "the loopback redirect answered");
        let result = signing.join().unwrap().expect("sign_in runs");
        (text(&result), result.is_error)
    })
}

/// The token kept in the keyring, parsed.
fn kept(w: &World) -> Value {
    serde_json::from_str(&w.host.kept("token").expect("a token is kept")).unwrap()
}

/// Nothing secret in the host's log.
fn assert_clean_logs(w: &World) {
    for (_, line) in w.host.logs() {
        for secret in [
            "box-access-",
            "box-refresh-",
            CLIENT_SECRET,
            "box-dev-token",
            "box-code-",
        ] {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}

fn search(w: &World) -> Result<usize, switchboard_plugin_api::PluginError> {
    let request = SearchRequest {
        query: "budget".into(),
        limit: 3,
    };
    w.source
        .search(request, &testing::call(&call()))
        .map(|h| h.len())
}

#[test]
fn the_browser_sign_in_keeps_its_token_in_the_keyring_and_asks_least_privilege() {
    let w = person(json!({}));
    let (said, failed) = sign_in_in_browser(&w);
    assert!(!failed, "{said}");
    assert!(
        said.starts_with("Signed in to Box as Ada Lovelace (ada@example.com)."),
        "{said}"
    );
    assert!(
        said.contains("switchboard-plugin/<home>/box/token"),
        "{said}"
    );
    assert!(
        said.contains("`switchboard secrets list` shows the entry"),
        "{said}"
    );
    let authorize = w.mock.seen_at("/api/oauth2/authorize");
    assert_eq!(authorize.len(), 1);
    let asked = &authorize[0].target;
    assert_eq!(field(asked, "scope").as_deref(), Some("root_readonly"));
    assert_eq!(
        field(asked, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(field(asked, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        w.mock.grants(),
        ["authorization_code"],
        "the verifier was accepted"
    );
    let token = kept(&w);
    let access = token["access_token"].as_str().unwrap().to_string();
    assert!(access.starts_with("box-access-"));
    assert!(
        token["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("box-refresh-")
    );
    assert_eq!(search(&w).unwrap(), 3);
    let used = w.mock.seen_at("/2.0/search");
    assert_eq!(used[0].authorization, Some(format!("Bearer {access}")));
    assert!(
        testing::host(&w.host).kv_keys("").unwrap().is_empty(),
        "nothing in the key-value store"
    );
    assert_clean_logs(&w);

    let writer = person(json!({"writable": true}));
    assert!(!sign_in_in_browser(&writer).1);
    let asked = &writer.mock.seen_at("/api/oauth2/authorize")[0].target;
    assert_eq!(field(asked, "scope").as_deref(), Some("root_readwrite"));
}

#[test]
fn a_refused_token_is_answered_by_one_refresh_and_the_rotated_refresh_token_is_kept() {
    let w = person(json!({}));
    assert!(!sign_in_in_browser(&w).1);
    let before = kept(&w);
    w.mock.expire_next_token();
    assert_eq!(search(&w).unwrap(), 3);
    assert_eq!(w.mock.grants(), ["authorization_code", "refresh_token"]);
    let tries = w.mock.seen_at("/2.0/search");
    assert_eq!(tries.len(), 2, "one refused, one retried");
    let after = kept(&w);
    assert_ne!(after["access_token"], before["access_token"]);
    assert_ne!(
        after["refresh_token"], before["refresh_token"],
        "Box rotated it: kept"
    );
    assert_eq!(
        tries[1].authorization,
        Some(format!(
            "Bearer {}",
            after["access_token"].as_str().unwrap()
        ))
    );
    assert_clean_logs(&w);

    // Refused again after the refresh: no second refresh, and a sentence saying what to do.
    w.mock.expire_tokens(2);
    let error = search(&w).unwrap_err();
    assert_eq!(error.kind, ErrorKind::DENIED);
    assert!(
        error.message.contains(
            "Box refused the token (401) after one refresh: run `switchboard sources login box`"
        ),
        "{}",
        error.message
    );
    assert_eq!(w.mock.grants().len(), 3, "exactly one more refresh");
    assert_eq!(w.mock.seen_at("/2.0/search").len(), 4);
}

#[test]
fn a_refresh_box_refuses_and_no_sign_in_at_all_say_to_sign_in() {
    let w = person(json!({}));
    let error = search(&w).unwrap_err();
    assert_eq!(error.kind, ErrorKind::DENIED);
    assert!(
        error.message.contains("not signed in")
            && error.message.contains("switchboard sources login box"),
        "{}",
        error.message
    );
    assert!(w.mock.seen().is_empty(), "nothing sent without a token");

    // A kept sign-in whose refresh token Box no longer knows.
    let stale =
        json!({"access_token": "stale", "refresh_token": "gone", "expires_at": 4_000_000_000u64});
    testing::host(&w.host)
        .keep_secret("token", &stale.to_string())
        .unwrap();
    let error = search(&w).unwrap_err();
    assert_eq!(error.kind, ErrorKind::DENIED);
    assert!(
        error
            .message
            .contains("the sign-in has expired or was revoked")
            && error.message.contains("switchboard sources login box"),
        "{}",
        error.message
    );
    assert_eq!(w.mock.grants(), ["refresh_token"]);
    assert_eq!(w.mock.seen_at("/2.0/search").len(), 1);
}

#[test]
fn a_declined_or_cancelled_sign_in_keeps_nothing() {
    let w = person(json!({}));
    w.mock.deny_next_sign_in();
    let (said, failed) = sign_in_in_browser(&w);
    assert!(failed && said.contains("declined"), "{said}");
    assert!(w.host.kept("token").is_none());

    let fake = call();
    let started = Instant::now();
    let error = std::thread::scope(|s| {
        s.spawn(|| {
            fake.wait_for_progress(Duration::from_secs(10), |m| m.contains("open this address"));
            fake.cancel();
        });
        w.source
            .call_tool("sign_in", Default::default(), &testing::call(&fake))
            .unwrap_err()
    });
    assert_eq!(error.kind, ErrorKind::CANCELLED);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(w.host.kept("token").is_none());
    assert_eq!(
        w.mock.grants(),
        Vec::<String>::new(),
        "no code was exchanged"
    );
}

#[test]
fn the_browser_sign_in_needs_the_app_it_signs_in_for() {
    let none = world_with(json!({}), &[]);
    let result = tool(&none, "sign_in", json!({})).unwrap();
    assert!(
        result.is_error && text(&result).contains("Set client_id"),
        "{}",
        text(&result)
    );
    let no_secret = world_with(json!({"client_id": CLIENT_ID}), &[]);
    let result = tool(&no_secret, "sign_in", json!({})).unwrap();
    assert!(result.is_error && text(&result).contains("client_secret secret"));
    let result = tool(&no_secret, "sign_in", json!({"flow": "client_credentials"})).unwrap();
    assert!(result.is_error && text(&result).contains("subject_type"));
    assert!(none.mock.seen().is_empty() && no_secret.mock.seen().is_empty());
}

#[test]
fn signing_out_revokes_and_forgets_the_kept_sign_in() {
    let w = person(json!({}));
    assert!(!sign_in_in_browser(&w).1);
    let result = tool(&w, "sign_out", json!({})).unwrap();
    assert!(
        text(&result).contains("revoked at Box and forgotten"),
        "{}",
        text(&result)
    );
    assert!(w.host.kept("token").is_none());
    assert_eq!(w.mock.seen_at("/oauth2/revoke").len(), 1);
    let check = tool(&w, "check", json!({})).unwrap();
    assert!(
        check.is_error && text(&check).contains("not signed in"),
        "{}",
        text(&check)
    );
    let again = tool(&w, "sign_out", json!({})).unwrap();
    assert!(text(&again).contains("nothing to forget"));
}

fn app(subject_id: &str, secret: &str) -> World {
    world_with(
        json!({"client_id": CLIENT_ID, "subject_type": SUBJECT_TYPE, "subject_id": subject_id}),
        &[("client_secret", secret)],
    )
}

#[test]
fn the_app_signs_in_by_itself_with_its_subject_and_keeps_nothing() {
    let w = app(SUBJECT_ID, CLIENT_SECRET);
    let check = tool(&w, "check", json!({})).unwrap();
    assert!(!check.is_error, "{}", text(&check));
    assert!(
        text(&check).contains("Switchboard Service Account")
            && text(&check).contains("the app's client credentials")
    );
    assert_eq!(w.mock.grants(), ["client_credentials"]);
    assert!(w.host.kept("token").is_none(), "an app's token is not kept");
    let said = text(&tool(&w, "sign_in", json!({})).unwrap());
    assert!(said.contains("signs in by itself"), "{said}");
    w.mock.expire_next_token();
    assert_eq!(search(&w).unwrap(), 3);
    assert_eq!(
        w.mock.grants(),
        ["client_credentials"; 2],
        "one new token for the 401"
    );
    let browser = tool(&w, "sign_in", json!({"flow": "browser"})).unwrap();
    assert!(browser.is_error && text(&browser).contains("remove subject_type"));
    assert_clean_logs(&w);
}

#[test]
fn the_app_credentials_box_refuses_are_named_with_what_to_check() {
    let wrong_subject = app("999", CLIENT_SECRET);
    let check = tool(&wrong_subject, "check", json!({})).unwrap();
    assert!(check.is_error);
    assert!(
        text(&check).contains("invalid_grant: Grant credentials are invalid")
            && text(&check).contains("Admin Console"),
        "{}",
        text(&check)
    );
    let wrong_secret = app(SUBJECT_ID, "not-the-secret");
    let check = tool(&wrong_secret, "check", json!({})).unwrap();
    assert!(text(&check).contains("invalid_client"), "{}", text(&check));
    assert!(!text(&check).contains("not-the-secret"));
    assert!(wrong_secret.mock.seen_at("/2.0/users/me").is_empty());
}

#[test]
fn a_developer_token_is_used_as_is_and_its_expiry_says_to_make_a_new_one() {
    let w = world(json!({"client_id": CLIENT_ID}));
    let said = text(&tool(&w, "sign_in", json!({})).unwrap());
    assert!(said.starts_with("Nothing to sign in"), "{said}");
    let check = text(&tool(&w, "check", json!({})).unwrap());
    assert!(
        check.contains("Ada Lovelace") && check.contains("a developer token"),
        "{check}"
    );
    w.mock.expire_next_token();
    let error = search(&w).unwrap_err();
    assert_eq!(error.kind, ErrorKind::DENIED);
    assert!(
        error
            .message
            .contains("Box refused the developer token (401)")
            && error.message.contains("60 minutes")
            && error.message.contains("make a new one"),
        "{}",
        error.message
    );
    assert!(
        w.mock.grants().is_empty(),
        "a developer token is never renewed"
    );
    assert_eq!(w.mock.seen_at("/2.0/search").len(), 1);
    assert_clean_logs(&w);
}

#[test]
fn the_browser_sign_in_redirects_to_the_port_set_in_redirect_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let w = person(json!({"redirect_port": port}));
    let (said, failed) = sign_in_in_browser(&w);
    assert!(!failed, "{said}");
    let authorize = w.mock.seen_at("/api/oauth2/authorize");
    assert_eq!(
        field(&authorize[0].target, "redirect_uri"),
        Some(format!("http://127.0.0.1:{port}/callback"))
    );
}
