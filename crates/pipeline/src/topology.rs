//! The process `vigil run` is: [`Topology::plan`] checks what was asked
//! against the settings, [`Topology::run`] opens the incident store,
//! builds the sinks, the incident API and console, the admin server
//! (metrics, health, `/admin/reload`), the shutdown and reload signals, and
//! runs the selected stages in the embedded mode or over Kafka until the
//! input ends or a signal stops it. The binary only parses flags.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vigil_alert::AlertStage;
use vigil_config::Settings;
use vigil_telemetry::{serve_admin, Metrics, Readiness, ServerLimits};

#[cfg(feature = "kafka")]
use crate::{spawn_kafka_exporter, KafkaRun, KafkaStats};
use crate::{Input, LiveConfig, StageName};

/// What `vigil run` was asked for.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The configuration file (reloaded from here on SIGHUP and
    /// `POST /admin/reload`).
    pub config_path: PathBuf,
    /// `-` for standard input, `kafka` for the source topic (Kafka mode), or
    /// a file path; needed by the ingest stage.
    pub input: Option<String>,
    /// The admin server's address.
    pub admin_addr: SocketAddr,
    /// One stage (Kafka mode), or `None` for all four.
    pub stage: Option<StageName>,
    /// Kafka mode: this process's stable id within its stage (becomes the
    /// consumer's `group.instance.id`).
    pub instance_id: Option<String>,
}

/// A checked plan of one `vigil run` process.
#[derive(Debug)]
pub struct Topology {
    settings: Settings,
    config_path: PathBuf,
    admin_addr: SocketAddr,
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    stage: Option<StageName>,
    input: Option<Input>,
    kafka: bool,
}

impl Topology {
    /// Checks `options` against `settings`: one stage per process needs
    /// Kafka, the ingest stage needs an input, `--input kafka` needs Kafka.
    pub fn plan(mut settings: Settings, options: RunOptions) -> anyhow::Result<Topology> {
        let kafka = settings.transport.kafka().is_some();
        if kafka && !cfg!(feature = "kafka") {
            anyhow::bail!(
                "transport.type = \"kafka\", but this vigil was built without Kafka support (cargo feature `kafka`)"
            );
        }
        if let (Some(id), Some(k)) = (options.instance_id, settings.transport.kafka_mut()) {
            k.client
                .insert("group.instance.id".into(), vigil_config::Sensitive(id));
        }
        let stage = options.stage;
        let label = stage.map_or("all", StageName::as_str);
        if !kafka && stage.is_some() {
            anyhow::bail!(
                "--stage {label} runs one stage per process over Kafka: set transport.type = \"kafka\" (the embedded default runs --stage all)"
            );
        }
        let needs_input = matches!(stage, None | Some(StageName::Ingest));
        let input = match options.input.as_deref() {
            None if needs_input => anyhow::bail!("--input is required for --stage {label}"),
            None => None,
            Some("-") => Some(Input::Stdin),
            Some("kafka") if kafka => None,
            Some(path) => Some(Input::File(PathBuf::from(path))),
        };
        Ok(Topology {
            settings,
            config_path: options.config_path,
            admin_addr: options.admin_addr,
            stage,
            input,
            kafka,
        })
    }

    /// Runs the process until its input ends or a shutdown signal; prints
    /// the run's summary on standard error.
    pub async fn run(self) -> anyhow::Result<()> {
        if self.kafka {
            #[cfg(feature = "kafka")]
            return run_kafka(
                self.settings,
                self.config_path,
                self.input,
                self.admin_addr,
                self.stage,
            )
            .await;
            #[cfg(not(feature = "kafka"))]
            anyhow::bail!("built without Kafka support (checked in Topology::plan)");
        } else {
            let input = self.input.context("checked: --stage all has an input")?;
            run_embedded(self.settings, self.config_path, input, self.admin_addr).await
        }
    }
}

