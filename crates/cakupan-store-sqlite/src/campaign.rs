//! The village campaign's records on SQLite (issue #8): the shared SQL of
//! `cakupan_store::campaign_store_impl!` (the entry a change rewrites is read with the backend's
//! `FOR UPDATE`); nothing of its own.

use crate::{SqliteStore, db};

cakupan_store::campaign_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    db_err = db
);
