//! Office hours and Dutch public holidays for a municipality.
//!
//! The settings file describes the opening hours per weekday and the
//! holidays on which the office is closed:
//!
//! ```toml
//! time_zone = "Europe/Amsterdam"
//! [office_hours]
//! monday = "09:00-17:00"
//! friday = "09:00-13:00"
//! [holidays]
//! closed = ["nieuwjaarsdag", "goede_vrijdag", "tweede_paasdag"]
//! ```
//!
//! [`OfficeHoursConfig`] and [`HolidaysConfig`] are the raw, deserialised
//! tables; [`OfficeHours::new`] validates them into an [`OfficeHours`] that
//! answers questions such as "is the office open now?" and "when will a
//! person read this message?".
//!
//! Every query takes the current instant as `now: DateTime<Utc>` so callers
//! (and tests) control the clock. Opening hours are wall-clock times in the
//! configured time zone, so daylight saving time is handled by converting
//! `now` to that zone first.

mod holidays;

pub use holidays::{Holiday, easter_sunday, holiday_on};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How many days [`OfficeHours::next_opening`] looks ahead.
const LOOKAHEAD_DAYS: u64 = 60;

/// Settings keys of the weekdays, Monday first.
#[rustfmt::skip]
const DAY_KEYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

#[rustfmt::skip]
pub(crate) const DUTCH_WEEKDAYS: [&str; 7] = ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"];

pub(crate) const ENGLISH_WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

pub(crate) const ENGLISH_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The `[office_hours]` table: one `"HH:MM-HH:MM"` range per weekday.
///
/// A missing day means the office is closed that day; `"closed"` and
/// `"gesloten"` are accepted as an explicit way to say the same. Unknown keys
/// are rejected so that a misspelled day does not silently close the office.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeHoursConfig {
    pub monday: Option<String>,
    pub tuesday: Option<String>,
    pub wednesday: Option<String>,
    pub thursday: Option<String>,
    pub friday: Option<String>,
    pub saturday: Option<String>,
    pub sunday: Option<String>,
}

impl OfficeHoursConfig {
    /// The configured value for each weekday, Monday first.
    fn days(&self) -> [Option<&str>; 7] {
        [
            self.monday.as_deref(),
            self.tuesday.as_deref(),
            self.wednesday.as_deref(),
            self.thursday.as_deref(),
            self.friday.as_deref(),
            self.saturday.as_deref(),
            self.sunday.as_deref(),
        ]
    }
}

/// The `[holidays]` table: the holidays on which the office is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HolidaysConfig {
    /// Holidays listed in `snake_case`, e.g. `"tweede_paasdag"`. A missing
    /// key means the office never closes for a holiday.
    #[serde(default)]
    pub closed: Vec<Holiday>,
}

/// Why [`OfficeHours::new`] rejected the settings. The messages name the
/// offending setting and say what is expected, so they can be shown to the
/// person editing the settings file as they are.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HoursError {
    /// The time zone is not an IANA time zone name.
    #[error(
        "time_zone: unknown time zone {0:?}, expected an IANA name such as \"Europe/Amsterdam\""
    )]
    UnknownTimeZone(String),
    /// A weekday's value is not of the form `HH:MM-HH:MM`.
    #[error(
        "office_hours.{day}: expected \"HH:MM-HH:MM\", got {value:?} \
         (for example \"09:00-17:00\"; leave the day out if the office is closed)"
    )]
    InvalidFormat { day: &'static str, value: String },
    /// A time in a weekday's value is not a time of day.
    #[error("office_hours.{day}: {time:?} in {value:?} is not a valid time, use 00:00 to 23:59")]
    InvalidTime {
        day: &'static str,
        value: String,
        time: String,
    },
    /// A weekday's opening time is not before its closing time.
    #[error(
        "office_hours.{day}: opening time must be before closing time, got {value:?} \
         (write the opening time first, e.g. \"09:00-17:00\")"
    )]
    OpensAfterClosing { day: &'static str, value: String },
}

/// Why the office is closed at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClosedReason {
    /// A holiday on which the office is closed. Reported even when the office
    /// would be closed that weekday anyway (e.g. Eerste Paasdag, a Sunday).
    Holiday(Holiday),
    /// Saturday or Sunday without opening hours.
    Weekend,
    /// Later than closing time on a day the office was open.
    AfterHours,
    /// Earlier than opening time on a day the office opens.
    BeforeHours,
    /// A weekday (Monday to Friday) without opening hours.
    ClosedDay,
}

/// When the office opens next, seen from a moment: the words for it are content
/// (the `opening_*` texts), so a municipality can phrase them its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// The office is open.
    Now,
    /// Later today, at this time.
    Today(NaiveTime),
    /// Tomorrow, at this time.
    Tomorrow(NaiveTime),
    /// Two to six days ahead: the weekday alone is clear.
    ThisWeek(NaiveDate, NaiveTime),
    /// A week or more ahead: the date is added so the weekday is not mistaken for the
    /// coming one.
    Later(NaiveDate, NaiveTime),
    /// Not within 60 days (e.g. no opening hours are configured).
    Unknown,
}

