//! Alert sinks: where alerts go.
//!
//! | `type` | what it sends |
//! |---|---|
//! | `stdout` | one JSON [`Alert`] per line on standard output (no retries) |
//! | `webhook` | `POST` of the [`Alert`] as JSON, optionally signed with HMAC-SHA256 (see `webhook.rs`) |
//! | `slack` | `POST` of a Slack incoming-webhook message: mrkdwn `text` plus Block Kit `blocks` |
//! | `alertmanager` | `POST <url>/api/v2/alerts`: one Alertmanager alert per incident, resolved via `endsAt` |
//!
//! Every sink has a name (its configured `name`, else its type), unique
//! across sinks: it is the `sink` metric label and what an escalation policy
//! refers to.
//!
//! The HTTP sinks share one delivery mechanism, [`HttpDelivery`]: a
//! per-request timeout; retries on timeouts, connection errors, 5xx and 429,
//! after a capped exponential backoff (`backoff_initial_ms`, doubling, at
//! most `backoff_max_ms`, longer when a 429/503 asks so with `Retry-After`,
//! still capped); at most `max_retries` retries. Any other status (4xx but
//! 429, or a redirect) fails at once with [`SinkError::Rejected`], since
//! sending the same bytes again gives the same answer. The caller counts a
//! failure once, after the retries (`vigil_alert_failed_alerts_total{sink}`).

mod alertmanager;
mod slack;
mod stdout;
mod webhook;

use std::{fmt, time::Duration};

use reqwest::{
    header::{HeaderMap, CONTENT_TYPE},
    StatusCode,
};
use tokio::io::AsyncWrite;
use tracing::warn;
use vigil_config::{Delivery, SinkConfig};
use vigil_incidents::{Notification, NotifyReason};
use vigil_types::{Alert, ErrorClass};

use self::{
    alertmanager::AlertmanagerSink, slack::SlackSink, stdout::LinesSink, webhook::WebhookSink,
};

/// Why one HTTP attempt failed in a way worth retrying.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptError {
    /// No complete response within the sink's `timeout_ms`.
    TimedOut(Duration),
    /// Connecting, sending or reading failed (the error chain, URL removed).
    Connection(String),
    /// The receiver answered with a retryable status (5xx or 429).
    Status(u16),
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptError::TimedOut(t) => write!(f, "timed out after {} ms", t.as_millis()),
            AttemptError::Connection(e) => write!(f, "connection failed: {e}"),
            AttemptError::Status(s) => write!(f, "HTTP {s}"),
        }
    }
}

