//! Telling an English message from a Dutch one, and spotting greetings, follow-ups and
//! yes/no answers: small word lists suffice for the short messages citizens send.

use super::Lang;

const EN: &[&str] = &[
    "the", "is", "are", "how", "what", "where", "when", "can", "do", "does", "my", "i", "you",
    "please", "need", "want", "much", "cost", "get", "new", "to", "for", "of", "a", "an", "it",
    "hello", "hi", "thanks", "thank", "which", "who", "have", "has", "lost", "renew", "apply",
    "bin", "waste", "permit", "tax", "moving", "passport", "with", "about", "would", "like",
];
const NL: &[&str] = &[
    "de",
    "het",
    "een",
    "is",
    "hoe",
    "wat",
    "waar",
    "wanneer",
    "kan",
    "ik",
    "mijn",
    "u",
    "je",
    "graag",
    "moet",
    "wil",
    "kost",
    "van",
    "voor",
    "op",
    "aan",
    "met",
    "en",
    "niet",
    "er",
    "dat",
    "die",
    "zijn",
    "heb",
    "hallo",
    "bedankt",
    "dank",
    "welke",
    "wie",
    "kwijt",
    "aanvragen",
    "paspoort",
    "afval",
    "vergunning",
    "belasting",
    "verhuizen",
    "ook",
    "nog",
    "om",
    "te",
    "mn",
];

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// English when clearly more English than Dutch function words; Dutch otherwise.
pub fn detect(text: &str) -> Lang {
    let ws = words(text);
    let en = ws.iter().filter(|w| EN.contains(&w.as_str())).count();
    let nl = ws.iter().filter(|w| NL.contains(&w.as_str())).count();
    if en >= 1 && en > nl {
        Lang::En
    } else {
        Lang::Nl
    }
}

const GREETINGS: &[&str] = &[
    "hallo",
    "hoi",
    "hey",
    "hi",
    "hello",
    "goedemorgen",
    "goedemiddag",
    "goedenavond",
    "goedendag",
    "dag",
    "beste",
    "morgen",
    "middag",
    "avond",
    "yo",
    "heey",
    "hee",
    "good",
    "morning",
    "afternoon",
    "evening",
    "daar",
    "allemaal",
    "gemeente",
];

/// When a message opens with a greeting and then asks something, the question part.
pub fn strip_greeting(text: &str) -> Option<&str> {
    let mut rest = text.trim_start();
    let mut stripped = false;
    loop {
        let end = rest
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(rest.len());
        let word = rest[..end].to_lowercase();
        if end > 0 && GREETINGS.contains(&word.as_str()) {
            stripped = true;
            rest = rest[end..].trim_start_matches(|c: char| !c.is_alphanumeric());
        } else {
            break;
        }
    }
    let meaningful = words(rest).len();
    (stripped && meaningful >= 2).then_some(rest)
}

/// Words of a message that only announces a question ("ik heb een vraag", "mag ik iets
/// vragen?", "I have a quick question").
const ANNOUNCE: &[&str] = &[
    "ik",
    "heb",
    "had",
    "een",
    "nog",
    "paar",
    "korte",
    "kleine",
    "mag",
    "kan",
    "wil",
    "zou",
    "iets",
    "wat",
    "even",
    "graag",
    "u",
    "je",
    "jullie",
    "stellen",
    "vragen",
    "vraag",
    "vraagje",
    "vraagjes",
    "over",
    "i",
    "have",
    "a",
    "quick",
    "short",
    "small",
    "question",
    "questions",
    "can",
    "may",
    "ask",
    "something",
    "you",
    "got",
    "one",
    "hoi",
    "hallo",
    "goedemorgen",
    "goedemiddag",
    "goedenavond",
    "hello",
    "hi",
    "beste",
    "dag",
];

/// The message only announces that a question will follow, without the question.
pub fn announces_a_question(text: &str) -> bool {
    let ws = words(text);
    !ws.is_empty()
        && ws.len() <= 10
        && ws.iter().all(|w| ANNOUNCE.contains(&w.as_str()))
        && ws.iter().any(|w| {
            matches!(
                w.as_str(),
                "vraag" | "vraagje" | "vraagjes" | "vragen" | "question" | "questions" | "ask"
            )
        })
}

