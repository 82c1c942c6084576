//! Understanding a message: the intent scores from the head, and the FAQ entry that answers
//! it, chosen from four signals: the intent scores, the semantic match with each entry's
//! title and example questions, the semantic match with passages of its answer (e5's
//! `passage:` side), and the BM25 match in the tantivy index. An entry without an intent is
//! found by the other three alone. An intent can be right while the chosen answer is wrong,
//! so the entry gets its own confidence.
//!
//! A [`Snapshot`] bundles one version of the content with everything derived from it (index,
//! head, question vectors); reloads build a new one and swap it in whole.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;

use crate::classifier::cache::EmbeddingCache;
use crate::classifier::encoder::cosine;
use crate::classifier::{ClassifierError, Embed, HeadConfig, IntentHead};
use crate::knowledge::{Action, Entry, KnowledgeBase};
use crate::search::{FaqIndex, SearchError};

mod fusion;

use fusion::fit_fusion;

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
    /// The best cosine to the entry's title and questions.
    pub cosine: f32,
    /// The best cosine to a passage of the entry's answer.
    pub passage: f32,
    /// The entry belongs to the conversation's topic (see [`Topic`]).
    pub on_topic: bool,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Understanding {
    /// Intents by probability, best first (top 5).
    pub intents: Vec<ScoredIntent>,
    /// Entries by confidence, best first (top 5).
    pub candidates: Vec<Candidate>,
    /// The probability that the message asks for information (the intents that answer
    /// together): the intent signal of an entry without an intent.
    pub answerable: f32,
    /// The confidence from which the best entry is answered (fitted on the content), for
    /// an entry with an intent and for one without.
    pub answer_at: f32,
    pub answer_at_library: f32,
    /// The probability that the message is not the municipality's business: the intents
    /// with action `fallback` together.
    pub out_of_scope: f32,
    /// From which `out_of_scope` the message is answered as out of scope (fitted on the
    /// intent examples, see [`fit_out_of_scope_at`]).
    pub out_of_scope_at: f32,
}

impl Understanding {
    pub fn top_intent(&self) -> Option<&ScoredIntent> {
        self.intents.first()
    }

    /// The confidence from which candidate `c` is answered without asking.
    pub fn answer_at(&self, c: &Candidate) -> f32 {
        if c.intent.is_empty() {
            self.answer_at_library
        } else {
            self.answer_at
        }
    }

    /// How plausible the intent signal finds a candidate: its intent's probability, or for
    /// an entry without an intent the probability of a question that gets an answer.
    pub fn support(&self, c: &Candidate) -> f32 {
        if c.intent.is_empty() {
            self.answerable
        } else {
            self.probability_of(&c.intent)
        }
    }

    pub fn probability_of(&self, intent: &str) -> f32 {
        self.intents
            .iter()
            .find(|i| i.intent == intent)
            .map(|i| i.probability)
            .unwrap_or(0.0)
    }
}

/// The number of fusion features: `[ln support, cosine, lexical, passage]`.
const NF: usize = 4;

/// Weights of the fusion score
/// `w_int·ln support + w_cos·cosine + w_lex·bm25/(max+2) + w_pas·passage cosine`.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
pub struct FusionWeights {
    pub intent: f32,
    pub cosine: f32,
    pub lexical: f32,
    pub passage: f32,
}

impl FusionWeights {
    fn as_array(self) -> [f32; NF] {
        [self.intent, self.cosine, self.lexical, self.passage]
    }

    fn from_array(w: [f32; NF]) -> Self {
        FusionWeights {
            intent: w[0],
            cosine: w[1],
            lexical: w[2],
            passage: w[3],
        }
    }

    fn score(self, f: &[f32; NF]) -> f32 {
        self.as_array().iter().zip(f).map(|(w, x)| w * x).sum()
    }
}

impl Default for FusionWeights {
    fn default() -> Self {
        FusionWeights {
            intent: 1.0,
            cosine: 25.0,
            lexical: 2.0,
            passage: 10.0,
        }
    }
}

/// How far (in fusion score) an entry whose example question is the message itself is put
/// ahead of the best other entry: e^5, a confidence of about 0.99 against one rival.
const EXACT_MATCH_MARGIN: f32 = 5.0;

/// The answer threshold when the content is too small to fit one.
pub const DEFAULT_ANSWER_AT: f32 = 0.5;

