//! The ledger (postings and the counters they move) on PostgreSQL: the shared SQL of
//! `cakupan_store::ledger_store_impl!`; nothing of its own.

use super::*;

cakupan_store::ledger_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
