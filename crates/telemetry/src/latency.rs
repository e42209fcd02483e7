//! Latency percentiles with HdrHistogram, for run summaries and benches.

use std::sync::Mutex;

use hdrhistogram::Histogram;

/// Records durations in microseconds (1 µs .. 1 h, 3 significant digits).
#[derive(Debug)]
pub struct LatencyRecorder {
    hist: Mutex<Histogram<u64>>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder.
    pub fn new() -> LatencyRecorder {
        LatencyRecorder {
            hist: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            ),
        }
    }

    /// Records one duration in microseconds (clamped into range).
    pub fn record_micros(&self, micros: u64) {
        let mut h = self.hist.lock().expect("latency histogram lock poisoned");
        h.saturating_record(micros.max(1));
    }

    /// Number of values recorded.
    pub fn len(&self) -> u64 {
        self.hist
            .lock()
            .expect("latency histogram lock poisoned")
            .len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at quantile `q` (0..=1), microseconds.
    pub fn quantile_micros(&self, q: f64) -> u64 {
        self.hist
            .lock()
            .expect("latency histogram lock poisoned")
            .value_at_quantile(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let r = LatencyRecorder::new();
        for v in 1..=1000 {
            r.record_micros(v);
        }
        assert_eq!(r.len(), 1000);
        let p50 = r.quantile_micros(0.5);
        assert!((495..=505).contains(&p50), "{p50}");
        assert!(r.quantile_micros(0.99) >= 985);
    }
}
