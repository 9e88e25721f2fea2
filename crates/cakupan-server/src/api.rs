//! `/api/v1`: the participant registry, regions and contribution quotes.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, FieldErrorBody};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use cakupan_domain::access::{Action, Resource};
use cakupan_domain::month::format_date;
use cakupan_domain::participants::{
    Context, FIELDS, HeirInput, OPTIONAL_FIELDS, RegistrationInput, validate,
};
use cakupan_domain::quote::{QuoteRequest, quote};
use cakupan_domain::{
    FieldError, FieldErrors, Month, Nik, ProgrammeSet, RegionCode, Rupiah, Segment,
};
use cakupan_store::{Outcome, Participant};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sessions",
            post(crate::sessions::login).delete(crate::sessions::logout),
        )
        .route("/me", get(crate::sessions::me))
        .route("/me/password", post(crate::accounts::change_password))
        .route("/me/totp", post(crate::accounts::own_totp))
        .route("/users/{username}/totp", post(crate::accounts::user_totp))
        .route(
            "/users/{username}/password-reset",
            post(crate::accounts::reset),
        )
        .route("/users/{username}/disable", post(crate::accounts::disable))
        .route("/users/{username}/enable", post(crate::accounts::enable))
        .route(
            "/users/{username}/sessions",
            axum::routing::delete(crate::accounts::revoke),
        )
        .route("/me/data", get(crate::rights::own_data))
        .route("/me/consents", post(crate::rights::give_consent))
        .route("/me/corrections", post(crate::rights::request_correction))
        .route("/corrections", get(crate::rights::open_corrections))
        .route(
            "/corrections/{id}/decision",
            post(crate::rights::decide_correction),
        )
        .route("/participants", post(register))
        .route("/participants/lookup", post(lookup))
        .route("/participants/by-kpj/{kpj}", get(by_kpj))
        .route("/participants/{id}", get(by_id))
        .route("/participants/{id}/coverage", get(coverage))
        .route("/postings", post(post_handler))
        .route("/reports/active", get(report_active))
        .route("/reports/target", get(report_target))
        .route("/targets", get(list_targets))
        .route(
            "/offices",
            post(crate::agents::add_office).get(crate::agents::list_offices),
        )
        .route(
            "/offices/{code}/statement",
            get(crate::agents::get_office_statement),
        )
        .route("/agents", post(crate::agents::add_agent))
        .route("/agents/{code}", get(crate::agents::get_agent))
        .route("/agents/{code}/events", post(crate::agents::add_event))
        .route(
            "/agents/{code}/statement",
            get(crate::agents::agent_statement),
        )
        .route("/agents/{code}/worklist", get(crate::agents::get_worklist))
        .route("/deposits", post(crate::agents::add_deposit))
        .route("/reports/agents", get(crate::agents::report_agents))
        .route("/receipts/{number}", get(crate::agents::check_receipt))
        .route(
            "/employers",
            post(crate::employers::add_employer).get(crate::employers::list_employers),
        )
        .route("/employers/{code}", get(crate::employers::get_employer))
        .route(
            "/employers/{code}/workers",
            get(crate::employers::get_workers),
        )
        .route(
            "/employers/{code}/invoices/{month}",
            get(crate::employers::get_invoice),
        )
        .route(
            "/employers/{code}/payments",
            post(crate::employers::add_payment),
        )
        .route("/campaigns", post(crate::campaign::add_campaign))
        .route("/campaigns/{code}", get(crate::campaign::get_campaign))
        .route("/campaigns/{code}/waves", post(crate::campaign::add_wave))
        .route(
            "/campaigns/{code}/villages",
            get(crate::campaign::list_villages).post(crate::campaign::add_village),
        )
        .route(
            "/campaigns/{code}/villages/{village}",
            post(crate::campaign::edit_village).delete(crate::campaign::remove_village),
        )
        .route(
            "/campaigns/{code}/villages/{village}/coordination",
            post(crate::campaign::sign_off),
        )
        .route(
            "/campaigns/{code}/sessions",
            post(crate::campaign::add_session),
        )
        .route("/campaigns/{code}/uplift", get(crate::campaign::get_uplift))
        .route(
            "/questionnaires",
            get(crate::campaign::list_questionnaires).post(crate::campaign::add_questionnaire),
        )
        .route(
            "/questionnaires/{code}/{version}/retire",
            post(crate::campaign::retire_questionnaire),
        )
        .route("/surveys", post(crate::campaign::add_survey))
        .route("/surveys/{code}/units", get(crate::campaign::list_units))
        .route("/surveys/{code}/results", get(crate::campaign::get_results))
        .route("/regions/{code}", get(region))
        .route("/quote", get(quote_handler))
        .route("/openapi.json", get(openapi))
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Cakupan API",
        version = "1",
        description = "Participant registry of the workers' social-security agency. Errors are JSON naming the field and the rule."
    ),
    paths(
        healthz,
        crate::sessions::login,
        crate::sessions::logout,
        crate::sessions::me,
        crate::accounts::change_password,
        crate::accounts::own_totp,
        crate::accounts::user_totp,
        crate::accounts::reset,
        crate::accounts::disable,
        crate::accounts::enable,
        crate::accounts::revoke,
        crate::rights::own_data,
        crate::rights::give_consent,
        crate::rights::request_correction,
        crate::rights::open_corrections,
        crate::rights::decide_correction,
        crate::agents::add_office,
        crate::agents::list_offices,
        crate::agents::get_office_statement,
        crate::agents::add_agent,
        crate::agents::get_agent,
        crate::agents::add_event,
        crate::agents::agent_statement,
        crate::agents::get_worklist,
        crate::agents::add_deposit,
        crate::agents::report_agents,
        crate::agents::check_receipt,
        crate::employers::add_employer,
        crate::employers::list_employers,
        crate::employers::get_employer,
        crate::employers::get_workers,
        crate::employers::submit_report,
        crate::employers::get_invoice,
        crate::employers::add_payment,
        crate::campaign::add_campaign,
        crate::campaign::get_campaign,
        crate::campaign::add_wave,
        crate::campaign::list_villages,
        crate::campaign::edit_village,
        crate::campaign::add_village,
        crate::campaign::remove_village,
        crate::campaign::sign_off,
        crate::campaign::add_session,
        crate::campaign::get_uplift,
        crate::campaign::list_questionnaires,
        crate::campaign::add_questionnaire,
        crate::campaign::retire_questionnaire,
        crate::campaign::add_survey,
        crate::campaign::list_units,
        crate::campaign::add_responses,
        crate::campaign::get_results,
        register,
        lookup,
        by_kpj,
        by_id,
        coverage,
        post_handler,
        report_active,
        report_target,
        list_targets,
        region,
        quote_handler
    ),
    components(schemas(
        crate::accounts::PasswordChange,
        crate::accounts::TotpRequest,
        crate::accounts::TotpEnrolment,
        crate::accounts::ResetBody,
        crate::accounts::SessionsEnded,
        RegistrationBody,
        HeirBody,
        ParticipantBody,
        HeirView,
        RegisterResponse,
        LookupBody,
        RegionBody,
        RegionRef,
        QuoteBody,
        QuoteLineBody,
        ErrorBody,
        FieldErrorBody,
        Health,
        ActiveReportRow,
        TargetBody,
        TargetReportBody,
        MonthValue,
        crate::sessions::LoginBody,
        crate::sessions::SessionBody,
        crate::sessions::MeBody,
        crate::rights::OwnData,
        crate::rights::OwnParticipation,
        crate::rights::ProcessingEntry,
        crate::rights::ConsentBody,
        crate::rights::ConsentInput,
        crate::rights::CorrectionInput,
        crate::rights::CorrectionBody,
        crate::rights::DecisionInput,
        crate::agents::OfficeInput,
        crate::agents::OfficeBody,
        crate::agents::AgentInput,
        crate::agents::AgentBody,
        crate::agents::Custody,
        crate::agents::EventInput,
        crate::agents::DepositInput,
        crate::agents::DepositBody,
        crate::agents::StatementBody,
        crate::agents::OfficeStatementBody,
        crate::agents::Worklist,
        crate::agents::WorkItem,
        crate::agents::VillageGap,
        crate::agents::AgentCountRow,
        crate::agents::ReceiptBody,
        crate::employers::EmployerBody,
        crate::employers::EmployerView,
        crate::employers::StandingBody,
        crate::employers::ContactBody,
        crate::employers::InvoiceBody,
        crate::employers::PaymentBody,
        crate::employers::AccountBody,
        crate::employers::WorkerBody,
        crate::employers::WageLineBody,
        crate::employers::WageReportBody,
        crate::employers::ProblemBody,
        crate::employers::ChangeBody,
        crate::employers::ReportBody,
        crate::employers::LineBody,
        crate::employers::AllocationBody,
        crate::employers::InvoiceDetail,
        crate::employers::PaymentInput,
        crate::employers::PaymentResultBody,
        crate::campaign::CampaignInput,
        crate::campaign::CampaignBody,
        crate::campaign::WaveBody,
        crate::campaign::FunnelBody,
        crate::campaign::WaveInput,
        crate::campaign::EntryBody,
        crate::campaign::CoordinationInput,
        crate::campaign::EntryInput,
        crate::campaign::AddVillageInput,
        crate::campaign::SessionInput,
        crate::campaign::QuestionnaireBody,
        crate::campaign::SurveyInput,
        crate::campaign::SurveyBody,
        crate::campaign::UnitBody,
        crate::campaign::ResponseInput,
        crate::campaign::ResponsesInput
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme in the OpenAPI document.
#[derive(Debug)]
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub backend: String,
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(State(st): State<AppState>) -> impl IntoResponse {
    let backend = st.store.backend().to_string();
    match st.store.health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok".into(),
                backend,
            }),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable".into(),
                    backend,
                }),
            )
        }
    }
}

