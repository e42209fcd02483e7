//! Text normalisation for matching: Unicode NFKC (which also folds
//! full-width forms to half-width), then lower case.

use unicode_normalization::UnicodeNormalization;

/// Normalises `text` into `out` (cleared first). ASCII text takes a fast
/// path; everything else goes through NFKC and Unicode lower-casing.
pub fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        out.reserve(text.len());
        out.extend(text.chars().map(|c| c.to_ascii_lowercase()));
        return;
    }
    out.reserve(text.len() + text.len() / 4);
    for c in text.nfkc() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
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

    #[test]
    fn table() {
        let cases = [
            ("ascii", "Acme RECALL!", "acme recall!"),
            ("full-width latin", "ＡＣＭＥ　Ｒｅｃａｌｌ", "acme recall"),
            ("full-width digits and punct", "１２３！？", "123!?"),
            ("chinese unchanged", "艾克美召回", "艾克美召回"),
            ("mixed", "Acme 數據洩露 ＯＫ", "acme 數據洩露 ok"),
            ("ligature", "ﬁre", "fire"),
            ("empty", "", ""),
            ("emoji kept", "bad 😡", "bad 😡"),
            ("accents composed", "Cafe\u{301}", "café"),
        ];
        for (name, input, want) in cases {
            assert_eq!(normalize(input), want, "case {name}");
        }
    }

    #[test]
    fn word_chars() {
        assert!(is_word_char('a') && is_word_char('9') && is_word_char('é'));
        assert!(!is_word_char('召') && !is_word_char(' ') && !is_word_char('#'));
    }
}
