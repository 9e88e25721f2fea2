//! All of `cakupan`'s integration tests, in one binary (one link on two cores).
//!
//! The store contract runs on SQLite always and on PostgreSQL when
//! `CAKUPAN_TEST_POSTGRES_URL` is set; each test gets its own throwaway database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Runs each named `async fn(Arc<dyn Store>)` of the calling module as a test on SQLite and, when
/// a server is given, on PostgreSQL, each in its own throwaway database (`name: true` loads the
/// region tree first).
macro_rules! on_both_backends {
    ($($name:ident: $regions:expr),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::harness::sqlite($regions).await;
                    super::$name(db.store.clone()).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::harness::postgres(stringify!($name), $regions).await else { return };
                    super::$name(db.store.clone()).await;
                    db.finish().await;
                }
            )*
        }
        mod citus {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::harness::citus($regions).await else { return };
                    super::$name(db.store.clone()).await;
                    db.finish().await;
                }
            )*
        }
    };
}

mod accounts;
mod agents;
mod api;
mod attacks;
mod campaign;
mod citus;
mod cli;
mod contract;
mod crawl;
mod employers;
mod enrolment;
mod harness;
mod ledger;
mod pages;
mod parsers;
mod payments;
mod plans;
mod privacy;
mod reminders;
mod targets;
