//! The handoff API for webcare platforms (the rules are in [`crate::handoff`]) (OBI4wan/Spotler Engage, Chatwoot, Mitel, a KCC's
//! own tooling); every endpoint needs a key with the `agent` scope. See `/openapi.json`.
//!
//! - `GET /v1/handoffs?department=&status=&min_waiting_secs=`: the queue, longest waiting first;
//! - `GET /v1/conversations/{id}`: a conversation with transcript, notes and handoffs;
//! - `POST /v1/conversations/{id}/claim` `{agent_id}`: one agent at a time (409 otherwise);
//! - `POST …/reply` `{agent_id, text}`: relayed to the citizen's channel (on WhatsApp as the
//!   template when the 24-hour window has closed);
//! - `POST …/notes` `{agent_id, text}`: internal, never shown to the citizen;
//! - `POST …/transfer` `{department}`; `POST …/resolve`; `POST …/release` (back to the bot).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::handoff::{Desk, DeskError, Relayed};
use crate::store::ConversationStatus;
use crate::store::handoff::{ConversationDetail, QueueEntry, QueueFilter};
use crate::store::keys::Scope;

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        match e {
            DeskError::NotFound(id) => ApiError::Missing(format!("no conversation {id}")),
            DeskError::Conflict(m) => ApiError::Conflict(m),
            e @ DeskError::UnknownDepartment { .. } => ApiError::Invalid(e.to_string()),
            DeskError::Store(e) => e.into(),
        }
    }
}

/// The desk as `caller` sees it: only the municipalities its key serves.
fn desk<'a>(state: &'a AppState, caller: &'a Caller) -> Desk<'a> {
    Desk {
        store: &state.parts.store,
        municipalities: &state.parts.municipalities,
        settings: &state.parts.settings,
        serves: &caller.key.municipalities,
    }
}

fn body<T>(b: Result<Json<T>, JsonRejection>, state: &AppState) -> Result<T, ApiError> {
    b.map(|Json(v)| v)
        .map_err(|r| ApiError::from_json_rejection(r, state.parts.settings.server.body_limit_bytes))
}

fn agent_id(s: &str) -> Result<String, ApiError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 128 {
        return Err(ApiError::Invalid(
            "agent_id must be 1 to 128 characters".into(),
        ));
    }
    Ok(s.to_string())
}

fn text(s: &str) -> Result<String, ApiError> {
    if s.trim().is_empty() {
        return Err(ApiError::Invalid("text is empty".into()));
    }
    if s.chars().count() > super::messages::MAX_TEXT_CHARS {
        return Err(ApiError::Invalid(format!(
            "text is longer than {} characters",
            super::messages::MAX_TEXT_CHARS
        )));
    }
    Ok(s.to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    pub department: Option<String>,
    pub status: Option<String>,
    pub min_waiting_secs: Option<i64>,
    pub limit: Option<i64>,
    /// Comma-separated slugs: only these municipalities' conversations.
    pub municipality: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct QueueResponse {
    pub conversations: Vec<QueueEntry>,
}

pub async fn queue(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<QueueQuery>,
) -> Result<Json<QueueResponse>, ApiError> {
    caller.require(Scope::Agent)?;
    let mut statuses = Vec::new();
    if let Some(s) = &q.status {
        for part in s.split(',') {
            match part.trim().parse::<ConversationStatus>() {
                Ok(status) => statuses.push(status),
                Err(_) => {
                    return Err(ApiError::Invalid(format!(
                        "unknown status \"{part}\": use waiting, assigned, resolved or bot"
                    )));
                }
            }
        }
    }
    let conversations = desk(&state, &caller)
        .queue(&QueueFilter {
            department: q.department,
            statuses,
            min_waiting_secs: q.min_waiting_secs,
            limit: q.limit.unwrap_or(100).clamp(1, 1000),
            municipalities: q
                .municipality
                .iter()
                .flat_map(|m| m.split(','))
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect(),
        })
        .await?;
    Ok(Json(QueueResponse { conversations }))
}

pub async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetail>, ApiError> {
    caller.require(Scope::Agent)?;
    Ok(Json(desk(&state, &caller).conversation(&id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentBody {
    pub agent_id: String,
}

pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<AgentBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Agent)?;
    let agent = agent_id(&body(b, &state)?.agent_id)?;
    desk(&state, &caller)
        .claim(&id, &agent, &caller.actor())
        .await?;
    Ok(Json(
        json!({"conversation_id": id, "status": "assigned", "agent_id": agent}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    pub agent_id: String,
    pub text: String,
}

/// The checked agent id and text of a reply or a note, from an agent's key.
fn agent_and_text(
    caller: &Caller,
    b: Result<Json<TextBody>, JsonRejection>,
    state: &AppState,
) -> Result<(String, String), ApiError> {
    caller.require(Scope::Agent)?;
    let b = body(b, state)?;
    Ok((agent_id(&b.agent_id)?, text(&b.text)?))
}

pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<TextBody>, JsonRejection>,
) -> Result<Json<Relayed>, ApiError> {
    let (agent, original) = agent_and_text(&caller, b, &state)?;
    let relayed = desk(&state, &caller)
        .reply(&id, &agent, &original, &caller.actor())
        .await?;
    if relayed.queued {
        state.wakers.outbox.notify_one();
    }
    Ok(Json(relayed))
}

pub async fn note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<TextBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let (agent, note) = agent_and_text(&caller, b, &state)?;
    let note_id = desk(&state, &caller)
        .note(&id, &agent, &note, &caller.actor())
        .await?;
    Ok(Json(json!({"conversation_id": id, "note_id": note_id})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    pub department: String,
    #[serde(default)]
    pub agent_id: Option<String>,
}

pub async fn transfer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<TransferBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Agent)?;
    let b = body(b, &state)?;
    let department = desk(&state, &caller)
        .transfer(&id, &b.department, b.agent_id.as_deref(), &caller.actor())
        .await?;
    Ok(Json(
        json!({"conversation_id": id, "status": "waiting", "department": department}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionalAgent {
    #[serde(default)]
    pub agent_id: Option<String>,
}

async fn close(
    state: AppState,
    caller: Caller,
    id: String,
    b: Option<Json<OptionalAgent>>,
    resolve: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Agent)?;
    let agent = b.and_then(|Json(b)| b.agent_id);
    let status = desk(&state, &caller)
        .close(&id, resolve, agent.as_deref(), &caller.actor())
        .await?;
    Ok(Json(json!({"conversation_id": id, "status": status})))
}

pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    b: Option<Json<OptionalAgent>>,
) -> Result<Json<Value>, ApiError> {
    close(state, caller, id, b, true).await
}

pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    b: Option<Json<OptionalAgent>>,
) -> Result<Json<Value>, ApiError> {
    close(state, caller, id, b, false).await
}
