//! `cakupan campaign …`: the village campaign "Kerja Keras Bebas Cemas" from the command line
//! (issue #8): campaigns and their waves (the planner's proposal stored as editable entries),
//! coordination sign-offs, sessions, the funnel and the uplift; questionnaires, survey samples,
//! responses and weighted results; and a simulated two-wave campaign.

use crate::Reference;
use crate::generate::Rng;
use anyhow::{Context as _, Result, anyhow, bail};
use cakupan_app::campaign::{self as analysis, By, Estimates};
use cakupan_domain::campaign::{OTHER, Plan, Stage};
use cakupan_domain::contribution::{ContributionInput, Profile, dues, parse_payment};
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::participants::{Context, RegistrationInput, validate};
use cakupan_domain::survey::Questionnaire;
use cakupan_domain::{Level, Month, RegionCode};
use cakupan_store::Store;
use cakupan_store::campaign::{
    Campaign, Coordination, EntryChange, Frame, Session, Survey, Upload, Wave,
};
use cakupan_store::ledger::NewPosting;
use clap::Subcommand;
use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use time::{Date, Duration};

/// The questionnaire the campaign ships with (awareness, willingness to pay Rp16,800 a month,
/// preferred payment channel, trust), in both languages.
pub const BUILTIN_QUESTIONNAIRE: &str = include_str!("../../../data/campaign/kkbc-1.json");

/// Who the command line records as the author of what it writes.
const ACTOR: &str = "cli";

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Create a campaign over a region (the nation by default).
    Create {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        region: String,
    },
    /// Propose the villages of the next wave, ranked by potential within each district's
    /// capacity, and say why each was chosen. With --campaign and --starts, store the proposal
    /// as that campaign's next wave (editable entries).
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
        /// Plan (and store) the next wave of this campaign: only its region, never a village
        /// already in one of its waves.
        #[arg(long)]
        campaign: Option<String>,
        /// The wave's first day (YYYY-MM-DD); with --campaign, stores the wave.
        #[arg(long)]
        starts: Option<String>,
    },
    /// Record the village official's coordination sign-off (planned → coordinated).
    Coordinate {
        #[arg(long)]
        campaign: String,
        #[arg(long)]
        village: String,
        #[arg(long)]
        official: String,
        #[arg(long, default_value = "Kepala Desa")]
        official_role: String,
        #[arg(long)]
        info_officer: String,
        #[arg(long)]
        on: String,
    },
    /// Edit a village's entry: move it to surveyed or followed_up, change its week or agents,
    /// add it to a wave by hand or take it out.
    Edit {
        #[arg(long)]
        campaign: String,
        #[arg(long)]
        village: String,
        #[arg(long)]
        stage: Option<String>,
        #[arg(long)]
        on: Option<String>,
        #[arg(long)]
        week: Option<u32>,
        /// Comma-separated agent codes.
        #[arg(long)]
        agents: Option<String>,
        /// Add the village to this wave by hand (with --week).
        #[arg(long)]
        add_to_wave: Option<u32>,
        /// Take the (still planned) village out of its wave.
        #[arg(long)]
        remove: bool,
    },
    /// Record a session: date, place, attendance by audience (farmer=30,fisher=12,…).
    Session {
        #[arg(long)]
        campaign: String,
        #[arg(long)]
        village: String,
        #[arg(long)]
        on: String,
        #[arg(long)]
        place: String,
        #[arg(long)]
        attendance: String,
        /// The retry key (default: campaign/village/date).
        #[arg(long)]
        reference: Option<String>,
    },
    /// The campaign's funnel: villages by stage, sessions, attendance.
    Status {
        #[arg(long)]
        campaign: String,
        #[arg(long, default_value = "")]
        region: String,
    },
    /// A wave's uplift (difference in differences against villages not yet reached).
    Uplift {
        #[arg(long)]
        campaign: String,
        #[arg(long)]
        wave: u32,
        /// The day to measure on (default today).
        #[arg(long)]
        on: Option<String>,
    },
    /// Questionnaires: add (the built-in one, or --file), list, retire.
    Questionnaire {
        #[command(subcommand)]
        command: QuestionnaireCommand,
    },
    /// Surveys: draw a sample, list its units, record responses, weighted results.
    Survey {
        #[command(subcommand)]
        command: SurveyCommand,
    },
    /// Simulate a two-wave campaign over the real villages of a region with a known effect on
    /// enrolment, and estimate it back.
    Simulate {
        #[arg(long, default_value = "SIM")]
        campaign: String,
        /// A regency or province.
        #[arg(long)]
        region: String,
        /// Extra enrolments per reached village in the weeks after its session.
        #[arg(long, default_value_t = 6.0)]
        effect: f64,
        /// Enrolments per village per week without the campaign.
        #[arg(long, default_value_t = 0.5)]
        baseline: f64,
        #[arg(long, default_value_t = 3)]
        weeks: u32,
        #[arg(long, default_value_t = 1)]
        sessions_per_district_week: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuestionnaireCommand {
    Add {
        /// A questionnaire in JSON (docs/formats.md); default the built-in one.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    List,
    Retire {
        code: String,
        version: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum SurveyCommand {
    /// Draw a stratified random sample (strata: districts) and store the survey.
    Draw {
        #[arg(long)]
        code: String,
        #[arg(long)]
        questionnaire: String,
        #[arg(long)]
        version: u32,
        #[arg(long)]
        region: String,
        /// regions (working people of the villages) or registry (registered participants).
        #[arg(long, default_value = "regions")]
        frame: String,
        #[arg(long)]
        size: u64,
        #[arg(long, default_value_t = 2)]
        min_per_stratum: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long)]
        wave: Option<u32>,
    },
    /// The units to interview (CSV: unit, stratum, village, village name).
    Units {
        survey: String,
        #[arg(long, default_value = "")]
        region: String,
    },
    /// Record responses from a CSV: unit, version, audience, then one column per question.
    Respond {
        survey: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Weighted results with 95% margins, for everyone and by audience or regency.
    Results {
        survey: String,
        #[arg(long, default_value = "audience")]
        by: String,
        /// Compare with an earlier survey of the same questionnaire.
        #[arg(long)]
        compare: Option<String>,
    },
}

fn region_arg(field: &str, s: &str) -> Result<RegionCode> {
    if s.trim().is_empty() {
        return Ok(RegionCode::NATION);
    }
    RegionCode::parse(s.trim()).map_err(|e| anyhow!("--{field}: {e}"))
}

fn date_arg(field: &str, s: &str) -> Result<Date> {
    parse_date(s.trim()).ok_or_else(|| anyhow!("--{field}: a date is written YYYY-MM-DD"))
}

fn store_err(e: cakupan_store::StoreError) -> anyhow::Error {
    anyhow!("{e}")
}

pub use cakupan_app::campaign::{PlanInput, Timed};

/// The plan over `input.within` (see `cakupan_app::campaign::plan_all`).
pub async fn plan_all(
    store: Arc<dyn Store>,
    reference: &Reference,
    input: &PlanInput,
) -> Result<Timed> {
    analysis::plan_all(store.as_ref(), &reference.regions, &reference.rules, input)
        .await
        .map_err(store_err)
}

/// Plans and stores the next wave of `campaign` from `starts`.
pub async fn store_next_wave(
    store: Arc<dyn Store>,
    reference: &Reference,
    campaign: &str,
    starts: Date,
    capacity: (u32, u32, u32),
    assume_agents: Option<u32>,
) -> Result<(Wave, Timed)> {
    analysis::store_next_wave(
        store.as_ref(),
        &reference.regions,
        &reference.rules,
        &analysis::NextWave {
            campaign: campaign.into(),
            starts,
            capacity,
            assume_agents,
            by: ACTOR.into(),
        },
    )
    .await
    .map_err(store_err)
}

async fn campaign_of(store: &dyn Store, code: &str) -> Result<Campaign> {
    store
        .campaigns()
        .await?
        .into_iter()
        .find(|c| c.code == code)
        .ok_or_else(|| anyhow!("--campaign: there is no campaign {code}"))
}

fn parse_attendance(s: &str) -> Result<Vec<(String, u32)>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| anyhow!("--attendance: write audience=count, e.g. farmer=30"))?;
            let n: u32 = v
                .trim()
                .parse()
                .map_err(|_| anyhow!("--attendance: {} is not a whole number", v.trim()))?;
            Ok((k.trim().to_string(), n))
        })
        .collect()
}

