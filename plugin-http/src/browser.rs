//! Signing in in the browser: the authorization code grant with PKCE (RFC 7636) on a
//! loopback redirect (RFC 8252 §7.3), for a person at a desktop whose service has no device
//! sign-in (Box).
//!
//! A listener on `127.0.0.1` is the redirect, at a port the system picks or, for a service
//! that matches the registered redirect URI exactly, the one the caller asks for; the
//! browser is sent to the authorization endpoint with a fresh `state` and an S256 code
//! challenge. Only a redirect to `/callback` carrying that `state` ends the wait: anything
//! else that reaches the port (another local page, a stale tab) is answered and ignored, so
//! it cannot sign the person in to someone else's account. The code is exchanged with its
//! verifier.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::error::HttpError;
use crate::oauth::{App, Endpoints, Granted, Token, grant, refused};

/// How often the wait for the redirect looks at the cancellation.
const WAKE: Duration = Duration::from_millis(25);

/// What a redirect to the listener said.
enum Redirect {
    Code(String),
    Refused { error: String, description: String },
}

/// Sign in in the browser: the redirect listens on `port` of 127.0.0.1, for a service that
/// wants the redirect URI registered exactly (`http://127.0.0.1:<port>/callback`), or on a
/// port the system picks when `None`; `open` opens the URL it is given (see
/// [`open_in_browser`]); the wait for the person ends after `patience`, or when `stopped`
/// says so.
pub fn sign_in(
    client: &Client,
    endpoints: &Endpoints,
    app: &App,
    port: Option<u16>,
    open: &dyn Fn(&str) -> Result<(), HttpError>,
    patience: Duration,
    stopped: &dyn Fn() -> bool,
) -> Result<Token, HttpError> {
    let Some(authorize) = &endpoints.authorize else {
        return Err(HttpError::Auth(
            "this service has no browser sign-in; use another sign-in method".to_string(),
        ));
    };
    let listener = listen(port)?;
    let port = listener
        .local_addr()
        .map_err(|e| HttpError::Auth(format!("cannot listen for the sign-in's redirect: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let verifier = random_text(32)?;
    let state = random_text(16)?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let scope = app.scopes.join(" ");
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("state", state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if !scope.is_empty() {
        query.push(("scope", &scope));
    }
    let separator = if authorize.contains('?') { '&' } else { '?' };
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&query)
        .finish();
    let url = format!("{authorize}{separator}{query}");
    open(&url)?;

    let code = match wait_for_redirect(&listener, &state, patience, stopped)? {
        Redirect::Code(code) => code,
        Redirect::Refused { error, .. } if error == "access_denied" => {
            return Err(HttpError::Auth(
                "the sign-in was declined in the browser; sign in again to connect".to_string(),
            ));
        }
        Redirect::Refused { error, description } => {
            return Err(refused("the sign-in", &error, &description));
        }
    };
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    match grant(client, endpoints, app, &fields, stopped)? {
        Granted::Token(token) => Ok(token),
        Granted::Refused { error, description } => {
            Err(refused("the sign-in", &error, &description))
        }
    }
}

/// The redirect's listener on 127.0.0.1, at `port` or one the system picks.
fn listen(port: Option<u16>) -> Result<TcpListener, HttpError> {
    let listener = TcpListener::bind(("127.0.0.1", port.unwrap_or(0)))
        .and_then(|l| l.set_nonblocking(true).map(|()| l));
    listener.map_err(|e| match port {
        Some(port) if e.kind() == std::io::ErrorKind::AddrInUse => HttpError::Auth(format!(
            "cannot listen for the sign-in's redirect on 127.0.0.1:{port}: another program \
             holds port {port}; close it and sign in again, or choose another port and \
             register http://127.0.0.1:<that port>/callback with the app"
        )),
        Some(port) => HttpError::Auth(format!(
            "cannot listen for the sign-in's redirect on 127.0.0.1:{port} ({e}); choose \
             another port and register http://127.0.0.1:<that port>/callback with the app"
        )),
        None => HttpError::Auth(format!("cannot listen for the sign-in's redirect: {e}")),
    })
}

/// `bytes` random bytes as URL-safe text (43 characters for 32 bytes: a PKCE verifier).
fn random_text(bytes: usize) -> Result<String, HttpError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|e| HttpError::Auth(format!("the system gave no random bytes: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// Answer what reaches the listener until the redirect carrying `state` arrives.
fn wait_for_redirect(
    listener: &TcpListener,
    state: &str,
    patience: Duration,
    stopped: &dyn Fn() -> bool,
) -> Result<Redirect, HttpError> {
    let until = Instant::now() + patience;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(redirect) = answer(stream, state) {
                    return Ok(redirect);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if stopped() {
                    return Err(HttpError::Cancelled);
                }
                if Instant::now() >= until {
                    return Err(HttpError::Auth(format!(
                        "the sign-in was not finished in the browser within {} minutes; sign in again",
                        patience.as_secs().div_ceil(60)
                    )));
                }
                std::thread::sleep(WAKE);
            }
            Err(e) => {
                return Err(HttpError::Auth(format!(
                    "waiting for the sign-in's redirect failed: {e}"
                )));
            }
        }
    }
}

/// Read one request from the browser and answer it; the redirect, when it is the one
/// awaited.
fn answer(stream: TcpStream, state: &str) -> Option<Redirect> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut writer = stream.try_clone().ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    let target = line.split_whitespace().nth(1).unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let fields: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (status, text, redirect) = if path != "/callback" {
        ("404 Not Found", "Nothing here.", None)
    } else if get("state").as_deref() != Some(state) {
        (
            "400 Bad Request",
            "This sign-in link is not the one switchboard opened. Close this tab.",
            None,
        )
    } else if let Some(code) = get("code") {
        (
            "200 OK",
            "Signed in. You can close this tab and go back to your assistant.",
            Some(Redirect::Code(code)),
        )
    } else {
        (
            "200 OK",
            "The sign-in did not finish. You can close this tab.",
            Some(Redirect::Refused {
                error: get("error").unwrap_or_else(|| "no_code".to_string()),
                description: get("error_description").unwrap_or_default(),
            }),
        )
    };
    let page =
        format!("<!doctype html><meta charset=utf-8><title>switchboard</title><p>{text}</p>");
    let _ = write!(
        writer,
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    redirect
}

/// Open `url` in the person's browser (`xdg-open`, `open`, or `start`), without waiting.
pub fn open_in_browser(url: &str) -> Result<(), HttpError> {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut command = std::process::Command::new("cmd");
        command.args(["/C", "start", ""]);
        command
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| {
            HttpError::Auth(format!(
                "cannot open a browser ({e}); open this address yourself: {url}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_text_is_url_safe_and_new_each_time() {
        let a = random_text(32).unwrap();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(a, random_text(32).unwrap());
    }
}
