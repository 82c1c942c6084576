//! E-mail address detection.

use super::units::placeholder_len_at;
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

/// Finds e-mail addresses.
///
/// Placeholders left by an earlier redaction are read as digits (which they
/// may have replaced), so a second pass sees the same address boundaries as
/// the first. An address that starts inside a placeholder is trimmed to
/// start after it.
pub(super) fn find(text: &str) -> Vec<Finding> {
    let mut masked: Option<String> = None;
    let mut placeholders = Vec::new();
    let mut pos = 0;
    while let Some(offset) = text[pos..].find('[') {
        let at = pos + offset;
        match placeholder_len_at(text, at) {
            Some(len) => {
                let m = masked.get_or_insert_with(|| text.to_owned());
                m.replace_range(at..at + len, &"0".repeat(len));
                placeholders.push((at, at + len));
                pos = at + len;
            }
            None => pos = at + 1,
        }
    }
    let haystack = masked.as_deref().unwrap_or(text);
    EMAIL
        .find_iter(haystack)
        .filter_map(|m| {
            let start = placeholders
                .iter()
                .find(|&&(s, e)| s <= m.start() && m.start() < e)
                .map_or(m.start(), |&(_, e)| e);
            let local_ok = haystack[start..m.end()]
                .find('@')
                .is_some_and(|at| at > 0);
            local_ok.then_some(Finding {
                kind: PiiKind::Email,
                start,
                end: m.end(),
            })
        })
        .collect()
}
