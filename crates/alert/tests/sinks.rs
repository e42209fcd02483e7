//! Every HTTP sink against a real HTTP receiver on 127.0.0.1, built from
//! configuration text the way `vigil` builds them: the bytes received, the
//! webhook signature (recomputed here), retries, rejections and timeouts.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use vigil_alert::{build_sinks, AttemptError, Sink, SinkError};
use vigil_config::Settings;
use vigil_types::{
    Alert, CrisisKind, EventTime, Evidence, Level, PostId, RisingTerm, SamplePost, Story,
    Transition,
};

/// What the receiver does with one request.
#[derive(Clone, Debug)]
enum Reply {
    /// Answer with this status and body.
    Status(u16, &'static str),
    /// Never answer.
    Hang,
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Received {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Shared {
    script: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Received>>>,
}

/// A receiver on 127.0.0.1 that answers with `script` in order, then 200.
struct Receiver {
    base: String,
    shared: Shared,
}

impl Receiver {
    async fn start(script: Vec<Reply>) -> Receiver {
        let shared = Shared {
            script: Arc::new(Mutex::new(script.into())),
            ..Shared::default()
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            base: format!("http://{addr}"),
            shared,
        }
    }

    fn seen(&self) -> Vec<Received> {
        self.shared.seen.lock().unwrap().clone()
    }
}

async fn handle(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.seen.lock().unwrap().push(Received {
        method,
        path: uri.path().to_string(),
        headers,
        body,
    });
    let reply = s.script.lock().unwrap().pop_front();
    match reply {
        None => (StatusCode::OK, "ok").into_response(),
        Some(Reply::Status(code, body)) => {
            (StatusCode::from_u16(code).unwrap(), body).into_response()
        }
        Some(Reply::Hang) => std::future::pending().await,
    }
}

/// The one sink a `[[alert.sinks]]` table describes, through config
/// validation and `build_sinks`.
fn sink(table: &str) -> Sink {
    let text = format!(
        "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n[alert]\n[[alert.sinks]]\n{table}"
    );
    let settings = Settings::from_toml_str(&text, "test.toml", &[]).unwrap();
    let mut sinks = build_sinks(&settings.alert.sinks).unwrap();
    assert_eq!(sinks.len(), 1);
    sinks.remove(0)
}

/// Fast retries for tests: 1 ms backoff.
const FAST: &str = "backoff_initial_ms = 1\nbackoff_max_ms = 2\n";

fn alert(state: Transition, level: Level) -> Alert {
    let end = EventTime::parse_rfc3339("2026-11-23T14:01:00Z").unwrap().0 / 1000;
    let mut a = vigil_types::fixtures::alert("acme", "acme-20261123T1400", state, level, end);
    a.figures.reason = "major: 6 posts with a severe term (recall) & 3 sources".into();
    a.figures.observed = 30;
    a.figures.z = 9.25;
    a.figures.negative_share = 0.5;
    a.figures.top_terms = vec!["recall".into(), "acme".into()];
    a.sample_post_ids = vec![PostId::from("p1")];
    a.crisis_kinds = vec![CrisisKind::ProductSafety, CrisisKind::Legal];
    a
}

fn opened() -> Alert {
    alert(Transition::Opened, Level::Major)
}

fn now_secs() -> i64 {
    vigil_types::EventTime::wall_clock().0 / 1000
}

/// Verifies a request the way a receiver should (see the webhook module
/// docs): HMAC-SHA256 over `<timestamp>.<raw body>`, constant-time compare.
fn verify(secret: &[u8], r: &Received) -> bool {
    let ts = r.headers["x-vigil-timestamp"].to_str().unwrap();
    let sig = r.headers["x-vigil-signature"].to_str().unwrap();
    let Some(sig_hex) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig_bytes) = hex::decode(sig_hex) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    mac.verify_slice(&sig_bytes).is_ok()
}

#[tokio::test]
async fn webhook_posts_the_alert_json_unsigned() {
    let rx = Receiver::start(vec![]).await;
    let mut s = sink(&format!(
        "type = \"webhook\"\nurl = \"{}/hook?token=T0KEN\"\n",
        rx.base
    ));
    assert_eq!((s.name(), s.kind()), ("webhook", "webhook"));
    assert!(!format!("{s:?}").contains("T0KEN"));
    s.deliver(&opened()).await.unwrap();
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].path, "/hook");
    assert_eq!(seen[0].headers["content-type"], "application/json");
    assert_eq!(seen[0].body, serde_json::to_vec(&opened()).unwrap());
    assert!(seen[0].headers.get("x-vigil-signature").is_none());
    assert!(seen[0].headers.get("x-vigil-timestamp").is_none());
}

