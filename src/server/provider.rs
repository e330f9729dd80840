//! A downstream server as a [`Provider`]: its offer is what it listed when it came up (kept
//! current by its change notices), and every request is forwarded over its live connection
//! with the upstream request's progress, cancellation and questions attached.

use std::time::Duration;

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::RoleClient;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, CancelledNotificationParam, ClientRequest,
    CompleteRequestParams, CompleteResult, CompletionInfo, ErrorCode, GetPromptRequestParams,
    GetPromptResult, JsonObject, ProgressToken, ReadResourceRequestParams, ReadResourceResult,
    RequestId, RequestParamsMeta, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, ServiceError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Server;
use super::link::{Answer, Link};
use super::status::Phase;
use crate::provider::{Offer, Provider, ProviderError};
use crate::requester::Requester;

/// A request switchboard forwards to a server, and the result it expects back.
trait Forwarded: DeserializeOwned {
    /// Its params.
    type Params: Serialize + RequestParamsMeta + Send;
    /// Its JSON-RPC method.
    const METHOD: &'static str;
    /// What it is called in messages.
    const WHAT: &'static str;
    /// The request, for rmcp's client.
    fn request(params: Self::Params) -> ClientRequest;
    /// The result, from rmcp's client (or what came instead).
    fn from_result(result: ServerResult) -> Result<Self, Box<ServerResult>>;
}

macro_rules! forwarded {
    ($result:ty, $params:ty, $method:literal, $what:literal, $request:ident, $variant:ident) => {
        impl Forwarded for $result {
            type Params = $params;
            const METHOD: &'static str = $method;
            const WHAT: &'static str = $what;
            fn request(params: Self::Params) -> ClientRequest {
                ClientRequest::$request(rmcp::model::$request::new(params))
            }
            fn from_result(result: ServerResult) -> Result<Self, Box<ServerResult>> {
                match result {
                    ServerResult::$variant(result) => Ok(result),
                    other => Err(Box::new(other)),
                }
            }
        }
    };
}

forwarded!(
    CallToolResult,
    CallToolRequestParams,
    "tools/call",
    "tool call",
    CallToolRequest,
    CallToolResult
);
forwarded!(
    ReadResourceResult,
    ReadResourceRequestParams,
    "resources/read",
    "resource read",
    ReadResourceRequest,
    ReadResourceResult
);
forwarded!(
    GetPromptResult,
    GetPromptRequestParams,
    "prompts/get",
    "prompt",
    GetPromptRequest,
    GetPromptResult
);
forwarded!(
    CompleteResult,
    CompleteRequestParams,
    "completion/complete",
    "completion",
    CompleteRequest,
    CompleteResult
);

/// A forwarded request's answer, as its channel gives it.
enum Reply {
    Link(Answer),
    Peer(Box<Result<ServerResult, ServiceError>>),
}

/// How a forwarded request reaches its server.
enum Channel {
    /// Straight down a stdio server's pipe.
    Link(Arc<Link>),
    /// Through rmcp's client (Streamable HTTP).
    Peer(Peer<RoleClient>),
}

