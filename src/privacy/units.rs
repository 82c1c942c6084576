//! Tokenisation shared by the detectors: context units and digit chunks.
//!
//! The context-dependent detectors (document numbers, dates of birth and
//! medical terms) decide by looking at the words around a candidate. To keep
//! `redact` idempotent, every candidate span and every placeholder (from an
//! earlier stage or an earlier pass) counts as exactly one opaque *atom*:
//! replacing a candidate by its placeholder never shifts a window, and
//! nothing inside an atom can act as a cue word.
//!
//! The number detectors (BSN, phone) work on chunks of digit runs joined by
//! separators; a placeholder takes part in a chunk as a digit-less group.

use super::ALL_KINDS;
use regex::Regex;
use std::sync::LazyLock;

/// Matches the placeholders that `redact` writes, so that a second pass
/// treats them as opaque atoms.
static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives: Vec<String> = ALL_KINDS
        .iter()
        .map(|k| regex::escape(k.placeholder()))
        .collect();
    Regex::new(&alternatives.join("|")).expect("placeholder regex")
});

/// Words after which a full stop is an abbreviation dot, not a sentence end.
const ABBREVIATIONS: &[&str] = &[
    "geb", "nr", "dhr", "mevr", "mw", "mr", "dr", "st", "ca", "bijv", "evt", "tel", "jl", "vlg",
    "no",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnitKind {
    /// A run of letters and digits (apostrophes inside a word are kept).
    Word,
    /// An opaque span: a candidate, a finding or a placeholder.
    Atom,
    /// A sentence or clause boundary (`.`, `!`, `?`, `;` or a newline).
    Break,
}

#[derive(Debug, Clone)]
pub(super) struct Unit<'a> {
    pub kind: UnitKind,
    pub start: usize,
    pub end: usize,
    /// The original text of the unit.
    pub text: &'a str,
    /// Lowercased text (only filled for words).
    pub lower: String,
}

impl Unit<'_> {
    pub fn is_word(&self) -> bool {
        self.kind == UnitKind::Word
    }
}

/// A message split into words, atoms and breaks.
pub(super) struct Units<'a> {
    text: &'a str,
    list: Vec<Unit<'a>>,
}

impl<'a> Units<'a> {
    /// Tokenises `text`; every `(start, end)` in `atoms` (and every
    /// placeholder found in the text) becomes one atom. Overlapping atoms are
    /// merged.
    pub fn new(text: &'a str, mut atoms: Vec<(usize, usize)>) -> Self {
        atoms.extend(PLACEHOLDER.find_iter(text).map(|m| (m.start(), m.end())));
        atoms.retain(|&(s, e)| s < e && e <= text.len());
        atoms.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(atoms.len());
        for (s, e) in atoms {
            match merged.last_mut() {
                Some(last) if s < last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }

        let mut units = Units {
            text,
            list: Vec::new(),
        };
        let mut next_atom = merged.into_iter().peekable();
        let mut word_start: Option<usize> = None;
        let mut pos = 0;
        while pos < text.len() {
            if let Some(&(s, e)) = next_atom.peek()
                && s <= pos
            {
                units.flush_word(&mut word_start, pos);
                units.push(UnitKind::Atom, s, e);
                next_atom.next();
                pos = e;
                continue;
            }
            let c = text[pos..].chars().next().unwrap_or(' ');
            let next = pos + c.len_utf8();
            let following = text[next..].chars().next();
            let apostrophe_inside_word = matches!(c, '\'' | '\u{2019}')
                && word_start.is_some()
                && following.is_some_and(char::is_alphanumeric);
            if c.is_alphanumeric() || apostrophe_inside_word {
                word_start.get_or_insert(pos);
                pos = next;
                continue;
            }
            units.flush_word(&mut word_start, pos);
            let is_break = match c {
                '!' | '?' | ';' | '\n' => true,
                '.' => {
                    let inside_token = following.is_some_and(char::is_alphanumeric);
                    let after_abbreviation = units.list.last().is_some_and(|u| {
                        u.is_word() && u.end == pos && ABBREVIATIONS.contains(&u.lower.as_str())
                    });
                    !inside_token && !after_abbreviation
                }
                _ => false,
            };
            if is_break {
                units.push(UnitKind::Break, pos, next);
            }
            pos = next;
        }
        units.flush_word(&mut word_start, text.len());
        units
    }

    fn flush_word(&mut self, word_start: &mut Option<usize>, end: usize) {
        if let Some(start) = word_start.take() {
            self.push(UnitKind::Word, start, end);
        }
    }

    fn push(&mut self, kind: UnitKind, start: usize, end: usize) {
        let text = &self.text[start..end];
        let lower = if kind == UnitKind::Word {
            text.to_lowercase()
        } else {
            String::new()
        };
        self.list.push(Unit {
            kind,
            start,
            end,
            text,
            lower,
        });
    }

    /// A slice of the tokenised text.
    pub fn slice(&self, start: usize, end: usize) -> &'a str {
        &self.text[start..end]
    }

