//! The embedded SQLite store: one file in WAL mode, the default backend.
//!
//! Writes go through a pool of exactly one connection, so write transactions queue in the
//! process instead of failing with `SQLITE_BUSY`; reads use a separate pool and see the last
//! committed state (WAL lets them run beside the writer).

use async_trait::async_trait;
use cakupan_domain::registration::Registration;
use cakupan_domain::{FieldError, FieldErrors, Month, RegionCode, RuleSet};
use cakupan_domain::{Level, Nik, RegionTree, Segment};
use cakupan_store::accounts::CORRECTION_COLUMNS;
use cakupan_store::crypto::Keys;
use cakupan_store::keep_prepared;
use cakupan_store::ledger::{
    AgentChanges, BatchState, COUNTER_COLUMNS, CheckedPosting, CounterChanges, CounterValues,
    LedgerRow, NewPosting, PostingOutcome, Series, resolve_repeats,
};
use cakupan_store::{
    ActiveRow, HeirRow, Outcome, Participant, ParticipantRow, RegionsLoaded, Result, Store,
    StoreError, TargetRecord, kpj_for, plan_batch, resolve_duplicates, settle,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod campaigns;
mod employers;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Columns of `participants` in the order the code binds and reads them.
pub(crate) const COLUMNS: &str = "id, kpj, nik, segment, name, birth_date, sex, phone, village_code, occupation_code, sector, income_base, programs, registered_on, channel, agent_code, review_flags, dukcapil_status, address, budget_funded";
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
}

cakupan_store::group_writer_impl!(SqliteStore, writer);

pub(crate) fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(e.to_string())
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
        fill_agent_months(&writer).await?;
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
        })
    }

    /// Collections (postings with a collecting agent) matching `clause` on `p`, oldest first.
    async fn collection_rows(
        &self,
        clause: &str,
        bind: String,
    ) -> Result<Vec<cakupan_store::agents::Collection>> {
        let rows: Vec<cakupan_store::agents::CollectionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT p.id, p.reference, p.participant_id, p.collected_by, p.amount, p.paid_on, p.first_month, p.months,
                    EXISTS (SELECT 1 FROM postings r WHERE r.kind = 'reversal' AND r.target_reference = p.reference)
             FROM postings p WHERE {clause} ORDER BY p.id"
        )))
        .bind(bind)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(
                |(id, reference, pid, agent, amount, paid_on, first, months, reversed)| {
                    cakupan_store::agents::Collection::from_parts(
                        id,
                        reference,
                        pid,
                        agent,
                        amount,
                        &paid_on,
                        first,
                        months,
                        reversed != 0,
                    )
                },
            )
            .collect()
    }

    /// Stored participations of these NIKs, keyed by NIK and segment.
    pub(crate) async fn existing(
        tx: &mut Transaction<'_, Sqlite>,
        keys: &Keys,
        niks: &[Nik],
    ) -> Result<HashMap<(Nik, Segment), (i64, String, Registration)>> {
        let mut out = HashMap::new();
        for chunk in niks.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {COLUMNS} FROM participants WHERE nik_index IN ("
            ));
            let mut sep = q.separated(", ");
            for n in chunk {
                sep.push_bind(keys.nik_index(n));
            }
            q.push(")");
            let rows = q
                .build()
                .persistent(keep_prepared(chunk.len(), INSERT_CHUNK))
                .fetch_all(&mut **tx)
                .await
                .map_err(db)?;
            for row in rows {
                let p =
                    cakupan_store::rows::participant(&row, keys)?.into_participant(Vec::new())?;
                out.insert(
                    (p.registration.nik, p.registration.segment),
                    (p.id, p.kpj, p.registration),
                );
            }
        }
        Ok(out)
    }

    /// The overlap correction for registrations just inserted (`new_ids`, of `new_niks`): only
    /// people who now hold more than one participation have one.
    async fn overlap_of_new(
        tx: &mut Transaction<'_, Sqlite>,
        keys: &Keys,
        rules: &RuleSet,
        new_niks: &[Nik],
        new_ids: &HashSet<i64>,
        changes: &mut CounterChanges,
    ) -> Result<()> {
        let mut multi = Vec::new();
        for chunk in new_niks.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT nik_index FROM participants WHERE nik_index IN (",
            );
            let mut sep = q.separated(", ");
            for n in chunk {
                sep.push_bind(keys.nik_index(n));
            }
            q.push(") GROUP BY nik_index HAVING COUNT(*) > 1");
            let found: Vec<Vec<u8>> = q
                .build_query_scalar()
                .persistent(keep_prepared(chunk.len(), INSERT_CHUNK))
                .fetch_all(&mut **tx)
                .await
                .map_err(db)?;
            multi.extend(found);
        }
        if multi.is_empty() {
            return Ok(());
        }
        let niks: Vec<Nik> = new_niks
            .iter()
            .filter(|n| multi.contains(&keys.nik_index(n)))
            .copied()
            .collect();
        let mut groups: HashMap<Nik, Vec<Participant>> = HashMap::new();
        for ((nik, _), (id, kpj, registration)) in Self::existing(tx, keys, &niks).await? {
            groups.entry(nik).or_default().push(Participant {
                id,
                kpj,
                registration,
                dukcapil_status: String::new(),
            });
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

    async fn load<T>(
        &self,
        clause: &'static str,
        bind: T,
    ) -> Result<Vec<cakupan_store::Participant>>
    where
        T: for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite> + Send + 'static,
    {
        let sql = format!("SELECT {COLUMNS} FROM participants {clause}");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bind)
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let pr = cakupan_store::rows::participant(&row, &self.keys)?;
            let heirs = sqlx::query(
                "SELECT name, relationship, nik, phone, position FROM heirs WHERE participant_id = ?1 ORDER BY position",
            )
            .bind(pr.id)
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .iter()
            .map(|r| cakupan_store::rows::heir(r, pr.id, &self.keys))
            .collect::<Result<Vec<_>>>()?;
            out.push(pr.into_participant(heirs)?);
        }
        Ok(out)
    }
}

