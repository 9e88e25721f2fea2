//! accounts

use super::*;

#[async_trait]
impl cakupan_store::accounts::AccountStore for PgStore {
    async fn audit_for(
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

    async fn create_user(&self, u: &cakupan_store::accounts::NewUser, now: i64) -> Result<i64> {
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
        .fetch_one(&self.pool)
        .await;
        match r {
            Ok(id) => Ok(id),
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                Err(cakupan_store::username_taken(&u.username))
            }
            Err(e) => Err(db(e)),
        }
    }

    async fn user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<cakupan_store::accounts::UserRow>> {
        self.user_by_username_impl(username).await
    }

    async fn count_users(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(n as u64)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.create_session_impl(token_hash, user_id, now, expires_at)
            .await
    }

    async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<cakupan_store::accounts::UserRow>> {
        self.session_user_impl(token_hash, now, idle_secs).await
    }

    async fn end_sessions(&self, user_id: i64, keep: Option<&str>) -> Result<u64> {
        self.end_sessions_impl(user_id, keep).await
    }

    async fn trim_sessions(&self, user_id: i64, keep: &str, newest: u32, now: i64) -> Result<u64> {
        self.trim_sessions_impl(user_id, keep, newest, now).await
    }

    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        must_change: bool,
    ) -> Result<()> {
        self.set_password_impl(user_id, password_hash, must_change)
            .await
    }

    async fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<()> {
        self.set_disabled_impl(user_id, disabled).await
    }

    async fn audit_anchor(&self) -> Result<cakupan_store::accounts::Anchor> {
        self.audit_anchor_impl().await
    }

    async fn users(&self) -> Result<Vec<cakupan_store::accounts::UserListing>> {
        self.users_impl().await
    }

    async fn totp_secret(&self, user_id: i64) -> Result<Option<Vec<u8>>> {
        self.totp_secret_impl(user_id).await
    }

    async fn set_totp(
        &self,
        user_id: i64,
        sealed: Option<&[u8]>,
        recovery_hashes: &[String],
    ) -> Result<()> {
        self.set_totp_impl(user_id, sealed, recovery_hashes).await
    }

    async fn advance_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        self.advance_totp_step_impl(user_id, step).await
    }

    async fn use_recovery_code(&self, user_id: i64, code_hash: &str, now: i64) -> Result<bool> {
        self.use_recovery_code_impl(user_id, code_hash, now).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn append_audit(&self, entries: &[cakupan_store::accounts::AuditEntry]) -> Result<()> {
        // Committed with whatever else is queued (group commit, as registrations are).
        self.group.audit(self, entries).await
    }

    async fn audit_page(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<cakupan_store::accounts::AuditRecord>> {
        sqlx::query(
            "SELECT id, at, actor, role, action, record, request_id, purpose, prev_hash, hash FROM audit WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(cakupan_store::rows::audit)
        .collect()
    }
}
