//! One Loket for several municipalities: each answers from its own content through the web
//! chat API and through WhatsApp (routed by the number written to), replies leave from the
//! municipality's own number, a conversation of one cannot be continued through another,
//! and each municipality's web chat page shows its own name and colours.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use loket::channels::whatsapp::fake::FakeGraph;
use loket::channels::whatsapp::webhook::{deliver_webhook, inbound_text_payload};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::handoff::Receiver;
use crate::helpers::{Content, config, copy_dir, root};
use crate::server::{Server, eventually};
use loket::store::Store as _;
use loket::store::keys::Scope;

const SECRET: &[u8] = b"test-app-secret";

/// The three bundled municipalities (a copy of `knowledge-base/`, the national library
/// with them): `voorbeeld` (the default, WhatsApp number 111), `zeestad` (222) and
/// `heidedorp` (333), each with its own facts (passport prices below), switched-off library
/// entries and look. Only the numbers are added: Meta gives them.
pub fn three_municipalities(dir: &Path) -> (PathBuf, PathBuf) {
    let first = dir.join("knowledge-base");
    copy_dir(&root().join("knowledge-base"), &first);
    let more = first.join("gemeenten");
    for (folder, number) in [
        (first.clone(), "111"),
        (more.join("zeestad"), "222"),
        (more.join("heidedorp"), "333"),
    ] {
        let settings = folder.join("municipality.toml");
        let text = std::fs::read_to_string(&settings).unwrap();
        std::fs::write(
            &settings,
            format!("whatsapp_phone_number_id = \"{number}\"\n{text}"),
        )
        .unwrap();
    }
    (first, more)
}

/// Each bundled municipality's passport price for an adult (from its facts.toml).
const PRICES: [(&str, &str, &str); 3] = [
    ("voorbeeld", "111", "€ 84,00"),
    ("zeestad", "222", "€ 85,20"),
    ("heidedorp", "333", "€ 83,90"),
];

/// The three municipalities built in-process, without background loops; the directories
/// live as long as the returned guard.
async fn three_municipalities_app() -> (loket::app::App, [tempfile::TempDir; 2]) {
    let content = tempfile::tempdir().unwrap();
    let (first, more) = three_municipalities(content.path());
    let data = tempfile::tempdir().unwrap();
    let mut cfg = config(Content::Bundled, false, data.path());
    cfg.paths.knowledge_base = first;
    cfg.paths.municipalities = Some(more);
    let app = loket::app::Builder::new(cfg)
        .without_background()
        .without_watch()
        .build()
        .await
        .unwrap();
    (app, [content, data])
}

async fn start(fake: &FakeGraph) -> (Server, tempfile::TempDir) {
    start_with(fake, |_| {}).await
}

async fn start_with(
    fake: &FakeGraph,
    more_config: impl FnOnce(&mut loket::config::Config),
) -> (Server, tempfile::TempDir) {
    let content = tempfile::tempdir().unwrap();
    let (first, more) = three_municipalities(content.path());
    let base = fake.base_url();
    let s = Server::start(move |c| {
        more_config(c);
        c.paths.knowledge_base = first;
        c.paths.municipalities = Some(more);
        c.whatsapp.enabled = true;
        c.whatsapp.app_secret = loket::config::Secret::new("test-app-secret");
        c.whatsapp.verify_token = loket::config::Secret::new("verify-me");
        c.whatsapp.access_token = loket::config::Secret::new("test-token");
        c.whatsapp.base_url = base;
        c.whatsapp.phone_number_id = "111".into();
    })
    .await;
    (s, content)
}

