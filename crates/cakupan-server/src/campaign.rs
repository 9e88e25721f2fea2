//! The village campaign over HTTP (issue #8): campaigns and their waves, each village's entry
//! (coordination sign-off, stage, week, agents), sessions, uplift; questionnaires, surveys,
//! responses (JSON or CSV) and weighted results. Every route goes through `authorize` with the
//! campaign actions and is audited; the pages (`web::campaign`) use the same functions.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cakupan_app::campaign::{self as analysis, By};
use cakupan_domain::access::{Action, Principal, Resource, authorize, suppresses_small_cells};
use cakupan_domain::campaign::Stage;
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::survey::Questionnaire;
use cakupan_domain::{FieldError, RegionCode};
use cakupan_store::campaign::{
    self as cmp, Campaign, Coordination, EntryChange, Frame, PlanEntry, Session, Survey, Upload,
    Wave,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Largest body a responses upload may have (20,000 lines of about 100 bytes).
pub const MAX_RESPONSES_BYTES: usize = 4 * 1024 * 1024;

fn invalid(field: &str, rule: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid(FieldError::new(field, rule, message).into())
}

fn region_of(field: &str, s: Option<&str>) -> Result<Option<RegionCode>, ApiError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => RegionCode::parse(s)
            .map(Some)
            .map_err(|e| invalid(field, "region.code", e.to_string())),
    }
}

fn date_of(field: &str, s: &str) -> Result<time::Date, ApiError> {
    parse_date(s.trim())
        .ok_or_else(|| invalid(field, "date.format", "a date is written YYYY-MM-DD"))
}

use crate::error::json_body;

/// A sign-off's date: not after today (the wave's last day is the store's check).
pub fn agreed_on_not_after_today(
    st: &AppState,
    d: time::Date,
) -> Result<time::Date, cakupan_domain::FieldError> {
    if d > (st.today)() {
        return Err(cakupan_domain::FieldError::new(
            "agreed_on",
            "coordination.agreed_on",
            "the agreement cannot be dated after today",
        ));
    }
    Ok(d)
}

/// The campaign, read as the caller may: one whose region they share nothing with answers like
/// one that does not exist.
pub async fn campaign_for(
    st: &AppState,
    who: &Principal,
    code: &str,
) -> Result<Campaign, ApiError> {
    let missing = || ApiError::NotFound("no campaign with this code is visible to you".into());
    let c = st
        .store
        .campaigns()
        .await?
        .into_iter()
        .find(|c| c.code == code)
        .ok_or_else(missing)?;
    let scope = view_region(who, c.region);
    authorize(who, Action::ReadCampaign, &Resource::Region(scope)).map_err(|_| missing())?;
    Ok(c)
}

/// Where a caller looks at a campaign of `region`: the deeper of the two when one holds the
/// other (a village official sees their village of a national campaign); else the campaign's.
pub fn view_region(who: &Principal, region: RegionCode) -> RegionCode {
    if region.contains(who.region) {
        who.region
    } else {
        region
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    #[schema(example = "KKBC-2026")]
    pub code: String,
    #[schema(example = "Kerja Keras Bebas Cemas 2026")]
    pub name: String,
    /// The region it covers; empty for the nation.
    #[serde(default)]
    pub region: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaveBody {
    pub wave: u32,
    pub starts_on: String,
    pub ends_on: String,
    pub weeks: u32,
    pub villages: u64,
    pub basis: String,
}

fn wave_body(w: &Wave, villages: u64) -> WaveBody {
    WaveBody {
        wave: w.wave,
        starts_on: format_date(w.starts_on),
        ends_on: format_date(w.ends_on()),
        weeks: w.weeks,
        villages,
        basis: w.basis.clone(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelBody {
    /// Villages now at each stage.
    pub now: BTreeMap<String, u64>,
    /// Villages at or past each stage.
    pub reached: BTreeMap<String, u64>,
    pub sessions: u64,
    /// People at the sessions, by audience.
    pub attendance: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignBody {
    pub code: String,
    pub name: String,
    pub region: String,
    /// The part of the campaign shown (the caller's area within it).
    pub shown_for: String,
    pub waves: Vec<WaveBody>,
    pub funnel: FunnelBody,
}

async fn campaign_body(
    st: &AppState,
    c: &Campaign,
    within: RegionCode,
) -> Result<CampaignBody, ApiError> {
    let entries = st.store.plan_entries(&c.code, within).await?;
    let sessions = st.store.sessions(&c.code, within).await?;
    let f = analysis::funnel(&entries, &sessions);
    let waves = st.store.waves(&c.code).await?;
    Ok(CampaignBody {
        code: c.code.clone(),
        name: c.name.clone(),
        region: c.region.to_string(),
        shown_for: within.to_string(),
        waves: waves
            .iter()
            .map(|w| wave_body(w, f.waves.get(&w.wave).copied().unwrap_or(0)))
            .collect(),
        funnel: FunnelBody {
            now: Stage::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), f.at(*s)))
                .collect(),
            reached: Stage::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), f.reached(*s)))
                .collect(),
            sessions: f.sessions,
            attendance: f.attendance.clone(),
        },
    })
}

