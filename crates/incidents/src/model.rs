//! The incident record, its timeline, and the values operations return.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use vigil_types::{
    Alert, AlertId, CrisisKind, EventTime, IncidentId, Level, PostId, Transition, WatchId,
};

/// The figures of one detect window (the alert's, kept as an incident's
/// latest and peak window).
pub use vigil_types::WindowFigures;

/// The watch of a report that names none: no detector watches it, so
/// such a report never joins a detector's incident.
pub const REPORTED_WATCH: &str = "reported";

/// Most links one report carries.
pub const MAX_REPORT_LINKS: usize = 20;

/// The actor name of automatic events (detect, timers, the escalation
/// policy).
pub const AUTOMATIC_ACTOR: &str = "vigil";

/// Most volume points one incident keeps for its chart (a day of one-minute
/// windows); older points are dropped first.
pub const MAX_VOLUME_POINTS: usize = 1440;

/// Most sample post ids one incident collects over its life.
pub const MAX_SAMPLE_POSTS: usize = 25;

/// Most evidence records (one per opening or level rise) one incident
/// keeps: the first and the newest ones.
pub const MAX_EVIDENCE: usize = 8;

/// Most timeline events one incident keeps. Past this, `Notified` events are
/// no longer appended (they are counted in [`Incident::unrecorded_events`]);
/// every other event still is, so the record of who did what stays whole.
pub const MAX_TIMELINE_EVENTS: usize = 10_000;

/// Longest comment, assignee or actor accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;

/// An incident's workflow state. It is derived from the incident's fields
/// (see [`Incident::derive_state`]), never set on its own: from the
/// detector's events ([`vigil_types::Transition`], the one event
/// vocabulary) and from what people did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Opened and not yet acknowledged.
    Open,
    /// Its level rose and nobody has acknowledged it since.
    Escalated,
    /// Someone acknowledged it: re-notification stops while the level holds.
    Acknowledged,
    /// Acknowledged and owned by an assignee.
    Assigned,
    /// Over: resolved by detect (automatically) or by a person.
    Resolved,
    /// Resolved once, then reopened, and not acknowledged since.
    Reopened,
}

impl State {
    /// Every state, in workflow order.
    pub const ALL: [State; 6] = [
        State::Open,
        State::Escalated,
        State::Acknowledged,
        State::Assigned,
        State::Resolved,
        State::Reopened,
    ];

    /// Lower-case name (as in JSON and the API's `state=` filter).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Escalated => "escalated",
            State::Acknowledged => "acknowledged",
            State::Assigned => "assigned",
            State::Resolved => "resolved",
            State::Reopened => "reopened",
        }
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!("unknown state `{s}` (expected open, escalated, acknowledged, assigned, resolved or reopened)")
            })
    }
}

/// A response target (issue 15): how soon an incident must be
/// acknowledged, get its first public response (a status update) and be
/// resolved, per level (`[alert.targets.<level>]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The first acknowledgement.
    Acknowledge,
    /// The first status update.
    Respond,
    /// The first resolve.
    Resolve,
}

impl Target {
    /// Every target, in the order a response meets them.
    pub const ALL: [Target; 3] = [Target::Acknowledge, Target::Respond, Target::Resolve];

    /// Lower-case name (JSON, the metric's `target` label).
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Acknowledge => "acknowledge",
            Target::Respond => "respond",
            Target::Resolve => "resolve",
        }
    }
}

/// One response-target clock of an incident: it runs from the opening.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Which target.
    pub target: Target,
    /// When it is due: the opening plus the target of the incident's level
    /// (a level rise can only bring it forward).
    pub due_at: EventTime,
    /// When it was met (the first acknowledgement, status update or
    /// resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub met_at: Option<EventTime>,
    /// When Vigil found it missed (a `target_missed` event, notified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed_at: Option<EventTime>,
}

impl Clock {
    /// Whether the target was missed: found run out, or met after its due
    /// time (a timer that did not run in between still counts).
    pub fn missed(&self) -> bool {
        self.missed_at.is_some() || self.met_at.is_some_and(|m| m > self.due_at)
    }
}

/// One step of an incident's checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistStep {
    /// What to do.
    pub text: String,
    /// Who ticked it, and when; `None` while it is to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<Stamp>,
}

