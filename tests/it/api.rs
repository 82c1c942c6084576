//! The HTTP API in-process, with the lexical stand-in encoder (fast, no model needed).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::helpers::{Content, TestApp};

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn(Content::Fixture, false).await;
    let (s, headers, v) = app
        .request(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    assert!(
        headers.contains_key("x-request-id"),
        "every response carries a request id"
    );
    assert_eq!(headers["api-version"], loket::http::API_VERSION);
    let (s, _, v) = app
        .request(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["database"], "ok");
    assert_eq!(v["entries"], 11);
}

#[tokio::test]
async fn a_message_gets_a_reply_with_the_documented_fields() {
    let app = TestApp::spawn(Content::Fixture, false).await;
    let v = app.ask("c1", "Wat kost een paspoort?").await;
    for field in ["reply", "action", "intent", "confidence", "faq_id"] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert!(v["reply"]["text"].as_str().unwrap().len() > 10);
    let c = v["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&c));
    let actions = [
        "answer",
        "clarify",
        "handoff",
        "privacy_redirect",
        "smalltalk",
        "fallback",
    ];
    assert!(actions.contains(&v["action"].as_str().unwrap()));
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors_and_the_service_keeps_serving() {
    let app = TestApp::spawn(Content::Fixture, false).await;
    const JSON: &str = "application/json";
    let huge = format!(
        "{{\"conversation_id\":\"x\",\"text\":\"{}\"}}",
        "a".repeat(1024 * 1024)
    );
    #[rustfmt::skip]
    let cases: Vec<(String, &str, StatusCode, &str)> = vec![
        ("{not json".into(), JSON, StatusCode::BAD_REQUEST, "bad_request"),
        (json!({"conversation_id": "x", "channel": "web"}).to_string(), JSON, StatusCode::BAD_REQUEST, "bad_request"),
        (json!({"conversation_id": "x", "channel": "web", "text": "   "}).to_string(), JSON, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (json!({"conversation_id": "", "text": "hoi"}).to_string(), JSON, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (json!({"conversation_id": "x", "channel": "fax", "text": "hoi"}).to_string(), JSON, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (json!({"conversation_id": "x", "text": "hoi"}).to_string(), "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (huge, JSON, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ];
    for (body, ct, status, code) in cases {
        let (s, v) = app.post_raw(body.clone(), ct).await;
        assert_eq!(s, status, "{}: {v}", &body[..body.len().min(60)]);
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 5);
    }
    let (s, _, v) = app
        .request(Request::get("/nope").body(Body::empty()).unwrap())
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found");
    // Still serving.
    let v = app.ask("c2", "hallo").await;
    assert!(v["reply"]["text"].is_string());
}

#[tokio::test]
async fn conversations_are_recorded_without_personal_data() {
    let app = TestApp::spawn(Content::Fixture, false).await;
    let v = app
        .ask(
            "c3",
            "Mijn IBAN is NL91ABNA0417164300 en mijn bsn 123456782, wat kost een paspoort?",
        )
        .await;
    assert_eq!(v["action"], "privacy_redirect");
    let body = v.to_string();
    assert!(!body.contains("123456782") && !body.contains("NL91ABNA0417164300"));
    use loket::store::Store;
    let t = app.store.transcript("c3").await.unwrap();
    assert_eq!(t.len(), 2);
    assert!(
        t[0].text.contains("[IBAN]") && t[0].text.contains("[BSN]"),
        "{}",
        t[0].text
    );
    assert_eq!(t[0].pii, "iban,bsn");
    assert_eq!(t[1].action.as_deref(), Some("privacy_redirect"));
}

/// Property: whatever surrounds them, the personal data the guard detects never reaches the
/// response or any stored field.
#[test]
fn no_detected_personal_data_reaches_the_response_or_the_database() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn(Content::Fixture, false));
    let words = prop::sample::select(vec![
        "wat", "kost", "een", "paspoort", "mijn", "is", "en", "hallo", "graag", "nummer", "bsn",
        "iban", "bel", "mail", ",", ".",
    ]);
    let bsn = (0u32..100_000_000).prop_filter_map("11-proef", |n| {
        let d: Vec<u32> = format!("{n:08}")
            .bytes()
            .map(|b| (b - b'0') as u32)
            .collect();
        let s: u32 = d.iter().zip((2..=9).rev()).map(|(x, w)| x * w).sum();
        let check = s % 11;
        (check < 10 && n != 0).then(|| format!("{n:08}{check}"))
    });
    // With whether the datum is the citizen's own sensitive data (a BSN, an IBAN), which is
    // redirected; a phone number or an e-mail address is only redacted.
    let value = prop_oneof![
        bsn.clone().prop_map(|b| (b, true)),
        bsn.prop_map(|b| (format!("{} {} {}", &b[0..3], &b[3..6], &b[6..9]), true)),
        (10_000_000u32..99_999_999).prop_map(|n| (format!("06{n}"), false)),
        "[a-z]{3,8}@[a-z]{3,8}\\.nl".prop_map(|e| (e, false)),
        Just(("NL91ABNA0417164300".to_string(), true)),
        Just(("NL91 ABNA 0417 1643 00".to_string(), true)),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 48,
        ..Default::default()
    });
    let n = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(
            &(
                prop::collection::vec(words, 0..6),
                value,
                prop::collection::vec(
                    prop::sample::select(vec!["kan", "dat", "?", "bedankt"]),
                    0..4,
                ),
            ),
            |(before, (value, sensitive), after)| {
                let text = format!("{} {} {}", before.join(" "), value, after.join(" "));
                let id = format!("p{}", n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                let v = rt.block_on(app.ask(&id, &text));
                let digits: String = value
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '@')
                    .collect();
                prop_assert!(!v.to_string().contains(&value), "response holds {value}");
                let stored = rt.block_on(async {
                    use loket::store::Store;
                    app.store.transcript(&id).await.unwrap()
                });
                for m in stored {
                    let all = format!("{} {} {:?} {:?}", m.text, m.pii, m.intent, m.faq_id);
                    let compact: String = all
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '@')
                        .collect();
                    prop_assert!(
                        !all.contains(&value) && !compact.contains(&digits),
                        "stored {all:?} holds {value}"
                    );
                }
                if sensitive {
                    prop_assert_eq!(v["action"].as_str().unwrap(), "privacy_redirect");
                }
                Ok(())
            },
        )
        .unwrap();
}