fn print_plan(reference: &Reference, t: &Timed, weeks: u32, top: usize) {
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
}

fn write_plan_csv(reference: &Reference, p: &Plan, path: &PathBuf) -> Result<()> {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("--csv {}", path.display()))?,
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
    Ok(())
}

pub async fn run(store: Arc<dyn Store>, reference: &Reference, cmd: CampaignCommand) -> Result<()> {
    let today = cakupan_app::today_wib();
    match cmd {
        CampaignCommand::Create { code, name, region } => {
            // The API's own path: the region checked, the creation audited as `cli`.
            let st = crate::agents::operations(store.clone(), reference)?;
            let (c, created) = cakupan_app::campaign::add_campaign(
                &st,
                &crate::accounts::cli_admin(),
                ACTOR,
                &code,
                &name,
                region_arg("region", &region)?,
            )
            .await
            .map_err(crate::agents::api)?;
            println!(
                "Campaign {} ({}) {}.",
                c.code,
                reference.regions.path_label(c.region),
                if created { "created" } else { "already exists" }
            );
        }
        CampaignCommand::Plan {
            month,
            weeks,
            sessions_per_district_week,
            sessions_per_agent_week,
            top,
            csv,
            campaign,
            starts,
        } => {
            let capacity = (weeks, sessions_per_district_week, sessions_per_agent_week);
            let t = match (campaign, starts) {
                (Some(c), Some(s)) => {
                    let (wave, t) = store_next_wave(
                        store.clone(),
                        reference,
                        &c,
                        date_arg("starts", &s)?,
                        capacity,
                        None,
                    )
                    .await?;
                    println!(
                        "Wave {} of {c} stored: {} villages from {} to {}.",
                        wave.wave,
                        t.plan.chosen.len(),
                        format_date(wave.starts_on),
                        format_date(wave.ends_on())
                    );
                    t
                }
                (Some(_), None) => bail!("--starts: the wave's first day is needed to store it"),
                (None, Some(_)) => bail!("--campaign: name the campaign the wave belongs to"),
                (None, None) => {
                    let month = match month {
                        None => Month::of(today),
                        Some(m) => Month::parse(m.trim()).map_err(|e| anyhow!("--month: {e}"))?,
                    };
                    plan_all(
                        store,
                        reference,
                        &PlanInput {
                            month,
                            within: RegionCode::NATION,
                            capacity,
                            reached: HashSet::new(),
                            assume_agents: None,
                            awareness: HashMap::new(),
                        },
                    )
                    .await?
                }
            };
            print_plan(reference, &t, weeks, top);
            if let Some(path) = csv {
                write_plan_csv(reference, &t.plan, &path)?;
            }
        }
        CampaignCommand::Coordinate {
            campaign,
            village,
            official,
            official_role,
            info_officer,
            on,
        } => {
            let village = region_arg("village", &village)?;
            let change = EntryChange::Coordinate(Coordination {
                official: official.trim().into(),
                official_role: official_role.trim().into(),
                info_officer: info_officer.trim().into(),
                agreed_on: date_arg("on", &on)?,
                signed_off_by: ACTOR.into(),
                signed_off_at: cakupan_store::clock::now_secs(),
            });
            let e = store
                .change_entry(&campaign, village, &change, &[])
                .await
                .map_err(store_err)?
                .ok_or_else(|| anyhow!("--village: {village} is not in campaign {campaign}"))?;
            println!("{} is {}.", e.village, e.stage.as_str());
        }
        CampaignCommand::Edit {
            campaign,
            village,
            stage,
            on,
            week,
            agents,
            add_to_wave,
            remove,
        } => {
            let village = region_arg("village", &village)?;
            if remove {
                let removed = store
                    .remove_entry(&campaign, village)
                    .await
                    .map_err(store_err)?;
                println!(
                    "{village} {}.",
                    if removed {
                        "taken out of its wave"
                    } else {
                        "was not in the campaign"
                    }
                );
                return Ok(());
            }
            if let Some(wave) = add_to_wave {
                let est = Estimates::new(&reference.regions).map_err(|e| anyhow!(e))?;
                let e = analysis::hand_entry(
                    &est,
                    &reference.rules,
                    &campaign,
                    village,
                    (wave, week.unwrap_or(1)),
                    Month::of(today),
                );
                let added = store.add_entry(&e).await.map_err(store_err)?;
                println!(
                    "{village} {} wave {wave}, week {}.",
                    if added { "added to" } else { "was already in" },
                    e.week
                );
                return Ok(());
            }
            let mut changes = Vec::new();
            if let Some(s) = stage {
                let stage = Stage::parse(s.trim())
                    .ok_or_else(|| anyhow!("--stage: one of surveyed, followed_up"))?;
                let on = match on {
                    Some(d) => date_arg("on", &d)?,
                    None => today,
                };
                changes.push(EntryChange::Stage { stage, on });
            }
            if let Some(w) = week {
                changes.push(EntryChange::Week { week: w });
            }
            let mut serving = Vec::new();
            if let Some(a) = agents {
                let codes: Vec<String> = a
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                serving =
                    analysis::agents_serving(store.as_ref(), &reference.rules, village, today)
                        .await
                        .map_err(store_err)?;
                changes.push(EntryChange::Agents { agents: codes });
            }
            if changes.is_empty() {
                bail!("nothing to change: give --stage, --week or --agents");
            }
            for c in &changes {
                let e = store
                    .change_entry(&campaign, village, c, &serving)
                    .await
                    .map_err(store_err)?
                    .ok_or_else(|| anyhow!("--village: {village} is not in campaign {campaign}"))?;
                println!(
                    "{}: {}, week {}, agents {}.",
                    e.village,
                    e.stage.as_str(),
                    e.week,
                    if e.agents.is_empty() {
                        "none".to_string()
                    } else {
                        e.agents.join(", ")
                    }
                );
            }
        }
        CampaignCommand::Session {
            campaign,
            village,
            on,
            place,
            attendance,
            reference: key,
        } => {
            let village = region_arg("village", &village)?;
            let held_on = date_arg("on", &on)?;
            let s = Session {
                reference: key
                    .unwrap_or_else(|| format!("{campaign}/{village}/{}", format_date(held_on))),
                campaign: campaign.clone(),
                village,
                held_on,
                place: place.trim().into(),
                attendance: parse_attendance(&attendance)?,
                recorded_by: ACTOR.into(),
            };
            let created = store
                .add_session(&reference.rules, &s, today)
                .await
                .map_err(store_err)?;
            println!(
                "Session {} {}: {} people.",
                s.reference,
                if created {
                    "recorded"
                } else {
                    "was already recorded"
                },
                s.total()
            );
        }
        CampaignCommand::Status { campaign, region } => {
            let c = campaign_of(store.as_ref(), &campaign).await?;
            let within = match region_arg("region", &region)? {
                r if r == RegionCode::NATION => c.region,
                r => r,
            };
            let entries = store.plan_entries(&campaign, within).await?;
            let sessions = store.sessions(&campaign, within).await?;
            let f = analysis::funnel(&entries, &sessions);
            println!(
                "{} — {} ({}):",
                c.code,
                c.name,
                if within == RegionCode::NATION {
                    "Indonesia".to_string()
                } else {
                    reference.regions.path_label(within)
                }
            );
            println!("  {:<12} {:>7} {:>10}", "stage", "now", "at or past");
            for s in Stage::ALL {
                println!("  {:<12} {:>7} {:>10}", s.as_str(), f.at(s), f.reached(s));
            }
            println!("  sessions     {:>7}", f.sessions);
            for (a, n) in &f.attendance {
                println!("  attended by {a}: {n}");
            }
            for (w, n) in &f.waves {
                println!("  wave {w}: {n} villages");
            }
        }
        CampaignCommand::Uplift { campaign, wave, on } => {
            let on = match on {
                Some(d) => date_arg("on", &d)?,
                None => today,
            };
            let r = analysis::uplift(
                store.as_ref(),
                &reference.rules,
                &reference.regions,
                &campaign,
                wave,
                on,
            )
            .await
            .map_err(store_err)?;
            print_uplift(&r);
        }
        CampaignCommand::Questionnaire { command } => {
            questionnaire(store, reference, command).await?;
        }
        CampaignCommand::Survey { command } => {
            survey(store, reference, command).await?;
        }
        CampaignCommand::Simulate {
            campaign,
            region,
            effect,
            baseline,
            weeks,
            sessions_per_district_week,
            seed,
        } => {
            let region = region_arg("region", &region)?;
            simulate(
                store,
                reference,
                &Simulation {
                    campaign,
                    region,
                    effect,
                    baseline,
                    weeks,
                    per_district: sessions_per_district_week,
                    seed,
                    today,
                },
            )
            .await?;
        }
    }
    Ok(())
}