/// A registration as sent by a client. Strings throughout, except `income_base`, which may be
/// a JSON integer or a string of digits.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct RegistrationBody {
    /// 16-digit NIK.
    #[schema(example = "3273015203900003")]
    pub nik: String,
    /// Full name as on the KTP.
    pub name: String,
    /// YYYY-MM-DD.
    pub birth_date: String,
    /// L or P.
    pub sex: String,
    /// Mobile number: 08…, 628… or +628…; stored as E.164.
    pub phone: Option<String>,
    /// Village of domicile, dotted Kemendagri code (NN.NN.NN.NNNN).
    #[schema(example = "32.73.01.1001")]
    pub village_code: String,
    /// BPU or PU.
    pub segment: String,
    /// A code of rules/occupations.toml.
    pub occupation_code: String,
    /// BPU: a base of the bracket table; PU: the monthly wage. Whole rupiah.
    #[schema(value_type = i64)]
    pub income_base: i64,
    /// Joined with '+': JKK+JKM or JKK+JKM+JHT for BPU.
    pub programs: String,
    /// YYYY-MM-DD; today when absent.
    pub registered_on: Option<String>,
    /// self, perisai, employer, branch or bank.
    pub channel: String,
    /// Required when channel is perisai, otherwise empty.
    pub agent_code: Option<String>,
    /// Domicile address within the village (street, number, RT/RW); optional, at most 200
    /// characters of letters, digits, spaces and . , ' - / ( ) # : &.
    pub address: Option<String>,
    pub heirs: Option<Vec<HeirBody>>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeirBody {
    pub name: String,
    /// spouse, child, parent, sibling or other.
    pub relationship: String,
    pub nik: Option<String>,
    pub phone: Option<String>,
}

/// Reads a JSON object field as text, naming the field when its type is wrong.
fn text(
    obj: &serde_json::Map<String, Value>,
    prefix: &str,
    key: &str,
    errors: &mut FieldErrors,
) -> String {
    match obj.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            errors.push(FieldError::new(
                format!("{prefix}{key}"),
                "type.string",
                format!("{prefix}{key} must be a string"),
            ));
            String::new()
        }
    }
}

