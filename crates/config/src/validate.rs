//! Layer merging and validation into [`Settings`].

use std::collections::{BTreeSet, HashMap, HashSet};

use toml::{Table, Value};
use vigil_types::{CrisisKind, WatchId};

use crate::{
    query::Query,
    raw::{
        AlertConfig, ApiConfig, Config, DetectConfig, GradingConfig, IncidentsConfig, IngestConfig,
        ScoreConfig, Sensitive, SinkConfig, TelemetryConfig, TransportConfig, WatchConfig,
    },
    sections::{
        self, AlertSettings, DetectSettings, IncidentsSettings, IngestSettings, ScoreSettings,
        TelemetrySettings, TransportSettings,
    },
    ConfigError, Problem, DEFAULT_TOML,
};

/// Most watches one deployment may configure (bounds the `watch` label).
pub const MAX_WATCHES: usize = 100_000;

/// Longest detect scale, in bins (a day of one-minute bins).
pub const MAX_SCALE_BINS: u64 = 1440;

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
    /// How the stages are joined.
    pub transport: TransportSettings,
    /// The ingest stage.
    pub ingest: IngestSettings,
    /// The score stage.
    pub score: ScoreSettings,
    /// The detect stage.
    pub detect: DetectSettings,
    /// The alert stage: sinks, escalation, delivery.
    pub alert: AlertSettings,
    /// The incident store.
    pub incidents: IncidentsSettings,
    /// Logs.
    pub telemetry: TelemetrySettings,
    /// Validated watches.
    pub watches: Vec<Watch>,
    /// Crisis-kind lexicons, one per kind.
    pub lexicons: Vec<Lexicon>,
    /// The incident API's tokens (secrets resolved) and limits.
    pub api: ApiSettings,
    /// Crisis playbooks (built in, or from `incidents.playbooks_dir`).
    pub playbooks: Vec<crate::Playbook>,
    /// Status-update templates (built in, or from `incidents.templates_dir`).
    pub templates: Vec<crate::Template>,
    /// All layers merged, as read: only for showing (`vigil config show`).
    resolved: Config,
}

impl Settings {
    /// The merged configuration as TOML, secrets masked (`vigil config show`).
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(&self.resolved)
    }
}

/// Fewest characters an API token may have.
pub const MIN_API_TOKEN_CHARS: usize = 16;

/// Smallest `api.max_body_bytes` accepted.
pub const MIN_API_BODY_BYTES: usize = 1024;

/// Largest `api.max_body_bytes` accepted.
pub const MAX_API_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What an API token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiRole {
    /// Read incidents, silences and live changes.
    Viewer,
    /// Everything a viewer may, and report an incident by hand (`POST
    /// /api/v1/incidents`): for staff and customer-service agents who spot
    /// trouble first.
    Reporter,
    /// Everything a reporter may, and act: acknowledge, assign, comment,
    /// resolve, reopen, add and remove silences.
    Responder,
}

impl ApiRole {
    /// Lower-case name, as in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiRole::Viewer => "viewer",
            ApiRole::Reporter => "reporter",
            ApiRole::Responder => "responder",
        }
    }

    /// True when this role may change incidents and silences.
    pub fn may_write(self) -> bool {
        self == ApiRole::Responder
    }

    /// True when this role may report an incident by hand.
    pub fn may_report(self) -> bool {
        matches!(self, ApiRole::Reporter | ApiRole::Responder)
    }
}

impl std::str::FromStr for ApiRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(ApiRole::Viewer),
            "reporter" => Ok(ApiRole::Reporter),
            "responder" => Ok(ApiRole::Responder),
            _ => Err(format!(
                "unknown role `{s}` (expected viewer, reporter or responder)"
            )),
        }
    }
}

/// A validated API token, its secret resolved (from `token` or the
/// variable named by `token_env`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    /// Who holds it (the actor in incident timelines).
    pub name: String,
    /// What it may do.
    pub role: ApiRole,
    /// The secret (prints as a mask).
    pub secret: Sensitive<String>,
}

/// The validated `[api]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiSettings {
    /// Tokens; empty means the API is off.
    pub tokens: Vec<ApiToken>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most open connections on the admin address.
    pub max_connections: usize,
    /// Most open live-change streams.
    pub max_event_streams: usize,
    /// How long a connection may take to send its request headers.
    pub header_read_timeout: std::time::Duration,
}

impl Default for ApiSettings {
    fn default() -> ApiSettings {
        ApiSettings {
            tokens: Vec::new(),
            max_body_bytes: ApiConfig::default().max_body_bytes,
            max_connections: ApiConfig::default().max_connections,
            max_event_streams: ApiConfig::default().max_event_streams,
            header_read_timeout: std::time::Duration::from_secs(
                ApiConfig::default().header_read_timeout_secs,
            ),
        }
    }
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

pub(crate) struct Collector {
    origin: String,
    env_keys: HashSet<String>,
    pub(crate) problems: Vec<Problem>,
}

impl Collector {
    pub(crate) fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
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

