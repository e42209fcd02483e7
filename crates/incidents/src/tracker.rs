//! The pure incident core: alerts, spikes, people's actions and timer ticks
//! in, incident changes and notifications out. No I/O and no clock: every
//! operation takes the current time as an argument.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use vigil_config::{Playbook, Template};
use vigil_types::{Alert, AlertId, EventTime, IncidentId, Level, Spike, Transition, WatchId};

use crate::{
    model::{
        ActOutcome, Action, Change, Checklist, Clock, Draft, Escalation, Event, EventKind, Filter,
        Incident, IncidentSummary, LevelEvidence, NewReport, NewSilence, Notification,
        NotifyReason, Outcome, Report, ReportOutcome, Role, Silence, Stamp, State, Stats, Target,
        VolumePoint, WindowFigures, AUTOMATIC_ACTOR, MAX_EVIDENCE, MAX_REPORT_LINKS,
        MAX_SAMPLE_POSTS, MAX_TEXT_CHARS, MAX_TIMELINE_EVENTS, MAX_VOLUME_POINTS, REPORTED_WATCH,
    },
    period::PeriodReport,
    policy::EscalationPolicy,
    report::ReviewReport,
    Error,
};

/// Default retention of resolved incidents, remembered alert ids and ended
/// silences: 90 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 86_400);

/// The longest a silence may reach into the future: its end is at most 90
/// days after the time it is added (a mistyped duration must not mute a
/// watch for ever).
pub const MAX_SILENCE: Duration = Duration::from_secs(90 * 86_400);

/// Keys changed since the last [`IncidentTracker::take_dirty`]: the store
/// writes (or deletes) exactly these.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dirty {
    pub incidents: BTreeSet<IncidentId>,
    pub seen: BTreeSet<AlertId>,
    pub silences: BTreeSet<String>,
    pub meta: bool,
}

impl Dirty {
    /// Adds `other`'s keys.
    pub fn merge(&mut self, other: &Dirty) {
        self.incidents.extend(other.incidents.iter().cloned());
        self.seen.extend(other.seen.iter().cloned());
        self.silences.extend(other.silences.iter().cloned());
        self.meta |= other.meta;
    }

    pub fn is_empty(&self) -> bool {
        self.incidents.is_empty() && self.seen.is_empty() && self.silences.is_empty() && !self.meta
    }
}

/// The incident core (pure and synchronous).
///
/// ```
/// use vigil_incidents::{Action, EscalationPolicy, IncidentTracker, State};
/// use vigil_types::{Alert, EventTime, Level, Spike, Transition, WatchId, WindowFigures};
/// let spike = Spike {
///     watch: WatchId::from("acme"), incident: "acme-1".into(),
///     transition: Transition::Opened, level: Level::Minor, triggers: vec![],
///     figures: WindowFigures {
///         reason: "minor".into(), window_start: EventTime(0), window_end: EventTime(60_000),
///         observed: 40, baseline: 3.0, z: 12.0, negative_share: 0.1, top_terms: vec![],
///         distinct_sources: 1,
///     },
///     sample_post_ids: vec![], distinct_regions: 0, crisis_kinds: vec![],
///     evidence: Default::default(),
/// };
/// let mut t = IncidentTracker::new(EscalationPolicy::notify_all(vec!["stdout".into()]));
/// let out = t.on_spike(&spike, EventTime(61_000));
/// assert_eq!(out.notifications()[0].sinks, ["stdout"]);
/// let acked = t.act("acme-1", vigil_incidents::Action::Ack, "alice", EventTime(90_000)).unwrap();
/// assert_eq!(acked.incident.state, State::Acknowledged);
/// assert_eq!(acked.time_to_acknowledge_secs, Some(29.0));
/// ```
#[derive(Clone, Debug)]
pub struct IncidentTracker {
    policy: EscalationPolicy,
    playbooks: Vec<Playbook>,
    templates: Vec<Template>,
    retention: Duration,
    incidents: BTreeMap<IncidentId, Incident>,
    /// Detector incident id -> the reported incident it joined (derived
    /// from [`Incident::detected_as`]).
    joined: HashMap<IncidentId, IncidentId>,
    seen: HashMap<AlertId, EventTime>,
    silences: BTreeMap<String, Silence>,
    next_silence: u64,
    dirty: Dirty,
}

/// A time for a message: RFC 3339 for years 1 to 9999, else milliseconds
/// (RFC 3339 would show an out-of-range time as the epoch).
fn show(t: EventTime) -> String {
    if (-62_135_596_800_000..=253_402_300_799_999).contains(&t.0) {
        t.to_rfc3339()
    } else {
        format!("{} ms since the epoch", t.0)
    }
}

