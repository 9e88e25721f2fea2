//! The PostgreSQL store.
//!
//! Same contract as the SQLite store. Batches insert with one `INSERT … SELECT FROM UNNEST`
//! per chunk (arrays bound as parameters, so one round trip per chunk), and repeated or
//! concurrent registrations of the same NIK are settled by the unique key: `ON CONFLICT DO
//! NOTHING`, then the rows it turned away are compared with what is stored.

use cakupan_domain::participants::Registration;
use cakupan_domain::{FieldErrors, Month, RegionCode, RuleSet};
use cakupan_domain::{Level, RegionTree, Segment};
use cakupan_store::accounts::CORRECTION_COLUMNS;
use cakupan_store::crypto::Keys;
use cakupan_store::ledger::{
    COUNTER_COLUMNS, COUNTERS, CheckedPosting, CounterChanges, CounterValues, LedgerRow,
    NewPosting, PostingOutcome, Series,
};
use cakupan_store::{
    ActiveRow, Outcome, Participant, RegionsLoaded, Result, StoreError, TargetRecord, kpj_for,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod accounts;
mod agents;
mod campaign;
pub mod citus;
mod copy;
mod employers;
mod enrolment;
mod ledger;
mod participants;
mod payments;
mod reminders;
mod rights;
mod targets;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub(crate) const SELECT: &str = "SELECT id, kpj, nik, segment, name, birth_date, sex, phone, village_code, occupation_code, sector, income_base, programs, to_char(registered_on, 'YYYY-MM-DD'), channel, agent_code, review_flags, dukcapil_status, address, budget_funded FROM participants";

impl cakupan_store::Dialect for PgStore {
    const SELECT_PARTICIPANTS: &'static str = SELECT;
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    type Ids = Vec<i64>;
    type Texts = Vec<String>;
    type Blobs = Vec<Vec<u8>>;
    fn ids(values: &[i64]) -> Vec<i64> {
        values.to_vec()
    }
    fn texts(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }
    fn blobs(values: &[Vec<u8>]) -> Vec<Vec<u8>> {
        values.to_vec()
    }
    fn one_of(param: u8) -> String {
        format!("= ANY(${param})")
    }
    fn one_of_blobs(param: u8) -> String {
        format!("= ANY(${param})")
    }
    fn each(param: u8) -> String {
        format!("SELECT unnest(${param}) AS value")
    }
    fn date_text(column: &str) -> String {
        format!("to_char({column}, 'YYYY-MM-DD')")
    }
    fn advisory_lock(class: i32, key: i64) -> Option<String> {
        Some(format!("SELECT pg_advisory_xact_lock({class}, {key})"))
    }
    fn table_lock(tables: &str, mode: &str) -> Option<String> {
        Some(format!("LOCK TABLE {tables} IN {mode} MODE"))
    }
    type Day = time::Date;
    fn day(d: time::Date) -> time::Date {
        d
    }
}
const CHUNK: usize = 5_000;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    keys: Arc<Keys>,
    /// Registrations and audit appends waiting to be committed together.
    group: cakupan_store::group::GroupCommit,
    /// Channel partners with their credentials opened, for a few seconds.
    partners: cakupan_store::payments::PartnerCache,
    /// Channel payments and X-EXTERNAL-ID claims waiting to be committed together.
    channels: cakupan_store::payments::ChannelCommit,
}

cakupan_store::group_writer_impl!(PgStore, pool);

