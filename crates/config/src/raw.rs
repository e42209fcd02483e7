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
    /// The incident store.
    #[serde(default)]
    pub incidents: IncidentsConfig,
    /// Logs and metrics.
    pub telemetry: TelemetryConfig,
    /// The incident HTTP API and web console (`/api/v1`, `/ui`).
    #[serde(default)]
    pub api: ApiConfig,
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
    /// A partition of a stage's input whose group has lag and whose
    /// committed offset has not moved for this long is stalled: no live
    /// member is working it (`vigil_kafka_stalled_partitions`, `/readyz`).
    pub stall_timeout_secs: u64,
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
    /// Keep the author's platform handle (`user.screen_name`, Vigil's
    /// `author_handle`) on posts, sample posts and incidents, for teams that
    /// must reply to people. Off by default: authors are hashed, and a
    /// handle is personal data (never in metrics either way).
    #[serde(default)]
    pub keep_author_handle: bool,
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
    /// The time scales the volume statistic is computed at, seconds: each a
    /// sliding window of whole bins (rounded, at least one bin) over the
    /// same bins.
    pub scales_secs: Vec<u64>,
    /// Allowed lateness behind the newest event time, seconds.
    pub allowed_lateness_secs: u64,
    /// EWMA baseline half-life, seconds.
    pub baseline_half_life_secs: f64,
    /// Half-life, in days, of the 24 hour-of-day (UTC) seasonal factors;
    /// 0 turns the seasonal baseline off.
    pub seasonal_half_life_days: f64,
    /// Largest hour-of-day factor (the expected count at the busiest hour
    /// over the deseasonalised level).
    pub seasonal_max_factor: f64,
    /// Seconds of history before a z-score may fire.
    pub warmup_secs: u64,
    /// Minimum posts in a window for a volume spike.
    pub min_count: u64,
    /// Minimum z-score for a volume spike whatever the watch's history: a
    /// window must be at least this extreme as a count.
    pub z_floor: f64,
    /// A volume spike at a scale needs a z-score this many (upper)
    /// deviations above the mean of this watch's own z-scores at that scale.
    pub calibration_sigmas: f64,
    /// Half-life, in seconds, of that history of z-scores.
    pub calibration_half_life_secs: f64,
    /// Persistence: each scale also keeps the short-term mean of its
    /// z-scores over about this many seconds (0: off)...
    pub persistence_secs: f64,
    /// ...which fires when this many upper deviations above the mean of
    /// this watch's own history of it: a deviation that lasts.
    pub persistence_sigmas: f64,
    /// Posts in a window that fire without history.
    pub absolute_count: u64,
    /// Half-life, in seconds, of the baseline negative and crisis-kind
    /// shares.
    pub share_half_life_secs: f64,
    /// Minimum posts in a window for a negative-share surge.
    pub negative_min_count: u64,
    /// Minimum negative share for a surge.
    pub negative_share_min: f64,
    /// Minimum rise of the negative share over its baseline.
    pub negative_share_delta: f64,
    /// Minimum share of the window's posts hitting one crisis kind for a
    /// crisis-kind surge (which also needs `negative_min_count` posts).
    pub crisis_share_min: f64,
    /// Minimum rise of that kind's share over its baseline.
    pub crisis_share_delta: f64,
    /// Fraction of the thresholds that keeps a live incident firing.
    pub sustain_ratio: f64,
    /// Quiet time (no trigger, not sustained), seconds, before an incident
    /// resolves.
    pub resolve_after_quiet_secs: u64,
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
    /// Reach: a window with a post from an author with at least this many
    /// followers is wide in scope (moderate) whatever its volume; 0 turns
    /// the rule off. Posts without a follower count never trigger it.
    #[serde(default = "default_wide_reach_followers")]
    pub wide_reach_followers: u64,
}

fn default_wide_reach_followers() -> u64 {
    100_000
}

