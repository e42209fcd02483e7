//! The watch query language, parsed once at config validation.
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*        adjacency means AND
//! unary   := "NOT" unary | primary         `a NOT b` is `a AND NOT b`
//! primary := "(" or ")" | TERM | "quoted phrase"
//! ```
//!
//! Operators are upper case (`and`, `or`, `not` in lower case are terms).
//! A TERM is a run of characters other than whitespace, quotes and
//! parentheses; a phrase is quoted with `"` (`\"` and `\\` escape). Terms are
//! matched by the score stage's automaton: English terms at word boundaries,
//! Chinese terms anywhere.
//!
//! Example: `(acme OR 艾克美) AND (recall OR 召回 OR "data breach") NOT "acme hotel"`.
//!
//! Limits: a query is at most [`MAX_QUERY_CHARS`] characters long and nests
//! parentheses and NOTs at most [`MAX_QUERY_DEPTH`] deep, so a hostile or
//! generated query cannot overflow the stack of the parser (or of the
//! matcher that walks the tree for every post).

use std::fmt;

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 16_384;

/// The deepest nesting of parentheses and NOTs accepted.
pub const MAX_QUERY_DEPTH: usize = 64;

/// A parsed query: a tree over term indices, and the terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The expression.
    pub root: Expr,
    /// Distinct terms, in order of first appearance.
    pub terms: Vec<String>,
    /// Per term: true when it only appears under a NOT (it excludes; it is
    /// never reported as a hit of the watch).
    pub negative_only: Vec<bool>,
}

/// A query expression over term indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Term `i` of [`Query::terms`] was hit.
    Term(usize),
    /// All of these.
    And(Vec<Expr>),
    /// Any of these.
    Or(Vec<Expr>),
    /// Not this.
    Not(Box<Expr>),
}

/// A query syntax error, with the character position (1-based column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// 1-based character column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Term(String),
}

