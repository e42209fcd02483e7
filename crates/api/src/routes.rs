//! The `/api/v1` handlers and the middleware around them (auth, metrics).

use axum::{
    extract::{MatchedPath, Path, Query, Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{any, delete, get, post, MethodRouter},
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vigil_incidents::{Action, Filter, NewReport, NewSilence, Review, Role, MAX_SILENCE};
use vigil_types::{EventTime, Level, WatchId};

use crate::{
    auth::{Auth, Caller},
    error::{ApiError, JsonBody},
    ApiState,
};

/// Every `/api/v1` route that needs a token, as mounted. The OpenAPI test
/// compares these paths with the document's.
pub(crate) fn protected_routes() -> Vec<(&'static str, MethodRouter<ApiState>)> {
    vec![
        ("/api/v1/me", get(me)),
        ("/api/v1/incidents", get(list_incidents).post(report)),
        ("/api/v1/incidents/{id}", get(get_incident)),
        ("/api/v1/incidents/{id}/ack", post(ack)),
        ("/api/v1/incidents/{id}/assign", post(assign)),
        ("/api/v1/incidents/{id}/comment", post(comment)),
        ("/api/v1/incidents/{id}/role", post(role)),
        ("/api/v1/incidents/{id}/status", post(status)),
        ("/api/v1/incidents/{id}/review", post(review)),
        ("/api/v1/incidents/{id}/step", post(step)),
        ("/api/v1/incidents/{id}/drafts", get(drafts)),
        ("/api/v1/incidents/{id}/merge", post(merge)),
        ("/api/v1/reports/period", get(period_report)),
        ("/api/v1/incidents/{id}/resolve", post(resolve)),
        ("/api/v1/incidents/{id}/reopen", post(reopen)),
        ("/api/v1/incidents/{id}/export", get(export)),
        ("/api/v1/silences", get(list_silences).post(add_silence)),
        ("/api/v1/silences/{id}", delete(remove_silence)),
        ("/api/v1/events", get(crate::events::events)),
    ]
}

/// `/api/v1` routes open without a token.
pub(crate) fn open_routes() -> Vec<(&'static str, MethodRouter<ApiState>)> {
    vec![("/api/v1/openapi.json", get(openapi))]
}

/// Any other path under `/api/v1` (behind auth, so it reveals nothing).
pub(crate) fn unknown_route() -> (&'static str, MethodRouter<ApiState>) {
    ("/api/v1/{*rest}", any(no_such_route))
}

/// The current processing time (the wall clock).
pub(crate) fn now() -> EventTime {
    EventTime::wall_clock()
}

/// Runs a store call on the blocking pool (mutating calls fsync).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("incident store task failed: {e}")))
}

// ---------------------------------------------------------------- middleware

/// Checks `Authorization: Bearer <token>`: 401 without a known token, 403
/// when a viewer tries anything but GET/HEAD. Puts the [`Caller`] in the
/// request's extensions. The token itself is never logged.
pub(crate) async fn require_token(
    State(auth): State<Auth>,
    mut req: Request,
    next: Next,
) -> Response {
    if !auth.is_enabled() {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the incident API is off: no tokens are configured (add [[api.tokens]] to the config; see docs/CONFIG.md)",
        )
        .into_response();
    }
    let presented = match req.headers().get(header::AUTHORIZATION) {
        None => {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing bearer token: send `Authorization: Bearer <token>`",
            )
            .into_response()
        }
        Some(v) => match v.to_str().ok().and_then(bearer) {
            Some(t) => t.to_string(),
            None => {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "the Authorization header must be `Bearer <token>`",
                )
                .into_response()
            }
        },
    };
    let Some(caller) = auth.check(&presented) else {
        tracing::debug!(path = %req.uri().path(), "API request with an unknown token refused.");
        return ApiError::new(StatusCode::UNAUTHORIZED, "unknown token").into_response();
    };
    let reading = req.method() == Method::GET || req.method() == Method::HEAD;
    let reporting = req.method() == Method::POST && req.uri().path() == REPORT_PATH;
    let allowed = reading || caller.role.may_write() || (reporting && caller.role.may_report());
    if !allowed {
        let may = if caller.role.may_report() {
            "may read and report incidents"
        } else {
            "may only read"
        };
        let needs = if reporting {
            "role reporter or responder"
        } else {
            "role responder"
        };
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` has role {}, which {may}; {} {} needs {needs}",
                caller.name,
                caller.role.as_str(),
                req.method(),
                req.uri().path()
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Where a report is posted: the one write a reporter may make.
const REPORT_PATH: &str = "/api/v1/incidents";

pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Counts every request in `vigil_api_requests_total{method, route,
/// status}` (route is the template, never the raw path), and gives axum's
/// bare 405 a JSON body.
pub(crate) async fn count_requests(
    State(s): State<ApiState>,
    req: Request,
    next: Next,
) -> Response {
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let mut response = next.run(req).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method {method} is not allowed on {route}"),
        )
        .into_response();
        if let Some(a) = allow {
            response.headers_mut().insert(header::ALLOW, a);
        }
    }
    s.metrics
        .api_requests
        .with_label_values(&[method, route.as_str(), response.status().as_str()])
        .inc();
    response
}

