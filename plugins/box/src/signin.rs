//! The sign-in convention's tools (plugin-api's `source`): `sign_in` runs the browser
//! sign-in (authorization code with PKCE on a loopback redirect; the address goes out as
//! progress and to the browser) and keeps the tokens in the OS keyring, or checks the app's
//! client credentials; `check` asks Box who is signed in; `sign_out` revokes the kept
//! sign-in at Box and forgets it.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use switchboard_plugin_api::{Call, PluginError, ToolResult};
use switchboard_plugin_http::browser;
use switchboard_plugin_http::oauth::{App, KeptToken, TokenStore};
use switchboard_plugin_http::{HttpError, Request};

use crate::BoxSource;
use crate::api::{Api, query};
use crate::auth::{self, CLIENT_SECRET, KEPT_TOKEN, Method};
use crate::error::Failure;
use crate::tools::told;
use crate::wire::User;

/// How to sign in.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// A person signs in in the browser.
    Browser,
    /// The app signs in by itself (subject_type, subject_id, client_id, client_secret).
    ClientCredentials,
}

/// The arguments of `sign_in`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The flow; by default the one the settings call for.
    #[serde(default)]
    pub flow: Option<Flow>,
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

/// Who Box says is signed in, or the failure.
fn whoami(api: &Api, call: &Call) -> Result<User, Failure> {
    let url = api.config.api("/users/me") + &query(&[("fields", "id,name,login")]);
    api.get_json(&url, "asking Box who is signed in", call)
}

pub fn sign_in(source: &BoxSource, args: SignIn, call: &Call) -> Result<ToolResult, PluginError> {
    let method = auth::method(&source.config, &source.host)?;
    if method == Method::DeveloperToken {
        return Ok(ToolResult::text(
            "Nothing to sign in: the developer token in the source's secrets is sent as it is. \
             It lasts 60 minutes and cannot be renewed; when it expires, make a new one in the \
             Box Developer Console. Remove the developer_token secret to sign in another way.",
        ));
    }
    let flow = args.flow.unwrap_or(match method {
        Method::AppCredentials => Flow::ClientCredentials,
        _ => Flow::Browser,
    });
    match (flow, method) {
        (Flow::ClientCredentials, Method::AppCredentials) => {
            let session = source.session();
            match whoami(&source.api(&session), call) {
                Ok(user) => Ok(ToolResult::text(format!(
                    "Nothing to keep: the app signs in by itself with its client credentials, \
                     as {} ({}).",
                    user.name, user.login
                ))),
                Err(failure) => told(failure),
            }
        }
        (Flow::ClientCredentials, _) => Ok(ToolResult::error(
            "The client credentials flow needs the settings subject_type (enterprise or user), \
             subject_id and client_id, and the client_secret secret.",
        )),
        (Flow::Browser, Method::AppCredentials) => Ok(ToolResult::error(
            "This source signs in with the app's client credentials (subject_type is set); \
             remove subject_type and subject_id to sign in as a person in the browser.",
        )),
        (Flow::Browser, _) => in_browser(source, call),
    }
}

