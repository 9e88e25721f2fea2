//! The registry of participants (regions, participations, sealed fields) on PostgreSQL: the shared SQL of
//! `cakupan_store::participants_store_impl!`, and this backend's own where the SQL differs.

use super::*;

cakupan_store::participants_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);

/// This backend's own SQL of the registry feature.
impl PgStore {
    pub(crate) async fn ensure_regions_own(&self, tree: &RegionTree) -> Result<RegionsLoaded> {
        let fingerprint = tree.fingerprint();
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Serialise concurrent first starts.
        sqlx::query("LOCK TABLE regions IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
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
        let regions: Vec<_> = tree.iter().collect();
        for chunk in regions.chunks(20_000) {
            let codes: Vec<String> = chunk.iter().map(|r| r.code.to_string()).collect();
            let parents: Vec<Option<String>> = chunk
                .iter()
                .map(|r| {
                    r.code
                        .parent()
                        .filter(|p| p.level() != Level::Nation)
                        .map(|p| p.to_string())
                })
                .collect();
            let levels: Vec<i16> = chunk
                .iter()
                .map(|r| i16::from(r.code.level().depth()))
                .collect();
            let names: Vec<String> = chunk.iter().map(|r| r.name.clone()).collect();
            let kinds: Vec<String> = chunk.iter().map(|r| r.kind.clone()).collect();
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
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ('regions_fingerprint', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
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
        let rows = sqlx::query(
            "SELECT level::bigint, COUNT(*) FROM regions GROUP BY level ORDER BY level",
        )
        .fetch_all(&self.pool)
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
        // Group commit (cakupan_store::group): concurrent registrations otherwise serialise on
        // the counters of their month (the nation's row and the province's) and on the audit
        // chain's lock, one commit each.
        self.group.register(self, rules, reg, audit).await
    }

    pub(crate) async fn participant_own(&self, id: i64) -> Result<Option<Participant>> {
        // Through the id's route (migration 0014), so that on a cluster it reads one shard.
        Ok(self
            .load(
                "WHERE id = $1 AND nik_index = (SELECT nik_index FROM participant_ids WHERE id = $1)",
                id,
            )
            .await?
            .into_iter()
            .next())
    }

    pub(crate) async fn participant_by_kpj_own(&self, kpj: &str) -> Result<Option<Participant>> {
        // A KPJ is its participation's id with a check digit: one that does not parse names
        // nobody, and one that does is read by its id.
        let Ok(k) = cakupan_domain::Kpj::parse(kpj.trim()) else {
            return Ok(None);
        };
        let Ok(id) = i64::try_from(k.sequence()) else {
            return Ok(None);
        };
        Ok(self.participant(id).await?.filter(|p| p.kpj == kpj.trim()))
    }
}
