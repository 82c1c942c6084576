//! The storage contract, run against SQLite and against a real PostgreSQL server.
//!
//! PostgreSQL: `LOKET_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each run creates and drops its own database. scripts/test.sh starts the server when it is
//! installed but stopped.

use chrono::{Duration, Utc};
use loket::dialogue::Context;
use loket::store::{Direction, MessageRecord, SqlStore, Store, TurnRecord};

fn message(direction: Direction, text: &str, at: chrono::DateTime<Utc>) -> MessageRecord {
    MessageRecord {
        direction,
        text: text.into(),
        pii: String::new(),
        intent: Some("paspoort".into()),
        action: (direction == Direction::Out).then(|| "answer".into()),
        confidence: (direction == Direction::Out).then_some(0.9),
        faq_id: Some("paspoort-kosten".into()),
        response_ms: Some(12),
        created_at: at,
    }
}

async fn contract(store: &dyn Store) {
    store.ping().await.unwrap();
    assert!(store.context("nobody").await.unwrap().is_none());
    let now = Utc::now();
    let mut ctx = Context {
        last_intent: Some("paspoort".into()),
        updated_at: Some(now),
        ..Default::default()
    };
    for i in 0..3 {
        store
            .record_turn(&TurnRecord {
                conversation_id: "c1".into(),
                channel: "web".into(),
                inbound: message(
                    Direction::In,
                    &format!("vraag {i} met [BSN]"),
                    now + Duration::seconds(i),
                ),
                outbound: message(
                    Direction::Out,
                    &format!("antwoord {i}"),
                    now + Duration::seconds(i),
                ),
                context: ctx.clone(),
                handoff: (i == 2).then(|| ("burgerzaken".to_string(), "medewerker".to_string())),
            })
            .await
            .unwrap();
        ctx.misses = i as u32 + 1;
    }
    let got = store.context("c1").await.unwrap().unwrap();
    assert_eq!(got.last_intent.as_deref(), Some("paspoort"));
    assert_eq!(got.misses, 2, "the latest context wins");
    let t = store.transcript("c1").await.unwrap();
    assert_eq!(t.len(), 6);
    assert_eq!(t[0].direction, "in");
    assert_eq!(t[0].text, "vraag 0 met [BSN]");
    assert_eq!(t[5].text, "antwoord 2");
    assert_eq!(t[5].confidence, Some(0.9));
    assert!(t.windows(2).all(|w| w[0].id < w[1].id));
    assert!(store.transcript("other").await.unwrap().is_empty());
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
    assert_eq!(store.transcript("c1").await.unwrap().len(), 6);
}

#[tokio::test]
async fn postgres_meets_the_contract() {
    let db = crate::helpers::postgres_db().await;
    let store = SqlStore::connect(&db.url, 4).await.unwrap();
    contract(&store).await;
    store.close().await;
    let store = SqlStore::connect(&db.url, 4).await.unwrap();
    assert_eq!(store.transcript("c1").await.unwrap().len(), 6);
    store.close().await;
    db.drop_database().await;
}
