//! `loket archive export` and `loket archive verify`.
//!
//! Layout of one export, `<out>/<from>_<to>/`:
//!
//! ```text
//! conversations.jsonl        one conversation a line: fields, handoffs, notes, messages
//! transcripts/<id>.html      a readable transcript in Dutch per conversation
//! index.html                 links to all transcripts
//! klantcontacten.jsonl       (--klantinteracties) one VNG klantcontact a line
//! manifest.json              period, generated_at, version, counts, sha256 and size per file
//! SHA256SUMS                 `sha256sum -c` format, covering every file including the manifest
//! ```
//!
//! The folder is written next to its final place and renamed when complete, so a crash never
//! leaves a half export behind under the final name.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::html::{self, PageContext};
use super::{
    ArchiveError, ArchivedConversation, contact_addresses, io_error, load_conversations,
    period_bounds,
};
use crate::store::{Direction, Sender, SqlStore, timestamp};

pub const CONVERSATIONS_FILE: &str = "conversations.jsonl";
pub const KLANTCONTACTEN_FILE: &str = "klantcontacten.jsonl";
pub const INDEX_FILE: &str = "index.html";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const SUMS_FILE: &str = "SHA256SUMS";
pub const TRANSCRIPTS_DIR: &str = "transcripts";
/// What replaces a contact's phone number should one turn up in a text (e.g. an agent's note).
pub const ADDRESS_PLACEHOLDER: &str = "[TELEFOON]";

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// First local date (Europe/Amsterdam), inclusive.
    pub from: NaiveDate,
    /// Last local date, inclusive.
    pub to: NaiveDate,
    /// The archive directory; the export goes to `<out>/<from>_<to>/`.
    pub out: PathBuf,
    /// Replace an existing non-empty folder.
    pub force: bool,
    /// Also write `klantcontacten.jsonl`.
    pub klantinteracties: bool,
    /// "Gemeente Voorbeeld", for the transcripts' header.
    pub municipality: String,
    /// Only this municipality's conversations (its slug; each municipality is its own
    /// archive owner); `None`: every conversation (one municipality).
    pub slug: Option<String>,
    /// Department id → name.
    pub departments: HashMap<String, String>,
    /// Who asked, for the audit log ("cli").
    pub actor: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub dir: PathBuf,
    pub conversations: usize,
    pub messages: usize,
    pub files: usize,
    /// How often a contact's phone number was found in a text and replaced.
    pub numbers_replaced: usize,
}

#[derive(Debug, Clone, Serialize)]
struct FileEntry {
    path: String,
    sha256: String,
    size: u64,
}

/// The folder name of a period: `2026-11-01_2026-11-07`.
pub fn folder_name(from: NaiveDate, to: NaiveDate) -> String {
    format!("{}_{}", from.format("%Y-%m-%d"), to.format("%Y-%m-%d"))
}

/// A file name for a conversation id: the id itself when it is plain, otherwise a cleaned
/// version with a short hash (so two ids never share a file and no id escapes the folder).
pub fn transcript_file_name(id: &str) -> String {
    let plain = !id.is_empty()
        && id.len() <= 120
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        return format!("{id}.html");
    }
    let cleaned: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(60)
        .collect();
    let hash = hex::encode(Sha256::digest(id.as_bytes()));
    format!("{cleaned}-{}.html", &hash[..12])
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Replaces every phone number in `text`; returns how many were replaced.
fn scrub(text: &mut String, addresses: &[String]) -> usize {
    let mut n = 0;
    for a in addresses {
        if text.contains(a.as_str()) {
            n += text.matches(a.as_str()).count();
            *text = text.replace(a.as_str(), ADDRESS_PLACEHOLDER);
        }
    }
    n
}

fn scrub_json(v: &mut serde_json::Value, addresses: &[String]) -> usize {
    match v {
        serde_json::Value::String(s) => scrub(s, addresses),
        serde_json::Value::Array(items) => items.iter_mut().map(|i| scrub_json(i, addresses)).sum(),
        serde_json::Value::Object(map) => map.values_mut().map(|i| scrub_json(i, addresses)).sum(),
        _ => 0,
    }
}

