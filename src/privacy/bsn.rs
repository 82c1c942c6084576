//! Burgerservicenummer (BSN) validation and detection.
//!
//! Detection reads the canonical view (see `canonical`), so full-width or Arabic-Indic
//! digits, invisible characters and odd white space are already plain. Accepted forms:
//! nine digits written together (`123456782`) or in groups of any size joined by a space,
//! a line break, a dot, a hyphen or a slash, with or without spaces around it
//! (`123 456 782`, `123-456-782`, `123 / 456 / 782`, `12 34 56 782`,
//! `1 2 3 4 5 6 7 8 2`). The digits must not be part of a longer digit run
//! (`0612345678`, `1123456782`), of a number glued to them by a hyphen, slash or dot
//! (`1.123.456.782`, `2024-123456782`), of an amount with decimals (`123.456.782,00`) or of
//! a date. Letters right next to the digits are allowed (`bsn123456782`, and the old VAT
//! number `NL123456782B01`, which contains a BSN).
//!
//! Eight-digit numbers (a BSN whose leading zero was dropped) are only
//! flagged when the message itself mentions "bsn", "burgerservicenummer" or
//! "sofinummer". Without such a cue an eight-digit number is far more likely
//! a KvK number, an order or case number, or a date (`20261122`), and a
//! random eight-digit number passes the 11-proef one time in eleven. Dates
//! (`DDMMYYYY`, `YYYYMMDD`) are never taken as an eight-digit BSN.
//!
//! A number the citizen labels as something else ("klantnummer 123456782",
//! "ordernummer: 123 456 782") is not a BSN, unless the message mentions a BSN.

use super::units::{
    Group, Units, after_harmless_label, char_at, char_before, digit_chunks, ends_with_placeholder,
    is_number_join, placeholder_len_at,
};
use super::{Finding, PiiKind};

/// Checks a BSN written as 8 or 9 ASCII digits (8 = leading zero implied)
/// with the 11-proef: `9·d1 + 8·d2 + … + 2·d8 − 1·d9 ≡ 0 (mod 11)`, and not
/// all zeros.
pub fn is_valid_bsn(digits: &str) -> bool {
    let bytes = digits.as_bytes();
    if !(bytes.len() == 8 || bytes.len() == 9) || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut d = [0i64; 9];
    let offset = 9 - bytes.len();
    for (slot, b) in d[offset..].iter_mut().zip(bytes) {
        *slot = i64::from(b - b'0');
    }
    if d.iter().all(|&x| x == 0) {
        return false;
    }
    let weighted: i64 = d[..8]
        .iter()
        .zip((2..=9).rev())
        .map(|(digit, weight)| digit * weight)
        .sum();
    (weighted - d[8]).rem_euclid(11) == 0
}

/// Whether an eight-digit string reads as a date (`DDMMYYYY` or `YYYYMMDD`).
fn is_date_like(digits: &str) -> bool {
    let num = |r: std::ops::Range<usize>| digits[r].parse::<u32>().unwrap_or(0);
    let plausible = |day: u32, month: u32, year: u32| {
        (1..=31).contains(&day) && (1..=12).contains(&month) && (1900..=2099).contains(&year)
    };
    digits.len() == 8
        && (plausible(num(0..2), num(2..4), num(4..8))
            || plausible(num(6..8), num(4..6), num(0..4)))
}

/// Whether the message mentions a BSN cue word (placeholders do not count).
/// Words are read as their letter runs, so `bsn:123456782` and
/// `123456782bsn` mention it as well as `[BSN]bsn` does.
fn mentions_bsn(text: &str) -> bool {
    let units = Units::new(text, Vec::new());
    units.words().any(|w| {
        w.lower.split(|c: char| !c.is_alphabetic()).any(|run| {
            run.starts_with("bsn")
                || run.contains("burgerservicenummer")
                || run.contains("sofinummer")
                || run == "sofi"
        })
    })
}

/// Finds BSN candidates. Digit groups inside `dates` never take part (but
/// still count as neighbours).
pub(super) fn find(text: &str, dates: &[(usize, usize)]) -> Vec<Finding> {
    let in_date = |g: &Group| dates.iter().any(|&(s, e)| s <= g.start && g.end <= e);
    let mut cue: Option<bool> = None;
    let mut out = Vec::new();
    for mut chunk in digit_chunks(text, is_number_join) {
        for g in &mut chunk {
            g.digits &= !in_date(g);
        }
        for i in 0..chunk.len() {
            let mut total = 0;
            for j in i..chunk.len() {
                total += chunk[j].len();
                if total > 9 || !chunk[j].digits {
                    break;
                }
                if total < 8 || !well_formed(text, &chunk, i, j) {
                    continue;
                }
                let digits: String = chunk[i..=j].iter().map(|g| &text[g.start..g.end]).collect();
                let accepted = if total == 9 {
                    is_valid_bsn(&digits)
                } else {
                    !is_date_like(&digits)
                        && is_valid_bsn(&digits)
                        && *cue.get_or_insert_with(|| mentions_bsn(text))
                };
                let accepted = accepted
                    && (!after_harmless_label(text, chunk[i].start)
                        || *cue.get_or_insert_with(|| mentions_bsn(text)));
                if accepted {
                    out.push(Finding {
                        kind: PiiKind::Bsn,
                        start: chunk[i].start,
                        end: chunk[j].end,
                    });
                }
            }
        }
    }
    out
}

/// Structural checks for the groups `chunk[i..=j]`.
fn well_formed(text: &str, chunk: &[Group], i: usize, j: usize) -> bool {
    let sep = |k: usize| &text[chunk[k].end..chunk[k + 1].start];
    let start = chunk[i].start;
    let end = chunk[j].end;

    // Part of an amount with decimals ("123.456.782,00", "0,123456782"). A
    // placeholder counts as digits: it may have replaced them.
    let decimal_after = char_at(text, end) == Some(',')
        && (text[end + 1..].starts_with(|c: char| c.is_ascii_digit())
            || placeholder_len_at(text, end + 1).is_some());
    let decimal_before = text[..start].strip_suffix(',').is_some_and(|before| {
        before.ends_with(|c: char| c.is_ascii_digit()) || ends_with_placeholder(before)
    });
    if decimal_after || decimal_before {
        return false;
    }
    // Glued to a neighbouring group by a hyphen, slash or dot without spaces: part of a
    // larger code ("2024-123456782") or formatted number ("1.234.567.890"). A neighbour
    // behind a space is a separate number ("huisnummer 12 123456782").
    let glued = |k: usize| matches!(sep(k), "." | "-" | "/");
    if (i > 0 && glued(i - 1)) || (j + 1 < chunk.len() && glued(j)) {
        return false;
    }
    char_before(text, start) != Some('+')
}
