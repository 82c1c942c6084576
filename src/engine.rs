//! The path of one message through Loket: guard → understand → decide → record. Channels
//! (HTTP, WhatsApp, the CLI) hand messages to [`Engine::handle`]; the engine owns the current
//! content snapshot (swapped whole on reload), the encoder worker and the store.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::classifier::{ClassifierError, Embed, EmbedWorker, WorkerError};
use crate::config::{Config, DialogueConfig};
use crate::dialogue::{self, Context, Reply, Turn};
use crate::knowledge::Action;
use crate::privacy;
use crate::store::{Direction, MessageRecord, SqlStore, Store, StoreError, TurnRecord};
use crate::understand::{Snapshot, Understanding};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Classifier(#[from] WorkerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A citizen's message as a channel delivers it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub conversation_id: String,
    pub channel: String,
    pub text: String,
    /// A WhatsApp button or list reply id, when the citizen tapped an option.
    pub button_id: Option<String>,
    pub received_at: DateTime<Utc>,
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
}

pub struct Engine {
    snapshot: RwLock<Arc<Snapshot>>,
    pub worker: EmbedWorker,
    pub store: Arc<SqlStore>,
    pub config: Arc<Config>,
    /// Content version and reload state (see [`crate::reload`]).
    pub reloader: crate::reload::Reloader,
}

impl Engine {
    pub fn new(
        snapshot: Snapshot,
        worker: EmbedWorker,
        store: Arc<SqlStore>,
        config: Arc<Config>,
    ) -> Self {
        Engine {
            reloader: crate::reload::Reloader::new(&config, &snapshot),
            snapshot: RwLock::new(Arc::new(snapshot)),
            worker,
            store,
            config,
        }
    }

    /// The snapshot in use. A std `RwLock` is right here: it is held only to clone an `Arc`.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().expect("snapshot lock").clone()
    }

    pub fn replace_snapshot(&self, snapshot: Snapshot) {
        *self.snapshot.write().expect("snapshot lock") = Arc::new(snapshot);
    }

    pub async fn handle(&self, msg: Incoming) -> Result<Handled, EngineError> {
        let started = Instant::now();
        // The guard runs before anything else sees the text.
        let redacted = privacy::redact(&msg.text);
        let pii = redacted.kinds();
        let context = self
            .store
            .context(&msg.conversation_id)
            .await?
            .unwrap_or_default();
        let snap = self.snapshot();
        let (understanding, within, greeted) = self
            .understand(&snap, &redacted.text, &context, msg.received_at)
            .await?;
        let turn = Turn {
            text: &redacted.text,
            pii: &pii,
            understanding: &understanding,
            within_context: within.as_ref(),
            greeted,
            button_id: msg.button_id.as_deref(),
        };
        let now = Utc::now().max(msg.received_at);
        let outcome = dialogue::decide(&turn, &context, &snap.kb, &self.config.dialogue, now);
        let reply = outcome.reply;
        crate::metrics::record_outcome(reply.action.as_str(), &msg.channel);
        let department = outcome
            .handoff
            .as_ref()
            .map(|h| h.department.clone())
            .or_else(|| {
                reply
                    .intent
                    .as_deref()
                    .map(|i| snap.kb.department_for_intent(i).to_string())
            });
        let pii_names: Vec<&'static str> = pii.iter().map(|k| k.as_str()).collect();
        let response_ms = started.elapsed().as_millis() as i64;
        self.store
            .record_turn(&TurnRecord {
                conversation_id: msg.conversation_id.clone(),
                channel: msg.channel.clone(),
                inbound: MessageRecord {
                    direction: Direction::In,
                    text: redacted.text.clone(),
                    pii: pii_names.join(","),
                    intent: reply.intent.clone(),
                    action: None,
                    confidence: None,
                    faq_id: None,
                    response_ms: None,
                    created_at: msg.received_at,
                },
                outbound: MessageRecord {
                    direction: Direction::Out,
                    text: reply.text.clone(),
                    pii: String::new(),
                    intent: reply.intent.clone(),
                    action: Some(reply.action.as_str().to_string()),
                    confidence: Some(reply.confidence as f64),
                    faq_id: reply.faq_id.clone(),
                    response_ms: Some(response_ms),
                    created_at: now,
                },
                context: outcome.context,
                handoff: outcome.handoff.map(|h| (h.department, h.reason)),
            })
            .await?;
        tracing::info!(
            conversation = %msg.conversation_id,
            channel = %msg.channel,
            action = reply.action.as_str(),
            intent = reply.intent.as_deref().unwrap_or(""),
            confidence = reply.confidence,
            faq_id = reply.faq_id.as_deref().unwrap_or(""),
            pii = %pii_names.join(","),
            ms = response_ms,
            "message answered"
        );
        Ok(Handled {
            reply,
            understanding,
            redacted_text: redacted.text,
            pii: pii_names,
            department,
        })
    }

    /// Understanding of the message, of the message within the context's topic, and whether
    /// a leading greeting was set aside.
    async fn understand(
        &self,
        snap: &Snapshot,
        text: &str,
        context: &Context,
        now: DateTime<Utc>,
    ) -> Result<(Understanding, Option<Understanding>, bool), WorkerError> {
        let (core, greeted) = match dialogue::lang::strip_greeting(text) {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let today = now.date_naive();
        // Picking an option by number needs no model.
        if !context.options.is_empty()
            && core.trim().chars().all(|c| c.is_ascii_digit())
            && !core.trim().is_empty()
        {
            return Ok((Understanding::default(), None, greeted));
        }
        let vector = self.worker.embed(core).await?;
        let u = snap.understand(core, &vector, None, today);
        let within = context
            .last_intent
            .as_deref()
            .filter(|intent| snap.kb.intent(intent).map(|i| i.action) == Some(Action::Answer))
            .map(|intent| snap.understand(core, &vector, Some(intent), today));
        Ok((u, within, greeted))
    }
}

/// Decides replies to independent messages (no conversation, nothing stored), encoding them
/// in one batch: the path of `loket classify` and `loket eval`.
pub fn decide_without_context(
    snap: &Snapshot,
    embedder: &dyn Embed,
    texts: &[&str],
    cfg: &DialogueConfig,
    now: DateTime<Utc>,
) -> Result<Vec<dialogue::Outcome>, ClassifierError> {
    let redacted: Vec<privacy::Redacted> = texts.iter().map(|t| privacy::redact(t)).collect();
    let cores: Vec<(&str, bool)> = redacted
        .iter()
        .map(|r| match dialogue::lang::strip_greeting(&r.text) {
            Some(rest) => (rest, true),
            None => (r.text.as_str(), false),
        })
        .collect();
    let core_texts: Vec<&str> = cores.iter().map(|c| c.0).collect();
    let vectors = embedder.embed(&core_texts)?;
    let today = now.date_naive();
    Ok(redacted
        .iter()
        .zip(&cores)
        .zip(&vectors)
        .map(|((red, (core, greeted)), v)| {
            let u = snap.understand(core, v, None, today);
            let pii = red.kinds();
            let turn = Turn {
                text: &red.text,
                pii: &pii,
                understanding: &u,
                within_context: None,
                greeted: *greeted,
                button_id: None,
            };
            dialogue::decide(&turn, &Context::default(), &snap.kb, cfg, now)
        })
        .collect())
}