/// Removes phone numbers from every free text of a conversation.
fn scrub_conversation(c: &mut ArchivedConversation, addresses: &[String]) -> usize {
    let mut n = 0;
    for m in &mut c.messages {
        n += scrub(&mut m.text, addresses);
        if let Some(meta) = &mut m.meta {
            n += scrub_json(meta, addresses);
        }
    }
    for note in &mut c.notes {
        n += scrub(&mut note.text, addresses);
    }
    for h in &mut c.handoffs {
        n += scrub(&mut h.reason, addresses);
    }
    n
}

/// The conversation as a VNG Klantinteracties `klantcontact` (the shape of the resource, for
/// import into Open Klant or a KCC system; nothing is sent anywhere). The citizen's number,
/// which Klantinteracties would hold as a `digitaalAdres` of a `betrokkene`, is left out on
/// purpose; `_loket` carries Loket's own references and is not part of the standard.
pub fn klantcontact(c: &ArchivedConversation) -> serde_json::Value {
    let kanaal = html::channel_label(c.channel);
    // Onderwerp: the citizen's most frequent intent, with the FAQ entries answered.
    let mut intents: BTreeMap<&str, usize> = BTreeMap::new();
    for m in c.messages.iter().filter(|m| m.direction == Direction::In) {
        if let Some(i) = &m.intent {
            *intents.entry(i.as_str()).or_default() += 1;
        }
    }
    let intent = intents
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(i, _)| *i)
        .or_else(|| c.messages.iter().find_map(|m| m.intent.as_deref()));
    let mut faqs: Vec<&str> = Vec::new();
    for m in &c.messages {
        if let Some(f) = &m.faq_id
            && m.direction == Direction::Out
            && !faqs.contains(&f.as_str())
        {
            faqs.push(f);
        }
    }
    let mut onderwerp = intent.unwrap_or("onbekend").to_string();
    if !faqs.is_empty() {
        onderwerp = format!("{onderwerp} (FAQ: {})", faqs.join(", "));
    }
    let onderwerp: String = onderwerp.chars().take(200).collect();
    // Gelukt: the citizen got an answer from the bot or a reply from a person.
    let gelukt = c.messages.iter().any(|m| {
        m.direction == Direction::Out
            && m.status.as_deref() != Some("failed")
            && (m.sender == Sender::Agent || m.action.as_deref() == Some("answer"))
    });
    let plaatsgevonden_op = c
        .messages
        .iter()
        .map(|m| m.created_at.as_str())
        .max()
        .unwrap_or(&c.updated_at);
    let mut actoren = vec![json!({
        "soortActor": "geautomatiseerde_actor",
        "naam": "Loket",
        "indicatieActief": true,
        "actoridentificator": {
            "objectId": "loket",
            "codeObjecttype": "geautomatiseerde_actor",
            "codeRegister": "loket",
            "codeSoortObjectId": "naam"
        },
        "geautomatiseerdeActor": {
            "functie": "chatbot",
            "omschrijving": "Loket beantwoordt vragen van inwoners uit de kennisbank en draagt over aan medewerkers"
        }
    })];
    let mut agents: Vec<&str> = Vec::new();
    for a in c
        .messages
        .iter()
        .filter_map(|m| m.agent_id.as_deref())
        .chain(c.handoffs.iter().filter_map(|h| h.agent_id.as_deref()))
        .chain(c.agent_id.as_deref())
    {
        if !agents.contains(&a) {
            agents.push(a);
        }
    }
    for a in agents {
        actoren.push(json!({
            "soortActor": "medewerker",
            "naam": a,
            "indicatieActief": true,
            "actoridentificator": {
                "objectId": a,
                "codeObjecttype": "mdw",
                "codeRegister": "loket",
                "codeSoortObjectId": "agent_id"
            }
        }));
    }
    if let Some(d) = &c.department {
        actoren.push(json!({
            "soortActor": "organisatorische_eenheid",
            "naam": d,
            "indicatieActief": true,
            "actoridentificator": {
                "objectId": d,
                "codeObjecttype": "afd",
                "codeRegister": "loket",
                "codeSoortObjectId": "department"
            }
        }));
    }
    json!({
        "kanaal": kanaal,
        "onderwerp": onderwerp,
        "inhoud": html::plain_text(c),
        "indicatieContactGelukt": gelukt,
        "taal": "nld",
        "vertrouwelijk": false,
        "plaatsgevondenOp": plaatsgevonden_op,
        "hadBetrokkenActoren": actoren,
        "_loket": {
            "conversation_id": c.id,
            "contact_id": c.contact_id,
            "department": c.department,
            "status": c.status,
            "handoffs": c.handoffs.len(),
        }
    })
}

