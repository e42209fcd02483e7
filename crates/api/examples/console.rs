//! Serves the API and console over a demo store, to try the console without a
//! pipeline:
//!
//! ```text
//! cargo run -p vigil-api --example console -- 127.0.0.1:9464
//! # open http://127.0.0.1:9464/ui/ and sign in with demo-responder-token-0123
//! # (or demo-viewer-token-01234567 for a read-only view)
//! ```
//!
//! Three incidents (major, moderate, minor), each with twenty windows of
//! volume, in a store under a temporary directory that is removed on exit.

use std::sync::Arc;

use vigil_api::{router, ApiState};
use vigil_incidents::{EscalationPolicy, IncidentStore};
use vigil_types::{EventTime, Level, PostId, Spike, Transition};

fn spike(incident: &str, level: Level, transition: Transition, end: i64, observed: u64) -> Spike {
    let watch = incident.rsplit_once('-').map_or(incident, |x| x.0);
    let mut s = vigil_types::fixtures::spike(watch, incident, transition, level, end);
    s.figures.observed = observed;
    s.figures.baseline = 4.0 + (end % 7) as f64 / 3.0;
    s.figures.z = observed as f64 / 2.0;
    s.figures.negative_share = 0.6;
    s.figures.top_terms = vec!["recall".into(), "refund".into()];
    s.sample_post_ids = vec![PostId::from(format!("p{end}").as_str())];
    s.distinct_regions = 1;
    s
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9464".into());
    let dir = tempfile::tempdir()?;
    let store = IncidentStore::open(
        &dir.path().join("incidents.redb"),
        EscalationPolicy::notify_all(vec!["stdout".into()]),
    )?;
    let now = vigil_types::EventTime::wall_clock().0 / 1000;
    for (k, (id, level)) in [
        ("acme-1", Level::Major),
        ("northwind-air-1", Level::Moderate),
        ("zephyr-phone-1", Level::Minor),
    ]
    .into_iter()
    .enumerate()
    {
        let start = now - 1800 + 60 * k as i64;
        for w in 0..20 {
            let end = start + 60 * w;
            let observed = 6 + (40 - (w - 8).abs() * 4).max(0) as u64 * (3 - k as u64);
            let t = if w == 0 {
                Transition::Opened
            } else {
                Transition::Ongoing
            };
            store.on_spike(
                &spike(id, level, t, end, observed),
                EventTime::from_secs(end),
            )?;
        }
    }
    let settings = vigil_config::Settings::from_toml_str(
        "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n\
         [[watches]]\nid = \"northwind-air\"\nterms = [\"northwind\"]\n\
         [[watches]]\nid = \"zephyr-phone\"\nterms = [\"zephyr\"]\n\
         [[api.tokens]]\nname = \"demo\"\nrole = \"responder\"\ntoken = \"demo-responder-token-0123\"\n\
         [[api.tokens]]\nname = \"wallboard\"\nrole = \"viewer\"\ntoken = \"demo-viewer-token-01234567\"\n",
        "demo",
        &[],
    )?;
    let (notify, mut delivered) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(n) = delivered.recv().await {
            println!("notify: {}", serde_json::to_string(&n).unwrap_or_default());
        }
    });
    let shutdown = tokio_util::sync::CancellationToken::new();
    let state = ApiState::new(
        Arc::new(store),
        &settings,
        vigil_telemetry::Metrics::new(),
        notify,
        shutdown.clone(),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("console on http://{}/ui/", listener.local_addr()?);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
        })
        .await?;
    Ok(())
}
