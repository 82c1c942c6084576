//! Conversations, messages and handoffs. [`Store`] is the contract; [`SqlStore`] implements
//! it on SQLite (default: one file under the data directory, WAL mode) and on PostgreSQL
//! (`database.url = "postgres://..."`) through sqlx's `Any` driver, with versioned
//! migrations for each. Writes are committed before the caller acknowledges anything.
//!
//! Texts reach the store only after the privacy guard replaced personal data.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use std::sync::Arc;

use sqlx::migrate::Migrator;

use crate::dialogue::Context;

pub mod archive;
pub mod handoff;
pub mod keys;
pub mod queue;
pub mod reports;
pub mod states;
pub mod webhooks;

pub use states::{
    Channel, ConversationStatus, Direction, HandoffStatus, OutboxStatus, Sender, UnknownState,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("inbound message {0} was already processed")]
    AlreadyProcessed(i64),
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The database answers but refuses writes (see [`SqlStore::writable`]).
    #[error("the database is read-only: {0}")]
    ReadOnly(String),
}

/// A word in a state column that its enum does not know: the database holds something this
/// version did not write.
impl From<UnknownState> for StoreError {
    fn from(e: UnknownState) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            // PostgreSQL refusing or ending sessions (connection exceptions 08xxx, shutting
            // down or not accepting connections 57P0x, too many connections 53300) is an
            // outage, answered 503 so that a sender retries, not a 500.
            sqlx::Error::Database(ref db)
                if db.code().is_some_and(|c| {
                    c.starts_with("08") || c.starts_with("57P0") || c == "53300"
                }) =>
            {
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
    pub sender: Sender,
    pub text: String,
    /// Kinds of personal data removed from the text, comma-separated.
    pub pii: String,
    pub intent: Option<String>,
    pub action: Option<String>,
    pub confidence: Option<f64>,
    pub faq_id: Option<String>,
    pub response_ms: Option<i64>,
    /// `text`, `button_reply`, `image`, … (inbound); `text`, `interactive`, `template` (outbound).
    pub kind: String,
    /// The channel's message id (WhatsApp wamid) of an inbound message.
    pub external_id: Option<String>,
    /// Archived metadata of media (never its content).
    pub meta: Option<serde_json::Value>,
    pub agent_id: Option<String>,
    /// Delivery status of an outbound message (`pending` until the channel accepts it).
    pub status: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl MessageRecord {
    /// A plain text message with no decision attached.
    pub fn new(direction: Direction, text: impl Into<String>, created_at: DateTime<Utc>) -> Self {
        MessageRecord {
            direction,
            sender: match direction {
                Direction::In => Sender::Citizen,
                Direction::Out => Sender::Bot,
            },
            text: text.into(),
            pii: String::new(),
            intent: None,
            action: None,
            confidence: None,
            faq_id: None,
            response_ms: None,
            kind: "text".into(),
            external_id: None,
            meta: None,
            agent_id: None,
            status: None,
            created_at,
        }
    }
}

/// A request for a person, as recorded.
#[derive(Debug, Clone)]
pub struct HandoffRecord {
    pub department: String,
    pub reason: String,
    pub within_office_hours: bool,
}

/// An event for the webcare platform, delivered by [`webhooks`].
#[derive(Debug, Clone)]
pub struct PlatformEvent {
    pub event: &'static str,
    pub data: serde_json::Value,
}

/// A whole turn: the citizen's message, Loket's reply (none while a person owns the
/// conversation), the new context, maybe a handoff, the reply to send and events to
/// deliver. All of it is committed in one transaction.
#[derive(Debug, Clone)]
pub struct TurnRecord {
    pub conversation_id: String,
    /// The municipality's slug (set on the conversation when the turn creates it).
    pub municipality: String,
    pub channel: Channel,
    pub contact_id: Option<String>,
    pub inbound: MessageRecord,
    pub outbound: Option<MessageRecord>,
    /// The new context; `None` keeps the stored one.
    pub context: Option<Context>,
    /// The department of the conversation's current topic.
    pub department: Option<String>,
    pub handoff: Option<HandoffRecord>,
    /// The inbox row this turn completes.
    pub inbox_id: Option<i64>,
    /// The reply to send through the channel (WhatsApp), linked to `outbound`.
    pub outbox: Option<queue::OutboxDraft>,
    pub events: Vec<PlatformEvent>,
}

impl TurnRecord {
    /// A web turn: citizen message and bot reply, nothing else.
    pub fn simple(
        conversation_id: &str,
        channel: Channel,
        inbound: MessageRecord,
        outbound: MessageRecord,
        context: Context,
    ) -> Self {
        TurnRecord {
            conversation_id: conversation_id.into(),
            municipality: String::new(),
            channel,
            contact_id: None,
            inbound,
            outbound: Some(outbound),
            context: Some(context),
            department: None,
            handoff: None,
            inbox_id: None,
            outbox: None,
            events: Vec::new(),
        }
    }
}

/// Ids of the rows a turn wrote.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TurnIds {
    pub citizen: i64,
    pub reply: Option<i64>,
}

/// The state of a conversation that decides how a new message is handled.
#[derive(Debug, Clone)]
pub struct ConversationState {
    pub context: Context,
    pub status: ConversationStatus,
    pub agent_id: Option<String>,
    pub department: Option<String>,
    pub channel: Channel,
    pub contact_id: Option<String>,
    pub updated_at: String,
    /// The municipality's slug.
    pub municipality: String,
}

/// [`ConversationState`] as stored: the context is JSON text.
#[derive(sqlx::FromRow)]
struct ConversationStateRow {
    context: String,
    status: ConversationStatus,
    agent_id: Option<String>,
    department: Option<String>,
    channel: Channel,
    contact_id: Option<String>,
    updated_at: String,
    municipality: String,
}

impl From<ConversationStateRow> for ConversationState {
    fn from(r: ConversationStateRow) -> Self {
        ConversationState {
            // A context this version cannot read starts over rather than failing the turn.
            context: serde_json::from_str(&r.context).unwrap_or_default(),
            status: r.status,
            agent_id: r.agent_id,
            department: r.department,
            channel: r.channel,
            contact_id: r.contact_id,
            updated_at: r.updated_at,
            municipality: r.municipality,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredMessage {
    pub id: i64,
    pub direction: Direction,
    pub sender: Sender,
    /// `text`, `button_reply`, `image`, …: an open set (see [`states`]).
    pub kind: String,
    pub agent_id: Option<String>,
    /// Delivery status of an outbound message; an open set (see [`states`]).
    pub status: Option<String>,
    pub channel: Channel,
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
    async fn record_turn(&self, turn: &TurnRecord) -> Result<TurnIds, StoreError>;
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
    /// SQLite allows one writer at a time; writers of this process queue here (in order)
    /// instead of colliding in SQLite's busy handler, whose sleeps made webhook
    /// acknowledgements wait up to hundreds of milliseconds. `None` on PostgreSQL.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Writers that acknowledge something to a caller (the WhatsApp webhook) waiting for the
    /// lock; background writers let them go first.
    urgent: std::sync::atomic::AtomicUsize,
    /// Where background writers wait for their turn (see [`SqlStore::writer`]).
    background: tokio::sync::Mutex<()>,
}

/// A turn in SQLite's writer queue; dropping it lets the next writer in.
pub(crate) struct WriterGuard<'a> {
    _main: tokio::sync::MutexGuard<'a, ()>,
    _background: Option<tokio::sync::MutexGuard<'a, ()>>,
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl SqlStore {
    /// Connects (creating a SQLite file when needed) and migrates; SQLite with
    /// `synchronous = FULL` (see [`SqlStore::connect_with`]).
    pub async fn connect(url: &str, max_connections: u32) -> Result<SqlStore, StoreError> {
        SqlStore::connect_with(url, max_connections, true).await
    }

    /// Applies the migrations not applied yet (`loket migrate`) and closes the connection;
    /// returns how many migrations the database has now.
    pub async fn migrate_only(url: &str) -> Result<i64, StoreError> {
        let store = SqlStore::connect_with(url, 1, true).await?;
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&store.pool)
                .await?;
        store.close().await;
        Ok(applied)
    }

    /// Connects and migrates. On SQLite (WAL mode) `full_sync` (the default) makes every
    /// commit wait for the disk (`synchronous = FULL`): an acknowledged message survives a
    /// power loss too. Without it (`NORMAL`) a commit survives a crash or kill of Loket and
    /// the disk is synchronised at each checkpoint. Checkpoints run in the background every
    /// second, outside the writer queue.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        full_sync: bool,
    ) -> Result<SqlStore, StoreError> {
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
                        conn.execute(if full_sync {
                            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                             PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;"
                        } else {
                            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                             PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;"
                        })
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let writer = sqlite.then(|| Arc::new(tokio::sync::Mutex::new(())));
        if sqlite && !url.contains(":memory:") && !url.contains("mode=memory") {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            let wal = sqlite_path(url).map(|p| std::path::PathBuf::from(format!("{p}-wal")));
            tokio::spawn(checkpoints(pool.clone(), writer.clone(), wal));
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
            writer,
            urgent: std::sync::atomic::AtomicUsize::new(0),
            background: tokio::sync::Mutex::new(()),
        })
    }

