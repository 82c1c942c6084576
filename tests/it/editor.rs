//! The content editors' tools: hot reload (file watching and `POST /v1/admin/reload`),
//! `/v1/admin/content`, previews of draft entries, `loket kb test`, `loket kb coverage`, and
//! the Prometheus metrics.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use loket::store::SqlStore;
use loket::store::keys::Scope;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{
    Content, config, copy_dir, edit_file, fixtures, kb_check, line_starting, root,
};

/// A copy of a knowledge base and its intents in a temporary directory.
struct ContentCopy {
    dir: tempfile::TempDir,
}

impl ContentCopy {
    fn new(content: &Content) -> ContentCopy {
        let dir = tempfile::tempdir().unwrap();
        let (kb, intents) = match content {
            Content::Fixture => (fixtures().join("kb"), fixtures().join("intents")),
            Content::Bundled => (root().join("knowledge-base"), root().join("intents")),
        };
        copy_dir(&kb, &dir.path().join("kb"));
        copy_dir(&intents, &dir.path().join("intents"));
        ContentCopy { dir }
    }
    fn kb(&self) -> PathBuf {
        self.dir.path().join("kb")
    }
    fn intents(&self) -> PathBuf {
        self.dir.path().join("intents")
    }
    /// The entry's file: the bundled library's when it has the entry, else the
    /// municipality's own.
    fn entry(&self, id: &str) -> PathBuf {
        let library = self.kb().join("landelijk/entries").join(format!("{id}.md"));
        if library.exists() {
            return library;
        }
        self.kb().join("entries").join(format!("{id}.md"))
    }
}

struct Editor {
    app: loket::app::App,
    router: Router,
    key: String,
    content: ContentCopy,
    _data: tempfile::TempDir,
}

impl Editor {
    async fn start(content: Content, watch: bool) -> Editor {
        let copy = ContentCopy::new(&content);
        let data = tempfile::tempdir().unwrap();
        let mut c = config(content, false, data.path());
        c.paths.knowledge_base = copy.kb();
        c.paths.intents = copy.intents();
        // Not the shared test cache: reloads write it while other tests read it.
        c.paths.cache_dir = Some(data.path().join("cache"));
        let config = Arc::new(c);
        let store = Arc::new(SqlStore::connect(&config.database_url(), 4).await.unwrap());
        let (_, key) = store
            .create_key("redactie", &[Scope::Editor])
            .await
            .unwrap();
        let mut builder = loket::app::Builder::shared(config)
            .store(store)
            .without_background();
        if !watch {
            builder = builder.without_watch();
        }
        let app = builder.build().await.unwrap();
        let router = app.router.clone();
        Editor {
            app,
            router,
            key,
            content: copy,
            _data: data,
        }
    }

