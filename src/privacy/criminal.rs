//! A criminal record or conviction of a person (GDPR art. 10: data about criminal
//! convictions and offences may only be processed under official authority).
//!
//! A term ("strafblad", "veroordeeld", "in de gevangenis gezeten", "werkstraf",
//! "enkelband", "criminal record", …) is flagged on the same condition as a medical term: a
//! personal reference within the words around it ([`super::medical::about_a_person`]). A
//! term right after a negation ("geen strafblad", "niet veroordeeld", "no criminal record")
//! is left alone: "ik heb een verklaring nodig dat ik geen strafblad heb" is the ordinary
//! VOG question. Only the term is replaced.

use std::sync::LazyLock;

use regex::Regex;

use super::units::Units;
use super::{Finding, PiiKind};

/// Terms matched case-insensitively (regex fragments, whole words).
const TERMS: &[&str] = &[
    "strafblad",
    "strafbladen",
    "justitieel verleden",
    "justiti[eë]le documentatie",
    "veroordeeld",
    "veroordeling(?:en)?",
    "(?:in de )?gevangenis gezeten",
    "vastgezeten",
    "(?:in de )?cel gezeten",
    "celstraf",
    "gevangenisstraf",
    "taakstraf",
    "werkstraf",
    "enkelband",
    "reclassering",
    "tbs",
    "gedetineerd(?:e)?",
    "ex-gedetineerde",
    "criminal record",
    "convicted",
    "conviction",
    "(?:been )?in prison",
    "(?:been )?in jail",
    "on probation",
];

static TERM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)\b(?:{})\b", TERMS.join("|"))).expect("criminal regex")
});

/// Words that deny what follows ("geen strafblad", "never convicted").
const NEGATIONS: &[&str] = &[
    "geen", "niet", "nooit", "no", "not", "never", "without", "zonder",
];

/// Context-free candidates: every term.
pub(super) fn candidates(text: &str) -> Vec<(usize, usize)> {
    TERM.find_iter(text).map(|m| (m.start(), m.end())).collect()
}

/// Keeps the terms said about a person and not denied.
pub(super) fn confirm(candidates: &[(usize, usize)], units: &Units<'_>) -> Vec<Finding> {
    candidates
        .iter()
        .filter(|&&(start, end)| {
            units.atom_index(start, end).is_some_and(|idx| {
                let denied = units
                    .before(idx, 2, false)
                    .into_iter()
                    .any(|u| u.is_word() && NEGATIONS.contains(&u.lower.as_str()));
                !denied && super::medical::about_a_person(units, idx)
            })
        })
        .map(|&(start, end)| Finding {
            kind: PiiKind::CriminalRecord,
            start,
            end,
        })
        .collect()
}
