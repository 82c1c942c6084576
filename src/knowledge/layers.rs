//! Content in two layers: a national library of entries every municipality shares, and a
//! municipality's own entries beside it.
//!
//! The rules, in the order they apply:
//! - a library entry whose id is in `library_off` (municipality.toml) is not served;
//! - an own entry replaces the library entry with the same id;
//! - an own entry with `replaces: <id>` replaces that library entry;
//! - an own entry without `replaces` replaces the library entry with the same UPL product,
//!   when the library has exactly one entry for that product (with several, the UPL does
//!   not say which one; `replaces` does);
//! - every other own entry is served beside the library's.
//!
//! `related` lists follow: a replaced entry's id becomes its replacement's, and a library
//! entry's reference to a switched-off entry is dropped.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::diagnostic::{self, Diagnostic, Problem};
use super::entry::{Entry, edit_distance};
use super::facts::{self, Facts};

/// The entries served from both layers, each entry's file text by id (for the lines of
/// later diagnostics), and the ids that come from the library.
pub struct Layers {
    pub entries: Vec<Entry>,
    pub texts: HashMap<String, String>,
    pub library_ids: HashSet<String>,
}

/// What the municipality says about the library in `municipality.toml`.
pub struct LibraryChoice<'a> {
    pub dir: Option<&'a Path>,
    /// The ids in `library_off`.
    pub off: &'a [String],
    /// municipality.toml, to point at the line of an id in `library_off`.
    pub settings_path: &'a Path,
}

/// Loads the library's entries and the municipality's own, and merges them by the rules
/// of this module. The entries come sorted by file name (as one folder's would).
pub fn merge(kb_dir: &Path, lib: &LibraryChoice<'_>, diags: &mut Vec<Diagnostic>) -> Layers {
    let (library, mut texts) = match lib.dir {
        Some(dir) => super::load_shared_entries(&dir.join("entries"), diags),
        None => (Vec::new(), HashMap::new()),
    };
    let (own, own_texts) = super::load_entries(&kb_dir.join("entries"), diags);
    let known: HashSet<&str> = library.iter().map(|e| e.id.as_str()).collect();
    check_off(lib, &known, diags);
    for e in &library {
        if e.replaces.is_some() {
            diags.push(Diagnostic::error(
                Problem::InvalidValue,
                &e.source,
                e.line("replaces"),
                "`replaces` hoort in een eigen item van een gemeente, niet in de bibliotheek",
                "haal de regel `replaces:` weg; een gemeente vervangt een landelijk item in haar eigen map entries/",
            ));
        }
    }
    for e in &own {
        if let Some(r) = &e.replaces
            && !known.contains(r.as_str())
        {
            diags.push(unknown_replaced(e, r, lib.dir, &known));
        }
    }
    let gone = replaced(&library, &own, lib.off);
    let mut entries: Vec<Entry> = library
        .into_iter()
        .filter(|e| !gone.contains_key(&e.id))
        .collect();
    let library_ids: HashSet<String> = entries.iter().map(|e| e.id.clone()).collect();
    texts.retain(|id, _| library_ids.contains(id));
    for e in &mut entries {
        e.related.retain(|r| gone.get(r) != Some(&None));
        e.from_library = true;
    }
    entries.extend(own);
    texts.extend(own_texts);
    for e in &mut entries {
        for r in &mut e.related {
            if let Some(Some(by)) = gone.get(r) {
                r.clone_from(by);
            }
        }
        let mut seen = HashSet::new();
        e.related.retain(|r| seen.insert(r.clone()));
    }
    entries.sort_by(|a, b| a.source.file_name().cmp(&b.source.file_name()));
    Layers {
        entries,
        texts,
        library_ids,
    }
}

/// Adds the entries of a further library folder beneath both layers (`loket eval
/// --library`: a set of pages tried beside a municipality that already has its library):
/// a page is served unless an entry already served has its id or its UPL product.
pub fn add_beneath(layers: &mut Layers, dir: &Path, diags: &mut Vec<Diagnostic>) {
    let (pages, mut texts) = super::load_entries(&dir.join("entries"), diags);
    let ids: HashSet<String> = layers.entries.iter().map(|e| e.id.clone()).collect();
    let upls: HashSet<String> = layers
        .entries
        .iter()
        .filter(|e| super::upl::is_product(&e.upl))
        .map(|e| e.upl.clone())
        .collect();
    for mut e in pages {
        if ids.contains(&e.id) || upls.contains(&e.upl) {
            continue;
        }
        e.from_library = true;
        if let Some(t) = texts.remove(&e.id) {
            layers.texts.insert(e.id.clone(), t);
        }
        layers.library_ids.insert(e.id.clone());
        layers.entries.push(e);
    }
    layers
        .entries
        .sort_by(|a, b| a.source.file_name().cmp(&b.source.file_name()));
}

