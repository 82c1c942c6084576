//! Turning text into meaning: the sentence encoder (multilingual-e5-small in our own int8
//! forward pass, `bert` + `int8` + `team`, with the best int8 kernel of the CPU; on candle in
//! f32 as the reference; or a lexical stand-in for fast tests), the intent head trained on `intents/`, an embedding
//! cache, and the worker thread that owns the encoder and batches concurrent requests.

pub mod bert;
pub mod cache;
pub mod e5s1;
pub mod encoder;
pub mod hashing;
pub mod head;
pub mod int8;
pub mod matmul;
pub mod team;
pub mod tokenize;
pub mod worker;

use std::path::Path;
use std::sync::Arc;

pub use encoder::{Encoder, WeightFormat};
pub use hashing::HashingEmbedder;
pub use head::{HeadConfig, IntentHead};
pub use worker::{EmbedWorker, WorkerError};

#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error(transparent)]
    Encoder(#[from] encoder::EncoderError),
    #[error(transparent)]
    Head(#[from] head::HeadError),
}

/// Realistic citizen messages of varied length (none from a test set), for the benchmarks
/// and the kernels' embedding test.
pub const SAMPLE_MESSAGES: &[&str] = &[
    "wat kost een paspoort?",
    "Goedemiddag, ik ga volgende maand verhuizen naar de Kerkstraat. Hoe geef ik dat door?",
    "de grijze container is niet geleegd",
    "openingstijden gemeentehuis",
    "Hoe vraag ik een parkeervergunning aan voor mijn bezoek?",
    "ik wil graag iemand spreken",
    "mijn rijbewijs verloopt binnenkort, wat moet ik doen",
    "Kan ik kwijtschelding krijgen voor de gemeentelijke belastingen als ik weinig inkomen heb?",
];

/// Anything that turns texts into L2-normalised vectors of one fixed dimension.
pub trait Embed: Send + Sync {
    fn dim(&self) -> usize;
    /// Identifies the model and its settings, so cached vectors of another model are not used.
    fn id(&self) -> String;
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ClassifierError>;
}

impl Embed for Encoder {
    fn dim(&self) -> usize {
        Encoder::dim(self)
    }
    fn id(&self) -> String {
        format!("e5-small-{:?}", self.format).to_lowercase()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ClassifierError> {
        Ok(Encoder::embed(self, texts)?)
    }
}

/// Loads the configured backend.
pub fn load_backend(
    backend: &str,
    model_dir: &Path,
    format: WeightFormat,
    max_tokens: usize,
    threads: usize,
) -> Result<Arc<dyn Embed>, ClassifierError> {
    match backend {
        "hashing" => Ok(Arc::new(HashingEmbedder::default())),
        _ => Ok(Arc::new(Encoder::load(
            model_dir, format, max_tokens, threads,
        )?)),
    }
}

/// Sets the compute threads of candle's pools once, before any of them starts: left unset,
/// candle re-reads /proc/cpuinfo on every f32 matmul (about 10 ms per forward pass).
pub fn init_threads(threads: usize) {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: called at start-up before any other thread reads the environment.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.max(1).to_string()) };
    }
}
