//! Scoring the whole decision on question sets written by others (`loket eval --questions`,
//! `--conversations`): each message carries what a person at the counter would do
//! (`expected`: `answer` with the product's UPL, `clarify`, `out_of_scope`, `handoff`,
//! `privacy_redirect`, `smalltalk`). An answer is right when the answered entry is about the
//! expected UPL product; the ranking is scored too (recall@1, MRR, right among the options).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::classifier::Embed;
use crate::config::DialogueConfig;
use crate::knowledge::Action;
use crate::turn::{self, Plan, Situation};
use crate::understand::Snapshot;

/// One labelled citizen message.
#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    #[serde(default)]
    pub id: String,
    pub text: String,
    pub expected: String,
    /// The product of an expected answer; `lang` and `style` group the report.
    pub upl: Option<String>,
    pub lang: Option<String>,
    pub style: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Conversation {
    #[serde(default)]
    pub id: String,
    pub turns: Vec<Question>,
}

/// Reads a JSON Lines file of `T`, naming the line of any problem.
pub fn read_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not a labelled message", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

/// How one message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The expected action (for an answer: an entry about the expected product).
    Right,
    /// A clarifying question where an answer was expected, with the right entry among the
    /// options.
    ClarifiedWithRight,
    /// A clarifying question without the right entry among the options.
    Clarified,
    /// An answer about another product, or an answer where none was expected.
    Wrong,
    /// Another action than expected (a fallback, a handoff, …).
    Other,
}

/// Tallies of verdicts and ranking figures for one group of messages.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    pub n: usize,
    pub right: usize,
    pub clarified_with_right: usize,
    pub clarified: usize,
    pub wrong: usize,
    pub other: usize,
    /// Messages expecting an answer whose right entry ranks first / in the top 3.
    pub ranked: usize,
    pub recall_at_1: usize,
    pub in_top_3: usize,
    pub reciprocal_rank_sum: f64,
}

impl Tally {
    fn add(&mut self, v: Verdict, rank: Option<Option<usize>>) {
        self.n += 1;
        match v {
            Verdict::Right => self.right += 1,
            Verdict::ClarifiedWithRight => self.clarified_with_right += 1,
            Verdict::Clarified => self.clarified += 1,
            Verdict::Wrong => self.wrong += 1,
            Verdict::Other => self.other += 1,
        }
        if let Some(rank) = rank {
            self.ranked += 1;
            if let Some(r) = rank {
                self.recall_at_1 += usize::from(r == 1);
                self.in_top_3 += usize::from(r <= 3);
                self.reciprocal_rank_sum += 1.0 / r as f64;
            }
        }
    }

    fn pct(&self, k: usize) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            100.0 * k as f64 / self.n as f64
        }
    }

    pub fn line(&self, name: &str) -> String {
        let mut s = format!(
            "{name:<28} n={:<4} right {:5.1}%  clarify {:5.1}% (right in options {:5.1}%)  wrong {:5.1}%  other {:5.1}%",
            self.n,
            self.pct(self.right),
            self.pct(self.clarified + self.clarified_with_right),
            self.pct(self.clarified_with_right),
            self.pct(self.wrong),
            self.pct(self.other),
        );
        if self.ranked > 0 {
            let r = self.ranked as f64;
            s.push_str(&format!(
                "  | recall@1 {:5.1}%  top-3 {:5.1}%  MRR {:.3}",
                100.0 * self.recall_at_1 as f64 / r,
                100.0 * self.in_top_3 as f64 / r,
                self.reciprocal_rank_sum / r
            ));
        }
        s
    }
}

/// The report of a question set and of a conversation set.
#[derive(Debug, Default, Serialize)]
pub struct BlindReport {
    /// By expected action (`answer`, `out_of_scope`, …), `all` for everything.
    pub by_expected: BTreeMap<String, Tally>,
    /// Messages expecting an answer, by style and by language.
    pub answer_by_style: BTreeMap<String, Tally>,
    pub answer_by_lang: BTreeMap<String, Tally>,
    /// Turns of conversations, by expected action; `all` for every turn.
    pub turns: BTreeMap<String, Tally>,
    /// Conversations in which every turn went as expected.
    pub conversations_all_right: usize,
    pub conversations: usize,
    /// Messages and turns expecting an answer that got a privacy redirect carrying an
    /// entry's answer, right and wrong (counted in the tallies by that entry).
    pub carried_by_redirect: [usize; 2],
}

