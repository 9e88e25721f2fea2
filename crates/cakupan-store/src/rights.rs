//! Data rights' storage contract (UU 27/2022): consents and correction requests. Its SQL,
//! the same on both sqlx backends, is `rights_sql.rs`.

use crate::Result;
use crate::accounts;
use cakupan_domain::RegionCode;
use cakupan_domain::RuleSet;

/// Data rights: consents and correction requests.
#[async_trait::async_trait]
pub trait RightsStore: crate::Keyed {
    /// Appends a consent decision for the person with this NIK index.
    async fn add_consent(&self, nik_index: &[u8], consent: &accounts::Consent) -> Result<()>;
    /// Every consent decision of a person, oldest first.
    async fn consents(&self, nik_index: &[u8]) -> Result<Vec<accounts::Consent>>;
    /// Files a correction request (value and reason sealed); returns its id. `id` and
    /// `status` of the argument are ignored.
    async fn add_correction(&self, c: &accounts::Correction) -> Result<i64>;
    /// Open correction requests for participants inside `within`, oldest first.
    async fn open_corrections(&self, within: RegionCode) -> Result<Vec<accounts::Correction>>;
    /// One correction request, whatever its status.
    async fn correction(&self, id: i64) -> Result<Option<accounts::Correction>>;
    /// The correction requests about these participations, newest first (their owner's view).
    async fn corrections_of(&self, participant_ids: &[i64]) -> Result<Vec<accounts::Correction>>;

    /// Decides an open request in one transaction: for `done`, the participation is rewritten
    /// as corrected (sealed again; its counters moved if the village changed, overlap included).
    /// Deciding a request again the same way returns it unchanged (a retry); another way is
    /// [`crate::StoreError::Rejected`] (`correction.decided`). An unknown id is `Ok(None)`.
    async fn decide_correction(
        &self,
        rules: &RuleSet,
        decision: &accounts::CorrectionDecision,
    ) -> Result<Option<accounts::Correction>>;
}
