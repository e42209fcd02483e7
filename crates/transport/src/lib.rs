//! Vigil's stream transport: the [`Producer`] and [`Consumer`] traits every
//! stage runner is generic over, the [`Envelope`] codec for records that
//! leave the process, and the in-memory backend ([`memory_stream`]).
//!
//! Stage runners never name a backend: the pipeline picks one from
//! `transport.type`. The in-memory backend is a bounded tokio channel of
//! batches, so a full stream slows its producer down (backpressure) and its
//! acks do nothing. A Kafka backend implements the same traits in its own
//! crate (the only one that would link librdkafka), as ripgrep's
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
use vigil_types::ErrorClass;

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

impl TransportError {
    /// The error's class (the `error_type` label).
    pub fn class(&self) -> ErrorClass {
        match self {
            TransportError::Closed(_) => ErrorClass::Internal,
            TransportError::Codec(_) => ErrorClass::Input,
            TransportError::Backend(_) => ErrorClass::External,
        }
    }
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
    /// Where it came from: a Kafka topic, or `file:<path>` / `stdin`.
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
