//! The content editor's to-do list: citizen messages the bot could not answer with
//! confidence, grouped by meaning so that one missing FAQ entry shows up as one group.
//!
//! A message is *unanswered* when the bot decided `fallback` (not understood) or `clarify`
//! (asked which of several topics was meant), or decided anything else that is about
//! content (`answer`, `handoff`, `fallback`, `clarify`) with a confidence below the answer
//! threshold. Greetings, privacy redirects, media and messages to an agent are left out, and
//! so are button replies (they pick an option the bot offered). Texts were redacted before
//! they were stored.
//!
//! # Grouping
//! Messages are grouped by the cosine similarity of their sentence embeddings with a greedy
//! centroid ("leader") clustering: in order of arrival, each message joins the group whose
//! centroid is most similar to it if that similarity is at least the threshold, otherwise it
//! starts a new group; a group's centroid is the normalised mean of its members. This needs
//! no number of groups in advance, is deterministic, runs in O(messages × groups), and the
//! centroid keeps a group from drifting along a chain of pairwise-similar messages (which
//! single-linkage agglomerative clustering would do).
//!
//! The default threshold, 0.88, fits multilingual-e5-small: its embeddings are anisotropic
//! (all in a narrow cone), so even unrelated short Dutch questions often score 0.75–0.85,
//! while rephrasings of the same question ("wanneer wordt het grofvuil opgehaald" / "wanneer
//! halen jullie grofvuil op") score around 0.9 and above. Lower values merge different
//! questions into one group; higher values split one question over many groups.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ReportQuery, conversations, parse_time};
use crate::classifier::EmbedWorker;
use crate::classifier::WorkerError;
use crate::store::{SqlStore, StoreError};

/// Why the unanswered questions could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum UnansweredError {
    #[error(transparent)]
    Classifier(#[from] WorkerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// At most this many of the most recent unanswered messages are grouped (each one is
/// embedded, on the encoder shared with live traffic).
pub const MAX_MESSAGES: usize = 500;

/// Examples shown per group.
pub const EXAMPLES: usize = 5;

/// How unanswered messages are selected and grouped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grouping {
    /// Messages with a confidence below this count as unanswered
    /// (`dialogue.answer_threshold`).
    pub answer_threshold: f64,
    /// Least cosine similarity between a message and a group's centroid to join the group.
    pub similarity: f32,
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping {
            answer_threshold: 0.5,
            similarity: 0.88,
        }
    }
}

/// One unanswered citizen message.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub text: String,
    pub intent: Option<String>,
    pub action: String,
    pub created_at: DateTime<Utc>,
}

/// Messages that (probably) ask the same thing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnansweredGroup {
    pub size: u64,
    /// Up to five different texts, the earliest first.
    pub examples: Vec<String>,
    /// The intent the bot guessed most often for these messages, if any.
    pub intent: Option<String>,
    /// How many of the messages had that guess.
    pub intent_count: u64,
    /// How many were not understood (`fallback`), needed a clarifying question (`clarify`),
    /// or were otherwise decided with low confidence.
    pub fallback: u64,
    pub clarify: u64,
    pub low_confidence: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// The to-do list for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unanswered {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub channel: Option<String>,
    pub department: Option<String>,
    /// Unanswered citizen messages in the period.
    pub messages: u64,
    /// Of these, the ones grouped (the most recent [`MAX_MESSAGES`]).
    pub grouped: u64,
    pub similarity: f32,
    pub answer_threshold: f64,
    /// Groups in all (the list may be cut at `limit`).
    pub total_groups: u64,
    /// Largest first (ties: most recently seen first).
    pub groups: Vec<UnansweredGroup>,
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalised(v: &[f32]) -> Vec<f32> {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

/// Greedy centroid clustering (see the module documentation): the indices of `vectors` per
/// group, each group in input order, groups largest first (ties: the group started first).
pub fn group_by_similarity(vectors: &[Vec<f32>], threshold: f32) -> Vec<Vec<usize>> {
    let mut groups: Vec<(Vec<usize>, Vec<f32>)> = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let v = normalised(v);
        let best = groups
            .iter()
            .enumerate()
            .map(|(g, (_, sum))| (g, dot(&normalised(sum), &v)))
            .filter(|(_, sim)| *sim >= threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((g, _)) => {
                let (members, sum) = &mut groups[g];
                members.push(i);
                for (s, x) in sum.iter_mut().zip(&v) {
                    *s += x;
                }
            }
            None => groups.push((vec![i], v)),
        }
    }
    let mut out: Vec<Vec<usize>> = groups.into_iter().map(|(m, _)| m).collect();
    // Stable: equal sizes keep the order in which the groups started.
    out.sort_by_key(|g| std::cmp::Reverse(g.len()));
    out
}

