//! The storage layer's contract: the [`Store`] trait every backend implements, the row types
//! it returns and its errors. Backends live in their own crates (`cakupan-store-sqlite`,
//! `cakupan-store-postgres`); one contract test suite runs against both.

pub mod accounts;
mod accounts_sql;
pub mod agents;
mod agents_sql;
pub mod campaign;
mod campaign_sql;
pub mod clock;
pub mod crypto;
pub mod employers;
mod employers_sql;
pub mod enrolment;
mod enrolment_sql;
mod flows_sql;
pub mod group;
pub mod ledger;
mod ledger_sql;
pub mod participants;
mod participants_sql;
pub mod payments;
mod payments_sql;
pub mod reminders;
mod reminders_sql;
pub mod rights;
mod rights_sql;
mod shared_sql;
pub mod targets;
mod targets_sql;

pub use cakupan_domain::targets::TargetRecord;

use async_trait::async_trait;
use cakupan_domain::month::parse_date;
use cakupan_domain::occupation::Sector;
use cakupan_domain::participants::{Heir, Registration, Relationship};
use cakupan_domain::{Channel, Level, Nik, ProgrammeSet, RegionCode, Rupiah, Segment, Sex};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// A stored participation: one NIK in one segment, with its KPJ number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub id: i64,
    pub kpj: String,
    pub registration: Registration,
    /// Verification against the Dukcapil population registry: `unverified` until the
    /// external check is connected.
    pub dukcapil_status: String,
}

/// What happened to one registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored now.
    Created { id: i64, kpj: String },
    /// The same registration was already stored (a retry or a re-run): nothing changed.
    Existing { id: i64, kpj: String },
    /// The NIK already has a different participation in this segment.
    Conflict { kpj: String, segment: Segment },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "nik: this NIK already has a {segment} participation with different details (KPJ {kpj}); one participation per NIK per segment"
    )]
    Conflict { kpj: String, segment: Segment },
    /// The input broke a rule that needs the stored data to check (an amount that is not the
    /// dues, an unknown participant, a reversal of nothing).
    #[error("{0}")]
    Rejected(cakupan_domain::FieldErrors),
    #[error("database URL: {0}")]
    Url(String),
    #[error("key file: {0}")]
    Keys(String),
    #[error("migration failed: {0}")]
    Migration(String),
    /// A failure of the store's own making, in words (a write group abandoned, a batch that
    /// returned no outcome).
    #[error("database error: {0}")]
    Database(String),
    /// The database driver failed (connection, statement, constraint); its error is the
    /// source.
    #[error("database error: {0}")]
    Sql(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Whether the region table was (re)loaded on this start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RegionsLoaded {
    pub loaded: bool,
    pub count: u64,
}

/// What differs between the two databases' SQL, for the statements the features' `_sql.rs`
/// macros write once: each sqlx backend's store type answers.
pub trait Dialect {
    /// `SELECT <the columns rows::participant reads> FROM participants`, dates as
    /// `YYYY-MM-DD` text.
    const SELECT_PARTICIPANTS: &'static str;
    /// Appended to a read whose rows the transaction goes on to change: `" FOR UPDATE"` where
    /// rows lock (PostgreSQL), nothing where one writer holds the whole database (SQLite).
    const FOR_UPDATE: &'static str;

    /// A list of values bound as one parameter: an array on PostgreSQL, a JSON array on
    /// SQLite (read back by `json_each`). One statement text serves any length.
    type Ids;
    type Texts;
    type Blobs;
    fn ids(values: &[i64]) -> Self::Ids;
    fn texts(values: &[&str]) -> Self::Texts;
    fn blobs(values: &[Vec<u8>]) -> Self::Blobs;
    /// `<column> <one_of(n)>`: the column is one of the ids or texts bound at `$n`
    /// (`= ANY($n)`, or `IN (SELECT value FROM json_each($n))`).
    fn one_of(param: u8) -> String;
    /// The same for blobs (SQLite carries them as hex).
    fn one_of_blobs(param: u8) -> String;
    /// The list bound at `$n` as rows of one column named `value`, for `INSERT … SELECT`.
    fn each(param: u8) -> String;
    /// A date column as `YYYY-MM-DD` text (PostgreSQL keeps dates, SQLite that text).
    fn date_text(column: &str) -> String;
    /// A statement that holds a transaction-wide lock on (`class`, `key`) until the
    /// transaction ends, where concurrent writers need one (PostgreSQL); none where one writer
    /// holds the whole database (SQLite).
    fn advisory_lock(class: i32, key: i64) -> Option<String>;
    /// `LOCK TABLE <tables> IN <mode> MODE` where concurrent writers need it (PostgreSQL);
    /// none where one writer holds the whole database (SQLite).
    fn table_lock(tables: &str, mode: &str) -> Option<String>;
    /// A day as a date column takes it (a DATE on PostgreSQL, `YYYY-MM-DD` text on SQLite).
    type Day;
    fn day(d: time::Date) -> Self::Day;
}

/// A list of ids as a JSON array (SQLite's [`Dialect::ids`]).
/// The `VALUES` list of a multi-row insert of `rows` rows of `columns` columns, numbered
/// `$1, $2, …` (the same on both backends): `($1, $2), ($3, $4)`.
pub fn values_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|i| {
            let p: Vec<String> = (1..=columns)
                .map(|k| format!("${}", i * columns + k))
                .collect();
            format!("({})", p.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn json_ids(values: &[i64]) -> String {
    let mut out = String::with_capacity(2 + values.len() * 8);
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&v.to_string());
    }
    out.push(']');
    out
}

/// A list of texts as a JSON array (SQLite's [`Dialect::texts`]).
pub fn json_texts(values: &[&str]) -> String {
    serde_json::Value::from(values.to_vec()).to_string()
}

/// A list of blobs as a JSON array of hex texts (SQLite's [`Dialect::blobs`]).
pub fn json_hex(values: &[Vec<u8>]) -> String {
    let hexed: Vec<String> = values.iter().map(hex::encode).collect();
    serde_json::Value::from(hexed).to_string()
}

/// What every store holds: the keys its personal data is sealed with.
pub trait Keyed: Send + Sync + std::fmt::Debug {
    /// The blind index of a NIK under this store's keys (hex in access decisions).
    fn nik_index(&self, nik: &Nik) -> Vec<u8> {
        self.keys().nik_index(nik)
    }
    /// The keys of this store (the audit chain is keyed with them).
    fn keys(&self) -> &crypto::Keys;
}

/// The storage contract: one trait per feature (each beside its feature's shared SQL,
/// `<feature>_sql.rs`), and the store's own facts. A `dyn Store` or an `S: Store` has every
/// feature's methods; a backend's own type brings [`prelude`] into scope for them.
#[async_trait]
pub trait Store:
    Keyed
    + participants::ParticipantStore
    + ledger::LedgerStore
    + accounts::AccountStore
    + rights::RightsStore
    + agents::AgentStore
    + employers::EmployerStore
    + targets::TargetStore
    + campaign::CampaignStore
    + payments::PaymentStore
    + enrolment::EnrolmentStore
    + reminders::ReminderStore
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Checks the connection.
    async fn health(&self) -> Result<()>;
    /// Bytes the database occupies on disk.
    async fn size_bytes(&self) -> Result<u64>;
    /// Brings the query planner's view up to date after a bulk load (an import) of `loaded`
    /// rows: without it a freshly filled PostgreSQL database plans with empty statistics and
    /// reads the heap for every counter row (docs/benchmarks.md, `bench scale`). Proportional
    /// to what was loaded (issue #23): a load too small to change the statistics leaves them.
    async fn after_bulk_load(&self, loaded: u64) -> Result<()>;

    /// A value of the `meta` table (the database's own facts: fingerprints, check values).
    async fn meta(&self, key: &str) -> Result<Option<String>>;
    /// Records a value in the `meta` table, only where none is recorded yet (a second writer
    /// racing to record the same fact changes nothing); returns the value now recorded.
    async fn set_meta_once(&self, key: &str, value: &str) -> Result<String>;
}

