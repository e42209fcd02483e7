//! The async alert runner: spike batches in, incidents recorded, sinks
//! notified, alerts out.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;
use tracing::{error, info};
use vigil_incidents::{IncidentStore, Outcome};
use vigil_telemetry::Metrics;
use vigil_transport::{Consumer, Producer, Record, Stream, TransportError};
use vigil_types::{Alert, EventTime, Level, Spike, Transition};

use crate::Dispatcher;

/// How often the escalation timers run.
pub const TICK_INTERVAL: Duration = Duration::from_secs(1);

/// Totals of one alert run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertTotals {
    /// Alerts recorded and notified, by level.
    pub by_level: BTreeMap<Level, u64>,
    /// Spikes that did not alert, by reason (`duplicate`, `ongoing`,
    /// `silenced`).
    pub suppressed: BTreeMap<&'static str, u64>,
    /// Deliveries that failed after retries.
    pub failed: u64,
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
/// delivery task, metrics, and the clock (wall time in production).
#[derive(Clone, Debug)]
pub struct AlertStage {
    /// Incidents (dedupe, workflow, escalation policy).
    pub store: Arc<IncidentStore>,
    /// Where notifications go.
    pub dispatcher: Dispatcher,
    /// Metrics.
    pub metrics: Metrics,
    /// The processing-time clock.
    pub now: fn() -> EventTime,
}

impl AlertStage {
    /// Runs the escalation timers every [`TICK_INTERVAL`] until `cancel`
    /// fires, and keeps `vigil_alert_active_incidents` current.
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
                let store = me.store.clone();
                let now = (me.now)();
                match tokio::task::spawn_blocking(move || store.tick(now)).await {
                    Ok(Ok(ns)) => me.dispatcher.submit(ns),
                    Ok(Err(e)) => error!(error = %e, "Escalation timers failed."),
                    Err(e) => error!(error = %e, "Escalation timer task failed."),
                }
                me.update_gauges();
            }
        })
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

/// Runs the alert stage until its input ends. Each batch of spikes is
/// recorded in the incident store in one durable transaction; the
/// notifications it yields are delivered (and sinks flushed); the alerts are
/// sent to `alerts_out`; only then is the batch acknowledged upstream. A
/// replayed spike carries a known alert id and changes nothing. Alerts
/// notified are also handed to `tap` (tests and the replay summary).
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
    // Notifications a crash kept from their sinks last time.
    let pending = {
        let store = stage.store.clone();
        tokio::task::spawn_blocking(move || store.pending_notifications()).await??
    };
    if !pending.is_empty() {
        info!(
            notifications = pending.len(),
            "Delivering notifications left undelivered by the last run."
        );
        totals.failed += stage.dispatcher.deliver(pending).await;
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
        let (spikes, outcomes) = tokio::task::spawn_blocking(move || {
            let outcomes = store.on_spikes(&spikes, now);
            (spikes, outcomes)
        })
        .await?;
        let outcomes = outcomes?;
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
                        info!(
                            watch = %alert.watch,
                            level = alert.level.as_str(),
                            state = alert.state.as_str(),
                            alert_id = %alert.alert_id,
                            "Alert."
                        );
                        alerts.push(alert);
                    }
                    notifications.extend(ns);
                }
            }
        }
        totals.failed += stage.dispatcher.deliver(notifications).await;
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
    info!(alerts = totals.total(), "Alert finished.");
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use vigil_incidents::EscalationPolicy;
    use vigil_transport::{memory_stream, Discard, Producer, Record};
    use vigil_types::WatchId;

    use super::*;
    use crate::Sink;

    fn spike(t: Transition) -> Spike {
        Spike {
            watch: WatchId::from("acme"),
            incident: "acme-1".into(),
            transition: t,
            level: Level::Major,
            triggers: vec![],
            reason: "major".into(),
            window_start: EventTime(0),
            window_end: EventTime(60_000),
            observed: 90,
            baseline: 3.0,
            z: 30.0,
            negative_share: 0.7,
            top_terms: vec!["recall".into()],
            sample_post_ids: vec![],
            distinct_sources: 3,
            distinct_regions: 0,
            crisis_kinds: vec![],
        }
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
}
