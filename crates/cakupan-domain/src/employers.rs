//! The employer channel (issue #7, DOMAIN.md §3): wage earners (PU) enrolled and paid for by
//! their employer through a monthly wage report. Pure: the checks of a report's lines, the
//! invoice lines the rules give, late fees, and how payments cover the dues, oldest first.

use crate::error::FieldError;
use crate::money::Rupiah;
use crate::month::Month;
use crate::nik::Nik;
use crate::occupation::Sector;
use crate::quote::{Quote, QuoteRequest, late_fee, quote};
use crate::rules::RuleSet;
use crate::segment::{Payer, Programme, ProgrammeSet, Segment};
use serde::Serialize;
use std::collections::HashMap;
use time::Date;

/// An employer's size class (Perpres 109/2013 art. 6: which programmes are mandatory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeClass {
    Micro,
    Small,
    Medium,
    Large,
}

impl SizeClass {
    pub const ALL: [SizeClass; 4] = [
        SizeClass::Micro,
        SizeClass::Small,
        SizeClass::Medium,
        SizeClass::Large,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SizeClass::Micro => "micro",
            SizeClass::Small => "small",
            SizeClass::Medium => "medium",
            SizeClass::Large => "large",
        }
    }

    pub fn parse(s: &str) -> Option<SizeClass> {
        SizeClass::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }
}

/// The columns of a wage report, in order.
pub const WAGE_FIELDS: [&str; 10] = [
    "nik",
    "name",
    "birth_date",
    "sex",
    "village_code",
    "occupation_code",
    "basic_wage",
    "fixed_allowances",
    "programs",
    "action",
];

/// What a line of the report says about a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WageAction {
    /// A new worker: registered (name, birth date, sex, village, occupation) and billed.
    Enrol,
    /// A worker already enrolled with this employer: billed at this month's wage.
    Continue,
    /// The worker leaves: their employment with this employer ends from this month, and it is
    /// not billed.
    Stop,
}

impl WageAction {
    pub fn as_str(self) -> &'static str {
        match self {
            WageAction::Enrol => "enrol",
            WageAction::Continue => "continue",
            WageAction::Stop => "stop",
        }
    }

    pub fn parse(s: &str) -> Option<WageAction> {
        match s.trim() {
            "enrol" | "daftar" => Some(WageAction::Enrol),
            "continue" | "lanjut" => Some(WageAction::Continue),
            "stop" | "berhenti" => Some(WageAction::Stop),
            _ => None,
        }
    }
}

/// One line of a wage report as uploaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WageLineInput {
    /// The line number in the file (for messages).
    pub line: u64,
    pub fields: Vec<String>,
}

impl WageLineInput {
    pub fn get(&self, name: &str) -> &str {
        WAGE_FIELDS
            .iter()
            .position(|f| *f == name)
            .and_then(|i| self.fields.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    }
}

/// A line that passed the report's own checks (the store checks the rest: who is enrolled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WageEntry {
    pub line: u64,
    pub nik: Nik,
    pub action: WageAction,
    /// Basic wage + fixed allowances (DOMAIN.md §3): the basis of every programme.
    pub wage: Rupiah,
    pub programmes: ProgrammeSet,
    pub input: WageLineInput,
}

/// A problem of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineProblem {
    pub line: u64,
    pub field: String,
    pub rule: &'static str,
    pub message: String,
    /// The figures of the message (see [`FieldError::args`]).
    #[serde(skip)]
    pub args: Vec<String>,
}

impl LineProblem {
    pub fn new(line: u64, e: FieldError) -> LineProblem {
        LineProblem {
            line,
            field: e.field,
            rule: e.rule,
            message: e.message,
            args: e.args,
        }
    }

    /// The problem as a field error (to word it in a reader's language).
    pub fn field_error(&self) -> FieldError {
        FieldError::new(self.field.clone(), self.rule, self.message.clone())
            .with_args(self.args.iter())
    }
}

