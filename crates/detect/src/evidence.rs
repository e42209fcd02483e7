//! The evidence an alert carries (issue 14): per bin, the stories its posts
//! tell, the tags they carry and a few sample posts; per window, merged
//! into the top stories, the rising terms and the samples.
//!
//! **Stories.** A post joins a bin's story when it reposts that story's
//! post (`repost_of`), or when their SimHash keys are within
//! [`vigil_types::STORY_BITS`] bits (near-duplicates, reposts that repeat
//! the text). Each bin keeps at most [`STORIES_PER_BIN`] stories with the
//! Space-Saving rule (Metwally et al., 2005): a new story when the table
//! is full replaces the story with the fewest posts and inherits that count
//! as its error, so any story with more than `posts / STORIES_PER_BIN` of a
//! bin's posts is kept. The counts shown are the posts seen since a story
//! entered the table (never more than it had). A window's stories are its
//! bins' stories merged by the same rule (repost id, then key).
//!
//! **Rising terms.** Each bin counts its posts' tags: hashtags and
//! crisis-lexicon terms ([`TAGS_PER_BIN`] distinct at most; the watch's own
//! terms are already in `top_terms`). The
//! watch keeps a decayed count per tag (half-life one day, at most
//! [`TAG_BASELINE`] tags, the smallest dropped first) and a decayed count of
//! posts; a tag rises when its share of the window's posts is at least twice
//! its share before and 5 points above it, in at least 2 posts.
//!
//! **Bounds.** Per bin: [`STORIES_PER_BIN`] stories (each a sample post, up to
//! [`MAX_STORY_SOURCES`] sources and counters), [`TAGS_PER_BIN`] tags and
//! [`SAMPLES`] sample posts; texts are excerpts of at most
//! [`vigil_types::EXCERPT_CHARS`] characters, shared (`Arc`) between a
//! bin's samples and its stories. Per watch: [`TAG_BASELINE`] tags. None of
//! it grows with post volume.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vigil_types::{
    same_story, EventTime, Evidence, PostGist, PostId, RisingTerm, SamplePost, ScoredPost, Story,
};

/// Stories kept per bin.
pub const STORIES_PER_BIN: usize = 6;
/// Distinct tags counted per bin.
pub const TAGS_PER_BIN: usize = 32;
/// Tags whose baseline a watch keeps.
pub const TAG_BASELINE: usize = 64;
/// Sources named per story.
pub const MAX_STORY_SOURCES: usize = 8;
/// Sample posts per bin and per alert.
pub const SAMPLES: usize = 5;
/// Stories per alert.
pub const STORIES_PER_ALERT: usize = 5;
/// Rising terms per alert.
pub const RISING_PER_ALERT: usize = 5;

/// One story's tally in a bin (or a window).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoryTally {
    /// SimHash of its first post.
    pub key: u64,
    /// The post its reposts named, when its first post was a repost.
    #[serde(default)]
    pub origin: Option<PostId>,
    /// Posts seen since it entered the table.
    pub posts: u32,
    /// Posts inherited when it replaced another story (Space-Saving error).
    #[serde(default)]
    pub err: u32,
    /// Of `posts`, reposts.
    pub reposts: u32,
    /// Summed author reach.
    pub reach: u64,
    /// Summed engagement.
    pub engagement: u64,
    /// Its first post.
    pub first: Kept,
    /// (interned source, posts), at most [`MAX_STORY_SOURCES`].
    pub sources: Vec<(u32, u32)>,
}

impl StoryTally {
    fn joins(&self, key: u64, repost_of: Option<&PostId>, id: &PostId) -> bool {
        if let Some(o) = repost_of {
            if self.first.id == *o || self.origin.as_ref() == Some(o) {
                return true;
            }
        }
        if let Some(o) = &self.origin {
            if o == id {
                return true;
            }
        }
        same_story(self.key, key)
    }

    fn add_source(&mut self, source: u32, n: u32) {
        if let Some(e) = self.sources.iter_mut().find(|(s, _)| *s == source) {
            e.1 += n;
        } else if self.sources.len() < MAX_STORY_SOURCES {
            self.sources.push((source, n));
        }
    }

    fn absorb(&mut self, other: &StoryTally) {
        self.posts += other.posts;
        self.err += other.err;
        self.reposts += other.reposts;
        self.reach = self.reach.saturating_add(other.reach);
        self.engagement = self.engagement.saturating_add(other.engagement);
        for &(s, n) in &other.sources {
            self.add_source(s, n);
        }
        if other.first.at < self.first.at {
            self.first = other.first.clone();
            self.key = other.key;
        }
        if self.origin.is_none() {
            self.origin = other.origin.clone();
        }
    }
}

