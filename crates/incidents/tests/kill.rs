//! Nothing acknowledged is lost: a writer process records a burst of
//! incidents and acknowledgements, printing each one only after the store
//! returned `Ok`; it is killed with SIGKILL mid-burst; the store then opens
//! cleanly and holds every printed change. Twice, so a recovered file is
//! also written to and killed again.
//!
//! The writer is this same test binary (`harness = false`), re-run with
//! `KILL_CHILD_ENV` set: `main` then writes until killed instead of testing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vigil_incidents::{Action, EscalationPolicy, IncidentStore, State, STORE_FILE};
use vigil_types::{Alert, EventTime, Level, PostId, Spike, Transition};

const KILL_CHILD_ENV: &str = "VIGIL_INCIDENTS_KILL_CHILD";
const KILL_START_ENV: &str = "VIGIL_INCIDENTS_KILL_START";

fn spike(incident: &str, transition: Transition, end_secs: i64) -> Spike {
    let mut s = vigil_types::fixtures::spike("acme", incident, transition, Level::Major, end_secs);
    s.figures.reason = "burst".into();
    s.figures.observed = 50;
    s.figures.z = 20.0;
    s.sample_post_ids = vec![PostId::from("p1")];
    s.distinct_regions = 1;
    s
}

fn policy() -> EscalationPolicy {
    EscalationPolicy::notify_all(vec!["stdout".into()])
}

/// The writer (the parent set `KILL_CHILD_ENV` to a store path): writes
/// until it is killed.
fn child_writer(path: &str) {
    let start: i64 = std::env::var(KILL_START_ENV).unwrap().parse().unwrap();
    let store = IncidentStore::open(Path::new(path), policy()).unwrap();
    for i in start.. {
        let id = format!("acme-{i}");
        let now = EventTime(i * 1000);
        let alert = Alert::from_spike(&spike(&id, Transition::Opened, i * 60)).unwrap();
        store.on_alert(&alert, now).unwrap();
        store
            .on_spikes(
                &[
                    spike(&id, Transition::Ongoing, i * 60 + 60),
                    spike(&id, Transition::Ongoing, i * 60 + 120),
                ],
                now,
            )
            .unwrap();
        store.act(&id, Action::Ack, "alice", now).unwrap();
        // Only now is the ack "acknowledged to a caller".
        println!("acked {i}");
    }
}

/// Starts a writer at `start`, kills it with SIGKILL once it has reported
/// `at_least` acks; returns the last ack it reported.
fn write_then_kill(path: &Path, start: i64, at_least: i64) -> i64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(KILL_CHILD_ENV, path)
        .env(KILL_START_ENV, start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut last = start - 1;
    let deadline = Instant::now() + Duration::from_secs(120);
    while last < start + at_least - 1 {
        assert!(Instant::now() < deadline, "the writer is too slow");
        let Some(line) = lines.next() else {
            panic!("the writer exited early: {:?}", child.wait())
        };
        if let Some(n) = line.unwrap().strip_prefix("acked ") {
            last = n.trim().parse().unwrap();
        }
    }
    // Mid-burst: the writer is inside its next transactions.
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // Acks printed between our last read and the kill count too.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("acked ") {
            last = n.trim().parse().unwrap();
        }
    }
    last
}

fn check(path: &Path, upto: i64) -> IncidentStore {
    let store = IncidentStore::open(path, policy()).expect("the store opens after kill -9");
    for i in 0..=upto {
        let inc = store
            .get(&format!("acme-{i}"))
            .unwrap_or_else(|| panic!("acme-{i} was acknowledged to the caller but is lost"));
        assert_eq!(inc.state, State::Acknowledged, "acme-{i}");
        assert_eq!(inc.acknowledged.as_ref().unwrap().by, "alice");
        assert_eq!(inc.volume.len(), 3, "acme-{i}");
    }
    store
}

fn main() {
    if let Ok(path) = std::env::var(KILL_CHILD_ENV) {
        child_writer(&path);
        return;
    }
    // Same output as libtest's, so the test command counts it.
    println!("\nrunning 1 test");
    kill_9_during_a_burst_loses_nothing_acknowledged();
    println!("test kill_9_during_a_burst_loses_nothing_acknowledged ... ok");
    println!("\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
}

fn kill_9_during_a_burst_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(STORE_FILE);
    let first = write_then_kill(&path, 0, 40);
    drop(check(&path, first));
    // Resume after the last acknowledged one: an incident the writer
    // recorded but did not get to report is redone (its alert is then a
    // duplicate, its ack idempotent).
    let second = write_then_kill(&path, first + 1, 40);
    let store = check(&path, second);
    // And the recovered store keeps working.
    let alert = Alert::from_spike(&spike("acme-0", Transition::Resolved, 99_999)).unwrap();
    store.on_alert(&alert, EventTime(99_999_000)).unwrap();
    drop(store);
    let store = IncidentStore::open(&path, policy()).unwrap();
    assert_eq!(store.get("acme-0").unwrap().state, State::Resolved);
    eprintln!(
        "kill -9 test: {} acknowledged incidents survived two kills",
        second + 1
    );
}
