//! The WhatsApp Cloud API webhook.
//!
//! - `GET /webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`: Meta's
//!   verification; answers the challenge only when the token matches.
//! - `POST /webhooks/whatsapp`: checks `X-Hub-Signature-256` over the raw body (401 and
//!   nothing processed when it is missing or wrong), then persists every message of the
//!   (possibly batched) delivery in one transaction, deduplicated on its wamid, and only
//!   then answers 200; the processing happens in [`crate::channels::inbox`]. Delivery
//!   statuses update the stored outbound message. A database that is down answers 503 so
//!   that Meta delivers again later: nothing acknowledged is lost.
//!
//! Texts are redacted by the privacy guard before they are queued; the citizen's number is
//! kept only in `contacts` (to reply) and is named everywhere else by a keyed hash.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::AppState;
use super::error::ApiError;
use crate::channels::whatsapp::{signature, wire};
use crate::store::Channel;
use crate::store::queue::{InboundPayload, NewInbound};

/// Meta's deliveries are small; a batched one stays far below this.
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

/// The name of a contact everywhere but `contacts.address`: a keyed hash of the number.
pub fn contact_id(secret: &[u8], wa_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"contact:");
    mac.update(wa_id.as_bytes());
    format!("wa-{}", &hex::encode(mac.finalize().into_bytes())[..24])
}

fn enabled(state: &AppState) -> Result<(), ApiError> {
    if state.parts.settings.whatsapp.enabled {
        Ok(())
    } else {
        Err(ApiError::Missing(
            "WhatsApp is not enabled on this Loket (whatsapp.enabled)".into(),
        ))
    }
}

pub async fn verify(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    enabled(&state)?;
    let expected = state
        .parts
        .settings
        .whatsapp
        .verify_token
        .expose()
        .as_bytes();
    let given = q
        .get("hub.verify_token")
        .map(|s| s.as_bytes())
        .unwrap_or(b"");
    let mode_ok = q.get("hub.mode").map(String::as_str) == Some("subscribe");
    let token_ok =
        !expected.is_empty() && given.len() == expected.len() && subtle_eq(given, expected);
    match (mode_ok && token_ok, q.get("hub.challenge")) {
        (true, Some(challenge)) => Ok((StatusCode::OK, challenge.clone())),
        _ => Ok((StatusCode::FORBIDDEN, "verification failed".to_string())),
    }
}

fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    enabled(&state)?;
    let cfg = &state.parts.settings.whatsapp;
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(cfg.app_secret.expose().as_bytes(), &body, header) {
        tracing::warn!(error = %e, "whatsapp webhook: signature rejected");
        return Err(ApiError::BadSignature);
    }
    let events = wire::parse(&body)
        .map_err(|e| ApiError::BadRequest(format!("not a WhatsApp webhook: {e}")))?;
    let secret = cfg.app_secret.expose().as_bytes();
    let mut inbound = Vec::new();
    let mut statuses = 0;
    let places = &state.parts.municipalities;
    for event in events {
        match event {
            wire::Event::Message(m) => {
                if matches!(m.content, wire::Content::Reaction { .. }) {
                    continue; // a thumbs-up needs no answer
                }
                // One Meta app, many numbers: the number written to names the municipality.
                let Some(place) = places.by_phone_number_id(&m.phone_number_id) else {
                    tracing::warn!(
                        phone_number_id = %m.phone_number_id,
                        "whatsapp webhook: a message to a number no municipality here has; \
                         set whatsapp_phone_number_id in its municipality.toml"
                    );
                    crate::metrics::record_webhook_unrouted();
                    continue;
                };
                // A citizen writing to two municipalities has two contacts, two conversations.
                let scoped = if place.slug == places.default().slug {
                    m.from.clone()
                } else {
                    format!("{}/{}", place.slug, m.from)
                };
                let text = m.content.text_for_understanding().unwrap_or_default();
                // Meta's own limit; a longer text is cut before the guard reads it, so no
                // delivery can make one message arbitrarily costly (a 72 KB text took 500 MB).
                let text = crate::text::truncate_chars(&text, crate::text::MAX_MESSAGE_CHARS);
                let redacted = crate::privacy::redact(text);
                inbound.push(NewInbound {
                    channel: Channel::Whatsapp,
                    external_id: m.id.clone(),
                    contact_id: contact_id(secret, &scoped),
                    address: m.from.clone(),
                    payload: InboundPayload {
                        kind: m.content.kind().to_string(),
                        pii: redacted
                            .kinds()
                            .iter()
                            .map(|k| k.as_str().to_string())
                            .collect(),
                        text: redacted.text,
                        option_id: m.content.option_id().map(str::to_string),
                        meta: Some(m.content.metadata_json()).filter(|v| !v.is_null()),
                        sent_at: m.timestamp,
                        municipality: Some(place.slug.clone()),
                    },
                });
            }
            wire::Event::Status(s) => {
                statuses += 1;
                let status = s.status.as_str();
                if let Err(e) = state
                    .parts
                    .store
                    .update_delivery_status(&s.id, status, s.timestamp)
                    .await
                {
                    return Err(ApiError::from(e));
                }
            }
        }
    }
    let new = state.parts.store.enqueue_inbound(&inbound).await?;
    if new > 0 {
        state.wakers.inbox.notify_one();
    }
    tracing::debug!(
        messages = inbound.len(),
        new,
        statuses,
        "whatsapp webhook accepted"
    );
    Ok((StatusCode::OK, "EVENT_RECEIVED"))
}