fn wage_field(
    problems: &mut Vec<LineProblem>,
    line: u64,
    field: &str,
    v: &str,
    required: bool,
) -> Option<i64> {
    if v.is_empty() {
        if required {
            problems.push(LineProblem::new(
                line,
                FieldError::new(field, "wage.required", format!("{field} is required")),
            ));
            return None;
        }
        return Some(0);
    }
    match Rupiah::parse(v).map(|r| r.0).ok_or(()) {
        Ok(n) if n >= 0 => Some(n),
        Ok(_) => {
            problems.push(LineProblem::new(
                line,
                FieldError::new(
                    field,
                    "wage.negative",
                    format!("{field} cannot be negative"),
                ),
            ));
            None
        }
        Err(_) => {
            problems.push(LineProblem::new(
                line,
                FieldError::new(
                    field,
                    "wage.integer",
                    format!("{field} must be a whole number of rupiah"),
                ),
            ));
            None
        }
    }
}

/// The most lines one wage report may have (a larger employer splits its upload by unit).
pub const MAX_LINES: usize = 50_000;

/// Reads a wage report in CSV: a header naming [`WAGE_FIELDS`] in order, then one line per
/// worker. A file that cannot be read as such is one problem naming the line.
pub fn parse_csv(text: &str) -> Result<Vec<WageLineInput>, LineProblem> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| {
            LineProblem::new(
                1,
                FieldError::new("file", "csv.format", format!("the file is not CSV: {e}")),
            )
        })?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if header != WAGE_FIELDS {
        return Err(LineProblem::new(
            1,
            FieldError::new(
                "file",
                "csv.header",
                format!(
                    "the first line must name the columns {}",
                    WAGE_FIELDS.join(",")
                ),
            ),
        ));
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            LineProblem::new(
                line,
                FieldError::new("row", "csv.format", format!("this line is not CSV: {e}")),
            )
        })?;
        if out.len() == MAX_LINES {
            return Err(LineProblem::new(
                rec.position().map(|p| p.line()).unwrap_or(0),
                FieldError::new(
                    "file",
                    "report.too_long",
                    format!("a wage report has at most {MAX_LINES} lines: split it"),
                ),
            ));
        }
        out.push(WageLineInput {
            line: rec.position().map(|p| p.line()).unwrap_or(0),
            fields: rec.iter().map(|f| f.to_string()).collect(),
        });
    }
    Ok(out)
}

/// The programmes an employer of `size` must give every worker in `month` (rules/pu.toml).
pub fn mandatory(rules: &RuleSet, size: SizeClass, month: Month) -> ProgrammeSet {
    rules
        .employer_size(size.as_str(), month)
        .map(|r| ProgrammeSet::of(&r.required_programmes))
        .unwrap_or_default()
}

