//! `cakupan post`, `participant coverage`, `verify` and `report active`: the ledger, coverage
//! and counters from the command line.

use crate::Reference;
use anyhow::{Context as _, Result, bail};
use cakupan_app::today_wib;
use cakupan_domain::contribution::{ContributionInput, parse_payment};
use cakupan_domain::coverage::{Reason, series};
use cakupan_domain::quote::{QuoteRequest, quote};
use cakupan_domain::{Level, Month, Nik, ProgrammeSet, RegionCode, Rupiah, Segment};
use cakupan_store::ledger::{
    COUNTERS, CounterValues, NewPosting, PostingOutcome, TerminationReason, facts,
};
use cakupan_store::{Participant, Store};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;

#[derive(Debug, Subcommand)]
pub enum PostCommand {
    /// A contribution payment (the amount must equal the dues of the months it covers).
    Contribution {
        #[arg(long)]
        reference: String,
        #[arg(long)]
        nik: String,
        #[arg(long)]
        segment: String,
        /// YYYY-MM.
        #[arg(long)]
        first_month: String,
        #[arg(long, default_value = "1")]
        months: String,
        #[arg(long)]
        amount: String,
        /// bank, aggregator, autodebit, perisai, employer or branch.
        #[arg(long)]
        channel: String,
        /// YYYY-MM-DD; today when absent.
        #[arg(long)]
        paid_on: Option<String>,
        /// The Perisai agent who took it in cash (channel perisai): held until deposited.
        #[arg(long)]
        collected_by: Option<String>,
    },
    /// A payment that bounced.
    Reversal {
        #[arg(long)]
        reference: String,
        /// The reference of the contribution it reverses.
        #[arg(long)]
        reverses: String,
    },
    /// The end of a participation (death, withdrawal, moved_abroad).
    Termination {
        #[arg(long)]
        reference: String,
        #[arg(long)]
        nik: String,
        #[arg(long)]
        segment: String,
        /// YYYY-MM: terminated from this month on.
        #[arg(long)]
        month: String,
        #[arg(long)]
        reason: String,
    },
}

fn segment(s: &str) -> Result<Segment> {
    Segment::parse(s).with_context(|| format!("--segment must be one of {}", Segment::expected()))
}

pub async fn post(
    store_arc: std::sync::Arc<dyn Store>,
    reference: &Reference,
    cmd: PostCommand,
) -> Result<()> {
    let store = store_arc.as_ref();
    let mut collector = None;
    let posting = match cmd {
        PostCommand::Contribution {
            reference: r,
            nik,
            segment,
            first_month,
            months,
            amount,
            channel,
            paid_on,
            collected_by,
        } => {
            let input = ContributionInput {
                reference: r,
                nik,
                segment,
                first_month,
                months,
                amount,
                channel,
                paid_on: paid_on.unwrap_or_else(|| cakupan_domain::month::format_date(today_wib())),
            };
            collector = collected_by;
            match parse_payment(&reference.rules, &input, today_wib()) {
                Ok(p) => NewPosting::Contribution(p),
                Err(e) => {
                    for x in e.iter() {
                        eprintln!("error: {x}");
                    }
                    bail!("contribution rejected: nothing posted");
                }
            }
        }
        PostCommand::Reversal {
            reference: r,
            reverses,
        } => NewPosting::Reversal {
            reference: r,
            target: reverses,
            on: today_wib(),
        },
        PostCommand::Termination {
            reference: r,
            nik,
            segment: s,
            month,
            reason,
        } => NewPosting::Termination {
            reference: r,
            nik: Nik::parse(&nik).map_err(|e| anyhow::anyhow!("nik: {e}"))?,
            segment: segment(&s)?,
            month: Month::parse(&month).map_err(|e| anyhow::anyhow!("month: {e}"))?,
            reason: TerminationReason::parse(&reason)
                .with_context(|| "reason: must be death, withdrawal or moved_abroad".to_string())?,
        },
    };
    // The participation a collection concerns, for the agent's checks (an unknown one is left
    // to the ledger's own checks, which name the field).
    let concerned = match &posting {
        NewPosting::Contribution(pay) if collector.is_some() => store
            .participants_by_nik(pay.nik)
            .await?
            .into_iter()
            .find(|x| x.registration.segment == pay.segment),
        _ => None,
    };
    let (kind, reference_of) = (posting.kind(), posting.reference().to_string());
    // The API's own path (the collection's rules, the audit entry as `cli`).
    let st = crate::agents::operations(store_arc.clone(), reference)?;
    let posted = cakupan_app::ledger::post(
        &st,
        &crate::accounts::cli_admin(),
        "cli",
        concerned.as_ref(),
        posting,
        collector,
    )
    .await;
    match posted {
        Ok(cakupan_app::ledger::Posted {
            outcome: PostingOutcome::Posted { id, participant_id },
            receipt,
        }) => {
            println!("Posted {kind} {reference_of} (ledger id {id}, participant {participant_id})");
            if let Some(r) = receipt {
                println!("Receipt {r}");
            }
            Ok(())
        }
        Ok(cakupan_app::ledger::Posted {
            outcome: PostingOutcome::Existing { id, .. },
            ..
        }) => {
            println!("Already posted: {reference_of} (ledger id {id}); nothing changed");
            Ok(())
        }
        Err(cakupan_app::AppError::Invalid(e)) => {
            for x in e.iter() {
                eprintln!("error: {x}");
            }
            bail!("{kind} rejected: nothing posted")
        }
        Err(e) => Err(crate::agents::api(e)),
    }
}