/// Create a campaign over a region. The same campaign again is a safe retry (200).
#[utoipa::path(post, path = "/api/v1/campaigns", request_body = CampaignInput,
    responses((status = 201, body = CampaignBody), (status = 200, body = CampaignBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_campaign(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: CampaignInput = json_body(&body, "a campaign object")?;
    let region = region_of("region", Some(&b.region))?.unwrap_or(RegionCode::NATION);
    let (c, created) = cakupan_app::campaign::add_campaign(
        &st,
        &caller.who,
        &caller.request_id,
        &b.code,
        &b.name,
        region,
    )
    .await?;
    let body = campaign_body(&st, &c, region).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(body)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AreaParams {
    /// A region inside the campaign (default: the caller's area within it).
    pub region: Option<String>,
}

fn area(caller: &Caller, c: &Campaign, region: Option<&str>) -> Result<RegionCode, ApiError> {
    let within = region_of("region", region)?.unwrap_or_else(|| view_region(&caller.who, c.region));
    if !c.region.contains(within) {
        return Err(invalid(
            "region",
            "campaign.outside",
            format!("{within} is outside campaign {}'s region", c.code),
        ));
    }
    caller.allow(Action::ReadCampaign, &Resource::Region(within))?;
    Ok(within)
}

/// A campaign: its waves and its funnel within a region.
#[utoipa::path(get, path = "/api/v1/campaigns/{code}",
    params(("code" = String, Path), ("region" = Option<String>, Query)),
    responses((status = 200, body = CampaignBody), (status = 404, body = ErrorBody)))]
pub async fn get_campaign(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<AreaParams>,
) -> Result<Json<CampaignBody>, ApiError> {
    let c = campaign_for(&st, &caller.who, &code).await?;
    let within = area(&caller, &c, q.region.as_deref())?;
    Ok(Json(campaign_body(&st, &c, within).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaveInput {
    /// The wave's first day: the retry key (a campaign has one wave a starting day).
    #[schema(example = "2027-01-04")]
    pub starts_on: String,
    #[serde(default = "four")]
    pub weeks: u32,
    #[serde(default = "two")]
    pub sessions_per_district_week: u32,
    #[serde(default = "one")]
    pub sessions_per_agent_week: u32,
}

fn four() -> u32 {
    4
}
fn two() -> u32 {
    2
}
fn one() -> u32 {
    1
}

/// Plan the campaign's next wave (the planner's proposal over its region, stored as editable
/// entries). A wave with the same first day already stored is returned as it is (200).
#[utoipa::path(post, path = "/api/v1/campaigns/{code}/waves", params(("code" = String, Path)),
    request_body = WaveInput,
    responses((status = 201, body = WaveBody), (status = 200, body = WaveBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_wave(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = campaign_for(&st, &caller.who, &code).await?;
    caller.allow(Action::ManageCampaign, &Resource::Region(c.region))?;
    let b: WaveInput = json_body(&body, "a wave object")?;
    let starts = date_of("starts_on", &b.starts_on)?;
    let (w, n, created) = analysis::plan_next_wave(
        &st,
        &caller.who,
        &caller.request_id,
        &c,
        starts,
        analysis::WaveCapacity {
            weeks: b.weeks,
            sessions_per_district_week: b.sessions_per_district_week,
            sessions_per_agent_week: b.sessions_per_agent_week,
        },
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(wave_body(&w, n))).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryBody {
    pub village: String,
    pub name: String,
    pub wave: u32,
    pub week: u32,
    pub stage: String,
    /// The planner's rank (0: added by hand) and the figures it ranked on.
    pub rank: u64,
    pub potential: f64,
    pub workers: f64,
    pub active: u64,
    pub informal_share: f64,
    pub awareness: f64,
    pub awareness_measured: bool,
    pub official: Option<String>,
    pub official_role: Option<String>,
    pub info_officer: Option<String>,
    pub agreed_on: Option<String>,
    pub signed_off_by: Option<String>,
    pub agents: Vec<String>,
}

pub fn entry_body(st: &AppState, e: &PlanEntry) -> EntryBody {
    let c = e.coordination.as_ref();
    EntryBody {
        village: e.village.to_string(),
        name: st
            .regions
            .get(e.village)
            .map(|r| r.name.clone())
            .unwrap_or_default(),
        wave: e.wave,
        week: e.week,
        stage: e.stage.as_str().into(),
        rank: e.rank as u64,
        potential: e.potential,
        workers: e.workers,
        active: e.active,
        informal_share: e.informal_share,
        awareness: e.awareness,
        awareness_measured: e.awareness_measured,
        official: c.map(|c| c.official.clone()),
        official_role: c.map(|c| c.official_role.clone()),
        info_officer: c.map(|c| c.info_officer.clone()),
        agreed_on: c.map(|c| format_date(c.agreed_on)),
        signed_off_by: c.map(|c| c.signed_off_by.clone()),
        agents: e.agents.clone(),
    }
}

/// The campaign's villages within a region, by wave, week and rank.
#[utoipa::path(get, path = "/api/v1/campaigns/{code}/villages",
    params(("code" = String, Path), ("region" = Option<String>, Query)),
    responses((status = 200, body = Vec<EntryBody>), (status = 404, body = ErrorBody)))]
pub async fn list_villages(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<AreaParams>,
) -> Result<Json<Vec<EntryBody>>, ApiError> {
    let c = campaign_for(&st, &caller.who, &code).await?;
    let within = area(&caller, &c, q.region.as_deref())?;
    let entries = st.store.plan_entries(&c.code, within).await?;
    Ok(Json(entries.iter().map(|e| entry_body(&st, e)).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddVillageInput {
    pub village: String,
    pub wave: u32,
    pub week: u32,
}

/// Add a village to a wave by hand (the planner's proposal edited). Its estimated workers and
/// informal share are the planner's; it has no rank. The same again is a retry (200).
#[utoipa::path(post, path = "/api/v1/campaigns/{code}/villages", params(("code" = String, Path)),
    request_body = AddVillageInput,
    responses((status = 201, body = EntryBody), (status = 200, body = EntryBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_village(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = campaign_for(&st, &caller.who, &code).await?;
    let b: AddVillageInput = json_body(&body, "a village to add")?;
    let village = analysis::village_code(&st, &b.village)?;
    let (stored, created) = analysis::add_village(
        &st,
        &caller.who,
        &caller.request_id,
        &c,
        village,
        (b.wave, b.week),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry_body(&st, &stored))).into_response())
}

/// Take a planned village out of its wave (never one coordinated or held).
#[utoipa::path(delete, path = "/api/v1/campaigns/{code}/villages/{village}",
    params(("code" = String, Path), ("village" = String, Path)),
    responses((status = 200), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn remove_village(
    State(st): State<AppState>,
    caller: Caller,
    Path((code, village)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (c, village) =
        campaign_village(&st, &caller, &code, &village, Action::ManageCampaign).await?;
    let removed =
        analysis::remove_village(&st, &caller.who, &caller.request_id, &c, village).await?;
    Ok(
        Json(serde_json::json!({"village": village.to_string(), "removed": removed}))
            .into_response(),
    )
}

/// The campaign and one of its villages (by path), as `caller` may `action` there.
async fn campaign_village(
    st: &AppState,
    caller: &Caller,
    code: &str,
    village: &str,
    action: Action,
) -> Result<(Campaign, RegionCode), ApiError> {
    let c = campaign_for(st, &caller.who, code).await?;
    let village = village_of(st, village)?;
    caller.allow(action, &Resource::Region(village))?;
    Ok((c, village))
}

fn village_of(st: &AppState, s: &str) -> Result<RegionCode, ApiError> {
    analysis::village_code(st, s)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoordinationInput {
    #[schema(example = "Asep Sunandar")]
    pub official: String,
    #[serde(default = "kepala_desa")]
    pub official_role: String,
    /// The village's public-information officer (PPID).
    pub info_officer: String,
    #[schema(example = "2026-12-01")]
    pub agreed_on: String,
}

fn kepala_desa() -> String {
    "Kepala Desa".into()
}

/// Changes one village's entry as `caller`, auditing it.
pub async fn change(
    st: &AppState,
    caller: &Caller,
    c: &Campaign,
    village: RegionCode,
    ch: &EntryChange,
    action: &str,
) -> Result<PlanEntry, ApiError> {
    let agents = match ch {
        EntryChange::Agents { .. } => {
            analysis::agents_serving(st.store.as_ref(), &st.rules, village, (st.today)()).await?
        }
        _ => Vec::new(),
    };
    let e = st
        .store
        .change_entry(&c.code, village, ch, &agents)
        .await?
        .ok_or_else(|| {
            invalid(
                "village",
                "session.not_in_campaign",
                format!("{village} is not a village of campaign {}", c.code),
            )
        })?;
    caller
        .audit(
            st,
            action,
            format!("campaign:{}/village:{village}", c.code),
            "campaign",
        )
        .await?;
    Ok(e)
}

/// The village official's coordination sign-off (planned → coordinated). The same sign-off
/// again is a retry; another official's after it is refused.
#[utoipa::path(post, path = "/api/v1/campaigns/{code}/villages/{village}/coordination",
    params(("code" = String, Path), ("village" = String, Path)), request_body = CoordinationInput,
    responses((status = 200, body = EntryBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sign_off(
    State(st): State<AppState>,
    caller: Caller,
    Path((code, village)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<EntryBody>, ApiError> {
    let (c, village) =
        campaign_village(&st, &caller, &code, &village, Action::SignOffCampaign).await?;
    let b: CoordinationInput = json_body(&body, "a coordination object")?;
    let ch = EntryChange::Coordinate(Coordination {
        official: b.official.trim().into(),
        official_role: b.official_role.trim().into(),
        info_officer: b.info_officer.trim().into(),
        agreed_on: agreed_on_not_after_today(&st, date_of("agreed_on", &b.agreed_on)?)
            .map_err(|e| ApiError::Invalid(e.into()))?,
        signed_off_by: caller.who.username.clone(),
        signed_off_at: cakupan_store::clock::now_secs(),
    });
    let e = change(&st, &caller, &c, village, &ch, "campaign.sign_off").await?;
    Ok(Json(entry_body(&st, &e)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    /// surveyed or followed_up.
    pub stage: Option<String>,
    /// The day of the stage (default today).
    pub on: Option<String>,
    pub week: Option<u32>,
    pub agents: Option<Vec<String>>,
}

/// Edit a village's entry: its week in the wave, its agents, or move it to surveyed or
/// followed up. Each change already made is a retry.
#[utoipa::path(post, path = "/api/v1/campaigns/{code}/villages/{village}",
    params(("code" = String, Path), ("village" = String, Path)), request_body = EntryInput,
    responses((status = 200, body = EntryBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn edit_village(
    State(st): State<AppState>,
    caller: Caller,
    Path((code, village)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<EntryBody>, ApiError> {
    let (c, village) =
        campaign_village(&st, &caller, &code, &village, Action::ManageCampaign).await?;
    let b: EntryInput = json_body(&body, "an entry change")?;
    let mut changes = Vec::new();
    if let Some(s) = &b.stage {
        let stage = Stage::parse(s.trim())
            .ok_or_else(|| invalid("stage", "campaign.stage", "surveyed or followed_up"))?;
        let on = match &b.on {
            Some(d) => date_of("on", d)?,
            None => (st.today)(),
        };
        changes.push(EntryChange::Stage { stage, on });
    }
    if let Some(w) = b.week {
        changes.push(EntryChange::Week { week: w });
    }
    if let Some(a) = &b.agents {
        changes.push(EntryChange::Agents { agents: a.clone() });
    }
    if changes.is_empty() {
        return Err(invalid(
            "body",
            "campaign.nothing",
            "give stage, week or agents",
        ));
    }
    let mut last = None;
    for ch in &changes {
        last = Some(change(&st, &caller, &c, village, ch, "campaign.edit").await?);
    }
    let e = last.ok_or_else(|| ApiError::Internal("no change made".into()))?;
    Ok(Json(entry_body(&st, &e)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionInput {
    /// The retry key.
    pub reference: String,
    pub village: String,
    pub held_on: String,
    pub place: String,
    /// People by audience code (farmer, fisher, fish_auction, market_trader, online_driver,
    /// other).
    pub attendance: BTreeMap<String, u32>,
}

/// Record a session in a village of the campaign (coordinated first), which moves it to held.
/// The same reference again with the same session is a retry (200).
#[utoipa::path(post, path = "/api/v1/campaigns/{code}/sessions", params(("code" = String, Path)),
    request_body = SessionInput,
    responses((status = 201), (status = 200), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_session(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = campaign_for(&st, &caller.who, &code).await?;
    let b: SessionInput = json_body(&body, "a session object")?;
    let village = village_of(&st, &b.village)?;
    caller.allow(Action::RecordFieldwork, &Resource::Region(village))?;
    let s = Session {
        reference: b.reference.trim().into(),
        campaign: c.code.clone(),
        village,
        held_on: date_of("held_on", &b.held_on)?,
        place: b.place.trim().into(),
        attendance: b.attendance.into_iter().collect(),
        recorded_by: caller.who.username.clone(),
    };
    record_session(&st, &caller, &s).await
}

/// Records a session as `caller` and audits it: 201 when new, 200 for a retry.
pub async fn record_session(
    st: &AppState,
    caller: &Caller,
    s: &Session,
) -> Result<Response, ApiError> {
    let created = st.store.add_session(&st.rules, s, (st.today)()).await?;
    caller
        .audit(
            st,
            "campaign.session",
            format!("campaign:{}/village:{}", s.campaign, s.village),
            "campaign",
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(
            serde_json::json!({"reference": s.reference, "village": s.village.to_string(),
                                "attendance": s.total(), "created": created}),
        ),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpliftParams {
    pub wave: u32,
}

/// A wave's uplift: enrolments (and enrolments that paid) in each reached village's weeks
/// after its session against the weeks before, compared with villages not yet reached
/// (difference in differences, 95% intervals), for everyone and by audience.
#[utoipa::path(get, path = "/api/v1/campaigns/{code}/uplift",
    params(("code" = String, Path), ("wave" = u32, Query)),
    responses((status = 200), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get_uplift(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<UpliftParams>,
) -> Result<Response, ApiError> {
    let c = campaign_for(&st, &caller.who, &code).await?;
    caller.allow(Action::ReadCampaign, &Resource::Region(c.region))?;
    let r = analysis::uplift(
        st.store.as_ref(),
        &st.rules,
        &st.regions,
        &c.code,
        q.wave,
        (st.today)(),
    )
    .await?;
    Ok(Json(r).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionnaireBody {
    #[schema(value_type = Object)]
    pub questionnaire: serde_json::Value,
    pub retired: bool,
}

/// The questionnaires, every version, retired ones marked.
#[utoipa::path(get, path = "/api/v1/questionnaires",
    responses((status = 200, body = Vec<QuestionnaireBody>), (status = 403, body = ErrorBody)))]
pub async fn list_questionnaires(
    State(st): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<QuestionnaireBody>>, ApiError> {
    caller.allow(Action::ReadCampaign, &Resource::Region(caller.who.region))?;
    let out = st
        .store
        .questionnaires()
        .await?
        .into_iter()
        .map(|q| QuestionnaireBody {
            questionnaire: serde_json::to_value(&q.questionnaire).unwrap_or_default(),
            retired: q.retired_at.is_some(),
        })
        .collect();
    Ok(Json(out))
}

/// Add a questionnaire version (head office). The same version again is a retry (200);
/// changed questions need a new version.
#[utoipa::path(post, path = "/api/v1/questionnaires",
    responses((status = 201), (status = 200), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_questionnaire(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.allow(Action::Administer, &Resource::System)?;
    let q: Questionnaire = json_body(&body, "a questionnaire")?;
    let created =
        cakupan_app::campaign::add_questionnaire(&st, &caller.who, &caller.request_id, &q).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::json!({"code": q.code, "version": q.version})),
    )
        .into_response())
}

/// Retire a questionnaire version: no more answers are taken on it.
#[utoipa::path(post, path = "/api/v1/questionnaires/{code}/{version}/retire",
    params(("code" = String, Path), ("version" = u32, Path)),
    responses((status = 200), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retire_questionnaire(
    State(st): State<AppState>,
    caller: Caller,
    Path((code, version)): Path<(String, u32)>,
) -> Result<Response, ApiError> {
    caller.allow(Action::Administer, &Resource::System)?;
    let now = cakupan_store::clock::now_secs();
    if !st.store.retire_questionnaire(&code, version, now).await? {
        return Err(ApiError::NotFound(format!(
            "no questionnaire {code} version {version}"
        )));
    }
    caller
        .audit(
            &st,
            "questionnaire.retire",
            format!("questionnaire:{code}/{version}"),
            "administration",
        )
        .await?;
    Ok(
        Json(serde_json::json!({"code": code, "version": version, "retired": true}))
            .into_response(),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyInput {
    pub code: String,
    pub questionnaire: String,
    pub version: u32,
    pub region: String,
    /// regions (working people of the villages) or registry (registered participants).
    #[serde(default = "regions")]
    pub frame: String,
    pub size: u64,
    #[serde(default = "two_u64")]
    pub min_per_stratum: u64,
    #[serde(default = "one_u64")]
    pub seed: u64,
    pub campaign: Option<String>,
    pub wave: Option<u32>,
}

fn regions() -> String {
    "regions".into()
}
fn two_u64() -> u64 {
    2
}
fn one_u64() -> u64 {
    1
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyBody {
    pub code: String,
    pub questionnaire: String,
    pub version: u32,
    pub region: String,
    pub frame: String,
    pub strata: u64,
    pub units: u64,
    pub population: u64,
}

/// Draw a survey's stratified random sample (strata: the districts of the region) and store
/// it. The same survey again is a retry (200).
#[utoipa::path(post, path = "/api/v1/surveys", request_body = SurveyInput,
    responses((status = 201, body = SurveyBody), (status = 200, body = SurveyBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_survey(
    State(st): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: SurveyInput = json_body(&body, "a survey object")?;
    let region = region_of("region", Some(&b.region))?.unwrap_or(RegionCode::NATION);
    let frame = Frame::parse(b.frame.trim())
        .ok_or_else(|| invalid("frame", "survey.frame", "regions or registry"))?;
    let drawn = cakupan_app::campaign::draw_survey(
        &st,
        &caller.who,
        &caller.request_id,
        &cakupan_app::campaign::SurveyDraw {
            code: b.code,
            campaign: b.campaign,
            wave: b.wave,
            questionnaire: b.questionnaire,
            version: b.version,
            region,
            frame,
            size: b.size,
            min_each: b.min_per_stratum,
            seed: b.seed,
        },
    )
    .await?;
    let (s, created) = (drawn.survey, drawn.created);
    let units = drawn.units;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(survey_body(&s, units))).into_response())
}

fn survey_body(s: &Survey, units: u64) -> SurveyBody {
    SurveyBody {
        code: s.code.clone(),
        questionnaire: s.questionnaire.clone(),
        version: s.version,
        region: s.region.to_string(),
        frame: s.frame.as_str().into(),
        strata: s.strata.len() as u64,
        units,
        population: s.strata.iter().map(|x| x.population).sum(),
    }
}

/// A survey the caller may see (its region or a part of it), with its questionnaire.
pub async fn survey_for(
    st: &AppState,
    who: &Principal,
    code: &str,
) -> Result<(Survey, Questionnaire, bool), ApiError> {
    let missing = || ApiError::NotFound("no survey with this code is visible to you".into());
    let s = st
        .store
        .surveys()
        .await?
        .into_iter()
        .find(|s| s.code == code)
        .ok_or_else(missing)?;
    let read = authorize(
        who,
        Action::ReadCampaign,
        &Resource::Region(view_region(who, s.region)),
    );
    read.map_err(|_| missing())?;
    let q = st
        .store
        .questionnaires()
        .await?
        .into_iter()
        .find(|q| q.questionnaire.code == s.questionnaire && q.questionnaire.version == s.version)
        .ok_or_else(|| ApiError::Internal("the survey's questionnaire is missing".into()))?;
    Ok((s, q.questionnaire, q.retired_at.is_some()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitBody {
    pub unit: u64,
    pub stratum: String,
    pub village: String,
    pub village_name: String,
    pub answered: bool,
}

/// The people to interview (numbered units) within the caller's area, and which are answered.
#[utoipa::path(get, path = "/api/v1/surveys/{code}/units",
    params(("code" = String, Path), ("region" = Option<String>, Query)),
    responses((status = 200, body = Vec<UnitBody>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_units(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<AreaParams>,
) -> Result<Json<Vec<UnitBody>>, ApiError> {
    let (s, _, _) = survey_for(&st, &caller.who, &code).await?;
    let within = region_of("region", q.region.as_deref())?
        .unwrap_or_else(|| view_region(&caller.who, s.region));
    caller.allow(Action::RecordFieldwork, &Resource::Region(within))?;
    Ok(Json(units_of(&st, &s, within).await?))
}

/// The units of a survey within a region with their answered flag.
pub async fn units_of(
    st: &AppState,
    s: &Survey,
    within: RegionCode,
) -> Result<Vec<UnitBody>, ApiError> {
    let answered: std::collections::HashSet<u64> = st
        .store
        .responses(&s.code)
        .await?
        .iter()
        .map(|r| r.unit)
        .collect();
    Ok(st
        .store
        .survey_units(&s.code, within)
        .await?
        .into_iter()
        .map(|u| UnitBody {
            unit: u.unit,
            stratum: u.stratum.to_string(),
            village: u.village.to_string(),
            village_name: st
                .regions
                .get(u.village)
                .map(|r| r.name.clone())
                .unwrap_or_default(),
            answered: answered.contains(&u.unit),
        })
        .collect())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseInput {
    pub unit: u64,
    pub version: u32,
    #[serde(default)]
    pub audience: String,
    /// Answers by question code, as typed ("ya", "4", "bank").
    pub answers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsesInput {
    pub responses: Vec<ResponseInput>,
}

/// Record survey responses: JSON, or a CSV upload (`Content-Type: text/csv`: unit, version,
/// audience, then one column per question). All or none; an answered unit answered the same
/// way is a retry; the same file twice is refused (`survey.duplicate_upload`).
#[utoipa::path(post, path = "/api/v1/surveys/{code}/responses", params(("code" = String, Path)),
    request_body = ResponsesInput,
    responses((status = 201), (status = 200), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_responses(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (s, q, _) = survey_for(&st, &caller.who, &code).await?;
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv") || v.starts_with("text/plain"));
    let (responses, upload) = if csv {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::BadRequest("the file must be UTF-8 text".into()))?;
        let rs = analysis::read_responses(&s.code, &q, text, &caller.who.username)?;
        let up = Upload {
            sha256: {
                use sha2::Digest as _;
                hex::encode(sha2::Sha256::digest(&body))
            },
            name: headers
                .get("x-file-name")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("upload.csv")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                .take(80)
                .collect(),
            rows: rs.len() as u64,
            uploaded_by: caller.who.username.clone(),
        };
        (rs, Some(up))
    } else {
        let b: ResponsesInput = json_body(&body, "an object with responses")?;
        if b.responses.len() > analysis::MAX_RESPONSES {
            return Err(invalid(
                "responses",
                "survey.too_many",
                format!("at most {} responses a request", analysis::MAX_RESPONSES),
            ));
        }
        let mut out = Vec::new();
        for (i, r) in b.responses.iter().enumerate() {
            let answers = q
                .read_answers(&r.answers)
                .map_err(|e| invalid(&format!("responses[{i}].{}", e.field), e.rule, e.message))?;
            out.push(cmp::Response {
                survey: s.code.clone(),
                unit: r.unit,
                version: r.version,
                audience: if r.audience.trim().is_empty() {
                    cakupan_domain::campaign::OTHER.into()
                } else {
                    r.audience.trim().into()
                },
                answers,
                recorded_by: caller.who.username.clone(),
            });
        }
        (out, None)
    };
    record_responses(&st, &caller, &s, &responses, upload.as_ref()).await
}

/// Records responses as `caller`: each unit must be in the caller's area (RecordFieldwork on
/// its village).
pub async fn record_responses(
    st: &AppState,
    caller: &Caller,
    s: &Survey,
    responses: &[cmp::Response],
    upload: Option<&Upload>,
) -> Result<Response, ApiError> {
    let units: std::collections::HashMap<u64, RegionCode> = st
        .store
        .survey_units(&s.code, RegionCode::NATION)
        .await?
        .into_iter()
        .map(|u| (u.unit, u.village))
        .collect();
    for (i, r) in responses.iter().enumerate() {
        let village = units.get(&r.unit).copied().unwrap_or(s.region);
        authorize(
            &caller.who,
            Action::RecordFieldwork,
            &Resource::Region(village),
        )
        .map_err(|d| ApiError::Forbidden(format!("responses[{i}]: {}", d.0)))?;
    }
    let added = st
        .store
        .add_responses(&st.rules, &s.code, responses, upload)
        .await?;
    caller
        .audit(
            st,
            "survey.responses",
            format!("survey:{}", s.code),
            "campaign",
        )
        .await?;
    let status = if added.added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::json!({"added": added.added, "unchanged": added.unchanged})),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResultsParams {
    /// all, audience or regency.
    pub by: Option<String>,
}

/// A survey's weighted results with 95% margins. Groups with fewer respondents than the
/// small-cell limit are withheld from roles that see aggregates only.
#[utoipa::path(get, path = "/api/v1/surveys/{code}/results",
    params(("code" = String, Path), ("by" = Option<String>, Query)),
    responses((status = 200), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_results(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<ResultsParams>,
) -> Result<Response, ApiError> {
    let by = match q.by.as_deref().unwrap_or("audience") {
        "all" => By::All,
        "audience" => By::Audience,
        "regency" => By::Regency,
        _ => return Err(invalid("by", "survey.by", "all, audience or regency")),
    };
    let r = results(&st, &caller.who, &code, by).await?;
    Ok(Json(r).into_response())
}

/// The results as `who` may see them.
pub async fn results(
    st: &AppState,
    who: &Principal,
    code: &str,
    by: By,
) -> Result<analysis::SurveyResults, ApiError> {
    let (s, q, _) = survey_for(st, who, code).await?;
    authorize(who, Action::ReadCampaign, &Resource::Region(s.region))
        .map_err(|d| ApiError::Forbidden(d.0.into()))?;
    let units = st.store.survey_units(&s.code, RegionCode::NATION).await?;
    let responses = st.store.responses(&s.code).await?;
    let mut r = analysis::survey_results(&s, &q, &units, &responses, by)?;
    if suppresses_small_cells(who.role) {
        let min = st.auth.policy.aggregate_min_cell;
        let before = r.rows.len();
        r.rows
            .retain(|row| row.group == "all" || row.respondents >= u64::from(min));
        if r.rows.len() < before {
            r.no_answers.push(format!(
                "{} estimates withheld: fewer than {min} respondents",
                before - r.rows.len()
            ));
        }
    }
    Ok(r)
}
