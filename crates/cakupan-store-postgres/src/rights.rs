//! The data rights (consents, correction requests) on PostgreSQL: the shared SQL of
//! `cakupan_store::rights_store_impl!`; its own: `lock_person_own`.

use super::*;

cakupan_store::rights_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);

impl PgStore {
    /// Takes the person's lock (migration 0003) before a correction rewrites the person:
    /// postings and registrations of this NIK wait. Returns the person's blind index.
    pub(crate) async fn lock_person_own(
        tx: &mut Transaction<'_, Postgres>,
        participant_id: i64,
    ) -> Result<Vec<u8>> {
        // On a cluster, an update that changes nothing (`PEOPLE_OF_BATCH_ON_CITUS_SQL`).
        sqlx::query_scalar(if crate::on_citus() {
            "UPDATE people p SET nik_index = p.nik_index
             WHERE p.nik_index = (SELECT nik_index FROM participants WHERE id = $1)
             RETURNING p.nik_index"
        } else {
            "SELECT p.nik_index FROM people p JOIN participants x ON x.nik_index = p.nik_index
             WHERE x.id = $1 FOR UPDATE OF p"
        })
        .bind(participant_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(db)
    }
}