// ------------------------------------------------------------------ handlers

async fn me(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(json!({ "name": caller.name, "role": caller.role.as_str() }))
}

async fn no_such_route(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route {} {} (see /api/v1/openapi.json)",
        req.method(),
        req.uri().path()
    ))
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::openapi::document_json(),
    )
        .into_response()
}

/// An RFC 3339 query value, or a 400 naming the parameter.
fn time_param(k: &str, v: &str) -> Result<EventTime, ApiError> {
    EventTime::parse_rfc3339(v).ok_or_else(|| {
        ApiError::bad_request(format!(
            "query parameter `{k}`: `{v}` is not an RFC 3339 time (like 2026-11-23T14:00:00Z)"
        ))
    })
}

/// `format=md|json`: true for Markdown.
fn markdown_param(v: &str) -> Result<bool, ApiError> {
    match v {
        "md" => Ok(true),
        "json" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "query parameter `format`: `{v}` is not md or json"
        ))),
    }
}

/// A report as Markdown (`text/markdown`) or as JSON.
fn md_or_json<T: Serialize>(markdown: bool, report: T, md: impl FnOnce(&T) -> String) -> Response {
    if markdown {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/markdown; charset=utf-8"),
            )],
            md(&report),
        )
            .into_response()
    } else {
        Json(report).into_response()
    }
}

