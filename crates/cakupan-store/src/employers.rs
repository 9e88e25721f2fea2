//! The employer channel as stored (issue #7, DOMAIN.md §3): employers, who works for whom,
//! monthly wage reports turned into invoices, payments applied to the oldest dues first, and
//! late fees carried to the next invoice.
//!
//! Everything here is pure: backends load the rows named below inside one transaction, call
//! [`plan`] or [`settle`], and write what they return (registrations, employments, stops,
//! invoice lines, ledger postings) in the same transaction.

use crate::ledger::NewPosting;
use crate::{Participant, Result, StoreError};
use cakupan_domain::contribution::{Payment, PaymentChannel, PuBasis};
use cakupan_domain::employers::{
    self, LineProblem, SizeClass, WageAction, WageEntry, WageLineInput,
};
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::participants::{self, Registration, RegistrationInput};
use cakupan_domain::quote::due_date;
use cakupan_domain::{
    FieldError, FieldErrors, Level, Month, Nik, ProgrammeSet, RegionCode, RegionTree, RuleSet,
    Rupiah, Sector, Segment,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use time::Date;

/// The longest employer name accepted.
const NAME_MAX: usize = 120;
/// The longest contact name or e-mail address accepted.
const CONTACT_MAX: usize = 120;

/// The person to contact at an employer (personal data: sealed when stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl Contact {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.email.is_none()
    }

    /// One text for sealing: the three fields separated by U+001F.
    fn to_text(&self) -> String {
        [&self.name, &self.phone, &self.email]
            .map(|f| f.clone().unwrap_or_default())
            .join("\u{1f}")
    }

    fn from_text(s: &str) -> Contact {
        let mut parts = s.split('\u{1f}').map(|p| {
            let p = p.trim();
            (!p.is_empty()).then(|| p.to_string())
        });
        Contact {
            name: parts.next().flatten(),
            phone: parts.next().flatten(),
            email: parts.next().flatten(),
        }
    }
}

/// An employer (pemberi kerja), known by its business registration number (NIB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Employer {
    pub code: String,
    pub name: String,
    pub size: SizeClass,
    /// JKK risk class 1–5 (PP 44/2015; by business type, PP 82/2019 Lampiran I).
    pub risk_class: u8,
    /// The village of its address: where its branch finds it.
    pub region: RegionCode,
    pub registered_on: Date,
    pub contact: Contact,
}

/// An employer as sent (API, CLI): text, not yet trusted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EmployerInput {
    pub code: String,
    pub name: String,
    pub size: String,
    pub risk_class: String,
    pub region: String,
    #[serde(default)]
    pub registered_on: String,
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub contact_phone: String,
    #[serde(default)]
    pub contact_email: String,
}

/// Whether `code` is a NIB: 13 digits.
pub fn valid_nib(code: &str) -> bool {
    code.len() == 13 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Checks an employer: every problem, each naming its field and rule.
pub fn parse_employer(
    input: &EmployerInput,
    regions: &RegionTree,
    today: Date,
) -> Result<Employer, FieldErrors> {
    let mut errors = FieldErrors::default();
    let code = input.code.trim().to_string();
    if !valid_nib(&code) {
        errors.push(FieldError::new(
            "code",
            "nib.format",
            "code must be the employer's business registration number (NIB): 13 digits",
        ));
    }
    let name = match participants::check_free_text("name", &input.name, NAME_MAX) {
        Ok(Some(n)) => Some(n),
        Ok(None) => {
            errors.push(FieldError::new("name", "required", "name is required"));
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let size = SizeClass::parse(&input.size);
    if size.is_none() {
        errors.push(FieldError::new(
            "size",
            "size.value",
            "size must be micro, small, medium or large",
        ));
    }
    let risk_class = input
        .risk_class
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|c| (1..=5).contains(c));
    if risk_class.is_none() {
        errors.push(FieldError::new(
            "risk_class",
            "risk_class.value",
            "risk_class must be the JKK risk class, 1 (very low) to 5 (very high)",
        ));
    }
    let region = match RegionCode::parse(input.region.trim()) {
        Ok(r) if r.level() == Level::Village && regions.contains_code(r) => Some(r),
        Ok(r) if regions.contains_code(r) => {
            errors.push(FieldError::new(
                "region",
                "region.level",
                "region must be the village of the employer's address",
            ));
            None
        }
        _ => {
            errors.push(FieldError::new(
                "region",
                "region.unknown",
                "region must be a village code from the Kemendagri list (e.g. 32.73.01.1001)",
            ));
            None
        }
    };
    let registered_on = if input.registered_on.trim().is_empty() {
        Some(today)
    } else {
        match parse_date(input.registered_on.trim()) {
            Some(d) if d > today => {
                errors.push(FieldError::new(
                    "registered_on",
                    "registered_on.future",
                    format!("registered_on is after today ({})", format_date(today)),
                ));
                None
            }
            Some(d) => Some(d),
            None => {
                errors.push(FieldError::new(
                    "registered_on",
                    "date.format",
                    "registered_on must be a real date written YYYY-MM-DD",
                ));
                None
            }
        }
    };
    let mut contact = Contact::default();
    match participants::check_free_text("contact_name", &input.contact_name, CONTACT_MAX) {
        Ok(n) => contact.name = n,
        Err(e) => errors.push(e),
    }
    if !input.contact_phone.trim().is_empty() {
        match cakupan_domain::phone::normalise_phone(&input.contact_phone) {
            Ok(p) => contact.phone = Some(p),
            Err(m) => errors.push(FieldError::new(
                "contact_phone",
                "phone.format",
                m.replacen("phone", "contact_phone", 1),
            )),
        }
    }
    let email = input.contact_email.trim();
    if !email.is_empty() {
        let ok = email.len() <= CONTACT_MAX
            && email.matches('@').count() == 1
            && email
                .split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.ends_with('.'))
            && email
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@._-+".contains(&b));
        if ok {
            contact.email = Some(email.to_ascii_lowercase());
        } else {
            errors.push(FieldError::new(
                "contact_email",
                "email.format",
                "contact_email must be an e-mail address such as hrd@contoh.co.id",
            ));
        }
    }
    match (name, size, risk_class, region, registered_on) {
        (Some(name), Some(size), Some(risk_class), Some(region), Some(registered_on))
            if errors.is_empty() =>
        {
            Ok(Employer {
                code,
                name,
                size,
                risk_class,
                region,
                registered_on,
                contact,
            })
        }
        _ => Err(errors),
    }
}

/// The row id an employer's sealed fields are bound to: its NIB as a number.
fn sealing_row(code: &str) -> i64 {
    code.parse().unwrap_or(0)
}

/// The employer's contact, sealed (none when there is no contact).
pub fn seal_contact(keys: &crate::crypto::Keys, e: &Employer) -> Result<Option<Vec<u8>>> {
    if e.contact.is_empty() {
        return Ok(None);
    }
    keys.seal(
        "employers",
        sealing_row(&e.code),
        "contact",
        &e.contact.to_text(),
    )
    .map(Some)
}

/// An employer from its stored columns.
#[allow(clippy::too_many_arguments)]
pub fn employer_from_row(
    keys: &crate::crypto::Keys,
    code: String,
    name: String,
    size: &str,
    risk_class: i64,
    region: &str,
    registered_on: &str,
    contact: Option<&[u8]>,
) -> Result<Employer> {
    let bad = |what: &str, v: &str| StoreError::Corrupt(format!("employer {code}: {what} '{v}'"));
    let contact = match contact {
        Some(c) => Contact::from_text(&keys.open("employers", sealing_row(&code), "contact", c)?),
        None => Contact::default(),
    };
    Ok(Employer {
        size: SizeClass::parse(size).ok_or_else(|| bad("size", size))?,
        risk_class: u8::try_from(risk_class)
            .ok()
            .filter(|c| (1..=5).contains(c))
            .ok_or_else(|| bad("risk_class", &risk_class.to_string()))?,
        region: RegionCode::parse(region).map_err(|_| bad("region", region))?,
        registered_on: parse_date(registered_on)
            .ok_or_else(|| bad("registered_on", registered_on))?,
        contact,
        name,
        code,
    })
}

/// A worker's PU participation with one employer, from `since` to before `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Employment {
    pub participant_id: i64,
    pub employer_code: String,
    pub since: Month,
    /// The month of the reported stop (the first month not employed).
    pub until: Option<Month>,
}

