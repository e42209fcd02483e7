//! Layer merging and validation into [`Settings`].

use std::collections::{BTreeSet, HashSet};

use toml::{Table, Value};
use vigil_types::{CrisisKind, WatchId};

use crate::{
    query::Query,
    raw::{
        AlertConfig, Config, DetectConfig, GradingConfig, IngestConfig, ScoreConfig, SinkConfig,
        TelemetryConfig, TransportConfig, WatchConfig,
    },
    ConfigError, Problem, DEFAULT_TOML,
};

/// Most watches one deployment may configure (bounds the `watch` label).
pub const MAX_WATCHES: usize = 100_000;

/// A validated watch.
#[derive(Clone, Debug, PartialEq)]
pub struct Watch {
    /// Id.
    pub id: WatchId,
    /// Display name (the id when none was given).
    pub name: String,
    /// Terms, trimmed, deduplicated, in configuration order.
    pub terms: Vec<String>,
    /// Exclusion terms.
    pub exclude: Vec<String>,
    /// The watch's query (built from `terms`/`exclude` when no `query` is
    /// given), parsed once here.
    pub query: Query,
    /// Grading with this watch's overrides applied.
    pub grading: GradingConfig,
}

/// A crisis-kind lexicon: severe terms (impact that grades major) and signal
/// terms (the kind is present).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lexicon {
    /// The kind.
    pub kind: CrisisKind,
    /// Severe terms.
    pub severe: Vec<String>,
    /// Signal terms.
    pub signal: Vec<String>,
}

/// A validated configuration. Code after this point never re-parses strings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The resolved raw configuration (all layers merged).
    pub config: Config,
    /// Validated watches.
    pub watches: Vec<Watch>,
    /// Crisis-kind lexicons, one per kind.
    pub lexicons: Vec<Lexicon>,
}

const BUILTIN_LEXICONS: [(CrisisKind, &str); 6] = [
    (
        CrisisKind::ProductSafety,
        include_str!("../../../config/lexicons/product_safety.txt"),
    ),
    (
        CrisisKind::ServiceOutage,
        include_str!("../../../config/lexicons/service_outage.txt"),
    ),
    (
        CrisisKind::Legal,
        include_str!("../../../config/lexicons/legal.txt"),
    ),
    (
        CrisisKind::DataBreach,
        include_str!("../../../config/lexicons/data_breach.txt"),
    ),
    (
        CrisisKind::NegativeMedia,
        include_str!("../../../config/lexicons/negative_media.txt"),
    ),
    (
        CrisisKind::Disaster,
        include_str!("../../../config/lexicons/disaster.txt"),
    ),
];

/// Parses a lexicon file: one term per line, comment lines starting with `# `
/// (so `#hashtag` terms stay terms), `[severe]` and `[signal]` section
/// headers (terms before any header are signal terms).
pub fn parse_lexicon(kind: CrisisKind, text: &str) -> Result<Lexicon, String> {
    let mut lex = Lexicon {
        kind,
        severe: Vec::new(),
        signal: Vec::new(),
    };
    let mut severe = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line == "#" || line.starts_with("# ") {
            continue;
        }
        match line {
            "[severe]" => severe = true,
            "[signal]" => severe = false,
            l if l.starts_with('[') => {
                return Err(format!(
                    "line {}: unknown section `{l}` (expected [severe] or [signal])",
                    n + 1
                ))
            }
            term if severe => lex.severe.push(term.to_string()),
            term => lex.signal.push(term.to_string()),
        }
    }
    Ok(lex)
}

struct Collector {
    origin: String,
    env_keys: HashSet<String>,
    problems: Vec<Problem>,
}

impl Collector {
    fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        let origin = if self.env_keys.contains(&key) {
            "environment".to_string()
        } else {
            self.origin.clone()
        };
        self.problems.push(Problem {
            origin,
            key,
            message: message.into(),
        });
    }

    fn check(&mut self, ok: bool, key: &str, message: &str) {
        if !ok {
            self.push(key, message);
        }
    }
}