/// A sink failure (after its retries, for the HTTP sinks).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Writing failed.
    #[error("writing alert: {0}")]
    Write(#[from] std::io::Error),
    /// The alert could not be serialised (a bug).
    #[error("serialising alert: {0}")]
    Encode(#[from] serde_json::Error),
    /// The HTTP client could not be built (at startup).
    #[error("sink `{sink}`: building the HTTP client: {source}")]
    Client {
        /// Sink name.
        sink: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The request could not be made at all (a malformed URL): not retried.
    #[error("sink `{sink}`: cannot send the request: {detail}")]
    InvalidRequest {
        /// Sink name.
        sink: String,
        /// Why.
        detail: String,
    },
    /// The receiver refused the alert with a status that retrying cannot
    /// change (4xx other than 429, or a redirect): not retried.
    #[error("sink `{sink}`: the receiver rejected the alert with HTTP {status} (not retried){}", fmt_body(.body))]
    Rejected {
        /// Sink name.
        sink: String,
        /// HTTP status.
        status: u16,
        /// The start of the response body (Slack explains its 400s there).
        body: String,
    },
    /// Every attempt failed with a retryable error.
    #[error("sink `{sink}`: gave up after {attempts} attempt(s); last: {last}")]
    GaveUp {
        /// Sink name.
        sink: String,
        /// Attempts made (`max_retries + 1`).
        attempts: u32,
        /// The last attempt's failure.
        last: AttemptError,
    },
}

fn fmt_body(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

impl SinkError {
    /// Error class (the `error_type` label).
    pub fn class(&self) -> ErrorClass {
        match self {
            SinkError::Encode(_) => ErrorClass::Internal,
            SinkError::Write(_)
            | SinkError::Client { .. }
            | SinkError::InvalidRequest { .. }
            | SinkError::Rejected { .. }
            | SinkError::GaveUp { .. } => ErrorClass::External,
        }
    }
}

/// A configured sink. Build one with [`Sink::from_config`] (or all of them
/// with [`build_sinks`]).
pub struct Sink {
    name: String,
    inner: Inner,
}

enum Inner {
    Lines(LinesSink),
    Webhook(WebhookSink),
    Slack(SlackSink),
    Alertmanager(AlertmanagerSink),
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL or the secret.
        f.debug_struct("Sink")
            .field("name", &self.name)
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl Sink {
    /// Builds the sink a `[[alert.sinks]]` entry describes; `stdout` writes
    /// to the process's standard output.
    pub fn from_config(c: &SinkConfig) -> Result<Sink, SinkError> {
        let name = c.name().to_string();
        let http = |url: &str| {
            let d = c
                .delivery()
                .expect("every HTTP sink config has delivery options");
            HttpDelivery::new(&name, url.to_string(), &d)
        };
        let inner = match c {
            SinkConfig::Stdout(_) => Inner::Lines(LinesSink::new(Box::new(tokio::io::stdout()))),
            SinkConfig::Webhook(w) => Inner::Webhook(WebhookSink::new(
                http(w.url.expose())?,
                w.secret.as_ref().map(|s| s.expose().as_bytes().to_vec()),
            )),
            SinkConfig::Slack(s) => Inner::Slack(SlackSink::new(http(s.url.expose())?)),
            SinkConfig::Alertmanager(a) => {
                let url = format!("{}/api/v2/alerts", a.url.expose().trim_end_matches('/'));
                Inner::Alertmanager(AlertmanagerSink::new(
                    http(&url)?,
                    a.generator_url.clone(),
                    Duration::from_secs(a.firing_ttl_secs),
                ))
            }
        };
        Ok(Sink { name, inner })
    }

    /// A sink writing one JSON alert per line to `writer` (what `stdout`
    /// is, for any writer).
    pub fn lines(name: impl Into<String>, writer: Box<dyn AsyncWrite + Send + Unpin>) -> Sink {
        Sink {
            name: name.into(),
            inner: Inner::Lines(LinesSink::new(writer)),
        }
    }

    /// The sink's name: the `sink` metric label, unique across sinks.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sink's `type`: `stdout`, `webhook`, `slack` or `alertmanager`.
    pub fn kind(&self) -> &'static str {
        match self.inner {
            Inner::Lines(_) => "stdout",
            Inner::Webhook(_) => "webhook",
            Inner::Slack(_) => "slack",
            Inner::Alertmanager(_) => "alertmanager",
        }
    }

    /// Delivers one alert, with retries for the HTTP sinks; an error means
    /// the alert did not reach this sink.
    pub async fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError> {
        match &mut self.inner {
            Inner::Lines(s) => s.deliver_tagged(alert, None).await,
            Inner::Webhook(s) => s.deliver_tagged(alert, None).await,
            Inner::Slack(s) => s.deliver(alert).await,
            Inner::Alertmanager(s) => s.deliver(alert).await,
        }
    }

    /// Delivers one notification: an alert as [`deliver`](Self::deliver)
    /// does, except a published status update (reason `status_update`),
    /// which is written for people: a statement in Slack, the alert JSON
    /// marked `"notification": "status_update"` for `stdout` and
    /// `webhook`, and nothing for Alertmanager, which holds alerts, not
    /// statements.
    pub async fn deliver_notification(&mut self, n: &Notification) -> Result<(), SinkError> {
        if n.reason != NotifyReason::StatusUpdate {
            return self.deliver(&n.alert).await;
        }
        let tag = Some(NotifyReason::StatusUpdate.as_str());
        match &mut self.inner {
            Inner::Lines(s) => s.deliver_tagged(&n.alert, tag).await,
            Inner::Webhook(s) => s.deliver_tagged(&n.alert, tag).await,
            Inner::Slack(s) => s.deliver_status(&n.alert).await,
            Inner::Alertmanager(_) => Ok(()),
        }
    }

    /// Flushes buffered output (only `stdout` buffers).
    pub async fn flush(&mut self) -> Result<(), SinkError> {
        match &mut self.inner {
            Inner::Lines(s) => s.flush().await,
            Inner::Webhook(_) | Inner::Slack(_) | Inner::Alertmanager(_) => Ok(()),
        }
    }
}

/// Builds the configured sinks, in configuration order.
pub fn build_sinks(configs: &[SinkConfig]) -> Result<Vec<Sink>, SinkError> {
    configs.iter().map(Sink::from_config).collect()
}

pub(crate) use vigil_transport::backoff;

/// Most bytes of an error response body kept for the error message.
const BODY_EXCERPT_BYTES: usize = 512;

/// The delivery mechanism every HTTP sink shares: POST JSON with a timeout,
/// capped retries and capped exponential backoff (see the module docs).
pub(crate) struct HttpDelivery {
    sink: String,
    client: reqwest::Client,
    url: String,
    timeout: Duration,
    max_retries: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
}

impl HttpDelivery {
    pub(crate) fn new(sink: &str, url: String, d: &Delivery) -> Result<HttpDelivery, SinkError> {
        let timeout = Duration::from_millis(d.timeout_ms);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| SinkError::Client {
                sink: sink.to_string(),
                source,
            })?;
        Ok(HttpDelivery {
            sink: sink.to_string(),
            client,
            url,
            timeout,
            max_retries: d.max_retries,
            backoff_initial: Duration::from_millis(d.backoff_initial_ms),
            backoff_max: Duration::from_millis(d.backoff_max_ms),
        })
    }

    /// POSTs `body` as `application/json`, with the headers `headers(body)`
    /// returns (called once per attempt, so a signature carries the attempt's
    /// own timestamp). Every attempt sends the same body bytes.
    pub(crate) async fn post(
        &self,
        body: &[u8],
        headers: impl Fn(&[u8]) -> HeaderMap,
    ) -> Result<(), SinkError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let sent = self
                .client
                .post(&self.url)
                .header(CONTENT_TYPE, "application/json")
                .headers(headers(body))
                .body(body.to_vec())
                .send()
                .await;
            let mut retry_after = Duration::ZERO;
            let failure = match sent {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) if retryable(resp.status()) => {
                    retry_after = parse_retry_after(resp.headers());
                    AttemptError::Status(resp.status().as_u16())
                }
                Ok(resp) => {
                    return Err(SinkError::Rejected {
                        sink: self.sink.clone(),
                        status: resp.status().as_u16(),
                        body: body_excerpt(resp).await,
                    })
                }
                Err(e) if e.is_builder() => {
                    return Err(SinkError::InvalidRequest {
                        sink: self.sink.clone(),
                        detail: error_chain(&e.without_url()),
                    })
                }
                Err(e) if e.is_timeout() => AttemptError::TimedOut(self.timeout),
                Err(e) => AttemptError::Connection(error_chain(&e.without_url())),
            };
            if attempt > self.max_retries {
                return Err(SinkError::GaveUp {
                    sink: self.sink.clone(),
                    attempts: attempt,
                    last: failure,
                });
            }
            let delay = backoff(attempt, self.backoff_initial, self.backoff_max)
                .max(retry_after)
                .min(self.backoff_max);
            warn!(
                sink = %self.sink,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %failure,
                "Alert delivery failed; retrying."
            );
            tokio::time::sleep(delay).await;
        }
    }
}

