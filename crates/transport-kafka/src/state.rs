//! The Kafka [`StateStore`]: a stage's per-partition checkpoints in a
//! compacted topic keyed by input partition.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use vigil_config::KafkaSettings;
use vigil_transport::{StateStore, TransportError};

use crate::{read_latest, KafkaProducer, KafkaStats};

/// Checkpoints in a compacted topic, one key per input partition. The
/// newest checkpoint this process wrote of each partition is kept in
/// memory: a partition kept through a rebalance restores from there, so a
/// member that only gives partitions away is back polling at once, and
/// only newly owned partitions are read back from the topic (newest
/// records first, [`read_latest`]).
pub struct KafkaStateStore {
    cfg: KafkaSettings,
    topic: String,
    producer: KafkaProducer<()>,
    written: BTreeMap<i32, Vec<u8>>,
    read_timeout: Duration,
}

impl std::fmt::Debug for KafkaStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaStateStore")
            .field("topic", &self.topic)
            .field("cached", &self.written.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KafkaStateStore {
    /// A store on `topic` (already prefixed), created by
    /// [`crate::ensure_topics`] when it is one of Vigil's.
    pub fn new(
        cfg: &KafkaSettings,
        topic: String,
        stats: Arc<KafkaStats>,
    ) -> Result<KafkaStateStore, TransportError> {
        Ok(KafkaStateStore {
            cfg: cfg.clone(),
            producer: KafkaProducer::for_state(cfg, topic.clone(), stats)?,
            topic,
            written: BTreeMap::new(),
            read_timeout: Duration::from_secs(60),
        })
    }
}

impl StateStore for KafkaStateStore {
    fn durable(&self) -> bool {
        true
    }

    async fn load(
        &mut self,
        partitions: &[i32],
        kept: &[i32],
    ) -> Result<Vec<(i32, Vec<u8>)>, TransportError> {
        // What this process wrote of a partition it gave away may be
        // overwritten by its next owner: forget it.
        self.written
            .retain(|p, _| partitions.contains(p) && kept.contains(p));
        let mut out: Vec<(i32, Vec<u8>)> = Vec::new();
        let mut to_read = Vec::new();
        for p in partitions {
            match self.written.get(p) {
                Some(bytes) => out.push((*p, bytes.clone())),
                None => to_read.push(*p),
            }
        }
        if !to_read.is_empty() {
            let started = std::time::Instant::now();
            let (cfg, topic, timeout) = (self.cfg.clone(), self.topic.clone(), self.read_timeout);
            let keys: Vec<String> = to_read.iter().map(i32::to_string).collect();
            let records =
                tokio::task::spawn_blocking(move || read_latest(&cfg, &topic, &keys, timeout))
                    .await
                    .map_err(|e| TransportError::Backend(format!("reading checkpoints: {e}")))??;
            let found = records.len();
            for r in records {
                let key = r.key.as_deref().and_then(|k| std::str::from_utf8(k).ok());
                if let Some(p) = key.and_then(|k| k.parse::<i32>().ok()) {
                    if to_read.contains(&p) {
                        out.push((p, r.payload));
                    }
                }
            }
            tracing::info!(
                partitions = ?to_read,
                found,
                millis = started.elapsed().as_millis() as u64,
                "Checkpoints read."
            );
        }
        Ok(out)
    }

    async fn save(&mut self, checkpoints: Vec<(i32, Vec<u8>)>) -> Result<(), TransportError> {
        if checkpoints.is_empty() {
            return Ok(());
        }
        // Moved, not copied: a checkpoint can be megabytes, every second.
        let partitions: Vec<i32> = checkpoints.iter().map(|(p, _)| *p).collect();
        let records: Vec<(String, Vec<u8>)> = checkpoints
            .into_iter()
            .map(|(p, b)| (p.to_string(), b))
            .collect();
        self.producer.send_raw(&records).await?;
        self.written.extend(
            partitions
                .into_iter()
                .zip(records.into_iter().map(|(_, b)| b)),
        );
        Ok(())
    }
}
