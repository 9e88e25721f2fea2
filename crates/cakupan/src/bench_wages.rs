//! `cakupan bench wage-reports` (issue #23): employers' monthly wage reports and their payments
//! at national rates, on fresh databases, for employers of a given size.
//!
//! For each size, `workers` wage earners are spread over employers of that size. The first
//! month every worker is enrolled (the report registers them), each later month every worker is
//! reported again, some stop and as many new ones are enrolled, and each invoice is paid in
//! full in the month after. Reports and payments go through `Store::wage_report` and
//! `Store::employer_payment`, one transaction each, exactly as the API does, `--concurrency`
//! of them in flight at once (employers reporting at the same time); a month's reports, then
//! its payments, are timed from the first start to the last end. The baseline is checking the
//! same lines on their own (`WageReport::prepare`, no storage) in the same run.

use crate::Reference;
use crate::generate::{self, Rng};
use anyhow::{Context as _, Result, bail};
use cakupan_domain::employers::{SizeClass, WageLineInput, mandatory};
use cakupan_domain::month::parse_date;
use cakupan_domain::{Month, RegionCode};
use cakupan_store::Store;
use cakupan_store::employers::{Contact, Employer, EmployerPayment, WageReport};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The share of an employer's workers who stop (and are replaced) each month, as in `simulate`.
const MONTHLY_TURNOVER: f64 = 0.012;

/// One wage earner of the bench: the report's fields but the wage and the action.
struct Worker {
    fields: [String; 6],
    wage: i64,
}

fn line(w: &Worker, action: &str, programs: &str) -> Vec<String> {
    let full = action == "enrol";
    let pick = |i: usize| {
        if full {
            w.fields[i].clone()
        } else {
            String::new()
        }
    };
    let stop = action == "stop";
    vec![
        w.fields[0].clone(),
        pick(1),
        pick(2),
        pick(3),
        pick(4),
        pick(5),
        if stop {
            String::new()
        } else {
            w.wage.to_string()
        },
        if stop { String::new() } else { "0".into() },
        if stop { String::new() } else { programs.into() },
        action.into(),
    ]
}

/// What one size's run measured.
#[derive(Default)]
struct Measured {
    employers: usize,
    enrol_lines: usize,
    enrol_s: f64,
    lines: usize,
    report_s: f64,
    prepare_s: f64,
    paid: usize,
    pay_s: f64,
    payments: usize,
}

/// Wage earners from the generator's population (cached in `dir`): `n` of them, PU rows only.
fn workers(reference: &Reference, dir: &std::path::Path, n: usize) -> Result<Vec<Worker>> {
    let as_of = time::Date::from_calendar_date(2026, time::Month::November, 1)?;
    // About four in five generated rows are wage earners; ask for enough.
    let rows = (n as u64 * 3 / 2).max(1_000);
    let file = dir.join(format!("participants-{rows}-seed7-{as_of}.csv"));
    if !file.exists() {
        let tmp = file.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        generate::generate(&reference.regions, &reference.rules, rows, 7, as_of, &mut f)?;
        std::fs::rename(&tmp, &file)?;
    }
    let mut out = Vec::with_capacity(n);
    let mut rdr =
        csv::Reader::from_path(&file).with_context(|| format!("opening {}", file.display()))?;
    for rec in rdr.records() {
        let rec = rec?;
        let g = |i: usize| rec.get(i).unwrap_or("").to_string();
        if g(6) != "PU" || parse_date(&g(10)).is_none() {
            continue;
        }
        out.push(Worker {
            fields: [g(0), g(1), g(2), g(3), g(5), g(7)],
            wage: g(8).parse().unwrap_or(0),
        });
        if out.len() == n {
            return Ok(out);
        }
    }
    bail!("the generated population has fewer than {n} wage earners")
}