/// One worker's dues in an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceLine {
    pub position: u32,
    pub participant_id: i64,
    /// Basic wage + fixed allowances.
    pub wage: Rupiah,
    pub programmes: ProgrammeSet,
    pub amount: Rupiah,
    pub employer_share: Rupiah,
    pub worker_share: Rupiah,
    /// The day payments completed it (it is then in the ledger).
    pub paid_on: Option<Date>,
    /// What paying it after the due date cost, and the invoice that bills it.
    pub late_fee: Rupiah,
    pub fee_invoice_id: Option<i64>,
}

/// An invoice: the month's dues of an employer's workers, and late fees carried from earlier
/// months.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    pub id: i64,
    pub employer_code: String,
    pub month: Month,
    pub due_on: Date,
    pub risk_class: u8,
    pub size: SizeClass,
    pub fees_carried: Rupiah,
    pub total: Rupiah,
    pub lines_left_out: u32,
    pub submitted_by: String,
    /// Unix seconds.
    pub submitted_at: i64,
    /// The day payments covered all of it.
    pub settled_on: Option<Date>,
    pub lines: Vec<InvoiceLine>,
}

impl Invoice {
    /// The 11-digit payment code (kode iuran) the employer pays against.
    pub fn payment_code(&self) -> String {
        employers::payment_code(self.id)
    }
}

pub use cakupan_domain::employers::invoice_of_payment_code;

/// The ledger reference of an invoice line's contribution.
pub fn line_reference(invoice_id: i64, position: u32) -> String {
    format!("INV{invoice_id}-{position}")
}

/// Money received from an employer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmployerPayment {
    /// The bank's reference: the idempotency key.
    pub reference: String,
    pub employer_code: String,
    pub amount: Rupiah,
    pub paid_on: Date,
    /// The payment code it was made against, when the bank reports one.
    pub payment_code: Option<String>,
    pub recorded_by: String,
}

/// A wage report ready for the store: its lines checked on their own (columns, NIKs, wages,
/// programmes, duplicates) and its new workers' registrations validated. The store checks
/// the rest against who is enrolled where ([`plan`]).
#[derive(Debug, Clone)]
pub struct WageReport {
    pub employer_code: String,
    pub month: Month,
    pub entries: Vec<WageEntry>,
    /// Enrolment lines: the registration of a worker not yet registered as a wage earner.
    pub registrations: HashMap<u64, Registration>,
    /// Enrolment lines whose registration details fail: reported unless the worker turns out
    /// to be registered already.
    pub registration_problems: HashMap<u64, Vec<LineProblem>>,
    /// The lines' own problems.
    pub problems: Vec<LineProblem>,
    /// Every NIK the report names, on good lines or bad.
    pub niks: HashSet<Nik>,
    pub lines: usize,
    /// Recognises the same report sent again (SHA-256 of employer, month and lines).
    pub hash: String,
    pub confirm_valid_part: bool,
    pub submitted_by: String,
    pub today: Date,
}

impl WageReport {
    /// Checks the lines of `employer`'s report for `month` on their own.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        rules: &RuleSet,
        regions: &RegionTree,
        employer: &Employer,
        month: Month,
        lines: &[WageLineInput],
        today: Date,
        confirm_valid_part: bool,
        submitted_by: &str,
    ) -> WageReport {
        let (entries, problems) = employers::check_lines(rules, employer.size, month, lines);
        let ctx = participants::Context {
            regions,
            rules,
            today,
        };
        let registered_on = month.first_day().min(today);
        let mut registrations = HashMap::new();
        let mut registration_problems = HashMap::new();
        for e in entries.iter().filter(|e| e.action == WageAction::Enrol) {
            let l = &e.input;
            let input = RegistrationInput {
                nik: l.get("nik").into(),
                name: l.get("name").into(),
                birth_date: l.get("birth_date").into(),
                sex: l.get("sex").into(),
                phone: String::new(),
                village_code: l.get("village_code").into(),
                segment: Segment::Pu.as_str().into(),
                occupation_code: l.get("occupation_code").into(),
                income_base: e.wage.0.to_string(),
                programs: e.programmes.to_string(),
                registered_on: format_date(registered_on),
                channel: "employer".into(),
                agent_code: String::new(),
                address: String::new(),
                budget_funded: String::new(),
                heirs: Vec::new(),
            };
            match participants::validate(&ctx, &input) {
                Ok((reg, _)) => {
                    registrations.insert(e.line, reg);
                }
                Err(errs) => {
                    registration_problems.insert(
                        e.line,
                        errs.0
                            .into_iter()
                            .map(|f| LineProblem::new(e.line, f))
                            .collect(),
                    );
                }
            }
        }
        let niks = lines
            .iter()
            .filter_map(|l| Nik::parse(l.get("nik")).ok())
            .collect();
        let mut h = Sha256::new();
        h.update(employer.code.as_bytes());
        h.update(month.to_string().as_bytes());
        for l in lines {
            h.update(b"\x1e");
            for f in &l.fields {
                h.update(f.trim().as_bytes());
                h.update(b"\x1f");
            }
        }
        WageReport {
            employer_code: employer.code.clone(),
            month,
            entries,
            registrations,
            registration_problems,
            problems,
            niks,
            lines: lines.len(),
            hash: hex::encode(h.finalize()),
            confirm_valid_part,
            submitted_by: submitted_by.to_string(),
            today,
        }
    }
}

