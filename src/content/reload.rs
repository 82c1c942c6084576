//! Reloading the content while Loket serves: when a file in `knowledge-base/` or `intents/`
//! changes (or on `POST /v1/admin/reload`), the content is loaded, checked and turned into a
//! new [`Snapshot`] off the async runtime, then swapped in whole. A broken edit changes
//! nothing that citizens see: the previous version keeps serving, and the problems (file,
//! line, message, as `loket kb check` prints them) are kept for `/readyz` and
//! `GET /v1/admin/content` until a later version loads.
//!
//! Watching is polling: every `poll` (250 ms) the directories' fingerprint (paths, sizes and
//! modification times; no file is read) is compared with the one of the last load. The
//! newest file must then have held still for `debounce` (200 ms; waited for when the change
//! is younger), so a file caught half-saved is not loaded.
//!
//! The same building blocks serve the editors' preview: a draft entry checked against the
//! content on disk and a temporary snapshot that answers questions without being served.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Content, build_snapshot};
use crate::config::Config;
use crate::knowledge::{self, Diagnostic, Problem};

/// A problem with the content, as the API reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ContentProblem {
    pub severity: knowledge::Severity,
    pub problem: Problem,
    pub file: String,
    pub line: usize,
    pub message: String,
    pub hint: String,
    /// The problem as `loket kb check` prints it.
    pub text: String,
}

impl From<&Diagnostic> for ContentProblem {
    fn from(d: &Diagnostic) -> Self {
        ContentProblem {
            severity: d.severity,
            problem: d.problem,
            file: d.file.display().to_string(),
            line: d.line,
            message: d.message.clone(),
            hint: d.hint.clone(),
            text: d.to_string(),
        }
    }
}

/// What is being served, and whether the latest attempt to load the content worked.
#[derive(Debug, Clone, Serialize)]
pub struct ContentStatus {
    /// `ok`, or `error` when the latest edit could not be loaded (an older version serves).
    pub status: &'static str,
    /// Version being served: 1 at start, one more for every successful reload.
    pub version: u64,
    /// When the version being served was loaded.
    pub loaded_at: DateTime<Utc>,
    pub entries: usize,
    pub intents: usize,
    /// Why the latest edit was refused (empty when `status` is `ok`).
    pub errors: Vec<ContentProblem>,
    /// Warnings of the version being served (expired entries, thin intents, …).
    pub warnings: Vec<ContentProblem>,
    /// When the latest edit was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<DateTime<Utc>>,
    /// Time the latest successful load took, in milliseconds.
    pub load_ms: u64,
}

impl ContentStatus {
    /// The status of a freshly started service serving `snapshot`.
    pub fn first(snapshot: &crate::understand::Snapshot) -> ContentStatus {
        ContentStatus {
            status: "ok",
            version: 1,
            loaded_at: Utc::now(),
            entries: snapshot.kb.entries.len(),
            intents: snapshot.kb.intents.len(),
            errors: Vec::new(),
            warnings: Vec::new(),
            failed_at: None,
            load_ms: snapshot.build_time.as_millis() as u64,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Polling settings of [`watch`].
#[derive(Debug, Clone, Copy)]
pub struct WatchSettings {
    pub poll: Duration,
    pub debounce: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            poll: Duration::from_millis(250),
            debounce: Duration::from_millis(200),
        }
    }
}

impl Content {
    /// Loads, checks and builds the content on disk and serves it, or keeps the current
    /// version and records why not. Either way the status after the attempt is returned.
    pub async fn reload(&self) -> Result<ContentStatus, ContentStatus> {
        let _busy = self.busy.lock().await;
        let config = self.config.clone();
        let dir = self.dir.clone();
        let embedder = self.embedder.clone();
        let started = Instant::now();
        let built = tokio::task::spawn_blocking(move || {
            // Taken before reading, so an edit made during the load is seen next time.
            let fp = fingerprint(&config, &dir);
            let loaded = knowledge::load(&dir, &config.paths.intents, Utc::now().date_naive());
            let (errors, warnings): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
                loaded.diagnostics.iter().partition(|d| d.blocks_serving());
            let errors: Vec<ContentProblem> = errors.into_iter().map(Into::into).collect();
            let warnings: Vec<ContentProblem> = warnings.into_iter().map(Into::into).collect();
            let result = match loaded.kb {
                Some(kb) => build_snapshot(&config, kb, embedder.as_ref())
                    .map_err(|e| vec![build_problem(&dir, &e)]),
                None => Err(errors),
            };
            (fp, result, warnings)
        })
        .await;
        let now = Utc::now();
        let mut status = self.status.write().unwrap_or_else(|e| e.into_inner());
        match built {
            Ok((fp, Ok(snapshot), warnings)) => {
                *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = fp;
                status.status = "ok";
                status.version += 1;
                status.loaded_at = now;
                status.entries = snapshot.kb.entries.len();
                status.intents = snapshot.kb.intents.len();
                status.errors.clear();
                status.warnings = warnings;
                status.failed_at = None;
                status.load_ms = started.elapsed().as_millis() as u64;
                self.replace(snapshot);
                super::release_freed_memory();
                tracing::info!(
                    version = status.version,
                    entries = status.entries,
                    intents = status.intents,
                    ms = status.load_ms,
                    "content reloaded"
                );
                Ok(status.clone())
            }
            Ok((fp, Err(errors), _)) => {
                *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = fp;
                crate::metrics::record_reload_error();
                status.status = "error";
                status.errors = errors;
                status.failed_at = Some(now);
                let text: Vec<&str> = status.errors.iter().map(|p| p.text.as_str()).collect();
                tracing::warn!(
                    serving = status.version,
                    "content not reloaded; the previous version keeps serving:\n{}",
                    text.join("\n")
                );
                Err(status.clone())
            }
            Err(join) => {
                crate::metrics::record_reload_error();
                status.status = "error";
                status.errors = vec![ContentProblem {
                    severity: knowledge::Severity::Error,
                    problem: Problem::Io,
                    file: self.dir.display().to_string(),
                    line: 1,
                    message: "het laden van de inhoud is onverwacht mislukt".into(),
                    hint: "zie het servicelog".into(),
                    text: "het laden van de inhoud is onverwacht mislukt (zie het servicelog)"
                        .into(),
                }];
                status.failed_at = Some(now);
                tracing::error!(error = %join, "content reload panicked");
                Err(status.clone())
            }
        }
    }

