//! Vigil's stream transport: the [`Producer`] and [`Consumer`] traits every
//! stage runner is generic over, the [`Envelope`] codec for records that
//! leave the process, and the in-memory backend ([`memory_stream`]).
//!
//! Stage runners never name a backend: the pipeline picks one from
//! `transport.type`. The in-memory backend is a bounded tokio channel of
//! batches, so a full stream slows its producer down (backpressure) and its
//! acks do nothing. A Kafka backend implements the same traits in its own
//! crate (`vigil-transport-kafka`, the only stage code using librdkafka), as ripgrep's
//! `grep-matcher` trait crate relates to `grep-regex`.
//!
//! ```
//! use vigil_transport::{memory_stream, Consumer, Producer, Record};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (mut tx, mut rx) = memory_stream::<u32>(4);
//! tx.send(vec![Record::new("k", 7)]).await.unwrap();
//! drop(tx);
//! let batch = rx.recv().await.unwrap().unwrap();
//! assert_eq!(batch[0].value, 7);
//! assert!(rx.recv().await.unwrap().is_none());
//! # });
//! ```
#![deny(missing_docs)]

mod codec;
mod commit;
mod memory;

use std::future::Future;

pub use crate::{
    codec::{
        decode, decode_all, encode, encode_packed, frame, frame_len, Envelope, SCHEMA_VERSION,
    },
    commit::CommitTracker,
    memory::{memory_stream, MemoryConsumer, MemoryProducer},
};

/// A named connection between two stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// ingest -> score: `Post`.
    Posts,
    /// score -> detect: `ScoredPost`.
    Scored,
    /// detect -> alert: `Spike`.
    Spikes,
    /// alert -> sinks: `Alert`.
    Alerts,
}

impl Stream {
    /// Every stream, in pipeline order.
    pub const ALL: [Stream; 4] = [
        Stream::Posts,
        Stream::Scored,
        Stream::Spikes,
        Stream::Alerts,
    ];

    /// The `stream` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Posts => "posts",
            Stream::Scored => "scored",
            Stream::Spikes => "spikes",
            Stream::Alerts => "alerts",
        }
    }

    /// The Kafka topic name of this stream: `vigil.<stream>.v<N>`.
    pub fn kafka_topic(self) -> String {
        format!("vigil.{}.v{}", self.as_str(), SCHEMA_VERSION)
    }
}

/// A record to send, with its partitioning key.
#[derive(Clone, Debug, PartialEq)]
pub struct Record<T> {
    /// Partitioning key (post id for posts, watch id afterwards).
    pub key: String,
    /// The record.
    pub value: T,
    /// A partition chosen by the sender instead of by key (a record every
    /// partition must see, such as score's event-time clock); `None`: by key.
    pub partition: Option<i32>,
}

impl<T> Record<T> {
    /// A record with a key.
    pub fn new(key: impl Into<String>, value: T) -> Self {
        Record {
            key: key.into(),
            value,
            partition: None,
        }
    }

    /// A record for partition `partition` of the stream (see
    /// [`Producer::partitions`]).
    pub fn to_partition(partition: i32, key: impl Into<String>, value: T) -> Self {
        Record {
            key: key.into(),
            value,
            partition: Some(partition),
        }
    }
}

/// Where a delivered record sits in its stream; what [`Consumer::ack`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Partition (always 0 in memory).
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
}

/// A received record and its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery<T> {
    /// The record.
    pub value: T,
    /// Its position, to ack once every output made from it is durable.
    pub position: Position,
}

/// Transport failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The other end of the stream is gone (the downstream stage stopped).
    #[error("stream `{0}` is closed")]
    Closed(&'static str),
    /// A record could not be encoded or decoded.
    #[error("codec error: {0}")]
    Codec(String),
    /// The backend (a broker) failed.
    #[error("backend error: {0}")]
    Backend(String),
}

