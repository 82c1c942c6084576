//! One citizen's message through guard → understand → decide, as a [`Plan`]: the reply, the
//! new context, the handoff and — with [`Plan::record`] — the records to store and the
//! events for the webcare platform. Nothing here reads or writes the database, talks to a
//! channel or keeps a clock: the serving path ([`crate::channels::conversation`]), the
//! editors' preview, `kb test`, `eval` and `classify` all go through these functions, so a
//! rule added here reaches every one of them (a test holds them to that).
//!
//! The encoder is the one costly step and the one that differs between callers (the worker
//! thread when serving, one batch for `eval`): [`guard`] says whether a vector is needed
//! ([`Guarded::model_input`]), the caller gets it, and [`plan`] finishes the turn.

use chrono::{DateTime, Utc};

use crate::classifier::{ClassifierError, Embed};
use crate::config::DialogueConfig;
use crate::dialogue::{self, Context, Lang, Reply};
use crate::knowledge::{Action, TextKey};
use crate::privacy::{self, PiiKind};
use crate::store::{Channel, Direction, HandoffRecord, MessageRecord, PlatformEvent, TurnRecord};
use crate::understand::{Snapshot, Understanding};

/// A citizen's message as the pipeline needs it.
#[derive(Debug, Clone)]
pub struct Message {
    pub text: String,
    /// `text`, `button_reply`, `list_reply`, `button`, or a media kind (`image`, …).
    pub kind: String,
    /// A WhatsApp button or list reply id, or a web chat option id.
    pub button_id: Option<String>,
    /// Personal data the channel already removed from `text`.
    pub pii: Vec<PiiKind>,
    pub received_at: DateTime<Utc>,
}

impl Message {
    /// A typed message with nothing removed beforehand.
    pub fn text(text: &str, received_at: DateTime<Utc>) -> Message {
        Message {
            text: text.to_string(),
            kind: "text".into(),
            button_id: None,
            pii: Vec::new(),
            received_at,
        }
    }

    /// Kinds Loket reads; everything else (photos, voice, …) gets [`TextKey::Media`].
    fn is_readable(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "text" | "button_reply" | "list_reply" | "button"
        )
    }
}

/// What the pipeline knows of the conversation the message belongs to. The default is no
/// conversation at all: the situation of `eval`, `classify`, `kb test` and the preview.
#[derive(Debug, Clone, Default)]
pub struct Situation {
    pub context: Context,
    /// The first message of a new conversation: the reply starts with the AI notice.
    pub new_conversation: bool,
    /// A person owns the conversation: the bot records the message and says nothing.
    pub agent: Option<Agent>,
}

/// The person who owns a conversation.
#[derive(Debug, Clone, Default)]
pub struct Agent {
    pub agent_id: Option<String>,
    pub department: Option<String>,
}

/// The message after the guard: control characters gone, cut to the longest message Loket
/// reads, personal data replaced by placeholders, a leading greeting set aside.
#[derive(Debug, Clone)]
pub struct Guarded {
    /// The message as stored.
    pub text: String,
    pub pii: Vec<PiiKind>,
    /// The text without a leading greeting, and for an English message with the Dutch
    /// words for what it names: what the model reads and the index searches (never stored).
    core: String,
    greeted: bool,
    /// The message says the previous reading was wrong ("nee, ik bedoel niet …"): the
    /// conversation's topic is no guide for it.
    corrects: bool,
    needs_model: bool,
}

impl Guarded {
    /// The text to encode, or `None` when this turn needs no vector (a person owns the
    /// conversation, a photo, an option picked by its number).
    pub fn model_input(&self) -> Option<&str> {
        self.needs_model.then_some(self.core.as_str())
    }

    pub fn pii_names(&self) -> Vec<&'static str> {
        self.pii.iter().map(|k| k.as_str()).collect()
    }
}

/// The guard: runs before anything else sees the text.
pub fn guard(msg: &Message, situation: &Situation) -> Guarded {
    let text = crate::text::strip_controls(&msg.text);
    let text = crate::text::truncate_chars(&text, crate::text::MAX_MESSAGE_CHARS);
    let redacted = privacy::redact(text);
    let mut pii = redacted.kinds();
    for k in &msg.pii {
        if !pii.contains(k) {
            pii.push(*k);
        }
    }
    let (mut core, greeted) = match dialogue::lang::strip_greeting(&redacted.text) {
        Some(rest) => (rest.to_string(), true),
        None => (redacted.text.clone(), false),
    };
    // "niet mijn paspoort maar mijn rijbewijs": what is not meant is not read.
    let mut corrects = false;
    if let Some((rest, outright)) = dialogue::lang::correction(&core) {
        core = rest;
        corrects = outright;
    }
    // An English message is searched and encoded with the Dutch words for the municipal
    // things it names, which is what the content is written in.
    if dialogue::lang::detect(&core) == Lang::En {
        let dutch = dialogue::glossary::dutch_terms(&core);
        if !dutch.is_empty() {
            core = format!("{core} ({})", dutch.join(" "));
        }
    }
    // Picking an option by number needs no model.
    let picks_option = !situation.context.options.is_empty()
        && !core.trim().is_empty()
        && core.trim().chars().all(|c| c.is_ascii_digit());
    let needs_model = situation.agent.is_none() && msg.is_readable() && !picks_option;
    Guarded {
        text: redacted.text,
        pii,
        core,
        greeted,
        corrects,
        needs_model,
    }
}

