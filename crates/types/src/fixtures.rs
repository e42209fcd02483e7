//! Ready-made records for tests and examples (cargo feature `fixtures`,
//! turned on only by dev-dependencies): one plausible spike that each test
//! changes where it looks, instead of a copy of the whole record per test.

use crate::{EventTime, Level, Spike, Transition, WatchId, WindowFigures};

/// A spike of `watch`'s incident `incident` for the one-minute window
/// ending at `end_secs` (seconds since the epoch): 90 posts against a
/// baseline of 3 (z 30), 70% of them negative, "recall" the top term, 3
/// sources; the level is the reason; no sample posts, regions, crisis
/// kinds or evidence.
pub fn spike(
    watch: &str,
    incident: &str,
    transition: Transition,
    level: Level,
    end_secs: i64,
) -> Spike {
    Spike {
        watch: WatchId::from(watch),
        incident: incident.into(),
        transition,
        level,
        triggers: vec![],
        figures: WindowFigures {
            reason: level.as_str().into(),
            window_start: EventTime::from_secs(end_secs - 60),
            window_end: EventTime::from_secs(end_secs),
            observed: 90,
            baseline: 3.0,
            z: 30.0,
            negative_share: 0.7,
            top_terms: vec!["recall".into()],
            distinct_sources: 3,
        },
        sample_post_ids: vec![],
        distinct_regions: 0,
        crisis_kinds: vec![],
        evidence: Default::default(),
    }
}

/// The alert [`spike`] makes (`transition` opened, escalated or resolved:
/// an ongoing spike makes no alert).
pub fn alert(
    watch: &str,
    incident: &str,
    transition: Transition,
    level: Level,
    end_secs: i64,
) -> crate::Alert {
    crate::Alert::from_spike(&spike(watch, incident, transition, level, end_secs))
        .expect("an opened, escalated or resolved spike makes an alert")
}