/// The evidence of one bin.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BinEvidence {
    /// Stories, at most [`STORIES_PER_BIN`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stories: Vec<StoryTally>,
    /// (tag, posts), at most [`TAGS_PER_BIN`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(Arc<str>, u32)>,
    /// The bin's first posts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Kept>,
}

/// A post detect keeps (a sample, a story's first post): score's gist,
/// shared with the record (no copy), and what the record carries beside
/// it. Keeping one costs one allocation (the id).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    /// What score made of it.
    pub gist: Arc<PostGist>,
    /// Post id.
    pub id: PostId,
    /// Interned source.
    pub source: u32,
    /// Event time.
    pub at: EventTime,
}

impl Kept {
    /// Keeps `post`, from interned `source`.
    pub fn of(post: &ScoredPost, source: u32) -> Kept {
        Kept {
            gist: Arc::clone(&post.gist),
            id: post.post_id.clone(),
            source,
            at: post.published_at,
        }
    }

    /// As an alert shows it.
    pub fn sample(&self, source_name: &impl Fn(u32) -> String) -> SamplePost {
        let g = &self.gist;
        SamplePost {
            id: self.id.clone(),
            source: source_name(self.source),
            published_at: self.at,
            text: Arc::clone(&g.text),
            url: g.url.clone(),
            reach: g.reach,
            author: g.handle.clone(),
        }
    }
}

impl BinEvidence {
    /// Adds one post (its source interned as `source`).
    pub fn add(&mut self, post: &ScoredPost, source: u32) {
        let g = &post.gist;
        if self.samples.len() < SAMPLES {
            self.samples.push(Kept::of(post, source));
        }
        let joined = self
            .stories
            .iter()
            .position(|s| s.joins(g.story, g.repost_of.as_ref(), &post.post_id));
        let i = match joined {
            Some(i) => i,
            None => {
                let fresh = StoryTally {
                    key: g.story,
                    origin: g.repost_of.clone(),
                    posts: 0,
                    err: 0,
                    reposts: 0,
                    reach: 0,
                    engagement: 0,
                    first: match self.samples.last() {
                        Some(s) if s.id == post.post_id => s.clone(),
                        _ => Kept::of(post, source),
                    },
                    sources: Vec::new(),
                };
                if self.stories.len() < STORIES_PER_BIN {
                    self.stories.push(fresh);
                    self.stories.len() - 1
                } else {
                    // Space-Saving: replace the smallest story (the first
                    // of equals), which hands its count on as error.
                    let (i, min) =
                        self.stories
                            .iter()
                            .enumerate()
                            .fold((0, u32::MAX), |(bi, bn), (i, s)| {
                                let n = s.posts + s.err;
                                if n < bn {
                                    (i, n)
                                } else {
                                    (bi, bn)
                                }
                            });
                    self.stories[i] = StoryTally { err: min, ..fresh };
                    i
                }
            }
        };
        let story = &mut self.stories[i];
        story.posts += 1;
        if g.repost {
            story.reposts += 1;
        }
        story.reach = story.reach.saturating_add(g.reach.unwrap_or(0));
        story.engagement = story.engagement.saturating_add(g.engagement.unwrap_or(0));
        story.add_source(source, 1);
        for tag in &g.tags {
            if let Some(e) = self.tags.iter_mut().find(|(t, _)| t == tag) {
                e.1 += 1;
            } else if self.tags.len() < TAGS_PER_BIN {
                self.tags.push((Arc::clone(tag), 1));
            }
        }
    }

    /// Approximate heap bytes held (texts counted once per story and
    /// sample: an upper bound, as they are often shared).
    pub fn heap_bytes(&self) -> usize {
        // Gists are shared with the scored records and often between a
        // bin's samples and stories: counted here as if each were owned.
        let sample = |s: &Kept| {
            std::mem::size_of::<PostGist>()
                + s.id.heap_bytes()
                + s.gist.text.len()
                + s.gist.url.as_ref().map_or(0, |u| u.len())
                + s.gist.handle.as_ref().map_or(0, |a| a.len())
                + s.gist.tags.capacity() * 16
        };
        self.stories.capacity() * std::mem::size_of::<StoryTally>()
            + self
                .stories
                .iter()
                .map(|s| sample(&s.first) + s.sources.capacity() * 8)
                .sum::<usize>()
            + self.tags.capacity() * std::mem::size_of::<(Arc<str>, u32)>()
            + self.tags.iter().map(|(t, _)| t.len()).sum::<usize>()
            + self.samples.capacity() * std::mem::size_of::<Kept>()
            + self.samples.iter().map(sample).sum::<usize>()
    }
}