pub(crate) fn db(e: sqlx::Error) -> StoreError {
    StoreError::Sql(Box::new(e))
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and applies migrations.
    /// `max_connections` sizes the pool (see docs/operations.md).
    pub async fn open(url: &str, max_connections: u32, keys: Arc<Keys>) -> Result<PgStore> {
        // On a Citus coordinator (issue #23): multi-shard writes one shard after another, so a
        // transaction may write a reference table after them (the cluster refuses that after a
        // parallel one); joins on a column other than the distribution column repartitioned
        // rather than refused. On a single server these are placeholders nothing reads.
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(e.to_string()))?
            .options([
                ("citus.multi_shard_modify_mode", "sequential"),
                ("citus.enable_repartition_joins", "on"),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await
            .map_err(db)?;
        refuse_clear_participants(&pool).await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let citus: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
        )
        .fetch_one(&pool)
        .await
        .map_err(db)?;
        if citus {
            ON_CITUS.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        agents::fill_agent_months(&pool).await?;
        Ok(PgStore {
            pool,
            keys,
            group: Default::default(),
            partners: Default::default(),
            channels: Default::default(),
        })
    }
}

use cakupan_store::rows::LEDGER_COLUMNS;

/// Adds counter changes to the stored counters with one `UNNEST` upsert.
async fn upsert_counters(
    tx: &mut Transaction<'_, Postgres>,
    changes: &CounterChanges,
) -> Result<()> {
    let rows = changes.rows();
    if rows.is_empty() {
        return Ok(());
    }
    let regions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let levels: Vec<i16> = rows.iter().map(|r| r.1).collect();
    let segments: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    let months: Vec<i32> = rows.iter().map(|r| r.3).collect();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO counters (region, level, segment, month, {cols})
         SELECT * FROM UNNEST($1::text[], $2::smallint[], $3::text[], $4::int[], {arrays})
           AS c ORDER BY 1, 3, 4
         ON CONFLICT (region, segment, month) DO UPDATE SET {sets}",
        cols = COUNTER_COLUMNS.join(", "),
        arrays = (5..5 + COUNTERS)
            .map(|i| format!("${i}::bigint[]"))
            .collect::<Vec<_>>()
            .join(", "),
        sets = COUNTER_COLUMNS
            .iter()
            .map(|c| format!("{c} = counters.{c} + excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    )))
    .bind(regions)
    .bind(levels)
    .bind(segments)
    .bind(months);
    for col in 0..COUNTERS {
        let v: Vec<i64> = rows.iter().map(|r| r.4[col]).collect();
        q = q.bind(v);
    }
    q.execute(&mut **tx).await.map_err(db)?;
    Ok(())
}

/// A posting to insert: participant id, kind, the checked posting and its body.
type PostingInsert<'a> = (i64, &'a str, &'a CheckedPosting, &'a str);

/// Inserts many postings with one `UNNEST` statement, ids drawn from the identity sequence.
async fn insert_postings(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[PostingInsert<'_>],
) -> Result<Vec<i64>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('postings', 'id')) FROM generate_series(1, $1)",
    )
    .bind(rows.len() as i64)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let reference: Vec<&str> = rows.iter().map(|r| r.2.row.reference.as_str()).collect();
    let kind: Vec<&str> = rows.iter().map(|r| r.1).collect();
    let pid: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let first: Vec<Option<i32>> = rows.iter().map(|r| r.2.row.first_month).collect();
    let months: Vec<Option<i32>> = rows.iter().map(|r| r.2.row.months).collect();
    let amount: Vec<Option<i64>> = rows.iter().map(|r| r.2.row.amount).collect();
    let paid_month: Vec<Option<i32>> = rows.iter().map(|r| r.2.row.paid_month).collect();
    let paid_on: Vec<Option<time::Date>> = rows
        .iter()
        .map(|r| {
            r.2.paid_on
                .as_deref()
                .and_then(cakupan_domain::month::parse_date)
        })
        .collect();
    let body: Vec<&str> = rows.iter().map(|r| r.3).collect();
    // Each posting carries its person's key (migration 0012), taken from the participation,
    // and claims its reference across people (migration 0014) in the next statement: one
    // statement with `RETURNING` feeding the claim is what a Citus cluster cannot run (13.2
    // deparses it for the workers without its FROM).
    let inserted = sqlx::query(
        "INSERT INTO postings (id, reference, kind, participant_id, first_month, months, amount, channel, paid_month, paid_on, target_reference, reason, body, collected_by, nik_index)
           OVERRIDING SYSTEM VALUE
           SELECT u.*, p.nik_index
           FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::int[], $7::bigint[], $8::text[], $9::int[], $10::date[], $11::text[], $12::text[], $13::text[], $14::text[])
                AS u (id, reference, kind, participant_id, first_month, months, amount, channel, paid_month, paid_on, target_reference, reason, body, collected_by)
           JOIN participants p ON p.id = u.participant_id",
    )
    .bind(&ids)
    .bind(reference)
    .bind(kind)
    .bind(pid)
    .bind(first)
    .bind(months)
    .bind(amount)
    .bind(rows.iter().map(|r| r.2.channel.clone()).collect::<Vec<_>>())
    .bind(paid_month)
    .bind(paid_on)
    .bind(rows.iter().map(|r| r.2.row.target_reference.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.2.reason.clone()).collect::<Vec<_>>())
    .bind(body)
    .bind(
        rows.iter()
            .map(|r| r.2.row.collected_by.clone())
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await
    .map_err(db)?
    .rows_affected();
    if inserted != ids.len() as u64 {
        return Err(StoreError::Database(format!(
            "{} of {} postings found no participation to belong to",
            ids.len() as u64 - inserted,
            ids.len()
        )));
    }
    sqlx::query(
        "INSERT INTO posting_references (reference, nik_index)
         SELECT u.reference, p.nik_index
         FROM UNNEST($1::text[], $2::bigint[]) AS u (reference, participant_id)
         JOIN participants p ON p.id = u.participant_id",
    )
    .bind(
        rows.iter()
            .map(|r| r.2.row.reference.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(ids)
}

/// What the store's own facts need of this database.
impl PgStore {
    async fn after_bulk_load_own(&self, loaded: u64) -> Result<()> {
        // Statistics for the planner, and the visibility map that lets the reports' covering
        // index answer without visiting the heap; autovacuum may be off, and is not relied on.
        // The claim tables (migration 0014) grow with the participations and postings.
        // Only when the rows changed since the last analysis are enough to change the
        // statistics, by the rule autovacuum itself applies (whether or not it is on): at least
        // the server's `autovacuum_analyze_scale_factor` (0.1 unless configured) of the rows the
        // registry and the ledger are estimated to hold. The changes counted are the server's
        // (several small loads add up) or this load's, whichever is more (the server's count of
        // a load just committed may not be in yet). A database never analysed estimates none,
        // so a first load is always followed by it; a one-row import into a large registry no
        // longer waits for a VACUUM of it (issue #23).
        let (estimated, changed, factor): (f64, f64, f64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(GREATEST(c.reltuples, 0)), 0) AS FLOAT8),
                    CAST(COALESCE(SUM(s.n_mod_since_analyze), 0) AS FLOAT8),
                    CAST(current_setting('autovacuum_analyze_scale_factor') AS FLOAT8)
             FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
             WHERE c.oid IN ('participants'::regclass, 'postings'::regclass)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        if changed.max(loaded as f64) >= factor * estimated {
            sqlx::raw_sql(
                "VACUUM (ANALYZE) participants, participant_ids, people, heirs, postings,
                 posting_references, counters, agent_months",
            )
            .execute(&self.pool)
            .await
            .map_err(db)?;
        }
        // The covering index of the counters holds the counts, so no counter update is HOT
        // and, unlike the primary key (whose key columns do not change, so PostgreSQL removes
        // the old versions' entries as it goes), it keeps an entry per dead row version: a bulk
        // load leaves it mostly dead entries (413 MB against 126 MB rebuilt at 1 M
        // participants, beside a 96 MB primary key; the regency report 195 ms against 7 ms).
        // Rebuilt, without blocking writers, only when it has grown past three times the primary
        // key's size, so that a small import into a large registry does not rebuild it. A
        // freshly built one is about twice the key (16.9 against 8.2 MB at 225,667 counter
        // rows, issue #23), so a threshold of two rebuilt every index a bulk load had just
        // built; the bloated one above was 4.3 times.
        let bloated: bool = sqlx::query_scalar(
            "SELECT pg_relation_size('counters_level') > 3 * pg_relation_size('counters_pkey')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        if bloated {
            sqlx::raw_sql("REINDEX INDEX CONCURRENTLY counters_level")
                .execute(&self.pool)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    async fn size_bytes_own(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n as u64)
    }
}

/// Adds agent-month changes to the stored rows with one `UNNEST` upsert.
async fn upsert_agent_months(
    tx: &mut Transaction<'_, Postgres>,
    changes: &cakupan_store::ledger::AgentChanges,
) -> Result<()> {
    let rows = changes.rows();
    if rows.is_empty() {
        return Ok(());
    }
    let cols = cakupan_domain::agents::AGENT_COLUMNS;
    let agents: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let months: Vec<i32> = rows.iter().map(|r| r.1).collect();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO agent_months (agent_code, month, {cols})
         SELECT * FROM UNNEST($1::text[], $2::int[], {arrays})
         ON CONFLICT (agent_code, month) DO UPDATE SET {sets}",
        cols = cols.join(", "),
        arrays = (3..10)
            .map(|i| format!("${i}::bigint[]"))
            .collect::<Vec<_>>()
            .join(", "),
        sets = cols
            .iter()
            .map(|c| format!("{c} = agent_months.{c} + excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    )))
    .bind(agents)
    .bind(months);
    for col in 0..7 {
        let v: Vec<i64> = rows.iter().map(|r| r.2[col]).collect();
        q = q.bind(v);
    }
    q.execute(&mut **tx).await.map_err(db)?;
    Ok(())
}

// Every counter recomputed from participants and postings alone, on one connection.
cakupan_store::recompute_on_impl!(
    conn: PgConnection,
    row: sqlx::postgres::PgRow,
    ledger_row: cakupan_store::rows::ledger,
    registered: "to_char(registered_on, 'YYYY-MM-DD')",
    p1: "$1",
    p2: "$2"
);

/// Column arrays for one UNNEST insert.
#[derive(Default)]
struct Columns {
    id: Vec<i64>,
    kpj: Vec<String>,
    nik: Vec<Vec<u8>>,
    segment: Vec<String>,
    name: Vec<Vec<u8>>,
    birth_date: Vec<Vec<u8>>,
    sex: Vec<String>,
    phone: Vec<Option<Vec<u8>>>,
    village: Vec<String>,
    occupation: Vec<String>,
    sector: Vec<String>,
    income: Vec<Vec<u8>>,
    programs: Vec<String>,
    registered_on: Vec<time::Date>,
    channel: Vec<String>,
    agent: Vec<Option<String>>,
    flags: Vec<String>,
    nik_index: Vec<Vec<u8>>,
    phone_index: Vec<Option<Vec<u8>>>,
    key_version: Vec<i32>,
    address: Vec<Option<Vec<u8>>>,
    budget_funded: Vec<bool>,
}

impl Columns {
    fn push(&mut self, id: i64, kpj: String, r: &Registration, keys: &Keys) -> Result<()> {
        let sealed =
            cakupan_store::ParticipantRow::from_registration(id, kpj.clone(), r).seal(keys)?;
        self.id.push(id);
        self.kpj.push(kpj);
        self.nik.push(sealed.nik);
        self.segment.push(r.segment.to_string());
        self.name.push(sealed.name);
        self.birth_date.push(sealed.birth_date);
        self.sex.push(r.sex.to_string());
        self.phone.push(sealed.phone);
        self.village.push(r.village.to_string());
        self.occupation.push(r.occupation_code.clone());
        self.sector.push(r.sector.as_str().to_string());
        self.income.push(sealed.income_base);
        self.programs.push(r.programmes.to_string());
        self.registered_on.push(r.registered_on);
        self.channel.push(r.channel.to_string());
        self.agent.push(r.agent_code.clone());
        self.flags.push(r.review_flags.join(","));
        self.nik_index.push(sealed.nik_index);
        self.phone_index.push(sealed.phone_index);
        self.key_version.push(sealed.key_version);
        self.address.push(sealed.address);
        self.budget_funded.push(r.budget_funded);
        Ok(())
    }
}

/// `url` with its database name replaced by `name` (query string kept).
pub fn with_database(url: &str, name: &str) -> Result<String> {
    let scheme_end = url
        .find("://")
        .ok_or_else(|| StoreError::Url(format!("no scheme in {url}")))?
        + 3;
    let rest = &url[scheme_end..];
    let (before_query, query) = match rest.find('?') {
        Some(q) => (&rest[..q], &rest[q..]),
        None => (rest, ""),
    };
    let authority = match before_query.find('/') {
        Some(s) => &before_query[..s],
        None => before_query,
    };
    Ok(format!("{}{authority}/{name}{query}", &url[..scheme_end]))
}

/// Creates a new, empty database next to the one `url` names, for a test or benchmark run,
/// and returns its URL. Names are `PREFIX_<pid>_<nanos>_<n>` so that runs never share one.
pub async fn create_throwaway(url: &str, prefix: &str) -> Result<(String, String)> {
    use sqlx::Connection;
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = cakupan_store::clock::now().nanosecond();
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{prefix}_{}_{nanos}_{seq}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(url).await.map_err(db)?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .map_err(db)?;
    admin.close().await.map_err(db)?;
    Ok((with_database(url, &name)?, name))
}

/// Drops a database made by [`create_throwaway`].
pub async fn drop_database(url: &str, name: &str) -> Result<()> {
    use sqlx::Connection;
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::Url(format!(
            "refusing to drop database '{name}'"
        )));
    }
    let mut admin = sqlx::PgConnection::connect(url).await.map_err(db)?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .map_err(db)?;
    admin.close().await.map_err(db)?;
    Ok(())
}

/// The baseline of the bulk load's benchmark (issue #23): `COPY … FROM STDIN (FORMAT csv,
/// HEADER)` of a `participants.csv` into a bare table with its columns as text and the
/// registry's unique key (nik, segment), timed from the first byte sent to the server's answer:
/// what the disk and the server take for these rows with nothing else done. The rows copied
/// and the time; the table is dropped after.
pub async fn copy_baseline(url: &str, file: &std::path::Path) -> Result<(u64, Duration)> {
    use sqlx::Connection;
    use std::io::{BufRead, Read};
    let io = |e: std::io::Error| StoreError::Database(format!("{}: {e}", file.display()));
    let mut header = String::new();
    std::io::BufReader::new(std::fs::File::open(file).map_err(io)?)
        .read_line(&mut header)
        .map_err(io)?;
    let columns: Vec<&str> = header.trim().split(',').collect();
    if !columns.contains(&"nik")
        || !columns.contains(&"segment")
        || columns
            .iter()
            .any(|c| c.is_empty() || !c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return Err(StoreError::Database(format!(
            "{}: not a participants.csv header: {header}",
            file.display()
        )));
    }
    let mut conn = PgConnection::connect(url).await.map_err(db)?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE copy_baseline ({}, UNIQUE (nik, segment))",
        columns
            .iter()
            .map(|c| format!("{c} TEXT"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
    .execute(&mut conn)
    .await
    .map_err(db)?;
    let mut f = std::fs::File::open(file).map_err(io)?;
    let started = std::time::Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY copy_baseline FROM STDIN (FORMAT csv, HEADER true)")
        .await
        .map_err(db)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let got = f.read(&mut buf).map_err(io)?;
        if got == 0 {
            break;
        }
        copy.send(&buf[..got]).await.map_err(db)?;
    }
    let rows = copy.finish().await.map_err(db)?;
    let took = started.elapsed();
    sqlx::raw_sql("DROP TABLE copy_baseline")
        .execute(&mut conn)
        .await
        .map_err(db)?;
    conn.close().await.map_err(db)?;
    Ok((rows, took))
}

impl PgStore {
    /// Inserts the registrations `insert` (indexes into `regs`) under ids from the participant
    /// sequence, one `UNNEST` statement per `CHUNK` rows, each person locked first (in NIK
    /// order: see migration 0003): each index with its id, and the ids the unique key let in
    /// (the others were stored already, or by a concurrent transaction since).
    pub(crate) async fn insert_participations_own(
        tx: &mut Transaction<'_, Postgres>,
        keys: &Keys,
        regs: &[Registration],
        insert: &[usize],
    ) -> Result<(Vec<(usize, i64)>, HashSet<i64>)> {
        if insert.is_empty() {
            return Ok(Default::default());
        }
        let mut batch_niks: Vec<Vec<u8>> = insert
            .iter()
            .map(|&i| keys.nik_index(&regs[i].nik))
            .collect();
        batch_niks.sort_unstable();
        batch_niks.dedup();
        sqlx::query(
            "INSERT INTO people (nik_index) SELECT * FROM UNNEST($1::bytea[])
             ON CONFLICT (nik_index) DO UPDATE SET nik_index = EXCLUDED.nik_index",
        )
        .bind(&batch_niks)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT nextval('participant_seq') FROM generate_series(1, $1)")
                .bind(insert.len() as i64)
                .fetch_all(&mut **tx)
                .await
                .map_err(db)?;
        let mut inserted = HashSet::with_capacity(ids.len());
        let pairs: Vec<(usize, i64)> = insert.iter().copied().zip(ids).collect();
        for chunk in pairs.chunks(CHUNK) {
            let mut c = Columns::default();
            for &(i, id) in chunk {
                c.push(id, kpj_for(id)?, &regs[i], keys)?;
            }
            // Each new participation claims its id (the route for look-ups by id and KPJ,
            // migration 0014) in the same statement.
            let ids: Vec<i64> = sqlx::query_scalar(
                "WITH inserted AS (
                   INSERT INTO participants (id, kpj, nik, segment, name, birth_date, sex, phone, village_code, occupation_code, sector, income_base, programs, registered_on, channel, agent_code, review_flags, nik_index, phone_index, key_version, address, budget_funded)
                   SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::bytea[], $6::bytea[], $7::text[], $8::bytea[], $9::text[], $10::text[], $11::text[], $12::bytea[], $13::text[], $14::date[], $15::text[], $16::text[], $17::text[], $18::bytea[], $19::bytea[], $20::int[], $21::bytea[], $22::boolean[])
                   ON CONFLICT (nik_index, segment) DO NOTHING
                   RETURNING id, nik_index),
                 claimed AS (INSERT INTO participant_ids (id, nik_index) SELECT id, nik_index FROM inserted)
                 SELECT id FROM inserted",
            )
            .bind(c.id).bind(c.kpj).bind(c.nik).bind(c.segment).bind(c.name).bind(c.birth_date)
            .bind(c.sex).bind(c.phone).bind(c.village).bind(c.occupation).bind(c.sector)
            .bind(c.income).bind(c.programs).bind(c.registered_on).bind(c.channel).bind(c.agent).bind(c.flags)
            .bind(c.nik_index).bind(c.phone_index).bind(c.key_version).bind(c.address).bind(c.budget_funded)
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
            inserted.extend(ids);
        }
        Ok((pairs, inserted))
    }

    /// Locks the people of these participations (migration 0003), in NIK order (no deadlock
    /// with a posting batch, which locks them in the same order); the caller then reads
    /// their ledgers in a new statement.
    pub(crate) async fn lock_participants_own(
        tx: &mut Transaction<'_, Postgres>,
        ids: &[i64],
    ) -> Result<()> {
        // On a cluster, an update that changes nothing (`PEOPLE_OF_BATCH_ON_CITUS_SQL`).
        sqlx::query(if on_citus() {
            "UPDATE people p SET nik_index = p.nik_index
             WHERE p.nik_index = ANY(ARRAY(SELECT nik_index FROM participants WHERE id = ANY($1)))"
        } else {
            "SELECT p.nik_index FROM people p JOIN participants x ON x.nik_index = p.nik_index
             WHERE x.id = ANY($1) ORDER BY p.nik_index FOR UPDATE OF p"
        })
        .bind(ids)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Locks the reference buckets of a posting batch, in order (no deadlock with other
    /// batches), before its references are looked up.
    pub(crate) async fn lock_references_own(
        tx: &mut Transaction<'_, Postgres>,
        refs: &[&str],
    ) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(4242, b) FROM (SELECT DISTINCT hashtext(r) & 255 AS b FROM UNNEST($1::text[]) AS r ORDER BY 1) AS buckets")
            .bind(refs)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Locks every person a posting batch touches (its NIKs' and those of the participations
    /// its reversals target), in NIK order (see migration 0003); the caller then reads their
    /// participations in a new statement, which sees whatever a transaction it waited for
    /// committed.
    pub(crate) async fn people_of_batch_own(
        tx: &mut Transaction<'_, Postgres>,
        niks: &[Vec<u8>],
        target_ids: &[i64],
    ) -> Result<Vec<Vec<u8>>> {
        sqlx::query_scalar(if on_citus() {
            PEOPLE_OF_BATCH_ON_CITUS_SQL
        } else {
            PEOPLE_OF_BATCH_SQL
        })
        .bind(niks)
        .bind(target_ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)
    }
}

/// The people of a posting batch, locked in NIK order: its NIKs' and those of the
/// participations its reversals target, as one array of keys built once (an init plan) and
/// probed in `people_pkey`. An `OR` with a subquery here made the planner read the whole index
/// at every batch (issue #23: 0.43–0.66 s a batch at 1 M people, to lock a dozen; 44 ms against
/// 0.26 ms at 300,000 in docs/benchmarks.md). Public for the test of its plan.
pub const PEOPLE_OF_BATCH_SQL: &str = "SELECT nik_index FROM people
     WHERE nik_index = ANY(ARRAY(
         SELECT k FROM UNNEST($1::bytea[]) AS k
         UNION
         SELECT nik_index FROM participants WHERE id = ANY($2)))
     ORDER BY nik_index FOR UPDATE";

/// The same lock on a Citus coordinator, which refuses `FOR UPDATE` over several shards (issue
/// #23): an update that changes nothing, as the registration's `ON CONFLICT DO UPDATE` is. In
/// sequential multi-shard mode (the store's connections) it takes the shards one after another,
/// each in its index order. On one server the `ORDER BY` above is kept: an update taken
/// through a bitmap scan would lock in heap order, and two batches could deadlock.
pub const PEOPLE_OF_BATCH_ON_CITUS_SQL: &str = "UPDATE people SET nik_index = nik_index
     WHERE nik_index = ANY(ARRAY(
         SELECT k FROM UNNEST($1::bytea[]) AS k
         UNION
         SELECT nik_index FROM participants WHERE id = ANY($2)))
     RETURNING nik_index";

/// Whether the PostgreSQL stores of this process are on a Citus coordinator (the database has
/// the citus extension, seen at open): the people locks take their cluster form.
static ON_CITUS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the people locks take their cluster form (see [`ON_CITUS`]).
pub(crate) fn on_citus() -> bool {
    ON_CITUS.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t2").unwrap(),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://h", "t3").unwrap(),
            "postgresql://h/t3"
        );
        assert!(with_database("no-scheme", "x").is_err());
    }
}

cakupan_store::store_flows!(PgStore, sqlx::Postgres, read = pool, db_err = db);

cakupan_store::shared_sql_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db,
    backend = "postgres"
);