#[tokio::test]
async fn webhook_signature_verifies_with_the_secret_only() {
    let rx = Receiver::start(vec![]).await;
    let mut s = sink(&format!(
        "type = \"webhook\"\nname = \"signed\"\nurl = \"{}/hook\"\nsecret = \"whsec-4f2a\"\n",
        rx.base
    ));
    assert_eq!(s.name(), "signed");
    let before = now_secs();
    s.deliver(&opened()).await.unwrap();
    let after = now_secs();
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.body, serde_json::to_vec(&opened()).unwrap());
    let ts: i64 = r.headers["x-vigil-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (before..=after).contains(&ts),
        "{before} <= {ts} <= {after}"
    );
    // Recompute the expected header exactly.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec-4f2a").unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&r.body);
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.headers["x-vigil-signature"], want.as_str());
    assert!(verify(b"whsec-4f2a", r));
    // A wrong secret, a changed body or a changed timestamp fail.
    assert!(!verify(b"whsec-4f2b", r));
    let mut tampered = r.clone();
    tampered.body = r.body.slice(1..);
    assert!(!verify(b"whsec-4f2a", &tampered));
    let mut replayed = r.clone();
    replayed
        .headers
        .insert("x-vigil-timestamp", (ts + 1).to_string().parse().unwrap());
    assert!(!verify(b"whsec-4f2a", &replayed));
}

#[tokio::test]
async fn retries_after_503_twice_then_succeeds_with_the_same_body() {
    let rx = Receiver::start(vec![Reply::Status(503, "busy"), Reply::Status(503, "busy")]).await;
    let mut s = sink(&format!(
        "type = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"k\"\nmax_retries = 3\n{FAST}",
        rx.base
    ));
    s.deliver(&opened()).await.unwrap();
    let seen = rx.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|r| r.body == seen[0].body));
    assert!(
        seen.iter().all(|r| verify(b"k", r)),
        "every attempt is signed"
    );
}

#[tokio::test]
async fn retries_429() {
    let rx = Receiver::start(vec![Reply::Status(429, "slow down")]).await;
    let mut s = sink(&format!(
        "type = \"slack\"\nurl = \"{}/services/T/B/X\"\nmax_retries = 1\n{FAST}",
        rx.base
    ));
    s.deliver(&opened()).await.unwrap();
    assert_eq!(rx.seen().len(), 2);
}

