//! The storage contract, run against SQLite and against a real PostgreSQL server.
//!
//! PostgreSQL: `LOKET_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each run creates and drops its own database ([`crate::pg::temp_postgres`]).
//! scripts/test.sh starts the server when it is installed but stopped.

use chrono::{Duration, Utc};
use loket::dialogue::Context;
use loket::store::handoff::{HandoffError, QueueFilter};
use loket::store::keys::Scope;
use loket::store::queue::{InboundPayload, NewInbound, OutboxDraft};
use loket::store::{
    Channel, ConversationStatus, Direction, HandoffRecord, MessageRecord, OutboxStatus, Sender,
    SqlStore, Store, TurnRecord,
};

fn message(direction: Direction, text: &str, at: chrono::DateTime<Utc>) -> MessageRecord {
    let mut m = MessageRecord::new(direction, text, at);
    m.intent = Some("paspoort".into());
    m.action = Some("answer".into());
    m.confidence = (direction == Direction::Out).then_some(0.9);
    m.faq_id = Some("paspoort-kosten".into());
    m.response_ms = Some(12);
    m
}

fn inbound(wamid: &str, contact: &str, text: &str) -> NewInbound {
    NewInbound {
        channel: Channel::Whatsapp,
        external_id: wamid.into(),
        contact_id: contact.into(),
        address: format!("316{contact}"),
        payload: InboundPayload {
            kind: "text".into(),
            text: text.into(),
            pii: vec![],
            option_id: None,
            meta: None,
            sent_at: Utc::now(),
            municipality: None,
        },
    }
}

