//! Occupation codes and the PP 50/2025 sector flag (DOMAIN.md §7).

use serde::{Deserialize, Serialize};

/// The sector flag that decides which PP 50/2025 discount period applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sector {
    Transport,
    NonTransport,
}

impl Sector {
    pub fn as_str(self) -> &'static str {
        match self {
            Sector::Transport => "transport",
            Sector::NonTransport => "non_transport",
        }
    }

    pub fn parse(s: &str) -> Option<Sector> {
        match s.trim() {
            "transport" => Some(Sector::Transport),
            "non_transport" => Some(Sector::NonTransport),
            _ => None,
        }
    }
}

/// One entry of the occupation list (`rules/occupations.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Occupation {
    pub code: String,
    pub name_id: String,
    pub name_en: String,
    pub sector: Sector,
    pub source: String,
}