fn print_uplift(r: &analysis::UpliftReport) {
    println!(
        "Wave {} of {}: {}-week windows around each session; comparison: {} (measured around {}). {} reached villages left out because their window has not ended.",
        r.wave, r.campaign, r.window_weeks, r.comparison_basis, r.reference_date, r.still_open
    );
    println!(
        "{:<18} {:<14} {:>8} {:>18} {:>8} {:>8} {:>10} {:>10}",
        "outcome",
        "audience",
        "effect",
        "95% interval",
        "reached",
        "others",
        "Δ reached",
        "Δ others"
    );
    for u in &r.rows {
        println!(
            "{:<18} {:<14} {:>8.2} {:>8.2} to {:>6.2} {:>8} {:>8} {:>10.2} {:>10.2}",
            u.outcome,
            u.audience,
            u.estimate.effect,
            u.estimate.low,
            u.estimate.high,
            u.estimate.reached,
            u.estimate.comparison,
            u.estimate.change_reached,
            u.estimate.change_comparison
        );
    }
}

async fn questionnaire(
    shared: Arc<dyn Store>,
    reference: &Reference,
    cmd: QuestionnaireCommand,
) -> Result<()> {
    let store = shared.as_ref();
    match cmd {
        QuestionnaireCommand::Add { file } => {
            let text = match &file {
                Some(p) => {
                    std::fs::read_to_string(p).with_context(|| format!("--file {}", p.display()))?
                }
                None => BUILTIN_QUESTIONNAIRE.to_string(),
            };
            let q: Questionnaire =
                serde_json::from_str(&text).map_err(|e| anyhow!("questionnaire: {e}"))?;
            let st = crate::agents::operations(shared.clone(), reference)?;
            let created = cakupan_app::campaign::add_questionnaire(
                &st,
                &crate::accounts::cli_admin(),
                ACTOR,
                &q,
            )
            .await
            .map_err(crate::agents::api)?;
            println!(
                "Questionnaire {} version {} ({} questions) {}.",
                q.code,
                q.version,
                q.questions.len(),
                if created { "added" } else { "already exists" }
            );
        }
        QuestionnaireCommand::List => {
            for q in store.questionnaires().await? {
                println!(
                    "{} v{} {} — {} questions{}",
                    q.questionnaire.code,
                    q.questionnaire.version,
                    q.questionnaire.title_id,
                    q.questionnaire.questions.len(),
                    if q.retired_at.is_some() {
                        " (retired)"
                    } else {
                        ""
                    }
                );
            }
        }
        QuestionnaireCommand::Retire { code, version } => {
            let now = cakupan_store::clock::now_secs();
            if !store.retire_questionnaire(&code, version, now).await? {
                bail!("there is no questionnaire {code} version {version}");
            }
            println!("Questionnaire {code} version {version} is retired.");
        }
    }
    Ok(())
}

