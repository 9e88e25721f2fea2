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
        self.active_report_own(level, within, segment, month).await
    }


    async fn region_history(
        &self,
        region: RegionCode,
        to: Month,
    ) -> Result<Vec<(Series, i32, CounterValues)>> {
        self.region_history_own(region, to).await
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
        self.rebuild_counters_own(rules).await
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
