//! Event-time bins for one watch and the EWMA baseline.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use vigil_types::PostId;

use crate::evidence::BinEvidence;
pub use crate::evidence::SAMPLES;

/// Counts of one fixed-width event-time bin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Bin start, ms.
    pub start: i64,
    /// Posts.
    pub count: u32,
    /// Posts with sentiment at or below the negative threshold.
    pub negative: u32,
    /// Posts that hit a severe crisis term.
    pub severe: u32,
    /// Posts per crisis kind (index = `CrisisKind::index`).
    pub kinds: [u32; 6],
    /// (interned source id, posts), sorted by id.
    pub sources: Vec<(u32, u32)>,
    /// (interned region id, posts), sorted by id.
    pub regions: Vec<(u32, u32)>,
    /// (interned term, hits).
    pub terms: Vec<(u32, u32)>,
    /// First post ids of the bin.
    pub samples: Vec<PostId>,
    /// Measured value added on top of the post count (a replayed numeric
    /// series such as NAB's; 0 for posts).
    #[serde(default)]
    pub value: f64,
    /// The volume the watch's baseline expected in this bin when it closed
    /// (before learning from it): a one-step-ahead forecast, so a window
    /// is never judged against a level that already learned from it.
    #[serde(default)]
    pub expected: f64,
    /// The largest author reach (followers) among the bin's posts (left out
    /// of checkpoints when 0: a checkpoint holds every bin of every watch).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_reach: u64,
    /// Stories, tags and sample posts with their text (issue 14). Not in
    /// detect's Kafka checkpoints: with every story's and sample's text it
    /// made a checkpoint of 100 watches tens of megabytes, written every
    /// second, and reading it back outlasted the consumer's poll interval.
    /// After a detect restart an alert's stories and samples therefore
    /// cover the posts this instance read since (counts, baselines and
    /// alerts are restored exactly).
    #[serde(skip)]
    pub evidence: BinEvidence,
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

fn add_count<N: Copy + std::ops::AddAssign>(v: &mut Vec<(u32, N)>, x: u32, n: N) {
    match v.binary_search_by_key(&x, |e| e.0) {
        Ok(i) => v[i].1 += n,
        Err(i) => v.insert(i, (x, n)),
    }
}

impl Bin {
    /// An empty bin at `start`.
    pub fn empty(start: i64) -> Bin {
        Bin {
            start,
            ..Bin::default()
        }
    }

    /// What the volume statistic counts: posts plus any measured value.
    pub fn volume(&self) -> f64 {
        f64::from(self.count) + self.value
    }

    pub(crate) fn add_source(&mut self, s: u32) {
        add_count(&mut self.sources, s, 1);
    }

    pub(crate) fn add_region(&mut self, r: u32) {
        add_count(&mut self.regions, r, 1);
    }

    pub(crate) fn add_term(&mut self, t: u32) {
        match self.terms.iter_mut().find(|(id, _)| *id == t) {
            Some(e) => e.1 += 1,
            None => self.terms.push((t, 1)),
        }
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.sources.capacity() * 8
            + self.regions.capacity() * 8
            + self.terms.capacity() * 8
            + self
                .samples
                .iter()
                .map(|p| std::mem::size_of::<PostId>() + p.heap_bytes())
                .sum::<usize>()
            + self.evidence.heap_bytes()
    }
}

/// Open bins a watch's buffer keeps room for after a burst.
const KEPT_OPEN_BINS: usize = 2;

/// A watch's open bins (posts counted, the bin not closed yet), sorted by
/// start. A watch has one or two at a time, so a sorted deque: it keeps
/// its buffer (a `BTreeMap` allocated and freed a node of eleven bins for
/// every minute a quiet watch had a post) and moves no neighbours.
/// Checkpoints hold it as before: a map from bin start to bin.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pending {
    bins: VecDeque<Bin>,
}

impl Pending {
    /// Where the bin starting at `start` is (`Ok`) or goes (`Err`).
    /// Posts mostly land in the newest bin: the search is from the back.
    fn find(&self, start: i64) -> Result<usize, usize> {
        match self.bins.iter().rposition(|b| b.start <= start) {
            Some(i) if self.bins[i].start == start => Ok(i),
            Some(i) => Err(i + 1),
            None => Err(0),
        }
    }

    /// The open bin starting at `start`, created empty if there is none.
    pub(crate) fn entry(&mut self, start: i64) -> &mut Bin {
        let i = self.find(start).unwrap_or_else(|i| {
            self.bins.insert(i, Bin::empty(start));
            i
        });
        &mut self.bins[i]
    }

