//! Coverage targets over the store: the defaults carried in `rules/targets.toml` (net of the
//! segments Cakupan does not hold), allocation of a region's target down the tree as an explicit
//! act that stores rows, and where a region stands against its stored target (issues #3, #16).

use crate::{Result, Store, StoreError, TargetRecord};
use cakupan_domain::coverage::Metric;
use cakupan_domain::targets::{Progress, allocate, allocate_with_floor, progress};
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
        let target_month = month(&t.month, "month")?;
        // A national all-segment target counts segments Cakupan does not hold (Jakon, PMI):
        // it is stored net of them, as the rules state them.
        let excluded: Vec<&cakupan_domain::rules::TargetExclusion> =
            if region == RegionCode::NATION && segment.is_none() {
                rules.target_exclusions(target_month)
            } else {
                Vec::new()
            };
        let less: i64 = excluded.iter().map(|e| e.value).sum();
        if less >= t.value {
            return Err(rejected(
                "value",
                "target.net_negative",
                format!(
                    "the target of {} less the segments Cakupan does not hold ({less}) leaves nothing",
                    t.value
                ),
            ));
        }
        out.push(TargetRecord {
            metric,
            segment,
            region,
            month: target_month,
            value: t.value - less,
            baseline: Some((
                month(&t.baseline_month, "baseline_month")?,
                (t.baseline_value - less).max(0),
            )),
            basis: Basis::Stated.as_str().into(),
            source: source_net_of(rules, t.provenance.source.as_str(), &excluded),
        });
    }
    Ok(out)
}

/// A stated target's source, with what was taken off it and why.
fn source_net_of(
    _rules: &RuleSet,
    source: &str,
    excluded: &[&cakupan_domain::rules::TargetExclusion],
) -> String {
    if excluded.is_empty() {
        return source.to_string();
    }
    let parts: Vec<String> = excluded
        .iter()
        .map(|e| {
            format!(
                "{} {} ({}: {})",
                e.segment, e.value, e.as_of, e.provenance.source
            )
        })
        .collect();
    format!(
        "{source}; net of the participants Cakupan does not hold, taken off the target and its baseline alike: {}",
        parts.join("; ")
    )
}

/// How a target's value was set, stored in the targets' `basis` column (pages say it in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Set by a decision (`rules/targets.toml`, `cakupan target set`).
    Stated,
    /// A province's share of its parent by employed persons (BPS Sakernas).
    Employed,
    /// A share by residents (Kemendagri): regencies, and provinces without a Sakernas figure
    /// (their share of the national employed count left over, by population).
    Population,
    /// A share by the number of villages (no district or village population is published):
    /// each village an equal part of its district's target.
    Villages,
    /// Raised to the region's own peserta aktif at allocation: its share was below it.
    Actual,
    /// The demo's: a stated target divided by the simulation's scale (its simulated registry
    /// against the published one), so that a small simulated population tells the same story.
    Scaled,
}

impl Basis {
    pub const ALL: [Basis; 6] = [
        Basis::Stated,
        Basis::Employed,
        Basis::Population,
        Basis::Villages,
        Basis::Actual,
        Basis::Scaled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Stated => "stated",
            Basis::Employed => "employed",
            Basis::Population => "population",
            Basis::Villages => "villages",
            Basis::Actual => "actual",
            Basis::Scaled => "scaled",
        }
    }

    /// The basis a stored row names (targets stored before bases were codes read as stated).
    pub fn of(text: &str) -> Basis {
        Basis::ALL
            .into_iter()
            .find(|b| b.as_str() == text.trim())
            .unwrap_or(Basis::Stated)
    }

    /// In words, for the command line and the API.
    pub fn describe(self) -> &'static str {
        match self {
            Basis::Stated => "stated by a decision",
            Basis::Employed => {
                "share of the parent's target by employed persons (BPS Sakernas August 2023)"
            }
            Basis::Population => {
                "share by residents (Kemendagri 2025); population stands in for employed persons"
            }
            Basis::Villages => {
                "equal share per village (no district or village population is published)"
            }
            Basis::Actual => {
                "raised to the region's peserta aktif at allocation (its share was below it)"
            }
            Basis::Scaled => {
                "demo: the stated target divided by the simulation's scale (published registry over simulated)"
            }
        }
    }
}