fn merge(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn set_path(table: &mut Table, path: &[String], value: Value) -> bool {
    match path {
        [] => false,
        [last] => {
            table.insert(last.clone(), value);
            true
        }
        [first, rest @ ..] => match table
            .entry(first.clone())
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(t) => set_path(t, rest, value),
            _ => false,
        },
    }
}

fn env_value(raw: &str) -> Value {
    // Parse as a TOML value when possible (numbers, booleans, arrays), else a string.
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

fn deserialize_section<T: serde::de::DeserializeOwned>(
    c: &mut Collector,
    root: &Table,
    key: &str,
) -> Option<T> {
    let Some(value) = root.get(key).cloned() else {
        c.push(key, "missing section");
        return None;
    };
    let mut unknown = Vec::new();
    let result: Result<T, _> = serde_ignored::deserialize(value, |path| {
        unknown.push(format!("{key}.{path}"));
    });
    for u in unknown {
        c.push(u, "unknown key");
    }
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            c.push(key, e.to_string());
            None
        }
    }
}

pub(crate) fn load_layers(
    text: &str,
    origin: &str,
    env: &[(String, String)],
) -> Result<Settings, ConfigError> {
    let mut c = Collector {
        origin: origin.to_string(),
        env_keys: HashSet::new(),
        problems: Vec::new(),
    };
    let mut root: Table = DEFAULT_TOML
        .parse()
        .expect("config/default.toml is valid TOML (checked by a unit test)");
    match text.parse::<Table>() {
        Ok(file) => merge(&mut root, file),
        Err(e) => {
            c.push("", format!("not valid TOML: {}", e.message()));
            if let Some(span) = e.span() {
                let line = text[..span.start.min(text.len())].lines().count().max(1);
                c.problems.last_mut().expect("just pushed").message += &format!(" (line {line})");
            }
            return Err(ConfigError::Invalid(c.problems));
        }
    }
    for (k, v) in env {
        let Some(rest) = k.strip_prefix("VIGIL__") else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if path.iter().any(|p| p.is_empty()) {
            c.problems.push(Problem {
                origin: "environment".into(),
                key: k.clone(),
                message: "malformed variable name".into(),
            });
            continue;
        }
        let dotted = path.join(".");
        c.env_keys.insert(dotted.clone());
        if !set_path(&mut root, &path, env_value(v)) {
            c.push(dotted, "cannot set a key inside a non-table value");
        }
    }

    for key in root.keys() {
        if ![
            "transport",
            "ingest",
            "score",
            "detect",
            "alert",
            "telemetry",
            "watches",
        ]
        .contains(&key.as_str())
        {
            c.push(key.clone(), "unknown key");
        }
    }
    let transport: Option<TransportConfig> = deserialize_section(&mut c, &root, "transport");
    let ingest: Option<IngestConfig> = deserialize_section(&mut c, &root, "ingest");
    let score: Option<ScoreConfig> = deserialize_section(&mut c, &root, "score");
    let detect: Option<DetectConfig> = deserialize_section(&mut c, &root, "detect");
    let alert: Option<AlertConfig> = deserialize_section(&mut c, &root, "alert");
    let telemetry: Option<TelemetryConfig> = deserialize_section(&mut c, &root, "telemetry");
    let mut watches_raw: Vec<Option<WatchConfig>> = Vec::new();
    match root.get("watches") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let key = format!("watches[{i}]");
                let mut unknown = Vec::new();
                let r: Result<WatchConfig, _> =
                    serde_ignored::deserialize(item.clone(), |p| unknown.push(p.to_string()));
                for u in unknown {
                    c.push(format!("{key}.{u}"), "unknown key");
                }
                match r {
                    Ok(w) => watches_raw.push(Some(w)),
                    Err(e) => {
                        c.push(key, e.to_string());
                        watches_raw.push(None);
                    }
                }
            }
        }
        Some(_) => c.push("watches", "must be an array of tables ([[watches]])"),
    }

    if let Some(t) = &transport {
        match t.kind.as_str() {
            "memory" | "kafka" => {}
            other => c.push(
                "transport.type",
                format!("unknown transport `{other}` (expected \"memory\" or \"kafka\")"),
            ),
        }
        c.check(
            t.channel_capacity >= 1 && t.channel_capacity <= 1_000_000,
            "transport.channel_capacity",
            "must be between 1 and 1000000",
        );
        c.check(
            t.batch_size >= 1 && t.batch_size <= 65_536,
            "transport.batch_size",
            "must be between 1 and 65536",
        );
        let k = &t.kafka;
        c.check(
            !k.brokers.trim().is_empty(),
            "transport.kafka.brokers",
            "must not be empty",
        );
        c.check(
            (1..=10_000).contains(&k.partitions),
            "transport.kafka.partitions",
            "must be between 1 and 10000",
        );
        c.check(
            (1..=100).contains(&k.replication),
            "transport.kafka.replication",
            "must be between 1 and 100",
        );
        c.check(
            !k.group_prefix.trim().is_empty(),
            "transport.kafka.group_prefix",
            "must not be empty",
        );
        c.check(
            k.idle_timeout_secs >= 1,
            "transport.kafka.idle_timeout_secs",
            "must be at least 1",
        );
        c.check(
            k.checkpoint_interval_secs >= 1,
            "transport.kafka.checkpoint_interval_secs",
            "must be at least 1",
        );
    }
    if let Some(i) = &ingest {
        c.check(
            i.max_post_bytes >= 64,
            "ingest.max_post_bytes",
            "must be at least 64",
        );
        c.check(
            i.dedupe_capacity <= 50_000_000,
            "ingest.dedupe_capacity",
            "must be at most 50000000",
        );
        c.check(
            !i.default_source.trim().is_empty(),
            "ingest.default_source",
            "must not be empty",
        );
    }
    let mut lexicons = Vec::new();
    if let Some(s) = &score {
        c.check(
            (-1.0..=1.0).contains(&s.negative_threshold),
            "score.negative_threshold",
            "must be within [-1, 1]",
        );
        for (kind, builtin) in BUILTIN_LEXICONS {
            let (text, name) = if s.lexicon_dir.is_empty() {
                (Some(builtin.to_string()), format!("built-in {kind}.txt"))
            } else {
                let path = std::path::Path::new(&s.lexicon_dir).join(format!("{kind}.txt"));
                match std::fs::read_to_string(&path) {
                    Ok(t) => (Some(t), path.display().to_string()),
                    Err(e) => {
                        c.push(
                            "score.lexicon_dir",
                            format!("cannot read {}: {e}", path.display()),
                        );
                        (None, String::new())
                    }
                }
            };
            if let Some(text) = text {
                match parse_lexicon(kind, &text) {
                    Ok(l) => lexicons.push(l),
                    Err(e) => c.push("score.lexicon_dir", format!("{name}: {e}")),
                }
            }
        }
    }
    if let Some(d) = &detect {
        c.check(
            d.bin_secs >= 1 && d.bin_secs <= 86_400,
            "detect.bin_secs",
            "must be between 1 and 86400",
        );
        c.check(
            d.window_bins >= 1 && d.window_bins <= 1440,
            "detect.window_bins",
            "must be between 1 and 1440",
        );
        c.check(
            d.allowed_lateness_secs <= 86_400,
            "detect.allowed_lateness_secs",
            "must be at most 86400",
        );
        c.check(
            d.baseline_half_life_bins > 0.0 && d.baseline_half_life_bins.is_finite(),
            "detect.baseline_half_life_bins",
            "must be a positive number",
        );
        c.check(
            d.z_threshold > 0.0 && d.z_threshold.is_finite(),
            "detect.z_threshold",
            "must be a positive number",
        );
        c.check(d.min_count >= 1, "detect.min_count", "must be at least 1");
        c.check(
            d.absolute_count >= 1,
            "detect.absolute_count",
            "must be at least 1",
        );
        c.check(
            (0.0..=1.0).contains(&d.negative_share_min),
            "detect.negative_share_min",
            "must be within [0, 1]",
        );
        c.check(
            (0.0..=1.0).contains(&d.negative_share_delta),
            "detect.negative_share_delta",
            "must be within [0, 1]",
        );
        c.check(
            d.sustain_ratio > 0.0 && d.sustain_ratio <= 1.0,
            "detect.sustain_ratio",
            "must be within (0, 1]",
        );
        c.check(
            d.resolve_after_quiet_bins >= 1,
            "detect.resolve_after_quiet_bins",
            "must be at least 1",
        );
        check_grading(&mut c, "detect.grading", &d.grading);
    }
    if let Some(a) = &alert {
        c.check(
            !a.sinks.is_empty(),
            "alert.sinks",
            "needs at least one sink",
        );
        c.check(
            a.dedupe_capacity >= 1,
            "alert.dedupe_capacity",
            "must be at least 1",
        );
        for (i, s) in a.sinks.iter().enumerate() {
            if let SinkConfig::Webhook(w) = s {
                let key = format!("alert.sinks[{i}]");
                let url = w.url.expose();
                c.check(
                    url.starts_with("http://") || url.starts_with("https://"),
                    &format!("{key}.url"),
                    "must start with http:// or https://",
                );
                c.check(
                    w.timeout_ms >= 1,
                    &format!("{key}.timeout_ms"),
                    "must be at least 1",
                );
                c.check(
                    w.max_retries <= 100,
                    &format!("{key}.max_retries"),
                    "must be at most 100",
                );
                c.check(
                    w.backoff_initial_ms >= 1 && w.backoff_initial_ms <= w.backoff_max_ms,
                    &format!("{key}.backoff_initial_ms"),
                    "must be at least 1 and at most backoff_max_ms",
                );
            }
        }
    }

    let mut watches = Vec::new();
    if watches_raw.is_empty() && root.get("watches").is_none() {
        c.push(
            "watches",
            "no watches configured: add at least one [[watches]]",
        );
    }
    if watches_raw.len() > MAX_WATCHES {
        c.push(
            "watches",
            format!(
                "{} watches configured, at most {MAX_WATCHES}",
                watches_raw.len()
            ),
        );
    }
    let mut seen = HashSet::new();
    for (i, w) in watches_raw.into_iter().enumerate() {
        let Some(w) = w else { continue };
        let key = format!("watches[{i}]");
        let id_ok = !w.id.is_empty()
            && w.id.len() <= 64
            && w.id
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_');
        c.check(
            id_ok,
            &format!("{key}.id"),
            "must be 1-64 characters of a-z, 0-9, '-' and '_'",
        );
        if id_ok && !seen.insert(w.id.clone()) {
            c.push(
                format!("{key}.id"),
                format!("duplicate watch id `{}`", w.id),
            );
        }
        let mut terms = Vec::new();
        let mut uniq = BTreeSet::new();
        for (j, t) in w.terms.iter().enumerate() {
            let t = t.trim();
            if t.is_empty() {
                c.push(format!("{key}.terms[{j}]"), "empty term");
            } else if uniq.insert(t.to_string()) {
                terms.push(t.to_string());
            }
        }
        if w.terms.is_empty() && w.query.is_none() {
            c.push(
                format!("{key}.terms"),
                "needs at least one term (or a `query`)",
            );
        }
        if w.query.is_some() && (!w.terms.is_empty() || !w.exclude.is_empty()) {
            c.push(
                format!("{key}.query"),
                "give either `query` or `terms`/`exclude`, not both",
            );
        }
        let mut exclude = Vec::new();
        for (j, t) in w.exclude.iter().enumerate() {
            let t = t.trim();
            if t.is_empty() {
                c.push(format!("{key}.exclude[{j}]"), "empty term");
            } else {
                exclude.push(t.to_string());
            }
        }
        let grading = match (&detect, &w.grading) {
            (Some(d), Some(o)) => {
                let g = d.grading.with(o);
                check_grading(&mut c, &format!("{key}.grading"), &g);
                g
            }
            (Some(d), None) => d.grading.clone(),
            (None, _) => continue,
        };
        let query = match &w.query {
            Some(q) => match Query::parse(q) {
                Ok(q) => q,
                Err(e) => {
                    c.push(format!("{key}.query"), format!("{e}: {q}"));
                    continue;
                }
            },
            None => Query::from_terms(&terms, &exclude),
        };
        watches.push(Watch {
            id: WatchId(w.id.clone()),
            name: w.name.clone().unwrap_or_else(|| w.id.clone()),
            terms,
            exclude,
            query,
            grading,
        });
    }

    if !c.problems.is_empty() {
        return Err(ConfigError::Invalid(c.problems));
    }
    let config = Config {
        transport: transport.expect("no problems means the section parsed"),
        ingest: ingest.expect("no problems means the section parsed"),
        score: score.expect("no problems means the section parsed"),
        detect: detect.expect("no problems means the section parsed"),
        alert: alert.expect("no problems means the section parsed"),
        telemetry: telemetry.expect("no problems means the section parsed"),
        watches: Vec::new(),
    };
    let mut config = config;
    config.watches = root
        .get("watches")
        .and_then(|v| v.clone().try_into().ok())
        .unwrap_or_default();
    Ok(Settings {
        config,
        watches,
        lexicons,
    })
}

