//! NAB diagnostics that print tables rather than check anything: the NAB
//! scores of `config/nab.toml` and of its neighbours (each key moved on its
//! own), and the path from the product defaults to it. They read
//! ../shared/data/nab-tweets. Run with
//! `cargo run --release -p vigil-eval --example nab_sweep`.
//! docs/EVAL-nab.md quotes these tables; the checked figures live in
//! tests/nab.rs at the repository root.

use std::path::PathBuf;

use vigil_eval::nab::{evaluate_nab, load_settings, NabEvalOptions, NAB_CONFIG_TOML};

/// One run of `config/nab.toml` with `overrides` (`VIGIL__DETECT__*`
/// values) on top; prints one table row.
fn row(dir: &std::path::Path, label: &str, base: &str, overrides: &[(&str, &str)]) {
    let env: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| {
            (
                format!("VIGIL__DETECT__{}", k.to_uppercase()),
                (*v).to_owned(),
            )
        })
        .collect();
    let settings = load_settings(base, label, &env).unwrap();
    let report = evaluate_nab(&NabEvalOptions {
        data: dir.join("data"),
        labels: dir.join("combined_windows.json"),
        settings,
        config_origin: label.to_owned(),
    })
    .unwrap();
    let s = &report.scores;
    let score = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.2}"));
    println!(
        "| {label} | {} | {} | {} | {}/{} | {} |",
        score(s.standard.normalized_score),
        score(s.reward_low_fp.normalized_score),
        score(s.reward_low_fn.normalized_score),
        s.standard.detected_windows,
        s.standard.windows,
        s.standard.fp,
    );
}

fn header(title: &str) {
    println!("\n{title}\n");
    println!("| configuration | standard | reward_low_FP | reward_low_FN | windows | FP |");
    println!("|---|---|---|---|---|---|");
}

fn main() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/nab-tweets"
    ));
    if !dir.is_dir() {
        eprintln!("SKIP: {} absent", dir.display());
        return;
    }
    // The product defaults with 5-minute bins: durations kept (a one-hour
    // half-life is 12 bins), every other value as in config/default.toml.
    let translated =
        "[detect]\nbin_secs = 300\nallowed_lateness_secs = 0\nbaseline_half_life_bins = 12\n";
    header("From the defaults to config/nab.toml");
    row(&dir, "defaults, 5-minute bins", translated, &[]);
    row(
        &dir,
        "+ z_threshold = 12",
        translated,
        &[("z_threshold", "12")],
    );
    row(
        &dir,
        "+ baseline_half_life_bins = 2016 (a week)",
        translated,
        &[("z_threshold", "12"), ("baseline_half_life_bins", "2016")],
    );
    row(
        &dir,
        "+ window_bins = 3 (15 minutes) = config/nab.toml",
        translated,
        &[
            ("z_threshold", "12"),
            ("baseline_half_life_bins", "2016"),
            ("window_bins", "3"),
        ],
    );

    header("config/nab.toml with one key moved");
    row(&dir, "config/nab.toml", NAB_CONFIG_TOML, &[]);
    for z in ["8", "10", "11", "13", "14", "16"] {
        row(
            &dir,
            &format!("z_threshold = {z}"),
            NAB_CONFIG_TOML,
            &[("z_threshold", z)],
        );
    }
    for hl in ["12", "288", "1000", "4032", "8064"] {
        row(
            &dir,
            &format!("baseline_half_life_bins = {hl}"),
            NAB_CONFIG_TOML,
            &[("baseline_half_life_bins", hl)],
        );
    }
    for wb in ["1", "2", "4", "6"] {
        row(
            &dir,
            &format!("window_bins = {wb}"),
            NAB_CONFIG_TOML,
            &[("window_bins", wb)],
        );
    }
    for (key, value) in [
        ("min_count", "50"),
        ("warmup_bins", "288"),
        ("sustain_ratio", "1.0"),
        ("resolve_after_quiet_bins", "144"),
    ] {
        row(
            &dir,
            &format!("{key} = {value}"),
            NAB_CONFIG_TOML,
            &[(key, value)],
        );
    }
}
