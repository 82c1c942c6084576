//! Table-driven tests of the decision core with a fixed clock and hand-made understandings
//! (no model, server or database), on the fixture knowledge base in tests/fixtures.

use chrono::{DateTime, Utc};

use super::*;
use crate::knowledge::Tone;
use crate::understand::ScoredIntent;

fn kb() -> KnowledgeBase {
    crate::knowledge::fixture()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// An understanding with the given intent probabilities and entry confidences.
fn u(kb: &KnowledgeBase, intents: &[(&str, f32)], cands: &[(&str, f32)]) -> Understanding {
    Understanding {
        intents: intents
            .iter()
            .map(|(i, p)| ScoredIntent {
                intent: i.to_string(),
                probability: *p,
            })
            .collect(),
        candidates: cands
            .iter()
            .map(|(id, c)| {
                let e = kb.entry(id).unwrap_or_else(|| panic!("fixture entry {id}"));
                Candidate {
                    entry: 0,
                    faq_id: id.to_string(),
                    title: e.title.clone(),
                    intent: e.intent.clone(),
                    confidence: *c,
                    bm25: 1.0,
                    cosine: 0.9,
                    passage: 0.8,
                    on_topic: false,
                }
            })
            .collect(),
        answerable: 0.9,
        answer_at: 0.5,
        answer_at_library: 0.5,
        out_of_scope: intents
            .iter()
            .filter(|(i, _)| *i == "buiten_scope")
            .map(|(_, p)| p)
            .sum(),
        out_of_scope_at: 0.5,
    }
}

/// [`u`] read with the conversation's topic as a prior: the entries `topic` are on it.
fn with_topic(
    kb: &KnowledgeBase,
    intents: &[(&str, f32)],
    cands: &[(&str, f32)],
    topic: &[&str],
) -> Understanding {
    let mut out = u(kb, intents, cands);
    for c in &mut out.candidates {
        c.on_topic = topic.contains(&c.faq_id.as_str());
    }
    out
}

/// A step read on its own (`plain`) and with the conversation's topic (`within`).
fn on_topic(text: &str, plain: Understanding, within: Understanding) -> Step<'_> {
    Step {
        within: Some(within),
        ..step(text, plain)
    }
}

struct Step<'a> {
    text: &'a str,
    pii: &'a [PiiKind],
    u: Understanding,
    within: Option<Understanding>,
    button: Option<&'a str>,
}

fn step<'a>(text: &'a str, u: Understanding) -> Step<'a> {
    Step {
        text,
        pii: &[],
        u,
        within: None,
        button: None,
    }
}

fn run(kb: &KnowledgeBase, ctx: &Context, s: &Step<'_>, now: DateTime<Utc>) -> Outcome {
    let turn = Turn {
        text: s.text,
        pii: s.pii,
        understanding: &s.u,
        within_context: s.within.as_ref(),
        greeted: false,
        button_id: s.button,
    };
    decide(&turn, ctx, kb, &DialogueConfig::default(), now)
}

const MONDAY_10: &str = "2026-11-23T10:00:00+01:00";

#[test]
fn answers_when_confident() {
    let kb = kb();
    let s = step(
        "wat kost een paspoort?",
        u(
            &kb,
            &[("paspoort", 0.95)],
            &[("paspoort-kosten", 0.85), ("paspoort-aanvragen", 0.1)],
        ),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::Answer);
    assert_eq!(o.reply.faq_id.as_deref(), Some("paspoort-kosten"));
    assert!(o.reply.text.contains("€ 84,00"));
    assert_eq!(o.context.last_intent.as_deref(), Some("paspoort"));
}

