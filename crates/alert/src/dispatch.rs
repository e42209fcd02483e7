//! The one place notifications reach sinks.
//!
//! Notifications come from three places: the alert stage (new, escalated
//! and resolved incidents), the escalation timers (re-notifications, ack
//! timeouts) and people acting through the incident API (a resolve or a
//! reopen). All of them go through a [`Dispatcher`], a cloneable handle to
//! one task that owns the sinks, so a sink never sees two deliveries at once
//! and every delivery is counted the same way:
//! `vigil_alert_sent_alerts_total{sink,severity}` and
//! `vigil_alert_failed_alerts_total{sink}`.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};
use vigil_incidents::{IncidentStore, Notification};
use vigil_telemetry::Metrics;

use crate::Sink;

struct Job {
    notifications: Vec<Notification>,
    done: Option<oneshot::Sender<u64>>,
}

/// A handle to the delivery task (cheap to clone).
#[derive(Clone, Debug)]
pub struct Dispatcher {
    tx: mpsc::UnboundedSender<Job>,
}

impl Dispatcher {
    /// Starts the delivery task, which owns `sinks` and ends when every
    /// handle is dropped. Each notification, once every sink it names has
    /// been tried, is removed from `store`'s outbox (see
    /// [`IncidentStore::pending_notifications`]).
    pub fn spawn(sinks: Vec<Sink>, metrics: Metrics, store: Arc<IncidentStore>) -> Dispatcher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(sinks, metrics, store, rx));
        Dispatcher { tx }
    }

    /// Delivers `notifications` in order and waits until every sink named
    /// has been tried (with its retries) and flushed. Returns the number of
    /// failed deliveries.
    pub async fn deliver(&self, notifications: Vec<Notification>) -> u64 {
        if notifications.is_empty() {
            return 0;
        }
        let n = notifications.len() as u64;
        let (done, wait) = oneshot::channel();
        if self
            .tx
            .send(Job {
                notifications,
                done: Some(done),
            })
            .is_err()
        {
            return n;
        }
        wait.await.unwrap_or(n)
    }

    /// Queues `notifications` without waiting (timers, people's actions).
    pub fn submit(&self, notifications: Vec<Notification>) {
        if !notifications.is_empty() {
            let _ = self.tx.send(Job {
                notifications,
                done: None,
            });
        }
    }

    /// A sender for code that only produces notifications one by one (the
    /// incident API): each is queued as [`Dispatcher::submit`] would.
    pub fn sender(&self) -> mpsc::UnboundedSender<Notification> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Notification>();
        let me = self.clone();
        tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                me.submit(vec![n]);
            }
        });
        tx
    }
}

async fn run(
    mut sinks: Vec<Sink>,
    metrics: Metrics,
    store: Arc<IncidentStore>,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    while let Some(job) = rx.recv().await {
        let mut failed = 0;
        let mut touched = vec![false; sinks.len()];
        for n in &job.notifications {
            for name in &n.sinks {
                let Some(i) = sinks.iter().position(|s| s.name() == name) else {
                    // Config validation checks policy sink names; this is a bug.
                    failed += 1;
                    error!(sink = %name, incident = %n.incident, "Notification for an unknown sink.");
                    continue;
                };
                touched[i] = true;
                let sink = &mut sinks[i];
                match sink.deliver(&n.alert).await {
                    Ok(()) => {
                        metrics
                            .alert_sent_alerts
                            .with_label_values(&[sink.name(), n.alert.level.as_str()])
                            .inc();
                        info!(
                            sink = sink.name(),
                            incident = %n.incident,
                            reason = ?n.reason,
                            level = n.alert.level.as_str(),
                            alert_id = %n.alert.alert_id,
                            "Notified."
                        );
                    }
                    Err(e) => {
                        failed += 1;
                        metrics
                            .alert_failed_alerts
                            .with_label_values(&[sink.name()])
                            .inc();
                        metrics
                            .errors
                            .with_label_values(&["alert", e.class().as_str()])
                            .inc();
                        error!(sink = sink.name(), alert_id = %n.alert.alert_id, error = %e, "Notification failed after retries.");
                    }
                }
            }
        }
        for (sink, t) in sinks.iter_mut().zip(touched) {
            if t {
                if let Err(e) = sink.flush().await {
                    failed += 1;
                    error!(sink = sink.name(), error = %e, "Sink flush failed.");
                }
            }
        }
        // Tried everywhere (delivered, or failed after its retries and
        // counted): out of the outbox.
        let ids: Vec<u64> = job.notifications.iter().map(|n| n.outbox_id).collect();
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.notifications_done(&ids)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                error!(error = %e, "Clearing delivered notifications failed; they will be sent again after a restart.")
            }
            Err(e) => error!(error = %e, "Clearing delivered notifications panicked."),
        }
        if let Some(done) = job.done {
            let _ = done.send(failed);
        }
    }
}