    pub fn get(&self, idx: usize) -> Option<&Unit<'a>> {
        self.list.get(idx)
    }

    /// All plain words (atoms and breaks excluded).
    pub fn words(&self) -> impl Iterator<Item = &Unit<'a>> {
        self.list.iter().filter(|u| u.is_word())
    }

    /// Index of the atom that covers `start..end`.
    pub fn atom_index(&self, start: usize, end: usize) -> Option<usize> {
        self.list
            .iter()
            .position(|u| u.kind == UnitKind::Atom && u.start <= start && end <= u.end)
    }

    /// Up to `n` word/atom units before unit `idx`, nearest first. Breaks are
    /// not counted; with `stop_at_break` the walk ends at the first break.
    pub fn before(&self, idx: usize, n: usize, stop_at_break: bool) -> Vec<&Unit<'a>> {
        Self::collect(self.list[..idx].iter().rev(), n, stop_at_break)
    }

    /// Up to `n` word/atom units after unit `idx`, nearest first.
    pub fn after(&self, idx: usize, n: usize, stop_at_break: bool) -> Vec<&Unit<'a>> {
        Self::collect(self.list[idx + 1..].iter(), n, stop_at_break)
    }

    fn collect<'u>(
        iter: impl Iterator<Item = &'u Unit<'a>>,
        n: usize,
        stop_at_break: bool,
    ) -> Vec<&'u Unit<'a>> {
        let mut out = Vec::with_capacity(n);
        for unit in iter {
            if out.len() == n {
                break;
            }
            if unit.kind == UnitKind::Break {
                if stop_at_break {
                    break;
                }
                continue;
            }
            out.push(unit);
        }
        out
    }

    /// Whether any plain word within `n` units on either side of unit `idx`
    /// satisfies `pred`.
    pub fn window_has_word(&self, idx: usize, n: usize, pred: impl Fn(&str) -> bool) -> bool {
        self.before(idx, n, false)
            .into_iter()
            .chain(self.after(idx, n, false))
            .any(|u| u.is_word() && pred(&u.lower))
    }
}

/// A maximal run of ASCII digits, or a placeholder standing in for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Group {
    pub start: usize,
    pub end: usize,
    /// `false` for a placeholder such as `[TELEFOON]`: it takes part in the
    /// neighbour checks (so a second pass judges a number next to redacted
    /// digits as the first pass did) but never in a number itself.
    pub digits: bool,
}

impl Group {
    pub fn len(self) -> usize {
        self.end - self.start
    }
}

/// Splits `text` into chunks of digit groups: consecutive digit runs (and
/// placeholders) are in the same chunk when the text between them satisfies
/// `joins`. A run that touches a letter (`LP2`, `bsn123456782`) belongs to an
/// alphanumeric token and always forms a chunk of its own.
pub(super) fn digit_chunks(text: &str, joins: impl Fn(&str) -> bool) -> Vec<Vec<Group>> {
    let bytes = text.as_bytes();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            groups.push(Group {
                start,
                end: i,
                digits: true,
            });
        } else if let Some(len) = placeholder_len_at(text, i) {
            groups.push(Group {
                start: i,
                end: i + len,
                digits: false,
            });
            i += len;
        } else {
            i += 1;
        }
    }
    let touches_letter = |g: &Group| {
        char_before(text, g.start).is_some_and(char::is_alphabetic)
            || char_at(text, g.end).is_some_and(char::is_alphabetic)
    };
    let mut chunks: Vec<Vec<Group>> = Vec::new();
    for g in groups {
        match chunks.last_mut() {
            Some(chunk)
                if chunk.last().is_some_and(|p| {
                    !touches_letter(p) && !touches_letter(&g) && joins(&text[p.end..g.start])
                }) =>
            {
                chunk.push(g)
            }
            _ => chunks.push(vec![g]),
        }
    }
    chunks
}

/// Length of the placeholder starting at byte `pos`, if any.
pub(super) fn placeholder_len_at(text: &str, pos: usize) -> Option<usize> {
    if text.as_bytes().get(pos) != Some(&b'[') {
        return None;
    }
    ALL_KINDS
        .iter()
        .map(|k| k.placeholder())
        .find(|p| text[pos..].starts_with(p))
        .map(str::len)
}

/// Whether `text` ends with a placeholder.
pub(super) fn ends_with_placeholder(text: &str) -> bool {
    ALL_KINDS.iter().any(|k| text.ends_with(k.placeholder()))
}

