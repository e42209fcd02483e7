//! Kafka client statistics, read by the pipeline and exported as metrics
//! (this crate does not depend on the metric registry).

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
};

/// Counters and gauges of one process's Kafka clients.
#[derive(Debug, Default)]
pub struct KafkaStats {
    /// Records whose production failed (after librdkafka's own retries).
    pub produce_errors: AtomicU64,
    /// Records sent to the dead-letter topic, by reason.
    pub dead_letters: Mutex<BTreeMap<String, u64>>,
    /// Consumer-group rebalances seen.
    pub rebalances: AtomicU64,
    /// Consumer lag per (topic, partition): high watermark minus committed
    /// offset, messages.
    pub lag: Mutex<BTreeMap<(String, i32), i64>>,
    /// Backlog per (topic, partition): high watermark minus the consumer's
    /// position (records not yet delivered to the stage).
    pub backlog: Mutex<BTreeMap<(String, i32), i64>>,
    /// Whether the broker answered recently: a consumer's poll, or a
    /// producer's batch acknowledged in full.
    pub connected: std::sync::atomic::AtomicBool,
    /// Every partition of each consumed topic, from the group's committed
    /// offsets (not only the partitions this process owns): what the whole
    /// group has left to do there, and whether nobody is doing it.
    pub group: Mutex<BTreeMap<(String, i32), GroupPartition>>,
}

/// One partition of a consumed topic as its consumer group stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupPartition {
    /// High watermark minus the group's committed offset (or minus the low
    /// watermark when nothing is committed), messages.
    pub lag: i64,
    /// The group's committed offset, when there is one.
    pub committed: Option<i64>,
    /// Lag and a committed offset that has not moved for the stall timeout.
    pub stalled: bool,
}

/// Decides per partition whether the group's committed offset is stuck
/// while there is lag (Burrow's "stalled"): pure, with time as an input.
#[derive(Debug, Default)]
pub struct StallTracker {
    /// Per partition: the committed offset last seen and since when it (or
    /// a lag of 0) has held, ms of the caller's clock.
    seen: BTreeMap<i32, (Option<i64>, u64)>,
}

impl StallTracker {
    /// Folds in one observation of `partition` at `now_ms`; returns whether
    /// it is stalled: lag > 0 and the committed offset unchanged for at
    /// least `timeout_ms`. A moving offset or a lag of 0 restarts the wait.
    pub fn observe(
        &mut self,
        partition: i32,
        committed: Option<i64>,
        lag: i64,
        now_ms: u64,
        timeout_ms: u64,
    ) -> bool {
        let e = self.seen.entry(partition).or_insert((committed, now_ms));
        if e.0 != committed || lag <= 0 {
            *e = (committed, now_ms);
        }
        lag > 0 && now_ms.saturating_sub(e.1) >= timeout_ms
    }
}

impl KafkaStats {
    pub(crate) fn dead_letter(&self, reason: &str) {
        *self
            .dead_letters
            .lock()
            .expect("stats lock poisoned")
            .entry(reason.to_string())
            .or_default() += 1;
    }

    /// Total lag over every partition.
    pub fn total_lag(&self) -> i64 {
        self.lag.lock().expect("stats lock poisoned").values().sum()
    }

    /// Backlog of one partition of `topic`, when measured.
    pub fn backlog_of(&self, topic: &str, partition: i32) -> Option<i64> {
        self.backlog
            .lock()
            .expect("stats lock poisoned")
            .get(&(topic.to_string(), partition))
            .copied()
    }

    /// Rebalances so far.
    pub fn rebalance_count(&self) -> u64 {
        self.rebalances.load(Ordering::Relaxed)
    }

    /// The stalled partitions, as (topic, partition).
    pub fn stalled(&self) -> Vec<(String, i32)> {
        self.group
            .lock()
            .expect("stats lock poisoned")
            .iter()
            .filter(|(_, g)| g.stalled)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::StallTracker;

    #[test]
    fn a_partition_stalls_when_its_offset_stands_still_with_lag() {
        let mut t = StallTracker::default();
        let timeout = 45_000;
        // Working: the committed offset moves.
        assert!(!t.observe(0, Some(10), 5, 0, timeout));
        assert!(!t.observe(0, Some(20), 5, 30_000, timeout));
        assert!(!t.observe(0, Some(20), 5, 74_999, timeout));
        // Stuck for the timeout with lag: stalled, until it moves again.
        assert!(t.observe(0, Some(20), 7, 75_000, timeout));
        assert!(t.observe(0, Some(20), 9, 200_000, timeout));
        assert!(!t.observe(0, Some(21), 9, 201_000, timeout));
        // Caught up (lag 0) is idle, not stalled, however long.
        assert!(!t.observe(1, None, 0, 0, timeout));
        assert!(!t.observe(1, None, 0, 1_000_000, timeout));
        // Nothing ever committed, with lag: stalled after the timeout.
        assert!(!t.observe(2, None, 3, 0, timeout));
        assert!(t.observe(2, None, 3, 45_000, timeout));
    }
}
