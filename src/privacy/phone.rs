//! Telephone number detection.
//!
//! Digits may be separated by spaces, line breaks, hyphens, dots, slashes or brackets, with
//! or without spaces around them (`06-12345678`, `06 - 12 34 56 78`, `020 123 4567`,
//! `(020) 123 4567`, `+31 (0)6 12345678`, `0 6 1 2 3 4 5 6 7 8`); detection reads the
//! canonical view, so digits of other scripts and invisible characters are already plain.
//! A number is a phone number when it is:
//! - Dutch national: ten digits starting with a single `0`
//!   (`0612345678`, `010-1234567`);
//! - international, written with `+` or `00`: 9 to 13 digits after the prefix
//!   (`+32 470 12 34 56`, `+49 30 12345678`); for `+31`/`0031` exactly nine
//!   digits must follow the country code (an extra trunk `0` is tolerated).
//!
//! Not flagged: short numbers such as 112, the municipal number `14 0xx(x)`,
//! and the business service numbers 0800/0900/0906/0909: they identify an
//! organisation, not a person. Digits that form a date (`12-03-1985`) never
//! take part in a phone number. Every valid reading of a run of digit groups
//! is reported; overlapping readings are merged by the caller, so no part of
//! an ambiguous run survives. A number the citizen labels as something else
//! ("klantnummer 0612345678", "factuurnummer 0301234567") is not a phone number.

use super::units::{
    Group, after_harmless_label, char_at, char_before, digit_chunks, is_number_join,
};
use super::{Finding, PiiKind};

/// Service number prefixes that are never personal.
const SERVICE_PREFIXES: &[&str] = &["0800", "0900", "0906", "0909"];

/// Whether `sep` joins two digit groups of one phone number: a [`is_number_join`]
/// separator, maybe after a closing or before an opening bracket (`(020) 123`,
/// `+31 (0)6`, `(0)-6`).
fn joins(sep: &str) -> bool {
    let inner = sep.strip_prefix(')').unwrap_or(sep);
    let inner = inner.strip_suffix('(').unwrap_or(inner);
    inner.len() < sep.len() && (inner.is_empty() || is_number_join(inner)) || is_number_join(sep)
}

/// Finds phone numbers: every valid window of consecutive digit groups.
/// Digit groups that belong to a date (`dates`) never take part. Overlapping
/// windows are sorted out (or merged) by the caller.
pub(super) fn find(text: &str, dates: &[(usize, usize)]) -> Vec<Finding> {
    let in_date = |g: &Group| dates.iter().any(|&(s, e)| s <= g.start && g.end <= e);
    let mut out = Vec::new();
    for chunk in digit_chunks(text, joins) {
        for part in chunk.split(|g| !g.digits || in_date(g)) {
            for i in 0..part.len() {
                let mut total = 0;
                for j in i..part.len() {
                    total += part[j].len();
                    if total > 16 {
                        break;
                    }
                    out.extend(window(text, part, i, j));
                }
            }
        }
    }
    out
}

/// Whether group `g` is a trunk zero written as `(0)`.
fn is_bracketed_zero(text: &str, g: Group) -> bool {
    &text[g.start..g.end] == "0"
        && char_before(text, g.start) == Some('(')
        && char_at(text, g.end) == Some(')')
}

fn window(text: &str, chunk: &[Group], i: usize, j: usize) -> Option<Finding> {
    let first = chunk[i];
    let last = chunk[j];
    if is_bracketed_zero(text, first) {
        return None;
    }
    let mut digits = String::new();
    for &g in &chunk[i..=j] {
        if !is_bracketed_zero(text, g) {
            digits.push_str(&text[g.start..g.end]);
        }
        if digits.len() > 15 {
            return None;
        }
    }

    // Optional "+" and opening bracket in front of the first group.
    let before = &text[..first.start];
    let (plus, start) = if let Some(rest) = before.strip_suffix('+') {
        (true, rest.len())
    } else if let Some(rest) = before.strip_suffix("(+") {
        (true, rest.len())
    } else if let Some(rest) = before.strip_suffix('(') {
        let closes = i < j && text[first.end..chunk[i + 1].start].starts_with(')');
        (false, if closes { rest.len() } else { first.start })
    } else {
        (false, first.start)
    };
    if char_before(text, start).is_some_and(char::is_alphanumeric)
        || char_at(text, last.end).is_some_and(char::is_alphanumeric)
    {
        return None;
    }
    let valid = if plus {
        is_international(&digits)
    } else if let Some(rest) = digits.strip_prefix("00") {
        is_international(rest)
    } else {
        is_national(&digits)
    };
    (valid && !after_harmless_label(text, start)).then_some(Finding {
        kind: PiiKind::Phone,
        start,
        end: last.end,
    })
}

/// A Dutch number without country code: ten digits, one leading zero.
fn is_national(digits: &str) -> bool {
    digits.len() == 10
        && digits.starts_with('0')
        && !digits[1..].starts_with('0')
        && !SERVICE_PREFIXES.iter().any(|p| digits.starts_with(p))
}

/// Digits after `+` or `00`.
fn is_international(digits: &str) -> bool {
    if let Some(national) = digits.strip_prefix("31") {
        let national = national.strip_prefix('0').unwrap_or(national);
        return national.len() == 9 && !national.starts_with('0');
    }
    (9..=13).contains(&digits.len()) && !digits.starts_with('0')
}
