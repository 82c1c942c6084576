//! The municipality's settings (`municipality.toml` in the knowledge base): name, contact
//! details, office hours, time zone, secure channel, form of address and departments.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::diagnostic::{Diagnostic, Problem, line_of_key, line_of_offset};
use crate::knowledge::hours::{HolidaysConfig, OfficeHours, OfficeHoursConfig};

/// How Loket addresses citizens: formally (`u`) or informally (`je`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    U,
    Je,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Department {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    name: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    address: String,
    #[serde(default = "default_tz")]
    time_zone: String,
    tone: Tone,
    secure_channel_url: String,
    #[serde(default = "default_response_time")]
    response_time_minutes: u32,
    #[serde(default)]
    office_hours: OfficeHoursConfig,
    #[serde(default)]
    holidays: HolidaysConfig,
    departments: Vec<Department>,
    /// A shared library of entries (a folder with `entries/`), relative to this file's folder.
    #[serde(default)]
    library: Option<String>,
    /// The municipality's short name in URLs, the web chat's `data-gemeente` and the store
    /// (default: the name without "Gemeente", in lower case with dashes).
    #[serde(default)]
    slug: Option<String>,
    /// Meta's id of this municipality's WhatsApp number, when one Loket serves several.
    #[serde(default)]
    whatsapp_phone_number_id: Option<String>,
    /// The web chat's look.
    #[serde(default)]
    look: Look,
    /// Days a conversation is kept after its last activity (`loket archive purge`); unset:
    /// `archive.retention_days` of the service. 0 keeps everything.
    #[serde(default)]
    retention_days: Option<u32>,
    /// Library entries (by id) this municipality does not serve.
    #[serde(default)]
    library_off: Vec<String>,
}

/// The web chat's look: colours as NL Design System-style design tokens (CSS custom
/// properties) and a logo.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Look {
    /// Main colour (header, buttons, the citizen's messages), `#rrggbb`.
    #[serde(default)]
    pub primary_color: Option<String>,
    /// Text on the main colour, `#rrggbb`.
    #[serde(default)]
    pub primary_text_color: Option<String>,
    /// Logo shown in the chat's header (an https:// address or a path on this site).
    #[serde(default)]
    pub logo_url: Option<String>,
}

impl Look {
    /// The CSS custom properties (design tokens) this look sets over the web chat's defaults
    /// (`--loket-accent: #…;`); only values checked by [`parse_settings`] reach it.
    pub fn css_properties(&self) -> String {
        let mut out = String::new();
        for (name, value) in [
            ("--loket-accent", &self.primary_color),
            ("--loket-accent-text", &self.primary_text_color),
        ] {
            if let Some(v) = value {
                out.push_str(&format!("{name}: {v}; "));
            }
        }
        out.trim_end().to_string()
    }
}

