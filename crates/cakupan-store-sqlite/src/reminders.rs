//! Reminders (coverage states, planned and sent reminders, agents' tasks, SMS replies): the
//! shared SQL of `cakupan_store::reminders_store_impl!`; nothing of its own.

use super::*;

cakupan_store::reminders_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