/// How many passages of an answer are encoded: the start of a page says what it is about.
const MAX_PASSAGES: usize = 3;
/// Paragraphs are joined into passages of about this many characters (the encoder reads
/// 128 tokens, about 450 characters of Dutch).
const PASSAGE_CHARS: usize = 400;

/// The answer of `e` as passages for the encoder, each with the title in front and e5's
/// `passage: ` prefix. A national entry's passages are read as written, before the
/// municipality's facts were filled in ([`Entry::unfilled`]): the same texts, encoded and
/// held once, in every municipality. (A fact changes a price or a link, not what a passage
/// is about; BM25 still reads the filled answer.)
pub fn passages(e: &Entry) -> Vec<String> {
    let (title, answer) = match e.unfilled.as_deref() {
        Some(u) => (u.title.as_str(), u.answer.as_str()),
        None => (e.title.as_str(), e.answer.as_str()),
    };
    let plain = answer.replace("**", "");
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for para in plain.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if !cur.is_empty() && cur.len() + para.len() > PASSAGE_CHARS {
            out.push(std::mem::take(&mut cur));
            if out.len() == MAX_PASSAGES {
                break;
            }
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(para);
    }
    if !cur.is_empty() && out.len() < MAX_PASSAGES {
        out.push(cur);
    }
    out.into_iter()
        .map(|p| {
            format!(
                "{}{}. {p}",
                crate::classifier::encoder::PASSAGE_PREFIX,
                title
            )
        })
        .collect()
}

