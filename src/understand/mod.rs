//! Understanding a message: the intent scores from the head, and the FAQ entry that answers
//! it, chosen from the intent scores, the semantic match with each entry's example questions
//! and the BM25 match in the tantivy index. An intent can be right while the chosen answer
//! is wrong, so the entry gets its own confidence.
//!
//! A [`Snapshot`] bundles one version of the content with everything derived from it (index,
//! head, question vectors); reloads build a new one and swap it in whole.

use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;

use crate::classifier::cache::EmbeddingCache;
use crate::classifier::encoder::cosine;
use crate::classifier::{ClassifierError, Embed, HeadConfig, IntentHead};
use crate::knowledge::KnowledgeBase;
use crate::search::{FaqIndex, SearchError};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Classifier(#[from] ClassifierError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error("no intents to train on")]
    NoIntents,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoredIntent {
    pub intent: String,
    pub probability: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    #[serde(skip)]
    pub entry: usize,
    pub faq_id: String,
    pub title: String,
    pub intent: String,
    /// Probability that this entry is the answer, among all entries.
    pub confidence: f32,
    pub bm25: f32,
    pub cosine: f32,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Understanding {
    /// Intents by probability, best first (top 5).
    pub intents: Vec<ScoredIntent>,
    /// Entries by confidence, best first (top 5).
    pub candidates: Vec<Candidate>,
}

impl Understanding {
    pub fn top_intent(&self) -> Option<&ScoredIntent> {
        self.intents.first()
    }
    pub fn probability_of(&self, intent: &str) -> f32 {
        self.intents
            .iter()
            .find(|i| i.intent == intent)
            .map(|i| i.probability)
            .unwrap_or(0.0)
    }
}

/// Weights of the fusion score `w_int·ln p(intent) + w_cos·cosine + w_lex·bm25/(max+k)`.
#[derive(Debug, Clone, Copy)]
pub struct FusionWeights {
    pub intent: f32,
    pub cosine: f32,
    pub lexical: f32,
}

impl Default for FusionWeights {
    fn default() -> Self {
        FusionWeights {
            intent: 1.0,
            cosine: 25.0,
            lexical: 2.0,
        }
    }
}

pub struct Snapshot {
    pub kb: KnowledgeBase,
    pub index: FaqIndex,
    pub head: IntentHead,
    /// Per entry: vectors of its title and example questions.
    entry_vectors: Vec<Vec<Vec<f32>>>,
    pub weights: FusionWeights,
    pub build_time: std::time::Duration,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("entries", &self.kb.entries.len())
            .field("intents", &self.kb.intents.len())
            .finish()
    }
}

/// The training examples of the head: the intents' examples plus every entry's questions
/// (labelled with the entry's intent).
pub fn training_set(kb: &KnowledgeBase) -> (Vec<String>, Vec<usize>, Vec<String>) {
    let labels: Vec<String> = kb.intents.iter().map(|i| i.id.clone()).collect();
    let mut texts = Vec::new();
    let mut ys = Vec::new();
    for (k, intent) in kb.intents.iter().enumerate() {
        for ex in &intent.examples {
            texts.push(ex.clone());
            ys.push(k);
        }
    }
    for e in &kb.entries {
        if let Some(k) = labels.iter().position(|l| *l == e.intent) {
            for q in &e.questions {
                texts.push(q.clone());
                ys.push(k);
            }
        }
    }
    (texts, ys, labels)
}

impl Snapshot {
    pub fn build(
        kb: KnowledgeBase,
        embedder: &dyn Embed,
        cache: &mut EmbeddingCache,
    ) -> Result<Snapshot, BuildError> {
        let start = Instant::now();
        if kb.intents.is_empty() {
            return Err(BuildError::NoIntents);
        }
        let index = FaqIndex::build(&kb.entries)?;
        let (texts, ys, labels) = training_set(&kb);
        let mut entry_texts = Vec::new();
        let mut owners = Vec::new();
        for (i, e) in kb.entries.iter().enumerate() {
            entry_texts.push(e.title.clone());
            owners.push(i);
            for q in &e.questions {
                entry_texts.push(q.clone());
                owners.push(i);
            }
        }
        let mut all = texts.clone();
        all.extend(entry_texts.iter().cloned());
        let vectors = cache.embed_all(embedder, &all)?;
        cache.save();
        let (train_vecs, entry_vecs) = vectors.split_at(texts.len());
        let head = IntentHead::train(train_vecs, &ys, labels, &HeadConfig::default())
            .map_err(ClassifierError::from)?;
        let mut entry_vectors = vec![Vec::new(); kb.entries.len()];
        for (owner, v) in owners.into_iter().zip(entry_vecs) {
            entry_vectors[owner].push(v.clone());
        }
        Ok(Snapshot {
            kb,
            index,
            head,
            entry_vectors,
            weights: FusionWeights::default(),
            build_time: start.elapsed(),
        })
    }

    /// Intent probabilities for a message vector, best first.
    pub fn intents(&self, vector: &[f32]) -> Vec<ScoredIntent> {
        let p = self.head.predict(vector);
        let mut scored: Vec<ScoredIntent> = self
            .head
            .labels()
            .iter()
            .zip(p)
            .map(|(l, p)| ScoredIntent {
                intent: l.clone(),
                probability: p,
            })
            .collect();
        scored.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        scored
    }

    /// Understands `text` (already redacted) given its vector. With `within`, only entries
    /// of that intent are candidates (a follow-up question on the current topic).
    pub fn understand(
        &self,
        text: &str,
        vector: &[f32],
        within: Option<&str>,
        today: NaiveDate,
    ) -> Understanding {
        let intents = self.intents(vector);
        let candidates = self.rank_entries(text, vector, &intents, within, today);
        Understanding {
            intents: intents.into_iter().take(5).collect(),
            candidates: candidates.into_iter().take(5).collect(),
        }
    }

    fn rank_entries(
        &self,
        text: &str,
        vector: &[f32],
        intents: &[ScoredIntent],
        within: Option<&str>,
        today: NaiveDate,
    ) -> Vec<Candidate> {
        let n = self.kb.entries.len();
        let mut bm25 = vec![0f32; n];
        match self.index.search(text, within, 50) {
            Ok(hits) => {
                for h in hits {
                    bm25[h.entry] = h.score;
                }
            }
            Err(e) => tracing::warn!(error = %e, "FAQ search failed; ranking on meaning only"),
        }
        let max_bm25 = bm25.iter().cloned().fold(0.0, f32::max);
        let w = self.weights;
        let mut scored: Vec<(usize, f32, f32, f32)> = Vec::with_capacity(n);
        for (i, e) in self.kb.entries.iter().enumerate() {
            if within.is_some_and(|w| w != e.intent) || !e.is_valid_on(today) {
                continue;
            }
            let p = intents
                .iter()
                .find(|s| s.intent == e.intent)
                .map(|s| s.probability)
                .unwrap_or(0.0);
            let cos = self.entry_vectors[i]
                .iter()
                .map(|v| cosine(vector, v))
                .fold(-1.0, f32::max);
            let lex = bm25[i] / (max_bm25 + 2.0);
            let z = w.intent * p.max(1e-4).ln() + w.cosine * cos + w.lexical * lex;
            scored.push((i, z, bm25[i], cos));
        }
        let max_z = scored.iter().map(|s| s.1).fold(f32::NEG_INFINITY, f32::max);
        let total: f32 = scored.iter().map(|s| (s.1 - max_z).exp()).sum();
        let mut out: Vec<Candidate> = scored
            .into_iter()
            .map(|(i, z, b, c)| {
                let e = &self.kb.entries[i];
                Candidate {
                    entry: i,
                    faq_id: e.id.clone(),
                    title: e.title.clone(),
                    intent: e.intent.clone(),
                    confidence: (z - max_z).exp() / total,
                    bm25: b,
                    cosine: c,
                }
            })
            .collect();
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out
    }
}
