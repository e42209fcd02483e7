//! The detect runner of both modes: ScoredPost batches in, Spike batches
//! out, checkpoints to a state store.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use tokio::sync::watch;
use tracing::{info, info_span, warn, Instrument};
use vigil_config::Settings;
use vigil_telemetry::Metrics;
use vigil_transport::{Assignment, Consumer, Producer, Record, StateStore, Stream, TransportError};
use vigil_types::{EventTime, PostId, Scored, Spike, Transition};

use crate::{Detector, Observation, PartitionSnapshot, WindowUpdate};

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
const LIVE_TICK: Duration = Duration::from_secs(1);

/// How the detect runner is driven, beside its streams.
#[derive(Clone, Copy, Debug)]
pub struct DetectRun {
    /// The processing-time clock: rejects posts from the future, feeds the
    /// event-lag metric and moves time while the input is silent (a live
    /// input, [`Detector::set_live`]; or idle partitions, with
    /// [`Detector::set_idle_timeout`]).
    pub now: fn() -> EventTime,
    /// Upstream (posts) partitions: each input partition carries posts from
    /// every one of them, and the watermark runs on each (input, upstream)
    /// pair of the partitions assigned ([`Detector::assign_partitions`]).
    pub upstream_partitions: i32,
    /// With a durable state store: how often state is checkpointed and
    /// the offsets it covers committed (and idle partitions looked at).
    pub checkpoint_every: Duration,
}

impl DetectRun {
    /// Embedded mode: one input partition, nothing checkpointed.
    pub fn embedded(now: fn() -> EventTime) -> DetectRun {
        DetectRun {
            now,
            upstream_partitions: 1,
            checkpoint_every: Duration::from_secs(1),
        }
    }
}

/// Runs the detect stage, the same in both modes: `input`'s batches are
/// counted, bins closed as the watermark passes them and spikes sent to
/// `output`, until the input ends (in Kafka mode, when the stage is
/// cancelled). A new watch list on `reload` is applied before the next
/// batch.
///
/// With [`NoState`](vigil_transport::NoState) (embedded mode) each batch is
/// acked once its spikes are sent, and the end of the input closes the
/// remaining bins. With a durable `state` (Kafka mode) a batch is only
/// finished: every `checkpoint_every` the state of each owned partition is
/// saved, then the offsets it covers are committed; an assignment (a
/// rebalance) starts again from the checkpoints of every partition now
/// owned, reading on from their offsets, as a process that just started
/// would; a partition with records waiting holds the watermark back; and
/// the end of the input (the stage stopped) checkpoints once more.
pub async fn run_detect<C, P, S>(
    mut detector: Detector,
    mut input: C,
    mut output: P,
    mut state: S,
    metrics: Metrics,
    run: DetectRun,
    mut reload: Option<watch::Receiver<Arc<Settings>>>,
) -> Result<DetectTotals, TransportError>
where
    C: Consumer<Scored>,
    P: Producer<Spike>,
    S: StateStore,
{
    let durable = state.durable();
    let ticking = durable || detector.is_live();
    let mut ticker = tokio::time::interval(if durable {
        run.checkpoint_every
    } else {
        LIVE_TICK
    });
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let received = metrics
        .transport_received_messages
        .with_label_values(&[Stream::Scored.as_str()]);
    let mut totals = DetectTotals::default();
    let mut out = Outputs::default();
    // The partitions owned, and per partition the offset below which
    // records are already in its restored checkpoint.
    let mut assigned: Vec<i32> = Vec::new();
    let mut skip_below: BTreeMap<i32, i64> = BTreeMap::new();
    let mut dirty = false;
    loop {
        let batch = tokio::select! {
            b = input.recv().instrument(info_span!("recv")) => b?,
            _ = ticker.tick(), if ticking => {
                if let Some(a) = input.take_assignment() {
                    detector = restore(&detector, &a, &assigned, &mut state, run, &mut skip_below).await?;
                    assigned = a.partitions;
                    dirty = false;
                }
                detector.tick((run.now)(), &mut out.spikes, &mut out.updates);
                emit(&mut out, &mut output, &metrics, &mut totals).await?;
                if dirty {
                    checkpoint(&detector, &mut input, &mut state, &assigned, &metrics).await?;
                    dirty = false;
                }
                continue;
            }
        };
        let Some(batch) = batch else { break };
        if let Some(a) = input.take_assignment() {
            detector = restore(&detector, &a, &assigned, &mut state, run, &mut skip_below).await?;
            assigned = a.partitions;
        }
        // A partition with records waiting is slow, not idle: it keeps
        // holding the watermark back.
        for p in &assigned {
            if let Some(b) = input.backlog(*p) {
                detector.set_backlog(*p, b);
            }
        }
        if let Some(rx) = reload.as_mut() {
            if rx.has_changed().unwrap_or(false) {
                let settings = rx.borrow_and_update().clone();
                detector.update_watches(&settings);
                info!(watches = detector.watch_count(), "Detect watches reloaded.");
            }
        }
        received.inc_by(batch.len() as u64);
        let t = (run.now)();
        for d in &batch {
            let partition = d.position.partition;
            if skip_below
                .get(&partition)
                .is_some_and(|o| d.position.offset < *o)
            {
                continue; // already in the restored checkpoint
            }
            let post = match &d.value {
                Scored::Post(p) => p,
                Scored::Clock(c) => {
                    // Score's clock: time moves, nothing is counted.
                    detector.observe_clock(c, partition, t);
                    continue;
                }
            };
            match detector.observe_from(post, partition, t) {
                Observation::Accepted => totals.accepted += 1,
                o => {
                    let reason = o.reason().unwrap_or("unknown");
                    tracing::trace!(
                        reason,
                        partition,
                        offset = d.position.offset,
                        post = %post.post_id.0,
                        watch = %post.watch.0,
                        published_at = %post.published_at,
                        watermark = ?detector.watermark(),
                        "Scored post dropped."
                    );
                    totals.drop_post(&post.post_id, o);
                    metrics
                        .detect_discarded_posts
                        .with_label_values(&[reason])
                        .inc();
                }
            }
        }
        detector.advance(&mut out.spikes, &mut out.updates);
        if let Some(wm) = detector.watermark() {
            metrics
                .detect_event_lag
                .observe(((t.0 - wm.0) as f64 / 1000.0).max(0.0));
        }
        emit(&mut out, &mut output, &metrics, &mut totals).await?;
        let positions: Vec<_> = batch.iter().map(|d| d.position).collect();
        if durable {
            // Finished, but committed only with the next checkpoint.
            input.finish(&positions);
            dirty = true;
        } else {
            input.ack(&positions).await?;
        }
    }
    if durable {
        // Stopped: what was read is kept for the next owner.
        if dirty {
            checkpoint(&detector, &mut input, &mut state, &assigned, &metrics).await?;
        }
    } else {
        // The input ended: nothing more can come for the open bins.
        detector.finish(&mut out.spikes, &mut out.updates);
        emit(&mut out, &mut output, &metrics, &mut totals).await?;
    }
    output.flush().await?;
    info!(
        accepted = totals.accepted,
        late = totals.late,
        spikes = totals.spikes,
        "Detect finished."
    );
    Ok(totals)
}

