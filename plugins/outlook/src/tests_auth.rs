//! Signing in and staying signed in, against the stand-in's identity platform: the device
//! code flow and each of its endings, the app's client credentials, renewal before expiry and
//! after a refused token (exactly one), tokens kept in the keyring and never logged, signing
//! out, and `check`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_mocks::graph::{self, DeviceOutcome};
use switchboard_plugin_api::testing::{self, FakeCall, FakeHost};
use switchboard_plugin_api::{Connector, ErrorKind};

use crate::Outlook;
use crate::tests::{app, build, person, settings, signed_in, text};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn kept(world: &crate::tests::World) -> Value {
    let kept = world.host.kept("token").expect("a token is kept");
    serde_json::from_str(&kept).expect("the kept token is JSON")
}

fn grant_types(world: &crate::tests::World) -> Vec<String> {
    world
        .mock
        .grants()
        .into_iter()
        .map(|g| g.grant_type)
        .collect()
}

/// No log line holds any of the secrets.
fn nothing_secret_logged(world: &crate::tests::World, secrets: &[&str]) {
    for (_, line) in world.host.logs() {
        for secret in secrets {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}

#[test]
fn a_device_sign_in_shows_the_code_polls_until_approved_and_keeps_the_token() {
    let world = person(json!({}));
    world.mock.pending_polls(2);
    let fake = FakeCall::new();
    let result = world.tool_with("sign_in", json!({}), &fake);
    assert!(!result.is_error, "{}", text(&result));
    assert_eq!(
        text(&result),
        "Signed in to Outlook as Megan Bowen <megan@contoso.example>; the token is kept in the OS keyring and renewed as needed."
    );
    let progress: Vec<String> = fake.progress().into_iter().map(|(_, _, m)| m).collect();
    assert!(progress[0].starts_with("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code GR"), "{progress:?}");
    assert_eq!(
        progress.len(),
        4,
        "the code, then one line per poll: {progress:?}"
    );
    assert!(
        progress[1].contains("checking again in 0 s"),
        "{progress:?}"
    );

    assert_eq!(
        grant_types(&world),
        [DEVICE_GRANT; 3],
        "pending, pending, approved"
    );
    for grant in world.mock.grants() {
        assert_eq!(
            (grant.tenant.as_str(), grant.client_id.as_str()),
            (graph::TENANT, graph::CLIENT_ID)
        );
        assert!(!grant.with_secret, "a person's sign-in sends no secret");
        assert_eq!(
            grant.scope.as_deref(),
            Some("offline_access User.Read Mail.Read"),
            "least privilege"
        );
    }
    let token = kept(&world);
    assert_eq!(token["scope"], "User.Read Mail.Read");
    let access = token["access_token"].as_str().unwrap().to_string();
    let refresh = token["refresh_token"].as_str().unwrap().to_string();

    let hits = world.search("budget", 10).unwrap();
    assert_eq!(hits.len(), 5);
    let seen = world.mock.seen_at("/v1.0/me/messages");
    assert_eq!(seen.len(), 1, "a person reads /me");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {access}").as_str())
    );
    nothing_secret_logged(&world, &[&access, &refresh]);
    assert!(!text(&result).contains(&access));
}

#[test]
fn slow_down_adds_five_seconds_to_the_interval() {
    let world = person(json!({}));
    world.mock.slow_down_once();
    let fake = FakeCall::new();
    let started = Instant::now();
    let result = world.tool_with("sign_in", json!({"flow": "device_code"}), &fake);
    assert!(!result.is_error, "{}", text(&result));
    assert!(started.elapsed() >= Duration::from_secs(5));
    let waits: Vec<String> = fake
        .progress()
        .into_iter()
        .skip(1)
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(waits[0].ends_with("checking again in 0 s"), "{waits:?}");
    assert!(waits[1].ends_with("checking again in 5 s"), "{waits:?}");
}

#[test]
fn a_declined_or_expired_sign_in_ends_with_what_to_do_and_keeps_nothing() {
    for (outcome, says) in [
        (
            DeviceOutcome::Decline,
            "Signing in to Outlook: the sign-in was declined; sign in again to connect",
        ),
        (
            DeviceOutcome::Expire,
            "Signing in to Outlook: the code expired before the sign-in was finished; sign in again",
        ),
    ] {
        let world = person(json!({}));
        world.mock.device_outcome(outcome);
        let result = world.tool("sign_in", json!({}));
        assert!(result.is_error, "{outcome:?}");
        assert_eq!(text(&result), says);
        assert!(world.host.kept("token").is_none());
    }
}

#[test]
fn a_cancelled_sign_in_stops_waiting() {
    let world = person(json!({}));
    world.mock.device_interval(30);
    let fake = FakeCall::new();
    let started = Instant::now();
    let result = std::thread::scope(|scope| {
        let signing = scope.spawn(|| world.tool_with("sign_in", json!({}), &fake));
        fake.wait_for_progress(Duration::from_secs(10), |m| {
            m.contains("checking again in 30 s")
        });
        fake.cancel();
        signing.join().unwrap()
    });
    assert!(result.is_error);
    assert!(text(&result).contains("cancelled"), "{}", text(&result));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(world.mock.grants().is_empty(), "never polled");
}

#[test]
fn sign_in_says_what_is_missing_or_wrong_before_asking_anything() {
    let mock = graph::start();
    let mut config = settings(&mock, json!({}));
    config.as_object_mut().unwrap().remove("client_id");
    let host = FakeHost::new(PathBuf::new());
    let outlook = Outlook::new(testing::host(&host), config).unwrap();
    let result = outlook
        .call_tool(
            "sign_in",
            Default::default(),
            &testing::call(&FakeCall::new()),
        )
        .unwrap();
    assert!(result.is_error);
    assert!(
        text(&result).starts_with("client_id is not set: register an app in Microsoft Entra ID"),
        "{}",
        text(&result)
    );
    assert!(text(&result).contains("switchboard sources add outlook --set client_id=<id>"));
    let search = outlook.search(
        switchboard_plugin_api::model::SearchRequest {
            query: "budget".into(),
            limit: 3,
        },
        &testing::call(&FakeCall::new()),
    );
    assert_eq!(search.unwrap_err().kind, ErrorKind::INVALID_INPUT);
    assert!(mock.seen().is_empty());

    let world = person(json!({}));
    for (flow, says) in [
        ("client_credentials", "needs the app's client_secret"),
        (
            "browser",
            "no sign-in flow \"browser\": use device_code (a person) or client_credentials (the app)",
        ),
    ] {
        let result = world.tool("sign_in", json!({"flow": flow}));
        assert!(
            result.is_error && text(&result).contains(says),
            "{}",
            text(&result)
        );
    }
    let app = app(json!({}));
    let result = app.tool("sign_in", json!({"flow": "device_code"}));
    assert!(
        result.is_error && text(&result).contains("remove the secret"),
        "{}",
        text(&result)
    );
    assert!(world.mock.seen().is_empty() && app.mock.seen().is_empty());
}

#[test]
fn an_app_needs_no_sign_in_and_gets_its_token_when_first_needed() {
    let world = app(json!({}));
    assert!(
        world.mock.grants().is_empty(),
        "nothing asked before a request needs it"
    );
    let result = world.tool("sign_in", json!({}));
    assert_eq!(
        text(&result),
        "Nothing to sign in: the app signs in with its client secret, and Microsoft Graph answered for the mailbox of Megan Bowen <megan@contoso.example>."
    );
    let grants = world.mock.grants();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].grant_type, "client_credentials");
    assert_eq!(grants[0].tenant, "contoso");
    assert_eq!(
        grants[0].scope.as_deref(),
        Some("https://graph.microsoft.com/.default")
    );
    assert!(grants[0].with_secret);
    assert_eq!(world.search("budget", 3).unwrap().len(), 3);
    assert_eq!(world.mock.grants().len(), 1, "the token is reused");
    assert!(
        world.host.kept("token").is_none(),
        "an app's token is not kept"
    );
    let token = world
        .mock
        .seen_at("/v1.0/users/megan%40contoso.example/messages")[0]
        .authorization
        .clone()
        .unwrap();
    nothing_secret_logged(
        &world,
        &[graph::CLIENT_SECRET, token.trim_start_matches("Bearer ")],
    );
}