    async fn call(&self, req: Request<Body>) -> (StatusCode, String) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn json(&self, req: Request<Body>) -> (StatusCode, Value) {
        let (s, text) = self.call(req).await;
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, with_key: bool) -> (StatusCode, Value) {
        let mut req = Request::get(path);
        if with_key {
            req = req.header("authorization", format!("Bearer {}", self.key));
        }
        self.json(req.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, body: Value, with_key: bool) -> (StatusCode, Value) {
        let mut req = Request::post(path).header("content-type", "application/json");
        if with_key {
            req = req.header("authorization", format!("Bearer {}", self.key));
        }
        self.json(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// `POST /v1/admin/preview` with the editor's key.
    async fn preview(&self, body: Value) -> (StatusCode, Value) {
        self.post("/v1/admin/preview", body, true).await
    }

    /// Asks in a fresh conversation, so no context carries over between questions.
    async fn ask(&self, text: &str) -> Value {
        let id = format!("c-{}", uuid::Uuid::new_v4().simple());
        let (s, v) = self
            .post(
                "/v1/messages",
                json!({"conversation_id": id, "channel": "web", "text": text}),
                false,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}

const LIMIT: Duration = Duration::from_secs(2);
const STEP: Duration = Duration::from_millis(50);

/// Asks every 50 ms for up to 2 s until the answer contains `marker`; how long it took.
async fn poll_answer(ed: &Editor, question: &str, marker: &str) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() <= LIMIT {
        let v = ed.ask(question).await;
        if v["reply"]["text"].as_str().unwrap_or("").contains(marker) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(STEP).await;
    }
    None
}

/// Polls `/v1/admin/content` every 50 ms for up to 2 s until its status is `status`.
async fn poll_content(ed: &Editor, status: &str) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() <= LIMIT {
        if ed.get("/v1/admin/content", true).await.1["status"] == status {
            return Some(start.elapsed());
        }
        tokio::time::sleep(STEP).await;
    }
    None
}

/// Replaces the first line of the answer (the body after the front matter) by `line`.
fn with_first_answer_line(text: &str, line: &str) -> String {
    let end = text[3..].find("\n---\n").unwrap() + 3 + "\n---\n".len();
    let (head, body) = text.split_at(end);
    let rest = body.split_once('\n').map(|x| x.1).unwrap_or("");
    format!("{head}{line}\n{rest}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_on_disk_are_served_within_two_seconds_and_broken_ones_are_not() {
    let ed = Editor::start(Content::Bundled, true).await;
    let question = "Wat kost een paspoort?";
    let v = ed.ask(question).await;
    assert_eq!(v["action"], "answer", "{v}");
    let id = v["faq_id"].as_str().unwrap().to_string();
    let path = ed.content.entry(&id);
    let original = std::fs::read_to_string(&path).unwrap();
    assert!(original.contains(&format!("id: {id}\n")));

    // 1. An edit to the answer is served within 2 s.
    let marker = "Let op: vanaf 1 juli gelden nieuwe tarieven voor het paspoort.";
    let edited = with_first_answer_line(&original, marker);
    std::fs::write(&path, &edited).unwrap();
    let took = poll_answer(&ed, question, marker)
        .await
        .expect("the edited answer was not served within 2 s");
    eprintln!("hot reload: the edited answer was served after {took:?}");
    let (s, content) = ed.get("/v1/admin/content", true).await;
    assert_eq!(s, StatusCode::OK, "{content}");
    assert_eq!(content["status"], "ok");
    assert_eq!(content["version"], 2, "{content}");

    // 2. A broken front matter: the previous version keeps serving, and the problem is
    //    reported with the file and line by /readyz and /v1/admin/content.
    let broken = edited.replacen("\ntitle: ", "\ntitle: [nog niet af, ", 1);
    let title_line = line_starting(&broken, "title:");
    std::fs::write(&path, &broken).unwrap();
    let took = poll_content(&ed, "error")
        .await
        .expect("the broken edit was not reported within 2 s");
    eprintln!("hot reload: the broken edit was reported after {took:?}");
    let (s, content) = ed.get("/v1/admin/content", true).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(content["version"], 2, "still serving version 2: {content}");
    let err = &content["errors"][0];
    let file_name = format!("{id}.md");
    assert!(
        err["file"].as_str().unwrap().ends_with(&file_name),
        "{content}"
    );
    let line = err["line"].as_u64().unwrap() as usize;
    assert!(
        (title_line..=title_line + 1).contains(&line),
        "line {line}, the title is on line {title_line}: {content}"
    );
    assert!(
        err["text"]
            .as_str()
            .unwrap()
            .contains(&format!("{file_name}:{line}: fout:")),
        "{content}"
    );
    let (s, ready) = ed.get("/readyz", false).await;
    assert_eq!(s, StatusCode::OK, "an older good version serves: {ready}");
    assert_eq!(ready["content"]["status"], "error", "{ready}");
    assert_eq!(ready["content"]["version"], 2);
    assert_eq!(ready["content"]["errors"][0]["line"], line as u64);
    assert!(
        ready["content"]["message"]
            .as_str()
            .unwrap()
            .contains("still serving version 2")
    );
    let v = ed.ask(question).await;
    assert_eq!(v["faq_id"], id.as_str());
    assert!(v["reply"]["text"].as_str().unwrap().contains(marker), "{v}");

    // 3. Fixed: served again, and the error is gone.
    let marker2 = "Let op: de nieuwe tarieven gelden vanaf 1 augustus.";
    std::fs::write(&path, with_first_answer_line(&original, marker2)).unwrap();
    let took = poll_answer(&ed, question, marker2)
        .await
        .expect("the fixed answer was not served within 2 s");
    eprintln!("hot reload: the fixed answer was served after {took:?}");
    let (_, content) = ed.get("/v1/admin/content", true).await;
    assert_eq!(content["status"], "ok", "{content}");
    assert_eq!(content["version"], 3, "{content}");
    assert_eq!(content["errors"], json!([]));
    let (_, ready) = ed.get("/readyz", false).await;
    assert_eq!(ready["content"]["status"], "ok", "{ready}");
}

/// The acceptance test of texts as content: a municipality changes its fallback and handoff
/// wording in `texts.toml`, `kb check` validates it, hot reload serves it; a broken version
/// is refused with its file and line while the good one serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_municipality_changes_its_fallback_and_handoff_wording_and_it_is_served() {
    let ed = Editor::start(Content::Bundled, true).await;
    // An example of an intent is recognised as that intent: out of scope, and a person.
    let out_of_scope = "wie heeft er gisteren gewonnen, Ajax of PSV";
    let person = "ik wil een medewerker spreken";
    let fallback = "Daarover weet Gemeente Voorbeeld helaas niets.";
    let handoff = "Een collega van Klantcontactcentrum neemt uw vraag over.";
    let v = ed.ask(out_of_scope).await;
    assert_eq!(v["action"], "fallback", "{v}");
    assert!(!v["reply"]["text"].as_str().unwrap().contains(fallback));
    let v = ed.ask(person).await;
    assert_eq!(v["action"], "handoff", "{v}");

    // The office may be open or closed while the test runs: both handoff texts change.
    let texts = r#"# Eigen teksten van Gemeente Voorbeeld.
[fallback]
u = "Daarover weet {name} helaas niets. Bel ons op {phone}."

[handoff_open]
u = "Een collega van {department} neemt uw vraag over. U hoort binnen {minutes} minuten van ons."

[handoff_closed]
u = "Een collega van {department} neemt uw vraag over. Wij lezen uw bericht {when}."
"#;
    let path = ed.content.kb().join("texts.toml");
    std::fs::write(&path, texts).unwrap();
    let (code, out) = kb_check(&ed.content.kb(), &ed.content.intents());
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("texts.toml"),
        "no diagnostics for the texts: {out}"
    );

    let took = poll_answer(&ed, out_of_scope, fallback)
        .await
        .expect("the new fallback wording was not served within 2 s");
    eprintln!("hot reload: the new fallback wording was served after {took:?}");
    let v = ed.ask(out_of_scope).await;
    assert_eq!(v["action"], "fallback", "{v}");
    assert!(
        v["reply"]["text"]
            .as_str()
            .unwrap()
            .contains("Bel ons op 14 0123."),
        "{v}"
    );
    let v = ed.ask(person).await;
    assert_eq!(v["action"], "handoff", "{v}");
    assert!(
        v["reply"]["text"].as_str().unwrap().contains(handoff),
        "{v}"
    );

    // A privacy text without the secure channel's address: refused with file and line.
    let broken = format!("{texts}\n[privacy]\nu = \"Stuur hier geen persoonsgegevens.\"\n");
    let line = line_starting(&broken, "u = \"Stuur");
    std::fs::write(&path, &broken).unwrap();
    let (code, out) = kb_check(&ed.content.kb(), &ed.content.intents());
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "texts.toml:{line}: fout: `privacy.u` mist {{url}}"
        )),
        "{out}"
    );
    poll_content(&ed, "error")
        .await
        .expect("the broken texts were not reported within 2 s");
    let (_, content) = ed.get("/v1/admin/content", true).await;
    let err = &content["errors"][0];
    assert!(
        err["file"].as_str().unwrap().ends_with("texts.toml"),
        "{content}"
    );
    assert_eq!(err["line"], line as u64, "{content}");
    // The previous good version serves on.
    let v = ed.ask(out_of_scope).await;
    assert!(
        v["reply"]["text"].as_str().unwrap().contains(fallback),
        "{v}"
    );
}

