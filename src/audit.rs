//! Audit rows for requests: the one [`Auditor`] a running host has (built by the hub, shared
//! by the pipeline's audit layer, the approval gate and the MCP face), what a request named
//! ([`Target`]), and the arguments' text as digested and stored. It sits below all of its
//! users, so the pipeline and the approval gate need not import each other for it.

use std::time::Instant;

use rmcp::model::JsonObject;

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

/// The JSON text of an arguments object, as digested and stored.
pub fn arguments_text(arguments: &JsonObject) -> String {
    serde_json::to_string(arguments).unwrap_or_default()
}
