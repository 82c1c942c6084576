//! `loket eval`: trains the intent head (on the project's intents, or on `--train`) and
//! measures it on `--test`: accuracy, macro-F1, per-intent precision and recall, the most
//! confused pairs, expected calibration error, latency percentiles; and, on the project's
//! own content, how often an `answer` is wrong. With `--questions` / `--conversations` it
//! scores the whole decision on labelled sets written by others ([`questions`]), optionally
//! with a library of entries beside the content (`--library`).

pub mod questions;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::app;
use crate::classifier::cache::EmbeddingCache;
use crate::classifier::{Embed, HeadConfig, IntentHead};
use crate::config::Config;
use crate::knowledge::Action;
use crate::search::FaqIndex;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Training file (lines with `text` and `intent`); default: the project's intents/.
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// Test file (lines with `text` and `intent`).
    #[arg(long, required_unless_present_any = ["questions", "conversations"])]
    pub test: Option<PathBuf>,
    /// Labelled citizen messages (`text`, `expected`, `upl`, `lang`, `style`): the whole
    /// decision is scored, and the ranking of entries by UPL product.
    #[arg(long)]
    pub questions: Option<PathBuf>,
    /// Labelled conversations (`turns` of labelled messages), scored turn by turn.
    #[arg(long)]
    pub conversations: Option<PathBuf>,
    /// A further library folder (with `entries/`) served beneath the content: its pages
    /// beside the municipality's entries and library, except those about an id or UPL
    /// product the content already has. With `--test` (and no `--train`): the municipal
    /// messages read with those pages served too.
    #[arg(long)]
    pub library: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also report the BM25-only baseline (a nearest-neighbour vote over the training texts).
    #[arg(long)]
    pub baselines: bool,
    /// With `--conversations`: score them at each of these values of `dialogue.topic_stay`
    /// (comma-separated, e.g. `0,0.3,0.5,0.7,0.9`) and name the one with the most turns as
    /// expected: how the topic prior is fitted on labelled conversations of one's own.
    #[arg(long, value_delimiter = ',')]
    pub topic_stay: Vec<f32>,
}

#[derive(Deserialize)]
struct Labeled {
    text: String,
    intent: String,
}

fn read_labeled(path: &Path) -> Result<Vec<Labeled>> {
    questions::read_lines(path)
}

#[derive(Debug, Serialize, Default)]
pub struct IntentScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Debug, Serialize, Default)]
pub struct Report {
    pub train_examples: usize,
    pub test_examples: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub ece: f64,
    pub temperature: f32,
    pub per_intent: BTreeMap<String, IntentScore>,
    pub confused: Vec<(String, String, usize)>,
    pub latency_ms_p50: f64,
    pub latency_ms_p90: f64,
    pub latency_ms_p99: f64,
    pub train_seconds: f64,
    /// Accuracy of the head's cross-validated predictions on its own training examples:
    /// a figure to compare training settings by without looking at the test set.
    pub cv_accuracy: Option<f64>,
    /// Accuracy of the BM25-only baseline, when asked.
    pub bm25_accuracy: Option<f64>,
    /// On the project's content: share of messages answered with `answer`, and how many of
    /// those were of another intent than labelled.
    pub answered_share: Option<f64>,
    pub answered_wrong_share: Option<f64>,
    pub action_counts: Option<BTreeMap<String, usize>>,
}

