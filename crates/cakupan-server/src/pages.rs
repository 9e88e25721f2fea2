//! Signing in and out from a browser: cookie sessions (HttpOnly, SameSite=Strict, Secure
//! under TLS) with a CSRF token for changes. The dashboard itself comes with issue 5.

use crate::AppState;
use crate::auth::{SESSION_COOKIE, cookie_token, csrf_token, same_secret};
use crate::error::ApiError;
use crate::sessions::{ClientAddr, sign_in};
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn login_page(message: Option<&str>) -> Html<String> {
    let message = message
        .map(|m| format!(r#"<p role="alert" style="color:#a00">{}</p>"#, escape(m)))
        .unwrap_or_default();
    Html(format!(
        r#"<!doctype html>
<html lang="id"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Masuk — Cakupan</title>
<style>body{{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}}label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;font-size:1rem}}button{{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}}</style>
</head><body>
<h1>Masuk <small lang="en">/ Sign in</small></h1>
{message}
<form method="post" action="/login">
<label for="username">Nama pengguna <span lang="en">/ Username</span></label>
<input id="username" name="username" autocomplete="username" required>
<label for="password">Kata sandi <span lang="en">/ Password</span></label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Masuk <span lang="en">/ Sign in</span></button>
</form>
</body></html>"#
    ))
}

/// The sign-in form.
pub async fn login_form() -> Html<String> {
    login_page(None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

fn cookie(st: &AppState, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    let secure = if st.auth.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Signs in from the form: a session cookie, then back to the front page. Refusals show the
/// form again with the reason (429 and 401 as in the API).
pub async fn login_submit(
    State(st): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Form(f): Form<LoginForm>,
) -> Result<Response, ApiError> {
    match sign_in(&st, &f.username, f.password, &ip).await {
        Ok(s) => {
            let max_age = s.expires - crate::auth::now_secs();
            Ok((
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, cookie(&st, &s.token, max_age)?),
                    (header::LOCATION, HeaderValue::from_static("/")),
                ],
            )
                .into_response())
        }
        Err(ApiError::Unauthenticated(m)) => Ok((
            StatusCode::UNAUTHORIZED,
            login_page(Some(&format!(
                "Nama pengguna atau kata sandi salah. / {m}."
            ))),
        )
            .into_response()),
        Err(ApiError::TooManyAttempts { message, .. }) => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            login_page(Some(&format!(
                "Terlalu banyak percobaan gagal. / {message}."
            ))),
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// Signs out (the form carries the CSRF token): the session ends and the cookie is cleared.
pub async fn logout_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Result<Response, ApiError> {
    let Some(token) = cookie_token(&headers) else {
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response());
    };
    if !same_secret(f.csrf.as_bytes(), csrf_token(&token).as_bytes()) {
        return Err(ApiError::Forbidden(
            "missing or wrong CSRF token: sign out from the page".into(),
        ));
    }
    st.store
        .delete_session(&cakupan_store::accounts::token_hash(&token))
        .await?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie(&st, "", 0)?),
            (header::LOCATION, HeaderValue::from_static("/login")),
        ],
    )
        .into_response())
}

/// The signed-in user of a page request and the page's CSRF token, if any.
pub async fn page_session(st: &AppState, headers: &HeaderMap) -> Option<(String, String)> {
    let token = cookie_token(headers)?;
    let user = st
        .store
        .session_user(
            &cakupan_store::accounts::token_hash(&token),
            crate::auth::now_secs(),
        )
        .await
        .ok()??;
    Some((user.username, csrf_token(&token)))
}
