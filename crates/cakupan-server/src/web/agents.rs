//! The Perisai network's pages (issue #6), phone-first: an agent's own page (standing, cash
//! held, this month's statement, worklist), the branch's list of its agents and offices, an
//! office's monthly statement (and CSV), deposits recorded by the branch, and the public check
//! of a receipt.

use super::i18n::{Lang, Tr};
use super::{Nav, Page, PageError, St, html, html_status};
use crate::AppState;
use crate::agents::{self as net, Custody, StatementBody, Worklist, figures, standing, status_in};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cakupan_domain::Month;
use cakupan_domain::access::{Action, Capability, Resource, authorize};
use cakupan_domain::agents::{AgentStatus, statement};
use cakupan_store::agents::{AgentFilter, AgentRecord, Deposit};
use serde::Deserialize;

fn status_text(t: &Tr, s: Option<AgentStatus>) -> (&'static str, &'static str) {
    match s {
        Some(AgentStatus::Active) => (t.agent_active, "st-active"),
        Some(AgentStatus::Inactive) => (t.agent_inactive, "st-nonactive"),
        Some(AgentStatus::Terminated) => (t.agent_terminated, "st-terminated"),
        None => ("–", "st-pending"),
    }
}

fn may_manage(page: &Page) -> Result<(), PageError> {
    let me = page.require()?;
    if me.who.role.can(Capability::ManagesRegion) {
        Ok(())
    } else {
        Err(PageError::Forbidden(page.lang, String::new()))
    }
}

struct AgentRow {
    code: String,
    office: String,
    home: String,
    status: &'static str,
    status_class: &'static str,
    new: i64,
    collections: i64,
    held: String,
    alert: bool,
}

struct OfficeRow {
    code: String,
    name: String,
    kind: String,
    region: String,
}

struct AreaRow {
    href: String,
    name: String,
    registered: i64,
    active: i64,
    inactive: i64,
    offices: i64,
}

#[derive(Template)]
#[template(path = "agents.html")]
struct AgentsPage {
    t: &'static Tr,
    nav: Nav,
    title: String,
    month: String,
    agents: Vec<AgentRow>,
    areas: Vec<AreaRow>,
    offices: Vec<OfficeRow>,
    /// Every office of the area (listed only when its agents are).
    office_count: usize,
    pager: super::Pager,
    registered: usize,
    active: usize,
}

/// More agents than this in an area: the page counts them per region below instead.
const LIST_AT_MOST: usize = 200;

#[derive(Debug, Deserialize)]
pub struct AreaQuery {
    wilayah: Option<String>,
    /// The page of the agents' list, from 1.
    hal: Option<usize>,
}

