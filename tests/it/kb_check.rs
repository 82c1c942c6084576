//! `loket kb check`: every kind of broken entry is reported with its file and line.

use std::path::Path;
use std::process::Command;

use crate::helpers::{copy_dir, edit_file, fixtures, kb_check, line_starting, root};

fn check(kb: &Path) -> (i32, String) {
    kb_check(kb, &fixtures().join("intents"))
}

#[test]
fn the_bundled_knowledge_base_passes() {
    let out = Command::new(env!("CARGO_BIN_EXE_loket"))
        .args(["kb", "check", "knowledge-base"])
        .current_dir(root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("ok: "), "{stdout}");
}

/// (what to break, file to write, new content or edit, expected line, expected words)
#[test]
fn each_kind_of_broken_entry_is_reported_with_file_and_line() {
    let base = fixtures().join("kb");
    let good = std::fs::read_to_string(base.join("entries/paspoort-kosten.md")).unwrap();
    let line_of = |prefix: &str| line_starting(&good, prefix);
    let body_start = good
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "---")
        .nth(1)
        .unwrap()
        .0
        + 2;
    let tone_line = line_of("U betaalt bij");
    #[rustfmt::skip]
    let cases: Vec<(&str, String, usize, &str)> = vec![
        ("missing field", good.replace("title: Kosten paspoort\n", ""), 2, "`title`"),
        ("yaml syntax", good.replace("title: Kosten paspoort", "title: [Kosten"), line_of("title"), "YAML"),
        ("unknown intent", good.replace("intent: paspoort", "intent: paspoorten"), line_of("intent"), "onbekend intent"),
        ("unknown department", good.replace("department: burgerzaken", "department: burgerzaak"), line_of("department"), "onbekende afdeling"),
        ("unknown field", good.replace("tags:", "tgas:"), line_of("tags"), "misschien `tags`"),
        ("broken reference", good.replace("tags:", "related: [bestaat-niet]\ntags:"), line_of("tags"), "bestaat-niet"),
        ("expired", good.replace("valid_from: 2026-01-01", "valid_until: 2020-01-01"), line_of("valid_from"), "verlopen"),
        ("bad upl", good.replace("terms/paspoort", "terms/pasport"), line_of("upl"), "misschien"),
        ("too long", format!("{}\n{}", good.trim_end(), "Lang verhaal. ".repeat(400)), body_start, "WhatsApp"),
        ("tone", good.replace("U betaalt bij", "Je betaalt bij"), tone_line, "`u`"),
        ("bad date", good.replace("valid_from: 2026-01-01", "valid_from: 1 januari"), line_of("valid_from"), "YYYY-MM-DD"),
    ];
    for (what, content, line, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&base, dir.path());
        std::fs::write(dir.path().join("entries/paspoort-kosten.md"), &content).unwrap();
        let (code, out) = check(dir.path());
        assert_eq!(code, 3, "{what}: exit code\n{out}");
        // Each problem is one line, then its fix on the next ("  oplossing: ...").
        let lines: Vec<&str> = out.lines().collect();
        let records: Vec<String> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.starts_with("  "))
            .map(|(i, l)| {
                format!(
                    "{l} {}",
                    lines
                        .get(i + 1)
                        .filter(|n| n.starts_with("  "))
                        .unwrap_or(&"")
                )
            })
            .collect();
        let hit = records
            .iter()
            .find(|l| l.contains("paspoort-kosten.md:") && l.contains(words))
            .unwrap_or_else(|| panic!("{what}: no error mentioning {words:?}\n{out}"));
        if line > 0 {
            assert!(
                hit.contains(&format!("paspoort-kosten.md:{line}:")),
                "{what}: wrong line in {hit:?}"
            );
        }
        assert!(
            out.contains("oplossing:"),
            "{what}: every error says how to fix it\n{out}"
        );
    }
    // A duplicate id names both files.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&base, dir.path());
    edit_file(
        &dir.path().join("entries/paspoort-kind.md"),
        "id: paspoort-kind",
        "id: paspoort-kosten",
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, 3);
    assert!(out.contains("paspoort-kind.md:2:"), "{out}");
}

