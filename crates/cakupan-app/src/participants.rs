//! The registry's operations: registering a participation, the one path for the API, the
//! pages and the CLI.

use crate::auth::{ConflictView, audit_entry, registration_conflict};
use crate::{AppError, Context};
use cakupan_domain::Segment;
use cakupan_domain::access::{Action, Principal, Resource};
use cakupan_domain::participants::Registration;
use cakupan_store::Outcome;

/// What a registration came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// Stored now, under this id.
    Created { id: i64 },
    /// Stored already with the same details: nothing changed.
    Existing { id: i64 },
    /// The NIK holds another participation in this segment; `view` is what the caller may
    /// be told of it (a conflict outside their area is audited).
    Conflict {
        segment: Segment,
        view: ConflictView,
    },
}

/// Registers a validated registration as `who` asks: the caller's right to register in that
/// village, the acquiring agent's standing, and the registration with its audit entry in one
/// commit (`participant.register`, or `participant.read` for a repeat, which shows the stored
/// record).
pub async fn register(
    st: &Context,
    who: &Principal,
    request_id: &str,
    reg: &Registration,
) -> Result<Registered, AppError> {
    crate::auth::allow(
        who,
        Action::Register,
        &Resource::Participant {
            village: reg.village,
            agent_code: reg.agent_code.clone(),
            nik: hex::encode(st.store.nik_index(&reg.nik)),
        },
    )?;
    crate::agents::check_acquisition(st, who.role, reg).await?;
    let entry = |action: &str| audit_entry(who, request_id, action, String::new(), "enrolment");
    let audit = cakupan_store::accounts::RegistrationAudit {
        created: entry("participant.register"),
        existing: entry("participant.read"),
    };
    Ok(
        match st.store.register_audited(&st.rules, reg, &audit).await? {
            Outcome::Created { id, .. } => Registered::Created { id },
            Outcome::Existing { id, .. } => Registered::Existing { id },
            Outcome::Conflict { kpj, segment } => Registered::Conflict {
                segment,
                view: registration_conflict(st, who, request_id, &kpj).await?,
            },
        },
    )
}
