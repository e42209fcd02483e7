//! The pure score core: a [`Post`] in, one [`ScoredPost`] per matching watch
//! out.

use std::sync::Arc;

use vigil_config::{Query, Settings};
use vigil_types::{CrisisKind, Hit, KindHit, Post, PostGist, ScoredPost, WatchId};

use crate::{
    gist::gist,
    matcher::{Matcher, MatcherError, RawHit, Use},
    normalize::{normalize_mapped, normalize_same_offsets, OffsetMap},
    sentiment::SentimentScorer,
};

/// Per-batch counts, for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScoreStats {
    /// Posts scored.
    pub scored: u64,
    /// Posts that matched at least one watch.
    pub matched: u64,
    /// Term hits per watch index (sparse: only watches that hit).
    pub hits_by_watch: Vec<(u32, u64)>,
}

/// Reusable buffers, so scoring allocates only for its outputs.
#[derive(Debug, Default)]
pub struct Scratch {
    text: String,
    hits: Vec<RawHit>,
    per_watch: Vec<(u32, u32, u32)>, // (watch, query term, index into hits)
    mapped: String,
    map: OffsetMap,
    stats_slot: Vec<u32>, // by watch: index into ScoreStats::hits_by_watch
}

/// The scorer: the matching automaton plus the sentiment lexicon.
#[derive(Debug)]
pub struct Scorer {
    matcher: Matcher,
    sentiment: SentimentScorer,
    watch_ids: Vec<WatchId>,
    queries: Vec<Query>,
    per_term_metrics: bool,
}

impl Scorer {
    /// Builds the scorer for validated settings.
    pub fn new(settings: &Settings) -> Result<Scorer, MatcherError> {
        crate::normalize::prepare();
        Ok(Scorer {
            matcher: Matcher::new(&settings.watches, &settings.lexicons)?,
            sentiment: SentimentScorer::new(),
            watch_ids: settings.watches.iter().map(|w| w.id.clone()).collect(),
            queries: settings.watches.iter().map(|w| w.query.clone()).collect(),
            per_term_metrics: settings.score.per_term_metrics,
        })
    }

    /// True when hits are counted per watch and term
    /// (`score.per_term_metrics`).
    pub fn per_term_metrics(&self) -> bool {
        self.per_term_metrics
    }

    /// The matcher (automaton memory, pattern count).
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Watch id by index.
    pub fn watch_id(&self, index: u32) -> &WatchId {
        &self.watch_ids[index as usize]
    }

