//! Reminders that keep people paying (issue #21): planning a day's reminders from the coverage
//! states, sending them through the SMS gateway at its rate without ever sending one twice,
//! the agents' tasks, the replies that come back (STOP opts out; a question goes to the
//! branch), and what the experiments and retention figures say.

use crate::{AppError, Context};
use cakupan_domain::access::{Capability, Principal};
use cakupan_domain::reminders::{self as dom, Arm, Trigger};
use cakupan_domain::rules::ReminderPolicy;
use cakupan_domain::{Month, RegionCode};
use cakupan_store::reminders::{NewReminder, NewReply};
use serde::Serialize;
use std::collections::BTreeMap;
use time::Date;

/// The purpose of consent a STOP reply withdraws.
pub const CONSENT_PURPOSE: &str = "reminders";

/// The reminder policy in force on `day`.
pub fn policy(st: &Context, day: Date) -> Result<&ReminderPolicy, AppError> {
    st.rules.reminder_policy(day).ok_or_else(|| {
        AppError::Internal("no reminder policy (rules/reminders.toml) is in force".into())
    })
}

/// One line of a plan: a rule's reminders in a province and arm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanLine {
    pub rule: String,
    pub province: String,
    pub arm: String,
    pub planned: u64,
}

/// What a day's planning found (or, in a dry run, would plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Plan {
    pub day: String,
    pub dry_run: bool,
    pub lines: Vec<PlanLine>,
    /// People a rule reached but who replied STOP, by rule.
    pub opted_out: BTreeMap<String, u64>,
    /// People a rule reached who already had the month's reminders, by rule.
    pub capped: BTreeMap<String, u64>,
    /// Reminders stored by this run (0 in a dry run; fewer than planned when run again).
    pub stored: u64,
}

fn seed(st: &Context, rule: &str, month: Month) -> u64 {
    let tag = st
        .store
        .keys()
        .token_tag(&format!("reminder campaign {rule} {month}"));
    tag.iter()
        .take(8)
        .fold(0u64, |h, b| (h << 8) | u64::from(*b))
}

fn arms_of(channels: &[String]) -> Vec<Arm> {
    channels.iter().filter_map(|c| Arm::parse(c)).collect()
}

/// One rule's reminders of one day.
struct Campaign<'a> {
    rule: &'a str,
    day: Date,
    window_end: Date,
    /// The status of the reminded (the held out are `held_out`).
    treated: &'a str,
}

impl Campaign<'_> {
    /// A reminder of this campaign to `subject` (who it is for is filled in by the caller).
    fn row(
        &self,
        subject: String,
        month: i32,
        region: &str,
        segment: &str,
        arm: Arm,
        pay_by: Date,
    ) -> NewReminder {
        NewReminder {
            rule: self.rule.to_string(),
            month,
            subject,
            participant_id: None,
            invoice_id: None,
            employer_code: None,
            region: region.to_string(),
            segment: segment.to_string(),
            arm,
            agent_code: None,
            planned_on: self.day,
            window_end: self.window_end,
            pay_by,
            status: if arm == Arm::Holdout {
                "held_out"
            } else {
                self.treated
            }
            .to_string(),
        }
    }
}

/// Plans the reminders of `day` for every rule in force: whom each rule targets (read from the
/// coverage states), less those who opted out and those at the month's cap, split into the
/// experiment's arms; stored unless `dry_run`. Running it again the same day stores nothing
/// new (each reminder's key is its subject, rule and month).
pub async fn plan(st: &Context, day: Date, dry_run: bool) -> Result<Plan, AppError> {
    Ok(plan_with(st, day, dry_run, "planned").await?.0)
}

