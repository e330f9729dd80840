//! What each downstream server is doing (running, starting, backing off, failed...) and the
//! `switchboard://status` resource that shows it to clients.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolResult, CompletionInfo, GetPromptResult, JsonObject, ReadResourceResult, Resource,
    ResourceContents,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::provider::{Offer, Provider, ProviderError};
use crate::requester::Requester;

/// The URI of the status resource.
pub const STATUS_URI: &str = "switchboard://status";

/// Where a server is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// `"disabled": true` (or `"enabled": false`) in the servers file.
    Disabled,
    /// Its entry is wrong; see the error.
    Invalid,
    /// Being started (spawned, `initialize`, first lists).
    Starting,
    /// Up and offering its tools.
    Running,
    /// It died or failed to start; it is restarted after a wait.
    BackingOff,
    /// It failed more often in a row than `restart.max_attempts` allows; not restarted.
    Failed,
    /// Its names collide with another provider's; it is stopped until this is fixed.
    Refused,
    /// Stopped because switchboard is shutting down.
    Stopped,
}

impl Phase {
    /// One word for listings.
    pub fn word(self) -> &'static str {
        match self {
            Phase::Disabled => "disabled",
            Phase::Invalid => "invalid",
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::BackingOff => "backing off",
            Phase::Failed => "failed",
            Phase::Refused => "refused",
            Phase::Stopped => "stopped",
        }
    }

    /// Whether it is still on its way up (neither serving nor given up).
    pub fn is_unsettled(self) -> bool {
        matches!(self, Phase::Starting)
    }

    /// Whether this is a problem the person should look at.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Phase::Invalid | Phase::BackingOff | Phase::Failed | Phase::Refused
        )
    }
}

/// The state of one server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerStatus {
    /// Its name in the servers file.
    pub name: String,
    /// `stdio` or `http` (absent when the entry is invalid).
    pub transport: Option<String>,
    /// Where it is.
    pub state: Phase,
    /// The process id while a stdio server runs.
    pub pid: Option<u32>,
    /// How many times it was restarted.
    pub restarts: u32,
    /// What went wrong last (exit status and the end of its stderr, a start-up error...).
    pub last_error: Option<String>,
    /// How many tools it offers now (after filtering).
    pub tools: usize,
    /// When it entered this state (RFC 3339).
    pub since: String,
    /// While backing off: how long until the next attempt, in milliseconds.
    pub retry_in_ms: Option<u64>,
    /// Its resources not served because another provider offers the same URIs first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<crate::catalog::Withheld>,
}

impl ServerStatus {
    /// A status in `state` as of now.
    pub fn new(name: &str, transport: Option<&str>, state: Phase) -> Self {
        Self {
            name: name.to_string(),
            transport: transport.map(str::to_string),
            state,
            pid: None,
            restarts: 0,
            last_error: None,
            tools: 0,
            since: now(),
            retry_in_ms: None,
            withheld: Vec::new(),
        }
    }

    /// One line for a terminal: `running (pid 42, 3 tools, 1 restart)`.
    pub fn summary(&self) -> String {
        let mut facts = Vec::new();
        if let Some(pid) = self.pid {
            facts.push(format!("pid {pid}"));
        }
        if self.state == Phase::Running {
            facts.push(format!(
                "{} tool{}",
                self.tools,
                if self.tools == 1 { "" } else { "s" }
            ));
        }
        if self.restarts > 0 {
            facts.push(format!(
                "{} restart{}",
                self.restarts,
                if self.restarts == 1 { "" } else { "s" }
            ));
        }
        if let Some(ms) = self.retry_in_ms {
            facts.push(format!(
                "next try in {:.1} s",
                Duration::from_millis(ms).as_secs_f64()
            ));
        }
        let mut line = self.state.word().to_string();
        if !facts.is_empty() {
            line.push_str(&format!(" ({})", facts.join(", ")));
        }
        if let Some(error) = &self.last_error
            && self.state != Phase::Running
        {
            line.push_str(": ");
            line.push_str(error);
        }
        if let Some(first) = self.withheld.first() {
            let uris: Vec<String> = self
                .withheld
                .iter()
                .map(|w| format!("{:?} (kept by {})", w.uri, w.kept_by))
                .collect();
            line.push_str(&format!(
                "; {} withheld, offered first by another provider: {}. {}",
                if uris.len() == 1 {
                    "1 resource".to_string()
                } else {
                    format!("{} resources", uris.len())
                },
                uris.join(", "),
                first.advice()
            ));
        }
        line
    }
}

/// The current time as RFC 3339.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What one serving switchboard process reports about its servers (a file in the state
/// folder, so `switchboard servers list` can show the live state).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LiveReport {
    /// The serving process.
    pub pid: u32,
    /// When it started serving.
    pub since: String,
    /// The servers file it read.
    pub file: PathBuf,
    /// Its servers.
    pub servers: Vec<ServerStatus>,
}

