//! Answering a citizen's message within its conversation: the conversation's state from the
//! store, the turn pipeline ([`crate::turn`]), the channel's rendering of the reply
//! (WhatsApp bodies for queued messages) and one transaction that stores it all. This is
//! the only place where a turn meets the database; the web chat's HTTP handler and the
//! WhatsApp inbox both come through here.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;

use crate::classifier::{EmbedWorker, WorkerError};
use crate::config::Config;
use crate::content::{Content, Municipalities, Municipality};
use crate::dialogue::Reply;
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
    /// The conversation belongs to another municipality than the message was sent to.
    #[error("the conversation belongs to another municipality")]
    OtherMunicipality,
    /// No municipality of this Loket has this slug.
    #[error("no municipality `{0}` is served here")]
    UnknownMunicipality(String),
}

/// A citizen's message as a channel delivers it: where it belongs and what it says.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub origin: Origin,
    pub message: turn::Message,
    /// WhatsApp: whether the 24-hour window is open (free text allowed). `None` on a channel
    /// whose replies are returned rather than sent (the web chat).
    pub window_open: Option<bool>,
}

impl Incoming {
    /// A typed message on a channel that answers in the response (web chat, `loket ask`).
    pub fn new(conversation_id: &str, channel: Channel, text: &str) -> Self {
        Incoming {
            origin: Origin::new(conversation_id, channel),
            message: turn::Message::text(text, Utc::now()),
            window_open: None,
        }
    }
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

/// The parts that answer messages: the municipalities (each with its content), the store,
/// the encoder and the settings.
#[derive(Clone)]
pub struct Conversations {
    pub municipalities: Arc<Municipalities>,
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
    /// The default municipality's content (the only one in a one-municipality Loket).
    pub fn content(&self) -> &Arc<Content> {
        &self.municipalities.default().content
    }

    /// The municipality `slug` names (the default one for none), or why not.
    pub fn municipality(&self, slug: Option<&str>) -> Result<&Municipality, TurnError> {
        self.municipalities
            .named(slug)
            .ok_or_else(|| TurnError::UnknownMunicipality(slug.unwrap_or_default().to_string()))
    }

    pub async fn handle(&self, msg: Incoming) -> Result<Handled, TurnError> {
        let started = Instant::now();
        let Incoming {
            mut origin,
            message,
            window_open,
        } = msg;
        let municipality = self.municipality(Some(&origin.municipality))?.clone();
        origin.municipality = municipality.slug.clone();
        let state = self
            .store
            .conversation_state(&origin.conversation_id)
            .await?;
        // A conversation belongs to its channel and its municipality: knowing a WhatsApp
        // conversation's id does not let the web chat read or write it, nor does knowing
        // another municipality's.
        if let Some(st) = &state {
            if st.channel != origin.channel {
                return Err(TurnError::OtherChannel);
            }
            if self.municipalities.owner(&st.municipality) != origin.municipality {
                return Err(TurnError::OtherMunicipality);
            }
        }
        let situation = situation(state.as_ref());
        let guarded = turn::guard(&message, &situation);
        let vector = match guarded.model_input() {
            Some(text) => Some(self.encoder.embed(text).await?),
            None => None,
        };
        let now = Utc::now().max(message.received_at);
        // Search and fusion are CPU work: off the async threads, so that webhooks and other
        // requests are answered while messages are being understood.
        let snap = municipality.content.snapshot();
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
        let (conversation_id, channel) = (origin.conversation_id.clone(), origin.channel);
        let events = self.settings.handoff.target(&municipality.slug).is_some();
        // The channel renders: a WhatsApp message gets its reply as an outbox body.
        let draft = window_open.map(|open| {
            crate::channels::whatsapp::render::reply_draft(
                &self.settings.whatsapp,
                &plan.reply,
                &origin,
                open,
                &rendering.kb,
                plan.context.english,
            )
        });
        let mut record = plan.record(&message, &guarded, origin, response_ms, events, now);
        if let (Some(draft), Some(outbound)) = (draft, record.outbound.as_mut()) {
            outbound.kind = draft.kind.clone();
            outbound.status = Some("pending".into());
            record.outbox = Some(draft);
        }
        let ids = self.store.record_turn(&record).await?;
        crate::metrics::record_outcome(&plan.action, channel.as_str(), &municipality.slug);
        let pii = guarded.pii_names();
        if !plan.agent_owned() {
            let reply = &plan.reply;
            tracing::info!(
                conversation = %conversation_id,
                municipality = %municipality.slug,
                channel = %channel,
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