async fn survey_and_questionnaire(
    store: &dyn Store,
    code: &str,
) -> Result<(Survey, Questionnaire)> {
    let s = store
        .surveys()
        .await?
        .into_iter()
        .find(|s| s.code == code)
        .ok_or_else(|| anyhow!("there is no survey {code}"))?;
    let q = store
        .questionnaires()
        .await?
        .into_iter()
        .map(|q| q.questionnaire)
        .find(|q| q.code == s.questionnaire && q.version == s.version)
        .ok_or_else(|| anyhow!("survey {code}: its questionnaire is missing"))?;
    Ok((s, q))
}

async fn survey(store: Arc<dyn Store>, reference: &Reference, cmd: SurveyCommand) -> Result<()> {
    match cmd {
        SurveyCommand::Draw {
            code,
            questionnaire,
            version,
            region,
            frame,
            size,
            min_per_stratum,
            seed,
            campaign,
            wave,
        } => {
            let region = region_arg("region", &region)?;
            let frame = Frame::parse(frame.trim())
                .ok_or_else(|| anyhow!("--frame: regions or registry"))?;
            // The API's own path: the region and the size checked, the draw audited as `cli`.
            let st = crate::agents::operations(store.clone(), reference)?;
            let drawn = cakupan_app::campaign::draw_survey(
                &st,
                &crate::accounts::cli_admin(),
                ACTOR,
                &cakupan_app::campaign::SurveyDraw {
                    code,
                    campaign,
                    wave,
                    questionnaire,
                    version,
                    region,
                    frame,
                    size,
                    min_each: min_per_stratum,
                    seed,
                },
            )
            .await
            .map_err(crate::agents::api)?;
            let (s, created) = (&drawn.survey, drawn.created);
            let population: u64 = s.strata.iter().map(|x| x.population).sum();
            println!(
                "Survey {} {}: {} units in {} strata (districts) of {} ({} people in the frame: {}).",
                s.code,
                if created { "drawn" } else { "already exists" },
                drawn.units,
                s.strata.len(),
                reference.regions.path_label(region),
                population,
                drawn.basis
            );
        }
        SurveyCommand::Units { survey, region } => {
            let within = region_arg("region", &region)?;
            println!("unit,stratum,village,village_name");
            for u in store.survey_units(&survey, within).await? {
                let name = reference
                    .regions
                    .get(u.village)
                    .map(|r| r.name.replace(['"', ','], " "))
                    .unwrap_or_default();
                println!("{},{},{},{name}", u.unit, u.stratum, u.village);
            }
        }
        SurveyCommand::Respond { survey, file } => {
            let (_, q) = survey_and_questionnaire(store.as_ref(), &survey).await?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("--file {}", file.display()))?;
            let text =
                String::from_utf8(bytes.clone()).map_err(|_| anyhow!("--file: not UTF-8 text"))?;
            let responses =
                analysis::read_responses(&survey, &q, &text, ACTOR).map_err(store_err)?;
            let upload = Upload {
                sha256: hex_sha256(&bytes),
                name: file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                rows: responses.len() as u64,
                uploaded_by: ACTOR.into(),
            };
            let r = store
                .add_responses(&reference.rules, &survey, &responses, Some(&upload))
                .await
                .map_err(store_err)?;
            println!(
                "{} responses recorded, {} already recorded identically.",
                r.added, r.unchanged
            );
        }
        SurveyCommand::Results {
            survey,
            by,
            compare,
        } => {
            let by = match by.as_str() {
                "all" => By::All,
                "audience" => By::Audience,
                "regency" => By::Regency,
                _ => bail!("--by: all, audience or regency"),
            };
            let results = survey_results(store.as_ref(), &survey, by).await?;
            println!(
                "Survey {} (questionnaire {} v{}): {} of {} sampled answered. Weighted estimates, 95% margins.",
                results.survey,
                results.questionnaire,
                results.version,
                results.responded,
                results.sampled
            );
            let earlier = match &compare {
                Some(c) => Some(survey_results(store.as_ref(), c, By::All).await?),
                None => None,
            };
            for r in &results.rows {
                let label = if r.option.is_empty() {
                    r.question.clone()
                } else {
                    format!("{}={}", r.question, r.option)
                };
                let change = earlier.as_ref().and_then(|e| {
                    e.rows
                        .iter()
                        .find(|x| {
                            x.question == r.question && x.option == r.option && x.group == r.group
                        })
                        .map(|x| {
                            let d = r.value - x.value;
                            let m = (r.margin.powi(2) + x.margin.powi(2)).sqrt();
                            format!("  change {d:+.3} ± {m:.3}")
                        })
                });
                println!(
                    "{:<28} {:<14} {:>8.3} ± {:<7.3} n={:<5} N≈{}{}",
                    label,
                    r.group,
                    r.value,
                    r.margin,
                    r.respondents,
                    r.population,
                    change.unwrap_or_default()
                );
            }
            for n in &results.no_answers {
                println!("{n}: no respondent answered");
            }
        }
    }
    Ok(())
}