/// Words that refer back to what was said before: "hoe lang duurt *het*?", "kan *dat* ook
/// online?", "how early can I do *that*?".
const REFERRING: &[&str] = &[
    "het", "dat", "dit", "daar", "daarvoor", "daarmee", "daarna", "daarbij", "daarvan", "daarin",
    "erbij", "ervoor", "ervan", "it", "that", "this", "there", "them",
];

/// A short message that refers back to the conversation instead of naming a thing: at most
/// ten words, one of them a referring word. What it is about comes from the topic.
pub fn refers_back(text: &str) -> bool {
    let ws = words(text);
    !ws.is_empty() && ws.len() <= 10 && ws.iter().any(|w| REFERRING.contains(&w.as_str()))
}

/// "ja" / "nee" and their variants; `None` when the message is neither. "Oké, bedankt" and
/// "ok thanks, bye" close the conversation: an "ok" with thanks or a goodbye is no yes.
pub fn yes_no(text: &str) -> Option<bool> {
    let ws = words(text);
    if ws.is_empty() || ws.len() > 3 {
        return None;
    }
    let ok = matches!(ws[0].as_str(), "ok" | "oke" | "oké" | "okay");
    if ok && ws[1..].iter().any(|w| CLOSING.contains(&w.as_str())) {
        return None;
    }
    match ws[0].as_str() {
        "ja" | "jawel" | "jazeker" | "klopt" | "yes" | "yep" | "jep" | "ok" | "oke" | "okay"
        | "correct" | "precies" | "oké" => Some(true),
        "nee" | "neen" | "no" | "nope" | "niet" | "neuh" => Some(false),
        _ => None,
    }
}

/// A correction: "nee, ik bedoel niet mijn paspoort maar mijn rijbewijs", "geen huwelijk
/// maar een geregistreerd partnerschap", "I don't mean the passport but my driving
/// licence". Returns the message without what the citizen does *not* mean (from the
/// negation up to "maar" / "but"), which would otherwise pull the reading towards it, and
/// whether the message says outright that the previous reading was wrong ("bedoel",
/// "mean"), in which case the conversation's topic is no guide either. `None` when there is
/// no negation before a "maar" / "but".
pub fn correction(text: &str) -> Option<(String, bool)> {
    let lower = text.to_lowercase();
    if lower.len() != text.len() {
        // Lowercasing changed the length (rare letters): the offsets below would not fit.
        return None;
    }
    // Byte offsets of the words in both texts.
    let mut spans: Vec<(usize, &str)> = Vec::new();
    let mut start = None;
    for (i, c) in lower.char_indices() {
        let part = c.is_alphanumeric() || c == '\'';
        match (part, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, &lower[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, &lower[s..]));
    }
    let but = spans
        .iter()
        .position(|(_, w)| matches!(*w, "maar" | "but"))?;
    let not = spans[..but]
        .iter()
        .rposition(|(_, w)| matches!(*w, "niet" | "geen" | "not" | "don't" | "dont"))?;
    // At most a few words are negated: "niet mijn paspoort maar …", not a whole sentence.
    if but - not > 6 {
        return None;
    }
    let cut = spans[not].0;
    let resume = spans[but].0;
    // `get`: offsets that fall inside a letter of the original (never for ASCII) give up.
    let rest = format!("{}{}", text.get(..cut)?, text.get(resume..)?);
    let outright = spans[..but]
        .iter()
        .any(|(_, w)| matches!(*w, "bedoel" | "bedoelde" | "mean" | "meant"));
    Some((
        rest.split_whitespace().collect::<Vec<_>>().join(" "),
        outright,
    ))
}

/// Words of thanks and goodbye that follow an "ok" when the citizen is done.
const CLOSING: &[&str] = &[
    "bedankt",
    "dank",
    "dankje",
    "dankjewel",
    "dankuwel",
    "thanks",
    "thank",
    "thx",
    "thnx",
    "doei",
    "dag",
    "bye",
    "doeg",
    "groetjes",
    "merci",
    "cheers",
];

#[cfg(test)]
mod tests {

