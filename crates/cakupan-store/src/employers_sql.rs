//! The employers feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `EmployerStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. A method whose SQL differs
/// between the databases calls the backend's own `<method>_own`.
#[macro_export]
macro_rules! employers_store_impl {
    ($store:ident, $db:ty, write = $write:ident, read = $read:ident, db_err = $dberr:path) => {
        fn employer_at(
            row: &<$db as sqlx::Database>::Row,
            keys: &Keys,
            with_contact: bool,
        ) -> Result<Employer> {
            let contact: Option<Vec<u8>> = if with_contact {
                row.try_get(6).map_err($dberr)?
            } else {
                None
            };
            $crate::employers::employer_from_row(
                keys,
                row.try_get(0).map_err($dberr)?,
                row.try_get(1).map_err($dberr)?,
                &row.try_get::<String, _>(2).map_err($dberr)?,
                row.try_get(3).map_err($dberr)?,
                &row.try_get::<String, _>(4).map_err($dberr)?,
                &row.try_get::<String, _>(5).map_err($dberr)?,
                contact.as_deref(),
            )
        }

        async fn employer_in(
            tx: &mut Transaction<'_, $db>,
            keys: &Keys,
            code: &str,
        ) -> Result<Option<Employer>> {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {EMPLOYER_COLUMNS} FROM employers WHERE code = $1"
            )))
            .bind(code)
            .fetch_optional(&mut **tx)
            .await
            .map_err($dberr)?;
            row.map(|r| employer_at(&r, keys, true)).transpose()
        }

        fn participant_at(row: &<$db as sqlx::Database>::Row, keys: &Keys) -> Result<Participant> {
            $crate::rows::participant(row, keys)?.into_participant(Vec::new())
        }

        async fn account_in(
            tx: &mut Transaction<'_, $db>,
            keys: &Keys,
            code: &str,
            as_of: Date,
        ) -> Result<Option<Account>> {
            let Some(employer) = employer_in(tx, keys, code).await? else {
                return Ok(None);
            };
            let workers: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM employments WHERE employer_code = $1 AND until IS NULL",
            )
            .bind(code)
            .fetch_one(&mut **tx)
            .await
            .map_err($dberr)?;
            let heads = heads_in(tx, code).await?;
            let payments = payments_in(tx, code).await?;
            let fees = unbilled_fees_in(tx, code).await?;
            Ok(Some($crate::employers::account(
                employer,
                u64::try_from(workers).unwrap_or(0),
                heads,
                payments,
                fees,
                as_of,
            )))
        }

        /// The state of invoice `id` in its employer's account on `as_of`.
        async fn invoice_state_in(
            tx: &mut Transaction<'_, $db>,
            keys: &Keys,
            code: &str,
            id: i64,
            as_of: Date,
        ) -> Result<Option<InvoiceState>> {
            Ok(account_in(tx, keys, code, as_of)
                .await?
                .and_then(|a| a.invoices.into_iter().find(|i| i.head.id == id)))
        }

        #[async_trait::async_trait]
        impl $crate::employers::EmployerStore for $store {
            async fn add_employer(&self, e: &Employer) -> Result<bool> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                if let Some(stored) = employer_in(&mut tx, &self.keys, &e.code).await? {
                    return if stored == *e {
                        Ok(false)
                    } else {
                        Err($crate::employers::employer_taken())
                    };
                }
                let inserted = sqlx::query(
                    "INSERT INTO employers (code, name, size, risk_class, region, registered_on, contact, key_version)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO NOTHING",
                )
                .bind(&e.code)
                .bind(&e.name)
                .bind(e.size.as_str())
                .bind(i64::from(e.risk_class))
                .bind(e.region.to_string())
                .bind(format_date(e.registered_on))
                .bind($crate::employers::seal_contact(&self.keys, e)?)
                .bind(i64::from(self.keys.current_version()))
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
                if inserted.rows_affected() == 0 {
                    // Registered by a concurrent request since the look-up above.
                    let stored = employer_in(&mut tx, &self.keys, &e.code).await?;
                    return if stored.as_ref() == Some(e) {
                        Ok(false)
                    } else {
                        Err($crate::employers::employer_taken())
                    };
                }
                tx.commit().await.map_err($dberr)?;
                Ok(true)
            }

            async fn employer(&self, code: &str) -> Result<Option<Employer>> {
                let mut tx = self.$read.begin().await.map_err($dberr)?;
                employer_in(&mut tx, &self.keys, code).await
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

            async fn employer_account(&self, code: &str, as_of: Date) -> Result<Option<Account>> {
                let mut tx = self.$read.begin().await.map_err($dberr)?;
                account_in(&mut tx, &self.keys, code, as_of).await
            }

            async fn employer_invoice(
                &self,
                code: &str,
                month: Month,
            ) -> Result<Option<($crate::employers::Invoice, Vec<Participant>)>> {
                self.employer_invoice_impl(code, month).await
            }

            async fn employer_workers(&self, code: &str) -> Result<Vec<(Employment, Participant)>> {
                let mut tx = self.$read.begin().await.map_err($dberr)?;
                workers_in(&mut tx, &self.keys, code).await
            }

            async fn employments_of(&self, participant_id: i64) -> Result<Vec<Employment>> {
                let rows: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT employer_code, since, until FROM employments WHERE participant_id = $1 ORDER BY since",
                )
                .bind(participant_id)
                .fetch_all(&self.$read)
                .await
                .map_err($dberr)?;
                rows.into_iter()
                    .map(|(employer_code, since, until)| {
                        Ok(Employment {
                            participant_id,
                            employer_code,
                            since: month_of(since)?,
                            until: until.map(month_of).transpose()?,
                        })
                    })
                    .collect()
            }
        }
    };
}
