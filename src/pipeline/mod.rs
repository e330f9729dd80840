//! The call pipeline: the road every tool call travels, as a stack of small layers.
//!
//! ```text
//! audit → validate arguments → approval → deadline → provider
//! ```
//!
//! Each layer is one file, sees a [`ToolCall`] and the rest of the road ([`Next`]), and never
//! knows which kind of provider is at the end. Approval, rate limits, circuit breakers and
//! caching slot in as further layers.

pub mod approval;
pub mod audit;
pub mod deadline;
pub mod validate;

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::model::{CallToolResult, JsonObject};

use crate::catalog::ToolRoute;
use crate::provider::ProviderError;
use crate::requester::Requester;
use crate::session::SessionInfo;

/// One tool call on its way to a provider.
pub struct ToolCall {
    /// The name the client used.
    pub name: String,
    /// Where the name leads.
    pub route: Arc<ToolRoute>,
    /// The arguments object.
    pub arguments: JsonObject,
    /// The way back to the client.
    pub requester: Requester,
    /// Who is calling.
    pub session: SessionInfo,
    /// Answers to an earlier input-required result, when this call is a retry.
    pub retry: Option<crate::approval::Retry>,
    /// SHA-256 of the arguments as received (set by the audit layer, used by the others).
    pub args_sha256: Option<String>,
}

/// Why a call did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The arguments do not match the tool's input schema.
    #[error("invalid arguments for tool {tool}: {message}")]
    InvalidArguments {
        /// The tool.
        tool: String,
        /// What is wrong, with the path of the offending field.
        message: String,
    },
    /// The provider failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The client must answer questions and retry (2026-07-28 input-required round trip).
    #[error("the client must answer questions first")]
    InputRequired(Box<rmcp::model::InputRequiredResult>),
}

/// What a call ends in.
pub type CallResult = Result<CallToolResult, CallError>;

/// One layer of the pipeline.
pub trait Layer: Send + Sync {
    /// Handle `call`, usually by passing it on with `next.run(call)`.
    fn handle<'a>(&'a self, call: ToolCall, next: Next<'a>) -> BoxFuture<'a, CallResult>;
}

/// The rest of the road after a layer.
pub struct Next<'a> {
    layers: &'a [Box<dyn Layer>],
}

impl<'a> Next<'a> {
    /// Pass `call` on to the next layer, or to the provider after the last one.
    pub fn run(self, call: ToolCall) -> BoxFuture<'a, CallResult> {
        match self.layers.split_first() {
            Some((layer, rest)) => layer.handle(call, Next { layers: rest }),
            None => Box::pin(async move {
                let ToolCall {
                    route,
                    arguments,
                    requester,
                    ..
                } = call;
                Ok(route
                    .provider
                    .call_tool(route.local.clone(), arguments, requester)
                    .await?)
            }),
        }
    }
}

/// The assembled pipeline.
pub struct Pipeline {
    layers: Vec<Box<dyn Layer>>,
}

impl Pipeline {
    /// The standard road: audit, argument validation, approval, deadline.
    pub fn standard(
        config: &crate::config::Config,
        state: crate::state::State,
        attention: Arc<crate::approval::attention::Attention>,
    ) -> Self {
        let store_arguments = config.audit.store_arguments;
        let auditor = audit::Auditor::new(state.clone(), store_arguments);
        let gate = crate::approval::Gate::new(config, state.clone(), auditor, attention);
        Self {
            layers: vec![
                Box::new(audit::Audit::new(state, store_arguments)),
                Box::new(validate::Validate::default()),
                Box::new(approval::Approval(gate)),
                Box::new(deadline::Deadline),
            ],
        }
    }

    /// Send `call` down the road.
    pub fn call(&self, call: ToolCall) -> BoxFuture<'_, CallResult> {
        Next {
            layers: &self.layers,
        }
        .run(call)
    }
}