const LEDGER_COLUMNS: &str =
    "id, reference, kind, first_month, months, amount, paid_month, target_reference, collected_by";

fn ledger_row_at(row: &sqlx::sqlite::SqliteRow, from: usize) -> Result<LedgerRow> {
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

async fn ledger_rows(conn: &mut SqliteConnection, participant_id: i64) -> Result<Vec<LedgerRow>> {
    let sql =
        format!("SELECT {LEDGER_COLUMNS} FROM postings WHERE participant_id = ?1 ORDER BY id");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(participant_id)
        .fetch_all(conn)
        .await
        .map_err(db)?
        .iter()
        .map(|r| ledger_row_at(r, 0))
        .collect()
}

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

/// Runs `SELECT … WHERE column IN (…)` over `values` in chunks SQLite accepts.
pub(crate) async fn select_in<T: ToString>(
    tx: &mut Transaction<'_, Sqlite>,
    head: &str,
    values: &[T],
    tail: &str,
) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
    let mut out = Vec::new();
    for chunk in values.chunks(INSERT_CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(format!("{head} ("));
        let mut sep = q.separated(", ");
        for v in chunk {
            sep.push_bind(v.to_string());
        }
        q.push(format!(") {tail}"));
        out.extend(
            q.build()
                .persistent(keep_prepared(chunk.len(), INSERT_CHUNK))
                .fetch_all(&mut **tx)
                .await
                .map_err(db)?,
        );
    }
    Ok(out)
}

