//! The pure ingest core: one input line to a [`Post`], or a [`Reject`] with a
//! reason from a fixed set.

use std::collections::{HashSet, VecDeque};

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;
use vigil_config::IngestSettings;
use vigil_types::{hash_author, Engagement, EventTime, Post, PostId};

/// Why a line was rejected; the `reason` label of
/// `vigil_ingest_discarded_posts_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Blank line.
    Empty,
    /// Longer than `ingest.max_post_bytes`.
    TooLarge,
    /// Not valid UTF-8.
    NotUtf8,
    /// Not a JSON object.
    InvalidJson,
    /// A required field (id, text, time) is missing or of the wrong type.
    MissingField,
    /// The time field does not parse, or is outside the sane range (before
    /// [`MIN_PUBLISHED_AT`] or more than [`MAX_AHEAD_MS`] after the ingest
    /// time).
    BadTime,
    /// The same (source, id) was seen recently.
    Duplicate,
}

impl RejectReason {
    /// Every reason.
    pub const ALL: [RejectReason; 7] = [
        RejectReason::Empty,
        RejectReason::TooLarge,
        RejectReason::NotUtf8,
        RejectReason::InvalidJson,
        RejectReason::MissingField,
        RejectReason::BadTime,
        RejectReason::Duplicate,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Empty => "empty",
            RejectReason::TooLarge => "too_large",
            RejectReason::NotUtf8 => "not_utf8",
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::MissingField => "missing_field",
            RejectReason::BadTime => "bad_time",
            RejectReason::Duplicate => "duplicate",
        }
    }
}

/// The earliest `published_at` accepted: 1990-01-01T00:00:00Z. Older times
/// are bad data (a zero, a seconds value read as milliseconds), and extreme
/// ones stall event-time windows.
pub const MIN_PUBLISHED_AT: EventTime = EventTime(631_152_000_000);

/// How far after the ingest time a `published_at` may be: one day (clock
/// skew and time zones, not more).
pub const MAX_AHEAD_MS: i64 = 86_400_000;

/// A rejected line: reason plus a human-readable detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// Reason (bounded set).
    pub reason: RejectReason,
    /// Detail for the log (never a metric label).
    pub detail: String,
}

