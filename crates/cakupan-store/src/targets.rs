//! Coverage targets over the store: the defaults carried in `rules/targets.toml`, allocation of
//! a region's target to the regions one level below, and where a region stands against its
//! target (issue #3, DOMAIN.md §4).

use crate::{Result, Store, StoreError, TargetRecord};
use cakupan_domain::coverage::Metric;
use cakupan_domain::target::{Progress, allocate, progress};
use cakupan_domain::{FieldError, Level, Month, RegionCode, RegionTree, RuleSet, Segment};
use serde::Serialize;

fn rejected(field: &str, rule: &'static str, message: String) -> StoreError {
    StoreError::Rejected(FieldError::new(field, rule, message).into())
}

/// The targets the rules carry, as records (seeded into a store that lacks them).
pub fn from_rules(rules: &RuleSet) -> Result<Vec<TargetRecord>> {
    let mut out = Vec::new();
    for t in &rules.targets {
        let month = |v: &str, field: &str| {
            Month::parse(v).map_err(|e| rejected(field, "month.format", format!("{v}: {e}")))
        };
        let metric = Metric::parse(&t.metric).ok_or_else(|| {
            rejected(
                "metric",
                "metric.unknown",
                format!("unknown metric {}", t.metric),
            )
        })?;
        let segment = if t.segment.is_empty() {
            None
        } else {
            Some(
                Segment::parse(&t.segment)
                    .ok_or_else(|| rejected("segment", "segment.unknown", t.segment.clone()))?,
            )
        };
        let region = if t.region.is_empty() {
            RegionCode::NATION
        } else {
            RegionCode::parse(&t.region)
                .map_err(|e| rejected("region", "region.format", e.to_string()))?
        };
        out.push(TargetRecord {
            metric,
            segment,
            region,
            month: month(&t.month, "month")?,
            value: t.value,
            baseline: Some((
                month(&t.baseline_month, "baseline_month")?,
                t.baseline_value,
            )),
            basis: "stated".into(),
            source: t.provenance.source.clone(),
        });
    }
    Ok(out)
}

/// What to share a target out by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weight {
    /// Employed persons (BPS Sakernas), for provinces; where a province has no published
    /// figure it shares the rest of the national count by registered participants.
    Employed,
    /// Registered participants (all segments) in the month the allocation is made.
    Registered,
}

impl Weight {
    pub fn parse(s: &str) -> Option<Weight> {
        match s.trim() {
            "employed" => Some(Weight::Employed),
            "registered" => Some(Weight::Registered),
            _ => None,
        }
    }
}

/// Registered participants (all segments, each NIK once) per region of `level` inside
/// `within`, in `month`.
async fn registered(
    store: &dyn Store,
    level: Level,
    within: RegionCode,
    month: Month,
) -> Result<std::collections::HashMap<String, i64>> {
    Ok(store
        .active_report(level, within, None, month)
        .await?
        .into_iter()
        .map(|r| (r.code, r.registered))
        .collect())
}

/// A region's name, "Indonesia" for the nation.
pub fn name_of(regions: &RegionTree, code: RegionCode) -> String {
    if code == RegionCode::NATION {
        "Indonesia".into()
    } else {
        regions
            .get(code)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| code.to_string())
    }
}

/// The weights of the regions one level below `parent`, and the words that say what they are.
pub async fn weights(
    store: &dyn Store,
    regions: &RegionTree,
    parent: RegionCode,
    weight: Weight,
    as_of: Month,
) -> Result<(Vec<(RegionCode, f64)>, String)> {
    let children: Vec<RegionCode> = regions.children(parent).iter().map(|r| r.code).collect();
    if children.is_empty() {
        return Err(rejected(
            "region",
            "region.no_children",
            format!("{parent} has no regions below it to allocate to"),
        ));
    }
    let level = children[0].level();
    let reg = registered(store, level, parent, as_of).await?;
    let reg_of = |c: RegionCode| reg.get(&c.to_string()).copied().unwrap_or(0) as f64;
    match weight {
        Weight::Registered => {
            let total: f64 = children.iter().map(|c| reg_of(*c)).sum();
            let words = if total > 0.0 {
                format!("registered participants in {as_of}")
            } else {
                format!("evenly (no registered participants in {as_of})")
            };
            Ok((children.iter().map(|c| (*c, reg_of(*c))).collect(), words))
        }
        Weight::Employed => {
            if parent != RegionCode::NATION {
                return Err(rejected(
                    "weight",
                    "weight.employed_by_province_only",
                    "employed-person figures are carried by province only: allocate below a province by registered participants".into(),
                ));
            }
            let employed = cakupan_domain::bps::employed_by_province();
            let national =
                cakupan_domain::bps::national_employed(cakupan_domain::bps::EMPLOYED_PERIOD)
                    .unwrap_or_else(|| employed.values().sum());
            let known: f64 = children
                .iter()
                .filter_map(|c| employed.get(&c.province_number()))
                .sum();
            let unknown: Vec<RegionCode> = children
                .iter()
                .copied()
                .filter(|c| !employed.contains_key(&c.province_number()))
                .collect();
            let rest = (national - known).max(0.0);
            let unknown_reg: f64 = unknown.iter().map(|c| reg_of(*c)).sum();
            let out = children
                .iter()
                .map(|c| {
                    let w = match employed.get(&c.province_number()) {
                        Some(e) => *e,
                        None if unknown_reg > 0.0 => rest * reg_of(*c) / unknown_reg,
                        None => rest / unknown.len().max(1) as f64,
                    };
                    (*c, w)
                })
                .collect();
            let words = if unknown.is_empty() {
                cakupan_domain::bps::EMPLOYED_SOURCE.to_string()
            } else {
                format!(
                    "{} for {} provinces; the other {} share the rest of the national count ({:.2} million) by {}",
                    cakupan_domain::bps::EMPLOYED_SOURCE,
                    children.len() - unknown.len(),
                    unknown.len(),
                    rest / 1e6,
                    if unknown_reg > 0.0 {
                        format!("registered participants in {as_of}")
                    } else {
                        "equal parts (no registered participants yet)".into()
                    }
                )
            };
            Ok((out, words))
        }
    }
}