#[test]
fn clarifies_when_close_and_every_kind_of_pick_works() {
    let kb = kb();
    let s = step(
        "wat kost het",
        u(
            &kb,
            &[("paspoort", 0.5), ("identiteitskaart", 0.45)],
            &[
                ("paspoort-kosten", 0.42),
                ("identiteitskaart-kosten", 0.40),
                ("paspoort-aanvragen", 0.1),
            ],
        ),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::Clarify);
    assert!(o.reply.options.len() >= 2 && o.reply.options.len() <= MAX_OPTIONS);
    assert!(
        o.reply
            .options
            .iter()
            .all(|x| x.title.chars().count() <= OPTION_TITLE_MAX)
    );
    assert!(o.reply.text.contains("1. Kosten paspoort"));
    let ctx = o.context;

    let empty = Understanding::default();
    for (text, button, expected) in [
        ("2", None, "identiteitskaart-kosten"),
        ("1.", None, "paspoort-kosten"),
        ("Kosten ID-kaart", None, "identiteitskaart-kosten"),
        (
            "",
            Some("identiteitskaart-kosten"),
            "identiteitskaart-kosten",
        ),
        ("ja", None, "paspoort-kosten"),
    ] {
        let s = Step {
            text,
            pii: &[],
            u: empty.clone(),
            within: None,
            button,
        };
        let o = run(&kb, &ctx, &s, at("2026-11-23T10:01:00+01:00"));
        assert_eq!(o.reply.action, Action::Answer, "pick {text:?} {button:?}");
        assert_eq!(o.reply.faq_id.as_deref(), Some(expected), "pick {text:?}");
        assert_eq!(o.reply.confidence, 1.0);
        assert!(o.context.options.is_empty());
    }
    let s = step("nee", empty.clone());
    let o = run(&kb, &ctx, &s, at("2026-11-23T10:01:00+01:00"));
    assert_eq!(o.reply.action, Action::Clarify);
    assert!(o.reply.text.contains("andere woorden"));
}

#[test]
fn a_follow_up_that_refers_back_is_asked_about_the_topic_not_taken_for_out_of_scope() {
    let kb = kb();
    let first = step(
        "paspoort aanvragen",
        u(&kb, &[("paspoort", 0.9)], &[("paspoort-aanvragen", 0.8)]),
    );
    let ctx = run(&kb, &Context::default(), &first, at(MONDAY_10)).context;
    let topic = ["paspoort-aanvragen", "paspoort-kosten", "paspoort-kind"];
    let later = at("2026-11-23T10:02:00+01:00");
    // "Hoe lang duurt het?" says nothing a municipality does: on its own it leans out of
    // scope and finds other entries; with the topic, two of its entries are close.
    let plain = || {
        u(
            &kb,
            &[("buiten_scope", 0.6), ("paspoort", 0.1)],
            &[("grofvuil-ophalen", 0.3), ("paspoort-kosten", 0.2)],
        )
    };
    let within = [
        ("grofvuil-ophalen", 0.3),
        ("paspoort-kosten", 0.3),
        ("paspoort-aanvragen", 0.25),
    ];
    let s = on_topic(
        "hoe lang duurt het?",
        plain(),
        with_topic(&kb, &[("buiten_scope", 0.3)], &within, &topic),
    );
    let o = run(&kb, &ctx, &s, later);
    assert_eq!(o.reply.action, Action::Clarify, "{}", o.reply.text);
    let offered: Vec<&str> = o.reply.options.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(offered, ["paspoort-kosten", "paspoort-aanvragen"]);
    // A message that names something is not read this way: the rule needs a word that
    // refers back.
    let s = on_topic(
        "hoe lang duurt een treinreis naar parijs",
        plain(),
        with_topic(&kb, &[("buiten_scope", 0.3)], &within, &topic),
    );
    let o = run(&kb, &ctx, &s, later);
    assert_eq!(o.reply.action, Action::Fallback, "{}", o.reply.text);
}