/// Checks the lines of a wage report for `month` by an employer of `size`: every problem of
/// every line (a bad NIK or action, a negative or missing wage, programmes the rules or the
/// employer's size do not allow, a worker listed twice). The good lines come back as entries.
pub fn check_lines(
    rules: &RuleSet,
    size: SizeClass,
    month: Month,
    lines: &[WageLineInput],
) -> (Vec<WageEntry>, Vec<LineProblem>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<Nik, u64> = HashMap::new();
    let required = mandatory(rules, size, month);
    for l in lines {
        let before = problems.len();
        if l.fields.len() != WAGE_FIELDS.len() {
            problems.push(LineProblem::new(
                l.line,
                FieldError::new(
                    "row",
                    "csv.columns",
                    format!(
                        "expected {} columns, found {}",
                        WAGE_FIELDS.len(),
                        l.fields.len()
                    ),
                ),
            ));
            continue;
        }
        let nik = match Nik::parse(l.get("nik")) {
            Ok(n) => Some(n),
            Err(e) => {
                problems.push(LineProblem::new(
                    l.line,
                    FieldError::new("nik", e.rule(), e.to_string()),
                ));
                None
            }
        };
        let action = WageAction::parse(l.get("action"));
        if action.is_none() {
            problems.push(LineProblem::new(
                l.line,
                FieldError::new(
                    "action",
                    "action.value",
                    "action must be enrol, continue or stop",
                ),
            ));
        }
        if let Some(n) = nik {
            if let Some(first) = seen.get(&n) {
                problems.push(LineProblem::new(
                    l.line,
                    FieldError::new(
                        "nik",
                        "wage.duplicate",
                        format!("this worker is already on line {first}"),
                    ),
                ));
            } else {
                seen.insert(n, l.line);
            }
        }
        let billed = matches!(action, Some(WageAction::Enrol | WageAction::Continue));
        let (mut wage, mut programmes) = (Rupiah::ZERO, ProgrammeSet::default());
        if billed {
            let basic = wage_field(
                &mut problems,
                l.line,
                "basic_wage",
                l.get("basic_wage"),
                true,
            );
            let extra = wage_field(
                &mut problems,
                l.line,
                "fixed_allowances",
                l.get("fixed_allowances"),
                false,
            );
            if let (Some(b), Some(x)) = (basic, extra) {
                wage = Rupiah(b + x);
                if wage.0 == 0 {
                    problems.push(LineProblem::new(
                        l.line,
                        FieldError::new(
                            "basic_wage",
                            "wage.positive",
                            "the wage (basic + fixed allowances) must be more than zero",
                        ),
                    ));
                }
            }
            match ProgrammeSet::parse(l.get("programs")) {
                Ok(p) => {
                    programmes = p;
                    if let Err(e) =
                        crate::quote::check_programmes(rules, Segment::Pu, p, month, "programs")
                    {
                        problems.push(LineProblem::new(l.line, e));
                    } else if let Some(missing) = required.iter().find(|x| !p.contains(*x)) {
                        problems.push(LineProblem::new(
                            l.line,
                            FieldError::new(
                                "programs",
                                "programs.size_required",
                                format!(
                                    "a {} employer must give every worker {missing} (mandatory: {required})",
                                    size.as_str()
                                ),
                            ),
                        ));
                    }
                }
                Err(m) => problems.push(LineProblem::new(
                    l.line,
                    FieldError::new("programs", "programs.format", m),
                )),
            }
        }
        if problems.len() == before
            && let (Some(nik), Some(action)) = (nik, action)
        {
            entries.push(WageEntry {
                line: l.line,
                nik,
                action,
                wage,
                programmes,
                input: l.clone(),
            });
        }
    }
    (entries, problems)
}

/// The programmes a worker is billed and accounted for in `month`: the line's, without JP once
/// the worker has reached the pension age of the rules by the month's first day (PP 45/2015
/// art. 15), and with JKP added for a worker registered before the age the rules give and
/// enrolled in the programmes the rules require for it (PP 6/2025 art. 4: JKK, JKM and JHT; a
/// micro employer's JKK+JKM worker has no JKP), and removed for anyone else. JKP is not billed; it shows in the invoice's internal accounting.
/// Citizenship and JKN membership, the remaining conditions, are not known here and are
/// assumed.
pub fn billed_programmes(
    rules: &RuleSet,
    month: Month,
    programmes: ProgrammeSet,
    birth: Date,
    registered_on: Date,
) -> ProgrammeSet {
    let reached_pension_age = rules
        .pension_age(month)
        .is_some_and(|p| crate::participants::age_on(birth, month.first_day()) >= i32::from(p.age));
    let mut out = ProgrammeSet::of(
        &programmes
            .iter()
            .filter(|p| *p != Programme::Jkp && !(*p == Programme::Jp && reached_pension_age))
            .collect::<Vec<_>>(),
    );
    if let Some(f) = rules.jkp_funding(month)
        && crate::participants::age_on(birth, registered_on) < i32::from(f.max_age_at_registration)
        && f.required_programmes.iter().all(|p| out.contains(*p))
    {
        out.insert(Programme::Jkp);
    }
    out
}

/// One worker's dues for a month: the rules' quote at their wage, the employer's risk class
/// and the worker's sector.
pub fn dues(
    rules: &RuleSet,
    month: Month,
    risk_class: u8,
    sector: Sector,
    wage: Rupiah,
    programmes: ProgrammeSet,
) -> Result<Quote, crate::error::FieldErrors> {
    quote(
        rules,
        &QuoteRequest {
            segment: Segment::Pu,
            income_base: wage,
            programmes,
            month,
            sector,
            budget_funded: false,
            risk_class: Some(risk_class),
        },
    )
}

