//! Alert sinks: JSON lines to a writer (stdout) and an HTTP webhook.

use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracing::warn;
use vigil_config::{SinkConfig, WebhookConfig};
use vigil_types::{Alert, ErrorClass};

/// A sink failure after its retries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Writing failed.
    #[error("writing alert: {0}")]
    Write(#[from] std::io::Error),
    /// The webhook failed on every attempt.
    #[error("webhook gave up after {attempts} attempts: {last}")]
    Webhook {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The alert could not be serialised (a bug).
    #[error("serialising alert: {0}")]
    Encode(#[from] serde_json::Error),
}

impl SinkError {
    /// Error class (the `error_type` label).
    pub fn class(&self) -> ErrorClass {
        match self {
            SinkError::Encode(_) => ErrorClass::Internal,
            SinkError::Write(_) | SinkError::Webhook { .. } => ErrorClass::External,
        }
    }
}

/// A configured sink.
pub enum Sink {
    /// JSON lines to a writer.
    Lines {
        /// The `sink` label (`stdout`).
        name: &'static str,
        /// Where lines go.
        writer: Box<dyn AsyncWrite + Send + Unpin>,
    },
    /// HTTP POST of each alert as JSON.
    Webhook(WebhookSink),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sink::Lines { name, .. } => write!(f, "Sink::Lines({name})"),
            Sink::Webhook(_) => f.write_str("Sink::Webhook"),
        }
    }
}

/// The webhook sink.
#[derive(Debug)]
pub struct WebhookSink {
    client: reqwest::Client,
    url: String,
    max_retries: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
}

impl WebhookSink {
    /// From its config section.
    pub fn new(c: &WebhookConfig) -> Result<WebhookSink, reqwest::Error> {
        Ok(WebhookSink {
            client: reqwest::Client::builder()
                .timeout(Duration::from_millis(c.timeout_ms))
                .build()?,
            url: c.url.expose().clone(),
            max_retries: c.max_retries,
            backoff_initial: Duration::from_millis(c.backoff_initial_ms),
            backoff_max: Duration::from_millis(c.backoff_max_ms),
        })
    }

    async fn post(&self, body: &[u8]) -> Result<(), SinkError> {
        let mut delay = self.backoff_initial;
        let mut last = String::new();
        for attempt in 0..=self.max_retries {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.backoff_max);
            }
            let r = self
                .client
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec())
                .send()
                .await;
            match r {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) if resp.status().is_client_error() && resp.status().as_u16() != 429 => {
                    // 4xx (but 429) will not change on retry.
                    return Err(SinkError::Webhook {
                        attempts: attempt + 1,
                        last: format!("HTTP {}", resp.status()),
                    });
                }
                Ok(resp) => last = format!("HTTP {}", resp.status()),
                Err(e) => last = e.without_url().to_string(),
            }
            warn!(attempt = attempt + 1, error = %last, "Webhook delivery failed; retrying.");
        }
        Err(SinkError::Webhook {
            attempts: self.max_retries + 1,
            last,
        })
    }
}

impl Sink {
    /// The `sink` label.
    pub fn name(&self) -> &'static str {
        match self {
            Sink::Lines { name, .. } => name,
            Sink::Webhook(_) => "webhook",
        }
    }

    /// Delivers one alert (with retries, for the webhook).
    pub async fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError> {
        match self {
            Sink::Lines { writer, .. } => {
                let mut line = serde_json::to_vec(alert)?;
                line.push(b'\n');
                writer.write_all(&line).await?;
                Ok(())
            }
            Sink::Webhook(w) => w.post(&serde_json::to_vec(alert)?).await,
        }
    }

    /// Flushes buffered output.
    pub async fn flush(&mut self) -> Result<(), SinkError> {
        if let Sink::Lines { writer, .. } = self {
            writer.flush().await?;
        }
        Ok(())
    }
}

