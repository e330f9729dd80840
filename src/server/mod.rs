//! Downstream MCP servers: the entries of `servers_config.json`, each started, supervised and
//! re-exposed as a [`Provider`](crate::provider::Provider) like any plugin.
//!
//! - [`config`]: the file (Claude Desktop's `mcpServers` format plus switchboard's keys);
//! - [`process`]: child processes in their own process group, ended as a group;
//! - `guard`: what each stdio server runs under (`switchboard __guard`), so that nothing it
//!   starts outlives switchboard, kill -9 included;
//! - [`supervise`]: start, watch, restart with backoff, stop;
//! - [`link`]: a stdio server's pipes, where forwarded requests skip rmcp's client;
//! - [`client`]: the rmcp client handler that carries a server's notifications and questions
//!   back to the request that caused them;
//! - [`provider`]: forwarding tools, resources, prompts and completion to a running server;
//! - [`status`]: each server's state and the `switchboard://status` resource.
//!
//! A server that is down offers nothing; when its offer changes it sends a
//! [`ServerEvent::Changed`] and the hub refreshes the catalog (which tells clients).

#![allow(deprecated)] // MCP log levels are deprecated in 2026-07-28 only.

pub mod client;
pub mod config;
#[cfg(unix)]
pub mod guard;
pub mod link;
pub mod process;
pub mod progress;
pub mod provider;
pub mod status;
pub mod supervise;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{LoggingLevel, ProgressToken, RequestId};
use rmcp::service::Peer;
use serde_json::Value;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::provider::{Offer, SharedProvider};
use crate::requester::Requester;
use config::{EntryKind, ServerSpec, ServersFile};
use status::{Phase, ServerStatus, StatusProvider};

/// Something the hub should act on.
#[derive(Debug)]
pub enum ServerEvent {
    /// A server's offer changed (it came up, went down, or announced a list change).
    Changed(String),
    /// A server sent a log message.
    Log {
        /// The server.
        server: String,
        /// Its level.
        level: LoggingLevel,
        /// The server's own logger name, if any.
        logger: Option<String>,
        /// The message.
        data: Value,
    },
}

/// How many lines of a server's stderr are kept for error reports.
const STDERR_TAIL: usize = 8;

/// One request switchboard forwarded and is waiting on.
struct Forwarded {
    seq: u64,
    id: RequestId,
    token: ProgressToken,
    requester: Requester,
    progress: Arc<progress::Pending>,
}

/// What a running server offers and how to reach it.
#[derive(Default)]
struct Live {
    peer: Option<Peer<RoleClient>>,
    /// A stdio server's pipes, for forwarded requests.
    link: Option<Arc<link::Link>>,
    offer: Offer,
}

/// One configured server: its spec, its live connection and its status. The supervisor
/// drives it; the catalog calls it as a provider.
pub struct Server {
    spec: ServerSpec,
    live: RwLock<Live>,
    status: watch::Sender<ServerStatus>,
    inflight: Mutex<Vec<Forwarded>>,
    registered: Notify,
    seq: AtomicU64,
    events: mpsc::UnboundedSender<ServerEvent>,
    stop: CancellationToken,
    refused: Mutex<Option<String>>,
    stderr: Mutex<VecDeque<String>>,
    progress: progress::Relay,
    /// Re-reading a list after a change notice, one at a time, so the last read wins.
    refetching: tokio::sync::Mutex<()>,
}

