//! The async ingest runner: reads JSON lines from a file or stdin, parses
//! them with the [`Ingestor`] core and sends [`Post`] batches downstream.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vigil_telemetry::{LogLimiter, Metrics};
use vigil_transport::{DeadLetter, DeadLetters, Producer, Record, Stream};
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

/// The file replay source: reads `reader` to its end (or until `cancel`),
/// sending accepted posts in batches of `batch_size`.
pub struct FileReplay<R, P, D = vigil_transport::NoDeadLetters> {
    /// Input.
    pub reader: R,
    /// Source label (`file`, `stdin`).
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

impl<R, P, D> std::fmt::Debug for FileReplay<R, P, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReplay")
            .field("source", &self.source)
            .finish()
    }
}

impl<R, P, D> FileReplay<R, P, D>
where
    R: AsyncBufRead + Unpin + Send,
    P: Producer<Post>,
    D: DeadLetters,
{
    /// Runs to end of input or cancellation; returns the counts.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<IngestStats, IngestError> {
        let mut stats = IngestStats::default();
        let mut batch: Vec<Record<Post>> = Vec::with_capacity(self.batch_size);
        let mut line: Vec<u8> = Vec::new();
        let mut oversized = false;
        let limit = self.ingestor.max_post_bytes();
        let received = self
            .metrics
            .ingest_received_posts
            .with_label_values(&[&self.source]);
        let received_bytes = self
            .metrics
            .ingest_received_bytes
            .with_label_values(&[&self.source]);
        let sent = self
            .metrics
            .transport_sent_messages
            .with_label_values(&[Stream::Posts.as_str()]);
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
                    r = self.reader.fill_buf() => r.map_err(IngestError::Read)?,
                    _ = tokio::time::sleep(FLUSH_AFTER), if !batch.is_empty() => {
                        let n = batch.len() as u64;
                        self.producer.send(std::mem::take(&mut batch)).await?;
                        sent.inc_by(n);
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
                        self.reader.consume(chunk_len);
                        continue;
                    }
                }
            }
            if chunk_len > 0 {
                self.reader.consume(chunk_len);
            }
            if eof && line.is_empty() {
                break;
            }
            // A complete line (or the last, unterminated one).
            stats.lines += 1;
            received.inc();
            let bytes: &[u8] = if oversized {
                // Force the too_large rejection whatever the kept prefix holds.
                &line[..]
            } else {
                line.strip_suffix(b"\r").unwrap_or(&line)
            };
            let result = if oversized {
                Err(crate::parse::Reject {
                    reason: RejectReason::TooLarge,
                    detail: format!("longer than {limit} bytes"),
                })
            } else {
                self.ingestor.parse_line(bytes, (self.now)())
            };
            match result {
                Ok(post) => {
                    stats.accepted += 1;
                    batch.push(Record::new(post.id.0.clone(), post));
                    if batch.len() >= self.batch_size {
                        let n = batch.len() as u64;
                        self.producer.send(std::mem::take(&mut batch)).await?;
                        sent.inc_by(n);
                    }
                }
                Err(rej) => {
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
                    }
                    if rej.reason != RejectReason::Empty && rej.reason != RejectReason::Duplicate {
                        let d = DeadLetter {
                            stage: "ingest",
                            reason: reason.to_string(),
                            error: rej.detail.clone(),
                            source: self.source.clone(),
                            partition: -1,
                            offset: stats.lines as i64,
                            payload: bytes.to_vec(),
                        };
                        let mut delay = std::time::Duration::from_millis(100);
                        while let Err(e) = self.dead_letters.send(d.clone()).await {
                            warn!(error = %e, "Dead letter not stored yet; retrying.");
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(std::time::Duration::from_secs(5));
                        }
                    }
                    if let Some(suppressed) = self.limiter.check(reason) {
                        warn!(
                            source = %self.source,
                            line = stats.lines,
                            reason,
                            suppressed,
                            error = %rej.detail,
                            "Rejected input line."
                        );
                    }
                }
            }
            line.clear();
            oversized = false;
            if eof {
                break;
            }
        }
        if !batch.is_empty() {
            let n = batch.len() as u64;
            self.producer.send(batch).await?;
            sent.inc_by(n);
        }
        self.producer.flush().await?;
        info!(
            source = %self.source,
            lines = stats.lines,
            accepted = stats.accepted,
            rejected = stats.rejected_total(),
            "Ingest finished."
        );
        Ok(stats)
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
        let replay = FileReplay {
            reader: tokio::io::BufReader::with_capacity(64, input.as_bytes()),
            source: "file".into(),
            ingestor: Ingestor::new(&s.config.ingest),
            producer: tx,
            batch_size: 1,
            metrics: metrics.clone(),
            limiter: Arc::new(LogLimiter::new(Duration::from_secs(1))),
            now: wall,
            dead_letters: vigil_transport::NoDeadLetters,
        };
        let stats = replay.run(CancellationToken::new()).await.unwrap();
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
            ids.extend(b.into_iter().map(|d| d.value.id.0));
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
}