    pub(crate) fn check(&mut self, ok: bool, key: &str, message: &str) {
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
    deserialize_reported(c, key, value, |path| {
        // serde_ignored writes `?` for the inside of an `Option`: leave it out.
        format!("{key}.{path}").replace(".?.", ".")
    })
}

/// Deserializes `value`, reporting each key it does not know (under the
/// key `unknown_key` makes of its path) and then, if it does not parse,
/// the error under `key`.
fn deserialize_reported<T: serde::de::DeserializeOwned>(
    c: &mut Collector,
    key: &str,
    value: Value,
    unknown_key: impl Fn(&str) -> String,
) -> Option<T> {
    let mut unknown = Vec::new();
    let result: Result<T, _> =
        serde_ignored::deserialize(value, |path| unknown.push(unknown_key(&path.to_string())));
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
    let Some(root) = merged_layers(&mut c, text, env) else {
        return Err(ConfigError::Invalid(c.problems));
    };

    for key in root.keys() {
        if ![
            "transport",
            "ingest",
            "score",
            "detect",
            "alert",
            "telemetry",
            "incidents",
            "api",
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
    let alert = deserialize_alert(&mut c, &root);
    let telemetry: Option<TelemetryConfig> = deserialize_section(&mut c, &root, "telemetry");
    let incidents: Option<IncidentsConfig> = deserialize_section(&mut c, &root, "incidents");
    let api = deserialize_api(&mut c, &root);
    let watches_raw = deserialize_watches(&mut c, &root);

    let transport_settings = transport
        .as_ref()
        .and_then(|t| sections::transport(&mut c, t));
    let ingest_settings = ingest.as_ref().and_then(|i| sections::ingest(&mut c, i));
    let score_settings = score.as_ref().and_then(|s| sections::score(&mut c, s));
    let lexicons = score
        .as_ref()
        .map(|s| load_lexicons(&mut c, s))
        .unwrap_or_default();
    let detect_settings = detect.as_ref().and_then(|d| sections::detect(&mut c, d));
    let alert_settings = alert
        .as_ref()
        .and_then(|a| sections::alert(&mut c, a, incidents.as_ref()));
    let incidents_settings = incidents
        .as_ref()
        .and_then(|i| sections::incidents(&mut c, i));
    let telemetry_settings = telemetry
        .as_ref()
        .and_then(|t| sections::telemetry(&mut c, t));
    let dirs = incidents.as_ref();
    let playbooks = dirs.map(|i| crate::playbooks::load_playbooks(&i.playbooks_dir));
    let playbooks = loaded(&mut c, "incidents.playbooks_dir", playbooks);
    let templates = dirs.map(|i| crate::templates::load_templates(&i.templates_dir));
    let templates = loaded(&mut c, "incidents.templates_dir", templates);

    let api_settings = api.as_ref().map(|a| check_api(&mut c, a, env));

    let watches = check_watches(&mut c, &root, watches_raw, detect.as_ref());

    if !c.problems.is_empty() {
        return Err(ConfigError::Invalid(c.problems));
    }
    const PARSED: &str = "no problems means every section parsed and checked";
    let resolved = Config {
        transport: transport.expect(PARSED),
        ingest: ingest.expect(PARSED),
        score: score.expect(PARSED),
        detect: detect.expect(PARSED),
        alert: alert.expect(PARSED),
        telemetry: telemetry.expect(PARSED),
        incidents: incidents.expect(PARSED),
        api: api.expect(PARSED),
        watches: root
            .get("watches")
            .and_then(|v| v.clone().try_into().ok())
            .unwrap_or_default(),
    };
    Ok(Settings {
        transport: transport_settings.expect(PARSED),
        ingest: ingest_settings.expect(PARSED),
        score: score_settings.expect(PARSED),
        detect: detect_settings.expect(PARSED),
        alert: alert_settings.expect(PARSED),
        incidents: incidents_settings.expect(PARSED),
        telemetry: telemetry_settings.expect(PARSED),
        watches,
        lexicons,
        api: api_settings.expect(PARSED),
        playbooks,
        templates,
        resolved,
    })
}

/// The built-in defaults, then `text`, then the `VIGIL__*` variables of
/// `env`, merged; `None` when `text` is not TOML.
fn merged_layers(c: &mut Collector, text: &str, env: &[(String, String)]) -> Option<Table> {
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
            return None;
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
    Some(root)
}

/// `[api]`, or its defaults when the section is absent.
fn deserialize_api(c: &mut Collector, root: &Table) -> Option<ApiConfig> {
    match root.get("api") {
        None => Some(ApiConfig::default()),
        Some(_) => {
            let before = c.problems.len();
            let api = deserialize_section(c, root, "api");
            // serde_ignored writes `tokens.3.x`; say `tokens[3].x` like sinks do.
            for p in &mut c.problems[before..] {
                if let Some(rest) = p.key.strip_prefix("api.tokens.") {
                    if let Some((n, tail)) = rest.split_once('.') {
                        if n.bytes().all(|b| b.is_ascii_digit()) {
                            p.key = format!("api.tokens[{n}].{tail}");
                        }
                    }
                }
            }
            api
        }
    }
}

/// Each `[[watches]]` entry as read (`None` where it did not parse).
fn deserialize_watches(c: &mut Collector, root: &Table) -> Vec<Option<WatchConfig>> {
    let mut watches_raw: Vec<Option<WatchConfig>> = Vec::new();
    match root.get("watches") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let key = format!("watches[{i}]");
                watches_raw.push(deserialize_reported(c, &key, item.clone(), |p| {
                    format!("{key}.{p}")
                }));
            }
        }
        Some(_) => c.push("watches", "must be an array of tables ([[watches]])"),
    }
    watches_raw
}

/// The crisis-kind lexicons: built in, or `<kind>.txt` in `score.lexicon_dir`.
fn load_lexicons(c: &mut Collector, s: &ScoreConfig) -> Vec<Lexicon> {
    let mut lexicons = Vec::new();
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
    lexicons
}

/// The watches, validated, each with its grading (the detect section's
/// with the watch's overrides) and its parsed query.
fn check_watches(
    c: &mut Collector,
    root: &Table,
    watches_raw: Vec<Option<WatchConfig>>,
    detect: Option<&DetectConfig>,
) -> Vec<Watch> {
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
        let id_ok = WatchId::is_valid(&w.id);
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
        let grading = match (detect, &w.grading) {
            (Some(d), Some(o)) => {
                let g = d.grading.with(o);
                check_grading(c, &format!("{key}.grading"), &g);
                g
            }
            (Some(d), None) => d.grading.clone(),
            (None, _) => continue,
        };
        let query = match &w.query {
            Some(q) => match Query::parse(q) {
                Ok(q) => q,
                Err(e) => {
                    // Quote the query, but not a huge one in full.
                    let shown: String = q.chars().take(200).collect();
                    let more = if shown.len() < q.len() { "..." } else { "" };
                    c.push(format!("{key}.query"), format!("{e}: {shown}{more}"));
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
    watches
}

/// Validates `[api]` and resolves each token's secret: from `token`, or
/// from the variable `token_env` names (looked up in `env` first, then in
/// the process environment). Every problem is collected; secrets never
/// appear in a message.
fn check_api(c: &mut Collector, a: &ApiConfig, env: &[(String, String)]) -> ApiSettings {
    c.check(
        (MIN_API_BODY_BYTES..=MAX_API_BODY_BYTES).contains(&a.max_body_bytes),
        "api.max_body_bytes",
        &format!("must be between {MIN_API_BODY_BYTES} and {MAX_API_BODY_BYTES}"),
    );
    c.check(
        (16..=100_000).contains(&a.max_connections),
        "api.max_connections",
        "must be between 16 and 100000 (/healthz and /metrics need connections too)",
    );
    c.check(
        (1..=a.max_connections.max(1)).contains(&a.max_event_streams),
        "api.max_event_streams",
        "must be between 1 and api.max_connections (each stream holds a connection)",
    );
    c.check(
        (1..=300).contains(&a.header_read_timeout_secs),
        "api.header_read_timeout_secs",
        "must be between 1 and 300",
    );
    let mut tokens: Vec<ApiToken> = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut secrets: HashMap<String, usize> = HashMap::new();
    for (i, t) in a.tokens.iter().enumerate() {
        let key = format!("api.tokens[{i}]");
        let name_ok = !t.name.is_empty()
            && t.name.chars().count() <= 64
            && t.name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '@' | '-'));
        c.check(
            name_ok,
            &format!("{key}.name"),
            "must be 1-64 characters of letters, digits, '.', '_', '@' and '-'",
        );
        if name_ok {
            if let Some(j) = names.insert(&t.name, i) {
                c.push(
                    format!("{key}.name"),
                    format!("duplicate token name `{}` (also api.tokens[{j}])", t.name),
                );
            }
        }
        let role = match t.role.parse::<ApiRole>() {
            Ok(r) => Some(r),
            Err(e) => {
                c.push(format!("{key}.role"), e);
                None
            }
        };
        let secret = match (&t.token, &t.token_env) {
            (Some(_), Some(_)) => {
                c.push(key.clone(), "give either `token` or `token_env`, not both");
                None
            }
            (None, None) => {
                c.push(
                    key.clone(),
                    "needs `token` (the secret) or `token_env` (the name of a variable holding it)",
                );
                None
            }
            (Some(s), None) => check_secret(c, &format!("{key}.token"), s.expose(), None),
            (None, Some(var)) => {
                let k = format!("{key}.token_env");
                let found = env
                    .iter()
                    .find(|(n, _)| n == var)
                    .map(|(_, v)| v.clone())
                    .or_else(|| std::env::var(var).ok());
                if var.trim().is_empty() {
                    c.push(k, "must name an environment variable");
                    None
                } else {
                    match found {
                        None => {
                            c.push(k, format!("environment variable `{var}` is not set"));
                            None
                        }
                        Some(v) => check_secret(c, &k, &v, Some(var)),
                    }
                }
            }
        };
        if let Some(s) = &secret {
            if let Some(j) = secrets.insert(s.clone(), i) {
                c.push(
                    key.clone(),
                    format!("has the same secret as api.tokens[{j}]: each token must be different"),
                );
            }
        }
        if let (Some(role), Some(secret), true) = (role, secret, name_ok) {
            tokens.push(ApiToken {
                name: t.name.clone(),
                role,
                secret: Sensitive(secret),
            });
        }
    }
    ApiSettings {
        tokens,
        max_body_bytes: a.max_body_bytes,
        max_connections: a.max_connections,
        max_event_streams: a.max_event_streams,
        header_read_timeout: std::time::Duration::from_secs(a.header_read_timeout_secs),
    }
}

/// A token secret: not empty, no surrounding whitespace, long enough.
/// `var` names the variable it came from, if any.
fn check_secret(c: &mut Collector, key: &str, secret: &str, var: Option<&str>) -> Option<String> {
    let subject = match var {
        Some(v) => format!("the value of `{v}` "),
        None => String::new(),
    };
    let problem = if secret.is_empty() {
        "must not be empty".to_string()
    } else if secret.trim() != secret {
        "must not have leading or trailing whitespace".to_string()
    } else if secret.chars().count() < MIN_API_TOKEN_CHARS {
        format!(
            "must be at least {MIN_API_TOKEN_CHARS} characters (use a random secret, e.g. `openssl rand -hex 32`)"
        )
    } else {
        return Some(secret.to_string());
    };
    c.push(key, format!("{subject}{problem}"));
    None
}

/// Deserialises `[alert]`: the section without `sinks`, then each
/// `[[alert.sinks]]` entry on its own, so that a bad sink names its index and
/// key and every sink's problems are reported together.
fn deserialize_alert(c: &mut Collector, root: &Table) -> Option<AlertConfig> {
    let Some(Value::Table(section)) = root.get("alert") else {
        // Missing or not a table: the generic path reports it.
        return deserialize_section(c, root, "alert");
    };
    let mut section = section.clone();
    let mut sinks = Vec::new();
    match section.remove("sinks") {
        None => c.push("alert.sinks", "needs at least one sink"),
        Some(Value::Array(items)) if items.is_empty() => {
            c.push("alert.sinks", "needs at least one sink")
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(s) = deserialize_sink(c, &format!("alert.sinks[{i}]"), item) {
                    sinks.push((i, s));
                }
            }
        }
        Some(_) => c.push(
            "alert.sinks",
            "must be an array of tables ([[alert.sinks]])",
        ),
    }
    check_sinks(c, &sinks);
    let mut rest = Table::new();
    rest.insert("alert".into(), Value::Table(section));
    let mut alert: AlertConfig = deserialize_section(c, &rest, "alert")?;
    alert.sinks = sinks.into_iter().map(|(_, s)| s).collect();
    Some(alert)
}

fn deserialize_sink(c: &mut Collector, key: &str, item: &Value) -> Option<SinkConfig> {
    let expected = SinkConfig::TYPES
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(table) = item.as_table() else {
        c.push(key, "must be a table ([[alert.sinks]])");
        return None;
    };
    let kind = match table.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(_) => {
            c.push(
                format!("{key}.type"),
                format!("must be a string, one of {expected}"),
            );
            return None;
        }
        None => {
            c.push(
                format!("{key}.type"),
                format!("missing sink type (expected one of {expected})"),
            );
            return None;
        }
    };
    if !SinkConfig::TYPES.contains(&kind) {
        c.push(
            format!("{key}.type"),
            format!("unknown sink type `{kind}` (expected one of {expected})"),
        );
        return None;
    }
    let s: SinkConfig = deserialize_reported(c, key, item.clone(), |p| format!("{key}.{p}"))?;
    // serde buffers an internally tagged enum's content, so `serde_ignored`
    // does not see unknown keys inside the variant: compare the table's keys
    // with a round trip of what was parsed instead (optional keys left out
    // are not in the round trip: `optional_sink_key` lists them).
    let known: Table = Value::try_from(&s)
        .ok()
        .and_then(|v| v.as_table().cloned())
        .unwrap_or_default();
    for k in table.keys() {
        if !known.contains_key(k) && !optional_sink_key(&s, k) {
            c.push(format!("{key}.{k}"), "unknown key");
        }
    }
    Some(s)
}

