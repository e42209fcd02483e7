//! `vigil gen`: deterministic output, and every injected spike is found at
//! its onset with its intended level.

use std::collections::BTreeMap;

use crate::util::{free_port, read, succeeded, temp_dir, vigil};

fn gen(dir: &std::path::Path, seed: u64) -> std::path::PathBuf {
    let out = dir.join(format!("posts-{seed}.jsonl"));
    let st = vigil()
        .args([
            "gen",
            "--seed",
            &seed.to_string(),
            "--posts",
            "30000",
            "--watches",
            "30",
        ])
        .args([
            "--spikes",
            "6",
            "--malformed",
            "7",
            "--minutes",
            "1440",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    out
}

#[test]
fn gen_is_deterministic_and_its_spikes_are_detected() {
    let d = temp_dir("gen");
    let a = gen(&d, 7);
    let first = read(&a);
    let b = gen(&d, 7);
    assert_eq!(first, read(&b), "same seed, same bytes");
    assert_eq!(first.lines().count(), 30_000);
    let other = gen(&d, 8);
    assert_ne!(first, read(&other));
    let zh = first
        .lines()
        .filter(|l| l.contains("\"lang\":\"zh\""))
        .count();
    assert!(zh > 5_000, "ZH posts: {zh}");
    let sources: std::collections::BTreeSet<&str> = first
        .lines()
        .filter_map(|l| l.split("\"source\":\"").nth(1)?.split('"').next())
        .collect();
    assert!(sources.len() >= 6, "{sources:?}");

    let cfg = d.join("posts-7.jsonl.config.toml");
    let out = vigil()
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--input")
        .arg(&a)
        .args(["--admin-addr", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    let stderr = succeeded(&out);
    assert!(stderr.contains("rejected=7"), "{stderr}");
    let opened: BTreeMap<(String, i64), String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<vigil_types::Alert>(l).unwrap())
        .filter(|a| a.transition == vigil_types::Transition::Opened)
        .map(|a| {
            (
                (a.watch.0.clone(), a.figures.window_start.0),
                a.level.as_str().to_string(),
            )
        })
        .collect();
    let spikes = read(&d.join("posts-7.jsonl.spikes.jsonl"));
    let mut found = 0;
    for line in spikes.lines() {
        let s: serde_json::Value = serde_json::from_str(line).unwrap();
        let watch = s["watch"].as_str().unwrap().to_string();
        let onset = vigil_types::EventTime::parse_rfc3339(s["onset"].as_str().unwrap()).unwrap();
        // Detected within 2 one-minute bins of onset, at the intended level.
        let hit = opened
            .iter()
            .find(|((w, t), _)| *w == watch && *t >= onset.0 && *t <= onset.0 + 2 * 60_000);
        let (_, level) = hit.unwrap_or_else(|| panic!("spike {line} not detected: {opened:?}"));
        assert_eq!(level, s["level"].as_str().unwrap(), "{line}");
        found += 1;
    }
    assert_eq!(found, 6);
    // No alert opened away from an injected spike (no false alarm).
    assert_eq!(opened.len(), 6, "{opened:?}");
}
