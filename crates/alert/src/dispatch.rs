//! The one place notifications reach sinks.
//!
//! Notifications come from three places: the alert stage (new, escalated
//! and resolved incidents), the escalation timers (re-notifications, ack
//! timeouts) and people acting through the incident API (a resolve or a
//! reopen). All of them go through a [`Dispatcher`], a cloneable handle to
//! the sinks, so every delivery is counted the same way:
//! `vigil_alert_sent_alerts_total{sink,severity}` and
//! `vigil_alert_failed_alerts_total{sink}`.
//!
//! **Sinks are independent.** Each sink has its own task and a bounded
//! queue (`alert.sink_queue_capacity`): a slow or hanging receiver delays
//! only its own queue, never stdout or the other sinks, and never the alert
//! stage, which queues and goes on. A sink still sees one delivery at a
//! time, in order.
//!
//! **The outbox.** The incident store writes each notification to its
//! durable outbox in the same transaction as the change that caused it.
//! Once every sink it names has been tried, a notification delivered
//! everywhere leaves the outbox; one that failed somewhere (after the
//! sink's own retries, or because its queue was full) stays, naming only the
//! sinks that failed, and is sent again to those after a capped exponential
//! backoff (`alert.outbox_retry_initial_secs`, doubling, at most
//! `alert.outbox_retry_max_secs`), also after a restart, until delivered or
//! `alert.outbox_expiry_secs` after its first failure (then dropped, logged
//! at ERROR and counted in `vigil_alert_expired_notifications_total{sink}`).
//! `vigil_alert_outbox_notifications` is the backlog.
//!
//! **Shutdown is bounded.** [`Dispatcher::drain`] waits at most
//! `alert.shutdown_timeout_secs` for the queues to empty and says per sink
//! what was left; it stays in the outbox for the next start.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::sync::mpsc;
use tracing::{error, info, warn};
use vigil_config::AlertSettings;
use vigil_incidents::{IncidentStore, Notification};
use vigil_telemetry::{LogLimiter, Metrics};
use vigil_types::EventTime;

use crate::{sink::backoff, Sink};

/// How the dispatcher queues, retries and stops (from `[alert]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DispatchOptions {
    /// Notifications waiting per sink (`alert.sink_queue_capacity`).
    pub queue_capacity: usize,
    /// Longest wait for the queues at shutdown (`alert.shutdown_timeout_secs`).
    pub shutdown_timeout: Duration,
    /// A failed notification is dropped this long after its first failure
    /// (`alert.outbox_expiry_secs`).
    pub outbox_expiry: Duration,
    /// First delay before a failed notification is sent again
    /// (`alert.outbox_retry_initial_secs`)...
    pub retry_initial: Duration,
    /// ...doubling up to this (`alert.outbox_retry_max_secs`).
    pub retry_max: Duration,
}

impl DispatchOptions {
    /// The options of a validated `[alert]` section.
    pub fn from_settings(a: &AlertSettings) -> DispatchOptions {
        DispatchOptions {
            queue_capacity: a.sink_queue_capacity.get(),
            shutdown_timeout: a.shutdown_timeout,
            outbox_expiry: a.outbox_expiry,
            retry_initial: a.outbox_retry_initial,
            retry_max: a.outbox_retry_max,
        }
    }
}

impl Default for DispatchOptions {
    /// The defaults of `config/default.toml`.
    fn default() -> DispatchOptions {
        DispatchOptions {
            queue_capacity: 1024,
            shutdown_timeout: Duration::from_secs(10),
            outbox_expiry: Duration::from_secs(86_400),
            retry_initial: Duration::from_secs(10),
            retry_max: Duration::from_secs(600),
        }
    }
}

/// One notification on its way to one sink: its round and the notification.
type Item = (u64, Arc<Notification>);

