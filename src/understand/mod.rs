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
    fn features(&self, text: &str, vector: &[f32], intent_probs: &[f32]) -> Vec<[f32; 3]> {
        let mut bm25 = vec![0f32; self.kb.entries.len()];
        if let Ok(hits) = self.index.search(text, None, 50) {
            for h in hits {
                bm25[h.entry] = h.score;
            }
        }
        self.assemble_features(intent_probs, &bm25, |i| {
            self.entry_vectors[i]
                .iter()
                .map(|v| cosine(vector, v))
                .fold(-1.0, f32::max)
        })
    }

    /// The features of every entry from their parts: the intent probabilities, each
    /// entry's BM25 score and its best cosine to the message.
    fn assemble_features(
        &self,
        intent_probs: &[f32],
        bm25: &[f32],
        best_cosine: impl Fn(usize) -> f32,
    ) -> Vec<[f32; 3]> {
        let max_bm25 = bm25.iter().cloned().fold(0.0, f32::max);
        let labels = self.head.labels();
        (0..self.kb.entries.len())
            .map(|i| {
                let e = &self.kb.entries[i];
                let p = labels
                    .iter()
                    .position(|l| *l == e.intent)
                    .map(|k| intent_probs[k])
                    .unwrap_or(0.0);
                [p.max(1e-4).ln(), best_cosine(i), bm25[i] / (max_bm25 + 2.0)]
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
        let features = self.features(text, vector, &probs);
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
    let entries = &snap.kb.entries;
    // Every question as (entry, its vector's index within the entry, training row).
    let mut questions = Vec::new();
    let mut row = first_question;
    for (i, e) in entries.iter().enumerate() {
        for j in 0..e.questions.len() {
            // Vector 0 of an entry is its title; question j is vector j + 1.
            questions.push((i, j + 1, row));
            row += 1;
        }
    }
    let bm25 = held_out_bm25(entries, &questions, FOLDS)?;
    // The cosine of every question to every entry vector: one matrix product (the vectors
    // are unit length).
    let dim = train_vecs.first().map_or(0, Vec::len);
    let owners: Vec<(usize, usize)> = snap
        .entry_vectors
        .iter()
        .enumerate()
        .flat_map(|(i, vs)| (0..vs.len()).map(move |j| (i, j)))
        .collect();
    let flat_vectors: Vec<f32> = snap
        .entry_vectors
        .iter()
        .flatten()
        .flatten()
        .copied()
        .collect();
    let flat_questions: Vec<f32> = questions
        .iter()
        .flat_map(|&(_, _, row)| train_vecs[row].iter().copied())
        .collect();
    let nv = owners.len();
    let mut sims = vec![0f32; questions.len() * nv];
    crate::classifier::matmul::matmul(
        (questions.len(), nv, dim),
        &mut sims,
        &flat_questions,
        (dim, 1),
        &flat_vectors,
        (1, dim),
    );
    let samples: Vec<(Vec<[f32; 3]>, usize)> = questions
        .iter()
        .enumerate()
        .map(|(q, &(entry, own, row))| {
            let mut best = vec![-1f32; entries.len()];
            for (&(i, j), &s) in owners.iter().zip(&sims[q * nv..(q + 1) * nv]) {
                if (i, j) != (entry, own) {
                    best[i] = best[i].max(s);
                }
            }
            let probs = &snap.head.cv_probabilities[row];
            let f = snap.assemble_features(probs, &bm25[q], |i| best[i]);
            (f, entry)
        })
        .collect();
    let w = fit_weights(&samples);
    tracing::debug!(?w, samples = samples.len(), "fusion weights fitted");
    Ok(FusionWeights {
        intent: w[0],
        cosine: w[1],
        lexical: w[2],
    })
}

/// The BM25 score of every entry for every question, searched in an index without the
/// question: questions go to `folds` folds by their place in their entry, and each fold's
/// index (built from the other folds' questions) is built and searched on a core of its own.
fn held_out_bm25(
    entries: &[crate::knowledge::Entry],
    questions: &[(usize, usize, usize)],
    folds: usize,
) -> Result<Vec<Vec<f32>>, FitError> {
    let fold_of = |j: usize| (j - 1) % folds;
    let run_fold = |fold: usize| -> Result<Vec<(usize, Vec<f32>)>, FitError> {
        let reduced: Vec<crate::knowledge::Entry> = entries
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.questions = e
                    .questions
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| j % folds != fold)
                    .map(|(_, q)| q.clone())
                    .collect();
                e
            })
            .collect();
        let index = FaqIndex::build(&reduced).map_err(|e| FitError(e.to_string()))?;
        let mut out = Vec::new();
        for (q, &(i, j, _)) in questions.iter().enumerate() {
            if fold_of(j) == fold {
                let mut scores = vec![0f32; entries.len()];
                if let Ok(hits) = index.search(&entries[i].questions[j - 1], None, 50) {
                    for h in hits {
                        scores[h.entry] = h.score;
                    }
                }
                out.push((q, scores));
            }
        }
        Ok(out)
    };
    let all: Vec<usize> = (0..folds).collect();
    let parts = crate::parallel::map_on_cores(&all, |&fold| run_fold(fold));
    let mut bm25 = vec![Vec::new(); questions.len()];
    for part in parts {
        for (q, scores) in part? {
            bm25[q] = scores;
        }
    }
    Ok(bm25)
}

