//! The village campaign's pages (issue #8): the campaigns, a campaign's map and funnel with
//! its waves, uplift and surveys; a village's page where its official signs off and the session
//! is recorded; a survey's weighted results and the phone form on which an enumerator enters
//! one respondent's answers.

use super::i18n::{Lang, Tr};
use super::svg::{self, Shade};
use super::{Nav, Page, PageError, St, html, html_status};
use crate::AppState;
use crate::campaign::{self as api, EntryBody};
use crate::error::ApiError;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cakupan_app::campaign::{self as analysis, By};
use cakupan_domain::access::{Action, Resource, authorize};
use cakupan_domain::campaign::{OTHER, Stage};
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::survey::Kind;
use cakupan_domain::{Level, RegionCode};
use cakupan_store::campaign::{Campaign, Coordination, EntryChange, Session};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// The campaign pages' words, in one language.
#[derive(Debug)]
pub struct Ct {
    pub title: &'static str,
    pub none: &'static str,
    pub region: &'static str,
    pub funnel: &'static str,
    pub stages: [&'static str; 5],
    pub villages: &'static str,
    pub sessions: &'static str,
    pub attendance: &'static str,
    pub audiences: &'static str,
    pub waves: &'static str,
    pub wave: &'static str,
    pub starts: &'static str,
    pub ends: &'static str,
    pub weeks: &'static str,
    pub week: &'static str,
    pub basis: &'static str,
    pub by_area: &'static str,
    pub map_title: &'static str,
    pub map_legend: &'static str,
    pub uplift: &'static str,
    pub uplift_help: &'static str,
    pub uplift_none: &'static str,
    pub outcome: &'static str,
    pub attributed: &'static str,
    pub comparison_note: &'static str,
    pub comparison_outside: &'static str,
    pub outcome_enrolments: &'static str,
    pub outcome_paying: &'static str,
    pub audience: &'static str,
    pub effect: &'static str,
    pub interval: &'static str,
    pub reached: &'static str,
    pub comparison: &'static str,
    pub all: &'static str,
    pub surveys: &'static str,
    pub stage: &'static str,
    pub rank: &'static str,
    pub why: &'static str,
    pub potential: &'static str,
    pub workers: &'static str,
    pub active: &'static str,
    pub informal: &'static str,
    pub awareness: &'static str,
    pub assumed: &'static str,
    pub measured: &'static str,
    pub coordination: &'static str,
    pub official: &'static str,
    pub official_role: &'static str,
    pub info_officer: &'static str,
    pub agreed_on: &'static str,
    pub signed_off_by: &'static str,
    pub sign_off: &'static str,
    pub not_signed: &'static str,
    pub record_session: &'static str,
    pub held_on: &'static str,
    pub place: &'static str,
    pub reference: &'static str,
    pub save: &'static str,
    pub agents: &'static str,
    pub results: &'static str,
    pub question: &'static str,
    pub group: &'static str,
    pub estimate: &'static str,
    pub margin: &'static str,
    pub respondents: &'static str,
    pub people: &'static str,
    pub answered_of: &'static str,
    pub unanswered_strata: &'static str,
    pub units: &'static str,
    pub unit: &'static str,
    pub village: &'static str,
    pub answer: &'static str,
    pub answered: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub skip: &'static str,
    pub saved: &'static str,
    pub back: &'static str,
    pub version: &'static str,
    pub withheld: &'static str,
    pub by_audience: &'static str,
    pub by_regency: &'static str,
    pub compare: &'static str,
    pub change: &'static str,
    pub basis_text: &'static str,
    pub recorded_by_cli: &'static str,
    pub agreement_text: &'static str,
    pub agreement_confirm: &'static str,
    pub plan_title: &'static str,
    pub plan_help: &'static str,
    pub plan_wave_title: &'static str,
    pub plan_starts: &'static str,
    pub plan_weeks: &'static str,
    pub plan_per_district: &'static str,
    pub plan_per_agent: &'static str,
    pub plan_wave_submit: &'static str,
    pub plan_village_title: &'static str,
    pub plan_village_code: &'static str,
    pub plan_village_hint: &'static str,
    pub plan_village_submit: &'static str,
    pub plan_remove: &'static str,
    pub plan_remove_label: &'static str,
    pub plan_done_wave: &'static str,
    pub plan_done_village: &'static str,
    pub plan_done_removed: &'static str,
    pub plan_actions: &'static str,
}

pub static ID: Ct = Ct {
    title: "Kampanye Kerja Keras Bebas Cemas",
    none: "Belum ada.",
    region: "Wilayah",
    funnel: "Corong kampanye",
    stages: [
        "Direncanakan",
        "Dikoordinasikan",
        "Disurvei",
        "Dilaksanakan",
        "Ditindaklanjuti",
    ],
    villages: "Desa",
    sessions: "Sosialisasi",
    attendance: "Kehadiran",
    audiences: "Kelompok",
    waves: "Gelombang",
    wave: "Gelombang",
    starts: "Mulai",
    ends: "Selesai",
    weeks: "Minggu",
    week: "Minggu",
    basis: "Dasar perencanaan",
    by_area: "Menurut wilayah",
    map_title: "Peta: desa yang sudah dilaksanakan dari yang direncanakan",
    map_legend: "Bagian desa yang sudah dilaksanakan",
    uplift: "Dampak terhadap pendaftaran",
    uplift_help: "Selisih perubahan (difference in differences): pendaftaran di tiap desa pada minggu-minggu setelah sosialisasinya dibanding minggu-minggu sebelumnya, dikurangi perubahan di desa yang belum dijangkau pada tanggal yang sama. Interval 95%.",
    uplift_none: "Belum dapat dihitung",
    outcome: "Ukuran",
    attributed: "Pendaftaran berkat kampanye (perkiraan, interval 95%)",
    comparison_note: "desa gelombang ini atau berikutnya yang belum mendapat sosialisasi sebelum",
    comparison_outside: "ditambah, karena terlalu sedikit, desa di kecamatan yang sama di luar kampanye",
    outcome_enrolments: "Pendaftaran per desa",
    outcome_paying: "Pendaftaran yang membayar per desa",
    audience: "Kelompok",
    effect: "Dampak",
    interval: "Interval 95%",
    reached: "Desa terjangkau",
    comparison: "Desa pembanding",
    all: "Semua",
    surveys: "Survei",
    stage: "Tahap",
    rank: "Peringkat",
    why: "Mengapa desa ini dipilih",
    potential: "Potensi",
    workers: "Perkiraan pekerja",
    active: "Peserta aktif",
    informal: "Bagian kerja informal",
    awareness: "Pengetahuan tentang program",
    assumed: "asumsi",
    measured: "hasil survei",
    coordination: "Koordinasi dengan desa",
    official: "Nama pejabat desa",
    official_role: "Jabatan",
    info_officer: "Petugas informasi publik (PPID)",
    agreed_on: "Tanggal persetujuan",
    signed_off_by: "Dicatat oleh",
    sign_off: "Setujui dan tanda tangani",
    not_signed: "Belum disetujui perangkat desa.",
    record_session: "Catat sosialisasi",
    held_on: "Tanggal",
    place: "Tempat",
    reference: "Nomor catatan",
    save: "Simpan",
    agents: "Agen Perisai",
    results: "Hasil (tertimbang)",
    question: "Pertanyaan",
    group: "Kelompok",
    estimate: "Perkiraan",
    margin: "± (95%)",
    respondents: "Responden",
    people: "Perkiraan jumlah orang",
    answered_of: "menjawab dari",
    unanswered_strata: "strata belum ada responden; perkiraan hanya mewakili sisanya",
    units: "Responden yang harus diwawancarai",
    unit: "No.",
    village: "Desa",
    answer: "Isi jawaban",
    answered: "sudah",
    yes: "Ya",
    no: "Tidak",
    skip: "(tidak menjawab)",
    saved: "Jawaban tersimpan.",
    back: "Kembali",
    version: "versi",
    withheld: "kelompok dengan responden terlalu sedikit tidak ditampilkan",
    by_audience: "menurut kelompok",
    by_regency: "menurut kabupaten/kota",
    compare: "Bandingkan dengan survei",
    change: "Perubahan (95%)",
    basis_text: "Desa diusulkan menurut jumlah pekerja yang belum terlindungi: penduduk bekerja (BPS Sakernas) dibagi rata ke desa-desa provinsinya, bagian pekerja informal provinsi, pengetahuan warga tentang program (dari survei kampanye bila sudah ada), dan agen Perisai yang melayani.",
    recorded_by_cli: "petugas kantor pusat (baris perintah)",
    agreement_text: "Dengan ini pemerintah desa/kelurahan menyetujui kampanye \"Kerja Keras Bebas Cemas\" di wilayahnya: menyediakan tempat dan waktu sosialisasi, mengumumkannya kepada warga, dan menunjuk petugas informasi publik (PPID) desa sebagai penghubung. Data warga yang dikumpulkan hanya dipakai untuk kepesertaan BPJS Ketenagakerjaan.",
    agreement_confirm: "Saya telah membaca dan menyetujui pernyataan di atas atas nama pemerintah desa/kelurahan.",
    plan_title: "Rencana gelombang",
    plan_help: "Gelombang berikutnya diusulkan oleh perencana dari desa-desa di wilayah kampanye yang belum pernah dijangkau; usulannya bisa diubah: tambahkan desa ke minggu tertentu, atau keluarkan desa yang belum berkoordinasi.",
    plan_wave_title: "Rencanakan gelombang berikutnya",
    plan_starts: "Mulai tanggal",
    plan_weeks: "Lama (minggu)",
    plan_per_district: "Sosialisasi per kecamatan per minggu",
    plan_per_agent: "Sosialisasi per agen per minggu",
    plan_wave_submit: "Susun usulan gelombang",
    plan_village_title: "Tambah desa ke gelombang",
    plan_village_code: "Kode desa",
    plan_village_hint: "Kode Kemendagri desa, mis. 32.73.01.1001.",
    plan_village_submit: "Tambahkan desa",
    plan_remove: "Keluarkan",
    plan_remove_label: "Keluarkan {v} dari gelombangnya",
    plan_done_wave: "Gelombang {n} disusun: {v} desa diusulkan.",
    plan_done_village: "{v} ditambahkan ke gelombang {n}, minggu {w}.",
    plan_done_removed: "{v} dikeluarkan dari gelombangnya.",
    plan_actions: "Tindakan",
};

pub static EN: Ct = Ct {
    title: "Kerja Keras Bebas Cemas campaign",
    none: "None yet.",
    region: "Region",
    funnel: "Campaign funnel",
    stages: ["Planned", "Coordinated", "Surveyed", "Held", "Followed up"],
    villages: "Villages",
    sessions: "Sessions",
    attendance: "Attendance",
    audiences: "Audience",
    waves: "Waves",
    wave: "Wave",
    starts: "Starts",
    ends: "Ends",
    weeks: "Weeks",
    week: "Week",
    basis: "Planning basis",
    by_area: "By area",
    map_title: "Map: villages held of those planned",
    map_legend: "Share of planned villages held",
    uplift: "Effect on enrolment",
    uplift_help: "Difference in differences: enrolments in each village in the weeks after its session against the weeks before, less the change in villages not yet reached over the same dates. 95% intervals.",
    uplift_none: "Cannot be estimated yet",
    outcome: "Outcome",
    attributed: "Enrolments attributed to the campaign (estimate, 95% interval)",
    comparison_note: "villages of this or later waves with no session before",
    comparison_outside: "and, being too few, the villages of the same districts outside the campaign",
    outcome_enrolments: "Enrolments per village",
    outcome_paying: "Enrolments that paid, per village",
    audience: "Audience",
    effect: "Effect",
    interval: "95% interval",
    reached: "Villages reached",
    comparison: "Comparison villages",
    all: "All",
    surveys: "Surveys",
    stage: "Stage",
    rank: "Rank",
    why: "Why this village was chosen",
    potential: "Potential",
    workers: "Estimated workers",
    active: "Peserta aktif",
    informal: "Informal share of work",
    awareness: "Awareness of the programmes",
    assumed: "assumed",
    measured: "surveyed",
    coordination: "Coordination with the village",
    official: "Village official's name",
    official_role: "Position",
    info_officer: "Public-information officer (PPID)",
    agreed_on: "Agreed on",
    signed_off_by: "Recorded by",
    sign_off: "Agree and sign off",
    not_signed: "Not yet signed off by the village.",
    record_session: "Record a session",
    held_on: "Date",
    place: "Place",
    reference: "Record number",
    save: "Save",
    agents: "Perisai agents",
    results: "Results (weighted)",
    question: "Question",
    group: "Group",
    estimate: "Estimate",
    margin: "± (95%)",
    respondents: "Respondents",
    people: "Estimated people",
    answered_of: "answered of",
    unanswered_strata: "strata have no respondent yet; the estimates speak for the rest only",
    units: "People to interview",
    unit: "No.",
    village: "Village",
    answer: "Enter answers",
    answered: "done",
    yes: "Yes",
    no: "No",
    skip: "(no answer)",
    saved: "Answers saved.",
    back: "Back",
    version: "version",
    withheld: "groups with too few respondents are not shown",
    by_audience: "by audience",
    by_regency: "by regency",
    compare: "Compare with survey",
    change: "Change (95%)",
    basis_text: "Villages are proposed by the number of workers not yet protected: employed persons (BPS Sakernas) shared equally among each province's villages, the province's informal share, how many people know the programmes (from the campaign's surveys where there are any), and the Perisai agents serving them.",
    recorded_by_cli: "head office (command line)",
    agreement_text: "The village government hereby agrees to the \"Kerja Keras Bebas Cemas\" campaign in its area: to provide a place and a time for the sessions, to announce them to residents, and to name the village's public-information officer (PPID) as the contact. Residents' data collected is used only for BPJS Ketenagakerjaan participation.",
    agreement_confirm: "I have read and agree to the statement above on behalf of the village government.",
    plan_title: "Planning the waves",
    plan_help: "The next wave is proposed by the planner from the campaign region's villages not yet reached; the proposal can be changed: add a village to a given week, or take out a village that has not yet coordinated.",
    plan_wave_title: "Plan the next wave",
    plan_starts: "Starts on",
    plan_weeks: "Length (weeks)",
    plan_per_district: "Sessions per district a week",
    plan_per_agent: "Sessions per agent a week",
    plan_wave_submit: "Draw up the wave's proposal",
    plan_village_title: "Add a village to a wave",
    plan_village_code: "Village code",
    plan_village_hint: "The village's Kemendagri code, such as 32.73.01.1001.",
    plan_village_submit: "Add the village",
    plan_remove: "Take out",
    plan_remove_label: "Take {v} out of its wave",
    plan_done_wave: "Wave {n} drawn up: {v} villages proposed.",
    plan_done_village: "{v} added to wave {n}, week {w}.",
    plan_done_removed: "{v} taken out of its wave.",
    plan_actions: "Action",
};

pub fn words(lang: Lang) -> &'static Ct {
    match lang {
        Lang::Id => &ID,
        Lang::En => &EN,
    }
}

