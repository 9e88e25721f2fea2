//! `/rekonsiliasi` (issue #19): branch and head-office finance's exception queue, each item
//! resolved with a reason (postings and reversals proposed by one person, approved by
//! another), and the daily totals per partner with their CSV export. The same services as the
//! API.

use super::i18n::Tr;
use super::{Nav, Page, PageError, html_status};
use crate::AppState;
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cakupan_app::AppError;
use cakupan_app::payments as pay;
use cakupan_domain::access::{Action, Resource};
use serde::Deserialize;

type St = State<AppState>;

#[derive(Debug)]
struct TotalLine {
    day: String,
    partner: String,
    expected: String,
    settled: String,
    difference: String,
}

#[derive(Debug)]
struct Item {
    id: i64,
    kind: &'static str,
    partner: String,
    day: String,
    state: &'static str,
    code: String,
    request: String,
    settled: Option<String>,
    recorded: Option<String>,
    /// A proposal awaiting approval, in words.
    proposal: Option<String>,
    /// The actions open for its kind: (value, label).
    actions: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "payments.html")]
struct ReconcilePage {
    t: &'static Tr,
    nav: Nav,
    totals: Vec<TotalLine>,
    items: Vec<Item>,
    flash: Option<String>,
    message: Option<String>,
}

fn kind_words(t: &'static Tr, kind: &str) -> &'static str {
    match kind {
        "missing_here" => t.rec_kind_missing_here,
        "missing_there" => t.rec_kind_missing_there,
        "amount_differs" => t.rec_kind_amount_differs,
        "duplicate" => t.rec_kind_duplicate,
        _ => t.rec_kind_suspense,
    }
}

fn action_words(t: &'static Tr, action: &str) -> &'static str {
    match action {
        "post" => t.rec_action_post,
        "reverse" => t.rec_action_reverse,
        _ => t.rec_action_close,
    }
}

async fn render(
    st: &AppState,
    page: &Page,
    status: StatusCode,
    flash: Option<String>,
    message: Option<String>,
) -> Result<Response, PageError> {
    let me = page.allow(
        Action::Reconcile,
        &Resource::Region(page.require()?.who.region),
    )?;
    let who = me.who.clone();
    let t = page.t();
    let lang = page.lang;
    let today = (st.today)();
    let totals = pay::daily_totals(st, &who, today - time::Duration::days(6), today)
        .await
        .map_err(|e| PageError::Internal(format!("{e:?}")))?
        .into_iter()
        .rev()
        .map(|r| TotalLine {
            day: r.day,
            partner: r.partner_code,
            expected: lang.rupiah(r.expected),
            settled: lang.rupiah(r.settled),
            difference: lang.rupiah(r.difference),
        })
        .collect();
    let items = pay::exceptions(st, &who, None)
        .await
        .map_err(|e| PageError::Internal(format!("{e:?}")))?
        .into_iter()
        .filter(|e| e.state != "resolved")
        .map(|e| {
            let proposal = (e.state == "proposed").then(|| {
                let a = action_words(t, e.action.as_deref().unwrap_or("close"));
                match &e.proposed_by {
                    Some(u) => t
                        .rec_proposed_by
                        .replace("{u}", u)
                        .replace("{a}", a)
                        .replace("{r}", e.reason.as_deref().unwrap_or("")),
                    None => t.rec_proposed_by_rules.replace("{a}", a),
                }
            });
            let mut actions = Vec::new();
            match e.kind.as_str() {
                "missing_here" => actions.push(("post", t.rec_action_post)),
                "missing_there" | "amount_differs" => {
                    actions.push(("reverse", t.rec_action_reverse))
                }
                _ => {}
            }
            actions.push(("close", t.rec_action_close));
            Item {
                id: e.id,
                kind: kind_words(t, &e.kind),
                partner: e.partner_code,
                day: e.day,
                state: if e.state == "proposed" {
                    t.rec_state_proposed
                } else {
                    t.rec_state_open
                },
                code: e.virtual_account,
                request: e.payment_request_id,
                settled: e.settled_amount.map(|a| lang.rupiah(a)),
                recorded: e.recorded_amount.map(|a| lang.rupiah(a)),
                proposal,
                actions,
            }
        })
        .collect();
    html_status(
        status,
        &ReconcilePage {
            t,
            nav: page.nav(),
            totals,
            items,
            flash,
            message,
        },
    )
}

/// `/rekonsiliasi`: the queue of the reader's area and the week's totals.
pub async fn home(State(st): St, page: Page) -> Result<Response, PageError> {
    render(&st, &page, StatusCode::OK, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

/// One action on one exception: propose, close or approve.
pub async fn act(
    State(st): St,
    page: Page,
    Path(id): Path<i64>,
    Form(f): Form<ActionForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let t = page.t();
    let rid = page.request_id.as_str();
    let done = if f.action == "approve" {
        pay::approve_exception(&st, &me.who, rid, id).await
    } else {
        pay::act_on_exception(&st, &me.who, rid, id, &f.action, &f.reason).await
    };
    match done {
        Ok(step) => {
            let flash = match step {
                pay::ExceptionStep::Proposed => t.rec_done_proposed,
                pay::ExceptionStep::Resolved => t.rec_done_resolved,
                pay::ExceptionStep::AlreadyResolved => t.rec_done_already,
            };
            render(&st, &page, StatusCode::OK, Some(flash.to_string()), None).await
        }
        Err(AppError::Invalid(errs)) => {
            let message = field_errors(&page, &errs);
            render(
                &st,
                &page,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(message),
            )
            .await
        }
        Err(AppError::NotFound(_)) => Err(PageError::NotFound(page.lang)),
        Err(AppError::Forbidden(m)) => Err(PageError::Forbidden(page.lang, m)),
        Err(e) => Err(PageError::Internal(format!("{e:?}"))),
    }
}

/// `/rekonsiliasi/harian.csv`: the last 31 days' totals per partner.
pub async fn totals_csv(State(st): St, page: Page) -> Result<Response, PageError> {
    let me = page.allow(
        Action::Reconcile,
        &Resource::Region(page.require()?.who.region),
    )?;
    let today = (st.today)();
    let rows = pay::daily_totals(&st, &me.who, today - time::Duration::days(30), today)
        .await
        .map_err(|e| PageError::Internal(format!("{e:?}")))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"rekonsiliasi-harian.csv\"",
            ),
        ],
        pay::totals_csv(&rows),
    )
        .into_response())
}