/// The playbook an incident follows: its steps, copied when it was
/// attached (editing the file later does not change a running incident).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checklist {
    /// The playbook's name (`product_safety.major`).
    pub playbook: String,
    /// Its title.
    pub title: String,
    /// Its steps.
    pub steps: Vec<ChecklistStep>,
}

impl Checklist {
    pub(crate) fn of(p: &vigil_config::Playbook) -> Checklist {
        Checklist {
            playbook: p.name.clone(),
            title: p.title.clone(),
            steps: p
                .steps
                .iter()
                .map(|s| ChecklistStep {
                    text: s.clone(),
                    done: None,
                })
                .collect(),
        }
    }
}

/// A role on an incident's response team (besides assignees).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the response.
    Lead,
    /// Owns what is said in public: statements and status updates.
    Communications,
}

impl Role {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Lead => "lead",
            Role::Communications => "communications",
        }
    }
}

impl Role {
    /// The role in words: `incident lead`, `communications lead`.
    pub fn title(self) -> &'static str {
        match self {
            Role::Lead => "incident lead",
            Role::Communications => "communications lead",
        }
    }
}

/// Who did something, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The actor ([`AUTOMATIC_ACTOR`] for automatic changes).
    pub by: String,
    /// When (processing time, as the caller's clock gave it).
    pub at: EventTime,
}

/// Why a notification is sent (the `reason` a sink can show).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyReason {
    /// A new incident.
    New,
    /// Its level rose.
    Escalated,
    /// Nobody acknowledged it in time: the next escalation step (or a
    /// repeat of the last one).
    Renotify,
    /// Its acknowledgement timed out while it was still firing.
    AckTimeout,
    /// A person reopened it.
    Reopened,
    /// It was resolved.
    Resolved,
    /// A response target was missed: told to the next on its path.
    TargetMissed,
    /// A status update published to the stakeholders.
    StatusUpdate,
}

impl NotifyReason {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyReason::New => "new",
            NotifyReason::Escalated => "escalated",
            NotifyReason::Renotify => "renotify",
            NotifyReason::AckTimeout => "ack_timeout",
            NotifyReason::Reopened => "reopened",
            NotifyReason::Resolved => "resolved",
            NotifyReason::TargetMissed => "target_missed",
            NotifyReason::StatusUpdate => "status_update",
        }
    }
}

/// `Display` for enums with a lower-case name: writes `as_str()`.
macro_rules! display_as_str {
    ($($t:ty),+) => {
        $(impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        })+
    };
}

display_as_str!(State, Target, Role, NotifyReason);

/// One timeline entry: when, who, and what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened.
    pub at: EventTime,
    /// Who did it ([`AUTOMATIC_ACTOR`] for detect, timers and the policy).
    pub actor: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What a timeline entry records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// An alert from detect (opened, escalated or resolved).
    Alert {
        /// Its stable id.
        alert_id: AlertId,
        /// What happened to the incident (opened, escalated or resolved).
        transition: Transition,
        /// Its level.
        level: Level,
    },
    /// The level changed (it only ever rises).
    LevelChange {
        /// Before.
        from: Level,
        /// After.
        to: Level,
    },
    /// Acknowledged.
    Ack,
    /// The acknowledgement was withdrawn.
    Unack {
        /// Why: `ack_timeout` or `level_rise`.
        reason: String,
    },
    /// Assigned to someone.
    Assign {
        /// The new owner.
        assignee: String,
    },
    /// A comment.
    Comment {
        /// Its text.
        text: String,
    },
    /// Resolved (by detect when the actor is [`AUTOMATIC_ACTOR`]).
    Resolve,
    /// Reopened after a resolve.
    Reopen,
    /// An alert arrived while a silence muted the incident: recorded, not
    /// notified.
    Suppressed {
        /// The silence that muted it.
        silence_id: String,
        /// The alert it muted.
        alert_id: AlertId,
    },
    /// A person reported it by hand ([`IncidentTracker::report`]): the
    /// first event of a reported incident, or a report joined to an
    /// incident already open on the watch.
    ///
    /// [`IncidentTracker::report`]: crate::IncidentTracker::report
    Reported {
        /// The report's title.
        title: String,
        /// The level it was reported at.
        level: Level,
    },
    /// A detector incident of the same watch joined this reported incident:
    /// its alerts are recorded here from now on.
    Joined {
        /// Detect's incident id.
        detect_incident: IncidentId,
    },
    /// Someone was given a role on the response team.
    Role {
        /// The role.
        role: Role,
        /// Who holds it now.
        person: String,
    },
    /// A status update (the first stops the `respond` clock).
    StatusUpdate {
        /// Its text.
        text: String,
        /// The stakeholder sinks it was published to (none: recorded only).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        published_to: Vec<String>,
    },
    /// Another incident about the same crisis was merged into this one.
    Merged {
        /// The incident merged in (its own timeline is kept under its id).
        from: String,
    },
    /// This incident was merged into another: closed here, carried on there.
    MergedInto {
        /// The incident it lives on in.
        into: String,
    },
    /// A checklist step was ticked (or unticked).
    Step {
        /// Its index, from 0.
        step: usize,
        /// Its text.
        text: String,
        /// Done, or to do again.
        done: bool,
    },
    /// The review was written or changed.
    Reviewed {
        /// The fields given (`root_cause`, `actions`, `effectiveness`).
        fields: Vec<String>,
    },
    /// A response target was missed.
    TargetMissed {
        /// Which.
        target: Target,
        /// When it was due.
        due_at: EventTime,
    },
    /// Sinks were notified.
    Notified {
        /// The sink names.
        sinks: Vec<String>,
        /// The people they reach, for a step of a reporting path.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<String>,
        /// The escalation step, when a policy applies.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<usize>,
        /// Why.
        reason: NotifyReason,
    },
}

