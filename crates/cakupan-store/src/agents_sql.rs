//! The agents feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `AgentStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! agents_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        #[async_trait::async_trait]
        impl $crate::agents::AgentStore for $store {

    async fn set_office_target(
        &self,
        code: &str,
        from: Month,
        acquisitions: i64,
        set_by: &str,
    ) -> Result<()> {
        self.set_office_target_impl(code, from, acquisitions, set_by)
            .await
    }


    async fn end_office_agreement(
        &self,
        code: &str,
        last_day: time::Date,
        from: Month,
        reason: &str,
        by: &str,
        at: i64,
    ) -> Result<()> {
        self.end_office_agreement_impl(code, last_day, from, reason, by, at)
            .await
    }


    async fn office_targets(&self, code: &str) -> Result<Vec<(Month, i64)>> {
                let rows: Vec<(i32, i64)> = sqlx::query_as($crate::OFFICE_TARGETS_SQL)
                    .bind(code)
                    .fetch_all(&self.$read)
                    .await
                    .map_err($dberr)?;
                rows.into_iter()
                    .map(|(m, n)| {
                        cakupan_domain::Month::from_index(m)
                            .map(|m| (m, n))
                            .ok_or_else(|| {
                                $crate::StoreError::Corrupt(format!(
                                    "office target month {m}"
                                ))
                            })
                    })
                    .collect()
            }


    async fn add_office(&self, o: &$crate::agents::Office) -> Result<()> {
        self.add_office_own(o).await
    }


    async fn office(&self, code: &str) -> Result<Option<$crate::agents::Office>> {
        let row: Option<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT code, name, kind, region, agreement_from, agreement_to FROM offices WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(&self.$read)
        .await
        .map_err($dberr)?;
        row.map(|(c, n, k, r, f, t)| {
            $crate::agents::Office::from_text(c, n, k, &r, &f, t.as_deref())
        })
        .transpose()
    }


    async fn offices(&self, within: RegionCode) -> Result<Vec<$crate::agents::Office>> {
        let rows: Vec<(String, String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT code, name, kind, region, agreement_from, agreement_to FROM offices ORDER BY code",
        )
        .fetch_all(&self.$read)
        .await
        .map_err($dberr)?;
        let mut out = Vec::new();
        for (c, n, k, r, f, t) in rows {
            let o = $crate::agents::Office::from_text(c, n, k, &r, &f, t.as_deref())?;
            if within.contains(o.region) {
                out.push(o);
            }
        }
        Ok(out)
    }


    async fn add_agent(&self, a: &$crate::agents::Agent) -> Result<()> {
        self.add_agent_own(a).await
    }


    async fn agent_records(
        &self,
        filter: $crate::agents::AgentFilter<'_>,
    ) -> Result<Vec<$crate::agents::AgentRecord>> {
        self.agent_records_own(filter).await
    }


    async fn add_agent_event(
        &self,
        code: &str,
        event: &cakupan_domain::perisai::AgentEvent,
        by: &str,
        at: i64,
    ) -> Result<()> {
        self.add_agent_event_own(code, event, by, at).await
    }


    async fn add_deposit(
        &self,
        d: &$crate::agents::Deposit,
    ) -> Result<$crate::agents::Deposit> {
        self.add_deposit_own(d).await
    }


    async fn deposits(&self, agent_code: &str) -> Result<Vec<$crate::agents::Deposit>> {
        let rows: Vec<(String, String, i64, String, String)> = sqlx::query_as(
            "SELECT reference, agent_code, amount, deposited_on, recorded_by FROM deposits WHERE agent_code = $1 ORDER BY deposited_on, reference",
        )
        .bind(agent_code)
        .fetch_all(&self.$read)
        .await
        .map_err($dberr)?;
        rows.into_iter()
            .map(|(r, a, amount, on, by)| {
                $crate::agents::Deposit::from_text(r, a, amount, &on, by)
            })
            .collect()
    }


    async fn collections(
        &self,
        agent_code: &str,
    ) -> Result<Vec<$crate::agents::Collection>> {
        self.collection_rows("p.collected_by = $1", agent_code.to_string())
            .await
    }


    async fn collection(
        &self,
        posting_id: i64,
    ) -> Result<Option<$crate::agents::Collection>> {
        self.collection_own(posting_id).await
    }


    async fn acquired_by(
        &self,
        agent_code: &str,
    ) -> Result<Vec<($crate::Participant, Vec<LedgerRow>)>> {
        self.acquired_by_own(agent_code).await
    }


    async fn agent_months_all(&self) -> Result<$crate::ledger::AgentChanges> {
        self.agent_months_all_own().await
    }


    async fn recompute_agents(&self) -> Result<$crate::ledger::AgentChanges> {
        self.recompute_agents_own().await
    }
        }
    };
}
