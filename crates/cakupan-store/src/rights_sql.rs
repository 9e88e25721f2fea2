//! The rights feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `RightsStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! rights_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        #[async_trait::async_trait]
        impl $crate::rights::RightsStore for $store {
            async fn add_consent(&self, nik_index: &[u8], c: &$crate::accounts::Consent) -> Result<()> {
                sqlx::query(
                    "INSERT INTO consents (nik_index, purpose, notice_version, decision, at, channel) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(nik_index)
                .bind(&c.purpose)
                .bind(&c.notice_version)
                .bind(&c.decision)
                .bind(c.at)
                .bind(&c.channel)
                .execute(&self.$write)
                .await
                .map_err($dberr)?;
                Ok(())
            }

            async fn consents(&self, nik_index: &[u8]) -> Result<Vec<$crate::accounts::Consent>> {
                let rows: Vec<(String, String, String, i64, String)> = sqlx::query_as(
                    "SELECT purpose, notice_version, decision, at, channel FROM consents WHERE nik_index = $1 ORDER BY id",
                )
                .bind(nik_index)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(purpose, notice_version, decision, at, channel)| $crate::accounts::Consent {
                            purpose,
                            notice_version,
                            decision,
                            at,
                            channel,
                        },
                    )
                    .collect())
            }

            async fn add_correction(&self, c: &$crate::accounts::Correction) -> Result<i64> {
                self.add_correction_own(c).await
            }

            async fn open_corrections(
                &self,
                within: RegionCode,
            ) -> Result<Vec<$crate::accounts::Correction>> {
                let prefix = if within == RegionCode::NATION {
                    String::new()
                } else {
                    format!("{within}.")
                };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {cols} FROM corrections
                     WHERE status = 'open' AND ($1 = '' OR village_code = $1 OR substr(village_code, 1, length($2)) = $2)
                     ORDER BY requested_at, id",
                    cols = $crate::accounts::CORRECTION_COLUMNS
                )))
                .bind(within.to_string())
                .bind(prefix)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?
                .iter()
                .map(|r| $crate::rows::correction(r, &self.keys))
                .collect()
            }

            async fn correction(&self, id: i64) -> Result<Option<$crate::accounts::Correction>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.$read)
                .await
                .map_err($dberr)?
                .map(|r| $crate::rows::correction(&r, &self.keys))
                .transpose()
            }

            async fn corrections_of(
                &self,
                participant_ids: &[i64],
            ) -> Result<Vec<$crate::accounts::Correction>> {
                let mut out = Vec::new();
                for id in participant_ids {
                    for r in sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {CORRECTION_COLUMNS} FROM corrections WHERE participant_id = $1"
                    )))
                    .bind(id)
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?
                    {
                        out.push($crate::rows::correction(&r, &self.keys)?);
                    }
                }
                out.sort_by_key(|c| std::cmp::Reverse((c.requested_at, c.id)));
                Ok(out)
            }

            async fn decide_correction(
                &self,
                rules: &RuleSet,
                d: &$crate::accounts::CorrectionDecision,
            ) -> Result<Option<$crate::accounts::Correction>> {
                self.decide_correction_own(rules, d).await
            }
        }
    };
}
