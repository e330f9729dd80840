//! The tools against the stand-in: what `query` refuses before sending, what `execute` runs,
//! the catalog listings' quoted identifiers, results typed from `rowType`, partitions
//! followed up to the row cap, slow statements polled and cancelled, Snowflake's failures in
//! words.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_plugin_api::testing::{self, FakeCall};
use switchboard_plugin_api::{Connector, ErrorKind};

use crate::tests::{args, setup, text, tool};

fn structured(result: &switchboard_plugin_api::ToolResult) -> &Value {
    result.structured_content.as_ref().unwrap_or(&Value::Null)
}

#[test]
fn query_is_read_only_and_execute_is_asked_about() {
    let setup = setup(json!({}));
    let tools = setup.plugin.catalog().tools;
    let find = |name: &str| {
        tools
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .annotations
            .clone()
            .unwrap()
    };
    for name in [
        "query",
        "list_databases",
        "list_schemas",
        "list_tables",
        "describe_table",
        "check",
    ] {
        assert_eq!(find(name).read_only_hint, Some(true), "{name}");
    }
    let execute = find("execute");
    assert_eq!(execute.read_only_hint, Some(false));
    assert_eq!(
        (execute.destructive_hint, execute.open_world_hint),
        (Some(true), Some(true))
    );
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "query",
            "execute",
            "list_databases",
            "list_schemas",
            "list_tables",
            "describe_table",
            "sign_in",
            "check",
            "sign_out"
        ]
    );
}

#[test]
fn query_refuses_writes_and_second_statements_before_sending() {
    let setup = setup(json!({}));
    for (statement, says) in [
        (
            "DELETE FROM DOCUMENTS",
            "this statement changes data: use `execute`, which asks the person first",
        ),
        ("/* SELECT */ DROP TABLE DOCUMENTS", "use `execute`"),
        (
            "-- SELECT\nUPDATE DOCUMENTS SET TITLE = 'x'",
            "use `execute`",
        ),
        ("SELECT 1; DROP TABLE DOCUMENTS", "a second one after `;`"),
        (
            "SELECT 'a;'; DELETE FROM DOCUMENTS",
            "a second one after `;`",
        ),
        (
            "WITH a AS (SELECT 1) DELETE FROM DOCUMENTS",
            "use `execute`",
        ),
        ("SELECT 'unterminated", "never closed"),
    ] {
        let result = tool(&setup, "query", json!({"statement": statement})).unwrap();
        assert!(result.is_error, "{statement}");
        assert!(
            text(&result).contains(says),
            "{statement}: {}",
            text(&result)
        );
    }
    assert!(setup.mock.seen().is_empty(), "nothing was sent");
    let fine = tool(
        &setup,
        "query",
        json!({"statement": "select 'x; y' -- ; delete\n, 1 from x; "}),
    );
    assert!(fine.is_ok());
    assert_eq!(
        setup.mock.submitted().len(),
        1,
        "a literal and a comment did not fool it"
    );
}

#[test]
fn execute_runs_a_write_and_snowflake_refuses_two_statements() {
    let setup = setup(json!({}));
    let result = tool(
        &setup,
        "execute",
        json!({"statement": "INSERT INTO DOCUMENTS (ID) VALUES ('doc-11')"}),
    )
    .unwrap();
    assert!(!result.is_error, "{}", text(&result));
    assert!(text(&result).contains("Statement executed successfully."));
    assert_eq!(
        setup.mock.submitted()[0].body["statement"],
        "INSERT INTO DOCUMENTS (ID) VALUES ('doc-11')"
    );
    let two = tool(
        &setup,
        "execute",
        json!({"statement": "SELECT 1; SELECT 2"}),
    )
    .unwrap();
    assert!(two.is_error);
    assert!(
        text(&two).contains("error 000008") && text(&two).contains("statement count"),
        "{}",
        text(&two)
    );
}

#[test]
fn a_failing_statement_is_snowflakes_error_in_words() {
    let setup = setup(json!({}));
    let result = tool(
        &setup,
        "query",
        json!({"statement": "SELECT * FROM NO_SUCH_TABLE"}),
    )
    .unwrap();
    assert!(result.is_error);
    let said = text(&result);
    assert!(
        said.contains("Snowflake could not run the statement (error 002003, SQL state 02000)"),
        "{said}"
    );
    assert!(said.contains("does not exist or not authorized"), "{said}");
}

