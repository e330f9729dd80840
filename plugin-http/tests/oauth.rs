//! Sign-in and token renewal against a token endpoint on loopback that speaks the Microsoft
//! identity platform's wire format (RFC 8628 device code, RFC 6749 client credentials and
//! refresh token grants, their JSON errors).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use serde_json::json;
use switchboard_plugin_http::oauth::{
    self, App, Endpoints, MemoryStore, Renewal, Token, TokenAuth, TokenStore,
};
use switchboard_plugin_http::{Auth, Client, HttpError, Request, Retry};

use support::{Answer, Server, form};

fn never() -> bool {
    false
}

fn endpoints(server: &Server) -> Endpoints {
    Endpoints {
        token: server.url("/tenant/oauth2/v2.0/token"),
        device: Some(server.url("/tenant/oauth2/v2.0/devicecode")),
        authorize: None,
    }
}

fn app(secret: Option<&str>) -> App {
    App {
        client_id: "app-id".into(),
        client_secret: secret.map(str::to_string),
        scopes: vec!["Mail.Read".into(), "offline_access".into()],
    }
}

fn json(status: u16, value: serde_json::Value) -> Answer {
    (
        status,
        vec![("content-type", "application/json".into())],
        value.to_string(),
    )
}

fn issued(access: &str, refresh: Option<&str>) -> Answer {
    let mut body = json!({"token_type": "Bearer", "scope": "Mail.Read", "expires_in": 3599, "access_token": access});
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    json(200, body)
}

fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn a_device_sign_in_polls_at_the_interval_slows_down_when_told_and_returns_the_token() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&polls);
    let server = Server::start(move |_, r| {
        if r.target.ends_with("/devicecode") {
            return json(
                200,
                json!({
                    "user_code": "FGH-JKL", "device_code": "secret-device-code",
                    "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900,
                    "interval": 5,
                    "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FGH-JKL to authenticate."
                }),
            );
        }
        match counted.fetch_add(1, Ordering::SeqCst) {
            0 | 2 => json(
                400,
                json!({"error": "authorization_pending", "error_description": "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending."}),
            ),
            1 => json(400, json!({"error": "slow_down"})),
            _ => issued("access-1", Some("refresh-1")),
        }
    });
    let client = Client::new("t").retry(Retry::never());
    let code = oauth::start_device(&client, &endpoints(&server), &app(None), &never).unwrap();
    assert_eq!(code.user_code, "FGH-JKL");
    assert!(code.instructions().contains("enter the code FGH-JKL"));
    assert!(
        !format!("{code:?}").contains("secret-device-code"),
        "the device code is not shown"
    );

    let waits = Mutex::new(Vec::new());
    let wait = |d: Duration| {
        waits.lock().unwrap().push(d.as_secs());
        Ok(())
    };
    let token = oauth::finish_device(
        &client,
        &endpoints(&server),
        &app(None),
        &code,
        &wait,
        &never,
    )
    .unwrap();
    assert_eq!(token.access_token, "access-1");
    assert_eq!(token.refresh_token.as_deref(), Some("refresh-1"));
    assert_eq!(
        *waits.lock().unwrap(),
        [5, 5, 10, 10],
        "five seconds more after slow_down"
    );

    let seen = server.seen();
    let asked = form(&seen[0].body);
    assert_eq!(field(&asked, "client_id").as_deref(), Some("app-id"));
    assert_eq!(
        field(&asked, "scope").as_deref(),
        Some("Mail.Read offline_access")
    );
    let polled = form(&seen[1].body);
    assert_eq!(
        field(&polled, "grant_type").as_deref(),
        Some("urn:ietf:params:oauth:grant-type:device_code")
    );
    assert_eq!(
        field(&polled, "device_code").as_deref(),
        Some("secret-device-code")
    );
    assert!(
        field(&polled, "client_secret").is_none(),
        "a public app sends no secret"
    );
    assert!(
        !format!("{token:?}").contains("access-1"),
        "no secret in Debug"
    );
}

