//! The knowledge base: the municipality's settings, its FAQ entries and the intents, loaded
//! from plain files into one immutable [`KnowledgeBase`] snapshot. Every problem is reported
//! as a [`Diagnostic`] naming the file and line, so content editors can fix it themselves.
//!
//! Layout of a knowledge base directory:
//! - `municipality.toml`: the settings;
//! - `entries/*.md`: one FAQ entry per file (YAML front matter + Markdown answer);
//! - `facts.toml` (optional): the local facts filled into the placeholders `{{naam}}` of
//!   the entries (see [`facts`]);
//! - `texts.toml` (optional): the municipality's own wording of the bot's texts and extra
//!   crisis phrases, over the national defaults (see [`texts`]);
//! - `tests.yaml` (optional): the editors' regression questions.
//!
//! Intents live in their own directory (`intents/*.yaml`). A national library of entries
//! (`library` in municipality.toml) is served beside the municipality's own; how the two
//! layers combine is in [`layers`].

pub mod diagnostic;
pub mod entry;
pub mod facts;
pub mod hours;
pub mod intent;
pub mod layers;
pub mod settings;
pub mod texts;
pub mod upl;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use chrono::NaiveDate;
use regex::Regex;

use hours::Lang;

pub use diagnostic::{Diagnostic, Problem, Severity};
pub use entry::{Entry, WHATSAPP_MAX_CHARS};
pub use intent::{Action, Intent, Role};
pub use settings::{DEFAULT_DEPARTMENT, Department, Settings, Tone};
pub use texts::{Form, TextKey, Texts};

/// An immutable, validated snapshot of the content Loket answers from.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    pub settings: Settings,
    pub entries: Vec<Entry>,
    pub intents: Vec<Intent>,
    /// The bot's own texts and the crisis phrases: national defaults with the
    /// municipality's changes.
    pub texts: Texts,
    entry_index: HashMap<String, usize>,
    intent_index: HashMap<String, usize>,
    pub root: PathBuf,
}

impl KnowledgeBase {
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entry_index.get(id).map(|&i| &self.entries[i])
    }

    pub fn intent(&self, id: &str) -> Option<&Intent> {
        self.intent_index.get(id).map(|&i| &self.intents[i])
    }

    pub fn entries_for_intent<'a>(&'a self, intent: &'a str) -> impl Iterator<Item = &'a Entry> {
        self.entries.iter().filter(move |e| e.intent == intent)
    }

    /// A text in the form the citizen reads (the municipality's tone, or English), with the
    /// placeholders from the settings filled in. Placeholders of the place where the text is
    /// said (`{department}`, `{when}`, …) are the caller's to fill.
    pub fn text(&self, key: TextKey, lang: Lang) -> String {
        let s = &self.settings;
        self.texts
            .get(key, Form::of(s.tone, lang))
            .replace("{name}", &s.name)
            .replace("{url}", &s.secure_channel_url)
            .replace("{phone}", &s.phone)
            .replace("{email}", &s.email)
            .replace("{website}", &s.website)
    }

    /// Whether an entry of `intent` answers (an entry without an intent always does).
    pub fn answers(&self, intent: &str) -> bool {
        intent.is_empty() || self.intent(intent).map(|i| i.action) == Some(Action::Answer)
    }

    /// The intent that has `role`, if any.
    pub fn intent_with_role(&self, role: Role) -> Option<&Intent> {
        self.intents.iter().find(|i| i.role == Some(role))
    }

    /// The role of an intent.
    pub fn role_of(&self, intent: &str) -> Option<Role> {
        self.intent(intent).and_then(|i| i.role)
    }

    /// The department that owns an intent, or the default one.
    pub fn department_for_intent(&self, intent: &str) -> &str {
        self.intent(intent)
            .map(|i| i.department.as_str())
            .unwrap_or(DEFAULT_DEPARTMENT)
    }
}

/// The outcome of loading: the snapshot when nothing blocks serving, and every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    pub kb: Option<KnowledgeBase>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// The snapshot, or the blocking diagnostics rendered as one message.
    pub fn into_result(self) -> Result<KnowledgeBase, String> {
        match self.kb {
            Some(kb) => Ok(kb),
            None => Err(self
                .diagnostics
                .iter()
                .filter(|d| d.blocks_serving())
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")),
        }
    }
}

/// Loads and checks the knowledge base in `kb_dir` and the intents in `intents_dir`, as of
/// `today` (entries past their `valid_until` are reported and left out).
pub fn load(kb_dir: &Path, intents_dir: &Path, today: NaiveDate) -> Loaded {
    load_sources(kb_dir, intents_dir, None, today, None)
}

/// An entry being written that is not saved yet (the editors' preview): checked as if it
/// were a file in `entries/`, replacing the entry with the same id. Its diagnostics name
/// `path` and count lines in `text`.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

/// The library folder that `municipality.toml` in `kb_dir` names, if any (without checking
/// the rest of the file: the watcher asks this several times a second).
pub fn library_dir(kb_dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(kb_dir.join("municipality.toml")).ok()?;
    let value: toml::Table = toml::from_str(&text).ok()?;
    let lib = value.get("library")?.as_str()?.trim();
    (!lib.is_empty()).then(|| kb_dir.join(lib))
}

