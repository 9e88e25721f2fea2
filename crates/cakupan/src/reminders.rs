//! `cakupan reminders …` (issue #21): plan a day's reminders (or a dry run of it), send them
//! through the SMS gateway, the experiments and retention; and the simulated reminder
//! campaign of `simulate`, whose true effect the report must recover.

use crate::Reference;
use crate::enrolment::SmsArgs;
use crate::generate::Rng;
use anyhow::{Result, anyhow, bail};
use cakupan_app::reminders as svc;
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::reminders::Arm;
use cakupan_domain::{Month, RegionCode};
use cakupan_store::Store;
use clap::Subcommand;
use std::sync::Arc;
use time::Duration;

#[derive(Debug, Subcommand)]
pub enum ReminderCommand {
    /// Plan a day's reminders from the coverage states (every rule of rules/reminders.toml in
    /// force): counts by rule, province and arm. Safe to run again.
    Plan {
        /// YYYY-MM-DD (default today).
        #[arg(long)]
        date: Option<String>,
        /// Show the counts without storing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Send the planned SMS reminders through the gateway, within each recipient's sending
    /// hours, at most the gateway's rate; resumes where a stopped run left off and never sends
    /// one twice.
    Send {
        /// Messages a second (at most the rules' sms_per_second).
        #[arg(long)]
        rate: Option<u32>,
        /// Stop after handing over this many.
        #[arg(long)]
        limit: Option<u64>,
        /// Judge the recipients' sending hours as at this moment, "YYYY-MM-DD HH:MM" in WIB
        /// (default: now).
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        sms: SmsArgs,
    },
    /// The experiments: effect of SMS and agents against the holdout, with 95% intervals, as
    /// counted by the last planning.
    Experiment {
        /// Count again now (one pass over the reports' months of reminders and lapses).
        #[arg(long)]
        recount: bool,
    },
    /// Lapse and reactivation rates by month and the share of lapses preceded by a reminder
    /// (BPU lapses as counted by the last planning).
    Retention {
        /// A region code (default: the nation).
        #[arg(long)]
        region: Option<String>,
        /// Count again now.
        #[arg(long)]
        recount: bool,
    },
}

/// Unix seconds of "YYYY-MM-DD HH:MM" in WIB (UTC+7).
fn wib_instant(s: &str) -> Option<i64> {
    let (d, t) = s.trim().split_once(' ')?;
    let day = parse_date(d)?;
    let minutes = i64::from(cakupan_domain::reminders::parse_hhmm(t)?);
    let midnight = day.midnight().assume_utc().unix_timestamp();
    Some(midnight + minutes * 60 - 7 * 3600)
}

fn pct(x: f64) -> String {
    format!("{:+.1} pp", x * 100.0)
}

pub async fn run(store: Arc<dyn Store>, reference: &Reference, cmd: ReminderCommand) -> Result<()> {
    let st = crate::agents::operations(store, reference)?;
    let admin = crate::accounts::cli_admin();
    match cmd {
        ReminderCommand::Plan { date, dry_run } => {
            let day = match date.as_deref() {
                None => cakupan_app::today_wib(),
                Some(d) => parse_date(d).ok_or_else(|| anyhow!("--date must be YYYY-MM-DD"))?,
            };
            let plan = svc::plan(&st, day, dry_run)
                .await
                .map_err(crate::agents::api)?;
            println!("rule             province  arm      reminders");
            for l in &plan.lines {
                println!(
                    "{:<16} {:<9} {:<8} {:>9}",
                    l.rule, l.province, l.arm, l.planned
                );
            }
            for (rule, n) in &plan.opted_out {
                println!("{rule}: {n} left out (replied STOP)");
            }
            for (rule, n) in &plan.capped {
                println!("{rule}: {n} left out (already had this month's reminders)");
            }
            let total: u64 = plan.lines.iter().map(|l| l.planned).sum();
            if dry_run {
                println!(
                    "Dry run for {}: {total} reminders would be planned; nothing stored.",
                    plan.day
                );
            } else {
                println!(
                    "{}: {total} reminders planned, {} new (the rest were planned by an earlier run).",
                    plan.day, plan.stored
                );
            }
            Ok(())
        }
        ReminderCommand::Send {
            rate,
            limit,
            at,
            sms,
        } => {
            let at = match at.as_deref() {
                None => None,
                Some(a) => Some(
                    wib_instant(a)
                        .ok_or_else(|| anyhow!("--at must be \"YYYY-MM-DD HH:MM\" (WIB)"))?,
                ),
            };
            let Some(gw) = sms.gateway("") else {
                bail!("--sms-url (or CAKUPAN_SMS_URL) is required");
            };
            let gw = cakupan_app::sms::Gateway {
                report_base: sms.sms_reports.clone(),
                ..gw
            };
            let st = cakupan_app::Context {
                sms: Some(Arc::new(gw)),
                ..st
            };
            let r = svc::send(&st, rate, limit, at)
                .await
                .map_err(crate::agents::api)?;
            println!(
                "{} sent, {} failed or in doubt, {} without a phone, {} opted out, {} outside sending hours (left for later); from an earlier run: {} confirmed sent, {} unknown (not sent again); {:.1} s ({:.1}/s).",
                r.sent,
                r.failed,
                r.no_phone,
                r.opted_out,
                r.quiet,
                r.recovered_sent,
                r.recovered_unknown,
                r.seconds,
                r.sent as f64 / r.seconds.max(1e-9)
            );
            Ok(())
        }
        ReminderCommand::Experiment { recount } => {
            if recount {
                svc::count_outcomes(&st, (st.today)())
                    .await
                    .map_err(crate::agents::api)?;
            }
            let c = svc::experiment(&st, &admin)
                .await
                .map_err(crate::agents::api)?;
            match c.first() {
                None => println!(
                    "No reminder campaign with a closed window was counted (the day's planning counts; --recount counts now)."
                ),
                Some(x) => println!(
                    "Counted at {}.",
                    cakupan_app::accounts::rfc3339(x.counted_at)
                ),
            }
            println!(
                "contrast       by        value      treated paid/n     comparison paid/n   effect  (95% interval)"
            );
            for x in c {
                println!(
                    "{:<14} {:<9} {:<10} {:>7}/{:<8} {:>9}/{:<8} {:>8}  ({} to {})",
                    x.contrast,
                    x.by,
                    x.value,
                    x.effect.treated.paid,
                    x.effect.treated.n,
                    x.effect.comparison.paid,
                    x.effect.comparison.n,
                    pct(x.effect.effect),
                    pct(x.effect.low),
                    pct(x.effect.high)
                );
            }
            Ok(())
        }
        ReminderCommand::Retention { region, recount } => {
            let region = match region.as_deref() {
                None => RegionCode::NATION,
                Some(r) => RegionCode::parse(r).map_err(|e| anyhow!("--region {e}"))?,
            };
            if recount {
                svc::count_outcomes(&st, (st.today)())
                    .await
                    .map_err(crate::agents::api)?;
            }
            let months = svc::retention(&st, &admin, region, None, 12)
                .await
                .map_err(crate::agents::api)?;
            println!("month    lapse rate  reactivation rate  BPU lapses  reminded before");
            let p = |x: Option<f64>| {
                x.map(|v| format!("{:.1}%", v * 100.0))
                    .unwrap_or_else(|| "—".into())
            };
            for m in months {
                println!(
                    "{:<8} {:>10}  {:>17}  {:>10}  {:>15}",
                    m.month,
                    p(m.lapse_rate),
                    p(m.reactivation_rate),
                    m.bpu_lapses,
                    p(m.reminded_share)
                );
            }
            Ok(())
        }
    }
}

/// The simulation's true effects on paying within the window: an SMS adds this much to the
/// chance, an agent's call or visit this much (over a base chance of `BASE`).
pub const BASE: f64 = 0.10;
pub const SMS_EFFECT: f64 = 0.08;
pub const AGENT_EFFECT: f64 = 0.15;

/// What the simulated campaigns were.
pub struct Simulated {
    pub days: Vec<String>,
    pub reminders: usize,
    pub holdout_ppm: i64,
}

/// Reminder campaigns in the simulated population. Of the days of the last three months
/// (their windows closed by today) on which the rules reach anyone, the largest are taken
/// whose outcome windows do not overlap (so that a payment belongs to one campaign), and each
/// in turn is planned with the real planner (`simulated`: no gateway carries them); each
/// person planned then pays within the window with probability `BASE`, plus `SMS_EFFECT` if
/// reminded by SMS or `AGENT_EFFECT` if by an agent. Nobody planned has paid since their
/// latest paid month (that is why they were planned), so these are the only payments in their
/// windows and the true effects are exactly the constants.
pub async fn simulate(
    store: Arc<dyn Store>,
    reference: &Reference,
    seed: u64,
) -> Result<Option<Simulated>> {
    let st = crate::agents::operations(store.clone(), reference)?;
    let today = cakupan_app::today_wib();
    let Some(policy) = reference.rules.reminder_policy(today).cloned() else {
        return Ok(None);
    };
    let window = i64::from(policy.paid_within_days);
    let mut sized: Vec<(u64, time::Date)> = Vec::new();
    for back in 0..92 {
        let day = today - Duration::days(window + 1 + back);
        let fires = reference
            .rules
            .reminders_on(day)
            .iter()
            .any(|r| cakupan_domain::reminders::target(&reference.rules, r, day).is_some());
        if !fires {
            continue;
        }
        let dry = svc::plan(&st, day, true)
            .await
            .map_err(crate::agents::api)?;
        let n: u64 = dry.lines.iter().map(|l| l.planned).sum();
        if n > 0 {
            sized.push((n, day));
        }
    }
    sized.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut days: Vec<time::Date> = Vec::new();
    for (_, day) in sized {
        if days.iter().all(|d| (*d - day).whole_days().abs() > window) {
            days.push(day);
        }
    }
    if days.is_empty() {
        return Ok(None);
    }
    days.sort();
    let mut rng = Rng::new(seed ^ 0x5EED_0021);
    let mut reminders = 0;
    for &day in &days {
        let (_, rows) = svc::plan_with(&st, day, false, "simulated")
            .await
            .map_err(crate::agents::api)?;
        reminders += rows.len();
        let mut payments = Vec::new();
        for r in &rows {
            let Some(pid) = r.participant_id else {
                continue;
            };
            let p = BASE
                + match r.arm {
                    Arm::Sms => SMS_EFFECT,
                    Arm::Agent => AGENT_EFFECT,
                    Arm::Holdout => 0.0,
                };
            if !rng.chance(p) {
                continue;
            }
            let Some(person) = store.participant(pid).await? else {
                continue;
            };
            let m =
                Month::from_index(r.month).ok_or_else(|| anyhow!("simulated reminder month"))?;
            let paid_on = (day
                + Duration::days(rng.below(u64::try_from(window).unwrap_or(1) + 1) as i64))
            .min(today);
            // A month the rules cannot price is left unpaid.
            if let Ok(p) = crate::campaign::month_by_bank(
                &reference.rules,
                &person.registration,
                m,
                format!("SIMR{seed}-{}-{}", person.kpj, r.rule),
                paid_on,
                today,
            ) {
                payments.push(p);
            }
        }
        for chunk in payments.chunks(1_000) {
            for r in store.post_batch(&reference.rules, chunk).await? {
                r.map_err(|e| anyhow!("simulated payment after a reminder: {e}"))?;
            }
        }
    }
    // What the reports read, counted after the simulated payments.
    svc::count_outcomes(&st, today)
        .await
        .map_err(crate::agents::api)?;
    Ok(Some(Simulated {
        days: days.into_iter().map(format_date).collect(),
        reminders,
        holdout_ppm: policy.holdout_ppm,
    }))
}
