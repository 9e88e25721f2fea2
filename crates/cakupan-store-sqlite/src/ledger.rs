//! The ledger (postings and the counters they move) on SQLite: the shared SQL of
//! `cakupan_store::ledger_store_impl!`; nothing of its own.

use super::*;

cakupan_store::ledger_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
