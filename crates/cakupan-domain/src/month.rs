//! Calendar months, the unit in which contributions and coverage are counted.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use time::Date;

/// A calendar month, stored as `year × 12 + (month − 1)` so that month arithmetic is integer
/// arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(i32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonthError {
    #[error("must be a month written YYYY-MM (e.g. 2026-05)")]
    Format,
    #[error("month must be 01–12")]
    MonthOutOfRange,
    #[error("year must be between 1900 and 9999")]
    YearOutOfRange,
}

impl Month {
    pub const MIN_YEAR: i32 = 1900;
    pub const MAX_YEAR: i32 = 9999;

    pub fn new(year: i32, month: u8) -> Result<Month, MonthError> {
        if !(1..=12).contains(&month) {
            return Err(MonthError::MonthOutOfRange);
        }
        if !(Self::MIN_YEAR..=Self::MAX_YEAR).contains(&year) {
            return Err(MonthError::YearOutOfRange);
        }
        Ok(Month(year * 12 + i32::from(month) - 1))
    }

    pub fn parse(s: &str) -> Result<Month, MonthError> {
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return Err(MonthError::Format);
        }
        let year = digits(&b[..4]);
        let month = digits(&b[5..]);
        Month::new(
            year,
            u8::try_from(month).map_err(|_| MonthError::MonthOutOfRange)?,
        )
    }

    pub fn of(date: Date) -> Month {
        Month(date.year() * 12 + i32::from(u8::from(date.month())) - 1)
    }

    /// The month as one integer (`year × 12 + month − 1`), the form stores keep it in.
    pub fn index(self) -> i32 {
        self.0
    }

    /// The month of an [`index`](Month::index), if its year is in range.
    pub fn from_index(i: i32) -> Option<Month> {
        let m = Month(i);
        (Self::MIN_YEAR..=Self::MAX_YEAR)
            .contains(&m.year())
            .then_some(m)
    }

    pub fn year(self) -> i32 {
        self.0.div_euclid(12)
    }

    /// 1–12.
    pub fn month(self) -> u8 {
        // rem_euclid(12) is in 0..12, so the cast cannot truncate.
        (self.0.rem_euclid(12) + 1) as u8
    }

    /// The month `n` months later (or earlier for negative `n`).
    pub fn plus(self, n: i32) -> Month {
        Month(self.0.saturating_add(n))
    }

    /// Whole months from `earlier` to `self` (negative when `self` is earlier).
    pub fn since(self, earlier: Month) -> i32 {
        self.0 - earlier.0
    }

    pub fn first_day(self) -> Date {
        self.day(1).unwrap_or(Date::MIN)
    }

    pub fn last_day(self) -> Date {
        let len = self.time_month().length(self.year());
        self.day(len).unwrap_or(Date::MAX)
    }

    /// The given day of this month, if it exists.
    pub fn day(self, day: u8) -> Option<Date> {
        Date::from_calendar_date(self.year(), self.time_month(), day).ok()
    }

    fn time_month(self) -> time::Month {
        time::Month::try_from(self.month()).unwrap_or(time::Month::January)
    }

    /// Months from `self` to `last`, inclusive.
    pub fn through(self, last: Month) -> impl Iterator<Item = Month> {
        (self.0..=last.0).map(Month)
    }
}

fn digits(b: &[u8]) -> i32 {
    b.iter().fold(0, |acc, d| acc * 10 + i32::from(d - b'0'))
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl FromStr for Month {
    type Err = MonthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Month::parse(s)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Month::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Parses a calendar date written `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !b[..4]
            .iter()
            .chain(&b[5..7])
            .chain(&b[8..])
            .all(u8::is_ascii_digit)
    {
        return None;
    }
    let year = digits(&b[..4]);
    let month = u8::try_from(digits(&b[5..7])).ok()?;
    let day = u8::try_from(digits(&b[8..])).ok()?;
    Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_arithmetic() {
        let m = Month::parse("2026-05").unwrap();
        assert_eq!((m.year(), m.month()), (2026, 5));
        assert_eq!(m.plus(8).to_string(), "2027-01");
        assert_eq!(m.plus(-5).to_string(), "2025-12");
        assert_eq!(Month::parse("2027-03").unwrap().since(m), 10);
        assert_eq!(Month::parse("2024-02").unwrap().last_day().day(), 29);
        assert_eq!(Month::parse("2026-13"), Err(MonthError::MonthOutOfRange));
        assert_eq!(Month::parse("2026-5"), Err(MonthError::Format));
        assert_eq!(Month::parse("0999-01"), Err(MonthError::YearOutOfRange));
    }

    #[test]
    fn dates() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2023-2-28").is_none());
        assert_eq!(format_date(parse_date("2026-01-05").unwrap()), "2026-01-05");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") { let _ = Month::parse(&s); let _ = parse_date(&s); }

        #[test]
        fn round_trip(y in 1900i32..=9999, m in 1u8..=12) {
            let month = Month::new(y, m).unwrap();
            prop_assert_eq!(Month::parse(&month.to_string()), Ok(month));
            prop_assert_eq!(Month::of(month.first_day()), month);
            prop_assert_eq!(Month::of(month.last_day()), month);
        }

        #[test]
        fn date_round_trip(days in 0i32..3_000_000) {
            let d = Date::from_julian_day(2_415_021 + days % 2_900_000).unwrap();
            if d.year() <= 9999 {
                prop_assert_eq!(parse_date(&format_date(d)), Some(d));
            }
        }
    }
}
