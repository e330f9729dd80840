//! The way back to whoever made a request: progress, log notifications, cancellation,
//! elicitation and sampling, for one request.
//!
//! Providers and layers receive a [`Requester`] and never see rmcp's request context, so the
//! same code serves an MCP session, the CLI's in-process `call` and, later, other transports.

#![allow(deprecated)] // MCP logging and sampling are deprecated in 2026-07-28 but current before it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::Peer;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The least severe level a session wants log notifications for. Shared by every request of
/// a session; `logging/setLevel` changes it.
#[derive(Clone, Debug)]
pub struct LogGate(Arc<AtomicU8>);

impl Default for LogGate {
    fn default() -> Self {
        Self(Arc::new(AtomicU8::new(level_rank(LoggingLevel::Info))))
    }
}

impl LogGate {
    /// Change the minimum level.
    pub fn set(&self, level: LoggingLevel) {
        self.0.store(level_rank(level), Ordering::Relaxed);
    }

    /// Whether a message of `level` passes.
    pub fn allows(&self, level: LoggingLevel) -> bool {
        level_rank(level) >= self.0.load(Ordering::Relaxed)
    }
}

/// Severity order of MCP log levels.
pub fn level_rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// What the client of a session declared it can do.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientAbilities {
    /// It answers `elicitation/create`.
    pub elicitation: bool,
    /// It answers `sampling/createMessage`.
    pub sampling: bool,
    /// It renders MCP Apps (the `io.modelcontextprotocol/ui` extension, HTML views).
    pub apps: bool,
}

/// Why asking the client failed.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The client did not declare the capability, or there is no client (CLI).
    #[error("{0}")]
    NotSupported(String),
    /// The request failed or timed out.
    #[error("{0}")]
    Failed(String),
}

/// Asks the person another way when the client cannot (the approval inbox).
pub trait ElicitFallback: Send + Sync {
    /// Ask on behalf of `asker` (a plugin's name).
    fn elicit<'a>(
        &'a self,
        asker: &'a str,
        requester: &'a Requester,
        params: ElicitRequestParams,
    ) -> futures::future::BoxFuture<'a, Result<ElicitResult, AskError>>;
}

/// The link to the requester of one request. Cheap to clone.
#[derive(Clone)]
pub struct Requester {
    inner: Arc<Inner>,
}

struct Inner {
    request_id: String,
    peer: Option<Peer<RoleServer>>,
    progress_token: Option<ProgressToken>,
    abilities: ClientAbilities,
    /// A 2026-07-28 stateless request: the server may not send requests to the client.
    stateless: bool,
    cancel: CancellationToken,
    logs: LogGate,
    fallback: Option<Arc<dyn ElicitFallback>>,
    /// Where progress and notices go when there is no client to send them to (the CLI).
    local: Option<Arc<dyn LocalReport>>,
    /// Who asks, as approval answers are bound (see [`Requester::asker`]).
    asker: String,
}

/// Where a request with no client reports (the CLI's terminal): its progress, and the
/// notices a provider meant for the person (e.g. that results are incomplete).
pub trait LocalReport: Send + Sync {
    /// Progress, as a client would get it.
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>);
    /// A log message of level notice or above, as text.
    fn notice(&self, text: &str);
}

/// How long a question to the person may stay unanswered.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(600);

