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

            pub(crate) async fn user_by_username_impl(
                &self,
                username: &str,
            ) -> cakupan_store::Result<Option<cakupan_store::accounts::UserRow>> {
                // The columns of `rows::user`.
                sqlx::query(
                    "SELECT u.id, u.username, u.password_hash, u.role, u.region, u.agent_code, u.nik_index, u.disabled, u.employer_code, u.must_change_password
                     FROM users u WHERE u.username = $1",
                )
                .bind(username)
                .fetch_optional(&self.$read)
                .await
                .map_err($dberr)?
                .as_ref()
                .map(cakupan_store::rows::user)
                .transpose()
            }

            pub(crate) async fn session_user_impl(
                &self,
                token_hash: &str,
                now: i64,
                idle_secs: i64,
            ) -> cakupan_store::Result<Option<cakupan_store::accounts::UserRow>> {
                let user = sqlx::query(
                    "SELECT u.id, u.username, u.password_hash, u.role, u.region, u.agent_code, u.nik_index, u.disabled, u.employer_code, u.must_change_password
                     FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at >= $3
                       AND u.disabled = $4",
                )
                .bind(token_hash)
                .bind(now)
                .bind(now - idle_secs)
                .bind(false)
                .fetch_optional(&self.$read)
                .await
                .map_err($dberr)?
                .as_ref()
                .map(cakupan_store::rows::user)
                .transpose()?;
                if user.is_some() {
                    // Used: at most one write a minute per session.
                    sqlx::query(
                        "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $3",
                    )
                    .bind(token_hash)
                    .bind(now)
                    .bind(now - 60)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                }
                Ok(user)
            }

            pub(crate) async fn create_session_impl(
                &self,
                token_hash: &str,
                user_id: i64,
                now: i64,
                expires_at: i64,
            ) -> cakupan_store::Result<()> {
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

            pub(crate) async fn end_sessions_impl(
                &self,
                user_id: i64,
                keep: Option<&str>,
            ) -> cakupan_store::Result<u64> {
                Ok(sqlx::query(
                    "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2",
                )
                .bind(user_id)
                .bind(keep.unwrap_or(""))
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected())
            }

            pub(crate) async fn trim_sessions_impl(
                &self,
                user_id: i64,
                keep: &str,
                newest: u32,
                now: i64,
            ) -> cakupan_store::Result<u64> {
                Ok(sqlx::query(
                    "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 AND (expires_at <= $4 OR token_hash NOT IN
                       (SELECT token_hash FROM sessions WHERE user_id = $1 AND token_hash <> $2
                        ORDER BY created_at DESC, token_hash LIMIT $3))",
                )
                .bind(user_id)
                .bind(keep)
                .bind(i64::from(newest.saturating_sub(1)))
                .bind(now)
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected())
            }

            pub(crate) async fn set_password_impl(
                &self,
                user_id: i64,
                password_hash: &str,
                must_change: bool,
            ) -> cakupan_store::Result<()> {
                sqlx::query("UPDATE users SET password_hash = $2, must_change_password = $3 WHERE id = $1")
                    .bind(user_id)
                    .bind(password_hash)
                    .bind(must_change)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                Ok(())
            }

            pub(crate) async fn set_disabled_impl(
                &self,
                user_id: i64,
                disabled: bool,
            ) -> cakupan_store::Result<()> {
                sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(disabled)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                Ok(())
            }

            pub(crate) async fn audit_anchor_impl(
                &self,
            ) -> cakupan_store::Result<cakupan_store::accounts::Anchor> {
                let last: Option<(i64, String)> =
                    sqlx::query_as("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
                        .fetch_optional(&self.$read)
                        .await
                        .map_err($dberr)?;
                Ok(match last {
                    Some((count, hash)) => cakupan_store::accounts::Anchor { count, hash },
                    None => cakupan_store::accounts::Anchor {
                        count: 0,
                        hash: cakupan_store::accounts::GENESIS.to_string(),
                    },
                })
            }

            pub(crate) async fn users_impl(
                &self,
            ) -> cakupan_store::Result<Vec<cakupan_store::accounts::UserListing>> {
                use sqlx::Row as _;
                let rows = sqlx::query(
                    "SELECT username, role, region, disabled, must_change_password, totp_secret IS NOT NULL
                     FROM users ORDER BY username",
                )
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter()
                    .map(|r| {
                        Ok(cakupan_store::accounts::UserListing {
                            username: r.try_get(0).map_err($dberr)?,
                            role: r.try_get(1).map_err($dberr)?,
                            region: r.try_get(2).map_err($dberr)?,
                            disabled: r.try_get(3).map_err($dberr)?,
                            must_change_password: r.try_get(4).map_err($dberr)?,
                            second_factor: r.try_get(5).map_err($dberr)?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn totp_secret_impl(
                &self,
                user_id: i64,
            ) -> cakupan_store::Result<Option<Vec<u8>>> {
                sqlx::query_scalar::<_, Option<Vec<u8>>>("SELECT totp_secret FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)
                    .map(Option::flatten)
            }

            pub(crate) async fn set_totp_impl(
                &self,
                user_id: i64,
                sealed: Option<&[u8]>,
                recovery_hashes: &[String],
            ) -> cakupan_store::Result<()> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                sqlx::query("UPDATE users SET totp_secret = $2, totp_last_step = 0 WHERE id = $1")
                    .bind(user_id)
                    .bind(sealed)
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                for h in recovery_hashes {
                    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                        .bind(user_id)
                        .bind(h.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                tx.commit().await.map_err($dberr)
            }

            pub(crate) async fn advance_totp_step_impl(
                &self,
                user_id: i64,
                step: i64,
            ) -> cakupan_store::Result<bool> {
                Ok(sqlx::query("UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2")
                    .bind(user_id)
                    .bind(step)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?
                    .rows_affected()
                    == 1)
            }

            pub(crate) async fn use_recovery_code_impl(
                &self,
                user_id: i64,
                code_hash: &str,
                now: i64,
            ) -> cakupan_store::Result<bool> {
                Ok(sqlx::query(
                    "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                )
                .bind(user_id)
                .bind(code_hash)
                .bind(now)
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected()
                    == 1)
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
