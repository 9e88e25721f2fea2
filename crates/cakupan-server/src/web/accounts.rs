//! Signing in and out from a browser, a participant's own page, and the page about the
//! software and the data it carries (with their licences).
//!
//! Sign-in is protected against login CSRF (another site signing a browser into an account of
//! its choosing): the form carries a random token that must equal the one in a short-lived
//! cookie set with the form (SameSite=Strict, HttpOnly), compared in constant time.

use super::i18n::Tr;
use super::participants::{month_label, status_label};
use super::{Nav, Page, PageError, St, html, html_status, safe_next};
use crate::AppState;
use crate::auth::{SESSION_COOKIE, cookie_token, csrf_token, same_secret};
use crate::error::ApiError;
use crate::sessions::{ClientAddr, sign_in};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cakupan_domain::Month;
use cakupan_domain::access::{Capability, Role};
use serde::Deserialize;

/// The cookie holding the sign-in form's own CSRF token.
pub const LOGIN_COOKIE: &str = "cakupan_login";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: &'static Tr,
    nav: Nav,
    message: Option<String>,
    token: String,
    next: String,
    username: String,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn session_cookie(st: &AppState, value: &str, max_age: i64) -> Result<HeaderValue, PageError> {
    let secure = if st.auth.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| PageError::Internal(e.to_string()))
}

fn login_cookie(st: &AppState, value: &str) -> Result<HeaderValue, PageError> {
    let secure = if st.auth.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={value}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    ))
    .map_err(|e| PageError::Internal(e.to_string()))
}

/// The sign-in form, with a fresh form token and its cookie.
fn login_response(
    st: &AppState,
    page: &Page,
    status: StatusCode,
    message: Option<String>,
    next: &str,
    username: &str,
) -> Result<Response, PageError> {
    let token = crate::auth::new_token().map_err(PageError::Internal)?;
    let body = LoginPage {
        t: page.t(),
        nav: page.nav(),
        message,
        token: token.clone(),
        next: next.to_string(),
        username: username.to_string(),
    }
    .render()?;
    Ok((
        status,
        [(header::SET_COOKIE, login_cookie(st, &token)?)],
        axum::response::Html(body),
    )
        .into_response())
}

/// The sign-in form.
pub async fn login_form(
    State(st): St,
    page: Page,
    Query(q): Query<NextQuery>,
) -> Result<Response, PageError> {
    login_response(
        &st,
        &page,
        StatusCode::OK,
        None,
        &safe_next(q.next.as_deref()),
        "",
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    /// The authenticator app's code (or a recovery code), for accounts with a second factor.
    #[serde(default)]
    totp: String,
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    next: String,
}

fn login_cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(LOGIN_COOKIE)
                .and_then(|r| r.strip_prefix('='))
                .map(str::to_string)
        })
}

/// Signs in from the form: a session cookie, then to `next` (one of our own paths) or the
/// dashboard. Refusals show the form again with the reason (401, 429; 403 for a form that did
/// not come from this site).
pub async fn login_submit(
    State(st): St,
    page: Page,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, PageError> {
    let t = page.t();
    let next = safe_next(Some(&f.next));
    let sent = login_cookie_value(&headers).unwrap_or_default();
    if sent.is_empty() || !same_secret(sent.as_bytes(), f.form_token.as_bytes()) {
        return login_response(
            &st,
            &page,
            StatusCode::FORBIDDEN,
            Some(page.lang.field_message(&cakupan_domain::FieldError::new(
                "csrf",
                "csrf",
                "the form has expired: reload the page and try again",
            ))),
            &next,
            &f.username,
        );
    }
    let totp = Some(f.totp.as_str()).filter(|t| !t.trim().is_empty());
    match sign_in(&st, &f.username, f.password, totp, &ip).await {
        Ok(s) => {
            let max_age = s.expires - crate::auth::now_secs();
            let to = if s.must_change_password {
                "/akun/sandi".to_string()
            } else if s.who.role.can(Capability::OwnRecord) && next == "/" {
                "/saya".to_string()
            } else {
                next
            };
            let mut resp = (
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, session_cookie(&st, &s.token, max_age)?),
                    (
                        header::LOCATION,
                        HeaderValue::from_str(&to)
                            .map_err(|e| PageError::Internal(e.to_string()))?,
                    ),
                ],
            )
                .into_response();
            // The form token has served its purpose.
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{LOGIN_COOKIE}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0"
            )) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            Ok(resp)
        }
        Err(ApiError::SecondFactor { error, .. }) => login_response(
            &st,
            &page,
            StatusCode::UNAUTHORIZED,
            Some(
                match error {
                    "second_factor_not_set_up" => t.second_factor_not_set_up,
                    "second_factor_required" => t.second_factor_required,
                    _ => t.second_factor_wrong,
                }
                .into(),
            ),
            &next,
            &f.username,
        ),
        Err(ApiError::Unauthenticated(_)) => login_response(
            &st,
            &page,
            StatusCode::UNAUTHORIZED,
            Some(t.wrong_password.into()),
            &next,
            &f.username,
        ),
        Err(ApiError::TooManyAttempts {
            retry_after_secs, ..
        }) => login_response(
            &st,
            &page,
            StatusCode::TOO_MANY_REQUESTS,
            Some(format!(
                "{} {}",
                t.too_many_attempts,
                t.try_again_minutes
                    .replace("{n}", &retry_after_secs.div_ceil(60).to_string())
            )),
            &next,
            &f.username,
        ),
        Err(ApiError::Busy {
            retry_after_secs, ..
        }) => {
            let mut resp = login_response(
                &st,
                &page,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(t.sign_in_busy.into()),
                &next,
                &f.username,
            )?;
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(resp)
        }
        Err(e) => Err(PageError::Internal(format!("{e:?}"))),
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

