//! Readers for NAB's files: series and results CSVs, `combined_windows.json`,
//! `config/profiles.json` and `config/thresholds.json`.
//!
//! Every reader has a pure `parse_*` form over the file's text and a
//! `read_*` form over a path.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::error::Error;

/// The timestamp layout of NAB's CSVs and label JSON (the fraction is
/// optional: data files have none, `combined_windows.json` has `.000000`).
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";

/// Parse one NAB timestamp, `YYYY-MM-DD HH:MM:SS` with an optional fraction.
///
/// ```
/// let t = vigil_eval::nab::parse_timestamp("2015-03-04 16:57:00.000000").unwrap();
/// assert_eq!(t, vigil_eval::nab::parse_timestamp("2015-03-04 16:57:00").unwrap());
/// ```
pub fn parse_timestamp(text: &str) -> Result<NaiveDateTime, Error> {
    NaiveDateTime::parse_from_str(text.trim(), TIMESTAMP_FORMAT).map_err(|_| {
        Error::InvalidTimestamp {
            value: text.to_owned(),
        }
    })
}

fn read_text(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

// ---------------------------------------------------------------- CSV

/// A NAB CSV read with the `csv` crate (the same reader as the sentiment
/// sets'), fields trimmed, blank lines skipped.
struct Csv {
    header: Vec<String>,
    /// (1-based line number, fields)
    rows: Vec<(usize, csv::StringRecord)>,
}

impl Csv {
    fn parse(text: &str) -> Result<Self, Error> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|source| Error::Csv { source })?
            .iter()
            .map(str::to_owned)
            .collect();
        if header.iter().all(String::is_empty) {
            return Err(Error::EmptyCsv);
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|source| Error::Csv { source })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            if record.iter().all(str::is_empty) {
                continue;
            }
            if record.len() < header.len() {
                return Err(Error::ShortRow {
                    line,
                    expected: header.len(),
                    found: record.len(),
                });
            }
            rows.push((line, record));
        }
        Ok(Self { header, rows })
    }

    fn column(&self, name: &str) -> Result<usize, Error> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::MissingColumn {
                column: name.to_owned(),
            })
    }

    fn timestamps(&self, column: usize) -> Result<Vec<NaiveDateTime>, Error> {
        self.rows
            .iter()
            .map(|(_, fields)| parse_timestamp(&fields[column]))
            .collect()
    }

    fn numbers(&self, column: usize) -> Result<Vec<f64>, Error> {
        self.rows
            .iter()
            .map(|(line, fields)| {
                parse_f64(&fields[column], || {
                    format!("line {line}, column `{}`", self.header[column])
                })
            })
            .collect()
    }
}

/// `str::parse::<f64>` is correctly rounded, like Python's `float()`, so
/// scores equal to a threshold stay equal.
fn parse_f64(text: &str, location: impl FnOnce() -> String) -> Result<f64, Error> {
    text.trim().parse().map_err(|_| Error::InvalidNumber {
        value: text.to_owned(),
        location: location(),
    })
}

/// A NAB data series (`data/<category>/<name>.csv`: `timestamp,value`).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Row timestamps, in file order.
    pub timestamps: Vec<NaiveDateTime>,
    /// Row values.
    pub values: Vec<f64>,
}

/// Parse a NAB data series CSV (header `timestamp,value`).
pub fn parse_series_csv(text: &str) -> Result<Series, Error> {
    let csv = Csv::parse(text)?;
    Ok(Series {
        timestamps: csv.timestamps(csv.column("timestamp")?)?,
        values: csv.numbers(csv.column("value")?)?,
    })
}

/// Read a NAB data series CSV from a file.
pub fn read_series_csv(path: impl AsRef<Path>) -> Result<Series, Error> {
    parse_series_csv(&read_text(path.as_ref())?)
}

/// A detector's published NAB results file
/// (`results/<detector>/<category>/<detector>_<name>.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct ResultsFile {
    /// Row timestamps.
    pub timestamps: Vec<NaiveDateTime>,
    /// The detector's `anomaly_score` per row.
    pub anomaly_scores: Vec<f64>,
    /// The `label` column (1 inside a window), when present.
    pub labels: Option<Vec<bool>>,
    /// NAB's per-row scoring-function columns `S(t)_<profile>`, keyed by the
    /// NAB profile name (e.g. `reward_low_FP_rate`). Only files scored by
    /// NAB's current sweeper hold the per-row sweep weights here; older
    /// results hold other per-row values.
    pub sweep_scores: BTreeMap<String, Vec<f64>>,
}