#[tokio::test]
async fn gives_up_after_max_retries() {
    let rx = Receiver::start(vec![Reply::Status(502, ""); 10]).await;
    let mut s = sink(&format!(
        "type = \"webhook\"\nurl = \"{}/hook\"\nmax_retries = 2\n{FAST}",
        rx.base
    ));
    let e = s.deliver(&opened()).await.unwrap_err();
    assert!(
        matches!(
            &e,
            SinkError::GaveUp { sink, attempts: 3, last: AttemptError::Status(502) } if sink == "webhook"
        ),
        "{e}"
    );
    assert_eq!(rx.seen().len(), 3);
    assert_eq!(e.class(), vigil_types::ErrorClass::External);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let rx = Receiver::start(vec![Reply::Status(400, "invalid_payload")]).await;
    let mut s = sink(&format!(
        "type = \"slack\"\nname = \"slack-pr\"\nurl = \"{}/services/T/B/X\"\nmax_retries = 5\n{FAST}",
        rx.base
    ));
    let e = s.deliver(&opened()).await.unwrap_err();
    assert_eq!(rx.seen().len(), 1);
    assert!(
        matches!(&e, SinkError::Rejected { status: 400, body, .. } if body == "invalid_payload"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "sink `slack-pr`: the receiver rejected the alert with HTTP 400 (not retried): invalid_payload"
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out() {
    let rx = Receiver::start(vec![Reply::Hang, Reply::Hang]).await;
    let mut s = sink(&format!(
        "type = \"alertmanager\"\nurl = \"{}\"\ntimeout_ms = 200\nmax_retries = 1\n{FAST}",
        rx.base
    ));
    let e = s.deliver(&opened()).await.unwrap_err();
    assert!(
        matches!(
            &e,
            SinkError::GaveUp { attempts: 2, last: AttemptError::TimedOut(t), .. } if t.as_millis() == 200
        ),
        "{e:?}"
    );
    assert_eq!(rx.seen().len(), 2, "both attempts reached the receiver");
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = sink(&format!(
        "type = \"webhook\"\nurl = \"http://127.0.0.1:{port}/SECRETPATH\"\nmax_retries = 1\n{FAST}"
    ));
    let e = s.deliver(&opened()).await.unwrap_err();
    assert!(
        matches!(
            &e,
            SinkError::GaveUp {
                attempts: 2,
                last: AttemptError::Connection(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.to_string().contains("SECRETPATH"), "{e}");
}

#[tokio::test]
async fn slack_payload_shape() {
    let rx = Receiver::start(vec![]).await;
    let mut s = sink(&format!(
        "type = \"slack\"\nurl = \"{}/services/T0/B0/XYZ\"\n",
        rx.base
    ));
    assert_eq!((s.name(), s.kind()), ("slack", "slack"));
    s.deliver(&opened()).await.unwrap();
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/services/T0/B0/XYZ");
    assert_eq!(seen[0].headers["content-type"], "application/json");
    let got: Value = serde_json::from_slice(&seen[0].body).unwrap();
    let id = opened().alert_id.to_string();
    let want = json!({
        "text": ":rotating_light: *MAJOR* crisis opened on *acme*: major: 6 posts with a severe term (recall) &amp; 3 sources\nTop terms: recall, acme\nObserved 30 posts vs baseline 3.0 (z 9.2, 50% negative)",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "MAJOR crisis opened: acme", "emoji": true}
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":rotating_light: major: 6 posts with a severe term (recall) &amp; 3 sources"
                },
                "fields": [
                    {"type": "mrkdwn", "text": "*Level*\nmajor"},
                    {"type": "mrkdwn", "text": "*State*\nopened"},
                    {"type": "mrkdwn", "text": "*Watch*\nacme"},
                    {"type": "mrkdwn", "text": "*Observed*\n30 posts vs baseline 3.0 (z 9.2, 50% negative)"},
                    {"type": "mrkdwn", "text": "*Top terms*\nrecall, acme"},
                    {"type": "mrkdwn", "text": "*Crisis kinds*\nproduct_safety, legal"}
                ]
            },
            {
                "type": "context",
                "elements": [{
                    "type": "mrkdwn",
                    "text": format!("Incident `acme-20261123T1400` · window 2026-11-23T14:00:00.000Z to 2026-11-23T14:01:00.000Z · alert `{id}`")
                }]
            }
        ]
    });
    assert_eq!(got, want);
    // A resolve says so.
    s.deliver(&alert(Transition::Resolved, Level::Major))
        .await
        .unwrap();
    let got: Value = serde_json::from_slice(&rx.seen()[1].body).unwrap();
    assert!(got["text"]
        .as_str()
        .unwrap()
        .starts_with(":white_check_mark: *MAJOR* crisis resolved on *acme*"));
}

#[tokio::test]
async fn alertmanager_one_alert_per_incident_resolved_via_ends_at() {
    let rx = Receiver::start(vec![]).await;
    let mut s = sink(&format!(
        "type = \"alertmanager\"\nname = \"am\"\nurl = \"{}/\"\ngenerator_url = \"https://vigil.example/ui\"\n",
        rx.base
    ));
    assert_eq!((s.name(), s.kind()), ("am", "alertmanager"));
    let mut minor = alert(Transition::Opened, Level::Minor);
    minor.crisis_kinds = vec![CrisisKind::ProductSafety];
    let before = now_secs();
    s.deliver(&minor).await.unwrap();
    let mut major = alert(Transition::Escalated, Level::Major);
    major.figures.window_start = EventTime::parse_rfc3339("2026-11-23T14:05:00Z").unwrap();
    major.figures.window_end = EventTime::parse_rfc3339("2026-11-23T14:06:00Z").unwrap();
    s.deliver(&major).await.unwrap();
    let mut resolved = alert(Transition::Resolved, Level::Major);
    resolved.crisis_kinds = vec![];
    resolved.figures.window_start = EventTime::parse_rfc3339("2026-11-23T14:20:00Z").unwrap();
    resolved.figures.window_end = EventTime::parse_rfc3339("2026-11-23T14:21:00Z").unwrap();
    s.deliver(&resolved).await.unwrap();

    let seen = rx.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|r| r.path == "/api/v2/alerts"));
    assert!(seen
        .iter()
        .all(|r| r.headers["content-type"] == "application/json"));
    let bodies: Vec<Value> = seen
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();

    // Opened: one firing alert, endsAt a day ahead (Vigil does not re-send).
    let open = &bodies[0];
    let ends_at = open[0]["endsAt"].as_str().unwrap();
    let ends_at = EventTime::parse_rfc3339(ends_at).unwrap().millis() / 1000;
    assert!(
        ends_at >= before + 86_400 && ends_at <= now_secs() + 86_400,
        "{ends_at}"
    );
    assert_eq!(
        open,
        &json!([{
            "labels": {
                "alertname": "VigilCrisis",
                "watch": "acme",
                "incident": "acme-20261123T1400",
                "level": "minor",
                "kind": "product_safety"
            },
            "annotations": {
                "summary": "minor crisis on watch acme (opened): 30 posts vs baseline 3.0",
                "reason": "major: 6 posts with a severe term (recall) & 3 sources",
                "alert_id": minor.alert_id.to_string()
            },
            "startsAt": "2026-11-23T14:00:00.000Z",
            "endsAt": open[0]["endsAt"],
            "generatorURL": "https://vigil.example/ui"
        }])
    );

    // Escalated: the major alert fires and the minor one resolves.
    let esc = bodies[1].as_array().unwrap();
    assert_eq!(esc.len(), 2);
    assert_eq!(esc[0]["labels"]["level"], "major");
    assert_eq!(esc[0]["labels"]["kind"], "product_safety");
    assert_eq!(esc[0]["startsAt"], "2026-11-23T14:05:00.000Z");
    assert_eq!(esc[1]["labels"], open[0]["labels"]);
    assert_eq!(esc[1]["startsAt"], "2026-11-23T14:00:00.000Z");
    assert_eq!(esc[1]["endsAt"], "2026-11-23T14:05:00.000Z");

    // Resolved: the major alert's exact labels, endsAt = window end, even
    // though the quiet window has no crisis kind.
    let res = bodies[2].as_array().unwrap();
    assert_eq!(res.len(), 1);
    assert_eq!(res[0]["labels"], esc[0]["labels"]);
    assert_eq!(res[0]["startsAt"], "2026-11-23T14:05:00.000Z");
    assert_eq!(res[0]["endsAt"], "2026-11-23T14:21:00.000Z");
    assert_eq!(
        res[0]["annotations"]["alert_id"],
        resolved.alert_id.to_string()
    );
}