async fn one_size(
    store: Arc<dyn Store>,
    reference: &Reference,
    people: &[Worker],
    (workers, size, months): (usize, usize, u32),
    (today, concurrency): (time::Date, usize),
) -> Result<Measured> {
    let mut m = Measured::default();
    let mut rng = Rng::new(size as u64);
    let now = Month::of(today);
    let first = now.plus(-(i32::try_from(months).unwrap_or(i32::MAX)));
    let last = now.plus(-1);
    let class = match size {
        0..5 => SizeClass::Micro,
        5..20 => SizeClass::Small,
        20..100 => SizeClass::Medium,
        _ => SizeClass::Large,
    };
    let count = workers.div_ceil(size.max(1));
    let mut employed: Vec<Vec<usize>> = Vec::with_capacity(count);
    let mut employers = Vec::with_capacity(count);
    for i in 0..count {
        let village = &people[i * size].fields[4];
        let e = Employer {
            code: format!("93{:011}", i + 1),
            name: format!("PT Bangku Ukur {}", i + 1),
            size: class,
            risk_class: 1 + (i % 5) as u8,
            region: RegionCode::parse(village).map_err(|x| anyhow::anyhow!("{village}: {x}"))?,
            registered_on: first.plus(-12).first_day(),
            contact: Contact::default(),
        };
        store.add_employer(&e).await?;
        employers.push(e);
        employed.push((i * size..((i + 1) * size).min(workers)).collect());
    }
    m.employers = count;
    // New workers come from beyond the first `workers`.
    let mut spare = workers..people.len();
    for (k, month) in first.through(last).enumerate() {
        let mut reports = Vec::with_capacity(employers.len());
        let mut lines_of_month = 0;
        for (i, e) in employers.iter().enumerate() {
            let programs = mandatory(&reference.rules, e.size, month).to_string();
            let mut lines = Vec::new();
            if k == 0 {
                for &w in &employed[i] {
                    lines.push(line(&people[w], "enrol", &programs));
                }
            } else {
                let mut staying = Vec::with_capacity(employed[i].len());
                let mut stopped = 0;
                for &w in &employed[i] {
                    if rng.chance(MONTHLY_TURNOVER) {
                        lines.push(line(&people[w], "stop", &programs));
                        stopped += 1;
                    } else {
                        lines.push(line(&people[w], "continue", &programs));
                        staying.push(w);
                    }
                }
                for _ in 0..stopped {
                    if let Some(w) = spare.next() {
                        lines.push(line(&people[w], "enrol", &programs));
                        staying.push(w);
                    }
                }
                employed[i] = staying;
            }
            let inputs: Vec<WageLineInput> = lines
                .into_iter()
                .enumerate()
                .map(|(n, fields)| WageLineInput {
                    line: n as u64 + 2,
                    fields,
                })
                .collect();
            lines_of_month += inputs.len();
            let t = Instant::now();
            reports.push(WageReport::prepare(
                &reference.rules,
                &reference.regions,
                e,
                month,
                &inputs,
                today,
                false,
                "bench",
            ));
            m.prepare_s += t.elapsed().as_secs_f64();
        }
        // The month's reports, `concurrency` in flight at once as the API would take them.
        let t = Instant::now();
        let rules = reference.rules.clone();
        let outs =
            crate::employers::in_parallel(store.clone(), reports, concurrency, move |s, r| {
                let rules = rules.clone();
                async move { Ok(s.wage_report(&rules, &r, true).await?) }
            })
            .await?;
        let took = t.elapsed().as_secs_f64();
        // After each month's reports and each month's payments, untimed, the store's
        // after-load step, as `import` runs it and as autovacuum would: the server's
        // statistics refreshed when what was written reaches a tenth of the tables (a fresh
        // PostgreSQL database has none, and its plans for the first month's payments read
        // whole tables once the registry holds a few hundred thousand people).
        store.after_bulk_load(lines_of_month as u64).await?;
        if k == 0 {
            m.enrol_lines += lines_of_month;
            m.enrol_s += took;
        } else {
            m.lines += lines_of_month;
            m.report_s += took;
        }
        let mut payments = Vec::with_capacity(outs.len());
        for (e, out) in employers.iter().zip(outs) {
            if out.plan.blocked {
                let p = out.plan.problems.first();
                bail!(
                    "employer {} {month}: the report was refused ({} problems; first: {:?})",
                    e.code,
                    out.plan.problems.len(),
                    p.map(|p| (&p.field, p.rule, &p.message))
                );
            }
            let Some(inv) = out.invoice else {
                bail!("employer {} {month}: a report without an invoice", e.code)
            };
            let Some(on) = month.plus(1).day(5).filter(|d| *d <= today) else {
                continue;
            };
            payments.push(EmployerPayment {
                reference: format!("BENCH-{}-{month}", e.code),
                employer_code: e.code.clone(),
                amount: inv.head.total,
                paid_on: on,
                payment_code: Some(inv.payment_code.clone()),
                recorded_by: "bench".into(),
            });
        }
        let t = Instant::now();
        m.payments += payments.len();
        let rules = reference.rules.clone();
        let paid =
            crate::employers::in_parallel(store.clone(), payments, concurrency, move |s, p| {
                let rules = rules.clone();
                async move { Ok(s.employer_payment(&rules, &p).await?) }
            })
            .await?;
        m.pay_s += t.elapsed().as_secs_f64();
        let lines_paid = paid.iter().map(|p| p.lines_paid).sum::<usize>();
        store.after_bulk_load(lines_paid as u64).await?;
        m.paid += lines_paid;
    }
    Ok(m)
}

