//! The Perisai agent network (issue #6, DOMAIN.md §5) over HTTP: partner offices and their
//! agents, agents' standing, cash they hold and its deposits, monthly fee statements, worklists
//! and agent counts per region, and the public check of a receipt. The pages (`web::agents`)
//! use the same functions.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cakupan_domain::access::{Action, Resource};
use cakupan_domain::coverage::{Reason, Status, series};
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::perisai::{
    AgentEvent, AgentMonth, AgentMonthStatus, AgentStatus, Statement, check_reactivation,
    custody_alerts, statement, status_series,
};
use cakupan_domain::{FieldError, FieldErrors, Level, Month, Nik, RegionCode};
use cakupan_store::Participant;
use cakupan_store::agents::{AgentFilter, AgentRecord, Deposit, Office};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

fn invalid(field: &str, rule: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid(FieldError::new(field, rule, message).into())
}

fn month_param(v: &Option<String>, field: &str, default: Month) -> Result<Month, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => {
            Month::parse(s).map_err(|e| invalid(field, "month.format", format!("{field} {e}")))
        }
    }
}

/// The resource an agent's record is, for the access decision.
pub fn agent_resource(r: &AgentRecord) -> Resource {
    Resource::Agent {
        home: r.agent.home_village,
        code: r.agent.code.clone(),
    }
}

/// One agent's record, if the caller may read it (a refusal reads like absence).
pub async fn readable_agent(
    st: &AppState,
    who: &cakupan_domain::access::Principal,
    code: &str,
) -> Result<Option<AgentRecord>, ApiError> {
    let Some(r) = st
        .store
        .agent_records(AgentFilter::Code(code))
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    Ok(
        cakupan_domain::access::authorize(who, Action::ReadAgent, &agent_resource(&r))
            .is_ok()
            .then_some(r),
    )
}

/// An agent's standing up to `month`.
pub fn standing(st: &AppState, r: &AgentRecord, month: Month) -> Vec<AgentMonthStatus> {
    status_series(
        &st.rules,
        r.agent.appointed,
        &r.active_months(),
        &r.events,
        month,
    )
}

/// An office's standing against its monthly targets on today's date: each complete month's new
/// participants, summed over its agents, against the target in force then
/// (`perisai::office_standing`).
pub async fn office_review(
    st: &AppState,
    office: &Office,
) -> Result<cakupan_domain::perisai::OfficeStanding, ApiError> {
    let targets = st.store.office_targets(&office.code).await?;
    let mut acquisitions: BTreeMap<Month, i64> = BTreeMap::new();
    for r in st
        .store
        .agent_records(AgentFilter::Office(&office.code))
        .await?
    {
        for (m, f) in &r.months {
            *acquisitions.entry(*m).or_default() += f.acquisitions;
        }
    }
    Ok(cakupan_domain::perisai::office_standing(
        &st.rules,
        &targets,
        &acquisitions,
        Month::of((st.today)()),
    ))
}

/// Records the end of an office's agreement when its standing says it has ended: the
/// agreement's last day, and the end of its agents' appointments from the month after (they
/// then collect nothing). Returns the standing. A retry records nothing new.
pub async fn end_if_below_target(
    st: &AppState,
    office: &Office,
    by: &str,
) -> Result<cakupan_domain::perisai::OfficeStanding, ApiError> {
    let s = office_review(st, office).await?;
    if let Some(from) = s.ended_from
        && let Some(last_day) = from.first_day().previous_day()
    {
        st.store
            .end_office_agreement(
                &office.code,
                last_day,
                from,
                &format!(
                    "office agreement ended: {} consecutive months below its target",
                    s.limit
                ),
                by,
                crate::auth::now_secs(),
            )
            .await?;
    }
    Ok(s)
}

/// The status of a series in `month` (before the appointment: none).
pub fn status_in(series: &[AgentMonthStatus], month: Month) -> Option<AgentStatus> {
    series.iter().find(|s| s.month == month).map(|s| s.status)
}

/// An agent's figures for one month (zero when nothing happened).
pub fn figures(r: &AgentRecord, month: Month) -> AgentMonth {
    r.months
        .iter()
        .find(|(m, _)| *m == month)
        .map(|(_, v)| *v)
        .unwrap_or_default()
}

/// What an agent holds and since when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Custody {
    /// Collected and not reversed, less deposits (Rp).
    pub held: i64,
    pub collected: i64,
    pub deposited: i64,
    /// The day of the oldest collection the deposits have not settled (oldest first).
    pub oldest_unsettled: Option<String>,
    pub oldest_days: Option<i64>,
    /// Why the cash needs attention (rules/perisai.toml), empty if it does not.
    pub alerts: Vec<String>,
}

