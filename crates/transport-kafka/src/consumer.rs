//! The consumer side: a consumer-group member with manual, contiguous
//! commits and dead letters for undecodable records.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use rdkafka::{
    consumer::{
        BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
    },
    error::KafkaResult,
    message::{Message, OwnedMessage},
    ClientContext, Offset, TopicPartitionList,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vigil_config::KafkaSettings;
use vigil_transport::{
    Assignment, CommitTracker, Consumer, DeadLetter, Delivery, Position, TransportError,
};

use crate::{client_config_over, GroupPartition, KafkaDeadLetters, KafkaStats, StallTracker};

/// Turns a record's bytes into its values (or a reason it cannot). A record
/// may hold several values (a packed envelope, see
/// [`vigil_transport::frame`]): they are delivered with the record's one
/// position, in one batch, so it is finished once the batch is.
pub type Decoder<T> = fn(&[u8]) -> Result<Vec<T>, String>;

/// Consumer defaults (`transport.kafka.client` overrides them). A dead
/// member is noticed after 10 s. `max.poll.interval.ms` is also the longest
/// a rebalance waits for members to rejoin: one minute, not Kafka's five, so
/// a group whose member died mid-rebalance re-forms within a minute. A
/// stage that does go a minute without asking for records (a sink retrying)
/// leaves the group and rejoins at its next read: its unfinished records are
/// redelivered, and outputs are idempotent.
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("auto.offset.reset", "earliest"),
    ("session.timeout.ms", "10000"),
    ("heartbeat.interval.ms", "1000"),
    ("max.poll.interval.ms", "60000"),
];

/// Rebalance hooks: commit what is finished before partitions go away
/// (unless the stage commits only explicitly, see
/// [`KafkaConsumer::commit_only_explicitly`]), and count assignments so
/// records fetched before one are never handed out after it.
pub struct VigilContext {
    tracker: Arc<Mutex<CommitTracker>>,
    stats: Arc<KafkaStats>,
    topic: String,
    assignment: Arc<Mutex<Vec<Vec<i32>>>>,
    explicit: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
}

impl ClientContext for VigilContext {}

impl ConsumerContext for VigilContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.stats.rebalances.fetch_add(1, Ordering::Relaxed);
        if let Rebalance::Revoke(tpl) = rebalance {
            // Records fetched from here on belong to the next assignment.
            self.generation.fetch_add(1, Ordering::SeqCst);
            let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
            let mut tracker = self.tracker.lock().expect("tracker lock poisoned");
            let mut commit = TopicPartitionList::new();
            if !self.explicit.load(Ordering::SeqCst) {
                for p in &parts {
                    if let Some(o) = tracker.commit_point(*p) {
                        let _ = commit.add_partition_offset(&self.topic, *p, Offset::Offset(o));
                    }
                }
            }
            if commit.count() > 0 {
                if let Err(e) = consumer.commit(&commit, CommitMode::Sync) {
                    warn!(error = %e, "Commit before revoke failed; records may be redelivered.");
                }
            }
            tracker.revoke(&parts);
            // No longer this process's lag to report.
            for map in [&self.stats.lag, &self.stats.backlog] {
                map.lock()
                    .expect("stats lock poisoned")
                    .retain(|(t, p), _| *t != self.topic || !parts.contains(p));
            }
            info!(kafka_topic = %self.topic, partitions = ?parts, "Partitions revoked.");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.generation.fetch_add(1, Ordering::SeqCst);
            let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
            info!(kafka_topic = %self.topic, partitions = ?parts, "Partitions assigned.");
            self.assignment
                .lock()
                .expect("assignment lock poisoned")
                .push(parts);
        }
    }
}

