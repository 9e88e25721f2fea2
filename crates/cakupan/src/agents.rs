//! `cakupan office …` and `cakupan agent …`: the Perisai network from the command line (issue
//! #6), with the same checks as the API (the operator acts as head office).

use crate::Reference;
use anyhow::{Context as _, Result, bail};
use cakupan_app::agents as service;
use cakupan_domain::agents::{AgentEvent, check_reactivation, statement};
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::{Level, Month, Nik, RegionCode, Rupiah, Segment};
use cakupan_store::agents::{Agent, AgentFilter, Office};
use cakupan_store::{Store, StoreError};
use clap::Subcommand;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum OfficeCommand {
    /// Register a Kantor Perisai (partner office) and its cooperation agreement.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// cooperative, foundation, business or community.
        #[arg(long)]
        kind: String,
        /// Where the office is (a region code).
        #[arg(long)]
        region: String,
        /// YYYY-MM-DD: start of the agreement.
        #[arg(long)]
        from: String,
        /// YYYY-MM-DD: end of the agreement, if set.
        #[arg(long)]
        to: Option<String>,
    },
    /// The offices in a region (default: all).
    List {
        #[arg(long)]
        region: Option<String>,
    },
    /// Set an office's monthly target: new participants its agents acquire a month, from a
    /// month on (the same month again replaces it).
    Target {
        code: String,
        /// YYYY-MM: the first month the target applies to.
        #[arg(long)]
        from: String,
        /// New participants a month (0 or more).
        #[arg(long, allow_negative_numbers = true)]
        acquisitions: i64,
    },
    /// An office against its targets, month by month; when it has been below target for the
    /// rules' number of consecutive months, its agreement and its agents' appointments end
    /// (recorded, audited).
    Review { code: String },
    /// The month's statement of an office's agents and their sum.
    Statement {
        code: String,
        /// YYYY-MM (default: this month).
        #[arg(long)]
        month: Option<String>,
        /// Print CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Appoint an agent: a registered BPU participant (by NIK) under an office.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        office: String,
        /// The agent's own NIK.
        #[arg(long)]
        nik: String,
        /// The villages served, comma separated.
        #[arg(long, value_delimiter = ',')]
        villages: Vec<String>,
        /// YYYY-MM.
        #[arg(long)]
        appointed: String,
    },
    /// An agent's standing, villages and cash held.
    Show { code: String },
    /// Record a reactivation (after the cooling period) or a termination.
    Event {
        code: String,
        /// reactivated or terminated.
        #[arg(long)]
        kind: String,
        /// YYYY-MM (default: this month).
        #[arg(long)]
        month: Option<String>,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Record cash an agent deposited (refused above what they hold).
    Deposit {
        code: String,
        #[arg(long)]
        reference: String,
        #[arg(long)]
        amount: i64,
        /// YYYY-MM-DD (default: today).
        #[arg(long)]
        on: Option<String>,
    },
    /// An agent's statement of a month.
    Statement {
        code: String,
        #[arg(long)]
        month: Option<String>,
    },
    /// An agent's worklist: due this month, in arrears, villages to win back.
    Worklist {
        code: String,
        #[arg(long)]
        month: Option<String>,
    },
}

/// The server's state for the account commands, which set passwords: the password rule in
/// force (rules/security.toml) and the hashing cost tuned on this machine.
pub fn state(store: Arc<dyn Store>, reference: &Reference) -> Result<cakupan_app::Context> {
    Ok(cakupan_app::Context {
        store,
        regions: reference.regions.clone(),
        rules: reference.rules.clone(),
        today: cakupan_app::today_wib,
        sms: None,
        auth: Arc::new(crate::accounts::auth(reference)?),
    })
}

/// The state for every other shared operation (registering, posting, the network, employers,
/// the campaign): none of them hashes a password, so the hashing cost is not tuned (that takes
/// the rule's target time, about half a second, at every command) and the password rule is the
/// one in force or, on a day before the first, the earliest (it is only carried, not applied).
pub fn operations(store: Arc<dyn Store>, reference: &Reference) -> Result<cakupan_app::Context> {
    let today = Month::of(cakupan_app::today_wib());
    let policy = reference
        .rules
        .security(today)
        .or_else(|| {
            reference
                .rules
                .security
                .iter()
                .min_by_key(|r| r.provenance.period.from)
        })
        .cloned()
        .context("rules/security.toml has no row")?;
    Ok(cakupan_app::Context {
        store,
        regions: reference.regions.clone(),
        rules: reference.rules.clone(),
        today: cakupan_app::today_wib,
        sms: None,
        auth: Arc::new(cakupan_app::auth::Auth::new(
            cakupan_app::auth::Cost::OWASP,
            policy,
        )),
    })
}

