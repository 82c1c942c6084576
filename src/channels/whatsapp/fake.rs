//! A local fake of Meta's Graph API `POST /{version}/{phone_number_id}/messages`, for
//! tests and developers: it checks the bearer token and the body like the real one does
//! (within reason), records what it accepts, and can be told to fail.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use loket::channels::whatsapp::fake::{FakeGraph, Failure};
//! let fake = FakeGraph::start("127.0.0.1:0").await?;
//! // Point `whatsapp.base_url` at `fake.base_url()`, send, then:
//! fake.fail_next(vec![Failure::Status(429)]);
//! let sent = fake.wait_for(1, std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! `GET /_fake/received` returns the accepted requests as JSON, for scripts.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::outbound;

/// One request the fake accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path, e.g. `/v21.0/106540352242922/messages`.
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
    pub at: Instant,
    /// The `wamid.FAKE…` the fake answered with (`None` for mark-read).
    pub message_id: Option<String>,
}

/// How the fake answers a request instead of accepting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Answer this status with a Graph-style error body: 429 → code 130429 with
    /// `Retry-After: 1`; 5xx → code 131000; 401 → 190; other → 100.
    Status(u16),
    /// Sleep, then handle the request normally (200 when valid).
    Delay(Duration),
    /// Do not answer for 120 s (the client should time out first).
    Hang,
    /// Accept the message at once (it is in [`FakeGraph::received`], as good as delivered)
    /// and answer 200 only after this long: the moment where a sender that crashes, or
    /// cannot write down the answer, does not know its message went out.
    AnswerLate(Duration),
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    attempts: usize,
    queue: VecDeque<Failure>,
    all: Option<Failure>,
    required_token: Option<String>,
    next_id: u64,
    /// Messages accepted whose answer is held back ([`Failure::AnswerLate`]).
    unanswered: usize,
}

struct Shared {
    inner: Mutex<Inner>,
    changed: Notify,
    started: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Aborts the server task when the last [`FakeGraph`] handle is dropped.
struct ServerTask(JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running fake Graph API. Cheap to clone; the server stops when the last clone drops.
#[derive(Clone)]
pub struct FakeGraph {
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
    _task: Arc<ServerTask>,
}

impl std::fmt::Debug for FakeGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGraph")
            .field("addr", &self.addr)
            .finish()
    }
}

impl FakeGraph {
    /// Binds `bind` (e.g. "127.0.0.1:0") and serves in a tokio task.
    pub async fn start(bind: &str) -> std::io::Result<FakeGraph> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
            started: Instant::now(),
        });
        let app = Router::new()
            .route("/{version}/{phone_number_id}/messages", post(messages))
            .route("/_fake/received", get(received_json))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "fake Graph API stopped");
            }
        });
        Ok(FakeGraph {
            shared,
            addr,
            _task: Arc::new(ServerTask(task)),
        })
    }

    /// `http://127.0.0.1:PORT`: use as `whatsapp.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Every accepted (200) request, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// Every POST to the messages endpoint, accepted or not.
    pub fn attempts(&self) -> usize {
        self.shared.lock().attempts
    }

    /// Messages (not mark-read) accepted and recorded whose 200 has not been answered yet
    /// ([`Failure::AnswerLate`]); a request whose client went away counts until dropped.
    pub fn unanswered(&self) -> usize {
        self.shared.lock().unanswered
    }

    /// The next requests fail like this, one failure each, in order.
    pub fn fail_next(&self, responses: Vec<Failure>) {
        self.shared.lock().queue.extend(responses);
    }

    /// Every request fails like this until set to `None` (queued failures go first).
    pub fn fail_all(&self, on: Option<Failure>) {
        self.shared.lock().all = on;
    }

    /// Only accept `Authorization: Bearer <token>` (by default any non-empty token is).
    pub fn require_token(&self, token: Option<&str>) {
        self.shared.lock().required_token = token.map(str::to_string);
    }

    /// Forgets what was received and attempted, and all queued failures.
    pub fn reset(&self) {
        let mut inner = self.shared.lock();
        inner.received.clear();
        inner.attempts = 0;
        inner.queue.clear();
        inner.all = None;
    }

    /// Waits until at least `n` requests were accepted and returns them all; on timeout
    /// returns what there is.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the check, so a change in between is not missed.
            let changed = self.shared.changed.notified();
            {
                let inner = self.shared.lock();
                if inner.received.len() >= n {
                    return inner.received.clone();
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.received();
            }
        }
    }

    /// Accepted message bodies (not mark-read) sent to `wa_id`, in order.
    pub fn replies_to(&self, wa_id: &str) -> Vec<Value> {
        self.shared
            .lock()
            .received
            .iter()
            .filter(|r| r.body["status"] != "read" && r.body["to"] == wa_id)
            .map(|r| r.body.clone())
            .collect()
    }
}