impl EventKind {
    /// The event in words, each piece of free text (names, comments, ids)
    /// passed through `text` (an escaper for Markdown; `str::to_string` for
    /// a terminal). The Markdown export and the CLI both describe events
    /// with it.
    pub fn describe(&self, text: &dyn Fn(&str) -> String) -> String {
        match self {
            EventKind::Alert {
                alert_id,
                transition,
                level,
            } => format!(
                "alert {}: {} at {level}",
                text(alert_id.as_str()),
                transition.as_str()
            ),
            EventKind::LevelChange { from, to } => format!("level {from} → {to}"),
            EventKind::Ack => "acknowledged".into(),
            EventKind::Unack { reason } => {
                format!("acknowledgement withdrawn ({})", text(reason))
            }
            EventKind::Assign { assignee } => format!("assigned to {}", text(assignee)),
            EventKind::Comment { text: t } => format!("comment: {}", text(t)),
            EventKind::Resolve => "resolved".into(),
            EventKind::Reopen => "reopened".into(),
            EventKind::Reported { title, level } => {
                format!("reported at {level}: {}", text(title))
            }
            EventKind::Joined { detect_incident } => {
                format!("detector incident {} joined", text(detect_incident))
            }
            EventKind::Role { role, person } => format!("{}: {}", role.title(), text(person)),
            EventKind::StatusUpdate {
                text: t,
                published_to,
            } => {
                if published_to.is_empty() {
                    format!("status update: {}", text(t))
                } else {
                    let to: Vec<String> = published_to.iter().map(|s| text(s)).collect();
                    format!("status update published to {}: {}", to.join(", "), text(t))
                }
            }
            EventKind::Reviewed { fields } => format!("review: {}", fields.join(", ")),
            EventKind::Merged { from } => format!("incident {} merged into this one", text(from)),
            EventKind::MergedInto { into } => format!("merged into incident {}", text(into)),
            EventKind::Step {
                step,
                text: t,
                done,
            } => format!(
                "step {} {}: {}",
                step + 1,
                if *done { "done" } else { "to do again" },
                text(t)
            ),
            EventKind::TargetMissed { target, due_at } => {
                format!("{target} target missed (due {due_at})")
            }
            EventKind::Suppressed {
                silence_id,
                alert_id,
            } => format!(
                "alert {} silenced by {}",
                text(alert_id.as_str()),
                text(silence_id)
            ),
            EventKind::Notified {
                sinks,
                people,
                step,
                reason,
            } => {
                let sinks: Vec<String> = sinks.iter().map(|s| text(s)).collect();
                let mut who = sinks.join(", ");
                if !people.is_empty() {
                    let people: Vec<String> = people.iter().map(|p| text(p)).collect();
                    who = format!("{} via {who}", people.join(", "));
                }
                match step {
                    Some(s) => format!("notified {who} ({reason}, step {s})"),
                    None => format!("notified {who} ({reason})"),
                }
            }
        }
    }
}