fn month_arg(v: &Option<String>, now: Month) -> Result<Month> {
    match v {
        None => Ok(now),
        Some(s) => Month::parse(s).map_err(|e| anyhow::anyhow!("--month: {e}")),
    }
}

fn rejected(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Rejected(errs) => {
            for x in errs.iter() {
                eprintln!("error: {x}");
            }
            anyhow::anyhow!("refused: nothing stored")
        }
        other => other.into(),
    }
}

pub fn api(e: cakupan_app::AppError) -> anyhow::Error {
    match e {
        cakupan_app::AppError::Invalid(errs) => rejected(StoreError::Rejected(errs)),
        // The message, and the store's error under it where the store failed.
        other => anyhow::Error::new(other),
    }
}

async fn record(store: &dyn Store, code: &str) -> Result<cakupan_store::agents::AgentRecord> {
    store
        .agent_records(AgentFilter::Code(code))
        .await?
        .into_iter()
        .next()
        .with_context(|| format!("no agent has code {code}"))
}

pub async fn office(
    store: Arc<dyn Store>,
    reference: &Reference,
    cmd: OfficeCommand,
) -> Result<()> {
    let st = operations(store.clone(), reference)?;
    let now = Month::of((st.today)());
    match cmd {
        OfficeCommand::Add {
            code,
            name,
            kind,
            region,
            from,
            to,
        } => {
            let region =
                RegionCode::parse(&region).map_err(|e| anyhow::anyhow!("--region: {e}"))?;
            let o = Office {
                code,
                name,
                kind,
                region,
                agreement_from: parse_date(&from).context("--from must be YYYY-MM-DD")?,
                agreement_to: to
                    .as_deref()
                    .map(|t| parse_date(t).context("--to must be YYYY-MM-DD"))
                    .transpose()?,
            };
            // The one path of the API: allowed, stored, audited.
            let o = service::add_office(&st, &crate::accounts::cli_admin(), "cli", o)
                .await
                .map_err(api)?;
            println!("Office {} stored.", o.code);
            Ok(())
        }
        OfficeCommand::List { region } => {
            let within = match region {
                Some(r) => RegionCode::parse(&r).map_err(|e| anyhow::anyhow!("--region: {e}"))?,
                None => RegionCode::NATION,
            };
            for o in store.offices(within).await? {
                let agents = store.agent_records(AgentFilter::Office(&o.code)).await?;
                println!(
                    "{:<14} {:<11} {:<12} {} ({} agents, agreement {}–{})",
                    o.code,
                    o.kind,
                    o.region,
                    o.name,
                    agents.len(),
                    format_date(o.agreement_from),
                    o.agreement_to.map(format_date).unwrap_or_default()
                );
            }
            Ok(())
        }
        OfficeCommand::Target {
            code,
            from,
            acquisitions,
        } => {
            let from = Month::parse(&from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
            store
                .set_office_target(&code, from, acquisitions, "cli")
                .await
                .map_err(rejected)?;
            crate::store::audit(
                store.as_ref(),
                "office.target",
                format!("office:{code}"),
                "administration",
            )
            .await?;
            println!("Office {code}: {acquisitions} new participants a month from {from}.");
            Ok(())
        }
        OfficeCommand::Review { code } => {
            let office = store
                .office(&code)
                .await?
                .with_context(|| format!("no office has code {code}"))?;
            crate::store::audit(
                store.as_ref(),
                "office.review",
                format!("office:{code}"),
                "administration",
            )
            .await?;
            let s = service::end_if_below_target(&st, &office, "cli")
                .await
                .map_err(api)?;
            println!(
                "{} {}: {:>8} {:>8}",
                office.code, office.name, "target", "new"
            );
            for m in &s.months {
                println!(
                    "  {}  {:>8} {:>8}{}",
                    m.month,
                    m.target,
                    m.acquisitions,
                    if m.below { "  below" } else { "" }
                );
            }
            if s.months.is_empty() {
                println!("No target is judged yet for {code} (`cakupan office target`).");
                return Ok(());
            }
            match s.ended_from {
                Some(from) => println!(
                    "Agreement ended: {} consecutive months below target; no agent of {} collects from {from} on.",
                    s.limit, office.code
                ),
                None => println!(
                    "In agreement: {} consecutive month(s) below target (the agreement ends at {}).",
                    s.below_in_a_row, s.limit
                ),
            }
            Ok(())
        }
        OfficeCommand::Statement { code, month, csv } => {
            let office = store
                .office(&code)
                .await?
                .with_context(|| format!("no office has code {code}"))?;
            let month = month_arg(&month, now)?;
            let s = service::office_statement(&st, &office, month)
                .await
                .map_err(api)?;
            if csv {
                print!("{}", service::statement_csv(&s.agents, Some(&s.total)));
                return Ok(());
            }
            println!("{} {} — {month}", office.code, office.name);
            println!(
                "{:<14} {:>5} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                "agent",
                "new",
                "fee base",
                "reversed",
                "fee",
                "clawback",
                "incentive",
                "agent",
                "office"
            );
            for r in s.agents.iter().chain(std::iter::once(&s.total)) {
                println!(
                    "{:<14} {:>5} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                    r.code,
                    r.acquisitions,
                    Rupiah(r.fee_base),
                    Rupiah(r.fee_reversed),
                    Rupiah(r.contribution_fee),
                    Rupiah(r.clawback),
                    Rupiah(r.incentive),
                    Rupiah(r.agent_share),
                    Rupiah(r.office_share)
                );
            }
            println!("Scheme: {} [{}]", s.total.source, s.total.status);
            Ok(())
        }
    }
}

pub async fn agent(store: Arc<dyn Store>, reference: &Reference, cmd: AgentCommand) -> Result<()> {
    let st = operations(store.clone(), reference)?;
    let now = Month::of((st.today)());
    match cmd {
        AgentCommand::Add {
            code,
            office,
            nik,
            villages,
            appointed,
        } => {
            let nik = Nik::parse(&nik).map_err(|e| anyhow::anyhow!("--nik: {e}"))?;
            let villages = villages
                .iter()
                .map(|v| {
                    RegionCode::parse(v.trim()).map_err(|e| anyhow::anyhow!("--villages {v}: {e}"))
                })
                .collect::<Result<Vec<_>>>()?;
            for v in &villages {
                if !reference.regions.contains_code(*v) {
                    bail!("--villages: {v} is not in the Kemendagri region list");
                }
            }
            let appointed =
                Month::parse(&appointed).map_err(|e| anyhow::anyhow!("--appointed: {e}"))?;
            // The one path of the API: the BPU participation found, allowed, stored, audited.
            let (a, own) = service::add_agent(
                &st,
                &crate::accounts::cli_admin(),
                "cli",
                service::Appointment {
                    code,
                    office_code: office,
                    nik,
                    appointed,
                    villages,
                },
            )
            .await
            .map_err(api)?;
            println!(
                "Agent {} appointed (participant KPJ {}).",
                a.agent.code, own.kpj
            );
            Ok(())
        }
        AgentCommand::Show { code } => {
            let r = record(store.as_ref(), &code).await?;
            let s = service::standing(&st, &r, now);
            let c = service::custody(&st, &r).await.map_err(api)?;
            println!(
                "{} (office {}), home {} {}, appointed {}",
                r.agent.code,
                r.agent.office_code,
                r.agent.home_village,
                reference.regions.path_label(r.agent.home_village),
                r.agent.appointed
            );
            println!(
                "  villages   {}",
                r.agent
                    .villages
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for m in s.iter().rev().take(12) {
                let f = service::figures(&r, m.month);
                println!(
                    "  {}  {:<10} new {:>3}  collected {:>3} ({})",
                    m.month,
                    m.status.as_str(),
                    f.acquisitions,
                    f.collections,
                    Rupiah(f.collected)
                );
            }
            println!(
                "  cash held  {} (collected {}, deposited {}){}",
                Rupiah(c.held),
                Rupiah(c.collected),
                Rupiah(c.deposited),
                c.oldest_unsettled
                    .as_deref()
                    .map(|d| format!(", oldest not deposited {d}"))
                    .unwrap_or_default()
            );
            for a in &c.alerts {
                println!("  ALERT      {a}");
            }
            Ok(())
        }
        AgentCommand::Event {
            code,
            kind,
            month,
            reason,
        } => {
            let shown = month_arg(&month, now)?;
            // The one path of the API: allowed, checked, stored, audited.
            service::record_event(
                &st,
                &crate::accounts::cli_admin(),
                "cli",
                &code,
                &kind,
                &Some(shown.to_string()),
                &reason,
            )
            .await
            .map_err(api)?;
            let month = shown;
            println!("Agent {code}: {kind} in {month}.");
            Ok(())
        }
        AgentCommand::Deposit {
            code,
            reference: r,
            amount,
            on,
        } => {
            let on = match on {
                Some(d) => parse_date(&d).context("--on must be YYYY-MM-DD")?,
                None => (st.today)(),
            };
            // The one path of the API: checked (a positive amount among the rest), allowed,
            // stored, audited.
            let (d, _) = service::record_deposit(
                &st,
                &crate::accounts::cli_admin(),
                "cli",
                &service::DepositInput {
                    reference: r,
                    agent_code: code.clone(),
                    amount,
                    deposited_on: format_date(on),
                },
            )
            .await
            .map_err(api)?;
            let rec = record(store.as_ref(), &code).await?;
            let c = service::custody(&st, &rec).await.map_err(api)?;
            println!(
                "Deposit {} of {} recorded; {code} now holds {}.",
                d.reference,
                Rupiah(d.amount),
                Rupiah(c.held)
            );
            Ok(())
        }
        AgentCommand::Statement { code, month } => {
            let r = record(store.as_ref(), &code).await?;
            let month = month_arg(&month, now)?;
            let s = statement(&st.rules, month, &service::figures(&r, month))
                .map_err(|e| rejected(StoreError::Rejected(e.into())))?;
            println!("{code} — statement {month}");
            println!(
                "  new participants     {} ({} with JHT; incentive from {})",
                s.acquisitions, s.acquisitions_3, s.threshold
            );
            println!(
                "  contributions        {} × {}‰ = {}",
                s.fee_base,
                s.fee_ppm / 1000,
                s.contribution_fee
            );
            println!(
                "  reversed             {} → clawback {}",
                s.fee_reversed, s.clawback
            );
            println!("  incentive            {}", s.incentive);
            println!("  total                {}", s.total);
            println!(
                "  agent / office       {} / {}",
                s.agent_share, s.office_share
            );
            println!("  scheme: {} [{}]", s.source, s.status);
            Ok(())
        }
        AgentCommand::Worklist { code, month } => {
            let r = record(store.as_ref(), &code).await?;
            let month = month_arg(&month, now)?;
            let w = service::worklist(&st, &r, month).await.map_err(api)?;
            println!("{code} — worklist {month}");
            println!("Due this month ({}):", w.due_this_month.len());
            for i in &w.due_this_month {
                println!(
                    "  KPJ {}  {}  {}  paid through {}",
                    i.kpj,
                    i.name,
                    i.village_code,
                    i.paid_through.as_deref().unwrap_or("-")
                );
            }
            println!("In arrears ({}):", w.in_arrears.len());
            for i in &w.in_arrears {
                println!(
                    "  KPJ {}  {}  {}  {} months unpaid",
                    i.kpj, i.name, i.village_code, i.months_unpaid
                );
            }
            println!("Villages, most uncovered first:");
            for v in &w.villages {
                println!(
                    "  {} {:<28} registered {:>6}  active {:>6}  uncovered {:>6}",
                    v.village_code, v.name, v.registered, v.status_active, v.uncovered
                );
            }
            Ok(())
        }
    }
}

/// `cakupan report agents`: registered and active agents per region in a month.
pub async fn report(
    store: Arc<dyn Store>,
    reference: &Reference,
    month: Option<String>,
    by: &str,
    region: Option<String>,
) -> Result<()> {
    let st = operations(store, reference)?;
    let month = month_arg(&month, Month::of((st.today)()))?;
    let level =
        Level::parse(by).context("--by must be nation, province, regency, district or village")?;
    let within = match region {
        Some(r) => RegionCode::parse(&r).map_err(|e| anyhow::anyhow!("--region: {e}"))?,
        None => RegionCode::NATION,
    };
    println!("code,name,registered,active,inactive");
    for r in service::agent_counts(&st, level, within, month)
        .await
        .map_err(api)?
    {
        let name = if r.name.contains(',') {
            format!("\"{}\"", r.name)
        } else {
            r.name.clone()
        };
        println!(
            "{},{name},{},{},{}",
            r.code, r.registered, r.active, r.inactive
        );
    }
    Ok(())
}

/// The simulation's Perisai network, from the `participants.csv` it generated: an office per
/// regency whose participants were enrolled by agents, and each agent code of the file
/// appointed under it (in the month of their first enrolment), serving the villages of the
/// people they enrolled, and themselves one of the regency's self-registered BPU participants.
/// Returns the offices and agents stored.
pub async fn network_from_file(
    store: &dyn Store,
    reference: &Reference,
    people: &std::path::Path,
) -> Result<(usize, usize)> {
    use std::collections::{BTreeMap, BTreeSet};
    struct Seen {
        villages: BTreeSet<RegionCode>,
        first: Month,
    }
    let mut agents: BTreeMap<String, Seen> = BTreeMap::new();
    // Self-registered BPU participants per regency: the agents' own participations.
    let mut own: BTreeMap<RegionCode, Vec<String>> = BTreeMap::new();
    let mut rdr =
        csv::Reader::from_path(people).with_context(|| format!("opening {}", people.display()))?;
    for rec in rdr.records() {
        let rec = rec?;
        let g = |i: usize| rec.get(i).unwrap_or("");
        let (Ok(village), Some(registered)) = (RegionCode::parse(g(5)), parse_date(g(10))) else {
            continue;
        };
        let regency = village.truncate(Level::Regency);
        if g(6) == "BPU" && g(11) == "self" {
            let list = own.entry(regency).or_default();
            if list.len() < 8 {
                list.push(g(0).to_string());
            }
        }
        if g(11) == "perisai" && !g(12).is_empty() {
            let e = agents.entry(g(12).to_string()).or_insert(Seen {
                villages: BTreeSet::new(),
                first: Month::of(registered),
            });
            e.villages.insert(village);
            e.first = e.first.min(Month::of(registered));
        }
    }
    let mut offices = BTreeSet::new();
    let mut appointed = 0;
    for (code, seen) in &agents {
        let Some(regency) = seen
            .villages
            .iter()
            .next()
            .map(|v| v.truncate(Level::Regency))
        else {
            continue;
        };
        let Some(nik) = own.get_mut(&regency).and_then(|l| l.pop()) else {
            continue; // no one to be the agent: their participants keep the code alone
        };
        let Some(participant) = store
            .participants_by_nik(Nik::parse(&nik).map_err(|e| anyhow::anyhow!("{e}"))?)
            .await?
            .into_iter()
            .find(|p| p.registration.segment == Segment::Bpu)
        else {
            continue;
        };
        let office_code = format!("KP-{}", regency.to_string().replace('.', ""));
        if offices.insert(office_code.clone()) {
            store
                .add_office(&Office {
                    code: office_code.clone(),
                    name: format!(
                        "Koperasi Perisai {}",
                        cakupan_store::targets::name_of(&reference.regions, regency)
                    ),
                    kind: "cooperative".into(),
                    region: regency,
                    agreement_from: seen.first.first_day(),
                    agreement_to: None,
                })
                .await
                .map_err(rejected)?;
        }
        store
            .add_agent(&Agent {
                code: code.clone(),
                office_code,
                participant_id: participant.id,
                home_village: participant.registration.village,
                appointed: seen.first,
                villages: seen.villages.iter().copied().collect(),
            })
            .await
            .map_err(rejected)?;
        appointed += 1;
    }
    Ok((offices.len(), appointed))
}

/// The simulation's offices at work: an agent made inactive by idle months, who is active
/// again with their participants after the cooling period, is reactivated at the office's
/// request (the first month that is allowed and they have something to do). Returns the
/// reactivations recorded.
pub async fn simulate_reactivations(store: &dyn Store, reference: &Reference) -> Result<usize> {
    let now = Month::of(cakupan_app::today_wib());
    let mut recorded = 0;
    for mut r in store
        .agent_records(AgentFilter::Within(RegionCode::NATION))
        .await?
    {
        let active = r.active_months();
        loop {
            let s = cakupan_domain::agents::status_series(
                &reference.rules,
                r.agent.appointed,
                &active,
                &r.events,
                now,
            );
            let next = s.iter().find_map(|m| {
                let since = m.inactive_since?;
                let (earliest, _) = cakupan_domain::agents::earliest_reactivation(
                    &reference.rules,
                    since,
                    m.month,
                )?;
                active
                    .iter()
                    .find(|a| **a >= earliest && **a >= m.month)
                    .copied()
                    .filter(|a| check_reactivation(&reference.rules, &s, *a).is_ok())
            });
            let Some(month) = next else { break };
            let event = AgentEvent::Reactivated { month };
            store
                .add_agent_event(&r.agent.code, &event, "simulation", 0)
                .await?;
            r.events.push(event);
            recorded += 1;
        }
    }
    Ok(recorded)
}
