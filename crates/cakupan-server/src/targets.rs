//! The targets' API: the stored targets and a region's progress towards its target.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::ledger::min_cell;
use axum::Json;
use axum::extract::{Query, State};
use cakupan_domain::access::{Action, Resource};
use cakupan_domain::{FieldError, Month, RegionCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetBody {
    /// registered, paid_active, status_active or nonactive.
    pub metric: String,
    /// PU or BPU; absent for all segments (each NIK once).
    pub segment: Option<String>,
    /// Region code; empty for the nation.
    pub region: String,
    pub name: String,
    /// YYYY-MM: the month the value is to be reached.
    pub month: String,
    pub value: i64,
    pub baseline_month: Option<String>,
    pub baseline_value: Option<i64>,
    /// How the value was set: `stated`, or allocated from the region above by `employed`
    /// persons, `population`, number of `villages`, or raised to the region's `actual` peserta
    /// aktif at allocation.
    pub basis: String,
    /// The basis in words.
    pub basis_text: String,
    pub source: String,
}

pub(crate) fn target_body(
    regions: &cakupan_domain::RegionTree,
    t: &cakupan_store::TargetRecord,
) -> TargetBody {
    TargetBody {
        metric: t.metric.as_str().into(),
        segment: t.segment.map(|s| s.as_str().to_string()),
        region: t.region.to_string(),
        name: cakupan_store::targets::name_of(regions, t.region),
        month: t.month.to_string(),
        value: t.value,
        baseline_month: t.baseline.map(|b| b.0.to_string()),
        baseline_value: t.baseline.map(|b| b.1),
        basis: cakupan_store::targets::Basis::of(&t.basis).as_str().into(),
        basis_text: cakupan_store::targets::Basis::of(&t.basis)
            .describe()
            .into(),
        source: t.source.clone(),
    }
}

#[derive(Debug, Deserialize)]
pub struct TargetParams {
    region: Option<String>,
    month: Option<String>,
}

pub(crate) fn region_param(
    regions: &cakupan_domain::RegionTree,
    r: Option<&str>,
) -> Result<Option<RegionCode>, ApiError> {
    let invalid = |rule: &'static str, m: String| {
        ApiError::Invalid(FieldError::new("region", rule, m).into())
    };
    match r.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(r) => {
            let c = RegionCode::parse(r)
                .map_err(|e| invalid("region_code.format", format!("region {e}")))?;
            if !regions.contains_code(c) {
                return Err(invalid(
                    "region.unknown",
                    format!("{c} is not in the Kemendagri region list"),
                ));
            }
            Ok(Some(c))
        }
    }
}

/// The stored coverage targets of a region (default: the caller's area) and of the regions one
/// level below it.
#[utoipa::path(get, path = "/api/v1/targets", params(("region" = Option<String>, Query, example = "32")),
    responses((status = 200, body = [TargetBody]), (status = 422, body = ErrorBody)))]
pub async fn list_targets(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<TargetParams>,
) -> Result<Json<Vec<TargetBody>>, ApiError> {
    let only = region_param(&st.regions, q.region.as_deref())?;
    // Without a region: the targets inside the caller's area.
    let area = only.unwrap_or(caller.who.region);
    caller.allow(Action::ReadAggregates, &Resource::Region(area))?;
    let mut targets = st.store.targets_within(area, area.level()).await?;
    if let Some(below) = cakupan_domain::Level::from_depth(area.level().depth() + 1) {
        targets.extend(st.store.targets_within(area, below).await?);
    }
    Ok(Json(
        targets
            .iter()
            .map(|t| target_body(&st.regions, t))
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthValue {
    pub month: String,
    pub value: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetReportBody {
    pub region: String,
    pub name: String,
    /// YYYY-MM: the month the actual value is for.
    pub month: String,
    /// Peserta aktif (status_active, all segments, each NIK once) in `month`; null when
    /// withheld as a small cell (then the figures derived from it are null too).
    pub actual: Option<i64>,
    pub target: TargetBody,
    pub months_left: i32,
    /// Net growth per month needed from now on to reach the target in time.
    pub required_per_month: Option<f64>,
    /// Net growth per month over the last three months.
    pub run_rate_per_month: Option<f64>,
    /// The value in the target month at the run-rate.
    pub projected: Option<f64>,
    /// The month the target is met at the run-rate; absent if never.
    pub met_in: Option<String>,
    pub history: Vec<MonthValue>,
}

/// A region's peserta aktif against its target: the growth still required, the run-rate and
/// the projection (issue #3).
#[utoipa::path(get, path = "/api/v1/reports/target",
    params(("region" = Option<String>, Query, example = "32"), ("month" = Option<String>, Query, example = "2026-11")),
    responses((status = 200, body = TargetReportBody), (status = 422, body = ErrorBody)))]
pub async fn report_target(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<TargetParams>,
) -> Result<Json<TargetReportBody>, ApiError> {
    let region = region_param(&st.regions, q.region.as_deref())?.unwrap_or(caller.who.region);
    caller.allow(Action::ReadAggregates, &Resource::Region(region))?;
    let now = match q.month.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Month::of((st.today)()),
        Some(m) => Month::parse(m).map_err(|e| {
            ApiError::Invalid(FieldError::new("month", "month.format", format!("month {e}")).into())
        })?,
    };
    let r = cakupan_store::targets::report(
        st.store.as_ref(),
        &st.regions,
        region,
        now,
        st.rules.run_rate_months(now),
    )
    .await?;
    let p = &r.progress;
    let min_cell = min_cell(&st);
    let role = caller.who.role;
    let shown = |v: i64| cakupan_domain::access::shown(role, v, min_cell);
    // Any small value in the history would reveal the others through the run-rate.
    let withheld = shown(p.actual).is_none() || r.history.iter().any(|(_, v)| shown(*v).is_none());
    let derived = |x: f64| (!withheld).then_some(x);
    Ok(Json(TargetReportBody {
        region: r.region.clone(),
        name: r.name.clone(),
        month: p.now.to_string(),
        actual: if withheld { None } else { Some(p.actual) },
        target: target_body(&st.regions, &r.target),
        months_left: p.months_left,
        required_per_month: derived(p.required_per_month),
        run_rate_per_month: derived(p.run_rate_per_month),
        projected: derived(p.projected),
        met_in: if withheld {
            None
        } else {
            p.met_in.map(|m| m.to_string())
        },
        history: r
            .history
            .iter()
            .map(|(m, v)| MonthValue {
                month: m.to_string(),
                value: if withheld { None } else { Some(*v) },
            })
            .collect(),
    }))
}
