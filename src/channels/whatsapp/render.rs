//! From a decision to the body of a WhatsApp send, respecting the 24-hour window: inside it
//! a text, reply buttons (≤ 3 options) or a list (≤ 10); outside it only the configured
//! template may be sent, with the reply as its parameter. Which one was chosen is recorded
//! as the message's `kind` (`text`, `interactive`, `template`), visible in the API and the
//! archive.

use chrono::{DateTime, Duration, Utc};

use super::outbound;
use crate::config::WhatsAppConfig;
use crate::dialogue::{Lang, Reply};
use crate::knowledge::{KnowledgeBase, TextKey};
use crate::store::Channel;
use crate::store::queue::OutboxDraft;
use crate::turn::Origin;

/// WhatsApp's customer-service window.
pub const WINDOW_HOURS: i64 = 24;

/// Whether free-form messages may still be sent to a contact whose last message came at
/// `last_inbound`.
pub fn window_open(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_inbound.is_some_and(|t| now - t < Duration::hours(WINDOW_HOURS))
}

fn lang(english: bool) -> Lang {
    if english { Lang::En } else { Lang::Nl }
}

/// A template parameter may not contain line breaks, tabs or runs of spaces.
fn template_param(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::dialogue::shorten(&flat, 1000)
}

fn template_body(
    cfg: &WhatsAppConfig,
    text: &str,
    kb: &KnowledgeBase,
    english: bool,
) -> serde_json::Value {
    let notice = kb.text(TextKey::TemplateNotice, lang(english));
    let param = template_param(&format!("{notice} {text}"));
    outbound::template(
        "",
        &cfg.reopen_template,
        &cfg.template_language,
        &[param.as_str()],
    )
}

/// The bot's reply to the message `origin` describes (its contact and WhatsApp id).
pub fn reply_draft(
    cfg: &WhatsAppConfig,
    reply: &Reply,
    origin: &Origin,
    window_open: bool,
    kb: &KnowledgeBase,
    english: bool,
) -> OutboxDraft {
    let (kind, body) = if window_open {
        let button = kb.text(TextKey::ListButton, lang(english));
        let body = outbound::reply("", &reply.text, &reply.options, &button);
        let kind = if reply.options.is_empty() {
            "text"
        } else {
            "interactive"
        };
        (kind, body)
    } else {
        ("template", template_body(cfg, &reply.text, kb, english))
    };
    OutboxDraft {
        dedup_key: format!(
            "reply:{}",
            origin.external_id.as_deref().unwrap_or_default()
        ),
        contact_id: origin.contact_id.clone().unwrap_or_default(),
        channel: Channel::Whatsapp,
        kind: kind.into(),
        body,
    }
}

/// An agent's reply: free text inside the window, the template outside it.
pub fn agent_draft(
    cfg: &WhatsAppConfig,
    text: &str,
    contact_id: &str,
    window_open: bool,
    kb: &KnowledgeBase,
) -> OutboxDraft {
    let (kind, body) = if window_open {
        ("text", outbound::text("", text))
    } else {
        ("template", template_body(cfg, text, kb, false))
    };
    OutboxDraft {
        dedup_key: format!("agent:{}", uuid::Uuid::now_v7()),
        contact_id: contact_id.into(),
        channel: Channel::Whatsapp,
        kind: kind.into(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_24_hours_from_the_citizens_last_message() {
        let now = Utc::now();
        assert!(window_open(Some(now - Duration::hours(23)), now));
        assert!(!window_open(Some(now - Duration::hours(25)), now));
        assert!(!window_open(None, now));
    }

    fn kb() -> KnowledgeBase {
        crate::knowledge::fixture()
    }

    #[test]
    fn outside_the_window_the_template_carries_the_reply_on_one_line() {
        let cfg = WhatsAppConfig::default();
        let kb = kb();
        let d = agent_draft(
            &cfg,
            "Goedemorgen,\n\nuw aanvraag is klaar.",
            "wa-x",
            false,
            &kb,
        );
        assert_eq!(d.kind, "template");
        let body = d.body.to_string();
        assert!(
            body.contains("Er staat een antwoord van de gemeente"),
            "{body}"
        );
        assert!(body.contains(&cfg.reopen_template), "{body}");
        assert!(
            body.contains("Goedemorgen, uw aanvraag is klaar."),
            "{body}"
        );
        let inside = agent_draft(&cfg, "Hallo", "wa-x", true, &kb);
        assert_eq!(inside.kind, "text");
        assert_ne!(d.dedup_key, inside.dedup_key);
    }
}