/// [`plan`], the reminded (not the held out) stored with status `treated` (`planned` to be
/// sent; the simulation's `simulated`, which no gateway carries), with the rows planned.
pub async fn plan_with(
    st: &Context,
    day: Date,
    dry_run: bool,
    treated: &str,
) -> Result<(Plan, Vec<NewReminder>), AppError> {
    let policy = policy(st, day)?.clone();
    let window_end = day
        .checked_add(time::Duration::days(i64::from(policy.paid_within_days)))
        .ok_or_else(|| AppError::Internal("the outcome window runs past the calendar".into()))?;
    let mut out = Plan {
        day: cakupan_domain::month::format_date(day),
        dry_run,
        ..Plan::default()
    };
    let mut counted: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut rows: Vec<NewReminder> = Vec::new();
    let month = Month::of(day);
    for rule in st.rules.reminders_on(day) {
        let Some(trigger) = Trigger::parse(&rule.trigger) else {
            continue;
        };
        let channels = arms_of(&rule.channels);
        let campaign = Campaign {
            rule: &rule.name,
            day,
            window_end,
            treated,
        };
        // The experiment's arms of this campaign: keyed by the rule and month, stratified.
        let assign = |cands: &[dom::Candidate]| {
            dom::assign(
                cands,
                seed(st, &rule.name, month),
                policy.holdout_ppm,
                &channels,
            )
        };
        if trigger.for_employers() {
            let Some(due_on) = dom::invoice_due_on(rule, day) else {
                continue;
            };
            let invoices = st.store.due_invoices(due_on).await?;
            let cands: Vec<dom::Candidate> = invoices
                .iter()
                .map(|i| dom::Candidate {
                    id: i.invoice_id,
                    stratum: ("PU".into(), i.region.chars().take(2).collect()),
                    has_agent: false,
                })
                .collect();
            let arms = assign(&cands);
            for (i, arm) in invoices.iter().zip(arms) {
                rows.push(NewReminder {
                    invoice_id: Some(i.invoice_id),
                    employer_code: Some(i.employer_code.clone()),
                    ..campaign.row(
                        format!("I{}", i.invoice_id),
                        i.month,
                        &i.region,
                        "PU",
                        arm,
                        due_on,
                    )
                });
            }
            continue;
        }
        let Some(target) = dom::target(&st.rules, rule, day) else {
            continue;
        };
        let pending: Vec<i32> = target.pending.iter().map(|m| m.index()).collect();
        let found = st
            .store
            .due_candidates(
                dom::REMINDED_SEGMENT.as_str(),
                target.last_paid.index(),
                &pending,
                month.index(),
            )
            .await?;
        let mut eligible = Vec::with_capacity(found.len());
        for c in found {
            if c.opted_out {
                *out.opted_out.entry(rule.name.clone()).or_default() += 1;
            } else if c.this_month >= i64::from(policy.max_per_person_per_month) {
                *out.capped.entry(rule.name.clone()).or_default() += 1;
            } else {
                eligible.push(c);
            }
        }
        let cands: Vec<dom::Candidate> = eligible
            .iter()
            .map(|c| dom::Candidate {
                id: c.participant_id,
                stratum: (c.segment.clone(), c.village_code.chars().take(2).collect()),
                has_agent: c.agent_code.is_some(),
            })
            .collect();
        let arms = assign(&cands);
        for (c, arm) in eligible.iter().zip(arms) {
            rows.push(NewReminder {
                participant_id: Some(c.participant_id),
                agent_code: c.agent_code.clone().filter(|_| arm == Arm::Agent),
                ..campaign.row(
                    format!("P{}", c.participant_id),
                    target.month.index(),
                    &c.village_code,
                    &c.segment,
                    arm,
                    target.pay_by,
                )
            });
        }
    }
    for r in &rows {
        *counted
            .entry((
                r.rule.clone(),
                r.region.chars().take(2).collect(),
                r.arm.as_str().into(),
            ))
            .or_default() += 1;
    }
    out.lines = counted
        .into_iter()
        .map(|((rule, province, arm), planned)| PlanLine {
            rule,
            province,
            arm,
            planned,
        })
        .collect();
    if !dry_run {
        out.stored = st.store.add_reminders(&rows).await?;
        // What the reports read, counted as of today (a past day may be planned late).
        count_outcomes(st, (st.today)()).await?;
    }
    Ok((out, rows))
}

/// What one sending run did.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SendReport {
    pub sent: u64,
    pub failed: u64,
    pub no_phone: u64,
    pub opted_out: u64,
    /// Left for later: outside the recipient's sending hours.
    pub quiet: u64,
    /// Claimed by an earlier run that stopped before the gateway answered: confirmed sent by a
    /// delivery report, or marked unknown and never sent again.
    pub recovered_sent: u64,
    pub recovered_unknown: u64,
    pub seconds: f64,
}

