//! Reports: `summary` over a hand-made week whose figures are computed by hand below, the
//! report endpoints (auth, filters, CSV, validation) and the dashboard in headless Chromium.
//!
//! The week is Monday 2 to Sunday 8 November 2026, Europe/Amsterdam = UTC+1 (CET). Times in
//! the seed are UTC; the comments give local times.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use http_body_util::BodyExt;
use loket::reports::{
    self, Counts, DayCounts, Distribution, HumanReply, KeyCounts, PiiKind, Ratio, ReportQuery,
    Summary, TopItem, WeekHours,
};
use loket::store::SqlStore;
use loket::store::keys::Scope;
use tower::ServiceExt;

use crate::helpers::{Content, TestApp};

async fn exec(store: &SqlStore, sql: &str) {
    sqlx::query(sql)
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

async fn conversation(store: &SqlStore, id: &str, channel: &str, dept: Option<&str>, at: &str) {
    let dept = dept.map_or("NULL".to_string(), |d| format!("'{d}'"));
    exec(
        store,
        &format!(
            "INSERT INTO conversations (id, channel, status, department, created_at, updated_at) \
             VALUES ('{id}', '{channel}', 'bot', {dept}, '{at}', '{at}')"
        ),
    )
    .await;
}

/// A citizen message and, unless the action is `agent`, the bot's reply 1 s later.
#[allow(clippy::too_many_arguments)]
async fn turn(
    store: &SqlStore,
    conv: &str,
    at: &str,
    text: &str,
    pii: &str,
    intent: Option<&str>,
    action: &str,
    confidence: f64,
    faq: Option<&str>,
    response_ms: i64,
) {
    let channel: String = sqlx::query_scalar("SELECT channel FROM conversations WHERE id = $1")
        .bind(conv)
        .fetch_one(store.pool())
        .await
        .unwrap();
    let q = |s: Option<&str>| s.map_or("NULL".to_string(), |s| format!("'{s}'"));
    exec(
        store,
        &format!(
            "INSERT INTO messages (conversation_id, direction, sender, channel, text, pii, intent, action, \
             confidence, kind, created_at) VALUES ('{conv}', 'in', 'citizen', '{channel}', '{text}', '{pii}', \
             {}, '{action}', {confidence}, 'text', '{at}')",
            q(intent)
        ),
    )
    .await;
    if action == "agent" {
        return;
    }
    let reply_at = at.replace(".000Z", ".900Z");
    exec(
        store,
        &format!(
            "INSERT INTO messages (conversation_id, direction, sender, channel, text, pii, intent, action, \
             confidence, faq_id, response_ms, kind, created_at) VALUES ('{conv}', 'out', 'bot', '{channel}', \
             'antwoord', '', {}, '{action}', {confidence}, {}, {response_ms}, 'text', '{reply_at}')",
            q(intent),
            q(faq)
        ),
    )
    .await;
}

async fn agent_reply(store: &SqlStore, conv: &str, at: &str) {
    exec(
        store,
        &format!(
            "INSERT INTO messages (conversation_id, direction, sender, channel, text, action, kind, created_at) \
             SELECT id, 'out', 'agent', channel, 'Goedemiddag, u spreekt met Sanne.', NULL, 'text', '{at}' \
             FROM conversations WHERE id = '{conv}'"
        ),
    )
    .await;
}

#[allow(clippy::too_many_arguments)]
async fn handoff(
    store: &SqlStore,
    conv: &str,
    dept: &str,
    at: &str,
    claimed: &str,
    first_reply: &str,
    within: i64,
) {
    exec(
        store,
        &format!(
            "INSERT INTO handoffs (conversation_id, department, reason, status, agent_id, created_at, \
             claimed_at, first_reply_at, resolved_at, within_office_hours) VALUES ('{conv}', '{dept}', \
             'asked', 'resolved', 'sanne', '{at}', '{claimed}', '{first_reply}', '{first_reply}', {within})"
        ),
    )
    .await;
}

/// Nine conversations in the week and two just outside it.
pub(crate) async fn seed(store: &SqlStore) {
    // Outside the period: Sun 1 Nov 23:59 and Mon 9 Nov 00:00 local.
    conversation(store, "c0", "web", None, "2026-11-01T22:59:00.000Z").await;
    turn(
        store,
        "c0",
        "2026-11-01T22:59:00.000Z",
        "te vroeg",
        "",
        Some("paspoort"),
        "answer",
        0.9,
        Some("paspoort-kosten"),
        999,
    )
    .await;
    conversation(store, "c10", "web", None, "2026-11-08T23:00:00.000Z").await;
    turn(
        store,
        "c10",
        "2026-11-08T23:00:00.000Z",
        "te laat",
        "",
        None,
        "fallback",
        0.1,
        None,
        999,
    )
    .await;

    // c1 — Mon 00:30, web, burgerzaken: answered in one go.
    conversation(
        store,
        "c1",
        "web",
        Some("burgerzaken"),
        "2026-11-01T23:30:00.000Z",
    )
    .await;
    turn(
        store,
        "c1",
        "2026-11-01T23:30:00.000Z",
        "Wat kost een paspoort?",
        "",
        Some("paspoort"),
        "answer",
        0.92,
        Some("paspoort-kosten"),
        100,
    )
    .await;

    // c2 — Mon 10:30, whatsapp, afval: a greeting, then an answer: one go.
    conversation(
        store,
        "c2",
        "whatsapp",
        Some("afval"),
        "2026-11-02T09:30:00.000Z",
    )
    .await;
    turn(
        store,
        "c2",
        "2026-11-02T09:30:00.000Z",
        "hallo",
        "",
        Some("begroeting"),
        "smalltalk",
        0.95,
        None,
        50,
    )
    .await;
    turn(
        store,
        "c2",
        "2026-11-02T09:31:00.000Z",
        "wanneer wordt het grofvuil opgehaald",
        "",
        Some("afvalkalender"),
        "answer",
        0.88,
        Some("afval-grofvuil"),
        120,
    )
    .await;

    // c3 — Tue 14:00, web, no department (kcc): one go; a phone number was removed.
    conversation(store, "c3", "web", None, "2026-11-03T13:00:00.000Z").await;
    turn(
        store,
        "c3",
        "2026-11-03T13:00:00.000Z",
        "bel me op [TELEFOONNUMMER], wat zijn de openingstijden",
        "phone",
        Some("openingstijden"),
        "answer",
        0.9,
        Some("openingstijden"),
        80,
    )
    .await;

    // c4 — Tue 15:10, web, burgerzaken: clarify, then an answer: still one go.
    conversation(
        store,
        "c4",
        "web",
        Some("burgerzaken"),
        "2026-11-03T14:10:00.000Z",
    )
    .await;
    turn(
        store,
        "c4",
        "2026-11-03T14:10:00.000Z",
        "ik wil iets met mijn rijbewijs",
        "",
        Some("rijbewijs"),
        "clarify",
        0.45,
        None,
        90,
    )
    .await;
    turn(
        store,
        "c4",
        "2026-11-03T14:12:00.000Z",
        "rijbewijs verlengen",
        "",
        Some("rijbewijs"),
        "answer",
        0.91,
        Some("rijbewijs-verlengen"),
        110,
    )
    .await;

    // c5 — Wed 11:00, whatsapp, kcc: not understood, handoff at 11:02 (office hours), an
    // agent replies at 11:32 (30 min), the citizen writes to the agent.
    conversation(
        store,
        "c5",
        "whatsapp",
        Some("kcc"),
        "2026-11-04T10:00:00.000Z",
    )
    .await;
    turn(
        store,
        "c5",
        "2026-11-04T10:00:00.000Z",
        "mijn kliko is gestolen",
        "",
        None,
        "fallback",
        0.2,
        None,
        70,
    )
    .await;
    turn(
        store,
        "c5",
        "2026-11-04T10:02:00.000Z",
        "kan ik een mens spreken",
        "",
        Some("medewerker"),
        "handoff",
        0.97,
        None,
        60,
    )
    .await;
    handoff(
        store,
        "c5",
        "kcc",
        "2026-11-04T10:02:00.000Z",
        "2026-11-04T10:20:00.000Z",
        "2026-11-04T10:32:00.000Z",
        1,
    )
    .await;
    agent_reply(store, "c5", "2026-11-04T10:32:00.000Z").await;
    turn(
        store,
        "c5",
        "2026-11-04T10:35:00.000Z",
        "dank u",
        "",
        None,
        "agent",
        0.0,
        None,
        0,
    )
    .await;

    // c6 — Thu 21:30 (after closing at 20:00), web, belastingen: handoff, reply at 00:30 (3 h).
    conversation(
        store,
        "c6",
        "web",
        Some("belastingen"),
        "2026-11-05T20:30:00.000Z",
    )
    .await;
    turn(
        store,
        "c6",
        "2026-11-05T20:30:00.000Z",
        "ik wil bezwaar maken tegen mijn aanslag",
        "",
        Some("belastingen"),
        "handoff",
        0.8,
        None,
        150,
    )
    .await;
    handoff(
        store,
        "c6",
        "belastingen",
        "2026-11-05T20:30:00.000Z",
        "2026-11-05T23:25:00.000Z",
        "2026-11-05T23:30:00.000Z",
        0,
    )
    .await;
    agent_reply(store, "c6", "2026-11-05T23:30:00.000Z").await;

    // c7 — Fri 09:15, whatsapp, no department: a privacy redirect (a BSN was removed).
    conversation(store, "c7", "whatsapp", None, "2026-11-06T08:15:00.000Z").await;
    turn(
        store,
        "c7",
        "2026-11-06T08:15:00.000Z",
        "mijn bsn is [BSN], klopt mijn adres",
        "bsn",
        None,
        "privacy_redirect",
        1.0,
        None,
        40,
    )
    .await;

    // c8 — Sat 11:00, web, afval: the same question answered twice (a repeated question).
    conversation(
        store,
        "c8",
        "web",
        Some("afval"),
        "2026-11-07T10:00:00.000Z",
    )
    .await;
    turn(
        store,
        "c8",
        "2026-11-07T10:00:00.000Z",
        "wanneer wordt papier opgehaald",
        "",
        Some("afvalkalender"),
        "answer",
        0.85,
        Some("afval-papier"),
        100,
    )
    .await;
    turn(
        store,
        "c8",
        "2026-11-07T10:05:00.000Z",
        "nee maar wanneer wordt papier bij mij opgehaald",
        "",
        Some("afvalkalender"),
        "answer",
        0.6,
        Some("afval-papier"),
        130,
    )
    .await;

    // c9 — Sun 13:00, whatsapp, no department: not understood.
    conversation(store, "c9", "whatsapp", None, "2026-11-08T12:00:00.000Z").await;
    turn(
        store,
        "c9",
        "2026-11-08T12:00:00.000Z",
        "mijn kliko is gestolen",
        "",
        Some("afvalkalender"),
        "fallback",
        0.1,
        None,
        60,
    )
    .await;
}

fn week() -> ReportQuery {
    ReportQuery {
        from: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 11, 8).unwrap(),
        channel: None,
        department: None,
        // Seeded straight into the store: conversations of no municipality yet, which the
        // default municipality owns.
        municipality: "voorbeeld".into(),
        is_default: true,
    }
}