#[tokio::test]
async fn sinks_are_built_in_order_with_their_names() {
    let text = "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n[alert]\n\
        [[alert.sinks]]\ntype = \"stdout\"\n\
        [[alert.sinks]]\ntype = \"slack\"\nname = \"pr-team\"\nurl = \"https://hooks.example/x\"\n\
        [[alert.sinks]]\ntype = \"alertmanager\"\nurl = \"http://am:9093\"\n";
    let settings = Settings::from_toml_str(text, "t.toml", &[]).unwrap();
    let sinks = build_sinks(&settings.alert.sinks).unwrap();
    let got: Vec<(&str, &str)> = sinks.iter().map(|s| (s.name(), s.kind())).collect();
    assert_eq!(
        got,
        [
            ("stdout", "stdout"),
            ("pr-team", "slack"),
            ("alertmanager", "alertmanager")
        ]
    );
}

/// An alert with the evidence of a big story and long texts (issue 14).
fn with_evidence() -> Alert {
    let long = "acme <b>blender</b> & exploded ".repeat(20);
    let story = |posts: u64, reposts: u64, text: &str| Story {
        text: text.into(),
        posts,
        originals: posts - reposts,
        reposts,
        first_post: PostId::from("p1"),
        first_seen: EventTime::parse_rfc3339("2026-11-23T14:00:01Z").unwrap(),
        first_source: "x".into(),
        sources: vec!["x".into(), "weibo".into()],
        reach: 120_000,
        engagement: 365,
    };
    Alert {
        evidence: Evidence {
            stories: vec![
                story(
                    41,
                    40,
                    "My Acme X1 blender exploded <script>x</script> & burnt my desk",
                ),
                story(8, 0, &long),
                story(5, 0, "艾克美X1搅拌机漏电，用的时候被电了一下，太危险了"),
                story(2, 0, &long),
                story(1, 0, &long),
            ],
            rising_terms: (0..5)
                .map(|i| RisingTerm {
                    term: if i == 0 {
                        "exploded".into()
                    } else {
                        format!("#tag{i}")
                    },
                    posts: 41,
                    share: 0.76,
                    baseline_share: 0.01,
                })
                .collect(),
            samples: vec![SamplePost {
                id: PostId::from("p1"),
                source: "x".into(),
                published_at: EventTime::parse_rfc3339("2026-11-23T14:00:01Z").unwrap(),
                text: long.as_str().into(),
                url: Some("https://x.example/p1".into()),
                reach: Some(120_000),
                author: None,
            }],
        },
        ..opened()
    }
}

