//! Self-registration's SQL, written once for both sqlx backends (`$N` placeholders).

/// Expands to `EnrolmentStore` for `$store` on the sqlx database `$db`: `$write` and `$read`
/// name its pools, `$db_err` maps a sqlx error.
#[macro_export]
macro_rules! enrolment_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        #[async_trait::async_trait]
        impl $crate::enrolment::EnrolmentStore for $store {
            async fn add_code(&self, c: &$crate::enrolment::NewCode) -> Result<()> {
                sqlx::query(
                    "INSERT INTO one_time_codes (key_hash, purpose, subject, code_hash, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&c.key_hash)
                .bind(c.purpose.as_str())
                .bind(&c.subject)
                .bind(&c.code_hash)
                .bind(c.created_at)
                .bind(c.expires_at)
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                Ok(())
            }

            async fn check_code(
                &self,
                key_hash: &str,
                purpose: cakupan_domain::enrolment::Purpose,
                subject: &[u8],
                code_hash: &str,
                now: i64,
                max_attempts: u32,
            ) -> Result<$crate::enrolment::CodeCheck> {
                use $crate::enrolment::CodeCheck;
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let row: Option<(String, Vec<u8>, String, i64, i64, Option<i64>)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT purpose, subject, code_hash, expires_at, CAST(attempts AS BIGINT), used_at
                         FROM one_time_codes WHERE key_hash = $1{}",
                        <$store as $crate::Dialect>::FOR_UPDATE
                    )))
                    .bind(key_hash)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($dberr)?;
                let Some((p, s, stored, expires_at, attempts, used_at)) = row else {
                    return Ok(CodeCheck::Unknown);
                };
                if p != purpose.as_str() || s != subject {
                    return Ok(CodeCheck::Unknown);
                }
                if used_at.is_some() {
                    // Used: the same code again is the same form sent twice; another is a guess.
                    return Ok(if $crate::enrolment::same_hash(&stored, code_hash) {
                        CodeCheck::Used
                    } else {
                        CodeCheck::Unknown
                    });
                }
                if expires_at <= now {
                    return Ok(CodeCheck::Expired);
                }
                let max = i64::from(max_attempts);
                if attempts >= max {
                    return Ok(CodeCheck::TooManyTries);
                }
                let verdict = if $crate::enrolment::same_hash(&stored, code_hash) {
                    sqlx::query("UPDATE one_time_codes SET used_at = $2 WHERE key_hash = $1")
                        .bind(key_hash)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                    CodeCheck::Good
                } else {
                    sqlx::query("UPDATE one_time_codes SET attempts = attempts + 1 WHERE key_hash = $1")
                        .bind(key_hash)
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                    let left = (max - attempts - 1).max(0) as u32;
                    if left == 0 {
                        CodeCheck::TooManyTries
                    } else {
                        CodeCheck::Wrong { left }
                    }
                };
                tx.commit().await.map_err($dberr)?;
                Ok(verdict)
            }

            async fn forget_codes(&self, before: i64) -> Result<u64> {
                Ok(sqlx::query("DELETE FROM one_time_codes WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?
                    .rows_affected())
            }

            async fn add_sms(&self, purpose: &str, now: i64) -> Result<i64> {
                sqlx::query_scalar(
                    "INSERT INTO sms_messages (purpose, sent_at, status, status_at) VALUES ($1, $2, 'sent', $2) RETURNING id",
                )
                .bind(purpose)
                .bind(now)
                .fetch_one(&self.$write)
                .await
                .map_err($dberr)
            }

            async fn set_sms_status(&self, id: i64, status: &str, now: i64) -> Result<bool> {
                let last = ["delivered", "failed", "rejected", "not_sent"];
                Ok(sqlx::query(
                    "UPDATE sms_messages SET status = $2, status_at = $3
                     WHERE id = $1 AND ($4 OR status NOT IN ('delivered', 'failed', 'rejected', 'not_sent'))",
                )
                    .bind(id)
                    .bind(status)
                    .bind(now)
                    .bind(last.contains(&status))
                    .execute(&self.$write)
                    .await
                    .map_err($dberr)?
                    .rows_affected()
                    > 0)
            }

            async fn sms_status(&self, id: i64) -> Result<Option<String>> {
                sqlx::query_scalar("SELECT status FROM sms_messages WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)
            }

            async fn count_stage(
                &self,
                week: &str,
                village: RegionCode,
                stage: cakupan_domain::enrolment::Stage,
            ) -> Result<()> {
                self.add_stages(&[(week.to_string(), village, stage, 1)]).await
            }

            async fn add_stages(
                &self,
                rows: &[(String, RegionCode, cakupan_domain::enrolment::Stage, u64)],
            ) -> Result<()> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                add_funnel_stages(&mut tx, rows).await?;
                tx.commit().await.map_err($dberr)?;
                Ok(())
            }

            async fn funnel(
                &self,
                within: RegionCode,
                since: time::Date,
                until: time::Date,
            ) -> Result<Vec<$crate::enrolment::FunnelWeek>> {
                use cakupan_domain::enrolment::{Stage, week_of};
                let (area, prefix) = $crate::enrolment::area_binds(within);
                let counted: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT week, stage, CAST(SUM(n) AS BIGINT) FROM enrolment_funnel
                     WHERE week >= $1 AND ($2 = '' OR village_code = $2 OR substr(village_code, 1, length($3)) = $3)
                     GROUP BY week, stage",
                )
                .bind(week_of(since))
                .bind(&area)
                .bind(&prefix)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                let mut weeks: std::collections::BTreeMap<String, $crate::enrolment::FunnelWeek> =
                    Default::default();
                let mut at = since;
                while at <= until {
                    let w = week_of(at);
                    weeks.insert(w.clone(), $crate::enrolment::FunnelWeek { week: w, ..Default::default() });
                    at = at.saturating_add(time::Duration::days(7));
                }
                for (week, stage, n) in counted {
                    let row = weeks.entry(week.clone()).or_insert_with(|| $crate::enrolment::FunnelWeek {
                        week,
                        ..Default::default()
                    });
                    let n = n.max(0) as u64;
                    match Stage::parse(&stage) {
                        Some(Stage::Started) => row.started += n,
                        Some(Stage::Verified) => row.verified += n,
                        Some(Stage::Registered) => row.registered += n,
                        // Counted when a self-registration's first contribution is stored.
                        Some(Stage::Paid) => row.paid += n,
                        None => {}
                    }
                }
                Ok(weeks.into_values().collect())
            }

            async fn to_review(&self, within: RegionCode, limit: u32) -> Result<Vec<$crate::Participant>> {
                let (area, prefix) = $crate::enrolment::area_binds(within);
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{select} WHERE review_flags <> '' AND reviewed_at IS NULL
                       AND ($1 = '' OR village_code = $1 OR substr(village_code, 1, length($2)) = $2)
                     ORDER BY id LIMIT $3",
                    select = <$store as $crate::Dialect>::SELECT_PARTICIPANTS
                )))
                .bind(area)
                .bind(prefix)
                .bind(i64::from(limit))
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter()
                    .map(|row| $crate::rows::participant(row, &self.keys)?.into_participant(Vec::new()))
                    .collect()
            }

            async fn clear_review(&self, participant_id: i64, by: &str, now: i64) -> Result<bool> {
                Ok(sqlx::query(
                    "UPDATE participants SET reviewed_at = $2, reviewed_by = $3
                     WHERE id = $1 AND reviewed_at IS NULL AND review_flags <> ''",
                )
                .bind(participant_id)
                .bind(now)
                .bind(by)
                .execute(&self.$write)
                .await
                .map_err($dberr)?
                .rows_affected()
                    > 0)
            }
        }
    };
}
