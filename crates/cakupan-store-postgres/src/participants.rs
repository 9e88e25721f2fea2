//! The registry of participants (regions, participations, sealed fields) on PostgreSQL: the shared SQL of
//! `cakupan_store::participants_store_impl!`; its own: `upsert_regions_own`, `participant_own`.

use super::*;

cakupan_store::participants_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);

impl PgStore {
    /// Writes the regions, one `UNNEST` statement per 20,000.
    pub(crate) async fn upsert_regions_own(
        tx: &mut Transaction<'_, Postgres>,
        regions: &[&cakupan_domain::Region],
    ) -> Result<()> {
        for chunk in regions.chunks(20_000) {
            let codes: Vec<String> = chunk.iter().map(|r| r.code.to_string()).collect();
            let parents: Vec<Option<String>> = chunk
                .iter()
                .map(|r| r.parent_below_nation().map(|p| p.to_string()))
                .collect();
            let levels: Vec<i16> = chunk
                .iter()
                .map(|r| i16::from(r.code.level().depth()))
                .collect();
            let names: Vec<&str> = chunk.iter().map(|r| r.name.as_str()).collect();
            let kinds: Vec<&str> = chunk.iter().map(|r| r.kind.as_str()).collect();
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
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        }
        Ok(())
    }

    pub(crate) async fn participant_own(
        &self,
        id: i64,
        with_heirs: bool,
    ) -> Result<Option<Participant>> {
        // Through the id's route (migration 0014), so that on a cluster it reads one shard.
        Ok(self
            .load(
                "WHERE id = $1 AND nik_index = (SELECT nik_index FROM participant_ids WHERE id = $1)",
                id,
                with_heirs,
            )
            .await?
            .into_iter()
            .next())
    }
}