pub struct Snapshot {
    pub kb: KnowledgeBase,
    pub index: FaqIndex,
    /// Shared by every municipality whose intents and questions are the same.
    pub head: Arc<IntentHead>,
    /// Per entry: vectors of its title and example questions (shared with the embedding
    /// cache, so the same text in several municipalities is held once).
    entry_vectors: Vec<Vec<Arc<[f32]>>>,
    /// Per entry: vectors of its answer's passages.
    passage_vectors: Vec<Vec<Arc<[f32]>>>,
    /// Each entry's example questions, normalised, to the entry (the first one that has it).
    example_questions: std::collections::HashMap<String, usize>,
    /// Per head label: whether the intent answers (its probability counts for entries
    /// without an intent).
    answering: Vec<bool>,
    pub weights: FusionWeights,
    /// The confidence from which the best entry is answered without asking, fitted on the
    /// content (see [`fusion`]); `dialogue.entry_threshold` overrides it.
    pub answer_at: f32,
    /// The same for entries without an intent (found by their text alone).
    pub answer_at_library: f32,
    /// Per head label: whether the intent's action is `fallback` (out of scope).
    out_of_scope_labels: Vec<bool>,
    /// See [`Understanding::out_of_scope_at`].
    pub out_of_scope_at: f32,
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
/// as written (labelled with the entry's intent; a national entry's questions without the
/// municipality's facts, so every municipality trains, and shares, the same head).
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
            for q in e.questions_as_written() {
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
        cache: &std::sync::Mutex<EmbeddingCache>,
    ) -> Result<Snapshot, BuildError> {
        // Held only while encoding: the rest of a build runs beside other municipalities'.
        let lock = || cache.lock().unwrap_or_else(|e| e.into_inner());
        let cache_dir = lock().dir().map(Path::to_path_buf);
        let start = Instant::now();
        if kb.intents.is_empty() {
            return Err(BuildError::NoIntents);
        }
        let index = FaqIndex::build_layered(&kb.entries)?;
        let (texts, ys, labels) = training_set(&kb);
        let (entry_texts, owners) = entry_texts(&kb);
        let mut all = texts.clone();
        all.extend(entry_texts.iter().cloned());
        let t_index = start.elapsed();
        let vectors = {
            let mut cache = lock();
            let vectors = cache.embed_all(embedder, &all)?;
            cache.save();
            vectors
        };
        let t_embed = start.elapsed();
        let (train_vecs, entry_vecs) = vectors.split_at(texts.len());
        // The head and the fusion fit read plain rows; these copies live for the build only.
        let train_vecs: Vec<Vec<f32>> = train_vecs.iter().map(|v| v.to_vec()).collect();
        let train_vecs = &train_vecs[..];
        let action_is = |a: Action| -> Vec<bool> {
            labels
                .iter()
                .map(|l| kb.intent(l).is_some_and(|i| i.action == a))
                .collect()
        };
        let answering = action_is(Action::Answer);
        let out_of_scope_labels = action_is(Action::Fallback);
        let cfg = HeadConfig::default();
        let key = crate::classifier::head::cache_key(&embedder.id(), &texts, &ys, &labels, &cfg);
        let head = IntentHead::shared(cache_dir.as_deref(), &key, || {
            IntentHead::train(train_vecs, &texts, &ys, labels, &cfg)
        })
        .map_err(ClassifierError::from)?;
        let t_head = start.elapsed();
        let (entry_vectors, passage_vectors) = by_owner(kb.entries.len(), owners, entry_vecs);
        let mut example_questions = std::collections::HashMap::new();
        for (i, e) in kb.entries.iter().enumerate() {
            for q in &e.questions {
                example_questions
                    .entry(crate::text::normalize(q))
                    .or_insert(i);
            }
        }
        let mut snap = Snapshot {
            example_questions,
            kb,
            index,
            head,
            entry_vectors,
            passage_vectors,
            answering,
            weights: FusionWeights::default(),
            answer_at: DEFAULT_ANSWER_AT,
            answer_at_library: DEFAULT_ANSWER_AT,
            out_of_scope_at: DEFAULT_OUT_OF_SCOPE_AT,
            build_time: start.elapsed(),
            out_of_scope_labels,
        };
        if let Some(at) = fit_out_of_scope_at(
            &snap.head.cv_probabilities,
            &ys,
            &snap.answering,
            &snap.out_of_scope_labels,
        ) {
            snap.out_of_scope_at = at;
        }
        // The entries' questions follow the intent examples in the training set.
        let first_question = texts.len()
            - snap
                .kb
                .entries
                .iter()
                .filter(|e| !e.intent.is_empty())
                .map(|e| e.questions.len())
                .sum::<usize>();
        let fusion_key = fusion::cache_key(&key, &snap.kb.entries);
        let fitted = crate::classifier::cache::cached_json(
            cache_dir.as_deref(),
            &format!("fusion-{fusion_key}"),
            || fit_fusion(&snap, train_vecs, first_question),
        );
        match fitted {
            Ok(fitted) => {
                snap.weights = fitted.weights;
                snap.answer_at = fitted.answer_at;
                snap.answer_at_library = fitted.answer_at_library;
            }
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

    /// The fusion features of every entry for one message.
    fn features(&self, text: &str, vector: &[f32], intent_probs: &[f32]) -> Vec<[f32; NF]> {
        let bm25 = self.index.scores(text, self.kb.entries.len());
        let best = |vs: &Vec<Arc<[f32]>>| vs.iter().map(|v| cosine(vector, v)).fold(-1.0, f32::max);
        self.assemble_features(
            intent_probs,
            &bm25,
            |i| best(&self.entry_vectors[i]),
            |i| best(&self.passage_vectors[i]),
        )
    }

    /// The probability that a message asks for information: the answering intents' sum.
    fn answerable(&self, intent_probs: &[f32]) -> f32 {
        sum_where(intent_probs, &self.answering)
    }

    /// The features of every entry from their parts: the intent probabilities, each
    /// entry's BM25 score, its best cosine to the message and its best passage cosine.
    fn assemble_features(
        &self,
        intent_probs: &[f32],
        bm25: &[f32],
        best_cosine: impl Fn(usize) -> f32,
        best_passage: impl Fn(usize) -> f32,
    ) -> Vec<[f32; NF]> {
        let max_bm25 = bm25.iter().cloned().fold(0.0, f32::max);
        let labels = self.head.labels();
        let answerable = self.answerable(intent_probs);
        (0..self.kb.entries.len())
            .map(|i| {
                let e = &self.kb.entries[i];
                let p = if e.intent.is_empty() {
                    answerable
                } else {
                    labels
                        .iter()
                        .position(|l| *l == e.intent)
                        .map(|k| intent_probs[k])
                        .unwrap_or(0.0)
                };
                let passage = if self.passage_vectors[i].is_empty() {
                    0.0
                } else {
                    best_passage(i)
                };
                [
                    p.max(1e-4).ln(),
                    best_cosine(i),
                    bm25[i] / (max_bm25 + 2.0),
                    passage,
                ]
            })
            .collect()
    }

    /// Intent probabilities for a message vector, best first.
    pub fn intents(&self, text: &str, vector: &[f32]) -> Vec<ScoredIntent> {
        sorted_intents(self.head.labels(), &self.head.predict(vector, text))
    }

    /// The topic made of the entries `ids` (the entry last answered, or the options just
    /// offered) and the entries about the same UPL products, which a message continues with probability `stay`. `None` when no id is
    /// served or the topic would be every entry.
    pub fn topic(&self, ids: &[&str], stay: f32) -> Option<Topic> {
        if stay <= 0.0 {
            return None;
        }
        let seeds: Vec<&Entry> = ids.iter().filter_map(|id| self.kb.entry(id)).collect();
        let on: Vec<bool> = self
            .kb
            .entries
            .iter()
            .map(|e| seeds.iter().any(|s| same_topic(s, e)))
            .collect();
        let k = on.iter().filter(|x| **x).count();
        let n = on.len();
        if k == 0 || k == n {
            return None;
        }
        let stay = stay.clamp(0.01, 0.99);
        let odds = (stay / (1.0 - stay)).ln();
        let log_odds = odds + ((n - k) as f32 / k as f32).ln();
        let labels = self.head.labels();
        let mut intents = vec![false; labels.len()];
        for (e, _) in self.kb.entries.iter().zip(&on).filter(|(_, on)| **on) {
            if let Some(k) = labels.iter().position(|l| *l == e.intent) {
                intents[k] = true;
            }
        }
        let ki = intents.iter().filter(|x| **x).count();
        let intent_log_odds = if ki == 0 || ki == labels.len() {
            0.0
        } else {
            odds + ((labels.len() - ki) as f32 / ki as f32).ln()
        };
        Some(Topic {
            on,
            log_odds,
            intents,
            intent_log_odds,
        })
    }

    /// Understands `text` (already redacted) given its vector. With a `topic`, the
    /// conversation's topic is a prior over the entries (a follow-up question, or a
    /// narrowing answer to the options just offered).
    pub fn understand(
        &self,
        text: &str,
        vector: &[f32],
        topic: Option<&Topic>,
        today: NaiveDate,
    ) -> Understanding {
        let probs = self.head.predict(vector, text);
        let features = self.features(text, vector, &probs);
        self.rank(text, &probs, &features, topic, today)
    }

    /// The message read on its own and, with a `topic`, read with it as well: the intent
    /// probabilities and the features are computed once for both readings.
    pub fn understand_with_topic(
        &self,
        text: &str,
        vector: &[f32],
        topic: Option<&Topic>,
        today: NaiveDate,
    ) -> (Understanding, Option<Understanding>) {
        let probs = self.head.predict(vector, text);
        let features = self.features(text, vector, &probs);
        let plain = self.rank(text, &probs, &features, None, today);
        let within = topic.map(|t| self.rank(text, &probs, &features, Some(t), today));
        (plain, within)
    }

    /// The entries ranked by the fused score of their `features` (plus the `topic`'s
    /// prior), the best five as candidates; the intents by `probs`, given the `topic` when
    /// there is one ([`Topic::condition`]).
    fn rank(
        &self,
        text: &str,
        probs: &[f32],
        features: &[[f32; NF]],
        topic: Option<&Topic>,
        today: NaiveDate,
    ) -> Understanding {
        let conditioned = topic.map(|t| t.condition(probs));
        let probs = conditioned.as_deref().unwrap_or(probs);
        let w = self.weights;
        let mut scored: Vec<(usize, f32)> = features
            .iter()
            .enumerate()
            .filter(|(i, _)| self.kb.entries[*i].is_valid_on(today))
            .map(|(i, f)| (i, w.score(f) + topic.map_or(0.0, |t| t.prior(i))))
            .collect();
        // An editor's own example question (case, accents and punctuation aside) is answered
        // with its entry: the held-out fit cannot see what an exact match is worth.
        if let Some(&entry) = self.example_questions.get(&crate::text::normalize(text))
            && let Some(best) = scored.iter().map(|s| s.1).reduce(f32::max)
            && let Some(s) = scored.iter_mut().find(|s| s.0 == entry)
        {
            s.1 = s.1.max(best + EXACT_MATCH_MARGIN);
        }
        let max_z = scored.iter().map(|s| s.1).fold(f32::NEG_INFINITY, f32::max);
        let total: f32 = scored.iter().map(|s| (s.1 - max_z).exp()).sum();
        // Best first (ties in entry order); only the best five become candidates.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        let candidates: Vec<Candidate> = scored
            .into_iter()
            .take(5)
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
                    passage: features[i][3],
                    on_topic: topic.is_some_and(|t| t.on[i]),
                }
            })
            .collect();
        let mut intents = sorted_intents(self.head.labels(), probs);
        intents.truncate(5);
        Understanding {
            intents,
            candidates,
            answerable: self.answerable(probs),
            answer_at: self.answer_at,
            answer_at_library: self.answer_at_library,
            out_of_scope: sum_where(probs, &self.out_of_scope_labels),
            out_of_scope_at: self.out_of_scope_at,
        }
    }
}

