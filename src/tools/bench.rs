//! `vigil bench kafka`: posts/s through the four-process pipeline on a real
//! broker, against the raw rate of a plain rdkafka producer and consumer
//! moving the same records on the same broker, in the same run.
//!
//! - Raw: one producer (the same settings as Vigil's: idempotent, acks=all,
//!   lz4) writes every line of the input to a fresh topic while one consumer
//!   reads it; the rate is lines / (first send to last record consumed).
//! - Pipeline: `vigil run --stage alert|detect|score` start first and must be
//!   ready (/readyz) with their partitions assigned; the clock starts when
//!   `vigil run --stage ingest` is spawned and stops when ingest has exited
//!   and the score, detect and alert consumers all report lag 0.
//!
//! A benchmark, not a test: the figures depend on the machine and whatever
//! else runs on it.

// A synchronous driver of child processes (not on a tokio worker).
#![allow(clippy::disallowed_methods)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{BaseConsumer, Consumer},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
    Message,
};
use vigil_config::Settings;

use crate::gen::{self, GenOptions};

/// What `vigil bench kafka` was asked for (its flags).
#[derive(Debug, clap::Args)]
pub struct KafkaBench {
    /// Bootstrap servers of a running broker.
    #[arg(long)]
    pub brokers: String,
    /// Posts to move.
    #[arg(long, default_value_t = 200_000)]
    pub posts: u64,
    /// Watches in the generated config.
    #[arg(long, default_value_t = 100)]
    pub watches: usize,
    /// Partitions of every topic.
    #[arg(long, default_value_t = 3)]
    pub partitions: i32,
    /// Records per batch in each stage (`transport.batch_size`, whose
    /// default this is).
    #[arg(long, default_value_t = 1024)]
    pub batch_size: usize,
    /// Scratch directory (input, configs, stage logs).
    #[arg(long, default_value = "target/bench-kafka")]
    pub dir: PathBuf,
}

/// The measured rates.
#[derive(Debug, serde::Serialize)]
pub struct KafkaBenchReport {
    /// Records moved by each side.
    pub posts: u64,
    /// Plain rdkafka producer + consumer, records/s.
    pub raw_per_sec: f64,
    /// The four-process pipeline, posts/s (ingest start to lag 0).
    pub pipeline_per_sec: f64,
    /// pipeline / raw.
    pub ratio: f64,
}

impl KafkaBench {
    /// Runs both measurements.
    pub fn run(&self) -> anyhow::Result<KafkaBenchReport> {
        std::fs::create_dir_all(&self.dir)?;
        let input = self.dir.join("posts.jsonl");
        gen::generate(&GenOptions {
            seed: 7,
            posts: self.posts,
            watches: self.watches,
            spikes: 9,
            malformed: 0,
            start: vigil_types::EventTime::parse_rfc3339("2026-01-01T00:00:00Z")
                .context("the bench start time")?,
            minutes: 2880,
            out: input.clone(),
        })?;
        let run_id = format!("bench{}", std::process::id());
        let raw_per_sec = self.raw(&input, &format!("{run_id}.raw"))?;
        eprintln!("raw rdkafka: {raw_per_sec:.0} records/s");
        let pipeline_per_sec = self.pipeline(&input, &run_id)?;
        eprintln!("pipeline: {pipeline_per_sec:.0} posts/s");
        Ok(KafkaBenchReport {
            posts: self.posts,
            raw_per_sec,
            pipeline_per_sec,
            ratio: pipeline_per_sec / raw_per_sec,
        })
    }

