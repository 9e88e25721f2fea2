//! Everyday work with participants: find one by NIK or KPJ within one's area, see their
//! protection month by month with the reason, register a new one (validated as they type,
//! in the reader's language) and record a payment whose amount comes from the rules.

use super::i18n::{Lang, Tr};
use super::{Nav, Page, PageError, St, html, html_status};
use crate::AppState;
use crate::auth::participant_resource;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cakupan_app::payments::profile_of;
use cakupan_domain::access::{Action, Capability, authorize};
use cakupan_domain::contribution::{ContributionInput, PaymentChannel, dues};
use cakupan_domain::coverage::{Reason, Status, series};
use cakupan_domain::month::format_date;
use cakupan_domain::participants::{Context, HeirInput, RegistrationInput, validate};
use cakupan_domain::{Channel, FieldError, FieldErrors, Month, Nik, RegionCode, Segment};
use cakupan_store::Participant;
use cakupan_store::ledger::PostingOutcome;
use serde::Deserialize;
use std::collections::HashMap;

/// A form's errors in the reader's language: by field (the first of each, shown below it) and
/// as the summary list at the top.
fn messages(lang: Lang, errors: &FieldErrors) -> (HashMap<String, String>, Vec<String>) {
    let mut by_field = HashMap::new();
    let mut summary = Vec::new();
    for e in errors.iter() {
        let msg = lang.field_message(e);
        summary.push(format!("{}: {msg}", e.field));
        by_field.entry(e.field.clone()).or_insert(msg);
    }
    (by_field, summary)
}

fn may_work_with_participants(page: &Page) -> Result<(), PageError> {
    let me = page.require()?;
    if me.who.role.can(Capability::RegistersPeople) {
        Ok(())
    } else {
        Err(PageError::Forbidden(page.lang, String::new()))
    }
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    t: &'static Tr,
    nav: Nav,
    q: String,
    searched: bool,
    results: Vec<ResultRow>,
    /// More matched a name than are shown.
    more: bool,
}

struct ResultRow {
    href: String,
    name: String,
    kpj: String,
    nik: String,
    segment: String,
    village: String,
}

/// The search form.
pub async fn search_form(page: Page) -> Result<Response, PageError> {
    may_work_with_participants(&page)?;
    html(&SearchPage {
        t: page.t(),
        nav: page.nav(),
        q: String::new(),
        searched: false,
        results: Vec::new(),
        more: false,
    })
}

#[derive(Debug, Deserialize)]
pub struct SearchForm {
    csrf: String,
    q: String,
}

/// Finds participations by NIK (16 digits) or KPJ, in a POST body so that NIKs stay out of
/// URLs and logs. Only those the user may read are shown; one result opens directly.
pub async fn search(
    State(st): St,
    page: Page,
    Form(f): Form<SearchForm>,
) -> Result<Response, PageError> {
    may_work_with_participants(&page)?;
    let me = page.check_csrf(&f.csrf)?.clone();
    let q = f.q.trim().to_string();
    let digits = !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit());
    let words = cakupan_domain::participants::name_words(&q);
    let mut more = false;
    let found: Vec<Participant> = if digits && q.len() == 16 {
        match Nik::parse(&q) {
            Ok(n) => st.store.participants_by_nik(n).await?,
            Err(_) => Vec::new(),
        }
    } else if digits && q.len() <= 32 {
        st.store.participant_by_kpj(&q).await?.into_iter().collect()
    } else if !words.is_empty() && words.len() <= NAME_WORDS && q.chars().count() <= 100 {
        // A name: its words' blind indexes, within the searcher's own region.
        let mut hits = st
            .store
            .find_by_name(&words, me.who.region, NAME_HITS as u32 + 1)
            .await?;
        more = hits.len() > NAME_HITS;
        hits.truncate(NAME_HITS);
        hits
    } else {
        Vec::new()
    };
    let (visible, refused): (Vec<Participant>, Vec<Participant>) =
        found.into_iter().partition(|p| {
            authorize(&me.who, Action::ReadPersonal, &participant_resource(&st, p)).is_ok()
        });
    if !refused.is_empty() {
        page.audit_many(
            &st,
            "participant.access_refused",
            refused
                .iter()
                .map(|p| format!("participant:{}", p.id))
                .collect(),
            "refused",
        )
        .await?;
    }
    page.audit_many(
        &st,
        "participant.search",
        visible
            .iter()
            .map(|p| format!("participant:{}", p.id))
            .collect(),
        "service",
    )
    .await?;
    if let [one] = visible.as_slice() {
        return Ok(Redirect::to(&format!("/peserta/{}", one.id)).into_response());
    }
    let results = visible
        .iter()
        .map(|p| ResultRow {
            href: format!("/peserta/{}", p.id),
            name: p.registration.name.clone(),
            kpj: p.kpj.clone(),
            nik: p.registration.nik.masked(),
            segment: p.registration.segment.to_string(),
            village: super::regions::region_name(&st, p.registration.village),
        })
        .collect();
    html(&SearchPage {
        t: page.t(),
        nav: page.nav(),
        q: if q.len() == 16 { String::new() } else { q },
        searched: true,
        results,
        more,
    })
}