/// Exports the conversations whose last activity falls in the period.
pub async fn export(
    store: &SqlStore,
    opts: &ExportOptions,
    now: DateTime<Utc>,
) -> Result<ExportReport, ArchiveError> {
    check_period(opts)?;
    let folder = folder_name(opts.from, opts.to);
    let target = opts.out.join(&folder);
    if !opts.force && is_non_empty_dir(&target) {
        return Err(ArchiveError::Exists(target));
    }
    let (start, end) = period_bounds(opts.from, opts.to);
    let mut conversations = load_conversations(store, &start, &end, opts.slug.as_deref()).await?;
    let addresses = contact_addresses(store, &conversations).await?;
    let numbers_replaced: usize = conversations
        .iter_mut()
        .map(|c| scrub_conversation(c, &addresses))
        .sum();

    let generated_at = timestamp(now);
    // Every file in memory first: they are small (a municipality has a few dozen
    // conversations a day), and the check for phone numbers sees the final bytes.
    let mut files = content_files(&conversations, opts, &generated_at)?;
    let manifest = Manifest {
        opts,
        conversations: &conversations,
        start: &start,
        end: &end,
        generated_at: &generated_at,
        numbers_replaced,
    };
    let manifest_bytes = manifest.to_bytes(&files)?;
    files.push((MANIFEST_FILE.into(), manifest_bytes));
    refuse_contact_numbers(&files, &addresses)?;
    let sums = checksums(&files);
    let sums_text: String = sums.iter().map(|(p, h)| format!("{h}  {p}\n")).collect();
    files.push((SUMS_FILE.into(), sums_text.into_bytes()));

    write_folder(opts, &folder, &target, &files)?;

    let manifest_hash = sums
        .iter()
        .find(|(p, _)| p == MANIFEST_FILE)
        .map(|(_, h)| h.clone())
        .unwrap_or_default();
    let messages = manifest.messages();
    store
        .audit(
            &opts.actor,
            "archive.export",
            None,
            &format!(
                "period {}..{} (Europe/Amsterdam); {} conversations, {} messages; folder {folder}; \
                 manifest sha256 {manifest_hash}",
                opts.from,
                opts.to,
                conversations.len(),
                messages
            ),
        )
        .await?;
    Ok(ExportReport {
        dir: target,
        conversations: conversations.len(),
        messages,
        files: files.len(),
        numbers_replaced,
    })
}

fn check_period(opts: &ExportOptions) -> Result<(), ArchiveError> {
    if opts.to < opts.from {
        return Err(ArchiveError::Period(format!(
            "--to {} is before --from {}",
            opts.to, opts.from
        )));
    }
    Ok(())
}