#[test]
fn follow_up_stays_on_the_topic() {
    let kb = kb();
    let first = step(
        "paspoort aanvragen",
        u(&kb, &[("paspoort", 0.9)], &[("paspoort-aanvragen", 0.8)]),
    );
    let o = run(&kb, &Context::default(), &first, at(MONDAY_10));
    assert_eq!(o.reply.faq_id.as_deref(), Some("paspoort-aanvragen"));
    let ctx = o.context;
    for (text, within, expected) in [
        (
            "en wat kost dat?",
            vec![("paspoort-kosten", 0.7), ("paspoort-aanvragen", 0.2)],
            "paspoort-kosten",
        ),
        (
            "en voor mijn kinderen?",
            vec![("paspoort-kind", 0.6), ("paspoort-kosten", 0.3)],
            "paspoort-kind",
        ),
    ] {
        let topic = ["paspoort-aanvragen", "paspoort-kosten", "paspoort-kind"];
        let s = on_topic(
            text,
            u(
                &kb,
                &[("identiteitskaart", 0.3), ("paspoort", 0.25)],
                &[("identiteitskaart-kosten", 0.4), ("paspoort-kosten", 0.35)],
            ),
            with_topic(&kb, &[("paspoort", 0.25)], &within, &topic),
        );
        let o = run(&kb, &ctx, &s, at("2026-11-23T10:02:00+01:00"));
        assert_eq!(o.reply.action, Action::Answer, "{text}");
        assert_eq!(o.reply.faq_id.as_deref(), Some(expected), "{text}");
    }
    // After the idle time the context is gone: no follow-up, so a clarifying question.
    let s = on_topic(
        "en wat kost dat?",
        u(
            &kb,
            &[("identiteitskaart", 0.3), ("paspoort", 0.25)],
            &[("identiteitskaart-kosten", 0.4), ("paspoort-kosten", 0.35)],
        ),
        with_topic(
            &kb,
            &[("paspoort", 0.25)],
            &[("paspoort-kosten", 0.7)],
            &["paspoort-kosten"],
        ),
    );
    let o = run(&kb, &ctx, &s, at("2026-11-23T12:00:00+01:00"));
    assert_eq!(o.reply.action, Action::Clarify);
}