fn describe(items: &[&Item]) -> UnansweredGroup {
    let mut examples: Vec<String> = Vec::new();
    for it in items {
        if examples.len() < EXAMPLES && !examples.contains(&it.text) {
            examples.push(it.text.clone());
        }
    }
    let mut intents: HashMap<&str, u64> = HashMap::new();
    for it in items {
        if let Some(i) = it.intent.as_deref().filter(|i| !i.is_empty()) {
            *intents.entry(i).or_default() += 1;
        }
    }
    let intent = intents
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)));
    let action = |a: &str| items.iter().filter(|i| i.action == a).count() as u64;
    let first = items.iter().map(|i| i.created_at).min();
    let last = items.iter().map(|i| i.created_at).max();
    UnansweredGroup {
        size: items.len() as u64,
        examples,
        intent: intent.map(|(i, _)| i.to_string()),
        intent_count: intent.map(|(_, n)| n).unwrap_or(0),
        fallback: action("fallback"),
        clarify: action("clarify"),
        low_confidence: items.len() as u64 - action("fallback") - action("clarify"),
        first_seen: first.map(crate::store::timestamp).unwrap_or_default(),
        last_seen: last.map(crate::store::timestamp).unwrap_or_default(),
    }
}

/// Groups already-embedded items; largest groups first, ties most recently seen first.
pub fn groups_of(items: &[Item], vectors: &[Vec<f32>], similarity: f32) -> Vec<UnansweredGroup> {
    let mut groups: Vec<UnansweredGroup> = group_by_similarity(vectors, similarity)
        .into_iter()
        .map(|g| describe(&g.iter().map(|&i| &items[i]).collect::<Vec<_>>()))
        .collect();
    groups.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then_with(|| b.last_seen.cmp(&a.last_seen))
    });
    groups
}

fn is_unanswered(action: &str, confidence: Option<f64>, threshold: f64) -> bool {
    match action {
        "fallback" | "clarify" => true,
        "answer" | "handoff" => confidence.is_some_and(|c| c < threshold),
        _ => false,
    }
}

/// The unanswered messages of the period's conversations, oldest first.
pub async fn unanswered_items(
    store: &SqlStore,
    q: &ReportQuery,
    answer_threshold: f64,
) -> Result<Vec<Item>, UnansweredError> {
    let convs = conversations(store, q).await?;
    let bounds = q.bounds();
    let rows = store.citizen_decisions(&q.period(&bounds)).await?;
    let mut out = Vec::new();
    for r in rows {
        if !convs.contains_key(&r.conversation_id)
            || r.kind != "text"
            || r.text.trim().is_empty()
            || !is_unanswered(&r.action, r.confidence, answer_threshold)
        {
            continue;
        }
        let Some(created_at) = parse_time(&r.created_at) else {
            continue;
        };
        out.push(Item {
            text: r.text,
            intent: r.intent,
            action: r.action,
            created_at,
        });
    }
    Ok(out)
}

