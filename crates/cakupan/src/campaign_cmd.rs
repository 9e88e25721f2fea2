//! `cakupan campaign …`: the village campaign from the command line (issue #8). For now the
//! planner: the next wave's villages proposed over the whole region tree, from the counters,
//! the Perisai agents and the published labour-force figures.

use crate::Reference;
use anyhow::{Context as _, Result, anyhow};
use cakupan_domain::campaign::{Candidate, Capacity, Plan, plan_wave};
use cakupan_domain::perisai::{AgentStatus, status_series};
use cakupan_domain::{Level, Month, RegionCode, bps};
use cakupan_store::Store;
use cakupan_store::agents::AgentFilter;
use clap::Subcommand;
use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Propose the villages of the next wave, ranked by potential within each district's
    /// capacity, and say why each was chosen.
    Plan {
        /// The month whose peserta aktif count (default: this month).
        #[arg(long)]
        month: Option<String>,
        /// Weeks in the wave.
        #[arg(long, default_value_t = 4)]
        weeks: u32,
        /// Sessions a district can host a week.
        #[arg(long, default_value_t = 2)]
        sessions_per_district_week: u32,
        /// Sessions one agent can run a week.
        #[arg(long, default_value_t = 1)]
        sessions_per_agent_week: u32,
        /// Villages to print (all go to --csv).
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Write every chosen village with the figures behind it.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
}

/// What a plan over the whole tree took, for `cakupan bench plan`.
pub struct Timed {
    pub plan: Plan,
    pub villages: usize,
    pub read_ms: f64,
    pub plan_ms: f64,
    pub basis: String,
}

/// The candidates (every village) and the capacity of each district, then the plan. Workers
/// per village: the province's employed persons (BPS Sakernas August 2023) shared equally
/// among its villages, since no village-level labour figure exists; informal share: the
/// province's latest published Sakernas share, else the national one; awareness: none measured
/// yet (the rules' prior). Agents: those active in `month`, counted once in each district they
/// serve a village of.
pub async fn plan_all(
    store: Arc<dyn Store>,
    reference: &Reference,
    month: Month,
    capacity: (u32, u32, u32),
) -> Result<Timed> {
    let started = Instant::now();
    let rule = reference
        .rules
        .campaign_planner(month)
        .with_context(|| format!("no campaign_planner rule in force in {month}"))?;
    let active: HashMap<String, i64> = store
        .active_report(Level::Village, RegionCode::NATION, None, month)
        .await?
        .into_iter()
        .map(|r| (r.code, r.status_active))
        .collect();
    let mut agents: HashMap<RegionCode, u32> = HashMap::new();
    for r in store
        .agent_records(AgentFilter::Within(RegionCode::NATION))
        .await?
    {
        let now = status_series(
            &reference.rules,
            r.agent.appointed,
            &r.active_months(),
            &r.events,
            month,
        );
        if now.last().map(|s| s.status) != Some(AgentStatus::Active) {
            continue;
        }
        let districts: HashSet<RegionCode> = r
            .agent
            .villages
            .iter()
            .map(|v| v.truncate(Level::District))
            .collect();
        for d in districts {
            *agents.entry(d).or_default() += 1;
        }
    }
    // Provinces without a published figure share the rest of the national count in
    // proportion to their villages.
    let mut employed = bps::employed_by_province();
    let national = bps::national_employed(bps::EMPLOYED_PERIOD)
        .with_context(|| format!("no national employed figure for {}", bps::EMPLOYED_PERIOD))?;
    let informal = bps::informal_share_by_province();
    let (national_informal, national_period) =
        bps::national_informal_share().context("no national informal share in data/bps")?;
    let mut villages_in: HashMap<u8, u64> = HashMap::new();
    for v in reference.regions.villages() {
        *villages_in.entry(v.code.province_number()).or_default() += 1;
    }
    let published: f64 = employed.values().sum();
    let unpublished: Vec<(u8, u64)> = villages_in
        .iter()
        .filter(|(p, _)| !employed.contains_key(p))
        .map(|(p, n)| (*p, *n))
        .collect();
    let their_villages: u64 = unpublished.iter().map(|(_, n)| n).sum();
    for (p, n) in &unpublished {
        employed.insert(
            *p,
            (national - published).max(0.0) * *n as f64 / their_villages.max(1) as f64,
        );
    }
    let candidates: Vec<Candidate> = reference
        .regions
        .villages()
        .map(|v| {
            let p = v.code.province_number();
            let workers = employed.get(&p).copied().unwrap_or(0.0)
                / villages_in.get(&p).copied().unwrap_or(1).max(1) as f64;
            Candidate {
                village: v.code,
                workers,
                active: u64::try_from(active.get(&v.code.to_string()).copied().unwrap_or(0))
                    .unwrap_or(0),
                informal_share: informal.get(&p).map_or(national_informal, |(s, _)| *s),
                awareness: None,
                reached: false,
            }
        })
        .collect();
    let read_ms = started.elapsed().as_secs_f64() * 1e3;
    let (weeks, per_district, per_agent) = capacity;
    let t = Instant::now();
    let plan = plan_wave(
        rule,
        &candidates,
        &Capacity {
            weeks,
            sessions_per_district_week: per_district,
            sessions_per_agent_week: per_agent,
            agents,
        },
    )
    .map_err(|e| anyhow!("{}: {} [{}]", e.field, e.message, e.rule))?;
    let plan_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(Timed {
        plan,
        villages: candidates.len(),
        read_ms,
        plan_ms,
        basis: format!(
            "workers: {} shared equally among each province's villages (no village figure exists; the {} provinces without a published figure share the rest of the national {:.1} million by their villages); informal share: the province's latest Sakernas figure, else the national {:.1}% ({national_period}); awareness: no survey yet, the rules' prior",
            bps::EMPLOYED_SOURCE,
            unpublished.len(),
            national / 1e6,
            100.0 * national_informal
        ),
    })
}

