//! The ledger feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `LedgerStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! ledger_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        #[async_trait::async_trait]
        impl $crate::ledger::LedgerStore for $store {
            async fn post_batch(
                &self,
                rules: &RuleSet,
                postings: &[NewPosting],
            ) -> Result<Vec<std::result::Result<PostingOutcome, FieldErrors>>> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let out = post_batch_in(&mut tx, &self.keys, rules, postings).await?;
                tx.commit().await.map_err($dberr)?;
                Ok(out)
            }

            async fn ledger(&self, participant_id: i64) -> Result<Vec<LedgerRow>> {
                let mut conn = self.$read.acquire().await.map_err($dberr)?;
                ledger_rows(&mut conn, participant_id).await
            }

            async fn counters(&self) -> Result<Vec<(String, i16, Series, i32, CounterValues)>> {
                let sql = format!(
                    "SELECT region, level, segment, month, {} FROM counters ORDER BY region, segment, month",
                    COUNTER_COLUMNS.join(", ")
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?;
                rows.iter().map($crate::rows::counter).collect()
            }

            async fn active_report(
                &self,
                level: Level,
                within: RegionCode,
                segment: Option<Segment>,
                month: Month,
            ) -> Result<Vec<ActiveRow>> {
                // The regions below `within` as a range of the covering index ("32.73." ≤ code <
                // "32.73/": '/' follows '.'); the column compares bytewise (PostgreSQL: COLLATE "C", migration 8; SQLite compares bytes).
                let (low, high) = $crate::subtree_range(within, level);
                let rows = sqlx::query(
                    "SELECT region, CAST(SUM(registered) AS BIGINT), CAST(SUM(paid_active) AS BIGINT), CAST(SUM(status_active) AS BIGINT), CAST(SUM(nonactive) AS BIGINT)
                     FROM counters
                     WHERE level = $1 AND region >= $4 AND region < $5
                       AND month <= $2 AND ($3 IS NULL OR segment = $3)
                     GROUP BY region ORDER BY region",
                )
                .bind(i16::from(level.depth()))
                .bind(month.index())
                .bind(segment.map(|s| s.as_str()))
                .bind(low)
                .bind(high)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.iter().map($crate::rows::active).collect()
            }

            async fn region_history(
                &self,
                region: RegionCode,
                to: Month,
            ) -> Result<Vec<(Series, i32, CounterValues)>> {
                sqlx::query(
                    "SELECT region, level, segment, month, registered, paid_active, status_active, nonactive, new, lapsed, reactivated, amount, left_employment
                     FROM counters WHERE region = $1 AND month <= $2 ORDER BY month",
                )
                .bind(region.to_string())
                .bind(to.index())
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?
                .iter()
                .map(|r| $crate::rows::counter(r).map(|(_, _, s, m, v)| (s, m, v)))
                .collect()
            }

            async fn recompute(&self, rules: &RuleSet) -> Result<CounterChanges> {
                let mut conn = self.$read.acquire().await.map_err($dberr)?;
                recompute_on(&mut conn, rules).await
            }

            async fn participant_of_posting(&self, reference: &str) -> Result<Option<i64>> {
                sqlx::query_scalar("SELECT participant_id FROM postings WHERE reference = $1")
                    .bind(reference)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)
            }

            async fn rebuild_counters(&self, rules: &RuleSet) -> Result<u64> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                // Writers take row locks on people, participants and counters: a SHARE lock on
                // the ledger and the registry holds them off until the rebuilt counters are
                // committed (where one writer holds the whole database, nothing else writes).
                if let Some(lock) =
                    <$store as $crate::Dialect>::table_lock("participants, postings, people", "SHARE")
                {
                    sqlx::query(sqlx::AssertSqlSafe(lock))
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                let changes = recompute_on(&mut tx, rules).await?;
                sqlx::query("DELETE FROM counters")
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                upsert_counters(&mut tx, &changes).await?;
                let agents = recompute_agents_on(&mut tx).await?;
                sqlx::query("DELETE FROM agent_months")
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                upsert_agent_months(&mut tx, &agents).await?;
                sqlx::query($crate::SET_COUNTERS_FINGERPRINT_SQL)
                    .bind(cakupan_domain::coverage::counting_fingerprint(rules))
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                tx.commit().await.map_err($dberr)?;
                Ok((changes.rows().len() + agents.rows().len()) as u64)
            }

            async fn counters_fingerprint(&self) -> Result<Option<String>> {
                sqlx::query_scalar($crate::COUNTERS_FINGERPRINT_SQL)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($dberr)
            }
        }
    };
}
