//! `cakupan employer …`: the employer channel from the command line (issue #7), with the same
//! checks as the API (the operator acts as head office); and the simulation of employers of
//! every size sending monthly wage reports and paying them, over the simulated wage earners.

use crate::Reference;
use crate::generate::Rng;
use anyhow::{Context as _, Result, anyhow, bail};
use cakupan_app::employers as service;
use cakupan_domain::employers::{SizeClass, WageLineInput, mandatory, parse_csv};
use cakupan_domain::month::{format_date, parse_date};
use cakupan_domain::{Month, RegionCode};
use cakupan_store::employers::{Contact, Employer, EmployerInput, EmployerPayment, WageReport};
use cakupan_store::{Store, StoreError};
use clap::Subcommand;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use time::Date;

#[derive(Debug, Subcommand)]
pub enum EmployerCommand {
    /// Register an employer (the same one again changes nothing).
    Add {
        /// The business registration number (NIB), 13 digits.
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// micro, small, medium or large.
        #[arg(long)]
        size: String,
        /// JKK risk class 1–5.
        #[arg(long)]
        risk_class: String,
        /// The village of its address.
        #[arg(long)]
        region: String,
        /// YYYY-MM-DD (default: today).
        #[arg(long)]
        registered_on: Option<String>,
        #[arg(long)]
        contact_name: Option<String>,
        #[arg(long)]
        contact_phone: Option<String>,
        #[arg(long)]
        contact_email: Option<String>,
    },
    /// The employers of a region (default: all), with what they owe; --arrears keeps those
    /// with dues past their due date.
    List {
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        arrears: bool,
    },
    /// Check (--preview) or submit a month's wage report from a CSV file: every problem by
    /// line; nothing billed while there are any, unless --confirm-valid-part.
    Report {
        code: String,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        preview: bool,
        #[arg(long)]
        confirm_valid_part: bool,
    },
    /// Record money received from an employer (applied to its oldest dues first).
    Pay {
        code: String,
        #[arg(long)]
        reference: String,
        #[arg(long)]
        amount: i64,
        /// YYYY-MM-DD (default: today).
        #[arg(long)]
        paid_on: Option<String>,
        #[arg(long)]
        payment_code: Option<String>,
    },
    /// An employer's invoices, payments and standing.
    Account { code: String },
    /// One invoice's lines.
    Invoice {
        code: String,
        #[arg(long)]
        month: String,
    },
}

fn rejected(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Rejected(errs) => {
            for x in errs.iter() {
                eprintln!("error: {x}");
            }
            anyhow!("refused: nothing stored")
        }
        other => other.into(),
    }
}

fn rp(v: i64) -> String {
    cakupan_domain::Rupiah(v).to_string()
}

