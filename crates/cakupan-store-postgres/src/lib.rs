//! The PostgreSQL store.
//!
//! Same contract as the SQLite store. Batches insert with one `INSERT … SELECT FROM UNNEST`
//! per chunk (arrays bound as parameters, so one round trip per chunk), and repeated or
//! concurrent registrations of the same NIK are settled by the unique key: `ON CONFLICT DO
//! NOTHING`, then the rows it turned away are compared with what is stored.

use async_trait::async_trait;
use cakupan_domain::registration::Registration;
use cakupan_domain::{FieldErrors, Month, RegionCode, RuleSet};
use cakupan_domain::{Level, Nik, RegionTree, Segment};
use cakupan_store::accounts::CORRECTION_COLUMNS;
use cakupan_store::crypto::Keys;
use cakupan_store::ledger::{
    BatchState, COUNTER_COLUMNS, COUNTERS, CheckedPosting, CounterChanges, CounterValues,
    LedgerRow, NewPosting, PostingOutcome, Series, resolve_repeats,
};
use cakupan_store::{
    ActiveRow, HeirRow, Outcome, Participant, RegionsLoaded, Result, Store, StoreError,
    TargetRecord, kpj_for, plan_batch, resolve_duplicates, settle,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod campaigns;
mod employers;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub(crate) const SELECT: &str = "SELECT id, kpj, nik, segment, name, birth_date, sex, phone, village_code, occupation_code, sector, income_base, programs, to_char(registered_on, 'YYYY-MM-DD'), channel, agent_code, review_flags, dukcapil_status, address, budget_funded FROM participants";
const CHUNK: usize = 5_000;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    keys: Arc<Keys>,
    /// Registrations and audit appends waiting to be committed together.
    group: cakupan_store::group::GroupCommit,
}

cakupan_store::group_writer_impl!(PgStore, pool);

pub(crate) fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and applies migrations.
    /// `max_connections` sizes the pool (see docs/operations.md).
    pub async fn open(url: &str, max_connections: u32, keys: Arc<Keys>) -> Result<PgStore> {
        let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::Url(e.to_string()))?;
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
        fill_agent_months(&pool).await?;
        Ok(PgStore {
            pool,
            keys,
            group: Default::default(),
        })
    }

    /// Collections (postings with a collecting agent) matching `clause` on `p`, oldest first.
    async fn collection_rows(
        &self,
        clause: &str,
        bind: impl for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
    ) -> Result<Vec<cakupan_store::agents::Collection>> {
        let rows: Vec<cakupan_store::agents::CollectionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT p.id, p.reference, p.participant_id, p.collected_by, p.amount, to_char(p.paid_on, 'YYYY-MM-DD'),
                    p.first_month::bigint, p.months::bigint,
                    (CASE WHEN EXISTS (SELECT 1 FROM postings r WHERE r.kind = 'reversal' AND r.target_reference = p.reference) THEN 1 ELSE 0 END)::bigint
             FROM postings p WHERE {clause} ORDER BY p.id"
        )))
        .bind(bind)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(cakupan_store::agents::Collection::from_row)
            .collect()
    }

    pub(crate) async fn existing(
        tx: &mut Transaction<'_, Postgres>,
        keys: &Keys,
        niks: Vec<Vec<u8>>,
    ) -> Result<HashMap<(Nik, Segment), (i64, String, Registration)>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE nik_index = ANY($1)"
        )))
        .bind(niks)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
        let mut out = HashMap::new();
        for row in rows {
            let p = cakupan_store::rows::participant(&row, keys)?.into_participant(Vec::new())?;
            out.insert(
                (p.registration.nik, p.registration.segment),
                (p.id, p.kpj, p.registration),
            );
        }
        Ok(out)
    }

    /// The overlap correction for registrations just inserted (`new_ids`): only people who
    /// now hold more than one participation have one. Their people rows are locked.
    async fn overlap_of_new(
        tx: &mut Transaction<'_, Postgres>,
        keys: &Keys,
        rules: &RuleSet,
        new_ids: &HashSet<i64>,
        changes: &mut CounterChanges,
    ) -> Result<()> {
        let ids: Vec<i64> = new_ids.iter().copied().collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE nik_index IN (
                 SELECT p.nik_index FROM participants p
                 WHERE p.nik_index IN (SELECT nik_index FROM participants WHERE id = ANY($1))
                 GROUP BY p.nik_index HAVING COUNT(*) > 1)
             ORDER BY nik_index, id"
        )))
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut groups: HashMap<Nik, Vec<Participant>> = HashMap::new();
        for row in rows {
            let p = cakupan_store::rows::participant(&row, keys)?.into_participant(Vec::new())?;
            groups.entry(p.registration.nik).or_default().push(p);
        }
        let mut ledgers: HashMap<i64, Vec<LedgerRow>> = HashMap::new();
        for group in groups.values() {
            for p in group.iter().filter(|p| !new_ids.contains(&p.id)) {
                ledgers.insert(p.id, ledger_rows(tx, p.id).await?);
            }
        }
        for group in groups.values() {
            cakupan_store::ledger::registration_overlap(rules, group, new_ids, &ledgers, changes)?;
        }
        Ok(())
    }

    async fn load(
        &self,
        clause: &'static str,
        bind: impl for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
    ) -> Result<Vec<Participant>> {
        let keys = &self.keys;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} {clause}")))
            .bind(bind)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let pr = cakupan_store::rows::participant(&row, keys)?;
            let heirs = sqlx::query(
                "SELECT name, relationship, nik, phone, position::bigint FROM heirs WHERE participant_id = $1 ORDER BY position",
            )
            .bind(pr.id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|r| cakupan_store::rows::heir(r, pr.id, keys))
            .collect::<Result<Vec<_>>>()?;
            out.push(pr.into_participant(heirs)?);
        }
        Ok(out)
    }
}

const LEDGER_COLUMNS: &str =
    "id, reference, kind, first_month, months, amount, paid_month, target_reference, collected_by";

