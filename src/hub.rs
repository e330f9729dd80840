//! The hub: the running host assembled from its parts (configuration, state, providers,
//! catalog, pipeline) and kept current as plugins come and go.
//!
//! The MCP face and the CLI both drive a hub; neither knows how providers are loaded. Changes
//! reach the face as [`Notice`]s on a broadcast channel.

#![allow(deprecated)] // MCP log levels are deprecated in 2026-07-28 only.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use futures::future::join_all;
use rmcp::model::LoggingLevel;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch};

use crate::approval::attention::Attention;
use crate::approval::card::CardProvider;
use crate::approval::policy::Policy;
use crate::audit::Auditor;
use crate::builtin::{Builtin, Members, search::SearchLimits};
use crate::catalog::{Catalog, Changes, Member, MergeError, Snapshot, ToolRoute, merge};
use crate::config::Loaded;
use crate::pipeline::Pipeline;
use crate::plugin::provider::PluginProvider;
use crate::plugin::services::HostEvent;
use crate::plugin::{self, Found, LoadContext, Status};
use crate::provider::{Offer, SharedProvider};
use crate::server::{ServerEvent, Servers};
use crate::state::State;

/// Something clients should hear about.
#[derive(Clone, Debug)]
pub enum Notice {
    /// The catalog changed.
    Changed(Changes),
    /// A log message for every connected client.
    Log {
        /// Its level.
        level: LoggingLevel,
        /// Who logged it.
        logger: String,
        /// The message.
        data: Value,
    },
}

/// How to start the hub.
#[derive(Clone, Copy, Debug)]
pub struct StartOptions {
    /// A long-running server (`serve`), not a one-shot command: watch the plugins folder,
    /// publish the servers' states, and reach the person when a question waits (the
    /// approval page on demand, a desktop notification).
    pub serving: bool,
}

/// The running host.
pub struct Hub {
    /// The configuration.
    pub config: Arc<Loaded>,
    /// The state database.
    pub state: State,
    /// The merged catalog.
    pub catalog: Catalog,
    /// The road of every routed request.
    pub pipeline: Pipeline,
    /// The approval policy (the pipeline's gate decides with the same one).
    pub policy: Arc<Policy>,
    /// The one auditor: the pipeline's layer and the approval gate share it; the face records
    /// lists and unknown names with it.
    pub auditor: Auditor,
    /// Where plugins' questions go when the client cannot ask the person.
    pub questions: Arc<dyn crate::requester::ElicitFallback>,
    members: Members,
    refresh_lock: tokio::sync::Mutex<()>,
    found: Mutex<Vec<Found>>,
    plugins: Mutex<Vec<Arc<PluginProvider>>>,
    notices: broadcast::Sender<Notice>,
    load_context: LoadContext,
    watch: Mutex<Option<plugin::watch::FolderWatch>>,
    /// `None` while loading; then whether the initial catalog could be served.
    ready: watch::Sender<Option<Result<(), String>>>,
    /// Computing and recording the libraries' digests, after the initial load.
    digests: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Other writes queued off the request path (tool definitions), finished at shutdown.
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The downstream MCP servers of `servers_config.json`.
    servers: Servers,
    /// When the hub started (servers get `servers.startup_wait` from here).
    started: tokio::time::Instant,
}

