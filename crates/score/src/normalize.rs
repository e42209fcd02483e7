//! Text normalisation for matching: Unicode NFKC (which also folds
//! full-width forms to half-width), lower case, Traditional -> Simplified
//! Chinese (fast2s, MIT; character for character, so byte offsets are kept),
//! and URLs blanked out (so `https://acme.example/recall` matches neither
//! `acme` nor `recall`). Spans in the normalised text map back to the
//! original with [`OffsetMap`].

use std::sync::OnceLock;

use regex::Regex;
use unicode_normalization::{
    char::canonical_combining_class, is_nfkc_quick, IsNormalized, UnicodeNormalization,
};

fn url_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?:https?://|www\.)[^\s]+").expect("the URL pattern is valid"))
}

/// Replaces every URL's bytes with spaces (keeps length and offsets).
fn blank_urls(s: &mut String) {
    if !(s.contains("http") || s.contains("www.")) {
        return;
    }
    let ranges: Vec<(usize, usize)> = url_regex()
        .find_iter(s)
        .map(|m| (m.start(), m.end()))
        .collect();
    if ranges.is_empty() {
        return;
    }
    let mut bytes = std::mem::take(s).into_bytes();
    for (a, b) in ranges {
        bytes[a..b].fill(b' ');
    }
    // Spaces replace whole UTF-8 sequences, so the bytes stay valid UTF-8.
    *s = String::from_utf8(bytes).expect("blanking whole chars keeps UTF-8 valid");
}

fn push_lower(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        out.extend(c.to_lowercase());
    }
}

/// Maps byte offsets of the normalised text back to the original text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetMap {
    /// (normalised offset, original offset) at each segment start, ascending.
    points: Vec<(u32, u32)>,
    norm_len: u32,
    orig_len: u32,
}

impl OffsetMap {
    /// The original byte offset of normalised offset `n` (a segment start
    /// or end; offsets inside a segment map to its start).
    pub fn to_original(&self, n: u32) -> u32 {
        if n >= self.norm_len {
            return self.orig_len;
        }
        match self.points.binary_search_by_key(&n, |p| p.0) {
            Ok(i) => self.points[i].1,
            Err(0) => 0,
            Err(i) => self.points[i - 1].1,
        }
    }
}

/// Normalises `text` into `out` (cleared first), optionally recording the
/// offset map. ASCII text takes a fast path; text already in NFKC skips the
/// composition step.
fn normalize_impl(text: &str, out: &mut String, mut map: Option<&mut OffsetMap>) {
    out.clear();
    if let Some(m) = map.as_deref_mut() {
        m.points.clear();
    }
    let record = |out: &String, orig: usize, map: &mut Option<&mut OffsetMap>| {
        if let Some(m) = map.as_deref_mut() {
            m.points.push((out.len() as u32, orig as u32));
        }
    };
    if text.is_ascii() {
        out.reserve(text.len());
        if map.is_some() {
            for (i, c) in text.char_indices() {
                record(out, i, &mut map);
                out.push(c.to_ascii_lowercase());
            }
        } else {
            out.extend(text.chars().map(|c| c.to_ascii_lowercase()));
        }
    } else if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        out.reserve(text.len());
        for (i, c) in text.char_indices() {
            record(out, i, &mut map);
            push_lower(out, c);
        }
    } else {
        // Normalise segment by segment (a starter and its combining marks),
        // so each output piece maps to one place in the original.
        out.reserve(text.len() + text.len() / 4);
        let mut seg_start = 0;
        let mut iter = text.char_indices().peekable();
        while let Some((i, _)) = iter.next() {
            if i == seg_start {
                // Extend the segment over following combining marks.
                let mut end = text.len();
                while let Some(&(j, c2)) = iter.peek() {
                    if canonical_combining_class(c2) != 0 {
                        iter.next();
                    } else {
                        end = j;
                        break;
                    }
                }
                record(out, seg_start, &mut map);
                for c in text[seg_start..end].nfkc() {
                    push_lower(out, c);
                }
                seg_start = end;
            }
        }
        if !is_nfkc_quick(out.chars()).eq(&IsNormalized::Yes) {
            // Lower-casing can leave a non-NFKC sequence in rare scripts:
            // settle it so normalising twice equals once.
            let settled: String = out.nfkc().collect();
            if settled != *out {
                *out = settled;
                if let Some(m) = map.as_deref_mut() {
                    // Offsets inside this text are approximate from here.
                    m.points.retain(|p| (p.0 as usize) <= out.len());
                }
            }
        }
    }
    if !out.is_ascii() {
        fast2s::replace(out);
    }
    blank_urls(out);
    if let Some(m) = map {
        m.norm_len = out.len() as u32;
        m.orig_len = text.len() as u32;
    }
}

