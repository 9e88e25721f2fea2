//! Payment rails over HTTP (issue #19): the SNAP biller endpoints under `/snap` (outside the
//! session and CSRF machinery: partners authenticate with their own keys), and the API of
//! channel partners for head office.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, json_body};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cakupan_app::payments::snap::{self, Headers, Service, SnapError};
use cakupan_app::payments::{self as pay, NewPartner};

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn snap_headers(h: &HeaderMap) -> Headers {
    Headers {
        timestamp: header(h, "x-timestamp"),
        client_key: header(h, "x-client-key"),
        signature: header(h, "x-signature"),
        authorization: header(h, "authorization"),
        partner_id: header(h, "x-partner-id"),
        external_id: header(h, "x-external-id"),
        channel_id: header(h, "channel-id"),
    }
}

fn snap_response(r: Result<serde_json::Value, SnapError>) -> Response {
    match r {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => (
            StatusCode::from_u16(e.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(e.body()),
        )
            .into_response(),
    }
}

/// The SNAP routes, to be merged at the root (their paths carry [`snap::PREFIX`]).
pub fn snap_routes() -> axum::Router<AppState> {
    use axum::routing::post;
    let at = |s: Service| format!("{}{}", snap::PREFIX, s.path());
    axum::Router::new()
        .route(&at(Service::Token), post(access_token))
        .route(&at(Service::Inquiry), post(inquiry))
        .route(&at(Service::Payment), post(payment))
        .route(&at(Service::Status), post(status))
}

/// B2B access token: `X-CLIENT-KEY`, `X-TIMESTAMP` and `X-SIGNATURE` (SHA256withRSA of
/// `clientKey|timestamp` with the partner's private key); body `{"grantType":
/// "client_credentials"}`.
#[utoipa::path(post, path = "/snap/v1.0/access-token/b2b", tag = "snap",
    params(("X-TIMESTAMP" = String, Header), ("X-CLIENT-KEY" = String, Header), ("X-SIGNATURE" = String, Header)),
    request_body(content = serde_json::Value, description = "{\"grantType\": \"client_credentials\"}"),
    responses((status = 200, description = "responseCode 2007300, accessToken, tokenType Bearer, expiresIn"),
              (status = 400, description = "4007301 / 4007302: a malformed or missing field or header"),
              (status = 401, description = "4017300: signature, timestamp or partner refused")))]
pub async fn access_token(State(st): State<AppState>, h: HeaderMap, body: Bytes) -> Response {
    snap_response(
        pay::access_token(&st, &snap_headers(&h), &body)
            .await
            .map(|t| serde_json::to_value(t).unwrap_or_default()),
    )
}

/// Virtual-account inquiry (service 24): what a payment code asks now.
#[utoipa::path(post, path = "/snap/v1.0/transfer-va/inquiry", tag = "snap",
    params(("Authorization" = String, Header), ("X-TIMESTAMP" = String, Header), ("X-SIGNATURE" = String, Header),
           ("X-PARTNER-ID" = String, Header), ("X-EXTERNAL-ID" = String, Header), ("CHANNEL-ID" = String, Header)),
    request_body(content = serde_json::Value, description = "partnerServiceId, customerNo, virtualAccountNo, inquiryRequestId, additionalInfo.months"),
    responses((status = 200, description = "2002400 with virtualAccountData: masked name, totalAmount, billDetails per period"),
              (status = 400, description = "40024xx: malformed"), (status = 401, description = "4012400 / 4012401"),
              (status = 404, description = "4042412 unknown code, 4042414 nothing due"), (status = 409, description = "4092400 X-EXTERNAL-ID used today")))]
pub async fn inquiry(State(st): State<AppState>, h: HeaderMap, body: Bytes) -> Response {
    let path = format!("{}{}", snap::PREFIX, Service::Inquiry.path());
    snap_response(pay::inquiry(&st, &snap_headers(&h), &path, &body).await)
}