    /// Removes and returns the bin starting at `start`, if open. A buffer
    /// grown by a burst of open bins (a backlog read before its bins
    /// close) is given back once they have closed.
    pub(crate) fn take(&mut self, start: i64) -> Option<Bin> {
        let i = self.bins.iter().position(|b| b.start == start)?;
        let bin = self.bins.remove(i);
        if self.bins.len() <= KEPT_OPEN_BINS && self.bins.capacity() > 4 * KEPT_OPEN_BINS {
            self.bins.shrink_to(KEPT_OPEN_BINS);
        }
        bin
    }

    /// Puts back a bin taken with [`Pending::take`] (or a new one).
    pub(crate) fn put(&mut self, bin: Bin) {
        match self.find(bin.start) {
            Ok(i) => self.bins[i] = bin,
            Err(i) => self.bins.insert(i, bin),
        }
    }

    /// The start of the oldest open bin.
    pub(crate) fn first_start(&self) -> Option<i64> {
        self.bins.front().map(|b| b.start)
    }

    /// Approximate heap bytes held: the bins and what they hold.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bins.capacity() * std::mem::size_of::<Bin>()
            + self.bins.iter().map(Bin::heap_bytes).sum::<usize>()
    }

    /// Changes every bin with `f` (the bins are sorted again after).
    pub(crate) fn for_each_mut(&mut self, f: impl FnMut(&mut Bin)) {
        self.bins.iter_mut().for_each(f);
        self.bins.make_contiguous().sort_by_key(|b| b.start);
    }
}

impl Serialize for Pending {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.bins.iter().map(|b| (b.start, b)))
    }
}

impl<'de> Deserialize<'de> for Pending {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<i64, Bin>::deserialize(d)?;
        Ok(Pending {
            bins: map.into_values().collect(),
        })
    }
}

/// A watch's last closed bins, oldest first, with each bin's volume and
/// forecast also packed beside them: every closed bin sums both over every
/// scale's window, and reading 16 bytes a bin instead of a whole `Bin`
/// (about 240 bytes) keeps those sums in cache. Checkpoints hold the bins
/// alone (the packed pairs are rebuilt from them).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(from = "VecDeque<Bin>")]
pub(crate) struct Window {
    bins: VecDeque<Bin>,
    /// (`volume()`, `expected`) of each bin, in the same order.
    sums: VecDeque<[f64; 2]>,
}

/// Each bin's (volume, expected), in order.
fn packed(bins: &VecDeque<Bin>) -> VecDeque<[f64; 2]> {
    bins.iter().map(|b| [b.volume(), b.expected]).collect()
}

impl From<VecDeque<Bin>> for Window {
    fn from(bins: VecDeque<Bin>) -> Self {
        Window {
            sums: packed(&bins),
            bins,
        }
    }
}

impl Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.bins.serialize(s)
    }
}

impl Window {
    /// Appends a closed bin (its `expected` already set).
    pub(crate) fn push_back(&mut self, bin: Bin) {
        self.sums.push_back([bin.volume(), bin.expected]);
        self.bins.push_back(bin);
    }

    /// Drops the oldest bin.
    pub(crate) fn pop_front(&mut self) {
        self.sums.pop_front();
        self.bins.pop_front();
    }

    pub(crate) fn clear(&mut self) {
        self.sums.clear();
        self.bins.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.bins.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    pub(crate) fn back(&self) -> Option<&Bin> {
        self.bins.back()
    }

    pub(crate) fn iter(&self) -> std::collections::vec_deque::Iter<'_, Bin> {
        self.bins.iter()
    }

    pub(crate) fn range(
        &self,
        r: std::ops::RangeFrom<usize>,
    ) -> std::collections::vec_deque::Iter<'_, Bin> {
        self.bins.range(r)
    }

    /// Approximate heap bytes held: the bins, their packed pairs and what
    /// the bins hold.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bins.capacity() * std::mem::size_of::<Bin>()
            + self.sums.capacity() * std::mem::size_of::<[f64; 2]>()
            + self.bins.iter().map(Bin::heap_bytes).sum::<usize>()
    }

    /// Each bin's (volume, expected), newest first.
    pub(crate) fn sums_newest_first(&self) -> impl Iterator<Item = &[f64; 2]> {
        self.sums.iter().rev()
    }

    /// Changes every bin with `f` (the packed pairs are taken again after).
    pub(crate) fn for_each_mut(&mut self, f: impl FnMut(&mut Bin)) {
        self.bins.iter_mut().for_each(f);
        self.sums = packed(&self.bins);
    }
}

