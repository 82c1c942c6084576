//! Privacy guard of Loket: owns the detection and redaction of personal data
//! (PII) in citizen messages before they are logged, classified or sent to a
//! language model.
//!
//! # The canonical view
//!
//! Every detector reads one canonical view of the message (see `canonical`): Unicode
//! compatibility forms (NFKC), decimal digits of every script as ASCII digits, invisible
//! characters (zero-width space, joiners, word joiner, soft hyphen, byte order mark, bidi
//! marks, variation selectors) removed, every dash a `-`, and every run of white space one
//! space (or one line break). A BSN written with full-width digits and a zero-width space
//! inside, or as `١٢٣-٤٥٦-٧٨٢`, reads as `123456782` or `123-456-782`. Each character of
//! the view maps back to the original cluster it came from (a character with its combining
//! marks, or a whole run of white space), so a [`Finding`]'s span is in original byte
//! offsets and covers every original character of the datum, invisible ones inside it
//! included: nothing of it survives redaction. The view is built cluster by cluster, so the
//! view of a redacted message is the masked view of the original, which keeps `redact`
//! idempotent.
//!
//! # Kinds detected
//!
//! See the submodules for the exact rules:
//! - [`PiiKind::Bsn`]: burgerservicenummer, 9 digits passing the 11-proef, written together
//!   or in groups joined by spaces, line breaks, dots, hyphens or slashes (any grouping,
//!   one digit at a time too); 8 digits only when the message mentions a BSN.
//! - [`PiiKind::Iban`]: IBAN with a valid mod-97 checksum and the exact length of one of
//!   the 89 countries of the SWIFT IBAN registry (and their territories), grouped or not,
//!   also glued to a word (`rekeningNL91ABNA0417164300`).
//! - [`PiiKind::Phone`]: Dutch and international phone numbers, any grouping and
//!   separators; short, municipal (`14 0xx`) and 0800/0900 service numbers are not
//!   flagged.
//! - [`PiiKind::Email`]: e-mail addresses, also obfuscated (`jan[at]example.nl`,
//!   `jan (at) example (dot) nl`, `jan at example punt nl`, spaces around `@`).
//! - [`PiiKind::DateOfBirth`]: dates next to a birth cue, or before this year next to a
//!   person name; dates without separators (`12031985`) only with a birth cue.
//! - [`PiiKind::DocumentNumber`]: passport / ID-card numbers (also in groups with spaces
//!   or hyphens, next to a document cue) and driving licence numbers.
//! - [`PiiKind::Medical`]: a diagnosis or condition term stated about a
//!   person; only the term is replaced.
//! - [`PiiKind::CriminalRecord`]: a criminal record or conviction stated about a person
//!   and not denied ("ik heb een strafblad", not "geen strafblad"); only the term.
//!
//! Harmless numbers stay: a number labelled as something else ("klantnummer 123456782",
//! "ordernummer AB1234567", "factuurnummer 0301234567") is not a BSN, phone or document
//! number; postcodes, house numbers, prices, times, years and appointment dates are not
//! personal data. [`PiiKind::needs_secure_channel`] tells which kinds are the citizen's
//! own sensitive data (BSN, IBAN, medical, criminal record) that the dialogue redirects to a secure channel;
//! the others are only redacted. [`redact_file_name`] guards a file name.
//!
//! # Stages
//!
//! Detection runs in stages, highest priority first: e-mail, IBAN, phone,
//! BSN, then the context-dependent detectors (document number, date of
//! birth, medical), which look at the words around their candidates. Each
//! stage sees the text with the earlier stages' findings already replaced by
//! placeholders, and every candidate and placeholder counts as one opaque
//! word in a context window: a stage judges its candidates exactly as a
//! second pass over the redacted text would, so `redact` is idempotent.
//!
//! Overlaps are resolved by priority, e-mail > IBAN > phone > BSN > document
//! number > date of birth > medical: a higher-priority stage claims its text
//! first, and among the context-dependent kinds the same order applies.
//! Between overlapping candidates of one stage the higher priority, then the
//! longer span wins; when candidates only partly overlap, so that dropping
//! one would leave part of it in the text (two readings of one run of
//! digits), they are merged into one finding of the highest-priority kind.

mod bsn;
mod canonical;
mod criminal;
mod date;
mod document;
mod email;
mod iban;
mod masked;
mod medical;
mod phone;
mod units;

pub use bsn::is_valid_bsn;
pub use iban::is_valid_iban;

use std::cmp::Reverse;

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PiiKind {
    Bsn,
    Iban,
    Phone,
    Email,
    DateOfBirth,
    DocumentNumber,
    Medical,
    CriminalRecord,
}