/// When `month` has no JP ceiling in the rules yet, the ceiling its JP is billed at
/// provisionally (the latest known): an invoice with JP for that month says so.
pub fn provisional_jp_ceiling(rules: &RuleSet, month: Month) -> Option<Rupiah> {
    match rules.jp_ceiling_for(month) {
        Some((c, true)) => Some(Rupiah(c.amount)),
        _ => None,
    }
}

/// The late fee of a month's dues paid on `paid` (per programme, the rules' rate per started
/// month after the due date).
pub fn late_fee_of(rules: &RuleSet, q: &Quote, paid: Date) -> Rupiah {
    late_fees_of(rules, std::slice::from_ref(q), paid)
        .first()
        .copied()
        .unwrap_or(Rupiah::ZERO)
}

/// The late fees of the lines of one month's invoice paid together on `paid`, as a hand
/// calculation makes them: per programme, the rules' rate per started month of delay on the
/// programme's total over these lines, rounded once; each programme's fee is then shared back
/// to the lines in proportion to their dues of it (largest remainder), so every line keeps its
/// fee and the lines sum to the hand calculation exactly.
pub fn late_fees_of(rules: &RuleSet, quotes: &[Quote], paid: Date) -> Vec<Rupiah> {
    let mut out = vec![0i64; quotes.len()];
    let Some(month) = quotes.first().map(|q| q.month) else {
        return Vec::new();
    };
    let billed = |l: &&crate::quote::QuoteLine| matches!(l.payer, Payer::Employer | Payer::Worker);
    let mut programmes: Vec<Programme> = quotes
        .iter()
        .flat_map(|q| q.lines.iter().filter(billed).map(|l| l.programme))
        .collect();
    programmes.sort_by_key(|p| p.as_str());
    programmes.dedup();
    for p in programmes {
        let dues: Vec<(usize, i64)> = quotes
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let d = q
                    .lines
                    .iter()
                    .filter(billed)
                    .filter(|l| l.programme == p)
                    .map(|l| l.due.0)
                    .sum();
                (i, d)
            })
            .collect();
        let total: i64 = dues.iter().map(|d| d.1).sum();
        let fee = late_fee(rules, Segment::Pu, p, month, Rupiah(total), paid).0;
        let weights: Vec<(usize, f64)> = dues.iter().map(|(i, d)| (*i, *d as f64)).collect();
        for (i, part) in crate::targets::allocate(fee, &weights) {
            out[i] += part;
        }
    }
    out.into_iter().map(Rupiah).collect()
}

/// The 11-digit payment code (kode iuran) of an invoice: its id in ten digits and a Damm check
/// digit.
pub fn payment_code(invoice_id: i64) -> String {
    let digits = format!("{:010}", invoice_id.max(0));
    format!("{digits}{}", crate::kpj::damm_digit(&digits).unwrap_or(0))
}

/// The invoice a payment code names, if the code is well formed (its check digit holds).
pub fn invoice_of_payment_code(code: &str) -> Option<i64> {
    let c = code.trim();
    if c.len() != 11 || !c.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: i64 = c[..10].parse().ok()?;
    (payment_code(id) == c).then_some(id)
}

