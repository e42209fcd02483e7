//! `vigil gen`: deterministic, realistic synthetic posts for benches, tests
//! and demos. EN and ZH text, several sources, a daily rhythm, noise posts
//! that match no watch, and injected spikes of each level at known times
//! (listed in a sidecar file), plus the matching watch config.

use std::{
    fmt::Write as _,
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use anyhow::Context;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::Serialize;
use vigil_types::{EventTime, Level};

/// What to generate (also `vigil gen`'s flags).
#[derive(Clone, Debug, clap::Args)]
pub struct GenOptions {
    /// RNG seed: the same options always give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Total lines to write (posts, spike posts and malformed lines).
    #[arg(long, default_value_t = 100_000)]
    pub posts: u64,
    /// Number of watches.
    #[arg(long, default_value_t = 100)]
    pub watches: usize,
    /// Spikes to inject (cycling minor, moderate, major).
    #[arg(long, default_value_t = 9)]
    pub spikes: usize,
    /// Malformed lines to mix in.
    #[arg(long, default_value_t = 0)]
    pub malformed: u64,
    /// First event time (RFC 3339).
    #[arg(long, default_value = "2026-01-01T00:00:00Z", value_parser = parse_start)]
    pub start: EventTime,
    /// Span in minutes.
    #[arg(long, default_value_t = 2880)]
    pub minutes: i64,
    /// Output file (sidecars: OUT.spikes.jsonl and OUT.config.toml).
    #[arg(long)]
    pub out: PathBuf,
}

/// `--start`: an RFC 3339 time.
fn parse_start(s: &str) -> Result<EventTime, String> {
    EventTime::parse_rfc3339(s).ok_or_else(|| format!("`{s}` is not RFC 3339"))
}

/// One injected spike, as written to the sidecar.
#[derive(Clone, Debug, Serialize)]
pub struct InjectedSpike {
    /// Watch id.
    pub watch: String,
    /// Intended level.
    pub level: Level,
    /// First minute of the spike.
    pub onset: EventTime,
    /// End (exclusive).
    pub end: EventTime,
    /// Spike posts per minute.
    pub per_minute: u32,
}

const SYL: &[&str] = &[
    "zor", "vex", "lum", "tra", "kin", "ora", "bel", "dax", "mir", "qua", "nex", "ten", "pol",
    "sar", "vin", "cor", "ly", "ra", "fen", "gal", "hup", "jet", "mon", "rix",
];
const HAN: &[char] = &[
    '华', '腾', '星', '美', '达', '科', '信', '联', '宇', '晨', '博', '瑞', '安', '康', '盛', '通',
    '优', '佳', '峰', '源', '智', '恒', '新', '嘉', '泰', '航', '云', '悦', '锐', '凯',
];
const EN_SOURCES: &[&str] = &["x", "reddit", "mastodon", "bluesky"];
const ZH_SOURCES: &[&str] = &["weibo", "douyin", "zhihu", "wechat"];
const EN_NOISE: &[&str] = &[
    "just had coffee with friends",
    "traffic downtown is wild today",
    "anyone watching the game tonight",
    "new episode dropped and it is fine",
    "weekend plans: sleep and more sleep",
    "the weather keeps changing",
    "reading a long article about trains",
    "my cat knocked over the plant again",
];
const ZH_NOISE: &[&str] = &[
    "今天天气不错，出去走走",
    "周末去爬山了",
    "晚饭吃了火锅",
    "地铁上人好多",
    "刚看完一部电影",
    "明天又要上班了",
];
const EN_NEUTRAL: &[&str] = &[
    "just got the new {b} model",
    "{b} store opens at nine",
    "thinking about switching to {b}",
    "{b} announced an update today",
    "does anyone know if {b} ships abroad",
];
const EN_POSITIVE: &[&str] = &[
    "really love my {b} phone",
    "{b} support was great and fast",
    "the new {b} update is excellent",
];
const EN_NEGATIVE: &[&str] = &[
    "{b} app is so slow today",
    "disappointed with {b} customer service",
    "my {b} order is late again, terrible",
];
const ZH_NEUTRAL: &[&str] = &["{b}发布了新产品", "有人用过{b}吗", "{b}的门店开业了"];
const ZH_POSITIVE: &[&str] = &["{b}的服务很好，很满意", "{b}新款非常不错，推荐"];
const ZH_NEGATIVE: &[&str] = &["{b}客服态度差，太失望了", "{b}的质量问题又来了，很差"];
const MINOR_EN: &[&str] = &[
    "{b} app keeps logging me out, annoying",
    "waited an hour at the {b} counter today",
    "{b} delivery was late and support is slow",
];
const MODERATE: &[&str] = &[
    "everyone is complaining about {b} right now, awful",
    "{b}服务太差了，大家都在投诉",
    "{b} is a disaster today, so many angry customers",
    "{b}又出问题了，很多人都很生气",
];
const MAJOR: &[&str] = &[
    "{b} announces recall after battery explosion injured users",
    "{b}宣布召回，电池起火致多人受伤",
    "{b} data breach: millions of accounts leaked",
    "{b}数据泄露，用户信息被黑客窃取",
    "class action lawsuit filed against {b}",
    "{b} customers furious, this is unacceptable",
];
const MALFORMED: &[&str] = &[
    "{not json",
    "[1, 2, 3]",
    "{\"id\": \"x\", \"text\": 42, \"published_at\": 1}",
    "{\"id\": \"y\", \"text\": \"no time\"}",
    "{\"id\": \"z\", \"text\": \"bad time\", \"published_at\": \"last tuesday\"}",
];

struct Watch {
    id: String,
    en: String,
    zh: String,
}

fn make_watches(rng: &mut StdRng, n: usize) -> Vec<Watch> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    let mut tries = 0u64;
    while out.len() < n {
        tries += 1;
        let k = if tries > 50_000 { 4 } else { 3 };
        let en: String = (0..k).map(|_| SYL[rng.gen_range(0..SYL.len())]).collect();
        let zh: String = (0..k).map(|_| HAN[rng.gen_range(0..HAN.len())]).collect();
        if seen.insert(en.clone()) && seen.insert(zh.clone()) {
            out.push(Watch {
                id: format!("w{:05}", out.len()),
                en,
                zh,
            });
        }
    }
    out
}