/// Every store trait, anonymously: `use cakupan_store::prelude::*;` to call store methods.
pub mod prelude {
    pub use crate::Keyed as _;
    pub use crate::Store;
    pub use crate::accounts::AccountStore as _;
    pub use crate::agents::AgentStore as _;
    pub use crate::campaign::CampaignStore as _;
    pub use crate::employers::EmployerStore as _;
    pub use crate::enrolment::EnrolmentStore as _;
    pub use crate::ledger::LedgerStore as _;
    pub use crate::participants::ParticipantStore as _;
    pub use crate::payments::PaymentStore as _;
    pub use crate::reminders::ReminderStore as _;
    pub use crate::rights::RightsStore as _;
    pub use crate::targets::TargetStore as _;
}

/// Why a database from before schema 5 (personal fields in clear) is not migrated: SQL alone
/// cannot encrypt its participants.
pub fn clear_participants_refused(participants: i64, version: i64) -> StoreError {
    StoreError::Migration(format!(
        "this database holds {participants} participants stored in clear by an earlier version (schema {version}); this version keeps personal fields encrypted and cannot convert them in place: export them with the earlier version and import them into a new database"
    ))
}

/// The error for a taken username.
pub fn username_taken(username: &str) -> StoreError {
    StoreError::Rejected(
        cakupan_domain::FieldError::new(
            "username",
            "username.taken",
            format!("the username {username} is already in use"),
        )
        .into(),
    )
}

/// Checks every target of a batch before any is stored.
pub fn check_targets(targets: &[TargetRecord]) -> Result<()> {
    for t in targets {
        t.check().map_err(StoreError::Rejected)?;
    }
    Ok(())
}

/// One line of the active-participant report (DESIGN.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveRow {
    pub code: String,
    pub registered: i64,
    pub paid_active: i64,
    pub status_active: i64,
    pub nonactive: i64,
}

/// Picks the rows of a batch to insert: the first occurrence of each NIK and segment. The
/// others get their outcome from [`resolve_duplicates`] once the first one is settled, and
/// rows the database's unique key turns away get theirs from [`settle`].
pub fn plan_batch(regs: &[Registration]) -> (Vec<Option<Outcome>>, Vec<usize>) {
    let mut seen: HashSet<(Nik, Segment)> = HashSet::with_capacity(regs.len());
    let insert = (0..regs.len())
        .filter(|&i| seen.insert((regs[i].nik, regs[i].segment)))
        .collect();
    (vec![None; regs.len()], insert)
}

