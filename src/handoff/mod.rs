//! The human side of a conversation: what people in the contact centre may do with one and
//! what follows from it. The [`Desk`] claims a conversation for one agent, relays an agent's
//! reply through the citizen's own channel (on WhatsApp as the template once the 24-hour
//! window has closed), keeps internal notes, transfers to a department the settings know,
//! resolves or hands back to the bot, and records the webcare platform's events with each
//! change. `crate::http::handoff` is the HTTP adapter; the SQL is in `crate::store::handoff`.
//!
//! Conversation status: `bot` → (handoff) `waiting` → (claim) `assigned` → `resolved`, or
//! back to `bot` on release. While `assigned`, the bot stays silent in the conversation.

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use crate::channels::whatsapp::render;
use crate::config::Config;
use crate::content::{Content, Municipalities};
use crate::store::handoff::{ConversationDetail, HandoffError, QueueEntry, QueueFilter};
use crate::store::{
    Channel, ConversationState, ConversationStatus, Direction, MessageRecord, PlatformEvent,
    Sender, SqlStore, StoreError,
};
use crate::turn::message_event;

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("no conversation {0}")]
    NotFound(String),
    /// Another agent holds it, or its status does not allow the step.
    #[error("{0}")]
    Conflict(String),
    #[error("unknown department \"{given}\"; known: {}", known.join(", "))]
    UnknownDepartment { given: String, known: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<HandoffError> for DeskError {
    fn from(e: HandoffError) -> Self {
        match e {
            HandoffError::NotFound(id) => DeskError::NotFound(id),
            HandoffError::Conflict(m) => DeskError::Conflict(m),
            HandoffError::Store(e) => DeskError::Store(e),
        }
    }
}

/// How an agent's reply went out.
#[derive(Debug, Serialize)]
pub struct Relayed {
    pub conversation_id: String,
    pub message_id: i64,
    /// `web` (shown in the chat window), `text` or `template` (WhatsApp).
    pub sent_as: String,
    /// WhatsApp: whether the 24-hour window was open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_open: Option<bool>,
    /// A body waits in the outbox (the sender should be woken).
    #[serde(skip)]
    pub queued: bool,
}

/// The parts the contact centre's actions need.
pub struct Desk<'a> {
    pub store: &'a SqlStore,
    pub municipalities: &'a Municipalities,
    pub settings: &'a Config,
    /// The municipalities the caller acts for (slugs); empty: every one. A conversation of
    /// another municipality is, to this desk, a conversation that does not exist.
    pub serves: &'a [String],
}

