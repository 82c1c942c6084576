//! Typed settings: built-in defaults, then `loket.toml`, then `LOKET__SECTION__KEY`
//! environment variables. Secrets are wrapped in [`Secret`] so that `Debug` (and therefore
//! every log line that prints the config) shows `[redacted]` instead of the value.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A value that must never be logged: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("[redacted]")
        }
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "[redacted]" })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
pub struct Config {
    pub server: ServerConfig,
    pub paths: PathsConfig,
    pub classifier: ClassifierConfig,
    pub dialogue: DialogueConfig,
    pub database: DatabaseConfig,
    pub whatsapp: WhatsAppConfig,
    pub handoff: HandoffConfig,
    pub archive: ArchiveConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffConfig {
    /// Where events for the webcare platform are POSTed (`handoff.requested`,
    /// `message.created`, `conversation.resolved`); empty: no webhooks.
    pub webhook_url: String,
    /// Key of the HMAC-SHA256 signature on those webhooks.
    pub webhook_secret: Secret,
    /// A WhatsApp contact who writes again after this many hours of silence (or after the
    /// conversation was resolved) starts a new conversation.
    pub conversation_idle_hours: i64,
    /// Messages per minute one sender may send to the citizen-facing endpoints.
    pub citizen_messages_per_minute: u32,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        HandoffConfig {
            webhook_url: String::new(),
            webhook_secret: Secret::default(),
            conversation_idle_hours: 24,
            citizen_messages_per_minute: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on, e.g. "0.0.0.0:8080"; port 0 picks a free port.
    pub bind: String,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// A request that takes longer is answered 503.
    pub request_timeout_secs: u64,
    /// Seconds to let in-flight requests finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Log format: "pretty" or "json".
    pub log_format: String,
    /// Web sites (e.g. `https://www.voorbeeld.nl`) whose pages may embed the chat widget and
    /// call the citizen endpoints from the browser (CORS); empty: same origin only.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathsConfig {
    pub knowledge_base: PathBuf,
    pub intents: PathBuf,
    pub models: PathBuf,
    pub data_dir: PathBuf,
    /// Cached sentence embeddings of intents and FAQ questions (default: `<data_dir>/cache`).
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// "e5" (the real transformer, default) or "hashing" (a fast lexical stand-in for tests).
    pub backend: String,
    /// Name of the model folder under `paths.models`.
    pub model: String,
    /// Compute threads for the encoder.
    pub threads: usize,
    /// Most messages encoded in one batch.
    pub max_batch: usize,
    /// Messages waiting for the encoder beyond this are refused with 429.
    pub queue_capacity: usize,
    /// Longest input in tokens; longer messages are truncated.
    pub max_tokens: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialogueConfig {
    /// Least answer confidence for action `answer`.
    pub answer_threshold: f32,
    /// Below this the message is a miss (fallback); between the two Loket asks to clarify.
    pub clarify_threshold: f32,
    /// When the runner-up is within this margin of the best candidate, Loket asks to clarify.
    pub clarify_margin: f32,
    /// Minutes of silence after which a conversation's context is forgotten.
    pub context_idle_minutes: i64,
    /// Consecutive misses after which the conversation goes to a person.
    pub misses_before_handoff: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path` (default: a file under `paths.data_dir`) or `postgres://...`.
    pub url: Secret,
    pub max_connections: u32,
    /// SQLite: every commit waits for the disk, so an acknowledged message survives a power
    /// loss (default true). `false`: a commit survives a crash of Loket, and the disk is
    /// synchronised at the checkpoint every second.
    pub sqlite_full_sync: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsAppConfig {
    pub enabled: bool,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub access_token: Secret,
    pub base_url: String,
    pub api_version: String,
    pub phone_number_id: String,
    /// Template sent when a reply falls outside the 24-hour window.
    pub reopen_template: String,
    pub template_language: String,
    /// Outbound messages per second per phone number.
    pub rate_limit_per_sec: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// Days after a conversation's last activity that it is kept (`loket archive purge`);
    /// 0 keeps conversations forever.
    pub retention_days: u32,
    /// Where `loket archive export` writes (default: `<data_dir>/archive`).
    pub dir: Option<PathBuf>,
    /// The municipality's name in transcripts when the knowledge base cannot be read.
    pub municipality: Option<String>,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            retention_days: 365,
            dir: None,
            municipality: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".into(),
            body_limit_bytes: 64 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 10,
            log_format: "pretty".into(),
            allowed_origins: Vec::new(),
        }
    }
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            knowledge_base: "knowledge-base".into(),
            intents: "intents".into(),
            models: "models".into(),
            data_dir: "data".into(),
            cache_dir: None,
        }
    }
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            backend: "e5".into(),
            model: "multilingual-e5-small".into(),
            threads: 2,
            max_batch: 32,
            queue_capacity: 256,
            max_tokens: 128,
        }
    }
}

impl Default for DialogueConfig {
    fn default() -> Self {
        DialogueConfig {
            answer_threshold: 0.5,
            clarify_threshold: 0.25,
            clarify_margin: 0.12,
            context_idle_minutes: 30,
            misses_before_handoff: 2,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: Secret::default(),
            max_connections: 8,
            sqlite_full_sync: true,
        }
    }
}