    /// Scores one post, appending one [`ScoredPost`] per matching watch to
    /// `out`. Returns the number of records appended.
    pub fn score(
        &self,
        post: &Post,
        scratch: &mut Scratch,
        stats: &mut ScoreStats,
        out: &mut Vec<ScoredPost>,
    ) -> usize {
        stats.scored += 1;
        let same_offsets = normalize_same_offsets(&post.text, &mut scratch.text);
        self.matcher.find(&scratch.text, &mut scratch.hits);
        scratch.per_watch.clear();
        let mut kinds = [(false, false); 6]; // (hit, severe) per kind
        for (i, h) in scratch.hits.iter().enumerate() {
            for u in &self.matcher.uses[h.pattern as usize] {
                match *u {
                    Use::Term { watch, term } => scratch.per_watch.push((watch, term, i as u32)),
                    Use::Kind { kind, severe } => {
                        let k = &mut kinds[kind.index()];
                        k.0 = true;
                        k.1 |= severe;
                    }
                }
            }
        }
        if scratch.per_watch.is_empty() {
            return 0;
        }
        // By watch, then by position in the text.
        scratch.per_watch.sort_unstable_by_key(|&(w, _, h)| (w, h));
        // Shared by every record of the post; computed for the first one.
        let mut shared: Option<(f32, Vec<KindHit>, Arc<PostGist>)> = None;
        // Spans are reported in the original text: when normalisation moved
        // offsets, build the offset map once per matching post.
        let mut map_ready = false;
        let before = out.len();
        let mut i = 0;
        while i < scratch.per_watch.len() {
            let watch = scratch.per_watch[i].0;
            let mut j = i;
            while j < scratch.per_watch.len() && scratch.per_watch[j].0 == watch {
                j += 1;
            }
            let group = &scratch.per_watch[i..j];
            i = j;
            let query = &self.queries[watch as usize];
            if !query.eval(|t| group.iter().any(|&(_, term, _)| term as usize == t)) {
                continue;
            }
            let positive = |&&(_, term, _): &&(u32, u32, u32)| !query.negative_only[term as usize];
            let mut hits = Vec::with_capacity(group.iter().filter(positive).count());
            for &(_, _, hi) in group.iter().filter(positive) {
                let h = scratch.hits[hi as usize];
                let (start, end) = if same_offsets {
                    (h.start, h.end)
                } else {
                    if !map_ready {
                        normalize_mapped(&post.text, &mut scratch.mapped, &mut scratch.map);
                        map_ready = true;
                    }
                    (
                        scratch.map.to_original(h.start),
                        scratch.map.to_original(h.end),
                    )
                };
                hits.push(Hit {
                    term: Arc::clone(&self.matcher.patterns[h.pattern as usize]),
                    start,
                    end,
                });
            }
            add_hits(stats, &mut scratch.stats_slot, watch, hits.len() as u64);
            let (sentiment, kind_hits, gist) = shared.get_or_insert_with(|| {
                let kind_hits = CrisisKind::ALL
                    .iter()
                    .zip(kinds)
                    .filter(|(_, (hit, _))| *hit)
                    .map(|(k, (_, severe))| KindHit { kind: *k, severe })
                    .collect();
                let matcher = &self.matcher;
                let lexicon_terms = scratch
                    .hits
                    .iter()
                    .filter(|h| {
                        matcher.uses[h.pattern as usize]
                            .iter()
                            .any(|u| matches!(u, Use::Kind { .. }))
                    })
                    .map(|h| Arc::clone(&matcher.patterns[h.pattern as usize]));
                let gist = gist(post, &scratch.text, lexicon_terms);
                (
                    self.sentiment.score(&scratch.text),
                    kind_hits,
                    Arc::new(gist),
                )
            });
            out.push(ScoredPost {
                post_id: post.id.clone(),
                watch: self.watch_ids[watch as usize].clone(),
                source: post.source.clone(),
                region: post.region.clone(),
                author: post.author.clone(),
                published_at: post.published_at,
                hits,
                sentiment: *sentiment,
                kinds: kind_hits.clone(),
                origin_partition: None,
                gist: Arc::clone(gist),
            });
        }
        let n = out.len() - before;
        if n > 0 {
            stats.matched += 1;
        }
        n
    }
}

