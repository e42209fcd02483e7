//! Validation of `vigil_eval::nab` against NAB's published results for the
//! five shared realTweets files (`shared/data/nab-tweets`, see its
//! PROVENANCE.md): feeding each published detector's detections to our
//! scorer must reproduce NAB's per-file raw scores and counts.
//!
//! Every test prints `SKIP: ../shared/data/nab-tweets absent` and passes when
//! the data folder is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vigil_eval::nab::{
    read_profiles_json, read_results_csv, read_series_csv, read_thresholds_json, read_windows_json,
    resolve_windows, row_weights, score_corpus, score_file, CorpusWindows, FileDetections, Profile,
    Profiles, ResultsFile, Thresholds, Window,
};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/nab-tweets"
);

const DETECTORS: [&str; 5] = [
    "ARTime",
    "knncad",
    "numenta",
    "twitterADVec",
    "earthgeckoSkyline",
];
const TICKERS: [&str; 5] = ["AAPL", "AMZN", "GOOG", "IBM", "KO"];

/// detector_file_scores.csv prints raw scores with at least 12 significant
/// digits (older NAB runs used Python 2's `str(float)`), and every raw score
/// is below 10 in magnitude, so a faithful scorer is within 5e-12.
const RAW_TOLERANCE: f64 = 1e-9;

fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(DATA);
    if dir.is_dir() {
        Some(dir.to_owned())
    } else {
        println!("SKIP: ../shared/data/nab-tweets absent");
        None
    }
}

/// One row of detector_file_scores.csv.
#[derive(Debug)]
struct Published {
    raw_score: f64,
    tp: usize,
    tn: usize,
    fp: usize,
    fn_: usize,
    total_count: usize,
}

/// (detector, NAB profile name, file name) -> row.
fn published_scores(dir: &Path) -> BTreeMap<(String, String, String), Published> {
    let text = std::fs::read_to_string(dir.join("detector_file_scores.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        [
            "detector",
            "profile",
            "file",
            "threshold",
            "raw_score",
            "TP",
            "TN",
            "FP",
            "FN",
            "total_count"
        ]
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let n = |i: usize| f[i].parse::<usize>().unwrap();
            (
                (f[0].to_owned(), f[1].to_owned(), f[2].to_owned()),
                Published {
                    raw_score: f[4].parse().unwrap(),
                    tp: n(5),
                    tn: n(6),
                    fp: n(7),
                    fn_: n(8),
                    total_count: n(9),
                },
            )
        })
        .collect()
}

struct Inputs {
    windows: CorpusWindows,
    profiles: Profiles,
    thresholds: Thresholds,
}

fn inputs(dir: &Path) -> Inputs {
    let inputs = Inputs {
        windows: read_windows_json(dir.join("combined_windows.json")).unwrap(),
        profiles: read_profiles_json(dir.join("config/profiles.json")).unwrap(),
        thresholds: read_thresholds_json(dir.join("config/thresholds.json")).unwrap(),
    };
    assert_eq!(
        inputs.windows.window_count(),
        16,
        "PROVENANCE.md: 16 windows"
    );
    assert_eq!(inputs.profiles, Profiles::nab_default());
    inputs
}

fn windows_key(ticker: &str) -> String {
    format!("realTweets/Twitter_volume_{ticker}.csv")
}

fn results(dir: &Path, detector: &str, ticker: &str) -> ResultsFile {
    read_results_csv(dir.join(format!(
        "results/{detector}/{detector}_Twitter_volume_{ticker}.csv"
    )))
    .unwrap()
}

/// The file's windows as rows, checked against the results file's `label`
/// column (1 inside a window).
fn row_windows(windows: &CorpusWindows, ticker: &str, results: &ResultsFile) -> Vec<Window> {
    let limits = windows.get(&windows_key(ticker)).unwrap();
    let rows = resolve_windows(&results.timestamps, limits).unwrap();
    if let Some(labels) = &results.labels {
        let inside: Vec<bool> = (0..labels.len())
            .map(|i| rows.iter().any(|w| w.start_row <= i && i <= w.end_row))
            .collect();
        assert_eq!(&inside, labels, "label column vs windows for {ticker}");
    }
    rows
}

#[test]
fn published_raw_scores_match_detector_file_scores() {
    let Some(dir) = data_dir() else { return };
    let inputs = inputs(&dir);
    let published = published_scores(&dir);

    let mut checked = 0;
    let mut max_diff: f64 = 0.0;
    for ticker in TICKERS {
        let series =
            read_series_csv(dir.join(format!("data/Twitter_volume_{ticker}.csv"))).unwrap();
        for detector in DETECTORS {
            let results = results(&dir, detector, ticker);
            assert_eq!(
                results.timestamps, series.timestamps,
                "{detector} {ticker}: results and data timestamps differ"
            );
            let windows = row_windows(&inputs.windows, ticker, &results);
            for profile in Profile::ALL {
                let threshold = inputs.thresholds.get(detector, profile).unwrap();
                let detections = results.detections(threshold).unwrap();
                let score =
                    score_file(&detections, &windows, &inputs.profiles.get(profile)).unwrap();

                let key = (
                    detector.to_owned(),
                    profile.nab_name().to_owned(),
                    format!("Twitter_volume_{ticker}.csv"),
                );
                let expected = &published[&key];
                let what = format!("{detector} {} {ticker}", profile.nab_name());
                let diff = (score.raw_score - expected.raw_score).abs();
                max_diff = max_diff.max(diff);
                assert!(
                    diff <= RAW_TOLERANCE,
                    "{what}: raw score {} != published {}",
                    score.raw_score,
                    expected.raw_score
                );
                assert_eq!(
                    (score.tp, score.tn, score.fp, score.fn_),
                    (expected.tp, expected.tn, expected.fp, expected.fn_),
                    "{what}: TP/TN/FP/FN"
                );
                // NAB's current sweeper reports the scored rows; results made
                // with NAB's older Scorer class (all but ARTime here) report
                // every row of the file.
                let scored = score.tp + score.tn + score.fp + score.fn_;
                assert!(
                    expected.total_count == scored || expected.total_count == detections.len(),
                    "{what}: total_count {} is neither {scored} nor {}",
                    expected.total_count,
                    detections.len()
                );
                checked += 1;
            }
        }
    }
    println!("checked {checked} (detector, profile, file) triples; max |raw diff| = {max_diff:e}");
    assert_eq!(checked, 75, "5 detectors x 3 profiles x 5 files");
}