impl Hub {
    /// Assemble the hub and start loading plugins in the background; returns at once, so a
    /// client's `initialize` is answered whatever the plugins do. Everything that needs the
    /// catalog waits for [`Hub::ready`].
    pub fn start(config: Loaded, state: State, options: StartOptions) -> Arc<Self> {
        let config = Arc::new(config);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let load_context = LoadContext {
            config: config.clone(),
            state: state.clone(),
            events: events_tx,
        };
        let members: Members = Default::default();
        let search = &config.config.search;
        let builtin = Builtin::new(
            members.clone(),
            SearchLimits {
                source_timeout: search.source_timeout.get(),
                default_limit: search.default_limit,
                max_limit: search.max_limit,
            },
        );
        let health = builtin.health();
        members
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(member(Arc::new(builtin)));
        // Downstream servers start at once, so they come up while plugins load.
        let (servers, server_events) = Servers::load(&config.servers_file());
        servers.start();
        members
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(member(Arc::new(
                servers
                    .status_provider()
                    .with_sources(sources_health(members.clone(), health)),
            )));
        if options.serving {
            servers.publish(&config.home.state_dir);
        }
        let (notices, _) = broadcast::channel(256);
        let (ready_tx, _) = watch::channel(None);
        let attention = Arc::new(if options.serving {
            Attention::serving(&config.config, state.clone())
        } else {
            Attention::none()
        });
        members
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(member(Arc::new(CardProvider::new(
                state.clone(),
                attention.clone(),
                config.config.audit.store_arguments,
            ))));
        let policy = Arc::new(Policy::new(&config.config.approvals));
        let auditor = Auditor::new(state.clone(), config.config.audit.store_arguments);
        let hub = Arc::new(Self {
            pipeline: Pipeline::standard(
                &config.config,
                policy.clone(),
                state.clone(),
                auditor.clone(),
                attention.clone(),
            ),
            policy,
            auditor,
            questions: Arc::new(crate::approval::PluginQuestions::new(
                state.clone(),
                &config.config.approvals,
                attention,
            )),
            config,
            state,
            catalog: Catalog::default(),
            members,
            refresh_lock: Default::default(),
            found: Mutex::new(Vec::new()),
            plugins: Mutex::new(Vec::new()),
            notices,
            load_context,
            watch: Mutex::new(None),
            ready: ready_tx,
            digests: Mutex::new(None),
            background: Mutex::new(Vec::new()),
            servers,
            started: tokio::time::Instant::now(),
        });
        tokio::spawn(initial_load(hub.clone(), options, events_rx));
        tokio::spawn(follow_servers(Arc::downgrade(&hub), server_events));
        if options.serving {
            hub.keep_house();
        }
        hub
    }

