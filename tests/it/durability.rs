//! Durability of the WhatsApp channel with the real binary: SIGKILL between deciding and
//! sending, SIGKILL during a burst of webhooks, SIGKILL while replies are in flight, a
//! database outage of a minute while replies are in flight, and two instances sharing one
//! PostgreSQL.
//!
//! Every test runs `loket serve` (the lexical stand-in encoder, no model needed) against an
//! in-process [`FakeGraph`] and checks the database and what the fake received: nothing
//! acknowledged is lost, and every message gets exactly one reply — except after a SIGKILL
//! while replies are in flight, where at most the killed sender's `sending` rows (at most
//! [`MAX_IN_FLIGHT`]) go out twice (the Graph API has no idempotency key).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use loket::channels::outbox::MAX_IN_FLIGHT;
use loket::channels::whatsapp::fake::{Failure, FakeGraph, Received};
use loket::channels::whatsapp::signature;
use loket::channels::whatsapp::webhook::inbound_text_payload;
use loket::store::{SqlStore, Store};
use sqlx::{Connection, Executor, Row};

use crate::binary::LoketProcess;
use crate::server::eventually;

const APP_SECRET: &str = "durability-app-secret";
/// All digits, as Meta issues them: settings from the environment keep their string type.
const PHONE_NUMBER_ID: &str = "106540352242922";

/// Questions the bundled content answers (also with the lexical stand-in encoder), so no
/// conversation drifts into a handoff, where the bot stops replying.
const QUESTIONS: &[&str] = &[
    "wat kost een paspoort?",
    "hoe laat is het stadhuis open?",
    "wat kost een paspoort?",
    "hoe laat is het stadhuis open?",
    "wat kost een paspoort?",
    "hoe laat is het stadhuis open?",
];

fn whatsapp_env(fake: &FakeGraph) -> Vec<(&'static str, String)> {
    vec![
        ("LOKET__WHATSAPP__ENABLED", "true".into()),
        ("LOKET__WHATSAPP__BASE_URL", fake.base_url()),
        ("LOKET__WHATSAPP__ACCESS_TOKEN", "durability-token".into()),
        ("LOKET__WHATSAPP__APP_SECRET", APP_SECRET.into()),
        ("LOKET__WHATSAPP__PHONE_NUMBER_ID", PHONE_NUMBER_ID.into()),
    ]
}

fn citizen(i: usize) -> String {
    format!("3161{i:07}")
}

fn webhook_body(wa_id: &str, wamid: &str, text: &str) -> String {
    inbound_text_payload(
        PHONE_NUMBER_ID,
        wa_id,
        "Test Inwoner",
        wamid,
        text,
        chrono::Utc::now().timestamp(),
    )
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// POSTs a webhook signed like Meta signs it; the status, or the transport error.
async fn post_webhook(
    client: &reqwest::Client,
    base: &str,
    body: &str,
) -> Result<u16, reqwest::Error> {
    let r = client
        .post(format!("{base}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header(
            "X-Hub-Signature-256",
            signature::sign(APP_SECRET.as_bytes(), body.as_bytes()),
        )
        .body(body.to_string())
        .send()
        .await?;
    Ok(r.status().as_u16())
}

/// The SQLite database of a binary started on `dir` (opened beside the running process;
/// WAL lets both read and write).
async fn sqlite(dir: &Path) -> SqlStore {
    let url = format!("sqlite://{}?mode=rwc", dir.join("loket.db").display());
    SqlStore::connect(&url, 2)
        .await
        .expect("open the SQLite file")
}

async fn count(store: &SqlStore, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Inbound messages not finished, and replies not yet sent or given up.
async fn unfinished(store: &SqlStore) -> (i64, i64) {
    let inbox = count(
        store,
        "SELECT COUNT(*) FROM inbox WHERE status IN ('pending', 'processing')",
    )
    .await;
    let outbox = count(
        store,
        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')",
    )
    .await;
    (inbox, outbox)
}

/// Waits until the inbound queue and the outbox are empty and `total` replies are sent
/// (at most `secs`), and says how long that took.
async fn drain(store: &SqlStore, total: usize, secs: u64, what: &str) {
    let t = Instant::now();
    eventually(secs, what, || async move {
        let sent = count(store, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await;
        (unfinished(store).await == (0, 0) && sent as usize == total).then_some(())
    })
    .await;
    eprintln!("{what}: {:?}", t.elapsed());
}

/// Every message stored once, and each of `wamids` answered by exactly one reply that the
/// API accepted once; nothing beyond `total` replies.
async fn each_stored_and_answered_once<'a>(
    store: &SqlStore,
    fake: &FakeGraph,
    wamids: impl Iterator<Item = &'a str>,
    total: usize,
) {
    let inbound = inbound_messages(store).await;
    assert_eq!(inbound.len(), total, "every message stored");
    assert!(inbound.values().all(|n| *n == 1), "a message stored twice");
    let rows = outbox_ids(store).await;
    let per_row = accepted_per_row(fake);
    for wamid in wamids {
        let (id, status) = &rows[&format!("reply:{wamid}")];
        assert_eq!(status, "sent", "{wamid}");
        assert_eq!(
            per_row.get(id),
            Some(&1),
            "{wamid}: replies accepted by the API"
        );
    }
    assert_eq!(
        replies(fake).len(),
        total,
        "no reply beyond one per message"
    );
}

/// Outbox rows by dedup key: (status, the channel's message id).
async fn outbox_rows(store: &SqlStore) -> HashMap<String, (String, Option<String>)> {
    sqlx::query("SELECT dedup_key, status, external_id FROM outbox")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("dedup_key"),
                (
                    r.get::<String, _>("status"),
                    r.get::<Option<String>, _>("external_id"),
                ),
            )
        })
        .collect()
}

