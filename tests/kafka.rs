//! Kafka mode end to end against a real broker (the test command starts
//! tansu on 127.0.0.1 and sets VIGIL_TEST_KAFKA_BROKERS): four `vigil`
//! processes, one per stage, 100,000 posts with spikes of every level and
//! malformed lines; score and detect are SIGKILLed twice each mid-stream and
//! restarted. The alerts must equal an embedded run's (same ids, none
//! missing, no duplicate), the dead-letter topic must hold exactly the
//! malformed lines, and consumer lag must return to 0.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use crate::util::{free_port, http_get, read, temp_dir, vigil};

struct Stage {
    name: &'static str,
    child: Child,
    admin: String,
}

/// A failed assertion must not leave stage processes running: they would
/// keep the broker busy for every later test.
impl Drop for Stage {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn(config: &Path, stage: &'static str, out: &Path, extra: &[&str]) -> Stage {
    spawn_as(config, stage, out, "0", extra)
}

/// As `spawn`, with static-membership instance id `instance`.
fn spawn_as(
    config: &Path,
    stage: &'static str,
    out: &Path,
    instance: &str,
    extra: &[&str],
) -> Stage {
    spawn_with(config, stage, out, instance, extra, Stdio::null())
}

/// As `spawn_as`, with the given stdin.
fn spawn_with(
    config: &Path,
    stage: &'static str,
    out: &Path,
    instance: &str,
    extra: &[&str],
    stdin: Stdio,
) -> Stage {
    let admin = format!("127.0.0.1:{}", free_port());
    let stdout = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap();
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.with_extension("log"))
        .unwrap();
    let child = vigil()
        .args([
            "run",
            "--stage",
            stage,
            "--admin-addr",
            &admin,
            "--instance-id",
            instance,
        ])
        .arg("--config")
        .arg(config)
        .args(extra)
        // Every dropped scored post is logged (with its reason) in the
        // stage's .log file, which outlives a SIGKILLed process's counters.
        .env(
            "RUST_LOG",
            format!(
                "{},vigil_detect::stage=trace",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())
            ),
        )
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    Stage {
        name: stage,
        child,
        admin,
    }
}

/// The broker the test command started, or `None` (after printing SKIP).
fn test_brokers() -> Option<String> {
    let brokers = std::env::var("VIGIL_TEST_KAFKA_BROKERS").ok();
    if brokers.is_none() {
        eprintln!(
            "SKIP: VIGIL_TEST_KAFKA_BROKERS is not set (scripts/test.sh starts a local broker and sets it)"
        );
    }
    brokers
}

fn sigkill(s: &mut Stage) {
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
}

fn sigterm(s: &mut Stage) -> std::process::ExitStatus {
    std::process::Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    s.child.wait().unwrap()
}

fn total_lag(admin: &str) -> Option<f64> {
    let (_, body) = http_get(admin, "/metrics").ok()?;
    let lags: Vec<f64> = body
        .lines()
        .filter(|l| l.starts_with("vigil_kafka_consumer_lag_messages{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!lags.is_empty()).then(|| lags.iter().sum())
}

/// Waits until the stage reports lag for assigned partitions in four polls
/// in a row (two seconds): it owns partitions and is not mid-rebalance.
fn wait_owning_partitions(s: &Stage, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut streak = 0;
    while streak < 4 {
        assert!(
            Instant::now() < deadline,
            "{} never owned its partitions within {timeout:?}",
            s.name
        );
        std::thread::sleep(Duration::from_millis(500));
        streak = if total_lag(&s.admin).is_some() {
            streak + 1
        } else {
            0
        };
    }
}

/// The alert ids of the same input through the embedded pipeline (the
/// reference every Kafka run must match).
fn embedded_alert_ids(input: &Path, config: &Path) -> BTreeSet<String> {
    let embedded = vigil()
        .args(["run", "--input"])
        .arg(input)
        .args([
            "--admin-addr",
            &format!("127.0.0.1:{}", free_port()),
            "--config",
        ])
        .arg(config)
        .output()
        .unwrap();
    assert!(embedded.status.success());
    alert_ids(&String::from_utf8_lossy(&embedded.stdout))
        .into_iter()
        .collect()
}

/// Waits (up to 300 s) until `caught_up` holds and the alerts file has not
/// grown for 6 s; panics with `context()` otherwise.
fn wait_settled(alerts_out: &Path, caught_up: impl Fn() -> bool, context: impl Fn() -> String) {
    wait_settled_within(Duration::from_secs(300), alerts_out, caught_up, context)
}

/// [`wait_settled`] with its own deadline.
fn wait_settled_within(
    within: Duration,
    alerts_out: &Path,
    caught_up: impl Fn() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = Instant::now() + within;
    let mut stable_since: Option<(usize, Instant)> = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "the pipeline never settled; {}",
            context()
        );
        std::thread::sleep(Duration::from_millis(500));
        let zero = caught_up();
        let n = read(alerts_out).lines().count();
        match stable_since {
            Some((m, since)) if m == n && zero => {
                if since.elapsed() > Duration::from_secs(6) {
                    return;
                }
            }
            _ => stable_since = zero.then_some((n, Instant::now())),
        }
    }
}