pub async fn custody(st: &AppState, r: &AgentRecord) -> Result<Custody, ApiError> {
    let deposits = st.store.deposits(&r.agent.code).await?;
    let collections = st.store.collections(&r.agent.code).await?;
    let deposited: i64 = deposits.iter().map(|d| d.amount).sum();
    let held = cakupan_store::agents::held(&r.months, &deposits);
    let today = (st.today)();
    let oldest = cakupan_store::agents::oldest_unsettled(&collections, deposited)
        .filter(|_| held > 0)
        .map(|c| c.paid_on);
    let oldest_days = oldest.map(|d| (today - d).whole_days());
    Ok(Custody {
        held,
        collected: r
            .months
            .iter()
            .map(|(_, m)| m.collected - m.collected_reversed)
            .sum(),
        deposited,
        oldest_unsettled: oldest.map(format_date),
        oldest_days,
        alerts: custody_alerts(&st.rules, Month::of(today), held, oldest_days)
            .iter()
            .map(|e| e.message.clone())
            .collect(),
    })
}

/// A participant on an agent's worklist.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkItem {
    pub participant_id: i64,
    pub kpj: String,
    pub name: String,
    pub village_code: String,
    /// The coverage status this month (DOMAIN.md §4.1).
    pub status: String,
    /// Consecutive unpaid months up to this one.
    pub months_unpaid: u32,
    /// The last month paid for, if any.
    pub paid_through: Option<String>,
}

/// A village of an agent's territory and its uncovered participants.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VillageGap {
    pub village_code: String,
    pub name: String,
    pub registered: i64,
    pub status_active: i64,
    /// Registered but not active (non-active, or never paid): the workers to win back.
    pub uncovered: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Worklist {
    pub month: String,
    /// Paid through last month, this month not yet: due now (by the 15th).
    pub due_this_month: Vec<WorkItem>,
    /// Two or more months unpaid: non-active next month unless they pay.
    pub in_arrears: Vec<WorkItem>,
    /// The agent's villages, most uncovered first.
    pub villages: Vec<VillageGap>,
}

/// An agent's worklist for `month`, from the coverage engine over their participants' ledgers
/// and the counters of their villages.
pub async fn worklist(st: &AppState, r: &AgentRecord, month: Month) -> Result<Worklist, ApiError> {
    let mut due = Vec::new();
    let mut arrears = Vec::new();
    for (p, ledger) in st.store.acquired_by(&r.agent.code).await? {
        let reg = &p.registration;
        let registered = Month::of(reg.registered_on);
        if registered > month {
            continue;
        }
        let facts = cakupan_store::ledger::facts(reg.segment, registered, &ledger);
        let s = series(&st.rules, &facts, registered, month)
            .map_err(|e| ApiError::Invalid(e.into()))?;
        let Some(now) = s.last() else { continue };
        if now.status != Status::InArrears {
            continue;
        }
        // Months overdue, not merely unpaid: a month whose due date is still ahead is due, not
        // arrears.
        let k = match now.reason {
            Reason::Unpaid { overdue, .. } => overdue,
            _ => 0,
        };
        let paid_through = s
            .iter()
            .rev()
            .find(|m| m.status == Status::Active)
            .map(|m| m.month.to_string());
        let item = WorkItem {
            participant_id: p.id,
            kpj: p.kpj.clone(),
            name: reg.name.clone(),
            village_code: reg.village.to_string(),
            status: now.status.as_str().into(),
            months_unpaid: k,
            paid_through,
        };
        if k <= 1 {
            due.push(item);
        } else {
            arrears.push(item);
        }
    }
    arrears.sort_by(|a, b| {
        b.months_unpaid
            .cmp(&a.months_unpaid)
            .then(a.name.cmp(&b.name))
    });
    due.sort_by(|a, b| a.name.cmp(&b.name));
    let mut villages = Vec::new();
    for v in &r.agent.villages {
        let h =
            cakupan_store::ledger::RegionHistory::new(st.store.region_history(*v, month).await?);
        let f = h.at(None, month);
        villages.push(VillageGap {
            village_code: v.to_string(),
            name: cakupan_store::targets::name_of(&st.regions, *v),
            registered: f.registered(),
            status_active: f.status_active(),
            uncovered: f.registered() - f.status_active(),
        });
    }
    villages.sort_by(|a, b| b.uncovered.cmp(&a.uncovered).then(a.name.cmp(&b.name)));
    Ok(Worklist {
        month: month.to_string(),
        due_this_month: due,
        in_arrears: arrears,
        villages,
    })
}