#[test]
fn a_message_about_something_else_leaves_the_topic() {
    let kb = kb();
    let first = step(
        "paspoort aanvragen",
        u(&kb, &[("paspoort", 0.9)], &[("paspoort-aanvragen", 0.8)]),
    );
    let ctx = run(&kb, &Context::default(), &first, at(MONDAY_10)).context;
    let topic = ["paspoort-aanvragen", "paspoort-kosten", "paspoort-kind"];
    // Even with the prior, the best entry is another topic's: no follow-up, the message
    // is read on its own.
    let plain = u(
        &kb,
        &[("grofvuil", 0.9)],
        &[("grofvuil-ophalen", 0.9), ("paspoort-kosten", 0.02)],
    );
    let s = on_topic(
        "wanneer halen jullie grofvuil op?",
        plain,
        with_topic(
            &kb,
            &[("grofvuil", 0.9)],
            &[("grofvuil-ophalen", 0.6), ("paspoort-kosten", 0.3)],
            &topic,
        ),
    );
    let o = run(&kb, &ctx, &s, at("2026-11-23T10:02:00+01:00"));
    assert_eq!(o.reply.faq_id.as_deref(), Some("grofvuil-ophalen"));
    // On the topic but not confident with the prior either: read on its own (a clarifying
    // question here), never a guess.
    let s = on_topic(
        "en hoe zit het daarmee?",
        u(
            &kb,
            &[("paspoort", 0.3), ("identiteitskaart", 0.3)],
            &[("paspoort-kosten", 0.4), ("identiteitskaart-kosten", 0.38)],
        ),
        with_topic(
            &kb,
            &[("paspoort", 0.3)],
            &[("paspoort-kosten", 0.45), ("paspoort-kind", 0.4)],
            &topic,
        ),
    );
    let o = run(&kb, &ctx, &s, at("2026-11-23T10:02:00+01:00"));
    assert_eq!(o.reply.action, Action::Clarify);
    // Out of scope on its own, and its own reading does not point at the topic's entry
    // (only the prior does): not a follow-up.
    let s = on_topic(
        "en wordt het morgen mooi weer?",
        u(&kb, &[("buiten_scope", 0.9)], &[("grofvuil-ophalen", 0.3)]),
        with_topic(
            &kb,
            &[("buiten_scope", 0.9)],
            &[("paspoort-kosten", 0.9)],
            &topic,
        ),
    );
    let o = run(&kb, &ctx, &s, at("2026-11-23T10:02:00+01:00"));
    assert_eq!(o.reply.action, Action::Fallback);
    // A follow-up that names nothing reads as out of scope on its own, but its own words
    // find the topic's entry too: answered on the topic.
    let s = on_topic(
        "hoe lang duurt het?",
        u(
            &kb,
            &[("buiten_scope", 0.7)],
            &[("grofvuil-ophalen", 0.3), ("paspoort-kosten", 0.2)],
        ),
        with_topic(
            &kb,
            &[("buiten_scope", 0.7)],
            &[("paspoort-kosten", 0.9)],
            &topic,
        ),
    );
    let o = run(&kb, &ctx, &s, at("2026-11-23T10:02:00+01:00"));
    assert_eq!(o.reply.faq_id.as_deref(), Some("paspoort-kosten"));
    // A weak lean to a person on the topic ("hoe vraag ik dat aan?") is no request for one.
    let s = on_topic(
        "hoe vraag ik dat aan?",
        u(
            &kb,
            &[("medewerker", 0.35), ("paspoort", 0.3)],
            &[("paspoort-aanvragen", 0.5)],
        ),
        with_topic(
            &kb,
            &[("paspoort", 0.6), ("medewerker", 0.2)],
            &[("paspoort-aanvragen", 0.9)],
            &topic,
        ),
    );
    let o = run(&kb, &ctx, &s, at("2026-11-23T10:02:00+01:00"));
    assert_eq!(o.reply.faq_id.as_deref(), Some("paspoort-aanvragen"));
    assert!(o.handoff.is_none());
}

#[test]
fn a_narrowing_answer_to_the_options_picks_from_them() {
    let kb = kb();
    let s = step(
        "wat kost het",
        u(
            &kb,
            &[("paspoort", 0.5), ("identiteitskaart", 0.45)],
            &[("paspoort-kosten", 0.42), ("identiteitskaart-kosten", 0.40)],
        ),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::Clarify);
    let ctx = o.context;
    // Not an option's number or title, but with the options as the topic it is one of them.
    let s = on_topic(
        "die voor op reis buiten europa",
        u(
            &kb,
            &[("paspoort", 0.4), ("identiteitskaart", 0.35)],
            &[("paspoort-aanvragen", 0.35), ("paspoort-kosten", 0.3)],
        ),
        with_topic(
            &kb,
            &[("paspoort", 0.4)],
            &[("paspoort-kosten", 0.8), ("identiteitskaart-kosten", 0.1)],
            &["paspoort-kosten", "identiteitskaart-kosten"],
        ),
    );
    let o = run(&kb, &ctx, &s, at("2026-11-23T10:01:00+01:00"));
    assert_eq!(o.reply.action, Action::Answer);
    assert_eq!(o.reply.faq_id.as_deref(), Some("paspoort-kosten"));
}

#[test]
fn two_misses_in_a_row_go_to_a_person() {
    let kb = kb();
    let s = step(
        "xyzzy plugh",
        u(&kb, &[("grofvuil", 0.1)], &[("grofvuil-ophalen", 0.05)]),
    );
    let o1 = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o1.reply.action, Action::Fallback);
    assert!(o1.handoff.is_none());
    let o2 = run(&kb, &o1.context, &s, at("2026-11-23T10:01:00+01:00"));
    assert_eq!(o2.reply.action, Action::Handoff);
    assert_eq!(o2.handoff.as_ref().unwrap().reason, "misses");
    assert!(
        o2.reply.text.contains("binnen 60 minuten"),
        "{}",
        o2.reply.text
    );
}

