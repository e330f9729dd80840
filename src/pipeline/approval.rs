//! The approval layer: a request runs only when the approval policy, a grant or the person
//! says so (see [`crate::approval`]). It sits after argument validation, so nobody is asked
//! about a call that could not run anyway.
//!
//! A tool call is decided in full (allow, deny, or ask). A resource read, prompt or
//! completion only reads, so it is never asked about, but a `deny` rule that covers it (its
//! provider, or for a prompt its name) refuses it, with an audited decision like a tool's.

use futures::future::BoxFuture;

use super::{CallError, CallResult, Layer, Next, Operation, Request};
use crate::approval::{Call, Clearance, Gate, Read};
use crate::audit::arguments_text;
use crate::state::audit::digest;

/// Asks the gate about every request.
pub struct Approval(pub Gate);

impl Layer for Approval {
    fn handle<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, CallResult> {
        Box::pin(async move {
            let clearance = match &request.op {
                Operation::CallTool {
                    route,
                    arguments,
                    retry,
                } => {
                    let args_sha256 = match &request.args_sha256 {
                        Some(digest) => digest.clone(),
                        None => digest(&arguments_text(arguments)),
                    };
                    self.0
                        .decide(&Call {
                            tool: &request.name,
                            definition: &route.tool,
                            provider: request.provider.name(),
                            provider_trusted: request.provider.trusts_annotations(),
                            answers_approvals: request.provider.answers_approvals(),
                            arguments,
                            args_sha256: &args_sha256,
                            session: &request.session,
                            requester: &request.requester,
                            retry: retry.as_ref(),
                        })
                        .await
                }
                op => self.0.screen(&Read {
                    method: op.method(),
                    name: &request.name,
                    provider: request.provider.name(),
                    named_like_a_tool: matches!(op, Operation::GetPrompt { .. }),
                    session: &request.session,
                    requester: &request.requester,
                }),
            };
            match clearance {
                Clearance::Run => next.run(request).await,
                Clearance::Refuse(message) => Err(CallError::Refused(message)),
                Clearance::NeedInput(input) => Err(CallError::InputRequired(Box::new(input))),
            }
        })
    }
}
