//! Conversations, messages and handoffs. [`Store`] is the contract; [`SqlStore`] implements
//! it on SQLite (default: one file under the data directory, WAL mode) and on PostgreSQL
//! (`database.url = "postgres://..."`) through sqlx's `Any` driver, with versioned
//! migrations for each. Writes are committed before the caller acknowledges anything.
//!
//! Texts reach the store only after the privacy guard replaced personal data.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

use crate::dialogue::Context;

pub mod keys;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("database migration failed: {0}")]
    Migration(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// One message to record, with what Loket decided about it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageRecord {
    pub direction: Direction,
    pub text: String,
    /// Kinds of personal data removed from the text, comma-separated.
    pub pii: String,
    pub intent: Option<String>,
    pub action: Option<String>,
    pub confidence: Option<f64>,
    pub faq_id: Option<String>,
    pub response_ms: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// A whole turn: the citizen's message, Loket's reply, the new context, maybe a handoff.
#[derive(Debug, Clone)]
pub struct TurnRecord {
    pub conversation_id: String,
    pub channel: String,
    pub inbound: MessageRecord,
    pub outbound: MessageRecord,
    pub context: Context,
    pub handoff: Option<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredMessage {
    pub id: i64,
    pub direction: String,
    pub channel: String,
    pub text: String,
    pub pii: String,
    pub intent: Option<String>,
    pub action: Option<String>,
    pub confidence: Option<f64>,
    pub faq_id: Option<String>,
    pub created_at: String,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The remembered context of a conversation, if it exists.
    async fn context(&self, conversation_id: &str) -> Result<Option<Context>, StoreError>;
    /// Records a turn in one transaction.
    async fn record_turn(&self, turn: &TurnRecord) -> Result<(), StoreError>;
    /// The messages of a conversation, oldest first.
    async fn transcript(&self, conversation_id: &str) -> Result<Vec<StoredMessage>, StoreError>;
    /// Closes the connections (SQLite checkpoints its write-ahead log).
    async fn close(&self);
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

pub struct SqlStore {
    pool: AnyPool,
    postgres: bool,
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl SqlStore {
    /// Connects (creating a SQLite file when needed) and migrates.
    pub async fn connect(url: &str, max_connections: u32) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if sqlite
            && let Some(path) = sqlite_path(url)
            && let Some(dir) = std::path::Path::new(&path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite {
                max_connections.min(4)
            } else {
                max_connections
            })
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        use sqlx::Executor;
                        conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        if sqlite && !url.contains(":memory:") {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let migrator = if sqlite {
            &SQLITE_MIGRATIONS
        } else {
            &POSTGRES_MIGRATIONS
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(SqlStore {
            pool,
            postgres: !sqlite,
        })
    }

    /// A private in-memory SQLite database (for `loket ask` and tests).
    pub async fn in_memory() -> Result<SqlStore, StoreError> {
        let name = uuid::Uuid::new_v4().simple().to_string();
        SqlStore::connect(&format!("sqlite:file:{name}?mode=memory&cache=shared"), 1).await
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// PostgreSQL (true) or SQLite, for the few statements that differ.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.starts_with("file:") && path != ":memory:").then(|| path.to_string())
}

fn message_from_row(r: &AnyRow) -> Result<StoredMessage, sqlx::Error> {
    Ok(StoredMessage {
        id: r.try_get("id")?,
        direction: r.try_get("direction")?,
        channel: r.try_get("channel")?,
        text: r.try_get("text")?,
        pii: r.try_get("pii")?,
        intent: r.try_get("intent")?,
        action: r.try_get("action")?,
        confidence: r.try_get("confidence")?,
        faq_id: r.try_get("faq_id")?,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl Store for SqlStore {
    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn context(&self, conversation_id: &str) -> Result<Option<Context>, StoreError> {
        let row = sqlx::query("SELECT context FROM conversations WHERE id = $1")
            .bind(conversation_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .and_then(|r| r.try_get::<String, _>("context").ok())
            .and_then(|c| serde_json::from_str::<Context>(&c).ok()))
    }

    async fn record_turn(&self, turn: &TurnRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = timestamp(turn.outbound.created_at);
        let context = serde_json::to_string(&turn.context).unwrap_or_else(|_| "{}".into());
        sqlx::query(
            "INSERT INTO conversations (id, channel, status, context, created_at, updated_at) \
             VALUES ($1, $2, 'bot', $3, $4, $4) \
             ON CONFLICT (id) DO UPDATE SET context = excluded.context, updated_at = excluded.updated_at",
        )
        .bind(&turn.conversation_id)
        .bind(&turn.channel)
        .bind(&context)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        for m in [&turn.inbound, &turn.outbound] {
            sqlx::query(
                "INSERT INTO messages (conversation_id, direction, channel, text, pii, intent, action, \
                 confidence, faq_id, response_ms, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, CAST($8 AS DOUBLE PRECISION), $9, $10, $11)",
            )
            .bind(&turn.conversation_id)
            .bind(match m.direction {
                Direction::In => "in",
                Direction::Out => "out",
            })
            .bind(&turn.channel)
            .bind(&m.text)
            .bind(&m.pii)
            .bind(m.intent.clone())
            .bind(m.action.clone())
            // As text: sqlx's Any driver declares a NULL double as float4 and then sends a
            // float8 in the same cached statement, which PostgreSQL rejects.
            .bind(m.confidence.map(|c| c.to_string()))
            .bind(m.faq_id.clone())
            .bind(m.response_ms)
            .bind(timestamp(m.created_at))
            .execute(&mut *tx)
            .await?;
        }
        if let Some((department, reason)) = &turn.handoff {
            sqlx::query(
                "INSERT INTO handoffs (conversation_id, department, reason, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&turn.conversation_id)
            .bind(department)
            .bind(reason)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE conversations SET status = 'waiting', department = $1 WHERE id = $2",
            )
            .bind(department)
            .bind(&turn.conversation_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn transcript(&self, conversation_id: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, direction, channel, text, pii, intent, action, confidence, faq_id, created_at \
             FROM messages WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }
}

impl FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "in" => Ok(Direction::In),
            "out" => Ok(Direction::Out),
            _ => Err(format!("unknown direction {s}")),
        }
    }
}
