//! The registry's storage contract: regions, participations (with heirs) and their sealed
//! fields. Its SQL, the same on both sqlx backends, is `participants_sql.rs`.

use crate::Outcome;
use crate::Participant;
use crate::RegionsLoaded;
use crate::Result;
use crate::StoreError;
use crate::accounts;
use cakupan_domain::Level;
use cakupan_domain::Nik;
use cakupan_domain::RegionTree;
use cakupan_domain::RuleSet;
use cakupan_domain::participants::Registration;

/// The rows of a bulk load as they are read: batches of registrations, each with its line.
pub type BulkRows = tokio::sync::mpsc::Receiver<Vec<(u64, Registration)>>;

/// What [`ParticipantStore::register_bulk`] did: how many participations it stored, and the
/// outcome of every row it did not store, by line (`Existing` or `Conflict`), in line order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkRegistered {
    pub created: u64,
    pub repeats: Vec<(u64, Outcome)>,
}

/// Why a bulk load is refused: the field and rule a caller names (`registry`,
/// `bulk.first_load` for a store that holds participations or postings already, `db`,
/// `bulk.postgres` for a store without a bulk path).
pub fn bulk_refusal(participations: u64, postings: u64) -> StoreError {
    StoreError::Rejected(
        cakupan_domain::FieldError::new(
            "registry",
            "bulk.first_load",
            format!(
                "the bulk path loads an empty registry only, and this one holds {participations} participations and {postings} postings; `cakupan import participants FILE` without --bulk adds to it (and stores nothing twice)"
            ),
        )
        .with_args([participations.to_string(), postings.to_string()])
        .into(),
    )
}

/// The refusal of a store without a bulk path (SQLite: one writer, where staging gains
/// nothing measured; docs/benchmarks.md).
pub fn bulk_unsupported(backend: &str) -> StoreError {
    StoreError::Rejected(
        cakupan_domain::FieldError::new(
            "db",
            "bulk.postgres",
            format!(
                "the bulk path runs on PostgreSQL; this store is {backend}: use `cakupan import participants FILE` without --bulk"
            ),
        )
        .with_args([backend.to_string()])
        .into(),
    )
}

/// The registry: regions, participations and their sealed fields.
#[async_trait::async_trait]
pub trait ParticipantStore: crate::Keyed {
    /// Loads the region tree into the store if it is absent or differs from `tree`
    /// (compared by fingerprint), in one transaction.
    async fn ensure_regions(&self, tree: &RegionTree) -> Result<RegionsLoaded>;

    /// Number of stored regions per level.
    async fn region_counts(&self) -> Result<Vec<(Level, u64)>>;

    /// Registers one participant (with heirs). A retry of a stored registration returns
    /// `Existing`; a different participation for the same NIK and segment is
    /// [`crate::StoreError::Conflict`].
    async fn register(&self, rules: &RuleSet, reg: &Registration) -> Result<Outcome> {
        let out = self
            .register_batch(rules, std::slice::from_ref(reg))
            .await?;
        match out.into_iter().next() {
            Some(Outcome::Conflict { kpj, segment }) => Err(StoreError::Conflict { kpj, segment }),
            Some(o) => Ok(o),
            None => Err(StoreError::Database("batch returned no outcome".into())),
        }
    }

    /// Registers many participants in one transaction: one outcome per input, in order.
    /// Within a batch the first occurrence of a NIK and segment wins. The rules price nothing
    /// here; they give the coverage thresholds for the counters of people who already hold
    /// another participation.
    async fn register_batch(&self, rules: &RuleSet, regs: &[Registration]) -> Result<Vec<Outcome>>;
    /// The bulk path of a first load (issue #23): stores every registration `rows` delivers
    /// (each with its line in the file) into an **empty** registry in one transaction, staged
    /// in bulk, merged with set-based statements and counted by one aggregate, as
    /// `register_batch` would have stored them batch after batch: the first row of a NIK and
    /// segment wins and a later one is `Existing` (same details) or `Conflict`. A registry
    /// that holds anything already, or a ledger that does, is refused before anything is
    /// written ([`bulk_refusal`]), so running it twice stores nothing twice. A store without a
    /// bulk path refuses likewise.
    async fn register_bulk(&self, rules: &RuleSet, rows: BulkRows) -> Result<BulkRegistered>;
    /// Registers one participation and, in the same transaction, appends the audit entry
    /// `audit` gives for its outcome (none for a conflict): neither is kept without the other.
    /// A store may commit concurrent registrations together (SQLite does); each still gets its
    /// own outcome.
    async fn register_audited(
        &self,
        rules: &RuleSet,
        reg: &Registration,
        audit: &accounts::RegistrationAudit,
    ) -> Result<Outcome>;

    async fn participant(&self, id: i64) -> Result<Option<Participant>>;
    async fn participant_by_kpj(&self, kpj: &str) -> Result<Option<Participant>>;
    /// The participation a KPJ names, without its heirs: what a payment through a channel
    /// reads (one statement where the whole record takes two).
    async fn payer_by_kpj(&self, kpj: &str) -> Result<Option<Participant>>;
    /// Every participation of a NIK (at most one per segment), ordered by segment.
    async fn participants_by_nik(&self, nik: Nik) -> Result<Vec<Participant>> {
        self.participants_by_index(&self.nik_index(&nik)).await
    }
    /// Every participation of the NIK with this blind index (see [`crate::Keyed::nik_index`]).
    async fn participants_by_index(&self, nik_index: &[u8]) -> Result<Vec<Participant>>;
    async fn count_participants(&self) -> Result<u64>;
    /// Up to `limit` participations in id order after `after_id`, without their heirs (the
    /// columns of `participants.csv`): one bounded page of a streaming export.
    async fn registry_page(&self, after_id: i64, limit: u32) -> Result<Vec<Participant>>;

    /// The participations whose names hold every one of `words` (`participants::name_words`
    /// of what was typed) and whose village lies in `within`, in id order, at most `limit`
    /// (issue #22): read through the blind index of each word (`name_words`), never by
    /// decrypting the registry.
    async fn find_by_name(
        &self,
        words: &[String],
        within: cakupan_domain::RegionCode,
        limit: u32,
    ) -> Result<Vec<Participant>>;
    /// Writes the name words of up to `limit` participations after `after_id` (in id order),
    /// keeping those already there; returns how many participations it read and the last id,
    /// for `cakupan participant reindex-names` to go on from (a database filled before the
    /// index existed, or restored from a dump without it).
    async fn reindex_names(&self, after_id: i64, limit: u32) -> Result<(u64, Option<i64>)>;

    /// Re-encrypts up to `batch` participants (and their heirs) still sealed under an older
    /// key version than the current one, in one transaction; returns how many. `cakupan keys
    /// rotate` calls it until it returns 0, while the service runs.
    async fn reseal(&self, batch: usize) -> Result<u64>;
    /// Participants per key version.
    async fn key_versions(&self) -> Result<Vec<(i64, u64)>>;
}
