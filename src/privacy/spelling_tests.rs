//! Generated spellings of personal data: for every class (BSN, IBAN, phone number, e-mail
//! address, passport/ID number, date of birth with a cue) ten thousand spellings built
//! from the separator, digit-script, invisible-character and gluing classes the privacy
//! officer found leaking, embedded in Dutch sentences. Nothing of the datum may survive
//! redaction: the templates hold no digits, so after redaction the canonical view of the
//! message must hold none either, and the datum's kind must be among the findings (the
//! dialogue decides on the kinds).

use super::canonical::Canonical;
use super::*;
use proptest::prelude::*;

/// Cases per class.
const CASES: u32 = 10_000;

/// Decimal digit zeros of the scripts a datum may be written in: ASCII, full-width,
/// Arabic-Indic, extended Arabic-Indic (Persian), Devanagari, mathematical bold.
const DIGIT_ZEROS: &[u32] = &[0x30, 0xFF10, 0x0660, 0x06F0, 0x0966, 0x1D7CE];

/// Separators between the groups of a number.
const SEPARATORS: &[&str] = &[
    " ",
    "  ",
    "\u{A0}",
    "\u{202F}",
    "\t",
    "\n",
    "\r\n",
    " \n ",
    "-",
    " - ",
    "/",
    " / ",
    ".",
    "\u{2013}",
    "\u{2212}",
    "\u{2010}",
    " \u{2013} ",
    "\u{3000}",
];

/// Invisible characters that may sit inside a datum.
const INVISIBLES: &[&str] = &[
    "\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{AD}", "\u{FEFF}", "\u{200E}", "\u{200F}",
    "\u{2066}", "\u{2069}",
];

/// How a datum is spelled.
#[derive(Debug, Clone)]
struct Style {
    /// Digit script per character (cycled); letters go full-width with the full-width
    /// digit script.
    scripts: Vec<usize>,
    /// Group sizes (cycled); empty: written together.
    sizes: Vec<usize>,
    separator: &'static str,
    /// Invisible characters inserted after the character at (index mod length).
    invisibles: Vec<(usize, &'static str)>,
}

fn style(max_group: usize) -> impl Strategy<Value = Style> {
    let scripts = prop_oneof![
        4 => Just(vec![0]),
        1 => prop::collection::vec(0..DIGIT_ZEROS.len(), 1..4),
        1 => (0..DIGIT_ZEROS.len()).prop_map(|s| vec![s]),
    ];
    let sizes = prop_oneof![
        2 => Just(Vec::new()),
        1 => Just(vec![1]),
        3 => prop::collection::vec(1..=max_group, 1..5),
    ];
    let invisibles = prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec((any::<usize>(), prop::sample::select(INVISIBLES)), 1..4),
    ];
    (scripts, sizes, prop::sample::select(SEPARATORS), invisibles).prop_map(
        |(scripts, sizes, separator, invisibles)| Style {
            scripts,
            sizes,
            separator,
            invisibles,
        },
    )
}

/// `datum` (ASCII letters and digits) spelled in `style`.
fn spell(datum: &str, style: &Style) -> String {
    let chars: Vec<char> = datum.chars().collect();
    let mut out = String::new();
    let mut in_group = 0;
    let mut group = 0;
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && !style.sizes.is_empty() {
            let size = style.sizes[group % style.sizes.len()];
            if in_group == size {
                out.push_str(style.separator);
                in_group = 0;
                group += 1;
            }
        }
        let script = DIGIT_ZEROS[style.scripts[i % style.scripts.len()]];
        out.push(match c.to_digit(10) {
            Some(d) => char::from_u32(script + d).expect("digit"),
            // With the full-width digits, letters go full-width too.
            None if script == 0xFF10 && c.is_ascii_uppercase() => {
                char::from_u32(0xFF21 + u32::from(c) - u32::from('A')).expect("letter")
            }
            None if script == 0xFF10 && c.is_ascii_lowercase() => {
                char::from_u32(0xFF41 + u32::from(c) - u32::from('a')).expect("letter")
            }
            None => c,
        });
        in_group += 1;
        if i + 1 < chars.len() {
            for &(at, invisible) in &style.invisibles {
                if at % (chars.len() - 1) == i {
                    out.push_str(invisible);
                }
            }
        }
    }
    out
}