    /// Expire questions nobody answered or nobody can take any more (their process ended)
    /// and purge what is older than `audit.retention`, off the request path.
    fn keep_house(&self) {
        let state = self.state.clone();
        let audit = self.config.config.audit.clone();
        let task = tokio::task::spawn_blocking(move || {
            if let Err(e) = state.expire_questions(audit.store_arguments) {
                tracing::warn!(error = %e, "cannot expire old approval questions");
            }
            match crate::approval::inbox::expire_orphans(&state, audit.store_arguments) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    expired = n,
                    "expired approval questions whose asking process has ended"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot expire orphaned approval questions"),
            }
            let cut = crate::state::retention::cutoff(audit.retention.get());
            match state.purge(&cut) {
                Ok(purged) => tracing::debug!(?purged, before = %cut, "purged old records"),
                Err(e) => tracing::warn!(error = %e, "cannot purge old records (audit.retention)"),
            }
        });
        self.background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }

    /// Wait until the plugins present at start are loaded and the catalog merged. Fails when
    /// their names collide (the error names both owners): the host cannot serve that catalog.
    pub async fn ready(&self) -> Result<()> {
        let mut ready = self.ready.subscribe();
        let outcome = ready
            .wait_for(Option::is_some)
            .await
            .map_err(|_| anyhow::anyhow!("switchboard stopped while loading plugins"))?;
        match outcome.as_ref() {
            Some(Err(message)) => Err(anyhow::anyhow!("{message}")),
            _ => Ok(()),
        }
    }

    /// Whether the initial load finished successfully (a cheap check before [`Hub::ready`]).
    pub fn is_ready(&self) -> bool {
        matches!(*self.ready.borrow(), Some(Ok(())))
    }

    /// Wait until every library's digest is computed and recorded (listings show them).
    pub async fn digests_recorded(&self) {
        let task = self
            .digests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Hear about changes and broadcast log messages.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// The downstream MCP servers.
    pub fn servers(&self) -> &Servers {
        &self.servers
    }

    /// Wait until no downstream server is still starting (each runs or has failed a first
    /// time), then refresh the catalog so it holds what they offer.
    pub async fn servers_settled(&self) {
        self.servers.wait_settled(None).await;
        if self.is_ready() {
            self.refresh().await;
        }
    }

    /// The route of the tool `name` when no provider offers it yet because the server its
    /// prefix names is still starting: wait for that server (at most `servers.call_wait`),
    /// then look again. `Ok(None)`: the name is unknown (no such server, it is not starting,
    /// or the server came up without that tool); `Err`: the server did not come up, saying
    /// why.
    pub async fn route_when_started(&self, name: &str) -> Result<Option<Arc<ToolRoute>>, String> {
        let Some(server) = self.servers.starting_for(name) else {
            return Ok(None);
        };
        let wait = self.config.config.servers.call_wait.get();
        let server_name = server.spec().name.clone();
        tracing::debug!(tool = name, server = %server_name, "a call waits for its server to start");
        let mut status = server.watch_status();
        let settled = tokio::time::timeout(wait, async {
            status
                .wait_for(|s| !s.state.is_unsettled())
                .await
                .map(|s| s.clone())
        })
        .await;
        let status = match settled {
            Ok(Ok(status)) => status,
            Ok(Err(_)) => return Err(format!("server {server_name} stopped while starting")),
            Err(_) => {
                return Err(format!(
                    "server {server_name} is still starting after {:.1} s (servers.call_wait); try again when it runs (`switchboard servers list` shows its state)",
                    wait.as_secs_f64()
                ));
            }
        };
        if status.state != crate::server::status::Phase::Running {
            return Err(format!(
                "server {server_name} did not start: {}",
                status.summary()
            ));
        }
        // It announced itself; make sure the catalog holds its offer before looking again.
        self.refresh().await;
        Ok(self.catalog.snapshot().tools.get(name).cloned())
    }

    /// What became of every library found.
    pub fn found(&self) -> Vec<Found> {
        self.found.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The providers that are data sources: (name, label).
    pub fn data_sources(&self) -> Vec<(String, String)> {
        self.member_list()
            .iter()
            .filter_map(|m| {
                m.provider
                    .data_source()
                    .map(|l| (m.provider.name().to_string(), l))
            })
            .collect()
    }

    fn member_list(&self) -> Vec<Member> {
        self.members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-read every provider's offer and install the merged catalog, dropping any provider
    /// whose names collide with an earlier one's (with an error in the log).
    pub async fn refresh(&self) -> Changes {
        let _serial = self.refresh_lock.lock().await;
        loop {
            let offers = gather(&self.member_list()).await;
            match merge(&offers) {
                Ok(snapshot) => {
                    self.report_withheld(&snapshot);
                    let changes = self.catalog.install(snapshot);
                    if changes.tools {
                        self.observe_definitions();
                    }
                    if changes.any() {
                        let _ = self.notices.send(Notice::Changed(changes));
                    }
                    return changes;
                }
                Err(e) => self.drop_culprit(&e),
            }
        }
    }

    /// Log each resource `next` withholds that the current catalog did not, and note them on
    /// the servers' statuses (`servers list`, `switchboard://status`; doctor lists them all).
    fn report_withheld(&self, next: &Snapshot) {
        let current = self.catalog.snapshot();
        for withheld in &next.withheld {
            if !current.withheld.contains(withheld) {
                tracing::warn!("{withheld}");
            }
        }
        self.servers.withhold(&next.withheld);
    }

    fn drop_culprit(&self, error: &MergeError) {
        let culprit = error.culprit().to_string();
        tracing::error!("{error}; {culprit} is not served until this is fixed");
        self.members
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|m| m.provider.name() != culprit);
        self.servers.refuse(&culprit, &error.to_string());
        let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        for entry in found.iter_mut() {
            if entry.status == Status::Loaded
                && entry.manifest.as_ref().is_some_and(|m| m.name == culprit)
            {
                entry.status = Status::Failed(error.to_string());
            }
        }
    }

    /// Load a library that appeared in the plugins folder.
    async fn load_new(&self, path: PathBuf) {
        let already = self.found().into_iter().find(|f| f.path == path);
        let taken: BTreeMap<String, PathBuf> = self
            .found()
            .into_iter()
            .filter(|f| matches!(f.status, Status::Loaded | Status::Disabled))
            .filter_map(|f| f.manifest.map(|m| (m.name, f.path)))
            .collect();
        let ctx = self.load_context.clone();
        let target = path.clone();
        let state = self.state.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let (mut entry, provider) = plugin::load_path(&ctx, &target, false, &taken);
            plugin::record_digests(&state, std::slice::from_mut(&mut entry));
            (entry, provider)
        })
        .await;
        let Ok((entry, provider)) = loaded else {
            return;
        };
        if let (Some(before), Some(sha)) = (&already, &entry.sha256)
            && before.sha256.as_ref() == Some(sha)
        {
            return; // the same file again (a touch, a second event)
        }
        // The file of a plugin that is running changed: it keeps running from its private
        // copy; a loadable new file is used from the next start, a broken one was refused.
        if let Some(before) = &already
            && before.status == Status::Loaded
        {
            if let (Status::Shadowed(_), Some(manifest), Some(sha256)) =
                (&entry.status, &entry.manifest, &entry.sha256)
            {
                tracing::warn!(plugin = %manifest.name, file = %path.display(), "a newer file of a loaded plugin appeared; restart switchboard to use {} (running {})", manifest.version, before.manifest.as_ref().map_or("?", |m| m.version.as_str()));
                let newer = plugin::Newer {
                    version: manifest.version.clone(),
                    sha256: sha256.clone(),
                };
                let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(loaded) = found.iter_mut().find(|f| f.path == path) {
                    loaded.newer = Some(newer);
                }
            } else if let Some(manifest) = &entry.manifest
                && entry.status != Status::Shadowed(path.clone())
            {
                tracing::warn!(plugin = %manifest.name, file = %path.display(), "the file of a loaded plugin now holds another plugin; restart switchboard to use it");
            }
            return;
        }
        {
            let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
            found.retain(|f| f.path != path);
            found.push(entry);
        }
        plugin::publish_loaded(&self.config.home.state_dir, &self.found());
        if let Some(provider) = provider {
            self.plugins
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(provider.clone());
            self.members
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .push(member(provider));
            self.refresh().await;
        }
    }

    /// Record the current tools' definitions (and notice changed ones), off the request path.
    fn observe_definitions(&self) {
        let state = self.state.clone();
        let snapshot = self.catalog.snapshot();
        let task = tokio::task::spawn_blocking(move || {
            crate::approval::definition::observe(&state, &snapshot)
        });
        let mut background = self.background.lock().unwrap_or_else(|e| e.into_inner());
        background.retain(|t| !t.is_finished());
        background.push(task);
    }

    /// Let every plugin flush, then write what the state writer holds.
    pub async fn shutdown(&self) {
        // The writes still to come (housekeeping, plugins flushing) wait only briefly for a
        // locked database, and the writer's limit counts from here.
        self.state.begin_closing();
        self.watch.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.servers.shutdown().await;
        self.digests_recorded().await;
        let background: Vec<_> =
            std::mem::take(&mut *self.background.lock().unwrap_or_else(|e| e.into_inner()));
        for task in background {
            let _ = task.await;
        }
        let plugins: Vec<_> = self
            .plugins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let done = tokio::task::spawn_blocking(move || {
            for plugin in plugins {
                plugin.shutdown();
            }
        });
        if tokio::time::timeout(std::time::Duration::from_secs(5), done)
            .await
            .is_err()
        {
            tracing::warn!("plugins did not finish shutting down within 5 s");
        }
        let state = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || state.close()).await;
    }
}

