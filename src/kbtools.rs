//! The content editors' command-line tools:
//! - `loket kb check [DIR]`: every problem of the content with file, line and fix, for one
//!   municipality folder or (without DIR) for every one the configuration serves;
//! - `loket kb test [FILE]`: the regression questions in `knowledge-base/tests.yaml`, each run
//!   through the same stateless decision path as `loket classify`;
//! - `loket kb coverage`: answering intents without entries, UPL products the entries do not
//!   cover, and entries that none of the example questions reaches.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::app;
use crate::classifier::Embed;
use crate::classifier::cache::EmbeddingCache;
use crate::config::Config;
use crate::knowledge::{self, Action, KnowledgeBase, upl};
use crate::understand::Snapshot;

/// Exit code when the knowledge base itself has errors (as `kb check`).
const CONTENT_ERRORS: i32 = 3;

/// One regression question as editors write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub question: String,
    /// The id of the entry that must answer.
    #[serde(default)]
    pub expect: Option<String>,
    /// The action that must be taken: answer, clarify, handoff, privacy_redirect, fallback, smalltalk.
    #[serde(default)]
    pub expect_action: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub line: usize,
    pub question: String,
    pub expect: Option<String>,
    pub expect_action: Option<String>,
    pub passed: bool,
    pub action: String,
    pub faq_id: Option<String>,
    pub confidence: f32,
    pub options: Vec<String>,
    /// Why the case failed, in the words `kb test` prints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub file: String,
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub cases: Vec<CaseResult>,
}

/// Parses a tests file; an error names the file and line.
pub fn parse_tests(path: &Path, text: &str) -> Result<Vec<(usize, TestCase)>, String> {
    let cases: Vec<TestCase> = match serde_yaml::from_str::<Option<Vec<TestCase>>>(text) {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => {
            let line = e.location().map(|l| l.line()).unwrap_or(1);
            return Err(format!(
                "{}:{line}: fout: {e}\n  oplossing: schrijf een lijst gevallen zoals `- question: \"Wat kost een paspoort?\"` met `expect: <id van het item>` of `expect_action: clarify`",
                path.display()
            ));
        }
    };
    let lines = item_lines(text);
    Ok(cases
        .into_iter()
        .enumerate()
        .map(|(i, c)| (lines.get(i).copied().unwrap_or(1), c))
        .collect())
}

/// Lines (1-based) where the items of the top-level YAML list start.
fn item_lines(text: &str) -> Vec<usize> {
    let items: Vec<(usize, usize)> = text
        .lines()
        .enumerate()
        .filter_map(|(n, l)| {
            let t = l.trim_start();
            (t == "-" || t.starts_with("- ")).then_some((l.len() - t.len(), n + 1))
        })
        .collect();
    let indent = items.iter().map(|i| i.0).min().unwrap_or(0);
    items
        .into_iter()
        .filter(|i| i.0 == indent)
        .map(|i| i.1)
        .collect()
}

fn load_kb(config: &Config, out: &mut impl Write) -> Result<Option<KnowledgeBase>> {
    let loaded = knowledge::load(
        &config.paths.knowledge_base,
        &config.paths.intents,
        Utc::now().date_naive(),
    );
    if loaded.kb.is_none() {
        for d in loaded.diagnostics.iter().filter(|d| d.blocks_serving()) {
            writeln!(out, "{d}")?;
        }
        writeln!(
            out,
            "de kennisbank bevat fouten (zie hierboven, of draai `loket kb check`); er is niets getest"
        )?;
    }
    Ok(loaded.kb)
}

fn build(config: &Config, kb: KnowledgeBase) -> Result<(Snapshot, std::sync::Arc<dyn Embed>)> {
    let embedder = app::load_embedder(config)?;
    let snap = crate::content::build_snapshot(config, kb, embedder.as_ref())?;
    Ok((snap, embedder))
}

