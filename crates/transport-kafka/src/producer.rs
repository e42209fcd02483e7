//! The producer side: stream records and dead letters.

use std::{marker::PhantomData, sync::Arc, time::Duration};

use futures::future::join_all;
use rdkafka::{
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};
use serde::Serialize;
use vigil_config::KafkaConfig;
use vigil_transport::{encode, DeadLetter, DeadLetters, Producer, Record, TransportError};

use crate::{client_config, prefixed, KafkaStats, DEAD_LETTER_TOPIC, STATE_MAX_MESSAGE_BYTES};

fn make_producer(
    cfg: &KafkaConfig,
    max_message_bytes: Option<usize>,
) -> Result<FutureProducer, TransportError> {
    let mut c = client_config(cfg);
    if let Some(max) = max_message_bytes {
        c.set("message.max.bytes", max.to_string());
    }
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .set("compression.type", "lz4");
    c.create()
        .map_err(|e| TransportError::Backend(format!("creating the producer: {e}")))
}

/// Sends records of one stream to its topic; `send` resolves once every
/// record is acknowledged.
pub struct KafkaProducer<T> {
    producer: FutureProducer,
    topic: String,
    stats: Arc<KafkaStats>,
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
        cfg: &KafkaConfig,
        topic: String,
        stats: Arc<KafkaStats>,
    ) -> Result<KafkaProducer<T>, TransportError> {
        Ok(KafkaProducer {
            producer: make_producer(cfg, None)?,
            topic,
            stats,
            _t: PhantomData,
        })
    }

    /// A producer for the detect checkpoint topic, whose records (one
    /// partition's whole detect state) may exceed the default 1 MB limit: up
    /// to [`STATE_MAX_MESSAGE_BYTES`], which the topic is created with too.
    pub fn for_state(
        cfg: &KafkaConfig,
        topic: String,
        stats: Arc<KafkaStats>,
    ) -> Result<KafkaProducer<T>, TransportError> {
        Ok(KafkaProducer {
            producer: make_producer(cfg, Some(STATE_MAX_MESSAGE_BYTES))?,
            topic,
            stats,
            _t: PhantomData,
        })
    }

    /// Sends already-encoded payloads (key, bytes), waiting for every ack.
    pub async fn send_raw(&self, batch: &[(String, Vec<u8>)]) -> Result<(), TransportError> {
        let futures = batch.iter().map(|(k, v)| {
            self.producer.send(
                FutureRecord::to(&self.topic)
                    .key(k.as_str())
                    .payload(v.as_slice()),
                Timeout::After(Duration::from_secs(60)),
            )
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
        for r in &batch {
            encoded.push((r.key.clone(), encode(&r.value)?));
        }
        self.send_raw(&encoded).await
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
    pub fn new(cfg: &KafkaConfig, stats: Arc<KafkaStats>) -> Result<Self, TransportError> {
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