/// The non-negative weights maximising the likelihood of the right entry under a softmax
/// over entries (a convex problem in three variables): projected Newton steps with
/// backtracking, from the defaults.
/// The scores `w·x` of each candidate's features `x`, their largest, and the unnormalised
/// softmax `exp(w·x - max)` (shifted so that it cannot overflow).
fn softmax_parts(features: &[[f32; 3]], w: [f64; 3]) -> (Vec<f64>, f64, Vec<f64>) {
    let z: Vec<f64> = features
        .iter()
        .map(|x| (0..3).map(|d| w[d] * x[d] as f64).sum())
        .collect();
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e = z.iter().map(|v| (v - max).exp()).collect();
    (z, max, e)
}

fn fit_weights(samples: &[(Vec<[f32; 3]>, usize)]) -> [f32; 3] {
    // Mean negative log-likelihood, its gradient and its Hessian at `w`.
    let evaluate = |w: [f64; 3]| -> (f64, [f64; 3], [[f64; 3]; 3]) {
        let (mut loss, mut g, mut h) = (0.0, [0.0; 3], [[0.0; 3]; 3]);
        for (f, y) in samples {
            let (z, max, e) = softmax_parts(f, w);
            let sum: f64 = e.iter().sum();
            loss += sum.ln() + max - z[*y];
            let mut mean = [0.0; 3];
            let mut second = [[0.0; 3]; 3];
            for (x, ek) in f.iter().zip(&e) {
                let p = ek / sum;
                for a in 0..3 {
                    mean[a] += p * x[a] as f64;
                    for b in 0..3 {
                        second[a][b] += p * x[a] as f64 * x[b] as f64;
                    }
                }
            }
            for a in 0..3 {
                g[a] += mean[a] - f[*y][a] as f64;
                for b in 0..3 {
                    h[a][b] += second[a][b] - mean[a] * mean[b];
                }
            }
        }
        let n = samples.len().max(1) as f64;
        (loss / n, g.map(|v| v / n), h.map(|row| row.map(|v| v / n)))
    };
    let defaults = FusionWeights::default();
    let mut w = [
        defaults.intent as f64,
        defaults.cosine as f64,
        defaults.lexical as f64,
    ];
    let (mut loss, mut g, mut h) = evaluate(w);
    for _ in 0..50 {
        // Weights held at zero by a gradient pushing them below stay there.
        let free: Vec<usize> = (0..3).filter(|&d| w[d] > 0.0 || g[d] < 0.0).collect();
        if free.is_empty() {
            break;
        }
        // A singular Hessian (features that move together) falls back to the gradient.
        let step = solve(&h, &g, &free)
            .unwrap_or_else(|| std::array::from_fn(|d| if free.contains(&d) { g[d] } else { 0.0 }));
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..30 {
            let next: [f64; 3] = std::array::from_fn(|d| (w[d] - t * step[d]).max(0.0));
            let (l, ng, nh) = evaluate(next);
            if l < loss {
                let change: f64 = (0..3).map(|d| (next[d] - w[d]).abs()).sum();
                (w, loss, g, h) = (next, l, ng, nh);
                moved = change > 1e-6 * (1.0 + w.iter().sum::<f64>());
                break;
            }
            t /= 2.0;
        }
        if !moved {
            break;
        }
    }
    w.map(|v| v as f32)
}

