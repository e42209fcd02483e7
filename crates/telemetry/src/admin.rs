//! The admin HTTP server: `/metrics`, `/healthz`, `/readyz`.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Router};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::Metrics;

/// Whether the process is ready to take work (`/readyz`).
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Sets readiness.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// Current readiness.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[derive(Clone)]
struct AdminState {
    metrics: Metrics,
    ready: Readiness,
}

/// A running admin server.
#[derive(Debug)]
pub struct AdminServer {
    /// The address it is bound to (useful with port 0).
    pub addr: SocketAddr,
    /// The server task; ends after the cancellation token fires.
    pub task: JoinHandle<()>,
}

async fn metrics_handler(State(s): State<AdminState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<AdminState>) -> impl IntoResponse {
    if s.ready.get() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// The admin routes, for embedding in a larger router.
pub fn admin_router(metrics: Metrics, ready: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AdminState { metrics, ready })
}

/// Binds `addr` and serves the admin routes, plus `extra` (the incident API
/// and console where this process runs the alert stage), until `cancel`
/// fires.
pub async fn serve_admin(
    addr: SocketAddr,
    metrics: Metrics,
    ready: Readiness,
    extra: Router,
    cancel: CancellationToken,
) -> std::io::Result<AdminServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = admin_router(metrics, ready).merge(extra);
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await;
        if let Err(error) = result {
            tracing::error!(error = %error, "Admin server failed.");
        }
    });
    Ok(AdminServer { addr, task })
}
