//! Vigil's alert stage: turns incident transitions from detect into
//! [`Alert`](vigil_types::Alert)s with stable ids, drops duplicates (a replay
//! or an at-least-once redelivery gives the same id), and delivers them to
//! [`Sink`]s, each with a unique name: JSON lines on stdout, a generic HTTP
//! webhook (optionally HMAC-signed), a Slack incoming webhook and Prometheus
//! Alertmanager. The HTTP sinks share one delivery mechanism (timeout,
//! capped retries with capped exponential backoff, failures counted by the
//! caller per sink).
//!
//! ```
//! use vigil_alert::{Alerter, Decision};
//! use vigil_types::{EventTime, Level, Spike, Transition, WatchId};
//! let spike = Spike {
//!     watch: WatchId::from("acme"), incident: "acme-1".into(),
//!     transition: Transition::Opened, level: Level::Minor, triggers: vec![],
//!     reason: "minor".into(), window_start: EventTime(0), window_end: EventTime(60_000),
//!     observed: 40, baseline: 3.0, z: 12.0, negative_share: 0.1, top_terms: vec![],
//!     sample_post_ids: vec![], distinct_sources: 1, distinct_regions: 0, crisis_kinds: vec![],
//! };
//! let mut a = Alerter::new(100);
//! assert!(matches!(a.on_spike(&spike), Decision::Send(_)));
//! assert!(matches!(a.on_spike(&spike), Decision::Suppress("duplicate")));
//! ```
#![deny(missing_docs)]

mod alerter;
mod sink;
mod stage;

pub use crate::{
    alerter::{Alerter, Decision},
    sink::{build_sinks, AttemptError, Sink, SinkError},
    stage::{run_alert, AlertTotals},
};