/// `/agen`: an agent's own page, or the branch's agents and offices (`?wilayah=` narrows the
/// area; a large area is shown as counts per region below it, each leading further down).
pub async fn home(
    State(st): St,
    page: Page,
    Query(q): Query<AreaQuery>,
) -> Result<Response, PageError> {
    let me = page.require()?;
    if me.who.role.can(Capability::FieldAgent) {
        let code = me.who.agent_code.clone().unwrap_or_default();
        return Ok(Redirect::to(&format!("/agen/{code}")).into_response());
    }
    may_manage(&page)?;
    let area = match q
        .wilayah
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => me.who.region,
        Some(c) => {
            cakupan_domain::RegionCode::parse(c).map_err(|_| PageError::NotFound(page.lang))?
        }
    };
    page.allow(Action::ManageNetwork, &Resource::Region(area))?;
    let (lang, t) = (page.lang, page.t());
    let month = Month::of((st.today)());
    // One read of the area's agents (without the villages they serve, which this page does
    // not show) and one of its offices; each agent's status from its own record, in memory.
    let records = st.store.agent_standings(AgentFilter::Within(area)).await?;
    let all_offices = st.store.offices(area).await?;
    let statuses: Vec<Option<AgentStatus>> = records
        .iter()
        .map(|r| status_in(&standing(&st, r, month), month))
        .collect();
    let registered = statuses
        .iter()
        .filter(|s| matches!(s, Some(AgentStatus::Active | AgentStatus::Inactive)))
        .count();
    let active = statuses
        .iter()
        .filter(|s| **s == Some(AgentStatus::Active))
        .count();
    let office_count = all_offices.len();
    let mut areas = Vec::new();
    if records.len() > LIST_AT_MOST
        && let Some(level) = super::regions::child_level(area.level())
    {
        // Too many to list: counted per region below (agents and offices), each a link.
        let mut by = net::tally(
            records
                .iter()
                .zip(&statuses)
                .map(|(r, s)| (r.agent.home_village, *s)),
            level,
        );
        let mut offices: std::collections::BTreeMap<cakupan_domain::RegionCode, i64> =
            std::collections::BTreeMap::new();
        for o in &all_offices {
            if o.region.level() >= level {
                let at = o.region.truncate(level);
                *offices.entry(at).or_insert(0) += 1;
                by.entry(at).or_insert([0; 3]);
            }
        }
        for (code, v) in by {
            areas.push(AreaRow {
                href: format!("/agen?wilayah={code}"),
                name: super::regions::region_name(&st, code),
                registered: v[0],
                active: v[1],
                inactive: v[2],
                offices: offices.get(&code).copied().unwrap_or(0),
            });
        }
        return html(&AgentsPage {
            t,
            nav: page.nav(),
            title: super::regions::region_name(&st, area),
            month: lang.month(month),
            agents: Vec::new(),
            areas,
            offices: Vec::new(),
            office_count,
            pager: super::Pager::default(),
            registered,
            active,
        });
    }
    // Listed 50 a page in code order; the cash each holds is read for that page only.
    let (page_rows, pager) = super::paginate(
        lang,
        records.into_iter().zip(statuses).collect::<Vec<_>>(),
        q.hal,
        |n| format!("/agen?wilayah={area}&hal={n}"),
    );
    let mut agents = Vec::new();
    for (r, s) in page_rows {
        let c = net::custody(&st, &r)
            .await
            .map_err(|e| PageError::Internal(format!("{e:?}")))?;
        let f = figures(&r, month);
        let (status, status_class) = status_text(t, s);
        agents.push(AgentRow {
            code: r.agent.code.clone(),
            office: r.agent.office_code.clone(),
            home: super::regions::region_name(&st, r.agent.home_village),
            status,
            status_class,
            new: f.acquisitions,
            collections: f.collections,
            held: lang.rupiah(c.held),
            alert: !c.alerts.is_empty(),
        });
    }
    let offices = all_offices
        .into_iter()
        .map(|o| OfficeRow {
            region: super::regions::region_name(&st, o.region),
            code: o.code,
            name: o.name,
            kind: super::i18n::office_kind(lang, &o.kind).to_string(),
        })
        .collect();
    html(&AgentsPage {
        t,
        nav: page.nav(),
        title: super::regions::region_name(&st, area),
        month: lang.month(month),
        agents,
        areas,
        offices,
        office_count,
        pager,
        registered,
        active,
    })
}

struct MonthRow {
    month: String,
    status: &'static str,
    class: &'static str,
    new: i64,
    collections: i64,
    collected: String,
}

struct CollectionRow {
    receipt: String,
    paid_on: String,
    amount: String,
}

struct StatementView {
    lines: Vec<(&'static str, String)>,
    total: String,
    agent_share: String,
    office_share: String,
    scheme: String,
}

fn statement_view(lang: Lang, s: &StatementBody) -> StatementView {
    let t = lang.tr();
    StatementView {
        lines: vec![
            (
                t.new_participants,
                format!("{} ({} JHT)", lang.num(s.acquisitions), s.acquisitions_3),
            ),
            (t.fee_base, lang.rupiah(s.fee_base)),
            (t.fee_rate, lang.pct(s.fee_ppm as f64 / 1e6)),
            (t.contribution_fee, lang.rupiah(s.contribution_fee)),
            (t.clawback, format!("−{}", lang.rupiah(s.clawback))),
            (
                t.incentive,
                format!(
                    "{} ({} {})",
                    lang.rupiah(s.incentive),
                    t.threshold,
                    s.threshold
                ),
            ),
        ],
        total: lang.rupiah(s.total),
        agent_share: lang.rupiah(s.agent_share),
        office_share: lang.rupiah(s.office_share),
        scheme: format!(
            "{} {}",
            t.scheme_words
                .replace("{rate}", &lang.pct(s.fee_ppm as f64 / 1e6))
                .replace("{threshold}", &lang.num(s.threshold)),
            super::i18n::source_status(lang, &s.status)
        ),
    }
}

struct WorkRow {
    href: Option<String>,
    /// `tel:` of the participant, for the agent who serves them only.
    tel: Option<String>,
    name: String,
    kpj: String,
    village: String,
    detail: String,
}

struct VillageRow {
    name: String,
    registered: String,
    active: String,
    uncovered: String,
}

#[derive(Template)]
#[template(path = "agent.html")]
struct AgentPage {
    t: &'static Tr,
    nav: Nav,
    code: String,
    office: String,
    office_href: Option<String>,
    home: String,
    villages: Vec<String>,
    status: &'static str,
    status_class: &'static str,
    appointed: String,
    custody: Custody,
    /// Why the cash held needs attention, in the reader's words.
    alerts: Vec<String>,
    held: String,
    collected: String,
    deposited: String,
    may_manage: bool,
    csrf: String,
    flash: Option<&'static str>,
    deposit_errors: Vec<String>,
    today: String,
    months: Vec<MonthRow>,
    not_deposited: Vec<CollectionRow>,
    statement_month: String,
    statement_month_value: String,
    statement: StatementView,
    csv_href: String,
    due: Vec<WorkRow>,
    arrears: Vec<WorkRow>,
    gap_villages: Vec<VillageRow>,
    /// The agent's own reminder tasks (issue #21): only on the agent's own page.
    tasks: Option<Vec<super::reminders::TaskRow>>,
    open_tasks: usize,
    outcomes: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Deserialize)]
