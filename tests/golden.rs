//! Golden scenarios: every folder under tests/scenarios/ holds config.toml,
//! input.jsonl and expected_alerts.jsonl (and optionally
//! expected_counts.json); the embedded pipeline must produce exactly the
//! expected alerts. Adding a scenario needs no Rust code. Set VIGIL_BLESS=1 to
//! (re)write the expected files, then review the diff.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use tokio_util::sync::CancellationToken;
use vigil_config::Settings;
use vigil_pipeline::Summary;
use vigil_telemetry::Metrics;

use crate::util::{alert_stage, read, root};

fn run_scenario(dir: &Path) -> (Vec<String>, Summary) {
    let settings = Settings::load(&dir.join("config.toml")).expect("scenario config is valid");
    let input = std::fs::read(dir.join("input.jsonl")).unwrap();
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let tap = alerts.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let summary = rt
        .block_on(async {
            vigil_pipeline::run_embedded(
                &settings,
                &vigil_pipeline::LiveConfig::new(&settings).unwrap(),
                Box::new(tokio::io::BufReader::new(std::io::Cursor::new(input))),
                "file".into(),
                alert_stage(&format!(
                    "golden-{}",
                    dir.file_name().unwrap().to_string_lossy()
                )),
                Metrics::new(),
                CancellationToken::new(),
                move |a| tap.lock().unwrap().push(serde_json::to_string(a).unwrap()),
            )
            .await
        })
        .unwrap();
    let alerts = alerts.lock().unwrap().clone();
    (alerts, summary)
}

fn counts(s: &Summary) -> serde_json::Value {
    serde_json::json!({
        "posts_read": s.ingest.lines,
        "rejected": s.ingest.rejected,
        "late": s.detect.late,
        "matched": s.score.matched,
    })
}

/// Readable diff of two JSON-lines lists (as ripgrep's eqnice!).
fn diff(expected: &[String], got: &[String]) -> String {
    let mut out = String::new();
    for i in 0..expected.len().max(got.len()) {
        let (e, g) = (expected.get(i), got.get(i));
        if e != g {
            out += &format!(
                "line {}:\n  expected: {}\n  got:      {}\n",
                i + 1,
                e.map_or("<none>", |s| s),
                g.map_or("<none>", |s| s)
            );
        }
    }
    out
}