/// Receives one stream's records as a consumer-group member.
pub struct KafkaConsumer<T> {
    consumer: Arc<StreamConsumer<VigilContext>>,
    tracker: Arc<Mutex<CommitTracker>>,
    assignment: Arc<Mutex<Vec<Vec<i32>>>>,
    decode: Decoder<T>,
    topic: String,
    stage: &'static str,
    batch_size: usize,
    dead: KafkaDeadLetters,
    stats: Arc<KafkaStats>,
    cancel: CancellationToken,
    /// Stops the lag poller.
    poller: CancellationToken,
    /// Messages taken from the client and not yet handed out: `recv` keeps
    /// them here across awaits, so a caller that drops its future (a
    /// `select!` against a timer) loses nothing. Each is tagged with the
    /// assignment generation it was fetched in.
    buffered: VecDeque<(u64, OwnedMessage)>,
    /// Decoded records of the batch being built (same reason), and the
    /// generation they were fetched in.
    ready: Vec<Delivery<T>>,
    ready_generation: u64,
    /// Commits happen only through [`KafkaConsumer::commit_offsets`].
    explicit: Arc<AtomicBool>,
    /// Bumped by every revoke and assignment.
    generation: Arc<AtomicU64>,
}

impl<T> std::fmt::Debug for KafkaConsumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("topic", &self.topic)
            .field("stage", &self.stage)
            .finish()
    }
}

impl<T> KafkaConsumer<T> {
    /// Joins `group` and subscribes to `topic`. `recv` returns `None` once
    /// `cancel` fires (Kafka streams do not end by themselves).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &KafkaSettings,
        topic: String,
        group: &str,
        stage: &'static str,
        batch_size: usize,
        decode: Decoder<T>,
        stats: Arc<KafkaStats>,
        cancel: CancellationToken,
    ) -> Result<KafkaConsumer<T>, TransportError> {
        let tracker = Arc::new(Mutex::new(CommitTracker::new()));
        let assignment = Arc::new(Mutex::new(Vec::new()));
        let explicit = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let ctx = VigilContext {
            tracker: tracker.clone(),
            stats: stats.clone(),
            topic: topic.clone(),
            assignment: assignment.clone(),
            explicit: explicit.clone(),
            generation: generation.clone(),
        };
        let mut c = client_config_over(cfg, CONSUMER_DEFAULTS);
        // Offsets are committed by Vigil only, after the outputs are durable.
        c.set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        let consumer: StreamConsumer<VigilContext> = c
            .create_with_context(ctx)
            .map_err(|e| TransportError::Backend(format!("creating the consumer: {e}")))?;
        consumer
            .subscribe(&[topic.as_str()])
            .map_err(|e| TransportError::Backend(format!("subscribing to {topic}: {e}")))?;
        let consumer = Arc::new(consumer);
        // The poller holds the client too: it stops with this consumer (see
        // Drop), or the group would keep a member nobody polls.
        let poller = cancel.child_token();
        spawn_lag_poller(
            consumer.clone(),
            topic.clone(),
            stats.clone(),
            cfg.stall_timeout,
            poller.clone(),
        );
        Ok(KafkaConsumer {
            consumer,
            tracker,
            assignment,
            decode,
            topic,
            stage,
            batch_size: batch_size.max(1),
            dead: KafkaDeadLetters::new(cfg, stats.clone())?,
            stats,
            cancel,
            poller,
            buffered: VecDeque::new(),
            ready: Vec::new(),
            ready_generation: 0,
            explicit,
            generation,
        })
    }

    /// Commits only through [`KafkaConsumer::commit_offsets`]: never before
    /// a revoke, on drop, or for records that carry nothing. Detect commits
    /// an offset only once a checkpoint covers it, so the next owner of a
    /// revoked partition restores that checkpoint and reads on from exactly
    /// there; committing what was merely finished would make it skip the
    /// records between the checkpoint and the commit (issue 16 item 5).
    pub fn commit_only_explicitly(self) -> Self {
        self.explicit.store(true, Ordering::SeqCst);
        self
    }

    /// Whether commits happen only through [`KafkaConsumer::commit_offsets`].
    pub fn commits_only_explicitly(&self) -> bool {
        self.explicit.load(Ordering::SeqCst)
    }

    /// The newest assignment since the last call, if there was one
    /// (detect restores its checkpoints for it).
    pub fn take_assignment(&self) -> Option<Assignment> {
        let all = std::mem::take(&mut *self.assignment.lock().expect("assignment lock poisoned"));
        let partitions = all.last()?.clone();
        let in_every = partitions
            .iter()
            .copied()
            .filter(|p| all.iter().all(|a| a.contains(p)))
            .collect();
        Some(Assignment {
            partitions,
            in_every,
        })
    }

    /// The topic consumed.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Commits the given offsets (next offsets to read) synchronously.
    pub fn commit_offsets(&self, offsets: &[(i32, i64)]) -> Result<(), TransportError> {
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets {
            tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*o))
                .map_err(|e| TransportError::Backend(e.to_string()))?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        self.consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| TransportError::Backend(format!("committing: {e}")))
    }

    fn commit_async(&self, offsets: &[(i32, i64)]) -> KafkaResult<()> {
        if self.commits_only_explicitly() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets {
            tpl.add_partition_offset(&self.topic, *p, Offset::Offset(*o))?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        self.consumer.commit(&tpl, CommitMode::Async)
    }

    /// Marks positions finished without committing; returns the commit
    /// points that advanced (detect commits only at checkpoints).
    pub fn finish_only(&self, positions: &[Position]) -> Vec<(i32, i64)> {
        let mut t = self.tracker.lock().expect("tracker lock poisoned");
        let mut out: Vec<(i32, i64)> = Vec::new();
        for p in positions {
            if let Some((part, o)) = t.finished(*p) {
                match out.iter_mut().find(|(x, _)| *x == part) {
                    Some(e) => e.1 = o,
                    None => out.push((part, o)),
                }
            }
        }
        out
    }

    /// The commit point of a partition (every record before it finished).
    pub fn commit_point(&self, partition: i32) -> Option<i64> {
        self.tracker
            .lock()
            .expect("tracker lock poisoned")
            .commit_point(partition)
    }
}

