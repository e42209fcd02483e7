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
    /// Whether the broker answered recently.
    pub connected: std::sync::atomic::AtomicBool,
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
}