#[test]
fn a_device_sign_in_ends_with_a_sentence_when_declined_expired_or_cancelled() {
    for (error, says) in [
        ("authorization_declined", "the sign-in was declined"),
        ("access_denied", "the sign-in was declined"),
        ("expired_token", "the code expired"),
        (
            "bad_verification_code",
            "the sign-in was refused (bad_verification_code: no such code)",
        ),
    ] {
        let server = Server::start(move |_, _| {
            json(
                400,
                json!({"error": error, "error_description": "no such code\r\nTrace ID: 1"}),
            )
        });
        let code: oauth::DeviceCode = serde_json::from_value(json!({
            "user_code": "A", "device_code": "d", "verification_uri": "https://x", "expires_in": 900
        }))
        .unwrap();
        assert_eq!(code.interval, 5, "RFC 8628's default");
        let client = Client::new("t").retry(Retry::never());
        let error = oauth::finish_device(
            &client,
            &endpoints(&server),
            &app(None),
            &code,
            &|_| Ok(()),
            &never,
        )
        .unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
        assert!(
            !error.to_string().contains("Trace ID"),
            "one line of the description"
        );
    }

    // The code's lifetime is counted in the intervals waited: 12 s at 5 s a poll is 3 polls.
    let server = Server::start(|_, _| json(400, json!({"error": "authorization_pending"})));
    let code: oauth::DeviceCode = serde_json::from_value(json!({
        "user_code": "A", "device_code": "d", "verification_uri": "https://x", "expires_in": 12, "interval": 5
    }))
    .unwrap();
    let client = Client::new("t").retry(Retry::never());
    let error = oauth::finish_device(
        &client,
        &endpoints(&server),
        &app(None),
        &code,
        &|_| Ok(()),
        &never,
    )
    .unwrap_err();
    assert!(error.to_string().contains("the code expired"), "{error}");
    assert_eq!(server.seen().len(), 3);

    // A caller that gives up during a wait stops polling.
    let error = oauth::finish_device(
        &client,
        &endpoints(&server),
        &app(None),
        &code,
        &|_| Err(HttpError::Cancelled),
        &never,
    )
    .unwrap_err();
    assert!(matches!(error, HttpError::Cancelled));
    assert_eq!(server.seen().len(), 3, "no poll after the cancellation");
}

#[test]
fn client_credentials_send_the_secret_and_the_extra_fields() {
    let server = Server::start(|_, r| {
        let fields = form(&r.body);
        if field(&fields, "client_secret").as_deref() == Some("s3cret") {
            issued("app-token", None)
        } else {
            json(
                401,
                json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
            )
        }
    });
    let client = Client::new("t").retry(Retry::never());
    let extra = [("box_subject_type", "enterprise"), ("box_subject_id", "42")];
    let token = oauth::client_credentials(
        &client,
        &endpoints(&server),
        &app(Some("s3cret")),
        &extra,
        &never,
    )
    .unwrap();
    assert_eq!(token.access_token, "app-token");
    assert!(token.expires_at >= oauth::now() + 3_500);
    let sent = form(&server.seen()[0].body);
    assert_eq!(
        field(&sent, "grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(field(&sent, "box_subject_id").as_deref(), Some("42"));

    let error = oauth::client_credentials(
        &client,
        &endpoints(&server),
        &app(Some("wrong")),
        &[],
        &never,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the app's credentials was refused (invalid_client: AADSTS7000215: Invalid client secret provided.)"
    );
    assert!(!error.to_string().contains("wrong"));
    let missing = oauth::client_credentials(&client, &endpoints(&server), &app(None), &[], &never)
        .unwrap_err();
    assert!(
        missing.to_string().contains("client secret is not set"),
        "{missing}"
    );
}

/// A clock an hour after the tokens below were issued.
fn an_hour_later() -> u64 {
    1_000_000 + 3_600
}

fn expired_token() -> Token {
    Token {
        access_token: "old".into(),
        refresh_token: Some("refresh-old".into()),
        expires_at: 1_000_000 + 3_599,
        scope: None,
    }
}

#[test]
fn an_expired_token_is_renewed_once_for_many_callers_and_the_new_refresh_token_kept() {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&refreshes);
    let server = Server::start(move |_, r| {
        assert_eq!(
            field(&form(&r.body), "refresh_token").as_deref(),
            Some("refresh-old")
        );
        counted.fetch_add(1, Ordering::SeqCst);
        issued("new", Some("refresh-new"))
    });
    let store = Arc::new(MemoryStore::default());
    store.save(&expired_token()).unwrap();
    let auth = Arc::new(
        TokenAuth::new(
            Client::new("t").retry(Retry::never()),
            endpoints(&server),
            app(None),
            Renewal::SignedIn,
            store.clone(),
        )
        .with_clock(an_hour_later),
    );
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (auth, start) = (Arc::clone(&auth), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                auth.authorization().unwrap()
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), "Bearer new");
    }
    assert_eq!(
        refreshes.load(Ordering::SeqCst),
        1,
        "one renewal for eight callers"
    );
    let kept = store.load().unwrap().unwrap();
    assert_eq!(
        kept.refresh_token.as_deref(),
        Some("refresh-new"),
        "the rotated refresh token is kept"
    );
}

