//! Who a request is: the `Authorization: Bearer` header read by its
//! `X-Snowflake-Authorization-Token-Type`, a programmatic access token compared with the fixed
//! one, a key-pair JWT verified as Snowflake does (RS256 over the public key registered for
//! the user, `iss` = `ACCOUNT.USER.SHA256:<fingerprint>`, `sub` = `ACCOUNT.USER`, `exp` in the
//! future and at most an hour after `iat`). A refusal is `401` with Snowflake's error body.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::PublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::sha2::{Digest, Sha256};
use rsa::signature::Verifier;
use serde_json::Value;

/// A key registered for a user (`ALTER USER … SET RSA_PUBLIC_KEY`).
pub struct Registered {
    pub fingerprint: String,
    pub key: VerifyingKey<Sha256>,
}

/// Read a public key PEM and its fingerprint (`SHA256:` + base64 of the DER's SHA-256).
pub fn register(pem: &str) -> Result<Registered, String> {
    let key =
        PublicKey::from_public_key_pem(pem).map_err(|e| format!("not a public key PEM: {e}"))?;
    let der = key.to_public_key_der().map_err(|e| e.to_string())?;
    Ok(Registered {
        fingerprint: format!("SHA256:{}", STANDARD.encode(Sha256::digest(der.as_bytes()))),
        key: VerifyingKey::new(key),
    })
}

/// How a request identified itself.
#[derive(Clone, Debug, PartialEq)]
pub enum Caller {
    /// The fixed programmatic access token.
    Pat,
    /// A valid key-pair JWT of this user.
    Jwt(String),
}

/// Why a request was refused: Snowflake's code and the reason (the message says only what
/// Snowflake's does; the reason is for the tests).
pub struct Refused {
    pub code: &'static str,
    pub message: &'static str,
    pub reason: String,
}

fn refuse(code: &'static str, message: &'static str, reason: impl Into<String>) -> Refused {
    Refused {
        code,
        message,
        reason: reason.into(),
    }
}

const JWT_INVALID: &str = "JWT token is invalid.";
const PAT_INVALID: &str = "Programmatic access token is invalid.";

/// Check the request's credential.
pub fn identify(
    headers: &HeaderMap,
    pat: &str,
    account: &str,
    keys: &HashMap<String, Registered>,
) -> Result<Caller, Refused> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(token) = header("authorization").and_then(|v| v.strip_prefix("Bearer ")) else {
        return Err(refuse(
            "390101",
            "Authorization header not found for the request or the format is invalid.",
            "no bearer token",
        ));
    };
    match header("x-snowflake-authorization-token-type") {
        Some("PROGRAMMATIC_ACCESS_TOKEN") if token == pat => Ok(Caller::Pat),
        Some("PROGRAMMATIC_ACCESS_TOKEN") => {
            Err(refuse("390303", PAT_INVALID, "not the fixed token"))
        }
        Some("KEYPAIR_JWT") => verify(token, account, keys)
            .map(Caller::Jwt)
            .map_err(|reason| refuse("390144", JWT_INVALID, reason)),
        other => Err(refuse(
            "390303",
            "Invalid OAuth access token.",
            format!("token type {other:?}"),
        )),
    }
}

fn part(segment: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| format!("base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("json: {e}"))
}

/// The user of a valid JWT, or why it is not.
fn verify(
    token: &str,
    account: &str,
    keys: &HashMap<String, Registered>,
) -> Result<String, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err("not three segments".to_string());
    };
    if part(header)?["alg"] != "RS256" {
        return Err("alg is not RS256".to_string());
    }
    let claims = part(claims)?;
    let sub = claims["sub"].as_str().ok_or("no sub")?;
    let (sub_account, user) = sub.split_once('.').ok_or("sub is not ACCOUNT.USER")?;
    if sub_account != account.to_uppercase() {
        return Err(format!("sub names account {sub_account}"));
    }
    let registered = keys
        .get(user)
        .ok_or_else(|| format!("no key registered for {user}"))?;
    if claims["iss"].as_str() != Some(&format!("{sub}.{}", registered.fingerprint)) {
        return Err("iss does not carry the registered key's fingerprint".to_string());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let (iat, exp) = (
        claims["iat"].as_u64().ok_or("no iat")?,
        claims["exp"].as_u64().ok_or("no exp")?,
    );
    if exp <= now {
        return Err("expired".to_string());
    }
    if exp.saturating_sub(iat) > 3_600 || iat > now + 60 {
        return Err("lifetime over an hour, or issued in the future".to_string());
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| format!("signature base64url: {e}"))?;
    let signature =
        Signature::try_from(signature.as_slice()).map_err(|e| format!("signature: {e}"))?;
    registered
        .key
        .verify(format!("{header}.{}", parts[1]).as_bytes(), &signature)
        .map_err(|_| "the signature does not verify with the registered key".to_string())?;
    Ok(user.to_string())
}
