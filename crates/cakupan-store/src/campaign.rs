//! The village campaign's records (issue #8): campaigns and their waves, each village's plan
//! entry and the way it goes (coordination with the village official's sign-off, sessions with
//! attendance by audience, assigned agents), questionnaires, survey samples and responses.
//!
//! Each record is kept as one JSON document per row (`body`), keyed by the columns the queries
//! need; the checks are the functions here, called by both backends inside the transaction
//! that writes, so that SQLite and PostgreSQL refuse the same things with the same words.

use crate::{Result, StoreError};
use cakupan_domain::campaign::{self, Stage};
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::rules::CampaignPlanner;
use cakupan_domain::survey::{Answer, Questionnaire};
use cakupan_domain::{FieldError, RegionCode, RuleSet};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use time::Date;

/// The campaign's records, as every store keeps them (a supertrait of `Store`, so a
/// `dyn Store` has them; bring this trait into scope to call them). Both sqlx backends
/// implement it with the same SQL (`campaign_store_impl!`).
#[async_trait::async_trait]
pub trait CampaignStore: Send + Sync {
    /// Creates a campaign. The same again is `false`; other details under its code are
    /// rejected (`campaign.code_taken`).
    async fn add_campaign(&self, campaign: &Campaign) -> Result<bool>;
    async fn campaigns(&self) -> Result<Vec<Campaign>>;
    /// Stores a wave and its villages (the planner's proposal) in one transaction. The same
    /// wave again is `false`; a village already in another wave of the campaign is rejected
    /// (`campaign.village_planned`) and nothing is written.
    async fn add_wave(&self, wave: &Wave, entries: &[PlanEntry]) -> Result<bool>;
    async fn waves(&self, campaign: &str) -> Result<Vec<Wave>>;
    /// The campaign's villages inside `within`, by wave, week and rank.
    async fn plan_entries(&self, campaign: &str, within: RegionCode) -> Result<Vec<PlanEntry>>;
    /// Changes one village's entry (`apply_change`) in one transaction; `agents`:
    /// the codes of the agents active and serving the village now. `Ok(None)`: no such entry.
    async fn change_entry(
        &self,
        campaign: &str,
        village: RegionCode,
        change: &EntryChange,
        agents: &[String],
    ) -> Result<Option<PlanEntry>>;
    /// Adds a village to a wave by hand (the proposal edited). The same entry again is
    /// `false`; a village already in the campaign is `campaign.village_planned`.
    async fn add_entry(&self, entry: &PlanEntry) -> Result<bool>;
    /// Takes a village out of its wave (the proposal edited): only while it is planned and
    /// has no session (`campaign.entry_in_progress`). `false`: it was not in the campaign.
    async fn remove_entry(&self, campaign: &str, village: RegionCode) -> Result<bool>;
    /// Records a session (`check_session`) and moves its village to held, in one
    /// transaction. The same reference again with the same session is `false`; with another,
    /// `session.reference_taken`.
    async fn add_session(
        &self,
        rules: &RuleSet,
        session: &Session,
        today: time::Date,
    ) -> Result<bool>;
    /// The campaign's sessions in villages inside `within`, by date.
    async fn sessions(&self, campaign: &str, within: RegionCode) -> Result<Vec<Session>>;
    /// Adds a questionnaire version (checked). The same again is `false`; another under the
    /// same code and version is `questionnaire.version_taken`.
    async fn add_questionnaire(&self, q: &Questionnaire) -> Result<bool>;
    /// Retires a version: no more responses are taken on it. `Ok(false)`: no such version.
    async fn retire_questionnaire(&self, code: &str, version: u32, now: i64) -> Result<bool>;
    async fn questionnaires(&self) -> Result<Vec<StoredQuestionnaire>>;
    /// Stores a survey and its drawn units together. The same again is `false`.
    async fn add_survey(&self, survey: &Survey, units: &[Unit]) -> Result<bool>;
    async fn surveys(&self) -> Result<Vec<Survey>>;
    /// The survey's units in villages inside `within`, by unit number.
    async fn survey_units(&self, survey: &str, within: RegionCode) -> Result<Vec<Unit>>;
    /// Records responses, all or none (`check_responses`), with the uploaded file
    /// when they came from one (the same file twice: `survey.duplicate_upload`).
    async fn add_responses(
        &self,
        rules: &RuleSet,
        survey: &str,
        responses: &[Response],
        upload: Option<&Upload>,
    ) -> Result<ResponsesAdded>;
    async fn responses(&self, survey: &str) -> Result<Vec<Response>>;