/// What the store knows of a person the report names: their wage-earner participation.
#[derive(Debug, Clone)]
pub struct Known {
    pub participant: Participant,
    /// Their open employment, with this employer or another.
    pub open: Option<Employment>,
    /// Terminated (death, withdrawal, moved abroad).
    pub terminated: bool,
}

/// What planning a report needs from the store, read in the writing transaction.
#[derive(Debug, Clone)]
pub struct ReportContext {
    pub employer: Employer,
    /// The employer's invoices so far: (id, month, report hash), oldest first.
    pub invoices: Vec<(i64, Month, String)>,
    /// The latest invoice's lines: participant → (wage, programmes).
    pub last_lines: HashMap<i64, (Rupiah, ProgrammeSet)>,
    /// The employer's open employments, with their participations.
    pub workers: Vec<(Employment, Participant)>,
    /// The wage-earner participations of the NIKs on the report.
    pub known: HashMap<Nik, Known>,
    /// Late fees of earlier dues not yet billed.
    pub unbilled_fees: Rupiah,
}

/// How a worker differs from last month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Enrolled now, registered as a wage earner now.
    New,
    /// Enrolled now, already registered as a wage earner (an earlier job).
    Rejoined,
    /// Wage or programmes changed.
    Changed,
    Unchanged,
    /// Reported stopped from this month.
    Stopped,
    /// Employed and not on the report.
    Missing,
}

/// One worker in the difference from last month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffRow {
    /// The report line (0: not on the report).
    pub line: u64,
    pub change: Change,
    /// The NIK, masked.
    pub nik: String,
    pub name: String,
    pub kpj: Option<String>,
    pub wage_before: Option<i64>,
    pub wage_after: Option<i64>,
    pub programs_before: Option<String>,
    pub programs_after: Option<String>,
    /// The month's dues for this worker.
    pub amount: Option<i64>,
}

/// An invoice line as written: each backend's bulk insert takes these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInsert {
    pub position: i64,
    pub participant_id: i64,
    pub wage: i64,
    pub programs: String,
    pub amount: i64,
    pub employer_share: i64,
    pub worker_share: i64,
}

/// A line a payment completed: the day it was paid and its late fee (each backend's bulk
/// update takes these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinePaid {
    pub invoice_id: i64,
    pub position: i64,
    pub paid_on: String,
    pub late_fee: i64,
}

/// A worker to bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillLine {
    pub line: u64,
    pub nik: Nik,
    /// The stored participation (none yet for a new worker: see `registration`).
    pub participant_id: Option<i64>,
    pub registration: Option<Registration>,
    /// A new employment starts this month.
    pub enrol: bool,
    pub wage: Rupiah,
    pub programmes: ProgrammeSet,
    pub amount: Rupiah,
    pub employer_share: Rupiah,
    pub worker_share: Rupiah,
}

/// A worker reported stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopLine {
    pub line: u64,
    pub participant_id: i64,
    pub nik: Nik,
}

/// What a report would do (preview) or did (submitted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportPlan {
    pub employer: String,
    pub month: Month,
    /// Every problem, by line (line 0: the report as a whole, or a worker missing from it).
    pub problems: Vec<LineProblem>,
    /// Nothing is (or was) written: a problem of the report as a whole, or problems the
    /// employer has not confirmed leaving out.
    pub blocked: bool,
    pub diff: Vec<DiffRow>,
    #[serde(skip)]
    pub bill: Vec<BillLine>,
    #[serde(skip)]
    pub stops: Vec<StopLine>,
    pub workers_billed: usize,
    pub workers_stopped: usize,
    /// The lines (and missing workers) left out when the valid part is confirmed.
    pub lines_left_out: u32,
    pub contributions: Rupiah,
    pub employer_share: Rupiah,
    pub worker_share: Rupiah,
    pub fees_carried: Rupiah,
    pub total: Rupiah,
    pub due_on: Option<Date>,
    /// The same report was already submitted: this invoice.
    pub repeat_of: Option<i64>,
    /// What is billed but worth a second look, by line: a wage below the minimum wage of the
    /// employer's province (rules/minimum_wages.toml). Never blocks the report.
    pub warnings: Vec<LineProblem>,
}

fn problem(line: u64, field: &str, rule: &'static str, message: String) -> LineProblem {
    LineProblem::new(line, FieldError::new(field, rule, message))
}

/// A problem whose message carries figures, kept apart for the pages' own wording.
fn problem_with<I: IntoIterator<Item = String>>(
    line: u64,
    field: &str,
    rule: &'static str,
    message: String,
    args: I,
) -> LineProblem {
    LineProblem::new(line, FieldError::new(field, rule, message).with_args(args))
}

/// A line to bill: its participation (or registration), how it changed, the worker's sector,
/// whether an employment starts.
type Billed<'a> = (
    Option<&'a Participant>,
    Option<&'a Registration>,
    Change,
    Sector,
    bool,
);

