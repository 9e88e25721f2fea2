//! Self-registration's storage contract (issue #20): one-time codes, the SMS log with its
//! delivery reports, the enrolment funnel and the branch's review of NIK warnings. Its SQL, the
//! same on both sqlx backends, is `enrolment_sql.rs`.

use crate::Result;
use cakupan_domain::RegionCode;
use cakupan_domain::enrolment::{Purpose, Stage};
use time::Date;

/// The region filter of an area's rows on `village_code`: binds `$a` (the area's code, '' for
/// the nation) and `$b` (the code and a dot).
pub fn area_binds(within: cakupan_domain::RegionCode) -> (String, String) {
    if within == cakupan_domain::RegionCode::NATION {
        (String::new(), String::new())
    } else {
        (within.to_string(), format!("{within}."))
    }
}

/// Whether two hex hashes are equal, in time independent of where they differ.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A one-time code as stored: hashes only (see migration 0021 / SQLite 0019).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// SHA-256 (hex) of the random key the asking form carries.
    pub key_hash: String,
    pub purpose: Purpose,
    /// Keyed index of what the code is for (a phone, a NIK).
    pub subject: Vec<u8>,
    /// SHA-256 (hex) of the key and the code.
    pub code_hash: String,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
}

/// What checking a typed code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right, and now used.
    Good,
    /// Wrong: this many tries are left before the code stops working.
    Wrong {
        left: u32,
    },
    /// No such code for this purpose and subject (or a form from elsewhere).
    Unknown,
    /// Used already, and this is that same code (a form sent twice; a sign-in code still
    /// opens one session only).
    Used,
    Expired,
    /// Too many wrong tries: a new code must be asked for.
    TooManyTries,
}

/// One week of the funnel in an area: how many reached each step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunnelWeek {
    /// ISO week, `2026-W48`.
    pub week: String,
    pub started: u64,
    pub verified: u64,
    pub registered: u64,
    /// Of the self-registered participations of that week, those with a contribution.
    pub paid: u64,
}

/// Self-registration's storage.
#[async_trait::async_trait]
pub trait EnrolmentStore: crate::Keyed {
    /// Keeps a code that was just sent.
    async fn add_code(&self, code: &NewCode) -> Result<()>;
    /// Checks a typed code against the code of `key_hash` for this purpose and subject, in one
    /// transaction: a wrong code counts a try, a right one is used up. `code_hash` is the hash
    /// of the key and the typed code.
    async fn check_code(
        &self,
        key_hash: &str,
        purpose: Purpose,
        subject: &[u8],
        code_hash: &str,
        now: i64,
        max_attempts: u32,
    ) -> Result<CodeCheck>;
    /// Deletes codes that expired before `before`; returns how many.
    async fn forget_codes(&self, before: i64) -> Result<u64>;

    /// Records an SMS handed to the gateway; its id names it in the delivery report's URL.
    async fn add_sms(&self, purpose: &str, now: i64) -> Result<i64>;
    /// Records what a delivery report says of an SMS: a final status (`delivered`, `failed`,
    /// `rejected`, `not_sent`) always, another only over a status that is not final (reports
    /// arrive together and in any order). `false` when nothing changed.
    async fn set_sms_status(&self, id: i64, status: &str, now: i64) -> Result<bool>;
    /// An SMS's last known status.
    async fn sms_status(&self, id: i64) -> Result<Option<String>>;

    /// Counts one worker reaching `stage` (not `Paid`, which the ledger tells) in a village's
    /// week.
    async fn count_stage(&self, week: &str, village: RegionCode, stage: Stage) -> Result<()>;
    /// Adds many counts at once (the simulation's funnel): `(week, village, stage, n)`.
    async fn add_stages(&self, rows: &[(String, RegionCode, Stage, u64)]) -> Result<()>;
    /// The funnel of the weeks from `since` (a Monday) to `until`, in an area, oldest first.
    async fn funnel(&self, within: RegionCode, since: Date, until: Date)
    -> Result<Vec<FunnelWeek>>;

    /// Participations inside `within` whose registration raised NIK warnings that nobody has
    /// reviewed yet, oldest first, at most `limit`.
    async fn to_review(&self, within: RegionCode, limit: u32) -> Result<Vec<crate::Participant>>;
    /// Marks a participation's warnings as reviewed; `false` when it was already (a retry) or
    /// does not exist.
    async fn clear_review(&self, participant_id: i64, by: &str, now: i64) -> Result<bool>;
}