pub fn run(config: &Config, args: EvalArgs) -> Result<i32> {
    app::init_tracing("pretty");
    let Some(test_path) = &args.test else {
        return run_blind(config, &args);
    };
    let test = read_labeled(test_path)?;
    if test.is_empty() {
        bail!("{} holds no examples", test_path.display());
    }
    let embedder = app::load_embedder(config)?;
    let cache = EmbeddingCache::shared(&config.cache_dir(), embedder.as_ref());

    let report = match &args.train {
        Some(train_path) => {
            let train = read_labeled(train_path)?;
            let mut labels: Vec<String> = train.iter().map(|l| l.intent.clone()).collect();
            labels.sort();
            labels.dedup();
            let texts: Vec<String> = train.iter().map(|l| l.text.clone()).collect();
            let ys: Vec<usize> = train
                .iter()
                .map(|l| labels.iter().position(|x| *x == l.intent).unwrap())
                .collect();
            let t0 = Instant::now();
            let xs: Vec<Vec<f32>> = cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .embed_all(embedder.as_ref(), &texts)?
                .iter()
                .map(|v| v.to_vec())
                .collect();
            let head = IntentHead::train(&xs, &texts, &ys, labels.clone(), &HeadConfig::default())?;
            let train_seconds = t0.elapsed().as_secs_f64();
            let mut r = evaluate(embedder.as_ref(), &head, &test)?;
            r.train_examples = train.len();
            r.train_seconds = train_seconds;
            r.cv_accuracy = cv_accuracy(&head, &ys);
            if args.baselines {
                r.bm25_accuracy = Some(bm25_baseline(&train, &test)?);
            }
            r
        }
        None => {
            // With `--library`, the municipal messages are read with the library's pages
            // beneath (does adding hundreds of entries move the municipal figures?).
            let kb = match &args.library {
                Some(_) => load_beneath(config, &args)?,
                None => crate::content::load_knowledge(config, &config.paths.knowledge_base)?,
            };
            let t0 = Instant::now();
            let snap = crate::understand::Snapshot::build(kb, embedder.as_ref(), &cache)?;
            let train_seconds = t0.elapsed().as_secs_f64();
            let mut r = evaluate(embedder.as_ref(), &snap.head, &test)?;
            let (_, ys, _) = crate::understand::training_set(&snap.kb);
            r.train_examples = ys.len();
            r.train_seconds = train_seconds;
            r.cv_accuracy = cv_accuracy(&snap.head, &ys);
            // The whole decision on each message: how often is an `answer` wrong?
            let now = Utc::now();
            let mut answered = 0usize;
            let mut wrong = 0usize;
            let mut actions: BTreeMap<String, usize> = BTreeMap::new();
            for l in &test {
                let o = crate::turn::plan_batch(
                    &snap,
                    embedder.as_ref(),
                    &[l.text.as_str()],
                    &Default::default(),
                    &config.dialogue,
                    now,
                )?
                .remove(0);
                *actions
                    .entry(o.reply.action.as_str().to_string())
                    .or_default() += 1;
                tracing::debug!(
                    text = %l.text,
                    expected = %l.intent,
                    action = o.reply.action.as_str(),
                    candidates = %candidates_line(&o.understanding),
                    "decision"
                );
                if o.reply.action == Action::Answer {
                    answered += 1;
                    if o.reply.intent.as_deref() != Some(l.intent.as_str()) {
                        wrong += 1;
                        tracing::debug!(text = %l.text, expected = %l.intent, got = ?o.reply.intent, "wrong answer");
                    }
                }
            }
            r.answered_share = Some(answered as f64 / test.len() as f64);
            r.answered_wrong_share = Some(if answered == 0 {
                0.0
            } else {
                wrong as f64 / answered as f64
            });
            r.action_counts = Some(actions);
            if args.baselines {
                let (texts, ys, labels) = crate::understand::training_set(&snap.kb);
                let train: Vec<Labeled> = texts
                    .into_iter()
                    .zip(ys)
                    .map(|(text, y)| Labeled {
                        text,
                        intent: labels[y].clone(),
                    })
                    .collect();
                r.bm25_accuracy = Some(bm25_baseline(&train, &test)?);
            }
            r
        }
    };
    cache.lock().unwrap_or_else(|e| e.into_inner()).save();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(0)
}

/// `--topic-stay`: the conversations scored at each value, and the best value: the most
/// turns as expected less the turns answered wrongly (a wrong answer undoes what a right
/// one gains; a clarifying question or a fallback costs a turn but misleads nobody). The
/// smaller value wins a tie: the weaker assumption.
fn sweep_topic_stay(
    snap: &crate::understand::Snapshot,
    embedder: &dyn Embed,
    conversations: &[questions::Conversation],
    config: &Config,
    args: &EvalArgs,
) -> Result<i32> {
    if conversations.is_empty() {
        anyhow::bail!("--topic-stay needs --conversations");
    }
    let mut best: Option<(f32, i64)> = None;
    for &stay in &args.topic_stay {
        if !(0.0..1.0).contains(&stay) {
            anyhow::bail!("--topic-stay {stay}: each value must be at least 0 and below 1");
        }
        let mut cfg = config.dialogue.clone();
        cfg.topic_stay = stay;
        let r = questions::score(snap, embedder, &[], conversations, &cfg, Utc::now())?;
        let all = r.turns.get("all").cloned().unwrap_or_default();
        println!(
            "topic_stay {stay:.2}: {}; every turn as expected in {} of {} conversations",
            all.line("turns"),
            r.conversations_all_right,
            r.conversations
        );
        let gain = all.right as i64 - all.wrong as i64;
        if best.is_none_or(|(_, b)| gain > b) {
            best = Some((stay, gain));
        }
    }
    if let Some((stay, _)) = best {
        println!("best: topic_stay = {stay:.2} (set it under [dialogue] in loket.toml)");
    }
    Ok(0)
}

