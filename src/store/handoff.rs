//! What people in the contact centre do with a conversation: list the queue, read it, claim
//! it (one agent at a time), reply, add internal notes, transfer it to another department,
//! resolve it, or hand it back to the bot. Every change is one transaction and is written to
//! the audit log.
//!
//! Conversation status: `bot` → (handoff) `waiting` → (claim) `assigned` → `resolved`, or
//! back to `bot` on release. While `assigned`, the bot stays silent in the conversation.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::keys::insert_audit;
use super::queue::OutboxDraft;
use super::{
    Channel, ConversationStatus, HandoffStatus, MessageRecord, PlatformEvent, SqlStore, Store,
    StoreError, StoredMessage, insert_message, timestamp,
};

#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("no conversation {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for HandoffError {
    fn from(e: sqlx::Error) -> Self {
        HandoffError::Store(e.into())
    }
}

#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub department: Option<String>,
    /// Empty: `waiting` and `assigned`.
    pub statuses: Vec<ConversationStatus>,
    /// Only conversations waiting at least this long.
    pub min_waiting_secs: Option<i64>,
    pub limit: i64,
    /// Only these municipalities' conversations (slugs); empty: every one.
    pub municipalities: Vec<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct QueueEntry {
    #[sqlx(rename = "id")]
    pub conversation_id: String,
    /// The municipality's slug.
    pub municipality: String,
    pub channel: Channel,
    pub status: ConversationStatus,
    pub department: Option<String>,
    pub agent_id: Option<String>,
    pub waiting_since: Option<String>,
    /// Computed from `waiting_since` when the queue is read.
    #[sqlx(skip)]
    pub waiting_seconds: Option<i64>,
    pub reason: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Note {
    pub id: i64,
    pub agent_id: String,
    pub text: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HandoffRow {
    pub id: i64,
    pub department: String,
    pub reason: String,
    pub status: HandoffStatus,
    pub agent_id: Option<String>,
    pub created_at: String,
    pub claimed_at: Option<String>,
    pub first_reply_at: Option<String>,
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ConversationDetail {
    pub id: String,
    pub channel: Channel,
    pub status: ConversationStatus,
    pub department: Option<String>,
    pub agent_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub waiting_since: Option<String>,
    /// WhatsApp: when the 24-hour window closes (after that replies go out as a template).
    #[sqlx(skip)]
    pub window_open_until: Option<String>,
    #[sqlx(skip)]
    pub messages: Vec<StoredMessage>,
    #[sqlx(skip)]
    pub notes: Vec<Note>,
    #[sqlx(skip)]
    pub handoffs: Vec<HandoffRow>,
}

/// [`ConversationDetail`]'s row, with what the window is computed from.
#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    detail: ConversationDetail,
    last_inbound_at: Option<String>,
}

/// What an agent's reply is checked against.
#[derive(sqlx::FromRow)]
struct Ownership {
    channel: Channel,
    status: ConversationStatus,
    agent_id: Option<String>,
    claimed_by: Option<String>,
}

fn seconds_since(t: &Option<String>, now: DateTime<Utc>) -> Option<i64> {
    t.as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| (now - t.with_timezone(&Utc)).num_seconds())
}

/// The end of every handoff change: its audit line and platform events, then the commit.
async fn commit_audited(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    actor: &str,
    action: &str,
    conversation_id: &str,
    detail: &str,
    events: &[PlatformEvent],
) -> Result<(), StoreError> {
    insert_audit(&mut *tx, actor, action, Some(conversation_id), detail).await?;
    insert_events(&mut tx, conversation_id, events).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conversation_id: &str,
    events: &[PlatformEvent],
) -> Result<(), StoreError> {
    for e in events {
        super::webhooks::insert_event(tx, Some(conversation_id), e).await?;
    }
    Ok(())
}

impl SqlStore {
    /// Conversations waiting for a person, counted by department (`""` for none).
    pub async fn waiting_by_department(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT COALESCE(department, '') AS department, COUNT(*) AS n \
             FROM conversations WHERE status = 'waiting' GROUP BY department",
        )
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn list_queue(&self, f: &QueueFilter) -> Result<Vec<QueueEntry>, StoreError> {
        let statuses: &[ConversationStatus] = if f.statuses.is_empty() {
            &[ConversationStatus::Waiting, ConversationStatus::Assigned]
        } else {
            &f.statuses
        };
        let placeholders: Vec<String> =
            (0..statuses.len()).map(|i| format!("${}", i + 1)).collect();
        let mut sql = format!(
            "SELECT c.id, c.municipality, c.channel, c.status, c.department, c.agent_id, c.waiting_since, c.updated_at, \
             (SELECT h.reason FROM handoffs h WHERE h.conversation_id = c.id ORDER BY h.id DESC LIMIT 1) AS reason \
             FROM conversations c WHERE c.status IN ({})",
            placeholders.join(", ")
        );
        let mut n = statuses.len();
        if f.department.is_some() {
            n += 1;
            sql.push_str(&format!(
                " AND LOWER(COALESCE(c.department, 'KCC')) = LOWER(${n})"
            ));
        }
        if !f.municipalities.is_empty() {
            let list: Vec<String> = (0..f.municipalities.len())
                .map(|i| format!("${}", n + 1 + i))
                .collect();
            sql.push_str(&format!(" AND c.municipality IN ({})", list.join(", ")));
        }
        sql.push_str(" ORDER BY COALESCE(c.waiting_since, c.updated_at), c.id");
        let mut q = sqlx::query_as::<_, QueueEntry>(&sql);
        for s in statuses {
            q = q.bind(*s);
        }
        if let Some(d) = &f.department {
            q = q.bind(d.clone());
        }
        for m in &f.municipalities {
            q = q.bind(m.clone());
        }
        let rows = q.fetch_all(self.pool()).await?;
        let now = Utc::now();
        let mut out = Vec::new();
        for mut entry in rows {
            entry.waiting_seconds = seconds_since(&entry.waiting_since, now);
            if let Some(min) = f.min_waiting_secs
                && entry.waiting_seconds.unwrap_or(0) < min
            {
                continue;
            }
            out.push(entry);
            if f.limit > 0 && out.len() as i64 >= f.limit {
                break;
            }
        }
        Ok(out)
    }

    pub async fn conversation_detail(
        &self,
        id: &str,
        window_hours: i64,
    ) -> Result<Option<ConversationDetail>, StoreError> {
        let Some(row) = sqlx::query_as::<_, DetailRow>(
            "SELECT c.id, c.channel, c.status, c.department, c.agent_id, c.created_at, c.updated_at, \
             c.waiting_since, k.last_inbound_at FROM conversations c \
             LEFT JOIN contacts k ON k.id = c.contact_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let mut detail = row.detail;
        detail.window_open_until = row
            .last_inbound_at
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| timestamp(t.with_timezone(&Utc) + chrono::Duration::hours(window_hours)));
        detail.notes = sqlx::query_as(
            "SELECT id, agent_id, text, created_at FROM notes WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        detail.handoffs = sqlx::query_as(
            "SELECT id, department, reason, status, agent_id, created_at, claimed_at, first_reply_at, resolved_at \
             FROM handoffs WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        detail.messages = self.transcript(id).await?;
        Ok(Some(detail))
    }

    /// Gives the conversation to `agent`. Claiming again by the same agent is fine; another
    /// agent's claim is a conflict (409) until the owner resolves, transfers or releases it.
    pub async fn claim(
        &self,
        id: &str,
        agent: &str,
        actor: &str,
        events: &[PlatformEvent],
    ) -> Result<(), HandoffError> {
        let _writer = self.writer().await;
        let now = timestamp(Utc::now());
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE conversations SET status = 'assigned', agent_id = $1, updated_at = $2, \
             waiting_since = COALESCE(waiting_since, $2), claimed_by = $4 \
             WHERE id = $3 AND (status <> 'assigned' OR (agent_id = $1 AND \
             COALESCE(claimed_by, $4) = $4))",
        )
        .bind(agent)
        .bind(&now)
        .bind(id)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let owner: Option<Option<String>> =
                sqlx::query_scalar("SELECT agent_id FROM conversations WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match owner {
                None => HandoffError::NotFound(id.into()),
                Some(owner) => HandoffError::Conflict(format!(
                    "conversation {id} is already claimed by agent {}",
                    owner.unwrap_or_default()
                )),
            });
        }
        let open = sqlx::query(
            "UPDATE handoffs SET status = 'assigned', agent_id = $1, claimed_at = COALESCE(claimed_at, $2) \
             WHERE conversation_id = $3 AND status IN ('waiting', 'assigned')",
        )
        .bind(agent)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if open.rows_affected() == 0 {
            // An agent taking over on their own initiative: record it as a handoff too.
            sqlx::query(
                "INSERT INTO handoffs (conversation_id, department, reason, status, agent_id, created_at, claimed_at) \
                 SELECT id, COALESCE(department, 'KCC'), 'agent_initiated', 'assigned', $1, $2, $2 \
                 FROM conversations WHERE id = $3",
            )
            .bind(agent)
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        commit_audited(tx, actor, "conversation.claimed", id, agent, events).await?;
        Ok(())
    }

    /// Records an agent's reply (and queues it for the channel) when `agent` owns the
    /// conversation; returns the message id.
    pub async fn agent_reply(
        &self,
        id: &str,
        agent: &str,
        actor: &str,
        message: &MessageRecord,
        draft: Option<&OutboxDraft>,
        events: &[PlatformEvent],
    ) -> Result<i64, HandoffError> {
        let _writer = self.writer().await;
        let now = timestamp(message.created_at);
        let mut tx = self.begin_write().await?;
        let Ownership {
            channel,
            status,
            agent_id: owner,
            claimed_by,
        } = sqlx::query_as(
            "SELECT channel, status, agent_id, claimed_by FROM conversations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| HandoffError::NotFound(id.into()))?;
        if status != ConversationStatus::Assigned || owner.as_deref() != Some(agent) {
            return Err(HandoffError::Conflict(format!(
                "claim conversation {id} first: only the agent who claimed it can reply"
            )));
        }
        // The agent id is a name the platform chooses; the key is what proves it.
        if claimed_by.as_deref().is_some_and(|k| k != actor) {
            return Err(HandoffError::Conflict(format!(
                "conversation {id} was claimed by agent {agent} through another API key"
            )));
        }
        let guard = sqlx::query(
            "UPDATE conversations SET updated_at = $1 WHERE id = $2 AND status = 'assigned' AND agent_id = $3",
        )
        .bind(&now)
        .bind(id)
        .bind(agent)
        .execute(&mut *tx)
        .await?;
        if guard.rows_affected() == 0 {
            return Err(HandoffError::Conflict(format!(
                "conversation {id} changed owner"
            )));
        }
        let mid = insert_message(&mut tx, id, channel, message).await?;
        sqlx::query(
            "UPDATE handoffs SET first_reply_at = COALESCE(first_reply_at, $1) \
             WHERE conversation_id = $2 AND status = 'assigned'",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(d) = draft {
            super::queue::insert_outbox(&mut tx, id, Some(mid), d).await?;
        }
        commit_audited(tx, actor, "message.agent_reply", id, agent, events).await?;
        Ok(mid)
    }

    pub async fn add_note(
        &self,
        id: &str,
        agent: &str,
        text: &str,
        actor: &str,
    ) -> Result<i64, HandoffError> {
        let _writer = self.writer().await;
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM conversations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(HandoffError::NotFound(id.into()));
        }
        let note: i64 = sqlx::query_scalar(
            "INSERT INTO notes (conversation_id, agent_id, text, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(id)
        .bind(agent)
        .bind(text)
        .bind(timestamp(Utc::now()))
        .fetch_one(&mut *tx)
        .await?;
        commit_audited(tx, actor, "note.added", id, agent, &[]).await?;
        Ok(note)
    }

    /// Moves the conversation to another department's queue (unclaimed).
    pub async fn transfer(
        &self,
        id: &str,
        department: &str,
        actor: &str,
        events: &[PlatformEvent],
    ) -> Result<(), HandoffError> {
        let _writer = self.writer().await;
        let now = timestamp(Utc::now());
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE conversations SET status = 'waiting', department = $1, agent_id = NULL, \
             waiting_since = $2, updated_at = $2 WHERE id = $3",
        )
        .bind(department)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(HandoffError::NotFound(id.into()));
        }
        sqlx::query(
            "UPDATE handoffs SET status = 'transferred', resolved_at = $1 \
             WHERE conversation_id = $2 AND status IN ('waiting', 'assigned')",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO handoffs (conversation_id, department, reason, created_at) VALUES ($1, $2, 'transferred', $3)",
        )
        .bind(id)
        .bind(department)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        commit_audited(
            tx,
            actor,
            "conversation.transferred",
            id,
            department,
            events,
        )
        .await?;
        Ok(())
    }

    /// Ends the conversation (`resolved`) or gives it back to the bot (`bot`).
    pub async fn close_handoff(
        &self,
        id: &str,
        resolve: bool,
        actor: &str,
        events: &[PlatformEvent],
    ) -> Result<(), HandoffError> {
        let _writer = self.writer().await;
        let now = timestamp(Utc::now());
        let (status, handoff_status, action) = if resolve {
            (
                ConversationStatus::Resolved,
                HandoffStatus::Resolved,
                "conversation.resolved",
            )
        } else {
            (
                ConversationStatus::Bot,
                HandoffStatus::Released,
                "conversation.released",
            )
        };
        let mut tx = self.begin_write().await?;
        // A fresh context: the bot starts over after a person had the conversation.
        let done = sqlx::query(
            "UPDATE conversations SET status = $1, agent_id = NULL, waiting_since = NULL, context = '{}', \
             updated_at = $2, resolved_at = CASE WHEN $1 = 'resolved' THEN $2 ELSE resolved_at END WHERE id = $3",
        )
        .bind(status)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(HandoffError::NotFound(id.into()));
        }
        sqlx::query(
            "UPDATE handoffs SET status = $1, resolved_at = $2 \
             WHERE conversation_id = $3 AND status IN ('waiting', 'assigned')",
        )
        .bind(handoff_status)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        commit_audited(tx, actor, action, id, "", events).await?;
        Ok(())
    }
}