/// Signs out (the form carries the CSRF token): the session ends and the cookie is cleared.
pub async fn logout_submit(
    State(st): St,
    page: Page,
    headers: HeaderMap,
    Form(f): Form<LogoutForm>,
) -> Result<Response, PageError> {
    let Some(token) = cookie_token(&headers) else {
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response());
    };
    if !same_secret(f.csrf.as_bytes(), csrf_token(&token).as_bytes()) {
        return Err(PageError::Forbidden(
            page.lang,
            "missing or wrong CSRF token: sign out from the page".into(),
        ));
    }
    if let Some(me) = &page.user {
        page.audit(
            &st,
            "session.logout",
            format!("user:{}", me.who.user_id),
            "access",
        )
        .await?;
    }
    st.store
        .delete_session(&cakupan_store::accounts::token_hash(&token))
        .await?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, session_cookie(&st, "", 0)?),
            (header::LOCATION, HeaderValue::from_static("/login")),
        ],
    )
        .into_response())
}

struct OwnMonth {
    month: String,
    status: String,
    class: &'static str,
    reason: String,
}

struct OwnParticipation {
    kpj: String,
    payment_code: String,
    segment: String,
    name: String,
    village: String,
    programmes: String,
    status_now: String,
    status_class: &'static str,
    months: Vec<OwnMonth>,
}

#[derive(Template)]
#[template(path = "mine.html")]
struct MinePage {
    t: &'static Tr,
    nav: Nav,
    participations: Vec<OwnParticipation>,
    consents: Vec<String>,
    corrections: Vec<String>,
}

