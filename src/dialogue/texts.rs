//! Every fixed text a citizen reads, in Dutch with `u`, Dutch with `je`, and English.

use crate::knowledge::Tone;

use super::Lang;

/// A fixed text in its three forms.
pub struct Text {
    pub u: &'static str,
    pub je: &'static str,
    pub en: &'static str,
}

impl Text {
    pub fn get(&self, tone: Tone, lang: Lang) -> &'static str {
        match (lang, tone) {
            (Lang::En, _) => self.en,
            (Lang::Nl, Tone::U) => self.u,
            (Lang::Nl, Tone::Je) => self.je,
        }
    }
}

pub const GREETING: Text = Text {
    u: "Goedendag! Ik ben de digitale assistent van {name}. Waarmee kan ik u helpen? U kunt mij bijvoorbeeld vragen naar een paspoort, verhuizen, afval of parkeren.",
    je: "Hoi! Ik ben de digitale assistent van {name}. Waarmee kan ik je helpen? Je kunt me bijvoorbeeld vragen naar een paspoort, verhuizen, afval of parkeren.",
    en: "Hello! I am the digital assistant of {name}. How can I help you? You can ask me about passports, moving house, waste or parking, for example.",
};

/// Said once, before the first reply of every new conversation on every channel: people
/// must know that an automated system answers them (EU AI Act, article 50) and how to reach
/// a person.
pub const AI_DISCLOSURE: Text = Text {
    u: "U chat met een digitale assistent, een computerprogramma. Wilt u liever een medewerker? Typ dan: medewerker.",
    je: "Je chat met een digitale assistent, een computerprogramma. Wil je liever een medewerker? Typ dan: medewerker.",
    en: "You are chatting with a digital assistant, a computer program. Prefer a person? Type: medewerker.",
};

pub const GREETING_PREFIX: Text = Text {
    u: "Goedendag! ",
    je: "Hoi! ",
    en: "Hello! ",
};

pub const THANKS: Text = Text {
    u: "Graag gedaan! Heeft u nog een vraag, dan kunt u die hier stellen.",
    je: "Graag gedaan! Heb je nog een vraag, dan kun je die hier stellen.",
    en: "You're welcome! If you have another question, just ask it here.",
};

pub const CLARIFY: Text = Text {
    u: "Ik weet niet precies wat u bedoelt. Gaat uw vraag over een van deze onderwerpen? Kies een nummer of typ uw vraag anders.",
    je: "Ik weet niet precies wat je bedoelt. Gaat je vraag over een van deze onderwerpen? Kies een nummer of typ je vraag anders.",
    en: "I'm not sure what you mean. Is your question about one of these topics? Choose a number or rephrase your question.",
};

pub const CLARIFY_DECLINED: Text = Text {
    u: "Dan begreep ik u verkeerd. Kunt u uw vraag in andere woorden stellen?",
    je: "Dan begreep ik je verkeerd. Kun je je vraag in andere woorden stellen?",
    en: "Then I misunderstood you. Could you put your question in other words?",
};

pub const FALLBACK: Text = Text {
    u: "Daar kan ik u helaas niet mee helpen. Ik beantwoord vragen over de diensten van {name}, zoals paspoort en rijbewijs, verhuizen, afval, parkeren, vergunningen, belastingen en zorg en ondersteuning. Stel gerust een vraag daarover.",
    je: "Daar kan ik je helaas niet mee helpen. Ik beantwoord vragen over de diensten van {name}, zoals paspoort en rijbewijs, verhuizen, afval, parkeren, vergunningen, belastingen en zorg en ondersteuning. Stel gerust een vraag daarover.",
    en: "I'm afraid I can't help you with that. I answer questions about the services of {name}, such as passports and driving licences, moving house, waste, parking, permits, municipal taxes and care and support.",
};

pub const NOT_UNDERSTOOD: Text = Text {
    u: "Sorry, dat begrijp ik niet goed. Kunt u uw vraag anders stellen, bijvoorbeeld \"Wat kost een paspoort?\" of \"Wanneer wordt het afval opgehaald?\"",
    je: "Sorry, dat begrijp ik niet goed. Kun je je vraag anders stellen, bijvoorbeeld \"Wat kost een paspoort?\" of \"Wanneer wordt het afval opgehaald?\"",
    en: "Sorry, I don't quite understand. Could you rephrase your question, for example \"How much is a passport?\"",
};

pub const HANDOFF_OPEN: Text = Text {
    u: "Ik zet uw vraag door naar een medewerker van {department}. U krijgt binnen {minutes} minuten een reactie in dit gesprek.",
    je: "Ik zet je vraag door naar een medewerker van {department}. Je krijgt binnen {minutes} minuten een reactie in dit gesprek.",
    en: "I'm passing your question on to a colleague at {department}. You will get a reply in this chat within {minutes} minutes.",
};