/// Separators written inside an IBAN or a document number: white space or one dash.
fn is_code_separator(s: &str) -> bool {
    s.trim().is_empty() || matches!(s, "-" | "\u{2013}" | "\u{2212}" | "\u{2010}")
}

/// Puts `datum` into one of `templates` (`{}` marks the place).
fn embed(templates: &[&str], which: usize, datum: &str) -> String {
    templates[which % templates.len()].replace("{}", datum)
}

/// Checks that nothing of the datum survived and that its kind was found.
fn assert_gone(text: &str, kind: PiiKind) -> Result<(), TestCaseError> {
    let r = redact(text);
    let view = Canonical::new(&r.text);
    prop_assert!(
        !view.text().chars().any(|c| c.is_ascii_digit()),
        "digits survived: {:?} (from {:?})",
        r.text,
        text
    );
    prop_assert!(
        r.kinds().contains(&kind),
        "{kind:?} not among {:?} in {text:?}",
        r.kinds()
    );
    let again = redact(&r.text);
    prop_assert_eq!(&again.text, &r.text, "not idempotent for {:?}", text);
    Ok(())
}

fn digits(n: usize) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(0u32..10, n)
}

fn to_string(digits: &[u32]) -> String {
    digits
        .iter()
        .map(|d| char::from_digit(*d, 10).expect("digit"))
        .collect()
}

/// A valid BSN (nine digits).
fn bsn_digits() -> impl Strategy<Value = String> {
    digits(8).prop_filter_map("no valid check digit", |d| {
        let sum: u32 = d.iter().zip((2..=9).rev()).map(|(d, w)| d * w).sum();
        let check = sum % 11;
        (check < 10 && sum > 0).then(|| {
            let mut all = d.clone();
            all.push(check);
            to_string(&all)
        })
    })
}

const BSN_TEMPLATES: &[&str] = &[
    "mijn bsn is {}, wat kost een paspoort?",
    "Hallo, mijn burgerservicenummer: {} en ik wil verhuizen",
    "{} is mijn BSN. Hoe vraag ik bijstand aan?",
    "Goedemiddag, ik ben Anna ({}) en ik heb een vraag over de afvalpas",
    "kunt u mijn aanvraag zoeken? bsn {}",
    "Mijn nummer is {}.\nWanneer kan ik mijn paspoort ophalen?",
];

/// Whether eight digits read as a date (`DDMMYYYY`, `YYYYMMDD`): never an eight-digit BSN.
fn is_date_like(d: &str) -> bool {
    let n = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
    let ok = |day: u32, month: u32, year: u32| {
        (1..=31).contains(&day) && (1..=12).contains(&month) && (1900..=2099).contains(&year)
    };
    ok(n(0..2), n(2..4), n(4..8)) || ok(n(6..8), n(4..6), n(0..4))
}

