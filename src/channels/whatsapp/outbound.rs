//! JSON bodies for `POST {base}/{version}/{phone_number_id}/messages`.
//!
//! Every builder keeps within WhatsApp's limits, shortening text with "…" on character
//! boundaries, so that a long FAQ title never makes the Graph API reject a whole reply.

use serde_json::{Value, json};

use crate::dialogue::ReplyOption;

/// Text message body.
pub const TEXT_MAX: usize = 4096;
/// Body of an interactive button message.
pub const BUTTON_BODY_MAX: usize = 1024;
/// Body of an interactive list message.
pub const LIST_BODY_MAX: usize = 4096;
/// Reply buttons per message.
pub const MAX_BUTTONS: usize = 3;
pub const BUTTON_TITLE_MAX: usize = 20;
pub const BUTTON_ID_MAX: usize = 256;
/// Rows per list message (over all sections).
pub const MAX_LIST_ROWS: usize = 10;
pub const ROW_TITLE_MAX: usize = 24;
pub const ROW_DESCRIPTION_MAX: usize = 72;
pub const ROW_ID_MAX: usize = 200;
/// The label of the button that opens a list.
pub const LIST_BUTTON_MAX: usize = 20;

/// `text` shortened to at most `max` characters, ending in "…" when it was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    // Do not leave a dangling space before the ellipsis.
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('…');
    out
}

/// An id is cut without an ellipsis: it is matched, not read.
fn cut_id(id: &str, max: usize) -> String {
    id.chars().take(max).collect()
}

fn envelope(to: &str, kind: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("messaging_product".into(), json!("whatsapp"));
    m.insert("recipient_type".into(), json!("individual"));
    m.insert("to".into(), json!(to));
    m.insert("type".into(), json!(kind));
    m
}

/// A plain text message (no link preview).
pub fn text(to: &str, body: &str) -> Value {
    let mut m = envelope(to, "text");
    m.insert(
        "text".into(),
        json!({ "preview_url": false, "body": truncate(body, TEXT_MAX) }),
    );
    Value::Object(m)
}

/// The reply with its options: none → text; 1–3 → reply buttons; 4–10 → a list with one
/// section (more than 10 → the first 10). `list_button` labels the button opening the list.
pub fn reply(to: &str, body: &str, options: &[ReplyOption], list_button: &str) -> Value {
    if options.is_empty() {
        return text(to, body);
    }
    let mut m = envelope(to, "interactive");
    let interactive = if options.len() <= MAX_BUTTONS {
        let buttons: Vec<Value> = options
            .iter()
            .map(|o| {
                json!({
                    "type": "reply",
                    "reply": {
                        "id": cut_id(&o.id, BUTTON_ID_MAX),
                        "title": truncate(&o.title, BUTTON_TITLE_MAX),
                    }
                })
            })
            .collect();
        json!({
            "type": "button",
            "body": { "text": truncate(body, BUTTON_BODY_MAX) },
            "action": { "buttons": buttons },
        })
    } else {
        let rows: Vec<Value> = options
            .iter()
            .take(MAX_LIST_ROWS)
            .map(|o| {
                let mut row = json!({
                    "id": cut_id(&o.id, ROW_ID_MAX),
                    "title": truncate(&o.title, ROW_TITLE_MAX),
                });
                if !o.description.trim().is_empty() {
                    row["description"] = json!(truncate(&o.description, ROW_DESCRIPTION_MAX));
                }
                row
            })
            .collect();
        json!({
            "type": "list",
            "body": { "text": truncate(body, LIST_BODY_MAX) },
            "action": {
                "button": truncate(list_button, LIST_BUTTON_MAX),
                "sections": [ { "rows": rows } ],
            },
        })
    };
    m.insert("interactive".into(), interactive);
    Value::Object(m)
}

/// An approved template, e.g. to reopen the 24-hour window. `body_params` fill `{{1}}`, `{{2}}`, …
pub fn template(to: &str, name: &str, language: &str, body_params: &[&str]) -> Value {
    let mut template = json!({
        "name": name,
        "language": { "code": language },
    });
    if !body_params.is_empty() {
        let parameters: Vec<Value> = body_params
            .iter()
            .map(|p| json!({ "type": "text", "text": p }))
            .collect();
        template["components"] = json!([{ "type": "body", "parameters": parameters }]);
    }
    let mut m = envelope(to, "template");
    m.insert("template".into(), template);
    Value::Object(m)
}

