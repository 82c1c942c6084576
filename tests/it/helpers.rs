//! `TestApp`: Loket built by `app::Builder` on a fresh SQLite file, its router driven with
//! `oneshot`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use loket::config::Config;
use loket::store::SqlStore;
use serde_json::Value;
use tower::ServiceExt;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

/// Copies the directory `from` and everything in it to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// `loket kb check` on a knowledge base and intents directory: exit code and output.
/// Replaces `from` by `to` in the file at `path` (which must contain it).
pub fn edit_file(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// The 1-based number of the first line of `text` that starts with `prefix`.
pub fn line_starting(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}"))
        + 1
}

pub fn kb_check(kb: &Path, intents: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loket"))
        .args(["kb", "check"])
        .arg(kb)
        .arg("--intents")
        .arg(intents)
        .current_dir(root())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The model directory, or a panic that says how to get it.
pub fn model_dir() -> PathBuf {
    let dir = root().join("models/multilingual-e5-small");
    assert!(
        dir.join("model.gguf").exists(),
        "the model is missing: run scripts/fetch-model.sh (scripts/test.sh does this)"
    );
    dir
}

pub struct TestApp {
    pub router: Router,
    pub store: Arc<SqlStore>,
    /// Kept so the directory lives as long as the app.
    _data_dir: tempfile::TempDir,
}

pub enum Content {
    /// The small fixture knowledge base in tests/fixtures.
    Fixture,
    /// The bundled example municipality.
    Bundled,
}

pub fn config(content: Content, real_model: bool, data_dir: &Path) -> Config {
    let mut c = Config::default();
    let (kb, intents) = match content {
        Content::Fixture => (fixtures().join("kb"), fixtures().join("intents")),
        Content::Bundled => (root().join("knowledge-base"), root().join("intents")),
    };
    c.paths.knowledge_base = kb;
    c.paths.intents = intents;
    c.paths.models = root().join("models");
    c.paths.data_dir = data_dir.to_path_buf();
    // Shared between tests, so the intent examples are encoded once per model.
    c.paths.cache_dir = Some(root().join("target/test-cache"));
    c.classifier.backend = if real_model {
        "e5".into()
    } else {
        "hashing".into()
    };
    if real_model {
        model_dir();
    }
    c
}

impl TestApp {
    pub async fn spawn(content: Content, real_model: bool) -> TestApp {
        let data_dir = tempfile::tempdir().unwrap();
        let config = Arc::new(config(content, real_model, data_dir.path()));
        let store = Arc::new(SqlStore::connect(&config.database_url(), 4).await.unwrap());
        let app = loket::app::Builder::shared(config)
            .store(store.clone())
            .without_background()
            .without_watch()
            .build()
            .await
            .unwrap();
        let router = app.router.clone();
        TestApp {
            router,
            store,
            _data_dir: data_dir,
        }
    }

    /// Serves the app over real HTTP on 127.0.0.1 (a free port) in a background task, for
    /// clients outside the process such as a browser. The server stops with the runtime.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = self.router.clone();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        addr
    }

    pub async fn request(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, json)
    }

    pub async fn post_raw(&self, body: impl Into<Body>, content_type: &str) -> (StatusCode, Value) {
        let req = Request::post("/v1/messages")
            .header("content-type", content_type)
            .body(body.into())
            .unwrap();
        let (s, _, v) = self.request(req).await;
        (s, v)
    }

    pub async fn ask(&self, conversation: &str, text: &str) -> Value {
        let body =
            serde_json::json!({"conversation_id": conversation, "channel": "web", "text": text});
        let (status, v) = self.post_raw(body.to_string(), "application/json").await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }
}
