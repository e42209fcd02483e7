//! Sentiment evaluation: runs [`SentimentScorer`] over a labelled set and
//! reports accuracy, macro and weighted F1, the confusion matrix and, for
//! continuous ratings, Pearson r between the compound score and the rating.
//!
//! Two formats:
//!
//! - [`Format::Vader`]: VADER's ground truth (Hutto & Gilbert 2014): TAB
//!   separated `id`, mean rating in [-4, 4], text; no header. The gold class
//!   is the sign of the mean (0 is neutral); the predicted class uses VADER's
//!   thresholds (compound >= 0.05 positive, <= -0.05 negative).
//! - [`Format::ZhCsv`]: CSV with header `id,label,label_name,text`, label 1
//!   positive and 0 negative; a text is predicted positive iff its compound
//!   is > 0.
//!
//! Every text goes through [`vigil_score::normalize`] first, as in the
//! pipeline.
//!
//! ```no_run
//! use std::path::Path;
//! use vigil_eval::sentiment::{evaluate_file, Format};
//! use vigil_score::SentimentScorer;
//! let path = Path::new("tweets_GroundTruth.txt");
//! let report = evaluate_file(path, Format::detect(path)?, &SentimentScorer::new())?;
//! println!("{report}");
//! # Ok::<(), vigil_eval::sentiment::EvalError>(())
//! ```

use std::{fmt, fs, path::Path, path::PathBuf, str::FromStr};

use serde::Serialize;
use vigil_score::{normalize_into, SentimentLabel, SentimentScorer};

/// Errors of the sentiment evaluation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The data file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CSV parser failed.
    #[error("parsing CSV {path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Why.
        source: csv::Error,
    },
    /// A row does not fit the format.
    #[error("{path}:{line}: {reason}")]
    BadRow {
        /// The file.
        path: PathBuf,
        /// 1-based line (VADER format) or record number (CSV).
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The format could not be told from the file.
    #[error("cannot tell the format of {path}: use --format vader or --format zh-csv")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The format name is not known.
    #[error("unknown format `{0}`: expected `vader` or `zh-csv`")]
    UnknownFormatName(String),
    /// The file holds no rows.
    #[error("{path} holds no labelled rows")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Format of a labelled set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// VADER ground truth: `id<TAB>mean rating<TAB>text`, no header.
    Vader,
    /// CSV `id,label,label_name,text` with labels 0 (negative) / 1 (positive).
    ZhCsv,
}

impl FromStr for Format {
    type Err = EvalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vader" => Ok(Format::Vader),
            "zh-csv" | "csv" => Ok(Format::ZhCsv),
            other => Err(EvalError::UnknownFormatName(other.to_string())),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Vader => "vader",
            Format::ZhCsv => "zh-csv",
        })
    }
}

impl Format {
    /// Tells the format from the file: a CSV header `id,label,...` (or a
    /// `.csv` name) is [`Format::ZhCsv`]; TAB-separated lines whose second
    /// field is a number are [`Format::Vader`].
    pub fn detect(path: &Path) -> Result<Format, EvalError> {
        let text = fs::read(path).map_err(|source| EvalError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let head = &text[..text.len().min(4096)];
        let head = String::from_utf8_lossy(head);
        let first = head
            .trim_start_matches('\u{feff}')
            .lines()
            .next()
            .unwrap_or("");
        if first.starts_with("id,label") {
            return Ok(Format::ZhCsv);
        }
        let mut cols = first.split('\t');
        if let (Some(_), Some(r), Some(_)) = (cols.next(), cols.next(), cols.next()) {
            if r.trim().parse::<f64>().is_ok() {
                return Ok(Format::Vader);
            }
        }
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            return Ok(Format::ZhCsv);
        }
        Err(EvalError::UnknownFormat {
            path: path.to_path_buf(),
        })
    }

    /// Class names, in confusion-matrix order.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Format::Vader => &["negative", "neutral", "positive"],
            Format::ZhCsv => &["negative", "positive"],
        }
    }
}

/// One labelled text.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// Gold class: an index into [`Format::labels`].
    pub gold: usize,
    /// The continuous rating, where the set has one (VADER format).
    pub rating: Option<f64>,
    /// The raw text.
    pub text: String,
}

