//! The village campaign's records on PostgreSQL (issue #8): the shared SQL of
//! `cakupan_store::campaign_store_impl!` (the entry a change rewrites is read with the backend's
//! `FOR UPDATE`); nothing of its own.

use crate::{PgStore, db};

cakupan_store::campaign_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
