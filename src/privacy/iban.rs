//! IBAN validation (ISO 13616, mod-97) and detection.
//!
//! An IBAN is detected as a country code and two check digits followed by
//! exactly as many characters as that country's IBAN length prescribes,
//! optionally separated by single spaces (usually in groups of four), in any
//! letter case. Only IBANs with a known country length and a valid mod-97
//! checksum are reported.

use super::units::{char_at, char_before};
use super::{Finding, PiiKind};
use regex::Regex;
use std::sync::LazyLock;

/// Start of a possible IBAN: two letters and two digits at a word boundary.
static IBAN_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[A-Za-z]{2}[0-9]{2}").expect("iban start regex"));

/// IBAN length per country (SWIFT IBAN registry).
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
    ("BR", 29),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VG", 24),
    ("XK", 20),
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
            Some(end) if is_valid_iban(&text[m.start()..end]) => {
                out.push(Finding {
                    kind: PiiKind::Iban,
                    start: m.start(),
                    end,
                });
                pos = end;
            }
            _ => pos = m.end(),
        }
    }
    out
}

/// End of the IBAN-shaped span starting at `start`: exactly the country's
/// number of alphanumerics, single spaces allowed between them, and no
/// alphanumeric directly before or after.
fn candidate_end(text: &str, start: usize) -> Option<usize> {
    if char_before(text, start).is_some_and(char::is_alphanumeric) {
        return None;
    }
    let want = country_length(&text[start..start + 2])?;
    let bytes = text.as_bytes();
    let mut count = 0;
    let mut i = start;
    while count < want {
        match bytes.get(i) {
            Some(b) if b.is_ascii_alphanumeric() => {
                count += 1;
                i += 1;
            }
            Some(b' ') if count > 0 && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric) => {
                i += 1;
            }
            _ => return None,
        }
    }
    if char_at(text, i).is_some_and(char::is_alphanumeric) {
        return None;
    }
    Some(i)
}