/// The participations a key names: a 16-digit NIK (every segment), a KPJ or an id.
pub async fn find(store: &dyn Store, key: &str) -> Result<Vec<Participant>> {
    let key = key.trim();
    let found = if key.len() == 16 && key.bytes().all(|b| b.is_ascii_digit()) {
        let nik = Nik::parse(key).map_err(|e| anyhow::anyhow!("nik: {e}"))?;
        store.participants_by_nik(nik).await?
    } else if key.len() == 11 {
        store.participant_by_kpj(key).await?.into_iter().collect()
    } else if let Ok(id) = key.parse::<i64>() {
        store.participant(id).await?.into_iter().collect()
    } else {
        bail!("'{key}' is neither an id, an 11-digit KPJ nor a 16-digit NIK");
    };
    if found.is_empty() {
        bail!("no participant found for '{key}'");
    }
    Ok(found)
}

pub async fn coverage(
    store: &dyn Store,
    reference: &Reference,
    key: &str,
    from: Option<String>,
    to: Option<String>,
    json: bool,
) -> Result<()> {
    let mut all = Vec::new();
    for p in find(store, key).await? {
        let reg = &p.registration;
        let ledger = store.ledger(p.id).await?;
        let f = facts(reg.segment, Month::of(reg.registered_on), &ledger);
        let from = match &from {
            Some(s) => Month::parse(s).map_err(|e| anyhow::anyhow!("--from: {e}"))?,
            None => Month::of(reg.registered_on),
        };
        let to = match &to {
            Some(s) => Month::parse(s).map_err(|e| anyhow::anyhow!("--to: {e}"))?,
            None => Month::of(today_wib()),
        };
        let months = series(&reference.rules, &f, from, to).map_err(|e| anyhow::anyhow!("{e}"))?;
        if json {
            all.push(serde_json::json!({"kpj": p.kpj, "segment": reg.segment, "months": months}));
            continue;
        }
        println!(
            "KPJ {} {} — registered {}",
            p.kpj,
            reg.segment,
            cakupan_domain::month::format_date(reg.registered_on)
        );
        let today = today_wib();
        for m in months {
            let open =
                cakupan_domain::coverage::not_yet_due(&reference.rules, reg.segment, &m, today);
            let why = match &m.reason {
                Reason::PaidBy { reference } => format!("paid by {reference}"),
                Reason::Unpaid { months, overdue } => match open {
                    Some(o) => format!(
                        "due {}, {months} month(s) unpaid, {} overdue today",
                        cakupan_domain::month::format_date(o.due),
                        o.overdue
                    ),
                    None => format!("{months} month(s) unpaid, {overdue} overdue"),
                },
                Reason::NothingPaidYet => "nothing paid yet".into(),
                Reason::TerminatedIn { month } => format!("terminated in {month}"),
                Reason::EmploymentEnded { month } => {
                    format!("employment ended in {month}, nothing paid since")
                }
            };
            let mut flags = Vec::new();
            for (on, name) in [
                (m.new, "new"),
                (m.lapsed, "lapsed"),
                (m.reactivated, "reactivated"),
            ] {
                if on {
                    flags.push(name);
                }
            }
            println!(
                "  {}  {:<11}  {why}{}",
                m.month,
                if open.is_some() {
                    "NOT_YET_DUE"
                } else {
                    m.status.as_str()
                },
                if flags.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", flags.join(", "))
                }
            );
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(())
}

/// Recomputes every counter from the ledger and lists each difference.
pub async fn verify(store: &dyn Store, reference: &Reference) -> Result<bool> {
    let stored: BTreeMap<(String, cakupan_store::ledger::Series, i32), CounterValues> = store
        .counters()
        .await?
        .into_iter()
        .map(|(r, _, s, m, v)| ((r, s, m), v))
        .collect();
    let recomputed: BTreeMap<(String, cakupan_store::ledger::Series, i32), CounterValues> = store
        .recompute(&reference.rules)
        .await?
        .rows()
        .into_iter()
        .map(|(r, _, s, m, v)| ((r, s, m), v))
        .collect();
    let mut differences = 0;
    let keys: std::collections::BTreeSet<_> =
        stored.keys().chain(recomputed.keys()).cloned().collect();
    for k in keys {
        let a = stored.get(&k).copied().unwrap_or([0; COUNTERS]);
        let b = recomputed.get(&k).copied().unwrap_or([0; COUNTERS]);
        if a != b {
            differences += 1;
            let month = Month::from_index(k.2)
                .map(|m| m.to_string())
                .unwrap_or_default();
            println!(
                "region '{}' {} {month}: counters {a:?}, ledger {b:?}",
                k.0, k.1
            );
        }
    }
    println!(
        "{} counter rows checked, {differences} differences (columns: {})",
        stored.len().max(recomputed.len()),
        cakupan_store::ledger::COUNTER_COLUMNS.join(", ")
    );
    // The Perisai agents' monthly figures, kept the same way.
    let stored = store.agent_months_all().await?.0;
    let recomputed = store.recompute_agents().await?;
    let recomputed: std::collections::HashMap<(String, i32), [i64; 7]> = recomputed
        .rows()
        .into_iter()
        .map(|(a, m, v)| ((a, m), v))
        .collect();
    let keys: std::collections::BTreeSet<_> =
        stored.keys().chain(recomputed.keys()).cloned().collect();
    let mut agent_differences = 0;
    for k in &keys {
        let a = stored.get(k).copied().unwrap_or([0; 7]);
        let b = recomputed.get(k).copied().unwrap_or([0; 7]);
        if a != b {
            agent_differences += 1;
            let month = Month::from_index(k.1)
                .map(|m| m.to_string())
                .unwrap_or_default();
            println!("agent {} {month}: stored {a:?}, ledger {b:?}", k.0);
        }
    }
    println!(
        "{} agent-month rows checked, {agent_differences} differences (columns: {})",
        keys.len(),
        cakupan_domain::agents::AGENT_COLUMNS.join(", ")
    );
    // The coverage state kept per participation for the reminders (issue #21).
    let stored: BTreeMap<i64, cakupan_store::reminders::CoverageState> = store
        .coverage_states()
        .await?
        .into_iter()
        .map(|s| (s.participant_id, s))
        .collect();
    let recomputed = store.recompute_coverage_states().await?;
    let mut state_differences = 0;
    for want in &recomputed {
        let have = stored.get(&want.participant_id);
        if have != Some(want) {
            state_differences += 1;
            println!(
                "participant {}: coverage state {have:?}, ledger {want:?}",
                want.participant_id
            );
        }
    }
    // A state whose participation is gone from the registry is a difference too.
    state_differences += stored
        .keys()
        .filter(|id| {
            recomputed
                .binary_search_by_key(*id, |s| s.participant_id)
                .is_err()
        })
        .count();
    println!(
        "{} coverage states checked, {state_differences} differences",
        recomputed.len()
    );
    // Each employer's standing row (issue #23, item 4), kept by its reports and payments. An
    // employer that has never reported nor paid has no row, which reads as all zeros.
    let (stored, recomputed) = store.employer_standings().await?;
    let stored: BTreeMap<&str, &cakupan_store::employers::StandingRow> = stored
        .iter()
        .map(|r| (r.employer_code.as_str(), r))
        .collect();
    let mut standing_differences = 0;
    for want in &recomputed {
        let have = stored.get(want.employer_code.as_str()).copied();
        let none = cakupan_store::employers::StandingRow::empty(&want.employer_code, &want.region);
        if have.unwrap_or(&none) != want {
            standing_differences += 1;
            println!(
                "employer {}: standing {have:?}, records {want:?}",
                want.employer_code
            );
        }
    }
    let employers: std::collections::HashSet<&str> = recomputed
        .iter()
        .map(|r| r.employer_code.as_str())
        .collect();
    standing_differences += stored.keys().filter(|c| !employers.contains(*c)).count();
    println!(
        "{} employer standings checked, {standing_differences} differences",
        recomputed.len()
    );
    Ok(differences == 0
        && agent_differences == 0
        && state_differences == 0
        && standing_differences == 0)
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[allow(clippy::too_many_arguments)]
pub async fn report_active(
    store: &dyn Store,
    reference: &Reference,
    month: Option<String>,
    from: Option<String>,
    to: Option<String>,
    by: &str,
    region: Option<String>,
    segment_arg: Option<String>,
    recompute: bool,
    format: Format,
) -> Result<()> {
    let parse = |flag: &str, s: &str| Month::parse(s).map_err(|e| anyhow::anyhow!("{flag}: {e}"));
    let months: Vec<Month> = match (month, from, to) {
        (Some(m), None, None) => vec![parse("--month", &m)?],
        (None, Some(f), Some(t)) => {
            let (f, t) = (parse("--from", &f)?, parse("--to", &t)?);
            if t < f || t.since(f) > 120 {
                bail!("--from/--to: the series must run forward over at most 120 months");
            }
            f.through(t).collect()
        }
        _ => bail!("give either --month YYYY-MM or both --from YYYY-MM and --to YYYY-MM"),
    };
    let level =
        Level::parse(by).context("--by must be nation, province, regency, district or village")?;
    let within = match &region {
        Some(r) => RegionCode::parse(r).map_err(|e| anyhow::anyhow!("--region: {e}"))?,
        None => RegionCode::NATION,
    };
    if within != RegionCode::NATION && within.level() >= level {
        bail!(
            "--region {within} is a {}: --by must be below it",
            within.level().as_str()
        );
    }
    let segment = segment_arg.as_deref().map(segment).transpose()?;
    let recomputed = if recompute {
        Some(store.recompute(&reference.rules).await?)
    } else {
        None
    };
    let name = |code: &str| -> String {
        if code.is_empty() {
            return "Indonesia".into();
        }
        RegionCode::parse(code)
            .ok()
            .and_then(|c| reference.regions.get(c))
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    let series = months.len() > 1;
    let mut json = Vec::new();
    match format {
        Format::Csv => println!(
            "{}code,name,registered,paid_active,status_active,nonactive",
            if series { "month," } else { "" }
        ),
        Format::Table => {
            println!(
                "Peserta aktif{}{}",
                segment.map(|s| format!(", {s}")).unwrap_or_default(),
                if recompute {
                    " (recomputed from the ledger)"
                } else {
                    ""
                }
            );
            println!(
                "{}{:<14} {:<34} {:>11} {:>11} {:>13} {:>11}",
                if series { "month    " } else { "" },
                "code",
                "name",
                "registered",
                "paid_active",
                "status_active",
                "nonactive"
            );
        }
        Format::Json => {}
    }
    for m in months {
        let rows = match &recomputed {
            Some(c) => c.active_report(level, within, segment, m),
            None => store.active_report(level, within, segment, m).await?,
        };
        for r in &rows {
            let prefix = if series {
                format!("{m},")
            } else {
                String::new()
            };
            match format {
                Format::Json => json.push(serde_json::json!({"month": m, "code": r.code, "name": name(&r.code), "registered": r.registered,
                    "paid_active": r.paid_active, "status_active": r.status_active, "nonactive": r.nonactive})),
                Format::Csv => println!("{prefix}{},\"{}\",{},{},{},{}", r.code, name(&r.code).replace('"', "\"\""), r.registered, r.paid_active, r.status_active, r.nonactive),
                Format::Table => println!("{}{:<14} {:<34} {:>11} {:>11} {:>13} {:>11}", if series { format!("{m}  ") } else { String::new() }, r.code, name(&r.code), r.registered, r.paid_active, r.status_active, r.nonactive),
            }
        }
    }
    if matches!(format, Format::Json) {
        println!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct QuoteArgs {
    #[arg(long)]
    segment: String,
    /// BPU: a bracket base; PU: the monthly wage. Whole rupiah.
    #[arg(long)]
    income_base: String,
    /// Joined with '+', e.g. JKK+JKM.
    #[arg(long)]
    programs: String,
    /// YYYY-MM.
    #[arg(long)]
    month: String,
    /// Occupation code (rules/occupations.toml): decides the PP 50/2025 sector.
    #[arg(long)]
    occupation: String,
    /// PU: the employer's JKK risk class 1–5.
    #[arg(long)]
    risk_class: Option<u8>,
    /// JKK/JKM paid from APBN/APBD (no PP 50/2025 discount).
    #[arg(long)]
    budget_funded: bool,
    #[arg(long)]
    json: bool,
}

pub fn quote_cmd(reference: &Reference, a: QuoteArgs) -> Result<()> {
    let rules = &reference.rules;
    let segment = Segment::parse(&a.segment)
        .with_context(|| format!("--segment must be one of {}", Segment::expected()))?;
    let income_base =
        Rupiah::parse(&a.income_base).context("--income-base must be a whole number of rupiah")?;
    let programmes =
        ProgrammeSet::parse(&a.programs).map_err(|m| anyhow::anyhow!("--programs: {m}"))?;
    let month = Month::parse(&a.month).map_err(|e| anyhow::anyhow!("--month: {e}"))?;
    let occ = rules.occupation(&a.occupation).with_context(|| {
        format!(
            "--occupation '{}' is not in the occupation list (rules/occupations.toml)",
            a.occupation
        )
    })?;
    let req = QuoteRequest {
        segment,
        income_base,
        programmes,
        month,
        sector: occ.sector,
        budget_funded: a.budget_funded,
        risk_class: a.risk_class,
    };
    let q = quote(rules, &req).map_err(|e| anyhow::anyhow!("{e}"))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&q)?);
        return Ok(());
    }
    println!(
        "{segment} {month}, income base {income_base}, {programmes}; occupation {} {} ({})",
        occ.code,
        occ.name_id,
        occ.sector.as_str()
    );
    println!(
        "{:<4} {:<9} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "prog", "payer", "basis", "nominal", "discount", "deferred", "due"
    );
    for l in &q.lines {
        println!(
            "{:<4} {:<9} {:>12} {:>12} {:>12} {:>12} {:>12}",
            l.programme.as_str(),
            l.payer.as_str(),
            l.basis.to_string(),
            l.nominal.to_string(),
            l.discount.to_string(),
            l.deferred.to_string(),
            l.due.to_string()
        );
    }
    println!("Total due per month: {}", q.total_due);
    if segment == Segment::Pu {
        println!("  employer {}, worker {}", q.employer_due, q.worker_due);
    }
    for al in &q.allocations {
        println!("  internal: {} {}", al.label, al.amount);
    }
    let mut seen = std::collections::HashSet::new();
    let sources: Vec<&String> = q
        .lines
        .iter()
        .flat_map(|l| l.sources.iter())
        .filter(|s| seen.insert(*s))
        .collect();
    println!("Rules applied:");
    for s in sources {
        println!("  - {s}");
    }
    for n in &q.notes {
        println!("Note: {n}");
    }
    Ok(())
}