/// What to read when a Kafka run's alerts differ from the embedded ones:
/// every stage log's dropped posts (by reason), checkpoint restores and
/// warnings, from every instance (SIGKILLed ones included).
fn drop_report(dir: &Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut logs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    for log in logs {
        let text = read(&log);
        let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
        let mut notable = Vec::new();
        for l in text.lines() {
            if l.contains("Scored post dropped.") {
                let r = l
                    .split("reason=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("?");
                *reasons.entry(r.trim_matches('"').to_string()).or_default() += 1;
                if reasons.values().sum::<usize>() <= 5 {
                    notable.push(l);
                }
            } else if l.contains("WARN") || l.contains("ERROR") || l.contains("checkpoint") {
                notable.push(l);
            }
        }
        let name = log.file_name().unwrap_or_default().to_string_lossy();
        out.push_str(&format!("\n== {name}: dropped {reasons:?}\n"));
        for l in notable.iter().rev().take(40).rev() {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// [`wait_settled`] for a run with one detect: until `stages` report lag 0
/// and the alerts file stopped growing (detect's log on a timeout).
fn wait_caught_up(d: &Path, alerts_out: &Path, stages: &[&Stage]) {
    wait_settled(
        alerts_out,
        || stages.iter().all(|s| total_lag(&s.admin) == Some(0.0)),
        || format!("detect log:\n{}", read(&d.join("detect.log"))),
    );
}

/// Writes `lines` to a stage's stdin (ingest's `--input -`).
fn write_lines(stdin: &mut std::process::ChildStdin, lines: &[&str]) {
    use std::io::Write;
    let mut chunk = lines.join("\n");
    chunk.push('\n');
    stdin.write_all(chunk.as_bytes()).unwrap();
    stdin.flush().unwrap();
}

/// Waits (up to 120 s) until `what`, just written, has reached stage `s`:
/// it has records waiting (lag).
fn wait_for_work(s: &Stage, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while total_lag(&s.admin).is_none_or(|l| l <= 0.0) {
        assert!(
            Instant::now() < deadline,
            "{what} never reached the {} stage",
            s.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kafka-mode settings for a test: `head` (watches and any sections before
/// the transport), then the broker with topics and groups of this run's own
/// (named after `label`, the process and a free port), `partitions`
/// partitions, and `extra` lines for `[transport.kafka]` (and any sections
/// after it).
fn kafka_config(head: &str, brokers: &str, label: &str, partitions: u32, extra: &str) -> String {
    let run_id = format!("{label}{}x{}", std::process::id(), free_port());
    format!(
        "{head}\n[transport]\ntype = \"kafka\"\n[transport.kafka]\nbrokers = \"{brokers}\"\ntopic_prefix = \"{run_id}.\"\ngroup_prefix = \"{run_id}\"\npartitions = {partitions}\n{extra}"
    )
}

/// Checkpoints every second, partitions idle only after 2 minutes, and
/// small fetches (so a batch holds a few records, as under load).
const SMALL_FETCHES: &str = "checkpoint_interval_secs = 1\nidle_timeout_secs = 120\n[transport.kafka.client]\n\"max.partition.fetch.bytes\" = \"65536\"\n";

/// The broker, a fresh test folder and the input path in it; `None` (the
/// test is skipped, as `test_brokers` says) without a broker.
fn kafka_test(label: &str) -> Option<(String, PathBuf, PathBuf)> {
    let brokers = test_brokers()?;
    let d = temp_dir(label);
    let input = d.join("posts.jsonl");
    Some((brokers, d, input))
}

/// An ingest stage replaying `input` (output and log in `d`).
fn spawn_ingest(config: &Path, d: &Path, input: &Path) -> Stage {
    let input = input.display().to_string();
    spawn(
        config,
        "ingest",
        &d.join("ingest.out"),
        &["--input", &input],
    )
}

/// An ingest stage reading its standard input, which the test writes
/// (output and log in `d`).
fn spawn_ingest_stdin(config: &Path, d: &Path) -> Stage {
    spawn_with(
        config,
        "ingest",
        &d.join("ingest.out"),
        "0",
        &["--input", "-"],
        Stdio::piped(),
    )
}

fn alert_ids(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            serde_json::from_str::<vigil_types::Alert>(l)
                .unwrap()
                .alert_id
                .0
        })
        .collect()
}

fn malformed_lines(input: &Path, settings: &vigil_config::Settings) -> BTreeSet<Vec<u8>> {
    let mut ing = vigil_ingest::Ingestor::new(&settings.ingest);
    read(input)
        .lines()
        .filter(|l| {
            ing.parse_line(l.as_bytes(), vigil_types::EventTime::wall_clock())
                .is_err()
        })
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

#[test]
fn kafka_stages_survive_sigkill_with_exactly_the_embedded_alerts() {
    let Some((brokers, d, input)) = kafka_test("kafka-e2e") else {
        return;
    };
    let st = vigil()
        .args([
            "gen",
            "--seed",
            "11",
            "--posts",
            "100000",
            "--watches",
            "60",
        ])
        .args([
            "--spikes",
            "12",
            "--malformed",
            "25",
            "--minutes",
            "2880",
            "--out",
        ])
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let watches = read(&PathBuf::from(format!("{}.config.toml", input.display())));
    // The product's default detect settings (30 s of allowed lateness).
    // Replaying history as fast as possible skews the posts partitions by
    // hours of event time, which detect's per-upstream-partition clocks
    // absorb. Score packs per output partition in read order (issue 16
    // item 1); a detect restarted after a SIGKILL restores the lowest
    // watermark of its checkpoints, with clocks heard from at restore time
    // and its partitions' backlog holding the watermark. No post may be
    // dropped as late (asserted below), and every stage log records each
    // dropped post with its reason (printed on a mismatch).
    let embedded_cfg = watches.clone();
    std::fs::write(d.join("embedded.toml"), &embedded_cfg).unwrap();
    let config = d.join("kafka.toml");
    std::fs::write(
        &config,
        kafka_config(&embedded_cfg, &brokers, "e2e", 3, SMALL_FETCHES),
    )
    .unwrap();

    // The reference: the same input through the embedded pipeline.
    let expected = embedded_alert_ids(&input, &d.join("embedded.toml"));
    assert!(
        expected.len() >= 24,
        "the reference run must alert: {expected:?}"
    );

    let alerts_out = d.join("alerts.jsonl");
    let mut alert = spawn(&config, "alert", &alerts_out, &[]);
    let mut detect = spawn(&config, "detect", &d.join("detect.out"), &[]);
    let mut score = spawn(&config, "score", &d.join("score.out"), &[]);
    // Ingest reads stdin, which this test writes in five parts: each kill
    // comes after a part is written and once the part reached the process
    // to kill (it has lag), so every kill is mid-stream however fast or
    // slow the machine (a replay of the whole file could end before the
    // third kill on a loaded machine).
    let mut ingest = spawn_ingest_stdin(&config, &d);
    let text = read(&input);
    let lines: Vec<&str> = text.lines().collect();
    let parts: Vec<&[&str]> = lines.chunks(lines.len().div_ceil(5)).collect();
    assert_eq!(parts.len(), 5);
    let mut stdin = ingest.child.stdin.take().unwrap();
    let mut write_part = |k: usize| write_lines(&mut stdin, parts[k]);
    write_part(0);

    // Kill score and detect twice each, at different points of the stream.
    // Each kill waits until the process to kill owns its partitions: tansu
    // 0.6.0 (not Kafka) was seen to leave a group with no owner for minutes
    // when a member was killed in the middle of a rebalance.
    let started = Instant::now();
    let mut kills = 0;
    for (k, which) in [(1, "score"), (2, "detect"), (3, "score"), (4, "detect")] {
        let s = if which == "score" {
            &mut score
        } else {
            &mut detect
        };
        wait_owning_partitions(s, Duration::from_secs(120));
        write_part(k);
        wait_for_work(s, &format!("part {k}"));
        eprintln!(
            "kafka e2e: SIGKILL {which} at {:.1} s",
            started.elapsed().as_secs_f64()
        );
        sigkill(s);
        kills += 1;
        let out = d.join(format!("{which}.out"));
        *s = spawn(&config, s.name, &out, &[]);
    }
    drop(stdin);
    assert_eq!(kills, 4);
    let ingest_status = ingest.child.wait().unwrap();
    assert!(ingest_status.success(), "{}", read(&d.join("ingest.log")));

    // Wait until every consumer has caught up (lag 0) and alerts settled.
    wait_caught_up(&d, &alerts_out, &[&score, &detect, &alert]);

    // What the last detect instance dropped as late (the SIGKILLed ones
    // took their counters with them).
    let (_, metrics) = http_get(&detect.admin, "/metrics").unwrap();
    let late: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("vigil_detect_discarded_posts_total{") && l.contains("reason=\"late\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    // (An empty f64 sum is -0.)
    let late = late + 0.0;
    eprintln!("kafka e2e: posts dropped as late by the last detect: {late}");

    let got = alert_ids(&read(&alerts_out));
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(
        got.len(),
        unique.len(),
        "duplicate alerts\n{}",
        drop_report(&d)
    );
    let missing: Vec<_> = expected.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}\n{}",
        drop_report(&d)
    );
    // Every detect instance, the SIGKILLed ones included, logged each post
    // it dropped: none was late.
    let late_logged = read(&d.join("detect.log"))
        .lines()
        .filter(|l| l.contains("Scored post dropped.") && l.contains("reason=\"late\""))
        .count();
    assert!(
        late == 0.0 && late_logged == 0,
        "posts dropped as late: {late} by the last detect, {late_logged} logged by all\n{}",
        drop_report(&d)
    );

    // The dead-letter topic holds exactly the malformed lines.
    let settings = vigil_config::Settings::load(&config).unwrap();
    let k = settings.transport.kafka().unwrap();
    let dead = vigil_pipeline::kafka_transport::read_to_end(
        k,
        &vigil_pipeline::kafka_transport::prefixed(
            k,
            vigil_pipeline::kafka_transport::DEAD_LETTER_TOPIC,
        ),
        None,
        Duration::from_secs(30),
    )
    .unwrap();
    let dead_payloads: BTreeSet<Vec<u8>> = dead.iter().map(|r| r.payload.clone()).collect();
    let bad = malformed_lines(&input, &settings);
    assert_eq!(dead.len(), 25, "one dead letter per malformed line");
    assert_eq!(dead_payloads, bad);
    assert!(dead.iter().all(|r| r
        .headers
        .iter()
        .any(|(k, v)| k == "vigil.stage" && v == "ingest")));

    eprintln!(
        "kafka e2e: posts=100000 malformed=25 dead_letters={} alerts={} expected={} duplicates={} kills=4 settle_secs={:.0}",
        dead.len(),
        got.len(),
        expected.len(),
        got.len() - unique.len(),
        started.elapsed().as_secs_f64()
    );
    for s in [&mut score, &mut detect, &mut alert] {
        let status = sigterm(s);
        assert!(status.success(), "{} exited with {status:?}", s.name);
    }
}

/// One watch and two partitions, on topics and groups of their own.
fn two_partition_settings(brokers: &str, label: &str) -> vigil_config::Settings {
    vigil_config::Settings::from_toml_str(
        &kafka_config(
            "[[watches]]\nid = \"w\"\nterms = [\"w\"]",
            brokers,
            label,
            2,
            "",
        ),
        &format!("{label}.toml"),
        &[],
    )
    .unwrap()
}

/// A packing producer writes one record per partition and batch, each
/// value on its key's partition; a consumer gets every value back, in order
/// per key, all values of a record at that
/// record's one position; once acked, the group never sees them again.
#[test]
fn packed_records_deliver_every_value_in_order_and_commit_together() {
    use std::sync::Arc;
    use vigil_pipeline::kafka_transport::{KafkaConsumer, KafkaProducer, KafkaStats};
    use vigil_transport::{Consumer, Position, Producer, Record, Stream};

    let Some(brokers) = test_brokers() else {
        return;
    };
    let settings = two_partition_settings(&brokers, "pack");
    let k = settings.transport.kafka().unwrap().clone();
    let topic = vigil_pipeline::kafka_transport::topic(&k, Stream::Scored);
    let decode: vigil_pipeline::kafka_transport::Decoder<u32> =
        |b| vigil_transport::decode_all(b).map_err(|e| e.to_string());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        vigil_pipeline::kafka_transport::ensure_topics(&k, Duration::from_secs(30))
            .await
            .unwrap();
        let stats = Arc::new(KafkaStats::default());
        let mut p = KafkaProducer::<u32>::new(&k, topic.clone(), stats.clone())
            .unwrap()
            .packing();
        let batch: Vec<Record<u32>> = (0..30)
            .map(|i| Record::new(format!("k{}", i % 3), i))
            .collect();
        p.send(batch).await.unwrap();

        let stored =
            vigil_pipeline::kafka_transport::read_to_end(&k, &topic, None, Duration::from_secs(30))
                .unwrap();
        let partitions: BTreeSet<i32> = (0..3)
            .map(|i| vigil_pipeline::kafka_transport::partition_of(&format!("k{i}"), 2))
            .collect();
        assert_eq!(
            stored.len(),
            partitions.len(),
            "one record per partition a key maps to"
        );
        // A packing producer places values itself: where librdkafka's
        // default partitioner puts a key (a plain producer, by key) is
        // where partition_of says.
        // The posts topic (created with 2 partitions, unused here).
        let plain_topic = vigil_pipeline::kafka_transport::topic(&k, Stream::Posts);
        let mut plain = KafkaProducer::<u32>::new(&k, plain_topic.clone(), stats.clone()).unwrap();
        let keys: Vec<String> = (0..12).map(|i| format!("watch-{i}")).collect();
        plain
            .send(keys.iter().map(|key| Record::new(key.clone(), 1)).collect())
            .await
            .unwrap();
        let by_librdkafka = vigil_pipeline::kafka_transport::read_to_end(
            &k,
            &plain_topic,
            None,
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(by_librdkafka.len(), keys.len());
        for r in &by_librdkafka {
            let key = String::from_utf8(r.key.clone().unwrap()).unwrap();
            assert_eq!(
                r.partition,
                vigil_pipeline::kafka_transport::partition_of(&key, 2),
                "librdkafka put {key} elsewhere"
            );
        }

        let group = format!("{}test", k.group_prefix);
        let receive = |want: usize| {
            let (k, topic, stats, group) = (k.clone(), topic.clone(), stats.clone(), group.clone());
            async move {
                let cancel = tokio_util::sync::CancellationToken::new();
                let mut c = KafkaConsumer::<u32>::new(
                    &k,
                    topic,
                    &group,
                    "test",
                    64,
                    decode,
                    stats,
                    cancel.clone(),
                )
                .unwrap();
                let mut got: Vec<(u32, Position)> = Vec::new();
                // A liveness bound, not a speed check: on a loaded machine
                // tansu took over 60 s to let a consumer join this group.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
                while got.len() < want {
                    let batch = tokio::time::timeout_at(deadline, c.recv())
                        .await
                        .expect("values arrive within 240 s")
                        .unwrap()
                        .unwrap();
                    let positions: Vec<Position> = batch.iter().map(|d| d.position).collect();
                    got.extend(batch.into_iter().map(|d| (d.value, d.position)));
                    c.ack(&positions).await.unwrap();
                }
                // Nothing more than what was wanted.
                let more = tokio::time::timeout(Duration::from_secs(3), c.recv()).await;
                assert!(more.is_err(), "unexpected extra records: {more:?}");
                drop(c); // commits what is finished, synchronously
                got
            }
        };
        let got = receive(30).await;
        let mut values: Vec<u32> = got.iter().map(|(v, _)| *v).collect();
        values.sort_unstable();
        assert_eq!(values, (0..30).collect::<Vec<_>>());
        for key in 0..3 {
            let of_key: Vec<&(u32, Position)> = got.iter().filter(|(v, _)| v % 3 == key).collect();
            let in_order: Vec<u32> = of_key.iter().map(|(v, _)| *v).collect();
            assert_eq!(
                in_order,
                (0..30).filter(|v| v % 3 == key).collect::<Vec<_>>()
            );
            assert!(
                of_key.iter().all(|(_, p)| *p == of_key[0].1),
                "values of one record share its position"
            );
        }

        // The same group resumes after the committed records: it sees only
        // what is new.
        p.send(vec![Record::new("k0", 99), Record::new("k0", 100)])
            .await
            .unwrap();
        let again = receive(2).await;
        assert_eq!(
            again.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
            vec![99, 100]
        );
    });
}

/// A gauge's value summed over its series with `label` (e.g.
/// `stream="scored"`), or `None` when the admin server does not answer.
fn gauge(admin: &str, name: &str, label: &str) -> Option<f64> {
    let (_, body) = http_get(admin, "/metrics").ok()?;
    Some(
        body.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
            // (An empty f64 sum is -0.)
            + 0.0,
    )
}

/// Two detect instances; one is SIGKILLed mid-replay and not restarted.
/// tansu 0.6.0 keeps the dead member in the group's assignment, so its
/// partitions are never taken over: the survivor must say so (gauge of
/// stalled partitions, group lag, `/readyz` 503, a log line) within 60 s
/// instead of reporting lag 0 (issue 16).
#[test]
fn a_dead_detect_members_partitions_are_reported_stalled_within_a_minute() {
    let Some((brokers, d, input)) = kafka_test("kafka-stall") else {
        return;
    };
    let st = vigil()
        .args(["gen", "--seed", "7", "--posts", "100000", "--watches", "60"])
        .args(["--spikes", "12", "--minutes", "2880", "--out"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let watches = read(&PathBuf::from(format!("{}.config.toml", input.display())));
    // Default lateness; a stall timeout of 30 s (default 45 s: reported
    // after 48.8 s alone, 52.8 s beside the kill test, too close to the
    // minute on a loaded machine).
    let config = d.join("kafka.toml");
    std::fs::write(
        &config,
        kafka_config(
            &watches,
            &brokers,
            "stall",
            3,
            &format!("stall_timeout_secs = 30\n{SMALL_FETCHES}"),
        ),
    )
    .unwrap();

    let alerts_out = d.join("alerts.jsonl");
    let mut alert = spawn(&config, "alert", &alerts_out, &[]);
    let mut survivor = spawn_as(&config, "detect", &d.join("detect0.out"), "0", &[]);
    let mut dead = spawn_as(&config, "detect", &d.join("detect1.out"), "1", &[]);
    let mut score = spawn(&config, "score", &d.join("score.out"), &[]);
    // Ingest reads stdin: half the posts before the kill, half after, so
    // the kill is mid-stream however fast the machine.
    let mut ingest = spawn_ingest_stdin(&config, &d);
    let text = read(&input);
    let lines: Vec<&str> = text.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let mut stdin = ingest.child.stdin.take().unwrap();
    write_lines(&mut stdin, first);
    wait_owning_partitions(&survivor, Duration::from_secs(120));
    wait_owning_partitions(&dead, Duration::from_secs(120));
    wait_for_work(&dead, "the first half");
    sigkill(&mut dead);
    let killed = Instant::now();
    eprintln!("kafka stall: SIGKILL detect instance 1");
    write_lines(&mut stdin, second);
    drop(stdin);

    // Reported within 60 s: gauge, /readyz, log line.
    let reported = loop {
        let elapsed = killed.elapsed();
        assert!(
            elapsed < Duration::from_secs(60),
            "no stalled partition reported 60 s after the kill; survivor log:\n{}",
            read(&d.join("detect0.log"))
        );
        std::thread::sleep(Duration::from_millis(500));
        if gauge(
            &survivor.admin,
            "vigil_kafka_stalled_partitions",
            "stream=\"scored\"",
        )
        .is_some_and(|n| n >= 1.0)
        {
            break elapsed;
        }
    };
    let (status, body) = http_get(&survivor.admin, "/readyz").unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("kafka_partition_stalled"), "{body}");
    assert!(
        gauge(
            &survivor.admin,
            "vigil_kafka_group_lag_messages",
            "stream=\"scored\""
        )
        .is_some_and(|l| l > 0.0),
        "the stalled partition's lag shows"
    );
    assert!(
        read(&d.join("detect0.log")).contains("Partitions are stalled"),
        "no log line"
    );
    eprintln!(
        "kafka stall: reported after {:.1} s",
        reported.as_secs_f64()
    );

    // Exactly the partitions the survivor does not own are stalled; its
    // own keep being worked.
    let owned = {
        let (_, body) = http_get(&survivor.admin, "/metrics").unwrap();
        body.lines()
            .filter(|l| l.starts_with("vigil_kafka_consumer_lag_messages{"))
            .count() as f64
    };
    assert!(owned >= 1.0, "the survivor owns partitions");
    assert_eq!(
        gauge(
            &survivor.admin,
            "vigil_kafka_stalled_partitions",
            "stream=\"scored\""
        ),
        Some(3.0 - owned),
        "every partition the survivor does not own, and only those"
    );
    eprintln!(
        "kafka stall: reported after {:.1} s, stalled partitions {}",
        reported.as_secs_f64(),
        3.0 - owned
    );
    // Producers are given producer options only: no librdkafka CONFWARN
    // for the consumer-only group.instance.id and fetch.message.max.bytes.
    for log in ["detect0", "detect1", "score", "alerts", "ingest"] {
        let text = read(&d.join(format!("{log}.log")));
        assert!(!text.contains("CONFWARN"), "{log}:\n{text}");
    }
    // Not asserted here: a replacement with the dead member's instance id.
    // On tansu 0.6.0 its join settled in 19.2 s with exactly the embedded
    // alerts in one try, and in the next revoked the survivor's partitions
    // and left all three unassigned for over 5 minutes (the coordinator
    // waits for the dead member); deploy/README.md describes how Kafka
    // behaves instead.
    drop(ingest);
    for s in [&mut score, &mut survivor, &mut alert] {
        let status = sigterm(s);
        assert!(status.success(), "{} exited with {status:?}", s.name);
    }
}

/// Late drops reported by a detect process (`reason="late"`).
fn late_drops(admin: &str) -> f64 {
    gauge(
        admin,
        "vigil_detect_discarded_posts_total",
        "reason=\"late\"",
    )
    .unwrap_or(0.0)
}

/// A row of issue 16's table at the default lateness (30 s): one ingest,
/// `scores` score and `detects` detect instances and one alert, plus, once
/// about a quarter of the alerts are out (the replay still running), one
/// more instance of `joiner`. The alert ids must be exactly the embedded
/// ones, and no detect may drop a post as late.
fn kafka_row(label: &str, scores: usize, detects: usize, joiner: Option<&'static str>) {
    let Some((brokers, d, input)) = kafka_test(&format!("kafka-{label}")) else {
        return;
    };
    let st = vigil()
        .args([
            "gen",
            "--seed",
            "7",
            "--posts",
            "100000",
            "--watches",
            "200",
        ])
        .args(["--minutes", "2880", "--out"])
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let watches = read(&PathBuf::from(format!("{}.config.toml", input.display())));
    std::fs::write(d.join("embedded.toml"), &watches).unwrap();
    let expected = embedded_alert_ids(&input, &d.join("embedded.toml"));
    assert!(
        expected.len() >= 10,
        "the reference run must alert: {expected:?}"
    );
    let config = d.join("kafka.toml");
    std::fs::write(
        &config,
        kafka_config(&watches, &brokers, label, 3, SMALL_FETCHES),
    )
    .unwrap();
    let alerts_out = d.join("alerts.jsonl");
    let mut alert = spawn(&config, "alert", &alerts_out, &[]);
    let mut detects: Vec<Stage> = (0..detects)
        .map(|i| {
            let out = d.join(format!("detect{i}.out"));
            spawn_as(&config, "detect", &out, &i.to_string(), &[])
        })
        .collect();
    let mut scores: Vec<Stage> = (0..scores)
        .map(|i| {
            let out = d.join(format!("score{i}.out"));
            spawn_as(&config, "score", &out, &i.to_string(), &[])
        })
        .collect();
    let mut ingest = spawn_ingest(&config, &d, &input);
    for s in detects.iter().chain(&scores) {
        wait_owning_partitions(s, Duration::from_secs(120));
    }
    if let Some(stage) = joiner {
        let deadline = Instant::now() + Duration::from_secs(300);
        while read(&alerts_out).lines().count() < expected.len() / 4 {
            assert!(Instant::now() < deadline, "no alerts before the join");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mid_stream = ingest.child.try_wait().unwrap().is_none()
            || gauge(
                &detects[0].admin,
                "vigil_kafka_group_lag_messages",
                "stream=\"scored\"",
            )
            .is_some_and(|l| l > 0.0);
        assert!(mid_stream, "the {stage} joined after the replay was over");
        let group = if stage == "detect" {
            &mut detects
        } else {
            &mut scores
        };
        let i = group.len();
        let out = d.join(format!("{stage}{i}.out"));
        group.push(spawn_as(&config, stage, &out, &i.to_string(), &[]));
        eprintln!(
            "kafka {label}: a third {stage} joined after {} of {} alerts",
            read(&alerts_out).lines().count(),
            expected.len()
        );
    }
    let ingest_status = ingest.child.wait().unwrap();
    assert!(ingest_status.success(), "{}", read(&d.join("ingest.log")));

    // tansu 0.6.0 takes up to about 4 minutes to settle a group that a
    // member joins mid-stream (members assigned and revoked again every 6 s
    // until the newcomer is in; 81 to 334 s measured to settle).
    let within = Duration::from_secs(if joiner.is_some() { 600 } else { 300 });
    wait_settled_within(
        within,
        &alerts_out,
        || {
            scores
                .iter()
                .chain(&detects)
                .chain([&alert])
                .all(|s| total_lag(&s.admin).is_none_or(|l| l == 0.0))
                && gauge(
                    &detects[0].admin,
                    "vigil_kafka_group_lag_messages",
                    "stream=\"scored\"",
                ) == Some(0.0)
                && gauge(
                    &scores[0].admin,
                    "vigil_kafka_group_lag_messages",
                    "stream=\"posts\"",
                ) == Some(0.0)
        },
        String::new,
    );
    let late: Vec<f64> = detects.iter().map(|s| late_drops(&s.admin)).collect();
    let got = alert_ids(&read(&alerts_out));
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    let missing: Vec<_> = expected.difference(&unique).collect();
    let extra: Vec<_> = unique.difference(&expected).collect();
    eprintln!(
        "kafka {label}: alerts={} expected={} missing={} extra={} late_drops={late:?}",
        got.len(),
        expected.len(),
        missing.len(),
        extra.len()
    );
    assert_eq!(
        got.len(),
        unique.len(),
        "duplicate alerts\n{}",
        drop_report(&d)
    );
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}\n{}",
        drop_report(&d)
    );
    assert!(
        late.iter().all(|l| *l == 0.0),
        "posts dropped as late: {late:?}"
    );
    for s in scores
        .iter_mut()
        .chain(detects.iter_mut())
        .chain([&mut alert])
    {
        let status = sigterm(s);
        assert!(status.success(), "{} exited with {status:?}", s.name);
    }
}

/// Issue 16's 1/2/2/1 row: exactly the embedded alert ids (before packing
/// per partition: 4 missing and 4 extra of 18), no post late (before
/// watches could start earlier than the first record read, 0 or 1 post).
#[test]
fn kafka_two_scores_and_two_detects_give_exactly_the_embedded_alerts() {
    kafka_row("twotwo", 2, 2, None);
}

/// Issue 16 item 5: a third detect joins mid-stream, so partitions are
/// revoked from the two running ones. A revoked partition's next owner
/// restores its checkpoint and reads on from the committed offset, which
/// must be that checkpoint's (never an offset merely finished): before the
/// fix the revoke committed finished offsets, the next owner skipped the
/// records in between, and 4 alert ids changed. Exactly the embedded ids,
/// no post late.
#[test]
fn a_detect_joining_mid_stream_keeps_exactly_the_embedded_alerts() {
    kafka_row("joindetect", 2, 2, Some("detect"));
}

/// Issue 16: a third score joins mid-stream, so posts partitions move
/// between score instances while their records are in flight. Exactly the
/// embedded ids, no post late.
#[test]
fn a_score_joining_mid_stream_keeps_exactly_the_embedded_alerts() {
    kafka_row("joinscore", 2, 2, Some("score"));
}

/// `read_latest` (how detect finds a partition's newest checkpoint) reads a
/// keyed topic backwards from its end: the newest record of each wanted
/// key, whether it is near the end or 1,000 records back, and nothing for
/// a key never written.
#[test]
fn read_latest_finds_the_newest_record_of_each_key() {
    use std::sync::Arc;
    use vigil_pipeline::kafka_transport::{KafkaProducer, KafkaStats};

    let Some(brokers) = test_brokers() else {
        return;
    };
    let settings = two_partition_settings(&brokers, "latest");
    let k = settings.transport.kafka().unwrap().clone();
    // The checkpoint topic itself (keyed, as detect writes it).
    let topic = vigil_pipeline::kafka_transport::prefixed(
        &k,
        vigil_pipeline::kafka_transport::DETECT_STATE_TOPIC,
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        vigil_pipeline::kafka_transport::ensure_topics(&k, Duration::from_secs(30))
            .await
            .unwrap();
        let p = KafkaProducer::<()>::for_state(&k, topic.clone(), Arc::new(KafkaStats::default()))
            .unwrap();
        // Key "old" once, then 1,000 records of keys "a" and "b".
        p.send_raw(&[("old".to_string(), b"old-0".to_vec())])
            .await
            .unwrap();
        for chunk in 0..10 {
            let batch: Vec<(String, Vec<u8>)> = (0..100)
                .map(|i| {
                    let n = chunk * 100 + i;
                    let key = if n % 2 == 0 { "a" } else { "b" };
                    (key.to_string(), format!("{key}-{n}").into_bytes())
                })
                .collect();
            p.send_raw(&batch).await.unwrap();
        }
    });
    let keys: Vec<String> = ["a", "b", "old", "never"].map(String::from).to_vec();
    let got =
        vigil_pipeline::kafka_transport::read_latest(&k, &topic, &keys, Duration::from_secs(30))
            .unwrap();
    let mut payloads: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.payload.clone()).unwrap())
        .collect();
    payloads.sort();
    assert_eq!(payloads, ["a-998", "b-999", "old-0"]);
}

/// Issue 17 item 7 in Kafka mode: a narrow query that matched nothing for
/// ten hours alerts on its first burst exactly as the embedded run does.
/// Only score's clock records tell detect that those hours went by (no
/// post matches the watch before the burst); without them the burst would
/// be the first minute Kafka mode's detect hears of, with no history.
#[test]
fn kafka_a_narrow_query_quiet_for_ten_hours_alerts_as_the_embedded_run() {
    let Some((brokers, d, input)) = kafka_test("kafka-narrow") else {
        return;
    };
    let (text, burst) = crate::clock::narrow_query_input();
    std::fs::write(&input, text).unwrap();
    std::fs::write(d.join("embedded.toml"), crate::clock::NARROW).unwrap();
    let expected = embedded_alert_ids(&input, &d.join("embedded.toml"));
    assert!(!expected.is_empty(), "the embedded run alerts");
    let config = d.join("kafka.toml");
    std::fs::write(
        &config,
        kafka_config(
            crate::clock::NARROW,
            &brokers,
            "narrow",
            3,
            "checkpoint_interval_secs = 1\n",
        ),
    )
    .unwrap();
    let alerts_out = d.join("alerts.jsonl");
    let mut alert = spawn(&config, "alert", &alerts_out, &[]);
    let mut detect = spawn(&config, "detect", &d.join("detect.out"), &[]);
    let mut score = spawn(&config, "score", &d.join("score.out"), &[]);
    let mut ingest = spawn_ingest(&config, &d, &input);
    let status = ingest.child.wait().unwrap();
    assert!(status.success(), "{}", read(&d.join("ingest.log")));
    wait_caught_up(&d, &alerts_out, &[&score, &detect, &alert]);
    let text = read(&alerts_out);
    let got: BTreeSet<String> = alert_ids(&text).into_iter().collect();
    assert_eq!(got, expected, "{}", drop_report(&d));
    let opened: Vec<vigil_types::Alert> = text
        .lines()
        .map(|l| serde_json::from_str::<vigil_types::Alert>(l).unwrap())
        .filter(|a| a.transition == vigil_types::Transition::Opened)
        .collect();
    assert_eq!(opened.len(), 1, "{text}");
    assert_eq!(opened[0].level, vigil_types::Level::Major);
    let bins_late = (opened[0].figures.window_end.0 - burst) / 60_000 - 1;
    assert!((0..2).contains(&bins_late), "{bins_late} bins late");
    eprintln!(
        "kafka narrow: alerts={} opened major {bins_late} bins after the burst's",
        got.len()
    );
    for s in [&mut score, &mut detect, &mut alert] {
        let status = sigterm(s);
        assert!(status.success(), "{} exited with {status:?}", s.name);
    }
}

/// An ingest stage that only produces (it reads standard input, no
/// consumer) is ready once the broker has acknowledged its posts: its
/// readiness used to follow a flag only consumers set, so it answered 503
/// for the whole run.
#[test]
fn a_kafka_ingest_stage_without_a_consumer_becomes_ready() {
    let Some((brokers, d, _)) = kafka_test("kafka-ingest-ready") else {
        return;
    };
    let config = d.join("kafka.toml");
    std::fs::write(
        &config,
        kafka_config(
            "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]",
            &brokers,
            "ready",
            1,
            "",
        ),
    )
    .unwrap();
    let mut ingest = spawn_ingest_stdin(&config, &d);
    let mut stdin = ingest.child.stdin.take().unwrap();
    write_lines(
        &mut stdin,
        &[
            r#"{"id":"p1","source":"x","author":"a","text":"acme is great","published_at":"2026-03-02T08:00:00Z"}"#,
        ],
    );
    // Past the stats exporter's first ticks (once a second), which set
    // readiness from the broker flag: before them /readyz says 200 anyway.
    std::thread::sleep(Duration::from_secs(3));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        last = http_get(&ingest.admin, "/readyz").ok();
        if last.as_ref().is_some_and(|(status, _)| *status == 200) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = last.expect("the admin server answers");
    assert_eq!(status, 200, "{body}\n{}", read(&d.join("ingest.log")));
    drop(stdin);
    let status = ingest.child.wait().unwrap();
    assert!(status.success(), "{}", read(&d.join("ingest.log")));
}