/// [`load`] with a further library folder beneath the content (`loket eval --library`: its
/// pages are served beside the municipality's entries and its library, except where those
/// already have the id or the UPL product; see [`layers::add_beneath`]), and with a draft
/// entry added to (or replacing one of) the entries on disk.
pub fn load_sources(
    kb_dir: &Path,
    intents_dir: &Path,
    beneath: Option<&Path>,
    today: NaiveDate,
    draft: Option<Draft<'_>>,
) -> Loaded {
    let mut diags = Vec::new();

    let settings_path = kb_dir.join("municipality.toml");
    let settings = read_settings(&settings_path, &mut diags);

    let intents = load_intents(intents_dir, &mut diags);
    let bot_texts = load_bot_texts(kb_dir, settings.as_ref(), &mut diags);
    let library = settings
        .as_ref()
        .and_then(|s| s.library.as_ref())
        .map(|lib| without_dot_dot(&kb_dir.join(lib)));
    let choice = layers::LibraryChoice {
        dir: library.as_deref(),
        off: settings
            .as_ref()
            .map_or(&[][..], |s| s.library_off.as_slice()),
        settings_path: &settings_path,
    };
    let mut layered = layers::merge(kb_dir, &choice, &mut diags);
    if let Some(dir) = beneath {
        layers::add_beneath(&mut layered, dir, &mut diags);
    }
    let layers::Layers {
        mut entries,
        mut texts,
        library_ids,
    } = layered;
    if let Some(d) = draft {
        add_draft(d, &mut entries, &mut texts, &mut diags);
    }
    if let Some(s) = &settings {
        let facts = facts::Facts::load(kb_dir, s, &mut diags);
        let reference = library
            .as_deref()
            .map(|l| facts::Facts::reference(l, &mut diags))
            .unwrap_or_default();
        layers::fill(
            &mut entries,
            &texts,
            &facts,
            &reference,
            &s.name,
            &mut diags,
        );
        layers::duplicates(&entries, &texts, &library_ids, &mut diags);
    }

    if let Some(settings) = &settings {
        // An entry file that cannot be read has its own error; references to it (by its
        // file name, which is its id) would only bury that error.
        let ids: HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        let unreadable: HashSet<String> = diags
            .iter()
            .filter(|d| d.is_error() && d.file.extension().is_some_and(|x| x == "md"))
            .filter_map(|d| d.file.file_stem().and_then(|s| s.to_str()))
            .filter(|stem| !ids.contains(stem))
            .map(str::to_string)
            .collect();
        let check = CrossCheck {
            settings,
            intents: &intents,
            entries: &entries,
            texts: &texts,
            unreadable: &unreadable,
            today,
            library_ids: &library_ids,
        };
        check.run(&mut diags);
    }
    diags.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));

    let kb = match settings {
        Some(settings) if !diags.iter().any(|d| d.blocks_serving()) => {
            let entries: Vec<Entry> = entries
                .into_iter()
                .filter(|e| e.valid_until.is_none_or(|u| today <= u))
                .collect();
            let entry_index = entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.id.clone(), i))
                .collect();
            let intent_index = intents
                .iter()
                .enumerate()
                .map(|(i, e)| (e.id.clone(), i))
                .collect();
            Some(KnowledgeBase {
                settings,
                entries,
                intents,
                texts: bot_texts,
                entry_index,
                intent_index,
                root: kb_dir.to_path_buf(),
            })
        }
        _ => None,
    };
    Loaded {
        kb,
        diagnostics: diags,
    }
}

/// `municipality.toml`, or `None` with its problems in `diags`.
fn read_settings(path: &Path, diags: &mut Vec<Diagnostic>) -> Option<Settings> {
    match std::fs::read_to_string(path) {
        Ok(text) => match settings::parse_settings(path, &text) {
            Ok(s) => Some(s),
            Err(d) => {
                diags.extend(d);
                None
            }
        },
        Err(e) => {
            diags.push(io_error(path, &e, "create municipality.toml with the municipality's name, tone, secure_channel_url and departments"));
            None
        }
    }
}

/// The bot's texts: the national defaults with the municipality's `texts.toml` (optional).
fn load_bot_texts(
    kb_dir: &Path,
    settings: Option<&Settings>,
    diags: &mut Vec<Diagnostic>,
) -> Texts {
    let texts_path = kb_dir.join(texts::FILE_NAME);
    match std::fs::read_to_string(&texts_path) {
        Ok(text) => {
            let (t, d) = texts::parse_texts(&texts_path, &text, Texts::national());
            diags.extend(d);
            if let Some(s) = settings {
                diags.extend(t.unused_forms(&texts_path, s.tone));
            }
            t
        }
        // The file is optional: without it the national defaults speak.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Texts::national().clone(),
        Err(e) => {
            diags.push(io_error(
                &texts_path,
                &e,
                "sla het bestand op als UTF-8-tekst",
            ));
            Texts::national().clone()
        }
    }
}

/// `path` with each `dir/..` taken out, so that a diagnostic names the library's files as
/// `knowledge-base/landelijk/...` rather than `knowledge-base/gemeenten/x/../../landelijk/...`.
fn without_dot_dot(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// The line of `key` in the file at `path` (1 when it cannot be found).
fn line_in_file(path: &Path, key: &str) -> usize {
    diagnostic::line_of_key(&std::fs::read_to_string(path).unwrap_or_default(), key).unwrap_or(1)
}

/// The entry being written (the editors' preview) in place of the one with its id, and of
/// the library entry it `replaces`.
fn add_draft(
    d: Draft<'_>,
    entries: &mut Vec<Entry>,
    texts: &mut HashMap<String, String>,
    diags: &mut Vec<Diagnostic>,
) {
    let (e, ds) = entry::read_entry(d.path, d.text);
    diags.extend(ds);
    if let Some(e) = e {
        entries.retain(|x| x.id != e.id && Some(&x.id) != e.replaces.as_ref());
        texts.insert(e.id.clone(), d.text.to_string());
        entries.push(e);
    }
}

fn io_error(path: &Path, e: &std::io::Error, hint: &str) -> Diagnostic {
    Diagnostic::error(
        Problem::Io,
        path,
        1,
        format!("niet te lezen: {e}"),
        hint.to_string(),
    )
}

fn sorted_files(dir: &Path, ext: &str, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            diags.push(io_error(dir, &e, "controleer of de map bestaat"));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some(ext))
        .collect();
    files.sort();
    files
}

