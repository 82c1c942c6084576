//! The statements of the archive ([`crate::archive`]): reading whole conversations for an
//! export, the phone numbers that must not appear in one, and the purge of what is past the
//! retention period. Which conversations may be purged, and what an export leaves out of a
//! message's metadata, are the archive's rules; this file only reads and deletes rows.

use serde::Serialize;

use super::timestamp;
use super::{Channel, ConversationStatus, Direction, HandoffStatus, Sender, SqlStore, StoreError};

/// One conversation with everything an archive keeps of it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ArchivedConversation {
    pub id: String,
    pub channel: Channel,
    pub status: ConversationStatus,
    pub department: Option<String>,
    /// A keyed hash of the contact's address, never the address itself.
    pub contact_id: Option<String>,
    pub agent_id: Option<String>,
    pub waiting_since: Option<String>,
    pub resolved_at: Option<String>,
    pub created_at: String,
    /// The last activity; the period of an export and the retention are measured on it.
    pub updated_at: String,
    #[sqlx(skip)]
    pub handoffs: Vec<ArchivedHandoff>,
    #[sqlx(skip)]
    pub notes: Vec<ArchivedNote>,
    #[sqlx(skip)]
    pub messages: Vec<ArchivedMessage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchivedMessage {
    pub id: i64,
    /// `in` (from the citizen) or `out`.
    pub direction: Direction,
    pub sender: Sender,
    pub agent_id: Option<String>,
    pub channel: Channel,
    /// `text`, `button_reply`, `image`, …, `template`, `interactive`.
    pub kind: String,
    /// As the privacy guard left it: personal data replaced by placeholders such as `[BSN]`.
    pub text: String,
    /// The kinds of personal data removed from the text (`bsn`, `iban`, …).
    pub pii: Vec<String>,
    pub intent: Option<String>,
    pub action: Option<String>,
    pub confidence: Option<f64>,
    pub faq_id: Option<String>,
    /// Delivery status reported by the channel (`sent`, `delivered`, `read`, `failed`).
    pub status: Option<String>,
    pub status_at: Option<String>,
    pub response_ms: Option<i64>,
    /// What was recorded about media (type, size; never its content). As stored: the
    /// archive drops the keys that could carry personal data before anything is written.
    pub meta: Option<serde_json::Value>,
    pub created_at: String,
}

/// [`ArchivedMessage`] as stored: personal-data kinds comma-separated, metadata JSON text.
#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    direction: Direction,
    sender: Sender,
    agent_id: Option<String>,
    channel: Channel,
    kind: String,
    text: String,
    pii: String,
    intent: Option<String>,
    action: Option<String>,
    confidence: Option<f64>,
    faq_id: Option<String>,
    status: Option<String>,
    status_at: Option<String>,
    response_ms: Option<i64>,
    meta: Option<String>,
    created_at: String,
}