fn ledger_row(row: &sqlx::postgres::PgRow, from: usize) -> Result<LedgerRow> {
    let f = || -> Result<LedgerRow, sqlx::Error> {
        Ok(LedgerRow {
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

async fn ledger_rows(conn: &mut PgConnection, participant_id: i64) -> Result<Vec<LedgerRow>> {
    let sql =
        format!("SELECT {LEDGER_COLUMNS} FROM postings WHERE participant_id = $1 ORDER BY id");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(participant_id)
        .fetch_all(conn)
        .await
        .map_err(db)?
        .iter()
        .map(|r| ledger_row(r, 0))
        .collect()
}

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
    // and claims its reference across people in the same statement (migration 0014).
    let inserted = sqlx::query(
        "WITH inserted AS (
           INSERT INTO postings (id, reference, kind, participant_id, first_month, months, amount, channel, paid_month, paid_on, target_reference, reason, body, collected_by, nik_index)
           OVERRIDING SYSTEM VALUE
           SELECT u.*, p.nik_index
           FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::int[], $7::bigint[], $8::text[], $9::int[], $10::date[], $11::text[], $12::text[], $13::text[], $14::text[])
                AS u (id, reference, kind, participant_id, first_month, months, amount, channel, paid_month, paid_on, target_reference, reason, body, collected_by)
           JOIN participants p ON p.id = u.participant_id
           RETURNING reference, nik_index)
         INSERT INTO posting_references (reference, nik_index) SELECT reference, nik_index FROM inserted",
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
    Ok(ids)
}

/// Writes every changeable column of a stored participant: its sealed personal fields (under
/// the current key), their indexes and the clear columns a correction may change.
async fn rewrite(
    tx: &mut sqlx::PgConnection,
    r: &cakupan_store::ParticipantRow,
    sealed: &cakupan_store::SealedFields,
) -> Result<()> {
    sqlx::query(
        "UPDATE participants SET nik = $1, name = $2, birth_date = $3, phone = $4, phone_index = $5,
         income_base = $6, address = $7, key_version = $8, village_code = $9, occupation_code = $10,
         sector = $11, review_flags = $12 WHERE id = $13",
    )
    .bind(&sealed.nik)
    .bind(&sealed.name)
    .bind(&sealed.birth_date)
    .bind(&sealed.phone)
    .bind(&sealed.phone_index)
    .bind(&sealed.income_base)
    .bind(&sealed.address)
    .bind(sealed.key_version)
    .bind(&r.village_code)
    .bind(&r.occupation_code)
    .bind(&r.sector)
    .bind(&r.review_flags)
    .bind(r.id)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn health(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db)
    }

    async fn ensure_regions(&self, tree: &RegionTree) -> Result<RegionsLoaded> {
        let fingerprint = tree.fingerprint();
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Serialise concurrent first starts.
        sqlx::query("LOCK TABLE regions IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'regions_fingerprint'")
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if stored.as_deref() == Some(fingerprint.as_str()) {
            tx.rollback().await.map_err(db)?;
            return Ok(RegionsLoaded {
                loaded: false,
                count: tree.len() as u64,
            });
        }
        let regions: Vec<_> = tree.iter().collect();
        for chunk in regions.chunks(20_000) {
            let codes: Vec<String> = chunk.iter().map(|r| r.code.to_string()).collect();
            let parents: Vec<Option<String>> = chunk
                .iter()
                .map(|r| {
                    r.code
                        .parent()
                        .filter(|p| p.level() != Level::Nation)
                        .map(|p| p.to_string())
                })
                .collect();
            let levels: Vec<i16> = chunk
                .iter()
                .map(|r| i16::from(r.code.level().depth()))
                .collect();
            let names: Vec<String> = chunk.iter().map(|r| r.name.clone()).collect();
            let kinds: Vec<String> = chunk.iter().map(|r| r.kind.clone()).collect();
            sqlx::query(
                "INSERT INTO regions (code, parent_code, level, name, kind)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::smallint[], $4::text[], $5::text[])
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind",
            )
            .bind(codes)
            .bind(parents)
            .bind(levels)
            .bind(names)
            .bind(kinds)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ('regions_fingerprint', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(&fingerprint)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(RegionsLoaded {
            loaded: true,
            count: tree.len() as u64,
        })
    }

    async fn region_counts(&self) -> Result<Vec<(Level, u64)>> {
        let rows = sqlx::query(
            "SELECT level::bigint, COUNT(*) FROM regions GROUP BY level ORDER BY level",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(cakupan_store::rows::level_count).collect()
    }

    async fn register_batch(&self, rules: &RuleSet, regs: &[Registration]) -> Result<Vec<Outcome>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let out = register_batch_in(&mut tx, &self.keys, rules, regs).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn register_audited(
        &self,
        rules: &RuleSet,
        reg: &Registration,
        audit: &cakupan_store::accounts::RegistrationAudit,
    ) -> Result<Outcome> {
        // Group commit (cakupan_store::group): concurrent registrations otherwise serialise on
        // the counters of their month (the nation's row and the province's) and on the audit
        // chain's lock, one commit each.
        self.group.register(self, rules, reg, audit).await
    }

    async fn participant(&self, id: i64) -> Result<Option<Participant>> {
        // Through the id's route (migration 0014), so that on a cluster it reads one shard.
        Ok(self
            .load(
                "WHERE id = $1 AND nik_index = (SELECT nik_index FROM participant_ids WHERE id = $1)",
                id,
            )
            .await?
            .into_iter()
            .next())
    }

    async fn participant_by_kpj(&self, kpj: &str) -> Result<Option<Participant>> {
        // A KPJ is its participation's id with a check digit: one that does not parse names
        // nobody, and one that does is read by its id.
        let Ok(k) = cakupan_domain::Kpj::parse(kpj.trim()) else {
            return Ok(None);
        };
        let Ok(id) = i64::try_from(k.sequence()) else {
            return Ok(None);
        };
        Ok(self.participant(id).await?.filter(|p| p.kpj == kpj.trim()))
    }

    async fn participants_by_index(&self, nik_index: &[u8]) -> Result<Vec<Participant>> {
        self.load("WHERE nik_index = $1 ORDER BY segment", nik_index.to_vec())
            .await
    }

    async fn registry_page(&self, after_id: i64, limit: u32) -> Result<Vec<Participant>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                cakupan_store::rows::participant(row, &self.keys)?.into_participant(Vec::new())
            })
            .collect()
    }

    async fn count_participants(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM participants")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n as u64)
    }

    async fn after_bulk_load(&self) -> Result<()> {
        // Statistics for the planner, and the visibility map that lets the reports' covering
        // index answer without visiting the heap; autovacuum may be off, and is not relied on.
        // The claim tables (migration 0014) grow with the participations and postings.
        sqlx::raw_sql(
            "VACUUM (ANALYZE) participants, participant_ids, people, heirs, postings,
             posting_references, counters, agent_months",
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        // The covering index of the counters holds the counts, so no counter update is HOT
        // and, unlike the primary key (whose key columns do not change, so PostgreSQL removes
        // the old versions' entries as it goes), it keeps an entry per dead row version: a bulk
        // load leaves it mostly dead entries (413 MB against 126 MB rebuilt at 1 M
        // participants, beside a 96 MB primary key; the regency report 195 ms against 7 ms).
        // Rebuilt, without blocking writers, only when it has grown past twice the primary
        // key's size, so that a small import into a large registry does not rebuild it.
        let bloated: bool = sqlx::query_scalar(
            "SELECT pg_relation_size('counters_level') > 2 * pg_relation_size('counters_pkey')",
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

    async fn size_bytes(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n as u64)
    }

    async fn post_batch(
        &self,
        rules: &RuleSet,
        postings: &[NewPosting],
    ) -> Result<Vec<std::result::Result<PostingOutcome, FieldErrors>>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let out = post_batch_in(&mut tx, &self.keys, rules, postings).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn ledger(&self, participant_id: i64) -> Result<Vec<LedgerRow>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        ledger_rows(&mut conn, participant_id).await
    }

    async fn counters(&self) -> Result<Vec<(String, i16, Series, i32, CounterValues)>> {
        let sql = format!(
            "SELECT region, level, segment, month, {} FROM counters ORDER BY region, segment, month",
            COUNTER_COLUMNS.join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(cakupan_store::rows::counter).collect()
    }

    async fn active_report(
        &self,
        level: Level,
        within: RegionCode,
        segment: Option<Segment>,
        month: Month,
    ) -> Result<Vec<ActiveRow>> {
        // The regions below `within` as a range of the covering index ("32.73." ≤ code <
        // "32.73/": '/' follows '.'); the column compares bytewise (COLLATE "C", migration 8).
        let (low, high) = cakupan_store::subtree_range(within, level);
        let rows = sqlx::query(
            "SELECT region, SUM(registered)::bigint, SUM(paid_active)::bigint, SUM(status_active)::bigint, SUM(nonactive)::bigint
             FROM counters
             WHERE level = $1 AND region >= $4 AND region < $5
               AND month <= $2 AND ($3::text IS NULL OR segment = $3)
             GROUP BY region ORDER BY region",
        )
        .bind(i16::from(level.depth()))
        .bind(month.index())
        .bind(segment.map(|s| s.as_str()))
        .bind(low)
        .bind(high)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(cakupan_store::rows::active).collect()
    }

    async fn region_history(
        &self,
        region: RegionCode,
        to: Month,
    ) -> Result<Vec<(Series, i32, CounterValues)>> {
        sqlx::query(
            "SELECT region, level, segment, month, registered, paid_active, status_active, nonactive, new, lapsed, reactivated, amount, left_employment
             FROM counters WHERE region = $1 AND month <= $2 ORDER BY month",
        )
        .bind(region.to_string())
        .bind(to.index())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(|r| cakupan_store::rows::counter(r).map(|(_, _, s, m, v)| (s, m, v)))
        .collect()
    }

    async fn recompute(&self, rules: &RuleSet) -> Result<CounterChanges> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        recompute_on(&mut conn, rules).await
    }

    async fn set_targets(&self, targets: &[TargetRecord], replace: bool) -> Result<u64> {
        cakupan_store::check_targets(targets)?;
        let sql = format!(
            "INSERT INTO targets (metric, segment, region, month, value, baseline_month, baseline_value, basis, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (metric, segment, region, month) {}",
            if replace {
                "DO UPDATE SET value = excluded.value, baseline_month = excluded.baseline_month, baseline_value = excluded.baseline_value, basis = excluded.basis, source = excluded.source, set_at = now()"
            } else {
                "DO NOTHING"
            }
        );
        let mut tx = self.pool.begin().await.map_err(db)?;
        let mut written = 0;
        for t in targets {
            written += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(t.metric.as_str())
                .bind(t.segment.map(|s| s.as_str()).unwrap_or(""))
                .bind(t.region.to_string())
                .bind(t.month.index())
                .bind(t.value)
                .bind(t.baseline.map(|b| b.0.index()))
                .bind(t.baseline.map(|b| b.1))
                .bind(t.basis.as_str())
                .bind(t.source.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        }
        tx.commit().await.map_err(db)?;
        Ok(written)
    }

    async fn targets(&self) -> Result<Vec<TargetRecord>> {
        sqlx::query(
            "SELECT metric, segment, region, month, value, baseline_month, baseline_value, basis, source
             FROM targets ORDER BY metric, segment, region, month",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(cakupan_store::rows::target)
        .collect()
    }

    async fn set_office_target(
        &self,
        code: &str,
        from: Month,
        acquisitions: i64,
        set_by: &str,
    ) -> Result<()> {
        self.set_office_target_impl(code, from, acquisitions, set_by)
            .await
    }

    async fn end_office_agreement(
        &self,
        code: &str,
        last_day: time::Date,
        from: Month,
        reason: &str,
        by: &str,
        at: i64,
    ) -> Result<()> {
        self.end_office_agreement_impl(code, last_day, from, reason, by, at)
            .await
    }

    async fn office_targets(&self, code: &str) -> Result<Vec<(Month, i64)>> {
        self.office_targets_impl(code).await
    }

    async fn targets_within(&self, within: RegionCode, level: Level) -> Result<Vec<TargetRecord>> {
        self.targets_within_impl(within, level).await
    }

    async fn participant_of_posting(&self, reference: &str) -> Result<Option<i64>> {
        sqlx::query_scalar("SELECT participant_id FROM postings WHERE reference = $1")
            .bind(reference)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn reseal(&self, batch: usize) -> Result<u64> {
        let current = i32::try_from(self.keys.current_version()).unwrap_or(i32::MAX);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE key_version < $1 ORDER BY id LIMIT $2 FOR UPDATE"
        )))
        .bind(current)
        .bind(i64::try_from(batch).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut n = 0;
        for row in &rows {
            let pr = cakupan_store::rows::participant(row, &self.keys)?;
            rewrite(&mut tx, &pr, &pr.seal(&self.keys)?).await?;
            let heirs = sqlx::query(
                "SELECT name, relationship, nik, phone, position::bigint FROM heirs WHERE participant_id = $1 ORDER BY position",
            )
            .bind(pr.id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            for h in &heirs {
                let position: i64 = h.try_get(4).map_err(db)?;
                let plain = cakupan_store::rows::heir(h, pr.id, &self.keys)?;
                let s = plain.seal(&self.keys, pr.id, usize::try_from(position).unwrap_or(0))?;
                sqlx::query(
                    "UPDATE heirs SET name = $1, nik = $2, phone = $3 WHERE participant_id = $4 AND position = $5",
                )
                .bind(&s.name)
                .bind(&s.nik)
                .bind(&s.phone)
                .bind(pr.id)
                .bind(i32::try_from(position).unwrap_or(0))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            n += 1;
        }
        tx.commit().await.map_err(db)?;
        Ok(n)
    }

    async fn key_versions(&self) -> Result<Vec<(i64, u64)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT key_version::bigint, COUNT(*) FROM participants GROUP BY key_version ORDER BY key_version",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(|(v, n)| (v, n as u64)).collect())
    }

    async fn audit_for(
        &self,
        records: &[String],
    ) -> Result<Vec<cakupan_store::accounts::AuditRecord>> {
        sqlx::query(
            "SELECT id, at, actor, role, action, record, request_id, purpose, prev_hash, hash FROM audit WHERE record = ANY($1) ORDER BY id",
        )
        .bind(records)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(cakupan_store::rows::audit)
        .collect()
    }

    async fn add_consent(
        &self,
        nik_index: &[u8],
        c: &cakupan_store::accounts::Consent,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO consents (nik_index, purpose, notice_version, decision, at, channel) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(nik_index)
        .bind(&c.purpose)
        .bind(&c.notice_version)
        .bind(&c.decision)
        .bind(c.at)
        .bind(&c.channel)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn consents(&self, nik_index: &[u8]) -> Result<Vec<cakupan_store::accounts::Consent>> {
        let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
            "SELECT purpose, notice_version, decision, at, channel FROM consents WHERE nik_index = $1 ORDER BY id",
        )
        .bind(nik_index)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(purpose, notice_version, decision, at, channel)| {
                cakupan_store::accounts::Consent {
                    purpose,
                    notice_version,
                    decision,
                    at,
                    channel,
                }
            })
            .collect())
    }

    async fn add_correction(&self, c: &cakupan_store::accounts::Correction) -> Result<i64> {
        use cakupan_store::accounts::correction_column;
        let value = self.keys.seal(
            "corrections",
            c.participant_id,
            &correction_column(&c.field, c.requested_at, "value"),
            &c.value,
        )?;
        let reason = self.keys.seal(
            "corrections",
            c.participant_id,
            &correction_column(&c.field, c.requested_at, "reason"),
            &c.reason,
        )?;
        sqlx::query_scalar(
            "INSERT INTO corrections (participant_id, village_code, field, value, reason, requested_at, due_at, nik_index)
             SELECT $1, $2, $3, $4, $5, $6, $7, nik_index FROM participants WHERE id = $1 RETURNING id",
        )
        .bind(c.participant_id)
        .bind(&c.village_code)
        .bind(&c.field)
        .bind(value)
        .bind(reason)
        .bind(c.requested_at)
        .bind(c.due_at)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }

    async fn open_corrections(
        &self,
        within: RegionCode,
    ) -> Result<Vec<cakupan_store::accounts::Correction>> {
        let prefix = if within == RegionCode::NATION {
            String::new()
        } else {
            format!("{within}.")
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CORRECTION_COLUMNS} FROM corrections
             WHERE status = 'open' AND ($1 = '' OR village_code = $1 OR starts_with(village_code, $2))
             ORDER BY requested_at, id"
        )))
        .bind(within.to_string())
        .bind(prefix)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(|r| cakupan_store::rows::correction(r, &self.keys))
        .collect()
    }

    async fn correction(&self, id: i64) -> Result<Option<cakupan_store::accounts::Correction>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|r| cakupan_store::rows::correction(&r, &self.keys))
        .transpose()
    }

    async fn corrections_of(
        &self,
        participant_ids: &[i64],
    ) -> Result<Vec<cakupan_store::accounts::Correction>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE participant_id = ANY($1)
             ORDER BY requested_at DESC, id DESC"
        )))
        .bind(participant_ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(|r| cakupan_store::rows::correction(r, &self.keys))
        .collect()
    }

    async fn decide_correction(
        &self,
        rules: &RuleSet,
        d: &cakupan_store::accounts::CorrectionDecision,
    ) -> Result<Option<cakupan_store::accounts::Correction>> {
        use cakupan_store::ledger::{Base, relocation};
        let mut tx = self.pool.begin().await.map_err(db)?;
        // The request first (so two reviewers deciding at once queue here), then the person.
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = $1 FOR UPDATE"
        )))
        .bind(d.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let mut c = cakupan_store::rows::correction(&row, &self.keys)?;
        if c.status != "open" {
            d.settle(&c)?;
            return Ok(Some(c));
        }
        if d.status == "done" {
            // The person's lock (migration 0003): postings and registrations of this NIK wait.
            let index: Vec<u8> = sqlx::query_scalar(
                "SELECT p.nik_index FROM people p JOIN participants x ON x.nik_index = p.nik_index
                 WHERE x.id = $1 FOR UPDATE OF p",
            )
            .bind(c.participant_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let stored = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1")))
                .bind(c.participant_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            let stored = cakupan_store::rows::participant(&stored, &self.keys)?
                .into_participant(Vec::new())?;
            if let Some(r) = d.corrected_for(&stored)? {
                if r.village != stored.registration.village {
                    let mut group = Vec::new();
                    for o in sqlx::query(
                        "SELECT id, segment, village_code, to_char(registered_on, 'YYYY-MM-DD') FROM participants WHERE nik_index = $1 ORDER BY id",
                    )
                    .bind(&index)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?
                    {
                        let b = Base::parse(
                            o.try_get(0).map_err(db)?,
                            &o.try_get::<String, _>(1).map_err(db)?,
                            &o.try_get::<String, _>(2).map_err(db)?,
                            &o.try_get::<String, _>(3).map_err(db)?,
                        )?;
                        group.push((b, ledger_rows(&mut tx, b.id).await?));
                    }
                    let changes = relocation(rules, stored.id, r.village, &group)?;
                    upsert_counters(&mut tx, &changes).await?;
                }
                let row = cakupan_store::ParticipantRow::from_registration(
                    stored.id,
                    stored.kpj.clone(),
                    r,
                );
                rewrite(&mut tx, &row, &row.seal(&self.keys)?).await?;
            }
        }
        let note = cakupan_store::accounts::seal_note(&self.keys, &c, &d.note)?;
        sqlx::query(
            "UPDATE corrections SET status = $1, decided_at = $2, decided_by = $3, note = $4 WHERE id = $5",
        )
        .bind(&d.status)
        .bind(d.decided_at)
        .bind(&d.decided_by)
        .bind(note)
        .bind(c.id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        c.status = d.status.clone();
        c.decided_at = Some(d.decided_at);
        c.decided_by = Some(d.decided_by.clone());
        c.note = Some(d.note.clone());
        Ok(Some(c))
    }

    async fn enrolments_in(
        &self,
        villages: &[RegionCode],
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<cakupan_store::campaigns::Enrolment>> {
        self.enrolments_in_impl(villages, from, to).await
    }
    async fn participation_ids_in(&self, within: RegionCode) -> Result<Vec<(RegionCode, i64)>> {
        self.participation_ids_in_impl(within).await
    }

    async fn add_office(&self, o: &cakupan_store::agents::Office) -> Result<()> {
        cakupan_store::agents::check_office(o)?;
        let done = sqlx::query(
            "INSERT INTO offices (code, name, kind, region, agreement_from, agreement_to)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING",
        )
        .bind(&o.code)
        .bind(o.name.trim())
        .bind(&o.kind)
        .bind(o.region.to_string())
        .bind(cakupan_domain::month::format_date(o.agreement_from))
        .bind(o.agreement_to.map(cakupan_domain::month::format_date))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            let stored = self.office(&o.code).await?;
            let mut want = o.clone();
            want.name = o.name.trim().to_string();
            if stored.as_ref() != Some(&want) {
                return Err(cakupan_store::agents::code_taken("office", &o.code));
            }
        }
        Ok(())
    }

    async fn office(&self, code: &str) -> Result<Option<cakupan_store::agents::Office>> {
        let row: Option<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT code, name, kind, region, agreement_from, agreement_to FROM offices WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|(c, n, k, r, f, t)| {
            cakupan_store::agents::Office::from_text(c, n, k, &r, &f, t.as_deref())
        })
        .transpose()
    }

    async fn offices(&self, within: RegionCode) -> Result<Vec<cakupan_store::agents::Office>> {
        let rows: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT code, name, kind, region, agreement_from, agreement_to FROM offices ORDER BY code",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out = Vec::new();
        for (c, n, k, r, f, t) in rows {
            let o = cakupan_store::agents::Office::from_text(c, n, k, &r, &f, t.as_deref())?;
            if within.contains(o.region) {
                out.push(o);
            }
        }
        Ok(out)
    }

    async fn add_agent(&self, a: &cakupan_store::agents::Agent) -> Result<()> {
        if !cakupan_store::agents::valid_code(&a.code) {
            return Err(StoreError::Rejected(
                cakupan_domain::FieldError::new(
                    "code",
                    "code.format",
                    "code must be 3 to 32 capital letters, digits or '-'",
                )
                .into(),
            ));
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        // One agent registration at a time: a code or a participation is claimed once.
        sqlx::query("SELECT pg_advisory_xact_lock(4245, 0)")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let existing: Option<(String, i64, String, i32)> = sqlx::query_as(
            "SELECT office_code, participant_id, home_village, appointed FROM agents WHERE code = $1",
        )
        .bind(&a.code)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if let Some((office, pid, home, appointed)) = existing {
            let villages: Vec<String> = sqlx::query_scalar(
                "SELECT village_code FROM agent_villages WHERE agent_code = $1 ORDER BY village_code",
            )
            .bind(&a.code)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
            let mut want: Vec<String> = a.villages.iter().map(|v| v.to_string()).collect();
            want.sort();
            let same = office == a.office_code
                && pid == a.participant_id
                && home == a.home_village.to_string()
                && appointed == a.appointed.index()
                && villages == want;
            return if same {
                Ok(())
            } else {
                Err(cakupan_store::agents::code_taken("agent", &a.code))
            };
        }
        let (office, segment, other): (bool, Option<String>, Option<String>) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM offices WHERE code = $1),
                    (SELECT segment FROM participants WHERE id = $2),
                    (SELECT code FROM agents WHERE participant_id = $2)",
        )
        .bind(&a.office_code)
        .bind(a.participant_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        cakupan_store::agents::check_agent(a, office, segment.as_deref(), other.as_deref())?;
        sqlx::query(
            "INSERT INTO agents (code, office_code, participant_id, home_village, appointed) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&a.code)
        .bind(&a.office_code)
        .bind(a.participant_id)
        .bind(a.home_village.to_string())
        .bind(a.appointed.index())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for v in &a.villages {
            sqlx::query("INSERT INTO agent_villages (agent_code, village_code) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(&a.code)
                .bind(v.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn agent_records(
        &self,
        filter: cakupan_store::agents::AgentFilter<'_>,
    ) -> Result<Vec<cakupan_store::agents::AgentRecord>> {
        use cakupan_store::agents::AgentFilter;
        let (clause, bind_a, bind_b) = match filter {
            AgentFilter::Code(c) => ("a.code = $1 AND $2 = ''", c.to_string(), String::new()),
            AgentFilter::Office(o) => (
                "a.office_code = $1 AND $2 = ''",
                o.to_string(),
                String::new(),
            ),
            AgentFilter::Within(r) => {
                let (lo, hi) = cakupan_store::subtree_range(r, cakupan_domain::Level::Village);
                ("a.home_village >= $1 AND a.home_village < $2", lo, hi)
            }
        };
        // Four reads whatever the number of agents: the agents, their villages, their events
        // and their months, each filtered the same way.
        let rows: Vec<(String, String, i64, String, i32)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT a.code, a.office_code, a.participant_id, a.home_village, a.appointed FROM agents a WHERE {clause} ORDER BY a.code"
        )))
        .bind(&bind_a)
        .bind(&bind_b)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let villages: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT v.agent_code, v.village_code FROM agent_villages v JOIN agents a ON a.code = v.agent_code WHERE {clause} ORDER BY v.agent_code, v.village_code"
        )))
        .bind(&bind_a)
        .bind(&bind_b)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let events: Vec<(String, i32, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT e.agent_code, e.month, e.kind, e.reason FROM agent_events e JOIN agents a ON a.code = e.agent_code WHERE {clause} ORDER BY e.agent_code, e.month, e.kind"
        )))
        .bind(&bind_a)
        .bind(&bind_b)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let months: Vec<(String, i32, i64, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT m.agent_code, m.month, m.acquisitions, m.acquisitions_3, m.fee_base, m.fee_reversed, m.collections, m.collected, m.collected_reversed
             FROM agent_months m JOIN agents a ON a.code = m.agent_code WHERE {clause} ORDER BY m.agent_code, m.month"
        )))
        .bind(&bind_a)
        .bind(&bind_b)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        cakupan_store::agents::assemble(
            rows.into_iter()
                .map(|(c, o, p, h, ap)| (c, o, p, h, i64::from(ap)))
                .collect(),
            villages,
            events,
            months
                .into_iter()
                .map(|(c, m, a, b, d, e, f, g, h)| (c, m, [a, b, d, e, f, g, h]))
                .collect(),
        )
    }

    async fn add_agent_event(
        &self,
        code: &str,
        event: &cakupan_domain::perisai::AgentEvent,
        by: &str,
        at: i64,
    ) -> Result<()> {
        use cakupan_domain::perisai::AgentEvent;
        let (kind, reason) = match event {
            AgentEvent::Reactivated { .. } => ("reactivated", ""),
            AgentEvent::Terminated { reason, .. } => ("terminated", reason.as_str()),
        };
        sqlx::query(
            "INSERT INTO agent_events (agent_code, month, kind, reason, recorded_by, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (agent_code, month, kind) DO NOTHING",
        )
        .bind(code)
        .bind(event.month().index())
        .bind(kind)
        .bind(reason)
        .bind(by)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn add_deposit(
        &self,
        d: &cakupan_store::agents::Deposit,
    ) -> Result<cakupan_store::agents::Deposit> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Deposits of one agent queue on the agent's row: two cannot both spend the same cash.
        sqlx::query("SELECT code FROM agents WHERE code = $1 FOR UPDATE")
            .bind(&d.agent_code)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let stored: Option<(String, String, i64, String, String)> = sqlx::query_as(
            "SELECT reference, agent_code, amount, deposited_on, recorded_by FROM deposits WHERE reference = $1",
        )
        .bind(&d.reference)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if let Some((r, a, amount, on, by)) = stored {
            let stored = cakupan_store::agents::Deposit::from_text(r, a, amount, &on, by)?;
            return if stored.same(d) {
                Ok(stored)
            } else {
                Err(cakupan_store::agents::reference_reused(&d.reference))
            };
        }
        let (collected, deposited): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE((SELECT SUM(collected - collected_reversed) FROM agent_months WHERE agent_code = $1), 0)::bigint,
                    COALESCE((SELECT SUM(amount) FROM deposits WHERE agent_code = $1), 0)::bigint",
        )
        .bind(&d.agent_code)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let held = collected - deposited;
        if d.amount > held {
            return Err(cakupan_store::agents::deposit_above_held(d.amount, held));
        }
        sqlx::query(
            "INSERT INTO deposits (reference, agent_code, amount, deposited_on, recorded_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&d.reference)
        .bind(&d.agent_code)
        .bind(d.amount)
        .bind(cakupan_domain::month::format_date(d.deposited_on))
        .bind(&d.recorded_by)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(d.clone())
    }

    async fn deposits(&self, agent_code: &str) -> Result<Vec<cakupan_store::agents::Deposit>> {
        let rows: Vec<(String, String, i64, String, String)> = sqlx::query_as(
            "SELECT reference, agent_code, amount, deposited_on, recorded_by FROM deposits WHERE agent_code = $1 ORDER BY deposited_on, reference",
        )
        .bind(agent_code)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(r, a, amount, on, by)| {
                cakupan_store::agents::Deposit::from_text(r, a, amount, &on, by)
            })
            .collect()
    }

    async fn collections(
        &self,
        agent_code: &str,
    ) -> Result<Vec<cakupan_store::agents::Collection>> {
        self.collection_rows("p.collected_by = $1", agent_code.to_string())
            .await
    }

    async fn collection(
        &self,
        posting_id: i64,
    ) -> Result<Option<cakupan_store::agents::Collection>> {
        Ok(self
            .collection_rows("p.id = $1 AND p.collected_by IS NOT NULL", posting_id)
            .await?
            .into_iter()
            .next())
    }

    async fn acquired_by(&self, agent_code: &str) -> Result<Vec<(Participant, Vec<LedgerRow>)>> {
        // Two reads whatever the number of people: the participations (without heirs, which a
        // worklist does not show) and all their postings.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE agent_code = $1 ORDER BY id"
        )))
        .bind(agent_code)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let sql = format!(
            "SELECT participant_id, {LEDGER_COLUMNS} FROM postings
             WHERE participant_id IN (SELECT id FROM participants WHERE agent_code = $1)
             ORDER BY participant_id, id"
        );
        let mut ledgers: HashMap<i64, Vec<LedgerRow>> = HashMap::new();
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(agent_code)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
        {
            let pid: i64 = row.try_get(0).map_err(db)?;
            ledgers.entry(pid).or_default().push(ledger_row(&row, 1)?);
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let p =
                cakupan_store::rows::participant(&row, &self.keys)?.into_participant(Vec::new())?;
            let l = ledgers.remove(&p.id).unwrap_or_default();
            out.push((p, l));
        }
        Ok(out)
    }

    async fn agent_months_all(&self) -> Result<cakupan_store::ledger::AgentChanges> {
        let rows: Vec<(String, i32, i64, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT agent_code, month, acquisitions, acquisitions_3, fee_base, fee_reversed, collections, collected, collected_reversed FROM agent_months",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out = cakupan_store::ledger::AgentChanges::default();
        for (a, m, v0, v1, v2, v3, v4, v5, v6) in rows {
            if [v0, v1, v2, v3, v4, v5, v6].iter().any(|x| *x != 0) {
                out.0.insert((a, m), [v0, v1, v2, v3, v4, v5, v6]);
            }
        }
        Ok(out)
    }

    async fn recompute_agents(&self) -> Result<cakupan_store::ledger::AgentChanges> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        recompute_agents_on(&mut conn).await
    }

    async fn add_employer(&self, e: &cakupan_store::employers::Employer) -> Result<bool> {
        self.add_employer_impl(e).await
    }

    async fn employer(&self, code: &str) -> Result<Option<cakupan_store::employers::Employer>> {
        self.employer_impl(code).await
    }

    async fn employer_summaries(
        &self,
        within: RegionCode,
        as_of: time::Date,
    ) -> Result<Vec<cakupan_store::employers::EmployerSummary>> {
        self.employer_summaries_impl(within, as_of).await
    }

    async fn wage_report(
        &self,
        rules: &RuleSet,
        report: &cakupan_store::employers::WageReport,
        write: bool,
    ) -> Result<cakupan_store::employers::ReportOutcome> {
        self.wage_report_impl(rules, report, write).await
    }

    async fn employer_payment(
        &self,
        rules: &RuleSet,
        payment: &cakupan_store::employers::EmployerPayment,
    ) -> Result<cakupan_store::employers::PaymentOutcome> {
        self.employer_payment_impl(rules, payment).await
    }

    async fn employer_account(
        &self,
        code: &str,
        as_of: time::Date,
    ) -> Result<Option<cakupan_store::employers::Account>> {
        self.employer_account_impl(code, as_of).await
    }

    async fn employer_invoice(
        &self,
        code: &str,
        month: Month,
    ) -> Result<Option<(cakupan_store::employers::Invoice, Vec<Participant>)>> {
        self.employer_invoice_impl(code, month).await
    }

    async fn employer_workers(
        &self,
        code: &str,
    ) -> Result<Vec<(cakupan_store::employers::Employment, Participant)>> {
        self.employer_workers_impl(code).await
    }

    async fn employments_of(
        &self,
        participant_id: i64,
    ) -> Result<Vec<cakupan_store::employers::Employment>> {
        self.employments_of_impl(participant_id).await
    }

    fn nik_index(&self, nik: &Nik) -> Vec<u8> {
        self.keys.nik_index(nik)
    }

    async fn create_user(&self, u: &cakupan_store::accounts::NewUser, now: i64) -> Result<i64> {
        let r = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, role, region, agent_code, nik_index, created_at, employer_code)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(u.username.as_str())
        .bind(u.password_hash.as_str())
        .bind(u.role.as_str())
        .bind(u.region.to_string())
        .bind(u.agent_code.as_deref())
        .bind(u.nik_index.as_deref())
        .bind(now)
        .bind(u.employer_code.as_deref())
        .fetch_one(&self.pool)
        .await;
        match r {
            Ok(id) => Ok(id),
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                Err(cakupan_store::username_taken(&u.username))
            }
            Err(e) => Err(db(e)),
        }
    }

    async fn user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<cakupan_store::accounts::UserRow>> {
        self.user_by_username_impl(username).await
    }

    async fn count_users(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n as u64)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.create_session_impl(token_hash, user_id, now, expires_at)
            .await
    }

    async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<cakupan_store::accounts::UserRow>> {
        self.session_user_impl(token_hash, now, idle_secs).await
    }

    async fn end_sessions(&self, user_id: i64, keep: Option<&str>) -> Result<u64> {
        self.end_sessions_impl(user_id, keep).await
    }

    async fn trim_sessions(&self, user_id: i64, keep: &str, newest: u32, now: i64) -> Result<u64> {
        self.trim_sessions_impl(user_id, keep, newest, now).await
    }

    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        must_change: bool,
    ) -> Result<()> {
        self.set_password_impl(user_id, password_hash, must_change)
            .await
    }

    async fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<()> {
        self.set_disabled_impl(user_id, disabled).await
    }

    async fn audit_anchor(&self) -> Result<cakupan_store::accounts::Anchor> {
        self.audit_anchor_impl().await
    }

    async fn users(&self) -> Result<Vec<cakupan_store::accounts::UserListing>> {
        self.users_impl().await
    }

    async fn totp_secret(&self, user_id: i64) -> Result<Option<Vec<u8>>> {
        self.totp_secret_impl(user_id).await
    }

    async fn set_totp(
        &self,
        user_id: i64,
        sealed: Option<&[u8]>,
        recovery_hashes: &[String],
    ) -> Result<()> {
        self.set_totp_impl(user_id, sealed, recovery_hashes).await
    }

    async fn advance_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        self.advance_totp_step_impl(user_id, step).await
    }

    async fn use_recovery_code(&self, user_id: i64, code_hash: &str, now: i64) -> Result<bool> {
        self.use_recovery_code_impl(user_id, code_hash, now).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn append_audit(&self, entries: &[cakupan_store::accounts::AuditEntry]) -> Result<()> {
        // Committed with whatever else is queued (group commit, as registrations are).
        self.group.audit(self, entries).await
    }

    async fn audit_page(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<cakupan_store::accounts::AuditRecord>> {
        sqlx::query(
            "SELECT id, at, actor, role, action, record, request_id, purpose, prev_hash, hash FROM audit WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(cakupan_store::rows::audit)
        .collect()
    }

    fn keys(&self) -> &cakupan_store::crypto::Keys {
        &self.keys
    }

    async fn rebuild_counters(&self, rules: &RuleSet) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Writers take row locks on people, participants and counters: a SHARE lock on the
        // ledger and the registry holds them off until the rebuilt counters are committed.
        sqlx::query("LOCK TABLE participants, postings, people IN SHARE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let changes = recompute_on(&mut tx, rules).await?;
        sqlx::query("DELETE FROM counters")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        upsert_counters(&mut tx, &changes).await?;
        let agents = recompute_agents_on(&mut tx).await?;
        sqlx::query("DELETE FROM agent_months")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        upsert_agent_months(&mut tx, &agents).await?;
        sqlx::query(cakupan_store::SET_COUNTERS_FINGERPRINT_SQL)
            .bind(cakupan_domain::coverage::counting_fingerprint(rules))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok((changes.rows().len() + agents.rows().len()) as u64)
    }

    async fn meta(&self, key: &str) -> Result<Option<String>> {
        self.meta_impl(key).await
    }

    async fn set_meta_once(&self, key: &str, value: &str) -> Result<String> {
        self.set_meta_once_impl(key, value).await
    }

    async fn counters_fingerprint(&self) -> Result<Option<String>> {
        self.counters_fingerprint_impl().await
    }
}

/// After the upgrade to schema 9: the agent months of postings stored before it, once.
async fn fill_agent_months(pool: &PgPool) -> Result<()> {
    let (have, acquired): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM agent_months),
                EXISTS (SELECT 1 FROM participants p JOIN postings x ON x.participant_id = p.id WHERE p.agent_code IS NOT NULL)",
    )
    .fetch_one(pool)
    .await
    .map_err(db)?;
    if have || !acquired {
        return Ok(());
    }
    let mut tx = pool.begin().await.map_err(db)?;
    let changes = recompute_agents_on(&mut tx).await?;
    upsert_agent_months(&mut tx, &changes).await?;
    tx.commit().await.map_err(db)?;
    Ok(())
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
    let cols = cakupan_domain::perisai::AGENT_COLUMNS;
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

/// Every agent-month recomputed from the participations agents acquired and the postings
/// agents collected.
async fn recompute_agents_on(
    conn: &mut PgConnection,
) -> Result<cakupan_store::ledger::AgentChanges> {
    let sql = format!(
        "SELECT p.participant_id, {} FROM postings p
         WHERE p.participant_id IN (
             SELECT id FROM participants WHERE agent_code IS NOT NULL
             UNION SELECT participant_id FROM postings WHERE collected_by IS NOT NULL)
         ORDER BY p.participant_id, p.id",
        LEDGER_COLUMNS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut ledgers: HashMap<i64, Vec<LedgerRow>> = HashMap::new();
    for row in sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
    {
        let pid: i64 = row.try_get(0).map_err(db)?;
        ledgers.entry(pid).or_default().push(ledger_row(&row, 1)?);
    }
    let ids: Vec<i64> = ledgers.keys().copied().collect();
    let mut changes = cakupan_store::ledger::AgentChanges::default();
    let rows: Vec<(i64, Option<String>, String)> =
        sqlx::query_as("SELECT id, agent_code, programs FROM participants WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    for (id, agent, programs) in rows {
        let three = cakupan_domain::ProgrammeSet::parse(&programs)
            .map(|p| p.contains(cakupan_domain::Programme::Jht))
            .unwrap_or(false);
        if let Some(l) = ledgers.get(&id) {
            changes.apply(agent.as_deref(), three, l, 1);
        }
    }
    Ok(changes)
}

// Every counter recomputed from participants and postings alone, on one connection.
cakupan_store::recompute_on_impl!(
    conn: PgConnection,
    row: sqlx::postgres::PgRow,
    ledger_row: ledger_row,
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

/// Schema 5 encrypts personal fields; a database that already holds participants in clear
/// (schema 4 or older) cannot be converted by SQL alone, so it is refused with the reason
/// instead of being half migrated.
async fn refuse_clear_participants(pool: &PgPool) -> Result<()> {
    let migrated: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_optional(pool)
            .await
            .ok()
            .flatten();
    let Some(version) = migrated else {
        return Ok(());
    };
    if version >= 5 {
        return Ok(());
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM participants")
        .fetch_one(pool)
        .await
        .map_err(db)?;
    if n > 0 {
        return Err(cakupan_store::clear_participants_refused(n, version));
    }
    Ok(())
}

/// `Store::register_batch` inside a transaction the caller commits (the employer channel runs it with
/// its own writes).
pub(crate) async fn register_batch_in(
    tx: &mut Transaction<'_, Postgres>,
    keys: &Keys,
    rules: &RuleSet,
    regs: &[Registration],
) -> Result<Vec<Outcome>> {
    if regs.is_empty() {
        return Ok(Vec::new());
    }
    // Insert first and look up only the rows the unique key turned away (already stored,
    // or stored by a concurrent transaction since): one index probe per new row.
    let (mut outcomes, insert) = plan_batch(regs);
    if !insert.is_empty() {
        // Lock each person of the batch (in NIK order): see migration 0003.
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
        let mut inserted_keys: HashSet<(Vec<u8>, String)> = HashSet::new();
        let pairs: Vec<(usize, i64)> = insert.iter().copied().zip(ids).collect();
        for chunk in pairs.chunks(CHUNK) {
            let mut c = Columns::default();
            for &(i, id) in chunk {
                let r = &regs[i];
                let kpj = kpj_for(id)?;
                c.push(id, kpj, r, keys)?;
            }
            // Each new participation claims its id (the route for look-ups by id and KPJ,
            // migration 0014) in the same statement.
            let rows = sqlx::query(
                "WITH inserted AS (
                   INSERT INTO participants (id, kpj, nik, segment, name, birth_date, sex, phone, village_code, occupation_code, sector, income_base, programs, registered_on, channel, agent_code, review_flags, nik_index, phone_index, key_version, address, budget_funded)
                   SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::bytea[], $6::bytea[], $7::text[], $8::bytea[], $9::text[], $10::text[], $11::text[], $12::bytea[], $13::text[], $14::date[], $15::text[], $16::text[], $17::text[], $18::bytea[], $19::bytea[], $20::int[], $21::bytea[], $22::boolean[])
                   ON CONFLICT (nik_index, segment) DO NOTHING
                   RETURNING id, nik_index, segment),
                 claimed AS (INSERT INTO participant_ids (id, nik_index) SELECT id, nik_index FROM inserted)
                 SELECT nik_index, segment FROM inserted",
            )
            .bind(c.id).bind(c.kpj).bind(c.nik).bind(c.segment).bind(c.name).bind(c.birth_date)
            .bind(c.sex).bind(c.phone).bind(c.village).bind(c.occupation).bind(c.sector)
            .bind(c.income).bind(c.programs).bind(c.registered_on).bind(c.channel).bind(c.agent).bind(c.flags)
            .bind(c.nik_index).bind(c.phone_index).bind(c.key_version).bind(c.address).bind(c.budget_funded)
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
            for row in rows {
                inserted_keys.insert((row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?));
            }
        }
        let mut turned_away = Vec::new();
        let mut changes = CounterChanges::default();
        for &(i, id) in &pairs {
            let r = &regs[i];
            if inserted_keys.contains(&(keys.nik_index(&r.nik), r.segment.to_string())) {
                outcomes[i] = Some(Outcome::Created {
                    id,
                    kpj: kpj_for(id)?,
                });
                changes.register(r.village, r.segment, Month::of(r.registered_on));
                for (pos, h) in r.heirs.iter().enumerate() {
                    let h = HeirRow::from_heir(h).seal(keys, id, pos)?;
                    sqlx::query("INSERT INTO heirs (participant_id, position, name, relationship, nik, phone, nik_index) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(id).bind(pos as i32).bind(h.name).bind(h.relationship).bind(h.nik).bind(h.phone)
                        .bind(keys.nik_index(&r.nik))
                        .execute(&mut **tx)
                        .await
                        .map_err(db)?;
                }
            } else {
                turned_away.push(i);
            }
        }
        let new_ids: HashSet<i64> = pairs
            .iter()
            .filter(|(i, _)| {
                inserted_keys
                    .contains(&(keys.nik_index(&regs[*i].nik), regs[*i].segment.to_string()))
            })
            .map(|(_, id)| *id)
            .collect();
        PgStore::overlap_of_new(&mut *tx, keys, rules, &new_ids, &mut changes).await?;
        upsert_counters(&mut *tx, &changes).await?;
        if !turned_away.is_empty() {
            let niks: Vec<Vec<u8>> = turned_away
                .iter()
                .map(|&i| keys.nik_index(&regs[i].nik))
                .collect();
            let stored = PgStore::existing(&mut *tx, keys, niks).await?;
            for i in turned_away {
                let r = &regs[i];
                outcomes[i] = Some(settle(r, stored.get(&(r.nik, r.segment)))?);
            }
        }
    }
    resolve_duplicates(regs, &mut outcomes);
    outcomes
        .into_iter()
        .map(|o| {
            o.ok_or_else(|| StoreError::Database("registration left without an outcome".into()))
        })
        .collect()
}

/// `Store::post_batch` inside a transaction the caller commits (the employer channel runs it with
/// its own writes).
pub(crate) async fn post_batch_in(
    tx: &mut Transaction<'_, Postgres>,
    keys: &Keys,
    rules: &RuleSet,
    postings: &[NewPosting],
) -> Result<Vec<std::result::Result<PostingOutcome, FieldErrors>>> {
    if postings.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<String> = postings.iter().map(|p| p.reference().to_string()).collect();
    // The reference buckets of the batch, in order (no deadlock with other batches).
    sqlx::query("SELECT pg_advisory_xact_lock(4242, b) FROM (SELECT DISTINCT hashtext(r) & 255 AS b FROM UNNEST($1::text[]) AS r ORDER BY 1) AS buckets")
        .bind(&refs)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    let mut st = BatchState::default();
    for row in sqlx::query(
        "SELECT reference, id, participant_id, body FROM postings WHERE reference = ANY($1)",
    )
    .bind(&refs)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    {
        st.existing.insert(
            row.try_get(0).map_err(db)?,
            (
                row.try_get(1).map_err(db)?,
                row.try_get(2).map_err(db)?,
                row.try_get(3).map_err(db)?,
            ),
        );
    }
    let targets: Vec<String> = postings
        .iter()
        .filter_map(|p| match p {
            NewPosting::Reversal { target, .. } => Some(target.clone()),
            _ => None,
        })
        .collect();
    for row in sqlx::query(
        "SELECT reference, participant_id, kind FROM postings WHERE reference = ANY($1)",
    )
    .bind(&targets)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    {
        st.targets.insert(
            row.try_get(0).map_err(db)?,
            (row.try_get(1).map_err(db)?, row.try_get(2).map_err(db)?),
        );
    }
    for row in sqlx::query("SELECT target_reference, reference FROM postings WHERE kind = 'reversal' AND target_reference = ANY($1)")
        .bind(&targets)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?
    {
        st.reversed.insert(row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?);
    }
    let niks: Vec<Vec<u8>> = postings
        .iter()
        .filter_map(|p| match p {
            NewPosting::Contribution(pay) => Some(keys.nik_index(&pay.nik)),
            NewPosting::Termination { nik, .. } | NewPosting::Stop { nik, .. } => {
                Some(keys.nik_index(nik))
            }
            NewPosting::Reversal { .. } => None,
        })
        .collect();
    let target_ids: Vec<i64> = st.targets.values().map(|t| t.0).collect();
    // Lock every person the batch touches, in NIK order (see migration 0003), then read
    // all their participations in a new statement, which sees whatever a transaction we
    // waited for committed.
    let locked: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT nik_index FROM people
         WHERE nik_index = ANY($1) OR nik_index IN (SELECT nik_index FROM participants WHERE id = ANY($2))
         ORDER BY nik_index FOR UPDATE",
    )
    .bind(&niks)
    .bind(&target_ids)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE nik_index = ANY($1) ORDER BY id"
    )))
    .bind(&locked)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    for row in rows {
        let p = cakupan_store::rows::participant(&row, keys)?.into_participant(Vec::new())?;
        st.by_key
            .insert((p.registration.nik, p.registration.segment), p.clone());
        st.by_id.insert(p.id, p);
    }
    let ids: Vec<i64> = st.by_id.keys().copied().collect();
    for row in sqlx::query(sqlx::AssertSqlSafe(format!("SELECT participant_id, {LEDGER_COLUMNS} FROM postings WHERE participant_id = ANY($1) ORDER BY participant_id, id")))
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?
    {
        let pid: i64 = row.try_get(0).map_err(db)?;
        st.ledgers.entry(pid).or_default().push(ledger_row(&row, 1)?);
    }
    let before = st.ledgers.clone();
    let (mut outcomes, inserts) = st.plan(rules, keys, postings);
    let rows = cakupan_store::ledger::insert_rows(postings, &inserts);
    let ids = insert_postings(&mut *tx, &rows).await?;
    cakupan_store::ledger::mark_posted(&mut outcomes, &inserts, ids);
    let changes = st.changes(rules, &before, &inserts)?;
    upsert_counters(&mut *tx, &changes).await?;
    upsert_agent_months(&mut *tx, &st.agent_changes(&before, &inserts)).await?;
    resolve_repeats(postings, &mut outcomes);
    outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| StoreError::Database("posting left without an outcome".into())))
        .collect()
}

/// Appends audit entries to the chain inside the caller's transaction (the chain's last entry
/// read in it, after the chain lock).
pub(crate) async fn append_audit_in(
    tx: &mut Transaction<'_, Postgres>,
    keys: &Keys,
    entries: &[cakupan_store::accounts::AuditEntry],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    // One chain, one order: appends queue on this lock.
    sqlx::query("SELECT pg_advisory_xact_lock(4244, 0)")
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    for r in cakupan_store::accounts::link(keys, last, entries)? {
        sqlx::query(
                "INSERT INTO audit (id, at, actor, role, action, record, request_id, purpose, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(r.id)
            .bind(r.entry.at)
            .bind(&r.entry.actor)
            .bind(&r.entry.role)
            .bind(&r.entry.action)
            .bind(&r.entry.record)
            .bind(&r.entry.request_id)
            .bind(&r.entry.purpose)
            .bind(&r.prev_hash)
            .bind(&r.hash)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
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

cakupan_store::shared_sql_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