/// Marks an inbound message as read (blue ticks), optionally showing "typing…" until the
/// reply is sent or 25 seconds have passed.
pub fn mark_read(message_id: &str, typing: bool) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message_id,
    });
    if typing {
        body["typing_indicator"] = json!({ "type": "text" });
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(id: &str, title: &str) -> ReplyOption {
        ReplyOption {
            id: id.into(),
            title: title.into(),
            description: String::new(),
        }
    }

    #[test]
    fn truncate_on_char_boundaries() {
        assert_eq!(truncate("kort", 20), "kort");
        assert_eq!(truncate("precies twintig tkns", 20), "precies twintig tkns");
        let cut = truncate("Paspoort aanvragen voor kinderen", 20);
        assert_eq!(cut, "Paspoort aanvragen…");
        assert!(cut.chars().count() <= 20);
        // Multi-byte characters are never split.
        let cut = truncate("ééééééééééééééééééééééé", 5);
        assert_eq!(cut, "éééé…");
        let cut = truncate("😀😀😀😀😀😀", 3);
        assert_eq!(cut, "😀😀…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn text_shape() {
        assert_eq!(
            text("31612345678", "Hallo!"),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "31612345678",
                "type": "text",
                "text": { "preview_url": false, "body": "Hallo!" }
            })
        );
    }

    #[test]
    fn long_text_is_cut_to_4096() {
        let long = "a".repeat(5000);
        let v = text("316", &long);
        let body = v["text"]["body"].as_str().unwrap();
        assert_eq!(body.chars().count(), TEXT_MAX);
        assert!(body.ends_with('…'));
    }

    #[test]
    fn reply_without_options_is_text() {
        assert_eq!(
            reply("316", "Antwoord", &[], "Kies"),
            text("316", "Antwoord")
        );
    }

    #[test]
    fn reply_buttons_shape_and_limits() {
        let options = vec![
            option("faq-paspoort-kosten", "Kosten van een paspoort aanvragen"), // 33 chars
            option(&"x".repeat(300), "Kort"),
        ];
        let v = reply("316", &"b".repeat(1500), &options, "Kies");
        assert_eq!(v["type"], "interactive");
        assert_eq!(v["recipient_type"], "individual");
        let i = &v["interactive"];
        assert_eq!(i["type"], "button");
        assert_eq!(i["body"]["text"].as_str().unwrap().chars().count(), 1024);
        let buttons = i["action"]["buttons"].as_array().unwrap();
        assert_eq!(buttons.len(), 2);
        assert_eq!(
            buttons[0],
            json!({"type": "reply", "reply": {"id": "faq-paspoort-kosten", "title": "Kosten van een pasp…"}})
        );
        assert_eq!(
            buttons[0]["reply"]["title"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            20
        );
        assert_eq!(buttons[1]["reply"]["id"].as_str().unwrap().len(), 256);
        assert_eq!(buttons[1]["reply"]["title"], "Kort");
    }

    #[test]
    fn a_thirty_char_title_becomes_twenty_on_a_button() {
        let title = "Afvalkalender en grofvuil-info"; // 30 chars
        assert_eq!(title.chars().count(), 30);
        let v = reply("316", "Bedoelt u?", &[option("a", title)], "Kies");
        let t = v["interactive"]["action"]["buttons"][0]["reply"]["title"]
            .as_str()
            .unwrap();
        assert_eq!(t, "Afvalkalender en gr…");
        assert_eq!(t.chars().count(), 20);
    }

    #[test]
    fn four_to_ten_options_become_a_list() {
        let mut options: Vec<ReplyOption> = (1..=4)
            .map(|n| option(&format!("faq-{n}"), &format!("Onderwerp {n}")))
            .collect();
        options[1].title = "Afvalkalender en grofvuil-info".into(); // 30 chars
        options[2].description = "d".repeat(100);
        let v = reply(
            "316",
            "Waar gaat uw vraag over?",
            &options,
            "Kies een onderwerp hier",
        );
        let i = &v["interactive"];
        assert_eq!(i["type"], "list");
        assert_eq!(i["body"]["text"], "Waar gaat uw vraag over?");
        assert_eq!(i["action"]["button"], "Kies een onderwerp…");
        let sections = i["action"]["sections"].as_array().unwrap();
        assert_eq!(sections.len(), 1);
        let rows = sections[0]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0], json!({"id": "faq-1", "title": "Onderwerp 1"}));
        assert_eq!(rows[1]["title"], "Afvalkalender en grofvu…");
        assert_eq!(rows[1]["title"].as_str().unwrap().chars().count(), 24);
        assert_eq!(rows[2]["description"].as_str().unwrap().chars().count(), 72);
        assert!(rows[0].get("description").is_none());
    }

    #[test]
    fn more_than_ten_options_keep_the_first_ten() {
        let options: Vec<ReplyOption> = (1..=13)
            .map(|n| option(&format!("faq-{n}"), &format!("Onderwerp {n}")))
            .collect();
        let v = reply("316", "Kies", &options, "Kies");
        let rows = v["interactive"]["action"]["sections"][0]["rows"]
            .as_array()
            .unwrap();
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[9]["id"], "faq-10");
    }

    #[test]
    fn three_options_are_still_buttons() {
        let options: Vec<ReplyOption> = (1..=3).map(|n| option(&n.to_string(), "t")).collect();
        let v = reply("316", "Kies", &options, "Kies");
        assert_eq!(v["interactive"]["type"], "button");
        assert_eq!(
            v["interactive"]["action"]["buttons"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn template_shapes() {
        assert_eq!(
            template("316", "loket_antwoord_klaar", "nl", &["Jan", "paspoort"]),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "316",
                "type": "template",
                "template": {
                    "name": "loket_antwoord_klaar",
                    "language": { "code": "nl" },
                    "components": [{
                        "type": "body",
                        "parameters": [
                            { "type": "text", "text": "Jan" },
                            { "type": "text", "text": "paspoort" }
                        ]
                    }]
                }
            })
        );
        let v = template("316", "hello_world", "en_US", &[]);
        assert!(v["template"].get("components").is_none());
        assert_eq!(v["template"]["language"]["code"], "en_US");
    }

    #[test]
    fn mark_read_shapes() {
        assert_eq!(
            mark_read("wamid.IN1", true),
            json!({
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": "wamid.IN1",
                "typing_indicator": { "type": "text" }
            })
        );
        assert!(
            mark_read("wamid.IN1", false)
                .get("typing_indicator")
                .is_none()
        );
    }
}
