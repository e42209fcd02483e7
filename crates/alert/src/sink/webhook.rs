//! The `webhook` sink: `POST` of each [`Alert`] as JSON (the same object
//! `stdout` prints, plus a one-line `summary` of its top stories and rising
//! terms when it has them, at most [`SUMMARY_MAX_CHARS`] characters),
//! through the shared [`HttpDelivery`].
//!
//! # Signed requests
//!
//! With `secret` set, every attempt carries two headers, signed the way
//! Stripe signs its webhooks (GitHub's `X-Hub-Signature-256` is the same
//! HMAC without the timestamp):
//!
//! ```text
//! X-Vigil-Timestamp: 1764000000
//! X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, "1764000000" + "." + body)>
//! ```
//!
//! The timestamp is the sending time in Unix seconds, fresh on every retry;
//! the body bytes are the same on every retry. To verify, a receiver:
//!
//! 1. reads `X-Vigil-Timestamp` and the *raw* request body (before any JSON
//!    parsing: re-serialising changes the bytes);
//! 2. computes `HMAC-SHA256(secret, timestamp + "." + body)` and hex-encodes
//!    it (lower case);
//! 3. compares `"sha256=" + hex` with `X-Vigil-Signature` in constant time
//!    (`hmac.compare_digest` in Python, `Mac::verify_slice` in Rust);
//! 4. rejects a timestamp more than a few minutes from its own clock (replay
//!    protection), and may drop repeats by the body's `alert_id`.
//!
//! In Python:
//!
//! ```text
//! mac = hmac.new(secret, ts.encode() + b"." + raw_body, hashlib.sha256).hexdigest()
//! ok = hmac.compare_digest("sha256=" + mac, request.headers["X-Vigil-Signature"])
//! ok = ok and abs(time.time() - int(ts)) < 300
//! ```

use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderValue};
use sha2::Sha256;
use vigil_types::{Alert, EventTime};

use super::{stdout::Tagged, HttpDelivery, SinkError};

/// Header carrying the signing time, Unix seconds.
pub(crate) const TIMESTAMP_HEADER: &str = "x-vigil-timestamp";
/// Header carrying `sha256=<hex>`.
pub(crate) const SIGNATURE_HEADER: &str = "x-vigil-signature";

pub(crate) struct WebhookSink {
    http: HttpDelivery,
    secret: Option<Vec<u8>>,
}

impl WebhookSink {
    pub(crate) fn new(http: HttpDelivery, secret: Option<Vec<u8>>) -> WebhookSink {
        WebhookSink { http, secret }
    }

    /// The alert's body, with `notification` when it is not an alert (a
    /// published status update).
    pub(crate) async fn deliver_tagged(
        &mut self,
        alert: &Alert,
        notification: Option<&str>,
    ) -> Result<(), SinkError> {
        let body = serde_json::to_vec(&Body {
            tagged: Tagged {
                notification,
                alert,
            },
            summary: alert.evidence.summary_line(SUMMARY_MAX_CHARS),
        })?;
        self.http
            .post(&body, |body| match &self.secret {
                None => HeaderMap::new(),
                Some(secret) => signed_headers(secret, unix_secs(), body),
            })
            .await
    }
}

/// Longest `summary` in a webhook body.
pub(crate) const SUMMARY_MAX_CHARS: usize = 1000;

/// The request body: the alert's own fields, plus a one-line `summary` of
/// its top stories and rising terms for receivers that show one line.
#[derive(serde::Serialize)]
struct Body<'a> {
    /// What the stdout sink writes: the alert, marked when not an alert.
    #[serde(flatten)]
    tagged: Tagged<'a>,
    #[serde(skip_serializing_if = "String::is_empty")]
    summary: String,
}

fn unix_secs() -> u64 {
    u64::try_from(EventTime::wall_clock().0 / 1000).unwrap_or(0)
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 2 * digest.len());
    out.push_str("sha256=");
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    out
}

fn signed_headers(secret: &[u8], timestamp: u64, body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
    h.insert(
        SIGNATURE_HEADER,
        HeaderValue::from_str(&signature(secret, timestamp, body))
            .expect("sha256= and hex digits are a valid header value"),
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_openssl() {
        // printf '1764000000.{"alert_id":"x"}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature(b"whsec_test", 1_764_000_000, br#"{"alert_id":"x"}"#),
            "sha256=92b6756fba189cda914cf0d6cd6e7f23a513d809b9cbe26656d7bcb45b47d000"
        );
        let h = signed_headers(b"whsec_test", 1_764_000_000, br#"{"alert_id":"x"}"#);
        assert_eq!(h[TIMESTAMP_HEADER], "1764000000");
        assert_eq!(
            h[SIGNATURE_HEADER],
            "sha256=92b6756fba189cda914cf0d6cd6e7f23a513d809b9cbe26656d7bcb45b47d000"
        );
    }
}
