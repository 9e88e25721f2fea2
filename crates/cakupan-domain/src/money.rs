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

    /// Parses a plain integer amount (`16800`, also `Rp16,800` or `16.800`).
    pub fn parse(s: &str) -> Option<Rupiah> {
        let t = s.trim();
        let t = t.strip_prefix("Rp").unwrap_or(t).trim();
        if t.is_empty() {
            return None;
        }
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let mut v: i64 = 0;
        let mut seen = false;
        for c in digits.chars() {
            match c {
                '0'..='9' => {
                    v = v.checked_mul(10)?.checked_add(i64::from(c as u8 - b'0'))?;
                    seen = true;
                }
                ',' | '.' | '_' => {}
                _ => return None,
            }
        }
        if !seen {
            return None;
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

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") { let _ = Rupiah::parse(&s); }

        #[test]
        fn parse_round_trips(v in -1_000_000_000_000i64..1_000_000_000_000i64) {
            prop_assert_eq!(Rupiah::parse(&v.to_string()), Some(Rupiah(v)));
            prop_assert_eq!(Rupiah::parse(&Rupiah(v).to_string().replace("-Rp", "-")), Some(Rupiah(v)));
        }
    }
}