fn day(d: u32, conversations: u64, citizen_messages: u64) -> DayCounts {
    DayCounts {
        date: NaiveDate::from_ymd_opt(2026, 11, d).unwrap(),
        conversations,
        citizen_messages,
    }
}

fn keyed(key: &str, conversations: u64, citizen_messages: u64) -> KeyCounts {
    KeyCounts {
        key: key.into(),
        conversations,
        citizen_messages,
    }
}

fn top(key: &str, count: u64, of: u64) -> TopItem {
    TopItem {
        key: key.into(),
        count,
        share: Ratio::new(count, of),
    }
}

fn dist(count: u64, median: f64, p90: f64) -> Distribution {
    Distribution {
        count,
        median: Some(median),
        p90: Some(p90),
    }
}

/// Every figure of the seeded week, by hand.
fn expected() -> Summary {
    let mut week = WeekHours::default();
    // Conversations by local start hour (Monday = 0).
    for (d, h) in [
        (0usize, 0usize),
        (0, 10),
        (1, 14),
        (1, 15),
        (2, 11),
        (3, 21),
        (4, 9),
        (5, 11),
        (6, 13),
    ] {
        week.conversations[d][h] += 1;
    }
    // Citizen messages by local hour: c1 Mon 00; c2 Mon 10 ×2; c3 Tue 14; c4 Tue 15 ×2;
    // c5 Wed 11 ×3; c6 Thu 21; c7 Fri 09; c8 Sat 11 ×2; c9 Sun 13.
    for (d, h, n) in [
        (0usize, 0usize, 1u64),
        (0, 10, 2),
        (1, 14, 1),
        (1, 15, 2),
        (2, 11, 3),
        (3, 21, 1),
        (4, 9, 1),
        (5, 11, 2),
        (6, 13, 1),
    ] {
        week.citizen_messages[d][h] = n;
    }
    Summary {
        from: week_from(),
        to: NaiveDate::from_ymd_opt(2026, 11, 8).unwrap(),
        time_zone: "Europe/Amsterdam",
        channel: None,
        department: None,
        // c1..c9 (c0 and c10 fall outside the week). Citizen messages:
        // c1 1 + c2 2 + c3 1 + c4 2 + c5 3 + c6 1 + c7 1 + c8 2 + c9 1 = 14.
        totals: Counts {
            conversations: 9,
            citizen_messages: 14,
        },
        // 14 minus c5's message to the agent = 13:
        // answer 6 (c1, c2, c3, c4, c8 ×2), smalltalk 1, clarify 1, fallback 2 (c5, c9),
        // handoff 2 (c5, c6), privacy_redirect 1 (c7).
        bot_decisions: 13,
        // Mon c1+c2 (1+2 messages), Tue c3+c4 (1+2), Wed c5 (3), Thu c6, Fri c7, Sat c8 (2), Sun c9.
        per_day: vec![
            day(2, 2, 3),
            day(3, 2, 3),
            day(4, 1, 3),
            day(5, 1, 1),
            day(6, 1, 1),
            day(7, 1, 2),
            day(8, 1, 1),
        ],
        per_hour_of_week: week,
        // web: c1 c3 c4 c6 c8 = 5 (1+1+2+1+2 = 7 messages); whatsapp: c2 c5 c7 c9 = 4 (2+3+1+1 = 7).
        per_channel: vec![keyed("web", 5, 7), keyed("whatsapp", 4, 7)],
        // kcc: c3, c5, c7, c9 (NULL counts as kcc) = 4 (1+3+1+1 = 6); afval: c2, c8 = 2 (2+2);
        // burgerzaken: c1, c4 = 2 (1+2); belastingen: c6 = 1 (1).
        per_department: vec![
            keyed("kcc", 4, 6),
            keyed("afval", 2, 4),
            keyed("burgerzaken", 2, 3),
            keyed("belastingen", 1, 1),
        ],
        // c1, c2, c3, c4 (clarify then answer still counts). Not: c5 (fallback, handoff),
        // c6 (handoff), c7 (nothing answered), c8 (same intent answered twice), c9 (fallback).
        answered_in_one_go: Ratio::new(4, 9),
        conversations_handed_off: Ratio::new(2, 9),
        clarify_rate: Ratio::new(1, 13),
        handoff_rate: Ratio::new(2, 13),
        fallback_rate: Ratio::new(2, 13),
        privacy_redirects: Ratio::new(1, 13),
        // c3 (phone) and c7 (bsn) of 14 citizen messages.
        pii_removed: Ratio::new(2, 14),
        pii_kinds: vec![
            PiiKind {
                kind: "bsn".into(),
                messages: 1,
            },
            PiiKind {
                kind: "phone".into(),
                messages: 1,
            },
        ],
        // 13 bot replies, sorted: 40 50 60 60 70 80 90 100 100 110 120 130 150.
        // Median: rank ⌈0.5·13⌉ = 7 → 90; p90: rank ⌈0.9·13⌉ = 12 → 130.
        bot_response_ms: dist(13, 90.0, 130.0),
        // c5: 10:02 → 10:32 = 30 min (office hours); c6: 20:30 → 23:30 = 180 min (outside).
        // All: [30, 180]: median rank ⌈1⌉ = 1 → 30, p90 rank ⌈1.8⌉ = 2 → 180.
        // Promise (60 min) over office-hours handoffs: c5 in 30 ≤ 60 → 1 of 1.
        first_human_reply_minutes: HumanReply {
            handoffs: 2,
            handoffs_within_office_hours: 1,
            without_reply: 0,
            all: dist(2, 30.0, 180.0),
            within_office_hours: dist(1, 30.0, 30.0),
            outside_office_hours: dist(1, 180.0, 180.0),
            within_promise: Ratio::new(1, 1),
            promised_minutes: 60,
        },
        // Intents of decisions except smalltalk and fallback: paspoort, afvalkalender (c2),
        // openingstijden, rijbewijs ×2, medewerker, belastingen, afvalkalender ×2 (c8) = 9.
        top_intents: vec![
            top("afvalkalender", 3, 9),
            top("rijbewijs", 2, 9),
            top("belastingen", 1, 9),
            top("medewerker", 1, 9),
            top("openingstijden", 1, 9),
            top("paspoort", 1, 9),
        ],
        // Bot replies with an FAQ entry: c1, c2, c3, c4, c8 ×2 = 6.
        top_faqs: vec![
            top("afval-papier", 2, 6),
            top("afval-grofvuil", 1, 6),
            top("openingstijden", 1, 6),
            top("paspoort-kosten", 1, 6),
            top("rijbewijs-verlengen", 1, 6),
        ],
    }
}