    /// A private in-memory SQLite database (for `loket ask` and tests).
    pub async fn in_memory() -> Result<SqlStore, StoreError> {
        let name = uuid::Uuid::new_v4().simple().to_string();
        SqlStore::connect(&format!("sqlite:file:{name}?mode=memory&cache=shared"), 1).await
    }

    /// The connection pool, for the integration tests' fixtures and checks (rows written and
    /// read with plain SQL, as a records officer or a DBA would). Loket's own code goes
    /// through the methods of this store, which own every statement.
    #[doc(hidden)]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), where SQLite's busy handler waits for it: a deferred transaction
    /// that reads first and writes later gets "database is locked" at once, without waiting,
    /// when another connection holds the lock at that moment (one whose dropped
    /// transaction's rollback the pool has not flushed yet, say), as the SQLite store
    /// contract test saw once.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        if self.postgres {
            self.pool.begin().await
        } else {
            self.pool.begin_with("BEGIN IMMEDIATE").await
        }
    }

    /// Gives conversations stored before Loket knew municipalities (an empty municipality)
    /// to `slug`, the default municipality. Returns how many were adopted.
    pub async fn adopt_conversations(&self, slug: &str) -> Result<u64, StoreError> {
        // Read first: a read-only database with nothing to adopt is not an error.
        let waiting: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE municipality = ''")
                .fetch_one(&self.pool)
                .await?;
        if waiting == 0 {
            return Ok(0);
        }
        let _writer = self.writer().await;
        let done =
            sqlx::query("UPDATE conversations SET municipality = $1 WHERE municipality = ''")
                .bind(slug)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    /// Whether this process can write: a SQLite file that SQLite opened read-only (its
    /// permissions, a read-only mount) and a PostgreSQL session that is read-only (a replica,
    /// `default_transaction_read_only`) answer reads but refuse every turn.
    pub async fn writable(&self) -> Result<(), StoreError> {
        if self.postgres {
            let read_only: String =
                sqlx::query_scalar("SELECT current_setting('transaction_read_only')")
                    .fetch_one(&self.pool)
                    .await?;
            if read_only == "on" {
                return Err(StoreError::ReadOnly(
                    "the PostgreSQL session is read-only (transaction_read_only = on)".into(),
                ));
            }
            return Ok(());
        }
        // A write statement that changes nothing, rolled back: SQLite refuses it on a
        // read-only database (taking the write lock alone does not fail there).
        let _writer = self.writer().await;
        let read_only = |e: sqlx::Error| {
            // SQLITE_READONLY: "attempt to write a readonly database".
            if e.to_string().contains("readonly") {
                StoreError::ReadOnly(e.to_string())
            } else {
                StoreError::from(e)
            }
        };
        let mut tx = self.begin_write().await.map_err(read_only)?;
        sqlx::query("DELETE FROM conversations WHERE 1 = 0")
            .execute(&mut *tx)
            .await
            .map_err(read_only)?;
        tx.rollback().await?;
        Ok(())
    }

    /// Context, status and owner of a conversation, if it exists.
    pub async fn conversation_state(
        &self,
        conversation_id: &str,
    ) -> Result<Option<ConversationState>, StoreError> {
        let row: Option<ConversationStateRow> = sqlx::query_as(
            "SELECT context, status, agent_id, department, channel, contact_id, updated_at, \
             municipality FROM conversations WHERE id = $1",
        )
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(ConversationState::from))
    }

    /// Waits for this process's turn to write (SQLite only; PostgreSQL has row locks).
    pub(crate) async fn writer(&self) -> Option<WriterGuard<'_>> {
        use std::sync::atomic::Ordering;
        let m = self.writer.as_ref()?;
        // Background writers (processing, sending) line up behind one another first, so at
        // most one of them is ever ahead of an acknowledgement in the writer queue.
        let background = self.background.lock().await;
        let mut spins = 0;
        while self.urgent.load(Ordering::Acquire) > 0 && spins < 200 {
            tokio::time::sleep(std::time::Duration::from_micros(500)).await;
            spins += 1;
        }
        Some(WriterGuard {
            _main: m.lock().await,
            _background: Some(background),
        })
    }

    /// The writer lock for a write someone is waiting on (see [`SqlStore::writer`]).
    pub(crate) async fn urgent_writer(&self) -> Option<WriterGuard<'_>> {
        use std::sync::atomic::Ordering;
        let m = self.writer.as_ref()?;
        self.urgent.fetch_add(1, Ordering::AcqRel);
        let guard = m.lock().await;
        self.urgent.fetch_sub(1, Ordering::AcqRel);
        Some(WriterGuard {
            _main: guard,
            _background: None,
        })
    }

    /// The clause that lets concurrent claimers pass over rows another instance holds:
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL; nothing on SQLite (one writer at a time).
    pub(crate) fn skip_locked(&self) -> &'static str {
        if self.postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    }

    /// PostgreSQL (true) or SQLite, for the few statements that differ.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }
}

