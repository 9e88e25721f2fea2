//! The registry of participants (regions, participations, sealed fields) on PostgreSQL: the shared SQL of
//! `cakupan_store::participants_store_impl!`; its own: `upsert_regions_own`, `participant_own`.

use super::*;

cakupan_store::participants_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);

impl PgStore {
    /// Writes the regions, one `UNNEST` statement per 20,000.
    pub(crate) async fn upsert_regions_own(
        tx: &mut Transaction<'_, Postgres>,
        regions: &[&cakupan_domain::Region],
    ) -> Result<()> {
        for chunk in regions.chunks(20_000) {
            let codes: Vec<String> = chunk.iter().map(|r| r.code.to_string()).collect();
            let parents: Vec<Option<String>> = chunk
                .iter()
                .map(|r| r.parent_below_nation().map(|p| p.to_string()))
                .collect();
            let levels: Vec<i16> = chunk
                .iter()
                .map(|r| i16::from(r.code.level().depth()))
                .collect();
            let names: Vec<&str> = chunk.iter().map(|r| r.name.as_str()).collect();
            let kinds: Vec<&str> = chunk.iter().map(|r| r.kind.as_str()).collect();
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
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        }
        Ok(())
    }

    pub(crate) async fn participant_own(
        &self,
        id: i64,
        with_heirs: bool,
    ) -> Result<Option<Participant>> {
        // Through the id's route (migration 0014), so that on a cluster it reads one shard.
        Ok(self
            .load(
                "WHERE id = $1 AND nik_index = (SELECT nik_index FROM participant_ids WHERE id = $1)",
                id,
                with_heirs,
            )
            .await?
            .into_iter()
            .next())
    }
}

/// The staging table of a bulk load: the participations as they will be stored (sealed, under
/// their ids), with each row's line, registration month, the digest of its facts
/// (`Keys::registration_digest`) and the blind indexes of its name's words. Unlogged, made and
/// dropped inside the load's transaction.
const BULK_STAGING: &str = "CREATE UNLOGGED TABLE bulk_participants (
    line BIGINT NOT NULL, id BIGINT NOT NULL, kpj TEXT NOT NULL, nik BYTEA NOT NULL,
    segment TEXT NOT NULL, name BYTEA NOT NULL, birth_date BYTEA NOT NULL, sex TEXT NOT NULL,
    phone BYTEA, village_code TEXT NOT NULL, occupation_code TEXT NOT NULL, sector TEXT NOT NULL,
    income_base BYTEA NOT NULL, programs TEXT NOT NULL, registered_on DATE NOT NULL,
    channel TEXT NOT NULL, agent_code TEXT, review_flags TEXT NOT NULL, nik_index BYTEA NOT NULL,
    phone_index BYTEA, key_version INT NOT NULL, address BYTEA, budget_funded BOOLEAN NOT NULL,
    registered_month INT NOT NULL, digest BYTEA NOT NULL, words BYTEA[] NOT NULL)";

/// The staging table's columns in `COPY` order, and how many.
const BULK_COLUMNS: &str = "line, id, kpj, nik, segment, name, birth_date, sex, phone, village_code, occupation_code, sector, income_base, programs, registered_on, channel, agent_code, review_flags, nik_index, phone_index, key_version, address, budget_funded, registered_month, digest, words";
const BULK_FIELDS: i16 = 26;

/// The registry's columns a registration writes (the rest keep their defaults).
const PARTICIPANT_COLUMNS: &str = "id, kpj, nik, segment, name, birth_date, sex, phone, village_code, occupation_code, sector, income_base, programs, registered_on, channel, agent_code, review_flags, nik_index, phone_index, key_version, address, budget_funded";

/// The tables a bulk load fills, whose indexes and keys (with the foreign keys that point to
/// them) it drops first and makes again, by sorting, once the rows are in.
const REGISTRY_TABLES: &[&str] = &[
    "participants",
    "people",
    "participant_ids",
    "name_words",
    "coverage_states",
];