pub struct AgentQuery {
    bulan: Option<String>,
    ok: Option<String>,
}

async fn agent_record(st: &AppState, page: &Page, code: &str) -> Result<AgentRecord, PageError> {
    let me = page.require()?;
    net::readable_agent(st, &me.who, code)
        .await
        .map_err(|e| PageError::Internal(format!("{e:?}")))?
        .ok_or(PageError::NotFound(page.lang))
}

fn statement_month(st: &AppState, q: &Option<String>) -> Month {
    let now = Month::of((st.today)());
    q.as_deref()
        .and_then(|m| Month::parse(m).ok())
        .filter(|m| *m <= now.plus(12))
        .unwrap_or(now)
}

async fn agent_page(
    st: &AppState,
    page: &Page,
    r: &AgentRecord,
    month: Month,
    flash: Option<&'static str>,
    deposit_errors: Vec<String>,
) -> Result<AgentPage, PageError> {
    let me = page.require()?;
    let (lang, t) = (page.lang, page.t());
    let now = Month::of((st.today)());
    let series = standing(st, r, now);
    let (status, status_class) = status_text(t, status_in(&series, now));
    let internal = |e: crate::error::ApiError| PageError::Internal(format!("{e:?}"));
    let c = net::custody(st, r).await.map_err(internal)?;
    let collections = st.store.collections(&r.agent.code).await?;
    let mut left = c.deposited;
    let mut not_deposited = Vec::new();
    for col in collections.iter().filter(|x| !x.reversed) {
        if left >= col.amount {
            left -= col.amount;
            continue;
        }
        left = 0;
        not_deposited.push(CollectionRow {
            receipt: cakupan_store::agents::receipt_number(st.store.keys(), col.posting_id),
            paid_on: cakupan_domain::month::format_date(col.paid_on),
            amount: lang.rupiah(col.amount),
        });
    }
    let s = statement(&st.rules, month, &figures(r, month))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let body = net::statement_body(&r.agent.code, &s);
    let w: Worklist = net::worklist(st, r, now).await.map_err(internal)?;
    let records: Vec<String> = w
        .due_this_month
        .iter()
        .chain(&w.in_arrears)
        .map(|i| format!("participant:{}", i.participant_id))
        .collect();
    page.audit_many(st, "participant.worklist", records, "service")
        .await?;
    // The agent who serves these people may call them: their numbers on the agent's own page
    // only, each shown number an audited read.
    let own = me.who.agent_code.as_deref() == Some(r.agent.code.as_str());
    if own {
        let called: Vec<String> = w
            .due_this_month
            .iter()
            .chain(&w.in_arrears)
            .filter(|i| i.phone.is_some())
            .map(|i| format!("participant:{}", i.participant_id))
            .collect();
        page.audit_many(st, "participant.phone", called, "service")
            .await?;
    }
    let work = |items: &[net::WorkItem], due: bool| -> Vec<WorkRow> {
        items
            .iter()
            .map(|i| WorkRow {
                href: Some(format!("/peserta/{}", i.participant_id)),
                tel: i.phone.as_ref().filter(|_| own).map(|p| format!("tel:{p}")),
                name: i.name.clone(),
                kpj: i.kpj.clone(),
                village: super::regions::region_name(
                    st,
                    cakupan_domain::RegionCode::parse(&i.village_code)
                        .unwrap_or(cakupan_domain::RegionCode::NATION),
                ),
                detail: if due {
                    format!(
                        "{} {}",
                        t.paid_through,
                        i.paid_through
                            .as_deref()
                            .and_then(|m| Month::parse(m).ok())
                            .map(|m| lang.month(m))
                            .unwrap_or_else(|| "–".into())
                    )
                } else {
                    format!("{} {}", i.months_unpaid, t.reason_unpaid)
                },
            })
            .collect()
    };
    let manage = authorize(
        &me.who,
        Action::ManageNetwork,
        &Resource::Region(r.agent.home_village),
    )
    .is_ok();
    // The office's page is for those who manage its region's network: no link for others.
    let office_href = st
        .store
        .office(&r.agent.office_code)
        .await?
        .filter(|o| authorize(&me.who, Action::ManageNetwork, &Resource::Region(o.region)).is_ok())
        .map(|o| format!("/kantor/{}", o.code));
    let tasks = if me.who.agent_code.as_deref() == Some(r.agent.code.as_str()) {
        Some(super::reminders::task_rows(st, page, &me.who).await?)
    } else {
        None
    };
    Ok(AgentPage {
        t,
        nav: page.nav(),
        code: r.agent.code.clone(),
        office: r.agent.office_code.clone(),
        office_href,
        home: st.regions.path_label(r.agent.home_village),
        villages: r
            .agent
            .villages
            .iter()
            .map(|v| super::regions::region_name(st, *v))
            .collect(),
        status,
        status_class,
        appointed: lang.month(r.agent.appointed),
        held: lang.rupiah(c.held),
        collected: lang.rupiah(c.collected),
        deposited: lang.rupiah(c.deposited),
        alerts: cakupan_domain::agents::custody_alerts(
            &st.rules,
            Month::of((st.today)()),
            c.held,
            c.oldest_days,
        )
        .iter()
        .map(|a| lang.field_message(a))
        .collect(),
        custody: c,
        may_manage: manage,
        csrf: me.csrf.clone(),
        flash,
        deposit_errors,
        today: cakupan_domain::month::format_date((st.today)()),
        months: series
            .iter()
            .rev()
            .take(12)
            .map(|m| {
                let f = figures(r, m.month);
                let (status, class) = status_text(t, Some(m.status));
                MonthRow {
                    month: lang.month(m.month),
                    status,
                    class,
                    new: f.acquisitions,
                    collections: f.collections,
                    collected: lang.rupiah(f.collected),
                }
            })
            .collect(),
        not_deposited,
        statement_month: lang.month(month),
        statement_month_value: month.to_string(),
        statement: statement_view(lang, &body),
        csv_href: format!("/agen/{}/laporan.csv?bulan={month}", r.agent.code),
        due: work(&w.due_this_month, true),
        arrears: work(&w.in_arrears, false),
        gap_villages: w
            .villages
            .iter()
            .map(|v| VillageRow {
                name: v.name.clone(),
                registered: lang.num(v.registered),
                active: lang.num(v.status_active),
                uncovered: lang.num(v.uncovered),
            })
            .collect(),
        open_tasks: tasks
            .as_ref()
            .map(|k| k.iter().filter(|x| x.outcome.is_none()).count())
            .unwrap_or(0),
        tasks,
        outcomes: super::reminders::outcomes(t),
    })
}