/// The outcome of a registration that the unique key `(nik, segment)` turned away: the same
/// registration again, or a different one naming the stored KPJ.
pub fn settle(r: &Registration, stored: Option<&(i64, String, Registration)>) -> Result<Outcome> {
    match stored {
        Some((id, kpj, s)) if s.same_registration(r) => Ok(Outcome::Existing {
            id: *id,
            kpj: kpj.clone(),
        }),
        Some((_, kpj, _)) => Ok(Outcome::Conflict {
            kpj: kpj.clone(),
            segment: r.segment,
        }),
        None => Err(StoreError::Database(format!(
            "registration of {} was neither stored nor found",
            r.nik.masked()
        ))),
    }
}

/// Fills the outcomes of rows that repeat an earlier row of the same batch, once the earlier
/// rows have been stored.
pub fn resolve_duplicates(regs: &[Registration], outcomes: &mut [Option<Outcome>]) {
    let mut first: HashMap<(Nik, Segment), usize> = HashMap::new();
    for i in 0..regs.len() {
        let key = (regs[i].nik, regs[i].segment);
        match first.get(&key) {
            None => {
                first.insert(key, i);
            }
            Some(&j) if outcomes[i].is_none() => {
                let (id, kpj) = match &outcomes[j] {
                    Some(Outcome::Created { id, kpj }) | Some(Outcome::Existing { id, kpj }) => {
                        (*id, kpj.clone())
                    }
                    Some(Outcome::Conflict { kpj, .. }) => (0, kpj.clone()),
                    None => continue,
                };
                outcomes[i] = Some(if id != 0 && regs[j].same_registration(&regs[i]) {
                    Outcome::Existing { id, kpj }
                } else {
                    Outcome::Conflict {
                        kpj,
                        segment: regs[i].segment,
                    }
                });
            }
            Some(_) => {}
        }
    }
}

/// The codes of `level` inside `within` as a half-open range `[low, high)` of region codes,
/// which an index on the code serves directly. Codes are digits and dots, and '/' follows '.',
/// so "32.73." ≤ code < "32.73/" is everything below 32.73; a region of `level` itself is the
/// range [code, code + "."), and the nation's is everything ("" to "~").
pub fn subtree_range(within: RegionCode, level: cakupan_domain::Level) -> (String, String) {
    if within == RegionCode::NATION {
        (String::new(), "~".to_string())
    } else if within.level().depth() >= level.depth() {
        (within.to_string(), format!("{within}."))
    } else {
        (format!("{within}."), format!("{within}/"))
    }
}

/// A participant row as stored, in text form, shared by both backends' decoding.
#[derive(Debug, Clone, Default)]
pub struct ParticipantRow {
    pub id: i64,
    pub kpj: String,
    pub nik: String,
    pub segment: String,
    pub name: String,
    pub birth_date: String,
    pub sex: String,
    pub phone: Option<String>,
    pub village_code: String,
    pub occupation_code: String,
    pub sector: String,
    pub income_base: i64,
    pub programs: String,
    pub registered_on: String,
    pub channel: String,
    pub agent_code: Option<String>,
    pub review_flags: String,
    pub dukcapil_status: String,
    pub address: Option<String>,
    pub budget_funded: bool,
}

/// A stored heir in text form.
#[derive(Debug, Clone, Default)]
pub struct HeirRow {
    pub name: String,
    pub relationship: String,
    pub nik: Option<String>,
    pub phone: Option<String>,
}

fn corrupt(what: &str, id: i64, v: &str) -> StoreError {
    StoreError::Corrupt(format!("participant {id}: {what} '{v}'"))
}

impl ParticipantRow {
    /// The row of a registration about to be stored.
    pub fn from_registration(id: i64, kpj: String, r: &Registration) -> ParticipantRow {
        ParticipantRow {
            id,
            kpj,
            nik: r.nik.to_string(),
            segment: r.segment.to_string(),
            name: r.name.clone(),
            birth_date: cakupan_domain::month::format_date(r.birth_date),
            sex: r.sex.to_string(),
            phone: r.phone.clone(),
            village_code: r.village.to_string(),
            occupation_code: r.occupation_code.clone(),
            sector: r.sector.as_str().to_string(),
            income_base: r.income_base.0,
            programs: r.programmes.to_string(),
            registered_on: cakupan_domain::month::format_date(r.registered_on),
            channel: r.channel.to_string(),
            agent_code: r.agent_code.clone(),
            review_flags: r.review_flags.join(","),
            dukcapil_status: "unverified".into(),
            address: r.address.clone(),
            budget_funded: r.budget_funded,
        }
    }

