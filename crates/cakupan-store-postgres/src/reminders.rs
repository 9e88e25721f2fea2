//! Reminders (coverage states, planned and sent reminders, agents' tasks, SMS replies): the
//! shared SQL of `cakupan_store::reminders_store_impl!`; nothing of its own.

use super::*;

cakupan_store::reminders_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
