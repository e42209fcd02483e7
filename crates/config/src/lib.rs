//! Vigil's configuration: layered loading, then validation into [`Settings`].
//!
//! Layers, lowest priority first (the same order as Arroyo's loader):
//!
//! 1. `config/default.toml`, compiled into the binary ([`DEFAULT_TOML`]);
//! 2. the `--config` file;
//! 3. environment variables `VIGIL__<SECTION>__<KEY>=<value>`, for example
//!    `VIGIL__DETECT__WINDOW_BINS=5` (the value is read as TOML when it parses
//!    as a TOML value, otherwise as a string).
//!
//! Tables merge key by key; arrays (watches, sinks) replace the lower layer's.
//! Validation collects *every* problem (unknown keys, wrong types, bad
//! values) into one [`ConfigError`], each naming the file and the key.
//!
//! ```
//! let toml = r#"
//! [[watches]]
//! id = "acme"
//! terms = ["acme", "艾克美"]
//! "#;
//! let settings = vigil_config::Settings::from_toml_str(toml, "example.toml", &[]).unwrap();
//! assert_eq!(settings.watches[0].id.as_str(), "acme");
//! assert_eq!(settings.detect.bin, std::time::Duration::from_secs(60));
//! ```
#![deny(missing_docs)]

mod files;
mod playbooks;
mod query;
mod raw;
mod sections;
mod templates;
mod validate;

use std::{fmt, path::Path};

pub use crate::{
    playbooks::{parse_playbook, Playbook, MAX_PLAYBOOK_STEPS, MAX_STEP_CHARS},
    query::{Expr, Query, QueryError, MAX_QUERY_CHARS, MAX_QUERY_DEPTH},
    raw::{
        AlertConfig, AlertmanagerConfig, ApiConfig, ApiTokenConfig, Config, Delivery, DetectConfig,
        EscalationConfig, EscalationLevelConfig, EscalationStepConfig, GradingConfig,
        GradingOverride, IncidentsConfig, IngestConfig, KafkaConfig, LevelTargetsConfig,
        PathConfig, PathStepConfig, PersonConfig, ScoreConfig, Sensitive, SinkConfig, SlackConfig,
        StdoutConfig, TargetsConfig, TeamConfig, TelemetryConfig, TransportConfig, WatchConfig,
        WebhookConfig,
    },
    sections::{
        AlertSettings, DetectSettings, IncidentsSettings, IngestSettings, KafkaSettings,
        ScoreSettings, TelemetrySettings, Transport, TransportSettings,
    },
    templates::{parse_template, Template, MAX_TEMPLATE_CHARS, PLACEHOLDERS},
    validate::{
        parse_lexicon, ApiRole, ApiSettings, ApiToken, Lexicon, Settings, Watch,
        MAX_API_BODY_BYTES, MAX_WATCHES, MIN_API_BODY_BYTES, MIN_API_TOKEN_CHARS,
    },
};

/// The built-in defaults (lowest layer).
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// One configuration problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where it came from: a file path, `defaults` or `environment`.
    pub origin: String,
    /// Dotted key path (`detect.bin_secs`, `watches[2].terms`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}`: {}", self.origin, self.key, self.message)
    }
}

/// Every problem found in a configuration, reported together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is invalid; every problem is listed.
    #[error("{} configuration problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The problems, when the configuration was read but is invalid.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(p) => p,
            ConfigError::Read { .. } => &[],
        }
    }
}

impl Settings {
    /// Loads defaults, then `path`, then `VIGIL__*` variables from the process
    /// environment, and validates.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("VIGIL__"))
            .collect();
        Settings::from_toml_str(&text, &path.display().to_string(), &env)
    }

    /// Loads defaults, then `text` (named `origin` in messages), then the given
    /// `VIGIL__*` variables, and validates.
    pub fn from_toml_str(
        text: &str,
        origin: &str,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        validate::load_layers(text, origin, env)
    }
}