/// `[alert]`
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AlertConfig {
    /// Where alerts go. Each entry is validated on its own (see
    /// `validate.rs`), so every problem in every sink is reported at once.
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
    /// Escalation policy per level (`[alert.escalation.<level>]`); a level
    /// without one notifies every sink once per alert.
    #[serde(default)]
    pub escalation: EscalationConfig,
    /// Response targets per level (`[alert.targets.<level>]`): how soon an
    /// incident must be acknowledged, get its first public response and be
    /// resolved.
    #[serde(default)]
    pub targets: TargetsConfig,
    /// Sink names that receive published status updates (the stakeholders:
    /// a PR channel, a webhook to the press office...).
    #[serde(default)]
    pub stakeholder_sinks: Vec<String>,
    /// Notifications waiting per sink. Each sink has its own queue and task,
    /// so a slow or hanging receiver delays only itself; a notification for
    /// a full queue goes to the outbox and is retried.
    #[serde(default = "default_sink_queue_capacity")]
    pub sink_queue_capacity: usize,
    /// At shutdown, how long to wait for the sinks to deliver what is
    /// queued; what is left stays in the outbox for the next start.
    #[serde(default = "default_shutdown_timeout_secs")]
    pub shutdown_timeout_secs: u64,
    /// A notification that failed after its retries stays in the outbox
    /// (across restarts) and is sent again until delivered or this long
    /// after its first failure, then dropped (logged and counted).
    #[serde(default = "default_outbox_expiry_secs")]
    pub outbox_expiry_secs: u64,
    /// First delay before an outbox notification is sent again; doubles
    /// with each failed round...
    #[serde(default = "default_outbox_retry_initial_secs")]
    pub outbox_retry_initial_secs: u64,
    /// ...up to this.
    #[serde(default = "default_outbox_retry_max_secs")]
    pub outbox_retry_max_secs: u64,
}

fn default_sink_queue_capacity() -> usize {
    1024
}
fn default_shutdown_timeout_secs() -> u64 {
    10
}
fn default_outbox_expiry_secs() -> u64 {
    86_400
}
fn default_outbox_retry_initial_secs() -> u64 {
    10
}
fn default_outbox_retry_max_secs() -> u64 {
    600
}

/// One `[[alert.sinks]]` entry; `type` picks the variant.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// JSON lines on standard output.
    Stdout(StdoutConfig),
    /// POST each alert as JSON to a URL, optionally signed (HMAC-SHA256).
    Webhook(WebhookConfig),
    /// A Slack-compatible incoming webhook (`text` plus Block Kit `blocks`).
    Slack(SlackConfig),
    /// Prometheus Alertmanager, API v2 (`POST <url>/api/v2/alerts`).
    Alertmanager(AlertmanagerConfig),
}

impl SinkConfig {
    /// Every `type` value, in documentation order.
    pub const TYPES: [&'static str; 4] = ["stdout", "webhook", "slack", "alertmanager"];

    /// The `type` value.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Stdout(_) => "stdout",
            SinkConfig::Webhook(_) => "webhook",
            SinkConfig::Slack(_) => "slack",
            SinkConfig::Alertmanager(_) => "alertmanager",
        }
    }

    /// The sink's name: the configured `name`, else its `type`. Names are
    /// unique across sinks (validation rejects duplicates); the name is the
    /// `sink` metric label and what escalation policies refer to.
    pub fn name(&self) -> &str {
        let name = match self {
            SinkConfig::Stdout(c) => &c.name,
            SinkConfig::Webhook(c) => &c.name,
            SinkConfig::Slack(c) => &c.name,
            SinkConfig::Alertmanager(c) => &c.name,
        };
        name.as_deref().unwrap_or(self.kind())
    }

    /// The HTTP delivery options (`None` for stdout, which does not retry).
    pub fn delivery(&self) -> Option<Delivery> {
        match self {
            SinkConfig::Stdout(_) => None,
            SinkConfig::Webhook(c) => Some(c.delivery),
            SinkConfig::Slack(c) => Some(c.delivery),
            SinkConfig::Alertmanager(c) => Some(c.delivery),
        }
    }
}

/// Delivery options every HTTP sink has (the same keys in each sink table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Delivery {
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

