//! WhatsApp end to end: Loket on a loopback port with its background loops, talking to the
//! local fake of Meta's Graph API ([`FakeGraph`]); webhooks signed like Meta signs them.

use std::time::Duration;

use loket::channels::whatsapp::fake::{Failure, FakeGraph};
use loket::channels::whatsapp::webhook::{
    Choice, deliver_webhook, inbound_button_payload, inbound_media_payload, inbound_text_payload,
    status_payload,
};
use loket::store::keys::Scope;
use serde_json::{Value, json};

use crate::server::{Server, client, eventually};

const SECRET: &[u8] = b"test-app-secret";
const NUMBER_ID: &str = "106540352242922";

async fn start() -> (Server, FakeGraph) {
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    let base = fake.base_url();
    let s = Server::start(move |c| {
        c.whatsapp.enabled = true;
        c.whatsapp.app_secret = loket::config::Secret::new("test-app-secret");
        c.whatsapp.verify_token = loket::config::Secret::new("verify-me");
        c.whatsapp.access_token = loket::config::Secret::new("test-token");
        c.whatsapp.base_url = base;
        c.whatsapp.phone_number_id = NUMBER_ID.into();
    })
    .await;
    (s, fake)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn text(from: &str, wamid: &str, body: &str) -> String {
    inbound_text_payload(NUMBER_ID, from, "Jan", wamid, body, now())
}

async fn deliver(s: &Server, body: &str) -> u16 {
    deliver_webhook(&format!("http://{}", s.addr), SECRET, body)
        .await
        .unwrap()
        .as_u16()
}

/// Delivers `body` six times at once; each delivery is accepted.
async fn deliver_six_at_once(s: &Server, body: &str) {
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (addr, body) = (s.addr, body.to_string());
            tokio::spawn(async move {
                deliver_webhook(&format!("http://{addr}"), SECRET, &body)
                    .await
                    .unwrap()
                    .as_u16()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
}

/// Waits for `n` replies to `wa_id`, then a little longer to see that no more come.
async fn replies(fake: &FakeGraph, wa_id: &str, n: usize) -> Vec<Value> {
    let got = eventually(20, "the replies", || {
        let r = fake.replies_to(wa_id);
        async move { (r.len() >= n).then_some(r) }
    })
    .await;
    assert_eq!(got.len(), n, "{got:#?}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = fake.replies_to(wa_id);
    assert_eq!(after.len(), n, "no further replies: {after:#?}");
    after
}

#[tokio::test]
async fn a_signed_question_gets_exactly_one_reply_even_when_delivered_again_and_concurrently() {
    let (s, fake) = start().await;
    let body = text("31611111111", "wamid.pass1", "Wat kost een paspoort?");
    assert_eq!(deliver(&s, &body).await, 200);
    let r = replies(&fake, "31611111111", 1).await;
    assert_eq!(r[0]["type"], "text", "{r:?}");
    assert!(
        r[0]["text"]["body"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("paspoort")
    );
    // The request is the Cloud API's: bearer token, phone number id in the path.
    let sent = fake.received();
    assert!(
        sent.iter()
            .all(|x| x.authorization.as_deref() == Some("Bearer test-token"))
    );
    assert!(
        sent.iter()
            .all(|x| x.path.ends_with(&format!("{NUMBER_ID}/messages")))
    );
    // Marked as read with a typing indicator while the answer was computed.
    assert!(sent.iter().any(|x| x.body["status"] == "read"
        && x.body["message_id"] == "wamid.pass1"
        && x.body["typing_indicator"]["type"] == "text"));

    // Meta delivers the same webhook again, and several times at once: nothing new.
    deliver_six_at_once(&s, &body).await;
    replies(&fake, "31611111111", 1).await;

    // A first delivery that arrives six times at once is processed once too.
    let burst = text("31622222222", "wamid.burst", "Wat kost een rijbewijs?");
    deliver_six_at_once(&s, &burst).await;
    replies(&fake, "31622222222", 1).await;

    // The number is stored only to reply: not in the messages, not in the conversation id.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE text LIKE '%3161111%' OR conversation_id LIKE '%3161111%'")
        .fetch_one(s.store.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_wrongly_signed_or_unsigned_webhook_is_refused_and_nothing_is_processed() {
    let (s, fake) = start().await;
    let body = text("31633333333", "wamid.forged", "Wat kost een paspoort?");
    let forged = deliver_webhook(&format!("http://{}", s.addr), b"not-the-secret", &body)
        .await
        .unwrap();
    assert_eq!(forged.as_u16(), 401);
    let unsigned = client()
        .post(s.url("/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // Tampering with a signed body breaks the signature.
    let sig = loket::channels::whatsapp::signature::sign(SECRET, body.as_bytes());
    let tampered = client()
        .post(s.url("/webhooks/whatsapp"))
        .header("x-hub-signature-256", sig)
        .body(body.replace("paspoort", "rijbewijs"))
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(fake.received().is_empty());
    assert_eq!(s.store.inbox_pending().await.unwrap(), 0);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox")
        .fetch_one(s.store.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
    // Malformed JSON with a valid signature: 400, nothing stored.
    assert_eq!(deliver(&s, "{not json").await, 400);
}

#[tokio::test]
async fn verification_answers_the_challenge_only_with_the_right_token() {
    let (s, _fake) = start().await;
    let ok = client()
        .get(s.url("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = client()
        .get(s.url("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
}

#[tokio::test]
async fn server_errors_are_retried_and_the_reply_arrives_once() {
    let (s, fake) = start().await;
    // Every request fails twice with 500 first (the mark-as-read may take one of them).
    fake.fail_next(vec![Failure::Status(500), Failure::Status(500)]);
    assert_eq!(
        deliver(
            &s,
            &text("31644444444", "wamid.retry", "Wat kost een paspoort?")
        )
        .await,
        200
    );
    let r = replies(&fake, "31644444444", 1).await;
    assert_eq!(r[0]["type"], "text");
    assert!(fake.attempts() >= 3, "two failures and a success");
    let sent: Vec<(String, i64)> = sqlx::query_as("SELECT status, attempts FROM outbox")
        .fetch_all(s.store.pool())
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "sent");
    // A 400 is not retried: the reply is marked failed after one attempt.
    fake.fail_next(vec![Failure::Status(400)]);
    fake.fail_next(vec![Failure::Status(400), Failure::Status(400)]);
    assert_eq!(
        deliver(
            &s,
            &text("31655555555", "wamid.bad", "Wat kost een rijbewijs?")
        )
        .await,
        200
    );
    let failed = eventually(15, "the failed reply", || async {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, attempts FROM outbox WHERE dedup_key = 'reply:wamid.bad'",
        )
        .fetch_all(s.store.pool())
        .await
        .unwrap();
        rows.into_iter().next().filter(|r| r.0 == "failed")
    })
    .await;
    assert_eq!(failed.1, 1, "no retry after a 400");
}

#[tokio::test]
async fn clarify_sends_buttons_within_the_limits_and_a_tap_continues_the_conversation() {
    let (s, fake) = start().await;
    let wa = "31666666666";
    assert_eq!(
        deliver(
            &s,
            &text(wa, "wamid.c1", "ik heb een vraag over een vergunning")
        )
        .await,
        200
    );
    let r = replies(&fake, wa, 1).await;
    assert_eq!(r[0]["type"], "interactive", "{r:?}");
    let interactive = &r[0]["interactive"];
    let (id, title) = match interactive["type"].as_str().unwrap() {
        "button" => {
            let buttons = interactive["action"]["buttons"].as_array().unwrap();
            assert!((1..=3).contains(&buttons.len()));
            for b in buttons {
                assert!(b["reply"]["title"].as_str().unwrap().chars().count() <= 20);
                assert!(b["reply"]["id"].as_str().unwrap().len() <= 256);
            }
            (
                buttons[0]["reply"]["id"].as_str().unwrap().to_string(),
                buttons[0]["reply"]["title"].as_str().unwrap().to_string(),
            )
        }
        "list" => {
            let rows = interactive["action"]["sections"][0]["rows"]
                .as_array()
                .unwrap();
            assert!(rows.len() <= 10);
            for row in rows {
                assert!(row["title"].as_str().unwrap().chars().count() <= 24);
            }
            (
                rows[0]["id"].as_str().unwrap().to_string(),
                rows[0]["title"].as_str().unwrap().to_string(),
            )
        }
        other => panic!("unexpected interactive type {other}"),
    };
    assert!(
        interactive["body"]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= 1024
    );
    // The citizen taps the first option.
    let tap = inbound_button_payload(
        NUMBER_ID,
        wa,
        "Jan",
        "wamid.c2",
        &Choice::Button {
            id: id.clone(),
            title,
        },
        Some("wamid.FAKE"),
        now(),
    );
    assert_eq!(deliver(&s, &tap).await, 200);
    let r = replies(&fake, wa, 2).await;
    assert_eq!(
        r[1]["type"], "text",
        "the answer to the chosen topic: {r:?}"
    );
    let conv: String =
        sqlx::query_scalar("SELECT conversation_id FROM messages WHERE external_id = 'wamid.c2'")
            .fetch_one(s.store.pool())
            .await
            .unwrap();
    let t: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT kind, action, faq_id FROM messages WHERE conversation_id = $1 AND direction = 'out' ORDER BY id",
    )
    .bind(&conv)
    .fetch_all(s.store.pool())
    .await
    .unwrap();
    assert_eq!(t.len(), 2, "one conversation: {t:?}");
    assert_eq!(t[0].0, "interactive");
    assert_eq!(t[1].1.as_deref(), Some("answer"));
    assert_eq!(
        t[1].2.as_deref(),
        Some(id.as_str()),
        "the tapped entry is answered"
    );
}

#[tokio::test]
async fn media_get_a_polite_reply_their_metadata_is_archived_and_statuses_are_tracked() {
    let (s, fake) = start().await;
    let wa = "31677777777";
    let photo = inbound_media_payload(
        NUMBER_ID,
        wa,
        "Jan",
        "wamid.m1",
        "media-123",
        now(),
        "image",
    );
    assert_eq!(deliver(&s, &photo).await, 200);
    let r = replies(&fake, wa, 1).await;
    let body = r[0]["text"]["body"].as_str().unwrap();
    assert!(body.contains("foto"), "{body}");
    let (kind, meta, action): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT kind, meta, action FROM messages WHERE external_id = 'wamid.m1'")
            .fetch_one(s.store.pool())
            .await
            .unwrap();
    assert_eq!(kind, "image");
    assert_eq!(action.as_deref(), Some("media"));
    let meta: Value = serde_json::from_str(&meta.unwrap()).unwrap();
    assert_eq!(meta["mime_type"], "image/jpeg", "{meta}");

    // Delivery statuses move the stored reply forward.
    let out_id = fake
        .received()
        .iter()
        .find(|x| x.body["to"] == wa)
        .and_then(|x| x.message_id.clone())
        .unwrap();
    for status in ["delivered", "read"] {
        assert_eq!(
            deliver(&s, &status_payload(NUMBER_ID, &out_id, status, wa)).await,
            200
        );
    }
    let st: Option<String> =
        sqlx::query_scalar("SELECT status FROM messages WHERE external_id = $1")
            .bind(&out_id)
            .fetch_one(s.store.pool())
            .await
            .unwrap();
    assert_eq!(st.as_deref(), Some("read"));
}

#[tokio::test]
async fn outside_the_24_hour_window_replies_go_out_as_the_template_visible_in_the_api() {
    let (s, fake) = start().await;
    let agent = s.key(&[Scope::Agent]).await;
    let wa = "31688888888";
    // A Saturday message, processed only now (Loket was down): 50 hours old.
    let old = inbound_text_payload(
        NUMBER_ID,
        wa,
        "Jan",
        "wamid.w1",
        "Ik wil een medewerker spreken",
        now() - 50 * 3600,
    );
    assert_eq!(deliver(&s, &old).await, 200);
    let r = replies(&fake, wa, 1).await;
    assert_eq!(r[0]["type"], "template", "{r:?}");
    assert_eq!(r[0]["template"]["name"], "loket_antwoord_klaar");
    let conv: String =
        sqlx::query_scalar("SELECT conversation_id FROM messages WHERE external_id = 'wamid.w1'")
            .fetch_one(s.store.pool())
            .await
            .unwrap();
    // An agent answers on "Monday": the window is closed, so the template again.
    let (claim, _) = s
        .act(&agent, &conv, "claim", json!({"agent_id": "anna"}))
        .await;
    assert_eq!(claim, 200);
    let answer = json!({"agent_id": "anna", "text": "Goedemorgen,\nuw vraag is in behandeling."});
    let (_, reply) = s.act(&agent, &conv, "reply", answer).await;
    assert_eq!(reply["sent_as"], "template", "{reply}");
    assert_eq!(reply["window_open"], false);
    let r = replies(&fake, wa, 2).await;
    assert_eq!(r[1]["type"], "template");
    assert!(
        r[1].to_string().contains("uw vraag is in behandeling"),
        "{}",
        r[1]
    );
    // The citizen writes again: the window opens and the agent's next reply is plain text.
    assert_eq!(
        deliver(&s, &text(wa, "wamid.w2", "Dank u, ik wacht af")).await,
        200
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answer = json!({"agent_id": "anna", "text": "Prima, tot zo."});
    let (_, reply) = s.act(&agent, &conv, "reply", answer).await;
    assert_eq!(reply["sent_as"], "text", "{reply}");
    let r = replies(&fake, wa, 3).await;
    assert_eq!(r[2]["text"]["body"], "Prima, tot zo.");
    // The bot stayed silent on "Dank u" because Anna owns the conversation; the API shows
    // which replies went out as a template.
    let (_, detail) = s.get_as(&agent, &format!("/v1/conversations/{conv}")).await;
    let kinds: Vec<(&str, &str)> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["sender"].as_str().unwrap(), m["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("citizen", "text"),
            ("bot", "template"),
            ("agent", "template"),
            ("citizen", "text"),
            ("agent", "text")
        ],
        "{detail}"
    );
}

#[tokio::test]
async fn one_malformed_message_does_not_cost_the_valid_ones_in_the_same_delivery() {
    let (s, fake) = start().await;
    let first: Value =
        serde_json::from_str(&text("31688888881", "wamid.ok1", "Wat kost een paspoort?")).unwrap();
    let second: Value = serde_json::from_str(&text(
        "31688888882",
        "wamid.ok2",
        "Wanneer is het gemeentehuis open?",
    ))
    .unwrap();
    let mut body = first.clone();
    let value = &mut body["entry"][0]["changes"][0]["value"];
    value["contacts"]
        .as_array_mut()
        .unwrap()
        .push(second["entry"][0]["changes"][0]["value"]["contacts"][0].clone());
    // No id and a timestamp that is not a time: this one cannot be read.
    let broken = json!({
        "from": "31688888883",
        "timestamp": "gisteren",
        "type": "text",
        "text": { "body": "mijn bsn is 123456782" }
    });
    let messages = value["messages"].as_array_mut().unwrap();
    messages.push(broken);
    messages.push(second["entry"][0]["changes"][0]["value"]["messages"][0].clone());
    let raw = loket::channels::whatsapp::webhook::to_meta_json(&body);
    assert_eq!(deliver(&s, &raw).await, 200, "the delivery is accepted");
    replies(&fake, "31688888881", 1).await;
    replies(&fake, "31688888882", 1).await;
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT external_id FROM messages WHERE direction = 'in' ORDER BY external_id",
    )
    .fetch_all(s.store.pool())
    .await
    .unwrap();
    assert_eq!(stored, ["wamid.ok1", "wamid.ok2"]);
    assert!(fake.replies_to("31688888883").is_empty());
    // A body that is not a delivery at all is still refused.
    assert_eq!(
        deliver(&s, r#"{"object":"whatsapp_business_account"}"#).await,
        400
    );
    assert_eq!(deliver(&s, "geen json").await, 400);
}

#[tokio::test]
async fn a_document_file_name_is_stored_without_the_personal_data_in_it() {
    let (s, fake) = start().await;
    let wa = "31699999991";
    let raw = inbound_media_payload(
        NUMBER_ID,
        wa,
        "Jan",
        "wamid.doc1",
        "media-9",
        now(),
        "document",
    );
    let mut v: Value = serde_json::from_str(&raw).unwrap();
    v["entry"][0]["changes"][0]["value"]["messages"][0]["document"]["filename"] =
        json!("paspoort_jansen_123\u{a0}456\u{a0}782.pdf");
    v["entry"][0]["changes"][0]["value"]["messages"][0]["document"]["caption"] =
        json!("mijn iban is NL91ABNA0417164300");
    let raw = loket::channels::whatsapp::webhook::to_meta_json(&v);
    assert_eq!(deliver(&s, &raw).await, 200);
    replies(&fake, wa, 1).await;
    let (text, meta): (String, Option<String>) =
        sqlx::query_as("SELECT text, meta FROM messages WHERE external_id = 'wamid.doc1'")
            .fetch_one(s.store.pool())
            .await
            .unwrap();
    let meta: Value = serde_json::from_str(&meta.unwrap()).unwrap();
    assert_eq!(meta["filename"], "paspoort_jansen_[BSN].pdf", "{meta}");
    let all = format!("{text} {meta}");
    assert!(!all.contains("782") && !all.contains("NL91"), "{all}");
}

#[tokio::test]
async fn the_first_reply_says_a_program_answers_and_a_huge_text_is_cut_to_whatsapps_limit() {
    let (s, fake) = start().await;
    let wa = "31612345000";
    assert_eq!(
        deliver(&s, &text(wa, "wamid.ai1", "Wat kost een paspoort?")).await,
        200
    );
    let first = replies(&fake, wa, 1).await;
    let body = first[0]["text"]["body"].as_str().unwrap().to_string();
    assert!(body.contains("digitale assistent"), "{body}");
    // 72 KB in one text (Meta's own limit is 4,096 characters): read and stored cut.
    let huge: String = "wat kost een rijbewijs ".repeat(3200);
    assert_eq!(deliver(&s, &text(wa, "wamid.ai2", &huge)).await, 200);
    let second = replies(&fake, wa, 2).await;
    // An answer (text) or a clarifying question (interactive): either way one message.
    let body = second[1]["text"]["body"]
        .as_str()
        .or(second[1]["interactive"]["body"]["text"].as_str())
        .unwrap();
    assert!(
        !body.contains("digitale assistent, een computerprogramma"),
        "said once: {body}"
    );
    let stored: String =
        sqlx::query_scalar("SELECT text FROM messages WHERE external_id = 'wamid.ai2'")
            .fetch_one(s.store.pool())
            .await
            .unwrap();
    assert!(
        stored.chars().count() <= 4096,
        "{} characters stored",
        stored.len()
    );
}

/// A shutdown (SIGTERM) while a reply is on its way to Meta waits for the answer and writes
/// it down: nothing is left claimed, so a restart has no lease to wait out and sends nothing
/// twice.
#[tokio::test]
async fn a_shutdown_finishes_the_reply_in_flight_and_records_it() {
    let (mut s, fake) = start().await;
    // Meta takes the message at once but answers only after 1.5 s.
    fake.fail_all(Some(Failure::AnswerLate(Duration::from_millis(1500))));
    let body = text("31633333333", "wamid.shutdown", "Wat kost een paspoort?");
    assert_eq!(deliver(&s, &body).await, 200);
    eventually(20, "the reply on its way", || {
        let n = fake.replies_to("31633333333").len();
        async move { (n == 1).then_some(()) }
    })
    .await;
    s.shut_down().await;
    let store = loket::store::SqlStore::connect(&s.database_url, 1)
        .await
        .unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT status FROM outbox")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, vec![("sent".to_string(),)], "{rows:?}");
    let inbox: Vec<(String,)> = sqlx::query_as("SELECT status FROM inbox")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(inbox.iter().all(|(st,)| st == "done"), "{inbox:?}");
    assert_eq!(fake.replies_to("31633333333").len(), 1);
}
