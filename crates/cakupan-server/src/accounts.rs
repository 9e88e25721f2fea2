//! The account lifecycle (issue #17, item 8): a user changes their own password; an
//! administrator disables or enables an account, ends its sessions, or resets its password to
//! a one-time one that must be changed at the next sign-in. One service for the API, the pages
//! and the command line; every change is audited.

use crate::AppState;
use crate::auth::{Auth, Caller};
use crate::error::{ApiError, ErrorBody, json_body};
use crate::sessions::ClientAddr;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cakupan_domain::FieldError;
use cakupan_domain::access::Principal;
use cakupan_store::accounts::{AuditEntry, UserRow, token_hash};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A one-time password: 18 random bytes as lower-case letters and digits in groups of six
/// (about 108 bits, easy to read aloud), never stored.
pub fn one_time_password() -> Result<String, String> {
    let mut b = [0u8; 18];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    Ok(b.iter()
        .map(|x| char::from(ALPHABET[usize::from(*x) % ALPHABET.len()]))
        .collect::<Vec<_>>()
        .chunks(6)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

fn busy(b: crate::auth::Busy) -> ApiError {
    ApiError::Busy {
        message: "the server is checking too many passwords at once: try again in a moment".into(),
        retry_after_secs: b.retry_after.as_secs().max(1),
    }
}

/// Hashes a new password within the hashing budget.
async fn hash(st: &AppState, password: String) -> Result<String, ApiError> {
    st.auth
        .hash(password)
        .await
        .map_err(busy)?
        .map_err(ApiError::Internal)
}

async fn audit(
    st: &AppState,
    by: &Principal,
    request_id: &str,
    action: &str,
    user: &UserRow,
) -> Result<(), ApiError> {
    let entry: AuditEntry = crate::auth::audit_entry(
        by,
        request_id,
        action,
        format!("user:{}", user.id),
        "access",
    );
    st.store.append_audit(&[entry]).await?;
    Ok(())
}

/// The account named `username`, for an administrator.
async fn account(st: &AppState, by: &Principal, username: &str) -> Result<UserRow, ApiError> {
    crate::auth::authorize_admin(by)?;
    st.store
        .user_by_username(&username.trim().to_lowercase())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no account is named {}", username.trim())))
}

/// Changes `who`'s own password: the current one is checked (under the sign-in limits, so a
/// stolen session cannot guess it), the new one must pass the password rules, and every
/// other session of the account ends (`keep`, this session's token hash, stays).
pub async fn change_own_password(
    st: &AppState,
    who: &Principal,
    request_id: &str,
    keep: Option<&str>,
    ip: &str,
    current: String,
    new: &str,
) -> Result<(), ApiError> {
    let user = st
        .store
        .user_by_username(&who.username)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("the account no longer exists".into()))?;
    cakupan_domain::password::check(
        "new_password",
        new,
        &user.username,
        st.auth.policy.min_password_length as usize,
    )
    .map_err(|e| ApiError::Invalid(e.into()))?;
    let cost = crate::auth::Cost::of_stored(&user.password_hash).unwrap_or(st.auth.cost);
    let permit = st.auth.hashing_permit(cost).map_err(busy)?;
    let reserved = st
        .auth
        .reserve(&user.username, ip)
        .map_err(|l| ApiError::TooManyAttempts {
            message: format!(
                "too many wrong passwords for {}: try again in {} minute(s)",
                l.what,
                l.retry_after.as_secs().div_ceil(60)
            ),
            retry_after_secs: l.retry_after.as_secs().max(1),
        })?;
    if !Auth::verify(permit, user.password_hash.clone(), current).await {
        audit(st, who, request_id, "user.password_change_refused", &user).await?;
        return Err(ApiError::Invalid(
            FieldError::new(
                "current_password",
                "password.current",
                "the current password is not right",
            )
            .into(),
        ));
    }
    st.auth.succeeded(&user.username, ip, reserved);
    if new == user.username || crate::auth::verify_password(&user.password_hash, new) {
        return Err(ApiError::Invalid(
            FieldError::new(
                "new_password",
                "password.same",
                "the new password must differ from the current one",
            )
            .into(),
        ));
    }
    let hashed = hash(st, new.to_string()).await?;
    st.store.set_password(user.id, &hashed, false).await?;
    st.store.end_sessions(user.id, keep).await?;
    audit(st, who, request_id, "user.password_changed", &user).await
}

/// Resets an account's password to a one-time one (returned once, never stored) that must be
/// changed at the next sign-in; the account's sessions end.
pub async fn reset_password(
    st: &AppState,
    by: &Principal,
    request_id: &str,
    username: &str,
) -> Result<String, ApiError> {
    let user = account(st, by, username).await?;
    let password = one_time_password().map_err(ApiError::Internal)?;
    let hashed = hash(st, password.clone()).await?;
    st.store.set_password(user.id, &hashed, true).await?;
    st.store.end_sessions(user.id, None).await?;
    audit(st, by, request_id, "user.password_reset", &user).await?;
    Ok(password)
}

/// Disables (and ends the sessions of) or enables an account.
pub async fn set_disabled(
    st: &AppState,
    by: &Principal,
    request_id: &str,
    username: &str,
    disabled: bool,
) -> Result<u64, ApiError> {
    let user = account(st, by, username).await?;
    if disabled && user.id == by.user_id {
        return Err(ApiError::Invalid(
            FieldError::new(
                "username",
                "user.self",
                "an administrator cannot disable their own account",
            )
            .into(),
        ));
    }
    st.store.set_disabled(user.id, disabled).await?;
    let ended = if disabled {
        st.store.end_sessions(user.id, None).await?
    } else {
        0
    };
    let action = if disabled {
        "user.disabled"
    } else {
        "user.enabled"
    };
    audit(st, by, request_id, action, &user).await?;
    Ok(ended)
}

/// Ends every session of an account (a lost phone, a shared computer).
pub async fn end_sessions(
    st: &AppState,
    by: &Principal,
    request_id: &str,
    username: &str,
) -> Result<u64, ApiError> {
    let user = account(st, by, username).await?;
    let ended = st.store.end_sessions(user.id, None).await?;
    audit(st, by, request_id, "user.sessions_ended", &user).await?;
    Ok(ended)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

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

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetBody {
    /// The one-time password, shown once: hand it over in person.
    pub password: String,
    pub must_change_password: bool,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
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