#[test]
fn results_are_typed_from_their_row_type() {
    let setup = setup(json!({}));
    let result = tool(
        &setup,
        "query",
        json!({"statement": "SELECT * FROM METRICS"}),
    )
    .unwrap();
    assert!(!result.is_error, "{}", text(&result));
    let rows = structured(&result);
    let names: Vec<&str> = rows["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let row = &rows["rows"][0];
    let cell = |name: &str| &row[names.iter().position(|n| *n == name).unwrap()];
    assert_eq!(cell("ID"), &json!(7));
    assert_eq!(
        cell("BIG"),
        &json!("12345678901234567890123456789012345678"),
        "38 digits exact"
    );
    assert_eq!(cell("AMOUNT"), &json!(1234.5));
    assert_eq!(cell("RATIO"), &json!(0.25));
    assert_eq!(cell("ACTIVE"), &json!(true));
    assert_eq!(cell("DAY"), &json!("2026-01-01"));
    assert_eq!(cell("AT_TIME"), &json!("12:34:56.5"));
    assert_eq!(cell("CREATED"), &json!("2026-01-01T00:00:00.123456789"));
    assert_eq!(cell("SEEN"), &json!("2026-01-01T00:00:00Z"));
    assert_eq!(cell("ZONED"), &json!("2021-03-19T09:06:59-08:00"));
    assert_eq!(cell("PAYLOAD"), &json!({"budget": 1200, "tags": ["q1"]}));
    assert_eq!(cell("RAW"), &json!("48656c6c6f"));
    assert_eq!(cell("NOTE"), &Value::Null);
    assert!(
        text(&result).contains("NULL") && text(&result).contains("1 row."),
        "{}",
        text(&result)
    );
}

#[test]
fn later_partitions_are_fetched_up_to_the_row_cap() {
    let full = setup(json!({}));
    let all = tool(&full, "query", json!({"statement": "SELECT * FROM EVENTS"})).unwrap();
    let rows = structured(&all);
    assert_eq!(rows["rows"].as_array().unwrap().len(), 25);
    assert_eq!(
        (rows["total_rows"].as_u64(), rows["truncated"].as_bool()),
        (Some(25), Some(false))
    );
    assert_eq!(rows["rows"][24][0], 25, "the last partition's last row");
    let handle = rows["statement_handle"].as_str().unwrap();
    let partitions: Vec<String> = full
        .mock
        .seen()
        .iter()
        .map(|s| s.target.clone())
        .filter(|t| t.contains("partition="))
        .collect();
    assert_eq!(
        partitions,
        [
            format!("/api/v2/statements/{handle}?partition=1"),
            format!("/api/v2/statements/{handle}?partition=2")
        ]
    );

    let capped = setup(json!({"max_rows": 12}));
    let cut = tool(
        &capped,
        "query",
        json!({"statement": "SELECT * FROM EVENTS"}),
    )
    .unwrap();
    let rows = structured(&cut);
    assert_eq!(rows["rows"].as_array().unwrap().len(), 12);
    assert_eq!(rows["truncated"], true);
    assert!(
        text(&cut).contains("Showing the first 12 of 25 rows"),
        "{}",
        text(&cut)
    );
    let fetched = capped
        .mock
        .seen()
        .iter()
        .filter(|s| s.target.contains("partition="))
        .count();
    assert_eq!(fetched, 1, "partition 2 is not fetched past the cap");
    let asked = tool(
        &capped,
        "query",
        json!({"statement": "SELECT * FROM EVENTS", "max_rows": 3}),
    )
    .unwrap();
    assert_eq!(structured(&asked)["rows"].as_array().unwrap().len(), 3);
    let over = tool(
        &capped,
        "query",
        json!({"statement": "SELECT * FROM EVENTS", "max_rows": 500}),
    )
    .unwrap();
    assert_eq!(
        structured(&over)["rows"].as_array().unwrap().len(),
        12,
        "the setting bounds the argument"
    );
}

#[test]
fn a_slow_statement_is_polled_until_done() {
    let setup = setup(json!({}));
    setup.mock.slow_polls(2);
    let call = FakeCall::new();
    let result = setup
        .plugin
        .call_tool(
            "query",
            args(json!({"statement": "SELECT SYSTEM$WAIT(1)"})),
            &testing::call(&call),
        )
        .unwrap();
    assert!(!result.is_error, "{}", text(&result));
    assert!(text(&result).contains("waited 1 seconds"));
    let handle = structured(&result)["statement_handle"]
        .as_str()
        .unwrap()
        .to_string();
    let polls = setup.mock.seen_at(&format!("/api/v2/statements/{handle}"));
    assert_eq!(polls.len(), 2, "202, then 200 at the second poll");
    assert!(polls.iter().all(|p| p.method == "GET"));
    assert!(
        call.progress()
            .iter()
            .any(|(_, _, m)| m.contains("still running"))
    );
}

#[test]
fn cancelling_a_slow_statement_cancels_it_in_snowflake() {
    let setup = setup(json!({}));
    setup.mock.slow_polls(1_000);
    let call = FakeCall::new();
    std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            setup.plugin.call_tool(
                "query",
                args(json!({"statement": "SELECT SYSTEM$WAIT(600)"})),
                &testing::call(&call),
            )
        });
        call.wait_for_progress(Duration::from_secs(10), |m| m.contains("still running"));
        call.cancel();
        let error = running.join().unwrap().unwrap_err();
        assert_eq!(error.kind, ErrorKind::CANCELLED);
    });
    let cancelled = setup.mock.cancelled();
    assert_eq!(cancelled.len(), 1);
    assert!(
        setup
            .mock
            .seen_at(&format!("/api/v2/statements/{}/cancel", cancelled[0]))
            .iter()
            .all(|s| s.method == "POST")
    );
}

