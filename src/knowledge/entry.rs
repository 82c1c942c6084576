//! One FAQ entry: a Markdown answer under a YAML front-matter header. Parsing reports every
//! problem it finds with the file and line, rather than stopping at the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use super::diagnostic::{Diagnostic, Problem, line_containing, line_of_key};

/// The longest text one WhatsApp message can carry.
pub const WHATSAPP_MAX_CHARS: usize = 4096;

/// The longest title of a WhatsApp list row.
pub const SHORT_TITLE_MAX: usize = 24;

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    pub title: String,
    /// A title of at most 24 characters for a WhatsApp option row; when absent the title
    /// is shortened.
    pub short_title: Option<String>,
    /// The intent the entry answers, or empty: an entry without an intent is found by its
    /// title, questions and answer text alone (a national library arrives that way).
    pub intent: String,
    pub department: String,
    /// The UPL product URI, or empty where no municipal product exists.
    pub upl: String,
    /// The page the answer comes from; a long answer is cut and links to it.
    pub url: Option<String>,
    pub questions: Vec<String>,
    pub tags: Vec<String>,
    pub related: Vec<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// The answer as citizens read it (Dutch), the Markdown body of the file.
    pub answer: String,
    /// Optional English answer for citizens who write in English.
    pub answer_en: Option<String>,
    /// The id of the library entry this (own) entry replaces, if it does so by name.
    pub replaces: Option<String>,
    /// The texts as written, before the municipality's facts were filled in. None when
    /// nothing was filled.
    #[serde(skip)]
    pub unfilled: Option<Box<Unfilled>>,
    /// Whether the entry comes from the national library (not the municipality's own).
    #[serde(skip)]
    pub from_library: bool,
    #[serde(skip)]
    pub source: PathBuf,
    /// Line of each field in the source, for later checks that need to point at one.
    #[serde(skip)]
    pub lines: BTreeMap<String, usize>,
    /// Line where the body starts.
    #[serde(skip)]
    pub body_line: usize,
}

/// An entry's title, answer and questions as written in the library, each placeholder as
/// the words of its name (`{{paspoort_prijs}}`: "paspoort prijs"): what the encoder reads of
/// the answer and what the intent head learns from, the same in every municipality, so a
/// national entry is encoded once and one head serves every municipality.
#[derive(Debug, Clone, Default)]
pub struct Unfilled {
    pub title: String,
    pub answer: String,
    pub questions: Vec<String>,
}

impl Entry {
    /// The example questions as written in the library (see [`Unfilled`]).
    pub fn questions_as_written(&self) -> &[String] {
        self.unfilled
            .as_deref()
            .map_or(&self.questions, |u| &u.questions)
    }

    /// The title for an option row of at most `max` characters.
    pub fn option_title(&self, max: usize) -> String {
        match &self.short_title {
            Some(t) if t.chars().count() <= max => t.clone(),
            _ => crate::text::shorten(&self.title, max),
        }
    }

    pub fn line(&self, field: &str) -> usize {
        self.lines.get(field).copied().unwrap_or(1)
    }

    /// Whether the entry may be served on `date`.
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= date) && self.valid_until.is_none_or(|u| date <= u)
    }
}

const KNOWN_FIELDS: &[&str] = &[
    "id",
    "title",
    "short_title",
    "source",
    "intent",
    "department",
    "upl",
    "questions",
    "tags",
    "related",
    "valid_from",
    "valid_until",
    "answer_en",
    "replaces",
];

/// Parses one entry file. On problems returns the diagnostics (all of them).
pub fn parse_entry(path: &Path, text: &str) -> Result<Entry, Vec<Diagnostic>> {
    match read_entry(path, text) {
        (Some(e), d) if d.iter().all(|d| !d.is_error()) => Ok(e),
        (_, d) => Err(d),
    }
}

