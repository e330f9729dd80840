//! Running one SQL statement through the SQL API v2 and bringing its rows back typed.
//!
//! `POST /api/v2/statements` with the session's context and the bindings; a `200` carries the
//! result's first partition; a `202` (code `333334`) means it still runs, and its status is
//! polled at `GET /api/v2/statements/{handle}` with a growing pause until it answers `200`
//! (reported as progress; when the call is cancelled the statement is cancelled in Snowflake
//! too, `POST .../{handle}/cancel`); later partitions come from `?partition=N` until the row
//! cap is reached; a `422` (or `400`) is the statement's failure, a `408` its timeout. The
//! handle Snowflake gives is checked before it goes into a URL, and the `statementStatusUrl`
//! it sends is not followed: the connector only ever talks to the configured base URL.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use switchboard_plugin_api::Call;
use switchboard_plugin_http::Response;

use crate::api::{Api, Target, sleep_unless};
use crate::cells::decode;
use crate::config::Config;
use crate::error::Error;
use crate::wire::{
    Binding, IN_PROGRESS, MetaData, Partition, ResultSet, RowType, StatementBody, Status,
};

/// The first pause between two polls of a running statement; doubled up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(100);
const POLL_MAX: Duration = Duration::from_secs(2);

/// A statement to run: its text and its bind values (`?` placeholders, in order, as TEXT).
pub struct Statement<'a> {
    pub sql: &'a str,
    pub bindings: Vec<String>,
}

/// One column of a result.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema, PartialEq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Snowflake's type (`fixed`, `text`, `timestamp_ntz`...).
    #[serde(rename = "type")]
    pub kind: String,
}

/// A statement's result, typed and capped.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema, PartialEq)]
pub struct Rows {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows returned, each cell typed by its column.
    pub rows: Vec<Vec<Value>>,
    /// How many rows the result holds in all.
    pub total_rows: u64,
    /// Whether rows were left out (the row cap).
    pub truncated: bool,
    /// Snowflake's id of the statement (its query id).
    pub statement_handle: String,
}

/// Run `statement` with the session of `config`, returning at most `max_rows` rows.
pub fn run(
    api: &Api,
    config: &Config,
    statement: &Statement<'_>,
    max_rows: u64,
    call: &Call,
) -> Result<Rows, Error> {
    let bindings: BTreeMap<String, Binding> = statement
        .bindings
        .iter()
        .enumerate()
        .map(|(i, value)| ((i + 1).to_string(), Binding::text(value.clone())))
        .collect();
    let body = StatementBody {
        statement: statement.sql,
        timeout: config.statement_timeout,
        database: config.database.as_deref(),
        schema: config.schema.as_deref(),
        warehouse: config.warehouse.as_deref(),
        role: config.role.as_deref(),
        bindings,
    };
    let body = serde_json::to_value(&body)
        .map_err(|e| Error::Invalid(format!("the statement cannot be sent as JSON: {e}")))?;
    let target = Target::post("/api/v2/statements", Some(body)).with_request_id();
    let response = api.send(&target, Some(call))?;
    let first = match response.status() {
        200 => parse_result(&response)?,
        202 => {
            let status: Status = decode_body(&response)?;
            let handle = checked_handle(status.statement_handle.as_deref())?;
            wait_for(api, &handle, config.statement_timeout, call)?
        }
        _ => return Err(failure(&response, config.statement_timeout)),
    };
    collect(api, first, max_rows, call)
}

/// Poll a running statement until it answers its result; cancel it when the call is.
fn wait_for(api: &Api, handle: &str, timeout: u64, call: &Call) -> Result<ResultSet, Error> {
    let mut pause = POLL_FIRST;
    let mut polls = 0u32;
    let stopped = || call.is_cancelled();
    loop {
        polls += 1;
        call.progress(
            f64::from(polls),
            None,
            &format!("statement {handle} is still running in Snowflake"),
        );
        let waited = sleep_unless(pause, &stopped).and_then(|()| {
            api.send(
                &Target::get(format!("/api/v2/statements/{handle}")),
                Some(call),
            )
        });
        let response = match waited {
            Err(Error::Cancelled) => {
                cancel(api, handle);
                return Err(Error::Cancelled);
            }
            other => other?,
        };
        match response.status() {
            200 => return parse_result(&response),
            202 => {}
            _ => return Err(failure(&response, timeout)),
        }
        pause = (pause * 2).min(POLL_MAX);
    }
}