impl From<MessageRow> for ArchivedMessage {
    fn from(r: MessageRow) -> Self {
        ArchivedMessage {
            id: r.id,
            direction: r.direction,
            sender: r.sender,
            agent_id: r.agent_id,
            channel: r.channel,
            kind: r.kind,
            text: r.text,
            pii: r
                .pii
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
            intent: r.intent,
            action: r.action,
            confidence: r.confidence,
            faq_id: r.faq_id,
            status: r.status,
            status_at: r.status_at,
            response_ms: r.response_ms,
            // Metadata that is not JSON (never written so) is left out rather than failing
            // the export.
            meta: r.meta.and_then(|m| serde_json::from_str(&m).ok()),
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchivedHandoff {
    pub id: i64,
    pub department: String,
    pub reason: String,
    pub status: HandoffStatus,
    pub agent_id: Option<String>,
    pub within_office_hours: bool,
    pub created_at: String,
    pub claimed_at: Option<String>,
    pub first_reply_at: Option<String>,
    pub resolved_at: Option<String>,
}

/// [`ArchivedHandoff`] as stored: the flag is an integer.
#[derive(sqlx::FromRow)]
struct HandoffRow {
    id: i64,
    department: String,
    reason: String,
    status: HandoffStatus,
    agent_id: Option<String>,
    within_office_hours: i64,
    created_at: String,
    claimed_at: Option<String>,
    first_reply_at: Option<String>,
    resolved_at: Option<String>,
}

impl From<HandoffRow> for ArchivedHandoff {
    fn from(r: HandoffRow) -> Self {
        ArchivedHandoff {
            id: r.id,
            department: r.department,
            reason: r.reason,
            status: r.status,
            agent_id: r.agent_id,
            within_office_hours: r.within_office_hours != 0,
            created_at: r.created_at,
            claimed_at: r.claimed_at,
            first_reply_at: r.first_reply_at,
            resolved_at: r.resolved_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ArchivedNote {
    pub id: i64,
    pub agent_id: String,
    pub text: String,
    pub created_at: String,
}

/// A conversation past the retention period, as the purge finds it.
#[derive(Debug, Clone)]
pub struct ExpiredConversation {
    pub id: String,
    pub status: ConversationStatus,
    pub updated_at: String,
    pub contact_id: Option<String>,
    /// One of its handoffs is still waiting or assigned.
    pub open_handoff: bool,
}

#[derive(sqlx::FromRow)]
struct ExpiredRow {
    id: String,
    status: ConversationStatus,
    updated_at: String,
    contact_id: Option<String>,
}

/// Rows deleted with a set of conversations.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeletedRows {
    pub conversations: u64,
    pub messages: u64,
    pub handoffs: u64,
    pub notes: u64,
    pub outbox: u64,
    pub webhook_deliveries: u64,
}

/// Inbound rows still being processed are never purged.
const INBOX_UNFINISHED: &str = "'pending', 'processing'";

/// At most this many ids are bound in one `IN (…)` list (SQLite allows 32766 parameters;
/// PostgreSQL 65535; smaller statements keep each one quick).
const CHUNK: usize = 200;

/// Placeholders `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A purge in progress: one write transaction, committed with its audit entry or rolled back
/// (a dry run), so that its counts are exact either way. Dropping it rolls back.
pub struct Purge {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    postgres: bool,
}

impl SqlStore {
    /// The conversations whose last activity falls in `[start, end)`, oldest first, with their
    /// handoffs, notes and messages (oldest first); of one municipality (its slug), or of
    /// every one (`None`).
    pub async fn archived_conversations(
        &self,
        start: &str,
        end: &str,
        municipality: Option<&str>,
    ) -> Result<Vec<ArchivedConversation>, StoreError> {
        let mut conversations: Vec<ArchivedConversation> = sqlx::query_as(
            "SELECT id, channel, status, department, contact_id, agent_id, waiting_since, \
             resolved_at, created_at, updated_at FROM conversations \
             WHERE updated_at >= $1 AND updated_at < $2 AND ($3 = '' OR municipality = $3) \
             ORDER BY updated_at, id",
        )
        .bind(start)
        .bind(end)
        .bind(municipality.unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        for c in &mut conversations {
            let messages: Vec<MessageRow> = sqlx::query_as(
                "SELECT id, direction, sender, agent_id, channel, kind, text, pii, intent, action, \
                 confidence, faq_id, status, status_at, response_ms, meta, created_at \
                 FROM messages WHERE conversation_id = $1 ORDER BY created_at, id",
            )
            .bind(&c.id)
            .fetch_all(self.pool())
            .await?;
            c.messages = messages.into_iter().map(ArchivedMessage::from).collect();
            let handoffs: Vec<HandoffRow> = sqlx::query_as(
                "SELECT id, department, reason, status, agent_id, within_office_hours, created_at, \
                 claimed_at, first_reply_at, resolved_at FROM handoffs WHERE conversation_id = $1 \
                 ORDER BY created_at, id",
            )
            .bind(&c.id)
            .fetch_all(self.pool())
            .await?;
            c.handoffs = handoffs.into_iter().map(ArchivedHandoff::from).collect();
            c.notes = sqlx::query_as(
                "SELECT id, agent_id, text, created_at FROM notes WHERE conversation_id = $1 \
                 ORDER BY created_at, id",
            )
            .bind(&c.id)
            .fetch_all(self.pool())
            .await?;
        }
        Ok(conversations)
    }

    /// The addresses (phone numbers) of the contacts of a conversation: the contact pointing
    /// at it and the one it names.
    pub async fn contact_addresses_of(
        &self,
        conversation_id: &str,
        contact_id: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar(
                "SELECT address FROM contacts WHERE conversation_id = $1 OR id = $2",
            )
            .bind(conversation_id)
            .bind(contact_id.unwrap_or(""))
            .fetch_all(self.pool())
            .await?,
        )
    }

    /// Starts a purge. PostgreSQL locks the expired rows as [`Purge::expired`] reads them, so
    /// a message arriving meanwhile waits instead of landing in a conversation being deleted.
    /// SQLite holds the database lock from the first write on; a write that changes nothing
    /// is the first statement for that reason.
    pub async fn begin_purge(&self) -> Result<Purge, StoreError> {
        let mut tx = self.begin_write().await?;
        if !self.is_postgres() {
            sqlx::query("UPDATE conversations SET id = id WHERE 1 = 0")
                .execute(&mut *tx)
                .await?;
        }
        Ok(Purge {
            tx,
            postgres: self.is_postgres(),
        })
    }
}

impl Purge {
    /// Conversations whose last activity is before `cutoff`, oldest first, each with whether
    /// a handoff of it is still open; of one municipality (its slug), or of every one.
    pub async fn expired(
        &mut self,
        cutoff: &str,
        municipality: Option<&str>,
    ) -> Result<Vec<ExpiredConversation>, StoreError> {
        let lock = if self.postgres { " FOR UPDATE" } else { "" };
        let rows: Vec<ExpiredRow> = sqlx::query_as(&format!(
            "SELECT id, status, updated_at, contact_id FROM conversations WHERE updated_at < $1 \
             AND ($2 = '' OR municipality = $2) ORDER BY updated_at, id{lock}"
        ))
        .bind(cutoff)
        .bind(municipality.unwrap_or(""))
        .fetch_all(&mut *self.tx)
        .await?;
        let open: std::collections::HashSet<String> = sqlx::query_scalar(
            "SELECT DISTINCT h.conversation_id FROM handoffs h JOIN conversations c \
             ON c.id = h.conversation_id WHERE c.updated_at < $1 AND h.status IN ($2, $3) \
             AND ($4 = '' OR c.municipality = $4)",
        )
        .bind(cutoff)
        .bind(HandoffStatus::Waiting)
        .bind(HandoffStatus::Assigned)
        .bind(municipality.unwrap_or(""))
        .fetch_all(&mut *self.tx)
        .await?
        .into_iter()
        .collect();
        Ok(rows
            .into_iter()
            .map(|r| ExpiredConversation {
                open_handoff: open.contains(&r.id),
                id: r.id,
                status: r.status,
                updated_at: r.updated_at,
                contact_id: r.contact_id,
            })
            .collect())
    }

    /// Deletes conversations with their messages, handoffs, notes, outbox rows and webhook
    /// deliveries.
    pub async fn delete_conversations(
        &mut self,
        ids: &[String],
    ) -> Result<DeletedRows, StoreError> {
        let mut deleted = DeletedRows::default();
        for chunk in ids.chunks(CHUNK) {
            let ids = placeholders(1, chunk.len());
            for (table, counter) in [
                ("messages", &mut deleted.messages),
                ("handoffs", &mut deleted.handoffs),
                ("notes", &mut deleted.notes),
                ("outbox", &mut deleted.outbox),
                ("webhook_deliveries", &mut deleted.webhook_deliveries),
                ("conversations", &mut deleted.conversations),
            ] {
                let column = if table == "conversations" {
                    "id"
                } else {
                    "conversation_id"
                };
                let sql = format!("DELETE FROM {table} WHERE {column} IN ({ids})");
                let mut query = sqlx::query(&sql);
                for id in chunk {
                    query = query.bind(id);
                }
                *counter += query.execute(&mut *self.tx).await?.rows_affected();
            }
        }
        Ok(deleted)
    }

    /// Deletes the processed inbound payloads (raw, before redaction) of these contacts
    /// received before `cutoff`.
    pub async fn delete_inbox(
        &mut self,
        contacts: &[String],
        cutoff: &str,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for chunk in contacts.chunks(CHUNK) {
            let sql = format!(
                "DELETE FROM inbox WHERE received_at < $1 AND status NOT IN ({INBOX_UNFINISHED}) \
                 AND contact_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(cutoff);
            for c in chunk {
                query = query.bind(c);
            }
            deleted += query.execute(&mut *self.tx).await?.rows_affected();
        }
        Ok(deleted)
    }

    /// Deletes contacts (with their phone numbers) that nothing refers to any more, untouched
    /// since `cutoff` and with nothing waiting in the inbox.
    pub async fn delete_unreferenced_contacts(&mut self, cutoff: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(&format!(
            "DELETE FROM contacts WHERE updated_at < $1 \
             AND (last_inbound_at IS NULL OR last_inbound_at < $1) \
             AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = contacts.id) \
             AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = contacts.conversation_id) \
             AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.contact_id = contacts.id \
                             AND i.status IN ({INBOX_UNFINISHED}))"
        ))
        .bind(cutoff)
        .execute(&mut *self.tx)
        .await?
        .rows_affected())
    }

    /// Undoes everything (a dry run).
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// Commits with an audit entry `action` by `actor`, in the same transaction: no deletion
    /// without its entry.
    pub async fn commit(
        mut self,
        actor: &str,
        action: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, conversation_id, detail) VALUES ($1, $2, $3, NULL, $4)",
        )
        .bind(timestamp(chrono::Utc::now()))
        .bind(actor)
        .bind(action)
        .bind(detail)
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }
}
