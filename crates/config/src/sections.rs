//! The validated sections of [`crate::Settings`]: one per stage, in time
//! ([`Duration`]) and non-zero types, each built by its own check from its
//! raw section once every problem in that section has been collected.
//! Code after this point reads these, never the raw [`crate::Config`].

use std::{
    collections::BTreeMap,
    num::{NonZeroU16, NonZeroU64, NonZeroU8, NonZeroUsize},
    path::PathBuf,
    time::Duration,
};

use serde::{Serialize, Serializer};

use crate::{
    raw::{
        AlertConfig, DetectConfig, EscalationConfig, GradingConfig, IncidentsConfig, IngestConfig,
        PathConfig, PersonConfig, ScoreConfig, Sensitive, SinkConfig, TargetsConfig, TeamConfig,
        TelemetryConfig, TransportConfig,
    },
    validate::{
        check_escalation, check_grading, check_roster, check_targets, Collector, MAX_SCALE_BINS,
    },
};

/// How the stages are joined (`[transport]`).
#[derive(Clone, Debug)]
pub struct TransportSettings {
    /// In-process streams or Kafka topics.
    pub kind: Transport,
    /// Capacity of each in-process stream, in batches.
    pub channel_capacity: NonZeroUsize,
    /// Records per batch handed between stages.
    pub batch_size: NonZeroUsize,
}

/// `transport.type`.
#[derive(Clone, Debug)]
pub enum Transport {
    /// The embedded default: bounded in-process channels, one process.
    Memory,
    /// Kafka topics between stages (`[transport.kafka]`).
    Kafka(KafkaSettings),
}

impl TransportSettings {
    /// The Kafka settings, when the stages are joined by Kafka.
    pub fn kafka(&self) -> Option<&KafkaSettings> {
        match &self.kind {
            Transport::Kafka(k) => Some(k),
            Transport::Memory => None,
        }
    }

    /// The Kafka settings, mutable (to add a client option at start).
    pub fn kafka_mut(&mut self) -> Option<&mut KafkaSettings> {
        match &mut self.kind {
            Transport::Kafka(k) => Some(k),
            Transport::Memory => None,
        }
    }
}

/// `[transport.kafka]`, validated.
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// Bootstrap servers, comma-separated (`host:port,host:port`).
    pub brokers: String,
    /// Prefix of every Kafka topic name (`<prefix>vigil.posts.v1`).
    pub topic_prefix: String,
    /// Partitions of the topics Vigil creates.
    pub partitions: NonZeroU16,
    /// Replication factor of the topics Vigil creates.
    pub replication: NonZeroU8,
    /// Consumer group id prefix (`<prefix>-<stage>`).
    pub group_prefix: String,
    /// A partition with no record for this long stops holding back the
    /// detect watermark.
    pub idle_timeout: Duration,
    /// How often detect checkpoints its state to the state topic.
    pub checkpoint_interval: Duration,
    /// A partition with lag whose committed offset has not moved for this
    /// long is stalled (longer than `checkpoint_interval`).
    pub stall_timeout: Duration,
    /// An existing topic ingest reads posts from (`--input kafka`).
    pub source_topic: Option<String>,
    /// librdkafka client options passed through.
    pub client: BTreeMap<String, Sensitive<String>>,
}

/// `[ingest]`, validated.
#[derive(Clone, Debug)]
pub struct IngestSettings {
    /// Lines longer than this are rejected (`reason="too_large"`).
    pub max_post_bytes: NonZeroUsize,
    /// Salt for hashing author ids.
    pub author_salt: Sensitive<String>,
    /// Recent post ids remembered to drop duplicates (0: none).
    pub dedupe_capacity: usize,
    /// Source name for posts that carry none.
    pub default_source: String,
    /// Keep the author's platform handle (privacy trade-off: docs/CONFIG.md).
    pub keep_author_handle: bool,
}

/// `[score]`, validated (its lexicons are [`crate::Settings::lexicons`]).
#[derive(Clone, Debug)]
pub struct ScoreSettings {
    /// Sentiment at or below this counts a post as negative.
    pub negative_threshold: f32,
    /// Count hits per watch and term (`vigil_score_term_hits_total`).
    pub per_term_metrics: bool,
}