pub async fn run(store: Arc<dyn Store>, reference: &Reference, cmd: EmployerCommand) -> Result<()> {
    let st = crate::agents::operations(store.clone(), reference)?;
    let today = (st.today)();
    let find = |code: String| {
        let store = store.clone();
        async move {
            store
                .employer(code.trim())
                .await?
                .with_context(|| format!("no employer is registered with NIB {}", code.trim()))
        }
    };
    match cmd {
        EmployerCommand::Add {
            code,
            name,
            size,
            risk_class,
            region,
            registered_on,
            contact_name,
            contact_phone,
            contact_email,
        } => {
            let input = EmployerInput {
                code,
                name,
                size,
                risk_class,
                region,
                registered_on: registered_on.unwrap_or_default(),
                contact_name: contact_name.unwrap_or_default(),
                contact_phone: contact_phone.unwrap_or_default(),
                contact_email: contact_email.unwrap_or_default(),
            };
            // The one path of the API and the pages: checked, allowed, stored, audited.
            let (e, created) = cakupan_app::employers::add_employer(
                &st,
                &crate::accounts::cli_admin(),
                "cli",
                &input,
            )
            .await
            .map_err(crate::agents::api)?;
            if created {
                println!(
                    "Employer {} registered: {}, {}, JKK risk class {}.",
                    e.code,
                    e.name,
                    e.size.as_str(),
                    e.risk_class
                );
            } else {
                println!(
                    "Employer {} was already registered with these details.",
                    e.code
                );
            }
        }
        EmployerCommand::List { region, arrears } => {
            let within = match region {
                None => RegionCode::NATION,
                Some(r) => RegionCode::parse(&r).map_err(|e| anyhow!("--region: {e}"))?,
            };
            let list = service::summaries(
                &st,
                &cakupan_store::employers::EmployerQuery::all(within, arrears),
            )
            .await
            .map_err(crate::agents::api)?;
            println!(
                "{:<13} {:<34} {:<6} {:>5} {:>7} {:<8} {:>15} {:<8}",
                "nib", "name", "size", "class", "workers", "last", "overdue", "since"
            );
            for s in &list.rows {
                println!(
                    "{:<13} {:<34} {:<6} {:>5} {:>7} {:<8} {:>15} {:<8}",
                    s.employer.code,
                    s.employer.name.chars().take(34).collect::<String>(),
                    s.employer.size.as_str(),
                    s.employer.risk_class,
                    s.workers,
                    s.last_month.map(|m| m.to_string()).unwrap_or_default(),
                    rp(s.standing.overdue.0),
                    s.standing
                        .oldest_overdue
                        .map(|m| m.to_string())
                        .unwrap_or_default()
                );
            }
            println!("{} employers.", list.total);
        }
        EmployerCommand::Report {
            code,
            month,
            file,
            preview,
            confirm_valid_part,
        } => {
            let e = find(code).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("--file {}", file.display()))?;
            let lines = parse_csv(&text).map_err(|p| {
                anyhow!(
                    "--file line {}: {} [{}] {}",
                    p.line,
                    p.field,
                    p.rule,
                    p.message
                )
            })?;
            let out =
                service::run_report(&st, &e, "cli", &month, &lines, preview, confirm_valid_part)
                    .await
                    .map_err(crate::agents::api)?;
            let p = &out.plan;
            for x in &p.problems {
                eprintln!("line {} {} [{}]: {}", x.line, x.field, x.rule, x.message);
            }
            let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
            for d in &p.diff {
                *kinds
                    .entry(
                        serde_json::to_value(d.change)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                    )
                    .or_default() += 1;
            }
            println!(
                "{} {}: {} workers billed, {} stopped; changes {:?}",
                e.code, p.month, p.workers_billed, p.workers_stopped, kinds
            );
            println!(
                "contributions {} (employer {}, worker {}), late fees carried {}, total {}, due {}",
                rp(p.contributions.0),
                rp(p.employer_share.0),
                rp(p.worker_share.0),
                rp(p.fees_carried.0),
                rp(p.total.0),
                p.due_on.map(format_date).unwrap_or_default()
            );
            if p.repeat_of.is_some() {
                println!("This report was already submitted: its invoice is unchanged.");
            }
            if p.blocked {
                bail!(
                    "nothing billed: {} problem(s); correct the file, or pass --confirm-valid-part to bill the valid lines",
                    p.problems.len()
                );
            }
            match &out.invoice {
                Some(i) => println!(
                    "Invoice {} — payment code {}, due {}, {} lines left out, {} worker-months paid at once from credit.",
                    i.head.month,
                    i.payment_code,
                    format_date(i.head.due_on),
                    p.lines_left_out,
                    out.lines_paid
                ),
                None => println!("Checked (--preview): nothing was written."),
            }
        }
        EmployerCommand::Pay {
            code,
            reference: r,
            amount,
            paid_on,
            payment_code,
        } => {
            let e = find(code).await?;
            let on = paid_on.unwrap_or_else(|| format_date(today));
            let (out, s) =
                service::record_payment(&st, &e, "cli", &r, amount, &on, payment_code.as_deref())
                    .await
                    .map_err(crate::agents::api)?;
            if out.repeat {
                println!("This payment was already recorded: nothing changed.");
            } else {
                println!(
                    "Recorded: {} worker-months paid and posted, late fees {} (billed next), {} invoices settled.",
                    out.lines_paid,
                    rp(out.late_fees.0),
                    out.invoices_settled
                );
            }
            println!(
                "Standing: outstanding {}, overdue {}, credit {}.",
                rp(s.outstanding.0),
                rp(s.overdue.0),
                rp(s.credit.0)
            );
        }
        EmployerCommand::Account { code } => {
            let e = find(code).await?;
            let a = store
                .employer_account(&e.code, today)
                .await?
                .context("the employer disappeared")?;
            let s = &a.standing;
            println!(
                "{} {} — {}, risk class {}, {} workers",
                e.code,
                e.name,
                e.size.as_str(),
                e.risk_class,
                a.workers
            );
            println!(
                "billed {}, paid {}, outstanding {}, overdue {}{}, credit {}, late fees to bill {}",
                rp(s.billed.0),
                rp(s.paid.0),
                rp(s.outstanding.0),
                rp(s.overdue.0),
                s.oldest_overdue
                    .map(|m| format!(" (since {m})"))
                    .unwrap_or_default(),
                rp(s.credit.0),
                rp(s.unbilled_fees.0)
            );
            println!(
                "{:<8} {:<12} {:<10} {:>14} {:>12} {:>14} {:>14}",
                "month", "code", "due", "total", "fees", "paid", "outstanding"
            );
            for i in &a.invoices {
                println!(
                    "{:<8} {:<12} {:<10} {:>14} {:>12} {:>14} {:>14}{}",
                    i.head.month.to_string(),
                    i.payment_code,
                    format_date(i.head.due_on),
                    rp(i.head.total.0),
                    rp(i.head.fees_carried.0),
                    rp(i.paid.0),
                    rp(i.outstanding.0),
                    if i.overdue { "  overdue" } else { "" }
                );
            }
            for p in &a.payments {
                println!(
                    "paid {} {} ({})",
                    format_date(p.paid_on),
                    rp(p.amount.0),
                    p.reference
                );
            }
        }
        EmployerCommand::Invoice { code, month } => {
            let e = find(code).await?;
            let m = Month::parse(month.trim()).map_err(|x| anyhow!("--month: {x}"))?;
            let (inv, people) = store
                .employer_invoice(&e.code, m)
                .await?
                .with_context(|| format!("no invoice for {m}"))?;
            println!(
                "{} {} — payment code {}, due {}, risk class {}, total {} (late fees carried {})",
                e.code,
                m,
                inv.payment_code(),
                format_date(inv.due_on),
                inv.risk_class,
                rp(inv.total.0),
                rp(inv.fees_carried.0)
            );
            for l in &inv.lines {
                let p = people.iter().find(|p| p.id == l.participant_id);
                println!(
                    "{:>4} {:<12} {:<18} {:>14} {:<20} {:>12} {:>12} {:>12} {:<10} {:>10}",
                    l.position,
                    p.map(|p| p.kpj.clone()).unwrap_or_default(),
                    p.map(|p| p.registration.nik.masked()).unwrap_or_default(),
                    rp(l.wage.0),
                    l.programmes.to_string(),
                    rp(l.amount.0),
                    rp(l.employer_share.0),
                    rp(l.worker_share.0),
                    l.paid_on
                        .map(format_date)
                        .unwrap_or_else(|| "unpaid".into()),
                    rp(l.late_fee.0)
                );
            }
        }
    }
    Ok(())
}

