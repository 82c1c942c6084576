//! Hand-written corpora: every class of spelling the privacy officer found leaking, and
//! messages with harmless numbers that must come through unchanged.

use super::*;

/// Messages with numbers that are not personal data: they must come out of `redact`
/// exactly as they went in.
pub(super) const HARMLESS: &[&str] = &[
    "mijn ordernummer is 2024-118734",
    "zaaknummer Z-2026-004512, wanneer hoor ik iets?",
    "klantnummer 12345678",
    "Mijn klantnummer is 123456782, kunt u de status zien?",
    "parkeervergunning 4471-XK verlengen",
    "mijn vergunningsnummer is PV-2025-0042",
    "postcode 1234 AB, huisnummer 12",
    "Ik woon op de Dorpsstraat 14a in 3511 AB Utrecht",
    "wat kost een paspoort? €77,35 of €82,45?",
    "de aanslag is € 1.234,56, kan ik in 10 termijnen betalen?",
    "afspraak op 12-03-2027 om 14:30",
    "Kan ik op 12-03-2027 trouwen?",
    "mijn afspraak is op 3 april 2026 om 9.15 uur",
    "ik heb 3 kinderen van 4, 7 en 12 jaar",
    "mijn dochter is 16, mag ze zelf een paspoort aanvragen?",
    "bel 14 020 voor de gemeente",
    "ik heb 14 0123 gebeld maar niemand nam op",
    "het nummer 0800-1234567 werkt niet",
    "0900 1234567 is toch betaald?",
    "in 2024 ben ik verhuisd, in 2025 weer",
    "het grofvuil staat er al sinds 2 juni",
    "factuurnummer 2026000123 is nog niet betaald",
    "factuurnummer 0301234567 klopt niet",
    "kenmerk 2025/0815/BZ",
    "referentienummer 88412-2026",
    "mijn aanvraagnummer is AV-123456",
    "productnummer PH4471239 is kapot geleverd",
    "ordernummer AB1234567 is niet aangekomen",
    "artikelnummer 871234567890",
    "pakketnummer 3SDEVC123456789",
    "Kenteken 12-ABC-3, mag ik daar parkeren?",
    "de container met chipnummer 528140000123456 wordt niet geleegd",
    "ik wil 2 kliko's van 140 liter",
    "de lantaarnpaal bij nummer 45 is kapot",
    "de boom voor Kerkstraat 101 moet gesnoeid worden",
    "hoeveel kost 1 uur parkeren in zone 3?",
    "ik betaal 45 euro per maand",
    "het evenement is van 18:00 tot 23:00 met 250 bezoekers",
    "ik wil een evenement voor 1.500 mensen",
    "de wegwerkzaamheden duren van 1 tot 15 maart",
    "wat zijn de openingstijden op 24 december?",
    "Is het gemeentehuis open op 5 mei 2026?",
    "mijn kind is geboren op 1 maart, hoe doe ik aangifte?",
    "ik ben 67 jaar, krijg ik korting?",
    "de WOZ-waarde is 345.000 euro",
    "dossiernummer 2025-04417",
    "ticketnummer 4471239",
    "meldingsnummer M2026-1187 is nog open",
    "klantnr. 8812345",
    "mijn zaaknummer: 2026-004512-01",
    "KvK-nummer 12345678, moet ik een vergunning?",
    "btw-nummer NL001234567B01 staat op de factuur",
    "contractnummer 123-456-789",
    "polisnummer 1234567890",
    "debiteurnummer 300145",
    "stadspasnummer 6012 3456 7890",
    "meternummer 871687400012345678",
    "versie 2.3.1 van de app werkt niet",
    "ik heb 12 zakken van 60 liter",
    "om 7:45 komt de vuilniswagen",
    "de vergadering is op 14-05-2026 van 19.30 tot 21.00",
    "mijn bestelnummer is 123 456 789",
    "rond 2030 wordt de wijk vernieuwd",
    "ik ben op 21-06-2025 verhuisd naar nummer 8",
    "Tussen 1 januari en 31 maart 2026 kan ik aanvragen?",
    "de kosten zijn 2x 35 euro",
];

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
    assert!(HARMLESS.len() >= 60);
    let mut changed = Vec::new();
    for text in HARMLESS {
        let r = redact(text);
        if r.text != *text {
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