/// This process's lag and backlog on its own partitions, and the group's
/// lag on every partition of the topic, from one poll.
type Polled = (Vec<(i32, i64, Option<i64>)>, Vec<(i32, i64, Option<i64>)>);

fn spawn_lag_poller(
    consumer: Arc<StreamConsumer<VigilContext>>,
    topic: String,
    stats: Arc<KafkaStats>,
    stall_timeout: Duration,
    cancel: CancellationToken,
) {
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut stalls = StallTracker::default();
        let mut was_stalled: Vec<i32> = Vec::new();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
            let c = consumer.clone();
            let t = topic.clone();
            let polled = tokio::task::spawn_blocking(move || -> KafkaResult<Polled> {
                let timeout = Duration::from_secs(5);
                let assigned = c.assignment()?;
                let position = c.position()?;
                // Every partition of the topic, owned by this process or not:
                // the group's committed offsets are the same for every member.
                let meta = c.fetch_metadata(Some(&t), timeout)?;
                let mut all = TopicPartitionList::new();
                for mt in meta.topics().iter().filter(|mt| mt.name() == t) {
                    for p in mt.partitions() {
                        all.add_partition(&t, p.id());
                    }
                }
                let committed = c.committed_offsets(all, timeout)?;
                let mut own = Vec::new();
                let mut group = Vec::new();
                for e in committed.elements() {
                    let (low, high) = c.fetch_watermarks(&t, e.partition(), timeout)?;
                    let done = match e.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    };
                    let pos = done.unwrap_or(low);
                    let lag = (high - pos).max(0);
                    group.push((e.partition(), lag, done));
                    if assigned.find_partition(&t, e.partition()).is_none() {
                        continue;
                    }
                    let fetched = position
                        .find_partition(&t, e.partition())
                        .and_then(|p| match p.offset() {
                            Offset::Offset(o) => Some(o),
                            _ => None,
                        });
                    // Not fetched yet: everything from the committed offset on.
                    let backlog = Some((high - fetched.unwrap_or(pos)).max(0));
                    own.push((e.partition(), lag, backlog));
                }
                Ok((own, group))
            })
            .await;
            match polled {
                Ok(Ok((own, group))) => {
                    stats.connected.store(true, Ordering::Relaxed);
                    {
                        let mut lag = stats.lag.lock().expect("stats lock poisoned");
                        let mut backlog = stats.backlog.lock().expect("stats lock poisoned");
                        lag.retain(|(tp, _), _| *tp != topic);
                        backlog.retain(|(tp, _), _| *tp != topic);
                        for (p, l, b) in own {
                            lag.insert((topic.clone(), p), l);
                            if let Some(b) = b {
                                backlog.insert((topic.clone(), p), b);
                            }
                        }
                    }
                    let now = started.elapsed().as_millis() as u64;
                    let timeout = stall_timeout.as_millis() as u64;
                    let mut stalled = Vec::new();
                    let mut g = stats.group.lock().expect("stats lock poisoned");
                    g.retain(|(tp, _), _| *tp != topic);
                    for (p, lag, committed) in group {
                        let s = stalls.observe(p, committed, lag, now, timeout);
                        if s {
                            stalled.push(p);
                        }
                        g.insert(
                            (topic.clone(), p),
                            GroupPartition {
                                lag,
                                committed,
                                stalled: s,
                            },
                        );
                    }
                    drop(g);
                    if stalled != was_stalled {
                        if stalled.is_empty() {
                            info!(kafka_topic = %topic, "No partition is stalled any more.");
                        } else {
                            warn!(
                                kafka_topic = %topic,
                                partitions = ?stalled,
                                stall_timeout_secs = stall_timeout.as_secs(),
                                "Partitions are stalled: the group has lag there and its committed offset has not moved for the stall timeout, so no live member is working them (a dead member the broker still counts, or a stuck process). Alerts from these partitions are delayed until a member takes them over."
                            );
                        }
                        was_stalled = stalled;
                    }
                }
                Ok(Err(e)) => {
                    stats.connected.store(false, Ordering::Relaxed);
                    warn!(kafka_topic = %topic, error = %e, "Measuring consumer lag failed.");
                }
                Err(_) => return,
            }
        }
    });
}