/// Reads one entry file: the entry as far as its header could be read (so that the checks
/// across files can still look at it), and every problem found. An entry that comes with an
/// error is not served.
pub fn read_entry(path: &Path, text: &str) -> (Option<Entry>, Vec<Diagnostic>) {
    let front = match split_front_matter(path, text) {
        Ok(f) => f,
        Err(d) => return (None, vec![d]),
    };
    let value = match parse_header_yaml(path, front.header) {
        Ok(v) => v,
        Err(d) => return (None, vec![d]),
    };
    let Some(map) = value.as_mapping() else {
        return (
            None,
            vec![Diagnostic::error(
                Problem::Syntax,
                path,
                2,
                "de kop moet bestaan uit regels `veld: waarde`",
                "schrijf elk veld als `naam: waarde` op een eigen regel",
            )],
        );
    };

    // The order of the reads below is the order of the diagnostics an editor sees.
    let mut h = HeaderReader::new(path, front.header, map);
    let id = h.string_field("id", true);
    let title = h.string_field("title", true);
    let optional = [
        "short_title",
        "intent",
        "department",
        "upl",
        "source",
        "answer_en",
        "replaces",
    ];
    let [
        short_title,
        intent,
        department,
        upl,
        url,
        answer_en,
        replaces,
    ] = optional.map(|key| h.string_field(key, false));
    let [valid_from_raw, valid_until_raw] =
        ["valid_from", "valid_until"].map(|key| h.string_field(key, false));
    let [questions, tags, related] =
        ["questions", "tags", "related"].map(|key| h.list_field(key, false));
    let valid_from = h.date_field("valid_from", &valid_from_raw);
    let valid_until = h.date_field("valid_until", &valid_until_raw);
    h.check_date_order(valid_from, valid_until);
    h.check_short_title(&short_title);
    h.check_source(&url);
    h.check_answers(&front, &answer_en, !url.is_empty());
    h.check_id(&id);

    let body_line = front.body_line();
    let entry = Entry {
        id,
        title,
        short_title: (!short_title.is_empty()).then_some(short_title),
        intent,
        department: if department.is_empty() {
            super::DEFAULT_DEPARTMENT.to_string()
        } else {
            department
        },
        upl,
        url: (!url.is_empty()).then_some(url),
        questions,
        tags,
        related,
        valid_from,
        valid_until,
        answer: front.body,
        answer_en: (!answer_en.is_empty()).then_some(answer_en),
        replaces: (!replaces.is_empty()).then_some(replaces),
        unfilled: None,
        from_library: false,
        source: path.to_path_buf(),
        lines: h.lines,
        body_line,
    };
    (Some(entry), h.diags)
}

/// An entry file cut into its YAML header and its Markdown body.
struct FrontMatter<'t> {
    /// The text between the two `---` lines; its first line is line 2 of the file.
    header: &'t str,
    /// The answer, trimmed.
    body: String,
    /// Line of the `---` that closes the header.
    closing_line: usize,
}

impl FrontMatter<'_> {
    /// Line where the body starts.
    fn body_line(&self) -> usize {
        self.closing_line + 1
    }
}

/// Finds the header between the opening and the closing `---` lines.
fn split_front_matter<'t>(path: &Path, text: &'t str) -> Result<FrontMatter<'t>, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Err(Diagnostic::error(
            Problem::Syntax,
            path,
            1,
            "het bestand begint niet met een kop (front matter)",
            "begin het bestand met een regel `---`, dan de velden (id, title, intent, ...), weer een regel `---` en daaronder het antwoord",
        ));
    }
    let mut offset = first.len();
    let mut header_end = None;
    for (i, l) in lines.enumerate() {
        if l.trim_end() == "---" {
            header_end = Some((offset, offset + l.len(), i + 2));
            break;
        }
        offset += l.len();
    }
    let Some((header_stop, body_start, closing_line)) = header_end else {
        return Err(Diagnostic::error(
            Problem::Syntax,
            path,
            1,
            "de kop is niet afgesloten",
            "zet een regel `---` na het laatste veld, vóór de antwoordtekst",
        ));
    };
    Ok(FrontMatter {
        header: &text[first.len()..header_stop],
        body: text[body_start..].trim().to_string(),
        closing_line,
    })
}

/// Parses the header as YAML; a syntax error points at the file line to fix.
fn parse_header_yaml(path: &Path, header: &str) -> Result<serde_yaml::Value, Diagnostic> {
    serde_yaml::from_str(header).map_err(|e| {
        // The parser reports where it noticed the problem; the construct it was reading
        // ("while parsing ... at line N") usually starts on the line to fix.
        let msg = e.to_string();
        let mentioned = msg.split("at line ").skip(1).filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<usize>()
                .ok()
        });
        let line = e
            .location()
            .map(|l| l.line())
            .into_iter()
            .chain(mentioned)
            .min()
            .map(|l| l + 1)
            .unwrap_or(2);
        Diagnostic::error(
            Problem::Syntax,
            path,
            line,
            format!("de kop is geen geldige YAML: {e}"),
            "controleer het inspringen, en zet waarden met `: ` of met een leesteken vooraan tussen aanhalingstekens",
        )
    })
}

