//! The identity platform's v2.0 endpoints: `devicecode` and `token` (device code, client
//! credentials and refresh token grants), with Entra's error bodies.

// A handler's refusal is the whole answer it sends; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde_json::json;

use super::{CLIENT_ID, CLIENT_SECRET, Device, DeviceOutcome, Grant, Issued, Shared};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const TENANTS: &[&str] = &[super::TENANT, "organizations", "common", "consumers"];
const VERIFICATION_URI: &str = "https://microsoft.com/devicelogin";

/// An Entra error answer.
fn refusal(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let trace = "5e0c7a61-2a7b-4b5e-9a3f-0d8b6c1f2e00";
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: \
             9b1c6a2e-6f4d-4c1a-8e2b-7a5d3c9f1b11\r\nTimestamp: 2026-12-01 10:00:00Z"
        ),
        "error_codes": [code],
        "timestamp": "2026-12-01 10:00:00Z",
        "trace_id": trace,
        "correlation_id": "9b1c6a2e-6f4d-4c1a-8e2b-7a5d3c9f1b11",
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, Json(body)).into_response()
}

fn bad(error: &str, code: u32, description: &str) -> Response {
    refusal(StatusCode::BAD_REQUEST, error, code, description)
}

/// The tenant and the app must be known, whatever the endpoint.
fn known(tenant: &str, client_id: Option<&String>) -> Result<(), Response> {
    if !TENANTS.contains(&tenant) {
        return Err(bad(
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    }
    match client_id {
        None => Err(bad(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )),
        Some(id) if id != CLIENT_ID => Err(bad(
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{id}' was not found in the directory '{tenant}'."
            ),
        )),
        Some(_) => Ok(()),
    }
}

fn scopes_of(scope: &str) -> Vec<String> {
    scope
        .split_whitespace()
        .map(|s| {
            s.trim_start_matches("https://graph.microsoft.com/")
                .to_string()
        })
        .collect()
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`
pub async fn devicecode(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(refused) = known(&tenant, form.get("client_id")) {
        return refused;
    }
    let Some(scope) = form.get("scope").filter(|s| !s.trim().is_empty()) else {
        return bad(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    let mut state = shared.lock();
    let device_code = state.opaque("DAQABAAEAAAD--DLA3VO7QrddgJg7WevrDev");
    let user_code = format!("GR{:06}", state.counter * 7_919 % 1_000_000);
    let device = Device {
        scopes: scopes_of(scope),
        pending: state.pending_polls,
        slow_down: state.slow_down,
        outcome: state.device_outcome,
        redeemed: false,
    };
    state.devices.insert(device_code.clone(), device);
    Json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": VERIFICATION_URI,
        "expires_in": 900,
        "interval": state.device_interval,
        "message": format!("To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub async fn token(
    State(shared): State<Shared>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    shared.lock().grants.push(Grant {
        tenant: tenant.clone(),
        grant_type: grant_type.clone(),
        client_id: form.get("client_id").cloned().unwrap_or_default(),
        scope: form.get("scope").cloned(),
        with_secret: form.contains_key("client_secret"),
    });
    if let Err(refused) = known(&tenant, form.get("client_id")) {
        return refused;
    }
    match grant_type.as_str() {
        DEVICE_GRANT => device_grant(&shared, &form),
        "client_credentials" => client_credentials(&shared, &tenant, &form),
        "refresh_token" => refresh_grant(&shared, &form),
        "" => bad(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        other => bad(
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

fn device_grant(shared: &Shared, form: &HashMap<String, String>) -> Response {
    let code = form.get("device_code").cloned().unwrap_or_default();
    let mut state = shared.lock();
    let Some(device) = state.devices.get_mut(&code) else {
        return bad(
            "bad_verification_code",
            70000,
            "The provided value for the input parameter 'device_code' is not valid.",
        );
    };
    if device.redeemed {
        return bad(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code.",
        );
    }
    if device.slow_down {
        device.slow_down = false;
        return bad("slow_down", 70000, "Polling too often; slow down.");
    }
    if device.pending > 0 {
        device.pending -= 1;
        return bad(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        );
    }
    match device.outcome {
        DeviceOutcome::Decline => bad(
            "authorization_declined",
            70000,
            "The user declined the authentication request.",
        ),
        DeviceOutcome::Expire => bad("expired_token", 70019, "Verification code expired."),
        DeviceOutcome::Approve => {
            device.redeemed = true;
            let scopes = device.scopes.clone();
            drop(state);
            issue(shared, Some(scopes))
        }
    }
}

fn client_credentials(shared: &Shared, tenant: &str, form: &HashMap<String, String>) -> Response {
    if tenant != super::TENANT {
        return bad(
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        );
    }
    match form.get("client_secret") {
        None => {
            return bad(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
        Some(secret) if secret != CLIENT_SECRET => {
            return refusal(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{CLIENT_ID}'."
                ),
            );
        }
        Some(_) => {}
    }
    let scope = form.get("scope").cloned().unwrap_or_default();
    if !scope.ends_with("/.default") || scope.contains(' ') {
        return bad(
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    issue(shared, None)
}

fn refresh_grant(shared: &Shared, form: &HashMap<String, String>) -> Response {
    let presented = form.get("refresh_token").cloned().unwrap_or_default();
    let scopes = shared.lock().refresh.remove(&presented);
    match scopes {
        Some(scopes) => issue(shared, Some(scopes)),
        None => bad(
            "invalid_grant",
            70000,
            "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
        ),
    }
}

/// Tokens for a person (`scopes`) or for the app (`None`).
fn issue(shared: &Shared, scopes: Option<Vec<String>>) -> Response {
    let mut state = shared.lock();
    let lifetime = state.token_lifetime;
    let access = state.opaque("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.mock.");
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    });
    if let Some(scopes) = &scopes {
        let granted: Vec<&str> = scopes
            .iter()
            .map(String::as_str)
            .filter(|s| *s != "offline_access")
            .collect();
        body["scope"] = json!(granted.join(" "));
        if scopes.iter().any(|s| s == "offline_access") {
            let refresh = state.opaque("0.AXEA-mock-refresh.");
            state.refresh.insert(refresh.clone(), scopes.clone());
            body["refresh_token"] = json!(refresh);
        }
    }
    state.tokens.insert(
        access,
        Issued {
            scopes,
            expires_at: Instant::now() + Duration::from_secs(lifetime),
            revoked: false,
        },
    );
    Json(body).into_response()
}