/// Plans a wage report against what the store holds: who is enrolled with this employer,
/// who elsewhere, what was billed last month. Pure.
pub fn plan(rules: &RuleSet, ctx: &ReportContext, report: &WageReport) -> ReportPlan {
    let month = report.month;
    let mut out = ReportPlan {
        employer: ctx.employer.code.clone(),
        month,
        problems: Vec::new(),
        blocked: true,
        diff: Vec::new(),
        bill: Vec::new(),
        stops: Vec::new(),
        workers_billed: 0,
        workers_stopped: 0,
        lines_left_out: 0,
        contributions: Rupiah::ZERO,
        employer_share: Rupiah::ZERO,
        worker_share: Rupiah::ZERO,
        fees_carried: ctx.unbilled_fees,
        total: Rupiah::ZERO,
        due_on: due_date(rules, Segment::Pu, month),
        repeat_of: None,
        warnings: Vec::new(),
    };
    let minimum = rules
        .minimum_wage(
            &ctx.employer
                .region
                .truncate(cakupan_domain::Level::Province)
                .to_string(),
            month,
        )
        .map(|r| Rupiah(r.amount));
    // The report as a whole.
    let mut whole = Vec::new();
    if month > Month::of(report.today) {
        whole.push(problem(
            0,
            "month",
            "month.future",
            format!("{month} has not started: a wage report is for this month or an earlier one"),
        ));
    }
    if month < Month::of(ctx.employer.registered_on) {
        whole.push(problem(
            0,
            "month",
            "month.before_registration",
            format!(
                "{month} is before the employer was registered ({})",
                format_date(ctx.employer.registered_on)
            ),
        ));
    }
    if let Some((id, _, hash)) = ctx.invoices.iter().find(|i| i.1 == month) {
        if *hash == report.hash {
            out.repeat_of = Some(*id);
            out.blocked = false;
            return out;
        }
        whole.push(problem_with(
            0,
            "month",
            "month.already_reported",
            format!(
                "{month} was already reported (payment code {}): send changes with the next month's report",
                employers::payment_code(*id)
            ),
            [month.to_string(), employers::payment_code(*id).to_string()],
        ));
    } else if let Some((_, last, _)) = ctx.invoices.last()
        && *last > month
    {
        whole.push(problem_with(
            0,
            "month",
            "month.order",
            format!("the last report was for {last}: reports go forward, month by month"),
            [last.to_string()],
        ));
    }
    let mut problems = report.problems.clone();
    let workers: HashMap<Nik, &(Employment, Participant)> = ctx
        .workers
        .iter()
        .map(|w| (w.1.registration.nik, w))
        .collect();
    let mut entries: Vec<&WageEntry> = report.entries.iter().collect();
    entries.sort_by_key(|e| e.line);
    for e in entries {
        let row = |change: Change, p: Option<&Participant>| DiffRow {
            line: e.line,
            change,
            nik: e.nik.masked(),
            name: p
                .map(|p| p.registration.name.clone())
                .unwrap_or_else(|| e.input.get("name").to_string()),
            kpj: p.map(|p| p.kpj.clone()),
            wage_before: None,
            wage_after: None,
            programs_before: None,
            programs_after: None,
            amount: None,
        };
        let billed: Option<Billed<'_>> = match e.action {
            WageAction::Enrol => {
                if let Some((emp, _)) = workers.get(&e.nik) {
                    problems.push(problem(
                            e.line,
                            "action",
                            "wage.already_enrolled",
                            format!(
                                "this worker is enrolled with this employer since {}: report them with action continue",
                                emp.since
                            ),
                        ));
                    None
                } else if let Some(k) = ctx.known.get(&e.nik) {
                    if k.terminated {
                        problems.push(problem(
                                e.line,
                                "nik",
                                "participation.terminated",
                                "this worker's wage-earner participation has ended (death, withdrawal or moving abroad)".into(),
                            ));
                        None
                    } else if let Some(open) = &k.open {
                        problems.push(problem_with(
                                e.line,
                                "nik",
                                "wage.employed_elsewhere",
                                format!(
                                    "this worker is still enrolled with another employer (since {}): that employer must report them stopped first",
                                    open.since
                                ),
                                [open.since.to_string()],
                            ));
                        None
                    } else if Month::of(k.participant.registration.registered_on) > month {
                        problems.push(problem(
                            e.line,
                            "nik",
                            "wage.registered_later",
                            format!(
                                "this worker was registered as a wage earner in {}, after {month}",
                                Month::of(k.participant.registration.registered_on)
                            ),
                        ));
                        None
                    } else {
                        Some((
                            Some(&k.participant),
                            None,
                            Change::Rejoined,
                            k.participant.registration.sector,
                            true,
                        ))
                    }
                } else if let Some(errs) = report.registration_problems.get(&e.line) {
                    problems.extend(errs.iter().cloned());
                    None
                } else {
                    report
                        .registrations
                        .get(&e.line)
                        .map(|r| (None, Some(r), Change::New, r.sector, true))
                }
            }
            WageAction::Continue => match workers.get(&e.nik) {
                Some((_, p)) => {
                    let before = ctx.last_lines.get(&p.id);
                    let change = match before {
                        Some((w, pr)) if *w == e.wage && *pr == e.programmes => Change::Unchanged,
                        _ => Change::Changed,
                    };
                    Some((Some(p), None, change, p.registration.sector, false))
                }
                None => {
                    problems.push(problem(
                        e.line,
                        "nik",
                        "wage.unknown_worker",
                        "this NIK is not enrolled with this employer: enrol them with action enrol"
                            .into(),
                    ));
                    None
                }
            },
            WageAction::Stop => {
                match workers.get(&e.nik) {
                        Some((_, p)) => {
                            let mut r = row(Change::Stopped, Some(p));
                            if let Some((w, pr)) = ctx.last_lines.get(&p.id) {
                                r.wage_before = Some(w.0);
                                r.programs_before = Some(pr.to_string());
                            }
                            out.diff.push(r);
                            out.stops.push(StopLine {
                                line: e.line,
                                participant_id: p.id,
                                nik: e.nik,
                            });
                        }
                        None => problems.push(problem(
                            e.line,
                            "nik",
                            "wage.unknown_worker",
                            "this NIK is not enrolled with this employer: only its own workers can be stopped".into(),
                        )),
                    }
                None
            }
        };
        let Some((participant, registration, change, sector, enrol)) = billed else {
            continue;
        };
        let (birth, registered_on) = match (participant, registration) {
            (Some(p), _) => (p.registration.birth_date, p.registration.registered_on),
            (None, Some(r)) => (r.birth_date, r.registered_on),
            (None, None) => continue,
        };
        let programmes =
            employers::billed_programmes(rules, month, e.programmes, birth, registered_on);
        let change = match (
            change,
            ctx.last_lines.get(&participant.map(|p| p.id).unwrap_or(0)),
        ) {
            (Change::Changed | Change::Unchanged, Some((w, pr))) => {
                if *w == e.wage && *pr == programmes {
                    Change::Unchanged
                } else {
                    Change::Changed
                }
            }
            (c, _) => c,
        };
        let q = match employers::dues(
            rules,
            month,
            ctx.employer.risk_class,
            sector,
            e.wage,
            programmes,
        ) {
            Ok(q) => q,
            Err(errs) => {
                problems.extend(errs.0.into_iter().map(|f| LineProblem::new(e.line, f)));
                continue;
            }
        };
        let mut r = row(change, participant);
        if let Some(p) = participant
            && let Some((w, pr)) = ctx.last_lines.get(&p.id)
        {
            r.wage_before = Some(w.0);
            r.programs_before = Some(pr.to_string());
        }
        r.wage_after = Some(e.wage.0);
        r.programs_after = Some(programmes.to_string());
        r.amount = Some(q.total_due.0);
        out.diff.push(r);
        if let Some(min) = minimum
            && e.wage < min
        {
            out.warnings.push(problem_with(
                e.line,
                "basic_wage",
                "wage.below_minimum",
                format!(
                    "the wage {} is below the province's minimum wage of {} in {month}: check the report, or the pay",
                    e.wage, min
                ),
                [e.wage.0.to_string(), min.0.to_string()],
            ));
        }
        out.bill.push(BillLine {
            line: e.line,
            nik: e.nik,
            participant_id: participant.map(|p| p.id),
            registration: registration.cloned(),
            enrol,
            wage: e.wage,
            programmes,
            amount: q.total_due,
            employer_share: q.employer_due,
            worker_share: q.worker_due,
        });
    }
    // Workers employed and not on the report.
    let mut missing: Vec<&(Employment, Participant)> = ctx
        .workers
        .iter()
        .filter(|(_, p)| !report.niks.contains(&p.registration.nik))
        .collect();
    missing.sort_by_key(|(_, p)| p.id);
    for (emp, p) in missing {
        problems.push(problem_with(
            0,
            "nik",
            "wage.missing",
            format!(
                "{} (KPJ {}) is enrolled with this employer since {} and is not on this report: report them with continue or stop",
                p.registration.nik.masked(),
                p.kpj,
                emp.since
            ),
            [
                p.registration.nik.masked().to_string(),
                p.kpj.to_string(),
                emp.since.to_string(),
            ],
        ));
        let mut r = DiffRow {
            line: 0,
            change: Change::Missing,
            nik: p.registration.nik.masked(),
            name: p.registration.name.clone(),
            kpj: Some(p.kpj.clone()),
            wage_before: None,
            wage_after: None,
            programs_before: None,
            programs_after: None,
            amount: None,
        };
        if let Some((w, pr)) = ctx.last_lines.get(&p.id) {
            r.wage_before = Some(w.0);
            r.programs_before = Some(pr.to_string());
        }
        out.diff.push(r);
    }
    if report.lines == 0 && ctx.workers.is_empty() {
        whole.push(problem(
            0,
            "file",
            "report.empty",
            "the report has no lines".into(),
        ));
    }
    problems.sort_by_key(|p| p.line);
    let mut left_out: HashSet<u64> = HashSet::new();
    let mut missing_count = 0u32;
    for p in &problems {
        if p.line == 0 {
            missing_count += 1;
        } else {
            left_out.insert(p.line);
        }
    }
    out.lines_left_out = u32::try_from(left_out.len()).unwrap_or(u32::MAX) + missing_count;
    let nothing_valid = out.bill.is_empty() && out.stops.is_empty();
    out.blocked = !whole.is_empty()
        || (!problems.is_empty() && (!report.confirm_valid_part || nothing_valid));
    whole.extend(problems);
    out.problems = whole;
    out.workers_billed = out.bill.len();
    out.workers_stopped = out.stops.len();
    let sum = |f: fn(&BillLine) -> Rupiah| Rupiah(out.bill.iter().map(|b| f(b).0).sum());
    out.contributions = sum(|b| b.amount);
    out.employer_share = sum(|b| b.employer_share);
    out.worker_share = sum(|b| b.worker_share);
    out.total = Rupiah(out.contributions.0 + out.fees_carried.0);
    out
}