/// The Newton step `H⁻¹ g` on the `free` coordinates (zero elsewhere), by Gaussian
/// elimination; None when the system is singular.
fn solve(h: &[[f64; 3]; 3], g: &[f64; 3], free: &[usize]) -> Option<[f64; 3]> {
    let n = free.len();
    if n == 0 {
        return None;
    }
    let mut a = vec![vec![0.0; n + 1]; n];
    for (r, &i) in free.iter().enumerate() {
        for (c, &j) in free.iter().enumerate() {
            a[r][c] = h[i][j];
        }
        a[r][n] = g[i];
    }
    let scale = h.iter().flatten().fold(1.0f64, |m, v| m.max(v.abs()));
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 * scale {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= factor * p;
                }
            }
        }
    }
    let mut step = [0.0; 3];
    for (r, &i) in free.iter().enumerate() {
        step[i] = a[r][n] / a[r][r];
    }
    Some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples drawn from the model itself: the fit finds the weights that made them.
    #[test]
    fn fusion_weights_recover_the_weights_that_generated_the_choices() {
        let truth = [0.5f64, 12.0, 3.0];
        let mut seed = 11u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut samples = Vec::new();
        for _ in 0..3000 {
            let f: Vec<[f32; 3]> = (0..6)
                .map(|_| {
                    [
                        (rnd() * 0.99 + 0.01).ln() as f32,
                        (rnd() * 0.4 + 0.6) as f32,
                        rnd() as f32,
                    ]
                })
                .collect();
            let (_, _, e) = softmax_parts(&f, truth);
            let mut u = rnd() * e.iter().sum::<f64>();
            let mut y = 0;
            while u > e[y] && y + 1 < e.len() {
                u -= e[y];
                y += 1;
            }
            samples.push((f, y));
        }
        let w = fit_weights(&samples);
        for d in 0..3 {
            let rel = (w[d] as f64 - truth[d]).abs() / truth[d];
            assert!(rel < 0.25, "weight {d}: {} for {}", w[d], truth[d]);
        }
    }

    /// A feature that works against the right entry gets weight zero, not a negative one.
    #[test]
    fn fusion_weights_stay_non_negative() {
        let samples: Vec<(Vec<[f32; 3]>, usize)> = (0..300)
            .map(|i| {
                let y = i % 3;
                // The first feature points at the right entry, except in one sample in five.
                let marked = if i % 5 == 0 { (y + 1) % 3 } else { y };
                // The third is high on one of the wrong entries only.
                let wrong = (y + 1 + i % 2) % 3;
                let f = (0..3)
                    .map(|k| {
                        let jitter = ((i + 2 * k) % 4) as f32 * 0.1;
                        [
                            if k == marked { 0.0 } else { -1.0 },
                            0.5 + jitter,
                            if k == wrong { 1.0 } else { 0.0 },
                        ]
                    })
                    .collect();
                (f, y)
            })
            .collect();
        let w = fit_weights(&samples);
        assert!(w.iter().all(|v| *v >= 0.0), "{w:?}");
        assert_eq!(w[2], 0.0, "{w:?}");
        assert!(w[0] > 0.5, "{w:?}");
    }

    #[test]
    fn newton_steps_solve_the_free_coordinates_only() {
        let h = [[2.0, 0.0, 0.0], [0.0, 4.0, 1.0], [0.0, 1.0, 2.0]];
        let g = [2.0, 5.0, 3.0];
        let all = solve(&h, &g, &[0, 1, 2]).unwrap();
        for r in 0..3 {
            let hx: f64 = (0..3).map(|c| h[r][c] * all[c]).sum();
            assert!((hx - g[r]).abs() < 1e-6);
        }
        let some = solve(&h, &g, &[1]).unwrap();
        assert_eq!(some[0], 0.0);
        assert_eq!(some[2], 0.0);
        assert!((some[1] - 1.25).abs() < 1e-6);
        assert!(solve(&[[0.0; 3]; 3], &g, &[0]).is_none());
        let collinear = [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert!(solve(&collinear, &g, &[0, 1]).is_none());
        assert!(solve(&h, &g, &[]).is_none());
    }
}
