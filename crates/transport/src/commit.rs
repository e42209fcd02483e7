//! Contiguous commit watermarks: commit a partition only up to the first
//! record that is not finished, so a record that completes out of order
//! never lets an unfinished earlier one be skipped.

use std::collections::{BTreeMap, BTreeSet};

use crate::Position;

#[derive(Clone, Debug, Default)]
struct Track {
    in_flight: BTreeSet<i64>,
    /// One past the highest offset delivered.
    high: i64,
    /// Last commit offset reported.
    committed: Option<i64>,
}

impl Track {
    fn commit_point(&self) -> i64 {
        self.in_flight.first().copied().unwrap_or(self.high)
    }
}

/// Tracks delivered and finished offsets per partition.
#[derive(Clone, Debug, Default)]
pub struct CommitTracker {
    parts: BTreeMap<i32, Track>,
}

impl CommitTracker {
    /// An empty tracker.
    pub fn new() -> CommitTracker {
        CommitTracker::default()
    }

    /// Registers a delivered record (delivered in offset order per partition).
    pub fn delivered(&mut self, p: Position) {
        let t = self.parts.entry(p.partition).or_default();
        // The first record delivered marks where this partition started.
        t.committed.get_or_insert(p.offset);
        t.in_flight.insert(p.offset);
        t.high = t.high.max(p.offset + 1);
    }

    /// Marks a record finished; returns the new commit offset of its
    /// partition (Kafka's "next offset to read") when it advanced.
    pub fn finished(&mut self, p: Position) -> Option<(i32, i64)> {
        let t = self.parts.get_mut(&p.partition)?;
        if !t.in_flight.remove(&p.offset) {
            return None;
        }
        let point = t.commit_point();
        if t.committed.is_none_or(|c| point > c) {
            t.committed = Some(point);
            Some((p.partition, point))
        } else {
            None
        }
    }

    /// The offset that may be committed now for `partition`.
    pub fn commit_point(&self, partition: i32) -> Option<i64> {
        self.parts.get(&partition).map(Track::commit_point)
    }

    /// Forgets partitions (after a rebalance revoked them).
    pub fn revoke(&mut self, partitions: &[i32]) {
        for p in partitions {
            self.parts.remove(p);
        }
    }

    /// Records delivered and not finished.
    pub fn in_flight(&self) -> usize {
        self.parts.values().map(|t| t.in_flight.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pos(partition: i32, offset: i64) -> Position {
        Position { partition, offset }
    }

    #[test]
    fn out_of_order_completion_waits_for_the_gap() {
        let mut t = CommitTracker::new();
        for o in 10..15 {
            t.delivered(pos(0, o));
        }
        assert_eq!(t.finished(pos(0, 12)), None);
        assert_eq!(t.finished(pos(0, 11)), None);
        assert_eq!(t.commit_point(0), Some(10));
        assert_eq!(t.finished(pos(0, 10)), Some((0, 13)));
        assert_eq!(t.finished(pos(0, 14)), None);
        assert_eq!(t.finished(pos(0, 13)), Some((0, 15)));
        assert_eq!(t.in_flight(), 0);
        // Unknown or repeated positions change nothing.
        assert_eq!(t.finished(pos(0, 13)), None);
        assert_eq!(t.finished(pos(7, 1)), None);
    }

    proptest! {
        /// The commit point is always the lowest unfinished offset (or one
        /// past the highest delivered), for any completion order.
        #[test]
        fn commit_point_is_the_lowest_unfinished(order in Just((0..40i64).collect::<Vec<_>>()).prop_shuffle()) {
            let mut t = CommitTracker::new();
            for o in 0..40 {
                t.delivered(pos(3, 100 + o));
            }
            let mut done = std::collections::BTreeSet::new();
            let mut last = 100;
            for o in order {
                done.insert(o);
                let naive = (0..40).find(|x| !done.contains(x)).unwrap_or(40) + 100;
                if let Some((_, c)) = t.finished(pos(3, 100 + o)) {
                    prop_assert!(c > last);
                    last = c;
                }
                prop_assert_eq!(t.commit_point(3), Some(naive));
            }
            prop_assert_eq!(last, 140);
        }
    }
}
