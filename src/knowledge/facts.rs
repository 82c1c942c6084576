//! A municipality's local facts, filled into the placeholders of the entries.
//!
//! A national (library) entry is written once for every municipality; what differs per
//! municipality (a price, a link, opening hours, the name of the place) is a placeholder
//! `{{naam}}` (lowercase letters, digits and `_`). The values come from `facts.toml` in the
//! municipality's folder (flat `naam = "waarde"`; a number is printed as written) and from
//! the facts Loket takes from `municipality.toml` itself (see [`BUILT_IN`]). Placeholders
//! are filled when the content loads, so every answer, title and question that is served
//! holds the municipality's value. The municipality's own entries may use them too.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use super::diagnostic::{Diagnostic, Problem, line_of_offset};
use super::entry::Entry;
use super::settings::Settings;

/// The file with the local facts, in the municipality's folder.
pub const FILE_NAME: &str = "facts.toml";

/// The facts that come from `municipality.toml`: (placeholder, the key there).
pub const BUILT_IN: [(&str, &str); 6] = [
    ("gemeente", "name"),
    ("website", "website"),
    ("telefoon", "phone"),
    ("email", "email"),
    ("adres", "address"),
    ("veilig_kanaal", "secure_channel_url"),
];

/// `{{naam}}`: a placeholder as editors write it.
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{([a-z0-9_]+)\}\}").unwrap());
/// Anything between double braces, to find the placeholders that are written wrong.
static BRACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{[^{}\n]*\}\}").unwrap());

/// One fact: its value, and the line of `facts.toml` it is on (`None` for a built-in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub value: String,
    pub line: Option<usize>,
}

/// The facts of one municipality, by name.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub values: BTreeMap<String, Fact>,
    /// `facts.toml` of the municipality (whether it exists or not).
    pub path: PathBuf,
    /// The file could not be read as TOML: placeholders without a value then only echo
    /// that one error, so they are not reported.
    pub unreadable: bool,
}

/// The placeholders in `text`, in order.
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    PLACEHOLDER
        .captures_iter(text)
        .map(|c| c.get(1).map_or("", |m| m.as_str()))
}

/// Double braces that do not hold a valid placeholder name (`{{ Naam }}`, `{{prijs-1}}`).
pub fn malformed(text: &str) -> impl Iterator<Item = &str> {
    BRACES
        .find_iter(text)
        .map(|m| m.as_str())
        .filter(|m| !PLACEHOLDER.is_match(m))
}

