//! The connector driven as the host drives it (`FakeHost`, `search`, `fetch`, `call_tool`)
//! against the Snowflake stand-in, checking what came back and what the stand-in was sent:
//! the shared setup, the settings, the data source (search, fetch, bound ids) and the
//! retries (Retry-After, cancellation) here; the credentials in
//! [`auth_tests`](crate::auth_tests), the tools and statements in
//! [`tools_tests`](crate::tools_tests).

use std::time::{Duration, Instant};

use abi_stable::std_types::RArc;
use serde_json::{Value, json};
use switchboard_mocks::snowflake::{self, SnowflakeMock};
use switchboard_plugin_api::model::{JsonObject, SearchRequest, ToolResult};
use switchboard_plugin_api::testing::{self, FakeCall, FakeHost};
use switchboard_plugin_api::{Connector, ErrorKind, PluginError};
use switchboard_plugin_http::Retry;

use crate::Snowflake;

pub const KEY: &str = include_str!("../testdata/key.pem");
pub const PUBLIC_KEY: &str = include_str!("../testdata/key.pub.pem");
pub const ENCRYPTED_KEY: &str = include_str!("../testdata/key.encrypted.pem");
pub const OTHER_KEY: &str = include_str!("../testdata/other.pem");

/// A connector pointed at a fresh stand-in.
pub struct Setup {
    pub mock: SnowflakeMock,
    pub host: RArc<FakeHost>,
    pub plugin: Snowflake,
}

/// Settings for the stand-in with a search section, `extra` laid over them.
pub fn settings(mock: &SnowflakeMock, extra: Value) -> Value {
    let mut config = json!({
        "account": snowflake::ACCOUNT,
        "user": snowflake::USER,
        "api_url": mock.api_url(),
        "auth_url": mock.api_url(),
        "warehouse": snowflake::WAREHOUSE,
        "database": snowflake::DATABASE,
        "schema": snowflake::SCHEMA,
        "role": snowflake::ROLE,
        "statement_timeout": 30,
        "search": {
            "service": snowflake::SEARCH_SERVICE,
            "id_column": "ID",
            "title_column": "TITLE",
            "text_column": "BODY",
            "table": "DOCUMENTS",
        },
    });
    if let (Some(base), Value::Object(extra)) = (config.as_object_mut(), extra) {
        for (key, value) in extra {
            base.insert(key, value);
        }
    }
    config
}

/// Waits short enough for a test, long enough to honour a `Retry-After` of 1 s.
pub fn quick() -> Retry {
    Retry {
        attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_wait: Duration::from_secs(20),
    }
}

/// The connector with the PAT (or, with `auth: key_pair` in `extra`, the fixture key).
pub fn setup(extra: Value) -> Setup {
    let mock = snowflake::start();
    let host = FakeHost::new(std::env::temp_dir());
    host.set_secret("token", snowflake::PAT);
    let config = settings(&mock, extra);
    let plugin = Snowflake::new(testing::host(&host), config)
        .unwrap_or_else(|e| panic!("the connector did not start: {}", e.message))
        .with_retry(quick());
    Setup { mock, host, plugin }
}

/// The connector signing in with the fixture key pair, its public key registered.
pub fn key_pair_setup(private_key: &str) -> Setup {
    let setup = setup(json!({"auth": "key_pair"}));
    setup.host.set_secret("private_key", private_key);
    setup.mock.register_key(snowflake::USER, PUBLIC_KEY);
    setup
}

