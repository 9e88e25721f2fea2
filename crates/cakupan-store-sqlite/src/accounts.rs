//! The accounts (users, sessions, second factors, the audit log) on SQLite: the shared SQL of
//! `cakupan_store::accounts_store_impl!`; nothing of its own.

use super::*;

cakupan_store::accounts_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
