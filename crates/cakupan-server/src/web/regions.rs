//! The coverage dashboard of a region (the nation, a province, a regency, a district or a
//! village), with its map and the table of the regions below it, and the CSV of that table.
//!
//! Every figure is read from the counters (one region's history in one indexed range, one
//! level report for the table): no page scans participants or postings.

use super::i18n::{Lang, Tr};
use super::svg::{self, Line, Shade};
use super::{Nav, Page, PageError, St, html, may_read};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use cakupan_domain::access::{Action, Capability, Resource, shown};
use cakupan_domain::{Level, Month, RegionCode, Segment};
use cakupan_store::ledger::RegionHistory;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Kpis {
    pub active: String,
    pub paid: String,
    /// The segments whose contributions for the month are not yet due today, with the date.
    pub paid_open: Option<String>,
    pub registered: String,
    pub nonactive: String,
    pub yoy: Option<String>,
    pub yoy_share: Option<String>,
    /// While the month shown is still running: the latest complete month, named, with its
    /// figure and a link to it (the agency reports complete months).
    pub complete: Option<(String, String, String)>,
}

#[derive(Debug, Clone)]
pub struct TargetView {
    pub target: String,
    pub month: String,
    pub share: String,
    pub share_value: f64,
    pub required: String,
    pub run_rate: String,
    pub projected: String,
    pub met_in: String,
    pub basis: String,
    /// How many peserta aktif the target still wants (0 once met).
    pub gap: String,
    /// For the nation: the agency's target counts participants Cakupan does not hold.
    pub net_note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EmployedView {
    pub share: String,
    pub employed: String,
}

#[derive(Debug, Clone)]
pub struct SegmentRow {
    pub label: &'static str,
    pub active: String,
    pub share: String,
    pub share_value: f64,
}

#[derive(Debug, Clone)]
pub struct ChartRow {
    pub month: String,
    pub active: String,
    pub paid: String,
    pub paid_open: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FlowRow {
    pub month: String,
    pub new: String,
    /// Became non-active by not paying.
    pub lapsed_unpaid: String,
    /// Became non-active because the employer reported the employment ended.
    pub left_employment: String,
    pub reactivated: String,
    pub collected: String,
}

#[derive(Debug, Clone)]
pub struct MapView {
    pub title: &'static str,
    pub svg: String,
    pub legend_title: &'static str,
    pub legend: Vec<(&'static str, String)>,
    /// How the provinces without a BPS figure are shaded (the nation's map).
    pub note: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Header {
    pub label: String,
    pub href: String,
    /// `ascending`, `descending` or `none` (aria-sort).
    pub aria_sort: &'static str,
    pub numeric: bool,
}

#[derive(Debug, Clone)]
pub struct ChildRow {
    pub name: String,
    pub href: Option<String>,
    pub cells: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ChildrenView {
    pub title: &'static str,
    pub headers: Vec<Header>,
    pub rows: Vec<ChildRow>,
    pub csv_href: String,
}

#[derive(Debug, Template)]
#[template(path = "region.html")]
pub struct RegionPage {
    pub t: &'static Tr,
    pub nav: Nav,
    pub title: String,
    pub kind: String,
    pub crumbs: Vec<Crumb>,
    pub month: String,
    /// The month shown and the latest that may be picked, `YYYY-MM`.
    pub month_value: String,
    pub month_max: String,
    pub suppressed: bool,
    pub kpis: Kpis,
    pub target: Option<TargetView>,
    pub employed: Option<EmployedView>,
    pub segments: Vec<SegmentRow>,
    pub chart_svg: Option<String>,
    pub chart_legend: Vec<(&'static str, String)>,
    pub chart_rows: Vec<ChartRow>,
    pub flows: Vec<FlowRow>,
    pub map: Option<MapView>,
    pub children: Option<ChildrenView>,
    /// The regions below furthest behind their targets, and (for the nation) the regencies.
    pub lagging: Vec<LagRow>,
    pub lagging_regencies: Vec<LagRow>,
    /// An administrator may share this region's target out down the tree from here.
    pub allocate: Option<AllocateForm>,
    pub flash: Option<String>,
    /// Self-registration by week (issue #20).
    pub funnel: Vec<super::enrolment::FunnelRow>,
    /// Retention over the last six months (issue #21), when the reader's area holds the region.
    pub retention: super::reminders::Retention,
}

/// The administrator's form that allocates a region's target down to its villages.
#[derive(Debug, Clone)]
pub struct AllocateForm {
    pub region: String,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing {
    t: &'static Tr,
    nav: Nav,
    month: String,
    active: String,
    registered: String,
    regions: String,
}

#[derive(Debug, Deserialize)]
pub struct RegionQuery {
    /// The month to show (`YYYY-MM`, not after this month); this month if absent.
    bulan: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    format: Option<String>,
    /// `alokasi`: the page after an allocation, with how many targets were stored.
    ok: Option<String>,
    n: Option<u64>,
}

/// The front page: the dashboard of the user's own area (a participant's own data, a village
/// official's village), or for visitors a public national headline and the way in.
pub async fn home(State(st): St, page: Page, q: Query<RegionQuery>) -> Result<Response, PageError> {
    let Some(me) = &page.user else {
        let month = Month::of((st.today)());
        let h = RegionHistory::new(st.store.region_history(RegionCode::NATION, month).await?);
        let now = h.at(None, month);
        let [p, r, d, v] = st.regions.counts();
        let lang = page.lang;
        return html(&Landing {
            t: page.t(),
            nav: page.nav(),
            month: lang.month(month),
            active: lang.num(now.status_active()),
            registered: lang.num(now.registered()),
            regions: match lang {
                Lang::Id => format!(
                    "{} provinsi, {} kabupaten/kota, {} kecamatan, {} desa/kelurahan",
                    lang.num(p as i64),
                    lang.num(r as i64),
                    lang.num(d as i64),
                    lang.num(v as i64)
                ),
                Lang::En => format!(
                    "{} provinces, {} regencies/cities, {} districts, {} villages",
                    lang.num(p as i64),
                    lang.num(r as i64),
                    lang.num(d as i64),
                    lang.num(v as i64)
                ),
            },
        });
    };
    if me.who.role.can(Capability::OwnRecord) {
        return Ok(Redirect::to("/saya").into_response());
    }
    if me.who.role.can(Capability::ActsForEmployer) {
        return Ok(Redirect::to("/pemberi-kerja").into_response());
    }
    // A Perisai agent starts the day on their worklist; their area's figures are a tap away.
    if me.who.role.can(Capability::FieldAgent)
        && let Some(code) = &me.who.agent_code
    {
        return Ok(Redirect::to(&format!("/agen/{code}")).into_response());
    }
    let area = me.who.region;
    region_response(&st, &page, area, q.0).await
}

#[derive(Template)]
#[template(path = "region_search.html")]
struct RegionSearchPage {
    t: &'static Tr,
    nav: super::Nav,
    q: String,
    searched: bool,
    /// (link, name, where it lies).
    hits: Vec<(String, String, String)>,
    more: bool,
}

#[derive(Debug, Deserialize)]
pub struct RegionSearch {
    q: Option<String>,
}

/// At most this many regions answer a search.
const SEARCH_HITS: usize = 30;

/// `/wilayah/cari?q=`: regions of any level whose name holds the words typed (in any case),
/// among those the reader may open; provinces first, then regencies, districts, villages,
/// each by name.
pub async fn search(
    State(st): St,
    page: Page,
    Query(q): Query<RegionSearch>,
) -> Result<Response, PageError> {
    let me = page.require()?;
    let typed = q.q.unwrap_or_default().trim().to_string();
    let needle = typed.to_lowercase();
    let searched = needle.chars().count() >= 3;
    let mut found: Vec<&cakupan_domain::region::Region> = if searched {
        st.regions
            .iter()
            .filter(|r| {
                me.who.region.contains(r.code)
                    && r.name.to_lowercase().contains(&needle)
                    && may_read(&me.who, r.code)
            })
            .collect()
    } else {
        Vec::new()
    };
    found.sort_by(|a, b| {
        a.code
            .level()
            .depth()
            .cmp(&b.code.level().depth())
            .then(a.name.cmp(&b.name))
    });
    let more = found.len() > SEARCH_HITS;
    let hits = found
        .into_iter()
        .take(SEARCH_HITS)
        .map(|r| {
            (
                format!("/wilayah/{}", r.code),
                r.name.clone(),
                st.regions.path_label(r.code),
            )
        })
        .collect();
    html(&RegionSearchPage {
        t: page.t(),
        nav: page.nav(),
        q: typed,
        searched,
        hits,
        more,
    })
}

/// The nation's page.
pub async fn nation_page(
    State(st): St,
    page: Page,
    q: Query<RegionQuery>,
) -> Result<Response, PageError> {
    region_response(&st, &page, RegionCode::NATION, q.0).await
}

/// A region's page, `/wilayah/32.73`.
pub async fn region_page(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    q: Query<RegionQuery>,
) -> Result<Response, PageError> {
    let code = code.trim_end_matches(".csv");
    let code = RegionCode::parse(code).map_err(|_| PageError::NotFound(page.lang))?;
    if !st.regions.contains_code(code) {
        return Err(PageError::NotFound(page.lang));
    }
    region_response(&st, &page, code, q.0).await
}

/// The `<option>`s of a region's children, for the cascading region choice of forms (region
/// names are public; no personal data).
pub async fn children_options(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    page.require()?;
    let code = if code == "0" {
        RegionCode::NATION
    } else {
        RegionCode::parse(&code).map_err(|_| PageError::NotFound(page.lang))?
    };
    let mut out = format!(r#"<option value="">{}</option>"#, page.t().choose);
    for r in st.regions.children(code) {
        out.push_str(&format!(
            r#"<option value="{}">{}</option>"#,
            r.code,
            escape(&r.name)
        ));
    }
    Ok(Html(out).into_response())
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A level's name in the reader's language.
pub fn level_name(t: &Tr, level: Level) -> &'static str {
    match level {
        Level::Nation => t.nation,
        Level::Province => t.level_province,
        Level::Regency => t.level_regency,
        Level::District => t.level_district,
        Level::Village => t.level_village,
    }
}

pub fn child_level(level: Level) -> Option<Level> {
    match level {
        Level::Nation => Some(Level::Province),
        Level::Province => Some(Level::Regency),
        Level::Regency => Some(Level::District),
        Level::District => Some(Level::Village),
        Level::Village => None,
    }
}

/// A region's name ("Indonesia" for the nation).
/// The segments whose contributions for `month` are not yet due on `today`, with their due
/// dates (`PU 15 Jan 2027, BPU 15 Des 2026`): their "paid" figure for that month is still
/// filling up, not a fall. None when every segment's due date has passed.
pub fn not_yet_due_note(
    st: &AppState,
    lang: Lang,
    month: Month,
    today: time::Date,
) -> Option<String> {
    let open: Vec<String> = [Segment::Bpu, Segment::Pu]
        .into_iter()
        .filter_map(|seg| {
            let due = cakupan_domain::quote::due_date(&st.rules, seg, month)?;
            (today <= due).then(|| format!("{seg} {}", lang.date(due)))
        })
        .collect();
    (!open.is_empty()).then(|| format!("{}: {}", lang.tr().status_not_yet_due, open.join(", ")))
}

/// How a stored target was set, in the page's language.
pub fn basis_words(t: &Tr, basis: &str, source: &str) -> String {
    use cakupan_store::targets::Basis;
    match Basis::of(basis) {
        Basis::Stated => t.basis_stated.into(),
        Basis::Employed => t.basis_employed.into(),
        Basis::Population => t.basis_population.into(),
        Basis::Villages => t.basis_villages.into(),
        Basis::Actual => t.basis_actual.into(),
        // The scale, as `scale_national_targets` wrote it in the source ("demo, scale 1:N: …").
        Basis::Scaled => {
            let n: String = source
                .strip_prefix("demo, scale 1:")
                .unwrap_or_default()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            t.basis_scaled.replace("{n}", &n)
        }
    }
}

/// The national target's note: the agency's figure counts Jakon and PMI participants, which
/// Cakupan does not hold, and the target shown is net of them (`rules/targets.toml`).
fn net_note(st: &AppState, lang: Lang, month: Month) -> Option<String> {
    let excluded = st.rules.target_exclusions(month);
    if excluded.is_empty() {
        return None;
    }
    let gross = st
        .rules
        .targets
        .iter()
        .find(|t| {
            t.region.is_empty()
                && t.segment.is_empty()
                && Month::parse(&t.month).is_ok_and(|m| m == month)
        })?
        .value;
    let t = lang.tr();
    let parts: Vec<String> = excluded
        .iter()
        .map(|e| {
            let name = match e.segment.as_str() {
                "Jakon" => t.segment_jakon,
                "PMI" => t.segment_pmi,
                other => other,
            };
            format!(
                "{name} {} ({})",
                lang.num(e.value),
                lang.month(Month::parse(&e.as_of).unwrap_or(month))
            )
        })
        .collect();
    Some(format!(
        "{} {} {} {}.",
        t.target_gross,
        lang.num(gross),
        t.target_net_of,
        parts.join(", ")
    ))
}

/// `POST /target/alokasi`: an administrator shares a region's stored target out down to the
/// villages (the same allocation as `cakupan target allocate`), audited, then sees the region.
pub async fn allocate_targets(
    State(st): St,
    page: Page,
    axum::Form(f): axum::Form<AllocateInput>,
) -> Result<Response, PageError> {
    page.check_csrf(&f.csrf)?;
    let code = if f.region.trim().is_empty() {
        RegionCode::NATION
    } else {
        RegionCode::parse(f.region.trim()).map_err(|_| PageError::NotFound(page.lang))?
    };
    if code != RegionCode::NATION && !st.regions.contains_code(code) {
        return Err(PageError::NotFound(page.lang));
    }
    page.allow(Action::Administer, &Resource::Region(code))?;
    let now = Month::of((st.today)());
    let (_, a) = cakupan_store::targets::allocation_for(
        st.store.as_ref(),
        &st.regions,
        code,
        None,
        Level::Village,
        now,
    )
    .await
    .map_err(|e| PageError::Internal(e.to_string()))?;
    page.audit(
        &st,
        "target.allocate",
        format!("targets:{code}:village"),
        "administration",
    )
    .await?;
    st.store.set_targets(&a.targets, true).await?;
    let back = if code == RegionCode::NATION {
        "/wilayah".to_string()
    } else {
        format!("/wilayah/{code}")
    };
    Ok(Redirect::to(&format!("{back}?ok=alokasi&n={}", a.targets.len())).into_response())
}

#[derive(Debug, Deserialize)]
pub struct AllocateInput {
    csrf: String,
    #[serde(default)]
    region: String,
}

pub fn region_name(st: &AppState, code: RegionCode) -> String {
    cakupan_store::targets::name_of(&st.regions, code)
}

/// One child's figures, before they are written for a reader.
struct ChildFigures {
    code: RegionCode,
    name: String,
    registered: i64,
    active: i64,
    paid: i64,
    nonactive: i64,
    active_year_ago: i64,
    target: Option<i64>,
    employed: Option<f64>,
    /// The employed figure is the population-based stand-in of the target's allocation.
    estimated: bool,
}

/// The table without the figure columns that are empty in every row (the name column, the
/// first header, always stays).
fn without_empty_columns(
    mut headers: Vec<Header>,
    mut rows: Vec<ChildRow>,
) -> (Vec<Header>, Vec<ChildRow>) {
    let figures = headers.len().saturating_sub(1);
    let keep: Vec<bool> = (0..figures)
        .map(|i| {
            rows.is_empty()
                || rows
                    .iter()
                    .any(|r| r.cells.get(i).is_some_and(|c| !c.trim().is_empty()))
        })
        .collect();
    let mut i = 0;
    headers.retain(|_| {
        let k = i == 0 || keep.get(i - 1).copied().unwrap_or(true);
        i += 1;
        k
    });
    for r in &mut rows {
        let mut j = 0;
        r.cells.retain(|_| {
            let k = keep.get(j).copied().unwrap_or(true);
            j += 1;
            k
        });
    }
    (headers, rows)
}

/// One region behind its target, for the ranked list.
#[derive(Debug, Clone)]
pub struct LagRow {
    pub name: String,
    pub href: Option<String>,
    pub share: String,
    pub active: String,
    pub target: String,
}

/// The (at most) `n` regions with the lowest share of their target reached; withheld figures
/// are left out, so the ranking reveals nothing the cells hide.
fn lagging(
    rows: impl Iterator<Item = (RegionCode, String, i64, Option<i64>)>,
    show: &dyn Fn(i64) -> Option<i64>,
    lang: Lang,
    who: &cakupan_domain::access::Principal,
    n: usize,
) -> Vec<LagRow> {
    let mut v: Vec<(f64, RegionCode, String, i64, i64)> = rows
        .filter_map(|(code, name, active, target)| {
            let tv = target.filter(|t| *t > 0)?;
            show(active)?;
            Some((active as f64 / tv as f64, code, name, active, tv))
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
    v.into_iter()
        .take(n)
        .map(|(share, code, name, active, tv)| LagRow {
            name,
            href: may_read(who, code).then(|| format!("/wilayah/{code}")),
            share: lang.pct(share),
            active: lang.num(active),
            target: lang.num(tv),
        })
        .collect()
}

const SORTS: [&str; 9] = [
    "name",
    "registered",
    "status_active",
    "paid_active",
    "nonactive",
    "active_share",
    "yoy",
    "target_share",
    "employed_share",
];

async fn region_response(
    st: &AppState,
    page: &Page,
    code: RegionCode,
    q: RegionQuery,
) -> Result<Response, PageError> {
    let me = page.allow(Action::ReadAggregates, &Resource::Region(code))?;
    let who = me.who.clone();
    let lang = page.lang;
    let t = page.t();
    let today = (st.today)();
    let current = Month::of(today);
    // The month picker: any month up to this one (a later or unreadable one shows this one).
    let month = q
        .bulan
        .as_deref()
        .and_then(|b| Month::parse(b.trim()).ok())
        .filter(|m| *m <= current)
        .unwrap_or(current);
    let (q_ok, q_n) = (q.ok.clone(), q.n);
    let min_cell = st.auth.policy.aggregate_min_cell;
    let role = who.role;
    let show = |v: i64| shown(role, v, min_cell);
    let fmt = |v: i64| {
        show(v)
            .map(|x| lang.num(x))
            .unwrap_or_else(|| t.withheld.into())
    };
    let suppressed = cakupan_domain::access::suppresses_small_cells(role);

    // The region's own history: one indexed range of its counter rows.
    let history = RegionHistory::new(st.store.region_history(code, month).await?);
    let now = history.at(None, month);
    let year_ago = history.at(None, month.plus(-12));
    let has_year_ago = history.months(None, month.plus(-12), month.plus(-12))[0].registered() > 0;

    // Target, with the growth required and the projection (withheld when the actual is).
    let report = cakupan_store::targets::report(
        st.store.as_ref(),
        &st.regions,
        code,
        month,
        st.rules.run_rate_months(month),
    )
    .await
    .ok();
    let withheld = show(now.status_active()).is_none();
    let target = report.as_ref().filter(|_| !withheld).map(|r| {
        let p = &r.progress;
        let share = if p.target > 0 {
            p.actual as f64 / p.target as f64
        } else {
            0.0
        };
        TargetView {
            target: lang.num(p.target),
            month: lang.month(p.target_month),
            share: lang.pct(share),
            share_value: share.clamp(0.0, 1.0),
            required: lang.signed(p.required_per_month.round() as i64),
            run_rate: lang.signed(p.run_rate_per_month.round() as i64),
            projected: lang.num(p.projected.round() as i64),
            met_in: match p.met_in {
                Some(m) if m <= month => t.already_met.to_string(),
                Some(m) => lang.month(m),
                None => t.never_met.to_string(),
            },
            basis: basis_words(t, &r.target.basis, &r.target.source),
            gap: lang.num((p.target - p.actual).max(0)),
            net_note: (code == RegionCode::NATION
                && cakupan_store::targets::Basis::of(&r.target.basis)
                    == cakupan_store::targets::Basis::Stated)
                .then(|| net_note(st, lang, r.target.month))
                .flatten(),
        }
    });

    // Share of employed people covered, where BPS has a figure.
    let employed_of = |c: RegionCode| -> Option<f64> {
        match c.level() {
            Level::Nation => {
                cakupan_domain::bps::national_employed(cakupan_domain::bps::EMPLOYED_PERIOD)
            }
            Level::Province => cakupan_domain::bps::employed_by_province()
                .get(&c.province_number())
                .copied(),
            _ => None,
        }
    };
    let employed = employed_of(code)
        .filter(|e| *e > 0.0 && !withheld)
        .map(|e| EmployedView {
            share: lang.pct(now.status_active() as f64 / e),
            employed: lang.millions(e),
        });

    let pu = history.at(Some(Segment::Pu), month).status_active();
    let bpu = history.at(Some(Segment::Bpu), month).status_active();
    let seg_total = (pu + bpu).max(1) as f64;
    let segments = [(t.pu, pu), (t.bpu, bpu)]
        .into_iter()
        .map(|(label, v)| SegmentRow {
            label,
            active: fmt(v),
            share: if show(v).is_some() {
                lang.pct(v as f64 / seg_total)
            } else {
                String::new()
            },
            share_value: if show(v).is_some() {
                v as f64 / seg_total
            } else {
                0.0
            },
        })
        .collect();

    let yoy = (has_year_ago && show(year_ago.status_active()).is_some() && !withheld)
        .then(|| lang.signed(now.status_active() - year_ago.status_active()));
    let yoy_share = (has_year_ago && year_ago.status_active() > 0 && yoy.is_some()).then(|| {
        let g = now.status_active() as f64 / year_ago.status_active() as f64 - 1.0;
        if g >= 0.0 {
            format!("+{}", lang.pct(g))
        } else {
            lang.pct(g)
        }
    });

    // The chart: 36 months of status_active and paid_active, the target trajectory and the
    // projection at the run-rate up to the target month when it is near.
    let chart_months = st
        .rules
        .reporting(month)
        .map(|r| i32::try_from(r.chart_months).unwrap_or(36))
        .unwrap_or(36)
        .max(2);
    let from = month.plus(1 - chart_months);
    let series = history.months(None, from, month);
    let any_withheld = series
        .iter()
        .any(|f| show(f.status_active()).is_none() || show(f.paid_active()).is_none());
    let mut chart_svg = None;
    let mut chart_legend = Vec::new();
    if !any_withheld {
        let mut to = month;
        let mut lines = vec![
            Line {
                class: "l-active",
                label: t.active_participants.into(),
                points: series
                    .iter()
                    .map(|f| (f.month, f.status_active() as f64))
                    .collect(),
            },
            // Paid, up to the last month whose dues have all fallen due: a month still open
            // is not drawn as a fall (its figure is in the table, marked not yet due).
            Line {
                class: "l-paid",
                label: t.paid_active.into(),
                points: series
                    .iter()
                    .filter(|f| not_yet_due_note(st, lang, f.month, today).is_none())
                    .map(|f| (f.month, f.paid_active() as f64))
                    .collect(),
            },
        ];
        if let Some(r) = &report {
            let tm = r.target.month;
            // The line to the target is always drawn (issue #22): a target far above the
            // actuals flattens them, and that is the story the chart has to tell.
            if tm > month && tm.since(month) <= 24 {
                // The months up to a near target month, for its trajectory and projection.
                to = tm;
            }
            if let Some((bm, bv)) = r.target.baseline {
                // The straight line from the baseline to the target, cut to the chart.
                let span = f64::from(tm.since(bm).max(1));
                let at = |m: Month| {
                    bv as f64 + (r.target.value - bv) as f64 * f64::from(m.since(bm)) / span
                };
                let start = if bm < from { from } else { bm };
                let end = if tm > to { to } else { tm };
                if start <= end {
                    lines.push(Line {
                        class: "l-target",
                        label: t.chart_target.into(),
                        points: vec![(start, at(start)), (end, at(end))],
                    });
                }
            }
            if tm > month {
                lines.push(Line {
                    class: "l-proj",
                    label: t.chart_projection.into(),
                    points: vec![
                        (month, r.progress.actual as f64),
                        (to, r.progress.projected),
                    ],
                });
            }
        }
        chart_legend = lines.iter().map(|l| (l.class, l.label.clone())).collect();
        chart_svg = Some(svg::line_chart(lang, t.chart_title, from, to, &lines));
    }
    let chart_rows = series
        .iter()
        .rev()
        .map(|f| ChartRow {
            month: lang.month(f.month),
            active: fmt(f.status_active()),
            paid: fmt(f.paid_active()),
            paid_open: not_yet_due_note(st, lang, f.month, today),
        })
        .collect();
    let flows = history
        .months(None, month.plus(-11), month)
        .iter()
        .rev()
        .map(|f| FlowRow {
            month: lang.month(f.month),
            new: fmt(f.new_active()),
            lapsed_unpaid: fmt(f.lapsed() - f.left_employment()),
            left_employment: fmt(f.left_employment()),
            reactivated: fmt(f.reactivated()),
            collected: if suppressed {
                String::new()
            } else {
                lang.rupiah(f.amount())
            },
        })
        .collect();

    // The regions below, with their targets allocated from this region's.
    let mut children = None;
    let mut map = None;
    let mut lagging_rows = Vec::new();
    let mut lagging_regencies = Vec::new();
    if let Some(level) = child_level(code.level()) {
        let rows_now = st.store.active_report(level, code, None, month).await?;
        let rows_ago = st
            .store
            .active_report(level, code, None, month.plus(-12))
            .await?;
        let by_code =
            |rows: &[cakupan_store::ActiveRow]| -> HashMap<String, cakupan_store::ActiveRow> {
                rows.iter().map(|r| (r.code.clone(), r.clone())).collect()
            };
        let (now_by, ago_by) = (by_code(&rows_now), by_code(&rows_ago));
        // The children's stored targets for the same month as this region's (allocated with
        // it, `target allocate`): read, never computed here.
        let targets: HashMap<RegionCode, i64> = match &report {
            Some(r) => st
                .store
                .targets_within(code, level)
                .await?
                .into_iter()
                .filter(|t| {
                    t.metric == cakupan_domain::coverage::Metric::StatusActive
                        && t.segment.is_none()
                        && t.month == r.target.month
                })
                .map(|t| (t.region, t.value))
                .collect(),
            None => HashMap::new(),
        };
        // Provinces without a BPS employed figure get the population-based stand-in the
        // target's allocation uses (`targets::weights`), marked as an estimate.
        let stand_in: HashMap<RegionCode, f64> = if level == Level::Province {
            cakupan_store::targets::weights(&st.regions, code)
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, _, b)| *b == cakupan_store::targets::Basis::Population)
                .map(|(c, w, _)| (c, w))
                .collect()
        } else {
            HashMap::new()
        };
        let mut figures: Vec<ChildFigures> = st
            .regions
            .children(code)
            .into_iter()
            .map(|r| {
                let c = r.code.to_string();
                let published = employed_of(r.code);
                let n = now_by.get(&c);
                let a = ago_by.get(&c);
                ChildFigures {
                    code: r.code,
                    name: r.name.clone(),
                    registered: n.map(|x| x.registered).unwrap_or(0),
                    active: n.map(|x| x.status_active).unwrap_or(0),
                    paid: n.map(|x| x.paid_active).unwrap_or(0),
                    nonactive: n.map(|x| x.nonactive).unwrap_or(0),
                    active_year_ago: a.map(|x| x.status_active).unwrap_or(0),
                    target: targets.get(&r.code).copied(),
                    employed: published.or_else(|| stand_in.get(&r.code).copied()),
                    estimated: published.is_none() && stand_in.contains_key(&r.code),
                }
            })
            .collect();
        let with_employed = level == Level::Province;
        let sort = q
            .sort
            .as_deref()
            .filter(|s| SORTS.contains(s) && (*s != "employed_share" || with_employed))
            .unwrap_or("status_active");
        let desc = match q.dir.as_deref() {
            Some("asc") => false,
            Some("desc") => true,
            _ => sort != "name",
        };
        let ratio = |a: i64, b: Option<f64>| -> f64 {
            match b {
                Some(b) if b > 0.0 => a as f64 / b,
                _ => -1.0,
            }
        };
        // Withheld figures sort as if unknown, so the order reveals nothing the cells hide.
        let key = |f: &ChildFigures| -> f64 {
            let sv = |v: i64| show(v).map(|x| x as f64).unwrap_or(-1.0);
            match sort {
                "registered" => sv(f.registered),
                "paid_active" => sv(f.paid),
                "nonactive" => sv(f.nonactive),
                "active_share" => {
                    if show(f.active).is_none() || show(f.registered).is_none() {
                        -1.0
                    } else {
                        ratio(f.active, Some(f.registered as f64))
                    }
                }
                "yoy" => {
                    if show(f.active).is_none() || show(f.active_year_ago).is_none() {
                        f64::MIN
                    } else {
                        (f.active - f.active_year_ago) as f64
                    }
                }
                "target_share" => {
                    if show(f.active).is_none() {
                        -1.0
                    } else {
                        ratio(f.active, f.target.map(|x| x as f64))
                    }
                }
                "employed_share" => {
                    if show(f.active).is_none() {
                        -1.0
                    } else {
                        ratio(f.active, f.employed)
                    }
                }
                _ => sv(f.active),
            }
        };
        if sort == "name" {
            figures.sort_by(|a, b| a.name.cmp(&b.name));
        } else {
            figures.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.name.cmp(&b.name)));
        }
        if desc {
            figures.reverse();
        }

        if q.format.as_deref() == Some("csv") {
            return Ok(csv(code, level, &figures, &show, with_employed));
        }
        lagging_rows = lagging(
            figures
                .iter()
                .map(|f| (f.code, f.name.clone(), f.active, f.target)),
            &show,
            lang,
            &who,
            5,
        );
        // From the nation, the regencies too: where the gap is, two levels down.
        if code == RegionCode::NATION
            && let Some(r) = &report
        {
            let rows = st
                .store
                .active_report(Level::Regency, code, None, month)
                .await?;
            let regency_targets: HashMap<RegionCode, i64> = st
                .store
                .targets_within(code, Level::Regency)
                .await?
                .into_iter()
                .filter(|x| {
                    x.metric == cakupan_domain::coverage::Metric::StatusActive
                        && x.segment.is_none()
                        && x.month == r.target.month
                })
                .map(|x| (x.region, x.value))
                .collect();
            let active: HashMap<String, i64> = rows
                .iter()
                .map(|x| (x.code.clone(), x.status_active))
                .collect();
            lagging_regencies = lagging(
                regency_targets.iter().map(|(c, tv)| {
                    (
                        *c,
                        st.regions.path_label(*c),
                        active.get(&c.to_string()).copied().unwrap_or(0),
                        Some(*tv),
                    )
                }),
                &show,
                lang,
                &who,
                5,
            );
        }

        let base = if code == RegionCode::NATION {
            "/wilayah".to_string()
        } else {
            format!("/wilayah/{code}")
        };
        // A month picked stays picked as the table is sorted or downloaded.
        let picked = if month == current {
            String::new()
        } else {
            format!("&bulan={month}")
        };
        let mut columns: Vec<(&str, String, bool)> = vec![
            ("name", t.region.to_string(), false),
            ("status_active", t.active_participants.into(), true),
            ("paid_active", t.paid_active.into(), true),
            ("registered", t.registered.into(), true),
            ("nonactive", t.nonactive.into(), true),
            ("active_share", t.active_share.into(), true),
            ("yoy", t.yoy.into(), true),
            ("target_share", t.target_share.into(), true),
        ];
        if with_employed {
            columns.push(("employed_share", t.employed_share.into(), true));
        }
        let headers = columns
            .iter()
            .map(|(k, label, numeric)| {
                let current = *k == sort;
                let next_dir = if current && desc {
                    "asc"
                } else if current {
                    "desc"
                } else if *k == "name" {
                    "asc"
                } else {
                    "desc"
                };
                Header {
                    label: label.clone(),
                    href: format!("{base}?sort={k}&dir={next_dir}{picked}"),
                    aria_sort: match (current, desc) {
                        (false, _) => "none",
                        (true, true) => "descending",
                        (true, false) => "ascending",
                    },
                    numeric: *numeric,
                }
            })
            .collect();
        let rows = figures
            .iter()
            .map(|f| {
                let active_ok = show(f.active).is_some();
                let mut cells = vec![
                    fmt(f.active),
                    fmt(f.paid),
                    fmt(f.registered),
                    fmt(f.nonactive),
                    if active_ok && show(f.registered).is_some() && f.registered > 0 {
                        lang.pct(f.active as f64 / f.registered as f64)
                    } else {
                        String::new()
                    },
                    if active_ok && show(f.active_year_ago).is_some() {
                        lang.signed(f.active - f.active_year_ago)
                    } else {
                        String::new()
                    },
                    match f.target {
                        Some(tv) if tv > 0 && active_ok => lang.pct(f.active as f64 / tv as f64),
                        _ => String::new(),
                    },
                ];
                if with_employed {
                    cells.push(match f.employed {
                        Some(e) if e > 0.0 && active_ok => format!(
                            "{}{}",
                            if f.estimated { "≈ " } else { "" },
                            lang.pct(f.active as f64 / e)
                        ),
                        _ => String::new(),
                    });
                }
                ChildRow {
                    name: f.name.clone(),
                    href: may_read(&who, f.code).then(|| format!("/wilayah/{}", f.code)),
                    cells,
                }
            })
            .collect();
        // A column empty in every row (no targets allocated, every figure withheld for this
        // role) is not shown.
        let (headers, rows) = without_empty_columns(headers, rows);
        children = Some(ChildrenView {
            title: level_name(t, level),
            headers,
            rows,
            csv_href: format!(
                "{base}?format=csv&sort={sort}&dir={}{picked}",
                if desc { "desc" } else { "asc" }
            ),
        });

        // The map: provinces shaded by the share of employed people covered; a province's
        // regencies by the share of their registered participants who are active.
        if code == RegionCode::NATION || code.level() == Level::Province {
            let mut shades = HashMap::new();
            let mut max_seen = 0.0f64;
            for f in &figures {
                let share = if show(f.active).is_none() {
                    None
                } else if code == RegionCode::NATION {
                    f.employed.filter(|e| *e > 0.0).map(|e| f.active as f64 / e)
                } else if f.registered > 0 {
                    Some(f.active as f64 / f.registered as f64)
                } else {
                    None
                };
                if let Some(s) = share {
                    max_seen = max_seen.max(s);
                }
                shades.insert(
                    f.code.to_string(),
                    Shade {
                        share,
                        label: format!(
                            "{}: {}{}",
                            f.name,
                            share.map(|s| lang.pct(s)).unwrap_or_else(|| {
                                // Withheld for this reader (a small cell) is not missing data.
                                if show(f.active).is_none() {
                                    t.map_withheld.into()
                                } else {
                                    t.map_no_data.into()
                                }
                            }),
                            if f.estimated && share.is_some() {
                                format!(" ({})", t.map_estimated)
                            } else {
                                String::new()
                            }
                        ),
                        href: may_read(&who, f.code).then(|| format!("/wilayah/{}", f.code)),
                    },
                );
            }
            let (title, legend_title, drawn) = if code == RegionCode::NATION {
                (
                    t.map_title_nation,
                    t.map_legend_employed,
                    svg::province_map(&shades, t.map_title_nation),
                )
            } else {
                (
                    t.map_title_province,
                    t.map_legend_active,
                    svg::regency_map(code, &shades, t.map_title_province),
                )
            };
            if !drawn.is_empty() {
                map = Some(MapView {
                    title,
                    svg: drawn,
                    legend_title,
                    legend: svg::legend(lang, max_seen),
                    note: (code == RegionCode::NATION).then_some(t.map_estimated_note),
                });
            }
        }
    }

    let mut crumbs = vec![Crumb {
        label: t.nation.into(),
        href: (code != RegionCode::NATION && may_read(&who, RegionCode::NATION))
            .then(|| "/wilayah".into()),
    }];
    for r in st.regions.path(code).unwrap_or_default() {
        crumbs.push(Crumb {
            label: r.name.clone(),
            href: (r.code != code && may_read(&who, r.code))
                .then(|| format!("/wilayah/{}", r.code)),
        });
    }
    let kind = match st.regions.get(code) {
        _ if code == RegionCode::NATION => t.national.to_string(),
        Some(r) if !r.kind.is_empty() => format!("{} ({})", level_name(t, code.level()), r.kind),
        _ => level_name(t, code.level()).to_string(),
    };
    let funnel = super::enrolment::funnel_rows(st, page, code).await;
    let retention = if who.region.contains(code)
        && who
            .role
            .can(cakupan_domain::access::Capability::SeesCoverage)
    {
        super::reminders::retention_rows(st, &who, lang, code, None, 6)
            .await
            .map_err(|e| PageError::Internal(format!("{e:?}")))?
    } else {
        super::reminders::Retention::default()
    };
    html(&RegionPage {
        t,
        nav: page.nav(),
        funnel,
        retention,
        title: region_name(st, code),
        kind,
        crumbs,
        month: lang.month(month),
        month_value: month.to_string(),
        month_max: current.to_string(),
        suppressed,
        kpis: Kpis {
            active: fmt(now.status_active()),
            paid: fmt(now.paid_active()),
            paid_open: not_yet_due_note(st, lang, month, today),
            registered: fmt(now.registered()),
            nonactive: fmt(now.nonactive()),
            yoy,
            yoy_share,
            complete: (month == current).then(|| {
                let last = current.plus(-1);
                (
                    lang.month(last),
                    fmt(history.at(None, last).status_active()),
                    format!("?bulan={last}"),
                )
            }),
        },
        target,
        employed,
        segments,
        chart_svg,
        chart_legend,
        chart_rows,
        flows,
        map,
        children,
        lagging: lagging_rows,
        lagging_regencies,
        allocate: (child_level(code.level()).is_some()
            && report.is_some()
            && cakupan_domain::access::authorize(
                &who,
                Action::Administer,
                &Resource::Region(code),
            )
            .is_ok())
        .then(|| AllocateForm {
            region: code.to_string(),
            csrf: page.require().map(|m| m.csrf.clone()).unwrap_or_default(),
        }),
        flash: (q_ok.as_deref() == Some("alokasi"))
            .then(|| format!("{} {}", t.allocated, lang.num(q_n.unwrap_or(0) as i64))),
    })
}

/// The table of the regions below as CSV (`code,name,…`), numbers plain, withheld cells empty.
fn csv(
    code: RegionCode,
    level: Level,
    figures: &[ChildFigures],
    show: &dyn Fn(i64) -> Option<i64>,
    with_employed: bool,
) -> Response {
    let mut out = String::from(
        "code,name,registered,paid_active,status_active,nonactive,status_active_12_months_earlier,target",
    );
    if with_employed {
        out.push_str(",employed");
    }
    out.push('\n');
    let cell = |v: i64| show(v).map(|x| x.to_string()).unwrap_or_default();
    for f in figures {
        let name = if f.name.contains([',', '"']) {
            format!("\"{}\"", f.name.replace('"', "\"\""))
        } else {
            f.name.clone()
        };
        out.push_str(&format!(
            "{},{name},{},{},{},{},{},{}",
            f.code,
            cell(f.registered),
            cell(f.paid),
            cell(f.active),
            cell(f.nonactive),
            cell(f.active_year_ago),
            f.target.map(|v| v.to_string()).unwrap_or_default(),
        ));
        if with_employed {
            out.push(',');
            out.push_str(&f.employed.map(|e| format!("{e:.0}")).unwrap_or_default());
        }
        out.push('\n');
    }
    let file = format!(
        "cakupan-{}-{}.csv",
        if code == RegionCode::NATION {
            "indonesia".to_string()
        } else {
            code.to_string()
        },
        level.as_str()
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_empty_in_every_row_is_dropped() {
        let h = |l: &str| Header {
            label: l.into(),
            href: String::new(),
            aria_sort: "none",
            numeric: true,
        };
        let row = |cells: &[&str]| ChildRow {
            name: "x".into(),
            href: None,
            cells: cells.iter().map(|c| c.to_string()).collect(),
        };
        let (headers, rows) = without_empty_columns(
            vec![h("name"), h("active"), h("target"), h("yoy")],
            vec![row(&["5", "", "+1"]), row(&["<5", "", ""])],
        );
        let labels: Vec<&str> = headers.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(labels, ["name", "active", "yoy"]);
        assert_eq!(rows[0].cells, ["5", "+1"]);
        assert_eq!(rows[1].cells, ["<5", ""]);
    }
}
