//! All of `cakupan`'s integration tests, in one binary (one link on two cores).
//!
//! The store contract runs on SQLite always and on PostgreSQL when
//! `CAKUPAN_TEST_POSTGRES_URL` is set; each test gets its own throwaway database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod api;
mod cli;
mod contract;
mod harness;
mod ledger;
mod privacy;
mod targets;
