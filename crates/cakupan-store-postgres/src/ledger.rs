//! The ledger (postings and the counters they move) on PostgreSQL: the shared SQL of
//! `cakupan_store::ledger_store_impl!`, and this backend's own where the SQL differs.

use super::*;

cakupan_store::ledger_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);

/// This backend's own SQL of the ledger feature.
impl PgStore {
    pub(crate) async fn rebuild_counters_own(&self, rules: &RuleSet) -> Result<u64> {
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
}