/// Aggregate over the bins of a sliding window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowSummary {
    /// First bin start.
    pub start: i64,
    /// Last bin end.
    pub end: i64,
    /// Posts.
    pub count: u64,
    /// Negative posts.
    pub negative: u64,
    /// Posts with a severe crisis term.
    pub severe: u64,
    /// Posts per crisis kind.
    pub kinds: [u64; 6],
    /// (source, posts), sorted by source id.
    pub sources: Vec<(u32, u64)>,
    /// (region, posts), sorted by region id.
    pub regions: Vec<(u32, u64)>,
    /// (term, hits), most hits first.
    pub terms: Vec<(u32, u64)>,
    /// Sample post ids, newest bin first.
    pub samples: Vec<PostId>,
    /// The largest author reach among the window's posts.
    pub max_reach: u64,
}

impl WindowSummary {
    /// Sources (or regions, whichever is more) that each carry a real part
    /// of the window: at least `min_share` of its posts and at least 2
    /// posts. A burst from one platform stays narrow even when the usual
    /// trickle from other platforms falls in the same window.
    pub fn spread(&self, min_share: f64) -> u32 {
        let floor = ((self.count as f64 * min_share).ceil() as u64).max(2);
        let sig = |v: &[(u32, u64)]| v.iter().filter(|(_, n)| *n >= floor).count() as u32;
        sig(&self.sources).max(sig(&self.regions))
    }

    /// Share of negative posts (0 for an empty window).
    pub fn negative_share(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.negative as f64 / self.count as f64
        }
    }
}

/// The counts of a window (posts, negative and severe posts, crisis kinds,
/// the largest reach, its span) without its lists: sources, regions,
/// terms and samples stay empty. What the detector's tests read on every
/// closed bin, with no allocation; [`summarize`] adds the lists.
pub fn tally<'a, I>(bins: I, bin_ms: i64) -> WindowSummary
where
    I: DoubleEndedIterator<Item = &'a Bin> + Clone,
{
    let mut s = WindowSummary {
        start: bins.clone().next().map_or(0, |b| b.start),
        end: bins.clone().next_back().map_or(0, |b| b.start + bin_ms),
        ..WindowSummary::default()
    };
    for b in bins {
        s.count += u64::from(b.count);
        s.negative += u64::from(b.negative);
        s.severe += u64::from(b.severe);
        s.max_reach = s.max_reach.max(b.max_reach);
        for (k, n) in s.kinds.iter_mut().zip(b.kinds) {
            *k += u64::from(n);
        }
    }
    s
}

/// Summarises `bins` (oldest first).
pub fn summarize<'a, I>(bins: I, bin_ms: i64) -> WindowSummary
where
    I: DoubleEndedIterator<Item = &'a Bin> + Clone,
{
    let mut s = tally(bins.clone(), bin_ms);
    for b in bins.clone() {
        for &(x, n) in &b.sources {
            add_count(&mut s.sources, x, u64::from(n));
        }
        for &(x, n) in &b.regions {
            add_count(&mut s.regions, x, u64::from(n));
        }
        for &(t, n) in &b.terms {
            match s.terms.iter_mut().find(|(id, _)| *id == t) {
                Some(e) => e.1 += u64::from(n),
                None => s.terms.push((t, u64::from(n))),
            }
        }
    }
    for b in bins.rev() {
        for p in &b.samples {
            if s.samples.len() < SAMPLES {
                s.samples.push(p.clone());
            }
        }
    }
    s.terms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    s
}

/// Exponentially weighted mean and variance (West's incremental form).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    /// Mean.
    pub mean: f64,
    /// Variance.
    pub var: f64,
    /// Observations folded in.
    pub n: u64,
}

