//! The SQL of the store's own facts (the `meta` table), the same on both sqlx backends and
//! written once: each backend expands [`shared_sql_impl!`] for its store type and calls the
//! `*_impl` methods from its `Store` implementation. Each feature's SQL is in its own
//! `<feature>_sql.rs`.

/// Expands to `Store` and `Keyed` for `$store` (database `$db`, named `$name`): `$write` and
/// `$read` name its pools (the same pool on PostgreSQL), `$dberr` maps a sqlx error. The
/// backend's own: `after_bulk_load_own` and `size_bytes_own`.
#[macro_export]
macro_rules! shared_sql_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path, backend = $name:literal) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn health(&self) -> $crate::Result<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.$read)
                    .await
                    .map(|_| ())
                    .map_err($dberr)
            }

            async fn after_bulk_load(&self, loaded: u64) -> $crate::Result<()> {
                self.after_bulk_load_own(loaded).await
            }

            async fn size_bytes(&self) -> $crate::Result<u64> {
                self.size_bytes_own().await
            }

            async fn meta(&self, key: &str) -> $crate::Result<Option<String>> {
                self.meta_impl(key).await
            }

            async fn set_meta_once(&self, key: &str, value: &str) -> $crate::Result<String> {
                self.set_meta_once_impl(key, value).await
            }
        }

        impl $crate::Keyed for $store {
            fn keys(&self) -> &$crate::crypto::Keys {
                &self.keys
            }
        }

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