    /// The registrations in `villages` dated `from` to `to` inclusive, with their first
    /// contribution's payment date.
    async fn enrolments_in(
        &self,
        villages: &[RegionCode],
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<Enrolment>>;
    /// Registered participations in each village of `within` (for a registry frame): the
    /// ids, by village then id.
    async fn participation_ids_in(&self, within: RegionCode) -> Result<Vec<(RegionCode, i64)>>;
}

/// Dates in the documents are `YYYY-MM-DD`.
pub mod iso_date {
    use super::{Date, format_date, parse_date};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_date(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        parse_date(&s).ok_or_else(|| serde::de::Error::custom(format!("date '{s}'")))
    }
}

fn rejected(
    field: impl Into<String>,
    rule: &'static str,
    message: impl Into<String>,
) -> StoreError {
    StoreError::Rejected(FieldError::new(field, rule, message).into())
}

impl From<FieldError> for StoreError {
    fn from(e: FieldError) -> Self {
        StoreError::Rejected(e.into())
    }
}

/// A campaign over a region (the nation, a province, …), in waves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub code: String,
    pub name: String,
    pub region: RegionCode,
    pub created_by: String,
}

impl Campaign {
    pub fn check(&self) -> Result<(), FieldError> {
        if self.code.is_empty()
            || self.code.len() > 40
            || !self
                .code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(FieldError::new(
                "code",
                "campaign.code",
                "a campaign code is 1 to 40 letters, digits, '-' or '_'",
            ));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 120 {
            return Err(FieldError::new(
                "name",
                "campaign.name",
                "a campaign needs a name of at most 120 characters",
            ));
        }
        Ok(())
    }
}

/// One wave: when it starts (its first week's Monday) and for how many weeks, with the basis
/// the planner proposed its villages on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wave {
    pub campaign: String,
    pub wave: u32,
    #[serde(with = "iso_date")]
    pub starts_on: Date,
    pub weeks: u32,
    pub basis: String,
    pub planned_by: String,
}

impl Wave {
    /// The last day of the wave.
    pub fn ends_on(&self) -> Date {
        self.starts_on + time::Duration::days(7 * i64::from(self.weeks.max(1)) - 1)
    }
}

/// The village official's coordination record: who agreed, with which public-information
/// officer, on which date; signed off by the user who recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coordination {
    pub official: String,
    pub official_role: String,
    pub info_officer: String,
    #[serde(with = "iso_date")]
    pub agreed_on: Date,
    pub signed_off_by: String,
    /// Unix seconds.
    pub signed_off_at: i64,
}

/// One village of a campaign: the planner's proposal as stored (editable: week, agents) and
/// where the village stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    pub campaign: String,
    pub village: RegionCode,
    pub wave: u32,
    pub week: u32,
    /// The planner's rank and figures when proposed (0 rank: added by hand).
    pub rank: usize,
    pub potential: f64,
    pub workers: f64,
    pub active: u64,
    pub informal_share: f64,
    pub awareness: f64,
    pub awareness_measured: bool,
    pub stage: Stage,
    pub coordination: Option<Coordination>,
    /// Perisai agents assigned to the village's session and follow-up.
    pub agents: Vec<String>,
    #[serde(default)]
    pub surveyed_on: Option<String>,
    #[serde(default)]
    pub followed_up_on: Option<String>,
}

/// A change to one plan entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum EntryChange {
    /// The village official signed off: planned → coordinated.
    Coordinate(Coordination),
    /// Moved by hand (surveyed, followed up) on a date.
    Stage {
        stage: Stage,
        #[serde(with = "iso_date")]
        on: Date,
    },
    /// The proposal edited: another week of the wave.
    Week { week: u32 },
    /// The agents assigned.
    Agents { agents: Vec<String> },
}

