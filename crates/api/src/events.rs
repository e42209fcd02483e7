//! `GET /api/v1/events`: the store's changes as server-sent events.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
};
use futures::Stream;
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio_util::sync::CancellationToken;
use vigil_incidents::Change;

use crate::{ApiState, Auth};

/// How often an idle stream sends a comment line, so proxies and clients
/// see it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The SSE event name of a change: its `kind`.
fn event_name(c: &Change) -> &'static str {
    match c {
        Change::Incident { .. } => "incident",
        Change::Pruned { .. } => "pruned",
        Change::Silence { .. } => "silence",
    }
}

struct Feed {
    rx: Receiver<Change>,
    shutdown: CancellationToken,
    started: bool,
    /// The tokens in force and the one this client presented: a token a
    /// reload removed gets no further change (the stream ends).
    auth: Auth,
    token: String,
    /// Held while the stream is open.
    _slot: Slot,
}

/// An open stream's permit (`api.max_event_streams`), counted in
/// `vigil_api_event_streams` until the stream ends.
struct Slot {
    _permit: tokio::sync::OwnedSemaphorePermit,
    metrics: vigil_telemetry::Metrics,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.api_event_streams.dec();
    }
}

/// The stream: `ready` first (the subscription is live: anything changed
/// after it arrives), then one event per change named by its kind
/// (`incident`, `silence`, `pruned`) with the change as JSON, and
/// `resync` with `{"missed": n}` when this client fell behind and should
/// reload. It ends when the server shuts down, or before the next change
/// once a reload has revoked the client's token. With
/// `api.max_event_streams` streams open, it answers 503 (retry after 5 s)
/// and counts `vigil_api_rejected_event_streams_total`.
pub(crate) async fn events(State(s): State<ApiState>, headers: HeaderMap) -> Response {
    let Ok(permit) = s.event_streams.clone().try_acquire_owned() else {
        s.metrics.api_rejected_event_streams.inc();
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "too many open event streams (api.max_event_streams); retry later\n",
        )
            .into_response();
    };
    s.metrics.api_event_streams.inc();
    let slot = Slot {
        _permit: permit,
        metrics: s.metrics.clone(),
    };
    stream(s, headers, slot).into_response()
}

fn stream(
    s: ApiState,
    headers: HeaderMap,
    slot: Slot,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // `require_token` let the request through, so the header is a bearer.
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::routes::bearer)
        .unwrap_or_default()
        .to_string();
    let feed = Feed {
        rx: s.store.subscribe(),
        shutdown: s.shutdown.clone(),
        started: false,
        auth: s.auth.clone(),
        token,
        _slot: slot,
    };
    let stream = futures::stream::unfold(feed, |mut f| async move {
        if !f.started {
            f.started = true;
            return Some((Ok(Event::default().event("ready").data("{}")), f));
        }
        let next = tokio::select! {
            _ = f.shutdown.cancelled() => return None,
            r = f.rx.recv() => r,
        };
        if f.auth.check(&f.token).is_none() {
            tracing::info!("Event stream ended: its token was revoked by a reload.");
            return None;
        }
        let event = match next {
            Ok(change) => Event::default()
                .event(event_name(&change))
                .data(serde_json::to_string(&change).expect("a change always serialises")),
            Err(RecvError::Lagged(n)) => Event::default()
                .event("resync")
                .data(format!("{{\"missed\":{n}}}")),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), f))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