async fn post(s: &Server, body: Value) -> (u16, Value) {
    let resp = crate::server::client()
        .post(format!("http://{}/v1/messages", s.addr))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn three_municipalities_answer_with_their_own_prices_on_the_web_and_on_whatsapp() {
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    let (s, _content) = start(&fake).await;
    let url = format!("http://{}", s.addr);
    for (slug, number, price) in PRICES {
        // The web chat names its municipality in the body (none: the default one).
        let mut body =
            json!({"conversation_id": format!("web-{number}"), "text": "Wat kost een paspoort?"});
        if slug != "voorbeeld" {
            body["municipality"] = json!(slug);
        }
        let (status, v) = post(&s, body).await;
        assert_eq!(status, 200, "{v}");
        let text = v["reply"]["text"].as_str().unwrap();
        assert!(text.contains(price), "{slug:?}: {text}");

        // WhatsApp: the same citizen writes to each number and gets each one's answer, from
        // that number.
        let wa = inbound_text_payload(
            number,
            "31612345678",
            "Jan",
            &format!("wamid.{number}"),
            "Wat kost een paspoort?",
            chrono::Utc::now().timestamp(),
        );
        assert_eq!(
            deliver_webhook(&url, SECRET, &wa).await.unwrap().as_u16(),
            200
        );
        let sent = eventually(20, "the reply", || {
            let r: Vec<_> = fake
                .received()
                .into_iter()
                .filter(|r| r.path.contains(&format!("/{number}/messages")))
                .filter(|r| r.body["type"] != "read" && r.body.get("status").is_none())
                .collect();
            async move { (!r.is_empty()).then_some(r) }
        })
        .await;
        let all = sent.iter().map(|r| r.body.to_string()).collect::<String>();
        assert!(all.contains(price), "{number}: {all}");
        for (_, other, other_price) in PRICES {
            if other != number {
                assert!(
                    !all.contains(other_price),
                    "{number} answered with {other}'s price: {all}"
                );
            }
        }
    }
    // Three conversations for one WhatsApp number: one per municipality written to.
    let convs: Vec<(String, String)> = sqlx::query_as(
        "SELECT municipality, id FROM conversations WHERE channel = 'whatsapp' ORDER BY municipality",
    )
    .fetch_all(s.store.pool())
    .await
    .unwrap();
    let places: Vec<&str> = convs.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(places, ["heidedorp", "voorbeeld", "zeestad"], "{convs:?}");
}

/// A national entry a municipality switched off (`library_off`) is never its answer nor
/// one of its options, whatever the citizen asks: every example question and the title of
/// each switched-off entry, through the web chat API. Gemeente Voorbeeld, which serves the
/// whole library, answers some of the same questions with it.
#[tokio::test]
async fn a_switched_off_national_entry_is_never_answered_there() {
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    // Many questions from one address: more than one citizen may send.
    let (s, content) = start_with(&fake, |c| c.server.client_messages_per_minute = 10_000).await;
    let kb_dir = content.path().join("knowledge-base");
    let library = loket::knowledge::load(
        &kb_dir,
        &root().join("intents"),
        chrono::Utc::now().date_naive(),
    )
    .kb
    .unwrap();
    let mut asked = 0;
    let mut found_at_voorbeeld = std::collections::BTreeSet::new();
    for slug in ["zeestad", "heidedorp"] {
        let settings: toml::Table = std::fs::read_to_string(
            kb_dir
                .join("gemeenten")
                .join(slug)
                .join("municipality.toml"),
        )
        .unwrap()
        .parse()
        .unwrap();
        let off: Vec<&str> = settings["library_off"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(!off.is_empty(), "{slug} switches nothing off");
        for id in &off {
            let entry = library.entry(id).unwrap();
            for (k, q) in std::iter::once(&entry.title)
                .chain(&entry.questions)
                .enumerate()
            {
                for place in [slug, "voorbeeld"] {
                    let (status, v) = post(
                        &s,
                        json!({"conversation_id": format!("off-{place}-{id}-{k}"),
                               "municipality": place, "text": q}),
                    )
                    .await;
                    assert_eq!(status, 200, "{v}");
                    let options: Vec<&str> = v["reply"]["options"]
                        .as_array()
                        .map(|o| o.iter().filter_map(|o| o["id"].as_str()).collect())
                        .unwrap_or_default();
                    if place == "voorbeeld" {
                        if v["faq_id"] == json!(id) || options.contains(id) {
                            found_at_voorbeeld.insert(id.to_string());
                        }
                        continue;
                    }
                    asked += 1;
                    assert_ne!(
                        v["faq_id"],
                        json!(id),
                        "{slug} answered {q:?} with {id}: {v}"
                    );
                    assert!(!options.contains(id), "{slug} offered {id} for {q:?}: {v}");
                }
            }
        }
    }
    assert!(asked >= 10, "only {asked} questions asked");
    assert!(
        found_at_voorbeeld.len() >= 2,
        "Voorbeeld should answer these questions with its library entries: {found_at_voorbeeld:?}"
    );
}

#[tokio::test]
async fn a_conversation_of_one_municipality_cannot_be_continued_through_another() {
    let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
    let (s, _content) = start(&fake).await;
    let (status, _) = post(
        &s,
        json!({"conversation_id": "mine", "municipality": "zeestad", "text": "Wat kost een paspoort?"}),
    )
    .await;
    assert_eq!(status, 200);
    // The same id through another municipality reads as a conversation that does not exist.
    let (status, v) = post(
        &s,
        json!({"conversation_id": "mine", "municipality": "heidedorp", "text": "En een ID-kaart?"}),
    )
    .await;
    assert_eq!(status, 404, "{v}");
    // An unknown municipality is named in the error; nothing is stored for it.
    let (status, v) = post(
        &s,
        json!({"conversation_id": "x", "municipality": "nergens", "text": "Hallo"}),
    )
    .await;
    assert_eq!(status, 404, "{v}");
    assert!(v.to_string().contains("nergens"), "{v}");
    // A message to a number no municipality has is acknowledged (Meta must not retry it)
    // but not answered.
    let url = format!("http://{}", s.addr);
    let wa = inbound_text_payload(
        "999",
        "31600000000",
        "Piet",
        "wamid.x",
        "Hallo",
        chrono::Utc::now().timestamp(),
    );
    assert_eq!(
        deliver_webhook(&url, SECRET, &wa).await.unwrap().as_u16(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(fake.replies_to("31600000000").is_empty());
}

#[tokio::test]
async fn each_municipality_has_its_page_and_look_and_the_single_deployment_is_unchanged() {
    let (app, _dirs) = three_municipalities_app().await;
    let get = |path: &str| {
        let router = app.router.clone();
        let req = Request::get(path).body(Body::empty()).unwrap();
        async move {
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let (status, page) = get("/gemeenten/zeestad").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Gemeente Zeestad") && page.contains("data-gemeente=\"zeestad\""));
    let (status, css) = get("/chat/look/zeestad.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains("--loket-accent: #0b5394"), "{css}");
    assert_eq!(get("/gemeenten/nergens").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get("/chat/look/nergens.css").await.0, StatusCode::NOT_FOUND);
    let (_, ready) = get("/readyz").await;
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(
        ready["municipalities"].as_array().map(Vec::len),
        Some(3),
        "{ready}"
    );

    // One municipality, as before: the page names no municipality and adds no look.
    let single = crate::helpers::TestApp::spawn(Content::Bundled, false).await;
    let resp = single
        .router
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let page = String::from_utf8_lossy(&bytes);
    assert!(
        !page.contains("data-gemeente") && !page.contains("{{"),
        "{page}"
    );
}

/// The three municipalities on `database_url` (empty: a fresh SQLite file), each of the
/// other two with its own webcare platform.
async fn isolated(database_url: Option<String>) -> (Server, tempfile::TempDir, Receiver, Receiver) {
    let content = tempfile::tempdir().unwrap();
    let (first, more) = three_municipalities(content.path());
    let (zee, zee_hook) = Receiver::start(0).await;
    let (heide, heide_hook) = Receiver::start(0).await;
    let s = Server::start(move |c| {
        c.paths.knowledge_base = first;
        c.paths.municipalities = Some(more);
        if let Some(url) = database_url {
            c.database.url = loket::config::Secret::new(url);
        }
        for (slug, url, secret) in [
            ("zeestad", zee_hook, "zee-secret"),
            ("heidedorp", heide_hook, "heide-secret"),
        ] {
            c.handoff.municipalities.insert(
                slug.into(),
                loket::config::PlatformTarget {
                    webhook_url: url,
                    webhook_secret: loket::config::Secret::new(secret),
                },
            );
        }
    })
    .await;
    (s, content, zee, heide)
}

async fn key_for(s: &Server, scopes: &[Scope], municipalities: &[&str]) -> String {
    let m: Vec<String> = municipalities.iter().map(|m| m.to_string()).collect();
    s.store.create_key_for("test", scopes, &m).await.unwrap().1
}

async fn say_in(s: &Server, municipality: &str, conversation: &str, text: &str) {
    let (status, v) = post(
        s,
        json!({"conversation_id": conversation, "municipality": municipality, "text": text}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
}

/// Every request of a key of Zeestad about Heidedorp is refused as if Heidedorp's
/// conversation did not exist, and each platform hears only its own municipality.
async fn every_cross_municipality_request_is_denied(database_url: Option<String>) {
    let (s, _content, zee_platform, heide_platform) = isolated(database_url).await;
    say_in(&s, "zeestad", "zee-1", "Ik wil een medewerker spreken").await;
    say_in(&s, "heidedorp", "heide-1", "Ik wil een medewerker spreken").await;
    let zee = key_for(&s, &[Scope::Agent, Scope::Editor], &["zeestad"]).await;
    let supplier = key_for(&s, &[Scope::Agent], &[]).await;

    // The queue: only the key's own municipality, also when another is asked for.
    let ids = |v: &Value| -> Vec<String> {
        v["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["conversation_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, q) = s
        .get_as(&zee, "/v1/handoffs?status=waiting,assigned,bot")
        .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(ids(&q), ["zee-1"], "{q}");
    let (_, q) = s.get_as(&zee, "/v1/handoffs?municipality=heidedorp").await;
    assert!(ids(&q).is_empty(), "{q}");
    let (_, q) = s
        .get_as(&supplier, "/v1/handoffs?status=waiting,assigned,bot")
        .await;
    assert_eq!(ids(&q).len(), 2, "{q}");
    assert!(
        q.to_string().contains("\"municipality\":\"heidedorp\""),
        "{q}"
    );

    // Read, claim, reply, note, transfer, resolve, release: all 404 on the other's.
    let (status, _) = s.get_as(&zee, "/v1/conversations/heide-1").await;
    assert_eq!(status, 404);
    for (action, body) in [
        ("claim", json!({"agent_id": "anna"})),
        ("reply", json!({"agent_id": "anna", "text": "Hallo"})),
        ("notes", json!({"agent_id": "anna", "text": "notitie"})),
        ("transfer", json!({"department": "kcc"})),
        ("resolve", Value::Null),
        ("release", Value::Null),
    ] {
        let (status, v) = s.act(&zee, "heide-1", action, body).await;
        assert_eq!(status, 404, "{action}: {v}");
    }
    let (status, detail) = s.get_as(&supplier, "/v1/conversations/heide-1").await;
    assert_eq!(status, 200);
    assert_eq!(detail["status"], "waiting", "untouched: {detail}");
    let (status, v) = s
        .act(&zee, "zee-1", "claim", json!({"agent_id": "anna"}))
        .await;
    assert_eq!(status, 200, "{v}");

    // Reports and the editors' endpoints of the other municipality do not exist for it.
    let (status, summary) = s.get_as(&zee, "/v1/reports/summary").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["municipality"], "Gemeente Zeestad");
    assert_eq!(summary["totals"]["conversations"], 1, "{summary}");
    for path in [
        "/v1/reports/summary?municipality=heidedorp",
        "/v1/reports/unanswered?municipality=heidedorp",
        "/v1/admin/content?municipality=heidedorp",
    ] {
        assert_eq!(s.get_as(&zee, path).await.0, 404, "{path}");
    }
    let (status, _) = s
        .post_as(&zee, "/v1/admin/reload?municipality=heidedorp", Value::Null)
        .await;
    assert_eq!(status, 404);

    // Each platform hears of its own municipality's conversations only, signed with its
    // own secret.
    for (platform, own, secret) in [
        (&zee_platform, "zee-1", "zee-secret"),
        (&heide_platform, "heide-1", "heide-secret"),
    ] {
        let events = eventually(20, "the platform's events", || {
            let e = platform.events();
            async move { (!e.is_empty()).then_some(e) }
        })
        .await;
        for (_, _, ts, sig, body, _) in &events {
            assert_eq!(body["conversation_id"], own, "{body}");
            let expected = loket::channels::platform::signature(
                secret.as_bytes(),
                ts.parse().unwrap(),
                &body.to_string(),
            );
            assert_eq!(sig, &expected);
        }
    }

    // The archive: each municipality exports its own conversations, and purges by its own
    // retention.
    let out = tempfile::tempdir().unwrap();
    let today = chrono::Utc::now().date_naive();
    let opts = loket::archive::ExportOptions {
        from: today - chrono::Duration::days(1),
        to: today + chrono::Duration::days(1),
        out: out.path().join("zeestad"),
        force: false,
        klantinteracties: false,
        municipality: "Gemeente Zeestad".into(),
        departments: Default::default(),
        actor: "test".into(),
        slug: Some("zeestad".into()),
    };
    let r = loket::archive::export(&s.store, &opts, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(r.conversations, 1, "{r:?}");
    say_in(&s, "heidedorp", "heide-2", "Wat kost een paspoort?").await;
    say_in(&s, "zeestad", "zee-2", "Wat kost een paspoort?").await;
    let purge = loket::archive::PurgeOptions {
        retention_days: 1,
        dry_run: false,
        actor: "test".into(),
        municipality: Some("heidedorp".into()),
    };
    let later = chrono::Utc::now() + chrono::Duration::days(3);
    let r = loket::archive::purge(&s.store, &purge, later)
        .await
        .unwrap();
    assert_eq!(
        r.conversations, 1,
        "only heide-2 (heide-1 waits for a person): {r:?}"
    );
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM conversations ORDER BY id")
        .fetch_all(s.store.pool())
        .await
        .unwrap();
    assert_eq!(left, ["heide-1", "zee-1", "zee-2"]);

    // Metrics name the municipality of each reply.
    let metrics = crate::server::client()
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("municipality=\"zeestad\""), "{metrics}");
}

#[tokio::test]
async fn every_cross_municipality_request_is_denied_on_sqlite() {
    every_cross_municipality_request_is_denied(None).await;
}

#[tokio::test]
async fn every_cross_municipality_request_is_denied_on_postgres() {
    let pg = crate::pg::temp_postgres().await;
    every_cross_municipality_request_is_denied(Some(pg.url.clone())).await;
}

/// Two instances on one PostgreSQL share a number's rate: in one second, together, they take
/// no more sends than the number allows (each instance's own limiter would allow that many
/// alone); another number and the next second have their own.
#[tokio::test]
async fn instances_on_one_postgres_share_each_numbers_send_rate() {
    let pg = crate::pg::temp_postgres().await;
    let a = loket::store::SqlStore::connect(&pg.url, 4).await.unwrap();
    let b = loket::store::SqlStore::connect(&pg.url, 4).await.unwrap();
    let second = chrono::Utc::now().timestamp();
    let mut taken = 0;
    for i in 0..12 {
        let store = if i % 2 == 0 { &a } else { &b };
        if store.take_send_slot("111", second, 5).await.unwrap() {
            taken += 1;
        }
    }
    assert_eq!(taken, 5);
    assert!(a.take_send_slot("222", second, 5).await.unwrap());
    assert!(b.take_send_slot("111", second + 1, 5).await.unwrap());
    a.close().await;
    b.close().await;
}

/// The web chat in headless Chromium: each municipality's page shows its name and colours,
/// and the widget answers with that municipality's content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_municipalitys_web_chat_shows_its_name_and_colours_in_a_browser() {
    let (app, _dirs) = three_municipalities_app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let wait = std::time::Duration::from_secs(20);
    let browser = crate::cdp::Browser::launch(1000, 1000).await;
    for (slug, name, rgb, price) in [
        ("zeestad", "Gemeente Zeestad", "rgb(11, 83, 148)", "€ 85,20"),
        (
            "heidedorp",
            "Gemeente Heidedorp",
            "rgb(107, 44, 145)",
            "€ 83,90",
        ),
    ] {
        browser.navigate(&format!("{base}/gemeenten/{slug}")).await;
        browser
            .wait_for("document.querySelector('.loket-chat__input')", wait)
            .await;
        let header = "document.querySelector('.loket-chat__header')";
        browser
            .wait_for(
                &format!("getComputedStyle({header}).backgroundColor === '{rgb}'"),
                wait,
            )
            .await;
        let title = browser
            .eval("document.querySelector('.loket-chat__title').textContent")
            .await;
        assert_eq!(title, json!(name));
        let page = browser
            .eval("getComputedStyle(document.querySelector('.loket-page__header')).backgroundColor")
            .await;
        assert_eq!(
            page,
            json!(rgb),
            "{slug}: the page header takes the colour too"
        );
        browser
            .type_text(".loket-chat__input", "Wat kost een paspoort?")
            .await;
        browser.press_enter().await;
        browser
            .wait_for(
                &format!(
                    "document.querySelector('.loket-chat__log').textContent.includes('{price}')"
                ),
                wait,
            )
            .await;
    }
    assert!(
        browser.console_errors().is_empty(),
        "{:?}",
        browser.console_errors()
    );
}
