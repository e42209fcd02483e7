//! What an alert shows a person: the stories people tell, sample posts with
//! their text, the terms that rose, and the reach behind them (issue 14).

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{EventTime, PostId};

/// Longest excerpt of a post's text carried past score, in characters (a
/// tweet's length): enough to read, bounded whatever a platform allows.
pub const EXCERPT_CHARS: usize = 280;

/// [`excerpt`] as a shared string: `text` itself (no copy) when it is
/// already its own excerpt (the common case: a short post).
pub fn excerpt_arc(text: &Arc<str>) -> Arc<str> {
    // Already its own excerpt: at most EXCERPT_CHARS characters, no space
    // at either end, no whitespace but single plain spaces.
    let mut plain = true;
    let mut chars = 0;
    let mut prev_space = true; // a leading space is not plain
    for c in text.chars() {
        chars += 1;
        let space = c.is_whitespace();
        if space && (c != ' ' || prev_space) || chars > EXCERPT_CHARS {
            plain = false;
            break;
        }
        prev_space = space;
    }
    if plain && !prev_space {
        Arc::clone(text)
    } else {
        Arc::from(excerpt(text))
    }
}

/// The first [`EXCERPT_CHARS`] characters of `text`, whitespace collapsed,
/// with `…` when it was cut.
pub fn excerpt(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(EXCERPT_CHARS * 3));
    let mut chars = 0;
    let mut space = false;
    for c in text.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if chars >= EXCERPT_CHARS {
            out.push('…');
            return out;
        }
        if space && !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        space = false;
        out.push(c);
        chars += 1;
    }
    out
}

/// Two story keys (SimHash, 64 bits) differing in at most this many bits
/// are one story: a copy with a link, a mention or an exclamation mark more
/// still joins its original, a different complaint does not.
pub const STORY_BITS: u32 = 8;

/// Whether two story keys are one story (0 is no key: never joins).
pub fn same_story(a: u64, b: u64) -> bool {
    a != 0 && b != 0 && (a ^ b).count_ones() <= STORY_BITS
}

/// Engagement a platform reported for a post (reposts, likes, replies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engagement {
    /// Reposts / retweets / shares.
    #[serde(default)]
    pub reposts: u64,
    /// Likes / favourites.
    #[serde(default)]
    pub likes: u64,
    /// Replies / comments.
    #[serde(default)]
    pub replies: u64,
}

impl Engagement {
    /// Every interaction counted.
    pub fn total(&self) -> u64 {
        self.reposts
            .saturating_add(self.likes)
            .saturating_add(self.replies)
    }
}

/// A post as an alert shows it: its text (trimmed), where and when, a link
/// when the input had one, and its author's reach.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SamplePost {
    /// Post id.
    pub id: PostId,
    /// Source platform.
    #[serde(default)]
    pub source: String,
    /// Event time.
    pub published_at: EventTime,
    /// The text, trimmed to [`EXCERPT_CHARS`] characters.
    pub text: Arc<str>,
    /// Link to the post, when the input gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Arc<str>>,
    /// The author's followers, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<u64>,
    /// The author's platform handle, only when `ingest.keep_author_handle`
    /// is on (hashed authors are the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Arc<str>>,
}

impl<'de> Deserialize<'de> for SamplePost {
    /// A sample post, or a bare post id (what checkpoints and records
    /// written before issue 14 hold).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Full {
            id: PostId,
            #[serde(default)]
            source: String,
            published_at: EventTime,
            #[serde(default)]
            text: Arc<str>,
            #[serde(default)]
            url: Option<Arc<str>>,
            #[serde(default)]
            reach: Option<u64>,
            #[serde(default)]
            author: Option<Arc<str>>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Id(PostId),
            Full(Full),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Id(id) => SamplePost {
                id,
                source: String::new(),
                published_at: EventTime(0),
                text: Arc::from(""),
                url: None,
                reach: None,
                author: None,
            },
            Raw::Full(f) => SamplePost {
                id: f.id,
                source: f.source,
                published_at: f.published_at,
                text: f.text,
                url: f.url,
                reach: f.reach,
                author: f.author,
            },
        })
    }
}

/// What an alert shows of its window (issue 14): the stories people tell,
/// the terms that rose and sample posts. Spikes and alerts carry it
/// flattened (its three fields sit beside the window's figures in JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What people say: the window's stories, most posts first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stories: Vec<Story>,
    /// Terms, hashtags and crisis terms whose share rose most against the
    /// watch's baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rising_terms: Vec<RisingTerm>,
    /// Sample posts with their text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<SamplePost>,
}

impl Evidence {
    /// No stories, terms or samples (an ongoing spike, a resolve, NAB).
    pub fn is_empty(&self) -> bool {
        self.stories.is_empty() && self.rising_terms.is_empty() && self.samples.is_empty()
    }

    /// [`summary_line`] of these stories and terms.
    pub fn summary_line(&self, max_chars: usize) -> String {
        summary_line(&self.stories, &self.rising_terms, max_chars)
    }
}

