//! The employer channel's operations: employers' standing and accounts, wage-report runs,
//! payments and their allocation, as the API, the pages and the CLI use them.

use crate::Context;
use crate::error::{AppError, FieldErrorBody};
use cakupan_domain::access::{Action, Principal, Resource, authorize};
use cakupan_domain::employers::{LineProblem, WageLineInput};
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::quote::Allocation;
use cakupan_domain::{FieldError, FieldErrors, Month, Rupiah};
use cakupan_store::Participant;
use cakupan_store::employers::{
    Account, DiffRow, Employer, EmployerInput, EmployerList, EmployerPayment, EmployerQuery,
    Invoice, InvoiceState, ReportOutcome, Standing, WageReport, parse_employer,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Largest wage report accepted: 50,000 lines of about 120 bytes.
pub const MAX_REPORT_BYTES: usize = 8 * 1024 * 1024;

pub fn invalid(field: &str, rule: &'static str, message: impl Into<String>) -> AppError {
    AppError::Invalid(FieldError::new(field, rule, message).into())
}

/// The access resource an employer is.
pub fn resource(e: &Employer) -> Resource {
    Resource::Employer {
        region: e.region,
        code: e.code.clone(),
    }
}

/// Registers an employer from its fields, the one path of the API, the pages and the CLI:
/// checked (`parse_employer`: every field's rule), allowed (managing employers in its
/// region), stored and audited (`employer.add`). `true` when it is new; the same employer
/// again is `false` (a retry), other details under its NIB are refused (`code.taken`).
pub async fn add_employer(
    st: &Context,
    who: &Principal,
    request_id: &str,
    input: &EmployerInput,
) -> Result<(Employer, bool), AppError> {
    let e = parse_employer(input, &st.regions, (st.today)())?;
    crate::auth::allow(who, Action::ManageEmployers, &resource(&e))?;
    let created = st.store.add_employer(&e).await?;
    crate::auth::audit(
        st,
        who,
        request_id,
        "employer.add",
        format!("employer:{}", e.code),
        "administration",
    )
    .await?;
    Ok((e, created))
}

/// An employer the caller may `action`: one they may not even read answers like one that does
/// not exist; one they may read but not act on is refused (403).
pub async fn employer_for(
    st: &Context,
    who: &Principal,
    code: &str,
    action: Action,
) -> Result<Employer, AppError> {
    let missing = || AppError::NotFound("no employer with this NIB is visible to you".into());
    let e = st.store.employer(code.trim()).await?.ok_or_else(missing)?;
    authorize(who, Action::ReadEmployer, &resource(&e)).map_err(|_| missing())?;
    crate::auth::allow(who, action, &resource(&e))?;
    Ok(e)
}

/// An employer as sent. `risk_class` may be a number or text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployerBody {
    /// The business registration number (NIB), 13 digits.
    #[schema(example = "9120001234567")]
    pub code: String,
    pub name: String,
    /// micro, small, medium or large (which programmes are mandatory).
    #[schema(example = "medium")]
    pub size: String,
    /// JKK risk class 1–5.
    #[schema(value_type = u8, example = 2)]
    pub risk_class: Value,
    /// The village of its address.
    #[schema(example = "32.73.01.1001")]
    pub region: String,
    #[serde(default)]
    pub registered_on: Option<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub contact_phone: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StandingBody {
    pub billed: i64,
    pub paid: i64,
    /// Paid and not yet needed by an invoice.
    pub credit: i64,
    pub outstanding: i64,
    /// Outstanding past its due date.
    pub overdue: i64,
    pub oldest_overdue: Option<String>,
    /// Late fees the next invoice bills.
    pub unbilled_fees: i64,
    /// Late fees running on overdue lines not yet paid, as if they were paid today (shown in
    /// the account and the arrears list; 0 in other lists).
    pub accruing_fees: i64,
    pub in_arrears: bool,
}

impl From<&Standing> for StandingBody {
    fn from(s: &Standing) -> Self {
        StandingBody {
            billed: s.billed.0,
            paid: s.paid.0,
            credit: s.credit.0,
            outstanding: s.outstanding.0,
            overdue: s.overdue.0,
            oldest_overdue: s.oldest_overdue.map(|m| m.to_string()),
            unbilled_fees: s.unbilled_fees.0,
            accruing_fees: s.accruing_fees.0,
            in_arrears: s.in_arrears(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactBody {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmployerView {
    pub code: String,
    pub name: String,
    pub size: String,
    pub risk_class: u8,
    pub region: String,
    pub registered_on: String,
    /// Shown on one employer's record, not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactBody>,
    /// Workers enrolled now.
    pub workers: u64,
    pub last_reported: Option<String>,
    pub standing: StandingBody,
}

pub fn view(
    e: &Employer,
    workers: u64,
    last: Option<Month>,
    s: &Standing,
    contact: bool,
) -> EmployerView {
    EmployerView {
        code: e.code.clone(),
        name: e.name.clone(),
        size: e.size.as_str().into(),
        risk_class: e.risk_class,
        region: e.region.to_string(),
        registered_on: format_date(e.registered_on),
        contact: contact.then(|| ContactBody {
            name: e.contact.name.clone(),
            phone: e.contact.phone.clone(),
            email: e.contact.email.clone(),
        }),
        workers,
        last_reported: last.map(|m| m.to_string()),
        standing: s.into(),
    }
}

/// The employers of an area with their standing today (in arrears only, if asked, with the
/// late fees running on each shown), the part of the list `q` asks for.
pub async fn summaries(st: &Context, q: &EmployerQuery) -> Result<EmployerList, AppError> {
    let today = (st.today)();
    let mut list = st.store.employer_summaries(q, today).await?;
    if q.arrears_only {
        // The unpaid lines of every overdue invoice shown, read at once.
        let ids: Vec<i64> = list
            .rows
            .iter()
            .flat_map(|s| s.overdue_invoices.iter().copied())
            .collect();
        let fees = running_fees(st, &ids, today).await?;
        for s in &mut list.rows {
            s.standing.accruing_fees = Rupiah(
                s.overdue_invoices
                    .iter()
                    .map(|i| fees.get(i).map_or(0, |f| f.0))
                    .sum(),
            );
        }
    }
    Ok(list)
}

/// The late fees running on an employer's overdue lines not yet paid, as if paid on `on`: what
/// the invoice after their payment would bill for them (per line and programme, as at payment).
pub async fn accruing_fees(
    st: &Context,
    invoices: &[cakupan_store::employers::InvoiceState],
    on: time::Date,
) -> Result<Rupiah, AppError> {
    let ids: Vec<i64> = invoices
        .iter()
        .filter(|i| i.overdue)
        .map(|i| i.head.id)
        .collect();
    Ok(Rupiah(
        running_fees(st, &ids, on)
            .await?
            .values()
            .map(|f| f.0)
            .sum(),
    ))
}

/// The late fees running on the unpaid lines of invoices `ids`, by invoice, as if paid on `on`.
async fn running_fees(
    st: &Context,
    ids: &[i64],
    on: time::Date,
) -> Result<std::collections::HashMap<i64, Rupiah>, AppError> {
    let mut out = std::collections::HashMap::new();
    for (inv, sectors) in st.store.unpaid_lines(ids).await? {
        let open: Vec<_> = inv
            .lines
            .iter()
            .zip(&sectors)
            .map(|(l, sector)| (&inv, l, *sector, on))
            .collect();
        let fees = cakupan_store::employers::late_fees(&st.rules, &open)?;
        out.insert(inv.id, Rupiah(fees.iter().map(|f| f.0).sum()));
    }
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceBody {
    pub id: i64,
    pub month: String,
    /// The 11-digit kode iuran to pay against.
    pub payment_code: String,
    pub due_on: String,
    pub total: i64,
    /// Late fees of earlier months billed with this one.
    pub fees_carried: i64,
    pub workers: u32,
    pub paid: i64,
    pub outstanding: i64,
    pub overdue: bool,
    pub settled_on: Option<String>,
}

impl From<&InvoiceState> for InvoiceBody {
    fn from(i: &InvoiceState) -> Self {
        InvoiceBody {
            id: i.head.id,
            month: i.head.month.to_string(),
            payment_code: i.payment_code.clone(),
            due_on: format_date(i.head.due_on),
            total: i.head.total.0,
            fees_carried: i.head.fees_carried.0,
            workers: i.head.workers,
            paid: i.paid.0,
            outstanding: i.outstanding.0,
            overdue: i.overdue,
            settled_on: i.head.settled_on.map(format_date),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentBody {
    pub reference: String,
    pub amount: i64,
    pub paid_on: String,
    pub payment_code: Option<String>,
    pub recorded_by: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    pub employer: EmployerView,
    /// Newest first.
    pub invoices: Vec<InvoiceBody>,
    pub payments: Vec<PaymentBody>,
}

pub fn account_body(a: &Account) -> AccountBody {
    AccountBody {
        employer: view(
            &a.employer,
            a.workers,
            a.invoices.first().map(|i| i.head.month),
            &a.standing,
            true,
        ),
        invoices: a.invoices.iter().map(InvoiceBody::from).collect(),
        payments: a
            .payments
            .iter()
            .map(|p| PaymentBody {
                reference: p.reference.clone(),
                amount: p.amount.0,
                paid_on: format_date(p.paid_on),
                payment_code: p.payment_code.clone(),
                recorded_by: p.recorded_by.clone(),
            })
            .collect(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerBody {
    pub participant_id: i64,
    pub kpj: String,
    /// Masked.
    pub nik: String,
    pub name: String,
    pub since: String,
}

/// One line of a wage report sent as JSON (the CSV columns by name).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WageLineBody {
    pub nik: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub sex: String,
    #[serde(default)]
    pub village_code: String,
    #[serde(default)]
    pub occupation_code: String,
    /// Whole rupiah (number or text).
    #[serde(default)]
    #[schema(value_type = i64)]
    pub basic_wage: Value,
    #[serde(default)]
    #[schema(value_type = i64)]
    pub fixed_allowances: Value,
    /// e.g. JKK+JKM+JHT+JP.
    #[serde(default)]
    pub programs: String,
    /// enrol, continue or stop.
    pub action: String,
}

/// A wage report sent as JSON. As CSV (`Content-Type: text/csv`) the same fields are query
/// parameters and the body is the file, with the header line
/// `nik,name,birth_date,sex,village_code,occupation_code,basic_wage,fixed_allowances,programs,action`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WageReportBody {
    #[schema(example = "2026-10")]
    pub month: String,
    /// Check only: nothing is written.
    #[serde(default)]
    pub preview: bool,
    /// Bill the valid lines and leave the others out.
    #[serde(default)]
    pub confirm_valid_part: bool,
    pub lines: Vec<WageLineBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// The line of the file (the header is line 1) or the item of `lines` (from 1); 0 for
    /// the report as a whole or a worker missing from it.
    pub line: u64,
    pub field: String,
    pub rule: String,
    pub message: String,
}

impl From<&LineProblem> for ProblemBody {
    fn from(p: &LineProblem) -> Self {
        ProblemBody {
            line: p.line,
            field: p.field.clone(),
            rule: p.rule.into(),
            message: p.message.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeBody {
    pub line: u64,
    /// new, rejoined, changed, unchanged, stopped or missing.
    pub change: String,
    pub nik: String,
    pub name: String,
    pub kpj: Option<String>,
    pub wage_before: Option<i64>,
    pub wage_after: Option<i64>,
    pub programs_before: Option<String>,
    pub programs_after: Option<String>,
    pub amount: Option<i64>,
}

pub fn change_body(d: &DiffRow) -> ChangeBody {
    ChangeBody {
        line: d.line,
        change: serde_json::to_value(d.change)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        nik: d.nik.clone(),
        name: d.name.clone(),
        kpj: d.kpj.clone(),
        wage_before: d.wage_before,
        wage_after: d.wage_after,
        programs_before: d.programs_before.clone(),
        programs_after: d.programs_after.clone(),
        amount: d.amount,
    }
}

/// What a wage report did, or would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportBody {
    /// previewed, billed, repeat or blocked.
    pub outcome: String,
    /// `invalid` when blocked (the error envelope's fields, with each problem as
    /// `lines[N].field`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldErrorBody>,
    pub month: String,
    pub problems: Vec<ProblemBody>,
    /// Billed lines worth a second look (a wage below the province's minimum wage); they
    /// never block the report.
    pub warnings: Vec<ProblemBody>,
    /// The difference from last month, worker by worker.
    pub changes: Vec<ChangeBody>,
    pub workers_billed: usize,
    pub workers_stopped: usize,
    pub lines_left_out: u32,
    pub contributions: i64,
    pub employer_share: i64,
    pub worker_share: i64,
    pub fees_carried: i64,
    pub total: i64,
    pub due_on: Option<String>,
    pub invoice: Option<InvoiceBody>,
    /// Worker-months paid at once from money already received.
    pub lines_paid: usize,
}

pub fn text_of(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// Checks and submits (or previews) a report for `e`, as `who`.
pub async fn run_report(
    st: &Context,
    e: &Employer,
    by: &str,
    month: &str,
    lines: &[WageLineInput],
    preview: bool,
    confirm: bool,
) -> Result<ReportOutcome, AppError> {
    let month = Month::parse(month.trim())
        .map_err(|err| invalid("month", "month.format", format!("month {err}")))?;
    let report = WageReport::prepare(
        &st.rules,
        &st.regions,
        e,
        month,
        lines,
        (st.today)(),
        confirm,
        by,
    );
    Ok(st.store.wage_report(&st.rules, &report, !preview).await?)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineBody {
    pub position: u32,
    pub participant_id: i64,
    pub kpj: String,
    pub nik: String,
    pub name: String,
    pub wage: i64,
    pub programs: String,
    pub amount: i64,
    pub employer_share: i64,
    pub worker_share: i64,
    pub paid_on: Option<String>,
    pub late_fee: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllocationBody {
    pub label: String,
    pub amount: i64,
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceDetail {
    pub invoice: InvoiceBody,
    pub risk_class: u8,
    pub size: String,
    pub lines: Vec<LineBody>,
    /// Internal accounting of the invoice, not billed: JKP funded from JKK and by the
    /// government (PP 6/2025), summed over its lines.
    pub jkp_accounting: Vec<AllocationBody>,
    /// Set when the month's JP ceiling is not in the rules yet and a line has JP: the ceiling
    /// its JP was billed at, provisionally (the latest known).
    pub provisional_jp_ceiling: Option<i64>,
}

/// The ceiling an invoice's JP was billed at provisionally, if the month has none in the rules
/// and a line has JP.
pub fn provisional_jp(st: &Context, inv: &Invoice) -> Option<Rupiah> {
    inv.lines
        .iter()
        .any(|l| l.programmes.contains(cakupan_domain::Programme::Jp))
        .then(|| cakupan_domain::employers::provisional_jp_ceiling(&st.rules, inv.month))
        .flatten()
}

/// The JKP accounting of an invoice: each internal allocation of its lines' quotes, summed.
pub fn jkp_accounting(
    st: &Context,
    inv: &Invoice,
    people: &[Participant],
) -> Vec<(String, Rupiah, String)> {
    let sector = |pid: i64| {
        people
            .iter()
            .find(|p| p.id == pid)
            .map(|p| p.registration.sector)
            .unwrap_or(cakupan_domain::Sector::NonTransport)
    };
    let mut sums: BTreeMap<&'static str, (Rupiah, String)> = BTreeMap::new();
    for l in &inv.lines {
        if let Ok(q) = cakupan_domain::employers::dues(
            &st.rules,
            inv.month,
            inv.risk_class,
            sector(l.participant_id),
            l.wage,
            l.programmes,
        ) {
            for Allocation {
                label,
                amount,
                source,
            } in q.allocations
            {
                let e = sums.entry(label).or_insert((Rupiah::ZERO, source));
                e.0 = Rupiah(e.0.0 + amount.0);
            }
        }
    }
    sums.into_iter()
        .map(|(l, (a, s))| (l.to_string(), a, s))
        .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// The bank's reference: sending it again is a safe retry.
    pub reference: String,
    pub amount: i64,
    #[schema(example = "2026-11-10")]
    pub paid_on: String,
    /// The invoice's payment code, when the bank reports one.
    #[serde(default)]
    pub payment_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentResultBody {
    /// recorded or repeat.
    pub outcome: String,
    pub lines_paid: usize,
    pub late_fees: i64,
    pub invoices_settled: usize,
    pub standing: StandingBody,
}

/// Checks and records a payment for `e`; the employer's standing after it.
pub async fn record_payment(
    st: &Context,
    e: &Employer,
    by: &str,
    reference: &str,
    amount: i64,
    paid_on: &str,
    payment_code: Option<&str>,
) -> Result<(cakupan_store::employers::PaymentOutcome, Standing), AppError> {
    let on = parse_date(paid_on.trim()).ok_or_else(|| {
        invalid(
            "paid_on",
            "date.format",
            "paid_on must be a real date written YYYY-MM-DD",
        )
    })?;
    let p = EmployerPayment {
        reference: reference.trim().to_string(),
        employer_code: e.code.clone(),
        amount: Rupiah(amount),
        paid_on: on,
        payment_code: payment_code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from),
        recorded_by: by.to_string(),
    };
    cakupan_store::employers::check_payment(&p, (st.today)()).map_err(AppError::Invalid)?;
    let out = st.store.employer_payment(&st.rules, &p).await?;
    let standing = st
        .store
        .employer_account(&e.code, (st.today)())
        .await?
        .map(|a| a.standing)
        .unwrap_or_default();
    Ok((out, standing))
}

/// The arrears of a participation's current employer, if it has one and it is in arrears:
/// (employer name, overdue, oldest overdue month).
pub async fn employer_arrears_of(
    st: &Context,
    participant_id: i64,
) -> Result<Option<(Employer, Standing)>, AppError> {
    let Some(open) = st
        .store
        .employments_of(participant_id)
        .await?
        .into_iter()
        .find(|e| e.until.is_none())
    else {
        return Ok(None);
    };
    let Some(a) = st
        .store
        .employer_account(&open.employer_code, (st.today)())
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((a.employer, a.standing)))
}

/// Checks a field set for [`FieldErrors`] naming; used by the CLI too.
pub fn errors_of(p: &[LineProblem]) -> FieldErrors {
    FieldErrors(
        p.iter()
            .map(|x| {
                FieldError::new(
                    if x.line == 0 {
                        x.field.clone()
                    } else {
                        format!("lines[{}].{}", x.line, x.field)
                    },
                    x.rule,
                    x.message.clone(),
                )
            })
            .collect(),
    )
}
