//! Key-pair authentication's token: a JWT signed RS256 with the user's private key, whose
//! issuer names the account, the user and the SHA-256 fingerprint of the public key
//! Snowflake has on record for the user (`RSA_PUBLIC_KEY_FP` in `DESC USER`), as Snowflake's
//! key-pair authentication and its own connectors make it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::PrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How long a JWT is good for: under Snowflake's limit of one hour.
pub const LIFETIME: u64 = 59 * 60;

/// A private key ready to sign, with the names its JWTs carry.
pub struct KeyPair {
    key: SigningKey<Sha256>,
    /// `ACCOUNT.USER`.
    subject: String,
    /// `ACCOUNT.USER.SHA256:<fingerprint>`.
    issuer: String,
}

/// The JWT's claims.
#[derive(Debug, Serialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
}

/// The account as a JWT names it: up to the first `.` (an account locator's region is not
/// part of it; for a `.global` name, up to the first `-`), upper-cased.
pub fn jwt_account(account: &str) -> String {
    let cut = if account.contains(".global") {
        account.find('-')
    } else {
        account.find('.')
    };
    let account = match cut {
        Some(at) if at > 0 => &account[..at],
        _ => account,
    };
    account.to_uppercase()
}

/// `SHA256:` and the base64 of the SHA-256 of the public key's DER SubjectPublicKeyInfo.
pub fn fingerprint(public_key_der: &[u8]) -> String {
    format!("SHA256:{}", STANDARD.encode(Sha256::digest(public_key_der)))
}

/// A PEM block as PEM readers want it, from one that lost its line breaks on the way into a
/// one-line secret (`-----BEGIN PRIVATE KEY----- MIIE… -----END PRIVATE KEY-----`, or with
/// literal `\n`): the label lines on their own, the base64 in lines of 64.
fn unflatten(pem: &str) -> String {
    let pem = pem.trim().replace("\\n", "\n");
    if pem.lines().count() > 1 {
        return pem;
    }
    let Some(after_begin) = pem.strip_prefix("-----BEGIN ") else {
        return pem;
    };
    let Some(label_end) = after_begin.find("-----") else {
        return pem;
    };
    let label = &after_begin[..label_end];
    let footer = format!("-----END {label}-----");
    let Some(body) = after_begin[label_end + 5..].strip_suffix(footer.as_str()) else {
        return pem;
    };
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect();
    format!("-----BEGIN {label}-----\n{}\n{footer}", lines.join("\n"))
}