/// Optional keys a sink may leave out, which a round trip therefore omits.
fn optional_sink_key(s: &SinkConfig, k: &str) -> bool {
    match s {
        SinkConfig::Stdout(_) | SinkConfig::Slack(_) => k == "name",
        SinkConfig::Webhook(_) => ["name", "secret"].contains(&k),
        SinkConfig::Alertmanager(_) => ["name", "generator_url"].contains(&k),
    }
}

/// Checks each parsed sink (with its index in the file) and that names are
/// unique.
fn check_sinks(c: &mut Collector, sinks: &[(usize, SinkConfig)]) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, s) in sinks {
        let i = *i;
        let key = format!("alert.sinks[{i}]");
        let name = s.name();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_');
        c.check(
            name_ok,
            &format!("{key}.name"),
            "must be 1-64 characters of a-z, 0-9, '-' and '_'",
        );
        let first = *names.entry(name).or_insert(i);
        if first != i {
            c.push(
                format!("{key}.name"),
                format!(
                    "duplicate sink name `{name}` (also alert.sinks[{first}]); \
                     give each sink a distinct `name`"
                ),
            );
        }
        let url = match s {
            SinkConfig::Stdout(_) => None,
            SinkConfig::Webhook(w) => {
                if let Some(secret) = &w.secret {
                    c.check(
                        !secret.expose().is_empty(),
                        &format!("{key}.secret"),
                        "must not be empty (leave it out to send unsigned requests)",
                    );
                }
                Some(w.url.expose())
            }
            SinkConfig::Slack(w) => Some(w.url.expose()),
            SinkConfig::Alertmanager(a) => {
                c.check(
                    !a.url
                        .expose()
                        .trim_end_matches('/')
                        .ends_with("/api/v2/alerts"),
                    &format!("{key}.url"),
                    "give the Alertmanager base URL (`/api/v2/alerts` is appended)",
                );
                if let Some(g) = &a.generator_url {
                    c.check(
                        g.starts_with("http://") || g.starts_with("https://"),
                        &format!("{key}.generator_url"),
                        "must start with http:// or https://",
                    );
                }
                c.check(
                    a.firing_ttl_secs <= 366 * 86_400,
                    &format!("{key}.firing_ttl_secs"),
                    "must be at most 31622400 (366 days)",
                );
                Some(a.url.expose())
            }
        };
        if let Some(url) = url {
            c.check(
                url.starts_with("http://") || url.starts_with("https://"),
                &format!("{key}.url"),
                "must start with http:// or https://",
            );
        }
        if let Some(d) = s.delivery() {
            c.check(
                d.timeout_ms >= 1,
                &format!("{key}.timeout_ms"),
                "must be at least 1",
            );
            c.check(
                d.max_retries <= 100,
                &format!("{key}.max_retries"),
                "must be at most 100",
            );
            c.check(
                d.backoff_initial_ms >= 1 && d.backoff_initial_ms <= d.backoff_max_ms,
                &format!("{key}.backoff_initial_ms"),
                "must be at least 1 and at most backoff_max_ms",
            );
        }
    }
}

