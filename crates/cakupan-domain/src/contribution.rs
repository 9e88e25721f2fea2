//! Contribution payments as they arrive (DESIGN.md §5 `contributions.csv`), checked before they
//! reach the ledger: the amount must equal the dues the rules give for the months it covers.

use crate::error::{FieldError, FieldErrors};
use crate::money::Rupiah;
use crate::month::{Month, parse_date};
use crate::nik::Nik;
use crate::occupation::Sector;
use crate::quote::{QuoteRequest, quote};
use crate::rules::RuleSet;
use crate::segment::{ProgrammeSet, Segment};
use serde::{Deserialize, Serialize};
use time::Date;

/// The columns of `contributions.csv`, in order.
pub const FIELDS: [&str; 8] = [
    "reference",
    "nik",
    "segment",
    "first_month",
    "months",
    "amount",
    "channel",
    "paid_on",
];

/// The longest accepted external reference.
const REFERENCE_MAX: usize = 64;

/// How money reached the agency (DOMAIN.md §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentChannel {
    Bank,
    Aggregator,
    Autodebit,
    Perisai,
    Employer,
    Branch,
}

impl PaymentChannel {
    pub const ALL: [PaymentChannel; 6] = [
        PaymentChannel::Bank,
        PaymentChannel::Aggregator,
        PaymentChannel::Autodebit,
        PaymentChannel::Perisai,
        PaymentChannel::Employer,
        PaymentChannel::Branch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentChannel::Bank => "bank",
            PaymentChannel::Aggregator => "aggregator",
            PaymentChannel::Autodebit => "autodebit",
            PaymentChannel::Perisai => "perisai",
            PaymentChannel::Employer => "employer",
            PaymentChannel::Branch => "branch",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentChannel> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// A payment as uploaded or sent: text, not yet trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionInput {
    pub reference: String,
    pub nik: String,
    pub segment: String,
    pub first_month: String,
    pub months: String,
    pub amount: String,
    pub channel: String,
    pub paid_on: String,
}

/// A payment whose fields are well formed (the amount is checked against the participant's
/// dues by [`check_amount`] once the participant is known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub reference: String,
    pub nik: Nik,
    pub segment: Segment,
    pub first_month: Month,
    pub months: u32,
    pub amount: Rupiah,
    pub channel: PaymentChannel,
    pub paid_on: Date,
    /// The Perisai agent who took the payment in cash (and holds it until deposited).
    pub collected_by: Option<String>,
    /// PU: what the employer's invoice billed (the month's wage, the employer's risk class, the
    /// programmes): the dues are checked against it.
    pub pu_basis: Option<PuBasis>,
}

/// The basis of a PU contribution as billed to the employer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PuBasis {
    pub wage: Rupiah,
    pub risk_class: u8,
    pub programmes: ProgrammeSet,
}

/// What the dues of a participation depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub segment: Segment,
    pub income_base: Rupiah,
    pub programmes: ProgrammeSet,
    pub sector: Sector,
    pub budget_funded: bool,
    pub risk_class: Option<u8>,
}

/// Refuses free text that holds a NIK-like number (issue #17, item 5). References, bank
/// references and such identifiers are stored in clear and shown to whoever handles the
/// payment: a NIK inside one would sit unencrypted in the database. Sixteen digits in a row
/// are refused, whatever they are (`reference.nik_like`, on `field`).
pub fn nik_like(field: &str, text: &str) -> Option<FieldError> {
    let digits_in_a_row = text
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    (digits_in_a_row >= 16).then(|| {
        FieldError::new(
            field,
            "reference.nik_like",
            format!("{field} must not hold a NIK-like number of 16 digits or more: it is stored unencrypted"),
        )
    })
}

