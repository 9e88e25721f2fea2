//! The reads and writes every feature's SQL builds on, written once for both sqlx backends:
//! each backend expands [`store_flows!`] at its crate root and the features' macros call the
//! functions it defines (`existing`, `ledger_rows`, `overlap_of_new`, `register_batch_in`,
//! `post_batch_in`, `participants_by_ids`, `rewrite`, `recompute_agents_on`, `append_audit_in`,
//! `refuse_clear_participants`, `load`, `collection_rows`).
//!
//! What differs stays the backend's own: its bulk writes (`insert_postings`,
//! `upsert_counters`, `upsert_agent_months` at its crate root;
//! `insert_participations_own`) and its locks (`lock_references_own`,
//! `people_of_batch_own`).

/// Expands, in the backend crate's root, the shared flows for `$store` on the sqlx database
/// `$db` (`$read` names its read pool, `$db_err` maps a sqlx error).
#[macro_export]
macro_rules! store_flows {
    ($store:ident, $db:ty, read = $read:ident, db_err = $dberr:path) => {
        /// Stored participations of these NIKs, keyed by NIK and segment.
        pub(crate) async fn existing(
            tx: &mut sqlx::Transaction<'_, $db>,
            keys: &$crate::crypto::Keys,
            niks: &[cakupan_domain::Nik],
        ) -> $crate::Result<
            std::collections::HashMap<
                (cakupan_domain::Nik, cakupan_domain::Segment),
                (i64, String, cakupan_domain::participants::Registration),
            >,
        > {
            if niks.is_empty() {
                return Ok(Default::default());
            }
            let index: Vec<Vec<u8>> = niks.iter().map(|n| keys.nik_index(n)).collect();
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{} WHERE nik_index {}",
                <$store as $crate::Dialect>::SELECT_PARTICIPANTS,
                <$store as $crate::Dialect>::one_of_blobs(1)
            )))
            .bind(<$store as $crate::Dialect>::blobs(&index))
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            let mut out = std::collections::HashMap::with_capacity(rows.len());
            for row in rows {
                let p = $crate::rows::participant(&row, keys)?.into_participant(Vec::new())?;
                out.insert(
                    (p.registration.nik, p.registration.segment),
                    (p.id, p.kpj, p.registration),
                );
            }
            Ok(out)
        }

        /// The participations of these ids (without heirs), in id order.
        pub(crate) async fn participants_by_ids(
            tx: &mut sqlx::Transaction<'_, $db>,
            keys: &$crate::crypto::Keys,
            ids: &[i64],
        ) -> $crate::Result<Vec<$crate::Participant>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{} WHERE id {} ORDER BY id",
                <$store as $crate::Dialect>::SELECT_PARTICIPANTS,
                <$store as $crate::Dialect>::one_of(1)
            )))
            .bind(<$store as $crate::Dialect>::ids(ids))
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?
            .iter()
            .map(|r| $crate::rows::participant(r, keys)?.into_participant(Vec::new()))
            .collect()
        }

        /// A participation's postings, oldest first.
        pub(crate) async fn ledger_rows(
            conn: &mut <$db as sqlx::Database>::Connection,
            participant_id: i64,
        ) -> $crate::Result<Vec<$crate::ledger::LedgerRow>> {
            let sql = format!(
                "SELECT {} FROM postings WHERE participant_id = $1 ORDER BY id",
                $crate::rows::LEDGER_COLUMNS
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(participant_id)
                .fetch_all(conn)
                .await
                .map_err($dberr)?
                .iter()
                .map(|r| $crate::rows::ledger(r, 0))
                .collect()
        }

        /// The overlap correction for registrations just inserted (`new_ids`): only people
        /// who now hold more than one participation have one.
        pub(crate) async fn overlap_of_new(
            tx: &mut sqlx::Transaction<'_, $db>,
            keys: &$crate::crypto::Keys,
            rules: &cakupan_domain::RuleSet,
            new_ids: &std::collections::HashSet<i64>,
            changes: &mut $crate::ledger::CounterChanges,
        ) -> $crate::Result<()> {
            use std::collections::HashMap;
            if new_ids.is_empty() {
                return Ok(());
            }
            let ids: Vec<i64> = new_ids.iter().copied().collect();
            // The new registrations' people, then those of them holding more than one
            // participation, then their participations: each statement probes an index with
            // the keys it is given. (One statement with the people as a subquery was planned
            // as two scans of the whole registry where the server had no statistics yet.)
            let people: Vec<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT nik_index FROM participants WHERE id {}",
                <$store as $crate::Dialect>::one_of(1)
            )))
            .bind(<$store as $crate::Dialect>::ids(&ids))
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            let shared: Vec<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT nik_index FROM participants WHERE nik_index {}
                 GROUP BY nik_index HAVING COUNT(*) > 1",
                <$store as $crate::Dialect>::one_of_blobs(1)
            )))
            .bind(<$store as $crate::Dialect>::blobs(&people))
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            if shared.is_empty() {
                return Ok(());
            }
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{} WHERE nik_index {} ORDER BY nik_index, id",
                <$store as $crate::Dialect>::SELECT_PARTICIPANTS,
                <$store as $crate::Dialect>::one_of_blobs(1)
            )))
            .bind(<$store as $crate::Dialect>::blobs(&shared))
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            let mut groups: HashMap<cakupan_domain::Nik, Vec<$crate::Participant>> = HashMap::new();
            for row in rows {
                let p = $crate::rows::participant(&row, keys)?.into_participant(Vec::new())?;
                groups.entry(p.registration.nik).or_default().push(p);
            }
            let mut ledgers: HashMap<i64, Vec<$crate::ledger::LedgerRow>> = HashMap::new();
            for group in groups.values() {
                for p in group.iter().filter(|p| !new_ids.contains(&p.id)) {
                    ledgers.insert(p.id, ledger_rows(tx, p.id).await?);
                }
            }
            for group in groups.values() {
                $crate::ledger::registration_overlap(rules, group, new_ids, &ledgers, changes)?;
            }
            Ok(())
        }

        /// Writes participations' coverage states (`reminders::CoverageState`), the planner's
        /// index of who is due, in the transaction that changed their ledger or registered them.
        pub(crate) async fn upsert_coverage_states(
            tx: &mut sqlx::Transaction<'_, $db>,
            states: &[$crate::reminders::CoverageState],
        ) -> $crate::Result<()> {
            for chunk in states.chunks(500) {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO coverage_states (participant_id, segment, registered, last_paid, terminated)
                     VALUES {} ON CONFLICT (participant_id) DO UPDATE
                     SET last_paid = excluded.last_paid, terminated = excluded.terminated",
                    $crate::values_rows(chunk.len(), 5)
                )));
                for s in chunk {
                    q = q
                        .bind(s.participant_id)
                        .bind(&s.segment)
                        .bind(s.registered)
                        .bind(s.last_paid)
                        .bind(s.terminated);
                }
                q.execute(&mut **tx).await.map_err($dberr)?;
            }
            Ok(())
        }

        /// `Store::register_batch` inside a transaction the caller commits (the employer
        /// channel runs it with its own writes). The rows are inserted first and only those
        /// the unique key turned away are looked up: one index probe per new row.
        pub(crate) async fn register_batch_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            keys: &$crate::crypto::Keys,
            rules: &cakupan_domain::RuleSet,
            regs: &[cakupan_domain::participants::Registration],
        ) -> $crate::Result<Vec<$crate::Outcome>> {
            if regs.is_empty() {
                return Ok(Vec::new());
            }
            let (mut outcomes, insert) = $crate::plan_batch(regs);
            let (pairs, inserted) = $store::insert_participations_own(tx, keys, regs, &insert).await?;
            let mut turned_away = Vec::new();
            let mut changes = $crate::ledger::CounterChanges::default();
            for &(i, id) in &pairs {
                let r = &regs[i];
                if !inserted.contains(&id) {
                    turned_away.push(i);
                    continue;
                }
                outcomes[i] = Some($crate::Outcome::Created {
                    id,
                    kpj: $crate::kpj_for(id)?,
                });
                changes.register(r.village, r.segment, cakupan_domain::Month::of(r.registered_on));
                for (pos, h) in r.heirs.iter().enumerate() {
                    let h = $crate::HeirRow::from_heir(h).seal(keys, id, pos)?;
                    sqlx::query(
                        "INSERT INTO heirs (participant_id, position, name, relationship, nik, phone, nik_index)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(id)
                    .bind(pos as i32)
                    .bind(h.name)
                    .bind(h.relationship)
                    .bind(h.nik)
                    .bind(h.phone)
                    .bind(keys.nik_index(&r.nik))
                    .execute(&mut **tx)
                    .await
                    .map_err($dberr)?;
                }
            }
            let named: Vec<(i64, cakupan_domain::RegionCode, &str)> = pairs
                .iter()
                .filter(|(_, id)| inserted.contains(id))
                .map(|&(i, id)| (id, regs[i].village, regs[i].name.as_str()))
                .collect();
            write_name_words(&mut **tx, keys, &named, false).await?;
            overlap_of_new(tx, keys, rules, &inserted, &mut changes).await?;
            upsert_counters(tx, &changes).await?;
            let states: Vec<$crate::reminders::CoverageState> = pairs
                .iter()
                .filter(|(_, id)| inserted.contains(id))
                .map(|&(i, id)| $crate::reminders::CoverageState {
                    participant_id: id,
                    segment: regs[i].segment.to_string(),
                    registered: cakupan_domain::Month::of(regs[i].registered_on).index(),
                    last_paid: None,
                    terminated: None,
                })
                .collect();
            upsert_coverage_states(tx, &states).await?;
            if !turned_away.is_empty() {
                let niks: Vec<cakupan_domain::Nik> = turned_away.iter().map(|&i| regs[i].nik).collect();
                let stored = existing(tx, keys, &niks).await?;
                for i in turned_away {
                    let r = &regs[i];
                    outcomes[i] = Some($crate::settle(r, stored.get(&(r.nik, r.segment)))?);
                }
            }
            $crate::resolve_duplicates(regs, &mut outcomes);
            outcomes
                .into_iter()
                .map(|o| {
                    o.ok_or_else(|| {
                        $crate::StoreError::Database("registration left without an outcome".into())
                    })
                })
                .collect()
        }

        /// `Store::post_batch` inside a transaction the caller commits (the employer channel
        /// runs it with its own writes).
        pub(crate) async fn post_batch_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            keys: &$crate::crypto::Keys,
            rules: &cakupan_domain::RuleSet,
            postings: &[$crate::ledger::NewPosting],
        ) -> $crate::Result<
            Vec<std::result::Result<$crate::ledger::PostingOutcome, cakupan_domain::FieldErrors>>,
        > {
            use $crate::ledger::NewPosting;
            use sqlx::Row;
            if postings.is_empty() {
                return Ok(Vec::new());
            }
            let mut st = $crate::ledger::BatchState::default();
            let refs: Vec<&str> = postings.iter().map(|p| p.reference()).collect();
            $store::lock_references_own(tx, &refs).await?;
            for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT reference, id, participant_id, body FROM postings WHERE reference {}",
                <$store as $crate::Dialect>::one_of(1)
            )))
            .bind(<$store as $crate::Dialect>::texts(&refs))
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?
            {
                st.existing.insert(
                    row.try_get(0).map_err($dberr)?,
                    (
                        row.try_get(1).map_err($dberr)?,
                        row.try_get(2).map_err($dberr)?,
                        row.try_get(3).map_err($dberr)?,
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
            if !targets.is_empty() {
                for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT reference, participant_id, kind FROM postings WHERE reference {}",
                    <$store as $crate::Dialect>::one_of(1)
                )))
                .bind(<$store as $crate::Dialect>::texts(&targets))
                .fetch_all(&mut **tx)
                .await
                .map_err($dberr)?
                {
                    st.targets.insert(
                        row.try_get(0).map_err($dberr)?,
                        (row.try_get(1).map_err($dberr)?, row.try_get(2).map_err($dberr)?),
                    );
                }
                for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT target_reference, reference FROM postings WHERE kind = 'reversal' AND target_reference {}",
                    <$store as $crate::Dialect>::one_of(1)
                )))
                .bind(<$store as $crate::Dialect>::texts(&targets))
                .fetch_all(&mut **tx)
                .await
                .map_err($dberr)?
                {
                    st.reversed.insert(row.try_get(0).map_err($dberr)?, row.try_get(1).map_err($dberr)?);
                }
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
            // Every person the batch touches (locked where rows lock), then all their
            // participations, read in a new statement.
            let people = $store::people_of_batch_own(tx, &niks, &target_ids).await?;
            if !people.is_empty() {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{} WHERE nik_index {} ORDER BY id",
                    <$store as $crate::Dialect>::SELECT_PARTICIPANTS,
                    <$store as $crate::Dialect>::one_of_blobs(1)
                )))
                .bind(<$store as $crate::Dialect>::blobs(&people))
                .fetch_all(&mut **tx)
                .await
                .map_err($dberr)?;
                for row in rows {
                    let p = $crate::rows::participant(&row, keys)?.into_participant(Vec::new())?;
                    st.by_key
                        .insert((p.registration.nik, p.registration.segment), p.clone());
                    st.by_id.insert(p.id, p);
                }
                let ids: Vec<i64> = st.by_id.keys().copied().collect();
                for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT participant_id, {} FROM postings WHERE participant_id {} ORDER BY participant_id, id",
                    $crate::rows::LEDGER_COLUMNS,
                    <$store as $crate::Dialect>::one_of(1)
                )))
                .bind(<$store as $crate::Dialect>::ids(&ids))
                .fetch_all(&mut **tx)
                .await
                .map_err($dberr)?
                {
                    let pid: i64 = row.try_get(0).map_err($dberr)?;
                    st.ledgers.entry(pid).or_default().push($crate::rows::ledger(&row, 1)?);
                }
            }
            let before = st.ledgers.clone();
            let (mut outcomes, inserts) = st.plan(rules, keys, postings);
            let rows = $crate::ledger::insert_rows(postings, &inserts);
            let ids = insert_postings(tx, &rows).await?;
            $crate::ledger::mark_posted(&mut outcomes, &inserts, ids);
            let changes = st.changes(rules, &before, &inserts)?;
            upsert_counters(tx, &changes).await?;
            let touched: std::collections::BTreeSet<i64> =
                inserts.iter().map(|p| p.participant_id).collect();
            let empty = Vec::new();
            let states: Vec<$crate::reminders::CoverageState> = touched
                .into_iter()
                .filter_map(|pid| st.by_id.get(&pid))
                .map(|p| {
                    let reg = &p.registration;
                    let registered = cakupan_domain::Month::of(reg.registered_on);
                    let f = $crate::ledger::facts(reg.segment, registered, st.ledgers.get(&p.id).unwrap_or(&empty));
                    $crate::reminders::CoverageState {
                        participant_id: p.id,
                        segment: reg.segment.to_string(),
                        registered: registered.index(),
                        last_paid: cakupan_domain::coverage::protected_until(&f).map(|m| m.index()),
                        terminated: f.terminated.map(|m| m.index()),
                    }
                })
                .collect();
            upsert_coverage_states(tx, &states).await?;
            upsert_agent_months(tx, &st.agent_changes(&before, &inserts)).await?;
            add_funnel_stages(tx, &st.first_paid_self_registrations(&before, &inserts)).await?;
            $crate::ledger::resolve_repeats(postings, &mut outcomes);
            outcomes
                .into_iter()
                .map(|o| {
                    o.ok_or_else(|| $crate::StoreError::Database("posting left without an outcome".into()))
                })
                .collect()
        }

        /// Adds to the enrolment funnel's counters inside the caller's transaction.
        pub(crate) async fn add_funnel_stages(
            tx: &mut <$db as sqlx::Database>::Connection,
            rows: &[(String, cakupan_domain::RegionCode, cakupan_domain::enrolment::Stage, u64)],
        ) -> $crate::Result<()> {
            for (week, village, stage, n) in rows {
                sqlx::query(
                    "INSERT INTO enrolment_funnel (week, village_code, stage, n) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (week, village_code, stage) DO UPDATE SET n = enrolment_funnel.n + excluded.n",
                )
                .bind(week)
                .bind(village.to_string())
                .bind(stage.as_str())
                .bind(i64::try_from(*n).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
            }
            Ok(())
        }

        /// The words of these participations' names (`participants::name_words`), as blind
        /// indexes beside each participation's village, for the search by name (issue #22);
        /// `replace` first drops the words they had (a correction).
        pub(crate) async fn write_name_words(
            tx: &mut <$db as sqlx::Database>::Connection,
            keys: &$crate::crypto::Keys,
            rows: &[(i64, cakupan_domain::RegionCode, &str)],
            replace: bool,
        ) -> $crate::Result<()> {
            if rows.is_empty() {
                return Ok(());
            }
            if replace {
                let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM name_words WHERE participant_id {}",
                    <$store as $crate::Dialect>::one_of(1)
                )))
                .bind(<$store as $crate::Dialect>::ids(&ids))
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
            }
            let words: Vec<(Vec<u8>, String, i64)> = rows
                .iter()
                .flat_map(|(id, village, name)| {
                    cakupan_domain::participants::name_words(name)
                        .into_iter()
                        .map(move |w| (keys.name_word_index(&w), village.to_string(), *id))
                })
                .collect();
            // A few thousand rows a statement: far under either database's parameter limit.
            for chunk in words.chunks(2000) {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO name_words (word, region, participant_id) VALUES {} ON CONFLICT DO NOTHING",
                    $crate::values_rows(chunk.len(), 3)
                )));
                for (w, region, id) in chunk {
                    q = q.bind(w.clone()).bind(region.clone()).bind(*id);
                }
                q.execute(&mut *tx).await.map_err($dberr)?;
            }
            Ok(())
        }

        /// Writes every changeable column of a stored participant: its sealed personal fields
        /// (under the current key), their indexes and the clear columns a correction may change.
        pub(crate) async fn rewrite(
            tx: &mut <$db as sqlx::Database>::Connection,
            r: &$crate::ParticipantRow,
            sealed: &$crate::SealedFields,
        ) -> $crate::Result<()> {
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
            .map_err($dberr)?;
            Ok(())
        }

        /// Every agent-month recomputed from the participations agents acquired and the
        /// postings agents collected.
        pub(crate) async fn recompute_agents_on(
            conn: &mut <$db as sqlx::Database>::Connection,
        ) -> $crate::Result<$crate::ledger::AgentChanges> {
            use sqlx::Row;
            let sql = format!(
                "SELECT p.participant_id, {} FROM postings p
                 WHERE p.participant_id IN (
                     SELECT id FROM participants WHERE agent_code IS NOT NULL
                     UNION SELECT participant_id FROM postings WHERE collected_by IS NOT NULL)
                 ORDER BY p.participant_id, p.id",
                $crate::rows::LEDGER_COLUMNS
                    .split(", ")
                    .map(|c| format!("p.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut ledgers: std::collections::HashMap<i64, Vec<$crate::ledger::LedgerRow>> =
                Default::default();
            for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut *conn)
                .await
                .map_err($dberr)?
            {
                let pid: i64 = row.try_get(0).map_err($dberr)?;
                ledgers
                    .entry(pid)
                    .or_default()
                    .push($crate::rows::ledger(&row, 1)?);
            }
            let ids: Vec<i64> = ledgers.keys().copied().collect();
            let mut changes = $crate::ledger::AgentChanges::default();
            let rows: Vec<(i64, Option<String>, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id, agent_code, programs FROM participants WHERE id {}",
                <$store as $crate::Dialect>::one_of(1)
            )))
            .bind(<$store as $crate::Dialect>::ids(&ids))
            .fetch_all(&mut *conn)
            .await
            .map_err($dberr)?;
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

        /// Appends audit entries to the chain inside the caller's transaction (the chain's last
        /// entry read in it, after the chain's lock where writers run concurrently).
        pub(crate) async fn append_audit_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            keys: &$crate::crypto::Keys,
            entries: &[$crate::accounts::AuditEntry],
        ) -> $crate::Result<()> {
            if entries.is_empty() {
                return Ok(());
            }
            // One chain, one order: appends queue on this lock.
            if let Some(lock) = <$store as $crate::Dialect>::advisory_lock(4244, 0) {
                sqlx::query(sqlx::AssertSqlSafe(lock))
                    .execute(&mut **tx)
                    .await
                    .map_err($dberr)?;
            }
            let last: Option<(i64, String)> =
                sqlx::query_as("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($dberr)?;
            for r in $crate::accounts::link(keys, last, entries)? {
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
                .map_err($dberr)?;
            }
            Ok(())
        }

        /// Schema 5 encrypts personal fields; a database that already holds participants in
        /// clear (schema 4 or older) cannot be converted by SQL alone, so it is refused with
        /// the reason instead of being half migrated.
        pub(crate) async fn refuse_clear_participants(pool: &sqlx::Pool<$db>) -> $crate::Result<()> {
            let migrated: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
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
                .map_err($dberr)?;
            if n > 0 {
                return Err($crate::clear_participants_refused(n, version));
            }
            Ok(())
        }

        impl $store {
            /// Collections (postings with a collecting agent) matching `clause` on `p` (one
            /// parameter, `$1`), oldest first.
            pub(crate) async fn collection_rows<T>(
                &self,
                clause: &str,
                bind: T,
            ) -> $crate::Result<Vec<$crate::agents::Collection>>
            where
                T: for<'q> sqlx::Encode<'q, $db> + sqlx::Type<$db> + Send + 'static,
            {
                let rows: Vec<$crate::agents::CollectionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT p.id, p.reference, p.participant_id, p.collected_by, p.amount, {},
                            CAST(p.first_month AS BIGINT), CAST(p.months AS BIGINT),
                            CAST(CASE WHEN EXISTS (SELECT 1 FROM postings r WHERE r.kind = 'reversal' AND r.target_reference = p.reference) THEN 1 ELSE 0 END AS BIGINT)
                     FROM postings p WHERE {clause} ORDER BY p.id",
                    <$store as $crate::Dialect>::date_text("p.paid_on")
                )))
                .bind(bind)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.into_iter().map($crate::agents::Collection::from_row).collect()
            }

            /// The participations `clause` selects (one parameter, `$1`), with their heirs.
            pub(crate) async fn load<T>(
                &self,
                clause: &'static str,
                bind: T,
                with_heirs: bool,
            ) -> $crate::Result<Vec<$crate::Participant>>
            where
                T: for<'q> sqlx::Encode<'q, $db> + sqlx::Type<$db> + Send + 'static,
            {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{} {clause}",
                    <$store as $crate::Dialect>::SELECT_PARTICIPANTS
                )))
                .bind(bind)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let pr = $crate::rows::participant(&row, &self.keys)?;
                    if !with_heirs {
                        out.push(pr.into_participant(Vec::new())?);
                        continue;
                    }
                    let heirs = sqlx::query(
                        "SELECT name, relationship, nik, phone, CAST(position AS BIGINT) FROM heirs WHERE participant_id = $1 ORDER BY position",
                    )
                    .bind(pr.id)
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?
                    .iter()
                    .map(|r| $crate::rows::heir(r, pr.id, &self.keys))
                    .collect::<$crate::Result<Vec<_>>>()?;
                    out.push(pr.into_participant(heirs)?);
                }
                Ok(out)
            }
        }
    };
}