/// The unanswered messages of a period, grouped by meaning, at most `limit` groups.
pub async fn unanswered(
    store: &SqlStore,
    worker: &EmbedWorker,
    q: &ReportQuery,
    grouping: &Grouping,
    limit: usize,
) -> Result<Unanswered, UnansweredError> {
    let mut items = unanswered_items(store, q, grouping.answer_threshold).await?;
    let messages = items.len() as u64;
    if items.len() > MAX_MESSAGES {
        items.drain(..items.len() - MAX_MESSAGES);
    }
    let mut vectors = Vec::with_capacity(items.len());
    for it in &items {
        vectors.push(worker.embed(&it.text).await?);
    }
    let groups = groups_of(&items, &vectors, grouping.similarity);
    Ok(Unanswered {
        from: q.from,
        to: q.to,
        channel: q.channel.clone(),
        department: q.department.clone(),
        messages,
        grouped: items.len() as u64,
        similarity: grouping.similarity,
        answer_threshold: grouping.answer_threshold,
        total_groups: groups.len() as u64,
        groups: groups.into_iter().take(limit).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str, intent: Option<&str>, action: &str, minute: u32) -> Item {
        Item {
            text: text.into(),
            intent: intent.map(Into::into),
            action: action.into(),
            created_at: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 2, 9, minute, 0)
                .unwrap(),
        }
    }

    #[test]
    fn similar_vectors_form_one_group_and_dissimilar_ones_their_own() {
        // Two clear directions (x and y) with small perturbations, and one outlier (z).
        let vectors = vec![
            vec![1.0, 0.05, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.98, 0.1, 0.02],
            vec![0.0, 0.0, 1.0],
            vec![0.97, 0.0, 0.1],
            vec![0.1, 0.95, 0.0],
        ];
        let groups = group_by_similarity(&vectors, 0.88);
        assert_eq!(groups, vec![vec![0, 2, 4], vec![1, 5], vec![3]]);
    }

    #[test]
    fn the_threshold_decides_what_is_similar_enough() {
        // cos(a, b) = 0.8: one group at 0.75, two at 0.88.
        let vectors = vec![vec![1.0, 0.0], vec![0.8, 0.6]];
        assert_eq!(group_by_similarity(&vectors, 0.75).len(), 1);
        assert_eq!(group_by_similarity(&vectors, 0.88).len(), 2);
        assert!(group_by_similarity(&[], 0.88).is_empty());
    }

    #[test]
    fn the_centroid_keeps_a_chain_from_drifting() {
        // Each vector is 0.9-similar to the previous one, but the last is far from the first:
        // a chain that single linkage would merge entirely.
        let angle = |deg: f32| {
            let r = deg.to_radians();
            vec![r.cos(), r.sin()]
        };
        let vectors: Vec<Vec<f32>> = [0.0, 25.0, 50.0, 75.0].into_iter().map(angle).collect();
        let groups = group_by_similarity(&vectors, 0.88);
        assert!(groups.len() > 1, "{groups:?}");
    }

    #[test]
    fn groups_are_described_with_examples_intent_and_dates() {
        let items = vec![
            item("waar is de milieustraat", Some("afval"), "fallback", 1),
            item("hoe laat open", None, "clarify", 2),
            item("milieustraat open zondag?", Some("afval"), "clarify", 3),
            item(
                "waar is de milieustraat",
                Some("openingstijden"),
                "answer",
                4,
            ),
        ];
        let vectors = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![0.99, 0.1],
            vec![1.0, 0.0],
        ];
        let groups = groups_of(&items, &vectors, 0.88);
        assert_eq!(groups.len(), 2);
        let g = &groups[0];
        assert_eq!(g.size, 3);
        assert_eq!(
            g.examples,
            vec!["waar is de milieustraat", "milieustraat open zondag?"]
        );
        assert_eq!(g.intent.as_deref(), Some("afval"));
        assert_eq!(g.intent_count, 2);
        assert_eq!((g.fallback, g.clarify, g.low_confidence), (1, 1, 1));
        assert_eq!(g.first_seen, "2026-11-02T09:01:00.000Z");
        assert_eq!(g.last_seen, "2026-11-02T09:04:00.000Z");
        assert_eq!(groups[1].size, 1);
        assert_eq!(groups[1].intent, None);
    }

    #[test]
    fn what_counts_as_unanswered() {
        assert!(is_unanswered("fallback", Some(0.9), 0.5));
        assert!(is_unanswered("clarify", None, 0.5));
        assert!(is_unanswered("answer", Some(0.4), 0.5));
        assert!(!is_unanswered("answer", Some(0.6), 0.5));
        assert!(!is_unanswered("smalltalk", Some(0.1), 0.5));
        assert!(!is_unanswered("privacy_redirect", Some(0.1), 0.5));
        assert!(!is_unanswered("agent", None, 0.5));
    }
}
