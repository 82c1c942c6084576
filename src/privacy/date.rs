//! Dates of birth.
//!
//! A date (`12-03-1985`, `12/03/1985`, `12.03.85`, `1985-03-12`,
//! `12 maart 1985`, `March 12, 1985`) is personal data only when it is tied to
//! a person:
//! - a birth cue ("geboren", "geb.", "geboortedatum", "born", "date of
//!   birth", …) within six words before or three words after it, in the same
//!   sentence; or
//! - it stands right next to a capitalised person name of at least two name
//!   words (`Jan de Vries 12-03-1985`, `12-03-1985 Piet Jansen`).
//!
//! A date on its own ("kan ik op 12-03-2027 trouwen") is not flagged, and
//! neither is a date-shaped part of a longer code (`06-12-34-56-78`). Next to a name, a
//! date of this year or later is an appointment, not a birth date
//! ("Jan Jansen 12-03-2027").
//!
//! Dates written without separators or with spaces (`12031985`, `19850312`, `120385`,
//! `12 03 1985`) look like any other number, so they count only with a birth cue
//! ("geboren 12031985").

use super::units::{Unit, Units, ends_with_placeholder, placeholder_len_at};
use super::{Finding, PiiKind};
use crate::text::DUTCH_MONTHS;
use regex::{Captures, Regex};
use std::sync::LazyLock;

const MONTHS: &[(&str, u32)] = &[
    ("januari", 1),
    ("january", 1),
    ("februari", 2),
    ("february", 2),
    ("maart", 3),
    ("march", 3),
    ("april", 4),
    ("mei", 5),
    ("may", 5),
    ("juni", 6),
    ("june", 6),
    ("juli", 7),
    ("july", 7),
    ("augustus", 8),
    ("august", 8),
    ("september", 9),
    ("sept", 9),
    ("oktober", 10),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mrt", 3),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("okt", 10),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

const MONTH_PATTERN: &str = "januari|january|februari|february|maart|march|april|mei|may|juni|june|juli|july|augustus|august|september|sept|oktober|october|november|december|jan|feb|mrt|mar|apr|jun|jul|aug|sep|okt|oct|nov|dec";

/// `12-03-1985`, `12/03/85`, `12.03.1985`, `12 - 03 - 1985`.
static NUMERIC_DMY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?P<d>\d{1,2}) ?[-/.] ?(?P<m>\d{1,2}) ?[-/.] ?(?P<y>\d{4}|\d{2})\b")
        .expect("dmy regex")
});
/// `1985-03-12`.
static NUMERIC_YMD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?P<y>\d{4}) ?- ?(?P<m>\d{1,2}) ?- ?(?P<d>\d{1,2})\b").expect("ymd regex")
});
/// `12031985`, `120385`, `12 03 1985`: only with a birth cue.
static LOOSE_DMY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?P<d>\d{2})(?P<m>\d{2})(?P<y>\d{4}|\d{2})\b|\b(?P<d2>\d{1,2})[ \n](?P<m2>\d{1,2})[ \n](?P<y2>\d{4}|\d{2})\b")
        .expect("loose dmy regex")
});
/// `19850312`: only with a birth cue.
static LOOSE_YMD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})\b").expect("loose ymd regex")
});
/// `12 maart 1985`, `1e januari 1990`.
static WRITTEN_DMY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(?P<d>\d{{1,2}})(?:e|ste|de|st|nd|rd|th)?\s+(?P<mn>{MONTH_PATTERN})\.?,?\s+(?P<y>\d{{4}})\b"
    ))
    .expect("written dmy regex")
});
/// `March 12, 1985`.
static WRITTEN_MDY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(?P<mn>{MONTH_PATTERN})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b"
    ))
    .expect("written mdy regex")
});

