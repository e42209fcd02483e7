//! Vigil's score stage: every watch term and crisis-lexicon term in ONE
//! aho-corasick automaton over normalised text (NFKC, lower case, full-width
//! folded), English terms at word boundaries, Chinese terms anywhere, plus a
//! lexicon-based sentiment score in [-1, 1] for English and Chinese.
//!
//! The core ([`Scorer`]) is pure and synchronous; [`run_score`] is the thin
//! async runner.
//!
//! ```
//! use vigil_score::{Scorer, Scratch, ScoreStats};
//! use vigil_types::{Post, PostId, AuthorId, EventTime};
//! let settings = vigil_config::Settings::from_toml_str(
//!     "[[watches]]\nid = \"acme\"\nterms = [\"acme\", \"艾克美\"]\n", "t.toml", &[]).unwrap();
//! let scorer = Scorer::new(&settings).unwrap();
//! let post = Post {
//!     id: PostId::from("1"), source: "weibo".into(), author: AuthorId::from("a"),
//!     text: "艾克美召回了一批产品".into(), lang: None, region: None,
//!     published_at: EventTime(0), ingested_at: EventTime(0),
//!     repost_of: None, reach: None, engagement: None, url: None, handle: None,
//! };
//! let mut out = Vec::new();
//! scorer.score(&post, &mut Scratch::default(), &mut ScoreStats::default(), &mut out);
//! assert_eq!(out[0].watch.as_str(), "acme");
//! assert!(out[0].kinds.iter().any(|k| k.severe)); // 召回 = recall
//! ```
#![deny(missing_docs)]

mod gist;
mod matcher;
mod normalize;
mod scorer;
mod sentiment;
mod stage;

pub use crate::{
    gist::{gist, hashtags, looks_like_repost, story_key},
    matcher::{Matcher, MatcherError},
    normalize::{is_cjk, is_word_char, normalize, normalize_into, normalize_mapped, OffsetMap},
    scorer::{ScoreStats, Scorer, Scratch},
    sentiment::{SentimentLabel, SentimentRules, SentimentScorer},
    stage::{run_score, ScoreTotals},
};