#[test]
fn a_wrong_client_secret_is_refused_with_invalid_client_and_not_shown() {
    let host = FakeHost::new(PathBuf::new());
    host.set_secret("client_secret", "wrong-secret-value");
    let world = build(graph::start(), host, json!({"mailbox": graph::MAILBOX}));
    let error = world.search("budget", 3).unwrap_err();
    assert_eq!(error.kind, ErrorKind::DENIED);
    assert!(error.message.contains("the app's credentials was refused (invalid_client: AADSTS7000215: Invalid client secret provided."), "{}", error.message);
    assert!(
        error
            .message
            .contains("check the source's client_id, tenant and client_secret"),
        "{}",
        error.message
    );
    assert!(!error.message.contains("wrong-secret-value"));
    assert!(
        !error.message.contains("Trace ID"),
        "one line of Entra's description"
    );
    assert_eq!(world.mock.graph_requests(), 0);
    nothing_secret_logged(&world, &["wrong-secret-value"]);
}

#[test]
fn an_app_without_a_mailbox_is_refused_at_start() {
    let mock = graph::start();
    let host = FakeHost::new(PathBuf::new());
    host.set_secret("client_secret", graph::CLIENT_SECRET);
    let error = Outlook::new(testing::host(&host), settings(&mock, json!({})))
        .err()
        .unwrap();
    assert_eq!(error.kind, ErrorKind::INVALID_INPUT);
    assert!(
        error.message.contains("--set mailbox=<user@domain>"),
        "{}",
        error.message
    );
}