/// Stored inbound messages by wamid: how many rows each.
async fn inbound_messages(store: &SqlStore) -> HashMap<String, i64> {
    let mut out = HashMap::new();
    for r in sqlx::query(
        "SELECT external_id FROM messages WHERE direction = 'in' AND external_id IS NOT NULL",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
    {
        *out.entry(r.get::<String, _>("external_id")).or_insert(0) += 1;
    }
    out
}

/// The accepted replies (not mark-as-read).
fn replies(fake: &FakeGraph) -> Vec<Received> {
    fake.received()
        .into_iter()
        .filter(|r| r.body["status"] != "read")
        .collect()
}

/// Every reply the fake accepted belongs to exactly one `sent` outbox row (found by the
/// message id the fake answered with): none was sent twice. Returns the inbound wamid of
/// each reply, in the order the fake accepted them.
fn replies_by_wamid(
    fake: &FakeGraph,
    outbox: &HashMap<String, (String, Option<String>)>,
) -> Vec<(String, String)> {
    let by_message_id: HashMap<&str, &str> = outbox
        .iter()
        .filter_map(|(key, (_, ext))| Some((ext.as_deref()?, key.as_str())))
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in replies(fake) {
        let mid = r.message_id.clone().expect("a reply gets a message id");
        let key = by_message_id.get(mid.as_str()).unwrap_or_else(|| {
            panic!(
                "the fake accepted a reply ({mid}, to {}) that no outbox row records: \
                 a reply sent twice (the second send overwrote the first's message id)",
                r.body["to"]
            )
        });
        assert!(seen.insert(mid.clone()), "message id {mid} twice");
        let wamid = key
            .strip_prefix("reply:")
            .expect("a reply's dedup key")
            .to_string();
        out.push((r.body["to"].as_str().unwrap_or_default().to_string(), wamid));
    }
    out
}

/// `loket serve` on a fresh SQLite directory, against `fake`.
fn start_on_sqlite(fake: &FakeGraph) -> (tempfile::TempDir, LoketProcess) {
    let dir = tempfile::tempdir().unwrap();
    let loket =
        tokio::task::block_in_place(|| LoketProcess::start(dir.path(), &whatsapp_env(fake)));
    (dir, loket)
}

/// Two `loket serve` on the PostgreSQL database `db`, against `fake` (each with a data
/// directory of its own).
fn start_two_on_postgres(
    fake: &FakeGraph,
    db: &crate::pg::TempPg,
) -> ([tempfile::TempDir; 2], LoketProcess, LoketProcess) {
    let mut env = whatsapp_env(fake);
    env.push(("LOKET__DATABASE__URL", db.url.clone()));
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (a, b) = tokio::task::block_in_place(|| {
        (
            LoketProcess::start(dirs[0].path(), &env),
            LoketProcess::start(dirs[1].path(), &env),
        )
    });
    (dirs, a, b)
}

/// A fake that refuses every send (500) and a binary on a fresh SQLite directory that has
/// acknowledged the question `wamid` from `wa_id`.
async fn one_question_while_sends_fail(
    wa_id: &str,
    wamid: &str,
) -> (FakeGraph, tempfile::TempDir, LoketProcess) {
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    fake.fail_all(Some(Failure::Status(500)));
    let (dir, loket) = start_on_sqlite(&fake);
    let body = webhook_body(wa_id, wamid, "wat kost een paspoort?");
    let status = post_webhook(&http_client(), &loket.addr, &body)
        .await
        .unwrap();
    assert_eq!(status, 200);
    (fake, dir, loket)
}

/// Lets the fake accept sends again, restarts `loket` and waits for the reply to `wa_id`;
/// then longer than a poll, a backoff step and the inbox lease's leftover: nothing more
/// comes, exactly one reply.
async fn restart_and_expect_one_reply(fake: &FakeGraph, loket: &mut LoketProcess, wa_id: &str) {
    fake.fail_all(None);
    tokio::task::block_in_place(|| loket.restart());
    // A row killed mid-send waits for its lease (30 s); one in backoff for a few seconds.
    let t = Instant::now();
    eventually(45, "the reply after the restart", || async move {
        (!fake.replies_to(wa_id).is_empty()).then_some(())
    })
    .await;
    eprintln!("reply after the restart in {:?}", t.elapsed());
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(fake.replies_to(wa_id).len(), 1, "exactly one reply");
}

/// The outbox holds one row, `sent`, the reply to `wamid`, which is stored once; returns
/// the outbox rows.
async fn one_sent_reply(
    store: &SqlStore,
    wamid: &str,
) -> HashMap<String, (String, Option<String>)> {
    let rows = outbox_rows(store).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[&format!("reply:{wamid}")].0, "sent");
    assert_eq!(inbound_messages(store).await[wamid], 1);
    rows
}