pub fn args(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

pub fn tool(setup: &Setup, name: &str, arguments: Value) -> Result<ToolResult, PluginError> {
    let call = FakeCall::new();
    setup
        .plugin
        .call_tool(name, args(arguments), &testing::call(&call))
}

pub fn text(result: &ToolResult) -> String {
    result
        .content
        .iter()
        .map(|c| match c {
            switchboard_plugin_api::model::Content::Text { text } => text.clone(),
            _ => String::new(),
        })
        .collect()
}

/// Nothing secret in the host's log, and nothing kept in the keyring.
pub fn assert_no_secret_leaked(setup: &Setup) {
    for (_, line) in setup.host.logs() {
        for secret in [snowflake::PAT, "PRIVATE KEY", "Bearer", "eyJ"] {
            assert!(!line.contains(secret), "a log line holds a secret: {line}");
        }
    }
    for name in ["token", "private_key", "jwt", "access_token"] {
        assert_eq!(setup.host.kept(name), None, "{name} was kept");
    }
}

fn search(
    setup: &Setup,
    query: &str,
    limit: u32,
) -> Result<Vec<switchboard_plugin_api::model::SearchHit>, PluginError> {
    let call = FakeCall::new();
    let request = SearchRequest {
        query: query.to_string(),
        limit,
    };
    setup.plugin.search(request, &testing::call(&call))
}

const SEARCH_PATH: &str =
    "/api/v2/databases/SWITCHBOARD_DB/schemas/PUBLIC/cortex-search-services/DOCS_SEARCH:query";

#[test]
fn the_manifest_declares_an_opt_in_data_source_and_its_secrets() {
    let manifest = Snowflake::manifest();
    assert_eq!(manifest.name, "snowflake");
    assert_eq!(
        manifest.data_source.map(|d| d.label).as_deref(),
        Some("Snowflake")
    );
    assert!(!manifest.load_by_default, "opt-in");
    let secrets: Vec<String> = manifest.secrets.iter().map(|s| s.name.clone()).collect();
    assert_eq!(secrets, ["token", "private_key", "private_key_passphrase"]);
    let properties = &manifest.config_schema["properties"];
    for key in [
        "account",
        "user",
        "api_url",
        "auth_url",
        "warehouse",
        "auth",
        "statement_timeout",
        "max_rows",
        "search",
    ] {
        assert!(
            properties.get(key).is_some(),
            "{key} missing from the schema"
        );
    }
    assert_eq!(manifest.config_schema["additionalProperties"], false);
}

#[test]
fn settings_that_cannot_work_are_refused_naming_the_setting() {
    let host = FakeHost::new(std::env::temp_dir());
    for (config, says) in [
        (json!({}), "set account"),
        (json!({"account": "a", "auth": "key_pair"}), "needs user"),
        (json!({"account": "a b"}), "not an account identifier"),
        (
            json!({"api_url": "ftp://x"}),
            "api_url must be an http(s) URL",
        ),
        (
            json!({"account": "a", "search": {"service": "S"}}),
            "search needs a database and a schema",
        ),
        (
            json!({"account": "a", "search": {"database": "D", "schema": "S"}}),
            "search.service",
        ),
        (json!({"account": "a", "role": "R\nX"}), "role: "),
        (json!({"account": "a", "max_rows": 0}), "max_rows"),
        (json!({"account": "a", "bogus": 1}), "unknown field"),
    ] {
        let Some(error) = Snowflake::new(testing::host(&host), config.clone()).err() else {
            panic!("{config} was taken");
        };
        assert_eq!(error.kind, ErrorKind::INVALID_INPUT, "{config}");
        assert!(error.message.contains(says), "{config}: {}", error.message);
    }
    let plugin = Snowflake::new(testing::host(&host), json!({"account": "myorg-acct"})).unwrap();
    assert_eq!(
        plugin.api().base(),
        "https://myorg-acct.snowflakecomputing.com"
    );
    assert_eq!(plugin.config().statement_timeout, 60);
    let derived = Snowflake::new(
        testing::host(&host),
        json!({"auth": "key_pair", "user": "u", "api_url": "https://proxy.example", "auth_url": "https://org-acct.snowflakecomputing.com"}),
    )
    .unwrap();
    assert_eq!(
        derived.config().jwt_account().as_deref(),
        Some("org-acct"),
        "account read from auth_url"
    );
}

#[test]
fn search_asks_the_cortex_search_service_and_maps_its_results() {
    let setup = setup(json!({}));
    let hits = search(&setup, "budget", 3).unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "the limit is passed: {ids:?}");
    let all = search(&setup, "budget", 10).unwrap();
    assert_eq!(all.len(), 4, "four documents mention budget");
    let proposal = all.iter().find(|h| h.id == "doc-01").unwrap();
    assert_eq!(proposal.title, "FY2027 budget proposal");
    assert!(
        proposal
            .snippet
            .as_deref()
            .unwrap()
            .contains("proposed budget")
    );
    let seen = setup.mock.seen_at(SEARCH_PATH);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {}", snowflake::PAT).as_str())
    );
    assert_eq!(
        setup.mock.searches()[0],
        json!({"query": "budget", "columns": ["ID", "TITLE", "BODY"], "limit": 3})
    );
    assert_no_secret_leaked(&setup);
}