/// The character just before byte `pos`, if any.
pub(super) fn char_before(text: &str, pos: usize) -> Option<char> {
    text[..pos].chars().next_back()
}

/// The character starting at byte `pos`, if any.
pub(super) fn char_at(text: &str, pos: usize) -> Option<char> {
    text[pos..].chars().next()
}

/// Whether `sep` joins two digit groups into one number: a space or line break, or one
/// hyphen, slash or dot with or without a space on either side (the canonical view has
/// already collapsed every run of white space into one character).
pub(super) fn is_number_join(sep: &str) -> bool {
    let trimmed = sep.trim_matches([' ', '\n']);
    sep.len() <= 3 && matches!(trimmed, "" | "-" | "/" | ".") && !sep.is_empty()
}

/// Words between a label and its number that say nothing about what the number is.
const FILLERS: &[&str] = &[
    "is", "mijn", "m'n", "mn", "het", "de", "een", "nr", "no", "nummer", "number", "van", "onze",
    "ons", "uw", "je", "jouw", "was", "luidt", "heeft", "met", "my", "the", "our", "your",
];

/// Stems of words that name a number that is not personal data: an order, case, customer,
/// invoice or permit number, a product, parcel or meter number, a reference, a licence
/// plate, a postcode or house number.
const HARMLESS_LABELS: &[&str] = &[
    "order",
    "bestel",
    "bestelling",
    "zaak",
    "klant",
    "dossier",
    "factuur",
    "referentie",
    "ref",
    "kenmerk",
    "aanvraag",
    "vergunning",
    "parkeervergunning",
    "product",
    "artikel",
    "pakket",
    "tracking",
    "track",
    "trace",
    "ticket",
    "melding",
    "contract",
    "polis",
    "debiteur",
    "aanslag",
    "relatie",
    "kvk",
    "btw",
    "kenteken",
    "postcode",
    "huis",
    "transactie",
    "bon",
    "boeking",
    "reservering",
    "afspraak",
    "serie",
    "model",
    "stadspas",
    "lid",
    "abonnement",
    "meter",
    "ean",
    "object",
    "perceel",
    "container",
    "chip",
    "invoice",
    "case",
    "customer",
    "reference",
    "permit",
];

/// Whether `word` (lower case) names a number that is not personal data: a stem of
/// [`HARMLESS_LABELS`], alone or with `nummer`, `nr`, `code` or `id` after it
/// ("klantnummer", "zaaknr", "vergunningscode").
fn is_harmless_label(word: &str) -> bool {
    let stem = ["nummers", "nummer", "number", "nr", "code", "id"]
        .iter()
        .find_map(|s| word.strip_suffix(s).filter(|rest| !rest.is_empty()))
        .unwrap_or(word);
    let stem = stem.trim_end_matches('-');
    HARMLESS_LABELS.contains(&stem)
        || stem
            .strip_suffix('s')
            .is_some_and(|s| HARMLESS_LABELS.contains(&s))
}

/// Whether the nearest word before byte `start`, in the same sentence, labels the number
/// there as something that is not personal data ("klantnummer 123456782", "ordernr.:
/// 2024-118734"). Filler words ("is", "mijn", "nummer") in between are skipped; any other
/// word, another number or a placeholder decides that the number is not labelled.
pub(super) fn after_harmless_label(text: &str, start: usize) -> bool {
    let mut end = start;
    for _ in 0..8 {
        let before = &text[..end];
        // Back over separators to the end of the previous word; a sentence end stops.
        let Some((word_end, c)) = before
            .char_indices()
            .rev()
            .find(|&(_, c)| c.is_alphanumeric() || c == ']')
            .map(|(i, c)| (i + c.len_utf8(), c))
        else {
            return false;
        };
        let gap = &before[word_end..];
        let sentence_end =
            gap.contains(['!', '?', ';', '\n']) || (gap.contains(". ") && !gap.starts_with(". "));
        if sentence_end {
            return false;
        }
        if c == ']' {
            // A placeholder: another number (or datum) sits between, which the label
            // belongs to.
            return false;
        }
        let word_start = before[..word_end]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| c.is_alphanumeric() || c == '\'' || c == '-')
            .last()
            .map_or(word_end, |(i, _)| i);
        let word = before[word_start..word_end]
            .trim_start_matches(['\'', '-'])
            .to_lowercase();
        end = word_start;
        if word.chars().any(|c| c.is_ascii_digit()) {
            // Another number sits between: the label belongs to that one.
            return false;
        }
        if word.is_empty() {
            continue;
        }
        if is_harmless_label(&word) {
            return true;
        }
        if !FILLERS.contains(&word.as_str()) {
            return false;
        }
    }
    false
}
