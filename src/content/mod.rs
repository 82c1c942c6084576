//! The content being served: the municipality's knowledge base and intents, turned into a
//! [`Snapshot`] (FAQ index, intent head, embeddings) that is swapped whole when the files
//! change ([`reload`]), with the status the API reports (version, errors, warnings).
//!
//! Handlers read [`Content::snapshot`]; nothing holds the lock longer than it takes to clone
//! an `Arc`, so a reload never waits for a request and a request never sees half a reload.

pub mod municipalities;
pub mod reload;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context as _, Result};
use chrono::Utc;

use crate::classifier::Embed;
use crate::classifier::cache::EmbeddingCache;
use crate::config::Config;
use crate::knowledge::{self, KnowledgeBase};
use crate::understand::Snapshot;

pub use municipalities::{Municipalities, Municipality};
pub use reload::{ContentProblem, ContentStatus, Preview, WatchSettings, watch};

/// The served snapshot and what it takes to rebuild it.
pub struct Content {
    /// A std `RwLock` is right here: it is held only to clone or replace an `Arc`.
    served: RwLock<Arc<Snapshot>>,
    status: RwLock<ContentStatus>,
    /// Serialises rebuilds: reloads and previews share the CPU.
    busy: tokio::sync::Mutex<()>,
    /// Fingerprint of the files as of the latest load attempt.
    seen: Mutex<u64>,
    config: Arc<Config>,
    /// The municipality folder this content is loaded from.
    dir: PathBuf,
    /// The encoder that builds the snapshots (the same one the worker thread runs).
    embedder: Arc<dyn Embed>,
}

impl Content {
    /// Content serving `snapshot`, freshly loaded from the municipality folder `dir` (and
    /// `config`'s intents).
    pub fn new(
        config: Arc<Config>,
        dir: PathBuf,
        snapshot: Snapshot,
        embedder: Arc<dyn Embed>,
    ) -> Content {
        Content {
            status: RwLock::new(ContentStatus::first(&snapshot)),
            seen: Mutex::new(reload::fingerprint(&config, &dir)),
            dir,
            served: RwLock::new(Arc::new(snapshot)),
            busy: tokio::sync::Mutex::new(()),
            config,
            embedder,
        }
    }

    /// The snapshot in use.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.served
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn replace(&self, snapshot: Snapshot) {
        *self.served.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
    }

    pub fn status(&self) -> ContentStatus {
        self.status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The municipality folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn seen(&self) -> u64 {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Loads and checks the municipality folder `dir` on disk; warnings are logged, errors
/// refuse it.
pub fn load_knowledge(config: &Config, dir: &Path) -> Result<KnowledgeBase> {
    let loaded = knowledge::load(dir, &config.paths.intents, Utc::now().date_naive());
    for d in loaded.diagnostics.iter().filter(|d| !d.blocks_serving()) {
        tracing::warn!("{d}");
    }
    loaded
        .into_result()
        .map_err(|e| anyhow::anyhow!("the knowledge base {} has errors:\n{e}", dir.display()))
}

/// The FAQ index, the intent head and the embeddings of `kb` (cached on disk by text, and
/// in memory once for every municipality of the process).
pub fn build_snapshot(
    config: &Config,
    kb: KnowledgeBase,
    embedder: &dyn Embed,
) -> Result<Snapshot> {
    let cache = EmbeddingCache::shared(&config.cache_dir(), embedder);
    Snapshot::build(kb, embedder, &cache).context("building the classifier and FAQ index")
}

/// Gives the memory a build freed back to the system. Building (encoding, indexing, fitting)
/// allocates far more than the snapshot keeps, on several threads, each with its own malloc
/// arena; without this, the resident size after a start or a reload counts that garbage
/// (measured with 50 municipalities: `loket bench municipalities`, BENCHMARKS.md).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
