//! The life of one downstream server: start it (spawn or connect, `initialize`, read what it
//! offers) within its `startup_timeout`, serve until it dies, withdraw its offer, and start
//! it again after an exponential backoff, up to `restart.max_attempts` failures in a row.
//! Stopping ends the child's whole process group.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::RoleClient;
use rmcp::model::{ServerCapabilities, Tool};
use rmcp::service::{ClientCacheConfig, Peer, RunningService, ServiceExt};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::client::{Downstream, ListKind};
use super::config::{Transport, expand};
use super::link::Link;
use super::process::{self, Group, Launch, describe_exit};
use super::progress::Ordered;
use super::status::Phase;
use super::{Server, config::ServerSpec};
use crate::provider::Offer;

/// How long a server that stops is given to exit on its own, and again after SIGTERM.
const STOP_GRACE: Duration = Duration::from_millis(1500);

/// A server that ran at least this long before dying starts a fresh series of attempts.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// A live connection to a server.
struct Connection {
    running: RunningService<RoleClient, Downstream>,
    group: Option<Group>,
    /// Copies the child's stderr to the log; ends when every writer of it is gone.
    stderr: Option<tokio::task::JoinHandle<()>>,
}

/// Wait (briefly) until a dead child's last stderr lines are read, so reports can quote them.
async fn drained(stderr: Option<tokio::task::JoinHandle<()>>) {
    if let Some(task) = stderr {
        let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
    }
}

/// How serving ended.
enum Ended {
    /// The child exited (or the remote connection closed); the text says how.
    Died(String),
    /// switchboard stops it.
    Stopped,
}

/// Supervise `server` until it is stopped or given up.
pub async fn supervise(server: Arc<Server>) {
    let name = server.spec.name.clone();
    let policy = server.spec.restart;
    let mut failures = 0u32;
    let mut delay = policy.initial_delay;
    let mut first = true;
    loop {
        if !first {
            server.update_status(|s| s.restarts += 1);
        }
        first = false;
        server.set_phase(Phase::Starting);
        server.clear_stderr();
        let started = Instant::now();
        let attempt = tokio::select! {
            attempt = tokio::time::timeout(server.spec.startup_timeout, connect(&server)) => attempt,
            () = server.stop.cancelled() => break,
        };
        let error = match attempt {
            Ok(Ok(connection)) => match serve(&server, connection).await {
                Ended::Stopped => break,
                Ended::Died(reason) => {
                    if started.elapsed() >= STABLE_AFTER {
                        failures = 0;
                        delay = policy.initial_delay;
                    }
                    reason
                }
            },
            Ok(Err(error)) => error,
            Err(_) => format!(
                "did not finish starting within {:?} (startup_timeout); it never answered initialize or its first lists",
                server.spec.startup_timeout
            ),
        };
        tracing::warn!(server = %name, error = %error, "downstream server is down");
        server.update_status(|s| s.last_error = Some(error));
        failures += 1;
        if failures > policy.max_attempts {
            tracing::error!(server = %name, attempts = failures, "downstream server failed too often in a row; not restarted (fix it, then restart switchboard)");
            server.set_phase(Phase::Failed);
            server.stop.cancelled().await;
            break;
        }
        server.set_phase(Phase::BackingOff);
        server.update_status(|s| s.retry_in_ms = Some(delay.as_millis() as u64));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = server.stop.cancelled() => break,
        }
        delay = (delay * 2).min(policy.max_delay);
    }
    server.withdraw();
    let refused = server
        .refused
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match refused {
        Some(reason) => {
            server.set_phase(Phase::Refused);
            server.update_status(|s| s.last_error = Some(reason));
        }
        None if server.status().state == Phase::Failed => {}
        None => server.set_phase(Phase::Stopped),
    }
}

/// Serve through `connection` until the server dies or is stopped.
async fn serve(server: &Arc<Server>, connection: Connection) -> Ended {
    let Connection {
        running,
        mut group,
        stderr,
    } = connection;
    let stop = running.cancellation_token();
    let mut serving = tokio::spawn(running.waiting());
    let exited = async {
        match group.as_mut() {
            Some(group) => group.wait().await.ok(),
            None => std::future::pending().await,
        }
    };
    enum Why {
        Exited(Option<std::process::ExitStatus>),
        Closed,
        Stop,
    }
    let why = tokio::select! {
        status = exited => Why::Exited(status),
        _ = &mut serving => Why::Closed,
        () = server.stop.cancelled() => Why::Stop,
    };
    // Calls in flight fail now (the transport closes), and the offer is withdrawn.
    server.withdraw();
    stop.cancel();
    if !matches!(why, Why::Closed) {
        let _ = tokio::time::timeout(STOP_GRACE, serving).await;
    }
    let status = match group.as_mut() {
        Some(group) => group.terminate(STOP_GRACE).await,
        None => None,
    };
    drained(stderr).await;
    match why {
        Why::Stop => Ended::Stopped,
        Why::Exited(status) => Ended::Died(death_reason(server, status.as_ref(), "")),
        Why::Closed if group.is_some() => {
            Ended::Died(death_reason(server, status.as_ref(), "closed its stdout; "))
        }
        Why::Closed => Ended::Died("the connection to the server closed".into()),
    }
}

