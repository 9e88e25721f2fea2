//! The worker's own pages (issue #20), phone first: registering at `/daftar` with a code sent
//! by SMS, signing in at `/masuk` with a code, the card and its public check, changing the
//! phone, filing a correction, the data held and who read it; and for branch officers the
//! review of NIK warnings (`/tinjauan`). The operations are `cakupan_app::enrolment`'s.
//!
//! Signed-out forms carry their own CSRF token, equal to a cookie set with the form
//! (SameSite=Strict, HttpOnly), as the staff sign-in form does.

use super::i18n::{Ew, Lang, Tr};
use super::{Nav, Page, PageError, St, html, html_status};
use crate::AppState;
use crate::auth::same_secret;
use crate::error::ApiError;
use crate::sessions::ClientAddr;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cakupan_app::enrolment as svc;
use cakupan_domain::participants::{HeirInput, RegistrationInput};
use cakupan_domain::{FieldError, FieldErrors, Month, ProgrammeSet, RegionCode, Rupiah};
use serde::Deserialize;
use std::collections::HashMap;

/// The cookie holding a signed-out form's CSRF token.
pub const FORM_COOKIE: &str = "cakupan_form";

/// The form token of this browser (its cookie's, or a new one to set).
fn form_token(headers: &HeaderMap) -> Result<(String, bool), PageError> {
    match super::accounts::cookie_value(headers, FORM_COOKIE).filter(|v| v.len() == 64) {
        Some(t) => Ok((t, false)),
        None => Ok((crate::auth::new_token().map_err(PageError::Internal)?, true)),
    }
}