/// The files with the conversations themselves, as (path in the folder, bytes):
/// `conversations.jsonl`, a transcript each, the index, and `klantcontacten.jsonl` if asked.
fn content_files(
    conversations: &[ArchivedConversation],
    opts: &ExportOptions,
    generated_at: &str,
) -> Result<Vec<(String, Vec<u8>)>, ArchiveError> {
    let ctx = PageContext {
        municipality: opts.municipality.clone(),
        period: html::dutch_period(opts.from, opts.to),
        departments: opts.departments.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at: html::local_date_time(generated_at),
    };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut jsonl = String::new();
    for c in conversations {
        jsonl
            .push_str(&serde_json::to_string(c).map_err(|e| ArchiveError::Invalid(e.to_string()))?);
        jsonl.push('\n');
    }
    files.push((CONVERSATIONS_FILE.into(), jsonl.into_bytes()));
    let mut linked = Vec::with_capacity(conversations.len());
    for c in conversations {
        let name = transcript_file_name(&c.id);
        let rel = format!("{TRANSCRIPTS_DIR}/{name}");
        files.push((rel.clone(), html::transcript(c, &ctx).into_bytes()));
        linked.push((c, rel));
    }
    files.push((INDEX_FILE.into(), html::index(&linked, &ctx).into_bytes()));
    if opts.klantinteracties {
        let mut k = String::new();
        for c in conversations {
            k.push_str(&klantcontact(c).to_string());
            k.push('\n');
        }
        files.push((KLANTCONTACTEN_FILE.into(), k.into_bytes()));
    }
    Ok(files)
}

/// What `manifest.json` states about one export besides its files.
struct Manifest<'a> {
    opts: &'a ExportOptions,
    conversations: &'a [ArchivedConversation],
    /// The period as UTC timestamps, end exclusive.
    start: &'a str,
    end: &'a str,
    generated_at: &'a str,
    numbers_replaced: usize,
}

impl Manifest<'_> {
    fn messages(&self) -> usize {
        self.conversations.iter().map(|c| c.messages.len()).sum()
    }

    /// The pretty-printed manifest, listing `files` with their checksum and size.
    fn to_bytes(&self, files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ArchiveError> {
        let (opts, conversations) = (self.opts, self.conversations);
        let entries: Vec<FileEntry> = files
            .iter()
            .map(|(path, bytes)| FileEntry {
                path: path.clone(),
                sha256: sha256_hex(bytes),
                size: bytes.len() as u64,
            })
            .collect();
        let handoffs: usize = conversations.iter().map(|c| c.handoffs.len()).sum();
        let notes: usize = conversations.iter().map(|c| c.notes.len()).sum();
        let klantcontacten = if opts.klantinteracties {
            conversations.len()
        } else {
            0
        };
        let manifest = json!({
            "format": "loket-archive/1",
            "municipality": opts.municipality,
            "period": {
                "from": opts.from.to_string(),
                "to": opts.to.to_string(),
                "time_zone": "Europe/Amsterdam",
                "selected_on": "last activity of the conversation (updated_at), both dates inclusive",
                "start_utc": self.start,
                "end_utc_exclusive": self.end,
            },
            "generated_at": self.generated_at,
            "loket_version": env!("CARGO_PKG_VERSION"),
            "counts": {
                "conversations": conversations.len(),
                "messages": self.messages(),
                "handoffs": handoffs,
                "notes": notes,
                "transcripts": conversations.len(),
                "klantcontacten": klantcontacten,
                "phone_numbers_replaced": self.numbers_replaced,
            },
            "files": entries,
        });
        serde_json::to_vec_pretty(&manifest).map_err(|e| ArchiveError::Invalid(e.to_string()))
    }
}

/// Last line of defence: no contact's number in any byte written.
fn refuse_contact_numbers(
    files: &[(String, Vec<u8>)],
    addresses: &[String],
) -> Result<(), ArchiveError> {
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(bytes);
        if addresses.iter().any(|a| text.contains(a.as_str())) {
            return Err(ArchiveError::Invalid(format!(
                "a contact's phone number would appear in {path} (e.g. in a conversation id); \
                 nothing was written"
            )));
        }
    }
    Ok(())
}

/// (path, sha256) of every file, sorted by path: the lines of `SHA256SUMS`.
fn checksums(files: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    let mut sums: Vec<(String, String)> = files
        .iter()
        .map(|(p, b)| (p.clone(), sha256_hex(b)))
        .collect();
    sums.sort();
    sums
}