pub async fn run(store: Arc<dyn Store>, reference: &Reference, cmd: CampaignCommand) -> Result<()> {
    match cmd {
        CampaignCommand::Plan {
            month,
            weeks,
            sessions_per_district_week,
            sessions_per_agent_week,
            top,
            csv,
        } => {
            let month = match month {
                None => Month::of(cakupan_server::today_wib()),
                Some(m) => Month::parse(m.trim()).map_err(|e| anyhow!("--month: {e}"))?,
            };
            let t = plan_all(
                store,
                reference,
                month,
                (weeks, sessions_per_district_week, sessions_per_agent_week),
            )
            .await?;
            let p = &t.plan;
            println!(
                "{} villages: {} proposed over {weeks} weeks; {} left for lack of sessions in their district, {} in districts without an active agent, {} with under the rules' minimum of uncovered workers, {} already reached.",
                t.villages,
                p.chosen.len(),
                p.over_capacity,
                p.no_agent,
                p.too_small,
                p.already_reached
            );
            println!("Basis: {}.", t.basis);
            println!("Read {:.0} ms, planned {:.0} ms.", t.read_ms, t.plan_ms);
            let mut ranked: Vec<_> = p.chosen.iter().collect();
            ranked.sort_by_key(|c| c.rank);
            for c in ranked.iter().take(top) {
                let name = reference
                    .regions
                    .get(c.village)
                    .map(|r| r.name.as_str())
                    .unwrap_or("");
                println!(
                    "#{:<6} week {} {} {:<24} potential {:>8.0}: {:.0} workers − {} active = {:.0} uncovered, {:.0}% informal, awareness {:.0}% ({}); district {} session {} of {}",
                    c.rank,
                    c.week,
                    c.village,
                    name,
                    c.potential,
                    c.workers,
                    c.active,
                    c.uncovered,
                    100.0 * c.informal_share,
                    100.0 * c.awareness,
                    if c.awareness_measured {
                        "surveyed"
                    } else {
                        "assumed"
                    },
                    c.district,
                    c.district_slot,
                    c.district_slots
                );
            }
            if let Some(path) = csv {
                let mut f = std::io::BufWriter::new(
                    std::fs::File::create(&path)
                        .with_context(|| format!("--csv {}", path.display()))?,
                );
                writeln!(
                    f,
                    "rank,week,village,name,district,potential,workers,active,uncovered,informal_share,awareness,awareness_measured,district_slot,district_slots"
                )?;
                for c in &p.chosen {
                    let name = reference
                        .regions
                        .get(c.village)
                        .map(|r| r.name.replace(['"', ','], " "))
                        .unwrap_or_default();
                    writeln!(
                        f,
                        "{},{},{},{},{},{:.1},{:.1},{},{:.1},{:.4},{:.4},{},{},{}",
                        c.rank,
                        c.week,
                        c.village,
                        name,
                        c.district,
                        c.potential,
                        c.workers,
                        c.active,
                        c.uncovered,
                        c.informal_share,
                        c.awareness,
                        c.awareness_measured,
                        c.district_slot,
                        c.district_slots
                    )?;
                }
                f.flush()?;
                println!("{} villages written to {}.", p.chosen.len(), path.display());
            }
        }
    }
    Ok(())
}
