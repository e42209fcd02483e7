//! The pure alert core: spike in, alert (or a suppression reason) out.

use std::collections::{HashSet, VecDeque};

use vigil_types::{Alert, AlertId, Spike};

/// What to do with one spike.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Deliver this alert to every sink.
    Send(Box<Alert>),
    /// Do not alert; the reason is the `reason` label of
    /// `vigil_alert_suppressed_alerts_total` (`duplicate`, `ongoing`).
    Suppress(&'static str),
}

/// Remembers recent alert ids (bounded) to drop duplicates.
#[derive(Debug)]
pub struct Alerter {
    capacity: usize,
    seen: HashSet<AlertId>,
    order: VecDeque<AlertId>,
}

impl Alerter {
    /// Remembers up to `capacity` alert ids.
    pub fn new(capacity: usize) -> Alerter {
        Alerter {
            capacity: capacity.max(1),
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Remembers an alert id already sent (rebuilding state after a restart
    /// from the alerts stream).
    pub fn remember(&mut self, id: AlertId) {
        if self.seen.insert(id.clone()) {
            self.order.push_back(id);
            if self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }

    /// Decides on one spike: an incident state change alerts once; an
    /// ongoing spike or a repeat of a known alert id does not.
    pub fn on_spike(&mut self, spike: &Spike) -> Decision {
        let Some(alert) = Alert::from_spike(spike) else {
            return Decision::Suppress("ongoing");
        };
        if self.seen.contains(&alert.alert_id) {
            return Decision::Suppress("duplicate");
        }
        if self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert(alert.alert_id.clone());
        self.order.push_back(alert.alert_id.clone());
        Decision::Send(Box::new(alert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_types::{EventTime, Level, Transition, WatchId};

    fn spike(t: Transition, level: Level, incident: &str) -> Spike {
        Spike {
            watch: WatchId::from("w"),
            incident: incident.into(),
            transition: t,
            level,
            triggers: vec![],
            reason: String::new(),
            window_start: EventTime(0),
            window_end: EventTime(1),
            observed: 1,
            baseline: 0.0,
            z: 0.0,
            negative_share: 0.0,
            top_terms: vec![],
            sample_post_ids: vec![],
            distinct_sources: 0,
            distinct_regions: 0,
            crisis_kinds: vec![],
        }
    }

    #[test]
    fn state_changes_alert_once() {
        let mut a = Alerter::new(10);
        let opened = spike(Transition::Opened, Level::Minor, "i1");
        let Decision::Send(first) = a.on_spike(&opened) else {
            panic!("open must alert")
        };
        assert_eq!(a.on_spike(&opened), Decision::Suppress("duplicate"));
        assert_eq!(
            a.on_spike(&spike(Transition::Ongoing, Level::Minor, "i1")),
            Decision::Suppress("ongoing")
        );
        let Decision::Send(esc) = a.on_spike(&spike(Transition::Escalated, Level::Major, "i1"))
        else {
            panic!("escalation must alert")
        };
        assert_ne!(first.alert_id, esc.alert_id);
        assert!(matches!(
            a.on_spike(&spike(Transition::Resolved, Level::Major, "i1")),
            Decision::Send(_)
        ));
        // A new incident of the same watch is a new alert.
        assert!(matches!(
            a.on_spike(&spike(Transition::Opened, Level::Minor, "i2")),
            Decision::Send(_)
        ));
    }

    #[test]
    fn memory_is_bounded() {
        let mut a = Alerter::new(2);
        for i in 0..5 {
            a.on_spike(&spike(Transition::Opened, Level::Minor, &format!("i{i}")));
        }
        assert_eq!(a.seen.len(), 2);
        assert_eq!(a.order.len(), 2);
    }
}
