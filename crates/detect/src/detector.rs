//! The pure detect core: per-watch event-time bins, a global watermark,
//! an EWMA baseline, spike triggers, grading and the incident state machine.
//!
//! Time is an input: the core only sees event times (and, to reject posts
//! from the future, a processing time the caller passes in). It never reads
//! the wall clock.

use std::collections::{HashMap, VecDeque};

use vigil_config::{DetectConfig, GradingConfig, Settings};
use vigil_types::{CrisisKind, EventTime, Level, ScoredPost, Spike, Transition, Trigger, WatchId};

use crate::window::{summarize, Bin, Ewma, WindowSummary, SAMPLES};

/// Most distinct source (and region) names interned; later ones count as
/// one "other" value, so memory stays bounded.
const MAX_INTERNED: usize = 4096;
/// Empty gaps longer than this many bins are skipped in closed form.
const MAX_GAP_BINS: i64 = 2048;
/// Posts more than this far ahead of processing time are rejected.
const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;

/// Validated detector parameters, in milliseconds and plain numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorParams {
    /// Bin width.
    pub bin_ms: i64,
    /// Bins per window.
    pub window_bins: usize,
    /// Allowed lateness.
    pub lateness_ms: i64,
    /// EWMA weight per bin.
    pub alpha: f64,
    /// Bins before z may fire.
    pub warmup_bins: u64,
    /// Minimum count for a volume spike.
    pub min_count: u64,
    /// Minimum z for a volume spike.
    pub z_threshold: f64,
    /// Count that fires during warm-up.
    pub absolute_count: u64,
    /// Minimum count for a negative surge.
    pub negative_min_count: u64,
    /// Minimum negative share.
    pub negative_share_min: f64,
    /// Minimum rise of the negative share.
    pub negative_share_delta: f64,
    /// Hysteresis fraction.
    pub sustain_ratio: f64,
    /// Quiet windows before resolve.
    pub resolve_after_quiet_bins: u32,
    /// Sentiment at or below this is negative.
    pub negative_threshold: f32,
}

impl DetectorParams {
    /// From the `[detect]` section and the score stage's negative threshold.
    pub fn new(d: &DetectConfig, negative_threshold: f32) -> DetectorParams {
        DetectorParams {
            bin_ms: (d.bin_secs * 1000) as i64,
            window_bins: d.window_bins as usize,
            lateness_ms: (d.allowed_lateness_secs * 1000) as i64,
            alpha: 1.0 - 0.5f64.powf(1.0 / d.baseline_half_life_bins),
            warmup_bins: u64::from(d.warmup_bins),
            min_count: d.min_count,
            z_threshold: d.z_threshold,
            absolute_count: d.absolute_count,
            negative_min_count: d.negative_min_count,
            negative_share_min: d.negative_share_min,
            negative_share_delta: d.negative_share_delta,
            sustain_ratio: d.sustain_ratio,
            resolve_after_quiet_bins: d.resolve_after_quiet_bins,
            negative_threshold,
        }
    }
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
}

