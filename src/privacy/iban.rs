//! IBAN validation (ISO 13616, mod-97) and detection.
//!
//! An IBAN is detected as a country code and two check digits followed by
//! exactly as many characters as that country's IBAN length prescribes,
//! optionally separated by single spaces, line breaks or hyphens (usually in groups of
//! four; the canonical view has already made every white-space run one character) into
//! groups of at most six characters, none of them a word in the other letter case, in any
//! letter case.
//! Only IBANs with a country of the SWIFT registry, its exact length and a valid mod-97
//! checksum are reported.
//!
//! An IBAN may be glued to a word: "rekeningNL91ABNA0417164300", "NL91ABNA0417164300graag",
//! "IBANNL91ABNA0417164300". Glue is recognised where the case changes (a lower-case word
//! against an upper-case IBAN) or after the word "iban"; an IBAN-shaped run inside a longer
//! upper-case code ("NL91ABNA0417164300X") is not taken.

use super::units::{char_at, char_before};
use super::{Finding, PiiKind};
use regex::Regex;
use std::sync::LazyLock;

/// Start of a possible IBAN: two letters and two digits, maybe with a separator between.
static IBAN_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z]{2}[ \n\-]?[0-9]{2}").expect("iban start regex"));

/// IBAN length per country: the 89 countries of the SWIFT IBAN registry (release 100,
/// 2025), then the territories the registry lists under Finland, France and the United
/// Kingdom, which may be written with their own code and have their country's length.
const COUNTRY_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
    // Territories.
    ("AX", 18),
    ("GF", 27),
    ("GP", 27),
    ("MQ", 27),
    ("RE", 27),
    ("PF", 27),
    ("TF", 27),
    ("YT", 27),
    ("NC", 27),
    ("BL", 27),
    ("MF", 27),
    ("PM", 27),
    ("WF", 27),
    ("IM", 22),
    ("JE", 22),
    ("GG", 22),
];

fn country_length(code: &str) -> Option<usize> {
    COUNTRY_LENGTHS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|&(_, len)| len)
}

/// Validates an IBAN: whitespace is ignored and letter case does not matter.
/// Requires a known country code with its exact length, check digits in
/// `02..=98`, an alphanumeric BBAN and a mod-97 remainder of 1.
pub fn is_valid_iban(s: &str) -> bool {
    let compact: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.len() < 5 || !compact.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    if !compact[..2].iter().all(u8::is_ascii_uppercase)
        || !compact[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let country = std::str::from_utf8(&compact[..2]).unwrap_or("");
    if country_length(country) != Some(compact.len()) {
        return false;
    }
    let check = u32::from(compact[2] - b'0') * 10 + u32::from(compact[3] - b'0');
    if !(2..=98).contains(&check) {
        return false;
    }
    mod97(compact[4..].iter().chain(&compact[..4])) == 1
}

/// Remainder modulo 97 of the number formed by the characters, letters
/// expanded to `A = 10 … Z = 35`.
fn mod97<'a>(chars: impl Iterator<Item = &'a u8>) -> u32 {
    chars.fold(0u32, |acc, &c| {
        if c.is_ascii_digit() {
            (acc * 10 + u32::from(c - b'0')) % 97
        } else {
            (acc * 100 + u32::from(c - b'A') + 10) % 97
        }
    })
}

/// Finds valid IBANs.
pub(super) fn find(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(m) = IBAN_START.find_at(text, pos) {
        match candidate_end(text, m.start()) {
            Some(end) if is_valid_iban(&text[m.start()..end].replace(['-', '\n'], "")) => {
                out.push(Finding {
                    kind: PiiKind::Iban,
                    start: m.start(),
                    end,
                });
                pos = end;
            }
            // Overlapping starts ("XNL91…") are tried too; the match starts with an ASCII
            // letter, so one byte further is a character boundary.
            _ => pos = m.start() + 1,
        }
    }
    out
}

/// End of the IBAN-shaped span starting at `start`: exactly the country's
/// number of alphanumerics, single spaces or hyphens allowed between them, and no
/// alphanumeric directly before or after unless it is glue (see [`is_glue`]).
fn candidate_end(text: &str, start: usize) -> Option<usize> {
    let want = country_length(&text[start..start + 2])?;
    let upper = text[start..start + 2]
        .bytes()
        .all(|b| b.is_ascii_uppercase());
    if let Some(c) = char_before(text, start)
        && c.is_alphanumeric()
        && !(upper && is_glue(c))
        && !text[..start].to_ascii_lowercase().ends_with("iban")
    {
        return None;
    }
    let bytes = text.as_bytes();
    let mut count = 0;
    let mut i = start;
    let mut group_start = start;
    // Separated groups are short (printed in fours) and never a word in the other letter
    // case: "VA39VV1L2 en ik wil" is a code followed by words, not an IBAN.
    let plausible_group = |group: &str| {
        let word = group.bytes().all(|b| b.is_ascii_alphabetic())
            && group.bytes().all(|b| b.is_ascii_uppercase() != upper);
        !word
    };
    while count < want {
        match bytes.get(i) {
            Some(b) if b.is_ascii_alphanumeric() => {
                count += 1;
                i += 1;
            }
            Some(b' ' | b'\n' | b'-')
                if count > 0 && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric) =>
            {
                let group = &text[group_start..i];
                if group.len() > 6 || !plausible_group(group) {
                    return None;
                }
                i += 1;
                group_start = i;
            }
            _ => return None,
        }
    }
    if group_start > start && !plausible_group(&text[group_start..i]) {
        return None;
    }
    match char_at(text, i) {
        Some(c) if c.is_alphanumeric() && !(upper && is_glue(c)) => None,
        _ => Some(i),
    }
}

/// A character that may be glued to an upper-case IBAN: a lower-case letter, the end or
/// start of an ordinary word.
fn is_glue(c: char) -> bool {
    c.is_lowercase()
}