/// Reads the fields of one header, collecting every problem rather than stopping at the
/// first, each pointing at the line of the field.
struct HeaderReader<'a> {
    path: &'a Path,
    header: &'a str,
    map: &'a serde_yaml::Mapping,
    /// Line of each field in the file.
    lines: BTreeMap<String, usize>,
    diags: Vec<Diagnostic>,
}

impl<'a> HeaderReader<'a> {
    /// Records where each field sits, and reports the fields Loket does not know.
    fn new(path: &'a Path, header: &'a str, map: &'a serde_yaml::Mapping) -> Self {
        let mut reader = HeaderReader {
            path,
            header,
            map,
            lines: BTreeMap::new(),
            diags: Vec::new(),
        };
        for (k, _) in map {
            let Some(key) = k.as_str() else { continue };
            let line = reader.line(key);
            reader.lines.insert(key.to_string(), line);
            if !KNOWN_FIELDS.contains(&key) {
                let suggestion = KNOWN_FIELDS
                    .iter()
                    .min_by_key(|f| edit_distance(f, key))
                    .filter(|f| edit_distance(f, key) <= 3)
                    .map(|f| format!("misschien `{f}`? "))
                    .unwrap_or_default();
                reader.error(
                    Problem::UnknownField,
                    line,
                    format!("onbekend veld `{key}`"),
                    &format!("{suggestion}bekende velden: {}", KNOWN_FIELDS.join(", ")),
                );
            }
        }
        reader
    }

    /// Line of `key` in the file; header lines are numbered from line 2.
    fn line(&self, key: &str) -> usize {
        line_of_key(self.header, key).map(|l| l + 1).unwrap_or(1)
    }

    fn error(&mut self, problem: Problem, line: usize, msg: String, hint: &str) {
        self.diags
            .push(Diagnostic::error(problem, self.path, line, msg, hint));
    }

