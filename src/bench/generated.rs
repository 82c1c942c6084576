//! Generated content for the scale bench: a national library of at least `library` entries
//! (the bundled library, then one entry for each further municipal UPL product, without an
//! intent, as a national library arrives) and `municipalities` municipality folders, each
//! with its own settings, facts (the bundled default's, with its own name, links and prices)
//! and `local` entries of its own (markets, road works, local schemes) that no other
//! municipality has.
//!
//! EXAMPLE DATA: every name, price and link is made up.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

/// How much content to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub municipalities: usize,
    pub local: usize,
    pub library: usize,
}

/// A generated tree: `<root>/landelijk` and `<root>/gemeenten/<slug>` for each municipality
/// (the first one is the default).
pub struct Tree {
    pub root: PathBuf,
    pub dirs: Vec<PathBuf>,
    /// Entries in the library.
    pub library_entries: usize,
}

impl Tree {
    pub fn municipalities_dir(&self) -> PathBuf {
        self.root.join("gemeenten")
    }

    pub fn slug(i: usize) -> String {
        format!("plaats{:03}", i + 1)
    }

    /// The WhatsApp number id of the `i`-th municipality.
    pub fn number(i: usize) -> String {
        format!("1000{:06}", i + 1)
    }
}

/// A tiny deterministic generator (SplitMix64): the same shape gives the same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const STREETS: &[&str] = &[
    "Kerkstraat",
    "Molenweg",
    "Dorpsstraat",
    "Stationsplein",
    "Schoolstraat",
    "Nieuwe Haven",
    "Julianalaan",
    "Beukenlaan",
    "Marktplein",
    "Industrieweg",
    "Lindelaan",
    "Wilhelminastraat",
];

/// Local topics: a title pattern (`{s}` a street, `{p}` the place), questions and an
/// answer, each a citizen's way of asking about something only this municipality has.
const TOPICS: &[(&str, &[&str], &str)] = &[
    (
        "Wegwerkzaamheden {s}",
        &["Hoe lang is de {s} nog afgesloten?", "omleiding {s}"],
        "Aan de {s} vervangen we het riool en de bestrating. De weg is afgesloten voor auto's. Fietsers en voetgangers kunnen er langs. Volg de gele borden voor de omleiding.\n\nDe werkzaamheden duren naar verwachting tot het einde van het kwartaal. Bewoners krijgen een brief met de planning per straatdeel.",
    ),
    (
        "Weekmarkt op het {s}",
        &["Wanneer is de markt in {p}?", "standplaats weekmarkt {s}"],
        "Elke zaterdag is er markt op het {s}, van 08:00 tot 16:00 uur. Wilt u een vaste standplaats? Vraag die aan bij de marktmeester. Een losse plek kost € 25,00 per dag.\n\nBij slecht weer gaat de markt gewoon door.",
    ),
    (
        "Parkeergarage {s}",
        &[
            "Wat kost parkeren in de garage aan de {s}?",
            "abonnement parkeergarage {p}",
        ],
        "De parkeergarage aan de {s} is dag en nacht open. Het eerste uur kost € 2,10, daarna € 1,80 per uur. Een maandabonnement kost € 95,00.\n\nU betaalt bij de uitgang met uw pinpas of creditcard.",
    ),
    (
        "Buurthuis {s}",
        &[
            "Kan ik een zaal huren in het buurthuis aan de {s}?",
            "activiteiten buurthuis {p}",
        ],
        "In het buurthuis aan de {s} kunt u een zaal huren voor een feest, vergadering of cursus. Een zaal kost € 15,00 per uur.\n\nHet buurthuis is open van maandag tot en met vrijdag van 09:00 tot 22:00 uur.",
    ),
    (
        "Speeltuin {s} kapot",
        &["Het speeltoestel aan de {s} is stuk", "schommel kapot {s}"],
        "Is er iets kapot in de speeltuin aan de {s}? Meld het via de website met een foto. We kijken binnen 2 werkdagen of het veilig is.\n\nIs het gevaarlijk? Bel dan direct. We zetten het toestel af tot het gemaakt is.",
    ),
    (
        "Ondergrondse container {s}",
        &[
            "De container aan de {s} is vol",
            "afvalpas werkt niet bij de container {s}",
        ],
        "De ondergrondse container aan de {s} opent met uw afvalpas. Is hij vol of gaat hij niet open? Meld het, dan legen of maken we hem binnen 2 werkdagen.\n\nZet geen zakken naast de container: dat is bijplaatsing en daarvoor kunt u een boete krijgen.",
    ),
];

