//! The handoff API end to end on a real loopback server: keys and scopes, claim conflicts,
//! the bot's silence while a person owns the conversation, agent replies reaching the web
//! chat, notes, transfer, hand-back, and signed, retried webhooks to the platform.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use loket::store::keys::Scope;
use serde_json::{Value, json};

use crate::server::{Server, client, eventually};

/// A webcare platform's webhook endpoint that fails the first `fail_first` requests.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    /// Every request with whether it was answered 2xx.
    seen: Arc<Mutex<Vec<(HeaderMap, String, bool)>>>,
    fail_first: Arc<Mutex<usize>>,
}

impl Receiver {
    pub(crate) async fn start(fail_first: usize) -> (Receiver, String) {
        let r = Receiver {
            fail_first: Arc::new(Mutex::new(fail_first)),
            ..Default::default()
        };
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let mut left = state.fail_first.lock().unwrap();
                    let ok = *left == 0;
                    *left = left.saturating_sub(1);
                    state.seen.lock().unwrap().push((headers, body, ok));
                    if ok {
                        StatusCode::OK
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    pub(crate) fn events(&self) -> Vec<(String, String, String, String, Value, bool)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(h, b, ok)| {
                let get = |k: &str| h.get(k).unwrap().to_str().unwrap().to_string();
                (
                    get("x-loket-event"),
                    get("x-loket-delivery"),
                    get("x-loket-timestamp"),
                    get("x-loket-signature"),
                    serde_json::from_str(b).unwrap(),
                    *ok,
                )
            })
            .collect()
    }
}