impl Desk<'_> {
    /// The conversation `id`, if it exists and belongs to a municipality this desk serves.
    async fn visible(&self, id: &str) -> Result<ConversationState, DeskError> {
        self.store
            .conversation_state(id)
            .await?
            .filter(|c| {
                let owner = self.municipalities.owner(&c.municipality);
                self.serves.is_empty() || self.serves.iter().any(|s| s == owner)
            })
            .ok_or_else(|| DeskError::NotFound(id.to_string()))
    }

    /// The content of the municipality a conversation belongs to.
    fn content_of(&self, conv: &ConversationState) -> &Arc<Content> {
        &self
            .municipalities
            .named(Some(self.municipalities.owner(&conv.municipality)))
            .unwrap_or_else(|| self.municipalities.default())
            .content
    }

    /// The event for the webcare platform of `conv`'s municipality, if it has one.
    fn events(
        &self,
        conv: &ConversationState,
        event: &'static str,
        data: Value,
    ) -> Vec<PlatformEvent> {
        if self
            .settings
            .handoff
            .target(self.municipalities.owner(&conv.municipality))
            .is_none()
        {
            Vec::new()
        } else {
            vec![PlatformEvent { event, data }]
        }
    }

    /// The queue, of the municipalities this desk serves (narrowed further by the filter's).
    pub async fn queue(&self, filter: &QueueFilter) -> Result<Vec<QueueEntry>, DeskError> {
        let mut filter = filter.clone();
        if !self.serves.is_empty() {
            filter.municipalities = if filter.municipalities.is_empty() {
                self.serves.to_vec()
            } else {
                filter
                    .municipalities
                    .into_iter()
                    .filter(|m| self.serves.contains(m))
                    .collect()
            };
            if filter.municipalities.is_empty() {
                return Ok(Vec::new());
            }
        }
        // Conversations stored without a municipality are the default one's.
        if filter
            .municipalities
            .contains(&self.municipalities.default().slug)
        {
            filter.municipalities.push(String::new());
        }
        Ok(self.store.list_queue(&filter).await?)
    }

    pub async fn conversation(&self, id: &str) -> Result<ConversationDetail, DeskError> {
        self.visible(id).await?;
        self.store
            .conversation_detail(id, render::WINDOW_HOURS)
            .await?
            .ok_or_else(|| DeskError::NotFound(id.to_string()))
    }

    /// One agent at a time; `actor` is the key's name, for the audit log.
    pub async fn claim(&self, id: &str, agent: &str, actor: &str) -> Result<(), DeskError> {
        let conv = self.visible(id).await?;
        let events = self.events(&conv, "handoff.claimed", json!({ "agent_id": agent }));
        Ok(self.store.claim(id, agent, actor, &events).await?)
    }

    /// Relays `text` to the citizen through the conversation's channel. What is archived is
    /// what the guard leaves; the citizen receives the agent's words.
    pub async fn reply(
        &self,
        id: &str,
        agent: &str,
        text: &str,
        actor: &str,
    ) -> Result<Relayed, DeskError> {
        let conv = self.visible(id).await?;
        let redacted = crate::privacy::redact(text);
        let now = Utc::now();
        let mut message = MessageRecord::new(Direction::Out, redacted.text.clone(), now);
        message.sender = Sender::Agent;
        message.agent_id = Some(agent.to_string());
        message.pii = redacted
            .kinds()
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let mut window = None;
        let draft = match (conv.channel, conv.contact_id.as_deref()) {
            (Channel::Whatsapp, Some(contact_id)) => {
                let contact = self.store.contact(contact_id).await?;
                let open = render::window_open(contact.and_then(|c| c.last_inbound_at), now);
                window = Some(open);
                let snap = self.content_of(&conv).snapshot();
                let d =
                    render::agent_draft(&self.settings.whatsapp, text, contact_id, open, &snap.kb);
                message.kind = d.kind.clone();
                message.status = Some("pending".into());
                Some(d)
            }
            _ => None,
        };
        let sent_as = draft.as_ref().map_or("web".into(), |d| d.kind.clone());
        let owner = self.municipalities.owner(&conv.municipality);
        let events = if self.settings.handoff.target(owner).is_none() {
            Vec::new()
        } else {
            vec![message_event(&message, Some(agent))]
        };
        let message_id = self
            .store
            .agent_reply(id, agent, actor, &message, draft.as_ref(), &events)
            .await?;
        Ok(Relayed {
            conversation_id: id.to_string(),
            message_id,
            sent_as,
            window_open: window,
            queued: draft.is_some(),
        })
    }

    /// An internal note (redacted like everything stored), never shown to the citizen.
    pub async fn note(
        &self,
        id: &str,
        agent: &str,
        text: &str,
        actor: &str,
    ) -> Result<i64, DeskError> {
        self.visible(id).await?;
        let note = crate::privacy::redact(text).text;
        Ok(self.store.add_note(id, agent, &note, actor).await?)
    }

    /// Back to the queue of `department` (its id or its name); returns the department's id.
    pub async fn transfer(
        &self,
        id: &str,
        department: &str,
        by: Option<&str>,
        actor: &str,
    ) -> Result<String, DeskError> {
        let conv = self.visible(id).await?;
        let snap = self.content_of(&conv).snapshot();
        let departments = &snap.kb.settings.departments;
        let wanted = department.trim().to_lowercase();
        let Some(dept) = departments
            .iter()
            .find(|d| d.id == wanted || d.name.to_lowercase() == wanted)
        else {
            return Err(DeskError::UnknownDepartment {
                given: department.to_string(),
                known: departments.iter().map(|d| d.id.clone()).collect(),
            });
        };
        let events = self.events(
            &conv,
            "handoff.requested",
            json!({"department": dept.id, "reason": "transferred", "by": by}),
        );
        self.store.transfer(id, &dept.id, actor, &events).await?;
        Ok(dept.id.clone())
    }

    /// Resolves the conversation, or releases it to the bot; returns the new status.
    pub async fn close(
        &self,
        id: &str,
        resolve: bool,
        agent: Option<&str>,
        actor: &str,
    ) -> Result<ConversationStatus, DeskError> {
        let (event, status) = if resolve {
            ("conversation.resolved", ConversationStatus::Resolved)
        } else {
            ("conversation.released", ConversationStatus::Bot)
        };
        let conv = self.visible(id).await?;
        let events = self.events(&conv, event, json!({ "agent_id": agent }));
        self.store
            .close_handoff(id, resolve, actor, &events)
            .await?;
        Ok(status)
    }
}