/// The same text (case, accents and punctuation aside) as an example of two intents is an
/// error, and as an entry's question and another intent's example a warning, each at the
/// line of the text.
#[test]
fn an_example_claimed_by_two_intents_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, intents) = (dir.path().join("kb"), dir.path().join("intents"));
    copy_dir(&fixtures().join("kb"), &kb);
    copy_dir(&fixtures().join("intents"), &intents);
    edit_file(
        &intents.join("afspraak.yaml"),
        "  - afspraak maken\n",
        "  - afspraak maken\n  - Hoe verleng ik mijn paspoort?\n",
    );
    edit_file(
        &kb.join("entries/paspoort-kosten.md"),
        "  - prijs paspoort\n",
        "  - prijs paspoort\n  - Afspraak cancelen!\n",
    );
    let (code, out) = kb_check(&kb, &intents);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("paspoort.yaml:6: fout: voorbeeld \"hoe verleng ik mijn paspoort\" is ook een voorbeeld van intent `afspraak`"),
        "{out}"
    );
    let edited = std::fs::read_to_string(kb.join("entries/paspoort-kosten.md")).unwrap();
    let line = line_starting(&edited, "  - Afspraak cancelen!");
    assert!(
        out.contains(&format!(
            "paspoort-kosten.md:{line}: waarschuwing: vraag \"Afspraak cancelen!\" is ook een voorbeeld van intent `afspraak`"
        )),
        "{out}"
    );
    // Without the two-intent example only the warning is left, and the check passes.
    edit_file(
        &intents.join("afspraak.yaml"),
        "  - Hoe verleng ik mijn paspoort?\n",
        "",
    );
    let (code, out) = kb_check(&kb, &intents);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(": fout:"), "{out}");
    assert!(out.contains("vraag \"Afspraak cancelen!\""), "{out}");
}

/// A national library's pages as they arrive (no intent, no questions, a `source` URL, long
/// texts) load beside the municipality's own through `library` in municipality.toml, and a
/// broken page reports every one of its problems in one run, each at its line.
#[test]
fn a_library_as_it_arrives_passes_and_a_broken_page_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, lib) = (dir.path().join("kb"), dir.path().join("landelijk/entries"));
    copy_dir(&fixtures().join("kb"), &kb);
    std::fs::create_dir_all(&lib).unwrap();
    let blind = root().join("tests/blind/kb/entries");
    let mut pages: Vec<_> = std::fs::read_dir(&blind)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    for p in pages.iter().take(20) {
        std::fs::copy(p, lib.join(p.file_name().unwrap())).unwrap();
    }
    let settings = std::fs::read_to_string(kb.join("municipality.toml")).unwrap();
    std::fs::write(
        kb.join("municipality.toml"),
        format!("library = \"../landelijk\"\n{settings}"),
    )
    .unwrap();
    let (code, out) = check(&kb);
    assert_eq!(code, 0, "{out}");

    let broken = "---\nid: kapot\ntitle: \"\"\ntgas: []\nupl: http://standaarden.overheid.nl/owms/terms/bestaat_niet\nrelated: [nergens]\nsource: www.zonder-schema.nl\n---\nTekst.\n";
    std::fs::write(lib.join("kapot.md"), broken).unwrap();
    let (code, out) = check(&kb);
    assert_eq!(code, 3, "{out}");
    for (line, words) in [
        (3, "`title`"),
        (4, "onbekend veld `tgas`"),
        (5, "UPL"),
        (6, "nergens"),
        (7, "`source`"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("kapot.md:{line}:")) && l.contains(words)),
            "line {line}, {words}:\n{out}"
        );
    }
}

/// Each problem of the two layers is reported as `file:line` with a fix in Dutch, by
/// `loket kb check` on a copy of the bundled library and Gemeente Zeestad.
mod layers {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use crate::helpers::{copy_dir, edit_file, kb_check, line_starting, root};