pub const HANDOFF_CLOSED: Text = Text {
    u: "Ik zet uw vraag door naar een medewerker van {department}. We zijn nu gesloten{reason}; een medewerker leest uw bericht {when}. U hoeft niets opnieuw te sturen.",
    je: "Ik zet je vraag door naar een medewerker van {department}. We zijn nu gesloten{reason}; een medewerker leest je bericht {when}. Je hoeft niets opnieuw te sturen.",
    en: "I'm passing your question on to a colleague at {department}. We are closed now{reason}; a colleague will read your message {when}. There is no need to send it again.",
};

pub const HANDOFF_AFTER_MISSES: Text = Text {
    u: "Het lukt mij niet om uw vraag goed te beantwoorden. ",
    je: "Het lukt me niet om je vraag goed te beantwoorden. ",
    en: "I can't answer your question properly. ",
};

pub const COMPLAINT_PREFIX: Text = Text {
    u: "Vervelend dat u niet tevreden bent. ",
    je: "Vervelend dat je niet tevreden bent. ",
    en: "I'm sorry to hear you are not satisfied. ",
};

pub const PRIVACY: Text = Text {
    u: "Stuur via WhatsApp of de chat geen persoonlijke gegevens zoals uw BSN, bankrekeningnummer of medische informatie. Ik heb deze gegevens niet bewaard. Voor zaken met persoonsgegevens gebruikt u onze beveiligde omgeving: {url}",
    je: "Stuur via WhatsApp of de chat geen persoonlijke gegevens zoals je BSN, bankrekeningnummer of medische informatie. Ik heb deze gegevens niet bewaard. Voor zaken met persoonsgegevens gebruik je onze beveiligde omgeving: {url}",
    en: "Please don't send personal details such as your citizen service number (BSN), bank account number or medical information via WhatsApp or chat. I have not stored them. For matters involving personal data, please use our secure environment: {url}",
};

pub const PRIVACY_ABOUT_DATA: Text = Text {
    u: "Vragen over uw eigen persoonsgegevens kan ik hier niet veilig behandelen. U kunt uw gegevens inzien en wijzigingen doorgeven in onze beveiligde omgeving (inloggen met DigiD): {url}",
    je: "Vragen over je eigen persoonsgegevens kan ik hier niet veilig behandelen. Je kunt je gegevens inzien en wijzigingen doorgeven in onze beveiligde omgeving (inloggen met DigiD): {url}",
    en: "I can't safely handle questions about your own personal data here. You can view your data and report changes in our secure environment (log in with DigiD): {url}",
};

pub const PRIVACY_AND_ANSWER: Text = Text {
    u: "Over uw vraag:",
    je: "Over je vraag:",
    en: "About your question:",
};

pub const URGENT: Text = Text {
    u: "Ik zet uw bericht direct door naar een medewerker. Is er acuut gevaar, bel dan 112. Praten over zelfmoordgedachten kan 24/7 anoniem met 113 Zelfmoordpreventie: bel 113 of 0800-0113. Bij huiselijk geweld kunt u Veilig Thuis bellen: 0800-2000.",
    je: "Ik zet je bericht direct door naar een medewerker. Is er acuut gevaar, bel dan 112. Praten over zelfmoordgedachten kan 24/7 anoniem met 113 Zelfmoordpreventie: bel 113 of 0800-0113. Bij huiselijk geweld kun je Veilig Thuis bellen: 0800-2000.",
    en: "I'm passing your message on to a colleague straight away. In an emergency, call 112. You can talk about suicidal thoughts 24/7 anonymously with 113 Suicide Prevention: call 113 or 0800-0113. For domestic violence, call Veilig Thuis: 0800-2000.",
};

pub const AGENT_HAS_IT: Text = Text {
    u: "Een medewerker heeft uw gesprek overgenomen en reageert zo snel mogelijk.",
    je: "Een medewerker heeft je gesprek overgenomen en reageert zo snel mogelijk.",
    en: "A colleague has taken over your conversation and will reply as soon as possible.",
};

pub const MEDIA: Text = Text {
    u: "Ik kan helaas geen foto's, spraakberichten, video's, documenten of locaties lezen. Typt u uw vraag? Moet u een document sturen, gebruik dan onze beveiligde omgeving: {url}",
    je: "Ik kan helaas geen foto's, spraakberichten, video's, documenten of locaties lezen. Typ je je vraag? Moet je een document sturen, gebruik dan onze beveiligde omgeving: {url}",
    en: "I'm afraid I can't read photos, voice messages, videos, documents or locations. Could you type your question? If you need to send a document, please use our secure environment: {url}",
};

pub const MORE_INFO: Text = Text {
    u: "Meer weten? Kies een onderwerp:",
    je: "Meer weten? Kies een onderwerp:",
    en: "Want to know more? Choose a topic:",
};

pub const ANSWER_ONLY_DUTCH: Text = Text {
    u: "",
    je: "",
    en: "(This answer is only available in Dutch.)\n\n",
};

/// The opening of a template message when a reply falls outside WhatsApp's 24-hour window.
pub const TEMPLATE_NOTICE: Text = Text {
    u: "Er staat een antwoord van de gemeente voor u klaar.",
    je: "Er staat een antwoord van de gemeente voor je klaar.",
    en: "A reply from the municipality is waiting for you.",
};