/// Reads a labelled set.
pub fn load(path: &Path, format: Format) -> Result<Vec<Example>, EvalError> {
    let rows = match format {
        Format::Vader => {
            let text = fs::read_to_string(path).map_err(|source| EvalError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            parse_vader(&text).map_err(|(line, reason)| EvalError::BadRow {
                path: path.to_path_buf(),
                line,
                reason,
            })?
        }
        Format::ZhCsv => {
            let file = fs::File::open(path).map_err(|source| EvalError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            parse_zh_csv(file, path)?
        }
    };
    if rows.is_empty() {
        return Err(EvalError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(rows)
}

/// VADER ground truth: `id<TAB>rating<TAB>text` lines (CRLF or LF).
fn parse_vader(text: &str) -> Result<Vec<Example>, (u64, String)> {
    let mut rows = Vec::new();
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.splitn(3, '\t');
        let (Some(_id), Some(rating), Some(body)) = (cols.next(), cols.next(), cols.next()) else {
            return Err((i as u64 + 1, "expected id<TAB>rating<TAB>text".into()));
        };
        let rating: f64 = rating
            .trim()
            .parse()
            .map_err(|_| (i as u64 + 1, format!("rating `{rating}` is not a number")))?;
        let gold = if rating > 0.0 {
            2
        } else if rating < 0.0 {
            0
        } else {
            1
        };
        rows.push(Example {
            gold,
            rating: Some(rating),
            text: body.to_string(),
        });
    }
    Ok(rows)
}

fn parse_zh_csv(reader: impl std::io::Read, path: &Path) -> Result<Vec<Example>, EvalError> {
    let csv_err = |source| EvalError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = rdr.headers().map_err(csv_err)?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
    };
    let (Some(label_col), Some(text_col)) = (col("label"), col("text")) else {
        return Err(EvalError::BadRow {
            path: path.to_path_buf(),
            line: 1,
            reason: "header lacks `label` or `text`".into(),
        });
    };
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(csv_err)?;
        let bad = |reason: String| EvalError::BadRow {
            path: path.to_path_buf(),
            line: i as u64 + 2,
            reason,
        };
        let label = rec
            .get(label_col)
            .ok_or_else(|| bad("missing label".into()))?;
        let gold = match label.trim() {
            "0" => 0,
            "1" => 1,
            other => return Err(bad(format!("label `{other}` is not 0 or 1"))),
        };
        let text = rec
            .get(text_col)
            .ok_or_else(|| bad("missing text".into()))?;
        rows.push(Example {
            gold,
            rating: None,
            text: text.to_string(),
        });
    }
    Ok(rows)
}

/// The predicted class of a compound score under `format`'s protocol.
pub fn predict(format: Format, compound: f32) -> usize {
    match format {
        Format::Vader => match SentimentLabel::of(compound) {
            SentimentLabel::Negative => 0,
            SentimentLabel::Neutral => 1,
            SentimentLabel::Positive => 2,
        },
        Format::ZhCsv => usize::from(compound > 0.0),
    }
}

/// A confusion matrix: rows are gold classes, columns predicted classes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Class names.
    pub labels: Vec<String>,
    /// `matrix[gold][predicted]` counts.
    pub matrix: Vec<Vec<u64>>,
}

/// Precision, recall and F1 of one class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// Class name.
    pub label: String,
    /// Precision (0 when nothing was predicted in this class).
    pub precision: f64,
    /// Recall (0 when the class has no gold rows).
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Gold rows of this class.
    pub support: u64,
}

/// The evaluation report (`vigil eval sentiment --json` prints it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Format of the set.
    pub format: Format,
    /// Rows evaluated.
    pub n: usize,
    /// Share of rows whose predicted class is the gold class.
    pub accuracy: f64,
    /// Mean F1 over the classes present in the gold or predicted labels
    /// (scikit-learn's `average="macro"`).
    pub macro_f1: f64,
    /// F1 weighted by gold support (scikit-learn's `average="weighted"`).
    pub weighted_f1: f64,
    /// Pearson r between compound and rating; `None` without ratings.
    pub pearson_r: Option<f64>,
    /// Per-class figures.
    pub classes: Vec<ClassMetrics>,
    /// The confusion matrix.
    pub confusion: Confusion,
}