/// A simulated wage earner, from participants.csv.
#[derive(Debug, Clone)]
struct Worker {
    registered: Month,
    wage: i64,
}

/// How a simulated employer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Habit {
    /// By the due date, in full.
    OnTime,
    /// In full, this many months after the invoice month's following month.
    Late(i32),
    /// Four fifths of each invoice, on time.
    Partly,
    /// On time until this month, then nothing.
    StopsIn(Month),
}

struct SimEmployer {
    e: Employer,
    habit: Habit,
    employed: Vec<usize>,
}

/// What a simulated season of wage reports did.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimSummary {
    pub employers: usize,
    pub by_size: [usize; 4],
    pub reports: usize,
    pub lines: usize,
    pub blocked: usize,
    pub stops: usize,
    pub payments: usize,
    pub worker_months_paid: usize,
    pub in_arrears: usize,
    pub seconds: f64,
}

const FIRM_WORDS: &[&str] = &[
    "Sinar",
    "Maju",
    "Jaya",
    "Abadi",
    "Sentosa",
    "Makmur",
    "Bersama",
    "Karya",
    "Mandiri",
    "Nusantara",
    "Cahaya",
    "Mitra",
    "Sejahtera",
    "Utama",
    "Prima",
    "Harapan",
    "Berkah",
    "Mulia",
    "Indah",
    "Lestari",
];
const FIRM_TRADES: &[&str] = &[
    "Tekstil",
    "Logistik",
    "Pangan",
    "Konstruksi",
    "Niaga",
    "Plastik",
    "Perikanan",
    "Kopi",
    "Kayu",
    "Elektrik",
    "Garmen",
    "Farma",
    "Teknik",
    "Agro",
    "Grafika",
];

