//! `GET /v1/chat/{conversation_id}/messages?after=N`: the web chat's view of its own
//! conversation, to restore it after a page reload and to poll for replies from a person.
//! The conversation id is a random id the browser made, so knowing it is the credential;
//! the endpoint is rate-limited like `/v1/messages`. Internal notes are never shown here.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::dialogue::ReplyOption;
use crate::store::{Channel, Sender, Store};

#[derive(Debug, Deserialize)]
pub struct ChatQuery {
    #[serde(default)]
    pub after: i64,
}

#[derive(Debug, Serialize)]
pub struct ChatMessage {
    pub id: i64,
    /// `citizen`, `bot` or `agent`.
    pub from: String,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ReplyOption>,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct ChatTranscript {
    pub conversation_id: String,
    /// `bot`, `waiting` (for a person), `assigned` (a person answers), `resolved`; `new`
    /// when the conversation does not exist yet.
    pub status: String,
    pub messages: Vec<ChatMessage>,
}

pub async fn messages(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ChatQuery>,
) -> Result<Json<ChatTranscript>, ApiError> {
    if id.is_empty() || id.len() > 128 || !crate::text::is_printable_id(&id) {
        return Err(ApiError::Invalid(
            "conversation id must be 1 to 128 characters".into(),
        ));
    }
    state.limiter.check_or_delay(&format!("poll:{id}")).await?;
    let store = &state.parts.store;
    // Another channel's conversation (WhatsApp) is not the web chat's to read.
    let conv = store
        .conversation_state(&id)
        .await?
        .filter(|c| c.channel == Channel::Web);
    let Some(conv) = conv else {
        return Ok(Json(ChatTranscript {
            conversation_id: id,
            status: "new".into(),
            messages: Vec::new(),
        }));
    };
    let all = store.transcript(&id).await?;
    let last_bot = all
        .iter()
        .rev()
        .find(|m| m.sender == Sender::Bot)
        .map(|m| m.id);
    let messages = all
        .into_iter()
        .filter(|m| m.id > q.after)
        .map(|m| ChatMessage {
            options: if Some(m.id) == last_bot && m.action.as_deref() == Some("clarify") {
                conv.context.options.clone()
            } else {
                Vec::new()
            },
            id: m.id,
            from: m.sender.to_string(),
            text: m.text,
            created_at: m.created_at,
        })
        .collect();
    Ok(Json(ChatTranscript {
        conversation_id: id,
        status: conv.status.to_string(),
        messages,
    }))
}