    /// Checks a draft entry against the content on disk and answers `questions` with a
    /// temporary snapshot that includes it; nothing that is served changes.
    pub async fn preview(
        &self,
        draft: String,
        questions: Vec<String>,
    ) -> Result<Preview, Vec<ContentProblem>> {
        let _busy = self.busy.lock().await;
        let config = self.config.clone();
        let dir = self.dir.clone();
        let embedder = self.embedder.clone();
        let served = self.snapshot();
        tokio::task::spawn_blocking(move || {
            let path = draft_path(&draft);
            let now = Utc::now();
            let loaded = knowledge::load_sources(
                &dir,
                &config.paths.intents,
                None,
                now.date_naive(),
                Some(knowledge::Draft {
                    path: &path,
                    text: &draft,
                }),
            );
            let errors: Vec<ContentProblem> = loaded
                .diagnostics
                .iter()
                .filter(|d| d.blocks_serving())
                .map(Into::into)
                .collect();
            let warnings: Vec<ContentProblem> = loaded
                .diagnostics
                .iter()
                .filter(|d| !d.blocks_serving() && d.file == path)
                .map(Into::into)
                .collect();
            let Some(kb) = loaded.kb else {
                return Err(errors);
            };
            let Some(entry) = kb.entries.iter().find(|e| e.source == path) else {
                // Parsed but left out: expired (reported as a warning).
                return Err(warnings);
            };
            let entry_id = entry.id.clone();
            let title = entry.title.clone();
            let snapshot = build_snapshot(&config, kb, embedder.as_ref())
                .map_err(|e| vec![build_problem(&path, &e)])?;
            let texts: Vec<&str> = questions.iter().map(String::as_str).collect();
            let outcomes = crate::turn::plan_batch(
                &snapshot,
                embedder.as_ref(),
                &texts,
                &Default::default(),
                &config.dialogue,
                now,
            )
            .map_err(|e| vec![build_problem(&path, &anyhow::Error::from(e))])?;
            let answers = questions
                .into_iter()
                .zip(outcomes)
                .map(|(question, o)| PreviewAnswer {
                    question,
                    action: o.reply.action.as_str(),
                    intent: o.reply.intent,
                    faq_id: o.reply.faq_id.clone(),
                    is_draft: o.reply.faq_id.as_deref() == Some(entry_id.as_str()),
                    confidence: o.reply.confidence,
                    text: o.reply.text,
                    options: o
                        .reply
                        .options
                        .into_iter()
                        .map(|opt| PreviewOption {
                            id: opt.id,
                            title: opt.title,
                        })
                        .collect(),
                })
                .collect();
            Ok(Preview {
                entry: PreviewEntry {
                    replaces: served.kb.entry(&entry_id).is_some(),
                    id: entry_id,
                    title,
                },
                warnings,
                answers,
            })
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "preview panicked");
            Err(vec![])
        })
    }
}

/// The name diagnostics of a previewed draft carry when it has no usable `id`.
pub const DRAFT_FILE: &str = "concept.md";

/// The file a draft would be saved as (`<id>.md`, as the loader requires), so that its
/// diagnostics name the file the editor is writing.
fn draft_path(text: &str) -> PathBuf {
    let id = text
        .lines()
        .skip(1)
        .take_while(|l| l.trim_end() != "---")
        .find_map(|l| l.strip_prefix("id:"))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|id| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    match id {
        Some(id) => PathBuf::from(format!("{id}.md")),
        None => PathBuf::from(DRAFT_FILE),
    }
}

