//! The village campaign's analyses (issue #8), shared by the CLI, the API and the pages: the
//! estimate of working people per village the planner and the survey frames use, survey
//! samples, weighted survey results, the campaign's funnel and its uplift.

use crate::auth::{allow, audit};
use cakupan_domain::agents::{AgentStatus, status_series};
use cakupan_domain::campaign::Stage;
use cakupan_domain::campaign::{
    self as dom, Candidate, Capacity, Estimate, OTHER, Plan, Uplift, Village, plan_wave,
};
use cakupan_domain::survey::{Answer, DomainStratum, Kind, Questionnaire};
use cakupan_domain::{FieldError, Level, RegionCode, RegionTree, RuleSet, bps};
use cakupan_store::agents::AgentFilter;
use cakupan_store::campaign::{
    Enrolment, Frame, PlanEntry, Response, Session, Stratum, Survey, Unit, Wave,
};
use cakupan_store::{Result, Store, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use time::{Date, Duration};

fn rejected(field: &str, rule: &'static str, message: String) -> StoreError {
    StoreError::Rejected(FieldError::new(field, rule, message).into())
}

/// Working people per village, by province, and the informal share of work, by province: the
/// only figures that exist (BPS Sakernas by province; no village-level labour figure is
/// published), with the basis in words for every output that uses them.
#[derive(Debug, Clone)]
pub struct Estimates {
    per_village: HashMap<u8, f64>,
    informal: HashMap<u8, f64>,
    national_informal: f64,
    pub unpublished_provinces: usize,
    pub basis: String,
}

impl Estimates {
    /// The province's employed persons shared equally among its villages; the provinces
    /// without a published figure share the rest of the national count by their villages.
    pub fn new(tree: &RegionTree) -> Result<Estimates, String> {
        let mut employed = bps::employed_by_province();
        let national = bps::national_employed(bps::EMPLOYED_PERIOD)
            .ok_or_else(|| format!("no national employed figure for {}", bps::EMPLOYED_PERIOD))?;
        let informal: HashMap<u8, f64> = bps::informal_share_by_province()
            .into_iter()
            .map(|(p, (s, _))| (p, s))
            .collect();
        let (national_informal, national_period) = bps::national_informal_share()
            .ok_or_else(|| "no national informal share in data/bps".to_string())?;
        let mut villages_in: HashMap<u8, u64> = HashMap::new();
        for v in tree.villages() {
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
        let per_village = villages_in
            .iter()
            .map(|(p, n)| {
                (
                    *p,
                    employed.get(p).copied().unwrap_or(0.0) / (*n).max(1) as f64,
                )
            })
            .collect();
        Ok(Estimates {
            per_village,
            informal,
            national_informal,
            unpublished_provinces: unpublished.len(),
            basis: format!(
                "workers: {} shared equally among each province's villages (no village figure exists; the {} provinces without a published figure share the rest of the national {:.1} million by their villages); informal share: the province's latest Sakernas figure, else the national {:.1}% ({national_period})",
                bps::EMPLOYED_SOURCE,
                unpublished.len(),
                national / 1e6,
                100.0 * national_informal
            ),
        })
    }

    /// Estimated working people living in `village`.
    pub fn workers(&self, village: RegionCode) -> f64 {
        self.per_village
            .get(&village.province_number())
            .copied()
            .unwrap_or(0.0)
    }

    pub fn informal_share(&self, village: RegionCode) -> f64 {
        self.informal
            .get(&village.province_number())
            .copied()
            .unwrap_or(self.national_informal)
    }
}

/// The villages of `within` (itself, if a village), by code.
pub fn villages_within(tree: &RegionTree, within: RegionCode) -> Vec<RegionCode> {
    tree.villages()
        .map(|v| v.code)
        .filter(|c| within == RegionCode::NATION || within.contains(*c))
        .collect()
}

/// A sample's design: the frame, the region, how many to ask (at least `min_each` per
/// stratum), and the seed that makes the draw reproducible.
#[derive(Debug, Clone, Copy)]
pub struct Design {
    pub frame: Frame,
    pub region: RegionCode,
    pub size: u64,
    pub min_each: u64,
    pub seed: u64,
}

/// Draws a survey's sample: strata are the districts of `region` (the region itself if a
/// district or village), each with its population (estimated workers, or registered
/// participations for a registry frame), the sample shared by `campaign::allocate` with at
/// least `min_each` per stratum, and positions drawn by `campaign::draw` from `seed` (stratum
/// i uses `seed + i`). A position is mapped to its village by cumulative population.
pub fn draw_sample(
    tree: &RegionTree,
    est: &Estimates,
    registry: &[(RegionCode, i64)],
    design: &Design,
) -> Result<(Vec<Stratum>, Vec<Unit>)> {
    let Design {
        frame,
        region,
        size,
        min_each,
        seed,
    } = *design;
    // Population units per village, by stratum, in code order.
    let mut strata: BTreeMap<RegionCode, Vec<(RegionCode, u64, Vec<i64>)>> = BTreeMap::new();
    match frame {
        Frame::Regions => {
            for v in villages_within(tree, region) {
                let n = est.workers(v).round() as u64;
                strata
                    .entry(v.truncate(Level::District))
                    .or_default()
                    .push((v, n, Vec::new()));
            }
        }
        Frame::Registry => {
            let mut by_village: BTreeMap<RegionCode, Vec<i64>> = BTreeMap::new();
            for (v, id) in registry {
                if region == RegionCode::NATION || region.contains(*v) {
                    by_village.entry(*v).or_default().push(*id);
                }
            }
            for (v, ids) in by_village {
                strata
                    .entry(v.truncate(Level::District))
                    .or_default()
                    .push((v, ids.len() as u64, ids));
            }
        }
    }
    strata.retain(|_, vs| vs.iter().any(|(_, n, _)| *n > 0));
    if strata.is_empty() {
        return Err(rejected(
            "region",
            "survey.empty_frame",
            format!("the frame of {region} holds no one to sample"),
        ));
    }
    let populations: Vec<u64> = strata
        .values()
        .map(|vs| vs.iter().map(|(_, n, _)| n).sum())
        .collect();
    let parts = dom::allocate(&populations, size, min_each)?;
    let mut out_strata = Vec::new();
    let mut units = Vec::new();
    for (i, ((code, villages), (&population, &n))) in strata
        .iter()
        .zip(populations.iter().zip(&parts))
        .enumerate()
    {
        out_strata.push(Stratum {
            code: *code,
            population,
            sample: n,
        });
        let positions = dom::draw(population, n, seed.wrapping_add(i as u64))?;
        let mut start = 0u64;
        let mut vi = 0usize;
        for p in positions {
            while vi < villages.len() && p >= start + villages[vi].1 {
                start += villages[vi].1;
                vi += 1;
            }
            let Some((village, _, ids)) = villages.get(vi) else {
                break;
            };
            let participant_id = ids
                .get(usize::try_from(p - start).unwrap_or(usize::MAX))
                .copied();
            units.push(Unit {
                unit: units.len() as u64 + 1,
                stratum: *code,
                village: *village,
                participant_id,
            });
        }
    }
    Ok((out_strata, units))
}

/// How results are broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    All,
    /// By the respondent's audience (farmer, fisher, …).
    Audience,
    /// By regency (groups of strata).
    Regency,
}

/// One estimate of one question (or one option of a choice) for one group.
#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    pub question: String,
    /// The option, for a choice (the share choosing it); empty otherwise.
    pub option: String,
    pub group: String,
    pub value: f64,
    pub margin: f64,
    pub low: f64,
    pub high: f64,
    pub respondents: u64,
    /// Estimated people of the group.
    pub population: u64,
}

