//! Records and ids that cross Vigil's stage boundaries.
//!
//! Every stream between two stages carries one record type from this crate:
//!
//! | stream   | record        | key        |
//! |----------|---------------|------------|
//! | `posts`  | [`Post`]      | post id    |
//! | `scored` | [`Scored`]: a [`ScoredPost`] or a [`StreamClock`] | watch id (a clock: every partition) |
//! | `spikes` | [`Spike`]     | watch id   |
//! | `alerts` | [`Alert`]     | watch id   |
//!
//! The crate is serde only: no I/O, no async. Time is event time in UTC
//! ([`EventTime`]); the stages never read the wall clock for windowing.
//!
//! ```
//! use vigil_types::{Level, AlertId};
//! assert!(Level::Major > Level::Minor);
//! let a = AlertId::derive("acme", "acme-1", "opened", Level::Minor);
//! let b = AlertId::derive("acme", "acme-1", "opened", Level::Minor);
//! assert_eq!(a, b);
//! ```
#![deny(missing_docs)]

mod error;
mod evidence;
#[cfg(feature = "fixtures")]
pub mod fixtures;
mod ids;
mod records;

pub use crate::{
    error::ErrorClass,
    evidence::{
        excerpt, excerpt_arc, same_story, summary_line, Engagement, Evidence, RisingTerm,
        SamplePost, Story, EXCERPT_CHARS, STORY_BITS,
    },
    ids::{hash_author, AlertId, AuthorId, IncidentId, PostId, WatchId},
    records::{
        Alert, CrisisKind, EventTime, Hit, KindHit, Level, Post, PostGist, Scored, ScoredPost,
        Spike, StreamClock, Transition, Trigger, WindowFigures,
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_clock_and_a_post_share_the_scored_stream() {
        let c = Scored::Clock(StreamClock {
            clock: EventTime(1_700_000_000_000),
            first: Some(EventTime(1_699_999_999_000)),
            origin_partition: Some(2),
        });
        let j = serde_json::to_string(&c).unwrap();
        assert!(j.starts_with("{\"clock\":"), "{j}");
        assert_eq!(serde_json::from_str::<Scored>(&j).unwrap(), c);
        // Neither shape is taken for the other.
        assert!(serde_json::from_str::<Scored>("{\"clock\":1,\"post_id\":\"x\"}").is_err());
    }

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<Post>();
        assert_send_sync::<ScoredPost>();
        assert_send_sync::<Scored>();
        assert_send_sync::<Spike>();
        assert_send_sync::<Alert>();
        assert_send_sync::<AlertId>();
    }

    #[test]
    fn level_orders_and_parses() {
        assert!(Level::Minor < Level::Moderate && Level::Moderate < Level::Major);
        for l in [Level::Minor, Level::Moderate, Level::Major] {
            assert_eq!(l.as_str().parse::<Level>().unwrap(), l);
        }
        assert!("severe".parse::<Level>().is_err());
    }

    #[test]
    fn alert_id_is_stable_and_distinct() {
        let a = AlertId::derive("w", "w-1", "opened", Level::Minor);
        assert_eq!(a, AlertId::derive("w", "w-1", "opened", Level::Minor));
        assert_ne!(a, AlertId::derive("w", "w-1", "escalated", Level::Minor));
        assert_ne!(a, AlertId::derive("w", "w-1", "opened", Level::Major));
        assert_ne!(a, AlertId::derive("w", "w-2", "opened", Level::Minor));
        assert_eq!(a.as_str().len(), 32);
    }

    #[test]
    fn author_hash_hides_the_id() {
        let h = hash_author("salt", "12345");
        assert_ne!(h.as_str(), "12345");
        assert_eq!(h, hash_author("salt", "12345"));
        assert_ne!(h, hash_author("other", "12345"));
    }

    #[test]
    fn kinds_round_trip() {
        for k in CrisisKind::ALL {
            assert_eq!(k.as_str().parse::<CrisisKind>().unwrap(), k);
            let j = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<CrisisKind>(&j).unwrap(), k);
        }
    }
}