/// Waits until the fake has accepted the first replies, then makes it answer each one only
/// after 5 s and waits until a reply is accepted and not yet answered.
async fn replies_in_flight(fake: &FakeGraph) {
    eventually(60, "the first replies", || async move {
        (replies(fake).len() >= 20).then_some(())
    })
    .await;
    fake.fail_all(Some(Failure::AnswerLate(Duration::from_secs(5))));
    eventually(30, "replies accepted and not yet answered", || async move {
        (fake.unanswered() >= 1).then_some(())
    })
    .await;
}

/// What the senders of a burst posted, once they are done.
async fn joined(tasks: Vec<tokio::task::JoinHandle<Vec<Posted>>>) -> Vec<Posted> {
    let mut sent = Vec::new();
    for t in tasks {
        sent.extend(t.await.unwrap());
    }
    sent
}

/// SIGKILL after the reply was decided and a send attempt failed: after the restart the
/// reply is sent exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_deciding_and_sending_sends_the_reply_once_after_restart() {
    let (wa_id, wamid) = (citizen(1), "wamid.durability-decided-1");
    let (fake, dir, mut loket) = one_question_while_sends_fail(&wa_id, wamid).await;

    // The reply is decided (in the outbox) and the fake has refused a send.
    let store = sqlite(dir.path()).await;
    let key = format!("reply:{wamid}");
    eventually(20, "a refused send attempt of the reply", || {
        let (store, fake, key) = (&store, &fake, &key);
        async move {
            let attempts: Option<i64> =
                sqlx::query_scalar("SELECT attempts FROM outbox WHERE dedup_key = $1")
                    .bind(key)
                    .fetch_optional(store.pool())
                    .await
                    .unwrap();
            (attempts.unwrap_or(0) >= 1 && fake.attempts() >= 1).then_some(())
        }
    })
    .await;
    tokio::task::block_in_place(|| loket.kill9());
    assert!(fake.replies_to(&wa_id).is_empty(), "nothing accepted yet");

    restart_and_expect_one_reply(&fake, &mut loket, &wa_id).await;
    let rows = one_sent_reply(&store, wamid).await;
    assert_eq!(unfinished(&store).await, (0, 0));
    replies_by_wamid(&fake, &rows);
    store.close().await;
}