/// Removes a forwarded request from the in-flight list when it ends; a request abandoned
/// before its answer (timeout, upstream cancellation) is cancelled downstream too.
struct Tracked<'a> {
    server: &'a Server,
    seq: u64,
    channel: &'a Channel,
    id: RequestId,
    /// Its number on the link, for requests sent that way.
    number: Option<u64>,
    answered: bool,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.server.untrack(self.seq);
        if self.answered {
            return;
        }
        let reason = "cancelled by switchboard's client (or its deadline passed)";
        let param = CancelledNotificationParam::new(Some(self.id.clone()), Some(reason.into()));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        match self.channel {
            Channel::Link(link) => {
                if let Some(number) = self.number {
                    link.forget(number);
                }
                let link = link.clone();
                runtime.spawn(async move {
                    let _ = link.notify("notifications/cancelled", &param).await;
                });
            }
            Channel::Peer(peer) => {
                let peer = peer.clone();
                runtime.spawn(async move {
                    let _ = peer.notify_cancelled(param).await;
                });
            }
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

    /// How to reach the server now, if it is up.
    fn channel(&self) -> Option<Channel> {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        match (&live.link, &live.peer) {
            (Some(link), _) => Some(Channel::Link(link.clone())),
            (None, Some(peer)) => Some(Channel::Peer(peer.clone())),
            (None, None) => None,
        }
    }

    /// Register a request in flight until the returned guard is dropped.
    fn tracked<'a>(
        &'a self,
        channel: &'a Channel,
        id: RequestId,
        token: ProgressToken,
        requester: &Requester,
    ) -> (Tracked<'a>, Arc<super::progress::Pending>) {
        let (seq, progress) = self.track(id.clone(), token, requester.clone());
        let tracked = Tracked {
            server: self,
            seq,
            channel,
            id,
            number: None,
            answered: false,
        };
        (tracked, progress)
    }

    /// Send a request and wait for its answer, forwarding progress and cancellation.
    async fn forward<T: Forwarded>(
        &self,
        mut params: T::Params,
        requester: &Requester,
    ) -> Result<T, ProviderError> {
        let what = T::WHAT;
        let channel = self.channel().ok_or_else(|| self.unavailable())?;
        if requester.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        // Registered before it is sent: the server may ask a question about it at once.
        let (mut tracked, progress, reply): (_, _, BoxFuture<'_, Reply>) = match &channel {
            Channel::Link(link) => {
                let Ok(sent) = link.reserve() else {
                    return Err(self.lost(what).await);
                };
                let id = sent.id.clone();
                params.set_progress_token(ProgressToken(id.clone()));
                let (mut tracked, progress) =
                    self.tracked(&channel, id.clone(), ProgressToken(id), requester);
                tracked.number = Some(sent.number());
                if link.send(&sent, T::METHOD, &params).await.is_err() {
                    tracked.answered = true;
                    return Err(self.lost(what).await);
                }
                let reply = Box::pin(async move { Reply::Link(sent.answer().await) });
                (tracked, progress, reply)
            }
            Channel::Peer(peer) => {
                let handle = match peer
                    .send_request_with_option(T::request(params), PeerRequestOptions::no_options())
                    .await
                {
                    Ok(handle) => handle,
                    Err(ServiceError::TransportClosed) => return Err(self.lost(what).await),
                    Err(e) => return Err(self.failure(e)),
                };
                let (id, token) = (handle.id.clone(), handle.progress_token.clone());
                let (tracked, progress) = self.tracked(&channel, id, token, requester);
                let reply =
                    Box::pin(async move { Reply::Peer(Box::new(handle.await_response().await)) });
                (tracked, progress, reply)
            }
        };
        let reply = tokio::select! {
            reply = reply => reply,
            () = requester.cancellation().cancelled() => return Err(ProviderError::Cancelled),
        };
        tracked.answered = true;
        // Progress the server sent before its answer reaches the client before the answer.
        progress.flushed().await;
        drop(tracked);
        match reply {
            Reply::Link(Answer::Result(result)) => {
                serde_json::from_str(result.get()).map_err(|e| {
                    ProviderError::Failed(format!(
                        "server {} answered a {what} with something that is not its result: {e}",
                        self.spec.name
                    ))
                })
            }
            Reply::Link(Answer::Error(error)) => Err(self.failure(ServiceError::McpError(error))),
            Reply::Link(Answer::Closed) => Err(self.lost(what).await),
            Reply::Peer(result) => match *result {
                Ok(result) => T::from_result(result).map_err(|other| self.unexpected(what, &other)),
                Err(ServiceError::TransportClosed) => Err(self.lost(what).await),
                Err(e) => Err(self.failure(e)),
            },
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
            self.forward(params, &requester).await
        })
    }

    fn read_resource(
        &self,
        uri: String,
        requester: Requester,
    ) -> BoxFuture<'_, Result<ReadResourceResult, ProviderError>> {
        Box::pin(async move {
            self.forward(ReadResourceRequestParams::new(uri), &requester)
                .await
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
            self.forward(params, &requester).await
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
            let result: CompleteResult = self.forward(params, &requester).await?;
            Ok(result.completion)
        })
    }
}