fn page_err(page: &Page, e: ApiError) -> PageError {
    match e {
        ApiError::NotFound(_) => PageError::NotFound(page.lang),
        ApiError::Forbidden(m) => PageError::Forbidden(page.lang, m),
        other => PageError::Internal(format!("{other:?}")),
    }
}

fn stage_name(c: &Ct, s: Stage) -> &'static str {
    let i = Stage::ALL.iter().position(|x| *x == s).unwrap_or(0);
    c.stages[i]
}

fn audience_name(st: &AppState, lang: Lang, code: &str) -> String {
    st.rules
        .campaign_audiences
        .iter()
        .find(|a| a.code == code)
        .map(|a| match lang {
            Lang::Id => a.name_id.clone(),
            Lang::En => a.name_en.clone(),
        })
        .unwrap_or_else(|| match (code, lang) {
            (OTHER, Lang::Id) => "Lainnya".into(),
            (OTHER, Lang::En) => "Other".into(),
            ("all", Lang::Id) => "Semua".into(),
            ("all", Lang::En) => "All".into(),
            (c, _) => c.to_string(),
        })
}

fn area_label(st: &AppState, t: &Tr, code: RegionCode) -> String {
    if code == RegionCode::NATION {
        t.nation.to_string()
    } else {
        format!("{} ({code})", st.regions.path_label(code))
    }
}