/// Normalises `text` into `out` (cleared first).
pub fn normalize_into(text: &str, out: &mut String) {
    normalize_impl(text, out, None);
}

/// Normalises `text` into `out` and records how to map spans back.
pub fn normalize_mapped(text: &str, out: &mut String, map: &mut OffsetMap) {
    normalize_impl(text, out, Some(map));
}

/// Normalises `text` into a new string.
pub fn normalize(text: &str) -> String {
    let mut s = String::new();
    normalize_into(text, &mut s);
    s
}

/// Whether `c` is a CJK ideograph, kana or hangul: terms in these scripts
/// match anywhere, not only at word boundaries.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK Extension A
        | 0x4E00..=0x9FFF // CJK Unified Ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // CJK Compatibility Ideographs
        | 0x20000..=0x2FA1F)
}

/// Whether `c` is part of a word for boundary checks: alphanumeric and not
/// CJK (CJK text has no spaces between words).
pub fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() || c == '_') && !is_cjk(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases = [
            ("ascii", "Acme RECALL!", "acme recall!"),
            ("full-width latin", "ＡＣＭＥ　Ｒｅｃａｌｌ", "acme recall"),
            ("full-width digits and punct", "１２３！？", "123!?"),
            ("simplified unchanged", "艾克美召回", "艾克美召回"),
            ("traditional folded", "數據洩露", "数据泄露"),
            ("mixed", "Acme 數據洩露 ＯＫ", "acme 数据泄露 ok"),
            ("ligature", "ﬁre", "fire"),
            ("empty", "", ""),
            ("emoji kept", "bad 😡", "bad 😡"),
            ("accents composed", "Cafe\u{301}", "café"),
            ("hashtag kept", "#AcmeFail @AcmeHelp", "#acmefail @acmehelp"),
        ];
        for (name, input, want) in cases {
            assert_eq!(normalize(input), want, "case {name}");
        }
        let url = "https://acme.example/recall";
        assert_eq!(
            normalize(&format!("see {url} now")),
            format!("see {} now", " ".repeat(url.len()))
        );
        assert_eq!(normalize("www.acme.example"), " ".repeat(16));
        assert_eq!(
            normalize("去 https://例子.中国/召回 吧"),
            format!("去 {} 吧", " ".repeat("https://例子.中国/召回".len()))
        );
    }

    #[test]
    fn spans_map_back_to_the_original() {
        let text = "ＡＣＭＥ 數據洩露 Café!";
        let mut out = String::new();
        let mut map = OffsetMap::default();
        normalize_mapped(text, &mut out, &mut map);
        assert_eq!(out, "acme 数据泄露 café!");
        let find = |needle: &str| {
            let s = out.find(needle).unwrap() as u32;
            let e = s + needle.len() as u32;
            &text[map.to_original(s) as usize..map.to_original(e) as usize]
        };
        assert_eq!(find("acme"), "ＡＣＭＥ");
        assert_eq!(find("数据泄露"), "數據洩露");
        assert_eq!(find("café"), "Café");
        let mut plain = String::new();
        normalize_into(text, &mut plain);
        assert_eq!(plain, out, "mapped and plain normalisation agree");
    }

    #[test]
    fn huge_post() {
        let text = "Ａ".repeat(1 << 18) + "數據"; // about 1 MiB
        let n = normalize(&text);
        assert!(n.ends_with("数据"));
        assert_eq!(n.len(), (1 << 18) + 6);
    }

    #[test]
    fn word_chars() {
        assert!(is_word_char('a') && is_word_char('9') && is_word_char('é'));
        assert!(!is_word_char('召') && !is_word_char(' ') && !is_word_char('#'));
    }

    proptest! {
        #[test]
        fn normalising_twice_equals_once(s in "\\PC{0,60}") {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once);
        }

        #[test]
        fn mapped_equals_plain_and_offsets_stay_in_bounds(s in "[a-zA-Zａ-ｚＡ-Ｚ數據洩露召回 é\u{301}!#]{0,40}") {
            let mut out = String::new();
            let mut map = OffsetMap::default();
            normalize_mapped(&s, &mut out, &mut map);
            prop_assert_eq!(&out, &normalize(&s));
            for (i, _) in out.char_indices() {
                let o = map.to_original(i as u32) as usize;
                prop_assert!(o <= s.len() && s.is_char_boundary(o));
            }
        }
    }
}