    pub fn into_participant(self, heirs: Vec<HeirRow>) -> Result<Participant> {
        let id = self.id;
        let nik = Nik::parse(&self.nik).map_err(|_| corrupt("nik", id, &self.nik))?;
        let reg = Registration {
            nik,
            name: self.name,
            birth_date: parse_date(&self.birth_date)
                .ok_or_else(|| corrupt("birth_date", id, &self.birth_date))?,
            sex: Sex::parse(&self.sex).ok_or_else(|| corrupt("sex", id, &self.sex))?,
            phone: self.phone,
            village: RegionCode::parse(&self.village_code)
                .map_err(|_| corrupt("village_code", id, &self.village_code))?,
            segment: Segment::parse(&self.segment)
                .ok_or_else(|| corrupt("segment", id, &self.segment))?,
            occupation_code: self.occupation_code,
            sector: Sector::parse(&self.sector)
                .ok_or_else(|| corrupt("sector", id, &self.sector))?,
            income_base: Rupiah(self.income_base),
            programmes: ProgrammeSet::parse(&self.programs)
                .map_err(|_| corrupt("programs", id, &self.programs))?,
            registered_on: parse_date(&self.registered_on)
                .ok_or_else(|| corrupt("registered_on", id, &self.registered_on))?,
            channel: Channel::parse(&self.channel)
                .ok_or_else(|| corrupt("channel", id, &self.channel))?,
            agent_code: self.agent_code,
            address: self.address,
            budget_funded: self.budget_funded,
            heirs: heirs
                .into_iter()
                .map(|h| {
                    Ok(Heir {
                        relationship: Relationship::parse(&h.relationship)
                            .ok_or_else(|| corrupt("heir relationship", id, &h.relationship))?,
                        nik: match h.nik {
                            Some(n) => {
                                Some(Nik::parse(&n).map_err(|_| corrupt("heir nik", id, &n))?)
                            }
                            None => None,
                        },
                        name: h.name,
                        phone: h.phone,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            review_flags: self
                .review_flags
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        };
        Ok(Participant {
            id,
            kpj: self.kpj,
            registration: reg,
            dukcapil_status: self.dukcapil_status,
        })
    }
}

/// A participant's personal fields as stored: sealed, with their blind indexes.
#[derive(Debug, Clone)]
pub struct SealedFields {
    pub nik_index: Vec<u8>,
    pub nik: Vec<u8>,
    pub name: Vec<u8>,
    pub birth_date: Vec<u8>,
    pub phone: Option<Vec<u8>>,
    pub phone_index: Option<Vec<u8>>,
    pub income_base: Vec<u8>,
    pub address: Option<Vec<u8>>,
    pub key_version: i32,
}

/// An heir's personal fields as stored.
#[derive(Debug, Clone)]
pub struct SealedHeir {
    pub name: Vec<u8>,
    pub relationship: String,
    pub nik: Option<Vec<u8>>,
    pub phone: Option<Vec<u8>>,
}

impl ParticipantRow {
    /// The personal fields sealed for this row (bound to its id and column).
    pub fn seal(&self, keys: &crypto::Keys) -> Result<SealedFields> {
        let nik = Nik::parse(&self.nik).map_err(|_| corrupt("nik", self.id, "(not shown)"))?;
        let t = "participants";
        Ok(SealedFields {
            nik_index: keys.nik_index(&nik),
            nik: keys.seal(t, self.id, "nik", &self.nik)?,
            name: keys.seal(t, self.id, "name", &self.name)?,
            birth_date: keys.seal(t, self.id, "birth_date", &self.birth_date)?,
            phone: match &self.phone {
                Some(p) => Some(keys.seal(t, self.id, "phone", p)?),
                None => None,
            },
            phone_index: self.phone.as_deref().map(|p| keys.phone_index(p)),
            income_base: keys.seal(t, self.id, "income_base", &self.income_base.to_string())?,
            address: match &self.address {
                Some(a) => Some(keys.seal(t, self.id, "address", a)?),
                None => None,
            },
            key_version: i32::try_from(keys.current_version()).unwrap_or(i32::MAX),
        })
    }
}

impl HeirRow {
    /// The heir's personal fields sealed for its participant and position.
    pub fn seal(
        &self,
        keys: &crypto::Keys,
        participant: i64,
        position: usize,
    ) -> Result<SealedHeir> {
        let t = "heirs";
        let col = |c: &str| format!("{position}/{c}");
        Ok(SealedHeir {
            name: keys.seal(t, participant, &col("name"), &self.name)?,
            relationship: self.relationship.clone(),
            nik: match &self.nik {
                Some(n) => Some(keys.seal(t, participant, &col("nik"), n)?),
                None => None,
            },
            phone: match &self.phone {
                Some(p) => Some(keys.seal(t, participant, &col("phone"), p)?),
                None => None,
            },
        })
    }

    pub fn from_heir(h: &Heir) -> HeirRow {
        HeirRow {
            name: h.name.clone(),
            relationship: h.relationship.as_str().to_string(),
            nik: h.nik.map(|n| n.to_string()),
            phone: h.phone.clone(),
        }
    }
}

/// Decoding of participant and heir rows, shared by the sqlx-based backends. Both select the
/// participant columns in the order of [`ParticipantRow`] (dates as `YYYY-MM-DD` text; the
/// personal fields sealed) and heirs as `name, relationship, nik, phone`.
#[cfg(feature = "sqlx")]
pub mod rows {
    use super::{HeirRow, ParticipantRow, Result, StoreError};
    use sqlx::{ColumnIndex, Decode, Row, Type};

    fn db(e: sqlx::Error) -> StoreError {
        StoreError::Sql(Box::new(e))
    }

    pub fn participant<'r, R>(row: &'r R, keys: &crate::crypto::Keys) -> Result<ParticipantRow>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        Option<String>: Decode<'r, R::Database> + Type<R::Database>,
        Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
        Option<Vec<u8>>: Decode<'r, R::Database> + Type<R::Database>,
        bool: Decode<'r, R::Database> + Type<R::Database>,
    {
        let id: i64 = row.try_get(0).map_err(db)?;
        let open = |i: usize, column: &str| -> Result<String> {
            let sealed: Vec<u8> = row.try_get(i).map_err(db)?;
            keys.open("participants", id, column, &sealed)
        };
        let phone: Option<Vec<u8>> = row.try_get(7).map_err(db)?;
        let address: Option<Vec<u8>> = row.try_get(18).map_err(db)?;
        let income = open(11, "income_base")?;
        let f = || -> Result<ParticipantRow, sqlx::Error> {
            Ok(ParticipantRow {
                id,
                kpj: row.try_get(1)?,
                nik: String::new(),
                segment: row.try_get(3)?,
                name: String::new(),
                birth_date: String::new(),
                sex: row.try_get(6)?,
                phone: None,
                village_code: row.try_get(8)?,
                occupation_code: row.try_get(9)?,
                sector: row.try_get(10)?,
                income_base: 0,
                programs: row.try_get(12)?,
                registered_on: row.try_get(13)?,
                channel: row.try_get(14)?,
                agent_code: row.try_get(15)?,
                review_flags: row.try_get(16)?,
                dukcapil_status: row.try_get(17)?,
                address: None,
                budget_funded: row.try_get(19)?,
            })
        };
        let mut out = f().map_err(db)?;
        out.nik = open(2, "nik")?;
        out.name = open(4, "name")?;
        out.birth_date = open(5, "birth_date")?;
        out.phone = match phone {
            Some(p) => Some(keys.open("participants", id, "phone", &p)?),
            None => None,
        };
        out.address = match address {
            Some(a) => Some(keys.open("participants", id, "address", &a)?),
            None => None,
        };
        out.income_base = income
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("participant {id}: income_base")))?;
        Ok(out)
    }

    /// A `(level, count)` row of the regions table.
    pub fn level_count<'r, R>(row: &'r R) -> Result<(cakupan_domain::Level, u64)>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
    {
        let depth: i64 = row.try_get(0).map_err(db)?;
        let n: i64 = row.try_get(1).map_err(db)?;
        let level = u8::try_from(depth)
            .ok()
            .and_then(cakupan_domain::Level::from_depth)
            .ok_or_else(|| StoreError::Corrupt(format!("region level {depth}")))?;
        Ok((level, u64::try_from(n).unwrap_or(0)))
    }