/// The demo's national targets: each stated all-segment `status_active` target of the nation
/// divided by `scale` (its baseline too), stored over the stated ones. Returns how many.
pub async fn scale_national_targets(store: &dyn Store, scale: i64) -> Result<usize> {
    let scale = scale.max(1);
    let scaled: Vec<TargetRecord> = store
        .targets_within(RegionCode::NATION, Level::Nation)
        .await?
        .into_iter()
        .filter(|t| {
            t.metric == Metric::StatusActive
                && t.segment.is_none()
                && Basis::of(&t.basis) == Basis::Stated
        })
        .map(|t| TargetRecord {
            value: t.value / scale,
            baseline: t.baseline.map(|(m, v)| (m, v / scale)),
            basis: Basis::Scaled.as_str().into(),
            source: format!("demo, scale 1:{scale}: {}", t.source),
            ..t
        })
        .collect();
    store.set_targets(&scaled, true).await?;
    Ok(scaled.len())
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

/// The weights of the regions one level below `parent`, each with its basis: provinces by
/// employed persons where BPS publishes a figure (a pre-split figure shared among the
/// present-day provinces it covers by population), the others by population share of the rest
/// of the national count; regencies by population; districts by their number of villages;
/// villages equally. None of them moves when someone registers.
pub fn weights(regions: &RegionTree, parent: RegionCode) -> Result<Vec<(RegionCode, f64, Basis)>> {
    let children: Vec<&cakupan_domain::region::Region> = regions.children(parent);
    let Some(first) = children.first() else {
        return Err(rejected(
            "region",
            "region.no_children",
            format!("{parent} has no regions below it to allocate to"),
        ));
    };
    let population = cakupan_domain::bps::population();
    let pop = |c: RegionCode| population.get(&c).copied().unwrap_or(0) as f64;
    Ok(match first.code.level() {
        Level::Province => {
            let mut employed = cakupan_domain::bps::employed_by_province();
            // A figure published for an area since split (Papua before 2022) is shared among
            // the present-day provinces it covers by population, never counted whole for one.
            let mut split: std::collections::HashMap<u8, f64> = std::collections::HashMap::new();
            for (code, members) in cakupan_domain::bps::employed_pre_split() {
                let Some(figure) = employed.remove(&code) else {
                    continue;
                };
                let of = |p: u8| {
                    children
                        .iter()
                        .find(|c| c.code.province_number() == p)
                        .map(|c| pop(c.code))
                        .unwrap_or(0.0)
                };
                let total: f64 = members.iter().map(|p| of(*p)).sum();
                for p in &members {
                    if total > 0.0 {
                        split.insert(*p, figure * of(*p) / total);
                    }
                }
            }
            let national =
                cakupan_domain::bps::national_employed(cakupan_domain::bps::EMPLOYED_PERIOD)
                    .unwrap_or_else(|| employed.values().sum());
            let covered = |p: u8| employed.contains_key(&p) || split.contains_key(&p);
            let known: f64 = employed.values().sum::<f64>() + split.values().sum::<f64>();
            let rest = (national - known).max(0.0);
            let unknown_pop: f64 = children
                .iter()
                .filter(|c| !covered(c.code.province_number()))
                .map(|c| pop(c.code))
                .sum();
            children
                .iter()
                .map(|c| {
                    match (
                        employed.get(&c.code.province_number()),
                        split.get(&c.code.province_number()),
                    ) {
                        (Some(e), _) => (c.code, *e, Basis::Employed),
                        (None, Some(e)) => (c.code, *e, Basis::Population),
                        (None, None) if unknown_pop > 0.0 => {
                            (c.code, rest * pop(c.code) / unknown_pop, Basis::Population)
                        }
                        (None, None) => (c.code, 0.0, Basis::Population),
                    }
                })
                .collect()
        }
        Level::Regency => children
            .iter()
            .map(|c| (c.code, pop(c.code), Basis::Population))
            .collect(),
        _ => children
            .iter()
            .map(|c| {
                let villages = if c.code.level() == Level::Village {
                    1
                } else {
                    regions.children(c.code).len()
                };
                (c.code, villages as f64, Basis::Villages)
            })
            .collect(),
    })
}

/// What an allocation wrote: the targets, and the regions whose parts' peserta aktif alone
/// exceeded their target (their parts keep their actuals; the sum is above the parent's).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Allocation {
    pub targets: Vec<TargetRecord>,
    pub raised_to_actual: usize,
    pub overflowing_parents: Vec<RegionCode>,
}

