//! Dutch public holidays and the Easter computus they depend on.
//!
//! Only the holidays a municipality may close for are modelled. Whether the
//! office actually closes on a given holiday is configuration (see
//! [`HolidaysConfig`](super::HolidaysConfig)), not something this file decides.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// Easter Sunday of `year` in the Gregorian calendar.
///
/// Uses the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
///
/// # Panics
///
/// Panics when `year` is outside the range `chrono::NaiveDate` supports
/// (roughly ±262,000 years). [`Holiday::date`] checks the range first and
/// returns `None` instead.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    // `month` is 3 or 4 and `day` is 1..=31 by construction.
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
        .expect("year outside the range supported by chrono::NaiveDate")
}

/// A Dutch public holiday on which a municipal office may be closed.
///
/// Serialised in `snake_case` (`"goede_vrijdag"`, `"tweede_paasdag"`, ...),
/// which is how the settings file lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holiday {
    /// New Year's Day, 1 January.
    Nieuwjaarsdag,
    /// Good Friday, two days before Easter Sunday.
    GoedeVrijdag,
    /// Easter Sunday.
    EerstePaasdag,
    /// Easter Monday.
    TweedePaasdag,
    /// King's Day: 27 April, or 26 April when the 27th is a Sunday.
    Koningsdag,
    /// Liberation Day, but only in lustrum years (year divisible by 5), when
    /// it is a day off for most government employees.
    BevrijdingsdagLustrum,
    /// Liberation Day, 5 May, every year.
    Bevrijdingsdag,
    /// Ascension Day, 39 days after Easter Sunday.
    Hemelvaartsdag,
    /// Whit Sunday (Pentecost), 49 days after Easter Sunday.
    EerstePinksterdag,
    /// Whit Monday, 50 days after Easter Sunday.
    TweedePinksterdag,
    /// Christmas Day, 25 December.
    EersteKerstdag,
    /// Boxing Day, 26 December.
    TweedeKerstdag,
}

impl Holiday {
    /// Every holiday, in calendar order.
    pub const ALL: [Holiday; 12] = [
        Holiday::Nieuwjaarsdag,
        Holiday::GoedeVrijdag,
        Holiday::EerstePaasdag,
        Holiday::TweedePaasdag,
        Holiday::Koningsdag,
        Holiday::BevrijdingsdagLustrum,
        Holiday::Bevrijdingsdag,
        Holiday::Hemelvaartsdag,
        Holiday::EerstePinksterdag,
        Holiday::TweedePinksterdag,
        Holiday::EersteKerstdag,
        Holiday::TweedeKerstdag,
    ];

    /// The Dutch name as a resident would write it, e.g. "Goede Vrijdag".
    ///
    /// Both Liberation Day variants are called "Bevrijdingsdag": the lustrum
    /// only decides whether the office closes, not what the day is called.
    pub fn dutch_name(self) -> &'static str {
        match self {
            Holiday::Nieuwjaarsdag => "Nieuwjaarsdag",
            Holiday::GoedeVrijdag => "Goede Vrijdag",
            Holiday::EerstePaasdag => "Eerste Paasdag",
            Holiday::TweedePaasdag => "Tweede Paasdag",
            Holiday::Koningsdag => "Koningsdag",
            Holiday::BevrijdingsdagLustrum | Holiday::Bevrijdingsdag => "Bevrijdingsdag",
            Holiday::Hemelvaartsdag => "Hemelvaartsdag",
            Holiday::EerstePinksterdag => "Eerste Pinksterdag",
            Holiday::TweedePinksterdag => "Tweede Pinksterdag",
            Holiday::EersteKerstdag => "Eerste Kerstdag",
            Holiday::TweedeKerstdag => "Tweede Kerstdag",
        }
    }

    /// The usual English name, e.g. "Good Friday".
    pub fn english_name(self) -> &'static str {
        match self {
            Holiday::Nieuwjaarsdag => "New Year's Day",
            Holiday::GoedeVrijdag => "Good Friday",
            Holiday::EerstePaasdag => "Easter Sunday",
            Holiday::TweedePaasdag => "Easter Monday",
            Holiday::Koningsdag => "King's Day",
            Holiday::BevrijdingsdagLustrum | Holiday::Bevrijdingsdag => "Liberation Day",
            Holiday::Hemelvaartsdag => "Ascension Day",
            Holiday::EerstePinksterdag => "Whit Sunday",
            Holiday::TweedePinksterdag => "Whit Monday",
            Holiday::EersteKerstdag => "Christmas Day",
            Holiday::TweedeKerstdag => "Boxing Day",
        }
    }

    /// The date of this holiday in `year`.
    ///
    /// Returns `None` for [`Holiday::BevrijdingsdagLustrum`] outside lustrum
    /// years, and for years outside the range `chrono` can represent.
    ///
    /// Koningsdag follows the rule in force since 2014 (27 April, moved to
    /// the 26th when the 27th is a Sunday); earlier Koninginnedag dates are
    /// not modelled.
    pub fn date(self, year: i32) -> Option<NaiveDate> {
        // Keep a margin so `easter_sunday` and the offsets below never leave
        // the representable range.
        if year <= NaiveDate::MIN.year() || year >= NaiveDate::MAX.year() {
            return None;
        }
        let fixed = |month: u32, day: u32| NaiveDate::from_ymd_opt(year, month, day);
        let easter_plus = |days: u64| easter_sunday(year).checked_add_days(Days::new(days));
        match self {
            Holiday::Nieuwjaarsdag => fixed(1, 1),
            Holiday::GoedeVrijdag => easter_sunday(year).checked_sub_days(Days::new(2)),
            Holiday::EerstePaasdag => Some(easter_sunday(year)),
            Holiday::TweedePaasdag => easter_plus(1),
            Holiday::Koningsdag => {
                let the_27th = fixed(4, 27)?;
                if the_27th.weekday() == Weekday::Sun {
                    fixed(4, 26)
                } else {
                    Some(the_27th)
                }
            }
            Holiday::BevrijdingsdagLustrum => {
                if year.rem_euclid(5) == 0 {
                    fixed(5, 5)
                } else {
                    None
                }
            }
            Holiday::Bevrijdingsdag => fixed(5, 5),
            Holiday::Hemelvaartsdag => easter_plus(39),
            Holiday::EerstePinksterdag => easter_plus(49),
            Holiday::TweedePinksterdag => easter_plus(50),
            Holiday::EersteKerstdag => fixed(12, 25),
            Holiday::TweedeKerstdag => fixed(12, 26),
        }
    }
}

/// The first holiday in `closed` that falls on `date`, if any.
///
/// The order of `closed` decides which one is reported when two coincide
/// (e.g. `Bevrijdingsdag` and `BevrijdingsdagLustrum` in a lustrum year).
pub fn holiday_on(date: NaiveDate, closed: &[Holiday]) -> Option<Holiday> {
    closed
        .iter()
        .copied()
        .find(|holiday| holiday.date(date.year()) == Some(date))
}
