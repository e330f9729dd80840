//! The SQL API v2's and Cortex Search's JSON, as Snowflake's reference gives it: the
//! statement submitted, the result set (`resultSetMetaData`, `data`), the status of a
//! statement still running (`202`, code `333334`), a failure (`code`, `message`, `sqlState`),
//! and a Cortex Search query and its results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Snowflake's code for "still running" (a `202` answer).
pub const IN_PROGRESS: &str = "333334";

/// `POST /api/v2/statements`'s body.
#[derive(Debug, Serialize)]
pub struct StatementBody<'a> {
    pub statement: &'a str,
    /// Seconds before Snowflake cancels it.
    pub timeout: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    /// `{"1": {"type": "TEXT", "value": ".."}}`, by position.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bindings: BTreeMap<String, Binding>,
}

/// One bind variable.
#[derive(Debug, Serialize)]
pub struct Binding {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

impl Binding {
    /// A `TEXT` binding.
    pub fn text(value: impl Into<String>) -> Self {
        Self {
            kind: "TEXT",
            value: value.into(),
        }
    }
}

/// A `200` answer: the result set, its first partition inline.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultSet {
    #[serde(default)]
    pub statement_handle: String,
    pub result_set_meta_data: Option<MetaData>,
    #[serde(default)]
    pub data: Vec<Vec<Option<String>>>,
}

/// `resultSetMetaData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaData {
    #[serde(default)]
    pub num_rows: u64,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub row_type: Vec<RowType>,
    #[serde(default)]
    pub partition_info: Vec<PartitionInfo>,
}

/// One column's description.
#[derive(Clone, Debug, Deserialize)]
pub struct RowType {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub scale: Option<i64>,
    #[serde(default)]
    pub precision: Option<i64>,
    #[serde(default)]
    pub nullable: Option<bool>,
}

/// One partition's size.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionInfo {
    #[serde(default)]
    pub row_count: u64,
    #[serde(default)]
    pub uncompressed_size: Option<u64>,
}

/// A later partition: its rows only.
#[derive(Debug, Deserialize)]
pub struct Partition {
    #[serde(default)]
    pub data: Vec<Vec<Option<String>>>,
}

/// A `202` (still running) or a failure: `code`, `message`, `sqlState`, the handle.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub sql_state: Option<String>,
    #[serde(default)]
    pub statement_handle: Option<String>,
}

/// A Cortex Search query.
#[derive(Debug, Serialize)]
pub struct SearchQuery<'a> {
    pub query: &'a str,
    pub columns: Vec<String>,
    pub limit: u32,
}

/// A Cortex Search answer: one object per result, keyed by the columns asked for.
#[derive(Debug, Deserialize)]
pub struct SearchResults {
    #[serde(default)]
    pub results: Vec<serde_json::Map<String, Value>>,
}