#[test]
fn search_without_a_search_section_says_to_configure_it_and_sends_nothing() {
    let setup = setup(json!({"search": null}));
    let error = search(&setup, "budget", 5).unwrap_err();
    assert_eq!(error.kind, ErrorKind::UNSUPPORTED);
    assert!(
        error.message.contains("set search.service"),
        "{}",
        error.message
    );
    assert!(setup.mock.seen().is_empty());
}

#[test]
fn a_service_name_cannot_steer_the_request_elsewhere() {
    let setup = setup(json!({"search": {
        "database": "SWITCHBOARD_DB", "schema": "PUBLIC",
        "service": "../../../statements?x=", "id_column": "ID",
    }}));
    let error = search(&setup, "budget", 5).unwrap_err();
    assert_eq!(error.kind, ErrorKind::NOT_FOUND, "{}", error.message);
    assert!(
        error.message.contains("no Cortex Search service"),
        "{}",
        error.message
    );
    let seen = setup.mock.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].target,
        "/api/v2/databases/SWITCHBOARD_DB/schemas/PUBLIC/cortex-search-services/..%2F..%2F..%2Fstatements%3Fx%3D:query"
    );
    assert!(
        setup.mock.submitted().is_empty(),
        "nothing reached the statements endpoint"
    );
}

#[test]
fn a_cancelled_search_sends_nothing() {
    let setup = setup(json!({}));
    let call = FakeCall::new();
    call.cancel();
    let request = SearchRequest {
        query: "budget".into(),
        limit: 5,
    };
    let error = setup
        .plugin
        .search(request, &testing::call(&call))
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::CANCELLED);
    assert!(setup.mock.seen().is_empty());
}

#[test]
fn fetch_reads_the_row_by_a_bound_key() {
    let setup = setup(json!({}));
    let call = FakeCall::new();
    let document = setup.plugin.fetch("doc-02", &testing::call(&call)).unwrap();
    assert_eq!(document.id, "doc-02");
    assert_eq!(document.title, "Q3 marketing budget review");
    assert!(
        document
            .text
            .contains("TITLE: Q3 marketing budget review\n"),
        "{}",
        document.text
    );
    assert!(
        document.text.contains("UPDATED_ON: 2025-11-10\n"),
        "a date typed: {}",
        document.text
    );
    assert_eq!(document.metadata["row"]["AUTHOR"], "Ben Okafor");
    let submitted = setup.mock.submitted();
    assert_eq!(submitted.len(), 1);
    let sent = &submitted[0];
    assert_eq!(
        sent.body["statement"],
        "SELECT * FROM \"SWITCHBOARD_DB\".\"PUBLIC\".\"DOCUMENTS\" WHERE \"ID\" = ?"
    );
    assert_eq!(
        sent.body["bindings"],
        json!({"1": {"type": "TEXT", "value": "doc-02"}})
    );
    assert_eq!(sent.body["warehouse"], snowflake::WAREHOUSE);
    assert_eq!(sent.body["role"], snowflake::ROLE);
    assert_eq!(sent.body["timeout"], 30);
    assert!(
        sent.body.get("parameters").is_none(),
        "no MULTI_STATEMENT_COUNT"
    );
    assert_eq!(sent.accept.as_deref(), Some("application/json"));
    assert_eq!(
        sent.token_type.as_deref(),
        Some("PROGRAMMATIC_ACCESS_TOKEN")
    );
    assert!(
        sent.user_agent
            .as_deref()
            .unwrap()
            .starts_with("switchboard-snowflake/")
    );
    let id = sent.request_id.as_deref().unwrap();
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "requestId is a UUID: {id}"
    );
    assert!(!sent.retry);
}