/// `loket kb test`: 0 when every case passes, 1 otherwise, 3 when the content has errors.
pub fn run_tests(config: &Config, file: Option<PathBuf>, json: bool) -> Result<i32> {
    let file = file.unwrap_or_else(|| config.paths.knowledge_base.join("tests.yaml"));
    let mut out = std::io::stdout().lock();
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            writeln!(
                out,
                "{}:1: fout: niet te lezen: {e}\n  oplossing: maak het bestand met een lijst van `- question: ...` en `expect: <id van het item>`",
                file.display()
            )?;
            return Ok(1);
        }
    };
    let cases = match parse_tests(&file, &text) {
        Ok(c) => c,
        Err(msg) => {
            writeln!(out, "{msg}")?;
            return Ok(1);
        }
    };
    let Some(kb) = load_kb(config, &mut out)? else {
        return Ok(CONTENT_ERRORS);
    };
    let (snap, embedder) = build(config, kb)?;
    let report = evaluate(config, &snap, embedder.as_ref(), &file, &cases)?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        for c in report.cases.iter().filter(|c| !c.passed) {
            writeln!(
                out,
                "{}:{}: {}",
                report.file,
                c.line,
                c.problem.as_deref().unwrap_or("")
            )?;
            if let Some(n) = &c.note {
                writeln!(out, "  notitie: {n}")?;
            }
        }
        if report.failed == 0 {
            writeln!(
                out,
                "ok: {} van de {} vragen geven het verwachte antwoord",
                report.passed, report.total
            )?;
        } else {
            writeln!(
                out,
                "{} van de {} vragen mislukt ({} goed)",
                report.failed, report.total, report.passed
            )?;
        }
    }
    Ok(if report.failed > 0 { 1 } else { 0 })
}

/// `loket kb check`: DIR, or every municipality folder of the configuration
/// (`paths.knowledge_base`, then those under `paths.municipalities`), each checked with its
/// library. 0 when there is no error, 3 otherwise.
pub fn run_check(
    config: &Config,
    dir: Option<PathBuf>,
    intents: Option<PathBuf>,
    json: bool,
) -> Result<i32> {
    let dirs = match dir {
        Some(d) => vec![d],
        None => config.municipality_dirs(),
    };
    let intents = intents.unwrap_or_else(|| config.paths.intents.clone());
    let today = Utc::now().date_naive();
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for dir in &dirs {
        let loaded = knowledge::load(dir, &intents, today);
        for d in &loaded.diagnostics {
            if json {
                writeln!(out, "{}", serde_json::to_string(d)?)?;
            } else {
                writeln!(out, "{d}")?;
            }
        }
        let errors = loaded.errors().count();
        failed |= errors > 0;
        if !json {
            // With several municipalities, each summary says which one it is about.
            let which = if dirs.len() > 1 {
                format!("{}: ", dir.display())
            } else {
                String::new()
            };
            writeln!(out, "{which}{}", summary(&loaded, errors))?;
        }
    }
    Ok(if failed { CONTENT_ERRORS } else { 0 })
}

/// "ok: 85 items, 30 intents, 8 afdelingen (2 waarschuwingen)" or "1 fout, 0 waarschuwingen".
fn summary(loaded: &knowledge::Loaded, errors: usize) -> String {
    let warnings = count(
        loaded.diagnostics.len() - errors,
        "waarschuwing",
        "waarschuwingen",
    );
    match &loaded.kb {
        Some(kb) if errors == 0 => format!(
            "ok: {} items, {} intents, {} afdelingen ({warnings})",
            kb.entries.len(),
            kb.intents.len(),
            kb.settings.departments.len(),
        ),
        _ => format!("{}, {warnings}", count(errors, "fout", "fouten")),
    }
}