impl PiiKind {
    /// The (Dutch) text that replaces a finding of this kind.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Bsn => "[BSN]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::Phone => "[TELEFOON]",
            PiiKind::Email => "[EMAIL]",
            PiiKind::DateOfBirth => "[GEBOORTEDATUM]",
            PiiKind::DocumentNumber => "[DOCUMENTNUMMER]",
            PiiKind::Medical => "[MEDISCH]",
            PiiKind::CriminalRecord => "[STRAFRECHTELIJK]",
        }
    }

    /// Stable identifier for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Bsn => "bsn",
            PiiKind::Iban => "iban",
            PiiKind::Phone => "phone",
            PiiKind::Email => "email",
            PiiKind::DateOfBirth => "date_of_birth",
            PiiKind::DocumentNumber => "document_number",
            PiiKind::Medical => "medical",
            PiiKind::CriminalRecord => "criminal_record",
        }
    }

    /// Whether this is the citizen's own sensitive data, which Loket does not handle in a
    /// chat at all: a BSN, a bank account (IBAN) or medical details. The citizen is sent to
    /// a secure channel; a criminal record likewise. Other personal data (a phone number, an e-mail address, a date of
    /// birth, a document number) is redacted and the question answered as usual.
    pub fn needs_secure_channel(self) -> bool {
        matches!(
            self,
            PiiKind::Bsn | PiiKind::Iban | PiiKind::Medical | PiiKind::CriminalRecord
        )
    }

    /// The kind named by [`PiiKind::as_str`].
    pub fn parse(s: &str) -> Option<PiiKind> {
        ALL_KINDS.into_iter().find(|k| k.as_str() == s)
    }

    /// Overlap priority: lower wins.
    fn rank(self) -> u8 {
        match self {
            PiiKind::Email => 0,
            PiiKind::Iban => 1,
            PiiKind::Phone => 2,
            PiiKind::Bsn => 3,
            PiiKind::DocumentNumber => 4,
            PiiKind::DateOfBirth => 5,
            PiiKind::Medical => 6,
            PiiKind::CriminalRecord => 7,
        }
    }
}

/// One piece of personal data: a byte range in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

/// A redacted message and what was removed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    pub findings: Vec<Finding>,
}

impl Redacted {
    /// Whether anything was redacted.
    pub fn contains_pii(&self) -> bool {
        !self.findings.is_empty()
    }

    /// The kinds found, unique, in order of first appearance.
    pub fn kinds(&self) -> Vec<PiiKind> {
        let mut kinds = Vec::new();
        for f in &self.findings {
            if !kinds.contains(&f.kind) {
                kinds.push(f.kind);
            }
        }
        kinds
    }
}

/// Finds personal data in `text`: non-overlapping findings sorted by start, in byte
/// offsets of `text`. The detectors read the canonical view of the text; each finding
/// covers whole characters of the original, invisible ones inside it included.
pub fn detect(text: &str) -> Vec<Finding> {
    let canonical = canonical::Canonical::new(text);
    let mut masked = masked::Masked::new(&canonical);

    // Stage 1: self-contained patterns, highest priority first, each on the
    // text with the earlier stages' findings replaced by placeholders. Dates
    // are recomputed per stage: their digits never form a phone number or a
    // BSN. E-mail handles adjacent placeholders itself.
    masked.accept(resolve(email::find(masked.text())));
    let found = free(masked.text(), iban::find(masked.text()));
    masked.accept(resolve(found));
    let dates = date::candidates(masked.text());
    let found = free(masked.text(), phone::find(masked.text(), &dates));
    masked.accept(resolve(found));
    let dates = date::candidates(masked.text());
    let found = free(masked.text(), bsn::find(masked.text(), &dates));
    masked.accept(resolve(found));

    // Stage 2: context-dependent detectors. Every candidate (and every
    // placeholder) is one opaque unit in the context windows.
    let text = masked.text();
    let keep = |s: usize, e: usize| !touches_placeholder(text, s, e);
    let mut documents = document::candidates(text);
    documents.retain(|c| keep(c.start, c.end));
    let mut dates = date::candidates(text);
    dates.retain(|&(s, e)| keep(s, e));
    let mut loose_dates = date::loose_candidates(text);
    loose_dates.retain(|&(s, e)| keep(s, e));
    let mut medical = medical::candidates(text);
    medical.retain(|&(s, e)| keep(s, e));
    let mut criminal = criminal::candidates(text);
    criminal.retain(|&(s, e)| keep(s, e));
    let atoms: Vec<(usize, usize)> = documents
        .iter()
        .map(|c| (c.start, c.end))
        .chain(dates.iter().copied())
        .chain(loose_dates.iter().copied())
        .chain(medical.iter().copied())
        .chain(criminal.iter().copied())
        .collect();
    let units = units::Units::new(text, atoms);
    let mut soft = document::confirm(&documents, &units);
    soft.extend(date::confirm(&dates, &loose_dates, &units));
    soft.extend(medical::confirm(&medical, &units));
    soft.extend(criminal::confirm(&criminal, &units));
    let soft = resolve(soft);
    masked.accept(soft);

    masked.into_findings()
}

