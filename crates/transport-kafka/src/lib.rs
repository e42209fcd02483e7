//! Vigil's Kafka backend of the `vigil-transport` traits: the only stage
//! code that uses librdkafka (as ripgrep's `grep-pcre2` is the only one that
//! links PCRE2); the `vigil bench kafka` tool also drives rdkafka directly,
//! to measure the raw client beside the pipeline.
//!
//! - [`KafkaProducer`]: an idempotent producer (`acks=all`); `send` returns
//!   only once every record of the batch is acknowledged by the broker, so a
//!   stage acks its input only after its output is durable.
//! - [`KafkaConsumer`]: a consumer-group member with manual commits. Offsets
//!   are committed per partition only up to the first unfinished record
//!   ([`vigil_transport::CommitTracker`]). Undecodable records go to the
//!   dead-letter topic with headers (stage, reason, original topic,
//!   partition, offset) and never block the partition.
//! - [`ensure_topics`]: creates the streams' topics (admin API) when missing.
//!
//! Only standard Kafka APIs are used (no broker-specific features, no
//! transactions): delivery is at-least-once, made effectively-once by
//! stable ids downstream.
#![deny(missing_docs)]

mod consumer;
mod producer;
mod read;
mod state;
mod stats;

use std::time::Duration;

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    config::ClientConfig,
    types::RDKafkaErrorCode,
};
use tracing::{info, warn};
use vigil_config::KafkaSettings;
use vigil_transport::{Stream, TransportError};

pub use vigil_transport::Assignment;

pub use crate::{
    consumer::{Decoder, KafkaConsumer, CONSUMER_DEFAULTS},
    producer::{partition_of, KafkaDeadLetters, KafkaProducer, PACK_MAX_BYTES},
    read::{read_latest, read_to_end, RawRecord},
    state::KafkaStateStore,
    stats::{GroupPartition, KafkaStats, StallTracker},
};

/// The dead-letter stream's topic name (without prefix).
pub const DEAD_LETTER_TOPIC: &str = "vigil.deadletter.v1";
/// The detect checkpoint topic name (compacted; without prefix).
pub const DETECT_STATE_TOPIC: &str = "vigil.detect-state.v1";

/// Largest detect checkpoint record (bytes, before compression): the state
/// topic is created with this `max.message.bytes` and its producer with this
/// `message.max.bytes`. A partition's checkpoint grows with the watches it
/// owns and the pending bins the allowed lateness keeps (docs/ARCHITECTURE.md).
pub const STATE_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// The Kafka topic of a stream, with the configured prefix.
pub fn topic(cfg: &KafkaSettings, stream: Stream) -> String {
    format!("{}{}", cfg.topic_prefix, stream.kafka_topic())
}

/// A prefixed topic name.
pub fn prefixed(cfg: &KafkaSettings, name: &str) -> String {
    format!("{}{name}", cfg.topic_prefix)
}

/// Client configuration: brokers plus the passthrough options.
pub fn client_config(cfg: &KafkaSettings) -> ClientConfig {
    client_config_over(cfg, &[])
}

/// Client configuration over Vigil's defaults for one kind of client: the
/// passthrough options (`transport.kafka.client`) override them. Options
/// correctness depends on are set by the caller afterwards instead.
pub fn client_config_over(cfg: &KafkaSettings, defaults: &[(&str, &str)]) -> ClientConfig {
    client_config_for(cfg, defaults, &[])
}

/// librdkafka properties only a consumer reads (librdkafka's
/// CONFIGURATION.md, "C" in the C/P column): a producer given one logs a
/// CONFWARN at start, so producers leave them out of
/// `transport.kafka.client` (and `--instance-id`'s `group.instance.id`).
pub const CONSUMER_ONLY: &[&str] = &[
    "group.id",
    "group.instance.id",
    "group.protocol",
    "group.remote.assignor",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "group.protocol.type",
    "coordinator.query.interval.ms",
    "max.poll.interval.ms",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "fetch.wait.max.ms",
    "fetch.queue.backoff.ms",
    "fetch.message.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.max.bytes",
    "fetch.min.bytes",
    "fetch.error.backoff.ms",
    "offset.store.method",
    "isolation.level",
    "enable.partition.eof",
    "check.crcs",
    "auto.offset.reset",
    "allow.auto.create.topics",
];