/// The texts to encode for the entries: each entry's title and questions, then its
/// passages, with whose each is (entry, is a passage).
fn entry_texts(kb: &KnowledgeBase) -> (Vec<String>, Vec<(usize, bool)>) {
    let mut texts = Vec::new();
    let mut owners = Vec::new();
    for (i, e) in kb.entries.iter().enumerate() {
        texts.push(e.title.clone());
        owners.push((i, false));
        for q in &e.questions {
            texts.push(q.clone());
            owners.push((i, false));
        }
        for p in passages(e) {
            texts.push(p);
            owners.push((i, true));
        }
    }
    (texts, owners)
}

/// Per entry, the vectors of its title and questions, and of its passages.
type Vectors = Vec<Vec<Arc<[f32]>>>;

/// The vectors of [`entry_texts`] given to their entries.
fn by_owner(
    entries: usize,
    owners: Vec<(usize, bool)>,
    vectors: &[Arc<[f32]>],
) -> (Vectors, Vectors) {
    let mut entry_vectors = vec![Vec::new(); entries];
    let mut passage_vectors = vec![Vec::new(); entries];
    for ((owner, passage), v) in owners.into_iter().zip(vectors) {
        let into = if passage {
            &mut passage_vectors
        } else {
            &mut entry_vectors
        };
        into[owner].push(v.clone());
    }
    (entry_vectors, passage_vectors)
}