/// A watch's decayed tag counts: its share of posts per tag "before".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TagBaseline {
    /// Decayed posts.
    pub posts: f64,
    /// (tag, decayed posts carrying it), at most [`TAG_BASELINE`].
    pub tags: Vec<(Arc<str>, f64)>,
}

impl TagBaseline {
    /// Folds in one closed bin with decay `keep` per bin (`0.5^(bin/day)`).
    pub fn learn(&mut self, posts: u32, tags: &[(Arc<str>, u32)], keep: f64) {
        self.posts = self.posts * keep + f64::from(posts);
        for e in &mut self.tags {
            e.1 *= keep;
        }
        for (tag, n) in tags {
            match self.tags.iter_mut().find(|(t, _)| t == tag) {
                Some(e) => e.1 += f64::from(*n),
                None => self.tags.push((Arc::clone(tag), f64::from(*n))),
            }
        }
        if self.tags.len() > TAG_BASELINE {
            self.tags
                .sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            self.tags.truncate(TAG_BASELINE);
        }
        self.tags.retain(|(_, v)| *v > 1e-3);
    }

    /// The share of posts carrying `tag` before (0 when never seen).
    pub fn share(&self, tag: &str) -> f64 {
        if self.posts <= 0.0 {
            return 0.0;
        }
        self.tags
            .iter()
            .find(|(t, _)| &**t == tag)
            .map_or(0.0, |(_, v)| (v / self.posts).min(1.0))
    }

    /// Approximate heap bytes.
    pub fn heap_bytes(&self) -> usize {
        self.tags.capacity() * std::mem::size_of::<(Arc<str>, f64)>()
            + self.tags.iter().map(|(t, _)| t.len()).sum::<usize>()
    }
}

