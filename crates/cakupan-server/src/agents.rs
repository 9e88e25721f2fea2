//! The Perisai agent network (issue #6, DOMAIN.md §5) over HTTP: partner offices and their
//! agents, agents' standing, cash they hold and its deposits, monthly fee statements, worklists
//! and agent counts per region, and the public check of a receipt. The pages (`web::agents`)
//! use the same functions.

use crate::AppState;
use crate::auth::Caller;
use crate::error::json_body;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
pub use cakupan_app::agents::*;
use cakupan_domain::access::{Action, Resource};
use cakupan_domain::agents::statement;
use cakupan_domain::month::format_date;
use cakupan_domain::{FieldError, FieldErrors, Level, Month, Nik, RegionCode};
use cakupan_store::agents::Office;
use serde::Deserialize;

/// Register a Kantor Perisai (partner office). The same office again is a safe retry.
#[utoipa::path(post, path = "/api/v1/offices", request_body = OfficeInput,
    responses((status = 201, body = OfficeBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_office(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: OfficeInput = json_body(&body, "an office object")?;
    let mut errs = Vec::new();
    let region = region_field(&st, &mut errs, "region", &b.region);
    let from = date_field(&mut errs, "agreement_from", &b.agreement_from);
    let to = match b
        .agreement_to
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(t) => date_field(&mut errs, "agreement_to", t),
    };
    let (Some(region), Some(from)) = (region, from) else {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    };
    if !errs.is_empty() {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    }
    let o = Office {
        code: b.code.trim().to_string(),
        name: b.name.clone(),
        kind: b.kind.trim().to_string(),
        region,
        agreement_from: from,
        agreement_to: to,
    };
    let stored = cakupan_app::agents::add_office(&st, &caller.who, &caller.request_id, o).await?;
    Ok((StatusCode::CREATED, Json(office_body(&stored))))
}

fn area(caller: &Caller, region: &Option<String>) -> Result<RegionCode, ApiError> {
    match region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(caller.who.region),
        Some(r) => RegionCode::parse(r)
            .map_err(|e| invalid("region", "region_code.format", format!("region {e}"))),
    }
}

/// The offices located in an area (default: the caller's).
#[utoipa::path(get, path = "/api/v1/offices", params(("region" = Option<String>, Query)),
    responses((status = 200, body = [OfficeBody]), (status = 403, body = ErrorBody)))]
pub async fn list_offices(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AreaParams>,
) -> Result<Json<Vec<OfficeBody>>, ApiError> {
    let within = area(&caller, &q.region)?;
    caller.allow(Action::ManageNetwork, &Resource::Region(within))?;
    Ok(Json(
        st.store
            .offices(within)
            .await?
            .iter()
            .map(office_body)
            .collect(),
    ))
}

/// Appoint an agent: a registered BPU participant (by NIK), under an office, serving
/// villages. The same appointment again is a safe retry.
#[utoipa::path(post, path = "/api/v1/agents", request_body = AgentInput,
    responses((status = 201, body = AgentBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_agent(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: AgentInput = json_body(&body, "an agent object")?;
    let mut errs = Vec::new();
    let nik = Nik::parse(b.nik.trim())
        .map_err(|e| errs.push(FieldError::new("nik", e.rule(), e.to_string())))
        .ok();
    let appointed = Month::parse(b.appointed.trim())
        .map_err(|e| {
            errs.push(FieldError::new(
                "appointed",
                "month.format",
                format!("appointed {e}"),
            ))
        })
        .ok();
    let villages: Vec<RegionCode> = b
        .villages
        .iter()
        .enumerate()
        .filter_map(|(i, v)| region_field(&st, &mut errs, &format!("villages[{i}]"), v))
        .collect();
    let (Some(nik), Some(appointed)) = (nik, appointed) else {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    };
    if !errs.is_empty() {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    }
    let appointment = cakupan_app::agents::Appointment {
        code: b.code.trim().to_string(),
        office_code: b.office_code.trim().to_string(),
        nik,
        appointed,
        villages,
    };
    let (r, _) =
        cakupan_app::agents::add_agent(&st, &caller.who, &caller.request_id, appointment).await?;
    Ok((StatusCode::CREATED, Json(agent_body(&st, &r).await?)))
}

/// An agent's record: standing, villages, cash held with its alerts.
#[utoipa::path(get, path = "/api/v1/agents/{code}", params(("code" = String, Path)),
    responses((status = 200, body = AgentBody), (status = 404, body = ErrorBody)))]
