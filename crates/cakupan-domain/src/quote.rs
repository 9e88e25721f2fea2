//! The contribution calculator: the monthly due per programme for one participant and month,
//! from the rules in force for that month (DOMAIN.md §§2–3), discounts included.

use crate::error::{FieldError, FieldErrors};
use crate::money::{Rounding, Rupiah};
use crate::month::Month;
use crate::occupation::Sector;
use crate::rules::RuleSet;
use crate::segment::{Payer, Programme, ProgrammeSet, Segment};
use serde::Serialize;
use time::{Date, Duration, Weekday};

/// What to price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteRequest {
    pub segment: Segment,
    /// BPU: the declared bracket base. PU: the monthly wage (basic + fixed allowances).
    pub income_base: Rupiah,
    pub programmes: ProgrammeSet,
    pub month: Month,
    pub sector: Sector,
    /// JKK/JKM paid from a state or regional budget (APBN/APBD): excluded from PP 50/2025.
    pub budget_funded: bool,
    /// PU only: the employer's JKK risk class 1–5.
    pub risk_class: Option<u8>,
}

/// One payer's share of one programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteLine {
    pub programme: Programme,
    pub payer: Payer,
    /// The amount the rate applies to (after the JP ceiling for JP).
    pub basis: Rupiah,
    /// The rate in parts per million, when it is a percentage.
    pub rate_ppm: Option<i64>,
    /// Before discounts.
    pub nominal: Rupiah,
    pub discount: Rupiah,
    /// Postponed, not forgiven (PP 49/2020 JP).
    pub deferred: Rupiah,
    /// What is due now: nominal − discount − deferred.
    pub due: Rupiah,
    /// The sources of the rules applied.
    pub sources: Vec<String>,
}

/// Internal accounting that is not billed (JKP funding, DOMAIN.md §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    pub label: &'static str,
    pub amount: Rupiah,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub segment: Segment,
    pub month: Month,
    pub income_base: Rupiah,
    pub programmes: ProgrammeSet,
    pub lines: Vec<QuoteLine>,
    pub allocations: Vec<Allocation>,
    pub total_nominal: Rupiah,
    pub total_discount: Rupiah,
    pub total_deferred: Rupiah,
    /// The monthly amount to pay.
    pub total_due: Rupiah,
    pub employer_due: Rupiah,
    pub worker_due: Rupiah,
    /// Notes on provisional or unconfirmed rules that were used.
    pub notes: Vec<String>,
}

/// Checks the programme choice against the registration rule of the segment.
pub fn check_programmes(
    rules: &RuleSet,
    segment: Segment,
    programmes: ProgrammeSet,
    month: Month,
    field: &str,
) -> Result<(), FieldError> {
    let rule = rules.registration_rule(segment, month).ok_or_else(|| {
        FieldError::new(
            field,
            "programs.no_rule",
            format!("no registration rule for {segment} is in force in {month}"),
        )
    })?;
    for p in &rule.required_programmes {
        if !programmes.contains(*p) {
            return Err(FieldError::new(
                field,
                "programs.required",
                format!(
                    "{segment} participation must include {} (minimum package {})",
                    p,
                    ProgrammeSet::of(&rule.required_programmes)
                ),
            ));
        }
    }
    for p in programmes.iter() {
        if !rule.required_programmes.contains(&p) && !rule.optional_programmes.contains(&p) {
            return Err(FieldError::new(
                field,
                "programs.not_allowed",
                format!(
                    "{p} is not available to {segment} participants (allowed: {})",
                    ProgrammeSet::of(
                        &[
                            rule.required_programmes.clone(),
                            rule.optional_programmes.clone()
                        ]
                        .concat()
                    )
                ),
            ));
        }
    }
    Ok(())
}

/// Checks the income base: a bracket base for BPU, a positive wage for PU.
pub fn check_income_base(
    rules: &RuleSet,
    segment: Segment,
    base: Rupiah,
    month: Month,
    field: &str,
) -> Result<(), FieldError> {
    match segment {
        Segment::Bpu => {
            let table = rules.bracket_table(month).ok_or_else(|| {
                FieldError::new(
                    field,
                    "income_base.no_table",
                    format!("no BPU bracket table is in force in {month}"),
                )
            })?;
            if table.bases.binary_search(&base.0).is_err() {
                let lo = table.bases.first().copied().unwrap_or_default();
                let hi = table.bases.last().copied().unwrap_or_default();
                return Err(FieldError::new(
                    field,
                    "income_base.bracket",
                    format!(
                        "{base} is not a base of the BPU bracket table in force in {month}: choose one of its {} bases from {} to {}{}",
                        table.bases.len(),
                        Rupiah(lo),
                        Rupiah(hi),
                        step_hint(&table.bases)
                    ),
                ));
            }
            Ok(())
        }
        Segment::Pu => {
            if base.0 <= 0 {
                return Err(FieldError::new(
                    field,
                    "income_base.positive",
                    "a PU wage must be a positive amount in rupiah",
                ));
            }
            Ok(())
        }
    }
}