/// What a bulk load dropped from the tables it fills: plain indexes (their definitions) and
/// constraints (table, name, kind, definition).
struct Dropped {
    indexes: Vec<String>,
    constraints: Vec<(String, String, String, String)>,
}

/// Drops the plain indexes of `tables` and, with `keys`, their primary keys, unique keys and
/// foreign keys, and the foreign keys of other tables that point to them (those tables are
/// empty when the registry is: their rows name a participation). Inside the load's
/// transaction: a failure puts every one back.
async fn drop_keys(
    tx: &mut Transaction<'_, Postgres>,
    tables: &[&str],
    keys: bool,
) -> Result<Dropped> {
    let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT quote_ident(c.relname), pg_get_indexdef(i.indexrelid)
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = ANY(CAST($1 AS text[])::regclass[])
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
         ORDER BY 1",
    )
    .bind(&names)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let constraints: Vec<(String, String, String, String)> = if keys {
        sqlx::query_as(
            "SELECT k.conrelid::regclass::text, quote_ident(k.conname), k.contype::text,
                    pg_get_constraintdef(k.oid)
             FROM pg_constraint k
             WHERE k.contype IN ('p', 'u', 'f')
               AND (k.conrelid = ANY(CAST($1 AS text[])::regclass[])
                    OR (k.contype = 'f' AND k.confrelid = ANY(CAST($1 AS text[])::regclass[])))
             ORDER BY k.contype = 'f' DESC, 1, 2",
        )
        .bind(&names)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?
    } else {
        Vec::new()
    };
    // Foreign keys first (they depend on the keys they point to), then keys, then indexes.
    for (table, name, _, _) in &constraints {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} DROP CONSTRAINT {name}"
        )))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    for (name, _) in &indexes {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(Dropped {
        indexes: indexes.into_iter().map(|i| i.1).collect(),
        constraints,
    })
}

