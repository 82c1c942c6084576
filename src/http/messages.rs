//! `POST /v1/messages`: a citizen's message in, Loket's reply out.
//!
//! Request: `{"conversation_id": "...", "channel": "web", "text": "..."}` (optional
//! `option_id` when the citizen clicked an offered option; optional `municipality`, the
//! slug of the municipality when one Loket serves several, default the first). Response: `reply` (`text`,
//! `options`), `action` (`agent` while a person owns the conversation: then the text is
//! empty), `intent`, `confidence`, `faq_id`, `message_ids`.

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::client::{ClientAddr, client_ip};
use super::error::ApiError;
use crate::channels::conversation::Incoming;
use crate::dialogue::ReplyOption;
use crate::store::Channel;

/// Longest message text accepted, in characters (WhatsApp's own limit).
pub const MAX_TEXT_CHARS: usize = crate::text::MAX_MESSAGE_CHARS;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub conversation_id: String,
    #[serde(default = "default_channel")]
    pub channel: String,
    pub text: String,
    #[serde(default)]
    pub option_id: Option<String>,
    /// The municipality's slug (`gemeente` is accepted too); absent: the default one.
    #[serde(default, alias = "gemeente")]
    pub municipality: Option<String>,
}

fn default_channel() -> String {
    "web".into()
}

#[derive(Debug, Serialize)]
pub struct ReplyBody {
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ReplyOption>,
}

#[derive(Debug, Serialize)]
pub struct MessageResponse {
    pub conversation_id: String,
    pub reply: ReplyBody,
    pub action: &'static str,
    pub intent: Option<String>,
    pub confidence: f32,
    pub faq_id: Option<String>,
    /// Ids of the stored messages, so a chat window can deduplicate what it polls.
    pub message_ids: MessageIds,
}

#[derive(Debug, Serialize)]
pub struct MessageIds {
    pub citizen: i64,
    /// None while a person owns the conversation (the bot stays silent).
    pub reply: Option<i64>,
}

pub async fn post_message(
    State(state): State<AppState>,
    peer: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Result<Json<MessageRequest>, JsonRejection>,
) -> Result<Json<MessageResponse>, ApiError> {
    // The address first: a client that rotates conversation ids is still one client.
    if let Some(ip) = client_ip(peer.map(|p| p.0.0), &headers, &state.trusted_proxies) {
        state.client_limiter.check_or_delay(&ip.to_string()).await?;
    }
    let Json(req) = body.map_err(|r| {
        ApiError::from_json_rejection(r, state.parts.settings.server.body_limit_bytes)
    })?;
    let conversation_id = req.conversation_id.trim().to_string();
    if conversation_id.is_empty()
        || conversation_id.len() > 128
        || !crate::text::is_printable_id(&conversation_id)
    {
        return Err(ApiError::Invalid(
            "conversation_id must be 1 to 128 printable characters".into(),
        ));
    }
    let Ok(channel) = req.channel.parse::<Channel>() else {
        return Err(ApiError::Invalid(
            "channel must be \"web\" (or \"whatsapp\" for relayed messages)".into(),
        ));
    };
    // Only the web chat is open to everyone; relaying another channel's messages takes a
    // key, so nobody can pose as a WhatsApp contact.
    if channel != Channel::Web {
        super::auth::caller(&headers, &state)
            .await?
            .require(crate::store::keys::Scope::Agent)?;
    }
    if req.text.trim().is_empty() && req.option_id.is_none() {
        return Err(ApiError::Invalid(
            "text is empty: send the citizen's question".into(),
        ));
    }
    if req.text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::Invalid(format!(
            "text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    state
        .limiter
        .check_or_delay(&format!("conv:{conversation_id}"))
        .await?;
    let mut incoming = Incoming::new(&conversation_id, channel, &req.text);
    incoming.message.button_id = req.option_id;
    incoming.origin.municipality = req.municipality.unwrap_or_default();
    let handled = state.parts.handle(incoming).await?;
    let r = handled.reply;
    Ok(Json(MessageResponse {
        conversation_id,
        reply: ReplyBody {
            text: r.text,
            options: r.options,
        },
        action: if handled.agent_owned {
            "agent"
        } else {
            r.action.as_str()
        },
        intent: r.intent,
        confidence: r.confidence,
        faq_id: r.faq_id,
        message_ids: MessageIds {
            citizen: handled.ids.citizen,
            reply: handled.ids.reply,
        },
    }))
}