impl BlindReport {
    fn note_carried(&mut self, q: &Question, plan: &Plan, v: Verdict) {
        if q.expected == "answer"
            && plan.reply.action == Action::PrivacyRedirect
            && plan.reply.faq_id.is_some()
        {
            self.carried_by_redirect[usize::from(v != Verdict::Right)] += 1;
        }
    }

    pub fn print(&self) {
        if !self.by_expected.is_empty() {
            println!("questions, by expected outcome:");
            for (k, t) in &self.by_expected {
                println!("  {}", t.line(k));
            }
            println!("questions expecting an answer, by style:");
            for (k, t) in &self.answer_by_style {
                println!("  {}", t.line(k));
            }
            println!("questions expecting an answer, by language:");
            for (k, t) in &self.answer_by_lang {
                println!("  {}", t.line(k));
            }
        }
        if self.conversations > 0 {
            println!("conversation turns, by expected outcome:");
            for (k, t) in &self.turns {
                println!("  {}", t.line(k));
            }
            println!(
                "  conversations with every turn as expected: {} of {}",
                self.conversations_all_right, self.conversations
            );
        }
        let [right, wrong] = self.carried_by_redirect;
        if right + wrong > 0 {
            println!(
                "answers that came with a privacy redirect (counted above by their entry): {right} right, {wrong} wrong"
            );
        }
    }
}

/// The UPL of each entry of the snapshot, by id.
fn upl_of<'s>(snap: &'s Snapshot, faq_id: &str) -> Option<&'s str> {
    snap.kb
        .entry(faq_id)
        .map(|e| e.upl.as_str())
        .filter(|u| !u.is_empty())
}

/// Whether entry `faq` is about the product `q` expects.
fn is_about(snap: &Snapshot, q: &Question, faq: &str) -> bool {
    q.upl.is_some() && upl_of(snap, faq) == q.upl.as_deref()
}

/// The expected action of a label.
fn expected_action(expected: &str) -> Option<Action> {
    Some(match expected {
        "answer" => Action::Answer,
        "clarify" => Action::Clarify,
        "out_of_scope" | "fallback" => Action::Fallback,
        "handoff" => Action::Handoff,
        "privacy_redirect" => Action::PrivacyRedirect,
        "smalltalk" => Action::Smalltalk,
        _ => return None,
    })
}

/// The verdict on one plan, and for an expected answer the rank of the first candidate
/// about the expected product (None when not in the top 5), read with the conversation's
/// topic when there was one.
pub fn judge(snap: &Snapshot, q: &Question, plan: &Plan) -> (Verdict, Option<Option<usize>>) {
    let action = plan.reply.action;
    let about = |faq: &str| is_about(snap, q, faq);
    let expected = expected_action(&q.expected);
    if expected == Some(Action::Answer) {
        // In a conversation, the ranking the decision saw: with the topic as a prior.
        let rank = plan
            .within
            .as_ref()
            .unwrap_or(&plan.understanding)
            .candidates
            .iter()
            .position(|c| about(&c.faq_id))
            .map(|r| r + 1);
        // A redirect for privacy that also answers the general question carries an entry:
        // the citizen reads that entry's answer, right or wrong.
        let carried = plan.reply.faq_id.as_deref();
        let verdict = match action {
            Action::Answer | Action::PrivacyRedirect if carried.is_some_and(about) => {
                Verdict::Right
            }
            Action::Answer => Verdict::Wrong,
            Action::PrivacyRedirect if carried.is_some() => Verdict::Wrong,
            Action::Clarify if plan.reply.options.iter().any(|o| about(&o.id)) => {
                Verdict::ClarifiedWithRight
            }
            Action::Clarify => Verdict::Clarified,
            _ => Verdict::Other,
        };
        return (verdict, Some(rank));
    }
    let verdict = if Some(action) == expected {
        Verdict::Right
    } else if action == Action::Answer {
        Verdict::Wrong
    } else if action == Action::Clarify {
        Verdict::Clarified
    } else {
        Verdict::Other
    };
    (verdict, None)
}

