//! `GET /api/v1/events`: the store's changes as server-sent events.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::sse::{Event, KeepAlive, Sse},
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
}

/// The stream: `ready` first (the subscription is live: anything changed
/// after it arrives), then one event per change named by its kind
/// (`incident`, `silence`, `pruned`) with the change as JSON, and
/// `resync` with `{"missed": n}` when this client fell behind and should
/// reload. It ends when the server shuts down, or before the next change
/// once a reload has revoked the client's token.
pub(crate) async fn events(
    State(s): State<ApiState>,
    headers: HeaderMap,
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
