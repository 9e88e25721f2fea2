//! Signing in and out from a browser, a participant's own page, and the page about the
//! software and the data it carries (with their licences).
//!
//! Sign-in is protected against login CSRF (another site signing a browser into an account of
//! its choosing): the form carries a random token that must equal the one in a short-lived
//! cookie set with the form (SameSite=Strict, HttpOnly), compared in constant time.

use super::i18n::{Lang, Tr};
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

pub(crate) fn session_cookie(
    st: &AppState,
    value: &str,
    max_age: i64,
) -> Result<HeaderValue, PageError> {
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

/// The value of the cookie `name` the request carries, if any.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(name)
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
    let sent = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
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

struct OwnPayment {
    paid: String,
    months: String,
    amount: String,
    receipt: String,
}

struct OwnParticipation {
    id: i64,
    kpj: String,
    payment_code: String,
    segment: String,
    name: String,
    village: String,
    programmes: String,
    protected_until: String,
    status_now: String,
    status_class: &'static str,
    reason_now: String,
    months: Vec<OwnMonth>,
    amounts: Vec<(String, String)>,
    payments: Vec<OwnPayment>,
    heirs: Vec<String>,
}

#[derive(Template)]
#[template(path = "mine.html")]
struct MinePage {
    t: &'static Tr,
    w: &'static super::i18n::Ew,
    nav: Nav,
    csrf: String,
    participations: Vec<OwnParticipation>,
    consents: Vec<String>,
    corrections: Vec<String>,
    correctable: Vec<(&'static str, &'static str)>,
    message: String,
    errors: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct MineQuery {
    ok: Option<String>,
}

/// The participant's index, or the reason they may not see this page.
pub(crate) fn own_index(page: &Page) -> Result<(&super::SignedIn, Vec<u8>), PageError> {
    let me = page.require()?;
    if !me.who.role.can(Capability::OwnRecord) {
        return Err(PageError::Forbidden(page.lang, String::new()));
    }
    let index = me
        .who
        .nik
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .ok_or(PageError::NotFound(page.lang))?;
    Ok((me, index))
}

/// A participant's own page: for each participation its protection (protected until, this
/// month's status and why, the last twelve months), the payment code with what 1, 3, 6 or 12
/// months cost, the payments made with their receipt numbers, the heirs; their consents and
/// correction requests with a form to ask for one; links to the card, the phone change and the
/// data held with who read it.
pub async fn mine(
    State(st): St,
    page: Page,
    Query(q): Query<MineQuery>,
) -> Result<Response, PageError> {
    let t = page.t();
    let message = match q.ok.as_deref() {
        Some("koreksi") => {
            t.ew.correction_sent
                .replace("{h}", &st.auth.policy.correction_due_hours.to_string())
        }
        _ => String::new(),
    };
    mine_page(&st, &page, message, Vec::new(), StatusCode::OK).await
}

async fn mine_page(
    st: &AppState,
    page: &Page,
    message: String,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (me, index) = own_index(page)?;
    let (lang, t) = (page.lang, page.t());
    let ps = st.store.participants_by_index(&index).await?;
    let now = Month::of((st.today)());
    let today = (st.today)();
    let mut participations = Vec::new();
    for p in &ps {
        page.audit(
            st,
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
        let shown = |m: &cakupan_domain::coverage::MonthStatus| {
            month_label(&st.rules, lang, r.segment, m, today)
        };
        let (status_now, status_class, reason_now) =
            months.last().map(shown).unwrap_or_else(|| {
                let (s, c) = status_label(t, cakupan_domain::coverage::Status::Pending);
                (s, c, String::new())
            });
        let reversed: std::collections::HashSet<&str> = ledger
            .iter()
            .filter(|l| l.kind == "reversal")
            .filter_map(|l| l.target_reference.as_deref())
            .collect();
        let payments = ledger
            .iter()
            .rev()
            .filter(|l| l.kind == "contribution" && !reversed.contains(l.reference.as_str()))
            .map(|l| {
                let first = l.first_month.and_then(Month::from_index);
                let n = l.months.unwrap_or(1).max(1);
                OwnPayment {
                    paid: l
                        .paid_month
                        .and_then(Month::from_index)
                        .map(|m| lang.month(m))
                        .unwrap_or_default(),
                    months: match first {
                        Some(f) if n > 1 => {
                            format!("{} – {}", lang.month(f), lang.month(f.plus(n - 1)))
                        }
                        Some(f) => lang.month(f),
                        None => String::new(),
                    },
                    amount: l.amount.map(|a| lang.rupiah(a)).unwrap_or_default(),
                    receipt: cakupan_store::agents::receipt_number(st.store.keys(), l.id),
                }
            })
            .collect();
        let amounts = super::enrolment::amounts(st, lang, p).await?;
        participations.push(OwnParticipation {
            id: p.id,
            kpj: p.kpj.clone(),
            payment_code: cakupan_app::payments::code_of(st, p)
                .map(|va| va.digits())
                .unwrap_or_default(),
            segment: match r.segment {
                cakupan_domain::Segment::Bpu => t.bpu.to_string(),
                cakupan_domain::Segment::Pu => t.pu.to_string(),
            },
            name: r.name.clone(),
            village: super::regions::region_name(st, r.village),
            programmes: r.programmes.to_string(),
            protected_until: cakupan_domain::coverage::protected_until(&facts)
                .map(|m| lang.month(m))
                .unwrap_or_else(|| t.ew.not_protected.to_string()),
            status_now,
            status_class,
            reason_now,
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
            amounts,
            payments,
            heirs: r
                .heirs
                .iter()
                .map(|h| {
                    let rel = cakupan_domain::participants::Relationship::ALL
                        .iter()
                        .position(|x| *x == h.relationship)
                        .and_then(|i| t.ew.relationships.get(i))
                        .copied()
                        .unwrap_or_default();
                    format!("{} ({rel})", h.name)
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
                consent_purpose(lang, &c.purpose),
                if c.decision == "given" {
                    t.ew.consent_given
                } else {
                    t.ew.consent_withdrawn
                },
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
                t.ew.label(&c.field),
                c.value,
                match c.status.as_str() {
                    "open" => t.ew.correction_open,
                    "done" => t.ew.correction_done,
                    _ => t.ew.correction_refused,
                },
                c.note
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    html_status(
        status,
        &MinePage {
            t,
            w: t.ew,
            nav: page.nav(),
            csrf: me.csrf.clone(),
            participations,
            consents,
            corrections,
            correctable: crate::rights::CORRECTABLE
                .iter()
                .map(|f| (*f, t.ew.label(f)))
                .collect(),
            message,
            errors,
        },
    )
}

/// A consent's purpose in the reader's words.
fn consent_purpose(lang: Lang, purpose: &str) -> &'static str {
    let w = lang.tr().ew;
    match purpose {
        "enrolment" => w.purpose_enrolment,
        "marketing" => w.purpose_marketing,
        "research" => w.purpose_research,
        "sharing_with_partners" => w.purpose_sharing,
        _ => w.purpose_other,
    }
}

#[derive(Debug, Deserialize)]
pub struct OwnCorrectionForm {
    csrf: String,
    participant_id: i64,
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
}

/// Files a correction request from the participant's page (the API's own path).
pub async fn own_correction(
    State(st): St,
    page: Page,
    Form(f): Form<OwnCorrectionForm>,
) -> Result<Response, PageError> {
    own_index(&page)?;
    let me = page.check_csrf(&f.csrf)?.clone();
    let caller = crate::auth::Caller {
        who: me.who.clone(),
        request_id: page.request_id.clone(),
    };
    let input = crate::rights::CorrectionInput {
        participant_id: f.participant_id,
        field: f.field,
        value: f.value,
        reason: f.reason,
    };
    match crate::rights::file_correction(&st, &caller, &input).await {
        Ok(_) => Ok(axum::response::Redirect::to("/saya?ok=koreksi").into_response()),
        Err(ApiError::Invalid(e)) => {
            let t = page.t();
            let errors = e
                .iter()
                .map(|x| format!("{}: {}", t.ew.label(&x.field), page.lang.field_message(x)))
                .collect();
            mine_page(
                &st,
                &page,
                String::new(),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

#[derive(Template)]
#[template(path = "saya_data.html")]
struct OwnDataPage {
    t: &'static Tr,
    w: &'static super::i18n::Ew,
    nav: Nav,
    held: Vec<(String, String)>,
    log: Vec<(String, String, String)>,
}

/// The data the agency holds about the participant and every read and change of it (the API's
/// `GET /api/v1/me/data` as a page).
pub async fn own_data(State(st): St, page: Page) -> Result<Response, PageError> {
    let (_, index) = own_index(&page)?;
    let (lang, t) = (page.lang, page.t());
    let w = t.ew;
    let ps = st.store.participants_by_index(&index).await?;
    let mut held = Vec::new();
    for p in &ps {
        let r = &p.registration;
        held.extend([
            (w.kpj.to_string(), p.kpj.clone()),
            (w.nik.to_string(), r.nik.to_string()),
            (w.name.to_string(), r.name.clone()),
            (
                w.birth_date.to_string(),
                cakupan_domain::month::format_date(r.birth_date),
            ),
            (
                w.sex.to_string(),
                if r.sex == cakupan_domain::Sex::L {
                    t.sex_l
                } else {
                    t.sex_p
                }
                .to_string(),
            ),
            (w.phone.to_string(), r.phone.clone().unwrap_or_default()),
            (w.village.to_string(), st.regions.path_label(r.village)),
            (w.address.to_string(), r.address.clone().unwrap_or_default()),
            (
                w.occupation.to_string(),
                st.rules
                    .occupation(&r.occupation_code)
                    .map(|o| match lang {
                        Lang::Id => o.name_id.clone(),
                        Lang::En => o.name_en.clone(),
                    })
                    .unwrap_or_default(),
            ),
            (w.income.to_string(), lang.rupiah(r.income_base.0)),
            (w.programmes.to_string(), r.programmes.to_string()),
            (
                w.channel.to_string(),
                super::i18n::channel_name(lang, r.channel.as_str()),
            ),
        ]);
    }
    let records: Vec<String> = ps.iter().map(|p| format!("participant:{}", p.id)).collect();
    let log = st
        .store
        .audit_for(&records)
        .await?
        .iter()
        .rev()
        .map(|a| {
            let who = Role::parse(&a.entry.role)
                .map(|r| super::role_name(lang, r))
                .unwrap_or(w.read_by_system);
            (
                crate::sessions::rfc3339(a.entry.at / 1000).replace('T', " "),
                format!("{who} · {}", a.entry.actor),
                action_words(lang, &a.entry.action).to_string(),
            )
        })
        .collect();
    page.audit_many(&st, "participant.export", records, "data_subject_access")
        .await?;
    html(&OwnDataPage {
        t,
        w,
        nav: page.nav(),
        held,
        log,
    })
}

/// What an audit entry's action did, in the reader's words.
fn action_words(lang: Lang, action: &str) -> &'static str {
    let w = lang.tr().ew;
    match action {
        "participant.register" => w.did_register,
        "participant.read" | "participant.lookup" => w.did_read,
        "participant.export" => w.did_export,
        "card.read" => w.did_card,
        "participant.phone_change" => w.did_phone,
        "participant.review" => w.did_review,
        a if a.starts_with("correction.") => w.did_correction,
        a if a.starts_with("posting.") || a.starts_with("payment.") => w.did_payment,
        _ => w.did_other,
    }
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
            backend: match st.store.backend() {
                "postgres" => "PostgreSQL",
                _ => "SQLite",
            },
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
    q: String,
    pager: super::Pager,
}

fn may_administer(page: &Page) -> Result<(), PageError> {
    page.allow(
        cakupan_domain::access::Action::Administer,
        &cakupan_domain::access::Resource::System,
    )
    .map(|_| ())
}

/// The list's filter and page (`/pengguna?q=…&hal=…`).
#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    hal: Option<usize>,
}

async fn users_page(
    st: &AppState,
    page: &Page,
    status: StatusCode,
    flash: Option<String>,
    codes: Vec<String>,
    message: Option<String>,
    query: &UsersQuery,
) -> Result<Response, PageError> {
    let lang = page.lang;
    let q = query.q.trim().to_lowercase();
    // In the store's order (by username); the filter is a part of the name.
    let users = st
        .store
        .users()
        .await?
        .into_iter()
        .filter(|u| q.is_empty() || u.username.contains(&q))
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
    let (users, pager) = super::paginate(lang, users, query.hal, |n| {
        format!("/pengguna?q={}&hal={n}", cakupan_app::sms::url_encode(&q))
    });
    html_status(
        status,
        &UsersPage {
            t: page.t(),
            nav: page.nav(),
            users,
            flash,
            codes,
            message,
            q,
            pager,
        },
    )
}

/// `/pengguna`: the accounts, for administrators, each with the lifecycle's actions; a filter
/// by name and 50 a page.
pub async fn users(
    State(st): St,
    page: Page,
    Query(query): Query<UsersQuery>,
) -> Result<Response, PageError> {
    may_administer(&page)?;
    users_page(&st, &page, StatusCode::OK, None, Vec::new(), None, &query).await
}

/// The new account form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    agent_code: String,
    #[serde(default)]
    nik: String,
    #[serde(default)]
    employer: String,
}

#[derive(Template)]
#[template(path = "user_new.html")]
struct NewUserPage {
    t: &'static Tr,
    nav: Nav,
    f: NewUserForm,
    /// Each role's value and name, in the reader's words.
    roles: Vec<(&'static str, &'static str)>,
    /// The problems, by field: (field, message in the reader's language).
    errors: Vec<(String, String)>,
}

impl NewUserPage {
    fn err(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn new_user_page(
    page: &Page,
    status: StatusCode,
    f: NewUserForm,
    errors: Vec<(String, String)>,
) -> Result<Response, PageError> {
    html_status(
        status,
        &NewUserPage {
            t: page.t(),
            nav: page.nav(),
            f,
            roles: Role::ALL
                .iter()
                .map(|r| (r.as_str(), super::role_name(page.lang, *r)))
                .collect(),
            errors,
        },
    )
}

/// `/pengguna/baru`: the form for a new account.
pub async fn new_user_form(page: Page) -> Result<Response, PageError> {
    may_administer(&page)?;
    new_user_page(&page, StatusCode::OK, NewUserForm::default(), Vec::new())
}

/// Creates the account (the API's service): every problem shown by its field; on success the
/// list with the one-time password, shown once.
pub async fn new_user_submit(
    State(st): St,
    page: Page,
    Form(f): Form<NewUserForm>,
) -> Result<Response, PageError> {
    may_administer(&page)?;
    let me = page.check_csrf(&f.csrf)?.clone();
    let opt = |v: &str| Some(v.to_string()).filter(|s| !s.trim().is_empty());
    let new = crate::accounts::NewAccount {
        username: f.username.clone(),
        role: f.role.clone(),
        region: opt(&f.region),
        agent_code: opt(&f.agent_code),
        nik: opt(&f.nik),
        employer: opt(&f.employer),
    };
    match crate::accounts::create_account(&st, &me.who, &page.request_id, &new, None).await {
        Ok(made) => {
            let flash = page.t().user_done_created.replace("{u}", &made.username);
            let query = UsersQuery {
                q: made.username,
                hal: None,
            };
            users_page(
                &st,
                &page,
                StatusCode::CREATED,
                Some(flash),
                made.password.into_iter().collect(),
                None,
                &query,
            )
            .await
        }
        Err(ApiError::Invalid(errs)) => {
            let errors = errs
                .0
                .iter()
                .map(|e| (e.field.clone(), page.lang.field_message(e)))
                .collect();
            new_user_page(&page, StatusCode::UNPROCESSABLE_ENTITY, f, errors)
        }
        Err(ApiError::Busy { .. }) => new_user_page(
            &page,
            StatusCode::SERVICE_UNAVAILABLE,
            f,
            vec![(String::new(), page.t().sign_in_busy.into())],
        ),
        Err(e) => Err(PageError::Internal(format!("{e:?}"))),
    }
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
                &UsersQuery::default(),
            )
            .await;
        }
    };
    match done {
        Ok((flash, codes)) => {
            users_page(
                &st,
                &page,
                StatusCode::OK,
                Some(flash),
                codes,
                None,
                &UsersQuery { q: who, hal: None },
            )
            .await
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
                &UsersQuery::default(),
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
                &UsersQuery::default(),
            )
            .await
        }
        Err(e) => Err(PageError::Internal(format!("{e:?}"))),
    }
}