async fn say(s: &Server, conversation: &str, text: &str) -> Value {
    let r = client()
        .post(s.url("/v1/messages"))
        .json(&json!({"conversation_id": conversation, "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// `agent_id` claims `conversation` with `key`.
async fn claim(s: &Server, key: &str, conversation: &str, agent_id: &str) -> (u16, Value) {
    s.act(key, conversation, "claim", json!({ "agent_id": agent_id }))
        .await
}

#[tokio::test]
async fn agents_take_over_reply_and_hand_back_with_signed_retried_webhooks() {
    let (receiver, hook) = Receiver::start(2).await;
    let s = Server::start(|c| {
        c.handoff.webhook_url = hook.clone();
        c.handoff.webhook_secret = loket::config::Secret::new("platform-secret");
    })
    .await;
    let agent = s.key(&[Scope::Agent]).await;
    let editor = s.key(&[Scope::Editor]).await;

    let first = say(&s, "h1", "Wat kost een paspoort?").await;
    assert_ne!(first["action"], "agent");

    // Keys and scopes.
    let r = client().get(s.url("/v1/handoffs")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (status, _) = s.get_as("loket_nope_nope", "/v1/handoffs").await;
    assert_eq!(status, 401);
    let (status, body) = s.get_as(&editor, "/v1/handoffs").await;
    assert_eq!(status, 403, "{body}");

    // One agent at a time.
    let (status, body) = claim(&s, &agent, "h1", "anna").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = claim(&s, &agent, "h1", "bram").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    let (status, _) = claim(&s, &agent, "nope", "anna").await;
    assert_eq!(status, 404);
    let (_, queue) = s.get_as(&agent, "/v1/handoffs?status=assigned").await;
    assert_eq!(
        queue["conversations"][0]["conversation_id"], "h1",
        "{queue}"
    );
    assert_eq!(queue["conversations"][0]["agent_id"], "anna");

    // The bot is silent while Anna owns the conversation.
    let silent = say(&s, "h1", "Hallo? Wat kost een rijbewijs?").await;
    assert_eq!(silent["action"], "agent", "{silent}");
    assert_eq!(silent["reply"]["text"], "");
    assert!(silent["message_ids"]["reply"].is_null());
    let after = silent["message_ids"]["citizen"].as_i64().unwrap();

    // Only the owner replies; the reply reaches the web chat.
    let ik_neem_het_over = json!({"agent_id": "bram", "text": "Ik neem het over"});
    let (status, _) = s.act(&agent, "h1", "reply", ik_neem_het_over).await;
    assert_eq!(status, 409);
    let answer =
        json!({"agent_id": "anna", "text": "Goedemiddag, een rijbewijs kost ongeveer 50 euro."});
    let (status, body) = s.act(&agent, "h1", "reply", answer).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sent_as"], "web");
    let chat = s
        .get_json(&format!("/v1/chat/h1/messages?after={after}"))
        .await;
    assert_eq!(chat["status"], "assigned");
    let msgs = chat["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{chat}");
    assert_eq!(msgs[0]["from"], "agent");
    assert!(msgs[0]["text"].as_str().unwrap().contains("50 euro"));

    // Notes are internal.
    let note = json!({"agent_id": "anna", "text": "Burger belt morgen terug"});
    let (status, _) = s.act(&agent, "h1", "notes", note).await;
    assert_eq!(status, 200);
    let (_, detail) = s.get_as(&agent, "/v1/conversations/h1").await;
    assert_eq!(detail["notes"][0]["text"], "Burger belt morgen terug");
    assert!(!chat.to_string().contains("terug"));
    let senders: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["sender"].as_str().unwrap())
        .collect();
    assert_eq!(senders, ["citizen", "bot", "citizen", "agent"], "{detail}");

    // Transfer puts it back in the queue of another department, unclaimed.
    let (status, body) = s
        .act(&agent, "h1", "transfer", json!({"department": "Atlantis"}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = s
        .act(
            &agent,
            "h1",
            "transfer",
            json!({"department": "belastingen"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, queue) = s
        .get_as(&agent, "/v1/handoffs?department=belastingen")
        .await;
    assert_eq!(queue["conversations"][0]["status"], "waiting", "{queue}");
    let (_, other) = s.get_as(&agent, "/v1/handoffs?department=afval").await;
    assert_eq!(other["conversations"].as_array().unwrap().len(), 0);

    // Hand back: the bot answers again.
    let (status, _) = claim(&s, &agent, "h1", "bram").await;
    assert_eq!(status, 200);
    let (status, _) = s
        .act(&agent, "h1", "release", json!({"agent_id": "bram"}))
        .await;
    assert_eq!(status, 200);
    let back = say(&s, "h1", "Wat kost een paspoort?").await;
    assert_ne!(back["action"], "agent", "{back}");
    assert!(!back["reply"]["text"].as_str().unwrap().is_empty());

    // Webhooks: every event arrives exactly once with a 2xx; the first two requests failed
    // and were retried with the same delivery id; each request is signed over
    // "{timestamp}.{body}".
    let events = eventually(30, "the webhooks", || {
        let receiver = receiver.clone();
        async move {
            let ev = receiver.events();
            let released = ev.iter().any(|e| e.0 == "conversation.released" && e.5);
            let all_ok = ev.iter().all(|e| ev.iter().any(|o| o.1 == e.1 && o.5));
            (released && all_ok).then_some(ev)
        }
    })
    .await;
    assert!(
        !events[0].5 && !events[1].5,
        "the receiver failed the first two"
    );
    for failed in &events[..2] {
        let tries: Vec<_> = events.iter().filter(|e| e.1 == failed.1).collect();
        assert!(tries.len() >= 2, "{} was retried", failed.1);
        assert!(
            tries.iter().all(|t| t.4 == failed.4),
            "the same body on every retry"
        );
        assert_eq!(tries.iter().filter(|t| t.5).count(), 1);
    }
    let seen = receiver.seen.lock().unwrap().clone();
    for ((_, id, ts, sig, body, _), (_, raw, _)) in events.iter().zip(&seen) {
        assert_eq!(&body["id"], id);
        let ts: i64 = ts.parse().unwrap();
        assert_eq!(
            &loket::channels::platform::signature(b"platform-secret", ts, raw),
            sig
        );
        assert_ne!(
            &loket::channels::platform::signature(b"wrong-secret", ts, raw),
            sig
        );
    }
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    for expected in [
        "message.created",
        "handoff.claimed",
        "handoff.requested",
        "conversation.released",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // The message.created events carry redacted texts only.
    assert!(
        events
            .iter()
            .all(|e| !e.4.to_string().contains("123456782"))
    );
}

#[tokio::test]
async fn resolving_ends_the_conversation_and_the_queue_filters_by_waiting_time() {
    let s = Server::start(|_| {}).await;
    let agent = s.key(&[Scope::Admin]).await;
    say(&s, "r1", "Ik wil een medewerker spreken").await;
    let (status, _) = claim(&s, &agent, "r1", "anna").await;
    assert_eq!(status, 200);
    let (_, q) = s.get_as(&agent, "/v1/handoffs?min_waiting_secs=3600").await;
    assert_eq!(
        q["conversations"].as_array().unwrap().len(),
        0,
        "nobody waits an hour yet"
    );
    let (status, _) = s.act(&agent, "r1", "resolve", Value::Null).await;
    assert_eq!(status, 200);
    let (_, detail) = s.get_as(&agent, "/v1/conversations/r1").await;
    assert_eq!(detail["status"], "resolved");
    assert_eq!(detail["handoffs"][0]["status"], "resolved");
    let (status, body) = s.get_as(&agent, "/v1/handoffs?status=nonsense").await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let s = Server::start(|_| {}).await;
    let doc = s.get_json("/openapi.json").await;
    assert_eq!(doc["openapi"], "3.0.3");
    let src = std::fs::read_to_string(crate::helpers::root().join("src/http/mod.rs")).unwrap();
    let routes: Vec<&str> = src
        .split(".route(")
        .skip(1)
        .filter_map(|r| r.trim_start().strip_prefix('"'))
        .filter_map(|r| r.split('"').next())
        .filter(|p| {
            p.starts_with("/v1/") || p.starts_with("/webhooks/") || p.starts_with("/openapi")
        })
        .collect();
    assert!(routes.len() >= 10, "{routes:?}");
    for r in routes {
        assert!(
            doc["paths"].get(r).is_some(),
            "{r} is not in assets/openapi.json"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_id_is_bound_to_the_key_that_claimed_with_it() {
    let s = Server::start(|_| {}).await;
    say(&s, "bound-1", "ik wil een medewerker spreken").await;
    let (key_a, key_b) = (s.key(&[Scope::Agent]).await, s.key(&[Scope::Agent]).await);
    let hallo = json!({"agent_id": "anna", "text": "Hallo!"});
    assert_eq!(claim(&s, &key_a, "bound-1", "anna").await.0, 200);
    // Another platform's key cannot take over or speak as "anna" by naming her.
    assert_eq!(claim(&s, &key_b, "bound-1", "anna").await.0, 409);
    assert_eq!(
        s.act(&key_b, "bound-1", "reply", hallo.clone()).await.0,
        409
    );
    assert_eq!(s.act(&key_a, "bound-1", "reply", hallo).await.0, 200);
}