/// SIGKILL right after the 200: the message may or may not be processed yet; after the
/// restart it is answered exactly once. The fake refuses sends until the kill, so the only
/// accepted reply is the one after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_right_after_the_acknowledgement_still_answers_once() {
    let (wa_id, wamid) = (citizen(2), "wamid.durability-acked-1");
    let (fake, dir, mut loket) = one_question_while_sends_fail(&wa_id, wamid).await;
    tokio::task::block_in_place(|| loket.kill9());

    restart_and_expect_one_reply(&fake, &mut loket, &wa_id).await;
    let store = sqlite(dir.path()).await;
    let rows = one_sent_reply(&store, wamid).await;
    replies_by_wamid(&fake, &rows);
    store.close().await;
}

/// 300 webhooks from 4 concurrent senders (50 citizens × 6 messages), SIGKILL after about
/// 150 acknowledgements, restart, and Meta's redelivery of what was not acknowledged: every
/// acknowledged message is stored once and answered once; no reply is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_loses_nothing_acknowledged() {
    const CITIZENS: usize = 50;
    const PER_CITIZEN: usize = 6;
    const SENDERS: usize = 4;
    const KILL_AFTER: usize = 150;
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    let (dir, mut loket) = start_on_sqlite(&fake);
    let client = http_client();
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let (client, base, acked) = (client.clone(), loket.addr.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            // (wa_id, wamid, body, acknowledged)
            let mut out = Vec::new();
            for (round, question) in QUESTIONS.iter().enumerate().take(PER_CITIZEN) {
                for c in (s..CITIZENS).step_by(SENDERS) {
                    let (wa_id, wamid) = (citizen(100 + c), format!("wamid.burst-{c}-{round}"));
                    let body = webhook_body(&wa_id, &wamid, question);
                    let ok = matches!(post_webhook(&client, &base, &body).await, Ok(200));
                    if ok {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    out.push((wa_id, wamid, body, ok));
                }
            }
            out
        }));
    }
    let t = Instant::now();
    while acked.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(t.elapsed() < Duration::from_secs(60), "the burst stalled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::task::block_in_place(|| loket.kill9());
    let sent = joined(tasks).await;
    let acked_before: Vec<&str> = sent.iter().filter(|m| m.3).map(|m| m.1.as_str()).collect();
    eprintln!(
        "acknowledged before the kill: {} of {}",
        acked_before.len(),
        sent.len()
    );
    assert!(acked_before.len() >= KILL_AFTER && acked_before.len() < sent.len());

    tokio::task::block_in_place(|| loket.restart());
    // Meta delivers what was not acknowledged again (some of it may be stored already).
    for m in sent.iter().filter(|m| !m.3) {
        let status = post_webhook(&client, &loket.addr, &m.2).await.unwrap();
        assert_eq!(status, 200, "redelivery of {}", m.1);
    }
    let store = sqlite(dir.path()).await;
    let total = sent.len();
    drain(&store, total, 90, "the queues to drain").await;
    // No late duplicate from a lease running out.
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| loket.kill9());

    let inbound = inbound_messages(&store).await;
    let outbox = outbox_rows(&store).await;
    for wamid in &acked_before {
        assert_eq!(inbound.get(*wamid), Some(&1), "{wamid}: stored once");
        let row = outbox.get(&format!("reply:{wamid}"));
        assert_eq!(row.map(|r| r.0.as_str()), Some("sent"), "{wamid}: replied");
    }
    assert_eq!(inbound.len(), sent.len(), "every message after redelivery");
    assert!(inbound.values().all(|n| *n == 1), "a message stored twice");
    let replied = replies_by_wamid(&fake, &outbox);
    let distinct: HashSet<&str> = replied.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(distinct.len(), replied.len(), "a message answered twice");
    assert_eq!(
        replied.len(),
        inbound.len(),
        "one reply per processed message"
    );
    store.close().await;
}