/// `/agen/{code}`: an agent's page (the agent, their branch, head office).
pub async fn agent(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<AgentQuery>,
) -> Result<Response, PageError> {
    let r = agent_record(&st, &page, &code).await?;
    let month = statement_month(&st, &q.bulan);
    let flash = match q.ok.as_deref() {
        Some("setoran") => Some(page.t().deposited_ok),
        Some("tugas") => Some(page.t().rem_task_recorded),
        Some("tugas-salah") => Some(page.t().rem_task_unknown_outcome),
        _ => None,
    };
    html(&agent_page(&st, &page, &r, month, flash, Vec::new()).await?)
}

/// `/agen/{code}/laporan.csv`: the agent's statement of a month.
pub async fn agent_csv(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<AgentQuery>,
) -> Result<Response, PageError> {
    let code = code.trim_end_matches(".csv").to_string();
    let r = agent_record(&st, &page, &code).await?;
    let month = statement_month(&st, &q.bulan);
    let s = statement(&st.rules, month, &figures(&r, month))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(super::csv_response(
        &format!("imbal-jasa-{code}-{month}.csv"),
        net::statement_csv(&[net::statement_body(&code, &s)], None),
    ))
}

#[derive(Debug, Deserialize)]
pub struct DepositForm {
    csrf: String,
    reference: String,
    amount: String,
    deposited_on: String,
}