/// What every `vigil run` process sets up: metrics, the admin server,
/// shutdown and reload signals, and the live (reloadable) configuration.
struct Process {
    metrics: Metrics,
    ready: Readiness,
    cancel: CancellationToken,
    admin_cancel: CancellationToken,
    admin: vigil_telemetry::AdminServer,
    live: LiveConfig,
    /// Where this process runs the alert stage: the incident store, the
    /// delivery task (with the escalation timers running).
    alert: Option<AlertStage>,
}

impl Process {
    async fn start(
        settings: &Settings,
        config_path: PathBuf,
        admin_addr: SocketAddr,
        runs_alert: bool,
    ) -> anyhow::Result<Process> {
        let metrics = Metrics::new();
        let ready = Readiness::default();
        let cancel = CancellationToken::new();
        let admin_cancel = CancellationToken::new();
        let alert = if runs_alert {
            let store = vigil_incidents::IncidentStore::open_configured(settings)
                .context("opening the incident store")?;
            info!(path = %store.path().display(), "Incident store open.");
            let sinks =
                vigil_alert::build_sinks(&settings.alert.sinks).context("building alert sinks")?;
            let store = std::sync::Arc::new(store);
            let stage = AlertStage {
                store: store.clone(),
                dispatcher: vigil_alert::Dispatcher::spawn_with(
                    sinks,
                    metrics.clone(),
                    store,
                    vigil_alert::DispatchOptions::from_settings(&settings.alert),
                    vigil_types::EventTime::wall_clock,
                ),
                metrics: metrics.clone(),
                readiness: ready.clone(),
                now: vigil_types::EventTime::wall_clock,
            };
            stage.spawn_timers(admin_cancel.clone());
            Some(stage)
        } else {
            None
        };
        // The incident API and console live with the incident store.
        let api = alert.as_ref().map(|stage| {
            vigil_api::ApiState::new(
                stage.store.clone(),
                settings,
                metrics.clone(),
                stage.dispatcher.sender(),
                admin_cancel.clone(),
            )
        });
        let extra = match &api {
            Some(state) => vigil_api::router(state.clone()),
            None => axum::Router::new(),
        };
        let live = LiveConfig::new(settings)?;
        // One token set for the API and /admin/reload, replaced on reload.
        let auth = match &api {
            Some(state) => state.auth.clone(),
            None => vigil_api::Auth::from_settings(&settings.api),
        };
        let reloader = Reloader {
            live: live.clone(),
            metrics: metrics.clone(),
            config_path,
            api,
            auth,
        };
        let extra = extra.merge(reload_router(reloader.clone()));
        let admin = serve_admin(
            admin_addr,
            metrics.clone(),
            ready.clone(),
            extra,
            ServerLimits {
                max_connections: settings.api.max_connections,
                header_read_timeout: settings.api.header_read_timeout,
            },
            admin_cancel.clone(),
        )
        .await
        .with_context(|| format!("binding the admin address {admin_addr}"))?;
        info!(addr = %admin.addr, "Admin server listening.");
        spawn_signal_handler(cancel.clone());
        spawn_reload_handler(reloader)?;
        Ok(Process {
            metrics,
            ready,
            cancel,
            admin_cancel,
            admin,
            live,
            alert,
        })
    }
}

impl Process {
    /// Not ready any more; the admin server and the escalation timers stop.
    async fn stop(self) {
        self.ready.set(false);
        self.admin_cancel.cancel();
        let _ = self.admin.task.await;
    }
}

async fn run_embedded(
    settings: Settings,
    config_path: PathBuf,
    input: Input,
    admin_addr: SocketAddr,
) -> anyhow::Result<()> {
    let mut process = Process::start(&settings, config_path, admin_addr, true).await?;
    let (reader, source) = crate::open_input(&input).await?;
    let alert = process.alert.take().expect("started with the alert stage");
    let Process {
        metrics,
        ready,
        cancel,
        live,
        ..
    } = &process;
    ready.set(true);
    let summary = crate::run_embedded(
        &settings,
        live,
        reader,
        source,
        alert,
        metrics.clone(),
        cancel.clone(),
        |_| {},
    )
    .await;
    process.stop().await;
    let summary = summary?;
    eprintln!("{summary}");
    print_undelivered(&summary.alert);
    print_already_recorded(&summary.alert, &settings.incidents.data_dir);
    Ok(())
}