impl Default for WhatsAppConfig {
    fn default() -> Self {
        WhatsAppConfig {
            enabled: false,
            app_secret: Secret::default(),
            verify_token: Secret::default(),
            access_token: Secret::default(),
            base_url: "https://graph.facebook.com".into(),
            api_version: "v21.0".into(),
            phone_number_id: String::new(),
            reopen_template: "loket_antwoord_klaar".into(),
            template_language: "nl".into(),
            rate_limit_per_sec: 80,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

const ENV_PREFIX: &str = "LOKET__";

impl Config {
    /// Defaults, then the file (when it exists, or always when `required`), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("loket.toml"), false),
        };
        let mut table = toml::Table::new();
        if required || path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            table = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Parse {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
        }
        Self::from_table(table, std::env::vars(), &path)
    }

    /// Builds the config from a parsed file and a set of environment variables.
    pub fn from_table(
        mut table: toml::Table,
        env: impl IntoIterator<Item = (String, String)>,
        path: &Path,
    ) -> Result<Config, ConfigError> {
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let keys: Vec<String> = rest.split("__").map(|k| k.to_ascii_lowercase()).collect();
            if keys.len() != 2 || keys.iter().any(|k| k.is_empty()) {
                return Err(ConfigError::Env {
                    var,
                    message: "expected LOKET__SECTION__KEY, e.g. LOKET__SERVER__BIND".into(),
                });
            }
            let section = table
                .entry(keys[0].clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(section) = section.as_table_mut() else {
                return Err(ConfigError::Env {
                    var,
                    message: format!("[{}] is not a section", keys[0]),
                });
            };
            section.insert(keys[1].clone(), env_value(&value));
        }
        let config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.dialogue;
        if !(0.0..=1.0).contains(&d.answer_threshold)
            || !(0.0..=1.0).contains(&d.clarify_threshold)
            || d.clarify_threshold > d.answer_threshold
        {
            return Err(ConfigError::Invalid(
                "dialogue thresholds must satisfy 0 <= clarify_threshold <= answer_threshold <= 1"
                    .into(),
            ));
        }
        if self.classifier.max_batch == 0 || self.classifier.queue_capacity == 0 {
            return Err(ConfigError::Invalid(
                "classifier.max_batch and classifier.queue_capacity must be at least 1".into(),
            ));
        }
        if !matches!(self.classifier.backend.as_str(), "e5" | "hashing") {
            return Err(ConfigError::Invalid(format!(
                "classifier.backend must be \"e5\" or \"hashing\", not {:?}",
                self.classifier.backend
            )));
        }
        if self.whatsapp.enabled && self.whatsapp.app_secret.is_empty() {
            return Err(ConfigError::Invalid(
                "whatsapp.enabled needs whatsapp.app_secret (LOKET__WHATSAPP__APP_SECRET)".into(),
            ));
        }
        Ok(())
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.paths.data_dir.join("loket.db").display()
            )
        } else {
            self.database.url.expose().to_string()
        }
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.paths
            .cache_dir
            .clone()
            .unwrap_or_else(|| self.paths.data_dir.join("cache"))
    }

    pub fn archive_dir(&self) -> PathBuf {
        self.archive
            .dir
            .clone()
            .unwrap_or_else(|| self.paths.data_dir.join("archive"))
    }

    pub fn model_dir(&self) -> PathBuf {
        self.paths.models.join(&self.classifier.model)
    }
}

/// Environment values are typed like TOML scalars when they parse as one ("8080", "true",
/// "0.5"), and are strings otherwise, so `LOKET__SERVER__BIND=0.0.0.0:80` needs no quoting.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(v) = raw.parse::<i64>() {
        return toml::Value::Integer(v);
    }
    if let Ok(v) = raw.parse::<f64>()
        && raw.contains('.')
    {
        return toml::Value::Float(v);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let table: toml::Table = file.parse().unwrap();
        Config::from_table(
            table,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            Path::new("loket.toml"),
        )
    }

    #[test]
    fn defaults_work_without_a_file() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.server.bind, "127.0.0.1:8080");
        assert!(c.database_url().starts_with("sqlite://"));
        assert_eq!(c.archive.retention_days, 365);
        assert_eq!(c.archive_dir(), PathBuf::from("data/archive"));
    }

    #[test]
    fn archive_settings_from_file() {
        let c = load(
            "[archive]\nretention_days = 30\ndir = \"/srv/archief\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.archive.retention_days, 30);
        assert_eq!(c.archive_dir(), PathBuf::from("/srv/archief"));
    }

    #[test]
    fn env_overrides_file() {
        let c = load(
            "[server]\nbind = \"0.0.0.0:9000\"\n",
            &[
                ("LOKET__SERVER__BIND", "0.0.0.0:7000"),
                ("LOKET__DIALOGUE__ANSWER_THRESHOLD", "0.7"),
                ("LOKET__CLASSIFIER__MAX_BATCH", "8"),
                ("OTHER", "x"),
            ],
        )
        .unwrap();
        assert_eq!(c.server.bind, "0.0.0.0:7000");
        assert_eq!(c.dialogue.answer_threshold, 0.7);
        assert_eq!(c.classifier.max_batch, 8);
    }

    #[test]
    fn secrets_are_not_printed() {
        let c = load(
            "",
            &[
                ("LOKET__WHATSAPP__APP_SECRET", "s3cr3t-value"),
                ("LOKET__DATABASE__URL", "postgres://u:pw@h/db"),
            ],
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(!shown.contains("pw@h"), "{shown}");
        assert_eq!(c.whatsapp.app_secret.expose(), "s3cr3t-value");
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("s3cr3t-value"));
    }

    #[test]
    fn unknown_keys_and_bad_env_names_are_errors() {
        assert!(load("[server]\nbnid = \"x\"\n", &[]).is_err());
        assert!(load("", &[("LOKET__SERVER", "x")]).is_err());
        assert!(load("", &[("LOKET__DIALOGUE__ANSWER_THRESHOLD", "2.0")]).is_err());
    }
}
