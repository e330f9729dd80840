//! Local stand-ins for the remote services switchboard's connectors call: Microsoft Graph
//! (`graph`), Box (`box_api`) and Snowflake (`snowflake`). Each serves the service's documented
//! wire format on a loopback port, with switches a test flips to make it misbehave the way the
//! real service does (throttling with `Retry-After`, an expired token, a slow statement), and
//! records what it was asked so a test can check what the connector sent.
//!
//! The connectors never know they talk to a stand-in: a test points their `api_url` and
//! `auth_url` settings at [`serve::Mock::url`]. `src/bin/service-mocks.rs` runs all three for
//! the benchmark scripts.

pub mod box_api;
pub mod graph;
pub mod serve;
pub mod snowflake;
