//! `switchboard serve`: the MCP server on stdin/stdout, until stdin closes or a signal.

use std::process::ExitCode;

use anyhow::{Context, Result};
use rmcp::ServiceExt;

use crate::config::Loaded;
use crate::hub::{Hub, StartOptions};
use crate::mcp::Face;
use crate::state::State;

/// Serve until the client goes away (stdio) or a signal (HTTP); flush the audit log before
/// returning.
pub async fn run(loaded: Loaded, args: super::ServeArgs) -> Result<ExitCode> {
    if let Some(address) = args.http {
        return serve_http(loaded, address, args).await;
    }
    let state = State::open(&loaded.home.database()).with_context(|| {
        format!(
            "opening the state database {}",
            loaded.home.database().display()
        )
    })?;
    tracing::info!(config = %loaded.source, state = %state.path().display(), "switchboard starting");
    crate::awake::keep(loaded.config.serve.stay_awake.get());
    let hub = Hub::start(loaded, state, StartOptions { serving: true });
    // The client that launched us may die without closing our stdin: end with it.
    crate::server::supervise::watch_parent();
    let face = Face::new(hub.clone());
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    let shortcut: std::sync::Arc<dyn crate::mcp::stdio::Shortcut> =
        std::sync::Arc::new(face.clone());
    let transport = crate::mcp::stdio::LineTransport::new(stdin, stdout, Some(shortcut));
    let stop_reading = transport.stop_reading();
    let outcome = match face.serve(transport).await {
        Ok(running) => {
            let cancel = running.cancellation_token();
            let unservable = async {
                match hub.ready().await {
                    Ok(()) => std::future::pending().await,
                    Err(e) => e,
                }
            };
            let ended = running.waiting();
            tokio::pin!(ended);
            tokio::select! {
                quit = &mut ended => {
                    tracing::info!(reason = ?quit, "client connection ended");
                    Ok(())
                }
                () = shutdown_signal() => {
                    // Stop reading, answer what was read (its rows are written by the
                    // shutdown below); a second signal ends at once.
                    tracing::info!("signal received; answering the requests already read, then shutting down");
                    stop_reading.cancel();
                    tokio::select! {
                        _ = &mut ended => {}
                        () = shutdown_signal() => {
                            tracing::warn!("second signal; shutting down without waiting for answers");
                            cancel.cancel();
                        }
                    }
                    Ok(())
                }
                error = unservable => {
                    cancel.cancel();
                    Err(error.context("the catalog cannot be served"))
                }
            }
        }
        // The client left before initializing: nothing to serve, not an error.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => Ok(()),
        Err(e) => Err(anyhow::anyhow!("the MCP session could not start: {e}")),
    };
    hub.shutdown().await;
    outcome.map(|()| ExitCode::SUCCESS)
}

async fn serve_http(
    loaded: Loaded,
    address: std::net::SocketAddr,
    args: super::ServeArgs,
) -> Result<ExitCode> {
    let source = match (args.token, args.no_auth) {
        (Some(token), _) => crate::http::TokenSource::Given(token),
        (None, true) => crate::http::TokenSource::None,
        (None, false) => crate::http::TokenSource::File(loaded.home.state_dir.join("http-token")),
    };
    let token = crate::http::resolve_token(&source)?;
    if let crate::http::TokenSource::File(path) = &source {
        eprintln!(
            "switchboard: HTTP clients authenticate with the token in {}",
            path.display()
        );
    }
    let state = State::open(&loaded.home.database()).with_context(|| {
        format!(
            "opening the state database {}",
            loaded.home.database().display()
        )
    })?;
    let hub = Hub::start(loaded, state, StartOptions { serving: true });
    let stop = tokio_util::sync::CancellationToken::new();
    let server = crate::http::serve(hub.clone(), address, token, stop.clone());
    tokio::pin!(server);
    let outcome = tokio::select! {
        result = &mut server => result,
        () = shutdown_signal() => {
            tracing::info!("signal received; shutting down");
            stop.cancel();
            server.await
        }
        error = async {
            match hub.ready().await {
                Ok(()) => std::future::pending().await,
                Err(e) => e,
            }
        } => {
            stop.cancel();
            Err(error.context("the catalog cannot be served"))
        }
    };
    hub.shutdown().await;
    outcome.map(|()| ExitCode::SUCCESS)
}

#[cfg(unix)]
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(not(unix))]
async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
