//! Cakupan's domain: the identifiers, reference data and rules the whole platform shares.
//!
//! Nothing here does I/O. Rule tables and reference data arrive as text (the binary embeds
//! the files under `rules/` and `data/regions/`), are parsed and checked once, and are then
//! consulted by pure functions: the contribution calculator ([`quote`]) and registration
//! validation ([`participants`]).

pub mod access;
pub mod agents;
pub mod bps;
pub mod campaign;
pub mod contribution;
pub mod coverage;
pub mod employers;
pub mod enrolment;
pub mod error;
pub mod kpj;
pub mod money;
pub mod month;
pub mod nik;
pub mod occupation;
pub mod participants;
pub mod password;
pub mod payments;
pub mod phone;
pub mod quote;
pub mod region;
mod region_csv;
pub mod reminders;
pub mod rules;
pub mod segment;
pub mod survey;
pub mod targets;

#[cfg(test)]
mod golden_tests;

pub use error::{FieldError, FieldErrors};
pub use kpj::Kpj;
pub use money::Rupiah;
pub use month::Month;
pub use nik::Nik;
pub use occupation::{Occupation, Sector};
pub use region::{Level, Region, RegionCode, RegionTree};
pub use rules::RuleSet;
pub use segment::{Channel, Programme, ProgrammeSet, Segment, Sex};