impl Observation {
    /// The `reason` label for a drop.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Observation::Accepted => None,
            Observation::Late => Some("late"),
            Observation::Future => Some("future"),
            Observation::UnknownWatch => Some("unknown_watch"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Incident {
    id: String,
    level: Level,
    quiet: u32,
}

#[derive(Clone, Debug)]
struct WatchState {
    id: WatchId,
    grading: GradingConfig,
    /// Open bins, starting at `next_close`, contiguous.
    pending: VecDeque<Bin>,
    /// The last `window_bins` closed bins.
    window: VecDeque<Bin>,
    /// Start of the next bin to close.
    next_close: i64,
    baseline: Ewma,
    negative: Ewma,
    incident: Option<Incident>,
    last_window_count: u64,
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
    p: DetectorParams,
    watches: Vec<WatchState>,
    index: HashMap<WatchId, usize>,
    origin: Option<i64>,
    max_event: i64,
    sources: HashMap<String, u32>,
    regions: HashMap<String, u32>,
    terms: HashMap<String, u32>,
    term_names: Vec<String>,
    source_names: Vec<String>,
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
        let p = DetectorParams::new(
            &settings.config.detect,
            settings.config.score.negative_threshold,
        );
        Detector::with_params(
            p,
            settings
                .watches
                .iter()
                .map(|w| (w.id.clone(), w.grading.clone())),
        )
    }

    /// A detector from explicit parameters and (watch, grading) pairs.
    pub fn with_params(
        p: DetectorParams,
        watches: impl IntoIterator<Item = (WatchId, GradingConfig)>,
    ) -> Detector {
        let watches: Vec<WatchState> = watches
            .into_iter()
            .map(|(id, grading)| WatchState {
                id,
                grading,
                pending: VecDeque::new(),
                window: VecDeque::new(),
                next_close: 0,
                baseline: Ewma::default(),
                negative: Ewma::default(),
                incident: None,
                last_window_count: 0,
            })
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
            sources: HashMap::new(),
            regions: HashMap::new(),
            terms: HashMap::new(),
            term_names: Vec::new(),
            source_names: Vec::new(),
        }
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
                None => WatchState {
                    id: w.id.clone(),
                    grading: w.grading.clone(),
                    pending: VecDeque::new(),
                    window: VecDeque::new(),
                    next_close: next_close.unwrap_or(0),
                    baseline: Ewma::default(),
                    negative: Ewma::default(),
                    incident: None,
                    last_window_count: 0,
                },
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

    /// Parameters.
    pub fn params(&self) -> &DetectorParams {
        &self.p
    }

    /// The watermark: newest event time seen minus the allowed lateness
    /// (`None` before the first post).
    pub fn watermark(&self) -> Option<EventTime> {
        self.origin
            .filter(|_| self.max_event != i64::MIN)
            .map(|_| EventTime(self.max_event.saturating_sub(self.p.lateness_ms)))
    }

    /// Counts one scored post at its event time. `now` (processing time) is
    /// only used to reject posts dated more than a day in the future.
    pub fn observe(&mut self, post: &ScoredPost, now: EventTime) -> Observation {
        let Some(&wi) = self.index.get(&post.watch) else {
            return Observation::UnknownWatch;
        };
        let t = post.published_at.0;
        if t > now.0.saturating_add(MAX_FUTURE_MS) {
            return Observation::Future;
        }
        let bin_ms = self.p.bin_ms;
        if self.origin.is_none() {
            let origin = floor_to(t - self.p.lateness_ms, bin_ms);
            self.origin = Some(origin);
            for w in &mut self.watches {
                w.next_close = origin;
            }
        }
        if let Some(wm) = self.watermark() {
            if t < wm.0 {
                return Observation::Late;
            }
        }
        self.max_event = self.max_event.max(t);
        let source = intern(
            &mut self.sources,
            Some(&mut self.source_names),
            &post.source,
        );
        let region = post
            .region
            .as_deref()
            .map(|r| intern(&mut self.regions, None, r));
        let term_ids: Vec<u32> = post
            .hits
            .iter()
            .map(|h| intern(&mut self.terms, Some(&mut self.term_names), &h.term))
            .collect();
        let w = &mut self.watches[wi];
        let start = floor_to(t, bin_ms);
        // `start >= next_close` holds: closed bins end at or before the watermark.
        let idx = ((start - w.next_close) / bin_ms) as usize;
        while w.pending.len() <= idx {
            let s = w.next_close + w.pending.len() as i64 * bin_ms;
            w.pending.push_back(Bin::empty(s));
        }
        let bin = &mut w.pending[idx];
        bin.count += 1;
        if post.sentiment <= self.p.negative_threshold {
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
        for t in term_ids {
            bin.add_term(t);
        }
        if bin.samples.len() < SAMPLES {
            bin.samples.push(post.post_id.clone());
        }
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
        let p = self.p.clone();
        let names = Names {
            terms: &self.term_names,
        };
        for w in &mut self.watches {
            while w.next_close + p.bin_ms <= until {
                let gap_bins = (until - w.next_close) / p.bin_ms;
                if gap_bins > MAX_GAP_BINS
                    && w.pending.is_empty()
                    && w.incident.is_none()
                    && w.window.iter().all(|b| b.count == 0)
                {
                    // A long stretch of empty bins: fold it in closed form.
                    let skip = gap_bins - p.window_bins as i64;
                    w.baseline.decay(skip as u64, p.alpha);
                    w.next_close += skip * p.bin_ms;
                    w.window.clear();
                    continue;
                }
                let bin = w
                    .pending
                    .pop_front()
                    .unwrap_or_else(|| Bin::empty(w.next_close));
                w.next_close += p.bin_ms;
                w.window.push_back(bin);
                while w.window.len() > p.window_bins {
                    w.window.pop_front();
                }
                let summary = summarize(&w.window, p.bin_ms);
                if summary.count != w.last_window_count {
                    w.last_window_count = summary.count;
                    updates.push(WindowUpdate {
                        watch: w.id.clone(),
                        count: summary.count,
                    });
                }
                evaluate(&p, w, &summary, &names, out);
            }
        }
    }

    /// Approximate bytes of state held for watch `i` (bins, baseline,
    /// incident), for the memory-per-watch bench.
    pub fn watch_state_bytes(&self, i: usize) -> usize {
        let w = &self.watches[i];
        std::mem::size_of::<WatchState>()
            + w.id.0.capacity()
            + (w.pending.capacity() + w.window.capacity()) * std::mem::size_of::<Bin>()
            + w.pending
                .iter()
                .chain(w.window.iter())
                .map(Bin::heap_bytes)
                .sum::<usize>()
            + w.incident.as_ref().map_or(0, |i| i.id.capacity())
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

struct Names<'a> {
    terms: &'a [String],
}

fn compact_time(ms: i64) -> String {
    EventTime(ms)
        .to_datetime()
        .format("%Y%m%dT%H%MZ")
        .to_string()
}

struct Decision {
    triggers: Vec<Trigger>,
    sustained: bool,
    z: f64,
}

fn decide(p: &DetectorParams, w: &WatchState, s: &WindowSummary) -> Decision {
    let z = spike_z(s.count as f64, &w.baseline);
    let warm = w.baseline.n >= p.warmup_bins;
    let mut triggers = Vec::new();
    if warm && s.count >= p.min_count && z >= p.z_threshold {
        triggers.push(Trigger::Volume);
    }
    if !warm && s.count >= p.absolute_count {
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
    let p0 = neg_base.clamp(0.05, 0.95);
    let n = s.count as f64;
    let neg_z = 2.0 * n.sqrt() * (share.sqrt().asin() - p0.sqrt().asin());
    if warm
        && s.count >= p.negative_min_count
        && share >= p.negative_share_min
        && share - neg_base >= p.negative_share_delta
        && neg_z >= p.z_threshold
    {
        triggers.push(Trigger::NegativeShare);
    }
    let r = p.sustain_ratio;
    let sustained = triggers.is_empty()
        && w.incident.is_some()
        && ((s.count as f64 >= p.min_count as f64 * r && z >= p.z_threshold * r)
            || (s.count as f64 >= p.negative_min_count as f64 * r
                && share - neg_base >= p.negative_share_delta * r
                && share >= p.negative_share_min * r));
    Decision {
        triggers,
        sustained,
        z,
    }
}

/// The spike statistic: the smaller of two z-scores, so a window must be
/// extreme both as a count (Poisson noise, via Anscombe's variance-
/// stabilising transform `2(sqrt(x + 3/8) - sqrt(mean + 3/8))`) and against
/// the variation the baseline has actually seen (EWMA deviation, floored at
/// one post). The Poisson term keeps low-volume watches from alerting on
/// chance bursts of a handful of posts; the EWMA term keeps bursty,
/// seasonal watches from alerting on their usual swings.
pub fn spike_z(count: f64, baseline: &Ewma) -> f64 {
    let mean = baseline.mean.max(0.0);
    let z_poisson = 2.0 * ((count + 0.375).sqrt() - (mean + 0.375).sqrt());
    let z_ewma = (count - mean) / baseline.std().max(1.0);
    z_poisson.min(z_ewma)
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

fn evaluate(
    p: &DetectorParams,
    w: &mut WatchState,
    s: &WindowSummary,
    names: &Names<'_>,
    out: &mut Vec<Spike>,
) {
    let d = decide(p, w, s);
    let mean_before = w.baseline.mean;
    let triggered = !d.triggers.is_empty();
    let transition = if triggered {
        let (level, reason) = grade(&w.grading, s, mean_before);
        match &mut w.incident {
            None => {
                w.incident = Some(Incident {
                    id: format!("{}-{}", w.id, compact_time(s.start)),
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
                    p.sustain_ratio * 100.0
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
        let incident = w
            .incident
            .as_ref()
            .map(|i| i.id.clone())
            .unwrap_or_default();
        if transition == Transition::Resolved {
            w.incident = None;
        }
        out.push(Spike {
            watch: w.id.clone(),
            incident,
            transition,
            level,
            triggers: d.triggers.clone(),
            reason,
            window_start: EventTime(s.start),
            window_end: EventTime(s.end),
            observed: s.count,
            baseline: round2(mean_before),
            z: round2(d.z),
            negative_share: round2(s.negative_share()),
            top_terms: s
                .terms
                .iter()
                .take(5)
                .filter_map(|(t, _)| names.terms.get(*t as usize).cloned())
                .collect(),
            sample_post_ids: s.samples.clone(),
            distinct_sources: s.sources.len() as u32,
            distinct_regions: s.regions.len() as u32,
            crisis_kinds: CrisisKind::ALL
                .iter()
                .copied()
                .filter(|k| s.kinds[k.index()] > 0)
                .collect(),
        });
    }
    // Baseline update, winsorised so a spike cannot inflate its own baseline
    // by more than a threshold-sized step.
    let warm = w.baseline.n >= p.warmup_bins;
    let x = s.count as f64;
    let x = if warm {
        let cap =
            w.baseline.mean + p.z_threshold * w.baseline.std().max(w.baseline.mean.max(1.0).sqrt());
        x.min(cap)
    } else {
        x
    };
    w.baseline.update(x, p.alpha);
    if s.count > 0 {
        let share = s.negative_share();
        let share = if w.negative.n > 0 {
            share.min(w.negative.mean + p.negative_share_delta)
        } else {
            share
        };
        w.negative.update(share, p.alpha);
    }
}

fn round2(x: f64) -> f64 {
    if x.is_finite() {
        (x * 100.0).round() / 100.0
    } else {
        0.0
    }
}
