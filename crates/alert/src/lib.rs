//! Vigil's alert stage: records detect's spikes in the durable incident store
//! (`vigil-incidents`), which turns incident transitions into
//! [`Alert`](vigil_types::Alert)s with stable ids, drops duplicates (a replay
//! or an at-least-once redelivery gives the same id) and applies the
//! escalation policy; the [`Dispatcher`] delivers the resulting
//! notifications to [`Sink`]s, each with its own task and bounded queue (a
//! hanging receiver delays only itself) and a durable outbox for what
//! failed, each sink with a unique name: JSON lines on stdout, a generic HTTP
//! webhook (optionally HMAC-signed), a Slack incoming webhook and Prometheus
//! Alertmanager. The HTTP sinks share one delivery mechanism (timeout,
//! capped retries with capped exponential backoff, failures counted by the
//! caller per sink).
//!
//! ```
//! use std::sync::Arc;
//! use vigil_alert::{run_alert, AlertStage, Dispatcher, Sink};
//! use vigil_incidents::{EscalationPolicy, IncidentStore};
//! use vigil_telemetry::{Metrics, Readiness};
//! use vigil_transport::{memory_stream, Discard, Producer, Record};
//! use vigil_types::{EventTime, Level, Spike, Transition, WatchId, WindowFigures};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let spike = Spike {
//!     watch: WatchId::from("acme"), incident: "acme-1".into(),
//!     transition: Transition::Opened, level: Level::Minor, triggers: vec![],
//!     figures: WindowFigures {
//!         reason: "minor".into(), window_start: EventTime(0), window_end: EventTime(60_000),
//!         observed: 40, baseline: 3.0, z: 12.0, negative_share: 0.1, top_terms: vec![],
//!         distinct_sources: 1,
//!     },
//!     sample_post_ids: vec![], distinct_regions: 0, crisis_kinds: vec![],
//!     evidence: Default::default(),
//! };
//! # let dir = tempfile::tempdir().unwrap();
//! let store = IncidentStore::open(
//!     &dir.path().join("incidents.redb"),
//!     EscalationPolicy::notify_all(vec!["stdout".into()]),
//! ).unwrap();
//! let (store, metrics) = (Arc::new(store), Metrics::new());
//! let sinks = vec![Sink::lines("stdout", Box::new(tokio::io::sink()))];
//! let stage = AlertStage {
//!     store: store.clone(),
//!     dispatcher: Dispatcher::spawn(sinks, metrics.clone(), store),
//!     metrics,
//!     readiness: Readiness::default(),
//!     now: || EventTime(61_000),
//! };
//! let (mut tx, rx) = memory_stream(4);
//! // The same spike twice (a replay): one alert.
//! tx.send(vec![Record::new("acme", spike.clone()), Record::new("acme", spike)]).await.unwrap();
//! drop(tx);
//! let totals = run_alert(stage, rx, Discard, |_| {}).await.unwrap();
//! assert_eq!(totals.total(), 1);
//! assert_eq!(totals.suppressed["duplicate"], 1);
//! # });
//! ```
#![deny(missing_docs)]

mod dispatch;
mod sink;
mod stage;

pub use crate::{
    dispatch::{DispatchOptions, Dispatcher},
    sink::{build_sinks, AttemptError, Sink, SinkError},
    stage::{run_alert, AlertError, AlertStage, AlertTotals, STORE_DEGRADED, TICK_INTERVAL},
};