/// What `cakupan import wage-reports` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct WageImportSummary {
    pub files: usize,
    /// Reports stored and billed.
    pub billed: usize,
    /// Reports already submitted (the same file again): nothing changed.
    pub repeats: usize,
    /// Reports with problems: nothing billed, the problems beside the file.
    pub refused: usize,
    /// Later months of an employer whose earlier report was refused: not submitted.
    pub skipped: usize,
    /// Lines of the billed reports.
    pub lines: usize,
    /// Worker-months paid at once from the employers' credit.
    pub worker_months_paid: usize,
    pub seconds: f64,
    pub lines_per_second: f64,
}

/// One file of the directory: `NIB_YYYY-MM.csv`.
struct WageFile {
    path: PathBuf,
    code: String,
    month: Month,
}

/// The error file written beside a refused report: `NIB_YYYY-MM.csv.errors.csv`.
fn errors_beside(path: &std::path::Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".errors.csv");
    PathBuf::from(name)
}

/// `cakupan import wage-reports DIR` (issue #23): every `NIB_YYYY-MM.csv` in `dir` submitted as
/// that employer's wage report of that month, through the path of `employer report` and the
/// API (the same checks, rules and messages), for migrations and back-loads. Nothing is
/// written unless every file is named so, names a registered employer and reads as a wage
/// report (each fault named with its file and line). Each employer's months go in order,
/// `concurrency` employers at once; a report with problems bills nothing, its problems go to
/// `FILE.errors.csv` and that employer's later months wait. Running it again is safe: a file
/// already submitted is a repeat and changes nothing.
pub async fn import_wage_reports(
    store: Arc<dyn Store>,
    reference: &Reference,
    dir: &std::path::Path,
    concurrency: usize,
) -> Result<WageImportSummary> {
    let started = std::time::Instant::now();
    let mut files = Vec::new();
    let mut faults = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("DIR {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(String::from) else {
            continue;
        };
        if !name.ends_with(".csv") || name.ends_with(".errors.csv") || !path.is_file() {
            continue;
        }
        let stem = &name[..name.len() - 4];
        let parsed = stem.split_once('_').and_then(|(code, month)| {
            let ok = code.len() == 13 && code.bytes().all(|b| b.is_ascii_digit());
            Some((code.to_string(), Month::parse(month).ok().filter(|_| ok)?))
        });
        match parsed {
            Some((code, month)) => files.push(WageFile { path, code, month }),
            None => faults.push(format!(
                "{name}: a wage report's file is named NIB_YYYY-MM.csv (the employer's 13-digit NIB and the month, e.g. 9120001234567_2026-10.csv)"
            )),
        }
    }
    files.sort_by(|a, b| (&a.code, a.month).cmp(&(&b.code, b.month)));
    let mut employers: BTreeMap<String, Employer> = BTreeMap::new();
    // Each file is read here to check it and again when it is submitted, so that memory holds
    // one file at a time whatever the size of the directory.
    let mut reports: BTreeMap<String, Vec<WageFile>> = BTreeMap::new();
    for f in files {
        let name = f.path.display().to_string();
        if !employers.contains_key(&f.code) {
            match store.employer(&f.code).await? {
                Some(e) => {
                    employers.insert(f.code.clone(), e);
                }
                None => {
                    faults.push(format!(
                        "{name}: no employer is registered with NIB {}",
                        f.code
                    ));
                    continue;
                }
            }
        }
        let text = match std::fs::read_to_string(&f.path) {
            Ok(t) => t,
            Err(e) => {
                faults.push(format!("{name}: {e}"));
                continue;
            }
        };
        match parse_csv(&text) {
            Ok(_) => reports.entry(f.code.clone()).or_default().push(f),
            Err(p) => faults.push(format!(
                "{name} line {}: {} [{}] {}",
                p.line, p.field, p.rule, p.message
            )),
        }
    }
    if !faults.is_empty() {
        bail!(
            "nothing imported: {} file(s) cannot be read as wage reports:\n{}",
            faults.len(),
            faults.join("\n")
        );
    }
    let st = Arc::new(crate::agents::operations(store.clone(), reference)?);
    let work: Vec<(Employer, Vec<WageFile>)> = reports
        .into_iter()
        .filter_map(|(code, r)| Some((employers.remove(&code)?, r)))
        .collect();
    let mut sum = WageImportSummary::default();
    let per_employer = in_parallel(store, work, concurrency, move |_, (e, months)| {
        let st = st.clone();
        async move {
            let mut sum = WageImportSummary::default();
            let mut refused = false;
            for f in months {
                sum.files += 1;
                if refused {
                    sum.skipped += 1;
                    continue;
                }
                let name = f.path.display().to_string();
                let text = std::fs::read_to_string(&f.path).with_context(|| name.clone())?;
                let lines = parse_csv(&text).map_err(|p| {
                    anyhow!(
                        "{name} line {}: {} [{}] {}",
                        p.line,
                        p.field,
                        p.rule,
                        p.message
                    )
                })?;
                let month = f.month.to_string();
                let out = service::run_report(&st, &e, "import", &month, &lines, false, false)
                    .await
                    .map_err(crate::agents::api)
                    .with_context(|| name.clone())?;
                let errors = errors_beside(&f.path);
                if out.plan.blocked {
                    let mut w = csv::Writer::from_path(&errors)
                        .with_context(|| errors.display().to_string())?;
                    w.write_record(["line", "field", "rule", "message"])?;
                    for p in &out.plan.problems {
                        w.write_record([
                            p.line.to_string().as_str(),
                            p.field.as_str(),
                            p.rule,
                            p.message.as_str(),
                        ])?;
                    }
                    w.flush()?;
                    sum.refused += 1;
                    refused = true;
                    continue;
                }
                if errors.exists() {
                    std::fs::remove_file(&errors).with_context(|| errors.display().to_string())?;
                }
                if out.plan.repeat_of.is_some() {
                    sum.repeats += 1;
                } else {
                    sum.billed += 1;
                    sum.lines += lines.len();
                    sum.worker_months_paid += out.lines_paid;
                }
            }
            Ok(sum)
        }
    })
    .await?;
    for s in per_employer {
        sum.files += s.files;
        sum.billed += s.billed;
        sum.repeats += s.repeats;
        sum.refused += s.refused;
        sum.skipped += s.skipped;
        sum.lines += s.lines;
        sum.worker_months_paid += s.worker_months_paid;
    }
    sum.seconds = started.elapsed().as_secs_f64();
    sum.lines_per_second = sum.lines as f64 / sum.seconds.max(1e-9);
    Ok(sum)
}

