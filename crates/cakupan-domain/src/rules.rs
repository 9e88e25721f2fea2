//! Rules as data: every rate, amount, bracket, discount and threshold of DOMAIN.md §§2–4,
//! read from the TOML files under `rules/`, each row with its effective period and source.
//!
//! A rule applies to a contribution month when it is in force on the **last day** of that
//! month; so a regulation effective mid-month (PP 6/2025 from 7 February 2025) governs that
//! month's contributions, which are paid after it takes effect.

use crate::money::{Rounding, Rupiah};
use crate::month::{Month, parse_date};
use crate::occupation::{Occupation, Sector};
use crate::segment::{Payer, Programme, Segment};
use serde::Deserialize;
use std::collections::HashMap;
use time::Date;

/// The rule files the binary carries, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("bpu.toml", include_str!("../../../rules/bpu.toml")),
    ("pu.toml", include_str!("../../../rules/pu.toml")),
    (
        "discounts.toml",
        include_str!("../../../rules/discounts.toml"),
    ),
    (
        "coverage.toml",
        include_str!("../../../rules/coverage.toml"),
    ),
    (
        "registration.toml",
        include_str!("../../../rules/registration.toml"),
    ),
    (
        "calendar.toml",
        include_str!("../../../rules/calendar.toml"),
    ),
    (
        "occupations.toml",
        include_str!("../../../rules/occupations.toml"),
    ),
    ("targets.toml", include_str!("../../../rules/targets.toml")),
    (
        "payments.toml",
        include_str!("../../../rules/payments.toml"),
    ),
    (
        "reporting.toml",
        include_str!("../../../rules/reporting.toml"),
    ),
    ("perisai.toml", include_str!("../../../rules/perisai.toml")),
    (
        "campaign.toml",
        include_str!("../../../rules/campaign.toml"),
    ),
    (
        "security.toml",
        include_str!("../../../rules/security.toml"),
    ),
    (
        "enrolment.toml",
        include_str!("../../../rules/enrolment.toml"),
    ),
    (
        "reminders.toml",
        include_str!("../../../rules/reminders.toml"),
    ),
    (
        "minimum_wages.toml",
        include_str!("../../../rules/minimum_wages.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct RulesError {
    pub file: String,
    pub message: String,
}

/// When a row is in force, inclusive at both ends; `to = None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Option<Date>,
}

impl Period {
    pub fn in_force_on(&self, d: Date) -> bool {
        self.from <= d && self.to.is_none_or(|t| d <= t)
    }

    pub fn applies_to(&self, m: Month) -> bool {
        self.in_force_on(m.last_day())
    }

    fn overlaps(&self, other: &Period) -> bool {
        let a_end = self.to.unwrap_or(Date::MAX);
        let b_end = other.to.unwrap_or(Date::MAX);
        self.from <= b_end && other.from <= a_end
    }
}

/// Provenance shared by every row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub period: Period,
    pub source: String,
    /// confirmed, secondary, unconfirmed, provisional or historical (DOMAIN.md's own labels).
    pub status: String,
}