/// The sum of the probabilities whose label is marked in `which`.
fn sum_where(probs: &[f32], which: &[bool]) -> f32 {
    probs
        .iter()
        .zip(which)
        .filter(|(_, w)| **w)
        .map(|(p, _)| p)
        .sum()
}

/// Without a fit: out of scope when the out-of-scope intents are more likely than not.
const DEFAULT_OUT_OF_SCOPE_AT: f32 = 0.5;

/// The share of the answering intents' examples that the out-of-scope decision may take
/// (held out: their cross-validated probabilities).
const FALSE_OUT_OF_SCOPE: f64 = 0.01;

/// The out-of-scope probability from which a message is answered as out of scope: the
/// lowest at which at most [`FALSE_OUT_OF_SCOPE`] of the answering intents' examples would
/// be, by their cross-validated probabilities (calibrated on held-out folds, so no example
/// is judged by a head that saw it). Never above [`DEFAULT_OUT_OF_SCOPE_AT`]. `None` without
/// cross-validated probabilities or without examples on either side.
pub fn fit_out_of_scope_at(
    cv: &[Vec<f32>],
    ys: &[usize],
    answering: &[bool],
    out_of_scope: &[bool],
) -> Option<f32> {
    if cv.len() != ys.len() {
        return None;
    }
    let p = |row: &Vec<f32>| sum_where(row, out_of_scope);
    let mut asking: Vec<f32> = cv
        .iter()
        .zip(ys)
        .filter(|(_, y)| answering[**y])
        .map(|(row, _)| p(row))
        .collect();
    let outside: Vec<f32> = cv
        .iter()
        .zip(ys)
        .filter(|(_, y)| out_of_scope[**y])
        .map(|(row, _)| p(row))
        .collect();
    if asking.is_empty() || outside.is_empty() {
        return None;
    }
    asking.sort_by(|a, b| b.total_cmp(a));
    let allowed = (FALSE_OUT_OF_SCOPE * asking.len() as f64).floor() as usize;
    // Just above the (allowed + 1)-th highest: at most `allowed` examples reach it.
    let at = (asking[allowed.min(asking.len() - 1)] + 1e-4).min(DEFAULT_OUT_OF_SCOPE_AT);
    let recall = outside.iter().filter(|&&x| x >= at).count() as f64 / outside.len() as f64;
    tracing::info!(
        out_of_scope_at = at,
        out_of_scope_recall = recall,
        false_share = asking.iter().filter(|&&x| x >= at).count() as f64 / asking.len() as f64,
        "out-of-scope decision fitted on cross-validated intent examples"
    );
    Some(at)
}