/// Checks the form of every field; reports every problem.
pub fn parse_payment(
    rules: &RuleSet,
    input: &ContributionInput,
    today: Date,
) -> Result<Payment, FieldErrors> {
    let mut errors = FieldErrors::default();
    let reference = input.reference.trim();
    if reference.is_empty() {
        errors.push(FieldError::new(
            "reference",
            "required",
            "reference is required",
        ));
    } else if reference.len() > REFERENCE_MAX
        || !reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b))
    {
        errors.push(FieldError::new(
            "reference",
            "reference.format",
            format!("reference must be at most {REFERENCE_MAX} letters, digits or - _ . / :"),
        ));
    }
    if let Some(e) = nik_like("reference", reference) {
        errors.push(e);
    }
    let nik = Nik::parse(&input.nik)
        .map_err(|e| errors.push(FieldError::new("nik", e.rule(), e.to_string())))
        .ok();
    let segment = Segment::parse(&input.segment).or_else(|| {
        errors.push(FieldError::new(
            "segment",
            "segment.value",
            format!("segment must be one of {}", Segment::expected()),
        ));
        None
    });
    let first_month = Month::parse(input.first_month.trim())
        .map_err(|e| {
            errors.push(FieldError::new(
                "first_month",
                "month.format",
                format!("first_month {e}"),
            ))
        })
        .ok();
    let months = match input.months.trim().parse::<u32>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            errors.push(FieldError::new(
                "months",
                "months.positive",
                "months must be a whole number of months, at least 1",
            ));
            None
        }
    };
    if let (Some(seg), Some(first), Some(n)) = (segment, first_month, months)
        && let Some(periods) = rules.payment_periods(seg, first)
        && !periods.months.contains(&n)
    {
        let allowed: Vec<String> = periods.months.iter().map(u32::to_string).collect();
        errors.push(FieldError::new(
            "months",
            "months.period",
            format!(
                "{seg} contributions are paid for {} months at a time, not {n} ({})",
                allowed.join(", "),
                periods.provenance.source
            ),
        ));
    }
    let amount = match input.amount.trim().parse::<i64>() {
        Ok(a) if a > 0 => Some(Rupiah(a)),
        _ => {
            errors.push(FieldError::new(
                "amount",
                "amount.positive",
                "amount must be a positive whole number of rupiah",
            ));
            None
        }
    };
    let channel = PaymentChannel::parse(&input.channel).or_else(|| {
        let all: Vec<&str> = PaymentChannel::ALL.iter().map(|c| c.as_str()).collect();
        errors.push(FieldError::new(
            "channel",
            "channel.value",
            format!("channel must be one of {}", all.join(", ")),
        ));
        None
    });
    let paid_on = match parse_date(input.paid_on.trim()) {
        Some(d) if d > today => {
            errors.push(FieldError::new(
                "paid_on",
                "paid_on.future",
                "paid_on is after today",
            ));
            None
        }
        Some(d) => Some(d),
        None => {
            errors.push(FieldError::new(
                "paid_on",
                "date.format",
                "paid_on must be a real date written YYYY-MM-DD",
            ));
            None
        }
    };
    if let (Some(first), Some(n), Some(paid)) = (first_month, months, paid_on)
        && let Some(h) = rules.posting_horizon(Month::of(paid))
    {
        let last = first.plus(i32::try_from(n).unwrap_or(i32::MAX).saturating_sub(1));
        let limit = Month::of(paid).plus(i32::try_from(h.max_months_ahead).unwrap_or(i32::MAX));
        if last > limit {
            errors.push(FieldError::new(
                "first_month",
                "month.horizon",
                format!(
                    "the payment covers up to {last}, more than {} months after it was paid ({}): the last month it may cover is {limit}",
                    h.max_months_ahead,
                    Month::of(paid)
                ),
            ));
        }
    }
    match (nik, segment, first_month, months, amount, channel, paid_on) {
        (
            Some(nik),
            Some(segment),
            Some(first_month),
            Some(months),
            Some(amount),
            Some(channel),
            Some(paid_on),
        ) if errors.is_empty() => Ok(Payment {
            reference: reference.to_string(),
            nik,
            segment,
            first_month,
            months,
            amount,
            channel,
            paid_on,
            collected_by: None,
            pu_basis: None,
        }),
        _ => Err(errors),
    }
}

/// The dues of each month from `first` for `months` months, under the rules in force in each.
pub fn dues(
    rules: &RuleSet,
    profile: &Profile,
    first: Month,
    months: u32,
) -> Result<Vec<(Month, Rupiah)>, FieldErrors> {
    (0..months)
        .map(|i| {
            let m = first.plus(i32::try_from(i).unwrap_or(i32::MAX));
            let q = quote(
                rules,
                &QuoteRequest {
                    segment: profile.segment,
                    income_base: profile.income_base,
                    programmes: profile.programmes,
                    month: m,
                    sector: profile.sector,
                    budget_funded: profile.budget_funded,
                    risk_class: profile.risk_class,
                },
            )?;
            Ok((m, q.total_due))
        })
        .collect()
}