    proptest::proptest! {
        /// Any text, with the words a correction looks for among odd letters: no panic, and
        /// what is left is never longer than the message.
        #[test]
        fn a_correction_never_breaks_on_any_text(
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("niet".to_string()),
                    proptest::strategy::Just("maar".to_string()),
                    proptest::strategy::Just("İẞ".to_string()),
                    "\\PC{0,6}",
                ],
                0..12,
            )
        ) {
            let text = words.join(" ");
            if let Some((rest, _)) = correction(&text) {
                proptest::prop_assert!(rest.len() <= text.len());
            }
        }
    }

    #[test]
    fn a_correction_drops_what_is_not_meant() {
        assert_eq!(
            correction("nee sorry ik bedoel niet mijn paspoort maar mijn rijbewijs"),
            Some(("nee sorry ik bedoel maar mijn rijbewijs".into(), true))
        );
        assert_eq!(
            correction(
                "wij willen geen huwelijk maar wel een geregistreerd partnerschap, hoe regel ik dat?"
            ),
            Some((
                "wij willen maar wel een geregistreerd partnerschap, hoe regel ik dat?".into(),
                false
            ))
        );
        assert_eq!(
            correction("I don't mean the passport but my driving licence"),
            Some(("I but my driving licence".into(), true))
        );
        // No negation before "maar", or a negation far from it: not a correction.
        assert_eq!(correction("ik wil verhuizen maar weet niet hoe"), None);
        assert_eq!(correction("wat kost een paspoort?"), None);
        // Letters whose lowercase has another length: the offsets would not fit.
        assert_eq!(correction("İk bedoel niet dit maar dat"), None);
        assert_eq!(
            correction(
                "ik kan niet goed lopen en de stoep voor mijn huis is al weken kapot maar niemand doet iets"
            ),
            None
        );
    }

    use super::*;

    #[test]
    fn a_message_that_only_announces_a_question() {
        for t in [
            "Goedemiddag, ik heb een vraag",
            "mag ik iets vragen?",
            "Hoi, ik heb nog een vraagje",
            "Hi, I have a quick question",
        ] {
            assert!(announces_a_question(t), "{t}");
        }
        for t in [
            "ik heb een vraag over mijn paspoort",
            "ik wil een medewerker spreken",
            "hallo",
        ] {
            assert!(!announces_a_question(t), "{t}");
        }
    }

    #[test]
    fn detects_language() {
        assert_eq!(detect("how much does a passport cost?"), Lang::En);
        assert_eq!(detect("wat kost een paspoort?"), Lang::Nl);
        assert_eq!(detect("paspoort"), Lang::Nl);
        assert_eq!(detect("I lost my ID card"), Lang::En);
    }

    #[test]
    fn strips_greetings() {
        assert_eq!(
            strip_greeting("Hallo, wat kost een paspoort?"),
            Some("wat kost een paspoort?")
        );
        assert_eq!(strip_greeting("goedemorgen!"), None);
        assert_eq!(strip_greeting("wat kost een paspoort"), None);
    }

    #[test]
    fn a_short_message_with_a_referring_word_refers_back() {
        for t in [
            "hoe lang duurt het?",
            "kan dat ook online?",
            "hoe lang heb ik daarvoor?",
            "What does it cost?",
            "how early can I do that?",
        ] {
            assert!(refers_back(t), "{t}");
        }
        for t in [
            "wat kost een paspoort?",
            "",
            "ik wil graag weten hoe het zit met de kosten van een paspoort voor mijn dochter van twaalf",
        ] {
            assert!(!refers_back(t), "{t}");
        }
    }

    #[test]
    fn yes_and_no() {
        assert_eq!(yes_no("ja"), Some(true));
        assert_eq!(yes_no("Nee hoor"), Some(false));
        assert_eq!(yes_no("paspoort"), None);
        assert_eq!(yes_no("ok"), Some(true));
        assert_eq!(yes_no("oké graag"), Some(true));
        // An "ok" with thanks or a goodbye closes the conversation; it picks no option.
        assert_eq!(yes_no("ok thanks, bye"), None);
        assert_eq!(yes_no("oke bedankt"), None);
        assert_eq!(yes_no("ja, bedankt"), Some(true));
    }
}