/// Capitalised words that start or end sentences and phrases but are not
/// person names (and the Dutch month names, [`DUTCH_MONTHS`]).
const NOT_NAMES: &[&str] = &[
    "ik",
    "mijn",
    "wij",
    "we",
    "hij",
    "zij",
    "ze",
    "u",
    "jij",
    "je",
    "het",
    "een",
    "om",
    "voor",
    "na",
    "per",
    "vanaf",
    "tot",
    "sinds",
    "tussen",
    "bij",
    "met",
    "over",
    "en",
    "of",
    "maar",
    "dus",
    "als",
    "dan",
    "wat",
    "wanneer",
    "hoe",
    "waar",
    "waarom",
    "wie",
    "welke",
    "kan",
    "mag",
    "wil",
    "moet",
    "is",
    "ben",
    "zijn",
    "was",
    "heb",
    "heeft",
    "datum",
    "gemeente",
    "afspraak",
    "graag",
    "hallo",
    "hoi",
    "beste",
    "geachte",
    "dag",
    "goedemorgen",
    "goedemiddag",
    "vandaag",
    "morgen",
    "gisteren",
    "trouwen",
    "verhuizen",
    "geboren",
    "nieuw",
    "oud",
    "sint",
    "the",
    "on",
    "at",
    "from",
    "until",
    "date",
    "dear",
    "hello",
    "hi",
    "my",
    "our",
    "please",
    "thanks",
    "bedankt",
    "dank",
    "paspoort",
    "rijbewijs",
    "aanvraag",
    "vergunning",
    "factuur",
    "maandag",
    "dinsdag",
    "woensdag",
    "donderdag",
    "vrijdag",
    "zaterdag",
    "zondag",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "may",
    "june",
    "july",
    "august",
    "october",
];

/// Name particles (tussenvoegsels); they may sit inside a name but do not
/// count as name words.
const PARTICLES: &[&str] = &[
    "de", "den", "der", "van", "het", "'t", "te", "ten", "ter", "in", "op", "la", "le", "du", "da",
    "di", "von", "el", "al", "bin",
];

/// Context-free date candidates (valid day and month).
pub(super) fn candidates(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for re in [&*NUMERIC_DMY, &*NUMERIC_YMD, &*WRITTEN_DMY, &*WRITTEN_MDY] {
        for caps in re.captures_iter(text) {
            let m = caps.get(0).expect("whole match");
            if is_plausible(&caps) && !glued_to_token(text, m.start(), m.end()) {
                out.push((m.start(), m.end()));
            }
        }
    }
    out
}

/// Whether the match is glued by `-`, `/` or `.` to a neighbouring token,
/// as in `06-12-34-56-78` or `2024-12-03-1985`: then it is part of a longer
/// code, not a date. A placeholder counts as such a token, and so does
/// everything a placeholder can stand for (a token may start with `+`, `(`
/// or `_`), so that both passes of `redact` judge alike.
fn glued_to_token(text: &str, start: usize, end: usize) -> bool {
    let starts_token = |c: char| c.is_alphanumeric() || matches!(c, '+' | '(' | '_');
    // A separator right against both tokens, or a hyphen or slash with a space on both
    // sides ("06 - 12 - 34 - 56 - 78"); "geb. 12" is an abbreviation, not glue.
    const GLUES: [&str; 5] = ["-", "/", ".", " - ", " / "];
    let after = GLUES.iter().any(|g| {
        text[end..].strip_prefix(g).is_some_and(|rest| {
            rest.starts_with(starts_token) || placeholder_len_at(rest, 0).is_some()
        })
    });
    let before = GLUES.iter().any(|g| {
        text[..start].strip_suffix(g).is_some_and(|rest| {
            rest.ends_with(char::is_alphanumeric) || ends_with_placeholder(rest)
        })
    });
    after || before
}

/// Dates without separators or with spaces (see [`LOOSE_DMY`]), which need a birth cue.
pub(super) fn loose_candidates(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for re in [&*LOOSE_DMY, &*LOOSE_YMD] {
        for caps in re.captures_iter(text) {
            let m = caps.get(0).expect("whole match");
            if is_plausible(&caps) && !glued_to_token(text, m.start(), m.end()) {
                out.push((m.start(), m.end()));
            }
        }
    }
    out
}

fn is_plausible(caps: &Captures<'_>) -> bool {
    let num = |name: &str| {
        caps.name(name)
            .or_else(|| caps.name(&format!("{name}2")))
            .and_then(|m| m.as_str().parse::<u32>().ok())
    };
    let month = match caps.name("mn") {
        Some(name) => {
            let name = name.as_str().to_lowercase();
            MONTHS.iter().find(|(n, _)| *n == name).map(|&(_, m)| m)
        }
        None => num("m"),
    };
    let (Some(day), Some(month), Some(year_text)) =
        (num("d"), month, caps.name("y").or(caps.name("y2")))
    else {
        return false;
    };
    let year_ok = year_text.len() == 2
        || year_text
            .as_str()
            .parse::<u32>()
            .is_ok_and(|y| (1880..=2100).contains(&y));
    (1..=31).contains(&day) && (1..=12).contains(&month) && year_ok
}

fn is_birth_cue(word: &str) -> bool {
    matches!(
        word,
        "geboren" | "geb" | "born" | "dob" | "verjaardag" | "birthday"
    ) || word.starts_with("geboorte")
        || word.starts_with("birth")
}

