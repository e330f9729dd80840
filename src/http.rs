//! The Streamable HTTP transport beside stdio: `switchboard serve --http 127.0.0.1:PORT`.
//!
//! The same hub, catalog, pipeline and audit serve both transports; each HTTP session (or
//! each stateless 2026-07-28 request) gets its own [`Face`]. Every MCP request must carry the
//! bearer token (`Authorization: Bearer ...`): given with `--token` / `SWITCHBOARD_HTTP_TOKEN`,
//! else generated on first use and kept in `<state>/http-token`, readable by the user only.
//! `Host` and `Origin` must name this machine (a DNS-rebinding guard); `GET /health` answers
//! without a token.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::hub::Hub;
use crate::mcp::Face;

/// How the bearer token is obtained.
pub enum TokenSource {
    /// Given on the command line or in the environment.
    Given(String),
    /// Read from (or generated into) the file.
    File(std::path::PathBuf),
    /// No token at all (tests and conformance runs only; loopback only).
    None,
}

/// The token to require, creating the file with a fresh one when needed.
pub fn resolve_token(source: &TokenSource) -> Result<Option<String>> {
    match source {
        TokenSource::Given(token) if token.trim().len() >= 16 => Ok(Some(token.trim().to_string())),
        TokenSource::Given(_) => bail!("the HTTP token must be at least 16 characters"),
        TokenSource::None => Ok(None),
        TokenSource::File(path) => {
            if let Ok(existing) = std::fs::read_to_string(path)
                && existing.trim().len() >= 16
            {
                return Ok(Some(existing.trim().to_string()));
            }
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes)
                .map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
            let token = hex::encode(bytes);
            write_private(path, &token)?;
            Ok(Some(token))
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write the token file {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

#[derive(Clone)]
struct Guard {
    token: Option<Arc<String>>,
}

/// Compare without leaking where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn require_token(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if let Some(token) = &guard.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"switchboard\"")],
                "a bearer token is required: Authorization: Bearer <token> (see <state>/http-token)",
            )
                .into_response();
        }
    }
    next.run(request).await
}

async fn health() -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({"status": "ok", "server": "switchboard", "version": env!("CARGO_PKG_VERSION")}).to_string(),
        ))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Serve MCP over Streamable HTTP on `address` until `stop` is cancelled.
pub async fn serve(
    hub: Arc<Hub>,
    address: SocketAddr,
    token: Option<String>,
    stop: CancellationToken,
) -> Result<()> {
    if token.is_none() && !address.ip().is_loopback() {
        bail!(
            "refusing to serve without a token on {address}: only loopback addresses may go without one"
        );
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    let port = local.port();
    let hosts = ["localhost", "127.0.0.1", "::1", "[::1]"];
    let mut allowed_hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    allowed_hosts.extend(hosts.iter().map(|h| format!("{h}:{port}")));
    let allowed_origins: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .map(|h| format!("http://{h}:{port}"))
        .collect();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts)
        .with_allowed_origins(allowed_origins)
        .with_cancellation_token(stop.child_token());
    let factory_hub = hub.clone();
    let service = StreamableHttpService::new(
        move || Ok(Face::new(factory_hub.clone())),
        LocalSessionManager::default().into(),
        config,
    );
    let guard = Guard {
        token: token.map(Arc::new),
    };
    let mcp = Router::new()
        .route_service("/mcp", service)
        .layer(middleware::from_fn_with_state(guard, require_token));
    let router = Router::new().route("/health", get(health)).merge(mcp);
    tracing::info!(address = %local, "serving MCP over Streamable HTTP at http://{local}/mcp");
    eprintln!("switchboard: serving MCP at http://{local}/mcp");
    let limits = hub.config.config.serve.http.clone();
    serve_connections(listener, router, &limits, stop).await;
    Ok(())
}

/// Accept and serve connections until `stop`: at most `limits.max_connections` at once (the
/// next waits in the listen queue until one closes, so those served are never disturbed), each
/// closed when a request's headers take longer than `limits.header_timeout`. axum's own
/// `serve` has neither bound, and a client that opens connections and sends nothing would
/// hold them all. On `stop`, each connection finishes its request in hand and closes.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: &crate::config::HttpConfig,
    stop: CancellationToken,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let cap = limits.max_connections;
    let slots = Arc::new(tokio::sync::Semaphore::new(cap));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout.get());
    let mut warned_full = false;
    loop {
        // A slot first: while every slot is taken, nothing is accepted.
        if slots.available_permits() == 0 && !warned_full {
            tracing::warn!(
                max_connections = cap,
                "serving as many HTTP connections as serve.http.max_connections allows; further ones wait until one closes"
            );
            warned_full = true;
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = stop.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: say so, and try again shortly.
                    tracing::warn!(error = %e, "cannot accept an HTTP connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        if slots.available_permits() > 0 {
            warned_full = false;
        }
        let _ = stream.set_nodelay(true);
        let connection = http1
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(router.clone()),
            )
            .with_upgrades();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _slot = slot;
            tokio::pin!(connection);
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = outcome {
                // A client that stalled its headers (the timeout) or went away.
                tracing::debug!(%peer, error = %e, "HTTP connection closed");
            }
        });
    }
    // Let the connections finish what they have in hand, for a bounded time.
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    if tokio::time::timeout(std::time::Duration::from_secs(5), slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections did not all close within 5 s of shutting down");
    }
}
