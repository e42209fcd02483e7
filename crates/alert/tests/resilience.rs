//! Issue 12, "silent loss of alerting": the alert stage against an incident
//! store whose disk fills up (item 1), and against a real HTTP receiver on
//! 127.0.0.1 that hangs or refuses, across a restart (item 4).

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio::sync::mpsc;
use vigil_alert::{
    build_sinks, run_alert, AlertStage, AlertTotals, DispatchOptions, Dispatcher, Sink,
    STORE_DEGRADED,
};
use vigil_config::Settings;
use vigil_incidents::{EscalationPolicy, FaultyFile, IncidentStore, DEFAULT_RETENTION};
use vigil_telemetry::{Metrics, Readiness};
use vigil_transport::{memory_stream, Discard, MemoryProducer, Producer, Record};
use vigil_types::{Alert, EventTime, Level, Spike, Transition};

fn spike(watch: &str) -> Spike {
    let incident = format!("{watch}-1");
    vigil_types::fixtures::spike(watch, &incident, Transition::Opened, Level::Major, 60)
}

/// The sinks a list of `[[alert.sinks]]` tables describes.
fn sinks(tables: &str) -> Vec<Sink> {
    let text = format!("[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n[alert]\n{tables}");
    let settings = Settings::from_toml_str(&text, "test.toml", &[]).unwrap();
    build_sinks(&settings.alert.sinks).unwrap()
}

/// A webhook sink named `hook` posting to `url`, one attempt, long timeout.
fn hook(url: &str) -> Sink {
    sinks(&format!(
        "[[alert.sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{url}\"\ntimeout_ms = 60000\nmax_retries = 0\n"
    ))
    .remove(0)
}

async fn stdout_file(path: &Path) -> Sink {
    Sink::lines(
        "stdout",
        Box::new(tokio::fs::File::create(path).await.unwrap()),
    )
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// Waits (at most `within`) until `path` has `n` lines.
async fn wait_lines(path: &Path, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while lines(path) < n {
        assert!(
            Instant::now() < deadline,
            "{} has {} lines, not {n}, after {within:?}",
            path.display(),
            lines(path)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A receiver on 127.0.0.1 that accepts connections, reads, and never
/// answers (a hung webhook endpoint). Returns its URL.
async fn hanging_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1 << 16];
            let _ = tokio::io::AsyncReadExt::read(&mut conn, &mut buf).await;
            held.push(conn);
        }
    });
    format!("http://{addr}/hook")
}

/// A receiver on 127.0.0.1 that answers 200 and counts requests.
async fn counting_receiver() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let app = axum::Router::new().fallback(move || {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), count)
}

/// A URL on 127.0.0.1 where nothing listens (connection refused).
fn closed_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/hook", l.local_addr().unwrap())
}

fn policy() -> EscalationPolicy {
    EscalationPolicy::notify_all(vec!["stdout".into(), "hook".into()])
}

/// A fresh temporary directory (removed when dropped: keep it), with the
/// paths of the store file and of the stdout sink's file in it.
fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(vigil_incidents::STORE_FILE);
    let out = dir.path().join("stdout.jsonl");
    (dir, path, out)
}

/// The store at `path` with [`policy`].
fn open_store(path: &Path) -> Arc<IncidentStore> {
    Arc::new(IncidentStore::open(path, policy()).unwrap())
}

/// A store at `path` notifying `sinks`, whose disk is full while the flag
/// returned with it is set.
fn faulty_store(path: &Path, sinks: &[&str]) -> (Arc<IncidentStore>, Arc<AtomicBool>) {
    let full = Arc::new(AtomicBool::new(false));
    let (p, f) = (path.to_path_buf(), full.clone());
    let store = IncidentStore::open_with_backend(
        path,
        EscalationPolicy::notify_all(sinks.iter().map(|s| s.to_string()).collect()),
        DEFAULT_RETENTION,
        move || FaultyFile::open(&p, f.clone()),
    )
    .unwrap();
    (Arc::new(store), full)
}

/// A stage on `store` notifying the stdout file `out` and the webhook
/// `hook` at `url`.
async fn stdout_and_hook(store: &Arc<IncidentStore>, out: &Path, url: &str) -> AlertStage {
    stage(
        store.clone(),
        vec![stdout_file(out).await, hook(url)],
        vigil_pipeline_clock,
    )
}

/// Polls `done` every 5 ms until it holds; fails with `what` once `within`
/// has passed.
async fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Opens the store at `path`, waiting for a previous run's tasks to let go
/// of the file (they end shortly after their dispatcher is dropped).
async fn reopen(path: &Path) -> Arc<IncidentStore> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match IncidentStore::open(path, policy()) {
            Ok(s) => return Arc::new(s),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("reopening {}: {e}", path.display()),
        }
    }
}