/// The library entries that are not served, each with the own entry that takes its place
/// (`None` when it is switched off).
fn replaced(library: &[Entry], own: &[Entry], off: &[String]) -> HashMap<String, Option<String>> {
    let mut by_upl: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in library {
        if super::upl::is_product(&e.upl) {
            by_upl.entry(e.upl.as_str()).or_default().push(&e.id);
        }
    }
    let ids: HashSet<&str> = library.iter().map(|e| e.id.as_str()).collect();
    let mut gone: HashMap<String, Option<String>> = off
        .iter()
        .filter(|id| ids.contains(id.as_str()))
        .map(|id| (id.clone(), None))
        .collect();
    for e in own {
        let by_upl = match by_upl.get(e.upl.as_str()) {
            Some(only) if only.len() == 1 && e.replaces.is_none() => Some(only[0]),
            _ => None,
        };
        let targets = [Some(e.id.as_str()), e.replaces.as_deref(), by_upl];
        for t in targets.into_iter().flatten().filter(|t| ids.contains(t)) {
            gone.insert(t.to_string(), Some(e.id.clone()));
        }
    }
    gone
}

/// Every id in `library_off` names an entry of the library.
fn check_off(lib: &LibraryChoice<'_>, known: &HashSet<&str>, diags: &mut Vec<Diagnostic>) {
    if lib.off.is_empty() {
        return;
    }
    let text = std::fs::read_to_string(lib.settings_path).unwrap_or_default();
    for id in lib.off.iter().filter(|id| !known.contains(id.as_str())) {
        let line = diagnostic::line_containing(&text, &format!("\"{id}\""))
            .or_else(|| diagnostic::line_of_key(&text, "library_off"))
            .unwrap_or(1);
        let (message, hint) = match lib.dir {
            None => (
                format!("`library_off` noemt `{id}`, maar deze gemeente heeft geen bibliotheek"),
                "zet `library = \"<map van de bibliotheek>\"` in municipality.toml, of haal `library_off` weg".to_string(),
            ),
            Some(dir) => (
                format!(
                    "`library_off` noemt `{id}`, maar de bibliotheek ({}) heeft geen item met die id",
                    dir.join("entries").display()
                ),
                match nearest(id, known) {
                    Some(n) => format!("bedoelt u `{n}`? Verbeter de id in `library_off`, of haal hem weg"),
                    None => "gebruik de id van een item in de bibliotheek (de bestandsnaam zonder .md), of haal hem weg uit `library_off`".into(),
                },
            ),
        };
        diags.push(Diagnostic::error(
            Problem::BrokenReference,
            lib.settings_path,
            line,
            message,
            hint,
        ));
    }
}

/// An own entry's `replaces` that names no entry of the library.
fn unknown_replaced(e: &Entry, id: &str, dir: Option<&Path>, known: &HashSet<&str>) -> Diagnostic {
    let (message, hint) = match dir {
        None => (
            format!("`replaces: {id}`, maar deze gemeente heeft geen bibliotheek"),
            "haal de regel `replaces:` weg, of zet `library = \"<map van de bibliotheek>\"` in municipality.toml".to_string(),
        ),
        Some(dir) => (
            format!(
                "`replaces: {id}`, maar de bibliotheek ({}) heeft geen item met die id",
                dir.join("entries").display()
            ),
            match nearest(id, known) {
                Some(n) => format!("bedoelt u `replaces: {n}`?"),
                None => "gebruik de id van een item in de bibliotheek (de bestandsnaam zonder .md), of haal de regel `replaces:` weg".into(),
            },
        ),
    };
    Diagnostic::error(
        Problem::BrokenReference,
        &e.source,
        e.line("replaces"),
        message,
        hint,
    )
}

