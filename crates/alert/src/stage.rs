//! The async alert runner: spike batches in, incidents recorded, sinks
//! notified, alerts out.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use vigil_incidents::{IncidentStore, Outcome};
use vigil_telemetry::{Metrics, Readiness};
use vigil_transport::{Consumer, Producer, Record, Stream, TransportError};
use vigil_types::{Alert, EventTime, Level, Spike, Transition};

use crate::Dispatcher;

/// How often the escalation timers run (and, while the incident store is
/// degraded, how often it is tried again; and the outbox's retries).
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);

/// The part of the process `/readyz` names while the incident store refuses
/// writes.
pub const STORE_DEGRADED: &str = "incident_store";

/// Totals of one alert run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertTotals {
    /// Alerts recorded and notified, by level.
    pub by_level: BTreeMap<Level, u64>,
    /// Spikes that did not alert, by reason (`duplicate`, `ongoing`,
    /// `silenced`).
    pub suppressed: BTreeMap<&'static str, u64>,
    /// Deliveries that failed after retries (or because a sink's queue was
    /// full) during the run.
    pub failed: u64,
    /// Notifications still undelivered, per sink, when the run ended and the
    /// shutdown timeout ran out (kept in the outbox for the next start).
    pub undelivered: BTreeMap<String, usize>,
}

impl AlertTotals {
    /// Total alerts.
    pub fn total(&self) -> u64 {
        self.by_level.values().sum()
    }
}

/// An alert stage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertError {
    /// Reading spikes or writing alerts failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The incident store could not record a batch.
    #[error("incident store: {0}")]
    Store(#[from] vigil_incidents::Error),
    /// A blocking store call panicked.
    #[error("incident store task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What the alert stage works with: the durable incident store, the
/// delivery tasks, metrics, readiness and the clock (wall time in
/// production).
#[derive(Clone, Debug)]
pub struct AlertStage {
    /// Incidents (dedupe, workflow, escalation policy).
    pub store: Arc<IncidentStore>,
    /// Where notifications go.
    pub dispatcher: Dispatcher,
    /// Metrics.
    pub metrics: Metrics,
    /// The process's readiness: marked degraded ([`STORE_DEGRADED`]) while
    /// the incident store refuses writes.
    pub readiness: Readiness,
    /// The processing-time clock.
    pub now: fn() -> EventTime,
}

impl AlertStage {
    /// Runs the escalation timers every [`TICK_INTERVAL`] until `cancel`
    /// fires, keeps `vigil_alert_active_incidents` current, sends again
    /// what the outbox holds once its backoff is over, and, while the store
    /// is degraded, tries it again (a tick writes what is held).
    pub fn spawn_timers(&self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK_INTERVAL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = every.tick() => {}
                }
                me.tick().await;
            }
        })
    }

    /// One timer tick (see [`AlertStage::spawn_timers`]).
    pub async fn tick(&self) {
        let store = self.store.clone();
        let now = (self.now)();
        match tokio::task::spawn_blocking(move || store.tick_or_hold(now)).await {
            Ok((ns, unsaved)) => {
                self.note_store(unsaved.as_ref());
                for n in &ns {
                    if let Some(target) = n.target {
                        self.metrics
                            .incident_target_breaches
                            .with_label_values(&[n.alert.level.as_str(), target.as_str()])
                            .inc();
                    }
                }
                self.dispatcher.submit(ns);
            }
            Err(e) => error!(error = %e, "Escalation timer task failed."),
        }
        if let Err(e) = self.dispatcher.resend_outbox(now, false).await {
            debug!(error = %e, "Reading the outbox failed; trying again at the next tick.");
        }
        self.update_gauges();
    }

    /// Accounts for one store write: a failure is counted at once
    /// (`vigil_alert_store_errors_total`, `vigil_errors_total`), puts the
    /// stage in degraded mode (logged at ERROR when it starts,
    /// `vigil_alert_store_degraded` 1, `/readyz` not ready); the first
    /// success after it ends degraded mode.
    fn note_store(&self, unsaved: Option<&vigil_incidents::Error>) {
        match unsaved {
            Some(e) => {
                self.metrics.alert_store_errors.inc();
                self.metrics
                    .errors
                    .with_label_values(&["alert", e.class().as_str()])
                    .inc();
                self.metrics.alert_store_degraded.set(1);
                if self.readiness.set_degraded(STORE_DEGRADED, true) {
                    error!(
                        path = %self.store.path().display(),
                        error = %e,
                        "Incident store write failed; alerts are still delivered but not recorded (degraded mode) and the store is tried again every second."
                    );
                } else {
                    debug!(error = %e, "Incident store write failed again.");
                }
            }
            None => {
                if !self.store.is_degraded() && self.readiness.set_degraded(STORE_DEGRADED, false) {
                    self.metrics.alert_store_degraded.set(0);
                    warn!(
                        path = %self.store.path().display(),
                        "Incident store writes succeed again; what was held in memory is recorded, degraded mode is over."
                    );
                }
            }
        }
    }

    fn update_gauges(&self) {
        for (level, n) in self.store.stats((self.now)()).active_by_level {
            self.metrics
                .alert_active_incidents
                .with_label_values(&[level.as_str()])
                .set(n as i64);
        }
    }
}

