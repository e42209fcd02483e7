//! The post-crisis review of one incident (`vigil incidents export`).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use vigil_types::{CrisisKind, EventTime, IncidentId, Level, PostId, WatchId};

use crate::model::{
    Clock, Event, EventKind, Incident, LevelEvidence, Report, Review, Stamp, State, VolumePoint,
    WindowFigures,
};

/// Volume rows the Markdown report prints at most (evenly sampled, the peak
/// always included); the JSON report has every point.
const MARKDOWN_VOLUME_ROWS: usize = 60;

/// A span of time an incident spent at one level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelSpan {
    /// The level.
    pub level: Level,
    /// From.
    pub from: EventTime,
    /// Until (the next level change or the resolve); `None` while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<EventTime>,
}

/// What the figures say about the response: volume and negative share
/// before (the baseline at the opening), at the peak, and at the last window
/// detect recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Baseline posts per window of the first window recorded.
    pub baseline_at_opening: f64,
    /// Posts in the largest window.
    pub peak_observed: u64,
    /// Negative share of the largest window.
    pub peak_negative_share: f64,
    /// End of the largest window.
    pub peak_window_end: EventTime,
    /// Posts in the last window recorded.
    pub last_observed: u64,
    /// Negative share of the last window recorded.
    pub last_negative_share: f64,
    /// End of the last window recorded.
    pub last_window_end: EventTime,
    /// `1 - last / peak`: how far volume fell from its peak by the last
    /// window (0 when the last window is the peak).
    pub fell_from_peak: f64,
}

impl Measured {
    fn of(i: &Incident) -> Option<Measured> {
        let first = i.volume.first()?;
        let peak = i.peak.observed.max(1) as f64;
        Some(Measured {
            baseline_at_opening: first.baseline,
            peak_observed: i.peak.observed,
            peak_negative_share: i.peak.negative_share,
            peak_window_end: i.peak.window_end,
            last_observed: i.last.observed,
            last_negative_share: i.last.negative_share,
            last_window_end: i.last.window_end,
            fell_from_peak: (1.0 - i.last.observed as f64 / peak).clamp(0.0, 1.0),
        })
    }
}

/// Everything a post-crisis review needs about one incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewReport {
    /// Incident id.
    pub id: IncidentId,
    /// Watch.
    pub watch: WatchId,
    /// Highest level reached.
    pub level: Level,
    /// State when exported.
    pub state: State,
    /// Crisis kinds seen.
    pub crisis_kinds: Vec<CrisisKind>,
    /// When Vigil recorded it.
    pub opened_at: EventTime,
    /// The first acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_acknowledged: Option<Stamp>,
    /// The first resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_resolved: Option<Stamp>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Seconds from opening to the first acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_acknowledge_secs: Option<f64>,
    /// Seconds from opening to the first resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_resolve_secs: Option<f64>,
    /// Seconds from opening to the first status update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_respond_secs: Option<f64>,
    /// The incident lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<String>,
    /// The communications lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communications_lead: Option<String>,
    /// The report it started from, when reported by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// Times against the response targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<Clock>,
    /// Volume and negative share before, at the peak and at the end (none
    /// without a detector window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
    /// What the team wrote: root cause, actions, effectiveness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// Levels over time.
    pub levels: Vec<LevelSpan>,
    /// Volume against baseline per window, oldest first.
    pub volume: Vec<VolumePoint>,
    /// The largest window.
    pub peak: WindowFigures,
    /// The latest window.
    pub last: WindowFigures,
    /// Top terms (the peak window's, then the latest window's).
    pub top_terms: Vec<String>,
    /// Sample post ids.
    pub sample_post_ids: Vec<PostId>,
    /// What people were saying at the opening and at each level rise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<LevelEvidence>,
    /// Notifications sent.
    pub notifications: u64,
    /// Alerts muted by silences.
    pub suppressed_alerts: u32,
    /// Every event.
    pub timeline: Vec<Event>,
}

