//! The canonical view of a message: the one spelling every detector reads, with a map back
//! to the original byte offsets.
//!
//! Citizens (and their phones) write the same number in many ways: full-width digits
//! (`１２３`), Arabic-Indic digits (`١٢٣`), a zero-width space or a soft hyphen inside a
//! number, non-breaking spaces, tabs and line breaks between its groups, an en dash or a
//! minus sign instead of a hyphen. The detectors should not each learn every spelling, so
//! they read one view of the text in which
//! - every character is in Unicode compatibility form (NFKC), so full-width letters and
//!   digits, ligatures and the like become their plain forms;
//! - a decimal digit of any script is the ASCII digit of the same value;
//! - invisible characters are gone: zero-width space, (non-)joiner, word joiner, soft
//!   hyphen, byte order mark, bidirectional marks and isolates, variation selectors,
//!   the combining keycap, and combining marks left over after NFKC;
//! - every dash (hyphen, en dash, minus sign, …) is `-`, every division or fraction slash
//!   is `/`;
//! - every run of white space is one character: a line break when the run contains one,
//!   else a space.
//!
//! Every character of the view remembers the *cluster* of the original text it came from
//! (a character and the combining marks after it), or for a run of white space the whole
//! run. A finding in the view therefore maps back to whole original clusters
//! ([`Canonical::to_original`]), including any invisible characters inside it, so nothing
//! of the original datum survives its redaction.
//!
//! The view is built cluster by cluster, and each step depends on the cluster (or the
//! white-space run) alone. Replacing whole clusters of the original by a placeholder
//! therefore gives a text whose view is the old view with the same placeholder in the
//! same place: the property that keeps `redact` idempotent.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The first code point (the zero) of every run of ten decimal digits (Unicode category
/// Nd) outside ASCII, sorted. NFKC already maps the full-width and mathematical digits; the
/// others (Arabic-Indic, Devanagari, Bengali, Thai, …) are mapped here.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16A60, 0x16AC0,
    0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E950,
    0x1FBF0,
];

/// The ASCII digit of a decimal digit of any script.
pub(super) fn ascii_digit(c: char) -> Option<char> {
    if c.is_ascii_digit() {
        return Some(c);
    }
    let cp = u32::from(c);
    let i = DIGIT_ZEROS.partition_point(|&z| z <= cp).checked_sub(1)?;
    let value = cp - DIGIT_ZEROS[i];
    (value < 10).then(|| char::from(b'0' + value as u8))
}

/// Characters that are not seen, so they carry nothing a detector needs, but break a number
/// apart when left in (`123\u{200B}456\u{200B}782`).
pub(super) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                  // soft hyphen
            | '\u{034F}'            // combining grapheme joiner
            | '\u{061C}'            // Arabic letter mark
            | '\u{115F}' | '\u{1160}' // Hangul fillers
            | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' // Mongolian variation selectors, vowel separator
            | '\u{200B}'..='\u{200F}' // zero-width space, (non-)joiner, LRM, RLM
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{206F}' // bidi isolates, deprecated format characters
            | '\u{20E3}'            // combining enclosing keycap (1️⃣)
            | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{FEFF}'            // byte order mark, zero-width no-break space
            | '\u{E0000}'..='\u{E007F}' // tags
            | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

/// Whether `c` ends a line.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// The plain form of one character of an NFKC result, or `None` to drop it.
fn plain(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(match c {
            '\t' => ' ',
            '\r' | '\u{0B}' | '\u{0C}' => '\n',
            c => c,
        });
    }
    if is_invisible(c) || is_combining_mark(c) {
        return None;
    }
    if let Some(d) = ascii_digit(c) {
        return Some(d);
    }
    Some(match c {
        '\u{2010}'..='\u{2015}'
        | '\u{2043}'
        | '\u{2212}'
        | '\u{2796}'
        | '\u{FE58}'
        | '\u{FE63}'
        | '\u{FF0D}' => '-',
        '\u{2044}' | '\u{2215}' | '\u{29F8}' => '/',
        c if is_line_break(c) => '\n',
        c if c.is_whitespace() => ' ',
        c => c,
    })
}

