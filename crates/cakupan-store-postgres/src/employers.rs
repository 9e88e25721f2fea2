//! The employer channel on PostgreSQL (issue #7): its statements are written once in
//! `cakupan_store::employers_sql`; this module keeps the bulk writes, one `UNNEST` statement
//! each however many lines.

use crate::{PgStore, db, existing, participants_by_ids, post_batch_in, register_batch_in};
use cakupan_domain::month::format_date;
use cakupan_domain::{Month, Nik, RuleSet, Rupiah};
use cakupan_store::crypto::Keys;
use cakupan_store::employers::rows::{EMPLOYER_COLUMNS, date_of, month_of, programmes_of};
use cakupan_store::employers::{Account, Employer, Employment, InvoiceState, LineInsert, LinePaid};
use cakupan_store::{Participant, Result};
use sqlx::{Postgres, Row, Transaction};
use time::Date;

impl PgStore {
    pub(crate) async fn insert_invoice_lines_own(
        tx: &mut Transaction<'_, Postgres>,
        invoice_id: i64,
        code: &str,
        lines: &[LineInsert],
    ) -> Result<()> {
        let col = |f: fn(&LineInsert) -> i64| lines.iter().map(f).collect::<Vec<i64>>();
        let programs: Vec<&str> = lines.iter().map(|l| l.programs.as_str()).collect();
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, employer_code, position, participant_id, wage, programs, amount, employer_share, worker_share)
             SELECT $1, $9, * FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[])",
        )
        .bind(invoice_id)
        .bind(col(|l| l.position))
        .bind(col(|l| l.participant_id))
        .bind(col(|l| l.wage))
        .bind(programs)
        .bind(col(|l| l.amount))
        .bind(col(|l| l.employer_share))
        .bind(col(|l| l.worker_share))
        .bind(code)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn mark_lines_paid_own(
        tx: &mut Transaction<'_, Postgres>,
        code: &str,
        paid: &[LinePaid],
    ) -> Result<()> {
        let col = |f: fn(&LinePaid) -> i64| paid.iter().map(f).collect::<Vec<i64>>();
        let paid_on: Vec<&str> = paid.iter().map(|l| l.paid_on.as_str()).collect();
        sqlx::query(
            "UPDATE invoice_lines l SET paid_on = v.paid_on, late_fee = v.late_fee
             FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[])
                  AS v (invoice_id, position, paid_on, late_fee)
             WHERE l.invoice_id = v.invoice_id AND l.position = v.position AND l.employer_code = $5",
        )
        .bind(col(|l| l.invoice_id))
        .bind(col(|l| l.position))
        .bind(paid_on)
        .bind(col(|l| l.late_fee))
        .bind(code)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        Ok(())
    }
}

cakupan_store::employers_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