/// The sending half of a stream.
pub trait Producer<T>: Send {
    /// Sends a batch. Waits while the stream is full (backpressure).
    fn send(
        &mut self,
        batch: Vec<Record<T>>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Waits until everything sent is durable.
    fn flush(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Partitions of the stream (1 in memory): a record that every consumer
    /// must see is sent once to each.
    fn partitions(&self) -> i32 {
        1
    }
}

/// The receiving half of a stream.
pub trait Consumer<T>: Send {
    /// The next batch, or `None` once the stream has ended (every producer
    /// dropped and the stream drained).
    fn recv(
        &mut self,
    ) -> impl Future<Output = Result<Option<Vec<Delivery<T>>>, TransportError>> + Send;

    /// Marks records processed: every output made from them is durable.
    fn ack(
        &mut self,
        positions: &[Position],
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// The newest assignment since the last call, if the partitions this
    /// consumer owns changed (a consumer-group rebalance). A stream that is
    /// never rebalanced (in memory) has none.
    fn take_assignment(&mut self) -> Option<Assignment> {
        None
    }

    /// Records waiting in `partition`, when measured (a partition with a
    /// backlog is slow, not idle).
    fn backlog(&self, _partition: i32) -> Option<i64> {
        None
    }

    /// Marks records processed without committing them: a stage that
    /// checkpoints its state commits, with [`Consumer::commit`], only what a
    /// durable checkpoint covers.
    fn finish(&mut self, _positions: &[Position]) {}

    /// The offset below which every record of `partition` is finished, if
    /// any record of it was.
    fn commit_point(&self, _partition: i32) -> Option<i64> {
        None
    }

    /// Commits `(partition, next offset)` pairs that a checkpoint covers.
    fn commit(
        &mut self,
        _offsets: &[(i32, i64)],
    ) -> impl Future<Output = Result<(), TransportError>> + Send {
        std::future::ready(Ok(()))
    }
}

/// The partitions a consumer owns after a rebalance
/// ([`Consumer::take_assignment`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The partitions owned now.
    pub partitions: Vec<i32>,
    /// Those of them that were in every assignment since the previous
    /// call: with the eager protocol nobody else can have owned them in
    /// between, if they were owned before that call too.
    pub in_every: Vec<i32>,
}

/// Where a stage keeps the checkpoints of its per-partition state: nowhere
/// in embedded mode ([`NoState`]), a compacted topic keyed by input
/// partition in Kafka mode.
pub trait StateStore: Send {
    /// Whether checkpoints outlive the process. A stage with no durable
    /// store acks each batch once its outputs are sent and, at the end of
    /// its input, flushes what it holds; one with a durable store commits
    /// only what a checkpoint covers and, when stopped, checkpoints.
    fn durable(&self) -> bool;

    /// The newest checkpoint of each of `partitions` that has one. Those in
    /// `kept` were this process's since its last [`StateStore::save`] of
    /// them, so nobody else can have written them since.
    fn load(
        &mut self,
        partitions: &[i32],
        kept: &[i32],
    ) -> impl Future<Output = Result<Vec<(i32, Vec<u8>)>, TransportError>> + Send;

    /// Stores `(partition, checkpoint)` pairs durably.
    fn save(
        &mut self,
        checkpoints: Vec<(i32, Vec<u8>)>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
}

/// Embedded mode: state lives and ends with the process.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoState;

impl StateStore for NoState {
    fn durable(&self) -> bool {
        false
    }

    async fn load(
        &mut self,
        _partitions: &[i32],
        _kept: &[i32],
    ) -> Result<Vec<(i32, Vec<u8>)>, TransportError> {
        Ok(Vec::new())
    }

    async fn save(&mut self, _checkpoints: Vec<(i32, Vec<u8>)>) -> Result<(), TransportError> {
        Ok(())
    }
}

/// A record that could not be processed, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The stage that rejected it.
    pub stage: &'static str,
    /// Why (a bounded reason, as in the discard counters).
    pub reason: String,
    /// Human-readable detail.
    pub error: String,
    /// Where it came from: a Kafka topic, or `file` / `stdin`.
    pub source: String,
    /// Source partition (-1 for files).
    pub partition: i32,
    /// Source offset (the line number for files).
    pub offset: i64,
    /// The original bytes.
    pub payload: Vec<u8>,
}

/// Where rejected records go. In Kafka mode, the dead-letter topic; in
/// embedded mode they are counted and logged only ([`NoDeadLetters`]).
pub trait DeadLetters: Send {
    /// Stores one dead letter durably.
    fn send(&mut self, d: DeadLetter) -> impl Future<Output = Result<(), TransportError>> + Send;
}

/// The delay before retry number `retry` (1-based): `initial` doubled per
/// retry, at most `max`. Every retry loop of Vigil waits this way (HTTP
/// sinks and the outbox, broker calls, dead letters).
pub fn backoff(
    retry: u32,
    initial: std::time::Duration,
    max: std::time::Duration,
) -> std::time::Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1))
        .unwrap_or(u32::MAX);
    initial.saturating_mul(factor).min(max)
}

/// The backoff of broker calls and dead letters: 100 ms doubled up to 5 s.
pub fn broker_backoff(retry: u32) -> std::time::Duration {
    backoff(
        retry,
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(5),
    )
}

/// Stores `d`, retrying (with [`broker_backoff`]) until it is stored: a
/// rejected record is never dropped, and its partition waits meanwhile.
pub async fn store_dead_letter<D: DeadLetters>(dead: &mut D, d: DeadLetter) {
    let mut retry = 0;
    while let Err(e) = dead.send(d.clone()).await {
        retry += 1;
        tracing::warn!(error = %e, retry, "Dead letter not stored yet; retrying.");
        tokio::time::sleep(broker_backoff(retry)).await;
    }
}

/// Embedded mode: rejected records are counted and logged by the stage, not
/// stored.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDeadLetters;

impl DeadLetters for NoDeadLetters {
    async fn send(&mut self, _d: DeadLetter) -> Result<(), TransportError> {
        Ok(())
    }
}

/// A stream end with no reader: embedded mode's alerts stream (alerts go to
/// sinks there; in Kafka mode they are also a topic).
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl<T: Send> Producer<T> for Discard {
    async fn send(&mut self, _batch: Vec<Record<T>>) -> Result<(), TransportError> {
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let ms = Duration::from_millis;
        let got: Vec<u128> = (1..=8)
            .map(|r| backoff(r, ms(200), ms(5_000)).as_millis())
            .collect();
        assert_eq!(got, [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        // No overflow for absurd retry counts.
        assert_eq!(backoff(100, ms(200), ms(5_000)), ms(5_000));
        assert_eq!(backoff(u32::MAX, ms(1), ms(7)), ms(7));
        assert_eq!(broker_backoff(1), ms(100));
        assert_eq!(broker_backoff(9), ms(5_000));
    }
}