#[test]
fn listings_quote_identifiers_as_snowflake_does() {
    let setup = setup(json!({}));
    let databases = tool(&setup, "list_databases", json!({})).unwrap();
    assert!(
        text(&databases).contains("SWITCHBOARD_DB"),
        "{}",
        text(&databases)
    );
    let schemas = tool(
        &setup,
        "list_schemas",
        json!({"database": "SWITCHBOARD_DB"}),
    )
    .unwrap();
    assert!(text(&schemas).contains("STAGING"), "{}", text(&schemas));
    let tables = tool(
        &setup,
        "list_tables",
        json!({"database": "SWITCHBOARD_DB", "schema": "PUBLIC"}),
    )
    .unwrap();
    assert!(text(&tables).contains("DOCUMENTS") && text(&tables).contains("EVENTS"));
    let described = tool(
        &setup,
        "describe_table",
        json!({"database": "SWITCHBOARD_DB", "schema": "PUBLIC", "table": "DOCUMENTS"}),
    )
    .unwrap();
    assert!(
        text(&described).contains("UPDATED_ON") && text(&described).contains("DATE"),
        "{}",
        text(&described)
    );
    let hostile = tool(
        &setup,
        "list_schemas",
        json!({"database": "X\"; DROP TABLE y; --"}),
    )
    .unwrap();
    assert!(
        hostile.is_error && text(&hostile).contains("002003"),
        "{}",
        text(&hostile)
    );
    let statements: Vec<String> = setup
        .mock
        .submitted()
        .iter()
        .map(|s| s.body["statement"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        statements,
        [
            "SHOW DATABASES",
            "SHOW SCHEMAS IN DATABASE \"SWITCHBOARD_DB\"",
            "SHOW TABLES IN SCHEMA \"SWITCHBOARD_DB\".\"PUBLIC\"",
            "DESCRIBE TABLE \"SWITCHBOARD_DB\".\"PUBLIC\".\"DOCUMENTS\"",
            "SHOW SCHEMAS IN DATABASE \"X\"\"; DROP TABLE y; --\"",
        ]
    );
    let control = tool(
        &setup,
        "list_tables",
        json!({"database": "A\nB", "schema": "S"}),
    )
    .unwrap();
    assert!(control.is_error && text(&control).contains("control character"));
    assert_eq!(setup.mock.submitted().len(), 5, "refused before sending");
}

#[test]
fn check_reports_who_answered() {
    let setup = setup(json!({}));
    let result = tool(&setup, "check", json!({})).unwrap();
    assert!(!result.is_error, "{}", text(&result));
    assert!(
        text(&result).contains("signed in as SWITCHBOARD with role ANALYST, warehouse COMPUTE_WH"),
        "{}",
        text(&result)
    );
    assert_eq!(
        setup.mock.submitted()[0].body["statement"],
        "SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_WAREHOUSE()"
    );
}

#[test]
fn arguments_that_do_not_fit_are_named() {
    let setup = setup(json!({}));
    let result = tool(
        &setup,
        "query",
        json!({"statement": "SELECT 1", "bogus": true}),
    )
    .unwrap();
    assert!(
        result.is_error && text(&result).contains("bogus"),
        "{}",
        text(&result)
    );
    let unknown = tool(&setup, "nope", json!({})).unwrap_err();
    assert_eq!(unknown.kind, ErrorKind::NOT_FOUND);
}
