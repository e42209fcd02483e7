//! The producer side: stream records and dead letters.

use std::{collections::HashMap, marker::PhantomData, sync::Arc, time::Duration};

use futures::future::join_all;
use rdkafka::{
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use serde::Serialize;
use vigil_config::KafkaSettings;
use vigil_transport::{
    encode, frame, frame_len, DeadLetter, DeadLetters, Producer, Record, TransportError,
};

use crate::{
    client_config_for, prefixed, KafkaStats, CONSUMER_ONLY, DEAD_LETTER_TOPIC,
    STATE_MAX_MESSAGE_BYTES,
};

fn make_producer(
    cfg: &KafkaSettings,
    max_message_bytes: Option<usize>,
) -> Result<FutureProducer, TransportError> {
    let mut c = client_config_for(
        cfg,
        &[
            ("linger.ms", "5"),
            ("message.timeout.ms", "30000"),
            ("compression.type", "lz4"),
        ],
        CONSUMER_ONLY,
    );
    if let Some(max) = max_message_bytes {
        c.set("message.max.bytes", max.to_string());
    }
    // Acknowledged means durable, and a retry never writes a record twice.
    c.set("enable.idempotence", "true").set("acks", "all");
    c.create()
        .map_err(|e| TransportError::Backend(format!("creating the producer: {e}")))
}

/// The largest packed record [`KafkaProducer::packing`] writes (well under
/// Kafka's default 1 MB `message.max.bytes`). A single value larger than
/// this still goes alone in its own record.
pub const PACK_MAX_BYTES: usize = 256 * 1024;

/// Sends records of one stream to its topic; `send` resolves once every
/// record is acknowledged.
pub struct KafkaProducer<T> {
    producer: FutureProducer,
    topic: String,
    stats: Arc<KafkaStats>,
    pack: bool,
    /// Partitions of the topic (`transport.kafka.partitions`).
    partitions: i32,
    _t: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for KafkaProducer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaProducer")
            .field("topic", &self.topic)
            .finish()
    }
}

impl<T> KafkaProducer<T> {
    /// A producer for `topic`.
    pub fn new(
        cfg: &KafkaSettings,
        topic: String,
        stats: Arc<KafkaStats>,
    ) -> Result<KafkaProducer<T>, TransportError> {
        Ok(KafkaProducer {
            producer: make_producer(cfg, None)?,
            topic,
            stats,
            pack: false,
            partitions: i32::from(cfg.partitions.get()),
            _t: PhantomData,
        })
    }

    /// A producer for the detect checkpoint topic, whose records (one
    /// partition's whole detect state) may exceed the default 1 MB limit: up
    /// to [`STATE_MAX_MESSAGE_BYTES`], which the topic is created with too.
    pub fn for_state(
        cfg: &KafkaSettings,
        topic: String,
        stats: Arc<KafkaStats>,
    ) -> Result<KafkaProducer<T>, TransportError> {
        Ok(KafkaProducer {
            producer: make_producer(cfg, Some(STATE_MAX_MESSAGE_BYTES))?,
            topic,
            stats,
            pack: false,
            partitions: i32::from(cfg.partitions.get()),
            _t: PhantomData,
        })
    }

    /// Packs the values bound for one partition within one `send` batch
    /// into one Kafka record (a packed envelope, up to [`PACK_MAX_BYTES`]),
    /// in their batch order. The broker then stores and serves one record
    /// where it would have stored several: on a record-bound broker the
    /// stream costs that much less. Every consumer of the topic must decode
    /// with [`vigil_transport::decode_all`]. Each partition's order is the
    /// batch order (so per-key order is kept too), a value lands on the
    /// partition its key gives ([`partition_of`]), and all values of a
    /// record share its offset, so they commit together.
    pub fn packing(mut self) -> Self {
        self.pack = true;
        self
    }