/// Posts that say the same thing: an original, its reposts and its
/// near-duplicates, within an alert's window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Story {
    /// What it says: the text of its first post (trimmed).
    pub text: String,
    /// Posts in the window.
    pub posts: u64,
    /// Of which originals (neither reposts nor quotes).
    pub originals: u64,
    /// Of which reposts, retweets and quotes.
    pub reposts: u64,
    /// Its first post in the window.
    pub first_post: PostId,
    /// When that post was published.
    pub first_seen: EventTime,
    /// Where that post came from.
    pub first_source: String,
    /// Every source it was seen on, most posts first.
    pub sources: Vec<String>,
    /// Summed followers of its authors (posts without a reach count 0).
    #[serde(default)]
    pub reach: u64,
    /// Summed engagement the platforms reported.
    #[serde(default)]
    pub engagement: u64,
}

/// A term, hashtag or crisis-lexicon term whose share of a watch's posts
/// rose against the watch's baseline: the "why now".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RisingTerm {
    /// The term as matched (normalised: lower case, simplified Chinese).
    pub term: String,
    /// Posts of the window that carry it.
    pub posts: u64,
    /// Its share of the window's posts, 0 to 1.
    pub share: f64,
    /// Its share of the watch's posts before (decayed over about a day).
    pub baseline_share: f64,
}

impl std::fmt::Display for RisingTerm {
    /// `exploded 76% (was 1%)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:.0}% (was {:.0}%)",
            self.term,
            self.share * 100.0,
            self.baseline_share * 100.0
        )
    }
}

/// One line for a person: the top stories with their counts and the rising
/// terms, at most `max_chars` characters (a receiver's limit).
pub fn summary_line(stories: &[Story], rising: &[RisingTerm], max_chars: usize) -> String {
    let mut parts = Vec::new();
    if !rising.is_empty() {
        let terms: Vec<String> = rising.iter().take(5).map(ToString::to_string).collect();
        parts.push(format!("rising: {}", terms.join(", ")));
    }
    for s in stories.iter().take(3) {
        let text: String = s.text.chars().take(100).collect();
        let cut = if s.text.chars().count() > 100 {
            "…"
        } else {
            ""
        };
        parts.push(format!(
            "{} posts ({} reposts): \"{text}{cut}\"",
            s.posts, s.reposts
        ));
    }
    let line = parts.join(" | ");
    if line.chars().count() <= max_chars {
        line
    } else {
        let mut cut: String = line.chars().take(max_chars.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_excerpt_equals_the_excerpt() {
        for t in [
            "plain text",
            " lead",
            "trail ",
            "a  b",
            "a\tb",
            "a\nb",
            "艾克美 召回",
            "x",
            "",
        ] {
            assert_eq!(&*excerpt_arc(&Arc::from(t)), excerpt(t).as_str(), "{t:?}");
        }
        let long = "y".repeat(EXCERPT_CHARS + 5);
        assert_eq!(
            &*excerpt_arc(&Arc::from(long.as_str())),
            excerpt(&long).as_str()
        );
    }

    #[test]
    fn excerpts_are_trimmed_on_characters_and_collapse_whitespace() {
        assert_eq!(excerpt("  a \n\n b  "), "a b");
        let long = "數".repeat(300);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(
            excerpt(&"x".repeat(EXCERPT_CHARS)),
            "x".repeat(EXCERPT_CHARS)
        );
    }

    #[test]
    fn a_bare_post_id_reads_as_a_sample_post() {
        let s: SamplePost = serde_json::from_str("\"p1\"").unwrap();
        assert_eq!(s.id.as_str(), "p1");
        let full = SamplePost {
            id: PostId::from("p2"),
            source: "weibo".into(),
            published_at: EventTime(5),
            text: Arc::from("召回"),
            url: Some(Arc::from("https://example.com/p2")),
            reach: Some(10),
            author: None,
        };
        let back: SamplePost =
            serde_json::from_str(&serde_json::to_string(&full).unwrap()).unwrap();
        assert_eq!(back, full);
    }

    #[test]
    fn the_summary_line_names_stories_and_terms_within_its_limit() {
        let story = Story {
            text: "the acme x1 battery exploded on my desk".into(),
            posts: 41,
            originals: 1,
            reposts: 40,
            first_post: PostId::from("p1"),
            first_seen: EventTime(0),
            first_source: "x".into(),
            sources: vec!["x".into()],
            reach: 0,
            engagement: 0,
        };
        let rising = RisingTerm {
            term: "exploded".into(),
            posts: 41,
            share: 0.8,
            baseline_share: 0.01,
        };
        let line = summary_line(
            std::slice::from_ref(&story),
            std::slice::from_ref(&rising),
            500,
        );
        assert_eq!(
            line,
            "rising: exploded 80% (was 1%) | 41 posts (40 reposts): \"the acme x1 battery exploded on my desk\""
        );
        let short = summary_line(&[story], &[rising], 20);
        assert_eq!(short.chars().count(), 20);
        assert!(short.ends_with('…'));
    }
}