/// The SMS text of a participant's or an employer's reminder, with the number it goes to;
/// `None` when there is no number.
async fn message(
    st: &Context,
    r: &cakupan_store::reminders::Reminder,
) -> Result<Option<(String, String)>, AppError> {
    let trigger = st
        .rules
        .reminders
        .iter()
        .find(|x| x.name == r.rule)
        .and_then(|x| Trigger::parse(&x.trigger).map(|t| (t, x.months)));
    let Some((trigger, months)) = trigger else {
        return Ok(None);
    };
    let pay_by = cakupan_domain::month::parse_date(&r.pay_by).unwrap_or((st.today)());
    if let Some(pid) = r.participant_id {
        let Some(p) = st.store.participant(pid).await? else {
            return Ok(None);
        };
        let Some(phone) = p.registration.phone.clone() else {
            return Ok(None);
        };
        let amount = crate::payments::offers(st, &p)
            .await?
            .first()
            .map(|(_, d)| d.total.0)
            .unwrap_or(0);
        let code = crate::payments::code_of(st, &p)
            .map(|v| v.digits())
            .unwrap_or_default();
        let text = dom::text(&dom::Message {
            trigger,
            name: &p.registration.name,
            months,
            amount,
            payment_code: &code,
            date: pay_by,
            invoice_month: None,
        });
        return Ok(Some((phone, text)));
    }
    let (Some(code), Some(invoice)) = (r.employer_code.as_deref(), r.invoice_id) else {
        return Ok(None);
    };
    let Some(e) = st.store.employer(code).await? else {
        return Ok(None);
    };
    let Some(phone) = e.contact.phone.clone() else {
        return Ok(None);
    };
    let total = match Month::from_index(r.month) {
        Some(m) => st
            .store
            .employer_invoice(code, m)
            .await?
            .map(|(i, _)| i.total.0)
            .unwrap_or(0),
        None => 0,
    };
    let va = crate::payments::invoice_code(st, invoice)
        .map(|v| v.digits())
        .unwrap_or_default();
    let text = dom::text(&dom::Message {
        trigger,
        name: &e.name,
        months,
        amount: total,
        payment_code: &va,
        date: pay_by,
        invoice_month: Month::from_index(r.month),
    });
    Ok(Some((phone, text)))
}

/// Whether the person a reminder is for has opted out since it was planned.
async fn opted_out(st: &Context, participant_id: i64) -> Result<bool, AppError> {
    let Some(p) = st.store.participant(participant_id).await? else {
        return Ok(false);
    };
    let index = st.store.keys().nik_index(&p.registration.nik);
    let consents = st.store.consents(&index).await?;
    Ok(consents
        .iter()
        .filter(|c| c.purpose == CONSENT_PURPOSE)
        .max_by_key(|c| c.at)
        .is_some_and(|c| c.decision == "withdrawn"))
}