/// A line that payments completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub invoice_id: i64,
    pub position: u32,
    pub participant_id: i64,
    pub paid_on: Date,
}

/// What a change of payments or invoices settles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Lines completed now (not paid before).
    pub lines: Vec<Settled>,
    /// Invoices completed now: (id, the day).
    pub invoices: Vec<(i64, Date)>,
}

/// Applies an employer's payments to its dues, oldest first: `open` are its invoices not yet
/// settled, oldest first, with their lines; `consumed` what the settled ones took;
/// `payments` every payment (day, amount) in the order recorded. Within an invoice the late
/// fees it carries come first, then its lines in order. An invoice with nothing to pay is
/// settled on `today` once everything before it is.
pub fn settle(
    open: &[Invoice],
    consumed: i64,
    payments: &[(Date, i64)],
    today: Date,
) -> Settlement {
    // The payments less what the settled invoices took.
    let mut skip = consumed;
    let mut left: Vec<(Date, i64)> = Vec::new();
    for (on, amount) in payments {
        if skip >= *amount {
            skip -= amount;
        } else {
            left.push((*on, amount - skip));
            skip = 0;
        }
    }
    let mut items: Vec<(usize, Option<usize>, i64)> = Vec::new();
    for (i, inv) in open.iter().enumerate() {
        if inv.fees_carried.0 > 0 {
            items.push((i, None, inv.fees_carried.0));
        }
        for (j, l) in inv.lines.iter().enumerate() {
            items.push((i, Some(j), l.amount.0));
        }
    }
    let amounts: Vec<i64> = items.iter().map(|x| x.2).collect();
    let covered = employers::covered_on(&amounts, &left);
    let mut out = Settlement::default();
    let mut last_day: Vec<Option<Date>> = vec![None; open.len()];
    let mut complete = vec![true; open.len()];
    for ((i, j, _), on) in items.iter().zip(&covered) {
        match on {
            Some(d) => {
                last_day[*i] = last_day[*i].max(Some(*d));
                if let Some(j) = j {
                    let l = &open[*i].lines[*j];
                    if l.paid_on.is_none() {
                        out.lines.push(Settled {
                            invoice_id: open[*i].id,
                            position: l.position,
                            participant_id: l.participant_id,
                            paid_on: *d,
                        });
                    }
                }
            }
            None => complete[*i] = false,
        }
    }
    for (i, inv) in open.iter().enumerate() {
        if !complete[i] {
            break;
        }
        out.invoices.push((inv.id, last_day[i].unwrap_or(today)));
    }
    out
}

/// A line a settlement completed: its invoice, the line, the worker, when, and its late fee.
pub type Completed<'a> = (
    &'a Invoice,
    &'a InvoiceLine,
    &'a crate::Participant,
    &'a Settled,
    Rupiah,
);

/// The lines a settlement completed, each with its invoice, its worker and its late fee (the
/// lines of an invoice completed on one day charged together, [`late_fees`]); `index` finds an
/// invoice of `open` by id.
pub fn completed_lines<'a>(
    rules: &RuleSet,
    open: &'a [Invoice],
    index: &std::collections::HashMap<i64, usize>,
    settled: &'a [Settled],
    people: &'a std::collections::HashMap<i64, crate::Participant>,
) -> Result<Vec<Completed<'a>>> {
    let mut out = Vec::with_capacity(settled.len());
    for done in settled {
        let inv = index
            .get(&done.invoice_id)
            .and_then(|i| open.get(*i))
            .ok_or_else(|| StoreError::Corrupt(format!("invoice {}", done.invoice_id)))?;
        let line = inv
            .lines
            .iter()
            .find(|l| l.position == done.position)
            .ok_or_else(|| StoreError::Corrupt(format!("invoice line {}", done.position)))?;
        let p = people
            .get(&done.participant_id)
            .ok_or_else(|| StoreError::Corrupt(format!("participant {}", done.participant_id)))?;
        out.push((inv, line, p, done));
    }
    let fees = late_fees(
        rules,
        &out.iter()
            .map(|(inv, line, p, done)| (*inv, *line, p.registration.sector, done.paid_on))
            .collect::<Vec<_>>(),
    )?;
    Ok(out
        .into_iter()
        .zip(fees)
        .map(|((inv, line, p, done), fee)| (inv, line, p, done, fee))
        .collect())
}

