//! The accounts (users, sessions, second factors, the audit log) on PostgreSQL: the shared SQL of
//! `cakupan_store::accounts_store_impl!`; nothing of its own.

use super::*;

cakupan_store::accounts_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