/// What people were saying when an incident opened or rose a level: the
/// alert's stories, rising terms and sample posts (issue 14).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelEvidence {
    /// The level it opened at or rose to.
    pub level: Level,
    /// Opened or escalated (`state` in JSON, as stored).
    #[serde(rename = "state")]
    pub transition: Transition,
    /// The window the alert was about (event time: when it happened).
    pub window_start: EventTime,
    /// Window end (event time).
    pub window_end: EventTime,
    /// When Vigil saw it (processing time).
    pub seen_at: EventTime,
    /// The alert's stories, rising terms and sample posts (flattened).
    #[serde(flatten)]
    pub said: vigil_types::Evidence,
}

impl LevelEvidence {
    pub(crate) fn of_alert(a: &Alert, now: EventTime) -> LevelEvidence {
        LevelEvidence {
            level: a.level,
            transition: a.transition,
            window_start: a.figures.window_start,
            window_end: a.figures.window_end,
            seen_at: now,
            said: a.evidence.clone(),
        }
    }
}

/// One point of an incident's volume chart: a detect window's count against
/// its baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumePoint {
    /// Window end (event time).
    pub window_end: EventTime,
    /// Posts in the window.
    pub observed: u64,
    /// Baseline posts per window.
    pub baseline: f64,
    /// The incident's level at that window.
    pub level: Level,
}

/// Where an incident is in its escalation policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// The level whose policy runs.
    pub level: Level,
    /// When this run started (opening, level rise, ack timeout or reopen):
    /// step `i` is due at `started_at + steps[i].after_secs`.
    pub started_at: EventTime,
    /// The next step to notify; equal to the number of steps once the last
    /// one was notified (then only repeats remain).
    pub next_step: usize,
    /// When the next notification is due; `None` when acknowledged (paused)
    /// or when the policy has nothing more to send.
    pub next_at: Option<EventTime>,
    /// The reason given to step 0 (later steps are `renotify`).
    pub first_reason: NotifyReason,
    /// Sinks added to step 0 (on a level rise: everyone already notified).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_sinks: Vec<String>,
}

/// One incident: a crisis of one watch from detect's open to its resolve,
/// with everything people did about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Detect's incident id (watch plus the start of the opening window).
    pub id: IncidentId,
    /// Watch.
    pub watch: WatchId,
    /// Current level (only rises).
    pub level: Level,
    /// The level it opened at.
    pub opened_level: Level,
    /// Workflow state, derived from the fields below.
    pub state: State,
    /// Crisis kinds seen over its life.
    pub crisis_kinds: Vec<CrisisKind>,
    /// When Vigil recorded it (processing time).
    pub opened_at: EventTime,
    /// The last level rise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<EventTime>,
    /// The last reopen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reopened_at: Option<EventTime>,
    /// The current acknowledgement (withdrawn by a level rise or an ack
    /// timeout; kept by a resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Stamp>,
    /// The first acknowledgement ever (for time to acknowledge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_acknowledged: Option<Stamp>,
    /// When the incident started needing an acknowledgement (opening,
    /// level rise, ack timeout or reopen); the time to acknowledge is
    /// measured from here.
    pub unacked_since: EventTime,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The incident lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<String>,
    /// The communications lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communications_lead: Option<String>,
    /// The first status update (for the `respond` target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response: Option<Stamp>,
    /// Its response-target clocks (none without `[alert.targets]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<Clock>,
    /// The post-crisis review the team wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// The incident this one was merged into (it is resolved here and goes
    /// on there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    /// Incidents merged into this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// The playbook checklist it follows (none without playbooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checklist: Option<Checklist>,
    /// The resolve, when resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Stamp>,
    /// The first resolve ever (for time to resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_resolved: Option<Stamp>,
    /// Detect resolved it (its resolved alert arrived): detect will never
    /// send this incident id again.
    pub detect_resolved: bool,
    /// The last time a spike or alert of it arrived (processing time).
    pub last_firing_at: EventTime,
    /// The latest window's figures.
    pub last: WindowFigures,
    /// The figures of its largest window.
    pub peak: WindowFigures,
    /// Sample post ids over its life (at most [`MAX_SAMPLE_POSTS`]).
    pub sample_post_ids: Vec<PostId>,
    /// Volume against baseline, oldest first (at most [`MAX_VOLUME_POINTS`]).
    pub volume: Vec<VolumePoint>,
    /// What people were saying at its opening and at each level rise
    /// (at most [`MAX_EVIDENCE`]: the first and the newest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<LevelEvidence>,
    /// The report it started from, when a person reported it by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// Detector incident ids joined into this reported incident (their
    /// alerts are recorded here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detected_as: Vec<IncidentId>,
    /// The running escalation, when a policy applies and it is unresolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// Every sink notified about it so far (a resolve goes to these).
    pub notified_sinks: Vec<String>,
    /// The latest alert (what a re-notification delivers).
    pub last_alert: Alert,
    /// Alert ids recorded for it (its own dedupe, never pruned while it
    /// exists).
    pub alert_ids: Vec<AlertId>,
    /// Alerts muted by a silence.
    pub suppressed_alerts: u32,
    /// `Notified` events not appended because the timeline was full.
    #[serde(default)]
    pub unrecorded_events: u64,
    /// Everything that happened, in order.
    pub timeline: Vec<Event>,
}

