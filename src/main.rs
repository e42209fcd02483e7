//! The `vigil` binary: parse flags, load config, hand off to vigil-pipeline.

mod incidents;

/// jemalloc, as Vector and TiKV ship: posts are allocated on the score
/// thread and freed on the detect thread, and glibc malloc serialises
/// those cross-thread frees on an arena lock (measured on the
/// 1,000,000-post `vigil gen` file: benches/README.md, "Alert evidence").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::{ffi::OsString, net::SocketAddr, path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use vigil_config::Settings;
use vigil_pipeline::{RunOptions, StageName, Topology};
use vigil_telemetry::{init_logging, is_broken_pipe, LogFormat};

/// Real-time social listening and crisis detection.
#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about,
    after_help = "Also `vigil gen`, `vigil eval` and `vigil bench`: synthetic data, quality evaluation and the Kafka benchmark, which run the vigil-tools binary beside this one (`vigil-tools --help`)."
)]
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

impl Stage {
    /// The one stage this process runs, or `None` for all four.
    fn name(self) -> Option<StageName> {
        match self {
            Stage::All => None,
            Stage::Ingest => Some(StageName::Ingest),
            Stage::Score => Some(StageName::Score),
            Stage::Detect => Some(StageName::Detect),
            Stage::Alert => Some(StageName::Alert),
        }
    }
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
    /// Work on incidents through a running Vigil's HTTP API: list, show,
    /// ack, assign, comment, resolve, reopen, export.
    Incidents(incidents::IncidentsArgs),
    /// `gen`, `eval` and `bench` live in the `vigil-tools` binary beside
    /// this one (`vigil-tools --help`); `vigil gen|eval|bench ...` runs it.
    #[command(external_subcommand)]
    Tool(Vec<OsString>),
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
        Err(e) if is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The commands of the `vigil-tools` binary.
const TOOLS: [&str; 3] = ["gen", "eval", "bench"];

/// Runs `vigil-tools` from beside this binary with `args` (a tool command
/// and its arguments) and the global log flags, and exits as it does.
fn run_tool(args: &[OsString], log: &[String]) -> anyhow::Result<ExitCode> {
    let name = args.first().and_then(|a| a.to_str()).unwrap_or("");
    anyhow::ensure!(
        TOOLS.contains(&name),
        "unknown command `{name}` (see `vigil --help`; `gen`, `eval` and `bench` are in vigil-tools)"
    );
    let exe = std::env::current_exe().context("locating the vigil binary")?;
    let tools = exe.with_file_name(format!("vigil-tools{}", std::env::consts::EXE_SUFFIX));
    let status = std::process::Command::new(&tools)
        .args(log)
        .args(args)
        .status()
        .with_context(|| {
            format!(
                "`vigil {name}` runs {}, which could not be started (build it with `cargo build --release --bin vigil-tools`)",
                tools.display()
            )
        })?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(1),
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let log_flags = vec![
        "--log-format".to_owned(),
        match cli.log_format {
            LogFormatArg::Text => "text",
            LogFormatArg::Json => "json",
        }
        .to_owned(),
        "--log-level".to_owned(),
        cli.log_level.clone(),
    ];
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
                print!("{}", s.to_toml()?);
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Incidents(args) => incidents::run(args),
        Command::Tool(args) => run_tool(&args, &log_flags),
        Command::Run {
            config,
            input,
            admin_addr,
            stage,
            instance_id,
        } => {
            let settings = match Settings::load(&config) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let topology = Topology::plan(
                settings,
                RunOptions {
                    config_path: config,
                    input,
                    admin_addr,
                    stage: stage.name(),
                    instance_id,
                },
            )?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the tokio runtime")?;
            let result = rt.block_on(topology.run());
            // stdin is read on a blocking thread that may still wait in read(2):
            // do not let the runtime's drop wait for it.
            rt.shutdown_timeout(std::time::Duration::from_millis(200));
            result.map(|()| ExitCode::SUCCESS)
        }
    }
}
