//! Processing queued inbound messages: claim (one per contact at a time), find or start the
//! contact's conversation, mark the message read with a typing indicator, decide, and
//! commit the turn with its reply in the outbox — all or nothing. A processor that dies
//! mid-way leaves a lease that runs out; the next claim redoes the message, and the store's
//! exactly-once check keeps a slow first attempt from writing a second turn.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::Wakers;
use super::conversation::{Conversations, Incoming, TurnError};
use super::whatsapp::client::GraphClient;
use super::whatsapp::{outbound, render};
use crate::classifier::WorkerError;
use crate::privacy::PiiKind;
use crate::shutdown::Stop;
use crate::store::queue::InboxItem;
use crate::store::{ConversationStatus, StoreError};
use crate::turn::{self, Origin};

/// How long a claim is held before another processor may take the message over.
pub const LEASE_SECS: i64 = 15;
/// Attempts before a message is parked as `failed` (kept for inspection).
pub const MAX_ATTEMPTS: i64 = 20;

/// Claims and answers messages until `stop`; the messages in hand are finished first.
pub async fn run(
    conversations: Conversations,
    client: Arc<GraphClient>,
    wakers: Wakers,
    worker: String,
    mut stop: Stop,
) {
    let batch = conversations.settings.classifier.max_batch.clamp(1, 16) as i64;
    while !stop.is_set() {
        let claim =
            conversations
                .store
                .claim_inbound(&worker, batch, Duration::seconds(LEASE_SECS));
        let Some(items) = super::claimed(claim.await, "inbox: cannot claim messages").await else {
            continue;
        };
        if items.is_empty() {
            super::idle(&wakers.inbox, &mut stop).await;
            continue;
        }
        // Different contacts: safe to process side by side (the encoder batches them).
        let mut set = tokio::task::JoinSet::new();
        for item in items {
            let conversations = conversations.clone();
            let client = client.clone();
            set.spawn(async move { process(&conversations, &client, item).await });
        }
        let mut sent = false;
        while let Some(r) = set.join_next().await {
            sent |= matches!(r, Ok(true));
        }
        if sent {
            wakers.outbox.notify_one();
        }
    }
}

/// The conversation a contact's new message belongs to: the current one, unless it was
/// resolved or has been idle longer than `handoff.conversation_idle_hours`.
async fn conversation_for(
    conversations: &Conversations,
    item: &InboxItem,
    now: DateTime<Utc>,
) -> Result<(String, bool), StoreError> {
    let store = &conversations.store;
    let contact = store.contact(&item.contact_id).await?;
    let idle = Duration::hours(
        conversations
            .settings
            .handoff
            .conversation_idle_hours
            .max(1),
    );
    let window_open = render::window_open(contact.as_ref().and_then(|c| c.last_inbound_at), now);
    if let Some(current) = contact.as_ref().and_then(|c| c.conversation_id.clone()) {
        match store.conversation_state(&current).await? {
            None => return Ok((current, window_open)),
            Some(st) => {
                let recent = DateTime::parse_from_rfc3339(&st.updated_at)
                    .map(|t| now - t.with_timezone(&Utc) < idle)
                    .unwrap_or(false);
                // A conversation with a person stays open however long it takes.
                if st.status.is_open() || (st.status != ConversationStatus::Resolved && recent) {
                    return Ok((current, window_open));
                }
            }
        }
    }
    let id = format!("wa-{}", uuid::Uuid::now_v7().simple());
    store
        .set_contact_conversation(&item.contact_id, &id)
        .await?;
    Ok((id, window_open))
}

/// Processes one message; true when a reply was queued.
async fn process(conversations: &Conversations, client: &GraphClient, item: InboxItem) -> bool {
    let now = Utc::now();
    let (conversation_id, window_open) = match conversation_for(conversations, &item, now).await {
        Ok(c) => c,
        Err(e) => {
            retry_later(conversations, &item, &e.to_string(), 2).await;
            return false;
        }
    };
    if item.attempts == 1 && window_open {
        // Best effort, not retried: the citizen sees "read" and "typing…" while Loket thinks.
        let body = outbound::mark_read(&item.external_id, true);
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(e) = client.send(&body).await {
                tracing::debug!(error = %e, "mark-as-read failed");
            }
        });
    }
    let p = &item.payload;
    let incoming = Incoming {
        origin: Origin {
            conversation_id: conversation_id.clone(),
            municipality: p.municipality.clone().unwrap_or_default(),
            channel: item.channel,
            contact_id: Some(item.contact_id.clone()),
            inbox_id: Some(item.id),
            external_id: Some(item.external_id.clone()),
            meta: p.meta.clone(),
        },
        message: turn::Message {
            text: p.text.clone(),
            kind: p.kind.clone(),
            button_id: p.option_id.clone(),
            pii: p.pii.iter().filter_map(|k| PiiKind::parse(k)).collect(),
            received_at: p.sent_at.min(now),
        },
        window_open: Some(window_open),
    };
    match conversations.handle(incoming).await {
        Ok(h) => !h.agent_owned,
        Err(TurnError::Store(StoreError::AlreadyProcessed(_))) => false,
        Err(TurnError::Classifier(WorkerError::Overloaded)) => {
            retry_later(conversations, &item, "classifier busy", 1).await;
            false
        }
        Err(e) => {
            tracing::warn!(inbox_id = item.id, error = %e, "inbox: processing failed; will retry");
            retry_later(
                conversations,
                &item,
                &e.to_string(),
                2i64.pow(item.attempts.clamp(1, 6) as u32),
            )
            .await;
            false
        }
    }
}

async fn retry_later(conversations: &Conversations, item: &InboxItem, error: &str, secs: i64) {
    if let Err(e) = conversations
        .store
        .release_inbound(item.id, error, Duration::seconds(secs), MAX_ATTEMPTS)
        .await
    {
        tracing::warn!(error = %e, "inbox: cannot release a message; its lease will run out");
    }
}
