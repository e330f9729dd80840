//! The audit layer: every routed request leaves a row, whatever became of it. Also the one
//! place that builds audit rows, for the requests that never reach the pipeline (lists,
//! unknown names).
//!
//! Rows are queued to the state writer; the call never waits for the disk.

use std::time::Instant;

use futures::future::BoxFuture;
use rmcp::model::JsonObject;

use super::{CallError, CallResult, Layer, Next, Reply, Request};
use crate::provider::ProviderError;
use crate::session::SessionInfo;
use crate::state::audit::digest;
use crate::state::{AuditRecord, Outcome, State};

/// Records one audit row per request.
#[derive(Clone)]
pub struct Auditor {
    state: State,
    store_arguments: bool,
}

/// What a request named, for its audit row.
#[derive(Default)]
pub struct Target<'a> {
    /// The tool, prompt or resource.
    pub name: Option<&'a str>,
    /// The provider that served it.
    pub provider: Option<&'a str>,
    /// Its arguments as JSON text.
    pub arguments: Option<&'a str>,
    /// Their digest, when already computed.
    pub args_sha256: Option<&'a str>,
}

impl Auditor {
    /// An auditor writing to `state`.
    pub fn new(state: State, store_arguments: bool) -> Self {
        Self {
            state,
            store_arguments,
        }
    }

    /// Queue the row of one finished request.
    pub fn record(
        &self,
        session: &SessionInfo,
        request_id: &str,
        method: &str,
        target: Target<'_>,
        (outcome, error): (Outcome, Option<String>),
        started: Instant,
    ) {
        let mut record = AuditRecord::new(request_id, session.id.clone(), method);
        record.client = session.client.clone();
        record.tool = target.name.map(str::to_string);
        record.provider = target.provider.map(str::to_string);
        if let Some(text) = target.arguments {
            record.args_sha256 = Some(
                target
                    .args_sha256
                    .map_or_else(|| digest(text), str::to_string),
            );
            if self.store_arguments {
                record.arguments = Some(text.to_string());
            }
        }
        record.outcome = outcome;
        record.error = error;
        record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.state.record_audit(record);
    }
}

impl Auditor {
    /// Queue the row of an approval decision about the call `request_id`.
    pub fn record_decision(
        &self,
        session: &SessionInfo,
        request_id: &str,
        target: Target<'_>,
        outcome: Outcome,
        decided_by: &str,
        started: Instant,
    ) {
        let mut record = AuditRecord::new(request_id, session.id.clone(), "approval");
        record.client = session.client.clone();
        record.tool = target.name.map(str::to_string);
        record.provider = target.provider.map(str::to_string);
        record.outcome = outcome;
        record.decided_by = Some(decided_by.to_string());
        record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.state.record_audit(record);
    }
}

/// The pipeline layer.
pub struct Audit(Auditor);

impl Audit {
    /// Audit into `state`.
    pub fn new(state: State, store_arguments: bool) -> Self {
        Self(Auditor::new(state, store_arguments))
    }
}

/// The outcome and error text of a finished request.
pub fn classify(result: &CallResult) -> (Outcome, Option<String>) {
    match result {
        Ok(Reply::Tool(r)) if r.is_error == Some(true) => (Outcome::ToolError, first_text(r)),
        Ok(_) => (Outcome::Ok, None),
        Err(CallError::Refused(message)) => (Outcome::Denied, Some(message.clone())),
        Err(CallError::Provider(ProviderError::Timeout(_))) => {
            (Outcome::Timeout, Some(result_error(result)))
        }
        Err(CallError::Provider(ProviderError::Cancelled)) => {
            (Outcome::Cancelled, Some(result_error(result)))
        }
        Err(_) => (Outcome::Error, Some(result_error(result))),
    }
}

/// The JSON text of an arguments object, as digested and stored.
pub fn arguments_text(arguments: &JsonObject) -> String {
    serde_json::to_string(arguments).unwrap_or_default()
}

fn result_error(result: &CallResult) -> String {
    match result {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    }
}

fn first_text(result: &rmcp::model::CallToolResult) -> Option<String> {
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.chars().take(500).collect()))
}

impl Layer for Audit {
    fn handle<'a>(&'a self, mut request: Request, next: Next<'a>) -> BoxFuture<'a, CallResult> {
        Box::pin(async move {
            let started = Instant::now();
            let session = request.session.clone();
            let request_id = request.requester.request_id().to_string();
            let method = request.op.method();
            let name = request.name.clone();
            let provider = request.provider.name().to_string();
            // The digest is of the arguments as received, before any layer touches them.
            let arguments = request.op.arguments().map(arguments_text);
            let args_sha256 = arguments.as_deref().map(digest);
            request.args_sha256.clone_from(&args_sha256);
            let result = next.run(request).await;
            let verdict = classify(&result);
            self.0.record(
                &session,
                &request_id,
                method,
                Target {
                    name: Some(&name),
                    provider: Some(&provider),
                    arguments: arguments.as_deref(),
                    args_sha256: args_sha256.as_deref(),
                },
                verdict,
                started,
            );
            result
        })
    }
}
