//! The payment rails (issue #19): the shared SQL of `cakupan_store::payments_store_impl!`;
//! nothing of its own.

use crate::{SqliteStore, db, ledger_rows, post_batch_in};

cakupan_store::payments_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
