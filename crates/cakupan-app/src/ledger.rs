//! The ledger's operations: a posting as a caller records it, the one path for the API, the
//! pages and the CLI.

use crate::{AppError, Context};
use cakupan_domain::access::Principal;
use cakupan_store::Participant;
use cakupan_store::ledger::{NewPosting, PostingOutcome};

/// What a posting came to, and the receipt number of an agent's collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub outcome: PostingOutcome,
    pub receipt: Option<String>,
}

/// Posts `posting` as `who` records it and audits it (`posting.<kind>`). `concerned` is the
/// participation it concerns, already authorised by the caller (None leaves an unknown one to
/// the ledger's own checks). A contribution takes the collections' path
/// ([`crate::agents::post_contribution`]: an agent's payment is their collection, with a
/// receipt); `collector` names the collecting agent where the caller is not one.
pub async fn post(
    st: &Context,
    who: &Principal,
    request_id: &str,
    concerned: Option<&Participant>,
    posting: NewPosting,
    collector: Option<String>,
) -> Result<Posted, AppError> {
    let kind = posting.kind();
    let (outcome, receipt) = match posting {
        NewPosting::Contribution(pay) => {
            crate::agents::post_contribution(st, who, concerned, pay, collector).await?
        }
        other => (st.store.post(&st.rules, &other).await?, None),
    };
    let participant_id = match outcome {
        PostingOutcome::Posted { participant_id, .. }
        | PostingOutcome::Existing { participant_id, .. } => participant_id,
    };
    crate::auth::audit(
        st,
        who,
        request_id,
        &format!("posting.{kind}"),
        format!("participant:{participant_id}"),
        "contribution",
    )
    .await?;
    Ok(Posted { outcome, receipt })
}
