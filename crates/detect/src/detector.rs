//! The pure detect core: per-watch event-time bins, a global watermark,
//! an EWMA baseline, spike triggers, grading and the incident state machine.
//!
//! Time is an input: the core only sees event times (and, to reject posts
//! from the future, a processing time the caller passes in). It never reads
//! the wall clock.

use std::{
    collections::{BTreeMap, VecDeque},
    time::Duration,
};

// foldhash's seeded hasher: the maps are looked up once or more per post
// (watch index, interned sources, regions and terms); SipHash's cost
// showed in the detect bench.
use foldhash::{HashMap, HashMapExt, HashSet};

use serde::{Deserialize, Serialize};

use vigil_config::{DetectSettings, GradingConfig, Settings};
use vigil_types::{
    CrisisKind, EventTime, Evidence, IncidentId, Level, ScoredPost, Spike, StreamClock, Transition,
    Trigger, WatchId,
};

use crate::evidence::{day_keep, window_evidence, TagBaseline};
use crate::window::{summarize, tally, Bin, Ewma, Pending, Window, WindowSummary, SAMPLES};

/// Most distinct source (and region) names interned; later ones count as
/// one "other" value, so memory stays bounded.
const MAX_INTERNED: usize = 4096;
/// Empty gaps longer than this many bins are skipped in closed form.
const MAX_GAP_BINS: i64 = 2048;
/// A z-score is folded into its watch's history at most at this multiple
/// of the threshold: bursts bigger than the threshold teach the watch that
/// it is bursty (so regular bursts stop alerting), while one giant crisis
/// cannot raise the threshold without bound (docs/DESIGN-detect.md).
const CALIBRATION_CAP: f64 = 3.0;
/// Posts more than this far ahead of processing time are rejected.
const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;

/// The `[detect]` settings and what the detector derives from them once:
/// the bin, lateness and scales in milliseconds and bins, and each
/// half-life as an EWMA weight per bin. Plain thresholds are read from
/// `d` itself, so a new `[detect]` key is one field of
/// [`DetectSettings`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Params {
    /// The validated settings.
    pub(crate) d: DetectSettings,
    /// Bin width.
    pub(crate) bin_ms: i64,
    /// The scales, in bins (sorted, distinct, each at least 1).
    pub(crate) scales: Vec<usize>,
    /// Allowed lateness.
    pub(crate) lateness_ms: i64,
    /// EWMA weight per bin of the level and the residuals.
    pub(crate) alpha: f64,
    /// EWMA weight per bin of the baseline shares.
    pub(crate) share_alpha: f64,
    /// Learning rate of the hour-of-day factors (0: off).
    pub(crate) seasonal_rate: f64,
    /// Bins before z may fire.
    pub(crate) warmup_bins: u64,
    /// EWMA weight per bin of the watch's history of z-scores.
    pub(crate) calibration_alpha: f64,
    /// The standard-normal prior of that history counts as this many bins
    /// (one day).
    pub(crate) calibration_prior_bins: f64,
    /// Quiet windows before resolve.
    pub(crate) resolve_after_quiet_bins: u32,
    /// Sentiment at or below this is negative (`score.negative_threshold`).
    pub(crate) negative_threshold: f32,
    /// EWMA weight per bin of each scale's persistence, the short-term
    /// mean of its z-scores (0: off).
    pub(crate) persistence_alpha: f64,
}

/// The EWMA weight per step of `step` for a half-life of `half_life`.
fn ewma_weight(step: f64, half_life: f64) -> f64 {
    1.0 - 0.5f64.powf(step / half_life.max(1.0))
}

impl Params {
    pub(crate) fn new(d: &DetectSettings, negative_threshold: f32) -> Params {
        let bin_secs = d.bin.as_secs().max(1);
        let bin = bin_secs as f64;
        let bins = |t: Duration| t.as_secs().div_ceil(bin_secs);
        Params {
            bin_ms: d.bin.as_millis().max(1) as i64,
            scales: scale_bins(&d.scales, d.bin),
            lateness_ms: d.allowed_lateness.as_millis() as i64,
            alpha: ewma_weight(bin, d.baseline_half_life.as_secs_f64()),
            share_alpha: ewma_weight(bin, d.share_half_life.as_secs_f64()),
            // Each hour's factor is updated once per window of that hour:
            // 3600 / bin_secs times a day (once for longer bins).
            seasonal_rate: d.seasonal_half_life.map_or(0.0, |h| {
                let per_day = (3600.0 / bin).max(1.0);
                1.0 - 0.5f64.powf(1.0 / (h.as_secs_f64() / 86_400.0 * per_day))
            }),
            warmup_bins: bins(d.warmup),
            calibration_alpha: ewma_weight(bin, d.calibration_half_life.as_secs_f64()),
            calibration_prior_bins: 86_400.0 / bin,
            resolve_after_quiet_bins: bins(d.resolve_after_quiet).clamp(1, u64::from(u32::MAX))
                as u32,
            negative_threshold,
            // An EWMA whose mean age matches a moving average over the
            // persistence window (N bins: weight 2 / (N + 1)).
            persistence_alpha: d.persistence.map_or(0.0, |t| {
                let n = (t.as_secs_f64() / bin).max(1.0);
                2.0 / (n + 1.0)
            }),
            d: d.clone(),
        }
    }

    /// The persistence window in bins (the inverse of its EWMA weight).
    pub(crate) fn persistence_bins(&self) -> usize {
        if self.persistence_alpha > 0.0 {
            (2.0 / self.persistence_alpha - 1.0).round().max(1.0) as usize
        } else {
            0
        }
    }

    /// The longest scale, in bins: how many closed bins a watch keeps.
    pub(crate) fn max_scale(&self) -> usize {
        self.scales.last().copied().unwrap_or(1)
    }
}