/// Writes every changeable column of a stored participant: its sealed personal fields (under
/// the current key), their indexes and the clear columns a correction may change.
async fn rewrite(
    tx: &mut SqliteConnection,
    r: &ParticipantRow,
    sealed: &cakupan_store::SealedFields,
) -> Result<()> {
    sqlx::query(
        "UPDATE participants SET nik = ?1, name = ?2, birth_date = ?3, phone = ?4, phone_index = ?5,
         income_base = ?6, address = ?7, key_version = ?8, village_code = ?9, occupation_code = ?10,
         sector = ?11, review_flags = ?12 WHERE id = ?13",
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
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn health(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map(|_| ())
            .map_err(db)
    }

    async fn ensure_regions(&self, tree: &RegionTree) -> Result<RegionsLoaded> {
        let fingerprint = tree.fingerprint();
        let mut tx = self.writer.begin().await.map_err(db)?;
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
        // Upsert, never delete: participants reference villages, and a region retired by a
        // newer decree must stay for the people registered in it.
        let regions: Vec<_> = tree.iter().collect();
        for chunk in regions.chunks(5_000) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO regions (code, parent_code, level, name, kind) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.code.to_string())
                    .push_bind(
                        r.code
                            .parent()
                            .filter(|p| p.level() != Level::Nation)
                            .map(|p| p.to_string()),
                    )
                    .push_bind(i64::from(r.code.level().depth()))
                    .push_bind(r.name.clone())
                    .push_bind(r.kind.clone());
            });
            q.push(" ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind");
            q.build().execute(&mut *tx).await.map_err(db)?;
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ('regions_fingerprint', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
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
        let rows = sqlx::query("SELECT level, COUNT(*) FROM regions GROUP BY level ORDER BY level")
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        rows.iter().map(cakupan_store::rows::level_count).collect()
    }

    async fn register_batch(&self, rules: &RuleSet, regs: &[Registration]) -> Result<Vec<Outcome>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
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
        // Group commit: SQLite has one writer, and a registration's cost is its own write
        // transaction (docs/benchmarks.md). Each request queues its registration; whoever
        // holds the leader lock commits everything queued in one transaction and answers
        // each request with its own outcome. The group is checked against the leader's rules:
        // a server passes its one rule set to every request.
        self.group.register(self, rules, reg, audit).await
    }

    async fn participant(&self, id: i64) -> Result<Option<cakupan_store::Participant>> {
        Ok(self.load("WHERE id = ?1", id).await?.into_iter().next())
    }

    async fn participant_by_kpj(&self, kpj: &str) -> Result<Option<cakupan_store::Participant>> {
        Ok(self
            .load("WHERE kpj = ?1", kpj.trim().to_string())
            .await?
            .into_iter()
            .next())
    }

    async fn participants_by_index(
        &self,
        nik_index: &[u8],
    ) -> Result<Vec<cakupan_store::Participant>> {
        self.load("WHERE nik_index = ?1 ORDER BY segment", nik_index.to_vec())
            .await
    }

    async fn registry_page(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<cakupan_store::Participant>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM participants WHERE id > ?1 ORDER BY id LIMIT ?2"
        )))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
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
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        Ok(n as u64)
    }

    async fn after_bulk_load(&self) -> Result<()> {
        // Statistics for the tables whose indexes changed enough to matter (SQLite decides),
        // each analysed over a bounded sample.
        sqlx::raw_sql("PRAGMA analysis_limit = 1000; PRAGMA optimize;")
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn size_bytes(&self) -> Result<u64> {
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

    async fn post_batch(
        &self,
        rules: &RuleSet,
        postings: &[NewPosting],
    ) -> Result<Vec<std::result::Result<PostingOutcome, FieldErrors>>> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let out = post_batch_in(&mut tx, &self.keys, rules, postings).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn ledger(&self, participant_id: i64) -> Result<Vec<LedgerRow>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        ledger_rows(&mut conn, participant_id).await
    }

    async fn counters(&self) -> Result<Vec<(String, i16, Series, i32, CounterValues)>> {
        let sql = format!(
            "SELECT region, level, segment, month, {} FROM counters ORDER BY region, segment, month",
            COUNTER_COLUMNS.join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.reader)
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
        // The regions below `within` as a range of the covering index: codes are digits and
        // dots, and '/' follows '.', so "32.73." ≤ code < "32.73/" is the subtree.
        let (low, high) = cakupan_store::subtree_range(within, level);
        let rows = sqlx::query(
            "SELECT region, SUM(registered), SUM(paid_active), SUM(status_active), SUM(nonactive)
             FROM counters
             WHERE level = ?1 AND region >= ?4 AND region < ?5
               AND month <= ?2 AND (?3 IS NULL OR segment = ?3)
             GROUP BY region ORDER BY region",
        )
        .bind(i64::from(level.depth()))
        .bind(i64::from(month.index()))
        .bind(segment.map(|s| s.as_str()))
        .bind(low)
        .bind(high)
        .fetch_all(&self.reader)
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
             FROM counters WHERE region = ?1 AND month <= ?2 ORDER BY month",
        )
        .bind(region.to_string())
        .bind(i64::from(to.index()))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(|r| cakupan_store::rows::counter(r).map(|(_, _, s, m, v)| (s, m, v)))
        .collect()
    }

    async fn recompute(&self, rules: &RuleSet) -> Result<CounterChanges> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        recompute_on(&mut conn, rules).await
    }

    async fn set_targets(&self, targets: &[TargetRecord], replace: bool) -> Result<u64> {
        cakupan_store::check_targets(targets)?;
        let sql = format!(
            "INSERT INTO targets (metric, segment, region, month, value, baseline_month, baseline_value, basis, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (metric, segment, region, month) {}",
            if replace {
                "DO UPDATE SET value = excluded.value, baseline_month = excluded.baseline_month, baseline_value = excluded.baseline_value, basis = excluded.basis, source = excluded.source, set_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
            } else {
                "DO NOTHING"
            }
        );
        let mut tx = self.writer.begin().await.map_err(db)?;
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
        .fetch_all(&self.reader)
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
        sqlx::query_scalar("SELECT participant_id FROM postings WHERE reference = ?1")
            .bind(reference)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)
    }

    async fn reseal(&self, batch: usize) -> Result<u64> {
        let current = i32::try_from(self.keys.current_version()).unwrap_or(i32::MAX);
        let mut tx = self.writer.begin().await.map_err(db)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM participants WHERE key_version < ?1 ORDER BY id LIMIT ?2"
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
                "SELECT name, relationship, nik, phone, position FROM heirs WHERE participant_id = ?1 ORDER BY position",
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
                    "UPDATE heirs SET name = ?1, nik = ?2, phone = ?3 WHERE participant_id = ?4 AND position = ?5",
                )
                .bind(&s.name)
                .bind(&s.nik)
                .bind(&s.phone)
                .bind(pr.id)
                .bind(position)
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
            "SELECT key_version, COUNT(*) FROM participants GROUP BY key_version ORDER BY key_version",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(|(v, n)| (v, n as u64)).collect())
    }

    async fn audit_for(
        &self,
        records: &[String],
    ) -> Result<Vec<cakupan_store::accounts::AuditRecord>> {
        let mut out = Vec::new();
        for chunk in records.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT id, at, actor, role, action, record, request_id, purpose, prev_hash, hash FROM audit WHERE record IN (",
            );
            let mut sep = q.separated(", ");
            for rec in chunk {
                sep.push_bind(rec.as_str());
            }
            q.push(") ORDER BY id");
            for row in q
                .build()
                .persistent(keep_prepared(chunk.len(), INSERT_CHUNK))
                .fetch_all(&self.reader)
                .await
                .map_err(db)?
            {
                out.push(cakupan_store::rows::audit(&row)?);
            }
        }
        out.sort_by_key(|a| a.id);
        Ok(out)
    }

    async fn add_consent(
        &self,
        nik_index: &[u8],
        c: &cakupan_store::accounts::Consent,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO consents (nik_index, purpose, notice_version, decision, at, channel) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(nik_index)
        .bind(&c.purpose)
        .bind(&c.notice_version)
        .bind(&c.decision)
        .bind(c.at)
        .bind(&c.channel)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn consents(&self, nik_index: &[u8]) -> Result<Vec<cakupan_store::accounts::Consent>> {
        let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
            "SELECT purpose, notice_version, decision, at, channel FROM consents WHERE nik_index = ?1 ORDER BY id",
        )
        .bind(nik_index)
        .fetch_all(&self.reader)
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
            "INSERT INTO corrections (participant_id, village_code, field, value, reason, requested_at, due_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        )
        .bind(c.participant_id)
        .bind(&c.village_code)
        .bind(&c.field)
        .bind(value)
        .bind(reason)
        .bind(c.requested_at)
        .bind(c.due_at)
        .fetch_one(&self.writer)
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
             WHERE status = 'open' AND (?1 = '' OR village_code = ?1 OR substr(village_code, 1, length(?2)) = ?2)
             ORDER BY requested_at, id"
        )))
        .bind(within.to_string())
        .bind(prefix)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(|r| cakupan_store::rows::correction(r, &self.keys))
        .collect()
    }

    async fn correction(&self, id: i64) -> Result<Option<cakupan_store::accounts::Correction>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = ?1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        .map(|r| cakupan_store::rows::correction(&r, &self.keys))
        .transpose()
    }

    async fn corrections_of(
        &self,
        participant_ids: &[i64],
    ) -> Result<Vec<cakupan_store::accounts::Correction>> {
        let mut out = Vec::new();
        for id in participant_ids {
            for r in sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE participant_id = ?1"
            )))
            .bind(id)
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            {
                out.push(cakupan_store::rows::correction(&r, &self.keys)?);
            }
        }
        out.sort_by_key(|c| std::cmp::Reverse((c.requested_at, c.id)));
        Ok(out)
    }

    async fn decide_correction(
        &self,
        rules: &RuleSet,
        d: &cakupan_store::accounts::CorrectionDecision,
    ) -> Result<Option<cakupan_store::accounts::Correction>> {
        use cakupan_store::ledger::{Base, relocation};
        // The single writer: nothing else changes this person while the transaction runs.
        let mut tx = self.writer.begin().await.map_err(db)?;
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = ?1"
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
            let stored = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM participants WHERE id = ?1"
            )))
            .bind(c.participant_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            let stored = cakupan_store::rows::participant(&stored, &self.keys)?
                .into_participant(Vec::new())?;
            if let Some(r) = d.corrected_for(&stored)? {
                if r.village != stored.registration.village {
                    let index = self.keys.nik_index(&stored.registration.nik);
                    let mut group = Vec::new();
                    for o in sqlx::query(
                        "SELECT id, segment, village_code, registered_on FROM participants WHERE nik_index = ?1 ORDER BY id",
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
                let row = ParticipantRow::from_registration(stored.id, stored.kpj.clone(), r);
                rewrite(&mut tx, &row, &row.seal(&self.keys)?).await?;
            }
        }
        let note = cakupan_store::accounts::seal_note(&self.keys, &c, &d.note)?;
        sqlx::query(
            "UPDATE corrections SET status = ?1, decided_at = ?2, decided_by = ?3, note = ?4 WHERE id = ?5",
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
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query(
            "INSERT INTO offices (code, name, kind, region, agreement_from, agreement_to)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (code) DO NOTHING",
        )
        .bind(&o.code)
        .bind(o.name.trim())
        .bind(&o.kind)
        .bind(o.region.to_string())
        .bind(cakupan_domain::month::format_date(o.agreement_from))
        .bind(o.agreement_to.map(cakupan_domain::month::format_date))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
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
            "SELECT code, name, kind, region, agreement_from, agreement_to FROM offices WHERE code = ?1",
        )
        .bind(code)
        .fetch_optional(&self.reader)
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
        .fetch_all(&self.reader)
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
                FieldError::new(
                    "code",
                    "code.format",
                    "code must be 3 to 32 capital letters, digits or '-'",
                )
                .into(),
            ));
        }
        let mut tx = self.writer.begin().await.map_err(db)?;
        let existing: Option<(String, i64, String, i64)> = sqlx::query_as(
            "SELECT office_code, participant_id, home_village, appointed FROM agents WHERE code = ?1",
        )
        .bind(&a.code)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if let Some((office, pid, home, appointed)) = existing {
            let villages: Vec<String> = sqlx::query_scalar(
                "SELECT village_code FROM agent_villages WHERE agent_code = ?1 ORDER BY village_code",
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
                && appointed == i64::from(a.appointed.index())
                && villages == want;
            return if same {
                Ok(())
            } else {
                Err(cakupan_store::agents::code_taken("agent", &a.code))
            };
        }
        let checks: (i64, Option<String>, Option<String>, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM offices WHERE code = ?1),
                    (SELECT segment FROM participants WHERE id = ?2),
                    (SELECT code FROM agents WHERE participant_id = ?2),
                    0",
        )
        .bind(&a.office_code)
        .bind(a.participant_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        cakupan_store::agents::check_agent(
            a,
            checks.0 > 0,
            checks.1.as_deref(),
            checks.2.as_deref(),
        )?;
        sqlx::query(
            "INSERT INTO agents (code, office_code, participant_id, home_village, appointed) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&a.code)
        .bind(&a.office_code)
        .bind(a.participant_id)
        .bind(a.home_village.to_string())
        .bind(i64::from(a.appointed.index()))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for v in &a.villages {
            sqlx::query("INSERT INTO agent_villages (agent_code, village_code) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
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
            AgentFilter::Code(c) => ("a.code = ?1 AND ?2 = ''", c.to_string(), String::new()),
            AgentFilter::Office(o) => (
                "a.office_code = ?1 AND ?2 = ''",
                o.to_string(),
                String::new(),
            ),
            AgentFilter::Within(r) => {
                let (lo, hi) = cakupan_store::subtree_range(r, cakupan_domain::Level::Village);
                ("a.home_village >= ?1 AND a.home_village < ?2", lo, hi)
            }
        };
        // Four reads whatever the number of agents: the agents, their villages, their events
        // and their months, each filtered the same way.
        let rows: Vec<(String, String, i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT a.code, a.office_code, a.participant_id, a.home_village, a.appointed FROM agents a WHERE {clause} ORDER BY a.code"
        )))
        .bind(&bind_a)
        .bind(&bind_b)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let villages: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT v.agent_code, v.village_code FROM agent_villages v JOIN agents a ON a.code = v.agent_code WHERE {clause} ORDER BY v.agent_code, v.village_code"
        )))
        .bind(&bind_a)
        .bind(&bind_b)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let events: Vec<(String, i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT e.agent_code, e.month, e.kind, e.reason FROM agent_events e JOIN agents a ON a.code = e.agent_code WHERE {clause} ORDER BY e.agent_code, e.month, e.kind"
        )))
        .bind(&bind_a)
        .bind(&bind_b)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let months: Vec<(String, i64, i64, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT m.agent_code, m.month, m.acquisitions, m.acquisitions_3, m.fee_base, m.fee_reversed, m.collections, m.collected, m.collected_reversed
             FROM agent_months m JOIN agents a ON a.code = m.agent_code WHERE {clause} ORDER BY m.agent_code, m.month"
        )))
        .bind(&bind_a)
        .bind(&bind_b)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        cakupan_store::agents::assemble(
            rows,
            villages,
            events
                .into_iter()
                .map(|(c, m, k, r)| (c, i32::try_from(m).unwrap_or(i32::MAX), k, r))
                .collect(),
            months
                .into_iter()
                .map(|(c, m, a, b, d, e, f, g, h)| {
                    (
                        c,
                        i32::try_from(m).unwrap_or(i32::MAX),
                        [a, b, d, e, f, g, h],
                    )
                })
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (agent_code, month, kind) DO NOTHING",
        )
        .bind(code)
        .bind(i64::from(event.month().index()))
        .bind(kind)
        .bind(reason)
        .bind(by)
        .bind(at)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn add_deposit(
        &self,
        d: &cakupan_store::agents::Deposit,
    ) -> Result<cakupan_store::agents::Deposit> {
        // The single writer: nothing else changes what the agent holds meanwhile.
        let mut tx = self.writer.begin().await.map_err(db)?;
        let stored: Option<(String, String, i64, String, String)> = sqlx::query_as(
            "SELECT reference, agent_code, amount, deposited_on, recorded_by FROM deposits WHERE reference = ?1",
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
            "SELECT COALESCE((SELECT SUM(collected - collected_reversed) FROM agent_months WHERE agent_code = ?1), 0),
                    COALESCE((SELECT SUM(amount) FROM deposits WHERE agent_code = ?1), 0)",
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
            "INSERT INTO deposits (reference, agent_code, amount, deposited_on, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5)",
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
            "SELECT reference, agent_code, amount, deposited_on, recorded_by FROM deposits WHERE agent_code = ?1 ORDER BY deposited_on, reference",
        )
        .bind(agent_code)
        .fetch_all(&self.reader)
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
        self.collection_rows("p.collected_by = ?1", agent_code.to_string())
            .await
    }

    async fn collection(
        &self,
        posting_id: i64,
    ) -> Result<Option<cakupan_store::agents::Collection>> {
        Ok(self
            .collection_rows(
                "p.id = ?1 AND p.collected_by IS NOT NULL",
                posting_id.to_string(),
            )
            .await?
            .into_iter()
            .next())
    }

    async fn acquired_by(
        &self,
        agent_code: &str,
    ) -> Result<Vec<(cakupan_store::Participant, Vec<LedgerRow>)>> {
        // Two reads whatever the number of people: the participations (without heirs, which a
        // worklist does not show) and all their postings.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM participants WHERE agent_code = ?1 ORDER BY id"
        )))
        .bind(agent_code)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let sql = format!(
            "SELECT participant_id, {LEDGER_COLUMNS} FROM postings
             WHERE participant_id IN (SELECT id FROM participants WHERE agent_code = ?1)
             ORDER BY participant_id, id"
        );
        let mut ledgers: HashMap<i64, Vec<LedgerRow>> = HashMap::new();
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(agent_code)
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
        {
            let pid: i64 = row.try_get(0).map_err(db)?;
            ledgers
                .entry(pid)
                .or_default()
                .push(ledger_row_at(&row, 1)?);
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

    async fn agent_months_all(&self) -> Result<AgentChanges> {
        let rows: Vec<(String, i64, i64, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT agent_code, month, acquisitions, acquisitions_3, fee_base, fee_reversed, collections, collected, collected_reversed FROM agent_months",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        let mut out = AgentChanges::default();
        for (a, m, v0, v1, v2, v3, v4, v5, v6) in rows {
            if [v0, v1, v2, v3, v4, v5, v6].iter().any(|x| *x != 0) {
                out.0.insert(
                    (a, i32::try_from(m).unwrap_or(i32::MAX)),
                    [v0, v1, v2, v3, v4, v5, v6],
                );
            }
        }
        Ok(out)
    }

    async fn recompute_agents(&self) -> Result<AgentChanges> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        )
        .bind(u.username.as_str())
        .bind(u.password_hash.as_str())
        .bind(u.role.as_str())
        .bind(u.region.to_string())
        .bind(u.agent_code.as_deref())
        .bind(u.nik_index.as_deref())
        .bind(now)
        .bind(u.employer_code.as_deref())
        .fetch_one(&self.writer)
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
            .fetch_one(&self.reader)
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
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(token_hash)
            .execute(&self.writer)
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
            "SELECT id, at, actor, role, action, record, request_id, purpose, prev_hash, hash FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
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
        // The single writer: nothing else writes while the counters are rebuilt.
        let mut tx = self.writer.begin().await.map_err(db)?;
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
async fn fill_agent_months(pool: &SqlitePool) -> Result<()> {
    let (have, acquired): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM agent_months LIMIT 1)),
                (SELECT COUNT(*) FROM (SELECT 1 FROM participants p JOIN postings x ON x.participant_id = p.id
                                       WHERE p.agent_code IS NOT NULL LIMIT 1))",
    )
    .fetch_one(pool)
    .await
    .map_err(db)?;
    if have > 0 || acquired == 0 {
        return Ok(());
    }
    let mut tx = pool.begin().await.map_err(db)?;
    let changes = recompute_agents_on(&mut tx).await?;
    upsert_agent_months(&mut tx, &changes).await?;
    tx.commit().await.map_err(db)?;
    Ok(())
}