/// The best candidates of an understanding, for a debug line: id, confidence and the
/// features (support, cosine, lexical, passage).
fn candidates_line(u: &crate::understand::Understanding) -> String {
    u.candidates
        .iter()
        .take(3)
        .map(|c| {
            format!(
                "{} {:.2} (s {:.2} c {:.2} l {:.2} p {:.2})",
                c.faq_id,
                c.confidence,
                u.support(c),
                c.cosine,
                c.bm25,
                c.passage
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The content with `--library`'s pages beneath it.
fn load_beneath(config: &Config, args: &EvalArgs) -> Result<crate::knowledge::KnowledgeBase> {
    crate::knowledge::load_sources(
        &config.paths.knowledge_base,
        &config.paths.intents,
        args.library.as_deref(),
        Utc::now().date_naive(),
        None,
    )
    .into_result()
    .map_err(|e| anyhow::anyhow!("the content has errors:\n{e}"))
}

/// `--questions` / `--conversations`: the content (with `--library` beside it) answers
/// labelled sets; the report says how each kind of message went.
fn run_blind(config: &Config, args: &EvalArgs) -> Result<i32> {
    let questions: Vec<questions::Question> = match &args.questions {
        Some(p) => questions::read_lines(p)?,
        None => Vec::new(),
    };
    let conversations: Vec<questions::Conversation> = match &args.conversations {
        Some(p) => questions::read_lines(p)?,
        None => Vec::new(),
    };
    let embedder = app::load_embedder(config)?;
    let cache = EmbeddingCache::shared(&config.cache_dir(), embedder.as_ref());
    let now = Utc::now();
    let kb = load_beneath(config, args)?;
    let t0 = Instant::now();
    let snap = crate::understand::Snapshot::build(kb, embedder.as_ref(), &cache)?;
    cache.lock().unwrap_or_else(|e| e.into_inner()).save();
    eprintln!(
        "{} entries, {} intents, built in {:.1} s; fusion weights {:?}",
        snap.kb.entries.len(),
        snap.kb.intents.len(),
        t0.elapsed().as_secs_f64(),
        snap.weights
    );
    if !args.topic_stay.is_empty() {
        return sweep_topic_stay(&snap, embedder.as_ref(), &conversations, config, args);
    }
    let report = questions::score(
        &snap,
        embedder.as_ref(),
        &questions,
        &conversations,
        &config.dialogue,
        now,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report.print();
    }
    Ok(0)
}

fn evaluate(embedder: &dyn Embed, head: &IntentHead, test: &[Labeled]) -> Result<Report> {
    let labels = head.labels();
    let mut latencies = Vec::with_capacity(test.len());
    let mut preds = Vec::with_capacity(test.len());
    for l in test {
        // Batch 1, as a citizen's message arrives: tokenise + encode + head.
        let t = Instant::now();
        let v = embedder.embed(&[l.text.as_str()])?.remove(0);
        let p = head.predict(&v, &l.text);
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        let (best, conf) = most_probable(&p);
        preds.push((labels[best].clone(), conf));
    }
    let mut r = Report {
        test_examples: test.len(),
        temperature: head.temperature,
        ..Default::default()
    };
    let correct = preds
        .iter()
        .zip(test)
        .filter(|(p, l)| p.0 == l.intent)
        .count();
    r.accuracy = correct as f64 / test.len() as f64;
    // Per-intent precision / recall.
    let mut all: Vec<&str> = test.iter().map(|l| l.intent.as_str()).collect();
    all.extend(labels.iter().map(String::as_str));
    all.sort();
    all.dedup();
    let mut f1s = Vec::new();
    for intent in all {
        let tp = preds
            .iter()
            .zip(test)
            .filter(|(p, l)| p.0 == intent && l.intent == intent)
            .count();
        let fp = preds
            .iter()
            .zip(test)
            .filter(|(p, l)| p.0 == intent && l.intent != intent)
            .count();
        let support = test.iter().filter(|l| l.intent == intent).count();
        if support == 0 && fp == 0 {
            continue;
        }
        let precision = if tp + fp == 0 {
            0.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let recall = if support == 0 {
            0.0
        } else {
            tp as f64 / support as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        if support > 0 {
            f1s.push(f1);
        }
        r.per_intent.insert(
            intent.to_string(),
            IntentScore {
                precision,
                recall,
                f1,
                support,
            },
        );
    }
    r.macro_f1 = f1s.iter().sum::<f64>() / f1s.len().max(1) as f64;
    // Most confused pairs.
    let mut pairs: HashMap<(String, String), usize> = HashMap::new();
    for (p, l) in preds.iter().zip(test) {
        if p.0 != l.intent {
            *pairs.entry((l.intent.clone(), p.0.clone())).or_default() += 1;
        }
    }
    let mut pairs: Vec<(String, String, usize)> =
        pairs.into_iter().map(|((a, b), n)| (a, b, n)).collect();
    pairs.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    r.confused = pairs.into_iter().take(10).collect();
    // Expected calibration error over 10 equal-width bins.
    let mut bins = vec![(0usize, 0f64, 0usize); 10];
    for (p, l) in preds.iter().zip(test) {
        let b = ((p.1 * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += p.1 as f64;
        bins[b].2 += usize::from(p.0 == l.intent);
    }
    r.ece = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|(n, conf, ok)| {
            (*n as f64 / test.len() as f64) * (conf / *n as f64 - *ok as f64 / *n as f64).abs()
        })
        .sum();
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    r.latency_ms_p50 = pct(0.5);
    r.latency_ms_p90 = pct(0.9);
    r.latency_ms_p99 = pct(0.99);
    Ok(r)
}

/// BM25-only baseline: each training text is a document; the test message takes the intent
/// of the best-scoring one (through the same Dutch analyzer as the FAQ index).
fn bm25_baseline(train: &[Labeled], test: &[Labeled]) -> Result<f64> {
    let entries: Vec<crate::knowledge::Entry> = train
        .iter()
        .enumerate()
        .map(|(i, l)| crate::knowledge::Entry {
            id: format!("t{i}"),
            title: String::new(),
            short_title: None,
            intent: l.intent.clone(),
            department: String::new(),
            upl: String::new(),
            url: None,
            questions: vec![l.text.clone()],
            tags: Vec::new(),
            related: Vec::new(),
            valid_from: None,
            valid_until: None,
            answer: String::new(),
            answer_en: None,
            replaces: None,
            unfilled: None,
            from_library: false,
            source: PathBuf::new(),
            lines: Default::default(),
            body_line: 0,
        })
        .collect();
    let index = FaqIndex::build(&entries)?;
    let mut correct = 0usize;
    for l in test {
        let hits = index.search(&l.text, None, 1)?;
        if hits.first().map(|h| entries[h.entry].intent.as_str()) == Some(l.intent.as_str()) {
            correct += 1;
        }
    }
    Ok(correct as f64 / test.len() as f64)
}

/// The share of training examples whose cross-validated prediction is their label.
fn cv_accuracy(head: &IntentHead, ys: &[usize]) -> Option<f64> {
    let probs = &head.cv_probabilities;
    if probs.len() != ys.len() || ys.is_empty() {
        return None;
    }
    let right = probs
        .iter()
        .zip(ys)
        .filter(|(p, y)| most_probable(p).0 == **y)
        .count();
    Some(right as f64 / ys.len() as f64)
}

/// The class with the highest probability, and that probability.
fn most_probable(p: &[f32]) -> (usize, f32) {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, c)| (i, *c))
        .expect("at least one class")
}

fn print_report(r: &Report) {
    println!(
        "trained on {} examples in {:.2} s; tested on {}",
        r.train_examples, r.train_seconds, r.test_examples
    );
    if let Some(a) = r.cv_accuracy {
        println!("cross-validated on the training examples {:.1}%", a * 100.0);
    }
    println!("accuracy      {:.1}%", r.accuracy * 100.0);
    println!("macro-F1      {:.3}", r.macro_f1);
    println!(
        "ECE           {:.3} (temperature {:.2})",
        r.ece, r.temperature
    );
    if let Some(b) = r.bm25_accuracy {
        println!("BM25 baseline {:.1}%", b * 100.0);
    }
    println!(
        "latency (batch 1, tokenise + encode + head): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        r.latency_ms_p50, r.latency_ms_p90, r.latency_ms_p99
    );
    if let (Some(a), Some(w)) = (r.answered_share, r.answered_wrong_share) {
        println!(
            "answered      {:.1}% of messages with action `answer`; {:.1}% of those wrong",
            a * 100.0,
            w * 100.0
        );
    }
    if let Some(actions) = &r.action_counts {
        let parts: Vec<String> = actions.iter().map(|(a, n)| format!("{a} {n}")).collect();
        println!("actions       {}", parts.join(", "));
    }
    println!("\nper intent (precision / recall / support):");
    for (intent, s) in &r.per_intent {
        println!(
            "  {intent:<26} {:.2} / {:.2} / {}",
            s.precision, s.recall, s.support
        );
    }
    if !r.confused.is_empty() {
        println!("\nmost confused (expected → predicted: count):");
        for (a, b, n) in &r.confused {
            println!("  {a} → {b}: {n}");
        }
    }
}