/// Records a deposit from the agent's page (branch officers and head office).
pub async fn deposit(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Form(f): Form<DepositForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let r = agent_record(&st, &page, &code).await?;
    authorize(
        &me.who,
        Action::ManageNetwork,
        &Resource::Region(r.agent.home_village),
    )
    .map_err(|d| PageError::Forbidden(page.lang, d.0.to_string()))?;
    let mut errors = Vec::new();
    let amount = cakupan_domain::Rupiah::parse(&f.amount)
        .map(|r| r.0)
        .filter(|a| *a > 0);
    if amount.is_none() {
        errors.push(cakupan_domain::FieldError::new(
            "amount",
            "amount.positive",
            "amount must be a positive whole number of rupiah",
        ));
    }
    let on =
        cakupan_domain::month::parse_date(f.deposited_on.trim()).filter(|d| *d <= (st.today)());
    if on.is_none() {
        errors.push(cakupan_domain::FieldError::new(
            "deposited_on",
            "date.format",
            "deposited_on must be a real date, not after today",
        ));
    }
    let reference = f.reference.trim().to_string();
    if reference.is_empty()
        || reference.len() > 64
        || !reference
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_./:".contains(&c))
    {
        errors.push(cakupan_domain::FieldError::new(
            "reference",
            "reference.format",
            "reference must be 1 to 64 letters, digits or - _ . / :",
        ));
    }
    let messages = |errors: &[cakupan_domain::FieldError]| -> Vec<String> {
        errors.iter().map(|e| page.lang.summary_line(e)).collect()
    };
    let month = Month::of((st.today)());
    let (Some(amount), Some(on), true) = (amount, on, errors.is_empty()) else {
        let msgs = messages(&errors);
        return html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &agent_page(&st, &page, &r, month, None, msgs).await?,
        );
    };
    match st
        .store
        .add_deposit(&Deposit {
            reference,
            agent_code: r.agent.code.clone(),
            amount,
            deposited_on: on,
            recorded_by: me.who.username.clone(),
        })
        .await
    {
        Ok(_) => {}
        Err(cakupan_store::StoreError::Rejected(e)) => {
            let msgs = messages(&e.0);
            return html_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &agent_page(&st, &page, &r, month, None, msgs).await?,
            );
        }
        Err(e) => return Err(e.into()),
    }
    page.audit(
        &st,
        "deposit.add",
        format!("agent:{}", r.agent.code),
        "contribution",
    )
    .await?;
    Ok(Redirect::to(&format!("/agen/{}?ok=setoran", r.agent.code)).into_response())
}

#[derive(Template)]
#[template(path = "office.html")]
struct OfficePage {
    t: &'static Tr,
    nav: Nav,
    code: String,
    name: String,
    kind: String,
    region: String,
    agreement: String,
    month: String,
    month_value: String,
    rows: Vec<(String, StatementView)>,
    total: StatementView,
    csv_href: String,
    /// The office against its monthly targets, newest first (last 12 judged months).
    target_rows: Vec<(String, String, String, bool)>,
    target_state: String,
    target_state_class: &'static str,
    /// The end the standing calls for, not yet recorded: the review button is shown.
    may_end: bool,
    csrf: String,
    flash: Option<&'static str>,
    errors: Vec<String>,
}