/// Adds `n` hits of `watch` to `stats.hits_by_watch`, finding its entry
/// through `slot` (the entry's index by watch, remembered across posts and
/// checked before use) instead of a scan.
fn add_hits(stats: &mut ScoreStats, slot: &mut Vec<u32>, watch: u32, n: u64) {
    let w = watch as usize;
    if slot.len() <= w {
        slot.resize(w + 1, u32::MAX);
    }
    let entries = &mut stats.hits_by_watch;
    let at = match entries.get(slot[w] as usize) {
        Some(e) if e.0 == watch => slot[w] as usize,
        _ => match entries.iter().position(|e| e.0 == watch) {
            Some(p) => p,
            None => {
                entries.push((watch, 0));
                entries.len() - 1
            }
        },
    };
    slot[w] = at as u32;
    entries[at].1 += n;
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vigil_types::{AuthorId, EventTime, PostId};

    const CONFIG: &str = r##"
[[watches]]
id = "acme"
terms = ["acme", "艾克美"]
exclude = ["acme hotel"]
[[watches]]
id = "acme-hotel"
terms = ["acme hotel"]
[[watches]]
id = "ace"
terms = ["ace"]
[[watches]]
id = "tags"
terms = ["#fail", "@acmehelp"]
[[watches]]
id = "crisis"
query = '(acme OR 艾克美) AND (recall OR 召回 OR "data breach") NOT "acme hotel"'
"##;

    fn scorer() -> Scorer {
        Scorer::new(&Settings::from_toml_str(CONFIG, "t.toml", &[]).unwrap()).unwrap()
    }

    pub(crate) fn post(text: &str) -> Post {
        Post {
            id: PostId::from("p"),
            source: "x".into(),
            author: AuthorId::from("a"),
            text: text.into(),
            lang: None,
            region: None,
            published_at: EventTime(0),
            ingested_at: EventTime(0),
            reach: None,
            engagement: None,
            handle: None,
            repost_of: None,
            url: None,
        }
    }

    fn run(s: &Scorer, text: &str) -> Vec<ScoredPost> {
        let mut out = Vec::new();
        s.score(
            &post(text),
            &mut Scratch::default(),
            &mut ScoreStats::default(),
            &mut out,
        );
        out
    }

    fn watches(out: &[ScoredPost]) -> Vec<&str> {
        out.iter().map(|s| s.watch.as_str()).collect()
    }

    #[test]
    fn table() {
        let s = scorer();
        let cases: &[(&str, &str, &[&str])] = &[
            ("en word", "Acme is great", &["acme"]),
            ("en inside word", "acmes and placement", &[]),
            ("ace not in place", "what a place", &[]),
            ("ace alone", "an ace serve", &["ace"]),
            ("full-width", "ＡＣＭＥ 召回", &["acme", "crisis"]),
            ("zh anywhere", "我买的艾克美手机坏了", &["acme"]),
            (
                "exclude wins for its watch only",
                "the acme hotel was dirty",
                &["acme-hotel"],
            ),
            ("hashtag and mention", "so #fail, cc @acmehelp", &["tags"]),
            ("hashtag needs the hash", "fail", &[]),
            ("punctuation boundary", "(acme)!", &["acme"]),
            ("empty", "", &[]),
            ("emoji only", "😡😡", &[]),
            (
                "query needs both groups",
                "acme recall today",
                &["acme", "crisis"],
            ),
            ("query phrase", "艾克美 data breach", &["acme", "crisis"]),
            ("query NOT phrase", "acme hotel recall", &["acme-hotel"]),
        ];
        for (name, text, want) in cases {
            let out = run(&s, text);
            assert_eq!(watches(&out), *want, "case {name}: {text}");
        }
    }

    #[test]
    fn kinds_and_spans() {
        let s = scorer();
        let out = run(&s, "ACME recall after explosion, lawsuit coming");
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].watch.as_str(), "crisis");
        let terms: Vec<&str> = out[1].hits.iter().map(|h| &*h.term).collect();
        assert_eq!(terms, vec!["acme", "recall"]);
        let p = &out[0];
        assert_eq!(p.hits.len(), 1);
        assert_eq!((p.hits[0].start, p.hits[0].end), (0, 4));
        // Spans are offsets in the original text, whatever normalisation did.
        let text = "快看 ＡＣＭＥ 數據洩露";
        let out = run(&s, text);
        let h = &out[0].hits[0];
        assert_eq!(&text[h.start as usize..h.end as usize], "ＡＣＭＥ");
        let kinds: Vec<_> = p.kinds.iter().map(|k| (k.kind, k.severe)).collect();
        assert!(
            kinds.contains(&(CrisisKind::ProductSafety, true)),
            "{kinds:?}"
        );
        assert!(kinds.contains(&(CrisisKind::Legal, true)), "{kinds:?}");
        assert!(p.sentiment < 0.0);
        let out = run(&s, "艾克美数据泄露");
        assert!(out[0]
            .kinds
            .iter()
            .any(|k| k.kind == CrisisKind::DataBreach && k.severe));
    }

    #[test]
    fn one_record_per_matching_watch() {
        let s = scorer();
        let out = run(&s, "ace says acme is fine");
        assert_eq!(watches(&out), vec!["acme", "ace"]);
        let mut stats = ScoreStats::default();
        s.score(
            &post("acme acme"),
            &mut Scratch::default(),
            &mut stats,
            &mut Vec::new(),
        );
        assert_eq!(stats.matched, 1);
        assert_eq!(stats.hits_by_watch, vec![(0, 2)]);
    }

    #[test]
    fn huge_post_is_scored() {
        let s = scorer();
        let text = "lorem ipsum ".repeat(90_000) + "acme";
        assert_eq!(watches(&run(&s, &text)), vec!["acme"]);
    }
}

