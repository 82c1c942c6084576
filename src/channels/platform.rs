//! Webhooks to the webcare platform: `handoff.requested`, `handoff.claimed`,
//! `message.created`, `conversation.resolved`, `conversation.released`. Each POST carries
//!
//! - `X-Loket-Event`: the event name;
//! - `X-Loket-Delivery`: the delivery id, the same on every retry (deduplicate on it);
//! - `X-Loket-Timestamp`: unix seconds of this attempt;
//! - `X-Loket-Signature`: `sha256=` HMAC-SHA256 with `handoff.webhook_secret` over
//!   `"{timestamp}.{body}"` — reject old timestamps to stop replays.
//!
//! Where one Loket serves several municipalities, each may have its own platform
//! (`[handoff.municipalities.<slug>]`, own URL and secret); an event goes to the platform of
//! its conversation's municipality.
//!
//! Non-2xx answers and network errors are retried with backoff (1 s doubling, capped at
//! 5 minutes, with jitter) up to [`MAX_ATTEMPTS`].

use std::sync::Arc;

use chrono::{Duration, Utc};

use crate::channels::whatsapp::client::backoff;
use crate::config::HandoffConfig;
use crate::shutdown::Stop;
use crate::store::SqlStore;
use crate::store::webhooks::Delivery;

pub const MAX_ATTEMPTS: i64 = 15;

/// `sha256=<hex>` over `"{timestamp}.{body}"`, the same HMAC-SHA256 as Meta's webhooks.
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    crate::channels::whatsapp::signature::sign(secret, format!("{timestamp}.{body}").as_bytes())
}

/// Delivers due events until `stop` (a delivery under way is finished and recorded).
pub async fn run(
    store: Arc<SqlStore>,
    settings: HandoffConfig,
    default_municipality: String,
    mut stop: Stop,
) {
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "platform webhooks: cannot build an HTTP client");
            return;
        }
    };
    while !stop.is_set() {
        let claim = store.claim_deliveries(16, Duration::seconds(30)).await;
        let Some(due) = super::claimed(claim, "platform webhooks: cannot claim deliveries").await
        else {
            continue;
        };
        if due.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(super::POLL) => {}
                _ = stop.wait() => {}
            }
            continue;
        }
        for mut d in due {
            // An event of a conversation stored without a municipality is the default one's.
            if d.municipality.is_empty() {
                d.municipality = default_municipality.clone();
            }
            deliver(&store, &settings, &client, d).await;
        }
    }
}

async fn deliver(store: &SqlStore, cfg: &HandoffConfig, client: &reqwest::Client, d: Delivery) {
    // Each municipality's events go to its own platform, signed with its own secret.
    let Some((url, secret)) = cfg.target(&d.municipality) else {
        let why = format!("no webcare platform for municipality `{}`", d.municipality);
        if let Err(e) = store.delivery_done(&d.id, Err((why, None))).await {
            tracing::warn!(error = %e, "platform webhooks: cannot record a delivery");
        }
        return;
    };
    let ts = Utc::now().timestamp();
    let sig = signature(secret.expose().as_bytes(), ts, &d.payload);
    let result = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-loket-event", &d.event)
        .header("x-loket-delivery", &d.id)
        .header("x-loket-timestamp", ts.to_string())
        .header("x-loket-signature", sig)
        .body(d.payload.clone())
        .send()
        .await;
    let outcome = match result {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("the platform answered {}", r.status())),
        Err(e) => Err(format!("request failed: {}", e.without_url())),
    };
    let record = match outcome {
        Ok(()) => Ok(()),
        Err(error) => {
            let next = (d.attempts < MAX_ATTEMPTS).then(|| {
                Utc::now()
                    + Duration::from_std(backoff(d.attempts as u32))
                        .unwrap_or(Duration::seconds(60))
            });
            tracing::warn!(delivery = %d.id, event = %d.event, attempt = d.attempts, %error, "platform webhook failed");
            Err((error, next))
        }
    };
    if let Err(e) = store.delivery_done(&d.id, record).await {
        tracing::warn!(error = %e, "platform webhooks: cannot record a delivery");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let a = signature(b"geheim", 1_700_000_000, "{\"a\":1}");
        assert!(a.starts_with("sha256="));
        assert_eq!(a.len(), 7 + 64);
        assert_ne!(a, signature(b"geheim", 1_700_000_001, "{\"a\":1}"));
        assert_ne!(a, signature(b"geheim", 1_700_000_000, "{\"a\":2}"));
        assert_ne!(a, signature(b"anders", 1_700_000_000, "{\"a\":1}"));
    }
}
