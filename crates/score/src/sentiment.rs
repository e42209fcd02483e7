//! A small lexicon-based sentiment scorer for English and Chinese, with
//! negation, intensifiers, contrast ("but", 但是), emoji and exclamation.
//! Scores follow VADER's arithmetic: term valences in [-4, 4] are summed and
//! squashed into a compound score in [-1, 1] by `s / sqrt(s² + 15)`.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::normalize::is_word_char;

const EN_LEXICON: &str = include_str!("../../../config/sentiment/en.tsv");
const ZH_LEXICON: &str = include_str!("../../../config/sentiment/zh.tsv");

/// VADER's damping of a negated valence.
const NEGATION_SCALAR: f32 = -0.74;
/// VADER's boost per intensifier.
const BOOST: f32 = 0.293;
/// Added per exclamation mark (at most 4), in the direction of the sum.
const EXCLAMATION: f32 = 0.292;
const ALPHA: f32 = 15.0;

const EN_NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot",
    "cant", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent", "wont", "wouldnt",
    "shouldnt", "couldnt", "hasnt", "havent", "hadnt", "aint",
];
const EN_BOOSTERS: &[(&str, f32)] = &[
    ("very", BOOST),
    ("really", BOOST),
    ("extremely", BOOST),
    ("so", BOOST),
    ("totally", BOOST),
    ("absolutely", BOOST),
    ("incredibly", BOOST),
    ("completely", BOOST),
    ("super", BOOST),
    ("most", BOOST),
    ("slightly", -BOOST),
    ("somewhat", -BOOST),
    ("barely", -BOOST),
    ("kinda", -BOOST),
    ("little", -BOOST),
];
const ZH_NEGATIONS: &[&str] = &["不", "没", "没有", "别", "无", "未", "非", "不是", "不太", "并不"];
const ZH_BOOSTERS: &[(&str, f32)] = &[
    ("很", BOOST),
    ("非常", BOOST),
    ("太", BOOST),
    ("超", BOOST),
    ("特别", BOOST),
    ("极", BOOST),
    ("十分", BOOST),
    ("真", BOOST),
    ("有点", -BOOST),
    ("稍微", -BOOST),
];
const ZH_CONTRAST: &[&str] = &["但是", "可是", "但", "不过", "然而"];
const EMOJI: &[(&str, f32)] = &[
    ("😀", 2.0),
    ("😃", 2.0),
    ("😄", 2.0),
    ("😊", 2.0),
    ("😍", 2.8),
    ("❤", 2.5),
    ("👍", 1.8),
    ("🎉", 2.0),
    ("🙏", 1.0),
    ("😂", 1.2),
    ("😡", -2.8),
    ("😠", -2.4),
    ("🤬", -3.0),
    ("👎", -2.0),
    ("💔", -2.4),
    ("😭", -2.0),
    ("😢", -2.0),
    ("😱", -1.8),
    ("😤", -1.8),
    ("🔥", 0.0),
    (":)", 1.5),
    (":-)", 1.5),
    (":(", -1.8),
    (":-(", -1.8),
];

/// Sentiment label from a compound score (VADER's ±0.05 thresholds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SentimentLabel {
    /// compound >= 0.05
    Positive,
    /// in between
    Neutral,
    /// compound <= -0.05
    Negative,
}

impl SentimentLabel {
    /// Label of a compound score.
    pub fn of(compound: f32) -> SentimentLabel {
        if compound >= 0.05 {
            SentimentLabel::Positive
        } else if compound <= -0.05 {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        }
    }
}