/// Virtual-account payment (service 25): records and posts the payment in one transaction.
#[utoipa::path(post, path = "/snap/v1.0/transfer-va/payment", tag = "snap",
    params(("Authorization" = String, Header), ("X-TIMESTAMP" = String, Header), ("X-SIGNATURE" = String, Header),
           ("X-PARTNER-ID" = String, Header), ("X-EXTERNAL-ID" = String, Header), ("CHANNEL-ID" = String, Header)),
    request_body(content = serde_json::Value, description = "partnerServiceId, customerNo, virtualAccountNo, paymentRequestId, paidAmount, trxDateTime, referenceNo"),
    responses((status = 200, description = "2002500 with the receipt (a retry gets the first answer)"),
              (status = 400, description = "40025xx: malformed"), (status = 401, description = "4012500 / 4012501"),
              (status = 404, description = "4042512 unknown code, 4042513 amount not due (the message says what is), 4042514 paid, 4042518 inconsistent retry"),
              (status = 409, description = "4092500 X-EXTERNAL-ID used today")))]
pub async fn payment(State(st): State<AppState>, h: HeaderMap, body: Bytes) -> Response {
    let path = format!("{}{}", snap::PREFIX, Service::Payment.path());
    snap_response(pay::payment(&st, &snap_headers(&h), &path, &body).await)
}

/// Payment status inquiry (service 26).
#[utoipa::path(post, path = "/snap/v1.0/transfer-va/status", tag = "snap",
    params(("Authorization" = String, Header), ("X-TIMESTAMP" = String, Header), ("X-SIGNATURE" = String, Header),
           ("X-PARTNER-ID" = String, Header), ("X-EXTERNAL-ID" = String, Header), ("CHANNEL-ID" = String, Header)),
    request_body(content = serde_json::Value, description = "partnerServiceId, customerNo, virtualAccountNo, paymentRequestId"),
    responses((status = 200, description = "2002600 with paymentFlagStatus 00 (paid) or 01 (reversed)"),
              (status = 404, description = "4042601 no such transaction")))]
pub async fn status(State(st): State<AppState>, h: HeaderMap, body: Bytes) -> Response {
    let path = format!("{}{}", snap::PREFIX, Service::Status.path());
    snap_response(pay::status(&st, &snap_headers(&h), &path, &body).await)
}

/// Add a channel partner (head office). The same partner again is a safe retry (200).
#[utoipa::path(post, path = "/api/v1/payment-partners", request_body = NewPartner,
    responses((status = 201, description = "added"), (status = 200, description = "already there, the same"),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_partner(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let p: NewPartner = json_body(&body, "a partner object")?;
    let added = pay::add_partner(&st, &caller.who, &caller.request_id, &p).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::json!({"code": p.code, "added": added})),
    ))
}

/// The channel partners, without credentials.
#[utoipa::path(get, path = "/api/v1/payment-partners",
    responses((status = 200, description = "code, name, kind, settlement_account, fee, active"), (status = 403, body = ErrorBody)))]
