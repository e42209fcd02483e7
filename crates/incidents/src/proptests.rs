//! Property tests: any sequence of alerts, spikes, actions, silences and
//! ticks keeps the incident invariants, and the store restores exactly what
//! the pure core holds.

use std::collections::BTreeMap;

use proptest::prelude::*;
use vigil_types::{EventTime, IncidentId, Level, Transition, WatchId};

use crate::tests::{alert, policy, spike};
use crate::*;

#[derive(Clone, Debug)]
enum Op {
    Alert(usize, Transition, Level, bool),
    Ongoing(usize),
    Act(usize, Action, &'static str),
    Silence(Option<Level>, i64),
    Tick,
}

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![
        Just(Level::Minor),
        Just(Level::Moderate),
        Just(Level::Major)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let inc = 0usize..3;
    prop_oneof![
        4 => (
            inc.clone(),
            prop_oneof![
                Just(Transition::Opened),
                Just(Transition::Escalated),
                Just(Transition::Resolved)
            ],
            level(),
            any::<bool>()
        )
            .prop_map(|(i, tr, l, twice)| Op::Alert(i, tr, l, twice)),
        3 => inc.clone().prop_map(Op::Ongoing),
        4 => (
            inc,
            prop_oneof![
                Just(Action::Ack),
                Just(Action::Resolve),
                Just(Action::Reopen),
                Just(Action::Assign {
                    assignee: "dana".into()
                }),
                Just(Action::Assign {
                    assignee: "erin".into()
                }),
                Just(Action::Comment {
                    text: "note".into()
                }),
            ],
            prop_oneof![Just("alice"), Just("bob")]
        )
            .prop_map(|(i, a, who)| Op::Act(i, a, who)),
        1 => (proptest::option::of(level()), 60i64..3000)
            .prop_map(|(l, len)| Op::Silence(l, len)),
        3 => Just(Op::Tick),
    ]
}

fn ops() -> impl Strategy<Value = Vec<(Op, i64)>> {
    proptest::collection::vec((op(), 0i64..400), 1..60)
}

fn id(i: usize) -> String {
    format!("w-{i}")
}

/// Applies one op to a tracker, or the same op to a store.
trait Target {
    fn alert(&mut self, a: &vigil_types::Alert, now: EventTime) -> Outcome;
    fn spike(&mut self, s: &vigil_types::Spike, now: EventTime) -> Outcome;
    fn act(&mut self, id: &str, a: Action, who: &str, now: EventTime) -> Result<ActOutcome, Error>;
    fn silence(&mut self, s: NewSilence, now: EventTime);
    fn tick(&mut self, now: EventTime) -> Vec<Notification>;
}

impl Target for IncidentTracker {
    fn alert(&mut self, a: &vigil_types::Alert, now: EventTime) -> Outcome {
        self.on_alert(a, now)
    }
    fn spike(&mut self, s: &vigil_types::Spike, now: EventTime) -> Outcome {
        self.on_spike(s, now)
    }
    fn act(&mut self, id: &str, a: Action, who: &str, now: EventTime) -> Result<ActOutcome, Error> {
        IncidentTracker::act(self, id, a, who, now)
    }
    fn silence(&mut self, s: NewSilence, now: EventTime) {
        self.add_silence(s, "carol", now).unwrap();
    }
    fn tick(&mut self, now: EventTime) -> Vec<Notification> {
        IncidentTracker::tick(self, now)
    }
}

impl Target for IncidentStore {
    fn alert(&mut self, a: &vigil_types::Alert, now: EventTime) -> Outcome {
        self.on_alert(a, now).unwrap()
    }
    fn spike(&mut self, s: &vigil_types::Spike, now: EventTime) -> Outcome {
        self.on_spike(s, now).unwrap()
    }
    fn act(&mut self, id: &str, a: Action, who: &str, now: EventTime) -> Result<ActOutcome, Error> {
        IncidentStore::act(self, id, a, who, now)
    }
    fn silence(&mut self, s: NewSilence, now: EventTime) {
        self.add_silence(s, "carol", now).unwrap();
    }
    fn tick(&mut self, now: EventTime) -> Vec<Notification> {
        IncidentStore::tick(self, now).unwrap()
    }
}

/// Applies ops one by one, with time moving forward.
#[derive(Default)]
struct Runner {
    now: i64,
    window: BTreeMap<usize, i64>,
}

impl Runner {
    /// Applies one op `dt` seconds after the previous; returns what it sent.
    fn step(&mut self, target: &mut impl Target, op: &Op, dt: i64) -> Vec<Notification> {
        self.now += dt * 1000;
        let now = self.now;
        let at = EventTime(now);
        let mut sent = Vec::new();
        match op {
            Op::Alert(i, tr, l, twice) => {
                let end = self.window.entry(*i).or_insert(0i64);
                *end += 60;
                let a = alert(&id(*i), *tr, *l, *end);
                sent.extend(target.alert(&a, at).notifications().to_vec());
                if *twice {
                    assert_eq!(target.alert(&a, at), Outcome::Duplicate);
                }
            }
            Op::Ongoing(i) => {
                let end = self.window.entry(*i).or_insert(0i64);
                *end += 60;
                let o = target.spike(&spike(&id(*i), Transition::Ongoing, Level::Minor, *end), at);
                assert!(o.notifications().is_empty());
            }
            Op::Act(i, a, who) => match target.act(&id(*i), a.clone(), who, at) {
                Ok(o) => sent.extend(o.notifications),
                Err(Error::IncidentNotFound(_)) => {}
                Err(e) => panic!("unexpected {e}"),
            },
            Op::Silence(l, len) => target.silence(
                NewSilence {
                    watch: WatchId::from("w"),
                    level: *l,
                    starts_at: at,
                    ends_at: EventTime(now + len * 1000),
                    reason: "test".into(),
                },
                at,
            ),
            Op::Tick => sent.extend(target.tick(at)),
        }
        sent
    }
}

/// Runs `ops`; returns every notification sent.
fn run(target: &mut impl Target, ops: &[(Op, i64)]) -> Vec<Notification> {
    let mut r = Runner::default();
    ops.iter()
        .flat_map(|(op, dt)| r.step(target, op, *dt))
        .collect()
}

fn check_invariants(i: &Incident) {
    assert_eq!(i.state, i.derive_state(), "{}", i.id);
    assert_eq!(i.resolved.is_some(), i.state == State::Resolved);
    if i.resolved.is_some() {
        assert!(
            i.escalation.is_none(),
            "a resolved incident escalates no more"
        );
        assert!(i.first_resolved.is_some());
    }
    if i.acknowledged.is_some() {
        assert!(i.first_acknowledged.is_some());
        if let Some(e) = &i.escalation {
            assert_eq!(e.next_at, None, "acknowledged: nothing scheduled");
        }
    }
    if i.is_active() && i.acknowledged.is_some() {
        assert!(matches!(i.state, State::Acknowledged | State::Assigned));
    }
    assert!(i.level >= i.opened_level);
    assert!(i.volume.len() <= MAX_VOLUME_POINTS);
    assert!(i
        .volume
        .windows(2)
        .all(|w| w[0].window_end < w[1].window_end));
    assert!(i.sample_post_ids.len() <= MAX_SAMPLE_POSTS);
    let mut ids = i.alert_ids.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), i.alert_ids.len(), "each alert recorded once");
    let alerts = i
        .timeline
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Alert { .. }))
        .count();
    assert_eq!(alerts, i.alert_ids.len());
    assert!(i.timeline.windows(2).all(|w| w[0].at <= w[1].at));
    let json = serde_json::to_vec(i).unwrap();
    assert_eq!(&serde_json::from_slice::<Incident>(&json).unwrap(), i);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_keeps_the_invariants(ops in ops()) {
        let mut tr = IncidentTracker::new(policy());
        let mut runner = Runner::default();
        let mut lens: BTreeMap<String, usize> = BTreeMap::new();
        let mut sent = 0usize;
        for (op, dt) in &ops {
            let was_closed: Vec<IncidentId> = tr
                .incidents()
                .filter(|i| i.resolved.is_some() && i.detect_resolved)
                .map(|i| i.id.clone())
                .collect();
            let out = runner.step(&mut tr, op, *dt);
            for n in &out {
                prop_assert!(!n.sinks.is_empty());
                for s in &n.sinks {
                    prop_assert!(["stdout", "slack", "alertmanager"].contains(&s.as_str()));
                }
            }
            sent += out.len();
            for i in tr.incidents() {
                check_invariants(i);
                let before = lens.insert(i.id.to_string(), i.timeline.len()).unwrap_or(0);
                prop_assert!(i.timeline.len() >= before, "the timeline only grows");
            }
            // Once detect resolved it, only a person's reopen brings it back.
            for closed in was_closed {
                let reopened_by_person =
                    matches!(op, Op::Act(j, Action::Reopen, _) if closed == id(*j));
                if !reopened_by_person {
                    prop_assert!(
                        tr.get(&closed).unwrap().resolved.is_some(),
                        "{} reopened by {:?}", closed, op
                    );
                }
            }
        }
        // Every notification sent is in some timeline, and nothing else is.
        let notified: usize = tr
            .incidents()
            .map(|i| i.timeline.iter().filter(|e| matches!(e.kind, EventKind::Notified { .. })).count())
            .sum();
        prop_assert_eq!(notified, sent);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The store holds what the pure core holds, and a reopened store
    /// holds it too.
    #[test]
    fn store_restores_what_the_core_holds(ops in ops()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        let mut core = IncidentTracker::new(policy());
        let core_sent = run(&mut core, &ops);
        let mut store = IncidentStore::open(&path, policy()).unwrap();
        let store_sent = run(&mut store, &ops);
        // Every notification went through the outbox, numbered in order.
        let ids: Vec<u64> = store_sent.iter().map(|n| n.outbox_id).collect();
        prop_assert_eq!(&ids, &(1..=ids.len() as u64).collect::<Vec<_>>());
        let unnumbered: Vec<Notification> = store_sent
            .iter()
            .cloned()
            .map(|n| Notification { outbox_id: 0, ..n })
            .collect();
        prop_assert_eq!(&core_sent, &unnumbered);
        drop(store);
        let store = IncidentStore::open(&path, policy()).unwrap();
        // None was marked delivered: after a "crash" all are pending.
        prop_assert_eq!(store.pending_notifications().unwrap(), store_sent.clone());
        let half: Vec<u64> = ids.iter().copied().step_by(2).collect();
        store.notifications_done(&half).unwrap();
        let left: Vec<u64> = store.pending_notifications().unwrap().iter().map(|n| n.outbox_id).collect();
        prop_assert_eq!(left, ids.iter().copied().filter(|i| !half.contains(i)).collect::<Vec<_>>());
        let want: Vec<Incident> = core.incidents().cloned().collect();
        let got: Vec<Incident> = want.iter().filter_map(|i| store.get(&i.id)).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(store.silences(), core.silences());
        prop_assert_eq!(store.stats(EventTime(0)), core.stats(EventTime(0)));
    }
}