/// `#rgb` or `#rrggbb`.
fn is_hex_color(s: &str) -> bool {
    s.strip_prefix('#')
        .is_some_and(|h| (h.len() == 3 || h.len() == 6) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// WCAG 2.1 contrast ratio of two `#rgb`/`#rrggbb` colours (1 to 21).
pub fn contrast_ratio(a: &str, b: &str) -> Option<f64> {
    fn luminance(hex: &str) -> Option<f64> {
        let h = hex.strip_prefix('#')?;
        let h: String = if h.len() == 3 {
            h.chars().flat_map(|c| [c, c]).collect()
        } else {
            h.to_string()
        };
        let channel = |i: usize| -> Option<f64> {
            let v = u8::from_str_radix(h.get(i..i + 2)?, 16).ok()? as f64 / 255.0;
            Some(if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            })
        };
        Some(0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?)
    }
    let (la, lb) = (luminance(a)?, luminance(b)?);
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    Some((hi + 0.05) / (lo + 0.05))
}

/// A municipality's slug from its name: "Gemeente Súdwest-Fryslân" → "sudwest-fryslan".
pub fn slug_of(name: &str) -> String {
    let name = name.trim();
    let name = name
        .strip_prefix("Gemeente ")
        .or_else(|| name.strip_prefix("gemeente "))
        .unwrap_or(name);
    let folded: String = name.to_lowercase().chars().map(crate::text::fold).collect();
    let mut out = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Lower-case letters, digits and dashes, 1–40 characters, starting with a letter or digit.
pub fn is_slug(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
}

fn default_tz() -> String {
    "Europe/Amsterdam".into()
}

fn default_response_time() -> u32 {
    60
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub website: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub tone: Tone,
    pub secure_channel_url: String,
    pub response_time_minutes: u32,
    pub hours: OfficeHours,
    pub departments: Vec<Department>,
    /// The shared library's folder as written (relative to the knowledge base).
    pub library: Option<String>,
    /// Short name in URLs, the web chat and the store (see [`slug_of`]).
    pub slug: String,
    pub whatsapp_phone_number_id: Option<String>,
    pub look: Look,
    /// This municipality's retention, over the service's `archive.retention_days`.
    pub retention_days: Option<u32>,
    /// The ids of the library's entries this municipality switched off (`library_off`).
    pub library_off: Vec<String>,
}

pub const DEFAULT_DEPARTMENT: &str = "kcc";

impl Settings {
    pub fn department(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }
}

pub fn parse_settings(path: &Path, text: &str) -> Result<Settings, Vec<Diagnostic>> {
    let file: SettingsFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of_offset(text, s.start)).unwrap_or(1);
        vec![Diagnostic::error(
            Problem::Syntax,
            path,
            line,
            format!("ongeldige instellingen: {}", e.message()),
            "zie knowledge-base/municipality.toml in de Loket-repository voor een volledig voorbeeld",
        )]
    })?;
    let mut diags = Vec::new();
    let line = |key: &str| line_of_key(text, key).unwrap_or(1);
    if !file.secure_channel_url.starts_with("https://") {
        diags.push(Diagnostic::error(
            Problem::InvalidValue,
            path,
            line("secure_channel_url"),
            "secure_channel_url moet een https://-adres zijn",
            "inwoners sturen daar persoonsgegevens heen; het moet een beveiligde webpagina zijn, zoals de Mijn-omgeving van de gemeente",
        ));
    }
    let hours = match OfficeHours::new(&file.time_zone, &file.office_hours, &file.holidays) {
        Ok(h) => Some(h),
        Err(e) => {
            diags.push(Diagnostic::error(
                Problem::InvalidValue,
                path,
                line_of_key(text, "[office_hours]")
                    .or_else(|| text.lines().position(|l| l.trim() == "[office_hours]").map(|i| i + 1))
                    .unwrap_or(1),
                e.to_string(),
                "schrijf openingstijden als \"HH:MM-HH:MM\" en de tijdzone als bijvoorbeeld \"Europe/Amsterdam\"",
            ));
            None
        }
    };
    let mut seen = std::collections::HashSet::new();
    for d in &file.departments {
        if !seen.insert(d.id.as_str()) {
            diags.push(Diagnostic::error(
                Problem::DuplicateId,
                path,
                super::diagnostic::line_containing(text, &format!("\"{}\"", d.id)).unwrap_or(1),
                format!("afdeling `{}` staat er twee keer in", d.id),
                "verwijder een van de twee [[departments]]-blokken",
            ));
        }
    }
    if !seen.contains(DEFAULT_DEPARTMENT) {
        diags.push(Diagnostic::error(
            Problem::MissingField,
            path,
            1,
            format!("de standaardafdeling `{DEFAULT_DEPARTMENT}` ontbreekt"),
            "voeg [[departments]] toe met id = \"kcc\": overdrachten zonder afdeling gaan daarheen",
        ));
    }
    check_identity(&file, path, text, &mut diags);
    match (diags.is_empty(), hours) {
        (true, Some(hours)) => Ok(Settings {
            slug: file.slug.clone().unwrap_or_else(|| slug_of(&file.name)),
            whatsapp_phone_number_id: file
                .whatsapp_phone_number_id
                .clone()
                .filter(|p| !p.trim().is_empty()),
            look: file.look.clone(),
            retention_days: file.retention_days,
            name: file.name,
            website: file.website,
            phone: file.phone,
            email: file.email,
            address: file.address,
            tone: file.tone,
            secure_channel_url: file.secure_channel_url,
            response_time_minutes: file.response_time_minutes,
            hours,
            departments: file.departments,
            library: file.library.filter(|l| !l.trim().is_empty()),
            library_off: file.library_off,
        }),
        _ => Err(diags),
    }
}

