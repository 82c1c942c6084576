//! Medical details about a person (special category data, GDPR art. 9).
//!
//! A diagnosis or condition term ("kanker", "dementie", "burn-out",
//! "hartinfarct", "diabetes", …) is flagged when a personal reference ("ik",
//! "mijn", "m'n", "hij", "zij", "ze", "haar", "onze", "I", "my", "she", or a
//! family member such as "moeder", "vader", "zoon", "dochter", …) is
//! within eight words before or six words after it. Only the term itself is
//! replaced, so `mijn moeder heeft [MEDISCH], kan ze hulp krijgen?` remains
//! classifiable.
//! General questions without a person ("hulp bij dementie aanvragen") are
//! left alone.

use super::units::Units;
use super::{Finding, PiiKind};
use regex::Regex;
use std::sync::LazyLock;

/// Terms matched case-insensitively (regex fragments, whole words).
const TERMS: &[&str] = &[
    // Dutch
    "diabetes",
    "diabeet",
    "suikerziekte",
    r"\w*kanker",
    r"\w*tumor(?:en)?",
    "leukemie",
    "lymfoom",
    "uitzaaiingen",
    "dementie",
    "dement",
    "alzheimer",
    "parkinson",
    "multiple sclerose",
    "autisme",
    "autistisch(?:e)?",
    "adhd",
    "depressies?",
    "depressie(?:f|ve)",
    "burn-?out",
    "overspannen(?:heid)?",
    "psychoses?",
    "psychotisch(?:e)?",
    "schizofrenie",
    "schizofreen",
    "bipolaire?",
    "manisch",
    "ptss",
    "ptsd",
    "angststoornis",
    "paniekstoornis",
    "paniekaanvallen",
    "eetstoornis",
    "anorexia",
    "boulimia",
    "borderline",
    "persoonlijkheidsstoornis",
    "hiv",
    "hartinfarct",
    "hartaanval",
    "hartfalen",
    "hartstilstand",
    "beroerte",
    "herseninfarct",
    "hersenbloeding",
    "cva",
    "(?:niet-aangeboren )?hersenletsel",
    "epilepsie",
    "epileptisch(?:e)?",
    "reuma",
    "artrose",
    "copd",
    "astma",
    "hernia",
    "chemo",
    "chemokuur",
    "chemotherapie",
    "bestralingen?",
    "dialyse",
    "nierfalen",
    "longontsteking",
    "longfibrose",
    "lupus",
    "fibromyalgie",
    "migraine",
    "crohn",
    r"\w*verslaving",
    "verslaafde?",
    "alcoholiste?",
    "zwanger",
    "miskraam",
    "downsyndroom",
    "syndroom van down",
    "covid(?:-19)?",
    "corona",
    "su[iï]cidaal",
    "zelfmoordgedachten",
    "verstandelijke beperking",
    "verstandelijk beperkt",
    "dwarslaesie",
    // English
    "cancer",
    "dementia",
    "autism",
    "autistic",
    "depression",
    "depressed",
    "schizophrenia",
    "epilepsy",
    "asthma",
    "stroke",
    "heart attack",
    "heart failure",
    "pregnant",
    "addiction",
    "addicted",
    "chemotherapy",
    "multiple sclerosis",
    "bipolar",
    "psychosis",
    "diabetic",
];

/// Abbreviations that are ordinary words in lower case ("als", "add",
/// "aids", "tia"), so they are matched case-sensitively.
const CASE_SENSITIVE_TERMS: &[&str] = &["MS", "ALS", "ADD", "NAH", "TIA", "AIDS"];

static TERM_CI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)\b(?:{})\b", TERMS.join("|"))).expect("medical regex")
});
static TERM_CS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"\b(?:{})\b", CASE_SENSITIVE_TERMS.join("|")))
        .expect("medical abbreviation regex")
});

/// Words that tie a statement to a person: pronouns, possessives and
/// (singular) family members, which are nearly always someone specific.
const PERSONAL: &[&str] = &[
    "ik",
    "mijn",
    "m'n",
    "m\u{2019}n",
    "mn",
    "me",
    "mij",
    "mezelf",
    "mijzelf",
    "hij",
    "zij",
    "ze",
    "hem",
    "haar",
    "ons",
    "onze",
    "i",
    "i'm",
    "i\u{2019}m",
    "i've",
    "my",
    "myself",
    "he",
    "she",
    "him",
    "her",
    "his",
    "our",
    "moeder",
    "vader",
    "zoon",
    "dochter",
    "broer",
    "zus",
    "opa",
    "oma",
    "echtgenoot",
    "echtgenote",
    "schoonmoeder",
    "schoonvader",
    "mother",
    "father",
    "son",
    "daughter",
    "husband",
    "wife",
];

/// Words before a term that count as context: statements usually name the
/// person first ("mijn vader is opgenomen in het ziekenhuis met een
/// longontsteking").
const WINDOW_BEFORE: usize = 8;
/// Words after a term that count as context.
const WINDOW_AFTER: usize = 6;

/// Context-free candidates: every medical term.
pub(super) fn candidates(text: &str) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = TERM_CI
        .find_iter(text)
        .chain(TERM_CS.find_iter(text))
        .map(|m| (m.start(), m.end()))
        .collect();
    out.sort_unstable();
    out
}

/// Whether the unit at `idx` has a personal reference nearby: the statement is about
/// someone (also used by [`super::criminal`]).
pub(super) fn about_a_person(units: &Units<'_>, idx: usize) -> bool {
    units
        .before(idx, WINDOW_BEFORE, false)
        .into_iter()
        .chain(units.after(idx, WINDOW_AFTER, false))
        .any(|u| u.is_word() && PERSONAL.contains(&u.lower.as_str()))
}

/// Keeps the terms with a personal reference nearby.
pub(super) fn confirm(candidates: &[(usize, usize)], units: &Units<'_>) -> Vec<Finding> {
    candidates
        .iter()
        .filter(|&&(start, end)| {
            units
                .atom_index(start, end)
                .is_some_and(|idx| about_a_person(units, idx))
        })
        .map(|&(start, end)| Finding {
            kind: PiiKind::Medical,
            start,
            end,
        })
        .collect()
}