fn death_reason(server: &Server, status: Option<&std::process::ExitStatus>, lead: &str) -> String {
    let mut reason = lead.to_string();
    reason.push_str(&match status {
        Some(status) => describe_exit(status),
        None => "stopped".to_string(),
    });
    if let Some(tail) = server.stderr_tail() {
        reason.push_str(&format!("; stderr: {tail}"));
    }
    reason
}

/// Start `server` and read what it offers.
async fn connect(server: &Arc<Server>) -> Result<Connection, String> {
    let handler = Downstream::new(server.clone());
    let (running, link, group, stderr) = match &server.spec.transport {
        Transport::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            let launch = launch(&server.spec, command, args, env, cwd.as_ref())?;
            let spawned = process::spawn(&launch).await.map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::NotFound {
                    "; is it installed and on the PATH switchboard starts with? (Clients often start servers with a shorter PATH than your shell's; an absolute path always works)"
                } else {
                    ""
                };
                format!("cannot start {command:?}: {e}{hint}")
            })?;
            let mut group = spawned.group;
            let stderr = spawned
                .stderr
                .map(|stderr| tokio::spawn(follow_stderr(server.clone(), stderr)));
            let pid = group.pid();
            tracing::info!(server = %server.spec.name, pid, command = %command, "downstream server started");
            let (link, transport) = Link::open(spawned.stdout, spawned.stdin, server.clone());
            match handler.serve(transport).await {
                Ok(running) => (running, Some(link), Some(group), stderr),
                Err(e) => {
                    let status = group.terminate(Duration::from_millis(200)).await;
                    drained(stderr).await;
                    let mut message = format!("initialize failed: {e}");
                    if let Some(status) = status {
                        message = format!("{} during start-up", describe_exit(&status));
                    }
                    if let Some(tail) = server.stderr_tail() {
                        message.push_str(&format!("; stderr: {tail}"));
                    }
                    return Err(message);
                }
            }
        }
        Transport::Http { url, headers } => {
            let running = connect_http(server, url, headers, handler).await?;
            (running, None, None, None)
        }
    };
    let peer = running.peer().clone();
    peer.set_response_cache_config(ClientCacheConfig::disabled())
        .await;
    let offer = read_offer(&server.spec, &peer).await?;
    server.go_live(peer, link, offer, group.as_ref().and_then(Group::pid));
    Ok(Connection {
        running,
        group,
        stderr,
    })
}

/// The process to start, with every reference expanded.
fn launch<'a>(
    spec: &ServerSpec,
    command: &'a str,
    args: &[String],
    env: &BTreeMap<String, String>,
    cwd: Option<&'a std::path::PathBuf>,
) -> Result<Launch<'a>, String> {
    let name = &spec.name;
    let args = args
        .iter()
        .enumerate()
        .map(|(i, a)| expand(a, &format!("mcpServers.{name}.args[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let env = env
        .iter()
        .map(|(k, v)| Ok((k.clone(), expand(v, &format!("mcpServers.{name}.env.{k}"))?)))
        .collect::<Result<BTreeMap<_, _>, String>>()?;
    Ok(Launch {
        command,
        args,
        env,
        cwd,
    })
}

async fn connect_http(
    server: &Arc<Server>,
    url: &str,
    headers: &BTreeMap<String, String>,
    handler: Downstream,
) -> Result<RunningService<RoleClient, Downstream>, String> {
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    // rustls needs a crypto provider; ring is the one built in (a second install is a no-op).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let name = &server.spec.name;
    let url = expand(url, &format!("mcpServers.{name}.url"))?;
    let mut custom = HashMap::new();
    for (header, value) in headers {
        let key = format!("mcpServers.{name}.headers.{header}");
        let value = expand(value, &key)?;
        let header_name = http::HeaderName::from_bytes(header.as_bytes())
            .map_err(|e| format!("{key}: not a valid header name: {e}"))?;
        let header_value = http::HeaderValue::from_str(&value)
            .map_err(|_| format!("{key}: the value is not a valid header value"))?;
        custom.insert(header_name, header_value);
    }
    let config = StreamableHttpClientTransportConfig::with_uri(url.clone()).custom_headers(custom);
    let transport = StreamableHttpClientTransport::from_config(config);
    handler
        .serve(Ordered::new(transport, server.clone()))
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))
}

async fn follow_stderr(server: Arc<Server>, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(server = %server.spec.name, "stderr: {line}");
        server.note_stderr(line);
    }
}

