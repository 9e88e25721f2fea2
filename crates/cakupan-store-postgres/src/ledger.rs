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
    pub(crate) async fn active_report_own(
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

    pub(crate) async fn region_history_own(
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