/// Generates the tree under `root` (emptied first) from the bundled library `library_src`
/// and the bundled default municipality `default_src` (its municipality.toml and facts).
pub fn generate(root: &Path, library_src: &Path, default_src: &Path, shape: Shape) -> Result<Tree> {
    if shape.municipalities == 0 {
        bail!("at least one municipality is needed");
    }
    let _ = std::fs::remove_dir_all(root);
    let lib = root.join("landelijk/entries");
    std::fs::create_dir_all(&lib)?;
    let mut used_upl = HashSet::new();
    let mut count = 0;
    for f in std::fs::read_dir(library_src.join("entries"))
        .with_context(|| format!("reading {}", library_src.display()))?
    {
        let path = f?.path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&path)?;
            if let Some(upl) = text.lines().find_map(|l| l.strip_prefix("upl:")) {
                used_upl.insert(upl.trim().to_string());
            }
            std::fs::write(lib.join(path.file_name().unwrap()), text)?;
            count += 1;
        }
    }
    for p in crate::knowledge::upl::products() {
        if count >= shape.library {
            break;
        }
        if !p.municipal
            || !p.for_citizens
            || used_upl.contains(p.uri)
            || p.name.contains("nog niet")
        {
            continue;
        }
        let id = crate::knowledge::settings::slug_of(p.name);
        if id.is_empty() || lib.join(format!("{id}.md")).exists() {
            continue;
        }
        std::fs::write(
            lib.join(format!("{id}.md")),
            library_entry(&id, p.name, p.uri, count),
        )?;
        count += 1;
    }
    // The library's example values, as the bundled library has them.
    if let Ok(example) = std::fs::read_to_string(library_src.join("facts.toml")) {
        std::fs::write(root.join("landelijk/facts.toml"), example)?;
    }
    let settings = std::fs::read_to_string(default_src.join("municipality.toml"))?;
    let facts = std::fs::read_to_string(default_src.join("facts.toml")).unwrap_or_default();
    let mut dirs = Vec::new();
    for i in 0..shape.municipalities {
        let slug = Tree::slug(i);
        let dir = root.join("gemeenten").join(&slug);
        std::fs::create_dir_all(dir.join("entries"))?;
        let place = format!("Plaats{:03}", i + 1);
        std::fs::write(
            dir.join("municipality.toml"),
            municipality_toml(&settings, &place, &slug, &Tree::number(i))?,
        )?;
        // The default's facts with this municipality's name and links, and prices of its own.
        let own_facts = facts
            .replace("Voorbeeld", &place)
            .replace("voorbeeld.example", &format!("{slug}.example"))
            .replace("84,00", &format!("{},{:02}", 80 + i % 10, i % 100));
        std::fs::write(dir.join("facts.toml"), own_facts)?;
        let mut rng = Rng(i as u64 + 1);
        for k in 0..shape.local {
            let (title, questions, answer) = TOPICS[k % TOPICS.len()];
            let street = format!("{} {}", rng.pick(STREETS), k / TOPICS.len() + 1);
            let fill = |t: &str| t.replace("{s}", &street).replace("{p}", &place);
            let id = format!("lokaal-{k:03}");
            let qs: Vec<String> = questions
                .iter()
                .map(|q| format!("  - {}", quoted(&fill(q))))
                .collect();
            std::fs::write(
                dir.join("entries").join(format!("{id}.md")),
                format!(
                    "---\nid: {id}\ntitle: {}\nshort_title: {}\ndepartment: kcc\nquestions:\n{}\ntags: []\n---\n{}\n\nMeer informatie: {{{{website}}}}/{id}\n",
                    quoted(&fill(title)),
                    quoted(&format!("{} {k}", crate::text::shorten(&fill(title), 19))),
                    qs.join("\n"),
                    fill(answer)
                ),
            )?;
        }
        dirs.push(dir);
    }
    Ok(Tree {
        root: root.to_path_buf(),
        dirs,
        library_entries: count,
    })
}

