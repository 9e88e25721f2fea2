//! The employer channel (issue #7, DOMAIN.md §3) over HTTP: employers, their monthly wage
//! reports (CSV or JSON; previewed with the difference from last month, then submitted),
//! invoices with payment codes, payments applied to the oldest dues first, arrears. The pages
//! (`web::employers`) use the same functions.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, FieldErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub use cakupan_app::employers::*;
use cakupan_domain::access::{Action, Resource};
use cakupan_domain::employers::{WAGE_FIELDS, WageLineInput, parse_csv};
use cakupan_domain::month::format_date;
use cakupan_domain::{FieldError, Month, RegionCode};
use cakupan_store::employers::{EmployerInput, EmployerQuery, ReportOutcome, Standing};
use serde::Deserialize;
use serde_json::Value;

/// Register an employer. The same employer again is a safe retry (200).
#[utoipa::path(post, path = "/api/v1/employers", request_body = EmployerBody,
    responses((status = 201, body = EmployerView), (status = 200, body = EmployerView),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_employer(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: EmployerBody = crate::error::json_body(&body, "an employer object")?;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let input = EmployerInput {
        code: b.code.clone(),
        name: b.name.clone(),
        size: b.size.clone(),
        risk_class: match &b.risk_class {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        },
        region: b.region.clone(),
        registered_on: text(&b.registered_on),
        contact_name: text(&b.contact_name),
        contact_phone: text(&b.contact_phone),
        contact_email: text(&b.contact_email),
    };
    let (e, created) =
        cakupan_app::employers::add_employer(&st, &caller.who, &caller.request_id, &input).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(&e, 0, None, &Standing::default(), true))).into_response())
}

/// The employers of an area (default: the caller's), by name, with their standing today;
/// `arrears=true` keeps those with dues past their due date (the branch's arrears list).
#[utoipa::path(get, path = "/api/v1/employers",
    params(("region" = Option<String>, Query), ("arrears" = Option<bool>, Query)),
    responses((status = 200, body = [EmployerView]), (status = 403, body = ErrorBody)))]
pub async fn list_employers(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListParams>,
) -> Result<Json<Vec<EmployerView>>, ApiError> {
    let within = match q.region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => caller.who.region,
        Some(r) => RegionCode::parse(r)
            .map_err(|e| invalid("region", "region_code.format", format!("region {e}")))?,
    };
    caller.allow(Action::ReadEmployer, &Resource::Region(within))?;
    let list = summaries(&st, &EmployerQuery::all(within, q.arrears.unwrap_or(false))).await?;
    Ok(Json(
        list.rows
            .iter()
            .map(|s| view(&s.employer, s.workers, s.last_month, &s.standing, false))
            .collect(),
    ))
}

/// One employer's account: invoices with what is paid and overdue, payments, standing.
#[utoipa::path(get, path = "/api/v1/employers/{code}", params(("code" = String, Path)),
    responses((status = 200, body = AccountBody), (status = 404, body = ErrorBody)))]
pub async fn get_employer(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<AccountBody>, ApiError> {
    let e = employer_for(&st, &caller.who, &code, Action::ReadEmployer).await?;
    let today = (st.today)();
    let mut a = st
        .store
        .employer_account(&e.code, today)
        .await?
        .ok_or_else(|| ApiError::NotFound("no employer with this NIB".into()))?;
    a.standing.accruing_fees = accruing_fees(&st, &a.invoices, today).await?;
    caller
        .audit(
            &st,
            "employer.read",
            format!("employer:{}", e.code),
            "service",
        )
        .await?;
    Ok(Json(account_body(&a)))
}

/// The employer's workers now.
#[utoipa::path(get, path = "/api/v1/employers/{code}/workers", params(("code" = String, Path)),
    responses((status = 200, body = [WorkerBody]), (status = 404, body = ErrorBody)))]
