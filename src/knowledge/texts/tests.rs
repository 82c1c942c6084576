//! The national defaults, overriding them, and each diagnostic a texts file can get.

use std::path::Path;

use super::*;

fn parse(text: &str) -> (Texts, Vec<Diagnostic>) {
    parse_texts(Path::new("texts.toml"), text, Texts::national())
}

/// The one diagnostic `text` gets, with its line.
fn only(text: &str) -> (Problem, usize, String) {
    let (_, diags) = parse(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    (d.problem, d.line, format!("{}: {}", d.message, d.hint))
}

#[test]
fn the_national_defaults_are_complete_and_clean() {
    let (_, diags) = parse_texts(
        Path::new("defaults.toml"),
        DEFAULTS,
        &Texts {
            forms: vec![Default::default(); TextKey::ALL.len()],
            crisis: Vec::new(),
            overrides: Vec::new(),
        },
    );
    assert!(diags.is_empty(), "{diags:#?}");
    let t = Texts::national();
    for &key in TextKey::ALL {
        for form in Form::ALL {
            let s = t.get(key, form);
            let may_be_empty = key == TextKey::AnswerOnlyDutch && form != Form::En;
            assert!(
                !s.is_empty() || may_be_empty,
                "{}.{} is missing from defaults.toml",
                key.name(),
                form.name()
            );
        }
    }
    assert!(t.is_crisis("Ik wil NIET MEER LEVEN"));
    assert!(!t.is_crisis("Wat kost een paspoort?"));
}

#[test]
fn the_defaults_keep_todays_wording() {
    let t = Texts::national();
    assert_eq!(
        t.get(TextKey::Fallback, Form::U),
        "Daar kan ik u helaas niet mee helpen. Ik beantwoord vragen over de diensten van {name}, zoals paspoort en rijbewijs, verhuizen, afval, parkeren, vergunningen, belastingen en zorg en ondersteuning. Stel gerust een vraag daarover."
    );
    assert_eq!(
        t.get(TextKey::NotUnderstood, Form::Je),
        "Sorry, dat begrijp ik niet goed. Kun je je vraag anders stellen, bijvoorbeeld \"Wat kost een paspoort?\" of \"Wanneer wordt het afval opgehaald?\""
    );
    assert_eq!(
        t.get(TextKey::AnswerOnlyDutch, Form::En),
        "(This answer is only available in Dutch.)\n\n"
    );
}

#[test]
fn a_municipality_overrides_a_subset_of_texts_and_forms() {
    let (t, diags) = parse(
        "[fallback]\nu = \"Daar weet ik niets van. Bel {phone}.\"\n\n[handoff_open]\nen = \"A colleague of {department} will answer.\"\n",
    );
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(
        t.get(TextKey::Fallback, Form::U),
        "Daar weet ik niets van. Bel {phone}."
    );
    // The forms and texts the file leaves out keep the national wording.
    let national = Texts::national();
    for (key, form) in [
        (TextKey::Fallback, Form::Je),
        (TextKey::Fallback, Form::En),
        (TextKey::HandoffOpen, Form::U),
        (TextKey::Greeting, Form::U),
    ] {
        assert_eq!(t.get(key, form), national.get(key, form));
    }
    assert_eq!(
        t.get(TextKey::HandoffOpen, Form::En),
        "A colleague of {department} will answer."
    );
}

#[test]
fn crisis_phrases_extend_the_national_list() {
    let (t, diags) = parse("[crisis]\nphrases = [\n  \"Ik zie het niet meer zitten\",\n]\n");
    assert!(diags.is_empty(), "{diags:#?}");
    assert!(t.is_crisis("eerlijk gezegd: ik zie het niet meer zitten"));
    // The national phrases stay: a municipality cannot drop one by accident.
    assert!(t.is_crisis("huiselijk geweld"));
    assert_eq!(
        t.crisis_phrases().len(),
        Texts::national().crisis_phrases().len() + 1
    );
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    let (p, line, msg) = only("[fallback]\nu = \"Daar weet ik niets van.\n");
    assert_eq!((p, line), (Problem::Syntax, 2), "{msg}");
}

#[test]
fn a_text_that_is_not_a_table_is_a_syntax_error_with_a_hint() {
    let (p, line, msg) = only("\n\nfallback = \"Daar weet ik niets van.\"\n");
    assert_eq!((p, line), (Problem::Syntax, 3), "{msg}");
    assert!(msg.contains("[fallback]"), "{msg}");
}

#[test]
fn an_unknown_text_key_is_reported_with_the_known_ones() {
    let (p, line, msg) = only("[fallback]\nu = \"Bel {phone}.\"\n\n[falback]\nu = \"x\"\n");
    assert_eq!((p, line), (Problem::UnknownField, 4), "{msg}");
    assert!(
        msg.contains("`falback`") && msg.contains("fallback,"),
        "{msg}"
    );
}

#[test]
fn an_unknown_form_is_reported() {
    let (p, line, msg) = only("[fallback]\nu = \"Bel ons.\"\nnl = \"Bel ons.\"\n");
    assert_eq!((p, line), (Problem::UnknownField, 3), "{msg}");
    assert!(
        msg.contains("`nl`") && msg.contains("je (informeel"),
        "{msg}"
    );
}

#[test]
fn an_empty_text_is_an_error_and_the_default_stays() {
    let (t, diags) = parse("[fallback]\nu = \"  \"\n");
    assert_eq!(diags.len(), 1);
    assert_eq!(
        (diags[0].problem, diags[0].line),
        (Problem::InvalidValue, 2)
    );
    assert!(diags[0].is_error());
    assert!(diags[0].message.contains("leeg"));
    assert_eq!(
        t.get(TextKey::Fallback, Form::U),
        Texts::national().get(TextKey::Fallback, Form::U)
    );
    // A prefix that may be left out may be empty.
    assert!(parse("[answer_only_dutch]\nu = \"\"\n").1.is_empty());
}

#[test]
fn a_value_that_is_not_text_is_reported() {
    let (p, line, _) = only("[fallback]\nu = 3\n");
    assert_eq!((p, line), (Problem::InvalidValue, 2));
}

#[test]
fn a_placeholder_loket_cannot_fill_there_is_reported() {
    let (p, line, msg) = only("[fallback]\nje = \"Ik zet je door naar {department}.\"\n");
    assert_eq!((p, line), (Problem::Placeholder, 2), "{msg}");
    assert!(
        msg.contains("{department}") && msg.contains("{name}"),
        "{msg}"
    );
    // Where Loket fills it, it is fine.
    assert!(
        parse("[handoff_open]\nje = \"Een collega van {department} helpt je.\"\n")
            .1
            .is_empty()
    );
}

#[test]
fn a_missing_required_placeholder_is_reported() {
    let (p, line, msg) = only("[privacy]\nu = \"Stuur geen persoonsgegevens via de chat.\"\n");
    assert_eq!((p, line), (Problem::Placeholder, 2), "{msg}");
    assert!(
        msg.contains("{url}") && msg.contains("beveiligde omgeving"),
        "{msg}"
    );
    let (p, _, msg) = only("[handoff_closed]\nu = \"We zijn gesloten.\"\n");
    assert_eq!(p, Problem::Placeholder);
    assert!(msg.contains("{when}"), "{msg}");
}

#[test]
fn the_wrong_form_of_address_is_a_warning() {
    let (_, diags) = parse("[thanks]\nu = \"Graag gedaan! Heb je nog een vraag?\"\n");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!((diags[0].problem, diags[0].line), (Problem::Tone, 2));
    assert!(!diags[0].is_error());
}

#[test]
fn a_form_the_tone_does_not_use_is_a_warning() {
    let (t, diags) =
        parse("[thanks]\nje = \"Graag gedaan!\"\n\n[fallback]\nu = \"Nee.\"\nje = \"Nee.\"\n");
    assert!(diags.is_empty());
    let w = t.unused_forms(Path::new("texts.toml"), Tone::U);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!((w[0].problem, w[0].line), (Problem::Tone, 2));
    assert!(w[0].message.contains("`thanks`"), "{}", w[0].message);
    assert!(t.unused_forms(Path::new("texts.toml"), Tone::Je).is_empty());
}

#[test]
fn crisis_diagnostics() {
    let (p, line, msg) =
        only("[crisis]\nphrases = [\n  \"wil niet meer\",\n  \"pijn\",\n  \"nee\",\n]\n");
    assert_eq!((p, line), (Problem::InvalidValue, 5), "{msg}");
    assert!(msg.contains("te kort"), "{msg}");
    let (p, line, _) = only("[crisis]\nwoorden = [\"help mij\"]\n");
    assert_eq!((p, line), (Problem::UnknownField, 2));
    let (p, line, _) = only("[crisis]\nphrases = \"help mij\"\n");
    assert_eq!((p, line), (Problem::InvalidValue, 2));
}

#[test]
fn opening_sentences_follow_the_texts() {
    let (t, diags) = parse("[opening_tomorrow]\nu = \"morgenochtend om {time}\"\n");
    assert!(diags.is_empty());
    let time = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
    assert_eq!(
        t.describe_opening(&Opening::Tomorrow(time), Tone::U, Lang::Nl),
        "morgenochtend om 9:00"
    );
    let date = NaiveDate::from_ymd_opt(2026, 1, 6).unwrap();
    assert_eq!(
        t.describe_opening(&Opening::Later(date, time), Tone::Je, Lang::Nl),
        "dinsdag 6 januari vanaf 9:00"
    );
    assert_eq!(
        t.describe_opening(&Opening::ThisWeek(date, time), Tone::U, Lang::En),
        "on Tuesday from 9:00"
    );
}
