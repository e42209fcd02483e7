//! One aho-corasick automaton over every watch term, exclusion term and
//! crisis-lexicon term.
//!
//! The automaton uses standard (overlapping) match semantics and
//! `find_overlapping_iter`, not leftmost-longest: with one automaton shared
//! by many watches, leftmost-longest lets one watch's longer term hide
//! another watch's shorter one (a post "acme hotel recall" would hit a watch
//! on "acme hotel" but never a watch on "acme"), and a candidate rejected at
//! a word boundary would hide a valid one that overlaps it. Overlapping
//! search reports every occurrence, so each watch sees all of its terms; the
//! cost still grows with the hits, not with the number of watches.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::{collections::HashMap, sync::Arc};
use vigil_config::{Lexicon, Watch};
use vigil_types::CrisisKind;

use crate::normalize::{is_word_char, normalize};

/// Most patterns compiled into a DFA; larger sets use a contiguous NFA.
pub const DFA_MAX_PATTERNS: usize = 25_000;

/// What one automaton pattern means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    /// Term `term` of watch `watch`'s query.
    Term { watch: u32, term: u32 },
    /// A crisis-lexicon term.
    Kind { kind: CrisisKind, severe: bool },
}

/// A boundary-checked match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawHit {
    pub pattern: u32,
    pub start: u32,
    pub end: u32,
}

/// The compiled automaton and what each pattern means.
#[derive(Debug)]
pub struct Matcher {
    ac: AhoCorasick,
    /// Normalised pattern text, by pattern id (shared by the hits).
    pub(crate) patterns: Vec<Arc<str>>,
    /// Whether the pattern needs word boundaries (starts/ends with a word char).
    bounded: Vec<(bool, bool)>,
    /// Uses of each pattern.
    pub(crate) uses: Vec<Vec<Use>>,
}

/// Errors building the automaton.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MatcherError {
    /// aho-corasick refused to build (too many or too long patterns).
    #[error("building the term automaton: {0}")]
    Build(#[from] aho_corasick::BuildError),
    /// A term is empty after normalisation.
    #[error("term `{term}` of watch `{watch}` is empty after normalisation")]
    EmptyTerm {
        /// Watch id.
        watch: String,
        /// Term.
        term: String,
    },
}

impl Matcher {
    /// Builds the automaton for these watches and lexicons.
    pub fn new(watches: &[Watch], lexicons: &[Lexicon]) -> Result<Matcher, MatcherError> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut uses: Vec<Vec<Use>> = Vec::new();
        let mut add = |term: &str, u: Use| -> bool {
            let n = normalize(term.trim());
            if n.is_empty() {
                return false;
            }
            let id = *ids.entry(n.clone()).or_insert_with(|| {
                patterns.push(n);
                uses.push(Vec::new());
                patterns.len() - 1
            });
            if !uses[id].contains(&u) {
                uses[id].push(u);
            }
            true
        };
        for (i, w) in watches.iter().enumerate() {
            let watch = i as u32;
            for (j, t) in w.query.terms.iter().enumerate() {
                if !add(
                    t,
                    Use::Term {
                        watch,
                        term: j as u32,
                    },
                ) {
                    return Err(MatcherError::EmptyTerm {
                        watch: w.id.0.clone(),
                        term: t.clone(),
                    });
                }
            }
        }
        for l in lexicons {
            for t in &l.severe {
                add(
                    t,
                    Use::Kind {
                        kind: l.kind,
                        severe: true,
                    },
                );
            }
            for t in &l.signal {
                add(
                    t,
                    Use::Kind {
                        kind: l.kind,
                        severe: false,
                    },
                );
            }
        }
        let bounded = patterns
            .iter()
            .map(|p| {
                (
                    p.chars().next().is_some_and(is_word_char),
                    p.chars().next_back().is_some_and(is_word_char),
                )
            })
            .collect();
        // A DFA is the fastest scan but its memory grows with patterns x
        // alphabet (about 35 MB at 20,000 patterns, 340 MB at 200,000):
        // use it up to DFA_MAX_PATTERNS, a contiguous NFA beyond.
        let kind = if patterns.len() <= DFA_MAX_PATTERNS {
            AhoCorasickKind::DFA
        } else {
            AhoCorasickKind::ContiguousNFA
        };
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(kind))
            .build(&patterns)
            .or_else(|_| {
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
            })?;
        Ok(Matcher {
            ac,
            patterns: patterns.into_iter().map(Arc::from).collect(),
            bounded,
            uses,
        })
    }

    /// Heap memory of the automaton, bytes.
    pub fn memory_usage(&self) -> usize {
        self.ac.memory_usage()
    }

    /// Number of distinct patterns.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Finds every boundary-respecting match in normalised `text`, sorted by
    /// position, into `out` (cleared first).
    pub(crate) fn find(&self, text: &str, out: &mut Vec<RawHit>) {
        out.clear();
        for m in self.ac.find_overlapping_iter(text) {
            let pid = m.pattern().as_usize();
            let (need_start, need_end) = self.bounded[pid];
            if need_start
                && text[..m.start()]
                    .chars()
                    .next_back()
                    .is_some_and(is_word_char)
            {
                continue;
            }
            if need_end && text[m.end()..].chars().next().is_some_and(is_word_char) {
                continue;
            }
            out.push(RawHit {
                pattern: pid as u32,
                start: m.start() as u32,
                end: m.end() as u32,
            });
        }
        out.sort_unstable_by_key(|h| (h.start, h.end));
    }

    /// The automaton itself, for the raw-scan baseline in benches.
    pub fn automaton(&self) -> &AhoCorasick {
        &self.ac
    }
}