impl Server {
    fn new(spec: ServerSpec, events: mpsc::UnboundedSender<ServerEvent>) -> Self {
        let status = ServerStatus::new(&spec.name, Some(spec.transport.kind()), Phase::Starting);
        Self {
            spec,
            live: RwLock::default(),
            status: watch::channel(status).0,
            inflight: Mutex::default(),
            registered: Notify::new(),
            seq: AtomicU64::new(0),
            events,
            stop: CancellationToken::new(),
            refused: Mutex::new(None),
            stderr: Mutex::default(),
            progress: progress::Relay::default(),
            refetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Its configuration.
    pub fn spec(&self) -> &ServerSpec {
        &self.spec
    }

    /// Its status now.
    pub fn status(&self) -> ServerStatus {
        self.status.borrow().clone()
    }

    /// Follow its status.
    pub fn watch_status(&self) -> watch::Receiver<ServerStatus> {
        self.status.subscribe()
    }

    fn update_status(&self, change: impl FnOnce(&mut ServerStatus)) {
        self.status.send_modify(change);
    }

    fn set_phase(&self, phase: Phase) {
        self.update_status(|s| {
            if s.state != phase {
                s.since = status::now();
            }
            s.state = phase;
            if phase != Phase::Running {
                s.pid = None;
                s.tools = 0;
            }
            if phase != Phase::BackingOff {
                s.retry_in_ms = None;
            }
        });
    }

    /// The peer of the running connection, if it is up.
    fn peer(&self) -> Option<Peer<RoleClient>> {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .peer
            .clone()
    }

    /// What it offers now (nothing while it is down).
    pub fn current_offer(&self) -> Offer {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .offer
            .clone()
    }

    /// It is up: serve `offer` through `peer` (and `link`, for a stdio server).
    fn go_live(
        &self,
        peer: Peer<RoleClient>,
        link: Option<Arc<link::Link>>,
        offer: Offer,
        pid: Option<u32>,
    ) {
        let tools = offer.tools.len();
        {
            let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
            live.peer = Some(peer);
            live.link = link;
            live.offer = offer;
        }
        self.update_status(|s| {
            s.state = Phase::Running;
            s.since = status::now();
            s.pid = pid;
            s.tools = tools;
            s.retry_in_ms = None;
        });
        tracing::info!(server = %self.spec.name, tools, "downstream server running");
        let _ = self
            .events
            .send(ServerEvent::Changed(self.spec.name.clone()));
    }

    /// It is down: offer nothing.
    fn withdraw(&self) {
        let had = {
            let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
            let had = live.peer.is_some();
            *live = Live::default();
            had
        };
        if had {
            let _ = self
                .events
                .send(ServerEvent::Changed(self.spec.name.clone()));
        }
    }

    /// Replace part of the offer after the server announced a change.
    fn update_offer(&self, change: impl FnOnce(&mut Offer)) {
        let tools = {
            let mut live = self.live.write().unwrap_or_else(|e| e.into_inner());
            if live.peer.is_none() {
                return;
            }
            change(&mut live.offer);
            live.offer.tools.len()
        };
        self.update_status(|s| s.tools = tools);
        let _ = self
            .events
            .send(ServerEvent::Changed(self.spec.name.clone()));
    }

    fn note_stderr(&self, line: String) {
        let mut tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }

    fn clear_stderr(&self) {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The last lines the server wrote to stderr, joined for an error message.
    fn stderr_tail(&self) -> Option<String> {
        let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&str> = tail
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect();
        (!lines.is_empty()).then(|| lines.join(" | "))
    }

    /// Remember that `requester` waits on the request `id` whose progress token is `token`;
    /// returns its number and the count of its progress notifications not yet passed on.
    fn track(
        &self,
        id: RequestId,
        token: ProgressToken,
        requester: Requester,
    ) -> (u64, Arc<progress::Pending>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let pending = Arc::new(progress::Pending::default());
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Forwarded {
                seq,
                id,
                token,
                requester,
                progress: pending.clone(),
            });
        self.registered.notify_waiters();
        (seq, pending)
    }

    /// Pass a progress notification on to the request it belongs to, in the order the server
    /// sent it (called as it is read from the transport, before any later answer).
    fn route_progress(self: &Arc<Self>, params: rmcp::model::ProgressNotificationParam) {
        let found = self
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|f| f.token == params.progress_token)
            .map(|f| (f.requester.clone(), f.progress.clone()));
        match found {
            Some((requester, pending)) => self.progress.send(requester, params, pending),
            // Sent before its request was registered (a busy moment): look it up shortly.
            None => {
                let server = self.clone();
                tokio::spawn(async move {
                    if let Some(requester) =
                        server.requester_for_progress(&params.progress_token).await
                    {
                        requester
                            .progress(params.progress, params.total, params.message)
                            .await;
                    }
                });
            }
        }
    }

    fn untrack(&self, seq: u64) {
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|f| f.seq != seq);
    }