macro_rules! row {
    ($(#[$m:meta])* $raw:ident => $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $raw {
            $($(#[$fm])* $field: $ty,)*
            valid_from: String,
            #[serde(default)]
            valid_to: Option<String>,
            source: String,
            #[serde(default)]
            status: Option<String>,
            #[serde(default)]
            #[allow(dead_code)]
            note: Option<String>,
        }

        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $(pub $field: $ty,)*
            pub provenance: Provenance,
        }

        impl $raw {
            fn cook(self, file: &str) -> Result<$name, RulesError> {
                let period = period(file, &self.valid_from, self.valid_to.as_deref())?;
                if self.source.trim().is_empty() {
                    return Err(RulesError { file: file.into(), message: format!("{} row from {} has an empty source", stringify!($name), self.valid_from) });
                }
                Ok($name {
                    $($field: self.$field,)*
                    provenance: Provenance { period, source: self.source, status: self.status.unwrap_or_else(|| "confirmed".into()) },
                })
            }
        }
    };
}

row!(/// The BPU income bracket table: the bases a participant may declare.
    RawBrackets => BracketTable { bases: Vec<i64> });
row!(/// A contribution rate: a percentage of the basis or a flat amount.
    RawRate => Rate {
    segment: Segment, programme: Programme, payer: Payer,
    #[serde(default)] risk_class: Option<u8>,
    #[serde(default)] percent_ppm: Option<i64>,
    #[serde(default)] flat: Option<i64>,
});
row!(/// The JP wage ceiling.
    RawCeiling => JpCeiling { amount: i64 });
row!(/// How JKP is funded (PP 37/2021, PP 6/2025), and who is covered: workers registered
    /// before `max_age_at_registration`.
    RawJkp => JkpFunding { total_ppm: i64, government_ppm: i64, from_jkk_ppm: i64, from_jkm_ppm: i64, wage_cap: i64, max_age_at_registration: u8, required_programmes: Vec<Programme> });
row!(/// The pension age (PP 45/2015 art. 15): no JP contribution is due for a worker who has
    /// reached it.
    RawPensionAge => PensionAge { age: u8 });
row!(/// A temporary discount (PP 50/2025, PP 49/2020).
    RawDiscount => Discount {
    id: String, segments: Vec<Segment>, sector: String, programmes: Vec<Programme>,
    pay_ppm: i64, exclude_budget_funded: bool,
});
row!(/// A deferral: part of a contribution postponed, not forgiven (PP 49/2020 JP).
    RawDeferral => Deferral { id: String, segments: Vec<Segment>, programmes: Vec<Programme>, deferred_ppm: i64 });
row!(/// When a contribution month falls due.
    RawDue => DueDateRule { segment: Segment, due_day: u8, month_offset: i32, roll_forward: bool });
row!(/// Late fee per month of delay.
    RawLate => LateFee { segment: Segment, programmes: Vec<Programme>, ppm_per_month: i64 });
row!(/// Coverage thresholds (DOMAIN.md §4.1).
    RawCoverage => CoverageRule {
    segment: Segment, months_unpaid_before_nonactive: u32, due_lag_months: u32, cover_during_arrears: bool, backpay_on_reactivation: bool,
});

impl CoverageRule {
    /// Consecutive unpaid months that make a participation NONACTIVE: the months overdue the
    /// rule allows plus the months before a contribution month falls due (DOMAIN.md §4.1).
    pub fn unpaid_months_before_nonactive(&self) -> u32 {
        self.months_unpaid_before_nonactive
            .saturating_add(self.due_lag_months)
    }
}
row!(/// What a registration in a segment may hold.
    RawRegistration => RegistrationRule {
    segment: Segment, required_programmes: Vec<Programme>, optional_programmes: Vec<Programme>,
    min_age: u8, max_age: u8, age_rule: String,
});
row!(/// Advance periods allowed.
    RawPeriods => PaymentPeriods { segment: Segment, months: Vec<u32> });
row!(/// How far ahead of the month it is paid in a contribution may reach: a later month is a
    /// typing error, not a payment (`9999-12`).
    RawHorizon => PostingHorizon { max_months_ahead: u32 });
row!(/// Participants a national target counts that Cakupan does not hold (Jakon, PMI): taken off
    /// the all-segment national target of `target_month` and its baseline.
    RawTargetExclusion => TargetExclusion { target_month: String, segment: String, value: i64, as_of: String });
row!(/// A coverage target (DOMAIN.md §4): `value` of `metric` in `month`, from a baseline.
    RawTarget => Target {
    metric: String, segment: String, region: String, month: String, value: i64,
    baseline_month: String, baseline_value: i64,
});
row!(/// Sign-in protection (issue #4): lockouts, session lifetime, password hashing time.
    RawSecurity => SecurityRule {
    login_failures_per_username: u32, login_failures_per_ip: u32, failure_window_minutes: u32,
    lockout_minutes: u32, session_hours: u32, min_password_length: u32,
    /// A new password must use at least this many different characters.
    min_password_distinct: u32,
    argon2_target_ms: u32, aggregate_min_cell: u32, correction_due_hours: u32,
    /// Argon2id memory per password hash, KiB (fixed: tuning adds passes, not memory).
    argon2_memory_kib: u32,
    /// The most memory all password hashes in flight may hold at once, MiB; sign-ins beyond
    /// it are turned away (503) before any hashing.
    password_hashing_budget_mib: u32,
    /// Public receipt checks per address per minute.
    receipt_checks_per_minute: u32,
    /// A connection must send a request's headers within this many seconds of opening or of
    /// its last answer (so an idle keep-alive connection is closed after it too).
    header_read_timeout_secs: u32,
    /// A session unused for this many minutes ends (besides `session_hours` after sign-in).
    session_idle_minutes: u32,
    /// The most sessions one user may hold at once; a new sign-in ends the oldest.
    sessions_per_user: u32,
    /// Roles that must sign in with a TOTP second factor (others may choose one).
    second_factor_roles: Vec<String>,
    /// One-time recovery codes given with a second factor.
    recovery_codes: u32,
});
row!(/// Workers enrolling themselves and signing in with a code (issue #20): the one-time
    /// codes sent by SMS, how often they may be asked for, and the funnel's window.
    RawEnrolment => EnrolmentRule {
    /// Digits of a one-time code.
    otp_digits: u32,
    /// A code is good this long after it was sent, seconds.
    otp_valid_secs: u32,
    /// Wrong codes typed before a code stops working.
    otp_max_attempts: u32,
    /// Codes sent to one phone number, per NIK and per address within an hour.
    otp_per_phone_per_hour: u32,
    otp_per_nik_per_hour: u32,
    otp_per_address_per_hour: u32,
    /// How long a request to the SMS gateway may take before it counts as down, seconds.
    sms_timeout_secs: u32,
    /// Weeks of the enrolment funnel shown on the dashboard.
    funnel_weeks: u32,
    /// The version of the processing notice a self-registering worker consents to.
    consent_notice_version: String,
});
row!(/// How reminders are sent and measured (issue #21): quiet hours, the monthly cap, the
    /// holdout, the outcome window, the gateway's rate and the opt-out words.
    RawReminderPolicy => ReminderPolicy {
    /// Local time (HH:MM) from which reminders may go out, and until which.
    send_from: String,
    send_until: String,
    /// Reminders one person may receive in a calendar month, any channel.
    max_per_person_per_month: u32,
    /// Share of each campaign held out, parts per million.
    holdout_ppm: i64,
    /// The outcome: paid within this many days of the reminder.
    paid_within_days: u32,
    /// The SMS gateway's rate, messages a second.
    sms_per_second: u32,
    /// Replies that opt out of reminders (compared in upper case).
    stop_words: Vec<String>,
    /// Replies that opt in again.
    start_words: Vec<String>,
    /// Hours within which the branch answers a question sent by SMS.
    reply_due_hours: u32,
    /// Retention counts a lapse as reminded when a reminder went out in the lapse month or
    /// this many months before it.
    lapse_lookback_months: u32,
    /// Months of lapses and of campaigns the reports count (retention and the experiment).
    report_months: u32,
});
row!(/// A time zone and the provinces in it (Keppres 41/1987).
    RawTimeZone => TimeZoneRule { name: String, utc_offset_minutes: i32, provinces: Vec<String> });
row!(/// One reminder: its trigger, timing and channels (issue #21, `rules/reminders.toml`).
    RawReminder => ReminderRule {
    /// The rule's name: the key of its campaigns and of every reminder it plans.
    name: String,
    /// before_due, in_arrears, nonactive, invoice_due or invoice_overdue.
    trigger: String,
    /// Days before (before_due, invoice_due) or after (invoice_overdue) the due date.
    #[serde(default)] days: u32,
    /// Months unpaid (in_arrears) or non-active (nonactive).
    #[serde(default)] months: u32,
    /// The day of the month it runs (in_arrears, nonactive).
    #[serde(default)] day_of_month: u32,
    /// sms and/or agent.
    channels: Vec<String>,
});
row!(/// How progress is reported: the run-rate window of target projections and the months
    /// of history the dashboard draws.
    RawReporting => ReportingRule { run_rate_months: u32, chart_months: u32 });
row!(/// How Perisai agents are paid (DOMAIN.md §5): a share of the contributions of their own
    /// participants, an acquisition incentive above a monthly threshold, the office's share.
    RawPerisaiFee => PerisaiFee {
    fee_ppm: i64, acquisition_threshold: i64, acquisition_lump: i64,
    acquisition_each_2: i64, acquisition_each_3: i64, agent_share_ppm: i64,
    /// What the agent/office split is taken of: `contribution_fee` (the fee on contributions,
    /// net of clawback) and/or `incentive` (the acquisition incentive); what it is not taken of
    /// goes to the agent whole.
    agent_share_applies_to: Vec<String>,
});
row!(/// Which programmes an employer of a size class must give every worker (Perpres 109/2013).
    RawEmployerSize => EmployerSizeRule { size: String, required_programmes: Vec<Programme> });
row!(/// A province's minimum wage (UMP) for a month: a wage report warns below it.
    RawMinimumWage => MinimumWage {
    /// The province's two-digit Kemendagri code.
    province: String,
    /// Rupiah a month.
    amount: i64,
});
row!(/// When an agent becomes inactive and may come back (DOMAIN.md §5).
    RawPerisaiLifecycle => PerisaiLifecycle {
    idle_months_before_inactive: u32, reactivation_cooling_months: u32, office_months_below_target: u32,
});
row!(/// When cash held by an agent is flagged.
    RawPerisaiCustody => PerisaiCustody { alert_amount: i64, alert_days: u32 });
row!(/// How the campaign planner weighs a village (`campaign::plan_wave`): the share of its
/// potential that depends on informal work, the awareness assumed where no survey has
/// measured it, and the fewest uncovered workers worth a session (parts per million for
/// shares).
RawCampaignPlanner => CampaignPlanner {
    informal_weight_ppm: i64,
    prior_awareness_ppm: i64,
    min_uncovered: i64,
    max_attendance_ppm_of_workers: i64,
    uplift_window_weeks: u32,
    awareness_min_respondents: u32,
    max_survey_sample: u64,
});
row!(/// A campaign audience (farmers, fishers, …): the occupations (`rules/occupations.toml`)
    /// whose people it counts, for session attendance and the uplift per segment.
    RawCampaignAudience => CampaignAudience {
    code: String, name_id: String, name_en: String, occupations: Vec<String>,
});
row!(/// Rounding of fractional rupiah.
    RawRounding => RoundingRule { mode: Rounding });
row!(/// Overpayment handling.
    RawOverpayment => OverpaymentRule { mode: String });
row!(/// The agency as a biller on the payment channels (issue #19): its partner service id,
    /// the prefix of every payment code (`payments::VirtualAccount`); how long a partner's
    /// access token lasts, how far a request's timestamp may stray from our clock, and after
    /// how many days a payment recorded here but absent from the partner's settlements is
    /// proposed for reversal; how many days before today a payment's `trxDateTime` may be;
    /// how long a server keeps a partner's opened credentials before reading them again (so
    /// how long a partner switched off elsewhere may still be served).
    RawBiller => BillerRule {
    partner_service_id: String,
    token_lifetime_secs: u32,
    timestamp_skew_secs: u32,
    unsettled_days_before_reversal: u32,
    trx_max_age_days: u32,
    partner_cache_secs: u32,
});

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    date: String,
    name: String,
    source: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    bpu_brackets: Vec<RawBrackets>,
    #[serde(default)]
    rate: Vec<RawRate>,
    #[serde(default)]
    jp_ceiling: Vec<RawCeiling>,
    #[serde(default)]
    jkp_funding: Vec<RawJkp>,
    #[serde(default)]
    pension_age: Vec<RawPensionAge>,
    #[serde(default)]
    discount: Vec<RawDiscount>,
    #[serde(default)]
    deferral: Vec<RawDeferral>,
    #[serde(default)]
    due_date: Vec<RawDue>,
    #[serde(default)]
    late_fee: Vec<RawLate>,
    #[serde(default)]
    coverage: Vec<RawCoverage>,
    #[serde(default)]
    registration: Vec<RawRegistration>,
    #[serde(default)]
    payment_periods: Vec<RawPeriods>,
    #[serde(default)]
    posting_horizon: Vec<RawHorizon>,
    #[serde(default)]
    target: Vec<RawTarget>,
    #[serde(default)]
    target_exclusion: Vec<RawTargetExclusion>,
    #[serde(default)]
    rounding: Vec<RawRounding>,
    #[serde(default)]
    security: Vec<RawSecurity>,
    #[serde(default)]
    reporting: Vec<RawReporting>,
    #[serde(default)]
    employer_size: Vec<RawEmployerSize>,
    #[serde(default)]
    minimum_wage: Vec<RawMinimumWage>,
    #[serde(default)]
    perisai_fee: Vec<RawPerisaiFee>,
    #[serde(default)]
    perisai_lifecycle: Vec<RawPerisaiLifecycle>,
    #[serde(default)]
    perisai_custody: Vec<RawPerisaiCustody>,
    #[serde(default)]
    campaign_planner: Vec<RawCampaignPlanner>,
    #[serde(default)]
    campaign_audience: Vec<RawCampaignAudience>,
    #[serde(default)]
    overpayment: Vec<RawOverpayment>,
    #[serde(default)]
    biller: Vec<RawBiller>,
    #[serde(default)]
    enrolment: Vec<RawEnrolment>,
    #[serde(default)]
    reminder_policy: Vec<RawReminderPolicy>,
    #[serde(default)]
    time_zone: Vec<RawTimeZone>,
    #[serde(default)]
    reminder: Vec<RawReminder>,
    #[serde(default)]
    holiday: Vec<RawHoliday>,
    #[serde(default)]
    occupation: Vec<Occupation>,
}

