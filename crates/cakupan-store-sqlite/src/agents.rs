//! The Perisai network (offices, agents, deposits, collections) on SQLite: the shared SQL of
//! `cakupan_store::agents_store_impl!`, and this backend's own where the SQL differs.

use super::*;

cakupan_store::agents_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);

/// An `agent_months` row: the agent, the month index and the seven figures.
type AgentMonthRow = (String, i64, i64, i64, i64, i64, i64, i64, i64);

/// This backend's own SQL of the agents feature.
impl SqliteStore {
    pub(crate) async fn add_office_own(&self, o: &cakupan_store::agents::Office) -> Result<()> {
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

    pub(crate) async fn add_agent_own(&self, a: &cakupan_store::agents::Agent) -> Result<()> {
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

    pub(crate) async fn agent_records_own(
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
        let months: Vec<AgentMonthRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
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

    pub(crate) async fn add_agent_event_own(
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

    pub(crate) async fn add_deposit_own(
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

    pub(crate) async fn collection_own(
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

    pub(crate) async fn acquired_by_own(
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

    pub(crate) async fn agent_months_all_own(&self) -> Result<AgentChanges> {
        let rows: Vec<AgentMonthRow> = sqlx::query_as(
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

    pub(crate) async fn recompute_agents_own(&self) -> Result<AgentChanges> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        recompute_agents_on(&mut conn).await
    }
}