    /// Sends already-encoded payloads (key, bytes), waiting for every ack.
    pub async fn send_raw(&self, batch: &[(String, Vec<u8>)]) -> Result<(), TransportError> {
        self.send_encoded(batch.iter().map(|(k, v)| (k.as_str(), None, v.as_slice())))
            .await
    }

    /// Sends encoded payloads (key, a partition or `None` for by key,
    /// bytes), waiting for every ack.
    async fn send_encoded<'a>(
        &self,
        batch: impl Iterator<Item = (&'a str, Option<i32>, &'a [u8])>,
    ) -> Result<(), TransportError> {
        let futures = batch.map(|(k, p, v)| {
            let mut r = FutureRecord::to(&self.topic).key(k).payload(v);
            if let Some(p) = p {
                r = r.partition(p);
            }
            self.producer
                .send(r, Timeout::After(Duration::from_secs(60)))
        });
        let mut first_err = None;
        for r in join_all(futures).await {
            if let Err((e, _)) = r {
                self.stats
                    .produce_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                first_err.get_or_insert(e);
            }
        }
        // Every ack came back: the broker answered. A process that only
        // produces (an ingest stage reading a file or stdin) has no consumer
        // to say so, and its /readyz follows this flag.
        if first_err.is_none() {
            self.stats
                .connected
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        match first_err {
            None => Ok(()),
            Some(e) => Err(TransportError::Backend(format!(
                "producing to {}: {e}",
                self.topic
            ))),
        }
    }
}

impl<T: Serialize + Send + Sync> Producer<T> for KafkaProducer<T> {
    async fn send(&mut self, batch: Vec<Record<T>>) -> Result<(), TransportError> {
        let mut encoded = Vec::with_capacity(batch.len());
        if !self.pack {
            for r in &batch {
                encoded.push((r.key.clone(), r.partition, encode(&r.value)?));
            }
            return self
                .send_encoded(
                    encoded
                        .iter()
                        .map(|(k, p, v)| (k.as_str(), *p, v.as_slice())),
                )
                .await;
        }
        let encoded = pack_by_partition(&batch, self.partitions())?;
        self.send_encoded(
            encoded
                .iter()
                .map(|(k, p, v)| (k.as_str(), *p, v.as_slice())),
        )
        .await
    }

    fn partitions(&self) -> i32 {
        self.partitions.max(1)
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        let p = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            rdkafka::producer::Producer::flush(&p, Timeout::After(Duration::from_secs(30)))
        })
        .await
        .map_err(|e| TransportError::Backend(format!("flush task: {e}")))?
        .map_err(|e| TransportError::Backend(format!("flushing: {e}")))
    }
}

/// A record ready to send: key, partition (`None`: by key), bytes.
type Encoded = (String, Option<i32>, Vec<u8>);

/// One value's key and encoded JSON.
type KeyedValue<'a> = (&'a str, Vec<u8>);