pub async fn get_workers(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<Vec<WorkerBody>>, ApiError> {
    let e = employer_for(&st, &caller.who, &code, Action::ReadEmployer).await?;
    let workers = st.store.employer_workers(&e.code).await?;
    caller
        .audit(
            &st,
            "employer.workers",
            format!("employer:{}", e.code),
            "service",
        )
        .await?;
    Ok(Json(
        workers
            .into_iter()
            .map(|(emp, p)| WorkerBody {
                participant_id: p.id,
                kpj: p.kpj,
                nik: p.registration.nik.masked(),
                name: p.registration.name,
                since: emp.since.to_string(),
            })
            .collect(),
    ))
}

/// The lines of a report body: CSV when the content type says so, else JSON. Returns the
/// month, preview and confirmation flags, and the lines.
fn report_input(
    headers: &HeaderMap,
    q: &ReportParams,
    body: &Bytes,
) -> Result<(String, bool, bool, Vec<WageLineInput>), ApiError> {
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv") || v.starts_with("text/plain"));
    if csv {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::BadRequest("the report must be UTF-8 text".into()))?;
        let lines = parse_csv(text).map_err(|p| {
            ApiError::Invalid(
                FieldError::new(format!("lines[{}].{}", p.line, p.field), p.rule, p.message).into(),
            )
        })?;
        return Ok((
            q.month.clone().unwrap_or_default(),
            q.preview.unwrap_or(false),
            q.confirm_valid_part.unwrap_or(false),
            lines,
        ));
    }
    let b: WageReportBody = crate::error::json_body(body, "a wage report object")?;
    if b.lines.len() > cakupan_domain::employers::MAX_LINES {
        return Err(invalid(
            "lines",
            "report.too_long",
            format!(
                "a wage report has at most {} lines: split it",
                cakupan_domain::employers::MAX_LINES
            ),
        ));
    }
    let lines = b
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| WageLineInput {
            line: i as u64 + 1,
            fields: vec![
                l.nik.clone(),
                l.name.clone(),
                l.birth_date.clone(),
                l.sex.clone(),
                l.village_code.clone(),
                l.occupation_code.clone(),
                text_of(&l.basic_wage),
                text_of(&l.fixed_allowances),
                l.programs.clone(),
                l.action.clone(),
            ],
        })
        .collect();
    debug_assert_eq!(WAGE_FIELDS.len(), 10);
    Ok((b.month, b.preview, b.confirm_valid_part, lines))
}

/// Submit (or preview) a monthly wage report: JSON, or CSV with `Content-Type: text/csv` and
/// `month`, `preview`, `confirm_valid_part` as query parameters. Every problem is listed by
/// line; nothing is billed while there are problems, unless the valid part is confirmed.
/// The same report again returns its invoice (200).
#[utoipa::path(post, path = "/api/v1/employers/{code}/wage-reports",
    params(("code" = String, Path), ("month" = Option<String>, Query), ("preview" = Option<bool>, Query),
           ("confirm_valid_part" = Option<bool>, Query)),
    request_body = WageReportBody,
    responses((status = 201, body = ReportBody), (status = 200, body = ReportBody),
              (status = 422, body = ReportBody), (status = 404, body = ErrorBody)))]
pub async fn submit_report(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<ReportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let e = employer_for(&st, &caller.who, &code, Action::ReportWages).await?;
    let (month, preview, confirm, lines) = report_input(&headers, &q, &body)?;
    let out = run_report(
        &st,
        &e,
        &caller.who.username,
        &month,
        &lines,
        preview,
        confirm,
    )
    .await?;
    let written = !preview && !out.plan.blocked && out.plan.repeat_of.is_none();
    caller
        .audit(
            &st,
            if written {
                "wage_report.submit"
            } else {
                "wage_report.check"
            },
            format!("employer:{}", e.code),
            "contribution",
        )
        .await?;
    let (status, b) = report_body(&out, preview);
    Ok((status, Json(b)).into_response())
}

/// One invoice with its lines.
#[utoipa::path(get, path = "/api/v1/employers/{code}/invoices/{month}",
    params(("code" = String, Path), ("month" = String, Path)),
    responses((status = 200, body = InvoiceDetail), (status = 404, body = ErrorBody)))]