/// ARTime's results were scored by NAB's current sweeper, whose per-row
/// weights are the `S(t)_<profile>` columns; the other four detectors'
/// results predate it (their `S(t)` columns hold the old Scorer's values), so
/// only ARTime's columns are comparable.
#[test]
fn artime_row_weights_match_published_s_t_columns() {
    let Some(dir) = data_dir() else { return };
    let inputs = inputs(&dir);
    let mut checked = 0;
    let mut max_diff: f64 = 0.0;
    for ticker in TICKERS {
        let results = results(&dir, "ARTime", ticker);
        let windows = row_windows(&inputs.windows, ticker, &results);
        for profile in Profile::ALL {
            let published = &results.sweep_scores[profile.nab_name()];
            let weights = row_weights(
                results.timestamps.len(),
                &windows,
                &inputs.profiles.get(profile),
            )
            .unwrap();
            assert_eq!(weights.len(), published.len());
            for (row, (ours, theirs)) in weights.iter().zip(published).enumerate() {
                let diff = (ours - theirs).abs();
                max_diff = max_diff.max(diff);
                assert!(
                    diff <= 1e-12,
                    "ARTime {ticker} {} row {row}: {ours} != {theirs}",
                    profile.nab_name()
                );
            }
            checked += 1;
        }
    }
    println!("checked {checked} (file, profile) S(t) columns; max |diff| = {max_diff:e}");
    assert_eq!(checked, 15);
}

/// Normalised scores over the five shared files, against SCOREBOARD.md
/// section 2 ("The 5 shared files", printed to 2 decimals), and the null
/// detector's per-file raw scores against detector_file_scores.csv.
#[test]
fn shared_files_normalised_scores_match_scoreboard() {
    let Some(dir) = data_dir() else { return };
    let inputs = inputs(&dir);
    let published = published_scores(&dir);
    // detector -> [standard, reward_low_FP, reward_low_FN]
    let scoreboard: [(&str, [f64; 3]); 5] = [
        ("ARTime", [81.44, 69.44, 87.63]),
        ("numenta", [58.18, 47.14, 63.79]),
        ("earthgeckoSkyline", [63.72, 37.40, 73.73]),
        ("knncad", [66.46, 43.16, 75.56]),
        ("twitterADVec", [59.83, 36.05, 69.05]),
    ];
    let mut checked = 0;
    for (detector, expected) in scoreboard {
        let per_file: Vec<ResultsFile> =
            TICKERS.iter().map(|t| results(&dir, detector, t)).collect();
        for (profile, expected) in Profile::ALL.into_iter().zip(expected) {
            let threshold = inputs.thresholds.get(detector, profile).unwrap();
            let files: Vec<FileDetections> = TICKERS
                .iter()
                .zip(&per_file)
                .map(|(ticker, r)| FileDetections {
                    name: windows_key(ticker),
                    timestamps: r.timestamps.clone(),
                    detections: r.detections(threshold).unwrap(),
                })
                .collect();
            let corpus =
                score_corpus(&files, &inputs.windows, &inputs.profiles.get(profile)).unwrap();
            let score = corpus.normalized_score.unwrap();
            let what = format!("{detector} {}", profile.key());
            assert!(
                (score - expected).abs() <= 0.005,
                "{what}: normalised {score:.4} != scoreboard {expected}"
            );
            assert_eq!(corpus.windows, 16);
            assert_eq!(corpus.perfect_score, 16.0);
            for (ticker, file) in TICKERS.iter().zip(&corpus.files) {
                let null = &published[&(
                    "null".to_owned(),
                    profile.nab_name().to_owned(),
                    format!("Twitter_volume_{ticker}.csv"),
                )];
                assert_eq!(
                    file.score.null_score, null.raw_score,
                    "{what} {ticker} null"
                );
                assert!(
                    file.score.windows.iter().all(|w| w.scored),
                    "{what} {ticker}: no shared window lies in the probationary period"
                );
            }
            println!(
                "{what}: {score:.4} (raw {:.6}, null {}, perfect {}, {}/{} windows detected)",
                corpus.raw_score,
                corpus.null_score,
                corpus.perfect_score,
                corpus.detected_windows,
                corpus.windows
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 15);
}