/// Load the plugins present at start, merge the catalog, then follow changes.
async fn initial_load(
    hub: Arc<Hub>,
    options: StartOptions,
    events: mpsc::UnboundedReceiver<HostEvent>,
) {
    let ctx = hub.load_context.clone();
    let loaded = tokio::task::spawn_blocking(move || plugin::load_all(&ctx)).await;
    let (found, plugins) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            hub.ready
                .send_replace(Some(Err(format!("loading plugins failed: {e}"))));
            return;
        }
    };
    {
        let mut list = hub.members.write().unwrap_or_else(|e| e.into_inner());
        for plugin in &plugins {
            list.push(member(plugin.clone()));
        }
    }
    *hub.plugins.lock().unwrap_or_else(|e| e.into_inner()) = plugins;
    if options.serving {
        plugin::publish_loaded(&hub.config.home.state_dir, &found);
    }
    *hub.found.lock().unwrap_or_else(|e| e.into_inner()) = found;

    // Digests read every library whole: on a blocking thread, beside everything else. The
    // handle is in place before the hub says it is ready, so `digests_recorded` waits for it.
    let digest_hub = hub.clone();
    let digests = tokio::task::spawn_blocking(move || {
        let mut found = digest_hub.found();
        plugin::record_digests(&digest_hub.state, &mut found);
        let mut current = digest_hub.found.lock().unwrap_or_else(|e| e.into_inner());
        for entry in current.iter_mut() {
            if let Some(done) = found.iter().find(|f| f.path == entry.path) {
                entry.sha256.clone_from(&done.sha256);
            }
        }
    });
    *hub.digests.lock().unwrap_or_else(|e| e.into_inner()) = Some(digests);

    // Serving waits a little for downstream servers (they are announced when they come up
    // later); one-shot commands wait until each has started or failed.
    let deadline = options
        .serving
        .then(|| hub.started + hub.config.config.servers.startup_wait.get());
    hub.servers.wait_settled(deadline).await;
    add_server_members(&hub);

    loop {
        let offers = gather(&hub.member_list()).await;
        match merge(&offers) {
            Ok(snapshot) => {
                hub.report_withheld(&snapshot);
                hub.catalog.install(snapshot);
                hub.ready.send_replace(Some(Ok(())));
                hub.observe_definitions();
                break;
            }
            // A downstream server that collides is refused; the rest is served.
            Err(e) if hub.servers.is_server(e.culprit()) => hub.drop_culprit(&e),
            Err(e) => {
                tracing::error!("{e}");
                hub.ready.send_replace(Some(Err(e.to_string())));
                return;
            }
        }
    }

    let (paths_tx, paths_rx) = mpsc::unbounded_channel();
    if options.serving && hub.config.config.plugins.watch {
        let folder = hub.config.plugins_folder();
        match plugin::watch::watch(&folder, paths_tx) {
            Ok(watch) => *hub.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(watch),
            Err(e) => {
                tracing::warn!(folder = %folder.display(), error = %e, "cannot watch the plugins folder; new plugins load at the next start")
            }
        }
    }
    let weak = Arc::downgrade(&hub);
    drop(hub);
    follow(weak, events, paths_rx).await;
}

