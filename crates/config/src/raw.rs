//! Raw configuration structs: exactly what the TOML says, before validation.
//!
//! Unknown keys are not rejected by serde here: the loader collects them all
//! with `serde_ignored` so that `vigil config check` can list every problem
//! at once (serde's `deny_unknown_fields` stops at the first one).

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A secret that prints as a mask (in `Debug`, `Display` and when serialised
/// for `vigil config show`).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Sensitive<T>(pub T);

impl<T> Sensitive<T> {
    /// The secret value itself.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"********\"")
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl<T> Serialize for Sensitive<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("********")
    }
}

/// The root configuration: one section per stage plus the watches.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Config {
    /// How stages are connected.
    pub transport: TransportConfig,
    /// Ingest stage.
    pub ingest: IngestConfig,
    /// Score stage.
    pub score: ScoreConfig,
    /// Detect stage.
    pub detect: DetectConfig,
    /// Alert stage.
    pub alert: AlertConfig,
    /// Logs and metrics.
    pub telemetry: TelemetryConfig,
    /// The monitored subjects.
    #[serde(default)]
    pub watches: Vec<WatchConfig>,
}

/// `[transport]`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TransportConfig {
    /// `"memory"` (embedded default) or `"kafka"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Capacity of each in-process stream, in batches.
    pub channel_capacity: usize,
    /// Records per batch handed between stages.
    pub batch_size: usize,
    /// Kafka options (used when `type = "kafka"`).
    pub kafka: KafkaConfig,
}

/// `[transport.kafka]`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated (`host:port,host:port`).
    pub brokers: String,
    /// Prefix of every Kafka topic name (`<prefix>vigil.posts.v1`).
    pub topic_prefix: String,
    /// Partitions of the topics Vigil creates.
    pub partitions: i32,
    /// Replication factor of the topics Vigil creates.
    pub replication: i32,
    /// Consumer group id prefix (`<prefix>-<stage>`).
    pub group_prefix: String,
    /// A partition with no record for this long stops holding back the
    /// detect watermark.
    pub idle_timeout_secs: u64,
    /// How often detect checkpoints its state to the state topic.
    pub checkpoint_interval_secs: u64,
    /// An existing topic ingest reads posts from (`--input kafka`).
    pub source_kafka_topic: String,
    /// librdkafka client options passed through (values masked in `config show`).
    pub client: std::collections::BTreeMap<String, Sensitive<String>>,
}

/// `[ingest]`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct IngestConfig {
    /// Lines longer than this are rejected (`reason="too_large"`).
    pub max_post_bytes: usize,
    /// Salt for hashing author ids.
    pub author_salt: Sensitive<String>,
    /// Recent post ids remembered to drop duplicates.
    pub dedupe_capacity: usize,
    /// Source name for posts that carry none.
    pub default_source: String,
}

/// `[score]`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ScoreConfig {
    /// Directory of `<kind>.txt` crisis lexicons; empty for the built-in ones.
    pub lexicon_dir: String,
    /// Emit per-term metrics (high cardinality: off by default).
    pub per_term_metrics: bool,
    /// Sentiment at or below this counts a post as negative.
    pub negative_threshold: f32,
}

/// `[detect]`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DetectConfig {
    /// Bin width, seconds.
    pub bin_secs: u64,
    /// Bins per sliding window.
    pub window_bins: u32,
    /// Allowed lateness behind the newest event time, seconds.
    pub allowed_lateness_secs: u64,
    /// EWMA baseline half-life, bins.
    pub baseline_half_life_bins: f64,
    /// Bins of history before a z-score may fire.
    pub warmup_bins: u32,
    /// Minimum posts in a window for a volume spike.
    pub min_count: u64,
    /// Minimum z-score for a volume spike.
    pub z_threshold: f64,
    /// Posts in a window that fire without history.
    pub absolute_count: u64,
    /// Minimum posts in a window for a negative-share surge.
    pub negative_min_count: u64,
    /// Minimum negative share for a surge.
    pub negative_share_min: f64,
    /// Minimum rise of the negative share over its baseline.
    pub negative_share_delta: f64,
    /// Fraction of the thresholds that keeps a live incident firing.
    pub sustain_ratio: f64,
    /// Quiet windows before an incident resolves.
    pub resolve_after_quiet_bins: u32,
    /// Level grading.
    pub grading: GradingConfig,
}

