//! Sending queued replies to the Graph API: one contact's replies in order, at most
//! `whatsapp.rate_limit_per_sec` per phone number, retried with backoff and jitter on 429,
//! 5xx and network errors, never on other 4xx. A row is marked sent as soon as the Graph
//! API accepts it; the only window for a duplicate is a crash between the API's answer and
//! that update (the API has no idempotency key to close it).

use std::sync::Arc;

use chrono::{Duration, Utc};
use tokio::sync::Notify;

use crate::engine::Engine;
use crate::store::queue::OutboxItem;
use crate::whatsapp::client::{GraphClient, SendError, backoff};
use crate::whatsapp::ratelimit::RateLimiter;

/// Longer than the client's request timeout, so a live sender keeps its claim.
pub const LEASE_SECS: i64 = 30;
/// Attempts before a reply is given up as `failed` (about a day of backoff).
pub const MAX_ATTEMPTS: i64 = 12;

pub async fn run(engine: Arc<Engine>, client: Arc<GraphClient>, wake: Arc<Notify>, worker: String) {
    let limiter = RateLimiter::new(engine.config.whatsapp.rate_limit_per_sec.max(1));
    let number = engine.config.whatsapp.phone_number_id.clone();
    loop {
        let items = match engine
            .store
            .claim_outbox(&worker, 32, Duration::seconds(LEASE_SECS))
            .await
        {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(error = %e, "outbox: cannot claim replies; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if items.is_empty() {
            super::idle(&wake).await;
            continue;
        }
        let mut set = tokio::task::JoinSet::new();
        for item in items {
            limiter.acquire(&number).await;
            let engine = engine.clone();
            let client = client.clone();
            set.spawn(async move { send(&engine, &client, item).await });
        }
        while set.join_next().await.is_some() {}
    }
}

async fn send(engine: &Engine, client: &GraphClient, item: OutboxItem) {
    let store = &engine.store;
    let Some(address) = item.address.clone() else {
        let _ = store
            .outbox_failed(&item, "the contact's address is gone (purged?)", None)
            .await;
        return;
    };
    let mut body = item.body.clone();
    body["to"] = serde_json::Value::String(address);
    let result = client.send(&body).await;
    let outcome = match &result {
        Ok(ok) => store.outbox_sent(&item, ok.message_id.as_deref()).await,
        Err(e) => {
            let next = match e {
                SendError::Retryable { retry_after, .. } if item.attempts < MAX_ATTEMPTS => {
                    let wait = retry_after.unwrap_or_else(|| backoff(item.attempts as u32));
                    Some(Utc::now() + Duration::from_std(wait).unwrap_or(Duration::seconds(60)))
                }
                _ => None,
            };
            tracing::warn!(
                outbox_id = item.id,
                attempt = item.attempts,
                retry = next.is_some(),
                error = %e,
                "outbox: send failed"
            );
            store.outbox_failed(&item, &e.to_string(), next).await
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(outbox_id = item.id, error = %e, "outbox: cannot record the send; the lease will run out");
    }
}
