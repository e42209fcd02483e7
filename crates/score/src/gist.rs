//! What a post says, computed once per matched post for the alert's
//! evidence (issue 14): a SimHash story key that groups reposts and
//! near-duplicates, the hashtags it carries, and a trimmed excerpt.
//!
//! The story key is Charikar's SimHash (the `simhash` crate) over the
//! character 3-grams of the normalised text, with what differs between
//! copies of one story left out: a leading `rt @user:`, links, `@mentions`,
//! punctuation and spacing. Character shingles work on Chinese without word
//! segmentation. Two texts are one story when their keys differ in at most
//! [`vigil_types::STORY_BITS`] bits.

use std::sync::{Arc, OnceLock};

use regex::Regex;
use vigil_types::{excerpt, Post, PostGist};

use crate::normalize::is_cjk;

fn hashtag_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // `#tag` (X, Mastodon, Bluesky) and Weibo's `#话题#`; the normalised text
    // has full-width `＃` folded to `#`.
    RE.get_or_init(|| {
        Regex::new(r"#([\p{L}\p{N}_]{1,40}#|[\p{L}\p{N}_]+)").expect("the hashtag pattern is valid")
    })
}

/// Whether a normalised text is a repost by its shape: `rt @user: ...`, or
/// Weibo's `//@user:` forwarding chain at the start.
pub fn looks_like_repost(normalised: &str) -> bool {
    let t = normalised.trim_start();
    t.starts_with("rt @") || t.starts_with("//@")
}

/// The text a story key is computed over: `normalised` (already lower case,
/// NFKC, simplified, links blanked) without a leading `rt @user:`, without
/// `@mentions`, with every run of non-word characters turned into one
/// space.
fn story_text(normalised: &str, out: &mut String) {
    out.clear();
    let mut t = normalised.trim_start();
    if let Some(rest) = t.strip_prefix("rt @") {
        t = rest.split_once(':').map_or("", |(_, r)| r);
    }
    let mut chars = t.chars().peekable();
    let mut space = true;
    while let Some(c) = chars.next() {
        if c == '@' {
            // A mention: skip the handle.
            while chars
                .peek()
                .is_some_and(|&n| n.is_alphanumeric() || n == '_' || n == '-' || n == '.')
            {
                chars.next();
            }
            continue;
        }
        if c.is_alphanumeric() || is_cjk(c) {
            out.push(c);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
}

/// The story key of a normalised text: SimHash over its character
/// 3-grams (the whole text when shorter); 0 for a text with no word
/// characters.
pub fn story_key(normalised: &str, buf: &mut String) -> u64 {
    story_text(normalised, buf);
    if buf.is_empty() {
        return 0;
    }
    let bounds: Vec<usize> = buf
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(buf.len()))
        .collect();
    let chars = bounds.len() - 1;
    if chars < 3 {
        return simhash::simhash_stream(std::iter::once(buf.as_str()));
    }
    let text = buf.as_str();
    simhash::simhash_stream((0..=chars - 3).map(|i| &text[bounds[i]..bounds[i + 3]]))
}

/// Hashtags of a normalised text, without their `#` marks, deduplicated,
/// in order of appearance.
pub fn hashtags(normalised: &str, out: &mut Vec<Arc<str>>) {
    for m in hashtag_regex().captures_iter(normalised) {
        let tag = m[1].trim_end_matches('#').trim();
        if tag.is_empty() {
            continue;
        }
        let tag = format!("#{tag}");
        if !out.iter().any(|t| **t == *tag) {
            out.push(Arc::from(tag));
        }
    }
}

/// The gist of `post`, whose normalised text is `normalised`, with the
/// crisis-lexicon terms it hit (`lexicon_terms`, deduplicated here).
pub fn gist(
    post: &Post,
    normalised: &str,
    lexicon_terms: impl IntoIterator<Item = Arc<str>>,
    buf: &mut String,
) -> PostGist {
    let mut tags = Vec::new();
    hashtags(normalised, &mut tags);
    for t in lexicon_terms {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    PostGist {
        story: story_key(normalised, buf),
        repost: post.repost_of.is_some() || looks_like_repost(normalised),
        repost_of: post.repost_of.clone(),
        text: Arc::from(excerpt(&post.text)),
        tags,
        reach: post.reach,
        engagement: post.engagement.map(|e| e.total()),
        url: post.url.as_deref().map(Arc::from),
        handle: post.handle.as_deref().map(Arc::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;
    use vigil_types::{same_story, STORY_BITS};

    fn key(text: &str) -> u64 {
        story_key(&normalize(text), &mut String::new())
    }

    #[test]
    fn reposts_and_near_duplicates_share_a_story() {
        let original = "My Acme X1 battery exploded while charging, burnt my desk. Never again.";
        let k = key(original);
        for copy in [
            "RT @dana_k: My Acme X1 battery exploded while charging, burnt my desk. Never again.",
            "My Acme X1 battery exploded while charging, burnt my desk. Never again!! https://t.co/abc",
            "@acme_support my acme x1 battery EXPLODED while charging, burnt my desk. never again",
        ] {
            let d = (k ^ key(copy)).count_ones();
            assert!(d <= STORY_BITS, "{copy}: {d} bits from the original");
            assert!(same_story(k, key(copy)));
        }
        for other in [
            "Acme support kept me on hold for two hours and then hung up on me.",
            "The Acme X1 screen cracked after one week, and they refuse a refund.",
        ] {
            let d = (k ^ key(other)).count_ones();
            assert!(
                d > STORY_BITS * 2,
                "{other}: only {d} bits from the original"
            );
        }
    }

    #[test]
    fn chinese_stories_need_no_word_segmentation() {
        let k = key("艾克美X1充电时电池爆炸，把桌子烧了！再也不买了");
        // Traditional script, a forwarding mark and other punctuation.
        let copy = key("//@小王: 艾克美X1充電時電池爆炸,把桌子燒了 再也不買了");
        assert!(same_story(k, copy), "{} bits", (k ^ copy).count_ones());
        let other = key("艾克美客服电话打了两个小时都没人接，太差了");
        assert!((k ^ other).count_ones() > STORY_BITS * 2);
    }

    #[test]
    fn hashtags_in_both_styles() {
        let mut tags = Vec::new();
        hashtags(
            &normalize("Boycott now #BoycottAcme #acme_x1 and #艾克美召回# ok"),
            &mut tags,
        );
        let tags: Vec<&str> = tags.iter().map(|t| &**t).collect();
        assert_eq!(tags, ["#boycottacme", "#acme_x1", "#艾克美召回"]);
    }

    #[test]
    fn repost_shapes() {
        assert!(looks_like_repost(&normalize("RT @a: hi")));
        assert!(looks_like_repost(&normalize("//@小王: 转发")));
        assert!(!looks_like_repost(&normalize("art @ the museum")));
    }
}
