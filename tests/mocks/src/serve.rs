//! Serving an axum router on loopback from a thread of its own, so blocking tests (a plugin's
//! calls are blocking) can start a stand-in without a runtime, and recording every request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::sync::oneshot;

/// A request as the stand-in received it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `GET`, `POST`...
    pub method: String,
    /// The path and query, as sent.
    pub target: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// A running stand-in; stops when dropped.
pub struct Mock {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    /// Serve `router` on `127.0.0.1` at a free port (or `port` when given).
    pub fn start(router: Router, port: Option<u16>) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port.unwrap_or(0)))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let router = router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let recorded = Arc::clone(&recorded);
            async move { record(&recorded, request, next).await }
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name(format!("mock {addr}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => panic!("the stand-in could not listen: {e}"),
                    };
                    let serving = axum::serve(listener, router).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                    if let Err(e) = serving.await {
                        eprintln!("the stand-in on {addr} stopped: {e}");
                    }
                });
            })?;
        Ok(Self {
            addr,
            seen,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request received so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The requests whose path (before any `?`) is `path`.
    pub fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.target.split('?').next() == Some(path))
            .collect()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn record(seen: &Mutex<Vec<Seen>>, request: Request<Body>, next: Next) -> Response {
    let entry = Seen {
        method: request.method().to_string(),
        target: request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        authorization: request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
    next.run(request).await
}