// ---- `/mitra-bayar`: channel partners, for head office (issue #19 item 2) -----------------

#[derive(Debug)]
struct PartnerLine {
    code: String,
    name: String,
    kind: &'static str,
    account: String,
    fee: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "partners.html")]
struct PartnersPage {
    t: &'static Tr,
    nav: Nav,
    partners: Vec<PartnerLine>,
    kinds: Vec<(&'static str, &'static str)>,
    flash: Option<String>,
    message: Option<String>,
}

fn kind_name(t: &'static Tr, kind: &str) -> &'static str {
    match kind {
        "bank" => t.partner_kind_bank,
        "aggregator" => t.partner_kind_aggregator,
        "minimarket" => t.partner_kind_minimarket,
        "ewallet" => t.partner_kind_ewallet,
        _ => t.partner_kind_post,
    }
}

async fn partners_page(
    st: &AppState,
    page: &Page,
    status: StatusCode,
    flash: Option<String>,
    message: Option<String>,
) -> Result<Response, PageError> {
    page.allow(Action::Administer, &Resource::System)?;
    let t = page.t();
    let partners = st
        .store
        .partners()
        .await?
        .into_iter()
        .map(|p| PartnerLine {
            kind: kind_name(t, &p.kind),
            code: p.code,
            name: p.name,
            account: p.settlement_account,
            fee: page.lang.rupiah(p.fee.0),
            active: p.active,
        })
        .collect();
    let kinds = cakupan_domain::payments::PartnerKind::ALL
        .iter()
        .map(|k| (k.as_str(), kind_name(t, k.as_str())))
        .collect();
    html_status(
        status,
        &PartnersPage {
            t,
            nav: page.nav(),
            partners,
            kinds,
            flash,
            message,
        },
    )
}

/// `/mitra-bayar`: the partners, each with its switch, and the form to add one.
pub async fn partners(State(st): St, page: Page) -> Result<Response, PageError> {
    partners_page(&st, &page, StatusCode::OK, None, None).await
}

#[derive(Debug, Deserialize)]
pub struct PartnerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    settlement_account: String,
    #[serde(default)]
    fee: String,
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    client_secret: String,
}

fn field_errors(page: &Page, errs: &cakupan_domain::FieldErrors) -> String {
    errs.0
        .iter()
        .map(|e| page.lang.field_message(e))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Adds a partner (the same service as the API).
pub async fn add_partner(
    State(st): St,
    page: Page,
    Form(f): Form<PartnerForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let t = page.t();
    let fee = match f.fee.trim() {
        "" => 0,
        s => cakupan_domain::Rupiah::parse(s).map_or(-1, |r| r.0),
    };
    let p = pay::NewPartner {
        code: f.code.trim().to_string(),
        name: f.name,
        kind: f.kind,
        settlement_account: f.settlement_account,
        fee,
        public_key: f.public_key,
        client_secret: f.client_secret,
    };
    match pay::add_partner(&st, &me.who, page.request_id.as_str(), &p).await {
        Ok(added) => {
            let flash = if added {
                t.partner_done_added
            } else {
                t.partner_done_same
            };
            partners_page(&st, &page, StatusCode::OK, Some(flash.into()), None).await
        }
        Err(AppError::Invalid(errs)) => {
            let m = field_errors(&page, &errs);
            partners_page(&st, &page, StatusCode::UNPROCESSABLE_ENTITY, None, Some(m)).await
        }
        Err(AppError::Forbidden(m)) => Err(PageError::Forbidden(page.lang, m)),
        Err(e) => Err(PageError::Internal(format!("{e:?}"))),
    }
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
}

/// Switches a partner on or off.
pub async fn switch_partner(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Form(f): Form<SwitchForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let active = f.action == "activate";
    match pay::set_partner_active(&st, &me.who, page.request_id.as_str(), &code, active).await {
        Ok(()) => {
            let flash = page.t().partner_done_changed.to_string();
            partners_page(&st, &page, StatusCode::OK, Some(flash), None).await
        }
        Err(AppError::NotFound(_)) => Err(PageError::NotFound(page.lang)),
        Err(AppError::Forbidden(m)) => Err(PageError::Forbidden(page.lang, m)),
        Err(e) => Err(PageError::Internal(format!("{e:?}"))),
    }
}
