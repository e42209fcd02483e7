//! The async alert runner: Spike batches in, alerts out to every sink.

use std::collections::BTreeMap;

use tracing::{error, info};
use vigil_telemetry::Metrics;
use vigil_transport::{Consumer, Stream, TransportError};
use vigil_types::{Alert, Level, Spike};

use crate::{Alerter, Decision, Sink};

/// Totals of one alert run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertTotals {
    /// Alerts sent, by level.
    pub by_level: BTreeMap<Level, u64>,
    /// Spikes suppressed, by reason.
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

/// Runs the alert stage until its input ends; every sink is flushed at the
/// end of each batch and before returning. Alerts delivered are also handed
/// to `tap` (tests and the replay summary use it).
pub async fn run_alert<C>(
    mut alerter: Alerter,
    mut input: C,
    mut sinks: Vec<Sink>,
    metrics: Metrics,
    mut tap: impl FnMut(&Alert) + Send,
) -> Result<AlertTotals, TransportError>
where
    C: Consumer<Spike>,
{
    let received = metrics
        .transport_received_messages
        .with_label_values(&[Stream::Spikes.as_str()]);
    let mut totals = AlertTotals::default();
    while let Some(batch) = input.recv().await? {
        received.inc_by(batch.len() as u64);
        for d in &batch {
            match alerter.on_spike(&d.value) {
                Decision::Suppress(reason) => {
                    *totals.suppressed.entry(reason).or_default() += 1;
                    metrics
                        .alert_suppressed_alerts
                        .with_label_values(&[reason])
                        .inc();
                }
                Decision::Send(alert) => {
                    *totals.by_level.entry(alert.level).or_default() += 1;
                    info!(
                        watch = %alert.watch,
                        level = alert.level.as_str(),
                        state = alert.state.as_str(),
                        alert_id = %alert.alert_id,
                        "Alert."
                    );
                    for sink in &mut sinks {
                        match sink.deliver(&alert).await {
                            Ok(()) => metrics
                                .alert_sent_alerts
                                .with_label_values(&[sink.name(), alert.level.as_str()])
                                .inc(),
                            Err(e) => {
                                totals.failed += 1;
                                metrics
                                    .alert_failed_alerts
                                    .with_label_values(&[sink.name()])
                                    .inc();
                                metrics
                                    .errors
                                    .with_label_values(&["alert", e.class().as_str()])
                                    .inc();
                                error!(sink = sink.name(), alert_id = %alert.alert_id, error = %e, "Alert delivery failed; alert dropped for this sink.");
                            }
                        }
                    }
                    tap(&alert);
                }
            }
        }
        for sink in &mut sinks {
            if let Err(e) = sink.flush().await {
                error!(sink = sink.name(), error = %e, "Sink flush failed.");
            }
        }
        let positions: Vec<_> = batch.iter().map(|d| d.position).collect();
        input.ack(&positions).await?;
    }
    for sink in &mut sinks {
        if let Err(e) = sink.flush().await {
            error!(sink = sink.name(), error = %e, "Sink flush failed.");
        }
    }
    info!(alerts = totals.total(), "Alert finished.");
    Ok(totals)
}
