//! Latency percentiles with HdrHistogram, for run summaries.

use hdrhistogram::Histogram;

/// Records durations in microseconds (1 µs .. 1 h, 3 significant digits).
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    hist: Histogram<u64>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder::new()
    }
}

/// What a [`LatencyRecorder`] saw, in microseconds (all 0 when empty).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Percentiles {
    /// Durations recorded.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl LatencyRecorder {
    /// An empty recorder.
    pub fn new() -> LatencyRecorder {
        let hist = match Histogram::new_with_bounds(1, 3_600_000_000, 3) {
            Ok(h) => h,
            // The bounds are constants within HdrHistogram's limits.
            Err(e) => unreachable!("latency histogram bounds: {e}"),
        };
        LatencyRecorder { hist }
    }

    /// Records one duration (clamped into 1 µs .. 1 h).
    pub fn record(&mut self, d: std::time::Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.hist.saturating_record(micros.max(1));
    }

    /// The median, 99th percentile and largest of what was recorded.
    pub fn percentiles(&self) -> Percentiles {
        if self.hist.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: self.hist.len(),
            p50: self.hist.value_at_quantile(0.5),
            p99: self.hist.value_at_quantile(0.99),
            max: self.hist.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn percentiles_of_recorded_durations() {
        let mut r = LatencyRecorder::new();
        assert_eq!(r.percentiles(), Percentiles::default());
        for v in 1..=1000 {
            r.record(Duration::from_micros(v));
        }
        let p = r.percentiles();
        assert_eq!(p.count, 1000);
        assert!((495..=505).contains(&p.p50), "{p:?}");
        assert!((985..=995).contains(&p.p99), "{p:?}");
        assert_eq!(p.max, 1000);
        // Beyond an hour is clamped, not dropped.
        r.record(Duration::from_secs(7200));
        assert_eq!(r.percentiles().count, 1001);
    }
}
