//! `vigil eval nab` on NAB's realTweets series in ../shared/data/nab-tweets
//! (see its PROVENANCE.md): the `--json` shape, scores in NAB's range, the
//! table, and the recursive search for series. Every test prints a SKIP
//! line and passes when the data folder is absent.

use std::path::PathBuf;

use serde_json::Value;

use crate::util::{root, succeeded, temp_dir, vigil};

const PROFILES: [&str; 3] = ["standard", "reward_low_FP", "reward_low_FN"];
const TICKERS: [&str; 5] = ["AAPL", "AMZN", "GOOG", "IBM", "KO"];

/// ../shared/data/nab-tweets, or `None` after printing why the test skips.
fn nab_data() -> Option<PathBuf> {
    let dir = root().join("../shared/data/nab-tweets");
    if dir.join("combined_windows.json").is_file() {
        Some(dir)
    } else {
        println!(
            "SKIP: {} absent (NAB realTweets series and labels)",
            dir.display()
        );
        None
    }
}

/// Runs `vigil eval nab` and returns stdout; panics with stderr on failure.
fn eval_nab(args: &[&str]) -> String {
    let out = vigil()
        .args(["eval", "nab"])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vigil eval nab {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `vigil eval nab` on the tweets under `dir` (from [`nab_data`]) with
/// `extra` arguments.
fn eval_tweets(dir: &std::path::Path, extra: &[&str]) -> String {
    let data = dir.join("data");
    let labels = dir.join("combined_windows.json");
    let mut args = vec![
        "--data",
        data.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    eval_nab(&args)
}

fn json_run(data: &str, labels: &str) -> Value {
    let stdout = eval_nab(&["--data", data, "--labels", labels, "--json"]);
    assert_eq!(stdout.lines().count(), 1, "one JSON object:\n{stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// A normalised NAB score: finite, at most 100 (the perfect detector).
/// There is no fixed floor (each false positive costs up to `fpWeight`), so
/// the lower check is a generous sanity bound.
fn check_score(what: &str, v: &Value) -> f64 {
    let s = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {v} is not a number"));
    assert!(s.is_finite(), "{what}: {s}");
    assert!(
        (-1000.0..=100.0).contains(&s),
        "{what}: {s} outside NAB's range"
    );
    s
}

#[test]
fn eval_nab_json_has_the_documented_shape_and_scores_in_range() {
    let Some(dir) = nab_data() else { return };
    let data = dir.join("data");
    let labels = dir.join("combined_windows.json");
    let json = json_run(data.to_str().unwrap(), labels.to_str().unwrap());

    let top = json.as_object().unwrap();
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        ["files", "overall"],
        "{json}"
    );
    let files = json["files"].as_object().unwrap();
    let expected: Vec<String> = TICKERS
        .iter()
        .map(|t| format!("realTweets/Twitter_volume_{t}.csv"))
        .collect();
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), expected);
    for (name, scores) in files {
        let scores = scores.as_object().unwrap();
        assert_eq!(scores.len(), 3, "{name}: {scores:?}");
        for p in PROFILES {
            check_score(&format!("{name} {p}"), &scores[p]);
        }
    }
    let overall = json["overall"].as_object().unwrap();
    assert_eq!(overall.len(), 3, "{overall:?}");
    let scores: Vec<f64> = PROFILES
        .iter()
        .map(|p| check_score(&format!("overall {p}"), &overall[*p]))
        .collect();
    println!("vigil eval nab overall: {scores:?}");
    // Better than the null detector (0): it finds labelled windows.
    assert!(scores[0] > 0.0, "standard {}", scores[0]);
}

#[test]
fn eval_nab_table_states_the_config_delays_and_published_detectors() {
    let Some(dir) = nab_data() else { return };
    let table = eval_tweets(&dir, &[]);
    println!("{table}");
    for needle in [
        "one detect configuration for all (config/nab.toml, built in)",
        "bin_secs = 300",
        "overall",
        "First detection from window start, rows (= bins): median",
        "First detection from the window's labelled anomaly",
        "Vigil",
        // Rescored from results/ at NAB's thresholds, and from SCOREBOARD.md.
        "ARTime       ",
        "results/ rescored here",
        "contextOSE",
        "SCOREBOARD.md",
    ] {
        assert!(table.contains(needle), "missing `{needle}` in:\n{table}");
    }
    // The rescored ARTime row is SCOREBOARD.md's published figure.
    let artime = table
        .lines()
        .find(|l| l.starts_with("ARTime "))
        .unwrap_or_else(|| panic!("no ARTime row in:\n{table}"));
    assert!(artime.contains("81.44"), "{artime}");
}

#[test]
fn eval_nab_searches_the_data_folder_recursively() {
    // From the data set's root, results CSVs (more columns) and windows.csv
    // are skipped, and data/Twitter_volume_X.csv resolves to NAB's
    // realTweets/ key: the same scores as from data/.
    let Some(dir) = nab_data() else { return };
    let labels = dir.join("combined_windows.json");
    let labels = labels.to_str().unwrap();
    let from_data = json_run(dir.join("data").to_str().unwrap(), labels);
    let from_root = json_run(dir.to_str().unwrap(), labels);
    assert_eq!(from_data, from_root);
}

#[test]
fn eval_nab_takes_a_config_and_reports_its_problems() {
    let Some(dir) = nab_data() else { return };
    let tmp = temp_dir("eval-nab");
    let data = dir.join("data");
    let labels = dir.join("combined_windows.json");
    let args = |config: &PathBuf| {
        vec![
            "--data".to_owned(),
            data.display().to_string(),
            "--labels".to_owned(),
            labels.display().to_string(),
            "--config".to_owned(),
            config.display().to_string(),
            "--json".to_owned(),
        ]
    };

    // No watches needed: only [detect] matters.
    let good = tmp.join("fine.toml");
    std::fs::write(
        &good,
        "[detect]\nbin_secs = 300\nscales_secs = [300]\ncalibration_sigmas = 6.0\n",
    )
    .unwrap();
    let out = vigil()
        .args(["eval", "nab"])
        .args(args(&good))
        .output()
        .unwrap();
    succeeded(&out);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_score("fine.toml standard", &json["overall"]["standard"]);

    let bad = tmp.join("bad.toml");
    std::fs::write(&bad, "[detect]\nbin_secs = 0\nz_floor = -1\n").unwrap();
    let out = vigil()
        .args(["eval", "nab"])
        .args(args(&bad))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("detect.bin_secs") && stderr.contains("detect.z_floor"),
        "{stderr}"
    );
}

#[test]
fn eval_nab_cv_chooses_every_swept_setting_on_the_other_series_only() {
    let Some(dir) = nab_data() else { return };
    let data = dir.join("data");
    let labels = dir.join("combined_windows.json");
    let (data, labels) = (data.to_str().unwrap(), labels.to_str().unwrap());
    let report: Value = serde_json::from_str(&eval_nab(&[
        "--data",
        data,
        "--labels",
        labels,
        "--cv",
        "--json",
        "--cv-axis",
        "calibration_sigmas=4,5,6",
        "--cv-axis",
        "persistence_sigmas=3,4",
    ]))
    .unwrap();
    let axes = report["grid"]["axes"].as_array().unwrap();
    assert_eq!(axes.len(), 2);
    let points = report["in_sample_by_point"].as_array().unwrap();
    assert_eq!(points.len(), 6, "every combination is run");
    let folds = report["folds"].as_array().unwrap();
    assert_eq!(folds.len(), TICKERS.len(), "one fold per series");
    for fold in folds {
        let chosen: Vec<f64> = fold["chosen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(
            points.iter().any(|p| p["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect::<Vec<_>>()
                == chosen),
            "fold {fold} chose a point off the grid"
        );
        check_score("held_out_score", &fold["held_out_score"]);
    }
    let cv = check_score("cv_score", &report["cv_score"]);
    let in_sample = check_score("in_sample_score", &report["in_sample_score"]);
    // The in-sample score is the best plateau on all five series: a
    // held-out choice cannot beat every series' own best by construction,
    // but the two are different figures and both are printed.
    assert!(cv.is_finite() && in_sample.is_finite());
    // The table says which figure is which.
    let table = eval_nab(&[
        "--data",
        data,
        "--labels",
        labels,
        "--cv",
        "--cv-axis",
        "persistence_sigmas=3,4",
    ]);
    assert!(table.contains("cross-validated standard score:"), "{table}");
    assert!(table.contains("in-sample standard score:"), "{table}");
    // An unknown key is refused before any run.
    let out = vigil()
        .args(["eval", "nab", "--data", data, "--labels", labels, "--cv"])
        .args(["--cv-axis", "min_count=1,2"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot cross-validate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn eval_nab_series_measured_judges_whole_numbers_both_ways() {
    let Some(dir) = nab_data() else { return };
    let data = dir.join("data");
    let labels = dir.join("combined_windows.json");
    let (data, labels) = (data.to_str().unwrap(), labels.to_str().unwrap());
    let auto: Value =
        serde_json::from_str(&eval_nab(&["--data", data, "--labels", labels, "--json"])).unwrap();
    let measured: Value = serde_json::from_str(&eval_nab(&[
        "--data", data, "--labels", labels, "--json", "--series", "measured",
    ]))
    .unwrap();
    // The tweet counts read as measurements are judged differently (both
    // ways, no Poisson term): the detections differ.
    assert_ne!(
        auto["files"], measured["files"],
        "--series measured changed nothing"
    );
    let table = eval_nab(&["--data", data, "--labels", labels, "--series", "measured"]);
    assert!(
        table.contains("every series a measurement, judged both ways"),
        "{table}"
    );
}

/// `--detections` lists every detection with how it was scored, by the
/// same rules as the table: per file, the distinct rows listed as false
/// positives are the table's FP count, and the windows listed as found are
/// its detected windows.
#[test]
fn eval_nab_detections_agree_with_the_table() {
    let Some(dir) = nab_data() else { return };
    let stdout = eval_tweets(&dir, &["--detections"]);
    let (table, listing) = stdout
        .split_once("Detections (standard profile):")
        .unwrap_or_else(|| panic!("no listing:\n{stdout}"));
    let mut checked = 0;
    for ticker in TICKERS {
        let name = format!("realTweets/Twitter_volume_{ticker}.csv");
        // file  rows  found/windows  FP  ...
        let row: Vec<&str> = table
            .lines()
            .find(|l| l.starts_with(&name))
            .unwrap_or_else(|| panic!("{name} not in the table:\n{table}"))
            .split_whitespace()
            .collect();
        let found_in_table: usize = row[2].split('/').next().unwrap().parse().unwrap();
        let fp_in_table: usize = row[3].parse().unwrap();
        let block: Vec<&str> = listing
            .split(&format!("{name} ("))
            .nth(1)
            .unwrap_or_else(|| panic!("{name} not listed:\n{listing}"))
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  row "))
            .collect();
        let rows_where = |what: &str| {
            let mut rows: Vec<&str> = block
                .iter()
                .filter(|l| l.contains(what))
                .map(|l| l.split_whitespace().nth(1).unwrap())
                .collect();
            rows.dedup();
            rows.len()
        };
        assert_eq!(rows_where("false positive"), fp_in_table, "{name}");
        assert_eq!(rows_where("found window"), found_in_table, "{name}");
        // Every line says how it was scored and why it fired.
        for line in &block {
            assert!(
                ["probation", "found window", "again", "false positive"]
                    .iter()
                    .any(|s| line.contains(s))
                    && (line.contains("minor:")
                        || line.contains("moderate:")
                        || line.contains("major:")),
                "{line}"
            );
        }
        checked += block.len();
    }
    assert!(checked > 0, "no detection listed:\n{listing}");
}