/// Sends the planned SMS reminders through the gateway, at most `rate` a second (the rules'
/// `sms_per_second` when none), each only within its recipient's sending hours; stops after
/// `limit` when given; sending hours are judged at instant `at` (unix seconds) when given, else
/// now. First settles what an earlier run left in doubt: a reminder is claimed
/// (its SMS id recorded) before the gateway is called, so after a crash it is either confirmed
/// by its delivery report or marked unknown, and never sent again.
pub async fn send(
    st: &Context,
    rate: Option<u32>,
    limit: Option<u64>,
    at: Option<i64>,
) -> Result<SendReport, AppError> {
    let started = std::time::Instant::now();
    let today = (st.today)();
    let policy = policy(st, today)?.clone();
    let gw = crate::sms::gateway(st)?.clone();
    let mut report = SendReport::default();
    let now = cakupan_store::clock::now_secs;
    for r in st.store.reminders_in_doubt().await? {
        let status = match r.sms_id {
            Some(id) => st.store.sms_status(id).await?,
            None => None,
        };
        let went = matches!(
            status.as_deref(),
            Some("delivered" | "accepted" | "buffered")
        );
        let to = if went { "sent" } else { "unknown" };
        if st
            .store
            .set_reminder_status(r.id, &["sending"], to, now())
            .await?
        {
            if went {
                report.recovered_sent += 1;
            } else {
                report.recovered_unknown += 1;
            }
        }
    }
    let per_second = rate
        .unwrap_or(policy.sms_per_second)
        .clamp(1, policy.sms_per_second);
    let gap = std::time::Duration::from_secs_f64(1.0 / f64::from(per_second));
    let mut next = tokio::time::Instant::now();
    let mut after = 0i64;
    let mut handed = 0u64;
    'pages: loop {
        let page = st.store.reminders_to_send(after, 200).await?;
        if page.is_empty() {
            break;
        }
        for r in page {
            after = r.id;
            if limit.is_some_and(|l| handed >= l) {
                break 'pages;
            }
            let offset = st
                .rules
                .time_zone(&r.region, today)
                .map(|z| z.utc_offset_minutes)
                .ok_or_else(|| {
                    AppError::Internal("no time zone in force (rules/reminders.toml)".into())
                })?;
            if !dom::in_send_hours(&policy, dom::local_minutes(at.unwrap_or_else(now), offset)) {
                report.quiet += 1;
                continue;
            }
            if let Some(pid) = r.participant_id
                && opted_out(st, pid).await?
            {
                st.store
                    .set_reminder_status(r.id, &["planned"], "opted_out", now())
                    .await?;
                report.opted_out += 1;
                continue;
            }
            let Some((to, text)) = message(st, &r).await? else {
                st.store
                    .set_reminder_status(r.id, &["planned"], "no_phone", now())
                    .await?;
                report.no_phone += 1;
                continue;
            };
            tokio::time::sleep_until(next).await;
            next = tokio::time::Instant::now() + gap;
            let sms_id = st.store.add_sms("reminder", now()).await?;
            if !st.store.claim_reminder(r.id, sms_id).await? {
                st.store.set_sms_status(sms_id, "not_sent", now()).await?;
                continue;
            }
            handed += 1;
            match crate::sms::hand_over(st, &gw, sms_id, &to, &text).await {
                Ok(()) => {
                    st.store
                        .set_reminder_status(r.id, &["sending"], "sent", now())
                        .await?;
                    report.sent += 1;
                }
                Err(crate::sms::SendError::NotConnected(e)) => {
                    // Nothing was handed over: planned again, for the next run.
                    st.store.set_sms_status(sms_id, "not_sent", now()).await?;
                    st.store
                        .set_reminder_status(r.id, &["sending"], "planned", now())
                        .await?;
                    return Err(AppError::Busy {
                        message: format!(
                            "the SMS gateway cannot be reached ({e}); {} reminders sent, the rest stay planned",
                            report.sent
                        ),
                        retry_after_secs: 60,
                    });
                }
                Err(crate::sms::SendError::Refused(e)) => {
                    tracing::warn!("reminder {} refused by the gateway: {e}", r.id);
                    st.store.set_sms_status(sms_id, "not_sent", now()).await?;
                    st.store
                        .set_reminder_status(r.id, &["sending"], "failed", now())
                        .await?;
                    report.failed += 1;
                }
                Err(crate::sms::SendError::Down(e)) => {
                    // It may have gone: never sent again.
                    tracing::warn!("reminder {} in doubt: {e}", r.id);
                    st.store
                        .set_reminder_status(r.id, &["sending"], "unknown", now())
                        .await?;
                    report.failed += 1;
                }
            }
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn audit(
    st: &Context,
    who: &Principal,
    action: &str,
    record: String,
    request_id: &str,
) -> Result<(), AppError> {
    let entry = crate::auth::audit_entry(who, request_id, action, record, "reminders");
    st.store.append_audit(&[entry]).await?;
    Ok(())
}

/// An agent's reminder task and whom it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    #[serde(flatten)]
    pub reminder: cakupan_store::reminders::Reminder,
    pub name: String,
    pub kpj: String,
    pub village_code: String,
    /// The number to call: shown only to the agent who serves the person, and each read of it
    /// is audited.
    pub phone: Option<String>,
}

/// The tasks of the signed-in agent, open and done, newest first (the reads are audited).
pub async fn tasks(st: &Context, who: &Principal, request_id: &str) -> Result<Vec<Task>, AppError> {
    let code = agent_of(who)?;
    let mut out = Vec::new();
    let mut entries = Vec::new();
    for r in st.store.agent_tasks(code, false).await? {
        let Some(pid) = r.participant_id else {
            continue;
        };
        let Some(p) = st.store.participant(pid).await? else {
            continue;
        };
        entries.push(crate::auth::audit_entry(
            who,
            request_id,
            "participant.reminder_task",
            format!("participant:{pid}"),
            "service",
        ));
        out.push(Task {
            name: p.registration.name.clone(),
            kpj: p.kpj.clone(),
            village_code: p.registration.village.to_string(),
            phone: p.registration.phone.clone(),
            reminder: r,
        });
    }
    st.store.append_audit(&entries).await?;
    Ok(out)
}

fn agent_of(who: &Principal) -> Result<&str, AppError> {
    match (&who.agent_code, who.role.can(Capability::FieldAgent)) {
        (Some(code), true) => Ok(code),
        _ => Err(AppError::Forbidden(
            "only a Perisai agent has reminder tasks".into(),
        )),
    }
}

/// Records the outcome of one of the agent's own open tasks (audited).
pub async fn record_task(
    st: &Context,
    who: &Principal,
    id: i64,
    outcome: &str,
    request_id: &str,
) -> Result<(), AppError> {
    let code = agent_of(who)?;
    let Some(o) = dom::TaskOutcome::parse(outcome) else {
        return Err(AppError::Invalid(
            cakupan_domain::FieldError::new(
                "outcome",
                "outcome.unknown",
                "outcome must be will_pay, paid, declined or not_reached",
            )
            .into(),
        ));
    };
    let task = st.store.reminder(id).await?;
    if task.as_ref().and_then(|t| t.agent_code.as_deref()) != Some(code) {
        return Err(AppError::NotFound("no such task".into()));
    }
    if !st
        .store
        .record_task(
            id,
            code,
            o.as_str(),
            &who.username,
            cakupan_store::clock::now_secs(),
        )
        .await?
    {
        // Already recorded: the same tap again changes nothing.
        return Ok(());
    }
    audit(
        st,
        who,
        "reminder.task",
        format!("reminders::{id}"),
        request_id,
    )
    .await
}

/// What a reply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Inbound {
    /// Opted out (consent withdrawn for every participation of the number).
    Stopped,
    /// Opted in again (consent given again).
    Started,
    /// A question, on the branch's queue.
    Queued,
    /// Malformed: logged and dropped.
    Ignored,
}

