//! Detector tests with explicit event timestamps; nothing sleeps.

use proptest::prelude::*;
use vigil_config::Settings;
use vigil_types::{
    AuthorId, CrisisKind, EventTime, Hit, KindHit, Level, PostId, ScoredPost, Spike, Transition,
    WatchId,
};

use crate::{Detector, Observation};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const NOW: EventTime = EventTime(T0 + 365 * 86_400_000);

fn settings(extra: &str) -> Settings {
    let base = "bin_secs = 60\nscales_secs = [60]\nallowed_lateness_secs = 30\nwarmup_secs = 600\nmin_count = 8\nz_floor = 4.0\nresolve_after_quiet_secs = 300\nbaseline_half_life_secs = 3600";
    let keys: Vec<&str> = extra
        .lines()
        .filter_map(|l| l.split('=').next())
        .map(str::trim)
        .collect();
    let base: Vec<&str> = base
        .lines()
        .filter(|l| !keys.contains(&l.split('=').next().unwrap_or("").trim()))
        .collect();
    let text = format!(
        "[detect]\n{}\n{extra}\n[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n[[watches]]\nid = \"other\"\nterms = [\"other\"]\n",
        base.join("\n")
    );
    Settings::from_toml_str(&text, "t.toml", &[]).unwrap()
}

#[derive(Clone)]
struct P {
    watch: &'static str,
    t_ms: i64,
    source: &'static str,
    sentiment: f32,
    severe: bool,
    /// The author's followers, when known.
    reach: Option<u64>,
}

fn p(t_ms: i64) -> P {
    P {
        watch: "acme",
        t_ms,
        source: "x",
        sentiment: 0.0,
        severe: false,
        reach: None,
    }
}

fn scored(x: &P, n: usize) -> ScoredPost {
    ScoredPost {
        post_id: PostId::from(format!("{}-{n}", x.t_ms)),
        watch: WatchId::from(x.watch),
        source: x.source.to_string(),
        region: None,
        author: AuthorId::from("a"),
        published_at: EventTime(x.t_ms),
        hits: vec![Hit {
            term: x.watch.into(),
            start: 0,
            end: 4,
        }],
        sentiment: x.sentiment,
        kinds: if x.severe {
            vec![KindHit {
                kind: CrisisKind::ProductSafety,
                severe: true,
            }]
        } else {
            vec![]
        },
        origin_partition: None,
        gist: std::sync::Arc::new(vigil_types::PostGist {
            reach: x.reach,
            ..Default::default()
        }),
    }
}

/// `per_min[i]` posts spread evenly over minute `i` after T0.
fn minutes(per_min: &[u32], make: impl Fn(i64, usize) -> P) -> Vec<P> {
    let mut v = Vec::new();
    for (m, &n) in per_min.iter().enumerate() {
        for k in 0..n {
            let t = T0 + m as i64 * 60_000 + (k as i64 * 60_000) / i64::from(n.max(1));
            v.push(make(t, k as usize));
        }
    }
    v
}

fn run(d: &mut Detector, posts: &[P]) -> (Vec<Spike>, Vec<Observation>) {
    let mut spikes = Vec::new();
    let mut updates = Vec::new();
    let mut obs = Vec::new();
    for (i, x) in posts.iter().enumerate() {
        obs.push(d.observe(&scored(x, i), NOW));
        // Advance after every post: the strictest batching.
        d.advance(&mut spikes, &mut updates);
    }
    d.finish(&mut spikes, &mut updates);
    (spikes, obs)
}

/// Asserts that `spike`'s reason starts with `prefix`.
fn assert_reason_starts(spike: &Spike, prefix: &str) {
    let reason = &spike.figures.reason;
    assert!(reason.starts_with(prefix), "{reason}");
}

/// Asserts that `spike`'s reason says `part`.
fn assert_reason_has(spike: &Spike, part: &str) {
    let reason = &spike.figures.reason;
    assert!(reason.contains(part), "{reason}");
}

fn summary(spikes: &[Spike]) -> Vec<(Transition, Level, i64)> {
    spikes
        .iter()
        .filter(|s| s.transition != Transition::Ongoing)
        .map(|s| {
            (
                s.transition,
                s.level,
                (s.figures.window_start.0 - T0) / 60_000,
            )
        })
        .collect()
}

fn baseline(n: usize, rate: u32) -> Vec<u32> {
    vec![rate; n]
}

#[test]
fn quiet_stream_never_alerts() {
    let mut d = Detector::new(&settings(""));
    let per_min: Vec<u32> = (0..240).map(|i| 3 + (i % 3) as u32).collect();
    let (spikes, _) = run(&mut d, &minutes(&per_min, |t, _| p(t)));
    assert!(spikes.is_empty(), "{:?}", summary(&spikes));
}

#[test]
fn slow_steady_rise_never_alerts() {
    let mut d = Detector::new(&settings(""));
    // 4 -> 40 posts per minute over 6 hours.
    let per_min: Vec<u32> = (0..360).map(|i| 4 + i / 10).collect();
    let (spikes, _) = run(&mut d, &minutes(&per_min, |t, _| p(t)));
    assert!(spikes.is_empty(), "{:?}", summary(&spikes));
}

#[test]
fn sudden_spike_opens_minor_in_its_onset_bin_then_resolves_once() {
    let mut d = Detector::new(&settings(""));
    let mut per_min = baseline(60, 3);
    per_min.extend([40, 45, 40]);
    per_min.extend(baseline(30, 3));
    let (spikes, _) = run(&mut d, &minutes(&per_min, |t, _| p(t)));
    assert_eq!(
        summary(&spikes),
        vec![
            (Transition::Opened, Level::Minor, 60),
            (Transition::Resolved, Level::Minor, 67),
        ]
    );
    let open = &spikes[0];
    assert_eq!(open.figures.observed, 40);
    assert!(
        open.figures.z >= 4.0 && (2.5..=3.5).contains(&open.figures.baseline),
        "{open:?}"
    );
    assert_eq!(open.figures.top_terms, vec!["acme"]);
    assert_eq!(open.sample_post_ids.len(), 5);
    assert_reason_starts(open, "minor:");
    assert_eq!(open.incident, "acme-20260101T0100Z");
}

/// The allowed lateness starts the bins that long before the first post,
/// but the stream was not heard then: those bins are no history. An
/// ordered stream gives the same spikes, figures included, at 30 s of
/// lateness and at 4 hours (with 4 hours of learned zeros the baseline
/// before the burst was far lower).
#[test]
fn bins_before_the_stream_was_first_heard_are_not_learned() {
    let mut per_min = baseline(60, 3);
    per_min.extend([40, 45, 40]);
    per_min.extend(baseline(30, 3));
    let posts = minutes(&per_min, |t, _| p(t));
    let (short, _) = run(&mut Detector::new(&settings("")), &posts);
    let (long, _) = run(
        &mut Detector::new(&settings("allowed_lateness_secs = 14400")),
        &posts,
    );
    assert!(!short.is_empty());
    assert_eq!(short, long);
    // A clock of another upstream stream read before any post, dated ten
    // minutes later but carrying its batch's oldest event time (Kafka
    // mode: that batch had no match for this partition), changes nothing.
    let mut d = Detector::new(&settings(""));
    d.assign_partitions(&[0], 2, NOW);
    let mut c = clock(T0 + 10 * 60_000);
    c.first = Some(EventTime(T0));
    c.origin_partition = Some(1);
    d.observe_clock(&c, 0, NOW);
    let (after_clock, obs) = run(&mut d, &posts);
    assert!(obs.iter().all(|o| *o == Observation::Accepted));
    assert_eq!(short, after_clock);
}

#[test]
fn spike_across_sources_is_moderate() {
    let mut d = Detector::new(&settings(""));
    let sources = ["weibo", "douyin", "zhihu", "wechat"];
    let mut per_min = baseline(60, 3);
    per_min.extend([60, 60]);
    per_min.extend(baseline(10, 3));
    let posts = minutes(&per_min, |t, k| P {
        source: sources[k % 4],
        ..p(t)
    });
    let (spikes, _) = run(&mut d, &posts);
    let s = summary(&spikes);
    assert_eq!(s[0], (Transition::Opened, Level::Moderate, 60), "{s:?}");
    assert_eq!(spikes[0].figures.distinct_sources, 4);
    assert_reason_has(&spikes[0], "across 4 sources");
}

