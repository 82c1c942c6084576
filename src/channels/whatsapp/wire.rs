//! The inbound webhook of the WhatsApp Cloud API, parsed into flat [`Event`]s.
//!
//! One POST may batch several entries, each with several changes, each with several
//! messages and statuses. Unknown fields are ignored, missing optional parts tolerated,
//! and message types Loket does not know become [`Content::Unsupported`].
//!
//! Reading is lenient per part: a message, status, change or entry that cannot be read (a
//! missing id, a timestamp that is not unix seconds, messages without the business number
//! they were sent to, a wrong type) is skipped, logged without its content and counted in
//! `loket_whatsapp_webhook_skipped_total`; the other parts of the delivery are read as
//! usual, so one malformed event does not make Meta redeliver (or drop) the valid ones.
//! Only a body that is not JSON, is not a WhatsApp webhook object or has no `entry` array
//! is an error.
//!
//! Personal data: the fields Loket reads ([`Content::text_for_understanding`]) are passed on
//! as sent, without control characters, for the caller to guard (it needs the kinds the
//! guard found); every other field that is stored is guarded here: option ids and template
//! payloads when parsed, and [`Content::metadata_json`] (file names, emoji, unknown
//! types). Captions, location names and addresses and contact cards are never stored.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::privacy;
use crate::text::strip_controls;