/// A holiday on which nothing falls due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: Date,
    pub name: String,
    pub source: String,
}

/// Every rule, checked: no two rows for the same thing overlap in time.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub brackets: Vec<BracketTable>,
    pub rates: Vec<Rate>,
    pub jp_ceilings: Vec<JpCeiling>,
    pub jkp_funding: Vec<JkpFunding>,
    pub pension_ages: Vec<PensionAge>,
    pub discounts: Vec<Discount>,
    pub deferrals: Vec<Deferral>,
    pub due_dates: Vec<DueDateRule>,
    pub late_fees: Vec<LateFee>,
    pub coverage: Vec<CoverageRule>,
    pub registration: Vec<RegistrationRule>,
    pub payment_periods: Vec<PaymentPeriods>,
    pub posting_horizon: Vec<PostingHorizon>,
    pub targets: Vec<Target>,
    pub target_exclusions: Vec<TargetExclusion>,
    pub rounding: Vec<RoundingRule>,
    pub security: Vec<SecurityRule>,
    pub reporting: Vec<ReportingRule>,
    pub employer_sizes: Vec<EmployerSizeRule>,
    pub minimum_wages: Vec<MinimumWage>,
    pub perisai_fees: Vec<PerisaiFee>,
    pub perisai_lifecycle: Vec<PerisaiLifecycle>,
    pub perisai_custody: Vec<PerisaiCustody>,
    pub campaign_planner: Vec<CampaignPlanner>,
    pub campaign_audiences: Vec<CampaignAudience>,
    pub overpayment: Vec<OverpaymentRule>,
    pub billers: Vec<BillerRule>,
    pub enrolment: Vec<EnrolmentRule>,
    pub reminder_policy: Vec<ReminderPolicy>,
    pub time_zones: Vec<TimeZoneRule>,
    pub reminders: Vec<ReminderRule>,
    pub holidays: Vec<Holiday>,
    pub occupations: Vec<Occupation>,
    occupation_index: HashMap<String, usize>,
}