/// A detector like `base` holding exactly the checkpoints of the
/// partitions now owned (none for a partition never checkpointed), and the
/// offsets below which their records are already in it. The partitions
/// owned before and in every assignment since (`kept`) come from the
/// store's memory of what this process wrote.
async fn restore<S: StateStore>(
    base: &Detector,
    a: &Assignment,
    owned_before: &[i32],
    state: &mut S,
    run: DetectRun,
    skip_below: &mut BTreeMap<i32, i64>,
) -> Result<Detector, TransportError> {
    let kept: Vec<i32> = a
        .in_every
        .iter()
        .copied()
        .filter(|p| owned_before.contains(p))
        .collect();
    let mut detector = base.emptied();
    skip_below.clear();
    let now = (run.now)();
    for (p, bytes) in state.load(&a.partitions, &kept).await? {
        let snap = match serde_json::from_slice::<PartitionSnapshot>(&bytes) {
            Ok(s) if s.partition == p => s,
            Ok(s) => {
                warn!(
                    partition = p,
                    holds = s.partition,
                    "Skipping a detect checkpoint stored under another partition."
                );
                continue;
            }
            Err(e) => {
                warn!(partition = p, error = %e, "Skipping an unreadable detect checkpoint.");
                continue;
            }
        };
        info!(
            partition = p,
            offset = snap.offset,
            "Restoring the detect checkpoint."
        );
        skip_below.insert(p, snap.offset);
        detector.restore(snap, now);
    }
    detector.assign_partitions(&a.partitions, run.upstream_partitions, now);
    Ok(detector)
}

/// Saves the state of every owned partition that has finished records,
/// then commits the offsets those checkpoints cover.
async fn checkpoint<C: Consumer<Scored>, S: StateStore>(
    detector: &Detector,
    input: &mut C,
    state: &mut S,
    assigned: &[i32],
    metrics: &Metrics,
) -> Result<(), TransportError> {
    let mut saves = Vec::new();
    let mut commits = Vec::new();
    for p in assigned {
        let Some(offset) = input.commit_point(*p) else {
            continue;
        };
        let snap = serde_json::to_vec(&detector.snapshot(*p, offset))
            .map_err(|e| TransportError::Codec(format!("detect checkpoint: {e}")))?;
        metrics
            .detect_checkpoint_bytes
            .with_label_values(&[&p.to_string()])
            .set(snap.len() as i64);
        saves.push((*p, snap));
        commits.push((*p, offset));
    }
    if saves.is_empty() {
        return Ok(());
    }
    // The checkpoint is durable before its offsets are committed.
    state.save(saves).await?;
    if let Err(e) = input.commit(&commits).await {
        // A commit can fail in a rebalance. The checkpoint holds: the next
        // one commits again, and a new owner restores it and skips what it
        // holds; a commit that never moves shows as a stalled partition.
        warn!(error = %e, "Committing checkpointed offsets failed; the next checkpoint commits again.");
    }
    Ok(())
}

/// What closing bins produced, not sent yet.
#[derive(Default)]
struct Outputs {
    spikes: Vec<Spike>,
    updates: Vec<WindowUpdate>,
}

async fn emit<P: Producer<Spike>>(
    out: &mut Outputs,
    output: &mut P,
    metrics: &Metrics,
    totals: &mut DetectTotals,
) -> Result<(), TransportError> {
    for u in out.updates.drain(..) {
        metrics
            .detect_window_posts
            .with_label_values(&[u.watch.as_str()])
            .set(u.count as i64);
    }
    if out.spikes.is_empty() {
        return Ok(());
    }
    for s in out.spikes.iter() {
        if s.transition != Transition::Resolved {
            totals.spikes += 1;
            metrics
                .detect_spikes
                .with_label_values(&[s.watch.as_str(), s.level.as_str()])
                .inc();
        }
    }
    let n = out.spikes.len() as u64;
    let records: Vec<Record<Spike>> = out
        .spikes
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