impl Ewma {
    /// Folds in `x` with weight `alpha`. Early on the weight is `1/n` (a
    /// plain running mean), so the first observations do not bias the
    /// baseline towards the first value for a whole half-life.
    pub fn update(&mut self, x: f64, alpha: f64) {
        if self.n == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let alpha = alpha.max(1.0 / (self.n as f64 + 1.0));
            let diff = x - self.mean;
            let incr = alpha * diff;
            self.mean += incr;
            self.var = (1.0 - alpha) * (self.var + diff * incr);
        }
        self.n += 1;
    }

    /// Folds in `k` zero observations at once (a long empty gap).
    pub fn decay(&mut self, k: u64, alpha: f64) {
        if self.n == 0 || k == 0 {
            self.n += k;
            return;
        }
        let f = (1.0 - alpha).powf(k as f64);
        self.var = self.var * f + self.mean * self.mean * f * (1.0 - f);
        self.mean *= f;
        self.n += k;
    }

    /// Standard deviation.
    pub fn std(&self) -> f64 {
        self.var.max(0.0).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    fn starts(p: &Pending) -> Vec<i64> {
        p.bins.iter().map(|b| b.start).collect()
    }

    #[test]
    fn open_bins_stay_sorted_and_give_back_a_burst_buffer() {
        let mut p = Pending::default();
        for start in [120, 60, 180, 60] {
            p.entry(start).count += 1;
        }
        assert_eq!(starts(&p), [60, 120, 180]);
        assert_eq!(p.bins[0].count, 2);
        let mut bin = p.take(120).expect("open");
        assert_eq!(bin.count, 1);
        assert!(p.take(120).is_none());
        bin.count += 5;
        p.put(bin);
        assert_eq!(starts(&p), [60, 120, 180]);
        assert_eq!(p.bins[1].count, 6);
        assert_eq!(p.first_start(), Some(60));
        // A backlog: 200 open bins, then all but one closed.
        for i in 4..204 {
            p.entry(i * 60);
        }
        assert!(p.bins.capacity() >= 203);
        for start in [60, 120, 180] {
            assert!(p.take(start).is_some());
        }
        for i in 4..203 {
            assert!(p.take(i * 60).is_some());
        }
        assert_eq!(starts(&p), [203 * 60]);
        assert!(
            p.bins.capacity() <= 4 * KEPT_OPEN_BINS,
            "capacity {} kept after the backlog closed",
            p.bins.capacity()
        );
    }

    #[test]
    fn open_bins_and_the_window_checkpoint_as_before() {
        let bin = |start: i64, count: u32, expected: f64| Bin {
            start,
            count,
            expected,
            ..Bin::default()
        };
        // Open bins: a map from start to bin, as the `BTreeMap` wrote it.
        let mut p = Pending::default();
        p.entry(120).count = 3;
        p.entry(60).count = 1;
        let map: std::collections::BTreeMap<i64, Bin> =
            [(60, bin(60, 1, 0.0)), (120, bin(120, 3, 0.0))].into();
        let json = serde_json::to_string(&p).expect("serialise");
        assert_eq!(json, serde_json::to_string(&map).expect("serialise"));
        let back: Pending = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(starts(&back), [60, 120]);
        assert_eq!(back.bins[1].count, 3);
        // The window: its bins alone, the packed sums rebuilt on reading.
        let mut w = Window::default();
        for (i, (count, expected)) in [(2, 1.5), (0, 0.25), (7, 3.0)].into_iter().enumerate() {
            w.push_back(bin(i as i64 * 60, count, expected));
        }
        w.pop_front();
        let bins: VecDeque<Bin> = [bin(60, 0, 0.25), bin(120, 7, 3.0)].into();
        let json = serde_json::to_string(&w).expect("serialise");
        assert_eq!(json, serde_json::to_string(&bins).expect("serialise"));
        let back: Window = serde_json::from_str(&json).expect("deserialise");
        let sums: Vec<[f64; 2]> = back.sums_newest_first().copied().collect();
        assert_eq!(sums, [[7.0, 3.0], [0.0, 0.25]]);
        assert_eq!(sums, w.sums_newest_first().copied().collect::<Vec<_>>());
    }

    #[test]
    fn ewma_tracks_a_constant() {
        let mut e = Ewma::default();
        for _ in 0..100 {
            e.update(10.0, 0.1);
        }
        assert!((e.mean - 10.0).abs() < 1e-9);
        assert!(e.std() < 1e-9);
    }

    #[test]
    fn ewma_decay_matches_repeated_zero_updates() {
        let mut a = Ewma::default();
        let mut b = Ewma::default();
        for x in [5.0, 7.0, 6.0, 9.0] {
            a.update(x, 0.2);
            b.update(x, 0.2);
        }
        for _ in 0..7 {
            a.update(0.0, 0.2);
        }
        // (n >= 5 by then, so 1/n < 0.2 and both use alpha = 0.2.)
        b.decay(7, 0.2);
        assert!((a.mean - b.mean).abs() < 1e-9, "{} {}", a.mean, b.mean);
        assert_eq!(a.n, b.n);
    }

    #[test]
    fn summary_merges_bins() {
        let mut bins = VecDeque::new();
        let mut a = Bin::empty(0);
        a.count = 2;
        a.add_source(1);
        a.add_term(7);
        a.samples.push(PostId::from("a"));
        let mut b = Bin::empty(60);
        b.count = 3;
        b.negative = 3;
        b.add_source(2);
        b.add_source(1);
        b.add_term(7);
        b.add_term(8);
        b.samples.push(PostId::from("b"));
        bins.push_back(a);
        bins.push_back(b);
        let s = summarize(bins.iter(), 60);
        assert_eq!((s.start, s.end, s.count), (0, 120, 5));
        assert_eq!(s.sources, vec![(1, 2), (2, 1)]);
        assert_eq!(s.spread(0.1), 1);
        assert_eq!(s.terms[0], (7, 2));
        assert_eq!(s.samples[0].as_str(), "b");
        assert!((s.negative_share() - 0.6).abs() < 1e-9);
    }
}
