//! Self-registration (one-time codes, the SMS log, the funnel, the review of NIK warnings):
//! the shared SQL of `cakupan_store::enrolment_store_impl!`; nothing of its own.

use super::*;

cakupan_store::enrolment_store_impl!(
    PgStore,
    sqlx::Postgres,
    write = pool,
    read = pool,
    db_err = db
);