pub async fn list_partners(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<cakupan_store::payments::PartnerSummary>>, ApiError> {
    Ok(Json(pay::partners(&st, &caller.who).await?))
}

/// Switch a partner on (`activate`) or off (`deactivate`).
#[utoipa::path(post, path = "/api/v1/payment-partners/{code}/{change}",
    params(("code" = String, Path), ("change" = String, Path, description = "activate or deactivate")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn change_partner(
    State(st): State<AppState>,
    caller: Caller,
    Path((code, change)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let active = match change.as_str() {
        "activate" => true,
        "deactivate" => false,
        _ => return Err(ApiError::NotFound("activate or deactivate".into())),
    };
    pay::set_partner_active(&st, &caller.who, &caller.request_id, &code, active).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The largest settlement file the API takes (about 500,000 lines); larger files go through
/// `cakupan payments settle`, which streams them.
pub const MAX_SETTLEMENT_BYTES: usize = 32 * 1024 * 1024;

/// The query of a settlement upload.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SettlementParams {
    /// `csv` (docs/formats.md) or `mt940`.
    pub format: String,
    #[serde(default)]
    pub file_name: Option<String>,
}

/// Import a partner's settlement file (head office finance): the body is the file. The same
/// file again changes nothing (`repeat`); bad lines are reported by number.
#[utoipa::path(post, path = "/api/v1/payment-partners/{code}/settlements",
    params(("code" = String, Path), SettlementParams),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 200, body = cakupan_app::payments::SettlementReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_settlement(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    axum::extract::Query(q): axum::extract::Query<SettlementParams>,
    body: Bytes,
) -> Result<Json<cakupan_app::payments::SettlementReport>, ApiError> {
    let format = pay::settlement::Format::parse(&q.format).ok_or_else(|| {
        ApiError::Invalid(
            cakupan_domain::FieldError::new(
                "format",
                "settlement.format",
                "the format is csv or mt940",
            )
            .into(),
        )
    })?;
    let bytes = body.to_vec();
    let open = move || Ok(std::io::Cursor::new(bytes.clone()));
    let name = q
        .file_name
        .unwrap_or_else(|| format!("upload.{}", format.as_str()));
    Ok(Json(
        pay::import_settlement(
            &st,
            &caller.who,
            &caller.request_id,
            &code,
            &name,
            format,
            open,
        )
        .await?,
    ))
}

/// The query of the exception list.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExceptionParams {
    /// `open`, `proposed` or `resolved`; all when absent.
    #[serde(default)]
    pub state: Option<String>,
}

/// The payment exceptions of the caller's area.
#[utoipa::path(get, path = "/api/v1/payment-exceptions", params(ExceptionParams),
    responses((status = 200, description = "the exceptions, oldest first"), (status = 403, body = ErrorBody)))]
pub async fn list_exceptions(
    State(st): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<ExceptionParams>,
) -> Result<Json<Vec<cakupan_store::payments::PaymentException>>, ApiError> {
    Ok(Json(
        pay::exceptions(&st, &caller.who, q.state.as_deref()).await?,
    ))
}

/// An action on an exception.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionAction {
    /// `post`, `reverse`, `close` or `approve` (of what another person proposed).
    pub action: String,
    #[serde(default)]
    pub reason: String,
}

/// Act on an exception: close it with a reason, propose posting or reversing (a second
/// person approves), or approve another's proposal.
#[utoipa::path(post, path = "/api/v1/payment-exceptions/{id}", params(("id" = i64, Path)), request_body = ExceptionAction,
    responses((status = 200, description = "{\"step\": proposed | resolved | already_resolved}"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn act_on_exception(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let a: ExceptionAction = json_body(&body, "an action object")?;
    let step = if a.action == "approve" {
        pay::approve_exception(&st, &caller.who, &caller.request_id, id).await?
    } else {
        pay::act_on_exception(
            &st,
            &caller.who,
            &caller.request_id,
            id,
            &a.action,
            &a.reason,
        )
        .await?
    };
    Ok(Json(serde_json::json!({"step": step})))
}

/// The query of the daily totals.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TotalsParams {
    /// YYYY-MM-DD
    pub from: String,
    /// YYYY-MM-DD
    pub to: String,
    /// `csv` for a CSV export.
    #[serde(default)]
    pub format: Option<String>,
}

/// Per partner and day: expected (recorded here), settled, difference; JSON or CSV.
#[utoipa::path(get, path = "/api/v1/payment-totals", params(TotalsParams),
    responses((status = 200, description = "the totals"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn daily_totals(
    State(st): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<TotalsParams>,
) -> Result<Response, ApiError> {
    let day = |field: &str, v: &str| {
        cakupan_domain::month::parse_date(v.trim()).ok_or_else(|| {
            ApiError::Invalid(
                cakupan_domain::FieldError::new(
                    field,
                    "date.format",
                    format!("{field} is a date, YYYY-MM-DD"),
                )
                .into(),
            )
        })
    };
    let rows =
        pay::daily_totals(&st, &caller.who, day("from", &q.from)?, day("to", &q.to)?).await?;
    if q.format.as_deref() == Some("csv") {
        return Ok((
            [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            pay::totals_csv(&rows),
        )
            .into_response());
    }
    Ok(Json(rows).into_response())
}
