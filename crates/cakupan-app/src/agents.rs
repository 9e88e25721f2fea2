//! The Perisai network's operations: an agent's standing, custody and worklist, acquisitions
//! and collections checked against the agent's standing, statements for agents and offices,
//! receipts.

use crate::Context;
use crate::error::AppError;
use cakupan_domain::access::{Action, Principal, Resource};
use cakupan_domain::agents::{
    AgentEvent, AgentMonth, AgentMonthStatus, AgentStatus, Statement, check_reactivation,
    custody_alerts, statement, status_series,
};
use cakupan_domain::coverage::{Reason, Status, series};
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::{FieldError, FieldErrors, Level, Month, Nik, RegionCode};
use cakupan_store::Participant;
use cakupan_store::agents::{AgentFilter, AgentRecord, Deposit, Office};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub fn invalid(field: &str, rule: &'static str, message: impl Into<String>) -> AppError {
    AppError::Invalid(FieldError::new(field, rule, message).into())
}

pub fn month_param(v: &Option<String>, field: &str, default: Month) -> Result<Month, AppError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => {
            Month::parse(s).map_err(|e| invalid(field, "month.format", format!("{field} {e}")))
        }
    }
}

/// Stores a partner office, the one path of the API and the CLI: allowed (managing the
/// network in its region), stored (checked by the store; other details under its code are
/// `code.taken`, the same office again a retry) and audited (`office.add`). Returns the office
/// as stored.
pub async fn add_office(
    st: &Context,
    who: &Principal,
    request_id: &str,
    o: Office,
) -> Result<Office, AppError> {
    crate::auth::allow(who, Action::ManageNetwork, &Resource::Region(o.region))?;
    st.store.add_office(&o).await?;
    crate::auth::audit(
        st,
        who,
        request_id,
        "office.add",
        format!("office:{}", o.code),
        "administration",
    )
    .await?;
    Ok(st.store.office(&o.code).await?.unwrap_or(o))
}

/// What an agent's appointment names, parsed by the interface that received it.
#[derive(Debug, Clone)]
pub struct Appointment {
    pub code: String,
    pub office_code: String,
    /// The agent's own NIK: they must hold a BPU participation.
    pub nik: Nik,
    pub appointed: Month,
    pub villages: Vec<RegionCode>,
}

