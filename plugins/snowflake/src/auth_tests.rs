//! The credentials against the stand-in: a programmatic access token refused (no second
//! try, a sentence saying what to do), a missing secret named, a key-pair JWT verified by the
//! stand-in, made again exactly once when refused, an unknown key refused after that one
//! renewal, an encrypted key opened with its passphrase, and the sign-in convention's tools.

use serde_json::json;
use switchboard_mocks::snowflake;
use switchboard_plugin_api::Connector;
use switchboard_plugin_api::testing::{self, FakeCall};

use crate::tests::{
    ENCRYPTED_KEY, KEY, OTHER_KEY, assert_no_secret_leaked, key_pair_setup, setup, text, tool,
};

#[test]
fn a_refused_programmatic_access_token_is_not_retried_and_says_what_to_do() {
    let setup = setup(json!({}));
    setup.mock.refuse_next(1);
    let result = tool(&setup, "check", json!({})).unwrap();
    assert!(result.is_error);
    let said = text(&result);
    assert!(said.contains("the token was refused"), "{said}");
    assert!(
        said.contains("390303") && said.contains("switchboard sources add snowflake"),
        "{said}"
    );
    assert!(!said.contains(snowflake::PAT));
    assert_eq!(
        setup.mock.seen().len(),
        1,
        "a token cannot be renewed: no second try"
    );
    assert_no_secret_leaked(&setup);
}

#[test]
fn a_missing_token_says_which_secret_to_set_and_sends_nothing() {
    let setup = setup(json!({}));
    setup.host.set_secret("token", "");
    let result = tool(&setup, "check", json!({})).unwrap();
    assert!(result.is_error);
    assert!(
        text(&result).contains("the secret `token`"),
        "{}",
        text(&result)
    );
    assert!(setup.mock.seen().is_empty());
}

#[test]
fn key_pair_sign_in_sends_a_jwt_the_service_verifies() {
    let setup = key_pair_setup(KEY);
    let result = tool(&setup, "check", json!({})).unwrap();
    assert!(
        !result.is_error,
        "{} {:?}",
        text(&result),
        setup.mock.refusals()
    );
    assert!(
        text(&result).contains("signed in as SWITCHBOARD"),
        "{}",
        text(&result)
    );
    let sent = &setup.mock.submitted()[0];
    assert_eq!(sent.token_type.as_deref(), Some("KEYPAIR_JWT"));
    tool(&setup, "check", json!({})).unwrap();
    assert_eq!(
        setup.plugin.api().auth().minted(),
        1,
        "the JWT is reused while fresh"
    );
    assert_no_secret_leaked(&setup);
}

#[test]
fn a_refused_jwt_is_made_again_once_and_the_statement_resubmitted() {
    let setup = key_pair_setup(KEY);
    setup.mock.refuse_next(1);
    let call = FakeCall::new();
    let document = setup.plugin.fetch("doc-03", &testing::call(&call)).unwrap();
    assert_eq!(document.title, "Warehouse sizing guide");
    let seen = setup.mock.seen_at("/api/v2/statements");
    assert_eq!(seen.len(), 2, "one refusal, one retry");
    assert_eq!(seen[1].target, format!("{}&retry=true", seen[0].target));
    assert_eq!(setup.plugin.api().auth().minted(), 2, "one new JWT");
    assert_eq!(setup.mock.refusals(), ["refused by the switch"]);
}

#[test]
fn a_key_snowflake_does_not_know_is_refused_after_one_new_jwt() {
    let setup = key_pair_setup(OTHER_KEY);
    let result = tool(&setup, "check", json!({})).unwrap();
    assert!(result.is_error);
    let said = text(&result);
    assert!(
        said.contains("key-pair JWT")
            && said.contains("390144")
            && said.contains("RSA_PUBLIC_KEY_FP"),
        "{said}"
    );
    assert_eq!(setup.mock.seen().len(), 2, "exactly one renewal");
    assert!(
        setup
            .mock
            .refusals()
            .iter()
            .all(|r| r.contains("fingerprint")),
        "{:?}",
        setup.mock.refusals()
    );
}

#[test]
fn an_encrypted_key_signs_in_with_its_passphrase() {
    let setup = key_pair_setup(ENCRYPTED_KEY);
    let missing = tool(&setup, "check", json!({})).unwrap();
    assert!(
        text(&missing).contains("private_key_passphrase"),
        "{}",
        text(&missing)
    );
    assert!(setup.mock.seen().is_empty());
    setup
        .host
        .set_secret("private_key_passphrase", "correct-horse");
    let result = tool(&setup, "check", json!({})).unwrap();
    assert!(!result.is_error, "{}", text(&result));
}

#[test]
fn sign_in_and_sign_out_say_nothing_is_interactive_or_kept() {
    let setup = setup(json!({}));
    let signed_in = tool(&setup, "sign_in", json!({"flow": "device_code"})).unwrap();
    assert!(!signed_in.is_error);
    assert!(
        text(&signed_in).contains("Nothing interactive is needed"),
        "{}",
        text(&signed_in)
    );
    assert!(text(&signed_in).contains("secret `token`"));
    let out = tool(&setup, "sign_out", json!({})).unwrap();
    assert!(text(&out).contains("keeps no tokens"), "{}", text(&out));
    let keyed = key_pair_setup(KEY);
    keyed.host.set_secret("private_key", "");
    let unset = tool(&keyed, "sign_in", json!({})).unwrap();
    assert!(
        unset.is_error && text(&unset).contains("secret `private_key`"),
        "{}",
        text(&unset)
    );
    assert!(
        setup.mock.seen().is_empty() && keyed.mock.seen().is_empty(),
        "no live call"
    );
}
