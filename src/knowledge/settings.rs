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
    match (diags.is_empty(), hours) {
        (true, Some(hours)) => Ok(Settings {
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
        }),
        _ => Err(diags),
    }
}
