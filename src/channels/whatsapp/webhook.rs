//! Inbound webhook payloads exactly as Meta sends them, for tests and the developer console:
//! the same nesting and field names, and non-ASCII characters escaped as `\uXXXX` (so a
//! server that re-serialises before checking the signature fails here as it would live).

use serde::Serialize;
use serde_json::{Value, json};

use super::signature;

/// The WhatsApp Business Account id used in generated payloads.
pub const FAKE_WABA_ID: &str = "102290129340398";
/// The display number used in generated payloads.
pub const FAKE_DISPLAY_NUMBER: &str = "15550000000";

/// An interactive choice the citizen made.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// `interactive.button_reply`.
    Button { id: String, title: String },
    /// `interactive.list_reply`.
    List {
        id: String,
        title: String,
        description: Option<String>,
    },
}

#[derive(Serialize)]
struct Payload<'a> {
    object: &'static str,
    entry: [Entry<'a>; 1],
}

#[derive(Serialize)]
struct Entry<'a> {
    id: &'static str,
    changes: [Change<'a>; 1],
}

#[derive(Serialize)]
struct Change<'a> {
    value: ChangeValue<'a>,
    field: &'static str,
}

#[derive(Serialize)]
struct ChangeValue<'a> {
    messaging_product: &'static str,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contacts: Option<[Value; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<[Value; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statuses: Option<[Value; 1]>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    display_phone_number: &'static str,
    phone_number_id: &'a str,
}

fn message_payload(phone_number_id: &str, from: &str, name: &str, message: Value) -> String {
    change_payload(
        phone_number_id,
        Some([json!({ "profile": { "name": name }, "wa_id": from })]),
        Some([message]),
        None,
    )
}

/// The webhook body around one change's `contacts`, `messages` and `statuses`.
fn change_payload(
    phone_number_id: &str,
    contacts: Option<[Value; 1]>,
    messages: Option<[Value; 1]>,
    statuses: Option<[Value; 1]>,
) -> String {
    to_meta_json(&Payload {
        object: super::wire::OBJECT,
        entry: [Entry {
            id: FAKE_WABA_ID,
            changes: [Change {
                value: ChangeValue {
                    messaging_product: "whatsapp",
                    metadata: Metadata {
                        display_phone_number: FAKE_DISPLAY_NUMBER,
                        phone_number_id,
                    },
                    contacts,
                    messages,
                    statuses,
                },
                field: "messages",
            }],
        }],
    })
}

fn base_message(from: &str, wamid: &str, ts: i64, kind: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("from".into(), json!(from));
    m.insert("id".into(), json!(wamid));
    m.insert("timestamp".into(), json!(ts.to_string()));
    m.insert("type".into(), json!(kind));
    m
}

/// A text message from `from` (profile name `name`) to the business number.
pub fn inbound_text_payload(
    phone_number_id: &str,
    from: &str,
    name: &str,
    wamid: &str,
    text: &str,
    ts: i64,
) -> String {
    let mut m = base_message(from, wamid, ts, "text");
    m.insert("text".into(), json!({ "body": text }));
    message_payload(phone_number_id, from, name, Value::Object(m))
}

/// A tap on a reply button or a list row; `context_id` is the interactive message it
/// answers (Meta always sends it for these).
pub fn inbound_button_payload(
    phone_number_id: &str,
    from: &str,
    name: &str,
    wamid: &str,
    choice: &Choice,
    context_id: Option<&str>,
    ts: i64,
) -> String {
    let mut m = base_message(from, wamid, ts, "interactive");
    if let Some(context_id) = context_id {
        m.insert(
            "context".into(),
            json!({ "from": FAKE_DISPLAY_NUMBER, "id": context_id }),
        );
    }
    let interactive = match choice {
        Choice::Button { id, title } => json!({
            "type": "button_reply",
            "button_reply": { "id": id, "title": title }
        }),
        Choice::List {
            id,
            title,
            description,
        } => {
            let mut reply = json!({ "id": id, "title": title });
            if let Some(d) = description {
                reply["description"] = json!(d);
            }
            json!({ "type": "list_reply", "list_reply": reply })
        }
    };
    m.insert("interactive".into(), interactive);
    message_payload(phone_number_id, from, name, Value::Object(m))
}