/// `[detect]`, validated: every time-like setting a [`Duration`], so one
/// setting means the same at any bin width.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetectSettings {
    /// Bin width (at least one second).
    #[serde(serialize_with = "secs")]
    pub bin: Duration,
    /// The time scales of the volume statistic, each a sliding window of
    /// whole bins over the same bins.
    #[serde(serialize_with = "secs_list")]
    pub scales: Vec<Duration>,
    /// Allowed lateness behind the newest event time.
    #[serde(serialize_with = "secs")]
    pub allowed_lateness: Duration,
    /// Half-life of the EWMA baseline.
    #[serde(serialize_with = "secs")]
    pub baseline_half_life: Duration,
    /// Half-life of the 24 hour-of-day seasonal factors; `None`: no
    /// seasonal baseline.
    #[serde(serialize_with = "opt_secs")]
    pub seasonal_half_life: Option<Duration>,
    /// Largest hour-of-day factor.
    pub seasonal_max_factor: f64,
    /// History before a z-score may fire.
    #[serde(serialize_with = "secs")]
    pub warmup: Duration,
    /// Minimum posts in a window for a volume spike.
    pub min_count: NonZeroU64,
    /// Minimum z-score for a volume spike whatever the watch's history.
    pub z_floor: f64,
    /// Upper deviations above the mean of the watch's own z-scores a spike
    /// needs.
    pub calibration_sigmas: f64,
    /// Half-life of that history of z-scores.
    #[serde(serialize_with = "secs")]
    pub calibration_half_life: Duration,
    /// Persistence window (the short-term mean of each scale's z-scores);
    /// `None`: off.
    #[serde(serialize_with = "opt_secs")]
    pub persistence: Option<Duration>,
    /// Upper deviations of the watch's own persistence history a
    /// persistence needs.
    pub persistence_sigmas: f64,
    /// Posts in a window that fire without history.
    pub absolute_count: NonZeroU64,
    /// Half-life of the baseline negative and crisis-kind shares.
    #[serde(serialize_with = "secs")]
    pub share_half_life: Duration,
    /// Minimum posts in a window for a share surge.
    pub negative_min_count: u64,
    /// Minimum negative share for a surge.
    pub negative_share_min: f64,
    /// Minimum rise of the negative share over its baseline.
    pub negative_share_delta: f64,
    /// Minimum share of one crisis kind for a crisis-kind surge.
    pub crisis_share_min: f64,
    /// Minimum rise of that kind's share over its baseline.
    pub crisis_share_delta: f64,
    /// Fraction of the thresholds that keeps a live incident firing.
    pub sustain_ratio: f64,
    /// Quiet time before an incident resolves (at least one bin).
    #[serde(serialize_with = "secs")]
    pub resolve_after_quiet: Duration,
    /// Level grading (per watch: [`crate::Watch::grading`]).
    pub grading: GradingConfig,
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.map_or(0.0, |d| d.as_secs_f64()))
}

fn secs_list<S: Serializer>(d: &[Duration], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(d.iter().map(Duration::as_secs_f64))
}

/// `[alert]`, validated.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// Where alerts go (each validated on its own; names unique).
    pub sinks: Vec<SinkConfig>,
    /// Escalation policy per level.
    pub escalation: EscalationConfig,
    /// Response targets per level.
    pub targets: TargetsConfig,
    /// Sink names that receive published status updates.
    pub stakeholder_sinks: Vec<String>,
    /// Notifications waiting per sink.
    pub sink_queue_capacity: NonZeroUsize,
    /// At shutdown, how long to wait for the sinks to deliver what is queued.
    pub shutdown_timeout: Duration,
    /// A failed notification is retried until this long after its first
    /// failure, then dropped.
    pub outbox_expiry: Duration,
    /// First delay before an outbox notification is sent again...
    pub outbox_retry_initial: Duration,
    /// ...doubling up to this.
    pub outbox_retry_max: Duration,
}

/// `[incidents]`, validated (its playbooks and templates are
/// [`crate::Settings::playbooks`] and [`crate::Settings::templates`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentsSettings {
    /// Directory of the store file; created when missing.
    pub data_dir: PathBuf,
    /// How long resolved incidents, remembered alert ids and ended
    /// silences are kept.
    pub retention: Duration,
    /// The people on the roster.
    pub people: Vec<PersonConfig>,
    /// Teams of them.
    pub teams: Vec<TeamConfig>,
    /// Reporting paths per level and crisis kind.
    pub paths: Vec<PathConfig>,
}

/// `[telemetry]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// Least time between two logs of the same repeated error.
    pub error_log_interval: Duration,
}

/// Runs `check` and builds the section when it added no problem.
fn built<T>(
    c: &mut Collector,
    check: impl FnOnce(&mut Collector),
    build: impl FnOnce() -> T,
) -> Option<T> {
    let before = c.problems.len();
    check(c);
    (c.problems.len() == before).then(build)
}

