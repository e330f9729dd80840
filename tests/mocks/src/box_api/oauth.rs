//! Box's sign-in endpoints as the stand-in serves them: `GET /api/oauth2/authorize` (the
//! page a browser opens; here it approves at once and redirects back with a code, or with
//! `error=access_denied` when the test said the person declines) and `POST /oauth2/token`
//! (the authorization code with its PKCE verifier checked against the S256 challenge the
//! authorize step took, the refresh token, rotated on every use, and the client credentials
//! grant with `box_subject_type` / `box_subject_id`) and `POST /oauth2/revoke` (either token
//! of a pair ends both), answering Box's error bodies
//! (`invalid_grant`, `invalid_client`, `unauthorized_client`, `unsupported_grant_type`).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{CLIENT_ID, CLIENT_SECRET, Grant, SUBJECT_ID, SUBJECT_TYPE, Shared, Subject, lock};

/// A code the authorize step gave, waiting to be exchanged once.
#[derive(Clone, Debug)]
pub struct PendingCode {
    pub challenge: String,
    pub redirect_uri: String,
    pub scope: String,
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn redirect(to: &str, fields: &[(&str, &str)]) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let separator = if to.contains('?') { '&' } else { '?' };
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("{to}{separator}{query}"))],
    )
        .into_response()
}

/// `GET /api/oauth2/authorize`: approve at once (the test plays the person) and send the
/// browser back to the loopback redirect with a code and the state it came with.
pub async fn authorize(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != CLIENT_ID {
        // Box shows an error page: the redirect cannot be trusted for an unknown app.
        return (
            StatusCode::BAD_REQUEST,
            "Box: the client_id given is not a registered application.",
        )
            .into_response();
    }
    let redirect_uri = get("redirect_uri");
    let loopback = redirect_uri.starts_with("http://127.0.0.1:")
        || redirect_uri.starts_with("http://localhost:");
    if !loopback {
        return (
            StatusCode::BAD_REQUEST,
            "Box: the redirect_uri does not match the application's configuration.",
        )
            .into_response();
    }
    let state = get("state");
    if get("response_type") != "code" {
        return redirect(
            &redirect_uri,
            &[("error", "unsupported_response_type"), ("state", &state)],
        );
    }
    if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
        return redirect(
            &redirect_uri,
            &[
                ("error", "invalid_request"),
                ("error_description", "PKCE with S256 is required"),
                ("state", &state),
            ],
        );
    }
    let mut s = lock(&shared);
    if std::mem::take(&mut s.deny_next_sign_in) {
        return redirect(
            &redirect_uri,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "The user denied access to your application",
                ),
                ("state", &state),
            ],
        );
    }
    s.counter += 1;
    let code = format!("box-code-{}", s.counter);
    s.codes.insert(
        code.clone(),
        PendingCode {
            challenge: get("code_challenge"),
            redirect_uri: redirect_uri.clone(),
            scope: get("scope"),
        },
    );
    drop(s);
    redirect(&redirect_uri, &[("code", &code), ("state", &state)])
}

/// `POST /oauth2/token`.
pub async fn token(
    State(shared): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let grant_type = get("grant_type");
    let mut s = lock(&shared);
    s.grants.push(grant_type.clone());
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return oauth_error("invalid_client", "The client credentials are invalid");
    }
    let grant = match grant_type.as_str() {
        "authorization_code" => {
            let Some(pending) = s.codes.remove(&get("code")) else {
                return oauth_error(
                    "invalid_grant",
                    "Auth code doesn't exist or is invalid for the client",
                );
            };
            if pending.redirect_uri != get("redirect_uri") {
                return oauth_error("invalid_grant", "The redirect_uri does not match");
            }
            let verified = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
            if verified != pending.challenge {
                return oauth_error("invalid_grant", "The code_verifier is invalid");
            }
            Grant {
                subject: Subject::Person,
                can_write: pending.scope.split(' ').all(|s| s != "root_readonly"),
                refreshable: true,
            }
        }
        "refresh_token" => match s.refresh_tokens.remove(&get("refresh_token")) {
            Some(grant) => grant,
            None => return oauth_error("invalid_grant", "Invalid refresh token"),
        },
        "client_credentials" => {
            let subject = match (get("box_subject_type").as_str(), get("box_subject_id")) {
                (SUBJECT_TYPE, id) if id == SUBJECT_ID => Subject::Service,
                ("user", id) if id == super::seed::owner()["id"] => Subject::Person,
                ("enterprise" | "user", _) => {
                    return oauth_error("invalid_grant", "Grant credentials are invalid");
                }
                _ => {
                    return oauth_error(
                        "unauthorized_client",
                        "The \"box_subject_type\" value is unauthorized for this client_id",
                    );
                }
            };
            Grant {
                subject,
                can_write: true,
                refreshable: false,
            }
        }
        _ => {
            return oauth_error(
                "unsupported_grant_type",
                "Invalid grant_type parameter or parameter missing",
            );
        }
    };
    s.counter += 1;
    let access = format!("box-access-{}", s.counter);
    s.tokens.insert(access.clone(), grant.clone());
    let mut answer = json!({
        "access_token": access,
        "expires_in": 3600,
        "restricted_to": [],
        "token_type": "bearer",
    });
    if grant.refreshable {
        let refresh = format!("box-refresh-{}", s.counter);
        s.refresh_tokens.insert(refresh.clone(), grant);
        answer["refresh_token"] = json!(refresh);
    }
    (StatusCode::OK, axum::Json(answer)).into_response()
}

/// `POST /oauth2/revoke`: revoking the access or the refresh token of a pair ends both.
pub async fn revoke(
    State(shared): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut s = lock(&shared);
    s.grants.push("revoke".to_string());
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return oauth_error("invalid_client", "The client credentials are invalid");
    }
    let token = get("token");
    // A pair shares its number: box-access-N and box-refresh-N.
    if let Some(n) = token
        .strip_prefix("box-refresh-")
        .or_else(|| token.strip_prefix("box-access-"))
    {
        s.tokens.remove(&format!("box-access-{n}"));
        s.refresh_tokens.remove(&format!("box-refresh-{n}"));
    }
    StatusCode::OK.into_response()
}