/// Merges the evidence of `bins` (oldest first) holding `posts` posts,
/// against the watch's tag `baseline`; `source_name` names interned sources.
pub fn window_evidence<'a>(
    bins: impl DoubleEndedIterator<Item = &'a BinEvidence> + Clone,
    posts: u64,
    baseline: &TagBaseline,
    source_name: impl Fn(u32) -> String,
) -> Evidence {
    let mut merged: Vec<StoryTally> = Vec::new();
    let mut tags: Vec<(Arc<str>, u64)> = Vec::new();
    for b in bins.clone() {
        for s in &b.stories {
            // The rule a post joins a story by, for a story's first post.
            let target = merged
                .iter_mut()
                .find(|m| m.joins(s.key, s.origin.as_ref(), &s.first.id));
            match target {
                Some(m) => m.absorb(s),
                None => merged.push(s.clone()),
            }
        }
        for (t, n) in &b.tags {
            match tags.iter_mut().find(|(x, _)| x == t) {
                Some(e) => e.1 += u64::from(*n),
                None => tags.push((Arc::clone(t), u64::from(*n))),
            }
        }
    }
    // Most posts first; among equals, the newest story first (what is
    // happening now, not the chatter that led up to it), then the widest
    // reach.
    merged.sort_by(|a, b| {
        b.posts
            .cmp(&a.posts)
            .then(b.first.at.cmp(&a.first.at))
            .then(b.reach.cmp(&a.reach))
            .then_with(|| a.first.id.cmp(&b.first.id))
    });
    merged.truncate(STORIES_PER_ALERT);
    // Samples: the first post of each top story (so they show every
    // story), then the newest bins' first posts.
    let mut samples: Vec<SamplePost> = Vec::new();
    let candidates = merged
        .iter()
        .map(|s| &s.first)
        .chain(bins.rev().flat_map(|b| b.samples.iter()));
    for s in candidates {
        if samples.len() >= SAMPLES {
            break;
        }
        if !samples.iter().any(|x| x.id == s.id) {
            samples.push(s.sample(&source_name));
        }
    }
    let stories = merged
        .into_iter()
        .map(|s| {
            let mut sources = s.sources.clone();
            sources.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            Story {
                text: s.first.gist.text.to_string(),
                posts: u64::from(s.posts),
                originals: u64::from(s.posts - s.reposts),
                reposts: u64::from(s.reposts),
                first_seen: s.first.at,
                first_post: s.first.id.clone(),
                first_source: source_name(s.first.source),
                sources: sources.into_iter().map(|(x, _)| source_name(x)).collect(),
                reach: s.reach,
                engagement: s.engagement,
            }
        })
        .collect();
    let mut rising: Vec<RisingTerm> = tags
        .into_iter()
        .filter_map(|(term, n)| {
            let share = if posts == 0 {
                0.0
            } else {
                (n as f64 / posts as f64).min(1.0)
            };
            let before = baseline.share(&term);
            (n >= 2 && share >= 2.0 * before && share >= before + 0.05).then(|| RisingTerm {
                term: term.to_string(),
                posts: n,
                share: round3(share),
                baseline_share: round3(before),
            })
        })
        .collect();
    rising.sort_by(|a, b| {
        (b.share - b.baseline_share)
            .total_cmp(&(a.share - a.baseline_share))
            .then(b.posts.cmp(&a.posts))
            .then_with(|| a.term.cmp(&b.term))
    });
    rising.truncate(RISING_PER_ALERT);
    Evidence {
        stories,
        rising_terms: rising,
        samples,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The decay per bin of a one-day half-life.
pub fn day_keep(bin_ms: i64) -> f64 {
    0.5f64.powf(bin_ms as f64 / 86_400_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_types::{AuthorId, EventTime, PostGist, WatchId};

    fn post(id: &str, key: u64, repost_of: Option<&str>, t: i64) -> ScoredPost {
        ScoredPost {
            post_id: PostId::from(id),
            watch: WatchId::from("acme"),
            source: "x".into(),
            region: None,
            author: AuthorId::from("a"),
            published_at: EventTime(t),
            hits: vec![],
            sentiment: 0.0,
            kinds: vec![],
            origin_partition: None,
            gist: Arc::new(PostGist {
                story: key,
                repost: repost_of.is_some(),
                repost_of: repost_of.map(PostId::from),
                text: Arc::from(format!("text of {id}")),
                tags: vec![Arc::from("#tag")],
                reach: Some(10),
                ..PostGist::default()
            }),
        }
    }

    /// Keys far apart (32 bits differ between any two of them).
    fn key(i: u64) -> u64 {
        (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
    }

    #[test]
    fn a_repost_joins_its_original_by_id_even_with_another_text() {
        let mut b = BinEvidence::default();
        b.add(&post("o", key(1), None, 0), 0);
        // A truncated retweet: its own key is far from the original's.
        b.add(&post("r1", key(2), Some("o"), 1), 0);
        b.add(&post("r2", key(3), Some("o"), 2), 0);
        assert_eq!(b.stories.len(), 1);
        assert_eq!((b.stories[0].posts, b.stories[0].reposts), (3, 2));
        assert_eq!(b.stories[0].reach, 30);
    }

    #[test]
    fn reposts_seen_before_their_original_merge_in_the_window() {
        // Bin 1 holds only reposts of "o"; bin 2 holds "o" itself.
        let mut b1 = BinEvidence::default();
        b1.add(&post("r1", key(2), Some("o"), 0), 0);
        b1.add(&post("r2", key(2), Some("o"), 1), 0);
        let mut b2 = BinEvidence::default();
        b2.add(&post("o", key(1), None, 60_000), 0);
        let e = window_evidence([&b1, &b2].into_iter(), 3, &TagBaseline::default(), |_| {
            "x".into()
        });
        assert_eq!(e.stories.len(), 1, "{:#?}", e.stories);
        assert_eq!((e.stories[0].posts, e.stories[0].reposts), (3, 2));
        // The earliest post is the story's first.
        assert_eq!(e.stories[0].first_post.as_str(), "r1");
    }

    #[test]
    fn space_saving_keeps_a_heavy_story_among_many_singletons() {
        let mut b = BinEvidence::default();
        let mut t = 0;
        // 100 distinct one-off posts, with a story of 30 posts spread among them.
        for i in 0..100u64 {
            b.add(&post(&format!("s{i}"), key(100 + i), None, t), 0);
            t += 1;
            if i % 3 == 0 && i < 90 {
                b.add(&post(&format!("h{i}"), key(7), None, t), 0);
                t += 1;
            }
        }
        assert_eq!(b.stories.len(), STORIES_PER_BIN);
        let heavy = b.stories.iter().find(|s| s.key == key(7)).expect("kept");
        // Counted since it (last) entered the table: never more than its 30.
        assert!(
            heavy.posts <= 30 && heavy.posts + heavy.err >= 30,
            "{heavy:?}"
        );
        let e = window_evidence([&b].into_iter(), 130, &TagBaseline::default(), |_| {
            "x".into()
        });
        assert_eq!(e.stories[0].first_post.as_str().chars().next(), Some('h'));
    }

    #[test]
    fn a_tag_rises_against_its_own_decayed_share() {
        let mut base = TagBaseline::default();
        let keep = day_keep(60_000);
        // A day in which 10% of posts carry "#tag".
        for _ in 0..1440 {
            base.learn(10, &[(Arc::from("#tag"), 1)], keep);
        }
        assert!(
            (base.share("#tag") - 0.1).abs() < 1e-6,
            "{}",
            base.share("#tag")
        );
        let mut b = BinEvidence::default();
        for i in 0..10 {
            b.add(&post(&format!("p{i}"), key(i), None, i as i64), 0);
        }
        // All 10 posts carry it: 100% against 10% rises.
        let e = window_evidence([&b].into_iter(), 10, &base, |_| "x".into());
        assert_eq!(e.rising_terms.len(), 1);
        assert_eq!(
            (e.rising_terms[0].share, e.rising_terms[0].baseline_share),
            (1.0, 0.1)
        );
        // A tag as common before as now does not.
        let mut usual = TagBaseline::default();
        for _ in 0..1440 {
            usual.learn(10, &[(Arc::from("#tag"), 10)], keep);
        }
        let e = window_evidence([&b].into_iter(), 10, &usual, |_| "x".into());
        assert!(e.rising_terms.is_empty());
    }

    #[test]
    fn the_tag_baseline_stays_bounded() {
        let mut base = TagBaseline::default();
        for i in 0..10_000 {
            base.learn(1, &[(Arc::from(format!("#t{i}")), 1)], day_keep(60_000));
            assert!(base.tags.len() <= TAG_BASELINE);
        }
    }
}

#[cfg(test)]
mod bounds {
    use super::*;
    use vigil_types::{AuthorId, EventTime, Hit, PostGist, WatchId};

    /// The worst case of one bin: every post a new story with a
    /// 280-character Chinese text (3 bytes a character), a link, a handle
    /// and 8 tags; and the watch's tag baseline full. Prints the figures
    /// docs/DESIGN-detect.md quotes.
    #[test]
    fn evidence_bytes_per_bin_and_watch_are_bounded_whatever_the_volume() {
        let mut b = BinEvidence::default();
        for i in 0..10_000u64 {
            let post = ScoredPost {
                post_id: PostId::from(format!("post-{i:012}").as_str()),
                watch: WatchId::from("acme"),
                source: format!("source{}", i % 20),
                region: None,
                author: AuthorId::from("a"),
                published_at: EventTime(i as i64),
                hits: vec![Hit {
                    term: Arc::from("acme"),
                    start: 0,
                    end: 4,
                }],
                sentiment: 0.0,
                kinds: vec![],
                origin_partition: None,
                gist: Arc::new(PostGist {
                    story: i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
                    text: Arc::from("數".repeat(vigil_types::EXCERPT_CHARS).as_str()),
                    tags: (0..8)
                        .map(|t| Arc::from(format!("#tag{}", i * 8 + t).as_str()))
                        .collect(),
                    url: Some(Arc::from(
                        format!("https://x.example/status/{i:020}").as_str(),
                    )),
                    handle: Some(Arc::from("a_handle_of_fifteen")),
                    reach: Some(i),
                    ..PostGist::default()
                }),
            };
            b.add(&post, (i % 20) as u32);
        }
        assert_eq!(b.stories.len(), STORIES_PER_BIN);
        assert_eq!(b.samples.len(), SAMPLES);
        assert_eq!(b.tags.len(), TAGS_PER_BIN);
        let bin = b.heap_bytes();
        let mut base = TagBaseline::default();
        for i in 0..1000 {
            base.learn(
                10,
                &[(Arc::from(format!("#a-long-hashtag-{i:024}").as_str()), 1)],
                0.99,
            );
        }
        let watch = 61 * bin + base.heap_bytes();
        println!(
            "evidence: at most {bin} bytes per bin, {watch} bytes per watch at 61 one-minute bins"
        );
        assert!(bin < 16 * 1024, "{bin} bytes per bin");
        assert!(watch < 1024 * 1024, "{watch} bytes per watch");
    }
}
