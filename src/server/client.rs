//! The rmcp client handler of one downstream connection: what the server sends back goes to
//! whoever it concerns. Questions (elicitation, sampling) go to the client of the request that
//! caused them, log messages to every client, and list changes refresh the server's offer.
//! (Progress is taken out earlier, in wire order: see [`super::progress`].)

#![allow(deprecated)] // logging and sampling are deprecated in 2026-07-28 only.

use std::sync::Arc;

use rmcp::model::{
    ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
    ElicitRequestParams, ElicitResult, Implementation, LoggingMessageNotificationParam,
    ProtocolVersion,
};
use rmcp::service::{InboundStreamOrigin, NotificationContext, RequestContext};
use rmcp::{ClientHandler, ErrorData as McpError, RoleClient};

use super::{Server, ServerEvent};
use crate::requester::{AskError, Requester};

/// The handler of one connection to `server`.
#[derive(Clone)]
pub struct Downstream {
    server: Arc<Server>,
}

/// Which list a server announced a change of.
#[derive(Clone, Copy, Debug)]
pub enum ListKind {
    /// `notifications/tools/list_changed`.
    Tools,
    /// `notifications/resources/list_changed`.
    Resources,
    /// `notifications/prompts/list_changed`.
    Prompts,
}

impl Downstream {
    /// A handler for `server`.
    pub fn new(server: Arc<Server>) -> Self {
        Self { server }
    }

    fn asker(&self, ctx: &RequestContext<RoleClient>, what: &str) -> Result<Requester, McpError> {
        let origin = match ctx.extensions.get::<InboundStreamOrigin>() {
            Some(InboundStreamOrigin::OutboundRequest(id)) => Some(id),
            _ => None,
        };
        self.server.requester_for_question(origin).map_err(|why| {
            McpError::invalid_request(
                format!(
                    "switchboard cannot pass server {}'s {what} on: {why}",
                    self.server.spec.name
                ),
                None,
            )
        })
    }

    fn ask_error(&self, what: &str, error: AskError) -> McpError {
        let message = format!(
            "switchboard could not ask its client ({what} for server {}): {error}",
            self.server.spec.name
        );
        match error {
            AskError::NotSupported(_) => McpError::invalid_request(message, None),
            AskError::Failed(_) => McpError::internal_error(message, None),
        }
    }

    async fn list_changed(&self, kind: ListKind) {
        if let Err(e) = super::supervise::refetch(&self.server, kind).await {
            tracing::warn!(server = %self.server.spec.name, ?kind, error = %e, "re-reading the server's list after its change notice failed");
        }
    }
}

impl ClientHandler for Downstream {
    fn get_info(&self) -> ClientConfig {
        let capabilities = ClientCapabilities::builder()
            .enable_elicitation()
            .enable_sampling()
            .build();
        ClientConfig::new(
            capabilities,
            Implementation::new("switchboard", env!("CARGO_PKG_VERSION")),
        )
        // rmcp's default is 2026-07-28, which has no `initialize`; servers in the wild speak
        // the handshake revisions.
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let requester = self.asker(&ctx, "question (elicitation)")?;
        // Through the client when it can ask the person, else the approval inbox.
        let asker = format!("server {}", self.server.spec.name);
        requester
            .elicit_for(&asker, request)
            .await
            .map_err(|e| self.ask_error("elicitation", e))
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        ctx: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let requester = self.asker(&ctx, "sampling request")?;
        requester
            .sample(params)
            .await
            .map_err(|e| self.ask_error("sampling", e))
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        let _ = self.server.events.send(ServerEvent::Log {
            server: self.server.spec.name.clone(),
            level: params.level,
            logger: params.logger,
            data: params.data,
        });
    }

    async fn on_tool_list_changed(&self, _ctx: NotificationContext<RoleClient>) {
        self.list_changed(ListKind::Tools).await;
    }

    async fn on_resource_list_changed(&self, _ctx: NotificationContext<RoleClient>) {
        self.list_changed(ListKind::Resources).await;
    }

    async fn on_prompt_list_changed(&self, _ctx: NotificationContext<RoleClient>) {
        self.list_changed(ListKind::Prompts).await;
    }
}
