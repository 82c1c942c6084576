//! The path of one message through Loket: guard → understand → decide → record. Channels
//! (HTTP, WhatsApp, the CLI) hand messages to [`Engine::handle`]; the engine owns the current
//! content snapshot (swapped whole on reload), the encoder worker and the store.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::classifier::{ClassifierError, Embed, EmbedWorker, WorkerError};
use crate::config::{Config, DialogueConfig};
use crate::dialogue::{self, Context, Lang, Reply, Turn, texts};
use crate::knowledge::Action;
use crate::privacy::{self, PiiKind};
use crate::store::{
    Channel, ConversationStatus, Direction, HandoffRecord, MessageRecord, PlatformEvent, SqlStore,
    Store, StoreError, TurnIds, TurnRecord,
};
use crate::understand::{Snapshot, Understanding};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
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
    pub channel: String,
    pub text: String,
    /// A WhatsApp button or list reply id, or a web chat option id, when the citizen tapped
    /// an option.
    pub button_id: Option<String>,
    pub received_at: DateTime<Utc>,
    /// Set when the message came through the inbound queue (WhatsApp).
    pub queued: Option<Queued>,
}

impl Incoming {
    pub fn new(conversation_id: &str, channel: &str, text: &str) -> Self {
        Incoming {
            conversation_id: conversation_id.into(),
            channel: channel.into(),
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

/// Message kinds Loket reads; everything else (photos, voice, …) gets [`texts::MEDIA`].
fn is_readable(kind: &str) -> bool {
    matches!(kind, "text" | "button_reply" | "list_reply" | "button")
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

    /// Whether events for the webcare platform are recorded.
    pub fn webhooks_enabled(&self) -> bool {
        !self.config.handoff.webhook_url.is_empty()
    }

    pub async fn handle(&self, msg: Incoming) -> Result<Handled, EngineError> {
        let started = Instant::now();
        // The guard runs before anything else sees the text.
        let text = crate::text::strip_controls(&msg.text);
        let text = crate::text::truncate_chars(&text, crate::text::MAX_MESSAGE_CHARS);
        let redacted = privacy::redact(text);
        let mut pii = redacted.kinds();
        if let Some(q) = &msg.queued {
            for k in &q.pii {
                if !pii.contains(k) {
                    pii.push(*k);
                }
            }
        }
        let pii_names: Vec<&'static str> = pii.iter().map(|k| k.as_str()).collect();
        let state = self.store.conversation_state(&msg.conversation_id).await?;
        // A conversation belongs to its channel: knowing a WhatsApp conversation's id does not
        // let the web chat read or write it.
        if let Some(st) = &state
            && st.channel.as_str() != msg.channel
        {
            return Err(EngineError::OtherChannel);
        }
        let context = state
            .as_ref()
            .map(|s| s.context.clone())
            .unwrap_or_default();
        let kind = msg
            .queued
            .as_ref()
            .map(|q| q.kind.clone())
            .unwrap_or_else(|| "text".into());
        let mut inbound = MessageRecord::new(Direction::In, redacted.text.clone(), msg.received_at);
        inbound.pii = pii_names.join(",");
        inbound.kind = kind.clone();
        if let Some(q) = &msg.queued {
            inbound.external_id = Some(q.external_id.clone());
            inbound.meta = q.meta.clone();
        }
        let snap = self.snapshot();
        let mut turn_record = TurnRecord {
            conversation_id: msg.conversation_id.clone(),
            // The channels validate what they hand over; a word outside the set is a bug.
            channel: msg.channel.parse::<Channel>().map_err(StoreError::from)?,
            contact_id: msg.queued.as_ref().map(|q| q.contact_id.clone()),
            inbound,
            outbound: None,
            context: None,
            department: None,
            handoff: None,
            inbox_id: msg.queued.as_ref().map(|q| q.inbox_id),
            outbox: None,
            events: Vec::new(),
        };

        // A person owns the conversation: record the message for them, say nothing.
        if let Some(st) = state
            .as_ref()
            .filter(|s| s.status == ConversationStatus::Assigned)
        {
            turn_record.inbound.action = Some("agent".into());
            if self.webhooks_enabled() {
                turn_record
                    .events
                    .push(message_event(&turn_record.inbound, st.agent_id.as_deref()));
            }
            let ids = self.store.record_turn(&turn_record).await?;
            crate::metrics::record_outcome("agent", &msg.channel);
            return Ok(Handled {
                reply: Reply {
                    text: String::new(),
                    options: Vec::new(),
                    action: Action::Handoff,
                    intent: None,
                    confidence: 0.0,
                    faq_id: None,
                },
                understanding: Understanding::default(),
                redacted_text: redacted.text,
                pii: pii_names,
                department: st.department.clone(),
                agent_owned: true,
                ids,
            });
        }

        let now = Utc::now().max(msg.received_at);
        let (reply, understanding, new_context, handoff, action_name) = if is_readable(&kind) {
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
            let outcome = dialogue::decide(&turn, &context, &snap.kb, &self.config.dialogue, now);
            let action = outcome.reply.action.as_str().to_string();
            (
                outcome.reply,
                understanding,
                outcome.context,
                outcome.handoff,
                action,
            )
        } else {
            let env_lang = if context.english { Lang::En } else { Lang::Nl };
            let reply = Reply {
                text: texts::MEDIA
                    .get(snap.kb.settings.tone, env_lang)
                    .replace("{url}", &snap.kb.settings.secure_channel_url)
                    .replace("{name}", &snap.kb.settings.name),
                options: Vec::new(),
                action: Action::Smalltalk,
                intent: None,
                confidence: 1.0,
                faq_id: None,
            };
            (
                reply,
                Understanding::default(),
                context.clone(),
                None,
                "media".to_string(),
            )
        };
        // The first reply of a new conversation says that a program answers, once.
        let disclosed = state.is_none();
        let mut reply = reply;
        if disclosed {
            let lang = if new_context.english {
                Lang::En
            } else {
                Lang::Nl
            };
            let notice = texts::AI_DISCLOSURE.get(snap.kb.settings.tone, lang);
            reply.text = format!("{notice}\n\n{}", reply.text);
        }
        let department = handoff.as_ref().map(|h| h.department.clone()).or_else(|| {
            reply
                .intent
                .as_deref()
                .map(|i| snap.kb.department_for_intent(i).to_string())
        });
        let response_ms = started.elapsed().as_millis() as i64;
        let rec = &mut turn_record;
        rec.inbound.intent = reply.intent.clone();
        rec.inbound.action = Some(action_name.clone());
        rec.inbound.confidence = Some(reply.confidence as f64);
        let mut outbound = MessageRecord::new(Direction::Out, reply.text.clone(), now);
        outbound.intent = reply.intent.clone();
        outbound.action = Some(action_name.clone());
        outbound.confidence = Some(reply.confidence as f64);
        outbound.faq_id = reply.faq_id.clone();
        outbound.response_ms = Some(response_ms);
        if disclosed {
            // The archive shows that the citizen was told.
            outbound.meta = Some(serde_json::json!({"ai_disclosure": true}));
        }
        if let Some(q) = &msg.queued {
            let draft = crate::channels::whatsapp::render::reply_draft(
                &self.config.whatsapp,
                &reply,
                q,
                &msg.conversation_id,
                snap.kb.settings.tone,
                new_context.english,
            );
            outbound.kind = draft.kind.clone();
            outbound.status = Some("pending".into());
            rec.outbox = Some(draft);
        }
        rec.context = Some(new_context);
        rec.department = department.clone();
        if let Some(h) = &handoff {
            rec.handoff = Some(HandoffRecord {
                department: h.department.clone(),
                reason: h.reason.clone(),
                within_office_hours: snap.kb.settings.hours.is_open(now),
            });
        }
        if self.webhooks_enabled() {
            rec.events.push(message_event(&rec.inbound, None));
            rec.events.push(message_event(&outbound, None));
            if let Some(h) = &handoff {
                rec.events.push(PlatformEvent {
                    event: "handoff.requested",
                    data: serde_json::json!({
                        "department": h.department,
                        "reason": h.reason,
                        "channel": msg.channel,
                        "within_office_hours": snap.kb.settings.hours.is_open(now),
                        "last_message": rec.inbound.text,
                    }),
                });
            }
        }
        rec.outbound = Some(outbound);
        let ids = self.store.record_turn(&turn_record).await?;
        crate::metrics::record_outcome(&action_name, &msg.channel);
        tracing::info!(
            conversation = %msg.conversation_id,
            channel = %msg.channel,
            action = %action_name,
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
            agent_owned: false,
            ids,
        })
    }

    /// Understanding of the message, of the message within the context's topic, and whether
    /// a leading greeting was set aside.
    async fn understand(
        &self,
        snap: &Arc<Snapshot>,
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
        let within_intent = context
            .last_intent
            .clone()
            .filter(|intent| snap.kb.intent(intent).map(|i| i.action) == Some(Action::Answer));
        // The search and fusion are CPU work: off the async threads, so that webhooks and
        // other requests are answered while messages are being understood.
        let (snap, core) = (snap.clone(), core.to_string());
        let (u, within) = tokio::task::spawn_blocking(move || {
            let u = snap.understand(&core, &vector, None, today);
            let within = within_intent
                .as_deref()
                .map(|intent| snap.understand(&core, &vector, Some(intent), today));
            (u, within)
        })
        .await
        .map_err(|e| WorkerError::Failed(e.to_string()))?;
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

/// A `message.created` event for the webcare platform (texts are already redacted).
pub fn message_event(m: &MessageRecord, agent_id: Option<&str>) -> PlatformEvent {
    PlatformEvent {
        event: "message.created",
        data: serde_json::json!({
            "direction": m.direction,
            "sender": m.sender,
            "kind": m.kind,
            "text": m.text,
            "pii_removed": m.pii,
            "intent": m.intent,
            "action": m.action,
            "faq_id": m.faq_id,
            "agent_id": agent_id.or(m.agent_id.as_deref()),
            "created_at": crate::store::timestamp(m.created_at),
        }),
    }
}