/// The targets of the regions one level below `parent`'s region, allocated from it.
pub async fn allocate_children(
    store: &dyn Store,
    regions: &RegionTree,
    parent: &TargetRecord,
    weight: Weight,
    as_of: Month,
) -> Result<Vec<TargetRecord>> {
    let (w, words) = weights(store, regions, parent.region, weight, as_of).await?;
    let basis = format!(
        "allocated from {} {} ({}) by {words}",
        name_of(regions, parent.region),
        parent.value,
        if parent.region == RegionCode::NATION {
            "the nation".to_string()
        } else {
            parent.region.to_string()
        }
    );
    let values = allocate(parent.value, &w);
    let baselines = match parent.baseline {
        Some((m, v)) => allocate(v, &w)
            .into_iter()
            .map(|(_, b)| Some((m, b)))
            .collect(),
        None => vec![None; values.len()],
    };
    Ok(values
        .into_iter()
        .zip(baselines)
        .map(|((region, value), baseline)| TargetRecord {
            metric: parent.metric,
            segment: parent.segment,
            region,
            month: parent.month,
            value,
            baseline,
            basis: basis.clone(),
            source: parent.source.clone(),
        })
        .collect())
}

/// Where a region stands against its target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub region: String,
    pub name: String,
    pub metric: Metric,
    pub segment: Option<Segment>,
    /// The target: the stored one for this region, or allocated now from the nearest stored
    /// ancestor (then `stored` is false and `basis` says how).
    pub target: TargetRecord,
    pub stored: bool,
    pub progress: Progress,
    /// The actual value in each of the months the run-rate is measured over.
    pub history: Vec<(Month, i64)>,
}

/// The target report of `region` for the all-segment `status_active` (peserta aktif) target
/// that falls due first on or after `now` (else the last one), with the run-rate measured over
/// the `window` months up to `now`.
pub async fn report(
    store: &dyn Store,
    regions: &RegionTree,
    region: RegionCode,
    now: Month,
    window: i32,
) -> Result<TargetReport> {
    if region != RegionCode::NATION && !regions.contains_code(region) {
        return Err(rejected(
            "region",
            "region.unknown",
            format!("{region} is not in the Kemendagri region list"),
        ));
    }
    let all = store.targets().await?;
    let pick = |code: RegionCode| -> Option<TargetRecord> {
        let mut mine: Vec<&TargetRecord> = all
            .iter()
            .filter(|t| t.region == code && t.metric == Metric::StatusActive && t.segment.is_none())
            .collect();
        mine.sort_by_key(|t| t.month);
        mine.iter()
            .find(|t| t.month >= now)
            .or(mine.last())
            .map(|t| (*t).clone())
    };
    // The nearest region on the path up (the region itself first) with a stored target.
    let path: Vec<RegionCode> = std::iter::once(RegionCode::NATION)
        .chain(region.path())
        .collect();
    let mut found = None;
    for (i, code) in path.iter().enumerate().rev() {
        if let Some(t) = pick(*code) {
            found = Some((i, t));
            break;
        }
    }
    let Some((from, mut target)) = found else {
        return Err(rejected(
            "region",
            "target.none",
            "no status_active target is stored for this region or any region above it (`cakupan target set`)".into(),
        ));
    };
    let stored = from == path.len() - 1;
    // Allocate down the path: employed persons to provinces, registered participants below.
    for code in &path[from + 1..] {
        let weight = if target.region == RegionCode::NATION {
            Weight::Employed
        } else {
            Weight::Registered
        };
        let children = allocate_children(store, regions, &target, weight, now).await?;
        target = children
            .into_iter()
            .find(|t| t.region == *code)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("{code} missing from its parent's children"))
            })?;
    }
    let figures = crate::ledger::RegionHistory::new(store.region_history(region, now).await?);
    let history: Vec<(Month, i64)> = figures
        .months(None, now.plus(-window.max(1)), now)
        .iter()
        .map(|f| (f.month, f.status_active()))
        .collect();
    let progress = progress(&history, target.month, target.value)
        .ok_or_else(|| StoreError::Corrupt("empty history".into()))?;
    Ok(TargetReport {
        region: region.to_string(),
        name: name_of(regions, region),
        metric: Metric::StatusActive,
        segment: None,
        target,
        stored,
        progress,
        history,
    })
}