/// Makes again what [`drop_keys`] dropped: keys, then the foreign keys that point to them
/// (each checked against the rows now there, in one statement), then the plain indexes.
async fn rebuild_keys(tx: &mut Transaction<'_, Postgres>, d: Dropped) -> Result<()> {
    let (foreign, keys): (Vec<_>, Vec<_>) = d.constraints.into_iter().partition(|c| c.2 == "f");
    for (table, name, _, def) in keys.into_iter().chain(foreign) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} ADD CONSTRAINT {name} {def}"
        )))
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    for def in d.indexes {
        sqlx::raw_sql(sqlx::AssertSqlSafe(def))
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

impl PgStore {
    /// `ParticipantStore::register_bulk` (issue #23): one transaction that locks the registry
    /// against writers, refuses unless it and the ledger are empty, streams every row into
    /// an unlogged staging table with one binary `COPY` (sealed, ids drawn from the sequence
    /// batch by batch on another connection, since a connection in `COPY` runs nothing else),
    /// settles the repeats of a NIK and segment (the first line wins), drops the filled
    /// tables' keys and indexes, moves the rows with one `INSERT … SELECT` per table in key
    /// order, builds the keys and indexes again, and writes the counters from one aggregate of
    /// the staged rows plus the overlap of people registered in both segments. Failing
    /// anywhere leaves nothing.
    pub(crate) async fn register_bulk_own(
        &self,
        rules: &RuleSet,
        mut rows: cakupan_store::participants::BulkRows,
    ) -> Result<cakupan_store::participants::BulkRegistered> {
        use crate::copy::CopyRows;
        let keys = &self.keys;
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Writers wait from here, and readers too once the keys are dropped (dropping a key
        // locks its table whole) until the commit: a first load runs before the service
        // opens. Two bulk loads run one after the other, and the second finds the registry
        // filled.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "LOCK TABLE {}, postings, counters IN SHARE ROW EXCLUSIVE MODE;
             SET LOCAL work_mem = '256MB'; SET LOCAL maintenance_work_mem = '512MB'",
            REGISTRY_TABLES.join(", ")
        )))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let (filled, posted): (bool, bool) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM participants), EXISTS (SELECT 1 FROM postings)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if filled || posted {
            let (n, p): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM participants), (SELECT COUNT(*) FROM postings)",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            return Err(cakupan_store::participants::bulk_refusal(
                u64::try_from(n).unwrap_or(0),
                u64::try_from(p).unwrap_or(0),
            ));
        }
        sqlx::raw_sql(BULK_STAGING)
            .execute(&mut *tx)
            .await
            .map_err(db)?;

        // Stage: one COPY for the whole load, sent a batch at a time.
        let mut copy = tx
            .copy_in_raw(&format!(
                "COPY bulk_participants ({BULK_COLUMNS}) FROM STDIN (FORMAT binary)"
            ))
            .await
            .map_err(db)?;
        // Sealing is most of the client's work (a dozen ciphers and keyed hashes a row): each
        // batch is sealed in parallel on blocking threads, and the next batch is sealed while
        // the server takes this one.
        let (sealed_tx, mut sealed_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let seal = async move {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            let mut first = true;
            while let Some(batch) = rows.recv().await {
                if batch.is_empty() {
                    continue;
                }
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT nextval('participant_seq') FROM generate_series(1, $1)",
                )
                .bind(batch.len() as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut parts = Vec::with_capacity(threads);
                let per = batch.len().div_ceil(threads);
                let mut rest: Vec<((u64, Registration), i64)> =
                    batch.into_iter().zip(ids).collect();
                while !rest.is_empty() {
                    let tail = rest.split_off(per.min(rest.len()));
                    let part = std::mem::replace(&mut rest, tail);
                    let (keys, header) = (self.keys.clone(), first);
                    first = false;
                    parts.push(tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
                        let mut out = CopyRows::new();
                        let start = out.take();
                        let mut body = if header { start } else { Vec::new() };
                        for ((line, r), id) in &part {
                            stage_row(&mut out, &keys, *line, *id, r)?;
                        }
                        body.extend_from_slice(&out.take());
                        Ok(body)
                    }));
                }
                for part in parts {
                    let body = part
                        .await
                        .map_err(|e| StoreError::Database(format!("sealing a batch: {e}")))??;
                    if sealed_tx.send(body).await.is_err() {
                        return Ok(()); // the COPY stopped; its error is returned
                    }
                }
            }
            if first {
                // No row at all: the stream still needs its header.
                let _ = sealed_tx.send(CopyRows::new().take()).await;
            }
            Ok::<(), StoreError>(())
        };
        let send = async move {
            while let Some(body) = sealed_rx.recv().await {
                copy.send(body).await.map_err(db)?;
            }
            copy.send(CopyRows::trailer().as_slice())
                .await
                .map_err(db)?;
            copy.finish().await.map_err(db)
        };
        let (sealed, sent) = tokio::join!(seal, send);
        sealed?;
        let staged = sent?;

        // The repeats of a NIK and segment: the first line is stored, a later one is the same
        // registration again or a conflict with it.
        let mut repeats = Vec::new();
        let dup_rows = sqlx::query(
            "SELECT b.line, b.id, b.nik_index, b.segment, b.digest
             FROM bulk_participants b
             JOIN (SELECT nik_index, segment FROM bulk_participants
                   GROUP BY nik_index, segment HAVING COUNT(*) > 1) d
               ON d.nik_index = b.nik_index AND d.segment = b.segment
             ORDER BY b.nik_index, b.segment, b.line",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut dropped: Vec<i64> = Vec::new();
        // The group's key (the person and the segment), and its first row's digest, id and KPJ.
        type First = ((Vec<u8>, String), Vec<u8>, i64, String);
        let mut first: Option<First> = None;
        for r in &dup_rows {
            let line: i64 = r.try_get(0).map_err(db)?;
            let id: i64 = r.try_get(1).map_err(db)?;
            let key: (Vec<u8>, String) = (r.try_get(2).map_err(db)?, r.try_get(3).map_err(db)?);
            let digest: Vec<u8> = r.try_get(4).map_err(db)?;
            match &first {
                Some((k, fdigest, fid, kpj)) if *k == key => {
                    dropped.push(id);
                    let outcome = if *fdigest == digest {
                        Outcome::Existing {
                            id: *fid,
                            kpj: kpj.clone(),
                        }
                    } else {
                        Outcome::Conflict {
                            kpj: kpj.clone(),
                            segment: key
                                .1
                                .parse::<Segment>()
                                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        }
                    };
                    repeats.push((u64::try_from(line).unwrap_or(0), outcome));
                }
                _ => first = Some((key, digest, id, kpj_for(id)?)),
            }
        }
        repeats.sort_by_key(|r| r.0);
        if !dropped.is_empty() {
            sqlx::query("DELETE FROM bulk_participants WHERE id = ANY($1)")
                .bind(&dropped)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }

        // Move the rows into tables without their indexes and keys, which are built again
        // after by sorting (a foreign key checked row by row tripled the registry's insert).
        let registry = drop_keys(&mut tx, REGISTRY_TABLES, true).await?;
        // The counters count what the registry and the ledger hold, which is nothing yet:
        // whatever rows they have are zeros, and they are written whole below.
        sqlx::query("DELETE FROM counters")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let counting = drop_keys(&mut tx, &["counters"], true).await?;
        for statement in [
            "INSERT INTO people (nik_index)
               SELECT DISTINCT nik_index FROM bulk_participants ORDER BY nik_index"
                .to_string(),
            format!(
                "INSERT INTO participants ({PARTICIPANT_COLUMNS})
                   SELECT {PARTICIPANT_COLUMNS} FROM bulk_participants ORDER BY id"
            ),
            "INSERT INTO participant_ids (id, nik_index)
               SELECT id, nik_index FROM bulk_participants ORDER BY id"
                .to_string(),
            "INSERT INTO name_words (word, region, participant_id)
               SELECT w.word, b.village_code, b.id
               FROM bulk_participants b, UNNEST(b.words) AS w(word)"
                .to_string(),
            "INSERT INTO coverage_states (participant_id, segment, registered, last_paid, terminated)
               SELECT id, segment, registered_month, NULL, NULL FROM bulk_participants ORDER BY id"
                .to_string(),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        rebuild_keys(&mut tx, registry).await?;
        // The counters. The villages' rows come from one aggregate of the staged rows, written
        // by the same statement; the levels above them are summed in memory from those rows
        // as they are read back (their number grows with the regions and months, not with the
        // registry); then the overlap correction of the people registered in both segments.
        let village_level = i16::from(cakupan_domain::Level::Village.depth());
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO counters (region, level, segment, month, {})
             SELECT village_code, $1, segment, registered_month, COUNT(*)
             FROM bulk_participants GROUP BY village_code, segment, registered_month",
            COUNTER_COLUMNS[cakupan_store::ledger::REGISTERED]
        )))
        .bind(village_level)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let mut changes = CounterChanges::default();
        let mut created: u64 = 0;
        {
            use futures_util::TryStreamExt;
            let mut villages =
                sqlx::query_as::<_, (String, String, i32, i64)>(sqlx::AssertSqlSafe(format!(
                    "SELECT region, segment, month, {} FROM counters WHERE level = $1",
                    COUNTER_COLUMNS[cakupan_store::ledger::REGISTERED]
                )))
                .bind(village_level)
                .fetch(&mut *tx);
            while let Some((village, segment, month, n)) = villages.try_next().await.map_err(db)? {
                let village = RegionCode::parse(&village)
                    .map_err(|e| StoreError::Corrupt(format!("village {village}: {e}")))?;
                let segment = segment
                    .parse::<Segment>()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let month = Month::from_index(month)
                    .ok_or_else(|| StoreError::Corrupt(format!("month index {month}")))?;
                changes.register_above_village(village, segment, month, n);
                created += u64::try_from(n).unwrap_or(0);
            }
        }
        let both: HashSet<i64> = sqlx::query_scalar(
            "SELECT id FROM bulk_participants WHERE nik_index IN
               (SELECT nik_index FROM bulk_participants GROUP BY nik_index HAVING COUNT(*) > 1)",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .into_iter()
        .collect();
        crate::overlap_of_new(&mut tx, keys, rules, &both, &mut changes).await?;
        copy_counters(&mut tx, &changes).await?;
        rebuild_keys(&mut tx, counting).await?;
        sqlx::raw_sql("DROP TABLE bulk_participants")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if created + repeats.len() as u64 != staged {
            return Err(StoreError::Database(format!(
                "bulk load: {staged} rows staged, {created} stored and {} repeats",
                repeats.len()
            )));
        }
        tx.commit().await.map_err(db)?;
        Ok(cakupan_store::participants::BulkRegistered { created, repeats })
    }
}