/// "1 fout", "2 fouten".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Runs the cases against a snapshot (what `kb test` prints, as data).
pub fn evaluate(
    config: &Config,
    snap: &Snapshot,
    embedder: &dyn Embed,
    file: &Path,
    cases: &[(usize, TestCase)],
) -> Result<TestReport> {
    let now = Utc::now();
    let mut results = Vec::with_capacity(cases.len());
    for chunk in cases.chunks(config.classifier.max_batch.max(1)) {
        let texts: Vec<&str> = chunk.iter().map(|c| c.1.question.as_str()).collect();
        let outcomes = crate::turn::plan_batch(
            snap,
            embedder,
            &texts,
            &Default::default(),
            &config.dialogue,
            now,
        )
        .context("classifying the questions")?;
        for ((line, case), o) in chunk.iter().zip(outcomes) {
            let r = o.reply;
            let got = describe(r.action, r.faq_id.as_deref(), r.confidence, &r.options);
            let want = match (&case.expect, &case.expect_action) {
                (Some(id), _) => id.clone(),
                (None, Some(a)) => a.clone(),
                (None, None) => String::new(),
            };
            let problem =
                check_case(case, &snap.kb, r.action, r.faq_id.as_deref()).map(|why| match why {
                    Verdict::Invalid(msg) => format!("{:?}: {msg}", case.question),
                    Verdict::Wrong => {
                        format!("{:?} gaf {got}, verwacht {want}", case.question)
                    }
                });
            results.push(CaseResult {
                line: *line,
                question: case.question.clone(),
                expect: case.expect.clone(),
                expect_action: case.expect_action.clone(),
                passed: problem.is_none(),
                action: r.action.as_str().to_string(),
                faq_id: r.faq_id,
                confidence: r.confidence,
                options: r.options.into_iter().map(|o| o.id).collect(),
                problem,
                note: case.note.clone(),
            });
        }
    }
    let passed = results.iter().filter(|r| r.passed).count();
    Ok(TestReport {
        file: file.display().to_string(),
        total: results.len(),
        passed,
        failed: results.len() - passed,
        cases: results,
    })
}

enum Verdict {
    Invalid(String),
    Wrong,
}

fn check_case(
    case: &TestCase,
    kb: &KnowledgeBase,
    action: Action,
    faq_id: Option<&str>,
) -> Option<Verdict> {
    let wanted_action = match case.expect_action.as_deref() {
        None => None,
        Some(a) => match Action::ALL.iter().find(|x| x.as_str() == a) {
            Some(x) => Some(*x),
            None => {
                return Some(Verdict::Invalid(format!(
                    "expect_action `{a}` is geen actie; kies uit: {}",
                    Action::ALL.map(|a| a.as_str()).join(", ")
                )));
            }
        },
    };
    match (&case.expect, wanted_action) {
        (None, None) => Some(Verdict::Invalid(
            "het geval zegt niet wat er verwacht wordt; voeg `expect: <id van het item>` of `expect_action: ...` toe"
                .into(),
        )),
        (Some(id), _) if kb.entry(id).is_none() => Some(Verdict::Invalid(format!(
            "verwacht {id}, maar er is geen item met die id (hernoemd of verwijderd?)"
        ))),
        (Some(id), want) => {
            let action_ok = action == want.unwrap_or(Action::Answer);
            (!(action_ok && faq_id == Some(id.as_str()))).then_some(Verdict::Wrong)
        }
        (None, Some(want)) => (action != want).then_some(Verdict::Wrong),
    }
}