/// Scales to distinct, sorted whole bins (rounded). A scale shorter than
/// one bin is not used (at 5-minute bins a one-minute scale does not
/// exist); if none is left, the longest becomes one bin.
fn scale_bins(scales: &[Duration], bin: Duration) -> Vec<usize> {
    let bin = bin.as_secs().max(1);
    let mut v: Vec<usize> = scales
        .iter()
        .map(Duration::as_secs)
        .filter(|&s| s >= bin)
        .map(|s| ((s + bin / 2) / bin) as usize)
        .collect();
    if v.is_empty() {
        v.push(1);
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// What happened to one observed post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// Counted in its bin.
    Accepted,
    /// Behind the watermark: dropped (`reason="late"`).
    Late,
    /// Too far ahead of processing time: dropped (`reason="future"`).
    Future,
    /// Its watch is not configured here: dropped (`reason="unknown_watch"`).
    UnknownWatch,
    /// The same (post, watch) was already counted (a replay in Kafka mode):
    /// dropped (`reason="duplicate"`).
    Duplicate,
}

impl Observation {
    /// The `reason` label for a drop.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Observation::Accepted => None,
            Observation::Late => Some("late"),
            Observation::Future => Some("future"),
            Observation::UnknownWatch => Some("unknown_watch"),
            Observation::Duplicate => Some("duplicate"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Incident {
    id: IncidentId,
    level: Level,
    quiet: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct WatchState {
    id: WatchId,
    grading: GradingConfig,
    /// Open (not yet closed) bins with posts, by bin start (>= `next_close`).
    pending: Pending,
    /// The last closed bins, as many as the longest scale.
    window: Window,
    /// Per scale: the residual of its window count and the watch's own
    /// history of its z-score (empty until the first bin closes).
    #[serde(default)]
    scales: Vec<ScaleState>,
    /// When the last incident resolved (end of that bin, ms): a scale whose
    /// window still holds bins from before it cannot open a new incident
    /// (the same event seen again through a longer window).
    #[serde(default)]
    resolved_at: Option<i64>,
    /// The watch counts a measurement (non-integer values), not posts:
    /// no Poisson term, no post-count floors.
    #[serde(default)]
    measured: bool,
    /// Start of the next bin to close.
    next_close: i64,
    /// The deseasonalised level of the window count.
    baseline: Ewma,
    /// Hour-of-day (UTC) factors: the expected count in hour h is
    /// `baseline * season[h]`; for a measurement, offsets:
    /// `baseline + season[h]`.
    #[serde(default = "flat_season")]
    season: [f64; 24],
    /// A measurement's bins learned per hour offset (see `learn_offset`).
    #[serde(default)]
    season_n: [u16; 24],
    /// A measurement's hour-of-the-week offsets (168, UTC, from Thursday
    /// 00:00) and the bins each learned from: used for an hour once it has
    /// been seen in two weeks (`hour_offset`). Empty for a count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    week: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    week_n: Vec<u16>,
    negative: Ewma,
    /// Baseline share of posts hitting each crisis kind.
    #[serde(default)]
    kind_share: [Ewma; 6],
    incident: Option<Incident>,
    last_window_count: u64,
    /// Decayed tag counts: what "rising" is measured against. Not in
    /// Kafka checkpoints (up to 64 terms per watch, every second, made the
    /// state topic slow to read back); a restarted detect learns it again.
    #[serde(skip)]
    tag_base: TagBaseline,
    /// The input partition this watch's posts arrive on (keyed by watch).
    #[serde(default)]
    partition: Option<i32>,
}

impl WatchState {
    /// A watch with no history whose next bin to close starts at `next_close`.
    fn empty(id: WatchId, grading: GradingConfig, next_close: i64) -> WatchState {
        WatchState {
            id,
            grading,
            pending: Pending::default(),
            window: Window::default(),
            scales: Vec::new(),
            resolved_at: None,
            measured: false,
            next_close,
            baseline: Ewma::default(),
            season: flat_season(),
            season_n: [0; 24],
            week: Vec::new(),
            week_n: Vec::new(),
            negative: Ewma::default(),
            kind_share: Default::default(),
            incident: None,
            last_window_count: 0,
            tag_base: TagBaseline::default(),
            partition: None,
        }
    }
}

/// A window's count changed: the runner updates `vigil_detect_window_posts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowUpdate {
    /// Watch.
    pub watch: WatchId,
    /// Posts in its latest closed window.
    pub count: u64,
}

/// The detector for every configured watch.
#[derive(Debug)]
pub struct Detector {
    p: Params,
    watches: Vec<WatchState>,
    index: HashMap<WatchId, usize>,
    origin: Option<i64>,
    max_event: i64,
    /// The oldest event time heard (a post counted, or the oldest post of
    /// a clock's batch): no bin before it is learned, matched or not. The
    /// stream was not heard then, so those bins are no history, not zeros.
    first_event: i64,
    /// The watermark (monotonic).
    wm: i64,
    /// Per input partition: newest event time and when it was last seen.
    /// Keyed by (input partition, upstream partition): each such stream is
    /// in order, so the watermark is the minimum over them.
    parts: BTreeMap<(i32, i32), PartClock>,
    /// A partition silent this long (processing time) stops holding back
    /// the watermark; `None` in embedded mode (one partition).
    idle_ms: Option<i64>,
    /// Recently seen (post, watch) hashes per partition, to drop replays.
    dedupe: BTreeMap<i32, Dedupe>,
    /// A live input (embedded mode): while it is silent, event time keeps
    /// running with processing time from the last record (processing-time
    /// idleness), so bins close and alerts go out without the next post.
    live: bool,
    sources: HashMap<String, u32>,
    regions: HashMap<String, u32>,
    terms: HashMap<String, u32>,
    term_names: Vec<String>,
    source_names: Vec<String>,
}

fn flat_season() -> [f64; 24] {
    [1.0; 24]
}

/// The hour of day (UTC) of the bin starting at `start`.
fn hour_of(start: i64) -> usize {
    start.div_euclid(3_600_000).rem_euclid(24) as usize
}

const HOURS_PER_WEEK: usize = 168;

/// The hour of the week (UTC, from Thursday 00:00) of the bin at `start`.
fn hour_of_week(start: i64) -> usize {
    start
        .div_euclid(3_600_000)
        .rem_euclid(HOURS_PER_WEEK as i64) as usize
}

/// A measurement's offset for the bin starting at `start`: its hour of
/// the week's once that hour has been seen in two weeks (its bins of two
/// hours: a week's rhythm cannot be told from one odd day), before that
/// its hour of the day's.
fn hour_offset(p: &Params, w: &WatchState, start: i64) -> f64 {
    let slot = hour_of_week(start);
    let per_hour = u16::try_from((3_600_000 / p.bin_ms).max(1)).unwrap_or(u16::MAX);
    match (w.week.get(slot), w.week_n.get(slot)) {
        (Some(&offset), Some(&n)) if n >= per_hour.saturating_mul(2) => offset,
        _ => w.season[hour_of(start)],
    }
}

/// What the newest `k` closed bins were expected to hold, each forecast
/// when it closed.
fn expected_count(w: &WatchState, k: usize) -> f64 {
    w.window.sums_newest_first().take(k).map(|s| s[1]).sum()
}

/// The forecast for a bin starting at `start`: the level times its
/// hour-of-day factor (the level itself when seasonality is off).
fn forecast(p: &Params, w: &WatchState, start: i64) -> f64 {
    let level = if w.measured {
        w.baseline.mean
    } else {
        w.baseline.mean.max(0.0)
    };
    if p.seasonal_rate == 0.0 {
        level
    } else if w.measured {
        level + hour_offset(p, w, start)
    } else {
        level * w.season[hour_of(start)]
    }
}

fn floor_to(t: i64, bin: i64) -> i64 {
    t.div_euclid(bin) * bin
}

fn intern(map: &mut HashMap<String, u32>, names: Option<&mut Vec<String>>, s: &str) -> u32 {
    if let Some(&id) = map.get(s) {
        return id;
    }
    if map.len() >= MAX_INTERNED {
        return u32::MAX;
    }
    let id = map.len() as u32;
    map.insert(s.to_string(), id);
    if let Some(n) = names {
        n.push(s.to_string());
    }
    id
}

impl Detector {
    /// A detector for the watches of `settings`.
    pub fn new(settings: &Settings) -> Detector {
        Detector::with_settings(
            &settings.detect,
            settings.score.negative_threshold,
            settings
                .watches
                .iter()
                .map(|w| (w.id.clone(), w.grading.clone())),
        )
    }

    /// A detector from `[detect]` settings, the negative threshold and
    /// (watch, grading) pairs.
    pub fn with_settings(
        d: &DetectSettings,
        negative_threshold: f32,
        watches: impl IntoIterator<Item = (WatchId, GradingConfig)>,
    ) -> Detector {
        Detector::with_params(Params::new(d, negative_threshold), watches)
    }

    fn with_params(
        p: Params,
        watches: impl IntoIterator<Item = (WatchId, GradingConfig)>,
    ) -> Detector {
        let watches: Vec<WatchState> = watches
            .into_iter()
            .map(|(id, grading)| WatchState::empty(id, grading, 0))
            .collect();
        let index = watches
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id.clone(), i))
            .collect();
        Detector {
            p,
            watches,
            index,
            origin: None,
            max_event: i64::MIN,
            first_event: i64::MAX,
            wm: i64::MIN,
            parts: BTreeMap::new(),
            idle_ms: None,
            dedupe: BTreeMap::new(),
            live: false,
            sources: HashMap::new(),
            regions: HashMap::new(),
            terms: HashMap::new(),
            term_names: Vec::new(),
            source_names: Vec::new(),
        }
    }

    /// A detector with this one's parameters, watches and settings (idle
    /// timeout, live input) and no state: what a stage restores its
    /// checkpoints into after a rebalance.
    pub fn emptied(&self) -> Detector {
        let mut d = Detector::with_params(
            self.p.clone(),
            self.watches
                .iter()
                .map(|w| (w.id.clone(), w.grading.clone())),
        );
        d.idle_ms = self.idle_ms;
        d.live = self.live;
        d
    }

    /// Applies a reloaded watch list: new watches start empty (at the
    /// current bin), kept watches keep their bins, baseline and incident
    /// (with the new grading), removed watches are dropped. Detector
    /// parameters (bins, thresholds) are not reloaded: they change the
    /// meaning of the state already held.
    pub fn update_watches(&mut self, settings: &Settings) {
        let mut old: HashMap<WatchId, WatchState> =
            self.watches.drain(..).map(|w| (w.id.clone(), w)).collect();
        let next_close = old.values().map(|w| w.next_close).max().or(self.origin);
        for w in &settings.watches {
            let state = match old.remove(&w.id) {
                Some(mut s) => {
                    s.grading = w.grading.clone();
                    s
                }
                None => WatchState::empty(w.id.clone(), w.grading.clone(), next_close.unwrap_or(0)),
            };
            self.watches.push(state);
        }
        self.index = self
            .watches
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id.clone(), i))
            .collect();
    }

    /// The `[detect]` settings.
    pub fn settings(&self) -> &DetectSettings {
        &self.p.d
    }

    /// The watermark: newest event time seen minus the allowed lateness
    /// (`None` before the first post).
    pub fn watermark(&self) -> Option<EventTime> {
        (self.wm != i64::MIN).then_some(EventTime(self.wm))
    }

    /// Kafka mode: the watermark becomes the minimum over the input
    /// partitions, and a partition silent for `idle` (processing time) stops
    /// holding it back.
    pub fn set_idle_timeout(&mut self, idle: std::time::Duration) {
        self.idle_ms = Some(idle.as_millis() as i64);
    }

    /// A live input (stdin, a live source) in embedded mode: while no record
    /// arrives, the clock keeps running with processing time from the last
    /// record seen, so [`Detector::tick`] closes bins on time. A file replay
    /// stays off, so its results never depend on the wall clock.
    pub fn set_live(&mut self, live: bool) {
        self.live = live;
    }

    /// Whether the input is live ([`Detector::set_live`]).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Kafka mode: the input partitions this detector owns and the number of
    /// upstream (posts) partitions. Records of one input partition that come
    /// from one upstream partition arrive in order, so the watermark is the
    /// minimum over these (input, upstream) streams. A stream that has not
    /// delivered a record yet holds the watermark back until it does or goes
    /// idle, so its first records are not late.
    pub fn assign_partitions(&mut self, partitions: &[i32], upstream: i32, now: EventTime) {
        self.parts.retain(|(p, _), _| partitions.contains(p));
        for p in partitions {
            for o in 0..upstream.max(1) {
                self.parts.entry((*p, o)).or_insert(PartClock {
                    max_event: i64::MIN,
                    last_seen: now.0,
                    backlog: None,
                });
            }
        }
    }

    /// Kafka mode: records waiting in an input partition (measured by the
    /// consumer). Only a partition with nothing waiting can count as idle.
    pub fn set_backlog(&mut self, partition: i32, backlog: i64) {
        for ((p, _), c) in self.parts.iter_mut() {
            if *p == partition {
                c.backlog = Some(backlog);
            }
        }
    }

    /// Recomputes the watermark at processing time `now` (monotonic: it never
    /// moves back).
    fn recompute_watermark(&mut self, now: i64) {
        if self.parts.is_empty() {
            return;
        }
        let active = |c: &&PartClock| {
            // A stream that delivered before and whose partition still has
            // records waiting is slow, not idle.
            self.idle_ms.is_none_or(|idle| {
                now - c.last_seen <= idle
                    || (c.max_event != i64::MIN && c.backlog.is_some_and(|b| b > 0))
            })
        };
        let live = self.live;
        // A live stream's clock runs on with processing time while it is
        // silent (never past processing time).
        let clock = |c: &PartClock| {
            if live && c.max_event != i64::MIN {
                let idle = (now - c.last_seen).max(0);
                c.max_event.saturating_add(idle).min(now.max(c.max_event))
            } else {
                c.max_event
            }
        };
        let newest = match self.parts.values().filter(active).map(clock).min() {
            Some(m) => m,
            // Every partition idle: the newest data anywhere sets the pace.
            None => self
                .parts
                .values()
                .map(|c| c.max_event)
                .max()
                .unwrap_or(i64::MIN),
        };
        if newest == i64::MIN {
            return;
        }
        let wm = newest.saturating_sub(self.p.lateness_ms);
        self.wm = self.wm.max(wm);
    }

    /// Advances the watermark for processing time `now` (idle partitions)
    /// and closes the bins it passed.
    pub fn tick(&mut self, now: EventTime, out: &mut Vec<Spike>, updates: &mut Vec<WindowUpdate>) {
        self.recompute_watermark(now.0);
        self.advance(out, updates);
    }

    /// Counts one scored post at its event time. `now` (processing time) is
    /// only used to reject posts dated more than a day in the future.
    pub fn observe(&mut self, post: &ScoredPost, now: EventTime) -> Observation {
        self.observe_from(post, 0, now)
    }

    /// [`Detector::observe`] for a post read from input `partition` (Kafka
    /// mode: the watermark is per partition, and replayed duplicates of a
    /// (post, watch) pair are dropped).
    pub fn observe_from(
        &mut self,
        post: &ScoredPost,
        partition: i32,
        now: EventTime,
    ) -> Observation {
        let Some(&wi) = self.index.get(&post.watch) else {
            return Observation::UnknownWatch;
        };
        if self.idle_ms.is_some() {
            let h = dedupe_key(post);
            if !self.dedupe.entry(partition).or_default().insert(h) {
                return Observation::Duplicate;
            }
        }
        // The clock that matters is the upstream partition's: posts from a
        // lagging posts partition arrive late on every scored partition.
        let clock_key = (partition, post.origin_partition.unwrap_or(0));
        let t = post.published_at.0;
        let admitted = self.admit(wi, clock_key, t, now);
        if admitted != Observation::Accepted {
            return admitted;
        }
        self.watches[wi].partition = Some(partition);
        let source = intern(
            &mut self.sources,
            Some(&mut self.source_names),
            &post.source,
        );
        let region = post
            .region
            .as_deref()
            .map(|r| intern(&mut self.regions, None, r));
        let Detector {
            p,
            watches,
            terms,
            term_names,
            ..
        } = self;
        let w = &mut watches[wi];
        let start = floor_to(t, p.bin_ms);
        // `start >= next_close` holds (checked in `admit`).
        let bin = w.pending.entry(start);
        bin.count += 1;
        if post.sentiment <= p.negative_threshold {
            bin.negative += 1;
        }
        if post.kinds.iter().any(|k| k.severe) {
            bin.severe += 1;
        }
        for k in &post.kinds {
            bin.kinds[k.kind.index()] += 1;
        }
        bin.add_source(source);
        if let Some(r) = region {
            bin.add_region(r);
        }
        for h in &post.hits {
            bin.add_term(intern(terms, Some(term_names), &h.term));
        }
        if bin.samples.len() < SAMPLES {
            bin.samples.push(post.post_id.clone());
        }
        bin.max_reach = bin.max_reach.max(post.gist.reach.unwrap_or(0));
        bin.evidence.add(post, source);
        Observation::Accepted
    }

    /// Counts `count` posts of `watch` in the bin holding event time `at`,
    /// posts that carry nothing but their time (not negative, no source,
    /// region, term or crisis kind): a replay of per-bin counts, such as
    /// NAB's mentions per 5 minutes. Time moves exactly as for
    /// [`Detector::observe`] (partition 0), and `count = 0` only moves it.
    pub fn observe_count(
        &mut self,
        watch: &WatchId,
        at: EventTime,
        count: u32,
        now: EventTime,
    ) -> Observation {
        self.replay(watch, at, now, |_, bin| {
            bin.count = bin.count.saturating_add(count);
        })
    }

    /// A replayed series' row: the time checks of a post on partition 0,
    /// then `add` updates the watch and the bin holding `at`.
    fn replay(
        &mut self,
        watch: &WatchId,
        at: EventTime,
        now: EventTime,
        add: impl FnOnce(&mut WatchState, &mut Bin),
    ) -> Observation {
        let Some(&wi) = self.index.get(watch) else {
            return Observation::UnknownWatch;
        };
        let admitted = self.admit(wi, (0, 0), at.0, now);
        if admitted != Observation::Accepted {
            return admitted;
        }
        let w = &mut self.watches[wi];
        w.partition = Some(0);
        let start = floor_to(at.0, self.p.bin_ms);
        let mut bin = w.pending.take(start).unwrap_or_else(|| Bin::empty(start));
        add(w, &mut bin);
        w.pending.put(bin);
        Observation::Accepted
    }

    /// Adds a measured `value` (any finite number) to the bin of `watch`
    /// holding event time `at`: a replay of a numeric series that is not a
    /// count of posts (NAB's CPU loads, temperatures, latencies). From then
    /// on the watch is judged as a measurement: its statistic is the
    /// deviation against the variation it has shown, without the Poisson
    /// term and the post-count floors. Time moves as for
    /// [`Detector::observe_count`].
    pub fn observe_value(
        &mut self,
        watch: &WatchId,
        at: EventTime,
        value: f64,
        now: EventTime,
    ) -> Observation {
        self.replay(watch, at, now, |w, bin| {
            if !w.measured {
                // A measurement's rhythm is additive (hour offsets start at
                // 0), a count's multiplicative (factors start at 1).
                w.measured = true;
                w.season = [0.0; 24];
                w.week = vec![0.0; HOURS_PER_WEEK];
                w.week_n = vec![0; HOURS_PER_WEEK];
            }
            if value.is_finite() {
                bin.value += value;
            }
        })
    }

    /// The event-time checks of one post of watch `wi` at `t` read on
    /// `clock_key` (future, late), and the clock and watermark it moves.
    fn admit(&mut self, wi: usize, clock_key: (i32, i32), t: i64, now: EventTime) -> Observation {
        if t > now.0.saturating_add(MAX_FUTURE_MS) {
            return Observation::Future;
        }
        let bin_ms = self.p.bin_ms;
        self.start_clock(t.min(now.0));
        if let Some(wm) = self.watermark() {
            if t < wm.0 {
                return Observation::Late;
            }
        }
        {
            let w = &mut self.watches[wi];
            let start = floor_to(t, bin_ms);
            if start < w.next_close {
                // Every closed bin ends at or before the watermark, and `t`
                // is not before it: this bin is before the watch's start,
                // which the first event time seen set. In Kafka mode that
                // is the first record of whichever stream came first, and
                // another stream's first posts can be older (by more than
                // the lateness when a replay skews the posts partitions).
                // Until the watch has closed a bin, its window may still
                // start earlier.
                let nothing_closed = w.window.is_empty() && w.next_close > self.wm;
                if self.wm != i64::MIN && !nothing_closed {
                    return Observation::Late;
                }
                w.next_close = start;
            }
        }
        self.heard(t);
        self.move_clock(clock_key, t, now);
        Observation::Accepted
    }

    /// The stream was heard at event time `t`. When that is older than
    /// anything heard before, every watch that has learned nothing yet
    /// starts its bins there: they are empty for it (its posts there would
    /// have started it earlier), so it learns zeros from when the stream
    /// was first heard, whichever record told (a post, or a clock read
    /// after a batch's matches), and before the watermark too (no post can
    /// land there any more).
    fn heard(&mut self, t: i64) {
        if t >= self.first_event {
            return;
        }
        self.first_event = t;
        let start = floor_to(t, self.p.bin_ms);
        for w in &mut self.watches {
            if w.window.is_empty() && w.baseline.n == 0 && w.next_close > start {
                w.next_close = start;
            }
        }
    }

    /// The first event time seen starts every watch's bins (lateness
    /// before it), matched or not.
    fn start_clock(&mut self, t: i64) {
        if self.origin.is_none() {
            let origin = floor_to(t - self.p.lateness_ms, self.p.bin_ms);
            self.origin = Some(origin);
            for w in &mut self.watches {
                w.next_close = origin;
            }
        }
    }

    /// Event time `t` read on `clock_key` at processing time `now`: the
    /// clock moves, and so may the watermark. Event time never moves the
    /// clock past processing time: a post dated hours ahead (a platform's
    /// clock skew, a bad timestamp) is counted in its own bin, but cannot
    /// close every watch's current bins early and make the posts after it
    /// late (issue 12 item 2).
    fn move_clock(&mut self, clock_key: (i32, i32), t: i64, now: EventTime) {
        let t = t.min(now.0);
        self.start_clock(t);
        self.max_event = self.max_event.max(t);
        let clock = self.parts.entry(clock_key).or_insert(PartClock {
            max_event: t,
            last_seen: now.0,
            backlog: None,
        });
        clock.max_event = clock.max_event.max(t);
        clock.last_seen = now.0;
        self.recompute_watermark(now.0);
    }

    /// Score's event-time clock read on input `partition`: every post score
    /// read, matched or not, moves time, so a watch that matched nothing
    /// has quiet bins (a baseline of zero) rather than none.
    pub fn observe_clock(
        &mut self,
        clock: &StreamClock,
        partition: i32,
        now: EventTime,
    ) -> Observation {
        let t = clock.clock.0;
        if t > now.0.saturating_add(MAX_FUTURE_MS) {
            return Observation::Future;
        }
        self.start_clock(t.min(now.0));
        self.heard(clock.first.map_or(t, |f| f.0.min(t)));
        self.move_clock((partition, clock.origin_partition.unwrap_or(0)), t, now);
        Observation::Accepted
    }

    /// Closes every bin that ends at or before the watermark, appending the
    /// resulting spikes (in watch order, then time order) to `out`.
    pub fn advance(&mut self, out: &mut Vec<Spike>, updates: &mut Vec<WindowUpdate>) {
        if let Some(wm) = self.watermark() {
            self.close_until(wm.0, out, updates);
        }
    }

    /// End of input: closes every bin up to the newest event's bin, without
    /// inventing quiet time after it.
    pub fn finish(&mut self, out: &mut Vec<Spike>, updates: &mut Vec<WindowUpdate>) {
        if self.origin.is_some() {
            let end = floor_to(self.max_event, self.p.bin_ms) + self.p.bin_ms;
            self.close_until(end, out, updates);
        }
    }

    fn close_until(&mut self, until: i64, out: &mut Vec<Spike>, updates: &mut Vec<WindowUpdate>) {
        let p = &self.p;
        let names = Names {
            terms: &self.term_names,
            sources: &self.source_names,
        };
        // Bins before the stream was first heard are not learned.
        let heard_from = if self.first_event == i64::MAX {
            i64::MAX
        } else {
            floor_to(self.first_event, p.bin_ms)
        };
        for w in &mut self.watches {
            while w.next_close + p.bin_ms <= until {
                if w.next_close < heard_from {
                    w.next_close = heard_from.min(floor_to(until, p.bin_ms));
                    continue;
                }
                // Empty bins up to the next bin with posts (or `until`).
                let next_posts = w.pending.first_start().unwrap_or(until).min(until);
                let gap_bins = (next_posts - w.next_close) / p.bin_ms;
                if w.measured && gap_bins > 0 {
                    // A missing measurement is not a zero: bins without a
                    // value are skipped, not learned (the bin before a
                    // series' first row would otherwise pull its level
                    // towards 0 and inflate its deviation for days).
                    w.next_close += gap_bins * p.bin_ms;
                    continue;
                }
                if gap_bins > MAX_GAP_BINS
                    && w.incident.is_none()
                    && w.window.iter().all(|b| b.count == 0)
                {
                    // A long stretch of empty bins: fold it in closed form.
                    let skip = gap_bins - p.max_scale() as i64;
                    w.baseline.decay(skip as u64, p.alpha);
                    w.next_close += skip * p.bin_ms;
                    w.window.clear();
                    continue;
                }
                let mut bin = w
                    .pending
                    .take(w.next_close)
                    .unwrap_or_else(|| Bin::empty(w.next_close));
                bin.expected = if w.baseline.n == 0 {
                    // No history: the first bin is its own expectation.
                    bin.volume()
                } else {
                    forecast(p, w, bin.start)
                };
                w.next_close += p.bin_ms;
                w.window.push_back(bin);
                while w.window.len() > p.max_scale() {
                    w.window.pop_front();
                }
                let count = w
                    .window
                    .iter()
                    .rev()
                    .take(p.scales[0])
                    .map(|b| u64::from(b.count))
                    .sum();
                if count != w.last_window_count {
                    w.last_window_count = count;
                    updates.push(WindowUpdate {
                        watch: w.id.clone(),
                        count,
                    });
                }
                evaluate(p, w, &names, out);
            }
        }
    }

    /// Approximate bytes of state held for watch `i` (bins, baseline,
    /// incident), for the memory-per-watch bench.
    pub fn watch_state_bytes(&self, i: usize) -> usize {
        let w = &self.watches[i];
        std::mem::size_of::<WatchState>()
            + w.id.0.capacity()
            + w.pending.heap_bytes()
            + w.window.heap_bytes()
            + w.incident.as_ref().map_or(0, |i| i.id.0.capacity())
            + w.tag_base.heap_bytes()
            + w.week.capacity() * std::mem::size_of::<f64>()
            + w.week_n.capacity() * std::mem::size_of::<u16>()
    }

    /// Number of watches.
    pub fn watch_count(&self) -> usize {
        self.watches.len()
    }

    /// The source name of an interned id.
    pub fn source_name(&self, id: u32) -> Option<&str> {
        self.source_names.get(id as usize).map(String::as_str)
    }
}