fn period(file: &str, from: &str, to: Option<&str>) -> Result<Period, RulesError> {
    let err = |what: &str, v: &str| RulesError {
        file: file.into(),
        message: format!("{what} '{v}' must be YYYY-MM or YYYY-MM-DD"),
    };
    let from_d = parse_date(from)
        .or_else(|| Month::parse(from).ok().map(Month::first_day))
        .ok_or_else(|| err("valid_from", from))?;
    let to_d = match to {
        None => None,
        Some(t) if t.trim().is_empty() => None,
        Some(t) => Some(
            parse_date(t)
                .or_else(|| Month::parse(t).ok().map(Month::last_day))
                .ok_or_else(|| err("valid_to", t))?,
        ),
    };
    if let Some(t) = to_d
        && t < from_d
    {
        return Err(RulesError {
            file: file.into(),
            message: format!("valid_to {t} is before valid_from {from_d}"),
        });
    }
    Ok(Period {
        from: from_d,
        to: to_d,
    })
}

fn cook_all<R, T>(
    file: &str,
    raw: Vec<R>,
    cook: impl Fn(R, &str) -> Result<T, RulesError>,
) -> Result<Vec<T>, RulesError> {
    raw.into_iter().map(|r| cook(r, file)).collect()
}

/// Rows sharing a key must not be in force at the same time.
fn no_overlap<T>(
    what: &str,
    rows: &[T],
    key: impl Fn(&T) -> String,
    period: impl Fn(&T) -> Period,
) -> Result<(), RulesError> {
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            if key(a) == key(b) && period(a).overlaps(&period(b)) {
                return Err(RulesError {
                    file: "rules".into(),
                    message: format!(
                        "two {what} rows for {} are in force at the same time (from {} and from {})",
                        key(a),
                        period(a).from,
                        period(b).from
                    ),
                });
            }
        }
    }
    Ok(())
}

impl RuleSet {
    /// The rules compiled into this binary.
    pub fn builtin() -> Result<RuleSet, RulesError> {
        RuleSet::from_sources(BUILTIN)
    }

    /// The built-in rules with one file's content replaced (tests of refusals).
    #[cfg(test)]
    pub(crate) fn builtin_with(name: &str, text: &str) -> Result<RuleSet, RulesError> {
        let files: Vec<(&str, &str)> = BUILTIN
            .iter()
            .map(|(n, t)| (*n, if *n == name { text } else { *t }))
            .collect();
        RuleSet::from_sources(&files)
    }

    /// Parses and checks a set of rule files given as `(name, content)`.
    pub fn from_sources(files: &[(&str, &str)]) -> Result<RuleSet, RulesError> {
        let mut rs = RuleSet::default();
        for (name, text) in files {
            let raw: RawFile = toml::from_str(text).map_err(|e| RulesError {
                file: (*name).into(),
                message: e.to_string(),
            })?;
            rs.brackets
                .extend(cook_all(name, raw.bpu_brackets, RawBrackets::cook)?);
            rs.rates.extend(cook_all(name, raw.rate, RawRate::cook)?);
            rs.jp_ceilings
                .extend(cook_all(name, raw.jp_ceiling, RawCeiling::cook)?);
            rs.jkp_funding
                .extend(cook_all(name, raw.jkp_funding, RawJkp::cook)?);
            rs.pension_ages
                .extend(cook_all(name, raw.pension_age, RawPensionAge::cook)?);
            rs.discounts
                .extend(cook_all(name, raw.discount, RawDiscount::cook)?);
            rs.deferrals
                .extend(cook_all(name, raw.deferral, RawDeferral::cook)?);
            rs.due_dates
                .extend(cook_all(name, raw.due_date, RawDue::cook)?);
            rs.late_fees
                .extend(cook_all(name, raw.late_fee, RawLate::cook)?);
            rs.coverage
                .extend(cook_all(name, raw.coverage, RawCoverage::cook)?);
            rs.registration
                .extend(cook_all(name, raw.registration, RawRegistration::cook)?);
            rs.payment_periods
                .extend(cook_all(name, raw.payment_periods, RawPeriods::cook)?);
            rs.posting_horizon
                .extend(cook_all(name, raw.posting_horizon, RawHorizon::cook)?);
            rs.rounding
                .extend(cook_all(name, raw.rounding, RawRounding::cook)?);
            rs.security
                .extend(cook_all(name, raw.security, RawSecurity::cook)?);
            rs.reporting
                .extend(cook_all(name, raw.reporting, RawReporting::cook)?);
            rs.employer_sizes
                .extend(cook_all(name, raw.employer_size, RawEmployerSize::cook)?);
            rs.minimum_wages
                .extend(cook_all(name, raw.minimum_wage, RawMinimumWage::cook)?);
            rs.perisai_fees
                .extend(cook_all(name, raw.perisai_fee, RawPerisaiFee::cook)?);
            rs.perisai_lifecycle.extend(cook_all(
                name,
                raw.perisai_lifecycle,
                RawPerisaiLifecycle::cook,
            )?);
            rs.perisai_custody.extend(cook_all(
                name,
                raw.perisai_custody,
                RawPerisaiCustody::cook,
            )?);
            rs.campaign_planner.extend(cook_all(
                name,
                raw.campaign_planner,
                RawCampaignPlanner::cook,
            )?);
            rs.campaign_audiences.extend(cook_all(
                name,
                raw.campaign_audience,
                RawCampaignAudience::cook,
            )?);
            for t in cook_all(name, raw.target, RawTarget::cook)? {
                for (field, v) in [("month", &t.month), ("baseline_month", &t.baseline_month)] {
                    if Month::parse(v).is_err() {
                        return Err(RulesError {
                            file: (*name).into(),
                            message: format!("target {field} '{v}' must be YYYY-MM"),
                        });
                    }
                }
                rs.targets.push(t);
            }
            for e in cook_all(name, raw.target_exclusion, RawTargetExclusion::cook)? {
                for (field, v) in [("target_month", &e.target_month), ("as_of", &e.as_of)] {
                    if Month::parse(v).is_err() {
                        return Err(RulesError {
                            file: (*name).into(),
                            message: format!("target_exclusion {field} '{v}' must be YYYY-MM"),
                        });
                    }
                }
                if e.value < 0 || e.segment.trim().is_empty() {
                    return Err(RulesError {
                        file: (*name).into(),
                        message: format!(
                            "target_exclusion for {}: a segment name and a value of at least 0",
                            e.target_month
                        ),
                    });
                }
                rs.target_exclusions.push(e);
            }
            rs.overpayment
                .extend(cook_all(name, raw.overpayment, RawOverpayment::cook)?);
            rs.billers
                .extend(cook_all(name, raw.biller, RawBiller::cook)?);
            rs.enrolment
                .extend(cook_all(name, raw.enrolment, RawEnrolment::cook)?);
            rs.reminder_policy.extend(cook_all(
                name,
                raw.reminder_policy,
                RawReminderPolicy::cook,
            )?);
            rs.time_zones
                .extend(cook_all(name, raw.time_zone, RawTimeZone::cook)?);
            rs.reminders
                .extend(cook_all(name, raw.reminder, RawReminder::cook)?);
            for h in raw.holiday {
                let date = parse_date(&h.date).ok_or_else(|| RulesError {
                    file: (*name).into(),
                    message: format!("holiday date '{}' must be YYYY-MM-DD", h.date),
                })?;
                rs.holidays.push(Holiday {
                    date,
                    name: h.name,
                    source: h.source,
                });
            }
            rs.occupations.extend(raw.occupation);
        }
        rs.check()?;
        for (i, o) in rs.occupations.iter().enumerate() {
            if rs.occupation_index.insert(o.code.clone(), i).is_some() {
                return Err(RulesError {
                    file: "occupations".into(),
                    message: format!("occupation code {} is listed twice", o.code),
                });
            }
        }
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for a in &rs.campaign_audiences {
            for o in &a.occupations {
                if !rs.occupation_index.contains_key(o) {
                    return Err(RulesError {
                        file: "campaign".into(),
                        message: format!(
                            "campaign_audience {} lists occupation {o}, which is not in rules/occupations.toml",
                            a.code
                        ),
                    });
                }
                if let Some(other) = seen.insert(o, &a.code) {
                    return Err(RulesError {
                        file: "campaign".into(),
                        message: format!(
                            "occupation {o} is in two campaign audiences ({other} and {})",
                            a.code
                        ),
                    });
                }
            }
        }
        Ok(rs)
    }

