//! The MCP face: rmcp's `ServerHandler` over the hub. It turns requests into catalog look-ups
//! and pipeline calls, answers with MCP results or precise JSON-RPC errors, audits every
//! request, and relays the hub's notices to the connected client.
//!
//! Classic `initialize` sessions and 2026-07-28 stateless requests share this code; the only
//! differences (how list changes are announced, whether the server may ask the client) are
//! in [`notices`] and [`crate::requester`]. On stdio, tool calls of a classic session skip
//! rmcp's dispatch through [`direct`], into the same `Face::tool_call`.

#![allow(deprecated)] // logging and resources/subscribe are deprecated in 2026-07-28 only.

pub mod direct;
mod errors;
pub mod notices;
pub mod stdio;

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use futures::FutureExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, Reference, ResultType,
    ServerCapabilities, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::audit::{Target, arguments_text};
use crate::catalog::Snapshot;
use crate::hub::Hub;
use crate::pipeline::{CallError, CallResult, Operation, Reply, Request};
use crate::requester::{ClientAbilities, LogGate, Requester};
use crate::session::SessionInfo;
use crate::state::Outcome;

const INSTRUCTIONS: &str = "switchboard puts local data sources, plugin connectors and other MCP servers behind one connection. \
Use `search` to look across every data source at once and `fetch` to read a result in full; \
other tools are named <connector>__<tool>.";

/// One client connection's server handler. Clone it freely; clones share the session.
#[derive(Clone)]
pub struct Face {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Arc<Hub>,
    session: OnceLock<SessionInfo>,
    /// Set once a classic session is initialized: what the direct lane needs.
    direct: OnceLock<direct::Lane>,
    logs: LogGate,
    relay: notices::Relay,
    subscriptions: Mutex<BTreeSet<String>>,
}

impl Face {
    /// A handler for one connection to `hub`.
    pub fn new(hub: Arc<Hub>) -> Self {
        let logs = LogGate::default();
        let relay = notices::Relay::start(&hub, logs.clone());
        Self {
            inner: Arc::new(Inner {
                hub,
                session: OnceLock::new(),
                direct: OnceLock::new(),
                logs,
                relay,
                subscriptions: Mutex::new(BTreeSet::new()),
            }),
        }
    }

    /// Who sends this request. A 2026-07-28 request has no session and says who it is
    /// itself, so its client is this request's, never an earlier request's.
    fn session(&self, ctx: &RequestContext<RoleServer>) -> SessionInfo {
        let client = ctx.client_info();
        let mut session = self.session_of(client.as_ref());
        if is_stateless(ctx) {
            session.client = client.map(|i| format!("{}/{}", i.name, i.version));
        }
        session
    }

    /// The session, described by the client's `initialize` the first time.
    fn session_of(&self, client: Option<&Implementation>) -> SessionInfo {
        self.inner
            .session
            .get_or_init(|| SessionInfo::new(client.map(|i| format!("{}/{}", i.name, i.version))))
            .clone()
    }

    fn requester(&self, ctx: &RequestContext<RoleServer>, session: &SessionInfo) -> Requester {
        let stateless = is_stateless(ctx);
        self.requester_for(
            session,
            &ctx.id,
            ctx.peer.clone(),
            ctx.meta.get_progress_token(),
            abilities(ctx.client_capabilities().as_ref()),
            stateless,
            ctx.ct.child_token(),
        )
    }