/// The known id closest to `id`, if it is close enough to be a typing error.
fn nearest<'a>(id: &str, known: &HashSet<&'a str>) -> Option<&'a str> {
    let mut ids: Vec<&str> = known.iter().copied().collect();
    ids.sort();
    ids.into_iter()
        .map(|k| (edit_distance(k, id), k))
        .min()
        .filter(|(d, _)| *d <= 3.max(id.chars().count() / 4))
        .map(|(_, k)| k)
}

/// Fills the placeholders of every entry with the municipality's facts, and reports a
/// placeholder without a value (an error, at the entry's line), one written wrong, and a
/// fact no entry uses (a warning, at its line in facts.toml).
pub fn fill(
    entries: &mut [Entry],
    texts: &HashMap<String, String>,
    facts: &Facts,
    reference: &Facts,
    municipality: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let mut used = HashSet::new();
    for e in entries.iter_mut() {
        let text = texts.get(&e.id).map(String::as_str).unwrap_or("");
        for bad in facts::malformed(text) {
            diags.push(Diagnostic::error(
                Problem::Placeholder,
                &e.source,
                diagnostic::line_containing(text, bad).unwrap_or(e.body_line),
                format!("{bad} is geen geldige invulplek"),
                "schrijf een invulplek als `{{naam}}`: kleine letters, cijfers en `_`, zonder spaties",
            ));
        }
        let missing = facts.fill_entry(e, reference, &mut used);
        for name in missing.into_iter().filter(|_| !facts.unreadable) {
            let placeholder = format!("{{{{{name}}}}}");
            diags.push(Diagnostic::error(
                Problem::Placeholder,
                &e.source,
                diagnostic::line_containing(text, &placeholder).unwrap_or(e.body_line),
                format!("invulplek `{placeholder}` heeft geen waarde voor {municipality}"),
                format!(
                    "zet een regel `{name} = \"...\"` in {} met de waarde voor {municipality}",
                    facts.path.display()
                ),
            ));
        }
    }
    for (name, fact) in &facts.values {
        let Some(line) = fact.line else { continue };
        if !used.contains(name) {
            diags.push(
                Diagnostic::error(
                    Problem::Coverage,
                    &facts.path,
                    line,
                    format!("feit `{name}` wordt in geen enkel item gebruikt"),
                    format!("haal de regel weg, of gebruik `{{{{{name}}}}}` in een item"),
                )
                .as_warning(),
            );
        }
    }
}

/// An own entry that says what a library entry says (the same title, or one of the same
/// example questions) without replacing it: a citizen could get either. A warning on the
/// own entry, after filling (so titles compare as citizens read them).
pub fn duplicates(
    entries: &[Entry],
    texts: &HashMap<String, String>,
    library_ids: &HashSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    let norm = crate::text::normalize;
    let library: Vec<&Entry> = entries
        .iter()
        .filter(|e| library_ids.contains(&e.id))
        .collect();
    let mut titles: HashMap<String, &Entry> = HashMap::new();
    let mut questions: HashMap<String, &Entry> = HashMap::new();
    for l in &library {
        titles.entry(norm(&l.title)).or_insert(l);
        for q in &l.questions {
            questions.entry(norm(q)).or_insert(l);
        }
    }
    for e in entries.iter().filter(|e| !library_ids.contains(&e.id)) {
        let text = texts.get(&e.id).map(String::as_str).unwrap_or("");
        let hit = titles
            .get(&norm(&e.title))
            .map(|l| (*l, e.line("title"), "dezelfde titel".to_string()))
            .or_else(|| {
                e.questions.iter().find_map(|q| {
                    questions.get(&norm(q)).map(|l| {
                        let line =
                            diagnostic::line_containing(text, q).unwrap_or(e.line("questions"));
                        (*l, line, format!("dezelfde vraag {q:?}"))
                    })
                })
            });
        let Some((l, line, what)) = hit else { continue };
        if !l.upl.is_empty() && l.upl == e.upl {
            continue;
        }
        diags.push(
            Diagnostic::error(
                Problem::DuplicateId,
                &e.source,
                line,
                format!(
                    "dit item heeft {what} als het landelijke item `{}` ({}), maar vervangt het niet: een inwoner kan beide krijgen",
                    l.id,
                    l.source.display()
                ),
                format!(
                    "vervangt dit item het landelijke? Zet dan `replaces: {}` in de kop. Zo niet, geef het een eigen titel en eigen vragen",
                    l.id
                ),
            )
            .as_warning(),
        );
    }
}
