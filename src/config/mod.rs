//! Typed settings: built-in defaults, then `loket.toml`, then `LOKET__SECTION__KEY`
//! environment variables. Secrets are wrapped in [`Secret`] so that `Debug` (and therefore
//! every log line that prints the config) shows `[redacted]` instead of the value.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod check;
mod env;
pub mod ipnet;

pub use ipnet::IpNet;

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
    /// Per municipality (by slug) its own webcare platform: `[handoff.municipalities.zeestad]`
    /// with `webhook_url` and `webhook_secret`. A municipality not listed uses the
    /// `webhook_url` above (if any).
    pub municipalities: std::collections::BTreeMap<String, PlatformTarget>,
}

/// Where one municipality's events for its webcare platform go.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlatformTarget {
    pub webhook_url: String,
    pub webhook_secret: Secret,
}

impl HandoffConfig {
    /// Where the events of the municipality `slug` go: its own platform, else the shared
    /// one; `None`: no webhooks for it (its events are not recorded).
    pub fn target(&self, slug: &str) -> Option<(&str, &Secret)> {
        match self.municipalities.get(slug) {
            Some(t) if !t.webhook_url.is_empty() => Some((&t.webhook_url, &t.webhook_secret)),
            _ if !self.webhook_url.is_empty() => Some((&self.webhook_url, &self.webhook_secret)),
            _ => None,
        }
    }

    /// Whether any municipality has a webcare platform (the delivery loop runs).
    pub fn any_target(&self) -> bool {
        !self.webhook_url.is_empty()
            || self
                .municipalities
                .values()
                .any(|t| !t.webhook_url.is_empty())
    }
}

