//! The pages (issue #5): the coverage dashboard from the nation down to the village, the
//! participant workflows (search, profile, registration, payment) and sign-in, server-rendered
//! with askama, enhanced with htmx where it helps (every form also works without script), in
//! Bahasa Indonesia first and English second.
//!
//! Every page passes through the same access decision as the API
//! (`cakupan_domain::access::authorize`): a page of aggregates needs `ReadAggregates` on its
//! region, a participant's page `ReadParticipant` on that participation; each read of personal
//! data and each change is audited like the API's. Forms carry the session's CSRF token.

pub mod accounts;
pub mod agents;
pub mod campaign;
pub mod employers;
pub mod enrolment;
pub mod i18n;
pub mod participants;
pub mod payments;
pub mod regions;
pub mod reminders;
pub mod svg;

use crate::AppState;
use crate::auth::{cookie_token, csrf_token, same_secret};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cakupan_domain::access::{Action, Capability, Principal, Resource, Role, authorize};
use i18n::{Lang, Tr};

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "cakupan_lang";

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(regions::home))
        .route("/wilayah", get(regions::nation_page))
        .route("/wilayah/cari", get(regions::search))
        .route("/wilayah/{code}", get(regions::region_page))
        .route("/target/alokasi", post(regions::allocate_targets))
        .route("/wilayah/{code}/anak", get(regions::children_options))
        .route("/peserta", get(participants::search_form))
        .route("/peserta/cari", post(participants::search))
        .route(
            "/peserta/baru",
            get(participants::register_form).post(participants::register_submit),
        )
        .route("/peserta/baru/periksa", post(participants::register_check))
        .route("/peserta/{id}", get(participants::profile))
        .route(
            "/peserta/{id}/bayar",
            get(participants::pay_form).post(participants::pay_submit),
        )
        .route("/peserta/{id}/bayar/iuran", get(participants::pay_due))
        .route("/saya", get(accounts::mine))
        .route("/saya/kartu", get(enrolment::card))
        .route(
            "/saya/telepon",
            get(enrolment::phone_form).post(enrolment::phone_codes),
        )
        .route("/saya/telepon/ganti", post(enrolment::phone_change))
        .route("/saya/koreksi", post(accounts::own_correction))
        .route("/saya/data", get(accounts::own_data))
        .route("/daftar", get(enrolment::form).post(enrolment::ask_code))
        .route("/daftar/desa", get(enrolment::villages))
        .route("/daftar/kode", post(enrolment::register))
        .route(
            "/masuk",
            get(enrolment::sign_in_form).post(enrolment::ask_sign_in_code),
        )
        .route("/masuk/kode", post(enrolment::sign_in))
        .route("/kartu/{token}", get(enrolment::public_card))
        .route("/tinjauan", get(enrolment::reviews))
        .route("/tinjauan/{id}", post(enrolment::review))
        .route("/agen", get(agents::home))
        .route("/agen/{code}", get(agents::agent))
        .route("/agen/{code}/laporan.csv", get(agents::agent_csv))
        .route("/agen/{code}/setoran", post(agents::deposit))
        .route("/kantor/{code}", get(agents::office))
        .route("/kantor/{code}/target", post(agents::office_target))
        .route("/kantor/{code}/tinjau", post(agents::office_review))
        .route("/agen/{code}/tugas/{id}", post(reminders::record_task))
        .route("/pengingat", get(reminders::home))
        .route("/pengingat/balasan", get(reminders::replies))
        .route("/pengingat/balasan/{id}", post(reminders::answer_reply))
        .route("/kuitansi", get(agents::receipt))
        .route("/pemberi-kerja", get(employers::home).post(employers::add))
        .route("/pemberi-kerja/{code}", get(employers::account))
        .route(
            "/pemberi-kerja/{code}/contoh-laporan.csv",
            get(employers::report_template),
        )
        .route(
            "/pemberi-kerja/{code}/tagihan/{month}",
            get(employers::invoice),
        )
        .route("/pemberi-kerja/{code}/bayar", post(employers::pay))
        .route("/rekonsiliasi", get(payments::home))
        .route("/rekonsiliasi/harian.csv", get(payments::totals_csv))
        .route("/rekonsiliasi/{id}", post(payments::act))
        .route(
            "/mitra-bayar",
            get(payments::partners).post(payments::add_partner),
        )
        .route("/mitra-bayar/{code}", post(payments::switch_partner))
        .route("/kampanye", get(campaign::home))
        .route("/kampanye/{code}", get(campaign::campaign_page))
        .route("/kampanye/{code}/gelombang", post(campaign::plan_wave))
        .route("/kampanye/{code}/desa", post(campaign::add_village))
        .route(
            "/kampanye/{code}/desa/{village}/keluarkan",
            post(campaign::remove_village),
        )
        .route(
            "/kampanye/{code}/desa/{village}",
            get(campaign::village_page),
        )
        .route(
            "/kampanye/{code}/desa/{village}/koordinasi",
            post(campaign::sign_off),
        )
        .route(
            "/kampanye/{code}/desa/{village}/sosialisasi",
            post(campaign::session),
        )
        .route("/survei/{code}", get(campaign::survey_page))
        .route(
            "/survei/{code}/isi/{unit}",
            get(campaign::answer_form).post(campaign::answer),
        )
        .route("/tentang", get(accounts::about))
        .route(
            "/login",
            get(accounts::login_form).post(accounts::login_submit),
        )
        .route("/logout", post(accounts::logout_submit))
        .route(
            "/akun/sandi",
            get(accounts::password_form).post(accounts::password_submit),
        )
        .route(
            "/pengguna",
            get(accounts::users).post(accounts::new_user_submit),
        )
        .route("/pengguna/baru", get(accounts::new_user_form))
        .route("/pengguna/{username}", post(accounts::user_action))
        .route("/assets/{name}", get(asset))
        .layer(axum::middleware::from_fn(remember_language))
}

