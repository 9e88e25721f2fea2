//! Cakupan's services: each feature's operations, taking a [`Context`] (store, rules, regions,
//! clock) and returning an [`error::AppError`]. The API and the pages (`cakupan-server`) and
//! the CLI (`cakupan`) call the same operations; none of them is HTTP (the `http` feature only
//! lets the error be a response).

pub mod accounts;
pub mod agents;
pub mod auth;
pub mod campaign;
pub mod employers;
pub mod enrolment;
pub mod error;
pub mod ledger;
pub mod participants;
pub mod payments;
pub mod reminders;
pub mod sms;

use cakupan_domain::{RegionTree, RuleSet};
use cakupan_store::Store;
use std::sync::Arc;

pub use error::AppError;

/// What every operation may use: the store, the regions, the rules, the clock and the
/// password policy. The server's handlers hold it as their state (`AppState`); the CLI builds
/// one to call the same operations.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
    pub regions: Arc<RegionTree>,
    pub rules: Arc<RuleSet>,
    /// Today's date for validation; a function so tests can fix it.
    pub today: fn() -> time::Date,
    /// Password hashing cost, sign-in limits and lockouts.
    pub auth: Arc<auth::Auth>,
    /// The SMS gateway one-time codes go through (issue #20); none: codes cannot be sent.
    pub sms: Option<Arc<sms::Gateway>>,
}

/// Today's date in Western Indonesia Time (UTC+7), where most participants live, from the
/// one clock (`CAKUPAN_TODAY` sets it).
pub use cakupan_store::clock::today_wib;
