//! NIK, the 16-digit national identity number (DOMAIN.md §6).
//!
//! Layout `PP KK CC DDMMYY SSSS`: the province, regency and district where the NIK was first
//! issued (never the current domicile), the birth date with 40 added to the day for women,
//! and a serial. Some defects reject a NIK outright; others only warn, because real NIKs
//! issued with odd dates exist and only Dukcapil is authoritative.

use crate::segment::Sex;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nik(u64);

/// Why a NIK is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NikError {
    #[error("NIK must be exactly 16 digits (got {0} characters)")]
    Length(usize),
    #[error("NIK must contain digits only")]
    NotDigits,
    #[error("NIK birth day (digits 7–8) must be 01–31, or 41–71 for women (got {0:02})")]
    Day(u8),
    #[error("NIK birth month (digits 9–10) must be 01–12 (got {0:02})")]
    Month(u8),
    #[error("NIK serial (digits 13–16) must not be 0000")]
    Serial,
}

impl NikError {
    /// Stable machine code of the rule that failed.
    pub fn rule(&self) -> &'static str {
        match self {
            NikError::Length(_) => "nik.length",
            NikError::NotDigits => "nik.digits",
            NikError::Day(_) => "nik.birth_day",
            NikError::Month(_) => "nik.birth_month",
            NikError::Serial => "nik.serial",
        }
    }
}

/// Something about a NIK that is only flagged for review (DOMAIN.md §6 "warn only").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NikWarning {
    /// The province code is not in the configured Kemendagri list.
    UnknownProvince,
    /// Day and month do not form a real calendar date in either century.
    ImpossibleDate,
    /// The NIK's birth date differs from the declared one.
    BirthDateMismatch,
    /// The NIK's sex differs from the declared one.
    SexMismatch,
}

impl NikWarning {
    pub fn rule(self) -> &'static str {
        match self {
            NikWarning::UnknownProvince => "nik.province_unknown",
            NikWarning::ImpossibleDate => "nik.date_impossible",
            NikWarning::BirthDateMismatch => "nik.birth_date_mismatch",
            NikWarning::SexMismatch => "nik.sex_mismatch",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            NikWarning::UnknownProvince => {
                "NIK province code (digits 1–2) is not in the Kemendagri province list; kept, flagged for review"
            }
            NikWarning::ImpossibleDate => {
                "NIK birth date (digits 7–12) is not a real calendar date; kept, flagged for review"
            }
            NikWarning::BirthDateMismatch => {
                "NIK birth date differs from the declared birth date; the declared value is kept and flagged for review"
            }
            NikWarning::SexMismatch => {
                "NIK sex (day + 40 for women) differs from the declared sex; the declared value is kept and flagged for review"
            }
        }
    }

    pub fn from_rule(rule: &str) -> Option<NikWarning> {
        [
            NikWarning::UnknownProvince,
            NikWarning::ImpossibleDate,
            NikWarning::BirthDateMismatch,
            NikWarning::SexMismatch,
        ]
        .into_iter()
        .find(|w| w.rule() == rule)
    }
}

impl Nik {
    pub fn parse(s: &str) -> Result<Nik, NikError> {
        let t = s.trim();
        if t.len() != 16 {
            return Err(NikError::Length(t.chars().count()));
        }
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NikError::NotDigits);
        }
        let v = t
            .bytes()
            .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
        let nik = Nik(v);
        let day = nik.raw_day();
        if !((1..=31).contains(&day) || (41..=71).contains(&day)) {
            return Err(NikError::Day(day));
        }
        let month = nik.birth_month();
        if !(1..=12).contains(&month) {
            return Err(NikError::Month(month));
        }
        if nik.serial() == 0 {
            return Err(NikError::Serial);
        }
        Ok(nik)
    }

    fn part(self, from: u32, len: u32) -> u64 {
        // Digit positions counted from the left, 0-based, of the 16-digit number.
        (self.0 / 10u64.pow(16 - from - len)) % 10u64.pow(len)
    }

    fn two(self, from: u32) -> u8 {
        // part(_, 2) < 100.
        self.part(from, 2) as u8
    }

    /// The province code where the NIK was first registered (digits 1–2).
    pub fn province(self) -> u8 {
        self.two(0)
    }

    /// `PPKKCC`: province, regency and district of first registration.
    pub fn issuing_district(self) -> u32 {
        // part(_, 6) < 10^6.
        self.part(0, 6) as u32
    }

    fn raw_day(self) -> u8 {
        self.two(6)
    }

    pub fn birth_month(self) -> u8 {
        self.two(8)
    }

    /// Two-digit birth year; the century is ambiguous.
    pub fn birth_yy(self) -> u8 {
        self.two(10)
    }

    pub fn serial(self) -> u16 {
        // part(_, 4) < 10^4.
        self.part(12, 4) as u16
    }

    /// Women's NIKs carry the birth day plus 40.
    pub fn sex(self) -> Sex {
        if self.raw_day() > 40 { Sex::P } else { Sex::L }
    }

    pub fn birth_day(self) -> u8 {
        let d = self.raw_day();
        if d > 40 { d - 40 } else { d }
    }

    /// The birth date read from the NIK, choosing the century so that the date is not after
    /// `reference` (normally the registration date). `None` when day and month do not form a
    /// real date in that year.
    pub fn birth_date(self, reference: Date) -> Option<Date> {
        let yy = i32::from(self.birth_yy());
        let century = reference.year() - reference.year().rem_euclid(100);
        let month = time::Month::try_from(self.birth_month()).ok()?;
        let this = Date::from_calendar_date(century + yy, month, self.birth_day());
        match this {
            Ok(d) if d <= reference => Some(d),
            _ => Date::from_calendar_date(century - 100 + yy, month, self.birth_day()).ok(),
        }
    }

    /// Warnings against reference data and the declared birth date and sex.
    pub fn warnings(
        self,
        province_known: impl Fn(u8) -> bool,
        declared_birth: Option<Date>,
        declared_sex: Option<Sex>,
        reference: Date,
    ) -> Vec<NikWarning> {
        let mut w = Vec::new();
        if !province_known(self.province()) {
            w.push(NikWarning::UnknownProvince);
        }
        match self.birth_date(reference) {
            None => w.push(NikWarning::ImpossibleDate),
            Some(d) => {
                if let Some(decl) = declared_birth {
                    // The century is ambiguous, so compare day, month and the two-digit year.
                    let same = decl.day() == d.day()
                        && decl.month() == d.month()
                        && decl.year().rem_euclid(100) == d.year().rem_euclid(100);
                    if !same {
                        w.push(NikWarning::BirthDateMismatch);
                    }
                }
            }
        }
        if let Some(s) = declared_sex
            && s != self.sex()
        {
            w.push(NikWarning::SexMismatch);
        }
        w
    }

    /// `3201**********0003`: province and regency, then the serial; birth date hidden.
    pub fn masked(self) -> String {
        let s = self.to_string();
        format!("{}{}{}", &s[..4], "*".repeat(8), &s[12..])
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016}", self.0)
    }
}

