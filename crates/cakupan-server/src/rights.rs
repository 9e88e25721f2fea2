//! Personal-data rights (UU 27/2022; DOMAIN.md §8): a participant's own data with its
//! processing log, consent records, correction requests and their review.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::sessions::rfc3339;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cakupan_domain::access::{Action, Capability, Resource};
use cakupan_domain::month::format_date;
use cakupan_domain::{FieldError, FieldErrors, Month, RegionCode};
use cakupan_store::Participant;
use cakupan_store::accounts::{Consent, Correction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Purposes that need explicit consent: everything beyond enrolment and contributions, which
/// rest on legal obligation (UU 27/2022 art. 20).
pub const CONSENT_PURPOSES: [&str; 3] = ["marketing", "research", "sharing_with_partners"];
/// Fields a participant may ask to correct.
pub const CORRECTABLE: [&str; 7] = [
    "name",
    "birth_date",
    "phone",
    "address",
    "village_code",
    "occupation_code",
    "income_base",
];

fn invalid(field: &str, rule: &'static str, message: String) -> ApiError {
    ApiError::Invalid(FieldError::new(field, rule, message).into())
}

/// The caller's own participations: only for participant accounts.
pub(crate) async fn own(
    st: &AppState,
    caller: &Caller,
) -> Result<(Vec<u8>, Vec<Participant>), ApiError> {
    if !caller.who.role.can(Capability::OwnRecord) {
        return Err(ApiError::Forbidden(
            "this is a participant's own data: sign in with a participant account".into(),
        ));
    }
    let index = caller
        .who
        .nik
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| ApiError::Forbidden("this account is not tied to a participant".into()))?;
    let ps = st.store.participants_by_index(&index).await?;
    Ok((index, ps))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OwnParticipation {
    pub id: i64,
    pub kpj: String,
    /// In full: it is the caller's own.
    pub nik: String,
    pub name: String,
    pub birth_date: String,
    pub phone: Option<String>,
    pub village_code: String,
    pub segment: String,
    pub occupation_code: String,
    pub income_base: i64,
    pub programs: String,
    pub registered_on: String,
    pub channel: String,
    pub agent_code: Option<String>,
    pub heirs: Vec<String>,
    /// Status per month from registration to this month (DOMAIN.md §4.1).
    pub coverage: Vec<(String, String)>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessingEntry {
    /// RFC 3339.
    pub at: String,
    pub by: String,
    pub role: String,
    pub action: String,
    pub purpose: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentBody {
    pub purpose: String,
    pub notice_version: String,
    pub decision: String,
    /// RFC 3339.
    pub at: String,
    pub channel: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OwnData {
    pub participations: Vec<OwnParticipation>,
    /// Every consent decision, oldest first.
    pub consents: Vec<ConsentBody>,
    /// Who processed this data, when and why (the audit log's entries about it).
    pub processing_log: Vec<ProcessingEntry>,
    /// Every correction request, newest first, with its decision once made.
    pub corrections: Vec<CorrectionBody>,
    /// How to exercise the other rights.
    pub rights: String,
}

fn consent_body(c: &Consent) -> ConsentBody {
    ConsentBody {
        purpose: c.purpose.clone(),
        notice_version: c.notice_version.clone(),
        decision: c.decision.clone(),
        at: rfc3339(c.at),
        channel: c.channel.clone(),
    }
}

/// A participant's own data, in full, with who processed it (UU 27/2022 arts. 5–7, 31, 32).
#[utoipa::path(get, path = "/api/v1/me/data",
    responses((status = 200, body = OwnData), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn own_data(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<OwnData>, ApiError> {
    let (index, ps) = own(&st, &caller).await?;
    let now = Month::of((st.today)());
    let mut participations = Vec::new();
    for p in &ps {
        let r = &p.registration;
        let ledger = st.store.ledger(p.id).await?;
        let facts = cakupan_store::ledger::facts(r.segment, Month::of(r.registered_on), &ledger);
        let coverage =
            cakupan_domain::coverage::series(&st.rules, &facts, Month::of(r.registered_on), now)
                .map_err(|e| ApiError::Invalid(e.into()))?
                .into_iter()
                .map(|m| (m.month.to_string(), m.status.as_str().to_string()))
                .collect();
        participations.push(OwnParticipation {
            id: p.id,
            kpj: p.kpj.clone(),
            nik: r.nik.to_string(),
            name: r.name.clone(),
            birth_date: format_date(r.birth_date),
            phone: r.phone.clone(),
            village_code: r.village.to_string(),
            segment: r.segment.to_string(),
            occupation_code: r.occupation_code.clone(),
            income_base: r.income_base.0,
            programs: r.programmes.to_string(),
            registered_on: format_date(r.registered_on),
            channel: r.channel.to_string(),
            agent_code: r.agent_code.clone(),
            heirs: r.heirs.iter().map(|h| h.name.clone()).collect(),
            coverage,
        });
    }
    let records: Vec<String> = ps.iter().map(|p| format!("participant:{}", p.id)).collect();
    let log = st.store.audit_for(&records).await?;
    let ids: Vec<i64> = ps.iter().map(|p| p.id).collect();
    let corrections = st
        .store
        .corrections_of(&ids)
        .await?
        .iter()
        .map(correction_body)
        .collect();
    for r in &records {
        caller
            .audit(&st, "participant.export", r.clone(), "data_subject_access")
            .await?;
    }
    Ok(Json(OwnData {
        participations,
        consents: st
            .store
            .consents(&index)
            .await?
            .iter()
            .map(consent_body)
            .collect(),
        processing_log: log
            .iter()
            .map(|a| ProcessingEntry {
                at: rfc3339(a.entry.at / 1000),
                by: a.entry.actor.clone(),
                role: a.entry.role.clone(),
                action: a.entry.action.clone(),
                purpose: a.entry.purpose.clone(),
            })
            .collect(),
        corrections,
        rights: format!(
            "Koreksi data: POST /api/v1/me/corrections (diproses dalam {h} jam). Persetujuan: POST /api/v1/me/consents. / Corrections: POST /api/v1/me/corrections (handled within {h} hours). Consent: POST /api/v1/me/consents.",
            h = st.auth.policy.correction_due_hours
        ),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// marketing, research or sharing_with_partners.
    pub purpose: String,
    /// The version of the notice shown to the participant.
    pub notice_version: String,
    /// given or withdrawn.
    pub decision: String,
}

/// Record the participant's consent, or its withdrawal, for one purpose. Appended: the latest
/// decision is in force and the earlier ones stay as proof.
#[utoipa::path(post, path = "/api/v1/me/consents", request_body = ConsentInput,
    responses((status = 201, body = [ConsentBody]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn give_consent(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let (index, ps) = own(&st, &caller).await?;
    let b: ConsentInput = crate::error::json_body(&body, "a consent object")?;
    let mut errs = Vec::new();
    if !CONSENT_PURPOSES.contains(&b.purpose.as_str()) {
        errs.push(FieldError::new(
            "purpose",
            "purpose.value",
            format!("purpose must be one of {}", CONSENT_PURPOSES.join(", ")),
        ));
    }
    if b.notice_version.trim().is_empty() || b.notice_version.len() > 40 {
        errs.push(FieldError::new(
            "notice_version",
            "notice_version.required",
            "notice_version names the notice shown (1 to 40 characters)",
        ));
    }
    if !["given", "withdrawn"].contains(&b.decision.as_str()) {
        errs.push(FieldError::new(
            "decision",
            "decision.value",
            "decision must be given or withdrawn",
        ));
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    }
    let c = Consent {
        purpose: b.purpose.clone(),
        notice_version: b.notice_version.trim().to_string(),
        decision: b.decision.clone(),
        at: crate::auth::now_secs(),
        channel: "self".into(),
    };
    st.store.add_consent(&index, &c).await?;
    if let Some(p) = ps.first() {
        caller
            .audit(
                &st,
                &format!("consent.{}", b.decision),
                format!("participant:{}", p.id),
                &b.purpose,
            )
            .await?;
    }
    let all: Vec<ConsentBody> = st
        .store
        .consents(&index)
        .await?
        .iter()
        .map(consent_body)
        .collect();
    Ok((StatusCode::CREATED, Json(all)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    /// One of the caller's own participations.
    pub participant_id: i64,
    /// name, birth_date, phone, address, village_code, occupation_code or income_base.
    pub field: String,
    /// The correct value.
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionBody {
    pub id: i64,
    pub participant_id: i64,
    pub village_code: String,
    pub field: String,
    pub value: String,
    pub reason: String,
    /// RFC 3339.
    pub requested_at: String,
    /// RFC 3339: the legal deadline.
    pub due_at: String,
    /// open, done (applied to the record) or refused.
    pub status: String,
    /// RFC 3339, once decided.
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    /// The reviewer's note to the participant.
    pub note: Option<String>,
}

fn correction_body(c: &Correction) -> CorrectionBody {
    CorrectionBody {
        id: c.id,
        participant_id: c.participant_id,
        village_code: c.village_code.clone(),
        field: c.field.clone(),
        value: c.value.clone(),
        reason: c.reason.clone(),
        requested_at: rfc3339(c.requested_at),
        due_at: rfc3339(c.due_at),
        status: c.status.clone(),
        decided_at: c.decided_at.map(rfc3339),
        decided_by: c.decided_by.clone(),
        note: c.note.clone(),
    }
}

/// Ask for a correction of one's own data; it is due within the legal period and appears in
/// the branch's list of open requests.
#[utoipa::path(post, path = "/api/v1/me/corrections", request_body = CorrectionInput,
    responses((status = 201, body = CorrectionBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn request_correction(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    own(&st, &caller).await?;
    let b: CorrectionInput = crate::error::json_body(&body, "a correction object")?;
    let c = file_correction(&st, &caller, &b).await?;
    Ok((StatusCode::CREATED, Json(correction_body(&c))))
}

/// Files a correction request of the caller about one of their own participations, audited:
/// the API's and the participant's page's one path.
pub(crate) async fn file_correction(
    st: &AppState,
    caller: &Caller,
    b: &CorrectionInput,
) -> Result<Correction, ApiError> {
    let (_, ps) = own(st, caller).await?;
    let Some(p) = ps.iter().find(|p| p.id == b.participant_id) else {
        return Err(invalid(
            "participant_id",
            "participant_id.not_yours",
            "participant_id must be one of your own participations".into(),
        ));
    };
    let mut errs = Vec::new();
    if !CORRECTABLE.contains(&b.field.as_str()) {
        errs.push(FieldError::new(
            "field",
            "field.value",
            format!("field must be one of {}", CORRECTABLE.join(", ")),
        ));
    }
    if b.value.trim().is_empty() || b.value.chars().count() > 200 {
        errs.push(FieldError::new(
            "value",
            "value.length",
            "value must have 1 to 200 characters",
        ));
    }
    if b.reason.trim().is_empty() || b.reason.chars().count() > 500 {
        errs.push(FieldError::new(
            "reason",
            "reason.length",
            "reason must have 1 to 500 characters",
        ));
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    }
    let now = crate::auth::now_secs();
    let mut c = Correction {
        id: 0,
        participant_id: p.id,
        village_code: p.registration.village.to_string(),
        field: b.field.clone(),
        value: b.value.trim().to_string(),
        reason: b.reason.trim().to_string(),
        requested_at: now,
        due_at: now + i64::from(st.auth.policy.correction_due_hours) * 3600,
        status: "open".into(),
        decided_at: None,
        decided_by: None,
        note: None,
    };
    c.id = st.store.add_correction(&c).await?;
    caller
        .audit(
            st,
            "correction.request",
            format!("participant:{}", p.id),
            "data_subject_rights",
        )
        .await?;
    Ok(c)
}

#[derive(Debug, Deserialize)]
pub struct AreaParams {
    region: Option<String>,
}

/// Open correction requests in an area (default: the caller's), oldest first, with their
/// deadlines: for branch officers and administrators.
#[utoipa::path(get, path = "/api/v1/corrections", params(("region" = Option<String>, Query)),
    responses((status = 200, body = [CorrectionBody]), (status = 403, body = ErrorBody)))]
pub async fn open_corrections(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AreaParams>,
) -> Result<Json<Vec<CorrectionBody>>, ApiError> {
    let area = match q.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => caller.who.region,
        Some(r) => RegionCode::parse(r)
            .map_err(|e| invalid("region", "region_code.format", format!("region {e}")))?,
    };
    caller.allow(Action::ReviewRequests, &Resource::Region(area))?;
    let list = st.store.open_corrections(area).await?;
    for c in &list {
        caller
            .audit(
                &st,
                "correction.read",
                format!("participant:{}", c.participant_id),
                "data_subject_rights",
            )
            .await?;
    }
    Ok(Json(list.iter().map(correction_body).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// done (apply the correction to the record) or refused.
    pub decision: String,
    /// To the participant: why refused (required then), or what was done.
    #[serde(default)]
    pub note: String,
}

/// The participation with the requested field replaced, validated as a whole like a new
/// registration (so a corrected village must exist, a phone must parse, …).
fn corrected(
    st: &AppState,
    p: &Participant,
    c: &Correction,
) -> Result<cakupan_domain::participants::Registration, ApiError> {
    let mut input = p.registration.to_input();
    let v = c.value.clone();
    match c.field.as_str() {
        "name" => input.name = v,
        "birth_date" => input.birth_date = v,
        "phone" => input.phone = v,
        "address" => input.address = v,
        "village_code" => input.village_code = v,
        "occupation_code" => input.occupation_code = v,
        "income_base" => input.income_base = v,
        other => {
            return Err(invalid(
                "field",
                "field.value",
                format!("{other} cannot be corrected here"),
            ));
        }
    }
    let ctx = cakupan_domain::participants::Context {
        regions: &st.regions,
        rules: &st.rules,
        today: (st.today)(),
    };
    cakupan_domain::participants::validate(&ctx, &input)
        .map(|(r, _)| r)
        .map_err(ApiError::Invalid)
}

/// Decide a participant's correction request: `done` applies it to the record (validated like
/// a registration; a new village moves the participation's counters with it), `refused` leaves
/// the record as it is. Both are kept with the reviewer and the note, and the participant sees
/// them in `GET /api/v1/me/data`. Deciding again the same way is a safe retry.
#[utoipa::path(post, path = "/api/v1/corrections/{id}/decision", request_body = DecisionInput,
    params(("id" = i64, Path)),
    responses((status = 200, body = CorrectionBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "invalid decision or correction, or already decided otherwise")))]
pub async fn decide_correction(
    State(st): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<i64>,
    body: Bytes,
) -> Result<Json<CorrectionBody>, ApiError> {
    let b: DecisionInput = crate::error::json_body(&body, "a decision object")?;
    let mut errs = Vec::new();
    let status = match b.decision.as_str() {
        "done" | "refused" => b.decision.clone(),
        _ => {
            errs.push(FieldError::new(
                "decision",
                "decision.value",
                "decision must be done or refused",
            ));
            String::new()
        }
    };
    let note = b.note.trim().to_string();
    if note.chars().count() > 500 {
        errs.push(FieldError::new(
            "note",
            "note.length",
            "note must be at most 500 characters",
        ));
    } else if status == "refused" && note.is_empty() {
        errs.push(FieldError::new(
            "note",
            "note.required",
            "a refusal needs a note telling the participant why",
        ));
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    }
    let not_found = || ApiError::NotFound(format!("no correction request {id}"));
    let c = st.store.correction(id).await?.ok_or_else(not_found)?;
    let p = st
        .store
        .participant(c.participant_id)
        .await?
        .ok_or_else(not_found)?;
    caller.allow(
        Action::ReviewRequests,
        &Resource::Region(p.registration.village),
    )?;
    let corrected = if status == "done" && c.status == "open" {
        let r = corrected(&st, &p, &c)?;
        if r.village != p.registration.village {
            caller
                .allow(Action::ReviewRequests, &Resource::Region(r.village))
                .map_err(|_| {
                    ApiError::Forbidden(
                        "the corrected village is outside your area: an officer covering both villages, or head office, must decide"
                            .into(),
                    )
                })?;
        }
        Some(r)
    } else {
        None
    };
    let decided = st
        .store
        .decide_correction(
            &st.rules,
            &cakupan_store::accounts::CorrectionDecision {
                id,
                status,
                decided_by: caller.who.username.clone(),
                decided_at: crate::auth::now_secs(),
                note,
                corrected,
            },
        )
        .await?
        .ok_or_else(not_found)?;
    caller
        .audit(
            &st,
            &format!("correction.{}", decided.status),
            format!("participant:{}", decided.participant_id),
            "data_subject_rights",
        )
        .await?;
    Ok(Json(correction_body(&decided)))
}
