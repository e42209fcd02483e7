//! The async detect runner: ScoredPost batches in, Spike batches out.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, Instrument};
use vigil_config::Settings;
use vigil_telemetry::Metrics;
use vigil_transport::{Consumer, Producer, Record, Stream, TransportError};
use vigil_types::{EventTime, PostId, Scored, Spike, Transition};

use crate::{Detector, Observation, WindowUpdate};

/// Totals of one detect run. The drops count posts, not (post, watch)
/// matches: a post matching three watches that arrives late is one late
/// post (the `vigil_detect_discarded_posts_total` counter counts matches),
/// so the run summary accounts for every line read exactly once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetectTotals {
    /// Scored (post, watch) matches counted.
    pub accepted: u64,
    /// Posts dropped as late.
    pub late: u64,
    /// Posts dropped as dated more than a day after processing time.
    pub future: u64,
    /// Posts dropped for another reason (unknown watch, duplicate).
    pub dropped_other: u64,
    /// Windows that fired (opened, escalated or ongoing).
    pub spikes: u64,
    /// The last post counted as dropped.
    last_dropped: Option<PostId>,
}

impl DetectTotals {
    /// Counts a dropped match as a dropped post, once per post: score sends
    /// a post's matches one after another, so a repeat of the previous
    /// dropped post id is the same post.
    pub fn drop_post(&mut self, post: &PostId, o: Observation) {
        if self.last_dropped.as_ref() == Some(post) {
            return;
        }
        self.last_dropped = Some(post.clone());
        match o {
            Observation::Late => self.late += 1,
            Observation::Future => self.future += 1,
            _ => self.dropped_other += 1,
        }
    }

    /// Posts dropped, for every reason.
    pub fn dropped_posts(&self) -> u64 {
        self.late + self.future + self.dropped_other
    }
}

/// How often a live detect stage looks at the clock while its input is
/// silent.
const LIVE_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the detect stage until its input ends, then closes the remaining
/// bins. `now` is the processing-time clock (used to reject posts from the
/// future, for the event-lag metric and, on a live input, to move time
/// while the input is silent: see [`Detector::set_live`], which the caller
/// sets; the runner then ticks every second). A new watch list on `reload`
/// is applied before the next batch.
pub async fn run_detect<C, P>(
    mut detector: Detector,
    mut input: C,
    mut output: P,
    metrics: Metrics,
    now: fn() -> EventTime,
    mut reload: Option<watch::Receiver<Arc<Settings>>>,
    _cancel: CancellationToken,
) -> Result<DetectTotals, TransportError>
where
    C: Consumer<Scored>,
    P: Producer<Spike>,
{
    let live = detector.is_live();
    let mut ticker = tokio::time::interval(LIVE_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let received = metrics
        .transport_received_messages
        .with_label_values(&[Stream::Scored.as_str()]);
    let mut totals = DetectTotals::default();
    let mut spikes = Vec::new();
    let mut updates = Vec::new();
    loop {
        let batch = tokio::select! {
            b = input.recv().instrument(info_span!("recv")) => b?,
            _ = ticker.tick(), if live => {
                detector.tick(now(), &mut spikes, &mut updates);
                emit(&mut spikes, &mut updates, &mut output, &metrics, &mut totals).await?;
                continue;
            }
        };
        let Some(batch) = batch else { break };
        if let Some(rx) = reload.as_mut() {
            if rx.has_changed().unwrap_or(false) {
                let settings = rx.borrow_and_update().clone();
                detector.update_watches(&settings);
                info!(watches = detector.watch_count(), "Detect watches reloaded.");
            }
        }
        received.inc_by(batch.len() as u64);
        let t = now();
        for d in &batch {
            let post = match &d.value {
                Scored::Post(p) => p,
                Scored::Clock(c) => {
                    // Score's clock: time moves, nothing is counted.
                    detector.observe_clock(c, 0, t);
                    continue;
                }
            };
            match detector.observe(post, t) {
                Observation::Accepted => totals.accepted += 1,
                o => {
                    let reason = o.reason().unwrap_or("unknown");
                    totals.drop_post(&post.post_id, o);
                    metrics
                        .detect_discarded_posts
                        .with_label_values(&[reason])
                        .inc();
                }
            }
        }
        detector.advance(&mut spikes, &mut updates);
        if let Some(wm) = detector.watermark() {
            metrics
                .detect_event_lag
                .observe(((t.0 - wm.0) as f64 / 1000.0).max(0.0));
        }
        emit(
            &mut spikes,
            &mut updates,
            &mut output,
            &metrics,
            &mut totals,
        )
        .await?;
        let positions: Vec<_> = batch.iter().map(|d| d.position).collect();
        input.ack(&positions).await?;
    }
    detector.finish(&mut spikes, &mut updates);
    emit(
        &mut spikes,
        &mut updates,
        &mut output,
        &metrics,
        &mut totals,
    )
    .await?;
    output.flush().await?;
    info!(
        accepted = totals.accepted,
        late = totals.late,
        spikes = totals.spikes,
        "Detect finished."
    );
    Ok(totals)
}

async fn emit<P: Producer<Spike>>(
    spikes: &mut Vec<Spike>,
    updates: &mut Vec<WindowUpdate>,
    output: &mut P,
    metrics: &Metrics,
    totals: &mut DetectTotals,
) -> Result<(), TransportError> {
    for u in updates.drain(..) {
        metrics
            .detect_window_posts
            .with_label_values(&[u.watch.as_str()])
            .set(u.count as i64);
    }
    if spikes.is_empty() {
        return Ok(());
    }
    for s in spikes.iter() {
        if s.transition != Transition::Resolved {
            totals.spikes += 1;
            metrics
                .detect_spikes
                .with_label_values(&[s.watch.as_str(), s.level.as_str()])
                .inc();
        }
    }
    let n = spikes.len() as u64;
    let records: Vec<Record<Spike>> = spikes
        .drain(..)
        .map(|s| Record::new(s.watch.0.clone(), s))
        .collect();
    output.send(records).await?;
    metrics
        .transport_sent_messages
        .with_label_values(&[Stream::Spikes.as_str()])
        .inc_by(n);
    Ok(())
}