#[test]
fn a_refused_token_gets_exactly_one_renewal_and_one_retry() {
    let world = app(json!({}));
    world.search("budget", 3).unwrap();
    world.mock.expire_next(1);
    assert_eq!(world.search("budget", 3).unwrap().len(), 3);
    let seen = world
        .mock
        .seen_at("/v1.0/users/megan%40contoso.example/messages");
    assert_eq!(
        seen.len(),
        3,
        "the first search, the refused request, its retry"
    );
    assert_eq!(seen[0].authorization, seen[1].authorization);
    assert_ne!(
        seen[1].authorization, seen[2].authorization,
        "the retry carries the new token"
    );
    assert_eq!(
        grant_types(&world),
        ["client_credentials"; 2],
        "one renewal"
    );

    world.mock.expire_next(2);
    let error = world.search("budget", 3).unwrap_err();
    assert_eq!(error.kind, ErrorKind::DENIED);
    assert!(
        error.message.contains("Microsoft Graph refused the token for the mail search (401 InvalidAuthenticationToken: Lifetime validation failed, the token is expired.) after one renewal"),
        "{}",
        error.message
    );
    assert_eq!(
        world
            .mock
            .seen_at("/v1.0/users/megan%40contoso.example/messages")
            .len(),
        5,
        "two more, no third"
    );
    assert_eq!(world.mock.grants().len(), 3, "one more renewal, no second");
}

#[test]
fn a_person_s_refused_token_is_renewed_once_with_the_refresh_token_which_rotates() {
    let world = signed_in(json!({}));
    let before = kept(&world);
    world.mock.expire_next(1);
    assert_eq!(world.search("budget", 2).unwrap().len(), 2);
    assert_eq!(
        grant_types(&world).last().map(String::as_str),
        Some("refresh_token")
    );
    assert_eq!(
        grant_types(&world)
            .iter()
            .filter(|g| *g == "refresh_token")
            .count(),
        1
    );
    let after = kept(&world);
    assert_ne!(before["access_token"], after["access_token"]);
    assert_ne!(
        before["refresh_token"], after["refresh_token"],
        "the rotated refresh token is kept"
    );
    assert_eq!(world.mock.seen_at("/v1.0/me/messages").len(), 2);
}