fn registration_input(body: &Bytes) -> Result<RegistrationInput, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body must be a JSON object: {e}")))?;
    let Value::Object(obj) = v else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    };
    let mut errors = FieldErrors::default();
    for k in obj.keys() {
        if !(FIELDS.contains(&k.as_str()) || OPTIONAL_FIELDS.contains(&k.as_str()) || k == "heirs")
        {
            errors.push(FieldError::new(
                k.clone(),
                "field.unknown",
                format!("{k} is not a registration field"),
            ));
        }
    }
    let mut heirs = Vec::new();
    match obj.get("heirs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, h) in items.iter().enumerate() {
                let prefix = format!("heirs[{i}].");
                match h {
                    Value::Object(ho) => heirs.push(HeirInput {
                        name: text(ho, &prefix, "name", &mut errors),
                        relationship: text(ho, &prefix, "relationship", &mut errors),
                        nik: text(ho, &prefix, "nik", &mut errors),
                        phone: text(ho, &prefix, "phone", &mut errors),
                    }),
                    _ => errors.push(FieldError::new(
                        format!("heirs[{i}]"),
                        "type.object",
                        "each heir must be an object",
                    )),
                }
            }
        }
        Some(_) => errors.push(FieldError::new(
            "heirs",
            "type.array",
            "heirs must be a list",
        )),
    }
    let input = RegistrationInput {
        nik: text(&obj, "", "nik", &mut errors),
        name: text(&obj, "", "name", &mut errors),
        birth_date: text(&obj, "", "birth_date", &mut errors),
        sex: text(&obj, "", "sex", &mut errors),
        phone: text(&obj, "", "phone", &mut errors),
        village_code: text(&obj, "", "village_code", &mut errors),
        segment: text(&obj, "", "segment", &mut errors),
        occupation_code: text(&obj, "", "occupation_code", &mut errors),
        income_base: text(&obj, "", "income_base", &mut errors),
        programs: text(&obj, "", "programs", &mut errors),
        registered_on: text(&obj, "", "registered_on", &mut errors),
        channel: text(&obj, "", "channel", &mut errors),
        agent_code: text(&obj, "", "agent_code", &mut errors),
        address: text(&obj, "", "address", &mut errors),
        budget_funded: match obj.get("budget_funded") {
            Some(Value::Bool(true)) => "ya".into(),
            Some(Value::Bool(false)) => String::new(),
            _ => text(&obj, "", "budget_funded", &mut errors),
        },
        heirs,
    };
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// A participant as the API shows it: NIK and phone masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParticipantBody {
    pub id: i64,
    pub kpj: String,
    /// `3273********0003`.
    pub nik_masked: String,
    pub name: String,
    pub birth_date: String,
    pub sex: String,
    /// `+62812****7890`.
    pub phone_masked: Option<String>,
    pub village_code: String,
    /// Province → village names.
    pub village_path: Vec<String>,
    pub segment: String,
    pub occupation_code: String,
    /// transport or non_transport (PP 50/2025).
    pub sector: String,
    pub income_base: i64,
    pub programs: String,
    pub registered_on: String,
    pub channel: String,
    pub agent_code: Option<String>,
    pub address: Option<String>,
    /// JKK and JKM paid from a state or regional budget: no PP 50/2025 discount.
    pub budget_funded: bool,
    pub heirs: Vec<HeirView>,
    /// Rules that only warned and await review.
    pub review_flags: Vec<String>,
    pub dukcapil_status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HeirView {
    pub name: String,
    pub relationship: String,
    pub nik_masked: Option<String>,
}

/// `+6281234567890` → `+62812****7890`.
pub fn mask_phone(p: &str) -> String {
    let n = p.chars().count();
    if n <= 8 {
        return "*".repeat(n);
    }
    let head: String = p.chars().take(6).collect();
    let tail: String = p.chars().skip(n - 4).collect();
    format!("{head}{}{tail}", "*".repeat(n - 10))
}

