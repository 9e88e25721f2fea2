//! The village campaign's records on SQLite (issue #8): the shared SQL of
//! `cakupan_store::campaign_store_impl!`, and the queries whose column types are SQLite's own
//! (registration and payment dates as TEXT).

use crate::{SqliteStore, db};

cakupan_store::campaign_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    write = writer,
    read = reader,
    lock = "",
    db_err = db
);