fn week_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
}

#[tokio::test]
async fn reports_summary_matches_the_figures_computed_by_hand() {
    let store = SqlStore::in_memory().await.unwrap();
    seed(&store).await;
    let s = reports::summary(&store, &week(), 60).await.unwrap();
    assert_eq!(s, expected());

    // Filters: WhatsApp only = c2, c5, c7, c9; one go = c2 only.
    let q = ReportQuery {
        channel: Some("whatsapp".into()),
        ..week()
    };
    let s = reports::summary(&store, &q, 60).await.unwrap();
    assert_eq!(s.totals.conversations, 4);
    assert_eq!(s.totals.citizen_messages, 7);
    assert_eq!(s.answered_in_one_go, Ratio::new(1, 4));
    // Department kcc includes the conversations without a department: c3, c5, c7, c9.
    let q = ReportQuery {
        department: Some("KCC".into()),
        ..week()
    };
    let s = reports::summary(&store, &q, 60).await.unwrap();
    assert_eq!(s.totals.conversations, 4);
    assert_eq!(s.first_human_reply_minutes.handoffs, 1);
    // A stricter promise (20 min): c5's 30 minutes miss it.
    let s = reports::summary(&store, &week(), 20).await.unwrap();
    assert_eq!(s.first_human_reply_minutes.within_promise, Ratio::new(0, 1));

    let csv = reports::summary_csv(&reports::summary(&store, &week(), 60).await.unwrap());
    assert!(
        csv.starts_with("metric,value,numerator,denominator\n"),
        "{csv}"
    );
    assert!(csv.contains("\nanswered_in_one_go,0.4444,4,9\n"), "{csv}");
    assert!(csv.contains("\nbot_response_ms.median,90,,\n"), "{csv}");
    assert!(
        csv.contains("\nper_day.2026-11-02.conversations,2,,\n"),
        "{csv}"
    );
}

