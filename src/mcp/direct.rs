//! The direct lane: `tools/call` requests of an initialized stdio session answered without a
//! trip through rmcp's service loop.
//!
//! A tool call is the request clients send most, and rmcp's road for it (a channel to the
//! service loop, a task per request, a channel back, the loop's write) costs more than a
//! small downstream server takes to answer. Here the stdio reader hands the call to
//! [`Face::tool_call`], the same function rmcp's handler calls, on a task of its own, and the
//! answer is written on the same output rmcp writes to. Everything the pipeline does (audit,
//! validation, approval, deadline) and everything a provider may ask of the client (progress,
//! log messages, elicitation, sampling, through rmcp's peer) is unchanged.
//!
//! The lane opens when a classic (`initialize`) session is initialized. Calls that carry the
//! 2026-07-28 per-request metadata or answer an input-required result go through rmcp.

use rmcp::ErrorData as McpError;
use rmcp::RoleServer;
use rmcp::model::{CallToolRequestParams, ServerJsonRpcMessage, ServerResult};
use rmcp::service::Peer;
use tokio_util::sync::CancellationToken;

use super::stdio::{Reply, Shortcut};
use super::{Face, abilities};
use crate::requester::ClientAbilities;

/// What the lane knows of its session, fixed at initialization.
pub struct Lane {
    peer: Peer<RoleServer>,
    abilities: ClientAbilities,
}

impl Face {
    /// Open the direct lane for the session `peer` just initialized.
    pub(super) fn open_lane(&self, peer: Peer<RoleServer>) {
        let Some(info) = peer.peer_info() else {
            return;
        };
        self.session_of(Some(&info.client_info));
        let lane = Lane {
            abilities: abilities(Some(&info.capabilities)),
            peer,
        };
        let _ = self.inner.direct.set(lane);
    }
}

impl Shortcut for Face {
    fn accepts(&self, params: &CallToolRequestParams) -> bool {
        let per_request = params.meta.as_ref().is_some_and(|meta| {
            meta.protocol_version().is_some()
                || meta.client_info().is_some()
                || meta.client_capabilities().is_some()
        });
        self.inner.direct.get().is_some()
            && !per_request
            && params.input_responses.is_none()
            && params.request_state.is_none()
    }

    fn call_tool(&self, params: CallToolRequestParams, cancel: CancellationToken, reply: Reply) {
        let face = self.clone();
        // Boxed: the call's future is large, and the runtime would otherwise copy all of it
        // at each step of spawning.
        tokio::spawn(Box::pin(async move {
            let message = face.answer(params, cancel, &reply).await;
            reply.send(message).await;
        }));
    }
}

impl Face {
    async fn answer(
        &self,
        params: CallToolRequestParams,
        cancel: CancellationToken,
        reply: &Reply,
    ) -> ServerJsonRpcMessage {
        let id = reply.id().clone();
        let Some(lane) = self.inner.direct.get() else {
            let error = McpError::internal_error("the session is not initialized", None);
            return ServerJsonRpcMessage::error(error, Some(id));
        };
        let session = self.session_of(None);
        let progress_token = params.meta.as_ref().and_then(|m| m.get_progress_token());
        let requester = self.requester_for(
            &session,
            &id,
            lane.peer.clone(),
            progress_token,
            lane.abilities,
            false,
            cancel,
        );
        match self.tool_call(params, session, requester).await {
            // As rmcp answers a session that predates 2026-07-28.
            Ok(response) => match ServerResult::from(response) {
                ServerResult::InputRequiredResult(_) => ServerJsonRpcMessage::error(
                    McpError::invalid_request(
                        "InputRequiredResult requires negotiated protocol version 2026-07-28 or newer",
                        None,
                    ),
                    Some(id),
                ),
                mut result => {
                    result.strip_result_type_for_legacy_peer();
                    ServerJsonRpcMessage::response(result, id)
                }
            },
            Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
        }
    }
}