/// Shares `parent` out down the region tree to `down_to` (every level in between), each level
/// by its basis ([`weights`]), no region below its own peserta aktif (`status_active`, all
/// segments) in `as_of` (`target::allocate_with_floor`); the baseline is shared by the same
/// weights. Nothing is stored: the caller stores the rows (one transaction) and audits it.
pub async fn allocate_down(
    store: &dyn Store,
    regions: &RegionTree,
    parent: &TargetRecord,
    down_to: Level,
    as_of: Month,
) -> Result<Allocation> {
    if parent.metric != Metric::StatusActive || parent.segment.is_some() {
        return Err(rejected(
            "metric",
            "target.allocate_status_active",
            "only the all-segment status_active (peserta aktif) target is shared down the tree"
                .into(),
        ));
    }
    if down_to.depth() <= parent.region.level().depth() {
        return Err(rejected(
            "down_to",
            "level.below",
            format!(
                "allocate down to a level below the region's own ({})",
                parent.region.level().as_str()
            ),
        ));
    }
    let mut out = Allocation::default();
    let mut frontier = vec![parent.clone()];
    for depth in parent.region.level().depth() + 1..=down_to.depth() {
        let Some(level) = Level::from_depth(depth) else {
            break;
        };
        let actual: std::collections::HashMap<String, i64> = store
            .active_report(level, parent.region, None, as_of)
            .await?
            .into_iter()
            .map(|r| (r.code, r.status_active))
            .collect();
        let mut next = Vec::new();
        for t in &frontier {
            let w = weights(regions, t.region)?;
            let items: Vec<(RegionCode, f64, i64)> = w
                .iter()
                .map(|(c, x, _)| (*c, *x, actual.get(&c.to_string()).copied().unwrap_or(0)))
                .collect();
            let parts = allocate_with_floor(t.value, &items);
            if parts.iter().map(|p| p.1).sum::<i64>() > t.value {
                out.overflowing_parents.push(t.region);
            }
            let plain: Vec<(RegionCode, f64)> = w.iter().map(|(c, x, _)| (*c, *x)).collect();
            let baselines: Vec<Option<(Month, i64)>> = match t.baseline {
                Some((m, v)) => allocate(v, &plain)
                    .into_iter()
                    .map(|(_, b)| Some((m, b)))
                    .collect(),
                None => vec![None; parts.len()],
            };
            for (((region, value, floored), (_, _, basis)), baseline) in
                parts.into_iter().zip(&w).zip(baselines)
            {
                out.raised_to_actual += usize::from(floored);
                next.push(TargetRecord {
                    metric: t.metric,
                    segment: t.segment,
                    region,
                    month: t.month,
                    value,
                    baseline,
                    basis: if floored { Basis::Actual } else { *basis }.as_str().into(),
                    source: t.source.clone(),
                });
            }
        }
        out.targets.extend(next.iter().cloned());
        frontier = next;
    }
    Ok(out)
}

/// The allocation the command line and the admin page make: `region`'s stored peserta aktif
/// target (the one of `wanted` month, else the first due from `now`, else the last) shared
/// down to `down_to` with the figures of `now`. The caller audits the act and stores the rows.
pub async fn allocation_for(
    store: &dyn Store,
    regions: &RegionTree,
    region: RegionCode,
    wanted: Option<Month>,
    down_to: Level,
    now: Month,
) -> Result<(TargetRecord, Allocation)> {
    let mut mine: Vec<TargetRecord> = store
        .targets_within(region, region.level())
        .await?
        .into_iter()
        .filter(|t| {
            t.metric == Metric::StatusActive
                && t.segment.is_none()
                && wanted.is_none_or(|m| t.month == m)
        })
        .collect();
    mine.sort_by_key(|t| t.month);
    let parent = mine
        .iter()
        .find(|t| wanted.is_some() || t.month >= now)
        .or(mine.last())
        .cloned()
        .ok_or_else(|| {
            rejected(
                "region",
                "target.none",
                format!(
                    "no status_active target is stored for {}: set one (`cakupan target set`) or allocate from the region above",
                    name_of(regions, region)
                ),
            )
        })?;
    let a = allocate_down(store, regions, &parent, down_to, now).await?;
    Ok((parent, a))
}

/// Where a region stands against its target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub region: String,
    pub name: String,
    pub metric: Metric,
    pub segment: Option<Segment>,
    /// The region's stored target (`basis` says how it was set).
    pub target: TargetRecord,
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
    let mut mine: Vec<TargetRecord> = store
        .targets_within(region, region.level())
        .await?
        .into_iter()
        .filter(|t| t.metric == Metric::StatusActive && t.segment.is_none())
        .collect();
    mine.sort_by_key(|t| t.month);
    let Some(target) = mine
        .iter()
        .find(|t| t.month >= now)
        .or(mine.last())
        .cloned()
    else {
        return Err(rejected(
            "region",
            "target.none",
            format!(
                "no status_active target is stored for {}: allocate one from the region above (`cakupan target allocate`) or set one (`cakupan target set`)",
                name_of(regions, region)
            ),
        ));
    };
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
        progress,
        history,
    })
}

/// Coverage targets.
#[async_trait::async_trait]
pub trait TargetStore: crate::Keyed {
    /// Stores coverage targets in one transaction, each checked first (nothing is stored if
    /// one fails). With `replace` a stored target of the same metric, segment, region and
    /// month is overwritten (an edit); without, it is kept (seeding defaults). Returns the
    /// number of rows written.
    async fn set_targets(&self, targets: &[TargetRecord], replace: bool) -> Result<u64>;

    /// Every stored target, ordered by metric, segment, region and month.
    async fn targets(&self) -> Result<Vec<TargetRecord>>;

    /// The stored targets of the regions of `level` inside `within` (`within` itself when it is
    /// of that level), in the same order: one indexed range, whatever the number stored.
    async fn targets_within(&self, within: RegionCode, level: Level) -> Result<Vec<TargetRecord>>;
}