fn graph_error(status: StatusCode, code: i64, message: &str, details: Option<&str>) -> Response {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AfakeTraceId",
    });
    if let Some(details) = details {
        error["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
    }
    let mut response = (status, Json(json!({ "error": error }))).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn failure_response(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status.as_u16() {
        429 => graph_error(
            status,
            130429,
            "(#130429) Rate limit hit",
            Some("Cloud API message throughput has been reached."),
        ),
        401 => graph_error(
            status,
            190,
            "Error validating access token: Session has expired.",
            None,
        ),
        s if s >= 500 => graph_error(
            status,
            131000,
            "(#131000) Something went wrong",
            Some("Something went wrong. Please try again later."),
        ),
        _ => graph_error(status, 100, "(#100) Invalid parameter", None),
    }
}

/// A 400 answer of the validation, as the Graph API words it.
struct Rejection {
    code: i64,
    message: String,
    details: Option<String>,
}

impl Rejection {
    fn into_response(self) -> Response {
        graph_error(
            StatusCode::BAD_REQUEST,
            self.code,
            &self.message,
            self.details.as_deref(),
        )
    }
}

fn invalid(details: String) -> Rejection {
    Rejection {
        code: 131009,
        message: "(#131009) Parameter value is not valid".into(),
        details: Some(details),
    }
}

fn param_error(message: &str) -> Rejection {
    Rejection {
        code: 100,
        message: message.into(),
        details: None,
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// The checks the real API makes that Loket could get wrong; `Err` is the 400 answer.
fn validate(body: &Value) -> Result<(), Rejection> {
    if body["messaging_product"] != "whatsapp" {
        return Err(param_error(
            "(#100) The parameter messaging_product is required.",
        ));
    }
    if body["status"] == "read" {
        if body["message_id"].as_str().is_none_or(str::is_empty) {
            return Err(param_error("(#100) The parameter message_id is required."));
        }
        return Ok(());
    }
    if body["to"].as_str().is_none_or(str::is_empty) {
        return Err(param_error("(#100) The parameter to is required."));
    }
    match body["type"].as_str().unwrap_or("text") {
        "text" => {
            let n = chars(&body["text"]["body"]);
            if n == 0 {
                return Err(param_error(
                    "(#100) The parameter text['body'] is required.",
                ));
            }
            if n > outbound::TEXT_MAX {
                return Err(param_error(
                    "(#100) Param text['body'] must be at most 4096 characters long.",
                ));
            }
        }
        "interactive" => validate_interactive(&body["interactive"])?,
        "template" => {
            if body["template"]["name"].as_str().is_none_or(str::is_empty) {
                return Err(param_error(
                    "(#100) The parameter template['name'] is required.",
                ));
            }
        }
        other => {
            return Err(param_error(&format!(
                "(#100) Param type must be one of {{audio, contacts, document, image, interactive, location, reaction, sticker, template, text, video}} - got \"{other}\"."
            )));
        }
    }
    Ok(())
}

fn validate_interactive(i: &Value) -> Result<(), Rejection> {
    let body_chars = chars(&i["body"]["text"]);
    if body_chars == 0 {
        return Err(invalid("Body text is required.".into()));
    }
    match i["type"].as_str().unwrap_or("") {
        "button" => {
            if body_chars > outbound::BUTTON_BODY_MAX {
                return Err(invalid("Body text length invalid. Max length: 1024".into()));
            }
            let buttons = i["action"]["buttons"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            if buttons.is_empty() || buttons.len() > outbound::MAX_BUTTONS {
                return Err(invalid(format!(
                    "Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3, Actual buttons: {}",
                    buttons.len()
                )));
            }
            let mut titles = Vec::new();
            for b in buttons {
                let title = &b["reply"]["title"];
                let n = chars(title);
                if n == 0 || n > outbound::BUTTON_TITLE_MAX {
                    return Err(invalid(format!(
                        "Button title length invalid. Min length: 1, Max length: 20, Actual length: {n}"
                    )));
                }
                let id = chars(&b["reply"]["id"]);
                if id == 0 || id > outbound::BUTTON_ID_MAX {
                    return Err(invalid("Button id length invalid. Max length: 256".into()));
                }
                if titles.contains(title) {
                    return Err(invalid("Button title must be unique.".into()));
                }
                titles.push(title.clone());
            }
        }
        "list" => {
            if body_chars > outbound::LIST_BODY_MAX {
                return Err(invalid("Body text length invalid. Max length: 4096".into()));
            }
            let label = chars(&i["action"]["button"]);
            if label == 0 || label > outbound::LIST_BUTTON_MAX {
                return Err(invalid(
                    "Button label length invalid. Min length: 1, Max length: 20".into(),
                ));
            }
            let sections = i["action"]["sections"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            let rows: Vec<&Value> = sections
                .iter()
                .flat_map(|s| s["rows"].as_array().map_or(&[][..], Vec::as_slice))
                .collect();
            if rows.is_empty() || rows.len() > outbound::MAX_LIST_ROWS {
                return Err(invalid(format!(
                    "Total row count exceed max allowed count: 10, actual: {}",
                    rows.len()
                )));
            }
            let mut ids = Vec::new();
            for row in rows {
                let n = chars(&row["title"]);
                if n == 0 || n > outbound::ROW_TITLE_MAX {
                    return Err(invalid(format!(
                        "Row title length invalid. Min length: 1, Max length: 24, Actual length: {n}"
                    )));
                }
                if chars(&row["description"]) > outbound::ROW_DESCRIPTION_MAX {
                    return Err(invalid(
                        "Row description length invalid. Max length: 72".into(),
                    ));
                }
                let id = &row["id"];
                if chars(id) == 0 || chars(id) > outbound::ROW_ID_MAX {
                    return Err(invalid("Row id length invalid. Max length: 200".into()));
                }
                if ids.contains(id) {
                    return Err(invalid("Row ids must be unique.".into()));
                }
                ids.push(id.clone());
            }
        }
        other => {
            return Err(invalid(format!(
                "Unsupported interactive type \"{other}\"."
            )));
        }
    }
    Ok(())
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let failure = {
        let mut inner = shared.lock();
        inner.attempts += 1;
        inner.queue.pop_front().or_else(|| inner.all.clone())
    };
    let mut answer_after = None;
    match failure {
        Some(Failure::Status(status)) => return failure_response(status),
        Some(Failure::Delay(d)) => tokio::time::sleep(d).await,
        Some(Failure::Hang) => tokio::time::sleep(Duration::from_secs(120)).await,
        Some(Failure::AnswerLate(d)) => answer_after = Some(d),
        None => {}
    }

    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let required = shared.lock().required_token.clone();
    let authorized = match (token, required) {
        (None, _) => false,
        (Some(t), Some(required)) => t == required,
        (Some(_), None) => true,
    };
    if !authorized {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            None,
        );
    }

    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return param_error("(#100) The request body is not valid JSON.").into_response();
    };
    if let Err(rejection) = validate(&body) {
        return rejection.into_response();
    }

    let is_read = body["status"] == "read";
    let reply = {
        let mut inner = shared.lock();
        inner.next_id += 1;
        let message_id = (!is_read).then(|| format!("wamid.FAKE{:012}", inner.next_id));
        let reply = match &message_id {
            Some(id) => {
                let to = body["to"].as_str().unwrap_or_default();
                json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{ "input": to, "wa_id": to.trim_start_matches('+') }],
                    "messages": [{ "id": id }],
                })
            }
            None => json!({ "success": true }),
        };
        inner.received.push(Received {
            path: format!("/{version}/{phone_number_id}/messages"),
            authorization,
            body,
            at: Instant::now(),
            message_id,
        });
        reply
    };
    shared.changed.notify_waiters();
    if let Some(d) = answer_after {
        let _unanswered = (!is_read).then(|| Unanswered::new(&shared));
        tokio::time::sleep(d).await;
    }
    Json(reply).into_response()
}