/// The late fees of lines completed together, in their order: (invoice, line, the worker's
/// sector, the day it was completed). The lines of one invoice completed on one day are charged
/// as one hand calculation per programme (`employers::late_fees_of`), then shared back to them.
pub fn late_fees(
    rules: &RuleSet,
    done: &[(&Invoice, &InvoiceLine, Sector, Date)],
) -> Result<Vec<Rupiah>> {
    let mut out = vec![Rupiah::ZERO; done.len()];
    let mut groups: std::collections::BTreeMap<(i64, Date), Vec<usize>> =
        std::collections::BTreeMap::new();
    for (i, (inv, _, _, on)) in done.iter().enumerate() {
        groups.entry((inv.id, *on)).or_default().push(i);
    }
    for ((_, on), members) in groups {
        let quotes = members
            .iter()
            .map(|&i| {
                let (inv, line, sector, _) = done[i];
                employers::dues(
                    rules,
                    inv.month,
                    inv.risk_class,
                    sector,
                    line.wage,
                    line.programmes,
                )
                .map_err(StoreError::Rejected)
            })
            .collect::<Result<Vec<_>>>()?;
        for (k, fee) in employers::late_fees_of(rules, &quotes, on)
            .into_iter()
            .enumerate()
        {
            out[members[k]] = fee;
        }
    }
    Ok(out)
}

/// The ledger posting of a line completed on `paid_on`: a PU contribution for the invoice's
/// month at the billed wage and risk class.
pub fn contribution(inv: &Invoice, line: &InvoiceLine, nik: Nik, paid_on: Date) -> NewPosting {
    NewPosting::Contribution(Payment {
        reference: line_reference(inv.id, line.position),
        nik,
        segment: Segment::Pu,
        first_month: inv.month,
        months: 1,
        amount: line.amount,
        channel: PaymentChannel::Employer,
        paid_on,
        collected_by: None,
        pu_basis: Some(PuBasis {
            wage: line.wage,
            risk_class: inv.risk_class,
            programmes: line.programmes,
        }),
    })
}

/// The ledger posting of a stop.
pub fn stop_posting(employer: &str, month: Month, stop: &StopLine) -> NewPosting {
    NewPosting::Stop {
        reference: format!("STOP-{employer}-{month}-{}", stop.participant_id),
        nik: stop.nik,
        month,
        employer: employer.to_string(),
    }
}

/// An invoice as a list shows it (no lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceHead {
    pub id: i64,
    pub month: Month,
    pub due_on: Date,
    pub total: Rupiah,
    pub fees_carried: Rupiah,
    pub workers: u32,
    pub settled_on: Option<Date>,
}

/// An invoice's state on a day: what payments covered, what is left, whether it is overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceState {
    #[serde(flatten)]
    pub head: InvoiceHead,
    pub payment_code: String,
    pub paid: Rupiah,
    pub outstanding: Rupiah,
    pub overdue: bool,
}

/// An employer's account on a day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Standing {
    pub billed: Rupiah,
    pub paid: Rupiah,
    /// Paid and not yet needed by any invoice.
    pub credit: Rupiah,
    pub outstanding: Rupiah,
    /// Outstanding past its due date: the arrears.
    pub overdue: Rupiah,
    pub oldest_overdue: Option<Month>,
    /// Late fees that the next invoice will bill.
    pub unbilled_fees: Rupiah,
    /// Late fees running on the overdue lines not yet paid, as if paid on the standing's day
    /// (filled by the services where shown: the account and the arrears list; zero elsewhere).
    pub accruing_fees: Rupiah,
}

impl Standing {
    pub fn in_arrears(&self) -> bool {
        self.overdue.0 > 0
    }
}

/// The state of each open invoice and the employer's standing on `as_of`: `open` are the
/// invoices not yet settled (oldest first), `consumed` the total of the settled ones, `billed`
/// the total of all, `paid` the total of all payments.
pub fn standing(
    open: &[InvoiceHead],
    consumed: i64,
    billed: i64,
    paid: i64,
    unbilled_fees: i64,
    as_of: Date,
) -> (Standing, Vec<InvoiceState>) {
    let mut money = paid - consumed;
    let mut s = Standing {
        billed: Rupiah(billed),
        paid: Rupiah(paid),
        unbilled_fees: Rupiah(unbilled_fees),
        ..Standing::default()
    };
    let mut states = Vec::new();
    for h in open {
        let covered = money.clamp(0, h.total.0);
        money -= covered;
        let outstanding = h.total.0 - covered;
        let overdue = outstanding > 0 && h.due_on < as_of;
        s.outstanding = Rupiah(s.outstanding.0 + outstanding);
        if overdue {
            s.overdue = Rupiah(s.overdue.0 + outstanding);
            s.oldest_overdue = s.oldest_overdue.or(Some(h.month));
        }
        states.push(InvoiceState {
            payment_code: employers::payment_code(h.id),
            head: h.clone(),
            paid: Rupiah(covered),
            outstanding: Rupiah(outstanding),
            overdue,
        });
    }
    s.credit = Rupiah(money.max(0));
    (s, states)
}

/// An employer in a list: its workers now and its standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmployerSummary {
    pub employer: Employer,
    pub workers: u64,
    pub last_month: Option<Month>,
    pub standing: Standing,
    /// The ids of its invoices overdue on the standing's day, oldest first.
    #[serde(skip)]
    pub overdue_invoices: Vec<i64>,
}

/// Which employers a list holds and which part of it (issue #23, item 4): the area, those in
/// arrears only (most owed first) or all (by name), a piece of a name or NIB to find (any case),
/// and the rows wanted from `offset` (all when `limit` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployerQuery {
    pub within: RegionCode,
    pub arrears_only: bool,
    pub text: String,
    pub offset: u64,
    pub limit: Option<u64>,
}

impl EmployerQuery {
    /// Every employer of `within` (in arrears only, if asked), uncut.
    pub fn all(within: RegionCode, arrears_only: bool) -> EmployerQuery {
        EmployerQuery {
            within,
            arrears_only,
            text: String::new(),
            offset: 0,
            limit: None,
        }
    }

    /// The `LIKE` pattern of the text (lower case, its `%`, `_` and `\` escaped by `\`), or
    /// `None` when there is nothing to find.
    pub fn pattern(&self) -> Option<String> {
        let t = self.text.trim().to_lowercase();
        if t.is_empty() {
            return None;
        }
        let mut p = String::with_capacity(t.len() + 2);
        p.push('%');
        for c in t.chars() {
            if matches!(c, '%' | '_' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        p.push('%');
        Some(p)
    }
}

/// A piece of a list of employers and how many the whole list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmployerList {
    pub total: u64,
    pub rows: Vec<EmployerSummary>,
}

/// An employer's standing row (`employer_standings`), kept by every transaction that reports
/// or pays (issue #23, item 4): the sums the standing is computed from, with `open_due` the
/// earliest due date of an invoice not yet settled (an employer is in arrears on a day only if
/// it is before that day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingRow {
    pub employer_code: String,
    pub region: String,
    pub workers: i64,
    pub billed: i64,
    pub paid: i64,
    pub consumed: i64,
    pub unbilled_fees: i64,
    pub last_month: Option<i64>,
    pub open_due: Option<String>,
}

/// A standing row as read, in [`STANDING_COLUMNS`]' order.
pub type StandingTuple = (
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
);