struct CampaignRow {
    code: String,
    name: String,
    region: String,
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct ListPage {
    t: &'static Tr,
    c: &'static Ct,
    nav: Nav,
    rows: Vec<CampaignRow>,
}

/// `/kampanye`: the campaigns the user may see.
pub async fn home(State(st): St, page: Page) -> Result<Response, PageError> {
    let me = page.require()?;
    let mut rows = Vec::new();
    for c in st.store.campaigns().await? {
        let scope = api::view_region(&me.who, c.region);
        if authorize(&me.who, Action::ReadCampaign, &Resource::Region(scope)).is_ok() {
            rows.push(CampaignRow {
                code: c.code.clone(),
                name: c.name.clone(),
                region: area_label(&st, page.t(), c.region),
            });
        }
    }
    if rows.is_empty() {
        page.allow(Action::ReadCampaign, &Resource::Region(me.who.region))?;
    }
    html(&ListPage {
        t: page.t(),
        c: words(page.lang),
        nav: page.nav(),
        rows,
    })
}

struct StageBar {
    label: &'static str,
    count: String,
    /// Width of the bar, 0–100.
    width: u32,
}

struct AreaRow {
    name: String,
    href: Option<String>,
    planned: String,
    coordinated: String,
    held: String,
    sessions: String,
    attendance: String,
}

struct WaveRow {
    wave: u32,
    starts: String,
    ends: String,
    weeks: u32,
    villages: String,
}

struct UpliftRow {
    outcome: &'static str,
    audience: String,
    effect: String,
    interval: String,
    reached: usize,
    comparison: usize,
}

struct UpliftView {
    wave: u32,
    attributed: Option<String>,
    note: String,
    rows: Vec<UpliftRow>,
    error: Option<String>,
}

struct MapView {
    svg: String,
    legend: Vec<(&'static str, String)>,
}

struct SurveyLink {
    code: String,
    label: String,
}

struct EntryRow {
    village: String,
    name: String,
    wave: u32,
    week: u32,
    stage: &'static str,
    href: String,
    /// Planned and in the reader's area to manage: it may be taken out of its wave.
    removable: bool,
    /// The button's full name for a screen reader.
    remove_label: String,
}

/// The planning forms' fields, as typed (`/kampanye/{code}/gelombang`, `…/desa`,
/// `…/desa/{village}/keluarkan`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    csrf: String,
    /// The area the page was showing.
    #[serde(default)]
    wilayah: String,
    #[serde(default)]
    starts_on: String,
    #[serde(default)]
    weeks: String,
    #[serde(default)]
    sessions_per_district_week: String,
    #[serde(default)]
    sessions_per_agent_week: String,
    #[serde(default)]
    village: String,
    #[serde(default)]
    wave: String,
    #[serde(default)]
    week: String,
}

/// What the planning panel shows: the forms the reader may use, the outcome of the last one.
#[derive(Debug, Default)]
struct PlanView {
    may_plan_wave: bool,
    may_add: bool,
    flash: Option<String>,
    errors: Vec<String>,
    form: PlanForm,
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    t: &'static Tr,
    c: &'static Ct,
    nav: Nav,
    code: String,
    name: String,
    area: String,
    crumbs: Vec<(String, String)>,
    bars: Vec<StageBar>,
    sessions: String,
    attendance: Vec<(String, String)>,
    waves: Vec<WaveRow>,
    areas: Vec<AreaRow>,
    map: Option<MapView>,
    uplift: Vec<UpliftView>,
    surveys: Vec<SurveyLink>,
    entries: Vec<EntryRow>,
    /// Enrolments the campaign added, all waves with an estimate (whole campaign).
    attributed: Option<String>,
    plan: PlanView,
    /// The area shown, as a code (empty: the campaign's default for the reader).
    area_code: String,
}

#[derive(Debug, Deserialize)]
pub struct AreaQuery {
    wilayah: Option<String>,
}

async fn campaign_of(st: &AppState, page: &Page, code: &str) -> Result<Campaign, PageError> {
    let me = page.require()?;
    api::campaign_for(st, &me.who, code)
        .await
        .map_err(|e| page_err(page, e))
}

/// `/kampanye/{code}`: a campaign within an area: the funnel, the map (nation and province),
/// the table by child region, waves, uplift per wave, surveys; the villages themselves once the
/// area is a district or village.
pub async fn campaign_page(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<AreaQuery>,
) -> Result<Response, PageError> {
    let form = PlanForm {
        wilayah: q.wilayah.unwrap_or_default(),
        ..PlanForm::default()
    };
    campaign_view(&st, &page, &code, form, None, Vec::new(), StatusCode::OK).await
}

/// The campaign page in the area `form.wilayah` names, with the planning panel's outcome.
async fn campaign_view(
    st: &AppState,
    page: &Page,
    code: &str,
    mut form: PlanForm,
    flash: Option<String>,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let c = campaign_of(st, page, code).await?;
    let me = page.require()?.clone();
    let area = match Some(form.wilayah.trim()).filter(|s| !s.is_empty()) {
        Some(s) => RegionCode::parse(s).map_err(|_| PageError::NotFound(page.lang))?,
        None => api::view_region(&me.who, c.region),
    };
    if !c.region.contains(area) {
        return Err(PageError::NotFound(page.lang));
    }
    page.allow(Action::ReadCampaign, &Resource::Region(area))?;
    let (lang, t, w) = (page.lang, page.t(), words(page.lang));
    let entries = st.store.plan_entries(&c.code, area).await?;
    let sessions = st.store.sessions(&c.code, area).await?;
    let f = analysis::funnel(&entries, &sessions);
    let total = f.reached(Stage::Planned).max(1);
    let bars = Stage::ALL
        .iter()
        .map(|s| StageBar {
            label: stage_name(w, *s),
            count: lang.num(f.reached(*s) as i64),
            width: u32::try_from(100 * f.reached(*s) / total).unwrap_or(100),
        })
        .collect();
    let attendance = f
        .attendance
        .iter()
        .map(|(a, n)| (audience_name(st, lang, a), lang.num(*n as i64)))
        .collect();
    // By child region.
    let mut by_child: BTreeMap<RegionCode, (u64, u64, u64, u64, u64)> = BTreeMap::new();
    let child_level = match area.level() {
        _ if area == RegionCode::NATION => Some(Level::Province),
        Level::Province => Some(Level::Regency),
        Level::Regency => Some(Level::District),
        _ => None,
    };
    if let Some(level) = child_level {
        for e in &entries {
            let k = by_child.entry(e.village.truncate(level)).or_default();
            k.0 += 1;
            if e.stage >= Stage::Coordinated {
                k.1 += 1;
            }
            if e.stage >= Stage::Held {
                k.2 += 1;
            }
        }
        for s in &sessions {
            let k = by_child.entry(s.village.truncate(level)).or_default();
            k.3 += 1;
            k.4 += s.total();
        }
    }
    let areas: Vec<AreaRow> = by_child
        .iter()
        .map(|(code, (p, co, h, s, a))| AreaRow {
            name: st
                .regions
                .get(*code)
                .map(|r| r.name.clone())
                .unwrap_or_else(|| code.to_string()),
            href: authorize(&me.who, Action::ReadCampaign, &Resource::Region(*code))
                .is_ok()
                .then(|| format!("/kampanye/{}?wilayah={code}", c.code)),
            planned: lang.num(*p as i64),
            coordinated: lang.num(*co as i64),
            held: lang.num(*h as i64),
            sessions: lang.num(*s as i64),
            attendance: lang.num(*a as i64),
        })
        .collect();
    // The map: the nation's provinces or a province's regencies; for a regency, its
    // province's map with the regency alone shaded.
    let map_level = if area == RegionCode::NATION {
        Some(Level::Province)
    } else if matches!(area.level(), Level::Province | Level::Regency) {
        Some(Level::Regency)
    } else {
        None
    };
    let mut by_shade: BTreeMap<RegionCode, (u64, u64)> = BTreeMap::new();
    if let Some(level) = map_level {
        for e in &entries {
            let k = by_shade.entry(e.village.truncate(level)).or_default();
            k.0 += 1;
            if e.stage >= Stage::Held {
                k.1 += 1;
            }
        }
    }
    let map = if map_level.is_some() {
        let mut shades = HashMap::new();
        let mut max_seen = 0.0f64;
        for (code, (p, h)) in &by_shade {
            let share = (*p > 0).then(|| *h as f64 / *p as f64);
            if let Some(s) = share {
                max_seen = max_seen.max(s);
            }
            let name = st
                .regions
                .get(*code)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            shades.insert(
                code.to_string(),
                Shade {
                    share,
                    label: format!(
                        "{name}: {}",
                        share
                            .map(|s| lang.pct(s))
                            .unwrap_or_else(|| t.map_no_data.into())
                    ),
                    href: authorize(&me.who, Action::ReadCampaign, &Resource::Region(*code))
                        .is_ok()
                        .then(|| format!("/kampanye/{}?wilayah={code}", c.code)),
                },
            );
        }
        let drawn = if area == RegionCode::NATION {
            svg::province_map(&shades, w.map_title)
        } else {
            svg::regency_map(area.truncate(Level::Province), &shades, w.map_title)
        };
        (!drawn.is_empty()).then(|| MapView {
            svg: drawn,
            legend: svg::legend(lang, max_seen.max(0.01)),
        })
    } else {
        None
    };
    let wave_list = st.store.waves(&c.code).await?;
    let waves = wave_list
        .iter()
        .map(|wv| WaveRow {
            wave: wv.wave,
            starts: lang.date(wv.starts_on),
            ends: lang.date(wv.ends_on()),
            weeks: wv.weeks,
            villages: lang.num(f.waves.get(&wv.wave).copied().unwrap_or(0) as i64),
        })
        .collect();
    // The uplift is over the campaign's whole region: for those who may read it.
    let mut uplift = Vec::new();
    let mut attributed_total = (0.0f64, 0.0f64, 0.0f64);
    if authorize(&me.who, Action::ReadCampaign, &Resource::Region(c.region)).is_ok() {
        for wv in &wave_list {
            match analysis::uplift(
                st.store.as_ref(),
                &st.rules,
                &st.regions,
                &c.code,
                wv.wave,
                (st.today)(),
            )
            .await
            {
                Ok(r) => uplift.push(UpliftView {
                    wave: wv.wave,
                    attributed: r
                        .rows
                        .iter()
                        .find(|u| u.outcome == "enrolments" && u.audience == "all")
                        .map(|u| {
                            attributed_total.0 += u.attributed;
                            attributed_total.1 += u.attributed_low;
                            attributed_total.2 += u.attributed_high;
                            format!(
                                "≈ {} ({} – {})",
                                lang.num(u.attributed.round() as i64),
                                lang.num(u.attributed_low.round() as i64),
                                lang.num(u.attributed_high.round() as i64)
                            )
                        }),
                    note: format!(
                        "{} {}{}",
                        w.comparison_note,
                        r.comparison_until,
                        if r.comparison_outside {
                            format!("; {}", w.comparison_outside)
                        } else {
                            String::new()
                        }
                    ),
                    rows: r
                        .rows
                        .iter()
                        .map(|u| UpliftRow {
                            outcome: if u.outcome == "enrolments" {
                                w.outcome_enrolments
                            } else {
                                w.outcome_paying
                            },
                            audience: audience_name(st, lang, &u.audience),
                            effect: lang.signed_decimal(u.estimate.effect, 2),
                            interval: format!(
                                "{} – {}",
                                lang.decimal(u.estimate.low, 2),
                                lang.decimal(u.estimate.high, 2)
                            ),
                            reached: u.estimate.reached,
                            comparison: u.estimate.comparison,
                        })
                        .collect(),
                    error: None,
                }),
                Err(cakupan_store::StoreError::Rejected(e)) => uplift.push(UpliftView {
                    wave: wv.wave,
                    attributed: None,
                    note: String::new(),
                    rows: Vec::new(),
                    error: Some(
                        e.iter()
                            .map(|x| lang.field_message(x))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                }),
                Err(e) => return Err(e.into()),
            }
        }
    }
    let surveys = st
        .store
        .surveys()
        .await?
        .into_iter()
        .filter(|s| s.campaign.as_deref() == Some(c.code.as_str()))
        // Only the surveys this reader may open (`survey_page`): its results, or its
        // fieldwork in the reader's area.
        .filter(|s| {
            authorize(&me.who, Action::ReadCampaign, &Resource::Region(s.region)).is_ok()
                || authorize(
                    &me.who,
                    Action::RecordFieldwork,
                    &Resource::Region(api::view_region(&me.who, s.region)),
                )
                .is_ok()
        })
        .map(|s| SurveyLink {
            label: format!(
                "{} — {} {}{}",
                s.code,
                w.version,
                s.version,
                s.wave
                    .map(|x| format!(", {} {x}", w.wave))
                    .unwrap_or_default()
            ),
            code: s.code,
        })
        .collect();
    let show_entries = area.level() >= Level::District && area != RegionCode::NATION;
    let entries = if show_entries {
        entries
            .iter()
            .map(|e| EntryRow {
                village: e.village.to_string(),
                remove_label: w.plan_remove_label.replace(
                    "{v}",
                    &st.regions
                        .get(e.village)
                        .map(|r| r.name.clone())
                        .unwrap_or_default(),
                ),
                name: st
                    .regions
                    .get(e.village)
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                wave: e.wave,
                week: e.week,
                stage: stage_name(w, e.stage),
                href: format!("/kampanye/{}/desa/{}", c.code, e.village),
                removable: e.stage == Stage::Planned
                    && authorize(
                        &me.who,
                        Action::ManageCampaign,
                        &Resource::Region(e.village),
                    )
                    .is_ok(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut crumbs = Vec::new();
    for a in area.path() {
        // Only the areas this reader may open: a link that answers 403 is no link.
        if c.region.contains(a)
            && a != area
            && authorize(&me.who, Action::ReadCampaign, &Resource::Region(a)).is_ok()
        {
            crumbs.push((
                st.regions
                    .get(a)
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                format!("/kampanye/{}?wilayah={a}", c.code),
            ));
        }
    }
    let attributed = uplift.iter().any(|u| u.attributed.is_some()).then(|| {
        format!(
            "≈ {} ({} – {})",
            lang.num(attributed_total.0.round() as i64),
            lang.num(attributed_total.1.round() as i64),
            lang.num(attributed_total.2.round() as i64)
        )
    });
    // The planning forms' starting values: the day after the last wave, four weeks, the
    // last wave's first week.
    if form.starts_on.is_empty() {
        let after = wave_list
            .last()
            .map(|w| w.ends_on())
            .unwrap_or((st.today)())
            .max((st.today)());
        form.starts_on = format_date(after.next_day().unwrap_or(after));
        form.weeks = "4".into();
        form.sessions_per_district_week = "2".into();
        form.sessions_per_agent_week = "1".into();
        form.wave = wave_list.last().map_or(1, |w| w.wave).to_string();
        form.week = "1".into();
    }
    form.wilayah = area.to_string();
    let plan = PlanView {
        may_plan_wave: authorize(&me.who, Action::ManageCampaign, &Resource::Region(c.region))
            .is_ok(),
        may_add: !wave_list.is_empty()
            && authorize(&me.who, Action::ManageCampaign, &Resource::Region(area)).is_ok(),
        flash,
        errors,
        form,
    };
    html_status(
        status,
        &CampaignPage {
            plan,
            area_code: area.to_string(),
            t,
            c: w,
            attributed,
            nav: page.nav(),
            code: c.code.clone(),
            name: c.name.clone(),
            area: area_label(st, t, area),
            crumbs,
            bars,
            sessions: lang.num(f.sessions as i64),
            attendance,
            waves,
            areas,
            map,
            uplift,
            surveys,
            entries,
        },
    )
}

#[derive(Template)]
#[template(path = "campaign_village.html")]
struct VillagePage {
    t: &'static Tr,
    c: &'static Ct,
    nav: Nav,
    code: String,
    village: String,
    e: EntryBody,
    stage: &'static str,
    awareness_note: &'static str,
    informal: String,
    awareness: String,
    may_sign: bool,
    /// The last day a sign-off may be dated (`YYYY-MM-DD`).
    wave_window: Option<String>,
    may_record: bool,
    csrf: String,
    errors: Vec<String>,
    sign: SignForm,
    session: SessionForm,
    audiences: Vec<(String, String, String)>,
    sessions: Vec<(String, String, String, String)>,
    today: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct SignForm {
    #[serde(default)]
    csrf: String,
    /// The official ticked the agreement text.
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    official: String,
    #[serde(default)]
    official_role: String,
    #[serde(default)]
    info_officer: String,
    #[serde(default)]
    agreed_on: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct SessionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    held_on: String,
    #[serde(default)]
    place: String,
    #[serde(flatten)]
    counts: HashMap<String, String>,
}

#[allow(clippy::too_many_arguments)]
async fn village_view(
    st: &AppState,
    page: &Page,
    c: &Campaign,
    village: RegionCode,
    errors: Vec<String>,
    sign: SignForm,
    session: SessionForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let me = page.allow(Action::ReadCampaign, &Resource::Region(village))?;
    let (lang, w) = (page.lang, words(page.lang));
    let entry = st
        .store
        .plan_entries(&c.code, village)
        .await?
        .into_iter()
        .find(|e| e.village == village)
        .ok_or(PageError::NotFound(lang))?;
    let sessions = st.store.sessions(&c.code, village).await?;
    // The last day a sign-off may be dated: the wave's last day, or today if earlier.
    let today = (st.today)();
    let wave_window = st
        .store
        .waves(&c.code)
        .await?
        .into_iter()
        .find(|wv| wv.wave == entry.wave)
        .map(|wv| format_date(wv.ends_on().min(today)));
    let audiences: Vec<(String, String, String)> = st
        .rules
        .campaign_audiences
        .iter()
        .map(|a| a.code.clone())
        .chain(std::iter::once(OTHER.to_string()))
        .map(|code| {
            let v = session
                .counts
                .get(&format!("n_{code}"))
                .cloned()
                .unwrap_or_default();
            (code.clone(), audience_name(st, lang, &code), v)
        })
        .collect();
    let sess = sessions
        .iter()
        .map(|s| {
            (
                lang.date(s.held_on),
                s.place.clone(),
                lang.num(s.total() as i64),
                s.attendance
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(a, n)| {
                        format!("{} {}", audience_name(st, lang, a), lang.num(i64::from(*n)))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
        .collect();
    let mut e = api::entry_body(st, &entry);
    // The command line records as `cli`; a date is written the reader's way.
    if e.signed_off_by.as_deref() == Some("cli") {
        e.signed_off_by = Some(w.recorded_by_cli.to_string());
    }
    e.agreed_on = e
        .agreed_on
        .as_deref()
        .and_then(parse_date)
        .map(|d| lang.date(d))
        .or(e.agreed_on);
    html_status(
        status,
        &VillagePage {
            t: page.t(),
            c: w,
            nav: page.nav(),
            code: c.code.clone(),
            village: format!("{} ({village})", st.regions.path_label(village)),
            stage: stage_name(w, entry.stage),
            awareness_note: if entry.awareness_measured {
                w.measured
            } else {
                w.assumed
            },
            informal: lang.pct(entry.informal_share),
            awareness: lang.pct(entry.awareness),
            may_sign: entry.coordination.is_none()
                && authorize(&me.who, Action::SignOffCampaign, &Resource::Region(village)).is_ok(),
            may_record: entry.stage >= Stage::Coordinated
                && authorize(&me.who, Action::RecordFieldwork, &Resource::Region(village)).is_ok(),
            csrf: me.csrf.clone(),
            errors,
            sign,
            session,
            audiences,
            sessions: sess,
            today: format_date(today),
            wave_window,
            e,
        },
    )
}

fn village_arg(page: &Page, s: &str) -> Result<RegionCode, PageError> {
    RegionCode::parse(s.trim())
        .ok()
        .filter(|v| v.level() == Level::Village)
        .ok_or(PageError::NotFound(page.lang))
}

/// `/kampanye/{code}/desa/{village}`: a village's entry, its sign-off and its sessions.
pub async fn village_page(
    State(st): St,
    page: Page,
    Path((code, village)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let c = campaign_of(&st, &page, &code).await?;
    let village = village_arg(&page, &village)?;
    village_view(
        &st,
        &page,
        &c,
        village,
        Vec::new(),
        SignForm {
            official_role: "Kepala Desa".into(),
            ..Default::default()
        },
        SessionForm::default(),
        StatusCode::OK,
    )
    .await
}

fn messages(lang: Lang, e: &cakupan_store::StoreError) -> Option<Vec<String>> {
    match e {
        cakupan_store::StoreError::Rejected(errs) => {
            Some(errs.iter().map(|x| lang.summary_line(x)).collect())
        }
        _ => None,
    }
}

/// The planning forms' problems, in the reader's words, or the failure to show as a page.
fn plan_errors(page: &Page, e: ApiError) -> Result<Vec<String>, PageError> {
    match e {
        ApiError::Invalid(errs) => Ok(errs.iter().map(|x| page.lang.summary_line(x)).collect()),
        e => Err(page_err(page, e)),
    }
}

/// The campaign page after a planning form: what was done, with the forms empty again (in
/// the same area), or the form as typed with its problems in words.
async fn plan_outcome(
    st: &AppState,
    page: &Page,
    code: &str,
    f: PlanForm,
    done: Result<String, ApiError>,
) -> Result<Response, PageError> {
    match done {
        Ok(flash) => {
            let form = PlanForm {
                wilayah: f.wilayah,
                ..PlanForm::default()
            };
            campaign_view(
                st,
                page,
                code,
                form,
                Some(flash),
                Vec::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let errors = plan_errors(page, e)?;
            campaign_view(
                st,
                page,
                code,
                f,
                None,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

fn number(field: &str, rule: &'static str, v: &str) -> Result<u32, ApiError> {
    v.trim().parse::<u32>().map_err(|_| {
        ApiError::Invalid(cakupan_domain::FieldError::new(field, rule, "a whole number").into())
    })
}

/// `POST /kampanye/{code}/gelombang`: plans the next wave (the API's service). The same wave
/// again is a retry.
pub async fn plan_wave(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Form(f): Form<PlanForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let c = campaign_of(&st, &page, &code).await?;
    let w = words(page.lang);
    let planned = async {
        let starts = parse_date(f.starts_on.trim()).ok_or_else(|| {
            ApiError::Invalid(
                cakupan_domain::FieldError::new(
                    "starts_on",
                    "date.format",
                    "a date is written YYYY-MM-DD",
                )
                .into(),
            )
        })?;
        let capacity = analysis::WaveCapacity {
            weeks: number("weeks", "wave.capacity", &f.weeks)?,
            sessions_per_district_week: number(
                "sessions_per_district_week",
                "wave.capacity",
                &f.sessions_per_district_week,
            )?,
            sessions_per_agent_week: number(
                "sessions_per_agent_week",
                "wave.capacity",
                &f.sessions_per_agent_week,
            )?,
        };
        analysis::plan_next_wave(&st, &me.who, &page.request_id, &c, starts, capacity).await
    }
    .await;
    let done = planned.map(|(wave, n, _)| {
        w.plan_done_wave
            .replace("{n}", &wave.wave.to_string())
            .replace("{v}", &page.lang.num(n as i64))
    });
    plan_outcome(&st, &page, &code, f, done).await
}

/// `POST /kampanye/{code}/desa`: adds a village to a week of a wave by hand (the API's
/// service). The same again is a retry.
pub async fn add_village(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Form(f): Form<PlanForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let c = campaign_of(&st, &page, &code).await?;
    let w = words(page.lang);
    let added = async {
        let village = analysis::village_code(&st, &f.village)?;
        let wave = number("wave", "campaign.wave", &f.wave)?;
        let week = number("week", "campaign.week", &f.week)?;
        analysis::add_village(&st, &me.who, &page.request_id, &c, village, (wave, week)).await
    }
    .await;
    let done = added.map(|(e, _)| {
        let name = super::regions::region_name(&st, e.village);
        w.plan_done_village
            .replace("{v}", &name)
            .replace("{n}", &e.wave.to_string())
            .replace("{w}", &e.week.to_string())
    });
    plan_outcome(&st, &page, &code, f, done).await
}

/// `POST /kampanye/{code}/desa/{village}/keluarkan`: takes a planned village out of its wave
/// (never one coordinated or held).
pub async fn remove_village(
    State(st): St,
    page: Page,
    Path((code, village)): Path<(String, String)>,
    Form(f): Form<PlanForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let c = campaign_of(&st, &page, &code).await?;
    let village = village_arg(&page, &village)?;
    let done = analysis::remove_village(&st, &me.who, &page.request_id, &c, village)
        .await
        .map(|_| {
            let name = super::regions::region_name(&st, village);
            words(page.lang).plan_done_removed.replace("{v}", &name)
        });
    plan_outcome(&st, &page, &code, f, done).await
}

/// `POST /kampanye/{code}/desa/{village}/koordinasi`: the village official signs off.
pub async fn sign_off(
    State(st): St,
    page: Page,
    Path((code, village)): Path<(String, String)>,
    Form(f): Form<SignForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let c = campaign_of(&st, &page, &code).await?;
    let village = village_arg(&page, &village)?;
    page.allow(Action::SignOffCampaign, &Resource::Region(village))?;
    let agreed = parse_date(f.agreed_on.trim());
    let result = match agreed {
        _ if f.confirm != "1" => Err(cakupan_store::StoreError::Rejected(
            cakupan_domain::FieldError::new(
                "confirm",
                "agreement.required",
                "tick the agreement to record the sign-off",
            )
            .into(),
        )),
        None => Err(cakupan_store::StoreError::Rejected(
            cakupan_domain::FieldError::new(
                "agreed_on",
                "date.format",
                "a date is written YYYY-MM-DD",
            )
            .into(),
        )),
        Some(d) if api::agreed_on_not_after_today(&st, d).is_err() => {
            Err(cakupan_store::StoreError::Rejected(
                cakupan_domain::FieldError::new(
                    "agreed_on",
                    "coordination.agreed_on",
                    "the agreement cannot be dated after today",
                )
                .into(),
            ))
        }
        Some(d) => {
            st.store
                .change_entry(
                    &c.code,
                    village,
                    &EntryChange::Coordinate(Coordination {
                        official: f.official.trim().into(),
                        official_role: f.official_role.trim().into(),
                        info_officer: f.info_officer.trim().into(),
                        agreed_on: d,
                        signed_off_by: me.who.username.clone(),
                        signed_off_at: cakupan_store::clock::now_secs(),
                    }),
                    &[],
                )
                .await
        }
    };
    match result {
        Ok(_) => {}
        Err(e) => {
            let Some(msgs) = messages(page.lang, &e) else {
                return Err(e.into());
            };
            return village_view(
                &st,
                &page,
                &c,
                village,
                msgs,
                f,
                SessionForm::default(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    }
    page.audit(
        &st,
        "campaign.sign_off",
        format!("campaign:{}/village:{village}", c.code),
        "campaign",
    )
    .await?;
    Ok(Redirect::to(&format!("/kampanye/{}/desa/{village}", c.code)).into_response())
}

/// `POST /kampanye/{code}/desa/{village}/sosialisasi`: a session and its attendance.
pub async fn session(
    State(st): St,
    page: Page,
    Path((code, village)): Path<(String, String)>,
    Form(f): Form<SessionForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let c = campaign_of(&st, &page, &code).await?;
    let village = village_arg(&page, &village)?;
    page.allow(Action::RecordFieldwork, &Resource::Region(village))?;
    let mut errors = Vec::new();
    let held_on = parse_date(f.held_on.trim());
    if held_on.is_none() {
        errors.push(format!(
            "held_on: {}",
            page.lang.field_message(&cakupan_domain::FieldError::new(
                "held_on",
                "date.format",
                "a date is written YYYY-MM-DD"
            ))
        ));
    }
    let mut attendance = Vec::new();
    for (k, v) in &f.counts {
        let Some(code) = k.strip_prefix("n_") else {
            continue;
        };
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        match v.parse::<u32>() {
            Ok(n) => attendance.push((code.to_string(), n)),
            Err(_) => errors.push(format!(
                "attendance.{code}: {}",
                page.lang.field_message(&cakupan_domain::FieldError::new(
                    format!("attendance.{code}"),
                    "attendance.number",
                    "a whole number of people"
                ))
            )),
        }
    }
    attendance.sort();
    let result = match (held_on, errors.is_empty()) {
        (Some(d), true) => {
            let s = Session {
                reference: if f.reference.trim().is_empty() {
                    format!("{}/{village}/{}", c.code, format_date(d))
                } else {
                    f.reference.trim().into()
                },
                campaign: c.code.clone(),
                village,
                held_on: d,
                place: f.place.trim().into(),
                attendance,
                recorded_by: me.who.username.clone(),
            };
            st.store.add_session(&st.rules, &s, (st.today)()).await
        }
        _ => Ok(false),
    };
    if let Err(e) = &result {
        match messages(page.lang, e) {
            Some(m) => errors.extend(m),
            None => return Err(PageError::Internal(e.to_string())),
        }
    }
    if !errors.is_empty() {
        return village_view(
            &st,
            &page,
            &c,
            village,
            errors,
            SignForm::default(),
            f,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    page.audit(
        &st,
        "campaign.session",
        format!("campaign:{}/village:{village}", c.code),
        "campaign",
    )
    .await?;
    Ok(Redirect::to(&format!("/kampanye/{}/desa/{village}", c.code)).into_response())
}

struct ResultRow {
    change: String,
    question: String,
    group: String,
    estimate: String,
    margin: String,
    respondents: String,
    people: String,
}

struct UnitRow {
    unit: u64,
    village: String,
    answered: bool,
    href: String,
}

#[derive(Template)]
#[template(path = "survey.html")]
struct SurveyPage {
    t: &'static Tr,
    c: &'static Ct,
    nav: Nav,
    code: String,
    title: String,
    region: String,
    by_regency: bool,
    summary: String,
    unanswered: Option<String>,
    rows: Vec<ResultRow>,
    notes: Vec<String>,
    may_read_results: bool,
    units: Vec<UnitRow>,
    /// Other surveys of the same questionnaire to compare with: (code, chosen).
    compare_with: Vec<(String, bool)>,
    compared: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SurveyQuery {
    menurut: Option<String>,
    /// An earlier survey of the same questionnaire to compare with.
    banding: Option<String>,
}

/// `/survei/{code}`: weighted results with margins (by audience, or by regency) and, for the
/// field, the people still to interview in the user's area.
pub async fn survey_page(
    State(st): St,
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<SurveyQuery>,
) -> Result<Response, PageError> {
    let me = page.require()?.clone();
    let (s, quest, _) = api::survey_for(&st, &me.who, &code)
        .await
        .map_err(|e| page_err(&page, e))?;
    let (lang, w) = (page.lang, words(page.lang));
    let by_regency = q.menurut.as_deref() == Some("kabupaten");
    let may_read_results =
        authorize(&me.who, Action::ReadCampaign, &Resource::Region(s.region)).is_ok();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut summary = String::new();
    let mut unanswered = None;
    let mut compared = None;
    if may_read_results {
        let r = api::results(
            &st,
            &me.who,
            &code,
            if by_regency {
                By::Regency
            } else {
                By::Audience
            },
        )
        .await
        .map_err(|e| page_err(&page, e))?;
        summary = format!(
            "{} {} {}",
            lang.num(r.responded as i64),
            w.answered_of,
            lang.num(r.sampled as i64)
        );
        if r.strata_unanswered > 0 {
            unanswered = Some(format!(
                "{} {} ({} {})",
                lang.num(r.strata_unanswered as i64),
                w.unanswered_strata,
                lang.num(r.population_unanswered as i64),
                w.people.to_lowercase()
            ));
        }
        for row in &r.rows {
            let qtext = quest
                .questions
                .iter()
                .find(|x| x.code == row.question)
                .map(|x| match lang {
                    Lang::Id => x.text_id.clone(),
                    Lang::En => x.text_en.clone(),
                })
                .unwrap_or_else(|| row.question.clone());
            let is_share = quest
                .questions
                .iter()
                .find(|x| x.code == row.question)
                .is_some_and(|x| !matches!(x.kind, Kind::Number { .. }));
            rows.push(ResultRow {
                change: String::new(),
                question: if row.option.is_empty() {
                    qtext
                } else {
                    let label = quest
                        .questions
                        .iter()
                        .find(|x| x.code == row.question)
                        .map(|x| x.option_label(&row.option, lang == Lang::Id))
                        .unwrap_or_else(|| row.option.clone());
                    format!("{qtext} — {label}")
                },
                group: if by_regency && row.group != "all" {
                    RegionCode::parse(&row.group)
                        .ok()
                        .and_then(|c| st.regions.get(c))
                        .map(|r| r.name.clone())
                        .unwrap_or_else(|| row.group.clone())
                } else {
                    audience_name(&st, lang, &row.group)
                },
                estimate: if is_share {
                    lang.pct(row.value)
                } else {
                    lang.decimal(row.value, 2)
                },
                margin: if is_share {
                    lang.pct(row.margin)
                } else {
                    lang.decimal(row.margin, 2)
                },
                respondents: lang.num(row.respondents as i64),
                people: lang.num(row.population as i64),
            });
        }
        notes = r.no_answers.clone();
        // The change since an earlier survey of the same questionnaire: the difference of
        // the two estimates with the margin of a difference of independent samples.
        if let Some(other) = q.banding.as_deref().filter(|o| !o.is_empty() && *o != code) {
            let e = api::results(
                &st,
                &me.who,
                other,
                if by_regency {
                    By::Regency
                } else {
                    By::Audience
                },
            )
            .await
            .map_err(|e| page_err(&page, e))?;
            for (row, out) in r.rows.iter().zip(rows.iter_mut()) {
                if let Some(x) = e.rows.iter().find(|x| {
                    x.question == row.question && x.option == row.option && x.group == row.group
                }) {
                    let d = row.value - x.value;
                    let m = (row.margin.powi(2) + x.margin.powi(2)).sqrt();
                    let share = out.estimate.ends_with('%');
                    out.change = if share {
                        format!(
                            "{}{} ± {}",
                            if d >= 0.0 { "+" } else { "" },
                            lang.pct(d),
                            lang.pct(m)
                        )
                    } else {
                        format!("{} ± {}", lang.signed_decimal(d, 2), lang.decimal(m, 2))
                    };
                }
            }
            compared = Some(other.to_string());
        }
    }
    let within = api::view_region(&me.who, s.region);
    let units = if authorize(&me.who, Action::RecordFieldwork, &Resource::Region(within)).is_ok() {
        api::units_of(&st, &s, within)
            .await
            .map_err(|e| page_err(&page, e))?
            .into_iter()
            .map(|u| UnitRow {
                href: format!("/survei/{}/isi/{}", s.code, u.unit),
                unit: u.unit,
                village: format!("{} ({})", u.village_name, u.village),
                answered: u.answered,
            })
            .collect()
    } else {
        Vec::new()
    };
    if !may_read_results && units.is_empty() {
        page.allow(Action::RecordFieldwork, &Resource::Region(within))?;
    }
    let mut compare_with = Vec::new();
    for other in st.store.surveys().await? {
        if other.code != s.code
            && other.questionnaire == s.questionnaire
            && authorize(
                &me.who,
                Action::ReadCampaign,
                &Resource::Region(other.region),
            )
            .is_ok()
        {
            let chosen = compared.as_deref() == Some(other.code.as_str());
            compare_with.push((other.code, chosen));
        }
    }
    html(&SurveyPage {
        compare_with,
        compared,
        t: page.t(),
        c: w,
        nav: page.nav(),
        code: s.code.clone(),
        title: match lang {
            Lang::Id => quest.title_id.clone(),
            Lang::En => quest.title_en.clone(),
        },
        region: area_label(&st, page.t(), s.region),
        by_regency,
        summary,
        unanswered,
        rows,
        notes,
        may_read_results,
        units,
    })
}

struct QuestionView {
    code: String,
    text: String,
    yes_no: bool,
    number: Option<(i64, i64)>,
    /// (code, label) of each option.
    options: Vec<(String, String)>,
    value: String,
}

#[derive(Template)]
#[template(path = "survey_answer.html")]
struct AnswerPage {
    t: &'static Tr,
    c: &'static Ct,
    nav: Nav,
    code: String,
    unit: u64,
    village: String,
    version: u32,
    csrf: String,
    errors: Vec<String>,
    questions: Vec<QuestionView>,
    audiences: Vec<(String, String)>,
    audience: String,
    answered: bool,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    audience: String,
    #[serde(flatten)]
    answers: HashMap<String, String>,
}

async fn answer_view(
    st: &AppState,
    page: &Page,
    code: &str,
    unit: u64,
    errors: Vec<String>,
    form: AnswerForm,
    status: StatusCode,
) -> Result<Response, PageError> {
    let me = page.require()?.clone();
    let (s, q, _) = api::survey_for(st, &me.who, code)
        .await
        .map_err(|e| page_err(page, e))?;
    let u = fieldwork_unit(st, page, &s.code, unit).await?;
    let answered = st
        .store
        .responses(&s.code)
        .await?
        .iter()
        .any(|r| r.unit == unit);
    let lang = page.lang;
    let questions = q
        .questions
        .iter()
        .map(|x| QuestionView {
            code: x.code.clone(),
            text: match lang {
                Lang::Id => x.text_id.clone(),
                Lang::En => x.text_en.clone(),
            },
            yes_no: matches!(x.kind, Kind::YesNo),
            number: match x.kind {
                Kind::Number { min, max } => Some((min, max)),
                _ => None,
            },
            options: match &x.kind {
                Kind::Choice { options, .. } => options
                    .iter()
                    .map(|o| (o.clone(), x.option_label(o, lang == Lang::Id)))
                    .collect(),
                _ => Vec::new(),
            },
            value: form
                .answers
                .get(&format!("q_{}", x.code))
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    let audiences = st
        .rules
        .campaign_audiences
        .iter()
        .map(|a| a.code.clone())
        .chain(std::iter::once(OTHER.to_string()))
        .map(|c| (c.clone(), audience_name(st, lang, &c)))
        .collect();
    html_status(
        status,
        &AnswerPage {
            t: page.t(),
            c: words(lang),
            nav: page.nav(),
            code: s.code.clone(),
            unit,
            village: format!("{} ({})", st.regions.path_label(u.village), u.village),
            version: s.version,
            csrf: me.csrf.clone(),
            errors,
            questions,
            audiences,
            audience: form.audience.clone(),
            answered,
        },
    )
}

/// One unit of a survey, in a village where the user may record answers.
async fn fieldwork_unit(
    st: &AppState,
    page: &Page,
    survey: &str,
    unit: u64,
) -> Result<cakupan_store::campaign::Unit, PageError> {
    let u = st
        .store
        .survey_units(survey, RegionCode::NATION)
        .await?
        .into_iter()
        .find(|u| u.unit == unit)
        .ok_or(PageError::NotFound(page.lang))?;
    page.allow(Action::RecordFieldwork, &Resource::Region(u.village))?;
    Ok(u)
}

/// `/survei/{code}/isi/{unit}`: the phone form for one respondent.
pub async fn answer_form(
    State(st): St,
    page: Page,
    Path((code, unit)): Path<(String, u64)>,
) -> Result<Response, PageError> {
    answer_view(
        &st,
        &page,
        &code,
        unit,
        Vec::new(),
        AnswerForm::default(),
        StatusCode::OK,
    )
    .await
}

/// `POST /survei/{code}/isi/{unit}`: records the answers (the same answers again is a retry).
pub async fn answer(
    State(st): St,
    page: Page,
    Path((code, unit)): Path<(String, u64)>,
    Form(f): Form<AnswerForm>,
) -> Result<Response, PageError> {
    let me = page.check_csrf(&f.csrf)?.clone();
    let (s, q, _) = api::survey_for(&st, &me.who, &code)
        .await
        .map_err(|e| page_err(&page, e))?;
    let raw: BTreeMap<String, String> = f
        .answers
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("q_").map(|k| (k.to_string(), v.clone())))
        .collect();
    let lang = page.lang;
    let outcome = match q.read_answers(&raw) {
        Err(e) => Err(cakupan_store::StoreError::Rejected(e.into())),
        Ok(answers) => {
            fieldwork_unit(&st, &page, &s.code, unit).await?;
            st.store
                .add_responses(
                    &st.rules,
                    &s.code,
                    &[cakupan_store::campaign::Response {
                        survey: s.code.clone(),
                        unit,
                        version: s.version,
                        audience: if f.audience.trim().is_empty() {
                            OTHER.into()
                        } else {
                            f.audience.trim().into()
                        },
                        answers,
                        recorded_by: me.who.username.clone(),
                    }],
                    None,
                )
                .await
                .map(|_| ())
        }
    };
    if let Err(e) = outcome {
        let Some(msgs) = messages(lang, &e) else {
            return Err(e.into());
        };
        return answer_view(
            &st,
            &page,
            &code,
            unit,
            msgs,
            f,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    page.audit(
        &st,
        "survey.responses",
        format!("survey:{}", s.code),
        "campaign",
    )
    .await?;
    Ok(Redirect::to(&format!("/survei/{}", s.code)).into_response())
}
