//! A period's incidents summed up for the team's review (`vigil incidents
//! report --since --until`, `GET /api/v1/reports/period`): incidents by
//! level and kind, times to acknowledge, respond and resolve (median and
//! 90th percentile), missed targets and the watches with most incidents.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use vigil_types::{EventTime, Level, WatchId};

use crate::{
    model::{Incident, Target},
    report::human,
};

/// Most watches a period report lists.
pub const TOP_WATCHES: usize = 10;

/// How long something took over a period's incidents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    /// Incidents that got there (the others are not counted).
    pub count: usize,
    /// The median, in seconds (nearest rank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_secs: Option<f64>,
    /// The 90th percentile, in seconds (nearest rank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_secs: Option<f64>,
}

impl Durations {
    fn of(mut v: Vec<f64>) -> Durations {
        v.sort_by(f64::total_cmp);
        // Nearest rank: the smallest value with at least q of them at or below.
        let rank = |q: f64| -> Option<f64> {
            let n = v.len();
            (n > 0).then(|| v[((q * n as f64).ceil() as usize).clamp(1, n) - 1])
        };
        Durations {
            count: v.len(),
            median_secs: rank(0.5),
            p90_secs: rank(0.9),
        }
    }
}

/// One watch's incidents in the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WatchCount {
    /// The watch.
    pub watch: WatchId,
    /// Incidents opened.
    pub incidents: usize,
    /// The highest level any of them reached.
    pub highest_level: Level,
}

/// A period's incidents summed up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodReport {
    /// Start (inclusive): incidents opened at or after it.
    pub since: EventTime,
    /// End (exclusive): incidents opened before it.
    pub until: EventTime,
    /// Incidents opened in the period.
    pub incidents: usize,
    /// Of them, reported by hand.
    pub reported_by_hand: usize,
    /// Of them, resolved by now.
    pub resolved: usize,
    /// By highest level (every level present).
    pub by_level: BTreeMap<String, usize>,
    /// By crisis kind (an incident of several kinds counts in each).
    pub by_kind: BTreeMap<String, usize>,
    /// Opening to the first acknowledgement.
    pub time_to_acknowledge: Durations,
    /// Opening to the first status update.
    pub time_to_respond: Durations,
    /// Opening to the first resolve.
    pub time_to_resolve: Durations,
    /// Missed response targets by target (every target present).
    pub target_misses: BTreeMap<String, usize>,
    /// Incidents that missed at least one target.
    pub incidents_missing_a_target: usize,
    /// The watches with most incidents (at most [`TOP_WATCHES`]).
    pub top_watches: Vec<WatchCount>,
}

fn secs(from: EventTime, to: EventTime) -> f64 {
    (to.0 - from.0).max(0) as f64 / 1000.0
}