/// Plans one message in `situation`.
fn plan_one(
    snap: &Snapshot,
    embedder: &dyn Embed,
    text: &str,
    situation: &Situation,
    cfg: &DialogueConfig,
    now: DateTime<Utc>,
) -> Result<Plan> {
    Ok(turn::plan_batch(snap, embedder, &[text], situation, cfg, now)?.remove(0))
}

/// Scores a question set (each message on its own) and a conversation set (turn by turn,
/// each with the context the previous turns left).
pub fn score(
    snap: &Snapshot,
    embedder: &dyn Embed,
    questions: &[Question],
    conversations: &[Conversation],
    cfg: &DialogueConfig,
    now: DateTime<Utc>,
) -> Result<BlindReport> {
    let mut r = BlindReport::default();
    let fresh = Situation::default();
    for q in questions {
        let plan = plan_one(snap, embedder, &q.text, &fresh, cfg, now)?;
        let (v, rank) = judge(snap, q, &plan);
        log_miss(q, &plan, v);
        log_row(snap, q, &plan, v);
        r.note_carried(q, &plan, v);
        r.by_expected
            .entry(q.expected.clone())
            .or_default()
            .add(v, rank);
        r.by_expected.entry("all".into()).or_default().add(v, rank);
        if q.expected == "answer" {
            let style = q.style.clone().unwrap_or_else(|| "-".into());
            let lang = q.lang.clone().unwrap_or_else(|| "-".into());
            r.answer_by_style.entry(style).or_default().add(v, rank);
            r.answer_by_lang.entry(lang).or_default().add(v, rank);
        }
    }
    for c in conversations {
        let mut situation = Situation::default();
        let mut all_right = true;
        for q in &c.turns {
            let plan = plan_one(snap, embedder, &q.text, &situation, cfg, now)?;
            let (v, rank) = judge(snap, q, &plan);
            log_miss(q, &plan, v);
            r.note_carried(q, &plan, v);
            all_right &= v == Verdict::Right;
            r.turns.entry(q.expected.clone()).or_default().add(v, rank);
            r.turns.entry("all".into()).or_default().add(v, rank);
            situation.context = plan.context;
        }
        r.conversations += 1;
        r.conversations_all_right += usize::from(all_right);
    }
    Ok(r)
}

/// One JSON line per message at `trace` (`LOKET_LOG=loket::eval::rows=trace`): its
/// verdict and its best five entries with their features and whether each is about the
/// expected product, for studying the answer decision offline.
fn log_row(snap: &Snapshot, q: &Question, plan: &Plan, v: Verdict) {
    if !tracing::enabled!(target: "loket::eval::rows", tracing::Level::TRACE) {
        return;
    }
    let u = &plan.understanding;
    let about = |faq: &str| is_about(snap, q, faq);
    let candidates: Vec<serde_json::Value> = u
        .candidates
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.faq_id, "right": about(&c.faq_id), "confidence": c.confidence,
                "support": u.support(c), "cosine": c.cosine, "lexical": c.bm25,
                "passage": c.passage, "library": c.intent.is_empty(),
            })
        })
        .collect();
    let row = serde_json::json!({
        "id": q.id, "expected": q.expected, "style": q.style, "verdict": v,
        "action": plan.reply.action.as_str(), "answerable": u.answerable,
        "candidates": candidates,
    });
    tracing::trace!(target: "loket::eval::rows", "{row}");
}

fn log_miss(q: &Question, plan: &Plan, v: Verdict) {
    if v != Verdict::Right {
        tracing::debug!(
            id = %q.id,
            text = %q.text,
            expected = %q.expected,
            got = plan.reply.action.as_str(),
            faq = ?plan.reply.faq_id,
            verdict = ?v,
            intents = ?plan.understanding.intents.iter().take(2).map(|i| (i.intent.as_str(), i.probability)).collect::<Vec<_>>(),
            out_of_scope = plan.understanding.out_of_scope,
            within = %plan.within.as_ref().map(super::candidates_line).unwrap_or_default(),
            "not as expected"
        );
    }
}