fn name_ok(field: &str, v: &str) -> Result<(), FieldError> {
    cakupan_domain::participants::check_free_text(field, v, 100).and_then(|o| {
        o.map(|_| ())
            .ok_or_else(|| FieldError::new(field, "coordination.required", "this name is required"))
    })
}

/// Applies a change to an entry (already loaded in the writing transaction). `Ok(false)`: the
/// entry already was so (a retry); nothing to write. `wave_weeks`: the weeks of its wave.
/// `wave`: the first and last day of the entry's wave, when it has one: a sign-off is dated
/// no later than its last day.
pub fn apply_change(
    entry: &mut PlanEntry,
    change: &EntryChange,
    wave_weeks: u32,
    wave: Option<(Date, Date)>,
    agent_serves: &dyn Fn(&str) -> bool,
) -> Result<bool> {
    match change {
        EntryChange::Coordinate(c) => {
            name_ok("official", &c.official)?;
            name_ok("official_role", &c.official_role)?;
            name_ok("info_officer", &c.info_officer)?;
            // Coordination comes first (planned → coordinated → surveyed → held), so an
            // agreement may precede its wave; it may not be dated after the wave's last day.
            // (Not after today is the callers' check: they hold the clock.)
            if let Some((_, to)) = wave
                && c.agreed_on > to
            {
                return Err(rejected(
                    "agreed_on",
                    "coordination.agreed_on",
                    format!(
                        "the agreement is dated no later than its wave's last day ({})",
                        format_date(to)
                    ),
                ));
            }
            if let Some(done) = &entry.coordination {
                let same = done.official == c.official
                    && done.official_role == c.official_role
                    && done.info_officer == c.info_officer
                    && done.agreed_on == c.agreed_on;
                if same {
                    return Ok(false);
                }
                return Err(rejected(
                    "coordination",
                    "campaign.already_coordinated",
                    format!(
                        "{} was already signed off by {} on {}",
                        entry.village,
                        done.signed_off_by,
                        format_date(done.agreed_on)
                    ),
                ));
            }
            entry.coordination = Some(c.clone());
            if entry.stage < Stage::Coordinated {
                entry.stage = Stage::Coordinated;
            }
            Ok(true)
        }
        EntryChange::Stage { stage, on } => {
            entry.stage.check_move(*stage)?;
            if entry.stage == *stage {
                return Ok(false);
            }
            entry.stage = *stage;
            match stage {
                Stage::Surveyed => entry.surveyed_on = Some(format_date(*on)),
                Stage::FollowedUp => entry.followed_up_on = Some(format_date(*on)),
                _ => {}
            }
            Ok(true)
        }
        EntryChange::Week { week } => {
            if *week == 0 || *week > wave_weeks {
                return Err(rejected(
                    "week",
                    "campaign.week",
                    format!("wave {} has weeks 1 to {wave_weeks}", entry.wave),
                ));
            }
            if entry.stage >= Stage::Held {
                return Err(rejected(
                    "week",
                    "campaign.already_held",
                    "the session was held: its week is what happened",
                ));
            }
            if entry.week == *week {
                return Ok(false);
            }
            entry.week = *week;
            Ok(true)
        }
        EntryChange::Agents { agents } => {
            for (i, a) in agents.iter().enumerate() {
                if !agent_serves(a) {
                    return Err(rejected(
                        format!("agents[{i}]"),
                        "campaign.agent",
                        format!("{a} is not an active agent serving {}", entry.village),
                    ));
                }
            }
            let mut sorted = agents.clone();
            sorted.sort();
            sorted.dedup();
            if entry.agents == sorted {
                return Ok(false);
            }
            entry.agents = sorted;
            Ok(true)
        }
    }
}

