//! Store methods whose SQL is the same on both sqlx backends (`$N` placeholders, which sqlx's
//! SQLite driver binds by number too), written once: each backend expands
//! [`shared_sql_impl!`] for its store type and calls the `*_impl` methods from its `Store`
//! implementation. A backend keeps only what truly differs (bulk statements, locks).

/// Expands to the shared methods on `$store` (database `$db`): `$write` and `$read` name its
/// pools (the same pool on PostgreSQL), `$dberr` maps a sqlx error.
#[macro_export]
macro_rules! shared_sql_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        impl $store {
            pub(crate) async fn counters_fingerprint_impl(
                &self,
            ) -> cakupan_store::Result<Option<String>> {
                sqlx::query_scalar(cakupan_store::COUNTERS_FINGERPRINT_SQL)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)
            }

            pub(crate) async fn meta_impl(
                &self,
                key: &str,
            ) -> cakupan_store::Result<Option<String>> {
                sqlx::query_scalar(cakupan_store::META_SQL)
                    .bind(key)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)
            }

            pub(crate) async fn set_meta_once_impl(
                &self,
                key: &str,
                value: &str,
            ) -> cakupan_store::Result<String> {
                sqlx::query(cakupan_store::SET_META_ONCE_SQL)
                    .bind(key)
                    .bind(value)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                sqlx::query_scalar(cakupan_store::META_SQL)
                    .bind(key)
                    .fetch_one(&self.$write)
                    .await
                    .map_err($dberr)
            }

            pub(crate) async fn targets_within_impl(
                &self,
                within: cakupan_domain::RegionCode,
                level: cakupan_domain::Level,
            ) -> cakupan_store::Result<Vec<cakupan_store::TargetRecord>> {
                let (low, high) = cakupan_store::subtree_range(within, level);
                sqlx::query(cakupan_store::TARGETS_WITHIN_SQL)
                    .bind(low)
                    .bind(high)
                    .bind(cakupan_store::code_length(level))
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?
                    .iter()
                    .map(cakupan_store::rows::target)
                    .collect()
            }

            pub(crate) async fn set_office_target_impl(
                &self,
                code: &str,
                from: cakupan_domain::Month,
                acquisitions: i64,
                set_by: &str,
            ) -> cakupan_store::Result<()> {
                use cakupan_store::Store as _;
                if acquisitions < 0 {
                    return Err(cakupan_store::StoreError::Rejected(
                        cakupan_domain::FieldError::new(
                            "acquisitions",
                            "office_target.negative",
                            "an office's target is a number of new participants, 0 or more",
                        )
                        .into(),
                    ));
                }
                if self.office(code).await?.is_none() {
                    return Err(cakupan_store::StoreError::Rejected(
                        cakupan_domain::FieldError::new(
                            "office",
                            "office.unknown",
                            format!("no Kantor Perisai has code {code}"),
                        )
                        .into(),
                    ));
                }
                sqlx::query(cakupan_store::SET_OFFICE_TARGET_SQL)
                    .bind(code)
                    .bind(from.index())
                    .bind(acquisitions)
                    .bind(set_by)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                Ok(())
            }

            pub(crate) async fn office_targets_impl(
                &self,
                code: &str,
            ) -> cakupan_store::Result<Vec<(cakupan_domain::Month, i64)>> {
                let rows: Vec<(i32, i64)> = sqlx::query_as(cakupan_store::OFFICE_TARGETS_SQL)
                    .bind(code)
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?;
                rows.into_iter()
                    .map(|(m, n)| {
                        cakupan_domain::Month::from_index(m)
                            .map(|m| (m, n))
                            .ok_or_else(|| {
                                cakupan_store::StoreError::Corrupt(format!(
                                    "office target month {m}"
                                ))
                            })
                    })
                    .collect()
            }

            pub(crate) async fn end_office_agreement_impl(
                &self,
                code: &str,
                last_day: time::Date,
                from: cakupan_domain::Month,
                reason: &str,
                by: &str,
                at: i64,
            ) -> cakupan_store::Result<()> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                sqlx::query(cakupan_store::END_OFFICE_SQL)
                    .bind(code)
                    .bind(cakupan_domain::month::format_date(last_day))
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                sqlx::query(cakupan_store::TERMINATE_OFFICE_AGENTS_SQL)
                    .bind(code)
                    .bind(from.index())
                    .bind(reason)
                    .bind(by)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok(())
            }
        }
    };
}
