//! Relaying the hub's notices to one connection: `list_changed` notifications and log
//! messages.
//!
//! Classic sessions get plain notifications on their peer. 2026-07-28 clients only hear
//! changes on `subscriptions/listen` streams; rmcp acknowledges a stream before our `listen`
//! runs, so a catch-up notification closes the gap in which a change could be missed.

#![allow(deprecated)] // logging notifications are deprecated in 2026-07-28 only.

use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::model::LoggingMessageNotificationParam;
use rmcp::service::{Peer, SubscriptionContext, SubscriptionSink};
use tokio::sync::broadcast::error::RecvError;

use crate::catalog::Changes;
use crate::hub::{Hub, Notice};
use crate::requester::LogGate;

/// The peers and listen streams of one connection.
#[derive(Clone, Default)]
pub struct Relay {
    inner: Arc<Targets>,
}

#[derive(Default)]
struct Targets {
    peers: Mutex<Vec<Peer<RoleServer>>>,
    sinks: Mutex<Vec<SubscriptionSink>>,
    /// The subscription to forward, until forwarding starts.
    pending: Mutex<Option<(tokio::sync::broadcast::Receiver<Notice>, LogGate)>>,
}

impl Relay {
    /// Start relaying `hub`'s notices; stops when the connection's last handle is gone.
    pub fn start(hub: &Hub, logs: LogGate) -> Self {
        // Subscribe now (nothing is missed), but forward only once someone listens: a
        // stateless HTTP request gets a handler of its own and never needs the task.
        let pending = Mutex::new(Some((hub.subscribe(), logs)));
        Self {
            inner: Arc::new(Targets {
                pending,
                ..Targets::default()
            }),
        }
    }

    fn ensure_forwarding(&self) {
        let Some((mut notices, logs)) = self
            .inner
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let targets = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                let notice = match notices.recv().await {
                    Ok(notice) => notice,
                    // Missed notices: announce everything, clients re-list.
                    Err(RecvError::Lagged(_)) => Notice::Changed(Changes {
                        tools: true,
                        resources: true,
                        prompts: true,
                    }),
                    Err(RecvError::Closed) => return,
                };
                let Some(targets) = targets.upgrade() else {
                    return;
                };
                targets.deliver(&notice, &logs).await;
            }
        });
    }

    /// A classic session finished its handshake.
    pub fn add_peer(&self, peer: Peer<RoleServer>) {
        self.ensure_forwarding();
        self.inner
            .peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(peer);
    }

    /// Serve one `subscriptions/listen` stream until it is cancelled.
    pub async fn listen(&self, ctx: SubscriptionContext) {
        self.ensure_forwarding();
        let sink = ctx.sink().clone();
        let id = sink.id().clone();
        self.inner
            .sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sink.clone());
        let accepted = ctx.accepted();
        if accepted.tools_list_changed == Some(true) {
            let _ = sink.notify_tool_list_changed().await;
        }
        if accepted.prompts_list_changed == Some(true) {
            let _ = sink.notify_prompt_list_changed().await;
        }
        if accepted.resources_list_changed == Some(true) {
            let _ = sink.notify_resource_list_changed().await;
        }
        ctx.cancelled().await;
        self.inner
            .sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|s| s.id() != &id);
    }
}

impl Targets {
    async fn deliver(&self, notice: &Notice, logs: &LogGate) {
        let peers: Vec<Peer<RoleServer>> =
            self.peers.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let sinks: Vec<SubscriptionSink> =
            self.sinks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match notice {
            Notice::Changed(changes) => {
                for peer in &peers {
                    if changes.tools {
                        let _ = peer.notify_tool_list_changed().await;
                    }
                    if changes.prompts {
                        let _ = peer.notify_prompt_list_changed().await;
                    }
                    if changes.resources {
                        let _ = peer.notify_resource_list_changed().await;
                    }
                }
                for sink in &sinks {
                    // A stream that did not ask for a kind refuses it; that is fine.
                    if changes.tools {
                        let _ = sink.notify_tool_list_changed().await;
                    }
                    if changes.prompts {
                        let _ = sink.notify_prompt_list_changed().await;
                    }
                    if changes.resources {
                        let _ = sink.notify_resource_list_changed().await;
                    }
                }
            }
            Notice::Log {
                level,
                logger,
                data,
            } => {
                if !logs.allows(*level) {
                    return;
                }
                for peer in &peers {
                    let mut param = LoggingMessageNotificationParam::new(*level, data.clone());
                    param.logger = Some(logger.clone());
                    let _ = peer.notify_logging_message(param).await;
                }
            }
        }
    }
}