impl PeriodReport {
    /// The report of the incidents opened in `[since, until)`.
    pub fn of<'a>(
        incidents: impl Iterator<Item = &'a Incident>,
        since: EventTime,
        until: EventTime,
    ) -> PeriodReport {
        let mut r = PeriodReport {
            since,
            until,
            incidents: 0,
            reported_by_hand: 0,
            resolved: 0,
            by_level: Level::ALL
                .iter()
                .map(|l| (l.as_str().to_string(), 0))
                .collect(),
            by_kind: BTreeMap::new(),
            time_to_acknowledge: Durations::of(Vec::new()),
            time_to_respond: Durations::of(Vec::new()),
            time_to_resolve: Durations::of(Vec::new()),
            target_misses: Target::ALL
                .iter()
                .map(|t| (t.as_str().to_string(), 0))
                .collect(),
            incidents_missing_a_target: 0,
            top_watches: Vec::new(),
        };
        let (mut ack, mut respond, mut resolve) = (Vec::new(), Vec::new(), Vec::new());
        let mut watches: BTreeMap<&WatchId, (usize, Level)> = BTreeMap::new();
        for i in incidents.filter(|i| since <= i.opened_at && i.opened_at < until) {
            r.incidents += 1;
            r.reported_by_hand += usize::from(i.report.is_some());
            r.resolved += usize::from(i.resolved.is_some());
            *r.by_level.entry(i.level.as_str().to_string()).or_default() += 1;
            for k in &i.crisis_kinds {
                *r.by_kind.entry(k.as_str().to_string()).or_default() += 1;
            }
            for (stamp, into) in [
                (&i.first_acknowledged, &mut ack),
                (&i.first_response, &mut respond),
                (&i.first_resolved, &mut resolve),
            ] {
                if let Some(s) = stamp {
                    into.push(secs(i.opened_at, s.at));
                }
            }
            let missed: Vec<Target> = i
                .clocks
                .iter()
                .filter(|c| c.missed())
                .map(|c| c.target)
                .collect();
            r.incidents_missing_a_target += usize::from(!missed.is_empty());
            for t in missed {
                *r.target_misses.entry(t.as_str().to_string()).or_default() += 1;
            }
            let w = watches.entry(&i.watch).or_insert((0, i.level));
            w.0 += 1;
            w.1 = w.1.max(i.level);
        }
        r.time_to_acknowledge = Durations::of(ack);
        r.time_to_respond = Durations::of(respond);
        r.time_to_resolve = Durations::of(resolve);
        let mut top: Vec<WatchCount> = watches
            .into_iter()
            .map(|(w, (n, level))| WatchCount {
                watch: w.clone(),
                incidents: n,
                highest_level: level,
            })
            .collect();
        top.sort_by(|a, b| {
            b.incidents
                .cmp(&a.incidents)
                .then(b.highest_level.cmp(&a.highest_level))
                .then(a.watch.cmp(&b.watch))
        });
        top.truncate(TOP_WATCHES);
        r.top_watches = top;
        r
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# Incidents from {} to {}\n\n{} incidents ({} reported by hand), {} resolved; {} missed at least one response target.\n",
            self.since, self.until, self.incidents, self.reported_by_hand, self.resolved, self.incidents_missing_a_target
        );
        let _ = writeln!(md, "| Level | Incidents |\n|---|---:|");
        for l in Level::ALL.iter().rev() {
            let n = self.by_level.get(l.as_str()).copied().unwrap_or(0);
            let _ = writeln!(md, "| {l} | {n} |");
        }
        let _ = writeln!(md, "\n| Crisis kind | Incidents |\n|---|---:|");
        if self.by_kind.is_empty() {
            let _ = writeln!(md, "| — | 0 |");
        }
        for (k, n) in &self.by_kind {
            let _ = writeln!(md, "| {k} | {n} |");
        }
        let _ = writeln!(
            md,
            "\n| Time from opening to | Incidents | Median | 90th percentile | Targets missed |\n|---|---:|---:|---:|---:|"
        );
        for (name, d, target) in [
            (
                "first acknowledgement",
                &self.time_to_acknowledge,
                Target::Acknowledge,
            ),
            (
                "first status update",
                &self.time_to_respond,
                Target::Respond,
            ),
            ("resolve", &self.time_to_resolve, Target::Resolve),
        ] {
            let show = |s: Option<f64>| s.map(human).unwrap_or_else(|| "—".into());
            let missed = self
                .target_misses
                .get(target.as_str())
                .copied()
                .unwrap_or(0);
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} | {missed} |",
                d.count,
                show(d.median_secs),
                show(d.p90_secs)
            );
        }
        let _ = writeln!(
            md,
            "\n| Watch | Incidents | Highest level |\n|---|---:|---|"
        );
        if self.top_watches.is_empty() {
            let _ = writeln!(md, "| — | 0 | — |");
        }
        for w in &self.top_watches {
            // Watch ids are 1-64 characters of a-z, 0-9, '-' and '_'.
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                w.watch, w.incidents, w.highest_level
            );
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let d = Durations::of((1..=10).map(f64::from).rev().collect());
        assert_eq!(
            (d.count, d.median_secs, d.p90_secs),
            (10, Some(5.0), Some(9.0))
        );
        let one = Durations::of(vec![42.0]);
        assert_eq!((one.median_secs, one.p90_secs), (Some(42.0), Some(42.0)));
        let none = Durations::of(Vec::new());
        assert_eq!(
            (none.count, none.median_secs, none.p90_secs),
            (0, None, None)
        );
        let two = Durations::of(vec![10.0, 20.0]);
        assert_eq!((two.median_secs, two.p90_secs), (Some(10.0), Some(20.0)));
    }
}
