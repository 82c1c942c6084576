//! `loket archive purge`: enforces the retention period (AVG: no longer than needed).
//!
//! A conversation whose last activity (`updated_at`) is older than `retention_days` is deleted
//! with its messages, handoffs, notes, outbox rows and webhook deliveries; the contact's
//! processed inbound payloads from before the cut-off go too, and so do contacts (with their
//! phone numbers) that no conversation refers to any more. A conversation waiting for or
//! assigned to a person is never deleted, however old: it is reported instead. Everything
//! happens in one transaction; a dry run rolls it back, so its counts are exact. The audit log
//! is kept and gets one entry with the cut-off and the counts (never contents).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::Row;

use super::ArchiveError;
use crate::store::{SqlStore, timestamp};

/// Conversation and handoff statuses that mean "a person still has to act".
const OPEN_STATUSES: &str = "'waiting', 'assigned'";
/// Inbound rows still being processed are left alone.
const INBOX_UNFINISHED: &str = "'pending', 'processing'";

#[derive(Debug, Clone)]
pub struct PurgeOptions {
    /// Days after the last activity that a conversation is kept; 0 keeps everything.
    pub retention_days: u32,
    /// Count, do not delete.
    pub dry_run: bool,
    /// Who asked, for the audit log ("cli").
    pub actor: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeReport {
    /// Conversations with last activity before this moment are expired.
    pub cutoff: Option<String>,
    pub dry_run: bool,
    pub conversations: u64,
    pub messages: u64,
    pub handoffs: u64,
    pub notes: u64,
    pub outbox: u64,
    pub inbox: u64,
    pub webhook_deliveries: u64,
    pub contacts: u64,
    /// Expired but kept because a handoff is still open: (id, status, last activity).
    pub kept_open: Vec<(String, String, String)>,
}

impl PurgeReport {
    /// One line for people and for the audit log: the cut-off and the counts.
    pub fn summary(&self) -> String {
        match &self.cutoff {
            None => "retention_days = 0: conversations are kept forever; nothing deleted".into(),
            Some(cutoff) => format!(
                "cut-off {cutoff}: {} conversations, {} messages, {} handoffs, {} notes, {} outbox \
                 rows, {} inbox rows, {} webhook deliveries, {} contacts {}; {} expired \
                 conversations kept because a handoff is open",
                self.conversations,
                self.messages,
                self.handoffs,
                self.notes,
                self.outbox,
                self.inbox,
                self.webhook_deliveries,
                self.contacts,
                if self.dry_run {
                    "would be deleted (dry run)"
                } else {
                    "deleted"
                },
                self.kept_open.len()
            ),
        }
    }
}

/// Placeholders `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deletes what is past the retention period.
pub async fn purge(
    store: &SqlStore,
    opts: &PurgeOptions,
    now: DateTime<Utc>,
) -> Result<PurgeReport, ArchiveError> {
    let mut report = PurgeReport {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    if opts.retention_days == 0 {
        return Ok(report);
    }
    let cutoff = timestamp(now - Duration::days(i64::from(opts.retention_days)));
    report.cutoff = Some(cutoff.clone());

    let mut tx = store.begin_write().await?;
    // PostgreSQL: lock the expired rows, so a message arriving meanwhile waits for us instead
    // of landing in a conversation whose messages we are deleting. SQLite holds the database
    // lock from the first write on; the first statement below is a write for that reason.
    if !store.is_postgres() {
        sqlx::query("UPDATE conversations SET id = id WHERE 1 = 0")
            .execute(&mut *tx)
            .await?;
    }
    let lock = if store.is_postgres() {
        " FOR UPDATE"
    } else {
        ""
    };
    let rows = sqlx::query(&format!(
        "SELECT id, status, updated_at, contact_id FROM conversations WHERE updated_at < $1 \
         ORDER BY updated_at, id{lock}"
    ))
    .bind(&cutoff)
    .fetch_all(&mut *tx)
    .await?;
    let open_handoffs = sqlx::query(&format!(
        "SELECT DISTINCT h.conversation_id FROM handoffs h JOIN conversations c \
         ON c.id = h.conversation_id WHERE c.updated_at < $1 AND h.status IN ({OPEN_STATUSES})"
    ))
    .bind(&cutoff)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>("conversation_id"))
    .collect::<Result<std::collections::HashSet<_>, _>>()?;

    let mut expired: Vec<String> = Vec::new();
    let mut contacts: Vec<String> = Vec::new();
    let mut kept_contacts: Vec<String> = Vec::new();
    for r in &rows {
        let id: String = r.try_get("id")?;
        let status: String = r.try_get("status")?;
        let contact: Option<String> = r.try_get("contact_id")?;
        if matches!(status.as_str(), "waiting" | "assigned") || open_handoffs.contains(&id) {
            report
                .kept_open
                .push((id, status, r.try_get::<String, _>("updated_at")?));
            kept_contacts.extend(contact);
            continue;
        }
        if let Some(c) = contact
            && !contacts.contains(&c)
        {
            contacts.push(c);
        }
        expired.push(id);
    }
    contacts.retain(|c| !kept_contacts.contains(c));

    for chunk in expired.chunks(200) {
        let ids = placeholders(1, chunk.len());
        for (table, counter) in [
            ("messages", &mut report.messages),
            ("handoffs", &mut report.handoffs),
            ("notes", &mut report.notes),
            ("outbox", &mut report.outbox),
            ("webhook_deliveries", &mut report.webhook_deliveries),
            ("conversations", &mut report.conversations),
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
            *counter += query.execute(&mut *tx).await?.rows_affected();
        }
    }
    // Processed inbound payloads (raw, before redaction) of the purged conversations'
    // contacts, from before the cut-off.
    for chunk in contacts.chunks(200) {
        let sql = format!(
            "DELETE FROM inbox WHERE received_at < $1 AND status NOT IN ({INBOX_UNFINISHED}) \
             AND contact_id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(&cutoff);
        for c in chunk {
            query = query.bind(c);
        }
        report.inbox += query.execute(&mut *tx).await?.rows_affected();
    }
    // Contacts nothing refers to any more, untouched since the cut-off and with nothing
    // waiting in the inbox: their phone numbers go.
    report.contacts = sqlx::query(&format!(
        "DELETE FROM contacts WHERE updated_at < $1 \
         AND (last_inbound_at IS NULL OR last_inbound_at < $1) \
         AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = contacts.id) \
         AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = contacts.conversation_id) \
         AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.contact_id = contacts.id \
                         AND i.status IN ({INBOX_UNFINISHED}))"
    ))
    .bind(&cutoff)
    .execute(&mut *tx)
    .await?
    .rows_affected();

    if opts.dry_run {
        tx.rollback().await?;
        return Ok(report);
    }
    // In the same transaction: no deletion without its audit entry.
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, conversation_id, detail) VALUES ($1, $2, $3, NULL, $4)",
    )
    .bind(timestamp(Utc::now()))
    .bind(&opts.actor)
    .bind("archive.purge")
    .bind(report.summary())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(report)
}