/// Language of the texts produced by [`OfficeHours::describe_next_opening`]
/// and [`OfficeHours::describe_week`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Nl,
    En,
}

/// Validated office hours of a municipality.
#[derive(Debug, Clone, PartialEq)]
pub struct OfficeHours {
    tz: Tz,
    /// Opening and closing time per weekday, Monday first.
    week: [Option<(NaiveTime, NaiveTime)>; 7],
    closed_holidays: Vec<Holiday>,
}

impl OfficeHours {
    /// Validates the settings.
    ///
    /// `tz` is an IANA time zone name such as `"Europe/Amsterdam"`.
    pub fn new(
        tz: &str,
        hours: &OfficeHoursConfig,
        holidays: &HolidaysConfig,
    ) -> Result<OfficeHours, HoursError> {
        let tz: Tz = tz
            .trim()
            .parse()
            .map_err(|_| HoursError::UnknownTimeZone(tz.to_string()))?;
        let mut week = [None; 7];
        for ((slot, day), value) in week.iter_mut().zip(DAY_KEYS).zip(hours.days()) {
            if let Some(value) = value {
                *slot = parse_range(day, value)?;
            }
        }
        Ok(OfficeHours {
            tz,
            week,
            closed_holidays: holidays.closed.clone(),
        })
    }

    /// The configured time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The holidays on which the office is closed.
    pub fn closed_holidays(&self) -> &[Holiday] {
        &self.closed_holidays
    }

    /// Opening and closing time on `wd`, or `None` when closed that weekday.
    /// Holidays are not taken into account.
    pub fn weekday_hours(&self, wd: Weekday) -> Option<(NaiveTime, NaiveTime)> {
        self.week[wd.num_days_from_monday() as usize]
    }