fn capabilities(peer: &Peer<RoleClient>) -> ServerCapabilities {
    peer.peer_info()
        .map(|info| info.capabilities.clone())
        .unwrap_or_default()
}

/// Everything the server offers, its tools filtered.
async fn read_offer(spec: &ServerSpec, peer: &Peer<RoleClient>) -> Result<Offer, String> {
    let capabilities = capabilities(peer);
    let mut offer = Offer::default();
    if capabilities.tools.is_some() {
        offer.tools = read_tools(spec, peer).await?;
    }
    if capabilities.resources.is_some() {
        (offer.resources, offer.resource_templates) = read_resources(spec, peer).await;
    }
    if capabilities.prompts.is_some() {
        offer.prompts = read_prompts(spec, peer).await;
    }
    Ok(offer)
}

async fn read_tools(spec: &ServerSpec, peer: &Peer<RoleClient>) -> Result<Vec<Tool>, String> {
    let tools = peer
        .list_all_tools()
        .await
        .map_err(|e| format!("tools/list failed: {e}"))?;
    Ok(tools
        .into_iter()
        .filter(|t| spec.tools.admits(&t.name) && exposable(spec, "tool", &t.name))
        .collect())
}

/// Whether `name` can be offered under the server's prefix; a name that cannot (a dot, too
/// long) is left out with a warning rather than refusing the whole server.
fn exposable(spec: &ServerSpec, kind: &str, name: &str) -> bool {
    let exposed = crate::catalog::naming::exposed(&spec.prefix, name);
    let fits = crate::catalog::naming::is_valid_tool_name(&exposed);
    if !fits {
        tracing::warn!(
            server = %spec.name,
            "the server offers a {kind} named {name:?}, which cannot be offered as {exposed:?} (letters, digits, '_' and '-', at most 64 characters); it is left out (a shorter \"prefix\" may help)"
        );
    }
    fits
}

async fn read_resources(
    spec: &ServerSpec,
    peer: &Peer<RoleClient>,
) -> (
    Vec<rmcp::model::Resource>,
    Vec<rmcp::model::ResourceTemplate>,
) {
    let resources = peer.list_all_resources().await.unwrap_or_else(|e| {
        tracing::warn!(server = %spec.name, error = %e, "resources/list failed; its resources are not offered");
        Vec::new()
    });
    let templates = peer.list_all_resource_templates().await.unwrap_or_else(|e| {
        tracing::warn!(server = %spec.name, error = %e, "resources/templates/list failed; its templates are not offered");
        Vec::new()
    });
    (resources, templates)
}

async fn read_prompts(spec: &ServerSpec, peer: &Peer<RoleClient>) -> Vec<rmcp::model::Prompt> {
    let prompts = peer.list_all_prompts().await.unwrap_or_else(|e| {
        tracing::warn!(server = %spec.name, error = %e, "prompts/list failed; its prompts are not offered");
        Vec::new()
    });
    prompts
        .into_iter()
        .filter(|p| exposable(spec, "prompt", &p.name))
        .collect()
}

/// Re-read one list after the server announced that it changed.
pub async fn refetch(server: &Arc<Server>, kind: ListKind) -> Result<(), String> {
    // Notices are handled on tasks of their own; reading one list at a time means the read
    // that finishes last started last, so the offer ends with the server's latest list.
    let _one_at_a_time = server.refetching.lock().await;
    let Some(peer) = server.peer() else {
        return Ok(());
    };
    let spec = &server.spec;
    match kind {
        ListKind::Tools => {
            let tools = read_tools(spec, &peer).await?;
            server.update_offer(|offer| offer.tools = tools);
        }
        ListKind::Resources => {
            let (resources, templates) = read_resources(spec, &peer).await;
            server.update_offer(|offer| {
                offer.resources = resources;
                offer.resource_templates = templates;
            });
        }
        ListKind::Prompts => {
            let prompts = read_prompts(spec, &peer).await;
            server.update_offer(|offer| offer.prompts = prompts);
        }
    }
    Ok(())
}

/// While switchboard serves a client over stdio, notice when the process that started it (the
/// MCP client) is gone without closing our stdin, and shut down as on SIGTERM, so no server
/// outlives it. (Not for `serve --http`, which outlives the shell that started it.)
#[cfg(unix)]
pub fn watch_parent() {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    if parent <= 1 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            // SAFETY: as above.
            if unsafe { libc::getppid() } != parent {
                tracing::warn!(
                    parent,
                    "the process that started switchboard is gone; shutting down"
                );
                // SAFETY: signalling ourselves; serve's SIGTERM handler shuts down cleanly.
                unsafe {
                    libc::kill(libc::getpid(), libc::SIGTERM);
                }
                return;
            }
        }
    });
}

/// Without `getppid` the client's end of stdin is what ends switchboard.
#[cfg(not(unix))]
pub fn watch_parent() {}