impl<T: Send> Consumer<T> for KafkaConsumer<T> {
    /// Cancel-safe: every message taken from the client stays in `self`
    /// until it is handed out (or dead-lettered), so dropping this future
    /// mid-batch loses nothing and the next call carries on.
    async fn recv(&mut self) -> Result<Option<Vec<Delivery<T>>>, TransportError> {
        let mut retry = 0;
        while self.buffered.is_empty() && self.ready.is_empty() {
            let m = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(None),
                m = self.consumer.recv() => m,
            };
            match m {
                Ok(m) => self
                    .buffered
                    .push_back((self.generation.load(Ordering::SeqCst), m.detach())),
                Err(e) => {
                    self.stats.connected.store(false, Ordering::Relaxed);
                    retry += 1;
                    warn!(kafka_topic = %self.topic, error = %e, retry, "Consumer error; retrying.");
                    tokio::time::sleep(vigil_transport::broker_backoff(retry)).await;
                }
            }
        }
        self.stats.connected.store(true, Ordering::Relaxed);
        while self.buffered.len() + self.ready.len() < self.batch_size {
            match tokio::time::timeout(Duration::from_millis(5), self.consumer.recv()).await {
                Ok(Ok(m)) => self
                    .buffered
                    .push_back((self.generation.load(Ordering::SeqCst), m.detach())),
                _ => break,
            }
        }
        // Records fetched before a revoke or an assignment are not handed
        // out after it: the partition may be someone else's now, and a kept
        // one is fetched again from its committed offset.
        let current = self.generation.load(Ordering::SeqCst);
        if self.ready_generation != current {
            self.ready.clear();
            self.ready_generation = current;
        }
        let before = self.buffered.len();
        self.buffered.retain(|(g, _)| *g == current);
        if self.buffered.len() < before {
            info!(
                kafka_topic = %self.topic,
                dropped = before - self.buffered.len(),
                "Records fetched before a rebalance dropped; they are fetched again."
            );
        }
        while let Some((_, m)) = self.buffered.front() {
            let position = Position {
                partition: m.partition(),
                offset: m.offset(),
            };
            let payload = m.payload().unwrap_or_default();
            match (self.decode)(payload) {
                Ok(values) => {
                    self.tracker
                        .lock()
                        .expect("tracker lock poisoned")
                        .delivered(position);
                    if values.is_empty() {
                        // Nothing in it to process: finished already.
                        let commits = self.finish_only(&[position]);
                        if let Err(e) = self.commit_async(&commits) {
                            warn!(error = %e, "Commit failed; will retry with the next batch.");
                        }
                    }
                    self.ready
                        .extend(values.into_iter().map(|value| Delivery { value, position }));
                }
                Err(error) => {
                    // Never block the partition: dead-letter it, finish it.
                    // (Dropped during the send, it is sent again: at least
                    // once, like every output.)
                    let d = DeadLetter {
                        stage: self.stage,
                        reason: "undecodable".into(),
                        error,
                        source: self.topic.clone(),
                        partition: position.partition,
                        offset: position.offset,
                        payload: payload.to_vec(),
                    };
                    vigil_transport::store_dead_letter(&mut self.dead, d).await;
                    self.tracker
                        .lock()
                        .expect("tracker lock poisoned")
                        .delivered(position);
                    let commits = self.finish_only(&[position]);
                    if let Err(e) = self.commit_async(&commits) {
                        warn!(error = %e, "Commit failed; will retry with the next batch.");
                    }
                }
            }
            self.buffered.pop_front();
        }
        Ok(Some(std::mem::take(&mut self.ready)))
    }

    async fn ack(&mut self, positions: &[Position]) -> Result<(), TransportError> {
        let commits = self.finish_only(positions);
        if let Err(e) = self.commit_async(&commits) {
            warn!(error = %e, "Commit failed; will retry with the next batch.");
        }
        Ok(())
    }

    fn take_assignment(&mut self) -> Option<Assignment> {
        KafkaConsumer::take_assignment(self)
    }

    fn backlog(&self, partition: i32) -> Option<i64> {
        self.stats.backlog_of(&self.topic, partition)
    }

    fn finish(&mut self, positions: &[Position]) {
        self.finish_only(positions);
    }

    fn commit_point(&self, partition: i32) -> Option<i64> {
        KafkaConsumer::commit_point(self, partition)
    }

    async fn commit(&mut self, offsets: &[(i32, i64)]) -> Result<(), TransportError> {
        self.commit_offsets(offsets)
    }
}

impl<T> Drop for KafkaConsumer<T> {
    fn drop(&mut self) {
        self.poller.cancel();
        if self.commits_only_explicitly() {
            return;
        }
        // Commit what is finished before leaving the group.
        let t = self.tracker.lock().expect("tracker lock poisoned");
        let mut tpl = TopicPartitionList::new();
        if let Ok(assigned) = self.consumer.assignment() {
            for e in assigned.elements() {
                if let Some(o) = t.commit_point(e.partition()) {
                    let _ = tpl.add_partition_offset(&self.topic, e.partition(), Offset::Offset(o));
                }
            }
        }
        if tpl.count() > 0 {
            let _ = self.consumer.commit(&tpl, CommitMode::Sync);
        }
    }
}