    /// Whether the office is open at `now`. Opening time is inclusive,
    /// closing time exclusive.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.closed_reason(now).is_none()
    }

    /// Why the office is closed at `now`, or `None` when it is open.
    pub fn closed_reason(&self, now: DateTime<Utc>) -> Option<ClosedReason> {
        let local = now.with_timezone(&self.tz);
        let date = local.date_naive();
        if let Some(holiday) = holiday_on(date, &self.closed_holidays) {
            return Some(ClosedReason::Holiday(holiday));
        }
        let weekday = date.weekday();
        match self.weekday_hours(weekday) {
            None if matches!(weekday, Weekday::Sat | Weekday::Sun) => Some(ClosedReason::Weekend),
            None => Some(ClosedReason::ClosedDay),
            Some((open, _)) if local.time() < open => Some(ClosedReason::BeforeHours),
            Some((_, close)) if local.time() >= close => Some(ClosedReason::AfterHours),
            Some(_) => None,
        }
    }

    /// The moment the office opens next: `now` itself when it is open, else
    /// the first opening time after `now`, skipping closed holidays.
    ///
    /// Looks at most 60 days ahead and returns `None` when the office does
    /// not open in that period (e.g. no opening hours are configured).
    pub fn next_opening(&self, now: DateTime<Utc>) -> Option<DateTime<Tz>> {
        self.next_opening_within(now, LOOKAHEAD_DAYS)
    }

    /// [`Self::next_opening`], looking at today and the next `days` days.
    fn next_opening_within(&self, now: DateTime<Utc>, days: u64) -> Option<DateTime<Tz>> {
        let local = now.with_timezone(&self.tz);
        if self.is_open(now) {
            return Some(local);
        }
        let today = local.date_naive();
        (0..=days)
            .map_while(|offset| today.checked_add_days(Days::new(offset)))
            .filter(|date| holiday_on(*date, &self.closed_holidays).is_none())
            .filter_map(|date| {
                let (open, _) = self.weekday_hours(date.weekday())?;
                resolve_local(self.tz, date, open)
            })
            .find(|opening| *opening > local)
    }

    /// When a person will read a message sent at `now`, as a phrase that fits
    /// in a sentence: "vandaag vanaf 13:00", "morgen vanaf 9:00", "maandag
    /// vanaf 9:00", "dinsdag 6 januari vanaf 9:00" (Dutch) or "today from
    /// 13:00", "tomorrow from 9:00", "on Monday from 9:00", "on Tuesday 6
    /// January from 9:00" (English).
    ///
    /// Days up to six days ahead are named by weekday only; a week or more
    /// ahead the date is added so the weekday is not mistaken for the coming
    /// one. When the office is open it returns "nu" / "now"; when it does not
    /// open within 60 days, "zodra we weer open zijn" / "as soon as we are
    /// open again".
    pub fn describe_next_opening(&self, now: DateTime<Utc>, lang: Lang) -> String {
        crate::knowledge::Texts::national().describe_opening(
            &self.next_opening_phrase(now),
            crate::knowledge::Tone::U,
            lang,
        )
    }

    /// When a person will read a message sent at `now`, in words to be phrased by the
    /// texts of the knowledge base ([`crate::knowledge::Texts::describe_opening`]).
    pub fn next_opening_phrase(&self, now: DateTime<Utc>) -> Opening {
        if self.is_open(now) {
            return Opening::Now;
        }
        let Some(opening) = self.next_opening(now) else {
            return Opening::Unknown;
        };
        let today = now.with_timezone(&self.tz).date_naive();
        let date = opening.date_naive();
        let time = opening.time();
        match (date - today).num_days() {
            0 => Opening::Today(time),
            1 => Opening::Tomorrow(time),
            2..=6 => Opening::ThisWeek(date, time),
            _ => Opening::Later(date, time),
        }
    }

    /// The weekly opening hours, one line per day, Monday first, e.g.
    /// "maandag: 9:00 – 17:00" and "zaterdag: gesloten". Holidays are not
    /// listed. Lines are separated by `\n`, without a trailing newline.
    pub fn describe_week(&self, lang: Lang) -> String {
        let (names, closed) = match lang {
            Lang::Nl => (DUTCH_WEEKDAYS, "gesloten"),
            Lang::En => (ENGLISH_WEEKDAYS, "closed"),
        };
        names
            .iter()
            .zip(self.week)
            .map(|(name, hours)| match hours {
                Some((open, close)) => {
                    format!("{name}: {} – {}", format_time(open), format_time(close))
                }
                None => format!("{name}: {closed}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Parses `"HH:MM-HH:MM"` (an en dash is accepted too). `"closed"` and
/// `"gesloten"` mean closed.
fn parse_range(
    day: &'static str,
    value: &str,
) -> Result<Option<(NaiveTime, NaiveTime)>, HoursError> {
    let trimmed = value.trim();
    if trimmed.eq_ignore_ascii_case("closed") || trimmed.eq_ignore_ascii_case("gesloten") {
        return Ok(None);
    }
    let invalid_format = || HoursError::InvalidFormat {
        day,
        value: value.to_string(),
    };
    let (open, close) = trimmed
        .split_once('-')
        .or_else(|| trimmed.split_once('–'))
        .ok_or_else(invalid_format)?;
    let parse = |text: &str| -> Result<NaiveTime, HoursError> {
        let text = text.trim();
        let (hour, minute) = split_hh_mm(text).ok_or_else(invalid_format)?;
        NaiveTime::from_hms_opt(hour, minute, 0).ok_or_else(|| HoursError::InvalidTime {
            day,
            value: value.to_string(),
            time: text.to_string(),
        })
    };
    let (open, close) = (parse(open)?, parse(close)?);
    if open >= close {
        return Err(HoursError::OpensAfterClosing {
            day,
            value: value.to_string(),
        });
    }
    Ok(Some((open, close)))
}

/// Splits `"H:MM"` or `"HH:MM"` into hour and minute without range checks.
fn split_hh_mm(text: &str) -> Option<(u32, u32)> {
    let (hour, minute) = text.split_once(':')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(hour) || hour.len() > 2 || !digits(minute) || minute.len() != 2 {
        return None;
    }
    Some((hour.parse().ok()?, minute.parse().ok()?))
}

/// The instant `time` happens on `date` in `tz`.
///
/// When the wall-clock time falls in a daylight-saving gap (it does not
/// exist that day) the first existing minute after it is used; when it is
/// ambiguous (it happens twice) the earlier one is used.
fn resolve_local(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Tz>> {
    let start = date.and_time(time);
    (0..=24 * 60)
        .map_while(|minute| start.checked_add_signed(chrono::Duration::minutes(minute)))
        .find_map(|candidate| tz.from_local_datetime(&candidate).earliest())
}

/// "9:00", "13:30": hours without a leading zero.
fn format_time(time: NaiveTime) -> String {
    format!("{}:{:02}", time.hour(), time.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use chrono_tz::Europe::Amsterdam;

    /// The example settings file from the municipality.
    const SETTINGS: &str = r#"
time_zone = "Europe/Amsterdam"
[office_hours]
monday = "09:00-17:00"
tuesday = "09:00-17:00"
wednesday = "09:00-17:00"
thursday = "09:00-20:00"
friday = "09:00-13:00"
[holidays]
closed = ["nieuwjaarsdag", "goede_vrijdag", "eerste_paasdag", "tweede_paasdag", "koningsdag", "bevrijdingsdag_lustrum", "hemelvaartsdag", "eerste_pinksterdag", "tweede_pinksterdag", "eerste_kerstdag", "tweede_kerstdag"]
"#;

    #[derive(Debug, Deserialize)]
    struct Settings {
        time_zone: String,
        office_hours: OfficeHoursConfig,
        #[serde(default)]
        holidays: HolidaysConfig,
    }

    fn from_toml(text: &str) -> Result<OfficeHours, HoursError> {
        let settings: Settings = toml::from_str(text).expect("settings should deserialise");
        OfficeHours::new(
            &settings.time_zone,
            &settings.office_hours,
            &settings.holidays,
        )
    }

    fn office() -> OfficeHours {
        from_toml(SETTINGS).expect("example settings are valid")
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    /// A fixed clock: "YYYY-MM-DD HH:MM" wall-clock time in Amsterdam.
    fn ams(text: &str) -> DateTime<Utc> {
        let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        Amsterdam
            .from_local_datetime(&local)
            .single()
            .expect("unambiguous local time")
            .with_timezone(&Utc)
    }

    /// A fixed clock in UTC, RFC 3339.
    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn local(dt: DateTime<Tz>) -> String {
        dt.format("%Y-%m-%d %H:%M %a").to_string()
    }

    #[test]
    fn easter_dates() {
        let cases = [
            (1818, "1818-03-22"), // earliest possible
            (1943, "1943-04-25"), // latest possible
            (2000, "2000-04-23"),
            (2019, "2019-04-21"),
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2028, "2028-04-16"),
            (2030, "2030-04-21"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"),
        ];
        for (year, expected) in cases {
            assert_eq!(easter_sunday(year), date(expected), "Easter {year}");
        }
    }

    #[test]
    fn holiday_dates() {
        use Holiday::*;
        let cases: &[(Holiday, i32, Option<&str>)] = &[
            (Nieuwjaarsdag, 2026, Some("2026-01-01")),
            (GoedeVrijdag, 2026, Some("2026-04-03")),
            (EerstePaasdag, 2026, Some("2026-04-05")),
            (TweedePaasdag, 2025, Some("2025-04-21")),
            (TweedePaasdag, 2026, Some("2026-04-06")),
            (TweedePaasdag, 2027, Some("2027-03-29")),
            // 27 April is a Sunday in 2025 and 2031: Koningsdag moves to Saturday the 26th.
            (Koningsdag, 2025, Some("2025-04-26")),
            (Koningsdag, 2031, Some("2031-04-26")),
            (Koningsdag, 2026, Some("2026-04-27")),
            // 27 April 2024 is a Saturday: it stays.
            (Koningsdag, 2024, Some("2024-04-27")),
            (BevrijdingsdagLustrum, 2025, Some("2025-05-05")),
            (BevrijdingsdagLustrum, 2030, Some("2030-05-05")),
            (BevrijdingsdagLustrum, 2026, None),
            (Bevrijdingsdag, 2026, Some("2026-05-05")),
            (Hemelvaartsdag, 2026, Some("2026-05-14")),
            (EerstePinksterdag, 2026, Some("2026-05-24")),
            (TweedePinksterdag, 2026, Some("2026-05-25")),
            (EersteKerstdag, 2026, Some("2026-12-25")),
            (TweedeKerstdag, 2026, Some("2026-12-26")),
            (Nieuwjaarsdag, i32::MAX, None),
            (EerstePaasdag, i32::MIN, None),
        ];
        for &(holiday, year, expected) in cases {
            assert_eq!(
                holiday.date(year),
                expected.map(date),
                "{holiday:?} in {year}"
            );
        }
    }

    #[test]
    fn holiday_names_and_serde() {
        #[derive(Deserialize, Serialize)]
        struct List {
            closed: Vec<Holiday>,
        }
        let names = [
            "nieuwjaarsdag",
            "goede_vrijdag",
            "eerste_paasdag",
            "tweede_paasdag",
            "koningsdag",
            "bevrijdingsdag_lustrum",
            "bevrijdingsdag",
            "hemelvaartsdag",
            "eerste_pinksterdag",
            "tweede_pinksterdag",
            "eerste_kerstdag",
            "tweede_kerstdag",
        ];
        let text = format!("closed = {names:?}");
        let list: List = toml::from_str(&text).unwrap();
        assert_eq!(list.closed, Holiday::ALL);
        let back = toml::to_string(&list).unwrap();
        let again: List = toml::from_str(&back).unwrap();
        assert_eq!(again.closed, Holiday::ALL);

        assert_eq!(Holiday::GoedeVrijdag.dutch_name(), "Goede Vrijdag");
        assert_eq!(Holiday::TweedePaasdag.dutch_name(), "Tweede Paasdag");
        assert_eq!(
            Holiday::BevrijdingsdagLustrum.dutch_name(),
            "Bevrijdingsdag"
        );
        assert_eq!(Holiday::TweedePaasdag.english_name(), "Easter Monday");
        assert_eq!(Holiday::Koningsdag.english_name(), "King's Day");
        for holiday in Holiday::ALL {
            assert!(!holiday.dutch_name().is_empty());
            assert!(!holiday.english_name().is_empty());
        }
    }

    #[test]
    fn holiday_on_respects_closed_list() {
        let all = Holiday::ALL;
        assert_eq!(
            holiday_on(date("2026-05-14"), &all),
            Some(Holiday::Hemelvaartsdag)
        );
        assert_eq!(holiday_on(date("2026-05-14"), &[]), None);
        assert_eq!(holiday_on(date("2026-05-13"), &all), None);
        // In a lustrum year the first matching entry of the list wins.
        assert_eq!(
            holiday_on(date("2025-05-05"), &all),
            Some(Holiday::BevrijdingsdagLustrum)
        );
        assert_eq!(
            holiday_on(date("2026-05-05"), &all),
            Some(Holiday::Bevrijdingsdag)
        );
        assert_eq!(
            holiday_on(date("2026-05-05"), &[Holiday::BevrijdingsdagLustrum]),
            None
        );
    }

    #[test]
    fn parses_example_settings() {
        let office = office();
        assert_eq!(office.time_zone(), Amsterdam);
        assert_eq!(office.closed_holidays().len(), 11);
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(
            office.weekday_hours(Weekday::Mon),
            Some((t(9, 0), t(17, 0)))
        );
        assert_eq!(
            office.weekday_hours(Weekday::Thu),
            Some((t(9, 0), t(20, 0)))
        );
        assert_eq!(
            office.weekday_hours(Weekday::Fri),
            Some((t(9, 0), t(13, 0)))
        );
        assert_eq!(office.weekday_hours(Weekday::Sat), None);
        assert_eq!(office.weekday_hours(Weekday::Sun), None);
    }

    /// (clock in Amsterdam, open?, closed reason, next opening, Dutch, English)
    type Case = (
        &'static str,
        Option<ClosedReason>,
        &'static str,
        &'static str,
        &'static str,
    );

    #[test]
    fn queries_with_example_settings() {
        use ClosedReason::{AfterHours, BeforeHours, Weekend};
        use Holiday::*;
        let office = office();
        let cases: &[Case] = &[
            // Monday 08:00, before opening.
            (
                "2026-01-12 08:00",
                Some(BeforeHours),
                "2026-01-12 09:00 Mon",
                "vandaag vanaf 9:00",
                "today from 9:00",
            ),
            // Opening time is inclusive, closing time exclusive.
            (
                "2026-01-12 09:00",
                None,
                "2026-01-12 09:00 Mon",
                "nu",
                "now",
            ),
            (
                "2026-01-12 17:00",
                Some(AfterHours),
                "2026-01-13 09:00 Tue",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            // Thursday evening opening.
            (
                "2026-01-08 19:00",
                None,
                "2026-01-08 19:00 Thu",
                "nu",
                "now",
            ),
            (
                "2026-01-08 20:30",
                Some(AfterHours),
                "2026-01-09 09:00 Fri",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            // Friday 14:00, closed since 13:00.
            (
                "2026-01-09 14:00",
                Some(AfterHours),
                "2026-01-12 09:00 Mon",
                "maandag vanaf 9:00",
                "on Monday from 9:00",
            ),
            // Saturday afternoon.
            (
                "2026-01-10 15:00",
                Some(Weekend),
                "2026-01-12 09:00 Mon",
                "maandag vanaf 9:00",
                "on Monday from 9:00",
            ),
            // Sunday evening: Monday is tomorrow.
            (
                "2026-01-11 22:00",
                Some(Weekend),
                "2026-01-12 09:00 Mon",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            // Tweede Paasdag 2025, 2026, 2027: closed, open again on Tuesday.
            (
                "2025-04-21 10:00",
                Some(ClosedReason::Holiday(TweedePaasdag)),
                "2025-04-22 09:00 Tue",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            (
                "2026-04-06 10:00",
                Some(ClosedReason::Holiday(TweedePaasdag)),
                "2026-04-07 09:00 Tue",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            (
                "2027-03-29 10:00",
                Some(ClosedReason::Holiday(TweedePaasdag)),
                "2027-03-30 09:00 Tue",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            // The Friday a week before Goede Vrijdag 2026 is an ordinary Friday.
            (
                "2026-03-27 10:00",
                None,
                "2026-03-27 10:00 Fri",
                "nu",
                "now",
            ),
            // Thursday evening before Goede Vrijdag 2026: Good Friday, the
            // weekend and Easter Monday are skipped.
            (
                "2026-04-02 21:00",
                Some(AfterHours),
                "2026-04-07 09:00 Tue",
                "dinsdag vanaf 9:00",
                "on Tuesday from 9:00",
            ),
            (
                "2026-04-03 10:00",
                Some(ClosedReason::Holiday(GoedeVrijdag)),
                "2026-04-07 09:00 Tue",
                "dinsdag vanaf 9:00",
                "on Tuesday from 9:00",
            ),
            // Eerste Paasdag is a Sunday; the holiday is the reason given.
            (
                "2026-04-05 12:00",
                Some(ClosedReason::Holiday(EerstePaasdag)),
                "2026-04-07 09:00 Tue",
                "dinsdag vanaf 9:00",
                "on Tuesday from 9:00",
            ),
            // Christmas Eve 2026, Thursday 21:00: both Kerstdagen and the
            // weekend are skipped.
            (
                "2026-12-24 21:00",
                Some(AfterHours),
                "2026-12-28 09:00 Mon",
                "maandag vanaf 9:00",
                "on Monday from 9:00",
            ),
            (
                "2026-12-25 10:00",
                Some(ClosedReason::Holiday(EersteKerstdag)),
                "2026-12-28 09:00 Mon",
                "maandag vanaf 9:00",
                "on Monday from 9:00",
            ),
            // New Year's Eve 2026 (Thursday) after hours: 1 January is closed.
            (
                "2026-12-31 20:00",
                Some(AfterHours),
                "2027-01-04 09:00 Mon",
                "maandag vanaf 9:00",
                "on Monday from 9:00",
            ),
            // Koningsdag 2025 is Saturday 26 April (the 27th is a Sunday).
            (
                "2025-04-26 11:00",
                Some(ClosedReason::Holiday(Koningsdag)),
                "2025-04-28 09:00 Mon",
                "maandag vanaf 9:00",
                "on Monday from 9:00",
            ),
            (
                "2025-04-28 11:00",
                None,
                "2025-04-28 11:00 Mon",
                "nu",
                "now",
            ),
            // Koningsdag 2026 is Monday 27 April.
            (
                "2026-04-27 11:00",
                Some(ClosedReason::Holiday(Koningsdag)),
                "2026-04-28 09:00 Tue",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            // Bevrijdingsdag: closed in lustrum year 2025 (Monday), open in 2026 (Tuesday).
            (
                "2025-05-05 10:00",
                Some(ClosedReason::Holiday(BevrijdingsdagLustrum)),
                "2025-05-06 09:00 Tue",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            (
                "2026-05-05 10:00",
                None,
                "2026-05-05 10:00 Tue",
                "nu",
                "now",
            ),
            // Hemelvaartsdag 2026, Thursday 14 May.
            (
                "2026-05-14 10:00",
                Some(ClosedReason::Holiday(Hemelvaartsdag)),
                "2026-05-15 09:00 Fri",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            // Pinksteren 2026: Sunday 24 and Monday 25 May.
            (
                "2026-05-22 13:30",
                Some(AfterHours),
                "2026-05-26 09:00 Tue",
                "dinsdag vanaf 9:00",
                "on Tuesday from 9:00",
            ),
        ];
        for &(clock, reason, next, nl, en) in cases {
            let now = ams(clock);
            assert_eq!(
                office.closed_reason(now),
                reason,
                "closed_reason at {clock}"
            );
            assert_eq!(office.is_open(now), reason.is_none(), "is_open at {clock}");
            let opening = office.next_opening(now).expect("opens within 60 days");
            assert_eq!(local(opening), next, "next_opening at {clock}");
            assert!(opening.with_timezone(&Utc) >= now);
            assert_eq!(
                office.describe_next_opening(now, Lang::Nl),
                nl,
                "Dutch at {clock}"
            );
            assert_eq!(
                office.describe_next_opening(now, Lang::En),
                en,
                "English at {clock}"
            );
        }
    }

    #[test]
    fn daylight_saving_time() {
        let office = office();
        // Summer time 2026 starts Sunday 29 March 02:00 CET -> 03:00 CEST.
        let cases = [
            // Friday 27 March 09:30 CET (UTC+1): open.
            ("2026-03-27T08:30:00Z", true),
            ("2026-03-27T07:30:00Z", false),
            // Monday 30 March: 07:30 UTC is 09:30 CEST (UTC+2): open.
            ("2026-03-30T07:30:00Z", true),
            // 06:30 UTC is 08:30 CEST: not yet open, although 09:30 "in winter time".
            ("2026-03-30T06:30:00Z", false),
            ("2026-03-30T14:59:00Z", true),
            ("2026-03-30T15:00:00Z", false),
            // Winter time 2026 starts Sunday 25 October; Monday 26 is UTC+1.
            ("2026-10-26T07:30:00Z", false),
            ("2026-10-26T08:00:00Z", true),
            ("2026-10-26T15:59:00Z", true),
            ("2026-10-26T16:00:00Z", false),
        ];
        for (clock, open) in cases {
            assert_eq!(office.is_open(utc(clock)), open, "is_open at {clock}");
        }

        // Saturday before the switch, next opening is Monday 09:00 CEST = 07:00 UTC.
        let next = office.next_opening(utc("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(next.with_timezone(&Utc), utc("2026-03-30T07:00:00Z"));
        assert_eq!(local(next), "2026-03-30 09:00 Mon");
        // Saturday before the switch back, Monday 09:00 CET = 08:00 UTC.
        let next = office.next_opening(utc("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(next.with_timezone(&Utc), utc("2026-10-26T08:00:00Z"));
        // Late Sunday evening in UTC is already Monday in Amsterdam.
        let now = utc("2026-03-29T22:30:00Z"); // Monday 00:30 CEST
        assert_eq!(office.closed_reason(now), Some(ClosedReason::BeforeHours));
        assert_eq!(
            office.describe_next_opening(now, Lang::Nl),
            "vandaag vanaf 9:00"
        );
    }

    #[test]
    fn opening_inside_a_dst_gap_moves_to_the_first_valid_minute() {
        let hours = OfficeHoursConfig {
            sunday: Some("02:30-05:00".into()),
            ..Default::default()
        };
        let office =
            OfficeHours::new("Europe/Amsterdam", &hours, &HolidaysConfig::default()).unwrap();
        // 02:30 does not exist on 29 March 2026; the office opens at 03:00 CEST.
        let next = office.next_opening(ams("2026-03-28 12:00")).unwrap();
        assert_eq!(next.with_timezone(&Utc), utc("2026-03-29T01:00:00Z"));
        assert_eq!(local(next), "2026-03-29 03:00 Sun");
        // 02:30 happens twice on 25 October 2026; the first one counts.
        let next = office.next_opening(ams("2026-10-24 12:00")).unwrap();
        assert_eq!(next.with_timezone(&Utc), utc("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn describes_dates_a_week_or_more_ahead() {
        let hours = OfficeHoursConfig {
            tuesday: Some("09:00-12:30".into()),
            ..Default::default()
        };
        let office =
            OfficeHours::new("Europe/Amsterdam", &hours, &HolidaysConfig::default()).unwrap();
        let cases = [
            // Tuesday after closing: next Tuesday, 7 days ahead.
            (
                "2025-12-30 13:00",
                "dinsdag 6 januari vanaf 9:00",
                "on Tuesday 6 January from 9:00",
            ),
            // Wednesday: six days ahead, weekday name only.
            (
                "2025-12-31 10:00",
                "dinsdag vanaf 9:00",
                "on Tuesday from 9:00",
            ),
            (
                "2026-01-05 10:00",
                "morgen vanaf 9:00",
                "tomorrow from 9:00",
            ),
            ("2026-01-06 08:15", "vandaag vanaf 9:00", "today from 9:00"),
            ("2026-01-06 12:00", "nu", "now"),
        ];
        for (clock, nl, en) in cases {
            let now = ams(clock);
            assert_eq!(office.describe_next_opening(now, Lang::Nl), nl, "{clock}");
            assert_eq!(office.describe_next_opening(now, Lang::En), en, "{clock}");
        }
        assert_eq!(
            office.closed_reason(ams("2026-01-05 10:00")),
            Some(ClosedReason::ClosedDay)
        );
    }

    #[test]
    fn later_opening_time_is_written_without_leading_zero() {
        let hours = OfficeHoursConfig {
            wednesday: Some("13:30-16:00".into()),
            ..Default::default()
        };
        let office =
            OfficeHours::new("Europe/Amsterdam", &hours, &HolidaysConfig::default()).unwrap();
        let now = ams("2026-01-07 10:00");
        assert_eq!(office.closed_reason(now), Some(ClosedReason::BeforeHours));
        assert_eq!(
            office.describe_next_opening(now, Lang::Nl),
            "vandaag vanaf 13:30"
        );
        assert_eq!(
            office.describe_next_opening(now, Lang::En),
            "today from 13:30"
        );
    }

    #[test]
    fn never_open_has_no_next_opening() {
        let office = OfficeHours::new(
            "Europe/Amsterdam",
            &OfficeHoursConfig::default(),
            &HolidaysConfig::default(),
        )
        .unwrap();
        let now = ams("2026-01-07 10:00");
        assert!(!office.is_open(now));
        assert_eq!(office.closed_reason(now), Some(ClosedReason::ClosedDay));
        assert_eq!(office.next_opening(now), None);
        assert_eq!(
            office.describe_next_opening(now, Lang::Nl),
            "zodra we weer open zijn"
        );
        assert_eq!(
            office.describe_next_opening(now, Lang::En),
            "as soon as we are open again"
        );
    }

    #[test]
    fn lookahead_is_limited() {
        let hours = OfficeHoursConfig {
            sunday: Some("10:00-12:00".into()),
            ..Default::default()
        };
        let office =
            OfficeHours::new("Europe/Amsterdam", &hours, &HolidaysConfig::default()).unwrap();
        let monday = ams("2026-01-05 10:00");
        assert_eq!(office.next_opening_within(monday, 5), None);
        let next = office.next_opening_within(monday, 6).unwrap();
        assert_eq!(local(next), "2026-01-11 10:00 Sun");
        assert_eq!(office.next_opening(monday), Some(next));
        // The public query looks 60 days ahead, counting today as day 0.
        let hours = OfficeHoursConfig {
            monday: Some("09:00-17:00".into()),
            ..Default::default()
        };
        let office =
            OfficeHours::new("Europe/Amsterdam", &hours, &HolidaysConfig::default()).unwrap();
        assert!(office.next_opening_within(monday, LOOKAHEAD_DAYS).is_some());
    }

    #[test]
    fn describe_week_lists_every_day() {
        let office = office();
        assert_eq!(
            office.describe_week(Lang::Nl),
            "maandag: 9:00 – 17:00\n\
             dinsdag: 9:00 – 17:00\n\
             woensdag: 9:00 – 17:00\n\
             donderdag: 9:00 – 20:00\n\
             vrijdag: 9:00 – 13:00\n\
             zaterdag: gesloten\n\
             zondag: gesloten"
        );
        assert_eq!(
            office.describe_week(Lang::En),
            "Monday: 9:00 – 17:00\n\
             Tuesday: 9:00 – 17:00\n\
             Wednesday: 9:00 – 17:00\n\
             Thursday: 9:00 – 20:00\n\
             Friday: 9:00 – 13:00\n\
             Saturday: closed\n\
             Sunday: closed"
        );
    }

    #[test]
    fn accepted_range_spellings() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let cases: &[(&str, Option<(NaiveTime, NaiveTime)>)] = &[
            ("09:00-17:00", Some((t(9, 0), t(17, 0)))),
            ("9:00-17:00", Some((t(9, 0), t(17, 0)))),
            (" 08:30 - 12:15 ", Some((t(8, 30), t(12, 15)))),
            ("08:30–12:15", Some((t(8, 30), t(12, 15)))),
            ("00:00-23:59", Some((t(0, 0), t(23, 59)))),
            ("closed", None),
            ("Gesloten", None),
        ];
        for &(value, expected) in cases {
            let hours = OfficeHoursConfig {
                monday: Some(value.to_string()),
                ..Default::default()
            };
            let office = OfficeHours::new("Europe/Amsterdam", &hours, &HolidaysConfig::default())
                .unwrap_or_else(|e| panic!("{value:?} should be accepted: {e}"));
            assert_eq!(office.weekday_hours(Weekday::Mon), expected, "{value:?}");
        }
    }

    #[test]
    fn invalid_settings_are_explained() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "monday",
                "9-17",
                "office_hours.monday: expected \"HH:MM-HH:MM\", got \"9-17\" \
                 (for example \"09:00-17:00\"; leave the day out if the office is closed)",
            ),
            (
                "friday",
                "",
                "office_hours.friday: expected \"HH:MM-HH:MM\", got \"\" \
                 (for example \"09:00-17:00\"; leave the day out if the office is closed)",
            ),
            (
                "tuesday",
                "09:00 tot 17:00",
                "office_hours.tuesday: expected \"HH:MM-HH:MM\", got \"09:00 tot 17:00\" \
                 (for example \"09:00-17:00\"; leave the day out if the office is closed)",
            ),
            (
                "tuesday",
                "09.00-17.00",
                "office_hours.tuesday: expected \"HH:MM-HH:MM\", got \"09.00-17.00\" \
                 (for example \"09:00-17:00\"; leave the day out if the office is closed)",
            ),
            (
                "wednesday",
                "09:00-24:00",
                "office_hours.wednesday: \"24:00\" in \"09:00-24:00\" is not a valid time, \
                 use 00:00 to 23:59",
            ),
            (
                "thursday",
                "09:60-17:00",
                "office_hours.thursday: \"09:60\" in \"09:60-17:00\" is not a valid time, \
                 use 00:00 to 23:59",
            ),
            (
                "saturday",
                "17:00-09:00",
                "office_hours.saturday: opening time must be before closing time, \
                 got \"17:00-09:00\" (write the opening time first, e.g. \"09:00-17:00\")",
            ),
            (
                "sunday",
                "10:00-10:00",
                "office_hours.sunday: opening time must be before closing time, \
                 got \"10:00-10:00\" (write the opening time first, e.g. \"09:00-17:00\")",
            ),
        ];
        for &(day, value, message) in cases {
            let text =
                format!("time_zone = \"Europe/Amsterdam\"\n[office_hours]\n{day} = {value:?}\n");
            let error = from_toml(&text).expect_err(value);
            assert_eq!(error.to_string(), message, "{day} = {value:?}");
        }

        let error = OfficeHours::new(
            "Europe/Amsterdan",
            &OfficeHoursConfig::default(),
            &HolidaysConfig::default(),
        )
        .unwrap_err();
        assert_eq!(
            error,
            HoursError::UnknownTimeZone("Europe/Amsterdan".into())
        );
        assert_eq!(
            error.to_string(),
            "time_zone: unknown time zone \"Europe/Amsterdan\", \
             expected an IANA name such as \"Europe/Amsterdam\""
        );
    }

    #[test]
    fn invalid_toml_is_rejected_by_serde() {
        // A misspelled weekday must not silently close the office.
        let misspelled = "[office_hours]\nmaandag = \"09:00-17:00\"\n";
        let error =
            toml::from_str::<Settings>(&format!("time_zone = \"Europe/Amsterdam\"\n{misspelled}"))
                .expect_err("unknown weekday key");
        assert!(error.to_string().contains("maandag"), "{error}");

        // An unknown holiday name.
        let error =
            toml::from_str::<HolidaysConfig>("closed = [\"pasen\"]").expect_err("unknown holiday");
        assert!(error.to_string().contains("pasen"), "{error}");
        assert!(error.to_string().contains("tweede_paasdag"), "{error}");

        // Missing keys are fine: closed every day, never closed for holidays.
        let holidays: HolidaysConfig = toml::from_str("").unwrap();
        assert!(holidays.closed.is_empty());
    }
}
