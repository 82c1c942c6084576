//! Hostile clients against a real loopback server: a client that rotates conversation ids,
//! slow and idle connections by the thousand, requests that axum or tower refuse before a
//! handler runs, a web chat that tries another channel's conversation, and control
//! characters in a message.
//!
//! A second client address is 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use loket::store::Store;
use loket::store::keys::Scope;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::{Server, client};

const OTHER_CLIENT: &str = "127.0.0.2";

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn post_message(c: &reqwest::Client, s: &Server, conv: &str, text: &str) -> (u16, Value) {
    let r = c
        .post(s.url("/v1/messages"))
        .json(&json!({"conversation_id": conv, "channel": "web", "text": text}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_rotates_conversation_ids_is_still_limited_and_others_are_not() {
    let s = Server::start(|c| c.server.client_messages_per_minute = 30).await;
    let flooder = client();
    let sent = (0..40).map(|i| {
        let (flooder, s) = (&flooder, &s);
        async move { post_message(flooder, s, &format!("rot-{i}"), "hallo").await }
    });
    let mut limited = 0;
    for (status, body) in futures_util::future::join_all(sent).await {
        if status == 429 {
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
            limited += 1;
        }
    }
    // A burst of 10 passes, then about one every 2 s: most of the 40 are refused.
    assert!(limited >= 25, "only {limited} of 40 refused");
    let (status, body) = post_message(&client_from(OTHER_CLIENT), &s, "other-1", "hallo").await;
    assert_eq!(status, 200, "another client is not limited: {body}");
}

/// Opens a connection from `ip` and sends the start of a request, never its end.
async fn slow_connection(ip: &str, to: SocketAddr) -> Option<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(ip.parse().unwrap(), 0)).ok()?;
    let mut stream = socket.connect(to).await.ok()?;
    let _ = stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: loket\r\n")
        .await;
    Some(stream)
}

/// Whether the server closed `stream` (end of file or reset) within `secs`.
async fn closed_within(stream: &mut tokio::net::TcpStream, secs: u64) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A response (an idle connection after one request): keep reading.
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eleven_hundred_slow_connections_do_not_stop_healthz() {
    loket::http::listener::raise_open_files_limit();
    let s = Server::start(|c| {
        c.server.header_read_timeout_secs = 2;
        c.server.max_connections_per_client = 64;
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..1100 {
        if let Some(c) = slow_connection(OTHER_CLIENT, s.addr).await {
            slow.push(c);
        }
    }
    assert!(slow.len() >= 1000, "only {} connections opened", slow.len());
    // Another client is served while the slow ones are open.
    let r = client().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let metrics = client()
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("loket_http_connections_refused_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("refused connections metric");
    assert!(refused >= 1000, "{refused} connections refused at once");
    // Every slow connection is closed: at once (over the cap) or at the header timeout.
    let mut open = 0;
    for c in &mut slow {
        if !closed_within(c, 8).await {
            open += 1;
        }
    }
    assert_eq!(open, 0, "{open} slow connections still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_idle_after_a_request_is_closed() {
    let s = Server::start(|c| c.server.header_read_timeout_secs = 1).await;
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: loket\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_within(&mut stream, 5).await,
        "idle keep-alive connection kept open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_made_before_a_handler_runs_have_the_json_shape() {
    let s = Server::start(|_| {}).await;
    let c = client();
    let check = |status: u16, code: &str, r: reqwest::Response| {
        let code = code.to_string();
        async move {
            assert_eq!(r.status().as_u16(), status, "status");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json")
            );
            let body: Value = r.json().await.expect("JSON body");
            assert_eq!(body["error"]["code"], code.as_str(), "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
    };
    let r = c.get(s.url("/v1/messages")).send().await.unwrap();
    check(405, "method_not_allowed", r).await;
    let r = c
        .get(s.url("/v1/chat/abc/messages?after=not-a-number"))
        .send()
        .await
        .unwrap();
    check(400, "bad_request", r).await;
    let r = c
        .post(s.url("/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024 + 10])
        .send()
        .await
        .unwrap();
    check(413, "body_too_large", r).await;
    let r = c.delete(s.url("/healthz")).send().await.unwrap();
    check(405, "method_not_allowed", r).await;
    let r = c.get(s.url("/no/such/route")).send().await.unwrap();
    check(404, "not_found", r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_belongs_to_its_channel_and_other_channels_need_a_key() {
    let s = Server::start(|_| {}).await;
    let c = client();
    // Relaying a WhatsApp message without a key would let anyone pose as a contact.
    let r = c
        .post(s.url("/v1/messages"))
        .json(&json!({"conversation_id": "wa-1", "channel": "whatsapp", "text": "hallo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let key = s.key(&[Scope::Agent]).await;
    let r = c
        .post(s.url("/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({"conversation_id": "wa-1", "channel": "whatsapp",
                      "text": "wat kost een paspoort?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The web chat knows the id, and still can neither write nor read that conversation.
    let (status, body) = post_message(&c, &s, "wa-1", "wat kost een rijbewijs?").await;
    assert_eq!(status, 404, "{body}");
    let r = s.get_json("/v1/chat/wa-1/messages").await;
    assert_eq!(r["status"], "new", "{r}");
    assert_eq!(r["messages"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(s.store.transcript("wa-1").await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_reply_says_once_that_a_program_answers_and_the_archive_records_it() {
    let s = Server::start(|_| {}).await;
    let c = client();
    let (status, first) = post_message(&c, &s, "ai-1", "wat kost een paspoort?").await;
    assert_eq!(status, 200, "{first}");
    let text = first["reply"]["text"].as_str().unwrap();
    assert!(text.contains("digitale assistent"), "{text}");
    assert!(text.contains("medewerker"), "{text}");
    let (_, second) = post_message(&c, &s, "ai-1", "en een rijbewijs?").await;
    let text = second["reply"]["text"].as_str().unwrap();
    assert!(
        !text.contains("digitale assistent, een computerprogramma"),
        "{text}"
    );
    let (_, english) = post_message(&c, &s, "ai-2", "how much is a passport?").await;
    let text = english["reply"]["text"].as_str().unwrap();
    assert!(text.contains("digital assistant"), "{text}");
    // What the archive export reads.
    let metas: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT meta FROM messages WHERE conversation_id = 'ai-1' AND direction = 'out' ORDER BY id",
    )
    .fetch_all(s.store.pool())
    .await
    .unwrap();
    let shown: Vec<bool> = metas
        .iter()
        .map(|m| {
            m.as_deref()
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
                .is_some_and(|v| v["ai_disclosure"] == true)
        })
        .collect();
    let stored = &metas;
    assert_eq!(shown, [true, false], "{stored:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_a_message_or_id_do_not_break_postgresql() {
    let pg = crate::pg::temp_postgres().await;
    let url = pg.url.clone();
    let s = Server::start(move |c| c.database.url = loket::config::Secret::new(url)).await;
    let c = client();
    let (status, body) = post_message(&c, &s, "nul-1", "wat kost een\u{0} paspoort?\u{7}").await;
    assert_eq!(status, 200, "{body}");
    let stored = s.store.transcript("nul-1").await.unwrap();
    assert!(
        stored.iter().all(|m| !m.text.contains('\u{0}')),
        "{stored:?}"
    );
    let (status, body) = post_message(&c, &s, "nul\u{0}2", "hallo").await;
    assert_eq!(status, 422, "{body}");
}

async fn readyz(s: &Server) -> (u16, Value) {
    let r = client().get(s.url("/readyz")).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_not_ready_when_the_sqlite_file_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loket.db");
    // A database that exists and is migrated, then reachable only for reading (a read-only
    // mount or file): reads work, every turn would fail.
    let rw = loket::store::SqlStore::connect(&format!("sqlite://{}?mode=rwc", path.display()), 1)
        .await
        .unwrap();
    rw.close().await;
    let url = format!("sqlite://{}?mode=ro", path.display());
    let s = Server::start(move |c| c.database.url = loket::config::Secret::new(url)).await;
    let (status, body) = readyz(&s).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "read_only", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_not_ready_when_postgresql_turns_read_only() {
    let pg = crate::pg::temp_postgres().await;
    let url = pg.url.clone();
    let s = Server::start(move |c| c.database.url = loket::config::Secret::new(url)).await;
    assert_eq!(readyz(&s).await.0, 200);
    // As after a fail-over to a replica: the database answers, but refuses writes.
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&pg.url).await.unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE {} SET default_transaction_read_only = on",
        pg.name
    ))
    .execute(&admin)
    .await
    .unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
    let body = crate::server::eventually(20, "readyz to say read_only", || async {
        let (status, body) = readyz(&s).await;
        (status == 503 && body["database"] == "read_only").then_some(body)
    })
    .await;
    assert_eq!(body["status"], "not_ready");
}
