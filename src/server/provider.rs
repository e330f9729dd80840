//! A downstream server as a [`Provider`]: its offer is what it listed when it came up (kept
//! current by its change notices), and every request is forwarded over its live connection
//! with the upstream request's progress, cancellation and questions attached.

use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::RoleClient;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, CompleteRequest, CompleteRequestParams, CompletionInfo, ErrorCode,
    GetPromptRequest, GetPromptRequestParams, GetPromptResult, JsonObject, ReadResourceRequest,
    ReadResourceRequestParams, ReadResourceResult, RequestId, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, ServiceError};
use serde_json::Value;

use super::Server;
use super::status::Phase;
use crate::provider::{Offer, Provider, ProviderError};
use crate::requester::Requester;

/// Removes a forwarded request from the in-flight list when it ends; a request abandoned
/// before its answer (timeout, upstream cancellation) is cancelled downstream too.
struct Tracked<'a> {
    server: &'a Server,
    seq: u64,
    peer: Peer<RoleClient>,
    id: RequestId,
    answered: bool,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.server.untrack(self.seq);
        if self.answered {
            return;
        }
        let peer = self.peer.clone();
        let id = self.id.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let reason = "cancelled by switchboard's client (or its deadline passed)";
                let param = CancelledNotificationParam::new(Some(id), Some(reason.into()));
                let _ = peer.notify_cancelled(param).await;
            });
        }
    }
}

impl Server {
    fn unavailable(&self) -> ProviderError {
        let status = self.status();
        let mut message = format!(
            "server {} is not running ({})",
            self.spec.name,
            status.state.word()
        );
        if let Some(error) = &status.last_error {
            message.push_str(&format!(": {error}"));
        }
        if status.state == Phase::BackingOff {
            message.push_str("; it is being restarted, try again shortly");
        }
        ProviderError::Failed(message)
    }

    /// The error for a request whose connection broke: once the supervisor knows how the
    /// server ended (within a moment), say so.
    async fn lost(&self, what: &str) -> ProviderError {
        let mut status = self.watch_status();
        let settled = tokio::time::timeout(
            Duration::from_secs(3),
            status.wait_for(|s| !matches!(s.state, Phase::Running | Phase::Starting)),
        )
        .await;
        let reason = match settled {
            Ok(Ok(status)) => status.last_error.clone(),
            _ => None,
        };
        let reason = reason.unwrap_or_else(|| "its connection closed".to_string());
        let next = if self.spec.restart.max_attempts > 0 {
            "; switchboard restarts it"
        } else {
            ""
        };
        ProviderError::Failed(format!(
            "server {} stopped while the {what} was running ({reason}){next}",
            self.spec.name
        ))
    }

    /// Send `request` and wait for its answer, forwarding progress and cancellation.
    async fn forward(
        &self,
        what: &str,
        request: ClientRequest,
        requester: &Requester,
    ) -> Result<ServerResult, ProviderError> {
        let peer = self.peer().ok_or_else(|| self.unavailable())?;
        if requester.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let handle = match peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
        {
            Ok(handle) => handle,
            Err(ServiceError::TransportClosed) => return Err(self.lost(what).await),
            Err(e) => return Err(self.failure(e)),
        };
        let (seq, progress) = self.track(
            handle.id.clone(),
            handle.progress_token.clone(),
            requester.clone(),
        );
        let mut tracked = Tracked {
            server: self,
            seq,
            peer,
            id: handle.id.clone(),
            answered: false,
        };
        let answer = tokio::select! {
            answer = handle.await_response() => answer,
            () = requester.cancellation().cancelled() => return Err(ProviderError::Cancelled),
        };
        tracked.answered = true;
        // Progress the server sent before its answer reaches the client before the answer.
        progress.flushed().await;
        drop(tracked);
        match answer {
            Ok(result) => Ok(result),
            Err(ServiceError::TransportClosed) => Err(self.lost(what).await),
            Err(e) => Err(self.failure(e)),
        }
    }