/// `type = "stdout"` sink options.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct StdoutConfig {
    /// Sink name (default `stdout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `type = "webhook"` sink options.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WebhookConfig {
    /// Sink name (default `webhook`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Target URL (`http://` or `https://`). May hold a token: masked in `config show`.
    pub url: Sensitive<String>,
    /// HMAC-SHA256 key: when set, each request carries `X-Vigil-Timestamp`
    /// and `X-Vigil-Signature: sha256=<hex>` over `<timestamp>.<body>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Sensitive<String>>,
    /// Timeout and retries (`timeout_ms`, `max_retries`,
    /// `backoff_initial_ms`, `backoff_max_ms`: keys of the sink's table).
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// `type = "slack"` sink options.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SlackConfig {
    /// Sink name (default `slack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Incoming-webhook URL (it is the credential: masked in `config show`).
    pub url: Sensitive<String>,
    /// Timeout and retries (`timeout_ms`, `max_retries`,
    /// `backoff_initial_ms`, `backoff_max_ms`: keys of the sink's table).
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// `type = "alertmanager"` sink options.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AlertmanagerConfig {
    /// Sink name (default `alertmanager`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Alertmanager base URL (`http://alertmanager:9093`); `/api/v2/alerts`
    /// is appended. May hold basic-auth credentials: masked in `config show`.
    pub url: Sensitive<String>,
    /// `generatorURL` of every alert (a link back to Vigil), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
    /// A firing alert is sent with `endsAt` this far in the future, so it
    /// stays firing until Vigil resolves it (Vigil does not re-send). `0`
    /// omits `endsAt`: Alertmanager then resolves it after its own
    /// `resolve_timeout`.
    #[serde(default = "default_firing_ttl_secs")]
    pub firing_ttl_secs: u64,
    /// Timeout and retries (`timeout_ms`, `max_retries`,
    /// `backoff_initial_ms`, `backoff_max_ms`: keys of the sink's table).
    #[serde(flatten)]
    pub delivery: Delivery,
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
fn default_firing_ttl_secs() -> u64 {
    86_400
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
    /// NOT and parentheses (see `Query`); at most 16,384 characters, nested
    /// at most 64 deep.
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
    /// See [`GradingConfig::wide_reach_followers`].
    pub wide_reach_followers: Option<u64>,
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
            wide_reach_followers: o.wide_reach_followers.unwrap_or(self.wide_reach_followers),
        }
    }
}

/// `[incidents]`: the durable incident store.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct IncidentsConfig {
    /// Directory of the store file (`<data_dir>/incidents.redb`); created
    /// when missing.
    pub data_dir: String,
    /// Resolved incidents, remembered alert ids and ended silences are kept
    /// this many days.
    pub retention_days: u64,
    /// Directory of the crisis playbooks (`<kind>[.<level>].md`,
    /// `default[.<level>].md`); empty: the built-in ones.
    #[serde(default)]
    pub playbooks_dir: String,
    /// Directory of status-update templates (`<kind>.<lang>.txt`,
    /// `default.<lang>.txt`); empty: the built-in ones.
    #[serde(default)]
    pub templates_dir: String,
    /// The people on the roster (`[[incidents.people]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<PersonConfig>,
    /// Teams of them (`[[incidents.teams]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<TeamConfig>,
    /// Reporting paths per level and crisis kind (`[[incidents.paths]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathConfig>,
}

/// One person on the roster.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct PersonConfig {
    /// Their name (as used in assignments and paths).
    pub name: String,
    /// The sinks that reach them (`alert.sinks[].name`).
    pub sinks: Vec<String>,
}

/// A team: people reached together.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct TeamConfig {
    /// Its name.
    pub name: String,
    /// Its members (`incidents.people[].name`).
    pub members: Vec<String>,
    /// Sinks that reach the whole team; empty: every member's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<String>,
}

/// Who owns an incident of a level and crisis kind, and who is told, in
/// turn, while nobody acknowledges it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct PathConfig {
    /// Only incidents of this level (unset: every level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<vigil_types::Level>,
    /// Only incidents of this crisis kind (unset: every kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<vigil_types::CrisisKind>,
    /// The person or team a new incident is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The escalation steps: a person or team each.
    pub steps: Vec<PathStepConfig>,
}

/// One step of a reporting path.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct PathStepConfig {
    /// Seconds unacknowledged before this step (the first is 0).
    pub after_secs: u64,
    /// The person or team to tell.
    pub to: String,
}