#[test]
fn a_refused_token_is_renewed_and_the_call_tried_again_and_a_revoked_one_says_sign_in_again() {
    let api = Server::start(|_, r| match r.header("authorization") {
        Some("Bearer fresh") => json(200, json!({"value": []})),
        _ => json(
            401,
            json!({"error": {"code": "InvalidAuthenticationToken"}}),
        ),
    });
    let revoked = Arc::new(Mutex::new(false));
    let revoke = Arc::clone(&revoked);
    let tokens = Server::start(move |_, _| {
        if *revoke.lock().unwrap() {
            json(
                400,
                json!({"error": "invalid_grant", "error_description": "AADSTS70008: The refresh token has expired."}),
            )
        } else {
            // The service rotates nothing here: the old refresh token stays.
            issued("fresh", None)
        }
    });
    let store = Arc::new(MemoryStore::default());
    // Not due by the clock, but the service no longer takes it.
    store
        .save(&Token {
            expires_at: an_hour_later() + 3_000,
            ..expired_token()
        })
        .unwrap();
    let auth = Arc::new(
        TokenAuth::new(
            Client::new("t").retry(Retry::never()),
            endpoints(&tokens),
            app(None),
            Renewal::SignedIn,
            store.clone(),
        )
        .with_clock(an_hour_later),
    );
    let client = Client::new("t").retry(Retry::never()).auth(auth.clone());
    let answer = client
        .send(&Request::get(api.url("/me/messages")), &never)
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        store.load().unwrap().unwrap().refresh_token.as_deref(),
        Some("refresh-old")
    );

    *revoked.lock().unwrap() = true;
    store
        .save(&Token {
            access_token: "stale".into(),
            expires_at: an_hour_later() + 3_000,
            ..expired_token()
        })
        .unwrap();
    let auth = TokenAuth::new(
        Client::new("t").retry(Retry::never()),
        endpoints(&tokens),
        app(None),
        Renewal::SignedIn,
        store,
    )
    .with_clock(an_hour_later);
    let client = Client::new("t").retry(Retry::never()).auth(Arc::new(auth));
    let error = client
        .send(&Request::get(api.url("/me/messages")), &never)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the sign-in has expired or was revoked; sign in again"
    );
}

#[test]
fn an_app_gets_a_token_when_it_has_none_and_a_person_is_told_to_sign_in() {
    let server = Server::start(|_, _| issued("app-token", None));
    let auth = TokenAuth::new(
        Client::new("t"),
        endpoints(&server),
        app(Some("s3cret")),
        Renewal::ClientCredentials { extra: Vec::new() },
        Arc::new(MemoryStore::default()),
    );
    assert_eq!(auth.authorization().unwrap(), "Bearer app-token");
    assert_eq!(auth.authorization().unwrap(), "Bearer app-token");
    assert_eq!(server.seen().len(), 1, "kept until it is due");

    let person = TokenAuth::new(
        Client::new("t"),
        endpoints(&server),
        app(None),
        Renewal::SignedIn,
        Arc::new(MemoryStore::default()),
    );
    let error = person.authorization().unwrap_err();
    assert!(error.to_string().starts_with("not signed in"), "{error}");
    assert_eq!(server.seen().len(), 1, "nothing asked of the service");
}

#[test]
fn a_token_kept_through_the_host_round_trips_and_is_forgotten_on_sign_out() {
    use switchboard_plugin_api::testing::{self, FakeHost};
    let fake = FakeHost::new(std::env::temp_dir());
    let host = testing::host(&fake);
    let store = oauth::KeptToken::new(host.clone(), "outlook.token");
    assert!(store.load().unwrap().is_none());
    store.save(&expired_token()).unwrap();
    assert_eq!(store.load().unwrap(), Some(expired_token()));
    let kept = fake.kept("outlook.token").unwrap();
    assert!(
        kept.contains("refresh-old"),
        "the whole token, as JSON, in the keyring"
    );
    store.forget().unwrap();
    assert!(store.load().unwrap().is_none());
    assert!(fake.kept("outlook.token").is_none());

    host.keep_secret("outlook.token", "not json").unwrap();
    let error = store.load().unwrap_err();
    assert_eq!(
        error.to_string(),
        "the kept sign-in cannot be read; sign in again"
    );
    assert!(!error.to_string().contains("not json"));
}

