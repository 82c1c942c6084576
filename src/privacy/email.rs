//! E-mail address detection: plain addresses, and addresses written so that a machine
//! would not recognise them: `jan[at]example.nl`, `jan (at) example (dot) nl`,
//! `jan at example dot nl`, `jan @ example . nl`, `jan apenstaartje example punt nl`. An
//! obfuscated address needs a common top-level domain (`nl`, `com`, …), so that an English
//! "look at this dot" does not become an address. Detection reads the canonical view, so a
//! full-width `＠` is already `@`.

use super::units::{char_at, ends_with_placeholder, placeholder_len_at};
use super::{Finding, PiiKind};
use regex::Regex;
use std::sync::LazyLock;

/// A pragmatic address pattern: a local part of letters, digits and
/// `._%+-` (starting with a letter, digit or underscore, not ending with a
/// dot), `@`, one or more domain labels and an alphabetic top-level domain.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)[a-z0-9_](?:[a-z0-9._%+\-]*[a-z0-9_%+\-])?@(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,24}\b",
    )
    .expect("email regex")
});

/// An address with the `@` and the dots possibly spelled out or surrounded by spaces.
static OBFUSCATED: LazyLock<Regex> = LazyLock::new(|| {
    let local = r"[a-z0-9_](?:[a-z0-9._%+\-]*[a-z0-9_%+\-])?";
    let at = r"(?:\s?@\s?|\s?[\[({<]\s?(?:at|@|apenstaartje)\s?[\])}>]\s?|\s(?:at|apenstaartje)\s)";
    let dot = r"(?:\s?\.\s?|\s?[\[({<]\s?(?:dot|punt)\s?[\])}>]\s?|\s(?:dot|punt)\s)";
    let label = r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?";
    let tld = COMMON_TLDS.join("|");
    Regex::new(&format!(
        r"(?i)\b{local}{at}{label}(?:{dot}{label})*{dot}(?:{tld})\b"
    ))
    .expect("obfuscated email regex")
});

/// Top-level domains an obfuscated address must end with.
const COMMON_TLDS: &[&str] = &[
    "nl",
    "com",
    "net",
    "org",
    "eu",
    "be",
    "de",
    "info",
    "nu",
    "uk",
    "fr",
    "es",
    "it",
    "ch",
    "at",
    "io",
    "me",
    "co",
    "biz",
    "online",
    "email",
    "edu",
    "gov",
    "tr",
    "ma",
    "pl",
    "dk",
    "se",
    "no",
    "lu",
    "cz",
    "us",
    "ca",
    "au",
    "app",
    "dev",
    "shop",
    "live",
    "xyz",
    "frl",
    "amsterdam",
];

/// Finds e-mail addresses, plain and obfuscated.
pub(super) fn find(text: &str) -> Vec<Finding> {
    let mut out = find_plain(text);
    for m in OBFUSCATED.find_iter(text) {
        let glued = ends_with_placeholder(&text[..m.start()])
            || placeholder_len_at(text, m.end()).is_some();
        let known = out.iter().any(|f| f.start < m.end() && m.start() < f.end);
        if !glued && !known {
            out.push(Finding {
                kind: PiiKind::Email,
                start: m.start(),
                end: m.end(),
            });
        }
    }
    out
}

/// Finds plain e-mail addresses.
///
/// An address glued to a placeholder left by an earlier redaction
/// (`[BSN]jan@example.nl`, `jan@example.nl[BSN]`) is not taken as is: the
/// first pass saw it glued to the replaced text. A shorter local part that
/// starts after a separator, or a shorter domain that ends at a label
/// boundary, is tried instead.
fn find_plain(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(m) = EMAIL.find_at(text, pos) {
        pos = m.end();
        let Some(at) = m.as_str().find('@').map(|i| m.start() + i) else {
            continue;
        };
        if ends_with_placeholder(&text[..m.start()]) {
            // Retry with the local part starting after its next separator.
            if let Some(i) = text[m.start()..at].find(['.', '-', '+', '%']) {
                pos = m.start() + i + 1;
            }
            continue;
        }
        if let Some(end) = best_end(text, at, m.end()) {
            out.push(Finding {
                kind: PiiKind::Email,
                start: m.start(),
                end,
            });
        }
    }
    out
}

/// The longest end (at most `max_end`) of a valid domain after the `@` at
/// `at` (see [`is_domain`]) that is not followed by a word character or a
/// placeholder.
fn best_end(text: &str, at: usize, max_end: usize) -> Option<usize> {
    (at + 1..=max_end).rev().find(|&end| {
        let glued = char_at(text, end).is_some_and(|c| c.is_alphanumeric() || c == '_')
            || placeholder_len_at(text, end).is_some();
        !glued && is_domain(&text[at + 1..end])
    })
}

/// At least two labels of ASCII letters, digits and inner hyphens, the last
/// one (the top-level domain) of 2 to 24 letters.
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    !rest.is_empty()
        && (2..=24).contains(&tld.len())
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && rest.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
