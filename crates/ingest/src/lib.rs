//! Vigil's ingest stage: source adapters that turn outside records into
//! normalised [`Post`](vigil_types::Post)s.
//!
//! Two input shapes are accepted, one JSON object per line:
//! - Vigil's own: `{"id", "source", "author", "text", "lang", "region",
//!   "published_at"}` (`published_at` RFC 3339 or epoch milliseconds);
//! - a Twitter/X API v1.1 tweet object: `id_str`, `text` / `full_text` /
//!   `extended_tweet.full_text`, `created_at` (`Thu Apr 30 22:34:06 +0000
//!   2015`), `user.id_str`, `lang`, `place.country_code`.
//!
//! The post's time must be from 1990 on and at most a day after the ingest
//! time (passed in by the caller); anything else is a `bad_time` reject.
//!
//! Author ids are hashed with the deployment salt before a post leaves this
//! crate. Every rejected line gets a [`RejectReason`]; the runner counts it in
//! `vigil_ingest_discarded_posts_total{reason}` and logs it (rate-limited)
//! with its line number.
//!
//! ```
//! use vigil_ingest::{Ingestor, RejectReason};
//! use vigil_types::EventTime;
//! let s = vigil_config::Settings::from_toml_str(
//!     "[[watches]]\nid = \"w\"\nterms = [\"x\"]\n", "t.toml", &[]).unwrap();
//! let mut ing = Ingestor::new(&s.ingest);
//! // The ingest (processing) time: posts dated over a day later are refused.
//! let now = EventTime::parse_rfc3339("2026-11-23T15:00:00Z").unwrap();
//! let post = ing.parse_line(
//!     br#"{"id":"1","text":"hi","published_at":"2026-11-23T14:00:00Z"}"#,
//!     now).unwrap();
//! assert_eq!(&*post.text, "hi");
//! let err = ing.parse_line(b"{oops", now).unwrap_err();
//! assert_eq!(err.reason, RejectReason::InvalidJson);
//! ```
#![deny(missing_docs)]

mod parse;
mod stage;

pub use crate::{
    parse::{parse_twitter_time, Ingestor, Reject, RejectReason, MAX_AHEAD_MS, MIN_PUBLISHED_AT},
    stage::{IngestRunner, IngestStats},
};

/// Ingest runner failures (bad lines are not errors: they are rejects).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// Reading the input failed.
    #[error("reading input: {0}")]
    Read(std::io::Error),
    /// Sending downstream failed.
    #[error(transparent)]
    Transport(#[from] vigil_transport::TransportError),
}
