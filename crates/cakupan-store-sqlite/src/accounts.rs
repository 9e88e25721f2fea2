//! The accounts (users, sessions, second factors, the audit log) on SQLite: the shared SQL of
//! `cakupan_store::accounts_store_impl!`, and this backend's own where the SQL differs.

use super::*;

cakupan_store::accounts_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);

/// This backend's own SQL of the accounts feature.
impl SqliteStore {
    pub(crate) async fn audit_for_own(
        &self,
        records: &[String],
    ) -> Result<Vec<cakupan_store::accounts::AuditRecord>> {
        let mut out = Vec::new();
        for chunk in records.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT id, at, actor, role, action, record, request_id, purpose, prev_hash, hash FROM audit WHERE record IN (",
            );
            let mut sep = q.separated(", ");
            for rec in chunk {
                sep.push_bind(rec.as_str());
            }
            q.push(") ORDER BY id");
            for row in q
                .build()
                .persistent(keep_prepared(chunk.len(), INSERT_CHUNK))
                .fetch_all(&self.reader)
                .await
                .map_err(db)?
            {
                out.push(cakupan_store::rows::audit(&row)?);
            }
        }
        out.sort_by_key(|a| a.id);
        Ok(out)
    }
}
