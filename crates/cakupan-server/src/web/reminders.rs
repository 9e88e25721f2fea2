//! `/pengingat` (issue #21): what the reminders did (the experiment: SMS and agents against
//! the holdout, agents against SMS, each with its 95% interval), retention in the reader's
//! area, and for those who manage a region today's stored plan and how far its sending has
//! gone; `/pengingat/balasan`, the
//! branch's queue of SMS replies; and the agent's reminder tasks on their own page
//! (`/agen/{code}`), each recorded in two taps (open it, choose the outcome). The same
//! services as the API (`cakupan_app::reminders`).

use super::i18n::{Lang, Tr};
use super::{Nav, Page, PageError, St, html};
use crate::AppState;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use cakupan_app::AppError;
use cakupan_app::reminders as svc;
use cakupan_domain::access::{Capability, Principal};
use cakupan_domain::reminders::{Arm, TaskOutcome};
use cakupan_domain::{Month, RegionCode, Segment};
use serde::Deserialize;

fn failed(page: &Page, e: AppError) -> PageError {
    match e {
        AppError::NotFound(_) => PageError::NotFound(page.lang),
        AppError::Forbidden(_) => PageError::Forbidden(page.lang, page.t().rem_forbidden.into()),
        e => PageError::Internal(format!("{e:?}")),
    }
}

