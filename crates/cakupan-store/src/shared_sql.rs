//! The SQL of the store's own facts (the `meta` table), the same on both sqlx backends and
//! written once: each backend expands [`shared_sql_impl!`] for its store type and calls the
//! `*_impl` methods from its `Store` implementation. Each feature's SQL is in its own
//! `<feature>_sql.rs`.

/// Expands to the shared methods on `$store` (database `$db`): `$write` and `$read` name its
/// pools (the same pool on PostgreSQL), `$dberr` maps a sqlx error.
#[macro_export]
macro_rules! shared_sql_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        impl $store {
            pub(crate) async fn meta_impl(&self, key: &str) -> $crate::Result<Option<String>> {
                sqlx::query_scalar($crate::META_SQL)
                    .bind(key)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)
            }

            pub(crate) async fn set_meta_once_impl(
                &self,
                key: &str,
                value: &str,
            ) -> $crate::Result<String> {
                sqlx::query($crate::SET_META_ONCE_SQL)
                    .bind(key)
                    .bind(value)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                sqlx::query_scalar($crate::META_SQL)
                    .bind(key)
                    .fetch_one(&self.$write)
                    .await
                    .map_err($dberr)
            }
        }
    };
}
