//! The employers feature's SQL, written once for both sqlx backends (`$N` placeholders, which
//! sqlx's SQLite driver binds by number too).

/// Expands to `EmployerStore` for `$store` on the sqlx database `$db`: `$write` and `$read` name its
/// pools (the same on PostgreSQL), `$db_err` maps a sqlx error. What differs between the
/// databases is the backend's own: its bulk writes of invoice lines
/// (`$store::insert_invoice_lines_own`, `$store::mark_lines_paid_own`) and the look-up of
/// stored participations (`existing`, `participants_by_ids`), beside `register_batch_in` and
/// `post_batch_in` (all from `store_flows!`).
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
            account_of(tx, employer, as_of).await.map(Some)
        }

        /// The account of an employer already read in this transaction.
        async fn account_of(
            tx: &mut Transaction<'_, $db>,
            employer: Employer,
            as_of: Date,
        ) -> Result<Account> {
            let code = employer.code.clone();
            let code = code.as_str();
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
            Ok($crate::employers::account(
                employer,
                u64::try_from(workers).unwrap_or(0),
                heads,
                payments,
                fees,
                as_of,
            ))
        }

        /// The state of invoice `id` in the account of `employer` (read in this transaction)
        /// on `as_of`.
        async fn invoice_state_in(
            tx: &mut Transaction<'_, $db>,
            employer: &Employer,
            id: i64,
            as_of: Date,
        ) -> Result<Option<InvoiceState>> {
            Ok(account_of(tx, employer.clone(), as_of)
                .await?
                .invoices
                .into_iter()
                .find(|i| i.head.id == id))
        }


        /// The employer's open employments with their participations.
        async fn workers_in(
            tx: &mut Transaction<'_, $db>,
            keys: &Keys,
            code: &str,
        ) -> Result<Vec<(Employment, Participant)>> {
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT participant_id, since FROM employments WHERE employer_code = $1 AND until IS NULL",
            )
            .bind(code)
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            let since: std::collections::HashMap<i64, i64> = rows.into_iter().collect();
            if since.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<i64> = since.keys().copied().collect();
            participants_by_ids(tx, keys, &ids)
                .await?
                .into_iter()
                .map(|p| {
                    Ok((
                        Employment {
                            participant_id: p.id,
                            employer_code: code.to_string(),
                            since: month_of(since.get(&p.id).copied().unwrap_or_default())?,
                            until: None,
                        },
                        p,
                    ))
                })
                .collect()
        }

        async fn unbilled_fees_in(tx: &mut Transaction<'_, $db>, code: &str) -> Result<i64> {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(l.late_fee), 0) AS BIGINT) FROM invoice_lines l
                 WHERE l.employer_code = $1 AND l.late_fee > 0 AND l.fee_invoice_id IS NULL",
            )
            .bind(code)
            .fetch_one(&mut **tx)
            .await
            .map_err($dberr)
        }

        /// Serialises the writes of one employer (reports and payments) across connections
        /// (a no-op where one writer holds the whole database).
        async fn lock_employer(tx: &mut Transaction<'_, $db>, code: &str) -> Result<()> {
            if <$store as $crate::Dialect>::FOR_UPDATE.is_empty() {
                return Ok(());
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT code FROM employers WHERE code = $1{}",
                <$store as $crate::Dialect>::FOR_UPDATE
            )))
            .bind(code)
            .fetch_optional(&mut **tx)
            .await
            .map_err($dberr)?;
            Ok(())
        }

        async fn context_in(
            tx: &mut Transaction<'_, $db>,
            keys: &Keys,
            report: &$crate::employers::WageReport,
        ) -> Result<$crate::employers::ReportContext> {
            use std::collections::HashMap;
            let code = report.employer_code.as_str();
            let employer = employer_in(tx, keys, code)
                .await?
                .ok_or_else($crate::employers::unknown_employer)?;
            let invoices: Vec<(i64, i64, String)> = sqlx::query_as(
                "SELECT id, month, report_hash FROM invoices WHERE employer_code = $1 ORDER BY id",
            )
            .bind(code)
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            let invoices = invoices
                .into_iter()
                .map(|(id, m, h)| Ok((id, month_of(m)?, h)))
                .collect::<Result<Vec<_>>>()?;
            let mut last_lines = HashMap::new();
            if let Some((last, _, _)) = invoices.last() {
                let rows: Vec<(i64, i64, String)> = sqlx::query_as(
                    "SELECT participant_id, wage, programs FROM invoice_lines WHERE invoice_id = $1 AND employer_code = $2",
                )
                .bind(last)
                .bind(code)
                .fetch_all(&mut **tx)
                .await
                .map_err($dberr)?;
                for (pid, wage, programs) in rows {
                    last_lines.insert(pid, (Rupiah(wage), programmes_of(&programs)?));
                }
            }
            let workers = workers_in(tx, keys, code).await?;
            // Only a new enrolment needs to know about the person's other employments.
            let niks: Vec<Nik> = report
                .entries
                .iter()
                .filter(|e| e.action == cakupan_domain::employers::WageAction::Enrol)
                .map(|e| e.nik)
                .collect();
            let mut known: HashMap<Nik, $crate::employers::Known> = HashMap::new();
            for ((nik, segment), (id, kpj, registration)) in existing(tx, keys, &niks).await? {
                if segment == cakupan_domain::Segment::Pu {
                    known.insert(
                        nik,
                        $crate::employers::Known {
                            participant: Participant {
                                id,
                                kpj,
                                registration,
                                dukcapil_status: String::new(),
                            },
                            open: None,
                            terminated: false,
                        },
                    );
                }
            }
            let ids: Vec<i64> = known.values().map(|k| k.participant.id).collect();
            let by_id: HashMap<i64, Nik> = known.iter().map(|(n, k)| (k.participant.id, *n)).collect();
            // Nothing to look up when the report enrols no one already registered.
            if !ids.is_empty() {
                for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT participant_id, employer_code, since FROM open_employments WHERE participant_id {}",
                    <$store as $crate::Dialect>::one_of(1)
                )))
                .bind(<$store as $crate::Dialect>::ids(&ids))
                .fetch_all(&mut **tx)
                .await
                .map_err($dberr)?
                {
                    let pid: i64 = row.try_get(0).map_err($dberr)?;
                    if let Some(k) = by_id.get(&pid).and_then(|n| known.get_mut(n)) {
                        k.open = Some(Employment {
                            participant_id: pid,
                            employer_code: row.try_get(1).map_err($dberr)?,
                            since: month_of(row.try_get(2).map_err($dberr)?)?,
                            until: None,
                        });
                    }
                }
                for row in sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT DISTINCT participant_id FROM postings WHERE kind = 'termination' AND participant_id {}",
                    <$store as $crate::Dialect>::one_of(1)
                )))
                .bind(<$store as $crate::Dialect>::ids(&ids))
                .fetch_all(&mut **tx)
                .await
                .map_err($dberr)?
                {
                    let pid: i64 = row.try_get(0).map_err($dberr)?;
                    if let Some(k) = by_id.get(&pid).and_then(|n| known.get_mut(n)) {
                        k.terminated = true;
                    }
                }
            }
            Ok($crate::employers::ReportContext {
                employer,
                invoices,
                last_lines,
                workers,
                known,
                unbilled_fees: Rupiah(unbilled_fees_in(tx, code).await?),
            })
        }

        /// Applies the employer's payments to its open invoices and writes what they complete:
        /// each completed line's date and late fee, its contribution in the ledger, each
        /// settled invoice; then the employer's standing row.
        async fn settle_in(
            tx: &mut Transaction<'_, $db>,
            keys: &Keys,
            rules: &RuleSet,
            code: &str,
            today: Date,
        ) -> Result<(usize, Rupiah, usize)> {
            let settled = settle_open_in(tx, keys, rules, code, today).await?;
            refresh_standing_in(tx, code).await?;
            Ok(settled)
        }

        /// Writes the employer's standing row again from its records (issue #23, item 4): the
        /// last step of every transaction that reports or pays, since each ends in `settle_in`.
        async fn refresh_standing_in(tx: &mut Transaction<'_, $db>, code: &str) -> Result<()> {
            use $crate::employers::{STANDING_COLUMNS, STANDING_SELECT, STANDING_UPSERT};
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO employer_standings ({STANDING_COLUMNS})
                 {STANDING_SELECT} WHERE e.code = $1 {STANDING_UPSERT}"
            )))
            .bind(code)
            .execute(&mut **tx)
            .await
            .map_err($dberr)?;
            Ok(())
        }

        /// Applies the payments (see `settle_in`).
        async fn settle_open_in(
            tx: &mut Transaction<'_, $db>,
            keys: &Keys,
            rules: &RuleSet,
            code: &str,
            today: Date,
        ) -> Result<(usize, Rupiah, usize)> {
            use $crate::employers::rows::{INVOICE_COLUMNS, InvoiceRow, LINE_COLUMNS, LineRow};
            use std::collections::HashMap;
            let rows: Vec<InvoiceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {INVOICE_COLUMNS} FROM invoices WHERE employer_code = $1 AND settled_on IS NULL ORDER BY id"
            )))
            .bind(code)
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            if rows.is_empty() {
                return Ok((0, Rupiah::ZERO, 0));
            }
            let mut open = rows
                .into_iter()
                .map($crate::employers::rows::invoice_of)
                .collect::<Result<Vec<_>>>()?;
            let index: HashMap<i64, usize> = open.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
            let lines: Vec<LineRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {LINE_COLUMNS} FROM invoice_lines WHERE employer_code = $1 AND invoice_id IN
                   (SELECT id FROM invoices WHERE employer_code = $1 AND settled_on IS NULL)
                 ORDER BY invoice_id, position"
            )))
            .bind(code)
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            for l in lines {
                let (inv, line) = $crate::employers::rows::line_of(l)?;
                if let Some(&i) = index.get(&inv) {
                    open[i].lines.push(line);
                }
            }
            let consumed: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM invoices WHERE employer_code = $1 AND settled_on IS NOT NULL",
            )
            .bind(code)
            .fetch_one(&mut **tx)
            .await
            .map_err($dberr)?;
            let payments: Vec<(String, i64)> = sqlx::query_as(
                "SELECT paid_on, amount FROM employer_payments WHERE employer_code = $1 ORDER BY id",
            )
            .bind(code)
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            let payments = payments
                .into_iter()
                .map(|(d, a)| Ok((date_of(&d)?, a)))
                .collect::<Result<Vec<_>>>()?;
            let s = $crate::employers::settle(&open, consumed, &payments, today);
            let ids: Vec<i64> = s.lines.iter().map(|l| l.participant_id).collect();
            let people: HashMap<i64, Participant> = participants_by_ids(tx, keys, &ids)
                .await?
                .into_iter()
                .map(|p| (p.id, p))
                .collect();
            let mut postings = Vec::with_capacity(s.lines.len());
            let mut paid = Vec::with_capacity(s.lines.len());
            let mut fees = 0i64;
            for (inv, line, p, done, fee) in
                $crate::employers::completed_lines(rules, &open, &index, &s.lines, &people)?
            {
                fees += fee.0;
                paid.push($crate::employers::LinePaid {
                    invoice_id: done.invoice_id,
                    position: i64::from(done.position),
                    paid_on: format_date(done.paid_on),
                    late_fee: fee.0,
                });
                postings.push($crate::employers::contribution(
                    inv,
                    line,
                    p.registration.nik,
                    done.paid_on,
                ));
            }
            if !paid.is_empty() {
                $store::mark_lines_paid_own(tx, code, &paid).await?;
            }
            for r in post_batch_in(tx, keys, rules, &postings).await? {
                if let Err(e) = r {
                    return Err($crate::StoreError::Database(format!(
                        "an invoice line could not be posted to the ledger: {e}"
                    )));
                }
            }
            for (id, on) in &s.invoices {
                sqlx::query("UPDATE invoices SET settled_on = $1 WHERE id = $2 AND employer_code = $3")
                    .bind(format_date(*on))
                    .bind(id)
                    .bind(code)
                    .execute(&mut **tx)
                    .await
                    .map_err($dberr)?;
            }
            Ok((s.lines.len(), Rupiah(fees), s.invoices.len()))
        }

        /// Every invoice head of an employer, oldest first.
        async fn heads_in(
            tx: &mut Transaction<'_, $db>,
            code: &str,
        ) -> Result<Vec<$crate::employers::InvoiceHead>> {
            type HeadRow = (i64, i64, String, i64, i64, i64, Option<String>);
            let rows: Vec<HeadRow> = sqlx::query_as(
                "SELECT i.id, i.month, i.due_on, i.total, i.fees_carried,
                        (SELECT COUNT(*) FROM invoice_lines l WHERE l.invoice_id = i.id AND l.employer_code = i.employer_code), i.settled_on
                 FROM invoices i WHERE i.employer_code = $1 ORDER BY i.id",
            )
            .bind(code)
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            rows.into_iter()
                .map(|(id, m, due, total, fees, n, settled)| {
                    Ok($crate::employers::InvoiceHead {
                        id,
                        month: month_of(m)?,
                        due_on: date_of(&due)?,
                        total: Rupiah(total),
                        fees_carried: Rupiah(fees),
                        workers: u32::try_from(n).unwrap_or(u32::MAX),
                        settled_on: settled.as_deref().map(date_of).transpose()?,
                    })
                })
                .collect()
        }

        async fn payments_in(
            tx: &mut Transaction<'_, $db>,
            code: &str,
        ) -> Result<Vec<$crate::employers::EmployerPayment>> {
            let rows: Vec<(String, i64, String, Option<String>, String)> = sqlx::query_as(
                "SELECT reference, amount, paid_on, payment_code, recorded_by FROM employer_payments
                 WHERE employer_code = $1 ORDER BY id",
            )
            .bind(code)
            .fetch_all(&mut **tx)
            .await
            .map_err($dberr)?;
            rows.into_iter()
                .map(|(reference, amount, paid_on, payment_code, recorded_by)| {
                    Ok($crate::employers::EmployerPayment {
                        reference,
                        employer_code: code.to_string(),
                        amount: Rupiah(amount),
                        paid_on: date_of(&paid_on)?,
                        payment_code,
                        recorded_by,
                    })
                })
                .collect()
        }

        /// `EmployerStore::employer_payment` inside a transaction the caller commits (a
        /// payment through a channel partner records its transaction in the same one).
        pub(crate) async fn payment_in(
            tx: &mut Transaction<'_, $db>,
            keys: &Keys,
            rules: &RuleSet,
            payment: &$crate::employers::EmployerPayment,
        ) -> Result<$crate::employers::PaymentOutcome> {
            use $crate::employers as emp;
            let p = payment;
            lock_employer(tx, &p.employer_code).await?;
            if employer_in(tx, keys, &p.employer_code)
                .await?
                .is_none()
            {
                return Err(emp::unknown_employer());
            }
            // The reference is claimed across employers (payment_references); the payment
            // itself is read from its employer's rows.
            let claimed: Option<String> =
                sqlx::query_scalar("SELECT employer_code FROM payment_references WHERE reference = $1")
                    .bind(&p.reference)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($dberr)?;
            if let Some(code) = claimed {
                if code != p.employer_code {
                    return Err(emp::payment_reused(&p.reference));
                }
                let (amount, paid_on, payment_code): (i64, String, Option<String>) = sqlx::query_as(
                    "SELECT amount, paid_on, payment_code FROM employer_payments
                     WHERE reference = $1 AND employer_code = $2",
                )
                .bind(&p.reference)
                .bind(&code)
                .fetch_one(&mut **tx)
                .await
                .map_err($dberr)?;
                return if amount == p.amount.0
                    && paid_on == format_date(p.paid_on)
                    && payment_code == p.payment_code
                {
                    Ok(emp::PaymentOutcome {
                        repeat: true,
                        lines_paid: 0,
                        late_fees: Rupiah::ZERO,
                        invoices_settled: 0,
                    })
                } else {
                    Err(emp::payment_reused(&p.reference))
                };
            }
            let latest: Option<String> = sqlx::query_scalar(
                "SELECT MAX(paid_on) FROM employer_payments WHERE employer_code = $1",
            )
            .bind(&p.employer_code)
            .fetch_one(&mut **tx)
            .await
            .map_err($dberr)?;
            if let Some(l) = latest.as_deref().map(date_of).transpose()?
                && p.paid_on < l
            {
                return Err(emp::payment_out_of_order(l));
            }
            if let Some(c) = &p.payment_code {
                let id = emp::invoice_of_payment_code(c).ok_or_else(emp::payment_code_unknown)?;
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM invoices WHERE id = $1 AND employer_code = $2")
                        .bind(id)
                        .bind(&p.employer_code)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err($dberr)?;
                if found.is_none() {
                    return Err(emp::payment_code_unknown());
                }
            }
            sqlx::query("INSERT INTO payment_references (reference, employer_code) VALUES ($1, $2)")
                .bind(&p.reference)
                .bind(&p.employer_code)
                .execute(&mut **tx)
                .await
                .map_err($dberr)?;
            sqlx::query(
                "INSERT INTO employer_payments (reference, employer_code, amount, paid_on, payment_code, recorded_by, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&p.reference)
            .bind(&p.employer_code)
            .bind(p.amount.0)
            .bind(format_date(p.paid_on))
            .bind(p.payment_code.as_deref())
            .bind(&p.recorded_by)
            .bind($crate::clock::now_secs())
            .execute(&mut **tx)
            .await
            .map_err($dberr)?;
            let (lines_paid, late_fees, invoices_settled) =
                settle_in(tx, keys, rules, &p.employer_code, p.paid_on).await?;
            Ok(emp::PaymentOutcome {
                repeat: false,
                lines_paid,
                late_fees,
                invoices_settled,
            })
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
                q: &$crate::employers::EmployerQuery,
                as_of: time::Date,
            ) -> Result<$crate::employers::EmployerList> {
                use $crate::employers::{EmployerList, EmployerSummary, InvoiceHead, StandingRow};
                use std::collections::HashMap;
                let (lo, hi) = $crate::subtree_range(q.within, cakupan_domain::Level::Village);
                let pattern = q.pattern();
                // The text to find, when there is one: a piece of the name (any case) or of the NIB.
                let find = if pattern.is_some() {
                    " AND (LOWER(e.name) LIKE $3 ESCAPE '\\' OR e.code LIKE $3 ESCAPE '\\')"
                } else {
                    " AND $3 IS NULL"
                };
                let columns = "e.code, e.name, e.size, e.risk_class, e.region, e.registered_on, e.contact,
                               s.employer_code, s.region, s.workers, s.billed, s.paid, s.consumed,
                               s.unbilled_fees, s.last_month, s.open_due";
                let mut tx = self.$read.begin().await.map_err($dberr)?;
                let limit = q.limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
                let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
                let (total, rows) = if q.arrears_only {
                    // Only the employers with an open invoice past due can be in arrears: their
                    // rows, through the index by `open_due`.
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {columns} FROM employer_standings s JOIN employers e ON e.code = s.employer_code
                         WHERE s.open_due < $4 AND s.region >= $1 AND s.region < $2{find}
                         ORDER BY e.name, e.code"
                    )))
                    .bind(&lo)
                    .bind(&hi)
                    .bind(pattern.as_deref())
                    .bind(format_date(as_of))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($dberr)?;
                    (None, rows)
                } else {
                    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM employers e WHERE e.region >= $1 AND e.region < $2{find}"
                    )))
                    .bind(&lo)
                    .bind(&hi)
                    .bind(pattern.as_deref())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($dberr)?;
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {columns} FROM employers e LEFT JOIN employer_standings s ON s.employer_code = e.code
                         WHERE e.region >= $1 AND e.region < $2{find}
                         ORDER BY e.name, e.code LIMIT $4 OFFSET $5"
                    )))
                    .bind(&lo)
                    .bind(&hi)
                    .bind(pattern.as_deref())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($dberr)?;
                    (Some(u64::try_from(total).unwrap_or(0)), rows)
                };
                let mut read = Vec::with_capacity(rows.len());
                for r in &rows {
                    let e = employer_at(r, &self.keys, false)?;
                    let standing = match r.try_get::<Option<String>, _>(7).map_err($dberr)? {
                        None => StandingRow::empty(&e.code, &e.region.to_string()),
                        Some(code) => StandingRow {
                            employer_code: code,
                            region: r.try_get(8).map_err($dberr)?,
                            workers: r.try_get(9).map_err($dberr)?,
                            billed: r.try_get(10).map_err($dberr)?,
                            paid: r.try_get(11).map_err($dberr)?,
                            consumed: r.try_get(12).map_err($dberr)?,
                            unbilled_fees: r.try_get(13).map_err($dberr)?,
                            last_month: r.try_get(14).map_err($dberr)?,
                            open_due: r.try_get(15).map_err($dberr)?,
                        },
                    };
                    read.push((e, standing));
                }
                // The open invoices of the employers read, oldest first: the standing on `as_of`.
                let open_codes: Vec<String> = read
                    .iter()
                    .filter(|(_, s)| s.open_due.is_some())
                    .map(|(e, _)| e.code.clone())
                    .collect();
                let mut heads: HashMap<String, Vec<InvoiceHead>> = HashMap::new();
                if !open_codes.is_empty() {
                    let open: Vec<(String, i64, i64, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT employer_code, id, month, due_on, total, fees_carried FROM invoices
                         WHERE settled_on IS NULL AND employer_code {} ORDER BY employer_code, id",
                        <$store as $crate::Dialect>::one_of(1)
                    )))
                    .bind(<$store as $crate::Dialect>::texts(
                        &open_codes.iter().map(String::as_str).collect::<Vec<_>>(),
                    ))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($dberr)?;
                    for (code, id, m, due, total, fees_carried) in open {
                        heads.entry(code).or_default().push(InvoiceHead {
                            id,
                            month: month_of(m)?,
                            due_on: date_of(&due)?,
                            total: Rupiah(total),
                            fees_carried: Rupiah(fees_carried),
                            workers: 0,
                            settled_on: None,
                        });
                    }
                }
                let mut list = read
                    .into_iter()
                    .map(|(e, s)| {
                        let (standing, states) = $crate::employers::standing(
                            heads.get(&e.code).map(Vec::as_slice).unwrap_or(&[]),
                            s.consumed,
                            s.billed,
                            s.paid,
                            s.unbilled_fees,
                            as_of,
                        );
                        Ok(EmployerSummary {
                            overdue_invoices: states
                                .iter()
                                .filter(|i| i.overdue)
                                .map(|i| i.head.id)
                                .collect(),
                            workers: u64::try_from(s.workers).unwrap_or(0),
                            last_month: s.last_month.map(month_of).transpose()?,
                            standing,
                            employer: e,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let total = match total {
                    Some(t) => t,
                    None => {
                        // In arrears, most owed first (by name among equals): the cut is made here.
                        list.retain(|s| s.standing.in_arrears());
                        list.sort_by_key(|s| std::cmp::Reverse(s.standing.overdue));
                        let total = list.len() as u64;
                        list = list
                            .into_iter()
                            .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
                            .take(q.limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)))
                            .collect();
                        total
                    }
                };
                Ok(EmployerList { total, rows: list })
            }

            async fn unpaid_lines(
                &self,
                ids: &[i64],
            ) -> Result<Vec<($crate::employers::Invoice, Vec<cakupan_domain::Sector>)>> {
                use $crate::employers::rows::{INVOICE_COLUMNS, InvoiceRow, LINE_COLUMNS, LineRow};
                use std::collections::HashMap;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let one_of = <$store as $crate::Dialect>::one_of(1);
                let mut tx = self.$read.begin().await.map_err($dberr)?;
                let rows: Vec<InvoiceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {INVOICE_COLUMNS} FROM invoices WHERE id {one_of} ORDER BY id"
                )))
                .bind(<$store as $crate::Dialect>::ids(ids))
                .fetch_all(&mut *tx)
                .await
                .map_err($dberr)?;
                let mut invoices = rows
                    .into_iter()
                    .map($crate::employers::rows::invoice_of)
                    .collect::<Result<Vec<_>>>()?;
                let at: HashMap<i64, usize> =
                    invoices.iter().enumerate().map(|(k, i)| (i.id, k)).collect();
                let lines: Vec<LineRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {LINE_COLUMNS} FROM invoice_lines
                     WHERE invoice_id {one_of} AND paid_on IS NULL ORDER BY invoice_id, position"
                )))
                .bind(<$store as $crate::Dialect>::ids(ids))
                .fetch_all(&mut *tx)
                .await
                .map_err($dberr)?;
                for l in lines {
                    let (inv, line) = $crate::employers::rows::line_of(l)?;
                    if let Some(&k) = at.get(&inv) {
                        invoices[k].lines.push(line);
                    }
                }
                let people: Vec<i64> = invoices
                    .iter()
                    .flat_map(|i| i.lines.iter().map(|l| l.participant_id))
                    .collect();
                let sectors: Vec<(i64, String)> = if people.is_empty() {
                    Vec::new()
                } else {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT id, sector FROM participants WHERE id {one_of}"
                    )))
                    .bind(<$store as $crate::Dialect>::ids(&people))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($dberr)?
                };
                let sectors = sectors
                    .into_iter()
                    .map(|(id, s)| {
                        cakupan_domain::Sector::parse(&s)
                            .map(|s| (id, s))
                            .ok_or_else(|| $crate::employers::rows::corrupt("sector", s))
                    })
                    .collect::<Result<HashMap<_, _>>>()?;
                invoices
                    .into_iter()
                    .map(|i| {
                        let of = i
                            .lines
                            .iter()
                            .map(|l| {
                                sectors.get(&l.participant_id).copied().ok_or_else(|| {
                                    $crate::employers::rows::corrupt(
                                        "invoice line's participant",
                                        l.participant_id,
                                    )
                                })
                            })
                            .collect::<Result<Vec<_>>>()?;
                        Ok((i, of))
                    })
                    .collect()
            }

            async fn rebuild_employer_standings(&self) -> Result<u64> {
                use $crate::employers::{STANDING_COLUMNS, STANDING_SELECT, STANDING_UPSERT};
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                // Reports and payments write these tables: a SHARE lock holds them off until the
                // rows are committed (where one writer holds the whole database, nothing else
                // writes).
                if let Some(lock) = <$store as $crate::Dialect>::table_lock(
                    "employments, invoices, invoice_lines, employer_payments",
                    "SHARE",
                ) {
                    sqlx::query(sqlx::AssertSqlSafe(lock))
                        .execute(&mut *tx)
                        .await
                        .map_err($dberr)?;
                }
                // `WHERE true`: SQLite reads an `ON CONFLICT` after a `SELECT` only after a
                // `WHERE`.
                let n = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO employer_standings ({STANDING_COLUMNS})
                     {STANDING_SELECT} WHERE true {STANDING_UPSERT}"
                )))
                .execute(&mut *tx)
                .await
                .map_err($dberr)?
                .rows_affected();
                tx.commit().await.map_err($dberr)?;
                Ok(n)
            }

            async fn employer_standings(
                &self,
            ) -> Result<(Vec<$crate::employers::StandingRow>, Vec<$crate::employers::StandingRow>)> {
                use $crate::employers::{STANDING_COLUMNS, STANDING_SELECT, StandingRow, StandingTuple};
                let mut tx = self.$read.begin().await.map_err($dberr)?;
                let stored: Vec<StandingTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {STANDING_COLUMNS} FROM employer_standings ORDER BY employer_code"
                )))
                .fetch_all(&mut *tx)
                .await
                .map_err($dberr)?;
                let recomputed: Vec<StandingTuple> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("{STANDING_SELECT} ORDER BY e.code")))
                        .fetch_all(&mut *tx)
                        .await
                        .map_err($dberr)?;
                Ok((
                    stored.into_iter().map(StandingRow::from_tuple).collect(),
                    recomputed.into_iter().map(StandingRow::from_tuple).collect(),
                ))
            }

            async fn wage_report(
                &self,
                rules: &RuleSet,
                report: &$crate::employers::WageReport,
                write: bool,
            ) -> Result<$crate::employers::ReportOutcome> {
                use $crate::employers as emp;
                use $crate::StoreError;
                let mut tx = if write {
                    self.$write.begin().await.map_err($dberr)?
                } else {
                    self.$read.begin().await.map_err($dberr)?
                };
                if write {
                    lock_employer(&mut tx, &report.employer_code).await?;
                }
                let ctx = context_in(&mut tx, &self.keys, report).await?;
                let plan = emp::plan(rules, &ctx, report);
                let code = report.employer_code.as_str();
                if let Some(id) = plan.repeat_of {
                    let invoice = invoice_state_in(&mut tx, &ctx.employer, id, report.today).await?;
                    return Ok(emp::ReportOutcome {
                        plan,
                        invoice,
                        lines_paid: 0,
                    });
                }
                if !write || plan.blocked {
                    return Ok(emp::ReportOutcome {
                        plan,
                        invoice: None,
                        lines_paid: 0,
                    });
                }
                // New workers' registrations, in the same transaction.
                let regs: Vec<cakupan_domain::participants::Registration> = plan
                    .bill
                    .iter()
                    .filter_map(|b| b.registration.clone())
                    .collect();
                let mut registered: std::collections::HashMap<Nik, i64> = Default::default();
                for (r, o) in regs
                    .iter()
                    .zip(register_batch_in(&mut tx, &self.keys, rules, &regs).await?)
                {
                    match o {
                        $crate::Outcome::Created { id, .. } | $crate::Outcome::Existing { id, .. } => {
                            registered.insert(r.nik, id);
                        }
                        $crate::Outcome::Conflict { kpj, .. } => {
                            return Err(StoreError::Database(format!(
                                "a new worker's registration met participation {kpj} it was not planned against"
                            )));
                        }
                    }
                }
                let due_on = plan.due_on.ok_or_else(|| {
                    StoreError::Database(format!("no due-date rule for PU in {}", plan.month))
                })?;
                let month = i64::from(plan.month.index());
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO invoices (employer_code, month, due_on, risk_class, size, fees_carried, total,
                                           report_hash, lines_left_out, submitted_by, submitted_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(code)
                .bind(month)
                .bind(format_date(due_on))
                .bind(i64::from(ctx.employer.risk_class))
                .bind(ctx.employer.size.as_str())
                .bind(plan.fees_carried.0)
                .bind(plan.total.0)
                .bind(&report.hash)
                .bind(i64::from(plan.lines_left_out))
                .bind(&report.submitted_by)
                .bind($crate::clock::now_secs())
                .fetch_one(&mut *tx)
                .await
                .map_err($dberr)?;
                sqlx::query(
                    "UPDATE invoice_lines SET fee_invoice_id = $1
                     WHERE employer_code = $2 AND fee_invoice_id IS NULL AND late_fee > 0 AND invoice_id <> $1",
                )
                .bind(id)
                .bind(code)
                .execute(&mut *tx)
                .await
                .map_err($dberr)?;
                let mut lines = Vec::with_capacity(plan.bill.len());
                let mut enrolled = Vec::new();
                for (k, b) in plan.bill.iter().enumerate() {
                    let pid = match b.participant_id {
                        Some(p) => p,
                        None => *registered.get(&b.nik).ok_or_else(|| {
                            StoreError::Database("a new worker was not registered".into())
                        })?,
                    };
                    lines.push(emp::LineInsert {
                        position: k as i64 + 1,
                        participant_id: pid,
                        wage: b.wage.0,
                        programs: b.programmes.to_string(),
                        amount: b.amount.0,
                        employer_share: b.employer_share.0,
                        worker_share: b.worker_share.0,
                    });
                    if b.enrol {
                        enrolled.push(pid);
                    }
                }
                $store::insert_invoice_lines_own(&mut tx, id, code, &lines).await?;
                if !enrolled.is_empty() {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO employments (participant_id, employer_code, since)
                         SELECT value, $2, $3 FROM ({}) AS enrolled",
                        <$store as $crate::Dialect>::each(1)
                    )))
                    .bind(<$store as $crate::Dialect>::ids(&enrolled))
                    .bind(code)
                    .bind(month)
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                    // The one open employment of each person, on the person's shard (PostgreSQL
                    // migration 0013): its key refuses a second one, and the count below an
                    // enrolment with no participation.
                    let opened = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO open_employments (participant_id, nik_index, employer_code, since)
                         SELECT p.id, p.nik_index, $2, $3 FROM participants p WHERE p.id {}",
                        <$store as $crate::Dialect>::one_of(1)
                    )))
                    .bind(<$store as $crate::Dialect>::ids(&enrolled))
                    .bind(code)
                    .bind(month)
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?
                    .rows_affected();
                    if opened != enrolled.len() as u64 {
                        return Err(StoreError::Database(format!(
                            "{} of {} enrolled workers have no participation",
                            enrolled.len() as u64 - opened,
                            enrolled.len()
                        )));
                    }
                }
                let stopped: Vec<i64> = plan.stops.iter().map(|s| s.participant_id).collect();
                if !stopped.is_empty() {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE employments SET until = $1
                         WHERE employer_code = $2 AND until IS NULL AND participant_id {}",
                        <$store as $crate::Dialect>::one_of(3)
                    )))
                    .bind(month)
                    .bind(code)
                    .bind(<$store as $crate::Dialect>::ids(&stopped))
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM open_employments WHERE employer_code = $1 AND participant_id {}",
                        <$store as $crate::Dialect>::one_of(2)
                    )))
                    .bind(code)
                    .bind(<$store as $crate::Dialect>::ids(&stopped))
                    .execute(&mut *tx)
                    .await
                    .map_err($dberr)?;
                }
                let stops: Vec<_> = plan
                    .stops
                    .iter()
                    .map(|s| emp::stop_posting(code, plan.month, s))
                    .collect();
                for r in post_batch_in(&mut tx, &self.keys, rules, &stops).await? {
                    if let Err(e) = r {
                        return Err(StoreError::Database(format!(
                            "a reported stop could not be posted to the ledger: {e}"
                        )));
                    }
                }
                let (lines_paid, _, _) = settle_in(&mut tx, &self.keys, rules, code, report.today).await?;
                let invoice = invoice_state_in(&mut tx, &ctx.employer, id, report.today).await?;
                tx.commit().await.map_err($dberr)?;
                Ok(emp::ReportOutcome {
                    plan,
                    invoice,
                    lines_paid,
                })
            }

            async fn employer_payment(
                &self,
                rules: &RuleSet,
                payment: &$crate::employers::EmployerPayment,
            ) -> Result<$crate::employers::PaymentOutcome> {
                let mut tx = self.$write.begin().await.map_err($dberr)?;
                let outcome = payment_in(&mut tx, &self.keys, rules, payment).await?;
                tx.commit().await.map_err($dberr)?;
                Ok(outcome)
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
                use $crate::employers::rows::{INVOICE_COLUMNS, InvoiceRow, LINE_COLUMNS, LineRow};
                let mut tx = self.$read.begin().await.map_err($dberr)?;
                let row: Option<InvoiceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {INVOICE_COLUMNS} FROM invoices WHERE employer_code = $1 AND month = $2"
                )))
                .bind(code)
                .bind(i64::from(month.index()))
                .fetch_optional(&mut *tx)
                .await
                .map_err($dberr)?;
                let Some(row) = row else { return Ok(None) };
                let mut inv = $crate::employers::rows::invoice_of(row)?;
                let lines: Vec<LineRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {LINE_COLUMNS} FROM invoice_lines WHERE invoice_id = $1 AND employer_code = $2 ORDER BY position"
                )))
                .bind(inv.id)
                .bind(code)
                .fetch_all(&mut *tx)
                .await
                .map_err($dberr)?;
                for l in lines {
                    inv.lines.push($crate::employers::rows::line_of(l)?.1);
                }
                let ids: Vec<i64> = inv.lines.iter().map(|l| l.participant_id).collect();
                let people = participants_by_ids(&mut tx, &self.keys, &ids).await?;
                Ok(Some((inv, people)))
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