/// The folder of live reports under the state folder.
pub fn reports_folder(state_dir: &Path) -> PathBuf {
    state_dir.join("servers")
}

/// The reports of the switchboard processes serving now with `file`; reports of processes
/// that are gone are removed.
pub fn live_reports(state_dir: &Path, file: &Path) -> Vec<LiveReport> {
    let Ok(entries) = std::fs::read_dir(reports_folder(state_dir)) else {
        return Vec::new();
    };
    let mut reports = Vec::new();
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Some(report) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<LiveReport>(&text).ok())
        else {
            continue;
        };
        if !process_alive(report.pid) {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if report.file == file {
            reports.push(report);
        }
    }
    reports.sort_by_key(|r| r.pid);
    reports
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let answer = unsafe { libc::kill(pid as libc::pid_t, 0) };
    answer == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(pid: u32) -> bool {
    pid == std::process::id()
}

/// Write `report` to `path` whole (a reader never sees half a file).
pub async fn write_report(path: &Path, report: &LiveReport) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    let temporary = path.with_extension("json.tmp");
    tokio::fs::write(&temporary, text).await?;
    tokio::fs::rename(&temporary, path).await
}

/// Where the status resource reads the servers' states.
pub type StatusSource = Arc<dyn Fn() -> Vec<ServerStatus> + Send + Sync>;

/// The provider of `switchboard://status`.
pub struct StatusProvider {
    source: StatusSource,
    sources: Option<Arc<dyn Fn() -> Value + Send + Sync>>,
}

impl StatusProvider {
    /// A provider reading states from `source`.
    pub fn new(source: StatusSource) -> Self {
        Self {
            source,
            sources: None,
        }
    }

    /// The same, also showing the data sources' health as `sources` reports it.
    pub fn with_sources(mut self, sources: Arc<dyn Fn() -> Value + Send + Sync>) -> Self {
        self.sources = Some(sources);
        self
    }

    /// The resource's JSON.
    pub fn document(&self) -> Value {
        let mut document = json!({
            "switchboard": env!("CARGO_PKG_VERSION"),
            "pid": std::process::id(),
            "servers": (self.source)(),
        });
        if let Some(sources) = &self.sources {
            document["sources"] = sources();
        }
        document
    }
}

fn unsupported<T>(what: &str) -> BoxFuture<'static, Result<T, ProviderError>>
where
    T: Send + 'static,
{
    let message = format!("switchboard's status offers no {what}");
    Box::pin(async move { Err(ProviderError::Unsupported(message)) })
}

impl Provider for StatusProvider {
    fn name(&self) -> &str {
        "switchboard"
    }

    fn default_prefix(&self) -> String {
        String::new()
    }

    fn trusts_annotations(&self) -> bool {
        true
    }

    fn call_timeout(&self) -> Duration {
        Duration::from_secs(5)
    }

    fn offer(&self) -> BoxFuture<'_, Result<Offer, ProviderError>> {
        let resource = Resource::new(STATUS_URI, "status")
            .with_title("switchboard status")
            .with_description(
                "The state of each downstream MCP server (running, starting, backing off or failed; pid, restarts, last error, tool count) and each data source's health (searches and fetches asked, failed, the last answer and the last failure)",
            )
            .with_mime_type("application/json");
        Box::pin(async move {
            Ok(Offer {
                resources: vec![resource],
                ..Offer::default()
            })
        })
    }

    fn call_tool(
        &self,
        _tool: String,
        _arguments: JsonObject,
        _requester: Requester,
    ) -> BoxFuture<'_, Result<CallToolResult, ProviderError>> {
        unsupported("tools")
    }

    fn read_resource(
        &self,
        uri: String,
        _requester: Requester,
    ) -> BoxFuture<'_, Result<ReadResourceResult, ProviderError>> {
        let text = serde_json::to_string_pretty(&self.document()).unwrap_or_default();
        Box::pin(async move {
            if uri != STATUS_URI {
                return Err(ProviderError::NotFound(format!("no resource {uri}")));
            }
            let contents = ResourceContents::text(text, uri).with_mime_type("application/json");
            Ok(ReadResourceResult::new(vec![contents]))
        })
    }

    fn get_prompt(
        &self,
        _prompt: String,
        _arguments: JsonObject,
        _requester: Requester,
    ) -> BoxFuture<'_, Result<GetPromptResult, ProviderError>> {
        unsupported("prompts")
    }

    fn complete(
        &self,
        _request: Value,
        _requester: Requester,
    ) -> BoxFuture<'_, Result<CompletionInfo, ProviderError>> {
        unsupported("completions")
    }
}
