//! The payment rails (issue #19): the shared SQL of `cakupan_store::payments_store_impl!`;
//! nothing of its own.

use crate::{PgStore, db, ledger_rows, post_batch_in};

cakupan_store::payments_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