fn load_intents(dir: &Path, diags: &mut Vec<Diagnostic>) -> Vec<Intent> {
    let mut out: Vec<Intent> = Vec::new();
    for path in sorted_files(dir, "yaml", diags) {
        match std::fs::read_to_string(&path) {
            Ok(text) => match intent::parse_intent(&path, &text) {
                Ok(i) => out.push(i),
                Err(d) => diags.extend(d),
            },
            Err(e) => diags.push(io_error(&path, &e, "controleer de rechten op het bestand")),
        }
    }
    out
}

/// A folder of entries as parsed: the entries, their file texts by id and the problems.
struct ParsedFolder {
    fingerprint: u64,
    entries: Vec<Entry>,
    texts: HashMap<String, String>,
    diags: Vec<Diagnostic>,
}

/// The library folders parsed in this process, the latest version of each.
static PARSED: LazyLock<Mutex<HashMap<PathBuf, Arc<ParsedFolder>>>> =
    LazyLock::new(Default::default);

/// [`load_entries`] for a folder that many municipalities read (the library): parsed once
/// per version of its files (names, sizes and modification times), then copied.
fn load_shared_entries(
    dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Entry>, HashMap<String, String>) {
    let fingerprint = folder_fingerprint(dir);
    let cached = PARSED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(dir)
        .filter(|p| Some(p.fingerprint) == fingerprint)
        .cloned();
    let parsed = match cached {
        Some(p) => p,
        None => {
            let mut found = Vec::new();
            let (entries, texts) = load_entries(dir, &mut found);
            let p = Arc::new(ParsedFolder {
                fingerprint: fingerprint.unwrap_or(0),
                entries,
                texts,
                diags: found,
            });
            if fingerprint.is_some() {
                PARSED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(dir.to_path_buf(), p.clone());
            }
            p
        }
    };
    diags.extend(parsed.diags.iter().cloned());
    (parsed.entries.clone(), parsed.texts.clone())
}

/// The names, sizes and modification times of a folder's entry files, hashed; `None` when
/// the folder cannot be read.
fn folder_fingerprint(dir: &Path) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut files: Vec<(std::ffi::OsString, u64, Option<std::time::SystemTime>)> =
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
            .map(|e| {
                let meta = e.metadata().ok();
                (
                    e.file_name(),
                    meta.as_ref().map_or(0, |m| m.len()),
                    meta.and_then(|m| m.modified().ok()),
                )
            })
            .collect();
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    files.hash(&mut h);
    Some(h.finish())
}

fn load_entries(dir: &Path, diags: &mut Vec<Diagnostic>) -> (Vec<Entry>, HashMap<String, String>) {
    let mut out = Vec::new();
    let mut texts = HashMap::new();
    for path in sorted_files(dir, "md", diags) {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                // An entry with errors is still checked against the others, so that every
                // problem comes in one run; the errors keep the content from being served.
                let (e, d) = entry::read_entry(&path, &text);
                diags.extend(d);
                if let Some(e) = e {
                    texts.insert(e.id.clone(), text);
                    out.push(e);
                }
            }
            Err(e) => diags.push(io_error(&path, &e, "sla het bestand op als UTF-8-tekst")),
        }
    }
    (out, texts)
}

static INFORMAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(je|jij|jou|jouw|jullie)\b").unwrap());
static FORMAL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\b(u|uw)\b").unwrap());

/// The loaded content and the lists the cross-checks look names up in.
struct CrossCheck<'a> {
    settings: &'a Settings,
    intents: &'a [Intent],
    entries: &'a [Entry],
    /// Each entry's file text by id, to find the line of a word in it.
    texts: &'a HashMap<String, String>,
    unreadable: &'a HashSet<String>,
    today: NaiveDate,
    /// Entries that come from the shared library (not held to the municipality's tone).
    library_ids: &'a HashSet<String>,
}

impl<'a> CrossCheck<'a> {
    /// Checks what no single file can check alone: references between entries, intents
    /// and settings, duplicates across files, tone, expiry, short titles and coverage.
    fn run(&self, diags: &mut Vec<Diagnostic>) {
        let seen_examples = self.intents(diags);
        self.roles(diags);
        let ids = self.entry_ids(diags);
        for e in self.entries {
            self.entry_references(e, &ids, diags);
            self.entry_expiry(e, diags);
            if !self.library_ids.contains(&e.id) {
                self.entry_tone(e, diags);
            }
        }
        self.short_titles(diags);
        self.questions_against_examples(&seen_examples, diags);
        self.answering_intents_have_entries(diags);
    }

    fn has_department(&self, id: &str) -> bool {
        self.settings.departments.iter().any(|d| d.id == id)
    }

    /// The departments, for a hint that names the choices.
    fn dept_list(&self) -> String {
        let ids: Vec<&str> = self
            .settings
            .departments
            .iter()
            .map(|d| d.id.as_str())
            .collect();
        ids.join(", ")
    }