#[cfg(test)]
mod props {
    use super::tests::post;
    use super::*;
    use proptest::prelude::*;
    use vigil_config::Expr;

    const WORDS: &[&str] = &["acme", "recall", "data breach", "召回", "艾克美", "hotel"];

    fn render(e: &Expr) -> String {
        match e {
            Expr::Term(i) => format!("\"{}\"", WORDS[*i]),
            Expr::And(v) => format!(
                "({})",
                v.iter().map(render).collect::<Vec<_>>().join(" AND ")
            ),
            Expr::Or(v) => format!(
                "({})",
                v.iter().map(render).collect::<Vec<_>>().join(" OR ")
            ),
            Expr::Not(x) => format!("NOT {}", render(x)),
        }
    }

    fn naive(e: &Expr, text: &str) -> bool {
        match e {
            Expr::Term(i) => {
                let t = WORDS[*i];
                let cjk = t.chars().all(crate::is_cjk);
                text.match_indices(t).any(|(s, m)| {
                    cjk || (!text[..s]
                        .chars()
                        .next_back()
                        .is_some_and(crate::is_word_char)
                        && !text[s + m.len()..]
                            .chars()
                            .next()
                            .is_some_and(crate::is_word_char))
                })
            }
            Expr::And(v) => v.iter().all(|x| naive(x, text)),
            Expr::Or(v) => v.iter().any(|x| naive(x, text)),
            Expr::Not(x) => !naive(x, text),
        }
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let leaf = (0..WORDS.len()).prop_map(Expr::Term);
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
                inner.prop_map(|x| Expr::Not(Box::new(x))),
            ]
        })
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just("acme"),
                Just("ACME"),
                Just("recall"),
                Just("data breach"),
                Just("召回"),
                Just("艾克美"),
                Just("hotel"),
                Just("acmes"),
                Just("x"),
                Just("數據"),
            ],
            0..8,
        )
        .prop_map(|v| v.join(" "))
    }

    proptest! {
        /// The query evaluated from the automaton's hits equals a naive
        /// evaluator that searches the normalised text term by term.
        #[test]
        fn query_matches_naive_evaluator(e in expr(), t in text()) {
            let q = render(&e);
            let toml = format!("[[watches]]\nid = \"q\"\nquery = '{q}'\n");
            let Ok(settings) = Settings::from_toml_str(&toml, "p.toml", &[]) else {
                // Queries that match posts with no term at all are rejected
                // at validation; the naive evaluator agrees they would.
                prop_assert!(naive(&e, ""));
                return Ok(());
            };
            let scorer = Scorer::new(&settings).unwrap();
            let mut out = Vec::new();
            scorer.score(&post(&t), &mut Scratch::default(), &mut ScoreStats::default(), &mut out);
            prop_assert_eq!(!out.is_empty(), naive(&e, &crate::normalize(&t)), "query {} on {}", q, t);
        }

        /// Hit spans are in bounds, on char boundaries of the original text,
        /// and sorted.
        #[test]
        fn hit_spans_in_bounds_and_sorted(t in text(), pad in "[ ＡＢ數據!]{0,4}") {
            let text = format!("{pad}{t}{pad}");
            let settings = Settings::from_toml_str(
                "[[watches]]\nid = \"w\"\nterms = [\"acme\", \"召回\", \"data breach\", \"艾克美\"]\n",
                "p.toml",
                &[],
            )
            .unwrap();
            let scorer = Scorer::new(&settings).unwrap();
            let mut out = Vec::new();
            scorer.score(&post(&text), &mut Scratch::default(), &mut ScoreStats::default(), &mut out);
            for sp in &out {
                let mut last = 0;
                for h in &sp.hits {
                    prop_assert!(h.start < h.end && (h.end as usize) <= text.len());
                    prop_assert!(text.is_char_boundary(h.start as usize) && text.is_char_boundary(h.end as usize));
                    prop_assert!(h.start >= last);
                    last = h.start;
                }
            }
        }
    }
}