/// A national entry for a UPL product, without an intent (found by its text).
fn library_entry(id: &str, name: &str, uri: &str, n: usize) -> String {
    let mut title = name.to_string();
    if let Some(first) = title.get(..1) {
        title = first.to_uppercase() + &title[1..];
    }
    // Unique in an options list (WhatsApp rows hold 24 characters).
    let short = format!("{} {n}", crate::text::shorten(&title, 18));
    format!(
        "---\nid: {id}\ntitle: {}\nshort_title: {}\ndepartment: kcc\nupl: {uri}\nquestions:\n  - {}\n  - {}\ntags: []\n---\n\
         Voor {name} gaat u naar {{{{gemeente}}}}. U regelt het meestal online via {{{{website}}}} met DigiD. \
         Lukt dat niet? Maak dan een afspraak of bel {{{{telefoon}}}}.\n\n\
         Wat heeft u nodig? Een geldig identiteitsbewijs en de gegevens waar het om gaat. \
         Soms betaalt u leges; het bedrag staat op de website.\n\n\
         Binnen 8 weken krijgt u een besluit. Bent u het er niet mee eens? Dan kunt u binnen 6 weken bezwaar maken.\n",
        quoted(&title),
        quoted(&short),
        quoted(&format!("Hoe vraag ik {name} aan?")),
        quoted(&format!("Wat kost {name}?")),
    )
}

/// `text` as a YAML string in double quotes.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The default's municipality.toml with another name, slug, number and the library two
/// folders up.
fn municipality_toml(default: &str, place: &str, slug: &str, number: &str) -> Result<String> {
    let mut out = String::new();
    let mut named = false;
    for line in default.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        match key {
            "name" if !named => {
                named = true;
                out.push_str(&format!(
                    "name = \"Gemeente {place}\"\nslug = \"{slug}\"\nwhatsapp_phone_number_id = \"{number}\"\n"
                ));
            }
            "slug" | "whatsapp_phone_number_id" => {}
            "library" => out.push_str("library = \"../../landelijk\"\n"),
            _ => {
                out.push_str(&line.replace("Voorbeeld", place).replace("voorbeeld", slug));
                out.push('\n');
            }
        }
    }
    if !named {
        bail!("the default municipality.toml has no name");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every generated municipality loads without errors, serves the library with its own
    /// facts and its own entries, and has a WhatsApp number of its own.
    #[test]
    fn the_generated_municipalities_load_cleanly() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let kb = root.join("knowledge-base");
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape {
            municipalities: 3,
            local: 7,
            library: 120,
        };
        let tree = generate(dir.path(), &kb.join("landelijk"), &kb, shape).unwrap();
        assert!(tree.library_entries >= 120, "{}", tree.library_entries);
        let today = chrono::Utc::now().date_naive();
        let mut prices = HashSet::new();
        for (i, d) in tree.dirs.iter().enumerate() {
            let loaded = crate::knowledge::load(d, &root.join("intents"), today);
            let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}");
            let kb = loaded.kb.unwrap();
            assert_eq!(kb.entries.len(), tree.library_entries + 7);
            assert_eq!(kb.settings.slug, Tree::slug(i));
            assert_eq!(
                kb.settings.whatsapp_phone_number_id.as_deref(),
                Some(Tree::number(i).as_str())
            );
            assert!(kb.entries.iter().all(|e| !e.answer.contains("{{")));
            prices.insert(kb.entry("paspoort-kosten").unwrap().answer.clone());
        }
        assert_eq!(prices.len(), 3, "each its own passport price");
    }
}