    fn check(&self) -> Result<(), RulesError> {
        let bad = |message: String| RulesError {
            file: "rules".into(),
            message,
        };
        no_overlap(
            "bpu_brackets",
            &self.brackets,
            |_| "the BPU bracket table".into(),
            |r| r.provenance.period,
        )?;
        for b in &self.brackets {
            if b.bases.is_empty() || b.bases.windows(2).any(|w| w[0] >= w[1]) || b.bases[0] <= 0 {
                return Err(bad(
                    "bpu_brackets bases must be positive and strictly increasing".into(),
                ));
            }
        }
        no_overlap(
            "rate",
            &self.rates,
            |r| {
                format!(
                    "{} {} {} {:?}",
                    r.segment, r.programme, r.payer, r.risk_class
                )
            },
            |r| r.provenance.period,
        )?;
        for r in &self.rates {
            if r.percent_ppm.is_some() == r.flat.is_some() {
                return Err(bad(format!(
                    "rate {} {} {} must have exactly one of percent_ppm or flat",
                    r.segment, r.programme, r.payer
                )));
            }
            if r.percent_ppm.is_some_and(|p| !(0..=1_000_000).contains(&p))
                || r.flat.is_some_and(|f| f < 0)
            {
                return Err(bad(format!(
                    "rate {} {} {} is out of range",
                    r.segment, r.programme, r.payer
                )));
            }
        }
        no_overlap(
            "jp_ceiling",
            &self.jp_ceilings,
            |_| "JP".into(),
            |r| r.provenance.period,
        )?;
        no_overlap(
            "jkp_funding",
            &self.jkp_funding,
            |_| "JKP".into(),
            |r| r.provenance.period,
        )?;
        for d in &self.discounts {
            if !matches!(d.sector.as_str(), "transport" | "non_transport" | "any") {
                return Err(bad(format!(
                    "discount {}: sector must be transport, non_transport or any",
                    d.id
                )));
            }
            if !(0..=1_000_000).contains(&d.pay_ppm) {
                return Err(bad(format!(
                    "discount {}: pay_ppm must be 0..=1000000",
                    d.id
                )));
            }
        }
        no_overlap(
            "due_date",
            &self.due_dates,
            |r| r.segment.to_string(),
            |r| r.provenance.period,
        )?;
        for d in &self.due_dates {
            if !(1..=31).contains(&d.due_day) {
                return Err(bad(format!(
                    "due_date for {}: due_day must be 1..=31",
                    d.segment
                )));
            }
        }
        for p in Programme::ALL {
            no_overlap(
                "late_fee",
                &self
                    .late_fees
                    .iter()
                    .filter(|l| l.programmes.contains(p))
                    .collect::<Vec<_>>(),
                |r| format!("{} {p}", r.segment),
                |r| r.provenance.period,
            )?;
        }
        no_overlap(
            "coverage",
            &self.coverage,
            |r| r.segment.to_string(),
            |r| r.provenance.period,
        )?;
        for c in &self.coverage {
            if c.months_unpaid_before_nonactive == 0 {
                return Err(bad(format!(
                    "coverage for {}: months_unpaid_before_nonactive must be at least 1",
                    c.segment
                )));
            }
            // The lag is the due-date rule's month offset, written where the threshold is read;
            // the two must never disagree.
            for d in self.due_dates.iter().filter(|d| {
                d.segment == c.segment && d.provenance.period.overlaps(&c.provenance.period)
            }) {
                if i64::from(c.due_lag_months) != i64::from(d.month_offset) {
                    return Err(bad(format!(
                        "coverage for {} from {}: due_lag_months is {} but the due_date rule from {} falls due {} month(s) after the contribution month",
                        c.segment,
                        c.provenance.period.from,
                        c.due_lag_months,
                        d.provenance.period.from,
                        d.month_offset
                    )));
                }
            }
        }
        no_overlap(
            "registration",
            &self.registration,
            |r| r.segment.to_string(),
            |r| r.provenance.period,
        )?;
        for r in &self.registration {
            if !matches!(r.age_rule.as_str(), "warn" | "reject") {
                return Err(bad(format!(
                    "registration for {}: age_rule must be warn or reject",
                    r.segment
                )));
            }
        }
        no_overlap(
            "payment_periods",
            &self.payment_periods,
            |r| r.segment.to_string(),
            |r| r.provenance.period,
        )?;
        for f in &self.perisai_fees {
            if f.agent_share_applies_to.is_empty()
                || f.agent_share_applies_to
                    .iter()
                    .any(|x| !matches!(x.as_str(), "contribution_fee" | "incentive"))
            {
                return Err(bad(format!(
                    "perisai_fee from {}: agent_share_applies_to lists contribution_fee and/or incentive",
                    f.provenance.period.from
                )));
            }
        }
        no_overlap(
            "posting_horizon",
            &self.posting_horizon,
            |_| "posting_horizon".into(),
            |r| r.provenance.period,
        )?;
        no_overlap(
            "rounding",
            &self.rounding,
            |_| "rounding".into(),
            |r| r.provenance.period,
        )?;
        no_overlap(
            "security",
            &self.security,
            |_| "security".into(),
            |r| r.provenance.period,
        )?;
        no_overlap(
            "enrolment",
            &self.enrolment,
            |_| "enrolment".into(),
            |r| r.provenance.period,
        )?;
        for r in &self.enrolment {
            if !(4..=8).contains(&r.otp_digits)
                || r.otp_valid_secs == 0
                || r.otp_max_attempts == 0
                || r.sms_timeout_secs == 0
                || r.funnel_weeks == 0
                || r.consent_notice_version.trim().is_empty()
            {
                return Err(bad(format!(
                    "enrolment from {}: otp_digits must be 4 to 8; otp_valid_secs, otp_max_attempts, sms_timeout_secs and funnel_weeks above 0; consent_notice_version not empty",
                    r.provenance.period.from
                )));
            }
        }
        no_overlap(
            "reminder_policy",
            &self.reminder_policy,
            |_| "reminder_policy".into(),
            |r| r.provenance.period,
        )?;
        for r in &self.reminder_policy {
            crate::reminders::check_policy(r).map_err(|m| {
                bad(format!(
                    "reminder_policy from {}: {m}",
                    r.provenance.period.from
                ))
            })?;
        }
        no_overlap(
            "time_zone",
            &self.time_zones,
            |r| r.name.clone(),
            |r| r.provenance.period,
        )?;
        for z in &self.time_zones {
            if !(-720..=840).contains(&z.utc_offset_minutes) || z.provinces.is_empty() {
                return Err(bad(format!(
                    "time_zone {}: utc_offset_minutes must be -720..=840 and provinces not empty",
                    z.name
                )));
            }
        }
        no_overlap(
            "reminder",
            &self.reminders,
            |r| r.name.clone(),
            |r| r.provenance.period,
        )?;
        for r in &self.reminders {
            crate::reminders::check_rule(r)
                .map_err(|m| bad(format!("reminder {}: {m}", r.name)))?;
        }
        no_overlap(
            "employer_size",
            &self.employer_sizes,
            |r| r.size.clone(),
            |r| r.provenance.period,
        )?;
        for r in &self.employer_sizes {
            if !["micro", "small", "medium", "large"].contains(&r.size.as_str()) {
                return Err(bad(format!(
                    "employer_size '{}' must be micro, small, medium or large",
                    r.size
                )));
            }
        }
        no_overlap(
            "minimum_wage",
            &self.minimum_wages,
            |r| r.province.clone(),
            |r| r.provenance.period,
        )?;
        for r in &self.minimum_wages {
            let code_ok = r.province.len() == 2
                && r.province.bytes().all(|b| b.is_ascii_digit())
                && r.province != "00";
            if !code_ok || r.amount <= 0 {
                return Err(bad(format!(
                    "minimum_wage {}: province must be a two-digit code and amount more than zero",
                    r.province
                )));
            }
        }
        no_overlap(
            "perisai_fee",
            &self.perisai_fees,
            |_| "perisai_fee".into(),
            |r| r.provenance.period,
        )?;
        no_overlap(
            "perisai_lifecycle",
            &self.perisai_lifecycle,
            |_| "perisai_lifecycle".into(),
            |r| r.provenance.period,
        )?;
        no_overlap(
            "perisai_custody",
            &self.perisai_custody,
            |_| "perisai_custody".into(),
            |r| r.provenance.period,
        )?;
        no_overlap(
            "campaign_planner",
            &self.campaign_planner,
            |_| "campaign_planner".into(),
            |r| r.provenance.period,
        )?;
        for r in &self.campaign_planner {
            if !(0..=1_000_000).contains(&r.informal_weight_ppm)
                || !(0..=1_000_000).contains(&r.prior_awareness_ppm)
                || r.min_uncovered < 0
                || r.max_attendance_ppm_of_workers <= 0
                || r.uplift_window_weeks == 0
            {
                return Err(bad(format!(
                    "campaign_planner from {}: the ppm shares must be 0 to 1,000,000, min_uncovered at least 0, max_attendance_ppm_of_workers and uplift_window_weeks above 0",
                    r.provenance.period.from
                )));
            }
        }
        for f in &self.perisai_fees {
            if !(0..=1_000_000).contains(&f.fee_ppm)
                || !(0..=1_000_000).contains(&f.agent_share_ppm)
            {
                return Err(bad(format!(
                    "perisai_fee from {}: fee_ppm and agent_share_ppm must be 0 to 1,000,000",
                    f.provenance.period.from
                )));
            }
        }
        no_overlap(
            "reporting",
            &self.reporting,
            |_| "reporting".into(),
            |r| r.provenance.period,
        )?;
        no_overlap(
            "overpayment",
            &self.overpayment,
            |_| "overpayment".into(),
            |r| r.provenance.period,
        )?;
        for b in &self.billers {
            let id = &b.partner_service_id;
            if id.is_empty() || id.len() > 8 || !id.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad(format!(
                    "biller from {}: partner_service_id '{id}' must be 1 to 8 digits",
                    b.provenance.period.from
                )));
            }
        }
        no_overlap(
            "biller",
            &self.billers,
            |_| "biller".into(),
            |r| r.provenance.period,
        )?;
        Ok(())
    }

    fn in_force<T>(rows: &[T], m: Month, p: impl Fn(&T) -> &Provenance) -> Option<&T> {
        rows.iter().find(|r| p(r).period.applies_to(m))
    }

    pub fn bracket_table(&self, m: Month) -> Option<&BracketTable> {
        Self::in_force(&self.brackets, m, |r| &r.provenance)
    }

    pub fn rate(
        &self,
        segment: Segment,
        programme: Programme,
        payer: Payer,
        risk_class: Option<u8>,
        m: Month,
    ) -> Option<&Rate> {
        self.rates.iter().find(|r| {
            r.segment == segment
                && r.programme == programme
                && r.payer == payer
                && r.risk_class == risk_class
                && r.provenance.period.applies_to(m)
        })
    }

    pub fn jp_ceiling(&self, m: Month) -> Option<&JpCeiling> {
        Self::in_force(&self.jp_ceilings, m, |r| &r.provenance)
    }

    /// The JP ceiling for `m` and whether it is provisional: the row in force, else the latest
    /// one before `m` (each year's ceiling is announced after the GDP figures, PP 45/2015 art.
    /// 29: until a row for `m` is added, contributions are billed at the last known ceiling and
    /// marked provisional, never silently).
    pub fn jp_ceiling_for(&self, m: Month) -> Option<(&JpCeiling, bool)> {
        if let Some(c) = self.jp_ceiling(m) {
            return Some((c, false));
        }
        self.jp_ceilings
            .iter()
            .filter(|c| c.provenance.period.from <= m.first_day())
            .max_by_key(|c| c.provenance.period.from)
            .map(|c| (c, true))
    }

    pub fn pension_age(&self, m: Month) -> Option<&PensionAge> {
        Self::in_force(&self.pension_ages, m, |r| &r.provenance)
    }

    pub fn jkp_funding(&self, m: Month) -> Option<&JkpFunding> {
        Self::in_force(&self.jkp_funding, m, |r| &r.provenance)
    }

    /// The discount on `programme` for this participant and month, if any.
    pub fn discount(
        &self,
        segment: Segment,
        programme: Programme,
        sector: Sector,
        budget_funded: bool,
        m: Month,
    ) -> Option<&Discount> {
        self.discounts.iter().find(|d| {
            d.provenance.period.applies_to(m)
                && d.segments.contains(&segment)
                && d.programmes.contains(&programme)
                && (d.sector == "any" || d.sector == sector.as_str())
                && !(budget_funded && d.exclude_budget_funded)
        })
    }

    pub fn deferral(&self, segment: Segment, programme: Programme, m: Month) -> Option<&Deferral> {
        self.deferrals.iter().find(|d| {
            d.provenance.period.applies_to(m)
                && d.segments.contains(&segment)
                && d.programmes.contains(&programme)
        })
    }

    pub fn due_rule(&self, segment: Segment, m: Month) -> Option<&DueDateRule> {
        self.due_dates
            .iter()
            .find(|r| r.segment == segment && r.provenance.period.applies_to(m))
    }

    pub fn late_fee(&self, segment: Segment, programme: Programme, m: Month) -> Option<&LateFee> {
        self.late_fees.iter().find(|r| {
            r.segment == segment
                && r.programmes.contains(&programme)
                && r.provenance.period.applies_to(m)
        })
    }

    pub fn coverage_rule(&self, segment: Segment, m: Month) -> Option<&CoverageRule> {
        self.coverage
            .iter()
            .find(|r| r.segment == segment && r.provenance.period.applies_to(m))
    }

    pub fn registration_rule(&self, segment: Segment, m: Month) -> Option<&RegistrationRule> {
        self.registration
            .iter()
            .find(|r| r.segment == segment && r.provenance.period.applies_to(m))
    }

    pub fn payment_periods(&self, segment: Segment, m: Month) -> Option<&PaymentPeriods> {
        self.payment_periods
            .iter()
            .find(|r| r.segment == segment && r.provenance.period.applies_to(m))
    }

    /// The rounding in force; half-up when no row is in force (DOMAIN.md §9.3 default).
    pub fn rounding(&self, m: Month) -> Rounding {
        Self::in_force(&self.rounding, m, |r| &r.provenance)
            .map(|r| r.mode)
            .unwrap_or(Rounding::HalfUp)
    }

    /// The agency as a biller (its partner service id) in force in `m`.
    pub fn biller(&self, m: Month) -> Option<&BillerRule> {
        Self::in_force(&self.billers, m, |r| &r.provenance)
    }

    /// The enrolment and one-time-code policy in force in `m`.
    pub fn enrolment(&self, m: Month) -> Option<&EnrolmentRule> {
        Self::in_force(&self.enrolment, m, |r| &r.provenance)
    }

    /// The reminder policy in force on `d`.
    pub fn reminder_policy(&self, d: Date) -> Option<&ReminderPolicy> {
        self.reminder_policy
            .iter()
            .find(|r| r.provenance.period.in_force_on(d))
    }

    /// The reminder rules in force on `d`.
    pub fn reminders_on(&self, d: Date) -> Vec<&ReminderRule> {
        self.reminders
            .iter()
            .filter(|r| r.provenance.period.in_force_on(d))
            .collect()
    }

    /// The time zone of a region (any code: its province decides) on `d`. A region with no
    /// province listed, the nation included, takes the first zone in force (the head office's,
    /// first in rules/reminders.toml).
    pub fn time_zone(&self, region: &str, d: Date) -> Option<&TimeZoneRule> {
        let province = region.get(..2).unwrap_or("");
        let in_force = || {
            self.time_zones
                .iter()
                .filter(|z| z.provenance.period.in_force_on(d))
        };
        in_force()
            .find(|z| z.provinces.iter().any(|p| p == province))
            .or_else(|| in_force().next())
    }

    /// The sign-in protection in force in `m`.
    pub fn security(&self, m: Month) -> Option<&SecurityRule> {
        Self::in_force(&self.security, m, |r| &r.provenance)
    }

    /// The mandatory programmes of an employer size class in force in `m`.
    pub fn employer_size(&self, size: &str, m: Month) -> Option<&EmployerSizeRule> {
        self.employer_sizes
            .iter()
            .find(|r| r.size == size && r.provenance.period.applies_to(m))
    }

    /// The minimum wage (UMP) of province `province` (its two-digit code) in force in `m`.
    pub fn minimum_wage(&self, province: &str, m: Month) -> Option<&MinimumWage> {
        self.minimum_wages
            .iter()
            .find(|r| r.province == province && r.provenance.period.applies_to(m))
    }

    /// The Perisai fee scheme in force in `m`.
    pub fn perisai_fee(&self, m: Month) -> Option<&PerisaiFee> {
        Self::in_force(&self.perisai_fees, m, |r| &r.provenance)
    }

    /// The Perisai lifecycle thresholds in force in `m`; before the first row, the first row
    /// (an agent appointed earlier is judged by the oldest rule there is).
    pub fn perisai_lifecycle(&self, m: Month) -> Option<&PerisaiLifecycle> {
        Self::in_force(&self.perisai_lifecycle, m, |r| &r.provenance).or_else(|| {
            self.perisai_lifecycle
                .iter()
                .min_by_key(|r| r.provenance.period.from)
                .filter(|r| m.last_day() < r.provenance.period.from)
        })
    }

    /// The cash-custody alert thresholds in force in `m`.
    pub fn perisai_custody(&self, m: Month) -> Option<&PerisaiCustody> {
        Self::in_force(&self.perisai_custody, m, |r| &r.provenance)
    }

    /// How the campaign planner weighs villages in `m`.
    pub fn campaign_planner(&self, m: Month) -> Option<&CampaignPlanner> {
        Self::in_force(&self.campaign_planner, m, |r| &r.provenance)
    }

    /// The campaign audience an occupation belongs to (`None`: none of them, "other").
    pub fn campaign_audience_of(&self, occupation: &str) -> Option<&CampaignAudience> {
        self.campaign_audiences
            .iter()
            .find(|a| a.occupations.iter().any(|o| o == occupation))
    }

    /// How progress is reported in `m`.
    /// What the all-segment national target of `month` counts that Cakupan does not hold.
    pub fn target_exclusions(&self, month: Month) -> Vec<&TargetExclusion> {
        self.target_exclusions
            .iter()
            .filter(|e| Month::parse(&e.target_month).is_ok_and(|m| m == month))
            .collect()
    }

    /// The posting horizon in force in `m`, the month a payment is made.
    pub fn posting_horizon(&self, m: Month) -> Option<&PostingHorizon> {
        Self::in_force(&self.posting_horizon, m, |r| &r.provenance)
    }

    pub fn reporting(&self, m: Month) -> Option<&ReportingRule> {
        Self::in_force(&self.reporting, m, |r| &r.provenance)
    }

    /// The run-rate window of target projections in `m` (the reporting rule's; 3 if none).
    pub fn run_rate_months(&self, m: Month) -> i32 {
        self.reporting(m)
            .map(|r| i32::try_from(r.run_rate_months).unwrap_or(i32::MAX).max(1))
            .unwrap_or(3)
    }

    pub fn is_holiday(&self, d: Date) -> bool {
        self.holidays.iter().any(|h| h.date == d)
    }

    pub fn occupation(&self, code: &str) -> Option<&Occupation> {
        self.occupation_index
            .get(code.trim())
            .map(|&i| &self.occupations[i])
    }

    /// Whether `base` is a base of the bracket table in force in month `m`.
    pub fn is_bracket_base(&self, base: Rupiah, m: Month) -> bool {
        self.bracket_table(m)
            .is_some_and(|t| t.bases.binary_search(&base.0).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_province_has_its_2026_minimum_wage() {
        let rs = RuleSet::builtin().unwrap();
        let tree = crate::RegionTree::builtin().unwrap();
        let provinces = tree.children(crate::RegionCode::NATION);
        assert_eq!(provinces.len(), 38);
        for month in ["2026-01", "2026-12"] {
            let m = Month::parse(month).unwrap();
            for p in &provinces {
                let code = p.code.to_string();
                assert!(rs.minimum_wage(&code, m).is_some(), "{code} {month}");
            }
        }
        let jan = Month::parse("2026-01").unwrap();
        assert_eq!(rs.minimum_wage("31", jan).unwrap().amount, 5_729_876);
        assert_eq!(rs.minimum_wage("32", jan).unwrap().amount, 2_317_601);
        // Not carried before 2026 or after: no warning rather than a wrong one.
        assert!(
            rs.minimum_wage("31", Month::parse("2025-12").unwrap())
                .is_none()
        );
        assert!(
            rs.minimum_wage("31", Month::parse("2027-01").unwrap())
                .is_none()
        );
        let bad = "[[minimum_wage]]\nprovince = \"3\"\namount = 1\nvalid_from = \"2026-01\"\nsource = \"x\"\n";
        assert!(RuleSet::builtin_with("minimum_wages.toml", bad).is_err());
    }

    #[test]
    fn builtin_rules_load() {
        let rs = RuleSet::builtin().unwrap();
        let m = Month::parse("2026-05").unwrap();
        let t = rs.bracket_table(m).unwrap();
        assert_eq!(t.bases.first(), Some(&1_000_000));
        assert_eq!(t.bases.last(), Some(&20_700_000));
        assert_eq!(t.bases.len(), 198);
        assert_eq!(rs.occupation("14.1").unwrap().sector, Sector::Transport);
        assert_eq!(rs.occupation("9").unwrap().sector, Sector::NonTransport);
        assert_eq!(rs.occupations.len(), 97);
        let national = rs.targets.iter().find(|t| t.region.is_empty()).unwrap();
        assert_eq!(
            (national.value, national.month.as_str()),
            (70_000_000, "2026-12")
        );
    }

    #[test]
    fn overlapping_rows_are_rejected() {
        let text = r#"
[[jp_ceiling]]
amount = 1
valid_from = "2024-01"
source = "a"
[[jp_ceiling]]
amount = 2
valid_from = "2024-06"
source = "b"
"#;
        let e = RuleSet::from_sources(&[("x.toml", text)]).unwrap_err();
        assert!(e.message.contains("same time"), "{e}");
    }

    #[test]
    fn a_biller_id_is_one_to_eight_digits() {
        let biller = |id: &str| {
            RuleSet::from_sources(&[(
                "payments.toml",
                &format!(
                    "[[biller]]\npartner_service_id = \"{id}\"\ntoken_lifetime_secs = 900\ntimestamp_skew_secs = 300\nunsettled_days_before_reversal = 3\ntrx_max_age_days = 1\npartner_cache_secs = 5\nvalid_from = \"2015-07-01\"\nsource = \"a\"\n"
                ),
            )])
        };
        assert!(biller("88899").is_ok());
        assert!(biller("12345678").is_ok());
        for bad in ["", "123456789", "88 99", "8889A"] {
            let e = biller(bad).unwrap_err();
            assert!(e.message.contains("partner_service_id"), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_fields_and_bad_dates_are_rejected() {
        let e = RuleSet::from_sources(&[(
            "x.toml",
            "[[jp_ceiling]]\namount = 1\nvalid_from = \"2024-13\"\nsource = \"a\"\n",
        )])
        .unwrap_err();
        assert!(e.message.contains("valid_from"), "{e}");
        let e = RuleSet::from_sources(&[(
            "x.toml",
            "[[jp_ceiling]]\namount = 1\nvalid_from = \"2024-01\"\nsource = \"a\"\nrate = 3\n",
        )])
        .unwrap_err();
        assert!(e.message.contains("rate"), "{e}");
        let e = RuleSet::from_sources(&[(
            "x.toml",
            "[[jp_ceiling]]\namount = 1\nvalid_from = \"2024-01\"\nsource = \"\"\n",
        )])
        .unwrap_err();
        assert!(e.message.contains("source"), "{e}");
    }
}