#[tokio::test]
async fn reports_an_unanswered_handoff_misses_the_promise_once_it_is_overdue() {
    let store = SqlStore::in_memory().await.unwrap();
    conversation(&store, "w", "web", None, "2026-11-04T10:00:00.000Z").await;
    turn(
        &store,
        "w",
        "2026-11-04T10:00:00.000Z",
        "mens graag",
        "",
        Some("medewerker"),
        "handoff",
        0.9,
        None,
        50,
    )
    .await;
    exec(
        &store,
        "INSERT INTO handoffs (conversation_id, department, reason, status, created_at, within_office_hours) \
         VALUES ('w', 'kcc', 'asked', 'waiting', '2026-11-04T10:00:00.000Z', 1)",
    )
    .await;
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let early = reports::summary_at(&store, &week(), 60, at("2026-11-04T10:30:00Z"))
        .await
        .unwrap();
    assert_eq!(
        early.first_human_reply_minutes.within_promise,
        Ratio::new(0, 0)
    );
    assert_eq!(early.first_human_reply_minutes.without_reply, 1);
    let late = reports::summary_at(&store, &week(), 60, at("2026-11-04T11:30:00Z"))
        .await
        .unwrap();
    assert_eq!(
        late.first_human_reply_minutes.within_promise,
        Ratio::new(0, 1)
    );
}

