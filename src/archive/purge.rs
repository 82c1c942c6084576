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

use super::ArchiveError;
use crate::store::{ConversationStatus, SqlStore, timestamp};

#[derive(Debug, Clone)]
pub struct PurgeOptions {
    /// Days after the last activity that a conversation is kept; 0 keeps everything.
    pub retention_days: u32,
    /// Count, do not delete.
    pub dry_run: bool,
    /// Who asked, for the audit log ("cli").
    pub actor: String,
    /// Only this municipality's conversations (its slug, with its own retention); `None`:
    /// every conversation.
    pub municipality: Option<String>,
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
    pub kept_open: Vec<(String, ConversationStatus, String)>,
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

    let mut purge = store.begin_purge().await?;
    let mut expired: Vec<String> = Vec::new();
    let mut contacts: Vec<String> = Vec::new();
    let mut kept_contacts: Vec<String> = Vec::new();
    for c in purge.expired(&cutoff, opts.municipality.as_deref()).await? {
        // A person still has to act: never deleted, however old.
        if c.status.is_open() || c.open_handoff {
            report.kept_open.push((c.id, c.status, c.updated_at));
            kept_contacts.extend(c.contact_id);
            continue;
        }
        if let Some(contact) = c.contact_id
            && !contacts.contains(&contact)
        {
            contacts.push(contact);
        }
        expired.push(c.id);
    }
    contacts.retain(|c| !kept_contacts.contains(c));

    let deleted = purge.delete_conversations(&expired).await?;
    report.conversations = deleted.conversations;
    report.messages = deleted.messages;
    report.handoffs = deleted.handoffs;
    report.notes = deleted.notes;
    report.outbox = deleted.outbox;
    report.webhook_deliveries = deleted.webhook_deliveries;
    // Processed inbound payloads (raw, before redaction) of the purged conversations'
    // contacts, from before the cut-off.
    report.inbox = purge.delete_inbox(&contacts, &cutoff).await?;
    // Contacts nothing refers to any more: their phone numbers go.
    report.contacts = purge.delete_unreferenced_contacts(&cutoff).await?;

    if opts.dry_run {
        purge.rollback().await?;
        return Ok(report);
    }
    purge
        .commit(&opts.actor, "archive.purge", &report.summary())
        .await?;
    Ok(report)
}