/// The browser sign-in, its tokens kept, and who it signed in.
fn in_browser(source: &BoxSource, call: &Call) -> Result<ToolResult, PluginError> {
    let config = &source.config;
    let Some(client_id) = config.client_id.clone() else {
        return Ok(ToolResult::error(
            "Set client_id to the Client ID of your Box app (Developer Console → your app → \
             Configuration → OAuth 2.0 Credentials), then sign in again.",
        ));
    };
    let Some(client_secret) = auth::secret(&source.host, CLIENT_SECRET)? else {
        return Ok(ToolResult::error(
            "Set the client_secret secret to your Box app's Client Secret (Developer Console → \
             your app → Configuration), then sign in again.",
        ));
    };
    let app = App {
        client_id,
        client_secret: Some(client_secret),
        scopes: auth::scopes(config),
    };
    let open = |url: &str| -> Result<(), HttpError> {
        call.progress(
            0.0,
            None,
            &format!("To sign in to Box, open this address in your browser: {url}"),
        );
        if config.open_browser {
            // The address was shown: a browser that does not open is not a failure.
            let _ = browser::open_in_browser(url);
        }
        Ok(())
    };
    let patience = Duration::from_secs(config.sign_in_minutes.saturating_mul(60));
    let stopped = || call.is_cancelled();
    let token = match browser::sign_in(
        &auth::plain_client(&source.host),
        &auth::endpoints(config),
        &app,
        config.redirect_port,
        &open,
        patience,
        &stopped,
    ) {
        Ok(token) => token,
        Err(HttpError::Cancelled) => return Err(Failure::Cancelled.into()),
        Err(e) => return Ok(ToolResult::error(format!("Signing in to Box failed: {e}"))),
    };
    if let Err(e) = KeptToken::new(source.host.clone(), KEPT_TOKEN).save(&token) {
        return Ok(ToolResult::error(format!(
            "Signed in, but the token could not be kept in the OS keyring: {e}"
        )));
    }
    source.renew_session()?;
    let session = source.session();
    match whoami(&source.api(&session), call) {
        Ok(user) => Ok(ToolResult::text(format!(
            "Signed in to Box as {} ({}). The sign-in is kept in the OS keyring as \
             switchboard-plugin/<home>/box/{KEPT_TOKEN} (<home> names this switchboard home); \
             `switchboard secrets list` shows the entry.",
            user.name, user.login
        ))),
        Err(failure) => told(failure),
    }
}

pub fn check(source: &BoxSource, _: Nothing, call: &Call) -> Result<ToolResult, PluginError> {
    let session = source.session();
    match whoami(&source.api(&session), call) {
        Ok(user) => Ok(ToolResult::text(format!(
            "Box answered: signed in as {} ({}, user id {}) with {}.",
            user.name,
            user.login,
            user.id,
            session.method.described()
        ))),
        Err(Failure::Cancelled) => Err(Failure::Cancelled.into()),
        Err(failure) => Ok(ToolResult::error(format!(
            "The Box check failed: {failure}"
        ))),
    }
}

pub fn sign_out(source: &BoxSource, _: Nothing, call: &Call) -> Result<ToolResult, PluginError> {
    let kept = KeptToken::new(source.host.clone(), KEPT_TOKEN);
    let token = kept.load().ok().flatten();
    let mut said = match &token {
        None => "No Box sign-in was kept; nothing to forget.".to_string(),
        Some(token) => {
            let revoked = revoke(
                source,
                token.refresh_token.as_ref().unwrap_or(&token.access_token),
                call,
            );
            kept.forget().map_err(PluginError::from)?;
            match revoked {
                Ok(()) => "Signed out of Box: the sign-in was revoked at Box and forgotten here."
                    .to_string(),
                Err(e) => format!(
                    "Signed out of Box here: the kept sign-in is forgotten, but Box did not confirm \
                     revoking it ({e}); it expires by itself, or revoke it under Box's Account \
                     Settings → Apps."
                ),
            }
        }
    };
    source.renew_session()?;
    let method = auth::method(&source.config, &source.host)?;
    if method != Method::SignedIn {
        said.push_str(&format!(
            " The source still signs in with {} from its settings and secrets; remove the source \
             (`switchboard sources remove box`) to forget those.",
            method.described()
        ));
    }
    Ok(ToolResult::text(said))
}

/// Revoke `token` at Box (`POST /oauth2/revoke`; revoking either token ends both).
fn revoke(source: &BoxSource, token: &str, call: &Call) -> Result<(), String> {
    let client_id = source.config.client_id.clone().unwrap_or_default();
    let secret = auth::secret(&source.host, CLIENT_SECRET)
        .map_err(|e| e.message.to_string())?
        .unwrap_or_default();
    let request = Request::post(source.config.revoke_url()).form(&[
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("token", token),
    ]);
    let response = auth::plain_client(&source.host)
        .send(&request, &|| call.is_cancelled())
        .map_err(|e| e.to_string())?;
    match response.status() {
        200..=299 => Ok(()),
        status => Err(format!("it answered {status}")),
    }
}
