//! The bot's own texts (welcome, fallback, handoff and privacy wording, office-hours
//! sentences) and the crisis phrases, as content: national defaults ship in the binary
//! (`defaults.toml`), and a municipality's `knowledge-base/texts.toml` overrides any text
//! and form and adds crisis phrases. `loket kb check` reports every problem in that file
//! with its line.
//!
//! Each text has three forms: formal Dutch (`u`), informal Dutch (`je`) and English
//! (`en`). Which Dutch form a citizen reads follows the `tone` in `municipality.toml`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::Tone;
use super::diagnostic::{Diagnostic, Problem, line_containing, line_of_offset};
use super::hours::{DUTCH_WEEKDAYS, ENGLISH_MONTHS, ENGLISH_WEEKDAYS, Lang, Opening};

/// The national defaults, in the same format a municipality writes.
const DEFAULTS: &str = include_str!("defaults.toml");

/// The name of the municipality's file in the knowledge base directory.
pub const FILE_NAME: &str = "texts.toml";

/// Placeholders every text may use; filled from `municipality.toml`.
pub const GENERIC_PLACEHOLDERS: [&str; 5] = ["name", "url", "phone", "email", "website"];

/// A crisis phrase this short would be found inside ordinary words ("dood" in
/// "doodgewoon" is already a risk at four), so every message would go to a person.
const MIN_CRISIS_PHRASE_CHARS: usize = 4;

/// The table in the texts file that holds the crisis phrases instead of a text.
const CRISIS_TABLE: &str = "crisis";

macro_rules! text_keys {
    ($( $variant:ident = $name:literal, placeholders: [$($p:literal),*], required: [$($r:literal),*], empty: $empty:literal; )*) => {
        /// Every text Loket says itself. The name is the table name in the texts file.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum TextKey { $($variant),* }

        impl TextKey {
            pub const ALL: &'static [TextKey] = &[$(TextKey::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(TextKey::$variant => $name),* }
            }

            /// Placeholders this text may use besides [`GENERIC_PLACEHOLDERS`]: Loket fills
            /// them at the place the text is said, so elsewhere they would stay as typed.
            pub fn placeholders(self) -> &'static [&'static str] {
                match self { $(TextKey::$variant => &[$($p),*]),* }
            }

            /// Placeholders each form must use: without them the text loses what it is for
            /// (the address of the secure channel, when someone will read the message, …).
            pub fn required(self) -> &'static [&'static str] {
                match self { $(TextKey::$variant => &[$($r),*]),* }
            }

            /// Whether a form may be empty (the text is a prefix that is not always needed).
            fn may_be_empty(self) -> bool {
                match self { $(TextKey::$variant => $empty),* }
            }
        }
    };
}

text_keys! {
    Greeting = "greeting", placeholders: [], required: [], empty: false;
    AiDisclosure = "ai_disclosure", placeholders: [], required: [], empty: false;
    GreetingPrefix = "greeting_prefix", placeholders: [], required: [], empty: false;
    Thanks = "thanks", placeholders: [], required: [], empty: false;
    AskAway = "ask_away", placeholders: [], required: [], empty: false;
    Clarify = "clarify", placeholders: [], required: [], empty: false;
    ClarifyOne = "clarify_one", placeholders: ["title"], required: ["title"], empty: false;
    ClarifyDeclined = "clarify_declined", placeholders: [], required: [], empty: false;
    Fallback = "fallback", placeholders: [], required: [], empty: false;
    NotUnderstood = "not_understood", placeholders: [], required: [], empty: false;
    HandoffOpen = "handoff_open", placeholders: ["department", "minutes"], required: [], empty: false;
    HandoffClosed = "handoff_closed", placeholders: ["department", "reason", "when"], required: ["when"], empty: false;
    HandoffAfterMisses = "handoff_after_misses", placeholders: [], required: [], empty: false;
    ComplaintPrefix = "complaint_prefix", placeholders: [], required: [], empty: false;
    SituationPrefix = "situation_prefix", placeholders: [], required: [], empty: false;
    Privacy = "privacy", placeholders: [], required: ["url"], empty: false;
    PrivacyAboutData = "privacy_about_data", placeholders: [], required: ["url"], empty: false;
    PrivacyOwnCase = "privacy_own_case", placeholders: [], required: ["url"], empty: false;
    PrivacyAndAnswer = "privacy_and_answer", placeholders: [], required: [], empty: false;
    Urgent = "urgent", placeholders: [], required: [], empty: false;
    Media = "media", placeholders: [], required: ["url"], empty: false;
    AnswerOnlyDutch = "answer_only_dutch", placeholders: [], required: [], empty: true;
    TemplateNotice = "template_notice", placeholders: [], required: [], empty: false;
    ListButton = "list_button", placeholders: [], required: [], empty: false;
    OpeningNow = "opening_now", placeholders: [], required: [], empty: false;
    OpeningToday = "opening_today", placeholders: ["time"], required: ["time"], empty: false;
    OpeningTomorrow = "opening_tomorrow", placeholders: ["time"], required: ["time"], empty: false;
    OpeningWeekday = "opening_weekday", placeholders: ["weekday", "time"], required: ["weekday", "time"], empty: false;
    OpeningDate = "opening_date", placeholders: ["weekday", "day", "month", "time"], required: ["weekday", "day", "month", "time"], empty: false;
    OpeningUnknown = "opening_unknown", placeholders: [], required: [], empty: false;
    ClosedHoliday = "closed_holiday", placeholders: ["holiday"], required: ["holiday"], empty: false;
}