/// Parses the list filter from query parameters; unknown names and bad
/// values are 400s naming the parameter.
pub(crate) fn parse_filter(params: &[(String, String)]) -> Result<Filter, ApiError> {
    let mut f = Filter::default();
    for (k, v) in params {
        let bad = |e: String| ApiError::bad_request(format!("query parameter `{k}`: {e}"));
        let time = |v: &str| time_param(k, v);
        match k.as_str() {
            "level" => f.level = Some(v.parse::<Level>().map_err(bad)?),
            "state" => f.state = Some(v.parse::<vigil_incidents::State>().map_err(bad)?),
            "watch" => f.watch = Some(WatchId(v.clone())),
            "since" => f.since = Some(time(v)?),
            "until" => f.until = Some(time(v)?),
            "limit" => {
                f.limit = Some(
                    v.parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad(format!("`{v}` is not a positive integer")))?,
                )
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{k}` (expected level, state, watch, since, until or limit)"
                )))
            }
        }
    }
    Ok(f)
}

type Params = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

fn params(p: Params) -> Result<Vec<(String, String)>, ApiError> {
    p.map(|Query(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

async fn list_incidents(State(s): State<ApiState>, p: Params) -> Result<Json<Value>, ApiError> {
    let filter = parse_filter(&params(p)?)?;
    let store = s.store.clone();
    let incidents = blocking(move || store.list(&filter)).await?;
    Ok(Json(
        json!({ "count": incidents.len(), "incidents": incidents }),
    ))
}

async fn get_incident(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = s.store.clone();
    let lookup = id.clone();
    match blocking(move || store.get(&lookup)).await? {
        Some(i) => Ok(Json(described(&i)).into_response()),
        None => Err(ApiError::not_found(format!("no incident `{id}`"))),
    }
}

/// Hands notifications to the alert stage for delivery.
fn deliver(s: &ApiState, notifications: &[vigil_incidents::Notification]) {
    for n in notifications {
        if s.notify.send(n.clone()).is_err() {
            tracing::warn!(
                incident = %n.incident,
                reason = %n.reason,
                "Notification not delivered: the alert stage is not running."
            );
        }
    }
}

/// An incident as the API shows it: its JSON, each timeline event with a
/// `summary` in words (the describer the Markdown export and the CLI use, so
/// the console need not word events itself).
fn described(i: &vigil_incidents::Incident) -> Value {
    let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
    if let Some(events) = v["timeline"].as_array_mut() {
        for (e, json) in i.timeline.iter().zip(events) {
            json["summary"] = Value::from(e.kind.describe(&|t| t.to_string()));
        }
    }
    v
}

/// What a report answers.
#[derive(Serialize)]
struct ReportResponse {
    /// True when it opened a new incident; false when it joined the active
    /// incident of its watch.
    created: bool,
    incident: Value,
}

async fn report(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<NewReport>,
) -> Result<Response, ApiError> {
    if let Some(w) = body.watch.as_ref().filter(|w| !s.knows_watch(w)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "no watch `{w}` is configured: a report names one of the configured watches or none"
            ),
        ));
    }
    let store = s.store.clone();
    let actor = caller.name.clone();
    let out = blocking(move || store.report(body, &actor, now())).await??;
    deliver(&s, &out.notifications);
    tracing::info!(
        incident = %out.incident.id,
        actor = %caller.name,
        created = out.created,
        "Incident reported by hand."
    );
    let status = if out.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/api/v1/incidents/{}", out.incident.id);
    let mut resp = (
        status,
        Json(ReportResponse {
            created: out.created,
            incident: described(&out.incident),
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// What every action route answers.
#[derive(Serialize)]
struct ActResponse {
    /// False when the action changed nothing (already acknowledged...).
    changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_to_acknowledge_secs: Option<f64>,
    incident: Value,
}

async fn act(
    s: ApiState,
    id: String,
    action: Action,
    caller: Caller,
) -> Result<Json<ActResponse>, ApiError> {
    let name = action.name();
    let store = s.store.clone();
    let actor = caller.name.clone();
    let out = blocking(move || store.act(&id, action, &actor, now())).await??;
    if let Some(secs) = out.time_to_acknowledge_secs {
        s.metrics
            .alert_time_to_acknowledge
            .with_label_values(&[out.incident.level.as_str()])
            .observe(secs);
    }
    deliver(&s, &out.notifications);
    tracing::info!(
        incident = %out.incident.id,
        actor = %caller.name,
        action = name,
        changed = out.changed,
        "Incident action recorded."
    );
    Ok(Json(ActResponse {
        changed: out.changed,
        time_to_acknowledge_secs: out.time_to_acknowledge_secs,
        incident: described(&out.incident),
    }))
}

async fn ack(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
) -> Result<Json<ActResponse>, ApiError> {
    act(s, id, Action::Ack, c).await
}

async fn resolve(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
) -> Result<Json<ActResponse>, ApiError> {
    act(s, id, Action::Resolve, c).await
}

async fn reopen(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
) -> Result<Json<ActResponse>, ApiError> {
    act(s, id, Action::Reopen, c).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    assignee: String,
}

async fn assign(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<AssignBody>,
) -> Result<Json<ActResponse>, ApiError> {
    act(
        s,
        id,
        Action::Assign {
            assignee: b.assignee,
        },
        c,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    text: String,
}

async fn comment(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<CommentBody>,
) -> Result<Json<ActResponse>, ApiError> {
    act(s, id, Action::Comment { text: b.text }, c).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
    person: String,
}

async fn role(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<RoleBody>,
) -> Result<Json<ActResponse>, ApiError> {
    act(
        s,
        id,
        Action::Role {
            role: b.role,
            person: b.person,
        },
        c,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    text: String,
    #[serde(default)]
    publish: bool,
}

async fn status(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<StatusBody>,
) -> Result<Json<ActResponse>, ApiError> {
    act(
        s,
        id,
        Action::StatusUpdate {
            text: b.text,
            publish: b.publish,
        },
        c,
    )
    .await
}

/// `GET /api/v1/incidents/{id}/drafts`: status updates drafted from the
/// templates of its crisis kinds (then the default ones), facts filled in.
async fn drafts(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = s.store.clone();
    let drafts = blocking(move || store.drafts(&id, now())).await??;
    Ok(Json(json!({ "drafts": drafts })))
}

async fn review(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<Review>,
) -> Result<Json<ActResponse>, ApiError> {
    act(s, id, Action::Review(b), c).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepBody {
    step: usize,
    #[serde(default = "yes")]
    done: bool,
}

fn yes() -> bool {
    true
}

async fn step(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<StepBody>,
) -> Result<Json<ActResponse>, ApiError> {
    act(
        s,
        id,
        Action::Step {
            step: b.step,
            done: b.done,
        },
        c,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    into: String,
}

/// `POST /api/v1/incidents/{id}/merge`: merges this incident into `into`;
/// answers with `into` as it is now.
async fn merge(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(caller): Extension<Caller>,
    JsonBody(b): JsonBody<MergeBody>,
) -> Result<Json<ActResponse>, ApiError> {
    let store = s.store.clone();
    let actor = caller.name.clone();
    let from = id.clone();
    let out = blocking(move || store.merge(&from, &b.into, &actor, now())).await??;
    deliver(&s, &out.notifications);
    tracing::info!(from = %id, into = %out.incident.id, actor = %caller.name, "Incidents merged.");
    Ok(Json(ActResponse {
        changed: out.changed,
        time_to_acknowledge_secs: None,
        incident: described(&out.incident),
    }))
}

/// The default period of a report: the 30 days before `until`.
const DEFAULT_PERIOD_MS: i64 = 30 * 86_400_000;

/// `GET /api/v1/reports/period?since=&until=&format=json|md`: the incidents
/// opened in `[since, until)` summed up (default: the last 30 days).
async fn period_report(State(s): State<ApiState>, p: Params) -> Result<Response, ApiError> {
    let (mut since, mut until, mut markdown) = (None, None, false);
    for (k, v) in params(p)? {
        match k.as_str() {
            "since" => since = Some(time_param(&k, &v)?),
            "until" => until = Some(time_param(&k, &v)?),
            "format" => markdown = markdown_param(&v)?,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{k}` (expected since, until or format)"
                )))
            }
        }
    }
    let until = until.unwrap_or_else(now);
    let since = since.unwrap_or(EventTime(until.0.saturating_sub(DEFAULT_PERIOD_MS)));
    if since >= until {
        return Err(ApiError::bad_request("`since` must be before `until`"));
    }
    let store = s.store.clone();
    let report = blocking(move || store.period_report(since, until)).await?;
    Ok(md_or_json(markdown, report, |r| r.to_markdown()))
}