impl KeyPair {
    /// Read a PKCS#8 PEM private key (`BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY`
    /// with `passphrase`) for `user` of `account`. The message says what is wrong with the
    /// key, never what it holds.
    pub fn from_pem(
        pem: &str,
        passphrase: Option<&str>,
        account: &str,
        user: &str,
    ) -> Result<Self, String> {
        let pem = &unflatten(pem);
        let key = if pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            let Some(passphrase) = passphrase else {
                return Err("the private key is encrypted: set the secret \
                            private_key_passphrase to its passphrase"
                    .to_string());
            };
            PrivateKey::from_pkcs8_encrypted_pem(pem, passphrase).map_err(|_| {
                "the private key could not be decrypted: check the secret \
                 private_key_passphrase"
                    .to_string()
            })?
        } else if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            PrivateKey::from_pkcs8_pem(pem).map_err(|e| {
                format!("the secret private_key is not a readable PKCS#8 RSA key ({e})")
            })?
        } else if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            return Err(
                "the secret private_key is a PKCS#1 key: convert it to PKCS#8 with \
                        `openssl pkcs8 -topk8 -nocrypt -in rsa_key.pem -out rsa_key.p8`"
                    .to_string(),
            );
        } else {
            return Err(
                "the secret private_key is not a PEM private key (it must start \
                        with -----BEGIN PRIVATE KEY-----)"
                    .to_string(),
            );
        };
        let public = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| format!("the public key could not be encoded ({e})"))?;
        let subject = format!("{}.{}", jwt_account(account), user.to_uppercase());
        let issuer = format!("{subject}.{}", fingerprint(public.as_bytes()));
        Ok(Self {
            key: SigningKey::new(key),
            subject,
            issuer,
        })
    }

    /// The issuer its JWTs carry.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The claims of a JWT made at `now` (seconds since the epoch).
    pub fn claims(&self, now: u64) -> Claims {
        Claims {
            iss: self.issuer.clone(),
            sub: self.subject.clone(),
            iat: now,
            exp: now + LIFETIME,
        }
    }

    /// A signed JWT for `claims`.
    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
        let signature = self
            .key
            .try_sign(signing_input.as_bytes())
            .map_err(|e| format!("the JWT could not be signed ({e})"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../testdata/key.pem");
    const ENCRYPTED: &str = include_str!("../testdata/key.encrypted.pem");
    /// `openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | base64` of KEY.
    const KEY_FP: &str = "SHA256:rQaq+MxeTYOqkG8O0T7aDKYW4CWITQfYS7LiSAoZ+gE=";

    #[test]
    fn the_account_is_cut_and_upper_cased_as_snowflake_documents() {
        assert_eq!(jwt_account("testorg-test"), "TESTORG-TEST");
        assert_eq!(jwt_account("xy12345.eu-central-1"), "XY12345");
        assert_eq!(jwt_account("xy12345.us-east-2.aws"), "XY12345");
        assert_eq!(jwt_account("myorg-acct.global"), "MYORG");
    }

    #[test]
    fn the_issuer_carries_the_fingerprint_openssl_computes() {
        let pair = KeyPair::from_pem(KEY, None, "testorg-test", "switchboard").unwrap();
        assert_eq!(pair.issuer(), format!("TESTORG-TEST.SWITCHBOARD.{KEY_FP}"));
        let claims = pair.claims(1_000);
        assert_eq!(claims.sub, "TESTORG-TEST.SWITCHBOARD");
        assert_eq!((claims.iat, claims.exp), (1_000, 1_000 + LIFETIME));
        const { assert!(LIFETIME <= 3_600) };
        let token = pair.sign(&claims).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        let body: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(body["iss"], pair.issuer());
    }

    #[test]
    fn an_encrypted_key_needs_its_passphrase() {
        let plain = KeyPair::from_pem(KEY, None, "a", "u").unwrap();
        let opened = KeyPair::from_pem(ENCRYPTED, Some("correct-horse"), "a", "u").unwrap();
        assert_eq!(plain.issuer(), opened.issuer());
        let missing = KeyPair::from_pem(ENCRYPTED, None, "a", "u").err().unwrap();
        assert!(missing.contains("private_key_passphrase"), "{missing}");
        let wrong = KeyPair::from_pem(ENCRYPTED, Some("battery"), "a", "u")
            .err()
            .unwrap();
        assert!(wrong.contains("could not be decrypted"), "{wrong}");
    }

    #[test]
    fn a_key_flattened_into_one_line_still_reads() {
        let plain = KeyPair::from_pem(KEY, None, "a", "u").unwrap();
        let spaced = KEY.trim().replace('\n', " ");
        let escaped = KEY.trim().replace('\n', "\\n");
        for flat in [spaced, escaped] {
            let pair = KeyPair::from_pem(&flat, None, "a", "u").unwrap();
            assert_eq!(pair.issuer(), plain.issuer());
        }
    }

    #[test]
    fn keys_in_other_forms_are_refused_without_showing_them() {
        let pkcs1 =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretbits\n-----END RSA PRIVATE KEY-----";
        let said = KeyPair::from_pem(pkcs1, None, "a", "u").err().unwrap();
        assert!(said.contains("openssl pkcs8 -topk8"), "{said}");
        assert!(!said.contains("secretbits"));
        let junk = KeyPair::from_pem("hunter2", None, "a", "u").err().unwrap();
        assert!(junk.contains("not a PEM private key") && !junk.contains("hunter2"));
        let broken = KEY.replace("MII", "MIX");
        let said = KeyPair::from_pem(&broken, None, "a", "u").err().unwrap();
        assert!(said.contains("not a readable PKCS#8"), "{said}");
    }
}