/// The canonical view of a text and, for each of its bytes, the original byte range it came
/// from.
#[derive(Debug, Clone)]
pub(super) struct Canonical {
    text: String,
    /// `source[i]`: the original range of the cluster that canonical byte `i` belongs to.
    source: Vec<(usize, usize)>,
}

impl Canonical {
    pub fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut source: Vec<(usize, usize)> = Vec::with_capacity(original.len());
        let mut pending = String::new();
        let mut chars = original.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            // A cluster: this character and the combining marks after it.
            let mut end = start + c.len_utf8();
            let mut simple = c.is_ascii();
            while let Some(&(i, next)) = chars.peek() {
                if !is_combining_mark(next) {
                    break;
                }
                simple = false;
                end = i + next.len_utf8();
                chars.next();
            }
            pending.clear();
            if simple {
                pending.push(c);
            } else {
                pending.extend(original[start..end].nfkc());
            }
            for p in pending.chars().filter_map(plain) {
                if p == ' ' || p == '\n' {
                    // One white-space character per run; a line break wins over a space.
                    // Characters the view drops in between do not end the run.
                    if let Some(last) = text.as_bytes().last().copied()
                        && (last == b' ' || last == b'\n')
                    {
                        let n = source.len() - 1;
                        source[n].1 = end;
                        if p == '\n' && last == b' ' {
                            text.pop();
                            text.push('\n');
                        }
                        continue;
                    }
                }
                text.push(p);
                source.extend(std::iter::repeat_n((start, end), p.len_utf8()));
            }
        }
        Canonical { text, source }
    }

    /// The canonical text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The original range covered by the canonical range `start..end` (not empty): from
    /// the start of the first cluster to the end of the last.
    pub fn to_original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.source[start].0, self.source[end - 1].1)
    }

    /// The canonical range of everything whose cluster lies inside the original range
    /// `start..end`: what disappears from the view when that range is replaced.
    pub fn covered(&self, start: usize, end: usize) -> (usize, usize) {
        let s = self.source.partition_point(|&(s, _)| s < start);
        let e = self.source.partition_point(|&(_, e)| e <= end);
        (s, e.max(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(s: &str) -> String {
        Canonical::new(s).text().to_string()
    }

    #[test]
    fn spellings_of_one_number_have_one_view() {
        for s in [
            "123 456 782",
            "123\u{A0}456\u{202F}782",
            "123\t456\t\t782",
            "１２３ ４５６ ７８２",
            "١٢٣ ٤٥٦ ٧٨٢",
            "۱۲۳ ۴۵۶ ۷۸۲",
            "१२३ ४५६ ७८२",
            "123 \u{200B}456\u{2060} 782",
            "1\u{AD}23 4\u{200D}56 7\u{FEFF}82",
            "\u{200E}123 456 782",
        ] {
            assert_eq!(view(s).trim_start(), "123 456 782", "{s:?}");
        }
        assert_eq!(view("06\u{2013}12345678"), "06-12345678");
        assert_eq!(view("06\u{2212}12345678"), "06-12345678");
        assert_eq!(view("1️⃣2️⃣3️⃣"), "123");
        assert_eq!(view("regel\r\n\n  twee"), "regel\ntwee");
        assert_eq!(view("jan＠example．nl"), "jan@example.nl");
    }

    #[test]
    fn ranges_map_back_to_whole_clusters() {
        let s = "bsn １２３\u{200B}456 78e\u{301}2!";
        let c = Canonical::new(s);
        let start = c.text().find('1').unwrap();
        let end = c.text().find('!').unwrap();
        let (os, oe) = c.to_original(start, end);
        assert_eq!(&s[os..oe], "１２３\u{200B}456 78e\u{301}2");
        assert_eq!(c.covered(os, oe), (start, end));
    }

    #[test]
    fn every_decimal_digit_maps_to_its_value() {
        for zero in DIGIT_ZEROS {
            for v in 0..10u32 {
                let c = char::from_u32(zero + v).unwrap();
                assert_eq!(ascii_digit(c), char::from_digit(v, 10), "{c:?}");
            }
        }
        assert_eq!(ascii_digit('a'), None);
        assert_eq!(ascii_digit('\u{065F}'), None);
    }
}