/// Newest event time and last processing time seen on one input partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct PartClock {
    max_event: i64,
    last_seen: i64,
    /// Records waiting in the partition, when measured: a partition with a
    /// backlog is slow, not idle, and keeps holding the watermark back.
    /// Unmeasured partitions are judged by silence alone.
    #[serde(default)]
    backlog: Option<i64>,
}

/// Recently seen (post, watch) hashes of one partition (bounded ring). Only
/// the ring is serialised; the set is rebuilt from it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "VecDeque<u64>", into = "VecDeque<u64>")]
struct Dedupe {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

impl From<VecDeque<u64>> for Dedupe {
    fn from(order: VecDeque<u64>) -> Self {
        Dedupe {
            set: order.iter().copied().collect(),
            order,
        }
    }
}

impl From<Dedupe> for VecDeque<u64> {
    fn from(d: Dedupe) -> Self {
        d.order
    }
}

/// Hashes remembered per partition to drop replayed scored posts: replays
/// come from a restarted score stage re-reading what it had not committed
/// (a few batches), so this covers them with a wide margin while keeping a
/// checkpoint well under Kafka's default 1 MB record limit.
const DEDUPE_PER_PARTITION: usize = 10_000;

impl Dedupe {
    fn insert(&mut self, h: u64) -> bool {
        if !self.set.insert(h) {
            return false;
        }
        self.order.push_back(h);
        if self.order.len() > DEDUPE_PER_PARTITION {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

fn dedupe_key(p: &ScoredPost) -> u64 {
    // FNV-1a: stable across processes and versions (std's hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in p.post_id.0.bytes().chain([0u8]).chain(p.watch.0.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A checkpoint of everything the detector holds for one input partition,
/// with the offset it covers: restoring it and reading on from `offset`
/// gives the same results as never stopping.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartitionSnapshot {
    /// Input partition.
    pub partition: i32,
    /// The next input offset to read (every record before it is included).
    pub offset: i64,
    origin: Option<i64>,
    /// See [`Detector`]'s `first_event` (absent in older checkpoints: the
    /// origin plus the lateness, where the stream was first heard then).
    #[serde(default)]
    first_event: Option<i64>,
    wm: i64,
    clocks: Vec<((i32, i32), PartClock)>,
    watches: Vec<WatchState>,
    dedupe: Dedupe,
    terms: Vec<String>,
    sources: Vec<String>,
    regions: Vec<String>,
}

impl Detector {
    /// Snapshots partition `partition` (watches whose posts arrive on it,
    /// plus watches never seen, which every snapshot carries).
    pub fn snapshot(&self, partition: i32, offset: i64) -> PartitionSnapshot {
        let mut regions = vec![String::new(); self.regions.len()];
        for (name, id) in &self.regions {
            regions[*id as usize] = name.clone();
        }
        PartitionSnapshot {
            partition,
            offset,
            origin: self.origin,
            first_event: (self.first_event != i64::MAX).then_some(self.first_event),
            wm: self.wm,
            clocks: self
                .parts
                .iter()
                .filter(|((p, _), _)| *p == partition)
                .map(|(k, c)| (*k, *c))
                .collect(),
            watches: self
                .watches
                .iter()
                .filter(|w| w.partition.is_none_or(|p| p == partition))
                .cloned()
                .collect(),
            dedupe: self.dedupe.get(&partition).cloned().unwrap_or_default(),
            terms: self.term_names.clone(),
            sources: self.source_names.clone(),
            regions,
        }
    }

    /// Restores a partition snapshot into a detector that holds nothing of
    /// that partition yet: its watches' state (ids remapped to this
    /// process's interned names), its clocks and dedupe ring. Restored at
    /// processing time `now`, a partition counts as heard from now (it is
    /// not idle before it had the chance to deliver). The watermark becomes
    /// the lowest of the restored ones: snapshots written by different
    /// owners at different times must each read on from their own point
    /// without their posts counting as late; a watch's own closed bins stay
    /// closed (`next_close` comes with it).
    pub fn restore(&mut self, snap: PartitionSnapshot, now: EventTime) {
        if let Some(o) = snap.origin {
            if self.origin.is_none() {
                self.origin = Some(o);
            }
        }
        let first = snap
            .first_event
            .or(snap.origin.map(|o| o + self.p.lateness_ms));
        if let Some(f) = first {
            self.first_event = self.first_event.min(f);
        }
        if snap.wm != i64::MIN {
            self.wm = if self.wm == i64::MIN {
                snap.wm
            } else {
                self.wm.min(snap.wm)
            };
        }
        for (p, mut c) in snap.clocks {
            c.last_seen = now.0;
            self.max_event = self.max_event.max(c.max_event);
            self.parts.insert(p, c);
        }
        self.dedupe.insert(snap.partition, snap.dedupe);
        let term_map: Vec<u32> = snap
            .terms
            .iter()
            .map(|t| intern(&mut self.terms, Some(&mut self.term_names), t))
            .collect();
        let source_map: Vec<u32> = snap
            .sources
            .iter()
            .map(|t| intern(&mut self.sources, Some(&mut self.source_names), t))
            .collect();
        let region_map: Vec<u32> = snap
            .regions
            .iter()
            .map(|t| intern(&mut self.regions, None, t))
            .collect();
        let remap = |m: &[u32], id: u32| m.get(id as usize).copied().unwrap_or(u32::MAX);
        for mut w in snap.watches {
            let Some(&i) = self.index.get(&w.id) else {
                continue;
            };
            if w.partition.is_none() && self.watches[i].partition.is_some() {
                continue; // a real partition's state wins over an unseen copy
            }
            let remap_bin = |b: &mut Bin| {
                for t in &mut b.terms {
                    t.0 = remap(&term_map, t.0);
                }
                for x in &mut b.sources {
                    x.0 = remap(&source_map, x.0);
                }
                for x in &mut b.regions {
                    x.0 = remap(&region_map, x.0);
                }
            };
            w.pending.for_each_mut(remap_bin);
            w.window.for_each_mut(remap_bin);
            w.grading = self.watches[i].grading.clone();
            self.watches[i] = w;
        }
    }
}

struct Names<'a> {
    terms: &'a [String],
    sources: &'a [String],
}

fn compact_time(ms: i64) -> String {
    EventTime(ms)
        .to_datetime()
        .format("%Y%m%dT%H%MZ")
        .to_string()
}

/// One scale's window at one closed bin.
#[derive(Clone, Copy, Debug)]
struct ScaleView {
    /// Index into `Params::scales`.
    i: usize,
    /// Bins in the window.
    k: usize,
    /// Observed volume.
    x: f64,
    /// Expected volume.
    m: f64,
    /// The spike statistic.
    z: f64,
    /// The threshold this watch's history sets for `z` at this scale.
    thr: f64,
    /// Persistence: the short-term mean of z, this window included.
    persist: f64,
    /// The threshold this watch's history sets for it (infinite when off).
    persist_thr: f64,
}

impl ScaleView {
    /// How far past its thresholds this window is: the larger of z and the
    /// persistence, each over its own threshold (>= 1 fires).
    fn excess(&self) -> f64 {
        (self.z / self.thr).max(self.persist / self.persist_thr)
    }

    /// The persistence, not the z of this window alone, fired.
    fn by_persistence(&self) -> bool {
        self.z < self.thr && self.persist >= self.persist_thr
    }
}

struct Decision {
    triggers: Vec<Trigger>,
    sustained: bool,
    /// The scale whose volume fired hardest, if one did.
    fired: Option<ScaleView>,
    views: Vec<ScaleView>,
}

/// The residual of one scale's window and the watch's own history of that
/// scale's z-score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct ScaleState {
    /// Residual (observed - expected) of the window: its mean square is the
    /// variation this watch has shown at this scale.
    resid: Ewma,
    /// The z-scores seen at this scale.
    cal: Calibration,
    /// Persistence: the short-term mean of the z-scores (each capped at
    /// the threshold), NAB's "anomaly likelihood" input.
    #[serde(default)]
    persist: f64,
    /// The persistences seen at this scale.
    #[serde(default)]
    persist_cal: Calibration,
}

/// The mean and upper semi-variance of a watch's z-scores: a z is unusual
/// for this watch when it stands `calibration_sigmas` upper deviations
/// above the mean. Before any history the prior is a standard normal
/// (mean 0, deviation 1), as for a Poisson count.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Mean z.
    pub mean: f64,
    /// Twice the mean square of the excess over the mean (the variance a
    /// symmetric distribution with this upper tail would have).
    pub upper_var: f64,
    /// z-scores folded in.
    pub n: u64,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            mean: 0.0,
            upper_var: 1.0,
            n: 0,
        }
    }
}

