//! The one-line replay summary.

use std::{fmt, time::Duration};

use vigil_alert::AlertTotals;
use vigil_detect::DetectTotals;
use vigil_ingest::IngestStats;
use vigil_score::ScoreTotals;
use vigil_types::Level;

/// Counts of a whole run.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Ingest counts.
    pub ingest: IngestStats,
    /// Score counts.
    pub score: ScoreTotals,
    /// Detect counts.
    pub detect: DetectTotals,
    /// Alert counts.
    pub alert: AlertTotals,
    /// Wall time.
    pub wall: Duration,
}

impl Summary {
    /// Lines read per second of wall time.
    pub fn posts_per_sec(&self) -> f64 {
        self.ingest.lines as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rejected: Vec<String> = self
            .ingest
            .rejected
            .iter()
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        let level = |l: Level| self.alert.by_level.get(&l).copied().unwrap_or(0);
        // Every line read is counted once: rejected by ingest, or dropped by
        // detect (once per post, whatever the number of watches it matched).
        let mut reasons = rejected;
        for (r, n) in [
            ("late", self.detect.late),
            ("future", self.detect.future),
            ("other", self.detect.dropped_other),
        ] {
            if n > 0 {
                reasons.push(format!("{r}={n}"));
            }
        }
        write!(
            f,
            "summary: posts_read={} rejected={} ({}) late={} matched={} spikes={} alerts={} (minor={} moderate={} major={}) wall_secs={:.3} posts_per_sec={:.0} score_batch_us(p50/p99/max)={}/{}/{}",
            self.ingest.lines,
            self.ingest.rejected_total() + self.detect.dropped_posts(),
            if reasons.is_empty() {
                "none".to_string()
            } else {
                reasons.join(" ")
            },
            self.detect.late,
            self.score.matched,
            self.detect.spikes,
            self.alert.total(),
            level(Level::Minor),
            level(Level::Moderate),
            level(Level::Major),
            self.wall.as_secs_f64(),
            self.posts_per_sec(),
            self.score.batch_latency.p50,
            self.score.batch_latency.p99,
            self.score.batch_latency.max,
        )
    }
}

#[cfg(test)]
mod tests {
    use vigil_detect::Observation;
    use vigil_ingest::RejectReason;

    /// Every discard reason a stage can count is in docs/METRICS.md (issue
    /// 12: `future` was missing).
    #[test]
    fn metrics_doc_lists_every_discard_reason() {
        let doc = include_str!("../../../docs/METRICS.md");
        let row = |metric: &str| {
            doc.lines()
                .find(|l| l.starts_with(&format!("| `{metric}`")))
                .unwrap_or_else(|| panic!("no row for {metric}"))
                .to_string()
        };
        let ingest = row("vigil_ingest_discarded_posts_total");
        for r in RejectReason::ALL {
            let r = format!("`{}`", r.as_str());
            assert!(ingest.contains(&r), "ingest reason {r} missing: {ingest}");
        }
        let detect = row("vigil_detect_discarded_posts_total");
        for o in [
            Observation::Late,
            Observation::Future,
            Observation::UnknownWatch,
            Observation::Duplicate,
        ] {
            let r = format!("`{}`", o.reason().expect("a drop"));
            assert!(detect.contains(&r), "detect reason {r} missing: {detect}");
        }
    }
}