/// Make the downstream servers catalog members, after the plugins (so a plugin keeps a
/// contested name). A server named like a loaded plugin is refused: names identify providers.
fn add_server_members(hub: &Hub) {
    let plugins: Vec<String> = hub
        .member_list()
        .iter()
        .map(|m| m.provider.name().to_string())
        .collect();
    let mut list = hub.members.write().unwrap_or_else(|e| e.into_inner());
    for provider in hub.servers.providers() {
        let name = provider.name().to_string();
        if plugins.contains(&name) {
            let reason = format!(
                "a plugin or built-in provider is already named {name:?}; rename the server in {}",
                hub.servers.file().path.display()
            );
            tracing::error!("{reason}");
            hub.servers.refuse(&name, &reason);
            continue;
        }
        list.push(member(provider));
    }
}

/// Follow the downstream servers' events until the hub is gone: refresh the catalog when an
/// offer changes, pass log messages on to clients.
async fn follow_servers(
    hub: std::sync::Weak<Hub>,
    mut events: mpsc::UnboundedReceiver<ServerEvent>,
) {
    // Changes before the initial catalog are part of it; one refresh after it catches up.
    {
        let Some(strong) = hub.upgrade() else { return };
        if strong.ready().await.is_err() {
            return;
        }
    }
    let mut changed = true;
    loop {
        if changed {
            let Some(strong) = hub.upgrade() else { return };
            strong.refresh().await;
            changed = false;
        }
        let Some(event) = events.recv().await else {
            return;
        };
        let Some(strong) = hub.upgrade() else { return };
        let mut next = Some(event);
        // Take whatever else is queued, so a burst of changes costs one refresh.
        while let Some(event) = next {
            match event {
                ServerEvent::Changed(server) => {
                    tracing::debug!(server, "downstream server's offer changed");
                    changed = true;
                }
                ServerEvent::Log {
                    server,
                    level,
                    logger,
                    data,
                } => {
                    let logger = match logger {
                        Some(logger) => format!("{server}/{logger}"),
                        None => server,
                    };
                    let _ = strong.notices.send(Notice::Log {
                        level,
                        logger,
                        data,
                    });
                }
            }
            next = events.try_recv().ok();
        }
    }
}