/// A name search takes at most this many words, and shows at most this many people.
const NAME_WORDS: usize = 6;
const NAME_HITS: usize = 50;

/// A participation the user may read, or not found (a refusal reads like absence).
async fn readable(
    st: &AppState,
    page: &Page,
    id: i64,
    action: Action,
) -> Result<Participant, PageError> {
    let me = page.require()?;
    let p = st
        .store
        .participant(id)
        .await?
        .ok_or(PageError::NotFound(page.lang))?;
    if authorize(&me.who, action, &participant_resource(st, &p)).is_err() {
        // Audited: an insider probing records outside their area leaves a trace.
        page.audit(
            st,
            "participant.access_refused",
            format!("participant:{}", p.id),
            "refused",
        )
        .await?;
        return Err(PageError::NotFound(page.lang));
    }
    Ok(p)
}

/// A participation the user may take a payment for, its reading audited: the payment form and
/// its amounts show the name, KPJ and payment history.
async fn payable(st: &AppState, page: &Page, id: i64) -> Result<Participant, PageError> {
    let p = readable(st, page, id, Action::Post).await?;
    page.audit(
        st,
        "participant.read",
        format!("participant:{}", p.id),
        "payment",
    )
    .await?;
    Ok(p)
}

struct Fact {
    label: &'static str,
    value: String,
}

struct CoverageRow {
    month: String,
    status: String,
    class: &'static str,
    reason: String,
}

struct LedgerView {
    kind: String,
    reference: String,
    months: String,
    amount: String,
    paid: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    t: &'static Tr,
    nav: Nav,
    id: i64,
    name: String,
    kpj: String,
    flash: Option<String>,
    facts: Vec<Fact>,
    flags: Vec<String>,
    status_now: String,
    status_class: &'static str,
    coverage: Vec<CoverageRow>,
    ledger: Vec<LedgerView>,
    may_post: bool,
    employer_warning: Option<String>,
}

pub fn status_label(t: &Tr, s: Status) -> (String, &'static str) {
    match s {
        Status::Active => (t.status_active_s.into(), "st-active"),
        Status::InArrears => (t.status_in_arrears.into(), "st-arrears"),
        Status::NonActive => (t.status_nonactive.into(), "st-nonactive"),
        Status::Pending => (t.status_pending.into(), "st-pending"),
        Status::Terminated => (t.status_terminated.into(), "st-terminated"),
    }
}

/// How one month of a participation reads on `today`: its status and reason, or *not yet due*
/// with its due date while the month is unpaid and nothing is overdue enough to count
/// (`coverage::not_yet_due`).
pub fn month_label(
    rules: &cakupan_domain::RuleSet,
    lang: Lang,
    segment: cakupan_domain::Segment,
    m: &cakupan_domain::coverage::MonthStatus,
    today: time::Date,
) -> (String, &'static str, String) {
    let t = lang.tr();
    match cakupan_domain::coverage::not_yet_due(rules, segment, m, today) {
        Some(open) => {
            let mut reason = format!("{} {}", t.reason_due_on, lang.date(open.due));
            if open.overdue > 0 {
                reason = format!(
                    "{reason}; {} {} {}",
                    open.overdue, t.reason_unpaid_earlier, t.reason_overdue
                );
            }
            (t.status_not_yet_due.into(), "st-pending", reason)
        }
        None => {
            let (status, class) = status_label(t, m.status);
            (status, class, reason_text(lang, &m.reason))
        }
    }
}

pub fn reason_text(lang: Lang, r: &Reason) -> String {
    let t = lang.tr();
    match r {
        Reason::PaidBy { reference } => format!("{} {reference}", t.reason_paid_by),
        Reason::Unpaid { months, overdue } if overdue < months => format!(
            "{months} {}, {overdue} {}",
            t.reason_unpaid, t.reason_overdue
        ),
        Reason::Unpaid { months, .. } => format!("{months} {}", t.reason_unpaid),
        Reason::NothingPaidYet => t.reason_never_paid.into(),
        Reason::TerminatedIn { month } => {
            format!("{} ({})", t.reason_terminated, lang.month(*month))
        }
        Reason::EmploymentEnded { month } => {
            format!("{} ({})", t.reason_employment_ended, lang.month(*month))
        }
    }
}

fn occupation_name(st: &AppState, lang: Lang, code: &str) -> String {
    st.rules
        .occupation(code)
        .map(|o| match lang {
            Lang::Id => o.name_id.clone(),
            Lang::En => o.name_en.clone(),
        })
        .unwrap_or_else(|| code.to_string())
}