/// A reply forwarded by the gateway's MO path. A wrong token answers `NotFound`; a malformed
/// reply is logged and ignored (never an error the gateway would retry). Returns what it did
/// and the text to send back (none for ignored).
pub async fn inbound(
    st: &Context,
    from: &str,
    text: &str,
    tag: &str,
) -> Result<(Inbound, Option<String>), AppError> {
    let expected = st.sms.as_deref().and_then(|g| g.inbound_token.clone());
    let Some(expected) = expected.filter(|t| !t.is_empty()) else {
        return Err(AppError::NotFound("no such endpoint".into()));
    };
    if !cakupan_store::enrolment::same_hash(&expected, tag.trim()) {
        return Err(AppError::NotFound("no such endpoint".into()));
    }
    let today = (st.today)();
    let policy = policy(st, today)?.clone();
    let Ok(phone) = cakupan_domain::phone::normalise_phone(from) else {
        tracing::warn!("an SMS reply from a malformed number was ignored");
        return Ok((Inbound::Ignored, None));
    };
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 480 {
        tracing::warn!("an empty or overlong SMS reply was ignored");
        return Ok((Inbound::Ignored, None));
    }
    let ids = st
        .store
        .participants_by_phone(&st.store.keys().phone_index(&phone))
        .await?;
    let mut region = String::new();
    let now = cakupan_store::clock::now_secs();
    let mut people = Vec::new();
    for id in &ids {
        if let Some(p) = st.store.participant(*id).await? {
            region = p.registration.village.to_string();
            people.push(p);
        }
    }
    let (did, kind, answer) = if dom::is_stop(&policy, text) {
        (Inbound::Stopped, "stop", dom::stopped_text(&policy))
    } else if dom::is_start(&policy, text) {
        (Inbound::Started, "start", dom::started_text(&policy))
    } else {
        (Inbound::Queued, "question", dom::QUEUED_TEXT.to_string())
    };
    let decision = match did {
        Inbound::Stopped => Some("withdrawn"),
        Inbound::Started => Some("given"),
        _ => None,
    };
    if let Some(decision) = decision {
        let mut seen = std::collections::HashSet::new();
        for p in &people {
            let index = st.store.keys().nik_index(&p.registration.nik);
            if seen.insert(index.clone()) {
                st.store
                    .add_consent(
                        &index,
                        &cakupan_store::accounts::Consent {
                            purpose: CONSENT_PURPOSE.into(),
                            notice_version: policy.provenance.period.from.to_string(),
                            decision: decision.into(),
                            at: now,
                            channel: "sms".into(),
                        },
                    )
                    .await?;
            }
        }
    }
    st.store
        .add_reply(&NewReply {
            received_at: now,
            participant_id: people.first().map(|p| p.id),
            region,
            kind: kind.into(),
            phone: phone.clone(),
            text: text.to_string(),
            due_at: now + i64::from(policy.reply_due_hours) * 3600,
        })
        .await?;
    Ok((did, Some(answer)))
}