    /// A stored counter row: region, level, segment, month and the eight values.
    #[allow(clippy::type_complexity)]
    pub fn counter<'r, R>(
        row: &'r R,
    ) -> Result<(
        String,
        i16,
        super::ledger::Series,
        i32,
        super::ledger::CounterValues,
    )>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i16: Decode<'r, R::Database> + Type<R::Database>,
        i32: Decode<'r, R::Database> + Type<R::Database>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
    {
        let segment: String = row.try_get(2).map_err(db)?;
        let segment = super::ledger::Series::parse(&segment)
            .ok_or_else(|| StoreError::Corrupt(format!("counter segment '{segment}'")))?;
        let mut v = [0i64; super::ledger::COUNTERS];
        for (i, x) in v.iter_mut().enumerate() {
            *x = row.try_get(4 + i).map_err(db)?;
        }
        Ok((
            row.try_get(0).map_err(db)?,
            row.try_get(1).map_err(db)?,
            segment,
            row.try_get(3).map_err(db)?,
            v,
        ))
    }

    /// A line of the active report: region and the four state counts.
    pub fn active<'r, R>(row: &'r R) -> Result<super::ActiveRow>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
    {
        let f = || -> Result<super::ActiveRow, sqlx::Error> {
            Ok(super::ActiveRow {
                code: row.try_get(0)?,
                registered: row.try_get(1)?,
                paid_active: row.try_get(2)?,
                status_active: row.try_get(3)?,
                nonactive: row.try_get(4)?,
            })
        };
        f().map_err(db)
    }

    /// A stored target: metric, segment, region, month, value, baseline month and value,
    /// basis, source.
    pub fn target<'r, R>(row: &'r R) -> Result<super::TargetRecord>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i32: Decode<'r, R::Database> + Type<R::Database>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        Option<i32>: Decode<'r, R::Database> + Type<R::Database>,
        Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
    {
        let metric: String = row.try_get(0).map_err(db)?;
        let segment: String = row.try_get(1).map_err(db)?;
        let region: String = row.try_get(2).map_err(db)?;
        let month: i32 = row.try_get(3).map_err(db)?;
        let baseline_month: Option<i32> = row.try_get(5).map_err(db)?;
        let baseline_value: Option<i64> = row.try_get(6).map_err(db)?;
        let bad = |what: &str| StoreError::Corrupt(format!("target {what}"));
        Ok(super::TargetRecord {
            metric: cakupan_domain::coverage::Metric::parse(&metric)
                .ok_or_else(|| bad(&format!("metric '{metric}'")))?,
            segment: if segment.is_empty() {
                None
            } else {
                Some(super::Segment::parse(&segment).ok_or_else(|| bad("segment"))?)
            },
            region: if region.is_empty() {
                super::RegionCode::NATION
            } else {
                super::RegionCode::parse(&region).map_err(|_| bad("region"))?
            },
            month: cakupan_domain::Month::from_index(month).ok_or_else(|| bad("month"))?,
            value: row.try_get(4).map_err(db)?,
            baseline: match (
                baseline_month.and_then(cakupan_domain::Month::from_index),
                baseline_value,
            ) {
                (Some(m), Some(v)) => Some((m, v)),
                _ => None,
            },
            basis: row.try_get(7).map_err(db)?,
            source: row.try_get(8).map_err(db)?,
        })
    }

    /// A user: id, username, password_hash, role, region, agent_code, nik, disabled,
    /// employer_code, must_change_password.
    /// The columns [`ledger`] reads, in its order.
    pub const LEDGER_COLUMNS: &str = "id, reference, kind, first_month, months, amount, paid_month, target_reference, collected_by";

    /// A posting's ledger row from the columns [`LEDGER_COLUMNS`], starting at column `from`
    /// (a join's own columns come first).
    pub fn ledger<'r, R>(row: &'r R, from: usize) -> Result<super::ledger::LedgerRow>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        Option<i32>: Decode<'r, R::Database> + Type<R::Database>,
        Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
        Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let f = || -> Result<super::ledger::LedgerRow, sqlx::Error> {
            Ok(super::ledger::LedgerRow {
                id: row.try_get(from)?,
                reference: row.try_get(from + 1)?,
                kind: row.try_get(from + 2)?,
                first_month: row.try_get(from + 3)?,
                months: row.try_get(from + 4)?,
                amount: row.try_get(from + 5)?,
                paid_month: row.try_get(from + 6)?,
                target_reference: row.try_get(from + 7)?,
                collected_by: row.try_get(from + 8)?,
            })
        };
        f().map_err(db)
    }

    pub fn user<'r, R>(row: &'r R) -> Result<super::accounts::UserRow>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        bool: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        Option<String>: Decode<'r, R::Database> + Type<R::Database>,
        Option<Vec<u8>>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let f = || -> Result<super::accounts::UserRow, sqlx::Error> {
            Ok(super::accounts::UserRow {
                id: row.try_get(0)?,
                username: row.try_get(1)?,
                password_hash: row.try_get(2)?,
                role: row.try_get(3)?,
                region: row.try_get(4)?,
                agent_code: row.try_get(5)?,
                nik_index: row.try_get(6)?,
                disabled: row.try_get(7)?,
                employer_code: row.try_get(8)?,
                must_change_password: row.try_get(9)?,
            })
        };
        f().map_err(db)
    }

    /// An audit record: id, at, actor, role, action, record, request_id, purpose, prev_hash,
    /// hash.
    pub fn audit<'r, R>(row: &'r R) -> Result<super::accounts::AuditRecord>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
    {
        let f = || -> Result<super::accounts::AuditRecord, sqlx::Error> {
            Ok(super::accounts::AuditRecord {
                id: row.try_get(0)?,
                entry: super::accounts::AuditEntry {
                    at: row.try_get(1)?,
                    actor: row.try_get(2)?,
                    role: row.try_get(3)?,
                    action: row.try_get(4)?,
                    record: row.try_get(5)?,
                    request_id: row.try_get(6)?,
                    purpose: row.try_get(7)?,
                },
                prev_hash: row.try_get(8)?,
                hash: row.try_get(9)?,
            })
        };
        f().map_err(db)
    }

    /// A correction request ([`super::accounts::CORRECTION_COLUMNS`]), its sealed parts opened.
    pub fn correction<'r, R>(
        row: &'r R,
        keys: &crate::crypto::Keys,
    ) -> Result<super::accounts::Correction>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        Option<String>: Decode<'r, R::Database> + Type<R::Database>,
        Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
        Option<Vec<u8>>: Decode<'r, R::Database> + Type<R::Database>,
    {
        use super::accounts::correction_column;
        let f = || -> Result<_, sqlx::Error> {
            let value: Vec<u8> = row.try_get(4)?;
            let reason: Vec<u8> = row.try_get(5)?;
            let note: Option<Vec<u8>> = row.try_get(11)?;
            Ok((
                super::accounts::Correction {
                    id: row.try_get(0)?,
                    participant_id: row.try_get(1)?,
                    village_code: row.try_get(2)?,
                    field: row.try_get(3)?,
                    value: String::new(),
                    reason: String::new(),
                    requested_at: row.try_get(6)?,
                    due_at: row.try_get(7)?,
                    status: row.try_get(8)?,
                    decided_at: row.try_get(9)?,
                    decided_by: row.try_get(10)?,
                    note: None,
                },
                value,
                reason,
                note,
            ))
        };
        let (mut c, value, reason, note) = f().map_err(db)?;
        let open = |sealed: &[u8], part: &str| {
            keys.open(
                "corrections",
                c.participant_id,
                &correction_column(&c.field, c.requested_at, part),
                sealed,
            )
        };
        c.value = open(&value, "value")?;
        c.reason = open(&reason, "reason")?;
        c.note = match note {
            Some(n) => Some(open(&n, &format!("note/{}", c.id))?),
            None => None,
        };
        Ok(c)
    }

    /// An heir of `participant`: name, relationship, nik, phone, position.
    pub fn heir<'r, R>(row: &'r R, participant: i64, keys: &crate::crypto::Keys) -> Result<HeirRow>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
        Option<Vec<u8>>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let position: i64 = row.try_get(4).map_err(db)?;
        let open = |sealed: Option<Vec<u8>>, c: &str| -> Result<Option<String>> {
            sealed
                .map(|s| keys.open("heirs", participant, &format!("{position}/{c}"), &s))
                .transpose()
        };
        let name: Vec<u8> = row.try_get(0).map_err(db)?;
        Ok(HeirRow {
            name: open(Some(name), "name")?.unwrap_or_default(),
            relationship: row.try_get(1).map_err(db)?,
            nik: open(row.try_get(2).map_err(db)?, "nik")?,
            phone: open(row.try_get(3).map_err(db)?, "phone")?,
        })
    }
}