/// Adds agent-month changes to the stored rows.
async fn upsert_agent_months(
    tx: &mut Transaction<'_, Sqlite>,
    changes: &AgentChanges,
) -> Result<()> {
    let rows = changes.rows();
    let cols = cakupan_domain::perisai::AGENT_COLUMNS;
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

/// Every agent-month recomputed from the participations agents acquired and the postings
/// agents collected.
async fn recompute_agents_on(conn: &mut SqliteConnection) -> Result<AgentChanges> {
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
        ledgers
            .entry(pid)
            .or_default()
            .push(ledger_row_at(&row, 1)?);
    }
    let mut changes = AgentChanges::default();
    let ids: Vec<i64> = ledgers.keys().copied().collect();
    for chunk in ids.chunks(INSERT_CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, agent_code, programs FROM participants WHERE id IN (",
        );
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        for row in q
            .build()
            .persistent(keep_prepared(chunk.len(), INSERT_CHUNK))
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
        {
            let id: i64 = row.try_get(0).map_err(db)?;
            let agent: Option<String> = row.try_get(1).map_err(db)?;
            let programs: String = row.try_get(2).map_err(db)?;
            let three = cakupan_domain::ProgrammeSet::parse(&programs)
                .map(|p| p.contains(cakupan_domain::Programme::Jht))
                .unwrap_or(false);
            if let Some(l) = ledgers.get(&id) {
                changes.apply(agent.as_deref(), three, l, 1);
            }
        }
    }
    Ok(changes)
}