impl ResultsFile {
    /// The detections at `threshold`: see [`detections_from_scores`].
    pub fn detections(&self, threshold: f64) -> Result<Vec<bool>, Error> {
        detections_from_scores(&self.anomaly_scores, threshold)
    }
}

/// Parse a NAB results CSV (columns `timestamp`, `anomaly_score`, and
/// optionally `label` and `S(t)_<profile>`; other columns are ignored).
pub fn parse_results_csv(text: &str) -> Result<ResultsFile, Error> {
    let csv = Csv::parse(text)?;
    let labels = match csv.column("label") {
        Ok(column) => Some(
            csv.numbers(column)?
                .into_iter()
                .map(|label| label != 0.0)
                .collect(),
        ),
        Err(_) => None,
    };
    let mut sweep_scores = BTreeMap::new();
    for (column, name) in csv.header.iter().enumerate() {
        if let Some(profile) = name.strip_prefix("S(t)_") {
            sweep_scores.insert(profile.to_owned(), csv.numbers(column)?);
        }
    }
    Ok(ResultsFile {
        timestamps: csv.timestamps(csv.column("timestamp")?)?,
        anomaly_scores: csv.numbers(csv.column("anomaly_score")?)?,
        labels,
        sweep_scores,
    })
}

/// Read a NAB results CSV from a file.
pub fn read_results_csv(path: impl AsRef<Path>) -> Result<ResultsFile, Error> {
    parse_results_csv(&read_text(path.as_ref())?)
}

/// Turn anomaly scores into detections: a row is a detection when its score
/// is `>= threshold`, as NAB's sweeper counts it (`Sweeper.scoreDataSet`
/// picks the threshold row that holds every score `>=` the threshold).
///
/// A NaN score is an error: NAB would sort it unpredictably.
pub fn detections_from_scores(scores: &[f64], threshold: f64) -> Result<Vec<bool>, Error> {
    scores
        .iter()
        .enumerate()
        .map(|(row, &score)| {
            if score.is_nan() {
                Err(Error::NanScore { row })
            } else {
                Ok(score >= threshold)
            }
        })
        .collect()
}

// ---------------------------------------------------------------- JSON

/// Wrap every JSON number literal outside strings in quotes, so that serde
/// hands it over as text and `str::parse` rounds it correctly. (Without
/// serde_json's `float_roundtrip` feature, a 17-digit threshold can come out
/// one ulp off and flip the detection of the row that scored exactly it.)
fn quote_json_numbers(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    let mut copied = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
        } else if b == b'"' {
            in_string = true;
            i += 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let end = bytes[i..]
                .iter()
                .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .map_or(bytes.len(), |n| i + n);
            out.push_str(&text[copied..i]);
            out.push('"');
            out.push_str(&text[i..end]);
            out.push('"');
            copied = end;
            i = end;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// One labelled anomaly window: first and last timestamp, both inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WindowLimits {
    /// First timestamp in the window.
    pub start: NaiveDateTime,
    /// Last timestamp in the window (inclusive).
    pub end: NaiveDateTime,
}

/// NAB's `combined_windows.json`: the label windows of each file, keyed by
/// the file's path relative to NAB's `data/` (e.g.
/// `realTweets/Twitter_volume_AAPL.csv`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CorpusWindows {
    files: BTreeMap<String, Vec<WindowLimits>>,
}

impl CorpusWindows {
    /// Build from file keys and their windows.
    pub fn new(files: BTreeMap<String, Vec<WindowLimits>>) -> Self {
        Self { files }
    }

    /// The windows of the file with exactly this key.
    pub fn get(&self, key: &str) -> Option<&[WindowLimits]> {
        self.files.get(key).map(Vec::as_slice)
    }

    /// The entry for `name`: the exact key, or else the one key whose last
    /// path component is `name` (so `Twitter_volume_AAPL.csv` finds
    /// `realTweets/Twitter_volume_AAPL.csv`). Returns the key and windows.
    pub fn lookup(&self, name: &str) -> Option<(&str, &[WindowLimits])> {
        if let Some((key, windows)) = self.files.get_key_value(name) {
            return Some((key.as_str(), windows.as_slice()));
        }
        let mut matches = self
            .files
            .iter()
            .filter(|(key, _)| key.rsplit('/').next() == Some(name));
        match (matches.next(), matches.next()) {
            (Some((key, windows)), None) => Some((key.as_str(), windows.as_slice())),
            _ => None,
        }
    }

