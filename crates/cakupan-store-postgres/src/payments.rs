//! The payment rails (issue #19): the shared SQL of `cakupan_store::payments_store_impl!`,
//! and the bulk writes PostgreSQL takes as one `UNNEST` each (settlement lines, exceptions).

use crate::{PgStore, db, post_batch_in};
use cakupan_domain::month::format_date;
use cakupan_store::Result;
use cakupan_store::payments::{NewException, SettlementLine};
use sqlx::{Postgres, Transaction};

impl PgStore {
    pub(crate) async fn insert_settlement_lines_own(
        tx: &mut Transaction<'_, Postgres>,
        partner: &str,
        settlement_id: i64,
        lines: &[SettlementLine],
    ) -> Result<()> {
        let line_no: Vec<i64> = lines.iter().map(|l| l.line_no).collect();
        let day: Vec<String> = lines.iter().map(|l| format_date(l.day)).collect();
        let request: Vec<&str> = lines
            .iter()
            .map(|l| l.payment_request_id.as_str())
            .collect();
        let va: Vec<&str> = lines.iter().map(|l| l.virtual_account.as_str()).collect();
        let amount: Vec<i64> = lines.iter().map(|l| l.amount.0).collect();
        sqlx::query(
            "INSERT INTO settlement_lines (partner_code, settlement_id, line_no, day, payment_request_id, virtual_account, amount)
             SELECT $1, $2, * FROM UNNEST($3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::BIGINT[])
             ON CONFLICT DO NOTHING",
        )
        .bind(partner)
        .bind(settlement_id)
        .bind(line_no)
        .bind(day)
        .bind(request)
        .bind(va)
        .bind(amount)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn insert_exceptions_own(
        tx: &mut Transaction<'_, Postgres>,
        found: &[NewException],
        now: &str,
    ) -> Result<u64> {
        let text = |f: fn(&NewException) -> String| found.iter().map(f).collect::<Vec<String>>();
        let opt =
            |f: fn(&NewException) -> Option<i64>| found.iter().map(f).collect::<Vec<Option<i64>>>();
        let action: Vec<Option<&str>> = found.iter().map(|e| e.action).collect();
        Ok(sqlx::query(
            "INSERT INTO payment_exceptions (partner_code, day, kind, payment_request_id, virtual_account, settled_amount, recorded_amount, settlement_id, line_no, region, state, action, found_at)
             SELECT *, $13 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::TEXT[], $11::TEXT[], $12::TEXT[])
             ON CONFLICT DO NOTHING",
        )
        .bind(text(|e| e.partner_code.clone()))
        .bind(text(|e| format_date(e.day)))
        .bind(text(|e| e.kind.to_string()))
        .bind(text(|e| e.payment_request_id.clone()))
        .bind(text(|e| e.virtual_account.clone()))
        .bind(opt(|e| e.settled_amount))
        .bind(opt(|e| e.recorded_amount))
        .bind(opt(|e| e.settlement_id))
        .bind(opt(|e| e.line_no))
        .bind(text(|e| e.region.clone()))
        .bind(text(|e| e.state.to_string()))
        .bind(action)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db)?
        .rows_affected())
    }
}

cakupan_store::payments_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