async fn contract(store: &SqlStore) {
    store.ping().await.unwrap();
    assert!(store.context("nobody").await.unwrap().is_none());
    let now = Utc::now();
    let mut ctx = Context {
        last_intent: Some("paspoort".into()),
        updated_at: Some(now),
        ..Default::default()
    };
    for i in 0..3 {
        let mut turn = TurnRecord::simple(
            "c1",
            Channel::Web,
            message(
                Direction::In,
                &format!("vraag {i} met [BSN]"),
                now + Duration::seconds(i),
            ),
            message(
                Direction::Out,
                &format!("antwoord {i}"),
                now + Duration::seconds(i),
            ),
            ctx.clone(),
        );
        turn.handoff = (i == 2).then(|| HandoffRecord {
            department: "burgerzaken".into(),
            reason: "medewerker".into(),
            within_office_hours: true,
        });
        let ids = store.record_turn(&turn).await.unwrap();
        assert!(ids.reply.unwrap() > ids.citizen);
        ctx.misses = i as u32 + 1;
    }
    let got = store.context("c1").await.unwrap().unwrap();
    assert_eq!(got.last_intent.as_deref(), Some("paspoort"));
    assert_eq!(got.misses, 2, "the latest context wins");
    let t = store.transcript("c1").await.unwrap();
    assert_eq!(t.len(), 6);
    assert_eq!(t[0].direction, Direction::In);
    assert_eq!(t[0].sender, Sender::Citizen);
    assert_eq!(t[0].text, "vraag 0 met [BSN]");
    assert_eq!(t[5].text, "antwoord 2");
    assert_eq!(t[5].sender, Sender::Bot);
    assert_eq!(t[5].confidence, Some(0.9));
    assert!(t.windows(2).all(|w| w[0].id < w[1].id));
    assert!(store.transcript("other").await.unwrap().is_empty());

    // The handoff queue: waiting for burgerzaken; one agent at a time.
    let queue = store.list_queue(&QueueFilter::default()).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].department.as_deref(), Some("burgerzaken"));
    assert_eq!(queue[0].status, ConversationStatus::Waiting);
    store.claim("c1", "anna", "test", &[]).await.unwrap();
    store
        .claim("c1", "anna", "test", &[])
        .await
        .expect("claiming again is fine");
    assert!(matches!(
        store.claim("c1", "bram", "test", &[]).await,
        Err(HandoffError::Conflict(_))
    ));
    assert!(matches!(
        store.claim("nope", "bram", "test", &[]).await,
        Err(HandoffError::NotFound(_))
    ));
    let reply = MessageRecord::new(Direction::Out, "Ik help u", Utc::now());
    assert!(matches!(
        store
            .agent_reply("c1", "bram", "test", &reply, None, &[])
            .await,
        Err(HandoffError::Conflict(_))
    ));
    store
        .agent_reply("c1", "anna", "test", &reply, None, &[])
        .await
        .unwrap();
    store
        .add_note("c1", "anna", "terugbellen", "test")
        .await
        .unwrap();
    store
        .transfer("c1", "belastingen", "test", &[])
        .await
        .unwrap();
    store.close_handoff("c1", true, "test", &[]).await.unwrap();
    let d = store.conversation_detail("c1", 24).await.unwrap().unwrap();
    assert_eq!(d.status, ConversationStatus::Resolved);
    assert_eq!(d.notes.len(), 1);
    let statuses: Vec<&str> = d.handoffs.iter().map(|h| h.status.as_str()).collect();
    assert_eq!(statuses, ["transferred", "resolved"]);
    assert!(d.handoffs[0].first_reply_at.is_some());

    // The inbound queue: duplicates are dropped atomically; one message per contact at a
    // time, in order; a second claimer gets the other contacts' messages.
    let batch = [
        inbound("wamid.1", "k1", "eerste"),
        inbound("wamid.2", "k1", "tweede"),
        inbound("wamid.3", "k2", "derde"),
        inbound("wamid.1", "k1", "eerste (dubbel)"),
    ];
    assert_eq!(store.enqueue_inbound(&batch).await.unwrap(), 3);
    assert_eq!(store.enqueue_inbound(&batch[..1]).await.unwrap(), 0);
    let a = store
        .claim_inbound("a", 10, Duration::seconds(30))
        .await
        .unwrap();
    let ids: Vec<&str> = a.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["wamid.1", "wamid.3"], "the oldest of each contact");
    assert!(
        store
            .claim_inbound("b", 10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
    // Completing wamid.1 with its reply in the outbox makes wamid.2 claimable.
    let mut turn = TurnRecord::simple(
        "wa-c",
        Channel::Whatsapp,
        message(Direction::In, "eerste", now),
        message(Direction::Out, "antwoord", now),
        Context::default(),
    );
    turn.inbox_id = Some(a[0].id);
    turn.contact_id = Some("k1".into());
    turn.outbox = Some(OutboxDraft {
        dedup_key: "reply:wamid.1".into(),
        contact_id: "k1".into(),
        channel: Channel::Whatsapp,
        kind: "text".into(),
        body: serde_json::json!({"type": "text", "text": {"body": "antwoord"}}),
    });
    store.record_turn(&turn).await.unwrap();
    assert!(
        store.record_turn(&turn).await.is_err(),
        "a message is completed once"
    );
    let b = store
        .claim_inbound("b", 10, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].external_id, "wamid.2");
    // An expired lease is taken over.
    store
        .release_inbound(b[0].id, "test", Duration::seconds(-1), 10)
        .await
        .unwrap();
    let again = store
        .claim_inbound("c", 10, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);

    // The outbox: one row, claimed once, with the contact's address; marked sent.
    let o = store
        .claim_outbox("s", 10, Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].address.as_deref(), Some("316k1"));
    assert!(
        store
            .claim_outbox("t", 10, Duration::seconds(30))
            .await
            .unwrap()
            .is_empty()
    );
    store.outbox_sent(&o[0], Some("wamid.out.1")).await.unwrap();
    assert!(
        store
            .update_delivery_status("wamid.out.1", "read", Utc::now())
            .await
            .unwrap()
    );
    assert!(
        store
            .update_delivery_status("wamid.out.1", "delivered", Utc::now())
            .await
            .unwrap()
    );
    let t = store.transcript("wa-c").await.unwrap();
    assert_eq!(
        t[1].status.as_deref(),
        Some("read"),
        "statuses only move forward"
    );
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        [(OutboxStatus::Sent, 1)]
    );

    // API keys: stored hashed, found by value, revoked.
    let (key, value) = store.create_key("platform", &[Scope::Agent]).await.unwrap();
    assert!(value.starts_with(&format!("loket_{}_", key.id)));
    let found = store.find_key(&value).await.unwrap().unwrap();
    assert!(found.allows(Scope::Agent) && !found.allows(Scope::Editor));
    assert!(store.find_key("loket_x_y").await.unwrap().is_none());
    assert!(store.revoke_key(&key.id).await.unwrap());
    assert!(store.find_key(&value).await.unwrap().is_none());
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE hash = $1")
        .bind(&value)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 0, "the key itself is never stored");
}

#[tokio::test]
async fn sqlite_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("loket.db").display()
    );
    let store = SqlStore::connect(&url, 4).await.unwrap();
    contract(&store).await;
    store.close().await;
    // Reopening runs the migrations again without harm and keeps the data.
    let store = SqlStore::connect(&url, 4).await.unwrap();
    assert_eq!(store.transcript("c1").await.unwrap().len(), 7);
}

#[tokio::test]
async fn postgres_meets_the_contract() {
    let db = crate::pg::temp_postgres().await;
    let store = SqlStore::connect(&db.url, 4).await.unwrap();
    contract(&store).await;
    store.close().await;
    let store = SqlStore::connect(&db.url, 4).await.unwrap();
    assert_eq!(store.transcript("c1").await.unwrap().len(), 7);
    store.close().await;
    // Dropping `db` drops the database WITH (FORCE).
    drop(db);
}