    fn has_intent(&self, id: &str) -> bool {
        self.intents.iter().any(|i| i.id == id)
    }

    /// Intents: departments, enough examples, no example claimed by two intents. Returns the
    /// examples by their normalised text (as the classifier recognises them).
    fn intents(&self, diags: &mut Vec<Diagnostic>) -> HashMap<String, &'a Intent> {
        let mut seen_examples: HashMap<String, &Intent> = HashMap::new();
        for i in self.intents {
            self.intent_department(i, diags);
            intent_example_count(i, diags);
            for ex in &i.examples {
                let key = crate::text::normalize(ex);
                match seen_examples.get(&key) {
                    Some(other) if other.id != i.id => {
                        diags.push(duplicate_example(i, ex, other));
                    }
                    _ => {
                        seen_examples.insert(key, i);
                    }
                }
            }
        }
        seen_examples
    }

    fn intent_department(&self, i: &Intent, diags: &mut Vec<Diagnostic>) {
        if self.has_department(&i.department) {
            return;
        }
        diags.push(Diagnostic::error(
            Problem::UnknownDepartment,
            &i.source,
            line_in_file(&i.source, "department"),
            format!("onbekende afdeling `{}`", i.department),
            format!(
                "kies uit: {} (vastgelegd in municipality.toml)",
                self.dept_list()
            ),
        ));
    }

    /// Roles: each at most once; someone must be able to ask for a person.
    fn roles(&self, diags: &mut Vec<Diagnostic>) {
        let mut roles: HashMap<Role, &Intent> = HashMap::new();
        for i in self.intents {
            let Some(role) = i.role else { continue };
            if let Some(first) = roles.get(&role) {
                diags.push(Diagnostic::error(
                    Problem::DuplicateId,
                    &i.source,
                    line_in_file(&i.source, "role"),
                    format!(
                        "role `{}` heeft intent `{}` al ({})",
                        role.as_str(),
                        first.id,
                        first.source.display()
                    ),
                    "een role hoort bij één intent: haal hem bij een van de twee weg",
                ));
            } else {
                roles.insert(role, i);
            }
        }
        if !self.intents.is_empty() && !roles.contains_key(&Role::Person) {
            let first = &self.intents[0].source;
            diags.push(Diagnostic::error(
                Problem::Coverage,
                first.parent().unwrap_or(first),
                1,
                "geen intent heeft role: person, dus niemand kan om een medewerker vragen",
                "zet `role: person` in het intent voor \"ik wil een medewerker spreken\" (action: handoff)",
            ).as_warning());
        }
    }

    /// Entry ids are unique; returns the entries by id (the first of a duplicate).
    fn entry_ids(&self, diags: &mut Vec<Diagnostic>) -> HashMap<&'a str, &'a Entry> {
        let mut ids: HashMap<&str, &Entry> = HashMap::new();
        for e in self.entries {
            if let Some(first) = ids.get(e.id.as_str()) {
                diags.push(Diagnostic::error(
                    Problem::DuplicateId,
                    &e.source,
                    e.line("id"),
                    format!(
                        "id `{}` wordt al gebruikt door {}",
                        e.id,
                        first.source.display()
                    ),
                    "geef een van de twee items een andere id",
                ));
            } else {
                ids.insert(&e.id, e);
            }
        }
        ids
    }

    /// An entry's intent, department, UPL product and related entries exist.
    fn entry_references(
        &self,
        e: &Entry,
        ids: &HashMap<&str, &Entry>,
        diags: &mut Vec<Diagnostic>,
    ) {
        if !e.intent.is_empty() && !self.has_intent(&e.intent) {
            let mut intent_list: Vec<&str> = self.intents.iter().map(|i| i.id.as_str()).collect();
            intent_list.sort();
            diags.push(Diagnostic::error(
                Problem::UnknownIntent,
                &e.source,
                e.line("intent"),
                format!("onbekend intent `{}`", e.intent),
                format!("kies uit: {}", intent_list.join(", ")),
            ));
        }
        if !self.has_department(&e.department) {
            diags.push(Diagnostic::error(
                Problem::UnknownDepartment,
                &e.source,
                e.line("department"),
                format!("onbekende afdeling `{}`", e.department),
                format!(
                    "kies uit: {} (vastgelegd in municipality.toml)",
                    self.dept_list()
                ),
            ));
        }
        if !e.upl.is_empty() && !upl::is_known(&e.upl) {
            diags.push(unknown_upl(e));
        }
        for r in &e.related {
            if !ids.contains_key(r.as_str()) && !self.unreadable.contains(r) {
                diags.push(Diagnostic::error(
                    Problem::BrokenReference,
                    &e.source,
                    e.line("related"),
                    format!("gerelateerd item `{r}` bestaat niet"),
                    "verbeter de id of haal hem weg uit `related`",
                ));
            }
        }
    }

    fn entry_expiry(&self, e: &Entry, diags: &mut Vec<Diagnostic>) {
        if let Some(u) = e.valid_until
            && u < self.today
        {
            diags.push(Diagnostic::error(
                Problem::Expired,
                &e.source,
                e.line("valid_until"),
                format!("het item is verlopen op {u} en wordt niet meer gebruikt"),
                "werk het antwoord en `valid_until` bij, of verwijder het bestand",
            ));
        }
    }

    /// The answer addresses citizens the way the municipality does (`u` or `je`).
    fn entry_tone(&self, e: &Entry, diags: &mut Vec<Diagnostic>) {
        let wrong = match self.settings.tone {
            Tone::U => &*INFORMAL,
            Tone::Je => &*FORMAL,
        };
        let Some(m) = wrong.find(&e.answer) else {
            return;
        };
        let text = self.texts.get(&e.id).map(String::as_str).unwrap_or("");
        let word = m.as_str();
        let (want, have) = match self.settings.tone {
            Tone::U => ("u", "je"),
            Tone::Je => ("je", "u"),
        };
        diags.push(Diagnostic::error(
            Problem::Tone,
            &e.source,
            entry::body_line_of(text, e, word),
            format!("het antwoord zegt {word:?}, maar de gemeente spreekt inwoners aan met `{want}`"),
            format!("herschrijf de zin met `{want}` in plaats van `{have}` (de aanspreekvorm staat in municipality.toml)"),
        ));
    }

    /// An entry's questions are examples of the entry's intent too (the classifier learns
    /// them so): the same text as another intent's example leaves it to chance which one
    /// a citizen who types it gets.
    fn questions_against_examples(
        &self,
        seen_examples: &HashMap<String, &Intent>,
        diags: &mut Vec<Diagnostic>,
    ) {
        for e in self.entries {
            let source = self.texts.get(&e.id).map(String::as_str).unwrap_or("");
            for q in &e.questions {
                if let Some(other) = seen_examples.get(&crate::text::normalize(q))
                    && other.id != e.intent
                    && self.has_intent(&e.intent)
                {
                    diags.push(Diagnostic::error(
                        Problem::DuplicateId,
                        &e.source,
                        diagnostic::line_containing(source, q).unwrap_or(e.line("questions")),
                        format!(
                            "vraag {q:?} is ook een voorbeeld van intent `{}` ({}), maar dit item hoort bij intent `{}`",
                            other.id,
                            other.source.display(),
                            e.intent
                        ),
                        "Loket kan niet weten welke een inwoner bedoelt die dit typt: haal het voorbeeld weg bij het intent of de vraag bij dit item",
                    ).as_warning());
                }
            }
        }
    }

    /// Two entries whose option titles read the same cannot be told apart in a WhatsApp
    /// list: a warning on the second, with the fix.
    fn short_titles(&self, diags: &mut Vec<Diagnostic>) {
        let mut seen: HashMap<String, &Entry> = HashMap::new();
        for e in self.entries {
            let short = e.option_title(entry::SHORT_TITLE_MAX);
            match seen.get(&crate::text::normalize(&short)) {
                Some(first) => diags.push(
                    Diagnostic::error(
                        Problem::DuplicateId,
                        &e.source,
                        e.line(if e.short_title.is_some() {
                            "short_title"
                        } else {
                            "title"
                        }),
                        format!(
                            "in een keuzelijst heet dit item {short:?}, net als `{}` ({})",
                            first.id,
                            first.source.display()
                        ),
                        "geef een van de twee een eigen `short_title` van hoogstens 24 tekens",
                    )
                    .as_warning(),
                ),
                None => {
                    seen.insert(crate::text::normalize(&short), e);
                }
            }
        }
    }

    /// Every intent that answers needs at least one entry.
    fn answering_intents_have_entries(&self, diags: &mut Vec<Diagnostic>) {
        let with_entries: HashSet<&str> = self.entries.iter().map(|e| e.intent.as_str()).collect();
        for i in self.intents {
            if i.action == Action::Answer && !with_entries.contains(i.id.as_str()) {
                diags.push(
                    Diagnostic::error(
                        Problem::Coverage,
                        &i.source,
                        1,
                        format!(
                            "intent `{}` heeft geen items, dus Loket kan het niet beantwoorden",
                            i.id
                        ),
                        "schrijf een item in knowledge-base/entries met dit intent",
                    )
                    .as_warning(),
                );
            }
        }
    }
}