/// How both backends store a NIK: as an integer, half the size of text in the unique index and
/// in the same order.
pub fn nik_int(n: Nik) -> i64 {
    // A NIK has 16 digits, far below i64::MAX.
    n.as_u64() as i64
}

/// Whether a statement built for a chunk of `n` rows or values (at most `full`) is kept
/// prepared in its connection's statement cache. Only the full chunk's shape recurs: every
/// other length is a statement of its own, and sqlx keeps up to 100 per connection, each with
/// its compiled program (large for a thousand rows of values). Kept, they grew the registry
/// import's memory on SQLite with the number of batches (docs/benchmarks.md, "National scale").
pub fn keep_prepared(n: usize, full: usize) -> bool {
    n == full
}

/// The KPJ issued for participant sequence number `n`.
pub fn kpj_for(n: i64) -> Result<String> {
    let n = u64::try_from(n).map_err(|_| StoreError::Database(format!("negative sequence {n}")))?;
    cakupan_domain::Kpj::from_sequence(n)
        .map(|k| k.to_string())
        .map_err(|e| StoreError::Database(format!("participant sequence {n}: {e}")))
}

#[cfg(test)]
mod range_tests {
    #![allow(clippy::unwrap_used)]
    use super::subtree_range;
    use cakupan_domain::{Level, RegionCode};