/// The branch's queue of replies in the caller's region.
pub async fn replies(
    st: &Context,
    who: &Principal,
    open_only: bool,
) -> Result<Vec<cakupan_store::reminders::Reply>, AppError> {
    if !who.role.can(Capability::ManagesRegion) {
        return Err(AppError::Forbidden(
            "the replies queue is the branch's".into(),
        ));
    }
    Ok(st.store.replies(who.region, open_only, 200).await?)
}

/// Marks a reply in the caller's region answered (audited).
pub async fn answer_reply(
    st: &Context,
    who: &Principal,
    id: i64,
    request_id: &str,
) -> Result<(), AppError> {
    let mine = replies(st, who, false).await?;
    if !mine.iter().any(|r| r.id == id) {
        return Err(AppError::NotFound("no such reply".into()));
    }
    st.store
        .answer_reply(id, &who.username, cakupan_store::clock::now_secs())
        .await?;
    audit(
        st,
        who,
        "reminder.reply",
        format!("sms_replies::{id}"),
        request_id,
    )
    .await
}

/// One comparison of the experiment report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// What is compared: `sms` or `agent` against the holdout, or `agent_vs_sms`.
    pub contrast: String,
    /// `all`, `rule`, `segment` or `province`, and its value.
    pub by: String,
    pub value: String,
    pub effect: dom::Effect,
    /// When the counts were taken (each day's planning counts again), seconds.
    pub counted_at: i64,
}

/// The experiments, from the counts of the last planning: for every closed window, the share
/// paying within it in each arm and the
/// effect of SMS and of an agent against the holdout (and of an agent against SMS), overall and
/// by rule, segment and province, of the caller's provinces. Cells under the small-cell
/// threshold are left out for roles that see no personal data.
pub async fn experiment(st: &Context, who: &Principal) -> Result<Vec<Comparison>, AppError> {
    if !who.role.can(Capability::SeesCoverage) {
        return Err(AppError::Forbidden(
            "the experiments are reports of coverage".into(),
        ));
    }
    let rows = st.store.experiment().await?;
    let counted_at = rows.iter().map(|r| r.computed_at).max().unwrap_or(0);
    let withheld = |n: u64| {
        cakupan_domain::access::shown(
            who.role,
            i64::try_from(n).unwrap_or(i64::MAX),
            st.auth.policy.aggregate_min_cell,
        )
        .is_none()
    };
    let mut groups: BTreeMap<(String, String), BTreeMap<String, dom::Tally>> = BTreeMap::new();
    // A regional role sees the reminders of its province (a province is the finest cell).
    let mine = |province: &str| {
        (who.region == RegionCode::NATION)
            || RegionCode::parse(province)
                .is_ok_and(|p| who.region.contains(p) || p.contains(who.region))
    };
    for r in rows.iter().filter(|r| {
        (r.province.len() == 2 && mine(&r.province))
            || (r.province.is_empty() && (who.region == RegionCode::NATION))
    }) {
        for (by, value) in [
            ("all", "all".to_string()),
            ("rule", r.rule.clone()),
            ("segment", r.segment.clone()),
            ("province", r.province.clone()),
        ] {
            let t = groups
                .entry((by.to_string(), value))
                .or_default()
                .entry(r.arm.clone())
                .or_default();
            t.n += u64::try_from(r.n).unwrap_or(0);
            t.paid += u64::try_from(r.paid).unwrap_or(0);
        }
    }
    let mut out = Vec::new();
    for ((by, value), arms) in groups {
        let get = |a: &str| arms.get(a).copied().unwrap_or_default();
        for (contrast, t, c) in [
            ("sms", get("sms"), get("holdout")),
            ("agent", get("agent"), get("holdout")),
            ("agent_vs_sms", get("agent"), get("sms")),
        ] {
            if withheld(t.n) || withheld(c.n) {
                continue;
            }
            if let Some(effect) = dom::effect(t, c) {
                out.push(Comparison {
                    contrast: contrast.into(),
                    by: by.clone(),
                    value: value.clone(),
                    effect,
                    counted_at,
                });
            }
        }
    }
    Ok(out)
}

