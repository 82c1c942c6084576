//! `Server`: Loket served on a real loopback port in this process, with its background
//! loops (inbound queue, outbox, platform webhooks) running — for tests that need a
//! browser, the fake Graph API or webhooks.

use std::net::SocketAddr;
use std::sync::Arc;

use loket::config::Config;
use loket::store::SqlStore;
use loket::store::keys::Scope;
use serde_json::Value;

use crate::helpers::{Content, config};

pub struct Server {
    pub addr: SocketAddr,
    /// Its loops stop with [`Server::stop`] as they would in a crash, or in order with
    /// [`Server::shut_down`].
    app: Option<loket::app::App>,
    /// The database, for opening it again after a shutdown.
    pub database_url: String,
    pub store: Arc<SqlStore>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _data_dir: Option<tempfile::TempDir>,
}

impl Server {
    /// The bundled municipality with the lexical stand-in encoder, on a fresh SQLite file,
    /// with `customize` applied to the configuration.
    pub async fn start(customize: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(Content::Bundled, false, dir.path());
        customize(&mut cfg);
        let mut s = Server::start_with(cfg).await;
        s._data_dir = Some(dir);
        s
    }

    pub async fn start_with(cfg: Config) -> Server {
        let config = Arc::new(cfg);
        let store = Arc::new(
            SqlStore::connect(&config.database_url(), 8)
                .await
                .expect("database"),
        );
        let app = loket::app::Builder::shared(config.clone())
            .store(store.clone())
            .without_watch()
            .build()
            .await
            .expect("app");
        let router = app.router.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = loket::app::connection_limits(&config);
        let tasks = vec![tokio::spawn(async move {
            loket::http::listener::serve(listener, router, limits, std::future::pending()).await;
        })];
        Server {
            addr,
            app: Some(app),
            database_url: config.database_url(),
            store,
            tasks,
            _data_dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn key(&self, scopes: &[Scope]) -> String {
        self.store.create_key("test", scopes).await.unwrap().1
    }

    /// GETs `path` without a key and reads the answer as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let r = client().get(self.url(path)).send().await.unwrap();
        r.json().await.unwrap()
    }

    /// GETs `path` with `key` as bearer token: the status and the JSON answer (Null when
    /// there is none).
    pub async fn get_as(&self, key: &str, path: &str) -> (u16, Value) {
        answer(client().get(self.url(path)).bearer_auth(key)).await
    }

    /// POSTs `body` as JSON (no body when it is Null) to `path` with `key` as bearer token:
    /// the status and the JSON answer (Null when there is none).
    pub async fn post_as(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        let req = client().post(self.url(path)).bearer_auth(key);
        answer(if body.is_null() { req } else { req.json(&body) }).await
    }

    /// An agent's action on a conversation (`claim`, `reply`, `notes`, …): a POST to
    /// `/v1/conversations/{conversation}/{action}` with `key`.
    pub async fn act(
        &self,
        key: &str,
        conversation: &str,
        action: &str,
        body: Value,
    ) -> (u16, Value) {
        let path = format!("/v1/conversations/{conversation}/{action}");
        self.post_as(key, &path, body).await
    }

    /// Stops the server and its loops (the database stays).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(app) = self.app.as_mut() {
            app.abort();
        }
    }

    /// Stops serving HTTP, then shuts the loops down as `loket serve` does on SIGTERM: each
    /// finishes its work in hand; the database is closed.
    pub async fn shut_down(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `req`: the status and the JSON answer (Null when there is none).
async fn answer(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Polls `f` every 50 ms until it returns Some, or panics with `what` after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