/// As [`client_config_over`], leaving out the `skip` properties of
/// `transport.kafka.client` (e.g. [`CONSUMER_ONLY`] for a producer).
pub fn client_config_for(
    cfg: &KafkaSettings,
    defaults: &[(&str, &str)],
    skip: &[&str],
) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in defaults {
        c.set(*k, *v);
    }
    c.set("bootstrap.servers", &cfg.brokers);
    for (k, v) in &cfg.client {
        if !skip.contains(&k.as_str()) {
            c.set(k, v.expose());
        }
    }
    c
}

/// Creates every Vigil topic that does not exist yet (streams, dead
/// letters, the compacted detect state). Retries with capped backoff while
/// the broker is unreachable, up to `deadline`.
pub async fn ensure_topics(cfg: &KafkaSettings, deadline: Duration) -> Result<(), TransportError> {
    let admin: AdminClient<DefaultClientContext> = client_config(cfg)
        .create()
        .map_err(|e| TransportError::Backend(format!("creating the admin client: {e}")))?;
    let mut names: Vec<String> = Stream::ALL.iter().map(|s| topic(cfg, *s)).collect();
    names.push(prefixed(cfg, DEAD_LETTER_TOPIC));
    let state = prefixed(cfg, DETECT_STATE_TOPIC);
    let state_max = STATE_MAX_MESSAGE_BYTES.to_string();
    let mut topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| {
            NewTopic::new(
                n,
                i32::from(cfg.partitions.get()),
                TopicReplication::Fixed(i32::from(cfg.replication.get())),
            )
        })
        .collect();
    topics.push(
        NewTopic::new(
            &state,
            i32::from(cfg.partitions.get()),
            TopicReplication::Fixed(i32::from(cfg.replication.get())),
        )
        .set("cleanup.policy", "compact")
        .set("max.message.bytes", &state_max),
    );
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let started = std::time::Instant::now();
    let mut retry = 0;
    loop {
        match admin.create_topics(topics.iter(), &opts).await {
            Ok(results) => {
                let mut failed = Vec::new();
                for r in results {
                    match r {
                        Ok(name) => info!(kafka_topic = %name, "Created Kafka topic."),
                        Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((name, code)) => failed.push(format!("{name}: {code}")),
                    }
                }
                if failed.is_empty() {
                    return Ok(());
                }
                if started.elapsed() > deadline {
                    return Err(TransportError::Backend(format!(
                        "creating topics: {}",
                        failed.join(", ")
                    )));
                }
                warn!(errors = %failed.join(", "), "Creating topics failed; retrying.");
            }
            Err(e) => {
                if started.elapsed() > deadline {
                    return Err(TransportError::Backend(format!("creating topics: {e}")));
                }
                warn!(error = %e, "Broker unreachable while creating topics; retrying.");
            }
        }
        retry += 1;
        tokio::time::sleep(vigil_transport::broker_backoff(retry)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_options_override_the_defaults() {
        let settings = vigil_config::Settings::from_toml_str(
            "[[watches]]\nid = \"w\"\nterms = [\"w\"]\n[transport]\ntype = \"kafka\"\n[transport.kafka]\nbrokers = \"h:1\"\n[transport.kafka.client]\n\"max.poll.interval.ms\" = \"120000\"\n",
            "t.toml",
            &[],
        )
        .unwrap();
        let k = settings.transport.kafka().unwrap();
        let c = client_config_over(k, consumer::CONSUMER_DEFAULTS);
        assert_eq!(c.get("max.poll.interval.ms"), Some("120000"));
        assert_eq!(c.get("session.timeout.ms"), Some("10000"));
        assert_eq!(c.get("bootstrap.servers"), Some("h:1"));
        assert_eq!(client_config(k).get("session.timeout.ms"), None);
    }
}