/// What the conversation was about before a message, as a prior over the entries: the
/// message continues the topic with probability `stay`, shared by the topic's entries; the
/// other entries share the rest. Added to the fused scores as log odds (the fusion is a
/// softmax fitted with every entry equally likely a priori), so that a message that could
/// be about anything ("en wat kost dat?") stays on the topic, and one clearly about
/// something else still leaves it.
#[derive(Debug, Clone)]
pub struct Topic {
    on: Vec<bool>,
    log_odds: f32,
    /// Per head label: the intent of an entry on the topic.
    intents: Vec<bool>,
    /// The same prior over the intents: `ln(stay/(1 − stay)) + ln((K − k)/k)` for the
    /// topic's k of the head's K labels (0 when the topic's entries have no intent).
    intent_log_odds: f32,
}

impl Topic {
    /// The prior's share of entry `i`'s score.
    fn prior(&self, i: usize) -> f32 {
        if self.on[i] { self.log_odds } else { 0.0 }
    }

    /// The intent probabilities `probs` of the message alone, given the topic: the head
    /// reads "hoe lang duurt het?" without the conversation and often finds it out of scope
    /// or a request for a person; a message continues the topic's intent with probability
    /// `stay`, as it continues the topic's entries (Bayes' rule with the head's probabilities
    /// as the likelihood, its classes taken as equally likely beforehand).
    fn condition(&self, probs: &[f32]) -> Vec<f32> {
        if self.intent_log_odds == 0.0 {
            return probs.to_vec();
        }
        let boost = self.intent_log_odds.exp();
        let mut p: Vec<f32> = probs
            .iter()
            .zip(&self.intents)
            .map(|(p, on)| if *on { p * boost } else { *p })
            .collect();
        let sum: f32 = p.iter().sum();
        if sum > 0.0 {
            p.iter_mut().for_each(|x| *x /= sum);
        }
        p
    }
}

