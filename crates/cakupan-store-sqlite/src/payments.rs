//! The payment rails (issue #19): the shared SQL of `cakupan_store::payments_store_impl!`,
//! and the bulk writes SQLite takes as multi-row `VALUES` in chunks under its parameter limit
//! (settlement lines, exceptions).

use crate::{SqliteStore, db, post_batch_in};
use cakupan_domain::month::format_date;
use cakupan_store::Result;
use cakupan_store::payments::{NewException, SettlementLine};
use sqlx::{QueryBuilder, Sqlite, Transaction};

/// Rows per multi-row statement (13 columns × 1,000 stays under SQLite's 32,766 parameters).
const CHUNK: usize = 1_000;

impl SqliteStore {
    pub(crate) async fn insert_settlement_lines_own(
        tx: &mut Transaction<'_, Sqlite>,
        partner: &str,
        settlement_id: i64,
        lines: &[SettlementLine],
    ) -> Result<()> {
        for chunk in lines.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO settlement_lines (partner_code, settlement_id, line_no, day, payment_request_id, virtual_account, amount) ",
            );
            q.push_values(chunk, |mut v, l| {
                v.push_bind(partner)
                    .push_bind(settlement_id)
                    .push_bind(l.line_no)
                    .push_bind(format_date(l.day))
                    .push_bind(l.payment_request_id.as_str())
                    .push_bind(l.virtual_account.as_str())
                    .push_bind(l.amount.0);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(&mut **tx).await.map_err(db)?;
        }
        Ok(())
    }

    pub(crate) async fn insert_exceptions_own(
        tx: &mut Transaction<'_, Sqlite>,
        found: &[NewException],
        now: &str,
    ) -> Result<u64> {
        let mut added = 0;
        for chunk in found.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO payment_exceptions (partner_code, day, kind, payment_request_id, virtual_account, settled_amount, recorded_amount, settlement_id, line_no, region, state, action, found_at) ",
            );
            q.push_values(chunk, |mut v, e| {
                v.push_bind(e.partner_code.as_str())
                    .push_bind(format_date(e.day))
                    .push_bind(e.kind)
                    .push_bind(e.payment_request_id.as_str())
                    .push_bind(e.virtual_account.as_str())
                    .push_bind(e.settled_amount)
                    .push_bind(e.recorded_amount)
                    .push_bind(e.settlement_id)
                    .push_bind(e.line_no)
                    .push_bind(e.region.as_str())
                    .push_bind(e.state)
                    .push_bind(e.action)
                    .push_bind(now);
            });
            q.push(" ON CONFLICT DO NOTHING");
            added += q
                .build()
                .execute(&mut **tx)
                .await
                .map_err(db)?
                .rows_affected();
        }
        Ok(added)
    }
}

cakupan_store::payments_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
