//! Escalation policy: per level, which sinks to notify when, and how long an
//! acknowledgement holds while the incident keeps firing.

use std::time::Duration;

use vigil_config::{AlertSettings, EscalationLevelConfig, IncidentsSettings, LevelTargetsConfig};
use vigil_types::{CrisisKind, Level};

use crate::model::Target;

/// One escalation step: notify `sinks` once the incident has gone
/// unacknowledged for `after`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Delay from the start of the run (opening, level rise, ack timeout or
    /// reopen). Step 0 is always `0`.
    pub after: Duration,
    /// Sink names.
    pub sinks: Vec<String>,
    /// The people these sinks reach, for a step of a reporting path (empty
    /// for a step of `[alert.escalation]`).
    pub people: Vec<String>,
}

/// A reporting path (`[[incidents.paths]]`): for incidents of a level
/// and/or crisis kind, the owner a new one is assigned to and the people
/// told in turn while nobody acknowledges it. It replaces the steps of the
/// level's escalation policy (its `ack_timeout` and `repeat` still apply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportingPath {
    /// Only this level (`None`: every level).
    pub level: Option<Level>,
    /// Only this crisis kind (`None`: every kind).
    pub kind: Option<CrisisKind>,
    /// Who owns a new incident.
    pub owner: Option<String>,
    /// The steps, each reaching a person or team.
    pub steps: Vec<Step>,
}

/// The policy of one level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelPolicy {
    /// Steps, by increasing `after`; step 0 has `after == 0`.
    pub steps: Vec<Step>,
    /// An acknowledged incident that fired again after its acknowledgement
    /// returns to unacknowledged this long after the acknowledgement.
    pub ack_timeout: Option<Duration>,
    /// After the last step, notify its sinks again at this interval until
    /// acknowledged or resolved; `None` stops after the last step.
    pub repeat: Option<Duration>,
}

/// The response targets of one level: each from the incident's opening.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    /// Acknowledge within.
    pub acknowledge: Option<Duration>,
    /// First status update within.
    pub respond: Option<Duration>,
    /// Resolve within.
    pub resolve: Option<Duration>,
}

impl Targets {
    /// The duration of `target`, if set.
    pub fn of(&self, target: Target) -> Option<Duration> {
        match target {
            Target::Acknowledge => self.acknowledge,
            Target::Respond => self.respond,
            Target::Resolve => self.resolve,
        }
    }
}

/// What to notify, per level. A level without a policy notifies every sink
/// once per alert, with no timers (Vigil's behaviour before policies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EscalationPolicy {
    /// Every sink name, in configuration order.
    pub all_sinks: Vec<String>,
    /// Policies for minor, moderate and major (index = level order).
    pub levels: [Option<LevelPolicy>; 3],
    /// Response targets for minor, moderate and major.
    pub targets: [Targets; 3],
    /// Sinks that receive published status updates.
    pub stakeholder_sinks: Vec<String>,
    /// Reporting paths by level and crisis kind.
    pub paths: Vec<ReportingPath>,
}

fn level_index(level: Level) -> usize {
    match level {
        Level::Minor => 0,
        Level::Moderate => 1,
        Level::Major => 2,
    }
}

impl EscalationPolicy {
    /// No policy for any level: every alert goes to every one of `sinks`.
    pub fn notify_all(sinks: Vec<String>) -> EscalationPolicy {
        EscalationPolicy {
            all_sinks: sinks,
            levels: [None, None, None],
            targets: Default::default(),
            stakeholder_sinks: Vec::new(),
            paths: Vec::new(),
        }
    }

    /// Sets the policy of one level.
    pub fn with_level(mut self, level: Level, policy: LevelPolicy) -> EscalationPolicy {
        self.levels[level_index(level)] = Some(policy);
        self
    }

    /// Sets the response targets of one level.
    pub fn with_targets(mut self, level: Level, targets: Targets) -> EscalationPolicy {
        self.targets[level_index(level)] = targets;
        self
    }

    /// Publishes status updates to `sinks`.
    pub fn with_stakeholders(mut self, sinks: Vec<String>) -> EscalationPolicy {
        self.stakeholder_sinks = sinks;
        self
    }

    /// The response targets of `level`.
    pub fn targets(&self, level: Level) -> &Targets {
        &self.targets[level_index(level)]
    }