/// What Loket will do with one message.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Empty while a person owns the conversation.
    pub reply: Reply,
    pub understanding: Understanding,
    /// The understanding with the conversation's topic as a prior, when there was a topic.
    pub within: Option<Understanding>,
    /// The outcome as counted and stored: the reply's action, `media` or `agent`.
    pub action: String,
    pub context: Context,
    pub handoff: Option<HandoffRecord>,
    /// The department of the conversation's current topic.
    pub department: Option<String>,
    /// The reply starts with the notice that a program answers.
    pub disclosed: bool,
    /// A person owns the conversation: nothing is said.
    pub agent: Option<Agent>,
}

impl Plan {
    pub fn agent_owned(&self) -> bool {
        self.agent.is_some()
    }
}

/// Understands and decides one guarded message. `vector` is the encoding of
/// [`Guarded::model_input`] (ignored when that is `None`).
pub fn plan(
    msg: &Message,
    guarded: &Guarded,
    vector: Option<&[f32]>,
    situation: &Situation,
    snap: &Snapshot,
    cfg: &DialogueConfig,
    now: DateTime<Utc>,
) -> Plan {
    if let Some(agent) = &situation.agent {
        return Plan {
            reply: Reply {
                text: String::new(),
                options: Vec::new(),
                action: Action::Handoff,
                intent: None,
                confidence: 0.0,
                faq_id: None,
            },
            understanding: Understanding::default(),
            within: None,
            action: "agent".into(),
            context: situation.context.clone(),
            handoff: None,
            department: agent.department.clone(),
            disclosed: false,
            agent: Some(agent.clone()),
        };
    }
    let context = &situation.context;
    let (mut reply, understanding, within, new_context, handoff, action) = if msg.is_readable() {
        let today = msg.received_at.date_naive();
        let (understanding, within) = match vector.filter(|_| guarded.needs_model) {
            // The message read on its own and with the conversation's topic as a prior.
            Some(v) => snap.understand_with_topic(
                &guarded.core,
                v,
                (!guarded.corrects)
                    .then(|| topic(snap, context, cfg))
                    .flatten()
                    .as_ref(),
                today,
            ),
            None => (Understanding::default(), None),
        };
        let turn = dialogue::Turn {
            text: &guarded.text,
            pii: &guarded.pii,
            understanding: &understanding,
            within_context: within.as_ref(),
            greeted: guarded.greeted,
            button_id: msg.button_id.as_deref(),
        };
        let outcome = dialogue::decide(&turn, context, &snap.kb, cfg, now);
        let action = outcome.reply.action.as_str().to_string();
        (
            outcome.reply,
            understanding,
            within,
            outcome.context,
            outcome.handoff,
            action,
        )
    } else {
        (
            media_reply(snap, context),
            Understanding::default(),
            None,
            context.clone(),
            None,
            "media".to_string(),
        )
    };
    // The first reply of a new conversation says that a program answers, once.
    let disclosed = situation.new_conversation;
    if disclosed {
        let lang = if new_context.english {
            Lang::En
        } else {
            Lang::Nl
        };
        let notice = snap.kb.text(TextKey::AiDisclosure, lang);
        reply.text = format!("{notice}\n\n{}", reply.text);
    }
    let department = handoff.as_ref().map(|h| h.department.clone()).or_else(|| {
        reply
            .intent
            .as_deref()
            .map(|i| snap.kb.department_for_intent(i).to_string())
    });
    let handoff = handoff.map(|h| HandoffRecord {
        department: h.department,
        reason: h.reason,
        within_office_hours: snap.kb.settings.hours.is_open(now),
    });
    Plan {
        reply,
        understanding,
        within,
        action,
        context: new_context,
        handoff,
        department,
        disclosed,
        agent: None,
    }
}

/// The conversation's topic before a message: the entry last answered and the options just
/// offered (a narrowing answer may pick one, or go on with what was answered before).
fn topic(
    snap: &Snapshot,
    context: &Context,
    cfg: &DialogueConfig,
) -> Option<crate::understand::Topic> {
    let ids: Vec<&str> = context
        .last_faq
        .iter()
        .map(String::as_str)
        .chain(context.options.iter().map(|o| o.id.as_str()))
        .collect();
    snap.topic(&ids, cfg.topic_stay)
}

