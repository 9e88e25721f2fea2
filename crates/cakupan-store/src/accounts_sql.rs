//! The accounts feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `AccountStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! accounts_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        #[async_trait::async_trait]
        impl $crate::accounts::AccountStore for $store {
            async fn audit_for(&self, records: &[String]) -> Result<Vec<$crate::accounts::AuditRecord>> {
                let mut out = Vec::new();
                // A person's log names few records: one statement a thousand of them.
                for chunk in records.chunks(1_000) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT id, at, actor, role, action, record, request_id, purpose, prev_hash, hash FROM audit WHERE record IN (",
                    );
                    let mut sep = q.separated(", ");
                    for rec in chunk {
                        sep.push_bind(rec.as_str());
                    }
                    q.push(") ORDER BY id");
                    for row in q
                        .build()
                        .persistent($crate::keep_prepared(chunk.len(), 1_000))
                        .fetch_all(&self.$read)
                        .await
                        .map_err($dberr)?
                    {
                        out.push($crate::rows::audit(&row)?);
                    }
                }
                out.sort_by_key(|a| a.id);
                Ok(out)
            }

            async fn create_user(&self, u: &$crate::accounts::NewUser, now: i64) -> Result<i64> {
                let r = sqlx::query_scalar(
                    "INSERT INTO users (username, password_hash, role, region, agent_code, nik_index, created_at, employer_code)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(u.username.as_str())
                .bind(u.password_hash.as_str())
                .bind(u.role.as_str())
                .bind(u.region.to_string())
                .bind(u.agent_code.as_deref())
                .bind(u.nik_index.as_deref())
                .bind(now)
                .bind(u.employer_code.as_deref())
                .fetch_one(&self.$write)
                .await;
                match r {
                    Ok(id) => Ok(id),
                    Err(e)
                        if e.as_database_error()
                            .is_some_and(|d| d.is_unique_violation()) =>
                    {
                        Err($crate::username_taken(&u.username))
                    }
                    Err(e) => Err($dberr(e)),
                }
            }

            async fn user_by_username(
                &self,
                username: &str,
            ) -> Result<Option<$crate::accounts::UserRow>> {
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
                        .map($crate::rows::user)
                        .transpose()
            }

            async fn participant_user(
                &self,
                nik_index: &[u8],
            ) -> Result<Option<$crate::accounts::UserRow>> {
                // The columns of `rows::user`.
                sqlx::query(
                    "SELECT u.id, u.username, u.password_hash, u.role, u.region, u.agent_code, u.nik_index, u.disabled, u.employer_code, u.must_change_password
                     FROM users u WHERE u.nik_index = $1 AND u.role = 'participant' ORDER BY u.id LIMIT 1",
                )
                .bind(nik_index)
                .fetch_optional(&self.$read)
                .await
                .map_err($dberr)?
                .as_ref()
                .map($crate::rows::user)
                .transpose()
            }

            async fn count_users(&self) -> Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&self.$read)
                    .await
                    .map_err($dberr)?;
                Ok(n as u64)
            }

            async fn create_session(
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

            async fn session_user(
                &self,
                token_hash: &str,
                now: i64,
                idle_secs: i64,
            ) -> Result<Option<$crate::accounts::UserRow>> {
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
                        .map($crate::rows::user)
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

            async fn end_sessions(&self, user_id: i64, keep: Option<&str>) -> Result<u64> {
                Ok(
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                        .bind(user_id)
                        .bind(keep.unwrap_or(""))
                        .execute(&self.$write)
                        .await
                        .map_err($dberr)?
                        .rows_affected(),
                )
            }

            async fn trim_sessions(&self, user_id: i64, keep: &str, newest: u32, now: i64) -> Result<u64> {
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

            async fn set_password(
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

            async fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<()> {
                sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(disabled)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                Ok(())
            }

            async fn audit_anchor(&self) -> Result<$crate::accounts::Anchor> {
                let last: Option<(i64, String)> =
                    sqlx::query_as("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
                        .fetch_optional(&self.$read)
                        .await
                        .map_err($dberr)?;
                Ok(match last {
                    Some((count, hash)) => $crate::accounts::Anchor { count, hash },
                    None => $crate::accounts::Anchor {
                        count: 0,
                        hash: $crate::accounts::GENESIS.to_string(),
                    },
                })
            }

            async fn users(&self) -> Result<Vec<$crate::accounts::UserListing>> {
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
                        Ok($crate::accounts::UserListing {
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

            async fn totp_secret(&self, user_id: i64) -> Result<Option<Vec<u8>>> {
                sqlx::query_scalar::<_, Option<Vec<u8>>>("SELECT totp_secret FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)
                    .map(Option::flatten)
            }

            async fn set_totp(
                &self,
                user_id: i64,
                sealed: Option<&[u8]>,
                recovery_hashes: &[String],
            ) -> Result<()> {
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

            async fn advance_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
                Ok(sqlx::query(
                    "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
                )
                .bind(user_id)
                .bind(step)
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected()
                    == 1)
            }

            async fn use_recovery_code(&self, user_id: i64, code_hash: &str, now: i64) -> Result<bool> {
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

            async fn delete_session(&self, token_hash: &str) -> Result<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?;
                Ok(())
            }

            async fn append_audit(&self, entries: &[$crate::accounts::AuditEntry]) -> Result<()> {
                // Committed with whatever else is queued (group commit, as registrations are).
                self.group.audit(self, entries).await
            }

            async fn audit_page(
                &self,
                after: i64,
                limit: u32,
            ) -> Result<Vec<$crate::accounts::AuditRecord>> {
                sqlx::query(
                    "SELECT id, at, actor, role, action, record, request_id, purpose, prev_hash, hash FROM audit WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?
                .iter()
                .map($crate::rows::audit)
                .collect()
            }
        }
    };
}