fn step_hint(bases: &[i64]) -> String {
    let steps: Vec<i64> = bases.windows(2).map(|w| w[1] - w[0]).collect();
    match steps.first() {
        Some(s) if steps.iter().all(|x| x == s) => format!(" in steps of {}", Rupiah(*s)),
        _ => String::new(),
    }
}

/// Prices one month for one participant.
pub fn quote(rules: &RuleSet, req: &QuoteRequest) -> Result<Quote, FieldErrors> {
    let m = req.month;
    let mut errors = FieldErrors::default();
    if let Err(e) = check_programmes(rules, req.segment, req.programmes, m, "programs") {
        errors.push(e);
    }
    if let Err(e) = check_income_base(rules, req.segment, req.income_base, m, "income_base") {
        errors.push(e);
    }
    // The risk classes are those the rules price for PU JKK in this month (1–5 today).
    let needs_class = req.segment == Segment::Pu && req.programmes.contains(Programme::Jkk);
    let priced = |c: u8| {
        rules
            .rate(Segment::Pu, Programme::Jkk, Payer::Employer, Some(c), m)
            .is_some()
    };
    if needs_class && !req.risk_class.is_some_and(priced) {
        let classes: Vec<String> = (0..=u8::MAX)
            .filter(|c| priced(*c))
            .map(|c| c.to_string())
            .collect();
        errors.push(FieldError::new(
            "risk_class",
            "risk_class.range",
            format!(
                "PU JKK needs the employer's JKK risk class, one of {} in {m}",
                classes.join(", ")
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let rounding = rules.rounding(m);
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    let mut allocations = Vec::new();
    let payers: &[Payer] = match req.segment {
        Segment::Bpu => &[Payer::Worker],
        Segment::Pu => &[Payer::Employer, Payer::Worker],
    };
    if let Some(t) = rules.bracket_table(m)
        && req.segment == Segment::Bpu
        && t.provenance.status == "provisional"
    {
        notes.push(format!(
            "BPU bracket table is provisional: {}",
            t.provenance.source
        ));
    }
    for p in req.programmes.iter() {
        if p == Programme::Jkp {
            continue; // not billed; accounted for below
        }
        let mut basis = req.income_base;
        let mut sources = Vec::new();
        if p == Programme::Jp {
            let (ceiling, provisional) = rules.jp_ceiling_for(m).ok_or_else(|| {
                FieldErrors::from(FieldError::new(
                    "month",
                    "jp_ceiling.missing",
                    format!("no JP wage ceiling is in force in {m}"),
                ))
            })?;
            if basis.0 > ceiling.amount {
                basis = Rupiah(ceiling.amount);
            }
            if provisional {
                notes.push(format!(
                    "JP ceiling for {m} is not in the rules yet: billed provisionally at the ceiling from {}, {}",
                    ceiling.provenance.period.from,
                    Rupiah(ceiling.amount)
                ));
            }
            if ceiling.provenance.status == "unconfirmed" {
                notes.push(format!(
                    "JP ceiling is unconfirmed: {}",
                    ceiling.provenance.source
                ));
            }
            sources.push(format!(
                "JP ceiling {}: {}",
                Rupiah(ceiling.amount),
                ceiling.provenance.source
            ));
        }
        let class = if p == Programme::Jkk && req.segment == Segment::Pu {
            req.risk_class
        } else {
            None
        };
        let mut found = false;
        for &payer in payers {
            let Some(rate) = rules.rate(req.segment, p, payer, class, m) else {
                continue;
            };
            found = true;
            let nominal = match (rate.percent_ppm, rate.flat) {
                (Some(ppm), _) => basis.times_ppm(ppm, rounding),
                (None, Some(flat)) => Rupiah(flat),
                (None, None) => Rupiah::ZERO,
            };
            let mut line_sources = sources.clone();
            line_sources.push(rate.provenance.source.clone());
            let mut discount = Rupiah::ZERO;
            if let Some(d) = rules.discount(req.segment, p, req.sector, req.budget_funded, m) {
                let pay = nominal.times_ppm(d.pay_ppm, rounding);
                discount = Rupiah(nominal.0 - pay.0);
                line_sources.push(format!("{}: {}", d.id, d.provenance.source));
            }
            let mut deferred = Rupiah::ZERO;
            if let Some(d) = rules.deferral(req.segment, p, m) {
                deferred = Rupiah(nominal.0 - discount.0).times_ppm(d.deferred_ppm, rounding);
                line_sources.push(format!("{}: {}", d.id, d.provenance.source));
            }
            if rate.provenance.status == "unconfirmed" {
                notes.push(format!(
                    "{p} rate is unconfirmed: {}",
                    rate.provenance.source
                ));
            }
            lines.push(QuoteLine {
                programme: p,
                payer,
                basis,
                rate_ppm: rate.percent_ppm,
                nominal,
                discount,
                deferred,
                due: Rupiah(nominal.0 - discount.0 - deferred.0),
                sources: line_sources,
            });
        }
        if !found {
            return Err(FieldError::new(
                "programs",
                "rate.missing",
                format!("no {} rate for {p} is in force in {m}", req.segment),
            )
            .into());
        }
    }
    if req.segment == Segment::Pu
        && req.programmes.contains(Programme::Jkp)
        && let Some(f) = rules.jkp_funding(m)
    {
        jkp_allocations(req, f, rounding, &lines, &mut allocations);
    }
    let sum = |f: &dyn Fn(&QuoteLine) -> i64| Rupiah(lines.iter().map(f).sum());
    Ok(Quote {
        segment: req.segment,
        month: m,
        income_base: req.income_base,
        programmes: req.programmes,
        total_nominal: sum(&|l| l.nominal.0),
        total_discount: sum(&|l| l.discount.0),
        total_deferred: sum(&|l| l.deferred.0),
        total_due: sum(&|l| l.due.0),
        employer_due: sum(&|l| {
            if l.payer == Payer::Employer {
                l.due.0
            } else {
                0
            }
        }),
        worker_due: sum(&|l| if l.payer == Payer::Worker { l.due.0 } else { 0 }),
        lines,
        allocations,
        notes,
    })
}

fn jkp_allocations(
    req: &QuoteRequest,
    f: &crate::rules::JkpFunding,
    rounding: Rounding,
    lines: &[QuoteLine],
    out: &mut Vec<Allocation>,
) {
    let capped = Rupiah(req.income_base.0.min(f.wage_cap));
    let from_jkk = capped.times_ppm(f.from_jkk_ppm, rounding);
    let from_jkm = capped.times_ppm(f.from_jkm_ppm, rounding);
    let government = capped.times_ppm(f.government_ppm, rounding);
    let due_of = |p: Programme| {
        lines
            .iter()
            .filter(|l| l.programme == p && l.payer == Payer::Employer)
            .map(|l| l.due.0)
            .sum::<i64>()
    };
    let src = f.provenance.source.clone();
    out.push(Allocation {
        label: "JKK retained (JKK paid less the JKP share)",
        amount: Rupiah(due_of(Programme::Jkk) - from_jkk.0),
        source: src.clone(),
    });
    if f.from_jkm_ppm > 0 {
        out.push(Allocation {
            label: "JKM retained (JKM paid less the JKP share)",
            amount: Rupiah(due_of(Programme::Jkm) - from_jkm.0),
            source: src.clone(),
        });
    }
    out.push(Allocation {
        label: "JKP from the employer's JKK",
        amount: from_jkk,
        source: src.clone(),
    });
    if f.from_jkm_ppm > 0 {
        out.push(Allocation {
            label: "JKP from the employer's JKM",
            amount: from_jkm,
            source: src.clone(),
        });
    }
    out.push(Allocation {
        label: "JKP receivable from the central government",
        amount: government,
        source: src,
    });
}

/// The due date of contribution month `m` for `segment`, rolled past weekends and
/// configured holidays when the rule says so.
pub fn due_date(rules: &RuleSet, segment: Segment, m: Month) -> Option<Date> {
    let r = rules.due_rule(segment, m)?;
    let pay_month = m.plus(r.month_offset);
    let day = r.due_day.min(pay_month.last_day().day());
    let mut d = pay_month.day(day)?;
    if r.roll_forward {
        while matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) || rules.is_holiday(d) {
            d = d.checked_add(Duration::days(1))?;
        }
    }
    Some(d)
}

/// Months of delay, counted as started calendar months after the due date
/// (DOMAIN.md §3.3): one day late is one month; one month and one day late is two.
pub fn months_of_delay(due: Date, paid: Date) -> i64 {
    if paid <= due {
        return 0;
    }
    let whole = i64::from(Month::of(paid).since(Month::of(due)));
    whole + i64::from(paid.day() > due.day())
}

/// The late fee on `amount` due for `programme` in month `m`, paid on `paid`.
pub fn late_fee(
    rules: &RuleSet,
    segment: Segment,
    programme: Programme,
    m: Month,
    amount: Rupiah,
    paid: Date,
) -> Rupiah {
    let (Some(due), Some(fee)) = (
        due_date(rules, segment, m),
        rules.late_fee(segment, programme, m),
    ) else {
        return Rupiah::ZERO;
    };
    let months = months_of_delay(due, paid);
    amount.times_ppm(fee.ppm_per_month.saturating_mul(months), rules.rounding(m))
}
