//! Identity document numbers: Dutch passport / identity card numbers and
//! driving licence numbers.
//!
//! A passport or ID-card number has nine characters: two letters, then
//! letters or digits, never the letter O. It is flagged when
//! - it strictly matches `[A-NP-Z]{2}[A-NP-Z0-9]{6}[0-9]` (upper case,
//!   ending in a digit), or
//! - it contains at least one digit (any letter case) and a document cue
//!   ("paspoort", "id", "identiteitskaart", "documentnummer", "rijbewijs",
//!   "nummer", …) is within six words; or
//! - it is written in upper case in groups separated by single spaces or hyphens
//!   (`NXC3 F1LP 2`, `NX-C3F1-LP2`), ends in a digit, has at least two digits, and a
//!   document cue is within six words.
//!
//! A driving licence number is ten digits with "rijbewijs" within six words.
//! Words without digits ("PASPOORTEN") are never flagged, and neither is a code the
//! citizen labels as something else ("productnummer PH4471239", "ordernummer
//! AB1234567"): a compound such as "ordernummer" is not a document cue.

use super::units::{Units, after_harmless_label};
use super::{Finding, PiiKind};
use regex::Regex;
use std::sync::LazyLock;

static NINE_CHARS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[A-Za-z]{2}[A-Za-z0-9]{7}\b").expect("document regex"));
static STRICT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-NP-Z]{2}[A-NP-Z0-9]{6}[0-9]$").expect("strict regex"));
/// Nine characters in groups: two letters, then seven letters or digits, with single
/// spaces or hyphens anywhere between them.
static GROUPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Za-z][ \n\-]?[A-Za-z](?:[ \n\-]?[A-Za-z0-9]){7}\b").expect("grouped regex")
});
static TEN_DIGITS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[0-9]{10}\b").expect("licence regex"));

/// Words within this distance count as context.
const WINDOW: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Strict,
    NeedsCue,
    DrivingLicence,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    pub start: usize,
    pub end: usize,
    rule: Rule,
}

/// Context-free candidates (spans that look like a document number).
pub(super) fn candidates(text: &str) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = NINE_CHARS
        .find_iter(text)
        .filter_map(|m| {
            let s = m.as_str();
            if !s.bytes().any(|b| b.is_ascii_digit()) || s.bytes().any(|b| b == b'O' || b == b'o') {
                return None;
            }
            let rule = if STRICT.is_match(s) {
                Rule::Strict
            } else {
                Rule::NeedsCue
            };
            Some(Candidate {
                start: m.start(),
                end: m.end(),
                rule,
            })
        })
        .collect();
    // Matches are tried from every start: a rejected match ("is NX C3F1L") must not hide
    // the number right after it.
    let mut pos = 0;
    while let Some(m) = GROUPED.find_at(text, pos) {
        let s = m.as_str();
        let groups: Vec<&str> = s.split([' ', '\n', '-']).collect();
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        let plausible = groups.len() > 1
            && digits >= 2
            && s.ends_with(|c: char| c.is_ascii_digit())
            && !s.contains(['O', 'o'])
            && !s.chars().any(char::is_lowercase);
        if plausible {
            out.push(Candidate {
                start: m.start(),
                end: m.end(),
                rule: Rule::NeedsCue,
            });
            pos = m.end();
        } else {
            // The match starts with an ASCII letter.
            pos = m.start() + 1;
        }
    }
    out.extend(TEN_DIGITS.find_iter(text).map(|m| Candidate {
        start: m.start(),
        end: m.end(),
        rule: Rule::DrivingLicence,
    }));
    out
}

fn is_document_cue(word: &str) -> bool {
    const STEMS: &[&str] = &[
        "paspoort",
        "identiteit",
        "document",
        "rijbewijs",
        "legitimatie",
        "passport",
        "licence",
        "license",
    ];
    // "nummer" alone is a cue ("nummer: bx12c34d5"); compounds such as "ordernummer" name
    // another kind of number.
    matches!(word, "id" | "idkaart" | "nr" | "nummer" | "number")
        || STEMS.iter().any(|s| word.contains(s))
}

fn is_licence_cue(word: &str) -> bool {
    word.contains("rijbewijs") || word.contains("licence") || word.contains("license")
}

/// Keeps the candidates whose rule (and context) is satisfied.
pub(super) fn confirm(candidates: &[Candidate], units: &Units<'_>) -> Vec<Finding> {
    candidates
        .iter()
        .filter(|c| {
            let near = |cue: fn(&str) -> bool| {
                units
                    .atom_index(c.start, c.end)
                    .is_some_and(|idx| units.window_has_word(idx, WINDOW, cue))
            };
            if after_harmless_label(units.slice(0, c.start), c.start) {
                return false;
            }
            match c.rule {
                Rule::Strict => true,
                Rule::NeedsCue => near(is_document_cue),
                Rule::DrivingLicence => near(is_licence_cue),
            }
        })
        .map(|c| Finding {
            kind: PiiKind::DocumentNumber,
            start: c.start,
            end: c.end,
        })
        .collect()
}
