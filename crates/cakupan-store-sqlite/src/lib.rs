//! The embedded SQLite store: one file in WAL mode, the default backend.
//!
//! Writes go through a pool of exactly one connection, so write transactions queue in the
//! process instead of failing with `SQLITE_BUSY`; reads use a separate pool and see the last
//! committed state (WAL lets them run beside the writer).

use cakupan_domain::participants::Registration;
use cakupan_domain::{FieldErrors, Month, RegionCode, RuleSet};
use cakupan_domain::{Level, RegionTree, Segment};
use cakupan_store::accounts::CORRECTION_COLUMNS;
use cakupan_store::crypto::Keys;
use cakupan_store::keep_prepared;
use cakupan_store::ledger::{
    AgentChanges, COUNTER_COLUMNS, CheckedPosting, CounterChanges, CounterValues, LedgerRow,
    NewPosting, PostingOutcome, Series,
};
use cakupan_store::{
    ActiveRow, Outcome, Participant, ParticipantRow, RegionsLoaded, Result, StoreError,
    TargetRecord, kpj_for,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod accounts;
mod agents;
mod campaign;
mod employers;
mod enrolment;
mod ledger;
mod participants;
mod payments;
mod reminders;
mod rights;
mod targets;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Columns of `participants` in the order the code binds and reads them.
/// The participant columns `rows::participant` reads, in its order.
macro_rules! participant_columns {
    () => {
        "id, kpj, nik, segment, name, birth_date, sex, phone, village_code, occupation_code, sector, income_base, programs, registered_on, channel, agent_code, review_flags, dukcapil_status, address, budget_funded"
    };
}
pub(crate) const COLUMNS: &str = participant_columns!();

impl cakupan_store::Dialect for SqliteStore {
    const SELECT_PARTICIPANTS: &'static str =
        concat!("SELECT ", participant_columns!(), " FROM participants");
    // The single writer: nothing else changes the database while a write transaction runs.
    const FOR_UPDATE: &'static str = "";
    type Ids = String;
    type Texts = String;
    type Blobs = String;
    fn ids(values: &[i64]) -> String {
        cakupan_store::json_ids(values)
    }
    fn texts(values: &[&str]) -> String {
        cakupan_store::json_texts(values)
    }
    fn blobs(values: &[Vec<u8>]) -> String {
        cakupan_store::json_hex(values)
    }
    fn one_of(param: u8) -> String {
        format!("IN (SELECT value FROM json_each(${param}))")
    }
    fn one_of_blobs(param: u8) -> String {
        format!("IN (SELECT unhex(value) FROM json_each(${param}))")
    }
    fn each(param: u8) -> String {
        format!("SELECT value FROM json_each(${param})")
    }
    fn date_text(column: &str) -> String {
        column.to_string()
    }
    fn advisory_lock(_class: i32, _key: i64) -> Option<String> {
        None
    }
    fn table_lock(_tables: &str, _mode: &str) -> Option<String> {
        None
    }
    type Day = String;
    fn day(d: time::Date) -> String {
        cakupan_domain::month::format_date(d)
    }
}
/// SQLite allows 32,766 bound parameters per statement; 22 columns × 1,000 rows stays below.
const INSERT_CHUNK: usize = 1_000;
/// Rows per upsert of counters or agent months: their 12 or 9 columns each stay under
/// SQLite's parameter limit.
const UPSERT_CHUNK: usize = 2_000;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    keys: Arc<Keys>,
    /// Registrations and audit appends waiting to be committed together.
    group: cakupan_store::group::GroupCommit,
    /// Channel partners with their credentials opened, for a few seconds.
    partners: cakupan_store::payments::PartnerCache,
    /// Channel payments and X-EXTERNAL-ID claims waiting to be committed together.
    channels: cakupan_store::payments::ChannelCommit,
}

cakupan_store::group_writer_impl!(SqliteStore, writer);

