//! The ingest runner of both modes: reads JSON lines from a file, stdin or
//! a Kafka source topic, parses them with the [`Ingestor`] core and sends
//! [`Post`] batches downstream.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vigil_telemetry::{LogLimiter, Metrics};
use vigil_transport::{Consumer, DeadLetter, DeadLetters, Producer, Record, Stream};
use vigil_types::{EventTime, Post};

use crate::{parse::RejectReason, IngestError, Ingestor};

/// Counts of one ingest run, for the replay summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Lines read (accepted and rejected).
    pub lines: u64,
    /// Posts accepted and sent downstream.
    pub accepted: u64,
    /// Rejected lines by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Bytes read.
    pub bytes: u64,
}

impl IngestStats {
    /// Total rejected lines.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// How long a partial batch may wait for more lines before it is sent
/// (matters for live input on stdin).
const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// The ingest stage of both modes: lines in (a file, stdin, or a Kafka
/// source topic), parsed by the [`Ingestor`] core; accepted posts go
/// downstream in batches of `batch_size`, rejected lines are counted, logged
/// (rate-limited) and, except empty lines and duplicates, dead-lettered.
pub struct IngestRunner<P, D = vigil_transport::NoDeadLetters> {
    /// Source label (`file`, `stdin`, `kafka`): the metrics' `source`.
    pub source: String,
    /// Parser.
    pub ingestor: Ingestor,
    /// Output stream.
    pub producer: P,
    /// Records per batch.
    pub batch_size: usize,
    /// Metrics.
    pub metrics: Metrics,
    /// Error-log limiter.
    pub limiter: Arc<LogLimiter>,
    /// Processing-time clock (ingest time of posts).
    pub now: fn() -> EventTime,
    /// Where rejected lines go (the dead-letter topic in Kafka mode).
    pub dead_letters: D,
}

impl<P, D> std::fmt::Debug for IngestRunner<P, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestRunner")
            .field("source", &self.source)
            .finish()
    }
}

/// Where a line came from, for its dead letter.
struct Origin<'a> {
    source: &'a str,
    partition: i32,
    offset: i64,
}