fn secs(from: EventTime, to: EventTime) -> f64 {
    (to.0 - from.0).max(0) as f64 / 1000.0
}

/// `1h 02m 03s` style.
pub(crate) fn human(secs: f64) -> String {
    let s = secs.round() as i64;
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Escapes untrusted text (names, comments, post ids) for Markdown inline
/// text and table cells: characters that would start HTML, a link, a code
/// span, emphasis or a new cell are backslash-escaped (CommonMark lets any
/// ASCII punctuation be escaped), line breaks become spaces and other
/// control characters are dropped, so raw HTML from a comment stays text.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Untrusted text as a Markdown code span: the fence is longer than any run
/// of backticks inside, so the text cannot close it early; table pipes are
/// escaped (GFM splits cells on them even in code spans).
fn code(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in clean.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let clean = clean.replace('|', "\\|");
    if longest == 0 {
        return format!("`{clean}`");
    }
    let fence = "`".repeat(longest + 1);
    format!("{fence} {clean} {fence}")
}

impl ReviewReport {
    /// The review of `i`.
    pub fn of(i: &Incident) -> ReviewReport {
        let mut levels = vec![LevelSpan {
            level: i.opened_level,
            from: i.opened_at,
            until: None,
        }];
        for e in &i.timeline {
            if let EventKind::LevelChange { to, .. } = e.kind {
                if let Some(last) = levels.last_mut() {
                    last.until = Some(e.at);
                }
                levels.push(LevelSpan {
                    level: to,
                    from: e.at,
                    until: None,
                });
            }
        }
        if let (Some(last), Some(r)) = (levels.last_mut(), i.resolved_at()) {
            last.until = Some(r);
        }
        let mut top_terms = i.peak.top_terms.clone();
        for t in &i.last.top_terms {
            if !top_terms.contains(t) {
                top_terms.push(t.clone());
            }
        }
        let notifications = i
            .timeline
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Notified { .. }))
            .count() as u64
            + i.unrecorded_events;
        ReviewReport {
            id: i.id.clone(),
            watch: i.watch.clone(),
            level: i.level,
            state: i.state,
            crisis_kinds: i.crisis_kinds.clone(),
            opened_at: i.opened_at,
            first_acknowledged: i.first_acknowledged.clone(),
            first_resolved: i.first_resolved.clone(),
            assignee: i.assignee.clone(),
            time_to_acknowledge_secs: i
                .first_acknowledged
                .as_ref()
                .map(|a| secs(i.opened_at, a.at)),
            time_to_resolve_secs: i.first_resolved.as_ref().map(|r| secs(i.opened_at, r.at)),
            time_to_respond_secs: i.first_response.as_ref().map(|r| secs(i.opened_at, r.at)),
            lead: i.lead.clone(),
            communications_lead: i.communications_lead.clone(),
            report: i.report.clone(),
            clocks: i.clocks.clone(),
            measured: Measured::of(i),
            review: i.review.clone(),
            levels,
            volume: i.volume.clone(),
            peak: i.peak.clone(),
            last: i.last.clone(),
            top_terms,
            sample_post_ids: i.sample_post_ids.clone(),
            evidence: i.evidence.clone(),
            notifications,
            suppressed_alerts: i.suppressed_alerts,
            timeline: i.timeline.clone(),
        }
    }

    /// The review as Markdown (for a post-mortem document).
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let opt = |s: &Option<Stamp>| {
            s.as_ref()
                .map(|s| format!("{} by {}", s.at, cell(&s.by)))
                .unwrap_or_else(|| "—".into())
        };
        let dur = |d: Option<f64>| d.map(human).unwrap_or_else(|| "—".into());
        let kinds: Vec<&str> = self.crisis_kinds.iter().map(|k| k.as_str()).collect();
        let _ = writeln!(md, "# Incident review: {}\n", cell(&self.id));
        let _ = writeln!(md, "| | |\n|---|---|");
        let _ = writeln!(md, "| Watch | {} |", cell(self.watch.as_str()));
        let _ = writeln!(md, "| Highest level | {} |", self.level);
        let _ = writeln!(md, "| State | {} |", self.state);
        let _ = writeln!(
            md,
            "| Crisis kinds | {} |",
            if kinds.is_empty() {
                "—".to_string()
            } else {
                kinds.join(", ")
            }
        );
        let _ = writeln!(md, "| Opened | {} |", self.opened_at);
        let _ = writeln!(
            md,
            "| First acknowledged | {} |",
            opt(&self.first_acknowledged)
        );
        let _ = writeln!(md, "| Resolved | {} |", opt(&self.first_resolved));
        let _ = writeln!(
            md,
            "| Assignee | {} |",
            self.assignee
                .as_deref()
                .map(cell)
                .unwrap_or_else(|| "—".into())
        );
        let _ = writeln!(
            md,
            "| Time to acknowledge | {} |",
            dur(self.time_to_acknowledge_secs)
        );
        let _ = writeln!(
            md,
            "| Time to resolve | {} |",
            dur(self.time_to_resolve_secs)
        );
        let _ = writeln!(
            md,
            "| Time to first status update | {} |",
            dur(self.time_to_respond_secs)
        );
        for (name, who) in [
            ("Incident lead", &self.lead),
            ("Communications lead", &self.communications_lead),
        ] {
            let who = who.as_deref().map(cell).unwrap_or_else(|| "—".into());
            let _ = writeln!(md, "| {name} | {who} |");
        }
        if let Some(r) = &self.report {
            let _ = writeln!(
                md,
                "| Reported by hand | {}: {} |",
                cell(&r.by),
                cell(&r.title)
            );
        }
        let _ = writeln!(md, "| Notifications sent | {} |", self.notifications);
        let _ = writeln!(md, "| Alerts silenced | {} |", self.suppressed_alerts);

        if !self.clocks.is_empty() {
            let _ = writeln!(
                md,
                "\n## Response targets\n\n| Target | Due | Met | Result |\n|---|---|---|---|"
            );
            for c in &self.clocks {
                let met = c
                    .met_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "—".into());
                let result = match (c.met_at, c.missed_at) {
                    (Some(m), _) if m <= c.due_at => "met".to_string(),
                    (Some(m), _) => format!("late by {}", human(secs(c.due_at, m))),
                    (None, Some(_)) => "missed".to_string(),
                    (None, None) => "running".to_string(),
                };
                let _ = writeln!(md, "| {} | {} | {met} | {result} |", c.target, c.due_at);
            }
        }
        if let Some(m) = &self.measured {
            let _ = writeln!(
                md,
                "\n## Measured effectiveness\n\n| | Posts per window | Negative share | Window end |\n|---|---:|---:|---|"
            );
            let _ = writeln!(
                md,
                "| Before (baseline at opening) | {:.1} | — | — |",
                m.baseline_at_opening
            );
            let _ = writeln!(
                md,
                "| Peak | {} | {:.0}% | {} |",
                m.peak_observed,
                m.peak_negative_share * 100.0,
                m.peak_window_end
            );
            let _ = writeln!(
                md,
                "| Last window recorded | {} | {:.0}% | {} |",
                m.last_observed,
                m.last_negative_share * 100.0,
                m.last_window_end
            );
            let _ = writeln!(
                md,
                "\nVolume fell {:.0}% from its peak by the last window recorded.",
                m.fell_from_peak * 100.0
            );
        }
        let r = self.review.clone().unwrap_or_default();
        let _ = writeln!(md, "\n## Review\n");
        for (name, text) in [
            ("Root cause", &r.root_cause),
            ("Actions", &r.actions),
            ("Effectiveness", &r.effectiveness),
        ] {
            let text = text.as_deref().map(cell).unwrap_or_else(|| {
                "— (to fill in: `vigil incidents review`, the API or the console)".into()
            });
            let _ = writeln!(md, "- **{name}:** {text}");
        }

        let _ = writeln!(
            md,
            "\n## Levels over time\n\n| Level | From | Until |\n|---|---|---|"
        );
        for l in &self.levels {
            let until = l.until.map(|t| t.to_string()).unwrap_or_else(|| "—".into());
            let _ = writeln!(md, "| {} | {} | {} |", l.level, l.from, until);
        }

        let _ = writeln!(md, "\n## Volume\n");
        let _ = writeln!(
            md,
            "Peak window {} – {}: {} posts against a baseline of {:.1} (z {:.1}, {:.0}% negative, {} sources).\n",
            self.peak.window_start,
            self.peak.window_end,
            self.peak.observed,
            self.peak.baseline,
            self.peak.z,
            self.peak.negative_share * 100.0,
            self.peak.distinct_sources
        );
        if !self.volume.is_empty() {
            let n = self.volume.len();
            let every = n.div_ceil(MARKDOWN_VOLUME_ROWS).max(1);
            let peak_idx = self
                .volume
                .iter()
                .enumerate()
                .max_by_key(|(_, p)| p.observed)
                .map(|(i, _)| i)
                .unwrap_or(0);
            if every > 1 {
                let _ = writeln!(md, "{n} windows; every {every}th shown, and the peak.\n");
            }
            let _ = writeln!(
                md,
                "| Window end | Posts | Baseline | Level |\n|---|---:|---:|---|"
            );
            for (i, p) in self.volume.iter().enumerate() {
                if i % every == 0 || i == peak_idx || i == n - 1 {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {:.1} | {} |",
                        p.window_end, p.observed, p.baseline, p.level
                    );
                }
            }
        }

        let _ = writeln!(md, "\n## Top terms\n");
        if self.top_terms.is_empty() {
            let _ = writeln!(md, "—");
        } else {
            let terms: Vec<String> = self.top_terms.iter().map(|t| code(t)).collect();
            let _ = writeln!(md, "{}", terms.join(", "));
        }
        for ev in &self.evidence {
            let _ = writeln!(
                md,
                "\n## What people said ({} at {})\n\nHappened {} – {} (event time); seen by Vigil {}.\n",
                ev.transition.as_str(),
                ev.level,
                ev.window_start,
                ev.window_end,
                ev.seen_at
            );
            if !ev.said.rising_terms.is_empty() {
                let rising: Vec<String> = ev
                    .said
                    .rising_terms
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {:.0}% (was {:.0}%)",
                            code(&r.term),
                            r.share * 100.0,
                            r.baseline_share * 100.0
                        )
                    })
                    .collect();
                let _ = writeln!(md, "Rising: {}\n", rising.join(", "));
            }
            if !ev.said.stories.is_empty() {
                let _ = writeln!(
                    md,
                    "| Posts | Originals | Reposts | First seen | Source | Story |\n|---:|---:|---:|---|---|---|"
                );
                for st in &ev.said.stories {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {} | {} |",
                        st.posts,
                        st.originals,
                        st.reposts,
                        st.first_seen,
                        cell(&st.first_source),
                        cell(&st.text)
                    );
                }
            }
            for p in &ev.said.samples {
                let _ = writeln!(
                    md,
                    "- {} {} {}: {}",
                    p.published_at,
                    cell(&p.source),
                    code(p.id.as_str()),
                    cell(&p.text)
                );
            }
        }
        let _ = writeln!(md, "\n## Sample posts\n");
        if self.sample_post_ids.is_empty() {
            let _ = writeln!(md, "—");
        } else {
            for p in &self.sample_post_ids {
                let _ = writeln!(md, "- {}", code(p.as_str()));
            }
        }

        let _ = writeln!(md, "\n## Timeline\n\n| Time | Who | What |\n|---|---|---|");
        for e in &self.timeline {
            let what = e.kind.describe(&cell);
            // `describe` escapes every untrusted piece of `what`.
            let _ = writeln!(md, "| {} | {} | {} |", e.at, cell(&e.actor), what);
        }
        md
    }
}