pub(crate) fn transport(c: &mut Collector, t: &TransportConfig) -> Option<TransportSettings> {
    let k = &t.kafka;
    built(
        c,
        |c| {
            if !matches!(t.kind.as_str(), "memory" | "kafka") {
                c.push(
                    "transport.type",
                    format!(
                        "unknown transport `{}` (expected \"memory\" or \"kafka\")",
                        t.kind
                    ),
                );
            }
            c.check(
                (1..=1_000_000).contains(&t.channel_capacity),
                "transport.channel_capacity",
                "must be between 1 and 1000000",
            );
            c.check(
                (1..=65_536).contains(&t.batch_size),
                "transport.batch_size",
                "must be between 1 and 65536",
            );
            // Checked in memory mode too: a file that switches to Kafka
            // later should not find its Kafka section broken then.
            c.check(
                !k.brokers.trim().is_empty(),
                "transport.kafka.brokers",
                "must not be empty",
            );
            c.check(
                (1..=10_000).contains(&k.partitions),
                "transport.kafka.partitions",
                "must be between 1 and 10000",
            );
            c.check(
                (1..=100).contains(&k.replication),
                "transport.kafka.replication",
                "must be between 1 and 100",
            );
            c.check(
                !k.group_prefix.trim().is_empty(),
                "transport.kafka.group_prefix",
                "must not be empty",
            );
            c.check(
                k.idle_timeout_secs >= 1,
                "transport.kafka.idle_timeout_secs",
                "must be at least 1",
            );
            c.check(
                k.checkpoint_interval_secs >= 1,
                "transport.kafka.checkpoint_interval_secs",
                "must be at least 1",
            );
            c.check(
                k.stall_timeout_secs > k.checkpoint_interval_secs,
                "transport.kafka.stall_timeout_secs",
                "must be longer than checkpoint_interval_secs (detect commits once per checkpoint)",
            );
        },
        || {
            let kind = if t.kind == "kafka" {
                Transport::Kafka(KafkaSettings {
                    brokers: k.brokers.clone(),
                    topic_prefix: k.topic_prefix.clone(),
                    partitions: nonzero(u16::try_from(k.partitions).unwrap_or_default()),
                    replication: nonzero(u8::try_from(k.replication).unwrap_or_default()),
                    group_prefix: k.group_prefix.clone(),
                    idle_timeout: Duration::from_secs(k.idle_timeout_secs),
                    checkpoint_interval: Duration::from_secs(k.checkpoint_interval_secs),
                    stall_timeout: Duration::from_secs(k.stall_timeout_secs),
                    source_topic: (!k.source_kafka_topic.is_empty())
                        .then(|| k.source_kafka_topic.clone()),
                    client: k.client.clone(),
                })
            } else {
                Transport::Memory
            };
            TransportSettings {
                kind,
                channel_capacity: nonzero(t.channel_capacity),
                batch_size: nonzero(t.batch_size),
            }
        },
    )
}

/// A value the check before it proved in range (so never 0 nor too large).
fn nonzero<T: TryFrom<U>, U>(v: U) -> T {
    T::try_from(v).unwrap_or_else(|_| unreachable!("checked in range before it is built"))
}

pub(crate) fn ingest(c: &mut Collector, i: &IngestConfig) -> Option<IngestSettings> {
    built(
        c,
        |c| {
            c.check(
                i.max_post_bytes >= 64,
                "ingest.max_post_bytes",
                "must be at least 64",
            );
            c.check(
                i.dedupe_capacity <= 50_000_000,
                "ingest.dedupe_capacity",
                "must be at most 50000000",
            );
            c.check(
                !i.default_source.trim().is_empty(),
                "ingest.default_source",
                "must not be empty",
            );
        },
        || IngestSettings {
            max_post_bytes: nonzero(i.max_post_bytes),
            author_salt: i.author_salt.clone(),
            dedupe_capacity: i.dedupe_capacity,
            default_source: i.default_source.clone(),
            keep_author_handle: i.keep_author_handle,
        },
    )
}

pub(crate) fn score(c: &mut Collector, s: &ScoreConfig) -> Option<ScoreSettings> {
    built(
        c,
        |c| {
            c.check(
                (-1.0..=1.0).contains(&s.negative_threshold),
                "score.negative_threshold",
                "must be within [-1, 1]",
            );
        },
        || ScoreSettings {
            negative_threshold: s.negative_threshold,
            per_term_metrics: s.per_term_metrics,
        },
    )
}

