//! Reading a whole topic from the beginning to its current end (restoring
//! detect checkpoints, rebuilding the alert stage's dedupe set, tests).

use std::time::{Duration, Instant};

use rdkafka::{
    consumer::{BaseConsumer, Consumer as _},
    message::{Headers, Message},
    Offset, TopicPartitionList,
};
use vigil_config::KafkaSettings;
use vigil_transport::TransportError;

use crate::client_config;

/// One record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRecord {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
}

fn backend(e: rdkafka::error::KafkaError) -> TransportError {
    TransportError::Backend(e.to_string())
}

fn reader(cfg: &KafkaSettings) -> Result<BaseConsumer, TransportError> {
    client_config(cfg)
        .set("group.id", "vigil-reader")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(backend)
}

/// Each partition of `topic` (or only `partitions`) with its low and high
/// watermarks.
fn bounds(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: Option<&[i32]>,
    timeout: Duration,
) -> Result<Vec<(i32, i64, i64)>, TransportError> {
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(backend)?;
    let parts: Vec<i32> = md
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .filter(|p| partitions.is_none_or(|only| only.contains(p)))
        .collect();
    let mut out = Vec::new();
    for p in parts {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(backend)?;
        out.push((p, low, high));
    }
    Ok(out)
}

fn raw(m: &rdkafka::message::BorrowedMessage<'_>) -> RawRecord {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|x| {
                    (
                        x.key.to_string(),
                        String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    RawRecord {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        payload: m.payload().unwrap_or_default().to_vec(),
        headers,
    }
}

/// Reads the records of `ranges` (partition, from, to: offsets `from..to`),
/// in offset order per partition. Offsets missing inside a range
/// (compaction) are skipped; the read of a range ends at the first record
/// at or past `to - 1`.
fn read_ranges(
    consumer: &BaseConsumer,
    topic: &str,
    ranges: &[(i32, i64, i64)],
    started: Instant,
    timeout: Duration,
) -> Result<Vec<RawRecord>, TransportError> {
    let ranges: Vec<_> = ranges.iter().filter(|(_, a, b)| b > a).copied().collect();
    let mut out = Vec::new();
    if ranges.is_empty() {
        return Ok(out);
    }
    let mut tpl = TopicPartitionList::new();
    for (p, from, _) in &ranges {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*from))
            .map_err(backend)?;
    }
    consumer.assign(&tpl).map_err(backend)?;
    let mut done: Vec<bool> = vec![false; ranges.len()];
    while done.iter().any(|d| !d) {
        if started.elapsed() > timeout {
            return Err(TransportError::Backend(format!(
                "reading {topic} timed out"
            )));
        }
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m.map_err(backend)?;
        let Some(i) = ranges.iter().position(|(p, _, _)| *p == m.partition()) else {
            continue;
        };
        let (_, from, to) = ranges[i];
        if done[i] || m.offset() < from {
            continue;
        }
        if m.offset() < to {
            out.push(raw(&m));
        }
        if m.offset() + 1 >= to {
            done[i] = true;
        }
    }
    Ok(out)
}

/// Reads every record of `topic` that exists now, from the beginning,
/// optionally only `partitions`. Blocking: call from `spawn_blocking`.
pub fn read_to_end(
    cfg: &KafkaSettings,
    topic: &str,
    partitions: Option<&[i32]>,
    timeout: Duration,
) -> Result<Vec<RawRecord>, TransportError> {
    let started = Instant::now();
    let consumer = reader(cfg)?;
    let ranges = bounds(&consumer, topic, partitions, timeout)?;
    read_ranges(&consumer, topic, &ranges, started, timeout)
}

/// The newest record of each of `keys` in `topic` (a state topic written
/// by key), read backwards from each partition's end in growing steps
/// (64 records, then 4 times more each step) until every key is found or
/// the partition's start is reached. Restoring takes time in proportion to
/// how far back the newest records are, not to the topic's whole history
/// (a checkpoint topic that is not compacted, or not yet, grows by one
/// record per partition and checkpoint). Blocking: call from
/// `spawn_blocking`.
pub fn read_latest(
    cfg: &KafkaSettings,
    topic: &str,
    keys: &[String],
    timeout: Duration,
) -> Result<Vec<RawRecord>, TransportError> {
    let started = Instant::now();
    let consumer = reader(cfg)?;
    let mut newest: std::collections::BTreeMap<Vec<u8>, RawRecord> = Default::default();
    let wanted = |k: &Option<Vec<u8>>| {
        k.as_ref()
            .is_some_and(|k| keys.iter().any(|w| w.as_bytes() == k.as_slice()))
    };
    // Where each partition's unread part ends, and the next step.
    let mut left: Vec<(i32, i64, i64)> = bounds(&consumer, topic, None, timeout)?;
    let mut step = 64i64;
    while newest.len() < keys.len() && left.iter().any(|(_, low, end)| end > low) {
        let ranges: Vec<(i32, i64, i64)> = left
            .iter()
            .map(|&(p, low, end)| (p, (end - step).max(low), end))
            .collect();
        // The newest of each key in this step; a key found in a step
        // before (newer records) keeps that one.
        let mut step_newest: std::collections::BTreeMap<Vec<u8>, RawRecord> = Default::default();
        for r in read_ranges(&consumer, topic, &ranges, started, timeout)? {
            if wanted(&r.key) {
                let k = r.key.clone().unwrap_or_default();
                if step_newest.get(&k).is_none_or(|n| n.offset < r.offset) {
                    step_newest.insert(k, r);
                }
            }
        }
        for (k, r) in step_newest {
            newest.entry(k).or_insert(r);
        }
        for (l, r) in left.iter_mut().zip(&ranges) {
            l.2 = r.1;
        }
        step = step.saturating_mul(4);
    }
    Ok(newest.into_values().collect())
}