/// IBAN countries and lengths used for generation: every registry country.
const IBAN_COUNTRIES: &[(&str, usize)] = &[
    ("NL", 18),
    ("BE", 16),
    ("DE", 22),
    ("FR", 27),
    ("GB", 22),
    ("ES", 24),
    ("IT", 27),
    ("PL", 28),
    ("TR", 26),
    ("RO", 24),
    ("BG", 22),
    ("PT", 25),
    ("UA", 29),
    ("EG", 29),
    ("IQ", 23),
    ("LY", 25),
    ("SD", 18),
    ("SO", 23),
    ("YE", 30),
    ("RU", 33),
    ("BY", 28),
    ("LC", 32),
    ("SC", 31),
    ("NI", 28),
    ("HN", 28),
    ("MN", 20),
    ("OM", 23),
    ("DJ", 27),
    ("BI", 27),
    ("FK", 18),
    ("VA", 22),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("NO", 15),
    ("MT", 31),
    ("CH", 21),
    ("AT", 20),
    ("IE", 22),
    ("SE", 24),
    ("DK", 18),
    ("FI", 18),
    ("LU", 20),
    ("GR", 27),
    ("HU", 28),
    ("CZ", 24),
    ("SK", 24),
    ("SI", 19),
    ("HR", 21),
    ("RS", 22),
    ("BA", 20),
    ("ME", 22),
    ("MK", 19),
    ("AL", 28),
    ("XK", 20),
    ("LT", 20),
    ("LV", 21),
    ("EE", 20),
    ("IS", 26),
    ("CY", 28),
    ("MD", 24),
    ("GE", 22),
    ("AZ", 28),
    ("KZ", 20),
    ("SA", 24),
    ("AE", 23),
    ("QA", 29),
    ("KW", 30),
    ("BH", 22),
    ("JO", 30),
    ("LB", 28),
    ("IL", 23),
    ("PS", 29),
    ("PK", 24),
    ("TN", 24),
    ("MR", 27),
    ("MU", 30),
    ("BR", 29),
    ("CR", 22),
    ("DO", 28),
    ("GT", 28),
    ("VG", 24),
    ("AD", 24),
    ("MC", 27),
    ("SM", 27),
    ("LI", 21),
    ("GI", 23),
    ("GL", 18),
    ("FO", 18),
];

fn iban() -> impl Strategy<Value = String> {
    (prop::sample::select(IBAN_COUNTRIES), "[A-Z0-9]{30}").prop_map(|((country, len), bban)| {
        let bban = &bban[..len - 4];
        let rearranged = format!("{bban}{country}00");
        let remainder = rearranged.chars().fold(0u32, |acc, c| {
            let v = c.to_digit(36).expect("alphanumeric");
            if v < 10 {
                (acc * 10 + v) % 97
            } else {
                (acc * 100 + v) % 97
            }
        });
        let iban = format!("{country}{:02}{bban}", 98 - remainder);
        assert!(is_valid_iban(&iban), "{iban}");
        iban
    })
}

const IBAN_TEMPLATES: &[&str] = &[
    "mijn rekeningnummer is {}, kan ik kwijtschelding krijgen?",
    "Stort het maar op {} graag",
    "IBAN: {}\nWanneer wordt het betaald?",
    "de terugbetaling moet naar {}.",
];

const PHONE_TEMPLATES: &[&str] = &[
    "bel me op {} over mijn paspoort",
    "Mijn telefoonnummer is {}, wanneer is het gemeentehuis open?",
    "u kunt me bereiken via {}.",
    "{} is mijn mobiel, kan iemand terugbellen?",
    "graag terugbellen ({}) over de afvalpas",
];

/// A personal phone number: the country prefix as written (maybe empty) and the digits
/// after it.
fn phone_number() -> impl Strategy<Value = (&'static str, String)> {
    prop_oneof![
        digits(8).prop_map(|d| ("", format!("06{}", to_string(&d)))),
        (
            prop::sample::select(vec![
                "10", "20", "30", "40", "50", "70", "71", "73", "76", "15"
            ]),
            1u32..10,
            digits(6)
        )
            .prop_map(|(area, first, d)| ("", format!("0{area}{first}{}", to_string(&d)))),
        digits(8).prop_map(|d| ("+31", format!("6{}", to_string(&d)))),
        digits(8).prop_map(|d| ("0031", format!("6{}", to_string(&d)))),
        digits(8).prop_map(|d| ("+31 (0)", format!("6{}", to_string(&d)))),
        digits(8).prop_map(|d| ("+32", format!("4{}", to_string(&d)))),
        digits(9).prop_map(|d| ("+49", format!("1{}", to_string(&d)))),
    ]
}