impl StandingRow {
    /// The standing of an employer that has never reported nor paid, which has no stored row:
    /// all zeros.
    pub fn empty(employer_code: &str, region: &str) -> StandingRow {
        StandingRow {
            employer_code: employer_code.to_string(),
            region: region.to_string(),
            workers: 0,
            billed: 0,
            paid: 0,
            consumed: 0,
            unbilled_fees: 0,
            last_month: None,
            open_due: None,
        }
    }

    pub fn from_tuple(t: StandingTuple) -> StandingRow {
        StandingRow {
            employer_code: t.0,
            region: t.1,
            workers: t.2,
            billed: t.3,
            paid: t.4,
            consumed: t.5,
            unbilled_fees: t.6,
            last_month: t.7,
            open_due: t.8,
        }
    }
}

/// The standing rows' columns, in [`StandingRow`]'s order.
pub const STANDING_COLUMNS: &str =
    "employer_code, region, workers, billed, paid, consumed, unbilled_fees, last_month, open_due";

/// Every employer's standing row as computed from its invoices, payments, lines and
/// employments: the one definition the writes keep (`WHERE e.code = $1`), the migrations fill
/// and `verify` checks. Each sum probes the employer's own index.
pub const STANDING_SELECT: &str = "SELECT e.code, e.region,
       (SELECT COUNT(*) FROM employments x WHERE x.employer_code = e.code AND x.until IS NULL),
       (SELECT CAST(COALESCE(SUM(i.total), 0) AS BIGINT) FROM invoices i WHERE i.employer_code = e.code),
       (SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM employer_payments p WHERE p.employer_code = e.code),
       (SELECT CAST(COALESCE(SUM(i.total), 0) AS BIGINT) FROM invoices i
         WHERE i.employer_code = e.code AND i.settled_on IS NOT NULL),
       (SELECT CAST(COALESCE(SUM(l.late_fee), 0) AS BIGINT) FROM invoice_lines l
         WHERE l.employer_code = e.code AND l.late_fee > 0 AND l.fee_invoice_id IS NULL),
       (SELECT MAX(i.month) FROM invoices i WHERE i.employer_code = e.code),
       (SELECT MIN(i.due_on) FROM invoices i WHERE i.employer_code = e.code AND i.settled_on IS NULL)
  FROM employers e";

/// What a standing row computed by [`STANDING_SELECT`] replaces of a stored one.
pub const STANDING_UPSERT: &str = "ON CONFLICT (employer_code) DO UPDATE SET
       workers = excluded.workers, billed = excluded.billed, paid = excluded.paid,
       consumed = excluded.consumed, unbilled_fees = excluded.unbilled_fees,
       last_month = excluded.last_month, open_due = excluded.open_due";

/// An employer's account: every invoice (newest first) with its state, every payment, the
/// standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub employer: Employer,
    pub workers: u64,
    pub invoices: Vec<InvoiceState>,
    pub payments: Vec<EmployerPayment>,
    pub standing: Standing,
}

/// Builds the account from every invoice head (oldest first) and payment.
pub fn account(
    employer: Employer,
    workers: u64,
    heads: Vec<InvoiceHead>,
    payments: Vec<EmployerPayment>,
    unbilled_fees: i64,
    as_of: Date,
) -> Account {
    let billed = heads.iter().map(|h| h.total.0).sum();
    let paid = payments.iter().map(|p| p.amount.0).sum();
    let (standing, mut invoices) = standing(&heads, 0, billed, paid, unbilled_fees, as_of);
    invoices.reverse();
    Account {
        employer,
        workers,
        invoices,
        payments,
        standing,
    }
}

/// What recording a payment did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentOutcome {
    /// The same payment was already recorded: nothing changed.
    pub repeat: bool,
    /// Worker-months it completed (each now a contribution in the ledger).
    pub lines_paid: usize,
    /// Late fees those lines incurred (billed on the next invoice).
    pub late_fees: Rupiah,
    pub invoices_settled: usize,
}

/// What submitting a report did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportOutcome {
    pub plan: ReportPlan,
    /// The invoice made (or made before, for a repeat); none when blocked or previewed.
    pub invoice: Option<InvoiceState>,
    /// Lines paid at once from money already received.
    pub lines_paid: usize,
}