    /// A copy of the national library and Zeestad: (temporary dir, Zeestad's folder).
    fn zeestad() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &root().join("knowledge-base/landelijk"),
            &dir.path().join("landelijk"),
        );
        let kb = dir.path().join("gemeenten/zeestad");
        copy_dir(&root().join("knowledge-base/gemeenten/zeestad"), &kb);
        (dir, kb)
    }

    fn check(kb: &Path) -> (i32, String) {
        kb_check(kb, &root().join("intents"))
    }

    /// The problem reported at `file:line` with `words`, and its fix (the next line).
    fn reported(out: &str, file_line: &str, words: &str) -> String {
        let lines: Vec<&str> = out.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.contains(file_line) && l.contains(words))
            .unwrap_or_else(|| panic!("no {file_line:?} with {words:?} in\n{out}"));
        let fix = lines.get(i + 1).copied().unwrap_or("");
        assert!(fix.starts_with("  oplossing: "), "{fix:?}");
        format!("{}\n{fix}", lines[i])
    }

    fn line_of(path: &Path, prefix: &str) -> usize {
        line_starting(&std::fs::read_to_string(path).unwrap(), prefix)
    }

    #[test]
    fn the_bundled_municipalities_pass_one_by_one_and_all_at_once() {
        for slug in ["zeestad", "heidedorp"] {
            let dir = format!("knowledge-base/gemeenten/{slug}");
            let (code, out) = kb_check(&root().join(&dir), &root().join("intents"));
            assert_eq!(code, 0, "{dir}\n{out}");
            assert!(!out.contains(": fout:"), "{out}");
        }
        // Without DIR: every municipality folder of the configuration, each named.
        let out = Command::new(env!("CARGO_BIN_EXE_loket"))
            .args(["kb", "check"])
            .env("LOKET__PATHS__MUNICIPALITIES", "knowledge-base/gemeenten")
            .current_dir(root())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        for dir in [
            "knowledge-base: ok: ",
            "gemeenten/heidedorp: ok: ",
            "gemeenten/zeestad: ok: ",
        ] {
            assert!(stdout.contains(dir), "{dir} in\n{stdout}");
        }
    }

    #[test]
    fn a_placeholder_without_a_value_points_at_the_library_line_and_the_facts_file() {
        let (dir, kb) = zeestad();
        edit_file(
            &kb.join("facts.toml"),
            "paspoort_prijs_kind = \"€ 60,10\"\n",
            "",
        );
        let (code, out) = check(&kb);
        assert_eq!(code, 3, "{out}");
        let lib = dir.path().join("landelijk/entries/paspoort-kosten.md");
        let line = line_of(&lib, "- jonger dan 18: {{paspoort_prijs_kind}}");
        let hit = reported(
            &out,
            &format!("paspoort-kosten.md:{line}: fout:"),
            "{{paspoort_prijs_kind}}",
        );
        assert!(hit.contains("Gemeente Zeestad"), "{hit}");
        assert!(hit.contains("`paspoort_prijs_kind = \"...\"`"), "{hit}");
        assert!(hit.contains("zeestad/facts.toml"), "{hit}");
    }

    #[test]
    fn a_fact_no_entry_uses_is_a_warning_at_its_line() {
        let (_dir, kb) = zeestad();
        edit_file(
            &kb.join("facts.toml"),
            "plaats = \"Zeestad\"\n",
            "plaats = \"Zeestad\"\nveerpont_tarief = \"€ 2,50\"\n",
        );
        let (code, out) = check(&kb);
        assert_eq!(code, 0, "{out}");
        let line = line_of(&kb.join("facts.toml"), "veerpont_tarief");
        let hit = reported(
            &out,
            &format!("facts.toml:{line}: waarschuwing:"),
            "`veerpont_tarief`",
        );
        assert!(
            hit.contains("{{veerpont_tarief}}") && hit.contains("haal de regel weg"),
            "{hit}"
        );
    }

    #[test]
    fn a_malformed_facts_file_is_an_error_at_its_line() {
        let (_dir, kb) = zeestad();
        edit_file(
            &kb.join("facts.toml"),
            "rioolheffing = \"€ 241,00\"",
            "rioolheffing = € 241,00",
        );
        let (code, out) = check(&kb);
        assert_eq!(code, 3, "{out}");
        let line = line_of(&kb.join("facts.toml"), "rioolheffing");
        let hit = reported(&out, &format!("facts.toml:{line}: fout:"), "TOML");
        assert!(hit.contains("aanhalingstekens"), "{hit}");
        // The one error, not every placeholder that now lacks its value.
        assert!(out.ends_with("1 fout, 0 waarschuwingen\n"), "{out}");
    }

    #[test]
    fn switching_off_an_entry_the_library_lacks_names_the_nearest_id() {
        let (_dir, kb) = zeestad();
        let settings = kb.join("municipality.toml");
        edit_file(
            &settings,
            "library_off = [\"bezoekersvergunning\"]",
            "library_off = [\n  \"bezoekersvergunning\",\n  \"bezoekersvergunnig\",\n]",
        );
        let (code, out) = check(&kb);
        assert_eq!(code, 3, "{out}");
        let line = line_of(&settings, "  \"bezoekersvergunnig\"");
        let hit = reported(
            &out,
            &format!("municipality.toml:{line}: fout:"),
            "`bezoekersvergunnig`",
        );
        assert!(hit.contains("bedoelt u `bezoekersvergunning`?"), "{hit}");
    }

    #[test]
    fn replacing_an_entry_the_library_lacks_names_the_nearest_id() {
        let (_dir, kb) = zeestad();
        let own = kb.join("entries/havenfeesten-standplaats.md");
        edit_file(
            &own,
            "upl: ",
            "replaces: evenementenvergunning-aanvraag\nupl: ",
        );
        let (code, out) = check(&kb);
        assert_eq!(code, 3, "{out}");
        let line = line_of(&own, "replaces:");
        let hit = reported(
            &out,
            &format!("havenfeesten-standplaats.md:{line}: fout:"),
            "evenementenvergunning-aanvraag",
        );
        assert!(
            hit.contains("`replaces: evenementenvergunning-aanvragen`"),
            "{hit}"
        );
    }

    #[test]
    fn an_own_entry_that_duplicates_a_library_entry_is_told_to_replace_it() {
        let (dir, kb) = zeestad();
        // The same title as a library entry, another id, no shared UPL.
        let lib = std::fs::read_to_string(dir.path().join("landelijk/entries/hondenbelasting.md"))
            .unwrap();
        let own = kb.join("entries/hondenbelasting-zeestad.md");
        std::fs::write(
            &own,
            lib.replace("id: hondenbelasting", "id: hondenbelasting-zeestad")
                .replace("upl: ", "# upl: "),
        )
        .unwrap();
        let (code, out) = check(&kb);
        assert_eq!(code, 0, "{out}");
        let line = line_of(&own, "title:");
        let hit = reported(
            &out,
            &format!("hondenbelasting-zeestad.md:{line}: waarschuwing:"),
            "`hondenbelasting`",
        );
        assert!(hit.contains("`replaces: hondenbelasting`"), "{hit}");
        // A shared example question alone is enough; `replaces` settles it.
        edit_file(&own, "title: ", "title: Honden in Zeestad, ");
        let (_, out) = check(&kb);
        let q = line_of(&own, "  - ");
        reported(
            &out,
            &format!("hondenbelasting-zeestad.md:{q}: waarschuwing:"),
            "dezelfde vraag",
        );
        edit_file(
            &own,
            "id: hondenbelasting-zeestad",
            "id: hondenbelasting-zeestad\nreplaces: hondenbelasting",
        );
        let (code, out) = check(&kb);
        assert_eq!(code, 0, "{out}");
        assert!(!out.contains("hondenbelasting-zeestad.md"), "{out}");
    }
}
