//! Answering a citizen's message within its conversation: the conversation's state from the
//! store, the turn pipeline ([`crate::turn`]), the channel's rendering of the reply
//! (WhatsApp bodies for queued messages) and one transaction that stores it all. This is
//! the only place where a turn meets the database; the web chat's HTTP handler and the
//! WhatsApp inbox both come through here.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::classifier::{EmbedWorker, WorkerError};
use crate::config::Config;
use crate::content::Content;
use crate::dialogue::Reply;
use crate::privacy::PiiKind;
use crate::store::{
    Channel, ConversationState, ConversationStatus, SqlStore, Store, StoreError, TurnIds,
};
use crate::turn::{self, Agent, Origin, Situation};
use crate::understand::Understanding;

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(transparent)]
    Classifier(#[from] WorkerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The conversation exists on another channel than the message came through.
    #[error("the conversation belongs to another channel")]
    OtherChannel,
}

/// A citizen's message as a channel delivers it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub conversation_id: String,
    pub channel: Channel,
    pub text: String,
    /// A WhatsApp button or list reply id, or a web chat option id, when the citizen tapped
    /// an option.
    pub button_id: Option<String>,
    pub received_at: DateTime<Utc>,
    /// Set when the message came through the inbound queue (WhatsApp).
    pub queued: Option<Queued>,
}

impl Incoming {
    pub fn new(conversation_id: &str, channel: Channel, text: &str) -> Self {
        Incoming {
            conversation_id: conversation_id.into(),
            channel,
            text: text.into(),
            button_id: None,
            received_at: Utc::now(),
            queued: None,
        }
    }
}

/// Where a queued message came from and how to answer it.
#[derive(Debug, Clone)]
pub struct Queued {
    pub inbox_id: i64,
    pub external_id: String,
    pub contact_id: String,
    /// `text`, `button_reply`, `list_reply`, `button`, or a media kind (`image`, …).
    pub kind: String,
    /// Personal data the channel already removed from `text`.
    pub pii: Vec<PiiKind>,
    pub meta: Option<serde_json::Value>,
    /// Whether WhatsApp's 24-hour window is open (free text allowed).
    pub window_open: bool,
}

/// The reply, and why (for `loket ask` and the API's debugging fields).
#[derive(Debug, Clone, Serialize)]
pub struct Handled {
    pub reply: Reply,
    pub understanding: Understanding,
    /// The message as stored: personal data replaced by placeholders.
    pub redacted_text: String,
    pub pii: Vec<&'static str>,
    pub department: Option<String>,
    /// A person owns the conversation: the bot said nothing.
    pub agent_owned: bool,
    pub ids: TurnIds,
}

/// The parts that answer messages: the content, the store, the encoder and the settings.
#[derive(Clone)]
pub struct Conversations {
    pub content: Arc<Content>,
    pub store: Arc<SqlStore>,
    pub encoder: EmbedWorker,
    pub settings: Arc<Config>,
}

/// How the pipeline sees a stored conversation (none: a new one).
fn situation(state: Option<&ConversationState>) -> Situation {
    let Some(st) = state else {
        return Situation {
            new_conversation: true,
            ..Situation::default()
        };
    };
    Situation {
        context: st.context.clone(),
        new_conversation: false,
        agent: (st.status == ConversationStatus::Assigned).then(|| Agent {
            agent_id: st.agent_id.clone(),
            department: st.department.clone(),
        }),
    }
}

impl Conversations {
    pub async fn handle(&self, msg: Incoming) -> Result<Handled, TurnError> {
        let started = Instant::now();
        let state = self.store.conversation_state(&msg.conversation_id).await?;
        // A conversation belongs to its channel: knowing a WhatsApp conversation's id does not
        // let the web chat read or write it.
        if let Some(st) = &state
            && st.channel != msg.channel
        {
            return Err(TurnError::OtherChannel);
        }
        let situation = situation(state.as_ref());
        let message = turn::Message {
            text: msg.text.clone(),
            kind: msg
                .queued
                .as_ref()
                .map_or("text".into(), |q| q.kind.clone()),
            button_id: msg.button_id.clone(),
            pii: msg
                .queued
                .as_ref()
                .map(|q| q.pii.clone())
                .unwrap_or_default(),
            received_at: msg.received_at,
        };
        let guarded = turn::guard(&message, &situation);
        let vector = match guarded.model_input() {
            Some(text) => Some(self.encoder.embed(text).await?),
            None => None,
        };
        let now = Utc::now().max(msg.received_at);
        // Search and fusion are CPU work: off the async threads, so that webhooks and other
        // requests are answered while messages are being understood.
        let snap = self.content.snapshot();
        let rendering = snap.clone();
        let settings = self.settings.clone();
        let (plan, message, guarded) = tokio::task::spawn_blocking(move || {
            let plan = turn::plan(
                &message,
                &guarded,
                vector.as_deref(),
                &situation,
                &snap,
                &settings.dialogue,
                now,
            );
            (plan, message, guarded)
        })
        .await
        .map_err(|e| WorkerError::Failed(e.to_string()))?;
        let response_ms = started.elapsed().as_millis() as i64;
        let origin = Origin {
            conversation_id: msg.conversation_id.clone(),
            channel: msg.channel,
            contact_id: msg.queued.as_ref().map(|q| q.contact_id.clone()),
            inbox_id: msg.queued.as_ref().map(|q| q.inbox_id),
            external_id: msg.queued.as_ref().map(|q| q.external_id.clone()),
            meta: msg.queued.as_ref().and_then(|q| q.meta.clone()),
        };
        let events = !self.settings.handoff.webhook_url.is_empty();
        let mut record = plan.record(&message, &guarded, origin, response_ms, events, now);
        // The channel renders: a queued (WhatsApp) message gets its reply as an outbox body.
        if let (Some(q), Some(outbound)) = (&msg.queued, record.outbound.as_mut()) {
            let draft = super::whatsapp::render::reply_draft(
                &self.settings.whatsapp,
                &plan.reply,
                q,
                &rendering.kb,
                plan.context.english,
            );
            outbound.kind = draft.kind.clone();
            outbound.status = Some("pending".into());
            record.outbox = Some(draft);
        }
        let ids = self.store.record_turn(&record).await?;
        crate::metrics::record_outcome(&plan.action, msg.channel.as_str());
        let pii = guarded.pii_names();
        if !plan.agent_owned() {
            let reply = &plan.reply;
            tracing::info!(
                conversation = %msg.conversation_id,
                channel = %msg.channel,
                action = %plan.action,
                intent = reply.intent.as_deref().unwrap_or(""),
                confidence = reply.confidence,
                faq_id = reply.faq_id.as_deref().unwrap_or(""),
                pii = %pii.join(","),
                ms = response_ms,
                "message answered"
            );
        }
        Ok(Handled {
            agent_owned: plan.agent_owned(),
            reply: plan.reply,
            understanding: plan.understanding,
            redacted_text: guarded.text,
            pii,
            department: plan.department,
            ids,
        })
    }
}