#[test]
fn out_of_scope_says_what_loket_can_do() {
    let kb = kb();
    let s = step(
        "wordt het morgen mooi weer?",
        u(&kb, &[("buiten_scope", 0.9)], &[("grofvuil-ophalen", 0.3)]),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::Fallback);
    assert!(o.reply.text.contains("paspoort"), "{}", o.reply.text);
}

#[test]
fn out_of_scope_from_the_fitted_probability_not_only_a_confident_intent() {
    let kb = kb();
    // The out-of-scope intent is not the top one, but likely enough by the fitted threshold.
    let mut understanding = u(
        &kb,
        &[("belastingen", 0.4), ("buiten_scope", 0.3)],
        &[("paspoort-kosten", 0.3)],
    );
    understanding.out_of_scope_at = 0.2;
    let o = run(
        &kb,
        &Context::default(),
        &step(
            "hoeveel inkomstenbelasting moet ik betalen?",
            understanding.clone(),
        ),
        at(MONDAY_10),
    );
    assert_eq!(o.reply.action, Action::Fallback);
    assert_eq!(o.reply.intent.as_deref(), Some("buiten_scope"));
    // Below it, the message is read as before (here: a clarifying question).
    understanding.out_of_scope_at = 0.35;
    let o = run(
        &kb,
        &Context::default(),
        &step("hoeveel inkomstenbelasting moet ik betalen?", understanding),
        at(MONDAY_10),
    );
    assert_ne!(o.reply.action, Action::Fallback);
}

#[test]
fn handoff_texts_follow_office_hours_and_holidays() {
    let kb = kb();
    let cases = [
        // (now, expected fragment)
        (MONDAY_10, "binnen 60 minuten"),
        ("2026-11-28T11:00:00+01:00", "maandag vanaf 9:00"), // Saturday
        ("2026-11-27T14:00:00+01:00", "maandag vanaf 9:00"), // Friday after 13:00
        ("2026-11-23T07:30:00+01:00", "vandaag vanaf 9:00"),
        ("2025-04-26T11:00:00+02:00", "vanwege Koningsdag"), // 27 April 2025 is a Sunday
        ("2025-04-26T11:00:00+02:00", "maandag vanaf 9:00"),
        ("2025-04-21T10:00:00+02:00", "vanwege Tweede Paasdag"),
        ("2025-04-21T10:00:00+02:00", "morgen vanaf 9:00"),
        ("2026-04-06T10:00:00+02:00", "vanwege Tweede Paasdag"),
        ("2027-03-29T10:00:00+02:00", "vanwege Tweede Paasdag"),
        ("2027-03-29T10:00:00+02:00", "morgen vanaf 9:00"),
        ("2026-12-24T21:00:00+01:00", "maandag vanaf 9:00"), // both Christmas days skipped
    ];
    for (now, fragment) in cases {
        let s = step(
            "ik wil een medewerker spreken",
            u(&kb, &[("medewerker", 0.95)], &[("medewerker-spreken", 0.9)]),
        );
        let o = run(&kb, &Context::default(), &s, at(now));
        assert_eq!(o.reply.action, Action::Handoff, "{now}");
        assert!(
            o.reply.text.contains(fragment),
            "{now}: {:?} lacks {fragment:?}",
            o.reply.text
        );
        assert_eq!(o.handoff.as_ref().unwrap().department, "kcc");
    }
}

#[test]
fn complaints_and_named_departments_are_routed() {
    let kb = kb();
    let s = step(
        "ik wil een klacht indienen over een medewerker",
        u(&kb, &[("klacht", 0.9)], &[("klacht-indienen", 0.9)]),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::Handoff);
    assert!(o.reply.text.starts_with("Vervelend"));
    let s = step(
        "mag ik iemand van belastingen spreken",
        u(&kb, &[("medewerker", 0.9)], &[]),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.handoff.unwrap().department, "belastingen");
    assert!(o.reply.text.contains("Belastingen"));
}

