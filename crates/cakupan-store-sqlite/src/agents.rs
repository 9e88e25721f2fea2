//! The Perisai network (offices, agents, deposits, collections) on SQLite: the shared SQL of
//! `cakupan_store::agents_store_impl!`; nothing of its own.

use super::*;

cakupan_store::agents_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
