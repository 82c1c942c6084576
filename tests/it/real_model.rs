//! Tests with the real multilingual-e5-small model: the acceptance scenarios of the README.

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use crate::binary::LoketProcess;
use crate::helpers::{Content, TestApp, config, model_dir, root};

#[tokio::test]
async fn a_passport_question_is_answered_from_the_passport_entry() {
    let app = TestApp::spawn(Content::Bundled, true).await;
    let v = app.ask("p1", "wat kost een paspoort?").await;
    assert_eq!(v["action"], "answer", "{v}");
    assert_eq!(v["faq_id"], "paspoort-kosten", "{v}");
    assert_eq!(v["intent"], "paspoort");
    assert!(v["reply"]["text"].as_str().unwrap().contains("€"));
}

#[tokio::test]
async fn common_questions_reach_the_right_intent() {
    let app = TestApp::spawn(Content::Bundled, true).await;
    for (text, intent) in [
        (
            "ik ga verhuizen, hoe geef ik mijn nieuwe adres door?",
            "verhuizen",
        ),
        (
            "de groene container is vandaag niet geleegd",
            "afvalkalender",
        ),
        ("hoe laat is het stadhuis open?", "openingstijden"),
        ("ik wil een bank en een oude kast laten ophalen", "grofvuil"),
        ("mijn rijbewijs verloopt volgende maand", "rijbewijs"),
    ] {
        let v = app.ask(&format!("q-{intent}"), text).await;
        assert_eq!(v["intent"], intent, "{text}: {v}");
    }
}

/// Starts `loket serve` with the real model on port 0 (see [`LoketProcess`]); `extra_env`
/// is applied last.
fn start_binary(data_dir: &std::path::Path, extra_env: &[(&str, String)]) -> LoketProcess {
    model_dir();
    let mut env = vec![
        ("LOKET__CLASSIFIER__BACKEND", "e5".to_string()),
        (
            "LOKET_LOG",
            "debug,tantivy=warn,sqlx=warn,hyper=warn,h2=warn,tower=warn".to_string(),
        ),
    ];
    env.extend(extra_env.iter().cloned());
    LoketProcess::start(data_dir, &env)
}

fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let host = addr.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn the_real_binary_serves_keeps_personal_data_out_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut loket = start_binary(data.path(), &[]);
    let addr = loket.addr.clone();
    let (status, body) = http(&addr, "GET", "/healthz", "");
    assert_eq!(status, 200, "{body}");
    let msg = r#"{"conversation_id":"bsn-1","channel":"web","text":"Hallo, mijn BSN is 123456782. Wat kost een paspoort?"}"#;
    let (status, body) = http(&addr, "POST", "/v1/messages", msg);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["action"], "privacy_redirect", "{v}");
    assert!(!body.contains("123456782"));
    // The passport question is still answered.
    assert!(v["reply"]["text"].as_str().unwrap().contains("€"), "{v}");
    // SIGTERM: a graceful stop.
    unsafe_kill(loket.pid(), 15);
    let status = loket.wait_with_timeout(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "loket did not stop cleanly on SIGTERM: {status:?}"
    );
    let logs = loket.logs();
    assert!(
        logs.contains("message answered"),
        "the logs record the message: {logs}"
    );
    assert!(!logs.contains("123456782"), "the BSN reached the logs");
    // Neither the database nor its journal holds the BSN.
    for e in std::fs::read_dir(data.path()).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            let found = bytes.windows(9).any(|w| w == b"123456782");
            assert!(!found, "{} contains the BSN", p.display());
        }
    }
    let stored = std::fs::read_dir(data.path())
        .unwrap()
        .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
        .any(|bytes| bytes.windows(5).any(|w| w == b"[BSN]"));
    assert!(stored, "the redacted message is stored");
}

fn unsafe_kill(pid: u32, signal: i32) {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

#[test]
fn classify_prints_one_line_per_input_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let texts = [
        "wat kost een paspoort",
        "hallo",
        "mijn container is niet geleegd",
        "ik wil iemand spreken",
        "hoe vraag ik een parkeervergunning aan",
        "wordt het morgen mooi weer?",
        "mijn bsn is 123456782",
        "waar kan ik grofvuil kwijt",
    ];
    let mut f = std::fs::File::create(&input).unwrap();
    for i in 0..200 {
        writeln!(
            f,
            "{}",
            serde_json::json!({"id": format!("m{i}"), "text": texts[i % texts.len()]})
        )
        .unwrap();
    }
    drop(f);
    let cfg = config(Content::Bundled, true, dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_loket"))
        .args(["classify", "--input"])
        .arg(&input)
        .current_dir(root())
        .env("LOKET__PATHS__DATA_DIR", dir.path())
        .env(
            "LOKET__PATHS__CACHE_DIR",
            cfg.paths.cache_dir.as_ref().unwrap(),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 200);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["id"], format!("m{i}"));
        for k in ["intent", "action", "confidence", "faq_id", "options"] {
            assert!(l.get(k).is_some(), "{k} missing in {l}");
        }
    }
    assert_eq!(lines[0]["faq_id"], "paspoort-kosten");
    assert_eq!(lines[6]["action"], "privacy_redirect");
    assert!(!stdout.contains("123456782"));
}