impl TextKey {
    pub fn from_name(name: &str) -> Option<TextKey> {
        TextKey::ALL.iter().copied().find(|k| k.name() == name)
    }
}

/// The form of a text: formal Dutch, informal Dutch, English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    U,
    Je,
    En,
}

impl Form {
    pub const ALL: [Form; 3] = [Form::U, Form::Je, Form::En];

    pub fn name(self) -> &'static str {
        match self {
            Form::U => "u",
            Form::Je => "je",
            Form::En => "en",
        }
    }

    /// The form a citizen reads in `lang` when the municipality uses `tone`.
    pub fn of(tone: Tone, lang: Lang) -> Form {
        match (lang, tone) {
            (Lang::En, _) => Form::En,
            (Lang::Nl, Tone::U) => Form::U,
            (Lang::Nl, Tone::Je) => Form::Je,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A text the municipality's file changed, remembered for checks that need the settings.
#[derive(Debug, Clone)]
struct Override {
    key: TextKey,
    form: Form,
    line: usize,
}

/// All texts in all forms, and the crisis phrases: defaults with the municipality's changes.
#[derive(Debug, Clone)]
pub struct Texts {
    /// Indexed by `TextKey as usize`, then `Form as usize`.
    forms: Vec<[String; 3]>,
    /// Lowercase; matched anywhere in a lowercased message.
    crisis: Vec<String>,
    overrides: Vec<Override>,
}

static NATIONAL: LazyLock<Texts> = LazyLock::new(|| {
    let empty = Texts {
        forms: vec![Default::default(); TextKey::ALL.len()],
        crisis: Vec::new(),
        overrides: Vec::new(),
    };
    let (mut texts, diags) = parse_texts(Path::new("defaults.toml"), DEFAULTS, &empty);
    // A unit test keeps the defaults complete and free of diagnostics.
    debug_assert!(diags.is_empty(), "{diags:?}");
    texts.overrides.clear();
    texts
});

impl Texts {
    /// The national defaults that ship with Loket.
    pub fn national() -> &'static Texts {
        &NATIONAL
    }

    /// The text as written, placeholders not filled.
    pub fn get(&self, key: TextKey, form: Form) -> &str {
        &self.forms[key as usize][form.index()]
    }

    /// The lowercase crisis phrases, national and the municipality's own.
    pub fn crisis_phrases(&self) -> &[String] {
        &self.crisis
    }

    /// Whether a message contains a crisis phrase: the citizen goes to a person at once.
    pub fn is_crisis(&self, message: &str) -> bool {
        let t = message.to_lowercase();
        self.crisis.iter().any(|p| t.contains(p.as_str()))
    }

    /// When the office opens, as a phrase that fits in a sentence ("morgen vanaf 9:00").
    pub fn describe_opening(&self, opening: &Opening, tone: Tone, lang: Lang) -> String {
        let form = Form::of(tone, lang);
        let fill = |key: TextKey, date: Option<NaiveDate>, time: Option<NaiveTime>| {
            let mut s = self.get(key, form).to_string();
            if let Some(t) = time {
                s = s.replace("{time}", &format!("{}:{:02}", t.hour(), t.minute()));
            }
            if let Some(d) = date {
                let weekday = d.weekday().num_days_from_monday() as usize;
                let month = d.month0() as usize;
                let (weekdays, months) = match lang {
                    Lang::Nl => (DUTCH_WEEKDAYS, crate::text::DUTCH_MONTHS),
                    Lang::En => (ENGLISH_WEEKDAYS, ENGLISH_MONTHS),
                };
                s = s
                    .replace("{weekday}", weekdays[weekday])
                    .replace("{day}", &d.day().to_string())
                    .replace("{month}", months[month]);
            }
            s
        };
        match *opening {
            Opening::Now => fill(TextKey::OpeningNow, None, None),
            Opening::Unknown => fill(TextKey::OpeningUnknown, None, None),
            Opening::Today(t) => fill(TextKey::OpeningToday, None, Some(t)),
            Opening::Tomorrow(t) => fill(TextKey::OpeningTomorrow, None, Some(t)),
            Opening::ThisWeek(d, t) => fill(TextKey::OpeningWeekday, Some(d), Some(t)),
            Opening::Later(d, t) => fill(TextKey::OpeningDate, Some(d), Some(t)),
        }
    }

    /// Warnings for texts the municipality changed only in the Dutch form its tone does not
    /// use: citizens never read them, which surprises the editor who wrote them.
    pub fn unused_forms(&self, path: &Path, tone: Tone) -> Vec<Diagnostic> {
        let (used, unused) = match tone {
            Tone::U => (Form::U, Form::Je),
            Tone::Je => (Form::Je, Form::U),
        };
        let changed: HashSet<(TextKey, Form)> =
            self.overrides.iter().map(|o| (o.key, o.form)).collect();
        self.overrides
            .iter()
            .filter(|o| o.form == unused && !changed.contains(&(o.key, used)))
            .map(|o| {
                Diagnostic::error(
                    Problem::Tone,
                    path,
                    o.line,
                    format!(
                        "de vorm `{}` van `{}` wordt niet gebruikt: in municipality.toml staat tone = \"{}\"",
                        unused.name(),
                        o.key.name(),
                        used.name()
                    ),
                    format!(
                        "schrijf de tekst als `{} = \"…\"`, of verander tone in municipality.toml",
                        used.name()
                    ),
                ).as_warning()
            })
            .collect()
    }
}

/// A value in the file before it is checked: the file may hold anything TOML allows.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    List(Vec<String>),
    /// Any other value (a number, a table, …): reported as "not a text" with its line,
    /// which a parse error of the whole file could not do as clearly.
    Other(#[allow(dead_code)] toml::Value),
}

type RawFile = BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<Raw>>>;

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{([^{}\s]*)\}").unwrap());

/// Parses a texts file over `base`: every text and form the file holds replaces the one in
/// `base`, crisis phrases are added. Diagnostics name `path` and lines in `text`; errors
/// among them block serving, and the texts returned then are only a best effort.
pub fn parse_texts(path: &Path, text: &str, base: &Texts) -> (Texts, Vec<Diagnostic>) {
    let mut out = base.clone();
    out.overrides.clear();
    let mut diags = Vec::new();
    let file: RawFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map(|s| line_of_offset(text, s.start)).unwrap_or(1);
            diags.push(Diagnostic::error(
                Problem::Syntax,
                path,
                line,
                format!("ongeldig tekstenbestand: {}", e.message()),
                "schrijf elke tekst als een tabel, bijvoorbeeld [fallback] met daaronder u = \"…\", je = \"…\" en en = \"…\"; zet teksten tussen dubbele aanhalingstekens",
            ));
            return (out, diags);
        }
    };
    let line = |offset: usize| line_of_offset(text, offset);
    for (name, table) in &file {
        let name_line = line(name.span().start);
        if name.get_ref() == CRISIS_TABLE {
            parse_crisis(path, text, table, &mut out, &mut diags);
            continue;
        }
        let Some(key) = TextKey::from_name(name.get_ref()) else {
            diags.push(Diagnostic::error(
                Problem::UnknownField,
                path,
                name_line,
                format!("onbekende tekst `{}`", name.get_ref()),
                format!("kies uit: {}, {CRISIS_TABLE}", key_list()),
            ));
            continue;
        };
        for (form_name, value) in table {
            let form_line = line(form_name.span().start);
            let Some(form) = Form::ALL
                .into_iter()
                .find(|f| f.name() == form_name.get_ref())
            else {
                diags.push(Diagnostic::error(
                    Problem::UnknownField,
                    path,
                    form_line,
                    format!(
                        "onbekende vorm `{}` bij tekst `{}`",
                        form_name.get_ref(),
                        key.name()
                    ),
                    "kies uit: u (formeel Nederlands), je (informeel Nederlands), en (Engels)",
                ));
                continue;
            };
            let Raw::Text(s) = value.get_ref() else {
                diags.push(Diagnostic::error(
                    Problem::InvalidValue,
                    path,
                    form_line,
                    format!("`{}.{}` is geen tekst", key.name(), form.name()),
                    "zet de tekst tussen dubbele aanhalingstekens: u = \"…\"",
                ));
                continue;
            };
            let before = diags.len();
            check_text(path, form_line, key, form, s, &mut diags);
            if diags[before..].iter().any(Diagnostic::is_error) {
                continue;
            }
            out.forms[key as usize][form.index()] = s.clone();
            out.overrides.push(Override {
                key,
                form,
                line: form_line,
            });
        }
    }
    (out, diags)
}