#[test]
fn a_post_from_an_author_with_wide_reach_makes_a_narrow_spike_moderate() {
    // The same one-source burst, without and with one post from an account
    // of 2 million followers (issue 14 item 4).
    let burst = |reach: Option<u64>| {
        let mut per_min = baseline(60, 3);
        per_min.extend([30, 3]);
        per_min.extend(baseline(10, 3));
        let posts = minutes(&per_min, |t, k| P {
            reach: if k == 5 && t >= T0 + 60 * 60_000 {
                reach
            } else {
                Some(300)
            },
            ..p(t)
        });
        let mut d = Detector::new(&settings(""));
        run(&mut d, &posts).0
    };
    let narrow = burst(Some(300));
    assert_eq!(summary(&narrow)[0], (Transition::Opened, Level::Minor, 60));
    let wide = burst(Some(2_000_000));
    assert_eq!(summary(&wide)[0], (Transition::Opened, Level::Moderate, 60));
    assert_reason_starts(
        &wide[0],
        "moderate: reach: an author with 2000000 followers posted (>= 100000)",
    );
    // Without follower counts nothing changes; the rule can be turned off.
    assert_eq!(summary(&burst(None))[0].1, Level::Minor);
    let mut off = Detector::new(&settings("[detect.grading]\nwide_reach_followers = 0"));
    let mut per_min = baseline(60, 3);
    per_min.extend([30, 3]);
    let posts = minutes(&per_min, |t, _| P {
        reach: Some(2_000_000),
        ..p(t)
    });
    assert_eq!(summary(&run(&mut off, &posts).0)[0].1, Level::Minor);
}

#[test]
fn recall_spike_is_major() {
    let mut d = Detector::new(&settings(""));
    let mut per_min = baseline(60, 3);
    per_min.extend([30, 30]);
    per_min.extend(baseline(10, 3));
    let posts = minutes(&per_min, |t, k| P {
        severe: t >= T0 + 3_600_000 && k % 2 == 0,
        sentiment: -0.6,
        ..p(t)
    });
    let (spikes, _) = run(&mut d, &posts);
    let s = summary(&spikes);
    assert_eq!(s[0], (Transition::Opened, Level::Major, 60), "{s:?}");
    assert_eq!(spikes[0].crisis_kinds, vec![CrisisKind::ProductSafety]);
    assert_reason_starts(&spikes[0], "major: impact");
}

#[test]
fn escalation_minor_to_major_alerts_once_per_state() {
    let mut d = Detector::new(&settings(""));
    let mut per_min = baseline(60, 3);
    per_min.extend([30, 30, 40, 40, 40]);
    per_min.extend(baseline(20, 3));
    let posts = minutes(&per_min, |t, k| P {
        severe: (T0 + 62 * 60_000..T0 + 65 * 60_000).contains(&t) && k % 2 == 0,
        ..p(t)
    });
    let (spikes, _) = run(&mut d, &posts);
    assert_eq!(
        summary(&spikes),
        vec![
            (Transition::Opened, Level::Minor, 60),
            (Transition::Escalated, Level::Major, 62),
            (Transition::Resolved, Level::Major, 69),
        ]
    );
    // One incident throughout.
    assert!(spikes.iter().all(|s| s.incident == spikes[0].incident));
}

#[test]
fn flapping_keeps_one_incident() {
    let mut d = Detector::new(&settings(""));
    let mut per_min = baseline(60, 3);
    // On/off every other minute: quiet gaps shorter than resolve_after_quiet_secs.
    for _ in 0..6 {
        per_min.extend([40, 3]);
    }
    per_min.extend(baseline(20, 3));
    let (spikes, _) = run(&mut d, &minutes(&per_min, |t, _| p(t)));
    let s = summary(&spikes);
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[0].0, Transition::Opened);
    assert_eq!(s[1].0, Transition::Resolved);
}

#[test]
fn negative_share_surge_fires_without_volume() {
    let mut d = Detector::new(&settings(""));
    let mut per_min = baseline(60, 10);
    per_min.extend([10, 10, 10]);
    per_min.extend(baseline(10, 10));
    let posts = minutes(&per_min, |t, _| P {
        sentiment: if (T0 + 3_600_000..T0 + 3_780_000).contains(&t) {
            -0.8
        } else {
            0.3
        },
        ..p(t)
    });
    let (spikes, _) = run(&mut d, &posts);
    assert_eq!(summary(&spikes)[0].0, Transition::Opened);
    assert_eq!(
        spikes[0].triggers,
        vec![vigil_types::Trigger::NegativeShare]
    );
    assert!(spikes[0].figures.negative_share > 0.9);
}

#[test]
fn warm_up_suppresses_z_but_absolute_floor_fires() {
    let mut d = Detector::new(&settings("absolute_count = 100"));
    // Minute 2 is a big jump, but there is no history yet.
    let (spikes, _) = run(&mut d, &minutes(&[3, 3, 50, 3, 3], |t, _| p(t)));
    assert!(spikes.is_empty(), "{:?}", summary(&spikes));
    let mut d = Detector::new(&settings("absolute_count = 100"));
    let (spikes, _) = run(&mut d, &minutes(&[3, 3, 150, 3, 3], |t, _| p(t)));
    assert_eq!(
        spikes[0].triggers,
        vec![vigil_types::Trigger::AbsoluteFloor]
    );
}