/// The packed records of one batch: per target partition (in first-seen
/// order), its values in batch order, framed into records of at most
/// [`PACK_MAX_BYTES`] (key: the record's first value's key; partition:
/// explicit). A partition's stream stays in the order score read its posts,
/// so event time never goes back inside it (packing by key sent all of one
/// watch's posts, then another watch's older ones: issue 16). Each value's
/// partition is its record's, or the one librdkafka's default partitioner
/// gives its key ([`partition_of`]).
fn pack_by_partition<T: Serialize>(
    batch: &[Record<T>],
    partitions: i32,
) -> Result<Vec<Encoded>, TransportError> {
    let mut slots: HashMap<i32, usize> = HashMap::new();
    // Per partition: its values as (key, JSON).
    let mut groups: Vec<(i32, Vec<KeyedValue<'_>>)> = Vec::new();
    for r in batch {
        let part =
            serde_json::to_vec(&r.value).map_err(|e| TransportError::Codec(e.to_string()))?;
        let p = r
            .partition
            .unwrap_or_else(|| partition_of(&r.key, partitions));
        let i = *slots.entry(p).or_insert_with(|| {
            groups.push((p, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((r.key.as_str(), part));
    }
    let mut encoded = Vec::new();
    for (partition, values) in groups {
        let parts: Vec<&[u8]> = values.iter().map(|(_, v)| v.as_slice()).collect();
        let mut start = 0;
        for pack in packs(&parts, PACK_MAX_BYTES) {
            encoded.push((values[start].0.to_string(), Some(partition), frame(pack)));
            start += pack.len();
        }
    }
    Ok(encoded)
}

/// The partition librdkafka's default partitioner (`consistent_random`)
/// gives a non-empty key: CRC-32 (IEEE) of the key modulo the partition
/// count. A packing producer places each value itself, so it must agree.
pub fn partition_of(key: &str, partitions: i32) -> i32 {
    (crc32fast::hash(key.as_bytes()) % partitions.max(1) as u32) as i32
}

/// Splits parts into consecutive runs whose framed size stays within `max`
/// bytes (a part larger than `max` alone makes a run).
fn packs<'a, 'b>(parts: &'b [&'a [u8]], max: usize) -> Vec<&'b [&'a [u8]]> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in 1..=parts.len() {
        let next = &parts[start..end];
        if next.len() > 1 && frame_len(next.iter().map(|p| p.len())) > max {
            out.push(&parts[start..end - 1]);
            start = end - 1;
        }
    }
    if start < parts.len() {
        out.push(&parts[start..]);
    }
    out
}

/// Sends undecodable or invalid records to the dead-letter topic.
#[derive(Clone)]
pub struct KafkaDeadLetters {
    producer: FutureProducer,
    topic: String,
    stats: Arc<KafkaStats>,
}

impl std::fmt::Debug for KafkaDeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaDeadLetters")
            .field("topic", &self.topic)
            .finish()
    }
}

impl KafkaDeadLetters {
    /// Dead letters for this configuration's prefix.
    pub fn new(cfg: &KafkaSettings, stats: Arc<KafkaStats>) -> Result<Self, TransportError> {
        Ok(KafkaDeadLetters {
            producer: make_producer(cfg, None)?,
            topic: prefixed(cfg, DEAD_LETTER_TOPIC),
            stats,
        })
    }
}