    fn failure(&self, error: ServiceError) -> ProviderError {
        let name = &self.spec.name;
        match error {
            ServiceError::McpError(e) if e.code == ErrorCode::INVALID_PARAMS => {
                ProviderError::InvalidInput(format!("server {name}: {}", e.message))
            }
            ServiceError::McpError(e) if e.code == ErrorCode::RESOURCE_NOT_FOUND => {
                ProviderError::NotFound(format!("server {name}: {}", e.message))
            }
            ServiceError::McpError(e) => {
                ProviderError::Failed(format!("server {name} answered an error: {}", e.message))
            }
            ServiceError::Timeout { timeout } => ProviderError::Timeout(timeout),
            other => ProviderError::Failed(format!("server {name}: {other}")),
        }
    }

    fn unexpected(&self, what: &str, result: &ServerResult) -> ProviderError {
        let detail = match result {
            ServerResult::InputRequiredResult(_) => {
                "asked for input the 2026-07-28 way (input_required), which switchboard does not forward".to_string()
            }
            _ => "answered with something else".to_string(),
        };
        ProviderError::Failed(format!(
            "server {} was asked for a {what} and {detail}",
            self.spec.name
        ))
    }
}

impl Provider for Server {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn default_prefix(&self) -> String {
        self.spec.prefix.clone()
    }

    fn trusts_annotations(&self) -> bool {
        self.spec.trust_annotations
    }

    fn call_timeout(&self) -> Duration {
        self.spec.call_timeout
    }

    fn offer(&self) -> BoxFuture<'_, Result<Offer, ProviderError>> {
        let offer = self.current_offer();
        Box::pin(async move { Ok(offer) })
    }

    fn call_tool(
        &self,
        tool: String,
        arguments: JsonObject,
        requester: Requester,
    ) -> BoxFuture<'_, Result<CallToolResult, ProviderError>> {
        Box::pin(async move {
            let mut params = CallToolRequestParams::new(tool);
            params.arguments = Some(arguments);
            let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
            match self.forward("tool call", request, &requester).await? {
                ServerResult::CallToolResult(result) => Ok(result),
                other => Err(self.unexpected("tool call", &other)),
            }
        })
    }

    fn read_resource(
        &self,
        uri: String,
        requester: Requester,
    ) -> BoxFuture<'_, Result<ReadResourceResult, ProviderError>> {
        Box::pin(async move {
            let params = ReadResourceRequestParams::new(uri);
            let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params));
            match self.forward("resource read", request, &requester).await? {
                ServerResult::ReadResourceResult(result) => Ok(result),
                other => Err(self.unexpected("resource", &other)),
            }
        })
    }

    fn get_prompt(
        &self,
        prompt: String,
        arguments: JsonObject,
        requester: Requester,
    ) -> BoxFuture<'_, Result<GetPromptResult, ProviderError>> {
        Box::pin(async move {
            let mut params = GetPromptRequestParams::new(prompt);
            params.arguments = Some(arguments);
            let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(params));
            match self.forward("prompt", request, &requester).await? {
                ServerResult::GetPromptResult(result) => Ok(result),
                other => Err(self.unexpected("prompt", &other)),
            }
        })
    }

    fn complete(
        &self,
        request: Value,
        requester: Requester,
    ) -> BoxFuture<'_, Result<CompletionInfo, ProviderError>> {
        Box::pin(async move {
            let params: CompleteRequestParams = serde_json::from_value(request)
                .map_err(|e| ProviderError::InvalidInput(format!("completion request: {e}")))?;
            let request = ClientRequest::CompleteRequest(CompleteRequest::new(params));
            match self.forward("completion", request, &requester).await? {
                ServerResult::CompleteResult(result) => Ok(result.completion),
                other => Err(self.unexpected("completion", &other)),
            }
        })
    }
}
