//! The village campaign's records on PostgreSQL (issue #8): the shared SQL of
//! `cakupan_store::campaign_store_impl!` (the entry a change rewrites is read `FOR UPDATE`),
//! and the queries whose column types are PostgreSQL's own (dates as DATE).

use crate::{PgStore, db};

cakupan_store::campaign_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    lock = " FOR UPDATE",
    db_err = db
);
