//! `POST /v1/messages`: a citizen's message in, Loket's reply out.
//!
//! Request: `{"conversation_id": "...", "channel": "web", "text": "..."}` (optional
//! `option_id` when the citizen clicked an offered option). Response: `reply` (`text`,
//! `options`), `action`, `intent`, `confidence`, `faq_id`.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::dialogue::ReplyOption;
use crate::engine::Incoming;

/// Longest message text accepted, in characters (WhatsApp's own limit).
pub const MAX_TEXT_CHARS: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub conversation_id: String,
    #[serde(default = "default_channel")]
    pub channel: String,
    pub text: String,
    #[serde(default)]
    pub option_id: Option<String>,
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
}

pub async fn post_message(
    State(state): State<AppState>,
    body: Result<Json<MessageRequest>, JsonRejection>,
) -> Result<Json<MessageResponse>, ApiError> {
    let Json(req) = body.map_err(|r| {
        ApiError::from_json_rejection(r, state.engine.config.server.body_limit_bytes)
    })?;
    let conversation_id = req.conversation_id.trim().to_string();
    if conversation_id.is_empty() || conversation_id.len() > 128 {
        return Err(ApiError::Invalid(
            "conversation_id must be 1 to 128 characters".into(),
        ));
    }
    if !matches!(req.channel.as_str(), "web" | "whatsapp" | "test") {
        return Err(ApiError::Invalid(
            "channel must be \"web\" (or \"whatsapp\" for relayed messages)".into(),
        ));
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
    let handled = state
        .engine
        .handle(Incoming {
            conversation_id: conversation_id.clone(),
            channel: req.channel,
            text: req.text,
            button_id: req.option_id,
            received_at: Utc::now(),
        })
        .await?;
    let r = handled.reply;
    Ok(Json(MessageResponse {
        conversation_id,
        reply: ReplyBody {
            text: r.text,
            options: r.options,
        },
        action: r.action.as_str(),
        intent: r.intent,
        confidence: r.confidence,
        faq_id: r.faq_id,
    }))
}
