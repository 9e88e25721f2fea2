//! `/api/v1/sessions` (sign in, sign out) and `/api/v1/me`.

use crate::AppState;
use crate::auth::{Caller, bearer, new_token, now_secs};
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
pub use cakupan_app::accounts::rfc3339;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;

/// The caller's address, as the server saw the connection ("unknown" when there is none, as
/// in tests that call the router directly).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
    /// The code of your authenticator app (or a recovery code), when the account has a second
    /// factor.
    #[serde(default)]
    pub totp: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// Send as `Authorization: Bearer <token>`. Shown once; the server keeps only its hash.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
    pub username: String,
    pub role: String,
    /// The root of the user's area; empty for the nation.
    pub region: String,
    /// The password was reset: change it (`POST /api/v1/me/password`) before anything else.
    pub must_change_password: bool,
}

/// Sign in with a username and password: a session token valid for the configured hours.
/// Too many failures for a username or from an address lock it for a while (429).
#[utoipa::path(post, path = "/api/v1/sessions", request_body = LoginBody,
    responses((status = 201, body = SessionBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(st): State<AppState>,
    ClientAddr(ip): ClientAddr,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: LoginBody =
        crate::error::json_body(&body, "{\"username\": \"…\", \"password\": \"…\"}")?;
    let s = sign_in(&st, &b.username, b.password, b.totp.as_deref(), &ip).await?;
    Ok((StatusCode::CREATED, Json(session_body(s))))
}

/// A new session as the API answers it.
pub fn session_body(s: SignedIn) -> SessionBody {
    SessionBody {
        token: s.token,
        expires_at: rfc3339(s.expires),
        username: s.who.username,
        role: s.who.role.as_str().into(),
        region: s.who.region.to_string(),
        must_change_password: s.must_change_password,
    }
}

/// A new session.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    /// Unix seconds.
    pub expires: i64,
    pub who: cakupan_domain::access::Principal,
    pub must_change_password: bool,
}

/// Checks the sign-in limits, the username and the password, and opens a session: the one
/// path for the API and the pages.
pub async fn sign_in(
    st: &AppState,
    username: &str,
    password: String,
    totp: Option<&str>,
    ip: &str,
) -> Result<SignedIn, ApiError> {
    let username = username.trim().to_lowercase();
    let user = st.store.user_by_username(&username).await?;
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        // An unknown username is checked against a hash of the same cost, so that it takes
        // as long to refuse as a wrong password.
        .unwrap_or_else(|| st.auth.dummy_hash.clone());
    // Memory first: when the hashing budget is spent the request is turned away before it
    // counts as an attempt or hashes anything (each hash holds tens of MiB).
    let cost = crate::auth::Cost::of_stored(&stored).unwrap_or(st.auth.cost);
    let permit = st.auth.hashing_permit(cost).map_err(|b| ApiError::Busy {
        message: "the server is checking too many sign-ins at once: try again in a moment".into(),
        retry_after_secs: b.retry_after.as_secs().max(1),
    })?;
    // The attempt is reserved before the password is checked (and counts as a failure unless
    // it signs in), so parallel guesses cannot pass the limit.
    // A refused attempt is audited with the account it aimed at (never the typed name of an
    // unknown account: it may be a password typed in the wrong box) and the address.
    let target = user
        .as_ref()
        .map_or_else(|| "user:unknown".to_string(), |u| format!("user:{}", u.id));
    let refused = |action: &'static str| {
        let entry = cakupan_store::accounts::AuditEntry {
            at: cakupan_store::clock::now_millis(),
            actor: user
                .as_ref()
                .map_or_else(|| "(unknown)".to_string(), |u| u.username.clone()),
            role: "none".into(),
            action: action.into(),
            record: format!("{target} from {ip}"),
            request_id: crate::auth::new_token()
                .map(|t| t[..16].to_string())
                .unwrap_or_default(),
            purpose: "access".into(),
        };
        async move { st.store.append_audit(&[entry]).await }
    };
    let reserved = match st.auth.reserve(&username, ip) {
        Ok(r) => r,
        Err(l) => {
            refused("session.locked").await?;
            let minutes = l.retry_after.as_secs().div_ceil(60);
            return Err(ApiError::TooManyAttempts {
                message: format!(
                    "too many failed sign-ins for {}: try again in {minutes} minute(s)",
                    l.what
                ),
                retry_after_secs: l.retry_after.as_secs().max(1),
            });
        }
    };
    let stored_cost = crate::auth::Cost::of_stored(&stored);
    let typed = password.clone();
    let ok = crate::auth::Auth::verify(permit, stored, password).await;
    let user = match user.clone() {
        Some(u) if ok && !u.disabled => u,
        _ => {
            refused("session.login_failed").await?;
            return Err(ApiError::Unauthenticated(
                "wrong username or password".into(),
            ));
        }
    };
    // The second factor, after the password: a wrong or missing code leaves the attempt
    // counted as a failure.
    if let Err(e) = crate::accounts::check_second_factor(st, &user, totp).await {
        refused("session.second_factor_refused").await?;
        return Err(e);
    }
    st.auth.succeeded(&username, ip, reserved);
    // A hash made at another cost (an older one, 152 MiB each before issue 17) is made again at
    // the server's cost now that the password is known to be right: within the hashing budget,
    // or at a later sign-in when the budget is spent.
    if st.auth.cost.redo(stored_cost)
        && let Ok(Ok(rehashed)) = st.auth.hash(typed).await
    {
        st.store
            .set_password(user.id, &rehashed, user.must_change_password)
            .await?;
    }
    open_session(st, &user, "session.login").await
}