/// Too few examples leave the classifier guessing; a warning, since the intent still works.
fn intent_example_count(i: &Intent, diags: &mut Vec<Diagnostic>) {
    if i.examples.len() >= intent::MIN_EXAMPLES {
        return;
    }
    diags.push(Diagnostic::error(
        Problem::Coverage,
        &i.source,
        i.examples_line,
        format!(
            "maar {} voorbeelden; de classifier heeft er minstens {} nodig, zo gevarieerd mogelijk",
            i.examples.len(),
            intent::MIN_EXAMPLES
        ),
        "voeg voorbeelden toe zoals inwoners schrijven: kort, lang, informeel, met tikfouten",
    ).as_warning());
}

/// An example of intent `i` that is also an example of `other`.
fn duplicate_example(i: &Intent, ex: &str, other: &Intent) -> Diagnostic {
    Diagnostic::error(
        Problem::DuplicateId,
        &i.source,
        // The file is read again only for the line of a duplicate.
        diagnostic::line_containing(&std::fs::read_to_string(&i.source).unwrap_or_default(), ex)
            .unwrap_or(i.examples_line),
        format!(
            "voorbeeld {ex:?} is ook een voorbeeld van intent `{}`",
            other.id
        ),
        "een voorbeeld hoort bij één intent: haal het bij een van de twee weg",
    )
}

/// An entry whose `upl` is not in the national product list, with the nearest one if any.
fn unknown_upl(e: &Entry) -> Diagnostic {
    let hint = match upl::suggest(&e.upl) {
        Some(s) => format!("misschien {s}? De UPL-URI's staan in src/knowledge/upl_names.tsv"),
        None => {
            "gebruik een URI uit de Uniforme Productnamenlijst (src/knowledge/upl_names.tsv)".into()
        }
    };
    Diagnostic::error(
        Problem::UnknownUpl,
        &e.source,
        e.line("upl"),
        format!("`{}` is geen URI van een UPL-product", e.upl),
        hint,
    )
}