#[derive(Debug, Deserialize)]
pub struct ProfileQuery {
    ok: Option<String>,
}

/// A participant's page: who, where, and their protection month by month with the reason.
pub async fn profile(
    State(st): St,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<ProfileQuery>,
) -> Result<Response, PageError> {
    let p = readable(&st, &page, id, Action::ReadPersonal).await?;
    page.audit(
        &st,
        "participant.read",
        format!("participant:{id}"),
        "service",
    )
    .await?;
    let (lang, t) = (page.lang, page.t());
    let r = &p.registration;
    let now = Month::of((st.today)());
    let ledger = st.store.ledger(p.id).await?;
    let registered = Month::of(r.registered_on);
    let facts = cakupan_store::ledger::facts(r.segment, registered, &ledger);
    let from = registered.max(now.plus(-23));
    let months = series(&st.rules, &facts, from, now.plus(1))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let today = (st.today)();
    let shown = |m: &cakupan_domain::coverage::MonthStatus| {
        month_label(&st.rules, lang, r.segment, m, today)
    };
    let current = months
        .iter()
        .find(|m| m.month == now)
        .map(|m| {
            let (status, class, _) = shown(m);
            (status, class)
        })
        .unwrap_or_else(|| status_label(t, Status::Pending));
    let coverage = months
        .iter()
        .rev()
        .map(|m| {
            let (status, class, reason) = shown(m);
            CoverageRow {
                month: lang.month(m.month),
                status,
                class,
                reason,
            }
        })
        .collect();
    let ledger_view = ledger
        .iter()
        .rev()
        .map(|l| LedgerView {
            kind: match l.kind.as_str() {
                "contribution" => t.posting_contribution,
                "reversal" => t.posting_reversal,
                "termination" => t.posting_termination,
                _ => t.posting_stop,
            }
            .to_string(),
            reference: l.reference.clone(),
            months: match (l.first_month.and_then(Month::from_index), l.months) {
                (Some(f), Some(n)) if n > 1 => {
                    format!("{} – {}", lang.month(f), lang.month(f.plus(n - 1)))
                }
                (Some(f), _) => lang.month(f),
                _ => l.target_reference.clone().unwrap_or_default(),
            },
            amount: l.amount.map(|a| lang.rupiah(a)).unwrap_or_default(),
            paid: l
                .paid_month
                .and_then(Month::from_index)
                .map(|m| lang.month(m))
                .unwrap_or_default(),
        })
        .collect();
    let place = st.regions.path_label(r.village);
    let mut facts_view = vec![
        Fact {
            label: t.nik,
            value: r.nik.masked(),
        },
        Fact {
            label: t.payment_code,
            value: cakupan_app::payments::code_of(&st, &p)
                .map(|va| va.digits())
                .unwrap_or_else(|| "–".into()),
        },
        Fact {
            label: t.segment,
            value: r.segment.to_string(),
        },
        Fact {
            label: t.birth_date,
            value: format!(
                "{} ({})",
                format_date(r.birth_date),
                if r.sex.to_string() == "L" {
                    t.sex_l
                } else {
                    t.sex_p
                }
            ),
        },
        Fact {
            label: t.phone,
            value: r
                .phone
                .as_deref()
                .map(crate::participants::mask_phone)
                .unwrap_or_else(|| "–".into()),
        },
        Fact {
            label: t.domicile,
            value: format!("{place} ({})", r.village),
        },
    ];
    if let Some(a) = &r.address {
        facts_view.push(Fact {
            label: t.address,
            value: a.clone(),
        });
    }
    if r.budget_funded {
        facts_view.push(Fact {
            label: t.budget_funded,
            value: t.yes.into(),
        });
    }
    facts_view.extend([
        Fact {
            label: t.occupation,
            value: format!(
                "{} — {}",
                occupation_name(&st, lang, &r.occupation_code),
                match r.sector.as_str() {
                    "transport" => t.sector_transport,
                    _ => t.sector_other,
                }
            ),
        },
        Fact {
            label: if r.segment == Segment::Pu {
                t.wage
            } else {
                t.income_base
            },
            value: lang.rupiah(r.income_base.0),
        },
        Fact {
            label: t.programmes,
            value: r.programmes.to_string(),
        },
        Fact {
            label: t.registered_on,
            value: format!(
                "{} · {}{}",
                format_date(r.registered_on),
                super::i18n::channel_name(lang, r.channel.as_str()),
                r.agent_code
                    .as_deref()
                    .map(|a| format!(" ({a})"))
                    .unwrap_or_default()
            ),
        },
    ]);
    // A wage earner's employer, and whether it is in arrears (DOMAIN.md §3: the worker's
    // protection depends on it paying).
    let mut employer_warning = None;
    if r.segment == Segment::Pu
        && let Some((e, standing)) = crate::employers::employer_arrears_of(&st, p.id)
            .await
            .map_err(|e| PageError::Internal(format!("{e:?}")))?
    {
        facts_view.push(Fact {
            label: t.employer_label,
            value: format!("{} ({})", e.name, e.code),
        });
        if let Some(m) = standing.oldest_overdue {
            employer_warning = Some(format!("{} {}", t.employer_in_arrears, lang.month(m)));
        }
    }
    let me = page.require()?;
    // Wage earners' contributions come through their employer's invoices.
    let may_post = r.segment == Segment::Bpu
        && authorize(&me.who, Action::Post, &participant_resource(&st, &p)).is_ok();
    let flash = match q.ok.as_deref() {
        Some("registered") => Some(t.registered_ok.to_string()),
        Some("existing") => Some(t.already_registered.to_string()),
        Some("paid") => Some(t.paid_ok.to_string()),
        Some("paid_existing") => Some(t.paid_existing.to_string()),
        _ => None,
    };
    html(&ProfilePage {
        t,
        nav: page.nav(),
        id: p.id,
        name: r.name.clone(),
        kpj: p.kpj.clone(),
        flash,
        facts: facts_view,
        // The NIK's warnings in words (the branch reviews them at /tinjauan).
        flags: r
            .review_flags
            .iter()
            .map(|rule| super::enrolment::warning_words(lang, rule))
            .collect(),
        status_now: current.0,
        status_class: current.1,
        coverage,
        ledger: ledger_view,
        may_post,
        employer_warning,
    })
}