/// The only `object` Meta sends for WhatsApp webhooks.
pub const OBJECT: &str = "whatsapp_business_account";

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the webhook body is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unexpected webhook object {0:?} (expected \"whatsapp_business_account\")")]
    WrongObject(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Message(InboundMessage),
    Status(StatusUpdate),
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// The message id, `wamid.…`; the deduplication key.
    pub id: String,
    /// The sender's WhatsApp id (their number without `+`).
    pub from: String,
    pub profile_name: Option<String>,
    /// The business number the message was sent to.
    pub phone_number_id: String,
    pub timestamp: DateTime<Utc>,
    pub content: Content,
    /// `message.context.id`: the message this one replies to (button replies, quotes).
    pub context_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    pub fn from_type(kind: &str) -> Option<MediaKind> {
        Some(match kind {
            "image" => MediaKind::Image,
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "document" => MediaKind::Document,
            "sticker" => MediaKind::Sticker,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text {
        body: String,
    },
    /// `interactive.button_reply`: the citizen tapped a reply button.
    ButtonReply {
        id: String,
        title: String,
    },
    /// `interactive.list_reply`: the citizen picked a list row.
    ListReply {
        id: String,
        title: String,
        description: Option<String>,
    },
    /// Type `button`: a quick-reply button of a template message.
    TemplateButton {
        text: String,
        payload: Option<String>,
    },
    Media {
        kind: MediaKind,
        media_id: String,
        mime_type: Option<String>,
        caption: Option<String>,
        filename: Option<String>,
        sha256: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// Shared contact cards; only the count is kept (the cards are personal data).
    Contacts {
        count: usize,
    },
    Reaction {
        message_id: String,
        /// `None` when a reaction was removed.
        emoji: Option<String>,
    },
    /// A type Loket does not handle (`unsupported`, `order`, `system`, …), or a known type
    /// whose payload was missing.
    Unsupported {
        kind: String,
    },
}

impl Content {
    /// The text the understanding pipeline should read, if any.
    pub fn text_for_understanding(&self) -> Option<String> {
        match self {
            Content::Text { body } => Some(body.clone()),
            Content::ButtonReply { title, .. } | Content::ListReply { title, .. } => {
                Some(title.clone())
            }
            Content::TemplateButton { text, .. } => Some(text.clone()),
            _ => None,
        }
    }

    /// A short name of the content type, for storage and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Content::Text { .. } => "text",
            Content::ButtonReply { .. } => "button_reply",
            Content::ListReply { .. } => "list_reply",
            Content::TemplateButton { .. } => "button",
            Content::Media { kind, .. } => kind.as_str(),
            Content::Location { .. } => "location",
            Content::Contacts { .. } => "contacts",
            Content::Reaction { .. } => "reaction",
            Content::Unsupported { .. } => "unsupported",
        }
    }

    /// The id of the option the citizen chose: button/list reply id or template payload.
    pub fn option_id(&self) -> Option<&str> {
        match self {
            Content::ButtonReply { id, .. } | Content::ListReply { id, .. } => Some(id.as_str()),
            Content::TemplateButton { payload, .. } => payload.as_deref(),
            _ => None,
        }
    }

    /// Non-personal facts about the content, safe to store next to the message: media id,
    /// MIME type, file name (personal data in it redacted: `paspoort_[BSN].pdf`), hash,
    /// whether there was a caption (never the caption), the location rounded to 2 decimals
    /// (about 1 km; never its name or address), the number of shared contacts (never the
    /// cards). Every free-text value passes the privacy guard.
    pub fn metadata_json(&self) -> Value {
        let kind = self.kind();
        match self {
            Content::Text { body } => json!({ "kind": kind, "chars": body.chars().count() }),
            Content::ButtonReply { id, .. } | Content::ListReply { id, .. } => {
                json!({ "kind": kind, "option_id": id })
            }
            Content::TemplateButton { payload, .. } => json!({ "kind": kind, "payload": payload }),
            Content::Media {
                media_id,
                mime_type,
                caption,
                filename,
                sha256,
                ..
            } => json!({
                "kind": kind,
                "media_id": guard(media_id),
                "mime_type": mime_type.as_deref().map(guard),
                "filename": filename.as_deref().map(|f| privacy::redact_file_name(&strip_controls(f)).text),
                "sha256": sha256.as_deref().map(guard),
                "has_caption": caption.as_deref().is_some_and(|c| !c.trim().is_empty()),
            }),
            Content::Location {
                latitude,
                longitude,
                ..
            } => json!({
                "kind": kind,
                "latitude": round2(*latitude),
                "longitude": round2(*longitude),
            }),
            Content::Contacts { count } => json!({ "kind": kind, "count": count }),
            Content::Reaction { message_id, emoji } => {
                json!({ "kind": kind, "message_id": guard(message_id), "emoji": emoji.as_deref().map(guard) })
            }
            Content::Unsupported { kind: original } => {
                json!({ "kind": kind, "type": guard(original) })
            }
        }
    }
}

/// A field Loket stores but does not read, as stored: without control characters and with
/// personal data redacted.
fn guard(s: &str) -> String {
    privacy::redact(&strip_controls(s)).text
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    Failed,
    /// Anything else Meta may add (e.g. "deleted", "warning").
    Other(String),
}

impl DeliveryStatus {
    pub fn parse(status: &str) -> DeliveryStatus {
        match status {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" => DeliveryStatus::Read,
            "failed" => DeliveryStatus::Failed,
            other => DeliveryStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// The `wamid` of the message Loket sent.
    pub id: String,
    pub status: DeliveryStatus,
    pub timestamp: DateTime<Utc>,
    pub recipient_id: String,
    pub errors: Vec<StatusError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusError {
    pub code: i64,
    pub title: String,
}

// ---------------------------------------------------------------------------------------
// The wire shapes (private): everything optional that Meta may leave out.

#[derive(Deserialize)]
struct Payload {
    object: String,
    /// Required: a body without it is not a webhook delivery. Its items are read one by one.
    entry: Vec<Value>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Value>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    value: Value,
}

/// A change's value; its lists are read item by item.
#[derive(Deserialize, Default)]
struct ChangeValue {
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    contacts: Vec<Value>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    statuses: Vec<Value>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    phone_number_id: String,
}

#[derive(Deserialize)]
struct WireContact {
    #[serde(default)]
    profile: Option<Profile>,
    #[serde(default)]
    wa_id: String,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    id: String,
    from: String,
    timestamp: Value,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    context: Option<WireContext>,
    #[serde(default)]
    text: Option<WireText>,
    #[serde(default)]
    interactive: Option<WireInteractive>,
    #[serde(default)]
    button: Option<WireButton>,
    #[serde(default)]
    image: Option<WireMedia>,
    #[serde(default)]
    audio: Option<WireMedia>,
    #[serde(default)]
    video: Option<WireMedia>,
    #[serde(default)]
    document: Option<WireMedia>,
    #[serde(default)]
    sticker: Option<WireMedia>,
    #[serde(default)]
    location: Option<WireLocation>,
    #[serde(default)]
    contacts: Option<Vec<Value>>,
    #[serde(default)]
    reaction: Option<WireReaction>,
}

#[derive(Deserialize)]
struct WireContext {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct WireText {
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
struct WireInteractive {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    button_reply: Option<WireReplyChoice>,
    #[serde(default)]
    list_reply: Option<WireReplyChoice>,
}

#[derive(Deserialize)]
struct WireReplyChoice {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct WireButton {
    #[serde(default)]
    text: String,
    #[serde(default)]
    payload: Option<String>,
}

#[derive(Deserialize)]
struct WireMedia {
    id: String,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

#[derive(Deserialize)]
struct WireLocation {
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Deserialize)]
struct WireReaction {
    message_id: String,
    #[serde(default)]
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct WireStatus {
    id: String,
    status: String,
    timestamp: Value,
    #[serde(default)]
    recipient_id: String,
    #[serde(default)]
    errors: Vec<WireStatusError>,
}

#[derive(Deserialize)]
struct WireStatusError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A webhook delivery as read: its events in order, and how many parts were skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Delivery {
    pub events: Vec<Event>,
    /// Messages, statuses, changes and entries that could not be read.
    pub skipped: usize,
}

/// Parses a webhook body into its messages and statuses, in the order they appear; parts
/// that cannot be read are skipped (see the module documentation).
///
/// Changes of other fields than `messages` (template status updates, account alerts, …)
/// are skipped too, silently: they are not for Loket.
pub fn parse(raw_body: &[u8]) -> Result<Vec<Event>, WireError> {
    parse_delivery(raw_body).map(|d| d.events)
}

/// [`parse`], with the number of skipped parts.
pub fn parse_delivery(raw_body: &[u8]) -> Result<Delivery, WireError> {
    let payload: Payload = serde_json::from_slice(raw_body)?;
    if payload.object != OBJECT {
        return Err(WireError::WrongObject(payload.object));
    }
    let mut delivery = Delivery::default();
    for (e, entry) in payload.entry.into_iter().enumerate() {
        let entry: Entry = match serde_json::from_value(entry) {
            Ok(entry) => entry,
            Err(err) => {
                skip(&mut delivery, "entry", &format!("{e}"), &reason(&err));
                continue;
            }
        };
        for (c, change) in entry.changes.into_iter().enumerate() {
            let at = format!("{e}.{c}");
            let change: Change = match serde_json::from_value(change) {
                Ok(change) => change,
                Err(err) => {
                    skip(&mut delivery, "change", &at, &reason(&err));
                    continue;
                }
            };
            if change.field.as_deref().is_some_and(|f| f != "messages") || change.value.is_null() {
                continue;
            }
            match serde_json::from_value::<ChangeValue>(change.value) {
                Ok(value) => flatten(value, &at, &mut delivery),
                Err(err) => skip(&mut delivery, "change", &at, &reason(&err)),
            }
        }
    }
    Ok(delivery)
}

/// Why a part could not be read, without the values serde quotes (they may be a citizen's
/// text): the error's category only.
fn reason(err: &serde_json::Error) -> String {
    format!("{:?} error", err.classify())
}

/// Counts and logs a part that cannot be read: where it was and why, never its content.
fn skip(delivery: &mut Delivery, part: &'static str, at: &str, reason: &str) {
    delivery.skipped += 1;
    crate::metrics::record_webhook_skipped(part);
    tracing::warn!(
        part,
        at,
        reason,
        "whatsapp webhook: skipped a part it cannot read"
    );
}

fn flatten(value: ChangeValue, at: &str, delivery: &mut Delivery) {
    let phone_number_id = value
        .metadata
        .map(|m| m.phone_number_id)
        .unwrap_or_default();
    // Contact cards that cannot be read only cost the profile name.
    let contacts: Vec<WireContact> = value
        .contacts
        .into_iter()
        .filter_map(|c| serde_json::from_value(c).ok())
        .collect();
    for (m, message) in value.messages.into_iter().enumerate() {
        let at = format!("{at}.messages.{m}");
        if phone_number_id.is_empty() {
            skip(delivery, "message", &at, "no metadata.phone_number_id");
            continue;
        }
        let message: WireMessage = match serde_json::from_value(message) {
            Ok(message) => message,
            Err(err) => {
                skip(delivery, "message", &at, &reason(&err));
                continue;
            }
        };
        let Some(timestamp) = unix_time(&message.timestamp) else {
            skip(delivery, "message", &at, "timestamp is not unix seconds");
            continue;
        };
        let profile_name = contacts
            .iter()
            .find(|c| c.wa_id == message.from)
            .or(if contacts.len() == 1 {
                contacts.first()
            } else {
                None
            })
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.clone());
        let context_id = message.context.as_ref().and_then(|c| c.id.clone());
        let id = message.id.clone();
        let from = message.from.clone();
        delivery.events.push(Event::Message(InboundMessage {
            id,
            from,
            profile_name,
            phone_number_id: phone_number_id.clone(),
            timestamp,
            content: content(message),
            context_id,
        }));
    }
    for (i, status) in value.statuses.into_iter().enumerate() {
        let at = format!("{at}.statuses.{i}");
        let status: WireStatus = match serde_json::from_value(status) {
            Ok(status) => status,
            Err(err) => {
                skip(delivery, "status", &at, &reason(&err));
                continue;
            }
        };
        let Some(timestamp) = unix_time(&status.timestamp) else {
            skip(delivery, "status", &at, "timestamp is not unix seconds");
            continue;
        };
        delivery.events.push(Event::Status(StatusUpdate {
            timestamp,
            id: status.id,
            status: DeliveryStatus::parse(&status.status),
            recipient_id: status.recipient_id,
            errors: status
                .errors
                .into_iter()
                .map(|e| StatusError {
                    code: e.code,
                    title: e.title.or(e.message).unwrap_or_default(),
                })
                .collect(),
        }));
    }
}

/// Meta sends unix seconds as a string; a number is accepted too.
fn unix_time(value: &Value) -> Option<DateTime<Utc>> {
    let secs = match value {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    secs.and_then(|s| Utc.timestamp_opt(s, 0).single())
}

/// A field Loket reads, without control characters; the caller guards it (and keeps the
/// kinds of personal data found).
fn plain(s: String) -> String {
    match strip_controls(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(o) => o,
    }
}

fn content(m: WireMessage) -> Content {
    let unsupported = |kind: &str| Content::Unsupported {
        kind: kind.to_string(),
    };
    match m.kind.as_str() {
        "text" => match m.text {
            Some(t) => Content::Text {
                body: plain(t.body),
            },
            None => unsupported("text"),
        },
        "interactive" => match m.interactive {
            Some(WireInteractive {
                button_reply: Some(b),
                ..
            }) => Content::ButtonReply {
                id: guard(&b.id),
                title: plain(b.title),
            },
            Some(WireInteractive {
                list_reply: Some(l),
                ..
            }) => Content::ListReply {
                id: guard(&l.id),
                title: plain(l.title),
                description: l.description.filter(|d| !d.is_empty()),
            },
            Some(i) => Content::Unsupported {
                kind: format!("interactive.{}", i.kind),
            },
            None => unsupported("interactive"),
        },
        "button" => match m.button {
            Some(b) => Content::TemplateButton {
                text: plain(b.text),
                payload: b.payload.filter(|p| !p.is_empty()).map(|p| guard(&p)),
            },
            None => unsupported("button"),
        },
        "location" => match m.location {
            Some(l) => Content::Location {
                latitude: l.latitude,
                longitude: l.longitude,
                name: l.name,
                address: l.address,
            },
            None => unsupported("location"),
        },
        "contacts" => Content::Contacts {
            count: m.contacts.map_or(0, |c| c.len()),
        },
        "reaction" => match m.reaction {
            Some(r) => Content::Reaction {
                message_id: r.message_id,
                emoji: r.emoji.filter(|e| !e.is_empty()),
            },
            None => unsupported("reaction"),
        },
        other => {
            let Some(kind) = MediaKind::from_type(other) else {
                return unsupported(other);
            };
            let media = match kind {
                MediaKind::Image => m.image,
                MediaKind::Audio => m.audio,
                MediaKind::Video => m.video,
                MediaKind::Document => m.document,
                MediaKind::Sticker => m.sticker,
            };
            match media {
                Some(media) => Content::Media {
                    kind,
                    media_id: media.id,
                    mime_type: media.mime_type,
                    caption: media.caption,
                    filename: media.filename,
                    sha256: media.sha256,
                },
                None => unsupported(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wraps `messages` and `statuses` JSON in one entry with one change, as Meta does.
    fn envelope(messages: &str, statuses: &str) -> String {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"31201234567","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"Jan de Vries"}},"wa_id":"31612345678"}}],"messages":[{messages}],"statuses":[{statuses}]}},"field":"messages"}}]}}]}}"#
        )
    }

    fn one_message(message: &str) -> InboundMessage {
        let events = parse(envelope(message, "").as_bytes()).unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        match events.into_iter().next().unwrap() {
            Event::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn text_message() {
        let m = one_message(
            r#"{"from":"31612345678","id":"wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQUI=","timestamp":"1717000000","text":{"body":"Wat kost een paspoort? \u00e4 \ud83d\ude00"},"type":"text"}"#,
        );
        assert_eq!(m.id, "wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQUI=");
        assert_eq!(m.from, "31612345678");
        assert_eq!(m.profile_name.as_deref(), Some("Jan de Vries"));
        assert_eq!(m.phone_number_id, "106540352242922");
        assert_eq!(m.timestamp, Utc.timestamp_opt(1_717_000_000, 0).unwrap());
        assert_eq!(m.context_id, None);
        assert_eq!(
            m.content,
            Content::Text {
                body: "Wat kost een paspoort? ä 😀".into()
            }
        );
        assert_eq!(m.content.kind(), "text");
        assert_eq!(
            m.content.text_for_understanding().as_deref(),
            Some("Wat kost een paspoort? ä 😀")
        );
        assert_eq!(m.content.option_id(), None);
        assert_eq!(
            m.content.metadata_json(),
            json!({"kind": "text", "chars": 26})
        );
    }

    #[test]
    fn button_reply_with_context() {
        let m = one_message(
            r#"{"context":{"from":"31201234567","id":"wamid.OUT1"},"from":"31612345678","id":"wamid.IN2","timestamp":"1717000001","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"faq-paspoort-kosten","title":"Kosten paspoort"}}}"#,
        );
        assert_eq!(m.context_id.as_deref(), Some("wamid.OUT1"));
        assert_eq!(
            m.content,
            Content::ButtonReply {
                id: "faq-paspoort-kosten".into(),
                title: "Kosten paspoort".into()
            }
        );
        assert_eq!(m.content.kind(), "button_reply");
        assert_eq!(m.content.option_id(), Some("faq-paspoort-kosten"));
        assert_eq!(
            m.content.text_for_understanding().as_deref(),
            Some("Kosten paspoort")
        );
    }

    #[test]
    fn list_reply() {
        let m = one_message(
            r#"{"context":{"from":"31201234567","id":"wamid.OUT2"},"from":"31612345678","id":"wamid.IN3","timestamp":"1717000002","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"faq-afval-grofvuil","title":"Grofvuil ophalen","description":"Grofvuil laten ophalen aan huis"}}}"#,
        );
        assert_eq!(
            m.content,
            Content::ListReply {
                id: "faq-afval-grofvuil".into(),
                title: "Grofvuil ophalen".into(),
                description: Some("Grofvuil laten ophalen aan huis".into())
            }
        );
        assert_eq!(m.content.kind(), "list_reply");
        assert_eq!(m.content.option_id(), Some("faq-afval-grofvuil"));
    }

    #[test]
    fn template_quick_reply_button() {
        let m = one_message(
            r#"{"context":{"from":"31201234567","id":"wamid.TPL"},"from":"31612345678","id":"wamid.IN4","timestamp":"1717000003","type":"button","button":{"text":"Ja, graag","payload":"reopen-yes"}}"#,
        );
        assert_eq!(
            m.content,
            Content::TemplateButton {
                text: "Ja, graag".into(),
                payload: Some("reopen-yes".into())
            }
        );
        assert_eq!(m.content.kind(), "button");
        assert_eq!(m.content.option_id(), Some("reopen-yes"));
        assert_eq!(
            m.content.text_for_understanding().as_deref(),
            Some("Ja, graag")
        );
    }

    #[test]
    fn image_with_caption_keeps_the_caption_out_of_metadata() {
        let m = one_message(
            r#"{"from":"31612345678","id":"wamid.IMG","timestamp":"1717000004","type":"image","image":{"caption":"Mijn BSN is 123456782","mime_type":"image/jpeg","sha256":"k1Kx0XyFJgfTxE7a0Zyh1xEyS8Ug4+6PHY0U0s1IbIc=","id":"1245839386155036"}}"#,
        );
        assert_eq!(
            m.content,
            Content::Media {
                kind: MediaKind::Image,
                media_id: "1245839386155036".into(),
                mime_type: Some("image/jpeg".into()),
                caption: Some("Mijn BSN is 123456782".into()),
                filename: None,
                sha256: Some("k1Kx0XyFJgfTxE7a0Zyh1xEyS8Ug4+6PHY0U0s1IbIc=".into()),
            }
        );
        assert_eq!(m.content.kind(), "image");
        assert_eq!(m.content.text_for_understanding(), None);
        let meta = m.content.metadata_json();
        assert_eq!(meta["has_caption"], json!(true));
        assert_eq!(meta["media_id"], json!("1245839386155036"));
        assert!(!meta.to_string().contains("123456782"), "{meta}");
    }

    #[test]
    fn every_media_kind() {
        for (kind, extra) in [
            (
                "audio",
                r#""mime_type":"audio/ogg; codecs=opus","voice":true"#,
            ),
            ("video", r#""mime_type":"video/mp4""#),
            (
                "document",
                r#""filename":"aanvraag.pdf","mime_type":"application/pdf""#,
            ),
            ("sticker", r#""mime_type":"image/webp","animated":false"#),
        ] {
            let m = one_message(&format!(
                r#"{{"from":"31612345678","id":"wamid.M","timestamp":"1717000005","type":"{kind}","{kind}":{{{extra},"sha256":"abc","id":"99"}}}}"#
            ));
            assert_eq!(m.content.kind(), kind);
            let Content::Media {
                media_id, filename, ..
            } = &m.content
            else {
                panic!("{kind}: {:?}", m.content)
            };
            assert_eq!(media_id, "99");
            assert_eq!(filename.is_some(), kind == "document");
            assert_eq!(m.content.metadata_json()["has_caption"], json!(false));
        }
    }

    #[test]
    fn location_is_rounded_in_metadata() {
        let m = one_message(
            r#"{"from":"31612345678","id":"wamid.LOC","timestamp":"1717000006","type":"location","location":{"address":"Stationsplein 1, Utrecht","latitude":52.089444,"longitude":5.110278,"name":"Thuis","url":"https://example.org"}}"#,
        );
        assert_eq!(
            m.content,
            Content::Location {
                latitude: 52.089444,
                longitude: 5.110278,
                name: Some("Thuis".into()),
                address: Some("Stationsplein 1, Utrecht".into())
            }
        );
        let meta = m.content.metadata_json();
        assert_eq!(
            meta,
            json!({"kind": "location", "latitude": 52.09, "longitude": 5.11})
        );
    }

    #[test]
    fn contacts_only_count() {
        let m = one_message(
            r#"{"from":"31612345678","id":"wamid.CON","timestamp":"1717000007","type":"contacts","contacts":[{"name":{"formatted_name":"Piet Jansen","first_name":"Piet"},"phones":[{"phone":"+31 6 87654321","type":"CELL"}]},{"name":{"formatted_name":"Klaas"}}]}"#,
        );
        assert_eq!(m.content, Content::Contacts { count: 2 });
        let meta = m.content.metadata_json().to_string();
        assert!(!meta.contains("Piet") && !meta.contains("8765"), "{meta}");
    }

    #[test]
    fn reaction_and_removed_reaction() {
        let m = one_message(
            r#"{"from":"31612345678","id":"wamid.R1","timestamp":"1717000008","type":"reaction","reaction":{"message_id":"wamid.OUT1","emoji":"\ud83d\udc4d"}}"#,
        );
        assert_eq!(
            m.content,
            Content::Reaction {
                message_id: "wamid.OUT1".into(),
                emoji: Some("👍".into())
            }
        );
        let m = one_message(
            r#"{"from":"31612345678","id":"wamid.R2","timestamp":"1717000009","type":"reaction","reaction":{"message_id":"wamid.OUT1","emoji":""}}"#,
        );
        assert_eq!(
            m.content,
            Content::Reaction {
                message_id: "wamid.OUT1".into(),
                emoji: None
            }
        );
    }

    #[test]
    fn unsupported_and_unknown_types() {
        let m = one_message(
            r#"{"from":"31612345678","id":"wamid.U","timestamp":"1717000010","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}]}"#,
        );
        assert_eq!(
            m.content,
            Content::Unsupported {
                kind: "unsupported".into()
            }
        );
        let m = one_message(
            r#"{"from":"31612345678","id":"wamid.O","timestamp":"1717000011","type":"order","order":{"catalog_id":"1"}}"#,
        );
        assert_eq!(
            m.content,
            Content::Unsupported {
                kind: "order".into()
            }
        );
        assert_eq!(m.content.kind(), "unsupported");
        let m = one_message(
            r#"{"from":"31612345678","id":"wamid.F","timestamp":"1717000012","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"response_json":"{}"}}}"#,
        );
        assert_eq!(
            m.content,
            Content::Unsupported {
                kind: "interactive.nfm_reply".into()
            }
        );
    }

    #[test]
    fn failed_status_with_errors() {
        let body = envelope(
            "",
            r#"{"id":"wamid.OUT9","status":"failed","timestamp":"1717000100","recipient_id":"31612345678","errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}"#,
        );
        let events = parse(body.as_bytes()).unwrap();
        assert_eq!(
            events,
            vec![Event::Status(StatusUpdate {
                id: "wamid.OUT9".into(),
                status: DeliveryStatus::Failed,
                timestamp: Utc.timestamp_opt(1_717_000_100, 0).unwrap(),
                recipient_id: "31612345678".into(),
                errors: vec![StatusError {
                    code: 131047,
                    title: "Re-engagement message".into()
                }],
            })]
        );
    }

    #[test]
    fn batched_post_is_flattened_in_order() {
        let body = r#"{"object":"whatsapp_business_account","entry":[
          {"id":"WABA1","changes":[
            {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"31201234567","phone_number_id":"PN1"},
              "contacts":[{"profile":{"name":"Anna"},"wa_id":"31611111111"},{"profile":{"name":"Bram"},"wa_id":"31622222222"}],
              "messages":[
                {"from":"31611111111","id":"wamid.A1","timestamp":"1717000001","type":"text","text":{"body":"hallo"}},
                {"from":"31622222222","id":"wamid.B1","timestamp":"1717000002","type":"text","text":{"body":"goedemiddag"}}
              ]}},
            {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"31201234567","phone_number_id":"PN1"},
              "statuses":[
                {"id":"wamid.OUT1","status":"sent","timestamp":"1717000003","recipient_id":"31611111111","conversation":{"id":"c1","origin":{"type":"service"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"service"}},
                {"id":"wamid.OUT1","status":"read","timestamp":"1717000004","recipient_id":"31611111111"}
              ]}}
          ]},
          {"id":"WABA2","changes":[
            {"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":1}},
            {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"31301234567","phone_number_id":"PN2"},
              "contacts":[{"profile":{"name":"Cor"},"wa_id":"31633333333"}],
              "messages":[{"from":"31633333333","id":"wamid.C1","timestamp":"1717000005","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"opt-1","title":"Ja"}}}],
              "statuses":[{"id":"wamid.OUT2","status":"delivered","timestamp":"1717000006","recipient_id":"31644444444"},
                          {"id":"wamid.OUT3","status":"deleted","timestamp":"1717000007","recipient_id":"31644444444"}]}}
          ]}
        ]}"#;
        let events = parse(body.as_bytes()).unwrap();
        let summary: Vec<String> = events
            .iter()
            .map(|e| match e {
                Event::Message(m) => format!(
                    "msg {} {} {} {:?}",
                    m.id,
                    m.phone_number_id,
                    m.from,
                    m.profile_name.as_deref()
                ),
                Event::Status(s) => format!("status {} {}", s.id, s.status.as_str()),
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                r#"msg wamid.A1 PN1 31611111111 Some("Anna")"#,
                r#"msg wamid.B1 PN1 31622222222 Some("Bram")"#,
                "status wamid.OUT1 sent",
                "status wamid.OUT1 read",
                r#"msg wamid.C1 PN2 31633333333 Some("Cor")"#,
                "status wamid.OUT2 delivered",
                "status wamid.OUT3 deleted",
            ]
        );
        let Event::Status(s) = &events[6] else {
            unreachable!()
        };
        assert_eq!(s.status, DeliveryStatus::Other("deleted".into()));
    }

    #[test]
    fn missing_optional_parts_are_tolerated() {
        // No contacts, no context, numeric timestamp, no statuses key at all.
        let body = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"PN"},"messages":[{"from":"316","id":"wamid.X","timestamp":1717000000,"type":"text","text":{"body":"hoi"}}]}}]},{"id":"empty"}]}"#;
        let events = parse(body.as_bytes()).unwrap();
        let [Event::Message(m)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(m.profile_name, None);
        assert_eq!(m.timestamp.timestamp(), 1_717_000_000);
        // An entry without changes and an empty entry list are fine too.
        assert!(
            parse(br#"{"object":"whatsapp_business_account","entry":[]}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn wrong_object_and_garbage_are_errors() {
        assert!(matches!(
            parse(br#"{"object":"page","entry":[]}"#),
            Err(WireError::WrongObject(o)) if o == "page"
        ));
        assert!(matches!(parse(b"not json"), Err(WireError::Json(_))));
        assert!(matches!(parse(b""), Err(WireError::Json(_))));
        assert!(matches!(parse(br#"{"entry":[]}"#), Err(WireError::Json(_))));
        // No entry array at all: not a delivery.
        assert!(matches!(
            parse(br#"{"object":"whatsapp_business_account"}"#),
            Err(WireError::Json(_))
        ));
        assert!(matches!(
            parse(br#"{"object":"whatsapp_business_account","entry":{}}"#),
            Err(WireError::Json(_))
        ));
    }

    #[test]
    fn bad_timestamp_and_missing_metadata_skip_the_message() {
        // Before: one such message failed the whole delivery. Now it is skipped and counted.
        let body = envelope(
            r#"{"from":"316","id":"wamid.T","timestamp":"yesterday","type":"text","text":{"body":"x"}}"#,
            "",
        );
        let d = parse_delivery(body.as_bytes()).unwrap();
        assert_eq!((d.events.len(), d.skipped), (0, 1));
        let body = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"316","id":"wamid.T","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]}"#;
        let d = parse_delivery(body.as_bytes()).unwrap();
        assert_eq!((d.events.len(), d.skipped), (0, 1));
    }

    #[test]
    fn a_malformed_message_does_not_cost_the_valid_ones() {
        let valid = |id: &str, body: &str| {
            format!(
                r#"{{"from":"31611111111","id":"{id}","timestamp":"1717000001","type":"text","text":{{"body":"{body}"}}}}"#
            )
        };
        let messages = [
            valid("wamid.V1", "wat kost een paspoort"),
            // No id, and a timestamp that is an object: unreadable.
            r#"{"from":"31611111111","timestamp":{"x":1},"type":"text","text":{"body":"mijn bsn is 123456782"}}"#.to_string(),
            valid("wamid.V2", "hoe laat is het gemeentehuis open"),
        ]
        .join(",");
        let statuses = r#"{"id":"wamid.OUT1","status":"read","timestamp":"1717000003","recipient_id":"316"},{"status":7}"#;
        let d = parse_delivery(envelope(&messages, statuses).as_bytes()).unwrap();
        let ids: Vec<&str> = d
            .events
            .iter()
            .map(|e| match e {
                Event::Message(m) => m.id.as_str(),
                Event::Status(s) => s.id.as_str(),
            })
            .collect();
        assert_eq!(ids, ["wamid.V1", "wamid.V2", "wamid.OUT1"]);
        assert_eq!(d.skipped, 2);
        // Entries and changes of the wrong shape are skipped the same way.
        let good: Value = serde_json::from_str(&envelope(&valid("wamid.V3", "hoi"), "")).unwrap();
        let body = json!({
            "object": OBJECT,
            "entry": [
                5,
                { "changes": "x" },
                { "changes": [7, { "field": "messages", "value": { "messages": "x" } }] },
                good["entry"][0],
            ]
        });
        let d = parse_delivery(body.to_string().as_bytes()).unwrap();
        assert_eq!(d.events.len(), 1, "{d:?}");
        assert_eq!(d.skipped, 4);
    }

    #[test]
    fn stored_fields_pass_the_guard() {
        let m = one_message(
            r#"{"from":"316","id":"wamid.D","timestamp":"1","type":"document","document":{"filename":"paspoort_jansen_123 456 782.pdf","caption":"mijn iban NL91ABNA0417164300","mime_type":"application/pdf","id":"77"}}"#,
        );
        let meta = m.content.metadata_json();
        assert_eq!(
            meta["filename"],
            json!("paspoort_jansen_[BSN].pdf"),
            "{meta}"
        );
        assert!(!meta.to_string().contains("NL91"), "{meta}");
        for (file, expected) in [
            ("bsn_123_456_782.jpg", "bsn_[BSN].jpg"),
            ("06-12345678.pdf", "[TELEFOON].pdf"),
            ("jan@example.nl.pdf", "[EMAIL].pdf"),
            ("IMG_20240312_143015.jpg", "IMG_20240312_143015.jpg"),
            ("aanvraag.pdf", "aanvraag.pdf"),
        ] {
            assert_eq!(privacy::redact_file_name(file).text, expected, "{file}");
        }
        // Option ids and template payloads are guarded when parsed; the title is for the
        // caller's guard, which keeps the kinds it finds.
        let m = one_message(
            r#"{"from":"316","id":"wamid.B","timestamp":"1","type":"button","button":{"text":"bel 0612345678","payload":"bel 0612345678"}}"#,
        );
        assert_eq!(m.content.option_id(), Some("bel [TELEFOON]"));
        assert_eq!(
            m.content.text_for_understanding().as_deref(),
            Some("bel 0612345678")
        );
        let m =
            one_message(r#"{"from":"316","id":"wamid.U","timestamp":"1","type":"jan@example.nl"}"#);
        assert_eq!(m.content.metadata_json()["type"], json!("[EMAIL]"));
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        /// Field names of the webhook, so that generated JSON often has the right keys with
        /// the wrong shapes.
        const KEYS: &[&str] = &[
            "object",
            "entry",
            "id",
            "changes",
            "field",
            "value",
            "metadata",
            "phone_number_id",
            "contacts",
            "profile",
            "name",
            "wa_id",
            "messages",
            "statuses",
            "from",
            "timestamp",
            "type",
            "text",
            "body",
            "interactive",
            "button_reply",
            "list_reply",
            "title",
            "description",
            "button",
            "payload",
            "image",
            "document",
            "filename",
            "caption",
            "location",
            "latitude",
            "longitude",
            "address",
            "reaction",
            "emoji",
            "message_id",
            "context",
            "status",
            "recipient_id",
            "errors",
            "code",
        ];

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(
                    |f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                ),
                "\\PC{0,12}".prop_map(Value::String),
                prop::sample::select(vec![
                    "whatsapp_business_account",
                    "messages",
                    "text",
                    "interactive",
                    "button",
                    "document",
                    "image",
                    "location",
                    "contacts",
                    "reaction",
                    "1717000000",
                    "mijn bsn is 123456782",
                    "sent",
                    "read",
                ])
                .prop_map(|s| Value::String(s.into())),
            ];
            leaf.prop_recursive(5, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(
                        |kv| Value::Object(
                            kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                        )
                    ),
                ]
            })
        }

        /// A delivery envelope with arbitrary JSON in its entries.
        fn delivery() -> impl Strategy<Value = Value> {
            prop::collection::vec(json(), 0..4)
                .prop_map(|entry| serde_json::json!({ "object": OBJECT, "entry": entry }))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            #[test]
            fn arbitrary_json_never_panics(value in json()) {
                let _ = parse_delivery(value.to_string().as_bytes());
            }

            #[test]
            fn arbitrary_entries_are_read_or_skipped(body in delivery()) {
                let d = parse_delivery(body.to_string().as_bytes());
                prop_assert!(d.is_ok(), "{d:?}");
                for e in d.unwrap().events {
                    if let Event::Message(m) = e {
                        // Every stored field of the content passes the guard: guarding it
                        // again changes nothing.
                        let meta = m.content.metadata_json().to_string();
                        let again = crate::privacy::redact(&meta).text;
                        prop_assert!(!meta.contains("123456782"), "{meta}");
                        prop_assert!(again.len() <= meta.len() + 64);
                    }
                }
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
                let _ = parse_delivery(&bytes);
            }
        }
    }
}
