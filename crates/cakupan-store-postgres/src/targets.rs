//! The coverage targets on PostgreSQL: the shared SQL of
//! `cakupan_store::targets_store_impl!`, and this backend's own where the SQL differs.

use super::*;

cakupan_store::targets_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);

/// This backend's own SQL of the targets feature.
impl PgStore {
    pub(crate) async fn set_targets_own(
        &self,
        targets: &[TargetRecord],
        replace: bool,
    ) -> Result<u64> {
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
}