pub(crate) fn detect(c: &mut Collector, d: &DetectConfig) -> Option<DetectSettings> {
    built(
        c,
        |c| {
            c.check(
                d.bin_secs >= 1 && d.bin_secs <= 86_400,
                "detect.bin_secs",
                "must be between 1 and 86400",
            );
            c.check(
                !d.scales_secs.is_empty()
                    && d.scales_secs.len() <= 8
                    && d.scales_secs.iter().all(|s| (1..=86_400).contains(s))
                    && d.scales_secs
                        .iter()
                        .all(|&s| s / d.bin_secs.max(1) <= MAX_SCALE_BINS),
                "detect.scales_secs",
                "must list 1 to 8 scales, each between 1 and 86400 seconds and at most 1440 bins",
            );
            c.check(
                d.allowed_lateness_secs <= 86_400,
                "detect.allowed_lateness_secs",
                "must be at most 86400",
            );
            c.check(
                d.baseline_half_life_secs >= d.bin_secs as f64
                    && d.baseline_half_life_secs <= 365.0 * 86_400.0,
                "detect.baseline_half_life_secs",
                "must be a number of seconds between one bin and 365 days",
            );
            c.check(
                d.share_half_life_secs >= d.bin_secs as f64
                    && d.share_half_life_secs <= 365.0 * 86_400.0,
                "detect.share_half_life_secs",
                "must be a number of seconds between one bin and 365 days",
            );
            c.check(
                d.warmup_secs <= 30 * 86_400,
                "detect.warmup_secs",
                "must be at most 30 days",
            );
            c.check(
                d.seasonal_half_life_days == 0.0
                    || (d.seasonal_half_life_days >= 0.5 && d.seasonal_half_life_days <= 365.0),
                "detect.seasonal_half_life_days",
                "must be 0 (off) or between 0.5 and 365",
            );
            c.check(
                d.seasonal_max_factor >= 1.0 && d.seasonal_max_factor <= 100.0,
                "detect.seasonal_max_factor",
                "must be between 1 and 100",
            );
            for (key, v) in [
                ("detect.z_floor", d.z_floor),
                ("detect.calibration_sigmas", d.calibration_sigmas),
                ("detect.persistence_sigmas", d.persistence_sigmas),
            ] {
                c.check(v > 0.0 && v.is_finite(), key, "must be a positive number");
            }
            c.check(
                d.calibration_half_life_secs >= d.bin_secs as f64
                    && d.calibration_half_life_secs <= 365.0 * 86_400.0,
                "detect.calibration_half_life_secs",
                "must be a number of seconds between one bin and 365 days",
            );
            c.check(
                d.persistence_secs >= 0.0 && d.persistence_secs <= 30.0 * 86_400.0,
                "detect.persistence_secs",
                "must be a number of seconds up to 30 days (0 turns persistence off)",
            );
            c.check(d.min_count >= 1, "detect.min_count", "must be at least 1");
            c.check(
                d.absolute_count >= 1,
                "detect.absolute_count",
                "must be at least 1",
            );
            for (key, v) in [
                ("detect.negative_share_min", d.negative_share_min),
                ("detect.negative_share_delta", d.negative_share_delta),
                ("detect.crisis_share_min", d.crisis_share_min),
                ("detect.crisis_share_delta", d.crisis_share_delta),
            ] {
                c.check((0.0..=1.0).contains(&v), key, "must be within [0, 1]");
            }
            c.check(
                d.sustain_ratio > 0.0 && d.sustain_ratio <= 1.0,
                "detect.sustain_ratio",
                "must be within (0, 1]",
            );
            c.check(
                d.resolve_after_quiet_secs >= d.bin_secs
                    && d.resolve_after_quiet_secs <= 30 * 86_400,
                "detect.resolve_after_quiet_secs",
                "must be between one bin and 30 days",
            );
            check_grading(c, "detect.grading", &d.grading);
        },
        || DetectSettings {
            bin: Duration::from_secs(d.bin_secs),
            scales: d
                .scales_secs
                .iter()
                .map(|&s| Duration::from_secs(s))
                .collect(),
            allowed_lateness: Duration::from_secs(d.allowed_lateness_secs),
            baseline_half_life: Duration::from_secs_f64(d.baseline_half_life_secs),
            seasonal_half_life: (d.seasonal_half_life_days > 0.0)
                .then(|| Duration::from_secs_f64(d.seasonal_half_life_days * 86_400.0)),
            seasonal_max_factor: d.seasonal_max_factor,
            warmup: Duration::from_secs(d.warmup_secs),
            min_count: nonzero(d.min_count),
            z_floor: d.z_floor,
            calibration_sigmas: d.calibration_sigmas,
            calibration_half_life: Duration::from_secs_f64(d.calibration_half_life_secs),
            persistence: (d.persistence_secs > 0.0)
                .then(|| Duration::from_secs_f64(d.persistence_secs)),
            persistence_sigmas: d.persistence_sigmas,
            absolute_count: nonzero(d.absolute_count),
            share_half_life: Duration::from_secs_f64(d.share_half_life_secs),
            negative_min_count: d.negative_min_count,
            negative_share_min: d.negative_share_min,
            negative_share_delta: d.negative_share_delta,
            crisis_share_min: d.crisis_share_min,
            crisis_share_delta: d.crisis_share_delta,
            sustain_ratio: d.sustain_ratio,
            resolve_after_quiet: Duration::from_secs(d.resolve_after_quiet_secs),
            grading: d.grading.clone(),
        },
    )
}