/// Says how many spikes the incident store already held: input an earlier
/// run over the same store read (a file replayed twice) alerts nobody the
/// second time, and a run that printed `alerts=0` says why.
fn print_already_recorded(totals: &vigil_alert::AlertTotals, data_dir: &std::path::Path) {
    if let Some(n) = totals.suppressed.get("duplicate").filter(|n| **n > 0) {
        eprintln!(
            "already recorded: {n} of this run's detections (spikes and resolutions) were in the incident store ({}) from an earlier run over the same input; not alerted again",
            data_dir.display()
        );
    }
}

/// Says what the sinks had not delivered when the shutdown timeout ran out
/// (kept in the outbox; sent at the next start).
fn print_undelivered(totals: &vigil_alert::AlertTotals) {
    if !totals.undelivered.is_empty() {
        let left: Vec<String> = totals
            .undelivered
            .iter()
            .map(|(sink, n)| format!("{sink}={n}"))
            .collect();
        eprintln!(
            "undelivered at shutdown: {} (kept in the outbox, sent at the next start)",
            left.join(" ")
        );
    }
}

fn spawn_signal_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        shutdown_signal().await;
        warn!("Shutdown signal received; draining.");
        cancel.cancel();
        shutdown_signal().await;
        warn!("Second shutdown signal; exiting now.");
        std::process::exit(130);
    });
}

/// What a reload (SIGHUP or `POST /admin/reload`) replaces: the pipeline's
/// watches and lexicons, the API tokens (so a leaked token is revoked
/// without a restart), the incident API's watch list, and the incident
/// store's escalation policy, response targets, roster, playbooks and
/// templates.
#[derive(Clone, Debug)]
struct Reloader {
    live: LiveConfig,
    metrics: Metrics,
    config_path: PathBuf,
    /// The incident API, where this process serves it.
    api: Option<vigil_api::ApiState>,
    /// The tokens `/admin/reload` checks (the API's own where it runs).
    auth: vigil_api::Auth,
}

impl Reloader {
    /// Reloads the config file; a refused file keeps the running
    /// configuration (logged and counted).
    async fn reload(&self) -> anyhow::Result<()> {
        let loaded = Settings::load(&self.config_path).map_err(anyhow::Error::from);
        self.live.reload(loaded, &self.metrics).await?;
        let settings = self.live.watches().borrow().clone();
        self.auth.replace(&settings.api);
        if let Some(api) = &self.api {
            api.reload(&settings);
            // The incident store it serves: policy, targets, roster,
            // playbooks, templates.
            api.store.apply_settings(&settings);
        }
        Ok(())
    }
}

/// `POST /admin/reload`: the same reload as SIGHUP, behind the incident
/// API's tokens (a responder may POST). 200 with the new watch count, 422
/// with the reason when the file is refused (the running configuration
/// stays).
fn reload_router(reloader: Reloader) -> axum::Router {
    let auth = reloader.auth.clone();
    use axum::{http::StatusCode, response::IntoResponse, Extension, Json};
    let handler = move |Extension(caller): Extension<vigil_api::Caller>| {
        let reloader = reloader.clone();
        async move {
            info!(by = %caller.name, path = %reloader.config_path.display(), "POST /admin/reload: reloading the configuration.");
            match reloader.reload().await {
                Ok(()) => Json(serde_json::json!({
                    "reloaded": true,
                    "watches": reloader.live.watches().borrow().watches.len(),
                }))
                .into_response(),
                Err(e) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(serde_json::json!({ "error": format!("{e:#}") })),
                )
                    .into_response(),
            }
        }
    };
    vigil_api::protect(
        axum::Router::new().route("/admin/reload", axum::routing::post(handler)),
        auth,
    )
}