/// A write-ahead log larger than this is checkpointed and truncated between two writes.
const WAL_LIMIT_BYTES: u64 = 32 * 1024 * 1024;

/// SQLite's checkpoints, off the writers' path: every second a passive checkpoint copies
/// what it can without blocking anyone. A passive checkpoint never shrinks the log, and
/// while writers keep coming the log cannot start over, so under sustained load it grew to
/// ten times the database. When it passes [`WAL_LIMIT_BYTES`] a truncating checkpoint runs
/// in the writer queue (this process's writers wait one checkpoint; readers are short).
/// The task ends when the pool is closed.
async fn checkpoints(
    pool: AnyPool,
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    wal: Option<std::path::PathBuf>,
) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if pool.is_closed() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::debug!(error = %e, "SQLite checkpoint skipped");
        }
        let size = wal
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len());
        if size > WAL_LIMIT_BYTES {
            let _turn = match &writer {
                Some(w) => Some(w.lock().await),
                None => None,
            };
            match sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&pool)
                .await
            {
                Ok(_) => tracing::debug!(wal_bytes = size, "SQLite log truncated"),
                Err(e) => tracing::debug!(error = %e, "SQLite truncating checkpoint skipped"),
            }
        }
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.starts_with("file:") && path != ":memory:").then(|| path.to_string())
}