/// Ask Snowflake to stop a statement the caller gave up on; a failure to do so is not the
/// caller's error (the statement's own timeout still ends it).
fn cancel(api: &Api, handle: &str) {
    let target = Target::post(format!("/api/v2/statements/{handle}/cancel"), None);
    let _ = api.send(&target, None);
}

/// The rows of the first partition and, up to `max_rows`, of the later ones, typed.
fn collect(api: &Api, first: ResultSet, max_rows: u64, call: &Call) -> Result<Rows, Error> {
    let meta = first.result_set_meta_data.unwrap_or(MetaData {
        num_rows: 0,
        format: None,
        row_type: Vec::new(),
        partition_info: Vec::new(),
    });
    if let Some(format) = &meta.format
        && !format.eq_ignore_ascii_case("jsonv2")
    {
        return Err(Error::Answer(format!(
            "Snowflake answered in the {format} format, which the connector does not read"
        )));
    }
    let cap = usize::try_from(max_rows).unwrap_or(usize::MAX);
    let handle = first.statement_handle;
    let mut raw = first.data;
    for partition in 1..meta.partition_info.len() {
        if raw.len() >= cap {
            break;
        }
        let handle = checked_handle(Some(&handle))?;
        let target = Target::get(format!("/api/v2/statements/{handle}?partition={partition}"));
        let response = api.send(&target, Some(call))?;
        if response.status() != 200 {
            return Err(failure(&response, 0));
        }
        let page: Partition = decode_body(&response)?;
        raw.extend(page.data);
    }
    let total = meta.num_rows.max(raw.len() as u64);
    raw.truncate(cap);
    let rows = raw
        .iter()
        .map(|row| typed(&meta.row_type, row))
        .collect::<Vec<_>>();
    Ok(Rows {
        columns: meta
            .row_type
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                kind: c.kind.to_ascii_lowercase(),
            })
            .collect(),
        truncated: (rows.len() as u64) < total,
        total_rows: total,
        rows,
        statement_handle: handle,
    })
}

fn typed(columns: &[RowType], row: &[Option<String>]) -> Vec<Value> {
    row.iter()
        .enumerate()
        .map(|(i, cell)| match columns.get(i) {
            Some(column) => decode(column, cell.as_deref()),
            None => cell.clone().map_or(Value::Null, Value::String),
        })
        .collect()
}

fn decode_body<T: serde::de::DeserializeOwned>(response: &Response) -> Result<T, Error> {
    response
        .json()
        .map_err(|e| Error::Answer(format!("Snowflake's answer could not be read: {e}")))
}

fn parse_result(response: &Response) -> Result<ResultSet, Error> {
    let result: ResultSet = decode_body(response)?;
    checked_handle(Some(&result.statement_handle))?;
    Ok(result)
}

/// A statement handle as Snowflake makes them (a UUID), safe in a URL path.
fn checked_handle(handle: Option<&str>) -> Result<String, Error> {
    match handle {
        Some(h)
            if !h.is_empty()
                && h.len() <= 64
                && h.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') =>
        {
            Ok(h.to_string())
        }
        _ => Err(Error::Answer(
            "Snowflake's answer carries no usable statement handle".to_string(),
        )),
    }
}

/// A statement's failure in words.
fn failure(response: &Response, timeout: u64) -> Error {
    let said: Status = response.json().unwrap_or_default();
    match response.status() {
        408 => Error::Timeout(timeout),
        400 | 422 => {
            if said.code.as_deref() == Some(IN_PROGRESS) {
                return Error::Answer("Snowflake says the statement is still running".to_string());
            }
            Error::Sql {
                code: said.code.unwrap_or_else(|| "?".to_string()),
                sql_state: said.sql_state.unwrap_or_else(|| "?".to_string()),
                message: said.message.unwrap_or_else(|| "no message".to_string()),
            }
        }
        403 => Error::Refused {
            what: "request",
            status: 403,
            code: said.code,
            message: said.message,
            todo: "the role lacks a privilege this needs: use a role that has it (the role \
                   setting) or ask an administrator to grant it"
                .to_string(),
        },
        404 => Error::NotFound(format!(
            "Snowflake does not know this statement or endpoint (404{}): check api_url",
            said.message.map(|m| format!(": {m}")).unwrap_or_default()
        )),
        status => Error::Answer(format!(
            "Snowflake answered {status}{}",
            said.message.map(|m| format!(": {m}")).unwrap_or_default()
        )),
    }
}
