//! Start-up: from a [`Config`] to a running [`Engine`] (content loaded and checked, encoder
//! loaded, intent head trained, database migrated), and the HTTP server around it with
//! graceful shutdown on SIGTERM / Ctrl-C.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use chrono::Utc;

use crate::classifier::cache::EmbeddingCache;
use crate::classifier::{self, Embed, EmbedWorker, WeightFormat};
use crate::config::Config;
use crate::engine::Engine;
use crate::http::{AppState, router};
use crate::knowledge::{self, KnowledgeBase};
use crate::store::{SqlStore, Store};
use crate::understand::Snapshot;

/// Weight format of the encoder's linear layers at run time (see BENCHMARKS.md): the int8
/// forward pass where the CPU has AVX-512 VNNI, candle's Q8_0 kernels elsewhere;
/// `LOKET_WEIGHTS` chooses another for measuring.
pub fn weight_format() -> WeightFormat {
    std::env::var("LOKET_WEIGHTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if classifier::int8::has_vnni() {
            WeightFormat::Int8
        } else {
            WeightFormat::Q8_0
        })
}

pub fn load_knowledge(config: &Config) -> Result<KnowledgeBase> {
    let loaded = knowledge::load(
        &config.paths.knowledge_base,
        &config.paths.intents,
        Utc::now().date_naive(),
    );
    for d in loaded.diagnostics.iter().filter(|d| !d.blocks_serving()) {
        tracing::warn!("{d}");
    }
    loaded
        .into_result()
        .map_err(|e| anyhow::anyhow!("the knowledge base has errors:\n{e}"))
}

pub fn load_embedder(config: &Config) -> Result<Arc<dyn Embed>> {
    classifier::init_threads(config.classifier.threads);
    classifier::load_backend(
        &config.classifier.backend,
        &config.model_dir(),
        weight_format(),
        config.classifier.max_tokens,
        config.classifier.threads,
    )
    .context("loading the encoder")
}

pub fn build_snapshot(
    config: &Config,
    kb: KnowledgeBase,
    embedder: &dyn Embed,
) -> Result<Snapshot> {
    let mut cache = EmbeddingCache::open(Some(&config.cache_dir()), embedder);
    Snapshot::build(kb, embedder, &mut cache).context("building the classifier and FAQ index")
}

/// Everything a running Loket needs, with the store given (tests pass their own).
pub async fn build_engine(config: Arc<Config>, store: Arc<SqlStore>) -> Result<Arc<Engine>> {
    let start = Instant::now();
    let kb = load_knowledge(&config)?;
    let cfg = config.clone();
    let (embedder, snapshot) = tokio::task::spawn_blocking(move || -> Result<_> {
        let embedder = load_embedder(&cfg)?;
        let snapshot = build_snapshot(&cfg, kb, embedder.as_ref())?;
        Ok((embedder, snapshot))
    })
    .await??;
    let worker = EmbedWorker::start(
        embedder,
        config.classifier.queue_capacity,
        config.classifier.max_batch,
    );
    tracing::info!(
        entries = snapshot.kb.entries.len(),
        intents = snapshot.kb.intents.len(),
        temperature = snapshot.head.temperature,
        ms = start.elapsed().as_millis() as u64,
        "knowledge base and classifier ready"
    );
    Ok(Arc::new(Engine::new(snapshot, worker, store, config)))
}

pub async fn connect_store(config: &Config) -> Result<Arc<SqlStore>> {
    let url = config.database_url();
    let store = SqlStore::connect_with(
        &url,
        config.database.max_connections,
        config.database.sqlite_full_sync,
    )
    .await
    .with_context(|| format!("opening the database ({})", redact_url(&url)))?;
    Ok(Arc::new(store))
}

/// The database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://[redacted]@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

pub async fn serve(config: Config) -> Result<()> {
    let config = Arc::new(config);
    let started = Instant::now();
    let store = connect_store(&config).await?;
    let engine = build_engine(config.clone(), store).await?;
    let listener = tokio::net::TcpListener::bind(&config.server.bind)
        .await
        .with_context(|| format!("binding {}", config.server.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, ready_ms = started.elapsed().as_millis() as u64, "Loket is listening");
    // Machine-readable line for scripts and tests that start Loket on port 0.
    println!("listening on http://{addr}");
    // Edits to knowledge-base/ and intents/ take effect without a restart.
    let watcher = crate::reload::watch(&engine, crate::reload::WatchSettings::default());
    let state = AppState::new(engine.clone());
    let _background = crate::channels::start(engine.clone(), &state.wakers)?;
    let app = router(state);
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    crate::http::listener::raise_open_files_limit();
    crate::http::listener::serve(
        listener,
        app,
        connection_limits(&config),
        shutdown_signal(grace),
    )
    .await;
    watcher.abort();
    engine.store.close().await;
    tracing::info!("Loket stopped");
    Ok(())
}

/// The `[server]` connection settings for [`crate::http::listener::serve`].
pub fn connection_limits(config: &Config) -> crate::http::listener::Limits {
    let server = &config.server;
    crate::http::listener::Limits {
        header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
        per_client: server.max_connections_per_client,
        total: server.max_connections,
        exempt: config.server.trusted_proxies(),
    }
}

async fn shutdown_signal(grace: Duration) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: finishing requests in flight"
    );
    // Requests still running after the grace period are cut off.
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        tracing::warn!("grace period over; exiting");
        std::process::exit(0);
    });
}

pub fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LOKET_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tantivy=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