/// Appoints a Perisai agent, the one path of the API and the CLI: the NIK's BPU participation
/// found (`agent.not_bpu` if there is none), allowed (managing the network in the agent's
/// village and in each village served), stored (checked by the store) and audited
/// (`agent.add`). Returns the agent's record and their participation.
pub async fn add_agent(
    st: &Context,
    who: &Principal,
    request_id: &str,
    a: Appointment,
) -> Result<(AgentRecord, Participant), AppError> {
    let own = st
        .store
        .participants_by_nik(a.nik)
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
    for region in std::iter::once(&own.registration.village).chain(&a.villages) {
        crate::auth::allow(who, Action::ManageNetwork, &Resource::Region(*region))?;
    }
    let agent = cakupan_store::agents::Agent {
        code: a.code,
        office_code: a.office_code,
        participant_id: own.id,
        home_village: own.registration.village,
        appointed: a.appointed,
        villages: a.villages,
    };
    st.store.add_agent(&agent).await?;
    crate::auth::audit(
        st,
        who,
        request_id,
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
        .ok_or_else(|| AppError::Internal("the agent just stored is missing".into()))?;
    Ok((r, own))
}

/// Records an agent's reactivation or termination, the one path of the API and the CLI:
/// allowed (managing the network in the agent's village); checked (`kind` is `reactivated` or
/// `terminated`; `month`, this month when absent; a reactivation against the agent's standing,
/// unless that month's is recorded already, a retry; a termination's reason 1 to 200
/// characters of plain text); stored and audited (`agent.<kind>`). Returns the agent's record
/// as it then stands.
pub async fn record_event(
    st: &Context,
    who: &Principal,
    request_id: &str,
    code: &str,
    kind: &str,
    month: &Option<String>,
    reason: &str,
) -> Result<AgentRecord, AppError> {
    let record = || async {
        st.store
            .agent_records(AgentFilter::Code(code))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AppError::NotFound(format!("no agent {code}")))
    };
    let r = record().await?;
    crate::auth::allow(
        who,
        Action::ManageNetwork,
        &Resource::Region(r.agent.home_village),
    )?;
    let month = month_param(month, "month", Month::of((st.today)()))?;
    let event = match kind {
        "reactivated" => {
            let s = standing(st, &r, month);
            if !r
                .events
                .iter()
                .any(|e| matches!(e, AgentEvent::Reactivated { month: m } if *m == month))
            {
                check_reactivation(&st.rules, &s, month)
                    .map_err(|e| AppError::Invalid(e.into()))?;
            }
            AgentEvent::Reactivated { month }
        }
        "terminated" => {
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > 200 {
                return Err(invalid(
                    "reason",
                    "reason.required",
                    "say why the agent is terminated (1 to 200 characters)",
                ));
            }
            cakupan_domain::participants::check_free_text("reason", reason, 200)
                .map_err(|e| AppError::Invalid(e.into()))?;
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
        .add_agent_event(code, &event, &who.username, crate::auth::now_secs())
        .await?;
    crate::auth::audit(
        st,
        who,
        request_id,
        &format!("agent.{kind}"),
        format!("agent:{code}"),
        "administration",
    )
    .await?;
    record().await
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
    st: &Context,
    who: &cakupan_domain::access::Principal,
    code: &str,
) -> Result<Option<AgentRecord>, AppError> {
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
pub fn standing(st: &Context, r: &AgentRecord, month: Month) -> Vec<AgentMonthStatus> {
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
    st: &Context,
    office: &Office,
) -> Result<cakupan_domain::agents::OfficeStanding, AppError> {
    let targets = st.store.office_targets(&office.code).await?;
    let mut acquisitions: BTreeMap<Month, i64> = BTreeMap::new();
    for r in st
        .store
        .agent_standings(AgentFilter::Office(&office.code))
        .await?
    {
        for (m, f) in &r.months {
            *acquisitions.entry(*m).or_default() += f.acquisitions;
        }
    }
    Ok(cakupan_domain::agents::office_standing(
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
    st: &Context,
    office: &Office,
    by: &str,
) -> Result<cakupan_domain::agents::OfficeStanding, AppError> {
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

pub async fn custody(st: &Context, r: &AgentRecord) -> Result<Custody, AppError> {
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
    /// The participant's phone, for the agent who serves them to call (the pages show it to
    /// that agent only, audited; the API does not carry it).
    #[serde(skip)]
    pub phone: Option<String>,
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
pub async fn worklist(st: &Context, r: &AgentRecord, month: Month) -> Result<Worklist, AppError> {
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
            .map_err(|e| AppError::Invalid(e.into()))?;
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
            phone: reg.phone.clone(),
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
    st: &Context,
    who: &cakupan_domain::access::Principal,
    p: Option<&Participant>,
    mut pay: cakupan_domain::contribution::Payment,
    collector: Option<String>,
) -> Result<(cakupan_store::ledger::PostingOutcome, Option<String>), AppError> {
    use cakupan_store::ledger::{NewPosting, PostingOutcome};
    pay.collected_by = if who.role.can(cakupan_domain::access::Capability::FieldAgent) {
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
    st: &Context,
    agent_code: &str,
    p: &Participant,
    month: Month,
) -> Result<(), AppError> {
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
            return Err(AppError::Invalid(
                FieldError::new(
                    "collected_by",
                    "agent.not_active",
                    format!(
                        "agent {agent_code} is {} in {month}: an inactive or terminated agent collects nothing",
                        s.as_str()
                    ),
                )
                .with_args([agent_code.to_string(), month.to_string()])
                .into(),
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
    st: &Context,
    role: cakupan_domain::access::Role,
    reg: &cakupan_domain::participants::Registration,
) -> Result<(), AppError> {
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
        return if role.can(cakupan_domain::access::Capability::FieldAgent) {
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
            return Err(AppError::Invalid(
                FieldError::new(
                    "agent_code",
                    "agent.not_active",
                    format!(
                        "agent {code} is {} in {month}: only an active agent enrols participants",
                        other
                            .map(AgentStatus::as_str)
                            .unwrap_or("not yet appointed")
                    ),
                )
                .with_args([code.to_string(), month.to_string()])
                .into(),
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

pub fn office_body(o: &Office) -> OfficeBody {
    OfficeBody {
        code: o.code.clone(),
        name: o.name.clone(),
        kind: o.kind.clone(),
        region: o.region.to_string(),
        agreement_from: format_date(o.agreement_from),
        agreement_to: o.agreement_to.map(format_date),
    }
}

pub fn date_field(errs: &mut Vec<FieldError>, field: &str, v: &str) -> Option<time::Date> {
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

pub fn region_field(
    st: &Context,
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

pub async fn agent_body(st: &Context, r: &AgentRecord) -> Result<AgentBody, AppError> {
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

/// Records an agent's deposit of the cash they collected, the one path of the API and the
/// CLI: checked (a reference of 1 to 64 plain characters that is not a NIK, a positive amount,
/// a date not after today), the agent found (`agent.unknown`), allowed (managing the network in
/// the agent's village), stored (the store refuses more than the agent holds; the same
/// reference again is a retry) and audited (`deposit.add`). Returns the deposit as stored and
/// the agent's record.
pub async fn record_deposit(
    st: &Context,
    who: &Principal,
    request_id: &str,
    b: &DepositInput,
) -> Result<(Deposit, AgentRecord), AppError> {
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
        return Err(AppError::Invalid(FieldErrors(errs)));
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
    crate::auth::allow(
        who,
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
            recorded_by: who.username.clone(),
        })
        .await?;
    crate::auth::audit(
        st,
        who,
        request_id,
        "deposit.add",
        format!("agent:{}", r.agent.code),
        "contribution",
    )
    .await?;
    Ok((d, r))
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
    st: &Context,
    office: &Office,
    month: Month,
) -> Result<OfficeStatementBody, AppError> {
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
        let s = statement(&st.rules, month, &f).map_err(|e| AppError::Invalid(e.into()))?;
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
    let mut total = statement(&st.rules, month, &sum).map_err(|e| AppError::Invalid(e.into()))?;
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
///
/// (See [`tally`] for the counting itself, which the pages share.)
pub async fn agent_counts(
    st: &Context,
    level: Level,
    within: RegionCode,
    month: Month,
) -> Result<Vec<AgentCountRow>, AppError> {
    // Counting needs each agent's status, not the villages they serve.
    let records = st
        .store
        .agent_standings(AgentFilter::Within(within))
        .await?;
    let by = tally(
        records.iter().map(|r| {
            (
                r.agent.home_village,
                status_in(&standing(st, r, month), month),
            )
        }),
        level,
    );
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

/// Agents counted per region of `level` from their home villages and statuses: [registered
/// (active or inactive), active, inactive] each.
pub fn tally(
    agents: impl Iterator<Item = (RegionCode, Option<AgentStatus>)>,
    level: Level,
) -> BTreeMap<RegionCode, [i64; 3]> {
    let mut by: BTreeMap<RegionCode, [i64; 3]> = BTreeMap::new();
    for (home, status) in agents {
        let e = by.entry(home.truncate(level)).or_insert([0; 3]);
        match status {
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
    by
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
    /// Whether the agent has deposited it yet (always true of a payment through a channel
    /// partner).
    pub deposited: bool,
    /// The channel partner the payment was made through (a bank, a minimarket…), if not an
    /// agent's collection.
    pub paid_through: Option<String>,
}

/// A receipt, if the number and amount match a collection.
pub async fn receipt(
    st: &Context,
    number: &str,
    amount: &str,
) -> Result<Option<ReceiptBody>, AppError> {
    let (Some(id), Some(cakupan_domain::Rupiah(amount))) = (
        cakupan_store::agents::receipt_posting(st.store.keys(), number),
        cakupan_domain::Rupiah::parse(amount),
    ) else {
        return Ok(None);
    };
    let Some(c) = st.store.collection(id).await? else {
        // A payment through a channel partner carries the same kind of number (issue #19).
        let number = cakupan_store::agents::receipt_number(st.store.keys(), id);
        let Some((r, partner)) = st.store.channel_payment_by_receipt(&number).await? else {
            return Ok(None);
        };
        if r.amount.0 != amount {
            return Ok(None);
        }
        return Ok(Some(ReceiptBody {
            receipt: number,
            status: if r.reversed { "reversed" } else { "valid" }.into(),
            amount: r.amount.0,
            paid_on: format_date(r.paid_on),
            first_month: r.first_month.map(|m| m.to_string()).unwrap_or_default(),
            months: r.months.unwrap_or(0),
            deposited: true,
            paid_through: Some(partner),
        }));
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
        paid_through: None,
    }))
}

#[cfg(test)]
mod tally_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn agents_are_counted_by_region_and_status() {
        let c = |s: &str| RegionCode::parse(s).unwrap();
        let by = tally(
            [
                (c("32.73.01.1001"), Some(AgentStatus::Active)),
                (c("32.73.02.1001"), Some(AgentStatus::Inactive)),
                (c("32.04.01.2001"), Some(AgentStatus::Terminated)),
                (c("33.01.01.2001"), Some(AgentStatus::Active)),
            ]
            .into_iter(),
            Level::Province,
        );
        assert_eq!(by.get(&c("32")), Some(&[2, 1, 1]));
        assert_eq!(by.get(&c("33")), Some(&[1, 1, 0]));
        assert_eq!(by.len(), 2);
    }
}