/// A survey's weighted results.
#[derive(Debug, Clone, Serialize)]
pub struct SurveyResults {
    pub survey: String,
    pub questionnaire: String,
    pub version: u32,
    pub sampled: u64,
    pub responded: u64,
    pub rows: Vec<ResultRow>,
    /// Groups left out because no respondent of theirs answered (named, not hidden).
    pub no_answers: Vec<String>,
    /// Strata where no one has answered yet, and their people: the estimates speak for the
    /// rest of the population only.
    pub strata_unanswered: usize,
    pub population_unanswered: u64,
}

/// The estimates for every question of a survey, for everyone and for each group of `by`.
pub fn survey_results(
    survey: &Survey,
    questionnaire: &Questionnaire,
    units: &[Unit],
    responses: &[Response],
    by: By,
) -> Result<SurveyResults> {
    let unit_of: HashMap<u64, &Unit> = units.iter().map(|u| (u.unit, u)).collect();
    let stratum_of: HashMap<RegionCode, usize> = survey
        .strata
        .iter()
        .enumerate()
        .map(|(i, s)| (s.code, i))
        .collect();
    // Respondents per stratum, with their group.
    let mut per_stratum: Vec<Vec<(&Response, String)>> = vec![Vec::new(); survey.strata.len()];
    for r in responses {
        let Some(u) = unit_of.get(&r.unit) else {
            continue;
        };
        let Some(&i) = stratum_of.get(&u.stratum) else {
            continue;
        };
        let group = match by {
            By::All => String::new(),
            By::Audience => r.audience.clone(),
            By::Regency => u.stratum.truncate(Level::Regency).to_string(),
        };
        per_stratum[i].push((r, group));
    }
    let mut groups: Vec<String> = vec![String::new()];
    let mut seen = HashSet::new();
    for s in &per_stratum {
        for (_, g) in s {
            if !g.is_empty() && seen.insert(g.clone()) {
                groups.push(g.clone());
            }
        }
    }
    groups[1..].sort();
    let mut rows = Vec::new();
    let mut no_answers = Vec::new();
    for q in &questionnaire.questions {
        // (option, value of an answer) pairs: one for yes/no and numbers, one per option.
        let options: Vec<Option<&str>> = match &q.kind {
            Kind::Choice { options, .. } => options.iter().map(|o| Some(o.as_str())).collect(),
            _ => vec![None],
        };
        for opt in options {
            for g in &groups {
                let strata: Vec<DomainStratum> = survey
                    .strata
                    .iter()
                    .zip(&per_stratum)
                    .map(|(st, rs)| {
                        let mut values = Vec::new();
                        let mut others = 0u64;
                        for (r, rg) in rs {
                            let v = r.answers.get(&q.code).map(|a| match (a, opt) {
                                (Answer::Number(n), None) => *n as f64,
                                (Answer::Choice(c), Some(o)) => f64::from(u8::from(c == o)),
                                _ => f64::NAN,
                            });
                            match v {
                                Some(v) if (g.is_empty() || g == rg) && v.is_finite() => {
                                    values.push(v)
                                }
                                _ => others += 1,
                            }
                        }
                        DomainStratum {
                            population: st.population,
                            values,
                            others,
                        }
                    })
                    .collect();
                match cakupan_domain::survey::domain_mean(&strata) {
                    Ok(e) => rows.push(row(&q.code, opt.unwrap_or(""), g, &e)),
                    Err(e) if e.rule == "survey.no_answers" => {
                        let name = format!(
                            "{}{}",
                            q.code,
                            if g.is_empty() {
                                String::new()
                            } else {
                                format!(" / {g}")
                            }
                        );
                        if !no_answers.contains(&name) {
                            no_answers.push(name);
                        }
                    }
                    Err(e) => return Err(StoreError::Rejected(e.into())),
                }
            }
        }
    }
    let unanswered: Vec<&Stratum> = survey
        .strata
        .iter()
        .zip(&per_stratum)
        .filter(|(_, rs)| rs.is_empty())
        .map(|(s, _)| s)
        .collect();
    Ok(SurveyResults {
        strata_unanswered: unanswered.len(),
        population_unanswered: unanswered.iter().map(|s| s.population).sum(),
        survey: survey.code.clone(),
        questionnaire: questionnaire.code.clone(),
        version: questionnaire.version,
        sampled: units.len() as u64,
        responded: responses.len() as u64,
        rows,
        no_answers,
    })
}

