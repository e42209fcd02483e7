//! Vigil's incidents: what crisis managers see, acknowledge, assign, resolve
//! and review afterwards.
//!
//! Detect opens, escalates and resolves *incidents* (one per watch and
//! crisis); the alert stage turns those transitions into [`Alert`]s. This
//! crate keeps each incident's workflow on top of that:
//!
//! - [`IncidentTracker`], the pure core. Alerts, spikes, people's
//!   [`Action`]s and timer ticks go in, each with the current time as an
//!   argument (no clock, no I/O); incident changes and the
//!   [`Notification`]s to deliver come out. It applies the semantics of
//!   `docs/INCIDENTS.md`: duplicate alert ids change nothing, an
//!   acknowledgement stops re-notification while the level holds, a level
//!   rise notifies again, `ack_timeout_secs` withdraws the acknowledgement
//!   of an incident that keeps firing, silences record but do not notify,
//!   and the [`EscalationPolicy`] re-notifies through its steps until
//!   someone acknowledges.
//! - [`IncidentStore`], the same core made durable in a redb file: every
//!   mutating call commits one write transaction with immediate durability
//!   before it returns, and opening the file restores everything. It is
//!   `Send + Sync` and blocking (use `spawn_blocking` from async code), and
//!   broadcasts a [`Change`] after each commit for live views.
//! - [`ReviewReport`], the post-crisis review of one incident (JSON or
//!   Markdown).
//!
//! ```
//! use vigil_incidents::{Action, EscalationPolicy, IncidentStore, NotifyReason, State};
//! use vigil_types::{EventTime, Level, Spike, Transition, WatchId, WindowFigures};
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("incidents.redb");
//! let spike = Spike {
//!     watch: WatchId::from("acme"), incident: "acme-1".into(),
//!     transition: Transition::Opened, level: Level::Major, triggers: vec![],
//!     figures: WindowFigures {
//!         reason: "major".into(), window_start: EventTime(0), window_end: EventTime(60_000),
//!         observed: 400, baseline: 3.0, z: 40.0, negative_share: 0.8, top_terms: vec!["recall".into()],
//!         distinct_sources: 3,
//!     },
//!     sample_post_ids: vec![], distinct_regions: 0, crisis_kinds: vec![],
//!     evidence: Default::default(),
//! };
//! {
//!     let store = IncidentStore::open(&path, EscalationPolicy::notify_all(vec!["stdout".into()])).unwrap();
//!     let out = store.on_spike(&spike, EventTime(61_000)).unwrap();
//!     assert_eq!(out.notifications()[0].reason, NotifyReason::New);
//!     let ack = store.act("acme-1", Action::Ack, "alice", EventTime(121_000)).unwrap();
//!     assert_eq!(ack.time_to_acknowledge_secs, Some(60.0));
//! }
//! // Everything acknowledged to a caller is in the file.
//! let store = IncidentStore::open(&path, EscalationPolicy::default()).unwrap();
//! assert_eq!(store.get("acme-1").unwrap().state, State::Acknowledged);
//! // A replay of the same spike is recognised by its alert id.
//! assert!(store.on_spike(&spike, EventTime(200_000)).unwrap().notifications().is_empty());
//! println!("{}", store.export("acme-1").unwrap().to_markdown());
//! ```
//!
//! # Crate features
//!
//! None.
//!
//! [`Alert`]: vigil_types::Alert
#![deny(missing_docs)]

mod error;
mod model;
mod period;
mod policy;
mod report;
mod store;
mod tracker;

pub use crate::{
    error::Error,
    model::{
        ActOutcome, Action, Change, Checklist, ChecklistStep, Clock, Draft, Escalation, Event,
        EventKind, Filter, Incident, IncidentSummary, LevelEvidence, NewReport, NewSilence,
        Notification, NotifyReason, Outcome, Report, ReportOutcome, Review, Role, Silence, Stamp,
        State, Stats, Target, VolumePoint, WindowFigures, AUTOMATIC_ACTOR, MAX_EVIDENCE,
        MAX_REPORT_LINKS, MAX_SAMPLE_POSTS, MAX_TEXT_CHARS, MAX_TIMELINE_EVENTS, MAX_VOLUME_POINTS,
        REPORTED_WATCH,
    },
    period::{Durations, PeriodReport, WatchCount, TOP_WATCHES},
    policy::{EscalationPolicy, LevelPolicy, ReportingPath, Step, Targets},
    report::{LevelSpan, Measured, ReviewReport},
    store::{FaultyFile, IncidentStore, STORE_FILE},
    tracker::{IncidentTracker, DEFAULT_RETENTION, MAX_SILENCE},
};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