#[test]
fn golden_scenarios() {
    let bless = std::env::var_os("VIGIL_BLESS").is_some();
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("tests/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.toml").exists())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 8,
        "expected at least 8 scenarios, found {}",
        dirs.len()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let (alerts, summary) = run_scenario(dir);
        let expected_path = dir.join("expected_alerts.jsonl");
        let counts_path = dir.join("expected_counts.json");
        if bless {
            let mut text = alerts.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            std::fs::write(&expected_path, text).unwrap();
            if counts_path.exists() {
                let c = serde_json::to_string_pretty(&counts(&summary)).unwrap() + "\n";
                std::fs::write(&counts_path, c).unwrap();
            }
            continue;
        }
        let expected: Vec<String> = read(&expected_path).lines().map(String::from).collect();
        if expected != alerts {
            failures.push(format!("scenario {name}:\n{}", diff(&expected, &alerts)));
        }
        if counts_path.exists() {
            let want: serde_json::Value = serde_json::from_str(&read(&counts_path)).unwrap();
            if want != counts(&summary) {
                failures.push(format!(
                    "scenario {name}: counts\n  expected: {want}\n  got:      {}",
                    counts(&summary)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn golden_scenarios_cover_every_level_and_state() {
    let mut seen = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(root().join("tests/scenarios")).unwrap() {
        let p = e.unwrap().path().join("expected_alerts.jsonl");
        for line in read(&p).lines() {
            let a: vigil_types::Alert = serde_json::from_str(line).unwrap();
            seen.insert(format!("{}/{}", a.transition.as_str(), a.level.as_str()));
        }
    }
    for want in [
        "opened/minor",
        "opened/moderate",
        "opened/major",
        "escalated/major",
        "resolved/minor",
    ] {
        assert!(seen.contains(want), "no scenario produces {want}: {seen:?}");
    }
}

#[test]
fn quiet_scenarios_alert_nothing() {
    for name in ["quiet_stream", "slow_steady_rise"] {
        let (alerts, summary) = run_scenario(&root().join("tests/scenarios").join(name));
        assert!(alerts.is_empty(), "{name}: {alerts:?}");
        assert!(
            summary.score.matched > 100,
            "{name} must carry real traffic"
        );
    }
}

#[test]
fn late_and_malformed_lines_change_no_alert() {
    let dir = root().join("tests/scenarios");
    let (clean, _) = run_scenario(&dir.join("sudden_en_spike_minor"));
    let (noisy, summary) = run_scenario(&dir.join("late_and_malformed_lines"));
    assert!(!clean.is_empty());
    assert_eq!(clean, noisy);
    assert_eq!(summary.detect.late, 5);
    assert_eq!(summary.ingest.rejected_total(), 6);
}

#[test]
fn example_input_alerts_at_every_level() {
    let settings = Settings::load(&root().join("config/example.toml")).unwrap();
    let (reader_alerts, _) = {
        let d = crate::util::temp_dir("example");
        std::fs::copy(root().join("config/example.toml"), d.join("config.toml")).unwrap();
        std::fs::copy(root().join("examples/posts.jsonl"), d.join("input.jsonl")).unwrap();
        run_scenario(&d)
    };
    let _ = settings;
    let levels: std::collections::BTreeSet<String> = reader_alerts
        .iter()
        .map(|l| serde_json::from_str::<vigil_types::Alert>(l).unwrap())
        .filter(|a| a.transition == vigil_types::Transition::Opened)
        .map(|a| a.level.as_str().to_string())
        .collect();
    assert_eq!(
        levels.into_iter().collect::<Vec<_>>(),
        vec!["major", "minor", "moderate"]
    );
}

/// Issue 14's "Done means": three distinct complaints in one minute, one of
/// them reposted 40 times. The opening alert lists exactly those 3 stories,
/// largest first, with their counts and originals vs reposts, and names the
/// hashtag and crisis terms that rose.
#[test]
fn three_complaints_one_reposted_make_three_stories_largest_first() {
    let dir = root().join("tests/scenarios/stories_three_complaints_one_reposted");
    let (alerts, _) = run_scenario(&dir);
    let opened: Vec<vigil_types::Alert> = alerts
        .iter()
        .map(|l| serde_json::from_str::<vigil_types::Alert>(l).unwrap())
        .filter(|a| a.transition == vigil_types::Transition::Opened)
        .collect();
    assert_eq!(opened.len(), 1, "{alerts:#?}");
    let a = &opened[0];
    let got: Vec<(u64, u64, u64, &str)> = a
        .evidence
        .stories
        .iter()
        .map(|s| (s.posts, s.originals, s.reposts, s.first_source.as_str()))
        .collect();
    assert_eq!(
        got,
        [(41, 1, 40, "x"), (8, 8, 0, "reddit"), (5, 5, 0, "weibo")],
        "{:#?}",
        a.evidence.stories
    );
    assert!(a.evidence.stories[0]
        .text
        .starts_with("My Acme X1 blender exploded"));
    assert!(a.evidence.stories[1]
        .text
        .starts_with("acme support hung up on me"));
    assert!(a.evidence.stories[2].text.starts_with("艾克美X1搅拌机漏电"));
    // The original's reach plus its 40 reposters' (100..=139).
    assert_eq!(
        a.evidence.stories[0].reach,
        120_000 + (100..140).sum::<u64>()
    );
    assert_eq!(a.evidence.stories[0].sources, ["x", "mastodon"]);
    let rising: Vec<&str> = a
        .evidence
        .rising_terms
        .iter()
        .map(|r| r.term.as_str())
        .collect();
    assert!(rising.contains(&"#boycottacme"), "{rising:?}");
    assert!(rising.contains(&"exploded"), "{rising:?}");
    assert!(rising.contains(&"漏电"), "{rising:?}");
    assert!(a
        .evidence
        .rising_terms
        .iter()
        .all(|r| r.baseline_share == 0.0));
    // Samples show every story first, with the text and the link the input had.
    let ids: Vec<&str> = a
        .evidence
        .samples
        .iter()
        .take(3)
        .map(|s| s.id.as_str())
        .collect();
    let firsts: Vec<&str> = a
        .evidence
        .stories
        .iter()
        .map(|s| s.first_post.as_str())
        .collect();
    assert_eq!(ids, firsts);
    assert_eq!(
        a.evidence.samples[0].url.as_deref(),
        Some(format!("https://x.example/dana_k/{}", firsts[0]).as_str())
    );
    assert!(a.evidence.samples.iter().all(|s| !s.text.is_empty()));
}