fn parse_tsv(text: &str) -> Vec<(String, f32)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (t, v) = l.split_once('\t')?;
            Some((t.trim().to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum ZhRole {
    Word(f32),
    Negation,
    Booster(f32),
    Contrast,
}

/// The sentiment scorer (built once, shared read-only).
#[derive(Debug)]
pub struct SentimentScorer {
    en: HashMap<String, f32>,
    en_boost: HashMap<&'static str, f32>,
    zh: AhoCorasick,
    zh_roles: Vec<ZhRole>,
    emoji: AhoCorasick,
    emoji_valence: Vec<f32>,
}

impl Default for SentimentScorer {
    fn default() -> Self {
        SentimentScorer::new()
    }
}

fn squash(sum: f32) -> f32 {
    (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

impl SentimentScorer {
    /// The built-in lexicons.
    pub fn new() -> SentimentScorer {
        let en = parse_tsv(EN_LEXICON).into_iter().collect();
        let en_boost = EN_BOOSTERS.iter().copied().collect();
        let mut zh_terms = Vec::new();
        let mut zh_roles = Vec::new();
        for (t, v) in parse_tsv(ZH_LEXICON) {
            zh_terms.push(t);
            zh_roles.push(ZhRole::Word(v));
        }
        for n in ZH_NEGATIONS {
            zh_terms.push(n.to_string());
            zh_roles.push(ZhRole::Negation);
        }
        for (b, v) in ZH_BOOSTERS {
            zh_terms.push(b.to_string());
            zh_roles.push(ZhRole::Booster(*v));
        }
        for c in ZH_CONTRAST {
            zh_terms.push(c.to_string());
            zh_roles.push(ZhRole::Contrast);
        }
        let zh = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&zh_terms)
            .expect("built-in Chinese lexicon builds");
        let emoji = AhoCorasick::new(EMOJI.iter().map(|(e, _)| *e))
            .expect("built-in emoji list builds");
        SentimentScorer {
            en,
            en_boost,
            zh,
            zh_roles,
            emoji,
            emoji_valence: EMOJI.iter().map(|(_, v)| *v).collect(),
        }
    }

    /// Compound score in [-1, 1] of normalised (lower-cased) `text`.
    pub fn score(&self, text: &str) -> f32 {
        let mut sum = self.score_en(text) + self.score_zh(text);
        for m in self.emoji.find_iter(text) {
            sum += self.emoji_valence[m.pattern().as_usize()];
        }
        if sum != 0.0 {
            let bangs = text.matches('!').count().min(4) as f32;
            sum += bangs * EXCLAMATION * sum.signum();
        }
        squash(sum)
    }

    fn score_en(&self, text: &str) -> f32 {
        if !text.bytes().any(|b| b.is_ascii_alphabetic()) {
            return 0.0;
        }
        let tokens: Vec<String> = text
            .split(|c: char| !(is_word_char(c) || c == '\''))
            .filter(|t| !t.is_empty())
            .map(|t| t.replace('\'', ""))
            .collect();
        let mut before_but = 0.0f32;
        let mut sum = 0.0f32;
        for (i, tok) in tokens.iter().enumerate() {
            if tok == "but" {
                before_but += sum;
                sum = 0.0;
                continue;
            }
            let Some(&v) = self.en.get(tok.as_str()) else {
                continue;
            };
            let mut v = v;
            let lo = i.saturating_sub(3);
            for (dist, prev) in tokens[lo..i].iter().rev().enumerate() {
                if let Some(b) = self.en_boost.get(prev.as_str()) {
                    let scale = [1.0, 0.95, 0.9][dist.min(2)];
                    v += b * scale * v.signum();
                }
            }
            let negated = tokens[lo..i]
                .iter()
                .any(|p| EN_NEGATIONS.contains(&p.as_str()));
            if negated {
                v *= NEGATION_SCALAR;
            }
            sum += v;
        }
        if before_but != 0.0 {
            // Contrast: what follows "but" weighs more than what precedes it.
            before_but * 0.5 + sum * 1.5
        } else {
            sum
        }
    }

    fn score_zh(&self, text: &str) -> f32 {
        if text.is_ascii() {
            return 0.0;
        }
        let mut sum = 0.0f32;
        let mut before_contrast = 0.0f32;
        let mut contrast = false;
        let mut negated_at: Option<usize> = None;
        let mut boost = 0.0f32;
        let mut boost_at: Option<usize> = None;
        for m in self.zh.find_iter(text) {
            match self.zh_roles[m.pattern().as_usize()] {
                ZhRole::Negation => negated_at = Some(m.end()),
                ZhRole::Booster(b) => {
                    boost = b;
                    boost_at = Some(m.end());
                }
                ZhRole::Contrast => {
                    before_contrast += sum;
                    sum = 0.0;
                    contrast = true;
                    negated_at = None;
                    boost_at = None;
                }
                ZhRole::Word(v) => {
                    let mut v = v;
                    // Modifiers count within 6 bytes (two CJK characters).
                    if boost_at.is_some_and(|e| m.start() - e <= 6) {
                        v += boost * v.signum();
                    }
                    if negated_at.is_some_and(|e| m.start() - e <= 6) {
                        v *= NEGATION_SCALAR;
                    }
                    sum += v;
                    negated_at = None;
                    boost_at = None;
                }
            }
        }
        if contrast {
            before_contrast * 0.5 + sum * 1.5
        } else {
            sum
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let s = SentimentScorer::new();
        use SentimentLabel::*;
        let cases = [
            ("plain positive", "i love this phone", Positive),
            ("plain negative", "this is terrible", Negative),
            ("neutral", "the phone is blue", Neutral),
            ("negation flips", "this is not good", Negative),
            ("contraction negation", "i don't like it", Negative),
            ("contrast", "the screen is great but the battery is terrible", Negative),
            ("zh positive", "这个手机很好用，我很喜欢", Positive),
            ("zh negative", "质量太差了，非常失望", Negative),
            ("zh negation", "一点都不好", Negative),
            ("zh contrast", "外观不错，但是质量很差", Negative),
            ("emoji", "acme 😡😡", Negative),
            ("emoticon", "acme :)", Positive),
            ("empty", "", Neutral),
        ];
        for (name, text, want) in cases {
            let c = s.score(text);
            assert!((-1.0..=1.0).contains(&c), "{name}: {c}");
            assert_eq!(SentimentLabel::of(c), want, "{name}: {text} -> {c}");
        }
    }

    #[test]
    fn intensifier_and_exclamation_raise_magnitude() {
        let s = SentimentScorer::new();
        assert!(s.score("very good") > s.score("good"));
        assert!(s.score("good!!!") > s.score("good"));
        assert!(s.score("非常好") > s.score("好"));
        assert!(s.score("bad!!!") < s.score("bad"));
    }
}