/// 5xx and 429 may succeed later; anything else will not.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// `Retry-After` in whole seconds (the HTTP-date form is ignored).
fn parse_retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::ZERO)
}

/// The first [`BODY_EXCERPT_BYTES`] of a response body, as text.
async fn body_excerpt(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < BODY_EXCERPT_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    buf.truncate(BODY_EXCERPT_BYTES);
    String::from_utf8_lossy(&buf).trim().to_string()
}

/// An error and its sources, `: `-separated (reqwest's own message alone is
/// "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_5xx_and_429_are_retried() {
        for (code, want) in [
            (500, true),
            (502, true),
            (503, true),
            (429, true),
            (400, false),
            (401, false),
            (404, false),
            (410, false),
            (301, false),
        ] {
            let s = StatusCode::from_u16(code).unwrap();
            assert_eq!(retryable(s), want, "{code}");
        }
    }

    #[test]
    fn retry_after_seconds_are_read() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h), Duration::ZERO);
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Duration::from_secs(3));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h), Duration::ZERO);
    }

    #[test]
    fn errors_say_which_sink_and_what_happened() {
        let e = SinkError::Rejected {
            sink: "slack".into(),
            status: 400,
            body: "invalid_payload".into(),
        };
        assert_eq!(
            e.to_string(),
            "sink `slack`: the receiver rejected the alert with HTTP 400 (not retried): invalid_payload"
        );
        let e = SinkError::GaveUp {
            sink: "hook".into(),
            attempts: 3,
            last: AttemptError::TimedOut(Duration::from_millis(250)),
        };
        assert_eq!(
            e.to_string(),
            "sink `hook`: gave up after 3 attempt(s); last: timed out after 250 ms"
        );
        assert_eq!(e.class(), ErrorClass::External);
    }

    #[test]
    fn sinks_are_send() {
        fn send<T: Send>() {}
        send::<Sink>();
        send::<SinkError>();
        fn sync<T: Send + Sync>() {}
        sync::<SinkError>();
    }
}