impl Report {
    /// Metrics of predicted vs gold class indices (into `labels`), with
    /// optional (score, rating) pairs for Pearson r.
    pub fn from_predictions(
        format: Format,
        gold: &[usize],
        pred: &[usize],
        scores_and_ratings: Option<(&[f64], &[f64])>,
    ) -> Report {
        let labels = format.labels();
        let k = labels.len();
        let mut matrix = vec![vec![0u64; k]; k];
        for (&g, &p) in gold.iter().zip(pred) {
            matrix[g][p] += 1;
        }
        let n = gold.len().min(pred.len());
        let correct: u64 = (0..k).map(|i| matrix[i][i]).sum();
        let mut classes = Vec::with_capacity(k);
        let (mut macro_sum, mut macro_n, mut weighted) = (0.0, 0usize, 0.0);
        for (i, label) in labels.iter().enumerate() {
            let tp = matrix[i][i] as f64;
            let support: u64 = matrix[i].iter().sum();
            let predicted: u64 = (0..k).map(|g| matrix[g][i]).sum();
            let precision = if predicted > 0 {
                tp / predicted as f64
            } else {
                0.0
            };
            let recall = if support > 0 {
                tp / support as f64
            } else {
                0.0
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            if support > 0 || predicted > 0 {
                macro_sum += f1;
                macro_n += 1;
            }
            weighted += f1 * support as f64;
            classes.push(ClassMetrics {
                label: label.to_string(),
                precision,
                recall,
                f1,
                support,
            });
        }
        let ratio = |a: f64, b: usize| if b > 0 { a / b as f64 } else { 0.0 };
        Report {
            format,
            n,
            accuracy: ratio(correct as f64, n),
            macro_f1: ratio(macro_sum, macro_n),
            weighted_f1: ratio(weighted, n),
            pearson_r: scores_and_ratings.and_then(|(x, y)| pearson(x, y)),
            classes,
            confusion: Confusion {
                labels: labels.iter().map(|l| l.to_string()).collect(),
                matrix,
            },
        }
    }
}

/// Pearson correlation of `x` and `y`; `None` when either is constant or
/// they are shorter than two.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x[..n].iter().zip(&y[..n]) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Scores `rows` and reports.
pub fn evaluate(rows: &[Example], format: Format, scorer: &SentimentScorer) -> Report {
    let mut buf = String::new();
    let mut gold = Vec::with_capacity(rows.len());
    let mut pred = Vec::with_capacity(rows.len());
    let mut scores = Vec::with_capacity(rows.len());
    let mut ratings = Vec::with_capacity(rows.len());
    for row in rows {
        normalize_into(&row.text, &mut buf);
        let c = scorer.score(&buf);
        gold.push(row.gold);
        pred.push(predict(format, c));
        if let Some(r) = row.rating {
            scores.push(f64::from(c));
            ratings.push(r);
        }
    }
    let pairs = (!ratings.is_empty() && ratings.len() == rows.len())
        .then_some((scores.as_slice(), ratings.as_slice()));
    Report::from_predictions(format, &gold, &pred, pairs)
}

/// Loads `path` in `format` and evaluates `scorer` on it.
pub fn evaluate_file(
    path: &Path,
    format: Format,
    scorer: &SentimentScorer,
) -> Result<Report, EvalError> {
    Ok(evaluate(&load(path, format)?, format, scorer))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "format       {}", self.format)?;
        writeln!(f, "n            {}", self.n)?;
        writeln!(f, "accuracy     {:.3}", self.accuracy)?;
        writeln!(f, "macro F1     {:.3}", self.macro_f1)?;
        writeln!(f, "weighted F1  {:.3}", self.weighted_f1)?;
        match self.pearson_r {
            Some(r) => writeln!(f, "Pearson r    {r:.3}")?,
            None => writeln!(f, "Pearson r    n/a")?,
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<10} {:>9} {:>9} {:>9} {:>9}",
            "class", "precision", "recall", "F1", "support"
        )?;
        for c in &self.classes {
            writeln!(
                f,
                "{:<10} {:>9.3} {:>9.3} {:>9.3} {:>9}",
                c.label, c.precision, c.recall, c.f1, c.support
            )?;
        }
        writeln!(f)?;
        write!(f, "{:<10}", "gold\\pred")?;
        for l in &self.confusion.labels {
            write!(f, " {l:>9}")?;
        }
        writeln!(f)?;
        for (l, row) in self.confusion.labels.iter().zip(&self.confusion.matrix) {
            write!(f, "{l:<10}")?;
            for c in row {
                write!(f, " {c:>9}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn binary_metrics_by_hand() {
        // gold: N N N P P P P ; pred: N N P P P P N
        // negative: tp 2, fp 1, fn 1 -> p 2/3 r 2/3 f1 2/3
        // positive: tp 3, fp 1, fn 1 -> p 3/4 r 3/4 f1 3/4
        let gold = [0, 0, 0, 1, 1, 1, 1];
        let pred = [0, 0, 1, 1, 1, 1, 0];
        let r = Report::from_predictions(Format::ZhCsv, &gold, &pred, None);
        assert_eq!(r.n, 7);
        assert!(close(r.accuracy, 5.0 / 7.0));
        assert!(close(r.macro_f1, (2.0 / 3.0 + 0.75) / 2.0));
        assert!(close(r.weighted_f1, (3.0 * 2.0 / 3.0 + 4.0 * 0.75) / 7.0));
        assert_eq!(r.confusion.matrix, vec![vec![2, 1], vec![1, 3]]);
        assert_eq!(r.pearson_r, None);
    }

    #[test]
    fn three_class_with_an_unpredicted_class() {
        // gold: neg neu pos pos ; pred: neg pos pos pos
        // neg f1 1; neu: support 1, nothing predicted -> f1 0; pos: p 2/3 r 1 -> 0.8
        let gold = [0, 1, 2, 2];
        let pred = [0, 2, 2, 2];
        let r = Report::from_predictions(Format::Vader, &gold, &pred, None);
        assert!(close(r.accuracy, 0.75));
        assert!(close(r.macro_f1, (1.0 + 0.0 + 0.8) / 3.0));
        assert!(close(r.weighted_f1, (1.0 + 0.0 + 2.0 * 0.8) / 4.0));
        // A class absent from gold and predictions does not enter macro-F1.
        let r = Report::from_predictions(Format::Vader, &[0, 2], &[0, 2], None);
        assert!(close(r.macro_f1, 1.0));
    }

    #[test]
    fn pearson_by_hand() {
        assert!(close(
            pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap(),
            1.0
        ));
        assert!(close(
            pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap(),
            -1.0
        ));
        // x = 1 2 3 4, y = 1 3 2 4: sxy = 4, sxx = syy = 5 -> 0.8
        assert!(close(
            pearson(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap(),
            0.8
        ));
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(pearson(&[1.0], &[1.0]), None);
    }

    #[test]
    fn parses_vader_rows_with_crlf_and_tabs_in_text() {
        let rows =
            parse_vader("1\t2.5\tgood stuff\r\n2\t-0.3\tmeh\tand tab\r\n3\t0\tok\r\n\r\n").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].gold, 2);
        assert_eq!(rows[1].gold, 0);
        assert_eq!(rows[1].text, "meh\tand tab");
        assert_eq!(rows[2].gold, 1);
        assert_eq!(rows[2].rating, Some(0.0));
        assert!(parse_vader("1\tx\ttext\n").is_err());
        assert!(parse_vader("just text\n").is_err());
    }

    #[test]
    fn parses_quoted_csv() {
        let data = "id,label,label_name,text\na,1,positive,\"好,很好\"\"\"\nb,0,negative,差\n";
        let rows = parse_zh_csv(data.as_bytes(), Path::new("t.csv")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text, "好,很好\"");
        assert_eq!(rows[0].gold, 1);
        assert_eq!(rows[1].gold, 0);
        let bad = "id,label,label_name,text\na,5,x,t\n";
        assert!(parse_zh_csv(bad.as_bytes(), Path::new("t.csv")).is_err());
    }

    #[test]
    fn evaluates_and_prints() {
        let scorer = SentimentScorer::new();
        let rows = vec![
            Example {
                gold: 2,
                rating: Some(2.0),
                text: "I LOVE it".into(),
            },
            Example {
                gold: 0,
                rating: Some(-2.5),
                text: "terrible, awful".into(),
            },
            Example {
                gold: 1,
                rating: Some(0.0),
                text: "the table".into(),
            },
        ];
        let r = evaluate(&rows, Format::Vader, &scorer);
        assert!(close(r.accuracy, 1.0));
        assert!(r.pearson_r.unwrap() > 0.9);
        let text = r.to_string();
        assert!(text.contains("weighted F1") && text.contains("gold\\pred"));
        let json = serde_json::to_value(&r).unwrap();
        for key in ["n", "accuracy", "macro_f1", "weighted_f1", "pearson_r"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(predict(Format::ZhCsv, 0.0), 0);
        assert_eq!(predict(Format::ZhCsv, 0.01), 1);
        assert_eq!(predict(Format::Vader, 0.05), 2);
        assert_eq!(predict(Format::Vader, -0.0499), 1);
    }

    #[test]
    fn format_names() {
        assert_eq!("vader".parse::<Format>().unwrap(), Format::Vader);
        assert_eq!("zh-csv".parse::<Format>().unwrap(), Format::ZhCsv);
        assert!("x".parse::<Format>().is_err());
    }
}
