//! The data rights (consents, correction requests) on SQLite: the shared SQL of
//! `cakupan_store::rights_store_impl!`; its own: `lock_person_own`.

use super::*;

cakupan_store::rights_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);

impl SqliteStore {
    /// A person's blind index, read before a correction rewrites the person (nothing to lock:
    /// the one writer holds the whole database).
    pub(crate) async fn lock_person_own(
        tx: &mut Transaction<'_, Sqlite>,
        participant_id: i64,
    ) -> Result<Vec<u8>> {
        sqlx::query_scalar("SELECT nik_index FROM participants WHERE id = $1")
            .bind(participant_id)
            .fetch_one(&mut **tx)
            .await
            .map_err(db)
    }
}