/// Checks an entry added by hand against its campaign's region and its wave (`None`: no such
/// wave).
pub fn check_added(campaign: &Campaign, entry: &PlanEntry, wave: Option<&Wave>) -> Result<()> {
    if !campaign.region.contains(entry.village) {
        return Err(rejected(
            "village",
            "campaign.outside",
            format!(
                "{} is outside campaign {}'s region",
                entry.village, campaign.code
            ),
        ));
    }
    let Some(w) = wave else {
        return Err(rejected(
            "wave",
            "campaign.wave",
            format!("campaign {} has no wave {}", entry.campaign, entry.wave),
        ));
    };
    check_wave(w, std::slice::from_ref(entry))?;
    if entry.stage != Stage::Planned || entry.coordination.is_some() {
        return Err(rejected(
            "stage",
            "campaign.stage_order",
            "a village added by hand starts planned",
        ));
    }
    Ok(())
}

/// Why a village cannot leave its wave: it is past planned.
pub fn in_progress(entry: &PlanEntry) -> StoreError {
    rejected(
        "village",
        "campaign.entry_in_progress",
        format!(
            "{} is already {}: only a planned village leaves its wave",
            entry.village,
            entry.stage.as_str()
        ),
    )
}

/// A session held in a village: when, where, and who came (people by audience code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The caller's idempotency key.
    pub reference: String,
    pub campaign: String,
    pub village: RegionCode,
    #[serde(with = "iso_date")]
    pub held_on: Date,
    pub place: String,
    pub attendance: Vec<(String, u32)>,
    pub recorded_by: String,
}

impl Session {
    pub fn total(&self) -> u64 {
        self.attendance.iter().map(|(_, n)| u64::from(*n)).sum()
    }
}

/// Checks a session against its village's entry and wave (loaded in the writing
/// transaction): the village must be in the campaign (else `session.not_in_campaign`),
/// coordinated, the date within the wave (or after it, for a late session) and not after
/// `today`, attendance plausible.
pub fn check_session(
    rule: &CampaignPlanner,
    audiences: &[&str],
    entry: Option<&PlanEntry>,
    wave: Option<&Wave>,
    session: &Session,
    today: Date,
) -> Result<()> {
    let (Some(entry), Some(wave)) = (entry, wave) else {
        return Err(rejected(
            "village",
            "session.not_in_campaign",
            format!(
                "{} is not a village of campaign {}",
                session.village, session.campaign
            ),
        ));
    };
    if entry.stage < Stage::Coordinated {
        return Err(rejected(
            "village",
            "session.not_coordinated",
            format!(
                "{} has no coordination sign-off yet: record the village official's agreement first",
                session.village
            ),
        ));
    }
    if session.held_on < wave.starts_on || session.held_on > today {
        return Err(rejected(
            "held_on",
            "session.held_on",
            format!(
                "a session of wave {} is held from {} and not after today ({})",
                wave.wave,
                format_date(wave.starts_on),
                format_date(today)
            ),
        ));
    }
    if session.reference.trim().is_empty() || session.reference.len() > 64 {
        return Err(rejected(
            "reference",
            "session.reference",
            "a session needs a reference of 1 to 64 characters (the retry key)",
        ));
    }
    cakupan_domain::participants::check_free_text("place", &session.place, 120)?.ok_or_else(
        || {
            rejected(
                "place",
                "session.place",
                "where the session was held is required",
            )
        },
    )?;
    campaign::check_attendance(rule, audiences, &session.attendance, entry.workers)?;
    Ok(())
}

/// How a survey's sample was drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frame {
    /// Working people of the region's villages (estimated), each stratum a district: a
    /// position in the stratum is a worker, found in the village whose cumulative workers
    /// reach it; the enumerator interviews one person chosen at random there.
    Regions,
    /// Registered participants of the region, each stratum a district: a position is a
    /// participation (by id order); for a phone survey of participants.
    Registry,
}

impl Frame {
    pub fn parse(s: &str) -> Option<Frame> {
        match s {
            "regions" => Some(Frame::Regions),
            "registry" => Some(Frame::Registry),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Frame::Regions => "regions",
            Frame::Registry => "registry",
        }
    }
}

/// A stratum of a survey: its population and how many it samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stratum {
    pub code: RegionCode,
    pub population: u64,
    pub sample: u64,
}

