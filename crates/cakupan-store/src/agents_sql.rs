//! The agents feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `AgentStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! agents_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        /// After the upgrade to schema 9: the agent months of postings stored before it, once.
        /// (A semi-join, not a join on the participation id: a Citus cluster runs the one and
        /// refuses the other, as the two tables are co-located by the person's key.)
        pub(crate) async fn fill_agent_months(pool: &sqlx::Pool<$db>) -> Result<()> {
            let (have, acquired): (bool, bool) = sqlx::query_as(
                "SELECT EXISTS (SELECT 1 FROM agent_months),
                        EXISTS (SELECT 1 FROM postings x WHERE x.participant_id IN (SELECT p.id FROM participants p WHERE p.agent_code IS NOT NULL))",
            )
            .fetch_one(pool)
            .await
            .map_err($dberr)?;
            if have || !acquired {
                return Ok(());
            }
            let mut tx = pool.begin().await.map_err($dberr)?;
            let changes = recompute_agents_on(&mut tx).await?;
            upsert_agent_months(&mut tx, &changes).await?;
            tx.commit().await.map_err($dberr)?;
            Ok(())
        }

        impl $store {
            /// The agents of `filter`, with their villages or not: three or four reads
            /// whatever the number of agents.
            async fn read_agent_records(
                &self,
                filter: $crate::agents::AgentFilter<'_>,
                with_villages: bool,
            ) -> Result<Vec<$crate::agents::AgentRecord>> {
                use $crate::agents::AgentFilter;

                let (clause, bind_a, bind_b) = match filter {
                    AgentFilter::Code(c) => ("a.code = $1 AND $2 = ''", c.to_string(), String::new()),
                    AgentFilter::Office(o) => (
                        "a.office_code = $1 AND $2 = ''",
                        o.to_string(),
                        String::new(),
                    ),
                    AgentFilter::Within(r) => {
                        let (lo, hi) = $crate::subtree_range(r, cakupan_domain::Level::Village);
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
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                let villages: Vec<(String, String)> = if with_villages {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT v.agent_code, v.village_code FROM agent_villages v JOIN agents a ON a.code = v.agent_code WHERE {clause} ORDER BY v.agent_code, v.village_code"
                    )))
                    .bind(&bind_a)
                    .bind(&bind_b)
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?
                } else {
                    Vec::new()
                };
                let events: Vec<(String, i32, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT e.agent_code, e.month, e.kind, e.reason FROM agent_events e JOIN agents a ON a.code = e.agent_code WHERE {clause} ORDER BY e.agent_code, e.month, e.kind"
                )))
                .bind(&bind_a)
                .bind(&bind_b)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                let months: Vec<(String, i32, i64, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT m.agent_code, m.month, m.acquisitions, m.acquisitions_3, m.fee_base, m.fee_reversed, m.collections, m.collected, m.collected_reversed
                     FROM agent_months m JOIN agents a ON a.code = m.agent_code WHERE {clause} ORDER BY m.agent_code, m.month"
                )))
                .bind(&bind_a)
                .bind(&bind_b)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                $crate::agents::assemble(
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
        }

        #[async_trait::async_trait]
        impl $crate::agents::AgentStore for $store {
            async fn set_office_target(
                &self,
                code: &str,
                from: cakupan_domain::Month,
                acquisitions: i64,
                set_by: &str,
            ) -> $crate::Result<()> {
                use $crate::Store as _;
                if acquisitions < 0 {
                    return Err($crate::StoreError::Rejected(
                        cakupan_domain::FieldError::new(
                            "acquisitions",
                            "office_target.negative",
                            "an office's target is a number of new participants, 0 or more",
                        )
                        .into(),
                    ));
                }
                if self.office(code).await?.is_none() {
                    return Err($crate::StoreError::Rejected(
                        cakupan_domain::FieldError::new(
                            "office",
                            "office.unknown",
                            format!("no Kantor Perisai has code {code}"),
                        )
                        .into(),
                    ));
                }
                sqlx::query($crate::SET_OFFICE_TARGET_SQL)
                    .bind(code)
                    .bind(from.index())
                    .bind(acquisitions)
                    .bind(set_by)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                Ok(())
            }

            async fn end_office_agreement(
                &self,
                code: &str,
                last_day: time::Date,
                from: cakupan_domain::Month,
                reason: &str,
                by: &str,
                at: i64,
            ) -> $crate::Result<()> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                sqlx::query($crate::END_OFFICE_SQL)
                    .bind(code)
                    .bind(cakupan_domain::month::format_date(last_day))
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                sqlx::query($crate::TERMINATE_OFFICE_AGENTS_SQL)
                    .bind(code)
                    .bind(from.index())
                    .bind(reason)
                    .bind(by)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok(())
            }

            async fn office_targets(&self, code: &str) -> Result<Vec<(Month, i64)>> {
                let rows: Vec<(i32, i64)> = sqlx::query_as($crate::OFFICE_TARGETS_SQL)
                    .bind(code)
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?;
                rows.into_iter()
                    .map(|(m, n)| {
                        cakupan_domain::Month::from_index(m)
                            .map(|m| (m, n))
                            .ok_or_else(|| {
                                $crate::StoreError::Corrupt(format!("office target month {m}"))
                            })
                    })
                    .collect()
            }

            async fn add_office(&self, o: &$crate::agents::Office) -> Result<()> {
                $crate::agents::check_office(o)?;
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
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                if done.rows_affected() == 0 {
                    let stored = self.office(&o.code).await?;
                    let mut want = o.clone();
                    want.name = o.name.trim().to_string();
                    if stored.as_ref() != Some(&want) {
                        return Err($crate::agents::code_taken("office", &o.code));
                    }
                }
                Ok(())
            }

            async fn office(&self, code: &str) -> Result<Option<$crate::agents::Office>> {
                let row: Option<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
                    "SELECT code, name, kind, region, agreement_from, agreement_to FROM offices WHERE code = $1",
                )
                .bind(code)
                .fetch_optional(&self.$read)
                .await
                .map_err($dberr)?;
                row.map(|(c, n, k, r, f, t)| {
                    $crate::agents::Office::from_text(c, n, k, &r, &f, t.as_deref())
                })
                .transpose()
            }

            async fn offices(&self, within: RegionCode) -> Result<Vec<$crate::agents::Office>> {
                let rows: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
                    "SELECT code, name, kind, region, agreement_from, agreement_to FROM offices ORDER BY code",
                )
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                let mut out = Vec::new();
                for (c, n, k, r, f, t) in rows {
                    let o = $crate::agents::Office::from_text(c, n, k, &r, &f, t.as_deref())?;
                    if within.contains(o.region) {
                        out.push(o);
                    }
                }
                Ok(out)
            }

            async fn add_agent(&self, a: &$crate::agents::Agent) -> Result<()> {
                if !$crate::agents::valid_code(&a.code) {
                    return Err($crate::StoreError::Rejected(
                        cakupan_domain::FieldError::new(
                            "code",
                            "code.format",
                            "code must be 3 to 32 capital letters, digits or '-'",
                        )
                        .into(),
                    ));
                }
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                // One agent registration at a time: a code or a participation is claimed once.
                if let Some(lock) = <$store as $crate::Dialect>::advisory_lock(4245, 0) {
                    sqlx::query(sqlx::AssertSqlSafe(lock))
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                let existing: Option<(String, i64, String, i64)> = sqlx::query_as(
                    "SELECT office_code, participant_id, home_village, CAST(appointed AS BIGINT) FROM agents WHERE code = $1",
                )
                .bind(&a.code)
                .fetch_optional(&mut *tx)
                .await
                .map_err($dberr)?;
                if let Some((office, pid, home, appointed)) = existing {
                    let villages: Vec<String> = sqlx::query_scalar(
                        "SELECT village_code FROM agent_villages WHERE agent_code = $1 ORDER BY village_code",
                    )
                    .bind(&a.code)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($dberr)?;
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
                        Err($crate::agents::code_taken("agent", &a.code))
                    };
                }
                let (offices, segment, other): (i64, Option<String>, Option<String>) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM offices WHERE code = $1),
                            (SELECT segment FROM participants WHERE id = $2),
                            (SELECT code FROM agents WHERE participant_id = $2)",
                )
                .bind(&a.office_code)
                .bind(a.participant_id)
                .fetch_one(&mut *tx)
                .await
                .map_err($dberr)?;
                $crate::agents::check_agent(a, offices > 0, segment.as_deref(), other.as_deref())?;
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
                .map_err($dberr)?;
                for v in &a.villages {
                    sqlx::query("INSERT INTO agent_villages (agent_code, village_code) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(&a.code)
                        .bind(v.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                tx.commit().await.map_err($dberr)?;
                Ok(())
            }

            async fn agent_records(
                &self,
                filter: $crate::agents::AgentFilter<'_>,
            ) -> Result<Vec<$crate::agents::AgentRecord>> {
                self.read_agent_records(filter, true).await
            }

            async fn agent_standings(
                &self,
                filter: $crate::agents::AgentFilter<'_>,
            ) -> Result<Vec<$crate::agents::AgentRecord>> {
                self.read_agent_records(filter, false).await
            }

            async fn add_agent_event(
                &self,
                code: &str,
                event: &cakupan_domain::agents::AgentEvent,
                by: &str,
                at: i64,
            ) -> Result<()> {
                use cakupan_domain::agents::AgentEvent;
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
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                Ok(())
            }

            async fn add_deposit(
                &self,
                d: &$crate::agents::Deposit,
            ) -> Result<$crate::agents::Deposit> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                // Deposits of one agent queue on the agent's row (SQLite's single writer needs no
                // lock): two cannot both spend the same cash.
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT code FROM agents WHERE code = $1{}",
                    <Self as $crate::Dialect>::FOR_UPDATE
                )))
                .bind(&d.agent_code)
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
                let stored: Option<(String, String, i64, String, String)> = sqlx::query_as(
                    "SELECT reference, agent_code, amount, deposited_on, recorded_by FROM deposits WHERE reference = $1",
                )
                .bind(&d.reference)
                .fetch_optional(&mut *tx)
                .await
                .map_err($dberr)?;
                if let Some((r, a, amount, on, by)) = stored {
                    let stored = $crate::agents::Deposit::from_text(r, a, amount, &on, by)?;
                    return if stored.same(d) {
                        Ok(stored)
                    } else {
                        Err($crate::agents::reference_reused(&d.reference))
                    };
                }
                let (collected, deposited): (i64, i64) = sqlx::query_as(
                    "SELECT CAST(COALESCE((SELECT SUM(collected - collected_reversed) FROM agent_months WHERE agent_code = $1), 0) AS BIGINT),
                            CAST(COALESCE((SELECT SUM(amount) FROM deposits WHERE agent_code = $1), 0) AS BIGINT)",
                )
                .bind(&d.agent_code)
                .fetch_one(&mut *tx)
                .await
                .map_err($dberr)?;
                let held = collected - deposited;
                if d.amount > held {
                    return Err($crate::agents::deposit_above_held(d.amount, held));
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
                .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok(d.clone())
            }

            async fn deposits(&self, agent_code: &str) -> Result<Vec<$crate::agents::Deposit>> {
                let rows: Vec<(String, String, i64, String, String)> = sqlx::query_as(
                    "SELECT reference, agent_code, amount, deposited_on, recorded_by FROM deposits WHERE agent_code = $1 ORDER BY deposited_on, reference",
                )
                .bind(agent_code)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.into_iter()
                    .map(|(r, a, amount, on, by)| {
                        $crate::agents::Deposit::from_text(r, a, amount, &on, by)
                    })
                    .collect()
            }

            async fn collections(&self, agent_code: &str) -> Result<Vec<$crate::agents::Collection>> {
                self.collection_rows("p.collected_by = $1", agent_code.to_string())
                    .await
            }

            async fn collection(&self, posting_id: i64) -> Result<Option<$crate::agents::Collection>> {
                Ok(self
                    .collection_rows("p.id = $1 AND p.collected_by IS NOT NULL", posting_id)
                    .await?
                    .into_iter()
                    .next())
            }

            async fn acquired_by(
                &self,
                agent_code: &str,
            ) -> Result<Vec<($crate::Participant, Vec<$crate::ledger::LedgerRow>)>> {
                // Two reads whatever the number of people: the participations (without heirs, which a
                // worklist does not show) and all their postings.
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{select} WHERE agent_code = $1 ORDER BY id",
                    select = <Self as $crate::Dialect>::SELECT_PARTICIPANTS
                )))
                .bind(agent_code)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                let sql = format!(
                    "SELECT participant_id, {ledger} FROM postings
                     WHERE participant_id IN (SELECT id FROM participants WHERE agent_code = $1)
                     ORDER BY participant_id, id",
                    ledger = $crate::rows::LEDGER_COLUMNS
                );
                let mut ledgers: std::collections::HashMap<i64, Vec<$crate::ledger::LedgerRow>> =
                    std::collections::HashMap::new();
                for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(agent_code)
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?
                {
                    let pid: i64 = sqlx::Row::try_get(&row, 0).map_err($dberr)?;
                    ledgers
                        .entry(pid)
                        .or_default()
                        .push($crate::rows::ledger(&row, 1)?);
                }
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let p = $crate::rows::participant(&row, &self.keys)?.into_participant(Vec::new())?;
                    let l = ledgers.remove(&p.id).unwrap_or_default();
                    out.push((p, l));
                }
                Ok(out)
            }

            async fn agent_months_all(&self) -> Result<$crate::ledger::AgentChanges> {
                let rows: Vec<(String, i32, i64, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
                    "SELECT agent_code, month, acquisitions, acquisitions_3, fee_base, fee_reversed, collections, collected, collected_reversed FROM agent_months",
                )
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                let mut out = $crate::ledger::AgentChanges::default();
                for (a, m, v0, v1, v2, v3, v4, v5, v6) in rows {
                    if [v0, v1, v2, v3, v4, v5, v6].iter().any(|x| *x != 0) {
                        out.0.insert((a, m), [v0, v1, v2, v3, v4, v5, v6]);
                    }
                }
                Ok(out)
            }

            async fn recompute_agents(&self) -> Result<$crate::ledger::AgentChanges> {
                let mut conn = self.$read.acquire().await.map_err($dberr)?;
                recompute_agents_on(&mut conn).await
            }
        }
    };
}
