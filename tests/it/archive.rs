//! `loket archive`: export, verify and purge on a store seeded with fixed timestamps, on
//! SQLite and on PostgreSQL.
//!
//! The export day is 1 November 2026 in Europe/Amsterdam (winter time, UTC+1), so it runs
//! from 2026-10-31T23:00Z up to 2026-11-01T23:00Z.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use loket::archive::{self, ExportOptions, PurgeOptions};
use loket::store::{SqlStore, Store};
use sqlx::Row;

const PHONE: &str = "31612345678";
const OTHER_PHONE: &str = "31687654321";
const SCRIPT: &str = "<script>alert(1)</script> & \"quotes\"";

async fn exec(store: &SqlStore, sql: &str, args: &[Option<&str>]) {
    let mut q = sqlx::query(sql);
    for a in args {
        q = q.bind(a.map(str::to_string));
    }
    q.execute(store.pool()).await.unwrap();
}

async fn conversation(
    store: &SqlStore,
    id: &str,
    channel: &str,
    status: &str,
    contact: Option<&str>,
    updated_at: &str,
) {
    exec(
        store,
        "INSERT INTO conversations (id, channel, status, department, context, created_at, updated_at, contact_id) \
         VALUES ($1, $2, $3, $4, '{}', $5, $5, $6)",
        &[
            Some(id),
            Some(channel),
            Some(status),
            (status != "bot").then_some("burgerzaken"),
            Some(updated_at),
            contact,
        ],
    )
    .await;
}