#[test]
fn a_difficult_personal_situation_gets_a_warm_handoff_not_an_faq() {
    let kb = kb();
    // The FAQ about a death is a plausible entry, but the intent says a person is needed.
    let s = step(
        "mijn man is overleden en ik weet niet waar ik moet beginnen",
        u(
            &kb,
            &[("persoonlijke_situatie", 0.7), ("paspoort", 0.1)],
            &[("paspoort-aanvragen", 0.6)],
        ),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::Handoff);
    assert_eq!(o.reply.faq_id, None);
    assert!(
        o.reply
            .text
            .starts_with("Dat klinkt als een moeilijke situatie."),
        "{}",
        o.reply.text
    );
    assert_eq!(o.handoff.unwrap().reason, "persoonlijke_situatie");
}

#[test]
fn personal_data_is_redirected_and_the_question_still_answered() {
    let kb = kb();
    let mut s = step(
        "mijn bsn is [BSN], wat kost een paspoort?",
        u(&kb, &[("paspoort", 0.9)], &[("paspoort-kosten", 0.85)]),
    );
    s.pii = &[PiiKind::Bsn];
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::PrivacyRedirect);
    assert!(
        o.reply
            .text
            .contains("https://www.voorbeeld.example/mijn-loket")
    );
    assert!(o.reply.text.contains("€ 84,00"), "{}", o.reply.text);
    assert_eq!(o.reply.faq_id.as_deref(), Some("paspoort-kosten"));
    // Asking about one's own data is redirected too.
    let s = step("wat is mijn bsn", u(&kb, &[("privacy_gegevens", 0.8)], &[]));
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::PrivacyRedirect);
    assert!(o.reply.text.contains("DigiD"));
    assert_eq!(o.reply.faq_id, None);
}

#[test]
fn a_question_about_ones_own_case_is_redirected_to_where_the_file_is_seen() {
    let kb = kb();
    let s = step(
        "is mijn paspoort al klaar? ik heb het vorige week aangevraagd",
        u(
            &kb,
            &[("eigen_zaak", 0.8), ("paspoort", 0.15)],
            &[("paspoort-aanvragen", 0.7)],
        ),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::PrivacyRedirect);
    assert!(
        o.reply
            .text
            .starts_with("In uw eigen dossier kan ik hier niet kijken"),
        "{}",
        o.reply.text
    );
    assert!(
        o.reply
            .text
            .contains("https://www.voorbeeld.example/mijn-loket")
    );
    // No entry is appended: the passport entry is no answer to "is mine ready?".
    assert_eq!(o.reply.faq_id, None);
    // Not even when the product's intent is plausible and its entry confident.
    let s = step(
        "meldingsnummer M-1187 is nog open",
        u(
            &kb,
            &[("eigen_zaak", 0.6), ("paspoort", 0.35)],
            &[("paspoort-aanvragen", 0.9)],
        ),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::PrivacyRedirect);
    assert_eq!(o.reply.faq_id, None, "{}", o.reply.text);
}