/// A loopback load test: with a small classifier queue, a burst of concurrent messages gets
/// some 429 answers (never an unbounded queue), every answer is 200 or 429, and /healthz
/// keeps answering during the burst.
#[test]
fn overload_answers_429_while_healthz_keeps_answering() {
    let data = tempfile::tempdir().unwrap();
    let mut loket = start_binary(
        data.path(),
        &[
            ("LOKET__CLASSIFIER__QUEUE_CAPACITY", "2".to_string()),
            ("LOKET__CLASSIFIER__MAX_BATCH", "1".to_string()),
            ("LOKET_LOG", "warn".to_string()),
        ],
    );
    let addr = loket.addr.clone();

    let burst: Vec<_> = (0..40)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let body = format!(r#"{{"conversation_id":"load-{i}","channel":"web","text":"hoe vraag ik een parkeervergunning aan voor mijn bezoek {i}"}}"#);
                http(&addr, "POST", "/v1/messages", &body).0
            })
        })
        .collect();
    let mut health = Vec::new();
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let (status, _) = http(&addr, "GET", "/healthz", "");
        health.push((status, t.elapsed()));
    }
    let statuses: Vec<u16> = burst.into_iter().map(|h| h.join().unwrap()).collect();
    loket.kill9();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "a full queue must answer 429: {statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(
        health.iter().all(|(s, _)| *s == 200),
        "/healthz failed during the burst: {health:?}"
    );
}

/// The int8 forward pass (the default where the CPU has AVX-512 VNNI) against the f32
/// reference: the same embeddings up to quantisation noise, and a message encodes the same
/// alone as in a batch with messages of other lengths (batches are ragged, not padded).
#[test]
fn int8_embeddings_match_the_f32_reference_alone_and_in_batches() {
    use loket::classifier::{Encoder, WeightFormat};
    let dir = model_dir();
    let texts = [
        "wat kost een paspoort?",
        "Goedemiddag, ik ga volgende maand verhuizen naar de Kerkstraat. Hoe geef ik dat door?",
        "afval",
        "mijn roze pasje is verlopen",
        "Can I pay the dog tax in instalments?",
    ];
    let reference = Encoder::load(&dir, WeightFormat::F32, 128, 2).unwrap();
    let want = reference.embed(&texts).unwrap();
    drop(reference);
    let int8 = Encoder::load(&dir, WeightFormat::Int8, 128, 2).unwrap();
    let batch = int8.embed(&texts).unwrap();
    for (i, text) in texts.iter().enumerate() {
        let alone = int8.embed(&[text]).unwrap().remove(0);
        let cos = loket::classifier::encoder::cosine(&batch[i], &want[i]);
        assert!(cos > 0.998, "{text}: cosine to f32 {cos}");
        let same = loket::classifier::encoder::cosine(&batch[i], &alone);
        assert!(same > 0.99999, "{text}: alone vs in a batch {same}");
        assert!((alone.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-4);
    }
    // Different messages stay apart.
    assert!(loket::classifier::encoder::cosine(&batch[0], &batch[2]) < 0.95);
}

#[tokio::test]
async fn harmless_numbers_are_answered_without_a_privacy_redirect() {
    let app = TestApp::spawn(Content::Bundled, true).await;
    let corpus = std::fs::read_to_string(root().join("tests/data/harmless_numbers.txt")).unwrap();
    let mut redirected = Vec::new();
    for (i, text) in corpus
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .enumerate()
    {
        let v = app.ask(&format!("harmless-{i}"), text).await;
        // A redirect may only come from an intent that asks for one (the citizen asks about
        // their own case), never from a number taken for personal data.
        let asks_for_one =
            ["privacy_gegevens", "eigen_zaak"].contains(&v["intent"].as_str().unwrap_or(""));
        if v["action"] == "privacy_redirect" && !asks_for_one {
            redirected.push(format!("{text:?}: {v}"));
        }
    }
    assert!(redirected.is_empty(), "{}", redirected.join("\n"));
}
