//! KPJ participant numbers (Kartu Peserta Jamsostek).
//!
//! Numbers that Cakupan issues are 11 digits: a 10-digit sequence number followed by a Damm
//! check digit, which catches every single-digit error and every swap of adjacent digits, the
//! two mistakes people make when reading a number off a card. KPJs migrated from older systems
//! keep whatever form they had (DOMAIN.md §9.13): stores keep KPJs as opaque text, and only
//! numbers issued here are checked with [`Kpj::parse`].

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kpj(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KpjError {
    #[error("KPJ must be 11 digits")]
    Format,
    #[error("KPJ check digit does not match (a digit is mistyped or two are swapped)")]
    CheckDigit,
    #[error("KPJ sequence number must be between 1 and 9,999,999,999")]
    OutOfRange,
}

const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm check digit of a string of decimal digits (`None` if it holds anything else).
pub fn damm_digit(digits: &str) -> Option<u8> {
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| damm(digits.bytes().map(|b| b - b'0')))
}

fn damm(digits: impl Iterator<Item = u8>) -> u8 {
    digits.fold(0, |interim, d| {
        DAMM[usize::from(interim)][usize::from(d % 10)]
    })
}

impl Kpj {
    pub const MAX_SEQUENCE: u64 = 9_999_999_999;

    /// The KPJ for sequence number `n`.
    pub fn from_sequence(n: u64) -> Result<Kpj, KpjError> {
        if n == 0 || n > Self::MAX_SEQUENCE {
            return Err(KpjError::OutOfRange);
        }
        Ok(Kpj(n))
    }

    pub fn parse(s: &str) -> Result<Kpj, KpjError> {
        let t = s.trim();
        if t.len() != 11 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KpjError::Format);
        }
        let digits: Vec<u8> = t.bytes().map(|b| b - b'0').collect();
        if damm(digits.iter().copied()) != 0 {
            return Err(KpjError::CheckDigit);
        }
        let n = digits[..10]
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(*d));
        Kpj::from_sequence(n)
    }

    pub fn sequence(self) -> u64 {
        self.0
    }

    fn check_digit(self) -> u8 {
        let body = format!("{:010}", self.0);
        damm(body.bytes().map(|b| b - b'0'))
    }
}

impl fmt::Display for Kpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010}{}", self.0, self.check_digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        // Damm's own worked example: 572 → check digit 4.
        assert_eq!(damm([5, 7, 2].into_iter()), 4);
        let k = Kpj::from_sequence(572).unwrap();
        assert_eq!(k.to_string(), "00000005724");
        assert_eq!(Kpj::parse("00000005724"), Ok(k));
        assert_eq!(Kpj::parse("00000005734"), Err(KpjError::CheckDigit));
        assert_eq!(Kpj::parse("00000000000"), Err(KpjError::OutOfRange));
        assert_eq!(Kpj::parse("1234"), Err(KpjError::Format));
        assert!(Kpj::from_sequence(0).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") { let _ = Kpj::parse(&s); }

        #[test]
        fn round_trip(n in 1u64..=Kpj::MAX_SEQUENCE) {
            let k = Kpj::from_sequence(n).unwrap();
            prop_assert_eq!(Kpj::parse(&k.to_string()), Ok(k));
        }

        #[test]
        fn catches_adjacent_swaps_and_single_errors(n in 1u64..=Kpj::MAX_SEQUENCE, pos in 0usize..10, d in 1u8..10) {
            let s = Kpj::from_sequence(n).unwrap().to_string();
            let mut b = s.clone().into_bytes();
            if b[pos] != b[pos + 1] {
                b.swap(pos, pos + 1);
                let swapped = String::from_utf8(b).unwrap();
                prop_assert!(Kpj::parse(&swapped).map(|k| k.to_string()) != Ok(s.clone()));
            }
            let mut c = s.clone().into_bytes();
            c[pos] = b'0' + (c[pos] - b'0' + d) % 10;
            let changed = String::from_utf8(c).unwrap();
            prop_assert!(Kpj::parse(&changed).is_err());
        }
    }
}