fn stage(store: Arc<IncidentStore>, sinks: Vec<Sink>, now: fn() -> EventTime) -> AlertStage {
    let metrics = Metrics::new();
    let options = DispatchOptions {
        shutdown_timeout: Duration::from_millis(500),
        ..DispatchOptions::default()
    };
    let readiness = Readiness::default();
    readiness.set(true);
    AlertStage {
        dispatcher: Dispatcher::spawn_with(sinks, metrics.clone(), store.clone(), options, now),
        store,
        metrics,
        readiness,
        now,
    }
}

/// A running alert stage: spikes in, alerts tapped out.
struct Running {
    tx: MemoryProducer<Spike>,
    tapped: mpsc::UnboundedReceiver<Alert>,
    task: tokio::task::JoinHandle<AlertTotals>,
}

impl Running {
    fn start(stage: AlertStage) -> Running {
        let (tx, rx) = memory_stream(4);
        let (tap_tx, tapped) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            run_alert(stage, rx, Discard, move |a| {
                let _ = tap_tx.send(a.clone());
            })
            .await
            .expect("the alert stage does not stop")
        });
        Running { tx, tapped, task }
    }

    /// Sends one spike and waits (at most 2 s) until the stage has handled
    /// it (its alert tapped).
    async fn spike(&mut self, watch: &str) -> Alert {
        self.tx
            .send(vec![Record::new(watch, spike(watch))])
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(2), self.tapped.recv())
            .await
            .expect("the stage handles the spike within 2 s (it did not stop)")
            .expect("the stage is running")
    }

    async fn finish(self) -> AlertTotals {
        drop(self.tx);
        self.task.await.unwrap()
    }
}

/// Item 1: the store's disk fills up. The stage does not stop: the error is
/// counted at once, `/readyz` is not ready (naming the store), the alert
/// still reaches the sink; when space returns the store writes again
/// without a restart, what was held is recorded, and readiness returns.
#[tokio::test]
async fn issue_12_a_full_store_disk_degrades_the_stage_which_still_notifies_and_recovers() {
    let (_dir, path, out) = scratch();
    let (store, full) = faulty_store(&path, &["stdout"]);
    let stage = stage(
        store.clone(),
        vec![stdout_file(&out).await],
        vigil_pipeline_clock,
    );
    let (metrics, readiness) = (stage.metrics.clone(), stage.readiness.clone());
    let mut run = Running::start(stage);

    run.spike("acme").await;
    wait_lines(&out, 1, Duration::from_secs(2)).await;
    assert!(readiness.get());

    full.store(true, Ordering::Release);
    run.spike("bolt").await;
    wait_lines(&out, 2, Duration::from_secs(2)).await;
    assert_eq!(metrics.alert_store_errors.get(), 1, "counted at once");
    assert_eq!(metrics.alert_store_degraded.get(), 1);
    assert!(!readiness.get(), "/readyz must not answer ready");
    assert_eq!(readiness.degraded(), [STORE_DEGRADED]);
    assert!(store.is_degraded());
    // Still degraded: more alerts are delivered too.
    run.spike("cask").await;
    wait_lines(&out, 3, Duration::from_secs(2)).await;
    assert!(!readiness.get());

    full.store(false, Ordering::Release);
    run.spike("dart").await;
    wait_lines(&out, 4, Duration::from_secs(2)).await;
    assert!(readiness.get(), "readiness returns once a write succeeds");
    assert_eq!(metrics.alert_store_degraded.get(), 0);
    assert!(!store.is_degraded());
    let totals = run.finish().await;
    assert_eq!(totals.total(), 4);
    assert!(totals.undelivered.is_empty());
    for id in ["acme-1", "bolt-1", "cask-1", "dart-1"] {
        assert!(store.get(id).is_some(), "{id}");
    }
    // What was held reached the file: a reopen (after this run lets go of
    // it) has every incident.
    drop(store);
    let store = reopen_faulty(&path).await;
    for id in ["acme-1", "bolt-1", "cask-1", "dart-1"] {
        assert!(store.get(id).is_some(), "{id} is in the file");
    }
}

fn vigil_pipeline_clock() -> EventTime {
    EventTime(61_000)
}

