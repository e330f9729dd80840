//! The approval layer: a call runs only when the approval policy, a grant or the person says
//! so (see [`crate::approval`]). It sits after argument validation, so nobody is asked about
//! a call that could not run anyway.

use futures::future::BoxFuture;
use rmcp::model::{CallToolResult, ContentBlock};

use super::audit::arguments_text;
use super::{CallError, CallResult, Layer, Next, ToolCall};
use crate::approval::{Call, Clearance, Gate};
use crate::state::audit::digest;

/// Asks the gate about every call.
pub struct Approval(pub Gate);

impl Layer for Approval {
    fn handle<'a>(&'a self, call: ToolCall, next: Next<'a>) -> BoxFuture<'a, CallResult> {
        Box::pin(async move {
            let args_sha256 = match &call.args_sha256 {
                Some(digest) => digest.clone(),
                None => digest(&arguments_text(&call.arguments)),
            };
            let provider = call.route.provider.clone();
            let clearance = self
                .0
                .decide(&Call {
                    tool: &call.name,
                    definition: &call.route.tool,
                    provider: provider.name(),
                    provider_trusted: provider.trusts_annotations(),
                    arguments: &call.arguments,
                    args_sha256: &args_sha256,
                    session: &call.session,
                    requester: &call.requester,
                    retry: call.retry.as_ref(),
                })
                .await;
            match clearance {
                Clearance::Run => next.run(call).await,
                Clearance::Refuse(message) => {
                    Ok(CallToolResult::error(vec![ContentBlock::text(message)]))
                }
                Clearance::NeedInput(input) => Err(CallError::InputRequired(Box::new(input))),
            }
        })
    }
}