#[test]
fn late_posts_are_dropped_and_do_not_change_alerts() {
    let per_min = {
        let mut v = baseline(60, 3);
        v.extend([40, 40]);
        v.extend(baseline(10, 3));
        v
    };
    let posts = minutes(&per_min, |t, _| p(t));
    let mut d = Detector::new(&settings(""));
    let (clean, _) = run(&mut d, &posts);
    // Insert very late posts (5 minutes behind) after minute 20 and 65.
    let mut with_late = Vec::new();
    for x in &posts {
        with_late.push(x.clone());
        if x.t_ms == T0 + 20 * 60_000 || x.t_ms == T0 + 65 * 60_000 {
            with_late.push(p(x.t_ms - 300_000));
        }
    }
    let mut d = Detector::new(&settings(""));
    let (late, obs) = run(&mut d, &with_late);
    assert_eq!(obs.iter().filter(|o| **o == Observation::Late).count(), 2);
    let figures = |v: &[Spike]| {
        v.iter()
            .map(|s| {
                (
                    s.transition,
                    s.level,
                    s.figures.window_start,
                    s.figures.observed,
                    s.figures.z.to_bits(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(figures(&late), figures(&clean));
    assert!(!clean.is_empty());
}

#[test]
fn out_of_order_within_lateness_counts() {
    let mut d = Detector::new(&settings(""));
    let posts = [
        p(T0 + 50_000),
        p(T0 + 25_000),
        p(T0 + 75_000),
        p(T0 + 59_000),
    ];
    let (_, obs) = run(&mut d, &posts);
    assert!(obs.iter().all(|o| *o == Observation::Accepted), "{obs:?}");
    let mut d = Detector::new(&settings(""));
    let posts = [p(T0 + 100_000), p(T0 + 69_000)];
    let (_, obs) = run(&mut d, &posts);
    assert_eq!(obs[1], Observation::Late);
}

#[test]
fn unknown_watch_and_future_posts_are_rejected() {
    let mut d = Detector::new(&settings(""));
    let mut x = scored(&p(T0), 0);
    x.watch = WatchId::from("nope");
    assert_eq!(d.observe(&x, NOW), Observation::UnknownWatch);
    let far = scored(&p(NOW.0 + 2 * 86_400_000), 0);
    assert_eq!(d.observe(&far, NOW), Observation::Future);
}

#[test]
fn watches_are_independent() {
    let mut d = Detector::new(&settings(""));
    let mut per_min = baseline(60, 3);
    per_min.extend([40, 40]);
    per_min.extend(baseline(10, 3));
    let mut posts = minutes(&per_min, |t, _| p(t));
    posts.extend(minutes(&baseline(72, 3), |t, _| P {
        watch: "other",
        ..p(t + 1)
    }));
    posts.sort_by_key(|x| x.t_ms);
    let (spikes, _) = run(&mut d, &posts);
    assert!(spikes.iter().all(|s| s.watch.as_str() == "acme"));
    assert!(!spikes.is_empty());
}

#[test]
fn state_per_watch_is_bounded_over_time() {
    let mut d = Detector::new(&settings(""));
    let (_, _) = run(&mut d, &minutes(&baseline(100, 20), |t, _| p(t)));
    let after_100 = d.watch_state_bytes(0);
    let mut more = minutes(&baseline(2000, 20), |t, _| p(t));
    for x in &mut more {
        x.t_ms += 100 * 60_000;
    }
    let (_, _) = run(&mut d, &more);
    let after_2100 = d.watch_state_bytes(0);
    assert!(after_2100 <= after_100 + 256, "{after_100} -> {after_2100}");
}

#[test]
fn a_long_gap_is_skipped_in_closed_form() {
    let mut d = Detector::new(&settings(""));
    let mut posts = minutes(&baseline(30, 3), |t, _| p(t));
    // A year later.
    posts.push(p(T0 + 300 * 86_400_000));
    let (spikes, obs) = run(&mut d, &posts);
    assert!(obs.iter().all(|o| *o == Observation::Accepted));
    assert!(spikes.is_empty());
}

proptest! {
    /// Model test: the detector's window counts equal a naive recomputation
    /// from all events (late ones excluded by the same watermark rule), for
    /// arbitrary out-of-order sequences.
    #[test]
    fn window_counts_match_a_naive_model(
        offsets in prop::collection::vec((0i64..900_000, prop::bool::ANY), 1..300)
    ) {
        let s = settings("scales_secs = [180]\nwarmup_secs = 60000");
        let mut d = Detector::new(&s);
        let lateness = 30_000;
        let bin = 60_000;
        let mut max_seen = i64::MIN;
        let mut accepted: Vec<(usize, i64)> = Vec::new();
        let mut spikes = Vec::new();
        let mut updates = Vec::new();
        let mut all_updates = Vec::new();
        for (i, (off, other)) in offsets.iter().enumerate() {
            let t = T0 + off;
            let x = P { watch: if *other { "other" } else { "acme" }, ..p(t) };
            let o = d.observe(&scored(&x, i), NOW);
            let naive_late = max_seen != i64::MIN && t < max_seen - lateness;
            prop_assert_eq!(o == Observation::Late, naive_late);
            if o == Observation::Accepted {
                max_seen = max_seen.max(t);
                accepted.push((usize::from(*other), t));
            }
            d.advance(&mut spikes, &mut updates);
            all_updates.append(&mut updates);
        }
        d.finish(&mut spikes, &mut updates);
        all_updates.append(&mut updates);
        // The last reported window count per watch equals the naive count of
        // accepted events in the last 3 bins up to the newest event's bin.
        let end = (max_seen.div_euclid(bin) + 1) * bin;
        for (wi, name) in ["acme", "other"].iter().enumerate() {
            let naive = accepted
                .iter()
                .filter(|(w, t)| *w == wi && *t >= end - 3 * bin && *t < end)
                .count() as u64;
            let reported = all_updates
                .iter()
                .rev()
                .find(|u| u.watch.as_str() == *name)
                .map_or(0, |u| u.count);
            prop_assert_eq!(reported, naive, "watch {}", name);
        }
    }
}

#[test]
fn reloaded_watches_keep_state_and_new_ones_start_counting() {
    let mut d = Detector::new(&settings(""));
    let mut per_min = baseline(60, 3);
    per_min.extend([40]);
    let (_, _) = run(&mut d, &minutes(&per_min[..60], |t, _| p(t)));
    let extra = "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n[[watches]]\nid = \"fresh\"\nterms = [\"fresh\"]\n";
    let s = Settings::from_toml_str(
        &format!("[detect]\nwarmup_secs = 600\nresolve_after_quiet_secs = 300\n{extra}"),
        "t.toml",
        &[],
    )
    .unwrap();
    d.update_watches(&s);
    assert_eq!(d.watch_count(), 2);
    // "other" is gone, "fresh" is known, "acme" kept its baseline: a spike
    // right after the reload still fires (no new warm-up).
    let mut x = scored(&p(T0 + 60 * 60_000 + 1000), 0);
    x.watch = WatchId::from("other");
    assert_eq!(d.observe(&x, NOW), Observation::UnknownWatch);
    let mut y = scored(&p(T0 + 60 * 60_000 + 1000), 0);
    y.watch = WatchId::from("fresh");
    assert_eq!(d.observe(&y, NOW), Observation::Accepted);
    let spike: Vec<P> = minutes(
        &[0; 60]
            .iter()
            .copied()
            .chain([40, 3, 3])
            .collect::<Vec<_>>(),
        |t, _| p(t),
    )
    .into_iter()
    .filter(|x| x.t_ms >= T0 + 60 * 60_000)
    .collect();
    let (spikes, _) = run(&mut d, &spike);
    assert_eq!(spikes[0].transition, Transition::Opened);
    assert_eq!(spikes[0].watch.as_str(), "acme");
}

/// Kafka mode: two input partitions, one watch each.
fn two_partition_stream() -> Vec<(i32, P)> {
    let mut per_min = baseline(60, 3);
    per_min.extend([40, 40]);
    per_min.extend(baseline(20, 3));
    let mut v: Vec<(i32, P)> = minutes(&per_min, |t, _| p(t))
        .into_iter()
        .map(|x| (0, x))
        .collect();
    v.extend(
        minutes(&baseline(82, 4), |t, _| P {
            watch: "other",
            ..p(t + 7)
        })
        .into_iter()
        .map(|x| (1, x)),
    );
    v.sort_by_key(|(_, x)| x.t_ms);
    v
}

fn kafka_detector() -> Detector {
    let mut d = Detector::new(&settings(""));
    d.set_idle_timeout(std::time::Duration::from_secs(10));
    d
}

/// One Kafka-mode detector that reads all of `stream` and never stops:
/// the reference a stopped and restored one must match.
fn read_without_a_stop(stream: &[(i32, P)]) -> (Detector, Vec<Spike>) {
    let (mut all, mut u) = (Vec::new(), Vec::new());
    let mut d = kafka_detector();
    for (i, (part, x)) in stream.iter().enumerate() {
        d.observe_from(&scored(x, i), *part, NOW);
        d.advance(&mut all, &mut u);
    }
    (d, all)
}

/// A fresh Kafka-mode detector restored from JSON snapshots.
fn restored(snapshots: Vec<String>) -> Detector {
    let mut d = kafka_detector();
    for s in snapshots {
        d.restore(serde_json::from_str(&s).unwrap(), NOW);
    }
    d
}

#[test]
fn snapshot_and_restore_continue_exactly() {
    let stream = two_partition_stream();
    let (_, all) = read_without_a_stop(&stream);
    // Stop at the middle of the spike, snapshot both partitions, restore
    // into a fresh detector and replay the rest (plus a replayed overlap,
    // which the dedupe ring must drop).
    let cut = stream
        .iter()
        .position(|(_, x)| x.t_ms >= T0 + 60 * 60_000 + 30_000)
        .unwrap();
    let (mut first, mut u) = (Vec::new(), Vec::new());
    let mut a = kafka_detector();
    for (i, (part, x)) in stream[..cut].iter().enumerate() {
        a.observe_from(&scored(x, i), *part, NOW);
        a.advance(&mut first, &mut u);
    }
    let snaps: Vec<_> = [0, 1]
        .iter()
        .map(|p| serde_json::to_string(&a.snapshot(*p, 0)).unwrap())
        .collect();
    let mut b = restored(snaps);
    let mut dups = 0;
    for (i, (part, x)) in stream.iter().enumerate().skip(cut - 20) {
        if b.observe_from(&scored(x, i), *part, NOW) == Observation::Duplicate {
            dups += 1;
        }
        b.advance(&mut first, &mut u);
    }
    assert_eq!(dups, 20);
    assert_eq!(first, all);
    assert!(all.iter().any(|s| s.transition == Transition::Opened));
}

/// Two owners checkpointed their partitions at different points (partition
/// 0 well ahead of partition 1), as after a rebalance or a crash; a third
/// detector restores both and reads on from each checkpoint. Nothing is
/// late and the alerts are exactly those of one detector that never stopped
/// (issue 16 item 5: the restored watermark used to be the highest one, so
/// partition 1's posts between the two checkpoints were dropped as late).
#[test]
fn snapshots_taken_at_different_points_restore_without_late_posts() {
    let stream = two_partition_stream();
    let (mut d, mut all) = read_without_a_stop(&stream);
    let mut u = Vec::new();
    let t_end = stream.last().unwrap().1.t_ms;
    let t_start = stream[0].1.t_ms;
    let at = |f: f64| t_start + ((t_end - t_start) as f64 * f) as i64;
    // Partition 0 is read to 80% of the time, partition 1 to 40%, each by
    // its own owner.
    let cut = |part: i32, f: f64| -> usize {
        stream
            .iter()
            .position(|(p, x)| *p == part && x.t_ms >= at(f))
            .unwrap()
    };
    let (cut0, cut1) = (cut(0, 0.8), cut(1, 0.4));
    let mut got = Vec::new();
    let mut snaps = Vec::new();
    for (part, end) in [(0, cut0), (1, cut1)] {
        let mut owner = kafka_detector();
        for (i, (p, x)) in stream[..end].iter().enumerate() {
            if *p == part {
                owner.observe_from(&scored(x, i), *p, NOW);
                owner.advance(&mut got, &mut u);
            }
        }
        snaps.push(serde_json::to_string(&owner.snapshot(part, 0)).unwrap());
    }
    let mut next = restored(snaps);
    let mut late = 0;
    for (i, (part, x)) in stream.iter().enumerate() {
        if (*part == 0 && i < cut0) || (*part == 1 && i < cut1) {
            continue; // in the checkpoint
        }
        if next.observe_from(&scored(x, i), *part, NOW) == Observation::Late {
            late += 1;
        }
        next.advance(&mut got, &mut u);
    }
    next.finish(&mut got, &mut u);
    d.finish(&mut all, &mut u);
    assert_eq!(late, 0);
    let key = |s: &Spike| {
        format!(
            "{} {:?} {:?} {}",
            s.watch.as_str(),
            s.figures.window_end,
            s.transition,
            s.figures.observed
        )
    };
    let mut want: Vec<_> = all.iter().map(key).collect();
    let mut have: Vec<_> = got.iter().map(key).collect();
    want.sort();
    have.sort();
    assert!(want.iter().any(|k| k.contains("Opened")));
    assert_eq!(have, want);
}

/// Kafka mode: the first record read sets where every watch's bins start,
/// but another upstream stream's first posts can be older than it by more
/// than the lateness (a replay skews the posts partitions). A watch that
/// has closed no bin yet takes such a post (its window starts earlier);
/// it used to be dropped as late although no bin had closed (1 post per
/// Kafka test run, issue 16).
#[test]
fn an_older_stream_s_first_posts_are_not_late_before_any_bin_closed() {
    let mut d = kafka_detector();
    d.assign_partitions(&[0], 2, NOW);
    let from = |origin: i32, x: P, n: usize| {
        let mut s = scored(&x, n);
        s.origin_partition = Some(origin);
        s
    };
    // Stream 0 first, at 150 s: the watches start at 120 s.
    assert_eq!(
        d.observe_from(&from(0, p(T0 + 150_000), 0), 0, NOW),
        Observation::Accepted
    );
    // Stream 1's first post, for the other watch, at 50 s: the watermark
    // is now 20 s.
    let other = P {
        watch: "other",
        ..p(T0 + 50_000)
    };
    assert_eq!(
        d.observe_from(&from(1, other, 1), 0, NOW),
        Observation::Accepted
    );
    assert_eq!(d.watermark(), Some(EventTime(T0 + 20_000)));
    // A post of the first watch at 94 s, after the watermark, before that
    // watch's start: counted.
    assert_eq!(
        d.observe_from(&from(1, p(T0 + 94_000), 2), 0, NOW),
        Observation::Accepted
    );
    // Older than the watermark: late, as always.
    assert_eq!(
        d.observe_from(&from(1, p(T0 + 10_000), 3), 0, NOW),
        Observation::Late
    );
    // Once the watch has closed bins, a post in a closed bin is late.
    let (mut out, mut u) = (Vec::new(), Vec::new());
    for k in 0..5 {
        let t = T0 + 200_000 + k * 60_000;
        d.observe_from(&from(0, p(t), 10 + k as usize), 0, NOW);
        d.observe_from(&from(1, p(t), 20 + k as usize), 0, NOW);
        d.advance(&mut out, &mut u);
    }
    let wm = d.watermark().unwrap().0;
    assert!(wm > T0 + 300_000);
    assert_eq!(
        d.observe_from(&from(1, p(T0 + 130_000), 40), 0, NOW),
        Observation::Late
    );
}

#[test]
fn watermark_is_the_minimum_over_partitions_until_one_goes_idle() {
    let mut d = kafka_detector();
    let at = |s: i64| EventTime(NOW.0 + s * 1000);
    let x = |t_s: i64| scored(&p(T0 + t_s * 1000), t_s as usize);
    d.assign_partitions(&[0, 1], 1, at(0));
    assert_eq!(d.observe_from(&x(100), 0, at(0)), Observation::Accepted);
    // Partition 1 has delivered nothing yet: no watermark.
    assert_eq!(d.watermark(), None);
    assert_eq!(d.observe_from(&x(40), 1, at(0)), Observation::Accepted);
    // Partition 1 lags: the watermark follows it (40 - 30 s).
    assert_eq!(d.watermark(), Some(EventTime(T0 + 10_000)));
    // A post 50 s behind partition 0's newest is not late: partition 1 holds
    // the watermark back.
    assert_eq!(d.observe_from(&x(50), 0, at(1)), Observation::Accepted);
    // Partition 1 is silent for longer than the idle timeout but still has
    // records waiting: it is slow, not idle, and holds the watermark.
    let (mut s, mut u) = (Vec::new(), Vec::new());
    d.set_backlog(1, 500);
    d.tick(at(20), &mut s, &mut u);
    assert_eq!(d.watermark(), Some(EventTime(T0 + 10_000)));
    // Nothing waiting and silent: idle, it stops holding the watermark back.
    d.set_backlog(1, 0);
    d.tick(at(20), &mut s, &mut u);
    assert_eq!(d.watermark(), Some(EventTime(T0 + 70_000)));
    assert_eq!(d.observe_from(&x(60), 0, at(21)), Observation::Late);
}

/// Hourly bins over two weeks with a busy hour pair every day (10x the
/// night rate at 12:00-14:00 UTC) and one real burst at 03:00 on day 13.
fn daily_rhythm() -> Vec<P> {
    let mut posts = Vec::new();
    for day in 0..14i64 {
        for hour in 0..24i64 {
            let mut n = if (12..14).contains(&hour) { 100 } else { 10 };
            if day == 13 && hour == 3 {
                n = 80;
            }
            let start = T0 + (day * 24 + hour) * 3_600_000;
            for k in 0..n {
                posts.push(p(start + k * 3_600_000 / n));
            }
        }
    }
    posts
}

fn opened_hours(spikes: &[Spike]) -> Vec<(i64, i64)> {
    spikes
        .iter()
        .filter(|s| s.transition == Transition::Opened)
        .map(|s| {
            let h = (s.figures.window_start.0 - T0) / 3_600_000;
            (h / 24, h % 24)
        })
        .collect()
}

#[test]
fn seasonal_baseline_learns_the_busy_hour_and_still_sees_a_night_burst() {
    let hourly = "bin_secs = 3600\nallowed_lateness_secs = 60\nbaseline_half_life_secs = 604800\nresolve_after_quiet_secs = 3600\nwarmup_secs = 36000";
    let posts = daily_rhythm();
    let mut flat = Detector::new(&settings(&format!("{hourly}\nseasonal_half_life_days = 0")));
    let (spikes, _) = run(&mut flat, &posts);
    let flat_opened = opened_hours(&spikes);
    // Without seasonality the busy hours alert until the watch's own z
    // history has learned them as usual (self-calibration), and by then its
    // threshold is so high that the night burst goes unseen.
    assert!(flat_opened.iter().any(|(_, h)| *h == 12), "{flat_opened:?}");
    assert!(!flat_opened.contains(&(13, 3)), "{flat_opened:?}");

    let mut seasonal = Detector::new(&settings(&format!(
        "{hourly}\nseasonal_half_life_days = 2\nseasonal_max_factor = 10.0"
    )));
    let (spikes, _) = run(&mut seasonal, &posts);
    let opened = opened_hours(&spikes);
    // Once learned (after a week), the busy hours are expected...
    assert!(
        !opened.iter().any(|(d, h)| *d >= 7 && (12..14).contains(h)),
        "{opened:?}"
    );
    // ...and the night burst on day 13 still opens an incident.
    assert!(opened.contains(&(13, 3)), "{opened:?}");
}

#[test]
fn crisis_kind_share_surge_fires_without_a_volume_spike() {
    let mut d = Detector::new(&settings(""));
    // 60 quiet minutes of 6 posts, then 10 posts a minute (no volume spike:
    // z < 4) of which all now hit a crisis kind.
    let mut posts = minutes(&baseline(60, 6), |t, _| p(t));
    let burst = minutes(&[10, 10, 10], |t, _| P {
        severe: true,
        ..p(t)
    });
    posts.extend(burst.into_iter().map(|x| P {
        t_ms: x.t_ms + 60 * 60_000,
        ..x
    }));
    posts.extend(
        minutes(&baseline(5, 6), |t, _| p(t))
            .into_iter()
            .map(|x| P {
                t_ms: x.t_ms + 63 * 60_000,
                ..x
            }),
    );
    let (spikes, _) = run(&mut d, &posts);
    let opened: Vec<_> = spikes
        .iter()
        .filter(|s| s.transition == Transition::Opened)
        .collect();
    assert_eq!(opened.len(), 1, "{:?}", summary(&spikes));
    assert_eq!(opened[0].triggers, vec![vigil_types::Trigger::CrisisShare]);
    assert_eq!(
        (opened[0].figures.window_start.0 - T0) / 60_000,
        60,
        "onset bin"
    );

    // The same volume without crisis terms fires nothing.
    let mut d = Detector::new(&settings(""));
    let calm: Vec<P> = posts
        .iter()
        .map(|x| P {
            severe: false,
            ..x.clone()
        })
        .collect();
    let (spikes, _) = run(&mut d, &calm);
    assert!(spikes.is_empty(), "{:?}", summary(&spikes));
}

/// Posts of several watches, merged in time order.
fn merged(parts: Vec<Vec<P>>) -> Vec<P> {
    let mut all: Vec<P> = parts.into_iter().flatten().collect();
    all.sort_by_key(|x| x.t_ms);
    all
}

fn opened_minutes(spikes: &[Spike], watch: &str) -> Vec<i64> {
    spikes
        .iter()
        .filter(|s| s.watch.as_str() == watch && s.transition == Transition::Opened)
        .map(|s| (s.figures.window_end.0 - 60_000 - T0) / 60_000)
        .collect()
}

#[test]
fn a_burst_rare_for_a_calm_watch_is_usual_for_a_bursty_one() {
    // Both watches carry 3 posts a minute for two days; "other" also has a
    // 30-post minute every 20 minutes. Then both get the same 30-post minute.
    let s = settings("calibration_half_life_secs = 86400");
    let mut d = Detector::new(&s);
    let days = 2 * 24 * 60;
    let last = days + 45;
    let calm: Vec<u32> = (0..=last + 30)
        .map(|m| if m == last { 30 } else { 3 })
        .collect();
    let bursty: Vec<u32> = (0..=last + 30)
        .map(|m| {
            if m == last || (m % 20 == 5 && m < days) {
                30
            } else {
                3
            }
        })
        .collect();
    let posts = merged(vec![
        minutes(&calm, |t, _| p(t)),
        minutes(&bursty, |t, _| P {
            watch: "other",
            ..p(t)
        }),
    ]);
    let (spikes, _) = run(&mut d, &posts);
    let calm_opened = opened_minutes(&spikes, "acme");
    let bursty_opened = opened_minutes(&spikes, "other");
    // The calm watch alerts on the burst, in its onset minute.
    assert_eq!(calm_opened, vec![last as i64], "{calm_opened:?}");
    // The bursty watch has learned its bursts as usual (its deviation and
    // its own z history): the same minute opens nothing there.
    assert!(!bursty_opened.contains(&(last as i64)), "{bursty_opened:?}");
    assert!(
        bursty_opened.iter().all(|&m| m < 24 * 60),
        "{bursty_opened:?}"
    );
}

#[test]
fn an_hour_long_ramp_alerts_at_the_one_hour_scale_within_the_hour() {
    // A quiet day of 3 posts a minute, then 6 a minute: no single minute
    // stands out (z about 1.4), the hour does.
    let mut per_min = baseline(1440, 3);
    per_min.extend(baseline(90, 6));
    let posts = minutes(&per_min, |t, _| p(t));
    // The default one-week baseline (a baseline that learns within the
    // hour would absorb an hour-long ramp).
    let week = "baseline_half_life_secs = 604800";
    let mut d = Detector::new(&settings(&format!("scales_secs = [60, 3600]\n{week}")));
    let (spikes, _) = run(&mut d, &posts);
    let opened: Vec<&Spike> = spikes
        .iter()
        .filter(|s| s.transition == Transition::Opened)
        .collect();
    assert_eq!(opened.len(), 1, "{:?}", summary(&spikes));
    let at = (opened[0].figures.window_end.0 - 60_000 - T0) / 60_000;
    assert!((1440..1500).contains(&at), "opened at minute {at}");
    assert_reason_has(opened[0], "1 h scale");
    assert_eq!(
        opened[0].figures.window_end.0 - opened[0].figures.window_start.0,
        3_600_000,
        "the alert's window is the scale that fired"
    );
    // One-minute windows alone never see it.
    let mut d = Detector::new(&settings(&format!("scales_secs = [60]\n{week}")));
    let (spikes, _) = run(&mut d, &posts);
    assert!(spikes.is_empty(), "{:?}", summary(&spikes));
}

/// One row a minute from T0, `value(minute)` each, fed to watch `acme` as
/// a measurement (`observe_value`) or as a count of posts (rounded,
/// `observe_count`); the minutes an incident opened in.
fn opened_on_rows(rows: i64, value: impl Fn(i64) -> f64, measured: bool) -> Vec<i64> {
    opened_on_rows_with("", rows, value, measured)
}

/// As `opened_on_rows`, with extra `[detect]` lines.
fn opened_on_rows_with(
    extra: &str,
    rows: i64,
    value: impl Fn(i64) -> f64,
    measured: bool,
) -> Vec<i64> {
    let mut d = Detector::new(&settings(&format!("scales_secs = [60]\n{extra}")));
    let watch = WatchId::from("acme");
    let (mut spikes, mut updates) = (Vec::new(), Vec::new());
    for m in 0..rows {
        let (at, v) = (EventTime(T0 + m * 60_000), value(m));
        let o = if measured {
            d.observe_value(&watch, at, v, NOW)
        } else {
            d.observe_count(&watch, at, v.round() as u32, NOW)
        };
        assert_eq!(o, Observation::Accepted);
        d.advance(&mut spikes, &mut updates);
    }
    d.finish(&mut spikes, &mut updates);
    opened_minutes(&spikes, "acme")
}

/// Deterministic noise in [-1, 1] for minute `m`.
fn noise(m: i64) -> f64 {
    ((m * 7919) % 11 - 5) as f64 / 5.0
}

#[test]
fn a_measured_series_is_judged_without_the_poisson_term() {
    // A load around 0.5 (never a count: the Poisson term would never fire
    // on values below 1), then a jump to 0.9 after the first day.
    let load = |m| {
        if m >= STEP {
            0.9
        } else {
            0.5 + 0.02 * noise(m)
        }
    };
    assert_eq!(opened_on_rows(STEP + 100, load, true), vec![STEP]);
}

#[test]
fn a_measured_series_alerts_on_a_drop_as_on_a_jump() {
    // A measurement deviates either way (a temperature falling before a
    // failure); a count of posts only alerts on a surge.
    let level = |m| if m >= STEP { 20.0 } else { 50.0 + noise(m) };
    assert_eq!(
        opened_on_rows(STEP + 100, |m| level(m) + 0.5, true),
        vec![STEP]
    );
    assert_eq!(opened_on_rows(STEP + 100, level, false), Vec::<i64>::new());
}

/// A level shift of the measurement tests, at 05:00 on the second day:
/// during its first day a measurement's hour offsets are still the mean of
/// that hour's first bins, so a shift then reads as the rhythm of the hour
/// it starts in (and alerts again as the next, unseen, hour begins).
const STEP: i64 = 1440 + 300;

#[test]
fn a_measured_series_learns_its_variation_at_every_scale() {
    // A scale longer than the warm-up (15 and 60 minutes against 15 bins)
    // starts learning its residual only once the watch is warm. Clamping
    // that first residual at "threshold x variation so far" (zero) kept a
    // measurement's variation at zero for ever, so its z-scores were the
    // relative error times 1e9 and the thresholds followed them. Two days
    // of a level of 50 with noise of about one, then a jump of 10: the
    // alert's z is some ten deviations, not billions.
    let level = |m: i64| 50.0 + noise(m) + if m >= 2880 { 10.0 } else { 0.0 };
    let mut d = Detector::new(&settings(
        "scales_secs = [60, 900, 3600]
warmup_secs = 900
baseline_half_life_secs = 604800
seasonal_half_life_days = 0",
    ));
    let watch = WatchId::from("acme");
    let (mut spikes, mut updates) = (Vec::new(), Vec::new());
    for m in 0..2900 {
        let at = EventTime(T0 + m * 60_000);
        assert_eq!(
            d.observe_value(&watch, at, level(m), NOW),
            Observation::Accepted
        );
        d.advance(&mut spikes, &mut updates);
    }
    let opened: Vec<&Spike> = spikes
        .iter()
        .filter(|s| s.transition == Transition::Opened)
        .collect();
    assert_eq!(opened_minutes(&spikes, "acme"), vec![2880]);
    let z = opened[0].figures.z;
    assert!((4.0..100.0).contains(&z), "z = {z}");
}

#[test]
fn a_measurement_around_zero_learns_its_daily_rhythm_as_offsets() {
    // NAB's art_daily_flatmiddle shape: -20 at night, 80 from 09:00 to
    // 18:00 (UTC), then a whole day flat at 40. A ratio to a level near
    // zero means nothing (the factors learned a negative daytime forecast
    // and the flat day never alerted); a measurement's rhythm is additive
    // hour offsets, known after its first day.
    let day = 1440;
    let value = |m: i64| {
        let hour = m.rem_euclid(day) / 60;
        if m >= 4 * day {
            40.0
        } else if (9..18).contains(&hour) {
            80.0 + noise(m)
        } else {
            -20.0 + noise(m)
        }
    };
    let opened = opened_on_rows_with(
        "baseline_half_life_secs = 604800\nseasonal_half_life_days = 5",
        4 * day + 240,
        value,
        true,
    );
    let after_day_one: Vec<i64> = opened.into_iter().filter(|&m| m >= day).collect();
    assert_eq!(after_day_one.len(), 1, "{after_day_one:?}");
    assert!(
        (4 * day..4 * day + 60).contains(&after_day_one[0]),
        "opened at minute {} (the flat day starts at {})",
        after_day_one[0],
        4 * day
    );
}

#[test]
fn a_measurement_learns_its_weekly_rhythm_once_each_hour_was_seen_twice() {
    // A load of 50 on weekdays and 20 at weekends (T0 is a Thursday).
    // With only hour-of-day offsets every weekend is a shift, every week;
    // once each hour of the week has been seen in two weeks its own offset
    // is used: weeks three and four are quiet, and a fifth weekend that
    // stays at the weekday load alerts on the Saturday.
    let (day, week) = (1440, 7 * 1440);
    let saturday_5 = 4 * week + 2 * day;
    let value = move |m: i64| {
        let weekend = matches!(m.rem_euclid(week) / day, 2 | 3);
        if weekend && m < saturday_5 {
            20.0 + noise(m)
        } else {
            50.0 + noise(m)
        }
    };
    let opened = opened_on_rows_with(
        "baseline_half_life_secs = 604800\nseasonal_half_life_days = 5",
        saturday_5 + 240,
        value,
        true,
    );
    let late: Vec<i64> = opened.into_iter().filter(|&m| m >= 2 * week).collect();
    assert_eq!(late.len(), 1, "{late:?}");
    assert!(
        (saturday_5..saturday_5 + 60).contains(&late[0]),
        "opened at minute {} (the fifth Saturday starts at {saturday_5})",
        late[0]
    );
}

#[test]
fn a_deviation_that_lasts_fires_by_its_persistence() {
    // Five days of a noisy measurement, then a shift of about two of its
    // deviations that lasts: no single minute is rare (z about 2, below
    // the floor of 4), a few hours of them are. Each scale's persistence
    // (the short-term mean of its z-scores over `persistence_secs`, two
    // hours by default) fires within that time; without it nothing ever
    // does.
    let shift_at = 7200;
    let level = |m: i64| 50.0 + noise(m) + if m >= shift_at { 1.5 } else { 0.0 };
    let week = "baseline_half_life_secs = 604800\nseasonal_half_life_days = 0";
    let opened = opened_on_rows_with(week, shift_at + 240, level, true);
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert!(
        (shift_at..shift_at + 120).contains(&opened[0]),
        "opened at minute {} (shift at {shift_at})",
        opened[0]
    );
    let off = opened_on_rows_with(
        &format!("{week}\npersistence_secs = 0"),
        shift_at + 240,
        level,
        true,
    );
    assert_eq!(off, Vec::<i64>::new());
    // The stationary stretch alone never fires.
    assert_eq!(
        opened_on_rows_with(week, shift_at, level, true),
        Vec::<i64>::new()
    );
    // A watch's first day: 4 posts a minute for ten hours, then 5 a minute
    // (z about 3.7 at the one-hour scale, below one window's threshold).
    // Before the watch has a day of history, and so its daily rhythm, the
    // persistence does not judge: a slow rise on a first day is as likely
    // the rhythm as a crisis (`vigil gen`'s rising afternoon fired so).
    // After two days the same rise fires by persistence.
    let opened_after_rise = |at: i64| {
        let mut d = Detector::new(&settings(&format!(
            "scales_secs = [60, 3600]\nwarmup_secs = 900\n{week}"
        )));
        let watch = WatchId::from("acme");
        let (mut spikes, mut updates) = (Vec::new(), Vec::new());
        for m in 0..at + 240 {
            let n = if m >= at { 5.0 } else { 4.0 + noise(m) };
            let t = EventTime(T0 + m * 60_000);
            assert_eq!(
                d.observe_count(&watch, t, n as u32, NOW),
                Observation::Accepted
            );
            d.advance(&mut spikes, &mut updates);
        }
        opened_minutes(&spikes, "acme")
    };
    assert_eq!(opened_after_rise(600), Vec::<i64>::new());
    let later = opened_after_rise(2880);
    assert_eq!(later.len(), 1, "{later:?}");
    assert!((2880..2880 + 240).contains(&later[0]), "{later:?}");
}

/// Score's clock record at event time `t_ms` (posts partition 0).
fn clock(t_ms: i64) -> vigil_types::StreamClock {
    vigil_types::StreamClock {
        clock: EventTime(t_ms),
        first: Some(EventTime(t_ms)),
        origin_partition: Some(0),
    }
}

/// Ten quiet hours in which only the other watch's posts (and score's
/// clock) arrive, then 30 severe posts of `acme` in one minute from three
/// platforms. Returns the minutes (after T0) `acme` opened an incident in,
/// with its level.
fn narrow_watch_burst(with_clock: bool) -> Vec<(i64, Level)> {
    let mut d = Detector::new(&settings("baseline_half_life_secs = 604800"));
    let (mut spikes, mut updates) = (Vec::new(), Vec::new());
    let quiet = 600i64; // minutes
    for m in 0..quiet {
        for i in 0..3 {
            let t = T0 + m * 60_000 + i * 20_000;
            let other = P {
                watch: "other",
                ..p(t)
            };
            // Score sends the other watch's match, then its batch's clock.
            assert_eq!(d.observe(&scored(&other, 0), NOW), Observation::Accepted);
            if with_clock {
                let c = clock(t);
                assert_eq!(d.observe_clock(&c, 0, NOW), Observation::Accepted);
            }
        }
        d.advance(&mut spikes, &mut updates);
    }
    let sources = ["weibo", "douyin", "zhihu"];
    for i in 0..30i64 {
        let x = P {
            source: sources[i as usize % 3],
            severe: true,
            ..p(T0 + quiet * 60_000 + i * 2_000)
        };
        d.observe(&scored(&x, i as usize), NOW);
    }
    // Time goes on (the other watch keeps talking) for five minutes.
    for m in quiet + 1..quiet + 6 {
        let other = P {
            watch: "other",
            ..p(T0 + m * 60_000)
        };
        d.observe(&scored(&other, 0), NOW);
        d.advance(&mut spikes, &mut updates);
    }
    spikes
        .iter()
        .filter(|s| s.watch.as_str() == "acme" && s.transition == Transition::Opened)
        .map(|s| ((s.figures.window_end.0 - T0) / 60_000 - 1, s.level))
        .collect()
}

/// One score batch holds ten quiet hours (no match at all) and a burst:
/// detect reads the burst's matches first, then the batch's clock, which
/// says the stream was heard from ten hours earlier. The watch learns those
/// hours as quiet bins, as with small batches, and alerts in the burst's
/// minute (before, it started at the burst and stayed in warm-up: what
/// detect learns depended on score's batch size).
#[test]
fn a_clock_after_a_batch_s_matches_starts_the_watch_where_the_stream_was_first_heard() {
    let mut d = Detector::new(&settings("baseline_half_life_secs = 604800"));
    let (mut spikes, mut updates) = (Vec::new(), Vec::new());
    let burst = T0 + 600 * 60_000;
    let sources = ["weibo", "douyin", "zhihu"];
    for i in 0..30i64 {
        let x = P {
            source: sources[i as usize % 3],
            severe: true,
            ..p(burst + i * 2_000)
        };
        assert_eq!(
            d.observe(&scored(&x, i as usize), NOW),
            Observation::Accepted
        );
    }
    let mut c = clock(burst + 5 * 60_000);
    c.first = Some(EventTime(T0));
    assert_eq!(d.observe_clock(&c, 0, NOW), Observation::Accepted);
    d.advance(&mut spikes, &mut updates);
    let opened: Vec<(i64, Level)> = spikes
        .iter()
        .filter(|s| s.watch.as_str() == "acme" && s.transition == Transition::Opened)
        .map(|s| ((s.figures.window_end.0 - T0) / 60_000 - 1, s.level))
        .collect();
    assert_eq!(opened, vec![(600, Level::Major)]);
}

#[test]
fn a_narrow_watch_that_matched_nothing_for_hours_has_a_baseline_of_zero() {
    // Issue 17 item 7: with score's clock, the ten quiet hours are quiet
    // bins, so the burst alerts in its own minute, at major (severe posts).
    let opened = narrow_watch_burst(true);
    assert_eq!(opened.len(), 1, "{opened:?}");
    let (minute, level) = opened[0];
    assert!((600..=601).contains(&minute), "{opened:?}");
    assert_eq!(level, Level::Major);
}

#[test]
fn clocks_change_nothing_when_matched_posts_already_carry_time() {
    // Without the clock the other watch's posts still move the global
    // watermark, so the comparison isolates the clock's own effect: both
    // runs must agree here, and the clock must never add an alert.
    assert_eq!(narrow_watch_burst(true), narrow_watch_burst(false));
}

#[test]
fn a_clock_alone_starts_every_watch_and_closes_its_quiet_bins() {
    // No post matched for ten hours: the clock alone carries time, so the
    // first burst is judged against ten hours of zeros.
    let mut d = Detector::new(&settings("baseline_half_life_secs = 604800"));
    let (mut spikes, mut updates) = (Vec::new(), Vec::new());
    for m in 0..600i64 {
        let c = clock(T0 + m * 60_000);
        d.observe_clock(&c, 0, NOW);
        d.advance(&mut spikes, &mut updates);
    }
    assert!(spikes.is_empty());
    for i in 0..30i64 {
        let x = P {
            severe: true,
            ..p(T0 + 600 * 60_000 + i * 2_000)
        };
        assert_eq!(
            d.observe(&scored(&x, i as usize), NOW),
            Observation::Accepted
        );
    }
    let c = clock(T0 + 602 * 60_000);
    d.observe_clock(&c, 0, NOW);
    d.advance(&mut spikes, &mut updates);
    let opened: Vec<_> = spikes
        .iter()
        .filter(|s| s.transition == Transition::Opened)
        .collect();
    assert_eq!(opened.len(), 1, "{:?}", summary(&spikes));
    assert_eq!(opened[0].figures.window_end, EventTime(T0 + 601 * 60_000));
    assert_eq!(opened[0].level, Level::Major);
    // Without the clock the same burst is the watch's first history.
    let mut d = Detector::new(&settings("baseline_half_life_secs = 604800"));
    let mut spikes = Vec::new();
    for i in 0..30i64 {
        let x = P {
            severe: true,
            ..p(T0 + 600 * 60_000 + i * 2_000)
        };
        d.observe(&scored(&x, i as usize), NOW);
    }
    d.finish(&mut spikes, &mut updates);
    assert!(spikes.is_empty(), "{:?}", summary(&spikes));
}

#[test]
fn a_live_input_closes_bins_with_the_wall_clock_while_silent() {
    let burst = |d: &mut Detector, now: EventTime| {
        let (mut spikes, mut updates) = (Vec::new(), Vec::new());
        // Ten quiet minutes (clock only), then a burst in minute 10.
        for m in 0..10i64 {
            let c = clock(T0 + m * 60_000);
            d.observe_clock(&c, 0, EventTime(T0 + m * 60_000));
            d.advance(&mut spikes, &mut updates);
        }
        for i in 0..40i64 {
            let x = p(T0 + 600_000 + i * 1_000);
            d.observe(&scored(&x, i as usize), EventTime(T0 + 600_000 + 39_000));
        }
        d.advance(&mut spikes, &mut updates);
        assert!(spikes.is_empty(), "the burst's bin is still open");
        // Silence: the wall clock reaches `now`.
        d.tick(now, &mut spikes, &mut updates);
        spikes
    };
    let s = settings("warmup_secs = 0\nmin_count = 8");
    // The bin ends at minute 11; with 30 s of lateness it closes once
    // processing time passes 11:30 (the last post was at 10:39).
    let mut live = Detector::new(&s);
    live.set_live(true);
    assert!(burst(&mut live, EventTime(T0 + 11 * 60_000 + 29_000)).is_empty());
    let mut live = Detector::new(&s);
    live.set_live(true);
    let spikes = burst(&mut live, EventTime(T0 + 11 * 60_000 + 31_000));
    assert_eq!(
        spikes
            .iter()
            .filter(|s| s.transition == Transition::Opened)
            .count(),
        1,
        "{:?}",
        summary(&spikes)
    );
    // A replay (not live) never moves with the wall clock.
    let mut replay = Detector::new(&s);
    assert!(burst(&mut replay, EventTime(T0 + 86_400_000)).is_empty());
}

#[test]
fn a_post_dated_hours_ahead_cannot_make_the_next_posts_late() {
    // Issue 12 item 2: event time never moves the clock past processing
    // time; the post itself waits in its own bin.
    let mut d = Detector::new(&settings(""));
    let now = EventTime(T0 + 60_000);
    assert_eq!(d.observe(&scored(&p(T0), 0), now), Observation::Accepted);
    assert_eq!(
        d.observe(&scored(&p(T0 + 20 * 3_600_000), 1), now),
        Observation::Accepted
    );
    assert_eq!(
        d.observe(&scored(&p(T0 + 30_000), 2), now),
        Observation::Accepted
    );
}

// ---- The runner (both modes) over scripted streams ----

mod runner {
    use std::{
        collections::{BTreeMap, VecDeque},
        sync::{
            atomic::{AtomicI64, Ordering},
            Arc, Mutex,
        },
    };

    use vigil_transport::{
        Assignment, Consumer, Delivery, Position, Producer, Record, StateStore, TransportError,
    };
    use vigil_types::{EventTime, Scored, Spike};

    use super::{p, scored, settings, NOW, T0};
    use crate::{run_detect, DetectRun, DetectTotals, Detector};

    /// The runner's processing-time clock, set by the scripted consumer as
    /// it hands out each batch (only these tests read it).
    static CLOCK_MS: AtomicI64 = AtomicI64::new(0);
    /// Held by each test for its whole run: they share the clock.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn clock() -> EventTime {
        EventTime(CLOCK_MS.load(Ordering::SeqCst))
    }

    /// One batch: the assignment that precedes it, the processing time it
    /// arrives at (seconds after `NOW`), the backlog measured on partition
    /// 0, and (offset, origin partition, event second) of each post.
    struct Step {
        assignment: Option<Vec<i32>>,
        at_s: i64,
        backlog: Option<i64>,
        posts: Vec<(i64, i32, i64)>,
    }

    #[derive(Default)]
    struct Script {
        steps: VecDeque<Step>,
        pending: Option<Assignment>,
        backlog: Option<i64>,
        finished: BTreeMap<i32, i64>,
        commits: Arc<Mutex<Vec<(i32, i64)>>>,
        fail_commits: bool,
    }

    impl Consumer<Scored> for Script {
        async fn recv(&mut self) -> Result<Option<Vec<Delivery<Scored>>>, TransportError> {
            let Some(step) = self.steps.pop_front() else {
                return Ok(None);
            };
            CLOCK_MS.store(NOW.0 + step.at_s * 1000, Ordering::SeqCst);
            if let Some(parts) = step.assignment {
                self.pending = Some(Assignment {
                    partitions: parts,
                    in_every: Vec::new(),
                });
            }
            self.backlog = step.backlog;
            Ok(Some(
                step.posts
                    .into_iter()
                    .map(|(offset, origin, t_s)| {
                        let mut post = scored(&p(T0 + t_s * 1000), offset as usize);
                        post.origin_partition = Some(origin);
                        Delivery {
                            value: Scored::Post(post),
                            position: Position {
                                partition: 0,
                                offset,
                            },
                        }
                    })
                    .collect(),
            ))
        }

        async fn ack(&mut self, _positions: &[Position]) -> Result<(), TransportError> {
            panic!("a runner with a durable store must not ack before a checkpoint");
        }

        fn take_assignment(&mut self) -> Option<Assignment> {
            self.pending.take()
        }

        fn backlog(&self, partition: i32) -> Option<i64> {
            (partition == 0).then_some(self.backlog).flatten()
        }

        fn finish(&mut self, positions: &[Position]) {
            for p in positions {
                let e = self.finished.entry(p.partition).or_insert(0);
                *e = (*e).max(p.offset + 1);
            }
        }

        fn commit_point(&self, partition: i32) -> Option<i64> {
            self.finished.get(&partition).copied()
        }

        async fn commit(&mut self, offsets: &[(i32, i64)]) -> Result<(), TransportError> {
            if self.fail_commits {
                return Err(TransportError::Backend("rebalance in progress".into()));
            }
            self.commits.lock().unwrap().extend_from_slice(offsets);
            Ok(())
        }
    }

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<Spike>>>);

    impl Producer<Spike> for Sink {
        async fn send(&mut self, batch: Vec<Record<Spike>>) -> Result<(), TransportError> {
            self.0
                .lock()
                .unwrap()
                .extend(batch.into_iter().map(|r| r.value));
            Ok(())
        }

        async fn flush(&mut self) -> Result<(), TransportError> {
            Ok(())
        }
    }

    /// A durable store in memory, shared between runs.
    #[derive(Clone, Default)]
    struct Store(Arc<Mutex<BTreeMap<i32, Vec<u8>>>>);

    impl StateStore for Store {
        fn durable(&self) -> bool {
            true
        }

        async fn load(
            &mut self,
            partitions: &[i32],
            _kept: &[i32],
        ) -> Result<Vec<(i32, Vec<u8>)>, TransportError> {
            let m = self.0.lock().unwrap();
            Ok(partitions
                .iter()
                .filter_map(|p| m.get(p).map(|b| (*p, b.clone())))
                .collect())
        }

        async fn save(&mut self, checkpoints: Vec<(i32, Vec<u8>)>) -> Result<(), TransportError> {
            self.0.lock().unwrap().extend(checkpoints);
            Ok(())
        }
    }

    async fn run(steps: Vec<Step>, store: Store) -> (DetectTotals, Vec<(i32, i64)>, Vec<Spike>) {
        run_with(steps, store, false).await
    }

    async fn run_with(
        steps: Vec<Step>,
        store: Store,
        fail_commits: bool,
    ) -> (DetectTotals, Vec<(i32, i64)>, Vec<Spike>) {
        let mut d = Detector::new(&settings(""));
        d.set_idle_timeout(std::time::Duration::from_secs(10));
        let commits = Arc::new(Mutex::new(Vec::new()));
        let script = Script {
            steps: steps.into(),
            commits: commits.clone(),
            fail_commits,
            ..Script::default()
        };
        let sink = Sink::default();
        let totals = run_detect(
            d,
            script,
            sink.clone(),
            store,
            vigil_telemetry::Metrics::new(),
            DetectRun {
                now: clock,
                upstream_partitions: 2,
                // No tick during a test: every batch is handed out at once.
                checkpoint_every: std::time::Duration::from_secs(3600),
            },
            None,
        )
        .await
        .unwrap();
        let commits = commits.lock().unwrap().clone();
        let spikes = sink.0.lock().unwrap().clone();
        (totals, commits, spikes)
    }

    /// Partition 0 carries posts of two upstream partitions; upstream 1's
    /// stream falls silent for longer than the idle timeout while upstream
    /// 0's runs 70 s ahead, then its next post (40 s behind) arrives.
    fn slow_upstream(backlog: Option<i64>) -> Vec<Step> {
        vec![
            Step {
                assignment: Some(vec![0]),
                at_s: 0,
                backlog: None,
                posts: vec![(0, 0, 100), (1, 1, 40)],
            },
            Step {
                assignment: None,
                at_s: 20,
                backlog,
                posts: vec![(2, 0, 110)],
            },
            Step {
                assignment: None,
                at_s: 21,
                backlog,
                posts: vec![(3, 1, 50)],
            },
        ]
    }

    #[tokio::test]
    async fn a_partition_with_records_waiting_holds_the_watermark_back() {
        let _serial = SERIAL.lock().await;
        // The consumer measures records waiting in partition 0: upstream 1
        // is slow, not idle, and its post is counted.
        let (totals, commits, _) = run(slow_upstream(Some(500)), Store::default()).await;
        assert_eq!((totals.accepted, totals.late), (4, 0));
        // Stopped: one checkpoint covering every record, then its commit.
        assert_eq!(commits, vec![(0, 4)]);
        // Without the measure (what the Kafka runner did before it shared
        // this one), silence alone made upstream 1 idle and its post late.
        let (totals, _, _) = run(slow_upstream(None), Store::default()).await;
        assert_eq!((totals.accepted, totals.late), (3, 1));
    }

    #[tokio::test]
    async fn an_assignment_restores_the_checkpoint_and_skips_what_it_holds() {
        let _serial = SERIAL.lock().await;
        let store = Store::default();
        let (first, commits, _) = run(slow_upstream(Some(500)), store.clone()).await;
        assert_eq!(commits, vec![(0, 4)]);
        assert_eq!(first.accepted, 4);
        // The next owner gets offsets 2..=4 again (its committed offset was
        // older, say): the two already in the checkpoint are skipped.
        let again = vec![Step {
            assignment: Some(vec![0]),
            at_s: 30,
            backlog: Some(0),
            posts: vec![(2, 0, 110), (3, 1, 50), (4, 0, 120)],
        }];
        let (second, commits, _) = run(again, store.clone()).await;
        assert_eq!(
            (second.accepted, second.late, second.dropped_other),
            (1, 0, 0)
        );
        assert_eq!(commits, vec![(0, 5)]);
        let snap: crate::PartitionSnapshot =
            serde_json::from_slice(&store.0.lock().unwrap()[&0]).unwrap();
        assert_eq!(snap.offset, 5);
    }

    #[tokio::test]
    async fn a_failed_commit_is_not_fatal_and_the_checkpoint_still_holds() {
        let _serial = SERIAL.lock().await;
        let store = Store::default();
        let (totals, commits, _) = run_with(slow_upstream(Some(500)), store.clone(), true).await;
        assert_eq!((totals.accepted, totals.late), (4, 0));
        assert!(commits.is_empty());
        let snap: crate::PartitionSnapshot =
            serde_json::from_slice(&store.0.lock().unwrap()[&0]).unwrap();
        assert_eq!(snap.offset, 4);
    }
}