fn describe(
    action: Action,
    faq_id: Option<&str>,
    confidence: f32,
    options: &[crate::dialogue::ReplyOption],
) -> String {
    match (action, faq_id) {
        (Action::Answer, Some(id)) => format!("{id} (zekerheid {confidence:.2})"),
        (Action::Clarify, _) if !options.is_empty() => format!(
            "clarify met de keuze {} (zekerheid {confidence:.2})",
            options
                .iter()
                .map(|o| o.id.as_str())
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        (a, Some(id)) => format!("{} ({id}, zekerheid {confidence:.2})", a.as_str()),
        (a, None) => format!("{} (zekerheid {confidence:.2})", a.as_str()),
    }
}

/// What `kb coverage` finds.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// Intents that answer but have no entry.
    pub intents_without_entries: Vec<String>,
    /// UPL products (municipal, for citizens) that intents mention but no entry covers.
    pub upl_uncovered: Vec<UplGap>,
    /// All municipal products for citizens that no entry covers.
    pub upl_uncovered_total: usize,
    /// Municipal products for citizens in the UPL.
    pub upl_total: usize,
    /// Entries that none of their own questions or intent examples ranks first.
    pub unreachable: Vec<Unreachable>,
    pub entries: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct UplGap {
    pub uri: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unreachable {
    pub id: String,
    pub file: String,
    /// Where the entry's own questions go instead (entry id → how many).
    pub questions_go_to: BTreeMap<String, usize>,
}

/// Computes the coverage report; `all` lists every uncovered municipal product.
pub fn coverage(
    config: &Config,
    snap: &Snapshot,
    embedder: &dyn Embed,
    all: bool,
) -> Result<Coverage> {
    let kb = &snap.kb;
    let intents_without_entries: Vec<String> = kb
        .intents
        .iter()
        .filter(|i| i.action == Action::Answer && kb.entries_for_intent(&i.id).next().is_none())
        .map(|i| i.id.clone())
        .collect();

    let covered: HashSet<&str> = kb.entries.iter().map(|e| e.upl.as_str()).collect();
    let mentioned = kb
        .intents
        .iter()
        .flat_map(|i| std::iter::once(&i.description).chain(&i.examples))
        .map(|t| t.to_lowercase())
        .collect::<Vec<_>>()
        .join("\n");
    let municipal: Vec<&upl::UplProduct> = upl::products()
        .iter()
        .filter(|p| p.municipal && p.for_citizens)
        .collect();
    let uncovered: Vec<&&upl::UplProduct> = municipal
        .iter()
        .filter(|p| !covered.contains(p.uri))
        .collect();
    let upl_uncovered = uncovered
        .iter()
        .filter(|p| {
            all || (p.name.chars().count() >= 4 && mentioned.contains(&p.name.to_lowercase()))
        })
        .map(|p| UplGap {
            uri: p.uri.to_string(),
            name: p.name.to_string(),
        })
        .collect();

    // Reachability: rank every entry question and intent example; note the winners.
    let mut texts: Vec<String> = Vec::new();
    let mut owner: Vec<Option<usize>> = Vec::new();
    for (i, e) in kb.entries.iter().enumerate() {
        for q in &e.questions {
            texts.push(q.clone());
            owner.push(Some(i));
        }
    }
    for intent in &kb.intents {
        for ex in &intent.examples {
            texts.push(ex.clone());
            owner.push(None);
        }
    }
    let cache = EmbeddingCache::shared(&config.cache_dir(), embedder);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let vectors = cache
        .embed_all(embedder, &texts)
        .context("encoding the examples")?;
    cache.save();
    let today = Utc::now().date_naive();
    let mut reached: HashSet<String> = HashSet::new();
    let mut goes_to: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); kb.entries.len()];
    for ((text, v), own) in texts.iter().zip(&vectors).zip(&owner) {
        let u = snap.understand(text, v, None, today);
        if let Some(top) = u.candidates.first() {
            reached.insert(top.faq_id.clone());
            if let Some(i) = own {
                *goes_to[*i].entry(top.faq_id.clone()).or_default() += 1;
            }
        }
    }
    let unreachable = kb
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| !reached.contains(&e.id))
        .map(|(i, e)| Unreachable {
            id: e.id.clone(),
            file: e.source.display().to_string(),
            questions_go_to: std::mem::take(&mut goes_to[i]),
        })
        .collect();
    Ok(Coverage {
        intents_without_entries,
        upl_uncovered,
        upl_uncovered_total: uncovered.len(),
        upl_total: municipal.len(),
        unreachable,
        entries: kb.entries.len(),
    })
}