/// `/kantor/{code}`: an office's statement of a month (`?format=csv` for the CSV).
pub async fn office(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<OfficeQuery>,
) -> Result<Response, PageError> {
    may_manage(&page)?;
    let o = managed_office(&st, &page, &code).await?;
    if q.format.as_deref() == Some("csv") {
        let month = statement_month(&st, &q.bulan);
        let s = net::office_statement(&st, &o, month)
            .await
            .map_err(|e| PageError::Internal(format!("{e:?}")))?;
        return Ok(super::csv_response(
            &format!("imbal-jasa-{code}-{month}.csv"),
            net::statement_csv(&s.agents, Some(&s.total)),
        ));
    }
    let flash = match q.ok.as_deref() {
        Some("target") => Some(page.t().office_target_saved),
        Some("tinjau") => Some(page.t().office_reviewed),
        _ => None,
    };
    html(&office_page(&st, &page, o, &q.bulan, flash, Vec::new()).await?)
}

/// The office `code`, if the user manages the network of its region (else 403; unknown: 404).
async fn managed_office(
    st: &AppState,
    page: &Page,
    code: &str,
) -> Result<cakupan_store::agents::Office, PageError> {
    let o = st
        .store
        .office(code)
        .await?
        .ok_or(PageError::NotFound(page.lang))?;
    page.allow(Action::ManageNetwork, &Resource::Region(o.region))?;
    Ok(o)
}

async fn office_page(
    st: &AppState,
    page: &Page,
    o: cakupan_store::agents::Office,
    bulan: &Option<String>,
    flash: Option<&'static str>,
    errors: Vec<String>,
) -> Result<OfficePage, PageError> {
    let code = o.code.clone();
    let month = statement_month(st, bulan);
    let s = net::office_statement(st, &o, month)
        .await
        .map_err(|e| PageError::Internal(format!("{e:?}")))?;
    let review = net::office_review(st, &o)
        .await
        .map_err(|e| PageError::Internal(format!("{e:?}")))?;
    let lang = page.lang;
    let t = page.t();
    let recorded_end = o
        .agreement_to
        .is_some_and(|d| review.ended_from.is_some_and(|f| d < f.first_day()));
    let (target_state, target_state_class) = match review.ended_from {
        _ if review.months.is_empty() => (t.office_no_target.to_string(), "st-pending"),
        Some(from) => (
            format!(
                "{} {} ({} {})",
                t.office_ended,
                lang.month(from),
                review.limit,
                t.office_months_below
            ),
            "st-terminated",
        ),
        None => (
            format!(
                "{}: {} / {} {}",
                t.office_in_agreement, review.below_in_a_row, review.limit, t.office_months_below
            ),
            if review.below_in_a_row > 0 {
                "st-arrears"
            } else {
                "st-active"
            },
        ),
    };
    Ok(OfficePage {
        target_rows: review
            .months
            .iter()
            .rev()
            .take(12)
            .map(|m| {
                (
                    lang.month(m.month),
                    lang.num(m.target),
                    lang.num(m.acquisitions),
                    m.below,
                )
            })
            .collect(),
        target_state,
        target_state_class,
        may_end: review.ended_from.is_some() && !recorded_end,
        csrf: page.require().map(|m| m.csrf.clone()).unwrap_or_default(),
        flash,
        errors,
        t: page.t(),
        nav: page.nav(),
        name: o.name.clone(),
        kind: super::i18n::office_kind(page.lang, &o.kind).to_string(),
        region: st.regions.path_label(o.region),
        agreement: format!(
            "{} – {}",
            cakupan_domain::month::format_date(o.agreement_from),
            o.agreement_to
                .map(cakupan_domain::month::format_date)
                .unwrap_or_default()
        ),
        month: lang.month(month),
        month_value: month.to_string(),
        rows: s
            .agents
            .iter()
            .map(|a| (a.code.clone(), statement_view(lang, a)))
            .collect(),
        total: statement_view(lang, &s.total),
        csv_href: format!("/kantor/{code}?bulan={month}&format=csv"),
        code,
    })
}