impl Facts {
    /// The library's example values: `facts.toml` in the library folder (optional), what the
    /// encoder reads in a national entry's placeholders in every municipality, so the entry
    /// is encoded once and reads as a real answer would.
    pub fn reference(library_dir: &Path, diags: &mut Vec<Diagnostic>) -> Facts {
        let path = library_dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => parse(&path, &text, true, diags),
            Err(_) => Facts::default(),
        }
    }

    /// Reads `facts.toml` in `kb_dir` (optional) and adds the built-in facts of `settings`.
    pub fn load(kb_dir: &Path, settings: &Settings, diags: &mut Vec<Diagnostic>) -> Facts {
        let path = kb_dir.join(FILE_NAME);
        let mut facts = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&path, &text, false, diags),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Facts::default(),
            Err(e) => {
                diags.push(Diagnostic::error(
                    Problem::Io,
                    &path,
                    1,
                    format!("niet te lezen: {e}"),
                    "sla het bestand op als UTF-8-tekst",
                ));
                Facts {
                    unreadable: true,
                    ..Facts::default()
                }
            }
        };
        facts.path = path;
        for (name, key) in BUILT_IN {
            let value = match key {
                "name" => &settings.name,
                "website" => &settings.website,
                "phone" => &settings.phone,
                "email" => &settings.email,
                "address" => &settings.address,
                _ => &settings.secure_channel_url,
            };
            if !value.is_empty() {
                facts.values.insert(
                    name.to_string(),
                    Fact {
                        value: value.clone(),
                        line: None,
                    },
                );
            }
        }
        facts
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|f| f.value.as_str())
    }

    /// `text` with every placeholder that has a value filled in (in one pass: a value is
    /// never read for placeholders). Names each placeholder it met in `used`, and those
    /// without a value in `missing`.
    pub fn fill(
        &self,
        text: &str,
        used: &mut HashSet<String>,
        missing: &mut Vec<String>,
    ) -> String {
        if !text.contains("{{") {
            return text.to_string();
        }
        PLACEHOLDER
            .replace_all(text, |c: &regex::Captures<'_>| {
                let name = &c[1];
                used.insert(name.to_string());
                match self.get(name) {
                    Some(v) => v.to_string(),
                    None => {
                        if !missing.iter().any(|m| m == name) {
                            missing.push(name.to_string());
                        }
                        c[0].to_string()
                    }
                }
            })
            .into_owned()
    }

    /// Fills every text of an entry that a citizen reads or that finds it: title, short
    /// title, questions, tags, the answers and the source link. Returns the placeholders
    /// without a value.
    /// `reference` holds the library's example values (see [`Entry::unfilled`]).
    pub fn fill_entry(
        &self,
        e: &mut Entry,
        reference: &Facts,
        used: &mut HashSet<String>,
    ) -> Vec<String> {
        if e.title.contains("{{")
            || e.answer.contains("{{")
            || e.questions.iter().any(|q| q.contains("{{"))
        {
            e.unfilled = Some(Box::new(super::entry::Unfilled {
                title: as_written(&e.title, reference),
                answer: as_written(&e.answer, reference),
                questions: e
                    .questions
                    .iter()
                    .map(|q| as_written(q, reference))
                    .collect(),
            }));
        }
        let mut missing = Vec::new();
        let mut fill = |s: &mut String| *s = self.fill(s, used, &mut missing);
        fill(&mut e.title);
        fill(&mut e.answer);
        for s in e
            .short_title
            .iter_mut()
            .chain(e.answer_en.iter_mut())
            .chain(e.url.iter_mut())
        {
            fill(s);
        }
        for s in e.questions.iter_mut().chain(e.tags.iter_mut()) {
            fill(s);
        }
        missing
    }
}

/// `text` as the library writes it, for the encoder: each placeholder with the library's
/// example value (its `facts.toml`), or else the words of its name (`{{paspoort_prijs}}`:
/// "paspoort prijs").
pub fn as_written(text: &str, reference: &Facts) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    PLACEHOLDER
        .replace_all(text, |c: &regex::Captures<'_>| {
            reference
                .get(&c[1])
                .map_or_else(|| c[1].replace('_', " "), str::to_string)
        })
        .into_owned()
}

/// Parses `facts.toml`: a flat list of `naam = "waarde"` (or a number, kept as written).
/// `library`: the library's example values, which give the built-in facts too.
fn parse(path: &Path, text: &str, library: bool, diags: &mut Vec<Diagnostic>) -> Facts {
    let table: BTreeMap<String, toml::Spanned<toml::Value>> = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            diags.push(Diagnostic::error(
                Problem::Syntax,
                path,
                e.span().map(|s| line_of_offset(text, s.start)).unwrap_or(1),
                format!(
                    "{FILE_NAME} is geen geldige TOML: {}",
                    e.message().trim().replace('\n', "; ")
                ),
                "schrijf elk feit op een eigen regel als `naam = \"waarde\"`, met de waarde tussen aanhalingstekens",
            ));
            return Facts {
                unreadable: true,
                ..Facts::default()
            };
        }
    };
    let mut facts = Facts::default();
    for (name, spanned) in table {
        let line = line_of_offset(text, spanned.span().start);
        let value = match spanned.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(_) | toml::Value::Float(_) => {
                text[spanned.span()].trim().to_string()
            }
            _ => {
                diags.push(Diagnostic::error(
                    Problem::InvalidValue,
                    path,
                    line,
                    format!("feit `{name}` is geen tekst of getal"),
                    format!("schrijf `{name} = \"waarde\"` op één regel (een feit is één tekst; geen lijst of [tabel])"),
                ));
                continue;
            }
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            diags.push(Diagnostic::error(
                Problem::InvalidValue,
                path,
                line,
                format!(
                    "de naam van feit `{name}` mag alleen kleine letters, cijfers en `_` bevatten"
                ),
                format!(
                    "bijvoorbeeld `{} = ...`; in een item schrijft u dan `{{{{{}}}}}`",
                    snake(&name),
                    snake(&name)
                ),
            ));
            continue;
        }
        if let Some((_, key)) = BUILT_IN.iter().find(|(n, _)| *n == name && !library) {
            diags.push(Diagnostic::error(
                Problem::DuplicateId,
                path,
                line,
                format!("feit `{name}` komt al uit municipality.toml (`{key}`)"),
                format!("haal de regel hier weg en pas `{key}` in municipality.toml aan"),
            ));
            continue;
        }
        facts.values.insert(
            name,
            Fact {
                value,
                line: Some(line),
            },
        );
    }
    facts
}