/// `?lang=en` (or `id`) on any page switches the language and remembers it in a cookie.
async fn remember_language(req: Request, next: Next) -> Response {
    let chosen = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")))
        .and_then(Lang::parse);
    let mut resp = next.run(req).await;
    if let Some(lang) = chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        ))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

const HTMX: &[u8] = include_bytes!("../../assets/htmx-2.0.11.min.js");
const CSS: &[u8] = include_bytes!("../../assets/app.css");

/// The assets the binary carries (no CDN): immutable names, cached for a day.
async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "app.css" => (CSS, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// A signed-in page user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub who: Principal,
    /// The CSRF token forms of this session carry.
    pub csrf: String,
    /// The password was reset: every page but the password change sends there first.
    pub must_change_password: bool,
}

/// What every page handler knows of its request: the language, the signed-in user if any,
/// the path (for the language switch) and the request id (for the audit log).
#[derive(Debug, Clone)]
pub struct Page {
    pub lang: Lang,
    pub user: Option<SignedIn>,
    pub path: String,
    pub request_id: String,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        let from_query = parts
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")))
            .and_then(Lang::parse);
        let from_cookie = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| kv.trim().strip_prefix("cakupan_lang="))
            .and_then(Lang::parse);
        let lang = from_query.or(from_cookie).unwrap_or(Lang::Id);
        let mut user = None;
        if let Some(token) = cookie_token(&parts.headers)
            && let Ok(Some(u)) = st
                .store
                .session_user(
                    &cakupan_store::accounts::token_hash(&token),
                    crate::auth::now_secs(),
                    st.auth.idle_secs(),
                )
                .await
            && let Ok(who) = u.principal()
        {
            user = Some(SignedIn {
                who,
                csrf: csrf_token(&token),
                must_change_password: u.must_change_password,
            });
        }
        Ok(Page {
            lang,
            user,
            path: parts.uri.path().to_string(),
            request_id: crate::auth::request_id(parts),
        })
    }
}