/// Counts an accepted message in [`FakeGraph::unanswered`] until its answer goes out (or
/// the request is dropped because its client went away).
struct Unanswered<'a>(&'a Shared);

impl<'a> Unanswered<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.lock().unanswered += 1;
        Unanswered(shared)
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        self.0.lock().unanswered -= 1;
    }
}

async fn received_json(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let inner = shared.lock();
    let list: Vec<Value> = inner
        .received
        .iter()
        .map(|r| {
            json!({
                "path": r.path,
                "authorized": r.authorization.is_some(),
                "body": r.body,
                "message_id": r.message_id,
                "ms": r.at.saturating_duration_since(shared.started).as_millis() as u64,
            })
        })
        .collect();
    Json(json!({ "attempts": inner.attempts, "received": list }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::whatsapp::client::{GraphClient, SendError};
    use crate::config::{Secret, WhatsAppConfig};
    use crate::dialogue::ReplyOption;

    async fn setup() -> (FakeGraph, GraphClient) {
        let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
        let config = WhatsAppConfig {
            base_url: fake.base_url(),
            api_version: "v21.0".into(),
            phone_number_id: "106540352242922".into(),
            access_token: Secret::new("EAAG-test-token"),
            ..WhatsAppConfig::default()
        };
        (fake, GraphClient::new(&config))
    }

    fn options(n: usize) -> Vec<ReplyOption> {
        (1..=n)
            .map(|i| ReplyOption {
                id: format!("faq-{i}"),
                title: format!("Onderwerp {i}"),
                description: String::new(),
            })
            .collect()
    }

    #[tokio::test]
    async fn accepted_send_is_recorded() {
        let (fake, client) = setup().await;
        fake.require_token(Some("EAAG-test-token"));
        let ok = client
            .send(&outbound::text("31612345678", "Hallo"))
            .await
            .unwrap();
        let id = ok.message_id.expect("a wamid");
        assert!(id.starts_with("wamid.FAKE"), "{id}");
        let read = client
            .send(&outbound::mark_read("wamid.IN", true))
            .await
            .unwrap();
        assert_eq!(read.message_id, None);

        let received = fake.wait_for(2, Duration::from_secs(5)).await;
        assert_eq!(received.len(), 2);
        assert_eq!(received[0].path, "/v21.0/106540352242922/messages");
        assert_eq!(
            received[0].authorization.as_deref(),
            Some("Bearer EAAG-test-token")
        );
        assert_eq!(received[0].body["text"]["body"], "Hallo");
        assert_eq!(received[0].message_id.as_deref(), Some(id.as_str()));
        assert_eq!(fake.attempts(), 2);
        let replies = fake.replies_to("31612345678");
        assert_eq!(replies.len(), 1, "mark-read is not a reply");
        assert!(fake.replies_to("31600000000").is_empty());

        // The JSON view for scripts.
        let v: Value = reqwest::get(format!("{}/_fake/received", fake.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["attempts"], 2);
        assert_eq!(v["received"][0]["message_id"], json!(id));
        assert_eq!(v["received"][1]["body"]["status"], "read");
    }

    #[tokio::test]
    async fn two_server_errors_then_success_with_retry() {
        let (fake, client) = setup().await;
        fake.fail_next(vec![Failure::Status(500), Failure::Status(500)]);
        let ok = client
            .send_with_retry_using(&outbound::text("316", "x"), 5, |_| {
                Duration::from_millis(10)
            })
            .await
            .unwrap();
        assert!(ok.message_id.is_some());
        assert_eq!(fake.attempts(), 3);
        assert_eq!(fake.received().len(), 1);
    }

    #[tokio::test]
    async fn retry_gives_up_after_max_attempts() {
        let (fake, client) = setup().await;
        fake.fail_all(Some(Failure::Status(503)));
        let err = client
            .send_with_retry_using(&outbound::text("316", "x"), 3, |_| Duration::from_millis(5))
            .await
            .unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(fake.attempts(), 3);
        assert!(fake.received().is_empty());
        fake.fail_all(None);
        client.send(&outbound::text("316", "x")).await.unwrap();
        assert_eq!(fake.received().len(), 1);
    }

    #[tokio::test]
    async fn four_buttons_are_rejected_but_the_builder_makes_a_list() {
        let (fake, client) = setup().await;
        // Four buttons by hand: the real API answers 400 / 131009.
        let mut body = outbound::reply("316", "Kies", &options(3), "Kies");
        let mut buttons = body["interactive"]["action"]["buttons"]
            .as_array()
            .unwrap()
            .clone();
        buttons.push(json!({"type": "reply", "reply": {"id": "faq-4", "title": "Vier"}}));
        body["interactive"]["action"]["buttons"] = json!(buttons);
        let err = client.send(&body).await.unwrap_err();
        match &err {
            SendError::Permanent {
                status,
                code,
                detail,
            } => {
                assert_eq!(*status, 400);
                assert_eq!(*code, Some(131009));
                assert!(detail.contains("buttons count"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        // A 21-character title is rejected too.
        let mut body = outbound::reply("316", "Kies", &options(1), "Kies");
        body["interactive"]["action"]["buttons"][0]["reply"]["title"] = json!("x".repeat(21));
        assert!(!client.send(&body).await.unwrap_err().is_retryable());
        // Eleven list rows are rejected.
        let mut body = outbound::reply("316", "Kies", &options(10), "Kies");
        let mut rows = body["interactive"]["action"]["sections"][0]["rows"]
            .as_array()
            .unwrap()
            .clone();
        rows.push(json!({"id": "faq-11", "title": "Elf"}));
        body["interactive"]["action"]["sections"][0]["rows"] = json!(rows);
        assert!(matches!(
            client.send(&body).await,
            Err(SendError::Permanent { status: 400, .. })
        ));
        // What the builder makes from 4 or 11 long options is accepted.
        let mut long = options(11);
        long[0].title = "Een titel die veel te lang is voor een rij".into();
        client
            .send(&outbound::reply(
                "316",
                "Kies",
                &long[..4],
                "Kies een onderwerp hieronder",
            ))
            .await
            .unwrap();
        client
            .send(&outbound::reply("316", "Kies", &long, "Kies"))
            .await
            .unwrap();
        let mut three = options(3);
        three[0].title = "Afvalkalender en grofvuil-info".into();
        client
            .send(&outbound::reply("316", "Kies", &three, "Kies"))
            .await
            .unwrap();
        client
            .send(&outbound::text("316", &"a".repeat(5000)))
            .await
            .unwrap();
        assert_eq!(fake.received().len(), 4);
        assert_eq!(fake.attempts(), 7);
    }

    #[tokio::test]
    async fn missing_token_is_401() {
        let (fake, _) = setup().await;
        let anonymous = GraphClient::new(&WhatsAppConfig {
            base_url: fake.base_url(),
            phone_number_id: "PN".into(),
            access_token: Secret::default(),
            ..WhatsAppConfig::default()
        });
        let err = anonymous
            .send(&outbound::text("316", "x"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SendError::Permanent {
                status: 401,
                code: Some(190),
                detail: "Invalid OAuth access token - Cannot parse access token".into()
            }
        );
        // A wrong token when one is required.
        fake.require_token(Some("right"));
        let wrong = GraphClient::new(&WhatsAppConfig {
            base_url: fake.base_url(),
            phone_number_id: "PN".into(),
            access_token: Secret::new("wrong"),
            ..WhatsAppConfig::default()
        });
        assert!(matches!(
            wrong.send(&outbound::text("316", "x")).await,
            Err(SendError::Permanent { status: 401, .. })
        ));
        assert!(fake.received().is_empty());
    }

    #[tokio::test]
    async fn bad_bodies_are_400() {
        let (_fake, client) = setup().await;
        let mut body = outbound::text("316", "x");
        body["messaging_product"] = json!("sms");
        assert!(matches!(
            client.send(&body).await,
            Err(SendError::Permanent {
                status: 400,
                code: Some(100),
                ..
            })
        ));
        let mut body = outbound::text("316", "x");
        body["text"]["body"] = json!("a".repeat(4097));
        assert!(matches!(
            client.send(&body).await,
            Err(SendError::Permanent { status: 400, .. })
        ));
        assert!(matches!(
            client
                .send(&json!({"messaging_product": "whatsapp", "status": "read"}))
                .await,
            Err(SendError::Permanent { status: 400, .. })
        ));
    }

    #[tokio::test]
    async fn rate_limit_is_retryable_with_retry_after() {
        let (fake, client) = setup().await;
        fake.fail_next(vec![Failure::Status(429)]);
        let err = client
            .send(&outbound::text("31612345678", "x"))
            .await
            .unwrap_err();
        match &err {
            SendError::Retryable {
                status,
                retry_after,
                detail,
            } => {
                assert_eq!(*status, Some(429));
                assert_eq!(*retry_after, Some(Duration::from_secs(1)));
                assert!(detail.contains("130429"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!err.to_string().contains("31612345678"));
        assert!(!err.to_string().contains("EAAG-test-token"));
        assert!(fake.received().is_empty());
        // The queue is used up: the next one is accepted.
        client.send(&outbound::text("316", "x")).await.unwrap();
    }

    #[tokio::test]
    async fn hang_times_out_as_retryable_and_delay_succeeds() {
        let (fake, client) = setup().await;
        let client = client.with_timeout(Duration::from_millis(300));
        fake.fail_next(vec![
            Failure::Hang,
            Failure::Delay(Duration::from_millis(50)),
        ]);
        let started = Instant::now();
        let err = client.send(&outbound::text("316", "x")).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        match &err {
            SendError::Retryable {
                status: None,
                detail,
                ..
            } => {
                assert!(detail.contains("no answer"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
        client.send(&outbound::text("316", "y")).await.unwrap();
        assert_eq!(fake.attempts(), 2);
        let received = fake.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].body["text"]["body"], "y");
    }

    /// A message answered late is accepted before its answer; a client that gives up
    /// waiting still got its message delivered (the duplicate a sender cannot rule out).
    #[tokio::test]
    async fn answer_late_accepts_before_answering() {
        let (fake, client) = setup().await;
        fake.fail_all(Some(Failure::AnswerLate(Duration::from_millis(400))));
        let sending = {
            let client = client.clone();
            tokio::spawn(async move { client.send(&outbound::text("316", "x")).await })
        };
        let accepted = fake.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(accepted.len(), 1);
        assert_eq!(fake.unanswered(), 1);
        assert!(!sending.is_finished(), "answered before the delay");
        let ok = sending.await.unwrap().unwrap();
        assert_eq!(ok.message_id, accepted[0].message_id);
        assert_eq!(fake.unanswered(), 0);

        let impatient = client.with_timeout(Duration::from_millis(100));
        let err = impatient
            .send(&outbound::text("316", "y"))
            .await
            .unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert_eq!(fake.received().len(), 2, "delivered all the same");
    }

    #[tokio::test]
    async fn wait_for_returns_what_there_is_on_timeout() {
        let (fake, client) = setup().await;
        client.send(&outbound::text("316", "x")).await.unwrap();
        let started = Instant::now();
        let got = fake.wait_for(3, Duration::from_millis(100)).await;
        assert_eq!(got.len(), 1);
        assert!(started.elapsed() >= Duration::from_millis(100));
        // A send while waiting wakes the waiter.
        let waiter = {
            let fake = fake.clone();
            tokio::spawn(async move { fake.wait_for(2, Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        client.send(&outbound::text("316", "z")).await.unwrap();
        let got = waiter.await.unwrap();
        assert_eq!(got.len(), 2);
    }

    #[tokio::test]
    async fn connection_refused_is_retryable() {
        let fake = FakeGraph::start("127.0.0.1:0").await.unwrap();
        let base = fake.base_url();
        drop(fake);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let client = GraphClient::new(&WhatsAppConfig {
            base_url: base,
            phone_number_id: "PN".into(),
            access_token: Secret::new("t"),
            ..WhatsAppConfig::default()
        })
        .with_timeout(Duration::from_secs(2));
        let err = client.send(&outbound::text("316", "x")).await.unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
    }
}