impl Serialize for Nik {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Nik {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Nik::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn reads_fields() {
        // A woman born 12 March 1990, first registered in Kota Bogor (32.71.01).
        let n = Nik::parse("3271015203900003").unwrap();
        assert_eq!(n.province(), 32);
        assert_eq!(n.issuing_district(), 327101);
        assert_eq!(n.sex(), Sex::P);
        assert_eq!(n.birth_day(), 12);
        assert_eq!(
            n.birth_date(date!(2026 - 01 - 01)),
            Some(date!(1990 - 03 - 12))
        );
        assert_eq!(n.serial(), 3);
        assert_eq!(n.masked(), "3271********0003");
        let m = Nik::parse("3271011203050001").unwrap();
        assert_eq!(m.sex(), Sex::L);
        assert_eq!(
            m.birth_date(date!(2026 - 01 - 01)),
            Some(date!(2005 - 03 - 12))
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(Nik::parse("123"), Err(NikError::Length(3)));
        assert_eq!(Nik::parse("327101520390000x"), Err(NikError::NotDigits));
        assert_eq!(Nik::parse("3271013203900003"), Err(NikError::Day(32)));
        assert_eq!(Nik::parse("3271010003900003"), Err(NikError::Day(0)));
        assert_eq!(Nik::parse("3271017203900003"), Err(NikError::Day(72)));
        assert_eq!(Nik::parse("3271011213900003"), Err(NikError::Month(13)));
        assert_eq!(Nik::parse("3271011200900003"), Err(NikError::Month(0)));
        assert_eq!(Nik::parse("3271011203900000"), Err(NikError::Serial));
        // 40 is neither a man's day nor a woman's day (41–71).
        assert_eq!(Nik::parse("3271014003900001"), Err(NikError::Day(40)));
    }

    #[test]
    fn warns() {
        let known = |p: u8| p == 32;
        let r = date!(2026 - 01 - 01);
        let n = Nik::parse("3271015203900003").unwrap();
        assert!(
            n.warnings(known, Some(date!(1990 - 03 - 12)), Some(Sex::P), r)
                .is_empty()
        );
        assert_eq!(
            n.warnings(known, Some(date!(1990 - 03 - 13)), Some(Sex::L), r),
            vec![NikWarning::BirthDateMismatch, NikWarning::SexMismatch]
        );
        // 31 February parses (day and month are in range) but is no real date: warn only.
        let feb = Nik::parse("9901013102900001").unwrap();
        assert_eq!(
            feb.warnings(known, None, None, r),
            vec![NikWarning::UnknownProvince, NikWarning::ImpossibleDate]
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") { let _ = Nik::parse(&s); }

        #[test]
        fn digits_never_panic(s in "[0-9]{16}") {
            if let Ok(n) = Nik::parse(&s) {
                prop_assert_eq!(n.to_string(), s);
                let _ = n.birth_date(date!(2026 - 01 - 01));
                let _ = n.masked();
            }
        }

        #[test]
        fn round_trip(p in 11u64..100, k in 0u64..100, c in 0u64..100, d in 1u64..=31, women in any::<bool>(),
                      m in 1u64..=12, y in 0u64..100, s in 1u64..10000) {
            let day = if women { d + 40 } else { d };
            let text = format!("{p:02}{k:02}{c:02}{day:02}{m:02}{y:02}{s:04}");
            let n = Nik::parse(&text).unwrap();
            prop_assert_eq!(n.to_string(), text);
            prop_assert_eq!(n.sex(), if women { Sex::P } else { Sex::L });
            prop_assert_eq!(u64::from(n.birth_day()), d);
        }
    }
}