    /// The requester of the forwarded request whose progress token is `token`. The request
    /// may have reached the server a moment before it was registered, so wait briefly.
    async fn requester_for_progress(&self, token: &ProgressToken) -> Option<Requester> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        loop {
            let registered = self.registered.notified();
            if let Some(found) = self
                .inflight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|f| &f.token == token)
            {
                return Some(found.requester.clone());
            }
            if tokio::time::timeout_at(deadline, registered).await.is_err() {
                return None;
            }
        }
    }

    /// The requester a server's question belongs to: the request it arrived with when the
    /// transport says (Streamable HTTP); else, as stdio carries no such link, the most recent
    /// forwarded request, provided every request in flight comes from the same client
    /// session (a question is never shown to a client it may not belong to).
    fn requester_for_question(&self, origin: Option<&RequestId>) -> Result<Requester, String> {
        let inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = origin
            && let Some(found) = inflight.iter().find(|f| &f.id == id)
        {
            return Ok(found.requester.clone());
        }
        let Some(latest) = inflight.iter().max_by_key(|f| f.seq) else {
            return Err("it asked while none of its requests was running".into());
        };
        let session = |r: &Requester| {
            r.request_id()
                .rsplit_once('/')
                .map(|(session, _)| session.to_string())
        };
        let mine = session(&latest.requester);
        if inflight.iter().any(|f| session(&f.requester) != mine) {
            return Err(format!(
                "it asked while {} of its requests from different clients were running, and switchboard cannot tell which one the question belongs to",
                inflight.len()
            ));
        }
        Ok(latest.requester.clone())
    }
}

/// Every configured server.
#[derive(Clone)]
pub struct Servers {
    inner: Arc<Set>,
}

struct Set {
    file: ServersFile,
    servers: Vec<Arc<Server>>,
    /// Disabled and invalid entries, which never run.
    fixed: Vec<ServerStatus>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The live report this process keeps current, and the task writing it.
    report: Mutex<Option<(PathBuf, tokio::task::JoinHandle<()>)>>,
}

impl Servers {
    /// Read the servers file at `path`; nothing starts yet. Also returns where the servers'
    /// events arrive.
    pub fn load(path: &Path) -> (Self, mpsc::UnboundedReceiver<ServerEvent>) {
        let file = config::load(path);
        if let Some(error) = &file.error {
            tracing::error!("{error}; no downstream server is started");
        }
        let (events, receiver) = mpsc::unbounded_channel();
        let mut servers = Vec::new();
        let mut fixed = Vec::new();
        for entry in &file.entries {
            for key in &entry.ignored_keys {
                tracing::warn!(server = %entry.name, "{}: mcpServers.{}.{key} is not a switchboard key; it is ignored", file.path.display(), entry.name);
            }
            match &entry.kind {
                EntryKind::Enabled(spec) => {
                    servers.push(Arc::new(Server::new(spec.clone(), events.clone())))
                }
                EntryKind::Disabled(spec) => fixed.push(ServerStatus::new(
                    &spec.name,
                    Some(spec.transport.kind()),
                    Phase::Disabled,
                )),
                EntryKind::Invalid(message) => {
                    tracing::error!(server = %entry.name, "{message}");
                    let mut status = ServerStatus::new(&entry.name, None, Phase::Invalid);
                    status.last_error = Some(message.clone());
                    fixed.push(status);
                }
            }
        }
        let set = Set {
            file,
            servers,
            fixed,
            tasks: Mutex::default(),
            report: Mutex::default(),
        };
        (
            Self {
                inner: Arc::new(set),
            },
            receiver,
        )
    }

    /// Only `spec`, read from the file at `path` (for trying one server).
    pub fn single(path: &Path, spec: ServerSpec) -> Self {
        let (events, _) = mpsc::unbounded_channel();
        let set = Set {
            file: ServersFile {
                path: path.to_path_buf(),
                ..ServersFile::default()
            },
            servers: vec![Arc::new(Server::new(spec, events))],
            fixed: Vec::new(),
            tasks: Mutex::default(),
            report: Mutex::default(),
        };
        Self {
            inner: Arc::new(set),
        }
    }

    /// Keep a report of the servers' states in `state_dir` while this process serves, for
    /// `switchboard servers list`; it is removed at shutdown.
    pub fn publish(&self, state_dir: &Path) {
        let folder = status::reports_folder(state_dir);
        if let Err(e) = std::fs::create_dir_all(&folder) {
            tracing::warn!(folder = %folder.display(), error = %e, "cannot keep the servers' status report");
            return;
        }
        let path = folder.join(format!("{}.json", std::process::id()));
        let servers = self.clone();
        let target = path.clone();
        let task = tokio::spawn(async move {
            let since = status::now();
            let mut watches: Vec<_> = servers
                .inner
                .servers
                .iter()
                .map(|s| s.watch_status())
                .collect();
            loop {
                let report = status::LiveReport {
                    pid: std::process::id(),
                    since: since.clone(),
                    file: servers.inner.file.path.clone(),
                    servers: servers.statuses(),
                };
                if let Err(e) = status::write_report(&target, &report).await {
                    tracing::warn!(file = %target.display(), error = %e, "cannot write the servers' status report");
                }
                if watches.is_empty() {
                    return;
                }
                let changes = watches.iter_mut().map(|w| Box::pin(w.changed()));
                let (changed, _, _) = futures::future::select_all(changes).await;
                if changed.is_err() {
                    return;
                }
            }
        });
        *self.inner.report.lock().unwrap_or_else(|e| e.into_inner()) = Some((path, task));
    }