// Every counter recomputed from participants and postings alone, on one connection (a
// reader's, or the writer's transaction when rebuilding).
cakupan_store::recompute_on_impl!(
    conn: SqliteConnection,
    row: sqlx::sqlite::SqliteRow,
    ledger_row: ledger_row_at,
    registered: "registered_on",
    p1: "?1",
    p2: "?2"
);

/// Schema 5 encrypts personal fields; a database that already holds participants in clear
/// (schema 4 or older) cannot be converted by SQL alone, so it is refused with the reason
/// instead of being half migrated.
async fn refuse_clear_participants(pool: &SqlitePool) -> Result<()> {
    let migrated: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = 1")
            .fetch_optional(pool)
            .await
            .ok()
            .flatten();
    let Some(version) = migrated else {
        return Ok(()); // a new database
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
    tx: &mut Transaction<'_, Sqlite>,
    keys: &Keys,
    rules: &RuleSet,
    regs: &[Registration],
) -> Result<Vec<Outcome>> {
    if regs.is_empty() {
        return Ok(Vec::new());
    }
    // Insert first and look up only the rows the unique key turned away: a fresh import
    // then probes the NIK index once per row, not twice.
    let (mut outcomes, insert) = plan_batch(regs);
    let n = insert.len() as i64;
    let first: i64 = sqlx::query_scalar(
        "UPDATE sequences SET next_value = next_value + ?1 WHERE name = 'participant' RETURNING next_value - ?1",
    )
    .bind(n)
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
    let mut turned_away = Vec::new();
    let mut changes = CounterChanges::default();
    for (i, r, _) in &rows {
        if inserted.contains(&r.id) {
            outcomes[*i] = Some(Outcome::Created {
                id: r.id,
                kpj: r.kpj.clone(),
            });
            let reg = &regs[*i];
            changes.register(reg.village, reg.segment, Month::of(reg.registered_on));
            for (pos, h) in regs[*i].heirs.iter().enumerate() {
                let h = HeirRow::from_heir(h).seal(keys, r.id, pos)?;
                sqlx::query("INSERT INTO heirs (participant_id, position, name, relationship, nik, phone) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                    .bind(r.id)
                    .bind(pos as i64)
                    .bind(h.name)
                    .bind(h.relationship)
                    .bind(h.nik)
                    .bind(h.phone)
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?;
            }
        } else {
            turned_away.push(*i);
        }
    }
    let new_ids: HashSet<i64> = rows
        .iter()
        .filter(|(_, r, _)| inserted.contains(&r.id))
        .map(|(_, r, _)| r.id)
        .collect();
    let new_niks: Vec<Nik> = rows
        .iter()
        .filter(|(_, r, _)| inserted.contains(&r.id))
        .map(|(i, _, _)| regs[*i].nik)
        .collect();
    SqliteStore::overlap_of_new(&mut *tx, keys, rules, &new_niks, &new_ids, &mut changes).await?;
    upsert_counters(&mut *tx, &changes).await?;
    if !turned_away.is_empty() {
        let niks: Vec<Nik> = turned_away.iter().map(|&i| regs[i].nik).collect();
        let stored = SqliteStore::existing(&mut *tx, keys, &niks).await?;
        for i in turned_away {
            outcomes[i] = Some(settle(
                &regs[i],
                stored.get(&(regs[i].nik, regs[i].segment)),
            )?);
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
    tx: &mut Transaction<'_, Sqlite>,
    keys: &Keys,
    rules: &RuleSet,
    postings: &[NewPosting],
) -> Result<Vec<std::result::Result<PostingOutcome, FieldErrors>>> {
    if postings.is_empty() {
        return Ok(Vec::new());
    }
    let mut st = BatchState::default();
    let refs: Vec<&str> = postings.iter().map(|p| p.reference()).collect();
    for row in select_in(
        &mut *tx,
        "SELECT reference, id, participant_id, body FROM postings WHERE reference IN",
        &refs,
        "",
    )
    .await?
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
    let targets: Vec<&str> = postings
        .iter()
        .filter_map(|p| match p {
            NewPosting::Reversal { target, .. } => Some(target.as_str()),
            _ => None,
        })
        .collect();
    for row in select_in(
        &mut *tx,
        "SELECT reference, participant_id, kind FROM postings WHERE reference IN",
        &targets,
        "",
    )
    .await?
    {
        st.targets.insert(
            row.try_get(0).map_err(db)?,
            (row.try_get(1).map_err(db)?, row.try_get(2).map_err(db)?),
        );
    }
    for row in select_in(&mut *tx, "SELECT target_reference, reference FROM postings WHERE kind = 'reversal' AND target_reference IN", &targets, "").await? {
        st.reversed.insert(row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?);
    }
    let niks: Vec<Nik> = postings
        .iter()
        .filter_map(|p| match p {
            NewPosting::Contribution(pay) => Some(pay.nik),
            NewPosting::Termination { nik, .. } | NewPosting::Stop { nik, .. } => Some(*nik),
            NewPosting::Reversal { .. } => None,
        })
        .collect();
    for ((nik, segment), (id, kpj, registration)) in
        SqliteStore::existing(&mut *tx, keys, &niks).await?
    {
        let p = Participant {
            id,
            kpj,
            registration,
            dukcapil_status: String::new(),
        };
        st.by_id.insert(id, p.clone());
        st.by_key.insert((nik, segment), p);
    }
    let missing: Vec<i64> = st
        .targets
        .values()
        .map(|t| t.0)
        .filter(|id| !st.by_id.contains_key(id))
        .collect();
    for row in select_in(
        &mut *tx,
        &format!("SELECT {COLUMNS} FROM participants WHERE id IN"),
        &missing,
        "",
    )
    .await?
    {
        let p = cakupan_store::rows::participant(&row, keys)?.into_participant(Vec::new())?;
        st.by_id.insert(p.id, p);
    }
    // The other participations of the people reversals concern: their overlap counters.
    let reversal_niks: Vec<Nik> = st
        .targets
        .values()
        .filter_map(|t| st.by_id.get(&t.0))
        .map(|p| p.registration.nik)
        .collect();
    for (_, (id, kpj, registration)) in
        SqliteStore::existing(&mut *tx, keys, &reversal_niks).await?
    {
        st.by_id.entry(id).or_insert(Participant {
            id,
            kpj,
            registration,
            dukcapil_status: String::new(),
        });
    }
    let ids: Vec<i64> = st.by_id.keys().copied().collect();
    for row in select_in(
        &mut *tx,
        &format!("SELECT participant_id, {LEDGER_COLUMNS} FROM postings WHERE participant_id IN"),
        &ids,
        "ORDER BY participant_id, id",
    )
    .await?
    {
        let pid: i64 = row.try_get(0).map_err(db)?;
        st.ledgers
            .entry(pid)
            .or_default()
            .push(ledger_row_at(&row, 1)?);
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
/// read in it).
pub(crate) async fn append_audit_in(
    tx: &mut Transaction<'_, Sqlite>,
    keys: &Keys,
    entries: &[cakupan_store::accounts::AuditEntry],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    for r in cakupan_store::accounts::link(keys, last, entries)? {
        sqlx::query(
                "INSERT INTO audit (id, at, actor, role, action, record, request_id, purpose, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
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

cakupan_store::shared_sql_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