/// The levels a per-level section configures (given minor, moderate,
/// major), with their names.
fn configured_levels<T>(levels: [&Option<T>; 3]) -> impl Iterator<Item = (&'static str, &T)> {
    ["minor", "moderate", "major"]
        .into_iter()
        .zip(levels)
        .filter_map(|(name, p)| p.as_ref().map(|p| (name, p)))
}

/// Longest escalation delay, ack timeout or repeat interval: 30 days.
const MAX_ESCALATION_SECS: u64 = 30 * 86_400;

/// Checks `[alert.escalation.<level>]`: steps start at 0 and grow, name
/// configured sinks, and the timers are in range.
pub(crate) fn check_escalation(c: &mut Collector, a: &AlertConfig) {
    let names: Vec<&str> = a.sinks.iter().map(|s| s.name()).collect();
    let e = &a.escalation;
    for (level, p) in configured_levels([&e.minor, &e.moderate, &e.major]) {
        let key = format!("alert.escalation.{level}");
        check_steps(
            c,
            &key,
            &p.steps,
            |s| s.after_secs,
            |c, skey, s| {
                let sinks_key = format!("{skey}.sinks");
                if s.sinks.is_empty() {
                    c.push(sinks_key.clone(), "needs at least one sink name");
                }
                check_sink_names(c, &sinks_key, &s.sinks, &names);
            },
        );
        if let Some(t) = p.ack_timeout_secs {
            c.check(
                (1..=MAX_ESCALATION_SECS).contains(&t),
                &format!("{key}.ack_timeout_secs"),
                "must be between 1 and 2592000 (30 days)",
            );
        }
        if let Some(r) = p.repeat_secs {
            c.check(
                (60..=MAX_ESCALATION_SECS).contains(&r),
                &format!("{key}.repeat_secs"),
                "must be between 60 and 2592000 (30 days)",
            );
        }
    }
}

/// Reports each entry of the list at `key` (as `<key>[j]`) that is not
/// one of `known`, with the message `unknown` gives for it.
fn check_known(
    c: &mut Collector,
    key: &str,
    list: &[String],
    known: &[&str],
    unknown: impl Fn(&str) -> String,
) {
    for (j, n) in list.iter().enumerate() {
        if !known.contains(&n.as_str()) {
            c.push(format!("{key}[{j}]"), unknown(n));
        }
    }
}

/// Reports each entry of the sink list at `key` that is not one of the
/// configured `sinks`.
fn check_sink_names(c: &mut Collector, key: &str, list: &[String], sinks: &[&str]) {
    check_known(c, key, list, sinks, |n| {
        format!(
            "unknown sink `{n}` (configured sinks: {})",
            sinks.join(", ")
        )
    });
}

/// Checks the steps at `<key>.steps`: at least one, the first's
/// `after_secs` 0, each later one's larger than the one before, none over
/// 30 days; `each` then checks the rest of each step, given its key.
fn check_steps<S>(
    c: &mut Collector,
    key: &str,
    steps: &[S],
    after_secs: impl Fn(&S) -> u64,
    mut each: impl FnMut(&mut Collector, &str, &S),
) {
    if steps.is_empty() {
        c.push(format!("{key}.steps"), "needs at least one step");
    }
    for (i, s) in steps.iter().enumerate() {
        let skey = format!("{key}.steps[{i}]");
        let after = after_secs(s);
        let after_key = format!("{skey}.after_secs");
        match i.checked_sub(1).map(|i| after_secs(&steps[i])) {
            None => c.check(
                after == 0,
                &after_key,
                "the first step notifies at once: it must be 0",
            ),
            Some(previous) => c.check(
                after > previous,
                &after_key,
                "must be larger than the previous step's after_secs",
            ),
        }
        c.check(
            after <= MAX_ESCALATION_SECS,
            &after_key,
            "must be at most 2592000 (30 days)",
        );
        each(c, &skey, s);
    }
}

/// The files a directory setting loaded, or none, with each file's problem
/// under the setting's key.
fn loaded<T>(c: &mut Collector, key: &str, r: Option<Result<Vec<T>, Vec<String>>>) -> Vec<T> {
    match r {
        Some(Ok(v)) => v,
        Some(Err(problems)) => {
            for p in problems {
                c.push(key, p);
            }
            Vec::new()
        }
        None => Vec::new(),
    }
}

/// Checks the roster: unique names, people and teams reached by configured
/// sinks, teams of known people, and paths whose steps start at 0, grow,
/// and name known people or teams.
pub(crate) fn check_roster(c: &mut Collector, i: &IncidentsConfig, a: &AlertConfig) {
    let sinks: Vec<&str> = a.sinks.iter().map(|s| s.name()).collect();
    let mut names: Vec<&str> = Vec::new();
    let check_sinks = |c: &mut Collector, key: &str, list: &[String]| {
        check_sink_names(c, &format!("{key}.sinks"), list, &sinks);
    };
    let name_ok = |c: &mut Collector, key: &str, name: &str, names: &mut Vec<String>| {
        if name.trim().is_empty() || name.chars().count() > 64 {
            c.push(format!("{key}.name"), "must be 1-64 characters");
        } else if names.iter().any(|n| n == name) {
            c.push(
                format!("{key}.name"),
                format!("`{name}` is already a person or team"),
            );
        } else {
            names.push(name.to_string());
        }
    };
    let mut taken: Vec<String> = Vec::new();
    for (k, p) in i.people.iter().enumerate() {
        let key = format!("incidents.people[{k}]");
        name_ok(c, &key, &p.name, &mut taken);
        if p.sinks.is_empty() {
            c.push(
                format!("{key}.sinks"),
                "needs at least one sink that reaches them",
            );
        }
        check_sinks(c, &key, &p.sinks);
    }
    names.extend(i.people.iter().map(|p| p.name.as_str()));
    for (k, t) in i.teams.iter().enumerate() {
        let key = format!("incidents.teams[{k}]");
        name_ok(c, &key, &t.name, &mut taken);
        if t.members.is_empty() {
            c.push(format!("{key}.members"), "needs at least one member");
        }
        check_known(c, &format!("{key}.members"), &t.members, &names, |m| {
            format!("`{m}` is not in incidents.people")
        });
        check_sinks(c, &key, &t.sinks);
    }
    let known = |n: &str| taken.iter().any(|t| t == n);
    let mut seen = Vec::new();
    for (k, p) in i.paths.iter().enumerate() {
        let key = format!("incidents.paths[{k}]");
        if seen.contains(&(p.level, p.kind)) {
            c.push(key.clone(), "another path has the same level and kind");
        }
        seen.push((p.level, p.kind));
        if let Some(o) = p.owner.as_deref().filter(|o| !known(o)) {
            c.push(
                format!("{key}.owner"),
                format!("`{o}` is not a person or team"),
            );
        }
        check_steps(
            c,
            &key,
            &p.steps,
            |s| s.after_secs,
            |c, skey, s| {
                if !known(&s.to) {
                    c.push(
                        format!("{skey}.to"),
                        format!("`{}` is not a person or team", s.to),
                    );
                }
            },
        );
    }
}

