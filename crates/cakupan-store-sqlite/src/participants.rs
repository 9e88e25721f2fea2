//! The registry of participants (regions, participations, sealed fields) on SQLite: the shared SQL of
//! `cakupan_store::participants_store_impl!`, and this backend's own where the SQL differs.

use super::*;

cakupan_store::participants_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);

/// This backend's own SQL of the registry feature.
impl SqliteStore {
    pub(crate) async fn ensure_regions_own(&self, tree: &RegionTree) -> Result<RegionsLoaded> {
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

    pub(crate) async fn region_counts_own(&self) -> Result<Vec<(Level, u64)>> {
        let rows = sqlx::query("SELECT level, COUNT(*) FROM regions GROUP BY level ORDER BY level")
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        rows.iter().map(cakupan_store::rows::level_count).collect()
    }

    pub(crate) async fn register_audited_own(
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

    pub(crate) async fn participant_own(
        &self,
        id: i64,
    ) -> Result<Option<cakupan_store::Participant>> {
        Ok(self.load("WHERE id = ?1", id).await?.into_iter().next())
    }

    pub(crate) async fn participant_by_kpj_own(
        &self,
        kpj: &str,
    ) -> Result<Option<cakupan_store::Participant>> {
        Ok(self
            .load("WHERE kpj = ?1", kpj.trim().to_string())
            .await?
            .into_iter()
            .next())
    }
}