impl Default for IncidentsConfig {
    fn default() -> IncidentsConfig {
        IncidentsConfig {
            data_dir: "vigil-data".into(),
            retention_days: 90,
            playbooks_dir: String::new(),
            templates_dir: String::new(),
            people: Vec::new(),
            teams: Vec::new(),
            paths: Vec::new(),
        }
    }
}

/// `[alert.targets]`: one optional set of response targets per level.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct TargetsConfig {
    /// `[alert.targets.minor]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<LevelTargetsConfig>,
    /// `[alert.targets.moderate]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderate: Option<LevelTargetsConfig>,
    /// `[alert.targets.major]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<LevelTargetsConfig>,
}

/// The response targets of one level, in seconds from the incident's
/// opening; each optional.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct LevelTargetsConfig {
    /// Acknowledge within this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge_secs: Option<u64>,
    /// Publish the first status update within this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub respond_secs: Option<u64>,
    /// Resolve within this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve_secs: Option<u64>,
}

/// `[alert.escalation]`: one optional policy per level.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct EscalationConfig {
    /// `[alert.escalation.minor]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<EscalationLevelConfig>,
    /// `[alert.escalation.moderate]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderate: Option<EscalationLevelConfig>,
    /// `[alert.escalation.major]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<EscalationLevelConfig>,
}

/// The escalation policy of one level.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct EscalationLevelConfig {
    /// Steps: the first has `after_secs = 0`, later ones strictly larger.
    pub steps: Vec<EscalationStepConfig>,
    /// An acknowledged incident that fired again after the acknowledgement
    /// returns to unacknowledged this many seconds after it (unset: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_timeout_secs: Option<u64>,
    /// After the last step, notify its sinks again every this many seconds
    /// until acknowledged or resolved (unset: stop after the last step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_secs: Option<u64>,
}

/// One escalation step.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct EscalationStepConfig {
    /// Seconds unacknowledged (since the incident opened, rose a level, had
    /// its acknowledgement time out, or was reopened) before this step.
    pub after_secs: u64,
    /// Names of the sinks to notify (`alert.sinks[].name`).
    pub sinks: Vec<String>,
}

/// `[api]`: the incident HTTP API (`/api/v1`) and web console (`/ui`),
/// served on the admin address.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ApiConfig {
    /// Largest request body accepted, in bytes (larger gets 413).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most open connections on the admin address; more are closed at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most open live-change streams (`GET /api/v1/events`); more get 503.
    #[serde(default = "default_max_event_streams")]
    pub max_event_streams: usize,
    /// A connection whose request headers are not complete this long after
    /// it opened (or after its previous response) is closed.
    #[serde(default = "default_header_read_timeout_secs")]
    pub header_read_timeout_secs: u64,
    /// Bearer tokens (`[[api.tokens]]`). None configured: every API route
    /// that reads or changes incidents answers 401 (the API is off).
    #[serde(default)]
    pub tokens: Vec<ApiTokenConfig>,
}

fn default_max_body_bytes() -> usize {
    64 * 1024
}

fn default_max_connections() -> usize {
    1024
}

fn default_max_event_streams() -> usize {
    256
}

fn default_header_read_timeout_secs() -> u64 {
    10
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            max_body_bytes: default_max_body_bytes(),
            max_connections: default_max_connections(),
            max_event_streams: default_max_event_streams(),
            header_read_timeout_secs: default_header_read_timeout_secs(),
            tokens: Vec::new(),
        }
    }
}

/// One `[[api.tokens]]` entry: a named bearer token with a role.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ApiTokenConfig {
    /// Who holds it: the actor recorded in incident timelines. 1-64
    /// characters of letters, digits, `.`, `_`, `@` and `-`; unique.
    pub name: String,
    /// `viewer` (may read) or `responder` (may also act: acknowledge,
    /// assign, comment, resolve, reopen, silence).
    pub role: String,
    /// The secret itself (masked in `config show`). Give this or
    /// `token_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Sensitive<String>>,
    /// The name of an environment variable holding the secret, read once
    /// when the configuration is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
}