/// A page response, setting the form cookie when it is new.
fn with_cookie(
    st: &AppState,
    status: StatusCode,
    body: String,
    token: &str,
    fresh: bool,
) -> Result<Response, PageError> {
    let mut resp = (status, axum::response::Html(body)).into_response();
    if fresh {
        let secure = if st.auth.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        let v = HeaderValue::from_str(&format!(
            "{FORM_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=7200{secure}"
        ))
        .map_err(|e| PageError::Internal(e.to_string()))?;
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Checks a signed-out form's token against its cookie.
fn check_form(page: &Page, headers: &HeaderMap, sent: &str) -> Result<(), PageError> {
    let cookie = super::accounts::cookie_value(headers, FORM_COOKIE).unwrap_or_default();
    if !cookie.is_empty() && same_secret(cookie.as_bytes(), sent.as_bytes()) {
        return Ok(());
    }
    Err(PageError::Forbidden(
        page.lang,
        page.lang.field_message(&FieldError::new(
            "csrf",
            "csrf",
            "the form has expired: reload the page and try again",
        )),
    ))
}

/// Field errors by field and a summary naming each field in the worker's words.
fn messages(lang: Lang, w: &Ew, errors: &FieldErrors) -> (HashMap<String, String>, Vec<String>) {
    let mut by_field = HashMap::new();
    let mut summary = Vec::new();
    for e in errors.iter() {
        let field = on_form(&e.field);
        let msg = lang.field_message(e);
        summary.push(format!("{}: {msg}", w.label(&field)));
        by_field.entry(field).or_insert(msg);
    }
    (by_field, summary)
}

/// The form's name of a field the registration reports.
fn on_form(field: &str) -> String {
    match field {
        "heirs[0].name" => "heir_name".into(),
        "heirs[0].relationship" => "heir_relationship".into(),
        "occupation_code" => "occupation".into(),
        other => other.to_string(),
    }
}

/// An error page-worthy message of a refusal that is not about a field.
fn refusal(lang: Lang, w: &Ew, e: &ApiError) -> Option<String> {
    match e {
        ApiError::Busy { .. } => Some(w.gateway_down.to_string()),
        ApiError::TooManyAttempts {
            retry_after_secs, ..
        } => Some(
            w.too_many_codes
                .replace("{n}", &retry_after_secs.div_ceil(60).max(1).to_string()),
        ),
        ApiError::Forbidden(_) => Some(lang.tr().forbidden.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Registration

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DaftarForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    nik: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    village_q: String,
    #[serde(default)]
    village_code: String,
    #[serde(default)]
    occupation: String,
    #[serde(default)]
    income_base: String,
    #[serde(default)]
    programs: String,
    #[serde(default)]
    heir_name: String,
    #[serde(default)]
    heir_relationship: String,
    #[serde(default)]
    agent_code: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    consent: String,
    /// `find` (search villages without script) or `code` (send the code).
    #[serde(default)]
    action: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    code: String,
}

impl DaftarForm {
    fn consented(&self) -> bool {
        matches!(self.consent.as_str(), "ya" | "yes" | "on" | "true")
    }

    /// The occupation's code from what was typed: its code, its name in either language, or
    /// a datalist entry ending in `(code)`.
    fn occupation_code(&self, st: &AppState) -> String {
        let typed = self.occupation.trim();
        if st.rules.occupation(typed).is_some() {
            return typed.to_string();
        }
        if let Some(code) = typed
            .rsplit_once('(')
            .and_then(|(_, c)| c.strip_suffix(')'))
            .filter(|c| st.rules.occupation(c).is_some())
        {
            return code.to_string();
        }
        st.rules
            .occupations
            .iter()
            .find(|o| {
                o.name_id.eq_ignore_ascii_case(typed) || o.name_en.eq_ignore_ascii_case(typed)
            })
            .map(|o| o.code.clone())
            .unwrap_or_else(|| typed.to_string())
    }

    fn input(&self, st: &AppState) -> RegistrationInput {
        RegistrationInput {
            nik: self.nik.trim().to_string(),
            name: self.name.clone(),
            birth_date: self.birth_date.clone(),
            sex: self.sex.clone(),
            phone: self.phone.clone(),
            village_code: self.village_code.clone(),
            occupation_code: self.occupation_code(st),
            income_base: self.income_base.clone(),
            programs: if self.programs.trim().is_empty() {
                "JKK+JKM".into()
            } else {
                self.programs.clone()
            },
            agent_code: self.agent_code.trim().to_string(),
            address: self.address.clone(),
            heirs: if self.heir_name.trim().is_empty() && self.heir_relationship.trim().is_empty() {
                Vec::new()
            } else {
                vec![HeirInput {
                    name: self.heir_name.clone(),
                    relationship: self.heir_relationship.clone(),
                    nik: String::new(),
                    phone: String::new(),
                }]
            },
            ..RegistrationInput::default()
        }
    }

    /// The fields carried from one step to the next, as hidden inputs.
    fn carried(&self) -> Vec<(&'static str, String)> {
        vec![
            ("nik", self.nik.clone()),
            ("name", self.name.clone()),
            ("birth_date", self.birth_date.clone()),
            ("sex", self.sex.clone()),
            ("phone", self.phone.clone()),
            ("village_code", self.village_code.clone()),
            ("occupation", self.occupation.clone()),
            ("income_base", self.income_base.clone()),
            ("programs", self.programs.clone()),
            ("heir_name", self.heir_name.clone()),
            ("heir_relationship", self.heir_relationship.clone()),
            ("agent_code", self.agent_code.clone()),
            ("address", self.address.clone()),
            ("consent", self.consent.clone()),
        ]
    }
}

struct Choice {
    value: String,
    label: String,
    hint: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "daftar.html")]
struct DaftarPage {
    t: &'static Tr,
    w: &'static Ew,
    nav: Nav,
    f: DaftarForm,
    token: String,
    errors: HashMap<String, String>,
    summary: Vec<String>,
    message: Option<String>,
    villages: Vec<Choice>,
    occupations: Vec<String>,
    brackets: Vec<Choice>,
    programmes: Vec<Choice>,
    relationships: Vec<Choice>,
}

impl DaftarPage {
    fn err(&self, field: &str) -> &str {
        self.errors.get(field).map(String::as_str).unwrap_or("")
    }
}

/// The villages to choose from: the one chosen, then those matching what was typed.
fn village_choices(st: &AppState, lang: Lang, f: &DaftarForm) -> Vec<Choice> {
    let mut out = Vec::new();
    let chosen = RegionCode::parse(f.village_code.trim())
        .ok()
        .filter(|c| st.regions.get(*c).is_some());
    if let Some(c) = chosen {
        out.push(village_choice(st, lang, c, true));
    }
    for v in crate::enrolment::village_matches(st, &f.village_q, 15) {
        if let Ok(code) = RegionCode::parse(&v.code)
            && Some(code) != chosen
        {
            out.push(village_choice(st, lang, code, false));
        }
    }
    out
}

fn village_choice(st: &AppState, lang: Lang, code: RegionCode, checked: bool) -> Choice {
    let w = lang.tr().ew;
    let name = |level| {
        st.regions
            .get(code.truncate(level))
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    Choice {
        value: code.to_string(),
        label: name(cakupan_domain::Level::Village),
        hint: format!(
            "{} {}, {}, {}",
            w.district_short,
            name(cakupan_domain::Level::District),
            name(cakupan_domain::Level::Regency),
            name(cakupan_domain::Level::Province)
        ),
        checked,
    }
}

/// What a month of protection costs at one income base with these programmes.
fn monthly(st: &AppState, base: i64, programmes: &str, sector_of: &str) -> Option<Rupiah> {
    let month = Month::of((st.today)());
    let sector = st
        .rules
        .occupation(sector_of)
        .or_else(|| st.rules.occupations.first())?
        .sector;
    let profile = cakupan_domain::contribution::Profile {
        segment: cakupan_domain::Segment::Bpu,
        income_base: Rupiah(base),
        programmes: ProgrammeSet::parse(programmes).ok()?,
        sector,
        budget_funded: false,
        risk_class: None,
    };
    cakupan_domain::contribution::dues(&st.rules, &profile, month, 1)
        .ok()?
        .first()
        .map(|(_, r)| *r)
}

fn daftar_page(
    st: &AppState,
    page: &Page,
    mut f: DaftarForm,
    token: String,
    errors: &FieldErrors,
    message: Option<String>,
) -> DaftarPage {
    let lang = page.lang;
    let t = page.t();
    let w = t.ew;
    if f.programs.trim().is_empty() {
        f.programs = "JKK+JKM".into();
    }
    let occupation = f.occupation_code(st);
    let bases = st
        .rules
        .bracket_table(Month::of((st.today)()))
        .map(|b| b.bases.clone())
        .unwrap_or_default();
    let brackets = bases
        .iter()
        .map(|b| Choice {
            value: b.to_string(),
            label: w.bracket.replace("{base}", &lang.rupiah(*b)),
            hint: match (
                monthly(st, *b, "JKK+JKM", &occupation),
                monthly(st, *b, "JKK+JKM+JHT", &occupation),
            ) {
                (Some(basic), Some(with_jht)) => w
                    .bracket_cost
                    .replace("{basic}", &lang.rupiah(basic.0))
                    .replace("{jht}", &lang.rupiah(with_jht.0)),
                _ => String::new(),
            },
            checked: f.income_base.trim() == b.to_string(),
        })
        .collect();
    let programmes = [
        ("JKK+JKM", w.programmes_basic),
        ("JKK+JKM+JHT", w.programmes_jht),
    ]
    .iter()
    .map(|(v, label)| Choice {
        value: v.to_string(),
        label: label.to_string(),
        hint: String::new(),
        checked: f.programs == *v,
    })
    .collect();
    let relationships = ["suami/istri", "anak", "orang tua", "saudara", "lainnya"]
        .iter()
        .zip(w.relationships)
        .map(|(v, label)| Choice {
            value: v.to_string(),
            label: label.to_string(),
            hint: String::new(),
            checked: f.heir_relationship == *v,
        })
        .collect();
    let occupations = st
        .rules
        .occupations
        .iter()
        .map(|o| match lang {
            Lang::Id => format!("{} ({})", o.name_id, o.code),
            Lang::En => format!("{} ({})", o.name_en, o.code),
        })
        .collect();
    let (errs, summary) = messages(lang, w, errors);
    DaftarPage {
        t,
        w,
        nav: page.nav(),
        villages: village_choices(st, lang, &f),
        f,
        token,
        errors: errs,
        summary,
        message,
        occupations,
        brackets,
        programmes,
        relationships,
    }
}

/// The registration form.
pub async fn form(State(st): St, page: Page, headers: HeaderMap) -> Result<Response, PageError> {
    let (token, fresh) = form_token(&headers)?;
    let view = daftar_page(
        &st,
        &page,
        DaftarForm::default(),
        token.clone(),
        &FieldErrors::default(),
        None,
    );
    with_cookie(&st, StatusCode::OK, view.render()?, &token, fresh)
}

#[derive(Debug, Deserialize)]
pub struct VillageSearch {
    #[serde(default)]
    village_q: String,
}

#[derive(Template)]
#[template(path = "daftar_desa.html")]
struct VillageList {
    w: &'static Ew,
    villages: Vec<Choice>,
    searched: bool,
}

/// The villages matching what is typed (htmx, as the worker types).
pub async fn villages(
    State(st): St,
    page: Page,
    Query(q): Query<VillageSearch>,
) -> Result<Response, PageError> {
    let f = DaftarForm {
        village_q: q.village_q,
        ..DaftarForm::default()
    };
    html(&VillageList {
        w: page.t().ew,
        searched: f.village_q.trim().chars().count() >= 2,
        villages: village_choices(&st, page.lang, &f),
    })
}

#[derive(Template)]
#[template(path = "daftar_kode.html")]
struct CodePage {
    t: &'static Tr,
    w: &'static Ew,
    nav: Nav,
    token: String,
    carried: Vec<(&'static str, String)>,
    key: String,
    sent: String,
    error: String,
}

/// Step one: every field checked; then a code to the phone, and the code's form.
pub async fn ask_code(
    State(st): St,
    page: Page,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<DaftarForm>,
) -> Result<Response, PageError> {
    check_form(&page, &headers, &f.form_token)?;
    let token = f.form_token.clone();
    let again = |f: DaftarForm, errors: FieldErrors, message: Option<String>, status| {
        let view = daftar_page(&st, &page, f, token.clone(), &errors, message);
        html_status(status, &view)
    };
    if f.action == "find" {
        return again(f, FieldErrors::default(), None, StatusCode::OK);
    }
    let mut errors = FieldErrors::default();
    if !f.consented() {
        errors.0.push(FieldError::new(
            "consent",
            "consent.required",
            "consent is required: registering needs your agreement to the processing notice",
        ));
    }
    let checked = svc::checked(&st, &f.input(&st)).await;
    match checked {
        Err(ApiError::Invalid(e)) => {
            errors.0.extend(e.0);
        }
        Err(e) => return Err(PageError::Internal(e.to_string())),
        Ok(_) => {}
    }
    if !errors.0.is_empty() {
        return again(f, errors, None, StatusCode::UNPROCESSABLE_ENTITY);
    }
    match svc::ask_registration_code(&st, &f.input(&st), &ip).await {
        Ok(asked) => code_page(
            &page,
            &f,
            token.clone(),
            asked.key,
            String::new(),
            asked.valid_secs,
        ),
        Err(ApiError::Invalid(e)) => again(f, e, None, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => match refusal(page.lang, page.t().ew, &e) {
            Some(m) => again(
                f,
                FieldErrors::default(),
                Some(m),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            None => Err(PageError::Internal(e.to_string())),
        },
    }
}

fn code_page(
    page: &Page,
    f: &DaftarForm,
    token: String,
    key: String,
    error: String,
    valid_secs: u32,
) -> Result<Response, PageError> {
    let t = page.t();
    html_status(
        if error.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        },
        &CodePage {
            t,
            w: t.ew,
            nav: page.nav(),
            token,
            carried: f.carried(),
            key,
            sent: t
                .ew
                .code_sent
                .replace(
                    "{phone}",
                    &cakupan_domain::phone::normalise_phone(&f.phone).unwrap_or_default(),
                )
                .replace("{n}", &valid_secs.div_ceil(60).to_string()),
            error,
        },
    )
}

#[derive(Template)]
#[template(path = "daftar_selesai.html")]
struct DonePage {
    t: &'static Tr,
    w: &'static Ew,
    nav: Nav,
    kpj: String,
    payment_code: String,
    created: bool,
    amounts: Vec<(String, String)>,
    card: String,
}

#[derive(Template)]
#[template(path = "daftar_masuk.html")]
struct SignInInsteadPage {
    t: &'static Tr,
    w: &'static Ew,
    nav: Nav,
}

/// What `p` owes for each period it may pay at once, as the worker reads it.
pub(crate) async fn amounts(
    st: &AppState,
    lang: Lang,
    p: &cakupan_store::Participant,
) -> Result<Vec<(String, String)>, PageError> {
    let w = lang.tr().ew;
    Ok(cakupan_app::payments::offers(st, p)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
        .into_iter()
        .map(|(n, due)| {
            (
                w.months_n.replace("{n}", &n.to_string()),
                lang.rupiah(due.total.0),
            )
        })
        .collect())
}

/// Step two: the code is right, so the worker is registered and signed in to their own pages.
pub async fn register(
    State(st): St,
    page: Page,
    headers: HeaderMap,
    Form(f): Form<DaftarForm>,
) -> Result<Response, PageError> {
    check_form(&page, &headers, &f.form_token)?;
    let t = page.t();
    let outcome =
        svc::register_with_code(&st, &f.input(&st), &f.key, &f.code, &page.request_id).await;
    match outcome {
        Ok(svc::Enrolled::SignInInstead) => html_status(
            StatusCode::CONFLICT,
            &SignInInsteadPage {
                t,
                w: t.ew,
                nav: page.nav(),
            },
        ),
        Ok(svc::Enrolled::Registered {
            id,
            kpj,
            created,
            user,
        }) => {
            let p = st
                .store
                .participant(id)
                .await?
                .ok_or(PageError::NotFound(page.lang))?;
            let s = crate::sessions::open_session(&st, &user, "session.login_code")
                .await
                .map_err(|e| PageError::Internal(e.to_string()))?;
            let body = DonePage {
                t,
                w: t.ew,
                nav: page.nav(),
                payment_code: cakupan_app::payments::code_of_kpj(&st, &kpj)
                    .map(|v| v.digits())
                    .unwrap_or_default(),
                kpj,
                created,
                amounts: amounts(&st, page.lang, &p).await?,
                card: "/saya/kartu".into(),
            }
            .render()?;
            let mut resp = (
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                axum::response::Html(body),
            )
                .into_response();
            resp.headers_mut().append(
                header::SET_COOKIE,
                super::accounts::session_cookie(
                    &st,
                    &s.token,
                    s.expires - crate::auth::now_secs(),
                )?,
            );
            Ok(resp)
        }
        Err(ApiError::Invalid(e)) => {
            let code_error = e.iter().find(|x| x.field == "code");
            match code_error {
                Some(x) => {
                    let msg = page.lang.field_message(x);
                    let valid = svc::policy(&st).map(|r| r.otp_valid_secs).unwrap_or(300);
                    code_page(&page, &f, f.form_token.clone(), f.key.clone(), msg, valid)
                }
                None => html_status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &daftar_page(&st, &page, f.clone(), f.form_token.clone(), &e, None),
                ),
            }
        }
        Err(e) => match refusal(page.lang, t.ew, &e) {
            Some(m) => html_status(
                StatusCode::SERVICE_UNAVAILABLE,
                &daftar_page(
                    &st,
                    &page,
                    f.clone(),
                    f.form_token.clone(),
                    &FieldErrors::default(),
                    Some(m),
                ),
            ),
            None => Err(PageError::Internal(e.to_string())),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Signing in with a code

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MasukForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    nik_or_kpj: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "masuk.html")]
struct MasukPage {
    t: &'static Tr,
    w: &'static Ew,
    nav: Nav,
    token: String,
    f: MasukForm,
    /// The code was asked for: show the code's field.
    asked: bool,
    error: String,
}

fn masuk(
    st: &AppState,
    page: &Page,
    f: MasukForm,
    token: String,
    fresh: bool,
    (asked, error, status): (bool, String, StatusCode),
) -> Result<Response, PageError> {
    let t = page.t();
    let body = MasukPage {
        t,
        w: t.ew,
        nav: page.nav(),
        token: token.clone(),
        f,
        asked,
        error,
    }
    .render()?;
    with_cookie(st, status, body, &token, fresh)
}

/// The participant's sign-in form (NIK or KPJ).
pub async fn sign_in_form(
    State(st): St,
    page: Page,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (token, fresh) = form_token(&headers)?;
    masuk(
        &st,
        &page,
        MasukForm::default(),
        token,
        fresh,
        (false, String::new(), StatusCode::OK),
    )
}

/// Step one: if the NIK or KPJ is registered a code goes to its phone; the page says the same
/// either way.
pub async fn ask_sign_in_code(
    State(st): St,
    page: Page,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    Form(mut f): Form<MasukForm>,
) -> Result<Response, PageError> {
    check_form(&page, &headers, &f.form_token)?;
    let token = f.form_token.clone();
    match svc::ask_sign_in_code(&st, &f.nik_or_kpj, &ip).await {
        Ok(asked) => {
            f.key = asked.key;
            masuk(
                &st,
                &page,
                f,
                token,
                false,
                (true, String::new(), StatusCode::OK),
            )
        }
        Err(ApiError::Invalid(e)) => {
            let msg = e
                .iter()
                .next()
                .map(|x| page.lang.field_message(x))
                .unwrap_or_default();
            masuk(
                &st,
                &page,
                f,
                token,
                false,
                (false, msg, StatusCode::UNPROCESSABLE_ENTITY),
            )
        }
        Err(e) => match refusal(page.lang, page.t().ew, &e) {
            Some(m) => masuk(
                &st,
                &page,
                f,
                token,
                false,
                (false, m, StatusCode::TOO_MANY_REQUESTS),
            ),
            None => Err(PageError::Internal(e.to_string())),
        },
    }
}

/// Step two: the code opens a session, then the participant's own page.
pub async fn sign_in(
    State(st): St,
    page: Page,
    headers: HeaderMap,
    Form(f): Form<MasukForm>,
) -> Result<Response, PageError> {
    check_form(&page, &headers, &f.form_token)?;
    let token = f.form_token.clone();
    match svc::sign_in_with_code(&st, &f.nik_or_kpj, &f.key, &f.code).await {
        Ok(user) if !user.disabled => {
            let s = crate::sessions::open_session(&st, &user, "session.login_code")
                .await
                .map_err(|e| PageError::Internal(e.to_string()))?;
            Ok((
                StatusCode::SEE_OTHER,
                [
                    (
                        header::SET_COOKIE,
                        super::accounts::session_cookie(
                            &st,
                            &s.token,
                            s.expires - crate::auth::now_secs(),
                        )?,
                    ),
                    (header::LOCATION, HeaderValue::from_static("/saya")),
                ],
            )
                .into_response())
        }
        Ok(_) => Err(PageError::Forbidden(page.lang, String::new())),
        Err(ApiError::Invalid(e)) => {
            let msg = e
                .iter()
                .next()
                .map(|x| page.lang.field_message(x))
                .unwrap_or_default();
            masuk(
                &st,
                &page,
                f,
                token,
                false,
                (true, msg, StatusCode::UNPROCESSABLE_ENTITY),
            )
        }
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------
// The card

#[derive(Template)]
#[template(path = "kartu.html")]
struct CardPage {
    t: &'static Tr,
    w: &'static Ew,
    nav: Nav,
    cards: Vec<OwnCard>,
}

struct OwnCard {
    kpj: String,
    name: String,
    segment: String,
    programmes: String,
    protected_until: String,
    link: String,
    qr: String,
}

/// The absolute address of a path on this server, as the browser reached it.
fn absolute(headers: &HeaderMap, secure: bool, path: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        })
        .unwrap_or("localhost");
    format!("{}://{host}{path}", if secure { "https" } else { "http" })
}

/// A QR code of `text` as inline SVG (black on white, its quiet zone included).
fn qr_svg(text: &str) -> Result<String, PageError> {
    let code =
        qrcode::QrCode::new(text.as_bytes()).map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(180, 180)
        .quiet_zone(true)
        .build())
}

/// The participant's digital card: KPJ, name, programmes, protected until, and the QR code of
/// its public link.
pub async fn card(State(st): St, page: Page, headers: HeaderMap) -> Result<Response, PageError> {
    let (_, index) = super::accounts::own_index(&page)?;
    let lang = page.lang;
    let t = page.t();
    let ps = st.store.participants_by_index(&index).await?;
    let mut cards = Vec::new();
    for p in &ps {
        page.audit(
            &st,
            "participant.read",
            format!("participant:{}", p.id),
            "data_subject_access",
        )
        .await?;
        let until = svc::protection(&st, p)
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?;
        let link = absolute(
            &headers,
            st.auth.secure_cookies,
            &format!("/kartu/{}", svc::card_token(&st, p.id)),
        );
        cards.push(OwnCard {
            kpj: p.kpj.clone(),
            name: p.registration.name.clone(),
            segment: match p.registration.segment {
                cakupan_domain::Segment::Bpu => t.bpu.to_string(),
                cakupan_domain::Segment::Pu => t.pu.to_string(),
            },
            programmes: p.registration.programmes.to_string(),
            protected_until: until
                .map(|m| lang.month(m))
                .unwrap_or_else(|| t.ew.not_protected.into()),
            qr: qr_svg(&link)?,
            link,
        });
    }
    html(&CardPage {
        t,
        w: t.ew,
        nav: page.nav(),
        cards,
    })
}

#[derive(Template)]
#[template(path = "kartu_publik.html")]
struct PublicCardPage {
    t: &'static Tr,
    w: &'static Ew,
    nav: Nav,
    masked_name: String,
    protected_until: String,
    protected_now: bool,
}

/// A card's public check: the masked name and the protection, nothing more (no sign-in).
pub async fn public_card(
    State(st): St,
    page: Page,
    ClientAddr(ip): ClientAddr,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let t = page.t();
    if st.auth.receipt_check(&ip).is_err() {
        return Err(PageError::Forbidden(page.lang, t.ew.too_many_checks.into()));
    }
    match svc::public_card(&st, &token, &page.request_id).await {
        Ok(c) => html(&PublicCardPage {
            t,
            w: t.ew,
            nav: page.nav(),
            masked_name: c.masked_name,
            protected_until: c
                .protected_until
                .map(|m| page.lang.month(m))
                .unwrap_or_else(|| t.ew.not_protected.into()),
            protected_now: c.protected_now,
        }),
        Err(ApiError::NotFound(_)) => Err(PageError::NotFound(page.lang)),
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------
// Changing the phone

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PhoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new_phone: String,
    #[serde(default)]
    key_old: String,
    #[serde(default)]
    code_old: String,
    #[serde(default)]
    key_new: String,
    #[serde(default)]
    code_new: String,
}

#[derive(Template)]
#[template(path = "telepon.html")]
struct PhonePage {
    t: &'static Tr,
    w: &'static Ew,
    nav: Nav,
    csrf: String,
    f: PhoneForm,
    asked: bool,
    errors: HashMap<String, String>,
    message: String,
    done: bool,
}

impl PhonePage {
    fn err(&self, field: &str) -> &str {
        self.errors.get(field).map(String::as_str).unwrap_or("")
    }
}

fn phone_page(
    page: &Page,
    f: PhoneForm,
    asked: bool,
    errors: &FieldErrors,
    message: String,
    done: bool,
) -> Result<PhonePage, PageError> {
    let me = page.require()?;
    let t = page.t();
    let (errs, _) = messages(page.lang, t.ew, errors);
    Ok(PhonePage {
        t,
        w: t.ew,
        nav: page.nav(),
        csrf: me.csrf.clone(),
        f,
        asked,
        errors: errs,
        message,
        done,
    })
}

/// The phone change form.
pub async fn phone_form(page: Page) -> Result<Response, PageError> {
    super::accounts::own_index(&page)?;
    html(&phone_page(
        &page,
        PhoneForm::default(),
        false,
        &FieldErrors::default(),
        String::new(),
        false,
    )?)
}

/// Step one: codes to the number on record and to the new one.
pub async fn phone_codes(
    State(st): St,
    page: Page,
    ClientAddr(ip): ClientAddr,
    Form(mut f): Form<PhoneForm>,
) -> Result<Response, PageError> {
    super::accounts::own_index(&page)?;
    let me = page.check_csrf(&f.csrf)?.clone();
    match svc::ask_phone_change(&st, &me.who, &f.new_phone, &ip).await {
        Ok(codes) => {
            f.key_old = codes.old.key;
            f.key_new = codes.new.key;
            html(&phone_page(
                &page,
                f,
                true,
                &FieldErrors::default(),
                String::new(),
                false,
            )?)
        }
        Err(ApiError::Invalid(e)) => html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &phone_page(&page, f, false, &e, String::new(), false)?,
        ),
        Err(e) => match refusal(page.lang, page.t().ew, &e) {
            Some(m) => html_status(
                StatusCode::SERVICE_UNAVAILABLE,
                &phone_page(&page, f, false, &FieldErrors::default(), m, false)?,
            ),
            None => Err(PageError::Internal(e.to_string())),
        },
    }
}

/// Step two: both codes right, the new number is recorded.
pub async fn phone_change(
    State(st): St,
    page: Page,
    Form(f): Form<PhoneForm>,
) -> Result<Response, PageError> {
    super::accounts::own_index(&page)?;
    let me = page.check_csrf(&f.csrf)?.clone();
    match svc::change_phone(
        &st,
        &me.who,
        &page.request_id,
        &f.new_phone,
        (&f.key_old, &f.code_old),
        (&f.key_new, &f.code_new),
    )
    .await
    {
        Ok(()) => html(&phone_page(
            &page,
            PhoneForm::default(),
            false,
            &FieldErrors::default(),
            String::new(),
            true,
        )?),
        Err(ApiError::Invalid(e)) => html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &phone_page(&page, f, true, &e, String::new(), false)?,
        ),
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------
// The branch's review of NIK warnings

#[derive(Template)]
#[template(path = "tinjauan.html")]
struct ReviewPage {
    t: &'static Tr,
    w: &'static Ew,
    nav: Nav,
    csrf: String,
    rows: Vec<ReviewRow>,
    message: String,
}

struct ReviewRow {
    id: i64,
    kpj: String,
    name: String,
    birth_date: String,
    sex: String,
    village: String,
    channel: String,
    warnings: Vec<String>,
}

async fn review_page(
    st: &AppState,
    page: &Page,
    message: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let me = page.require()?;
    let t = page.t();
    let list = svc::reviews(st, &me.who, &page.request_id, me.who.region)
        .await
        .map_err(|e| match e {
            ApiError::Forbidden(m) => PageError::Forbidden(page.lang, m),
            other => PageError::Internal(other.to_string()),
        })?;
    let rows = list
        .iter()
        .map(|p| {
            let r = &p.registration;
            ReviewRow {
                id: p.id,
                kpj: p.kpj.clone(),
                name: r.name.clone(),
                birth_date: cakupan_domain::month::format_date(r.birth_date),
                sex: r.sex.to_string(),
                village: st.regions.path_label(r.village),
                channel: super::i18n::channel_name(page.lang, r.channel.as_str()),
                warnings: r
                    .review_flags
                    .iter()
                    .map(|rule| warning_words(page.lang, rule))
                    .collect(),
            }
        })
        .collect();
    html_status(
        status,
        &ReviewPage {
            t,
            w: t.ew,
            nav: page.nav(),
            csrf: me.csrf.clone(),
            rows,
            message,
        },
    )
}

/// A stored registration warning (its rule code) in the reader's words.
pub fn warning_words(lang: Lang, rule: &str) -> String {
    match cakupan_domain::nik::NikWarning::from_rule(rule) {
        Some(w) => lang.field_message(&FieldError::new("nik", w.rule(), w.message())),
        None => lang.field_message(&FieldError::new(
            "birth_date",
            "age.range",
            "age at registration outside the range in force",
        )),
    }
}

/// The review queue of the officer's area.
pub async fn reviews(State(st): St, page: Page) -> Result<Response, PageError> {
    page.require()?;
    review_page(&st, &page, String::new(), StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    csrf: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    sex: String,
    /// `clear` or `correct`.
    #[serde(default)]
    action: String,
}

/// Clears a participation's warnings, or corrects its birth date and sex.
pub async fn review(
    State(st): St,
    page: Page,
    Path(id): Path<i64>,
    Form(f): Form<ReviewForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let corrected = (f.action == "correct").then_some((f.birth_date.as_str(), f.sex.as_str()));
    match svc::review(&st, &me.who, &page.request_id, id, corrected).await {
        Ok(()) => Ok(Redirect::to("/tinjauan").into_response()),
        Err(ApiError::Invalid(e)) => {
            let msg = e
                .iter()
                .map(|x| {
                    format!(
                        "{}: {}",
                        page.t().ew.label(&x.field),
                        page.lang.field_message(x)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            review_page(&st, &page, msg, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ApiError::Forbidden(m)) => Err(PageError::Forbidden(page.lang, m)),
        Err(ApiError::NotFound(_)) => Err(PageError::NotFound(page.lang)),
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

/// One week of the funnel as the dashboard shows it.
#[derive(Debug)]
pub struct FunnelRow {
    pub week: String,
    pub cells: Vec<String>,
}

/// The self-registration funnel of a region for the dashboard: weeks from the oldest, each
/// step's count (withheld cells as the role must see them), or nothing for a role that may not
/// read the region's aggregates.
pub async fn funnel_rows(st: &AppState, page: &Page, region: RegionCode) -> Vec<FunnelRow> {
    let Some(me) = page.user.as_ref() else {
        return Vec::new();
    };
    let Ok(weeks) = svc::funnel(st, &me.who, region).await else {
        return Vec::new();
    };
    let lang = page.lang;
    crate::enrolment::funnel_shown(st, me.who.role, &weeks)
        .into_iter()
        .map(|w| {
            let cell = |n: Option<u64>| n.map(|v| lang.num(v as i64)).unwrap_or_else(|| "—".into());
            FunnelRow {
                week: cakupan_domain::enrolment::week_start(&w.week)
                    .map(|d| lang.day_month(d))
                    .unwrap_or(w.week),
                cells: vec![
                    cell(w.started),
                    cell(w.verified),
                    cell(w.registered),
                    cell(w.paid),
                ],
            }
        })
        .collect()
}