impl Incident {
    /// The state its fields give:
    ///
    /// - resolved when it has a resolve;
    /// - else assigned when acknowledged with an assignee, acknowledged when
    ///   acknowledged;
    /// - else reopened or escalated, whichever happened last, or open.
    pub fn derive_state(&self) -> State {
        if self.resolved.is_some() {
            return State::Resolved;
        }
        if self.acknowledged.is_some() {
            return if self.assignee.is_some() {
                State::Assigned
            } else {
                State::Acknowledged
            };
        }
        match (self.reopened_at, self.escalated_at) {
            (Some(r), Some(e)) if e > r => State::Escalated,
            (Some(_), _) => State::Reopened,
            (None, Some(_)) => State::Escalated,
            (None, None) => State::Open,
        }
    }

    /// When it was acknowledged, if it is.
    pub fn acknowledged_at(&self) -> Option<EventTime> {
        self.acknowledged.as_ref().map(|s| s.at)
    }

    /// When it was resolved, if it is.
    pub fn resolved_at(&self) -> Option<EventTime> {
        self.resolved.as_ref().map(|s| s.at)
    }

    /// True until resolved.
    pub fn is_active(&self) -> bool {
        self.resolved.is_none()
    }

    /// The list view of it.
    pub fn summary(&self) -> IncidentSummary {
        IncidentSummary {
            id: self.id.clone(),
            title: self.report.as_ref().map(|r| r.title.clone()),
            watch: self.watch.clone(),
            level: self.level,
            state: self.state,
            crisis_kinds: self.crisis_kinds.clone(),
            opened_at: self.opened_at,
            acknowledged: self.acknowledged.clone(),
            assignee: self.assignee.clone(),
            lead: self.lead.clone(),
            missed_targets: self
                .clocks
                .iter()
                .filter(|c| c.missed())
                .map(|c| c.target)
                .collect(),
            resolved: self.resolved.clone(),
            last_firing_at: self.last_firing_at,
            observed: self.last.observed,
            baseline: self.last.baseline,
            suppressed_alerts: self.suppressed_alerts,
            events: self.timeline.len(),
        }
    }
}

/// An incident without its timeline and chart: what a list shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentSummary {
    /// Id.
    pub id: IncidentId,
    /// The report's title, when reported by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Watch.
    pub watch: WatchId,
    /// Level.
    pub level: Level,
    /// State.
    pub state: State,
    /// Crisis kinds.
    pub crisis_kinds: Vec<CrisisKind>,
    /// When opened.
    pub opened_at: EventTime,
    /// The current acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Stamp>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// The incident lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead: Option<String>,
    /// Response targets it missed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missed_targets: Vec<Target>,
    /// The resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Stamp>,
    /// The last time it fired.
    pub last_firing_at: EventTime,
    /// Posts in its latest window.
    pub observed: u64,
    /// Baseline of its latest window.
    pub baseline: f64,
    /// Alerts muted by a silence.
    pub suppressed_alerts: u32,
    /// Timeline length.
    pub events: usize,
}

/// What the team wrote in its post-crisis review.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// What caused the crisis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<String>,
    /// What was done and what is to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<String>,
    /// How well the response worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effectiveness: Option<String>,
}

/// A status update drafted from a template for one incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The template's name (`product_safety.zh`).
    pub template: String,
    /// Its language.
    pub lang: String,
    /// The text with the incident's facts filled in.
    pub text: String,
}

/// What a person reported (kept in [`Incident::report`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// A one-line title.
    pub title: String,
    /// What the reporter saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Links to the posts or pages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Who reported it.
    pub by: String,
}