const EMAIL_TEMPLATES: &[&str] = &[
    "mail mij op {} over mijn aanvraag",
    "Mijn e-mail: {}. Wanneer is het gemeentehuis open?",
    "stuur de bevestiging naar {} alsjeblieft",
    "{} is mijn mailadres",
];

const AT_FORMS: &[&str] = &[
    "@",
    " @ ",
    "@ ",
    " @",
    "[at]",
    " [at] ",
    "(at)",
    " (at) ",
    " at ",
    " AT ",
    "{at}",
    " apenstaartje ",
    "＠",
    "[@]",
];
const DOT_FORMS: &[&str] = &[
    ".", " . ", "[dot]", " [dot] ", "(dot)", " dot ", " punt ", "[punt]", " (punt) ", " DOT ",
];

fn email() -> impl Strategy<Value = (String, Vec<String>)> {
    (
        "[bcdfghjklmnpqrstvwxz]{5,8}",
        prop::option::of("[bcdfghjklmnpqrstvwxz]{2,5}"),
        "[bcdfghjklmnpqrstvwxz]{5,8}",
        prop::sample::select(vec!["nl", "com", "org", "eu", "net", "be"]),
        prop::sample::select(AT_FORMS),
        prop::sample::select(DOT_FORMS),
        prop::sample::select(vec![None, Some("\u{200B}"), Some("\u{AD}")]),
    )
        .prop_map(|(local, second, domain, tld, at, dot, invisible)| {
            let local_full = match &second {
                Some(s) => format!("{local}.{s}"),
                None => local.clone(),
            };
            let mut shown_local = local_full.clone();
            if let Some(inv) = invisible {
                shown_local.insert_str(2, inv);
            }
            let address = format!("{shown_local}{at}{domain}{dot}{tld}");
            let mut words = vec![local, domain];
            words.extend(second);
            (address, words)
        })
}

const DOCUMENT_TEMPLATES: &[&str] = &[
    "mijn paspoortnummer is {}, is het nog geldig?",
    "Documentnummer: {} en ik wil een afspraak",
    "het nummer van mijn ID-kaart is {}.",
    "ik ben mijn paspoort kwijt, nummer {}",
];

/// A Dutch passport or ID-card number: two letters, six letters or digits (no O), a digit,
/// at least two digits in all.
fn document_number() -> impl Strategy<Value = String> {
    ("[A-NP-Z]{2}[A-NP-Z0-9]{6}", 0u32..10).prop_filter_map("two digits", |(head, last)| {
        let number = format!("{head}{last}");
        (number.bytes().filter(u8::is_ascii_digit).count() >= 2).then_some(number)
    })
}

const BIRTH_TEMPLATES: &[&str] = &[
    "ik ben geboren op {}, kan ik een paspoort aanvragen?",
    "Geboortedatum: {}\nWat kost een rijbewijs?",
    "mijn zoon (geb. {}) heeft een paspoort nodig",
    "{} geboren, mag ik al stemmen?",
    "mijn geboortedatum is {}.",
];

/// A birth date in one of the forms citizens write.
fn birth_date() -> impl Strategy<Value = String> {
    (1u32..=28, 1u32..=12, 1925u32..2020, 0usize..10).prop_map(|(d, m, y, form)| match form {
        0 => format!("{d:02}-{m:02}-{y}"),
        1 => format!("{d}/{m}/{y}"),
        2 => format!("{d:02}.{m:02}.{y}"),
        3 => format!("{d:02} - {m:02} - {y}"),
        4 => format!("{d:02}{m:02}{y}"),
        5 => format!("{y}{m:02}{d:02}"),
        6 => format!("{d:02} {m:02} {y}"),
        7 => format!("{y}-{m:02}-{d:02}"),
        8 => format!("{d} {} {y}", crate::text::DUTCH_MONTHS[m as usize - 1]),
        _ => format!("{d:02}{m:02}{:02}", y % 100),
    })
}