/// SIGHUP reloads the same file as `POST /admin/reload`; a failed reload
/// keeps the running configuration (logged and counted).
fn spawn_reload_handler(reloader: Reloader) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("installing the SIGHUP handler")?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                info!(path = %reloader.config_path.display(), "SIGHUP: reloading the configuration.");
                let _ = reloader.reload().await;
            }
        });
    }
    #[cfg(not(unix))]
    let _ = reloader;
    Ok(())
}

/// Kafka mode: this process runs one stage (or all four) over real topics.
#[cfg(feature = "kafka")]
async fn run_kafka(
    settings: Settings,
    config_path: PathBuf,
    input: Option<Input>,
    admin_addr: SocketAddr,
    stage: Option<StageName>,
) -> anyhow::Result<()> {
    let process = Process::start(
        &settings,
        config_path,
        admin_addr,
        matches!(stage, None | Some(StageName::Alert)),
    )
    .await?;
    let result: anyhow::Result<()> = async {
        let Process {
            metrics,
            ready,
            cancel,
            admin_cancel,
            live,
            alert,
            ..
        } = &process;
        info!(stage = ?stage, "Kafka mode.");
        let stats = std::sync::Arc::new(KafkaStats::default());
        let kafka = settings
            .transport
            .kafka()
            .context("checked in Topology::plan: transport.type is kafka")?;
        let run = KafkaRun {
            settings: &settings,
            kafka,
            live,
            metrics: metrics.clone(),
            stats: stats.clone(),
            cancel: cancel.clone(),
        };
        run.ensure_topics().await?;
        let stage_label = stage.map_or("all", StageName::as_str);
        spawn_kafka_exporter(
            stage_label,
            stats,
            metrics.clone(),
            ready.clone(),
            kafka.topic_prefix.clone(),
            admin_cancel.clone(),
        );
        ready.set(true);
        let ingest = async {
            match &input {
                Some(i) => {
                    let (reader, source) = crate::open_input(i).await?;
                    let stats = run.ingest_file(reader, source).await?;
                    eprintln!(
                        "ingest summary: posts_read={} accepted={} rejected={} (dead-lettered)",
                        stats.lines,
                        stats.accepted,
                        stats.rejected_total()
                    );
                    Ok::<_, anyhow::Error>(())
                }
                None => {
                    let stats = run.ingest_kafka_source().await?;
                    eprintln!(
                        "ingest summary: records_read={} accepted={} rejected={} (dead-lettered, except empty and duplicate)",
                        stats.lines,
                        stats.accepted,
                        stats.rejected_total()
                    );
                    Ok(())
                }
            }
        };
        let alert = || alert.clone().expect("started with the alert stage");
        match stage {
            Some(StageName::Ingest) => ingest.await,
            Some(StageName::Score) => run.score().await.map(|t| {
                let l = t.batch_latency;
                eprintln!(
                    "score summary: scored={} matched={} batch_us(p50/p99/max)={}/{}/{}",
                    t.scored, t.matched, l.p50, l.p99, l.max
                );
            }),
            Some(StageName::Detect) => run.detect().await.map(|t| {
                eprintln!(
                    "detect summary: accepted={} late={} spikes={}",
                    t.accepted, t.late, t.spikes
                );
            }),
            Some(StageName::Alert) => run.alert(alert(), |_| {}).await.map(|t| {
                eprintln!("alert summary: alerts={}", t.total());
                print_undelivered(&t);
            }),
            None => {
                let (a, b, c, d) = tokio::join!(
                    ingest,
                    run.score(),
                    run.detect(),
                    run.alert(alert(), |_| {})
                );
                a.and(b.map(|_| ())).and(c.map(|_| ())).and(d.map(|_| ()))
            }
        }
    }
    .await;
    process.stop().await;
    result
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