impl Calibration {
    /// The threshold for the next z: `mean + sigmas * upper deviation`,
    /// never below `floor`.
    pub fn threshold(&self, sigmas: f64, floor: f64) -> f64 {
        (self.mean + sigmas * self.upper_var.max(0.0).sqrt()).max(floor)
    }

    /// Folds in `z` with weight `alpha`; the prior counts as `prior_n`
    /// observations, so early weights are `1/(n + prior_n + 1)` (a new
    /// watch is judged mostly by the prior for its first day).
    pub fn update(&mut self, z: f64, alpha: f64, prior_n: f64) {
        let a = alpha.max(1.0 / (self.n as f64 + prior_n + 1.0));
        let d = z - self.mean;
        self.mean += a * d;
        let up = d.max(0.0);
        self.upper_var = (1.0 - a) * self.upper_var + a * 2.0 * up * up;
        self.n += 1;
    }
}

/// The statistic at every scale that has enough closed bins.
fn scale_views(p: &Params, w: &WatchState) -> Vec<ScaleView> {
    let mut views = Vec::with_capacity(p.scales.len());
    // Each scale's observed and expected volume, in one pass over the
    // window from its newest bin (the scales increase).
    let mut newest_first = w.window.sums_newest_first();
    let (mut x, mut m, mut summed) = (0.0, 0.0, 0);
    for (i, &k) in p.scales.iter().enumerate() {
        if w.window.len() < k {
            break;
        }
        for &[volume, expected] in newest_first.by_ref().take(k - summed) {
            x += volume;
            m += expected;
        }
        summed = k;
        let st = w.scales.get(i).copied().unwrap_or_default();
        let rms = (st.resid.var.max(0.0) + st.resid.mean * st.resid.mean).sqrt();
        let z = if w.measured {
            (x - m).abs() / rms.max(1e-9 * (m.abs() + 1.0))
        } else {
            spike_z(x, m, rms)
        };
        let thr = if st.cal.n >= p.warmup_bins {
            st.cal.threshold(p.d.calibration_sigmas, p.d.z_floor)
        } else {
            Calibration::default().threshold(p.d.calibration_sigmas, p.d.z_floor)
        };
        // A deviation that lasts: many moderate z-scores in a row are as
        // rare for this watch as one big one. The persistence is judged
        // against its own history, never below half the z floor, and only
        // once that history covers a day: before the watch has seen its
        // daily rhythm, a slow rise is as likely the rhythm as a crisis
        // (one window's z still fires from the warm-up on).
        let a = p.persistence_alpha;
        let persist = (1.0 - a) * st.persist + a * z.min(thr);
        let known = st.persist_cal.n as f64 >= p.calibration_prior_bins.max(p.warmup_bins as f64);
        let persist_thr = if a > 0.0 && known {
            st.persist_cal
                .threshold(p.d.persistence_sigmas, p.d.z_floor / 2.0)
        } else {
            f64::INFINITY
        };
        views.push(ScaleView {
            i,
            k,
            x,
            m,
            z,
            thr,
            persist,
            persist_thr,
        });
    }
    views
}