async fn reopen_faulty(path: &Path) -> IncidentStore {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match IncidentStore::open(path, EscalationPolicy::notify_all(vec!["stdout".into()])) {
            Ok(s) => return s,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Item 4: a webhook receiver that never answers delays neither stdout nor
/// the stage: every alert reaches stdout at once; the end of the run waits
/// at most the shutdown timeout and says what the webhook did not get,
/// which stays in the outbox for that sink only.
#[tokio::test]
async fn issue_12_a_hanging_webhook_delays_neither_stdout_nor_shutdown() {
    let (_dir, path, out) = scratch();
    let store = open_store(&path);
    let stage = stdout_and_hook(&store, &out, &hanging_receiver().await).await;
    let mut run = Running::start(stage);
    let watches = ["w1", "w2", "w3", "w4", "w5"];
    for (i, w) in watches.iter().enumerate() {
        run.spike(w).await;
        // Promptly: well under the webhook's 60 s timeout.
        wait_lines(&out, i + 1, Duration::from_secs(1)).await;
    }
    let started = Instant::now();
    let totals = run.finish().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown is bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(totals.total(), 5);
    assert_eq!(
        totals.undelivered.get("hook"),
        Some(&5),
        "{:?}",
        totals.undelivered
    );
    assert_eq!(lines(&out), 5);
    let pending = store.pending_notifications().unwrap();
    assert_eq!(pending.len(), 5, "kept for the next start");
    // The one being delivered to the hook names only the hook now; the
    // ones still queued were never tried anywhere else either way... except
    // stdout, which had them all: each keeps only the sinks still to reach.
    for n in &pending {
        assert_eq!(n.sinks, ["hook"], "{n:?}");
    }
}

/// Item 4: a notification the webhook refused after its retries is kept in
/// the durable outbox for that sink and, after a restart, sent to it (and
/// not again to stdout), then removed.
#[tokio::test]
async fn issue_12_failed_notifications_are_resent_after_a_restart() {
    let (dir, path, out) = scratch();
    {
        let store = open_store(&path);
        let stage = stdout_and_hook(&store, &out, &closed_url()).await;
        let mut run = Running::start(stage);
        run.spike("w1").await;
        run.spike("w2").await;
        let totals = run.finish().await;
        assert_eq!(totals.failed, 2);
        assert_eq!(lines(&out), 2);
        let pending = store.pending_notifications().unwrap();
        assert_eq!(pending.len(), 2);
        for n in &pending {
            assert_eq!(n.sinks, ["hook"]);
            assert_eq!(n.attempts, 1);
            assert_eq!(n.first_failed_at, Some(vigil_pipeline_clock()));
        }
    }
    // Restart, with the receiver back.
    let store = reopen(&path).await;
    let (url, received) = counting_receiver().await;
    let out2: PathBuf = dir.path().join("stdout2.jsonl");
    let stage = stdout_and_hook(&store, &out2, &url).await;
    let metrics = stage.metrics.clone();
    let totals = Running::start(stage).finish().await;
    assert_eq!(totals.failed, 0);
    assert!(totals.undelivered.is_empty());
    assert_eq!(received.load(Ordering::SeqCst), 2, "re-sent to the hook");
    assert_eq!(lines(&out2), 0, "not sent to stdout again");
    assert!(store.pending_notifications().unwrap().is_empty());
    assert_eq!(
        metrics.alert_outbox_notifications.get(),
        2,
        "the backlog seen at start"
    );
}

/// Item 4: a notification that keeps failing is dropped from the outbox
/// once `outbox_expiry` has passed since its first failure, logged and
/// counted; before that, the timer sends it again once its backoff is over.
#[tokio::test]
async fn issue_12_outbox_retries_with_backoff_then_expires() {
    let (_dir, path, out) = scratch();
    let store = open_store(&path);
    let stage = stdout_and_hook(&store, &out, &closed_url()).await;
    let (dispatcher, metrics) = (stage.dispatcher.clone(), stage.metrics.clone());
    let mut run = Running::start(stage.clone());
    run.spike("w1").await;
    let totals = run.finish().await;
    assert_eq!(totals.failed, 1);
    let t0 = vigil_pipeline_clock().0;
    let first = store.pending_notifications().unwrap();
    assert_eq!(first[0].attempts, 1);
    // Not yet due (the first retry waits 10 s by default).
    assert_eq!(
        dispatcher
            .resend_outbox(EventTime(t0 + 5_000), false)
            .await
            .unwrap(),
        0
    );
    // Due: sent again, fails again, kept with one more attempt.
    assert_eq!(
        dispatcher
            .resend_outbox(EventTime(t0 + 10_000), false)
            .await
            .unwrap(),
        1
    );
    wait_until(Duration::from_secs(5), "retried", || {
        store.pending_notifications().unwrap()[0].attempts >= 2
    })
    .await;
    assert_eq!(dispatcher.failed(), 2);
    // A day after the first failure: expired, dropped, counted, never sent
    // again. (The round that recorded attempt 2 may still be settling: a
    // sweep skips an entry in flight, so sweep until it is gone.)
    let later = EventTime(t0 + 86_400_000);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert_eq!(dispatcher.resend_outbox(later, false).await.unwrap(), 0);
        if store.pending_notifications().unwrap().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the expired entry was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        metrics
            .alert_expired_notifications
            .with_label_values(&["hook"])
            .get(),
        1
    );
    drop(stage);
}

/// The issue's "done means": the store's disk full *and* a hanging receiver
/// during one run. Every alert still reaches stdout and the other webhook
/// promptly, and the degraded state is visible over HTTP in `/readyz` and
/// `/metrics`; once the disk has room, `/readyz` is ready again.
#[tokio::test]
async fn issue_12_disk_full_and_a_hanging_receiver_during_one_run() {
    let (_dir, path, out) = scratch();
    let (store, full) = faulty_store(&path, &["stdout", "hook", "other"]);
    let (other_url, other) = counting_receiver().await;
    let mut all = vec![stdout_file(&out).await, hook(&hanging_receiver().await)];
    all.extend(sinks(&format!(
        "[[alert.sinks]]\ntype = \"webhook\"\nname = \"other\"\nurl = \"{other_url}\"\n"
    )));
    let stage = stage(store.clone(), all, vigil_pipeline_clock);
    let admin = vigil_telemetry::serve_admin(
        "127.0.0.1:0".parse().unwrap(),
        stage.metrics.clone(),
        stage.readiness.clone(),
        axum::Router::new(),
        vigil_telemetry::ServerLimits::default(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    let get = |route: &'static str| {
        let url = format!("http://{}{route}", admin.addr);
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/readyz").await.0, 200);
    let mut run = Running::start(stage);
    run.spike("w1").await;
    full.store(true, Ordering::Release);
    for (i, w) in ["w2", "w3", "w4"].iter().enumerate() {
        run.spike(w).await;
        wait_lines(&out, i + 2, Duration::from_secs(1)).await;
    }
    wait_until(
        Duration::from_secs(2),
        "the other webhook got every alert",
        || other.load(Ordering::SeqCst) >= 4,
    )
    .await;
    assert_eq!(
        get("/readyz").await,
        (503, "not ready: degraded: incident_store\n".to_string())
    );
    let metrics = get("/metrics").await.1;
    assert!(
        metrics.contains("vigil_alert_store_degraded 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vigil_alert_store_errors_total 3"),
        "{metrics}"
    );
    full.store(false, Ordering::Release);
    run.spike("w5").await;
    wait_lines(&out, 5, Duration::from_secs(1)).await;
    assert_eq!(get("/readyz").await.0, 200);
    let totals = run.finish().await;
    assert_eq!(totals.total(), 5);
    assert_eq!(totals.undelivered.get("hook"), Some(&5));
    // Even those queued while the store could not write are kept for the
    // hook, now that it can.
    let pending = store.pending_notifications().unwrap();
    assert_eq!(pending.len(), 5);
    assert!(pending.iter().all(|n| n.sinks == ["hook"]), "{pending:?}");
}

/// Item 4: a sink's queue is bounded. With room for one notification and
/// the webhook hanging on another, a third finds the queue full: it counts
/// as failed for that sink only, stays in the outbox for it, and stdout
/// still gets all three.
#[tokio::test]
async fn issue_12_a_full_sink_queue_keeps_the_notification_in_the_outbox() {
    let (_dir, path, out) = scratch();
    let store = open_store(&path);
    let metrics = Metrics::new();
    let options = DispatchOptions {
        queue_capacity: 1,
        shutdown_timeout: Duration::from_millis(200),
        ..DispatchOptions::default()
    };
    let sinks = vec![stdout_file(&out).await, hook(&hanging_receiver().await)];
    let stage = AlertStage {
        dispatcher: Dispatcher::spawn_with(
            sinks,
            metrics.clone(),
            store.clone(),
            options,
            vigil_pipeline_clock,
        ),
        store: store.clone(),
        metrics: metrics.clone(),
        readiness: Readiness::default(),
        now: vigil_pipeline_clock,
    };
    let mut run = Running::start(stage);
    run.spike("w1").await;
    // Let the hook's task take w1 (and hang on it), so w2 waits in the queue.
    tokio::time::sleep(Duration::from_millis(100)).await;
    run.spike("w2").await;
    run.spike("w3").await;
    wait_lines(&out, 3, Duration::from_secs(1)).await;
    wait_until(Duration::from_secs(2), "w3 kept after failing", || {
        store
            .pending_notifications()
            .unwrap()
            .iter()
            .any(|n| n.attempts != 0)
    })
    .await;
    assert_eq!(
        metrics
            .alert_failed_alerts
            .with_label_values(&["hook"])
            .get(),
        1
    );
    assert_eq!(
        metrics
            .alert_failed_alerts
            .with_label_values(&["stdout"])
            .get(),
        0
    );
    let failed: Vec<_> = store
        .pending_notifications()
        .unwrap()
        .into_iter()
        .filter(|n| n.attempts > 0)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].incident, "w3-1");
    assert_eq!(failed[0].sinks, ["hook"]);
    let totals = run.finish().await;
    assert_eq!(
        totals.undelivered.get("hook"),
        Some(&2),
        "w1 in flight, w2 queued"
    );
}