fn view(st: &AppState, p: &Participant) -> ParticipantBody {
    let r = &p.registration;
    ParticipantBody {
        id: p.id,
        kpj: p.kpj.clone(),
        nik_masked: r.nik.masked(),
        name: r.name.clone(),
        birth_date: format_date(r.birth_date),
        sex: r.sex.to_string(),
        phone_masked: r.phone.as_deref().map(mask_phone),
        village_code: r.village.to_string(),
        village_path: st
            .regions
            .path(r.village)
            .map(|p| p.iter().map(|x| x.name.clone()).collect())
            .unwrap_or_default(),
        segment: r.segment.to_string(),
        occupation_code: r.occupation_code.clone(),
        sector: r.sector.as_str().to_string(),
        income_base: r.income_base.0,
        programs: r.programmes.to_string(),
        registered_on: format_date(r.registered_on),
        channel: r.channel.to_string(),
        agent_code: r.agent_code.clone(),
        address: r.address.clone(),
        budget_funded: r.budget_funded,
        heirs: r
            .heirs
            .iter()
            .map(|h| HeirView {
                name: h.name.clone(),
                relationship: h.relationship.as_str().into(),
                nik_masked: h.nik.map(Nik::masked),
            })
            .collect(),
        review_flags: r.review_flags.clone(),
        dukcapil_status: p.dukcapil_status.clone(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    /// `created`, or `existing` when the same registration was already stored (a retry).
    pub outcome: String,
    pub participant: ParticipantBody,
    /// Rules that only warned: the registration is stored and flagged for review.
    pub warnings: Vec<FieldErrorBody>,
}

/// Register a participant. Retrying the same registration is safe: it answers 200 with the
/// stored participant. A different participation for the same NIK and segment is 409.
#[utoipa::path(post, path = "/api/v1/participants", request_body = RegistrationBody,
    responses((status = 201, body = RegisterResponse), (status = 200, body = RegisterResponse, description = "already registered (retry)"),
              (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let input = registration_input(&body)?;
    let ctx = Context {
        regions: &st.regions,
        rules: &st.rules,
        today: (st.today)(),
    };
    let (reg, warnings) = validate(&ctx, &input)?;
    caller.allow(
        Action::Register,
        &Resource::Participant {
            village: reg.village,
            agent_code: reg.agent_code.clone(),
            nik: hex::encode(st.store.nik_index(&reg.nik)),
        },
    )?;
    crate::agents::check_acquisition(&st, caller.who.role, &reg).await?;
    // The registration and its audit entry commit together.
    let entry = |action: &str| {
        crate::auth::audit_entry(
            &caller.who,
            &caller.request_id,
            action,
            String::new(),
            "enrolment",
        )
    };
    let audit = cakupan_store::accounts::RegistrationAudit {
        created: entry("participant.register"),
        existing: entry("participant.read"),
    };
    let (status, outcome, id) = match st.store.register_audited(&st.rules, &reg, &audit).await? {
        Outcome::Created { id, .. } => (StatusCode::CREATED, "created", id),
        Outcome::Existing { id, .. } => (StatusCode::OK, "existing", id),
        Outcome::Conflict { kpj, segment } => {
            return Err(
                match crate::auth::registration_conflict(&st, &caller.who, &caller.request_id, &kpj)
                    .await?
                {
                    crate::auth::ConflictView::Visible { kpj } => {
                        cakupan_store::StoreError::Conflict { kpj, segment }.into()
                    }
                    crate::auth::ConflictView::Elsewhere => ApiError::ConflictElsewhere {
                        message: format!(
                            "this NIK cannot be registered here: it already has a {segment} participation outside your area; ask the branch of the participant's domicile"
                        ),
                    },
                },
            );
        }
    };
    let p = st.store.participant(id).await?.ok_or_else(|| {
        ApiError::Internal("registered participant could not be read back".into())
    })?;
    Ok((
        status,
        Json(RegisterResponse {
            outcome: outcome.into(),
            participant: view(&st, &p),
            warnings: warnings.iter().map(FieldErrorBody::from).collect(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    /// The 16-digit NIK. Sent in the body, not the URL, so it never lands in access logs.
    pub nik: String,
}

/// Look up every participation (one per segment) of a NIK.
#[utoipa::path(post, path = "/api/v1/participants/lookup", request_body = LookupBody,
    responses((status = 200, body = [ParticipantBody]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn lookup(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Vec<ParticipantBody>>, ApiError> {
    let b: LookupBody = crate::error::json_body(&body, "{\"nik\": \"…\"}")?;
    let nik = Nik::parse(&b.nik)
        .map_err(|e| ApiError::Invalid(FieldError::new("nik", e.rule(), e.to_string()).into()))?;
    // Only the participations the caller may see; none reads like an unknown NIK.
    let mut ps: Vec<Participant> = Vec::new();
    for p in st.store.participants_by_nik(nik).await? {
        if caller
            .allow_personal(
                &st,
                Action::ReadPersonal,
                &p,
                ApiError::NotFound(String::new()),
            )
            .await
            .is_ok()
        {
            ps.push(p);
        }
    }
    if ps.is_empty() {
        return Err(ApiError::NotFound(
            "no participant is registered with this NIK".into(),
        ));
    }
    for p in &ps {
        caller
            .audit(
                &st,
                "participant.read",
                format!("participant:{}", p.id),
                "service",
            )
            .await?;
    }
    Ok(Json(ps.iter().map(|p| view(&st, p)).collect()))
}

/// Get a participant by KPJ number.
#[utoipa::path(get, path = "/api/v1/participants/by-kpj/{kpj}", params(("kpj" = String, Path)),
    responses((status = 200, body = ParticipantBody), (status = 404, body = ErrorBody)))]
pub async fn by_kpj(
    State(st): State<AppState>,
    caller: Caller,
    Path(kpj): Path<String>,
) -> Result<Json<ParticipantBody>, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "no participant has KPJ {}",
            kpj.chars().take(20).collect::<String>()
        ))
    };
    let p = st
        .store
        .participant_by_kpj(&kpj)
        .await?
        .ok_or_else(not_found)?;
    caller
        .allow_personal(&st, Action::ReadPersonal, &p, not_found())
        .await?;
    caller
        .audit(
            &st,
            "participant.read",
            format!("participant:{}", p.id),
            "service",
        )
        .await?;
    Ok(Json(view(&st, &p)))
}

/// Get a participant by id.
#[utoipa::path(get, path = "/api/v1/participants/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = ParticipantBody), (status = 404, body = ErrorBody), (status = 400, body = ErrorBody)))]
pub async fn by_id(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ParticipantBody>, ApiError> {
    let id: i64 = id.parse().map_err(|_| {
        ApiError::Invalid(FieldError::new("id", "id.integer", "id must be a whole number").into())
    })?;
    let not_found = || ApiError::NotFound(format!("no participant has id {id}"));
    let p = st.store.participant(id).await?.ok_or_else(not_found)?;
    caller
        .allow_personal(&st, Action::ReadPersonal, &p, not_found())
        .await?;
    caller
        .audit(
            &st,
            "participant.read",
            format!("participant:{id}"),
            "service",
        )
        .await?;
    Ok(Json(view(&st, &p)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionBody {
    pub code: String,
    pub name: String,
    /// province, regency, district or village.
    pub level: String,
    /// kabupaten/kota for regencies; desa/kelurahan/desa_adat for villages.
    pub kind: String,
    /// From the province down to this region.
    pub path: Vec<RegionRef>,
    pub children: Vec<RegionRef>,
}

/// A region with its path and children.
#[utoipa::path(get, path = "/api/v1/regions/{code}", params(("code" = String, Path, example = "32.73.01.1001")),
    responses((status = 200, body = RegionBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn region(
    State(st): State<AppState>,
    Path(code): Path<String>,
) -> Result<Json<RegionBody>, ApiError> {
    let c = RegionCode::parse(&code).map_err(|e| {
        ApiError::Invalid(FieldError::new("code", "region_code.format", format!("code {e}")).into())
    })?;
    let r = st
        .regions
        .get(c)
        .ok_or_else(|| ApiError::NotFound(format!("region {c} is not in the Kemendagri list")))?;
    let path = st.regions.path(c).unwrap_or_default();
    Ok(Json(RegionBody {
        code: c.to_string(),
        name: r.name.clone(),
        level: c.level().as_str().into(),
        kind: r.kind.clone(),
        path: path
            .iter()
            .map(|x| RegionRef {
                code: x.code.to_string(),
                name: x.name.clone(),
            })
            .collect(),
        children: st
            .regions
            .children(c)
            .iter()
            .map(|x| RegionRef {
                code: x.code.to_string(),
                name: x.name.clone(),
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct QuoteParams {
    segment: Option<String>,
    income_base: Option<String>,
    programs: Option<String>,
    month: Option<String>,
    occupation: Option<String>,
    risk_class: Option<String>,
    budget_funded: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteLineBody {
    pub programme: String,
    pub payer: String,
    pub basis: i64,
    pub rate_ppm: Option<i64>,
    pub nominal: i64,
    pub discount: i64,
    pub deferred: i64,
    pub due: i64,
    pub sources: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteBody {
    pub segment: String,
    pub month: String,
    pub income_base: i64,
    pub programs: String,
    pub sector: String,
    pub lines: Vec<QuoteLineBody>,
    pub total_due: i64,
    pub employer_due: i64,
    pub worker_due: i64,
    pub notes: Vec<String>,
}

/// The monthly contribution due for a participant profile and month, from the rules in force.
#[utoipa::path(get, path = "/api/v1/quote",
    params(("segment" = String, Query), ("income_base" = i64, Query), ("programs" = String, Query, example = "JKK+JKM"),
           ("month" = String, Query, example = "2026-05"), ("occupation" = String, Query, example = "84"),
           ("risk_class" = Option<u8>, Query), ("budget_funded" = Option<bool>, Query)),
    responses((status = 200, body = QuoteBody), (status = 422, body = ErrorBody)))]
pub async fn quote_handler(
    State(st): State<AppState>,
    Query(q): Query<QuoteParams>,
) -> Result<Json<QuoteBody>, ApiError> {
    let mut errors = FieldErrors::default();
    let need = |v: &Option<String>, f: &str, errors: &mut FieldErrors| -> Option<String> {
        match v.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Some(s.to_string()),
            _ => {
                errors.push(FieldError::new(f, "required", format!("{f} is required")));
                None
            }
        }
    };
    let segment = need(&q.segment, "segment", &mut errors).and_then(|s| {
        Segment::parse(&s).or_else(|| {
            errors.push(FieldError::new(
                "segment",
                "segment.value",
                format!("segment must be one of {}", Segment::expected()),
            ));
            None
        })
    });
    let base = need(&q.income_base, "income_base", &mut errors).and_then(|s| {
        Rupiah::parse(&s).or_else(|| {
            errors.push(FieldError::new(
                "income_base",
                "income_base.integer",
                "income_base must be a whole number of rupiah",
            ));
            None
        })
    });
    let programmes = need(&q.programs, "programs", &mut errors).and_then(|s| {
        ProgrammeSet::parse(&s)
            .map_err(|m| errors.push(FieldError::new("programs", "programs.format", m)))
            .ok()
    });
    let month = need(&q.month, "month", &mut errors).and_then(|s| {
        Month::parse(&s)
            .map_err(|e| {
                errors.push(FieldError::new(
                    "month",
                    "month.format",
                    format!("month {e}"),
                ))
            })
            .ok()
    });
    let occupation = need(&q.occupation, "occupation", &mut errors).and_then(|s| {
        st.rules.occupation(&s).or_else(|| {
            errors.push(FieldError::new(
                "occupation",
                "occupation_code.unknown",
                format!("occupation '{s}' is not in the occupation list"),
            ));
            None
        })
    });
    let risk_class = match q
        .risk_class
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => match s.parse::<u8>() {
            Ok(c) => Some(c),
            Err(_) => {
                errors.push(FieldError::new(
                    "risk_class",
                    "risk_class.range",
                    "risk_class must be 1 to 5",
                ));
                None
            }
        },
    };
    let budget_funded = matches!(q.budget_funded.as_deref(), Some("true" | "1" | "yes"));
    let (Some(segment), Some(base), Some(programmes), Some(month), Some(occupation)) =
        (segment, base, programmes, month, occupation)
    else {
        return Err(ApiError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let req = QuoteRequest {
        segment,
        income_base: base,
        programmes,
        month,
        sector: occupation.sector,
        budget_funded,
        risk_class,
    };
    let qt = quote(&st.rules, &req)?;
    Ok(Json(QuoteBody {
        segment: segment.to_string(),
        month: month.to_string(),
        income_base: base.0,
        programs: programmes.to_string(),
        sector: occupation.sector.as_str().into(),
        lines: qt
            .lines
            .iter()
            .map(|l| QuoteLineBody {
                programme: l.programme.to_string(),
                payer: l.payer.to_string(),
                basis: l.basis.0,
                rate_ppm: l.rate_ppm,
                nominal: l.nominal.0,
                discount: l.discount.0,
                deferred: l.deferred.0,
                due: l.due.0,
                sources: l.sources.clone(),
            })
            .collect(),
        total_due: qt.total_due.0,
        employer_due: qt.employer_due.0,
        worker_due: qt.worker_due.0,
        notes: qt.notes,
    }))
}

/// A posting to the ledger. `kind` decides which other fields apply.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingBody {
    /// contribution, reversal or termination.
    pub kind: String,
    /// Unique per posting: posting it again with the same content is a safe retry.
    pub reference: String,
    pub nik: Option<String>,
    pub segment: Option<String>,
    /// contribution: YYYY-MM, the first month covered.
    pub first_month: Option<String>,
    /// contribution: months covered (BPU: 1, 3, 6 or 12).
    pub months: Option<i64>,
    /// contribution: must equal the dues of the months covered.
    pub amount: Option<i64>,
    /// contribution: bank, aggregator, autodebit, perisai, employer or branch.
    pub channel: Option<String>,
    /// contribution: YYYY-MM-DD.
    pub paid_on: Option<String>,
    /// contribution: the Perisai agent who took it in cash (channel perisai). An agent's own
    /// postings are always theirs; others may record one for an agent.
    pub collected_by: Option<String>,
    /// reversal: the reference of the contribution that bounced.
    pub reverses: Option<String>,
    /// termination: YYYY-MM.
    pub month: Option<String>,
    /// termination: death, withdrawal or moved_abroad.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostingResponse {
    /// `posted`, or `existing` for a retry of a posting already in the ledger.
    pub outcome: String,
    pub id: i64,
    pub participant_id: i64,
    /// For a collection by an agent: the receipt number the participant can check.
    pub receipt: Option<String>,
}

fn opt_text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// Post a contribution, a reversal or a termination. Counters are updated in the same
/// transaction; a wrong amount is refused with the expected amount.
#[utoipa::path(post, path = "/api/v1/postings", request_body = PostingBody,
    responses((status = 201, body = PostingResponse), (status = 200, body = PostingResponse, description = "already posted (retry)"),
              (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn post_handler(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    use cakupan_store::ledger::{NewPosting, PostingOutcome, TerminationReason};
    let b: PostingBody = crate::error::json_body(&body, "a posting object")?;
    let posting = match b.kind.as_str() {
        "contribution" => {
            let input = cakupan_domain::contribution::ContributionInput {
                reference: b.reference.clone(),
                nik: opt_text(&b.nik),
                segment: opt_text(&b.segment),
                first_month: opt_text(&b.first_month),
                months: b.months.map(|m| m.to_string()).unwrap_or_default(),
                amount: b.amount.map(|m| m.to_string()).unwrap_or_default(),
                channel: opt_text(&b.channel),
                paid_on: opt_text(&b.paid_on),
            };
            NewPosting::Contribution(cakupan_domain::contribution::parse_payment(
                &st.rules,
                &input,
                (st.today)(),
            )?)
        }
        "reversal" => NewPosting::Reversal {
            reference: b.reference.trim().to_string(),
            target: opt_text(&b.reverses).trim().to_string(),
            on: (st.today)(),
        },
        "termination" => {
            let mut errors = FieldErrors::default();
            let nik = Nik::parse(&opt_text(&b.nik))
                .map_err(|e| errors.push(FieldError::new("nik", e.rule(), e.to_string())))
                .ok();
            let segment = Segment::parse(&opt_text(&b.segment)).or_else(|| {
                errors.push(FieldError::new(
                    "segment",
                    "segment.value",
                    format!("segment must be one of {}", Segment::expected()),
                ));
                None
            });
            let month = Month::parse(opt_text(&b.month).trim())
                .map_err(|e| {
                    errors.push(FieldError::new(
                        "month",
                        "month.format",
                        format!("month {e}"),
                    ))
                })
                .ok();
            let reason = TerminationReason::parse(&opt_text(&b.reason)).or_else(|| {
                errors.push(FieldError::new(
                    "reason",
                    "reason.value",
                    "reason must be death, withdrawal or moved_abroad",
                ));
                None
            });
            match (nik, segment, month, reason) {
                (Some(nik), Some(segment), Some(month), Some(reason)) => NewPosting::Termination {
                    reference: b.reference.trim().to_string(),
                    nik,
                    segment,
                    month,
                    reason,
                },
                _ => return Err(ApiError::Invalid(errors)),
            }
        }
        other => {
            return Err(ApiError::Invalid(
                FieldError::new(
                    "kind",
                    "kind.value",
                    format!("kind must be contribution, reversal or termination, not '{other}'"),
                )
                .into(),
            ));
        }
    };
    // The participation the posting concerns, to authorise it. One the caller may not touch
    // reads exactly like one that is not registered; an unknown one is left to the ledger's
    // own checks, which name the field.
    let concerned = match &posting {
        NewPosting::Contribution(pay) => st
            .store
            .participants_by_nik(pay.nik)
            .await?
            .into_iter()
            .find(|p| p.registration.segment == pay.segment),
        NewPosting::Termination { nik, segment, .. } => st
            .store
            .participants_by_nik(*nik)
            .await?
            .into_iter()
            .find(|p| p.registration.segment == *segment),
        NewPosting::Stop { nik, .. } => st
            .store
            .participants_by_nik(*nik)
            .await?
            .into_iter()
            .find(|p| p.registration.segment == Segment::Pu),
        NewPosting::Reversal { target, .. } => match st.store.participant_of_posting(target).await?
        {
            Some(id) => st.store.participant(id).await?,
            None => None,
        },
    };
    let hidden = || {
        let (field, rule, message) = match &posting {
            NewPosting::Reversal { target, .. } => (
                "reverses",
                "reverses.unknown",
                format!("no posting has reference {target}"),
            ),
            _ => (
                "nik",
                "nik.not_registered",
                "no participation is registered for this NIK in this segment".to_string(),
            ),
        };
        ApiError::Invalid(FieldError::new(field, rule, message).into())
    };
    match &concerned {
        Some(p) => {
            caller
                .allow_personal(&st, Action::Post, p, hidden())
                .await?
        }
        // Nothing to touch: only roles that may post at all get the ledger's own answer.
        None => caller.allow(
            Action::Post,
            &Resource::Participant {
                village: caller.who.region,
                agent_code: caller.who.agent_code.clone(),
                nik: caller.who.nik.clone().unwrap_or_default(),
            },
        )?,
    }
    let kind = posting.kind();
    let (posted, receipt) = match posting {
        // Contributions take the one path the pages take too (collections, receipts).
        NewPosting::Contribution(pay) => {
            crate::agents::post_contribution(
                &st,
                &caller.who,
                concerned.as_ref(),
                pay,
                b.collected_by,
            )
            .await?
        }
        other => (st.store.post(&st.rules, &other).await?, None),
    };
    let (status, outcome, id, participant_id) = match posted {
        PostingOutcome::Posted { id, participant_id } => {
            (StatusCode::CREATED, "posted", id, participant_id)
        }
        PostingOutcome::Existing { id, participant_id } => {
            (StatusCode::OK, "existing", id, participant_id)
        }
    };
    caller
        .audit(
            &st,
            &format!("posting.{kind}"),
            format!("participant:{participant_id}"),
            "contribution",
        )
        .await?;
    Ok((
        status,
        Json(PostingResponse {
            outcome: outcome.into(),
            id,
            participant_id,
            receipt,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageMonth {
    /// YYYY-MM.
    pub month: String,
    /// PENDING, ACTIVE, IN_ARREARS, NONACTIVE or TERMINATED.
    pub status: String,
    /// Why: the covering posting, the months unpaid (and how many of them overdue), or the
    /// termination.
    pub reason: String,
    /// Set when the month is unpaid and its own due date has not passed today, with nothing
    /// yet overdue enough to make it a lapse: the due date (YYYY-MM-DD). Such a month is shown
    /// as not yet due, not as arrears.
    pub not_yet_due: Option<String>,
    pub new: bool,
    pub lapsed: bool,
    pub reactivated: bool,
}

#[derive(Debug, Deserialize)]
pub struct RangeParams {
    from: Option<String>,
    to: Option<String>,
}

/// Coverage status per month (DOMAIN.md §4.1) with its reason.
#[utoipa::path(get, path = "/api/v1/participants/{id}/coverage", params(("id" = i64, Path), ("from" = Option<String>, Query), ("to" = Option<String>, Query)),
    responses((status = 200, body = [CoverageMonth]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn coverage(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<RangeParams>,
) -> Result<Json<Vec<CoverageMonth>>, ApiError> {
    use cakupan_domain::coverage::{Reason, series};
    let id: i64 = id.parse().map_err(|_| {
        ApiError::Invalid(FieldError::new("id", "id.integer", "id must be a whole number").into())
    })?;
    let not_found = || ApiError::NotFound(format!("no participant has id {id}"));
    let p = st.store.participant(id).await?.ok_or_else(not_found)?;
    caller
        .allow_personal(&st, Action::ReadPersonal, &p, not_found())
        .await?;
    let reg = &p.registration;
    let month_of = |v: &Option<String>, field: &str, default: Month| -> Result<Month, ApiError> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => Month::parse(s).map_err(|e| {
                ApiError::Invalid(
                    FieldError::new(field, "month.format", format!("{field} {e}")).into(),
                )
            }),
        }
    };
    let from = month_of(&q.from, "from", Month::of(reg.registered_on))?;
    let to = month_of(&q.to, "to", Month::of((st.today)()))?;
    if to < from || to.since(from) > 240 {
        return Err(ApiError::Invalid(
            FieldError::new(
                "to",
                "range.months",
                "to must be after from, at most 240 months later",
            )
            .into(),
        ));
    }
    caller
        .audit(
            &st,
            "participant.coverage",
            format!("participant:{id}"),
            "service",
        )
        .await?;
    let ledger = st.store.ledger(p.id).await?;
    let facts = cakupan_store::ledger::facts(reg.segment, Month::of(reg.registered_on), &ledger);
    let months = series(&st.rules, &facts, from, to).map_err(|e| ApiError::Invalid(e.into()))?;
    let today = (st.today)();
    Ok(Json(
        months
            .into_iter()
            .map(|m| CoverageMonth {
                month: m.month.to_string(),
                status: m.status.as_str().into(),
                not_yet_due: cakupan_domain::coverage::not_yet_due(
                    &st.rules,
                    reg.segment,
                    &m,
                    today,
                )
                .map(|o| cakupan_domain::month::format_date(o.due)),
                reason: match m.reason {
                    Reason::PaidBy { reference } => format!("paid by {reference}"),
                    Reason::Unpaid { months, overdue } => {
                        format!("{months} month(s) unpaid, {overdue} overdue")
                    }
                    Reason::NothingPaidYet => "nothing paid yet".into(),
                    Reason::TerminatedIn { month } => format!("terminated in {month}"),
                    Reason::EmploymentEnded { month } => {
                        format!("employment ended in {month}, nothing paid since")
                    }
                },
                new: m.new,
                lapsed: m.lapsed,
                reactivated: m.reactivated,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ReportParams {
    month: Option<String>,
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    region: Option<String>,
    segment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveReportRow {
    /// YYYY-MM.
    pub month: String,
    pub code: String,
    pub name: String,
    /// Counts of 1–4 are null for analysts and village officials (small-cell suppression,
    /// `aggregate_min_cell` in rules/security.toml).
    pub registered: Option<i64>,
    pub paid_active: Option<i64>,
    /// The headline peserta aktif: ACTIVE or IN_ARREARS.
    pub status_active: Option<i64>,
    pub nonactive: Option<i64>,
}

/// Active participants per region for a month, or a series of months (`from` and `to`), from
/// the counters (DESIGN.md §5).
#[utoipa::path(get, path = "/api/v1/reports/active",
    params(("month" = Option<String>, Query, example = "2026-05"), ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("by" = Option<String>, Query, description = "nation, province (default), regency, district or village"),
           ("region" = Option<String>, Query), ("segment" = Option<String>, Query)),
    responses((status = 200, body = [ActiveReportRow]), (status = 422, body = ErrorBody)))]
pub async fn report_active(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ReportParams>,
) -> Result<Json<Vec<ActiveReportRow>>, ApiError> {
    let invalid = |f: &str, rule: &'static str, m: String| {
        ApiError::Invalid(FieldError::new(f, rule, m).into())
    };
    let parse = |field: &str, v: &Option<String>| {
        Month::parse(v.as_deref().unwrap_or("").trim())
            .map_err(|e| invalid(field, "month.format", format!("{field} {e}")))
    };
    let months: Vec<Month> = if q.from.is_some() || q.to.is_some() {
        let (from, to) = (parse("from", &q.from)?, parse("to", &q.to)?);
        if to < from || to.since(from) > 120 {
            return Err(invalid(
                "to",
                "range.months",
                "to must be after from, at most 120 months later".into(),
            ));
        }
        from.through(to).collect()
    } else {
        vec![parse("month", &q.month)?]
    };
    let level =
        cakupan_domain::Level::parse(q.by.as_deref().unwrap_or("province")).ok_or_else(|| {
            invalid(
                "by",
                "by.value",
                "by must be nation, province, regency, district or village".into(),
            )
        })?;
    let within = match q.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        // Without a region: the caller's whole area.
        None => caller.who.region,
        Some(r) => RegionCode::parse(r)
            .map_err(|e| invalid("region", "region_code.format", format!("region {e}")))?,
    };
    caller.allow(Action::ReadAggregates, &Resource::Region(within))?;
    if within != RegionCode::NATION && within.level() >= level {
        return Err(invalid(
            "by",
            "by.below_region",
            format!("by must be a level below the region {within}"),
        ));
    }
    let segment = match q
        .segment
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => Some(Segment::parse(s).ok_or_else(|| {
            invalid(
                "segment",
                "segment.value",
                format!("segment must be one of {}", Segment::expected()),
            )
        })?),
    };
    let min_cell = min_cell(&st);
    let role = caller.who.role;
    let shown = |v: i64| cakupan_domain::access::shown(role, v, min_cell);
    let mut out = Vec::new();
    for month in months {
        for r in st
            .store
            .active_report(level, within, segment, month)
            .await?
        {
            let name = if r.code.is_empty() {
                "Indonesia".to_string()
            } else {
                RegionCode::parse(&r.code)
                    .ok()
                    .and_then(|c| st.regions.get(c))
                    .map(|x| x.name.clone())
                    .unwrap_or_default()
            };
            out.push(ActiveReportRow {
                month: month.to_string(),
                name,
                code: r.code,
                registered: shown(r.registered),
                paid_active: shown(r.paid_active),
                status_active: shown(r.status_active),
                nonactive: shown(r.nonactive),
            });
        }
    }
    Ok(Json(out))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetBody {
    /// registered, paid_active, status_active or nonactive.
    pub metric: String,
    /// PU or BPU; absent for all segments (each NIK once).
    pub segment: Option<String>,
    /// Region code; empty for the nation.
    pub region: String,
    pub name: String,
    /// YYYY-MM: the month the value is to be reached.
    pub month: String,
    pub value: i64,
    pub baseline_month: Option<String>,
    pub baseline_value: Option<i64>,
    /// How the value was set: `stated`, or allocated from the region above by `employed`
    /// persons, `population`, number of `villages`, or raised to the region's `actual` peserta
    /// aktif at allocation.
    pub basis: String,
    /// The basis in words.
    pub basis_text: String,
    pub source: String,
}

fn target_body(
    regions: &cakupan_domain::RegionTree,
    t: &cakupan_store::TargetRecord,
) -> TargetBody {
    TargetBody {
        metric: t.metric.as_str().into(),
        segment: t.segment.map(|s| s.as_str().to_string()),
        region: t.region.to_string(),
        name: cakupan_store::targets::name_of(regions, t.region),
        month: t.month.to_string(),
        value: t.value,
        baseline_month: t.baseline.map(|b| b.0.to_string()),
        baseline_value: t.baseline.map(|b| b.1),
        basis: cakupan_store::targets::Basis::of(&t.basis).as_str().into(),
        basis_text: cakupan_store::targets::Basis::of(&t.basis)
            .describe()
            .into(),
        source: t.source.clone(),
    }
}

#[derive(Debug, Deserialize)]
pub struct TargetParams {
    region: Option<String>,
    month: Option<String>,
}

fn region_param(
    regions: &cakupan_domain::RegionTree,
    r: Option<&str>,
) -> Result<Option<RegionCode>, ApiError> {
    let invalid = |rule: &'static str, m: String| {
        ApiError::Invalid(FieldError::new("region", rule, m).into())
    };
    match r.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(r) => {
            let c = RegionCode::parse(r)
                .map_err(|e| invalid("region_code.format", format!("region {e}")))?;
            if !regions.contains_code(c) {
                return Err(invalid(
                    "region.unknown",
                    format!("{c} is not in the Kemendagri region list"),
                ));
            }
            Ok(Some(c))
        }
    }
}

/// The stored coverage targets of a region (default: the caller's area) and of the regions one
/// level below it.
#[utoipa::path(get, path = "/api/v1/targets", params(("region" = Option<String>, Query, example = "32")),
    responses((status = 200, body = [TargetBody]), (status = 422, body = ErrorBody)))]
pub async fn list_targets(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<TargetParams>,
) -> Result<Json<Vec<TargetBody>>, ApiError> {
    let only = region_param(&st.regions, q.region.as_deref())?;
    // Without a region: the targets inside the caller's area.
    let area = only.unwrap_or(caller.who.region);
    caller.allow(Action::ReadAggregates, &Resource::Region(area))?;
    let mut targets = st.store.targets_within(area, area.level()).await?;
    if let Some(below) = cakupan_domain::Level::from_depth(area.level().depth() + 1) {
        targets.extend(st.store.targets_within(area, below).await?);
    }
    Ok(Json(
        targets
            .iter()
            .map(|t| target_body(&st.regions, t))
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthValue {
    pub month: String,
    pub value: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetReportBody {
    pub region: String,
    pub name: String,
    /// YYYY-MM: the month the actual value is for.
    pub month: String,
    /// Peserta aktif (status_active, all segments, each NIK once) in `month`; null when
    /// withheld as a small cell (then the figures derived from it are null too).
    pub actual: Option<i64>,
    pub target: TargetBody,
    pub months_left: i32,
    /// Net growth per month needed from now on to reach the target in time.
    pub required_per_month: Option<f64>,
    /// Net growth per month over the last three months.
    pub run_rate_per_month: Option<f64>,
    /// The value in the target month at the run-rate.
    pub projected: Option<f64>,
    /// The month the target is met at the run-rate; absent if never.
    pub met_in: Option<String>,
    pub history: Vec<MonthValue>,
}

/// A region's peserta aktif against its target: the growth still required, the run-rate and
/// the projection (issue #3).
#[utoipa::path(get, path = "/api/v1/reports/target",
    params(("region" = Option<String>, Query, example = "32"), ("month" = Option<String>, Query, example = "2026-11")),
    responses((status = 200, body = TargetReportBody), (status = 422, body = ErrorBody)))]
pub async fn report_target(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<TargetParams>,
) -> Result<Json<TargetReportBody>, ApiError> {
    let region = region_param(&st.regions, q.region.as_deref())?.unwrap_or(caller.who.region);
    caller.allow(Action::ReadAggregates, &Resource::Region(region))?;
    let now = match q.month.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Month::of((st.today)()),
        Some(m) => Month::parse(m).map_err(|e| {
            ApiError::Invalid(FieldError::new("month", "month.format", format!("month {e}")).into())
        })?,
    };
    let r = cakupan_store::targets::report(
        st.store.as_ref(),
        &st.regions,
        region,
        now,
        st.rules.run_rate_months(now),
    )
    .await?;
    let p = &r.progress;
    let min_cell = min_cell(&st);
    let role = caller.who.role;
    let shown = |v: i64| cakupan_domain::access::shown(role, v, min_cell);
    // Any small value in the history would reveal the others through the run-rate.
    let withheld = shown(p.actual).is_none() || r.history.iter().any(|(_, v)| shown(*v).is_none());
    let derived = |x: f64| (!withheld).then_some(x);
    Ok(Json(TargetReportBody {
        region: r.region.clone(),
        name: r.name.clone(),
        month: p.now.to_string(),
        actual: if withheld { None } else { Some(p.actual) },
        target: target_body(&st.regions, &r.target),
        months_left: p.months_left,
        required_per_month: derived(p.required_per_month),
        run_rate_per_month: derived(p.run_rate_per_month),
        projected: derived(p.projected),
        met_in: if withheld {
            None
        } else {
            p.met_in.map(|m| m.to_string())
        },
        history: r
            .history
            .iter()
            .map(|(m, v)| MonthValue {
                month: m.to_string(),
                value: if withheld { None } else { Some(*v) },
            })
            .collect(),
    }))
}

/// The smallest aggregate cell shown to roles under suppression (rules/security.toml).
fn min_cell(st: &AppState) -> u32 {
    st.auth.policy.aggregate_min_cell
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_phone() {
        assert_eq!(mask_phone("+6281234567890"), "+62812****7890");
    }
}