impl<P, D> IngestRunner<P, D>
where
    P: Producer<Post>,
    D: DeadLetters,
{
    /// Reads `reader` (a file or stdin) to its end or until `cancel`;
    /// returns the counts.
    pub async fn replay<R>(
        mut self,
        mut reader: R,
        cancel: CancellationToken,
    ) -> Result<IngestStats, IngestError>
    where
        R: AsyncBufRead + Unpin + Send,
    {
        let mut stats = IngestStats::default();
        let mut batch: Vec<Record<Post>> = Vec::with_capacity(self.batch_size);
        let mut line: Vec<u8> = Vec::new();
        let mut oversized = false;
        let limit = self.ingestor.max_post_bytes();
        let received_bytes = self
            .metrics
            .ingest_received_bytes
            .with_label_values(&[&self.source]);
        let source = self.source.clone();
        loop {
            let chunk_len;
            let mut eof = false;
            {
                let buf = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => {
                        info!(source = %self.source, "Ingest cancelled; draining.");
                        break;
                    }
                    r = reader.fill_buf() => r.map_err(IngestError::Read)?,
                    _ = tokio::time::sleep(FLUSH_AFTER), if !batch.is_empty() => {
                        self.send(&mut batch).await?;
                        continue;
                    }
                };
                if buf.is_empty() {
                    eof = true;
                    chunk_len = 0;
                } else {
                    // Copy up to the next newline into `line`, keeping at most
                    // limit + 1 bytes so a huge line cannot exhaust memory.
                    let (take, ends_line) = match buf.iter().position(|&b| b == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (buf.len(), false),
                    };
                    let content = if ends_line {
                        &buf[..take - 1]
                    } else {
                        &buf[..take]
                    };
                    let room = (limit + 1).saturating_sub(line.len());
                    if content.len() > room {
                        oversized = true;
                    }
                    line.extend_from_slice(&content[..content.len().min(room)]);
                    chunk_len = take;
                    stats.bytes += take as u64;
                    received_bytes.inc_by(take as u64);
                    if !ends_line {
                        reader.consume(chunk_len);
                        continue;
                    }
                }
            }
            if chunk_len > 0 {
                reader.consume(chunk_len);
            }
            if eof && line.is_empty() {
                break;
            }
            // A complete line (or the last, unterminated one).
            stats.lines += 1;
            let bytes: &[u8] = if oversized {
                // Force the too_large rejection whatever the kept prefix holds.
                &line[..]
            } else {
                line.strip_suffix(b"\r").unwrap_or(&line)
            };
            let origin = Origin {
                source: &source,
                partition: -1,
                offset: stats.lines as i64,
            };
            self.line(bytes, oversized, origin, &mut stats, &mut batch)
                .await?;
            line.clear();
            oversized = false;
            if eof {
                break;
            }
        }
        self.finish(batch, &stats).await?;
        Ok(stats)
    }

    /// Reads `input` (a Kafka source topic of JSON posts, one per record;
    /// `origin` names it in dead letters) until it ends (the stage is
    /// cancelled). A batch is acked once every post from it is durable
    /// downstream and every rejected line of it dead-lettered.
    pub async fn consume<C>(
        mut self,
        mut input: C,
        origin: &str,
    ) -> Result<IngestStats, IngestError>
    where
        C: Consumer<Vec<u8>>,
    {
        let mut stats = IngestStats::default();
        let mut batch: Vec<Record<Post>> = Vec::with_capacity(self.batch_size);
        let limit = self.ingestor.max_post_bytes();
        let received_bytes = self
            .metrics
            .ingest_received_bytes
            .with_label_values(&[&self.source]);
        while let Some(records) = input.recv().await? {
            for d in &records {
                stats.lines += 1;
                stats.bytes += d.value.len() as u64;
                received_bytes.inc_by(d.value.len() as u64);
                let bytes = d.value.strip_suffix(b"\n").unwrap_or(&d.value);
                let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
                let at = Origin {
                    source: origin,
                    partition: d.position.partition,
                    offset: d.position.offset,
                };
                self.line(bytes, bytes.len() > limit, at, &mut stats, &mut batch)
                    .await?;
            }
            self.send(&mut batch).await?;
            let positions: Vec<_> = records.iter().map(|d| d.position).collect();
            input.ack(&positions).await?;
        }
        self.finish(batch, &stats).await?;
        Ok(stats)
    }

    /// One complete line: a post into `batch` (sent when full), or a
    /// rejection counted, dead-lettered and logged.
    async fn line(
        &mut self,
        bytes: &[u8],
        oversized: bool,
        origin: Origin<'_>,
        stats: &mut IngestStats,
        batch: &mut Vec<Record<Post>>,
    ) -> Result<(), IngestError> {
        self.metrics
            .ingest_received_posts
            .with_label_values(&[&self.source])
            .inc();
        let limit = self.ingestor.max_post_bytes();
        let result = if oversized {
            Err(crate::parse::Reject {
                reason: RejectReason::TooLarge,
                detail: format!("longer than {limit} bytes"),
            })
        } else {
            self.ingestor.parse_line(bytes, (self.now)())
        };
        let rej = match result {
            Ok(post) => {
                stats.accepted += 1;
                batch.push(Record::new(post.id.to_string(), post));
                if batch.len() >= self.batch_size {
                    self.send(batch).await?;
                }
                return Ok(());
            }
            Err(rej) => rej,
        };
        let reason = rej.reason.as_str();
        *stats.rejected.entry(reason).or_default() += 1;
        self.metrics
            .ingest_discarded_posts
            .with_label_values(&[&self.source, reason])
            .inc();
        if rej.reason != RejectReason::Empty && rej.reason != RejectReason::Duplicate {
            self.metrics
                .errors
                .with_label_values(&["ingest", "input"])
                .inc();
            let d = DeadLetter {
                stage: "ingest",
                reason: reason.to_string(),
                error: rej.detail.clone(),
                source: origin.source.to_string(),
                partition: origin.partition,
                offset: origin.offset,
                payload: bytes.to_vec(),
            };
            vigil_transport::store_dead_letter(&mut self.dead_letters, d).await;
        }
        if let Some(suppressed) = self.limiter.check(reason) {
            warn!(
                source = %origin.source,
                partition = origin.partition,
                line = origin.offset,
                reason,
                suppressed,
                error = %rej.detail,
                "Rejected input line."
            );
        }
        Ok(())
    }

    /// Sends what `batch` holds.
    async fn send(&mut self, batch: &mut Vec<Record<Post>>) -> Result<(), IngestError> {
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() as u64;
        self.producer.send(std::mem::take(batch)).await?;
        self.metrics
            .transport_sent_messages
            .with_label_values(&[Stream::Posts.as_str()])
            .inc_by(n);
        Ok(())
    }

    /// Sends the last batch and waits until every post is durable.
    async fn finish(
        &mut self,
        mut batch: Vec<Record<Post>>,
        stats: &IngestStats,
    ) -> Result<(), IngestError> {
        self.send(&mut batch).await?;
        self.producer.flush().await?;
        info!(
            source = %self.source,
            lines = stats.lines,
            accepted = stats.accepted,
            rejected = stats.rejected_total(),
            "Ingest finished."
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_transport::{memory_stream, Consumer};

    /// 2026-12-01T00:00:00Z.
    fn wall() -> EventTime {
        EventTime(1_796_083_200_000)
    }

    #[tokio::test]
    async fn replays_lines_counts_rejects_and_ends() {
        let s = vigil_config::Settings::from_toml_str(
            "[[watches]]\nid = \"w\"\nterms = [\"x\"]\n[ingest]\nmax_post_bytes = 100\n",
            "t.toml",
            &[],
        )
        .unwrap();
        let long = format!(
            "{{\"id\":\"big\",\"text\":\"{}\",\"published_at\":1}}",
            "z".repeat(5000)
        );
        let input = format!(
            "{{\"id\":\"1\",\"text\":\"a\",\"published_at\":1700000000000}}\r\nnope\n\n{long}\n{{\"id\":\"1\",\"text\":\"a\",\"published_at\":1700000000000}}\n{{\"id\":\"old\",\"text\":\"a\",\"published_at\":-9223372036854775807}}\n{{\"id\":\"ahead\",\"text\":\"a\",\"published_at\":\"2026-12-03T00:00:00Z\"}}\n{{\"id\":\"2\",\"text\":\"b\",\"published_at\":1700000000001}}"
        );
        let (tx, mut rx) = memory_stream::<Post>(16);
        let metrics = Metrics::new();
        let replay = IngestRunner {
            source: "file".into(),
            ingestor: Ingestor::new(&s.ingest),
            producer: tx,
            batch_size: 1,
            metrics: metrics.clone(),
            limiter: Arc::new(LogLimiter::new(Duration::from_secs(1))),
            now: wall,
            dead_letters: vigil_transport::NoDeadLetters,
        };
        let stats = replay
            .replay(
                tokio::io::BufReader::with_capacity(64, input.as_bytes()),
                CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(stats.lines, 8);
        assert_eq!(stats.accepted, 2);
        assert_eq!(stats.rejected.get("bad_time"), Some(&2));
        assert_eq!(stats.accepted + stats.rejected_total(), stats.lines);
        assert_eq!(stats.rejected.get("invalid_json"), Some(&1));
        assert_eq!(stats.rejected.get("empty"), Some(&1));
        assert_eq!(stats.rejected.get("too_large"), Some(&1));
        assert_eq!(stats.rejected.get("duplicate"), Some(&1));
        let mut ids = Vec::new();
        while let Some(b) = rx.recv().await.unwrap() {
            ids.extend(b.into_iter().map(|d| d.value.id.to_string()));
        }
        assert_eq!(ids, vec!["1", "2"]);
        let text = metrics.render();
        assert!(
            text.contains(
                r#"vigil_ingest_discarded_posts_total{reason="too_large",source="file"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"vigil_ingest_discarded_posts_total{reason="bad_time",source="file"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"vigil_ingest_received_posts_total{source="file"} 8"#));
    }

    /// A Kafka source topic's records, scripted: two batches.
    struct Source {
        batches: std::collections::VecDeque<Vec<vigil_transport::Delivery<Vec<u8>>>>,
        log: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl Consumer<Vec<u8>> for Source {
        async fn recv(
            &mut self,
        ) -> Result<Option<Vec<vigil_transport::Delivery<Vec<u8>>>>, vigil_transport::TransportError>
        {
            Ok(self.batches.pop_front())
        }

        async fn ack(
            &mut self,
            positions: &[vigil_transport::Position],
        ) -> Result<(), vigil_transport::TransportError> {
            let offsets: Vec<i64> = positions.iter().map(|p| p.offset).collect();
            self.log.lock().unwrap().push(format!("ack {offsets:?}"));
            Ok(())
        }
    }

    #[derive(Clone)]
    struct Dead(Arc<std::sync::Mutex<Vec<String>>>);

    impl DeadLetters for Dead {
        async fn send(&mut self, d: DeadLetter) -> Result<(), vigil_transport::TransportError> {
            self.0.lock().unwrap().push(format!(
                "dead {} {} {}:{}",
                d.reason, d.source, d.partition, d.offset
            ));
            Ok(())
        }
    }

    #[derive(Clone)]
    struct Out(Arc<std::sync::Mutex<Vec<String>>>);

    impl Producer<Post> for Out {
        async fn send(
            &mut self,
            batch: Vec<Record<Post>>,
        ) -> Result<(), vigil_transport::TransportError> {
            let ids: Vec<String> = batch.iter().map(|r| r.value.id.to_string()).collect();
            self.0.lock().unwrap().push(format!("send {ids:?}"));
            Ok(())
        }

        async fn flush(&mut self) -> Result<(), vigil_transport::TransportError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_source_topic_is_ingested_like_a_file_and_acked_after_its_posts() {
        let s = vigil_config::Settings::from_toml_str(
            "[[watches]]\nid = \"w\"\nterms = [\"x\"]\n[ingest]\nmax_post_bytes = 100\n",
            "t.toml",
            &[],
        )
        .unwrap();
        let rec = |offset: i64, line: String| vigil_transport::Delivery {
            value: line.into_bytes(),
            position: vigil_transport::Position {
                partition: 2,
                offset,
            },
        };
        let post = |id: &str| format!(r#"{{"id":"{id}","text":"x","published_at":1700000000000}}"#);
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let source = Source {
            batches: vec![
                vec![
                    rec(10, post("a") + "\n"),
                    rec(11, "nope".into()),
                    rec(12, post("a")),
                ],
                vec![
                    rec(13, String::new()),
                    rec(
                        14,
                        format!(r#"{{"id":"big","text":"{}"}}"#, "z".repeat(200)),
                    ),
                    rec(15, post("b")),
                ],
            ]
            .into(),
            log: log.clone(),
        };
        let metrics = Metrics::new();
        let runner = IngestRunner {
            source: "kafka".into(),
            ingestor: Ingestor::new(&s.ingest),
            producer: Out(log.clone()),
            batch_size: 100,
            metrics: metrics.clone(),
            limiter: Arc::new(LogLimiter::new(Duration::from_secs(1))),
            now: wall,
            dead_letters: Dead(log.clone()),
        };
        let stats = runner.consume(source, "kafka:src").await.unwrap();
        assert_eq!((stats.lines, stats.accepted), (6, 2));
        assert_eq!(stats.rejected.get("duplicate"), Some(&1));
        assert_eq!(stats.rejected.get("empty"), Some(&1));
        // Each batch: its rejects dead-lettered with their topic position
        // (not the duplicate, not the empty record), its posts sent, then
        // its records acked.
        assert_eq!(
            *log.lock().unwrap(),
            vec![
                "dead invalid_json kafka:src 2:11",
                r#"send ["a"]"#,
                "ack [10, 11, 12]",
                "dead too_large kafka:src 2:14",
                r#"send ["b"]"#,
                "ack [13, 14, 15]",
            ]
        );
        let text = metrics.render();
        assert!(text.contains(r#"vigil_ingest_received_posts_total{source="kafka"} 6"#));
    }
}
