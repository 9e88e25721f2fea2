//! The targets feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `TargetStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! targets_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        #[async_trait::async_trait]
        impl $crate::targets::TargetStore for $store {

    async fn set_targets(&self, targets: &[TargetRecord], replace: bool) -> Result<u64> {
        self.set_targets_own(targets, replace).await
    }


    async fn targets(&self) -> Result<Vec<TargetRecord>> {
        sqlx::query(
            "SELECT metric, segment, region, month, value, baseline_month, baseline_value, basis, source
             FROM targets ORDER BY metric, segment, region, month",
        )
        .fetch_all(&self.$read)
        .await
        .map_err($dberr)?
        .iter()
        .map($crate::rows::target)
        .collect()
    }


    async fn targets_within(&self, within: RegionCode, level: Level) -> Result<Vec<TargetRecord>> {
                let (low, high) = $crate::subtree_range(within, level);
                sqlx::query($crate::TARGETS_WITHIN_SQL)
                    .bind(low)
                    .bind(high)
                    .bind($crate::code_length(level))
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?
                    .iter()
                    .map($crate::rows::target)
                    .collect()
            }
        }
    };
}
