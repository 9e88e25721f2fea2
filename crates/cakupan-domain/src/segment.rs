//! Segments, programmes, channels: the small closed vocabularies of DOMAIN.md §1 and §7.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! closed_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The accepted spellings, for error messages.
            pub fn expected() -> String {
                [$($text),+].join(", ")
            }

            pub fn parse(s: &str) -> Option<$name> {
                let t = s.trim();
                $(if t.eq_ignore_ascii_case($text) { return Some($name::$variant); })+
                None
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::parse(s).ok_or_else(|| format!(concat!($what, " must be one of {}"), $name::expected()))
            }
        }
    };
}

closed_enum!(
    /// PU (Penerima Upah, wage earners) or BPU (Bukan Penerima Upah, informal workers).
    Segment, "segment", { Pu => "PU", Bpu => "BPU" }
);

closed_enum!(
    /// The five social-security programmes (DOMAIN.md §1).
    Programme, "programme", {
        Jkk => "JKK",
        Jkm => "JKM",
        Jht => "JHT",
        Jp => "JP",
        Jkp => "JKP",
    }
);

closed_enum!(
    /// How a participant came to be registered (DESIGN.md §5).
    Channel, "channel", {
        SelfService => "self",
        Perisai => "perisai",
        Employer => "employer",
        Branch => "branch",
        Bank => "bank",
    }
);

closed_enum!(
    /// Sex as on the KTP: L (laki-laki) or P (perempuan).
    Sex, "sex", { L => "L", P => "P" }
);

closed_enum!(
    /// Who pays a contribution line.
    Payer, "payer", { Worker => "worker", Employer => "employer", Government => "government" }
);

/// A set of programmes, written `JKK+JKM+JHT` (canonical order JKK, JKM, JHT, JP, JKP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ProgrammeSet(u8);

impl ProgrammeSet {
    fn bit(p: Programme) -> u8 {
        match p {
            Programme::Jkk => 1,
            Programme::Jkm => 2,
            Programme::Jht => 4,
            Programme::Jp => 8,
            Programme::Jkp => 16,
        }
    }

    pub fn of(ps: &[Programme]) -> ProgrammeSet {
        ProgrammeSet(ps.iter().fold(0, |acc, p| acc | Self::bit(*p)))
    }

    pub fn contains(self, p: Programme) -> bool {
        self.0 & Self::bit(p) != 0
    }

    pub fn insert(&mut self, p: Programme) {
        self.0 |= Self::bit(p);
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Programme> {
        Programme::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// Parses `JKK+JKM`; a repeated programme is an error, as is an empty list.
    pub fn parse(s: &str) -> Result<ProgrammeSet, String> {
        let mut set = ProgrammeSet::default();
        if s.trim().is_empty() {
            return Err("must list at least one programme, joined with '+' (e.g. JKK+JKM)".into());
        }
        for part in s.split('+') {
            let p = Programme::parse(part).ok_or_else(|| {
                format!(
                    "unknown programme {}: each must be one of {}",
                    crate::error::quoted_code(part.trim()),
                    Programme::expected()
                )
            })?;
            if set.contains(p) {
                return Err(format!("programme {p} is listed twice"));
            }
            set.insert(p);
        }
        Ok(set)
    }
}

impl fmt::Display for ProgrammeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<&str> = self.iter().map(Programme::as_str).collect();
        f.pad(&s.join("+"))
    }
}

impl Serialize for ProgrammeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProgrammeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ProgrammeSet::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn programme_sets() {
        let s = ProgrammeSet::parse("JKM+jkk").unwrap();
        assert_eq!(s.to_string(), "JKK+JKM");
        assert!(ProgrammeSet::parse("JKK+JKK").is_err());
        assert!(ProgrammeSet::parse("JKK+XYZ").unwrap_err().contains("XYZ"));
        assert!(ProgrammeSet::parse("").is_err());
        assert_eq!(Segment::parse("bpu"), Some(Segment::Bpu));
        assert_eq!(Channel::parse("self"), Some(Channel::SelfService));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = ProgrammeSet::parse(&s);
            let _ = Segment::parse(&s);
            let _ = Channel::parse(&s);
        }

        #[test]
        fn round_trip(bits in 1u8..32) {
            let set = ProgrammeSet(bits);
            prop_assert_eq!(ProgrammeSet::parse(&set.to_string()), Ok(set));
        }
    }
}
