//! The accounts (users, sessions, second factors, the audit log) on PostgreSQL: the shared SQL of
//! `cakupan_store::accounts_store_impl!`, and this backend's own where the SQL differs.

use super::*;

cakupan_store::accounts_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);

/// This backend's own SQL of the accounts feature.
impl PgStore {
    pub(crate) async fn audit_for_own(
        &self,
        records: &[String],
    ) -> Result<Vec<cakupan_store::accounts::AuditRecord>> {
        sqlx::query(
            "SELECT id, at, actor, role, action, record, request_id, purpose, prev_hash, hash FROM audit WHERE record = ANY($1) ORDER BY id",
        )
        .bind(records)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(cakupan_store::rows::audit)
        .collect()
    }
}