/// Writes counters that are not there yet with one binary `COPY`, sent 20,000 rows at a time
/// (the table's keys are built after, so the order does not matter).
async fn copy_counters(tx: &mut Transaction<'_, Postgres>, changes: &CounterChanges) -> Result<()> {
    let mut copy = tx
        .copy_in_raw(&format!(
            "COPY counters (region, level, segment, month, {}) FROM STDIN (FORMAT binary)",
            COUNTER_COLUMNS.join(", ")
        ))
        .await
        .map_err(db)?;
    let mut out = crate::copy::CopyRows::new();
    for (n, (region, level, segment, month, values)) in changes.unsorted_rows().enumerate() {
        out.row(4 + COUNTERS as i16)
            .text(&region)
            .int2(level)
            .text(segment.as_str())
            .int4(month);
        for v in values {
            out.int8(v);
        }
        if n % 20_000 == 19_999 {
            copy.send(out.take()).await.map_err(db)?;
        }
    }
    copy.send(out.take()).await.map_err(db)?;
    copy.send(crate::copy::CopyRows::trailer().as_slice())
        .await
        .map_err(db)?;
    copy.finish().await.map_err(db)?;
    Ok(())
}

/// One staged row: the registration sealed under its id, as `COPY` writes it.
fn stage_row(
    out: &mut crate::copy::CopyRows,
    keys: &Keys,
    line: u64,
    id: i64,
    r: &Registration,
) -> Result<()> {
    let kpj = kpj_for(id)?;
    let sealed = cakupan_store::ParticipantRow::from_registration(id, kpj.clone(), r).seal(keys)?;
    let words: Vec<Vec<u8>> = cakupan_domain::participants::name_words(&r.name)
        .iter()
        .map(|w| keys.name_word_index(w))
        .collect();
    out.row(BULK_FIELDS)
        .int8(i64::try_from(line).unwrap_or(i64::MAX))
        .int8(id)
        .text(&kpj)
        .bytea(&sealed.nik)
        .text(r.segment.as_str())
        .bytea(&sealed.name)
        .bytea(&sealed.birth_date)
        .text(r.sex.as_str())
        .opt_bytea(sealed.phone.as_deref())
        .text(&r.village.to_string())
        .text(&r.occupation_code)
        .text(r.sector.as_str())
        .bytea(&sealed.income_base)
        .text(&r.programmes.to_string())
        .date(r.registered_on)
        .text(r.channel.as_str())
        .opt_text(r.agent_code.as_deref())
        .text(&r.review_flags.join(","))
        .bytea(&sealed.nik_index)
        .opt_bytea(sealed.phone_index.as_deref())
        .int4(sealed.key_version)
        .opt_bytea(sealed.address.as_deref())
        .boolean(r.budget_funded)
        .int4(Month::of(r.registered_on).index())
        .bytea(&keys.registration_digest(r))
        .bytea_array(&words);
    Ok(())
}