    /// The way back to the client of one request.
    #[allow(clippy::too_many_arguments)] // each is one fact of the request, named
    fn requester_for(
        &self,
        session: &SessionInfo,
        jsonrpc_id: impl std::fmt::Display,
        peer: rmcp::service::Peer<RoleServer>,
        progress_token: Option<rmcp::model::ProgressToken>,
        abilities: ClientAbilities,
        stateless: bool,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Requester {
        Requester::session(
            session.request_id(jsonrpc_id),
            session.asker(stateless),
            peer,
            progress_token,
            abilities,
            stateless,
            cancel,
            self.inner.logs.clone(),
        )
        .with_fallback(self.inner.hub.questions.clone())
    }

    /// The catalog, once the plugins present at start are loaded.
    async fn snapshot(&self) -> Result<Arc<Snapshot>, McpError> {
        if !self.inner.hub.is_ready() {
            self.inner
                .hub
                .ready()
                .await
                .map_err(|e| McpError::internal_error(format!("{e:#}"), None))?;
        }
        Ok(self.inner.hub.catalog.snapshot())
    }

    fn audit(
        &self,
        ctx: &RequestContext<RoleServer>,
        method: &str,
        target: Target<'_>,
        result: Result<(), &McpError>,
        started: Instant,
    ) {
        let session = self.session(ctx);
        let request_id = session.request_id(&ctx.id);
        self.audit_as(&session, &request_id, method, target, result, started);
    }

    fn audit_as(
        &self,
        session: &SessionInfo,
        request_id: &str,
        method: &str,
        target: Target<'_>,
        result: Result<(), &McpError>,
        started: Instant,
    ) {
        let verdict = match result {
            Ok(()) => (Outcome::Ok, None),
            Err(e) => (Outcome::Error, Some(e.message.to_string())),
        };
        self.inner
            .hub
            .auditor
            .record(session, request_id, method, target, verdict, started);
    }

    /// A tool call, whichever way it arrived (rmcp's handler or the [`direct`] lane): looked
    /// up in the catalog and sent down the pipeline.
    async fn tool_call(
        &self,
        request: CallToolRequestParams,
        session: SessionInfo,
        requester: Requester,
    ) -> Result<CallToolResponse, McpError> {
        let started = Instant::now();
        let name = request.name.to_string();
        let arguments = request.arguments.unwrap_or_default();
        let found = match self.snapshot().await?.tools.get(&name) {
            Some(route) => Ok(Some(route.clone())),
            // Perhaps a tool of a server still starting: wait for it rather than say unknown.
            None => self.inner.hub.route_when_started(&name).await,
        };
        let route = match found {
            Ok(Some(route)) => route,
            unroutable => {
                let text = arguments_text(&arguments);
                let error = match unroutable {
                    Err(message) => McpError::internal_error(message, None),
                    _ => errors::unknown("tool", &name),
                };
                return Err(self.unroutable(
                    &session,
                    requester.request_id(),
                    ("tools/call", &name, Some(&text)),
                    error,
                    started,
                ));
            }
        };
        let mut routed = Request::tool(name.clone(), route, arguments, requester, session);
        if let (Operation::CallTool { retry, .. }, Some(responses)) =
            (&mut routed.op, request.input_responses)
        {
            *retry = Some(crate::approval::Retry {
                responses,
                state: request.request_state,
            });
        }
        errors::tool_response(&name, self.run(routed).await)
    }

    /// Send a routed request down the pipeline. A panic anywhere on the road still answers
    /// the request (rmcp would not).
    async fn run(&self, request: Request) -> CallResult {
        let name = request.name.clone();
        match AssertUnwindSafe(self.inner.hub.pipeline.call(request))
            .catch_unwind()
            .await
        {
            Ok(result) => result,
            Err(_) => {
                tracing::error!(target = %name, "a request panicked inside switchboard");
                Err(CallError::Internal(format!(
                    "switchboard failed internally while serving {name}; the server keeps running"
                )))
            }
        }
    }

    /// Audit a request (method, name, arguments) that names nothing the catalog knows, and
    /// answer `error`.
    fn unroutable(
        &self,
        session: &SessionInfo,
        request_id: &str,
        (method, name, arguments): (&str, &str, Option<&str>),
        error: McpError,
        started: Instant,
    ) -> McpError {
        let target = Target {
            name: Some(name),
            provider: None,
            arguments,
            args_sha256: None,
        };
        self.audit_as(session, request_id, method, target, Err(&error), started);
        error
    }
}

/// Whether `ctx` is a stateless 2026-07-28 request.
fn is_stateless(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// What a client's declared capabilities let switchboard ask of it.
fn abilities(capabilities: Option<&rmcp::model::ClientCapabilities>) -> ClientAbilities {
    ClientAbilities {
        elicitation: capabilities.is_some_and(|c| c.elicitation.is_some()),
        sampling: capabilities.is_some_and(|c| c.sampling.is_some()),
        apps: capabilities.is_some_and(crate::approval::card::client_shows_apps),
    }
}

impl ServerHandler for Face {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        let mut capabilities = capabilities;
        // switchboard's approval card is an MCP App (for clients that render them).
        capabilities.extensions = Some(
            [(
                crate::approval::card::EXTENSION.to_string(),
                rmcp::model::JsonObject::new(),
            )]
            .into_iter()
            .collect(),
        );
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "switchboard",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }

    async fn on_initialized(&self, ctx: NotificationContext<RoleServer>) {
        self.inner.relay.add_peer(ctx.peer.clone());
        self.open_lane(ctx.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let started = Instant::now();
        let snapshot = self.snapshot().await?;
        let shows_apps = abilities(ctx.client_capabilities().as_ref()).apps
            && self.inner.hub.config.config.approvals.inbox;
        let tools = crate::approval::card::present(
            snapshot.tools.values().map(|r| (&r.tool, &*r.provider)),
            &self.inner.hub.policy,
            shows_apps,
        );
        self.audit(&ctx, "tools/list", Target::default(), Ok(()), started);
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner
            .hub
            .catalog
            .snapshot()
            .tools
            .get(name)
            .map(|r| r.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let session = self.session(&ctx);
        let requester = self.requester(&ctx, &session);
        self.tool_call(request, session, requester).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let started = Instant::now();
        let snapshot = self.snapshot().await?;
        let resources = snapshot
            .resources
            .values()
            .map(|r| r.resource.clone())
            .collect();
        self.audit(&ctx, "resources/list", Target::default(), Ok(()), started);
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let started = Instant::now();
        let snapshot = self.snapshot().await?;
        let templates = snapshot
            .templates
            .iter()
            .map(|t| t.template.clone())
            .collect();
        self.audit(
            &ctx,
            "resources/templates/list",
            Target::default(),
            Ok(()),
            started,
        );
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let started = Instant::now();
        let session = self.session(&ctx);
        let uri = request.uri;
        let Some(provider) = self.snapshot().await?.resource_owner(&uri).cloned() else {
            return Err(self.unroutable(
                &session,
                &session.request_id(&ctx.id),
                ("resources/read", &uri, None),
                McpError::resource_not_found(
                    format!(
                        "no resource at {uri}; resources/list and resources/templates/list show what exists"
                    ),
                    None,
                ),
                started,
            ));
        };
        let requester = self.requester(&ctx, &session);
        let routed = Request {
            name: uri.clone(),
            provider,
            op: Operation::ReadResource,
            requester,
            session,
            args_sha256: None,
        };
        match self.run(routed).await {
            Ok(Reply::Resource(mut result)) => {
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(result.into())
            }
            Ok(_) => Err(errors::mismatched(&uri)),
            Err(e) => Err(errors::request_error(&uri, e)),
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let started = Instant::now();
        let known = self
            .snapshot()
            .await?
            .resource_owner(&request.uri)
            .is_some();
        let result = if known {
            self.inner
                .subscriptions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(request.uri.clone());
            Ok(())
        } else {
            Err(McpError::resource_not_found(
                format!("no resource at {}", request.uri),
                None,
            ))
        };
        let target = Target {
            name: Some(&request.uri),
            ..Target::default()
        };
        self.audit(
            &ctx,
            "resources/subscribe",
            target,
            result.as_ref().copied(),
            started,
        );
        result
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let started = Instant::now();
        self.inner
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&request.uri);
        let target = Target {
            name: Some(&request.uri),
            ..Target::default()
        };
        self.audit(&ctx, "resources/unsubscribe", target, Ok(()), started);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let started = Instant::now();
        let snapshot = self.snapshot().await?;
        let prompts = snapshot
            .prompts
            .values()
            .map(|r| r.prompt.clone())
            .collect();
        self.audit(&ctx, "prompts/list", Target::default(), Ok(()), started);
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let started = Instant::now();
        let session = self.session(&ctx);
        let name = request.name;
        let arguments = request.arguments.unwrap_or_default();
        let Some(route) = self.snapshot().await?.prompts.get(&name).cloned() else {
            let text = arguments_text(&arguments);
            return Err(self.unroutable(
                &session,
                &session.request_id(&ctx.id),
                ("prompts/get", &name, Some(&text)),
                errors::unknown("prompt", &name),
                started,
            ));
        };
        let requester = self.requester(&ctx, &session);
        let routed = Request {
            name: name.clone(),
            provider: route.provider.clone(),
            op: Operation::GetPrompt {
                local: route.local.clone(),
                arguments,
            },
            requester,
            session,
            args_sha256: None,
        };
        match self.run(routed).await {
            Ok(Reply::Prompt(mut result)) => {
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(result.into())
            }
            Ok(_) => Err(errors::mismatched(&name)),
            Err(e) => Err(errors::request_error(&name, e)),
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let started = Instant::now();
        let session = self.session(&ctx);
        let snapshot = self.snapshot().await?;
        // Route by what is being completed, and name it as its provider knows it.
        let (provider, local_ref, label) = match &request.r#ref {
            Reference::Prompt(prompt) => match snapshot.prompts.get(&prompt.name) {
                Some(route) => (
                    Some(route.provider.clone()),
                    serde_json::json!({"type": "ref/prompt", "name": route.local}),
                    prompt.name.clone(),
                ),
                None => (None, serde_json::Value::Null, prompt.name.clone()),
            },
            Reference::Resource(resource) => (
                snapshot.template(&resource.uri).map(|t| t.provider.clone()),
                serde_json::json!({"type": "ref/resource", "uri": resource.uri}),
                resource.uri.clone(),
            ),
            _ => (
                None,
                serde_json::Value::Null,
                "an unknown reference type".to_string(),
            ),
        };
        let Some(provider) = provider else {
            return Err(self.unroutable(
                &session,
                &session.request_id(&ctx.id),
                ("completion/complete", &label, None),
                McpError::invalid_params(
                    format!("nothing to complete: no prompt or resource template {label:?}"),
                    None,
                ),
                started,
            ));
        };
        let mut params = serde_json::json!({
            "ref": local_ref,
            "argument": {"name": request.argument.name, "value": request.argument.value},
        });
        if let Some(context) = &request.context {
            params["context"] = serde_json::to_value(context).unwrap_or_default();
        }
        let requester = self.requester(&ctx, &session);
        let routed = Request {
            name: label.clone(),
            provider,
            op: Operation::Complete { params },
            requester,
            session,
            args_sha256: None,
        };
        match self.run(routed).await {
            Ok(Reply::Completion(info)) => Ok(CompleteResult::new(info)),
            Ok(_) => Err(errors::mismatched(&label)),
            Err(e) => Err(errors::request_error(&label, e)),
        }
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let started = Instant::now();
        self.inner.logs.set(request.level);
        self.audit(&ctx, "logging/setLevel", Target::default(), Ok(()), started);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, ctx: SubscriptionContext) -> Result<(), McpError> {
        self.inner.relay.listen(ctx).await;
        Ok(())
    }
}