#[allow(clippy::too_many_arguments)]
async fn message(
    store: &SqlStore,
    conversation: &str,
    sender: &str,
    text: &str,
    pii: &str,
    intent: Option<&str>,
    faq: Option<&str>,
    at: &str,
) {
    let direction = if sender == "citizen" { "in" } else { "out" };
    let action = match sender {
        "bot" => Some("answer"),
        _ => None,
    };
    exec(
        store,
        "INSERT INTO messages (conversation_id, direction, sender, agent_id, channel, kind, text, pii, \
         intent, action, confidence, faq_id, status, created_at, external_id, meta) \
         VALUES ($1, $2, $3, $4, 'whatsapp', 'text', $5, $6, $7, $8, CAST($9 AS DOUBLE PRECISION), $10, $11, $12, $13, $14)",
        &[
            Some(conversation),
            Some(direction),
            Some(sender),
            (sender == "agent").then_some("mdw-17"),
            Some(text),
            Some(pii),
            intent,
            action,
            (sender == "bot").then_some("0.91"),
            faq,
            (direction == "out").then_some("delivered"),
            Some(at),
            // A WhatsApp message id encodes the phone number: it must not be exported.
            Some(&format!("wamid.{PHONE}.{at}")),
            Some(r#"{"mime_type":"text/plain","filename":"31612345678.txt"}"#),
        ],
    )
    .await;
}

async fn contact(store: &SqlStore, id: &str, address: &str, conversation: Option<&str>, at: &str) {
    exec(
        store,
        "INSERT INTO contacts (id, channel, address, conversation_id, last_inbound_at, created_at, updated_at) \
         VALUES ($1, 'whatsapp', $2, $3, $4, $4, $4)",
        &[Some(id), Some(address), conversation, Some(at)],
    )
    .await;
}

/// Conversations across several days:
/// - `c-oct31` 23:30 local on 31 Oct (outside the export day);
/// - `c-nov1-early` 00:30 local on 1 Nov: BSN, HTML-special text, handoff, note, contact;
/// - `c-nov1-late` 23:59:59 local on 1 Nov (web chat);
/// - `c-nov2` 00:00 local on 2 Nov (outside);
/// - `c-sep`, `c-sep-waiting`, `c-sep-claimed`: September, for the purge.
async fn seed(store: &SqlStore) {
    contact(
        store,
        "k-a",
        PHONE,
        Some("c-nov1-early"),
        "2026-10-31T23:10:00.000Z",
    )
    .await;
    contact(
        store,
        "k-b",
        OTHER_PHONE,
        Some("c-sep"),
        "2026-09-01T10:00:00.000Z",
    )
    .await;
    contact(
        store,
        "k-orphan",
        "31600000001",
        None,
        "2026-08-01T10:00:00.000Z",
    )
    .await;
    contact(
        store,
        "k-waiting",
        "31600000002",
        Some("c-sep-waiting"),
        "2026-09-02T10:00:00.000Z",
    )
    .await;

    conversation(
        store,
        "c-oct31",
        "whatsapp",
        "bot",
        None,
        "2026-10-31T22:30:00.000Z",
    )
    .await;
    message(
        store,
        "c-oct31",
        "citizen",
        "openingstijden?",
        "",
        Some("openingstijden"),
        None,
        "2026-10-31T22:29:00.000Z",
    )
    .await;
    message(
        store,
        "c-oct31",
        "bot",
        "Wij zijn open van 9 tot 17 uur.",
        "",
        Some("openingstijden"),
        Some("openingstijden-stadhuis"),
        "2026-10-31T22:30:00.000Z",
    )
    .await;

    conversation(
        store,
        "c-nov1-early",
        "whatsapp",
        "resolved",
        Some("k-a"),
        "2026-10-31T23:30:00.000Z",
    )
    .await;
    message(
        store,
        "c-nov1-early",
        "citizen",
        "Mijn BSN is [BSN], wat kost een paspoort?",
        "bsn",
        Some("paspoort"),
        None,
        "2026-10-31T23:10:00.000Z",
    )
    .await;
    message(
        store,
        "c-nov1-early",
        "bot",
        "Een paspoort kost € 84,60.",
        "",
        Some("paspoort"),
        Some("paspoort-kosten"),
        "2026-10-31T23:10:01.000Z",
    )
    .await;
    message(
        store,
        "c-nov1-early",
        "citizen",
        SCRIPT,
        "",
        None,
        None,
        "2026-10-31T23:12:00.000Z",
    )
    .await;
    message(
        store,
        "c-nov1-early",
        "agent",
        "Ik help u verder met uw aanvraag.",
        "",
        None,
        None,
        "2026-10-31T23:25:00.000Z",
    )
    .await;
    exec(
        store,
        "INSERT INTO handoffs (conversation_id, department, reason, status, agent_id, created_at, claimed_at, first_reply_at, resolved_at) \
         VALUES ('c-nov1-early', 'burgerzaken', 'medewerker gevraagd', 'resolved', 'mdw-17', $1, $2, $3, $4)",
        &[
            Some("2026-10-31T23:12:01.000Z"),
            Some("2026-10-31T23:20:00.000Z"),
            Some("2026-10-31T23:25:00.000Z"),
            Some("2026-10-31T23:30:00.000Z"),
        ],
    )
    .await;
    // Agents' notes are free text: the citizen's number typed by hand must not leave either.
    exec(
        store,
        "INSERT INTO notes (conversation_id, agent_id, text, created_at) VALUES ('c-nov1-early', 'mdw-17', $1, $2)",
        &[Some("Terugbellen op 0612345678 <b>na 14:00</b>"), Some("2026-10-31T23:21:00.000Z")],
    )
    .await;

    conversation(
        store,
        "c-nov1-late",
        "web",
        "bot",
        None,
        "2026-11-01T22:59:59.000Z",
    )
    .await;
    message(
        store,
        "c-nov1-late",
        "citizen",
        "afval ophalen",
        "",
        Some("afval"),
        None,
        "2026-11-01T22:59:58.000Z",
    )
    .await;
    message(
        store,
        "c-nov1-late",
        "bot",
        "De afvalkalender vindt u op de website.",
        "",
        Some("afval"),
        Some("afvalkalender"),
        "2026-11-01T22:59:59.000Z",
    )
    .await;

    conversation(
        store,
        "c-nov2",
        "whatsapp",
        "bot",
        None,
        "2026-11-01T23:00:00.000Z",
    )
    .await;
    message(
        store,
        "c-nov2",
        "citizen",
        "hallo",
        "",
        None,
        None,
        "2026-11-01T23:00:00.000Z",
    )
    .await;

    conversation(
        store,
        "c-sep",
        "whatsapp",
        "resolved",
        Some("k-b"),
        "2026-09-01T10:05:00.000Z",
    )
    .await;
    message(
        store,
        "c-sep",
        "citizen",
        "verhuizing doorgeven",
        "",
        Some("verhuizen"),
        None,
        "2026-09-01T10:00:00.000Z",
    )
    .await;
    message(
        store,
        "c-sep",
        "bot",
        "Dat kan via Mijn Loket.",
        "",
        Some("verhuizen"),
        Some("verhuizing"),
        "2026-09-01T10:00:01.000Z",
    )
    .await;
    exec(
        store,
        "INSERT INTO handoffs (conversation_id, department, reason, status, created_at, resolved_at) \
         VALUES ('c-sep', 'burgerzaken', 'vraag', 'resolved', $1, $1)",
        &[Some("2026-09-01T10:01:00.000Z")],
    )
    .await;
    exec(
        store,
        "INSERT INTO notes (conversation_id, agent_id, text, created_at) VALUES ('c-sep', 'mdw-3', 'afgehandeld', $1)",
        &[Some("2026-09-01T10:04:00.000Z")],
    )
    .await;
    exec(
        store,
        "INSERT INTO outbox (dedup_key, conversation_id, contact_id, channel, kind, body, status, next_attempt_at, created_at) \
         VALUES ('d-sep', 'c-sep', 'k-b', 'whatsapp', 'text', 'Dat kan via Mijn Loket.', 'sent', $1, $1)",
        &[Some("2026-09-01T10:00:01.000Z")],
    )
    .await;
    exec(
        store,
        "INSERT INTO inbox (channel, external_id, contact_id, payload, status, received_at, created_at) \
         VALUES ('whatsapp', 'wamid.sep', 'k-b', '{\"from\":\"31687654321\"}', 'done', $1, $1)",
        &[Some("2026-09-01T10:00:00.000Z")],
    )
    .await;

    // Expired too, but a person still has to act: never deleted.
    conversation(
        store,
        "c-sep-waiting",
        "whatsapp",
        "waiting",
        Some("k-waiting"),
        "2026-09-02T10:00:00.000Z",
    )
    .await;
    message(
        store,
        "c-sep-waiting",
        "citizen",
        "ik wil een medewerker",
        "",
        Some("medewerker"),
        None,
        "2026-09-02T10:00:00.000Z",
    )
    .await;
    conversation(
        store,
        "c-sep-claimed",
        "web",
        "bot",
        None,
        "2026-09-03T10:00:00.000Z",
    )
    .await;
    exec(
        store,
        "INSERT INTO handoffs (conversation_id, department, reason, status, agent_id, created_at) \
         VALUES ('c-sep-claimed', 'burgerzaken', 'vraag', 'assigned', 'mdw-3', $1)",
        &[Some("2026-09-03T10:00:00.000Z")],
    )
    .await;
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn options(out: &Path) -> ExportOptions {
    ExportOptions {
        from: day("2026-11-01"),
        to: day("2026-11-01"),
        out: out.to_path_buf(),
        force: false,
        klantinteracties: true,
        municipality: "Gemeente Voorbeeld".into(),
        departments: HashMap::from([("burgerzaken".to_string(), "Burgerzaken".to_string())]),
        actor: "test".into(),
        slug: None,
    }
}

fn all_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn audit_actions(store: &SqlStore) -> Vec<(String, String)> {
    sqlx::query("SELECT action, detail FROM audit_log ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("action"), r.get("detail")))
        .collect()
}

async fn export_scenario(store: &SqlStore, out: &Path) {
    let report = archive::export(store, &options(out), at("2026-11-02T08:00:00Z"))
        .await
        .unwrap();
    let dir = out.join("2026-11-01_2026-11-01");
    assert_eq!(report.dir, dir);
    assert_eq!(report.conversations, 2);
    assert!(
        report.numbers_replaced >= 1,
        "the note's number was replaced"
    );

    // Exactly the conversations of 1 November (local), with their parts.
    let jsonl = std::fs::read_to_string(dir.join("conversations.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["c-nov1-early", "c-nov1-late"]);
    let early = &lines[0];
    assert_eq!(early["contact_id"], "k-a");
    assert_eq!(early["messages"].as_array().unwrap().len(), 4);
    assert_eq!(early["messages"][0]["pii"], serde_json::json!(["bsn"]));
    assert_eq!(
        early["messages"][0]["text"],
        "Mijn BSN is [BSN], wat kost een paspoort?"
    );
    assert_eq!(early["messages"][1]["faq_id"], "paspoort-kosten");
    assert_eq!(early["messages"][1]["confidence"], 0.91);
    assert_eq!(early["messages"][1]["status"], "delivered");
    assert_eq!(early["messages"][3]["sender"], "agent");
    assert_eq!(early["messages"][2]["text"], SCRIPT);
    assert!(early["messages"][0].get("external_id").is_none());
    assert!(early["messages"][0]["meta"].get("filename").is_none());
    assert_eq!(early["handoffs"][0]["agent_id"], "mdw-17");
    assert_eq!(
        early["notes"][0]["text"],
        "Terugbellen op [TELEFOON] <b>na 14:00</b>"
    );

    // The transcript: escaped, Dutch, local times, markers.
    let html = std::fs::read_to_string(dir.join("transcripts/c-nov1-early.html")).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    assert!(!html.contains("<script"), "no raw script tag");
    assert!(!html.contains("<b>na"), "notes are escaped too");
    assert!(html.contains("Gemeente Voorbeeld"));
    assert!(html.contains("persoonsgegevens verwijderd: BSN"));
    assert!(html.contains(">Inwoner<") && html.contains(">Loket (bot)<"));
    assert!(html.contains("Medewerker mdw-17"));
    assert!(html.contains("Interne notitie"));
    assert!(html.contains("Overdracht"));
    assert!(html.contains("Burgerzaken (burgerzaken)"));
    assert!(html.contains(">00:10:00<"), "23:10Z is 00:10 in Amsterdam");
    assert!(html.contains("@media print"));
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(index.contains("href=\"transcripts/c-nov1-early.html\""));
    assert!(index.contains("href=\"transcripts/c-nov1-late.html\""));
    assert!(!index.contains("c-nov2") && !index.contains("c-oct31"));

    // Klantcontacten: the shape of VNG Klantinteracties.
    let k: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("klantcontacten.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(k.len(), 2);
    assert_eq!(k[0]["kanaal"], "WhatsApp");
    assert!(k[0]["onderwerp"].as_str().unwrap().starts_with("paspoort"));
    assert_eq!(k[0]["plaatsgevondenOp"], "2026-10-31T23:25:00.000Z");
    assert_eq!(k[0]["indicatieContactGelukt"], true);
    assert_eq!(
        k[0]["hadBetrokkenActoren"][0]["soortActor"],
        "geautomatiseerde_actor"
    );
    assert!(
        k[0]["inhoud"]
            .as_str()
            .unwrap()
            .contains("Inwoner: Mijn BSN is [BSN]")
    );

    // The phone numbers appear in no file, in no form.
    for f in all_files(&dir) {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for number in [PHONE, "0612345678", OTHER_PHONE] {
            assert!(!text.contains(number), "{number} in {}", f.display());
        }
    }

    // Manifest and checksums.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["period"]["from"], "2026-11-01");
    assert_eq!(manifest["counts"]["conversations"], 2);
    assert_eq!(manifest["generated_at"], "2026-11-02T08:00:00.000Z");
    assert_eq!(manifest["files"].as_array().unwrap().len(), 5);
    let report = archive::verify(&dir).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.ok.len(), 6);
    if let Ok(out) = std::process::Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&dir)
        .output()
    {
        assert!(
            out.status.success(),
            "sha256sum -c: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The same period again: refused without --force, replaced with it.
    let again = archive::export(store, &options(out), at("2026-11-02T09:00:00Z")).await;
    assert!(
        matches!(again, Err(archive::ArchiveError::Exists(_))),
        "{again:?}"
    );
    let mut forced = options(out);
    forced.force = true;
    forced.klantinteracties = false;
    archive::export(store, &forced, at("2026-11-02T09:00:00Z"))
        .await
        .unwrap();
    assert!(!dir.join("klantcontacten.jsonl").exists());
    assert!(archive::verify(&dir).unwrap().is_ok());
    assert!(
        std::fs::read_dir(out).unwrap().count() == 1,
        "no partial folders left behind"
    );

    // Tampering is found: a changed transcript, a missing file, an added file.
    let transcript = dir.join("transcripts/c-nov1-late.html");
    let mut changed = std::fs::read_to_string(&transcript).unwrap();
    changed = changed.replace("afvalkalender", "afvalkalendar");
    std::fs::write(&transcript, changed).unwrap();
    std::fs::remove_file(dir.join("index.html")).unwrap();
    std::fs::write(dir.join("extra.txt"), "x").unwrap();
    let report = archive::verify(&dir).unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.mismatched, ["transcripts/c-nov1-late.html"]);
    assert_eq!(report.missing, ["index.html"]);
    assert_eq!(report.unexpected, ["extra.txt"]);

    let audit = audit_actions(store).await;
    let exports: Vec<_> = audit
        .iter()
        .filter(|(a, _)| a == "archive.export")
        .collect();
    assert_eq!(exports.len(), 2);
    assert!(exports[0].1.contains("2 conversations"), "{}", exports[0].1);
    assert!(!exports[0].1.contains(PHONE));
}

async fn conversation_ids(store: &SqlStore) -> Vec<String> {
    sqlx::query("SELECT id FROM conversations ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("id"))
        .collect()
}

async fn count(store: &SqlStore, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get::<i64, _>(0)
}

async fn purge_scenario(store: &SqlStore) {
    let before = conversation_ids(store).await;
    let now = at("2026-11-15T12:00:00Z");
    let mut opts = PurgeOptions {
        retention_days: 30,
        dry_run: true,
        actor: "test".into(),
        municipality: None,
    };
    // A dry run counts and changes nothing.
    let dry = archive::purge(store, &opts, now).await.unwrap();
    assert_eq!(dry.cutoff.as_deref(), Some("2026-10-16T12:00:00.000Z"));
    assert_eq!(dry.conversations, 1);
    assert_eq!(conversation_ids(store).await, before);
    assert!(
        !audit_actions(store)
            .await
            .iter()
            .any(|(a, _)| a == "archive.purge")
    );

    opts.dry_run = false;
    let report = archive::purge(store, &opts, now).await.unwrap();
    assert_eq!(report.conversations, 1);
    assert_eq!(report.messages, 2);
    assert_eq!(report.handoffs, 1);
    assert_eq!(report.notes, 1);
    assert_eq!(report.outbox, 1);
    assert_eq!(report.inbox, 1);
    assert_eq!(
        report.contacts, 2,
        "the purged conversation's contact and the orphan"
    );
    let mut kept: Vec<&str> = report.kept_open.iter().map(|k| k.0.as_str()).collect();
    kept.sort();
    assert_eq!(kept, ["c-sep-claimed", "c-sep-waiting"]);

    assert_eq!(
        conversation_ids(store).await,
        [
            "c-nov1-early",
            "c-nov1-late",
            "c-nov2",
            "c-oct31",
            "c-sep-claimed",
            "c-sep-waiting"
        ]
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM messages WHERE conversation_id = 'c-sep'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM handoffs WHERE conversation_id = 'c-sep'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM notes WHERE conversation_id = 'c-sep'"
        )
        .await,
        0
    );
    assert_eq!(count(store, "SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(count(store, "SELECT COUNT(*) FROM inbox").await, 0);
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM messages WHERE conversation_id = 'c-sep-waiting'"
        )
        .await,
        1
    );
    let contacts: Vec<String> = sqlx::query("SELECT id FROM contacts ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("id"))
        .collect();
    assert_eq!(contacts, ["k-a", "k-waiting"]);
    assert_eq!(
        count(
            store,
            &format!("SELECT COUNT(*) FROM contacts WHERE address = '{OTHER_PHONE}'")
        )
        .await,
        0,
        "the phone number is gone"
    );

    let audit = audit_actions(store).await;
    let purges: Vec<_> = audit.iter().filter(|(a, _)| a == "archive.purge").collect();
    assert_eq!(purges.len(), 1);
    assert!(
        purges[0].1.contains("cut-off 2026-10-16T12:00:00.000Z"),
        "{}",
        purges[0].1
    );
    assert!(purges[0].1.contains("1 conversations"), "{}", purges[0].1);
    assert!(!purges[0].1.contains("c-sep"), "counts, not contents");

    // Again: nothing more to delete; the open handoffs are still reported.
    let again = archive::purge(store, &opts, now).await.unwrap();
    assert_eq!(again.conversations, 0);
    assert_eq!(again.kept_open.len(), 2);

    // retention_days = 0 keeps everything.
    opts.retention_days = 0;
    let forever = archive::purge(store, &opts, at("2036-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(forever.cutoff.is_none());
    assert_eq!(conversation_ids(store).await.len(), 6);
}

#[tokio::test]
async fn archive_sqlite_export_verify_purge() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("loket.db").display()
    );
    let store = SqlStore::connect(&url, 4).await.unwrap();
    seed(&store).await;
    export_scenario(&store, &dir.path().join("archive")).await;
    purge_scenario(&store).await;
    store.close().await;
}

#[tokio::test]
async fn archive_postgres_export_verify_purge() {
    let db = crate::pg::temp_postgres().await;
    let out = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&db.url, 4).await.unwrap();
    seed(&store).await;
    export_scenario(&store, &out.path().join("archive")).await;
    purge_scenario(&store).await;
    store.close().await;
    drop(db);
}

#[test]
fn archive_cli_verify_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hallo\n").unwrap();
    // sha256("hallo\n")
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"hallo\n"))
    };
    std::fs::write(dir.path().join("SHA256SUMS"), format!("{hash}  a.txt\n")).unwrap();
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_loket"))
            .args(["archive", "verify"])
            .arg(dir.path())
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let ok = run();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("OK"));
    std::fs::write(dir.path().join("a.txt"), "hallo!\n").unwrap();
    let bad = run();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("a.txt: FAILED"));
}