/// A report of an incident by hand (`POST /api/v1/incidents`, `vigil
/// incidents open`, the console): a member of staff or a customer-service
/// agent saw trouble before the detector did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// A one-line title (required).
    pub title: String,
    /// The level (required).
    pub level: Level,
    /// The watch it concerns; a report without one is filed under
    /// [`REPORTED_WATCH`].
    #[serde(default)]
    pub watch: Option<WatchId>,
    /// The kind of crisis, when known.
    #[serde(default)]
    pub crisis_kind: Option<CrisisKind>,
    /// What the reporter saw.
    #[serde(default)]
    pub description: Option<String>,
    /// Links to the posts or pages (http or https).
    #[serde(default)]
    pub links: Vec<String>,
    /// Ids of posts it is about.
    #[serde(default)]
    pub post_ids: Vec<PostId>,
}

/// What a report did.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOutcome {
    /// The incident it opened, or the active incident of its watch it
    /// joined.
    pub incident: Incident,
    /// True when it opened a new incident.
    pub created: bool,
    /// What to deliver now.
    pub notifications: Vec<Notification>,
}

/// A muted watch (or watch and level) for a span of time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Id (`sil-<n>`).
    pub id: String,
    /// The watch it mutes.
    pub watch: WatchId,
    /// Only this level, when set (a rise to another level is not muted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// Start (inclusive).
    pub starts_at: EventTime,
    /// End (exclusive).
    pub ends_at: EventTime,
    /// Why.
    pub reason: String,
    /// Who.
    pub author: String,
    /// When it was created.
    pub created_at: EventTime,
}

impl Silence {
    /// True when it mutes `watch` at `level` at time `now`.
    pub fn mutes(&self, watch: &WatchId, level: Level, now: EventTime) -> bool {
        &self.watch == watch
            && self.level.is_none_or(|l| l == level)
            && self.starts_at <= now
            && now < self.ends_at
    }
}

/// A request to create a silence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSilence {
    /// The watch to mute.
    pub watch: WatchId,
    /// Only this level, when set.
    #[serde(default)]
    pub level: Option<Level>,
    /// Start (inclusive).
    pub starts_at: EventTime,
    /// End (exclusive); after `starts_at`.
    pub ends_at: EventTime,
    /// Why (required).
    pub reason: String,
}

/// Something to deliver: which alert, to which sinks, why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Incident id.
    pub incident: IncidentId,
    /// The alert to deliver: the one that caused this, or for timers and
    /// people's actions the incident's latest alert (with state `resolved`
    /// for a resolve).
    pub alert: Alert,
    /// Sink names to deliver to.
    pub sinks: Vec<String>,
    /// Why.
    pub reason: NotifyReason,
    /// The escalation step, when a policy applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// The missed target, for `target_missed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Its key in the store's outbox (0 from the pure core, which has no
    /// outbox): [`IncidentStore`](crate::IncidentStore) writes every
    /// notification to the outbox in the same transaction as the change that
    /// caused it; the deliverer calls
    /// [`IncidentStore::notifications_done`](crate::IncidentStore::notifications_done)
    /// once it has tried every sink. A crash in between leaves it in the
    /// outbox for [`IncidentStore::pending_notifications`](crate::IncidentStore::pending_notifications).
    #[serde(default)]
    pub outbox_id: u64,
    /// Delivery rounds that failed for at least one sink (0: never
    /// failed). A notification kept in the outbox after failing names in
    /// `sinks` only the sinks still to reach.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// When its first failed round ended (processing time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failed_at: Option<EventTime>,
    /// When its latest failed round ended (processing time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<EventTime>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What an alert or spike did.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Its alert id was already recorded (a replay or a redelivery):
    /// nothing changed and nothing is to be sent.
    Duplicate,
    /// An ongoing spike of an incident this store does not know (for
    /// example one opened before the store existed): nothing recorded.
    Ignored,
    /// Recorded in the incident.
    Recorded {
        /// The incident id.
        incident: IncidentId,
        /// What to deliver now.
        notifications: Vec<Notification>,
        /// The silence that muted it, if one did (the alert is in the
        /// timeline as `suppressed`; count it as suppressed).
        silenced_by: Option<String>,
    },
}

impl Outcome {
    /// The notifications to deliver (none for a duplicate).
    pub fn notifications(&self) -> &[Notification] {
        match self {
            Outcome::Recorded { notifications, .. } => notifications,
            Outcome::Duplicate | Outcome::Ignored => &[],
        }
    }
}

