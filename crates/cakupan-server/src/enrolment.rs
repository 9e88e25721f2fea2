//! `/api/v1` of self-registration (issue #20): registering with a code sent by SMS, signing in
//! with a code, the village search, the participant's card and its public check, changing the
//! phone, the funnel, the branch's review of NIK warnings, and the SMS gateway's delivery
//! reports. The operations are `cakupan_app::enrolment`'s.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::participants::HeirBody;
use crate::sessions::{ClientAddr, SessionBody, session_body};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cakupan_app::enrolment as svc;
use cakupan_domain::access::{Role, shown};
use cakupan_domain::participants::{HeirInput, RegistrationInput};
use cakupan_domain::{FieldError, RegionCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A worker's own registration: the registration's fields a worker types (always BPU, today,
/// through the `self` channel), their consent, and for the second step the code.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentBody {
    pub nik: String,
    /// As on the KTP.
    pub name: String,
    /// YYYY-MM-DD.
    pub birth_date: String,
    /// L or P.
    pub sex: String,
    /// The mobile number the code is sent to.
    pub phone: String,
    /// The village of domicile (`GET /api/v1/villages?q=` finds it by name).
    pub village_code: String,
    pub occupation_code: String,
    /// One of the BPU income brackets (rules/bpu.toml).
    pub income_base: String,
    /// JKK+JKM, or JKK+JKM+JHT.
    #[serde(default = "default_programmes")]
    pub programs: String,
    /// The Perisai agent who helped, if any.
    #[serde(default)]
    pub agent_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub heirs: Vec<HeirBody>,
    /// The worker agrees to the processing notice (required).
    #[serde(default)]
    pub consent: bool,
    /// Second step: the key the first step answered.
    #[serde(default)]
    pub key: String,
    /// Second step: the code the SMS carried.
    #[serde(default)]
    pub code: String,
}

fn default_programmes() -> String {
    "JKK+JKM".into()
}

impl EnrolmentBody {
    pub fn input(&self) -> RegistrationInput {
        RegistrationInput {
            nik: self.nik.clone(),
            name: self.name.clone(),
            birth_date: self.birth_date.clone(),
            sex: self.sex.clone(),
            phone: self.phone.clone(),
            village_code: self.village_code.clone(),
            occupation_code: self.occupation_code.clone(),
            income_base: self.income_base.clone(),
            programs: self.programs.clone(),
            agent_code: self.agent_code.clone(),
            address: self.address.clone(),
            heirs: self
                .heirs
                .iter()
                .map(|h| HeirInput {
                    name: h.name.clone(),
                    relationship: h.relationship.clone(),
                    nik: h.nik.clone().unwrap_or_default(),
                    phone: h.phone.clone().unwrap_or_default(),
                })
                .collect(),
            ..RegistrationInput::default()
        }
    }
}

/// Refuses a registration without consent, naming the field.
pub fn consent_given(consent: bool) -> Result<(), ApiError> {
    if consent {
        Ok(())
    } else {
        Err(ApiError::Invalid(
            FieldError::new(
                "consent",
                "consent.required",
                "consent is required: registering needs your agreement to the processing notice",
            )
            .into(),
        ))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSentBody {
    /// Send it back with the code.
    pub key: String,
    /// How long the code is good for.
    pub valid_secs: u32,
    pub message: String,
}

/// Registration, step one: every field is checked and a code goes by SMS to `phone`; nothing
/// is stored of the person. 503 when the SMS gateway is down (try again).
#[utoipa::path(post, path = "/api/v1/enrolment/code", request_body = EnrolmentBody,
    responses((status = 202, body = CodeSentBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ask_code(
    State(st): State<AppState>,
    ClientAddr(ip): ClientAddr,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: EnrolmentBody = crate::error::json_body(&body, "a registration object")?;
    consent_given(b.consent)?;
    let asked = svc::ask_registration_code(&st, &b.input(), &ip).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSentBody {
            key: asked.key,
            valid_secs: asked.valid_secs,
            message: "a code was sent by SMS to the phone given".into(),
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolledBody {
    pub id: i64,
    pub kpj: String,
    /// The virtual-account number to pay contributions with at a bank, a minimarket or an
    /// e-wallet.
    pub payment_code: String,
    /// `true` when registered now, `false` when the same registration was sent again.
    pub created: bool,
    /// A session of the worker's own account.
    pub session: SessionBody,
    /// The card's public link (path).
    pub card_link: String,
}

/// Registration, step two: with the code sent to the phone the worker is registered, their
/// consent recorded and a session of their own account opened. The same body again registers
/// nothing more (200 with `created: false`). A NIK that holds another BPU participation is 409
/// `sign_in_instead`, with nothing of that participation told.
#[utoipa::path(post, path = "/api/v1/enrolment", request_body = EnrolmentBody,
    responses((status = 201, body = EnrolledBody), (status = 200, body = EnrolledBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn enrol(
    State(st): State<AppState>,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let b: EnrolmentBody = crate::error::json_body(&body, "a registration object")?;
    consent_given(b.consent)?;
    let request_id = crate::auth::new_token()
        .map(|t| t[..16].to_string())
        .unwrap_or_default();
    match svc::register_with_code(&st, &b.input(), &b.key, &b.code, &request_id).await? {
        svc::Enrolled::SignInInstead => Ok((
            StatusCode::CONFLICT,
            Json(ErrorBody {
                error: "sign_in_instead".into(),
                message: "this NIK is already registered: sign in with a code sent to the phone on record (POST /api/v1/sessions/code)".into(),
                errors: Vec::new(),
                existing_kpj: None,
            }),
        )
            .into_response()),
        svc::Enrolled::Registered {
            id,
            kpj,
            created,
            user,
        } => {
            let s = crate::sessions::open_session(&st, &user, "session.login_code").await?;
            Ok((
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                Json(EnrolledBody {
                    id,
                    payment_code: cakupan_app::payments::code_of_kpj(&st, &kpj)
                        .map(|v| v.digits())
                        .unwrap_or_default(),
                    kpj,
                    created,
                    session: session_body(s),
                    card_link: format!("/kartu/{}", svc::card_token(&st, id)),
                }),
            )
                .into_response())
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInCodeBody {
    /// The NIK (16 digits) or the KPJ number (11 digits).
    pub nik_or_kpj: String,
    /// Second step: the key the first step answered.
    #[serde(default)]
    pub key: String,
    /// Second step: the code the SMS carried.
    #[serde(default)]
    pub code: String,
}

/// Signing in without a password, step one: if the NIK or KPJ is registered, a code goes to
/// its phone on record. The answer is the same either way.
#[utoipa::path(post, path = "/api/v1/sessions/code", request_body = SignInCodeBody,
    responses((status = 202, body = CodeSentBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn ask_sign_in_code(
    State(st): State<AppState>,
    ClientAddr(ip): ClientAddr,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: SignInCodeBody = crate::error::json_body(&body, "{\"nik_or_kpj\": \"…\"}")?;
    let asked = svc::ask_sign_in_code(&st, &b.nik_or_kpj, &ip).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSentBody {
            key: asked.key,
            valid_secs: asked.valid_secs,
            message:
                "if this NIK or KPJ is registered, a code has been sent to its phone on record"
                    .into(),
        }),
    ))
}

/// Signing in without a password, step two: the code opens a session of the participant's
/// own account.
#[utoipa::path(post, path = "/api/v1/sessions/code/verify", request_body = SignInCodeBody,
    responses((status = 201, body = SessionBody), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sign_in_with_code(
    State(st): State<AppState>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: SignInCodeBody = crate::error::json_body(
        &body,
        "{\"nik_or_kpj\": \"…\", \"key\": \"…\", \"code\": \"…\"}",
    )?;
    let user = svc::sign_in_with_code(&st, &b.nik_or_kpj, &b.key, &b.code).await?;
    if user.disabled {
        return Err(ApiError::Unauthenticated(
            "this account is disabled: ask the branch".into(),
        ));
    }
    let s = crate::sessions::open_session(&st, &user, "session.login_code").await?;
    Ok((StatusCode::CREATED, Json(session_body(s))))
}

#[derive(Debug, Deserialize)]
pub struct VillageQuery {
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VillageBody {
    pub code: String,
    pub name: String,
    pub district: String,
    pub regency: String,
    pub province: String,
}

/// Villages whose names match `q` (at least two letters), with their district, regency and
/// province so that one "Sukamaju" can be told from another; at most 20. Public.
#[utoipa::path(get, path = "/api/v1/villages", params(("q" = String, Query)),
    responses((status = 200, body = [VillageBody])))]
pub async fn villages(
    State(st): State<AppState>,
    Query(q): Query<VillageQuery>,
) -> Json<Vec<VillageBody>> {
    Json(village_matches(&st, q.q.as_deref().unwrap_or(""), 20))
}

/// The villages matching `typed`, each with its district, regency and province.
pub fn village_matches(st: &AppState, typed: &str, limit: usize) -> Vec<VillageBody> {
    let index = village_index(&st.regions);
    cakupan_domain::enrolment::search_villages(&st.regions, index, typed, limit)
        .into_iter()
        .map(|r| {
            let name_of = |level: cakupan_domain::Level| {
                st.regions
                    .get(r.code.truncate(level))
                    .map(|x| x.name.clone())
                    .unwrap_or_default()
            };
            VillageBody {
                code: r.code.to_string(),
                name: r.name.clone(),
                district: name_of(cakupan_domain::Level::District),
                regency: name_of(cakupan_domain::Level::Regency),
                province: name_of(cakupan_domain::Level::Province),
            }
        })
        .collect()
}

/// The folded village names of the tree, built at the first search.
fn village_index(
    tree: &cakupan_domain::RegionTree,
) -> &'static cakupan_domain::enrolment::VillageIndex {
    static INDEX: std::sync::OnceLock<cakupan_domain::enrolment::VillageIndex> =
        std::sync::OnceLock::new();
    INDEX.get_or_init(|| cakupan_domain::enrolment::VillageIndex::new(tree))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardBody {
    pub kpj: String,
    pub name: String,
    pub programmes: String,
    /// The last month protected (YYYY-MM), if any is paid.
    pub protected_until: Option<String>,
    pub payment_code: String,
    /// The card's public link (path): anyone opening it sees the masked name and the
    /// protection, nothing more.
    pub public_link: String,
}

/// The participant's own cards, one per participation.
#[utoipa::path(get, path = "/api/v1/me/card",
    responses((status = 200, body = [CardBody]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn own_card(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<CardBody>>, ApiError> {
    let (_, ps) = crate::rights::own(&st, &caller).await?;
    let mut out = Vec::new();
    for p in &ps {
        caller
            .audit(
                &st,
                "participant.read",
                format!("participant:{}", p.id),
                "data_subject_access",
            )
            .await?;
        out.push(CardBody {
            kpj: p.kpj.clone(),
            name: p.registration.name.clone(),
            programmes: p.registration.programmes.to_string(),
            protected_until: svc::protection(&st, p).await?.map(|m| m.to_string()),
            payment_code: cakupan_app::payments::code_of(&st, p)
                .map(|v| v.digits())
                .unwrap_or_default(),
            public_link: format!("/kartu/{}", svc::card_token(&st, p.id)),
        });
    }
    Ok(Json(out))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicCardBody {
    /// The name with all but each word's first letter hidden.
    pub masked_name: String,
    pub protected_until: Option<String>,
    pub protected_now: bool,
}

/// A card's public check (the link its QR code holds): the masked name and the protection.
#[utoipa::path(get, path = "/api/v1/cards/{token}", params(("token" = String, Path)),
    responses((status = 200, body = PublicCardBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn public_card(
    State(st): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Path(token): Path<String>,
) -> Result<Json<PublicCardBody>, ApiError> {
    st.auth
        .receipt_check(&ip)
        .map_err(|wait| ApiError::TooManyAttempts {
            message: "too many checks from this address: try again in a minute".into(),
            retry_after_secs: wait.as_secs().max(1),
        })?;
    let request_id = crate::auth::new_token()
        .map(|t| t[..16].to_string())
        .unwrap_or_default();
    let c = svc::public_card(&st, &token, &request_id).await?;
    Ok(Json(PublicCardBody {
        masked_name: c.masked_name,
        protected_until: c.protected_until.map(|m| m.to_string()),
        protected_now: c.protected_now,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneChangeBody {
    pub new_phone: String,
    /// Second step: the keys and codes sent to the old and the new number.
    #[serde(default)]
    pub key_old: String,
    #[serde(default)]
    pub code_old: String,
    #[serde(default)]
    pub key_new: String,
    #[serde(default)]
    pub code_new: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneCodesBody {
    pub key_old: String,
    pub key_new: String,
    pub valid_secs: u32,
}

/// Changing one's phone, step one: a code to the number on record and one to the new number.
#[utoipa::path(post, path = "/api/v1/me/phone/code", request_body = PhoneChangeBody,
    responses((status = 202, body = PhoneCodesBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ask_phone_codes(
    State(st): State<AppState>,
    caller: Caller,
    ClientAddr(ip): ClientAddr,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: PhoneChangeBody = crate::error::json_body(&body, "{\"new_phone\": \"…\"}")?;
    let codes = svc::ask_phone_change(&st, &caller.who, &b.new_phone, &ip).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PhoneCodesBody {
            key_old: codes.old.key,
            key_new: codes.new.key,
            valid_secs: codes.new.valid_secs,
        }),
    ))
}

/// Changing one's phone, step two: with both codes the new number is recorded on every
/// participation (each change kept as a correction decided by the participant).
#[utoipa::path(post, path = "/api/v1/me/phone", request_body = PhoneChangeBody,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_phone(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let b: PhoneChangeBody = crate::error::json_body(&body, "a phone change object")?;
    svc::change_phone(
        &st,
        &caller.who,
        &caller.request_id,
        &b.new_phone,
        (&b.key_old, &b.code_old),
        (&b.key_new, &b.code_new),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct AreaParams {
    pub(crate) region: Option<String>,
}

pub(crate) fn area(caller: &Caller, region: Option<&str>) -> Result<RegionCode, ApiError> {
    match region.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(caller.who.region),
        Some(r) => RegionCode::parse(r).map_err(|e| {
            ApiError::Invalid(
                FieldError::new("region", "region_code.format", format!("region {e}")).into(),
            )
        }),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelWeekBody {
    /// ISO week, e.g. 2026-W48.
    pub week: String,
    /// Forms that passed every check and had a code sent (a code asked again counts again).
    pub started: Option<u64>,
    pub verified: Option<u64>,
    pub registered: Option<u64>,
    /// Of that week's self-registrations, those that have paid a contribution.
    pub paid: Option<u64>,
}

/// The self-registration funnel of an area by week (null: a count of 1–4 withheld from roles
/// without access to personal data).
#[utoipa::path(get, path = "/api/v1/enrolment/funnel", params(("region" = Option<String>, Query)),
    responses((status = 200, body = [FunnelWeekBody]), (status = 403, body = ErrorBody)))]
pub async fn funnel(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AreaParams>,
) -> Result<Json<Vec<FunnelWeekBody>>, ApiError> {
    let region = area(&caller, q.region.as_deref())?;
    let weeks = svc::funnel(&st, &caller.who, region).await?;
    Ok(Json(funnel_shown(&st, caller.who.role, &weeks)))
}

/// The funnel as `role` may see it.
pub fn funnel_shown(
    st: &AppState,
    role: Role,
    weeks: &[cakupan_store::enrolment::FunnelWeek],
) -> Vec<FunnelWeekBody> {
    let min = st.auth.policy.aggregate_min_cell;
    let s = |n: u64| shown(role, n as i64, min).map(|v| v as u64);
    weeks
        .iter()
        .map(|w| FunnelWeekBody {
            week: w.week.clone(),
            started: s(w.started),
            verified: s(w.verified),
            registered: s(w.registered),
            paid: s(w.paid),
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewBody {
    pub participant_id: i64,
    pub kpj: String,
    pub name: String,
    pub birth_date: String,
    pub sex: String,
    pub village_code: String,
    /// How the participant registered: self, perisai, employer, branch or bank.
    pub channel: String,
    /// The NIK's warnings, as rule codes (DOMAIN.md §6).
    pub warnings: Vec<String>,
}

/// Participations of an area whose NIK warnings wait for review (branch officers).
#[utoipa::path(get, path = "/api/v1/reviews", params(("region" = Option<String>, Query)),
    responses((status = 200, body = [ReviewBody]), (status = 403, body = ErrorBody)))]
pub async fn reviews(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AreaParams>,
) -> Result<Json<Vec<ReviewBody>>, ApiError> {
    let region = area(&caller, q.region.as_deref())?;
    let list = svc::reviews(&st, &caller.who, &caller.request_id, region).await?;
    Ok(Json(
        list.iter()
            .map(|p| ReviewBody {
                participant_id: p.id,
                kpj: p.kpj.clone(),
                name: p.registration.name.clone(),
                birth_date: cakupan_domain::month::format_date(p.registration.birth_date),
                sex: p.registration.sex.to_string(),
                village_code: p.registration.village.to_string(),
                channel: p.registration.channel.to_string(),
                warnings: p.registration.review_flags.clone(),
            })
            .collect(),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// To correct: the birth date as on the KTP (with `sex`); empty to clear as it is.
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub sex: String,
}

/// Reviews a participation's NIK warnings: cleared as they are, or with the birth date and
/// sex corrected (kept as a correction decided by the reviewer). Again is a safe retry.
#[utoipa::path(post, path = "/api/v1/reviews/{id}", params(("id" = i64, Path)), request_body = ReviewInput,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn review(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let b: ReviewInput =
        crate::error::json_body(&body, "{} or {\"birth_date\": \"…\", \"sex\": \"…\"}")?;
    let corrected = (!b.birth_date.trim().is_empty() || !b.sex.trim().is_empty())
        .then_some((b.birth_date.as_str(), b.sex.as_str()));
    svc::review(&st, &caller.who, &caller.request_id, id, corrected).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct ReportParams {
    tag: Option<String>,
    status: Option<String>,
}

/// The SMS gateway's delivery report (Kannel's `dlr-url`, `%d` as `status`). A wrong tag or
/// status is 404 and changes nothing.
#[utoipa::path(get, path = "/api/v1/sms/{id}/report", params(("id" = i64, Path), ("tag" = String, Query), ("status" = String, Query)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn sms_report(
    State(st): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<ReportParams>,
) -> Result<StatusCode, ApiError> {
    cakupan_app::sms::record_report(
        &st,
        id,
        q.tag.as_deref().unwrap_or(""),
        q.status.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