fn key_list() -> String {
    TextKey::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One form of one text: not empty, only placeholders Loket fills there, the required ones
/// present, and in the form of address it is written for.
fn check_text(
    path: &Path,
    line: usize,
    key: TextKey,
    form: Form,
    s: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let what = format!("`{}.{}`", key.name(), form.name());
    if s.trim().is_empty() && !(key.may_be_empty() && form != Form::En) {
        diags.push(Diagnostic::error(
            Problem::InvalidValue,
            path,
            line,
            format!("{what} is leeg"),
            "schrijf een tekst, of haal de regel weg om de landelijke standaardtekst te gebruiken",
        ));
        return;
    }
    let allowed: Vec<&str> = GENERIC_PLACEHOLDERS
        .iter()
        .chain(key.placeholders())
        .copied()
        .collect();
    let allowed_list = allowed
        .iter()
        .map(|p| format!("{{{p}}}"))
        .collect::<Vec<_>>()
        .join(", ");
    for m in PLACEHOLDER.captures_iter(s) {
        let p = &m[1];
        if !allowed.contains(&p) {
            diags.push(Diagnostic::error(
                Problem::Placeholder,
                path,
                line,
                format!("{what}: Loket kan {{{p}}} hier niet invullen"),
                format!("mogelijk in deze tekst: {allowed_list}"),
            ));
        }
    }
    for p in key.required() {
        if !s.contains(&format!("{{{p}}}")) {
            diags.push(Diagnostic::error(
                Problem::Placeholder,
                path,
                line,
                format!("{what} mist {{{p}}}"),
                format!(
                    "zet {{{p}}} in de tekst: {}",
                    match *p {
                        "url" => "daar staat het adres van de beveiligde omgeving",
                        "when" => "daar staat wanneer een medewerker het bericht leest",
                        "time" => "daar staat de tijd waarop de gemeente opengaat",
                        "weekday" | "day" | "month" =>
                            "daar staat de dag waarop de gemeente opengaat",
                        "title" => "daar staat het onderwerp waar de vraag over gaat",
                        "holiday" => "daar staat de naam van de feestdag",
                        _ => "Loket vult hem in",
                    }
                ),
            ));
        }
    }
    let wrong = match form {
        Form::U => Some((&*super::INFORMAL, "u", "je")),
        Form::Je => Some((&*super::FORMAL, "je", "u")),
        Form::En => None,
    };
    if let Some((re, want, have)) = wrong
        && let Some(m) = re.find(s)
    {
        diags.push(
            Diagnostic::error(
                Problem::Tone,
                path,
                line,
                format!(
                    "{what} is de {want}-vorm, maar gebruikt \"{}\" ({have}-vorm)",
                    m.as_str()
                ),
                format!("spreek de inwoner in deze vorm aan met {want}"),
            )
            .as_warning(),
        );
    }
}

fn parse_crisis(
    path: &Path,
    text: &str,
    table: &BTreeMap<Spanned<String>, Spanned<Raw>>,
    out: &mut Texts,
    diags: &mut Vec<Diagnostic>,
) {
    for (field, value) in table {
        let field_line = line_of_offset(text, field.span().start);
        if field.get_ref() != "phrases" {
            diags.push(Diagnostic::error(
                Problem::UnknownField,
                path,
                field_line,
                format!("onbekend veld `{}` in [{CRISIS_TABLE}]", field.get_ref()),
                "[crisis] kent alleen phrases = [\"…\", \"…\"]",
            ));
            continue;
        }
        let Raw::List(phrases) = value.get_ref() else {
            diags.push(Diagnostic::error(
                Problem::InvalidValue,
                path,
                field_line,
                "phrases is geen lijst met teksten",
                "schrijf phrases = [\"eerste woorden\", \"tweede woorden\"]",
            ));
            continue;
        };
        for p in phrases {
            let phrase = p.trim().to_lowercase();
            // The line of the phrase itself, when the list spans several lines.
            let line = line_containing(&text[value.span().start..], &format!("\"{p}\""))
                .map(|l| l + line_of_offset(text, value.span().start) - 1)
                .unwrap_or(field_line);
            if phrase.chars().count() < MIN_CRISIS_PHRASE_CHARS {
                diags.push(Diagnostic::error(
                    Problem::InvalidValue,
                    path,
                    line,
                    format!(
                        "crisiswoord {p:?} is te kort: het komt in te veel gewone berichten voor"
                    ),
                    format!(
                        "gebruik minstens {MIN_CRISIS_PHRASE_CHARS} tekens, liefst een paar woorden (\"wil niet meer leven\")"
                    ),
                ));
            } else if !out.crisis.contains(&phrase) {
                out.crisis.push(phrase);
            }
        }
    }
}

#[cfg(test)]
mod tests;