/// Retention of one month in an area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionMonth {
    pub month: String,
    /// Lapsed this month per peserta aktif the month before.
    pub lapse_rate: Option<f64>,
    /// Reactivated this month per non-active the month before.
    pub reactivation_rate: Option<f64>,
    pub lapsed: i64,
    pub reactivated: i64,
    /// BPU lapses of the month still lapsed, and the share of them reminded in the lapse month
    /// or the policy's `lapse_lookback_months` before it.
    pub bpu_lapses: i64,
    pub reminded_share: Option<f64>,
    /// When the lapses were counted (each day's planning counts them again); none before the
    /// first planning.
    pub lapses_as_of: Option<i64>,
}

/// Counts again what the reports read (each day's planning does): every region's BPU lapses
/// of the policy's `report_months` still lapsed, and those reminded before (its
/// `lapse_lookback_months`), in one pass over the lapsed coverage states; and the experiment's
/// reminded and paid of the campaigns of those months whose window has closed, in one pass over
/// their reminders.
pub async fn count_outcomes(st: &Context, day: Date) -> Result<(), AppError> {
    let to = Month::of(day);
    let threshold = st
        .rules
        .coverage_rule(dom::REMINDED_SEGMENT, to)
        .map(|c| c.unpaid_months_before_nonactive())
        .ok_or_else(|| AppError::Internal(format!("no coverage rule of BPU in force in {to}")))?;
    let policy = policy(st, day)?;
    let months = i32::try_from(policy.report_months).unwrap_or(i32::MAX);
    let now = cakupan_store::clock::now_secs();
    st.store
        .refresh_experiment(day, to.plus(1 - months).first_day(), now)
        .await?;
    st.store
        .refresh_lapses(
            to.plus(1 - months).index(),
            to.index(),
            i32::try_from(threshold).unwrap_or(i32::MAX),
            i32::try_from(policy.lapse_lookback_months).unwrap_or(0),
            now,
        )
        .await?;
    Ok(())
}

/// Lapse and reactivation rates by month (from the counters, of a segment or all) and the share
/// of lapses preceded by a reminder (BPU, from the snapshot of the last planning), for an area.
pub async fn retention(
    st: &Context,
    who: &Principal,
    within: RegionCode,
    segment: Option<cakupan_domain::Segment>,
    months: u32,
) -> Result<Vec<RetentionMonth>, AppError> {
    if !who.role.can(Capability::SeesCoverage) || !who.region.contains(within) {
        return Err(AppError::Forbidden("outside your region".into()));
    }
    let today = (st.today)();
    let to = Month::of(today);
    let from = to.plus(-(i32::try_from(months).unwrap_or(12)) + 1);
    let history =
        cakupan_store::ledger::RegionHistory::new(st.store.region_history(within, to).await?);
    let figures = history.months(segment, from.plus(-1), to);
    let lapses = st.store.lapses(within, from.index(), to.index()).await?;
    let mut out = Vec::new();
    for w in figures.windows(2) {
        let (before, m) = (&w[0], &w[1]);
        let l = lapses.iter().find(|x| x.month == m.month.index());
        let share = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
        out.push(RetentionMonth {
            month: m.month.to_string(),
            lapse_rate: share(m.lapsed(), before.status_active()),
            reactivation_rate: share(m.reactivated(), before.nonactive()),
            lapsed: m.lapsed(),
            reactivated: m.reactivated(),
            bpu_lapses: l.map(|x| x.lapsed).unwrap_or(0),
            reminded_share: l.and_then(|x| share(x.reminded, x.lapsed)),
            lapses_as_of: lapses.first().map(|x| x.computed_at),
        });
    }
    Ok(out)
}
