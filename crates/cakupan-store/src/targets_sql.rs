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
                $crate::check_targets(targets)?;
                let sql = format!(
                    "INSERT INTO targets (metric, segment, region, month, value, baseline_month, baseline_value, basis, source)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (metric, segment, region, month) {}",
                    // The row's default stamps `set_at`: a function in DO UPDATE SET is refused on
                    // a Citus reference table.
                    if replace {
                        "DO UPDATE SET value = excluded.value, baseline_month = excluded.baseline_month, baseline_value = excluded.baseline_value, basis = excluded.basis, source = excluded.source, set_at = excluded.set_at".to_string()
                    } else {
                        "DO NOTHING".to_string()
                    }
                );
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let mut written = 0;
                for t in targets {
                    written += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(t.metric.as_str())
                        .bind(t.segment.map(|s| s.as_str()).unwrap_or(""))
                        .bind(t.region.to_string())
                        .bind(t.month.index())
                        .bind(t.value)
                        .bind(t.baseline.map(|b| b.0.index()))
                        .bind(t.baseline.map(|b| b.1))
                        .bind(t.basis.as_str())
                        .bind(t.source.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?
                        .rows_affected();
                }
                tx.commit().await.map_err($dberr)?;
                Ok(written)
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
                let rows = if within == RegionCode::NATION {
                    sqlx::query($crate::TARGETS_AT_LEVEL_SQL)
                        .bind($crate::code_length(level))
                        .fetch_all(&self.$read)
                        .await
                } else {
                    let (low, high) = $crate::subtree_range(within, level);
                    sqlx::query($crate::TARGETS_WITHIN_SQL)
                        .bind(low)
                        .bind(high)
                        .bind($crate::code_length(level))
                        .fetch_all(&self.$read)
                        .await
                };
                rows.map_err($dberr)?
                    .iter()
                    .map($crate::rows::target)
                    .collect()
            }
        }
    };
}