/// `b` is on the topic of `a`: the same entry, or one about the same UPL product. Not the
/// same intent: an intent often groups several products (`wmo`, `belastingen`), and a
/// follow-up that names no product ("en wat kost dat?") goes on with the product.
fn same_topic(a: &Entry, b: &Entry) -> bool {
    a.id == b.id || (crate::knowledge::upl::is_product(&a.upl) && a.upl == b.upl)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::HashingEmbedder;

    #[test]
    fn the_topic_conditions_the_intents_as_it_does_the_entries() {
        // Head labels: [paspoort, buiten_scope, medewerker]; the topic is about paspoort.
        let stay: f32 = 0.9;
        let t = Topic {
            on: vec![true, false],
            log_odds: 0.0,
            intents: vec![true, false, false],
            intent_log_odds: (stay / (1.0 - stay)).ln() + (2.0f32 / 1.0).ln(),
        };
        // "hoe lang duurt het?" alone: mostly out of scope, a little passport.
        let p = t.condition(&[0.05, 0.85, 0.10]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // Odds 0.05/0.95 times 18 (stay 0.9 against 0.1 spread over the two others).
        let expected = 0.05 * 18.0 / (0.05 * 18.0 + 0.95);
        assert!((p[0] - expected).abs() < 1e-4, "{p:?}");
        assert!(p[0] > p[1]);
        // The other intents keep their ratio to each other.
        assert!((p[1] / p[2] - 8.5).abs() < 1e-3);
        // A topic whose entries have no intent leaves the intents as they are.
        let none = Topic {
            intents: vec![false, false, false],
            intent_log_odds: 0.0,
            ..t
        };
        assert_eq!(none.condition(&[0.05, 0.85, 0.10]), vec![0.05, 0.85, 0.10]);
    }

    fn snapshot() -> Snapshot {
        let embedder = HashingEmbedder::default();
        let cache = std::sync::Mutex::new(EmbeddingCache::open(None, &embedder));
        Snapshot::build(crate::knowledge::fixture(), &embedder, &cache).unwrap()
    }

    fn best(snap: &Snapshot, text: &str, topic: Option<&Topic>) -> (String, bool) {
        let v = HashingEmbedder::default().embed(&[text]).unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let u = snap.understand(text, &v[0], topic, today);
        let c = &u.candidates[0];
        (c.faq_id.clone(), c.on_topic)
    }

    #[test]
    fn the_out_of_scope_decision_takes_at_most_one_percent_of_the_asking_examples() {
        // Labels: 0 answers, 1 is out of scope, 2 is a person. Rows: [p0, p1, p2].
        let answering = [true, false, false];
        let outside = [false, true, false];
        let mut cv = Vec::new();
        let mut ys = Vec::new();
        for k in 0..200 {
            // Asking examples, a few of them with some out-of-scope probability.
            let p1 = if k < 5 { 0.1 + 0.05 * k as f32 } else { 0.01 };
            cv.push(vec![1.0 - p1, p1, 0.0]);
            ys.push(0);
        }
        for k in 0..20 {
            let p1 = 0.05 * k as f32;
            cv.push(vec![1.0 - p1, p1, 0.0]);
            ys.push(1);
        }
        let at = fit_out_of_scope_at(&cv, &ys, &answering, &outside).unwrap();
        let taken = cv[..200].iter().filter(|r| r[1] >= at).count();
        assert!(taken <= 2, "{taken} asking examples taken at {at}");
        assert!(at > 0.15 && at <= 0.2 + 1e-3, "{at}");
        // Never stricter than "more likely than not", and nothing to fit on: no decision.
        let all_high: Vec<Vec<f32>> = (0..10).map(|_| vec![0.1, 0.9, 0.0]).collect();
        let ys10 = vec![0; 10];
        assert!(fit_out_of_scope_at(&all_high, &ys10, &answering, &outside).is_none());
        let mixed = [vec![0.1, 0.9, 0.0], vec![0.2, 0.8, 0.0]];
        let at = fit_out_of_scope_at(&mixed, &[0, 1], &answering, &outside).unwrap();
        assert_eq!(at, DEFAULT_OUT_OF_SCOPE_AT);
    }

    #[test]
    fn the_topic_is_the_entry_and_its_product_and_a_prior_not_a_filter() {
        let snap = snapshot();
        let passport = snap.topic(&["paspoort-aanvragen"], 0.5).unwrap();
        let on: Vec<&str> = snap
            .kb
            .entries
            .iter()
            .zip(&passport.on)
            .filter(|(_, on)| **on)
            .map(|(e, _)| e.id.as_str())
            .collect();
        // The same UPL product; not the identity card, though it shares words and costs.
        assert_eq!(
            on,
            ["paspoort-aanvragen", "paspoort-kind", "paspoort-kosten"]
        );
        // Prior odds 1:1 for the topic, shared by its 3 of the fixture's entries.
        let n = snap.kb.entries.len() as f32;
        assert!((passport.log_odds - ((n - 3.0) / 3.0).ln()).abs() < 1e-5);
        assert!(snap.topic(&["paspoort-aanvragen"], 0.0).is_none());
        assert!(snap.topic(&["bestaat-niet"], 0.5).is_none());

        // A message that names no product goes with the topic, whichever it is (the
        // fixture has 10 entries, so the topic needs a stronger prior to be 1:1 per entry).
        let passport = snap.topic(&["paspoort-aanvragen"], 0.9).unwrap();
        let card = snap.topic(&["identiteitskaart-kosten"], 0.9).unwrap();
        let (id, on_topic) = best(&snap, "en wat kost dat?", Some(&passport));
        assert!(id.starts_with("paspoort") && on_topic, "{id}");
        let (id, on_topic) = best(&snap, "en wat kost dat?", Some(&card));
        assert_eq!((id.as_str(), on_topic), ("identiteitskaart-kosten", true));
        // One that names another product leaves it.
        let plain = best(&snap, "wanneer wordt het grofvuil opgehaald", None);
        let with = best(
            &snap,
            "wanneer wordt het grofvuil opgehaald",
            Some(&passport),
        );
        assert_eq!(plain.0, "grofvuil-ophalen");
        assert_eq!(with, (plain.0, false));
    }
}
