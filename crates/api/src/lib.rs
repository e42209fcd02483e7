//! Vigil's incident HTTP API (`/api/v1`) and web console (`/ui`).
//!
//! [`router`] serves, over one shared [`IncidentStore`]:
//!
//! - `GET /api/v1/incidents` (filters `level`, `state`, `watch`, `since`,
//!   `until`, `limit`), `GET /api/v1/incidents/{id}` with its timeline and
//!   volume series, `POST .../{id}/ack|assign|comment|resolve|reopen`,
//!   `GET .../{id}/export?format=md|json` (the post-crisis review);
//! - `GET|POST /api/v1/silences`, `DELETE /api/v1/silences/{id}`;
//! - `GET /api/v1/events`, the store's changes as server-sent events;
//! - `GET /api/v1/me` (the caller's name and role) and
//!   `GET /api/v1/openapi.json` (OpenAPI 3.1, the only route open without a
//!   token);
//! - `/ui/`, a console of plain HTML, JS and CSS compiled into the binary,
//!   and `/` redirecting to it.
//!
//! Every data route needs `Authorization: Bearer <token>` ([`Auth`], from
//! the `[api]` config section): role `viewer` may GET, `responder` may also
//! POST and DELETE; 401 for a missing or unknown token (and for everything
//! while no token is configured), 403 for a viewer writing. The token's
//! name is the actor recorded in the timeline. Errors are
//! `{"error": "..."}`; a body over `api.max_body_bytes` is a 413, bad JSON
//! a 400 with serde's message.
//!
//! Side effects of actions: every [`Notification`] an action returns is sent
//! on [`ApiState::notify`] (the alert stage delivers them to sinks); an
//! acknowledgement observes `vigil_alert_time_to_acknowledge_seconds{level}`;
//! every request counts in `vigil_api_requests_total{method, route,
//! status}` with the route template as `route`.
//!
//! ```
//! use std::sync::Arc;
//! use tower::ServiceExt;
//! use vigil_api::{router, ApiState};
//! use vigil_incidents::{EscalationPolicy, IncidentStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let dir = tempfile::tempdir().unwrap();
//! let settings = vigil_config::Settings::from_toml_str(
//!     "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n\
//!      [[api.tokens]]\nname = \"alice\"\nrole = \"responder\"\ntoken = \"alice-0123456789abcdef\"\n",
//!     "vigil.toml",
//!     &[],
//! )
//! .unwrap();
//! let store = IncidentStore::open(&dir.path().join("incidents.redb"), EscalationPolicy::default()).unwrap();
//! let (notify, _deliver) = tokio::sync::mpsc::unbounded_channel();
//! let state = ApiState::new(
//!     Arc::new(store),
//!     &settings,
//!     vigil_telemetry::Metrics::new(),
//!     notify,
//!     tokio_util::sync::CancellationToken::new(),
//! );
//! let app = router(state);
//! let request = axum::http::Request::get("/api/v1/incidents")
//!     .header("authorization", "Bearer alice-0123456789abcdef")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! # }
//! ```
//!
//! # Crate features
//!
//! None.
//!
//! [`Notification`]: vigil_incidents::Notification
#![deny(missing_docs)]
// The hand-written OpenAPI document is one deep `json!` literal.
#![recursion_limit = "256"]

mod auth;
mod console;
mod error;
mod events;
mod openapi;
mod routes;

use std::{
    collections::BTreeSet,
    sync::{Arc, PoisonError, RwLock},
};

use axum::{extract::DefaultBodyLimit, middleware::from_fn_with_state, Router};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use vigil_config::Settings;
use vigil_incidents::{IncidentStore, Notification};
use vigil_telemetry::Metrics;
use vigil_types::WatchId;

pub use crate::auth::{Auth, Caller};

/// What the API's handlers share.
#[derive(Clone, Debug)]
pub struct ApiState {
    /// The incident store (shared with the alert stage).
    pub store: Arc<IncidentStore>,
    /// The configured tokens (clones share them: see [`ApiState::reload`]).
    pub auth: Auth,
    /// Metrics (`api_requests`, `alert_time_to_acknowledge`).
    pub metrics: Metrics,
    /// Where the notifications of people's actions (a resolve, a reopen)
    /// go: the alert stage delivers them to its sinks.
    pub notify: UnboundedSender<Notification>,
    /// Largest request body accepted (`api.max_body_bytes`).
    pub max_body_bytes: usize,
    /// The configured watches: a silence for any other watch is refused
    /// (422). Clones share one set; [`ApiState::reload`] replaces it.
    pub watches: Arc<RwLock<BTreeSet<WatchId>>>,
    /// Ends the live-update streams (`/api/v1/events`) so a graceful
    /// shutdown does not wait for clients that never hang up. Give it the
    /// same token as the server's graceful shutdown.
    pub shutdown: CancellationToken,
    /// One permit per open live-change stream (`api.max_event_streams`).
    pub event_streams: Arc<tokio::sync::Semaphore>,
}

fn watch_ids(settings: &Settings) -> BTreeSet<WatchId> {
    settings.watches.iter().map(|w| w.id.clone()).collect()
}

impl ApiState {
    /// The state from validated settings: the `[api]` section and the
    /// watch list.
    pub fn new(
        store: Arc<IncidentStore>,
        settings: &Settings,
        metrics: Metrics,
        notify: UnboundedSender<Notification>,
        shutdown: CancellationToken,
    ) -> ApiState {
        ApiState {
            store,
            auth: Auth::from_settings(&settings.api),
            metrics,
            notify,
            max_body_bytes: settings.api.max_body_bytes,
            watches: Arc::new(RwLock::new(watch_ids(settings))),
            shutdown,
            event_streams: Arc::new(tokio::sync::Semaphore::new(settings.api.max_event_streams)),
        }
    }

    /// Applies a configuration reload to this state and every clone of it
    /// (the router's): the API tokens (a removed or changed token is
    /// refused from the next request on) and the watch list silences are
    /// checked against.
    pub fn reload(&self, settings: &Settings) {
        self.auth.replace(&settings.api);
        *self.watches.write().unwrap_or_else(PoisonError::into_inner) = watch_ids(settings);
    }

    /// True when `watch` is configured.
    pub(crate) fn knows_watch(&self, watch: &WatchId) -> bool {
        self.watches
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(watch)
    }
}

/// The API (`/api/v1/**`), the console (`/ui/**`) and `/` (a redirect to
/// the console), ready to merge into the admin router:
/// `admin_router(metrics, ready).merge(vigil_api::router(state))`. It sets
/// no fallback, so merging never conflicts.
pub fn router(state: ApiState) -> Router {
    let mut protected = Router::new();
    for (path, route) in routes::protected_routes() {
        protected = protected.route(path, route);
    }
    let (path, route) = routes::unknown_route();
    protected = protect(protected.route(path, route), state.auth.clone());
    let mut open = Router::new();
    for (path, route) in routes::open_routes().into_iter().chain(console::routes()) {
        open = open.route(path, route);
    }
    open.merge(protected)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), routes::count_requests))
        .with_state(state)
}

/// Puts `router`'s routes behind the API's bearer tokens: 401 without a
/// known token, 403 when a viewer tries anything but GET/HEAD, the
/// [`Caller`] in the request's extensions. The same check the incident API
/// uses, for other routes on the admin port (`POST /admin/reload`).
pub fn protect<S: Clone + Send + Sync + 'static>(router: Router<S>, auth: Auth) -> Router<S> {
    router.route_layer(from_fn_with_state(auth, routes::require_token))
}

#[cfg(test)]
mod tests;
