//! The audit layer: every routed request leaves a row, whatever became of it, written by the
//! one [`Auditor`] (`crate::audit`) that also records lists, unknown names and approval
//! decisions.
//!
//! Rows are queued to the state writer; the call never waits for the disk.

use std::time::Instant;

use futures::future::BoxFuture;

use super::{CallError, CallResult, Layer, Next, Reply, Request};
use crate::audit::{Auditor, Target, arguments_text};
use crate::provider::ProviderError;
use crate::state::Outcome;
use crate::state::audit::digest;

/// The pipeline layer.
pub struct Audit(pub Auditor);

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
