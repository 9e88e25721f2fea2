//! The employer channel on SQLite (issue #7): its statements are written once in
//! `cakupan_store::employers_sql`; this module keeps the bulk writes, which SQLite takes as
//! multi-row `VALUES` in chunks under its parameter limit.

use crate::{SqliteStore, db, existing, participants_by_ids, post_batch_in, register_batch_in};
use cakupan_domain::month::format_date;
use cakupan_domain::{Month, Nik, RuleSet, Rupiah};
use cakupan_store::crypto::Keys;
use cakupan_store::employers::rows::{EMPLOYER_COLUMNS, date_of, month_of, programmes_of};
use cakupan_store::employers::{Account, Employer, Employment, InvoiceState, LineInsert, LinePaid};
use cakupan_store::{Participant, Result, keep_prepared};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use time::Date;

/// Rows per multi-row statement (9 columns × 1,000 stays under SQLite's 32,766 parameters).
const CHUNK: usize = 1_000;

impl SqliteStore {
    pub(crate) async fn insert_invoice_lines_own(
        tx: &mut Transaction<'_, Sqlite>,
        invoice_id: i64,
        code: &str,
        lines: &[LineInsert],
    ) -> Result<()> {
        for chunk in lines.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO invoice_lines (invoice_id, employer_code, position, participant_id, wage, programs, amount, employer_share, worker_share) ",
            );
            q.push_values(chunk, |mut v, l| {
                v.push_bind(invoice_id)
                    .push_bind(code)
                    .push_bind(l.position)
                    .push_bind(l.participant_id)
                    .push_bind(l.wage)
                    .push_bind(l.programs.as_str())
                    .push_bind(l.amount)
                    .push_bind(l.employer_share)
                    .push_bind(l.worker_share);
            });
            q.build()
                .persistent(keep_prepared(chunk.len(), CHUNK))
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    pub(crate) async fn mark_lines_paid_own(
        tx: &mut Transaction<'_, Sqlite>,
        _code: &str,
        paid: &[LinePaid],
    ) -> Result<()> {
        for chunk in paid.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "UPDATE invoice_lines SET paid_on = v.column3, late_fee = v.column4 FROM (",
            );
            q.push_values(chunk, |mut b, l| {
                b.push_bind(l.invoice_id)
                    .push_bind(l.position)
                    .push_bind(l.paid_on.as_str())
                    .push_bind(l.late_fee);
            });
            q.push(") AS v WHERE invoice_lines.invoice_id = v.column1 AND invoice_lines.position = v.column2");
            q.build()
                .persistent(keep_prepared(chunk.len(), CHUNK))
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        Ok(())
    }
}

cakupan_store::employers_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
