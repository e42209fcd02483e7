//! Kafka mode: one stage per process (or all of them) over real topics.
//!
//! Delivery is at-least-once end to end and effectively-once in what users
//! see:
//! - every runner acks (commits) an input record only after everything it
//!   produced from it is acknowledged by the broker, per partition up to the
//!   first unfinished record;
//! - score is stateless; replays after a crash produce duplicate scored
//!   records, which detect drops by (post, watch);
//! - detect checkpoints its state per input partition to a compacted topic
//!   and commits only checkpointed offsets; after a crash it restores the
//!   checkpoint and skips what it already holds (docs/ARCHITECTURE.md);
//! - alert drops repeated alert ids, remembering the ids it already sent by
//!   reading the alerts topic back at start.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use anyhow::Context;
use tokio::io::AsyncBufRead;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};
use vigil_alert::AlertStage;
use vigil_config::Settings;
use vigil_detect::{Detector, Observation, PartitionSnapshot};
use vigil_ingest::{FileReplay, Ingestor};
use vigil_telemetry::{LogLimiter, Metrics, Readiness};
use vigil_transport::{Consumer, DeadLetter, DeadLetters, Producer, Record, Stream};
use vigil_transport_kafka::{
    ensure_topics, prefixed, read_latest, topic, Assignment, KafkaConsumer, KafkaDeadLetters,
    KafkaProducer, KafkaStats, DETECT_STATE_TOPIC,
};
use vigil_types::{Alert, Post, Scored, Spike};

use crate::{wall_clock, LiveConfig};

/// A pipeline stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageName {
    /// Posts in, to the posts stream.
    Ingest,
    /// Posts to scored posts.
    Score,
    /// Scored posts to spikes.
    Detect,
    /// Spikes to alerts and sinks.
    Alert,
}

impl StageName {
    /// Lower-case name (the `stage` label).
    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Ingest => "ingest",
            StageName::Score => "score",
            StageName::Detect => "detect",
            StageName::Alert => "alert",
        }
    }
}

/// Every stream's reader takes plain and packed envelopes alike.
/// The partitions owned before `a` and through every assignment since:
/// nobody else can have checkpointed them in between.
fn kept(before: &[i32], a: &Assignment) -> Vec<i32> {
    a.in_every
        .iter()
        .copied()
        .filter(|p| before.contains(p))
        .collect()
}

fn decode_envelope<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<Vec<T>, String> {
    vigil_transport::decode_all(b).map_err(|e| e.to_string())
}

/// A source topic's record is one raw post line.
fn decode_raw(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    Ok(vec![b.to_vec()])
}

/// The part `/readyz` names while a partition of the stage's input is
/// stalled (lag, and no member moving its committed offset).
pub const STALLED_PART: &str = "kafka_partition_stalled";

