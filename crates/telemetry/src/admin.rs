//! The admin HTTP server: `/metrics`, `/healthz`, `/readyz`.

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Router};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::Metrics;

/// Whether the process is ready to take work (`/readyz`): started (set by
/// the process) and not degraded. A part of the process that cannot do its
/// whole job (the incident store refusing writes) marks itself degraded by
/// name, and clears it when it recovers; `/readyz` answers 503 naming
/// every degraded part. Several owners (the process, the Kafka exporter,
/// the alert stage) can so share one value without overwriting each other.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<ReadinessInner>);

#[derive(Debug, Default)]
struct ReadinessInner {
    started: AtomicBool,
    degraded: Mutex<BTreeSet<&'static str>>,
}

impl Readiness {
    /// Sets whether the process is started (ready unless degraded).
    pub fn set(&self, ready: bool) {
        self.0.started.store(ready, Ordering::Release);
    }

    /// Current readiness: started and nothing degraded.
    pub fn get(&self) -> bool {
        self.0.started.load(Ordering::Acquire) && self.degraded().is_empty()
    }

    /// Marks `part` (a fixed name, such as `incident_store`) degraded or
    /// not; returns whether that changed anything.
    pub fn set_degraded(&self, part: &'static str, yes: bool) -> bool {
        let mut d = self.0.degraded.lock().expect("readiness lock");
        if yes {
            d.insert(part)
        } else {
            d.remove(part)
        }
    }

    /// The degraded parts, sorted.
    pub fn degraded(&self) -> Vec<&'static str> {
        self.0
            .degraded
            .lock()
            .expect("readiness lock")
            .iter()
            .copied()
            .collect()
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
    let degraded = s.ready.degraded();
    if s.ready.get() {
        (StatusCode::OK, "ready\n".to_string())
    } else if degraded.is_empty() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: degraded: {}\n", degraded.join(", ")),
        )
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

/// Limits of the admin HTTP server (`[api]` keys of the same names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Most open connections; a connection over it is closed at once.
    pub max_connections: usize,
    /// A connection must send its request headers within this long (after
    /// it opened, or after its previous response); otherwise it is closed.
    pub header_read_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Binds `addr` and serves the admin routes, plus `extra` (the incident API
/// and console where this process runs the alert stage), until `cancel`
/// fires; then stops accepting, lets open connections finish their request
/// and waits for them.
///
/// Its own accept loop (rather than `axum::serve`) enforces `limits`: held
/// connections (a client that never sends its headers, thousands of open
/// sockets) cannot exhaust file descriptors and stop `/healthz` answering.
pub async fn serve_admin(
    addr: SocketAddr,
    metrics: Metrics,
    ready: Readiness,
    extra: Router,
    limits: ServerLimits,
    cancel: CancellationToken,
) -> std::io::Result<AdminServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = admin_router(metrics.clone(), ready).merge(extra);
    let task = tokio::spawn(accept_loop(listener, app, metrics, limits, cancel));
    Ok(AdminServer { addr, task })
}

/// The process's soft open-file limit (`RLIMIT_NOFILE`), if known.
fn open_file_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
        .filter(|&soft| soft != rlimit::INFINITY)
}

/// Connections the server holds at most: the configured limit, but never
/// more than half the open-file limit (the rest is for the store, Kafka,
/// sinks and the connections being refused), and at least 16.
fn connection_slots(configured: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(n) => configured.min(((n / 2) as usize).max(16)),
        None => configured,
    }
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    metrics: Metrics,
    limits: ServerLimits,
    cancel: CancellationToken,
) {
    let max = connection_slots(limits.max_connections, open_file_limit());
    if max < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            used = max,
            "api.max_connections is above half the open-file limit; using half of it, so a flood of connections is refused at once instead of exhausting file descriptors."
        );
    }
    let slots = Arc::new(Semaphore::new(max));
    let conns = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = cancel.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: say so, back off.
                tracing::warn!(error = %error, "Admin server could not accept a connection.");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics
                .http_rejected_connections
                .with_label_values(&["max_connections"])
                .inc();
            drop(stream);
            continue;
        };
        metrics.http_connections.inc();
        let (app, metrics, cancel) = (app.clone(), metrics.clone(), cancel.clone());
        conns.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app))
                .with_upgrades();
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.as_mut().await
                }
            };
            if let Err(e) = result {
                if e.is_timeout() {
                    metrics
                        .http_rejected_connections
                        .with_label_values(&["header_timeout"])
                        .inc();
                }
            }
            metrics.http_connections.dec();
            drop(slot);
        });
    }
    conns.close();
    conns.wait().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_stay_within_half_the_open_file_limit() {
        assert_eq!(connection_slots(1024, Some(256)), 128);
        assert_eq!(connection_slots(1024, Some(65_536)), 1024);
        assert_eq!(connection_slots(1024, Some(10)), 16);
        assert_eq!(connection_slots(100, None), 100);
    }

    #[test]
    fn degraded_parts_make_a_started_process_not_ready_until_cleared() {
        let r = Readiness::default();
        assert!(!r.get());
        r.set(true);
        assert!(r.get());
        assert!(r.set_degraded("incident_store", true));
        assert!(!r.set_degraded("incident_store", true));
        // Another owner setting "started" does not hide it.
        r.set(true);
        assert!(!r.get());
        assert_eq!(r.degraded(), ["incident_store"]);
        assert!(r.set_degraded("incident_store", false));
        assert!(r.get());
    }
}
