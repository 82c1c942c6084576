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
    /// The lexical feature: BM25 relative to the best match (0..1).
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
        let t_index = start.elapsed();
        let vectors = cache.embed_all(embedder, &all)?;
        cache.save();
        let t_embed = start.elapsed();
        let (train_vecs, entry_vecs) = vectors.split_at(texts.len());
        let head = IntentHead::train_cached(
            cache.dir(),
            &embedder.id(),
            train_vecs,
            &texts,
            &ys,
            labels,
            &HeadConfig::default(),
        )
        .map_err(ClassifierError::from)?;
        let t_head = start.elapsed();
        let mut entry_vectors = vec![Vec::new(); kb.entries.len()];
        for (owner, v) in owners.into_iter().zip(entry_vecs) {
            entry_vectors[owner].push(v.clone());
        }
        let mut snap = Snapshot {
            kb,
            index,
            head,
            entry_vectors,
            weights: FusionWeights::default(),
            build_time: start.elapsed(),
        };
        // The entries' questions follow the intent examples in the training set.
        let first_question = texts.len()
            - snap
                .kb
                .entries
                .iter()
                .map(|e| e.questions.len())
                .sum::<usize>();
        match fit_fusion(&snap, train_vecs, first_question) {
            Ok(w) => snap.weights = w,
            Err(e) => tracing::warn!(error = %e, "fusion weights not fitted; using defaults"),
        }
        snap.build_time = start.elapsed();
        tracing::info!(
            index_ms = t_index.as_millis() as u64,
            encode_ms = (t_embed - t_index).as_millis() as u64,
            head_ms = (t_head - t_embed).as_millis() as u64,
            fusion_ms = (snap.build_time - t_head).as_millis() as u64,
            texts = all.len(),
            "classifier built"
        );
        Ok(snap)
    }

    /// The fusion features of every entry for one message: `[ln p(intent), cosine, lexical]`.
    /// `skip` leaves one vector of each entry out (the question being held out).
    fn features(
        &self,
        index: &FaqIndex,
        text: &str,
        vector: &[f32],
        intent_probs: &[f32],
        skip: Option<(usize, usize)>,
    ) -> Vec<[f32; 3]> {
        let n = self.kb.entries.len();
        let mut bm25 = vec![0f32; n];
        if let Ok(hits) = index.search(text, None, 50) {
            for h in hits {
                bm25[h.entry] = h.score;
            }
        }
        let max_bm25 = bm25.iter().cloned().fold(0.0, f32::max);
        let labels = self.head.labels();
        (0..n)
            .map(|i| {
                let e = &self.kb.entries[i];
                let p = labels
                    .iter()
                    .position(|l| *l == e.intent)
                    .map(|k| intent_probs[k])
                    .unwrap_or(0.0);
                let cos = self.entry_vectors[i]
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| skip != Some((i, *j)))
                    .map(|(_, v)| cosine(vector, v))
                    .fold(-1.0, f32::max);
                [p.max(1e-4).ln(), cos, bm25[i] / (max_bm25 + 2.0)]
            })
            .collect()
    }

    /// Intent probabilities for a message vector, best first.
    pub fn intents(&self, text: &str, vector: &[f32]) -> Vec<ScoredIntent> {
        sorted_intents(self.head.labels(), &self.head.predict(vector, text))
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
        let probs = self.head.predict(vector, text);
        let w = self.weights;
        let features = self.features(&self.index, text, vector, &probs, None);
        let scored: Vec<(usize, f32)> = features
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let e = &self.kb.entries[*i];
                within.is_none_or(|w| w == e.intent) && e.is_valid_on(today)
            })
            .map(|(i, f)| (i, w.intent * f[0] + w.cosine * f[1] + w.lexical * f[2]))
            .collect();
        let max_z = scored.iter().map(|s| s.1).fold(f32::NEG_INFINITY, f32::max);
        let total: f32 = scored.iter().map(|s| (s.1 - max_z).exp()).sum();
        let mut candidates: Vec<Candidate> = scored
            .into_iter()
            .map(|(i, z)| {
                let e = &self.kb.entries[i];
                Candidate {
                    entry: i,
                    faq_id: e.id.clone(),
                    title: e.title.clone(),
                    intent: e.intent.clone(),
                    confidence: (z - max_z).exp() / total,
                    bm25: features[i][2],
                    cosine: features[i][1],
                }
            })
            .collect();
        candidates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        candidates.truncate(5);
        let mut intents = sorted_intents(self.head.labels(), &probs);
        intents.truncate(5);
        Understanding {
            intents,
            candidates,
        }
    }
}

fn sorted_intents(labels: &[String], probs: &[f32]) -> Vec<ScoredIntent> {
    let mut scored: Vec<ScoredIntent> = labels
        .iter()
        .zip(probs)
        .map(|(l, p)| ScoredIntent {
            intent: l.clone(),
            probability: *p,
        })
        .collect();
    scored.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    scored
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FitError(String);

/// Fits the fusion weights by maximum likelihood of the right entry, on the entries' own
/// example questions held out in turn: each question is searched in an index built without
/// it, compared with the entry's other questions only, and given the intent head's
/// cross-validated probabilities, so no feature has seen the question it scores.
fn fit_fusion(
    snap: &Snapshot,
    train_vecs: &[Vec<f32>],
    first_question: usize,
) -> Result<FusionWeights, FitError> {
    const FOLDS: usize = 4;
    if snap.head.cv_probabilities.is_empty() || snap.kb.entries.len() < 2 {
        return Err(FitError("too few examples".into()));
    }
    let mut samples: Vec<(Vec<[f32; 3]>, usize)> = Vec::new();
    for fold in 0..FOLDS {
        let reduced: Vec<crate::knowledge::Entry> = snap
            .kb
            .entries
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.questions = e
                    .questions
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| j % FOLDS != fold)
                    .map(|(_, q)| q.clone())
                    .collect();
                e
            })
            .collect();
        let index = FaqIndex::build(&reduced).map_err(|e| FitError(e.to_string()))?;
        let mut row = first_question;
        for (i, e) in snap.kb.entries.iter().enumerate() {
            for (j, q) in e.questions.iter().enumerate() {
                if j % FOLDS == fold {
                    let probs = &snap.head.cv_probabilities[row];
                    // Vector 0 of an entry is its title; question j is vector j + 1.
                    let f = snap.features(&index, q, &train_vecs[row], probs, Some((i, j + 1)));
                    samples.push((f, i));
                }
                row += 1;
            }
        }
    }
    // Gradient descent on the softmax cross-entropy over entries (convex in the weights).
    let mut w = [1.0f32, 20.0, 2.0];
    let lr = [0.05f32, 2.0, 0.2];
    for _ in 0..300 {
        let mut grad = [0f32; 3];
        for (f, y) in &samples {
            let z: Vec<f32> = f
                .iter()
                .map(|x| w[0] * x[0] + w[1] * x[1] + w[2] * x[2])
                .collect();
            let max = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let ex: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
            let sum: f32 = ex.iter().sum();
            for (k, x) in f.iter().enumerate() {
                let p = ex[k] / sum - if k == *y { 1.0 } else { 0.0 };
                for d in 0..3 {
                    grad[d] += p * x[d];
                }
            }
        }
        for d in 0..3 {
            w[d] = (w[d] - lr[d] * grad[d] / samples.len() as f32).max(0.0);
        }
    }
    tracing::debug!(?w, samples = samples.len(), "fusion weights fitted");
    Ok(FusionWeights {
        intent: w[0],
        cosine: w[1],
        lexical: w[2],
    })
}