/// One sink's queue, as the dispatcher sees it.
struct Queue {
    name: String,
    tx: mpsc::Sender<Item>,
    /// Queued or being delivered.
    pending: Arc<AtomicUsize>,
}

/// A handle to the sinks' delivery tasks (cheap to clone). The tasks end
/// when every handle is dropped.
#[derive(Clone)]
pub struct Dispatcher {
    queues: Arc<Vec<Queue>>,
    rounds: Arc<Rounds>,
    options: DispatchOptions,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field(
                "sinks",
                &self.queues.iter().map(|q| &q.name).collect::<Vec<_>>(),
            )
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Notifications being delivered: which sinks are still to answer, which
/// failed. Shared by the dispatcher and the sink tasks.
struct Rounds {
    store: Arc<IncidentStore>,
    metrics: Metrics,
    now: fn() -> EventTime,
    options: DispatchOptions,
    state: Mutex<RoundState>,
    /// Deliveries that failed (after retries, or for a full queue).
    failed: AtomicU64,
    /// Rate limit of the WARNs repeated per notification while a sink is
    /// down (each failure is counted in metrics regardless).
    limiter: LogLimiter,
}

/// Least interval between two WARNs of the same kind about kept
/// notifications.
const REPEATED_WARN_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Default)]
struct RoundState {
    next: u64,
    open: HashMap<u64, Round>,
    /// Outbox ids being delivered: never queued twice at once.
    in_flight: HashSet<u64>,
}

struct Round {
    notification: Notification,
    remaining: usize,
    delivered: Vec<String>,
    failed: Vec<String>,
}

impl Dispatcher {
    /// [`Dispatcher::spawn_with`] with the default options and the wall
    /// clock.
    pub fn spawn(sinks: Vec<Sink>, metrics: Metrics, store: Arc<IncidentStore>) -> Dispatcher {
        Dispatcher::spawn_with(
            sinks,
            metrics,
            store,
            DispatchOptions::default(),
            EventTime::wall_clock,
        )
    }

    /// Starts one delivery task per sink, each with its own bounded queue.
    /// `now` stamps failures (for the outbox's retries and expiry).
    pub fn spawn_with(
        sinks: Vec<Sink>,
        metrics: Metrics,
        store: Arc<IncidentStore>,
        options: DispatchOptions,
        now: fn() -> EventTime,
    ) -> Dispatcher {
        let rounds = Arc::new(Rounds {
            store,
            metrics,
            now,
            options,
            state: Mutex::new(RoundState::default()),
            failed: AtomicU64::new(0),
            limiter: LogLimiter::new(REPEATED_WARN_INTERVAL),
        });
        let queues = sinks
            .into_iter()
            .map(|sink| {
                let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
                let pending = Arc::new(AtomicUsize::new(0));
                let name = sink.name().to_string();
                tokio::spawn(run_sink(sink, rx, pending.clone(), rounds.clone()));
                Queue { name, tx, pending }
            })
            .collect();
        Dispatcher {
            queues: Arc::new(queues),
            rounds,
            options,
        }
    }

    /// Queues `notifications` to their sinks without waiting. A notification
    /// whose outbox entry is already being delivered is skipped; one that
    /// cannot be queued for a sink (its queue is full) counts as failed
    /// there and stays in the outbox for a retry.
    pub fn submit(&self, notifications: Vec<Notification>) {
        for n in notifications {
            self.submit_one(n);
        }
    }