async fn get(
    app: &TestApp,
    uri: &str,
    key: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::get(uri);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

pub(crate) const WEEK: &str = "from=2026-11-02&to=2026-11-08";

#[tokio::test]
async fn reports_endpoints_need_an_editor_key_and_answer_json_and_csv() {
    let app = TestApp::spawn(Content::Bundled, false).await;
    seed(&app.store).await;
    let (_, editor) = app
        .store
        .create_key("redactie", &[Scope::Editor])
        .await
        .unwrap();
    let (_, admin) = app
        .store
        .create_key("beheer", &[Scope::Admin])
        .await
        .unwrap();
    let (_, agent) = app.store.create_key("kcc", &[Scope::Agent]).await.unwrap();

    for path in ["/v1/reports/summary", "/v1/reports/unanswered"] {
        let uri = format!("{path}?{WEEK}");
        assert_eq!(get(&app, &uri, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            get(&app, &uri, Some("loket_nope_nope")).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (s, _, body) = get(&app, &uri, Some(&agent)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("editor"), "{body}");
        assert_eq!(get(&app, &uri, Some(&admin)).await.0, StatusCode::OK);
    }

    let (s, h, body) = get(&app, &format!("/v1/reports/summary?{WEEK}"), Some(&editor)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["totals"]["conversations"], 9);
    assert_eq!(v["answered_in_one_go"]["numerator"], 4);
    assert_eq!(v["answered_in_one_go"]["denominator"], 9);
    assert_eq!(v["per_day"][0]["date"], "2026-11-02");
    assert_eq!(v["per_hour_of_week"]["citizen_messages"][2][11], 3);
    assert_eq!(v["first_human_reply_minutes"]["all"]["median"], 30.0);
    assert_eq!(v["municipality"], "Gemeente Voorbeeld");
    assert!(v["departments"].as_array().unwrap().len() > 3);

    // The department by its name; the channel in any case.
    let (s, _, body) = get(
        &app,
        &format!("/v1/reports/summary?{WEEK}&department=Burgerzaken&channel=Web"),
        Some(&editor),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["department"], "burgerzaken");
    assert_eq!(v["totals"]["conversations"], 2);
    assert_eq!(v["answered_in_one_go"]["value"], 1.0);

    let (s, h, body) = get(
        &app,
        &format!("/v1/reports/summary?{WEEK}&format=csv"),
        Some(&editor),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"loket-samenvatting-2026-11-02-2026-11-08.csv\""
    );
    assert!(body.contains("\nconversations,9,,\n"), "{body}");
    // For Dutch Excel: a byte-order mark, semicolons and decimal commas.
    let (s, h, body) = get(
        &app,
        &format!("/v1/reports/summary?{WEEK}&format=excel"),
        Some(&editor),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    assert!(
        body.starts_with("\u{feff}metric;value;numerator;denominator\r\n"),
        "{body}"
    );
    assert!(body.contains("\r\nconversations;9;;\r\n"), "{body}");
    assert!(
        body.contains("\r\nanswered_in_one_go;0,4444;4;9\r\n"),
        "{body}"
    );

    // Unanswered: the two "kliko" fallbacks form one group, the clarify its own.
    let (s, _, body) = get(
        &app,
        &format!("/v1/reports/unanswered?{WEEK}"),
        Some(&editor),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["messages"], 3, "{v}");
    assert_eq!(v["groups"][0]["size"], 2, "{v}");
    assert_eq!(
        v["groups"][0]["examples"],
        serde_json::json!(["mijn kliko is gestolen"])
    );
    assert_eq!(v["groups"][0]["fallback"], 2);
    assert_eq!(v["groups"][0]["intent"], "afvalkalender");
    assert_eq!(v["groups"][0]["first_seen"], "2026-11-04T10:00:00.000Z");
    assert_eq!(v["groups"][0]["last_seen"], "2026-11-08T12:00:00.000Z");
    assert_eq!(
        v["groups"][1]["examples"][0],
        "ik wil iets met mijn rijbewijs"
    );
    let (s, h, body) = get(
        &app,
        &format!("/v1/reports/unanswered?{WEEK}&format=csv"),
        Some(&editor),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "text/csv; charset=utf-8");
    assert!(body.starts_with("rank,size,intent,"), "{body}");
    assert!(body.contains("\n1,2,afvalkalender,1,2,0,0,"), "{body}");

    // Validation.
    for (query, needle) in [
        ("from=2026-11-08&to=2026-11-02", "after"),
        ("from=8-11-2026", "YYYY-MM-DD"),
        ("from=2026-11-01&to=2026-13-01", "YYYY-MM-DD"),
        ("channel=fax", "web or whatsapp"),
        ("department=sport", "burgerzaken"),
        ("format=xml", "csv"),
    ] {
        let (s, _, body) = get(&app, &format!("/v1/reports/summary?{query}"), Some(&editor)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert!(body.contains(needle), "{query}: {body}");
    }
    // Without dates: the last 30 days (the seeded week may or may not be in it).
    let (s, _, body) = get(&app, "/v1/reports/summary", Some(&editor)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["per_day"].as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn reports_dashboard_is_served_with_a_strict_content_security_policy() {
    let app = TestApp::spawn(Content::Fixture, false).await;
    for (path, ty) in [
        ("/dashboard", "text/html; charset=utf-8"),
        ("/dashboard/dashboard.js", "text/javascript; charset=utf-8"),
        ("/dashboard/dashboard.css", "text/css; charset=utf-8"),
        ("/dashboard/favicon.svg", "image/svg+xml"),
    ] {
        let (s, h, body) = get(&app, path, None).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(h["content-type"], ty);
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("default-src 'self'")
        );
        assert!(!body.is_empty());
        if path == "/dashboard" {
            assert!(!body.contains("<script>"), "no inline scripts");
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "no external resources"
            );
            assert!(!body.contains(" style=\""), "no inline styles");
        }
    }
}

/// The target directory, for the screenshot.
fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::helpers::root().join("target"))
}

async fn chromium(args: &[String]) -> (String, String) {
    let out = tokio::process::Command::new("/usr/bin/chromium")
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run chromium");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Chromium logs every console message at level INFO (`INFO:CONSOLE`), `console.error`
/// and uncaught exceptions included, so the level cannot tell them apart: the dashboard
/// logs nothing itself, and any console line (also Chromium's own hints and CSP
/// violations) fails the test.
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
                || l.contains("Refused to")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_dashboard_renders_the_seeded_week_in_headless_chromium() {
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        eprintln!("skipped: /usr/bin/chromium is not installed");
        return;
    }
    let app = TestApp::spawn(Content::Bundled, false).await;
    seed(&app.store).await;
    let (_, key) = app
        .store
        .create_key("teamleider", &[Scope::Editor])
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let url = format!("http://{addr}/dashboard#key={key}&{WEEK}");
    let profile = tempfile::tempdir().unwrap();
    let shots = target_dir().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let common = |extra: &str| -> Vec<String> {
        vec![
            "--headless=new".into(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--hide-scrollbars".into(),
            "--lang=nl-NL".into(),
            format!("--user-data-dir={}", profile.path().display()),
            "--window-size=1280,2000".into(),
            "--virtual-time-budget=8000".into(),
            "--enable-logging=stderr".into(),
            "--v=0".into(),
            extra.into(),
            url.clone(),
        ]
    };

    let (dom, stderr) = chromium(&common("--dump-dom")).await;
    let errors = console_errors(&stderr);
    assert!(errors.is_empty(), "console errors:\n{}", errors.join("\n"));
    // The tiles.
    for (metric, value) in [
        ("conversations", ">9<"),
        ("citizen_messages", ">14<"),
        ("answered_in_one_go", ">44%<"),
        ("conversations_handed_off", ">22%<"),
        ("fallback_rate", ">15%<"),
        ("privacy_redirects", ">1<"),
        ("bot_response_ms", ">90 ms<"),
        ("within_promise", ">100%<"),
    ] {
        let at = dom
            .find(&format!("data-metric=\"{metric}\""))
            .unwrap_or_else(|| panic!("no tile {metric} in\n{dom}"));
        let tile: String = dom[at..].chars().take(400).collect();
        assert!(
            tile.contains(value),
            "tile {metric} should show {value}: {tile}"
        );
    }
    assert!(dom.contains("4 van 9 gesprekken"), "{dom}");
    // The bar chart per day, the heat map and the top lists.
    for (date, n) in [
        ("02", 2),
        ("03", 2),
        ("04", 1),
        ("05", 1),
        ("06", 1),
        ("07", 1),
        ("08", 1),
    ] {
        let needle = format!("data-date=\"2026-11-{date}\" data-value=\"{n}\"");
        assert!(dom.contains(&needle), "missing {needle}");
    }
    assert!(
        dom.contains("data-day=\"2\" data-hour=\"11\" data-value=\"3\""),
        "heat map"
    );
    assert!(
        dom.contains("data-key=\"afvalkalender\" data-value=\"3\""),
        "top intents"
    );
    assert!(
        dom.contains("data-key=\"afval-papier\" data-value=\"2\""),
        "top FAQ"
    );
    // The unanswered groups.
    assert!(dom.contains("<tr data-size=\"2\">"), "unanswered table");
    assert!(dom.contains("mijn kliko is gestolen"));
    // The key left the address bar and is not in the page.
    assert!(!dom.contains(&key), "the key must not be rendered");

    let (_, stderr) = chromium(&common(&format!("--screenshot={}", shot.display()))).await;
    let errors = console_errors(&stderr);
    assert!(errors.is_empty(), "console errors:\n{}", errors.join("\n"));
    assert!(shot.exists(), "no screenshot: {stderr}");
    eprintln!("screenshot: {}", shot.display());
    // The whole page, for people reviewing the layout.
    let full = shots.join("dashboard-full.png");
    let mut args = common(&format!("--screenshot={}", full.display()));
    for a in args.iter_mut().filter(|a| a.starts_with("--window-size=")) {
        *a = "--window-size=1280,2900".into();
    }
    let (_, stderr) = chromium(&args).await;
    assert!(console_errors(&stderr).is_empty(), "{stderr}");

    // A key without the editor scope: the page asks for another key and says why.
    let (_, agent) = app.store.create_key("kcc", &[Scope::Agent]).await.unwrap();
    let mut args = common("--dump-dom");
    *args.last_mut().unwrap() = format!("http://{addr}/dashboard#key={agent}&{WEEK}");
    let (dom, stderr) = chromium(&args).await;
    let errors = console_errors(&stderr);
    // The 403 itself is logged by Chromium as a failed resource load; nothing else may be.
    let errors: Vec<_> = errors
        .into_iter()
        .filter(|l| !l.contains("status of 403"))
        .collect();
    assert!(errors.is_empty(), "console errors:\n{}", errors.join("\n"));
    assert!(
        dom.contains("<section id=\"login\" class=\"card login\">"),
        "{dom}"
    );
    assert!(dom.contains("rechten \"editor\" nodig"), "{dom}");
    server.abort();
}