/// `text` with its ASCII digits written in the style's scripts and its invisible characters
/// inserted between digits.
fn respell_digits(text: &str, style: &Style) -> String {
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let script = DIGIT_ZEROS[style.scripts[i % style.scripts.len()]];
        match c.to_digit(10) {
            Some(d) => out.push(char::from_u32(script + d).expect("digit")),
            None => out.push(*c),
        }
        if i + 1 < chars.len() && c.is_ascii_digit() {
            for &(at, invisible) in &style.invisibles {
                if at % (chars.len() - 1) == i {
                    out.push_str(invisible);
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn bsn_spellings_never_survive(
        bsn in bsn_digits(),
        style in style(4),
        template in any::<usize>(),
        eight in any::<bool>(),
    ) {
        // A BSN whose leading zero was dropped needs a BSN cue: the first template has one.
        let (datum, template) = match bsn.strip_prefix('0') {
            Some(rest) if eight && !is_date_like(rest) => (rest.to_string(), 0),
            _ => (bsn, template),
        };
        let text = embed(BSN_TEMPLATES, template, &spell(&datum, &style));
        assert_gone(&text, PiiKind::Bsn)?;
    }

    #[test]
    fn iban_spellings_never_survive(
        iban in iban(),
        mut style in style(5),
        template in any::<usize>(),
        form in 0usize..5,
    ) {
        // IBAN letters stay ASCII unless the whole datum is full-width.
        if style.scripts.iter().any(|&s| s != 0 && s != 1) {
            style.scripts = vec![0];
        }
        // Spaces and hyphens between IBAN groups (others are not IBAN spellings), and
        // the country code and check digits together, as printed.
        if !is_code_separator(style.separator) {
            style.separator = " ";
        }
        if !style.sizes.is_empty() {
            style.sizes.insert(0, 4);
        }
        let spelled = spell(&iban, &style);
        let datum = match form {
            0 => spelled.to_lowercase(),
            // Glued to a word: only upper case against lower case is recognisable.
            1 => format!("rekening{}", spell(&iban, &Style { sizes: Vec::new(), ..style.clone() })),
            2 => format!("{}graag", spell(&iban, &Style { sizes: Vec::new(), ..style.clone() })),
            _ => spelled,
        };
        let text = embed(IBAN_TEMPLATES, template, &datum);
        assert_gone(&text, PiiKind::Iban)?;
    }

    #[test]
    fn phone_spellings_never_survive(
        (prefix, number) in phone_number(),
        style in style(4),
        template in any::<usize>(),
    ) {
        let join = if prefix.is_empty() || style.sizes.is_empty() { "" } else { style.separator };
        let datum = format!("{}{join}{}", respell_digits(prefix, &style), spell(&number, &style));
        let text = embed(PHONE_TEMPLATES, template, &datum);
        assert_gone(&text, PiiKind::Phone)?;
    }

    #[test]
    fn email_spellings_never_survive(
        (address, words) in email(),
        template in any::<usize>(),
    ) {
        let text = embed(EMAIL_TEMPLATES, template, &address);
        let r = redact(&text);
        let view = Canonical::new(&r.text).text().to_lowercase();
        for word in &words {
            prop_assert!(
                !view.split(|c: char| !c.is_alphanumeric()).any(|w| w == word),
                "{word:?} survived in {:?} (from {text:?})",
                r.text
            );
        }
        prop_assert!(r.kinds().contains(&PiiKind::Email), "{text:?}: {:?}", r.kinds());
        prop_assert_eq!(redact(&r.text).text, r.text.clone());
    }

    #[test]
    fn document_number_spellings_never_survive(
        number in document_number(),
        mut style in style(4),
        template in any::<usize>(),
        lower in any::<bool>(),
    ) {
        // Letters stay ASCII or all full-width; separators are spaces or hyphens.
        if style.scripts.iter().any(|&s| s != 0 && s != 1) {
            style.scripts = vec![0];
        }
        if !is_code_separator(style.separator) || style.sizes == [1] {
            style.separator = " ";
            style.sizes = vec![4];
        }
        // A number in lower case is only recognisable written together.
        let datum = if lower {
            spell(&number.to_lowercase(), &Style { sizes: Vec::new(), ..style })
        } else {
            spell(&number, &style)
        };
        let text = embed(DOCUMENT_TEMPLATES, template, &datum);
        let r = redact(&text);
        let view = Canonical::new(&r.text);
        prop_assert!(
            !view.text().chars().any(|c| c.is_ascii_digit()),
            "digits survived: {:?} (from {:?})", r.text, text
        );
        prop_assert!(r.kinds().contains(&PiiKind::DocumentNumber), "{text:?}: {:?}", r.kinds());
        prop_assert_eq!(redact(&r.text).text, r.text.clone());
    }

    #[test]
    fn birth_date_spellings_never_survive(
        date in birth_date(),
        style in style(4),
        template in any::<usize>(),
    ) {
        let text = embed(BIRTH_TEMPLATES, template, &respell_digits(&date, &style));
        assert_gone(&text, PiiKind::DateOfBirth)?;
    }
}

/// Pieces the fuzzing mixes into arbitrary text: what the canonical view and the detectors
/// treat specially.
const SPECIAL: &[&str] = &[
    "\u{200B}",
    "\u{200D}",
    "\u{AD}",
    "\u{FEFF}",
    "\u{200F}",
    "\u{0301}",
    "\u{0308}",
    "\u{20E3}",
    "\u{FE0F}",
    "１",
    "٣",
    "۵",
    "५",
    "𝟕",
    "\u{A0}",
    "\u{3000}",
    "\t",
    "\n",
    "\r\n",
    "-",
    "\u{2013}",
    "\u{2212}",
    "/",
    "\u{2044}",
    ".",
    ",",
    ":",
    "@",
    "＠",
    "[at]",
    " at ",
    " punt ",
    "(dot)",
    "+31",
    "+",
    "06",
    "0031",
    "(0)",
    "NL91",
    "nl",
    "ABNA",
    "bsn",
    "geboren",
    "paspoort",
    "nummer",
    "klantnummer",
    "[BSN]",
    "[EMAIL]",
    "[TELEFOON]",
    "[IBAN]",
    "(",
    ")",
    "ﬁ",
    "½",
    "①",
    "㍱",
    "e\u{301}",
    "😀",
    "1️⃣",
    "ß",
    "İ",
    "ǅ",
    "Ⅻ",
    "²",
    " ",
    "  ",
];

/// The longest placeholder: a finding may make the text longer by at most this much.
fn longest_placeholder() -> usize {
    ALL_KINDS
        .iter()
        .map(|k| k.placeholder().len())
        .max()
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3_000))]

    #[test]
    fn fuzzed_text_is_redacted_consistently(
        parts in prop::collection::vec(
            prop_oneof![
                2 => "\\PC{1,3}",
                3 => prop::sample::select(SPECIAL).prop_map(String::from),
                2 => "[0-9]{1,5}",
            ],
            0..40,
        )
    ) {
        let text = parts.concat();
        let r = redact(&text);
        // Findings: sorted, disjoint, on character boundaries of the original.
        let mut pos = 0;
        for f in &r.findings {
            prop_assert!(pos <= f.start && f.start < f.end && f.end <= text.len(), "{:?}", r.findings);
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            pos = f.end;
        }
        // Never longer than the input plus one placeholder per finding, which each
        // replace at least one character.
        prop_assert!(r.text.len() <= text.len() + r.findings.len() * longest_placeholder());
        prop_assert!(r.findings.len() <= text.chars().count());
        // Idempotent.
        let again = redact(&r.text);
        prop_assert_eq!(&again.text, &r.text, "from {:?}", text);
        prop_assert!(again.findings.is_empty(), "{:?} in {:?}", again.findings, r.text);
    }
}