    fn submit_one(&self, n: Notification) {
        let mut targets = Vec::new();
        let mut unknown = Vec::new();
        for name in &n.sinks {
            match self.queues.iter().position(|q| &q.name == name) {
                Some(i) => targets.push(i),
                None => {
                    // Config validation checks policy sink names; this is a bug.
                    error!(sink = %name, incident = %n.incident, "Notification for an unknown sink.");
                    unknown.push(name.clone());
                }
            }
        }
        let round = {
            let mut s = self.rounds.state.lock().expect("rounds lock");
            if n.outbox_id != 0 && !s.in_flight.insert(n.outbox_id) {
                return;
            }
            let r = Round {
                notification: n.clone(),
                remaining: targets.len() + unknown.len(),
                delivered: Vec::new(),
                failed: Vec::new(),
            };
            if r.remaining == 0 {
                // No sink to notify: done at once.
                let rounds = self.rounds.clone();
                tokio::spawn(async move { rounds.settle(r).await });
                return;
            }
            s.next += 1;
            let round = s.next;
            s.open.insert(round, r);
            round
        };
        for name in unknown {
            self.rounds.count_failure(&name);
            self.finish_later(round, name, false);
        }
        let n = Arc::new(n);
        for i in targets {
            let q = &self.queues[i];
            q.pending.fetch_add(1, Ordering::AcqRel);
            if let Err(e) = q.tx.try_send((round, n.clone())) {
                q.pending.fetch_sub(1, Ordering::AcqRel);
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "its queue is full",
                    mpsc::error::TrySendError::Closed(_) => "its task has ended",
                };
                if let Some(suppressed) = self.rounds.limiter.check("sink_queue_full") {
                    warn!(sink = %q.name, incident = %n.incident, alert_id = %n.alert.alert_id, suppressed, "Sink cannot take the notification now ({why}); it stays in the outbox for a retry.");
                }
                self.rounds.count_failure(&q.name);
                self.finish_later(round, q.name.clone(), false);
            }
        }
    }

    fn finish_later(&self, round: u64, sink: String, ok: bool) {
        if let Some(r) = self.rounds.finish(round, &sink, ok) {
            let rounds = self.rounds.clone();
            tokio::spawn(async move { rounds.settle(r).await });
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

    /// Sends again what the outbox holds, and updates
    /// `vigil_alert_outbox_notifications`. With `all` (at start), every
    /// entry: what a crash or a shutdown left undelivered, and what failed
    /// before. Otherwise (every timer tick) only entries that failed and
    /// whose backoff is over; expired ones are dropped. Returns how many
    /// were queued.
    pub async fn resend_outbox(
        &self,
        now: EventTime,
        all: bool,
    ) -> Result<usize, vigil_incidents::Error> {
        // In flight before reading: an entry whose round ends in between is
        // read as its round left it.
        let in_flight = self
            .rounds
            .state
            .lock()
            .expect("rounds lock")
            .in_flight
            .clone();
        let store = self.rounds.store.clone();
        let pending = tokio::task::spawn_blocking(move || store.pending_notifications())
            .await
            .expect("reading the outbox does not panic")?;
        self.rounds
            .metrics
            .alert_outbox_notifications
            .set(pending.len() as i64);
        let mut due = Vec::new();
        let mut expired = Vec::new();
        for n in pending {
            if in_flight.contains(&n.outbox_id) {
                continue;
            }
            if self.rounds.expired(&n, now) {
                expired.push(n);
            } else if all || self.rounds.retry_due(&n, now) {
                due.push(n);
            }
        }
        if !expired.is_empty() {
            self.rounds.expire(expired).await;
        }
        let queued = due.len();
        if all && queued > 0 {
            info!(
                notifications = queued,
                "Delivering notifications the outbox holds from before this start."
            );
        }
        self.submit(due);
        Ok(queued)
    }

    /// Deliveries that failed so far (after a sink's retries, or for a full
    /// queue); a failed notification sent again and failing again counts
    /// again.
    pub fn failed(&self) -> u64 {
        self.rounds.failed.load(Ordering::Acquire)
    }

    /// Waits until every sink has delivered what is queued, at most
    /// `shutdown_timeout`. Returns, per sink, the notifications still
    /// queued or being delivered when the time ran out (logged at WARN and
    /// counted in `vigil_alert_undelivered_at_shutdown_total{sink}`); those
    /// with an outbox entry are sent at the next start.
    pub async fn drain(&self) -> BTreeMap<String, usize> {
        let deadline = tokio::time::Instant::now() + self.options.shutdown_timeout;
        loop {
            let left: usize = self
                .queues
                .iter()
                .map(|q| q.pending.load(Ordering::Acquire))
                .sum();
            if left == 0 || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut left = BTreeMap::new();
        for q in self.queues.iter() {
            let n = q.pending.load(Ordering::Acquire);
            if n > 0 {
                warn!(
                    sink = %q.name,
                    notifications = n,
                    timeout_secs = self.options.shutdown_timeout.as_secs_f64(),
                    "Sink did not deliver everything before the shutdown timeout; what it holds stays in the outbox for the next start."
                );
                self.rounds
                    .metrics
                    .alert_undelivered_at_shutdown
                    .with_label_values(&[&q.name])
                    .inc_by(n as u64);
                left.insert(q.name.clone(), n);
            }
        }
        if !left.is_empty() {
            self.rounds.keep_unfinished().await;
        }
        left
    }
}

impl Rounds {
    fn count_failure(&self, sink: &str) {
        self.failed.fetch_add(1, Ordering::AcqRel);
        self.metrics
            .alert_failed_alerts
            .with_label_values(&[sink])
            .inc();
    }

    /// One sink answered for `round`; the round, once every sink has.
    fn finish(&self, round: u64, sink: &str, ok: bool) -> Option<Round> {
        let mut s = self.state.lock().expect("rounds lock");
        let r = s.open.get_mut(&round)?;
        r.remaining = r.remaining.saturating_sub(1);
        if ok {
            r.delivered.push(sink.to_string());
        } else {
            r.failed.push(sink.to_string());
        }
        if r.remaining > 0 {
            return None;
        }
        // Still in flight until `settle` has written the outcome, so that
        // an outbox sweep never reads the entry as it was before this round.
        s.open.remove(&round)
    }

    /// A finished round: out of the outbox if delivered everywhere, else
    /// kept for the sinks that failed (or dropped once expired).
    async fn settle(&self, r: Round) {
        let id = r.notification.outbox_id;
        self.write_outcome(r).await;
        self.state
            .lock()
            .expect("rounds lock")
            .in_flight
            .remove(&id);
    }

    async fn write_outcome(&self, r: Round) {
        let now = (self.now)();
        let mut n = r.notification;
        if r.failed.is_empty() {
            let store = self.store.clone();
            let id = n.outbox_id;
            match tokio::task::spawn_blocking(move || store.notifications_done(&[id])).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    error!(error = %e, "Clearing a delivered notification failed; it will be sent again after a restart.")
                }
                Err(e) => error!(error = %e, "Clearing a delivered notification panicked."),
            }
            return;
        }
        n.sinks = r.failed;
        n.attempts += 1;
        n.first_failed_at.get_or_insert(now);
        n.failed_at = Some(now);
        if self.expired(&n, now) {
            self.expire(vec![n]).await;
            return;
        }
        let retry = backoff(
            n.attempts,
            self.options.retry_initial,
            self.options.retry_max,
        );
        let store = self.store.clone();
        let kept = n.clone();
        match tokio::task::spawn_blocking(move || store.notification_failed(&kept)).await {
            Ok(Ok(_)) => {
                if let Some(suppressed) = self.limiter.check("notification_kept") {
                    warn!(
                        sinks = ?n.sinks,
                        incident = %n.incident,
                        alert_id = %n.alert.alert_id,
                        attempts = n.attempts,
                        retry_secs = retry.as_secs(),
                        suppressed,
                        "Notification kept in the outbox for the sinks that failed; it will be sent again."
                    )
                }
            }
            Ok(Err(e)) => error!(
                sinks = ?n.sinks,
                alert_id = %n.alert.alert_id,
                error = %e,
                "Keeping a failed notification in the outbox failed; it will not be sent again."
            ),
            Err(e) => error!(error = %e, "Keeping a failed notification panicked."),
        }
    }

    /// At a shutdown that timed out: each notification still being
    /// delivered keeps in its outbox entry only the sinks that have not
    /// delivered it, so the next start does not send it twice to the others;
    /// one without an entry (queued while the store was degraded) gets one
    /// if the store can write now.
    async fn keep_unfinished(&self) {
        let partial: Vec<Notification> = {
            let s = self.state.lock().expect("rounds lock");
            s.open
                .values()
                .filter(|r| r.notification.outbox_id == 0 || !r.delivered.is_empty())
                .map(|r| {
                    let mut n = r.notification.clone();
                    n.sinks.retain(|sink| !r.delivered.contains(sink));
                    n
                })
                .collect()
        };
        if partial.is_empty() {
            return;
        }
        let store = self.store.clone();
        let result = tokio::task::spawn_blocking(move || {
            partial
                .iter()
                .try_for_each(|n| store.notification_failed(n).map(|_| ()))
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                error!(error = %e, "Recording partly delivered notifications failed; the next start may send them again to sinks that had them.")
            }
            Err(e) => error!(error = %e, "Recording partly delivered notifications panicked."),
        }
    }

    fn expired(&self, n: &Notification, now: EventTime) -> bool {
        n.first_failed_at.is_some_and(|first| {
            now.0.saturating_sub(first.0) >= millis(self.options.outbox_expiry)
        })
    }

    fn retry_due(&self, n: &Notification, now: EventTime) -> bool {
        match n.failed_at {
            Some(at) if n.attempts > 0 => {
                let wait = backoff(
                    n.attempts,
                    self.options.retry_initial,
                    self.options.retry_max,
                );
                now.0.saturating_sub(at.0) >= millis(wait)
            }
            // Committed and not failed: the alert stage is queuing it now.
            _ => false,
        }
    }

    async fn expire(&self, ns: Vec<Notification>) {
        for n in &ns {
            error!(
                sinks = ?n.sinks,
                incident = %n.incident,
                alert_id = %n.alert.alert_id,
                attempts = n.attempts,
                expiry_secs = self.options.outbox_expiry.as_secs(),
                "Notification expired undelivered; dropped from the outbox."
            );
            for sink in &n.sinks {
                self.metrics
                    .alert_expired_notifications
                    .with_label_values(&[sink])
                    .inc();
            }
        }
        let ids: Vec<u64> = ns.iter().map(|n| n.outbox_id).collect();
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.notifications_done(&ids)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(error = %e, "Dropping expired notifications failed."),
            Err(e) => error!(error = %e, "Dropping expired notifications panicked."),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// One sink's task: delivers its queue in order, flushes when the queue is
/// empty, and reports each result to the rounds.
async fn run_sink(
    mut sink: Sink,
    mut rx: mpsc::Receiver<Item>,
    pending: Arc<AtomicUsize>,
    rounds: Arc<Rounds>,
) {
    while let Some((round, n)) = rx.recv().await {
        let mut ok = match sink.deliver_notification(&n).await {
            Ok(()) => {
                rounds
                    .metrics
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
                true
            }
            Err(e) => {
                rounds
                    .metrics
                    .errors
                    .with_label_values(&["alert", e.class().as_str()])
                    .inc();
                error!(sink = sink.name(), alert_id = %n.alert.alert_id, error = %e, "Notification failed after retries.");
                false
            }
        };
        if rx.is_empty() {
            if let Err(e) = sink.flush().await {
                ok = false;
                error!(sink = sink.name(), error = %e, "Sink flush failed.");
            }
        }
        if !ok {
            rounds.count_failure(sink.name());
        }
        if let Some(r) = rounds.finish(round, sink.name(), ok) {
            rounds.settle(r).await;
        }
        pending.fetch_sub(1, Ordering::AcqRel);
    }
}
