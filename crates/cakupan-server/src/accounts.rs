//! The account lifecycle (issue #17, item 8): a user changes their own password; an
//! administrator disables or enables an account, ends its sessions, or resets its password to
//! a one-time one that must be changed at the next sign-in. One service for the API, the pages
//! and the command line; every change is audited.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, json_body};
use crate::sessions::ClientAddr;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
pub use cakupan_app::accounts::*;
use cakupan_store::accounts::token_hash;

/// The session token of a request (bearer or cookie), hashed: the session to keep.
fn own_token_hash(headers: &axum::http::HeaderMap) -> Option<String> {
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    parts.headers = headers.clone();
    crate::auth::bearer(&parts)
        .or_else(|| crate::auth::cookie_token(headers))
        .map(|t| token_hash(&t))
}

/// Change your own password. The other sessions of the account end; this one stays.
#[utoipa::path(post, path = "/api/v1/me/password", request_body = PasswordChange,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn change_password(
    State(st): State<AppState>,
    caller: Caller,
    ClientAddr(ip): ClientAddr,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let b: PasswordChange = json_body(&body, "a password change object")?;
    let keep = own_token_hash(&headers);
    change_own_password(
        &st,
        &caller.who,
        &caller.request_id,
        keep.as_deref(),
        &ip,
        b.current_password,
        &b.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an account (administrators). Without a password in the body (there is no such
/// field) one is generated, answered once and never stored; it must be changed at the first
/// sign-in. Every problem of the body is answered at once.
#[utoipa::path(post, path = "/api/v1/users", request_body = NewAccount,
    responses((status = 201, body = CreatedAccount), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn add(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedAccount>), ApiError> {
    let b: NewAccount = json_body(&body, "an account object")?;
    let made = create_account(&st, &caller.who, &caller.request_id, &b, None).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// Reset an account's password (administrators): a one-time password, shown once, to be
/// changed at the next sign-in; the account's sessions end.
#[utoipa::path(post, path = "/api/v1/users/{username}/password-reset", params(("username" = String, Path)),
    responses((status = 201, body = ResetBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reset(
    State(st): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<(StatusCode, Json<ResetBody>), ApiError> {
    let password = reset_password(&st, &caller.who, &caller.request_id, &username).await?;
    Ok((
        StatusCode::CREATED,
        Json(ResetBody {
            password,
            must_change_password: true,
        }),
    ))
}

/// Disable an account (administrators): it cannot sign in and its sessions end at once.
#[utoipa::path(post, path = "/api/v1/users/{username}/disable", params(("username" = String, Path)),
    responses((status = 200, body = SessionsEnded), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn disable(
    State(st): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let n = set_disabled(&st, &caller.who, &caller.request_id, &username, true).await?;
    Ok(Json(SessionsEnded { sessions_ended: n }))
}

/// Enable a disabled account again (administrators).
#[utoipa::path(post, path = "/api/v1/users/{username}/enable", params(("username" = String, Path)),
    responses((status = 200, body = SessionsEnded), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn enable(
    State(st): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let n = set_disabled(&st, &caller.who, &caller.request_id, &username, false).await?;
    Ok(Json(SessionsEnded { sessions_ended: n }))
}

/// End every session of an account (administrators).
#[utoipa::path(delete, path = "/api/v1/users/{username}/sessions", params(("username" = String, Path)),
    responses((status = 200, body = SessionsEnded), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(st): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let n = end_sessions(&st, &caller.who, &caller.request_id, &username).await?;
    Ok(Json(SessionsEnded { sessions_ended: n }))
}

/// Set up (or replace) your own second factor: the secret for an authenticator app and
/// recovery codes, shown once. From then on signing in needs a code.
#[utoipa::path(post, path = "/api/v1/me/totp", request_body = TotpRequest,
    responses((status = 201, body = TotpEnrolment), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn own_totp(
    State(st): State<AppState>,
    caller: Caller,
    ClientAddr(ip): ClientAddr,
    body: Bytes,
) -> Result<(StatusCode, Json<TotpEnrolment>), ApiError> {
    let b: TotpRequest = json_body(&body, "a second-factor request")?;
    let user = st
        .store
        .user_by_username(&caller.who.username)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("the account no longer exists".into()))?;
    confirm_password(
        &st,
        &caller.who,
        &caller.request_id,
        &user,
        &ip,
        b.current_password,
        "user.totp_refused",
    )
    .await?;
    let e = enrol(&st, &user).await?;
    audit(&st, &caller.who, &caller.request_id, "user.totp_set", &user).await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// Set up (or replace) an account's second factor (administrators): hand the secret and the
/// recovery codes over in person.
#[utoipa::path(post, path = "/api/v1/users/{username}/totp", params(("username" = String, Path)),
    responses((status = 201, body = TotpEnrolment), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn user_totp(
    State(st): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<(StatusCode, Json<TotpEnrolment>), ApiError> {
    let e = enrol_totp(&st, &caller.who, &caller.request_id, &username).await?;
    Ok((StatusCode::CREATED, Json(e)))
}