/// Checks `[alert.targets.<level>]`: each target 1 s..30 days, and
/// neither acknowledging nor responding due after resolving.
pub(crate) fn check_targets(c: &mut Collector, a: &AlertConfig) {
    let t = &a.targets;
    for (level, p) in configured_levels([&t.minor, &t.moderate, &t.major]) {
        let key = format!("alert.targets.{level}");
        for (name, v) in [
            ("acknowledge_secs", p.acknowledge_secs),
            ("respond_secs", p.respond_secs),
            ("resolve_secs", p.resolve_secs),
        ] {
            if let Some(v) = v {
                c.check(
                    (1..=MAX_ESCALATION_SECS).contains(&v),
                    &format!("{key}.{name}"),
                    "must be between 1 and 2592000 (30 days)",
                );
            }
        }
        if let Some(r) = p.resolve_secs {
            for (name, v) in [
                ("acknowledge_secs", p.acknowledge_secs),
                ("respond_secs", p.respond_secs),
            ] {
                if let Some(v) = v {
                    c.check(
                        v <= r,
                        &format!("{key}.{name}"),
                        "must not be after resolve_secs",
                    );
                }
            }
        }
    }
}

pub(crate) fn check_grading(c: &mut Collector, key: &str, g: &GradingConfig) {
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
    use std::time::Duration;

    const MIN: &str = "[[watches]]\nid = \"acme\"\nterms = [\"acme\", \"艾克美\"]\n";

    #[test]
    fn each_section_is_typed_and_the_transport_is_an_enum() {
        use crate::Transport;
        let s = Settings::from_toml_str(MIN, "t.toml", &[]).unwrap();
        assert!(matches!(s.transport.kind, Transport::Memory));
        assert!(s.transport.kafka().is_none());
        assert_eq!(s.detect.scales, [60, 900, 3600].map(Duration::from_secs));
        assert_eq!(s.detect.persistence, Some(Duration::from_secs(7200)));
        assert_eq!(
            s.detect.seasonal_half_life,
            Some(Duration::from_secs(5 * 86_400))
        );
        assert_eq!(s.telemetry.error_log_interval, Duration::from_secs(10));
        assert_eq!(s.alert.outbox_retry_max, Duration::from_secs(600));

        let kafka = format!(
            "{MIN}[transport]\ntype = \"kafka\"\nbatch_size = 7\n[transport.kafka]\n\
             partitions = 3\nidle_timeout_secs = 12\nsource_kafka_topic = \"raw\"\n\
             [detect]\npersistence_secs = 0\nseasonal_half_life_days = 0\n"
        );
        let s = Settings::from_toml_str(&kafka, "t.toml", &[]).unwrap();
        let Transport::Kafka(k) = &s.transport.kind else {
            panic!(
                "type = \"kafka\" gives Transport::Kafka: {:?}",
                s.transport.kind
            );
        };
        assert_eq!(k.partitions.get(), 3);
        assert_eq!(k.idle_timeout, Duration::from_secs(12));
        assert_eq!(k.source_topic.as_deref(), Some("raw"));
        assert_eq!(s.transport.batch_size.get(), 7);
        // 0 means off, and off is `None`, not a zero duration.
        assert_eq!(s.detect.persistence, None);
        assert_eq!(s.detect.seasonal_half_life, None);
        // `config show` prints what was read, not the typed form.
        assert!(s.to_toml().unwrap().contains("idle_timeout_secs = 12"));
    }

    #[test]
    fn default_toml_parses() {
        let t: Table = DEFAULT_TOML.parse().unwrap();
        assert!(t.contains_key("detect"));
    }

    #[test]
    fn minimal_config_uses_defaults() {
        let s = Settings::from_toml_str(MIN, "f.toml", &[]).unwrap();
        assert_eq!(s.detect.bin, Duration::from_secs(60));
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
        let text = format!("{MIN}\n[detect]\nbin_secs = 30\nmin_count = 2\n");
        let s = Settings::from_toml_str(&text, "f.toml", &[]).unwrap();
        assert_eq!(s.detect.bin, Duration::from_secs(30));
        assert_eq!(s.detect.min_count.get(), 2);
        let env = vec![("VIGIL__DETECT__BIN_SECS".to_string(), "10".to_string())];
        let s = Settings::from_toml_str(&text, "f.toml", &env).unwrap();
        assert_eq!(s.detect.bin, Duration::from_secs(10));
        assert_eq!(s.detect.min_count.get(), 2);
        let env = vec![(
            "VIGIL__INGEST__DEFAULT_SOURCE".to_string(),
            "weibo".to_string(),
        )];
        let s = Settings::from_toml_str(&text, "f.toml", &env).unwrap();
        assert_eq!(s.ingest.default_source, "weibo");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
bogus_top = 1
[detect]
bin_secs = 0
windw_bins = 3
z_floor = -1.0
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
            "detect.z_floor",
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
        let shown = s.to_toml().unwrap();
        assert!(!shown.contains("T0KEN"), "{shown}");
        assert!(!format!("{s:?}").contains("T0KEN"));
        let bad = format!("{MIN}\n[[alert.sinks]]\ntype = \"webhook\"\nurl = \"ftp://x\"\n");
        let err = Settings::from_toml_str(&bad, "f.toml", &[]).unwrap_err();
        assert_eq!(err.problems()[0].key, "alert.sinks[0].url");
    }

    /// The commented-out block of `example` that starts at the line
    /// `first`, uncommented: up to the first line that is not a comment.
    pub(super) fn uncommented_block(example: &str, first: &str) -> String {
        let mut block = String::new();
        let mut in_block = false;
        for line in example.lines() {
            in_block |= line == first;
            if !in_block {
                continue;
            }
            match line.strip_prefix("# ").or(line.strip_prefix('#')) {
                Some(l) => {
                    block.push_str(l);
                    block.push('\n');
                }
                None => break,
            }
        }
        block
    }

    /// `MIN` with these `[alert]` sinks, loaded.
    fn with_sinks(sinks: &str) -> Result<Settings, ConfigError> {
        Settings::from_toml_str(&format!("{MIN}\n[alert]\n{sinks}"), "f.toml", &[])
    }

    /// Each problem of `err` as (key, message).
    fn keyed(err: &ConfigError) -> Vec<(&str, &str)> {
        err.problems()
            .iter()
            .map(|p| (p.key.as_str(), p.message.as_str()))
            .collect()
    }

    #[test]
    fn every_sink_type_parses_with_names_and_defaults() {
        let s = with_sinks(
            r#"
[[alert.sinks]]
type = "stdout"
[[alert.sinks]]
type = "webhook"
url = "https://hooks.example/in"
secret = "s3cr3t"
[[alert.sinks]]
type = "slack"
name = "slack-pr"
url = "https://hooks.slack.example/services/T/B/X"
max_retries = 2
[[alert.sinks]]
type = "alertmanager"
url = "http://alertmanager:9093"
generator_url = "https://vigil.example/ui"
"#,
        )
        .unwrap();
        let sinks = &s.alert.sinks;
        let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["stdout", "webhook", "slack-pr", "alertmanager"]);
        let kinds: Vec<&str> = sinks.iter().map(|s| s.kind()).collect();
        assert_eq!(kinds, SinkConfig::TYPES);
        assert_eq!(sinks[0].delivery(), None);
        let d = sinks[2].delivery().unwrap();
        assert_eq!((d.max_retries, d.timeout_ms), (2, 5000));
        match &sinks[3] {
            SinkConfig::Alertmanager(a) => assert_eq!(a.firing_ttl_secs, 86_400),
            other => panic!("expected alertmanager, got {other:?}"),
        }
    }

    #[test]
    fn default_sinks_are_one_stdout() {
        let s = Settings::from_toml_str(MIN, "f.toml", &[]).unwrap();
        let names: Vec<&str> = s.alert.sinks.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["stdout"]);
    }

    #[test]
    fn duplicate_sink_names_are_rejected() {
        let err = with_sinks(
            r#"
[[alert.sinks]]
type = "webhook"
url = "https://a.example/"
[[alert.sinks]]
type = "webhook"
url = "https://b.example/"
[[alert.sinks]]
type = "slack"
name = "pager"
url = "https://c.example/"
[[alert.sinks]]
type = "stdout"
name = "pager"
"#,
        )
        .unwrap_err();
        let got = keyed(&err);
        assert_eq!(got.len(), 2, "{err}");
        assert_eq!(got[0].0, "alert.sinks[1].name");
        assert!(
            got[0]
                .1
                .contains("duplicate sink name `webhook` (also alert.sinks[0])"),
            "{err}"
        );
        assert_eq!(got[1].0, "alert.sinks[3].name");
        assert!(got[1].1.contains("`pager`"), "{err}");
    }

    #[test]
    fn unknown_sink_type_and_keys_are_reported_with_their_index() {
        let err = with_sinks(
            r#"
[[alert.sinks]]
type = "pagerduty"
url = "https://x.example/"
[[alert.sinks]]
url = "https://x.example/"
[[alert.sinks]]
type = "slack"
url = "https://x.example/"
channel = "x"
[[alert.sinks]]
type = "alertmanager"
url = "http://am:9093/api/v2/alerts"
timeout_ms = 0
"#,
        )
        .unwrap_err();
        let got = keyed(&err);
        assert_eq!(
            got,
            [
                (
                    "alert.sinks[0].type",
                    "unknown sink type `pagerduty` (expected one of \"stdout\", \"webhook\", \"slack\", \"alertmanager\")"
                ),
                (
                    "alert.sinks[1].type",
                    "missing sink type (expected one of \"stdout\", \"webhook\", \"slack\", \"alertmanager\")"
                ),
                ("alert.sinks[2].channel", "unknown key"),
                (
                    "alert.sinks[3].url",
                    "give the Alertmanager base URL (`/api/v2/alerts` is appended)"
                ),
                ("alert.sinks[3].timeout_ms", "must be at least 1"),
            ],
            "{err}"
        );
    }

    #[test]
    fn sink_secrets_are_masked_when_shown() {
        let s = with_sinks(
            r#"
[[alert.sinks]]
type = "webhook"
url = "https://hooks.example/URLTOKEN"
secret = "HMACKEY"
[[alert.sinks]]
type = "slack"
url = "https://hooks.slack.example/services/SLACKTOKEN"
[[alert.sinks]]
type = "alertmanager"
url = "https://user:AMPASS@am.example"
"#,
        )
        .unwrap();
        let shown = s.to_toml().unwrap();
        let debug = format!("{s:?}");
        for secret in ["URLTOKEN", "HMACKEY", "SLACKTOKEN", "AMPASS"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(shown.contains("secret = \"********\""), "{shown}");
        // The shown config still says which sinks there are.
        assert!(shown.contains("type = \"slack\""), "{shown}");
        match &s.alert.sinks[0] {
            SinkConfig::Webhook(w) => {
                assert_eq!(w.secret.as_ref().unwrap().expose(), "HMACKEY")
            }
            other => panic!("expected webhook, got {other:?}"),
        }
    }

    #[test]
    fn example_sinks_are_valid_when_uncommented() {
        let example = include_str!("../../../config/example.toml");
        let sinks = uncommented_block(example, "# [[alert.sinks]]");
        let text = format!("{example}\n{sinks}");
        let s = Settings::from_toml_str(&text, "example.toml", &[]).unwrap();
        let names: Vec<&str> = s.alert.sinks.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["stdout", "ops-hook", "slack-pr", "alertmanager"]);
    }

    #[test]
    fn empty_sinks_and_empty_secret_are_rejected() {
        let err = with_sinks("sinks = []\n").unwrap_err();
        assert_eq!(err.problems()[0].key, "alert.sinks");
        assert_eq!(err.problems()[0].message, "needs at least one sink");
        let err = with_sinks(
            "[[alert.sinks]]\ntype = \"webhook\"\nurl = \"https://x.example\"\nsecret = \"\"\nname = \"Bad Name\"\n",
        ).unwrap_err();
        let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["alert.sinks[0].name", "alert.sinks[0].secret"],
            "{err}"
        );
    }

    #[test]
    fn per_watch_grading_override() {
        let text = format!("{MIN}grading = {{ major_severe_posts = 9 }}\n");
        let s = Settings::from_toml_str(&text, "f.toml", &[]).unwrap();
        assert_eq!(s.watches[0].grading.major_severe_posts, 9);
        assert_eq!(
            s.watches[0].grading.moderate_ratio,
            s.detect.grading.moderate_ratio
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
    fn deeply_nested_queries_fail_the_check_by_name() {
        for levels in [5_000, 100_000] {
            let q = format!("{}a{}", "(".repeat(levels), ")".repeat(levels));
            let text = format!("[[watches]]\nid = \"q\"\nquery = '{q}'\n");
            let err = Settings::from_toml_str(&text, "f.toml", &[]).unwrap_err();
            let p = &err.problems()[0];
            assert_eq!(p.key, "watches[0].query");
            assert!(p.message.contains("the limit of"), "{}", p.message);
            assert!(p.message.len() < 500, "the query is quoted in full");
        }
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

#[cfg(test)]
mod incidents_tests {
    use crate::Settings;

    const MIN: &str = "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n";

    fn keys(text: &str) -> Vec<String> {
        Settings::from_toml_str(&format!("{MIN}{text}"), "f.toml", &[])
            .unwrap_err()
            .problems()
            .iter()
            .map(|p| p.key.clone())
            .collect()
    }

    #[test]
    fn defaults_have_a_store_and_no_policy() {
        let s = Settings::from_toml_str(MIN, "f.toml", &[]).unwrap();
        assert_eq!(s.incidents.data_dir, std::path::Path::new("vigil-data"));
        assert_eq!(
            s.incidents.retention,
            std::time::Duration::from_secs(90 * 86_400)
        );
        assert_eq!(s.alert.escalation, Default::default());
        // `config show` prints it back.
        s.to_toml().unwrap();
    }

    #[test]
    fn escalation_policy_parses_and_shows() {
        let text = format!(
            "{MIN}[[alert.sinks]]\ntype = \"stdout\"\n[[alert.sinks]]\ntype = \"stdout\"\nname = \"ops\"\n\
             [alert.escalation.major]\nsteps = [{{ after_secs = 0, sinks = [\"stdout\"] }}, \
             {{ after_secs = 900, sinks = [\"ops\", \"stdout\"] }}]\nack_timeout_secs = 1800\n\
             [incidents]\ndata_dir = \"/var/lib/vigil\"\n"
        );
        let s = Settings::from_toml_str(&text, "f.toml", &[]).unwrap();
        let major = s.alert.escalation.major.as_ref().unwrap();
        assert_eq!(major.steps[1].after_secs, 900);
        assert_eq!(major.steps[1].sinks, ["ops", "stdout"]);
        assert_eq!(major.ack_timeout_secs, Some(1800));
        assert_eq!(major.repeat_secs, None);
        assert!(s.alert.escalation.minor.is_none());
        assert_eq!(s.incidents.data_dir, std::path::Path::new("/var/lib/vigil"));
        let shown = s.to_toml().unwrap();
        assert!(shown.contains("ack_timeout_secs = 1800"), "{shown}");
        // Environment overrides reach the new sections too.
        let env = vec![(
            "VIGIL__INCIDENTS__RETENTION_DAYS".to_string(),
            "7".to_string(),
        )];
        let s = Settings::from_toml_str(&text, "f.toml", &env).unwrap();
        assert_eq!(
            s.incidents.retention,
            std::time::Duration::from_secs(7 * 86_400)
        );
    }

    #[test]
    fn every_roster_problem_is_reported() {
        let got = keys(
            "[[incidents.people]]\nname = \"dana\"\nsinks = [\"pager\"]\n\
             [[incidents.people]]\nname = \"dana\"\nsinks = []\n\
             [[incidents.teams]]\nname = \"pr\"\nmembers = [\"zoe\"]\n\
             [[incidents.paths]]\nowner = \"nobody\"\nsteps = [{ after_secs = 5, to = \"pr\" }, { after_secs = 5, to = \"ghost\" }]\n\
             [[incidents.paths]]\nsteps = []\n",
        );
        for want in [
            "incidents.people[0].sinks[0]",
            "incidents.people[1].name",
            "incidents.people[1].sinks",
            "incidents.teams[0].members[0]",
            "incidents.paths[0].owner",
            "incidents.paths[0].steps[0].after_secs",
            "incidents.paths[0].steps[1].after_secs",
            "incidents.paths[0].steps[1].to",
            "incidents.paths[1]",
        ] {
            assert!(got.iter().any(|k| k == want), "missing {want} in {got:?}");
        }
        // A level that is not one: the section does not parse, said on it.
        let bad = keys("[[incidents.paths]]\nlevel = \"huge\"\nsteps = []\n");
        assert_eq!(bad, ["incidents"]);
    }

    #[test]
    fn response_targets_parse_and_every_problem_is_reported() {
        let s = Settings::from_toml_str(
            "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n\
             [alert.targets.major]\nacknowledge_secs = 900\nrespond_secs = 3600\nresolve_secs = 86400\n",
            "t.toml",
            &[],
        )
        .unwrap();
        let major = s.alert.targets.major.as_ref().unwrap();
        assert_eq!(
            (
                major.acknowledge_secs,
                major.respond_secs,
                major.resolve_secs
            ),
            (Some(900), Some(3600), Some(86_400))
        );
        assert!(s.alert.targets.minor.is_none());
        let got = keys(
            "[alert.targets.minor]\nacknowledge_secs = 0\nrespond_secs = 99999999\n\
             [alert.targets.moderate]\nacknowledge_secs = 600\nrespond_secs = 7200\nresolve_secs = 3600\nsoon = 1\n\
             [alert.targets.critical]\nresolve_secs = 1\n",
        );
        for want in [
            "alert.targets.minor.acknowledge_secs",
            "alert.targets.minor.respond_secs",
            "alert.targets.moderate.respond_secs",
            "alert.targets.moderate.soon",
            "alert.targets.critical",
        ] {
            assert!(got.iter().any(|k| k == want), "missing {want} in {got:?}");
        }
        assert!(
            !got.iter()
                .any(|k| k == "alert.targets.moderate.acknowledge_secs"),
            "{got:?}"
        );
    }

    #[test]
    fn every_escalation_problem_is_reported() {
        let got = keys(
            "[alert.escalation.minor]\nsteps = []\n\
             [alert.escalation.moderate]\nsteps = [{ after_secs = 5, sinks = [\"stdout\"] }, \
             { after_secs = 5, sinks = [] }, { after_secs = 9999999, sinks = [\"pager\"] }]\n\
             ack_timeout_secs = 0\nrepeat_secs = 10\ncolour = \"red\"\n\
             [alert.escalation.critical]\nsteps = []\n\
             [incidents]\ndata_dir = \" \"\nretention_days = 0\n",
        );
        for want in [
            "alert.escalation.minor.steps",
            "alert.escalation.moderate.steps[0].after_secs",
            "alert.escalation.moderate.steps[1].after_secs",
            "alert.escalation.moderate.steps[1].sinks",
            "alert.escalation.moderate.steps[2].after_secs",
            "alert.escalation.moderate.steps[2].sinks[0]",
            "alert.escalation.moderate.ack_timeout_secs",
            "alert.escalation.moderate.repeat_secs",
            "alert.escalation.moderate.colour",
            "alert.escalation.critical",
            "incidents.data_dir",
            "incidents.retention_days",
        ] {
            assert!(got.iter().any(|k| k == want), "missing {want} in {got:?}");
        }
    }

    #[test]
    fn unknown_sink_message_lists_the_configured_names() {
        let text = format!(
            "{MIN}[alert.escalation.major]\nsteps = [{{ after_secs = 0, sinks = [\"slack\"] }}]\n"
        );
        let err = Settings::from_toml_str(&text, "f.toml", &[]).unwrap_err();
        let p = &err.problems()[0];
        assert_eq!(p.key, "alert.escalation.major.steps[0].sinks[0]");
        assert!(
            p.message.contains("unknown sink `slack`") && p.message.contains("stdout"),
            "{p}"
        );
    }
}

#[cfg(test)]
mod api_tests {
    use crate::{ApiRole, Settings};

    const MIN: &str = "[[watches]]\nid = \"acme\"\nterms = [\"acme\"]\n";

    fn problems(text: &str, env: &[(String, String)]) -> Vec<(String, String)> {
        Settings::from_toml_str(&format!("{MIN}{text}"), "f.toml", env)
            .unwrap_err()
            .problems()
            .iter()
            .map(|p| (p.key.clone(), p.message.clone()))
            .collect()
    }

    #[test]
    fn connection_stream_and_header_limits_are_validated_together() {
        let s = Settings::from_toml_str(MIN, "f.toml", &[]).unwrap();
        assert_eq!(
            (s.api.max_connections, s.api.max_event_streams),
            (1024, 256)
        );
        assert_eq!(
            s.api.header_read_timeout,
            std::time::Duration::from_secs(10)
        );
        let keys: Vec<String> = problems(
            "[api]\nmax_connections = 8\nmax_event_streams = 0\nheader_read_timeout_secs = 0\n",
            &[],
        )
        .into_iter()
        .map(|(k, _)| k)
        .collect();
        assert_eq!(
            keys,
            [
                "api.max_connections",
                "api.max_event_streams",
                "api.header_read_timeout_secs"
            ]
        );
        // More streams than connections cannot all be open.
        let p = problems("[api]\nmax_connections = 16\nmax_event_streams = 17\n", &[]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "api.max_event_streams");
    }

    #[test]
    fn no_api_section_means_no_tokens_and_default_limit() {
        let s = Settings::from_toml_str(MIN, "f.toml", &[]).unwrap();
        assert!(s.api.tokens.is_empty());
        assert_eq!(s.api.max_body_bytes, 65_536);
        assert_eq!(s.api.max_body_bytes, 65_536);
    }

    #[test]
    fn inline_and_env_tokens_resolve_and_are_masked_when_shown() {
        let text = format!(
            "{MIN}[api]\nmax_body_bytes = 2048\n\
             [[api.tokens]]\nname = \"alice\"\nrole = \"responder\"\ntoken = \"alice-secret-0123456789\"\n\
             [[api.tokens]]\nname = \"bob@example.com\"\nrole = \"viewer\"\ntoken_env = \"VIGIL_TEST_TOKEN_BOB\"\n"
        );
        let env = vec![(
            "VIGIL_TEST_TOKEN_BOB".to_string(),
            "bob-secret-0123456789".to_string(),
        )];
        let s = Settings::from_toml_str(&text, "f.toml", &env).unwrap();
        assert_eq!(s.api.max_body_bytes, 2048);
        let t = &s.api.tokens;
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t[0].name.as_str(), t[0].role),
            ("alice", ApiRole::Responder)
        );
        assert_eq!(t[0].secret.expose(), "alice-secret-0123456789");
        assert_eq!(
            (t[1].name.as_str(), t[1].role),
            ("bob@example.com", ApiRole::Viewer)
        );
        assert_eq!(t[1].secret.expose(), "bob-secret-0123456789");
        assert!(ApiRole::Responder.may_write() && !ApiRole::Viewer.may_write());
        // Neither the shown config nor Debug leaks a secret.
        let shown = s.to_toml().unwrap();
        assert!(!shown.contains("alice-secret"), "{shown}");
        assert!(shown.contains("token = \"********\""), "{shown}");
        assert!(
            shown.contains("token_env = \"VIGIL_TEST_TOKEN_BOB\""),
            "{shown}"
        );
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("alice-secret") && !debug.contains("bob-secret"),
            "{debug}"
        );
    }

    #[test]
    fn every_token_problem_is_reported_without_secrets() {
        let got = problems(
            "[api]\nmax_body_bytes = 10\n\
             [[api.tokens]]\nname = \"alice\"\nrole = \"admin\"\ntoken = \"short\"\n\
             [[api.tokens]]\nname = \"alice\"\nrole = \"viewer\"\ntoken = \"\"\n\
             [[api.tokens]]\nname = \"Bad Name\"\nrole = \"viewer\"\n\
             [[api.tokens]]\nname = \"carol\"\nrole = \"viewer\"\ntoken = \"carol-secret-0123456789\"\ntoken_env = \"X\"\n\
             [[api.tokens]]\nname = \"dave\"\nrole = \"viewer\"\ntoken_env = \"VIGIL_TEST_TOKEN_UNSET_7F3A\"\n\
             [[api.tokens]]\nname = \"erin\"\nrole = \"viewer\"\ntoken = \"same-secret-0123456789\"\n\
             [[api.tokens]]\nname = \"frank\"\nrole = \"responder\"\ntoken = \"same-secret-0123456789\"\n\
             [[api.tokens]]\nname = \"gina\"\nrole = \"viewer\"\ntoken_env = \"VIGIL_TEST_TOKEN_EMPTY\"\ncolour = \"red\"\n",
            &[("VIGIL_TEST_TOKEN_EMPTY".to_string(), String::new())],
        );
        let want = [
            ("api.tokens[7].colour", "unknown key"),
            ("api.max_body_bytes", "must be between 1024 and 16777216"),
            (
                "api.tokens[0].role",
                "unknown role `admin` (expected viewer, reporter or responder)",
            ),
            ("api.tokens[0].token", "must be at least 16 characters"),
            (
                "api.tokens[1].name",
                "duplicate token name `alice` (also api.tokens[0])",
            ),
            ("api.tokens[1].token", "must not be empty"),
            ("api.tokens[2].name", "must be 1-64 characters"),
            ("api.tokens[2]", "needs `token` (the secret) or `token_env`"),
            (
                "api.tokens[3]",
                "give either `token` or `token_env`, not both",
            ),
            (
                "api.tokens[4].token_env",
                "environment variable `VIGIL_TEST_TOKEN_UNSET_7F3A` is not set",
            ),
            ("api.tokens[6]", "has the same secret as api.tokens[5]"),
            (
                "api.tokens[7].token_env",
                "the value of `VIGIL_TEST_TOKEN_EMPTY` must not be empty",
            ),
        ];
        for (key, message) in want {
            assert!(
                got.iter().any(|(k, m)| k == key && m.starts_with(message)),
                "missing {key}: {message} in {got:#?}"
            );
        }
        assert_eq!(got.len(), want.len(), "{got:#?}");
        assert!(
            got.iter()
                .all(|(_, m)| !m.contains("same-secret") && !m.contains("short")),
            "{got:#?}"
        );
    }

    #[test]
    fn example_api_section_is_valid_when_uncommented() {
        let example = include_str!("../../../config/example.toml");
        let api = super::tests::uncommented_block(example, "# [api]");
        assert!(api.contains("[[api.tokens]]"), "no [api] example found");
        let text = format!("{example}\n{api}");
        let env = vec![
            (
                "VIGIL_API_TOKEN_ALICE".to_string(),
                "alice-0123456789abcdef".to_string(),
            ),
            (
                "VIGIL_API_TOKEN_SERVICE_DESK".to_string(),
                "service-desk-0123456789".to_string(),
            ),
        ];
        let s = Settings::from_toml_str(&text, "example.toml", &env).unwrap();
        let roles: Vec<(&str, ApiRole)> = s
            .api
            .tokens
            .iter()
            .map(|t| (t.name.as_str(), t.role))
            .collect();
        assert_eq!(
            roles,
            [
                ("alice", ApiRole::Responder),
                ("wallboard", ApiRole::Viewer),
                ("service-desk", ApiRole::Reporter)
            ]
        );
    }
}