/// The slug, the WhatsApp number id and the look: values that end up in URLs and CSS.
fn check_identity(file: &SettingsFile, path: &Path, text: &str, diags: &mut Vec<Diagnostic>) {
    let line = |key: &str| line_of_key(text, key).unwrap_or(1);
    let slug = file.slug.clone().unwrap_or_else(|| slug_of(&file.name));
    if !is_slug(&slug) {
        diags.push(Diagnostic::error(
            Problem::InvalidValue,
            path,
            line(if file.slug.is_some() { "slug" } else { "name" }),
            format!("de korte naam `{slug}` kan niet in een webadres"),
            "zet slug = \"...\" met alleen kleine letters, cijfers en streepjes, bijvoorbeeld slug = \"voorbeeld\"",
        ));
    }
    if let Some(id) = &file.whatsapp_phone_number_id
        && !id.trim().is_empty()
        && !id.chars().all(|c| c.is_ascii_digit())
    {
        diags.push(Diagnostic::error(
            Problem::InvalidValue,
            path,
            line("whatsapp_phone_number_id"),
            "whatsapp_phone_number_id bestaat alleen uit cijfers",
            "neem het nummer-ID over uit WhatsApp Manager (Telefoonnummers), tussen aanhalingstekens",
        ));
    }
    for (key, value) in [
        ("primary_color", &file.look.primary_color),
        ("primary_text_color", &file.look.primary_text_color),
    ] {
        if let Some(v) = value
            && !is_hex_color(v)
        {
            diags.push(Diagnostic::error(
                Problem::InvalidValue,
                path,
                line(key),
                format!("{key} = \"{v}\" is geen kleur"),
                "schrijf een kleur als #rrggbb, bijvoorbeeld \"#154273\"",
            ));
        }
    }
    if let Some(bg) = file
        .look
        .primary_color
        .as_deref()
        .filter(|c| is_hex_color(c))
    {
        let fg = file.look.primary_text_color.as_deref().unwrap_or("#fff");
        if let Some(ratio) = contrast_ratio(bg, fg).filter(|r| *r < 4.5) {
            diags.push(Diagnostic::error(
                Problem::InvalidValue,
                path,
                line("primary_color"),
                format!("tekst in {fg} op {bg} is slecht leesbaar (contrast {ratio:.1}:1, minimaal 4,5:1)"),
                "kies een donkerdere primary_color of een andere primary_text_color (WCAG 2.1 AA, verplicht voor overheidssites)",
            ));
        }
    }
    let logo_ok = |l: &str| {
        (l.starts_with("https://") || (l.starts_with('/') && !l.starts_with("//")))
            && !l.contains(['"', '\'', '<', '>', ' ', '(', ')'])
    };
    if file.look.logo_url.as_deref().is_some_and(|l| !logo_ok(l)) {
        diags.push(Diagnostic::error(
            Problem::InvalidValue,
            path,
            line("logo_url"),
            "logo_url moet een https://-adres zijn (of een pad op deze site)",
            "zet het logo op de website van de gemeente en neem het https://-adres over",
        ));
    }
}

#[cfg(test)]
mod identity_tests {
    use super::*;

    #[test]
    fn slugs_come_from_the_name_unless_given() {
        assert_eq!(slug_of("Gemeente Voorbeeld"), "voorbeeld");
        assert_eq!(slug_of("Gemeente Súdwest-Fryslân"), "sudwest-fryslan");
        assert_eq!(slug_of("'s-Hertogenbosch"), "s-hertogenbosch");
        assert!(is_slug("bergen-nh") && !is_slug("Bergen") && !is_slug("") && !is_slug("a/b"));
    }

    #[test]
    fn a_look_becomes_css_custom_properties_and_bad_values_are_refused() {
        let base = "name = \"Gemeente Zeestad\"\ntone = \"je\"\nsecure_channel_url = \"https://x.example\"\n[[departments]]\nid = \"kcc\"\nname = \"KCC\"\n";
        let good =
            format!("{base}[look]\nprimary_color = \"#0b5394\"\nprimary_text_color = \"#fff\"\n");
        let s = parse_settings(Path::new("m.toml"), &good).unwrap();
        assert_eq!(s.slug, "zeestad");
        assert_eq!(
            s.look.css_properties(),
            "--loket-accent: #0b5394; --loket-accent-text: #fff;"
        );
        let bad = format!("{base}[look]\nprimary_color = \"red; background: url(x)\"\n");
        let errs = parse_settings(Path::new("m.toml"), &bad).unwrap_err();
        assert!(
            errs.iter().any(|d| d.message.contains("geen kleur")),
            "{errs:?}"
        );
        let pale = format!("{base}[look]\nprimary_color = \"#ffcc00\"\n");
        let errs = parse_settings(Path::new("m.toml"), &pale).unwrap_err();
        assert!(
            errs.iter().any(|d| d.message.contains("contrast")),
            "{errs:?}"
        );
        assert!((contrast_ratio("#000", "#fff").unwrap() - 21.0).abs() < 1e-6);
        let bad_slug = base.replace("tone", "slug = \"Zee Stad\"\ntone");
        assert!(parse_settings(Path::new("m.toml"), &bad_slug).is_err());
    }
}