impl Requester {
    /// A request from an MCP session, asked by `asker` ([`Requester::asker`]). `cancel`
    /// should be a child of the request's token, so timing a call out never touches the
    /// transport's own token.
    #[allow(clippy::too_many_arguments)] // each is one fact of the request, named
    pub fn session(
        request_id: String,
        asker: String,
        peer: Peer<RoleServer>,
        progress_token: Option<ProgressToken>,
        abilities: ClientAbilities,
        stateless: bool,
        cancel: CancellationToken,
        logs: LogGate,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                request_id,
                peer: Some(peer),
                progress_token,
                abilities,
                stateless,
                cancel,
                logs,
                fallback: None,
                local: None,
                asker,
            }),
        }
    }

    /// A request with no client behind it (the CLI), asked by `asker`; progress and logs go
    /// to the log.
    pub fn local(request_id: String, asker: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                request_id,
                peer: None,
                progress_token: None,
                abilities: ClientAbilities::default(),
                stateless: false,
                cancel: CancellationToken::new(),
                logs: LogGate::default(),
                fallback: None,
                local: None,
                asker,
            }),
        }
    }

    /// Who asks, as approval answers and grants are bound: `session <id>`, or for a
    /// stateless (2026-07-28) request, which has no session, `client <name/version>`.
    pub fn asker(&self) -> &str {
        &self.inner.asker
    }

    /// Whether the client renders MCP Apps.
    pub fn shows_apps(&self) -> bool {
        self.inner.peer.is_some() && self.inner.abilities.apps
    }

    /// Whether the client declared it can ask the person (elicitation).
    pub fn can_elicit(&self) -> bool {
        self.inner.peer.is_some() && self.inner.abilities.elicitation
    }

    /// Whether this is a stateless 2026-07-28 request (the server may not send requests).
    pub fn is_stateless(&self) -> bool {
        self.inner.stateless
    }

    /// The request's id as recorded in the audit log.
    pub fn request_id(&self) -> &str {
        &self.inner.request_id
    }

    /// The request's cancellation token (cancelled by the client or by a deadline).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// Whether the request was cancelled or timed out.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Report progress, when the client asked for it.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let (Some(peer), Some(token)) = (&self.inner.peer, &self.inner.progress_token) else {
            tracing::debug!(request = %self.inner.request_id, progress, ?total, ?message, "progress");
            if let Some(local) = &self.inner.local {
                local.progress(progress, total, message.as_deref());
            }
            return;
        };
        let mut param = ProgressNotificationParam::new(token.clone(), progress);
        param.total = total;
        param.message = message;
        if let Err(e) = peer.notify_progress(param).await {
            tracing::debug!(error = %e, "progress notification not sent");
        }
    }

    /// Send a log notification to the client, if its level passes the session's gate.
    pub async fn log(&self, level: LoggingLevel, logger: Option<String>, data: Value) {
        let Some(peer) = &self.inner.peer else {
            tracing::info!(request = %self.inner.request_id, ?level, ?logger, %data, "plugin log");
            let for_the_person = !matches!(level, LoggingLevel::Debug | LoggingLevel::Info);
            if let (Some(local), true) = (&self.inner.local, for_the_person) {
                match &data {
                    Value::String(text) => local.notice(text),
                    other => local.notice(&other.to_string()),
                }
            }
            return;
        };
        if !self.inner.logs.allows(level) {
            return;
        }
        let mut param = LoggingMessageNotificationParam::new(level, data);
        param.logger = logger;
        if let Err(e) = peer.notify_logging_message(param).await {
            tracing::debug!(error = %e, "log notification not sent");
        }
    }

    fn ask_peer(&self, what: &str, declared: bool) -> Result<&Peer<RoleServer>, AskError> {
        let Some(peer) = &self.inner.peer else {
            return Err(AskError::NotSupported(format!(
                "{what} needs an MCP client; there is none for a command-line call"
            )));
        };
        if self.inner.stateless {
            return Err(AskError::NotSupported(format!(
                "{what} is not available on a stateless (2026-07-28) request"
            )));
        }
        if !declared {
            return Err(AskError::NotSupported(format!(
                "the client did not declare the {what} capability"
            )));
        }
        Ok(peer)
    }

    /// The same requester, asking `fallback` when the client cannot ask the person.
    pub fn with_fallback(self, fallback: Arc<dyn ElicitFallback>) -> Self {
        self.rebuilt(|inner| inner.fallback = Some(fallback))
    }

    /// A copy whose progress and notices, having no client to go to, go to `report` as well
    /// as the log.
    pub fn with_local_report(self, report: Arc<dyn LocalReport>) -> Self {
        self.rebuilt(|inner| inner.local = Some(report))
    }

    /// A copy with `change` applied (the link is shared, so it is copied, not mutated).
    fn rebuilt(&self, change: impl FnOnce(&mut Inner)) -> Self {
        let inner = &self.inner;
        let mut copy = Inner {
            request_id: inner.request_id.clone(),
            peer: inner.peer.clone(),
            progress_token: inner.progress_token.clone(),
            abilities: inner.abilities,
            stateless: inner.stateless,
            cancel: inner.cancel.clone(),
            logs: inner.logs.clone(),
            fallback: inner.fallback.clone(),
            local: inner.local.clone(),
            asker: inner.asker.clone(),
        };
        change(&mut copy);
        Self {
            inner: Arc::new(copy),
        }
    }

    /// Ask the person on behalf of `asker` (a plugin): through the client when it can,
    /// else through the fallback (the approval inbox).
    pub async fn elicit_for(
        &self,
        asker: &str,
        params: ElicitRequestParams,
    ) -> Result<ElicitResult, AskError> {
        match (
            &self.inner.fallback,
            self.ask_peer("elicitation", self.inner.abilities.elicitation),
        ) {
            (Some(fallback), Err(AskError::NotSupported(_))) => {
                fallback.elicit(asker, self, params).await
            }
            _ => self.elicit(params).await,
        }
    }

    /// Ask the person a question through the client.
    pub async fn elicit(&self, params: ElicitRequestParams) -> Result<ElicitResult, AskError> {
        let peer = self.ask_peer("elicitation", self.inner.abilities.elicitation)?;
        tokio::select! {
            answer = peer.create_elicitation_with_timeout(params, Some(ASK_TIMEOUT)) =>
                answer.map_err(|e| AskError::Failed(format!("elicitation failed: {e}"))),
            () = self.inner.cancel.cancelled() => Err(AskError::Failed("the request was cancelled while waiting for an answer".into())),
        }
    }

    /// Ask the client's model.
    pub async fn sample(
        &self,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, AskError> {
        let peer = self.ask_peer("sampling", self.inner.abilities.sampling)?;
        tokio::select! {
            answer = peer.create_message(params) =>
                answer.map_err(|e| AskError::Failed(format!("sampling failed: {e}"))),
            () = self.inner.cancel.cancelled() => Err(AskError::Failed("the request was cancelled while waiting for the model".into())),
        }
    }

    /// The same requester with its own cancellation token, a child of this one's (a deadline
    /// cancels the child without touching the request's token).
    pub fn with_child_cancellation(&self) -> Self {
        let child = self.inner.cancel.child_token();
        self.rebuilt(|inner| inner.cancel = child)
    }
}