/// A rule's name in the reader's language (a rule the word tables do not know yet is named
/// generically, never by its code).
pub fn rule_name(t: &'static Tr, rule: &str) -> &'static str {
    match rule {
        "before_due" => t.rem_rule_before_due,
        "arrears_1" => t.rem_rule_arrears_1,
        "arrears_2" => t.rem_rule_arrears_2,
        "winback_1" => t.rem_rule_winback_1,
        "winback_3" => t.rem_rule_winback_3,
        "winback_6" => t.rem_rule_winback_6,
        "invoice_due" => t.rem_rule_invoice_due,
        "invoice_overdue" => t.rem_rule_invoice_overdue,
        _ => t.rem_rule_other,
    }
}

fn arm_name(t: &'static Tr, arm: &str) -> &'static str {
    match Arm::parse(arm) {
        Some(Arm::Sms) => t.rem_arm_sms,
        Some(Arm::Agent) => t.rem_arm_agent,
        _ => t.rem_arm_holdout,
    }
}

fn segment_name(t: &'static Tr, s: &str) -> &'static str {
    match Segment::parse(s) {
        Some(Segment::Pu) => t.pu,
        _ => t.bpu,
    }
}

pub fn outcome_name(t: &'static Tr, o: TaskOutcome) -> &'static str {
    match o {
        TaskOutcome::WillPay => t.rem_outcome_will_pay,
        TaskOutcome::Paid => t.rem_outcome_paid,
        TaskOutcome::Declined => t.rem_outcome_declined,
        TaskOutcome::NotReached => t.rem_outcome_not_reached,
    }
}

/// One month of retention, written for a reader.
#[derive(Debug)]
pub struct RetentionRow {
    pub month: String,
    pub lapse_rate: String,
    pub reactivation_rate: String,
    pub lapsed: String,
    pub reactivated: String,
    pub bpu_lapses: String,
    pub reminded_share: String,
}

/// Retention of an area, written for a reader.
#[derive(Debug, Default)]
pub struct Retention {
    /// Newest first.
    pub rows: Vec<RetentionRow>,
    /// When the BPU lapses were counted (by the day's planning), in words.
    pub as_of: String,
}

/// Retention in `within` over the last `months` months, newest first; counts under the
/// small-cell threshold (and the rates they would give away) are withheld for roles that see
/// no personal data.
pub async fn retention_rows(
    st: &AppState,
    who: &Principal,
    lang: Lang,
    within: RegionCode,
    segment: Option<Segment>,
    months: u32,
) -> Result<Retention, AppError> {
    let t = lang.tr();
    let min_cell = st.auth.policy.aggregate_min_cell;
    let shown = |v: i64| cakupan_domain::access::shown(who.role, v, min_cell).is_some();
    let count = |v: i64| {
        if shown(v) {
            lang.num(v)
        } else {
            t.withheld.into()
        }
    };
    let rate = |r: Option<f64>, base: i64| match r {
        Some(x) if shown(base) => lang.pct(x),
        Some(_) => t.withheld.into(),
        None => "–".into(),
    };
    let rows = svc::retention(st, who, within, segment, months).await?;
    let as_of = match rows.iter().find_map(|r| r.lapses_as_of) {
        Some(at) => t
            .rem_lapses_as_of
            .replace("{t}", &moment(st, lang, &within.to_string(), at)),
        None => t.rem_lapses_not_yet.to_string(),
    };
    let rows = rows
        .into_iter()
        .rev()
        .map(|r| RetentionRow {
            month: Month::parse(&r.month)
                .map(|m| lang.month(m))
                .unwrap_or(r.month),
            lapse_rate: rate(r.lapse_rate, r.lapsed),
            reactivation_rate: rate(r.reactivation_rate, r.reactivated),
            lapsed: count(r.lapsed),
            reactivated: count(r.reactivated),
            bpu_lapses: count(r.bpu_lapses),
            reminded_share: rate(r.reminded_share, r.bpu_lapses),
        })
        .collect();
    Ok(Retention { rows, as_of })
}

struct EffectRow {
    group: String,
    treated: String,
    comparison: String,
    effect: String,
    interval: String,
    verdict: &'static str,
    verdict_class: &'static str,
}

struct EffectTable {
    testid: &'static str,
    title: &'static str,
    treated: &'static str,
    comparison: &'static str,
    rows: Vec<EffectRow>,
}

struct PlanRow {
    rule: &'static str,
    province: String,
    arm: &'static str,
    status: &'static str,
    n: String,
}

fn status_name(t: &'static Tr, status: &str) -> &'static str {
    match status {
        "planned" => t.rem_status_planned,
        "sending" => t.rem_status_sending,
        "sent" => t.rem_status_sent,
        "unknown" => t.rem_status_unknown,
        "failed" => t.rem_status_failed,
        "no_phone" => t.rem_status_no_phone,
        "opted_out" => t.rem_status_opted_out,
        "done" => t.rem_status_done,
        "held_out" => t.rem_status_held_out,
        _ => t.rem_status_other,
    }
}

#[derive(Template)]
#[template(path = "reminders.html")]
struct RemindersPage {
    t: &'static Tr,
    nav: Nav,
    window_note: String,
    counted: String,
    tables: Vec<EffectTable>,
    area: String,
    segment: String,
    retention: Retention,
    plan: Option<Vec<PlanRow>>,
    plan_day: String,
    manages: bool,
}

#[derive(Debug, Deserialize)]
pub struct RemindersQuery {
    segmen: Option<String>,
}

/// A share paying, as "paid of n (share)".
fn tally(lang: Lang, t: &'static Tr, x: cakupan_domain::reminders::Tally) -> String {
    format!(
        "{} {} {} ({})",
        lang.num(i64::try_from(x.paid).unwrap_or(i64::MAX)),
        t.rem_of,
        lang.num(i64::try_from(x.n).unwrap_or(i64::MAX)),
        x.share().map(|s| lang.pct(s)).unwrap_or_default()
    )
}

/// `/pengingat`: the experiment, retention of the reader's area and today's plan.
pub async fn home(
    State(st): St,
    page: Page,
    Query(q): Query<RemindersQuery>,
) -> Result<Response, PageError> {
    let me = page.require()?;
    let who = me.who.clone();
    if !who.role.can(Capability::SeesCoverage) {
        return Err(PageError::Forbidden(
            page.lang,
            page.t().rem_forbidden.into(),
        ));
    }
    let (lang, t) = (page.lang, page.t());
    let today = (st.today)();
    let policy = svc::policy(&st, today).map_err(|e| failed(&page, e))?;
    let comparisons = svc::experiment(&st, &who)
        .await
        .map_err(|e| failed(&page, e))?;
    let by_order = |by: &str| match by {
        "all" => 0,
        "rule" => 1,
        "segment" => 2,
        _ => 3,
    };
    let mut tables = Vec::new();
    for (contrast, testid, title, treated, comparison) in [
        (
            "sms",
            "effect-sms",
            t.rem_contrast_sms,
            t.rem_arm_sms,
            t.rem_arm_holdout,
        ),
        (
            "agent",
            "effect-agent",
            t.rem_contrast_agent,
            t.rem_arm_agent,
            t.rem_arm_holdout,
        ),
        (
            "agent_vs_sms",
            "effect-agent-sms",
            t.rem_contrast_agent_vs_sms,
            t.rem_arm_agent,
            t.rem_arm_sms,
        ),
    ] {
        let mut cs: Vec<_> = comparisons
            .iter()
            .filter(|c| c.contrast == contrast)
            .collect();
        cs.sort_by_key(|c| (by_order(&c.by), c.value.clone()));
        let rows = cs
            .into_iter()
            .map(|c| {
                let group = match c.by.as_str() {
                    "all" => t.rem_all.to_string(),
                    "rule" => rule_name(t, &c.value).to_string(),
                    "segment" => segment_name(t, &c.value).to_string(),
                    _ => RegionCode::parse(&c.value)
                        .map(|r| super::regions::region_name(&st, r))
                        .unwrap_or_else(|_| t.rem_unknown_region.into()),
                };
                let e = &c.effect;
                let (verdict, verdict_class) = if e.low > 0.0 {
                    (t.rem_verdict_up, "st-active")
                } else if e.high < 0.0 {
                    (t.rem_verdict_down, "st-nonactive")
                } else {
                    (t.rem_verdict_unclear, "st-pending")
                };
                EffectRow {
                    group,
                    treated: tally(lang, t, e.treated),
                    comparison: tally(lang, t, e.comparison),
                    effect: lang.points(e.effect),
                    interval: format!(
                        "{} {} {}",
                        lang.points(e.low),
                        t.rem_to,
                        lang.points(e.high)
                    ),
                    verdict,
                    verdict_class,
                }
            })
            .collect();
        tables.push(EffectTable {
            testid,
            title,
            treated,
            comparison,
            rows,
        });
    }
    let segment = q
        .segmen
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(Segment::parse);
    let retention = retention_rows(&st, &who, lang, who.region, segment, 12)
        .await
        .map_err(|e| failed(&page, e))?;
    let manages = who.role.can(Capability::ManagesRegion);
    // What today's planning stored, and how far sending has gone (the daily job plans; a dry
    // run of the whole day is the API's `GET /api/v1/reminders/plan`, too heavy for a page at
    // national scale).
    let plan = if manages {
        let rows = st
            .store
            .plan_counts(today)
            .await?
            .into_iter()
            .filter(|l| {
                RegionCode::parse(&l.province)
                    .is_ok_and(|r| who.region.contains(r) || r.contains(who.region))
            })
            .map(|l| PlanRow {
                rule: rule_name(t, &l.rule),
                province: RegionCode::parse(&l.province)
                    .map(|r| super::regions::region_name(&st, r))
                    .unwrap_or_else(|_| t.rem_unknown_region.into()),
                arm: arm_name(t, &l.arm),
                status: status_name(t, &l.status),
                n: lang.num(l.n),
            })
            .collect();
        Some(rows)
    } else {
        None
    };
    html(&RemindersPage {
        t,
        nav: page.nav(),
        window_note: t
            .rem_window_note
            .replace("{d}", &policy.paid_within_days.to_string()),
        counted: comparisons
            .first()
            .map(|c| {
                t.rem_effect_as_of.replace(
                    "{t}",
                    &moment(&st, lang, &who.region.to_string(), c.counted_at),
                )
            })
            .unwrap_or_default(),
        tables,
        area: super::regions::region_name(&st, who.region),
        segment: segment.map(|s| s.as_str().to_string()).unwrap_or_default(),
        retention,
        plan,
        plan_day: lang.date(today),
        manages,
    })
}

struct ReplyRow {
    id: i64,
    received: String,
    kind: &'static str,
    phone: String,
    text: String,
    due: String,
    overdue: bool,
    answered: Option<String>,
}

#[derive(Template)]
#[template(path = "replies.html")]
struct RepliesPage {
    t: &'static Tr,
    nav: Nav,
    flash: Option<&'static str>,
    open: Vec<ReplyRow>,
    done: Vec<ReplyRow>,
}

#[derive(Debug, Deserialize)]
pub struct OkQuery {
    ok: Option<String>,
}

/// A moment in the local time of the region's province (the rules' first zone for the nation).
fn moment(st: &AppState, lang: Lang, region: &str, secs: i64) -> String {
    let day = (st.today)();
    let (offset, name) = st
        .rules
        .time_zone(region, day)
        .map(|z| (z.utc_offset_minutes, z.name.as_str()))
        .unwrap_or((0, "UTC"));
    lang.moment(secs, offset, name)
}

/// `/pengingat/balasan`: the replies by SMS from the reader's area, open ones first.
pub async fn replies(
    State(st): St,
    page: Page,
    Query(q): Query<OkQuery>,
) -> Result<Response, PageError> {
    let me = page.require()?;
    let (lang, t) = (page.lang, page.t());
    let all = svc::replies(&st, &me.who, false)
        .await
        .map_err(|e| failed(&page, e))?;
    page.audit_many(
        &st,
        "reminder.replies",
        all.iter()
            .map(|r| format!("sms_replies:{}", r.id))
            .collect(),
        "service",
    )
    .await?;
    let now = cakupan_store::clock::now_secs();
    let (mut open, mut done) = (Vec::new(), Vec::new());
    for r in all {
        let row = ReplyRow {
            id: r.id,
            received: moment(&st, lang, &r.region, r.received_at),
            kind: match r.kind.as_str() {
                "stop" => t.rem_reply_stop,
                "start" => t.rem_reply_start,
                _ => t.rem_reply_question,
            },
            phone: r.phone,
            text: r.text,
            due: moment(&st, lang, &r.region, r.due_at),
            overdue: r.answered_at.is_none() && r.due_at < now,
            answered: r.answered_at.map(|a| {
                format!(
                    "{} {}",
                    moment(&st, lang, &r.region, a),
                    r.answered_by.unwrap_or_default()
                )
            }),
        };
        if row.answered.is_none() {
            open.push(row);
        } else {
            done.push(row);
        }
    }
    html(&RepliesPage {
        t,
        nav: page.nav(),
        flash: (q.ok.as_deref() == Some("1")).then_some(t.rem_reply_marked),
        open,
        done,
    })
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Marks a reply answered (audited); again is harmless.
pub async fn answer_reply(
    State(st): St,
    page: Page,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    svc::answer_reply(&st, &me.who, id, &page.request_id)
        .await
        .map_err(|e| failed(&page, e))?;
    Ok(Redirect::to("/pengingat/balasan?ok=1").into_response())
}

/// One of the agent's reminder tasks on their page.
#[derive(Debug)]
pub struct TaskRow {
    pub id: i64,
    pub name: String,
    pub kpj: String,
    pub village: String,
    pub rule: &'static str,
    pub pay_by: String,
    pub tel: Option<String>,
    pub phone: Option<String>,
    /// The outcome recorded, in words; none while open.
    pub outcome: Option<&'static str>,
}

/// The signed-in agent's tasks, open ones first (the reads are audited by the service).
pub async fn task_rows(
    st: &AppState,
    page: &Page,
    who: &Principal,
) -> Result<Vec<TaskRow>, PageError> {
    let (lang, t) = (page.lang, page.t());
    let tasks = svc::tasks(st, who, &page.request_id)
        .await
        .map_err(|e| failed(page, e))?;
    let mut rows: Vec<TaskRow> = tasks
        .into_iter()
        .map(|k| TaskRow {
            id: k.reminder.id,
            name: k.name,
            kpj: k.kpj,
            village: RegionCode::parse(&k.village_code)
                .map(|r| super::regions::region_name(st, r))
                .unwrap_or_default(),
            rule: rule_name(t, &k.reminder.rule),
            pay_by: cakupan_domain::month::parse_date(&k.reminder.pay_by)
                .map(|d| lang.date(d))
                .unwrap_or(k.reminder.pay_by),
            tel: k.phone.as_ref().map(|p| {
                format!(
                    "tel:{}",
                    p.chars()
                        .filter(|c| c.is_ascii_digit() || *c == '+')
                        .collect::<String>()
                )
            }),
            phone: k.phone,
            outcome: k
                .reminder
                .outcome
                .as_deref()
                .and_then(TaskOutcome::parse)
                .map(|o| outcome_name(t, o)),
        })
        .collect();
    rows.sort_by_key(|r| r.outcome.is_some());
    Ok(rows)
}

/// The outcomes an agent chooses from: (value, words).
pub fn outcomes(t: &'static Tr) -> Vec<(&'static str, &'static str)> {
    [
        TaskOutcome::WillPay,
        TaskOutcome::Paid,
        TaskOutcome::Declined,
        TaskOutcome::NotReached,
    ]
    .into_iter()
    .map(|o| (o.as_str(), outcome_name(t, o)))
    .collect()
}

#[derive(Debug, Deserialize)]
pub struct TaskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    outcome: String,
}

/// The second tap: records a task's outcome and goes back to the agent's page.
pub async fn record_task(
    State(st): St,
    page: Page,
    Path((code, id)): Path<(String, i64)>,
    Form(f): Form<TaskForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    if me.who.agent_code.as_deref() != Some(code.as_str()) {
        return Err(PageError::Forbidden(
            page.lang,
            page.t().rem_forbidden.into(),
        ));
    }
    match svc::record_task(&st, &me.who, id, &f.outcome, &page.request_id).await {
        Ok(()) => Ok(Redirect::to(&format!("/agen/{code}?ok=tugas#tugas-h")).into_response()),
        // An outcome not offered (a forged form): the page again, nothing recorded.
        Err(AppError::Invalid(_)) => {
            Ok(Redirect::to(&format!("/agen/{code}?ok=tugas-salah#tugas-h")).into_response())
        }
        Err(e) => Err(failed(&page, e)),
    }
}
