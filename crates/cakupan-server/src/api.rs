//! `/api/v1`: the participant registry, regions and contribution quotes.

use crate::AppState;
use crate::error::{ErrorBody, FieldErrorBody};
use crate::ledger::*;
use crate::participants::*;
use crate::targets::*;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/sessions",
            post(crate::sessions::login).delete(crate::sessions::logout),
        )
        .route("/sessions/code", post(crate::enrolment::ask_sign_in_code))
        .route(
            "/sessions/code/verify",
            post(crate::enrolment::sign_in_with_code),
        )
        .route("/enrolment/code", post(crate::enrolment::ask_code))
        .route("/enrolment", post(crate::enrolment::enrol))
        .route("/enrolment/funnel", get(crate::enrolment::funnel))
        .route("/villages", get(crate::enrolment::villages))
        .route("/me/card", get(crate::enrolment::own_card))
        .route("/me/phone/code", post(crate::enrolment::ask_phone_codes))
        .route("/me/phone", post(crate::enrolment::change_phone))
        .route("/cards/{token}", get(crate::enrolment::public_card))
        .route("/reviews", get(crate::enrolment::reviews))
        .route("/reviews/{id}", post(crate::enrolment::review))
        .route("/sms/{id}/report", get(crate::enrolment::sms_report))
        .route("/sms/inbound", get(crate::reminders::inbound))
        .route("/reminders/plan", get(crate::reminders::dry_run))
        .route("/reminders/experiment", get(crate::reminders::experiment))
        .route("/reminders/retention", get(crate::reminders::retention))
        .route("/reminders/tasks", get(crate::reminders::tasks))
        .route("/reminders/tasks/{id}", post(crate::reminders::record_task))
        .route("/reminders/replies", get(crate::reminders::replies))
        .route(
            "/reminders/replies/{id}/answered",
            post(crate::reminders::answer_reply),
        )
        .route("/me", get(crate::sessions::me))
        .route("/me/password", post(crate::accounts::change_password))
        .route("/me/totp", post(crate::accounts::own_totp))
        .route("/users", post(crate::accounts::add))
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
        .route(
            "/payment-partners",
            get(crate::payments::list_partners).post(crate::payments::add_partner),
        )
        .route("/payment-exceptions", get(crate::payments::list_exceptions))
        .route(
            "/payment-exceptions/{id}",
            post(crate::payments::act_on_exception),
        )
        .route("/payment-totals", get(crate::payments::daily_totals))
        .route(
            "/payment-partners/{code}/{change}",
            post(crate::payments::change_partner),
        )
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
        crate::payments::access_token,
        crate::payments::inquiry,
        crate::payments::payment,
        crate::payments::status,
        crate::payments::add_partner,
        crate::payments::list_partners,
        crate::payments::change_partner,
        crate::payments::import_settlement,
        crate::payments::list_exceptions,
        crate::payments::act_on_exception,
        crate::payments::daily_totals,
        crate::enrolment::ask_code,
        crate::enrolment::enrol,
        crate::enrolment::ask_sign_in_code,
        crate::enrolment::sign_in_with_code,
        crate::enrolment::villages,
        crate::enrolment::own_card,
        crate::enrolment::public_card,
        crate::enrolment::ask_phone_codes,
        crate::enrolment::change_phone,
        crate::enrolment::funnel,
        crate::enrolment::reviews,
        crate::enrolment::review,
        crate::enrolment::sms_report,
        crate::reminders::inbound,
        crate::reminders::dry_run,
        crate::reminders::experiment,
        crate::reminders::retention,
        crate::reminders::tasks,
        crate::reminders::record_task,
        crate::reminders::replies,
        crate::reminders::answer_reply,
        crate::sessions::login,
        crate::sessions::logout,
        crate::sessions::me,
        crate::accounts::change_password,
        crate::accounts::own_totp,
        crate::accounts::add,
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
        crate::enrolment::EnrolmentBody,
        crate::enrolment::CodeSentBody,
        crate::enrolment::EnrolledBody,
        crate::enrolment::SignInCodeBody,
        crate::enrolment::VillageBody,
        crate::enrolment::CardBody,
        crate::enrolment::PublicCardBody,
        crate::enrolment::PhoneChangeBody,
        crate::enrolment::PhoneCodesBody,
        crate::enrolment::FunnelWeekBody,
        crate::enrolment::ReviewBody,
        crate::enrolment::ReviewInput,
        crate::accounts::PasswordChange,
        crate::accounts::TotpRequest,
        crate::accounts::TotpEnrolment,
        crate::accounts::ResetBody,
        crate::accounts::NewAccount,
        crate::accounts::CreatedAccount,
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