/// `[alert]`: escalation, targets and stakeholders against the sinks and
/// the roster of `[incidents]`, and the delivery settings (each sink was
/// checked where it was deserialised).
pub(crate) fn alert(
    c: &mut Collector,
    a: &AlertConfig,
    incidents: Option<&IncidentsConfig>,
) -> Option<AlertSettings> {
    built(
        c,
        |c| {
            check_escalation(c, a);
            check_targets(c, a);
            if let Some(i) = incidents {
                check_roster(c, i, a);
            }
            let names: Vec<&str> = a.sinks.iter().map(|s| s.name()).collect();
            for (i, n) in a.stakeholder_sinks.iter().enumerate() {
                if !names.contains(&n.as_str()) {
                    c.push(
                        format!("alert.stakeholder_sinks[{i}]"),
                        format!(
                            "unknown sink `{n}` (configured sinks: {})",
                            names.join(", ")
                        ),
                    );
                }
            }
            c.check(
                (1..=1_000_000).contains(&a.sink_queue_capacity),
                "alert.sink_queue_capacity",
                "must be between 1 and 1000000",
            );
            c.check(
                a.shutdown_timeout_secs <= 3600,
                "alert.shutdown_timeout_secs",
                "must be at most 3600",
            );
            c.check(
                a.outbox_expiry_secs >= 1,
                "alert.outbox_expiry_secs",
                "must be at least 1",
            );
            c.check(
                a.outbox_retry_initial_secs >= 1
                    && a.outbox_retry_initial_secs <= a.outbox_retry_max_secs,
                "alert.outbox_retry_initial_secs",
                "must be at least 1 and at most outbox_retry_max_secs",
            );
        },
        || AlertSettings {
            sinks: a.sinks.clone(),
            escalation: a.escalation.clone(),
            targets: a.targets.clone(),
            stakeholder_sinks: a.stakeholder_sinks.clone(),
            sink_queue_capacity: nonzero(a.sink_queue_capacity),
            shutdown_timeout: Duration::from_secs(a.shutdown_timeout_secs),
            outbox_expiry: Duration::from_secs(a.outbox_expiry_secs),
            outbox_retry_initial: Duration::from_secs(a.outbox_retry_initial_secs),
            outbox_retry_max: Duration::from_secs(a.outbox_retry_max_secs),
        },
    )
}

pub(crate) fn incidents(c: &mut Collector, i: &IncidentsConfig) -> Option<IncidentsSettings> {
    built(
        c,
        |c| {
            c.check(
                !i.data_dir.trim().is_empty(),
                "incidents.data_dir",
                "must not be empty",
            );
            c.check(
                (1..=36_500).contains(&i.retention_days),
                "incidents.retention_days",
                "must be between 1 and 36500",
            );
        },
        || IncidentsSettings {
            data_dir: PathBuf::from(&i.data_dir),
            retention: Duration::from_secs(i.retention_days * 86_400),
            people: i.people.clone(),
            teams: i.teams.clone(),
            paths: i.paths.clone(),
        },
    )
}

pub(crate) fn telemetry(c: &mut Collector, t: &TelemetryConfig) -> Option<TelemetrySettings> {
    built(
        c,
        |c| {
            c.check(
                t.error_log_interval_secs <= 86_400,
                "telemetry.error_log_interval_secs",
                "must be at most 86400",
            );
        },
        || TelemetrySettings {
            error_log_interval: Duration::from_secs(t.error_log_interval_secs),
        },
    )
}