    /// The servers file in force.
    pub fn file(&self) -> &ServersFile {
        &self.inner.file
    }

    /// Start every enabled server in the background (each under its own supervisor).
    pub fn start(&self) {
        let mut tasks = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if !tasks.is_empty() {
            return;
        }
        for server in &self.inner.servers {
            tasks.push(tokio::spawn(supervise::supervise(server.clone())));
        }
    }

    /// The enabled servers.
    pub fn servers(&self) -> &[Arc<Server>] {
        &self.inner.servers
    }

    /// The enabled servers as providers, in name order.
    pub fn providers(&self) -> Vec<SharedProvider> {
        self.inner
            .servers
            .iter()
            .map(|s| s.clone() as SharedProvider)
            .collect()
    }

    /// Every server's state, in name order.
    pub fn statuses(&self) -> Vec<ServerStatus> {
        let mut all: Vec<ServerStatus> = self
            .inner
            .servers
            .iter()
            .map(|s| s.status())
            .chain(self.inner.fixed.iter().cloned())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// The provider of `switchboard://status`.
    pub fn status_provider(&self) -> StatusProvider {
        let servers = self.clone();
        StatusProvider::new(Arc::new(move || servers.statuses()))
    }

    /// Wait until no server is still on its first way up, or until `deadline`.
    pub async fn wait_settled(&self, deadline: Option<tokio::time::Instant>) {
        let waits = self.inner.servers.iter().map(|server| {
            let mut status = server.watch_status();
            async move {
                let _ = status.wait_for(|s| !s.state.is_unsettled()).await;
            }
        });
        let all = futures::future::join_all(waits);
        match deadline {
            Some(deadline) => {
                let _ = tokio::time::timeout_at(deadline, all).await;
            }
            None => {
                all.await;
            }
        }
    }

    /// The server still starting whose prefix `tool` (a name as clients see it) carries, if
    /// any: a call of that name may be for a tool it is about to offer. A server without a
    /// prefix claims no name, so unknown names never wait on it.
    pub fn starting_for(&self, tool: &str) -> Option<&Arc<Server>> {
        let (prefix, _) = tool.split_once(crate::catalog::naming::SEPARATOR)?;
        self.inner
            .servers
            .iter()
            .find(|s| s.spec.prefix == prefix && s.status.borrow().state.is_unsettled())
    }

    /// Whether `name` is one of the downstream servers.
    pub fn is_server(&self, name: &str) -> bool {
        self.inner.servers.iter().any(|s| s.spec.name == name)
    }

    /// Note on each server which of its resources the catalog withholds (another provider
    /// offers the same URIs first), so its status says so; the others' notes are cleared.
    pub fn withhold(&self, withheld: &[crate::catalog::Withheld]) {
        for server in &self.inner.servers {
            let mine: Vec<_> = withheld
                .iter()
                .filter(|w| w.from == server.spec.name)
                .cloned()
                .collect();
            if server.status.borrow().withheld != mine {
                server.update_status(|s| s.withheld = mine);
            }
        }
    }

    /// Stop serving `name` because its names collide with another provider's.
    pub fn refuse(&self, name: &str, reason: &str) {
        if let Some(server) = self.inner.servers.iter().find(|s| s.spec.name == name) {
            *server.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
            server.withdraw();
            server.stop.cancel();
            server.set_phase(Phase::Refused);
            server.update_status(|s| s.last_error = Some(reason.to_string()));
        }
    }

    /// Stop every server (their process groups end) and wait for the supervisors.
    pub async fn shutdown(&self) {
        for server in &self.inner.servers {
            server.stop.cancel();
        }
        let tasks: Vec<_> =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let all = futures::future::join_all(tasks);
        if tokio::time::timeout(Duration::from_secs(10), all)
            .await
            .is_err()
        {
            tracing::warn!("downstream servers did not all stop within 10 s");
        }
        let report = self
            .inner
            .report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((path, task)) = report {
            task.abort();
            let _ = task.await;
            let _ = std::fs::remove_file(path);
        }
    }
}