/// Two binaries on one PostgreSQL database and one fake Graph API, 1,000 messages (200
/// citizens × 5) alternating between their webhook endpoints: every message stored and
/// answered exactly once, both instances did work, and each citizen's replies arrive in
/// the order of their messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_answer_1000_messages_exactly_once() {
    const CITIZENS: usize = 200;
    const PER_CITIZEN: usize = 5;
    const SENDERS: usize = 4;
    let db = crate::pg::temp_postgres().await;
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    let (_dirs, mut a, mut b) = start_two_on_postgres(&fake, &db);
    let client = http_client();
    let bases = [a.addr.clone(), b.addr.clone()];
    let t = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let (client, bases) = (client.clone(), bases.clone());
        tasks.push(tokio::spawn(async move {
            // One citizen's messages go one after another (each waits for its 200), so the
            // queue holds them in the order they were written.
            for (round, question) in QUESTIONS.iter().enumerate().take(PER_CITIZEN) {
                for c in (s..CITIZENS).step_by(SENDERS) {
                    let (wa_id, wamid) = (citizen(1000 + c), format!("wamid.pg-{c}-{round}"));
                    let body = webhook_body(&wa_id, &wamid, question);
                    let base = &bases[(c + round) % 2];
                    let status = post_webhook(&client, base, &body).await;
                    assert!(matches!(status, Ok(200)), "{wamid} to {base}: {status:?}");
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    eprintln!("1,000 webhooks acknowledged in {:?}", t.elapsed());
    let store = SqlStore::connect(&db.url, 2).await.unwrap();
    let total = CITIZENS * PER_CITIZEN;
    eventually(120, "both instances to answer every message", || {
        let store = &store;
        async move {
            let sent = count(store, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await;
            (unfinished(store).await == (0, 0) && sent as usize == total).then_some(())
        }
    })
    .await;
    eprintln!("all answered {:?} after the first webhook", t.elapsed());
    tokio::time::sleep(Duration::from_secs(2)).await;

    let inbound = inbound_messages(&store).await;
    assert_eq!(inbound.len(), total, "stored inbound messages");
    assert!(inbound.values().all(|n| *n == 1), "a message stored twice");
    let outbox = outbox_rows(&store).await;
    assert_eq!(outbox.len(), total);
    for c in 0..CITIZENS {
        for round in 0..PER_CITIZEN {
            let key = format!("reply:wamid.pg-{c}-{round}");
            assert_eq!(
                outbox.get(&key).map(|r| r.0.as_str()),
                Some("sent"),
                "{key}"
            );
        }
    }
    let replied = replies_by_wamid(&fake, &outbox);
    assert_eq!(replied.len(), total, "replies the fake accepted");
    // Per citizen, the replies in the order the fake accepted them answer messages 0..5.
    let mut per_citizen: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (to, wamid) in &replied {
        let round: usize = wamid.rsplit('-').next().unwrap().parse().unwrap();
        per_citizen.entry(to.clone()).or_default().push(round);
    }
    assert_eq!(per_citizen.len(), CITIZENS);
    for (to, rounds) in &per_citizen {
        assert_eq!(
            rounds,
            &(0..PER_CITIZEN).collect::<Vec<_>>(),
            "order of replies to {to}"
        );
    }
    // Both processes claimed messages (the claim sets `locked_by`: host:pid:nonce/inbox).
    let workers: Vec<String> = sqlx::query_scalar("SELECT DISTINCT locked_by FROM inbox")
        .fetch_all(store.pool())
        .await
        .unwrap();
    for p in [&a, &b] {
        let pid = format!(":{}:", p.pid());
        let n = count(
            &store,
            &format!("SELECT COUNT(*) FROM inbox WHERE locked_by LIKE '%{pid}%'"),
        )
        .await;
        eprintln!("instance pid {} processed {n} messages", p.pid());
        assert!(n > 0, "instance {pid} processed nothing: {workers:?}");
    }
    assert_eq!(workers.len(), 2, "{workers:?}");
    tokio::task::block_in_place(|| {
        a.kill9();
        b.kill9();
    });
    store.close().await;
    drop(db);
}

/// POSTs a webhook until it is acknowledged, as Meta delivers again what was not (a
/// database that is down answers 503).
async fn post_until_acked(client: &reqwest::Client, base: &str, body: &str, wamid: &str) {
    let t = Instant::now();
    loop {
        if let Ok(200) = post_webhook(client, base, body).await {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(150),
            "{wamid} never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A webhook of a burst: (wa_id, wamid, body, acknowledged).
type Posted = (String, String, String, bool);

/// `citizens` × `per_citizen` webhooks from `senders` concurrent senders, each citizen's
/// messages in order. With `redeliver`, every message is posted until acknowledged; without,
/// once.
fn burst(
    client: &reqwest::Client,
    base: &str,
    prefix: &'static str,
    (citizens, per_citizen, senders): (usize, usize, usize),
    redeliver: bool,
    acked: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Vec<Posted>>> {
    (0..senders)
        .map(|s| {
            let (client, base, acked) = (client.clone(), base.to_string(), acked.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                for (round, question) in QUESTIONS.iter().enumerate().take(per_citizen) {
                    for c in (s..citizens).step_by(senders) {
                        let (wa_id, wamid) =
                            (citizen(5000 + c), format!("wamid.{prefix}-{c}-{round}"));
                        let body = webhook_body(&wa_id, &wamid, question);
                        let ok = if redeliver {
                            post_until_acked(&client, &base, &body, &wamid).await;
                            true
                        } else {
                            matches!(post_webhook(&client, &base, &body).await, Ok(200))
                        };
                        if ok {
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        out.push((wa_id, wamid, body, ok));
                    }
                }
                out
            })
        })
        .collect()
}

/// Outbox rows by dedup key: (row id, status).
async fn outbox_ids(store: &SqlStore) -> HashMap<String, (i64, String)> {
    sqlx::query("SELECT dedup_key, id, status FROM outbox")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("dedup_key"),
                (r.get::<i64, _>("id"), r.get::<String, _>("status")),
            )
        })
        .collect()
}

/// How many times the fake accepted each outbox row's reply, by the row id each request
/// carries in `biz_opaque_callback_data` (`outbox:<id>`).
fn accepted_per_row(fake: &FakeGraph) -> HashMap<i64, usize> {
    let mut out = HashMap::new();
    for r in replies(fake) {
        let tag = r.body["biz_opaque_callback_data"]
            .as_str()
            .unwrap_or_default();
        let id: i64 = tag
            .strip_prefix("outbox:")
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("a reply without its outbox row: {tag:?}"));
        *out.entry(id).or_insert(0) += 1;
    }
    out
}

/// Holds SQLite's write lock from a connection of its own: until it is dropped (rolled
/// back), nothing can be written (Loket's writers give up after their 5 s busy timeout and
/// see the database as down); readers go on, as WAL allows.
struct WriteLock(sqlx::SqliteConnection);

impl WriteLock {
    async fn take(dir: &Path) -> WriteLock {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("loket.db"))
            .busy_timeout(Duration::from_secs(60));
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("open the SQLite file");
        conn.execute("BEGIN EXCLUSIVE")
            .await
            .expect("take the write lock");
        WriteLock(conn)
    }

    async fn release(mut self) {
        self.0
            .execute("ROLLBACK")
            .await
            .expect("release the write lock");
        self.0.close().await.unwrap();
    }
}

/// A burst of 200 webhooks (40 citizens × 5) and, while replies are in flight, the database
/// cannot be written for 60 s (twice the outbox lease) while 40 more webhooks arrive:
/// replies accepted by the Graph API during the outage are kept by the sender and recorded
/// when the database is back, and nothing is sent twice or lost. Webhooks that got 503 are
/// delivered again, as Meta does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_of_a_minute_while_replies_are_in_flight_sends_each_once() {
    const SHAPE: (usize, usize, usize) = (40, 5, 4);
    const DURING: (usize, usize, usize) = (20, 2, 2);
    const OUTAGE: Duration = Duration::from_secs(60);
    let total = SHAPE.0 * SHAPE.1 + DURING.0 * DURING.1;
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    let (dir, mut loket) = start_on_sqlite(&fake);
    let store = sqlite(dir.path()).await;
    let client = http_client();
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = burst(&client, &loket.addr, "outage", SHAPE, true, acked.clone());

    // Mid-burst, with replies accepted by the API but not yet answered, the database
    // stops taking writes.
    replies_in_flight(&fake).await;
    let lock = WriteLock::take(dir.path()).await;
    let locked = Instant::now();
    fake.fail_all(None);
    let late = Arc::new(AtomicUsize::new(0));
    tasks.extend(burst(
        &client,
        &loket.addr,
        "outage-late",
        DURING,
        true,
        late.clone(),
    ));
    eprintln!(
        "outage from {} replies accepted, {} unanswered, {} webhooks acknowledged",
        replies(&fake).len(),
        fake.unanswered(),
        acked.load(Ordering::SeqCst)
    );
    tokio::time::sleep(OUTAGE.saturating_sub(locked.elapsed())).await;
    // Just before the database is back: the API accepted replies the database does not
    // know were sent (the sender keeps their outcome), and their leases ran out long ago.
    let accepted = replies(&fake).len() as i64;
    let recorded = count(&store, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await;
    let lease_expired = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM outbox WHERE status = 'sending' AND locked_until < '{}'",
            loket::store::timestamp(chrono::Utc::now())
        ),
    )
    .await;
    eprintln!(
        "end of the outage: {accepted} replies accepted, {recorded} recorded as sent, {lease_expired} with an expired lease"
    );
    assert!(
        accepted > recorded,
        "the outage should catch sends whose outcome cannot be written \
         ({accepted} accepted, {recorded} recorded)"
    );
    assert!(
        lease_expired > 0,
        "leases of rows in flight ran out during the outage"
    );
    lock.release().await;

    let sent = joined(tasks).await;
    assert_eq!(sent.len(), total);
    drain(&store, total, 90, "the queues to drain after the outage").await;
    // A takeover by lease would have come at the first claim after the outage; a few more
    // heartbeats show nothing more comes.
    tokio::time::sleep(Duration::from_secs(5)).await;
    tokio::task::block_in_place(|| loket.kill9());

    each_stored_and_answered_once(&store, &fake, sent.iter().map(|m| m.1.as_str()), total).await;
    replies_by_wamid(&fake, &outbox_rows(&store).await);
    store.close().await;
}

/// A burst of 300 webhooks (50 citizens × 6) while the API answers each reply 300 ms after
/// accepting it, SIGKILL with replies in flight, restart and Meta's redelivery: nothing
/// acknowledged is lost, and the only replies sent twice are of rows the killed process had
/// marked `sending` — at most `MAX_IN_FLIGHT`, each twice at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_replies_in_flight_repeats_at_most_the_sends_in_flight() {
    const SHAPE: (usize, usize, usize) = (50, 6, 4);
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    fake.fail_all(Some(Failure::AnswerLate(Duration::from_millis(300))));
    let (dir, mut loket) = start_on_sqlite(&fake);
    let client = http_client();
    let acked = Arc::new(AtomicUsize::new(0));
    let tasks = burst(
        &client,
        &loket.addr,
        "inflight",
        SHAPE,
        false,
        acked.clone(),
    );
    let t = Instant::now();
    while acked.load(Ordering::SeqCst) < 100 || fake.unanswered() < 2 {
        assert!(t.elapsed() < Duration::from_secs(90), "the burst stalled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::task::block_in_place(|| loket.kill9());
    let unanswered = fake.unanswered();
    fake.fail_all(None);
    let sent = joined(tasks).await;
    let store = sqlite(dir.path()).await;
    // The rows the killed process had marked as attempted: the only ones that may repeat.
    let in_flight: HashSet<i64> =
        sqlx::query_scalar("SELECT id FROM outbox WHERE status = 'sending'")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .into_iter()
            .collect();
    eprintln!(
        "killed with {} of {} acknowledged, {unanswered} replies unanswered, {} rows sending",
        sent.iter().filter(|m| m.3).count(),
        sent.len(),
        in_flight.len()
    );
    assert!(
        in_flight.len() <= MAX_IN_FLIGHT,
        "{} rows in flight, more than the bound {MAX_IN_FLIGHT}",
        in_flight.len()
    );

    tokio::task::block_in_place(|| loket.restart());
    for (_, wamid, body, ok) in &sent {
        if !ok {
            post_until_acked(&client, &loket.addr, body, wamid).await;
        }
    }
    let total = sent.len();
    // The killed sender's rows are taken over after its heartbeat was watched standing
    // still for a lease (30 s).
    drain(&store, total, 100, "the queues to drain after the restart").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::block_in_place(|| loket.kill9());

    let inbound = inbound_messages(&store).await;
    assert_eq!(inbound.len(), total, "every message after redelivery");
    assert!(inbound.values().all(|n| *n == 1), "a message stored twice");
    let rows = outbox_ids(&store).await;
    let per_row = accepted_per_row(&fake);
    let mut twice = Vec::new();
    for (_, wamid, _, _) in &sent {
        let (id, status) = &rows[&format!("reply:{wamid}")];
        assert_eq!(status, "sent", "{wamid}: replied");
        match per_row.get(id).copied().unwrap_or(0) {
            0 => panic!("{wamid}: its reply never reached the API"),
            1 => {}
            2 => twice.push(*id),
            n => panic!("{wamid}: reply sent {n} times"),
        }
    }
    eprintln!(
        "replies sent twice: {} (rows {twice:?}; in flight at the kill {in_flight:?})",
        twice.len()
    );
    for id in &twice {
        assert!(
            in_flight.contains(id),
            "row {id} was sent twice but was not in flight at the kill"
        );
    }
    assert!(twice.len() <= MAX_IN_FLIGHT);
    assert_eq!(per_row.len(), total, "replies to rows that do not exist");
    store.close().await;
}

/// PostgreSQL as the test suite's admin connection reaches it (see `crate::pg`).
async fn pg_admin() -> sqlx::AnyPool {
    let url = std::env::var("LOKET_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| crate::pg::DEFAULT_ADMIN_URL.into());
    sqlx::AnyPool::connect(&url)
        .await
        .expect("PostgreSQL admin connection")
}

/// Takes database `name` down (no new connections, every session ended) or brings it back.
async fn pg_outage(admin: &sqlx::AnyPool, name: &str, down: bool) {
    admin
        .execute(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {}", !down).as_str())
        .await
        .unwrap();
    if down {
        admin
            .execute(
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                )
                .as_str(),
            )
            .await
            .unwrap();
    }
}

/// Two instances on one PostgreSQL, a burst of webhooks to both, and the database gone for
/// 60 s (connections ended, new ones refused) while replies are in flight: neither instance
/// takes over the other's rows when the database is back (each sees the other's heartbeat
/// move again before it could presume it dead), so every reply goes out once, none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_through_a_postgres_outage_of_a_minute_send_each_reply_once() {
    const SHAPE: (usize, usize, usize) = (20, 5, 2);
    const OUTAGE: Duration = Duration::from_secs(60);
    let db = crate::pg::temp_postgres().await;
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    let (_dirs, mut a, mut b) = start_two_on_postgres(&fake, &db);
    let client = http_client();
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = burst(&client, &a.addr, "pg-outage-a", SHAPE, true, acked.clone());
    tasks.extend(burst(
        &client,
        &b.addr,
        "pg-outage-b",
        SHAPE,
        true,
        acked.clone(),
    ));
    let total = 2 * SHAPE.0 * SHAPE.1;

    replies_in_flight(&fake).await;
    let admin = pg_admin().await;
    pg_outage(&admin, &db.name, true).await;
    let down = Instant::now();
    fake.fail_all(None);
    // Accepted by the API, answered only once the database is gone: outcomes that cannot
    // be written until it is back.
    let unanswered = fake.unanswered();
    eprintln!(
        "outage from {} replies accepted, {unanswered} of them unanswered",
        replies(&fake).len()
    );
    assert!(unanswered >= 1, "the outage should catch sends in flight");
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
    pg_outage(&admin, &db.name, false).await;
    admin.close().await;

    let sent = joined(tasks).await;
    assert_eq!(sent.len(), total);
    let store = SqlStore::connect(&db.url, 2).await.unwrap();
    drain(&store, total, 90, "the queues to drain after the outage").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    tokio::task::block_in_place(|| {
        a.kill9();
        b.kill9();
    });

    each_stored_and_answered_once(&store, &fake, sent.iter().map(|m| m.1.as_str()), total).await;
    let taken_over = count(
        &store,
        "SELECT COUNT(*) FROM outbox WHERE last_error LIKE 'its sender stopped%'",
    )
    .await;
    assert_eq!(taken_over, 0, "a live instance's replies were taken over");
    store.close().await;
    drop(db);
}