#[tokio::test]
async fn every_receiver_gets_the_top_stories_and_rising_terms_within_its_limits() {
    let a = with_evidence();
    let rx = Receiver::start(vec![]).await;
    for table in [
        format!("type = \"webhook\"\nurl = \"{}/hook\"\n", rx.base),
        format!("type = \"slack\"\nurl = \"{}/slack\"\n", rx.base),
        format!(
            "type = \"alertmanager\"\nname = \"am\"\nurl = \"{}/\"\n",
            rx.base
        ),
    ] {
        sink(&table).deliver(&a).await.unwrap();
    }
    let seen = rx.seen();
    assert_eq!(seen.len(), 3);
    let chars = |v: &Value| v.as_str().unwrap().chars().count();

    // The webhook: the whole alert (its stories included) plus one line.
    let hook: Value = serde_json::from_slice(&seen[0].body).unwrap();
    let back: Alert = serde_json::from_value(hook.clone()).unwrap();
    assert_eq!(back.evidence, a.evidence);
    let summary = hook["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("rising: exploded 76% (was 1%), #tag1 76% (was 1%)"),
        "{summary}"
    );
    assert!(summary.contains("| 41 posts (40 reposts): \"My Acme X1 blender exploded"));
    assert!(chars(&hook["summary"]) <= 1000);

    // Slack: a "What people say" section, escaped, within Slack's limits.
    let slack: Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert!(chars(&slack["text"]) <= 4000);
    let blocks = slack["blocks"].as_array().unwrap();
    let say = blocks
        .iter()
        .find(|b| {
            b["text"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("*What people say*"))
        })
        .expect("a stories section");
    let text = say["text"]["text"].as_str().unwrap();
    assert!(text.contains("• *41 posts* (40 reposts, first on x): “My Acme X1 blender exploded &lt;script&gt;x&lt;/script&gt; &amp; burnt my desk”"), "{text}");
    assert!(
        text.contains("• *5 posts* (0 reposts, first on x): “艾克美X1搅拌机漏电"),
        "{text}"
    );
    assert!(text.contains("*Rising:* exploded 76% (was 1%)"), "{text}");
    assert!(!text.contains("<script>"));
    for b in blocks {
        if let Some(t) = b["text"]["text"].as_str() {
            assert!(t.chars().count() <= 3000, "{t}");
        }
    }

    // Alertmanager: a `description` annotation, at most 1000 characters.
    let am: Value = serde_json::from_slice(&seen[2].body).unwrap();
    let description = &am[0]["annotations"]["description"];
    assert!(description
        .as_str()
        .unwrap()
        .contains("41 posts (40 reposts)"));
    assert!(chars(description) <= 1000, "{description}");
    // Without evidence, no description (and the webhook body has no summary).
    let rx = Receiver::start(vec![]).await;
    sink(&format!(
        "type = \"alertmanager\"\nname = \"am\"\nurl = \"{}/\"\n",
        rx.base
    ))
    .deliver(&opened())
    .await
    .unwrap();
    let am: Value = serde_json::from_slice(&rx.seen()[0].body).unwrap();
    assert!(am[0]["annotations"].get("description").is_none());
}