#[test]
fn a_question_about_ones_data_is_redirected_with_the_general_answer() {
    let kb = kb();
    // "Where do I find my BSN?" asks how, not for anyone's data: the privacy intent's own
    // entry answers it, after the redirect.
    let s = step(
        "waar vind ik mijn bsn",
        u(
            &kb,
            &[("privacy_gegevens", 0.9)],
            &[("bsn-vinden", 0.8), ("paspoort-aanvragen", 0.05)],
        ),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::PrivacyRedirect);
    assert!(o.reply.text.contains("DigiD"), "{}", o.reply.text);
    assert!(o.reply.text.contains("persoonsnummer"), "{}", o.reply.text);
    assert_eq!(o.reply.faq_id.as_deref(), Some("bsn-vinden"));
    // The entry's share must clear the fitted answer bar, as an answer on its own would.
    let mut doubtful = u(
        &kb,
        &[("privacy_gegevens", 0.9)],
        &[("bsn-vinden", 0.6), ("paspoort-aanvragen", 0.3)],
    );
    doubtful.answer_at = 0.8;
    let o = run(
        &kb,
        &Context::default(),
        &step("waar vind ik mijn bsn", doubtful),
        at(MONDAY_10),
    );
    assert_eq!(o.reply.action, Action::PrivacyRedirect);
    assert_eq!(o.reply.faq_id, None, "{}", o.reply.text);
    // With the citizen's own BSN in the message, a privacy entry is not the general
    // question: the data itself pulls towards it.
    let mut s = step(
        "mijn bsn is [BSN]",
        u(&kb, &[("privacy_gegevens", 0.9)], &[("bsn-vinden", 0.8)]),
    );
    s.pii = &[PiiKind::Bsn];
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::PrivacyRedirect);
    assert_eq!(o.reply.faq_id, None);
}

#[test]
fn only_sensitive_data_is_redirected_other_personal_data_is_answered() {
    let kb = kb();
    for kind in [
        PiiKind::Bsn,
        PiiKind::Iban,
        PiiKind::Medical,
        PiiKind::CriminalRecord,
    ] {
        let mut s = step(
            "wat kost een paspoort? [BSN]",
            u(&kb, &[("paspoort", 0.9)], &[("paspoort-kosten", 0.85)]),
        );
        let kinds = [kind, PiiKind::Phone];
        s.pii = &kinds;
        let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
        assert_eq!(o.reply.action, Action::PrivacyRedirect, "{kind:?}");
    }
    // A phone number, an e-mail address, a birth date or a document number is redacted by
    // the guard; the question is answered as if it had not been there.
    for kind in [
        PiiKind::Phone,
        PiiKind::Email,
        PiiKind::DateOfBirth,
        PiiKind::DocumentNumber,
    ] {
        let mut s = step(
            "wat kost een paspoort? bel me op [TELEFOON]",
            u(&kb, &[("paspoort", 0.9)], &[("paspoort-kosten", 0.85)]),
        );
        let kinds = [kind];
        s.pii = &kinds;
        let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
        assert_eq!(o.reply.action, Action::Answer, "{kind:?}: {}", o.reply.text);
        assert_eq!(o.reply.faq_id.as_deref(), Some("paspoort-kosten"));
        assert!(!o.reply.text.contains("mijn-loket"), "{}", o.reply.text);
    }
    // A message with a harmless number (no findings) is answered.
    let s = step(
        "mijn ordernummer is 2024-118734, wat kost een paspoort?",
        u(&kb, &[("paspoort", 0.9)], &[("paspoort-kosten", 0.85)]),
    );
    let o = run(&kb, &Context::default(), &s, at(MONDAY_10));
    assert_eq!(o.reply.action, Action::Answer);
}

#[test]
fn smalltalk_and_greetings_with_a_question() {
    let kb = kb();
    let o = run(
        &kb,
        &Context::default(),
        &step("hallo", u(&kb, &[("begroeting", 0.95)], &[])),
        at(MONDAY_10),
    );
    assert_eq!(o.reply.action, Action::Smalltalk);
    assert!(o.reply.text.contains("Gemeente Voorbeeld"));
    let o = run(
        &kb,
        &Context::default(),
        &step("dank je wel!", u(&kb, &[("bedankt", 0.95)], &[])),
        at(MONDAY_10),
    );
    assert_eq!(o.reply.action, Action::Smalltalk);
    let u1 = u(&kb, &[("paspoort", 0.95)], &[("paspoort-kosten", 0.9)]);
    let turn = Turn {
        text: "Hallo, wat kost een paspoort?",
        pii: &[],
        understanding: &u1,
        within_context: None,
        greeted: true,
        button_id: None,
    };
    let o = decide(
        &turn,
        &Context::default(),
        &kb,
        &DialogueConfig::default(),
        at(MONDAY_10),
    );
    assert_eq!(o.reply.action, Action::Answer);
    assert!(o.reply.text.starts_with("Goedendag!"));
}

