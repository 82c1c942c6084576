//! English words for municipal things, with the Dutch words the content uses for them.
//!
//! The entries are written in Dutch; an English message shares no words with them, so the
//! FAQ index finds nothing and the encoder's cross-lingual match is weaker than a Dutch one.
//! [`dutch_terms`] gives the Dutch words for the municipal things an English message names,
//! which the turn adds to what is searched and encoded (never to what is stored or shown).
//! General vocabulary of municipal products (the UPL's domain), not phrasings of questions.

/// English phrase (lower case, words separated by one space) → Dutch words.
const GLOSSARY: &[(&str, &str)] = &[
    ("passport", "paspoort"),
    ("identity card", "identiteitskaart id-kaart"),
    ("id card", "identiteitskaart id-kaart"),
    ("travel document", "reisdocument paspoort identiteitskaart"),
    ("driving licence", "rijbewijs"),
    ("driving license", "rijbewijs"),
    ("driver's license", "rijbewijs"),
    ("drivers license", "rijbewijs"),
    ("move", "verhuizen verhuizing"),
    ("moving", "verhuizen verhuizing"),
    ("moved", "verhuizen verhuizing"),
    ("new address", "verhuizing adres"),
    ("change of address", "verhuizing adres"),
    ("address", "adres"),
    ("register", "inschrijven inschrijving"),
    ("registration", "inschrijven inschrijving"),
    ("birth", "geboorte aangifte"),
    ("baby", "geboorte baby"),
    ("newborn", "geboorte baby"),
    ("death", "overlijden"),
    ("died", "overlijden overleden"),
    ("passed away", "overlijden overleden"),
    ("funeral", "uitvaart begrafenis"),
    ("burial", "begraven begraafplaats"),
    ("cemetery", "begraafplaats"),
    ("grave", "graf begraafplaats"),
    ("marriage", "huwelijk trouwen"),
    ("marry", "trouwen huwelijk"),
    ("married", "trouwen huwelijk"),
    ("wedding", "trouwen huwelijk"),
    ("registered partnership", "geregistreerd partnerschap"),
    ("divorce", "scheiding"),
    ("name change", "naamswijziging"),
    ("change my name", "naamswijziging"),
    ("naturalisation", "naturalisatie"),
    ("naturalization", "naturalisatie"),
    ("citizenship", "naturalisatie nationaliteit"),
    ("waste", "afval"),
    ("garbage", "afval"),
    ("trash", "afval"),
    ("rubbish", "afval"),
    ("bulky waste", "grofvuil"),
    ("large items", "grofvuil"),
    ("old furniture", "grofvuil"),
    ("bin", "container afvalbak"),
    ("container", "container"),
    ("collection", "ophalen inzameling"),
    ("pick up", "ophalen"),
    ("recycling", "afvalscheiding"),
    ("recycle", "afvalscheiding"),
    ("waste calendar", "afvalkalender"),
    ("recycling centre", "milieustraat"),
    ("recycling center", "milieustraat"),
    ("parking permit", "parkeervergunning"),
    ("parking", "parkeren parkeervergunning"),
    ("disabled parking", "gehandicaptenparkeerkaart"),
    ("permit", "vergunning"),
    ("licence", "vergunning"),
    ("building permit", "omgevingsvergunning bouwen"),
    ("planning permission", "omgevingsvergunning bouwen"),
    ("renovation", "verbouwen omgevingsvergunning"),
    ("extension", "aanbouw omgevingsvergunning"),
    ("dormer", "dakkapel"),
    ("cut down a tree", "kapvergunning boom kappen"),
    ("tree", "boom"),
    ("event", "evenement evenementenvergunning"),
    ("festival", "evenement evenementenvergunning"),
    ("street party", "buurtfeest evenement"),
    ("market stall", "standplaats markt"),
    ("terrace", "terras"),
    ("tax", "belasting"),
    ("taxes", "belastingen"),
    ("property tax", "ozb onroerendezaakbelasting"),
    ("municipal tax", "gemeentelijke belastingen"),
    ("waste tax", "afvalstoffenheffing"),
    ("dog tax", "hondenbelasting"),
    ("tax assessment", "aanslag belasting"),
    ("remission", "kwijtschelding"),
    ("exemption", "kwijtschelding"),
    ("can't pay", "kwijtschelding betalingsregeling"),
    ("cannot pay", "kwijtschelding betalingsregeling"),
    ("payment plan", "betalingsregeling"),
    ("benefit", "uitkering bijstand"),
    ("benefits", "uitkering bijstand"),
    ("welfare", "bijstand uitkering"),
    ("social assistance", "bijstand"),
    ("debt", "schulden schuldhulpverlening"),
    ("debts", "schulden schuldhulpverlening"),
    ("home care", "wmo huishoudelijke hulp"),
    ("home help", "wmo huishoudelijke hulp"),
    ("support", "ondersteuning wmo"),
    ("wheelchair", "rolstoel wmo hulpmiddel"),
    ("mobility scooter", "scootmobiel wmo"),
    ("disability", "beperking wmo"),
    ("youth care", "jeugdhulp"),
    ("childcare", "kinderopvang"),
    ("school transport", "leerlingenvervoer"),
    (
        "certificate of good conduct",
        "verklaring omtrent gedrag vog",
    ),
    ("certificate of conduct", "verklaring omtrent gedrag vog"),
    ("extract", "uittreksel brp"),
    ("personal records", "brp basisregistratie personen"),
    ("population register", "brp basisregistratie personen"),
    ("proof of address", "uittreksel brp adres"),
    ("appointment", "afspraak"),
    ("opening hours", "openingstijden"),
    ("opening times", "openingstijden"),
    ("open", "open openingstijden"),
    ("town hall", "gemeentehuis stadhuis"),
    ("city hall", "stadhuis gemeentehuis"),
    ("complaint", "klacht"),
    ("lost", "kwijt vermissing"),
    ("stolen", "gestolen diefstal"),
    ("street light", "straatverlichting lantaarnpaal"),
    ("streetlight", "straatverlichting lantaarnpaal"),
    ("pothole", "gat weg melding"),
    ("pavement", "stoep"),
    ("sidewalk", "stoep"),
    ("report", "melding"),
    ("nuisance", "overlast"),
    ("noise", "geluidsoverlast"),
    ("roadworks", "wegwerkzaamheden"),
    ("road works", "wegwerkzaamheden"),
    ("fireworks", "vuurwerk"),
    ("subsidy", "subsidie"),
    ("grant", "subsidie"),
    ("solar panels", "zonnepanelen"),
    ("zoning plan", "omgevingsplan bestemmingsplan"),
    ("housing", "woning wonen"),
    ("house", "woning huis"),
    ("cost", "kosten prijs"),
    ("costs", "kosten prijs"),
    ("price", "prijs kosten"),
    ("fee", "kosten tarief"),
    ("how much", "kosten prijs"),
    ("how long", "duur"),
    ("children", "kinderen kind"),
    ("child", "kind"),
    ("kids", "kinderen kind"),
    ("abroad", "buitenland"),
    ("urgent", "spoed"),
    ("renew", "verlengen vernieuwen"),
    ("expired", "verlopen"),
    ("apply", "aanvragen"),
    ("application", "aanvraag"),
    ("deregister", "uitschrijven vertrek buitenland"),
    ("emigrate", "emigratie vertrek buitenland"),
    ("emigrating", "emigratie vertrek buitenland"),
    ("emigration", "emigratie vertrek buitenland"),
    ("leave the netherlands", "vertrek buitenland"),
    ("leaving the netherlands", "vertrek buitenland"),
    ("no fixed address", "briefadres"),
    ("postal address", "briefadres"),
    ("homeless", "dakloos briefadres"),
    (
        "proof of registration",
        "uittreksel brp bewijs van inschrijving",
    ),
    ("registered at", "inschrijving uittreksel brp"),
    ("waste charge", "afvalstoffenheffing"),
    ("waste levy", "afvalstoffenheffing"),
    ("sewage charge", "rioolheffing"),
    ("acknowledge", "erkenning erkennen"),
    ("acknowledgement", "erkenning erkennen"),
    ("paternity", "erkenning vaderschap"),
    ("carer", "mantelzorg mantelzorger"),
    ("caregiver", "mantelzorg mantelzorger"),
    ("informal care", "mantelzorg"),
    ("driving test", "rijexamen rijbewijs aanvragen"),
    ("first driving licence", "eerste rijbewijs aanvragen"),
    ("citizen service number", "burgerservicenummer bsn"),
    ("social security number", "burgerservicenummer bsn"),
    ("chemical waste", "klein chemisch afval"),
    ("batteries", "batterijen klein chemisch afval"),
    ("paint", "verf klein chemisch afval"),
    ("garden waste", "tuinafval groenafval"),
    ("objection", "bezwaar"),
    ("appeal", "bezwaar beroep"),
];