/// Posts a contribution as `who` records it, the one path for the API and the pages. An
/// agent's payment is always their cash collection: `collected_by` is the agent, the channel
/// must be `perisai`, their standing and scope are checked (not for a retry of a collection
/// already posted: the agent may have gone idle since), and the answer carries the receipt
/// number. Another caller may name the collecting agent (`collector`, e.g. a branch recording
/// an agent's cash). `p` is the participation concerned, already authorised by the caller;
/// None leaves an unknown NIK to the ledger's own checks.
pub async fn post_contribution(
    st: &AppState,
    who: &cakupan_domain::access::Principal,
    p: Option<&Participant>,
    mut pay: cakupan_domain::contribution::Payment,
    collector: Option<String>,
) -> Result<(cakupan_store::ledger::PostingOutcome, Option<String>), ApiError> {
    use cakupan_store::ledger::{NewPosting, PostingOutcome};
    pay.collected_by = if who.role == cakupan_domain::access::Role::Agent {
        who.agent_code.clone()
    } else {
        collector
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if pay.collected_by.is_some()
        && pay.channel != cakupan_domain::contribution::PaymentChannel::Perisai
    {
        return Err(invalid(
            "channel",
            "channel.collection",
            "a collection by a Perisai agent goes through the perisai channel",
        ));
    }
    if let (Some(agent), Some(p)) = (&pay.collected_by, p) {
        let retry = st
            .store
            .participant_of_posting(&pay.reference)
            .await?
            .is_some();
        if !retry {
            check_collection(st, agent, p, Month::of(pay.paid_on)).await?;
        }
    }
    let collected = pay.collected_by.is_some();
    let outcome = st
        .store
        .post(&st.rules, &NewPosting::Contribution(pay))
        .await?;
    let receipt = match outcome {
        PostingOutcome::Posted { id, .. } | PostingOutcome::Existing { id, .. } if collected => {
            Some(cakupan_store::agents::receipt_number(st.store.keys(), id))
        }
        _ => None,
    };
    Ok((outcome, receipt))
}

/// Whether `agent_code` may collect from participation `p` in `month`: an agent of the
/// directory, active that month, collecting from a participant they acquired, in one of their
/// villages.
pub async fn check_collection(
    st: &AppState,
    agent_code: &str,
    p: &Participant,
    month: Month,
) -> Result<(), ApiError> {
    let Some(r) = st
        .store
        .agent_records(AgentFilter::Code(agent_code))
        .await?
        .into_iter()
        .next()
    else {
        return Err(invalid(
            "collected_by",
            "agent.unknown",
            format!("no Perisai agent has code {agent_code}"),
        ));
    };
    match status_in(&standing(st, &r, month), month) {
        Some(AgentStatus::Active) => {}
        Some(s) => {
            return Err(invalid(
                "collected_by",
                "agent.not_active",
                format!(
                    "agent {agent_code} is {} in {month}: an inactive or terminated agent collects nothing",
                    s.as_str()
                ),
            ));
        }
        None => {
            return Err(invalid(
                "collected_by",
                "agent.not_appointed",
                format!("agent {agent_code} is appointed from {}", r.agent.appointed),
            ));
        }
    }
    let reg = &p.registration;
    if reg.agent_code.as_deref() != Some(agent_code) || !r.agent.villages.contains(&reg.village) {
        return Err(invalid(
            "nik",
            "collection.outside_scope",
            format!(
                "agent {agent_code} collects only from the participants they enrolled in their own villages"
            ),
        ));
    }
    Ok(())
}

/// Whether a registration through the `perisai` channel may name its agent: an agent of the
/// directory must be active in the registration month and serve the village. An agent signing
/// in registers only as an agent of the directory. Codes not in the directory (participants
/// imported from older systems) are accepted from other roles.
pub async fn check_acquisition(
    st: &AppState,
    role: cakupan_domain::access::Role,
    reg: &cakupan_domain::registration::Registration,
) -> Result<(), ApiError> {
    let Some(code) = reg.agent_code.as_deref() else {
        return Ok(());
    };
    let record = st
        .store
        .agent_records(AgentFilter::Code(code))
        .await?
        .into_iter()
        .next();
    let Some(r) = record else {
        return if role == cakupan_domain::access::Role::Agent {
            Err(invalid(
                "agent_code",
                "agent.unknown",
                format!(
                    "no Perisai agent has code {code}: ask the branch to appoint the agent first"
                ),
            ))
        } else {
            Ok(())
        };
    };
    let month = Month::of(reg.registered_on);
    match status_in(&standing(st, &r, month), month) {
        Some(AgentStatus::Active) => {}
        other => {
            return Err(invalid(
                "agent_code",
                "agent.not_active",
                format!(
                    "agent {code} is {} in {month}: only an active agent enrols participants",
                    other
                        .map(AgentStatus::as_str)
                        .unwrap_or("not yet appointed")
                ),
            ));
        }
    }
    if !r.agent.villages.contains(&reg.village) {
        return Err(invalid(
            "village_code",
            "agent.outside_villages",
            format!("agent {code} does not serve village {}", reg.village),
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// JSON

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficeInput {
    /// Capital letters, digits and '-', e.g. KP-32-0001.
    pub code: String,
    pub name: String,
    /// cooperative, foundation, business or community.
    pub kind: String,
    /// Where the office is: a Kemendagri region code.
    pub region: String,
    /// YYYY-MM-DD: the cooperation agreement (PKS).
    pub agreement_from: String,
    pub agreement_to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeBody {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub region: String,
    pub agreement_from: String,
    pub agreement_to: Option<String>,
}

fn office_body(o: &Office) -> OfficeBody {
    OfficeBody {
        code: o.code.clone(),
        name: o.name.clone(),
        kind: o.kind.clone(),
        region: o.region.to_string(),
        agreement_from: format_date(o.agreement_from),
        agreement_to: o.agreement_to.map(format_date),
    }
}

fn date_field(errs: &mut Vec<FieldError>, field: &str, v: &str) -> Option<time::Date> {
    let d = parse_date(v.trim());
    if d.is_none() {
        errs.push(FieldError::new(
            field,
            "date.format",
            format!("{field} must be a real date written YYYY-MM-DD"),
        ));
    }
    d
}

fn region_field(
    st: &AppState,
    errs: &mut Vec<FieldError>,
    field: &str,
    v: &str,
) -> Option<RegionCode> {
    match RegionCode::parse(v.trim()) {
        Ok(c) if c == RegionCode::NATION || st.regions.contains_code(c) => Some(c),
        Ok(c) => {
            errs.push(FieldError::new(
                field,
                "region.unknown",
                format!("{c} is not in the Kemendagri region list"),
            ));
            None
        }
        Err(e) => {
            errs.push(FieldError::new(
                field,
                "region_code.format",
                format!("{field} {e}"),
            ));
            None
        }
    }
}

use crate::error::json_body;

/// Register a Kantor Perisai (partner office). The same office again is a safe retry.
#[utoipa::path(post, path = "/api/v1/offices", request_body = OfficeInput,
    responses((status = 201, body = OfficeBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_office(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: OfficeInput = json_body(&body, "an office object")?;
    let mut errs = Vec::new();
    let region = region_field(&st, &mut errs, "region", &b.region);
    let from = date_field(&mut errs, "agreement_from", &b.agreement_from);
    let to = match b
        .agreement_to
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(t) => date_field(&mut errs, "agreement_to", t),
    };
    let (Some(region), Some(from)) = (region, from) else {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    };
    if !errs.is_empty() {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    }
    caller.allow(Action::ManageNetwork, &Resource::Region(region))?;
    let o = Office {
        code: b.code.trim().to_string(),
        name: b.name.clone(),
        kind: b.kind.trim().to_string(),
        region,
        agreement_from: from,
        agreement_to: to,
    };
    st.store.add_office(&o).await?;
    caller
        .audit(
            &st,
            "office.add",
            format!("office:{}", o.code),
            "administration",
        )
        .await?;
    let stored = st.store.office(&o.code).await?.unwrap_or(o);
    Ok((StatusCode::CREATED, Json(office_body(&stored))))
}

#[derive(Debug, Deserialize)]
pub struct AreaParams {
    region: Option<String>,
    month: Option<String>,
    by: Option<String>,
}

fn area(caller: &Caller, region: &Option<String>) -> Result<RegionCode, ApiError> {
    match region.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(caller.who.region),
        Some(r) => RegionCode::parse(r)
            .map_err(|e| invalid("region", "region_code.format", format!("region {e}"))),
    }
}

/// The offices located in an area (default: the caller's).
#[utoipa::path(get, path = "/api/v1/offices", params(("region" = Option<String>, Query)),
    responses((status = 200, body = [OfficeBody]), (status = 403, body = ErrorBody)))]
pub async fn list_offices(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AreaParams>,
) -> Result<Json<Vec<OfficeBody>>, ApiError> {
    let within = area(&caller, &q.region)?;
    caller.allow(Action::ManageNetwork, &Resource::Region(within))?;
    Ok(Json(
        st.store
            .offices(within)
            .await?
            .iter()
            .map(office_body)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    /// Capital letters, digits and '-', e.g. PRS-32-0001.
    pub code: String,
    pub office_code: String,
    /// The agent's own NIK: agents are registered BPU participants (DOMAIN.md §5).
    pub nik: String,
    /// The villages the agent serves.
    pub villages: Vec<String>,
    /// YYYY-MM.
    pub appointed: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentBody {
    pub code: String,
    pub office_code: String,
    pub participant_id: i64,
    pub home_village: String,
    pub appointed: String,
    pub villages: Vec<String>,
    /// active, inactive or terminated, this month.
    pub status: Option<String>,
    /// The last twelve months: month and status.
    pub history: Vec<(String, String)>,
    pub custody: Custody,
}

async fn agent_body(st: &AppState, r: &AgentRecord) -> Result<AgentBody, ApiError> {
    let month = Month::of((st.today)());
    let s = standing(st, r, month);
    Ok(AgentBody {
        code: r.agent.code.clone(),
        office_code: r.agent.office_code.clone(),
        participant_id: r.agent.participant_id,
        home_village: r.agent.home_village.to_string(),
        appointed: r.agent.appointed.to_string(),
        villages: r.agent.villages.iter().map(|v| v.to_string()).collect(),
        status: status_in(&s, month).map(|x| x.as_str().into()),
        history: s
            .iter()
            .rev()
            .take(12)
            .map(|m| (m.month.to_string(), m.status.as_str().to_string()))
            .collect(),
        custody: custody(st, r).await?,
    })
}

/// Appoint an agent: a registered BPU participant (by NIK), under an office, serving
/// villages. The same appointment again is a safe retry.
#[utoipa::path(post, path = "/api/v1/agents", request_body = AgentInput,
    responses((status = 201, body = AgentBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_agent(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: AgentInput = json_body(&body, "an agent object")?;
    let mut errs = Vec::new();
    let nik = Nik::parse(b.nik.trim())
        .map_err(|e| errs.push(FieldError::new("nik", e.rule(), e.to_string())))
        .ok();
    let appointed = Month::parse(b.appointed.trim())
        .map_err(|e| {
            errs.push(FieldError::new(
                "appointed",
                "month.format",
                format!("appointed {e}"),
            ))
        })
        .ok();
    let villages: Vec<RegionCode> = b
        .villages
        .iter()
        .enumerate()
        .filter_map(|(i, v)| region_field(&st, &mut errs, &format!("villages[{i}]"), v))
        .collect();
    let (Some(nik), Some(appointed)) = (nik, appointed) else {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    };
    if !errs.is_empty() {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    }
    let own = st
        .store
        .participants_by_nik(nik)
        .await?
        .into_iter()
        .find(|p| p.registration.segment == cakupan_domain::Segment::Bpu)
        .ok_or_else(|| {
            invalid(
                "nik",
                "agent.not_bpu",
                "an agent must be a registered BPU participant: register them first",
            )
        })?;
    caller.allow(
        Action::ManageNetwork,
        &Resource::Region(own.registration.village),
    )?;
    for v in &villages {
        caller.allow(Action::ManageNetwork, &Resource::Region(*v))?;
    }
    let agent = cakupan_store::agents::Agent {
        code: b.code.trim().to_string(),
        office_code: b.office_code.trim().to_string(),
        participant_id: own.id,
        home_village: own.registration.village,
        appointed,
        villages,
    };
    st.store.add_agent(&agent).await?;
    caller
        .audit(
            &st,
            "agent.add",
            format!("agent:{}", agent.code),
            "administration",
        )
        .await?;
    let r = st
        .store
        .agent_records(AgentFilter::Code(&agent.code))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal("the agent just stored is missing".into()))?;
    Ok((StatusCode::CREATED, Json(agent_body(&st, &r).await?)))
}

/// An agent's record: standing, villages, cash held with its alerts.
#[utoipa::path(get, path = "/api/v1/agents/{code}", params(("code" = String, Path)),
    responses((status = 200, body = AgentBody), (status = 404, body = ErrorBody)))]
pub async fn get_agent(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> Result<Json<AgentBody>, ApiError> {
    let r = readable_agent(&st, &caller.who, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent {code}")))?;
    Ok(Json(agent_body(&st, &r).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// reactivated (at the office's request, after the cooling period) or terminated.
    pub kind: String,
    /// YYYY-MM; this month when absent.
    pub month: Option<String>,
    /// Why (required for a termination: fraud, resignation, end of agreement …).
    #[serde(default)]
    pub reason: String,
}

/// Record an agent's reactivation or termination. A reactivation before the cooling period
/// ends is refused with the first month it is possible.
#[utoipa::path(post, path = "/api/v1/agents/{code}/events", params(("code" = String, Path)), request_body = EventInput,
    responses((status = 201, body = AgentBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_event(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: EventInput = json_body(&body, "an event object")?;
    let r = st
        .store
        .agent_records(AgentFilter::Code(&code))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("no agent {code}")))?;
    caller.allow(
        Action::ManageNetwork,
        &Resource::Region(r.agent.home_village),
    )?;
    let now = Month::of((st.today)());
    let month = month_param(&b.month, "month", now)?;
    let event = match b.kind.as_str() {
        "reactivated" => {
            let s = standing(&st, &r, month);
            if !r
                .events
                .iter()
                .any(|e| matches!(e, AgentEvent::Reactivated { month: m } if *m == month))
            {
                check_reactivation(&st.rules, &s, month)
                    .map_err(|e| ApiError::Invalid(e.into()))?;
            }
            AgentEvent::Reactivated { month }
        }
        "terminated" => {
            let reason = b.reason.trim();
            if reason.is_empty() || reason.chars().count() > 200 {
                return Err(invalid(
                    "reason",
                    "reason.required",
                    "say why the agent is terminated (1 to 200 characters)",
                ));
            }
            cakupan_domain::registration::check_free_text("reason", reason, 200)
                .map_err(|e| ApiError::Invalid(e.into()))?;
            AgentEvent::Terminated {
                month,
                reason: reason.to_string(),
            }
        }
        _ => {
            return Err(invalid(
                "kind",
                "kind.value",
                "kind must be reactivated or terminated",
            ));
        }
    };
    st.store
        .add_agent_event(&code, &event, &caller.who.username, crate::auth::now_secs())
        .await?;
    caller
        .audit(
            &st,
            &format!("agent.{}", b.kind),
            format!("agent:{code}"),
            "administration",
        )
        .await?;
    let r = st
        .store
        .agent_records(AgentFilter::Code(&code))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("no agent {code}")))?;
    Ok((StatusCode::CREATED, Json(agent_body(&st, &r).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositInput {
    /// The bank's or office's reference: the same reference again is a safe retry.
    pub reference: String,
    pub agent_code: String,
    pub amount: i64,
    /// YYYY-MM-DD.
    pub deposited_on: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepositBody {
    pub reference: String,
    pub agent_code: String,
    pub amount: i64,
    pub deposited_on: String,
    pub recorded_by: String,
    pub custody: Custody,
}

/// Record cash an agent deposited: it settles their collections, oldest first. A deposit
/// above what the agent holds is refused.
#[utoipa::path(post, path = "/api/v1/deposits", request_body = DepositInput,
    responses((status = 201, body = DepositBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_deposit(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let b: DepositInput = json_body(&body, "a deposit object")?;
    let mut errs = Vec::new();
    let reference = b.reference.trim();
    if reference.is_empty()
        || reference.len() > 64
        || !reference
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_./:".contains(&c))
    {
        errs.push(FieldError::new(
            "reference",
            "reference.format",
            "reference must be 1 to 64 letters, digits or - _ . / :",
        ));
    }
    if let Some(e) = cakupan_domain::contribution::nik_like("reference", reference) {
        errs.push(e);
    }
    if b.amount <= 0 {
        errs.push(FieldError::new(
            "amount",
            "amount.positive",
            "amount must be a positive whole number of rupiah",
        ));
    }
    let on = date_field(&mut errs, "deposited_on", &b.deposited_on);
    if on.is_some_and(|d| d > (st.today)()) {
        errs.push(FieldError::new(
            "deposited_on",
            "deposited_on.future",
            "deposited_on is after today",
        ));
    }
    let (Some(on), true) = (on, errs.is_empty()) else {
        return Err(ApiError::Invalid(FieldErrors(errs)));
    };
    let r = st
        .store
        .agent_records(AgentFilter::Code(b.agent_code.trim()))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            invalid(
                "agent_code",
                "agent.unknown",
                "no Perisai agent has this code",
            )
        })?;
    caller.allow(
        Action::ManageNetwork,
        &Resource::Region(r.agent.home_village),
    )?;
    let d = st
        .store
        .add_deposit(&Deposit {
            reference: reference.to_string(),
            agent_code: r.agent.code.clone(),
            amount: b.amount,
            deposited_on: on,
            recorded_by: caller.who.username.clone(),
        })
        .await?;
    caller
        .audit(
            &st,
            "deposit.add",
            format!("agent:{}", r.agent.code),
            "contribution",
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DepositBody {
            reference: d.reference,
            agent_code: d.agent_code,
            amount: d.amount,
            deposited_on: format_date(d.deposited_on),
            recorded_by: d.recorded_by,
            custody: custody(&st, &r).await?,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatementBody {
    pub code: String,
    pub month: String,
    pub acquisitions: i64,
    pub acquisitions_3: i64,
    pub fee_base: i64,
    pub fee_reversed: i64,
    /// Parts per million of the fee base.
    pub fee_ppm: i64,
    pub contribution_fee: i64,
    pub clawback: i64,
    pub incentive: i64,
    pub threshold: i64,
    pub total: i64,
    pub agent_share: i64,
    pub office_share: i64,
    pub source: String,
    pub status: String,
}

pub fn statement_body(code: &str, s: &Statement) -> StatementBody {
    StatementBody {
        code: code.to_string(),
        month: s.month.to_string(),
        acquisitions: s.acquisitions,
        acquisitions_3: s.acquisitions_3,
        fee_base: s.fee_base.0,
        fee_reversed: s.fee_reversed.0,
        fee_ppm: s.fee_ppm,
        contribution_fee: s.contribution_fee.0,
        clawback: s.clawback.0,
        incentive: s.incentive.0,
        threshold: s.threshold,
        total: s.total.0,
        agent_share: s.agent_share.0,
        office_share: s.office_share.0,
        source: s.source.clone(),
        status: s.status.clone(),
    }
}

#[derive(Debug, Deserialize)]
pub struct MonthParams {
    month: Option<String>,
}

/// One agent's fee statement for a month (default: this month).
#[utoipa::path(get, path = "/api/v1/agents/{code}/statement", params(("code" = String, Path), ("month" = Option<String>, Query)),
    responses((status = 200, body = StatementBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn agent_statement(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<MonthParams>,
) -> Result<Json<StatementBody>, ApiError> {
    let r = readable_agent(&st, &caller.who, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent {code}")))?;
    let month = month_param(&q.month, "month", Month::of((st.today)()))?;
    let s = statement(&st.rules, month, &figures(&r, month))
        .map_err(|e| ApiError::Invalid(e.into()))?;
    Ok(Json(statement_body(&code, &s)))
}

/// Statements as CSV (one line per agent, then the total if given).
pub fn statement_csv(rows: &[StatementBody], total: Option<&StatementBody>) -> String {
    let mut out = String::from(
        "code,month,acquisitions,acquisitions_3,fee_base,fee_reversed,fee_ppm,contribution_fee,clawback,incentive,total,agent_share,office_share\n",
    );
    for r in rows.iter().chain(total) {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.code,
            r.month,
            r.acquisitions,
            r.acquisitions_3,
            r.fee_base,
            r.fee_reversed,
            r.fee_ppm,
            r.contribution_fee,
            r.clawback,
            r.incentive,
            r.total,
            r.agent_share,
            r.office_share
        ));
    }
    out
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeStatementBody {
    pub office: OfficeBody,
    pub month: String,
    pub agents: Vec<StatementBody>,
    /// The agents' statements summed.
    pub total: StatementBody,
}

/// The statements of an office's agents for a month and their sum: what the office is paid
/// (its share) and what it passes on.
pub async fn office_statement(
    st: &AppState,
    office: &Office,
    month: Month,
) -> Result<OfficeStatementBody, ApiError> {
    let agents = st
        .store
        .agent_records(AgentFilter::Office(&office.code))
        .await?;
    let mut sum = AgentMonth::default();
    let mut rows = Vec::new();
    let mut totals = [0i64; 6];
    for r in &agents {
        let f = figures(r, month);
        sum.add(&f);
        let s = statement(&st.rules, month, &f).map_err(|e| ApiError::Invalid(e.into()))?;
        for (t, v) in totals.iter_mut().zip([
            s.contribution_fee.0,
            s.clawback.0,
            s.incentive.0,
            s.total.0,
            s.agent_share.0,
            s.office_share.0,
        ]) {
            *t += v;
        }
        rows.push(statement_body(&r.agent.code, &s));
    }
    // The office's total is the sum of its agents' lines (each rounded on its own), not a
    // statement of the summed figures: incentives are earned per agent.
    let mut total = statement(&st.rules, month, &sum).map_err(|e| ApiError::Invalid(e.into()))?;
    total.contribution_fee = cakupan_domain::Rupiah(totals[0]);
    total.clawback = cakupan_domain::Rupiah(totals[1]);
    total.incentive = cakupan_domain::Rupiah(totals[2]);
    total.total = cakupan_domain::Rupiah(totals[3]);
    total.agent_share = cakupan_domain::Rupiah(totals[4]);
    total.office_share = cakupan_domain::Rupiah(totals[5]);
    Ok(OfficeStatementBody {
        office: office_body(office),
        month: month.to_string(),
        agents: rows,
        total: statement_body(&office.code, &total),
    })
}

/// An office's statement for a month (default: this month).
#[utoipa::path(get, path = "/api/v1/offices/{code}/statement", params(("code" = String, Path), ("month" = Option<String>, Query)),
    responses((status = 200, body = OfficeStatementBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_office_statement(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<MonthParams>,
) -> Result<Json<OfficeStatementBody>, ApiError> {
    let office = st
        .store
        .office(&code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no office {code}")))?;
    caller.allow(Action::ManageNetwork, &Resource::Region(office.region))?;
    let month = month_param(&q.month, "month", Month::of((st.today)()))?;
    Ok(Json(office_statement(&st, &office, month).await?))
}

/// An agent's worklist (default: this month): due now, in arrears, villages to win back.
#[utoipa::path(get, path = "/api/v1/agents/{code}/worklist", params(("code" = String, Path), ("month" = Option<String>, Query)),
    responses((status = 200, body = Worklist), (status = 404, body = ErrorBody)))]
pub async fn get_worklist(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<MonthParams>,
) -> Result<Json<Worklist>, ApiError> {
    let r = readable_agent(&st, &caller.who, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no agent {code}")))?;
    let month = month_param(&q.month, "month", Month::of((st.today)()))?;
    let w = worklist(&st, &r, month).await?;
    let entries: Vec<_> = w
        .due_this_month
        .iter()
        .chain(&w.in_arrears)
        .map(|i| {
            crate::auth::audit_entry(
                &caller.who,
                &caller.request_id,
                "participant.worklist",
                format!("participant:{}", i.participant_id),
                "service",
            )
        })
        .collect();
    st.store.append_audit(&entries).await?;
    Ok(Json(w))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentCountRow {
    pub code: String,
    pub name: String,
    /// Appointed and not terminated.
    pub registered: i64,
    pub active: i64,
    pub inactive: i64,
}

/// Registered and active agents per region one level below `within` (or `within` itself at
/// the nation) in `month`, from the agent records.
pub async fn agent_counts(
    st: &AppState,
    level: Level,
    within: RegionCode,
    month: Month,
) -> Result<Vec<AgentCountRow>, ApiError> {
    let mut by: BTreeMap<RegionCode, [i64; 3]> = BTreeMap::new();
    for r in st.store.agent_records(AgentFilter::Within(within)).await? {
        let region = r.agent.home_village.truncate(level);
        let e = by.entry(region).or_insert([0; 3]);
        match status_in(&standing(st, &r, month), month) {
            Some(AgentStatus::Active) => {
                e[0] += 1;
                e[1] += 1;
            }
            Some(AgentStatus::Inactive) => {
                e[0] += 1;
                e[2] += 1;
            }
            _ => {}
        }
    }
    Ok(by
        .into_iter()
        .map(|(code, v)| AgentCountRow {
            code: code.to_string(),
            name: cakupan_store::targets::name_of(&st.regions, code),
            registered: v[0],
            active: v[1],
            inactive: v[2],
        })
        .collect())
}

/// Registered and active Perisai agents per region in a month, as the agency reports them.
#[utoipa::path(get, path = "/api/v1/reports/agents", params(("month" = Option<String>, Query), ("by" = Option<String>, Query), ("region" = Option<String>, Query)),
    responses((status = 200, body = [AgentCountRow]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report_agents(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AreaParams>,
) -> Result<Json<Vec<AgentCountRow>>, ApiError> {
    let within = area(&caller, &q.region)?;
    caller.allow(Action::ReadAggregates, &Resource::Region(within))?;
    let month = month_param(&q.month, "month", Month::of((st.today)()))?;
    let level = Level::parse(q.by.as_deref().unwrap_or("province")).ok_or_else(|| {
        invalid(
            "by",
            "by.value",
            "by must be nation, province, regency, district or village",
        )
    })?;
    if within != RegionCode::NATION && within.level() > level {
        return Err(invalid(
            "by",
            "by.below_region",
            format!("by must be the level of {within} or below"),
        ));
    }
    let min_cell = st.auth.policy.aggregate_min_cell;
    let role = caller.who.role;
    let mut rows = agent_counts(&st, level, within, month).await?;
    if cakupan_domain::access::suppresses_small_cells(role) {
        for r in &mut rows {
            for v in [&mut r.registered, &mut r.active, &mut r.inactive] {
                if cakupan_domain::access::shown(role, *v, min_cell).is_none() {
                    *v = -1;
                }
            }
        }
    }
    Ok(Json(rows))
}

#[derive(Debug, Deserialize)]
pub struct ReceiptParams {
    amount: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptBody {
    pub receipt: String,
    /// valid, or reversed (the payment bounced or was cancelled).
    pub status: String,
    pub amount: i64,
    pub paid_on: String,
    /// The months the payment covers.
    pub first_month: String,
    pub months: i32,
    /// Whether the agent has deposited it yet.
    pub deposited: bool,
}

/// Check a receipt (public: a participant checks the receipt an agent gave them). The number
/// carries a keyed check code and the amount on the receipt must be given too, so receipts
/// cannot be guessed; each address may check `receipt_checks_per_minute` a minute (429 with
/// Retry-After beyond). The answer tells what the paper does not: whether it is still valid
/// and whether the agent has deposited it.
#[utoipa::path(get, path = "/api/v1/receipts/{number}", params(("number" = String, Path), ("amount" = String, Query)),
    responses((status = 200, body = ReceiptBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn check_receipt(
    State(st): State<AppState>,
    crate::sessions::ClientAddr(ip): crate::sessions::ClientAddr,
    Path(number): Path<String>,
    Query(q): Query<ReceiptParams>,
) -> Result<Json<ReceiptBody>, ApiError> {
    st.auth
        .receipt_check(&ip)
        .map_err(|wait| ApiError::TooManyAttempts {
            message: "too many receipt checks from this address: try again in a minute".into(),
            retry_after_secs: wait.as_secs().max(1),
        })?;
    receipt(&st, &number, q.amount.as_deref().unwrap_or(""))
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(
                "no receipt with this number and amount: check both against the paper receipt, or ask the branch".into(),
            )
        })
}

/// A receipt, if the number and amount match a collection.
pub async fn receipt(
    st: &AppState,
    number: &str,
    amount: &str,
) -> Result<Option<ReceiptBody>, ApiError> {
    let (Some(id), Ok(amount)) = (
        cakupan_store::agents::receipt_posting(st.store.keys(), number),
        amount.trim().replace(['.', ','], "").parse::<i64>(),
    ) else {
        return Ok(None);
    };
    let Some(c) = st.store.collection(id).await? else {
        return Ok(None);
    };
    if c.amount != amount {
        return Ok(None);
    }
    let collections = st.store.collections(&c.agent_code).await?;
    let deposited: i64 = st
        .store
        .deposits(&c.agent_code)
        .await?
        .iter()
        .map(|d| d.amount)
        .sum();
    let still_held = cakupan_store::agents::oldest_unsettled(&collections, deposited)
        .is_some_and(|oldest| oldest.posting_id <= c.posting_id);
    Ok(Some(ReceiptBody {
        receipt: cakupan_store::agents::receipt_number(st.store.keys(), c.posting_id),
        status: if c.reversed { "reversed" } else { "valid" }.into(),
        amount: c.amount,
        paid_on: format_date(c.paid_on),
        first_month: c.first_month.to_string(),
        months: c.months,
        deposited: !c.reversed && !still_held,
    }))
}
