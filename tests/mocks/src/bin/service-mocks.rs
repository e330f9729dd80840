//! Runs the three stand-ins (Graph, Box, Snowflake) on loopback for the benchmark scripts and
//! for trying the connectors by hand: prints one JSON line naming each connector's settings
//! and the fixed credentials, then serves until standard input closes.
//!
//! ```text
//! service-mocks            # free ports
//! service-mocks 7001       # Graph on 7001, Box on 7002, Snowflake on 7003
//! ```

use std::io::Read;

use serde_json::json;
use switchboard_mocks::{box_api, graph, snowflake};

fn main() {
    let base: Option<u16> = match std::env::args().nth(1).map(|a| a.parse()) {
        None => None,
        Some(Ok(port)) => Some(port),
        Some(Err(e)) => {
            eprintln!("service-mocks: the first port must be a number: {e}");
            std::process::exit(2);
        }
    };
    let graph = match graph::start_on(base) {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("service-mocks: the Graph stand-in could not start: {e}");
            std::process::exit(1);
        }
    };
    let boxed = match base {
        Some(port) => box_api::start_on(port + 1),
        None => box_api::start(),
    };
    let flake = match base {
        Some(port) => snowflake::start_on(port + 2),
        None => snowflake::start(),
    };
    let settings = json!({
        "outlook": {
            "config": {"api_url": graph.url("/v1.0"), "auth_url": graph.url(""),
                       "tenant": graph::TENANT, "client_id": graph::CLIENT_ID,
                       "mailbox": graph::MAILBOX},
            "secrets": {"client_secret": graph::CLIENT_SECRET},
        },
        "box": {
            "config": {"api_url": boxed.api_url(), "upload_url": boxed.upload_url(),
                       "auth_url": boxed.auth_url(), "token_url": boxed.token_url()},
            "secrets": {"developer_token": box_api::DEVELOPER_TOKEN},
        },
        "snowflake": {
            "config": {"account": snowflake::ACCOUNT, "user": snowflake::USER,
                       "api_url": flake.api_url(), "auth_url": flake.api_url(),
                       "warehouse": snowflake::WAREHOUSE, "database": snowflake::DATABASE,
                       "schema": snowflake::SCHEMA, "role": snowflake::ROLE,
                       "search": {"service": snowflake::SEARCH_SERVICE, "id_column": "ID",
                                  "title_column": "TITLE", "text_column": "BODY",
                                  "table": "DOCUMENTS"}},
            "secrets": {"token": snowflake::PAT},
        },
    });
    println!("{settings}");
    // Serve until whoever started us closes our input (or ends).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop((graph, boxed, flake));
}