#[tokio::test]
async fn the_reload_endpoint_needs_an_editor_key_and_answers_with_the_version_or_the_problems() {
    let ed = Editor::start(Content::Fixture, false).await;
    let (s, v) = ed.post("/v1/admin/reload", json!({}), false).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = ed.get("/v1/admin/content", false).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (_, agent) = ed
        .app
        .store()
        .create_key("kcc", &[Scope::Agent])
        .await
        .unwrap();
    let req = Request::post("/v1/admin/reload")
        .header("authorization", format!("Bearer {agent}"))
        .body(Body::empty())
        .unwrap();
    let (s, v) = ed.json(req).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

    let (s, v) = ed.post("/v1/admin/reload", json!({}), true).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["entries"], 11);

    // An entry that names an unknown intent: 422 with file and line; version 2 serves on.
    let path = ed.content.entry("paspoort-kosten");
    let good = std::fs::read_to_string(&path).unwrap();
    edit_file(&path, "intent: paspoort\n", "intent: paspoorten\n");
    let (s, v) = ed.post("/v1/admin/reload", json!({}), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "content_invalid");
    assert_eq!(v["version"], 2);
    let err = &v["errors"][0];
    assert!(
        err["file"]
            .as_str()
            .unwrap()
            .ends_with("paspoort-kosten.md")
    );
    assert_eq!(err["line"], 4, "{v}");
    assert!(err["message"].as_str().unwrap().contains("paspoorten"));
    let (_, ready) = ed.get("/readyz", false).await;
    assert_eq!(ready["content"]["status"], "error");
    assert_eq!(ready["entries"], 11);

    std::fs::write(&path, good).unwrap();
    let (s, v) = ed.post("/v1/admin/reload", json!({}), true).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 3);
}

