//! Progress from downstream servers, passed on in order and before the answer it precedes.
//!
//! rmcp hands each notification to its handler on a task of its own, so a progress
//! notification could reach the client after the answer that followed it on the wire. So
//! progress is taken out as it is read (by the [`super::link`] reader for stdio servers, by the
//! [`Ordered`] transport wrapper for Streamable HTTP ones), queued in wire order to one relay
//! task, and a forwarded request waits for its queued progress before it answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{JsonRpcMessage, ProgressNotificationParam, ServerNotification};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::{Notify, mpsc};

use super::Server;
use crate::requester::Requester;

/// How long an answer waits for its progress to be passed on, at most.
const FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// The progress notifications of one request that are queued but not yet passed on.
#[derive(Default)]
pub struct Pending {
    count: AtomicUsize,
    idle: Notify,
}

impl Pending {
    /// Wait (briefly at most) until every queued notification was passed on.
    pub async fn flushed(&self) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let _ = tokio::time::timeout(FLUSH_LIMIT, async {
            loop {
                let idle = self.idle.notified();
                if self.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await;
    }

    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

type Item = (Requester, ProgressNotificationParam, Arc<Pending>);

/// One server's queue of progress notifications and the task that sends them upstream.
#[derive(Default)]
pub struct Relay {
    queue: std::sync::OnceLock<mpsc::UnboundedSender<Item>>,
}

impl Relay {
    /// Queue `params` for `requester`.
    pub fn send(
        &self,
        requester: Requester,
        params: ProgressNotificationParam,
        pending: Arc<Pending>,
    ) {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(relay(receiver));
            sender
        });
        pending.count.fetch_add(1, Ordering::AcqRel);
        if let Err(unsent) = queue.send((requester, params, pending)) {
            unsent.0.2.done();
        }
    }
}

async fn relay(mut queue: mpsc::UnboundedReceiver<Item>) {
    while let Some((requester, params, pending)) = queue.recv().await {
        requester
            .progress(params.progress, params.total, params.message)
            .await;
        pending.done();
    }
}

/// A transport that hands progress notifications to the server's relay as they arrive.
pub struct Ordered<T> {
    inner: T,
    server: Arc<Server>,
}

impl<T> Ordered<T> {
    /// Wrap `inner`, the transport of a connection to `server`.
    pub fn new(inner: T, server: Arc<Server>) -> Self {
        Self { inner, server }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Ordered<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let message = self.inner.receive().await?;
            if let JsonRpcMessage::Notification(notification) = &message
                && let ServerNotification::ProgressNotification(progress) =
                    &notification.notification
            {
                self.server.route_progress(progress.params.clone());
                continue;
            }
            return Some(message);
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