/// A token that lasts until `expires_at`, named `name` (its refresh token `refresh-<name>`).
fn signed_in(name: &str, expires_at: u64) -> Token {
    Token {
        access_token: name.into(),
        refresh_token: Some(format!("refresh-{name}")),
        expires_at,
        scope: None,
    }
}

/// A signed-in person's auth over `store`, its token endpoint `tokens`, at `clock`.
fn person(tokens: &Server, store: &Arc<MemoryStore>, clock: fn() -> u64) -> Arc<TokenAuth> {
    Arc::new(
        TokenAuth::new(
            Client::new("t").retry(Retry::never()),
            endpoints(tokens),
            app(None),
            Renewal::SignedIn,
            store.clone(),
        )
        .with_clock(clock),
    )
}

#[test]
fn a_sign_in_kept_by_another_process_is_used_instead_of_renewing_the_token_held() {
    // The other process's sign-in spent nothing here, but the token endpoint takes no
    // refresh token: any renewal would fail.
    let tokens = Server::start(|_, _| json(400, json!({"error": "invalid_grant"})));
    let api = Server::start(|_, r| match r.header("authorization") {
        Some("Bearer second") => json(200, json!({"value": []})),
        _ => json(401, json!({"error": "invalid_token"})),
    });
    let store = Arc::new(MemoryStore::default());
    store
        .save(&signed_in("first", an_hour_later() + 3_000))
        .unwrap();
    let auth = person(&tokens, &store, an_hour_later);
    assert_eq!(auth.authorization().unwrap(), "Bearer first", "held");

    // `switchboard sources login` in another process signs in again.
    store
        .save(&signed_in("second", an_hour_later() + 3_600))
        .unwrap();
    let client = Client::new("t").retry(Retry::never()).auth(auth.clone());
    let answer = client.send(&Request::get(api.url("/me")), &never).unwrap();
    assert_eq!(
        answer.status(),
        200,
        "the 401 to the old token is answered by the kept one"
    );
    let sent: Vec<_> = api
        .seen()
        .iter()
        .map(|s| s.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(sent, ["Bearer first", "Bearer second"]);
    assert!(tokens.seen().is_empty(), "no renewal was tried");
    assert_eq!(auth.authorization().unwrap(), "Bearer second", "now held");
}

static CLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1_000_000);

fn moving_clock() -> u64 {
    CLOCK.load(Ordering::SeqCst)
}

#[test]
fn a_token_due_is_replaced_by_a_newer_one_in_the_store_before_any_renewal() {
    let tokens = Server::start(|_, _| json(400, json!({"error": "invalid_grant"})));
    let store = Arc::new(MemoryStore::default());
    store.save(&signed_in("first", 1_000_000 + 3_600)).unwrap();
    let auth = person(&tokens, &store, moving_clock);
    assert_eq!(auth.authorization().unwrap(), "Bearer first");
    store.save(&signed_in("second", 1_000_000 + 7_200)).unwrap();
    assert_eq!(
        auth.authorization().unwrap(),
        "Bearer first",
        "the store is not read while the token held is good"
    );
    CLOCK.store(1_000_000 + 3_600, Ordering::SeqCst);
    assert_eq!(auth.authorization().unwrap(), "Bearer second");
    assert!(tokens.seen().is_empty(), "no renewal was tried");
}

#[test]
fn a_renewal_refused_because_another_process_signed_in_meanwhile_uses_that_sign_in() {
    let store = Arc::new(MemoryStore::default());
    store.save(&expired_token()).unwrap();
    let other = Arc::clone(&store);
    let tokens = Server::start(move |_, r| {
        assert_eq!(
            field(&form(&r.body), "refresh_token").as_deref(),
            Some("refresh-old")
        );
        // While this refresh token was on its way, another process signed in again, which
        // revoked it.
        other
            .save(&signed_in("theirs", an_hour_later() + 3_600))
            .unwrap();
        json(
            400,
            json!({"error": "invalid_grant", "error_description": "the refresh token was revoked"}),
        )
    });
    let auth = person(&tokens, &store, an_hour_later);
    assert_eq!(auth.authorization().unwrap(), "Bearer theirs");
    assert_eq!(tokens.seen().len(), 1);
    assert_eq!(
        store.load().unwrap().unwrap().access_token,
        "theirs",
        "the other process's token is left as it kept it"
    );

    // With nothing newer kept, the refusal is the answer.
    let store = Arc::new(MemoryStore::default());
    store.save(&expired_token()).unwrap();
    let refusing = Server::start(|_, _| json(400, json!({"error": "invalid_grant"})));
    let error = person(&refusing, &store, an_hour_later)
        .authorization()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the sign-in has expired or was revoked; sign in again"
    );
}