/// The Dutch words for the municipal things `text` names in English, each once, in the
/// order of the glossary. A phrase counts as a whole word or words (an `s` at its end
/// allowed), and the longer of two overlapping phrases wins ("bulky waste" over "waste").
pub fn dutch_terms(text: &str) -> Vec<&'static str> {
    let padded = format!(
        " {} ",
        text.to_lowercase()
            .chars()
            .map(|c| if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            })
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
    let found: Vec<&(&str, &str)> = GLOSSARY
        .iter()
        .filter(|(en, _)| {
            padded.contains(&format!(" {en} ")) || padded.contains(&format!(" {en}s "))
        })
        .collect();
    let mut out: Vec<&'static str> = Vec::new();
    for (en, nl) in &found {
        // A phrase inside a longer one that was found adds nothing of its own.
        if found
            .iter()
            .any(|(other, _)| other.len() > en.len() && other.contains(*en))
        {
            continue;
        }
        for w in nl.split_whitespace() {
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_names_of_municipal_things_get_their_dutch_words() {
        assert_eq!(
            dutch_terms("How much does a new passport cost?"),
            ["paspoort", "kosten", "prijs"]
        );
        // The longer phrase wins; plurals count.
        assert_eq!(dutch_terms("bulky waste pick-up"), ["grofvuil", "ophalen"]);
        assert_eq!(
            dutch_terms("parking permits for residents"),
            ["parkeervergunning"]
        );
        // Whole words only: "bin" is not in "cabinet", "move" not in "movement".
        assert!(dutch_terms("cabinet movement").is_empty());
        assert!(dutch_terms("").is_empty());
    }

    #[test]
    fn every_phrase_is_lower_case_and_has_dutch_words() {
        for (en, nl) in GLOSSARY {
            assert_eq!(*en, en.to_lowercase(), "{en}");
            assert_eq!(*en, en.split_whitespace().collect::<Vec<_>>().join(" "));
            assert!(!nl.trim().is_empty(), "{en}");
        }
    }
}