    fn get(&self, key: &str) -> Option<&'a serde_yaml::Value> {
        self.map.get(serde_yaml::Value::String(key.into()))
    }

    /// A field holding one text; empty when absent (reported when `required`).
    fn string_field(&mut self, key: &str, required: bool) -> String {
        match self.get(key) {
            None | Some(serde_yaml::Value::Null) => {
                if required {
                    let line = if self.lines.contains_key(key) {
                        self.line(key)
                    } else {
                        2
                    };
                    self.error(
                        Problem::MissingField,
                        line,
                        format!("verplicht veld `{key}` ontbreekt of is leeg"),
                        &format!("voeg een regel `{key}: ...` toe aan de kop"),
                    );
                }
                String::new()
            }
            Some(v) => match scalar_string(v) {
                Some(s) if !s.trim().is_empty() => s.trim().to_string(),
                Some(_) if required => {
                    self.error(
                        Problem::MissingField,
                        self.line(key),
                        format!("verplicht veld `{key}` is leeg"),
                        &format!("geef `{key}` een waarde"),
                    );
                    String::new()
                }
                Some(_) => String::new(),
                None => {
                    self.error(
                        Problem::InvalidValue,
                        self.line(key),
                        format!("`{key}` moet één tekst zijn"),
                        &format!("schrijf `{key}: tekst` op één regel"),
                    );
                    String::new()
                }
            },
        }
    }

    /// A field holding a list of texts; empty when absent (reported when `required`).
    fn list_field(&mut self, key: &str, required: bool) -> Vec<String> {
        match self.get(key) {
            None | Some(serde_yaml::Value::Null) => {
                if required {
                    self.error(
                        Problem::MissingField,
                        2,
                        format!("verplicht veld `{key}` ontbreekt"),
                        &format!(
                            "voeg `{key}:` toe met één item per regel, elk beginnend met `  - `"
                        ),
                    );
                }
                Vec::new()
            }
            Some(serde_yaml::Value::Sequence(items)) => self.list_items(key, items, required),
            Some(_) => {
                self.error(
                    Problem::InvalidValue,
                    self.line(key),
                    format!("`{key}` moet een lijst zijn"),
                    &format!("schrijf `{key}: [a, b]` of één `  - item` per regel"),
                );
                Vec::new()
            }
        }
    }

    /// The texts of a list field; every item must be one.
    fn list_items(
        &mut self,
        key: &str,
        items: &[serde_yaml::Value],
        required: bool,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for item in items {
            match scalar_string(item) {
                Some(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                _ => self.error(
                    Problem::InvalidValue,
                    self.line(key),
                    format!("elk item van `{key}` moet een tekst zijn"),
                    "verwijder het lege item of schrijf tekst na de `- `",
                ),
            }
        }
        if required && out.is_empty() {
            self.error(
                Problem::MissingField,
                self.line(key),
                format!("`{key}` heeft geen items"),
                &format!("zet minstens één item onder `{key}`"),
            );
        }
        out
    }

    /// A date field already read as text (`raw`), as YYYY-MM-DD.
    fn date_field(&mut self, key: &str, raw: &str) -> Option<NaiveDate> {
        if raw.is_empty() {
            return None;
        }
        match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.error(
                    Problem::InvalidValue,
                    self.line(key),
                    format!("`{key}` is geen datum: {raw:?}"),
                    "schrijf de datum als YYYY-MM-DD, bijvoorbeeld 2027-01-31",
                );
                None
            }
        }
    }

    fn check_date_order(&mut self, from: Option<NaiveDate>, until: Option<NaiveDate>) {
        if let (Some(f), Some(u)) = (from, until)
            && u < f
        {
            self.error(
                Problem::InvalidValue,
                self.line("valid_until"),
                format!("`valid_until` ({u}) ligt vóór `valid_from` ({f})"),
                "draai de datums om of verbeter er een",
            );
        }
    }

    /// The answer must be there, and each answer must fit one WhatsApp message; a long page
    /// with a `source` is served cut, with the link (a warning).
    fn check_answers(&mut self, front: &FrontMatter<'_>, answer_en: &str, has_source: bool) {
        if front.body.is_empty() {
            self.error(
                Problem::MissingField,
                front.closing_line,
                "het item heeft geen antwoordtekst".into(),
                "schrijf het antwoord onder de afsluitende regel `---`",
            );
        }
        let body_chars = front.body.chars().count();
        if body_chars > WHATSAPP_MAX_CHARS {
            let d = Diagnostic::error(
                Problem::TooLong,
                self.path,
                front.body_line(),
                format!(
                    "het antwoord is {body_chars} tekens lang; één WhatsApp-bericht bevat er hoogstens {WHATSAPP_MAX_CHARS}"
                ),
                if has_source {
                    "Loket stuurt het eerste deel met de link uit `source`; kort het antwoord in als het begin niet genoeg zegt"
                } else {
                    "kort het antwoord in en verwijs voor de details naar de website (of zet de pagina in `source`)"
                },
            );
            self.diags.push(if has_source { d.as_warning() } else { d });
        }
        if answer_en.chars().count() > WHATSAPP_MAX_CHARS {
            self.error(
                Problem::TooLong,
                self.line("answer_en"),
                format!(
                    "`answer_en` is langer dan één WhatsApp-bericht ({WHATSAPP_MAX_CHARS} tekens)"
                ),
                "kort het Engelse antwoord in",
            );
        }
    }

    /// A short title fits a WhatsApp option row (24 characters).
    fn check_short_title(&mut self, short: &str) {
        let n = short.chars().count();
        if n > SHORT_TITLE_MAX {
            self.error(
                Problem::TooLong,
                self.line("short_title"),
                format!("`short_title` is {n} tekens lang; een keuzeknop in WhatsApp toont er hoogstens {SHORT_TITLE_MAX}"),
                "kort de titel in tot 24 tekens",
            );
        }
    }

    /// `source` is a web address.
    fn check_source(&mut self, url: &str) {
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            self.error(
                Problem::InvalidValue,
                self.line("source"),
                format!("`source` is geen webadres: {url:?}"),
                "schrijf het volledige adres, beginnend met https://",
            );
        }
    }

    /// The id is a simple slug and names the file, so an editor finds the entry by its id.
    fn check_id(&mut self, id: &str) {
        if id.is_empty() {
            return;
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            self.error(
                Problem::InvalidValue,
                self.line("id"),
                format!("id {id:?} mag alleen kleine letters, cijfers, `-` en `_` bevatten"),
                "bijvoorbeeld `id: paspoort-kosten`",
            );
        }
        let stem = self.path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != id {
            self.error(
                Problem::InvalidValue,
                self.line("id"),
                format!("id `{id}` verschilt van de bestandsnaam `{stem}.md`"),
                &format!("noem het bestand `{id}.md` of verander de id in `{stem}`"),
            );
        }
    }
}

/// Line of the first occurrence of `needle` in the body of `entry`'s file text.
pub fn body_line_of(text: &str, entry: &Entry, needle: &str) -> usize {
    let skip = entry.body_line.saturating_sub(1);
    let body: String = text.lines().skip(skip).collect::<Vec<_>>().join("\n");
    line_containing(&body, needle)
        .map(|l| l + skip)
        .unwrap_or(entry.body_line)
}