/// Drops candidates glued to a placeholder (see [`touches_placeholder`]).
fn free(text: &str, mut candidates: Vec<Finding>) -> Vec<Finding> {
    candidates.retain(|f| !touches_placeholder(text, f.start, f.end));
    candidates
}

/// Replaces every finding's span by its placeholder.
pub fn redact(text: &str) -> Redacted {
    replace(text, detect(text))
}

/// Redacts a file name (a WhatsApp document's): underscores, plus signs and the dot
/// before the extension are read as spaces, so `paspoort_123456782.pdf` and `bsn_123_456_782.jpg` are read like a sentence;
/// the name keeps its own characters outside the findings (`paspoort_[BSN].pdf`).
pub fn redact_file_name(name: &str) -> Redacted {
    // One ASCII byte for another: offsets in the view are offsets in the name. The dot
    // before the extension goes too, so "jan@example.nl.pdf" does not end in ".pdf".
    let mut view: String = name
        .chars()
        .map(|c| if matches!(c, '_' | '+') { ' ' } else { c })
        .collect();
    if let Some(dot) = view.rfind('.')
        && (1..=5).contains(&(view.len() - dot - 1))
        && view[dot + 1..].bytes().all(|b| b.is_ascii_alphanumeric())
    {
        view.replace_range(dot..=dot, " ");
    }
    replace(name, detect(&view))
}

/// `text` with every finding's span replaced by its placeholder.
fn replace(text: &str, findings: Vec<Finding>) -> Redacted {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for f in &findings {
        out.push_str(&text[pos..f.start]);
        out.push_str(f.kind.placeholder());
        pos = f.end;
    }
    out.push_str(&text[pos..]);
    Redacted {
        text: out,
        findings,
    }
}

const ALL_KINDS: [PiiKind; 8] = [
    PiiKind::Bsn,
    PiiKind::Iban,
    PiiKind::Phone,
    PiiKind::Email,
    PiiKind::DateOfBirth,
    PiiKind::DocumentNumber,
    PiiKind::Medical,
    PiiKind::CriminalRecord,
];

/// Whether `start..end` is glued to a placeholder without any separator
/// (`[BSN]NXC3F1LP2`). Such a span was glued to the personal data the
/// placeholder replaced, so the first pass did not take it either; skipping
/// it keeps `redact` idempotent.
fn touches_placeholder(text: &str, start: usize, end: usize) -> bool {
    units::ends_with_placeholder(&text[..start]) || units::placeholder_len_at(text, end).is_some()
}

/// Resolves overlapping candidates, one cluster of (transitively)
/// overlapping candidates at a time. Returns findings sorted by start.
fn resolve(mut candidates: Vec<Finding>) -> Vec<Finding> {
    candidates.retain(|f| f.start < f.end);
    candidates.sort_by_key(|f| (f.start, Reverse(f.end)));
    let mut out = Vec::with_capacity(candidates.len());
    let mut i = 0;
    while i < candidates.len() {
        let mut end = candidates[i].end;
        let mut j = i + 1;
        while j < candidates.len() && candidates[j].start < end {
            end = end.max(candidates[j].end);
            j += 1;
        }
        out.extend(resolve_cluster(&candidates[i..j]));
        i = j;
    }
    out
}

/// Within one cluster: higher priority first, then the longer span, then the
/// earlier start. If that would leave part of a candidate unredacted (two
/// candidates that only partly overlap), the whole cluster becomes one
/// finding of its highest-priority kind, so nothing leaks partially.
fn resolve_cluster(cluster: &[Finding]) -> Vec<Finding> {
    let mut by_priority = cluster.to_vec();
    by_priority.sort_by_key(|f| (f.kind.rank(), Reverse(f.end - f.start), f.start));
    let mut kept: Vec<Finding> = Vec::with_capacity(by_priority.len());
    for f in by_priority {
        if kept.iter().all(|k| f.end <= k.start || k.end <= f.start) {
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| f.start);
    let covered = |f: &Finding| {
        let mut pos = f.start;
        for k in &kept {
            if k.start <= pos && pos < k.end {
                pos = k.end;
            }
        }
        pos >= f.end
    };
    if cluster.iter().all(covered) {
        return kept;
    }
    let kind = cluster
        .iter()
        .map(|f| f.kind)
        .min_by_key(|k| k.rank())
        .expect("non-empty cluster");
    vec![Finding {
        kind,
        start: cluster.iter().map(|f| f.start).min().unwrap_or(0),
        end: cluster.iter().map(|f| f.end).max().unwrap_or(0),
    }]
}

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod spelling_tests;
#[cfg(test)]
mod tests;