/// Runs the alert stage until its input ends. First the outbox is sent
/// again (what a crash or shutdown left undelivered, what failed before).
/// Each batch of spikes is recorded in the incident store in one durable
/// transaction, with its notifications in the store's outbox; the
/// notifications are queued to the sinks (each sink has its own task, so
/// none waits for another); the alerts are sent to `alerts_out`; only then
/// is the batch acknowledged upstream. A replayed spike carries a known
/// alert id and changes nothing. Alerts notified are also handed to `tap`
/// (tests and the replay summary).
///
/// If the store cannot write a batch, the stage does not stop: it goes on
/// in degraded mode (see [`IncidentStore::on_spikes_or_hold`]): the error
/// is logged and counted, readiness reports [`STORE_DEGRADED`], and the
/// alerts are still delivered. At the end, the sinks get at most the
/// dispatcher's shutdown timeout to deliver what is queued
/// ([`AlertTotals::undelivered`]).
pub async fn run_alert<C, P>(
    stage: AlertStage,
    mut input: C,
    mut alerts_out: P,
    mut tap: impl FnMut(&Alert) + Send,
) -> Result<AlertTotals, AlertError>
where
    C: Consumer<Spike>,
    P: Producer<Alert>,
{
    let metrics = &stage.metrics;
    let received = metrics
        .transport_received_messages
        .with_label_values(&[Stream::Spikes.as_str()]);
    let mut totals = AlertTotals::default();
    let failed_before = stage.dispatcher.failed();
    if let Err(e) = stage.dispatcher.resend_outbox((stage.now)(), true).await {
        stage.note_store(Some(&e));
    }
    let suppress = |totals: &mut AlertTotals, reason: &'static str| {
        *totals.suppressed.entry(reason).or_default() += 1;
        metrics
            .alert_suppressed_alerts
            .with_label_values(&[reason])
            .inc();
    };
    while let Some(batch) = input.recv().await? {
        received.inc_by(batch.len() as u64);
        let spikes: Vec<Spike> = batch.iter().map(|d| d.value.clone()).collect();
        let store = stage.store.clone();
        let now = (stage.now)();
        let (spikes, (outcomes, unsaved)) = tokio::task::spawn_blocking(move || {
            let recorded = store.on_spikes_or_hold(&spikes, now);
            (spikes, recorded)
        })
        .await?;
        stage.note_store(unsaved.as_ref());
        let mut notifications = Vec::new();
        let mut alerts = Vec::new();
        for (spike, outcome) in spikes.iter().zip(outcomes) {
            match outcome {
                Outcome::Duplicate => suppress(&mut totals, "duplicate"),
                Outcome::Ignored => suppress(&mut totals, "ongoing"),
                Outcome::Recorded {
                    notifications: ns,
                    silenced_by,
                    ..
                } => {
                    if spike.transition == Transition::Ongoing {
                        suppress(&mut totals, "ongoing");
                    } else if silenced_by.is_some() {
                        suppress(&mut totals, "silenced");
                    } else if let Some(alert) = Alert::from_spike(spike) {
                        *totals.by_level.entry(alert.level).or_default() += 1;
                        let late_ms = (now.0 - alert.figures.window_end.0).max(0);
                        metrics
                            .alert_delay
                            .with_label_values(&[alert.level.as_str()])
                            .observe(late_ms as f64 / 1000.0);
                        info!(
                            watch = %alert.watch,
                            level = alert.level.as_str(),
                            state = alert.transition.as_str(),
                            alert_id = %alert.alert_id,
                            "Alert."
                        );
                        alerts.push(alert);
                    }
                    notifications.extend(ns);
                }
            }
        }
        stage.dispatcher.submit(notifications);
        for a in &alerts {
            tap(a);
        }
        if !alerts.is_empty() {
            let records = alerts
                .into_iter()
                .map(|a| Record::new(a.watch.0.clone(), a))
                .collect();
            alerts_out.send(records).await?;
        }
        stage.update_gauges();
        let positions: Vec<_> = batch.iter().map(|d| d.position).collect();
        input.ack(&positions).await?;
    }
    alerts_out.flush().await?;
    if stage.store.is_degraded() {
        let store = stage.store.clone();
        match tokio::task::spawn_blocking(move || store.flush_held()).await? {
            Ok(()) => stage.note_store(None),
            Err(e) => error!(
                path = %stage.store.path().display(),
                error = %e,
                "Stopping in degraded mode: incident changes since the store last wrote are lost (their alerts were delivered)."
            ),
        }
    }
    totals.undelivered = stage.dispatcher.drain().await;
    totals.failed = stage.dispatcher.failed() - failed_before;
    info!(alerts = totals.total(), "Alert finished.");
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use vigil_incidents::EscalationPolicy;
    use vigil_transport::{memory_stream, Discard, Producer, Record};

    use super::*;
    use crate::Sink;

    fn spike(t: Transition) -> Spike {
        vigil_types::fixtures::spike("acme", "acme-1", t, Level::Major, 60)
    }

    /// A crash between the store's commit and the delivery: the next run
    /// delivers from the outbox first, and a replay of the same spike does
    /// not notify again.
    #[tokio::test]
    async fn a_notification_committed_but_not_delivered_is_delivered_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("incidents.redb");
        let out = dir.path().join("stdout.jsonl");
        {
            let store =
                IncidentStore::open(&path, EscalationPolicy::notify_all(vec!["stdout".into()]))
                    .unwrap();
            let o = store
                .on_spike(&spike(Transition::Opened), EventTime(61_000))
                .unwrap();
            assert_eq!(o.notifications().len(), 1);
            // ...and the process dies before delivering it.
        }
        let store = Arc::new(
            IncidentStore::open(&path, EscalationPolicy::notify_all(vec!["stdout".into()]))
                .unwrap(),
        );
        assert_eq!(store.pending_notifications().unwrap().len(), 1);
        let file = tokio::fs::File::create(&out).await.unwrap();
        let metrics = Metrics::new();
        let stage = AlertStage {
            store: store.clone(),
            dispatcher: Dispatcher::spawn(
                vec![Sink::lines("stdout", Box::new(file))],
                metrics.clone(),
                store.clone(),
            ),
            metrics,
            readiness: Readiness::default(),
            now: || EventTime(62_000),
        };
        let (mut tx, rx) = memory_stream(4);
        // The upstream replays the spike (its offset was not committed).
        tx.send(vec![Record::new("acme", spike(Transition::Opened))])
            .await
            .unwrap();
        drop(tx);
        let totals = run_alert(stage, rx, Discard, |_| {}).await.unwrap();
        assert_eq!(totals.suppressed.get("duplicate"), Some(&1));
        assert_eq!(totals.total(), 0, "the replay is not a new alert");
        let lines = std::fs::read_to_string(&out).unwrap();
        assert_eq!(lines.lines().count(), 1, "{lines}");
        let alert: Alert = serde_json::from_str(lines.trim()).unwrap();
        assert_eq!(alert.incident, "acme-1");
        assert!(store.pending_notifications().unwrap().is_empty());
    }

    /// Each alert recorded observes how long after its window's end (event
    /// time) it was recorded (processing time); suppressed spikes do not.
    #[tokio::test]
    async fn an_alert_observes_its_delay_from_the_end_of_its_window() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            IncidentStore::open(
                &dir.path().join("incidents.redb"),
                EscalationPolicy::notify_all(vec![]),
            )
            .unwrap(),
        );
        let metrics = Metrics::new();
        let stage = AlertStage {
            store: store.clone(),
            dispatcher: Dispatcher::spawn(vec![], metrics.clone(), store),
            metrics: metrics.clone(),
            readiness: Readiness::default(),
            // The window ends at 60 s; recorded 12.5 s later.
            now: || EventTime(72_500),
        };
        let (mut tx, rx) = memory_stream(4);
        tx.send(vec![
            Record::new("acme", spike(Transition::Opened)),
            Record::new("acme", spike(Transition::Ongoing)),
        ])
        .await
        .unwrap();
        drop(tx);
        let totals = run_alert(stage, rx, Discard, |_| {}).await.unwrap();
        assert_eq!(totals.total(), 1);
        let page = metrics.render();
        for line in [
            r#"vigil_alert_delay_seconds_count{level="major"} 1"#,
            r#"vigil_alert_delay_seconds_sum{level="major"} 12.5"#,
            r#"vigil_alert_delay_seconds_bucket{level="major",le="15"} 1"#,
            r#"vigil_alert_delay_seconds_bucket{level="major",le="5"} 0"#,
        ] {
            assert!(page.contains(line), "missing {line} in\n{page}");
        }
    }
}