    #[test]
    fn a_subtree_is_a_range_of_codes() {
        let c = |s: &str| RegionCode::parse(s).unwrap();
        let inside = |within: &str, level: Level, code: &str| {
            let (lo, hi) = subtree_range(c(within), level);
            lo.as_str() <= code && code < hi.as_str()
        };
        assert!(inside("32.73", Level::District, "32.73.01"));
        assert!(inside("32.73", Level::Village, "32.73.01.1001"));
        assert!(!inside("32.73", Level::District, "32.74.01"));
        assert!(!inside("32.07", Level::District, "32.73.01"));
        assert!(inside("33", Level::Province, "33"));
        assert!(!inside("33", Level::Province, "34"));
        assert!(!inside("33", Level::Province, "32"));
        let (lo, hi) = subtree_range(RegionCode::NATION, Level::Province);
        assert!(lo.as_str() <= "96" && "96" < hi.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cakupan_domain::participants::{Context, RegistrationInput, validate};
    use cakupan_domain::{RegionTree, RuleSet};

    #[test]
    fn values_rows_number_every_placeholder() {
        assert_eq!(values_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_rows(0, 3), "");
    }

    fn reg(nik: &str, name: &str) -> Registration {
        let tree = RegionTree::from_csv(cakupan_domain::region::RegionSources {
            provinces: "code,name\n32,Jawa Barat\n",
            regencies: "code,province_code,name,kind\n32.73,32,Kota Bandung,kota\n",
            districts: "code,regency_code,name\n32.73.01,32.73,Sukasari\n",
            villages: "code,district_code,name,kind\n32.73.01.1001,32.73.01,Sukarasa,kelurahan\n",
        })
        .unwrap();
        let rules = RuleSet::builtin().unwrap();
        let input = RegistrationInput {
            nik: nik.into(),
            name: name.into(),
            birth_date: "1990-03-12".into(),
            sex: "P".into(),
            village_code: "32.73.01.1001".into(),
            segment: "BPU".into(),
            occupation_code: "84".into(),
            income_base: "1000000".into(),
            programs: "JKK+JKM".into(),
            registered_on: "2026-05-04".into(),
            channel: "self".into(),
            ..Default::default()
        };
        let ctx = Context {
            regions: &tree,
            rules: &rules,
            today: time::macros::date!(2026 - 11 - 23),
        };
        validate(&ctx, &input).unwrap().0
    }

    #[test]
    fn first_occurrence_is_inserted_and_repeats_follow_it() {
        let a = reg("3273015203900003", "Siti Aminah");
        let a_other = reg("3273015203900003", "Siti Lain");
        let b = reg("3273015203900004", "Siti Aminah");
        let batch = vec![a.clone(), b, a.clone(), a_other];
        let (mut outcomes, insert) = plan_batch(&batch);
        assert_eq!(insert, vec![0, 1]);
        outcomes[0] = Some(Outcome::Created {
            id: 7,
            kpj: "k7".into(),
        });
        outcomes[1] = Some(Outcome::Created {
            id: 8,
            kpj: "k8".into(),
        });
        resolve_duplicates(&batch, &mut outcomes);
        assert_eq!(
            outcomes[2],
            Some(Outcome::Existing {
                id: 7,
                kpj: "k7".into()
            })
        );
        assert_eq!(
            outcomes[3],
            Some(Outcome::Conflict {
                kpj: "k7".into(),
                segment: Segment::Bpu
            })
        );
    }

    /// The bulk load compares two rows of a NIK and segment by their digests: equal exactly
    /// when `same_registration` says so, each compared fact changed in turn, and equal when
    /// only what it leaves out differs.
    #[test]
    fn the_registration_digest_is_same_registration() {
        let keys = crypto::Keys::for_tests();
        let a = reg("3273015203900003", "Siti Aminah");
        let changes: [fn(&mut Registration); 12] = [
            |r| r.nik = Nik::parse("3273015203900004").unwrap(),
            |r| r.name = "Siti Lain".into(),
            |r| r.birth_date = time::macros::date!(1990 - 03 - 13),
            |r| r.sex = cakupan_domain::Sex::L,
            |r| r.phone = Some("+6281234567890".into()),
            |r| r.segment = Segment::Pu,
            |r| r.occupation_code = "85".into(),
            |r| r.income_base = cakupan_domain::Rupiah(1_000_001),
            |r| r.registered_on = time::macros::date!(2026 - 05 - 05),
            |r| r.agent_code = Some("AG-1".into()),
            |r| r.address = Some("Jl. Melati 4".into()),
            |r| r.address = Some(String::new()),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut b = a.clone();
            change(&mut b);
            assert!(!a.same_registration(&b), "change {i}");
            assert_ne!(
                keys.registration_digest(&a),
                keys.registration_digest(&b),
                "change {i}"
            );
        }
        let mut same = a.clone();
        same.review_flags = vec!["nik.birth_date".into()];
        same.heirs.clear();
        assert!(a.same_registration(&same));
        assert_eq!(
            keys.registration_digest(&a),
            keys.registration_digest(&same)
        );
    }

    #[test]
    fn settle_compares_with_what_is_stored() {
        let a = reg("3273015203900003", "Siti Aminah");
        let stored = (3, "k3".to_string(), a.clone());
        assert_eq!(
            settle(&a, Some(&stored)).unwrap(),
            Outcome::Existing {
                id: 3,
                kpj: "k3".into()
            }
        );
        let other = reg("3273015203900003", "Siti Lain");
        assert_eq!(
            settle(&other, Some(&stored)).unwrap(),
            Outcome::Conflict {
                kpj: "k3".into(),
                segment: Segment::Bpu
            }
        );
        assert!(settle(&a, None).is_err());
    }
}

/// The stored counters' counting fingerprint, in `meta` (both backends).
pub const COUNTERS_FINGERPRINT_SQL: &str = "SELECT value FROM meta WHERE key = 'counters_rules'";
/// Records the counting fingerprint, in the rebuild's own transaction (both backends).
pub const SET_COUNTERS_FINGERPRINT_SQL: &str = "INSERT INTO meta (key, value) VALUES ('counters_rules', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// The targets of one level inside a subtree (both backends; `$1`, `$2` from
/// [`subtree_range`], `$3` the level's code length from [`code_length`]).
pub const TARGETS_WITHIN_SQL: &str =
    "SELECT metric, segment, region, month, value, baseline_month, baseline_value, basis, source
     FROM targets WHERE region >= $1 AND region < $2 AND length(region) = $3
     ORDER BY metric, segment, region, month";

/// The targets of one level in the whole nation (`$1` the level's code length): by the
/// `targets_by_level` index (a range over every region would read every stored target).
pub const TARGETS_AT_LEVEL_SQL: &str =
    "SELECT metric, segment, region, month, value, baseline_month, baseline_value, basis, source
     FROM targets WHERE length(region) = $1
     ORDER BY metric, segment, region, month";

/// The length of a region code of `level` as written (`32.73.01.1001`: 13).
pub fn code_length(level: Level) -> i32 {
    match level {
        Level::Nation => 0,
        Level::Province => 2,
        Level::Regency => 5,
        Level::District => 8,
        Level::Village => 13,
    }
}

/// Sets an office's target (both backends).
pub const SET_OFFICE_TARGET_SQL: &str = "INSERT INTO office_targets (office_code, from_month, acquisitions, set_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (office_code, from_month) DO UPDATE SET acquisitions = excluded.acquisitions, set_by = excluded.set_by";
/// An office's targets, oldest first (both backends).
pub const OFFICE_TARGETS_SQL: &str = "SELECT from_month, acquisitions FROM office_targets WHERE office_code = $1 ORDER BY from_month";
/// Ends an office's agreement (both backends; `$2` the last day, YYYY-MM-DD).
pub const END_OFFICE_SQL: &str = "UPDATE offices SET agreement_to = $2 WHERE code = $1 AND (agreement_to IS NULL OR agreement_to > $2)";
/// Ends the appointments of an office's agents (both backends).
pub const TERMINATE_OFFICE_AGENTS_SQL: &str =
    "INSERT INTO agent_events (agent_code, month, kind, reason, recorded_by, recorded_at)
     SELECT code, $2, 'terminated', $3, $4, $5 FROM agents WHERE office_code = $1
     ON CONFLICT (agent_code, month, kind) DO NOTHING";
/// A `meta` value (both backends).
pub const META_SQL: &str = "SELECT value FROM meta WHERE key = $1";
/// Records a `meta` value unless one is there (both backends).
pub const SET_META_ONCE_SQL: &str =
    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";
