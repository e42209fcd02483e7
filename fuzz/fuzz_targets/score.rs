//! Fuzzes the normaliser and the scorer with arbitrary bytes, read as UTF-8
//! lossily. It checks the properties the crate's proptests check, on any
//! input instead of generated ones:
//!
//! - normalising twice equals normalising once;
//! - `normalize_mapped` gives the same text as `normalize`;
//! - the offset map sends every char boundary of the normalised text to a
//!   char boundary inside the original text;
//! - every hit span is non-empty, inside the original text, on char
//!   boundaries, and the hits of a record are sorted by start;
//! - sentiment is finite and in [-1, 1];
//! - nothing panics.
//!
//! Run it with `scripts/fuzz.sh` (stable toolchain, `--sanitizer none`).
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use vigil_config::Settings;
use vigil_score::{
    normalize, normalize_mapped, OffsetMap, ScoreStats, Scorer, Scratch, SentimentScorer,
};
use vigil_types::{AuthorId, EventTime, Post, PostId};

/// A small fixed set of English and Chinese watches: plain terms, an
/// exclusion, hashtags and mentions, a full-width and a Traditional term
/// (normalised when the automaton is built), and queries with phrases, OR,
/// AND and NOT. The crisis lexicons are the built-in ones.
const WATCHES: &str = r##"
[[watches]]
id = "acme"
terms = ["acme", "艾克美", "ＡＣＭＥ Phone"]
exclude = ["acme hotel"]

[[watches]]
id = "acme-hotel"
terms = ["acme hotel"]

[[watches]]
id = "tags"
terms = ["#fail", "@acmehelp", "#艾克美"]

[[watches]]
id = "zh"
terms = ["數據洩露", "召回", "小米"]

[[watches]]
id = "crisis"
query = '(acme OR 艾克美) AND (recall OR 召回 OR "data breach" OR 数据泄露) NOT "acme hotel"'

[[watches]]
id = "outage"
query = '("service down" OR outage OR 宕机) AND NOT (test OR 测试)'
"##;

struct Fixture {
    scorer: Scorer,
    sentiment: SentimentScorer,
    /// Reused across inputs, as the score stage reuses it across posts.
    scratch: Mutex<Scratch>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let settings =
            Settings::from_toml_str(WATCHES, "fuzz.toml", &[]).expect("the fuzz watches are valid");
        Fixture {
            scorer: Scorer::new(&settings).expect("the fuzz automaton builds"),
            sentiment: SentimentScorer::new(),
            scratch: Mutex::new(Scratch::default()),
        }
    })
}

fn check_sentiment(c: f32, what: &str) {
    assert!(
        c.is_finite() && (-1.0..=1.0).contains(&c),
        "{what} sentiment {c} is not in [-1, 1]"
    );
}

fn check_normalise(text: &str, f: &Fixture) {
    let once = normalize(text);
    assert_eq!(
        normalize(&once),
        once,
        "normalising twice differs from once"
    );

    let mut mapped = String::new();
    let mut map = OffsetMap::default();
    normalize_mapped(text, &mut mapped, &mut map);
    assert_eq!(mapped, once, "normalize_mapped differs from normalize");
    for n in mapped.char_indices().map(|(i, _)| i).chain([mapped.len()]) {
        let o = map.to_original(n as u32) as usize;
        assert!(
            o <= text.len() && text.is_char_boundary(o),
            "normalised offset {n} maps to {o}, not a char boundary of the {}-byte original",
            text.len()
        );
    }

    check_sentiment(f.sentiment.score(&once), "normalised text");
}

fn check_score(text: &str, f: &Fixture) {
    let post = Post {
        id: PostId::from("fuzz"),
        source: "fuzz".into(),
        author: AuthorId::from("fuzz"),
        text: text.into(),
        lang: None,
        region: None,
        published_at: EventTime(0),
        ingested_at: EventTime(0),
        repost_of: None,
        reach: None,
        engagement: None,
        url: None,
        handle: None,
    };
    let mut scratch = f.scratch.lock().unwrap_or_else(|e| e.into_inner());
    let mut stats = ScoreStats::default();
    let mut out = Vec::new();
    let n = f.scorer.score(&post, &mut scratch, &mut stats, &mut out);
    assert_eq!(
        n,
        out.len(),
        "score returned {n} but appended {}",
        out.len()
    );
    assert_eq!(stats.scored, 1);
    assert_eq!(stats.matched, u64::from(n > 0));
    for sp in &out {
        check_sentiment(sp.sentiment, "scored post");
        let mut last = 0;
        for h in &sp.hits {
            let (s, e) = (h.start as usize, h.end as usize);
            assert!(
                s < e && e <= text.len(),
                "watch {} term {:?}: span {s}..{e} is empty or outside the {}-byte original",
                sp.watch.as_str(),
                h.term,
                text.len()
            );
            assert!(
                text.is_char_boundary(s) && text.is_char_boundary(e),
                "watch {} term {:?}: span {s}..{e} is not on char boundaries",
                sp.watch.as_str(),
                h.term
            );
            assert!(
                s >= last,
                "watch {}: hits are not sorted by start",
                sp.watch.as_str()
            );
            last = s;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let text = String::from_utf8_lossy(data);
    check_normalise(&text, f);
    check_score(&text, f);
});
