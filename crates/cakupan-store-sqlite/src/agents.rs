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

    pub(crate) async fn recompute_agents_own(&self) -> Result<AgentChanges> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        recompute_agents_on(&mut conn).await
    }
}
