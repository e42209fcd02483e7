//! Router tests, in process (`tower::ServiceExt::oneshot`) over a real
//! store in a temporary directory.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
    Router,
};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use vigil_config::Settings;
use vigil_incidents::{EscalationPolicy, IncidentStore, Notification, NotifyReason};
use vigil_telemetry::Metrics;
use vigil_types::{
    EventTime, Evidence, Level, PostId, RisingTerm, SamplePost, Spike, Story, Transition,
};

use crate::{router, routes, ApiState};

const ALICE: &str = "alice-0123456789abcdef";
const BOB: &str = "bob-viewer-0123456789";

struct Harness {
    app: Router,
    /// The router's state (a clone: shares tokens and watches with it).
    state: ApiState,
    store: Arc<IncidentStore>,
    notifications: UnboundedReceiver<Notification>,
    metrics: Metrics,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

fn settings(api: &str) -> Settings {
    Settings::from_toml_str(
        &format!("[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n{api}"),
        "test.toml",
        &[],
    )
    .unwrap()
}

const TOKENS: &str = "[api]\nmax_body_bytes = 4096\n\
    [[api.tokens]]\nname = \"alice\"\nrole = \"responder\"\ntoken = \"alice-0123456789abcdef\"\n\
    [[api.tokens]]\nname = \"bob\"\nrole = \"viewer\"\ntoken = \"bob-viewer-0123456789\"\n";

fn spike(incident: &str, level: Level, transition: Transition, end_secs: i64) -> Spike {
    let watch = incident.split('-').next().unwrap();
    let mut s = vigil_types::fixtures::spike(watch, incident, transition, level, end_secs);
    s.figures.observed = 40;
    s.figures.baseline = 4.0;
    s.figures.z = 9.0;
    s.figures.negative_share = 0.6;
    s.sample_post_ids = vec![PostId::from("p1")];
    Spike {
        evidence: Evidence {
            stories: vec![Story {
                text: "the acme blender <b>exploded</b>".into(),
                posts: 41,
                originals: 1,
                reposts: 40,
                first_post: PostId::from("p1"),
                first_seen: EventTime::from_secs(end_secs - 59),
                first_source: "x".into(),
                sources: vec!["x".into()],
                reach: 1200,
                engagement: 0,
            }],
            rising_terms: vec![RisingTerm {
                term: "exploded".into(),
                posts: 41,
                share: 0.9,
                baseline_share: 0.0,
            }],
            samples: vec![SamplePost {
                id: PostId::from("p1"),
                source: "x".into(),
                published_at: EventTime::from_secs(end_secs - 59),
                text: "the acme blender <b>exploded</b>".into(),
                url: Some("https://x.example/p1".into()),
                reach: Some(1200),
                author: None,
            }],
        },
        ..s
    }
}

/// A store with three open incidents (acme major, zephyr minor, datavault
/// moderate, opened in that order a minute apart) and an API over it.
fn harness_with(api: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = IncidentStore::open(
        &dir.path().join("incidents.redb"),
        EscalationPolicy::notify_all(vec!["stdout".into()]),
    )
    .unwrap();
    // The built-in playbooks: every incident gets a checklist.
    store.set_playbooks(settings(api).playbooks);
    let t0 = routes::now().0 / 1000 - 3600;
    for (i, (id, level)) in [
        ("acme-1", Level::Major),
        ("zephyr-1", Level::Minor),
        ("datavault-1", Level::Moderate),
    ]
    .into_iter()
    .enumerate()
    {
        let end = t0 + 60 * i as i64;
        let out = store
            .on_spike(
                &spike(id, level, Transition::Opened, end),
                EventTime::from_secs(end),
            )
            .unwrap();
        assert_eq!(out.notifications().len(), 1);
    }
    // A second window for the chart.
    store
        .on_spike(
            &spike("acme-1", Level::Major, Transition::Ongoing, t0 + 60),
            EventTime::from_secs(t0 + 61),
        )
        .unwrap();
    let store = Arc::new(store);
    let (notify, notifications) = tokio::sync::mpsc::unbounded_channel();
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let state = ApiState::new(
        store.clone(),
        &settings(api),
        metrics.clone(),
        notify,
        shutdown.clone(),
    );
    Harness {
        app: router(state.clone()),
        state,
        store,
        notifications,
        metrics,
        shutdown,
        _dir: dir,
    }
}

fn harness() -> Harness {
    harness_with(TOKENS)
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error field: {}", self.text))
            .to_string()
    }
}

/// Asserts that `r` is an error with this status and a message that starts
/// with `message`; `context` names the case in a failure.
#[track_caller]
fn assert_rejected(r: &Reply, status: u16, message: &str, context: &str) {
    assert_eq!(r.status, status, "{context}: {}", r.text);
    assert!(r.error().starts_with(message), "{context}: {}", r.error());
}

fn request(method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if body.is_some() {
        r = r.header(header::CONTENT_TYPE, "application/json");
    }
    r.body(body.map(|b| Body::from(b.to_string())).unwrap_or_default())
        .unwrap()
}

/// The response with its body unread (for event streams).
async fn respond(app: &Router, req: Request<Body>) -> axum::response::Response {
    app.clone().oneshot(req).await.unwrap()
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let response = respond(app, req).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    send(app, request(method, path, token, body)).await
}

async fn get(app: &Router, path: &str) -> Reply {
    get_as(app, ALICE, path).await
}

async fn get_as(app: &Router, token: &str, path: &str) -> Reply {
    call(app, Method::GET, path, Some(token), None).await
}

/// A GET with no Authorization header.
async fn get_public(app: &Router, path: &str) -> Reply {
    call(app, Method::GET, path, None, None).await
}

/// A POST as Alice (a responder).
async fn post(app: &Router, path: &str, body: Option<&str>) -> Reply {
    post_as(app, ALICE, path, body).await
}

