//! NAB diagnostics that print tables rather than check anything: the NAB
//! scores of `config/nab.toml` (the product defaults at 5-minute bins) and
//! of its neighbours, each key moved on its own. They read
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
        series: vigil_eval::nab::SeriesKind::Auto,
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
    header("config/nab.toml (the product defaults at 5-minute bins) with one key moved");
    row(&dir, "config/nab.toml", NAB_CONFIG_TOML, &[]);
    for t in ["3.5", "4", "4.5", "5.5", "6", "7", "8"] {
        row(
            &dir,
            &format!("calibration_sigmas = {t}"),
            NAB_CONFIG_TOML,
            &[("calibration_sigmas", t)],
        );
    }
    for scales in [
        "[300]",
        "[900]",
        "[3600]",
        "[300,900,3600]",
        "[900,1800,3600]",
    ] {
        row(
            &dir,
            &format!("scales_secs = {scales}"),
            NAB_CONFIG_TOML,
            &[("scales_secs", scales)],
        );
    }
    for hl in ["86400", "302400", "1209600"] {
        row(
            &dir,
            &format!("baseline_half_life_secs = {hl}"),
            NAB_CONFIG_TOML,
            &[("baseline_half_life_secs", hl)],
        );
    }
    for hl in ["86400", "2419200"] {
        row(
            &dir,
            &format!("calibration_half_life_secs = {hl}"),
            NAB_CONFIG_TOML,
            &[("calibration_half_life_secs", hl)],
        );
    }
    for (key, value) in [
        ("z_floor", "6"),
        ("seasonal_half_life_days", "0"),
        ("warmup_secs", "86400"),
        ("resolve_after_quiet_secs", "10800"),
    ] {
        row(
            &dir,
            &format!("{key} = {value}"),
            NAB_CONFIG_TOML,
            &[(key, value)],
        );
    }
}
