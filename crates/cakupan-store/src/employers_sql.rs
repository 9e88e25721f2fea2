//! The employers feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `EmployerStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! employers_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        #[async_trait::async_trait]
        impl $crate::employers::EmployerStore for $store {
            async fn add_employer(&self, e: &$crate::employers::Employer) -> Result<bool> {
                self.add_employer_impl(e).await
            }

            async fn employer(&self, code: &str) -> Result<Option<$crate::employers::Employer>> {
                self.employer_impl(code).await
            }

            async fn employer_summaries(
                &self,
                within: RegionCode,
                as_of: time::Date,
            ) -> Result<Vec<$crate::employers::EmployerSummary>> {
                self.employer_summaries_impl(within, as_of).await
            }

            async fn wage_report(
                &self,
                rules: &RuleSet,
                report: &$crate::employers::WageReport,
                write: bool,
            ) -> Result<$crate::employers::ReportOutcome> {
                self.wage_report_impl(rules, report, write).await
            }

            async fn employer_payment(
                &self,
                rules: &RuleSet,
                payment: &$crate::employers::EmployerPayment,
            ) -> Result<$crate::employers::PaymentOutcome> {
                self.employer_payment_impl(rules, payment).await
            }

            async fn employer_account(
                &self,
                code: &str,
                as_of: time::Date,
            ) -> Result<Option<$crate::employers::Account>> {
                self.employer_account_impl(code, as_of).await
            }

            async fn employer_invoice(
                &self,
                code: &str,
                month: Month,
            ) -> Result<Option<($crate::employers::Invoice, Vec<Participant>)>> {
                self.employer_invoice_impl(code, month).await
            }

            async fn employer_workers(
                &self,
                code: &str,
            ) -> Result<Vec<($crate::employers::Employment, Participant)>> {
                self.employer_workers_impl(code).await
            }

            async fn employments_of(
                &self,
                participant_id: i64,
            ) -> Result<Vec<$crate::employers::Employment>> {
                self.employments_of_impl(participant_id).await
            }
        }
    };
}