/// A name as a placeholder may have it: lowercase, `_` for anything else.
fn snake(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (Facts, Vec<Diagnostic>) {
        let mut d = Vec::new();
        (
            parse(Path::new("gemeente/facts.toml"), text, false, &mut d),
            d,
        )
    }

    #[test]
    fn strings_and_numbers_as_written() {
        let (f, d) = parsed(
            "# prijzen\npaspoort_prijs = \"€ 84,00\"\nlevertijd_dagen = 5\ntarief = 84.50\nuren = \"\"\"\n- ma: 9-17\n- di: 9-17\"\"\"\n",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(f.get("paspoort_prijs"), Some("€ 84,00"));
        assert_eq!(f.get("levertijd_dagen"), Some("5"));
        assert_eq!(f.get("tarief"), Some("84.50"));
        assert_eq!(f.get("uren"), Some("- ma: 9-17\n- di: 9-17"));
        assert_eq!(f.values["tarief"].line, Some(4));
    }

    #[test]
    fn a_malformed_file_names_its_line() {
        let (_, d) = parsed("a = \"1\"\nb = \"niet afgesloten\n");
        assert_eq!((d[0].problem, d[0].line), (Problem::Syntax, 2), "{d:?}");
        let (f, d) = parsed(
            "a = \"1\"\nlijst = [1, 2]\nGroot = \"x\"\ngemeente = \"Zeestad\"\n\n[tabel]\nc = 1\n",
        );
        let lines: Vec<(usize, Problem)> = d.iter().map(|d| (d.line, d.problem)).collect();
        assert!(lines.contains(&(2, Problem::InvalidValue)), "{d:?}");
        assert!(
            d.iter()
                .any(|d| d.line == 3 && d.hint.contains("`groot = ...`")),
            "{d:?}"
        );
        assert!(
            d.iter().any(|d| d.line == 4 && d.hint.contains("`name`")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|d| d.message.contains("`tabel`") && (6..=7).contains(&d.line)),
            "{d:?}"
        );
        assert_eq!(d.len(), 4, "{d:?}");
        assert_eq!(f.get("a"), Some("1"));
    }

    #[test]
    fn filling_is_one_pass_and_names_what_is_missing() {
        let (mut f, _) = parsed("prijs = \"{{prijs}} € 1\"\n");
        f.values.insert(
            "plaats".into(),
            Fact {
                value: "Zeestad".into(),
                line: None,
            },
        );
        let (mut used, mut missing) = (HashSet::new(), Vec::new());
        let out = f.fill(
            "In {{plaats}}: {{prijs}}, {{onbekend}} en {{onbekend}}; {{ Fout }}",
            &mut used,
            &mut missing,
        );
        assert_eq!(
            out,
            "In Zeestad: {{prijs}} € 1, {{onbekend}} en {{onbekend}}; {{ Fout }}"
        );
        assert_eq!(missing, vec!["onbekend"]);
        assert!(used.contains("plaats") && used.contains("prijs"));
        assert_eq!(
            malformed("{{ Fout }} {{goed}} {{prijs-1}}").collect::<Vec<_>>(),
            ["{{ Fout }}", "{{prijs-1}}"]
        );
    }
}