/// `[detect.grading]`, also usable per watch as `[watches.grading]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct GradingConfig {
    /// Observed/baseline ratio for moderate (with spread).
    pub moderate_ratio: f64,
    /// Distinct sources or regions for moderate.
    pub moderate_sources: u32,
    /// Observed/baseline ratio that is moderate on its own.
    pub moderate_ratio_alone: f64,
    /// Share of the window a source (or region) must carry to count
    /// towards spread.
    pub source_min_share: f64,
    /// Posts with a severe crisis term needed for major.
    pub major_severe_posts: u64,
    /// Minimum share of such posts in the window for major.
    pub major_severe_share: f64,
}

/// `[alert]`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AlertConfig {
    /// Recent alert ids remembered to drop duplicates.
    pub dedupe_capacity: usize,
    /// Where alerts go.
    pub sinks: Vec<SinkConfig>,
}

/// One `[[alert.sinks]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// JSON lines on standard output.
    Stdout,
    /// POST each alert as JSON to a URL.
    Webhook(WebhookConfig),
}

/// `type = "webhook"` sink options.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WebhookConfig {
    /// Target URL (`http://` or `https://`). May hold a token: masked in `config show`.
    pub url: Sensitive<String>,
    /// Per-request timeout, milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Retries after the first attempt.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// First retry delay, milliseconds (doubles each retry).
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// Cap of the retry delay, milliseconds.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
}

fn default_timeout_ms() -> u64 {
    5000
}
fn default_max_retries() -> u32 {
    5
}
fn default_backoff_initial_ms() -> u64 {
    200
}
fn default_backoff_max_ms() -> u64 {
    10_000
}

/// `[telemetry]`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TelemetryConfig {
    /// Minimum seconds between two logs of the same repeated error.
    pub error_log_interval_secs: u64,
}

/// One `[[watches]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WatchConfig {
    /// Stable id: lower-case letters, digits, `-` and `_`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Terms, English and Chinese; a post matching any of them matches.
    #[serde(default)]
    pub terms: Vec<String>,
    /// A post matching any of these does not match the watch.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// A query instead of `terms`/`exclude`: terms, "phrases", AND, OR,
    /// NOT and parentheses (see `Query`).
    #[serde(default)]
    pub query: Option<String>,
    /// Per-watch grading overrides (each key optional).
    #[serde(default)]
    pub grading: Option<GradingOverride>,
}

/// Per-watch grading overrides.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct GradingOverride {
    /// See [`GradingConfig::moderate_ratio`].
    pub moderate_ratio: Option<f64>,
    /// See [`GradingConfig::moderate_sources`].
    pub moderate_sources: Option<u32>,
    /// See [`GradingConfig::moderate_ratio_alone`].
    pub moderate_ratio_alone: Option<f64>,
    /// See [`GradingConfig::source_min_share`].
    pub source_min_share: Option<f64>,
    /// See [`GradingConfig::major_severe_posts`].
    pub major_severe_posts: Option<u64>,
    /// See [`GradingConfig::major_severe_share`].
    pub major_severe_share: Option<f64>,
}

impl GradingConfig {
    /// This grading with a watch's overrides applied.
    pub fn with(&self, o: &GradingOverride) -> GradingConfig {
        GradingConfig {
            moderate_ratio: o.moderate_ratio.unwrap_or(self.moderate_ratio),
            moderate_sources: o.moderate_sources.unwrap_or(self.moderate_sources),
            moderate_ratio_alone: o.moderate_ratio_alone.unwrap_or(self.moderate_ratio_alone),
            source_min_share: o.source_min_share.unwrap_or(self.source_min_share),
            major_severe_posts: o.major_severe_posts.unwrap_or(self.major_severe_posts),
            major_severe_share: o.major_severe_share.unwrap_or(self.major_severe_share),
        }
    }
}