/// A survey: a questionnaire version asked of a stratified random sample of a region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Survey {
    pub code: String,
    pub campaign: Option<String>,
    pub wave: Option<u32>,
    pub questionnaire: String,
    pub version: u32,
    pub region: RegionCode,
    pub frame: Frame,
    pub seed: u64,
    pub strata: Vec<Stratum>,
    pub created_by: String,
}

/// One sampled person to interview: a numbered unit of the survey, in a stratum and village
/// (and, for a registry frame, the participation drawn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub unit: u64,
    pub stratum: RegionCode,
    pub village: RegionCode,
    pub participant_id: Option<i64>,
}

/// One respondent's answers, for one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub survey: String,
    pub unit: u64,
    /// The questionnaire version the answers were given on.
    pub version: u32,
    /// The respondent's audience (farmer, fisher, … or other).
    pub audience: String,
    pub answers: BTreeMap<String, Answer>,
    pub recorded_by: String,
}

impl Response {
    /// The retry comparison: the same unit answered the same way.
    pub fn same_as(&self, other: &Response) -> bool {
        self.unit == other.unit
            && self.version == other.version
            && self.audience == other.audience
            && self.answers == other.answers
    }
}

/// An uploaded file of responses, known by its SHA-256: the same file twice is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub sha256: String,
    pub name: String,
    pub rows: u64,
    pub uploaded_by: String,
}

/// What recording responses did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResponsesAdded {
    pub added: u64,
    /// Already recorded identically (a retry).
    pub unchanged: u64,
}

/// Checks responses before any is written (all or none): the survey's questionnaire version,
/// not retired; every unit drawn in the sample and answered at most once (a different answer
/// for an answered unit is `survey.unit_answered`); known audiences. Returns the ones to
/// insert. `existing`: the survey's responses already stored for these units.
pub fn check_responses(
    survey: &Survey,
    retired: bool,
    units: &HashMap<u64, Unit>,
    existing: &HashMap<u64, Response>,
    audiences: &[&str],
    responses: &[Response],
) -> Result<(Vec<Response>, u64)> {
    let mut fresh: Vec<Response> = Vec::new();
    let mut unchanged = 0;
    let mut in_batch: HashMap<u64, usize> = HashMap::new();
    for (i, r) in responses.iter().enumerate() {
        let field = |f: &str| format!("responses[{i}].{f}");
        if r.version != survey.version {
            return Err(rejected(
                field("version"),
                "survey.version",
                format!(
                    "survey {} asks questionnaire {} version {}, not version {}",
                    survey.code, survey.questionnaire, survey.version, r.version
                ),
            ));
        }
        if retired {
            return Err(rejected(
                field("version"),
                "questionnaire.retired",
                format!(
                    "questionnaire {} version {} is retired: no more answers are taken on it",
                    survey.questionnaire, survey.version
                ),
            ));
        }
        if !units.contains_key(&r.unit) {
            return Err(rejected(
                field("unit"),
                "survey.unit",
                format!("unit {} was not drawn in survey {}", r.unit, survey.code),
            ));
        }
        if r.audience != campaign::OTHER && !audiences.contains(&r.audience.as_str()) {
            return Err(rejected(
                field("audience"),
                "survey.audience",
                format!(
                    "the audiences are {} and {}",
                    audiences.join(", "),
                    campaign::OTHER
                ),
            ));
        }
        if let Some(j) = in_batch.insert(r.unit, i) {
            return Err(rejected(
                field("unit"),
                "survey.unit_twice",
                format!("unit {} is answered twice (also responses[{j}])", r.unit),
            ));
        }
        match existing.get(&r.unit) {
            Some(old) if old.same_as(r) => unchanged += 1,
            Some(_) => {
                return Err(rejected(
                    field("unit"),
                    "survey.unit_answered",
                    format!(
                        "unit {} already has other answers: a respondent is counted once",
                        r.unit
                    ),
                ));
            }
            None => fresh.push(r.clone()),
        }
    }
    Ok((fresh, unchanged))
}