async fn export(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let mut markdown = false;
    for (k, v) in params(p)? {
        match k.as_str() {
            "format" => markdown = markdown_param(&v)?,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{k}` (expected format)"
                )))
            }
        }
    }
    let store = s.store.clone();
    let lookup = id.clone();
    let report = blocking(move || store.export(&lookup))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no incident `{id}`")))?;
    Ok(md_or_json(markdown, report, |r| r.to_markdown()))
}

async fn list_silences(State(s): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let store = s.store.clone();
    let silences = blocking(move || store.silences()).await?;
    Ok(Json(json!({ "silences": silences })))
}

/// `POST /api/v1/silences`: `ends_at` or `duration_secs` (1 s to 90 days);
/// `starts_at` defaults to now. The end must be in the future and at most
/// 90 days from now (the store checks), the watch a configured one (422).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceBody {
    watch: WatchId,
    #[serde(default)]
    level: Option<Level>,
    #[serde(default)]
    starts_at: Option<EventTime>,
    #[serde(default)]
    ends_at: Option<EventTime>,
    #[serde(default)]
    duration_secs: Option<u64>,
    reason: String,
}

async fn add_silence(
    State(s): State<ApiState>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<SilenceBody>,
) -> Result<Response, ApiError> {
    let now = now();
    let starts_at = b.starts_at.unwrap_or(now);
    let max_secs = MAX_SILENCE.as_secs();
    let ends_at = match (b.ends_at, b.duration_secs) {
        (Some(e), None) => e,
        (None, Some(0)) => {
            return Err(ApiError::bad_request("`duration_secs` must be at least 1"));
        }
        (None, Some(d)) if d > max_secs => {
            return Err(ApiError::bad_request(format!(
                "`duration_secs` {d} is over the limit of {max_secs} ({} days)",
                max_secs / 86_400
            )));
        }
        (None, Some(d)) => {
            let ms = i64::try_from(d).expect("at most MAX_SILENCE") * 1000;
            EventTime(starts_at.0.checked_add(ms).ok_or_else(|| {
                ApiError::bad_request("`starts_at` plus `duration_secs` is out of range")
            })?)
        }
        _ => {
            return Err(ApiError::bad_request(
                "give either `ends_at` (RFC 3339) or `duration_secs`",
            ))
        }
    };
    if !s.knows_watch(&b.watch) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "no watch `{}` is configured: a silence must name one of the configured watches",
                b.watch
            ),
        ));
    }
    let new = NewSilence {
        watch: b.watch,
        level: b.level,
        starts_at,
        ends_at,
        reason: b.reason,
    };
    let store = s.store.clone();
    let author = c.name.clone();
    let silence = blocking(move || store.add_silence(new, &author, now)).await??;
    tracing::info!(silence = %silence.id, watch = %silence.watch, actor = %c.name, "Silence added.");
    Ok((StatusCode::CREATED, Json(silence)).into_response())
}

async fn remove_silence(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Extension(c): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    let store = s.store.clone();
    let silence = blocking(move || store.remove_silence(&id)).await??;
    tracing::info!(silence = %silence.id, actor = %c.name, "Silence removed.");
    Ok(Json(json!({ "removed": silence })))
}