/// Writes the files into a hidden folder next to `target` and renames it into place, so a
/// crash never leaves a half export under the final name. An existing `target` is replaced
/// only with `--force` (or when it is empty).
fn write_folder(
    opts: &ExportOptions,
    folder: &str,
    target: &Path,
    files: &[(String, Vec<u8>)],
) -> Result<(), ArchiveError> {
    std::fs::create_dir_all(&opts.out).map_err(io_error(&opts.out))?;
    let partial = opts.out.join(format!(
        ".{folder}.partial-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let written = write_files(&partial, files);
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    if target.exists() {
        // Checked again: the folder may have appeared while the files were being written.
        if opts.force || !is_non_empty_dir(target) {
            let removed = if target.is_dir() {
                std::fs::remove_dir_all(target)
            } else {
                std::fs::remove_file(target)
            };
            if let Err(e) = removed {
                let _ = std::fs::remove_dir_all(&partial);
                return Err(io_error(target)(e));
            }
        } else {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(ArchiveError::Exists(target.to_path_buf()));
        }
    }
    std::fs::rename(&partial, target).map_err(io_error(target))
}

fn is_non_empty_dir(path: &Path) -> bool {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    } else {
        path.exists()
    }
}

fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), ArchiveError> {
    std::fs::create_dir_all(dir.join(TRANSCRIPTS_DIR)).map_err(io_error(dir))?;
    for (rel, bytes) in files {
        let path = dir.join(rel);
        std::fs::write(&path, bytes).map_err(io_error(&path))?;
    }
    Ok(())
}

/// The outcome of checking an export folder against its `SHA256SUMS`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub ok: Vec<String>,
    /// Files whose content changed.
    pub mismatched: Vec<String>,
    /// Files listed but absent.
    pub missing: Vec<String>,
    /// Files present but not listed (added after the export).
    pub unexpected: Vec<String>,
    /// Lines of SHA256SUMS that are not `<64 hex>  <relative path>`.
    pub malformed: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.mismatched.is_empty()
            && self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.malformed.is_empty()
            && !self.ok.is_empty()
    }
}

fn safe_relative(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Recomputes the checksums of an export folder.
pub fn verify(dir: &Path) -> Result<VerifyReport, ArchiveError> {
    let sums_path = dir.join(SUMS_FILE);
    let text = std::fs::read_to_string(&sums_path).map_err(io_error(&sums_path))?;
    let mut report = VerifyReport::default();
    let mut listed = std::collections::HashSet::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parsed = line.split_once("  ").filter(|(h, p)| {
            h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()) && safe_relative(p)
        });
        let Some((hash, rel)) = parsed else {
            report.malformed.push(line.to_string());
            continue;
        };
        listed.insert(rel.to_string());
        match std::fs::read(dir.join(rel)) {
            Ok(bytes) if sha256_hex(&bytes).eq_ignore_ascii_case(hash) => {
                report.ok.push(rel.to_string())
            }
            Ok(_) => report.mismatched.push(rel.to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.missing.push(rel.to_string())
            }
            Err(e) => return Err(io_error(&dir.join(rel))(e)),
        }
    }
    let mut present = Vec::new();
    collect_files(dir, dir, &mut present).map_err(io_error(dir))?;
    for rel in present {
        if rel != SUMS_FILE && !listed.contains(&rel) {
            report.unexpected.push(rel);
        }
    }
    report.unexpected.sort();
    Ok(report)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(rel.join("/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_transcript_names_stay_in_the_folder() {
        assert_eq!(transcript_file_name("c-123_a.b"), "c-123_a.b.html");
        let odd = transcript_file_name("../../etc/passwd");
        assert!(!odd.contains('/') && !odd.starts_with('.'), "{odd}");
        assert_ne!(transcript_file_name("a/b"), transcript_file_name("a\\b"));
    }

    #[test]
    fn archive_scrub_replaces_numbers() {
        let mut s = "bel 0612345678 of +31612345678".to_string();
        let n = scrub(&mut s, &["31612345678".into(), "0612345678".into()]);
        assert_eq!(n, 2);
        assert_eq!(s, "bel [TELEFOON] of +[TELEFOON]");
    }
}
