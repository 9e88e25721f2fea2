//! The registry of participants (regions, participations, sealed fields) on SQLite: the shared SQL of
//! `cakupan_store::participants_store_impl!`; its own: `upsert_regions_own`, `participant_own`.

use super::*;

cakupan_store::participants_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);

impl SqliteStore {
    /// No bulk path on SQLite (issue #23): its one writer takes the rows the ordinary import
    /// gives it, and staging them first was not built; the rows it was sent are dropped
    /// unread, nothing is written.
    pub(crate) async fn register_bulk_own(
        &self,
        _rules: &RuleSet,
        _rows: cakupan_store::participants::BulkRows,
    ) -> Result<cakupan_store::participants::BulkRegistered> {
        Err(cakupan_store::participants::bulk_unsupported("SQLite"))
    }

    /// Writes the regions, 5,000 rows per multi-row `VALUES` statement.
    pub(crate) async fn upsert_regions_own(
        tx: &mut Transaction<'_, Sqlite>,
        regions: &[&cakupan_domain::Region],
    ) -> Result<()> {
        for chunk in regions.chunks(5_000) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO regions (code, parent_code, level, name, kind) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.code.to_string())
                    .push_bind(r.parent_below_nation().map(|p| p.to_string()))
                    .push_bind(i64::from(r.code.level().depth()))
                    .push_bind(r.name.clone())
                    .push_bind(r.kind.clone());
            });
            q.push(" ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind");
            q.build().execute(&mut **tx).await.map_err(db)?;
        }
        Ok(())
    }

    pub(crate) async fn participant_own(
        &self,
        id: i64,
        with_heirs: bool,
    ) -> Result<Option<Participant>> {
        Ok(self
            .load("WHERE id = $1", id, with_heirs)
            .await?
            .into_iter()
            .next())
    }
}
