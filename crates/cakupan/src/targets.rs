//! `cakupan target …` and `cakupan report target`: coverage targets as records.

use crate::Reference;
use anyhow::{Result, anyhow};
use cakupan_domain::coverage::Metric;
use cakupan_domain::{Month, RegionCode, Segment};
use cakupan_store::targets::{Basis, allocation_for, report};
use cakupan_store::{Store, StoreError, TargetRecord};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// List the stored targets of a region and of the regions one level below it.
    List {
        /// The region (default: the nation, with the provinces).
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Store a target for a region (a retry or an edit overwrites the same metric, segment,
    /// region and month).
    Set {
        /// registered, paid_active, status_active or nonactive.
        #[arg(long, default_value = "status_active")]
        metric: String,
        /// PU or BPU (default: all segments, each NIK once).
        #[arg(long)]
        segment: Option<String>,
        /// A region code (default: the nation).
        #[arg(long)]
        region: Option<String>,
        /// YYYY-MM: the month the value is to be reached.
        #[arg(long)]
        month: String,
        /// Persons (checked: not negative).
        #[arg(long, allow_negative_numbers = true)]
        value: i64,
        /// YYYY-MM: the month the target starts from (with --baseline-value).
        #[arg(long)]
        baseline_month: Option<String>,
        #[arg(long)]
        baseline_value: Option<i64>,
        /// Where the target comes from (a decision, a plan, a letter).
        #[arg(long)]
        source: String,
    },
    /// Share a region's stored peserta aktif target out down the region tree and store every
    /// region's (audited): provinces by employed persons (BPS) where published, else by
    /// population; regencies by population; districts and villages by their number of villages;
    /// none below its own peserta aktif this month. Reports read what this stores.
    Allocate {
        /// The region whose target is shared out (default: the nation).
        #[arg(long)]
        region: Option<String>,
        /// YYYY-MM: which of its status_active targets (default: the first due from today).
        #[arg(long)]
        month: Option<String>,
        /// The lowest level to allocate to: province, regency, district or village.
        #[arg(long, default_value = "village")]
        down_to: String,
    },
}

fn region_arg(flag: &str, r: Option<&str>, reference: &Reference) -> Result<RegionCode> {
    match r.map(str::trim) {
        None | Some("") => Ok(RegionCode::NATION),
        Some(s) => {
            let c = RegionCode::parse(s).map_err(|e| anyhow!("{flag}: {e}"))?;
            if !reference.regions.contains_code(c) {
                return Err(anyhow!("{flag}: {c} is not in the Kemendagri region list"));
            }
            Ok(c)
        }
    }
}

fn month_arg(flag: &str, s: &str) -> Result<Month> {
    Month::parse(s).map_err(|e| anyhow!("{flag}: {e}"))
}

fn rejected(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Rejected(errs) => anyhow!(
            "{}",
            errs.0
                .iter()
                .map(|e| format!(
                    "--{}: {} [{}]",
                    e.field.replace('_', "-"),
                    e.message,
                    e.rule
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        e => e.into(),
    }
}

fn print_targets(targets: &[TargetRecord], reference: &Reference) {
    println!(
        "{:<14} {:<7} {:<14} {:<28} {:>8} {:>14} {:>22}  basis",
        "metric", "segment", "region", "name", "month", "value", "baseline"
    );
    for t in targets {
        let name = if t.region == RegionCode::NATION {
            "Indonesia".to_string()
        } else {
            reference
                .regions
                .get(t.region)
                .map(|r| r.name.clone())
                .unwrap_or_default()
        };
        println!(
            "{:<14} {:<7} {:<14} {:<28} {:>8} {:>14} {:>22}  {}",
            t.metric.as_str(),
            t.segment.map(|s| s.as_str()).unwrap_or("all"),
            if t.region == RegionCode::NATION {
                "(nation)".to_string()
            } else {
                t.region.to_string()
            },
            name.chars().take(28).collect::<String>(),
            t.month.to_string(),
            t.value,
            t.baseline
                .map(|(m, v)| format!("{v} in {m}"))
                .unwrap_or_default(),
            Basis::of(&t.basis).as_str()
        );
    }
}

pub async fn run(store: &dyn Store, reference: &Reference, cmd: TargetCommand) -> Result<()> {
    match cmd {
        TargetCommand::List { region, json } => {
            let only = match region.as_deref() {
                None => None,
                Some(r) => Some(region_arg("--region", Some(r), reference)?),
            };
            let code = only.unwrap_or(RegionCode::NATION);
            let mut targets: Vec<TargetRecord> = store.targets_within(code, code.level()).await?;
            if let Some(below) = cakupan_domain::Level::from_depth(code.level().depth() + 1) {
                targets.extend(store.targets_within(code, below).await?);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&targets)?);
            } else {
                print_targets(&targets, reference);
            }
        }
        TargetCommand::Set {
            metric,
            segment,
            region,
            month,
            value,
            baseline_month,
            baseline_value,
            source,
        } => {
            let metric = Metric::parse(&metric).ok_or_else(|| {
                anyhow!("--metric: one of registered, paid_active, status_active, nonactive")
            })?;
            let segment = match segment.as_deref() {
                None | Some("") | Some("all") => None,
                Some(s) => Some(
                    s.parse::<Segment>()
                        .map_err(|e| anyhow!("--segment: {e}"))?,
                ),
            };
            let baseline = match (baseline_month, baseline_value) {
                (Some(m), Some(v)) => Some((month_arg("--baseline-month", &m)?, v)),
                (None, None) => None,
                _ => {
                    return Err(anyhow!("--baseline-month and --baseline-value go together"));
                }
            };
            let t = TargetRecord {
                metric,
                segment,
                region: region_arg("--region", region.as_deref(), reference)?,
                month: month_arg("--month", &month)?,
                value,
                baseline,
                basis: "stated".into(),
                source,
            };
            store
                .set_targets(std::slice::from_ref(&t), true)
                .await
                .map_err(rejected)?;
            println!("Target stored.");
            print_targets(&[t], reference);
        }
        TargetCommand::Allocate {
            region,
            month,
            down_to,
        } => {
            let code = region_arg("--region", region.as_deref(), reference)?;
            let down_to = cakupan_domain::Level::parse(&down_to)
                .filter(|l| l.depth() > code.level().depth())
                .ok_or_else(|| {
                    anyhow!("--down-to: one of province, regency, district, village, below the region's own level [level.below]")
                })?;
            let now = Month::of(cakupan_app::today_wib());
            let wanted = month
                .as_deref()
                .map(|m| month_arg("--month", m))
                .transpose()?;
            let (parent, a) = allocation_for(store, &reference.regions, code, wanted, down_to, now)
                .await
                .map_err(rejected)?;
            crate::store::audit(
                store,
                "target.allocate",
                format!("targets:{}:{}:{}", code, parent.month, down_to.as_str()),
                "administration",
            )
            .await?;
            store
                .set_targets(&a.targets, true)
                .await
                .map_err(rejected)?;
            let below = cakupan_domain::Level::from_depth(code.level().depth() + 1);
            let first: Vec<TargetRecord> = a
                .targets
                .iter()
                .filter(|t| Some(t.region.level()) == below)
                .cloned()
                .collect();
            println!(
                "{} targets stored down to the {} level from {} {} ({} raised to the peserta aktif of {now}); the regions one level below sum to {}.",
                a.targets.len(),
                down_to.as_str(),
                cakupan_store::targets::name_of(&reference.regions, code),
                parent.value,
                a.raised_to_actual,
                first.iter().map(|t| t.value).sum::<i64>(),
            );
            if !a.overflowing_parents.is_empty() {
                println!(
                    "{} regions have parts whose peserta aktif alone exceed their target: those parts keep their actuals.",
                    a.overflowing_parents.len()
                );
            }
            print_targets(&first, reference);
        }
    }
    Ok(())
}

/// `cakupan report target`.
pub async fn report_target(
    store: &dyn Store,
    reference: &Reference,
    region: Option<String>,
    month: Option<String>,
    json: bool,
) -> Result<()> {
    let now = match month {
        Some(m) => month_arg("--month", &m)?,
        None => Month::of(cakupan_app::today_wib()),
    };
    let code = region_arg("--region", region.as_deref(), reference)?;
    let r = report(
        store,
        &reference.regions,
        code,
        now,
        reference.rules.run_rate_months(now),
    )
    .await
    .map_err(rejected)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let p = &r.progress;
    let code_shown = if r.region.is_empty() {
        "(nation)"
    } else {
        r.region.as_str()
    };
    println!(
        "{} {code_shown}: peserta aktif (status_active, all segments) {} in {}",
        r.name, p.actual, p.now
    );
    println!(
        "  target      {} by {} ({})",
        p.target,
        p.target_month,
        Basis::of(&r.target.basis).describe()
    );
    if let Some((m, v)) = r.target.baseline {
        println!("  baseline    {v} in {m}");
    }
    println!("  source      {}", r.target.source);
    println!(
        "  required    {:.0} more per month for {} months",
        p.required_per_month, p.months_left
    );
    println!(
        "  run-rate    {:+.0} per month over the last {} months; projected {:.0} in {}",
        p.run_rate_per_month,
        r.history.len().saturating_sub(1),
        p.projected,
        p.target_month
    );
    match p.met_in {
        Some(m) if p.actual >= p.target => println!("  met         already ({m})"),
        Some(m) => println!("  met         in {m} at the run-rate"),
        None => println!("  met         never at the run-rate"),
    }
    Ok(())
}
