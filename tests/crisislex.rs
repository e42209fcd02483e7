//! The CrisisLexT26 timelines replay (scripts/crisislex_t26_replay.py,
//! docs/EVAL-crisislex.md): 14 real sudden-onset crises the detector was
//! never tuned on, each replayed through the built `vigil` with the
//! default detector. Skips with a message when ../shared/data/crisislex is
//! absent.

use serde_json::Value;

use crate::util::{root, succeeded};

/// The script's per-event results, or `None` after printing why the test
/// skips.
fn t26_events() -> Option<Vec<Value>> {
    let data = root().join("../shared/data/crisislex/CrisisLexT26");
    if !data.is_dir() {
        println!("SKIP: {} absent (CrisisLexT26 timelines)", data.display());
        return None;
    }
    let out = std::process::Command::new("python3")
        .arg(root().join("scripts/crisislex_t26_replay.py"))
        .args(["--json", "--vigil", env!("CARGO_BIN_EXE_vigil")])
        .output()
        .unwrap();
    succeeded(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    Some(
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect(),
    )
}

/// A regression guard on what session 13 measured, not a target fitted
/// to it: no crisis alerts in the quiet hours before its onset, and every
/// crisis whose collection had a quiet history and caught at least 20
/// posts in its first hour (the other collections caught 0 to 19, or
/// started after the onset) alerts within that hour.
#[test]
fn real_crises_alert_within_the_hour_and_never_before_their_onset() {
    let Some(events) = t26_events() else {
        return;
    };
    assert_eq!(events.len(), 14, "{events:?}");
    let mut covered = 0;
    for e in &events {
        let before = e["alerts_before_onset"].as_array().expect("a list");
        assert!(before.is_empty(), "an alert before the onset: {e}");
        let quiet_hours = e["quiet_hours"].as_f64().expect("a number");
        let first_hour = e["posts_first_hour"].as_u64().expect("a count");
        if quiet_hours >= 1.0 && first_hour >= 20 {
            covered += 1;
            let delay = e["first_alert_min"].as_f64();
            assert!(
                delay.is_some_and(|d| (0.0..=60.0).contains(&d)),
                "no alert within the first hour: {e}"
            );
        }
    }
    // A property of the data (quiet history, first-hour posts), so the
    // rule above is not vacuous.
    assert_eq!(covered, 8, "{events:?}");
}
