//! The Numenta Anomaly Benchmark (NAB) scorer, reproducing NAB v1.1's
//! `nab/sweeper.py` (per-file scoring), `nab/scorer.py` (per-file driver)
//! and `nab/runner.py` (`normalize`).
//!
//! # How NAB scores
//!
//! - Each file has label windows (`combined_windows.json`), resolved to rows
//!   by exact timestamp ([`resolve_windows`]).
//! - The first `min(floor(0.15 * rows), 750)` rows are probationary
//!   ([`probationary_length`]): detections there are ignored and the rows
//!   are not counted.
//! - Every row has a weight ([`row_weights`], NAB's `S(t)` column): inside a
//!   window, `tpWeight * σ(-(r - i + 1) / w) / σ(-1)` (exactly `tpWeight`
//!   at the left edge, just above 0 at the right edge); outside, after a
//!   window, `fpWeight * σ(distance / (w - 1))`, σ being
//!   [`scaled_sigmoid`] (which is `-1` past 3 widths); before any window,
//!   `-fpWeight`.
//! - A window scores the weight of its first counted detection, or
//!   `-fnWeight` if it has none; each counted detection outside windows adds
//!   its weight ([`score_file`]).
//! - Over a corpus, raw, null (no detections) and perfect (`tpWeight` per
//!   window) scores are summed, then the reported score is
//!   `100 * (raw - null) / (perfect - null)` ([`score_corpus`]).
//!
//! The published results of five detectors on the realTweets files in
//! `shared/data/nab-tweets` reproduce NAB's per-file raw scores and
//! TP/TN/FP/FN counts (see `tests/nab_published.rs`).
//!
//! # Running Vigil's detector
//!
//! [`evaluate_nab`] (behind `vigil eval nab`) feeds every NAB series under
//! a folder ([`find_series`]) into a fresh detector, one row per bin
//! ([`detect_series`], through `Detector::observe_count`); a row is a
//! detection when an incident opens or escalates in its bin. It scores the
//! detections under the three profiles, reports delays, and rescores the
//! published detectors found beside the labels. The one configuration for
//! every series is [`NAB_CONFIG_TOML`] (`config/nab.toml`) unless another
//! is given ([`load_settings`]). Method and results: docs/EVAL-nab.md.
//!
//! # Example
//!
//! ```
//! use vigil_eval::nab::{score_file, CostMatrix, Window};
//!
//! let standard = CostMatrix { tp_weight: 1.0, fp_weight: 0.11, fn_weight: 1.0 };
//! let windows = [Window { start_row: 40, end_row: 49 }];
//! let mut detections = vec![false; 100];
//! detections[40] = true; // at the window's left edge
//! let score = score_file(&detections, &windows, &standard).unwrap();
//! assert_eq!(score.raw_score, 1.0);
//! assert_eq!(score.windows[0].delay_rows, Some(0));
//! assert_eq!(score.normalized_score(), Some(100.0));
//! ```

mod corpus;
mod cv;
mod detect;
mod error;
mod read;
mod report;
mod sweep;

pub use corpus::{
    score_corpus, score_corpus_profiles, CorpusScore, CorpusScores, FileDetections, FileReport,
};
pub use cv::{cross_validate, CvAxis, CvFold, CvGrid, CvPoint, CvReport, CV_KEYS};
pub use detect::{
    detect_series, find_series, load_settings, Detection, SeriesKind, SeriesRun, NAB_CONFIG_TOML,
};
pub use error::Error;
pub use read::{
    detections_from_scores, parse_profiles_json, parse_results_csv, parse_series_csv,
    parse_thresholds_json, parse_timestamp, parse_windows_json, read_profiles_json,
    read_results_csv, read_series_csv, read_thresholds_json, read_windows_json, CorpusWindows,
    CostMatrix, Profile, Profiles, ResultsFile, Series, Thresholds, WindowLimits,
};
pub use report::{
    evaluate_nab, DelayStats, DetectionList, EvaluatedFile, ListedDetection, NabEvalOptions,
    NabEvaluation, NabSummary, ProfileScores, PublishedScore, PublishedSource, Scored,
};
pub use sweep::{
    normalized_score, probationary_length, resolve_windows, row_weights, scaled_sigmoid,
    score_file, validate_windows, FileScore, Window, WindowOutcome, PROBATIONARY_PERCENT,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Error>();
        check::<CorpusScore>();
        check::<CorpusScores>();
        check::<CorpusWindows>();
        check::<FileDetections>();
        check::<FileScore>();
        check::<Profiles>();
        check::<ResultsFile>();
        check::<Series>();
        check::<Thresholds>();
        check::<NabEvaluation>();
        check::<SeriesRun>();
        check::<PublishedScore>();
    }
}