    fn client(&self) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        c
    }

    fn raw(&self, input: &Path, topic: &str) -> anyhow::Result<f64> {
        let lines: Vec<Vec<u8>> = std::fs::read(input)?
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let n = lines.len();
        let keys: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let admin: AdminClient<DefaultClientContext> = self.client().create()?;
            let t = NewTopic::new(topic, self.partitions, TopicReplication::Fixed(1));
            for r in admin.create_topics([&t], &AdminOptions::new()).await? {
                r.map_err(|(name, code)| anyhow::anyhow!("creating {name}: {code}"))?;
            }
            anyhow::Ok(())
        })?;
        let consumer: BaseConsumer = self
            .client()
            .set("group.id", format!("{topic}.reader"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()?;
        consumer.subscribe(&[topic])?;
        let producer: FutureProducer = self
            .client()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("compression.type", "lz4")
            .create()?;
        // Join the group before the clock starts.
        let joined = Instant::now();
        while consumer.assignment()?.count() == 0 {
            consumer.poll(Duration::from_millis(100));
            if joined.elapsed() > Duration::from_secs(60) {
                bail!("the raw consumer was never assigned {topic}");
            }
        }
        let started = Instant::now();
        let produce = {
            let producer = producer.clone();
            let topic = topic.to_string();
            rt.spawn(async move {
                let mut inflight = Vec::with_capacity(1024);
                for (key, l) in keys.iter().zip(&lines) {
                    inflight.push(producer.send(
                        FutureRecord::to(&topic).key(key).payload(l),
                        Timeout::After(Duration::from_secs(60)),
                    ));
                    if inflight.len() == 1024 {
                        for r in futures::future::join_all(inflight.drain(..)).await {
                            r.map_err(|(e, _)| anyhow::anyhow!("producing: {e}"))?;
                        }
                    }
                }
                for r in futures::future::join_all(inflight).await {
                    r.map_err(|(e, _)| anyhow::anyhow!("producing: {e}"))?;
                }
                anyhow::Ok(())
            })
        };
        let mut got = 0usize;
        while got < n {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) if m.payload().is_some() => got += 1,
                Some(Ok(_)) => {}
                Some(Err(e)) => bail!("consuming: {e}"),
                None if started.elapsed() > Duration::from_secs(600) => {
                    bail!("raw consumer stalled at {got}/{n}")
                }
                None => {}
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        rt.block_on(produce)??;
        Ok(n as f64 / elapsed)
    }

    fn pipeline(&self, input: &Path, run_id: &str) -> anyhow::Result<f64> {
        let watches = std::fs::read_to_string(gen::sidecar_path(input, "config.toml"))?;
        let config = self.dir.join("kafka.toml");
        std::fs::write(
            &config,
            format!(
                "[detect]\nallowed_lateness_secs = 3600\n[incidents]\ndata_dir = '{}'\n{watches}\n[[alert.sinks]]\ntype = \"stdout\"\n\
                 [transport]\ntype = \"kafka\"\nbatch_size = {}\n[transport.kafka]\nbrokers = \"{}\"\n\
                 topic_prefix = \"{run_id}.\"\ngroup_prefix = \"{run_id}\"\npartitions = {}\n\
                 idle_timeout_secs = 120\n",
                self.dir.join("incidents").display(),
                self.batch_size,
                self.brokers,
                self.partitions
            ),
        )?;
        Settings::load(&config).context("the bench config")?;
        let mut stages = Vec::new();
        for stage in ["alert", "detect", "score"] {
            stages.push(Proc::spawn(&self.dir, &config, stage, &[])?);
        }
        let result = (|| {
            for s in &stages {
                s.wait_assigned(Duration::from_secs(120))?;
            }
            let started = Instant::now();
            let input_s = input.display().to_string();
            let mut ingest = Proc::spawn(&self.dir, &config, "ingest", &["--input", &input_s])?;
            let status = ingest.child.wait()?;
            if !status.success() {
                bail!("ingest exited with {status}");
            }
            // Done when score has read every post and detect every scored
            // record score wrote (the counters are exact in a run without
            // restarts; lag is measured against commits, which trail).
            let (detect, score) = (&stages[1], &stages[2]);
            loop {
                let s = score.metrics()?;
                let d = detect.metrics()?;
                let posts_in = counter(&s, "vigil_transport_received_messages_total", "posts");
                let scored_out = counter(&s, "vigil_transport_sent_messages_total", "scored");
                let scored_in = counter(&d, "vigil_transport_received_messages_total", "scored");
                if posts_in >= self.posts as f64 && scored_in >= scored_out {
                    break;
                }
                if started.elapsed() > Duration::from_secs(1200) {
                    bail!("the pipeline never caught up");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(self.posts as f64 / started.elapsed().as_secs_f64())
        })();
        for mut s in stages {
            let _ = Command::new("kill")
                .args(["-TERM", &s.child.id().to_string()])
                .status();
            let _ = s.child.wait();
        }
        result
    }
}

/// The value of `name{stream="<stream>"}` in a Prometheus text body (0 when
/// absent).
fn counter(body: &str, name: &str, stream: &str) -> f64 {
    let prefix = format!("{name}{{stream=\"{stream}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or(0.0)
}

struct Proc {
    child: Child,
    admin: String,
}

impl Proc {
    fn spawn(dir: &Path, config: &Path, stage: &str, extra: &[&str]) -> anyhow::Result<Proc> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let admin = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join(format!("{stage}.log")))?;
        let out = std::fs::File::create(dir.join(format!("{stage}.out")))?;
        let child = Command::new(vigil_exe()?)
            .args(["run", "--stage", stage, "--admin-addr", &admin])
            .args(["--instance-id", "0", "--config"])
            .arg(config)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log)
            .spawn()?;
        Ok(Proc { child, admin })
    }

    fn metrics(&self) -> anyhow::Result<String> {
        let body = reqwest::blocking::get(format!("http://{}/metrics", self.admin))?
            .error_for_status()?
            .text()?;
        Ok(body)
    }

    /// Total consumer lag; an error until the consumer has partitions.
    fn lag(&self) -> anyhow::Result<f64> {
        let body = self.metrics()?;
        let lags: Vec<f64> = body
            .lines()
            .filter(|l| l.starts_with("vigil_kafka_consumer_lag_messages{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        if lags.is_empty() {
            bail!("no partitions assigned yet at {}", self.admin);
        }
        Ok(lags.iter().sum())
    }

    fn wait_assigned(&self, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        while self.lag().is_err() {
            if started.elapsed() > timeout {
                bail!("stage at {} never got its partitions", self.admin);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }
}

/// The `vigil` binary beside this one (the stages the bench runs).
fn vigil_exe() -> anyhow::Result<PathBuf> {
    Ok(std::env::current_exe()?.with_file_name(format!("vigil{}", std::env::consts::EXE_SUFFIX)))
}