/// Runs the bench for every size in `sizes` (workers per employer).
pub async fn wages_bench(
    (db, pg_pool): (&str, u32),
    keys: Arc<cakupan_store::crypto::Keys>,
    reference: &Reference,
    (sizes, workers, months, concurrency): (&[u64], u64, u32, usize),
    (work_dir, keep): (Option<PathBuf>, bool),
) -> Result<()> {
    let dir = work_dir.unwrap_or_else(|| std::env::temp_dir().join("cakupan-bench"));
    std::fs::create_dir_all(&dir)?;
    let workers = usize::try_from(workers)?;
    if months < 2 {
        bail!("--months must be at least 2: one month enrols, the next ones are measured");
    }
    let mut people = workers_for(reference, &dir, workers, months)?;
    // An employer's workers live near it, as in `simulate`: the first `workers` in village
    // order, then the newcomers.
    people[..workers].sort_by(|a, b| a.fields[4].cmp(&b.fields[4]));
    let today = cakupan_app::today_wib();
    println!(
        "| backend | workers per employer | employers | in flight | enrol month (lines/s) | later months: lines | lines/s | checking alone (lines/s) | report ÷ checking | worker-months paid | paid/s | verify |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for &size in sizes {
        let (url, cleanup) = crate::bench::fresh_db(
            db,
            &dir,
            "cakupan_bench_wages",
            &format!("wages-{size}-{}.db", std::process::id()),
        )
        .await?;
        let store = crate::store::open(&url, pg_pool, keys.clone()).await?;
        store.ensure_regions(&reference.regions).await?;
        let m = one_size(
            store.clone(),
            reference,
            &people,
            (workers, usize::try_from(size)?.max(1), months),
            (today, concurrency),
        )
        .await?;
        let same = crate::ledger::verify(store.as_ref(), reference).await?;
        drop(store);
        let check = (m.enrol_lines + m.lines) as f64 / m.prepare_s.max(1e-9);
        let rate = m.lines as f64 / m.report_s.max(1e-9);
        println!(
            "| {} | {size} | {} | {concurrency} | {:.0} | {} | {:.0} | {:.0} | {:.1}× the time | {} | {:.0} | {} |",
            if db.starts_with("postgres") {
                "postgres"
            } else {
                "sqlite"
            },
            m.employers,
            m.enrol_lines as f64 / m.enrol_s.max(1e-9),
            m.lines,
            rate,
            check,
            check / rate.max(1e-9),
            m.paid,
            m.paid as f64 / m.pay_s.max(1e-9),
            if same { "0 differences" } else { "DIFFERENT" },
        );
        eprintln!(
            "  {size}: {} payments in {:.1} s, reports {:.1} s (enrol month {:.1} s)",
            m.payments, m.pay_s, m.report_s, m.enrol_s
        );
        if keep {
            eprintln!("  kept: {}", crate::store::redact(&url));
        } else {
            crate::bench::drop_fresh(db, &url, cleanup).await?;
        }
        if !same {
            bail!("the counters differ from the ledger after the run");
        }
    }
    Ok(())
}

/// The bench's population: `workers` and the newcomers of `months` of turnover.
fn workers_for(
    reference: &Reference,
    dir: &std::path::Path,
    workers: usize,
    months: u32,
) -> Result<Vec<Worker>> {
    let extra = (workers as f64 * MONTHLY_TURNOVER * 2.0 * f64::from(months)) as usize + 100;
    self::workers(reference, dir, workers + extra)
}
