//! The encoder worker: one OS thread owns the model; async callers send a text with a
//! oneshot reply channel through a bounded queue. The thread takes whatever is waiting (up
//! to `max_batch`) and encodes it as one batch, so concurrent requests share a forward pass.
//! A full queue is refused at once ([`WorkerError::Overloaded`], answered 429) rather than
//! queueing without limit; inference never runs on the async runtime's threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use tokio::sync::oneshot;

use super::Embed;

#[derive(Debug, thiserror::Error, Clone)]
pub enum WorkerError {
    #[error("the classifier is busy; try again shortly")]
    Overloaded,
    #[error("the classifier stopped")]
    Stopped,
    #[error("the classifier failed: {0}")]
    Failed(String),
}

struct Job {
    text: String,
    reply: oneshot::Sender<Result<Vec<f32>, WorkerError>>,
}

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub queued: AtomicUsize,
    pub batches: AtomicUsize,
    pub encoded: AtomicUsize,
    pub rejected: AtomicUsize,
    /// Sum of batch encode times in microseconds.
    pub busy_micros: AtomicUsize,
}

#[derive(Clone)]
pub struct EmbedWorker {
    tx: Sender<Job>,
    pub stats: Arc<WorkerStats>,
    dim: usize,
    /// The model itself, for work off the request path (rebuilding the content snapshot).
    embedder: Arc<dyn Embed>,
}

impl EmbedWorker {
    pub fn start(embedder: Arc<dyn Embed>, queue_capacity: usize, max_batch: usize) -> Self {
        let (tx, rx) = bounded::<Job>(queue_capacity);
        let stats = Arc::new(WorkerStats::default());
        let dim = embedder.dim();
        let s = stats.clone();
        let model = embedder.clone();
        std::thread::Builder::new()
            .name("loket-encoder".into())
            .spawn(move || run(model, rx, max_batch.max(1), s))
            .expect("spawn encoder thread");
        EmbedWorker {
            tx,
            stats,
            dim,
            embedder,
        }
    }

    /// The encoder behind the worker, for batch work outside the queue (content reloads,
    /// previews); it is `Sync`, so this can run while the worker thread serves messages.
    pub fn embedder(&self) -> Arc<dyn Embed> {
        self.embedder.clone()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn queue_depth(&self) -> usize {
        self.tx.len()
    }

    pub async fn embed(&self, text: &str) -> Result<Vec<f32>, WorkerError> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Job {
            text: text.to_string(),
            reply,
        }) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                return Err(WorkerError::Overloaded);
            }
            Err(TrySendError::Disconnected(_)) => return Err(WorkerError::Stopped),
        }
        rx.await.map_err(|_| WorkerError::Stopped)?
    }
}

fn run(embedder: Arc<dyn Embed>, rx: Receiver<Job>, max_batch: usize, stats: Arc<WorkerStats>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        // A short wait lets requests that arrive together share one forward pass.
        let deadline = Instant::now() + Duration::from_micros(300);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) if Instant::now() < deadline && jobs.len() > 1 => std::thread::yield_now(),
                Err(_) => break,
            }
        }
        let texts: Vec<&str> = jobs.iter().map(|j| j.text.as_str()).collect();
        let start = Instant::now();
        let result = embedder.embed(&texts);
        crate::metrics::record_classifier(start.elapsed());
        stats
            .busy_micros
            .fetch_add(start.elapsed().as_micros() as usize, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.encoded.fetch_add(jobs.len(), Ordering::Relaxed);
        stats.queued.fetch_sub(jobs.len(), Ordering::Relaxed);
        match result {
            Ok(vectors) => {
                for (job, v) in jobs.into_iter().zip(vectors) {
                    let _ = job.reply.send(Ok(v));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::error!(error = %msg, "encoder failed");
                for job in jobs {
                    let _ = job.reply.send(Err(WorkerError::Failed(msg.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::{ClassifierError, HashingEmbedder};

    struct Slow;
    impl Embed for Slow {
        fn dim(&self) -> usize {
            2
        }
        fn id(&self) -> String {
            "slow".into()
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ClassifierError> {
            std::thread::sleep(Duration::from_millis(50));
            Ok(texts.iter().map(|_| vec![1.0, 0.0]).collect())
        }
    }

    #[tokio::test]
    async fn encodes_through_the_worker() {
        let w = EmbedWorker::start(Arc::new(HashingEmbedder::default()), 8, 4);
        let v = w.embed("paspoort").await.unwrap();
        assert_eq!(v.len(), 1024);
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_not_queued() {
        let w = EmbedWorker::start(Arc::new(Slow), 2, 1);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move { w.embed("x").await }));
        }
        let mut overloaded = 0;
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(WorkerError::Overloaded) => overloaded += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(overloaded > 0, "some requests must be refused");
        assert!(ok > 0, "some requests must be served");
    }
}