pub async fn get_invoice(
    State(st): State<AppState>,
    caller: Caller,
    Path((code, month)): Path<(String, String)>,
) -> Result<Json<InvoiceDetail>, ApiError> {
    let e = employer_for(&st, &caller.who, &code, Action::ReadEmployer).await?;
    let month = Month::parse(month.trim())
        .map_err(|err| invalid("month", "month.format", format!("month {err}")))?;
    let not_found = || ApiError::NotFound(format!("no invoice for {month}"));
    let (inv, people) = st
        .store
        .employer_invoice(&e.code, month)
        .await?
        .ok_or_else(not_found)?;
    let acct = st
        .store
        .employer_account(&e.code, (st.today)())
        .await?
        .ok_or_else(not_found)?;
    let state = acct
        .invoices
        .iter()
        .find(|i| i.head.id == inv.id)
        .ok_or_else(not_found)?;
    caller
        .audit(
            &st,
            "invoice.read",
            format!("employer:{}", e.code),
            "contribution",
        )
        .await?;
    let person = |pid: i64| people.iter().find(|p| p.id == pid);
    Ok(Json(InvoiceDetail {
        invoice: state.into(),
        risk_class: inv.risk_class,
        size: inv.size.as_str().into(),
        lines: inv
            .lines
            .iter()
            .map(|l| LineBody {
                position: l.position,
                participant_id: l.participant_id,
                kpj: person(l.participant_id)
                    .map(|p| p.kpj.clone())
                    .unwrap_or_default(),
                nik: person(l.participant_id)
                    .map(|p| p.registration.nik.masked())
                    .unwrap_or_default(),
                name: person(l.participant_id)
                    .map(|p| p.registration.name.clone())
                    .unwrap_or_default(),
                wage: l.wage.0,
                programs: l.programmes.to_string(),
                amount: l.amount.0,
                employer_share: l.employer_share.0,
                worker_share: l.worker_share.0,
                paid_on: l.paid_on.map(format_date),
                late_fee: l.late_fee.0,
            })
            .collect(),
        jkp_accounting: jkp_accounting(&st, &inv, &people)
            .into_iter()
            .map(|(label, amount, source)| AllocationBody {
                label,
                amount: amount.0,
                source,
            })
            .collect(),
        provisional_jp_ceiling: provisional_jp(&st, &inv).map(|r| r.0),
    }))
}

/// Record money received from an employer: applied to its oldest dues first, each
/// worker-month it completes posted to the ledger as a PU contribution.
#[utoipa::path(post, path = "/api/v1/employers/{code}/payments", params(("code" = String, Path)),
    request_body = PaymentInput,
    responses((status = 201, body = PaymentResultBody), (status = 200, body = PaymentResultBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_payment(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: PaymentInput = crate::error::json_body(&body, "a payment object")?;
    let e = employer_for(&st, &caller.who, &code, Action::ManageEmployers).await?;
    let (out, standing) = record_payment(
        &st,
        &e,
        &caller.who.username,
        &b.reference,
        b.amount,
        &b.paid_on,
        b.payment_code.as_deref(),
    )
    .await?;
    caller
        .audit(
            &st,
            "employer.payment",
            format!("employer:{}", e.code),
            "contribution",
        )
        .await?;
    let status = if out.repeat {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(PaymentResultBody {
            outcome: if out.repeat { "repeat" } else { "recorded" }.into(),
            lines_paid: out.lines_paid,
            late_fees: out.late_fees.0,
            invoices_settled: out.invoices_settled,
            standing: (&standing).into(),
        }),
    )
        .into_response())
}

/// How a report outcome reads, and its status.
pub fn report_body(o: &ReportOutcome, preview: bool) -> (StatusCode, ReportBody) {
    let p = &o.plan;
    let (status, outcome, message) = if p.repeat_of.is_some() {
        (
            StatusCode::OK,
            "repeat",
            "this report was already submitted: its invoice is unchanged".to_string(),
        )
    } else if p.blocked {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "blocked",
            format!(
                "nothing was billed: {} problem(s); correct the report, or confirm billing the valid part",
                p.problems.len()
            ),
        )
    } else if preview {
        (
            StatusCode::OK,
            "previewed",
            "checked: nothing was written".to_string(),
        )
    } else {
        (
            StatusCode::CREATED,
            "billed",
            "the invoice is made".to_string(),
        )
    };
    let errors = if p.blocked {
        p.problems
            .iter()
            .map(|x| FieldErrorBody {
                field: if x.line == 0 {
                    x.field.clone()
                } else {
                    format!("lines[{}].{}", x.line, x.field)
                },
                rule: x.rule.into(),
                message: x.message.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    (
        status,
        ReportBody {
            outcome: outcome.into(),
            error: p.blocked.then(|| "invalid".to_string()),
            message,
            errors,
            month: p.month.to_string(),
            problems: p.problems.iter().map(ProblemBody::from).collect(),
            warnings: p.warnings.iter().map(ProblemBody::from).collect(),
            changes: p.diff.iter().map(change_body).collect(),
            workers_billed: p.workers_billed,
            workers_stopped: p.workers_stopped,
            lines_left_out: p.lines_left_out,
            contributions: p.contributions.0,
            employer_share: p.employer_share.0,
            worker_share: p.worker_share.0,
            fees_carried: p.fees_carried.0,
            total: p.total.0,
            due_on: p.due_on.map(format_date),
            invoice: o.invoice.as_ref().map(InvoiceBody::from),
            lines_paid: o.lines_paid,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    region: Option<String>,
    /// Only employers in arrears.
    arrears: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct ReportParams {
    month: Option<String>,
    preview: Option<bool>,
    confirm_valid_part: Option<bool>,
}