fn is_name_word(unit: &Unit<'_>) -> bool {
    let mut chars = unit.text.chars();
    let first_upper = chars.next().is_some_and(char::is_uppercase);
    first_upper
        && unit.text.chars().count() >= 2
        && unit.text.chars().any(char::is_lowercase)
        && unit.text.chars().all(|c| c.is_alphabetic() || c == '\'')
        && !NOT_NAMES.contains(&unit.lower.as_str())
        && !DUTCH_MONTHS.contains(&unit.lower.as_str())
        && !PARTICLES.contains(&unit.lower.as_str())
}

fn is_particle(unit: &Unit<'_>) -> bool {
    PARTICLES.contains(&unit.lower.as_str())
}

/// Whether a person name of at least two name words directly precedes
/// (`forward == false`) or follows (`forward == true`) unit `idx`.
fn name_adjacent(units: &Units<'_>, idx: usize, forward: bool) -> bool {
    let step = |i: usize| {
        if forward {
            i.checked_add(1)
        } else {
            i.checked_sub(1)
        }
    };
    let gap_ok = |a: &Unit<'_>, b: &Unit<'_>, allowed: &str| {
        let (left, right) = if a.start < b.start { (a, b) } else { (b, a) };
        units_gap(units, left, right)
            .chars()
            .all(|c| c.is_whitespace() || allowed.contains(c))
    };
    let Some(date) = units.get(idx) else {
        return false;
    };
    let Some(mut i) = step(idx) else {
        return false;
    };
    let mut prev = date;
    let mut names = 0;
    let mut first = true;
    while let Some(unit) = units.get(i) {
        if !unit.is_word() {
            break;
        }
        let allowed = if first { ",:()-\u{2013}" } else { "-" };
        if !gap_ok(prev, unit, allowed) {
            break;
        }
        if is_name_word(unit) {
            names += 1;
        } else if first || !is_particle(unit) {
            break;
        }
        first = false;
        prev = unit;
        match step(i) {
            Some(next) => i = next,
            None => break,
        }
        if names >= 2 {
            break;
        }
    }
    names >= 2
}

fn units_gap<'t>(units: &Units<'t>, left: &Unit<'t>, right: &Unit<'t>) -> &'t str {
    units.slice(left.end, right.start)
}

/// The four-digit year written in a date span; a two-digit year is in this century unless
/// that would put it in the future.
fn year_of(span: &str, this_year: i32) -> Option<i32> {
    let runs: Vec<&str> = span
        .split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
        .collect();
    if let [run] = runs.as_slice() {
        // Written together: DDMMYYYY, YYYYMMDD or DDMMYY.
        return match run.len() {
            8 if run.starts_with("19") || run.starts_with("20") => run[..4].parse().ok(),
            8 => run[4..].parse().ok(),
            6 => two_digit_year(run[4..].parse().ok()?, this_year),
            _ => None,
        };
    }
    if let Some(y) = runs.iter().find(|r| r.len() == 4) {
        return y.parse().ok();
    }
    two_digit_year(runs.last()?.parse().ok()?, this_year)
}

fn two_digit_year(yy: i32, this_year: i32) -> Option<i32> {
    Some(if 2000 + yy > this_year {
        1900 + yy
    } else {
        2000 + yy
    })
}

/// Keeps the candidates that are tied to a person: `dates` by a birth cue or a name next to
/// them (a name only for a date before this year), `loose` only by a birth cue.
pub(super) fn confirm(
    dates: &[(usize, usize)],
    loose: &[(usize, usize)],
    units: &Units<'_>,
) -> Vec<Finding> {
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    let cue_near = |idx: usize| {
        units
            .before(idx, 6, true)
            .into_iter()
            .chain(units.after(idx, 3, true))
            .any(|u| u.is_word() && is_birth_cue(&u.lower))
    };
    let by_cue_or_name = dates.iter().filter(|&&(start, end)| {
        let Some(idx) = units.atom_index(start, end) else {
            return false;
        };
        let past = year_of(units.slice(start, end), this_year).is_some_and(|y| y < this_year);
        cue_near(idx)
            || (past && (name_adjacent(units, idx, false) || name_adjacent(units, idx, true)))
    });
    let by_cue = loose
        .iter()
        .filter(|&&(start, end)| units.atom_index(start, end).is_some_and(cue_near));
    by_cue_or_name
        .chain(by_cue)
        .map(|&(start, end)| Finding {
            kind: PiiKind::DateOfBirth,
            start,
            end,
        })
        .collect()
}