fn decide(p: &Params, w: &WatchState, s: &WindowSummary) -> Decision {
    let views = scale_views(p, w);
    let warm = w.baseline.n >= p.warmup_bins;
    let enough = |v: &ScaleView, r: f64| w.measured || v.x >= p.d.min_count.get() as f64 * r;
    let mut triggers = Vec::new();
    // Without a live incident, a window reaching back into the last one
    // cannot open a new one.
    let end = w.window.back().map_or(0, |b| b.start) + p.bin_ms;
    let fresh = |v: &ScaleView| {
        w.incident.is_some()
            || w.resolved_at
                .is_none_or(|r| end - v.k as i64 * p.bin_ms >= r)
    };
    // Every bin of the window was forecast by a warm baseline.
    let warm_for = |v: &ScaleView| w.baseline.n >= p.warmup_bins + v.k as u64;
    let fired = views
        .iter()
        .filter(|v| warm_for(v) && enough(v, 1.0) && v.excess() >= 1.0 && fresh(v))
        .max_by(|a, b| a.excess().total_cmp(&b.excess()))
        .copied();
    if fired.is_some() {
        triggers.push(Trigger::Volume);
    }
    if !warm && !w.measured && s.count >= p.d.absolute_count.get() {
        triggers.push(Trigger::AbsoluteFloor);
    }
    let share = s.negative_share();
    let neg_base = if w.negative.n > 0 {
        w.negative.mean
    } else {
        0.0
    };
    // The surge must also be unlikely as chance: the arcsine
    // (variance-stabilising) z-score of the negative share against the
    // baseline share (floored at 5%), `2 sqrt(n) (asin sqrt(p) - asin
    // sqrt(p0))`, which keeps its tails honest for small windows (8 of 12
    // negative on a 20% baseline is z = 3.4, not the normal
    // approximation's 4.0).
    let surge = |share: f64, base: f64, min: f64, delta: f64, r: f64| {
        let p0 = base.clamp(0.05, 0.95);
        let n = s.count as f64;
        let z = 2.0 * n.sqrt() * (share.sqrt().asin() - p0.sqrt().asin());
        s.count as f64 >= p.d.negative_min_count as f64 * r
            && share >= min * r
            && share - base >= delta * r
            && z >= p.d.z_floor * r
    };
    if warm
        && surge(
            share,
            neg_base,
            p.d.negative_share_min,
            p.d.negative_share_delta,
            1.0,
        )
    {
        triggers.push(Trigger::NegativeShare);
    }
    // The same test per crisis kind, against that kind's own baseline share.
    let kind_surge = |r: f64| {
        (0..s.kinds.len()).any(|k| {
            let share = kind_share(s, k);
            let base = if w.kind_share[k].n > 0 {
                w.kind_share[k].mean
            } else {
                0.0
            };
            surge(share, base, p.d.crisis_share_min, p.d.crisis_share_delta, r)
        })
    };
    if warm && kind_surge(1.0) {
        triggers.push(Trigger::CrisisShare);
    }
    let r = p.d.sustain_ratio;
    let sustained = triggers.is_empty()
        && w.incident.is_some()
        && (views.iter().any(|v| enough(v, r) && v.excess() >= r)
            || (s.count as f64 >= p.d.negative_min_count as f64 * r
                && share - neg_base >= p.d.negative_share_delta * r
                && share >= p.d.negative_share_min * r)
            || kind_surge(r));
    Decision {
        triggers,
        sustained,
        fired,
        views,
    }
}