/// `loket kb coverage`: always 0 unless the content cannot be loaded (3).
/// `  geen: {why}` under a heading whose list is empty.
fn none_line(out: &mut impl Write, empty: bool, why: &str) -> std::io::Result<()> {
    if empty {
        writeln!(out, "  geen: {why}")?;
    }
    Ok(())
}

pub fn run_coverage(config: &Config, all: bool, json: bool) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    let Some(kb) = load_kb(config, &mut out)? else {
        return Ok(CONTENT_ERRORS);
    };
    let (snap, embedder) = build(config, kb)?;
    let c = coverage(config, &snap, embedder.as_ref(), all)?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&c)?)?;
        return Ok(0);
    }
    writeln!(
        out,
        "Intents zonder items ({}):",
        c.intents_without_entries.len()
    )?;
    none_line(
        &mut out,
        c.intents_without_entries.is_empty(),
        "elk intent dat antwoord geeft heeft minstens één item",
    )?;
    for i in &c.intents_without_entries {
        writeln!(
            out,
            "  {i}: Loket herkent de vraag maar heeft geen antwoord; schrijf een item met `intent: {i}`"
        )?;
    }
    writeln!(out)?;
    if all {
        writeln!(
            out,
            "UPL-producten voor inwoners zonder item ({} van de {}):",
            c.upl_uncovered_total, c.upl_total
        )?;
    } else {
        writeln!(
            out,
            "UPL-producten die de intents noemen maar die geen item behandelt ({}):",
            c.upl_uncovered.len()
        )?;
    }
    for p in &c.upl_uncovered {
        writeln!(out, "  {} ({})", p.name, p.uri)?;
    }
    if !all {
        writeln!(
            out,
            "  ({} van de {} gemeentelijke producten voor inwoners hebben geen item; toon ze met --all)",
            c.upl_uncovered_total, c.upl_total
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Items die geen enkele voorbeeldvraag bereikt ({} van de {}):",
        c.unreachable.len(),
        c.entries
    )?;
    none_line(
        &mut out,
        c.unreachable.is_empty(),
        "elk item is voor minstens één voorbeeld de beste match",
    )?;
    for u in &c.unreachable {
        let goes: Vec<String> = u
            .questions_go_to
            .iter()
            .map(|(id, n)| format!("{id} ({n}x)"))
            .collect();
        writeln!(
            out,
            "{}: `{}` is nooit de beste match; de vragen ervan gaan naar: {}",
            u.file,
            u.id,
            if goes.is_empty() {
                "-".to_string()
            } else {
                goes.join(", ")
            }
        )?;
        writeln!(
            out,
            "  oplossing: geef het vragen in de woorden van inwoners die de andere items niet beantwoorden, of voeg het samen met het item dat wint"
        )?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_carry_the_line_of_their_list_item() {
        let text = "# regression\n- question: Wat kost een paspoort?\n  expect: paspoort-kosten\n\n- question: hallo\n  expect_action: smalltalk\n  note: groet\n";
        let cases = parse_tests(Path::new("tests.yaml"), text).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].0, 2);
        assert_eq!(cases[1].0, 5);
        assert_eq!(cases[1].1.note.as_deref(), Some("groet"));
    }

    #[test]
    fn a_syntax_error_names_file_and_line() {
        let err =
            parse_tests(Path::new("tests.yaml"), "- question: a\n  expect: [b\n").unwrap_err();
        assert!(err.starts_with("tests.yaml:"), "{err}");
        let unknown =
            parse_tests(Path::new("tests.yaml"), "- question: a\n  expekt: b\n").unwrap_err();
        assert!(unknown.contains("expekt"), "{unknown}");
    }
}
