//! The handoff API for webcare platforms (OBI4wan/Spotler Engage, Chatwoot, Mitel, a KCC's
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
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::channels::whatsapp::render;
use crate::engine::message_event;
use crate::store::handoff::{ConversationDetail, HandoffError, QueueEntry, QueueFilter};
use crate::store::keys::Scope;
use crate::store::{Channel, ConversationStatus, Direction, MessageRecord, PlatformEvent, Sender};

impl From<HandoffError> for ApiError {
    fn from(e: HandoffError) -> Self {
        match e {
            HandoffError::NotFound(id) => ApiError::Missing(format!("no conversation {id}")),
            HandoffError::Conflict(m) => ApiError::Conflict(m),
            HandoffError::Store(e) => e.into(),
        }
    }
}

fn body<T>(b: Result<Json<T>, JsonRejection>, state: &AppState) -> Result<T, ApiError> {
    b.map(|Json(v)| v)
        .map_err(|r| ApiError::from_json_rejection(r, state.engine.config.server.body_limit_bytes))
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
    let conversations = state
        .engine
        .store
        .list_queue(&QueueFilter {
            department: q.department,
            statuses,
            min_waiting_secs: q.min_waiting_secs,
            limit: q.limit.unwrap_or(100).clamp(1, 1000),
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
    state
        .engine
        .store
        .conversation_detail(&id, render::WINDOW_HOURS)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::Missing(format!("no conversation {id}")))
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
    let events = events(&state, "handoff.claimed", json!({ "agent_id": agent }));
    state
        .engine
        .store
        .claim(&id, &agent, &caller.actor(), &events)
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

#[derive(Debug, Serialize)]
pub struct ReplyResponse {
    pub conversation_id: String,
    pub message_id: i64,
    /// `web` (shown in the chat window), `text` or `template` (WhatsApp).
    pub sent_as: String,
    /// WhatsApp: whether the 24-hour window was open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_open: Option<bool>,
}

pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<TextBody>, JsonRejection>,
) -> Result<Json<ReplyResponse>, ApiError> {
    caller.require(Scope::Agent)?;
    let b = body(b, &state)?;
    let agent = agent_id(&b.agent_id)?;
    let original = text(&b.text)?;
    let store = &state.engine.store;
    let conv = store
        .conversation_state(&id)
        .await?
        .ok_or_else(|| ApiError::Missing(format!("no conversation {id}")))?;
    // What is archived is what the guard leaves; the citizen receives the agent's words.
    let redacted = crate::privacy::redact(&original);
    let now = Utc::now();
    let mut message = MessageRecord::new(Direction::Out, redacted.text.clone(), now);
    message.sender = Sender::Agent;
    message.agent_id = Some(agent.clone());
    message.pii = redacted
        .kinds()
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let mut window = None;
    let draft = match (conv.channel, conv.contact_id.as_deref()) {
        (Channel::Whatsapp, Some(contact_id)) => {
            let contact = store.contact(contact_id).await?;
            let open = render::window_open(contact.and_then(|c| c.last_inbound_at), now);
            window = Some(open);
            let tone = state.engine.snapshot().kb.settings.tone;
            let d = render::agent_draft(
                &state.engine.config.whatsapp,
                &original,
                contact_id,
                open,
                tone,
            );
            message.kind = d.kind.clone();
            message.status = Some("pending".into());
            Some(d)
        }
        _ => None,
    };
    let sent_as = draft
        .as_ref()
        .map(|d| d.kind.clone())
        .unwrap_or_else(|| "web".into());
    let events = if state.engine.webhooks_enabled() {
        vec![message_event(&message, Some(&agent))]
    } else {
        Vec::new()
    };
    let message_id = store
        .agent_reply(
            &id,
            &agent,
            &caller.actor(),
            &message,
            draft.as_ref(),
            &events,
        )
        .await?;
    if draft.is_some() {
        state.wakers.outbox.notify_one();
    }
    Ok(Json(ReplyResponse {
        conversation_id: id,
        message_id,
        sent_as,
        window_open: window,
    }))
}

pub async fn note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    b: Result<Json<TextBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::Agent)?;
    let b = body(b, &state)?;
    let agent = agent_id(&b.agent_id)?;
    let note = crate::privacy::redact(&text(&b.text)?).text;
    let note_id = state
        .engine
        .store
        .add_note(&id, &agent, &note, &caller.actor())
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
    let snap = state.engine.snapshot();
    let wanted = b.department.trim().to_lowercase();
    let Some(dept) = snap
        .kb
        .settings
        .departments
        .iter()
        .find(|d| d.id == wanted || d.name.to_lowercase() == wanted)
    else {
        let known: Vec<&str> = snap
            .kb
            .settings
            .departments
            .iter()
            .map(|d| d.id.as_str())
            .collect();
        return Err(ApiError::Invalid(format!(
            "unknown department \"{}\"; known: {}",
            b.department,
            known.join(", ")
        )));
    };
    let events = events(
        &state,
        "handoff.requested",
        json!({"department": dept.id, "reason": "transferred", "by": b.agent_id}),
    );
    state
        .engine
        .store
        .transfer(&id, &dept.id, &caller.actor(), &events)
        .await?;
    Ok(Json(
        json!({"conversation_id": id, "status": "waiting", "department": dept.id}),
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
    let (event, status) = if resolve {
        ("conversation.resolved", "resolved")
    } else {
        ("conversation.released", "bot")
    };
    let events = events(&state, event, json!({"agent_id": agent}));
    state
        .engine
        .store
        .close_handoff(&id, resolve, &caller.actor(), &events)
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

fn events(state: &AppState, event: &'static str, data: Value) -> Vec<PlatformEvent> {
    if state.engine.webhooks_enabled() {
        vec![PlatformEvent { event, data }]
    } else {
        Vec::new()
    }
}