/// When each due item (in the order dues are settled: oldest first) became fully paid, given
/// the payments in the order they were made: a payment covers what is left of the oldest item
/// first, and an item counts as paid on the day of the payment that completes it.
pub fn covered_on(items: &[i64], payments: &[(Date, i64)]) -> Vec<Option<Date>> {
    let mut out = vec![None; items.len()];
    let mut i = 0;
    let mut left_on_item = items.first().copied().unwrap_or(0);
    for (on, amount) in payments {
        let mut money = *amount;
        while i < items.len() && money > 0 {
            if money >= left_on_item {
                money -= left_on_item;
                out[i] = Some(*on);
                i += 1;
                left_on_item = items.get(i).copied().unwrap_or(0);
            } else {
                left_on_item -= money;
                money = 0;
            }
        }
        // A zero item is paid with whatever comes next.
        while i < items.len() && items[i] == 0 {
            out[i] = Some(*on);
            i += 1;
            left_on_item = items.get(i).copied().unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::date;

    fn rules() -> RuleSet {
        RuleSet::builtin().unwrap()
    }

    fn m(s: &str) -> Month {
        Month::parse(s).unwrap()
    }

    fn line(n: u64, f: &[&str]) -> WageLineInput {
        WageLineInput {
            line: n,
            fields: f.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn every_problem_of_every_line_is_named() {
        let lines = vec![
            line(
                2,
                &[
                    "3273015203900003",
                    "Siti",
                    "1990-03-12",
                    "P",
                    "32.73.01.1001",
                    "84",
                    "5000000",
                    "500000",
                    "JKK+JKM+JHT+JP",
                    "enrol",
                ],
            ),
            line(
                3,
                &[
                    "3273015203900003",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "5000000",
                    "",
                    "JKK+JKM+JHT+JP",
                    "continue",
                ],
            ),
            line(
                4,
                &["12345", "", "", "", "", "", "-1", "", "JKK+JKM", "continue"],
            ),
            line(
                5,
                &[
                    "3273014506850002",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "JKK+JKM+JHT+JP",
                    "continue",
                ],
            ),
            line(
                6,
                &[
                    "3273011203880001",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "4000000",
                    "",
                    "JKK+JKM",
                    "continue",
                ],
            ),
            line(
                7,
                &["3273011203880009", "", "", "", "", "", "", "", "", "stop"],
            ),
            line(
                8,
                &["3273011203880009", "", "", "", "", "", "", "", "", "leave"],
            ),
        ];
        let (entries, problems) = check_lines(&rules(), SizeClass::Medium, m("2026-03"), &lines);
        let got: Vec<(u64, &str)> = problems.iter().map(|p| (p.line, p.rule)).collect();
        assert_eq!(
            got,
            [
                (3, "wage.duplicate"),
                (4, "nik.length"),
                (4, "wage.negative"),
                (4, "programs.size_required"),
                (5, "wage.required"),
                (6, "programs.size_required"),
                (8, "action.value"),
                (8, "wage.duplicate"),
            ]
        );
        assert_eq!(entries.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 7]);
        assert_eq!(entries[0].wage, Rupiah(5_500_000));
        // A micro employer need not give JHT or JP.
        let (_, problems) = check_lines(&rules(), SizeClass::Micro, m("2026-03"), &lines[4..5]);
        assert!(problems.is_empty(), "{problems:?}");
    }

    /// Hand-computed invoices (DOMAIN.md §3): each JKK risk class, JP below and above the
    /// ceiling, across the March 2024 ceiling change, and a late fee two months late.
    #[test]
    fn invoices_by_hand() {
        let r = rules();
        let all = ProgrammeSet::parse("JKK+JKM+JHT+JP").unwrap();
        let line = |month: &str, class: u8, wage: i64| {
            dues(&r, m(month), class, Sector::NonTransport, Rupiah(wage), all).unwrap()
        };
        // Rp5,000,000, below the ceiling: JKK by class; JKM 0.30% = 15,000; JHT 3.7% + 2% =
        // 185,000 + 100,000; JP 2% + 1% = 100,000 + 50,000.
        for (class, jkk) in [
            (1, 12_000),
            (2, 27_000),
            (3, 44_500),
            (4, 63_500),
            (5, 87_000),
        ] {
            let q = line("2024-03", class, 5_000_000);
            assert_eq!(
                q.total_due,
                Rupiah(jkk + 15_000 + 285_000 + 150_000),
                "class {class}"
            );
            assert_eq!(q.employer_due, Rupiah(jkk + 15_000 + 185_000 + 100_000));
            assert_eq!(q.worker_due, Rupiah(150_000));
        }
        // Rp12,000,000, above the ceiling, class 3: JP on Rp9,559,600 in February 2024 and on
        // Rp10,042,300 from March 2024.
        let feb = line("2024-02", 3, 12_000_000);
        assert_eq!(
            feb.total_due,
            Rupiah(106_800 + 36_000 + 444_000 + 240_000 + 191_192 + 95_596)
        );
        let mar = line("2024-03", 3, 12_000_000);
        assert_eq!(
            mar.total_due,
            Rupiah(106_800 + 36_000 + 444_000 + 240_000 + 200_846 + 100_423)
        );
        assert_eq!(mar.worker_due, Rupiah(240_000 + 100_423));
        // March 2024 (class 1, Rp5,000,000) due 15 April, paid 10 June: two started months.
        // 2% a month on JKK, JKM, JHT: (12,000 + 15,000 + 285,000) × 4% = 12,480; JP 0.5% a
        // month (unconfirmed rule): 150,000 × 1% = 1,500.
        let q = line("2024-03", 1, 5_000_000);
        assert_eq!(late_fee_of(&r, &q, date!(2024 - 04 - 15)), Rupiah(0));
        assert_eq!(late_fee_of(&r, &q, date!(2024 - 06 - 10)), Rupiah(13_980));
        // JKP (from February 2021) for a worker registered at 30, not at 55; never billed.
        let four = ProgrammeSet::parse("JKK+JKM+JHT+JP").unwrap();
        let young = billed_programmes(
            &r,
            m("2026-03"),
            four,
            date!(1996 - 01 - 01),
            date!(2026 - 03 - 01),
        );
        assert!(young.contains(Programme::Jkp));
        let old = billed_programmes(
            &r,
            m("2026-03"),
            young,
            date!(1970 - 01 - 01),
            date!(2026 - 03 - 01),
        );
        assert_eq!(old, four);
        // A micro employer's worker with JKK+JKM only has no JKP (PP 6/2025 requires JKK, JKM
        // and JHT), at any age.
        let micro = billed_programmes(
            &r,
            m("2026-03"),
            ProgrammeSet::parse("JKK+JKM").unwrap(),
            date!(1996 - 01 - 01),
            date!(2026 - 03 - 01),
        );
        assert_eq!(micro, ProgrammeSet::parse("JKK+JKM").unwrap());
        // JP stops at the pension age (PP 45/2015 art. 15: 59 in 2025-2027): a worker born on
        // 10 March 1967 is 58 on 1 March 2026 (JP billed) and 59 on 1 April (no JP).
        let born = date!(1967 - 03 - 10);
        let march = billed_programmes(&r, m("2026-03"), four, born, date!(2010 - 01 - 04));
        let april = billed_programmes(&r, m("2026-04"), four, born, date!(2010 - 01 - 04));
        assert!(march.contains(Programme::Jp) && !april.contains(Programme::Jp));
        assert!(april.contains(Programme::Jht));
        // No JP ceiling for 2026 is in the rules yet: from March 2026 JP is billed at the
        // 2025 ceiling, provisionally, and the quote says so; February 2026 is the 2025 row's.
        assert_eq!(provisional_jp_ceiling(&r, m("2026-02")), None);
        assert_eq!(
            provisional_jp_ceiling(&r, m("2026-04")),
            Some(Rupiah(10_547_400))
        );
        let q = dues(
            &r,
            m("2026-04"),
            1,
            Sector::NonTransport,
            Rupiah(12_000_000),
            four,
        )
        .unwrap();
        assert!(
            q.notes.iter().any(|n| n.contains("provisionally")),
            "{:?}",
            q.notes
        );
        let jp: i64 = q
            .lines
            .iter()
            .filter(|l| l.programme == Programme::Jp)
            .map(|l| l.due.0)
            .sum();
        assert_eq!(jp, 316_422, "3% of 10,547,400");
        // In 2024 the pension age was 58: at 58 in 2024, no JP.
        let in_2024 = billed_programmes(
            &r,
            m("2024-06"),
            four,
            date!(1966 - 01 - 01),
            date!(2010 - 01 - 04),
        );
        assert!(!in_2024.contains(Programme::Jp));
        let q = dues(
            &r,
            m("2026-03"),
            1,
            Sector::NonTransport,
            Rupiah(5_000_000),
            young,
        )
        .unwrap();
        assert_eq!(q.total_due, line("2026-03", 1, 5_000_000).total_due);
        // JKP 0.36% on the wage up to Rp5,000,000 (PP 6/2025): 7,000 from JKK, 11,000 from
        // the government.
        let jkp: Vec<(&str, i64)> = q
            .allocations
            .iter()
            .map(|a| (a.label, a.amount.0))
            .collect();
        assert!(
            jkp.contains(&("JKP from the employer's JKK", 7_000)),
            "{jkp:?}"
        );
        assert!(
            jkp.contains(&("JKP receivable from the central government", 11_000)),
            "{jkp:?}"
        );
    }

    proptest::proptest! {
        /// The late fees of an invoice's lines paid together agree with a hand calculation per
        /// programme: the rate on the programme's total, rounded once; each line keeps a share.
        #[test]
        fn late_fees_agree_with_a_hand_calculation_per_programme(
            wages in proptest::collection::vec(1_000_000i64..30_000_000, 1..8),
            late_months in 1i64..4,
        ) {
            let r = rules();
            let four = ProgrammeSet::parse("JKK+JKM+JHT+JP").unwrap();
            let quotes: Vec<Quote> = wages
                .iter()
                .map(|w| dues(&r, m("2025-06"), 2, Sector::NonTransport, Rupiah(*w), four).unwrap())
                .collect();
            // Due 15 July 2025; paid `late_months` started months later.
            let paid = date!(2025 - 07 - 20).replace_month(time::Month::July.nth_next(u8::try_from(late_months - 1).unwrap())).unwrap();
            let fees = late_fees_of(&r, &quotes, paid);
            let mut hand = 0i64;
            for (p, ppm) in [(Programme::Jkk, 20_000i64), (Programme::Jkm, 20_000), (Programme::Jht, 20_000), (Programme::Jp, 5_000)] {
                let total: i64 = quotes
                    .iter()
                    .flat_map(|q| q.lines.iter())
                    .filter(|l| l.programme == p && matches!(l.payer, Payer::Employer | Payer::Worker))
                    .map(|l| l.due.0)
                    .sum();
                // Half up, as rules/pu.toml's rounding says.
                hand += (total * ppm * late_months + 500_000) / 1_000_000;
            }
            proptest::prop_assert_eq!(fees.iter().map(|f| f.0).sum::<i64>(), hand);
            proptest::prop_assert_eq!(fees.len(), quotes.len());
        }
    }

    #[test]
    fn late_fees_by_hand_for_three_workers() {
        let r = rules();
        let two = ProgrammeSet::parse("JKK+JKM").unwrap();
        // Class 1, Rp3,341,667 each: JKK 8,020 and JKM 10,025 a worker. Paid one month late:
        // 2% of 24,060 = 481.2 → 481 and 2% of 30,075 = 601.5 → 602, shared back to the lines
        // by largest remainder (JKK 161, 160, 160; JKM 201, 201, 200). Line by line it was JKK
        // 3 × 160 = 480 and JKM 3 × 201 = 603: not what a hand calculation gives per programme.
        let q = dues(
            &r,
            m("2026-03"),
            1,
            Sector::NonTransport,
            Rupiah(3_341_667),
            two,
        )
        .unwrap();
        let fees = late_fees_of(&r, &[q.clone(), q.clone(), q], date!(2026 - 05 - 10));
        assert_eq!(fees.iter().map(|f| f.0).sum::<i64>(), 481 + 602);
        assert_eq!(fees, vec![Rupiah(362), Rupiah(361), Rupiah(360)]);
    }

    #[test]
    fn a_csv_report_is_read_line_by_line() {
        let text = "nik,name,birth_date,sex,village_code,occupation_code,basic_wage,fixed_allowances,programs,action\n\
                    3273015203900003,Siti,1990-03-12,P,32.73.01.1001,84,5000000,0,JKK+JKM,enrol\n\
                    3273014506850002,,,,,,4000000,,JKK+JKM,continue\n";
        let lines = parse_csv(text).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].line, lines[1].line), (2, 3));
        assert_eq!(lines[1].get("basic_wage"), "4000000");
        assert_eq!(parse_csv("nik,wage\n1,2\n").unwrap_err().rule, "csv.header");
    }

    #[test]
    fn payments_cover_the_oldest_dues_first() {
        let items = [100, 50, 0, 200];
        let on = |d: u8| date!(2026 - 03 - 01).replace_day(d).unwrap();
        assert_eq!(
            covered_on(&items, &[(on(1), 120), (on(5), 30), (on(9), 250)]),
            [Some(on(1)), Some(on(5)), Some(on(5)), Some(on(9))]
        );
        assert_eq!(
            covered_on(&items, &[(on(1), 149)]),
            [Some(on(1)), None, None, None]
        );
        assert_eq!(payment_code(1234).len(), 11);
    }
}
