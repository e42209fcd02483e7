//! `GET /api/v1/events`: the store's changes as server-sent events.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::Stream;
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio_util::sync::CancellationToken;
use vigil_incidents::Change;

use crate::ApiState;

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
}

/// The stream: `ready` first (the subscription is live: anything changed
/// after it arrives), then one event per change named by its kind
/// (`incident`, `silence`, `pruned`) with the change as JSON, and
/// `resync` with `{"missed": n}` when this client fell behind and should
/// reload. It ends when the server shuts down.
pub(crate) async fn events(
    State(s): State<ApiState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed {
        rx: s.store.subscribe(),
        shutdown: s.shutdown.clone(),
        started: false,
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
