//! The coverage targets on SQLite: the shared SQL of
//! `cakupan_store::targets_store_impl!`; nothing of its own.

use super::*;

cakupan_store::targets_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