#[tokio::test]
async fn a_preview_answers_with_the_draft_without_serving_it() {
    let ed = Editor::start(Content::Fixture, false).await;
    let good = std::fs::read_to_string(ed.content.entry("paspoort-kosten")).unwrap();
    let marker = "Dit is het conceptantwoord over de kosten.";
    let draft = with_first_answer_line(&good, marker);
    let questions = ["Wat kost een paspoort?", "Ik ben verhuisd"];
    let (s, v) = ed
        .preview(json!({"entry": draft, "questions": questions}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["id"], "paspoort-kosten");
    assert_eq!(v["entry"]["replaces"], true);
    let a = &v["answers"][0];
    assert_eq!(a["question"], questions[0]);
    assert_eq!(a["action"], "answer", "{v}");
    assert_eq!(a["faq_id"], "paspoort-kosten");
    assert_eq!(a["is_draft"], true);
    assert!(a["text"].as_str().unwrap().contains(marker), "{v}");
    for field in ["confidence", "options", "intent"] {
        assert!(a.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(v["answers"].as_array().unwrap().len(), 2);
    // What is served did not change.
    let served = ed.ask("Wat kost een paspoort?").await;
    assert!(!served["reply"]["text"].as_str().unwrap().contains(marker));
    assert_eq!(ed.app.content().status().version, 1);

    // A new entry with its own questions is found.
    let new = "---\nid: paspoort-fotohokje\ntitle: Pasfoto laten maken\nintent: paspoort\ndepartment: burgerzaken\nupl: http://standaarden.overheid.nl/owms/terms/paspoort\nquestions:\n  - Waar kan ik een pasfoto laten maken?\n  - pasfotoautomaat stadhuis\ntags: [pasfoto]\n---\nIn de hal van het stadhuis staat een pasfotoautomaat.\n";
    let (s, v) = ed
        .preview(json!({"entry": new, "questions": ["Waar kan ik een pasfoto laten maken?"]}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["replaces"], false);
    assert_eq!(v["answers"][0]["faq_id"], "paspoort-fotohokje", "{v}");

    // A draft with errors: 422 with the lines in the draft.
    let broken = good.replace("department: burgerzaken\n", "department: paspoorten\n");
    let (s, v) = ed
        .preview(json!({"entry": broken, "questions": ["Wat kost een paspoort?"]}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["file"], "paspoort-kosten.md", "{v}");
    assert_eq!(v["errors"][0]["line"], 5, "{v}");
    let (s, v) = ed.preview(json!({"entry": "geen front matter"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["file"], "concept.md", "{v}");
    assert_eq!(v["errors"][0]["line"], 1, "{v}");
    let (s, _) = ed
        .post("/v1/admin/preview", json!({"entry": new}), false)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// `name{labels} value` lines of the exposition, as (name, labels, value).
fn parse_metrics(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {l}"));
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}').unwrap_or_else(|| panic!("{l}"))),
                None => (series, ""),
            };
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{l}"
            );
            (name.to_string(), labels.to_string(), value)
        })
        .collect()
}

#[tokio::test]
async fn metrics_have_route_templates_and_no_personal_data() {
    let ed = Editor::start(Content::Fixture, false).await;
    let conversation = "gesprek-jan-jansen-0612345678";
    let (s, _) = ed
        .post(
            "/v1/messages",
            json!({"conversation_id": conversation, "channel": "web", "text": "Wat kost een paspoort voor Piet Geheimnaam?"}),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    ed.get("/healthz", false).await;
    ed.get("/v1/geheime-pagina-van-piet", false).await;
    ed.get("/v1/admin/content", true).await;

    let resp = ed
        .router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    for secret in [
        "jansen",
        "0612345678",
        "Geheimnaam",
        "geheime-pagina",
        "Piet",
    ] {
        assert!(!text.contains(secret), "{secret} in metrics:\n{text}");
    }
    let series = parse_metrics(&text);
    let has = |name: &str, label: &str| {
        series
            .iter()
            .any(|(n, l, _)| n == name && l.contains(label))
    };
    assert!(
        has(
            "loket_http_requests_total",
            "route=\"/v1/messages\",method=\"POST\",status=\"200\""
        ),
        "{text}"
    );
    assert!(
        has(
            "loket_http_requests_total",
            "route=\"unmatched\",method=\"GET\",status=\"404\""
        ),
        "{text}"
    );
    assert!(has(
        "loket_http_request_duration_seconds_bucket",
        "route=\"/healthz\",le=\"+Inf\""
    ));
    assert!(has(
        "loket_http_request_duration_seconds_count",
        "route=\"/v1/admin/content\""
    ));
    assert!(has(
        "loket_classifier_duration_seconds_bucket",
        "le=\"0.005\""
    ));
    assert!(has("loket_classifier_duration_seconds_count", ""));
    // What operators' dashboards expect of every service.
    assert!(has("loket_build_info", "version=\""), "{text}");
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        let value = series.iter().find(|(n, _, _)| n == name).map(|s| s.2);
        assert!(value.is_some_and(|v| v > 0.0), "{name}: {value:?}\n{text}");
    }
    assert!(has("loket_outcomes_total", "channel=\"web\""), "{text}");
    assert!(has("loket_classifier_queue_depth", ""));
    assert!(has("loket_content_version", ""));
    assert!(has("loket_content_reload_errors_total", ""));
    for name in [
        "loket_http_requests_total",
        "loket_http_request_duration_seconds",
        "loket_classifier_duration_seconds",
        "loket_classifier_queue_depth",
        "loket_outcomes_total",
        "loket_handoffs_waiting",
        "loket_content_version",
        "loket_content_reload_errors_total",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}:\n{text}");
    }

    // A conversation handed over shows up as waiting for its department.
    ed.post(
        "/v1/messages",
        json!({"conversation_id": "wacht-1", "channel": "web", "text": "ik wil een medewerker spreken"}),
        false,
    )
    .await;
    let (_, text) = ed
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let waiting: f64 = parse_metrics(&text)
        .iter()
        .filter(|(n, _, _)| n == "loket_handoffs_waiting")
        .map(|s| s.2)
        .sum();
    assert!(waiting >= 1.0, "{text}");
    assert!(!text.contains("wacht-1"));
}

/// The binary under test; `LOKET_TEST_BIN` points elsewhere when several worktrees share
/// one target directory (and so one `target/debug/loket`).
fn loket_bin() -> PathBuf {
    std::env::var_os("LOKET_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_loket")))
}