fn member(provider: SharedProvider) -> Member {
    Member {
        prefix: provider.default_prefix(),
        provider,
    }
}

/// Every member's offer, asked concurrently; a provider that fails offers nothing this time.
async fn gather(members: &[Member]) -> Vec<(Member, Offer)> {
    let asks = members.iter().map(|m| async move {
        let timeout = m.provider.call_timeout();
        let offer = match tokio::time::timeout(timeout, m.provider.offer()).await {
            Ok(Ok(offer)) => offer,
            Ok(Err(e)) => {
                tracing::error!(provider = m.provider.name(), error = %e, "cannot list what the provider offers");
                Offer::default()
            }
            Err(_) => {
                tracing::error!(provider = m.provider.name(), "listing what the provider offers timed out");
                Offer::default()
            }
        };
        (m.clone(), offer)
    });
    join_all(asks).await
}

/// Follow plugin events and new libraries until the hub is gone.
async fn follow(
    hub: std::sync::Weak<Hub>,
    mut events: mpsc::UnboundedReceiver<HostEvent>,
    mut paths: mpsc::UnboundedReceiver<PathBuf>,
) {
    let mut watching = true;
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { return };
                let Some(hub) = hub.upgrade() else { return };
                match event {
                    HostEvent::ListChanged { plugin } => {
                        tracing::debug!(plugin, "plugin catalog changed");
                        hub.refresh().await;
                    }
                    HostEvent::Log { plugin, level, message } => {
                        let _ = hub.notices.send(Notice::Log { level, logger: plugin, data: Value::String(message) });
                    }
                }
            }
            path = paths.recv(), if watching => {
                let Some(path) = path else {
                    watching = false;
                    continue;
                };
                let Some(hub) = hub.upgrade() else { return };
                hub.load_new(path).await;
            }
        }
    }
}

/// The data sources among `members` with their health, for `switchboard://status`: every
/// source in the catalog, asked yet or not.
fn sources_health(
    members: Members,
    health: Arc<crate::builtin::health::SourceHealth>,
) -> Arc<dyn Fn() -> serde_json::Value + Send + Sync> {
    Arc::new(move || {
        let seen = health.snapshot();
        let sources: Vec<serde_json::Value> = members
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|m| {
                let label = m.provider.data_source()?;
                let name = m.provider.name();
                let mut entry = serde_json::to_value(seen.get(name).cloned().unwrap_or_default())
                    .unwrap_or_default();
                entry["name"] = name.into();
                entry["label"] = label.into();
                Some(entry)
            })
            .collect();
        serde_json::Value::Array(sources)
    })
}
