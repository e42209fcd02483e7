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
/// Returns whether anything was blanked.
fn blank_urls(s: &mut String) -> bool {
    if !(s.contains("http") || s.contains("www.")) {
        return false;
    }
    let ranges: Vec<(usize, usize)> = url_regex()
        .find_iter(s)
        .map(|m| (m.start(), m.end()))
        .collect();
    if ranges.is_empty() {
        return false;
    }
    let mut bytes = std::mem::take(s).into_bytes();
    for (a, b) in ranges {
        bytes[a..b].fill(b' ');
    }
    // Spaces replace whole UTF-8 sequences, so the bytes stay valid UTF-8.
    *s = String::from_utf8(bytes).expect("blanking whole chars keeps UTF-8 valid");
    true
}

fn push_lower(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        out.extend(c.to_lowercase());
    }
}

/// Whether `c` is a CJK unified ideograph (main block or extension A):
/// NFKC-stable, a starter that composes with nothing, and without case, so
/// normalisation copies it as it is. (The compatibility ideographs, which
/// [`is_cjk`] also covers, decompose and are not included.)
#[inline]
fn is_plain_ideograph(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF)
}

/// `unicode_normalization::is_nfkc_quick` on `s`, with ASCII and plain
/// ideographs (starters that are always allowed) skipped without a table
/// lookup. Same result: the library's loop sets `last_cc = 0` and moves on
/// for exactly these chars.
fn nfkc_quick(s: &str) -> IsNormalized {
    let mut last_cc = 0u8;
    let mut result = IsNormalized::Yes;
    for c in s.chars() {
        if c.is_ascii() || is_plain_ideograph(c) {
            last_cc = 0;
            continue;
        }
        let cc = canonical_combining_class(c);
        if last_cc > cc && cc != 0 {
            return IsNormalized::No;
        }
        // A single char's quick check is its NFKC_QC property.
        match is_nfkc_quick(std::iter::once(c)) {
            IsNormalized::Yes => {}
            IsNormalized::No => return IsNormalized::No,
            IsNormalized::Maybe => result = IsNormalized::Maybe,
        }
        last_cc = cc;
    }
    result
}

/// Canonical combining class, without a lookup for ASCII and ideographs.
#[inline]
fn ccc(c: char) -> u8 {
    if c.is_ascii() || is_plain_ideograph(c) {
        0
    } else {
        canonical_combining_class(c)
    }
}

/// Chars below U+10000 that `fast2s::replace` may change: those its
/// character map changes on their own (found by running it over every
/// 3-byte char between spaces) and the keys of its context-dependent
/// special cases. A text without any of them comes out of `fast2s::replace`
/// unchanged, so it need not be run.
fn t2s_candidates() -> &'static [u64] {
    static SET: OnceLock<Vec<u64>> = OnceLock::new();
    SET.get_or_init(|| {
        // fast2s 0.3's T2S_SPECIAL_CONVERT_TYPE keys (its T2S_EXCLUDE keys
        // only ever keep a char unchanged).
        const SPECIAL: &[char] = &['藉', '著', '苧', '闔', '鍾', '讎', '畫'];
        let mut set = vec![0u64; 0x10000 / 64];
        let chars: Vec<char> = (0x800u32..0x10000).filter_map(char::from_u32).collect();
        let mut s = String::with_capacity(chars.len() * 4 + 1);
        s.push(' ');
        for &c in &chars {
            s.push(c);
            s.push(' ');
        }
        fast2s::replace(&mut s);
        for (&c, d) in chars.iter().zip(s.split(' ').skip(1)) {
            if d.chars().ne(std::iter::once(c)) {
                set[c as usize / 64] |= 1 << (c as usize % 64);
            }
        }
        for &c in SPECIAL {
            set[c as usize / 64] |= 1 << (c as usize % 64);
        }
        set
    })
}

/// Builds the once-per-process tables now (a few ms), so the first
/// non-ASCII post does not pay for them.
pub(crate) fn prepare() {
    let _ = t2s_candidates();
}