impl Default for HandoffConfig {
    fn default() -> Self {
        HandoffConfig {
            webhook_url: String::new(),
            webhook_secret: Secret::default(),
            conversation_idle_hours: 24,
            citizen_messages_per_minute: 30,
            municipalities: Default::default(),
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
    /// Seconds a client has to send a request's headers, counted from the connection opening
    /// or the previous response; a connection silent for longer is closed.
    pub header_read_timeout_secs: u64,
    /// Open connections from one client address (a trusted proxy is exempt).
    pub max_connections_per_client: usize,
    /// Open connections in all.
    pub max_connections: usize,
    /// Reverse proxies (addresses or ranges such as `10.0.0.0/8`) whose `X-Forwarded-For`
    /// names the client; empty: the connection's address is the client's.
    pub trusted_proxies: Vec<String>,
    /// Messages per minute one client address may send to `POST /v1/messages`, whatever
    /// conversation ids it uses.
    pub client_messages_per_minute: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathsConfig {
    /// The municipality folder (municipality.toml, entries/): the only one, or the first of
    /// several.
    pub knowledge_base: PathBuf,
    /// A folder whose subfolders are further municipality folders served by the same Loket
    /// (one service for many municipalities); unset: one municipality.
    pub municipalities: Option<PathBuf>,
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
    /// Least confidence of the best entry to answer it without asking. Unset (the default):
    /// fitted on the content at every build, so that held-out example questions are
    /// answered wrongly at most 5% of the time (the rest answered right or clarified).
    pub entry_threshold: Option<f32>,
    /// Minutes of silence after which a conversation's context is forgotten.
    pub context_idle_minutes: i64,
    /// Consecutive misses after which the conversation goes to a person.
    pub misses_before_handoff: u32,
    /// How likely a message is to go on with the conversation's topic (the entry last
    /// answered, or the options just offered), before reading it: the prior that makes
    /// "en wat kost dat?" a question about that topic. 0 switches it off. The default is
    /// fitted on labelled conversations of our own (`loket eval --conversations
    /// tests/data/dev_conversations.jsonl --topic-stay 0.5,0.7,0.8,0.9,0.95`).
    pub topic_stay: f32,
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

impl ServerConfig {
    /// `trusted_proxies`, parsed (validation has checked them).
    pub fn trusted_proxies(&self) -> Vec<IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
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
            header_read_timeout_secs: 10,
            max_connections_per_client: 64,
            max_connections: 8192,
            trusted_proxies: Vec::new(),
            client_messages_per_minute: 120,
        }
    }
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            knowledge_base: "knowledge-base".into(),
            municipalities: None,
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
            entry_threshold: None,
            context_idle_minutes: 30,
            misses_before_handoff: 2,
            topic_stay: 0.9,
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
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Where the settings file is named when `--config` is not given.
pub const CONFIG_ENV: &str = "LOKET_CONFIG";

impl Config {
    /// Defaults, then the file, then the environment. The file is `path` (from `--config`),
    /// else `$LOKET_CONFIG`, else `./loket.toml` when it exists; a named file must exist.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let named = path
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from));
        let (path, required) = match named {
            Some(p) => (p, true),
            None => (PathBuf::from("loket.toml"), false),
        };
        let text = if required || path.exists() {
            Some(
                std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?,
            )
        } else {
            None
        };
        let env = std::env::vars_os().filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            // A LOKET__ variable that is not UTF-8 is reported rather than skipped.
            let v = v
                .into_string()
                .unwrap_or_else(|v| v.to_string_lossy().into_owned());
            Some((k, v))
        });
        Self::from_sources(text.as_deref().map(|t| (path.as_path(), t)), env, |p| {
            std::fs::read_to_string(p)
        })
    }

    /// Builds the config from a file's text (with its path, for messages) and a set of
    /// environment variables; `read_file` reads the files that `…_FILE` variables name.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
        read_file: impl Fn(&Path) -> std::io::Result<String>,
    ) -> Result<Config, ConfigError> {
        let mut table = toml::Table::new();
        if let Some((path, text)) = file {
            // Deserializing the text itself gives messages with the line and column.
            toml::from_str::<Config>(text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            table = text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
        }
        let defaults = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(format!("defaults: {e}")))?;
        for o in env::overrides(env, &defaults, read_file)? {
            // Each variable on its own first, so that an error names it.
            let mut alone = toml::Table::new();
            alone.insert(o.section.clone(), single(&o.key, o.value.clone()));
            toml::Value::Table(alone)
                .try_into::<Config>()
                .map_err(|e: toml::de::Error| ConfigError::Env {
                    var: o.var.clone(),
                    message: e.message().to_string(),
                })?;
            let section = table
                .entry(o.section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(section) = section.as_table_mut() else {
                return Err(ConfigError::Env {
                    var: o.var,
                    message: format!("[{}] is not a section in the settings file", o.section),
                });
            };
            section.insert(o.key, o.value);
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
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
        if d.entry_threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
            return Err(ConfigError::Invalid(
                "dialogue.entry_threshold must be between 0 and 1".into(),
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
        for p in &self.server.trusted_proxies {
            p.parse::<IpNet>()
                .map_err(|e| ConfigError::Invalid(format!("server.trusted_proxies: {e}")))?;
        }
        if self.server.header_read_timeout_secs == 0
            || self.server.max_connections_per_client == 0
            || self.server.max_connections == 0
        {
            return Err(ConfigError::Invalid(
                "server.header_read_timeout_secs, server.max_connections_per_client and \
                 server.max_connections must be at least 1"
                    .into(),
            ));
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

    /// Every municipality folder this Loket serves: `paths.knowledge_base` first, then the
    /// subfolders of `paths.municipalities` that hold a `municipality.toml`, by name.
    pub fn municipality_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.paths.knowledge_base.clone()];
        if let Some(root) = &self.paths.municipalities {
            let mut more: Vec<PathBuf> = std::fs::read_dir(root)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("municipality.toml").is_file())
                .collect();
            more.sort();
            let first = std::fs::canonicalize(&self.paths.knowledge_base).ok();
            dirs.extend(
                more.into_iter()
                    .filter(|p| first.is_none() || std::fs::canonicalize(p).ok() != first),
            );
        }
        dirs
    }

    pub fn model_dir(&self) -> PathBuf {
        self.paths.models.join(&self.classifier.model)
    }
}

fn single(key: &str, value: toml::Value) -> toml::Value {
    let mut t = toml::Table::new();
    t.insert(key.to_string(), value);
    toml::Value::Table(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        load_with_files(file, env, &[])
    }

    /// `files`: the secret files that `…_FILE` variables may name.
    fn load_with_files(
        file: &str,
        env: &[(&str, &str)],
        files: &[(&str, &str)],
    ) -> Result<Config, ConfigError> {
        let files: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        Config::from_sources(
            Some((Path::new("loket.toml"), file)),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            |p| {
                files
                    .iter()
                    .find(|(f, _)| f == p)
                    .map(|(_, t)| t.clone())
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
            },
        )
    }

    fn env_error(result: Result<Config, ConfigError>) -> (String, String) {
        match result {
            Err(ConfigError::Env { var, message }) => (var, message),
            other => panic!("expected an environment error, got {other:?}"),
        }
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
        let file = "[archive]\nretention_days = 30\ndir = \"/srv/archief\"\n";
        let c = load(file, &[]).unwrap();
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

    #[test]
    fn string_settings_stay_strings_whatever_they_look_like() {
        let c = load(
            "",
            &[
                ("LOKET__WHATSAPP__PHONE_NUMBER_ID", "106540352242922"),
                ("LOKET__WHATSAPP__API_VERSION", "21.0"),
                ("LOKET__WHATSAPP__VERIFY_TOKEN", "true"),
                ("LOKET__ARCHIVE__MUNICIPALITY", "1234"),
            ],
        )
        .unwrap();
        assert_eq!(c.whatsapp.phone_number_id, "106540352242922");
        assert_eq!(c.whatsapp.api_version, "21.0");
        assert_eq!(c.whatsapp.verify_token.expose(), "true");
        assert_eq!(c.archive.municipality.as_deref(), Some("1234"));
    }

    #[test]
    fn numbers_booleans_and_optional_paths_from_the_environment() {
        let c = load(
            "",
            &[
                ("LOKET__SERVER__BODY_LIMIT_BYTES", "131072"),
                ("LOKET__DIALOGUE__ANSWER_THRESHOLD", "1"),
                ("LOKET__DATABASE__SQLITE_FULL_SYNC", "false"),
                ("LOKET__WHATSAPP__ENABLED", "true"),
                ("LOKET__WHATSAPP__APP_SECRET", "123456"),
                ("LOKET__PATHS__CACHE_DIR", "/var/cache/loket"),
            ],
        )
        .unwrap();
        assert_eq!(c.server.body_limit_bytes, 131072);
        assert_eq!(c.dialogue.answer_threshold, 1.0);
        assert!(!c.database.sqlite_full_sync);
        assert!(c.whatsapp.enabled);
        assert_eq!(c.whatsapp.app_secret.expose(), "123456");
        assert_eq!(c.cache_dir(), PathBuf::from("/var/cache/loket"));
    }

    #[test]
    fn lists_from_commas_or_json() {
        let c = load(
            "",
            &[(
                "LOKET__SERVER__ALLOWED_ORIGINS",
                "https://www.voorbeeld.nl, https://voorbeeld.nl",
            )],
        )
        .unwrap();
        assert_eq!(
            c.server.allowed_origins,
            ["https://www.voorbeeld.nl", "https://voorbeeld.nl"]
        );
        let c = load(
            "[server]\nallowed_origins = [\"https://old.nl\"]\n",
            &[("LOKET__SERVER__ALLOWED_ORIGINS", r#"["https://a.nl"]"#)],
        )
        .unwrap();
        assert_eq!(c.server.allowed_origins, ["https://a.nl"]);
    }

    #[test]
    fn secrets_from_files_with_either_suffix() {
        let c = load_with_files(
            "",
            &[
                ("LOKET__WHATSAPP__APP_SECRET_FILE", "/run/secrets/app"),
                ("LOKET__DATABASE__URL__FILE", "/run/secrets/db"),
                ("LOKET__HANDOFF__WEBHOOK_SECRET_FILE", "/run/secrets/hook"),
            ],
            &[
                ("/run/secrets/app", "0123456789\n"),
                ("/run/secrets/db", "postgres://u:pw@db/loket\r\n"),
                ("/run/secrets/hook", "s3cret"),
            ],
        )
        .unwrap();
        assert_eq!(c.whatsapp.app_secret.expose(), "0123456789");
        assert_eq!(c.database.url.expose(), "postgres://u:pw@db/loket");
        assert_eq!(c.handoff.webhook_secret.expose(), "s3cret");
        let (var, message) = env_error(load_with_files(
            "",
            &[("LOKET__WHATSAPP__ACCESS_TOKEN_FILE", "/run/secrets/missing")],
            &[],
        ));
        assert_eq!(var, "LOKET__WHATSAPP__ACCESS_TOKEN_FILE");
        assert!(message.contains("/run/secrets/missing"), "{message}");
        let (var, message) = env_error(load_with_files(
            "",
            &[
                ("LOKET__WHATSAPP__ACCESS_TOKEN_FILE", "/t"),
                ("LOKET__WHATSAPP__ACCESS_TOKEN", "x"),
            ],
            &[("/t", "y")],
        ));
        assert_eq!(var, "LOKET__WHATSAPP__ACCESS_TOKEN_FILE");
        assert!(
            message.contains("LOKET__WHATSAPP__ACCESS_TOKEN "),
            "{message}"
        );
    }

    #[test]
    fn errors_name_the_variable_or_the_file_line() {
        let (var, message) = env_error(load("", &[("LOKET__SERVER__BODY_LIMIT_BYTES", "64k")]));
        assert_eq!(var, "LOKET__SERVER__BODY_LIMIT_BYTES");
        assert!(message.contains("whole number"), "{message}");
        let (var, message) = env_error(load("", &[("LOKET__SERVER__BNID", "x")]));
        assert_eq!(var, "LOKET__SERVER__BNID");
        assert!(message.contains("bnid"), "{message}");
        let (var, _) = env_error(load("", &[("LOKET__NOPE__KEY", "x")]));
        assert_eq!(var, "LOKET__NOPE__KEY");
        match load("[server]\nbind = \"x\"\nbody_limit_bytes = \"big\"\n", &[]) {
            Err(e @ ConfigError::Parse { .. }) => {
                let shown = e.to_string();
                assert!(shown.starts_with("loket.toml:"), "{shown}");
                assert!(shown.contains("line 3"), "{shown}");
            }
            other => panic!("expected a file error, got {other:?}"),
        }
    }
}