fn check_grading(c: &mut Collector, key: &str, g: &GradingConfig) {
    c.check(
        g.moderate_ratio >= 1.0,
        &format!("{key}.moderate_ratio"),
        "must be at least 1",
    );
    c.check(
        g.moderate_ratio_alone >= g.moderate_ratio,
        &format!("{key}.moderate_ratio_alone"),
        "must be at least moderate_ratio",
    );
    c.check(
        g.moderate_sources >= 1,
        &format!("{key}.moderate_sources"),
        "must be at least 1",
    );
    c.check(
        g.source_min_share > 0.0 && g.source_min_share <= 1.0,
        &format!("{key}.source_min_share"),
        "must be within (0, 1]",
    );
    c.check(
        g.major_severe_posts >= 1,
        &format!("{key}.major_severe_posts"),
        "must be at least 1",
    );
    c.check(
        (0.0..=1.0).contains(&g.major_severe_share),
        &format!("{key}.major_severe_share"),
        "must be within [0, 1]",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    const MIN: &str = "[[watches]]\nid = \"acme\"\nterms = [\"acme\", \"艾克美\"]\n";

    #[test]
    fn default_toml_parses() {
        let t: Table = DEFAULT_TOML.parse().unwrap();
        assert!(t.contains_key("detect"));
    }

    #[test]
    fn minimal_config_uses_defaults() {
        let s = Settings::from_toml_str(MIN, "f.toml", &[]).unwrap();
        assert_eq!(s.config.detect.bin_secs, 60);
        assert_eq!(s.watches.len(), 1);
        assert_eq!(s.watches[0].terms, vec!["acme", "艾克美"]);
        assert_eq!(s.lexicons.len(), 6);
        assert!(s
            .lexicons
            .iter()
            .any(|l| l.severe.iter().any(|t| t == "recall")));
    }

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let text = format!("{MIN}\n[detect]\nbin_secs = 30\nwindow_bins = 2\n");
        let s = Settings::from_toml_str(&text, "f.toml", &[]).unwrap();
        assert_eq!(s.config.detect.bin_secs, 30);
        assert_eq!(s.config.detect.window_bins, 2);
        let env = vec![("VIGIL__DETECT__BIN_SECS".to_string(), "10".to_string())];
        let s = Settings::from_toml_str(&text, "f.toml", &env).unwrap();
        assert_eq!(s.config.detect.bin_secs, 10);
        assert_eq!(s.config.detect.window_bins, 2);
        let env = vec![(
            "VIGIL__INGEST__DEFAULT_SOURCE".to_string(),
            "weibo".to_string(),
        )];
        let s = Settings::from_toml_str(&text, "f.toml", &env).unwrap();
        assert_eq!(s.config.ingest.default_source, "weibo");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
bogus_top = 1
[detect]
bin_secs = 0
windw_bins = 3
z_threshold = -1.0
[[watches]]
id = "Bad Id"
terms = []
[[watches]]
id = "ok"
terms = ["x", " "]
colour = "red"
[[watches]]
id = "ok"
terms = ["y"]
"#;
        let err = Settings::from_toml_str(text, "bad.toml", &[]).unwrap_err();
        let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
        for want in [
            "bogus_top",
            "detect.bin_secs",
            "detect.windw_bins",
            "detect.z_threshold",
            "watches[0].id",
            "watches[0].terms",
            "watches[1].terms[1]",
            "watches[1].colour",
            "watches[2].id",
        ] {
            assert!(keys.contains(&want), "missing {want} in {keys:?}");
        }
        assert!(err.problems().iter().all(|p| p.origin == "bad.toml"));
        let msg = err.to_string();
        assert!(
            msg.contains("bad.toml: `detect.windw_bins`: unknown key"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_type_names_the_section() {
        let text = format!("{MIN}\n[detect]\nbin_secs = \"sixty\"\n");
        let err = Settings::from_toml_str(&text, "f.toml", &[]).unwrap_err();
        assert_eq!(err.problems()[0].key, "detect");
        assert!(err.problems()[0].message.contains("bin_secs"), "{err}");
    }

    #[test]
    fn env_problem_is_attributed_to_environment() {
        let env = vec![("VIGIL__DETECT__BIN_SECS".to_string(), "0".to_string())];
        let err = Settings::from_toml_str(MIN, "f.toml", &env).unwrap_err();
        assert_eq!(err.problems()[0].origin, "environment");
    }

    #[test]
    fn no_watches_is_an_error() {
        let err = Settings::from_toml_str("", "f.toml", &[]).unwrap_err();
        assert_eq!(err.problems()[0].key, "watches");
    }

    #[test]
    fn syntax_error_gives_line() {
        let err = Settings::from_toml_str("[detect\nx=1", "f.toml", &[]).unwrap_err();
        assert!(err.problems()[0].message.contains("line 1"), "{err}");
    }

    #[test]
    fn webhook_url_is_masked_when_shown() {
        let text = format!(
            "{MIN}\n[alert]\n[[alert.sinks]]\ntype = \"webhook\"\nurl = \"https://hooks.example/T0KEN\"\n"
        );
        let s = Settings::from_toml_str(&text, "f.toml", &[]).unwrap();
        let shown = toml::to_string(&s.config).unwrap();
        assert!(!shown.contains("T0KEN"), "{shown}");
        assert!(!format!("{:?}", s.config).contains("T0KEN"));
        let bad = format!("{MIN}\n[[alert.sinks]]\ntype = \"webhook\"\nurl = \"ftp://x\"\n");
        let err = Settings::from_toml_str(&bad, "f.toml", &[]).unwrap_err();
        assert_eq!(err.problems()[0].key, "alert.sinks[0].url");
    }

    #[test]
    fn per_watch_grading_override() {
        let text = format!("{MIN}grading = {{ major_severe_posts = 9 }}\n");
        let s = Settings::from_toml_str(&text, "f.toml", &[]).unwrap();
        assert_eq!(s.watches[0].grading.major_severe_posts, 9);
        assert_eq!(
            s.watches[0].grading.moderate_ratio,
            s.config.detect.grading.moderate_ratio
        );
    }

    #[test]
    fn watch_query_is_parsed_once_with_positions() {
        let text = "[[watches]]\nid = \"q\"\nquery = '(acme OR 艾克美) AND (recall OR \"data breach\") NOT \"acme hotel\"'\n";
        let s = Settings::from_toml_str(text, "f.toml", &[]).unwrap();
        assert_eq!(s.watches[0].query.terms.len(), 5);
        let bad = "[[watches]]\nid = \"q\"\nquery = \"(acme OR\"\n[[watches]]\nid = \"r\"\nterms = [\"x\"]\nquery = \"x\"\n";
        let err = Settings::from_toml_str(bad, "f.toml", &[]).unwrap_err();
        assert_eq!(err.problems()[0].key, "watches[0].query");
        assert!(err.problems()[0].message.contains("column"), "{err}");
        assert_eq!(err.problems()[1].key, "watches[1].query");
    }

    #[test]
    fn lexicon_sections_parse() {
        let l = parse_lexicon(
            CrisisKind::Legal,
            "# c\nsue\n[severe]\nlawsuit\n诉讼\n[signal]\ncourt\n#boycott\n",
        )
        .unwrap();
        assert_eq!(l.signal, vec!["sue", "court", "#boycott"]);
        assert_eq!(l.severe, vec!["lawsuit", "诉讼"]);
        assert!(parse_lexicon(CrisisKind::Legal, "[weird]\n").is_err());
    }
}