/// Whether `fast2s::replace` could change `s`.
fn needs_t2s(s: &str) -> bool {
    let set = t2s_candidates();
    s.chars().any(|c| {
        let u = c as usize;
        c.len_utf8() == 3 && set[u / 64] & (1 << (u % 64)) != 0
    })
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
/// offset map. Returns true when every char of `text` became one char of
/// the same byte length, so that offsets at char boundaries of `out` are
/// the same offsets in `text` and the map is not needed.
///
/// Text made of ASCII and CJK ideographs only (most posts) is copied with
/// ASCII lower-cased; other text already in NFKC is lower-cased char by
/// char; the rest is normalised segment by segment (a starter and its
/// combining marks), ASCII and ideographs copied without a table lookup.
/// `tests::reference` is the plain implementation this must equal.
fn normalize_impl(text: &str, out: &mut String, mut map: Option<&mut OffsetMap>) -> bool {
    out.clear();
    if let Some(m) = map.as_deref_mut() {
        m.points.clear();
    }
    let record = |out: &String, orig: usize, map: &mut Option<&mut OffsetMap>| {
        if let Some(m) = map.as_deref_mut() {
            m.points.push((out.len() as u32, orig as u32));
        }
    };
    let mut same_offsets = true;
    let ascii = text.is_ascii();
    if ascii || text.chars().all(|c| c.is_ascii() || is_plain_ideograph(c)) {
        // Every char is its own segment, unchanged but for ASCII case.
        out.push_str(text);
        out.make_ascii_lowercase();
        if let Some(m) = map.as_deref_mut() {
            m.points
                .extend(text.char_indices().map(|(i, _)| (i as u32, i as u32)));
        }
    } else if nfkc_quick(text) == IsNormalized::Yes {
        out.reserve(text.len());
        let mut cased = false;
        for (i, c) in text.char_indices() {
            record(out, i, &mut map);
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else if is_plain_ideograph(c) {
                out.push(c);
            } else {
                let before = out.len();
                push_lower(out, c);
                cased |= out[before..].chars().ne(std::iter::once(c));
                same_offsets &= is_one_char(&out[before..], c);
            }
        }
        // Text in NFKC can leave it when lower-cased: `İ` followed by a
        // mark of lower class becomes `i`, U+0307 and that mark, out of
        // canonical order.
        if cased && settle(out, map.as_deref_mut()) {
            same_offsets = false;
        }
    } else {
        // Normalise segment by segment (a starter and its combining marks),
        // so each output piece maps to one place in the original.
        out.reserve(text.len() + text.len() / 4);
        let mut iter = text.char_indices().peekable();
        while let Some((seg_start, c)) = iter.next() {
            // Extend the segment over following combining marks.
            let mut end = text.len();
            while let Some(&(j, c2)) = iter.peek() {
                if ccc(c2) != 0 {
                    iter.next();
                } else {
                    end = j;
                    break;
                }
            }
            record(out, seg_start, &mut map);
            let single = seg_start + c.len_utf8() == end;
            if single && c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else if single && is_plain_ideograph(c) {
                out.push(c);
            } else {
                let before = out.len();
                for n in text[seg_start..end].nfkc() {
                    push_lower(out, n);
                }
                same_offsets &= single && is_one_char(&out[before..], c);
            }
        }
        if settle(out, map.as_deref_mut()) {
            same_offsets = false;
        }
    }
    if !ascii && needs_t2s(out) {
        fast2s::replace(out);
    }
    if blank_urls(out) && !ascii {
        // A blanked multi-byte char leaves spaces inside its old extent.
        same_offsets = false;
    }
    if let Some(m) = map {
        m.norm_len = out.len() as u32;
        m.orig_len = text.len() as u32;
    }
    same_offsets
}

/// Lower-casing can leave a non-NFKC sequence (`İ` becomes `i` and a
/// combining dot that may sort before a following mark; some rare
/// scripts): settles `out` so normalising twice equals once. Returns
/// whether `out` changed; the map's offsets inside it are approximate then.
fn settle(out: &mut String, map: Option<&mut OffsetMap>) -> bool {
    if nfkc_quick(out) == IsNormalized::Yes {
        return false;
    }
    let settled: String = out.nfkc().collect();
    if settled == *out {
        return false;
    }
    *out = settled;
    if let Some(m) = map {
        m.points.retain(|p| (p.0 as usize) <= out.len());
    }
    true
}

/// Whether `s` is exactly one char as long in UTF-8 as `c`.
fn is_one_char(s: &str, c: char) -> bool {
    s.len() == c.len_utf8() && s.chars().count() == 1
}

/// Normalises `text` into `out` (cleared first); returns whether offsets in
/// `out` are offsets in `text` (see `normalize_impl`).
pub(crate) fn normalize_same_offsets(text: &str, out: &mut String) -> bool {
    normalize_impl(text, out, None)
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

    /// The plain normaliser the fast paths of `normalize_impl` must equal:
    /// per char or per segment through unicode-normalization, then fast2s
    /// over all non-ASCII output.
    fn reference(text: &str, out: &mut String, mut map: Option<&mut OffsetMap>) {
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
            settle_reference(out, map.as_deref_mut());
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
            settle_reference(out, map.as_deref_mut());
        }
        if !out.is_ascii() {
            fast2s::replace(out);
        }
        let _ = blank_urls(out);
        if let Some(m) = map {
            m.norm_len = out.len() as u32;
            m.orig_len = text.len() as u32;
        }
    }

    /// Lower-casing can leave a non-NFKC sequence: settle it so
    /// normalising twice equals once.
    fn settle_reference(out: &mut String, map: Option<&mut OffsetMap>) {
        if !is_nfkc_quick(out.chars()).eq(&IsNormalized::Yes) {
            let settled: String = out.nfkc().collect();
            if settled != *out {
                *out = settled;
                if let Some(m) = map {
                    // Offsets inside this text are approximate from here.
                    m.points.retain(|p| (p.0 as usize) <= out.len());
                }
            }
        }
    }

    /// Found by the fuzzer (CI, 2026-12-05): `İ` + U+0333 is NFKC, its
    /// lower case `i` U+0307 U+0333 is not (U+0333 sorts first).
    #[test]
    fn dotted_capital_i_before_a_lower_class_mark_settles() {
        for text in ["İ\u{333}", "lm\u{fffd}İ\u{333}", "xİ\u{333}y"] {
            let once = normalize(text);
            assert_eq!(normalize(&once), once, "{text:?}");
            check_against_reference(text).expect("fast path equals the reference");
        }
        assert_eq!(normalize("İ\u{333}"), "i\u{333}\u{307}");
    }

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

        /// The fast paths give the reference's text, offset map and (when
        /// they say offsets are unchanged) an identity map, on any text.
        #[test]
        fn fast_paths_equal_the_reference(s in "\\PC{0,40}|[a-zA-Z數據洩露畫藉著乾艾克美ＡＢ，。、 \u{301}\u{3099}\u{1161}ﬁ①İ\u{333}\u{307}]{0,40}") {
            check_against_reference(&s)?;
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

    fn check_against_reference(s: &str) -> Result<(), TestCaseError> {
        let (mut want, mut want_map) = (String::new(), OffsetMap::default());
        reference(s, &mut want, Some(&mut want_map));
        let (mut got, mut got_map) = (String::new(), OffsetMap::default());
        let same = normalize_impl(s, &mut got, Some(&mut got_map));
        prop_assert_eq!(&got, &want, "text of {:?}", s);
        prop_assert_eq!(&got_map, &want_map, "map of {:?}", s);
        let mut plain = String::new();
        prop_assert_eq!(normalize_same_offsets(s, &mut plain), same);
        prop_assert_eq!(&plain, &want);
        if same {
            for (i, _) in got.char_indices().chain([(got.len(), ' ')]) {
                prop_assert_eq!(
                    want_map.to_original(i as u32),
                    i as u32,
                    "offset {} of {:?}",
                    i,
                    s
                );
            }
        }
        Ok(())
    }

    #[test]
    fn fast_paths_equal_the_reference_on_edge_cases() {
        let cases = [
            "",
            "abc",
            "ABC 艾克美",
            "數據洩露",
            "乾隆 乾淨 計畫 企畫 藉口 憑藉 看著 著",
            "畫",
            "著作",
            "很好，很满意",
            "Cafe\u{301} ok",
            "\u{301}leading mark",
            "e\u{301}\u{327}\u{301}",
            "ﬁre ① ⑴ ㎏",
            "İstanbul ΣΑΣ",
            "\u{1100}\u{1161} 한국",
            "ｈｔｔｐｓ://例子.中国/召回 吧",
            "去 https://例子.中国/召回 吧",
            "www.數據.com 數據",
            "か\u{3099} ゛",
            "豈 \u{2F800}",
        ];
        for s in cases {
            check_against_reference(s).unwrap();
        }
    }

    #[test]
    fn t2s_candidates_cover_fast2s() {
        // Every ideograph that fast2s changes in some context is a
        // candidate, and every candidate maps to a 3-byte char.
        let set = t2s_candidates();
        let is_candidate = |c: char| set[c as usize / 64] & (1 << (c as usize % 64)) != 0;
        let mut others = String::new();
        for c in (0x800u32..0x10000).filter_map(char::from_u32) {
            if is_candidate(c) {
                let mut s = c.to_string();
                fast2s::replace(&mut s);
                assert_eq!(s.len(), 3, "{c} maps to a 3-byte char");
            } else {
                others.push(c);
            }
        }
        let want = others.clone();
        fast2s::replace(&mut others);
        assert!(others == want, "fast2s changed a char that is no candidate");
    }
}