fn row(question: &str, option: &str, group: &str, e: &Estimate) -> ResultRow {
    ResultRow {
        question: question.into(),
        option: option.into(),
        group: if group.is_empty() {
            "all".into()
        } else {
            group.into()
        },
        value: e.value,
        margin: e.margin,
        low: e.low(),
        high: e.high(),
        respondents: e.respondents,
        population: e.population,
    }
}

/// The campaign's funnel within a region: villages by stage, sessions, attendance by
/// audience.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Funnel {
    pub planned: u64,
    pub coordinated: u64,
    pub surveyed: u64,
    pub held: u64,
    pub followed_up: u64,
    pub sessions: u64,
    pub attendance: BTreeMap<String, u64>,
    /// Villages by wave.
    pub waves: BTreeMap<u32, u64>,
}

impl Funnel {
    fn counts(&self) -> [u64; 5] {
        [
            self.planned,
            self.coordinated,
            self.surveyed,
            self.held,
            self.followed_up,
        ]
    }

    /// Villages now at `stage`.
    pub fn at(&self, stage: Stage) -> u64 {
        let i = Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0);
        self.counts()[i]
    }

    /// Villages at or past `stage`: the funnel's bars (surveying is optional, so villages
    /// held without a survey count as past it).
    pub fn reached(&self, stage: Stage) -> u64 {
        let i = Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0);
        self.counts()[i..].iter().sum()
    }
}

pub fn funnel(entries: &[PlanEntry], sessions: &[Session]) -> Funnel {
    let mut f = Funnel::default();
    for e in entries {
        *match e.stage {
            Stage::Planned => &mut f.planned,
            Stage::Coordinated => &mut f.coordinated,
            Stage::Surveyed => &mut f.surveyed,
            Stage::Held => &mut f.held,
            Stage::FollowedUp => &mut f.followed_up,
        } += 1;
        *f.waves.entry(e.wave).or_default() += 1;
    }
    for s in sessions {
        f.sessions += 1;
        for (a, n) in &s.attendance {
            *f.attendance.entry(a.clone()).or_default() += u64::from(*n);
        }
    }
    f
}

/// One uplift estimate: an outcome, for one audience ("all" for everyone).
#[derive(Debug, Clone, Serialize)]
pub struct UpliftRow {
    /// `enrolments` or `paying_enrolments` (enrolments whose first payment fell in the window).
    pub outcome: String,
    pub audience: String,
    #[serde(flatten)]
    pub estimate: Uplift,
    /// The outcome the campaign added in the reached villages: effect × villages reached,
    /// with the interval likewise.
    pub attributed: f64,
    pub attributed_low: f64,
    pub attributed_high: f64,
}

/// A wave's uplift: per village, outcomes in the `window_weeks` weeks from its session against
/// the same weeks before it, reached villages against comparison villages over the same
/// dates (difference in differences).
#[derive(Debug, Clone, Serialize)]
pub struct UpliftReport {
    pub campaign: String,
    pub wave: u32,
    pub window_weeks: u32,
    /// How the comparison villages were chosen.
    pub comparison_basis: String,
    /// The same in parts, for the pages to say in their language: not reached before this
    /// day, and whether villages outside the campaign were added.
    pub comparison_until: String,
    pub comparison_outside: bool,
    /// The date the comparison villages are measured around (the reached villages' median
    /// session date).
    pub reference_date: String,
    /// Reached villages left out because their window has not ended.
    pub still_open: usize,
    pub rows: Vec<UpliftRow>,
}

