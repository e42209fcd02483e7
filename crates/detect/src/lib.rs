//! Vigil's detect stage: per-watch event-time sliding windows over fixed
//! bins, a global watermark (newest event time minus the allowed lateness),
//! an EWMA baseline, spike triggers (volume z-score with a minimum count, an
//! absolute floor during warm-up, a negative-share surge), grading into
//! minor / moderate / major, and one incident per watch (opened, escalated,
//! resolved after quiet).
//!
//! The core ([`Detector`]) is pure: time is an input. [`run_detect`] is the
//! thin async runner. See docs/DESIGN-detect.md for the statistic.
//!
//! ```
//! use vigil_detect::Detector;
//! let settings = vigil_config::Settings::from_toml_str(
//!     "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n", "t.toml", &[]).unwrap();
//! let mut d = Detector::new(&settings);
//! assert!(d.watermark().is_none());
//! let (mut spikes, mut updates) = (Vec::new(), Vec::new());
//! d.advance(&mut spikes, &mut updates);
//! assert!(spikes.is_empty());
//! ```
#![deny(missing_docs)]

mod detector;
mod evidence;
mod stage;
mod window;

pub use crate::{
    detector::{spike_z, Detector, Observation, PartitionSnapshot, WindowUpdate},
    evidence::{
        BinEvidence, StoryTally, TagBaseline, MAX_STORY_SOURCES, RISING_PER_ALERT, SAMPLES,
        STORIES_PER_ALERT, STORIES_PER_BIN, TAGS_PER_BIN, TAG_BASELINE,
    },
    stage::{run_detect, DetectRun, DetectTotals},
    window::{Bin, Ewma, WindowSummary},
};

#[cfg(test)]
mod tests;