pub(crate) async fn insert_message(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conversation_id: &str,
    channel: Channel,
    m: &MessageRecord,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, direction, sender, channel, text, pii, intent, action, \
         confidence, faq_id, response_ms, kind, external_id, meta, agent_id, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS DOUBLE PRECISION), $10, $11, $12, $13, $14, $15, $16, $17) \
         RETURNING id",
    )
    .bind(conversation_id)
    .bind(m.direction)
    .bind(m.sender)
    .bind(channel)
    .bind(&m.text)
    .bind(&m.pii)
    .bind(m.intent.clone())
    .bind(m.action.clone())
    // As text: sqlx's Any driver declares a NULL double as float4 and then sends a
    // float8 in the same cached statement, which PostgreSQL rejects.
    .bind(m.confidence.map(|c| c.to_string()))
    .bind(m.faq_id.clone())
    .bind(m.response_ms)
    .bind(&m.kind)
    .bind(m.external_id.clone())
    .bind(m.meta.as_ref().map(|v| v.to_string()))
    .bind(m.agent_id.clone())
    .bind(m.status.clone())
    .bind(timestamp(m.created_at))
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

#[async_trait]
impl Store for SqlStore {
    async fn close(&self) {
        if !self.postgres {
            // Fold the write-ahead log into the database file before stopping.
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await;
        }
        self.pool.close().await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn context(&self, conversation_id: &str) -> Result<Option<Context>, StoreError> {
        let context: Option<String> =
            sqlx::query_scalar("SELECT context FROM conversations WHERE id = $1")
                .bind(conversation_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(context.and_then(|c| serde_json::from_str::<Context>(&c).ok()))
    }

    async fn record_turn(&self, turn: &TurnRecord) -> Result<TurnIds, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.begin_write().await?;
        if let Some(id) = turn.inbox_id {
            // Exactly once: if another processor completed this message (its lease ran out
            // here while it was slow), nothing of this turn is written.
            let done = sqlx::query(
                "UPDATE inbox SET status = 'done', done_at = $1, locked_until = NULL \
                 WHERE id = $2 AND status <> 'done'",
            )
            .bind(timestamp(Utc::now()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::AlreadyProcessed(id));
            }
        }
        let now = timestamp(
            turn.outbound
                .as_ref()
                .map(|m| m.created_at)
                .unwrap_or(turn.inbound.created_at),
        );
        let context = turn
            .context
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_else(|_| "{}".into()));
        sqlx::query(
            "INSERT INTO conversations (id, channel, status, context, contact_id, department, created_at, updated_at, municipality) \
             VALUES ($1, $2, 'bot', COALESCE($3, '{}'), $4, $5, $6, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET context = COALESCE($3, conversations.context), \
             department = COALESCE($5, conversations.department), updated_at = excluded.updated_at",
        )
        .bind(&turn.conversation_id)
        .bind(turn.channel)
        .bind(context)
        .bind(turn.contact_id.clone())
        .bind(turn.department.clone())
        .bind(&now)
        .bind(&turn.municipality)
        .execute(&mut *tx)
        .await?;
        let citizen =
            insert_message(&mut tx, &turn.conversation_id, turn.channel, &turn.inbound).await?;
        let reply = match &turn.outbound {
            Some(m) => Some(insert_message(&mut tx, &turn.conversation_id, turn.channel, m).await?),
            None => None,
        };
        if let Some(h) = &turn.handoff {
            // A conversation already waiting or with a person keeps its handoff.
            let open = sqlx::query(
                "SELECT id FROM handoffs WHERE conversation_id = $1 AND status IN ('waiting', 'assigned')",
            )
            .bind(&turn.conversation_id)
            .fetch_optional(&mut *tx)
            .await?;
            if open.is_none() {
                sqlx::query(
                    "INSERT INTO handoffs (conversation_id, department, reason, within_office_hours, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&turn.conversation_id)
                .bind(&h.department)
                .bind(&h.reason)
                .bind(h.within_office_hours as i64)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE conversations SET status = 'waiting', department = $1, waiting_since = $2, \
                     agent_id = NULL, resolved_at = NULL WHERE id = $3",
                )
                .bind(&h.department)
                .bind(&now)
                .bind(&turn.conversation_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(draft) = &turn.outbox {
            queue::insert_outbox(&mut tx, &turn.conversation_id, reply, draft).await?;
        }
        for e in &turn.events {
            webhooks::insert_event(&mut tx, Some(&turn.conversation_id), e).await?;
        }
        tx.commit().await?;
        Ok(TurnIds { citizen, reply })
    }

    async fn transcript(&self, conversation_id: &str) -> Result<Vec<StoredMessage>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, direction, sender, kind, agent_id, status, channel, text, pii, intent, action, \
             confidence, faq_id, created_at FROM messages WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
