//! What a post says, computed once per matched post for the alert's
//! evidence (issue 14): a SimHash story key that groups reposts and
//! near-duplicates, the hashtags it carries, and a trimmed excerpt.
//!
//! The story key is Charikar's SimHash over the
//! character 3-grams of the normalised text, with what differs between
//! copies of one story left out: a leading `rt @user:`, links, `@mentions`,
//! punctuation and spacing. Character shingles work on Chinese without word
//! segmentation. Two texts are one story when their keys differ in at most
//! [`vigil_types::STORY_BITS`] bits.

use std::sync::{Arc, OnceLock};

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use regex::Regex;
use vigil_types::{excerpt_arc, Post, PostGist};

use crate::normalize::is_cjk;

/// The fixed seed of story keys: keys must not change between runs (they
/// sit in detect's checkpoints).
const STORY_SEED: u64 = 0x5649_4749_4c53_5459; // "VIGILSTY"

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

/// The characters a story key is computed over, in order: `normalised`
/// (already lower case, NFKC, simplified, links blanked) without a leading
/// `rt @user:`, without `@mentions`, with every run of non-word characters
/// turned into one space and no space at either end.
fn story_chars(normalised: &str, mut emit: impl FnMut(char)) {
    let mut t = normalised.trim_start();
    if let Some(rest) = t.strip_prefix("rt @") {
        t = rest.split_once(':').map_or("", |(_, r)| r);
    }
    let mut chars = t.chars().peekable();
    // A space is emitted only before the next word character.
    let mut started = false;
    let mut space = false;
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
        let word = if c.is_ascii() {
            c.is_ascii_alphanumeric()
        } else {
            // CJK first: a range check, where `is_alphanumeric` is a table.
            is_cjk(c) || c.is_alphanumeric()
        };
        if word {
            if space && started {
                emit(' ');
            }
            emit(c);
            started = true;
            space = false;
        } else {
            space = true;
        }
    }
}

/// The story key of a normalised text: SimHash (Charikar) over its
/// character 3-grams (the whole text when shorter); 0 for a text with no
/// word characters.
///
/// Each 3-gram is packed into a `u64` (three 21-bit code points) and hashed
/// with foldhash's fixed-seed hasher (deterministic across runs). Bit `i`
/// of the key is set when more than half the 3-grams' hashes have bit `i`
/// set. The 64 counts are kept bit-sliced (`planes[k]` holds bit `k` of
/// every count, and each hash is added to all 64 counts at once with a
/// ripple carry), so a 3-gram costs a few word operations instead of 64
/// adds. The `simhash` crate was measured first: its per-bit saturating
/// loop over SipHash or FNV features took 24% of the whole embedded
/// pipeline's CPU on the 1,000,000-post `vigil gen` file (perf); 64 `i16`
/// adds per 3-gram still took 19% of the scorer's bench.
pub fn story_key(normalised: &str) -> u64 {
    let hasher = FixedState::with_seed(STORY_SEED);
    // Bit-sliced counts of up to 2^32 - 1 hashes.
    let mut planes = [0u64; 32];
    let mut add = |packed: u64| {
        let mut carry = hasher.hash_one(packed);
        for p in &mut planes {
            let next = *p & carry;
            *p ^= carry;
            carry = next;
            if carry == 0 {
                break;
            }
        }
    };
    let mut window = 0u64;
    let mut n = 0u64;
    story_chars(normalised, |c| {
        window = ((window << 21) | u64::from(c as u32)) & ((1 << 63) - 1);
        n += 1;
        if n >= 3 {
            add(window);
        }
    });
    let features = match n {
        0 => return 0,
        1 | 2 => {
            add(window | n << 63);
            1
        }
        _ => n - 2,
    };
    // Bit i is set when count_i > features / 2: a bit-sliced comparison of
    // all 64 counts with that half at once, from the top plane down.
    let half = features / 2;
    let (mut greater, mut equal) = (0u64, u64::MAX);
    for k in (0..(64 - features.leading_zeros()) as usize).rev() {
        let h = if (half >> k) & 1 == 1 { u64::MAX } else { 0 };
        greater |= equal & planes[k] & !h;
        equal &= !(planes[k] ^ h);
    }
    greater
}

/// Hashtags of a normalised text, without their `#` marks, deduplicated,
/// in order of appearance.
pub fn hashtags(normalised: &str, out: &mut Vec<Arc<str>>) {
    if !normalised.contains('#') {
        return;
    }
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
) -> PostGist {
    let mut tags = Vec::new();
    hashtags(normalised, &mut tags);
    for t in lexicon_terms {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    PostGist {
        story: story_key(normalised),
        repost: post.repost_of.is_some() || looks_like_repost(normalised),
        repost_of: post.repost_of.clone(),
        text: excerpt_arc(&post.text),
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
        story_key(&normalize(text))
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
    fn the_bit_sliced_key_is_the_majority_of_the_hashes() {
        // The plain definition: 64 signed counts.
        let plain = |text: &str| {
            let norm = normalize(text);
            let hasher = FixedState::with_seed(STORY_SEED);
            let mut chars = Vec::new();
            story_chars(&norm, |c| chars.push(c));
            let mut counts = [0i64; 64];
            let mut add = |packed: u64| {
                let h = hasher.hash_one(packed);
                for (i, c) in counts.iter_mut().enumerate() {
                    *c += if (h >> i) & 1 == 1 { 1 } else { -1 };
                }
            };
            let pack = |w: &[char]| {
                w.iter().fold(0u64, |a, &c| {
                    ((a << 21) | u64::from(c as u32)) & ((1 << 63) - 1)
                })
            };
            match chars.len() {
                0 => return 0,
                n @ (1 | 2) => add(pack(&chars) | (n as u64) << 63),
                _ => chars.windows(3).for_each(|w| add(pack(w))),
            }
            (0..64).fold(0u64, |k, i| if counts[i] > 0 { k | 1 << i } else { k })
        };
        for text in [
            "a",
            "ab",
            "abc",
            "My Acme X1 battery exploded while charging, burnt my desk.",
            "艾克美X1充电时电池爆炸，把桌子烧了！再也不买了",
            &"long text with many words ".repeat(400),
        ] {
            assert_eq!(key(text), plain(text), "{text:?}");
        }
        assert_eq!(key(" !! "), 0);
    }

    #[test]
    fn repost_shapes() {
        assert!(looks_like_repost(&normalize("RT @a: hi")));
        assert!(looks_like_repost(&normalize("//@小王: 转发")));
        assert!(!looks_like_repost(&normalize("art @ the museum")));
    }
}
