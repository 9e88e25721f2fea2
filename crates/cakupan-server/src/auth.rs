//! Signing in: Argon2id passwords, opaque session tokens stored hashed, login rate limits
//! with lockout, and the extractor that turns a request into the caller (issue #4).

use crate::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
pub use cakupan_app::auth::*;
use cakupan_domain::access::{Action, Principal, Resource, authorize};

/// The name of the pages' session cookie.
pub const SESSION_COOKIE: &str = "cakupan_session";

/// The session token in the request's cookie, if any.
pub fn cookie_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The authenticated caller of a request (`Authorization: Bearer <token>`) and the request's
/// id (`X-Request-Id` if the client sent a sane one, else a new one), carried into the audit.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    pub request_id: String,
}

impl Caller {
    /// The one decision (`cakupan_domain::access::authorize`) as an API error: 403.
    pub fn allow(&self, action: Action, what: &Resource) -> Result<(), ApiError> {
        authorize(&self.who, action, what).map_err(|d| ApiError::Forbidden(d.0.into()))
    }

    /// The same decision for one participant's personal data: a refusal reads exactly like
    /// absence (`not_found`), so that the answer does not disclose that the record exists.
    /// A refusal is audited (`participant.access_refused`, naming the record): an insider
    /// probing records outside their area leaves a trace even though they learn nothing.
    pub async fn allow_personal(
        &self,
        st: &AppState,
        action: Action,
        p: &cakupan_store::Participant,
        not_found: ApiError,
    ) -> Result<(), ApiError> {
        if authorize(&self.who, action, &participant_resource(st, p)).is_ok() {
            return Ok(());
        }
        self.audit(
            st,
            "participant.access_refused",
            format!("participant:{}", p.id),
            "refused",
        )
        .await?;
        Err(not_found)
    }

    /// Appends one entry to the audit log; the request fails if it cannot be written.
    pub async fn audit(
        &self,
        st: &AppState,
        action: &str,
        record: String,
        purpose: &str,
    ) -> Result<(), ApiError> {
        st.store
            .append_audit(&[audit_entry(
                &self.who,
                &self.request_id,
                action,
                record,
                purpose,
            )])
            .await
            .map_err(ApiError::from)
    }
}

/// The request id: the client's `X-Request-Id` when it is short and plain, else a new one.
pub fn request_id(parts: &Parts) -> String {
    parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(String::from)
        .unwrap_or_else(|| new_token().map(|t| t[..16].to_string()).unwrap_or_default())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let token = match bearer(parts) {
            Some(t) => t,
            None => {
                let t = cookie_token(&parts.headers).ok_or_else(|| {
                    ApiError::Unauthenticated(
                        "sign in first: send Authorization: Bearer <token>, or sign in at /login"
                            .into(),
                    )
                })?;
                // A cookie rides along with any request the browser makes: a change must also
                // carry the page's CSRF token, which another site cannot read.
                let safe = matches!(
                    parts.method,
                    axum::http::Method::GET
                        | axum::http::Method::HEAD
                        | axum::http::Method::OPTIONS
                );
                let sent = parts
                    .headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !safe && !same_secret(sent.as_bytes(), csrf_token(&t).as_bytes()) {
                    return Err(ApiError::Forbidden(
                        "missing or wrong CSRF token: send the page's X-CSRF-Token".into(),
                    ));
                }
                t
            }
        };
        let user = st
            .store
            .session_user(
                &cakupan_store::accounts::token_hash(&token),
                now_secs(),
                st.auth.idle_secs(),
            )
            .await?
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "the session has ended, was unused too long, or does not exist: sign in again"
                        .into(),
                )
            })?;
        // A password someone else set (a reset) is changed before anything else is done.
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.path().to_string(), |o| o.0.path().to_string());
        if user.must_change_password && !MAY_BEFORE_PASSWORD_CHANGE.contains(&path.as_str()) {
            return Err(ApiError::Forbidden(
                "change your password first: POST /api/v1/me/password (it was reset)".into(),
            ));
        }
        Ok(Caller {
            who: user.principal()?,
            request_id: request_id(parts),
        })
    }
}

/// What a session whose password must be changed may still do: change it, see who it is, sign
/// out.
pub const MAY_BEFORE_PASSWORD_CHANGE: [&str; 4] = [
    "/api/v1/me/password",
    "/api/v1/me",
    "/api/v1/sessions",
    "/akun/sandi",
];

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<String> {
    let v = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let t = v.strip_prefix("Bearer ")?.trim();
    (!t.is_empty()).then(|| t.to_string())
}