fn pick<'a>(rng: &mut StdRng, v: &[&'a str]) -> &'a str {
    v[rng.gen_range(0..v.len())]
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

struct Line {
    t: i64,
    text: String,
}

/// Writes the posts, the spike sidecar and the config; returns the spikes.
pub fn generate(o: &GenOptions) -> anyhow::Result<Vec<InjectedSpike>> {
    anyhow::ensure!(o.watches >= 1, "--watches must be at least 1");
    anyhow::ensure!(o.minutes >= 60, "--minutes must be at least 60");
    let mut rng = StdRng::seed_from_u64(o.seed);
    let watches = make_watches(&mut rng, o.watches);
    // Zipf-like popularity (s = 0.8).
    let weights: Vec<f64> = (1..=watches.len())
        .map(|r| 1.0 / (r as f64).powf(0.8))
        .collect();
    let wsum: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / wsum;
        cdf.push(acc);
    }
    // Daily rhythm: busiest mid-afternoon UTC, quietest before dawn.
    let rhythm = |m: i64| -> f64 {
        let minute_of_day = (o.start.0 / 60_000 + m).rem_euclid(1440) as f64;
        1.0 + 0.6 * (std::f64::consts::TAU * (minute_of_day / 1440.0 - 0.375)).sin()
    };
    let rsum: f64 = (0..o.minutes).map(rhythm).sum();
    const NOISE_SHARE: f64 = 0.3;

    // Spike schedule: prefer mid-popularity watches, spaced through the span.
    let mut spikes = Vec::new();
    let mut spike_lines = 0u64;
    let first_rank = (watches.len() / 10).min(watches.len() - 1);
    for i in 0..o.spikes {
        let level = Level::ALL[i % 3];
        let wi = if watches.len() == 1 {
            0
        } else {
            rng.gen_range(first_rank..watches.len())
        };
        let base_per_min =
            (o.posts as f64 * (1.0 - NOISE_SHARE) * weights[wi] / wsum) / o.minutes as f64;
        let per_minute = match level {
            Level::Minor => (12.0f64).max(6.0 * base_per_min),
            Level::Moderate => (30.0f64).max(12.0 * base_per_min),
            Level::Major => (20.0f64).max(8.0 * base_per_min),
        }
        .round() as u32;
        let lo = o.minutes / 10;
        let hi = o.minutes * 9 / 10;
        let slot = lo + (hi - lo) * (i as i64) / (o.spikes.max(1) as i64);
        let onset_min = slot + rng.gen_range(0..((hi - lo) / o.spikes.max(1) as i64).max(1));
        let onset = EventTime(o.start.0 / 60_000 * 60_000 + onset_min * 60_000);
        spike_lines += u64::from(per_minute) * 5;
        spikes.push(InjectedSpike {
            watch: watches[wi].id.clone(),
            level,
            onset,
            end: EventTime(onset.0 + 5 * 60_000),
            per_minute,
        });
    }
    anyhow::ensure!(
        spike_lines + o.malformed <= o.posts,
        "--posts {} is too small for {} spike posts and {} malformed lines",
        o.posts,
        spike_lines,
        o.malformed
    );
    let base_total = o.posts - spike_lines - o.malformed;
    let widx: std::collections::HashMap<&str, usize> = watches
        .iter()
        .enumerate()
        .map(|(i, w)| (w.id.as_str(), i))
        .collect();

    let file = File::create(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut next_id: u64 = 0;
    let mut cum = 0.0f64;
    let mut emitted_base = 0u64;
    let mut malformed_left = o.malformed;
    let start_min = o.start.0 / 60_000 * 60_000;
    let mut lines: Vec<Line> = Vec::new();
    for m in 0..o.minutes {
        cum += rhythm(m) / rsum * base_total as f64;
        let target = if m == o.minutes - 1 {
            base_total
        } else {
            cum.floor() as u64
        };
        let n = target.saturating_sub(emitted_base);
        emitted_base += n;
        let t0 = start_min + m * 60_000;
        lines.clear();
        for _ in 0..n {
            let t = t0 + rng.gen_range(0..60_000);
            let zh = rng.gen_bool(0.4);
            let source = if zh {
                pick(&mut rng, ZH_SOURCES)
            } else {
                pick(&mut rng, EN_SOURCES)
            };
            let text = if rng.gen_bool(NOISE_SHARE) {
                if zh {
                    pick(&mut rng, ZH_NOISE).to_string()
                } else {
                    pick(&mut rng, EN_NOISE).to_string()
                }
            } else {
                let u: f64 = rng.gen();
                let wi = cdf.partition_point(|c| *c < u).min(watches.len() - 1);
                let w = &watches[wi];
                let mood: f64 = rng.gen();
                let tpl = match (zh, mood) {
                    (false, x) if x < 0.6 => pick(&mut rng, EN_NEUTRAL),
                    (false, x) if x < 0.8 => pick(&mut rng, EN_POSITIVE),
                    (false, _) => pick(&mut rng, EN_NEGATIVE),
                    (true, x) if x < 0.6 => pick(&mut rng, ZH_NEUTRAL),
                    (true, x) if x < 0.8 => pick(&mut rng, ZH_POSITIVE),
                    (true, _) => pick(&mut rng, ZH_NEGATIVE),
                };
                tpl.replace("{b}", if zh { &w.zh } else { &w.en })
            };
            lines.push(post_line(&mut next_id, t, source, &mut rng, &text, zh));
        }
        for s in &spikes {
            if s.onset.0 <= t0 && t0 < s.end.0 {
                let w = &watches[widx[s.watch.as_str()]];
                for k in 0..s.per_minute {
                    let t = t0 + rng.gen_range(0..60_000);
                    let (tpl, source, zh) = match s.level {
                        Level::Minor => (pick(&mut rng, MINOR_EN), "x", false),
                        Level::Moderate => {
                            let tpl = pick(&mut rng, MODERATE);
                            let zh = !tpl.is_ascii();
                            let all = [EN_SOURCES, ZH_SOURCES].concat();
                            (tpl, all[k as usize % all.len()], zh)
                        }
                        Level::Major => {
                            let tpl = pick(&mut rng, MAJOR);
                            let zh = !tpl.is_ascii();
                            let src = if zh {
                                pick(&mut rng, ZH_SOURCES)
                            } else {
                                pick(&mut rng, EN_SOURCES)
                            };
                            (tpl, src, zh)
                        }
                    };
                    let text = tpl.replace("{b}", if zh { &w.zh } else { &w.en });
                    lines.push(post_line(&mut next_id, t, source, &mut rng, &text, zh));
                }
            }
        }
        // Mostly in order, with mild disorder (a few seconds) as real feeds have.
        lines.sort_by_key(|l| l.t);
        for i in 1..lines.len() {
            if lines[i].t - lines[i - 1].t < 5_000 && rng.gen_bool(0.1) {
                lines.swap(i - 1, i);
            }
        }
        for l in &lines {
            out.write_all(l.text.as_bytes())?;
            out.write_all(b"\n")?;
            if malformed_left > 0 && rng.gen_bool((o.malformed as f64 / o.posts as f64).min(1.0)) {
                out.write_all(pick(&mut rng, MALFORMED).as_bytes())?;
                out.write_all(b"\n")?;
                malformed_left -= 1;
            }
        }
    }
    for _ in 0..malformed_left {
        out.write_all(pick(&mut rng, MALFORMED).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;

    let sidecar = sidecar(&o.out, "spikes.jsonl");
    let mut f = BufWriter::new(File::create(&sidecar)?);
    for s in &spikes {
        serde_json::to_writer(&mut f, s)?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    let mut cfg = String::from(
        "# Generated by `vigil gen`: one watch per synthetic brand, EN and ZH names.\n",
    );
    for w in &watches {
        writeln!(
            cfg,
            "[[watches]]\nid = \"{}\"\nterms = [{}, {}]\n",
            w.id,
            json_str(&w.en),
            json_str(&w.zh)
        )?;
    }
    std::fs::write(sidecar_path(&o.out, "config.toml"), cfg)?;
    Ok(spikes)
}

fn post_line(
    next_id: &mut u64,
    t: i64,
    source: &str,
    rng: &mut StdRng,
    text: &str,
    zh: bool,
) -> Line {
    *next_id += 1;
    let author = rng.gen_range(0..50_000u32);
    Line {
        t,
        text: format!(
            "{{\"id\":\"g{}\",\"source\":\"{source}\",\"author\":\"u{author}\",\"lang\":\"{}\",\"text\":{},\"published_at\":\"{}\"}}",
            *next_id,
            if zh { "zh" } else { "en" },
            json_str(text),
            EventTime(t).to_rfc3339()
        ),
    }
}

/// `<out>.<suffix>` beside the output file.
pub fn sidecar_path(out: &Path, suffix: &str) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".");
    s.push(suffix);
    PathBuf::from(s)
}

fn sidecar(out: &Path, suffix: &str) -> PathBuf {
    sidecar_path(out, suffix)
}
