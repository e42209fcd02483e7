//! Escalation policy: per level, which sinks to notify when, and how long an
//! acknowledgement holds while the incident keeps firing.

use std::time::Duration;

use vigil_config::{AlertConfig, EscalationLevelConfig, LevelTargetsConfig};
use vigil_types::Level;

use crate::model::Target;

/// One escalation step: notify `sinks` once the incident has gone
/// unacknowledged for `after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Delay from the start of the run (opening, level rise, ack timeout or
    /// reopen). Step 0 is always `0`.
    pub after: Duration,
    /// Sink names.
    pub sinks: Vec<String>,
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
    pub fn from_config(alert: &AlertConfig) -> EscalationPolicy {
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
        }
    }

    /// The policy of `level`, if one is configured (and has steps).
    pub fn level(&self, level: Level) -> Option<&LevelPolicy> {
        self.levels[level_index(level)]
            .as_ref()
            .filter(|p| !p.steps.is_empty())
    }
}