/// A media message of `kind` ("image", "audio", "video", "document" or "sticker") with a
/// plausible MIME type and hash; documents get a file name.
pub fn inbound_media_payload(
    phone_number_id: &str,
    from: &str,
    name: &str,
    wamid: &str,
    media_id: &str,
    ts: i64,
    kind: &str,
) -> String {
    let mime = match kind {
        "image" => "image/jpeg",
        "audio" => "audio/ogg; codecs=opus",
        "video" => "video/mp4",
        "document" => "application/pdf",
        "sticker" => "image/webp",
        _ => "application/octet-stream",
    };
    let mut media = json!({
        "mime_type": mime,
        "sha256": "k1Kx0XyFJgfTxE7a0Zyh1xEyS8Ug4+6PHY0U0s1IbIc=",
        "id": media_id,
    });
    if kind == "document" {
        media["filename"] = json!("document.pdf");
    }
    let mut m = base_message(from, wamid, ts, kind);
    m.insert(kind.into(), media);
    message_payload(phone_number_id, from, name, Value::Object(m))
}

/// A delivery status for a message Loket sent; "failed" carries error 131026
/// (message undeliverable). The timestamp is now.
pub fn status_payload(phone_number_id: &str, wamid: &str, status: &str, recipient: &str) -> String {
    let mut s = json!({
        "id": wamid,
        "status": status,
        "timestamp": chrono::Utc::now().timestamp().to_string(),
        "recipient_id": recipient,
    });
    if status == "failed" {
        s["errors"] = json!([{
            "code": 131026,
            "title": "Message undeliverable",
            "message": "Message undeliverable",
            "error_data": { "details": "Message Undeliverable." }
        }]);
    } else {
        s["conversation"] = json!({ "id": "CONVERSATION_ID", "origin": { "type": "service" } });
        s["pricing"] = json!({ "billable": true, "pricing_model": "CBP", "category": "service" });
    }
    change_payload(phone_number_id, None, None, Some([s]))
}

/// POSTs `raw_body` to `{loket_base_url}/webhooks/whatsapp`, signed like Meta signs it.
pub async fn deliver_webhook(
    loket_base_url: &str,
    app_secret: &[u8],
    raw_body: &str,
) -> reqwest::Result<reqwest::StatusCode> {
    let url = format!("{}/webhooks/whatsapp", loket_base_url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            "X-Hub-Signature-256",
            signature::sign(app_secret, raw_body.as_bytes()),
        )
        .body(raw_body.to_string())
        .send()
        .await?;
    Ok(response.status())
}

/// Serialises like Meta: compact, with every non-ASCII character as `\uXXXX` (UTF-16
/// surrogate pairs above U+FFFF).
pub fn to_meta_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    value
        .serialize(&mut ser)
        .expect("serialising to memory cannot fail");
    String::from_utf8(out).expect("the output is ASCII")
}

struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                writer.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::whatsapp::wire::{self, Content, DeliveryStatus, Event, MediaKind};

    #[test]
    fn non_ascii_is_escaped_like_meta() {
        let s = to_meta_json(&json!({ "t": "Märzé 😀 \"q\"\n" }));
        assert_eq!(s, r#"{"t":"M\u00e4rz\u00e9 \ud83d\ude00 \"q\"\n"}"#);
        assert!(s.is_ascii());
    }

    #[test]
    fn text_payload_has_meta_shape_and_parses() {
        let raw = inbound_text_payload(
            "PN1",
            "31612345678",
            "José",
            "wamid.T1",
            "Wat kost een paspoort? ü",
            1_717_000_000,
        );
        assert!(raw.is_ascii());
        assert!(
            raw.contains(r#""body":"Wat kost een paspoort? \u00fc""#),
            "{raw}"
        );
        assert!(
            raw.starts_with(r#"{"object":"whatsapp_business_account","entry":[{"id":"#),
            "{raw}"
        );
        let v: Value = serde_json::from_str(&raw).unwrap();
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(v["entry"][0]["changes"][0]["field"], "messages");
        assert_eq!(value["metadata"]["phone_number_id"], "PN1");
        assert_eq!(value["contacts"][0]["wa_id"], "31612345678");
        assert_eq!(value["messages"][0]["timestamp"], "1717000000");
        let events = wire::parse(raw.as_bytes()).unwrap();
        let [Event::Message(m)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(m.profile_name.as_deref(), Some("José"));
        assert_eq!(m.id, "wamid.T1");
        assert_eq!(
            m.content,
            Content::Text {
                body: "Wat kost een paspoort? ü".into()
            }
        );
    }

    #[test]
    fn button_and_list_payloads_parse() {
        let raw = inbound_button_payload(
            "PN1",
            "316",
            "An",
            "wamid.B",
            &Choice::Button {
                id: "faq-1".into(),
                title: "Kosten".into(),
            },
            Some("wamid.OUT"),
            1,
        );
        let events = wire::parse(raw.as_bytes()).unwrap();
        let [Event::Message(m)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(m.context_id.as_deref(), Some("wamid.OUT"));
        assert_eq!(
            m.content,
            Content::ButtonReply {
                id: "faq-1".into(),
                title: "Kosten".into()
            }
        );

        let raw = inbound_button_payload(
            "PN1",
            "316",
            "An",
            "wamid.L",
            &Choice::List {
                id: "faq-2".into(),
                title: "Afval".into(),
                description: Some("Grofvuil".into()),
            },
            None,
            1,
        );
        let events = wire::parse(raw.as_bytes()).unwrap();
        let [Event::Message(m)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(m.context_id, None);
        assert_eq!(
            m.content,
            Content::ListReply {
                id: "faq-2".into(),
                title: "Afval".into(),
                description: Some("Grofvuil".into())
            }
        );
    }

    #[test]
    fn media_payloads_parse() {
        for (kind, expected) in [
            ("image", MediaKind::Image),
            ("audio", MediaKind::Audio),
            ("video", MediaKind::Video),
            ("document", MediaKind::Document),
            ("sticker", MediaKind::Sticker),
        ] {
            let raw = inbound_media_payload("PN1", "316", "An", "wamid.M", "MEDIA1", 1, kind);
            let events = wire::parse(raw.as_bytes()).unwrap();
            let [Event::Message(m)] = events.as_slice() else {
                panic!("{events:?}")
            };
            let Content::Media {
                kind: k,
                media_id,
                filename,
                ..
            } = &m.content
            else {
                panic!("{:?}", m.content)
            };
            assert_eq!(*k, expected);
            assert_eq!(media_id, "MEDIA1");
            assert_eq!(filename.is_some(), kind == "document");
        }
    }

    #[test]
    fn status_payloads_parse() {
        let raw = status_payload("PN1", "wamid.OUT", "delivered", "316");
        let events = wire::parse(raw.as_bytes()).unwrap();
        let [Event::Status(s)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(s.status, DeliveryStatus::Delivered);
        assert_eq!(s.recipient_id, "316");
        assert!(s.errors.is_empty());
        let raw = status_payload("PN1", "wamid.OUT", "failed", "316");
        let events = wire::parse(raw.as_bytes()).unwrap();
        let [Event::Status(s)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(s.status, DeliveryStatus::Failed);
        assert_eq!(s.errors[0].code, 131026);
    }

    #[tokio::test]
    async fn deliver_webhook_signs_the_raw_body() {
        use axum::{Router, body::Bytes, http::HeaderMap, routing::post};
        use std::sync::{Arc, Mutex};
        let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let seen2 = seen.clone();
        let app = Router::new().route(
            "/webhooks/whatsapp",
            post(move |headers: HeaderMap, body: Bytes| {
                let seen = seen2.clone();
                async move {
                    let sig = headers
                        .get("x-hub-signature-256")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let ok = signature::verify(b"secret", &body, Some(&sig)).is_ok();
                    seen.lock().unwrap().push(body.to_vec());
                    if ok {
                        axum::http::StatusCode::OK
                    } else {
                        axum::http::StatusCode::UNAUTHORIZED
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let raw = inbound_text_payload("PN1", "316", "Zoë", "wamid.W", "héllo", 5);
        assert_eq!(deliver_webhook(&base, b"secret", &raw).await.unwrap(), 200);
        assert_eq!(deliver_webhook(&base, b"other", &raw).await.unwrap(), 401);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], raw.as_bytes());
        server.abort();
    }
}