/// The uplift of wave `wave` of `campaign` on `today`.
pub async fn uplift(
    store: &dyn Store,
    rules: &RuleSet,
    tree: &RegionTree,
    campaign: &str,
    wave: u32,
    today: Date,
) -> Result<UpliftReport> {
    let entries = store.plan_entries(campaign, RegionCode::NATION).await?;
    let sessions = store.sessions(campaign, RegionCode::NATION).await?;
    let Some(c) = store
        .campaigns()
        .await?
        .into_iter()
        .find(|c| c.code == campaign)
    else {
        return Err(cakupan_store::campaign::no_campaign(campaign));
    };
    let mut first: HashMap<RegionCode, Date> = HashMap::new();
    for s in &sessions {
        let d = first.entry(s.village).or_insert(s.held_on);
        if s.held_on < *d {
            *d = s.held_on;
        }
    }
    let rule = rules
        .campaign_planner(cakupan_domain::Month::of(today))
        .ok_or_else(|| {
            rejected(
                "campaign",
                "campaign.no_rule",
                "no campaign rule in force".into(),
            )
        })?;
    let window = Duration::days(7 * i64::from(rule.uplift_window_weeks));
    let mut reached: Vec<(RegionCode, Date)> = Vec::new();
    let mut still_open = 0;
    for e in entries.iter().filter(|e| e.wave == wave) {
        if let Some(d) = first.get(&e.village) {
            if *d + window - Duration::days(1) <= today {
                reached.push((e.village, *d));
            } else {
                still_open += 1;
            }
        }
    }
    if reached.len() < 2 {
        return Err(rejected(
            "wave",
            "uplift.too_few",
            format!(
                "{} villages of wave {wave} have had a session and a full {}-week window since: at least two are needed",
                reached.len(),
                rule.uplift_window_weeks
            ),
        ));
    }
    let mut dates: Vec<Date> = reached.iter().map(|(_, d)| *d).collect();
    dates.sort();
    let reference = dates[dates.len() / 2];
    let last_after = dates[dates.len() - 1] + window;
    // Comparison: the campaign's villages of this wave or later ones not reached before the
    // last reached village's window ended; if fewer than two, with them the region's villages
    // outside the campaign in the districts of the reached villages.
    let reached_set: HashSet<RegionCode> = reached.iter().map(|(v, _)| *v).collect();
    let not_yet = |v: &RegionCode| first.get(v).is_none_or(|d| *d >= last_after);
    let mut comparison: Vec<RegionCode> = entries
        .iter()
        .filter(|e| e.wave >= wave && !reached_set.contains(&e.village) && not_yet(&e.village))
        .map(|e| e.village)
        .collect();
    let mut comparison_outside = false;
    let mut comparison_basis = format!(
        "villages of this or later waves of {campaign} with no session before {}",
        cakupan_domain::month::format_date(last_after)
    );
    if comparison.len() < 2 {
        let in_campaign: HashSet<RegionCode> = entries.iter().map(|e| e.village).collect();
        let districts: HashSet<RegionCode> = reached
            .iter()
            .map(|(v, _)| v.truncate(Level::District))
            .collect();
        comparison.extend(villages_within(tree, c.region).into_iter().filter(|v| {
            !in_campaign.contains(v) && districts.contains(&v.truncate(Level::District))
        }));
        comparison_basis.push_str(
            ", and, being too few, the villages of the same districts outside the campaign",
        );
        comparison_outside = true;
    }
    let all: Vec<RegionCode> = reached
        .iter()
        .map(|(v, _)| *v)
        .chain(comparison.iter().copied())
        .collect();
    let from = dates[0].min(reference) - window;
    let to = last_after.max(reference + window);
    let enrolments = store.enrolments_in(&all, from, to).await?;
    let mut by_village: HashMap<RegionCode, Vec<&Enrolment>> = HashMap::new();
    for e in &enrolments {
        by_village.entry(e.village).or_default().push(e);
    }
    let mut audiences: Vec<String> = vec!["all".into()];
    audiences.extend(rules.campaign_audiences.iter().map(|a| a.code.clone()));
    audiences.push(OTHER.into());
    let audience_of = |occ: &str| -> &str {
        rules
            .campaign_audience_of(occ)
            .map_or(OTHER, |a| a.code.as_str())
    };
    let mut rows = Vec::new();
    for outcome in ["enrolments", "paying_enrolments"] {
        for aud in &audiences {
            let count = |v: &RegionCode, lo: Date, hi: Date| -> f64 {
                by_village.get(v).map_or(0.0, |es| {
                    es.iter()
                        .filter(|e| aud == "all" || audience_of(&e.occupation) == aud)
                        .filter(|e| {
                            let on = if outcome == "enrolments" {
                                Some(e.registered_on)
                            } else {
                                e.first_paid
                            };
                            on.is_some_and(|d| d >= lo && d < hi)
                        })
                        .count() as f64
                })
            };
            let villages: Vec<Village> = reached
                .iter()
                .map(|(v, d)| Village {
                    reached: true,
                    before: count(v, *d - window, *d),
                    after: count(v, *d, *d + window),
                })
                .chain(comparison.iter().map(|v| Village {
                    reached: false,
                    before: count(v, reference - window, reference),
                    after: count(v, reference, reference + window),
                }))
                .collect();
            let u: Uplift = match dom::difference_in_differences(&villages) {
                Ok(u) => u,
                Err(e) => return Err(StoreError::Rejected(e.into())),
            };
            if aud != "all"
                && u.change_reached == 0.0
                && u.change_comparison == 0.0
                && u.std_error == 0.0
            {
                continue; // nobody of this audience enrolled anywhere: nothing to say
            }
            rows.push(UpliftRow {
                outcome: outcome.into(),
                audience: aud.clone(),
                estimate: u,
                attributed: u.effect * u.reached as f64,
                attributed_low: u.low * u.reached as f64,
                attributed_high: u.high * u.reached as f64,
            });
        }
    }
    Ok(UpliftReport {
        campaign: campaign.into(),
        wave,
        window_weeks: rule.uplift_window_weeks,
        comparison_basis,
        comparison_until: cakupan_domain::month::format_date(last_after),
        comparison_outside,
        reference_date: cakupan_domain::month::format_date(reference),
        still_open,
        rows,
    })
}