/// The reply to a photo, voice note or other message Loket does not read.
fn media_reply(snap: &Snapshot, context: &Context) -> Reply {
    let lang = if context.english { Lang::En } else { Lang::Nl };
    Reply {
        text: snap.kb.text(TextKey::Media, lang),
        options: Vec::new(),
        action: Action::Smalltalk,
        intent: None,
        confidence: 1.0,
        faq_id: None,
    }
}

/// Where a turn's records go: the conversation and what the channel knows of the message.
#[derive(Debug, Clone)]
pub struct Origin {
    pub conversation_id: String,
    /// The municipality's slug; empty: the default municipality.
    pub municipality: String,
    pub channel: Channel,
    pub contact_id: Option<String>,
    /// The inbox row this turn completes (WhatsApp).
    pub inbox_id: Option<i64>,
    /// The channel's id of the message (WhatsApp wamid).
    pub external_id: Option<String>,
    /// Archived metadata of media (never its content).
    pub meta: Option<serde_json::Value>,
}

impl Origin {
    /// A conversation on a channel that knows nothing more of its messages (the web chat).
    pub fn new(conversation_id: &str, channel: Channel) -> Origin {
        Origin {
            conversation_id: conversation_id.to_string(),
            municipality: String::new(),
            channel,
            contact_id: None,
            inbox_id: None,
            external_id: None,
            meta: None,
        }
    }
}

impl Plan {
    /// The records of this turn, to be committed in one transaction: the citizen's message,
    /// the reply, the new context, the handoff and, with `events`, the webcare platform's
    /// events. `response_ms` is how long the turn took up to here.
    pub fn record(
        &self,
        msg: &Message,
        guarded: &Guarded,
        origin: Origin,
        response_ms: i64,
        events: bool,
        now: DateTime<Utc>,
    ) -> TurnRecord {
        let mut inbound = MessageRecord::new(Direction::In, guarded.text.clone(), msg.received_at);
        inbound.pii = guarded.pii_names().join(",");
        inbound.kind = msg.kind.clone();
        inbound.external_id = origin.external_id;
        inbound.meta = origin.meta;
        inbound.action = Some(self.action.clone());
        let mut record = TurnRecord {
            conversation_id: origin.conversation_id,
            municipality: origin.municipality,
            channel: origin.channel,
            contact_id: origin.contact_id,
            inbound,
            outbound: None,
            context: None,
            department: None,
            handoff: None,
            inbox_id: origin.inbox_id,
            outbox: None,
            events: Vec::new(),
        };
        if let Some(agent) = &self.agent {
            if events {
                let event = message_event(&record.inbound, agent.agent_id.as_deref());
                record.events.push(event);
            }
            return record;
        }
        let reply = &self.reply;
        record.inbound.intent = reply.intent.clone();
        record.inbound.confidence = Some(reply.confidence as f64);
        let mut outbound = MessageRecord::new(Direction::Out, reply.text.clone(), now);
        outbound.intent = reply.intent.clone();
        outbound.action = Some(self.action.clone());
        outbound.confidence = Some(reply.confidence as f64);
        outbound.faq_id = reply.faq_id.clone();
        outbound.response_ms = Some(response_ms);
        if self.disclosed {
            // The archive shows that the citizen was told.
            outbound.meta = Some(serde_json::json!({"ai_disclosure": true}));
        }
        record.context = Some(self.context.clone());
        record.department = self.department.clone();
        record.handoff = self.handoff.clone();
        if events {
            record.events.push(message_event(&record.inbound, None));
            record.events.push(message_event(&outbound, None));
            if let Some(h) = &self.handoff {
                record.events.push(PlatformEvent {
                    event: "handoff.requested",
                    data: serde_json::json!({
                        "department": h.department,
                        "reason": h.reason,
                        "channel": record.channel,
                        "within_office_hours": h.within_office_hours,
                        "last_message": record.inbound.text,
                    }),
                });
            }
        }
        record.outbound = Some(outbound);
        record
    }
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

/// Plans messages in one `situation` (the default: no conversation), storing nothing and
/// encoding them in one batch: the path of `loket classify`, `loket eval`, `kb test` and the
/// editors' preview.
pub fn plan_batch(
    snap: &Snapshot,
    embedder: &dyn Embed,
    texts: &[&str],
    situation: &Situation,
    cfg: &DialogueConfig,
    now: DateTime<Utc>,
) -> Result<Vec<Plan>, ClassifierError> {
    let messages: Vec<Message> = texts.iter().map(|t| Message::text(t, now)).collect();
    let guarded: Vec<Guarded> = messages.iter().map(|m| guard(m, situation)).collect();
    let inputs: Vec<&str> = guarded.iter().filter_map(|g| g.model_input()).collect();
    let vectors = if inputs.is_empty() {
        Vec::new()
    } else {
        embedder.embed(&inputs)?
    };
    let mut vectors = vectors.into_iter();
    Ok(messages
        .iter()
        .zip(&guarded)
        .map(|(m, g)| {
            let vector = g.model_input().and_then(|_| vectors.next());
            plan(m, g, vector.as_deref(), situation, snap, cfg, now)
        })
        .collect())
}
