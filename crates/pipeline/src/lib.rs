//! Vigil's topology builder: wires ingest -> score -> detect -> alert.
//!
//! The embedded default ([`run_embedded`]) runs every stage as a task in one
//! process, joined by bounded in-memory streams (backpressure: a slow stage
//! slows the ones before it). Stages are generic over the transport traits
//! and never name a backend; a Kafka backend plugs in here by
//! `transport.type`.
//!
//! Shutdown: cancelling the token stops ingest from reading; every later
//! stage drains what is in flight, sinks flush, and the run returns its
//! [`Summary`].
#![deny(missing_docs)]

#[cfg(feature = "kafka")]
mod kafka;
mod live;
mod summary;
mod topology;

use std::{path::PathBuf, sync::Arc, time::Instant};

use anyhow::Context;
use tokio::io::{AsyncBufRead, BufReader};
use tokio_util::sync::CancellationToken;
use tracing::{info_span, Instrument};
use vigil_alert::AlertStage;
use vigil_config::Settings;
use vigil_detect::Detector;
use vigil_ingest::{IngestRunner, Ingestor};
use vigil_telemetry::{LogLimiter, Metrics};
use vigil_transport::{memory_stream, Discard};
use vigil_types::{Alert, EventTime};

#[cfg(feature = "kafka")]
pub use crate::kafka::{spawn_kafka_exporter, KafkaRun};
pub use crate::{
    live::LiveConfig,
    summary::Summary,
    topology::{RunOptions, Topology},
};
/// The Kafka backend (with the `kafka` feature, on by default): its
/// producer, consumer, state store and helpers, for tools and tests.
#[cfg(feature = "kafka")]
pub use vigil_transport_kafka::{self as kafka_transport, KafkaStats};

/// A pipeline stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageName {
    /// Posts in, to the posts stream.
    Ingest,
    /// Posts to scored posts.
    Score,
    /// Scored posts to spikes.
    Detect,
    /// Spikes to alerts and sinks.
    Alert,
}

impl StageName {
    /// Lower-case name (the `stage` label).
    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Ingest => "ingest",
            StageName::Score => "score",
            StageName::Detect => "detect",
            StageName::Alert => "alert",
        }
    }
}

/// Where posts come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A JSON-lines file, replayed to its end.
    File(PathBuf),
    /// Standard input, until it closes.
    Stdin,
}

/// Opens the input as a buffered async reader, with its `source` label.
pub async fn open_input(
    input: &Input,
) -> anyhow::Result<(Box<dyn AsyncBufRead + Send + Unpin>, String)> {
    Ok(match input {
        Input::File(p) => {
            let f = tokio::fs::File::open(p)
                .await
                .with_context(|| format!("opening input file {}", p.display()))?;
            (
                Box::new(BufReader::with_capacity(1 << 16, f)),
                "file".to_string(),
            )
        }
        Input::Stdin => (
            Box::new(BufReader::with_capacity(1 << 16, tokio::io::stdin())),
            "stdin".to_string(),
        ),
    })
}

/// Runs the four stages in this process over bounded in-memory streams,
/// until the input ends or `cancel` fires. `tap` sees every alert sent.
/// `live` holds the swappable scorer and watch list (see [`LiveConfig`]);
/// `alert` the incident store and the delivery task.
#[allow(clippy::too_many_arguments)]
pub async fn run_embedded(
    settings: &Settings,
    live: &LiveConfig,
    reader: Box<dyn AsyncBufRead + Send + Unpin>,
    source: String,
    alert: AlertStage,
    metrics: Metrics,
    cancel: CancellationToken,
    tap: impl FnMut(&Alert) + Send + 'static,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let cfg = settings;
    let cap = cfg.transport.channel_capacity.get();
    let mut detector = Detector::new(settings);
    // Standard input is a live stream: while it is silent, detect's clock
    // runs on with the wall clock. A file is a replay: its results depend
    // on its content only.
    detector.set_live(source == "stdin");
    let limiter = Arc::new(LogLimiter::new(cfg.telemetry.error_log_interval));

    let (posts_tx, posts_rx) = memory_stream(cap);
    let (scored_tx, scored_rx) = memory_stream(cap);
    let (spikes_tx, spikes_rx) = memory_stream(cap);

    let replay = IngestRunner {
        source,
        ingestor: Ingestor::new(&cfg.ingest),
        producer: posts_tx,
        batch_size: cfg.transport.batch_size.get(),
        metrics: metrics.clone(),
        limiter,
        now: EventTime::wall_clock,
        dead_letters: vigil_transport::NoDeadLetters,
    };
    let ingest = tokio::spawn(replay.replay(reader, cancel.clone()).instrument(info_span!(
        "stage",
        stage = "ingest",
        mode = "embedded"
    )));
    let score = tokio::spawn(
        vigil_score::run_score(live.scorer(), posts_rx, scored_tx, metrics.clone())
            .instrument(info_span!("stage", stage = "score", mode = "embedded")),
    );
    let detect = tokio::spawn(
        vigil_detect::run_detect(
            detector,
            scored_rx,
            spikes_tx,
            vigil_transport::NoState,
            metrics.clone(),
            vigil_detect::DetectRun::embedded(EventTime::wall_clock),
            Some(live.watches()),
        )
        .instrument(info_span!("stage", stage = "detect", mode = "embedded")),
    );
    let alert = tokio::spawn(
        vigil_alert::run_alert(alert, spikes_rx, Discard, tap).instrument(info_span!(
            "stage",
            stage = "alert",
            mode = "embedded"
        )),
    );

    // Join in pipeline order; a failed stage fails the run (the others end
    // when their streams close).
    let ingest = ingest
        .await
        .context("ingest task panicked")?
        .context("ingest stage")?;
    let score = score
        .await
        .context("score task panicked")?
        .context("score stage")?;
    let detect = detect
        .await
        .context("detect task panicked")?
        .context("detect stage")?;
    let alert = alert
        .await
        .context("alert task panicked")?
        .context("alert stage")?;
    Ok(Summary {
        ingest,
        score,
        detect,
        alert,
        wall: started.elapsed(),
    })
}
