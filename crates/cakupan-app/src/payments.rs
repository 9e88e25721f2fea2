//! Payments through the channels Indonesians use (issue #19): the payment code of a
//! participation, from the biller rule in force today.

use crate::Context;
use cakupan_domain::Month;
use cakupan_domain::kpj::Kpj;
use cakupan_domain::payments::{Payee, VirtualAccount};
use cakupan_store::Participant;

/// The payment code (virtual account) of participation `p`, under the biller rule in force
/// today; none when no rule is in force or the KPJ does not parse (neither happens with the
/// built-in rules and stored participations).
pub fn code_of(st: &Context, p: &Participant) -> Option<VirtualAccount> {
    let biller = st.rules.biller(Month::of((st.today)()))?;
    let kpj = Kpj::parse(&p.kpj).ok()?;
    Some(VirtualAccount::of(biller, Payee::Participation(kpj)))
}

/// What a payer is asked for a number of months: the first unpaid month, each month's dues
/// under the rules in force for it (discounts included), and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub first_month: Month,
    pub per_month: Vec<(Month, cakupan_domain::Rupiah)>,
    pub total: cakupan_domain::Rupiah,
}

/// The contribution profile of a participation (what its dues depend on).
pub fn profile_of(p: &Participant) -> cakupan_domain::contribution::Profile {
    let r = &p.registration;
    cakupan_domain::contribution::Profile {
        segment: r.segment,
        income_base: r.income_base,
        programmes: r.programmes,
        sector: r.sector,
        budget_funded: r.budget_funded,
        risk_class: None,
    }
}

/// The month a new payment starts from: right after the last paid month while the
/// participation is still active or in arrears, else the current month (no back-payment of
/// lapsed months, DOMAIN.md §2.2).
pub fn next_month(
    st: &Context,
    p: &Participant,
    ledger: &[cakupan_store::ledger::LedgerRow],
) -> Month {
    use cakupan_domain::coverage::{Status, series};
    let now = Month::of((st.today)());
    let r = &p.registration;
    let facts = cakupan_store::ledger::facts(r.segment, Month::of(r.registered_on), ledger);
    let months =
        series(&st.rules, &facts, Month::of(r.registered_on), now.plus(24)).unwrap_or_default();
    let last_paid = months
        .iter()
        .filter(|m| m.status == Status::Active)
        .map(|m| m.month)
        .max();
    // Still protected or in arrears this month (the coverage rule's own judgement): go on
    // from the last paid month.
    let standing = months.iter().find(|m| m.month == now).map(|m| m.status);
    match (last_paid, standing) {
        (Some(l), Some(Status::Active | Status::InArrears)) => l.plus(1),
        _ => now.max(Month::of(r.registered_on)),
    }
}

/// The numbers of months participation `p` may pay for at once (`payment_periods` in force
/// today for its segment; one month where no row says otherwise).
pub fn periods(st: &Context, p: &Participant) -> Vec<u32> {
    st.rules
        .payment_periods(p.registration.segment, Month::of((st.today)()))
        .map(|r| r.months.clone())
        .unwrap_or_else(|| vec![1])
}

/// What participation `p` owes for its next `months` unpaid months: `months` must be one of
/// the payment periods in force for its segment (`rules/bpu.toml`, `payment_periods`), so a
/// payment code can only be asked an amount the rules allow.
pub async fn next_due(st: &Context, p: &Participant, months: u32) -> Result<Due, crate::AppError> {
    use cakupan_domain::FieldError;
    let periods = periods(st, p);
    if !periods.contains(&months) {
        let list: Vec<String> = periods.iter().map(u32::to_string).collect();
        return Err(crate::AppError::Invalid(
            FieldError::new(
                "months",
                "months.period",
                format!("months must be one of {}", list.join(", ")),
            )
            .into(),
        ));
    }
    let ledger = st.store.ledger(p.id).await?;
    let first_month = next_month(st, p, &ledger);
    let per_month =
        cakupan_domain::contribution::dues(&st.rules, &profile_of(p), first_month, months)
            .map_err(crate::AppError::Invalid)?;
    let total = cakupan_domain::Rupiah(per_month.iter().map(|(_, r)| r.0).sum());
    Ok(Due {
        first_month,
        per_month,
        total,
    })
}