impl Page {
    pub fn t(&self) -> &'static Tr {
        self.lang.tr()
    }

    /// The signed-in user, or a redirect to the sign-in page that comes back here.
    pub fn require(&self) -> Result<&SignedIn, PageError> {
        let me = self.user.as_ref().ok_or_else(|| {
            PageError::Redirect(format!(
                "/login?next={}",
                percent_path(&self.path).unwrap_or_else(|| "/".into())
            ))
        })?;
        if me.must_change_password
            && !crate::auth::MAY_BEFORE_PASSWORD_CHANGE.contains(&self.path.as_str())
        {
            return Err(PageError::Redirect("/akun/sandi".into()));
        }
        Ok(me)
    }

    /// The one access decision, as a page error (403 with the reason).
    pub fn allow(&self, action: Action, what: &Resource) -> Result<&SignedIn, PageError> {
        let me = self.require()?;
        authorize(&me.who, action, what)
            .map_err(|d| PageError::Forbidden(self.lang, d.0.to_string()))?;
        Ok(me)
    }

    /// Checks a submitted form's CSRF token against the session's.
    pub fn check_csrf(&self, sent: &str) -> Result<&SignedIn, PageError> {
        let me = self.require()?;
        if same_secret(sent.as_bytes(), me.csrf.as_bytes()) {
            Ok(me)
        } else {
            Err(PageError::Refused(
                self.lang,
                self.lang.field_message(&cakupan_domain::FieldError::new(
                    "csrf",
                    "csrf",
                    "the form has expired: reload the page and try again",
                )),
            ))
        }
    }

    /// Appends an audit entry for this page's user.
    pub async fn audit(
        &self,
        st: &AppState,
        action: &str,
        record: String,
        purpose: &str,
    ) -> Result<(), PageError> {
        let me = self.require()?;
        st.store
            .append_audit(&[crate::auth::audit_entry(
                &me.who,
                &self.request_id,
                action,
                record,
                purpose,
            )])
            .await
            .map_err(|e| PageError::Internal(e.to_string()))
    }

    /// Appends one audit entry per record, in one transaction.
    pub async fn audit_many(
        &self,
        st: &AppState,
        action: &str,
        records: Vec<String>,
        purpose: &str,
    ) -> Result<(), PageError> {
        let me = self.require()?;
        let entries: Vec<_> = records
            .into_iter()
            .map(|r| crate::auth::audit_entry(&me.who, &self.request_id, action, r, purpose))
            .collect();
        st.store
            .append_audit(&entries)
            .await
            .map_err(|e| PageError::Internal(e.to_string()))
    }

    /// The header's navigation for this user.
    pub fn nav(&self) -> Nav {
        let t = self.t();
        let mut items = Vec::new();
        if let Some(me) = &self.user {
            let role = me.who.role;
            let mut add = |href: &str, label: &str| {
                items.push(NavItem {
                    current: self.path == href,
                    href: href.to_string(),
                    label: label.to_string(),
                })
            };
            // Each role's home, named for it (exhaustive: a new role chooses one).
            match role {
                Role::Participant => add("/saya", t.nav_mine),
                Role::VillageOfficial => add("/", t.nav_my_village),
                Role::Employer => add("/pemberi-kerja", t.nav_my_employer),
                // An agent's home is their worklist; the dashboard is their area's page.
                Role::Agent => {
                    add("/agen", t.nav_my_work);
                    add(&format!("/wilayah/{}", me.who.region), t.nav_dashboard);
                }
                Role::Admin | Role::Analyst | Role::BranchOfficer => add("/", t.nav_dashboard),
            }
            if role.can(Capability::RegistersPeople) {
                add("/peserta", t.nav_participants);
                add("/peserta/baru", t.nav_register);
            }
            if role.can(Capability::ManagesRegion) && !role.can(Capability::FieldAgent) {
                add("/agen", t.nav_agents);
            }
            if role.can(Capability::ManagesRegion) {
                add("/pemberi-kerja", t.nav_employers);
                add("/rekonsiliasi", t.nav_reconcile);
                add("/tinjauan", t.ew.review_title);
            }
            if role.can(Capability::OwnRecord) {
                add("/saya/kartu", t.ew.card_short);
            }
            if role.can(Capability::SeesCoverage) {
                add("/kampanye", t.nav_campaign);
                add("/pengingat", t.nav_reminders);
            }
            if role.can(Capability::AdministersAccounts) {
                add("/pengguna", t.nav_users);
                add("/mitra-bayar", t.nav_partners);
            }
            // Participants sign in with a code sent to their phone (issue #20): no password.
            if !role.can(Capability::OwnRecord) {
                add("/akun/sandi", t.nav_password);
            }
        } else {
            for (href, label) in [("/daftar", t.ew.register), ("/masuk", t.ew.nav_sign_in)] {
                items.push(NavItem {
                    current: self.path == href,
                    href: href.to_string(),
                    label: label.to_string(),
                });
            }
        }
        items.push(NavItem {
            current: self.path == "/tentang",
            href: "/tentang".into(),
            label: t.nav_about.into(),
        });
        Nav {
            items,
            user: self
                .user
                .as_ref()
                .map(|u| format!("{} ({})", u.who.username, role_name(self.lang, u.who.role))),
            csrf: self
                .user
                .as_ref()
                .map(|u| u.csrf.clone())
                .unwrap_or_default(),
            switch_href: format!("{}?lang={}", self.path, self.lang.other().code()),
            other_lang: self.lang.other().code(),
        }
    }
}