/// Exports the Kafka client statistics as metrics and readiness, every
/// second, until `cancel`.
pub fn spawn_kafka_exporter(
    stage: &'static str,
    stats: Arc<KafkaStats>,
    metrics: Metrics,
    ready: Readiness,
    prefix: String,
    cancel: CancellationToken,
) {
    tokio::spawn(async move {
        let mut last_errors = 0u64;
        let mut last_rebalances = 0u64;
        let mut last_dead: BTreeMap<String, u64> = BTreeMap::new();
        let mut lag_series: BTreeSet<(&'static str, String)> = BTreeSet::new();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            let errors = stats.produce_errors.load(Ordering::Relaxed);
            metrics
                .kafka_produce_errors
                .with_label_values(&[stage])
                .inc_by(errors - last_errors);
            last_errors = errors;
            let rebalances = stats.rebalances.load(Ordering::Relaxed);
            metrics
                .kafka_rebalances
                .with_label_values(&[stage])
                .inc_by(rebalances - last_rebalances);
            last_rebalances = rebalances;
            let dead = stats.dead_letters.lock().expect("stats lock").clone();
            for (reason, n) in &dead {
                let before = last_dead.get(reason).copied().unwrap_or(0);
                metrics
                    .kafka_dead_letters
                    .with_label_values(&[stage, reason])
                    .inc_by(n - before);
            }
            last_dead = dead;
            // Only the partitions this process owns now: a revoked
            // partition's series goes, or two processes would both report it.
            let mut owned = BTreeSet::new();
            for ((t, p), lag) in stats.lag.lock().expect("stats lock").iter() {
                let stream = Stream::ALL
                    .iter()
                    .find(|s| *t == format!("{prefix}{}", s.kafka_topic()))
                    .map_or("other", |s| s.as_str());
                let labels = (stream, p.to_string());
                metrics
                    .kafka_consumer_lag
                    .with_label_values(&[labels.0, &labels.1])
                    .set(*lag);
                owned.insert(labels);
            }
            for (stream, p) in lag_series.difference(&owned) {
                let _ = metrics
                    .kafka_consumer_lag
                    .remove_label_values(&[stream, p.as_str()]);
            }
            lag_series = owned;
            // The group's view of every partition: lag, and the partitions
            // nobody is working (stalled), which make this process not
            // ready: its alerts are incomplete while they last.
            let stream_of = |t: &str| {
                Stream::ALL
                    .iter()
                    .find(|s| t == format!("{prefix}{}", s.kafka_topic()))
                    .map_or("other", |s| s.as_str())
            };
            let mut stalled: BTreeMap<&'static str, i64> = BTreeMap::new();
            for ((t, p), g) in stats.group.lock().expect("stats lock").iter() {
                let stream = stream_of(t);
                metrics
                    .kafka_group_lag
                    .with_label_values(&[stream, &p.to_string()])
                    .set(g.lag);
                *stalled.entry(stream).or_default() += i64::from(g.stalled);
            }
            for (stream, n) in &stalled {
                metrics
                    .kafka_stalled_partitions
                    .with_label_values(&[stream])
                    .set(*n);
            }
            ready.set_degraded(STALLED_PART, stalled.values().any(|n| *n > 0));
            ready.set(stats.connected.load(Ordering::Relaxed));
        }
    });
}

/// Everything a Kafka-mode stage needs.
pub struct KafkaRun<'a> {
    /// Validated settings.
    pub settings: &'a Settings,
    /// Live scorer and watches.
    pub live: &'a LiveConfig,
    /// Metrics.
    pub metrics: Metrics,
    /// Kafka client statistics.
    pub stats: Arc<KafkaStats>,
    /// Shutdown.
    pub cancel: CancellationToken,
}

impl std::fmt::Debug for KafkaRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KafkaRun")
    }
}

