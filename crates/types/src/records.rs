use std::{fmt, str::FromStr, sync::Arc};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::evidence::{Engagement, Evidence};
use crate::ids::{AlertId, AuthorId, IncidentId, PostId, WatchId};

/// A point in event time: milliseconds since the Unix epoch, UTC.
///
/// Serialised as an RFC 3339 string with millisecond precision
/// (`2026-11-23T14:00:00.000Z`); deserialised from RFC 3339 or from an integer
/// number of milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventTime(pub i64);

impl EventTime {
    /// The processing-time clock: now, by the wall clock. The one place
    /// Vigil reads it (`clippy.toml` disallows `SystemTime::now`
    /// elsewhere): cores take time as an input, runners pass this in.
    #[allow(clippy::disallowed_methods)]
    pub fn wall_clock() -> EventTime {
        EventTime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// From whole seconds since the Unix epoch.
    pub fn from_secs(secs: i64) -> EventTime {
        EventTime(secs.saturating_mul(1000))
    }

    /// Converts to a chrono UTC date-time (the epoch when out of range).
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or_else(|| {
                Utc.timestamp_millis_opt(0)
                    .single()
                    .expect("epoch is valid")
            })
    }

    /// RFC 3339 with milliseconds, `Z` suffix.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Parses RFC 3339 (`2026-11-23T14:00:00Z`, any offset).
    pub fn parse_rfc3339(s: &str) -> Option<EventTime> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| EventTime(d.timestamp_millis()))
    }
}

impl fmt::Display for EventTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for EventTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for EventTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Millis(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Millis(ms) => Ok(EventTime(ms)),
            Raw::Text(s) => EventTime::parse_rfc3339(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 time `{s}`"))),
        }
    }
}

/// A post after ingest: the platform's shape is gone, the author is hashed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Platform post id.
    pub id: PostId,
    /// The platform or collector it came from (`weibo`, `x`, `reddit`...).
    pub source: String,
    /// Hashed author id.
    pub author: AuthorId,
    /// The post text as published (normalisation for matching happens in score).
    pub text: Arc<str>,
    /// Language tag when the platform gave one (`en`, `zh`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Region or country code when known; counts towards spread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Event time: when the post was published.
    pub published_at: EventTime,
    /// When Vigil ingested it (processing time; informational only).
    pub ingested_at: EventTime,
    /// The post this one reposts or quotes (a retweet's `retweeted_status`,
    /// a quote's `quoted_status`, Vigil's `repost_of`): it joins that
    /// post's story.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repost_of: Option<PostId>,
    /// The author's followers when the platform gave them (reach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<u64>,
    /// Reposts, likes and replies when the platform gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<Engagement>,
    /// Link to the post when the input had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The author's platform handle: only when `ingest.keep_author_handle`
    /// is on (teams that must reply to people); hashed ids otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
}

/// One of the six crisis kinds Vigil has a lexicon for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrisisKind {
    /// Product quality or safety: defects, recalls, injuries.
    ProductSafety,
    /// Service outage: downtime, failures to deliver a service.
    ServiceOutage,
    /// Legal: lawsuits, fines, investigations.
    Legal,
    /// Data breach or security incident.
    DataBreach,
    /// PR / negative media: scandal, boycott, backlash.
    NegativeMedia,
    /// Natural disaster or social unrest.
    Disaster,
}

impl CrisisKind {
    /// Every kind, in a fixed order.
    pub const ALL: [CrisisKind; 6] = [
        CrisisKind::ProductSafety,
        CrisisKind::ServiceOutage,
        CrisisKind::Legal,
        CrisisKind::DataBreach,
        CrisisKind::NegativeMedia,
        CrisisKind::Disaster,
    ];

    /// The snake_case name used in config, JSON and lexicon file names.
    pub fn as_str(self) -> &'static str {
        match self {
            CrisisKind::ProductSafety => "product_safety",
            CrisisKind::ServiceOutage => "service_outage",
            CrisisKind::Legal => "legal",
            CrisisKind::DataBreach => "data_breach",
            CrisisKind::NegativeMedia => "negative_media",
            CrisisKind::Disaster => "disaster",
        }
    }

    /// Position in [`CrisisKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for CrisisKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CrisisKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown crisis kind `{s}`"))
    }
}

impl fmt::Display for CrisisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A keyword hit: which term matched where in the normalised text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// The configured term (normalised form), shared with the scorer's
    /// pattern table so that a hit copies no text.
    pub term: Arc<str>,
    /// Byte offset of the match start in the post's original text.
    pub start: u32,
    /// Byte offset one past the match end in the post's original text.
    pub end: u32,
}

