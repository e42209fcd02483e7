//! The one error type of the NAB scorer.

use std::path::PathBuf;

/// Everything that can go wrong reading NAB files or scoring detections.
///
/// Where NAB itself raises (a window timestamp missing from the data file,
/// a division by zero after a one-row window) the scorer returns the
/// matching variant instead of guessing a score.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("reading `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (windows, profiles, thresholds) does not have NAB's shape.
    #[error("invalid NAB {what} JSON: {source}")]
    InvalidJson {
        /// Which file kind: `windows`, `profiles` or `thresholds`.
        what: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A CSV file could not be read as CSV.
    #[error("reading CSV: {source}")]
    Csv {
        /// Why.
        source: csv::Error,
    },
    /// A CSV file has no header line.
    #[error("CSV has no header line")]
    EmptyCsv,
    /// A CSV header lacks a required column.
    #[error("CSV header lacks column `{column}`")]
    MissingColumn {
        /// The column name.
        column: String,
    },
    /// A CSV row has fewer fields than the header.
    #[error("CSV line {line}: expected {expected} fields, found {found}")]
    ShortRow {
        /// 1-based line number in the file.
        line: usize,
        /// Number of header fields.
        expected: usize,
        /// Number of fields on this line.
        found: usize,
    },
    /// A timestamp is not `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    #[error("invalid timestamp `{value}` (expected `YYYY-MM-DD HH:MM:SS[.ffffff]`)")]
    InvalidTimestamp {
        /// The text found.
        value: String,
    },
    /// A CSV or JSON number could not be parsed.
    #[error("invalid number `{value}` at {location}")]
    InvalidNumber {
        /// The text found.
        value: String,
        /// Where: `line N, column C` or a JSON path.
        location: String,
    },
    /// `profiles.json` lacks one of NAB's three profiles.
    #[error("profiles JSON lacks profile `{profile}`")]
    MissingProfile {
        /// NAB's profile name, e.g. `reward_low_FP_rate`.
        profile: &'static str,
    },
    /// Two per-row sequences of one file have different lengths.
    #[error("{what}: expected {expected} rows, found {found}")]
    LengthMismatch {
        /// What was compared.
        what: &'static str,
        /// Rows in the series.
        expected: usize,
        /// Rows in the other sequence.
        found: usize,
    },
    /// An anomaly score is NaN, so it cannot be compared to a threshold.
    #[error("anomaly score at row {row} is NaN")]
    NanScore {
        /// 0-based row index.
        row: usize,
    },
    /// A window boundary is not one of the series' timestamps. NAB's
    /// `CorpusLabel.getWindows` raises `ValueError` in the same case.
    #[error("window {window} boundary {timestamp} is not a timestamp of the series")]
    WindowBoundaryNotFound {
        /// 0-based window index within the file.
        window: usize,
        /// The boundary.
        timestamp: chrono::NaiveDateTime,
    },
    /// A window ends before it starts.
    #[error("window {window} ends before it starts")]
    WindowEndsBeforeStart {
        /// 0-based window index within the file.
        window: usize,
    },
    /// Windows must be sorted and must not share rows; NAB's sweeper
    /// silently mis-scores such windows, so they are rejected.
    #[error("window {window} starts at or before the end of window {previous}")]
    WindowsOverlap {
        /// 0-based index of the later window.
        window: usize,
        /// 0-based index of the earlier window.
        previous: usize,
    },
    /// A one-row window is followed by rows outside any window. NAB's
    /// sweeper divides by `width - 1 = 0` there (`ZeroDivisionError`).
    #[error("window {window} is one row wide and rows follow it (NAB divides by zero)")]
    SingleRowWindow {
        /// 0-based window index within the file.
        window: usize,
    },
    /// A window row index lies outside the series.
    #[error("window {window} ends at row {end_row}, past the series' {rows} rows")]
    WindowOutOfRange {
        /// 0-based window index within the file.
        window: usize,
        /// The window's last row.
        end_row: usize,
        /// Rows in the series.
        rows: usize,
    },
    /// No windows entry for a file (NAB raises `KeyError`).
    #[error("no windows entry for file `{file}`")]
    UnknownFile {
        /// The file name given.
        file: String,
    },
    /// The detect configuration for a run is invalid (every problem listed).
    #[error("detect configuration: {source}")]
    InvalidConfig {
        /// The configuration problems.
        #[source]
        source: vigil_config::ConfigError,
    },
    /// A series value is not a finite number, so it cannot be fed to the
    /// detector.
    #[error("row {row}: value {value} is not a finite number")]
    NotACount {
        /// 0-based row index.
        row: usize,
        /// The value found.
        value: f64,
    },
    /// `--cv` was asked to sweep a setting it does not know.
    #[error("cannot cross-validate `{key}`: give key=v1,v2,... with increasing values, a key among calibration_sigmas, persistence_sigmas, persistence_secs, z_floor, baseline_half_life_secs and calibration_half_life_secs")]
    CvKey {
        /// The key asked for.
        key: String,
    },
    /// A `--cv` value that is not a number of seconds.
    #[error("cannot cross-validate `{key}` at {value}: it is a number of seconds, at least 0")]
    CvValue {
        /// The key.
        key: String,
        /// The value asked for.
        value: f64,
    },
    /// Two rows fall in the same detect bin (or go back in time): the
    /// series' step is shorter than `detect.bin_secs`.
    #[error("row {row} falls in the same {bin_secs}-second detect bin as the row before it (or an earlier one); set detect.bin_secs to at most the series' step")]
    BinsNotIncreasing {
        /// 0-based index of the offending row.
        row: usize,
        /// The bin width.
        bin_secs: i64,
    },
    /// The detector dropped a row (late or future); rows in increasing
    /// time order never are.
    #[error("row {row}: the detector dropped it as {reason}")]
    RowRejected {
        /// 0-based row index.
        row: usize,
        /// The detector's drop reason.
        reason: &'static str,
    },
    /// No NAB series (`timestamp,value` CSV) under the data folder.
    #[error("no NAB series (CSV files with the header `timestamp,value`) under `{dir}`")]
    NoSeries {
        /// The folder searched.
        dir: PathBuf,
    },
    /// An error while evaluating one series file.
    #[error("{path}: {source}")]
    InFile {
        /// The series file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
}
