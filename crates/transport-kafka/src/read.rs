//! Reading a whole topic from the beginning to its current end (restoring
//! detect checkpoints, rebuilding the alert stage's dedupe set, tests).

use std::time::{Duration, Instant};

use rdkafka::{
    consumer::{BaseConsumer, Consumer as _},
    message::{Headers, Message},
    Offset, TopicPartitionList,
};
use vigil_config::KafkaConfig;
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

/// Reads every record of `topic` that exists now, from the beginning,
/// optionally only `partitions`. Blocking: call from `spawn_blocking`.
pub fn read_to_end(
    cfg: &KafkaConfig,
    topic: &str,
    partitions: Option<&[i32]>,
    timeout: Duration,
) -> Result<Vec<RawRecord>, TransportError> {
    let backend = |e: rdkafka::error::KafkaError| TransportError::Backend(e.to_string());
    let consumer: BaseConsumer = client_config(cfg)
        .set("group.id", "vigil-reader")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(backend)?;
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(backend)?;
    let parts: Vec<i32> = md
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .filter(|p| partitions.is_none_or(|only| only.contains(p)))
        .collect();
    let mut ends = Vec::new();
    let mut tpl = TopicPartitionList::new();
    for p in &parts {
        let (low, high) = consumer
            .fetch_watermarks(topic, *p, timeout)
            .map_err(backend)?;
        if high > low {
            ends.push((*p, high));
            tpl.add_partition_offset(topic, *p, Offset::Offset(low))
                .map_err(backend)?;
        }
    }
    let mut out = Vec::new();
    if ends.is_empty() {
        return Ok(out);
    }
    consumer.assign(&tpl).map_err(backend)?;
    let started = Instant::now();
    let mut done: Vec<(i32, i64)> = ends.iter().map(|(p, _)| (*p, -1)).collect();
    while done
        .iter()
        .zip(&ends)
        .any(|((_, last), (_, high))| *last + 1 < *high)
    {
        if started.elapsed() > timeout {
            return Err(TransportError::Backend(format!(
                "reading {topic} to its end timed out"
            )));
        }
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m.map_err(backend)?;
        if let Some(d) = done.iter_mut().find(|(p, _)| *p == m.partition()) {
            d.1 = d.1.max(m.offset());
        }
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
        out.push(RawRecord {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            payload: m.payload().unwrap_or_default().to_vec(),
            headers,
        });
    }
    Ok(out)
}