async fn post_as(app: &Router, token: &str, path: &str, body: Option<&str>) -> Reply {
    call(app, Method::POST, path, Some(token), body).await
}

/// A DELETE as Alice (a responder).
async fn delete(app: &Router, path: &str) -> Reply {
    call(app, Method::DELETE, path, Some(ALICE), None).await
}

fn ids(v: &Value) -> Vec<String> {
    v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// One string field (`kind`, `summary`, ...) of every event in an
/// incident's timeline, in order.
fn timeline_strs<'a>(incident: &'a Value, field: &str) -> Vec<&'a str> {
    incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[field].as_str().unwrap())
        .collect()
}

/// The last event in an incident's timeline.
fn last_event(incident: &Value) -> Value {
    incident["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn lists_and_filters_incidents() {
    let h = harness();
    let all = get(&h.app, "/api/v1/incidents").await;
    assert_eq!(all.status, 200, "{}", all.text);
    let all = all.json();
    assert_eq!(all["count"], 3);
    // Newest opened first.
    assert_eq!(ids(&all), ["datavault-1", "zephyr-1", "acme-1"]);
    assert_eq!(all["incidents"][2]["level"], "major");
    assert_eq!(all["incidents"][2]["state"], "open");
    for (query, want) in [
        ("level=major", vec!["acme-1"]),
        ("level=minor&state=open", vec!["zephyr-1"]),
        ("watch=datavault", vec!["datavault-1"]),
        ("state=resolved", vec![]),
        ("limit=2", vec!["datavault-1", "zephyr-1"]),
        ("until=2000-01-01T00:00:00Z", vec![]),
        ("since=2000-01-01T00:00:00Z&limit=1", vec!["datavault-1"]),
    ] {
        let r = get(&h.app, &format!("/api/v1/incidents?{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        assert_eq!(ids(&r.json()), want, "{query}");
    }
    for (query, message) in [
        (
            "level=huge",
            "query parameter `level`: unknown level `huge`",
        ),
        (
            "state=sleeping",
            "query parameter `state`: unknown state `sleeping`",
        ),
        (
            "since=yesterday",
            "query parameter `since`: `yesterday` is not an RFC 3339 time",
        ),
        (
            "limit=0",
            "query parameter `limit`: `0` is not a positive integer",
        ),
        ("colour=red", "unknown query parameter `colour`"),
    ] {
        let r = get(&h.app, &format!("/api/v1/incidents?{query}")).await;
        assert_rejected(&r, 400, message, query);
    }
}

#[tokio::test]
async fn gets_one_incident_with_timeline_and_volume() {
    let h = harness();
    let r = get(&h.app, "/api/v1/incidents/acme-1").await;
    assert_eq!(r.status, 200);
    let i = r.json();
    assert_eq!(i["id"], "acme-1");
    assert_eq!(i["watch"], "acme");
    assert_eq!(i["volume"].as_array().unwrap().len(), 2);
    assert_eq!(i["volume"][0]["observed"], 40);
    assert_eq!(i["volume"][0]["baseline"], 4.0);
    let kinds = timeline_strs(&i, "kind");
    assert_eq!(kinds, ["alert", "notified"]);
    // What people were saying when it opened (issue 14).
    let ev = &i["evidence"][0];
    assert_eq!(ev["state"], "opened");
    assert_eq!(ev["stories"][0]["posts"], 41);
    assert_eq!(ev["stories"][0]["reposts"], 40);
    assert_eq!(ev["stories"][0]["text"], "the acme blender <b>exploded</b>");
    assert_eq!(ev["rising_terms"][0]["term"], "exploded");
    assert_eq!(ev["samples"][0]["url"], "https://x.example/p1");
    assert!(ev["seen_at"].is_string() && ev["window_start"].is_string());
    let missing = get(&h.app, "/api/v1/incidents/nope-1").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error(), "no incident `nope-1`");
}

#[tokio::test]
async fn ack_is_idempotent_and_observes_time_to_acknowledge() {
    let h = harness();
    let first = post(&h.app, "/api/v1/incidents/acme-1/ack", None).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first = first.json();
    assert_eq!(first["changed"], true);
    assert!(first["time_to_acknowledge_secs"].as_f64().unwrap() > 3000.0);
    assert_eq!(first["incident"]["state"], "acknowledged");
    assert_eq!(first["incident"]["acknowledged"]["by"], "alice");
    let last = last_event(&first["incident"]);
    assert_eq!(
        (last["kind"].as_str(), last["actor"].as_str()),
        (Some("ack"), Some("alice"))
    );

    let second = post(&h.app, "/api/v1/incidents/acme-1/ack", None).await;
    assert_eq!(second.status, 200);
    let second = second.json();
    assert_eq!(second["changed"], false);
    assert!(second.get("time_to_acknowledge_secs").is_none());
    assert_eq!(
        second["incident"]["timeline"].as_array().unwrap().len(),
        first["incident"]["timeline"].as_array().unwrap().len()
    );
    // Observed once, under the incident's level.
    let h_major = h
        .metrics
        .alert_time_to_acknowledge
        .with_label_values(&["major"]);
    assert_eq!(h_major.get_sample_count(), 1);
    assert_eq!(
        h.metrics
            .api_requests
            .with_label_values(&["POST", "/api/v1/incidents/{id}/ack", "200"])
            .get(),
        2
    );
    assert!(h
        .metrics
        .render()
        .contains("vigil_alert_time_to_acknowledge_seconds_count{level=\"major\"} 1"));
}

#[tokio::test]
async fn missing_unknown_or_malformed_tokens_get_401() {
    let h = harness();
    for (auth, message) in [
        (
            None,
            "missing bearer token: send `Authorization: Bearer <token>`",
        ),
        (Some("Bearer wrong-token-0123456789"), "unknown token"),
        (Some(format!("Bearer {ALICE}x").as_str()), "unknown token"),
        (
            Some("Basic YWxpY2U6cHc="),
            "the Authorization header must be `Bearer <token>`",
        ),
        (
            Some("Bearer "),
            "the Authorization header must be `Bearer <token>`",
        ),
    ] {
        for (method, path) in [
            (Method::GET, "/api/v1/incidents"),
            (Method::POST, "/api/v1/incidents/acme-1/ack"),
            (Method::GET, "/api/v1/events"),
            (Method::GET, "/api/v1/no-such-thing"),
        ] {
            let mut req = request(method.clone(), path, None, None);
            if let Some(a) = auth {
                req.headers_mut()
                    .insert(header::AUTHORIZATION, a.parse().unwrap());
            }
            let r = send(&h.app, req).await;
            assert_eq!(r.status, 401, "{auth:?} {method} {path}");
            assert_eq!(r.error(), message);
            assert_eq!(
                r.headers[header::WWW_AUTHENTICATE],
                "Bearer realm=\"vigil\""
            );
        }
    }
    // Nothing was acknowledged.
    assert_eq!(h.store.get("acme-1").unwrap().state.as_str(), "open");
    // The scheme is case-insensitive.
    let mut req = request(Method::GET, "/api/v1/me", None, None);
    req.headers_mut().insert(
        header::AUTHORIZATION,
        format!("bearer {BOB}").parse().unwrap(),
    );
    let me = send(&h.app, req).await;
    assert_eq!(me.status, 200);
    assert_eq!(
        me.json(),
        serde_json::json!({"name": "bob", "role": "viewer"})
    );
    assert_eq!(
        h.metrics
            .api_requests
            .with_label_values(&["GET", "/api/v1/incidents", "401"])
            .get(),
        5
    );
}

#[tokio::test]
async fn viewers_read_but_get_403_when_writing() {
    let mut h = harness();
    assert_eq!(get_as(&h.app, BOB, "/api/v1/incidents").await.status, 200);
    assert_eq!(get_as(&h.app, BOB, "/api/v1/silences").await.status, 200);
    for (method, path, body) in [
        (Method::POST, "/api/v1/incidents/acme-1/ack", None),
        (Method::POST, "/api/v1/incidents/acme-1/resolve", None),
        (
            Method::POST,
            "/api/v1/incidents/acme-1/comment",
            Some(r#"{"text":"hi"}"#),
        ),
        (
            Method::POST,
            "/api/v1/silences",
            Some(r#"{"watch":"acme","duration_secs":60,"reason":"x"}"#),
        ),
        (Method::DELETE, "/api/v1/silences/sil-1", None),
    ] {
        let r = call(&h.app, method.clone(), path, Some(BOB), body).await;
        assert_eq!(r.status, 403, "{method} {path}");
        assert_eq!(
            r.error(),
            format!("token `bob` has role viewer, which may only read; {method} {path} needs role responder")
        );
    }
    let acme = h.store.get("acme-1").unwrap();
    assert_eq!(acme.state.as_str(), "open");
    assert_eq!(acme.timeline.len(), 2);
    assert!(h.store.silences().is_empty());
    assert!(h.notifications.try_recv().is_err());
}

#[tokio::test]
async fn with_no_tokens_the_api_is_off_but_documented() {
    let h = harness_with("");
    let r = get(&h.app, "/api/v1/incidents").await;
    assert_eq!(r.status, 401);
    assert!(
        r.error()
            .starts_with("the incident API is off: no tokens are configured"),
        "{}",
        r.error()
    );
    assert_eq!(get_public(&h.app, "/api/v1/openapi.json").await.status, 200);
    assert_eq!(get_public(&h.app, "/ui/").await.status, 200);
}

#[tokio::test]
async fn bad_json_gets_400_with_the_parser_message() {
    let h = harness();
    for (body, message) in [
        (
            r#"{"assignee": "#,
            "invalid JSON body: EOF while parsing a value at line 1 column 13",
        ),
        (
            "",
            "invalid JSON body: EOF while parsing a value at line 1 column 0",
        ),
        (
            r#"{"assignee": 7}"#,
            "invalid JSON body: invalid type: integer `7`, expected a string at line 1 column 14",
        ),
        (
            r#"{"owner": "carol"}"#,
            "invalid JSON body: unknown field `owner`, expected `assignee` at line 1 column 8",
        ),
        (r#"{"assignee": ""}"#, "invalid request: "),
    ] {
        let r = post(&h.app, "/api/v1/incidents/acme-1/assign", Some(body)).await;
        assert_rejected(&r, 400, message, body);
    }
    // Any content type: the body is JSON whatever the header says.
    let mut req = request(
        Method::POST,
        "/api/v1/incidents/acme-1/assign",
        Some(ALICE),
        None,
    );
    *req.body_mut() = Body::from(r#"{"assignee":"carol"}"#);
    let r = send(&h.app, req).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let i = r.json()["incident"].clone();
    assert_eq!(
        (i["state"].as_str(), i["assignee"].as_str()),
        (Some("assigned"), Some("carol"))
    );
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    let h = harness();
    let text = "x".repeat(5000);
    let body = format!(r#"{{"text":"{text}"}}"#);
    let r = post(&h.app, "/api/v1/incidents/acme-1/comment", Some(&body)).await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.error(),
        "request body is larger than 4096 bytes (api.max_body_bytes)"
    );
    // Without a Content-Length (a stream), the limit holds too.
    let chunks: Vec<Result<String, std::io::Error>> = vec![Ok(body.clone())];
    let mut req = request(
        Method::POST,
        "/api/v1/incidents/acme-1/comment",
        Some(ALICE),
        None,
    );
    *req.body_mut() = Body::from_stream(futures::stream::iter(chunks));
    assert_eq!(send(&h.app, req).await.status, 413);
    assert_eq!(h.store.get("acme-1").unwrap().timeline.len(), 2);
    let ok = post(
        &h.app,
        "/api/v1/incidents/acme-1/comment",
        Some(r#"{"text":"Legal is on it."}"#),
    )
    .await;
    assert_eq!(ok.status, 200);
    let last = last_event(&ok.json()["incident"]);
    assert_eq!(last["kind"], "comment");
    assert_eq!(last["text"], "Legal is on it.");
    assert_eq!(last["actor"], "alice");
}

#[tokio::test]
async fn resolve_and_reopen_notifications_reach_the_notify_channel() {
    let mut h = harness();
    let r = post(&h.app, "/api/v1/incidents/zephyr-1/resolve", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["incident"]["state"], "resolved");
    let n = h.notifications.try_recv().expect("a resolve notifies");
    assert_eq!(n.incident, "zephyr-1");
    assert_eq!(n.reason, NotifyReason::Resolved);
    assert_eq!(n.sinks, ["stdout"]);
    assert!(h.notifications.try_recv().is_err());
    // Resolving again changes nothing and notifies nothing.
    let again = post(&h.app, "/api/v1/incidents/zephyr-1/resolve", None).await;
    assert_eq!(again.json()["changed"], false);
    assert!(h.notifications.try_recv().is_err());
    let r = post(&h.app, "/api/v1/incidents/zephyr-1/reopen", None).await;
    assert_eq!(r.json()["incident"]["state"], "reopened");
    assert_eq!(
        h.notifications.try_recv().unwrap().reason,
        NotifyReason::Reopened
    );
    // A closed channel (no alert stage) does not fail the action.
    h.notifications.close();
    let r = post(&h.app, "/api/v1/incidents/zephyr-1/resolve", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(h.store.get("zephyr-1").unwrap().state.as_str(), "resolved");
}

#[tokio::test]
async fn exports_markdown_and_json() {
    let h = harness();
    post(&h.app, "/api/v1/incidents/acme-1/ack", None).await;
    let md = get(&h.app, "/api/v1/incidents/acme-1/export?format=md").await;
    assert_eq!(md.status, 200);
    assert_eq!(
        md.headers[header::CONTENT_TYPE],
        "text/markdown; charset=utf-8"
    );
    assert!(md.text.contains("acme-1"), "{}", md.text);
    for path in [
        "/api/v1/incidents/acme-1/export",
        "/api/v1/incidents/acme-1/export?format=json",
    ] {
        let json = get(&h.app, path).await;
        assert_eq!(json.status, 200);
        let report = json.json();
        assert_eq!(report["id"], "acme-1");
        assert!(report["time_to_acknowledge_secs"].as_f64().unwrap() > 3000.0);
        assert_eq!(report["volume"].as_array().unwrap().len(), 2);
    }
    let bad = get(&h.app, "/api/v1/incidents/acme-1/export?format=pdf").await;
    assert_eq!(
        (bad.status.as_u16(), bad.error().as_str()),
        (400, "query parameter `format`: `pdf` is not md or json")
    );
    assert_eq!(
        get(&h.app, "/api/v1/incidents/nope/export").await.status,
        404
    );
}

#[tokio::test]
async fn silences_are_added_listed_and_removed() {
    let h = harness();
    let r = post(
        &h.app,
        "/api/v1/silences",
        Some(r#"{"watch":"acme","level":"minor","duration_secs":3600,"reason":"planned launch"}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let s = r.json();
    assert_eq!(
        (s["id"].as_str(), s["author"].as_str(), s["level"].as_str()),
        (Some("sil-1"), Some("alice"), Some("minor"))
    );
    let starts = EventTime::parse_rfc3339(s["starts_at"].as_str().unwrap()).unwrap();
    let ends = EventTime::parse_rfc3339(s["ends_at"].as_str().unwrap()).unwrap();
    assert_eq!(ends.0 - starts.0, 3_600_000);
    let list = get(&h.app, "/api/v1/silences").await.json();
    assert_eq!(list["silences"].as_array().unwrap().len(), 1);
    for (body, message) in [
        (
            r#"{"watch":"acme","reason":"x"}"#,
            "give either `ends_at` (RFC 3339) or `duration_secs`",
        ),
        (
            r#"{"watch":"acme","reason":"x","duration_secs":5,"ends_at":"2030-01-01T00:00:00Z"}"#,
            "give either",
        ),
        (
            r#"{"watch":"acme","reason":"x","ends_at":"2000-01-01T00:00:00Z"}"#,
            "invalid request: ",
        ),
        (
            r#"{"watch":"acme","reason":"x","ends_at":"soon"}"#,
            "invalid JSON body: invalid RFC 3339 time `soon`",
        ),
    ] {
        let r = post(&h.app, "/api/v1/silences", Some(body)).await;
        assert_rejected(&r, 400, message, body);
    }
    let del = delete(&h.app, "/api/v1/silences/sil-1").await;
    assert_eq!(del.status, 200);
    assert_eq!(del.json()["removed"]["id"], "sil-1");
    let again = delete(&h.app, "/api/v1/silences/sil-1").await;
    assert_eq!(
        (again.status.as_u16(), again.error().as_str()),
        (404, "no silence `sil-1`")
    );
}

#[tokio::test]
async fn silences_need_a_sane_end_and_a_configured_watch() {
    // Issue 12: `duration_secs` = 2^64-1 answered 201 with `ends_at`
    // 1970-01-01 and muted the watch for ever.
    let h = harness();
    let future = EventTime(routes::now().0 + 91 * 86_400_000).to_rfc3339();
    let future = format!(r#""ends_at":"{future}""#);
    let too_late = "invalid request: a silence may end at most 90 days from now";
    // The fields of a silence of acme, and what they get.
    for (fields, message) in [
        (
            r#""duration_secs":18446744073709551615"#,
            "`duration_secs` 18446744073709551615 is over the limit of 7776000 (90 days)",
        ),
        (
            r#""duration_secs":7776001"#,
            "`duration_secs` 7776001 is over the limit",
        ),
        (r#""duration_secs":0"#, "`duration_secs` must be at least 1"),
        (
            r#""starts_at":9223372036854775000,"duration_secs":60"#,
            "`starts_at` plus `duration_secs` is out of range",
        ),
        (
            r#""starts_at":"2000-01-01T00:00:00Z","duration_secs":60"#,
            "invalid request: a silence must end in the future",
        ),
        (&future, too_late),
        (r#""ends_at":9223372036854775807"#, too_late),
    ] {
        let body = format!(r#"{{"watch":"acme","reason":"x",{fields}}}"#);
        let r = post(&h.app, "/api/v1/silences", Some(&body)).await;
        assert_rejected(&r, 400, message, &body);
    }
    let zephyr = r#"{"watch":"zephyr","reason":"x","duration_secs":60}"#;
    let r = post(&h.app, "/api/v1/silences", Some(zephyr)).await;
    assert_rejected(&r, 422, "no watch `zephyr` is configured", zephyr);
    assert!(h.store.silences().is_empty());
    let ok = post(
        &h.app,
        "/api/v1/silences",
        Some(r#"{"watch":"acme","reason":"x","duration_secs":7776000}"#),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
}

#[tokio::test]
async fn a_reload_revokes_removed_tokens_and_learns_new_watches() {
    // Issue 12: a reload ignored token changes, so a leaked token could not
    // be revoked without a restart.
    let h = harness();
    assert_eq!(get(&h.app, "/api/v1/me").await.status, 200);
    let silence = r#"{"watch":"zephyr","duration_secs":60,"reason":"x"}"#;
    let post = |token| post_as(&h.app, token, "/api/v1/silences", Some(silence));
    assert_eq!(post(ALICE).await.status, 422);
    let rotated = "alice-rotated-0123456789";
    h.state.reload(
        &Settings::from_toml_str(
            &format!(
                "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n\
             [[watches]]\nid = \"zephyr\"\nterms = [\"zephyr\"]\n\
             [[api.tokens]]\nname = \"alice\"\nrole = \"responder\"\ntoken = \"{rotated}\"\n"
            ),
            "test.toml",
            &[],
        )
        .unwrap(),
    );
    for old in [ALICE, BOB] {
        let r = get_as(&h.app, old, "/api/v1/me").await;
        assert_eq!(
            (r.status.as_u16(), r.error().as_str()),
            (401, "unknown token")
        );
    }
    let me = get_as(&h.app, rotated, "/api/v1/me").await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(post(rotated).await.status, 201);
}

/// Reads one server-sent event (name, data), skipping keep-alive comments.
async fn next_event(body: &mut Body, buf: &mut String) -> Option<(String, String)> {
    loop {
        if let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            if name.is_empty() && data.is_empty() {
                continue;
            }
            return Some((name, data));
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an event within 10 s")?
            .unwrap();
        if let Ok(bytes) = frame.into_data() {
            buf.push_str(std::str::from_utf8(&bytes).unwrap());
        }
    }
}

/// Opens the event stream as `token` and reads its `ready` event; gives
/// the body and the read buffer for [`next_event`].
async fn subscribe(app: &Router, token: &str) -> (Body, String) {
    let response = respond(
        app,
        request(Method::GET, "/api/v1/events", Some(token), None),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    let mut buf = String::new();
    assert_eq!(next_event(&mut body, &mut buf).await.unwrap().0, "ready");
    (body, buf)
}

#[tokio::test]
async fn an_event_stream_ends_when_a_reload_revokes_its_token() {
    let h = harness();
    let (mut body, mut buf) = subscribe(&h.app, BOB).await;
    // Bob's token is gone from the reloaded config; Alice's stays.
    h.state.reload(&settings(
        "[[api.tokens]]\nname = \"alice\"\nrole = \"responder\"\ntoken = \"alice-0123456789abcdef\"\n",
    ));
    let r = post(
        &h.app,
        "/api/v1/incidents/acme-1/comment",
        Some(r#"{"text":"not for bob"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(next_event(&mut body, &mut buf).await, None, "{buf}");
}

#[tokio::test]
async fn events_stream_changes_resync_when_lagging_and_end_on_shutdown() {
    let h = harness();
    let (mut body, mut buf) = subscribe(&h.app, BOB).await;

    let r = post(&h.app, "/api/v1/incidents/acme-1/ack", None).await;
    assert_eq!(r.status, 200);
    let (name, data) = next_event(&mut body, &mut buf).await.unwrap();
    assert_eq!(name, "incident");
    let change: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        (change["id"].as_str(), change["state"].as_str()),
        (Some("acme-1"), Some("acknowledged"))
    );

    // More changes than the broadcast buffer holds, before the client reads.
    let now = routes::now().0 / 1000;
    let burst: Vec<Spike> = (0..1100)
        .map(|i| {
            spike(
                &format!("burst{i}-1"),
                Level::Minor,
                Transition::Opened,
                now,
            )
        })
        .collect();
    h.store
        .on_spikes(&burst, EventTime::from_secs(now))
        .unwrap();
    let (name, data) = next_event(&mut body, &mut buf).await.unwrap();
    assert_eq!(name, "resync");
    assert!(data.starts_with("{\"missed\":"), "{data}");

    h.shutdown.cancel();
    // The rest of the buffered changes may still come; then the stream ends.
    let mut left = 0;
    while next_event(&mut body, &mut buf).await.is_some() {
        left += 1;
        assert!(left <= 1024);
    }
}

/// Every (method, path) the OpenAPI document lists.
fn documented() -> Vec<(Method, String)> {
    let doc = crate::openapi::document();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase().parse().unwrap(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn openapi_document_matches_the_real_routes() {
    let h = harness();
    let served = get_public(&h.app, "/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.headers[header::CONTENT_TYPE], "application/json");
    let doc = served.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc, crate::openapi::document());

    // The same set of paths as mounted.
    let mounted: BTreeSet<String> = routes::protected_routes()
        .into_iter()
        .chain(routes::open_routes())
        .map(|(p, _)| p.to_string())
        .collect();
    let paths: BTreeSet<String> = documented().into_iter().map(|(_, p)| p).collect();
    assert_eq!(paths, mounted);

    // Every $ref resolves.
    let text = served.text.clone();
    for piece in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling $ref {name}"
        );
    }

    // Every documented operation answers (not 404, not 405), with real ids;
    // every other method on a documented path is a 405.
    let silence = post(
        &h.app,
        "/api/v1/silences",
        Some(r#"{"watch":"acme","duration_secs":60,"reason":"probe"}"#),
    )
    .await;
    assert_eq!(silence.status, 201);
    let ops = documented();
    for (method, path) in &ops {
        let real = path
            .replace("/silences/{id}", "/silences/sil-1")
            .replace("{id}/merge", "zephyr-1/merge")
            .replace("{id}", "acme-1");
        let body = match path.rsplit('/').next().unwrap() {
            "assign" => Some(r#"{"assignee":"carol"}"#),
            "comment" | "status" => Some(r#"{"text":"probe"}"#),
            "role" => Some(r#"{"role":"lead","person":"dana"}"#),
            "review" => Some(r#"{"root_cause":"probe"}"#),
            "step" => Some(r#"{"step":0}"#),
            "merge" => Some(r#"{"into":"acme-1"}"#),
            "silences" if *method == Method::POST => {
                Some(r#"{"watch":"acme","duration_secs":60,"reason":"probe"}"#)
            }
            "incidents" if *method == Method::POST => Some(r#"{"title":"probe","level":"minor"}"#),
            _ => None,
        };
        if path == "/api/v1/events" {
            let response = respond(&h.app, request(Method::GET, &real, Some(ALICE), None)).await;
            assert_eq!(response.status(), 200);
            continue;
        }
        let r = call(&h.app, method.clone(), &real, Some(ALICE), body).await;
        assert!(
            r.status.is_success(),
            "{method} {real}: {} {}",
            r.status,
            r.text
        );
    }
    for path in documented()
        .into_iter()
        .map(|(_, p)| p)
        .collect::<BTreeSet<_>>()
    {
        let real = path.replace("{id}", "acme-1");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            if ops.iter().any(|(m, p)| *m == method && *p == path) {
                continue;
            }
            let r = call(&h.app, method.clone(), &real, Some(ALICE), None).await;
            assert_eq!(
                r.status, 405,
                "{method} {path} is undocumented but answered {}",
                r.status
            );
            assert!(
                r.error()
                    .starts_with(&format!("method {method} is not allowed")),
                "{}",
                r.error()
            );
        }
    }
    // An unknown path under /api/v1 is a JSON 404.
    let r = get(&h.app, "/api/v1/incidentz").await;
    assert_eq!(
        (r.status.as_u16(), r.error().as_str()),
        (
            404,
            "no route GET /api/v1/incidentz (see /api/v1/openapi.json)"
        )
    );
}

#[tokio::test]
async fn console_is_served_from_the_binary() {
    let h = harness();
    for path in ["/", "/ui"] {
        let redirect = get_public(&h.app, path).await;
        assert_eq!(redirect.status, 303, "{path}");
        assert_eq!(redirect.headers[header::LOCATION], "/ui/", "{path}");
    }
    let index = get_public(&h.app, "/ui/").await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let csp = index.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert!(index.text.contains("id=\"login-form\""));
    // No third-party origin anywhere.
    for asset in ["/ui/", "/ui/app.js", "/ui/app.css", "/ui/favicon.svg"] {
        let r = get_public(&h.app, asset).await;
        assert_eq!(r.status, 200, "{asset}");
        // The only URL is the SVG namespace, which nothing loads.
        let urls = r.text.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !urls.contains("http://") && !urls.contains("https://") && !urls.contains("//cdn"),
            "{asset} refers to another origin"
        );
    }
    assert_eq!(
        h.metrics
            .api_requests
            .with_label_values(&["GET", "/ui/", "200"])
            .get(),
        2
    );
}

/// Issue 15 item 1: a report by hand through the API, by a responder and
/// by the new reporter role, with the checks a body gets.
#[tokio::test]
async fn reports_an_incident_by_hand() {
    let tokens = format!(
        "{TOKENS}[[api.tokens]]\nname = \"carol\"\nrole = \"reporter\"\ntoken = \"carol-reporter-0123456789\"\n"
    );
    let mut h = harness_with(&tokens);
    // Drain the harness's own opening notifications (none were sent
    // through the channel: the store made them).
    while h.notifications.try_recv().is_ok() {}
    const CAROL: &str = "carol-reporter-0123456789";
    let body = r#"{"title":"Cracked jars in Shanghai stores","level":"moderate",
        "crisis_kind":"product_safety","description":"Three customers sent photos",
        "links":["https://weibo.example/p/1"],"post_ids":["w1"]}"#;
    let report = |token, body| post_as(&h.app, token, "/api/v1/incidents", Some(body));
    let r = report(CAROL, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    assert_eq!(v["created"], true);
    let id = v["incident"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("reported-report-"), "{id}");
    assert_eq!(
        r.headers[header::LOCATION],
        format!("/api/v1/incidents/{id}")
    );
    assert_eq!(v["incident"]["report"]["by"], "carol");
    assert_eq!(
        v["incident"]["report"]["links"][0],
        "https://weibo.example/p/1"
    );
    assert_eq!(v["incident"]["level"], "moderate");
    assert_eq!(v["incident"]["crisis_kinds"][0], "product_safety");
    assert_eq!(v["incident"]["timeline"][0]["kind"], "reported");
    assert_eq!(v["incident"]["timeline"][0]["actor"], "carol");
    // Notified like a detected incident, through the alert stage.
    let n = h
        .notifications
        .try_recv()
        .expect("a notification for the alert stage");
    assert_eq!(n.incident, id);
    assert_eq!(n.reason, NotifyReason::New);
    // It is a normal incident: listed with its title, readable by a viewer.
    let list = get_as(&h.app, BOB, "/api/v1/incidents").await.json();
    assert_eq!(
        list["incidents"][0]["title"],
        "Cracked jars in Shanghai stores"
    );
    // A reporter reports; acting stays with responders.
    let ack = post_as(&h.app, CAROL, &format!("/api/v1/incidents/{id}/ack"), None).await;
    assert_eq!(ack.status, 403, "{}", ack.text);
    assert!(
        ack.error()
            .contains("role reporter, which may read and report incidents"),
        "{}",
        ack.text
    );
    // A viewer may not report.
    let viewer = report(BOB, body).await;
    assert_eq!(viewer.status, 403);
    assert!(
        viewer.error().contains("needs role reporter or responder"),
        "{}",
        viewer.text
    );
    // On a watch with an active incident (acme-1, major) the report joins it.
    let join = report(
        ALICE,
        r#"{"title":"Hotline flooded","level":"minor","watch":"acme"}"#,
    )
    .await;
    assert_eq!(join.status, 200, "{}", join.text);
    assert_eq!(join.json()["created"], false);
    assert_eq!(join.json()["incident"]["id"], "acme-1");
    // Bad bodies: 400 for the body, 422 for a watch that is not configured.
    for (bad, status) in [
        (r#"{"title":"","level":"minor"}"#, 400),
        (r#"{"title":"x"}"#, 400),
        (r#"{"title":"x","level":"huge"}"#, 400),
        (r#"{"title":"x","level":"minor","links":["ftp://x"]}"#, 400),
        (r#"{"title":"x","level":"minor","colour":"red"}"#, 400),
        (r#"{"title":"x","level":"minor","watch":"nobody"}"#, 422),
    ] {
        let r = report(ALICE, bad).await;
        assert_eq!(r.status, status, "{bad}: {}", r.text);
        assert!(!r.error().is_empty());
    }
    assert_eq!(
        h.store.list(&Default::default()).len(),
        4,
        "one new incident"
    );
}

/// Issue 15 items 3 and 4 through the API: roles and status updates.
#[tokio::test]
async fn roles_and_status_updates_through_the_api() {
    let h = harness();
    let post = |path, token, body| post_as(&h.app, token, path, Some(body));
    let r = post(
        "/api/v1/incidents/acme-1/role",
        ALICE,
        r#"{"role":"lead","person":"dana"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["changed"], true);
    assert_eq!(r.json()["incident"]["lead"], "dana");
    let r = post(
        "/api/v1/incidents/acme-1/role",
        ALICE,
        r#"{"role":"communications","person":"erin"}"#,
    )
    .await;
    assert_eq!(r.json()["incident"]["communications_lead"], "erin");
    let r = post(
        "/api/v1/incidents/acme-1/status",
        ALICE,
        r#"{"text":"We are investigating."}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let i = &r.json()["incident"];
    assert_eq!(i["first_response"]["by"], "alice");
    let kinds = timeline_strs(i, "kind");
    assert!(
        kinds.ends_with(&["role", "role", "status_update"]),
        "{kinds:?}"
    );
    // Each event comes with its words (the export's and CLI's describer).
    let words = timeline_strs(i, "summary");
    assert!(
        words.ends_with(&[
            "incident lead: dana",
            "communications lead: erin",
            "status update: We are investigating."
        ]),
        "{words:?}"
    );
    let list = get(&h.app, "/api/v1/incidents?watch=acme").await.json();
    assert_eq!(list["incidents"][0]["lead"], "dana");
    for (path, body, status) in [
        (
            "/api/v1/incidents/acme-1/role",
            r#"{"role":"boss","person":"x"}"#,
            400,
        ),
        (
            "/api/v1/incidents/acme-1/role",
            r#"{"role":"lead","person":""}"#,
            400,
        ),
        ("/api/v1/incidents/acme-1/status", r#"{"text":" "}"#, 400),
        ("/api/v1/incidents/nope/status", r#"{"text":"x"}"#, 404),
    ] {
        let r = post(path, ALICE, body).await;
        assert_eq!(r.status, status, "{path} {body}: {}", r.text);
    }
    let viewer = post("/api/v1/incidents/acme-1/status", BOB, r#"{"text":"x"}"#).await;
    assert_eq!(viewer.status, 403);
}

/// Issue 15 item 8 through the API: the review's fields and the period
/// report (JSON and Markdown) with its parameters checked.
#[tokio::test]
async fn review_and_period_report_through_the_api() {
    let h = harness();
    let review = "/api/v1/incidents/acme-1/review";
    let r = post(
        &h.app,
        review,
        Some(r#"{"root_cause":"A bad seal batch.","actions":"Recall batch 42."}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["incident"]["review"]["root_cause"],
        "A bad seal batch."
    );
    let md = get(&h.app, "/api/v1/incidents/acme-1/export?format=md")
        .await
        .text;
    assert!(md.contains("- **Root cause:** A bad seal batch."), "{md}");
    assert!(md.contains("## Measured effectiveness"), "{md}");
    for bad in [r#"{}"#, r#"{"root_cause":""}"#, r#"{"cause":"x"}"#] {
        let r = post(&h.app, review, Some(bad)).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    // The harness opened three incidents an hour ago: all in the default
    // period (the last 30 days).
    let p = get(&h.app, "/api/v1/reports/period").await;
    assert_eq!(p.status, 200, "{}", p.text);
    let v = p.json();
    assert_eq!(v["incidents"], 3);
    assert_eq!(v["by_level"]["major"], 1);
    assert_eq!(v["top_watches"].as_array().unwrap().len(), 3);
    let md = get(
        &h.app,
        "/api/v1/reports/period?format=md&until=2099-01-01T00:00:00Z&since=2000-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(
        md.headers[header::CONTENT_TYPE],
        "text/markdown; charset=utf-8"
    );
    assert!(
        md.text.contains("3 incidents (0 reported by hand)"),
        "{}",
        md.text
    );
    let none = get(
        &h.app,
        "/api/v1/reports/period?since=2000-01-01T00:00:00Z&until=2000-02-01T00:00:00Z",
    )
    .await;
    assert_eq!(none.json()["incidents"], 0);
    for (q, want) in [
        ("since=yesterday", "is not an RFC 3339 time"),
        ("format=pdf", "is not md or json"),
        ("limit=3", "unknown query parameter `limit`"),
        (
            "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            "`since` must be before `until`",
        ),
    ] {
        let r = get(&h.app, &format!("/api/v1/reports/period?{q}")).await;
        assert_eq!(r.status, 400, "{q}");
        assert!(r.error().contains(want), "{q}: {}", r.text);
    }
}

/// Issue 15 item 5 through the API: the checklist and ticking its steps.
#[tokio::test]
async fn playbook_steps_are_ticked_through_the_api() {
    let h = harness();
    let i = get(&h.app, "/api/v1/incidents/acme-1").await.json();
    assert_eq!(
        i["checklist"]["playbook"], "default",
        "no crisis kind: the default playbook"
    );
    let first = i["checklist"]["steps"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(
        &h.app,
        "/api/v1/incidents/acme-1/step",
        Some(r#"{"step":0}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["changed"], true);
    assert_eq!(
        v["incident"]["checklist"]["steps"][0]["done"]["by"],
        "alice"
    );
    let last = last_event(&v["incident"]);
    assert_eq!(last["kind"], "step");
    assert_eq!(last["text"], first);
    let again = post(
        &h.app,
        "/api/v1/incidents/acme-1/step",
        Some(r#"{"step":0,"done":true}"#),
    )
    .await;
    assert_eq!(again.json()["changed"], false);
    let undo = post(
        &h.app,
        "/api/v1/incidents/acme-1/step",
        Some(r#"{"step":0,"done":false}"#),
    )
    .await;
    assert!(undo.json()["incident"]["checklist"]["steps"][0]["done"].is_null());
    for (body, status, want) in [
        (r#"{"step":99}"#, 400, "step 99 is not in the checklist"),
        (r#"{"step":-1}"#, 400, "invalid JSON body"),
        (r#"{}"#, 400, "missing field `step`"),
    ] {
        let r = post(&h.app, "/api/v1/incidents/acme-1/step", Some(body)).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert!(r.error().contains(want), "{body}: {}", r.text);
    }
    let viewer = post_as(
        &h.app,
        BOB,
        "/api/v1/incidents/acme-1/step",
        Some(r#"{"step":1}"#),
    )
    .await;
    assert_eq!(viewer.status, 403);
}

/// Issue 15 item 6 through the API: drafts from the templates, and a
/// status update that cannot be published without stakeholder sinks.
#[tokio::test]
async fn drafts_and_publishing_through_the_api() {
    let h = harness();
    // The harness's store has no templates: no drafts, not an error.
    let none = get(&h.app, "/api/v1/incidents/acme-1/drafts").await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.json()["drafts"], serde_json::json!([]));
    h.store.set_templates(settings("").templates);
    let d = get(&h.app, "/api/v1/incidents/acme-1/drafts").await.json();
    let drafts = d["drafts"].as_array().unwrap();
    assert_eq!(drafts.len(), 2, "no crisis kind: the default en and zh");
    assert_eq!(drafts[0]["template"], "default.en");
    assert!(drafts[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("We are aware of reports about acme"));
    assert_eq!(
        get(&h.app, "/api/v1/incidents/nope/drafts").await.status,
        404
    );
    let r = post(
        &h.app,
        "/api/v1/incidents/acme-1/status",
        Some(r#"{"text":"x","publish":true}"#),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.error().contains("alert.stakeholder_sinks"), "{}", r.text);
}

/// Issue 15 item 2 through the API: a report on a watch with a reporting
/// path is owned by the path's owner and reaches the owner's sink.
#[tokio::test]
async fn a_reported_incident_gets_its_paths_owner() {
    let h = harness();
    let s = Settings::from_toml_str(
        "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n\
         [[alert.sinks]]\ntype = \"stdout\"\n\
         [[alert.sinks]]\ntype = \"webhook\"\nname = \"legal-pager\"\nurl = \"http://127.0.0.1:9/x\"\n\
         [[incidents.people]]\nname = \"lena\"\nsinks = [\"legal-pager\"]\n\
         [[incidents.paths]]\nkind = \"legal\"\nowner = \"lena\"\nsteps = [{ after_secs = 0, to = \"lena\" }]\n",
        "t.toml",
        &[],
    )
    .unwrap();
    h.store
        .set_policy(EscalationPolicy::from_settings(&s.alert).with_roster(&s.incidents));
    let r = post(
        &h.app,
        "/api/v1/incidents",
        Some(r#"{"title":"Lawsuit filed","level":"moderate","crisis_kind":"legal"}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let i = &r.json()["incident"];
    assert_eq!(i["assignee"], "lena");
    let notified = i["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "notified")
        .unwrap()
        .clone();
    assert_eq!(notified["sinks"], serde_json::json!(["legal-pager"]));
    assert_eq!(notified["people"], serde_json::json!(["lena"]));
}
