//! The `vigil` binary: parse flags, load config, hand off to vigil-pipeline.

mod bench;
mod gen;
mod incidents;

/// jemalloc, as Vector and TiKV ship: posts are allocated on the score
/// thread and freed on the detect thread, and glibc malloc serialises
/// those cross-thread frees on an arena lock (measured on the
/// 1,000,000-post `vigil gen` file: benches/README.md, "Alert evidence").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vigil_alert::AlertStage;
use vigil_config::Settings;
use vigil_pipeline::{spawn_kafka_exporter, Input, KafkaRun, KafkaStats, LiveConfig};
use vigil_telemetry::{init_logging, serve_admin, LogFormat, Metrics, Readiness, ServerLimits};
use vigil_types::EventTime;

/// Real-time social listening and crisis detection.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about)]
struct Cli {
    /// Log format (logs go to stderr).
    #[arg(
        long,
        value_enum,
        default_value = "text",
        global = true,
        env = "VIGIL_LOG_FORMAT"
    )]
    log_format: LogFormatArg,
    /// Default log level (RUST_LOG overrides it).
    #[arg(long, default_value = "info", global = true)]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Stage {
    All,
    Ingest,
    Score,
    Detect,
    Alert,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the pipeline: posts in (JSON lines), alerts out (JSON lines on stdout).
    Run {
        /// Configuration file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Input file of JSON lines, `-` for stdin, or `kafka` (Kafka mode:
        /// the topic `transport.kafka.source_kafka_topic`). Needed by the
        /// ingest stage (and `--stage all`).
        #[arg(long)]
        input: Option<String>,
        /// Admin HTTP address for /metrics, /healthz and /readyz.
        #[arg(long, default_value = "127.0.0.1:9464", env = "VIGIL_ADMIN_ADDR")]
        admin_addr: SocketAddr,
        /// Which stage(s) this process runs.
        #[arg(long, value_enum, default_value = "all")]
        stage: Stage,
        /// Kafka mode: a stable id for this process within its stage (the pod
        /// name, or 0, 1, ...). It becomes the consumer's static group
        /// membership (`group.instance.id`), so a restarted process takes its
        /// partitions back at once instead of waiting for the broker to expire
        /// the dead member.
        #[arg(long, env = "VIGIL_INSTANCE_ID")]
        instance_id: Option<String>,
    },
    /// Check or show a configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Evaluate quality on labelled data.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Benchmarks that need more than criterion (a real broker).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Work on incidents through a running Vigil's HTTP API: list, show,
    /// ack, assign, comment, resolve, reopen, export.
    Incidents(incidents::IncidentsArgs),
    /// Write deterministic synthetic posts, a spike sidecar and a config.
    Gen {
        /// RNG seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Total lines to write.
        #[arg(long, default_value_t = 100_000)]
        posts: u64,
        /// Number of watches.
        #[arg(long, default_value_t = 100)]
        watches: usize,
        /// Spikes to inject (cycling minor, moderate, major).
        #[arg(long, default_value_t = 9)]
        spikes: usize,
        /// Malformed lines to mix in.
        #[arg(long, default_value_t = 0)]
        malformed: u64,
        /// First event time (RFC 3339).
        #[arg(long, default_value = "2026-01-01T00:00:00Z")]
        start: String,
        /// Span in minutes.
        #[arg(long, default_value_t = 2880)]
        minutes: i64,
        /// Output file (sidecars: OUT.spikes.jsonl and OUT.config.toml).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Sentiment: accuracy, macro/weighted F1, confusion matrix, Pearson r.
    Sentiment {
        /// Labelled file: VADER ground truth (id, rating, text) or a Chinese
        /// CSV (id,label,label_name,text).
        #[arg(long)]
        data: PathBuf,
        /// `vader` or `zh-csv` (detected from the file when omitted).
        #[arg(long)]
        format: Option<String>,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Detection on the Numenta Anomaly Benchmark: feeds every NAB series
    /// (`timestamp,value` CSV of counts per bin) under --data into a fresh
    /// detector in event time and prints the NAB score per file and overall
    /// (standard, reward_low_FP, reward_low_FN), detection delays and the
    /// published detectors' scores found beside the labels.
    Nab {
        /// Folder searched recursively for NAB series.
        #[arg(long)]
        data: PathBuf,
        /// NAB's combined_windows.json.
        #[arg(long)]
        labels: PathBuf,
        /// Detect configuration for every series (layered over the
        /// defaults); without it, the built-in config/nab.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print one JSON object {"files": {name: {profile: score}},
        /// "overall": {profile: score}} instead of the table (with --cv:
        /// the cross-validation report as JSON).
        #[arg(long)]
        json: bool,
        /// Leave-one-series-out cross-validation: the swept setting is
        /// chosen on the other series only (on a plateau), the held-out
        /// series is scored with it; prints the cross-validated score next
        /// to the in-sample one, overall and per series.
        #[arg(long)]
        cv: bool,
        /// What the series' values are: `auto` (whole numbers are counts of
        /// posts, a rise alerts; other series are measurements, judged both
        /// ways) or `measured` (every series a measurement, whole numbers
        /// too: NAB's speeds, passenger and request counts).
        #[arg(long, value_enum, default_value_t = SeriesArg::Auto)]
        series: SeriesArg,
        /// A `[detect]` setting --cv sweeps, as `key=v1,v2,...` (values
        /// increasing); repeat for several (every combination is tried).
        /// Default: calibration_sigmas and persistence_sigmas over grids
        /// around their defaults.
        #[arg(long = "cv-axis", requires = "cv", value_parser = vigil_eval::nab::CvGrid::parse_axis)]
        cv_axes: Vec<vigil_eval::nab::CvAxis>,
    },
}

/// `vigil eval nab --series`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SeriesArg {
    Auto,
    Measured,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Posts/s through the four-process pipeline (one `vigil` per stage) on
    /// a Kafka broker, and the raw rate of a plain rdkafka producer and
    /// consumer moving the same records on the same broker.
    Kafka {
        /// Bootstrap servers of a running broker.
        #[arg(long)]
        brokers: String,
        /// Posts to move.
        #[arg(long, default_value_t = 200_000)]
        posts: u64,
        /// Watches in the generated config.
        #[arg(long, default_value_t = 100)]
        watches: usize,
        /// Partitions of every topic.
        #[arg(long, default_value_t = 3)]
        partitions: i32,
        /// Records per batch in each stage (`transport.batch_size`, whose
        /// default this is).
        #[arg(long, default_value_t = 1024)]
        batch_size: usize,
        /// Scratch directory (input, configs, stage logs).
        #[arg(long, default_value = "target/bench-kafka")]
        dir: PathBuf,
        /// Print one JSON object instead of the summary.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration; exits non-zero listing every problem.
    Check {
        /// Configuration file.
        file: PathBuf,
    },
    /// Print the resolved configuration (all layers), secrets masked.
    Show {
        /// Configuration file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(
        match cli.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
        &cli.log_level,
    );
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Config { command } => match command {
            ConfigCommand::Check { file } => match Settings::load(&file) {
                Ok(s) => {
                    println!(
                        "{}: ok ({} watches, {} lexicon terms)",
                        file.display(),
                        s.watches.len(),
                        s.lexicons
                            .iter()
                            .map(|l| l.severe.len() + l.signal.len())
                            .sum::<usize>()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(2))
                }
            },
            ConfigCommand::Show { file } => {
                let s = Settings::load(&file)?;
                print!("{}", toml::to_string_pretty(&s.config)?);
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Eval {
            command: EvalCommand::Sentiment { data, format, json },
        } => {
            use vigil_eval::sentiment::{evaluate_file, Format};
            let format = match format {
                Some(f) => f
                    .parse::<Format>()
                    .map_err(|e| anyhow::anyhow!("--format {f}: {e}"))?,
                None => Format::detect(&data)?,
            };
            let scorer = vigil_score::SentimentScorer::new();
            let report = evaluate_file(&data, format, &scorer)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            command:
                EvalCommand::Nab {
                    data,
                    labels,
                    config,
                    json,
                    cv,
                    cv_axes,
                    series,
                },
        } => {
            use vigil_eval::nab::{
                cross_validate, evaluate_nab, load_settings, CvGrid, NabEvalOptions,
                NAB_CONFIG_TOML,
            };
            let env: Vec<(String, String)> = std::env::vars()
                .filter(|(k, _)| k.starts_with("VIGIL__"))
                .collect();
            let (text, origin) = match &config {
                Some(path) => (
                    std::fs::read_to_string(path)
                        .with_context(|| format!("reading --config {}", path.display()))?,
                    path.display().to_string(),
                ),
                None => (
                    NAB_CONFIG_TOML.to_owned(),
                    "config/nab.toml, built in".to_owned(),
                ),
            };
            let settings = load_settings(&text, &origin, &env)?;
            let options = NabEvalOptions {
                data: data.clone(),
                labels: labels.clone(),
                settings,
                config_origin: origin,
                series: match series {
                    SeriesArg::Auto => vigil_eval::nab::SeriesKind::Auto,
                    SeriesArg::Measured => vigil_eval::nab::SeriesKind::Measured,
                },
            };
            if cv {
                let mut grid = CvGrid::default_grid();
                if !cv_axes.is_empty() {
                    grid = CvGrid { axes: cv_axes };
                }
                let report = cross_validate(&options, &grid).with_context(|| {
                    format!(
                        "cross-validating on the series under {} against {}",
                        data.display(),
                        labels.display()
                    )
                })?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    print!("{report}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let report = evaluate_nab(&options).with_context(|| {
                format!(
                    "evaluating the series under {} against {}",
                    data.display(),
                    labels.display()
                )
            })?;
            if json {
                println!("{}", serde_json::to_string(&report.summary())?);
            } else {
                print!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command:
                BenchCommand::Kafka {
                    brokers,
                    posts,
                    watches,
                    partitions,
                    batch_size,
                    dir,
                    json,
                },
        } => {
            let report = bench::KafkaBench {
                brokers,
                posts,
                watches,
                partitions,
                batch_size,
                dir,
            }
            .run()?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "posts {}: pipeline {:.0} posts/s, raw rdkafka {:.0} records/s, ratio {:.1}%",
                    report.posts,
                    report.pipeline_per_sec,
                    report.raw_per_sec,
                    100.0 * report.ratio
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Incidents(args) => incidents::run(args),
        Command::Gen {
            seed,
            posts,
            watches,
            spikes,
            malformed,
            start,
            minutes,
            out,
        } => {
            let start = EventTime::parse_rfc3339(&start)
                .with_context(|| format!("--start `{start}` is not RFC 3339"))?;
            let injected = gen::generate(&gen::GenOptions {
                seed,
                posts,
                watches,
                spikes,
                malformed,
                start,
                minutes,
                out: out.clone(),
            })?;
            eprintln!(
                "wrote {posts} lines to {}, {} spikes to {}, config to {}",
                out.display(),
                injected.len(),
                gen::sidecar_path(&out, "spikes.jsonl").display(),
                gen::sidecar_path(&out, "config.toml").display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            config,
            input,
            admin_addr,
            stage,
            instance_id,
        } => {
            let mut settings = match Settings::load(&config) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let kafka = settings.config.transport.kind == "kafka";
            if let Some(id) = instance_id {
                settings
                    .config
                    .transport
                    .kafka
                    .client
                    .insert("group.instance.id".into(), vigil_config::Sensitive(id));
            }
            if !kafka && stage != Stage::All {
                anyhow::bail!(
                    "--stage {stage:?} runs one stage per process over Kafka: set transport.type = \"kafka\" (the embedded default runs --stage all)"
                );
            }
            let needs_input = matches!(stage, Stage::All | Stage::Ingest);
            let input = match input.as_deref() {
                None if needs_input => anyhow::bail!("--input is required for --stage {stage:?}"),
                None => None,
                Some("-") => Some(Input::Stdin),
                Some("kafka") if kafka => None,
                Some(path) => Some(Input::File(PathBuf::from(path))),
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            let result = if kafka {
                rt.block_on(run_kafka(settings, config, input, admin_addr, stage))
            } else {
                rt.block_on(run_embedded(
                    settings,
                    config,
                    input.expect("checked: --stage all has an input"),
                    admin_addr,
                ))
            };
            // stdin is read on a blocking thread that may still wait in read(2):
            // do not let the runtime's drop wait for it.
            rt.shutdown_timeout(std::time::Duration::from_millis(200));
            result
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
            let store = vigil_incidents::IncidentStore::open_configured(&settings.config)
                .context("opening the incident store")?;
            info!(path = %store.path().display(), "Incident store open.");
            let sinks = vigil_alert::build_sinks(&settings.config.alert.sinks)
                .context("building alert sinks")?;
            let store = std::sync::Arc::new(store);
            let stage = AlertStage {
                store: store.clone(),
                dispatcher: vigil_alert::Dispatcher::spawn_with(
                    sinks,
                    metrics.clone(),
                    store,
                    vigil_alert::DispatchOptions::from_config(&settings.config.alert),
                    vigil_pipeline::wall_clock,
                ),
                metrics: metrics.clone(),
                readiness: ready.clone(),
                now: vigil_pipeline::wall_clock,
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

async fn run_embedded(
    settings: Settings,
    config_path: PathBuf,
    input: Input,
    admin_addr: SocketAddr,
) -> anyhow::Result<ExitCode> {
    let Process {
        metrics,
        ready,
        cancel,
        admin_cancel,
        admin,
        live,
        alert,
    } = Process::start(&settings, config_path, admin_addr, true).await?;

    let (reader, source) = vigil_pipeline::open_input(&input).await?;
    let alert = alert.expect("started with the alert stage");
    ready.set(true);
    let summary = vigil_pipeline::run_embedded(
        &settings,
        &live,
        reader,
        source,
        alert,
        metrics,
        cancel,
        |_| {},
    )
    .await;
    ready.set(false);
    admin_cancel.cancel();
    let _ = admin.task.await;
    let summary = summary?;
    eprintln!("{summary}");
    print_undelivered(&summary.alert);
    Ok(ExitCode::SUCCESS)
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
/// without a restart) and the incident API's watch list.
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
async fn run_kafka(
    settings: Settings,
    config_path: PathBuf,
    input: Option<Input>,
    admin_addr: SocketAddr,
    stage: Stage,
) -> anyhow::Result<ExitCode> {
    let Process {
        metrics,
        ready,
        cancel,
        admin_cancel,
        admin,
        live,
        alert,
    } = Process::start(
        &settings,
        config_path,
        admin_addr,
        matches!(stage, Stage::All | Stage::Alert),
    )
    .await?;
    info!(stage = ?stage, "Kafka mode.");
    let stats = std::sync::Arc::new(KafkaStats::default());
    let run = KafkaRun {
        settings: &settings,
        live: &live,
        metrics: metrics.clone(),
        stats: stats.clone(),
        cancel: cancel.clone(),
    };
    run.ensure_topics().await?;
    let stage_label = match stage {
        Stage::All => "all",
        Stage::Ingest => "ingest",
        Stage::Score => "score",
        Stage::Detect => "detect",
        Stage::Alert => "alert",
    };
    spawn_kafka_exporter(
        stage_label,
        stats,
        metrics.clone(),
        ready.clone(),
        settings.config.transport.kafka.topic_prefix.clone(),
        admin_cancel.clone(),
    );
    ready.set(true);
    let ingest = async {
        match &input {
            Some(i) => {
                let (reader, source) = vigil_pipeline::open_input(i).await?;
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
    let result: anyhow::Result<()> = match stage {
        Stage::Ingest => ingest.await,
        Stage::Score => run.score().await.map(|t| {
            eprintln!("score summary: scored={} matched={}", t.scored, t.matched);
        }),
        Stage::Detect => run.detect().await.map(|t| {
            eprintln!(
                "detect summary: accepted={} late={} spikes={}",
                t.accepted, t.late, t.spikes
            );
        }),
        Stage::Alert => run.alert(alert(), |_| {}).await.map(|t| {
            eprintln!("alert summary: alerts={}", t.total());
            print_undelivered(&t);
        }),
        Stage::All => {
            let (a, b, c, d) = tokio::join!(
                ingest,
                run.score(),
                run.detect(),
                run.alert(alert(), |_| {})
            );
            a.and(b.map(|_| ())).and(c.map(|_| ())).and(d.map(|_| ()))
        }
    };
    ready.set(false);
    admin_cancel.cancel();
    let _ = admin.task.await;
    result?;
    Ok(ExitCode::SUCCESS)
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