/// A crisis-kind hit of a post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindHit {
    /// The kind.
    pub kind: CrisisKind,
    /// True when a severe term of the kind matched (recall, explosion,
    /// death, data breach, lawsuit...): the impact that grades a crisis major.
    pub severe: bool,
}

/// One (post, watch) match after scoring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredPost {
    /// Post id.
    pub post_id: PostId,
    /// The watch that matched.
    pub watch: WatchId,
    /// Source platform of the post.
    pub source: String,
    /// Region of the post when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Hashed author.
    pub author: AuthorId,
    /// Event time.
    pub published_at: EventTime,
    /// The watch's term hits, sorted by position.
    pub hits: Vec<Hit>,
    /// Sentiment compound score in [-1, 1].
    pub sentiment: f32,
    /// Crisis kinds the post hit (each kind at most once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<KindHit>,
    /// The posts-stream partition the post was read from (Kafka mode):
    /// detect's watermark is the minimum over these upstream partitions, so
    /// a partition that lags behind the others never makes its posts late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_partition: Option<i32>,
    /// What the post says, for the alert's evidence: its story key, text
    /// excerpt, hashtags and lexicon terms, reach (issue 14).
    #[serde(default, skip_serializing_if = "PostGist::is_empty")]
    pub gist: Arc<PostGist>,
}

/// What a post says, shared by every watch it matched (score computes it
/// once per post).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PostGist {
    /// SimHash of the normalised text (character 3-grams, reposts' `RT
    /// @user:`, links and mentions left out): near-duplicates differ in a
    /// few bits.
    #[serde(default)]
    pub story: u64,
    /// True for a repost, retweet or quote.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repost: bool,
    /// The post it reposts, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repost_of: Option<PostId>,
    /// The text, trimmed ([`crate::excerpt`]).
    #[serde(default)]
    pub text: Arc<str>,
    /// Hashtags and crisis-lexicon terms in the post (normalised).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Arc<str>>,
    /// Author followers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<u64>,
    /// Reposts + likes + replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<u64>,
    /// Link to the post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Arc<str>>,
    /// Author handle (only when kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<Arc<str>>,
}

impl PostGist {
    /// Nothing known (records written before issue 14, NAB counts).
    pub fn is_empty(&self) -> bool {
        *self == PostGist::default()
    }
}

/// A record of the `scored` stream (score -> detect): a matched post, or
/// the event-time clock of everything score has read.
///
/// Detect's clock must move with every ingested post, matched or not: a
/// narrow watch that matched nothing for hours has a baseline of zero, not
/// no baseline, and its bins close on time. Score therefore follows each
/// batch's matches with a [`StreamClock`] (untagged on the wire: a clock is
/// `{"clock": ...}`, a post keeps its own shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scored {
    /// One (post, watch) match.
    Post(ScoredPost),
    /// The newest event time read so far from one upstream partition.
    Clock(StreamClock),
}

/// The newest event time among the posts score has read from one posts
/// partition, matched or not (sent after the matches of the same batch, so
/// it never makes them late).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamClock {
    /// Newest event time read.
    pub clock: EventTime,
    /// Oldest event time read in the same batch (detect learns no bin
    /// before the oldest event of the stream: the stream was not heard
    /// then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<EventTime>,
    /// The posts-stream partition it was read from (Kafka mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_partition: Option<i32>,
}

/// Crisis grading: minor < moderate < major.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Limited scope and impact.
    Minor,
    /// Wide scope (several sources or regions), needs action now.
    Moderate,
    /// Threatens reputation, finances or safety.
    Major,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 3] = [Level::Minor, Level::Moderate, Level::Major];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Minor => "minor",
            Level::Moderate => "moderate",
            Level::Major => "major",
        }
    }
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("unknown level `{s}` (expected minor, moderate or major)"))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a watch's incident at one detect window: the one
/// word list for incident events, carried by spikes
/// ([`Spike::transition`]), alerts ([`Alert::transition`]: opened,
/// escalated or resolved; `state` in their JSON) and incident timelines.
/// Where an incident *is* in its response (open, acknowledged, assigned,
/// resolved, reopened...) is `vigil_incidents::State`, derived from these
/// events and from what people did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// A new incident opened.
    Opened,
    /// A live incident's level rose.
    Escalated,
    /// A live incident is still firing at or below its level.
    Ongoing,
    /// The incident was quiet long enough and closed.
    Resolved,
}