/// Checks a payment before the store records it.
pub fn check_payment(p: &EmployerPayment, today: Date) -> Result<(), FieldErrors> {
    let mut errors = FieldErrors::default();
    let r = p.reference.trim();
    if r.is_empty() || r.len() > 64 || !r.bytes().all(|b| b.is_ascii_graphic()) {
        errors.push(FieldError::new(
            "reference",
            "reference.format",
            "reference is required: the bank's reference, up to 64 visible characters",
        ));
    }
    if let Some(e) = cakupan_domain::contribution::nik_like("reference", r) {
        errors.push(e);
    }
    if p.amount.0 <= 0 {
        errors.push(FieldError::new(
            "amount",
            "amount.positive",
            "amount must be a positive whole number of rupiah",
        ));
    }
    if p.paid_on > today {
        errors.push(FieldError::new(
            "paid_on",
            "paid_on.future",
            format!("paid_on is after today ({})", format_date(today)),
        ));
    }
    if let Some(c) = &p.payment_code
        && invoice_of_payment_code(c).is_none()
    {
        errors.push(FieldError::new(
            "payment_code",
            "payment_code.format",
            "payment_code must be the 11-digit code on the invoice",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The rejection of a payment reference used again for a different payment.
pub fn payment_reused(reference: &str) -> StoreError {
    StoreError::Rejected(
        FieldError::new(
            "reference",
            "reference.reused",
            format!(
                "reference {} was already recorded for a different payment",
                cakupan_domain::error::quoted_code(reference)
            ),
        )
        .into(),
    )
}

/// The rejection of a payment dated before the employer's latest one.
pub fn payment_out_of_order(latest: Date) -> StoreError {
    StoreError::Rejected(
        FieldError::new(
            "paid_on",
            "paid_on.order",
            format!(
                "paid_on is before this employer's latest recorded payment ({}): record payments in the order they were made",
                format_date(latest)
            ),
        )
        .with_args([format_date(latest)])
        .into(),
    )
}

/// The rejection of a payment code that is not one of this employer's invoices.
pub fn payment_code_unknown() -> StoreError {
    StoreError::Rejected(
        FieldError::new(
            "payment_code",
            "payment_code.unknown",
            "payment_code is not one of this employer's invoices",
        )
        .into(),
    )
}

/// The rejection of an unknown employer.
pub fn unknown_employer() -> StoreError {
    StoreError::Rejected(
        FieldError::new(
            "employer",
            "employer.unknown",
            "no employer is registered with this NIB",
        )
        .into(),
    )
}

/// The rejection of a NIB registered already with other details.
pub fn employer_taken() -> StoreError {
    StoreError::Rejected(
        FieldError::new(
            "code",
            "code.taken",
            "an employer with this NIB is already registered with different details",
        )
        .into(),
    )
}

/// Reading the employer tables' rows, the same on both backends: the columns in order, the
/// tuples sqlx decodes them into, and their conversion (a value that cannot be one is
/// `StoreError::Corrupt`).
pub mod rows {
    use super::{Invoice, InvoiceLine};
    use crate::{Result, StoreError};
    use cakupan_domain::month::parse_date;
    use cakupan_domain::{Month, ProgrammeSet, Rupiah};
    use time::Date;

    pub fn corrupt(what: &str, v: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt(format!("{what} '{v}'"))
    }

    pub fn month_of(i: i64) -> Result<Month> {
        i32::try_from(i)
            .ok()
            .and_then(Month::from_index)
            .ok_or_else(|| corrupt("month", i))
    }

    pub fn date_of(s: &str) -> Result<Date> {
        parse_date(s).ok_or_else(|| corrupt("date", s))
    }

    pub fn programmes_of(s: &str) -> Result<ProgrammeSet> {
        ProgrammeSet::parse(s).map_err(|_| corrupt("programs", s))
    }

    /// The employer columns the backends' `employer_at` reads, in its order.
    pub const EMPLOYER_COLUMNS: &str =
        "code, name, size, risk_class, region, registered_on, contact";

    pub type InvoiceRow = (
        i64,
        String,
        i64,
        String,
        i64,
        String,
        i64,
        i64,
        i64,
        String,
        i64,
        Option<String>,
    );
    pub const INVOICE_COLUMNS: &str = "id, employer_code, month, due_on, risk_class, size, fees_carried, total, lines_left_out, submitted_by, submitted_at, settled_on";

    pub fn invoice_of(r: InvoiceRow) -> Result<Invoice> {
        let (
            id,
            employer_code,
            month,
            due_on,
            risk_class,
            size,
            fees,
            total,
            left_out,
            by,
            at,
            settled,
        ) = r;
        Ok(Invoice {
            id,
            employer_code,
            month: month_of(month)?,
            due_on: date_of(&due_on)?,
            risk_class: u8::try_from(risk_class).map_err(|_| corrupt("risk_class", risk_class))?,
            size: cakupan_domain::employers::SizeClass::parse(&size)
                .ok_or_else(|| corrupt("size", &size))?,
            fees_carried: Rupiah(fees),
            total: Rupiah(total),
            lines_left_out: u32::try_from(left_out).unwrap_or(0),
            submitted_by: by,
            submitted_at: at,
            settled_on: settled.as_deref().map(date_of).transpose()?,
            lines: Vec::new(),
        })
    }

    pub type LineRow = (
        i64,
        i64,
        i64,
        i64,
        String,
        i64,
        i64,
        i64,
        Option<String>,
        i64,
        Option<i64>,
    );
    pub const LINE_COLUMNS: &str = "invoice_id, position, participant_id, wage, programs, amount, employer_share, worker_share, paid_on, late_fee, fee_invoice_id";

    pub fn line_of(r: LineRow) -> Result<(i64, InvoiceLine)> {
        let (inv, pos, pid, wage, programs, amount, es, ws, paid_on, fee, fee_inv) = r;
        Ok((
            inv,
            InvoiceLine {
                position: u32::try_from(pos).map_err(|_| corrupt("position", pos))?,
                participant_id: pid,
                wage: Rupiah(wage),
                programmes: programmes_of(&programs)?,
                amount: Rupiah(amount),
                employer_share: Rupiah(es),
                worker_share: Rupiah(ws),
                paid_on: paid_on.as_deref().map(date_of).transpose()?,
                late_fee: Rupiah(fee),
                fee_invoice_id: fee_inv,
            },
        ))
    }
}

/// The employer channel (issue #7): employers, wage reports, invoices and payments.
#[async_trait::async_trait]
pub trait EmployerStore: crate::Keyed {
    /// Registers an employer. The same employer again changes nothing (`false`); other
    /// details under a registered NIB are rejected (`code.taken`).
    async fn add_employer(&self, employer: &Employer) -> Result<bool>;
    async fn employer(&self, code: &str) -> Result<Option<Employer>>;
    /// The employers whose village is inside `q.within`, each with its workers now and its
    /// standing on `as_of`: by name, or those in arrears most owed first; the rows `q` asks
    /// for and how many there are. Read from the standing rows, so the cost follows the rows
    /// shown (and, in arrears, the employers with an open invoice past due), not the employers
    /// of the area. Contacts are not opened for a list.
    async fn employer_summaries(
        &self,
        q: &EmployerQuery,
        as_of: time::Date,
    ) -> Result<EmployerList>;
    /// The invoices `ids` (of any employers), each with only its lines not yet paid and each
    /// such line's worker's sector: what the late fees running on overdue dues are computed
    /// from (the arrears list and the accounts). No personal data is opened.
    async fn unpaid_lines(&self, ids: &[i64]) -> Result<Vec<(Invoice, Vec<Sector>)>>;
    /// Writes every employer's standing row again from its records, holding off reports and
    /// payments until it commits (`cakupan verify --repair`); returns the rows written.
    async fn rebuild_employer_standings(&self) -> Result<u64>;
    /// Every stored standing row and every one recomputed from the employers' records, each
    /// by employer code (`cakupan verify` compares them).
    async fn employer_standings(&self) -> Result<(Vec<StandingRow>, Vec<StandingRow>)>;
    /// Checks a wage report against who is enrolled where and what was billed last month.
    /// With `write`, unless blocked, in one transaction: registers new workers, starts and
    /// ends employments (posting the stops), makes the invoice (with late fees carried),
    /// and applies any money already received. The same report again returns its invoice.
    async fn wage_report(
        &self,
        rules: &RuleSet,
        report: &WageReport,
        write: bool,
    ) -> Result<ReportOutcome>;
    /// Records a payment and, in the same transaction, applies the employer's payments to the
    /// oldest dues first: each worker-month completed becomes a PU contribution in the ledger
    /// (`INV{invoice}-{line}`), with its late fee noted for the next invoice. The same
    /// payment again changes nothing.
    async fn employer_payment(
        &self,
        rules: &RuleSet,
        payment: &EmployerPayment,
    ) -> Result<PaymentOutcome>;
    /// An employer's invoices, payments and standing on `as_of`.
    async fn employer_account(&self, code: &str, as_of: time::Date) -> Result<Option<Account>>;
    /// One invoice with its lines, and the participations they bill.
    async fn employer_invoice(
        &self,
        code: &str,
        month: Month,
    ) -> Result<Option<(Invoice, Vec<Participant>)>>;
    /// The employer's workers now: open employments with their participations.
    async fn employer_workers(&self, code: &str) -> Result<Vec<(Employment, Participant)>>;
    /// A participation's employments, oldest first.
    async fn employments_of(&self, participant_id: i64) -> Result<Vec<Employment>>;
}