impl KafkaRun<'_> {
    fn group(&self, stage: StageName) -> String {
        format!(
            "{}-{}",
            self.settings.config.transport.kafka.group_prefix,
            stage.as_str()
        )
    }

    /// Creates the topics when missing (retrying while the broker is down).
    pub async fn ensure_topics(&self) -> anyhow::Result<()> {
        ensure_topics(
            &self.settings.config.transport.kafka,
            Duration::from_secs(120),
        )
        .await
        .context("creating Kafka topics")
    }

    /// Ingest from a file or stdin into the posts topic; rejected lines go to
    /// the dead-letter topic. Returns when the input ends.
    pub async fn ingest_file(
        &self,
        reader: Box<dyn AsyncBufRead + Send + Unpin>,
        source: String,
    ) -> anyhow::Result<vigil_ingest::IngestStats> {
        let cfg = &self.settings.config;
        let k = &cfg.transport.kafka;
        let replay = FileReplay {
            reader,
            source,
            ingestor: Ingestor::new(&cfg.ingest),
            producer: KafkaProducer::<Post>::new(k, topic(k, Stream::Posts), self.stats.clone())?,
            batch_size: cfg.transport.batch_size,
            metrics: self.metrics.clone(),
            limiter: Arc::new(LogLimiter::new(Duration::from_secs(
                cfg.telemetry.error_log_interval_secs,
            ))),
            now: wall_clock,
            dead_letters: KafkaDeadLetters::new(k, self.stats.clone())?,
        };
        Ok(replay
            .run(self.cancel.clone())
            .instrument(info_span!("stage", stage = "ingest", mode = "kafka"))
            .await?)
    }

    /// Ingest from an existing Kafka topic of JSON posts (a source), until
    /// cancelled.
    pub async fn ingest_kafka_source(&self) -> anyhow::Result<u64> {
        let cfg = &self.settings.config;
        let k = &cfg.transport.kafka;
        anyhow::ensure!(
            !k.source_kafka_topic.is_empty(),
            "--input kafka needs transport.kafka.source_kafka_topic"
        );
        let mut consumer = KafkaConsumer::<Vec<u8>>::new(
            k,
            k.source_kafka_topic.clone(),
            &self.group(StageName::Ingest),
            "ingest",
            cfg.transport.batch_size,
            decode_raw,
            self.stats.clone(),
            self.cancel.clone(),
        )?;
        let mut producer =
            KafkaProducer::<Post>::new(k, topic(k, Stream::Posts), self.stats.clone())?;
        let mut dead = KafkaDeadLetters::new(k, self.stats.clone())?;
        let mut ingestor = Ingestor::new(&cfg.ingest);
        let mut accepted = 0u64;
        let source = format!("kafka:{}", k.source_kafka_topic);
        while let Some(batch) = consumer.recv().await? {
            let mut out = Vec::new();
            for d in &batch {
                self.metrics
                    .ingest_received_posts
                    .with_label_values(&["kafka"])
                    .inc();
                match ingestor.parse_line(&d.value, wall_clock()) {
                    Ok(p) => out.push(Record::new(p.id.0.clone(), p)),
                    Err(rej) => {
                        let reason = rej.reason.as_str();
                        self.metrics
                            .ingest_discarded_posts
                            .with_label_values(&["kafka", reason])
                            .inc();
                        dead.send(DeadLetter {
                            stage: "ingest",
                            reason: reason.into(),
                            error: rej.detail,
                            source: source.clone(),
                            partition: d.position.partition,
                            offset: d.position.offset,
                            payload: d.value.clone(),
                        })
                        .await?;
                    }
                }
            }
            accepted += out.len() as u64;
            producer.send(out).await?;
            let positions: Vec<_> = batch.iter().map(|d| d.position).collect();
            consumer.ack(&positions).await?;
        }
        Ok(accepted)
    }

    /// Score: posts topic to scored topic, until cancelled.
    pub async fn score(&self) -> anyhow::Result<vigil_score::ScoreTotals> {
        let cfg = &self.settings.config;
        let k = &cfg.transport.kafka;
        let consumer = KafkaConsumer::<Post>::new(
            k,
            topic(k, Stream::Posts),
            &self.group(StageName::Score),
            "score",
            cfg.transport.batch_size,
            decode_envelope::<Post>,
            self.stats.clone(),
            self.cancel.clone(),
        )?;
        // The busiest stream after posts: a score batch's posts bound for
        // one partition travel as one packed record, in read order
        // (docs/ARCHITECTURE.md).
        let producer =
            KafkaProducer::<Scored>::new(k, topic(k, Stream::Scored), self.stats.clone())?
                .packing();
        Ok(vigil_score::run_score(
            self.live.scorer(),
            consumer,
            producer,
            self.metrics.clone(),
            // Not yet in Kafka mode: each detect instance starts its bins at
            // the first record it reads, and a clock read first (a batch
            // without matches for that partition) moved that start, which
            // changed 4 of the kill test's alert ids against the embedded
            // run. Detect reads clocks when they come (issue 16).
            false,
            self.cancel.clone(),
        )
        .instrument(info_span!("stage", stage = "score", mode = "kafka"))
        .await?)
    }

    /// Detect: scored topic to spikes topic, with per-partition checkpoints,
    /// until cancelled.
    pub async fn detect(&self) -> anyhow::Result<vigil_detect::DetectTotals> {
        self.detect_inner()
            .instrument(info_span!("stage", stage = "detect", mode = "kafka"))
            .await
    }

    async fn detect_inner(&self) -> anyhow::Result<vigil_detect::DetectTotals> {
        let cfg = &self.settings.config;
        let k = cfg.transport.kafka.clone();
        let mut consumer = KafkaConsumer::<Scored>::new(
            &k,
            topic(&k, Stream::Scored),
            &self.group(StageName::Detect),
            "detect",
            cfg.transport.batch_size,
            decode_envelope::<Scored>,
            self.stats.clone(),
            self.cancel.clone(),
        )?
        // An offset is committed only once a checkpoint covers it.
        .commit_only_explicitly();
        let mut producer =
            KafkaProducer::<Spike>::new(&k, topic(&k, Stream::Spikes), self.stats.clone())?;
        let state_producer = KafkaProducer::<()>::for_state(
            &k,
            prefixed(&k, DETECT_STATE_TOPIC),
            self.stats.clone(),
        )?;
        let mut watches = self.live.watches();
        let first = watches.borrow_and_update().clone();
        let mut detector = self.fresh_detector(&first);
        let mut skip_below: BTreeMap<i32, i64> = BTreeMap::new();
        let mut assigned: Vec<i32> = Vec::new();
        // The newest checkpoint this process wrote, per owned partition.
        let mut written: BTreeMap<i32, Vec<u8>> = BTreeMap::new();
        let mut totals = vigil_detect::DetectTotals::default();
        let mut checkpoint = tokio::time::interval(Duration::from_secs(k.checkpoint_interval_secs));
        checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dirty = false;
        let (mut spikes, mut updates) = (Vec::new(), Vec::new());
        loop {
            let batch = tokio::select! {
                b = consumer.recv() => b?,
                _ = checkpoint.tick() => {
                    if let Some(a) = consumer.take_assignment() {
                        let w = watches.borrow().clone();
                        let kept = kept(&assigned, &a);
                        detector = self.restored_detector(&a.partitions, &kept, &written, &w, &mut skip_below).await?;
                        assigned = a.partitions;
                        dirty = false;
                    }
                    detector.tick(wall_clock(), &mut spikes, &mut updates);
                    self.emit(&mut producer, &mut spikes, &mut totals).await?;
                    if dirty {
                        self.checkpoint(&detector, &consumer, &state_producer, &assigned, &mut written).await?;
                        dirty = false;
                    }
                    continue;
                }
            };
            let Some(batch) = batch else { break };
            if let Some(a) = consumer.take_assignment() {
                // A rebalance: start again from the checkpoints of every
                // partition now owned, kept ones included (they are fetched
                // again from their committed offset, which is their
                // checkpoint's), exactly as a process that just started.
                let w = watches.borrow().clone();
                let kept = kept(&assigned, &a);
                detector = self
                    .restored_detector(&a.partitions, &kept, &written, &w, &mut skip_below)
                    .await?;
                assigned = a.partitions;
            }
            // A partition with records waiting is slow, not idle: it keeps
            // holding the watermark back (issue 13).
            for p in &assigned {
                if let Some(b) = self.stats.backlog_of(consumer.topic(), *p) {
                    detector.set_backlog(*p, b);
                }
            }
            if watches.has_changed().unwrap_or(false) {
                let s = watches.borrow_and_update().clone();
                detector.update_watches(&s);
            }
            self.metrics
                .transport_received_messages
                .with_label_values(&[Stream::Scored.as_str()])
                .inc_by(batch.len() as u64);
            let now = wall_clock();
            for d in &batch {
                if skip_below
                    .get(&d.position.partition)
                    .is_some_and(|o| d.position.offset < *o)
                {
                    continue; // already in the restored checkpoint
                }
                let post = match &d.value {
                    Scored::Post(p) => p,
                    Scored::Clock(c) => {
                        // Score's clock: time moves, nothing is counted.
                        detector.observe_clock(c, d.position.partition, now);
                        continue;
                    }
                };
                match detector.observe_from(post, d.position.partition, now) {
                    Observation::Accepted => totals.accepted += 1,
                    o => {
                        if o == Observation::Late {
                            tracing::trace!(
                                partition = d.position.partition,
                                offset = d.position.offset,
                                origin = ?post.origin_partition,
                                published_at = %post.published_at,
                                watermark = ?detector.watermark(),
                                "Late scored post."
                            );
                        }
                        totals.drop_post(&post.post_id, o);
                        self.metrics
                            .detect_discarded_posts
                            .with_label_values(&[o.reason().unwrap_or("unknown")])
                            .inc();
                    }
                }
            }
            detector.advance(&mut spikes, &mut updates);
            for u in updates.drain(..) {
                self.metrics
                    .detect_window_posts
                    .with_label_values(&[u.watch.as_str()])
                    .set(u.count as i64);
            }
            self.emit(&mut producer, &mut spikes, &mut totals).await?;
            let positions: Vec<_> = batch.iter().map(|d| d.position).collect();
            // Finished, but committed only with the next checkpoint.
            consumer.finish_only(&positions);
            dirty = true;
        }
        if dirty {
            self.checkpoint(
                &detector,
                &consumer,
                &state_producer,
                &assigned,
                &mut written,
            )
            .await?;
        }
        Ok(totals)
    }

    /// A detector with no state, configured for Kafka mode.
    fn fresh_detector(&self, watches: &Settings) -> Detector {
        let mut d = Detector::new(self.settings);
        d.update_watches(watches);
        d.set_idle_timeout(Duration::from_secs(
            self.settings.config.transport.kafka.idle_timeout_secs,
        ));
        d
    }

    /// A detector holding exactly the checkpoints of `parts` (a fresh one
    /// for a partition never checkpointed), and the offsets below which
    /// their records are already in it. A partition this process owned up
    /// to this rebalance (`kept`) restores the checkpoint it wrote last
    /// (`written`), which nobody can have overwritten since: only new
    /// partitions are read from the state topic, so a member that only
    /// gives partitions away is back polling its consumer at once.
    async fn restored_detector(
        &self,
        parts: &[i32],
        kept: &[i32],
        written: &BTreeMap<i32, Vec<u8>>,
        watches: &Settings,
        skip_below: &mut BTreeMap<i32, i64>,
    ) -> anyhow::Result<Detector> {
        let k = &self.settings.config.transport.kafka;
        let mut detector = self.fresh_detector(watches);
        skip_below.clear();
        let mut snaps = Vec::new();
        let mut to_read = Vec::new();
        for p in parts {
            match written.get(p).filter(|_| kept.contains(p)) {
                Some(bytes) => snaps.push(serde_json::from_slice::<PartitionSnapshot>(bytes)?),
                None => to_read.push(*p),
            }
        }
        if !to_read.is_empty() {
            let started = std::time::Instant::now();
            let read = self.read_snapshots(&to_read).await?;
            info!(
                partitions = ?to_read,
                found = read.len(),
                millis = started.elapsed().as_millis() as u64,
                "Detect checkpoints read."
            );
            snaps.extend(read);
        }
        let now = wall_clock();
        for s in snaps {
            info!(
                partition = s.partition,
                offset = s.offset,
                "Restoring the detect checkpoint."
            );
            skip_below.insert(s.partition, s.offset);
            detector.restore(s, now);
        }
        // Every input partition carries posts from every posts partition:
        // the watermark runs on each (input, upstream) pair.
        detector.assign_partitions(parts, k.partitions, now);
        Ok(detector)
    }

    async fn emit(
        &self,
        producer: &mut KafkaProducer<Spike>,
        spikes: &mut Vec<Spike>,
        totals: &mut vigil_detect::DetectTotals,
    ) -> anyhow::Result<()> {
        if spikes.is_empty() {
            return Ok(());
        }
        for s in spikes.iter() {
            if s.transition != vigil_types::Transition::Resolved {
                totals.spikes += 1;
                self.metrics
                    .detect_spikes
                    .with_label_values(&[s.watch.as_str(), s.level.as_str()])
                    .inc();
            }
        }
        let n = spikes.len() as u64;
        let records: Vec<_> = spikes
            .drain(..)
            .map(|s| Record::new(s.watch.0.clone(), s))
            .collect();
        producer.send(records).await?;
        self.metrics
            .transport_sent_messages
            .with_label_values(&[Stream::Spikes.as_str()])
            .inc_by(n);
        Ok(())
    }

    async fn checkpoint(
        &self,
        detector: &Detector,
        consumer: &KafkaConsumer<Scored>,
        state: &KafkaProducer<()>,
        assigned: &[i32],
        written: &mut BTreeMap<i32, Vec<u8>>,
    ) -> anyhow::Result<()> {
        let mut records = Vec::new();
        let mut commits = Vec::new();
        for p in assigned {
            let Some(offset) = consumer.commit_point(*p) else {
                continue;
            };
            let snap = serde_json::to_vec(&detector.snapshot(*p, offset))?;
            self.metrics
                .detect_checkpoint_bytes
                .with_label_values(&[&p.to_string()])
                .set(snap.len() as i64);
            records.push((p.to_string(), snap));
            commits.push((*p, offset));
        }
        if records.is_empty() {
            return Ok(());
        }
        // The checkpoint is durable before its offsets are committed.
        state.send_raw(&records).await?;
        written.retain(|p, _| assigned.contains(p));
        for (p, snap) in records {
            if let Ok(p) = p.parse() {
                written.insert(p, snap);
            }
        }
        consumer.commit_offsets(&commits)?;
        Ok(())
    }

    async fn read_snapshots(&self, parts: &[i32]) -> anyhow::Result<Vec<PartitionSnapshot>> {
        let k = self.settings.config.transport.kafka.clone();
        let topic = prefixed(&k, DETECT_STATE_TOPIC);
        // Checkpoints are keyed by input partition.
        let keys: Vec<String> = parts.iter().map(i32::to_string).collect();
        let records = tokio::task::spawn_blocking(move || {
            read_latest(&k, &topic, &keys, Duration::from_secs(60))
        })
        .await??;
        let mut latest: BTreeMap<i32, PartitionSnapshot> = BTreeMap::new();
        for r in records {
            match serde_json::from_slice::<PartitionSnapshot>(&r.payload) {
                Ok(s) if parts.contains(&s.partition) => {
                    latest.insert(s.partition, s);
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "Skipping an unreadable detect checkpoint."),
            }
        }
        Ok(latest.into_values().collect())
    }

    /// Alert: spikes topic to the incident store, sinks and the alerts
    /// topic, until cancelled. Duplicates (replays after a crash) are
    /// recognised by the store, which is durable across restarts.
    pub async fn alert(
        &self,
        stage: AlertStage,
        tap: impl FnMut(&Alert) + Send,
    ) -> anyhow::Result<vigil_alert::AlertTotals> {
        let cfg = &self.settings.config;
        let k = cfg.transport.kafka.clone();
        let consumer = KafkaConsumer::<Spike>::new(
            &k,
            topic(&k, Stream::Spikes),
            &self.group(StageName::Alert),
            "alert",
            cfg.transport.batch_size,
            decode_envelope::<Spike>,
            self.stats.clone(),
            self.cancel.clone(),
        )?;
        let producer =
            KafkaProducer::<Alert>::new(&k, topic(&k, Stream::Alerts), self.stats.clone())?;
        Ok(vigil_alert::run_alert(stage, consumer, producer, tap).await?)
    }
}
