//! The HTTP API in-process, with the lexical stand-in encoder (fast, no model needed).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use crate::helpers::{Content, TestApp};

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn(Content::Fixture, false).await;
    let (s, headers, v) = app.request(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    assert!(headers.contains_key("x-request-id"), "every response carries a request id");
    let (s, _, v) = app.request(Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["database"], "ok");
    assert_eq!(v["entries"], 10);
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
    let actions = ["answer", "clarify", "handoff", "privacy_redirect", "smalltalk", "fallback"];
    assert!(actions.contains(&v["action"].as_str().unwrap()));
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors_and_the_service_keeps_serving() {
    let app = TestApp::spawn(Content::Fixture, false).await;
    let cases: Vec<(String, &str, StatusCode, &str)> = vec![
        ("{not json".into(), "application/json", StatusCode::BAD_REQUEST, "bad_request"),
        (json!({"conversation_id": "x", "channel": "web"}).to_string(), "application/json", StatusCode::BAD_REQUEST, "bad_request"),
        (json!({"conversation_id": "x", "channel": "web", "text": "   "}).to_string(), "application/json", StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (json!({"conversation_id": "", "text": "hoi"}).to_string(), "application/json", StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (json!({"conversation_id": "x", "channel": "fax", "text": "hoi"}).to_string(), "application/json", StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (json!({"conversation_id": "x", "text": "hoi"}).to_string(), "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (format!("{{\"conversation_id\":\"x\",\"text\":\"{}\"}}", "a".repeat(1024 * 1024)), "application/json", StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
    ];
    for (body, ct, status, code) in cases {
        let (s, v) = app.post_raw(body.clone(), ct).await;
        assert_eq!(s, status, "{}: {v}", &body[..body.len().min(60)]);
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 5);
    }
    let (s, _, v) = app.request(Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found");
    // Still serving.
    let v = app.ask("c2", "hallo").await;
    assert!(v["reply"]["text"].is_string());
}

#[tokio::test]
async fn conversations_are_recorded_without_personal_data() {
    let app = TestApp::spawn(Content::Fixture, false).await;
    let v = app.ask("c3", "Mijn IBAN is NL91ABNA0417164300 en mijn bsn 123456782, wat kost een paspoort?").await;
    assert_eq!(v["action"], "privacy_redirect");
    let body = v.to_string();
    assert!(!body.contains("123456782") && !body.contains("NL91ABNA0417164300"));
    use loket::store::Store;
    let t = app.store.transcript("c3").await.unwrap();
    assert_eq!(t.len(), 2);
    assert!(t[0].text.contains("[IBAN]") && t[0].text.contains("[BSN]"), "{}", t[0].text);
    assert_eq!(t[0].pii, "iban,bsn");
    assert_eq!(t[1].action.as_deref(), Some("privacy_redirect"));
}