#[test]
fn a_token_near_its_expiry_is_renewed_before_it_is_used() {
    let world = person(json!({}));
    world.mock.token_lifetime(60);
    assert!(!world.tool("sign_in", json!({})).is_error);
    let grants_before = world.mock.grants().len();
    world.search("budget", 2).unwrap();
    let grants = grant_types(&world);
    assert_eq!(grants.len(), grants_before + 1);
    assert_eq!(grants.last().map(String::as_str), Some("refresh_token"));
    let statuses: Vec<_> = world.mock.seen_at("/v1.0/me/messages");
    assert_eq!(statuses.len(), 1, "no request was refused first");
    assert_eq!(
        statuses[0].authorization.as_deref(),
        Some(format!("Bearer {}", kept(&world)["access_token"].as_str().unwrap()).as_str())
    );
}

#[test]
fn a_revoked_sign_in_asks_the_person_to_sign_in_again() {
    let world = signed_in(json!({}));
    world.mock.revoke_refresh_tokens();
    world.mock.expire_next(1);
    let error = world.search("budget", 2).unwrap_err();
    assert_eq!(error.kind, ErrorKind::DENIED);
    assert!(
        error
            .message
            .contains("the sign-in has expired or was revoked; sign in again"),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .contains("run `switchboard sources login outlook`"),
        "{}",
        error.message
    );
}

#[test]
fn sign_out_forgets_the_kept_token_and_later_calls_say_to_sign_in() {
    let world = signed_in(json!({}));
    assert!(world.host.kept("token").is_some());
    let result = world.tool("sign_out", json!({}));
    assert_eq!(
        text(&result),
        "Signed out of Outlook: the kept token is gone from the OS keyring."
    );
    assert!(world.host.kept("token").is_none());
    let requests = world.mock.graph_requests();
    let error = world.search("budget", 2).unwrap_err();
    assert_eq!(error.kind, ErrorKind::DENIED);
    assert_eq!(
        error.message,
        "the mail search: not signed in; sign in to this source first (run `switchboard sources login outlook`)"
    );
    assert_eq!(
        world.mock.graph_requests(),
        requests,
        "nothing sent without a token"
    );
    let check = world.tool("check", json!({}));
    assert!(check.is_error);
    assert!(
        text(&check)
            .starts_with("The Outlook check failed: reading who is signed in: not signed in"),
        "{}",
        text(&check)
    );
}

#[test]
fn check_asks_who_the_token_is_with_three_properties() {
    let world = signed_in(json!({}));
    let result = world.tool("check", json!({}));
    assert!(!result.is_error);
    assert_eq!(
        text(&result),
        "Outlook answers: reading the mailbox of Megan Bowen <megan@contoso.example>."
    );
    let me = world.mock.seen_at("/v1.0/me");
    assert_eq!(
        me.last().unwrap().target,
        "/v1.0/me?$select=displayName%2Cmail%2CuserPrincipalName"
    );

    let app = app(json!({}));
    assert!(!app.tool("check", json!({})).is_error);
    assert_eq!(
        app.mock.seen_at("/v1.0/users/megan%40contoso.example")[0].target,
        "/v1.0/users/megan%40contoso.example?$select=displayName%2Cmail%2CuserPrincipalName"
    );
    app.mock.fail_next(500, "UnknownError", "Something broke.");
    let failed = app.tool("check", json!({}));
    assert!(failed.is_error);
    assert_eq!(
        text(&failed),
        "The Outlook check failed: Microsoft Graph failed reading who is signed in (500 UnknownError: Something broke.); try again later"
    );
}