/// The small fixture knowledge base of `tests/fixtures`, as of 22 November 2026, for the
/// unit tests of the modules that read content.
#[cfg(test)]
pub fn fixture() -> KnowledgeBase {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    load(
        &root.join("kb"),
        &root.join("intents"),
        chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
    )
    .into_result()
    .expect("fixture knowledge base loads")
}

#[cfg(test)]
mod tests {
    //! Loading a copy of the fixture content with texts and roles changed.

    use std::path::Path;

    use super::*;

    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }

    /// The fixture content in a temporary directory: (dir, kb, intents).
    fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let dir = tempfile::tempdir().unwrap();
        let (kb, intents) = (dir.path().join("kb"), dir.path().join("intents"));
        copy(&root.join("kb"), &kb);
        copy(&root.join("intents"), &intents);
        (dir, kb, intents)
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn edit(path: &Path, from: &str, to: &str) {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(from), "{from:?}");
        std::fs::write(path, text.replace(from, to)).unwrap();
    }

    #[test]
    fn without_a_texts_file_the_national_defaults_speak() {
        let (_dir, kb, intents) = fixture();
        let kb = load(&kb, &intents, today()).into_result().unwrap();
        assert_eq!(
            kb.text(TextKey::Privacy, Lang::Nl),
            Texts::national()
                .get(TextKey::Privacy, Form::U)
                .replace("{url}", &kb.settings.secure_channel_url)
        );
        assert_eq!(kb.role_of("klacht"), Some(Role::Complaint));
        assert_eq!(kb.role_of("bedankt"), Some(Role::Thanks));
        assert_eq!(kb.intent_with_role(Role::Person).unwrap().id, "medewerker");
    }

    #[test]
    fn the_texts_file_is_part_of_the_snapshot_and_its_errors_block_serving() {
        let (_dir, kb_dir, intents) = fixture();
        let path = kb_dir.join("texts.toml");
        std::fs::write(&path, "[fallback]\nu = \"Dat weet {name} niet.\"\n").unwrap();
        let kb = load(&kb_dir, &intents, today()).into_result().unwrap();
        assert_eq!(
            kb.text(TextKey::Fallback, Lang::Nl),
            "Dat weet Gemeente Voorbeeld niet."
        );

        std::fs::write(&path, "[fallback]\nu = \"Dat weet {naam} niet.\"\n").unwrap();
        let loaded = load(&kb_dir, &intents, today());
        assert!(loaded.kb.is_none());
        let err = loaded.errors().next().unwrap();
        assert_eq!((err.problem, err.line), (Problem::Placeholder, 2));
        assert!(err.file.ends_with("texts.toml"));
        assert!(err.to_string().contains("texts.toml:2: fout:"), "{err}");
    }

    #[test]
    fn a_role_given_to_two_intents_is_an_error() {
        let (_dir, kb, intents) = fixture();
        edit(
            &intents.join("klacht.yaml"),
            "role: complaint",
            "role: person",
        );
        let loaded = load(&kb, &intents, today());
        let err = loaded.errors().next().expect("an error");
        assert_eq!((err.problem, err.line), (Problem::DuplicateId, 4), "{err}");
        // Intents load in file name order: the second one with the role is reported.
        assert!(err.file.ends_with("medewerker.yaml"), "{err}");
        assert!(err.message.contains("klacht"), "{err}");
    }

    #[test]
    fn without_a_person_role_a_warning_says_nobody_can_ask_for_a_person() {
        let (_dir, kb, intents) = fixture();
        edit(&intents.join("medewerker.yaml"), "role: person\n", "");
        let loaded = load(&kb, &intents, today());
        assert!(!loaded.has_errors());
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| !d.is_error() && d.message.contains("role: person")),
            "{:#?}",
            loaded.diagnostics
        );
    }

    /// A library beside the municipality: its pages come as they are (no intent, `je`
    /// where the municipality says `u`), an own entry replaces the library's entry with the
    /// same UPL product or id, and `library` in municipality.toml names the folder.
    #[test]
    fn a_library_serves_beside_the_own_entries_and_yields_to_them() {
        let (dir, kb_dir, intents) = fixture();
        let lib = dir.path().join("landelijk/entries");
        std::fs::create_dir_all(&lib).unwrap();
        let page = |id: &str, upl: &str, body: &str| {
            format!(
                "---\nid: {id}\ntitle: Pagina {id}\nupl: {upl}\ntags: []\nsource: https://example.org/{id}\n---\n{body}\n"
            )
        };
        let paspoort = "http://standaarden.overheid.nl/owms/terms/paspoort";
        std::fs::write(
            lib.join("paspoort-landelijk.md"),
            page(
                "paspoort-landelijk",
                paspoort,
                "Je vraagt een paspoort aan.",
            ),
        )
        .unwrap();
        std::fs::write(
            lib.join("paspoort-kosten.md"),
            page("paspoort-kosten", "", "Landelijke tekst."),
        )
        .unwrap();
        std::fs::write(
            lib.join("blindengeleidehond.md"),
            page("blindengeleidehond", "", "Je hond mag mee."),
        )
        .unwrap();
        let settings = kb_dir.join("municipality.toml");
        let text = std::fs::read_to_string(&settings).unwrap();
        std::fs::write(&settings, format!("library = \"../landelijk\"\n{text}")).unwrap();
        let loaded = load(&kb_dir, &intents, today());
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        let kb = loaded.kb.unwrap();
        let hond = kb
            .entry("blindengeleidehond")
            .expect("a library page is served");
        assert_eq!(hond.intent, "");
        assert!(kb.answers(&hond.intent));
        assert!(
            kb.entry("paspoort-landelijk").is_none(),
            "the own passport entries replace it"
        );
        assert_ne!(
            kb.entry("paspoort-kosten").unwrap().answer,
            "Landelijke tekst."
        );
        // The library is parsed once for every municipality on it; an edit is still seen.
        std::fs::write(
            lib.join("blindengeleidehond.md"),
            page("blindengeleidehond", "", "Je hulphond mag altijd mee."),
        )
        .unwrap();
        let kb = load(&kb_dir, &intents, today()).kb.unwrap();
        assert_eq!(
            kb.entry("blindengeleidehond").unwrap().answer.trim(),
            "Je hulphond mag altijd mee."
        );
        std::fs::remove_file(lib.join("blindengeleidehond.md")).unwrap();
        let kb = load(&kb_dir, &intents, today()).kb.unwrap();
        assert!(kb.entry("blindengeleidehond").is_none());
    }

    /// The fixture's entries moved into a library folder beside the municipality (which
    /// keeps none of its own), `library` and `extra` lines added to municipality.toml.
    fn as_library(kb_dir: &Path, extra: &str) -> PathBuf {
        let lib = kb_dir.parent().unwrap().join("landelijk/entries");
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::rename(kb_dir.join("entries"), &lib).unwrap();
        std::fs::create_dir_all(kb_dir.join("entries")).unwrap();
        let settings = kb_dir.join("municipality.toml");
        let text = std::fs::read_to_string(&settings).unwrap();
        std::fs::write(
            &settings,
            format!("library = \"../landelijk\"\n{extra}\n{text}"),
        )
        .unwrap();
        lib
    }

    fn errors(loaded: &Loaded) -> Vec<String> {
        loaded.errors().map(|d| d.to_string()).collect()
    }

    /// Placeholders in a library entry's title, question and answers take the
    /// municipality's facts (from facts.toml and from municipality.toml); a number keeps
    /// its spelling; the own entries may use them too.
    #[test]
    fn placeholders_are_filled_from_the_facts_everywhere_a_citizen_reads() {
        let (_dir, kb_dir, intents) = fixture();
        let lib = as_library(&kb_dir, "");
        edit(
            &lib.join("paspoort-kosten.md"),
            "title: Kosten paspoort",
            "title: Kosten paspoort in {{plaats}}",
        );
        edit(
            &lib.join("paspoort-kosten.md"),
            "  - prijs paspoort\n",
            "  - prijs paspoort {{plaats}}\n",
        );
        edit(
            &lib.join("paspoort-kosten.md"),
            "U betaalt bij",
            "Prijs: {{prijs}}, levertijd {{dagen}} dagen, bel {{telefoon}} ({{gemeente}}). U betaalt bij",
        );
        std::fs::write(
            kb_dir.join("facts.toml"),
            "plaats = \"Voorbeeld\"\nprijs = \"€ 84,00\"\ndagen = 5\n",
        )
        .unwrap();
        let loaded = load(&kb_dir, &intents, today());
        assert!(!loaded.has_errors(), "{:?}", errors(&loaded));
        let kb = loaded.kb.unwrap();
        let e = kb.entry("paspoort-kosten").unwrap();
        assert_eq!(e.title, "Kosten paspoort in Voorbeeld");
        assert!(
            e.questions
                .contains(&"prijs paspoort Voorbeeld".to_string()),
            "{:?}",
            e.questions
        );
        let phone = &kb.settings.phone;
        assert!(
            e.answer.contains(&format!(
                "Prijs: € 84,00, levertijd 5 dagen, bel {phone} (Gemeente Voorbeeld). U betaalt bij"
            )),
            "{}",
            e.answer
        );
        assert!(kb.entries.iter().all(|e| !e.answer.contains("{{")));
    }

    /// A switched-off library entry is not in the snapshot at all; when that leaves an
    /// intent without entries, the content still loads (a warning says so), and no
    /// `related` list points at an entry that is gone.
    #[test]
    fn switched_off_entries_are_gone_even_when_they_were_all_an_intent_had() {
        let (_dir, kb_dir, intents) = fixture();
        let lib = as_library(
            &kb_dir,
            "library_off = [\"paspoort-kosten\", \"paspoort-kind\", \"paspoort-aanvragen\"]",
        );
        edit(
            &lib.join("identiteitskaart-kosten.md"),
            "tags:",
            "related: [paspoort-kosten, rijbewijs-verlengen]\ntags:",
        );
        let loaded = load(&kb_dir, &intents, today());
        assert!(!loaded.has_errors(), "{:?}", errors(&loaded));
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.problem == Problem::Coverage && d.message.contains("`paspoort`")),
            "{:#?}",
            loaded.diagnostics
        );
        let kb = loaded.kb.unwrap();
        for id in ["paspoort-kosten", "paspoort-kind", "paspoort-aanvragen"] {
            assert!(kb.entry(id).is_none(), "{id} is switched off");
        }
        assert_eq!(kb.entries_for_intent("paspoort").count(), 0);
        assert_eq!(
            kb.entry("identiteitskaart-kosten").unwrap().related,
            vec!["rijbewijs-verlengen"]
        );
        for e in &kb.entries {
            for r in &e.related {
                assert!(kb.entry(r).is_some(), "{} points at {r}", e.id);
            }
        }
    }

    /// `replaces` takes a library entry's place (and its place in `related` lists) even
    /// with another id and no UPL; one UPL shared by several library entries replaces none.
    #[test]
    fn an_own_entry_replaces_the_library_entry_it_names() {
        let (_dir, kb_dir, intents) = fixture();
        let lib = as_library(&kb_dir, "");
        edit(
            &lib.join("identiteitskaart-kosten.md"),
            "tags:",
            "related: [paspoort-kosten]\ntags:",
        );
        let own = std::fs::read_to_string(lib.join("paspoort-kosten.md"))
            .unwrap()
            .replace(
                "id: paspoort-kosten",
                "id: paspoort-tarieven\nreplaces: paspoort-kosten",
            )
            .replace("title: Kosten paspoort", "title: Tarieven paspoort hier");
        std::fs::write(kb_dir.join("entries/paspoort-tarieven.md"), own).unwrap();
        let loaded = load(&kb_dir, &intents, today());
        assert!(!loaded.has_errors(), "{:?}", errors(&loaded));
        let kb = loaded.kb.unwrap();
        assert!(kb.entry("paspoort-kosten").is_none());
        assert!(kb.entry("paspoort-tarieven").is_some());
        // The own entry shares the passport UPL with three library entries: only the one
        // it names goes.
        assert!(kb.entry("paspoort-kind").is_some() && kb.entry("paspoort-aanvragen").is_some());
        assert_eq!(
            kb.entry("identiteitskaart-kosten").unwrap().related,
            vec!["paspoort-tarieven"]
        );
        // Entries come in file name order, as from one folder.
        let names: Vec<_> = kb
            .entries
            .iter()
            .map(|e| e.source.file_name().unwrap().to_owned())
            .collect();
        assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
    }

    /// The bundled content: Gemeente Voorbeeld serves the library with its own facts
    /// (the same answers as when its entries were its own), and Zeestad and Heidedorp
    /// serve the same library with theirs.
    #[test]
    fn the_bundled_municipalities_fill_the_library_with_their_own_facts() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (intents, today) = (root.join("intents"), today());
        let kb = |dir: &str| {
            let loaded = load(&root.join(dir), &intents, today);
            assert!(!loaded.has_errors(), "{dir}: {:?}", errors(&loaded));
            loaded.kb.unwrap()
        };
        let voorbeeld = kb("knowledge-base");
        let zeestad = kb("knowledge-base/gemeenten/zeestad");
        let heidedorp = kb("knowledge-base/gemeenten/heidedorp");
        let paspoort = |kb: &KnowledgeBase| kb.entry("paspoort-kosten").unwrap().answer.clone();
        assert!(paspoort(&voorbeeld).starts_with("Een paspoort kost in 2026 (voorbeeldtarieven):\n- 18 jaar en ouder: € 84,00 (10 jaar geldig)\n- jonger dan 18: € 64,00 (5 jaar geldig)\n- spoedaanvraag: € 58,00 extra\n"));
        assert!(paspoort(&voorbeeld).ends_with("Afspraak maken: https://www.voorbeeld.example/afspraak\nMeer informatie: https://www.voorbeeld.example/paspoort"));
        assert!(
            paspoort(&zeestad).contains("€ 85,20")
                && paspoort(&zeestad).contains("https://afspraak.zeestad.example")
        );
        assert!(
            paspoort(&heidedorp).contains("€ 83,90")
                && paspoort(&heidedorp).contains("https://www.heidedorp.example/afspraak-maken")
        );
        // What the encoder reads of a national answer is the same everywhere (encoded once):
        // the library's example values (landelijk/facts.toml), here Voorbeeld's.
        let passages =
            |kb: &KnowledgeBase| crate::understand::passages(kb.entry("paspoort-kosten").unwrap());
        assert_eq!(passages(&voorbeeld), passages(&zeestad));
        assert_eq!(passages(&voorbeeld), passages(&heidedorp));
        assert!(
            passages(&voorbeeld)[0].contains("€ 84,00") && !passages(&voorbeeld)[0].contains("{{"),
            "{:?}",
            passages(&voorbeeld)
        );
        let tel = voorbeeld.entry("telefonisch-bereikbaar").unwrap();
        assert_eq!(tel.title, "Gemeente bellen (14 0123)");
        assert!(tel.answer_en.as_deref().unwrap().starts_with("You can call the municipality on 14 0123 (local rate):\n- Monday to Wednesday: 09:00-17:00\n- Thursday: 09:00-20:00\n- Friday: 09:00-13:00\nThe 14 number"));
        assert_eq!(
            voorbeeld.entry("verhuizen-naar-voorbeeld").unwrap().title,
            "Verhuizen naar gemeente Voorbeeld"
        );
        assert!(voorbeeld.entry("verhuizen-naar-gemeente").is_none());
        assert_eq!(
            zeestad.entry("verhuizen-naar-gemeente").unwrap().title,
            "Verhuizen naar de gemeente Zeestad"
        );
        assert!(
            zeestad.entry("bezoekersvergunning").is_none()
                && heidedorp.entry("parkeervergunning-bewoners").is_none()
        );
        assert!(
            heidedorp.entry("openingstijden-stadhuis").is_none()
                && heidedorp.entry("openingstijden-gemeentehuis").is_some()
        );
        for kb in [&voorbeeld, &zeestad, &heidedorp] {
            for e in &kb.entries {
                let texts = [&e.title, &e.answer]
                    .into_iter()
                    .chain(&e.questions)
                    .chain(&e.answer_en);
                for t in texts {
                    assert!(!t.contains("{{"), "{}: {t}", e.id);
                }
            }
        }
    }
}