/// Checks that a payment's amount equals the dues of the months it covers; the error gives
/// the expected amount and its breakdown.
pub fn check_amount(
    rules: &RuleSet,
    profile: &Profile,
    payment: &Payment,
) -> Result<Vec<(Month, Rupiah)>, FieldErrors> {
    let per_month = dues(rules, profile, payment.first_month, payment.months)?;
    let expected = Rupiah(per_month.iter().map(|(_, r)| r.0).sum());
    if expected != payment.amount {
        let detail: Vec<String> = per_month.iter().map(|(m, r)| format!("{m} {r}")).collect();
        return Err(FieldError::new(
            "amount",
            "amount.dues",
            format!(
                "amount {} does not equal the dues for these months: expected {expected} ({})",
                payment.amount,
                detail.join(", ")
            ),
        )
        .with_args([payment.amount.0, expected.0])
        .into());
    }
    Ok(per_month)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    fn rules() -> RuleSet {
        RuleSet::builtin().unwrap()
    }

    fn input(first: &str, months: &str, amount: &str) -> ContributionInput {
        ContributionInput {
            reference: "BNI-2026-000123".into(),
            nik: "3273015203900003".into(),
            segment: "BPU".into(),
            first_month: first.into(),
            months: months.into(),
            amount: amount.into(),
            channel: "bank".into(),
            paid_on: "2026-03-10".into(),
        }
    }

    fn trader() -> Profile {
        Profile {
            segment: Segment::Bpu,
            income_base: Rupiah(1_000_000),
            programmes: ProgrammeSet::parse("JKK+JKM").unwrap(),
            sector: Sector::NonTransport,
            budget_funded: false,
            risk_class: None,
        }
    }

    #[test]
    fn amount_must_equal_the_dues_across_a_discount_change() {
        let r = rules();
        // Jan–Jun 2026 for a non-transport worker: 3 × 16,800 + 3 × 8,400 (PP 50/2025 from April).
        let p = parse_payment(&r, &input("2026-01", "6", "75600"), date!(2026 - 11 - 23)).unwrap();
        let per_month = check_amount(&r, &trader(), &p).unwrap();
        assert_eq!(per_month.len(), 6);
        let wrong =
            parse_payment(&r, &input("2026-01", "6", "100800"), date!(2026 - 11 - 23)).unwrap();
        let e = check_amount(&r, &trader(), &wrong).unwrap_err();
        assert_eq!(e.0[0].field, "amount");
        assert!(
            e.0[0].message.contains("expected Rp75,600"),
            "{}",
            e.0[0].message
        );
    }

    #[test]
    fn a_reference_holding_a_nik_is_refused() {
        let r = rules();
        for reference in ["3175054812761300", "KKBC-3204-3273015203900003-2026-05"] {
            let mut i = input("2026-03", "1", "8400");
            i.reference = reference.into();
            let e = parse_payment(&r, &i, date!(2026 - 11 - 23)).unwrap_err();
            assert_eq!(e.0[0].rule, "reference.nik_like", "{reference}");
        }
        // A bank's own reference with shorter numbers stays fine.
        let mut i = input("2026-03", "1", "8400");
        i.reference = "BNI-2026-11-20-000012345678901".into();
        assert!(parse_payment(&r, &i, date!(2026 - 11 - 23)).is_ok());
    }

    #[test]
    fn months_beyond_the_horizon_are_refused() {
        let r = rules();
        // Paid in March 2026: twelve months ahead (to March 2027) is an advance payment…
        assert!(parse_payment(&r, &input("2026-04", "12", "1"), date!(2026 - 11 - 23)).is_ok());
        // …one more month, or 9999-12, is a typing error.
        for (first, n) in [("2026-05", "12"), ("9999-12", "1")] {
            let e = parse_payment(&r, &input(first, n, "1"), date!(2026 - 11 - 23)).unwrap_err();
            assert_eq!(e.0[0].field, "first_month");
            assert_eq!(e.0[0].rule, "month.horizon", "{}", e.0[0].message);
            assert!(e.0[0].message.contains("2027-03"), "{}", e.0[0].message);
        }
    }

    #[test]
    fn bad_fields_are_all_named() {
        let r = rules();
        let mut i = input("2026-13", "5", "-1");
        i.reference = "has space".into();
        i.channel = "cash".into();
        i.paid_on = "2030-01-01".into();
        let e = parse_payment(&r, &i, date!(2026 - 11 - 23)).unwrap_err();
        let rules_hit: Vec<&str> = e.0.iter().map(|x| x.rule).collect();
        for want in [
            "reference.format",
            "month.format",
            "amount.positive",
            "channel.value",
            "paid_on.future",
        ] {
            assert!(rules_hit.contains(&want), "{want} missing in {rules_hit:?}");
        }
        // 5 months is not an allowed BPU advance period (1, 3, 6, 12).
        let e =
            parse_payment(&r, &input("2026-01", "5", "84000"), date!(2026 - 11 - 23)).unwrap_err();
        assert_eq!(e.0[0].rule, "months.period");
    }

    proptest! {
        #[test]
        fn parse_never_panics(a in ".*", b in ".*", c in ".*") {
            let i = ContributionInput { reference: a.clone(), nik: b.clone(), segment: c.clone(), first_month: a,
                months: b, amount: c, channel: String::new(), paid_on: String::new() };
            let _ = parse_payment(&rules(), &i, date!(2026 - 11 - 23));
        }
    }
}