fn scalar_string(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nid: paspoort-kosten\ntitle: Kosten paspoort\nintent: paspoort\ndepartment: burgerzaken\nupl: http://standaarden.overheid.nl/owms/terms/paspoort\nquestions:\n  - Wat kost een paspoort?\ntags: [paspoort, kosten]\n---\nEen paspoort kost € 84,00.\n";

    fn parse(text: &str) -> Result<Entry, Vec<Diagnostic>> {
        parse_entry(Path::new("kb/entries/paspoort-kosten.md"), text)
    }

    #[test]
    fn parses_a_good_entry() {
        let e = parse(GOOD).unwrap();
        assert_eq!(e.id, "paspoort-kosten");
        assert_eq!(e.questions, vec!["Wat kost een paspoort?"]);
        assert_eq!(e.answer, "Een paspoort kost € 84,00.");
        assert_eq!(e.line("intent"), 4);
        assert_eq!(e.body_line, 11);
    }

    #[test]
    fn missing_field_names_its_line_and_fix() {
        let text = GOOD.replace("title: Kosten paspoort\n", "");
        let d = parse(&text).unwrap_err();
        assert!(
            d.iter()
                .any(|d| d.problem == Problem::MissingField && d.message.contains("`title`"))
        );
    }

    /// A national library's page as it comes: no intent, department, questions or UPL,
    /// empty tags, a source URL and a long text (served cut, with the link).
    #[test]
    fn a_library_page_is_accepted_as_it_comes() {
        let text = format!(
            "---\nid: paspoort-kosten\ntitle: Paspoort aanvragen\ntags: []\nsource: https://www.rijksoverheid.nl/paspoort\n---\n{}",
            "Een paspoort vraagt u aan bij de gemeente. ".repeat(120)
        );
        let (e, d) = read_entry(Path::new("kb/entries/paspoort-kosten.md"), &text);
        let e = e.unwrap();
        assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
        assert!(d.iter().any(|d| d.problem == Problem::TooLong));
        assert_eq!(e.intent, "");
        assert_eq!(e.department, crate::knowledge::DEFAULT_DEPARTMENT);
        assert_eq!(
            e.url.as_deref(),
            Some("https://www.rijksoverheid.nl/paspoort")
        );
        assert!(e.tags.is_empty() && e.questions.is_empty() && e.upl.is_empty());
    }

    #[test]
    fn every_problem_of_a_file_comes_in_one_run() {
        let text = GOOD
            .replace("title: Kosten paspoort", "title: \"\"")
            .replace("tags:", "tgas:")
            .replace("Een paspoort kost", &"lang ".repeat(1000))
            + "\n";
        let text = text.replace(
            "upl: ",
            "short_title: Dit is veel te lang voor een knop\nupl: ",
        );
        let (e, d) = read_entry(Path::new("kb/entries/paspoort-kosten.md"), &text);
        assert!(
            e.is_some(),
            "the entry is still read for the checks across files"
        );
        let problems: Vec<Problem> = d.iter().map(|d| d.problem).collect();
        for p in [
            Problem::MissingField,
            Problem::UnknownField,
            Problem::TooLong,
        ] {
            assert!(problems.contains(&p), "{p:?} in {d:?}");
        }
        assert!(
            d.iter().filter(|d| d.problem == Problem::TooLong).count() == 2,
            "{d:?}"
        );
    }

    #[test]
    fn yaml_error_points_at_the_file_line() {
        let text = GOOD.replace("title: Kosten paspoort", "title: [Kosten paspoort");
        let d = parse(&text).unwrap_err();
        assert_eq!(d[0].problem, Problem::Syntax);
        assert!(d[0].line >= 3, "{:?}", d[0]);
    }

    #[test]
    fn unknown_field_suggests_the_right_one() {
        let text = GOOD.replace("tags:", "tgas:");
        let d = parse(&text).unwrap_err();
        let u = d
            .iter()
            .find(|d| d.problem == Problem::UnknownField)
            .unwrap();
        assert_eq!(u.line, 9);
        assert!(u.hint.contains("`tags`"));
    }

    #[test]
    fn unclosed_header_and_missing_header() {
        assert_eq!(parse("id: x\n").unwrap_err()[0].problem, Problem::Syntax);
        assert_eq!(
            parse("---\nid: x\n").unwrap_err()[0].problem,
            Problem::Syntax
        );
    }

    #[test]
    fn overlong_answer_is_reported() {
        let text = format!("{GOOD}{}", "a".repeat(4100));
        let d = parse(&text).unwrap_err();
        assert!(
            d.iter()
                .any(|d| d.problem == Problem::TooLong && d.line == 11)
        );
    }
}
