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
//! - alert drops repeated alert ids: the incident store (durable across
//!   restarts) remembers every alert id it recorded.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use anyhow::Context;
use tokio::io::AsyncBufRead;
use tokio_util::sync::CancellationToken;
use tracing::{info_span, Instrument};
use vigil_alert::AlertStage;
use vigil_config::{KafkaSettings, Settings};
use vigil_detect::{DetectRun, Detector};
use vigil_ingest::{IngestRunner, Ingestor};
use vigil_telemetry::{LogLimiter, Metrics, Readiness};
use vigil_transport::Stream;
use vigil_transport_kafka::{
    ensure_topics, prefixed, topic, KafkaConsumer, KafkaDeadLetters, KafkaProducer,
    KafkaStateStore, KafkaStats, DETECT_STATE_TOPIC,
};
use vigil_types::{Alert, EventTime, Post, Scored, Spike};

use crate::{LiveConfig, StageName};

/// Every stream's reader takes plain and packed envelopes alike.
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
    /// Their Kafka section (`transport.type = "kafka"`).
    pub kafka: &'a KafkaSettings,
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
        format!("{}-{}", self.kafka.group_prefix, stage.as_str())
    }

    /// Creates the topics when missing (retrying while the broker is down).
    pub async fn ensure_topics(&self) -> anyhow::Result<()> {
        ensure_topics(self.kafka, Duration::from_secs(120))
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
        Ok(self
            .ingest_runner(&source)?
            .replay(reader, self.cancel.clone())
            .instrument(info_span!("stage", stage = "ingest", mode = "kafka"))
            .await?)
    }

    /// Ingest from an existing Kafka topic of JSON posts (a source), until
    /// cancelled: the same runner as a file's, reading a consumer.
    pub async fn ingest_kafka_source(&self) -> anyhow::Result<vigil_ingest::IngestStats> {
        let k = self.kafka;
        let source = k
            .source_topic
            .as_ref()
            .context("--input kafka needs transport.kafka.source_kafka_topic")?;
        let consumer = KafkaConsumer::<Vec<u8>>::new(
            k,
            source.clone(),
            &self.group(StageName::Ingest),
            "ingest",
            self.settings.transport.batch_size.get(),
            decode_raw,
            self.stats.clone(),
            self.cancel.clone(),
        )?;
        let origin = format!("kafka:{source}");
        Ok(self
            .ingest_runner("kafka")?
            .consume(consumer, &origin)
            .instrument(info_span!("stage", stage = "ingest", mode = "kafka"))
            .await?)
    }

    /// The ingest runner, writing to the posts topic and dead-lettering to
    /// the dead-letter topic, with metrics label `source`.
    fn ingest_runner(
        &self,
        source: &str,
    ) -> anyhow::Result<IngestRunner<KafkaProducer<Post>, KafkaDeadLetters>> {
        let (cfg, k) = (self.settings, self.kafka);
        Ok(IngestRunner {
            source: source.to_string(),
            ingestor: Ingestor::new(&cfg.ingest),
            producer: KafkaProducer::<Post>::new(k, topic(k, Stream::Posts), self.stats.clone())?,
            batch_size: cfg.transport.batch_size.get(),
            metrics: self.metrics.clone(),
            limiter: Arc::new(LogLimiter::new(cfg.telemetry.error_log_interval)),
            now: EventTime::wall_clock,
            dead_letters: KafkaDeadLetters::new(k, self.stats.clone())?,
        })
    }

    /// Score: posts topic to scored topic, until cancelled.
    pub async fn score(&self) -> anyhow::Result<vigil_score::ScoreTotals> {
        let (cfg, k) = (self.settings, self.kafka);
        let consumer = KafkaConsumer::<Post>::new(
            k,
            topic(k, Stream::Posts),
            &self.group(StageName::Score),
            "score",
            cfg.transport.batch_size.get(),
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
        Ok(
            vigil_score::run_score(self.live.scorer(), consumer, producer, self.metrics.clone())
                .instrument(info_span!("stage", stage = "score", mode = "kafka"))
                .await?,
        )
    }

    /// Detect: scored topic to spikes topic, with per-partition checkpoints,
    /// until cancelled.
    pub async fn detect(&self) -> anyhow::Result<vigil_detect::DetectTotals> {
        self.detect_inner()
            .instrument(info_span!("stage", stage = "detect", mode = "kafka"))
            .await
    }

    async fn detect_inner(&self) -> anyhow::Result<vigil_detect::DetectTotals> {
        let (cfg, k) = (self.settings, self.kafka.clone());
        let consumer = KafkaConsumer::<Scored>::new(
            &k,
            topic(&k, Stream::Scored),
            &self.group(StageName::Detect),
            "detect",
            cfg.transport.batch_size.get(),
            decode_envelope::<Scored>,
            self.stats.clone(),
            self.cancel.clone(),
        )?
        // An offset is committed only once a checkpoint covers it.
        .commit_only_explicitly();
        let producer =
            KafkaProducer::<Spike>::new(&k, topic(&k, Stream::Spikes), self.stats.clone())?;
        let state = KafkaStateStore::new(&k, prefixed(&k, DETECT_STATE_TOPIC), self.stats.clone())?;
        let watches = self.live.watches();
        let mut detector = Detector::new(self.settings);
        detector.update_watches(&watches.borrow());
        // A partition silent this long (and with nothing waiting) no
        // longer holds the watermark back.
        detector.set_idle_timeout(k.idle_timeout);
        let run = DetectRun {
            now: EventTime::wall_clock,
            upstream_partitions: i32::from(k.partitions.get()),
            checkpoint_every: k.checkpoint_interval,
        };
        Ok(vigil_detect::run_detect(
            detector,
            consumer,
            producer,
            state,
            self.metrics.clone(),
            run,
            Some(watches),
        )
        .await?)
    }

    /// Alert: spikes topic to the incident store, sinks and the alerts
    /// topic, until cancelled. Duplicates (replays after a crash) are
    /// recognised by the store, which is durable across restarts.
    pub async fn alert(
        &self,
        stage: AlertStage,
        tap: impl FnMut(&Alert) + Send,
    ) -> anyhow::Result<vigil_alert::AlertTotals> {
        let (cfg, k) = (self.settings, self.kafka.clone());
        let consumer = KafkaConsumer::<Spike>::new(
            &k,
            topic(&k, Stream::Spikes),
            &self.group(StageName::Alert),
            "alert",
            cfg.transport.batch_size.get(),
            decode_envelope::<Spike>,
            self.stats.clone(),
            self.cancel.clone(),
        )?;
        let producer =
            KafkaProducer::<Alert>::new(&k, topic(&k, Stream::Alerts), self.stats.clone())?;
        Ok(vigil_alert::run_alert(stage, consumer, producer, tap).await?)
    }
}