/// The error for an upload whose file was recorded before.
pub fn duplicate_upload(earlier: &Upload) -> StoreError {
    rejected(
        "file",
        "survey.duplicate_upload",
        format!(
            "this file was already uploaded as {} by {} ({} rows): nothing was counted again",
            earlier.name, earlier.uploaded_by, earlier.rows
        ),
    )
}

/// A questionnaire as stored: its version, and whether it is retired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredQuestionnaire {
    pub questionnaire: Questionnaire,
    /// Unix seconds when retired.
    pub retired_at: Option<i64>,
}

/// One registration of the campaign's villages, for the uplift: where, when, the occupation
/// (for the audience) and the first contribution's payment date, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub village: RegionCode,
    pub registered_on: Date,
    pub occupation: String,
    pub first_paid: Option<Date>,
}

/// Parses a stored JSON document.
pub fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A document to store.
pub fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("encoding: {e}")))
}

/// The error for a record stored before with other content under the same key.
pub fn taken(field: &str, rule: &'static str, what: String) -> StoreError {
    rejected(field, rule, what)
}

/// A unit row with its response's body, if answered: unit, stratum, village, participant id.
pub type UnitAndResponse = (i64, String, String, Option<i64>, Option<String>);

/// A stored date.
pub fn date(s: &str) -> Result<Date> {
    parse_date(s.get(..10).unwrap_or(s)).ok_or_else(|| StoreError::Corrupt(format!("date '{s}'")))
}