fn reject(reason: RejectReason, detail: impl Into<String>) -> Reject {
    Reject {
        reason,
        detail: detail.into(),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue {
    Text(String),
    Number(u64),
}

impl IdValue {
    fn into_string(self) -> String {
        match self {
            IdValue::Text(s) => s,
            IdValue::Number(n) => n.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct Extended {
    full_text: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id_str: Option<String>,
    id: Option<u64>,
    screen_name: Option<String>,
    followers_count: Option<u64>,
}

/// A tweet's `retweeted_status` or `quoted_status`: only its id matters.
#[derive(Deserialize)]
struct Referenced {
    id_str: Option<String>,
    id: Option<IdValue>,
}

impl Referenced {
    fn id(self) -> Option<String> {
        self.id_str
            .or_else(|| self.id.map(IdValue::into_string))
            .filter(|s| !s.is_empty())
    }
}

#[derive(Deserialize)]
struct Place {
    country_code: Option<String>,
}

/// Fields of both accepted shapes: Vigil's own Post and a Twitter v1.1 tweet.
#[derive(Deserialize)]
struct RawLine {
    id: Option<IdValue>,
    id_str: Option<String>,
    source: Option<Value>,
    author: Option<IdValue>,
    text: Option<String>,
    full_text: Option<String>,
    extended_tweet: Option<Extended>,
    lang: Option<String>,
    region: Option<String>,
    published_at: Option<Value>,
    created_at: Option<String>,
    user: Option<User>,
    place: Option<Place>,
    // Stories and reach (issue 14): tweets' fields, then Vigil's own.
    retweeted_status: Option<Referenced>,
    quoted_status: Option<Referenced>,
    quoted_status_id_str: Option<String>,
    retweet_count: Option<u64>,
    favorite_count: Option<u64>,
    reply_count: Option<u64>,
    repost_of: Option<IdValue>,
    reach: Option<u64>,
    engagement: Option<Engagement>,
    url: Option<String>,
    author_handle: Option<String>,
}

/// Parses Twitter's `created_at` ("Thu Apr 30 22:34:06 +0000 2015").
pub fn parse_twitter_time(s: &str) -> Option<EventTime> {
    DateTime::parse_from_str(s, "%a %b %d %H:%M:%S %z %Y")
        .ok()
        .map(|d| EventTime(d.timestamp_millis()))
}

/// The ingest core: parses lines and drops recent duplicates.
#[derive(Debug)]
pub struct Ingestor {
    max_post_bytes: usize,
    salt: String,
    default_source: String,
    keep_author_handle: bool,
    capacity: usize,
    seen: HashSet<(String, PostId)>,
    order: VecDeque<(String, PostId)>,
}

impl Ingestor {
    /// A parser for the given `[ingest]` section.
    pub fn new(cfg: &IngestSettings) -> Ingestor {
        Ingestor {
            max_post_bytes: cfg.max_post_bytes.get(),
            salt: cfg.author_salt.expose().clone(),
            default_source: cfg.default_source.clone(),
            keep_author_handle: cfg.keep_author_handle,
            capacity: cfg.dedupe_capacity,
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// The longest line accepted, bytes.
    pub fn max_post_bytes(&self) -> usize {
        self.max_post_bytes
    }

    /// Parses one line (without its newline). `now` is the ingest time
    /// (processing time): a post dated more than [`MAX_AHEAD_MS`] after it
    /// is rejected as `bad_time`.
    pub fn parse_line(&mut self, line: &[u8], now: EventTime) -> Result<Post, Reject> {
        let post = self.parse_only(line, now)?;
        if self.capacity > 0 {
            let key = (post.source.clone(), post.id.clone());
            if self.seen.contains(&key) {
                return Err(reject(
                    RejectReason::Duplicate,
                    format!("post `{}` from `{}` already seen", post.id, post.source),
                ));
            }
            if self.order.len() >= self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
            self.seen.insert(key.clone());
            self.order.push_back(key);
        }
        Ok(post)
    }

    /// Parses without the duplicate check.
    pub fn parse_only(&self, line: &[u8], now: EventTime) -> Result<Post, Reject> {
        if line.len() > self.max_post_bytes {
            return Err(reject(
                RejectReason::TooLarge,
                format!("{} bytes, limit {}", line.len(), self.max_post_bytes),
            ));
        }
        let text =
            std::str::from_utf8(line).map_err(|e| reject(RejectReason::NotUtf8, e.to_string()))?;
        // A byte-order mark (files saved by some Windows editors) is not
        // part of the JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(reject(RejectReason::Empty, "blank line"));
        }
        if !trimmed.starts_with('{') {
            return Err(reject(RejectReason::InvalidJson, "not a JSON object"));
        }
        let raw: RawLine = serde_json::from_str(trimmed).map_err(|e| {
            let reason = if e.is_data() {
                RejectReason::MissingField
            } else {
                RejectReason::InvalidJson
            };
            reject(reason, e.to_string())
        })?;
        let is_tweet = raw.created_at.is_some() && raw.published_at.is_none();
        let id = raw
            .id_str
            .or_else(|| raw.id.map(IdValue::into_string))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| reject(RejectReason::MissingField, "no `id` or `id_str`"))?;
        let body = raw
            .extended_tweet
            .and_then(|e| e.full_text)
            .or(raw.full_text)
            .or(raw.text)
            .ok_or_else(|| reject(RejectReason::MissingField, "no `text` or `full_text`"))?;
        let published_at = if is_tweet {
            let s = raw.created_at.as_deref().unwrap_or_default();
            parse_twitter_time(s)
                .ok_or_else(|| reject(RejectReason::BadTime, format!("bad created_at `{s}`")))?
        } else {
            match raw.published_at {
                Some(Value::String(s)) => EventTime::parse_rfc3339(&s).ok_or_else(|| {
                    reject(RejectReason::BadTime, format!("bad published_at `{s}`"))
                })?,
                Some(Value::Number(n)) => EventTime(n.as_i64().ok_or_else(|| {
                    reject(RejectReason::BadTime, format!("bad published_at `{n}`"))
                })?),
                Some(other) => {
                    return Err(reject(
                        RejectReason::BadTime,
                        format!("published_at must be RFC 3339 or milliseconds, got `{other}`"),
                    ))
                }
                None => {
                    return Err(reject(
                        RejectReason::MissingField,
                        "no `published_at` or `created_at`",
                    ))
                }
            }
        };
        if published_at < MIN_PUBLISHED_AT || published_at.0 > now.0.saturating_add(MAX_AHEAD_MS) {
            return Err(reject(
                RejectReason::BadTime,
                format!(
                    "published_at {} ms is outside the accepted range, from 1990-01-01 to one day after the ingest time {now}",
                    published_at.0
                ),
            ));
        }
        let source = if is_tweet {
            self.default_source.clone()
        } else {
            match raw.source {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_ascii_lowercase(),
                _ => self.default_source.clone(),
            }
        };
        let (user_id, screen_name, followers) = match raw.user {
            Some(u) => (
                u.id_str.or_else(|| u.id.map(|n| n.to_string())),
                u.screen_name,
                u.followers_count,
            ),
            None => (None, None, None),
        };
        let raw_author = if is_tweet {
            user_id
        } else {
            raw.author.map(IdValue::into_string)
        }
        .unwrap_or_default();
        let repost_of = raw
            .retweeted_status
            .and_then(Referenced::id)
            .or_else(|| raw.quoted_status.and_then(Referenced::id))
            .or(raw.quoted_status_id_str.filter(|s| !s.is_empty()))
            .or_else(|| raw.repost_of.map(IdValue::into_string))
            .map(PostId::from);
        let engagement = raw.engagement.or_else(|| {
            (raw.retweet_count.is_some()
                || raw.favorite_count.is_some()
                || raw.reply_count.is_some())
            .then(|| Engagement {
                reposts: raw.retweet_count.unwrap_or(0),
                likes: raw.favorite_count.unwrap_or(0),
                replies: raw.reply_count.unwrap_or(0),
            })
        });
        let handle = if self.keep_author_handle {
            raw.author_handle
                .or(screen_name)
                .filter(|h| !h.trim().is_empty())
        } else {
            None
        };
        let url = raw.url.filter(|u| !u.trim().is_empty()).or_else(|| {
            // A tweet's permalink: with its author's handle only when
            // handles are kept, else Twitter's handle-free form.
            is_tweet.then(|| match &handle {
                Some(h) if !h.is_empty() => format!("https://x.com/{h}/status/{id}"),
                _ => format!("https://x.com/i/web/status/{id}"),
            })
        });
        let region = raw
            .region
            .or_else(|| raw.place.and_then(|p| p.country_code))
            .filter(|r| !r.is_empty());
        Ok(Post {
            id: PostId::from(id),
            source,
            author: hash_author(&self.salt, &raw_author),
            text: body.into(),
            lang: raw.lang.filter(|l| !l.is_empty()),
            region,
            published_at,
            ingested_at: now,
            repost_of,
            reach: raw.reach.or(followers),
            engagement,
            url,
            handle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingestor() -> Ingestor {
        let s = vigil_config::Settings::from_toml_str(
            "[[watches]]\nid = \"w\"\nterms = [\"x\"]\n[ingest]\ndedupe_capacity = 2\nmax_post_bytes = 300\n",
            "t.toml",
            &[],
        )
        .unwrap();
        Ingestor::new(&s.ingest)
    }

    /// 2026-12-01T00:00:00Z.
    const NOW: EventTime = EventTime(1_796_083_200_000);

    #[test]
    fn vigil_shape() {
        let mut i = ingestor();
        let p = i
            .parse_line(
                br#"{"id":"p1","source":"Weibo","author":"u1","text":"hello","lang":"zh","published_at":"2026-11-23T14:00:00Z"}"#,
                NOW,
            )
            .unwrap();
        assert_eq!(p.id.as_str(), "p1");
        assert_eq!(p.source, "weibo");
        assert_eq!(
            p.published_at,
            EventTime::parse_rfc3339("2026-11-23T14:00:00Z").unwrap()
        );
        assert_ne!(p.author.as_str(), "u1");
        assert_eq!(p.author, hash_author("vigil-default-salt", "u1"));
        assert_eq!(p.ingested_at, NOW);
        let p = i
            .parse_line(br#"{"id":7,"text":"t","published_at":1700000000000}"#, NOW)
            .unwrap();
        assert_eq!(p.id.as_str(), "7");
        assert_eq!(p.source, "x");
        assert_eq!(p.published_at, EventTime(1_700_000_000_000));
    }

    #[test]
    fn a_leading_byte_order_mark_is_accepted() {
        let mut i = ingestor();
        let p = i
            .parse_line(
                b"\xef\xbb\xbf{\"id\":\"bom\",\"text\":\"t\",\"published_at\":1700000000000}",
                NOW,
            )
            .unwrap();
        assert_eq!(p.id.as_str(), "bom");
        assert_eq!(
            i.parse_line(b"\xef\xbb\xbf", NOW).unwrap_err().reason,
            RejectReason::Empty
        );
    }

    #[test]
    fn tweet_shape() {
        let mut i = ingestor();
        let line = br#"{"created_at":"Thu Apr 30 22:34:06 +0000 2015","id":1,"id_str":"593","text":"short","extended_tweet":{"full_text":"the long text"},"source":"<a href=\"x\">app</a>","user":{"id":9,"id_str":"9"},"lang":"en","place":{"country_code":"US"}}"#;
        let p = i.parse_line(line, NOW).unwrap();
        assert_eq!(p.id.as_str(), "593");
        assert_eq!(&*p.text, "the long text");
        assert_eq!(p.source, "x");
        assert_eq!(p.region.as_deref(), Some("US"));
        assert_eq!(p.author, hash_author("vigil-default-salt", "9"));
        assert_eq!(p.published_at.to_rfc3339(), "2015-04-30T22:34:06.000Z");
        let p = i
            .parse_line(
                br#"{"created_at":"Wed May 05 19:41:42 +0000 2021","id_str":"2","full_text":"ft","user":{"id_str":"3"}}"#,
                NOW,
            )
            .unwrap();
        assert_eq!(&*p.text, "ft");
    }

    #[test]
    fn rejects_have_reasons() {
        let mut i = ingestor();
        let cases: &[(&[u8], RejectReason)] = &[
            (b"", RejectReason::Empty),
            (b"   ", RejectReason::Empty),
            (b"\xff\xfe{}", RejectReason::NotUtf8),
            (b"not json", RejectReason::InvalidJson),
            (b"{\"id\":\"1\",", RejectReason::InvalidJson),
            (b"[1,2]", RejectReason::InvalidJson),
            (
                b"{\"text\":\"t\",\"published_at\":1}",
                RejectReason::MissingField,
            ),
            (
                b"{\"id\":\"1\",\"published_at\":1}",
                RejectReason::MissingField,
            ),
            (b"{\"id\":\"1\",\"text\":\"t\"}", RejectReason::MissingField),
            (
                b"{\"id\":\"1\",\"text\":5,\"published_at\":1}",
                RejectReason::MissingField,
            ),
            (
                b"{\"id\":\"1\",\"text\":\"t\",\"published_at\":\"yesterday\"}",
                RejectReason::BadTime,
            ),
            (
                b"{\"id\":\"1\",\"text\":\"t\",\"published_at\":true}",
                RejectReason::BadTime,
            ),
            (
                b"{\"id_str\":\"1\",\"text\":\"t\",\"created_at\":\"Thu 30 Apr\"}",
                RejectReason::BadTime,
            ),
        ];
        for (line, want) in cases {
            let got = i.parse_line(line, NOW).unwrap_err();
            assert_eq!(
                got.reason,
                *want,
                "{:?}: {}",
                String::from_utf8_lossy(line),
                got.detail
            );
        }
        let big = format!(
            "{{\"id\":\"1\",\"text\":\"{}\",\"published_at\":1}}",
            "a".repeat(400)
        );
        assert_eq!(
            i.parse_line(big.as_bytes(), NOW).unwrap_err().reason,
            RejectReason::TooLarge
        );
    }

    #[test]
    fn times_outside_the_sane_range_are_bad_time() {
        let mut i = ingestor();
        let line = |t: &str| {
            let id = t.replace('"', "");
            format!("{{\"id\":\"{id}\",\"text\":\"t\",\"published_at\":{t}}}")
        };
        let day = 86_400_000;
        for t in [
            i64::MIN.to_string(),
            "-1".into(),
            "0".into(),
            "1".into(),
            (MIN_PUBLISHED_AT.0 - 1).to_string(),
            (NOW.0 + day + 1).to_string(),
            i64::MAX.to_string(),
            "\"1989-12-31T23:59:59Z\"".into(),
            "\"2026-12-02T00:00:00.001Z\"".into(),
            "\"9999-12-31T23:59:59Z\"".into(),
        ] {
            let got = i.parse_line(line(&t).as_bytes(), NOW).unwrap_err();
            assert_eq!(got.reason, RejectReason::BadTime, "{t}: {}", got.detail);
            assert!(got.detail.contains("1990-01-01"), "{}", got.detail);
        }
        let tweet = br#"{"created_at":"Sun Dec 31 23:59:59 +0000 1989","id_str":"t","text":"t"}"#;
        assert_eq!(
            i.parse_line(tweet, NOW).unwrap_err().reason,
            RejectReason::BadTime
        );
        // The bounds themselves are accepted.
        for t in [MIN_PUBLISHED_AT.0, NOW.0, NOW.0 + day] {
            let p = i.parse_line(line(&t.to_string()).as_bytes(), NOW).unwrap();
            assert_eq!(p.published_at, EventTime(t));
        }
    }

    #[test]
    fn reposts_reach_engagement_and_links_from_both_shapes() {
        let tweet = br#"{"id_str":"20","created_at":"Thu Apr 30 22:34:06 +0000 2026","text":"RT @dana: my acme blender exploded","user":{"id_str":"9","screen_name":"fan_1","followers_count":1200},"retweeted_status":{"id_str":"10"},"retweet_count":40,"favorite_count":3}"#;
        let p = ingestor().parse_only(tweet, NOW).unwrap();
        assert_eq!(p.repost_of, Some(PostId::from("10")));
        assert_eq!(p.reach, Some(1200));
        assert_eq!(
            p.engagement,
            Some(Engagement {
                reposts: 40,
                likes: 3,
                replies: 0
            })
        );
        // Handles are not kept by default: not on the post, not in its link.
        assert_eq!(p.handle, None);
        assert_eq!(p.url.as_deref(), Some("https://x.com/i/web/status/20"));
        let s = vigil_config::Settings::from_toml_str(
            "[[watches]]\nid = \"w\"\nterms = [\"x\"]\n[ingest]\nkeep_author_handle = true\n",
            "t.toml",
            &[],
        )
        .unwrap();
        let keep = Ingestor::new(&s.ingest);
        let p = keep.parse_only(tweet, NOW).unwrap();
        assert_eq!(p.handle.as_deref(), Some("fan_1"));
        assert_eq!(p.url.as_deref(), Some("https://x.com/fan_1/status/20"));
        let quote = br#"{"id_str":"21","created_at":"Thu Apr 30 22:34:06 +0000 2026","text":"this!","quoted_status_id_str":"10"}"#;
        assert_eq!(
            ingestor().parse_only(quote, NOW).unwrap().repost_of,
            Some(PostId::from("10"))
        );
        let own = br#"{"id":"w1","source":"weibo","author":"u1","author_handle":"xiaowang","text":"forward","published_at":1700000000000,"repost_of":"w0","reach":50,"engagement":{"likes":2},"url":"https://weibo.example/w1"}"#;
        let p = keep.parse_only(own, NOW).unwrap();
        assert_eq!(p.repost_of, Some(PostId::from("w0")));
        assert_eq!(p.reach, Some(50));
        assert_eq!(p.engagement.map(|e| e.total()), Some(2));
        assert_eq!(p.url.as_deref(), Some("https://weibo.example/w1"));
        assert_eq!(p.handle.as_deref(), Some("xiaowang"));
        let p = ingestor().parse_only(own, NOW).unwrap();
        assert_eq!(p.handle, None);
        // Without these fields, nothing changes.
        let bare = br#"{"id":"w2","text":"t","published_at":1700000000000}"#;
        let p = ingestor().parse_only(bare, NOW).unwrap();
        assert_eq!(
            (p.repost_of, p.reach, p.engagement, p.url, p.handle),
            (None, None, None, None, None)
        );
    }

    #[test]
    fn duplicates_are_dropped_within_capacity() {
        let mut i = ingestor();
        let l =
            |id: &str| format!("{{\"id\":\"{id}\",\"text\":\"t\",\"published_at\":1700000000000}}");
        assert!(i.parse_line(l("a").as_bytes(), NOW).is_ok());
        assert_eq!(
            i.parse_line(l("a").as_bytes(), NOW).unwrap_err().reason,
            RejectReason::Duplicate
        );
        assert!(i.parse_line(l("b").as_bytes(), NOW).is_ok());
        assert!(i.parse_line(l("c").as_bytes(), NOW).is_ok());
        // Capacity 2: "a" has been forgotten.
        assert!(i.parse_line(l("a").as_bytes(), NOW).is_ok());
    }

    #[test]
    fn real_tweets_from_shared_data_parse() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/tweet-json/tweepy_v1_tweets.jsonl");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!(
                "SKIP: {} is absent (../shared/data not beside the repo)",
                path.display()
            );
            return;
        };
        let s = vigil_config::Settings::from_toml_str(
            "[[watches]]\nid = \"w\"\nterms = [\"x\"]\n",
            "t.toml",
            &[],
        )
        .unwrap();
        let mut i = Ingestor::new(&s.ingest);
        let (mut n, mut reposts, mut with_reach) = (0, 0, 0);
        for line in text.lines() {
            let p = i
                .parse_line(line.as_bytes(), NOW)
                .unwrap_or_else(|r| panic!("{r:?}"));
            assert!(p.published_at.0 > 1_000_000_000_000);
            assert!(p.handle.is_none(), "handles are not kept by default");
            assert!(p
                .url
                .as_deref()
                .unwrap()
                .starts_with("https://x.com/i/web/status/"));
            n += 1;
            reposts += usize::from(p.repost_of.is_some());
            with_reach += usize::from(p.reach.is_some());
        }
        assert_eq!(n, 158);
        // 33 retweets and 4 quotes in the file (one may be both).
        assert!((33..=37).contains(&reposts), "{reposts} reposts");
        assert_eq!(with_reach, 158);
    }
}