/// Builds the configured sinks; `stdout` writes to the process's stdout.
pub fn build_sinks(configs: &[SinkConfig]) -> Result<Vec<Sink>, reqwest::Error> {
    configs
        .iter()
        .map(|c| match c {
            SinkConfig::Stdout => Ok(Sink::Lines {
                name: "stdout",
                writer: Box::new(tokio::io::stdout()),
            }),
            SinkConfig::Webhook(w) => WebhookSink::new(w).map(Sink::Webhook),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex,
    };
    use vigil_types::{AlertId, EventTime, IncidentState, Level, WatchId};

    fn alert() -> Alert {
        Alert {
            alert_id: AlertId::derive("w", "w-1", "opened", Level::Major),
            watch: WatchId::from("w"),
            incident: "w-1".into(),
            level: Level::Major,
            state: IncidentState::Opened,
            triggers: vec![],
            reason: "major: impact".into(),
            window_start: EventTime(0),
            window_end: EventTime(60_000),
            observed: 30,
            baseline: 3.0,
            z: 9.0,
            negative_share: 0.5,
            top_terms: vec!["recall".into()],
            sample_post_ids: vec![],
            distinct_sources: 2,
            crisis_kinds: vec![],
        }
    }

    /// A real HTTP receiver on 127.0.0.1 that fails the first `fail_first`
    /// requests with 503 and records every body.
    async fn receiver(fail_first: u32) -> (String, Arc<Mutex<Vec<Vec<u8>>>>, Arc<AtomicU32>) {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(AtomicU32::new(0));
        let (b, c) = (bodies.clone(), calls.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (b, c) = (b.clone(), c.clone());
                async move {
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    b.lock().unwrap().push(body.to_vec());
                    if n < fail_first {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/hook"), bodies, calls)
    }

    fn webhook(url: &str, retries: u32) -> Sink {
        Sink::Webhook(
            WebhookSink::new(&WebhookConfig {
                url: vigil_config::Sensitive(url.to_string()),
                timeout_ms: 2000,
                max_retries: retries,
                backoff_initial_ms: 1,
                backoff_max_ms: 4,
            })
            .unwrap(),
        )
    }

    #[tokio::test]
    async fn webhook_posts_the_alert_json() {
        let (url, bodies, _) = receiver(0).await;
        let mut s = webhook(&url, 0);
        s.deliver(&alert()).await.unwrap();
        let got = bodies.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let back: Alert = serde_json::from_slice(&got[0]).unwrap();
        assert_eq!(back, alert());
    }

    #[tokio::test]
    async fn webhook_retries_then_succeeds() {
        let (url, bodies, calls) = receiver(2).await;
        let mut s = webhook(&url, 3);
        s.deliver(&alert()).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let got = bodies.lock().unwrap();
        assert!(
            got.iter().all(|b| b == &got[0]),
            "every retry sends the same bytes"
        );
    }

    #[tokio::test]
    async fn webhook_gives_up_after_retries() {
        let (url, _, calls) = receiver(100).await;
        let mut s = webhook(&url, 2);
        let e = s.deliver(&alert()).await.unwrap_err();
        assert!(matches!(e, SinkError::Webhook { attempts: 3, .. }), "{e}");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(e.class(), ErrorClass::External);
    }

    #[tokio::test]
    async fn unreachable_webhook_fails_cleanly() {
        // Bind then drop a listener to get a closed local port.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut s = webhook(&format!("http://127.0.0.1:{port}/x"), 1);
        assert!(s.deliver(&alert()).await.is_err());
    }

    #[tokio::test]
    async fn lines_sink_writes_one_json_line_per_alert() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut s = Sink::Lines {
            name: "stdout",
            writer: Box::new(client),
        };
        s.deliver(&alert()).await.unwrap();
        s.deliver(&alert()).await.unwrap();
        s.flush().await.unwrap();
        drop(s);
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut server, &mut out)
            .await
            .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(serde_json::from_str::<Alert>(lines[0]).unwrap(), alert());
    }
}