/// A participant's own page: each participation with its protection of the last twelve
/// months, their consents and correction requests (the full export with the processing log
/// is `GET /api/v1/me/data`).
pub async fn mine(State(st): St, page: Page) -> Result<Response, PageError> {
    let me = page.require()?;
    if !me.who.role.can(Capability::OwnRecord) {
        return Err(PageError::Forbidden(page.lang, String::new()));
    }
    let (lang, t) = (page.lang, page.t());
    let index = me
        .who
        .nik
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .ok_or(PageError::NotFound(lang))?;
    let ps = st.store.participants_by_index(&index).await?;
    let now = Month::of((st.today)());
    let mut participations = Vec::new();
    for p in &ps {
        page.audit(
            &st,
            "participant.read",
            format!("participant:{}", p.id),
            "data_subject_access",
        )
        .await?;
        let r = &p.registration;
        let ledger = st.store.ledger(p.id).await?;
        let registered = Month::of(r.registered_on);
        let facts = cakupan_store::ledger::facts(r.segment, registered, &ledger);
        let months =
            cakupan_domain::coverage::series(&st.rules, &facts, registered.max(now.plus(-11)), now)
                .map_err(|e| PageError::Internal(e.to_string()))?;
        let today = (st.today)();
        let shown = |m: &cakupan_domain::coverage::MonthStatus| {
            month_label(&st.rules, lang, r.segment, m, today)
        };
        let (status_now, status_class) = months
            .last()
            .map(|m| {
                let (status, class, _) = shown(m);
                (status, class)
            })
            .unwrap_or_else(|| status_label(t, cakupan_domain::coverage::Status::Pending));
        participations.push(OwnParticipation {
            kpj: p.kpj.clone(),
            payment_code: cakupan_app::payments::code_of(&st, p)
                .map(|va| va.digits())
                .unwrap_or_default(),
            segment: r.segment.to_string(),
            name: r.name.clone(),
            village: super::regions::region_name(&st, r.village),
            programmes: r.programmes.to_string(),
            status_now,
            status_class,
            months: months
                .iter()
                .rev()
                .map(|m| {
                    let (status, class, reason) = shown(m);
                    OwnMonth {
                        month: lang.month(m.month),
                        status,
                        class,
                        reason,
                    }
                })
                .collect(),
        });
    }
    let consents = st
        .store
        .consents(&index)
        .await?
        .iter()
        .map(|c| {
            format!(
                "{} — {} ({}, {})",
                c.purpose,
                c.decision,
                c.notice_version,
                crate::sessions::rfc3339(c.at)
            )
        })
        .collect();
    let ids: Vec<i64> = ps.iter().map(|p| p.id).collect();
    let corrections = st
        .store
        .corrections_of(&ids)
        .await?
        .iter()
        .map(|c| {
            format!(
                "{}: {} — {}{}",
                c.field,
                c.value,
                c.status,
                c.note
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    html(&MinePage {
        t,
        nav: page.nav(),
        participations,
        consents,
        corrections,
    })
}

#[derive(Template)]
#[template(path = "about.html")]
struct AboutPage {
    t: &'static Tr,
    nav: Nav,
    backend: &'static str,
}

/// What this is, and the data it carries with their sources and licences.
pub async fn about(State(st): St, page: Page) -> Result<Response, PageError> {
    html_status(
        StatusCode::OK,
        &AboutPage {
            t: page.t(),
            nav: page.nav(),
            backend: st.store.backend(),
        },
    )
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    t: &'static Tr,
    nav: Nav,
    csrf: String,
    forced: bool,
    done: bool,
    message: Option<String>,
    min_length: u32,
    hint: String,
}

#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    ok: Option<String>,
}

fn password_page(
    st: &AppState,
    page: &Page,
    status: StatusCode,
    done: bool,
    message: Option<String>,
) -> Result<Response, PageError> {
    let me = page.require()?;
    super::html_status(
        status,
        &PasswordPage {
            t: page.t(),
            nav: page.nav(),
            csrf: me.csrf.clone(),
            forced: me.must_change_password,
            done,
            message,
            min_length: st.auth.policy.min_password_length,
            hint: page
                .t()
                .password_hint
                .replace("{n}", &st.auth.policy.min_password_length.to_string()),
        },
    )
}

/// `/akun/sandi`: change your own password (where a reset password sends you first).
pub async fn password_form(
    State(st): St,
    page: Page,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    password_page(
        &st,
        &page,
        StatusCode::OK,
        q.ok.as_deref() == Some("1"),
        None,
    )
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
}

/// Changes the password from the form: the same service as the API; the other sessions end.
pub async fn password_submit(
    State(st): St,
    page: Page,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let lang = page.lang;
    if f.new_password != f.new_password_again {
        let e = cakupan_domain::FieldError::new(
            "new_password_again",
            "password.mismatch",
            "the two new passwords differ",
        );
        return password_page(
            &st,
            &page,
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            Some(lang.field_message(&e)),
        );
    }
    let keep = cookie_token(&headers).map(|t| cakupan_store::accounts::token_hash(&t));
    match crate::accounts::change_own_password(
        &st,
        &me.who,
        &page.request_id,
        keep.as_deref(),
        &ip,
        f.current_password,
        &f.new_password,
    )
    .await
    {
        Ok(()) => Ok((
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                HeaderValue::from_static("/akun/sandi?ok=1"),
            )],
        )
            .into_response()),
        Err(ApiError::Invalid(errs)) => {
            let message = errs
                .0
                .iter()
                .map(|e| lang.field_message(e))
                .collect::<Vec<_>>()
                .join(" ");
            password_page(
                &st,
                &page,
                StatusCode::UNPROCESSABLE_ENTITY,
                false,
                Some(message),
            )
        }
        Err(ApiError::TooManyAttempts {
            retry_after_secs, ..
        }) => password_page(
            &st,
            &page,
            StatusCode::TOO_MANY_REQUESTS,
            false,
            Some(format!(
                "{} {}",
                page.t().too_many_attempts,
                page.t()
                    .try_again_minutes
                    .replace("{n}", &retry_after_secs.div_ceil(60).to_string())
            )),
        ),
        Err(ApiError::Busy { .. }) => password_page(
            &st,
            &page,
            StatusCode::SERVICE_UNAVAILABLE,
            false,
            Some(page.t().sign_in_busy.into()),
        ),
        Err(e) => Err(PageError::Internal(format!("{e:?}"))),
    }
}

