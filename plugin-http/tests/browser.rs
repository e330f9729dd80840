//! The browser sign-in end to end on loopback: the test plays the browser (it is handed the
//! authorization URL and visits the redirect the way a browser would), and a token endpoint
//! checks the PKCE verifier against the challenge the browser was sent.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use switchboard_plugin_http::oauth::{App, Endpoints};
use switchboard_plugin_http::{Client, HttpError, Retry, browser};

use support::{Server, form};

fn never() -> bool {
    false
}

/// The fields of a URL's query.
fn query(url: &str) -> Vec<(String, String)> {
    form(url.split_once('?').map_or("", |(_, q)| q))
}

fn get(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Visit `url` (http://127.0.0.1:port/...) as a browser would; the status line and the body.
fn visit(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

struct Setup {
    tokens: Server,
    challenge: Arc<Mutex<String>>,
}

/// A token endpoint that issues a token only for the code `good-code` with the verifier of
/// the challenge the browser was sent.
fn token_endpoint() -> Setup {
    let challenge = Arc::new(Mutex::new(String::new()));
    let expected = Arc::clone(&challenge);
    let tokens = Server::start(move |_, r| {
        let fields = form(&r.body);
        let verifier = get(&fields, "code_verifier");
        let matches = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
            == *expected.lock().unwrap();
        if get(&fields, "grant_type") == "authorization_code"
            && get(&fields, "code") == "good-code"
            && matches
        {
            (200, vec![], json!({"access_token": "box-token", "refresh_token": "box-refresh", "expires_in": 3600}).to_string())
        } else {
            (
                400,
                vec![],
                json!({"error": "invalid_grant", "error_description": "bad code or verifier"})
                    .to_string(),
            )
        }
    });
    Setup { tokens, challenge }
}

fn endpoints(tokens: &Server) -> Endpoints {
    Endpoints {
        token: tokens.url("/oauth2/token"),
        device: None,
        authorize: Some("https://account.box.test/api/oauth2/authorize".to_string()),
    }
}

fn app() -> App {
    App {
        client_id: "box-app".into(),
        client_secret: Some("box-secret".into()),
        scopes: vec!["root_readwrite".into()],
    }
}

#[test]
fn the_redirect_with_the_right_state_signs_in_and_everything_else_is_turned_away() {
    let setup = token_endpoint();
    let visits = Arc::new(Mutex::new(Vec::new()));
    let sent_redirect = Arc::new(Mutex::new(String::new()));
    let (challenge, seen, sent) = (
        Arc::clone(&setup.challenge),
        Arc::clone(&visits),
        Arc::clone(&sent_redirect),
    );
    let open = move |url: &str| -> Result<(), HttpError> {
        assert!(
            url.starts_with("https://account.box.test/api/oauth2/authorize?"),
            "{url}"
        );
        let fields = query(url);
        assert_eq!(get(&fields, "response_type"), "code");
        assert_eq!(get(&fields, "code_challenge_method"), "S256");
        assert_eq!(get(&fields, "client_id"), "box-app");
        assert!(
            !url.contains("box-secret"),
            "the secret never goes to the browser"
        );
        *challenge.lock().unwrap() = get(&fields, "code_challenge");
        let (redirect, state) = (get(&fields, "redirect_uri"), get(&fields, "state"));
        *sent.lock().unwrap() = redirect.clone();
        assert!(
            redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"),
            "{redirect}"
        );
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            let base = redirect.trim_end_matches("/callback").to_string();
            let seen = |v: (String, String)| seen.lock().unwrap().push(v);
            seen(visit(&format!("{base}/favicon.ico")));
            seen(visit(&format!("{redirect}?code=evil-code&state=forged")));
            seen(visit(&format!("{redirect}?code=good-code&state={state}")));
        });
        Ok(())
    };
    let client = Client::new("t").retry(Retry::never());
    let token = browser::sign_in(
        &client,
        &endpoints(&setup.tokens),
        &app(),
        None,
        &open,
        Duration::from_secs(30),
        &never,
    )
    .unwrap();
    assert_eq!(token.access_token, "box-token");
    assert_eq!(token.refresh_token.as_deref(), Some("box-refresh"));

    let visits = visits.lock().unwrap();
    assert_eq!(visits.len(), 3);
    assert!(visits[0].0.contains("404"), "{visits:?}");
    assert!(
        visits[1].0.contains("400") && visits[1].1.contains("not the one switchboard opened"),
        "{visits:?}"
    );
    assert!(
        visits[2].0.contains("200") && visits[2].1.contains("Signed in"),
        "{visits:?}"
    );
    let exchanged = setup.tokens.seen();
    assert_eq!(exchanged.len(), 1, "only the right code was exchanged");
    let fields = form(&exchanged[0].body);
    assert_eq!(get(&fields, "code"), "good-code");
    assert_eq!(
        get(&fields, "redirect_uri"),
        get(&query(&format!("?{}", "")), "x") + &get(&fields, "redirect_uri")
    );
    assert_eq!(get(&fields, "code_verifier").len(), 43);
}

#[test]
fn a_declined_sign_in_a_bad_code_a_cancelled_wait_and_no_answer_each_end_with_a_sentence() {
    let setup = token_endpoint();
    let client = Client::new("t").retry(Retry::never());
    let visit_with = |extra: &'static str| {
        move |url: &str| -> Result<(), HttpError> {
            let fields = query(url);
            let (redirect, state) = (get(&fields, "redirect_uri"), get(&fields, "state"));
            std::thread::spawn(move || visit(&format!("{redirect}?state={state}&{extra}")));
            Ok(())
        }
    };
    let declined = browser::sign_in(
        &client,
        &endpoints(&setup.tokens),
        &app(),
        None,
        &visit_with("error=access_denied&error_description=The+user+denied+access"),
        Duration::from_secs(30),
        &never,
    )
    .unwrap_err();
    assert!(
        declined.to_string().contains("declined in the browser"),
        "{declined}"
    );

    let bad = browser::sign_in(
        &client,
        &endpoints(&setup.tokens),
        &app(),
        None,
        &visit_with("code=stale-code"),
        Duration::from_secs(30),
        &never,
    )
    .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "the sign-in was refused (invalid_grant: bad code or verifier)"
    );

    let nobody = |_: &str| Ok(());
    let cancelled = browser::sign_in(
        &client,
        &endpoints(&setup.tokens),
        &app(),
        None,
        &nobody,
        Duration::from_secs(30),
        &|| true,
    )
    .unwrap_err();
    assert!(matches!(cancelled, HttpError::Cancelled), "{cancelled:?}");
    let late = browser::sign_in(
        &client,
        &endpoints(&setup.tokens),
        &app(),
        None,
        &nobody,
        Duration::ZERO,
        &never,
    )
    .unwrap_err();
    assert!(
        late.to_string().contains("was not finished in the browser"),
        "{late}"
    );
    assert!(
        setup.tokens.seen().len() == 1,
        "only the stale code was sent to the token endpoint"
    );
}