/// A role's name in the reader's language.
pub fn role_name(lang: Lang, role: Role) -> &'static str {
    match (lang, role) {
        (Lang::Id, Role::Admin) => "admin kantor pusat",
        (Lang::Id, Role::Analyst) => "analis",
        (Lang::Id, Role::BranchOfficer) => "petugas cabang",
        (Lang::Id, Role::Agent) => "agen Perisai",
        (Lang::Id, Role::VillageOfficial) => "perangkat desa",
        (Lang::Id, Role::Participant) => "peserta",
        (Lang::Id, Role::Employer) => "pemberi kerja",
        (Lang::En, Role::Admin) => "head-office admin",
        (Lang::En, Role::Analyst) => "analyst",
        (Lang::En, Role::BranchOfficer) => "branch officer",
        (Lang::En, Role::Agent) => "Perisai agent",
        (Lang::En, Role::VillageOfficial) => "village official",
        (Lang::En, Role::Participant) => "participant",
        (Lang::En, Role::Employer) => "employer",
    }
}

/// A path safe to put in `?next=`: our own absolute path, letters, digits and `/.-_` only.
fn percent_path(p: &str) -> Option<String> {
    (p.starts_with('/')
        && !p.starts_with("//")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_')))
    .then(|| p.to_string())
}

/// Where a sign-in may send the user back to: our own plain paths only (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    next.and_then(percent_path).unwrap_or_else(|| "/".into())
}

#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: String,
    pub label: String,
    pub current: bool,
}

#[derive(Debug, Clone)]
pub struct Nav {
    pub items: Vec<NavItem>,
    pub user: Option<String>,
    pub csrf: String,
    pub switch_href: String,
    pub other_lang: &'static str,
}

/// Why a page cannot be shown, rendered as a page in the reader's language.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: go to the sign-in page.
    Redirect(String),
    Forbidden(Lang, String),
    /// Refused with a message already in the reader's words.
    Refused(Lang, String),
    NotFound(Lang),
    Internal(String),
}

impl From<cakupan_store::StoreError> for PageError {
    fn from(e: cakupan_store::StoreError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(e.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: &'static Tr,
    nav: Nav,
    message: String,
}

/// A page's refusal, carried on its response for [`error_pages`] to render with the reader's
/// own menu and name.
#[derive(Debug, Clone)]
pub struct ErrorShown {
    pub message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            PageError::Redirect(to) => return Redirect::to(&to).into_response(),
            // The access decision's own reason is English prose: an Indonesian reader gets the
            // sentence of the word tables only.
            PageError::Forbidden(lang, m) => (
                StatusCode::FORBIDDEN,
                match lang {
                    Lang::Id => lang.tr().forbidden.to_string(),
                    Lang::En => format!("{} {m}", lang.tr().forbidden),
                },
            ),
            PageError::Refused(_, m) => (StatusCode::FORBIDDEN, m),
            PageError::NotFound(lang) => (StatusCode::NOT_FOUND, lang.tr().not_found.into()),
            PageError::Internal(m) => {
                tracing::error!(error = %m, "page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, String::new())
            }
        };
        let mut resp = (status, message.clone()).into_response();
        resp.extensions_mut().insert(ErrorShown { message });
        resp
    }
}

/// Every error of a page, as a page: the refusals of the handlers ([`ErrorShown`]), an unknown
/// address, an address or form the router could not read (`/peserta/daftar`), a server error;
/// in the reader's language, with their menu and name. The API and the payment partners'
/// endpoints keep their JSON.
pub async fn error_pages(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/api/")
        || path.starts_with(cakupan_app::payments::snap::PREFIX)
        || path == "/healthz"
    {
        return next.run(req).await;
    }
    let (method, uri, headers) = (
        req.method().clone(),
        req.uri().clone(),
        req.headers().clone(),
    );
    let resp = next.run(req).await;
    let status = resp.status();
    let shown = resp.extensions().get::<ErrorShown>().cloned();
    let kind = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // A page (already in words) or JSON (a machine's answer) stays as it is.
    let answered = kind.starts_with("text/html") || kind.starts_with("application/json");
    if shown.is_none() && (answered || !(status.is_client_error() || status.is_server_error())) {
        return resp;
    }
    let mut head = Request::builder().method(method).uri(uri);
    for (k, v) in &headers {
        head = head.header(k, v);
    }
    let Ok(head) = head.body(()) else {
        return resp;
    };
    let (mut parts, ()) = head.into_parts();
    let Ok(page) = Page::from_request_parts(&mut parts, &st).await;
    let t = page.t();
    // The router's own refusals: an address it cannot read is one that does not exist.
    let (status, message) = match shown {
        Some(s) if !s.message.is_empty() => (status, s.message),
        _ => match status {
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                (StatusCode::NOT_FOUND, t.not_found.to_string())
            }
            StatusCode::BAD_REQUEST if resp_is_path_error(&parts) => {
                (StatusCode::NOT_FOUND, t.not_found.to_string())
            }
            s if s.is_server_error() => (s, t.server_error.to_string()),
            StatusCode::FORBIDDEN => (status, t.forbidden.to_string()),
            s => (s, t.bad_request.to_string()),
        },
    };
    let page_html = ErrorPage {
        t,
        nav: page.nav(),
        message,
    };
    match page_html.render() {
        Ok(body) => {
            let mut out = (status, Html(body)).into_response();
            // What the handler set beyond the body (a cookie that ends a session) stays.
            for (k, v) in resp.headers() {
                if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
                    out.headers_mut().append(k.clone(), v.clone());
                }
            }
            out
        }
        Err(_) => resp,
    }
}