pub async fn get_agent(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<AgentBody>, ApiError> {
    let r = readable_agent(&st, &caller.who, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent {code}")))?;
    Ok(Json(agent_body(&st, &r).await?))
}

/// Record an agent's reactivation or termination. A reactivation before the cooling period
/// ends is refused with the first month it is possible.
#[utoipa::path(post, path = "/api/v1/agents/{code}/events", params(("code" = String, Path)), request_body = EventInput,
    responses((status = 201, body = AgentBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_event(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: EventInput = json_body(&body, "an event object")?;
    let r = cakupan_app::agents::record_event(
        &st,
        &caller.who,
        &caller.request_id,
        &code,
        &b.kind,
        &b.month,
        &b.reason,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(agent_body(&st, &r).await?)))
}

/// Record cash an agent deposited: it settles their collections, oldest first. A deposit
/// above what the agent holds is refused.
#[utoipa::path(post, path = "/api/v1/deposits", request_body = DepositInput,
    responses((status = 201, body = DepositBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_deposit(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: DepositInput = json_body(&body, "a deposit object")?;
    let (d, r) =
        cakupan_app::agents::record_deposit(&st, &caller.who, &caller.request_id, &b).await?;
    Ok((
        StatusCode::CREATED,
        Json(DepositBody {
            reference: d.reference,
            agent_code: d.agent_code,
            amount: d.amount,
            deposited_on: format_date(d.deposited_on),
            recorded_by: d.recorded_by,
            custody: custody(&st, &r).await?,
        }),
    ))
}

/// One agent's fee statement for a month (default: this month).
#[utoipa::path(get, path = "/api/v1/agents/{code}/statement", params(("code" = String, Path), ("month" = Option<String>, Query)),
    responses((status = 200, body = StatementBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn agent_statement(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<MonthParams>,
) -> Result<Json<StatementBody>, ApiError> {
    let r = readable_agent(&st, &caller.who, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent {code}")))?;
    let month = month_param(&q.month, "month", Month::of((st.today)()))?;
    let s = statement(&st.rules, month, &figures(&r, month))
        .map_err(|e| ApiError::Invalid(e.into()))?;
    Ok(Json(statement_body(&code, &s)))
}

/// An office's statement for a month (default: this month).
#[utoipa::path(get, path = "/api/v1/offices/{code}/statement", params(("code" = String, Path), ("month" = Option<String>, Query)),
    responses((status = 200, body = OfficeStatementBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_office_statement(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<MonthParams>,
) -> Result<Json<OfficeStatementBody>, ApiError> {
    let office = st
        .store
        .office(&code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no office {code}")))?;
    caller.allow(Action::ManageNetwork, &Resource::Region(office.region))?;
    let month = month_param(&q.month, "month", Month::of((st.today)()))?;
    Ok(Json(office_statement(&st, &office, month).await?))
}

/// An agent's worklist (default: this month): due now, in arrears, villages to win back.
#[utoipa::path(get, path = "/api/v1/agents/{code}/worklist", params(("code" = String, Path), ("month" = Option<String>, Query)),
    responses((status = 200, body = Worklist), (status = 404, body = ErrorBody)))]
pub async fn get_worklist(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<MonthParams>,
) -> Result<Json<Worklist>, ApiError> {
    let r = readable_agent(&st, &caller.who, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent {code}")))?;
    let month = month_param(&q.month, "month", Month::of((st.today)()))?;
    let w = worklist(&st, &r, month).await?;
    let entries: Vec<_> = w
        .due_this_month
        .iter()
        .chain(&w.in_arrears)
        .map(|i| {
            crate::auth::audit_entry(
                &caller.who,
                &caller.request_id,
                "participant.worklist",
                format!("participant:{}", i.participant_id),
                "service",
            )
        })
        .collect();
    st.store.append_audit(&entries).await?;
    Ok(Json(w))
}

/// Registered and active Perisai agents per region in a month, as the agency reports them.
#[utoipa::path(get, path = "/api/v1/reports/agents", params(("month" = Option<String>, Query), ("by" = Option<String>, Query), ("region" = Option<String>, Query)),
    responses((status = 200, body = [AgentCountRow]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report_agents(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AreaParams>,
) -> Result<Json<Vec<AgentCountRow>>, ApiError> {
    let within = area(&caller, &q.region)?;
    caller.allow(Action::ReadAggregates, &Resource::Region(within))?;
    let month = month_param(&q.month, "month", Month::of((st.today)()))?;
    let level = Level::parse(q.by.as_deref().unwrap_or("province")).ok_or_else(|| {
        invalid(
            "by",
            "by.value",
            "by must be nation, province, regency, district or village",
        )
    })?;
    if within != RegionCode::NATION && within.level() > level {
        return Err(invalid(
            "by",
            "by.below_region",
            format!("by must be the level of {within} or below"),
        ));
    }
    let min_cell = st.auth.policy.aggregate_min_cell;
    let role = caller.who.role;
    let mut rows = agent_counts(&st, level, within, month).await?;
    if cakupan_domain::access::suppresses_small_cells(role) {
        for r in &mut rows {
            for v in [&mut r.registered, &mut r.active, &mut r.inactive] {
                if cakupan_domain::access::shown(role, *v, min_cell).is_none() {
                    *v = -1;
                }
            }
        }
    }
    Ok(Json(rows))
}

/// Check a receipt (public: a participant checks the receipt an agent gave them). The number
/// carries a keyed check code and the amount on the receipt must be given too, so receipts
/// cannot be guessed; each address may check `receipt_checks_per_minute` a minute (429 with
/// Retry-After beyond). The answer tells what the paper does not: whether it is still valid
/// and whether the agent has deposited it.
#[utoipa::path(get, path = "/api/v1/receipts/{number}", params(("number" = String, Path), ("amount" = String, Query)),
    responses((status = 200, body = ReceiptBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn check_receipt(
    State(st): State<AppState>,
    crate::sessions::ClientAddr(ip): crate::sessions::ClientAddr,
    Path(number): Path<String>,
    Query(q): Query<ReceiptParams>,
) -> Result<Json<ReceiptBody>, ApiError> {
    st.auth
        .receipt_check(&ip)
        .map_err(|wait| ApiError::TooManyAttempts {
            message: "too many receipt checks from this address: try again in a minute".into(),
            retry_after_secs: wait.as_secs().max(1),
        })?;
    receipt(&st, &number, q.amount.as_deref().unwrap_or(""))
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(
                "no receipt with this number and amount: check both against the paper receipt, or ask the branch".into(),
            )
        })
}

#[derive(Debug, Deserialize)]
pub struct AreaParams {
    region: Option<String>,
    month: Option<String>,
    by: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct MonthParams {
    month: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ReceiptParams {
    amount: Option<String>,
}