/// A port free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_fixed_port_is_the_redirect_s_and_a_port_taken_is_named_in_the_error() {
    let setup = token_endpoint();
    let port = free_port();
    let challenge = Arc::clone(&setup.challenge);
    let open = move |url: &str| -> Result<(), HttpError> {
        let fields = query(url);
        *challenge.lock().unwrap() = get(&fields, "code_challenge");
        let (redirect, state) = (get(&fields, "redirect_uri"), get(&fields, "state"));
        assert_eq!(redirect, format!("http://127.0.0.1:{port}/callback"));
        std::thread::spawn(move || visit(&format!("{redirect}?code=good-code&state={state}")));
        Ok(())
    };
    let client = Client::new("t").retry(Retry::never());
    let token = browser::sign_in(
        &client,
        &endpoints(&setup.tokens),
        &app(),
        Some(port),
        &open,
        Duration::from_secs(30),
        &never,
    )
    .unwrap();
    assert_eq!(token.access_token, "box-token");
    let exchanged = form(&setup.tokens.seen()[0].body);
    assert_eq!(
        get(&exchanged, "redirect_uri"),
        format!("http://127.0.0.1:{port}/callback"),
        "the same redirect URI in the exchange"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let opened = Arc::new(Mutex::new(false));
    let was_opened = Arc::clone(&opened);
    let open = move |_: &str| -> Result<(), HttpError> {
        *was_opened.lock().unwrap() = true;
        Ok(())
    };
    let error = browser::sign_in(
        &client,
        &endpoints(&setup.tokens),
        &app(),
        Some(port),
        &open,
        Duration::from_secs(30),
        &never,
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port}"))
            && text.contains(&format!("another program holds port {port}")),
        "{text}"
    );
    assert!(
        !*opened.lock().unwrap(),
        "no browser opened for a redirect that cannot arrive"
    );
    assert_eq!(setup.tokens.seen().len(), 1, "nothing more exchanged");
}
