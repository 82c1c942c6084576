//! The one wiring of Loket: from a [`Config`] to an [`App`] (content loaded and checked,
//! encoder loaded, intent head trained, database migrated, router, background loops) —
//! used by `loket serve`, every test harness and the benchmarks — and serving it with
//! graceful shutdown on SIGTERM / Ctrl-C.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use axum::Router;
use tokio::task::JoinHandle;

use crate::channels::{self, conversation::Conversations};
use crate::classifier::{self, Embed, EmbedWorker, WeightFormat};
use crate::config::Config;
use crate::content::{self, Content, Municipalities, WatchSettings};
use crate::http::{AppState, router};
use crate::shutdown::Shutdown;
use crate::store::{SqlStore, Store};

/// Weight format of the encoder's linear layers at run time (see BENCHMARKS.md): the int8
/// forward pass (with the best int8 kernel of the CPU, `LOKET_KERNEL` to force one);
/// `LOKET_WEIGHTS` chooses another for measuring.
pub fn weight_format() -> WeightFormat {
    std::env::var("LOKET_WEIGHTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(WeightFormat::Int8)
}

pub fn load_embedder(config: &Config) -> Result<Arc<dyn Embed>> {
    classifier::int8::Kernel::selected().map_err(anyhow::Error::msg)?;
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

/// Loads, checks and builds every municipality folder of `config`, the default one first,
/// one after the other. (Building two at once on the two cores restarted 50 municipalities
/// in 2.7 s instead of 4.3 s but raised the peak memory from 323 to 444 MB: BENCHMARKS.md.)
fn load_municipalities(
    config: &Arc<Config>,
    embedder: &Arc<dyn Embed>,
) -> Result<Vec<Arc<Content>>> {
    let dirs = config.municipality_dirs();
    let total = dirs.len();
    let mut out = Vec::with_capacity(total);
    for (i, dir) in dirs.iter().enumerate() {
        out.push(load_municipality(config, embedder, dir, i, total)?);
    }
    content::release_freed_memory();
    Ok(out)
}

fn load_municipality(
    config: &Arc<Config>,
    embedder: &Arc<dyn Embed>,
    dir: &std::path::Path,
    i: usize,
    total: usize,
) -> Result<Arc<Content>> {
    let started = Instant::now();
    let kb = content::load_knowledge(config, dir)?;
    let snapshot = content::build_snapshot(config, kb, embedder.as_ref())?;
    tracing::info!(
        municipality = %snapshot.kb.settings.name,
        slug = %snapshot.kb.settings.slug,
        entries = snapshot.kb.entries.len(),
        n = i + 1,
        of = total,
        ms = started.elapsed().as_millis() as u64,
        "municipality ready"
    );
    Ok(Arc::new(Content::new(
        config.clone(),
        dir.to_path_buf(),
        snapshot,
        embedder.clone(),
    )))
}

/// Which parts [`Builder::build`] starts besides the router.
pub struct Builder {
    config: Arc<Config>,
    store: Option<Arc<SqlStore>>,
    background: bool,
    watch: bool,
}

impl Builder {
    pub fn new(config: Config) -> Builder {
        Builder::shared(Arc::new(config))
    }

    pub fn shared(config: Arc<Config>) -> Builder {
        Builder {
            config,
            store: None,
            background: true,
            watch: true,
        }
    }

    /// Use this store instead of opening `database.url` (tests bring their own).
    pub fn store(mut self, store: Arc<SqlStore>) -> Builder {
        self.store = Some(store);
        self
    }

    /// Leave the channels' background loops (inbox, outbox, platform webhooks) stopped.
    pub fn without_background(mut self) -> Builder {
        self.background = false;
        self
    }

    /// Do not watch the content directories for edits.
    pub fn without_watch(mut self) -> Builder {
        self.watch = false;
        self
    }

    /// Loads and checks the content, loads the encoder, trains the intent head, opens and
    /// migrates the database, and starts what was asked for.
    pub async fn build(self) -> Result<App> {
        let start = Instant::now();
        let config = self.config;
        let store = match self.store {
            Some(s) => s,
            None => connect_store(&config).await?,
        };
        let cfg = config.clone();
        let (embedder, contents) = tokio::task::spawn_blocking(move || -> Result<_> {
            let embedder = load_embedder(&cfg)?;
            let contents = load_municipalities(&cfg, &embedder)?;
            Ok((embedder, contents))
        })
        .await??;
        let municipalities = Arc::new(Municipalities::new(
            contents,
            &config.whatsapp.phone_number_id,
        )?);
        let default = municipalities.default().slug.clone();
        // Until adopted, such conversations count as the default one's everywhere.
        match store.adopt_conversations(&default).await {
            Ok(0) => {}
            Ok(adopted) => {
                tracing::info!(adopted, municipality = %default, "conversations from before municipalities were known now belong to the default one")
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot give older conversations to the default municipality now")
            }
        }
        tracing::info!(
            municipalities = municipalities.len(),
            ms = start.elapsed().as_millis() as u64,
            "knowledge bases and classifier ready"
        );
        let encoder = EmbedWorker::start(
            embedder,
            config.classifier.queue_capacity,
            config.classifier.max_batch,
        );
        let conversations = Conversations {
            municipalities,
            store,
            encoder,
            settings: config,
        };
        let state = AppState::new(&conversations);
        let shutdown = Shutdown::new();
        let mut tasks = Vec::new();
        if self.watch {
            // Edits to a municipality's folder (or the library, or intents/) take effect
            // without a restart; one municipality's edit reloads that one alone.
            for m in conversations.municipalities.iter() {
                tasks.push(content::watch(
                    m.content.clone(),
                    WatchSettings::default(),
                    shutdown.stop(),
                ));
            }
        }
        if self.background {
            tasks.extend(channels::start(&conversations, &state.wakers, &shutdown));
        }
        Ok(App {
            router: router(state.clone()),
            state,
            shutdown,
            tasks,
        })
    }
}

/// A built Loket: its router, its parts, and the loops running beside it.
pub struct App {
    pub router: Router,
    pub state: AppState,
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<()>>,
}

impl App {
    pub fn store(&self) -> &Arc<SqlStore> {
        &self.state.parts.store
    }

    /// The default municipality's content.
    pub fn content(&self) -> &Arc<Content> {
        self.state.parts.content()
    }

    pub fn settings(&self) -> &Arc<Config> {
        &self.state.parts.settings
    }

    /// The serving path outside HTTP (`loket ask`, tests).
    pub fn conversations(&self) -> Conversations {
        self.state.parts.clone()
    }

    /// Serves HTTP on `listener` until `signal`, then stops the loops in order (see
    /// [`App::shutdown`]).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let limits = connection_limits(&self.state.parts.settings);
        crate::http::listener::serve(listener, self.router.clone(), limits, signal).await;
        self.shutdown().await;
    }

    /// Asks every loop to finish the work in hand and waits for them (at most the shutdown
    /// grace period), then closes the database.
    pub async fn shutdown(self) {
        self.shutdown.begin();
        let grace = Duration::from_secs(self.state.parts.settings.server.shutdown_grace_secs);
        let all = futures_join_all(self.tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("background loops still busy after the grace period; stopping");
        }
        self.state.parts.store.close().await;
    }

    /// Stops every loop at once, as a crash would (tests of what survives one).
    pub fn abort(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

/// Waits for every task (their results are logged by the tasks themselves).
async fn futures_join_all(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
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
    let started = Instant::now();
    let app = Builder::new(config).build().await?;
    let settings = app.settings().clone();
    let listener = tokio::net::TcpListener::bind(&settings.server.bind)
        .await
        .with_context(|| format!("binding {}", settings.server.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, ready_ms = started.elapsed().as_millis() as u64, "Loket is listening");
    // Machine-readable line for scripts and tests that start Loket on port 0.
    println!("listening on http://{addr}");
    let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
    crate::http::listener::raise_open_files_limit();
    app.serve(listener, shutdown_signal(grace)).await;
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
