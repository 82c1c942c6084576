//! Text normalisation shared by the content checks and the classifier.

/// `c` without its accent (the Dutch vowels with diaeresis, acute, grave or circumflex).
pub fn fold(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        c => c,
    }
}

/// Escapes text for an HTML text node or a quoted attribute value.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `max` characters at a word boundary, with an ellipsis.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max - 1).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => cut[..i].to_string(),
        _ => cut,
    };
    format!("{}…", cut.trim_end_matches([' ', ',', ':', '-']))
}

/// The words of `text`, lower-cased and accent-folded, without punctuation or emoji, joined
/// by single spaces: "Wat kost een paspoort?" and "wat kost een  paspoort" are the same.
pub fn normalize(text: &str) -> String {
    let lower: String = text.to_lowercase().chars().map(fold).collect();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Dutch month names, January first (dates in replies, transcripts and tests).
pub const DUTCH_MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// Longest message Loket reads, in characters: WhatsApp's own limit for a text message.
/// Every channel cuts longer texts here, so no channel can make one turn arbitrarily costly.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// `text` cut to at most `max` characters.
pub fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// `text` without NUL and the other C0/C1 control characters, tab and line breaks excepted.
/// No citizen means them, PostgreSQL cannot store NUL in text, and a stored NUL would fail
/// every later write of that message.
pub fn strip_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let unwanted = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    if text.chars().any(unwanted) {
        std::borrow::Cow::Owned(text.chars().filter(|c| !unwanted(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Whether an id chosen by a client (a conversation id) is printable: no control
/// characters, no line breaks.
pub fn is_printable_id(id: &str) -> bool {
    !id.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_removed_but_line_breaks_kept() {
        assert_eq!(strip_controls("a\u{0}b\u{7}c\u{85}d"), "abcd");
        assert_eq!(strip_controls("regel 1\nregel 2\t!"), "regel 1\nregel 2\t!");
        assert!(matches!(
            strip_controls("gewoon"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(!is_printable_id("t\u{0}1"));
        assert_eq!(truncate_chars("één twee", 3), "één");
        assert_eq!(truncate_chars("kort", 10), "kort");
        assert!(is_printable_id("web-2f1c"));
    }

    #[test]
    fn normalising_ignores_case_accents_punctuation_and_spacing() {
        assert_eq!(
            normalize("Wat kost  een Paspoort?"),
            "wat kost een paspoort"
        );
        assert_eq!(
            normalize("ik wil trouwen 💍 - geen idee..."),
            "ik wil trouwen geen idee"
        );
        assert_eq!(normalize("Ruïne café"), "ruine cafe");
        assert_eq!(normalize(" ?! "), "");
    }
}