fn build_problem(file: &Path, e: &anyhow::Error) -> ContentProblem {
    let d = Diagnostic::error(
        Problem::InvalidValue,
        file,
        1,
        format!("met deze inhoud kon de classifier niet worden gebouwd: {e:#}"),
        "controleer de intents en items (`loket kb check`); de details staan in het servicelog",
    );
    (&d).into()
}

#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub entry: PreviewEntry,
    /// Warnings about the draft (its problems that do not stop it from being served).
    pub warnings: Vec<ContentProblem>,
    pub answers: Vec<PreviewAnswer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewEntry {
    pub id: String,
    pub title: String,
    /// Whether an entry with this id exists and the draft takes its place.
    pub replaces: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewAnswer {
    pub question: String,
    pub action: &'static str,
    pub intent: Option<String>,
    pub faq_id: Option<String>,
    /// Whether the reply is the draft entry.
    pub is_draft: bool,
    pub confidence: f32,
    pub text: String,
    pub options: Vec<PreviewOption>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewOption {
    pub id: String,
    pub title: String,
}

/// A cheap fingerprint of the content files of the municipality folder `dir` (with its
/// library and the intents): their paths, sizes and modification times. The editors'
/// `tests.yaml` is left out: it is not content.
pub fn fingerprint(config: &Config, dir: &Path) -> u64 {
    scan(config, dir).0
}

/// The fingerprint, and the time since the most recent modification.
fn scan(config: &Config, dir: &Path) -> (u64, Duration) {
    let mut files = Vec::new();
    collect(dir, &mut files, 0);
    collect(&config.paths.intents, &mut files, 0);
    if let Some(library) = crate::knowledge::library_dir(dir) {
        collect(&library, &mut files, 0);
    }
    files.sort();
    let mut h = DefaultHasher::new();
    files.hash(&mut h);
    let newest = files.iter().map(|f| f.2).max().unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let age = Duration::from_nanos(now.saturating_sub(newest).min(u64::MAX as u128) as u64);
    (h.finish(), age)
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, u64, u128)>, depth: usize) {
    let Ok(read) = std::fs::read_dir(dir) else {
        out.push((dir.to_path_buf(), u64::MAX, 0));
        return;
    };
    for e in read.flatten() {
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            // Another municipality's folder inside this one (also one level down, as in
            // `gemeenten/zeestad/`) is not this one's content.
            if depth < 3 && !path.join("municipality.toml").is_file() {
                collect(&path, out, depth + 1);
            }
            continue;
        }
        if path.file_name().is_some_and(|n| n == "tests.yaml") {
            continue;
        }
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        out.push((path, meta.len(), mtime));
    }
}

/// Watches the content directories and reloads on changes, until `stop` is set.
pub fn watch(
    content: Arc<Content>,
    settings: WatchSettings,
    mut stop: crate::shutdown::Stop,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait() => break,
            }
            let (config, dir) = (content.config.clone(), content.dir.clone());
            let (fp, age) = current(&config, &dir).await;
            if fp == content.seen() {
                continue;
            }
            // Wait for the save to finish: the files must have held still for the debounce.
            if age < settings.debounce {
                tokio::time::sleep(settings.debounce - age).await;
                if current(&config, &dir).await.0 != fp {
                    continue;
                }
            }
            tracing::info!(folder = %dir.display(), "content changed on disk; reloading");
            let _ = content.reload().await;
        }
    })
}

async fn current(config: &Arc<Config>, dir: &Path) -> (u64, Duration) {
    let (c, d) = (config.clone(), dir.to_path_buf());
    tokio::task::spawn_blocking(move || scan(&c, &d))
        .await
        .unwrap_or((0, Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A municipality's folder may hold other municipalities' folders (the bundled
    /// `knowledge-base/gemeenten/`): an edit there is theirs, not this one's; an edit in its
    /// own entries is its own.
    #[test]
    fn municipality_folders_inside_a_folder_are_not_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let kb = dir.path().join("kb");
        let other = kb.join("gemeenten/zeestad");
        std::fs::create_dir_all(kb.join("entries")).unwrap();
        std::fs::create_dir_all(other.join("entries")).unwrap();
        std::fs::write(kb.join("municipality.toml"), "name = \"Gemeente A\"\n").unwrap();
        std::fs::write(other.join("municipality.toml"), "name = \"Gemeente Z\"\n").unwrap();
        let mut config = Config::default();
        config.paths.intents = dir.path().join("intents");
        let before = fingerprint(&config, &kb);
        std::fs::write(other.join("entries/markt.md"), "---\n").unwrap();
        assert_eq!(
            fingerprint(&config, &kb),
            before,
            "another municipality's edit"
        );
        std::fs::write(kb.join("entries/markt.md"), "---\n").unwrap();
        assert_ne!(fingerprint(&config, &kb), before, "its own edit");
    }
}