#[test]
fn hostile_ids_stay_bind_values_or_are_refused() {
    let setup = setup(json!({}));
    for id in [
        "doc-01' OR '1'='1",
        "../../api/v2/statements",
        "doc-01?retry=true&x=1",
        "\"ID\" OR 1=1 --",
    ] {
        let call = FakeCall::new();
        let error = setup.plugin.fetch(id, &testing::call(&call)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::NOT_FOUND, "{id}: {}", error.message);
        assert!(error.message.contains("search again"), "{}", error.message);
        let last = setup.mock.submitted().pop().unwrap();
        assert_eq!(last.body["bindings"]["1"]["value"], id);
        assert!(!last.body["statement"].as_str().unwrap().contains(id));
    }
    for target in setup.mock.seen().iter().map(|s| &s.target) {
        assert!(
            target.starts_with("/api/v2/statements?requestId="),
            "{target}"
        );
    }
    let before = setup.mock.seen().len();
    for id in ["", "doc\n01", &"x".repeat(2_000)] {
        let call = FakeCall::new();
        let error = setup.plugin.fetch(id, &testing::call(&call)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::INVALID_INPUT, "{id:?}");
    }
    assert_eq!(setup.mock.seen().len(), before, "refused before sending");
}

#[test]
fn a_throttled_statement_waits_for_retry_after_and_resubmits_with_the_same_request_id() {
    let setup = setup(json!({}));
    setup.mock.throttle(1, 1);
    let call = FakeCall::new();
    let started = Instant::now();
    let document = setup.plugin.fetch("doc-01", &testing::call(&call)).unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(document.id, "doc-01");
    let seen = setup.mock.seen_at("/api/v2/statements");
    assert_eq!(seen.len(), 2, "{seen:?}");
    let first = seen[0].target.clone();
    assert!(!first.contains("retry=true"));
    assert_eq!(
        seen[1].target,
        format!("{first}&retry=true"),
        "same requestId, marked as a retry"
    );
    assert!(
        call.progress()
            .iter()
            .any(|(_, _, m)| m.contains("429") && m.contains("1 s")),
        "{:?}",
        call.progress()
    );
}

#[test]
fn throttling_that_never_ends_is_a_clear_error() {
    let setup = setup(json!({}));
    setup.mock.throttle(10, 1);
    let error = search(&setup, "budget", 5).unwrap_err();
    assert!(error.message.contains("throttling"), "{}", error.message);
    assert_eq!(setup.mock.seen().len(), quick().attempts as usize);
}

#[test]
fn a_cancellation_cuts_a_throttled_wait_short() {
    let setup = setup(json!({}));
    setup.mock.throttle(1, 15);
    let call = FakeCall::new();
    let started = Instant::now();
    std::thread::scope(|scope| {
        let running = scope.spawn(|| setup.plugin.fetch("doc-01", &testing::call(&call)));
        call.wait_for_progress(Duration::from_secs(10), |m| m.contains("trying again"));
        call.cancel();
        let error = running.join().unwrap().unwrap_err();
        assert_eq!(error.kind, ErrorKind::CANCELLED);
    });
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "did not wait out the 15 s"
    );
    assert_eq!(setup.mock.seen().len(), 1);
}

#[test]
fn a_search_snowflake_rejects_says_what_it_said_and_what_to_check() {
    let setup = setup(json!({"search": {
        "database": "SWITCHBOARD_DB", "schema": "PUBLIC", "service": "DOCS_SEARCH",
        "id_column": "ID", "columns": ["ID", "NOPE"],
    }}));
    let error = search(&setup, "budget", 5).unwrap_err();
    assert!(
        error.message.contains(
            "Cortex Search answered 400: Column NOPE is not in the service's source query"
        ),
        "{}",
        error.message
    );
    assert!(error.message.contains("check the search settings"));
    let empty = search(&setup, "   ", 5).unwrap_err();
    assert_eq!(empty.kind, ErrorKind::INVALID_INPUT);
    assert_eq!(setup.mock.seen().len(), 1, "an empty query is not sent");
}