#[derive(Debug, Deserialize)]
pub struct OfficeQuery {
    bulan: Option<String>,
    format: Option<String>,
    ok: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct OfficeTargetForm {
    csrf: String,
    from: String,
    acquisitions: String,
}

/// `POST /kantor/{code}/target`: the branch sets the office's monthly target (audited).
pub async fn office_target(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Form(f): Form<OfficeTargetForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let o = managed_office(&st, &page, &code).await?;
    let mut errors = Vec::new();
    let from = Month::parse(f.from.trim()).map_err(|_| {
        errors.push(cakupan_domain::FieldError::new(
            "from",
            "month.format",
            "from must be a month written YYYY-MM",
        ))
    });
    // A count, written like an amount ("1.200").
    let n = cakupan_domain::Rupiah::parse(&f.acquisitions)
        .map(|r| r.0)
        .filter(|n| *n >= 0);
    if n.is_none() {
        errors.push(cakupan_domain::FieldError::new(
            "acquisitions",
            "office_target.negative",
            "an office's target is a number of new participants, 0 or more",
        ));
    }
    let (st_ref, page_ref) = (&st, &page);
    let refuse = |errors: Vec<cakupan_domain::FieldError>| async move {
        let (st, page) = (st_ref, page_ref);
        let msgs = errors.iter().map(|e| page.lang.summary_line(e)).collect();
        html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &office_page(st, page, o.clone(), &None, None, msgs).await?,
        )
    };
    let (Ok(from), Some(n), true) = (from, n, errors.is_empty()) else {
        return refuse(errors).await;
    };
    match st
        .store
        .set_office_target(&code, from, n, &me.who.username)
        .await
    {
        Ok(()) => {}
        Err(cakupan_store::StoreError::Rejected(e)) => return refuse(e.0).await,
        Err(e) => return Err(e.into()),
    }
    page.audit(
        &st,
        "office.target",
        format!("office:{code}"),
        "administration",
    )
    .await?;
    Ok(Redirect::to(&format!("/kantor/{code}?ok=target")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /kantor/{code}/tinjau`: records the end of the office's agreement (and its agents'
/// appointments) when its standing calls for it (audited); a retry changes nothing.
pub async fn office_review(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let o = managed_office(&st, &page, &code).await?;
    page.audit(
        &st,
        "office.review",
        format!("office:{code}"),
        "administration",
    )
    .await?;
    net::end_if_below_target(&st, &o, &me.who.username)
        .await
        .map_err(|e| PageError::Internal(format!("{e:?}")))?;
    Ok(Redirect::to(&format!("/kantor/{code}?ok=tinjau")).into_response())
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    t: &'static Tr,
    nav: Nav,
    nomor: String,
    jumlah: String,
    checked: bool,
    /// This address has checked too many receipts this minute.
    limited: bool,
    found: Option<ReceiptView>,
    flash: Option<&'static str>,
}

struct ReceiptView {
    valid: bool,
    amount: String,
    paid_on: String,
    months: String,
    deposited: bool,
    paid_through: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ReceiptQuery {
    nomor: Option<String>,
    jumlah: Option<String>,
    /// Set when the payment form has just recorded this collection (`paid`, `paid_existing`).
    ok: Option<String>,
}

/// `/kuitansi`: anyone checks a receipt by its number and amount (no sign-in).
pub async fn receipt(
    State(st): St,
    page: Page,
    crate::sessions::ClientAddr(ip): crate::sessions::ClientAddr,
    Query(q): Query<ReceiptQuery>,
) -> Result<Response, PageError> {
    let lang = page.lang;
    let nomor = q.nomor.unwrap_or_default().trim().to_string();
    let jumlah = q.jumlah.unwrap_or_default().trim().to_string();
    let checked = !nomor.is_empty();
    // The same limit per address as the API's receipt check.
    let limited = checked && st.auth.receipt_check(&ip).is_err();
    let found = if checked && !limited {
        net::receipt(&st, &nomor, &jumlah)
            .await
            .map_err(|e| PageError::Internal(format!("{e:?}")))?
            .map(|r| ReceiptView {
                valid: r.status == "valid",
                amount: lang.rupiah(r.amount),
                paid_on: r.paid_on.clone(),
                months: match Month::parse(&r.first_month) {
                    Ok(m) if r.months > 1 => {
                        format!("{} – {}", lang.month(m), lang.month(m.plus(r.months - 1)))
                    }
                    Ok(m) => lang.month(m),
                    Err(_) => r.first_month.clone(),
                },
                deposited: r.deposited,
                paid_through: r.paid_through.clone(),
            })
    } else {
        None
    };
    let status = if limited {
        StatusCode::TOO_MANY_REQUESTS
    } else if checked && found.is_none() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    html_status(
        status,
        &ReceiptPage {
            t: page.t(),
            nav: page.nav(),
            flash: match q.ok.as_deref() {
                Some("paid") if found.is_some() => Some(page.t().paid_ok),
                Some("paid_existing") if found.is_some() => Some(page.t().paid_existing),
                _ => None,
            },
            nomor,
            jumlah,
            checked,
            limited,
            found,
        },
    )
}
