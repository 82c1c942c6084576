//! Hand-written corpora: every class of spelling the privacy officer found leaking, and
//! messages with harmless numbers that must come through unchanged.

use super::*;

/// Messages with numbers that are not personal data: they must come out of `redact`
/// exactly as they went in (also read by the end-to-end test with the real model).
pub(super) fn harmless() -> Vec<&'static str> {
    include_str!("../../tests/data/harmless_numbers.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect()
}

/// Messages with a personal phone number or e-mail address: redacted, the question stays.
pub(super) const PERSONAL_CONTACT: &[(&str, &str)] = &[
    (
        "bel me terug op 06-12345678 over mijn paspoort",
        "bel me terug op [TELEFOON] over mijn paspoort",
    ),
    (
        "mail jan[at]example.nl wanneer ik mijn rijbewijs kan ophalen",
        "mail [EMAIL] wanneer ik mijn rijbewijs kan ophalen",
    ),
];

#[test]
fn harmless_numbers_come_through_unchanged() {
    let harmless = harmless();
    assert!(harmless.len() >= 60);
    let mut changed = Vec::new();
    for text in harmless {
        let r = redact(text);
        if r.text != text {
            changed.push(format!("{text:?} -> {:?}", r.text));
        }
    }
    assert!(changed.is_empty(), "{}", changed.join("\n"));
}

#[test]
fn personal_contact_details_are_redacted_and_the_question_kept() {
    for (text, expected) in PERSONAL_CONTACT {
        assert_eq!(redact(text).text, *expected);
    }
}
