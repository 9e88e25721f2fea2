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



            pub(crate) async fn create_session_impl(
                &self,
                token_hash: &str,
                user_id: i64,
                now: i64,
                expires_at: i64,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $3)",
                )
                .bind(token_hash)
                .bind(user_id)
                .bind(now)
                .bind(expires_at)
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                Ok(())
            }



            pub(crate) async fn set_password_impl(
                &self,
                user_id: i64,
                password_hash: &str,
                must_change: bool,
            ) -> $crate::Result<()> {
                sqlx::query("UPDATE users SET password_hash = $2, must_change_password = $3 WHERE id = $1")
                    .bind(user_id)
                    .bind(password_hash)
                    .bind(must_change)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                Ok(())
            }








            pub(crate) async fn meta_impl(
                &self,
                key: &str,
            ) -> $crate::Result<Option<String>> {
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


            pub(crate) async fn set_office_target_impl(
                &self,
                code: &str,
                from: cakupan_domain::Month,
                acquisitions: i64,
                set_by: &str,
            ) -> $crate::Result<()> {
                use $crate::Store as _;
                if acquisitions < 0 {
                    return Err($crate::StoreError::Rejected(
                        cakupan_domain::FieldError::new(
                            "acquisitions",
                            "office_target.negative",
                            "an office's target is a number of new participants, 0 or more",
                        )
                        .into(),
                    ));
                }
                if self.office(code).await?.is_none() {
                    return Err($crate::StoreError::Rejected(
                        cakupan_domain::FieldError::new(
                            "office",
                            "office.unknown",
                            format!("no Kantor Perisai has code {code}"),
                        )
                        .into(),
                    ));
                }
                sqlx::query($crate::SET_OFFICE_TARGET_SQL)
                    .bind(code)
                    .bind(from.index())
                    .bind(acquisitions)
                    .bind(set_by)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                Ok(())
            }


            pub(crate) async fn end_office_agreement_impl(
                &self,
                code: &str,
                last_day: time::Date,
                from: cakupan_domain::Month,
                reason: &str,
                by: &str,
                at: i64,
            ) -> $crate::Result<()> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                sqlx::query($crate::END_OFFICE_SQL)
                    .bind(code)
                    .bind(cakupan_domain::month::format_date(last_day))
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                sqlx::query($crate::TERMINATE_OFFICE_AGENTS_SQL)
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