/// The spike statistic of a count against an expected `mean` with a
/// deviation `std` this watch has shown: the smaller of two z-scores, so a
/// window must be extreme both as a count (Poisson noise, via Anscombe's
/// variance-stabilising transform `2(sqrt(x + 3/8) - sqrt(mean + 3/8))`)
/// and against the variation seen (deviation floored at one post).
pub fn spike_z(count: f64, mean: f64, std: f64) -> f64 {
    let mean = mean.max(0.0);
    let z_poisson = 2.0 * ((count + 0.375).sqrt() - (mean + 0.375).sqrt());
    let z_ewma = (count - mean) / std.max(1.0);
    z_poisson.min(z_ewma)
}

/// `ScaleView::k` bins as minutes or seconds, for the reason text.
fn scale_name(bins: usize, bin_ms: i64) -> String {
    let secs = bins as i64 * bin_ms / 1000;
    if secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

fn grade(g: &GradingConfig, s: &WindowSummary, mean: f64) -> (Level, String) {
    let ratio = s.count as f64 / mean.max(1.0);
    let spread = s.spread(g.source_min_share);
    let severe_share = if s.count == 0 {
        0.0
    } else {
        s.severe as f64 / s.count as f64
    };
    if s.severe >= g.major_severe_posts && severe_share >= g.major_severe_share {
        let kinds: Vec<&str> = CrisisKind::ALL
            .iter()
            .filter(|k| s.kinds[k.index()] > 0)
            .map(|k| k.as_str())
            .collect();
        return (
            Level::Major,
            format!(
                "major: impact: {} of {} posts ({:.0}%) hit severe crisis terms (>= {} posts and {:.0}%); kinds: {}",
                s.severe,
                s.count,
                severe_share * 100.0,
                g.major_severe_posts,
                g.major_severe_share * 100.0,
                kinds.join(", ")
            ),
        );
    }
    if g.wide_reach_followers > 0 && s.max_reach >= g.wide_reach_followers {
        return (
            Level::Moderate,
            format!(
                "moderate: reach: an author with {} followers posted (>= {}), wide scope at {} posts = {ratio:.1}x baseline {mean:.1}",
                s.max_reach, g.wide_reach_followers, s.count
            ),
        );
    }
    if ratio >= g.moderate_ratio && spread >= g.moderate_sources {
        return (
            Level::Moderate,
            format!(
                "moderate: scope: {} posts = {ratio:.1}x baseline {mean:.1} (>= {:.1}x) across {spread} sources/regions with >= {:.0}% of posts each (>= {})",
                s.count, g.moderate_ratio, g.source_min_share * 100.0, g.moderate_sources
            ),
        );
    }
    if ratio >= g.moderate_ratio_alone {
        return (
            Level::Moderate,
            format!(
                "moderate: scope: {} posts = {ratio:.1}x baseline {mean:.1} (>= {:.1}x on its own)",
                s.count, g.moderate_ratio_alone
            ),
        );
    }
    (
        Level::Minor,
        format!(
            "minor: {} posts = {ratio:.1}x baseline {mean:.1} from {spread} sources/regions; no severe impact",
            s.count
        ),
    )
}

fn evaluate(p: &Params, w: &mut WatchState, names: &Names<'_>, out: &mut Vec<Spike>) {
    if w.scales.len() != p.scales.len() {
        w.scales.resize(p.scales.len(), ScaleState::default());
    }
    // Share tests look at the newest bin (its counts: the lists are only
    // summarised for a window that alerts or resolves).
    let newest = w.window.len().saturating_sub(1);
    let s0 = tally(w.window.range(newest..), p.bin_ms);
    let d = decide(p, w, &s0);
    let triggered = !d.triggers.is_empty();
    // The reported window: the scale whose volume fired, else the newest
    // bin (the share tests' window).
    let first_bin = match d.fired {
        Some(v) if v.k > 1 => w.window.len() - v.k,
        _ => newest,
    };
    let summary = if triggered {
        Some(summarize(w.window.range(first_bin..), p.bin_ms))
    } else {
        None
    };
    let mean_before = d.fired.map_or_else(|| expected_count(w, 1), |v| v.m);
    let z = d
        .fired
        .or_else(|| d.views.first().copied())
        .map_or(0.0, |v| v.z);
    let scale_note = d
        .fired
        .map(|v| {
            if v.by_persistence() {
                format!(
                    " (volume at the {} scale, sustained: mean z {:.1} over about {} >= {:.1}, this watch's own threshold)",
                    scale_name(v.k, p.bin_ms),
                    v.persist,
                    scale_name(p.persistence_bins(), p.bin_ms),
                    v.persist_thr
                )
            } else {
                format!(
                    " (volume at the {} scale: z {:.1} >= {:.1}, this watch's own threshold)",
                    scale_name(v.k, p.bin_ms),
                    v.z,
                    v.thr
                )
            }
        })
        .unwrap_or_default();
    let transition = if let Some(summary) = &summary {
        let (level, reason) = grade(&w.grading, summary, mean_before);
        let reason = reason + &scale_note;
        match &mut w.incident {
            None => {
                w.incident = Some(Incident {
                    id: IncidentId(format!("{}-{}", w.id, compact_time(summary.end - p.bin_ms))),
                    level,
                    quiet: 0,
                });
                Some((Transition::Opened, level, reason))
            }
            Some(inc) => {
                inc.quiet = 0;
                if level > inc.level {
                    inc.level = level;
                    Some((Transition::Escalated, level, reason))
                } else {
                    Some((Transition::Ongoing, inc.level, reason))
                }
            }
        }
    } else if let Some(inc) = &mut w.incident {
        if d.sustained {
            inc.quiet = 0;
            None
        } else {
            inc.quiet += 1;
            if inc.quiet >= p.resolve_after_quiet_bins {
                let level = inc.level;
                let reason = format!(
                    "resolved: {} quiet windows (no trigger, below {:.0}% of the thresholds)",
                    inc.quiet,
                    p.d.sustain_ratio * 100.0
                );
                Some((Transition::Resolved, level, reason))
            } else {
                None
            }
        }
    } else {
        None
    };
    if let Some((transition, level, reason)) = transition {
        let summary = summary.unwrap_or_else(|| summarize(w.window.range(first_bin..), p.bin_ms));
        let incident = w
            .incident
            .as_ref()
            .map(|i| i.id.clone())
            .unwrap_or_default();
        if transition == Transition::Resolved {
            w.incident = None;
            w.resolved_at = Some(summary.end);
        }
        // The evidence a person reads: only for the spikes that alert
        // (an ongoing spike alerts nobody; a resolve needs none).
        let evidence = if matches!(transition, Transition::Opened | Transition::Escalated) {
            window_evidence(
                w.window.range(first_bin..).map(|b| &b.evidence),
                summary.count,
                &w.tag_base,
                |x| names.sources.get(x as usize).cloned().unwrap_or_default(),
            )
        } else {
            Evidence::default()
        };
        out.push(Spike {
            watch: w.id.clone(),
            incident,
            transition,
            level,
            triggers: d.triggers.clone(),
            figures: vigil_types::WindowFigures {
                reason,
                window_start: EventTime(summary.start),
                window_end: EventTime(summary.end),
                observed: summary.count,
                baseline: round2(mean_before),
                z: round2(z),
                negative_share: round2(summary.negative_share()),
                top_terms: summary
                    .terms
                    .iter()
                    .take(5)
                    .filter_map(|(t, _)| names.terms.get(*t as usize).cloned())
                    .collect(),
                distinct_sources: summary.sources.len() as u32,
            },
            sample_post_ids: summary.samples.clone(),
            distinct_regions: summary.regions.len() as u32,
            crisis_kinds: CrisisKind::ALL
                .iter()
                .copied()
                .filter(|k| summary.kinds[k.index()] > 0)
                .collect(),
            evidence,
        });
    }
    learn(p, w, &d.views, &s0);
}

/// Folds the newest closed bin into the watch's history: each scale's
/// residual and z calibration, the hour-of-day factors, the level and the
/// share baselines. Everything is winsorised at the thresholds, so a spike
/// moves the history by at most a threshold-sized step.
fn learn(p: &Params, w: &mut WatchState, views: &[ScaleView], s0: &WindowSummary) {
    let warm = w.baseline.n >= p.warmup_bins;
    for v in views {
        let st = &mut w.scales[v.i];
        let rms = (st.resid.var.max(0.0) + st.resid.mean * st.resid.mean).sqrt();
        let floor = if w.measured { 0.0 } else { v.m.max(1.0).sqrt() };
        let r = v.x - v.m;
        let bound = v.thr * rms.max(floor);
        let r = if warm && bound > 0.0 {
            r.clamp(-bound, bound)
        } else {
            r
        };
        // A window with a bin forecast before the watch had any level
        // (expected 0) says nothing about its variation: a measurement
        // starting at 50 would otherwise inflate the deviation for days.
        if w.baseline.n >= v.k as u64 {
            st.resid.update(r, p.alpha);
        }
        if warm {
            st.cal.update(
                v.z.min(v.thr * CALIBRATION_CAP),
                p.calibration_alpha,
                p.calibration_prior_bins,
            );
        }
        st.persist = v.persist;
        if warm && p.persistence_alpha > 0.0 {
            if st.persist_cal.n == 0 {
                // The prior: the null distribution of one z-score (a
                // count's signed z: mean 0, variance 1; a measurement's
                // |z|: mean sqrt(2/pi), variance 1 - 2/pi). Its variance is
                // not shrunk for averaging: until the watch's own history
                // says otherwise, its z-scores may be fully correlated.
                let (mean, var) = if w.measured {
                    (
                        std::f64::consts::FRAC_2_PI.sqrt(),
                        1.0 - std::f64::consts::FRAC_2_PI,
                    )
                } else {
                    (0.0, 1.0)
                };
                st.persist_cal.mean = mean;
                st.persist_cal.upper_var = var;
            }
            st.persist_cal.update(
                v.persist.min(v.persist_thr * CALIBRATION_CAP),
                p.calibration_alpha,
                p.calibration_prior_bins,
            );
        }
    }
    let Some(newest) = w.window.back() else {
        return;
    };
    let x = newest.volume();
    w.tag_base
        .learn(newest.count, &newest.evidence.tags, day_keep(p.bin_ms));
    let slot = hour_of(newest.start);
    let seasonal = p.seasonal_rate > 0.0;
    let factor = if seasonal { w.season[slot] } else { 1.0 };
    let x = if w.measured {
        // A measurement's daily rhythm is additive: its hour offset
        // follows value - level (a series around zero, a temperature in
        // Fahrenheit, has no meaningful ratio to its level).
        let offset = if seasonal {
            hour_offset(p, w, newest.start)
        } else {
            0.0
        };
        if seasonal && warm {
            // The additive twin of a count's factor cap: an hour lies at
            // most `seasonal_max_factor` times the level's scale (its size,
            // or its spread for a series around zero) from the level.
            let bound = p.d.seasonal_max_factor * w.baseline.mean.abs().max(w.baseline.std());
            let r = (x - w.baseline.mean).clamp(-bound, bound);
            learn_offset(p, &mut w.season[slot], &mut w.season_n[slot], r);
            let week = hour_of_week(newest.start);
            if let (Some(o), Some(n)) = (w.week.get_mut(week), w.week_n.get_mut(week)) {
                learn_offset(p, o, n, r);
            }
        }
        x - offset
    } else {
        if seasonal && warm {
            // The hour's factor follows volume / level (+1 smoothing, capped,
            // so a spike moves it by at most rate * cap).
            let r = ((x.max(0.0) + 1.0) / (w.baseline.mean.max(0.0) + 1.0))
                .min(p.d.seasonal_max_factor);
            let a = p.seasonal_rate;
            w.season[slot] = w.season[slot] * (1.0 - a) + a * r;
        }
        x / factor
    };
    let x = if warm {
        let thr = views.first().map_or(p.d.z_floor, |v| v.thr);
        let floor = if w.measured {
            0.0
        } else {
            w.baseline.mean.max(1.0).sqrt()
        };
        let cap = w.baseline.mean + thr * w.baseline.std().max(floor);
        if w.measured {
            // A measurement deviates either way: a drop is winsorised too.
            x.clamp(w.baseline.mean - thr * w.baseline.std(), cap)
        } else {
            x.min(cap)
        }
    } else {
        x
    };
    w.baseline.update(x, p.alpha);
    let s = s0;
    if s.count > 0 {
        let share = s.negative_share();
        let share = if w.negative.n > 0 {
            share.min(w.negative.mean + p.d.negative_share_delta)
        } else {
            share
        };
        w.negative.update(share, p.share_alpha);
        for k in 0..s.kinds.len() {
            let share = kind_share(s, k);
            let e = &mut w.kind_share[k];
            let share = if e.n > 0 {
                share.min(e.mean + p.d.crisis_share_delta)
            } else {
                share
            };
            e.update(share, p.share_alpha);
        }
    }
}

/// Folds `r` into a measurement's hour offset that has learned from `n`
/// bins: its first bins are averaged (weight 1/n, as the level starts), so
/// its rhythm is known after a day, then the rate holds. A count's factors
/// start at 1 and learn at the rate alone (the first few bins of an hour
/// are Poisson noise: averaging them cost the tweets 0.3 to 1.7 points at
/// every thinning, docs/EVAL-nab.md).
fn learn_offset(p: &Params, offset: &mut f64, n: &mut u16, r: f64) {
    *n = n.saturating_add(1);
    let a = p.seasonal_rate.max(1.0 / f64::from(*n));
    *offset = *offset * (1.0 - a) + a * r;
}

fn kind_share(s: &WindowSummary, k: usize) -> f64 {
    if s.count == 0 {
        0.0
    } else {
        s.kinds[k] as f64 / s.count as f64
    }
}

fn round2(x: f64) -> f64 {
    if x.is_finite() {
        (x * 100.0).round() / 100.0
    } else {
        0.0
    }
}