/// Checks a wave and its entries before they are written: numbered from 1, at least one week,
/// every entry a village of this wave scheduled within it, no village twice.
pub fn check_wave(w: &Wave, entries: &[PlanEntry]) -> Result<()> {
    if w.wave == 0 {
        return Err(rejected(
            "wave",
            "campaign.wave",
            "waves are numbered from 1",
        ));
    }
    if w.weeks == 0 {
        return Err(rejected(
            "weeks",
            "campaign.weeks",
            "a wave lasts at least one week",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        if e.campaign != w.campaign || e.wave != w.wave {
            return Err(rejected(
                format!("entries[{i}]"),
                "campaign.entry",
                "an entry belongs to the wave it is stored with",
            ));
        }
        if e.village.level() != cakupan_domain::Level::Village {
            return Err(rejected(
                format!("entries[{i}].village"),
                "plan.not_a_village",
                format!("{} is not a village code", e.village),
            ));
        }
        if e.week == 0 || e.week > w.weeks {
            return Err(rejected(
                format!("entries[{i}].week"),
                "campaign.week",
                format!("wave {} has weeks 1 to {}", w.wave, w.weeks),
            ));
        }
        if !seen.insert(e.village) {
            return Err(rejected(
                format!("entries[{i}].village"),
                "campaign.village_twice",
                format!("{} is in the wave twice", e.village),
            ));
        }
    }
    Ok(())
}

pub fn no_campaign(code: &str) -> StoreError {
    rejected(
        "campaign",
        "campaign.unknown",
        format!("there is no campaign {code}"),
    )
}

pub fn village_planned(village: &str, wave: i64) -> StoreError {
    rejected(
        "village",
        "campaign.village_planned",
        format!("{village} is already in wave {wave} of this campaign: nothing was stored"),
    )
}

/// A wave stored again: the same wave and villages is a retry; anything else is refused.
pub fn same_wave(old: &Wave, new: &Wave, stored: &[String], entries: &[PlanEntry]) -> Result<()> {
    let mut want: Vec<String> = entries.iter().map(|e| e.village.to_string()).collect();
    want.sort();
    if old.starts_on == new.starts_on && old.weeks == new.weeks && stored == want.as_slice() {
        Ok(())
    } else {
        Err(rejected(
            "wave",
            "campaign.wave_taken",
            format!(
                "wave {} of {} is already planned with other dates or villages: edit its entries instead",
                new.wave, new.campaign
            ),
        ))
    }
}

/// Entries by wave, week, then the planner's rank (hand-added ones last), then code.
pub fn sort_entries(entries: &mut [PlanEntry]) {
    entries.sort_by(|a, b| {
        (a.wave, a.week, a.rank == 0, a.rank, a.village).cmp(&(
            b.wave,
            b.week,
            b.rank == 0,
            b.rank,
            b.village,
        ))
    });
}

/// The audience codes of the rules.
pub fn audience_codes(rules: &cakupan_domain::RuleSet) -> Vec<&str> {
    rules
        .campaign_audiences
        .iter()
        .map(|a| a.code.as_str())
        .collect()
}

/// The campaign rule in force on a session's date, with the audiences.
pub fn session_rules(
    rules: &cakupan_domain::RuleSet,
    on: Date,
) -> Result<(&CampaignPlanner, Vec<&str>)> {
    let m = cakupan_domain::Month::of(on);
    let rule = rules.campaign_planner(m).ok_or_else(|| {
        rejected(
            "held_on",
            "campaign.no_rule",
            format!("no campaign rule is in force in {m}"),
        )
    })?;
    Ok((rule, audience_codes(rules)))
}

/// A session reference used again: the same session is a retry.
pub fn same_session(old: &Session, new: &Session) -> Result<()> {
    let mut a = old.clone();
    a.recorded_by.clone_from(&new.recorded_by);
    if &a == new {
        Ok(())
    } else {
        Err(rejected(
            "reference",
            "session.reference_taken",
            format!(
                "session {} was recorded with other details: nothing was counted twice",
                new.reference
            ),
        ))
    }
}

/// Moves a coordinated or surveyed village to held; `false` if it already was (or beyond).
pub fn mark_held(e: &mut PlanEntry) -> bool {
    if e.stage < Stage::Held {
        e.stage = Stage::Held;
        true
    } else {
        false
    }
}

pub fn same_questionnaire(old: &Questionnaire, new: &Questionnaire) -> Result<()> {
    if old == new {
        Ok(())
    } else {
        Err(rejected(
            "version",
            "questionnaire.version_taken",
            format!(
                "questionnaire {} version {} exists with other questions: add version {} instead",
                new.code,
                new.version,
                new.version + 1
            ),
        ))
    }
}

pub fn no_questionnaire(code: &str, version: u32) -> StoreError {
    rejected(
        "questionnaire",
        "questionnaire.unknown",
        format!("there is no questionnaire {code} version {version}"),
    )
}

pub fn retired(code: &str, version: u32) -> StoreError {
    rejected(
        "version",
        "questionnaire.retired",
        format!(
            "questionnaire {code} version {version} is retired: no more answers are taken on it"
        ),
    )
}

pub fn no_survey(code: &str) -> StoreError {
    rejected(
        "survey",
        "survey.unknown",
        format!("there is no survey {code}"),
    )
}

/// Checks a survey and its units: a code, strata with a sample each no larger than their
/// population, units numbered 1.. in the strata.
pub fn check_survey(s: &Survey, units: &[Unit]) -> Result<()> {
    if s.code.is_empty()
        || s.code.len() > 40
        || !s
            .code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(rejected(
            "code",
            "survey.code",
            "a survey code is 1 to 40 letters, digits, '-' or '_'",
        ));
    }
    if s.strata.is_empty() {
        return Err(rejected(
            "strata",
            "survey.no_strata",
            "a survey needs at least one stratum",
        ));
    }
    for (i, st) in s.strata.iter().enumerate() {
        if st.sample > st.population {
            return Err(rejected(
                format!("strata[{i}].sample"),
                "sample.too_large",
                format!(
                    "a sample of {} is larger than the {} people of {}",
                    st.sample, st.population, st.code
                ),
            ));
        }
    }
    let sampled: u64 = s.strata.iter().map(|st| st.sample).sum();
    if units.len() as u64 != sampled {
        return Err(rejected(
            "units",
            "survey.units",
            format!("{} units drawn for a sample of {sampled}", units.len()),
        ));
    }
    Ok(())
}

pub fn same_survey(old: &Survey, new: &Survey) -> Result<()> {
    let mut a = old.clone();
    a.created_by.clone_from(&new.created_by);
    if &a == new {
        Ok(())
    } else {
        Err(rejected(
            "code",
            "survey.code_taken",
            format!("survey {} exists with another design", new.code),
        ))
    }
}
