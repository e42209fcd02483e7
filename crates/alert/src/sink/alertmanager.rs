//! The `alertmanager` sink: Prometheus Alertmanager API v2
//! (`POST <url>/api/v2/alerts`, a JSON array of alerts), through the shared
//! [`HttpDelivery`].
//!
//! One incident is one Alertmanager alert, identified by its labels:
//!
//! | label | value |
//! |---|---|
//! | `alertname` | `VigilCrisis` |
//! | `watch` | the watch id |
//! | `incident` | the incident id |
//! | `level` | `minor`, `moderate` or `major` |
//! | `kind` | the first crisis kind (`product_safety`, ...) or `none` |
//!
//! Annotations: `summary`, `reason`, `alert_id`, and `description` (the top
//! stories with their counts and the rising terms, at most
//! [`DESCRIPTION_MAX_CHARS`] characters) when the alert has them. `startsAt` is the start of
//! the window that opened the incident.
//!
//! - **Opened**: the alert fires. Vigil sends on state changes only, not
//!   every minute as Prometheus does, so `endsAt` is set `firing_ttl_secs`
//!   ahead (0 leaves it out and Alertmanager's `resolve_timeout` applies).
//! - **Resolved**: the same labels with `endsAt` = the resolving window's
//!   end, so Alertmanager resolves that alert.
//! - **Escalated**: `level` (and maybe `kind`) change, so the labels do: the
//!   request carries the new firing alert *and* the previous one resolved
//!   (`endsAt` = the escalating window's start).
//!
//! The sink remembers the labels it last sent as firing for each live
//! incident (the `kind` of a resolving window is usually `none`, so it
//! cannot be recomputed). After a restart that memory is empty: a resolve
//! or escalation for an unknown incident then resolves every `kind` the
//! incident may have fired with (at its level, and for an escalation at
//! every lower level). Alertmanager ignores a resolved alert it never saw
//! firing, so these extra entries notify no one.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::Duration,
};

use serde::Serialize;
use vigil_types::{Alert, CrisisKind, EventTime, IncidentId, Level, Transition};

use super::{HttpDelivery, SinkError};

/// The `alertname` label of every alert.
pub(crate) const ALERT_NAME: &str = "VigilCrisis";
/// Live incidents remembered (the oldest is forgotten beyond this).
const MAX_REMEMBERED: usize = 10_000;

/// Longest `description` annotation: what a chat or mail template shows
/// (Alertmanager itself has no limit; its receivers do).
pub(crate) const DESCRIPTION_MAX_CHARS: usize = 1000;

type Labels = BTreeMap<&'static str, String>;

/// One entry of the request body (Alertmanager's `postableAlert`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct PostableAlert {
    labels: Labels,
    annotations: BTreeMap<&'static str, String>,
    #[serde(rename = "startsAt")]
    starts_at: String,
    #[serde(rename = "endsAt", skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    generator_url: Option<String>,
}

/// What was last sent as firing for a live incident.
#[derive(Clone, Debug, PartialEq)]
struct Firing {
    labels: Labels,
    kind: Option<&'static str>,
    starts_at: EventTime,
}

/// How the memory changes once a request succeeds.
#[derive(Debug, PartialEq)]
enum Update {
    Remember(IncidentId, Firing),
    Forget(IncidentId),
}

pub(crate) struct AlertmanagerSink {
    http: HttpDelivery,
    generator_url: Option<String>,
    firing_ttl: Duration,
    firing: HashMap<IncidentId, Firing>,
    /// Incidents in the order first remembered (may hold forgotten ones).
    order: VecDeque<IncidentId>,
}