    /// All entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[WindowLimits])> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Number of windows over all files.
    pub fn window_count(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }
}

/// Parse NAB's `combined_windows.json`
/// (`{"<category>/<file>.csv": [["<start>", "<end>"], ...], ...}`).
pub fn parse_windows_json(text: &str) -> Result<CorpusWindows, Error> {
    let raw: BTreeMap<String, Vec<[String; 2]>> =
        serde_json::from_str(text).map_err(|source| Error::InvalidJson {
            what: "windows",
            source,
        })?;
    let mut files = BTreeMap::new();
    for (file, windows) in raw {
        let limits = windows
            .iter()
            .map(|[start, end]| {
                Ok(WindowLimits {
                    start: parse_timestamp(start)?,
                    end: parse_timestamp(end)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        files.insert(file, limits);
    }
    Ok(CorpusWindows { files })
}

/// Read NAB's `combined_windows.json` from a file.
pub fn read_windows_json(path: impl AsRef<Path>) -> Result<CorpusWindows, Error> {
    parse_windows_json(&read_text(path.as_ref())?)
}

/// One NAB profile's weights (`CostMatrix` in `config/profiles.json`).
///
/// NAB's files also carry `tnWeight`; no NAB scoring code reads it, so it is
/// not kept.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CostMatrix {
    /// `tpWeight`: the score of a detection at a window's left edge.
    pub tp_weight: f64,
    /// `fpWeight`: scales the (negative) score of a false positive.
    pub fp_weight: f64,
    /// `fnWeight`: the cost of a window with no detection.
    pub fn_weight: f64,
}

/// NAB's three application profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Profile {
    /// `standard`.
    #[serde(rename = "standard")]
    Standard,
    /// `reward_low_FP_rate`: false positives cost twice as much.
    #[serde(rename = "reward_low_FP")]
    RewardLowFp,
    /// `reward_low_FN_rate`: missed windows cost twice as much.
    #[serde(rename = "reward_low_FN")]
    RewardLowFn,
}

impl Profile {
    /// All three, in NAB's scoreboard order.
    pub const ALL: [Profile; 3] = [
        Profile::Standard,
        Profile::RewardLowFp,
        Profile::RewardLowFn,
    ];

    /// The name NAB uses in `profiles.json`, `thresholds.json`, results
    /// files and `S(t)_` columns.
    pub fn nab_name(self) -> &'static str {
        match self {
            Profile::Standard => "standard",
            Profile::RewardLowFp => "reward_low_FP_rate",
            Profile::RewardLowFn => "reward_low_FN_rate",
        }
    }

    /// The key in Vigil's report output: `standard`, `reward_low_FP`,
    /// `reward_low_FN`.
    pub fn key(self) -> &'static str {
        match self {
            Profile::Standard => "standard",
            Profile::RewardLowFp => "reward_low_FP",
            Profile::RewardLowFn => "reward_low_FN",
        }
    }
}

/// The weights of NAB's three profiles.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Profiles {
    /// `standard`.
    #[serde(rename = "standard")]
    pub standard: CostMatrix,
    /// `reward_low_FP_rate`.
    #[serde(rename = "reward_low_FP")]
    pub reward_low_fp: CostMatrix,
    /// `reward_low_FN_rate`.
    #[serde(rename = "reward_low_FN")]
    pub reward_low_fn: CostMatrix,
}

impl Profiles {
    /// The weights in NAB v1.1's `config/profiles.json`.
    pub fn nab_default() -> Self {
        Self {
            standard: CostMatrix {
                tp_weight: 1.0,
                fp_weight: 0.11,
                fn_weight: 1.0,
            },
            reward_low_fp: CostMatrix {
                tp_weight: 1.0,
                fp_weight: 0.22,
                fn_weight: 1.0,
            },
            reward_low_fn: CostMatrix {
                tp_weight: 1.0,
                fp_weight: 0.11,
                fn_weight: 2.0,
            },
        }
    }

    /// The weights of one profile.
    pub fn get(&self, profile: Profile) -> CostMatrix {
        match profile {
            Profile::Standard => self.standard,
            Profile::RewardLowFp => self.reward_low_fp,
            Profile::RewardLowFn => self.reward_low_fn,
        }
    }
}