impl DeadLetters for KafkaDeadLetters {
    async fn send(&mut self, d: DeadLetter) -> Result<(), TransportError> {
        let partition = d.partition.to_string();
        let offset = d.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "vigil.stage",
                value: Some(d.stage),
            })
            .insert(Header {
                key: "vigil.reason",
                value: Some(d.reason.as_str()),
            })
            .insert(Header {
                key: "vigil.error",
                value: Some(d.error.as_str()),
            })
            .insert(Header {
                key: "vigil.source.topic",
                value: Some(d.source.as_str()),
            })
            .insert(Header {
                key: "vigil.source.partition",
                value: Some(partition.as_str()),
            })
            .insert(Header {
                key: "vigil.source.offset",
                value: Some(offset.as_str()),
            });
        let key = format!("{}:{}:{}", d.source, d.partition, d.offset);
        let r = self
            .producer
            .send(
                FutureRecord::to(&self.topic)
                    .key(&key)
                    .payload(d.payload.as_slice())
                    .headers(headers),
                Timeout::After(Duration::from_secs(60)),
            )
            .await;
        match r {
            Ok(_) => {
                self.stats.dead_letter(&d.reason);
                Ok(())
            }
            Err((e, _)) => {
                self.stats
                    .produce_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(TransportError::Backend(format!(
                    "producing a dead letter: {e}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_stay_within_the_limit_keep_order_and_lose_nothing() {
        let owned: Vec<Vec<u8>> = (0..50).map(|i| vec![b'1'; 1 + i % 7]).collect();
        let parts: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        for max in [1, 20, 40, 100, 10_000] {
            let runs = packs(&parts, max);
            let flat: Vec<&[u8]> = runs.iter().flat_map(|r| r.iter().copied()).collect();
            assert_eq!(flat.len(), parts.len());
            assert!(flat.iter().zip(&parts).all(|(a, b)| std::ptr::eq(*a, *b)));
            for r in &runs {
                assert!(!r.is_empty());
                assert!(r.len() == 1 || frame_len(r.iter().map(|p| p.len())) <= max);
            }
        }
        assert_eq!(packs(&parts, 10_000).len(), 1);
        assert_eq!(packs(&parts, 1).len(), 50);
        assert!(packs(&[], 100).is_empty());
    }

    #[test]
    fn producers_leave_out_consumer_only_properties() {
        let mut cfg = vigil_config::Settings::from_toml_str(
            "[[watches]]\nid = \"w\"\nterms = [\"w\"]\n[transport]\ntype = \"kafka\"\n",
            "t.toml",
            &[],
        )
        .unwrap()
        .transport
        .kafka()
        .cloned()
        .unwrap();
        for (k, v) in [
            ("group.instance.id", "detect-0"),
            ("fetch.message.max.bytes", "65536"),
            ("socket.timeout.ms", "7000"),
        ] {
            cfg.client
                .insert(k.to_owned(), vigil_config::Sensitive(v.to_owned()));
        }
        let c = crate::client_config_for(&cfg, &[], CONSUMER_ONLY);
        assert_eq!(c.get("group.instance.id"), None);
        assert_eq!(c.get("fetch.message.max.bytes"), None);
        assert_eq!(c.get("socket.timeout.ms"), Some("7000"));
        let all = crate::client_config_over(&cfg, &[]);
        assert_eq!(all.get("group.instance.id"), Some("detect-0"));
    }

    #[test]
    fn partition_of_is_crc32_of_the_key() {
        // CRC-32 (IEEE)'s check value: crc32("123456789") = 0xCBF43926.
        assert_eq!(partition_of("123456789", 7), (0xCBF4_3926u32 % 7) as i32);
        assert_eq!(partition_of("anything", 1), 0);
        assert_eq!(partition_of("anything", 0), 0);
    }

    #[test]
    fn packing_keeps_each_partitions_batch_order_across_keys() {
        // Two watches on one partition, interleaved in time: packing by
        // key sent watch a's posts, then b's older ones (event time went
        // back 175-212 minutes inside a stream, issue 16). Now a
        // partition's values keep their batch order.
        let keys: Vec<String> = (0..64).map(|i| format!("watch-{i}")).collect();
        let (a, b) = keys
            .iter()
            .enumerate()
            .flat_map(|(i, x)| keys[i + 1..].iter().map(move |y| (x, y)))
            .find(|(x, y)| partition_of(x, 2) == partition_of(y, 2))
            .expect("two keys share a partition");
        let batch: Vec<Record<u32>> = (0..20)
            .map(|t| Record::new(if t % 2 == 0 { a.clone() } else { b.clone() }, t))
            .chain([
                Record::to_partition(1, "", 100),
                Record::to_partition(0, "", 101),
            ])
            .collect();
        let packed = pack_by_partition(&batch, 2).unwrap();
        let mut by_partition: std::collections::BTreeMap<i32, Vec<u32>> = Default::default();
        for (_, p, bytes) in &packed {
            let values: Vec<u32> = vigil_transport::decode_all(bytes).unwrap();
            by_partition.entry(p.unwrap()).or_default().extend(values);
        }
        let shared = partition_of(a, 2);
        let mut expected: Vec<u32> = (0..20).collect();
        expected.push(if shared == 1 { 100 } else { 101 });
        assert_eq!(by_partition[&shared], expected);
        assert_eq!(
            by_partition[&(1 - shared)],
            vec![if shared == 1 { 101 } else { 100 }]
        );
        // One record per partition for a small batch.
        assert_eq!(packed.len(), 2);
    }
}
