//! `/api/v1` of reminders (issue #21): the gateway's MO path (replies, STOP), a dry run of a
//! day's plan, the experiments, retention, the agents' tasks and the branch's replies queue.
//! The operations are `cakupan_app::reminders`'.

use crate::AppState;
use crate::auth::Caller;
use crate::enrolment::{AreaParams, area};
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cakupan_app::reminders as svc;
use cakupan_domain::FieldError;
use cakupan_domain::access::Capability;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct InboundParams {
    from: Option<String>,
    text: Option<String>,
    tag: Option<String>,
}

/// A reply from a phone, forwarded by Kannel's MO service (`sms-service` `get-url`). A wrong
/// tag is 404; a malformed reply is logged and answered 200 with nothing to send back. The
/// body, when any, is the SMS Kannel sends back.
#[utoipa::path(get, path = "/api/v1/sms/inbound", params(("from" = Option<String>, Query), ("text" = Option<String>, Query), ("tag" = Option<String>, Query)),
    responses((status = 200, body = String, content_type = "text/plain"), (status = 404, body = ErrorBody)))]
pub async fn inbound(
    State(st): State<AppState>,
    Query(q): Query<InboundParams>,
) -> Result<Response, ApiError> {
    let (_, reply) = svc::inbound(
        &st,
        q.from.as_deref().unwrap_or(""),
        q.text.as_deref().unwrap_or(""),
        q.tag.as_deref().unwrap_or(""),
    )
    .await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        reply.unwrap_or_default(),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct PlanParams {
    date: Option<String>,
}

/// What planning a day's reminders would do, without storing anything: counts by rule,
/// province and arm, and those left out (opted out, at the month's cap). Head office and
/// branches; a branch sees its provinces.
#[utoipa::path(get, path = "/api/v1/reminders/plan", params(("date" = Option<String>, Query, description = "YYYY-MM-DD, default today")),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn dry_run(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<PlanParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !caller.who.role.can(Capability::ManagesRegion) {
        return Err(cakupan_app::AppError::Forbidden(
            "planning reminders is head office's and the branches'".into(),
        ));
    }
    let day = match q.date.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => (st.today)(),
        Some(d) => cakupan_domain::month::parse_date(d).ok_or_else(|| {
            ApiError::Invalid(
                FieldError::new("date", "date.format", "date must be YYYY-MM-DD").into(),
            )
        })?,
    };
    let mut plan = svc::plan(&st, day, true).await?;
    let region = caller.who.region;
    plan.lines.retain(|l| {
        cakupan_domain::RegionCode::parse(&l.province)
            .is_ok_and(|p| region.contains(p) || p.contains(region))
    });
    Ok(Json(serde_json::to_value(plan).unwrap_or_default()))
}

/// The experiments: the effect of an SMS and of an agent's call or visit on paying within the
/// window, against the holdout (and agent against SMS), with 95% intervals, overall and by
/// rule, segment and province, as counted by the last day's planning (`counted_at`).
#[utoipa::path(get, path = "/api/v1/reminders/experiment",
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub async fn experiment(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = svc::experiment(&st, &caller.who).await?;
    Ok(Json(serde_json::json!({ "comparisons": c })))
}

/// Lapse and reactivation rates by month and the share of lapses preceded by a reminder.
#[utoipa::path(get, path = "/api/v1/reminders/retention", params(("region" = Option<String>, Query)),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn retention(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AreaParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let region = area(&caller, q.region.as_deref())?;
    let months = svc::retention(&st, &caller.who, region, None, 12).await?;
    Ok(Json(serde_json::json!({ "months": months })))
}

/// The signed-in agent's reminder tasks (calls and visits), newest first, with the name,
/// village and phone of each person (the reads are audited).
#[utoipa::path(get, path = "/api/v1/reminders/tasks",
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub async fn tasks(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let t = svc::tasks(&st, &caller.who, &caller.request_id).await?;
    Ok(Json(serde_json::json!({ "tasks": t })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    /// will_pay, paid, declined or not_reached.
    pub outcome: String,
}

/// Records the outcome of one of the agent's tasks; the same outcome again changes nothing.
#[utoipa::path(post, path = "/api/v1/reminders/tasks/{id}", params(("id" = i64, Path)), request_body = TaskBody,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_task(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let b: TaskBody = crate::error::json_body(&body, "{\"outcome\": \"will_pay\"}")?;
    svc::record_task(&st, &caller.who, id, &b.outcome, &caller.request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The branch's queue: replies by SMS from its region (questions and opt-outs).
#[utoipa::path(get, path = "/api/v1/reminders/replies",
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
pub async fn replies(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let r = svc::replies(&st, &caller.who, false).await?;
    Ok(Json(serde_json::json!({ "replies": r })))
}

/// Marks a reply answered.
#[utoipa::path(post, path = "/api/v1/reminders/replies/{id}/answered", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn answer_reply(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    svc::answer_reply(&st, &caller.who, id, &caller.request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