impl AlertmanagerSink {
    pub(crate) fn new(
        http: HttpDelivery,
        generator_url: Option<String>,
        firing_ttl: Duration,
    ) -> AlertmanagerSink {
        AlertmanagerSink {
            http,
            generator_url,
            firing_ttl,
            firing: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(crate) async fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let (body, update) = self.plan(alert, EventTime::wall_clock());
        let body = serde_json::to_vec(&body)?;
        self.http.post(&body, |_| Default::default()).await?;
        self.apply(update);
        Ok(())
    }

    /// The request body for `alert` at wall-clock time `now`, and how the
    /// memory changes if it is delivered.
    fn plan(&self, a: &Alert, now: EventTime) -> (Vec<PostableAlert>, Update) {
        let known = self.firing.get(&a.incident);
        let description = a.evidence.summary_line(DESCRIPTION_MAX_CHARS);
        let annotations = |summary: String| {
            let mut m = BTreeMap::from([
                ("summary", summary),
                ("reason", a.figures.reason.clone()),
                ("alert_id", a.alert_id.to_string()),
            ]);
            if !description.is_empty() {
                m.insert("description", description.clone());
            }
            m
        };
        let entry = |labels: Labels, starts_at: EventTime, ends_at: Option<EventTime>, summary| {
            PostableAlert {
                labels,
                annotations: annotations(summary),
                starts_at: starts_at.to_rfc3339(),
                ends_at: ends_at.map(EventTime::to_rfc3339),
                generator_url: self.generator_url.clone(),
            }
        };
        let summary = format!(
            "{} crisis on watch {} ({}): {} posts vs baseline {:.1}",
            a.level,
            a.watch,
            a.transition.as_str(),
            a.figures.observed,
            a.figures.baseline
        );
        match a.transition {
            Transition::Opened | Transition::Escalated | Transition::Ongoing => {
                let kind = a
                    .crisis_kinds
                    .first()
                    .map(|k| k.as_str())
                    .or(known.and_then(|f| f.kind));
                let labels = labels(a, a.level, kind.unwrap_or("none"));
                let ends_at = (!self.firing_ttl.is_zero()).then(|| {
                    let ttl = i64::try_from(self.firing_ttl.as_millis()).unwrap_or(i64::MAX);
                    EventTime(now.0.max(a.figures.window_end.0).saturating_add(ttl))
                });
                let mut out = vec![entry(
                    labels.clone(),
                    a.figures.window_start,
                    ends_at,
                    summary,
                )];
                if a.transition == Transition::Escalated {
                    let superseded = format!("superseded: escalated to {}", a.level);
                    match known {
                        Some(prev) if prev.labels != labels => out.push(entry(
                            prev.labels.clone(),
                            prev.starts_at,
                            Some(a.figures.window_start),
                            superseded,
                        )),
                        Some(_) => {}
                        None => {
                            for level in Level::ALL.into_iter().filter(|l| *l < a.level) {
                                for k in every_kind() {
                                    out.push(entry(
                                        self::labels(a, level, k),
                                        a.figures.window_start,
                                        Some(a.figures.window_start),
                                        superseded.clone(),
                                    ));
                                }
                            }
                        }
                    }
                }
                let starts_at = match (a.transition, known) {
                    (Transition::Escalated, _) | (_, None) => a.figures.window_start,
                    (_, Some(prev)) => prev.starts_at,
                };
                let firing = Firing {
                    labels,
                    kind,
                    starts_at,
                };
                (out, Update::Remember(a.incident.clone(), firing))
            }
            Transition::Resolved => {
                let out = match known {
                    Some(prev) => vec![entry(
                        prev.labels.clone(),
                        prev.starts_at,
                        Some(a.figures.window_end),
                        summary,
                    )],
                    None => every_kind()
                        .map(|k| {
                            entry(
                                labels(a, a.level, k),
                                a.figures.window_start,
                                Some(a.figures.window_end),
                                summary.clone(),
                            )
                        })
                        .collect(),
                };
                (out, Update::Forget(a.incident.clone()))
            }
        }
    }

    fn apply(&mut self, update: Update) {
        match update {
            Update::Remember(incident, firing) => {
                if self.firing.insert(incident.clone(), firing).is_none() {
                    self.order.push_back(incident);
                }
                while self.firing.len() > MAX_REMEMBERED {
                    match self.order.pop_front() {
                        Some(oldest) => {
                            self.firing.remove(&oldest);
                        }
                        None => break,
                    }
                }
            }
            Update::Forget(incident) => {
                self.firing.remove(&incident);
            }
        }
        // Drop forgotten incidents from the order now and then.
        if self.order.len() > 2 * MAX_REMEMBERED.max(self.firing.len()) {
            let firing = &self.firing;
            self.order.retain(|i| firing.contains_key(i));
        }
    }
}

fn labels(a: &Alert, level: Level, kind: &str) -> Labels {
    BTreeMap::from([
        ("alertname", ALERT_NAME.to_string()),
        ("watch", a.watch.to_string()),
        ("incident", a.incident.to_string()),
        ("level", level.as_str().to_string()),
        ("kind", kind.to_string()),
    ])
}

/// Every `kind` label value.
fn every_kind() -> impl Iterator<Item = &'static str> {
    CrisisKind::ALL
        .into_iter()
        .map(CrisisKind::as_str)
        .chain(["none"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_config::Delivery;

    fn sink(ttl_secs: u64) -> AlertmanagerSink {
        let d = Delivery {
            timeout_ms: 1000,
            max_retries: 0,
            backoff_initial_ms: 1,
            backoff_max_ms: 1,
        };
        AlertmanagerSink::new(
            HttpDelivery::new("am", "http://127.0.0.1:9/api/v2/alerts".into(), &d).unwrap(),
            None,
            Duration::from_secs(ttl_secs),
        )
    }

    fn alert(state: Transition, level: Level, kinds: Vec<CrisisKind>, start_min: i64) -> Alert {
        let end = (start_min + 1) * 60;
        let mut a = vigil_types::fixtures::alert("acme", "acme-1", state, level, end);
        a.figures.reason = "r".into();
        a.figures.observed = 10;
        a.figures.baseline = 1.0;
        a.figures.z = 5.0;
        a.figures.negative_share = 0.2;
        a.figures.top_terms = vec![];
        a.figures.distinct_sources = 1;
        a.crisis_kinds = kinds;
        a
    }

    fn label_set(p: &[PostableAlert]) -> Vec<(String, String, Option<String>)> {
        p.iter()
            .map(|p| {
                (
                    p.labels["level"].clone(),
                    p.labels["kind"].clone(),
                    p.ends_at.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn open_escalate_resolve_keeps_one_identity_per_level() {
        let mut s = sink(3600);
        let now = EventTime(0);
        let open = alert(Transition::Opened, Level::Minor, vec![CrisisKind::Legal], 0);
        let (body, update) = s.plan(&open, now);
        assert_eq!(
            label_set(&body),
            [(
                "minor".into(),
                "legal".into(),
                Some("1970-01-01T01:01:00.000Z".into())
            )]
        );
        s.apply(update);
        // Escalation whose window has no kind keeps the remembered one, and
        // resolves the minor alert.
        let esc = alert(Transition::Escalated, Level::Major, vec![], 5);
        let (body, update) = s.plan(&esc, now);
        assert_eq!(
            label_set(&body),
            [
                (
                    "major".into(),
                    "legal".into(),
                    Some("1970-01-01T01:06:00.000Z".into())
                ),
                (
                    "minor".into(),
                    "legal".into(),
                    Some("1970-01-01T00:05:00.000Z".into())
                ),
            ]
        );
        assert_eq!(body[1].starts_at, "1970-01-01T00:00:00.000Z");
        s.apply(update);
        // The resolve (no kinds in its quiet window) resolves the same alert.
        let res = alert(Transition::Resolved, Level::Major, vec![], 20);
        let (body, update) = s.plan(&res, now);
        assert_eq!(
            label_set(&body),
            [(
                "major".into(),
                "legal".into(),
                Some("1970-01-01T00:21:00.000Z".into())
            )]
        );
        assert_eq!(body[0].starts_at, "1970-01-01T00:05:00.000Z");
        s.apply(update);
        assert!(s.firing.is_empty());
    }

    #[test]
    fn unknown_incident_resolves_every_kind() {
        let s = sink(0);
        let res = alert(Transition::Resolved, Level::Moderate, vec![], 20);
        let (body, _) = s.plan(&res, EventTime(0));
        let kinds: Vec<&str> = body.iter().map(|p| p.labels["kind"].as_str()).collect();
        assert_eq!(kinds.len(), 7);
        assert!(kinds.contains(&"none") && kinds.contains(&"data_breach"));
        assert!(body.iter().all(|p| p.labels["level"] == "moderate"
            && p.ends_at.as_deref() == Some("1970-01-01T00:21:00.000Z")));
        let esc = alert(Transition::Escalated, Level::Major, vec![], 5);
        let (body, _) = s.plan(&esc, EventTime(0));
        // The new alert (no endsAt with ttl 0) plus 2 lower levels x 7 kinds.
        assert_eq!(body.len(), 1 + 14);
        assert_eq!(body[0].ends_at, None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut s = sink(60);
        for i in 0..(MAX_REMEMBERED + 5) {
            let mut a = alert(Transition::Opened, Level::Minor, vec![], 0);
            a.incident = IncidentId(format!("acme-{i}"));
            let (_, u) = s.plan(&a, EventTime(0));
            s.apply(u);
        }
        assert_eq!(s.firing.len(), MAX_REMEMBERED);
        assert!(!s.firing.contains_key("acme-0"));
        assert!(s
            .firing
            .contains_key(format!("acme-{}", MAX_REMEMBERED + 4).as_str()));
    }
}