#[test]
fn english_messages_get_english_replies() {
    let kb = kb();
    let o = run(
        &kb,
        &Context::default(),
        &step(
            "how much does a passport cost?",
            u(&kb, &[("paspoort", 0.9)], &[("paspoort-kosten", 0.9)]),
        ),
        at(MONDAY_10),
    );
    assert_eq!(o.reply.action, Action::Answer);
    assert!(o.reply.text.contains("84.00"), "{}", o.reply.text);
    let o = run(
        &kb,
        &Context::default(),
        &step(
            "I want to talk to a person",
            u(&kb, &[("medewerker", 0.9)], &[]),
        ),
        at("2026-11-28T11:00:00+01:00"),
    );
    assert!(
        o.reply.text.contains("on Monday from 9:00"),
        "{}",
        o.reply.text
    );
}

#[test]
fn the_chosen_form_of_address_is_used_in_fixed_texts() {
    let mut kb = kb();
    kb.settings.tone = Tone::Je;
    let o = run(
        &kb,
        &Context::default(),
        &step("iemand spreken", u(&kb, &[("medewerker", 0.9)], &[])),
        at(MONDAY_10),
    );
    assert!(o.reply.text.contains(" je "), "{}", o.reply.text);
    assert!(!o.reply.text.contains(" u "), "{}", o.reply.text);
    let formal = regex::Regex::new(r"\b(u|uw)\b").unwrap();
    let informal = regex::Regex::new(r"\b(je|jij|jouw)\b").unwrap();
    let texts = crate::knowledge::Texts::national();
    for &key in crate::knowledge::TextKey::ALL {
        let (u, je) = (
            texts.get(key, crate::knowledge::Form::U),
            texts.get(key, crate::knowledge::Form::Je),
        );
        assert!(!formal.is_match(je), "{je}");
        assert!(!informal.is_match(u), "{u}");
    }
}

#[test]
fn replies_fit_whatsapp() {
    assert!(fit_whatsapp(&"a ".repeat(3000)).chars().count() <= WHATSAPP_MAX_CHARS);
    let s = shorten("Verhuizing doorgeven binnen Voorbeeld", OPTION_TITLE_MAX);
    assert!(s.chars().count() <= OPTION_TITLE_MAX, "{s}");
    assert!(s.ends_with('…'));
}

#[test]
fn urgent_messages_go_to_a_person_with_help_numbers() {
    let kb = kb();
    let o = run(
        &kb,
        &Context::default(),
        &step(
            "ik wil niet meer leven",
            u(&kb, &[("buiten_scope", 0.6)], &[]),
        ),
        at("2026-11-28T23:00:00+01:00"),
    );
    assert_eq!(o.reply.action, Action::Handoff);
    assert!(o.reply.text.contains("113"));
}

/// "Goedemiddag, ik heb een vraag" even where the classifier leans to a person: an
/// invitation to ask it; a question that names its topic is not caught by this.
#[test]
fn a_greeting_that_announces_a_question_is_invited_to_ask_it() {
    let kb = kb();
    let leaning = u(&kb, &[("medewerker", 0.7)], &[]);
    let o = run(
        &kb,
        &Context::default(),
        &step("Goedemiddag, ik heb een vraag", leaning.clone()),
        at(MONDAY_10),
    );
    assert_eq!(o.reply.action, Action::Smalltalk);
    assert_eq!(o.reply.text, kb.text(TextKey::AskAway, Lang::Nl));
    let o = run(
        &kb,
        &Context::default(),
        &step("ik heb een vraag over een medewerker", leaning),
        at(MONDAY_10),
    );
    assert_ne!(o.reply.text, kb.text(TextKey::AskAway, Lang::Nl));
}
