//! `vigil-tools`: the commands that are not the product's pipeline, kept
//! out of the production binary (issue 13 item 5): synthetic data
//! (`gen`), quality evaluation on labelled data (`eval`) and the Kafka
//! benchmark (`bench`). `vigil gen|eval|bench ...` runs this binary from
//! beside `vigil`, so the commands users know keep working.

#[cfg(feature = "kafka")]
mod bench;
mod gen;

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use vigil_telemetry::{init_logging, LogFormat};

/// Synthetic data, quality evaluation and benchmarks for Vigil.
#[derive(Debug, Parser)]
#[command(name = "vigil-tools", version, about)]
struct Cli {
    /// Log format (logs go to stderr): text or json.
    #[arg(long, default_value = "text", global = true, env = "VIGIL_LOG_FORMAT")]
    log_format: String,
    /// Default log level (RUST_LOG overrides it).
    #[arg(long, default_value = "info", global = true)]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate quality on labelled data.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Benchmarks that need more than criterion (a real broker).
    #[cfg(feature = "kafka")]
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Write deterministic synthetic posts, a spike sidecar and a config.
    Gen(gen::GenOptions),
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
        /// Default: calibration_sigmas, persistence_sigmas and
        /// persistence_secs over grids around their defaults.
        #[arg(long = "cv-axis", requires = "cv", value_parser = vigil_eval::nab::CvGrid::parse_axis)]
        cv_axes: Vec<vigil_eval::nab::CvAxis>,
        /// After the table, every detection of every file, one line each:
        /// its row and time, opened or escalated, the level, how NAB's
        /// standard profile scored it (window found, again, false
        /// positive, probation) and the detector's reason.
        #[arg(long, conflicts_with_all = ["json", "cv"])]
        detections: bool,
    },
}

/// `vigil eval nab --series`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SeriesArg {
    Auto,
    Measured,
}

#[cfg(feature = "kafka")]
#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Posts/s through the four-process pipeline (one `vigil` per stage) on
    /// a Kafka broker, and the raw rate of a plain rdkafka producer and
    /// consumer moving the same records on the same broker.
    Kafka {
        #[command(flatten)]
        bench: bench::KafkaBench,
        /// Print one JSON object instead of the summary.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match cli.log_format.as_str() {
        "json" => LogFormat::Json,
        _ => LogFormat::Text,
    };
    init_logging(format, &cli.log_level);
    match run(cli.command) {
        Ok(code) => code,
        Err(e) if vigil_telemetry::is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
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
                    detections,
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
                if detections {
                    print!("\n{}", report.detection_list());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "kafka")]
        Command::Bench {
            command: BenchCommand::Kafka { bench, json },
        } => {
            let report = bench.run()?;
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
        Command::Gen(options) => {
            let injected = gen::generate(&options)?;
            let (posts, out) = (options.posts, &options.out);
            eprintln!(
                "wrote {posts} lines to {}, {} spikes to {}, config to {}",
                out.display(),
                injected.len(),
                gen::sidecar_path(out, "spikes.jsonl").display(),
                gen::sidecar_path(out, "config.toml").display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