/// A survey's weighted results, read from the store.
pub async fn survey_results(
    store: &dyn Store,
    code: &str,
    by: By,
) -> Result<analysis::SurveyResults> {
    let (s, q) = survey_and_questionnaire(store, code).await?;
    let units = store.survey_units(code, RegionCode::NATION).await?;
    let responses = store.responses(code).await?;
    analysis::survey_results(&s, &q, &units, &responses, by).map_err(store_err)
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A simulated campaign.
pub struct Simulation {
    pub campaign: String,
    pub region: RegionCode,
    pub effect: f64,
    pub baseline: f64,
    pub weeks: u32,
    pub per_district: u32,
    pub seed: u64,
    pub today: Date,
}

/// A Poisson draw (Knuth's method: the means here are small).
fn poisson(rng: &mut Rng, mean: f64) -> u32 {
    let l = (-mean).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// A simulated two-wave campaign over the real villages of `region`: the planner proposes
/// two waves (agents assumed in every district), every wave-1 and wave-2 village is
/// coordinated and holds its session in its planned week; every village of the region gets
/// `baseline` enrolments a week, and each reached village `effect` more over the uplift window
/// after its session. Then each wave's uplift is estimated and compared with `effect`.
pub async fn simulate(
    store: Arc<dyn Store>,
    reference: &Reference,
    sim: &Simulation,
) -> Result<Vec<analysis::UpliftReport>> {
    let rules = &reference.rules;
    let month = Month::of(sim.today);
    let rule = rules
        .campaign_planner(month)
        .with_context(|| format!("no campaign_planner rule in force in {month}"))?;
    let window = 7 * i64::from(rule.uplift_window_weeks);
    let wave_days = 7 * i64::from(sim.weeks);
    // Wave 1 starts so that wave 2's last window has ended by today; wave 2 starts when wave
    // 1's last window has ended.
    let wave2_offset = wave_days + window;
    let span = wave2_offset + wave_days + window;
    let mut start = sim.today - Duration::days(span + 7);
    while start.weekday() != time::Weekday::Monday {
        start -= Duration::days(1);
    }
    let name = reference
        .regions
        .get(sim.region)
        .map(|r| r.name.clone())
        .ok_or_else(|| anyhow!("--region: {} is not a region", sim.region))?;
    store
        .add_campaign(&Campaign {
            code: sim.campaign.clone(),
            name: format!("Simulasi Kerja Keras Bebas Cemas — {name}"),
            region: sim.region,
            created_by: ACTOR.into(),
        })
        .await
        .map_err(store_err)?;
    if !store.waves(&sim.campaign).await?.is_empty() {
        bail!(
            "--campaign: {} already has waves; simulate into a new campaign code",
            sim.campaign
        );
    }
    let capacity = (sim.weeks, sim.per_district, 1);
    let (w1, _) = store_next_wave(
        store.clone(),
        reference,
        &sim.campaign,
        start,
        capacity,
        Some(sim.per_district),
    )
    .await?;
    // The baseline survey of the region (before the second wave is planned, so that the
    // planner weighs wave 2's villages by the awareness it measured).
    let surveyed = simulate_survey(store.as_ref(), reference, sim).await?;
    let (w2, _) = store_next_wave(
        store.clone(),
        reference,
        &sim.campaign,
        start + Duration::days(wave2_offset),
        capacity,
        Some(sim.per_district),
    )
    .await?;
    let entries = store
        .plan_entries(&sim.campaign, RegionCode::NATION)
        .await?;
    let mut rng = Rng::new(sim.seed);
    // Coordination and sessions.
    let audiences: Vec<String> = rules
        .campaign_audiences
        .iter()
        .map(|a| a.code.clone())
        .collect();
    let mut session_on: HashMap<RegionCode, Date> = HashMap::new();
    for e in &entries {
        let wave = if e.wave == w1.wave { &w1 } else { &w2 };
        let held_on =
            wave.starts_on + Duration::days(7 * i64::from(e.week - 1) + rng.below(5) as i64);
        store
            .change_entry(
                &sim.campaign,
                e.village,
                &EntryChange::Coordinate(Coordination {
                    official: "Kepala Desa Simulasi".into(),
                    official_role: "Kepala Desa".into(),
                    info_officer: "PPID Desa Simulasi".into(),
                    agreed_on: wave.starts_on - Duration::days(7),
                    signed_off_by: ACTOR.into(),
                    signed_off_at: cakupan_store::clock::now_secs(),
                }),
                &[],
            )
            .await
            .map_err(store_err)?;
        let cap = (e.workers * 0.05).max(10.0) as u64;
        let attendance: Vec<(String, u32)> = audiences
            .iter()
            .chain(std::iter::once(&OTHER.to_string()))
            .map(|a| {
                (
                    a.clone(),
                    u32::try_from(rng.below(cap / 6 + 1)).unwrap_or(0),
                )
            })
            .collect();
        let mut attendance = attendance;
        if attendance.iter().all(|(_, n)| *n == 0) {
            attendance[0].1 = 1;
        }
        store
            .add_session(
                rules,
                &Session {
                    reference: format!("{}/{}", sim.campaign, e.village),
                    campaign: sim.campaign.clone(),
                    village: e.village,
                    held_on,
                    place: "Balai Desa".into(),
                    attendance,
                    recorded_by: ACTOR.into(),
                },
                sim.today,
            )
            .await
            .map_err(store_err)?;
        session_on.insert(e.village, held_on);
    }
    // Enrolments: a baseline in every village of the region from the first before-window, and
    // the effect after each session.
    let first_day = start - Duration::days(window);
    let days = (sim.today - first_day).whole_days().max(1);
    let ctx = Context {
        regions: &reference.regions,
        rules,
        today: sim.today,
    };
    let bases = rules
        .bracket_table(month)
        .map(|t| t.bases.clone())
        .context("no BPU bracket table in force")?;
    let base = *bases.first().context("an empty BPU bracket table")?;
    let occupations: Vec<(&str, u32)> = vec![
        ("9", 30),
        ("11", 10),
        ("11.1", 3),
        ("84.1", 12),
        ("84", 8),
        ("14.1", 12),
        ("19", 15),
        ("88", 10),
    ];
    let mut niks: HashSet<u64> = HashSet::new();
    let mut regs = Vec::new();
    let mut expected_extra = 0u64;
    for v in analysis::villages_within(&reference.regions, sim.region) {
        let mut dates: Vec<Date> = Vec::new();
        let n = poisson(&mut rng, sim.baseline * days as f64 / 7.0);
        for _ in 0..n {
            dates.push(first_day + Duration::days(rng.below(days as u64) as i64));
        }
        if let Some(d) = session_on.get(&v) {
            let extra = poisson(&mut rng, sim.effect);
            expected_extra += u64::from(extra);
            for _ in 0..extra {
                dates.push(*d + Duration::days(rng.below(window as u64) as i64));
            }
        }
        let district: u64 = v
            .truncate(Level::District)
            .to_string()
            .replace('.', "")
            .parse()
            .context("a district code")?;
        for on in dates.into_iter().filter(|d| *d <= sim.today) {
            let female = rng.chance(0.45);
            let birth = on - Duration::days((18 * 365 + rng.below(40 * 365)) as i64);
            let day = u64::from(birth.day()) + if female { 40 } else { 0 };
            let date_part = day * 10_000
                + u64::from(u8::from(birth.month())) * 100
                + (birth.year() % 100) as u64;
            // Serials 9001–9999: above the demo generator's, so a simulated person is new.
            let mut serial = 9_001 + rng.below(999);
            let nik = loop {
                let n = district * 10_000_000_000 + date_part * 10_000 + serial;
                if niks.insert(n) {
                    break n;
                }
                serial = if serial >= 9_999 { 9_001 } else { serial + 1 };
            };
            let occupation = *rng.pick(&occupations);
            let input = RegistrationInput {
                nik: format!("{nik:016}"),
                name: {
                    use crate::generate::{FIRST_F, FIRST_M, LAST};
                    let first = if female { FIRST_F } else { FIRST_M };
                    let f = first[rng.below(first.len() as u64) as usize];
                    let l = LAST[rng.below(LAST.len() as u64) as usize];
                    format!("{f} {l}").trim().to_string()
                },
                birth_date: format_date(birth),
                sex: if female { "P" } else { "L" }.into(),
                village_code: v.to_string(),
                segment: "BPU".into(),
                occupation_code: occupation.into(),
                income_base: base.to_string(),
                programs: "JKK+JKM".into(),
                registered_on: format_date(on),
                channel: "self".into(),
                ..Default::default()
            };
            let (reg, _) = validate(&ctx, &input).map_err(|e| anyhow!("simulated person: {e}"))?;
            regs.push(reg);
        }
    }
    // Six in ten pay their first month within two weeks of enrolling (the "paying
    // enrolments" outcome).
    let mut created = 0;
    let mut payments = Vec::new();
    for chunk in regs.chunks(1_000) {
        for (o, reg) in store.register_batch(rules, chunk).await?.iter().zip(chunk) {
            let cakupan_store::Outcome::Created { kpj, .. } = o else {
                continue;
            };
            created += 1;
            if !rng.chance(0.6) {
                continue;
            }
            let paid_on = (reg.registered_on + Duration::days(rng.below(14) as i64)).min(sim.today);
            // The KPJ, never the NIK: a reference is stored in clear (issue 17, item 5).
            payments.push(month_by_bank(
                rules,
                reg,
                Month::of(reg.registered_on),
                format!("{}-{kpj}", sim.campaign),
                paid_on,
                sim.today,
            )?);
        }
    }
    let mut paid = 0;
    for chunk in payments.chunks(1_000) {
        for r in store.post_batch(rules, chunk).await? {
            r.map_err(|e| anyhow!("simulated payment: {e}"))?;
            paid += 1;
        }
    }
    println!(
        "Simulated {}: wave 1 {} villages from {}, wave 2 {} from {}; {} enrolments registered ({} of them the campaign's {} a reached village on average), {} paid their first month.",
        sim.campaign,
        entries.iter().filter(|e| e.wave == w1.wave).count(),
        format_date(w1.starts_on),
        entries.iter().filter(|e| e.wave == w2.wave).count(),
        format_date(w2.starts_on),
        created,
        expected_extra,
        sim.effect,
        paid
    );
    println!("{surveyed}");
    let mut out = Vec::new();
    for w in [w1.wave, w2.wave] {
        let r = analysis::uplift(
            store.as_ref(),
            rules,
            &reference.regions,
            &sim.campaign,
            w,
            sim.today,
        )
        .await
        .map_err(store_err)?;
        print_uplift(&r);
        if let Some(all) = r
            .rows
            .iter()
            .find(|u| u.outcome == "enrolments" && u.audience == "all")
        {
            println!(
                "Known effect {:.2}: estimated {:.2} (95% {:.2} to {:.2}) — {}.",
                sim.effect,
                all.estimate.effect,
                all.estimate.low,
                all.estimate.high,
                if all.estimate.low <= sim.effect && sim.effect <= all.estimate.high {
                    "recovered within its interval"
                } else {
                    "NOT within its interval"
                }
            );
        }
        out.push(r);
    }
    Ok(out)
}

/// The campaign's baseline survey, simulated: the built-in questionnaire, a stratified sample
/// of 600 working people of the region, eight in ten of whom answer. Awareness differs by
/// audience (online drivers have heard of the programmes most, farmers least) and by district;
/// willingness to pay Rp16,800, the channel and trust are drawn too. Returns a line to print.
async fn simulate_survey(
    store: &dyn Store,
    reference: &Reference,
    sim: &Simulation,
) -> Result<String> {
    let q: Questionnaire =
        serde_json::from_str(BUILTIN_QUESTIONNAIRE).map_err(|e| anyhow!("questionnaire: {e}"))?;
    store.add_questionnaire(&q).await.map_err(store_err)?;
    let est = Estimates::new(&reference.regions).map_err(|e| anyhow!(e))?;
    let code = format!("{}-BASE", sim.campaign);
    let (strata, units) = analysis::draw_sample(
        &reference.regions,
        &est,
        &[],
        &analysis::Design {
            frame: Frame::Regions,
            region: sim.region,
            size: 600,
            min_each: 2,
            seed: sim.seed,
        },
    )
    .map_err(store_err)?;
    let survey = Survey {
        code: code.clone(),
        campaign: Some(sim.campaign.clone()),
        wave: Some(1),
        questionnaire: q.code.clone(),
        version: q.version,
        region: sim.region,
        frame: Frame::Regions,
        seed: sim.seed,
        strata,
        created_by: ACTOR.into(),
    };
    store.add_survey(&survey, &units).await.map_err(store_err)?;
    let mut rng = Rng::new(sim.seed ^ 0x5eed_5eed);
    let audiences: [(&str, u32, f64); 6] = [
        ("farmer", 30, 0.2),
        ("fisher", 8, 0.25),
        ("market_trader", 15, 0.35),
        ("online_driver", 12, 0.55),
        ("fish_auction", 2, 0.3),
        (OTHER, 33, 0.3),
    ];
    let weights: Vec<(usize, u32)> = audiences
        .iter()
        .enumerate()
        .map(|(i, a)| (i, a.1))
        .collect();
    let mut district_shift: HashMap<RegionCode, f64> = HashMap::new();
    let mut responses = Vec::new();
    for u in &units {
        if !rng.chance(0.8) {
            continue;
        }
        let shift = *district_shift
            .entry(u.stratum)
            .or_insert_with(|| (rng.below(21) as f64 - 10.0) / 100.0);
        let (aud, _, aware_p) = audiences[*rng.pick(&weights)];
        let aware = rng.chance((aware_p + shift).clamp(0.0, 1.0));
        let mut raw = std::collections::BTreeMap::new();
        raw.insert(
            "aware".to_string(),
            if aware { "ya" } else { "tidak" }.to_string(),
        );
        raw.insert(
            "knows_jkk_jkm".to_string(),
            if aware && rng.chance(0.6) {
                "ya"
            } else {
                "tidak"
            }
            .to_string(),
        );
        raw.insert(
            "willing_16800".to_string(),
            if rng.chance(if aware { 0.7 } else { 0.5 }) {
                "ya"
            } else {
                "tidak"
            }
            .to_string(),
        );
        raw.insert(
            "channel".to_string(),
            rng.pick(&[
                ("agen_perisai", 30),
                ("bank", 15),
                ("minimarket", 25),
                ("aplikasi", 15),
                ("kantor_desa", 15),
            ])
            .to_string(),
        );
        raw.insert("trust".to_string(), (1 + rng.below(5)).to_string());
        let answers = q
            .read_answers(&raw)
            .map_err(|e| anyhow!("simulated answers: {e}"))?;
        responses.push(cakupan_store::campaign::Response {
            survey: code.clone(),
            unit: u.unit,
            version: q.version,
            audience: aud.to_string(),
            answers,
            recorded_by: ACTOR.into(),
        });
    }
    let added = store
        .add_responses(&reference.rules, &code, &responses, None)
        .await
        .map_err(store_err)?;
    let measured =
        analysis::measured_awareness(store, &reference.rules, &sim.campaign, Month::of(sim.today))
            .await
            .map_err(store_err)?;
    Ok(format!(
        "Baseline survey {code}: {} of {} sampled people answered; awareness measured in {} districts for the planner.",
        added.added,
        units.len(),
        measured.len()
    ))
}

/// A simulated payment by bank of month `m` of `reg`, for what the rules say it costs, under
/// reference `reference-<m>`.
pub(crate) fn month_by_bank(
    rules: &cakupan_domain::RuleSet,
    reg: &cakupan_domain::participants::Registration,
    m: Month,
    reference: String,
    paid_on: Date,
    today: Date,
) -> Result<NewPosting> {
    let profile = Profile {
        segment: reg.segment,
        income_base: reg.income_base,
        programmes: reg.programmes,
        sector: reg.sector,
        budget_funded: reg.budget_funded,
        risk_class: None,
    };
    let amount: i64 = dues(rules, &profile, m, 1)
        .map_err(|e| anyhow!("simulated payment: {e}"))?
        .iter()
        .map(|d| d.1.0)
        .sum();
    let input = ContributionInput {
        reference: format!("{reference}-{m}"),
        nik: reg.nik.to_string(),
        segment: reg.segment.to_string(),
        first_month: m.to_string(),
        months: "1".into(),
        amount: amount.to_string(),
        channel: "bank".into(),
        paid_on: format_date(paid_on),
    };
    let p = parse_payment(rules, &input, today).map_err(|e| anyhow!("simulated payment: {e}"))?;
    Ok(NewPosting::Contribution(p))
}