/// Whether a 400 came from a page address whose parts the router could not read (a GET of a
/// page: no form was sent).
fn resp_is_path_error(parts: &Parts) -> bool {
    parts.method == axum::http::Method::GET
}

/// A CSV download named `file`.
pub fn csv_response(file: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Renders a template as a response.
pub fn html<T: Template>(t: &T) -> Result<Response, PageError> {
    Ok(Html(t.render()?).into_response())
}

/// Renders a template with a status.
pub fn html_status<T: Template>(status: StatusCode, t: &T) -> Result<Response, PageError> {
    Ok((status, Html(t.render()?)).into_response())
}

/// One page of a long list: where it is, and the links to its neighbours.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    pub total: usize,
    pub pages: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
    /// "51–100 of 1,318", in the reader's words.
    pub showing: String,
}

/// Rows per page of every long list.
pub const PAGE_ROWS: usize = 50;

/// The `page`th (from 1) page of `items`, `PAGE_ROWS` a page; `href(n)` links page `n`.
pub fn paginate<T>(
    lang: Lang,
    items: Vec<T>,
    page: Option<usize>,
    href: impl Fn(usize) -> String,
) -> (Vec<T>, Pager) {
    let total = items.len();
    let page = page_within(total, page);
    let from = (page - 1) * PAGE_ROWS;
    let rows: Vec<T> = items.into_iter().skip(from).take(PAGE_ROWS).collect();
    let pager = pager(lang, total, page, rows.len(), href);
    (rows, pager)
}

/// The page (from 1) a list of `total` rows shows when `page` is asked: the last one past its
/// end, the first one before its start.
pub fn page_within(total: usize, page: Option<usize>) -> usize {
    page.unwrap_or(1).clamp(1, total.div_ceil(PAGE_ROWS).max(1))
}

/// The pager of page `page` (from 1, within the list) of a list of `total` rows, showing
/// `shown` of them, for a list the store cuts itself.
pub fn pager(
    lang: Lang,
    total: usize,
    page: usize,
    shown: usize,
    href: impl Fn(usize) -> String,
) -> Pager {
    let pages = total.div_ceil(PAGE_ROWS).max(1);
    let from = (page - 1) * PAGE_ROWS;
    let showing = lang
        .tr()
        .pager_showing
        .replace("{from}", &lang.num((from + 1).min(total) as i64))
        .replace("{to}", &lang.num((from + shown) as i64))
        .replace("{total}", &lang.num(total as i64));
    Pager {
        total,
        pages,
        prev: (page > 1).then(|| href(page - 1)),
        next: (page < pages).then(|| href(page + 1)),
        showing,
    }
}

/// Whether `Region(code)` may be read by this user (for links in breadcrumbs, tables, maps).
pub fn may_read(who: &Principal, code: cakupan_domain::RegionCode) -> bool {
    authorize(who, Action::ReadAggregates, &Resource::Region(code)).is_ok()
}

/// The state handle, re-exported for the page modules' signatures.
pub type St = State<AppState>;
