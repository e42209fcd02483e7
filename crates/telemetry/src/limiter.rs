//! Rate limiting for repeated error logs: the first occurrence of a key logs
//! at once, later ones at most once per interval with the count suppressed
//! in between. Counters are never rate-limited, only logs.

use std::time::{Duration, Instant};

use dashmap::DashMap;

/// A per-key log rate limiter, shareable between tasks.
#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    last: DashMap<&'static str, (Option<Instant>, u64)>,
}

impl LogLimiter {
    /// Logs each key at most once per `interval`.
    pub fn new(interval: Duration) -> LogLimiter {
        LogLimiter {
            interval,
            last: DashMap::new(),
        }
    }

    /// Whether to log now for `key`, with the number of occurrences
    /// suppressed since the last log. Uses `now` so tests need no sleep.
    pub fn check_at(&self, key: &'static str, now: Instant) -> Option<u64> {
        let mut entry = self.last.entry(key).or_insert((None, 0));
        let (last, suppressed) = *entry;
        match last {
            Some(at) if now.saturating_duration_since(at) < self.interval => {
                entry.1 = suppressed + 1;
                None
            }
            _ => {
                *entry = (Some(now), 0);
                Some(suppressed)
            }
        }
    }

    /// [`LogLimiter::check_at`] with the current instant.
    pub fn check(&self, key: &'static str) -> Option<u64> {
        self.check_at(key, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_logs_then_limits_then_reports_suppressed() {
        let l = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(l.check_at("bad", t0), Some(0));
        assert_eq!(l.check_at("bad", t0 + Duration::from_secs(1)), None);
        assert_eq!(l.check_at("bad", t0 + Duration::from_secs(2)), None);
        assert_eq!(l.check_at("other", t0 + Duration::from_secs(2)), Some(0));
        assert_eq!(l.check_at("bad", t0 + Duration::from_secs(11)), Some(2));
        assert_eq!(l.check_at("bad", t0 + Duration::from_secs(12)), None);
    }
}