#[derive(Deserialize)]
struct RawProfile {
    #[serde(rename = "CostMatrix")]
    cost_matrix: RawCostMatrix,
}

#[derive(Deserialize)]
struct RawCostMatrix {
    #[serde(rename = "tpWeight")]
    tp_weight: String,
    #[serde(rename = "fpWeight")]
    fp_weight: String,
    #[serde(rename = "fnWeight")]
    fn_weight: String,
}

/// Parse NAB's `config/profiles.json`; all three profiles must be present.
pub fn parse_profiles_json(text: &str) -> Result<Profiles, Error> {
    let raw: BTreeMap<String, RawProfile> = serde_json::from_str(&quote_json_numbers(text))
        .map_err(|source| Error::InvalidJson {
            what: "profiles",
            source,
        })?;
    let cost = |profile: Profile| -> Result<CostMatrix, Error> {
        let name = profile.nab_name();
        let m = &raw
            .get(name)
            .ok_or(Error::MissingProfile { profile: name })?
            .cost_matrix;
        let at = |field: &'static str| move || format!("{name}.CostMatrix.{field}");
        Ok(CostMatrix {
            tp_weight: parse_f64(&m.tp_weight, at("tpWeight"))?,
            fp_weight: parse_f64(&m.fp_weight, at("fpWeight"))?,
            fn_weight: parse_f64(&m.fn_weight, at("fnWeight"))?,
        })
    };
    Ok(Profiles {
        standard: cost(Profile::Standard)?,
        reward_low_fp: cost(Profile::RewardLowFp)?,
        reward_low_fn: cost(Profile::RewardLowFn)?,
    })
}

/// Read NAB's `config/profiles.json` from a file.
pub fn read_profiles_json(path: impl AsRef<Path>) -> Result<Profiles, Error> {
    parse_profiles_json(&read_text(path.as_ref())?)
}

/// NAB's `config/thresholds.json`: each detector's corpus-optimised
/// threshold per profile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds {
    /// detector -> NAB profile name -> threshold
    detectors: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Thresholds {
    /// The threshold of `detector` for `profile`, if listed.
    pub fn get(&self, detector: &str, profile: Profile) -> Option<f64> {
        self.detectors
            .get(detector)?
            .get(profile.nab_name())
            .copied()
    }

    /// The detectors listed, in name order.
    pub fn detectors(&self) -> impl Iterator<Item = &str> {
        self.detectors.keys().map(String::as_str)
    }
}

#[derive(Deserialize)]
struct RawThreshold {
    threshold: String,
}

/// Parse NAB's `config/thresholds.json`
/// (`{"<detector>": {"<profile>": {"score": .., "threshold": ..}}}`).
/// Numbers are parsed with correct rounding, as Python's `json` does.
pub fn parse_thresholds_json(text: &str) -> Result<Thresholds, Error> {
    let raw: BTreeMap<String, BTreeMap<String, RawThreshold>> =
        serde_json::from_str(&quote_json_numbers(text)).map_err(|source| Error::InvalidJson {
            what: "thresholds",
            source,
        })?;
    let mut detectors = BTreeMap::new();
    for (detector, profiles) in raw {
        let mut parsed = BTreeMap::new();
        for (profile, entry) in profiles {
            let value = parse_f64(&entry.threshold, || {
                format!("{detector}.{profile}.threshold")
            })?;
            parsed.insert(profile, value);
        }
        detectors.insert(detector, parsed);
    }
    Ok(Thresholds { detectors })
}