fn lex(s: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push((Tok::LParen, col));
            i += 1;
        } else if c == ')' {
            out.push((Tok::RParen, col));
            i += 1;
        } else if c == '"' {
            let mut phrase = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(QueryError {
                            column: col,
                            message: "unclosed quote".into(),
                        })
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') if matches!(chars.get(i + 1), Some('"') | Some('\\')) => {
                        phrase.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&ch) => {
                        phrase.push(ch);
                        i += 1;
                    }
                }
            }
            let phrase = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
            if phrase.is_empty() {
                return Err(QueryError {
                    column: col,
                    message: "empty phrase".into(),
                });
            }
            out.push((Tok::Term(phrase), col));
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '(' | ')' | '"')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let tok = match word.as_str() {
                "AND" => Tok::And,
                "OR" => Tok::Or,
                "NOT" => Tok::Not,
                _ => Tok::Term(word),
            };
            out.push((tok, col));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// Open parentheses and NOTs around the current position.
    depth: usize,
    end_col: usize,
    terms: Vec<String>,
    positive: Vec<bool>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end_col, |t| t.1)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, QueryError> {
        Err(QueryError {
            column: self.col(),
            message: message.into(),
        })
    }

    fn or(&mut self, negated: bool) -> Result<Expr, QueryError> {
        let mut items = vec![self.and(negated)?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and(negated)?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self, negated: bool) -> Result<Expr, QueryError> {
        let mut items = vec![self.unary(negated)?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.pos += 1;
                    items.push(self.unary(negated)?);
                }
                Some(Tok::Not) | Some(Tok::Term(_)) | Some(Tok::LParen) => {
                    items.push(self.unary(negated)?);
                }
                _ => break,
            }
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    /// Enters one nesting level (a '(' or a NOT at the current token).
    fn enter(&mut self) -> Result<(), QueryError> {
        if self.depth >= MAX_QUERY_DEPTH {
            return self.err(format!(
                "nested deeper than the limit of {MAX_QUERY_DEPTH} levels of parentheses and NOT"
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn unary(&mut self, negated: bool) -> Result<Expr, QueryError> {
        if self.peek() == Some(&Tok::Not) {
            self.enter()?;
            self.pos += 1;
            let e = Expr::Not(Box::new(self.unary(!negated)?));
            self.depth -= 1;
            return Ok(e);
        }
        self.primary(negated)
    }

    fn primary(&mut self, negated: bool) -> Result<Expr, QueryError> {
        match self.peek().cloned() {
            Some(Tok::LParen) => {
                let open = self.col();
                self.enter()?;
                self.pos += 1;
                if self.peek() == Some(&Tok::RParen) {
                    return self.err("empty parentheses");
                }
                let e = self.or(negated)?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(QueryError {
                        column: open,
                        message: "unclosed parenthesis".into(),
                    });
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(e)
            }
            Some(Tok::Term(t)) => {
                self.pos += 1;
                let i = match self.terms.iter().position(|x| *x == t) {
                    Some(i) => i,
                    None => {
                        self.terms.push(t);
                        self.positive.push(false);
                        self.terms.len() - 1
                    }
                };
                if !negated {
                    self.positive[i] = true;
                }
                Ok(Expr::Term(i))
            }
            Some(Tok::RParen) => self.err("unbalanced ')'"),
            Some(Tok::And) | Some(Tok::Or) => {
                self.err("expected a term, a phrase or '(' before this operator")
            }
            Some(Tok::Not) => unreachable!("unary handles NOT"),
            None => self.err("expected a term, a phrase or '(' at the end of the query"),
        }
    }
}

impl Query {
    /// Parses a query of at most [`MAX_QUERY_CHARS`] characters nested at
    /// most [`MAX_QUERY_DEPTH`] deep.
    pub fn parse(s: &str) -> Result<Query, QueryError> {
        let chars = s.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(QueryError {
                column: MAX_QUERY_CHARS + 1,
                message: format!(
                    "the query is {chars} characters long, over the limit of {MAX_QUERY_CHARS}"
                ),
            });
        }
        let toks = lex(s)?;
        if toks.is_empty() {
            return Err(QueryError {
                column: 1,
                message: "empty query".into(),
            });
        }
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
            end_col: s.chars().count() + 1,
            terms: Vec::new(),
            positive: Vec::new(),
        };
        let root = p.or(false)?;
        if p.pos < p.toks.len() {
            return p.err("unexpected token (unbalanced ')'?)");
        }
        let q = Query {
            root,
            negative_only: p.positive.iter().map(|x| !x).collect(),
            terms: p.terms,
        };
        if q.eval(|_| false) {
            return Err(QueryError {
                column: 1,
                message: "the query matches posts that hit none of its terms (it needs at least one term outside NOT)".into(),
            });
        }
        Ok(q)
    }

    /// The query `t1 OR t2 ... NOT (e1 OR e2 ...)` for plain term lists.
    pub fn from_terms(terms: &[String], exclude: &[String]) -> Query {
        let mut all: Vec<String> = Vec::new();
        let idx = |t: &String, all: &mut Vec<String>| match all.iter().position(|x| x == t) {
            Some(i) => i,
            None => {
                all.push(t.clone());
                all.len() - 1
            }
        };
        let pos: Vec<Expr> = terms.iter().map(|t| Expr::Term(idx(t, &mut all))).collect();
        let npos = all.len();
        let neg: Vec<Expr> = exclude
            .iter()
            .map(|t| Expr::Term(idx(t, &mut all)))
            .collect();
        let mut root = if pos.len() == 1 {
            pos.into_iter().next().expect("one")
        } else {
            Expr::Or(pos)
        };
        if !neg.is_empty() {
            root = Expr::And(vec![root, Expr::Not(Box::new(Expr::Or(neg)))]);
        }
        Query {
            root,
            negative_only: (0..all.len()).map(|i| i >= npos).collect(),
            terms: all,
        }
    }

    /// Evaluates with `hit(i)` telling whether term `i` was hit.
    pub fn eval(&self, hit: impl Fn(usize) -> bool + Copy) -> bool {
        eval(&self.root, hit)
    }
}

fn eval(e: &Expr, hit: impl Fn(usize) -> bool + Copy) -> bool {
    match e {
        Expr::Term(i) => hit(*i),
        Expr::And(v) => v.iter().all(|x| eval(x, hit)),
        Expr::Or(v) => v.iter().any(|x| eval(x, hit)),
        Expr::Not(x) => !eval(x, hit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(q: &Query, present: &[&str]) -> bool {
        q.eval(|i| present.contains(&q.terms[i].as_str()))
    }

    #[test]
    fn the_documented_example() {
        let q = Query::parse(
            r#"(acme OR 艾克美) AND (recall OR 召回 OR "data breach") NOT "acme hotel""#,
        )
        .unwrap();
        assert_eq!(
            q.terms,
            vec![
                "acme",
                "艾克美",
                "recall",
                "召回",
                "data breach",
                "acme hotel"
            ]
        );
        assert_eq!(
            q.negative_only,
            vec![false, false, false, false, false, true]
        );
        assert!(hits(&q, &["acme", "recall"]));
        assert!(hits(&q, &["艾克美", "data breach"]));
        assert!(!hits(&q, &["acme"]));
        assert!(!hits(&q, &["acme", "recall", "acme hotel"]));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str], bool)] = &[
            ("a", &["a"], true),
            ("a b", &["a"], false),
            ("a b", &["a", "b"], true),
            ("a OR b c", &["a"], true),
            ("a OR b c", &["b"], false),
            ("(a OR b) c", &["b", "c"], true),
            ("a NOT b", &["a", "b"], false),
            ("a AND NOT (b OR c)", &["a", "c"], false),
            ("a AND NOT NOT b", &["a", "b"], true),
            ("\"big  deal\"", &["big deal"], true),
            ("and or", &["and", "or"], true),
            ("#fail OR @acmehelp", &["@acmehelp"], true),
            ("\"say \\\"hi\\\"\"", &["say \"hi\""], true),
        ];
        for (q, present, want) in cases {
            let parsed = Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert_eq!(hits(&parsed, present), *want, "{q} with {present:?}");
        }
    }

    #[test]
    fn errors_point_at_the_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty query"),
            ("   ", 1, "empty query"),
            ("(a OR b", 1, "unclosed parenthesis"),
            ("a OR b)", 7, "unbalanced"),
            ("a OR", 5, "end of the query"),
            ("OR a", 1, "before this operator"),
            ("a \"unclosed", 3, "unclosed quote"),
            ("a ()", 4, "empty parentheses"),
            ("NOT a", 1, "none of its terms"),
            ("a \"\"", 3, "empty phrase"),
            ("艾克美 AND AND x", 9, "before this operator"),
        ];
        for (q, col, msg) in cases {
            let e = Query::parse(q).unwrap_err();
            assert_eq!(e.column, *col, "{q}: {e}");
            assert!(e.message.contains(msg), "{q}: {e}");
        }
    }

    #[test]
    fn deep_or_long_queries_are_refused_by_name() {
        let nested = |levels: usize| format!("{}a{}", "(".repeat(levels), ")".repeat(levels));
        let nots = |levels: usize| format!("x {}a", "NOT ".repeat(levels));
        for (q, limit) in [
            (nested(5_000), "limit of 64 levels"),
            (nots(3_000), "limit of 64 levels"),
            (nested(65), "limit of 64 levels"),
            (nested(100_000), "over the limit of 16384"),
            (
                format!("a {}", "b ".repeat(10_000)),
                "over the limit of 16384",
            ),
        ] {
            let e = Query::parse(&q).unwrap_err();
            assert!(e.message.contains(limit), "{}: {e}", q.len());
        }
        // Up to the limits is fine.
        assert!(Query::parse(&nested(64)).is_ok());
        assert!(Query::parse(&format!("a {}", "NOT b ".repeat(63))).is_ok());
        let long = format!("a{}", " OR a".repeat((MAX_QUERY_CHARS - 1) / 5));
        assert!(long.chars().count() <= MAX_QUERY_CHARS);
        assert!(Query::parse(&long).is_ok());
    }

    #[test]
    fn from_terms_is_or_minus_exclusions() {
        let q = Query::from_terms(&["a".into(), "b".into()], &["c".into()]);
        assert!(hits(&q, &["b"]));
        assert!(!hits(&q, &["b", "c"]));
        assert!(!hits(&q, &["c"]));
        assert_eq!(q.negative_only, vec![false, false, true]);
    }
}
