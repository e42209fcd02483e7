//! Issue 17 item 7: time passes without posts. Detect's clock moves with
//! every ingested post, matched or not (score's clock records), and on a
//! live input with the wall clock while it is silent.

use std::{
    io::{BufRead, BufReader, Write},
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;
use vigil_config::Settings;
use vigil_telemetry::Metrics;
use vigil_types::{Alert, Level, Transition};

use crate::util::{alert_stage, free_port, temp_dir, vigil};

/// Only the narrow watch: the ordinary brand posts match nothing, so only
/// score's clock tells detect that ten hours went by.
pub(crate) const NARROW: &str = r#"
[[watches]]
id = "acme-breach"
name = "Acme data breach or recall"
query = '(艾克美 OR acme) AND (数据泄露 OR 召回 OR "data breach")'
"#;

fn line(id: &str, source: &str, text: &str, ms: i64) -> String {
    serde_json::json!({
        "id": id, "source": source, "author": format!("u{id}"), "text": text,
        "published_at": ms,
    })
    .to_string()
}

/// Ten quiet hours of ordinary brand posts every 30 s (the narrow query
/// matches none of them), then 30 posts of a data breach in one minute
/// from three platforms, then five more minutes of ordinary posts (one
/// every 10 s); with the burst's first millisecond.
pub(crate) fn narrow_query_input() -> (String, i64) {
    let t0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let mut input = String::new();
    let quiet_ms = 10 * 3_600_000;
    let mut t = t0;
    let mut n = 0;
    while t < t0 + quiet_ms {
        input += &line(&format!("q{n}"), "weibo", "艾克美的新店今天开业了", t);
        input.push('\n');
        t += 30_000;
        n += 1;
    }
    let burst = t0 + quiet_ms;
    for i in 0..30 {
        let source = ["weibo", "douyin", "zhihu"][i % 3];
        input += &line(
            &format!("b{i}"),
            source,
            "艾克美 數據洩露，用户信息被公开出售",
            burst + i as i64 * 2_000,
        );
        input.push('\n');
    }
    // Every 10 s: in Kafka mode each posts partition gets some of them, so
    // every upstream stream's clock passes the burst (a stream whose last
    // post came before it would hold the watermark until it goes idle).
    for k in 1..=30 {
        input += &line(
            &format!("a{k}"),
            "weibo",
            "艾克美的新店今天开业了",
            burst + k * 10_000,
        );
        input.push('\n');
    }
    (input, burst)
}

#[test]
fn a_narrow_query_quiet_for_ten_hours_alerts_on_a_burst_within_two_bins_at_major() {
    let settings = Settings::from_toml_str(NARROW, "narrow.toml", &[]).unwrap();
    let (input, burst) = narrow_query_input();
    let alerts = Arc::new(Mutex::new(Vec::<Alert>::new()));
    let tap = alerts.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(vigil_pipeline::run_embedded(
        &settings,
        &vigil_pipeline::LiveConfig::new(&settings).unwrap(),
        Box::new(tokio::io::BufReader::new(std::io::Cursor::new(input))),
        "file".into(),
        alert_stage("narrow-query"),
        Metrics::new(),
        CancellationToken::new(),
        move |a: &Alert| tap.lock().unwrap().push(a.clone()),
    ))
    .unwrap();
    let alerts = alerts.lock().unwrap();
    let opened: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.watch.as_str() == "acme-breach" && a.transition == Transition::Opened)
        .collect();
    assert_eq!(opened.len(), 1, "{alerts:#?}");
    let a = opened[0];
    assert_eq!(a.level, Level::Major, "{a:#?}");
    // The burst's minute is bin 0; within 2 bins means it ends by bin 2.
    let bins_late = (a.figures.window_end.0 - burst) / 60_000 - 1;
    assert!((0..2).contains(&bins_late), "{bins_late} bins late: {a:#?}");
    let sources = a.figures.distinct_sources;
    assert_eq!(sources, 3, "{a:#?}");
}

#[test]
fn live_on_stdin_a_burst_then_silence_alerts_within_a_bin_plus_lateness_plus_5_s() {
    // 10-second bins and 2 s of lateness keep the test short; the bound is
    // the issue's: one bin + the allowed lateness + 5 s of wall time.
    let d = temp_dir("live-stdin");
    let cfg = d.join("live.toml");
    std::fs::write(
        &cfg,
        "[detect]\nbin_secs = 10\nscales_secs = [10]\nallowed_lateness_secs = 2\nabsolute_count = 20\nresolve_after_quiet_secs = 600\n\n[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n",
    )
    .unwrap();
    let mut child = vigil()
        .args(["run", "--config", cfg.to_str().unwrap(), "--input", "-"])
        .args(["--admin-addr", &format!("127.0.0.1:{}", free_port())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), l));
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let now_ms = || vigil_types::EventTime::wall_clock().0;
    // A burst of 30 posts dated now, then silence (stdin stays open).
    let first = now_ms();
    for i in 0..30 {
        writeln!(
            stdin,
            "{}",
            line(&format!("p{i}"), "x", "acme is down again", now_ms())
        )
        .unwrap();
    }
    stdin.flush().unwrap();
    let sent = Instant::now();
    // The burst's bin ends at most 10 s after its first post.
    let bin_end = (first / 10_000 + 1) * 10_000;
    let budget =
        Duration::from_millis((bin_end - first).max(0) as u64) + Duration::from_secs(2 + 5);
    let got = rx.recv_timeout(budget + Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    drop(stdin);
    let (at, l) = got.expect("no alert while stdin stayed open and silent");
    let alert: Alert = serde_json::from_str(&l).unwrap();
    assert_eq!(alert.transition, Transition::Opened, "{l}");
    let waited = at.duration_since(sent);
    assert!(
        waited <= budget,
        "alert after {waited:?}, allowed {budget:?} (bin + lateness + 5 s)"
    );
}