struct UserLine {
    username: String,
    role: String,
    region: String,
    disabled: bool,
    second_factor: bool,
    must_change: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    t: &'static Tr,
    nav: Nav,
    users: Vec<UserLine>,
    flash: Option<String>,
    /// One-time secrets to show once (recovery codes).
    codes: Vec<String>,
    message: Option<String>,
}

fn may_administer(page: &Page) -> Result<(), PageError> {
    page.allow(
        cakupan_domain::access::Action::Administer,
        &cakupan_domain::access::Resource::System,
    )
    .map(|_| ())
}

async fn users_page(
    st: &AppState,
    page: &Page,
    status: StatusCode,
    flash: Option<String>,
    codes: Vec<String>,
    message: Option<String>,
) -> Result<Response, PageError> {
    let lang = page.lang;
    let users = st
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| UserLine {
            role: Role::parse(&u.role)
                .map(|r| super::role_name(lang, r).to_string())
                .unwrap_or_default(),
            region: if u.region.is_empty() {
                page.t().nation.to_string()
            } else {
                cakupan_domain::RegionCode::parse(&u.region)
                    .map(|c| super::regions::region_name(st, c))
                    .unwrap_or_default()
            },
            username: u.username,
            disabled: u.disabled,
            second_factor: u.second_factor,
            must_change: u.must_change_password,
        })
        .collect();
    html_status(
        status,
        &UsersPage {
            t: page.t(),
            nav: page.nav(),
            users,
            flash,
            codes,
            message,
        },
    )
}

/// `/pengguna`: the accounts, for administrators, each with the lifecycle's actions.
pub async fn users(State(st): St, page: Page) -> Result<Response, PageError> {
    may_administer(&page)?;
    users_page(&st, &page, StatusCode::OK, None, Vec::new(), None).await
}

#[derive(Debug, Deserialize)]
pub struct UserActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

/// One action on one account (the same service as the API): disable, enable, end its
/// sessions, reset its password, set up its second factor. One-time secrets are shown once.
pub async fn user_action(
    State(st): St,
    page: Page,
    axum::extract::Path(username): axum::extract::Path<String>,
    Form(f): Form<UserActionForm>,
) -> Result<Response, PageError> {
    may_administer(&page)?;
    let me = page.check_csrf(&f.csrf)?.clone();
    let t = page.t();
    let by = &me.who;
    let rid = page.request_id.as_str();
    let who = username.trim().to_string();
    let done = match f.action.as_str() {
        "disable" => crate::accounts::set_disabled(&st, by, rid, &who, true)
            .await
            .map(|_| (t.user_done_disabled.replace("{u}", &who), Vec::new())),
        "enable" => crate::accounts::set_disabled(&st, by, rid, &who, false)
            .await
            .map(|_| (t.user_done_enabled.replace("{u}", &who), Vec::new())),
        "end_sessions" => crate::accounts::end_sessions(&st, by, rid, &who)
            .await
            .map(|n| {
                (
                    t.user_done_sessions
                        .replace("{u}", &who)
                        .replace("{n}", &n.to_string()),
                    Vec::new(),
                )
            }),
        "reset_password" => crate::accounts::reset_password(&st, by, rid, &who)
            .await
            .map(|pw| (t.user_done_reset.replace("{u}", &who), vec![pw])),
        "totp" => crate::accounts::enrol_totp(&st, by, rid, &who)
            .await
            .map(|e| {
                let mut codes = vec![e.secret, e.otpauth_url];
                codes.extend(e.recovery_codes);
                (t.user_done_totp.replace("{u}", &who), codes)
            }),
        _ => {
            return users_page(
                &st,
                &page,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Vec::new(),
                Some(t.user_unknown_action.into()),
            )
            .await;
        }
    };
    match done {
        Ok((flash, codes)) => {
            users_page(&st, &page, StatusCode::OK, Some(flash), codes, None).await
        }
        Err(ApiError::Invalid(errs)) => {
            let message = errs
                .0
                .iter()
                .map(|e| page.lang.field_message(e))
                .collect::<Vec<_>>()
                .join(" ");
            users_page(
                &st,
                &page,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Vec::new(),
                Some(message),
            )
            .await
        }
        Err(ApiError::NotFound(_)) => Err(PageError::NotFound(page.lang)),
        Err(ApiError::Busy { .. }) => {
            users_page(
                &st,
                &page,
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                Vec::new(),
                Some(t.sign_in_busy.into()),
            )
            .await
        }
        Err(e) => Err(PageError::Internal(format!("{e:?}"))),
    }
}