impl Transition {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Opened => "opened",
            Transition::Escalated => "escalated",
            Transition::Ongoing => "ongoing",
            Transition::Resolved => "resolved",
        }
    }
}

/// Which signal fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Mention volume far above baseline (z and minimum count).
    Volume,
    /// Volume above the absolute floor (fires even during warm-up).
    AbsoluteFloor,
    /// The share of negative posts surged.
    NegativeShare,
    /// The share of posts hitting one crisis kind (product safety, outage,
    /// legal, breach, negative media, disaster) surged.
    CrisisShare,
}

/// What one detect window showed, and why its level: the figures a spike,
/// the alert made of it and an incident's latest and peak windows share
/// (flattened into each, so their JSON carries these fields at top level).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowFigures {
    /// Why the level: the grading rule and the figures that fired it.
    pub reason: String,
    /// Window start (inclusive).
    pub window_start: EventTime,
    /// Window end (exclusive).
    pub window_end: EventTime,
    /// Posts in the window.
    pub observed: u64,
    /// Baseline posts per window.
    pub baseline: f64,
    /// Volume z-score against the baseline.
    pub z: f64,
    /// Share of negative posts in the window.
    pub negative_share: f64,
    /// Most frequent terms in the window, most frequent first.
    pub top_terms: Vec<String>,
    /// Distinct sources in the window.
    pub distinct_sources: u32,
}

impl WindowFigures {
    /// The same figures with every non-finite number as 0 (JSON has no NaN,
    /// and a store must always read back what it wrote).
    pub fn finite(&self) -> WindowFigures {
        let f = |x: f64| if x.is_finite() { x } else { 0.0 };
        WindowFigures {
            baseline: f(self.baseline),
            z: f(self.z),
            negative_share: f(self.negative_share),
            ..self.clone()
        }
    }
}

/// A detect-stage finding for one watch and one window, with what it did to
/// the watch's incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    /// Watch.
    pub watch: WatchId,
    /// Incident id: watch plus the start of the window that opened it.
    pub incident: IncidentId,
    /// What happened to the incident.
    pub transition: Transition,
    /// The incident's level after this spike.
    pub level: Level,
    /// Signals that fired (empty for a resolve).
    pub triggers: Vec<Trigger>,
    /// The window, its figures and why the level (flattened).
    #[serde(flatten)]
    pub figures: WindowFigures,
    /// Up to 5 sample post ids from the window.
    pub sample_post_ids: Vec<PostId>,
    /// Distinct regions in the window.
    pub distinct_regions: u32,
    /// Crisis kinds seen in the window.
    pub crisis_kinds: Vec<CrisisKind>,
    /// What people say: stories, rising terms, sample posts (empty for
    /// ongoing spikes and resolves).
    #[serde(flatten)]
    pub evidence: Evidence,
}

/// A graded crisis alert, as sinks receive it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id (see [`AlertId::derive`]).
    pub alert_id: AlertId,
    /// Watch.
    pub watch: WatchId,
    /// Incident id.
    pub incident: IncidentId,
    /// Level.
    pub level: Level,
    /// What happened to the incident: opened, escalated or resolved (never
    /// [`Transition::Ongoing`], which does not alert). `state` in JSON, as
    /// receivers have always read it.
    #[serde(rename = "state")]
    pub transition: Transition,
    /// Signals that fired.
    pub triggers: Vec<Trigger>,
    /// The window, its figures and why this level (flattened).
    #[serde(flatten)]
    pub figures: WindowFigures,
    /// Up to 5 sample post ids.
    pub sample_post_ids: Vec<PostId>,
    /// Crisis kinds.
    pub crisis_kinds: Vec<CrisisKind>,
    /// What people say: stories, rising terms, sample posts.
    #[serde(flatten)]
    pub evidence: Evidence,
}

impl Alert {
    /// Builds the alert for a spike that changed incident state; `None` for an
    /// [`Transition::Ongoing`] spike, which never alerts by itself.
    pub fn from_spike(s: &Spike) -> Option<Alert> {
        if s.transition == Transition::Ongoing {
            return None;
        }
        Some(Alert {
            alert_id: AlertId::derive(
                s.watch.as_str(),
                s.incident.as_str(),
                s.transition.as_str(),
                s.level,
            ),
            watch: s.watch.clone(),
            incident: s.incident.clone(),
            level: s.level,
            transition: s.transition,
            triggers: s.triggers.clone(),
            figures: s.figures.clone(),
            sample_post_ids: s.sample_post_ids.clone(),
            crisis_kinds: s.crisis_kinds.clone(),
            evidence: s.evidence.clone(),
        })
    }
}