fn loket(copy: &ContentCopy, args: &[&str]) -> (i32, String) {
    let out = Command::new(loket_bin())
        .args(args)
        .env("LOKET__CLASSIFIER__BACKEND", "hashing")
        .env("LOKET__PATHS__KNOWLEDGE_BASE", copy.kb())
        .env("LOKET__PATHS__INTENTS", copy.intents())
        .env("LOKET__PATHS__DATA_DIR", copy.dir.path().join("data"))
        .env("LOKET__PATHS__CACHE_DIR", copy.dir.path().join("cache"))
        .current_dir(copy.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
}

#[test]
fn kb_test_passes_on_the_bundled_knowledge_base_and_fails_when_an_entry_changes() {
    let copy = ContentCopy::new(&Content::Bundled);
    let (code, out) = loket(&copy, &["kb", "test"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: "), "{out}");
    // kb check does not take tests.yaml for an entry.
    let (code, out) = loket(&copy, &["kb", "check"]);
    assert_eq!(code, 0, "{out}");

    // Renaming an entry as an editor would (its id, its file name and the `related` lists
    // that name it) breaks the case that expects the old id, with its line.
    let rename = |from: &str, to: &str| {
        let dir = copy.kb().join("landelijk/entries");
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let text = std::fs::read_to_string(&p).unwrap();
            if text.contains(from) {
                std::fs::write(&p, text.replace(from, to)).unwrap();
            }
        }
        std::fs::rename(dir.join(format!("{from}.md")), dir.join(format!("{to}.md"))).unwrap();
    };
    rename("paspoort-kosten", "paspoort-tarieven");
    let tests = std::fs::read_to_string(copy.kb().join("tests.yaml")).unwrap();
    let line = tests
        .lines()
        .position(|l| l.contains("Wat kost een paspoort?"))
        .unwrap()
        + 1;
    let (code, out) = loket(&copy, &["kb", "test"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("tests.yaml:{line}: \"Wat kost een paspoort?\"")),
        "{out}"
    );
    assert!(out.contains("1 van de "), "{out}");
    let (code, out) = loket(&copy, &["kb", "test", "--json"]);
    assert_eq!(code, 1, "{out}");
    let json_start = out.find('{').unwrap();
    let report: Value = serde_json::from_str(
        out[json_start..]
            .rsplit_once('}')
            .map(|(a, _)| format!("{a}}}"))
            .unwrap()
            .as_str(),
    )
    .unwrap();
    assert_eq!(report["failed"], 1, "{report}");

    rename("paspoort-tarieven", "paspoort-kosten");
    let (code, out) = loket(&copy, &["kb", "test"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn kb_coverage_lists_gaps_and_unreachable_entries() {
    let copy = ContentCopy::new(&Content::Fixture);
    let (code, out) = loket(&copy, &["kb", "coverage", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["unreachable"], json!([]), "{v}");
    let without: Vec<&str> = v["intents_without_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(!without.contains(&"paspoort"), "{v}");
    assert!(without.contains(&"huwelijk"), "{v}");
    assert!(v["upl_uncovered_total"].as_u64().unwrap() > 10);

    // A copy of an entry's questions under another id and title, with an answer that
    // matches nothing: every question goes to the original (an example question is answered
    // with the first entry that has it), so the copy is never the first match.
    let src = std::fs::read_to_string(copy.entry("paspoort-kosten")).unwrap();
    let header_end = src[3..].find("\n---\n").unwrap() + 3 + "\n---\n".len();
    let shadow = format!(
        "{}Zie de lijst.\n\n{}\n",
        src[..header_end]
            .replace("id: paspoort-kosten\n", "id: paspoort-prijzen\n")
            .replace("title: Kosten paspoort\n", "title: Oud item\n"),
        "Overige informatie volgt later. ".repeat(30)
    );
    // Files load in name order; on a tie the earlier entry ranks first.
    std::fs::write(copy.entry("paspoort-prijzen"), shadow).unwrap();
    let (code, out) = loket(&copy, &["kb", "coverage"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Items die geen enkele voorbeeldvraag bereikt (1 van de 12)"),
        "{out}"
    );
    assert!(
        out.contains("/paspoort-prijzen.md: `paspoort-prijzen` is nooit de beste match"),
        "{out}"
    );
}

/// Serving and the editors' preview run one pipeline (`loket::turn`): every rule of the guard
/// and the decision reaches both. Messages that only the guard makes readable (a control
/// character inside a word, an escape sequence, a greeting, a BSN) get the same answer
/// from both, and the same as their clean spelling.
#[tokio::test]
async fn serving_and_the_preview_answer_through_one_pipeline() {
    let ed = Editor::start(Content::Fixture, false).await;
    // The draft is the entry as it is: the preview's content equals the served content.
    let draft = std::fs::read_to_string(ed.content.entry("paspoort-kosten")).unwrap();
    let questions = [
        "Wat kost een paspoort?",
        "Wat kost een pas\u{7}poort?",
        "\u{1b}[31mWat kost een paspoort?\u{1b}[0m",
        "Goedemorgen, ik ben verhuisd",
        "Mijn BSN is 111222333, wanneer wordt het afval opgehaald?",
        "ik wil een medewerker spreken",
    ];
    let (s, preview) = ed
        .preview(json!({"entry": draft, "questions": questions}))
        .await;
    assert_eq!(s, StatusCode::OK, "{preview}");
    for (i, q) in questions.iter().enumerate() {
        let served = ed.ask(q).await;
        let previewed = &preview["answers"][i];
        for field in ["action", "intent", "faq_id"] {
            assert_eq!(
                served[field], previewed[field],
                "{q:?}: {field} differs\nserved: {served}\npreviewed: {previewed}"
            );
        }
        // Serving adds the notice that a program answers to a conversation's first reply.
        let text = served["reply"]["text"].as_str().unwrap();
        assert!(
            text.ends_with(previewed["text"].as_str().unwrap()),
            "{q:?}: {text:?} vs {previewed}"
        );
    }
    // The guard ran in the preview: the control characters did not change the answer.
    let answers = preview["answers"].as_array().unwrap();
    assert_eq!(answers[0]["faq_id"], "paspoort-kosten", "{preview}");
    assert_eq!(answers[1]["faq_id"], answers[0]["faq_id"], "{preview}");
    assert_eq!(answers[2]["faq_id"], answers[0]["faq_id"], "{preview}");
    assert_eq!(answers[4]["action"], "privacy_redirect", "{preview}");
}