/// What a plan took, for `cakupan bench plan` and the pages.
#[derive(Debug, Clone)]
pub struct Timed {
    pub plan: Plan,
    pub villages: usize,
    pub read_ms: f64,
    pub plan_ms: f64,
    pub basis: String,
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanInput {
    pub month: cakupan_domain::Month,
    pub within: RegionCode,
    /// Weeks, sessions a district hosts a week, sessions an agent runs a week.
    pub capacity: (u32, u32, u32),
    /// Villages already in the campaign: not proposed again.
    pub reached: HashSet<RegionCode>,
    /// Agents per district to assume instead of the directory's (a simulation).
    pub assume_agents: Option<u32>,
    /// Awareness measured by surveys, by district (`measured_awareness`).
    pub awareness: HashMap<RegionCode, f64>,
}

/// Awareness measured by the surveys of `campaign`, by district: in each survey whose
/// questionnaire has a yes/no question that measures awareness, each stratum (a district)
/// with at least the rules' minimum of respondents to it gives the share answering yes (within
/// a stratum every respondent weighs the same); where several surveys measured a district, the
/// one with the most respondents there.
pub async fn measured_awareness(
    store: &dyn Store,
    rules: &RuleSet,
    campaign: &str,
    month: cakupan_domain::Month,
) -> Result<HashMap<RegionCode, f64>> {
    let Some(rule) = rules.campaign_planner(month) else {
        return Ok(HashMap::new());
    };
    let questionnaires = store.questionnaires().await?;
    let mut best: HashMap<RegionCode, (u64, f64)> = HashMap::new();
    for s in store.surveys().await? {
        if s.campaign.as_deref() != Some(campaign) {
            continue;
        }
        let Some(q) = questionnaires.iter().find(|q| {
            q.questionnaire.code == s.questionnaire && q.questionnaire.version == s.version
        }) else {
            continue;
        };
        let Some(question) =
            q.questionnaire.questions.iter().find(|x| {
                x.measures.as_deref() == Some(cakupan_domain::survey::MEASURES_AWARENESS)
            })
        else {
            continue;
        };
        let stratum_of: HashMap<u64, RegionCode> = store
            .survey_units(&s.code, RegionCode::NATION)
            .await?
            .into_iter()
            .map(|u| (u.unit, u.stratum))
            .collect();
        let mut tally: HashMap<RegionCode, (u64, u64)> = HashMap::new();
        for r in store.responses(&s.code).await? {
            if let (Some(st), Some(Answer::Number(v))) =
                (stratum_of.get(&r.unit), r.answers.get(&question.code))
            {
                let t = tally.entry(*st).or_default();
                t.0 += 1;
                t.1 += u64::from(*v == 1);
            }
        }
        for (district, (n, yes)) in tally {
            if n < u64::from(rule.awareness_min_respondents) {
                continue;
            }
            let b = best.entry(district).or_insert((0, 0.0));
            if n > b.0 {
                *b = (n, yes as f64 / n as f64);
            }
        }
    }
    Ok(best.into_iter().map(|(d, (_, a))| (d, a)).collect())
}

/// The agents active in `month`, counted once in each district they serve a village of.
async fn agents_by_district(
    store: &dyn Store,
    rules: &RuleSet,
    within: RegionCode,
    month: cakupan_domain::Month,
) -> Result<HashMap<RegionCode, u32>> {
    let mut agents: HashMap<RegionCode, u32> = HashMap::new();
    for r in store.agent_records(AgentFilter::Within(within)).await? {
        let now = status_series(
            rules,
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
    Ok(agents)
}

/// The codes of the agents active in the month of `on` who serve `village`.
pub async fn agents_serving(
    store: &dyn Store,
    rules: &RuleSet,
    village: RegionCode,
    on: Date,
) -> Result<Vec<String>> {
    let month = cakupan_domain::Month::of(on);
    let mut out = Vec::new();
    for r in store
        .agent_records(AgentFilter::Within(village.truncate(Level::Regency)))
        .await?
    {
        if !r.agent.villages.contains(&village) {
            continue;
        }
        let now = status_series(
            rules,
            r.agent.appointed,
            &r.active_months(),
            &r.events,
            month,
        );
        if now.last().map(|s| s.status) == Some(AgentStatus::Active) {
            out.push(r.agent.code.clone());
        }
    }
    Ok(out)
}

/// The candidates (every village of `within`) and the capacity of each district, then the
/// plan. Workers and informal share: [`Estimates`] (BPS Sakernas by province); awareness:
/// none measured yet (the rules' prior); agents: active ones by district.
pub async fn plan_all(
    store: &dyn Store,
    tree: &RegionTree,
    rules: &RuleSet,
    input: &PlanInput,
) -> Result<Timed> {
    let started = std::time::Instant::now();
    let month = input.month;
    let rule = rules.campaign_planner(month).ok_or_else(|| {
        rejected(
            "month",
            "campaign.no_rule",
            format!("no campaign_planner rule in force in {month}"),
        )
    })?;
    let active: HashMap<String, i64> = store
        .active_report(Level::Village, input.within, None, month)
        .await?
        .into_iter()
        .map(|r| (r.code, r.status_active))
        .collect();
    let villages = villages_within(tree, input.within);
    let agents = match input.assume_agents {
        Some(n) => villages
            .iter()
            .map(|v| (v.truncate(Level::District), n))
            .collect(),
        None => agents_by_district(store, rules, input.within, month).await?,
    };
    let est =
        Estimates::new(tree).map_err(|e| StoreError::Corrupt(format!("reference data: {e}")))?;
    let candidates: Vec<Candidate> = villages
        .iter()
        .map(|v| Candidate {
            village: *v,
            workers: est.workers(*v),
            active: u64::try_from(active.get(&v.to_string()).copied().unwrap_or(0)).unwrap_or(0),
            informal_share: est.informal_share(*v),
            awareness: input.awareness.get(&v.truncate(Level::District)).copied(),
            reached: input.reached.contains(v),
        })
        .collect();
    let read_ms = started.elapsed().as_secs_f64() * 1e3;
    let (weeks, per_district, per_agent) = input.capacity;
    let t = std::time::Instant::now();
    let plan = plan_wave(
        rule,
        &candidates,
        &Capacity {
            weeks,
            sessions_per_district_week: per_district,
            sessions_per_agent_week: per_agent,
            agents,
        },
    )?;
    let plan_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(Timed {
        plan,
        villages: candidates.len(),
        read_ms,
        plan_ms,
        basis: format!(
            "{}; awareness: {}{}",
            est.basis,
            if input.awareness.is_empty() {
                "no survey yet, the rules' prior".to_string()
            } else {
                format!(
                    "measured by the campaign's surveys in {} districts (the share who had heard of the programmes), the rules' prior elsewhere",
                    input.awareness.len()
                )
            },
            if input.assume_agents.is_some() {
                "; agents: assumed in every district (simulation)"
            } else {
                ""
            }
        ),
    })
}

/// The plan's chosen villages as a campaign's entries.
pub fn entries_of(campaign: &str, wave: u32, plan: &Plan) -> Vec<PlanEntry> {
    plan.chosen
        .iter()
        .map(|c| PlanEntry {
            campaign: campaign.into(),
            village: c.village,
            wave,
            week: c.week,
            rank: c.rank,
            potential: c.potential,
            workers: c.workers,
            active: c.active,
            informal_share: c.informal_share,
            awareness: c.awareness,
            awareness_measured: c.awareness_measured,
            stage: Stage::Planned,
            coordination: None,
            agents: Vec::new(),
            surveyed_on: None,
            followed_up_on: None,
        })
        .collect()
}

/// A village added to a wave by hand: the planner's estimates of its workers and informal
/// share, the rules' prior awareness in `month`, no rank.
pub fn hand_entry(
    est: &Estimates,
    rules: &RuleSet,
    campaign: &str,
    village: RegionCode,
    (wave, week): (u32, u32),
    month: cakupan_domain::Month,
) -> PlanEntry {
    PlanEntry {
        campaign: campaign.into(),
        village,
        wave,
        week,
        rank: 0,
        potential: 0.0,
        workers: est.workers(village),
        active: 0,
        informal_share: est.informal_share(village),
        awareness: rules
            .campaign_planner(month)
            .map_or(0.0, |r| r.prior_awareness_ppm as f64 / 1e6),
        awareness_measured: false,
        stage: Stage::Planned,
        coordination: None,
        agents: Vec::new(),
        surveyed_on: None,
        followed_up_on: None,
    }
}

/// The next wave to plan and store.
#[derive(Debug, Clone)]
pub struct NextWave {
    pub campaign: String,
    pub starts: Date,
    pub capacity: (u32, u32, u32),
    pub assume_agents: Option<u32>,
    pub by: String,
}

/// Plans the next wave of a campaign over its region (never a village already in it) and
/// stores the proposal as the wave's entries.
pub async fn store_next_wave(
    store: &dyn Store,
    tree: &RegionTree,
    rules: &RuleSet,
    next: &NextWave,
) -> Result<(Wave, Timed)> {
    let c = store
        .campaigns()
        .await?
        .into_iter()
        .find(|c| c.code == next.campaign)
        .ok_or_else(|| cakupan_store::campaign::no_campaign(&next.campaign))?;
    let waves = store.waves(&next.campaign).await?;
    let reached: HashSet<RegionCode> = store
        .plan_entries(&next.campaign, RegionCode::NATION)
        .await?
        .into_iter()
        .map(|e| e.village)
        .collect();
    let month = cakupan_domain::Month::of(next.starts);
    let awareness = measured_awareness(store, rules, &next.campaign, month).await?;
    let t = plan_all(
        store,
        tree,
        rules,
        &PlanInput {
            month,
            within: c.region,
            capacity: next.capacity,
            reached,
            assume_agents: next.assume_agents,
            awareness,
        },
    )
    .await?;
    let wave = Wave {
        campaign: next.campaign.clone(),
        wave: waves.last().map_or(1, |w| w.wave + 1),
        starts_on: next.starts,
        weeks: next.capacity.0,
        basis: t.basis.clone(),
        planned_by: next.by.clone(),
    };
    store
        .add_wave(&wave, &entries_of(&next.campaign, wave.wave, &t.plan))
        .await?;
    Ok((wave, t))
}

/// The most responses one upload may carry.
pub const MAX_RESPONSES: usize = 20_000;

/// Reads a responses CSV (header: `unit`, `version`, `audience`, then one column per question
/// code) into responses recorded by `by`. Errors name the line and the column
/// (`responses[line N].answers.aware`).
pub fn read_responses(
    survey: &str,
    q: &Questionnaire,
    text: &str,
    by: &str,
) -> Result<Vec<Response>> {
    let bad = |field: String, rule: &'static str, message: String| {
        StoreError::Rejected(FieldError::new(field, rule, message).into())
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| bad("file".into(), "csv.header", format!("no header line: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    for need in ["unit", "version", "audience"] {
        if !header.iter().any(|h| h == need) {
            return Err(bad(
                "file".into(),
                "csv.header",
                format!(
                    "the header has no column {need} (unit, version, audience, then one column per question)"
                ),
            ));
        }
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let field = |f: &str| format!("line {line}.{f}");
        if out.len() >= MAX_RESPONSES {
            return Err(bad(
                "file".into(),
                "survey.too_many",
                format!("at most {MAX_RESPONSES} responses an upload"),
            ));
        }
        let rec = rec.map_err(|e| bad(field("row"), "csv.columns", e.to_string()))?;
        let mut raw = BTreeMap::new();
        let mut unit = None;
        let mut version = None;
        let mut audience = String::new();
        for (h, v) in header.iter().zip(rec.iter()) {
            match h.as_str() {
                "unit" => {
                    unit = Some(v.parse::<u64>().map_err(|_| {
                        bad(
                            field("unit"),
                            "survey.unit",
                            "a unit number from the survey's list".into(),
                        )
                    })?)
                }
                "version" => {
                    version = Some(v.parse::<u32>().map_err(|_| {
                        bad(
                            field("version"),
                            "survey.version",
                            "the questionnaire version answered".into(),
                        )
                    })?)
                }
                "audience" => audience = v.to_string(),
                _ => {
                    raw.insert(h.clone(), v.to_string());
                }
            }
        }
        let answers = q
            .read_answers(&raw)
            .map_err(|e| bad(field(&e.field), e.rule, e.message))?;
        out.push(Response {
            survey: survey.into(),
            unit: unit.unwrap_or(0),
            version: version.unwrap_or(0),
            audience: if audience.is_empty() {
                OTHER.into()
            } else {
                audience
            },
            answers,
            recorded_by: by.into(),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The campaign's writes: one path for the API and the CLI (rights checked, audited).

/// The region a campaign or survey names, refused when the region tree does not hold it.
fn known_region(
    st: &crate::Context,
    region: RegionCode,
) -> std::result::Result<(), crate::AppError> {
    if region != RegionCode::NATION && !st.regions.contains_code(region) {
        return Err(crate::AppError::Invalid(
            FieldError::new(
                "region",
                "region.unknown",
                format!("{region} is not a region"),
            )
            .into(),
        ));
    }
    Ok(())
}

/// Creates campaign `code` over `region` as `who` asks (its area must hold the region); the
/// same campaign again is a retry (false).
pub async fn add_campaign(
    st: &crate::Context,
    who: &cakupan_domain::access::Principal,
    request_id: &str,
    code: &str,
    name: &str,
    region: RegionCode,
) -> std::result::Result<(cakupan_store::campaign::Campaign, bool), crate::AppError> {
    use cakupan_domain::access::{Action, Resource};
    known_region(st, region)?;
    allow(who, Action::ManageCampaign, &Resource::Region(region))?;
    let c = cakupan_store::campaign::Campaign {
        code: code.trim().into(),
        name: name.trim().into(),
        region,
        created_by: who.username.clone(),
    };
    let created = st.store.add_campaign(&c).await?;
    audit(
        st,
        who,
        request_id,
        "campaign.add",
        format!("campaign:{}", c.code),
        "campaign",
    )
    .await?;
    Ok((c, created))
}

/// Adds a questionnaire version (head office); the same version again is a retry (false).
pub async fn add_questionnaire(
    st: &crate::Context,
    who: &cakupan_domain::access::Principal,
    request_id: &str,
    q: &Questionnaire,
) -> std::result::Result<bool, crate::AppError> {
    use cakupan_domain::access::{Action, Resource};
    allow(who, Action::Administer, &Resource::System)?;
    let created = st.store.add_questionnaire(q).await?;
    audit(
        st,
        who,
        request_id,
        "questionnaire.add",
        format!("questionnaire:{}/{}", q.code, q.version),
        "administration",
    )
    .await?;
    Ok(created)
}

/// A survey to draw, as the API and the CLI name it.
#[derive(Debug, Clone)]
pub struct SurveyDraw {
    pub code: String,
    pub campaign: Option<String>,
    pub wave: Option<u32>,
    pub questionnaire: String,
    pub version: u32,
    pub region: RegionCode,
    pub frame: Frame,
    /// People to sample: at most the campaign planner rule's `max_survey_sample`.
    pub size: u64,
    pub min_each: u64,
    pub seed: u64,
}

/// A survey drawn: the survey, its units' count, whether it is new, and the basis of the
/// frame's population (estimated workers, or registered participations).
#[derive(Debug, Clone)]
pub struct Drawn {
    pub survey: Survey,
    pub units: u64,
    pub created: bool,
    pub basis: String,
}

/// Draws a survey's stratified random sample (strata: the districts of the region) and stores
/// it as `who` asks (their area must hold the region); the same survey again is a retry.
pub async fn draw_survey(
    st: &crate::Context,
    who: &cakupan_domain::access::Principal,
    request_id: &str,
    d: &SurveyDraw,
) -> std::result::Result<Drawn, crate::AppError> {
    use cakupan_domain::access::{Action, Resource};
    known_region(st, d.region)?;
    allow(who, Action::ManageCampaign, &Resource::Region(d.region))?;
    let planner = st
        .rules
        .campaign_planner(cakupan_domain::Month::of((st.today)()))
        .ok_or_else(|| {
            crate::AppError::Internal(
                "rules/campaign.toml has no campaign_planner row in force".into(),
            )
        })?;
    if d.size > planner.max_survey_sample {
        return Err(crate::AppError::Invalid(
            FieldError::new(
                "size",
                "sample.too_large",
                format!("at most {} people a survey", planner.max_survey_sample),
            )
            .into(),
        ));
    }
    let registry = if d.frame == Frame::Registry {
        st.store.participation_ids_in(d.region).await?
    } else {
        Vec::new()
    };
    let est = Estimates::new(&st.regions).map_err(crate::AppError::Internal)?;
    let (strata, units) = draw_sample(
        &st.regions,
        &est,
        &registry,
        &Design {
            frame: d.frame,
            region: d.region,
            size: d.size,
            min_each: d.min_each,
            seed: d.seed,
        },
    )?;
    let s = Survey {
        code: d.code.trim().into(),
        campaign: d.campaign.clone(),
        wave: d.wave,
        questionnaire: d.questionnaire.trim().into(),
        version: d.version,
        region: d.region,
        frame: d.frame,
        seed: d.seed,
        strata,
        created_by: who.username.clone(),
    };
    let created = st.store.add_survey(&s, &units).await?;
    audit(
        st,
        who,
        request_id,
        "survey.draw",
        format!("survey:{}", s.code),
        "campaign",
    )
    .await?;
    let basis = match d.frame {
        Frame::Regions => est.basis.clone(),
        Frame::Registry => "registered participations".into(),
    };
    Ok(Drawn {
        survey: s,
        units: units.len() as u64,
        created,
        basis,
    })
}

/// The capacity of a wave as planned: weeks, sessions a district holds a week, sessions an
/// agent attends a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaveCapacity {
    pub weeks: u32,
    pub sessions_per_district_week: u32,
    pub sessions_per_agent_week: u32,
}

/// Plans campaign `c`'s next wave from `starts` over its region (the planner's proposal,
/// stored as editable entries), for the API and the pages alike. A wave already starting that
/// day with the same length is a retry: returned as stored, with `false`. Returns the wave and
/// how many villages it holds.
pub async fn plan_next_wave(
    st: &crate::Context,
    who: &cakupan_domain::access::Principal,
    request_id: &str,
    c: &cakupan_store::campaign::Campaign,
    starts: Date,
    capacity: WaveCapacity,
) -> std::result::Result<(Wave, u64, bool), crate::AppError> {
    use cakupan_domain::access::{Action, Resource};
    allow(who, Action::ManageCampaign, &Resource::Region(c.region))?;
    let invalid = |field: &str, rule: &'static str, message: String| {
        crate::AppError::Invalid(FieldError::new(field, rule, message).into())
    };
    for (field, v) in [
        ("weeks", capacity.weeks),
        (
            "sessions_per_district_week",
            capacity.sessions_per_district_week,
        ),
        ("sessions_per_agent_week", capacity.sessions_per_agent_week),
    ] {
        if v == 0 || v > 52 {
            return Err(invalid(
                field,
                "wave.capacity",
                "a whole number from 1 to 52".into(),
            ));
        }
    }
    let existing = st.store.waves(&c.code).await?;
    if let Some(w) = existing.iter().find(|w| w.starts_on == starts) {
        if w.weeks != capacity.weeks {
            return Err(crate::AppError::Invalid(
                FieldError::new(
                    "starts_on",
                    "campaign.wave_taken",
                    format!(
                        "wave {} already starts that day, for {} weeks",
                        w.wave, w.weeks
                    ),
                )
                .with_args([w.wave.to_string(), w.weeks.to_string()])
                .into(),
            ));
        }
        let n = st
            .store
            .plan_entries(&c.code, c.region)
            .await?
            .iter()
            .filter(|e| e.wave == w.wave)
            .count() as u64;
        return Ok((w.clone(), n, false));
    }
    if existing.last().is_some_and(|w| starts <= w.ends_on()) {
        return Err(invalid(
            "starts_on",
            "campaign.wave_order",
            "a wave starts after the previous one ends".into(),
        ));
    }
    let (w, t) = store_next_wave(
        st.store.as_ref(),
        &st.regions,
        &st.rules,
        &NextWave {
            campaign: c.code.clone(),
            starts,
            capacity: (
                capacity.weeks,
                capacity.sessions_per_district_week,
                capacity.sessions_per_agent_week,
            ),
            assume_agents: None,
            by: who.username.clone(),
        },
    )
    .await?;
    audit(
        st,
        who,
        request_id,
        "campaign.wave",
        format!("campaign:{}/wave:{}", c.code, w.wave),
        "campaign",
    )
    .await?;
    Ok((w, t.plan.chosen.len() as u64, true))
}

/// A village of the region tree, from its code as typed (field `village`).
pub fn village_code(
    st: &crate::Context,
    s: &str,
) -> std::result::Result<RegionCode, crate::AppError> {
    let invalid = |rule: &'static str, message: String| {
        crate::AppError::Invalid(FieldError::new("village", rule, message).into())
    };
    let v = RegionCode::parse(s.trim()).map_err(|e| invalid("region.code", e.to_string()))?;
    if v.level() != Level::Village || !st.regions.contains_code(v) {
        return Err(invalid(
            "region.not_village",
            format!("{v} is not a village"),
        ));
    }
    Ok(v)
}

/// Adds `village` to week `week` of wave `wave` by hand (the planner's proposal edited): the
/// planner's estimates of its workers and informal share, no rank. The same again is a retry
/// (`false`). Returns the stored entry.
pub async fn add_village(
    st: &crate::Context,
    who: &cakupan_domain::access::Principal,
    request_id: &str,
    c: &cakupan_store::campaign::Campaign,
    village: RegionCode,
    (wave, week): (u32, u32),
) -> std::result::Result<(PlanEntry, bool), crate::AppError> {
    use cakupan_domain::access::{Action, Resource};
    allow(who, Action::ManageCampaign, &Resource::Region(village))?;
    let est = Estimates::new(&st.regions).map_err(crate::AppError::Internal)?;
    let e = hand_entry(
        &est,
        &st.rules,
        &c.code,
        village,
        (wave, week),
        cakupan_domain::Month::of((st.today)()),
    );
    let created = st.store.add_entry(&e).await?;
    audit(
        st,
        who,
        request_id,
        "campaign.add_village",
        format!("campaign:{}/village:{village}", c.code),
        "campaign",
    )
    .await?;
    let stored = st
        .store
        .plan_entries(&c.code, village)
        .await?
        .into_iter()
        .next()
        .unwrap_or(e);
    Ok((stored, created))
}

/// Takes a planned village out of its wave (the store refuses one coordinated or held);
/// whether one was there.
pub async fn remove_village(
    st: &crate::Context,
    who: &cakupan_domain::access::Principal,
    request_id: &str,
    c: &cakupan_store::campaign::Campaign,
    village: RegionCode,
) -> std::result::Result<bool, crate::AppError> {
    use cakupan_domain::access::{Action, Resource};
    allow(who, Action::ManageCampaign, &Resource::Region(village))?;
    let removed = st.store.remove_entry(&c.code, village).await?;
    audit(
        st,
        who,
        request_id,
        "campaign.remove_village",
        format!("campaign:{}/village:{village}", c.code),
        "campaign",
    )
    .await?;
    Ok(removed)
}