/// A published status update (issue 15) as each receiver gets it: the
/// statement in Slack, the alert JSON marked as a status update for a
/// webhook, nothing for Alertmanager (it holds alerts, not statements).
#[tokio::test]
async fn a_published_status_update_reads_as_a_statement() {
    let mut alert = opened();
    alert.figures.reason = "Status update: We are recalling batch 42 <now>.".into();
    let n = vigil_incidents::Notification {
        incident: alert.incident.clone(),
        alert: alert.clone(),
        sinks: vec!["x".into()],
        reason: vigil_incidents::NotifyReason::StatusUpdate,
        step: None,
        target: None,
        outbox_id: 0,
        attempts: 0,
        first_failed_at: None,
        failed_at: None,
    };
    let rx = Receiver::start(vec![]).await;
    let mut slack = sink(&format!("type = \"slack\"\nurl = \"{}/slack\"\n", rx.base));
    let mut hook = sink(&format!("type = \"webhook\"\nurl = \"{}/hook\"\n", rx.base));
    let mut am = sink(&format!("type = \"alertmanager\"\nurl = \"{}\"\n", rx.base));
    slack.deliver_notification(&n).await.unwrap();
    hook.deliver_notification(&n).await.unwrap();
    am.deliver_notification(&n).await.unwrap();
    let seen = rx.seen();
    assert_eq!(seen.len(), 2, "Alertmanager gets nothing: {seen:?}");
    let s: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(seen[0].path, "/slack");
    assert_eq!(
        s["blocks"][0]["text"]["text"],
        format!("Status update: {}", alert.watch)
    );
    assert_eq!(
        s["blocks"][1]["text"]["text"],
        "We are recalling batch 42 &lt;now&gt;."
    );
    assert!(
        s["text"]
            .as_str()
            .unwrap()
            .starts_with(":loudspeaker: Status update on *acme*"),
        "{s}"
    );
    let h: Value = serde_json::from_slice(&seen[1].body).unwrap();
    assert_eq!(h["notification"], "status_update");
    assert_eq!(h["reason"], alert.figures.reason);
    assert_eq!(h["alert_id"], alert.alert_id.to_string());
    // Any other notification is delivered as the alert it carries.
    let mut plain = n.clone();
    plain.reason = vigil_incidents::NotifyReason::New;
    hook.deliver_notification(&plain).await.unwrap();
    let h: Value = serde_json::from_slice(&rx.seen()[2].body).unwrap();
    assert!(h.get("notification").is_none(), "{h}");
}
