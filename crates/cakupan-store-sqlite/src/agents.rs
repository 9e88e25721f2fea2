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

    pub(crate) async fn recompute_agents_own(&self) -> Result<AgentChanges> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        recompute_agents_on(&mut conn).await
    }
}
