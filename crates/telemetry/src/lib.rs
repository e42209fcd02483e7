//! Vigil's telemetry: tracing setup, the metric-name catalogue ([`names`]),
//! the Prometheus registry with every handle ([`Metrics`]), a rate limiter
//! for repeated error logs ([`LogLimiter`]), latency recording
//! ([`LatencyRecorder`]) and the admin HTTP server ([`serve_admin`]:
//! `/metrics`, `/healthz`, `/readyz`).
//!
//! Metric handles are registered once, when the pipeline is built, and
//! stages emit once per batch from their stats values.
//!
//! ```
//! let m = vigil_telemetry::Metrics::new();
//! m.score_scored_posts.inc_by(3);
//! let text = m.render();
//! assert!(text.contains("vigil_score_scored_posts_total 3"));
//! ```
#![deny(missing_docs)]

mod admin;
mod latency;
mod limiter;
mod logging;
mod metrics;
pub mod names;

pub use crate::{
    admin::{admin_router, serve_admin, AdminServer, Readiness, ServerLimits},
    latency::{LatencyRecorder, Percentiles},
    limiter::LogLimiter,
    logging::{init_logging, is_broken_pipe, LogFormat},
    metrics::Metrics,
};