/// Opens a session for an account whose credentials were checked (a password, or for a
/// participant a code sent to their phone): the token, at most `sessions_per_user` at once,
/// the audit entry `action`.
pub async fn open_session(
    st: &AppState,
    user: &cakupan_store::accounts::UserRow,
    action: &str,
) -> Result<SignedIn, ApiError> {
    let token = new_token().map_err(ApiError::Internal)?;
    let now = now_secs();
    let expires = now + i64::from(st.auth.policy.session_hours) * 3600;
    let hashed = cakupan_store::accounts::token_hash(&token);
    st.store
        .create_session(&hashed, user.id, now, expires)
        .await?;
    // At most `sessions_per_user` at once: a new sign-in ends the oldest.
    st.store
        .trim_sessions(
            user.id,
            &hashed,
            st.auth.policy.sessions_per_user.max(1),
            now,
        )
        .await?;
    let who = user.principal()?;
    let caller = Caller {
        who: who.clone(),
        request_id: crate::auth::new_token()
            .map(|t| t[..16].to_string())
            .unwrap_or_default(),
    };
    caller
        .audit(st, action, format!("user:{}", user.id), "access")
        .await?;
    Ok(SignedIn {
        token,
        expires,
        who,
        must_change_password: user.must_change_password,
    })
}

/// Sign out: the session's token stops working at once.
#[utoipa::path(delete, path = "/api/v1/sessions", responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(st): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    parts.headers = headers;
    if let Some(t) = bearer(&parts) {
        st.store
            .delete_session(&cakupan_store::accounts::token_hash(&t))
            .await?;
    }
    caller
        .audit(
            &st,
            "session.logout",
            format!("user:{}", caller.who.user_id),
            "access",
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeBody {
    pub username: String,
    pub role: String,
    pub region: String,
    pub agent_code: Option<String>,
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = MeBody), (status = 401, body = ErrorBody)))]
pub async fn me(caller: Caller) -> Json<MeBody> {
    Json(MeBody {
        username: caller.who.username,
        role: caller.who.role.as_str().into(),
        region: caller.who.region.to_string(),
        agent_code: caller.who.agent_code,
    })
}