/// Runs `work` on every item, `k` at a time, each with the store, and returns the results in
/// the items' order; the first failure stops the run (`import wage-reports`, and the wage
/// reports' bench, where each is a transaction of its own as employers' reports reaching the
/// API at the same time are).
pub(crate) async fn in_parallel<T, R, F, Fut>(
    store: Arc<dyn Store>,
    items: Vec<T>,
    k: usize,
    work: F,
) -> Result<Vec<R>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(Arc<dyn Store>, T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<R>> + Send + 'static,
{
    let queue = Arc::new(std::sync::Mutex::new(
        items
            .into_iter()
            .enumerate()
            .collect::<std::collections::VecDeque<_>>(),
    ));
    let work = Arc::new(work);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..k.max(1) {
        let (queue, work, store) = (queue.clone(), work.clone(), store.clone());
        set.spawn(async move {
            let mut done = Vec::new();
            while let Some((i, item)) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                done.push((i, work(store.clone(), item).await?));
            }
            Ok::<_, anyhow::Error>(done)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.extend(r??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// The simulation's labour market: the chance that a wage earner leaves their employer in a
/// month, and that one who left is hired by another employer of the regency two months on.
const MONTHLY_STOP: f64 = 0.012;
const REHIRED: f64 = 0.3;

/// Employers of every size over the wage earners of `people` (participants.csv), sending
/// their monthly wage reports for the `months` months before today's and paying them with
/// realistic habits (mostly on time; some late, some partly, a few stopping), all through the
/// store's own wage-report and payment paths. Workers registered before the window are
/// enrolled in its first month, later ones in their registration month; some leave each month
/// (a stop) and some of those are enrolled again by another employer of their regency.
pub async fn simulate(
    store: Arc<dyn Store>,
    reference: &Reference,
    people: &std::path::Path,
    seed: u64,
    today: Date,
    months: u32,
) -> Result<SimSummary> {
    let started = std::time::Instant::now();
    let mut rng = Rng::new(seed ^ 0xe3b0_c442);
    let now = Month::of(today);
    let first = now.plus(-(i32::try_from(months).unwrap_or(i32::MAX)));
    let last = now.plus(-1);
    let mut workers: Vec<Worker> = Vec::new();
    let mut lines_of: Vec<[String; 6]> = Vec::new();
    let mut by_regency: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut rdr =
        csv::Reader::from_path(people).with_context(|| format!("opening {}", people.display()))?;
    for rec in rdr.records() {
        let rec = rec?;
        let g = |i: usize| rec.get(i).unwrap_or("").to_string();
        if g(6) != "PU" {
            continue;
        }
        let Some(registered) = parse_date(&g(10)).map(Month::of) else {
            continue;
        };
        if registered > last {
            continue; // registered this month: the first report comes next month
        }
        let village = g(5);
        by_regency
            .entry(village.get(..5).unwrap_or("").to_string())
            .or_default()
            .push(workers.len());
        workers.push(Worker {
            registered,
            wage: g(8).parse().unwrap_or(0),
        });
        lines_of.push([g(1), g(2), g(3), village, g(7), g(0)]);
    }
    let mut sum = SimSummary::default();
    // Employers per regency, sized so that most wage earners work for medium and large ones.
    let mut employers: Vec<SimEmployer> = Vec::new();
    let mut hire: Vec<Option<usize>> = vec![None; workers.len()];
    for (regency, idx) in &by_regency {
        // Wage earners registered before the window have had the months since to leave their
        // employer at the same rate as inside it: those gone (and not hired elsewhere) are in
        // no report, registered but not paid for.
        let stay = 1.0 - MONTHLY_STOP * (1.0 - REHIRED);
        let mut idx: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&w| {
                let before = first.index() - workers[w].registered.index();
                before <= 0 || rng.chance(stay.powi(before))
            })
            .collect();
        for i in (1..idx.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            idx.swap(i, j);
        }
        let digits: String = regency.chars().filter(char::is_ascii_digit).collect();
        let mut at = 0;
        let mut serial = 0;
        while at < idx.len() {
            let size = *rng.pick(&[
                (SizeClass::Micro, 10),
                (SizeClass::Small, 15),
                (SizeClass::Medium, 25),
                (SizeClass::Large, 50),
            ]);
            let (lo, hi): (u64, u64) = match size {
                SizeClass::Micro => (1, 4),
                SizeClass::Small => (5, 19),
                SizeClass::Medium => (20, 99),
                SizeClass::Large => (100, 400),
            };
            let n = ((lo + rng.below(hi - lo + 1)) as usize).min(idx.len() - at);
            serial += 1;
            let code = format!("91{digits:0>4}{serial:07}");
            let village = lines_of[idx[at]][3].clone();
            let name = format!(
                "{} {} {}",
                rng.pick(&[("PT", 6), ("CV", 3), ("UD", 1)]),
                FIRM_WORDS[rng.below(FIRM_WORDS.len() as u64) as usize],
                FIRM_TRADES[rng.below(FIRM_TRADES.len() as u64) as usize]
            );
            let e = Employer {
                code,
                name,
                size,
                risk_class: *rng.pick(&[(1u8, 30), (2, 30), (3, 20), (4, 12), (5, 8)]),
                region: RegionCode::parse(&village).map_err(|x| anyhow!("{village}: {x}"))?,
                registered_on: first.plus(-12).first_day(),
                contact: Contact::default(),
            };
            let habit = match rng.below(100) {
                0..75 => Habit::OnTime,
                75..87 => Habit::Late(1 + rng.below(2) as i32),
                87..95 => Habit::Partly,
                _ => Habit::StopsIn(first.plus(rng.below(u64::from(months.max(1))) as i32)),
            };
            for &w in &idx[at..at + n] {
                hire[w] = Some(employers.len());
            }
            sum.by_size[size as usize] += 1;
            employers.push(SimEmployer {
                e,
                habit,
                employed: Vec::new(),
            });
            at += n;
        }
    }
    for s in &employers {
        store.add_employer(&s.e).await.map_err(rejected)?;
    }
    sum.employers = employers.len();
    // Who is enrolled when: workers registered before the window in its first month.
    let mut joins: HashMap<Month, Vec<(usize, usize)>> = HashMap::new();
    for (w, emp) in hire.iter().enumerate() {
        if let Some(emp) = emp {
            joins
                .entry(workers[w].registered.max(first))
                .or_default()
                .push((*emp, w));
        }
    }
    let by_regency_employers: HashMap<RegionCode, Vec<usize>> = {
        let mut m: HashMap<RegionCode, Vec<usize>> = HashMap::new();
        for (i, s) in employers.iter().enumerate() {
            m.entry(s.e.region.truncate(cakupan_domain::Level::Regency))
                .or_default()
                .push(i);
        }
        m
    };
    for m in first.through(last) {
        let mut enrol_now: HashMap<usize, Vec<usize>> = HashMap::new();
        for (emp, w) in joins.remove(&m).unwrap_or_default() {
            enrol_now.entry(emp).or_default().push(w);
        }
        for (i, s) in employers.iter_mut().enumerate() {
            let required = mandatory(&reference.rules, s.e.size, m);
            let programs = required.to_string();
            let mut lines = Vec::new();
            let mut staying = Vec::new();
            let line = |w: usize, action: &str, wage: i64, full: bool| {
                let l = &lines_of[w];
                let (name, birth, sex, village, occ) = if full {
                    (
                        l[0].clone(),
                        l[1].clone(),
                        l[2].clone(),
                        l[3].clone(),
                        l[4].clone(),
                    )
                } else {
                    Default::default()
                };
                vec![
                    l[5].clone(),
                    name,
                    birth,
                    sex,
                    village,
                    occ,
                    if action == "stop" {
                        String::new()
                    } else {
                        wage.to_string()
                    },
                    if action == "stop" {
                        String::new()
                    } else {
                        "0".into()
                    },
                    if action == "stop" {
                        String::new()
                    } else {
                        programs.clone()
                    },
                    action.to_string(),
                ]
            };
            for &w in &s.employed {
                if rng.chance(MONTHLY_STOP) {
                    lines.push(line(w, "stop", 0, false));
                    sum.stops += 1;
                    // Some find work with another employer of the regency two months on.
                    if rng.chance(REHIRED)
                        && let Some(others) = by_regency_employers
                            .get(&s.e.region.truncate(cakupan_domain::Level::Regency))
                    {
                        let other = others[rng.below(others.len() as u64) as usize];
                        if other != i && m.plus(2) <= last {
                            joins.entry(m.plus(2)).or_default().push((other, w));
                        }
                    }
                } else {
                    if m.month() == 1 {
                        workers[w].wage = (workers[w].wage * 105 / 100) / 1_000 * 1_000;
                    }
                    lines.push(line(w, "continue", workers[w].wage, false));
                    staying.push(w);
                }
            }
            for w in enrol_now.remove(&i).unwrap_or_default() {
                lines.push(line(w, "enrol", workers[w].wage, true));
                staying.push(w);
            }
            s.employed = staying;
            if lines.is_empty() {
                continue;
            }
            let inputs: Vec<WageLineInput> = lines
                .into_iter()
                .enumerate()
                .map(|(k, fields)| WageLineInput {
                    line: k as u64 + 2,
                    fields,
                })
                .collect();
            sum.lines += inputs.len();
            let report = WageReport::prepare(
                &reference.rules,
                &reference.regions,
                &s.e,
                m,
                &inputs,
                today,
                false,
                "simulation",
            );
            let out = store
                .wage_report(&reference.rules, &report, true)
                .await
                .map_err(rejected)?;
            sum.reports += 1;
            if out.plan.blocked {
                sum.blocked += 1;
                if sum.blocked <= 3 {
                    for p in out.plan.problems.iter().take(3) {
                        eprintln!(
                            "simulation: {} {m} line {} {} [{}]: {}",
                            s.e.code, p.line, p.field, p.rule, p.message
                        );
                    }
                }
                continue;
            }
            let Some(inv) = out.invoice else { continue };
            let (pay_month, share) = match s.habit {
                Habit::OnTime => (Some(m.plus(1)), 100),
                Habit::Late(k) => (Some(m.plus(1 + k)), 100),
                Habit::Partly => (Some(m.plus(1)), 80),
                Habit::StopsIn(stop) if m < stop => (Some(m.plus(1)), 100),
                Habit::StopsIn(_) => (None, 0),
            };
            let Some(pm) = pay_month else { continue };
            let day = match s.habit {
                Habit::Late(_) => 1 + rng.below(27) as u8,
                _ => 3 + rng.below(12) as u8,
            };
            let Some(on) = pm.day(day).filter(|d| *d <= today) else {
                continue;
            };
            let amount = if share == 100 {
                inv.head.total.0
            } else {
                inv.head.total.0 * share / 100 / 1_000 * 1_000
            };
            if amount <= 0 {
                continue;
            }
            let paid = store
                .employer_payment(
                    &reference.rules,
                    &EmployerPayment {
                        reference: format!("SIM-{}-{m}", s.e.code),
                        employer_code: s.e.code.clone(),
                        amount: cakupan_domain::Rupiah(amount),
                        paid_on: on,
                        payment_code: Some(inv.payment_code.clone()),
                        recorded_by: "simulation".into(),
                    },
                )
                .await
                .map_err(rejected)?;
            sum.payments += 1;
            sum.worker_months_paid += paid.lines_paid;
        }
    }
    sum.in_arrears = store
        .employer_summaries(
            &cakupan_store::employers::EmployerQuery {
                limit: Some(0),
                ..cakupan_store::employers::EmployerQuery::all(RegionCode::NATION, true)
            },
            today,
        )
        .await?
        .total as usize;
    sum.seconds = started.elapsed().as_secs_f64();
    Ok(sum)
}