/// Read NAB's `config/thresholds.json` from a file.
pub fn read_thresholds_json(path: impl AsRef<Path>) -> Result<Thresholds, Error> {
    parse_thresholds_json(&read_text(path.as_ref())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_and_without_fraction_are_equal() {
        let a = parse_timestamp("2015-03-04 16:57:00.000000").unwrap();
        let b = parse_timestamp("2015-03-04 16:57:00").unwrap();
        assert_eq!(a, b);
        assert!(parse_timestamp("2015-03-04T16:57:00Z").is_err());
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn quote_json_numbers_leaves_strings_alone() {
        let text = r#"{"a-1 \"2\"": [1.5e-3, -2, 0.6250000000000001], "b": true}"#;
        assert_eq!(
            quote_json_numbers(text),
            r#"{"a-1 \"2\"": ["1.5e-3", "-2", "0.6250000000000001"], "b": true}"#
        );
    }

    #[test]
    fn thresholds_parse_exactly() {
        let text = r#"{"det": {"standard": {"score": 1.5, "threshold": 0.5421876907348634},
                               "reward_low_FP_rate": {"score": -2, "threshold": 1}}}"#;
        let t = parse_thresholds_json(text).unwrap();
        assert_eq!(
            t.get("det", Profile::Standard),
            Some(0.542_187_690_734_863_4)
        );
        assert_eq!(t.get("det", Profile::RewardLowFp), Some(1.0));
        assert_eq!(t.get("det", Profile::RewardLowFn), None);
        assert_eq!(t.get("other", Profile::Standard), None);
        assert_eq!(t.detectors().collect::<Vec<_>>(), ["det"]);
    }

    #[test]
    fn profiles_parse_and_require_all_three() {
        let text = r#"{
          "standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}},
          "reward_low_FP_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0}},
          "reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0}}
        }"#;
        assert_eq!(parse_profiles_json(text).unwrap(), Profiles::nab_default());
        let missing =
            r#"{"standard": {"CostMatrix": {"tpWeight": 1, "fnWeight": 1, "fpWeight": 0.11}}}"#;
        assert!(matches!(
            parse_profiles_json(missing),
            Err(Error::MissingProfile {
                profile: "reward_low_FP_rate"
            })
        ));
        assert!(matches!(
            parse_profiles_json("[1, 2]"),
            Err(Error::InvalidJson { .. })
        ));
    }

    #[test]
    fn windows_parse_and_lookup_by_file_name() {
        let text = r#"{"realTweets/Twitter_volume_X.csv": [["2015-03-04 16:57:00.000000", "2015-03-05 16:57:00.000000"]],
                       "other/empty.csv": []}"#;
        let w = parse_windows_json(text).unwrap();
        assert_eq!(w.window_count(), 1);
        let (key, windows) = w.lookup("Twitter_volume_X.csv").unwrap();
        assert_eq!(key, "realTweets/Twitter_volume_X.csv");
        assert_eq!(
            windows[0].end,
            parse_timestamp("2015-03-05 16:57:00").unwrap()
        );
        assert_eq!(w.get("other/empty.csv").unwrap().len(), 0);
        assert!(w.lookup("nope.csv").is_none());
        assert!(matches!(
            parse_windows_json(r#"{"f.csv": [["2015-03-04", "x"]]}"#),
            Err(Error::InvalidTimestamp { .. })
        ));
    }

    #[test]
    fn series_and_results_csv() {
        let series = parse_series_csv(
            "timestamp,value\r\n2015-02-26 21:42:53,104\r\n2015-02-26 21:47:53,100.5\r\n\r\n",
        )
        .unwrap();
        assert_eq!(series.values, [104.0, 100.5]);
        assert_eq!(series.timestamps.len(), 2);

        let results = parse_results_csv(
            "timestamp,value,anomaly_score,label,S(t)_standard\n\
             2015-02-26 21:42:53,104,0.25,0,-0.11\n\
             2015-02-26 21:47:53,100,0.75,1,0.5\n",
        )
        .unwrap();
        assert_eq!(results.anomaly_scores, [0.25, 0.75]);
        assert_eq!(results.labels, Some(vec![false, true]));
        assert_eq!(results.sweep_scores["standard"], [-0.11, 0.5]);
        assert_eq!(results.detections(0.75).unwrap(), [false, true]);

        assert!(matches!(
            parse_series_csv("timestamp,count\n"),
            Err(Error::MissingColumn { .. })
        ));
        assert!(matches!(
            parse_series_csv("timestamp,value\n2015-02-26 21:42:53\n"),
            Err(Error::ShortRow { line: 2, .. })
        ));
        assert!(matches!(
            parse_series_csv("timestamp,value\n2015-02-26 21:42:53,abc\n"),
            Err(Error::InvalidNumber { .. })
        ));
        assert!(matches!(parse_series_csv(""), Err(Error::EmptyCsv)));
    }

    #[test]
    fn detections_use_greater_or_equal_and_reject_nan() {
        assert_eq!(
            detections_from_scores(&[0.1, 0.5, 0.9], 0.5).unwrap(),
            [false, true, true]
        );
        assert!(matches!(
            detections_from_scores(&[0.1, f64::NAN], 0.5),
            Err(Error::NanScore { row: 1 })
        ));
    }
}
