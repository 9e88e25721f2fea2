//! The employer channel on PostgreSQL (issue #7): the rows behind `cakupan_store::employers`,
//! read and written inside one transaction per report or payment.

use crate::{PgStore, SELECT, db, post_batch_in, register_batch_in};
use cakupan_domain::month::format_date;
use cakupan_domain::{Level, Month, Nik, RegionCode, RuleSet, Rupiah, Segment};
use cakupan_store::crypto::Keys;
use cakupan_store::employers::rows::{
    INVOICE_COLUMNS, InvoiceRow, LINE_COLUMNS, LineRow, date_of, invoice_of, line_of, month_of,
    programmes_of,
};
use cakupan_store::employers::{
    self as emp, Account, Employer, EmployerPayment, EmployerSummary, Employment, Invoice,
    InvoiceHead, InvoiceState, Known, PaymentOutcome, ReportContext, ReportOutcome, WageReport,
};
use cakupan_store::{Outcome, Participant, Result, StoreError};
use sqlx::{Postgres, Row, Transaction};
use std::collections::HashMap;
use time::Date;

use cakupan_store::employers::rows::EMPLOYER_COLUMNS;

/// The employer's open employments with their participations.
async fn workers_in(
    tx: &mut Transaction<'_, Postgres>,
    keys: &Keys,
    code: &str,
) -> Result<Vec<(Employment, Participant)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT participant_id, since FROM employments WHERE employer_code = $1 AND until IS NULL",
    )
    .bind(code)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let since: HashMap<i64, i64> = rows.into_iter().collect();
    let ids: Vec<i64> = since.keys().copied().collect();
    let people = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE id = ANY($1) ORDER BY id"
    )))
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    people
        .iter()
        .map(|r| {
            let p = participant_at(r, keys)?;
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

async fn unbilled_fees_in(tx: &mut Transaction<'_, Postgres>, code: &str) -> Result<i64> {
    sqlx::query_scalar(
        "SELECT COALESCE(SUM(l.late_fee), 0)::bigint FROM invoice_lines l
         WHERE l.employer_code = $1 AND l.late_fee > 0 AND l.fee_invoice_id IS NULL",
    )
    .bind(code)
    .fetch_one(&mut **tx)
    .await
    .map_err(db)
}

async fn context_in(
    tx: &mut Transaction<'_, Postgres>,
    keys: &Keys,
    report: &WageReport,
) -> Result<ReportContext> {
    let code = report.employer_code.as_str();
    let employer = employer_in(tx, keys, code)
        .await?
        .ok_or_else(emp::unknown_employer)?;
    let invoices: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT id, month, report_hash FROM invoices WHERE employer_code = $1 ORDER BY id",
    )
    .bind(code)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
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
        .map_err(db)?;
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
    let mut known: HashMap<Nik, Known> = HashMap::new();
    for ((nik, segment), (id, kpj, registration)) in
        PgStore::existing(tx, keys, niks.iter().map(|n| keys.nik_index(n)).collect()).await?
    {
        if segment == Segment::Pu {
            known.insert(
                nik,
                Known {
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
    for row in sqlx::query(
        "SELECT participant_id, employer_code, since FROM open_employments WHERE participant_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    {
        let pid: i64 = row.try_get(0).map_err(db)?;
        if let Some(k) = by_id.get(&pid).and_then(|n| known.get_mut(n)) {
            k.open = Some(Employment {
                participant_id: pid,
                employer_code: row.try_get(1).map_err(db)?,
                since: month_of(row.try_get(2).map_err(db)?)?,
                until: None,
            });
        }
    }
    for row in sqlx::query(
        "SELECT DISTINCT participant_id FROM postings WHERE kind = 'termination' AND participant_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    {
        let pid: i64 = row.try_get(0).map_err(db)?;
        if let Some(k) = by_id.get(&pid).and_then(|n| known.get_mut(n)) {
            k.terminated = true;
        }
    }
    Ok(ReportContext {
        employer,
        invoices,
        last_lines,
        workers,
        known,
        unbilled_fees: Rupiah(unbilled_fees_in(tx, code).await?),
    })
}

/// Applies the employer's payments to its open invoices and writes what they complete: each
/// completed line's date and late fee, its contribution in the ledger, each settled invoice.
async fn settle_in(
    tx: &mut Transaction<'_, Postgres>,
    keys: &Keys,
    rules: &RuleSet,
    code: &str,
    today: Date,
) -> Result<(usize, Rupiah, usize)> {
    let rows: Vec<InvoiceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE employer_code = $1 AND settled_on IS NULL ORDER BY id"
    )))
    .bind(code)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    if rows.is_empty() {
        return Ok((0, Rupiah::ZERO, 0));
    }
    let mut open = rows
        .into_iter()
        .map(invoice_of)
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
    .map_err(db)?;
    for l in lines {
        let (inv, line) = line_of(l)?;
        if let Some(&i) = index.get(&inv) {
            open[i].lines.push(line);
        }
    }
    let consumed: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(total), 0)::bigint FROM invoices WHERE employer_code = $1 AND settled_on IS NOT NULL",
    )
    .bind(code)
    .fetch_one(&mut **tx)
    .await
    .map_err(db)?;
    let payments: Vec<(String, i64)> = sqlx::query_as(
        "SELECT paid_on, amount FROM employer_payments WHERE employer_code = $1 ORDER BY id",
    )
    .bind(code)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let payments = payments
        .into_iter()
        .map(|(d, a)| Ok((date_of(&d)?, a)))
        .collect::<Result<Vec<_>>>()?;
    let s = emp::settle(&open, consumed, &payments, today);
    let ids: Vec<i64> = s.lines.iter().map(|l| l.participant_id).collect();
    let mut people: HashMap<i64, Participant> = HashMap::new();
    for row in sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = ANY($1)")))
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?
    {
        let p = participant_at(&row, keys)?;
        people.insert(p.id, p);
    }
    let mut postings = Vec::with_capacity(s.lines.len());
    let n = s.lines.len();
    let (mut paid_invoice, mut paid_position, mut paid_on, mut paid_fee) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut fees = 0i64;
    for (inv, line, p, done, fee) in emp::completed_lines(rules, &open, &index, &s.lines, &people)?
    {
        fees += fee.0;
        paid_invoice.push(done.invoice_id);
        paid_position.push(i64::from(done.position));
        paid_on.push(format_date(done.paid_on));
        paid_fee.push(fee.0);
        postings.push(emp::contribution(
            inv,
            line,
            p.registration.nik,
            done.paid_on,
        ));
    }
    // One statement for every line paid, however many.
    sqlx::query(
        "UPDATE invoice_lines l SET paid_on = v.paid_on, late_fee = v.late_fee
         FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[])
              AS v (invoice_id, position, paid_on, late_fee)
         WHERE l.invoice_id = v.invoice_id AND l.position = v.position AND l.employer_code = $5",
    )
    .bind(&paid_invoice)
    .bind(&paid_position)
    .bind(&paid_on)
    .bind(&paid_fee)
    .bind(code)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    for r in post_batch_in(tx, keys, rules, &postings).await? {
        if let Err(e) = r {
            return Err(StoreError::Database(format!(
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
            .map_err(db)?;
    }
    Ok((s.lines.len(), Rupiah(fees), s.invoices.len()))
}

type HeadRow = (i64, i64, String, i64, i64, i64, Option<String>);

/// Every invoice head of an employer, oldest first.
async fn heads_in(tx: &mut Transaction<'_, Postgres>, code: &str) -> Result<Vec<InvoiceHead>> {
    let rows: Vec<HeadRow> = sqlx::query_as(
        "SELECT i.id, i.month, i.due_on, i.total, i.fees_carried,
                (SELECT COUNT(*) FROM invoice_lines l WHERE l.invoice_id = i.id AND l.employer_code = i.employer_code), i.settled_on
         FROM invoices i WHERE i.employer_code = $1 ORDER BY i.id",
    )
    .bind(code)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|(id, m, due, total, fees, n, settled)| {
            Ok(InvoiceHead {
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
    tx: &mut Transaction<'_, Postgres>,
    code: &str,
) -> Result<Vec<EmployerPayment>> {
    let rows: Vec<(String, i64, String, Option<String>, String)> = sqlx::query_as(
        "SELECT reference, amount, paid_on, payment_code, recorded_by FROM employer_payments
         WHERE employer_code = $1 ORDER BY id",
    )
    .bind(code)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|(reference, amount, paid_on, payment_code, recorded_by)| {
            Ok(EmployerPayment {
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

/// Serialises the writes of one employer (reports and payments) across connections.
async fn lock_employer(tx: &mut Transaction<'_, Postgres>, code: &str) -> Result<()> {
    sqlx::query("SELECT code FROM employers WHERE code = $1 FOR UPDATE")
        .bind(code)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

impl PgStore {
    pub(crate) async fn employer_summaries_impl(
        &self,
        within: RegionCode,
        as_of: Date,
    ) -> Result<Vec<EmployerSummary>> {
        let (lo, hi) = cakupan_store::subtree_range(within, Level::Village);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EMPLOYER_COLUMNS} FROM employers WHERE region >= $1 AND region < $2 ORDER BY name, code"
        )))
        .bind(&lo)
        .bind(&hi)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let employers = rows
            .iter()
            .map(|r| employer_at(r, &self.keys, false))
            .collect::<Result<Vec<_>>>()?;
        let scope =
            "JOIN employers e ON e.code = x.employer_code WHERE e.region >= $1 AND e.region < $2";
        let pairs = |sql: String| {
            let lo = lo.clone();
            let hi = hi.clone();
            async move {
                let v: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(lo)
                    .bind(hi)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                Ok::<HashMap<String, i64>, StoreError>(v.into_iter().collect())
            }
        };
        let workers = pairs(format!(
            "SELECT x.employer_code, COUNT(*) FROM employments x {scope} AND x.until IS NULL GROUP BY x.employer_code"
        ))
        .await?;
        let paid = pairs(format!(
            "SELECT x.employer_code, SUM(x.amount)::bigint FROM employer_payments x {scope} GROUP BY x.employer_code"
        ))
        .await?;
        let billed = pairs(format!(
            "SELECT x.employer_code, SUM(x.total)::bigint FROM invoices x {scope} GROUP BY x.employer_code"
        ))
        .await?;
        let consumed = pairs(format!(
            "SELECT x.employer_code, SUM(x.total)::bigint FROM invoices x {scope} AND x.settled_on IS NOT NULL GROUP BY x.employer_code"
        ))
        .await?;
        let last = pairs(format!(
            "SELECT x.employer_code, MAX(x.month) FROM invoices x {scope} GROUP BY x.employer_code"
        ))
        .await?;
        let fees = pairs(format!(
            "SELECT x.employer_code, SUM(x.late_fee)::bigint FROM invoice_lines x {scope}
             AND x.late_fee > 0 AND x.fee_invoice_id IS NULL GROUP BY x.employer_code"
        ))
        .await?;
        let open: Vec<(String, i64, i64, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT x.employer_code, x.id, x.month, x.due_on, x.total, x.fees_carried FROM invoices x {scope}
             AND x.settled_on IS NULL ORDER BY x.employer_code, x.id"
        )))
        .bind(&lo)
        .bind(&hi)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut heads: HashMap<String, Vec<InvoiceHead>> = HashMap::new();
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
        employers
            .into_iter()
            .map(|e| {
                let g = |m: &HashMap<String, i64>| m.get(&e.code).copied().unwrap_or(0);
                let (standing, _) = emp::standing(
                    heads.get(&e.code).map(Vec::as_slice).unwrap_or(&[]),
                    g(&consumed),
                    g(&billed),
                    g(&paid),
                    g(&fees),
                    as_of,
                );
                Ok(EmployerSummary {
                    workers: u64::try_from(g(&workers)).unwrap_or(0),
                    last_month: last.get(&e.code).map(|m| month_of(*m)).transpose()?,
                    standing,
                    employer: e,
                })
            })
            .collect()
    }

    pub(crate) async fn wage_report_impl(
        &self,
        rules: &RuleSet,
        report: &WageReport,
        write: bool,
    ) -> Result<ReportOutcome> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        if write {
            lock_employer(&mut tx, &report.employer_code).await?;
        }
        let ctx = context_in(&mut tx, &self.keys, report).await?;
        let plan = emp::plan(rules, &ctx, report);
        let code = report.employer_code.as_str();
        if let Some(id) = plan.repeat_of {
            let invoice = invoice_state_in(&mut tx, &self.keys, code, id, report.today).await?;
            return Ok(ReportOutcome {
                plan,
                invoice,
                lines_paid: 0,
            });
        }
        if !write || plan.blocked {
            return Ok(ReportOutcome {
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
        let mut registered: HashMap<Nik, i64> = HashMap::new();
        for (r, o) in regs
            .iter()
            .zip(register_batch_in(&mut tx, &self.keys, rules, &regs).await?)
        {
            match o {
                Outcome::Created { id, .. } | Outcome::Existing { id, .. } => {
                    registered.insert(r.nik, id);
                }
                Outcome::Conflict { kpj, .. } => {
                    return Err(StoreError::Database(format!(
                        "a new worker's registration met participation {kpj} it was not planned against"
                    )));
                }
            }
        }
        let due_on = plan.due_on.ok_or_else(|| {
            StoreError::Database(format!("no due-date rule for PU in {}", plan.month))
        })?;
        let now = cakupan_store::clock::now_secs();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO invoices (employer_code, month, due_on, risk_class, size, fees_carried, total,
                                   report_hash, lines_left_out, submitted_by, submitted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(code)
        .bind(i64::from(plan.month.index()))
        .bind(format_date(due_on))
        .bind(i64::from(ctx.employer.risk_class))
        .bind(ctx.employer.size.as_str())
        .bind(plan.fees_carried.0)
        .bind(plan.total.0)
        .bind(&report.hash)
        .bind(i64::from(plan.lines_left_out))
        .bind(&report.submitted_by)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "UPDATE invoice_lines SET fee_invoice_id = $1
             WHERE employer_code = $2 AND fee_invoice_id IS NULL AND late_fee > 0 AND invoice_id <> $1",
        )
        .bind(id)
        .bind(code)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // Every line, enrolment and stop in one statement each (arrays through UNNEST).
        let n = plan.bill.len();
        let (mut position, mut pids, mut wage, mut programs) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut amount, mut employer_share, mut worker_share, mut enrolled) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::new(),
        );
        for (k, b) in plan.bill.iter().enumerate() {
            let pid = match b.participant_id {
                Some(p) => p,
                None => *registered.get(&b.nik).ok_or_else(|| {
                    StoreError::Database("a new worker was not registered".into())
                })?,
            };
            position.push(k as i64 + 1);
            pids.push(pid);
            wage.push(b.wage.0);
            programs.push(b.programmes.to_string());
            amount.push(b.amount.0);
            employer_share.push(b.employer_share.0);
            worker_share.push(b.worker_share.0);
            if b.enrol {
                enrolled.push(pid);
            }
        }
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, employer_code, position, participant_id, wage, programs, amount, employer_share, worker_share)
             SELECT $1, $9, * FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[])",
        )
        .bind(id)
        .bind(&position)
        .bind(&pids)
        .bind(&wage)
        .bind(&programs)
        .bind(&amount)
        .bind(&employer_share)
        .bind(&worker_share)
        .bind(code)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO employments (participant_id, employer_code, since)
             SELECT p, $2, $3 FROM UNNEST($1::BIGINT[]) AS p",
        )
        .bind(&enrolled)
        .bind(code)
        .bind(i64::from(plan.month.index()))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // The one open employment of each person, on the person's shard (migration 0013): its
        // key refuses a second one, and the count below an enrolment with no participation.
        let opened = sqlx::query(
            "INSERT INTO open_employments (participant_id, nik_index, employer_code, since)
             SELECT p.id, p.nik_index, $2, $3 FROM participants p WHERE p.id = ANY($1::BIGINT[])",
        )
        .bind(&enrolled)
        .bind(code)
        .bind(i64::from(plan.month.index()))
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if opened != enrolled.len() as u64 {
            return Err(StoreError::Database(format!(
                "{} of {} enrolled workers have no participation",
                enrolled.len() as u64 - opened,
                enrolled.len()
            )));
        }
        let stopped: Vec<i64> = plan.stops.iter().map(|s| s.participant_id).collect();
        sqlx::query(
            "UPDATE employments SET until = $1
             WHERE employer_code = $2 AND until IS NULL AND participant_id = ANY($3::BIGINT[])",
        )
        .bind(i64::from(plan.month.index()))
        .bind(code)
        .bind(&stopped)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "DELETE FROM open_employments WHERE employer_code = $1 AND participant_id = ANY($2::BIGINT[])",
        )
        .bind(code)
        .bind(&stopped)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
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
        let invoice = invoice_state_in(&mut tx, &self.keys, code, id, report.today).await?;
        tx.commit().await.map_err(db)?;
        Ok(ReportOutcome {
            plan,
            invoice,
            lines_paid,
        })
    }

    pub(crate) async fn employer_payment_impl(
        &self,
        rules: &RuleSet,
        p: &EmployerPayment,
    ) -> Result<PaymentOutcome> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock_employer(&mut tx, &p.employer_code).await?;
        if employer_in(&mut tx, &self.keys, &p.employer_code)
            .await?
            .is_none()
        {
            return Err(emp::unknown_employer());
        }
        // The reference is claimed across employers (payment_references, migration 0013); the
        // payment itself is read from its employer's rows.
        let claimed: Option<String> =
            sqlx::query_scalar("SELECT employer_code FROM payment_references WHERE reference = $1")
                .bind(&p.reference)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
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
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
            return if amount == p.amount.0
                && paid_on == format_date(p.paid_on)
                && payment_code == p.payment_code
            {
                Ok(PaymentOutcome {
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
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
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
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            if found.is_none() {
                return Err(emp::payment_code_unknown());
            }
        }
        sqlx::query("INSERT INTO payment_references (reference, employer_code) VALUES ($1, $2)")
            .bind(&p.reference)
            .bind(&p.employer_code)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
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
        .bind(cakupan_store::clock::now_secs())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let (lines_paid, late_fees, invoices_settled) =
            settle_in(&mut tx, &self.keys, rules, &p.employer_code, p.paid_on).await?;
        tx.commit().await.map_err(db)?;
        Ok(PaymentOutcome {
            repeat: false,
            lines_paid,
            late_fees,
            invoices_settled,
        })
    }

    pub(crate) async fn employer_invoice_impl(
        &self,
        code: &str,
        month: Month,
    ) -> Result<Option<(Invoice, Vec<Participant>)>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let row: Option<InvoiceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE employer_code = $1 AND month = $2"
        )))
        .bind(code)
        .bind(i64::from(month.index()))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let mut inv = invoice_of(row)?;
        let lines: Vec<LineRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {LINE_COLUMNS} FROM invoice_lines WHERE invoice_id = $1 AND employer_code = $2 ORDER BY position"
        )))
        .bind(inv.id)
        .bind(code)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        for l in lines {
            inv.lines.push(line_of(l)?.1);
        }
        let ids: Vec<i64> = inv.lines.iter().map(|l| l.participant_id).collect();
        let mut people = Vec::new();
        for row in sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE id = ANY($1) ORDER BY id"
        )))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        {
            people.push(participant_at(&row, &self.keys)?);
        }
        Ok(Some((inv, people)))
    }
}

cakupan_store::employers_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
