//! Money is integer rupiah, never a float.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in whole rupiah.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Rupiah(pub i64);

/// How a fractional rupiah amount is rounded (DOMAIN.md §9.3; configured in `rules/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    HalfUp,
    Down,
    Up,
}

/// Parts per million: 1% = 10_000 ppm, 0.24% = 2_400 ppm. Rates are kept in ppm so that
/// every rate in DOMAIN.md is an exact integer.
pub const PPM: i64 = 1_000_000;

impl Rupiah {
    pub const ZERO: Rupiah = Rupiah(0);

    pub fn checked_add(self, other: Rupiah) -> Option<Rupiah> {
        self.0.checked_add(other.0).map(Rupiah)
    }

    pub fn saturating_add(self, other: Rupiah) -> Rupiah {
        Rupiah(self.0.saturating_add(other.0))
    }

    /// `self × ppm / 1e6`, rounded as configured. Amounts stay far below `i64` range
    /// because the product is computed in `i128`.
    pub fn times_ppm(self, ppm: i64, rounding: Rounding) -> Rupiah {
        let num = i128::from(self.0) * i128::from(ppm);
        let den = i128::from(PPM);
        let q = num.div_euclid(den);
        let r = num.rem_euclid(den);
        let v = match rounding {
            Rounding::Down => q,
            Rounding::Up => q + i128::from(r > 0),
            Rounding::HalfUp => q + i128::from(2 * r >= den),
        };
        Rupiah(i64::try_from(v).unwrap_or(if v > 0 { i64::MAX } else { i64::MIN }))
    }

    /// Parses a whole amount of rupiah as people write it: `16800`, `16.800` or `16,800`
    /// (groups of three after the first, one separator throughout), `Rp16.800` or `Rp 16.800`,
    /// `1.000.000,00` (cents only when zero), `-5`. Anything else is `None`, so that `1,5` or
    /// `4.000.000,50` is refused rather than read as 15 or 400,000,050.
    pub fn parse(s: &str) -> Option<Rupiah> {
        let t = s.trim();
        let t = t
            .strip_prefix("Rp")
            .or_else(|| t.strip_prefix("rp"))
            .or_else(|| t.strip_prefix("RP"))
            .unwrap_or(t);
        let t = t.strip_prefix('.').unwrap_or(t).trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, t),
        };
        let is_sep = |c: char| c == '.' || c == ',';
        // A decimal part: the last separator followed by one or two digits, all zero.
        let (whole, decimal_sep) = match t.rfind(is_sep) {
            Some(at) if (2..=3).contains(&(t.len() - at)) => {
                let cents = &t[at + 1..];
                if !cents.bytes().all(|b| b == b'0') {
                    return None;
                }
                (&t[..at], t[at..].chars().next())
            }
            _ => (t, None),
        };
        if whole.is_empty() {
            return None;
        }
        let mut seps = whole.chars().filter(|c| is_sep(*c));
        let group_sep = seps.next();
        if group_sep.is_some() && (seps.any(|c| Some(c) != group_sep) || group_sep == decimal_sep) {
            return None;
        }
        let mut v: i64 = 0;
        for (i, group) in whole.split(is_sep).enumerate() {
            let ok_len = if group_sep.is_none() {
                !group.is_empty()
            } else if i == 0 {
                (1..=3).contains(&group.len())
            } else {
                group.len() == 3
            };
            if !ok_len || !group.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            for b in group.bytes() {
                v = v.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
            }
        }
        Some(Rupiah(if neg { -v } else { v }))
    }
}

impl fmt::Display for Rupiah {
    /// `Rp16,800`: the agency's own publications group thousands with a comma in English
    /// text and a dot in Indonesian; the CLI uses the English form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let digits = self.0.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 3);
        if neg {
            out.push('-');
        }
        out.push_str("Rp");
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        f.pad(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_groups_thousands() {
        assert_eq!(Rupiah(16_800).to_string(), "Rp16,800");
        assert_eq!(Rupiah(0).to_string(), "Rp0");
        assert_eq!(Rupiah(20_700_000).to_string(), "Rp20,700,000");
        assert_eq!(Rupiah(-500).to_string(), "-Rp500");
    }

    #[test]
    fn ppm_rounding() {
        assert_eq!(
            Rupiah(6_800).times_ppm(500_000, Rounding::HalfUp),
            Rupiah(3_400)
        );
        assert_eq!(
            Rupiah(6_801).times_ppm(500_000, Rounding::HalfUp),
            Rupiah(3_401)
        );
        assert_eq!(
            Rupiah(6_801).times_ppm(500_000, Rounding::Down),
            Rupiah(3_400)
        );
        assert_eq!(
            Rupiah(1_000_000).times_ppm(10_000, Rounding::HalfUp),
            Rupiah(10_000)
        );
        assert_eq!(
            Rupiah(4_321_000).times_ppm(2_400, Rounding::HalfUp),
            Rupiah(10_370)
        );
    }

    #[test]
    fn amounts_as_people_write_them() {
        for (text, want) in [
            ("16800", Some(16_800)),
            ("16.800", Some(16_800)),
            ("16,800", Some(16_800)),
            ("Rp16.800", Some(16_800)),
            ("Rp 1.000.000", Some(1_000_000)),
            ("Rp. 1.000.000", Some(1_000_000)),
            ("1.000.000,00", Some(1_000_000)),
            ("1,000,000.00", Some(1_000_000)),
            ("1000000,0", Some(1_000_000)),
            ("-5", Some(-5)),
            ("0", Some(0)),
            ("1,5", None),
            ("4.000.000,50", None),
            ("1.0000", None),
            ("1.000,000", None),
            ("10.00.000", None),
            ("1..000", None),
            ("", None),
            ("Rp", None),
            ("abc", None),
            (",00", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(Rupiah::parse(text).map(|r| r.0), want, "{text}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") { let _ = Rupiah::parse(&s); }

        #[test]
        fn parse_round_trips(v in -1_000_000_000_000i64..1_000_000_000_000i64) {
            prop_assert_eq!(Rupiah::parse(&v.to_string()), Some(Rupiah(v)));
            prop_assert_eq!(Rupiah::parse(&Rupiah(v).to_string().replace("-Rp", "-")), Some(Rupiah(v)));
            // The Indonesian way: dots between thousands.
            prop_assert_eq!(Rupiah::parse(&v.abs().to_string().chars().rev().collect::<Vec<_>>().chunks(3).map(|c| c.iter().rev().collect::<String>()).rev().collect::<Vec<_>>().join(".")).map(|r| r.0), Some(v.abs()));
        }
    }
}
