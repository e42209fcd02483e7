//! Live configuration: the scorer and the watch list that SIGHUP (or
//! `POST /admin/reload`) can replace while the pipeline runs.

use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::watch;
use tracing::{error, info};
use vigil_config::Settings;
use vigil_score::Scorer;
use vigil_telemetry::Metrics;

/// The swappable parts of a running pipeline. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    scorer: Arc<ArcSwap<Scorer>>,
    watches: watch::Sender<Arc<Settings>>,
}

impl LiveConfig {
    /// Builds the scorer for `settings` (the automaton build is the costly
    /// part: call this off the hot path).
    pub fn new(settings: &Settings) -> anyhow::Result<LiveConfig> {
        let scorer = Scorer::new(settings).context("building the score automaton")?;
        let (watches, _) = watch::channel(Arc::new(settings.clone()));
        Ok(LiveConfig {
            scorer: Arc::new(ArcSwap::from_pointee(scorer)),
            watches,
        })
    }

    /// The scorer handle the score stage loads once per batch.
    pub fn scorer(&self) -> Arc<ArcSwap<Scorer>> {
        self.scorer.clone()
    }

    /// A receiver of reloaded settings, for the detect stage.
    pub fn watches(&self) -> watch::Receiver<Arc<Settings>> {
        self.watches.subscribe()
    }

    /// Replaces watches and lexicons with `settings`: builds the new
    /// automaton on a blocking thread, then swaps it in and tells detect. A
    /// failure keeps the running configuration, is logged and counted.
    pub async fn reload(
        &self,
        settings: anyhow::Result<Settings>,
        metrics: &Metrics,
    ) -> anyhow::Result<()> {
        let result = async {
            let settings = settings?;
            let built = tokio::task::spawn_blocking({
                let s = settings.clone();
                move || Scorer::new(&s)
            })
            .await
            .context("the automaton build task panicked")?
            .context("building the score automaton")?;
            Ok::<_, anyhow::Error>((settings, built))
        }
        .await;
        match result {
            Ok((settings, scorer)) => {
                let patterns = scorer.matcher().pattern_count();
                self.scorer.store(Arc::new(scorer));
                let watches = settings.watches.len();
                self.watches.send_replace(Arc::new(settings));
                metrics.config_reloads.with_label_values(&["success"]).inc();
                info!(watches, patterns, "Configuration reloaded.");
                Ok(())
            }
            Err(e) => {
                metrics.config_reloads.with_label_values(&["failure"]).inc();
                error!(error = %format!("{e:#}"), "Configuration reload failed; keeping the running configuration.");
                Err(e)
            }
        }
    }
}