/// Something a person does to an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Acknowledge (idempotent).
    Ack,
    /// Assign an owner (acknowledges too, when not yet acknowledged).
    Assign {
        /// The owner.
        assignee: String,
    },
    /// Comment.
    Comment {
        /// The text.
        text: String,
    },
    /// Resolve (idempotent).
    Resolve,
    /// Reopen a resolved incident (idempotent on an unresolved one).
    Reopen,
    /// Give someone a role on the response team (replaces its holder).
    Role {
        /// The role.
        role: Role,
        /// Who.
        person: String,
    },
    /// Record a status update (the first stops the `respond` clock), and
    /// publish it to the stakeholder sinks (`alert.stakeholder_sinks`).
    StatusUpdate {
        /// Its text.
        text: String,
        /// Also send it to the stakeholder sinks.
        #[serde(default)]
        publish: bool,
    },
    /// Fill in the review: each field given replaces its text; fields left
    /// out are kept.
    Review(Review),
    /// Tick (or untick) a step of the incident's checklist.
    Step {
        /// Its index, from 0.
        step: usize,
        /// Done (true) or to do again (false).
        done: bool,
    },
}

impl Action {
    /// The action's name (its route's last segment and its log field).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Ack => "ack",
            Action::Assign { .. } => "assign",
            Action::Comment { .. } => "comment",
            Action::Resolve => "resolve",
            Action::Reopen => "reopen",
            Action::Role { .. } => "role",
            Action::StatusUpdate { .. } => "status",
            Action::Review(_) => "review",
            Action::Step { .. } => "step",
        }
    }
}

/// What an action did.
#[derive(Clone, Debug, PartialEq)]
pub struct ActOutcome {
    /// The incident after the action.
    pub incident: Incident,
    /// False when the action changed nothing (acknowledging an acknowledged
    /// incident, resolving a resolved one): no event was recorded.
    pub changed: bool,
    /// Seconds from [`Incident::unacked_since`] to this acknowledgement,
    /// when this action acknowledged it: observe
    /// `vigil_alert_time_to_acknowledge_seconds{level}` with it.
    pub time_to_acknowledge_secs: Option<f64>,
    /// What to deliver now (a resolve or a reopen notifies).
    pub notifications: Vec<Notification>,
}

/// A list filter; every field narrows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Only this level.
    #[serde(default)]
    pub level: Option<Level>,
    /// Only this state.
    #[serde(default)]
    pub state: Option<State>,
    /// Only this watch.
    #[serde(default)]
    pub watch: Option<WatchId>,
    /// Only incidents still active at or after this time (unresolved, or
    /// resolved at or after it).
    #[serde(default)]
    pub since: Option<EventTime>,
    /// Only incidents opened before this time.
    #[serde(default)]
    pub until: Option<EventTime>,
    /// At most this many (newest opened first).
    #[serde(default)]
    pub limit: Option<usize>,
}

impl Filter {
    /// True when `i` passes.
    pub fn matches(&self, i: &Incident) -> bool {
        self.level.is_none_or(|l| l == i.level)
            && self.state.is_none_or(|s| s == i.state)
            && self.watch.as_ref().is_none_or(|w| w == &i.watch)
            && self
                .since
                .is_none_or(|t| i.resolved_at().is_none_or(|r| r >= t))
            && self.until.is_none_or(|t| i.opened_at < t)
    }
}

/// Figures for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Unresolved incidents by level (every level present, zero when none):
    /// `vigil_alert_active_incidents{level}`.
    pub active_by_level: Vec<(Level, u64)>,
    /// Unresolved incidents awaiting an acknowledgement.
    pub unacknowledged: u64,
    /// Incidents kept (active and resolved).
    pub incidents: u64,
    /// Silences in force at the time asked.
    pub active_silences: u64,
}

/// A change to broadcast to live views (an SSE endpoint).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// An incident was created or changed.
    Incident {
        /// Store-wide sequence number (increases by one per change).
        seq: u64,
        /// Its id.
        id: String,
        /// Its state now.
        state: State,
        /// Its level now.
        level: Level,
    },
    /// An incident was pruned (resolved longer ago than the retention).
    Pruned {
        /// Sequence number.
        seq: u64,
        /// Its id.
        id: String,
    },
    /// A silence was added or removed.
    Silence {
        /// Sequence number.
        seq: u64,
        /// Its id.
        id: String,
    },
}
