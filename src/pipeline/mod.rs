//! The pipeline: the one road every routed request travels, as a stack of small layers.
//!
//! ```text
//! audit → validate arguments → approval → deadline → provider
//! ```
//!
//! `tools/call`, `resources/read`, `prompts/get` and `completion/complete` all go down it as a
//! [`Request`], whichever way they arrived (rmcp's handler, the stdio direct lane, the CLI, a
//! call an MCP App makes). Each layer is one file, sees the request and the rest of the road
//! ([`Next`]), and never knows which kind of provider is at the end; a layer that only
//! concerns tool calls (validation) passes the others on. Rate limits, circuit breakers and
//! caching slot in as further layers.

pub mod approval;
pub mod audit;
pub mod deadline;
pub mod validate;

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolResult, CompletionInfo, GetPromptResult, JsonObject, ReadResourceResult,
};
use serde_json::Value;

use crate::catalog::ToolRoute;
use crate::provider::{ProviderError, SharedProvider};
use crate::requester::Requester;
use crate::session::SessionInfo;

/// One routed request on its way to a provider.
pub struct Request {
    /// What it names, as the client named it: the tool or prompt, the resource's URI, what is
    /// being completed.
    pub name: String,
    /// The provider that serves it.
    pub provider: SharedProvider,
    /// What is asked of the provider.
    pub op: Operation,
    /// The way back to the client.
    pub requester: Requester,
    /// Who is asking.
    pub session: SessionInfo,
    /// SHA-256 of the arguments as received (set by the audit layer, used by the others).
    pub args_sha256: Option<String>,
}

/// What a request asks of its provider.
pub enum Operation {
    /// Run a tool.
    CallTool {
        /// Where the tool's name leads (its definition, the provider's own name).
        route: Arc<ToolRoute>,
        /// The arguments object.
        arguments: JsonObject,
        /// Answers to an earlier input-required result, when this call is a retry.
        retry: Option<crate::approval::Retry>,
    },
    /// Read a resource.
    ReadResource,
    /// Render a prompt.
    GetPrompt {
        /// The provider's own name for it.
        local: String,
        /// Its arguments.
        arguments: JsonObject,
    },
    /// Complete an argument of a prompt or resource template.
    Complete {
        /// The request as the provider knows it (its own names).
        params: Value,
    },
}

impl Operation {
    /// The MCP method, as audited.
    pub fn method(&self) -> &'static str {
        match self {
            Operation::CallTool { .. } => "tools/call",
            Operation::ReadResource => "resources/read",
            Operation::GetPrompt { .. } => "prompts/get",
            Operation::Complete { .. } => "completion/complete",
        }
    }

    /// The arguments the request carries, when it carries an arguments object.
    pub fn arguments(&self) -> Option<&JsonObject> {
        match self {
            Operation::CallTool { arguments, .. } | Operation::GetPrompt { arguments, .. } => {
                Some(arguments)
            }
            Operation::ReadResource | Operation::Complete { .. } => None,
        }
    }
}

impl Request {
    /// A tool call of `name`, routed to `route`.
    pub fn tool(
        name: String,
        route: Arc<ToolRoute>,
        arguments: JsonObject,
        requester: Requester,
        session: SessionInfo,
    ) -> Self {
        Self {
            name,
            provider: route.provider.clone(),
            op: Operation::CallTool {
                route,
                arguments,
                retry: None,
            },
            requester,
            session,
            args_sha256: None,
        }
    }
}

/// What a provider answered.
#[derive(Debug)]
pub enum Reply {
    /// A tool's result.
    Tool(CallToolResult),
    /// A resource's contents.
    Resource(ReadResourceResult),
    /// A rendered prompt.
    Prompt(GetPromptResult),
    /// Completion values.
    Completion(CompletionInfo),
}

/// Why a request did not produce a reply.
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
    /// The approval layer refused it; the message says why and what the person can do.
    #[error("{0}")]
    Refused(String),
    /// The provider failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The client must answer questions and retry (2026-07-28 input-required round trip).
    #[error("the client must answer questions first")]
    InputRequired(Box<rmcp::model::InputRequiredResult>),
    /// switchboard itself failed (a panic on the road, contained).
    #[error("{0}")]
    Internal(String),
}

/// What a request ends in.
pub type CallResult = Result<Reply, CallError>;

/// One layer of the pipeline.
pub trait Layer: Send + Sync {
    /// Handle `request`, usually by passing it on with `next.run(request)`.
    fn handle<'a>(&'a self, request: Request, next: Next<'a>) -> BoxFuture<'a, CallResult>;
}

/// The rest of the road after a layer.
pub struct Next<'a> {
    layers: &'a [Box<dyn Layer>],
}

impl<'a> Next<'a> {
    /// Pass `request` on to the next layer, or to the provider after the last one.
    pub fn run(self, request: Request) -> BoxFuture<'a, CallResult> {
        match self.layers.split_first() {
            Some((layer, rest)) => layer.handle(request, Next { layers: rest }),
            None => Box::pin(serve(request)),
        }
    }
}

/// The end of the road: the provider serves the request.
async fn serve(request: Request) -> CallResult {
    let Request {
        name,
        provider,
        op,
        requester,
        ..
    } = request;
    Ok(match op {
        Operation::CallTool {
            route, arguments, ..
        } => Reply::Tool(
            provider
                .call_tool(route.local.clone(), arguments, requester)
                .await?,
        ),
        Operation::ReadResource => Reply::Resource(provider.read_resource(name, requester).await?),
        Operation::GetPrompt { local, arguments } => {
            Reply::Prompt(provider.get_prompt(local, arguments, requester).await?)
        }
        Operation::Complete { params } => {
            Reply::Completion(provider.complete(params, requester).await?)
        }
    })
}

/// The assembled pipeline.
pub struct Pipeline {
    layers: Vec<Box<dyn Layer>>,
}

impl Pipeline {
    /// The standard road: audit, argument validation, approval, deadline.
    pub fn standard(
        config: &crate::config::Config,
        policy: Arc<crate::approval::policy::Policy>,
        state: crate::state::State,
        auditor: crate::audit::Auditor,
        attention: Arc<crate::approval::attention::Attention>,
    ) -> Self {
        let gate = crate::approval::Gate::new(config, policy, state, auditor.clone(), attention);
        Self {
            layers: vec![
                Box::new(audit::Audit(auditor)),
                Box::new(validate::Validate::default()),
                Box::new(approval::Approval(gate)),
                Box::new(deadline::Deadline),
            ],
        }
    }

    /// Send `request` down the road.
    pub fn call(&self, request: Request) -> BoxFuture<'_, CallResult> {
        Next {
            layers: &self.layers,
        }
        .run(request)
    }
}
