//! `GET /v1/chat/{conversation_id}/messages?after={id}`: the messages of a web chat
//! conversation, for restoring the widget after a reload and for polling.
//!
//! A minimal version on the message archive: citizen (`in`) and bot (`out`) messages; the
//! options still on offer are attached to the last bot message. The status is always
//! `bot` until the contact-centre side exists. An unknown conversation is not an error: it
//! answers with no messages.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::dialogue::ReplyOption;
use crate::engine::EngineError;

#[derive(Debug, Deserialize)]
pub struct AfterQuery {
    /// Only messages with a larger id.
    #[serde(default)]
    pub after: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct ChatMessage {
    pub id: i64,
    pub from: &'static str,
    pub text: String,
    pub options: Vec<ReplyOption>,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct ChatMessages {
    pub conversation_id: String,
    pub status: &'static str,
    pub messages: Vec<ChatMessage>,
}

pub async fn get_messages(
    State(state): State<AppState>,
    Path(conversation_id): Path<String>,
    query: Result<Query<AfterQuery>, QueryRejection>,
) -> Result<Json<ChatMessages>, ApiError> {
    let Query(q) = query.map_err(|_| {
        ApiError::BadRequest("`after` must be a message id (a whole number)".into())
    })?;
    let conversation_id = conversation_id.trim().to_string();
    if conversation_id.is_empty() || conversation_id.len() > 128 {
        return Err(ApiError::Invalid(
            "conversation_id must be 1 to 128 characters".into(),
        ));
    }
    let store = &state.engine.store;
    let transcript = store
        .transcript(&conversation_id)
        .await
        .map_err(EngineError::Store)?;
    let offered = store
        .context(&conversation_id)
        .await
        .map_err(EngineError::Store)?
        .map(|c| c.options)
        .unwrap_or_default();
    let last_out = transcript
        .iter()
        .rev()
        .find(|m| m.direction == "out")
        .map(|m| m.id);
    let after = q.after.unwrap_or(0);
    let messages = transcript
        .into_iter()
        .filter(|m| m.id > after)
        .map(|m| ChatMessage {
            id: m.id,
            from: if m.direction == "in" {
                "citizen"
            } else {
                "bot"
            },
            options: if Some(m.id) == last_out {
                offered.clone()
            } else {
                Vec::new()
            },
            text: m.text,
            created_at: m.created_at,
        })
        .collect();
    Ok(Json(ChatMessages {
        conversation_id,
        status: "bot",
        messages,
    }))
}