    /// From `[alert]`: sink names from `alert.sinks`, levels from
    /// `[alert.escalation.<level>]` and targets from `[alert.targets.<level>]`
    /// (already validated by `vigil-config`).
    pub fn from_settings(alert: &AlertSettings) -> EscalationPolicy {
        let all_sinks = alert.sinks.iter().map(|s| s.name().to_string()).collect();
        let e = &alert.escalation;
        let conv = |c: &Option<EscalationLevelConfig>| {
            c.as_ref().map(|c| LevelPolicy {
                steps: c
                    .steps
                    .iter()
                    .map(|s| Step {
                        after: Duration::from_secs(s.after_secs),
                        sinks: s.sinks.clone(),
                        people: Vec::new(),
                    })
                    .collect(),
                ack_timeout: c.ack_timeout_secs.map(Duration::from_secs),
                repeat: c.repeat_secs.map(Duration::from_secs),
            })
        };
        let t = &alert.targets;
        let targets = |c: &Option<LevelTargetsConfig>| {
            c.as_ref().map_or_else(Targets::default, |c| Targets {
                acknowledge: c.acknowledge_secs.map(Duration::from_secs),
                respond: c.respond_secs.map(Duration::from_secs),
                resolve: c.resolve_secs.map(Duration::from_secs),
            })
        };
        EscalationPolicy {
            all_sinks,
            levels: [conv(&e.minor), conv(&e.moderate), conv(&e.major)],
            targets: [targets(&t.minor), targets(&t.moderate), targets(&t.major)],
            stakeholder_sinks: alert.stakeholder_sinks.clone(),
            paths: Vec::new(),
        }
    }

    /// Adds the reporting paths of `[incidents]`: each person or team
    /// becomes the sinks that reach them (a team without sinks of its own:
    /// its members').
    pub fn with_roster(mut self, incidents: &IncidentsSettings) -> EscalationPolicy {
        let reach = |name: &str| -> (Vec<String>, Vec<String>) {
            if let Some(p) = incidents.people.iter().find(|p| p.name == name) {
                return (p.sinks.clone(), vec![p.name.clone()]);
            }
            let Some(t) = incidents.teams.iter().find(|t| t.name == name) else {
                return (Vec::new(), Vec::new());
            };
            let mut sinks = t.sinks.clone();
            if sinks.is_empty() {
                for m in &t.members {
                    for s in incidents
                        .people
                        .iter()
                        .filter(|p| &p.name == m)
                        .flat_map(|p| &p.sinks)
                    {
                        if !sinks.contains(s) {
                            sinks.push(s.clone());
                        }
                    }
                }
            }
            (sinks, t.members.clone())
        };
        self.paths = incidents
            .paths
            .iter()
            .map(|p| ReportingPath {
                level: p.level,
                kind: p.kind,
                owner: p.owner.clone(),
                steps: p
                    .steps
                    .iter()
                    .map(|s| {
                        let (sinks, people) = reach(&s.to);
                        Step {
                            after: Duration::from_secs(s.after_secs),
                            sinks,
                            people,
                        }
                    })
                    .collect(),
            })
            .collect();
        self
    }

    /// The reporting path for an incident of `level` and `kinds`: one for
    /// the level and one of its kinds, else for one of its kinds, else for
    /// the level, else for everything (kinds in their order).
    pub fn path_for(&self, level: Level, kinds: &[CrisisKind]) -> Option<&ReportingPath> {
        let find = |l: Option<Level>, k: Option<CrisisKind>| {
            self.paths.iter().find(|p| p.level == l && p.kind == k)
        };
        kinds
            .iter()
            .find_map(|k| find(Some(level), Some(*k)))
            .or_else(|| kinds.iter().find_map(|k| find(None, Some(*k))))
            .or_else(|| find(Some(level), None))
            .or_else(|| find(None, None))
    }

    /// The policy that runs for an incident of `level` and `kinds`: the
    /// steps of its reporting path if one matches (with the level's
    /// `ack_timeout` and `repeat`), else the level's policy.
    pub fn for_incident(&self, level: Level, kinds: &[CrisisKind]) -> Option<LevelPolicy> {
        let lp = self.level(level);
        match self.path_for(level, kinds).filter(|p| !p.steps.is_empty()) {
            Some(path) => Some(LevelPolicy {
                steps: path.steps.clone(),
                ack_timeout: lp.and_then(|l| l.ack_timeout),
                repeat: lp.and_then(|l| l.repeat),
            }),
            None => lp.cloned(),
        }
    }

    /// The policy of `level`, if one is configured (and has steps).
    pub fn level(&self, level: Level) -> Option<&LevelPolicy> {
        self.levels[level_index(level)]
            .as_ref()
            .filter(|p| !p.steps.is_empty())
    }
}