// ---------------------------------------------------------------------------------------
// Registration

/// The registration form's fields as typed (`village_code` from the cascade of selects).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nik: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    regency: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    village_code: String,
    #[serde(default)]
    address: String,
    /// The checkbox: `ya` when JKK and JKM are paid from a state or regional budget.
    #[serde(default)]
    budget_funded: String,
    #[serde(default)]
    segment: String,
    #[serde(default)]
    occupation_code: String,
    #[serde(default)]
    income_base: String,
    #[serde(default)]
    programs: String,
    #[serde(default)]
    registered_on: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    agent_code: String,
    #[serde(default)]
    heir_name: String,
    #[serde(default)]
    heir_relationship: String,
}

struct Opt {
    value: String,
    label: String,
    selected: bool,
}

fn opts(items: impl IntoIterator<Item = (String, String)>, chosen: &str) -> Vec<Opt> {
    items
        .into_iter()
        .map(|(value, label)| Opt {
            selected: value == chosen,
            value,
            label,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    t: &'static Tr,
    nav: Nav,
    f: RegisterForm,
    errors: HashMap<String, String>,
    summary: Vec<String>,
    provinces: Vec<Opt>,
    regencies: Vec<Opt>,
    districts: Vec<Opt>,
    villages: Vec<Opt>,
    occupations: Vec<Opt>,
    bases: Vec<Opt>,
    channels: Vec<Opt>,
    relationships: Vec<Opt>,
    agent_fixed: bool,
    csrf: String,
    /// Whether the region and income parts render as out-of-band swaps (only in the check).
    oob: bool,
}

impl RegisterPage {
    fn err(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

/// The fields whose messages the form shows, each below its field.
const FORM_FIELDS: [&str; 16] = [
    "nik",
    "name",
    "birth_date",
    "sex",
    "phone",
    "village_code",
    "address",
    "segment",
    "occupation_code",
    "income_base",
    "programs",
    "registered_on",
    "channel",
    "agent_code",
    "heir_name",
    "heir_relationship",
];

/// What the check while typing sends back: every field's message (empty ones clear an old
/// message) as out-of-band swaps, and the parts that depend on the field just changed (the
/// region choices below a changed region, the income field of a changed segment). The
/// fields themselves are not replaced, so nothing the user is typing elsewhere is lost.
#[derive(Template)]
#[template(path = "register_check.html")]
struct RegisterCheck {
    t: &'static Tr,
    f: RegisterForm,
    errors: HashMap<String, String>,
    messages: Vec<(&'static str, String)>,
    regions: bool,
    income: bool,
    oob: bool,
    provinces: Vec<Opt>,
    regencies: Vec<Opt>,
    districts: Vec<Opt>,
    villages: Vec<Opt>,
    bases: Vec<Opt>,
}

impl RegisterCheck {
    fn err(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

/// The form, with the region choice cascading from the user's own area and everything the
/// user typed kept.
fn register_page(
    st: &AppState,
    page: &Page,
    mut f: RegisterForm,
    errors: &FieldErrors,
) -> Result<RegisterPage, PageError> {
    let me = page.require()?;
    let lang = page.lang;
    let t = page.t();
    // The region chain: fixed down to the user's own area, then what was chosen.
    let area = me.who.region;
    let chosen = |s: &str| RegionCode::parse(s.trim()).ok();
    let mut chain: Vec<RegionCode> = area.path();
    let picks = [
        chosen(&f.province),
        chosen(&f.regency),
        chosen(&f.district),
        chosen(&f.village_code),
    ];
    if let Some(v) = chosen(&f.village_code) {
        // A full village code (typed or chosen) fixes the whole chain when it lies in the area.
        if area.contains(v) {
            chain = v.path();
        }
    } else {
        for p in picks.iter().flatten() {
            if chain.len() < 4
                && area.contains(*p)
                && p.parent().is_some_and(|parent| {
                    chain.last().copied().unwrap_or(RegionCode::NATION) == parent
                })
            {
                chain.push(*p);
            }
        }
    }
    let at = |i: usize| chain.get(i).map(|c| c.to_string()).unwrap_or_default();
    f.province = at(0);
    f.regency = at(1);
    f.district = at(2);
    f.village_code = at(3);
    let level_opts = |i: usize| -> Vec<Opt> {
        let parent = if i == 0 {
            Some(RegionCode::NATION)
        } else {
            chain.get(i - 1).copied()
        };
        match parent {
            Some(p) => opts(
                st.regions
                    .children(p)
                    .into_iter()
                    .filter(|r| area.contains(r.code) || r.code.contains(area))
                    .map(|r| (r.code.to_string(), r.name.clone())),
                &at(i),
            ),
            None => Vec::new(),
        }
    };
    let month = Month::of((st.today)());
    let bases = st
        .rules
        .bracket_table(month)
        .map(|b| b.bases.clone())
        .unwrap_or_default();
    let agent_fixed = me.who.role.can(Capability::FieldAgent);
    if agent_fixed {
        f.channel = Channel::Perisai.as_str().into();
        f.agent_code = me.who.agent_code.clone().unwrap_or_default();
    }
    let channels = [
        Channel::Branch,
        Channel::SelfService,
        Channel::Perisai,
        Channel::Employer,
        Channel::Bank,
    ]
    .iter()
    .map(|c| {
        (
            c.as_str().to_string(),
            super::i18n::channel_name(lang, c.as_str()),
        )
    });
    let (errs, summary) = messages(lang, errors);
    Ok(RegisterPage {
        t,
        nav: page.nav(),
        errors: errs,
        summary,
        provinces: level_opts(0),
        regencies: level_opts(1),
        districts: level_opts(2),
        villages: level_opts(3),
        occupations: opts(
            st.rules.occupations.iter().map(|o| {
                (
                    o.code.clone(),
                    match lang {
                        Lang::Id => o.name_id.clone(),
                        Lang::En => o.name_en.clone(),
                    },
                )
            }),
            &f.occupation_code,
        ),
        bases: opts(
            bases.iter().map(|b| (b.to_string(), lang.rupiah(*b))),
            &f.income_base,
        ),
        channels: opts(channels, &f.channel),
        relationships: opts(
            ["suami/istri", "anak", "orang tua", "saudara", "lainnya"]
                .iter()
                .zip(t.ew.relationships)
                .map(|(r, label)| (r.to_string(), label.to_string())),
            &f.heir_relationship,
        ),
        agent_fixed,
        csrf: me.csrf.clone(),
        oob: false,
        f,
    })
}

fn input_of(f: &RegisterForm) -> RegistrationInput {
    RegistrationInput {
        nik: f.nik.clone(),
        name: f.name.clone(),
        birth_date: f.birth_date.clone(),
        sex: f.sex.clone(),
        phone: f.phone.clone(),
        village_code: f.village_code.clone(),
        segment: f.segment.clone(),
        occupation_code: f.occupation_code.clone(),
        income_base: f.income_base.clone(),
        programs: f.programs.clone(),
        registered_on: f.registered_on.clone(),
        channel: f.channel.clone(),
        agent_code: f.agent_code.clone(),
        address: f.address.clone(),
        budget_funded: f.budget_funded.clone(),
        heirs: if f.heir_name.trim().is_empty() && f.heir_relationship.trim().is_empty() {
            Vec::new()
        } else {
            vec![HeirInput {
                name: f.heir_name.clone(),
                relationship: f.heir_relationship.clone(),
                nik: String::new(),
                phone: String::new(),
            }]
        },
    }
}

/// Heir errors are reported on the form's own heir fields.
fn form_field(field: &str) -> String {
    match field {
        "heirs[0].name" => "heir_name".into(),
        "heirs[0].relationship" => "heir_relationship".into(),
        other => other.to_string(),
    }
}

fn on_form(errors: FieldErrors) -> FieldErrors {
    FieldErrors(
        errors
            .0
            .into_iter()
            .map(|mut e| {
                e.field = form_field(&e.field);
                e
            })
            .collect(),
    )
}

/// The empty form.
pub async fn register_form(State(st): St, page: Page) -> Result<Response, PageError> {
    may_work_with_participants(&page)?;
    let me = page.require()?;
    let f = RegisterForm {
        segment: "BPU".into(),
        programs: "JKK+JKM".into(),
        sex: String::new(),
        channel: if me.who.role.can(Capability::FieldAgent) {
            Channel::Perisai
        } else {
            Channel::Branch
        }
        .as_str()
        .into(),
        income_base: "1000000".into(),
        registered_on: format_date((st.today)()),
        ..RegisterForm::default()
    };
    html(&register_page(&st, &page, f, &FieldErrors::default())?)
}

/// Checks the form as it is being filled in (htmx, on every change of a field) and answers
/// with the messages of the fields already filled in; nothing is stored.
pub async fn register_check(
    State(st): St,
    page: Page,
    headers: axum::http::HeaderMap,
    Form(f): Form<RegisterForm>,
) -> Result<Response, PageError> {
    may_work_with_participants(&page)?;
    page.check_csrf(&f.csrf)?;
    let changed = headers
        .get("hx-trigger-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let view = register_page(&st, &page, f, &FieldErrors::default())?;
    let ctx = Context {
        regions: &st.regions,
        rules: &st.rules,
        today: (st.today)(),
    };
    let errors = match validate(&ctx, &input_of(&view.f)) {
        Ok(_) => FieldErrors::default(),
        Err(e) => FieldErrors(
            on_form(e)
                .0
                .into_iter()
                // A field not filled in yet is not an error while typing.
                .filter(|e| e.rule != "required")
                .collect(),
        ),
    };
    let view = register_page(&st, &page, view.f, &errors)?;
    let messages = FORM_FIELDS
        .iter()
        .map(|f| (*f, view.errors.get(*f).cloned().unwrap_or_default()))
        .collect();
    html(&RegisterCheck {
        t: view.t,
        messages,
        regions: matches!(changed, "province" | "regency" | "district"),
        income: changed == "segment",
        oob: true,
        errors: view.errors,
        provinces: view.provinces,
        regencies: view.regencies,
        districts: view.districts,
        villages: view.villages,
        bases: view.bases,
        f: view.f,
    })
}

/// Registers, or shows the form again with every problem next to its field.
pub async fn register_submit(
    State(st): St,
    page: Page,
    Form(f): Form<RegisterForm>,
) -> Result<Response, PageError> {
    may_work_with_participants(&page)?;
    let me = page.check_csrf(&f.csrf)?.clone();
    let view = register_page(&st, &page, f, &FieldErrors::default())?;
    let f = view.f;
    let ctx = Context {
        regions: &st.regions,
        rules: &st.rules,
        today: (st.today)(),
    };
    let again = |errors: FieldErrors, f: RegisterForm| -> Result<Response, PageError> {
        html_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &register_page(&st, &page, f, &errors)?,
        )
    };
    let (reg, _) = match validate(&ctx, &input_of(&f)) {
        Ok(v) => v,
        Err(e) => return again(on_form(e), f),
    };
    // The API's own path: the right to register here, the acquiring agent, the audit entry.
    use cakupan_app::participants::{Registered, register};
    let (id, ok) = match register(&st, &me.who, &page.request_id, &reg).await {
        Ok(Registered::Created { id }) => (id, "registered"),
        Ok(Registered::Existing { id }) => (id, "existing"),
        Err(crate::error::ApiError::Forbidden(m)) => {
            return again(
                FieldError::new("village_code", "village_code.outside_area", m).into(),
                f,
            );
        }
        Err(crate::error::ApiError::Invalid(e)) => return again(on_form(e), f),
        Ok(Registered::Conflict { segment, view }) => {
            let e = match view {
                crate::auth::ConflictView::Visible { kpj } => FieldError::new(
                    "nik",
                    "nik.one_per_segment",
                    format!("this NIK already has a {segment} participation (KPJ {kpj})"),
                )
                .with_args([kpj.to_string()]),
                crate::auth::ConflictView::Elsewhere => FieldError::new(
                    "nik",
                    "nik.registered_elsewhere",
                    format!("this NIK already has a {segment} participation outside your area"),
                ),
            };
            return again(e.into(), f);
        }
        Err(e) => return Err(PageError::Internal(e.to_string())),
    };
    Ok(Redirect::to(&format!("/peserta/{id}?ok={ok}")).into_response())
}

// ---------------------------------------------------------------------------------------
// Payment

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    first_month: String,
    #[serde(default)]
    months: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    paid_on: String,
    #[serde(default)]
    amount: String,
}

#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage {
    t: &'static Tr,
    nav: Nav,
    id: i64,
    name: String,
    kpj: String,
    f: PayForm,
    periods: Vec<Opt>,
    channels: Vec<Opt>,
    due_total: Option<i64>,
    due_html: String,
    errors: HashMap<String, String>,
    summary: Vec<String>,
    csrf: String,
}

impl PayPage {
    fn err(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

#[derive(Template)]
#[template(path = "pay_due.html")]
struct DueView {
    t: &'static Tr,
    total: Option<i64>,
    total_text: String,
    lines: Vec<(String, String)>,
    problem: Option<String>,
}

/// The dues of the months chosen, computed from the rules in force for each.
fn due_view(st: &AppState, lang: Lang, p: &Participant, f: &PayForm) -> DueView {
    let t = lang.tr();
    let months: Option<u32> = f.months.trim().parse().ok().filter(|m| *m > 0 && *m <= 24);
    let first = Month::parse(f.first_month.trim()).ok();
    let (Some(first), Some(n)) = (first, months) else {
        return DueView {
            t,
            total: None,
            total_text: String::new(),
            lines: Vec::new(),
            problem: None,
        };
    };
    // The preview prices only what saving would take: the checks of the payment itself (the
    // periods the rules allow, the months the ledger may be paid ahead) and the
    // registration's month, as `parse_payment` and the store's `check_posting` make them.
    if let Some(problem) = refused_months(st, lang, p, f, first) {
        return DueView {
            t,
            total: None,
            total_text: String::new(),
            lines: Vec::new(),
            problem: Some(problem),
        };
    }
    match dues(&st.rules, &profile_of(p), first, n) {
        Ok(per_month) => {
            let total: i64 = per_month.iter().map(|(_, r)| r.0).sum();
            DueView {
                t,
                total: Some(total),
                total_text: lang.rupiah(total),
                lines: per_month
                    .iter()
                    .map(|(m, r)| (lang.month(*m), lang.rupiah(r.0)))
                    .collect(),
                problem: None,
            }
        }
        Err(e) => DueView {
            t,
            total: None,
            total_text: String::new(),
            lines: Vec::new(),
            problem: e.0.first().map(|e| lang.field_message(e)),
        },
    }
}

/// Why saving would refuse these months, whatever the amount: the payment's own checks on its
/// months and dates, and months before the registration.
fn refused_months(
    st: &AppState,
    lang: Lang,
    p: &Participant,
    f: &PayForm,
    first: Month,
) -> Option<String> {
    let today = (st.today)();
    let input = ContributionInput {
        reference: "preview".into(),
        nik: p.registration.nik.to_string(),
        segment: p.registration.segment.to_string(),
        first_month: f.first_month.clone(),
        months: f.months.clone(),
        // Any amount: the amount is the preview's answer, not its question.
        amount: "1".into(),
        channel: if f.channel.trim().is_empty() {
            PaymentChannel::Branch.as_str().into()
        } else {
            f.channel.clone()
        },
        paid_on: if f.paid_on.trim().is_empty() {
            format_date(today)
        } else {
            f.paid_on.clone()
        },
    };
    if let Err(errs) = cakupan_domain::contribution::parse_payment(&st.rules, &input, today)
        && let Some(e) = errs
            .0
            .iter()
            .find(|e| matches!(e.field.as_str(), "first_month" | "months" | "paid_on"))
    {
        return Some(lang.field_message(e));
    }
    let registered = Month::of(p.registration.registered_on);
    (first < registered).then(|| {
        lang.field_message(&FieldError::new(
            "first_month",
            "first_month.before_registration",
            format!("first_month {first} is before the registration month {registered}"),
        ))
    })
}

fn pay_page(
    st: &AppState,
    page: &Page,
    p: &Participant,
    f: PayForm,
    errors: &FieldErrors,
) -> Result<PayPage, PageError> {
    let me = page.require()?;
    let lang = page.lang;
    let periods = cakupan_app::payments::periods(st, p);
    let channels: Vec<(String, String)> = if me.who.role.can(Capability::FieldAgent) {
        let c = PaymentChannel::Perisai.as_str();
        vec![(c.into(), super::i18n::channel_name(lang, c))]
    } else {
        PaymentChannel::ALL
            .iter()
            .map(|c| {
                (
                    c.as_str().to_string(),
                    super::i18n::channel_name(lang, c.as_str()),
                )
            })
            .collect()
    };
    let (errs, summary) = messages(lang, errors);
    let due = due_view(st, lang, p, &f);
    Ok(PayPage {
        t: page.t(),
        nav: page.nav(),
        id: p.id,
        name: p.registration.name.clone(),
        kpj: p.kpj.clone(),
        periods: opts(
            periods.iter().map(|m| (m.to_string(), m.to_string())),
            &f.months,
        ),
        channels: opts(channels, &f.channel),
        due_total: due.total,
        due_html: due.render()?,
        errors: errs,
        summary,
        csrf: me.csrf.clone(),
        f,
    })
}

/// A fresh reference for a payment form: `WEB-` and 20 random letters (hex digits written as
/// letters, so it never holds a run of digits a reference may not carry).
fn new_reference() -> String {
    let letters = |t: String| -> String {
        t.chars()
            .take(20)
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from(b'g' + u8::try_from(d).unwrap_or(0)),
                None => c,
            })
            .collect()
    };
    crate::auth::new_token()
        .map(|t| format!("WEB-{}", letters(t)))
        .unwrap_or_else(|_| format!("WEB-{}", crate::auth::now_secs()))
}

/// The payment form: the next month to pay, the periods the rules allow and the amount due.
/// Its reference is made once, when the form is shown, so submitting it twice posts once.
pub async fn pay_form(
    State(st): St,
    page: Page,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let p = payable(&st, &page, id).await?;
    let ledger = st.store.ledger(p.id).await?;
    let me = page.require()?;
    let f = PayForm {
        reference: new_reference(),
        first_month: cakupan_app::payments::next_month(&st, &p, &ledger).to_string(),
        months: "1".into(),
        channel: if me.who.role.can(Capability::FieldAgent) {
            PaymentChannel::Perisai
        } else {
            PaymentChannel::Branch
        }
        .as_str()
        .into(),
        paid_on: format_date((st.today)()),
        ..PayForm::default()
    };
    let mut view = pay_page(&st, &page, &p, f, &FieldErrors::default())?;
    view.f.amount = view.due_total.map(|t| t.to_string()).unwrap_or_default();
    html(&view)
}

/// The amount due for the months chosen (htmx fragment, on every change of the form).
pub async fn pay_due(
    State(st): St,
    page: Page,
    Path(id): Path<i64>,
    Query(f): Query<PayForm>,
) -> Result<Response, PageError> {
    let p = payable(&st, &page, id).await?;
    html(&due_view(&st, page.lang, &p, &f))
}

/// Records the payment: the amount must be the one shown (computed again here from the
/// rules); the same reference again changes nothing.
pub async fn pay_submit(
    State(st): St,
    page: Page,
    Path(id): Path<i64>,
    Form(mut f): Form<PayForm>,
) -> Result<Response, PageError> {
    let p = readable(&st, &page, id, Action::Post).await?;
    page.check_csrf(&f.csrf)?;
    let again = |errors: FieldErrors, f: PayForm| -> Result<Response, PageError> {
        let mut view = pay_page(&st, &page, &p, f, &errors)?;
        view.f.amount = view.due_total.map(|t| t.to_string()).unwrap_or_default();
        html_status(StatusCode::UNPROCESSABLE_ENTITY, &view)
    };
    let due = due_view(&st, page.lang, &p, &f);
    let Some(total) = due.total else {
        let mut errs = FieldErrors::default();
        if Month::parse(f.first_month.trim()).is_err() {
            errs.push(FieldError::new(
                "first_month",
                "month.format",
                "first_month must be written YYYY-MM",
            ));
        }
        if errs.is_empty() {
            errs.push(FieldError::new(
                "months",
                "months.period",
                due.problem
                    .unwrap_or_else(|| "choose the number of months".into()),
            ));
        }
        return again(errs, f);
    };
    // The amount as people write it: `16800`, `16.800`, `Rp16.800`.
    if cakupan_domain::Rupiah::parse(&f.amount).map(|r| r.0) != Some(total) {
        // The rules (or the months) changed since the amount was shown: show the new one.
        return again(
            FieldError::new("amount", "amount.changed", page.t().pay_changed).into(),
            f,
        );
    }
    if f.reference.trim().is_empty() {
        f.reference = new_reference();
    }
    let input = ContributionInput {
        reference: f.reference.clone(),
        nik: p.registration.nik.to_string(),
        segment: p.registration.segment.to_string(),
        first_month: f.first_month.clone(),
        months: f.months.clone(),
        amount: total.to_string(),
        channel: f.channel.clone(),
        paid_on: f.paid_on.clone(),
    };
    let payment = match cakupan_domain::contribution::parse_payment(&st.rules, &input, (st.today)())
    {
        Ok(pay) => pay,
        Err(e) => return again(e, f),
    };
    let me = page.require()?;
    // The API's own path: an agent's payment is their cash collection, with a receipt.
    let cakupan_app::ledger::Posted { outcome, receipt } = match cakupan_app::ledger::post(
        &st,
        &me.who,
        &page.request_id,
        Some(&p),
        cakupan_store::ledger::NewPosting::Contribution(payment),
        None,
    )
    .await
    {
        Ok(o) => o,
        Err(crate::error::ApiError::Invalid(e)) => return again(e, f),
        Err(e) => return Err(PageError::Internal(e.to_string())),
    };
    let ok = match outcome {
        PostingOutcome::Posted { .. } => "paid",
        PostingOutcome::Existing { .. } => "paid_existing",
    };
    Ok(match receipt {
        // The receipt, checked as anyone checks it, to show or print for the participant.
        Some(nomor) => Redirect::to(&format!("/kuitansi?nomor={nomor}&jumlah={total}&ok={ok}")),
        None => Redirect::to(&format!("/peserta/{}?ok={ok}", p.id)),
    }
    .into_response())
}