pub(crate) fn db(e: sqlx::Error) -> StoreError {
    StoreError::Sql(Box::new(e))
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db`) and
    /// applies migrations.
    pub async fn open(url: &str, keys: Arc<Keys>) -> Result<SqliteStore> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await
            .map_err(db)?;
        refuse_clear_participants(&writer).await?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        agents::fill_agent_months(&writer).await?;
        // All four readers are opened now, not on demand under load: opening one sets its
        // pragmas, which can meet the writer's lock and fail at once ("database is locked",
        // seen once in 21,000 look-ups under `bench http`) before the busy timeout applies.
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(4)
            // A smaller page cache per reader: four readers must not quadruple the memory.
            .connect_with(opts.read_only(true).pragma("cache_size", "-16384"))
            .await
            .map_err(db)?;
        Ok(SqliteStore {
            writer,
            reader,
            keys,
            group: Default::default(),
            partners: Default::default(),
            channels: Default::default(),
        })
    }
}

use cakupan_store::rows::LEDGER_COLUMNS;

/// Adds counter changes to the stored counters (one statement per `UPSERT_CHUNK` rows).
async fn upsert_counters(tx: &mut Transaction<'_, Sqlite>, changes: &CounterChanges) -> Result<()> {
    let rows = changes.rows();
    for chunk in rows.chunks(UPSERT_CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "INSERT INTO counters (region, level, segment, month, {}) ",
            COUNTER_COLUMNS.join(", ")
        ));
        q.push_values(chunk, |mut b, (region, level, segment, month, v)| {
            b.push_bind(region.as_str())
                .push_bind(i64::from(*level))
                .push_bind(segment.as_str())
                .push_bind(i64::from(*month));
            for x in v {
                b.push_bind(*x);
            }
        });
        let sets: Vec<String> = COUNTER_COLUMNS
            .iter()
            .map(|c| format!("{c} = {c} + excluded.{c}"))
            .collect();
        q.push(format!(
            " ON CONFLICT (region, segment, month) DO UPDATE SET {}",
            sets.join(", ")
        ));
        q.build()
            .persistent(keep_prepared(chunk.len(), UPSERT_CHUNK))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// A posting to insert: participant id, kind, the checked posting and its body.
type PostingInsert<'a> = (i64, &'a str, &'a CheckedPosting, &'a str);

/// Inserts many postings with ids assigned here (the single writer makes `MAX(id) + 1` safe),
/// `INSERT_CHUNK` rows per statement.
async fn insert_postings(
    tx: &mut Transaction<'_, Sqlite>,
    rows: &[PostingInsert<'_>],
) -> Result<Vec<i64>> {
    let first: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM postings")
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?;
    let ids: Vec<i64> = (0..rows.len() as i64).map(|k| first + k).collect();
    for (chunk, chunk_ids) in rows.chunks(INSERT_CHUNK).zip(ids.chunks(INSERT_CHUNK)) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO postings (id, reference, kind, participant_id, first_month, months, amount, channel, paid_month, paid_on, target_reference, reason, body, collected_by) ",
        );
        q.push_values(
            chunk.iter().zip(chunk_ids),
            |mut b, ((pid, kind, check, body), id)| {
                b.push_bind(*id)
                    .push_bind(check.row.reference.as_str())
                    .push_bind(*kind)
                    .push_bind(*pid)
                    .push_bind(check.row.first_month)
                    .push_bind(check.row.months)
                    .push_bind(check.row.amount)
                    .push_bind(check.channel.as_deref())
                    .push_bind(check.row.paid_month)
                    .push_bind(check.paid_on.as_deref())
                    .push_bind(check.row.target_reference.as_deref())
                    .push_bind(check.reason.as_deref())
                    .push_bind(*body)
                    .push_bind(check.row.collected_by.as_deref());
            },
        );
        q.build()
            .persistent(keep_prepared(chunk.len(), INSERT_CHUNK))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(ids)
}

/// What the store's own facts need of this database.
impl SqliteStore {
    async fn after_bulk_load_own(&self, _loaded: u64) -> Result<()> {
        // Statistics for the tables whose indexes changed enough to matter (SQLite decides,
        // whatever was loaded), each analysed over a bounded sample.
        sqlx::raw_sql("PRAGMA analysis_limit = 1000; PRAGMA optimize;")
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn size_bytes_own(&self) -> Result<u64> {
        // Checkpoint first so that the WAL's pages are counted in the main file.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await
            .map_err(db)?;
        let n: i64 = sqlx::query_scalar(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(&self.writer)
        .await
        .map_err(db)?;
        Ok(n as u64)
    }
}

/// Adds agent-month changes to the stored rows.
async fn upsert_agent_months(
    tx: &mut Transaction<'_, Sqlite>,
    changes: &AgentChanges,
) -> Result<()> {
    let rows = changes.rows();
    let cols = cakupan_domain::agents::AGENT_COLUMNS;
    for chunk in rows.chunks(UPSERT_CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "INSERT INTO agent_months (agent_code, month, {}) ",
            cols.join(", ")
        ));
        q.push_values(chunk, |mut b, (agent, month, v)| {
            b.push_bind(agent.as_str()).push_bind(i64::from(*month));
            for x in v {
                b.push_bind(*x);
            }
        });
        let sets: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} = {c} + excluded.{c}"))
            .collect();
        q.push(format!(
            " ON CONFLICT (agent_code, month) DO UPDATE SET {}",
            sets.join(", ")
        ));
        q.build()
            .persistent(keep_prepared(chunk.len(), UPSERT_CHUNK))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

// Every counter recomputed from participants and postings alone, on one connection (a
// reader's, or the writer's transaction when rebuilding).
cakupan_store::recompute_on_impl!(
    conn: SqliteConnection,
    row: sqlx::sqlite::SqliteRow,
    ledger_row: cakupan_store::rows::ledger,
    registered: "registered_on",
    p1: "?1",
    p2: "?2"
);

impl SqliteStore {
    /// Inserts the registrations `insert` (indexes into `regs`) under ids taken from the
    /// participant sequence, `INSERT_CHUNK` rows per statement: each index with its id, and
    /// the ids the unique key let in (the others were stored already).
    pub(crate) async fn insert_participations_own(
        tx: &mut Transaction<'_, Sqlite>,
        keys: &Keys,
        regs: &[Registration],
        insert: &[usize],
    ) -> Result<(Vec<(usize, i64)>, HashSet<i64>)> {
        if insert.is_empty() {
            return Ok(Default::default());
        }
        let first: i64 = sqlx::query_scalar(
            "UPDATE sequences SET next_value = next_value + ?1 WHERE name = 'participant' RETURNING next_value - ?1",
        )
        .bind(insert.len() as i64)
        .fetch_one(&mut **tx)
        .await
        .map_err(db)?;
        let mut rows = Vec::with_capacity(insert.len());
        for (k, &i) in insert.iter().enumerate() {
            let id = first + k as i64;
            let row = ParticipantRow::from_registration(id, kpj_for(id)?, &regs[i]);
            let sealed = row.seal(keys)?;
            rows.push((i, row, sealed));
        }
        let mut inserted = HashSet::with_capacity(rows.len());
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "INSERT INTO participants ({COLUMNS}, nik_index, phone_index, key_version) "
            ));
            // Bound by reference: the rows outlive the statement, so nothing is copied twice.
            q.push_values(chunk, |mut b, (_, r, sealed)| {
                b.push_bind(r.id)
                    .push_bind(r.kpj.as_str())
                    .push_bind(sealed.nik.as_slice())
                    .push_bind(r.segment.as_str())
                    .push_bind(sealed.name.as_slice())
                    .push_bind(sealed.birth_date.as_slice())
                    .push_bind(r.sex.as_str())
                    .push_bind(sealed.phone.as_deref())
                    .push_bind(r.village_code.as_str())
                    .push_bind(r.occupation_code.as_str())
                    .push_bind(r.sector.as_str())
                    .push_bind(sealed.income_base.as_slice())
                    .push_bind(r.programs.as_str())
                    .push_bind(r.registered_on.as_str())
                    .push_bind(r.channel.as_str())
                    .push_bind(r.agent_code.as_deref())
                    .push_bind(r.review_flags.as_str())
                    .push_bind(r.dukcapil_status.as_str())
                    .push_bind(sealed.address.as_deref())
                    .push_bind(r.budget_funded)
                    .push_bind(sealed.nik_index.as_slice())
                    .push_bind(sealed.phone_index.as_deref())
                    .push_bind(sealed.key_version);
            });
            q.push(" ON CONFLICT (nik_index, segment) DO NOTHING RETURNING id");
            let ids: Vec<i64> = q
                .build_query_scalar()
                .persistent(keep_prepared(chunk.len(), INSERT_CHUNK))
                .fetch_all(&mut **tx)
                .await
                .map_err(db)?;
            inserted.extend(ids);
        }
        Ok((rows.iter().map(|(i, r, _)| (*i, r.id)).collect(), inserted))
    }

    /// Nothing to lock: the one writer holds the whole database.
    pub(crate) async fn lock_participants_own(
        _tx: &mut Transaction<'_, Sqlite>,
        _ids: &[i64],
    ) -> Result<()> {
        Ok(())
    }

    /// Nothing to lock: the one writer holds the whole database.
    pub(crate) async fn lock_references_own(
        _tx: &mut Transaction<'_, Sqlite>,
        _refs: &[&str],
    ) -> Result<()> {
        Ok(())
    }

    /// The people a posting batch touches: its NIKs' and those of the participations its
    /// reversals target (nothing to lock: the one writer holds the whole database).
    pub(crate) async fn people_of_batch_own(
        tx: &mut Transaction<'_, Sqlite>,
        niks: &[Vec<u8>],
        target_ids: &[i64],
    ) -> Result<Vec<Vec<u8>>> {
        let mut people = niks.to_vec();
        if !target_ids.is_empty() {
            let targeted: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT nik_index FROM participants WHERE id IN (SELECT value FROM json_each($1))",
            )
            .bind(cakupan_store::json_ids(target_ids))
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
            people.extend(targeted);
        }
        people.sort_unstable();
        people.dedup();
        Ok(people)
    }
}

cakupan_store::store_flows!(SqliteStore, sqlx::Sqlite, read = reader, db_err = db);

cakupan_store::shared_sql_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db,
    backend = "sqlite"
);
