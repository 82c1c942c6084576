//! One FAQ entry: a Markdown answer under a YAML front-matter header. Parsing reports every
//! problem it finds with the file and line, rather than stopping at the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use super::diagnostic::{Diagnostic, Problem, line_containing, line_of_key};

/// The longest text one WhatsApp message can carry.
pub const WHATSAPP_MAX_CHARS: usize = 4096;

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    pub title: String,
    pub intent: String,
    pub department: String,
    pub upl: String,
    pub questions: Vec<String>,
    pub tags: Vec<String>,
    pub related: Vec<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// The answer as citizens read it (Dutch), the Markdown body of the file.
    pub answer: String,
    /// Optional English answer for citizens who write in English.
    pub answer_en: Option<String>,
    #[serde(skip)]
    pub source: PathBuf,
    /// Line of each field in the source, for later checks that need to point at one.
    #[serde(skip)]
    pub lines: BTreeMap<String, usize>,
    /// Line where the body starts.
    #[serde(skip)]
    pub body_line: usize,
}

impl Entry {
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
    "intent",
    "department",
    "upl",
    "questions",
    "tags",
    "related",
    "valid_from",
    "valid_until",
    "answer_en",
];

/// Parses one entry file. On problems returns the diagnostics (all of them).
pub fn parse_entry(path: &Path, text: &str) -> Result<Entry, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let err =
        |problem, line, msg: String, hint: &str| Diagnostic::error(problem, path, line, msg, hint);

    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Err(vec![err(
            Problem::Syntax,
            1,
            "het bestand begint niet met een kop (front matter)".into(),
            "begin het bestand met een regel `---`, dan de velden (id, title, intent, ...), weer een regel `---` en daaronder het antwoord",
        )]);
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
        return Err(vec![err(
            Problem::Syntax,
            1,
            "de kop is niet afgesloten".into(),
            "zet een regel `---` na het laatste veld, vóór de antwoordtekst",
        )]);
    };
    let header = &text[first.len()..header_stop];
    let body = text[body_start..].trim().to_string();
    // Header lines are numbered from line 2 of the file.
    let hline = |key: &str| line_of_key(header, key).map(|l| l + 1).unwrap_or(1);

    let value: serde_yaml::Value = match serde_yaml::from_str(header) {
        Ok(v) => v,
        Err(e) => {
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
            return Err(vec![err(
                Problem::Syntax,
                line,
                format!("de kop is geen geldige YAML: {e}"),
                "controleer het inspringen, en zet waarden met `: ` of met een leesteken vooraan tussen aanhalingstekens",
            )]);
        }
    };
    let Some(map) = value.as_mapping() else {
        return Err(vec![err(
            Problem::Syntax,
            2,
            "de kop moet bestaan uit regels `veld: waarde`".into(),
            "schrijf elk veld als `naam: waarde` op een eigen regel",
        )]);
    };

    let mut line_map = BTreeMap::new();
    for (k, _) in map {
        let Some(key) = k.as_str() else { continue };
        let line = hline(key);
        line_map.insert(key.to_string(), line);
        if !KNOWN_FIELDS.contains(&key) {
            let suggestion = KNOWN_FIELDS
                .iter()
                .min_by_key(|f| edit_distance(f, key))
                .filter(|f| edit_distance(f, key) <= 3)
                .map(|f| format!("misschien `{f}`? "))
                .unwrap_or_default();
            diags.push(err(
                Problem::UnknownField,
                line,
                format!("onbekend veld `{key}`"),
                &format!("{suggestion}bekende velden: {}", KNOWN_FIELDS.join(", ")),
            ));
        }
    }

    let get = |key: &str| map.get(serde_yaml::Value::String(key.into()));
    let string_field = |key: &str, required: bool, diags: &mut Vec<Diagnostic>| -> String {
        match get(key) {
            None | Some(serde_yaml::Value::Null) => {
                if required {
                    diags.push(err(
                        Problem::MissingField,
                        if line_map.contains_key(key) {
                            hline(key)
                        } else {
                            2
                        },
                        format!("verplicht veld `{key}` ontbreekt of is leeg"),
                        &format!("voeg een regel `{key}: ...` toe aan de kop"),
                    ));
                }
                String::new()
            }
            Some(v) => match scalar_string(v) {
                Some(s) if !s.trim().is_empty() => s.trim().to_string(),
                Some(_) if required => {
                    diags.push(err(
                        Problem::MissingField,
                        hline(key),
                        format!("verplicht veld `{key}` is leeg"),
                        &format!("geef `{key}` een waarde"),
                    ));
                    String::new()
                }
                Some(_) => String::new(),
                None => {
                    diags.push(err(
                        Problem::InvalidValue,
                        hline(key),
                        format!("`{key}` moet één tekst zijn"),
                        &format!("schrijf `{key}: tekst` op één regel"),
                    ));
                    String::new()
                }
            },
        }
    };

    let id = string_field("id", true, &mut diags);
    let title = string_field("title", true, &mut diags);
    let intent = string_field("intent", true, &mut diags);
    let department = string_field("department", true, &mut diags);
    let upl = string_field("upl", true, &mut diags);
    let answer_en = string_field("answer_en", false, &mut diags);
    let valid_from_raw = string_field("valid_from", false, &mut diags);
    let valid_until_raw = string_field("valid_until", false, &mut diags);

    let list_field = |key: &str, required: bool, diags: &mut Vec<Diagnostic>| -> Vec<String> {
        match get(key) {
            None | Some(serde_yaml::Value::Null) => {
                if required {
                    diags.push(err(
                        Problem::MissingField,
                        2,
                        format!("verplicht veld `{key}` ontbreekt"),
                        &format!(
                            "voeg `{key}:` toe met één item per regel, elk beginnend met `  - `"
                        ),
                    ));
                }
                Vec::new()
            }
            Some(serde_yaml::Value::Sequence(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match scalar_string(item) {
                        Some(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                        _ => diags.push(err(
                            Problem::InvalidValue,
                            hline(key),
                            format!("elk item van `{key}` moet een tekst zijn"),
                            "verwijder het lege item of schrijf tekst na de `- `",
                        )),
                    }
                }
                if required && out.is_empty() {
                    diags.push(err(
                        Problem::MissingField,
                        hline(key),
                        format!("`{key}` heeft geen items"),
                        &format!("zet minstens één item onder `{key}`"),
                    ));
                }
                out
            }
            Some(_) => {
                diags.push(err(
                    Problem::InvalidValue,
                    hline(key),
                    format!("`{key}` moet een lijst zijn"),
                    &format!("schrijf `{key}: [a, b]` of één `  - item` per regel"),
                ));
                Vec::new()
            }
        }
    };
    let questions = list_field("questions", true, &mut diags);
    let tags = list_field("tags", true, &mut diags);
    let related = list_field("related", false, &mut diags);

    let date_field = |key: &str, raw: &str, diags: &mut Vec<Diagnostic>| {
        if raw.is_empty() {
            return None;
        }
        match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                diags.push(err(
                    Problem::InvalidValue,
                    hline(key),
                    format!("`{key}` is geen datum: {raw:?}"),
                    "schrijf de datum als YYYY-MM-DD, bijvoorbeeld 2027-01-31",
                ));
                None
            }
        }
    };
    let valid_from = date_field("valid_from", &valid_from_raw, &mut diags);
    let valid_until = date_field("valid_until", &valid_until_raw, &mut diags);
    if let (Some(f), Some(u)) = (valid_from, valid_until)
        && u < f
    {
        diags.push(err(
            Problem::InvalidValue,
            hline("valid_until"),
            format!("`valid_until` ({u}) ligt vóór `valid_from` ({f})"),
            "draai de datums om of verbeter er een",
        ));
    }

    let body_line = closing_line + 1;
    if body.is_empty() {
        diags.push(err(
            Problem::MissingField,
            closing_line,
            "het item heeft geen antwoordtekst".into(),
            "schrijf het antwoord onder de afsluitende regel `---`",
        ));
    }
    let body_chars = body.chars().count();
    if body_chars > WHATSAPP_MAX_CHARS {
        diags.push(err(
            Problem::TooLong,
            body_line,
            format!(
                "het antwoord is {body_chars} tekens lang; één WhatsApp-bericht bevat er hoogstens {WHATSAPP_MAX_CHARS}"
            ),
            "kort het antwoord in en verwijs voor de details naar de website",
        ));
    }
    if answer_en.chars().count() > WHATSAPP_MAX_CHARS {
        diags.push(err(
            Problem::TooLong,
            hline("answer_en"),
            format!("`answer_en` is langer dan één WhatsApp-bericht ({WHATSAPP_MAX_CHARS} tekens)"),
            "kort het Engelse antwoord in",
        ));
    }

    if !id.is_empty() {
        if !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            diags.push(err(
                Problem::InvalidValue,
                hline("id"),
                format!("id {id:?} mag alleen kleine letters, cijfers, `-` en `_` bevatten"),
                "bijvoorbeeld `id: paspoort-kosten`",
            ));
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != id {
            diags.push(err(
                Problem::InvalidValue,
                hline("id"),
                format!("id `{id}` verschilt van de bestandsnaam `{stem}.md`"),
                &format!("noem het bestand `{id}.md` of verander de id in `{stem}`"),
            ));
        }
    }

    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(Entry {
        id,
        title,
        intent,
        department,
        upl,
        questions,
        tags,
        related,
        valid_from,
        valid_until,
        answer: body,
        answer_en: (!answer_en.is_empty()).then_some(answer_en),
        source: path.to_path_buf(),
        lines: line_map,
        body_line,
    })
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
        let text = GOOD.replace("intent: paspoort\n", "");
        let d = parse(&text).unwrap_err();
        assert!(
            d.iter()
                .any(|d| d.problem == Problem::MissingField && d.message.contains("`intent`"))
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