fn plus(t: EventTime, d: Duration) -> EventTime {
    EventTime(t.0.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
}

fn minus(t: EventTime, d: Duration) -> EventTime {
    EventTime(t.0.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
}

fn secs_between(from: EventTime, to: EventTime) -> f64 {
    (to.0.saturating_sub(from.0)).max(0) as f64 / 1000.0
}

fn push_unique(into: &mut Vec<String>, from: &[String]) {
    for s in from {
        if !into.contains(s) {
            into.push(s.clone());
        }
    }
}

fn check_text(what: &str, s: &str) -> Result<(), Error> {
    if s.trim().is_empty() {
        return Err(Error::Invalid(format!("{what} must not be empty")));
    }
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::Invalid(format!(
            "{what} is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

fn at_most(what: &str, n: usize, max: usize) -> Result<(), Error> {
    if n > max {
        return Err(Error::Invalid(format!(
            "a report has at most {max} {what}, not {n}"
        )));
    }
    Ok(())
}

fn push_event(inc: &mut Incident, at: EventTime, actor: &str, kind: EventKind) {
    if matches!(kind, EventKind::Notified { .. }) && inc.timeline.len() >= MAX_TIMELINE_EVENTS {
        inc.unrecorded_events += 1;
        return;
    }
    inc.timeline.push(Event {
        at,
        actor: actor.to_string(),
        kind,
    });
}

fn new_incident(a: &Alert, now: EventTime) -> Incident {
    let fig = a.figures.finite();
    let mut kinds = a.crisis_kinds.clone();
    kinds.sort();
    kinds.dedup();
    Incident {
        id: a.incident.clone(),
        watch: a.watch.clone(),
        level: a.level,
        opened_level: a.level,
        state: State::Open,
        crisis_kinds: kinds,
        opened_at: now,
        escalated_at: None,
        reopened_at: None,
        acknowledged: None,
        first_acknowledged: None,
        unacked_since: now,
        assignee: None,
        lead: None,
        communications_lead: None,
        first_response: None,
        clocks: Vec::new(),
        review: None,
        merged_into: None,
        merged_from: Vec::new(),
        checklist: None,
        resolved: None,
        first_resolved: None,
        detect_resolved: false,
        last_firing_at: now,
        last: fig.clone(),
        peak: fig,
        sample_post_ids: Vec::new(),
        volume: Vec::new(),
        evidence: Vec::new(),
        report: None,
        detected_as: Vec::new(),
        escalation: None,
        notified_sinks: Vec::new(),
        last_alert: a.clone(),
        alert_ids: Vec::new(),
        suppressed_alerts: 0,
        unrecorded_events: 0,
        timeline: Vec::new(),
    }
}

/// Adds a window's figures; false when the window is not newer than the
/// last one recorded (a replay).
fn merge_window(
    inc: &mut Incident,
    fig: WindowFigures,
    level: Level,
    kinds: &[vigil_types::CrisisKind],
    samples: &[vigil_types::PostId],
) -> bool {
    for k in kinds {
        if !inc.crisis_kinds.contains(k) {
            inc.crisis_kinds.push(*k);
        }
    }
    inc.crisis_kinds.sort();
    for p in samples {
        if inc.sample_post_ids.len() >= MAX_SAMPLE_POSTS {
            break;
        }
        if !inc.sample_post_ids.contains(p) {
            inc.sample_post_ids.push(p.clone());
        }
    }
    let newer = inc
        .volume
        .last()
        .is_none_or(|p| fig.window_end > p.window_end);
    // A report's alert has no window (start = end): nothing to chart.
    if newer && fig.window_end > fig.window_start {
        inc.volume.push(VolumePoint {
            window_end: fig.window_end,
            observed: fig.observed,
            baseline: fig.baseline,
            level,
        });
        if inc.volume.len() > MAX_VOLUME_POINTS {
            let extra = inc.volume.len() - MAX_VOLUME_POINTS;
            inc.volume.drain(..extra);
        }
    }
    if fig.observed > inc.peak.observed {
        inc.peak = fig.clone();
    }
    if newer || fig.window_end >= inc.last.window_end {
        inc.last = fig;
    }
    newer
}

/// What a change to an incident sends.
#[derive(Default)]
struct Sent {
    notifications: Vec<Notification>,
    silenced_by: Option<String>,
}

impl IncidentTracker {
    /// An empty tracker with `policy` and the default retention.
    pub fn new(policy: EscalationPolicy) -> IncidentTracker {
        IncidentTracker {
            policy,
            playbooks: Vec::new(),
            templates: Vec::new(),
            retention: DEFAULT_RETENTION,
            incidents: BTreeMap::new(),
            joined: HashMap::new(),
            seen: HashMap::new(),
            silences: BTreeMap::new(),
            next_silence: 1,
            dirty: Dirty::default(),
        }
    }

    /// Keeps resolved incidents, remembered alert ids and ended silences for
    /// `retention` (pruned by [`tick`](Self::tick)).
    pub fn with_retention(mut self, retention: Duration) -> IncidentTracker {
        self.retention = retention;
        self
    }

    /// Replaces the policy (a live config reload). Running escalations
    /// continue from their step under the new policy.
    pub fn set_policy(&mut self, policy: EscalationPolicy) {
        self.policy = policy;
    }

    /// Replaces the playbooks new incidents get their checklist from
    /// (running incidents keep theirs).
    pub fn set_playbooks(&mut self, playbooks: Vec<Playbook>) {
        self.playbooks = playbooks;
    }

    /// Replaces the status-update templates.
    pub fn set_templates(&mut self, templates: Vec<Template>) {
        self.templates = templates;
    }

    /// Status updates for incident `id` drafted from the templates of its
    /// crisis kinds, then the default ones, with its facts filled in at
    /// time `now` (`{next_update}` is an hour on).
    pub fn drafts(&self, id: &str, now: EventTime) -> Result<Vec<Draft>, Error> {
        let inc = self
            .incidents
            .get(id)
            .ok_or_else(|| Error::IncidentNotFound(id.to_string()))?;
        let minute = |t: EventTime| {
            let s = show(t);
            // 2026-12-05T13:04:56.123Z -> 2026-12-05 13:04 UTC
            match (s.get(..10), s.get(11..16)) {
                (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
                _ => s,
            }
        };
        let value = |f: &str| -> String {
            match f {
                // A report without a watch: its title says what it is about.
                "watch" if inc.watch.as_str() == REPORTED_WATCH => inc
                    .report
                    .as_ref()
                    .map_or_else(|| inc.watch.to_string(), |r| r.title.clone()),
                "watch" => inc.watch.to_string(),
                "level" => inc.level.to_string(),
                "kind" => inc
                    .crisis_kinds
                    .first()
                    .map(|k| k.as_str().replace('_', " "))
                    .unwrap_or_default(),
                "title" => inc
                    .report
                    .as_ref()
                    .map_or_else(|| inc.watch.to_string(), |r| r.title.clone()),
                "opened_at" => minute(inc.opened_at),
                "now" => minute(now),
                "next_update" => minute(plus(now, Duration::from_secs(3600))),
                "observed" => inc.peak.observed.to_string(),
                "baseline" => format!("{:.0}", inc.peak.baseline),
                _ => String::new(),
            }
        };
        Ok(Template::matching(&self.templates, &inc.crisis_kinds)
            .into_iter()
            .map(|t| Draft {
                template: t.name.clone(),
                lang: t.lang.clone(),
                text: t.render(&value),
            })
            .collect())
    }

    /// The policy.
    pub fn policy(&self) -> &EscalationPolicy {
        &self.policy
    }

    pub(crate) fn restore(
        &mut self,
        incidents: Vec<Incident>,
        seen: Vec<(AlertId, EventTime)>,
        silences: Vec<Silence>,
        next_silence: u64,
    ) {
        self.incidents = incidents.into_iter().map(|i| (i.id.clone(), i)).collect();
        self.joined = self
            .incidents
            .values()
            .flat_map(|i| i.detected_as.iter().map(|d| (d.clone(), i.id.clone())))
            .collect();
        self.seen = seen.into_iter().collect();
        self.silences = silences.into_iter().map(|s| (s.id.clone(), s)).collect();
        self.next_silence = next_silence.max(1);
        self.dirty = Dirty::default();
    }

    pub(crate) fn take_dirty(&mut self) -> Dirty {
        std::mem::take(&mut self.dirty)
    }

    pub(crate) fn seen_at(&self, id: &AlertId) -> Option<EventTime> {
        self.seen.get(id).copied()
    }

    pub(crate) fn silence(&self, id: &str) -> Option<&Silence> {
        self.silences.get(id)
    }

    pub(crate) fn next_silence(&self) -> u64 {
        self.next_silence
    }

    /// The changes `dirty` stands for, numbered from `seq`.
    pub(crate) fn changes(&self, dirty: &Dirty, seq: &mut u64) -> Vec<Change> {
        let mut out = Vec::new();
        for id in &dirty.incidents {
            *seq += 1;
            out.push(match self.incidents.get(id) {
                Some(i) => Change::Incident {
                    seq: *seq,
                    id: id.to_string(),
                    state: i.state,
                    level: i.level,
                },
                None => Change::Pruned {
                    seq: *seq,
                    id: id.to_string(),
                },
            });
        }
        for id in &dirty.silences {
            *seq += 1;
            out.push(Change::Silence {
                seq: *seq,
                id: id.clone(),
            });
        }
        out
    }

    /// One incident.
    pub fn get(&self, id: &str) -> Option<&Incident> {
        self.incidents.get(id)
    }

    /// The incident `id`, for the store to serialise it in parts (its
    /// timeline apart); the store puts back whatever it takes out.
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Incident> {
        self.incidents.get_mut(id)
    }

    /// Every incident, in id order.
    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.values()
    }

    /// Incidents passing `filter`, newest opened first.
    pub fn list(&self, filter: &Filter) -> Vec<IncidentSummary> {
        let mut v: Vec<&Incident> = self
            .incidents
            .values()
            .filter(|i| filter.matches(i))
            .collect();
        v.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| a.id.cmp(&b.id)));
        v.into_iter()
            .take(filter.limit.unwrap_or(usize::MAX))
            .map(Incident::summary)
            .collect()
    }

    /// The post-crisis review of one incident.
    pub fn export(&self, id: &str) -> Option<ReviewReport> {
        self.incidents.get(id).map(ReviewReport::of)
    }

    /// The incidents opened in `[since, until)` summed up.
    pub fn period_report(&self, since: EventTime, until: EventTime) -> PeriodReport {
        PeriodReport::of(self.incidents.values(), since, until)
    }

    /// Figures for metrics at time `now`.
    pub fn stats(&self, now: EventTime) -> Stats {
        let mut by = [0u64; 3];
        let mut unacked = 0;
        for i in self.incidents.values().filter(|i| i.is_active()) {
            by[Level::ALL.iter().position(|l| *l == i.level).unwrap_or(0)] += 1;
            if i.acknowledged.is_none() {
                unacked += 1;
            }
        }
        Stats {
            active_by_level: Level::ALL.iter().copied().zip(by).collect(),
            unacknowledged: unacked,
            incidents: self.incidents.len() as u64,
            active_silences: self
                .silences
                .values()
                .filter(|s| s.starts_at <= now && now < s.ends_at)
                .count() as u64,
        }
    }

    /// Every silence (in force, future and ended but not yet pruned), by id.
    pub fn silences(&self) -> Vec<Silence> {
        self.silences.values().cloned().collect()
    }

    /// Mutes `s.watch` (at `s.level`, or every level) from `s.starts_at` to
    /// `s.ends_at`, which must be after `now` and at most [`MAX_SILENCE`]
    /// after it.
    pub fn add_silence(
        &mut self,
        s: NewSilence,
        author: &str,
        now: EventTime,
    ) -> Result<Silence, Error> {
        check_text("author", author)?;
        check_text("reason", &s.reason)?;
        check_text("watch", s.watch.as_str())?;
        if s.ends_at <= s.starts_at {
            return Err(Error::Invalid("a silence must end after it starts".into()));
        }
        if s.ends_at <= now {
            return Err(Error::Invalid(format!(
                "a silence must end in the future: ends_at {} is not after now ({now})",
                show(s.ends_at)
            )));
        }
        let max_ms = MAX_SILENCE.as_millis() as i64;
        if s.ends_at.0 > now.0.saturating_add(max_ms) {
            return Err(Error::Invalid(format!(
                "a silence may end at most {} days from now: ends_at {} is later than {}",
                MAX_SILENCE.as_secs() / 86_400,
                show(s.ends_at),
                show(EventTime(now.0.saturating_add(max_ms)))
            )));
        }
        let silence = Silence {
            id: format!("sil-{}", self.next_silence),
            watch: s.watch,
            level: s.level,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            reason: s.reason,
            author: author.to_string(),
            created_at: now,
        };
        self.next_silence += 1;
        self.dirty.meta = true;
        self.dirty.silences.insert(silence.id.clone());
        self.silences.insert(silence.id.clone(), silence.clone());
        Ok(silence)
    }

    /// Removes a silence (ending it now; alerts already muted stay muted).
    pub fn remove_silence(&mut self, id: &str) -> Result<Silence, Error> {
        let s = self
            .silences
            .remove(id)
            .ok_or_else(|| Error::SilenceNotFound(id.to_string()))?;
        self.dirty.silences.insert(id.to_string());
        Ok(s)
    }

    fn silence_for(&self, inc: &Incident, now: EventTime) -> Option<String> {
        self.silences
            .values()
            .find(|s| s.mutes(&inc.watch, inc.level, now))
            .map(|s| s.id.clone())
    }

    fn is_duplicate(&self, a: &Alert) -> bool {
        self.seen.contains_key(&a.alert_id)
            || self
                .incidents
                .get(self.home(&a.incident))
                .is_some_and(|i| i.alert_ids.contains(&a.alert_id))
    }

    /// The incident that records detect's incident `id`: the reported
    /// incident it joined, or its own.
    fn home<'a>(&'a self, id: &'a str) -> &'a str {
        self.joined.get(id).map_or(id, IncidentId::as_str)
    }

    /// The active reported incident of `watch` a new detector incident
    /// joins (the newest, when several are).
    fn reported_on(&self, watch: &WatchId) -> Option<&Incident> {
        self.incidents
            .values()
            .filter(|i| i.report.is_some() && i.is_active() && &i.watch == watch)
            .max_by_key(|i| (i.opened_at, i.id.clone()))
    }

    /// The active incident of `watch` a new report joins: a reported one
    /// first, else the newest.
    fn active_on(&self, watch: &WatchId) -> Option<&Incident> {
        self.reported_on(watch).or_else(|| {
            self.incidents
                .values()
                .filter(|i| i.is_active() && &i.watch == watch)
                .max_by_key(|i| (i.opened_at, i.id.clone()))
        })
    }

    /// Records one alert. A known alert id is a [`Outcome::Duplicate`]: no
    /// event, no notification. The first alert of a detector incident the
    /// store does not know, on a watch with an active reported incident,
    /// joins that incident (one crisis, one incident): it and every later
    /// alert and spike of it are recorded there.
    pub fn on_alert(&mut self, a: &Alert, now: EventTime) -> Outcome {
        if self.is_duplicate(a) {
            return Outcome::Duplicate;
        }
        let mut a = a.clone();
        let mut joining = false;
        if !self.incidents.contains_key(&a.incident)
            && !self.joined.contains_key(&a.incident)
            && a.transition != Transition::Resolved
        {
            if let Some(home) = self.reported_on(&a.watch).map(|i| i.id.clone()) {
                let inc = self.incidents.get_mut(&home).expect("found above");
                inc.detected_as.push(a.incident.clone());
                // A new detector incident: its resolve is still to come.
                inc.detect_resolved = false;
                push_event(
                    inc,
                    now,
                    AUTOMATIC_ACTOR,
                    EventKind::Joined {
                        detect_incident: a.incident.clone(),
                    },
                );
                self.joined.insert(a.incident.clone(), home);
                joining = true;
            }
        }
        // Its own detector incident, or one that joined it or was merged in.
        let own = !self.joined.contains_key(&a.incident);
        a.incident = IncidentId::from(self.home(&a.incident));
        a.figures = a.figures.finite();
        let a = &a;
        self.seen.insert(a.alert_id.clone(), now);
        self.dirty.seen.insert(a.alert_id.clone());
        self.dirty.incidents.insert(a.incident.clone());
        let policy = &self.policy;
        let playbooks = &self.playbooks;
        let silences = &self.silences;
        let silence_for = |inc: &Incident| {
            silences
                .values()
                .find(|s| s.mutes(&inc.watch, inc.level, now))
                .map(|s| s.id.clone())
        };
        let is_new = !self.incidents.contains_key(&a.incident);
        let inc = self
            .incidents
            .entry(a.incident.clone())
            .or_insert_with(|| new_incident(a, now));
        inc.alert_ids.push(a.alert_id.clone());
        push_event(
            inc,
            now,
            AUTOMATIC_ACTOR,
            EventKind::Alert {
                alert_id: a.alert_id.clone(),
                transition: a.transition,
                level: a.level,
            },
        );
        merge_window(
            inc,
            a.figures.finite(),
            a.level.max(inc.level),
            &a.crisis_kinds,
            &a.sample_post_ids,
        );
        if a.transition != Transition::Resolved {
            inc.last_firing_at = inc.last_firing_at.max(now);
        }
        let mut sent = Sent::default();
        match a.transition {
            Transition::Resolved => {
                inc.detect_resolved = true;
                if !own {
                    // A detector incident that joined a report or was merged
                    // in: its spike being over does not end the incident.
                } else if is_new {
                    // Never heard of while live: recorded, nobody to tell.
                    resolve(inc, AUTOMATIC_ACTOR, now, &mut sent);
                } else if inc.resolved.is_none() {
                    inc.last_alert = a.clone();
                    resolve(inc, AUTOMATIC_ACTOR, now, &mut sent);
                }
            }
            // An alert never carries `Ongoing` (`Alert::from_spike`); one that
            // did would be an incident still firing.
            Transition::Opened | Transition::Escalated | Transition::Ongoing => {
                let rose = a.level > inc.level;
                if rose {
                    raise(inc, a.level, AUTOMATIC_ACTOR, now);
                }
                if rose || is_new {
                    set_clocks(inc, policy);
                }
                if rose || is_new || joining {
                    inc.last_alert = a.clone();
                    if !(a.evidence.stories.is_empty() && a.evidence.samples.is_empty()) {
                        if inc.evidence.len() >= MAX_EVIDENCE {
                            // Keep the opening's, drop the oldest rise's.
                            inc.evidence.remove(1.min(inc.evidence.len() - 1));
                        }
                        inc.evidence.push(LevelEvidence::of_alert(a, now));
                    }
                }
                let silence = silence_for(inc);
                if is_new {
                    // Its reporting path's owner owns it from the start.
                    let owner = policy
                        .path_for(inc.level, &inc.crisis_kinds)
                        .and_then(|p| p.owner.clone());
                    if let Some(owner) = owner {
                        inc.assignee = Some(owner.clone());
                        push_event(
                            inc,
                            now,
                            AUTOMATIC_ACTOR,
                            EventKind::Assign { assignee: owner },
                        );
                    }
                    begin(
                        inc,
                        policy,
                        silence,
                        NotifyReason::New,
                        Vec::new(),
                        now,
                        Some(&a.alert_id),
                        &mut sent,
                    );
                } else if inc.resolved.is_some() {
                    if rose && !inc.detect_resolved {
                        // Resolved by a person while detect still saw it
                        // live, and now it grew: the same crisis is back.
                        inc.resolved = None;
                        inc.acknowledged = None;
                        inc.reopened_at = Some(now);
                        inc.escalated_at = Some(now);
                        push_event(inc, now, AUTOMATIC_ACTOR, EventKind::Reopen);
                        escalate(inc, policy, silence, now, Some(&a.alert_id), &mut sent);
                    }
                    // Otherwise a stale or out-of-order alert of a closed
                    // incident: recorded only, never reopens it.
                } else if rose {
                    escalate(inc, policy, silence, now, Some(&a.alert_id), &mut sent);
                }
            }
        }
        if a.transition != Transition::Resolved {
            // After a level rise, so that the new level's playbook matches.
            attach_checklist(inc, playbooks);
        }
        inc.state = inc.derive_state();
        Outcome::Recorded {
            incident: a.incident.clone(),
            notifications: sent.notifications,
            silenced_by: sent.silenced_by,
        }
    }

    /// Records one spike: its window goes into the volume chart; an ongoing
    /// spike marks the incident as still firing; any other transition is
    /// handled as its alert ([`Alert::from_spike`]) by
    /// [`on_alert`](Self::on_alert). Feed each spike here *or* its alert to
    /// `on_alert`, not both.
    pub fn on_spike(&mut self, s: &Spike, now: EventTime) -> Outcome {
        if s.transition != Transition::Ongoing {
            let alert = Alert::from_spike(s).expect("only ongoing spikes have no alert");
            return self.on_alert(&alert, now);
        }
        let home = IncidentId::from(self.home(&s.incident));
        let Some(inc) = self.incidents.get_mut(&home) else {
            return Outcome::Ignored;
        };
        let fig = s.figures.finite();
        let level = inc.level;
        if !merge_window(inc, fig, level, &s.crisis_kinds, &s.sample_post_ids) {
            return Outcome::Duplicate;
        }
        inc.last_firing_at = inc.last_firing_at.max(now);
        attach_checklist(inc, &self.playbooks);
        self.dirty.incidents.insert(home.clone());
        Outcome::Recorded {
            incident: home,
            notifications: Vec::new(),
            silenced_by: None,
        }
    }

    /// A person acts on an incident. Acknowledging an acknowledged incident,
    /// resolving a resolved one, reopening an open one or assigning the
    /// current assignee changes nothing and records nothing
    /// (`changed: false`). An acknowledgement of a resolved incident (one
    /// that raced detect's resolve) is recorded and kept; the incident stays
    /// resolved.
    pub fn act(
        &mut self,
        id: &str,
        action: Action,
        actor: &str,
        now: EventTime,
    ) -> Result<ActOutcome, Error> {
        check_text("actor", actor)?;
        match &action {
            Action::Assign { assignee } => check_text("assignee", assignee)?,
            Action::Comment { text } => check_text("comment", text)?,
            Action::Role { person, .. } => check_text("person", person)?,
            Action::StatusUpdate { text, publish } => {
                check_text("status update", text)?;
                if *publish && self.policy.stakeholder_sinks.is_empty() {
                    return Err(Error::Invalid(
                        "no stakeholder sinks to publish to: set alert.stakeholder_sinks".into(),
                    ));
                }
            }
            Action::Review(r) => {
                let fields = [&r.root_cause, &r.actions, &r.effectiveness];
                if fields.iter().all(|f| f.is_none()) {
                    return Err(Error::Invalid(
                        "a review gives root_cause, actions or effectiveness".into(),
                    ));
                }
                for (name, f) in ["root_cause", "actions", "effectiveness"]
                    .iter()
                    .zip(fields)
                {
                    if let Some(t) = f {
                        check_text(name, t)?;
                    }
                }
            }
            Action::Ack | Action::Resolve | Action::Reopen | Action::Step { .. } => {}
        }
        let silence = self
            .incidents
            .get(id)
            .ok_or_else(|| Error::IncidentNotFound(id.to_string()))
            .map(|i| self.silence_for(i, now))?;
        if let Some(into) = &self.incidents[id].merged_into {
            if !matches!(action, Action::Comment { .. } | Action::Review(_)) {
                return Err(Error::Invalid(format!(
                    "incident `{id}` was merged into `{into}`: act on that one"
                )));
            }
        }
        if matches!(action, Action::Comment { .. } | Action::StatusUpdate { .. })
            && self.incidents[id].timeline.len() >= MAX_TIMELINE_EVENTS
        {
            return Err(Error::TimelineFull(id.to_string()));
        }
        let policy = &self.policy;
        let inc = self.incidents.get_mut(id).expect("checked above");
        let mut sent = Sent::default();
        let mut tta = None;
        let changed = match action {
            Action::Ack => {
                tta = acknowledge(inc, actor, now);
                tta.is_some()
            }
            Action::Assign { assignee } => {
                if inc.assignee.as_deref() == Some(assignee.as_str()) {
                    false
                } else {
                    inc.assignee = Some(assignee.clone());
                    push_event(inc, now, actor, EventKind::Assign { assignee });
                    if inc.resolved.is_none() {
                        tta = acknowledge(inc, actor, now);
                    }
                    true
                }
            }
            Action::Comment { text } => {
                push_event(inc, now, actor, EventKind::Comment { text });
                true
            }
            Action::Role { role, person } => {
                let holder = match role {
                    Role::Lead => &mut inc.lead,
                    Role::Communications => &mut inc.communications_lead,
                };
                if holder.as_deref() == Some(person.as_str()) {
                    false
                } else {
                    *holder = Some(person.clone());
                    push_event(inc, now, actor, EventKind::Role { role, person });
                    true
                }
            }
            Action::Review(r) => {
                let review = inc.review.get_or_insert_with(Default::default);
                let mut fields = Vec::new();
                for (name, new, old) in [
                    ("root_cause", r.root_cause, &mut review.root_cause),
                    ("actions", r.actions, &mut review.actions),
                    ("effectiveness", r.effectiveness, &mut review.effectiveness),
                ] {
                    if new.is_some() && new != *old {
                        *old = new;
                        fields.push(name.to_string());
                    }
                }
                if fields.is_empty() {
                    false
                } else {
                    push_event(inc, now, actor, EventKind::Reviewed { fields });
                    true
                }
            }
            Action::Step { step, done } => {
                let Some(list) = inc.checklist.as_mut() else {
                    return Err(Error::Invalid(format!("incident `{id}` has no checklist")));
                };
                let n = list.steps.len();
                let Some(s) = list.steps.get_mut(step) else {
                    return Err(Error::Invalid(format!(
                        "step {step} is not in the checklist ({n} steps, numbered from 0)"
                    )));
                };
                if s.done.is_some() == done {
                    false
                } else {
                    s.done = done.then(|| Stamp {
                        by: actor.to_string(),
                        at: now,
                    });
                    let text = s.text.clone();
                    push_event(inc, now, actor, EventKind::Step { step, text, done });
                    true
                }
            }
            Action::StatusUpdate { text, publish } => {
                let published_to = if publish {
                    policy.stakeholder_sinks.clone()
                } else {
                    Vec::new()
                };
                push_event(
                    inc,
                    now,
                    actor,
                    EventKind::StatusUpdate {
                        text: text.clone(),
                        published_to: published_to.clone(),
                    },
                );
                if publish {
                    let mut alert = inc.last_alert.clone();
                    alert.alert_id = AlertId::derive(
                        inc.watch.as_str(),
                        &inc.id,
                        &format!("status-{}", now.0),
                        inc.level,
                    );
                    alert.figures.reason = format!("Status update: {text}");
                    sent.notifications.push(notify(
                        inc,
                        alert,
                        published_to,
                        NotifyReason::StatusUpdate,
                        None,
                        now,
                    ));
                }
                if inc.first_response.is_none() {
                    inc.first_response = Some(Stamp {
                        by: actor.to_string(),
                        at: now,
                    });
                    meet(inc, Target::Respond, now);
                }
                true
            }
            Action::Resolve => {
                if inc.resolved.is_some() {
                    false
                } else {
                    resolve(inc, actor, now, &mut sent);
                    true
                }
            }
            Action::Reopen => {
                if inc.resolved.is_none() {
                    false
                } else {
                    inc.resolved = None;
                    inc.acknowledged = None;
                    inc.reopened_at = Some(now);
                    inc.unacked_since = now;
                    push_event(inc, now, actor, EventKind::Reopen);
                    begin(
                        inc,
                        policy,
                        silence,
                        NotifyReason::Reopened,
                        Vec::new(),
                        now,
                        None,
                        &mut sent,
                    );
                    true
                }
            }
        };
        inc.state = inc.derive_state();
        if changed {
            self.dirty.incidents.insert(IncidentId::from(id));
        }
        Ok(ActOutcome {
            incident: inc.clone(),
            changed,
            time_to_acknowledge_secs: tta,
            notifications: sent.notifications,
        })
    }

    /// A person reports an incident by hand. On a watch with an active
    /// incident the report joins it (a `reported` event; a higher level
    /// raises it and notifies as a level rise). Otherwise it opens a new
    /// incident, `<watch>-report-<ms>`, notified like a detector's (its
    /// alert carries the report as its reason), which a detector incident
    /// of the same watch joins when it opens later
    /// ([`on_alert`](Self::on_alert)). Detect's resolve never resolves a
    /// reported incident: people do.
    pub fn report(
        &mut self,
        r: NewReport,
        actor: &str,
        now: EventTime,
    ) -> Result<ReportOutcome, Error> {
        check_text("actor", actor)?;
        check_text("title", &r.title)?;
        if let Some(d) = &r.description {
            check_text("description", d)?;
        }
        if let Some(w) = r.watch.as_ref().filter(|w| !WatchId::is_valid(w.as_str())) {
            return Err(Error::Invalid(format!(
                "watch `{w}` is not a watch id (1-64 characters of a-z, 0-9, '-' and '_')"
            )));
        }
        at_most("links", r.links.len(), MAX_REPORT_LINKS)?;
        at_most("post ids", r.post_ids.len(), MAX_SAMPLE_POSTS)?;
        for l in &r.links {
            check_text("link", l)?;
            if !(l.starts_with("https://") || l.starts_with("http://")) {
                return Err(Error::Invalid(format!(
                    "link `{l}` is not an http or https URL"
                )));
            }
        }
        for p in &r.post_ids {
            check_text("post id", p.as_str())?;
        }
        let watch = r
            .watch
            .clone()
            .unwrap_or_else(|| WatchId::from(REPORTED_WATCH));
        let reported = EventKind::Reported {
            title: r.title.clone(),
            level: r.level,
        };
        if let Some(id) = self.active_on(&watch).map(|i| i.id.clone()) {
            let inc = self.incidents.get_mut(&id).expect("found above");
            push_event(inc, now, actor, reported);
            for p in &r.post_ids {
                if inc.sample_post_ids.len() < MAX_SAMPLE_POSTS && !inc.sample_post_ids.contains(p)
                {
                    inc.sample_post_ids.push(p.clone());
                }
            }
            if let Some(k) = r.crisis_kind.filter(|k| !inc.crisis_kinds.contains(k)) {
                inc.crisis_kinds.push(k);
                inc.crisis_kinds.sort();
                attach_checklist(inc, &self.playbooks);
            }
            self.dirty.incidents.insert(id.clone());
            let mut notifications = Vec::new();
            if r.level > inc.level {
                let mut alert = reported_alert(&r, &id, &watch, actor, now);
                alert.transition = Transition::Escalated;
                alert.alert_id =
                    AlertId::derive(watch.as_str(), &id, &format!("reported-{}", now.0), r.level);
                notifications = self.on_alert(&alert, now).notifications().to_vec();
            }
            let incident = self.incidents[&id].clone();
            return Ok(ReportOutcome {
                incident,
                created: false,
                notifications,
            });
        }
        let mut id = format!("{watch}-report-{}", now.0);
        let mut n = 1;
        while self.incidents.contains_key(id.as_str()) {
            n += 1;
            id = format!("{watch}-report-{}-{n}", now.0);
        }
        let alert = reported_alert(&r, &id, &watch, actor, now);
        let notifications = self.on_alert(&alert, now).notifications().to_vec();
        // A report's alert id is new unless a remembered one collides.
        let inc = self.incidents.get_mut(id.as_str()).ok_or_else(|| {
            Error::Invalid(format!("the report could not open `{id}`: try again"))
        })?;
        inc.timeline.insert(
            0,
            Event {
                at: now,
                actor: actor.to_string(),
                kind: reported,
            },
        );
        inc.report = Some(Report {
            title: r.title,
            description: r.description,
            links: r.links,
            by: actor.to_string(),
        });
        Ok(ReportOutcome {
            incident: inc.clone(),
            created: true,
            notifications,
        })
    }

    /// Merges incident `from` into `into` (two incidents about one crisis,
    /// for example on two watches). `into` gets `from`'s crisis kinds,
    /// sample posts and evidence, its level if higher (notified as a level
    /// rise), and its detector incidents: their later alerts and windows
    /// are recorded on `into`. `from` keeps its own timeline and is resolved
    /// without a notification (the crisis goes on in `into`). Merging an
    /// incident already merged, into itself, or into a merged one is
    /// refused.
    pub fn merge(
        &mut self,
        from: &str,
        into: &str,
        actor: &str,
        now: EventTime,
    ) -> Result<ActOutcome, Error> {
        check_text("actor", actor)?;
        if from == into {
            return Err(Error::Invalid(
                "an incident cannot be merged into itself".into(),
            ));
        }
        for id in [from, into] {
            match self.incidents.get(id) {
                None => return Err(Error::IncidentNotFound(id.to_string())),
                Some(i) if i.merged_into.is_some() => {
                    return Err(Error::Invalid(format!(
                        "incident `{id}` was already merged into `{}`",
                        i.merged_into.as_deref().unwrap_or_default()
                    )))
                }
                Some(_) => {}
            }
        }
        let Some(mut src) = self.incidents.remove(from) else {
            return Err(Error::IncidentNotFound(from.to_string()));
        };
        let silence = self.silence_for(&self.incidents[into], now);
        let policy = &self.policy;
        let dst = self.incidents.get_mut(into).expect("checked above");
        // Where the detector incidents of `from` (and `from` itself, when
        // detect opened it) are recorded from now on.
        let mut moved = vec![src.id.clone()];
        moved.append(&mut src.detected_as);
        for d in &moved {
            if !dst.detected_as.contains(d) {
                dst.detected_as.push(d.clone());
            }
            self.joined.insert(d.clone(), IncidentId::from(into));
        }
        // Anything that pointed at `from` points at `into` now.
        for home in self.joined.values_mut() {
            if home == from {
                *home = IncidentId::from(into);
            }
        }
        dst.merged_from.push(src.id.to_string());
        for k in &src.crisis_kinds {
            if !dst.crisis_kinds.contains(k) {
                dst.crisis_kinds.push(*k);
            }
        }
        dst.crisis_kinds.sort();
        for p in &src.sample_post_ids {
            if dst.sample_post_ids.len() < MAX_SAMPLE_POSTS && !dst.sample_post_ids.contains(p) {
                dst.sample_post_ids.push(p.clone());
            }
        }
        for e in &src.evidence {
            if dst.evidence.len() < MAX_EVIDENCE {
                dst.evidence.push(e.clone());
            }
        }
        if src.peak.observed > dst.peak.observed {
            dst.peak = src.peak.clone();
        }
        push_event(
            dst,
            now,
            actor,
            EventKind::Merged {
                from: src.id.to_string(),
            },
        );
        let mut sent = Sent::default();
        if src.level > dst.level && dst.resolved.is_none() {
            raise(dst, src.level, actor, now);
            set_clocks(dst, policy);
            escalate(dst, policy, silence, now, None, &mut sent);
        }
        dst.state = dst.derive_state();
        let incident = dst.clone();
        // `from` closes here without telling anyone: the crisis goes on.
        src.merged_into = Some(into.to_string());
        push_event(
            &mut src,
            now,
            actor,
            EventKind::MergedInto {
                into: into.to_string(),
            },
        );
        if src.resolved.is_none() {
            let stamp = Stamp {
                by: actor.to_string(),
                at: now,
            };
            src.resolved = Some(stamp.clone());
            src.first_resolved.get_or_insert(stamp);
            src.escalation = None;
            push_event(&mut src, now, actor, EventKind::Resolve);
        }
        src.state = src.derive_state();
        self.incidents.insert(src.id.clone(), src);
        self.dirty.incidents.insert(IncidentId::from(from));
        self.dirty.incidents.insert(IncidentId::from(into));
        Ok(ActOutcome {
            incident,
            changed: true,
            time_to_acknowledge_secs: None,
            notifications: sent.notifications,
        })
    }

    /// Runs the timers at `now`: acknowledgements that timed out while the
    /// incident kept firing are withdrawn, due escalation steps notify,
    /// and incidents, alert ids and silences past the retention are pruned.
    pub fn tick(&mut self, now: EventTime) -> Vec<Notification> {
        let mut out = Vec::new();
        let ids: Vec<IncidentId> = self
            .incidents
            .values()
            .filter(|i| i.is_active())
            .map(|i| i.id.clone())
            .collect();
        for id in ids {
            let silence = self.silence_for(&self.incidents[&id], now);
            let policy = &self.policy;
            let inc = self.incidents.get_mut(&id).expect("listed above");
            let before = (inc.timeline.len(), inc.escalation.clone(), inc.state);
            let mut sent = Sent::default();
            let lp = policy.for_incident(inc.level, &inc.crisis_kinds);
            let timed_out = match (&inc.acknowledged, lp.and_then(|p| p.ack_timeout)) {
                (Some(ack), Some(t)) => now >= plus(ack.at, t) && inc.last_firing_at > ack.at,
                _ => false,
            };
            if timed_out {
                inc.acknowledged = None;
                inc.unacked_since = now;
                push_event(
                    inc,
                    now,
                    AUTOMATIC_ACTOR,
                    EventKind::Unack {
                        reason: "ack_timeout".into(),
                    },
                );
                begin(
                    inc,
                    policy,
                    silence,
                    NotifyReason::AckTimeout,
                    Vec::new(),
                    now,
                    None,
                    &mut sent,
                );
            } else if inc.acknowledged.is_none() {
                if let Some(n) = advance(inc, policy, silence.is_some(), now) {
                    sent.notifications.push(n);
                }
            }
            // A missed target adds a timeline event: written below.
            let missed = check_clocks(inc, policy, now);
            sent.notifications.extend(missed);
            inc.state = inc.derive_state();
            if (inc.timeline.len(), inc.escalation.clone(), inc.state) != before {
                self.dirty.incidents.insert(id);
            }
            out.extend(sent.notifications);
        }
        self.prune(now);
        out
    }

    fn prune(&mut self, now: EventTime) {
        let cutoff = minus(now, self.retention);
        let old: Vec<IncidentId> = self
            .incidents
            .values()
            .filter(|i| i.resolved_at().is_some_and(|r| r < cutoff))
            .map(|i| i.id.clone())
            .collect();
        for id in old {
            if let Some(inc) = self.incidents.remove(&id) {
                for d in &inc.detected_as {
                    self.joined.remove(d);
                }
            }
            self.dirty.incidents.insert(id);
        }
        let old: Vec<AlertId> = self
            .seen
            .iter()
            .filter(|(_, at)| **at < cutoff)
            .map(|(id, _)| id.clone())
            .collect();
        for id in old {
            self.seen.remove(&id);
            self.dirty.seen.insert(id);
        }
        let old: Vec<String> = self
            .silences
            .values()
            .filter(|s| s.ends_at < cutoff)
            .map(|s| s.id.clone())
            .collect();
        for id in old {
            self.silences.remove(&id);
            self.dirty.silences.insert(id);
        }
    }
}

/// The alert a report opens its incident with (what sinks are sent): the
/// report as its reason, no window figures.
fn reported_alert(r: &NewReport, id: &str, watch: &WatchId, actor: &str, now: EventTime) -> Alert {
    Alert {
        alert_id: AlertId::derive(watch.as_str(), id, Transition::Opened.as_str(), r.level),
        watch: watch.clone(),
        incident: IncidentId::from(id),
        level: r.level,
        transition: Transition::Opened,
        triggers: Vec::new(),
        figures: vigil_types::WindowFigures {
            reason: format!("{}: reported by {actor}: {}", r.level, r.title),
            window_start: now,
            window_end: now,
            observed: 0,
            baseline: 0.0,
            z: 0.0,
            negative_share: 0.0,
            top_terms: Vec::new(),
            distinct_sources: 0,
        },
        sample_post_ids: r.post_ids.clone(),
        crisis_kinds: r.crisis_kind.into_iter().collect(),
        evidence: Default::default(),
    }
}

/// Records a level rise to `to`.
fn raise(inc: &mut Incident, to: Level, actor: &str, now: EventTime) {
    push_event(
        inc,
        now,
        actor,
        EventKind::LevelChange {
            from: inc.level,
            to,
        },
    );
    inc.level = to;
    inc.escalated_at = Some(now);
}

/// After a level rise of an unresolved incident: the acknowledgement is
/// withdrawn and the new level's escalation runs, telling everyone already
/// told as well.
fn escalate(
    inc: &mut Incident,
    policy: &EscalationPolicy,
    silence: Option<String>,
    now: EventTime,
    alert: Option<&AlertId>,
    sent: &mut Sent,
) {
    if inc.acknowledged.take().is_some() {
        push_event(
            inc,
            now,
            AUTOMATIC_ACTOR,
            EventKind::Unack {
                reason: "level_rise".into(),
            },
        );
    }
    inc.unacked_since = now;
    let extra = inc.notified_sinks.clone();
    begin(
        inc,
        policy,
        silence,
        NotifyReason::Escalated,
        extra,
        now,
        alert,
        sent,
    );
}

/// Gives the incident the checklist of the playbook that matches its kinds
/// and level; replaces a checklist nobody has ticked yet when a better match
/// appears (the kind became known, the level rose), never one in use.
fn attach_checklist(inc: &mut Incident, playbooks: &[Playbook]) {
    let Some(p) = Playbook::matching(playbooks, &inc.crisis_kinds, inc.level) else {
        return;
    };
    let replace = match &inc.checklist {
        None => true,
        Some(c) => c.playbook != p.name && c.steps.iter().all(|s| s.done.is_none()),
    };
    if replace {
        inc.checklist = Some(Checklist::of(p));
    }
}

/// Starts or tightens the response-target clocks for the incident's level:
/// each runs from the opening; a level rise can only bring a due time
/// forward.
fn set_clocks(inc: &mut Incident, policy: &EscalationPolicy) {
    let targets = policy.targets(inc.level);
    for target in Target::ALL {
        let Some(d) = targets.of(target) else {
            continue;
        };
        let due = plus(inc.opened_at, d);
        match inc.clocks.iter_mut().find(|c| c.target == target) {
            Some(c) => c.due_at = c.due_at.min(due),
            None => inc.clocks.push(Clock {
                target,
                due_at: due,
                met_at: None,
                missed_at: None,
            }),
        }
    }
}

/// Stops `target`'s clock at `now` (its first time only).
fn meet(inc: &mut Incident, target: Target, now: EventTime) {
    if let Some(c) = inc.clocks.iter_mut().find(|c| c.target == target) {
        c.met_at.get_or_insert(now);
    }
}

/// Records every clock of an active incident that ran out at `now` (once
/// each: a `target_missed` event) and tells the next on its path: the next
/// escalation step's sinks (the last step's once past it), or every sink
/// without a policy.
fn check_clocks(
    inc: &mut Incident,
    policy: &EscalationPolicy,
    now: EventTime,
) -> Vec<Notification> {
    let mut out = Vec::new();
    for i in 0..inc.clocks.len() {
        let c = &inc.clocks[i];
        if c.met_at.is_some() || c.missed_at.is_some() || now < c.due_at {
            continue;
        }
        let (target, due_at) = (c.target, c.due_at);
        inc.clocks[i].missed_at = Some(now);
        push_event(
            inc,
            now,
            AUTOMATIC_ACTOR,
            EventKind::TargetMissed { target, due_at },
        );
        let sinks = match policy.for_incident(inc.level, &inc.crisis_kinds) {
            Some(p) => {
                let next = inc.escalation.as_ref().map_or(0, |e| e.next_step);
                p.steps[next.min(p.steps.len() - 1)].sinks.clone()
            }
            None => policy.all_sinks.clone(),
        };
        let mut alert = inc.last_alert.clone();
        alert.alert_id = AlertId::derive(
            inc.watch.as_str(),
            &inc.id,
            &format!("missed-{target}"),
            inc.level,
        );
        alert.figures.reason = format!(
            "{target} target missed: due {} ({} after opening); {}",
            show(due_at),
            minutes(secs_between(inc.opened_at, due_at)),
            alert.figures.reason
        );
        let mut n = notify(inc, alert, sinks, NotifyReason::TargetMissed, None, now);
        n.target = Some(target);
        out.push(n);
    }
    out
}

/// Seconds as whole minutes (or seconds under one).
fn minutes(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.0} s")
    } else {
        format!("{:.0} min", secs / 60.0)
    }
}

/// Sets the acknowledgement; the seconds it took when it was not set.
fn acknowledge(inc: &mut Incident, actor: &str, now: EventTime) -> Option<f64> {
    if inc.acknowledged.is_some() {
        return None;
    }
    let stamp = Stamp {
        by: actor.to_string(),
        at: now,
    };
    inc.acknowledged = Some(stamp.clone());
    inc.first_acknowledged.get_or_insert(stamp);
    meet(inc, Target::Acknowledge, now);
    if let Some(e) = &mut inc.escalation {
        e.next_at = None;
    }
    push_event(inc, now, actor, EventKind::Ack);
    Some(secs_between(inc.unacked_since, now))
}

/// Resolves an unresolved incident and tells every sink told about it.
fn resolve(inc: &mut Incident, actor: &str, now: EventTime, sent: &mut Sent) {
    let stamp = Stamp {
        by: actor.to_string(),
        at: now,
    };
    inc.resolved = Some(stamp.clone());
    inc.first_resolved.get_or_insert(stamp);
    meet(inc, Target::Resolve, now);
    inc.escalation = None;
    push_event(inc, now, actor, EventKind::Resolve);
    if inc.notified_sinks.is_empty() {
        return;
    }
    let mut alert = inc.last_alert.clone();
    if alert.transition != Transition::Resolved {
        alert.transition = Transition::Resolved;
        alert.alert_id = AlertId::derive(
            inc.watch.as_str(),
            &inc.id,
            Transition::Resolved.as_str(),
            inc.level,
        );
        alert.level = inc.level;
    }
    sent.notifications.push(notify(
        inc,
        alert,
        inc.notified_sinks.clone(),
        NotifyReason::Resolved,
        None,
        now,
    ));
}

/// Records and builds one notification.
fn notify(
    inc: &mut Incident,
    alert: Alert,
    sinks: Vec<String>,
    reason: NotifyReason,
    step: Option<usize>,
    now: EventTime,
) -> Notification {
    push_unique(&mut inc.notified_sinks, &sinks);
    push_event(
        inc,
        now,
        AUTOMATIC_ACTOR,
        EventKind::Notified {
            sinks: sinks.clone(),
            people: Vec::new(),
            step,
            reason,
        },
    );
    Notification {
        incident: inc.id.clone(),
        alert,
        sinks,
        reason,
        step,
        target: None,
        outbox_id: 0,
        attempts: 0,
        first_failed_at: None,
        failed_at: None,
    }
}

/// Starts a notification run (a new incident, a level rise, an ack timeout
/// or a reopen). With a policy for the level, step 0 notifies now and later
/// steps on ticks; without one, every sink is notified once. A silence
/// withholds it (recorded as `suppressed`); with a policy the run waits and
/// notifies once the silence is over.
#[allow(clippy::too_many_arguments)]
fn begin(
    inc: &mut Incident,
    policy: &EscalationPolicy,
    silence: Option<String>,
    reason: NotifyReason,
    extra: Vec<String>,
    now: EventTime,
    alert: Option<&AlertId>,
    sent: &mut Sent,
) {
    if let Some(sid) = &silence {
        let alert_id = alert
            .cloned()
            .unwrap_or_else(|| inc.last_alert.alert_id.clone());
        if alert.is_some() {
            inc.suppressed_alerts += 1;
        }
        push_event(
            inc,
            now,
            AUTOMATIC_ACTOR,
            EventKind::Suppressed {
                silence_id: sid.clone(),
                alert_id,
            },
        );
        sent.silenced_by = Some(sid.clone());
    }
    if policy.for_incident(inc.level, &inc.crisis_kinds).is_some() {
        inc.escalation = Some(Escalation {
            level: inc.level,
            started_at: now,
            next_step: 0,
            next_at: Some(now),
            first_reason: reason,
            extra_sinks: extra,
        });
        if let Some(n) = advance(inc, policy, silence.is_some(), now) {
            sent.notifications.push(n);
        }
    } else {
        inc.escalation = None;
        if silence.is_none() {
            let mut sinks = policy.all_sinks.clone();
            push_unique(&mut sinks, &extra);
            if !sinks.is_empty() {
                let alert = inc.last_alert.clone();
                sent.notifications
                    .push(notify(inc, alert, sinks, reason, None, now));
            }
        }
    }
}

/// Notifies the escalation steps due at `now` (all of them together when
/// several are due, so nobody in the chain is skipped), or repeats the
/// last one; schedules the next. Nothing while silenced: the due steps wait.
fn advance(
    inc: &mut Incident,
    policy: &EscalationPolicy,
    silenced: bool,
    now: EventTime,
) -> Option<Notification> {
    let lp = policy.for_incident(inc.escalation.as_ref()?.level, &inc.crisis_kinds);
    let esc = inc.escalation.as_mut()?;
    let Some(lp) = lp else {
        // The policy was removed by a config reload.
        inc.escalation = None;
        return None;
    };
    if esc.next_at.is_none_or(|t| now < t) || silenced {
        return None;
    }
    let steps = &lp.steps;
    esc.next_step = esc.next_step.min(steps.len());
    let first = esc.next_step;
    let mut sinks = Vec::new();
    let mut people = Vec::new();
    let mut k = first;
    if k < steps.len() {
        while k < steps.len() && plus(esc.started_at, steps[k].after) <= now {
            push_unique(&mut sinks, &steps[k].sinks);
            push_unique(&mut people, &steps[k].people);
            if k == 0 {
                push_unique(&mut sinks, &esc.extra_sinks);
            }
            k += 1;
        }
        if k == first {
            // Not due after all (the policy changed): reschedule.
            esc.next_at = Some(plus(esc.started_at, steps[k].after));
            return None;
        }
    } else {
        push_unique(&mut sinks, &steps[steps.len() - 1].sinks);
        push_unique(&mut people, &steps[steps.len() - 1].people);
    }
    let step = k.max(1) - 1;
    let reason = if first == 0 {
        esc.first_reason
    } else {
        NotifyReason::Renotify
    };
    esc.next_step = k;
    esc.next_at = if k < steps.len() {
        Some(plus(esc.started_at, steps[k].after))
    } else {
        lp.repeat.map(|r| plus(now, r))
    };
    let alert = inc.last_alert.clone();
    let n = notify(inc, alert, sinks, reason, Some(step), now);
    // Name the people of a reporting path on the event just recorded.
    if let Some(Event {
        kind: EventKind::Notified { people: p, .. },
        ..
    }) = inc.timeline.last_mut()
    {
        *p = people;
    }
    Some(n)
}
