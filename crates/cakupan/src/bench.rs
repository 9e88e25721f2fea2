//! `cakupan bench`: reproducible measurements, each reported with a baseline from the same
//! run (these machines are shared and noisy, so ratios travel better than absolute numbers).

use crate::{Reference, generate, import};
use anyhow::{Context as _, Result, bail};
use cakupan_app::today_wib;
use clap::Subcommand;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Import participants.csv files of the given sizes into fresh databases.
    ///
    /// Baseline: reading and validating the same file without storing it. Each import runs in
    /// a child process so that its peak RSS is its own.
    Import {
        /// Row counts, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
        rows: Vec<u64>,
        /// Where generated files are kept between runs.
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// The bulk path of a first load (issue #23, PostgreSQL): per size, `COPY` of the file into
    /// a bare table with the registry's unique key (the baseline), then `import participants
    /// --bulk` into a fresh database in a child process, `verify` of what it stored, and with
    /// --ordinary the ordinary import too.
    Bulk {
        /// Row counts, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
        rows: Vec<u64>,
        /// Also time the ordinary import of each file.
        #[arg(long)]
        ordinary: bool,
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
    /// The national-scale suite (issue #9): for each size, a fresh database filled through the
    /// import paths (participants registered over `months` months, then their BPU payment
    /// histories), then report latency against the recompute, the registry export, and HTTP
    /// registrations and look-ups under wrk. Prints one table with each figure per size and
    /// how it grew. Imports and the export run in child processes so that each peak RSS is
    /// its own. Generated files are kept in the work directory between runs.
    Scale {
        /// Participant counts, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "1000000")]
        participants: Vec<u64>,
        /// Months of registrations and contributions before 2026-11.
        #[arg(long, default_value_t = 24)]
        months: u32,
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Seconds of each wrk load.
        #[arg(long, default_value_t = 10)]
        http_seconds: u32,
        /// Keep each filled database (SQLite file or PostgreSQL database) after the run.
        #[arg(long)]
        keep: bool,
    },
    /// Report latency from the counters against recomputing from the ledger, on the
    /// database given by --db (e.g. one `demo` or `bench import --keep` filled).
    Report {
        /// The month reported (YYYY-MM).
        #[arg(long, default_value = "2026-10")]
        month: String,
        /// Repetitions of each counter query (the median is reported).
        #[arg(long, default_value_t = 21)]
        runs: usize,
    },
    /// Server time of each main page, through the whole router in-process as a browser asks
    /// for it (signed in as an administrator, the account `bench-pages`, created if missing),
    /// on the database given by --db. Baseline: `/healthz` in the same run.
    Pages {
        /// Repetitions of each page (the median and the 95th percentile are reported).
        #[arg(long, default_value_t = 21)]
        runs: usize,
        /// The regions whose pages are measured, from a province down to a village.
        #[arg(long, default_value = "32.73.01.1001")]
        village: String,
    },
    /// The campaign planner over every village of the tree, on the database given by --db:
    /// reading what it needs (the villages' counters, the agents) is the baseline, planning
    /// the wave is measured against it.
    Plan {
        /// The month of the peserta aktif counts (YYYY-MM).
        #[arg(long, default_value = "2026-11")]
        month: String,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Registrations and look-ups through the real server over loopback under wrk (a real
    /// load generator; scripts/bench-tools.sh installs it), on the database given by --db:
    /// throughput and p50/p99 latency, against the same server's `/healthz` in the same run.
    /// Registers new people in that database. On PostgreSQL the server's pool is `--pg-pool`.
    Http {
        #[arg(long, default_value_t = 10)]
        seconds: u32,
        #[arg(long, default_value_t = 16)]
        connections: u32,
        #[arg(long, default_value_t = 2)]
        threads: u32,
    },
    /// Payments through the SNAP biller endpoints (issue #19): a load generator acting as a
    /// bank over loopback runs inquiry + payment pairs (10% retried, 1% duplicated) against
    /// the real server on the database given by --db (fill it with `simulate` first), against
    /// `/healthz` in the same run; then checks no duplicate posting, no acknowledged payment
    /// missing, a settlement of its own log reconciling with no exception, and `verify`.
    Payments {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        connections: usize,
    },
    /// Self-registration (issue #20) against the real server on the database given by --db,
    /// through Kannel on loopback (started here unless --sms-url is given): the village search
    /// beside /healthz, SMS per second through Kannel, and whole registrations per second (code
    /// asked, SMS received by the SMS centre, registered with it).
    Enrolment {
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 8)]
        connections: usize,
        /// SMS sent in the gateway's own measure.
        #[arg(long, default_value_t = 1000)]
        sms: usize,
        #[command(flatten)]
        gateway: crate::enrolment::SmsArgs,
    },
    /// Reminders (issue #21) on the database given by --db: a dry run of the plan of each day
    /// of the month on which a rule fires against recomputing every counter in the same run;
    /// with --sms N, the day's plan stored and sent through Kannel on loopback (started here
    /// unless --sms-url is given): N plain SMS as the baseline, `reminders send` at the
    /// policy's rate, and with the rate lifted in the bench's own copy of the rules.
    Reminders {
        /// The month whose days are planned (YYYY-MM), this month by default.
        #[arg(long)]
        month: Option<String>,
        /// Repetitions of each day's dry run (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// SMS sent in the sending measure (0: planning only).
        #[arg(long, default_value_t = 0)]
        sms: usize,
        #[command(flatten)]
        gateway: crate::enrolment::SmsArgs,
    },
    /// Settlement files through reconciliation (issue #19): files of each size (comma-separated
    /// line counts) imported into the database given by --db, every line an exception (the
    /// costliest case); lines/s and the process's peak memory after each.
    Settlement {
        #[arg(long, default_value = "100000,1000000")]
        lines: String,
    },
    /// Employers' wage reports and payments (issue #23) on fresh databases (beside --db):
    /// `workers` wage earners spread over employers of each size, enrolled the first month,
    /// reported again each later month (some stop, as many start), each invoice paid in full
    /// the month after. Baseline: checking the same lines alone, in the same run. `verify`
    /// after each size.
    WageReports {
        /// Workers per employer, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
        sizes: Vec<u64>,
        /// Wage earners in all.
        #[arg(long, default_value_t = 20_000)]
        workers: u64,
        /// Months reported, the first of them enrolling everyone.
        #[arg(long, default_value_t = 3)]
        months: u32,
        /// Reports (and payments) in flight at once, each in its own transaction, as
        /// employers reporting at the same time reach the API.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Keep each filled database (SQLite file or PostgreSQL database) after the run.
        #[arg(long)]
        keep: bool,
    },
    /// What auditing costs a personal-data read: reads of one participant by id, alone
    /// (baseline) and each followed by its audit entry, as the API does, on a fresh SQLite
    /// database (or --db) holding `participants` simulated people.
    Audit {
        #[arg(long, default_value_t = 20_000)]
        participants: u64,
        #[arg(long, default_value_t = 5_000)]
        reads: u64,
    },
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub(crate) struct Summary {
    pub(crate) rows: u64,
    pub(crate) created: u64,
    existing: u64,
    rejected: u64,
    pub(crate) seconds: f64,
    pub(crate) rows_per_second: f64,
    pub(crate) peak_rss_mb: f64,
}

/// The key file of the databases a benchmark creates: made once in its work directory.
pub(crate) fn bench_keys(dir: &Path) -> Result<PathBuf> {
    let f = dir.join("bench.keys");
    if !f.exists() {
        std::fs::write(&f, cakupan_store::crypto::Keys::generate()?)?;
    }
    Ok(f)
}

pub async fn run(
    (db, pg_pool): (&str, u32),
    keys: Option<&Path>,
    reference: &Reference,
    cmd: BenchCommand,
) -> Result<()> {
    match cmd {
        BenchCommand::Import { rows, work_dir } => {
            import_bench(db, reference, &rows, work_dir).await
        }
        BenchCommand::Bulk {
            rows,
            ordinary,
            work_dir,
        } => crate::bench_bulk::bulk_bench(db, reference, &rows, work_dir, ordinary).await,
        BenchCommand::Scale {
            participants,
            months,
            work_dir,
            http_seconds,
            keep,
        } => {
            scale_bench(
                (db, pg_pool),
                reference,
                &participants,
                months,
                work_dir,
                (http_seconds, keep),
            )
            .await
        }
        BenchCommand::Report { month, runs } => {
            let keys = crate::store::load_keys(keys)?;
            report_bench(db, keys, reference, &month, runs).await
        }
        BenchCommand::Audit {
            participants,
            reads,
        } => audit_bench(db, keys, reference, participants, reads).await,
        BenchCommand::Plan { month, runs } => {
            let keys = crate::store::load_keys(keys)?;
            let store = crate::store::open(db, 4, keys).await?;
            let month = cakupan_domain::Month::parse(&month)
                .map_err(|e| anyhow::anyhow!("--month: {e}"))?;
            let (mut read, mut plan) = (Vec::new(), Vec::new());
            let mut last = None;
            for _ in 0..runs.max(1) {
                let t = crate::campaign::plan_all(
                    store.clone(),
                    reference,
                    &crate::campaign::PlanInput {
                        month,
                        within: cakupan_domain::RegionCode::NATION,
                        capacity: (4, 2, 1),
                        reached: std::collections::HashSet::new(),
                        assume_agents: None,
                        awareness: std::collections::HashMap::new(),
                    },
                )
                .await?;
                read.push(t.read_ms);
                plan.push(t.plan_ms);
                last = Some(t);
            }
            let (read, _) = median_p95(read);
            let (planned, _) = median_p95(plan);
            if let Some(t) = last {
                println!(
                    "{} villages, {} proposed (4 weeks, 2 sessions a district a week, 1 per agent)",
                    t.villages,
                    t.plan.chosen.len()
                );
            }
            println!("| step | median (ms) | ÷ baseline |\n|---|---:|---:|");
            println!("| baseline: read the villages' counters and the agents | {read:.1} | 1× |");
            println!(
                "| plan the wave over every village | {planned:.1} | {:.2}× |",
                planned / read.max(1e-9)
            );
            Ok(())
        }
        BenchCommand::Http {
            seconds,
            connections,
            threads,
        } => {
            let keys = crate::store::load_keys(keys)?;
            http_bench(
                (db, pg_pool),
                keys,
                reference,
                seconds,
                connections,
                threads,
            )
            .await
        }
        BenchCommand::Payments {
            seconds,
            connections,
        } => {
            let keys = crate::store::load_keys(keys)?;
            crate::bench_payments::payments_bench(
                (db, pg_pool),
                keys,
                reference,
                seconds,
                connections,
            )
            .await
        }
        BenchCommand::Reminders {
            month,
            runs,
            sms,
            gateway,
        } => {
            let keys = crate::store::load_keys(keys)?;
            crate::bench_reminders::reminders_bench(
                (db, pg_pool),
                keys,
                reference,
                (month, runs, sms),
                &gateway,
            )
            .await
        }
        BenchCommand::Enrolment {
            seconds,
            connections,
            sms,
            gateway,
        } => {
            let keys = crate::store::load_keys(keys)?;
            crate::bench_enrolment::enrolment_bench(
                (db, pg_pool),
                keys,
                reference,
                (seconds, connections, sms),
                &gateway,
            )
            .await
        }
        BenchCommand::Settlement { lines } => {
            let keys = crate::store::load_keys(keys)?;
            let sizes: Vec<u64> = lines
                .split(',')
                .map(|n| n.trim().parse())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| anyhow::anyhow!("--lines is a comma-separated list of line counts"))?;
            crate::bench_payments::settlement_bench((db, pg_pool), keys, reference, &sizes).await
        }
        BenchCommand::WageReports {
            sizes,
            workers,
            months,
            concurrency,
            work_dir,
            keep,
        } => {
            let keys = crate::store::load_keys(keys)?;
            crate::bench_wages::wages_bench(
                (db, pg_pool),
                keys,
                reference,
                (&sizes, workers, months, concurrency.max(1)),
                (work_dir, keep),
            )
            .await
        }
        BenchCommand::Pages { runs, village } => {
            let keys = crate::store::load_keys(keys)?;
            pages_bench(db, keys, reference, runs, &village).await
        }
    }
}

/// The median and the 95th percentile of `times` (ms).
fn median_p95(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    if times.is_empty() {
        return (0.0, 0.0);
    }
    let p95 = times[((times.len() as f64 * 0.95).ceil() as usize).clamp(1, times.len()) - 1];
    (times[times.len() / 2], p95)
}

async fn pages_bench(
    db: &str,
    keys: std::sync::Arc<cakupan_store::crypto::Keys>,
    reference: &Reference,
    runs: usize,
    village: &str,
) -> Result<()> {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let village = cakupan_domain::RegionCode::parse(village)
        .map_err(|e| anyhow::anyhow!("--village {village}: {e}"))?;
    if village.level() != cakupan_domain::Level::Village {
        bail!("--village must be a village code (NN.NN.NN.NNNN)");
    }
    let store = crate::store::open(db, 4, keys).await?;
    let participants = store.count_participants().await?;
    println!(
        "{participants} participants in {}",
        crate::store::redact(db)
    );
    let auth = std::sync::Arc::new(crate::accounts::auth(reference)?);
    // The bench's own administrator and a session of it (no password sign-in is timed).
    let (token, token_hash) = bench_session(store.as_ref(), reference, "bench-pages").await?;
    let csrf = cakupan_app::auth::csrf_token(&token);
    let router = cakupan_server::router(cakupan_app::Context {
        store: store.clone(),
        regions: reference.regions.clone(),
        rules: reference.rules.clone(),
        today: today_wib,
        sms: None,
        auth,
    });
    let someone = match store.participant(1).await? {
        Some(p) => p,
        None => bail!("the database holds no participant 1: fill it first (`cakupan simulate`)"),
    };
    let id = someone.id;
    let nik = someone.registration.nik.to_string();
    let path = village.path();
    let mut pages: Vec<(String, String, Option<String>)> = vec![
        ("baseline: /healthz".into(), "/healthz".into(), None),
        ("dashboard, nation (/)".into(), "/".into(), None),
    ];
    for (label, code) in ["province", "regency", "district", "village"]
        .iter()
        .zip(&path)
    {
        pages.push((format!("{label} {code}"), format!("/wilayah/{code}"), None));
    }
    pages.extend([
        (
            format!("district {} as CSV", path[2]),
            format!("/wilayah/{}?format=csv", path[2]),
            None,
        ),
        (
            "participant search (POST, by NIK)".into(),
            "/peserta/cari".into(),
            Some(format!("csrf={csrf}&q={nik}")),
        ),
        // The search by name (issue #22): participant 1's full name and its first word alone
        // (a common word: many people, 50 shown), nationwide as the administrator searches.
        (
            "participant search (POST, by full name)".into(),
            "/peserta/cari".into(),
            Some(format!(
                "csrf={csrf}&q={}",
                someone.registration.name.replace(' ', "+")
            )),
        ),
        (
            "participant search (POST, by one name word)".into(),
            "/peserta/cari".into(),
            Some(format!(
                "csrf={csrf}&q={}",
                someone
                    .registration
                    .name
                    .split(' ')
                    .next()
                    .unwrap_or_default()
            )),
        ),
        (
            "region search (a district's name)".into(),
            format!(
                "/wilayah/cari?q={}",
                reference
                    .regions
                    .get(path[2])
                    .map(|r| r.name.replace(' ', "+"))
                    .unwrap_or_default()
            ),
            None,
        ),
        (
            "agents and offices, nation (/agen)".into(),
            "/agen".into(),
            None,
        ),
        (
            format!("participant profile {id}"),
            format!("/peserta/{id}"),
            None,
        ),
        ("registration form".into(), "/peserta/baru".into(), None),
        (
            format!("payment form {id}"),
            format!("/peserta/{id}/bayar"),
            None,
        ),
    ]);
    // The employer channel's pages, when the database has employers: the national list in
    // arrears, and the account and last invoice of the employer with the most workers.
    use cakupan_store::employers::EmployerQuery;
    let employers = store
        .employer_summaries(
            &EmployerQuery::all(cakupan_domain::RegionCode::NATION, false),
            today_wib(),
        )
        .await?
        .rows;
    let in_arrears = store
        .employer_summaries(
            &EmployerQuery {
                limit: Some(0),
                ..EmployerQuery::all(cakupan_domain::RegionCode::NATION, true)
            },
            today_wib(),
        )
        .await?
        .total;
    if let Some(big) = employers.iter().max_by_key(|s| s.workers) {
        let code = &big.employer.code;
        pages.push((
            format!("employers in arrears, nation ({in_arrears} employers)"),
            "/pemberi-kerja?tunggakan=1".into(),
            None,
        ));
        let regency = big.employer.region.truncate(cakupan_domain::Level::Regency);
        pages.push((
            format!("employers in arrears, regency {regency}"),
            format!("/pemberi-kerja?wilayah={regency}&tunggakan=1"),
            None,
        ));
        pages.push((
            format!(
                "employers, nation, first page ({} employers)",
                employers.len()
            ),
            "/pemberi-kerja".into(),
            None,
        ));
        pages.push((
            format!("employer account ({} workers)", big.workers),
            format!("/pemberi-kerja/{code}"),
            None,
        ));
        if let Some(m) = big.last_month {
            pages.push((
                format!("employer invoice {m}"),
                format!("/pemberi-kerja/{code}/tagihan/{m}"),
                None,
            ));
        }
    }
    // The campaign's pages, when the database has a campaign (`demo`, `simulate
    // --campaign-region`): the campaign in its region (with every wave's uplift), one of its
    // villages, and its first survey's results.
    if let Some(c) = store.campaigns().await?.first() {
        let entries = store
            .plan_entries(&c.code, cakupan_domain::RegionCode::NATION)
            .await?;
        pages.push((
            format!(
                "campaign {} ({} villages, uplift of every wave)",
                c.code,
                entries.len()
            ),
            format!("/kampanye/{}", c.code),
            None,
        ));
        if let Some(e) = entries.first() {
            pages.push((
                format!("campaign village {}", e.village),
                format!("/kampanye/{}/desa/{}", c.code, e.village),
                None,
            ));
        }
        if let Some(s) = store
            .surveys()
            .await?
            .into_iter()
            .find(|s| s.campaign.as_deref() == Some(c.code.as_str()))
        {
            let answered = store.responses(&s.code).await?.len();
            pages.push((
                format!("survey {} results ({answered} respondents)", s.code),
                format!("/survei/{}", s.code),
                None,
            ));
        }
    }
    println!("| page | median (ms) | p95 (ms) | ÷ baseline | bytes | status |");
    println!("|---|---:|---:|---:|---:|---|");
    let mut baseline = 0.0;
    for (label, uri, form) in &pages {
        let mut times = Vec::with_capacity(runs);
        let mut bytes = 0;
        let mut status = StatusCode::OK;
        // One warm-up request (the first map drawing parses the boundary files once).
        for i in 0..=runs.max(1) {
            let mut req = Request::builder()
                .uri(uri.as_str())
                .header("cookie", format!("cakupan_session={token}"));
            let body = match form {
                Some(f) => {
                    req = req
                        .method("POST")
                        .header("content-type", "application/x-www-form-urlencoded");
                    Body::from(f.clone())
                }
                None => Body::empty(),
            };
            let t = Instant::now();
            let resp = router.clone().oneshot(req.body(body)?).await?;
            status = resp.status();
            let b = resp.into_body().collect().await?.to_bytes();
            let ms = t.elapsed().as_secs_f64() * 1e3;
            bytes = b.len();
            if i > 0 {
                times.push(ms);
            }
        }
        let (med, p95) = median_p95(times);
        if baseline == 0.0 {
            baseline = med.max(1e-6);
        }
        println!(
            "| {label} | {med:.2} | {p95:.2} | {:.0}× | {bytes} | {} |",
            med / baseline,
            status.as_u16()
        );
    }
    store.delete_session(&token_hash).await?;
    Ok(())
}

fn child_import(file: &Path, url: &str, keys: &Path, errors: &Path) -> Result<Summary> {
    child_import_kind("participants", file, url, keys, errors)
}

fn child_import_kind(
    kind: &str,
    file: &Path,
    url: &str,
    keys: &Path,
    errors: &Path,
) -> Result<Summary> {
    let mut args: Vec<std::ffi::OsString> = vec!["import".into(), kind.into(), file.into()];
    args.extend(["--quiet".into(), "--errors".into(), errors.into()]);
    child_summary(&args, url, keys, "import")
}

/// Runs this binary with `args` on the database `url` in a child process (so that its peak RSS
/// is its own) and reads the JSON summary it prints last.
pub(crate) fn child_summary<T: serde::de::DeserializeOwned>(
    args: &[std::ffi::OsString],
    url: &str,
    keys: &Path,
    what: &str,
) -> Result<T> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .args(args)
        .args(["--db", url, "--summary-json", "--keys"])
        .arg(keys)
        .env("CAKUPAN_LOG", "warn")
        .output()
        .with_context(|| format!("running the {what} child process"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("");
    serde_json::from_str(line).with_context(|| format!("reading the {what} summary '{line}'"))
}

/// Writes `file` with `write` unless it exists (generated files are kept between runs): into
/// a file beside it, renamed when complete.
pub(crate) fn cached(
    file: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    if !file.exists() {
        eprintln!("generating {}", file.display());
        let tmp = file.with_extension("tmp");
        write(&mut std::fs::File::create(&tmp)?)?;
        std::fs::rename(&tmp, file)?;
    }
    Ok(())
}

/// Rows per second of validating `file` without storing it: the imports' baseline.
pub(crate) fn validate_rate(file: &Path, reference: &Reference, today: time::Date) -> Result<f64> {
    let t = Instant::now();
    let (good, bad) = import::validate_file(file, &reference.regions, &reference.rules, today)?;
    Ok((good + bad) as f64 / t.elapsed().as_secs_f64())
}

/// A fresh database for one run: a new PostgreSQL database beside `db` (its name returned for
/// [`drop_fresh`]), or the SQLite file `file` in `dir`, emptied.
pub(crate) async fn fresh_db(
    db: &str,
    dir: &Path,
    prefix: &str,
    file: &str,
) -> Result<(String, Option<String>)> {
    if db.starts_with("postgres") {
        let (u, name) = cakupan_store_postgres::create_throwaway(db, prefix).await?;
        Ok((u, Some(name)))
    } else {
        let path = dir.join(file);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
        Ok((format!("sqlite://{}", path.display()), None))
    }
}

/// Removes a database [`fresh_db`] made.
pub(crate) async fn drop_fresh(db: &str, url: &str, name: Option<String>) -> Result<()> {
    match name {
        Some(name) => cakupan_store_postgres::drop_database(db, &name).await?,
        None => {
            let path = url.trim_start_matches("sqlite://");
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{ext}"));
            }
        }
    }
    Ok(())
}

async fn import_bench(
    db: &str,
    reference: &Reference,
    sizes: &[u64],
    work_dir: Option<PathBuf>,
) -> Result<()> {
    let dir = work_dir.unwrap_or_else(|| std::env::temp_dir().join("cakupan-bench"));
    std::fs::create_dir_all(&dir)?;
    let key_file = bench_keys(&dir)?;
    let keys = crate::store::load_keys(Some(&key_file))?;
    let postgres = db.starts_with("postgres");
    let as_of = time::Date::from_calendar_date(2026, time::Month::November, 1)?;
    let today = today_wib().max(as_of);
    println!(
        "| backend | rows | validate only (rows/s) | import (rows/s) | import ÷ validate | re-run (rows/s) | stored | peak RSS (MB) | postings | postings/s | postings peak RSS (MB) | DB bytes/participant |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in sizes {
        let file = dir.join(format!("participants-{n}-seed1-{as_of}.csv"));
        cached(&file, |f| {
            generate::generate(&reference.regions, &reference.rules, n, 1, as_of, f)
        })?;
        let validate_rate = validate_rate(&file, reference, today)?;
        let (url, cleanup) = fresh_db(
            db,
            &dir,
            "cakupan_bench",
            &format!("bench-{n}-{}.db", std::process::id()),
        )
        .await?;
        let errors = dir.join(format!("errors-{n}.csv"));
        let first = child_import(&file, &url, &key_file, &errors)?;
        let again = child_import(&file, &url, &key_file, &errors)?;
        if again.created != 0 || again.existing != first.created {
            bail!("re-running the import stored rows twice: {again:?} after {first:?}");
        }
        let pays = dir.join(format!("contributions-{n}-seed1-{as_of}.csv"));
        cached(&pays, |f| {
            generate::contributions(&reference.rules, &file, 1, as_of, f).map(|_| ())
        })?;
        let posted = child_import_kind("contributions", &pays, &url, &key_file, &errors)?;
        let size = {
            let s = crate::store::open(&url, 2, keys.clone()).await?;
            s.size_bytes().await?
        };
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.0} | {} | {:.0} | {} | {:.0} | {:.0} | {:.0} |",
            if postgres { "postgres" } else { "sqlite" },
            first.rows,
            validate_rate,
            first.rows_per_second,
            first.rows_per_second / validate_rate,
            again.rows_per_second,
            first.created,
            first.peak_rss_mb,
            posted.created,
            posted.rows_per_second,
            posted.peak_rss_mb,
            size as f64 / first.created.max(1) as f64
        );
        eprintln!(
            "  {} rows: {} stored, {} rejected in {:.1} s; re-run {} existing in {:.1} s",
            first.rows, first.created, first.rejected, first.seconds, again.existing, again.seconds
        );
        drop_fresh(db, &url, cleanup).await?;
    }
    Ok(())
}

/// One measure of the scale suite for every size: its label and figures (`None`: not
/// measured at that size).
type Row = (String, Vec<Option<f64>>);

/// Runs `cakupan export participants` in a child process.
fn child_export(url: &str, keys: &Path, out: &Path) -> Result<crate::export::ExportSummary> {
    let args: Vec<std::ffi::OsString> = vec![
        "export".into(),
        "participants".into(),
        "--out".into(),
        out.into(),
    ];
    child_summary(&args, url, keys, "export")
}

async fn scale_bench(
    (db, pg_pool): (&str, u32),
    reference: &Reference,
    sizes: &[u64],
    months: u32,
    work_dir: Option<PathBuf>,
    (http_seconds, keep): (u32, bool),
) -> Result<()> {
    use cakupan_domain::Month;
    if which("wrk").is_none() {
        bail!("wrk is not installed: run scripts/bench-tools.sh (Debian's wrk package) first");
    }
    let dir = work_dir.unwrap_or_else(|| std::env::temp_dir().join("cakupan-bench"));
    std::fs::create_dir_all(&dir)?;
    let key_file = bench_keys(&dir)?;
    let keys = crate::store::load_keys(Some(&key_file))?;
    let postgres = db.starts_with("postgres");
    let backend = if postgres { "postgres" } else { "sqlite" };
    let as_of = time::Date::from_calendar_date(2026, time::Month::November, 1)?;
    let since = Month::of(as_of)
        .plus(-(i32::try_from(months).unwrap_or(i32::MAX)))
        .first_day();
    let report_month = Month::of(as_of).plus(-1);
    let today = today_wib().max(as_of);
    let mut rows: Vec<Row> = Vec::new();
    let mut put = |label: &str, i: usize, v: f64| {
        let pos = match rows.iter().position(|r| r.0 == label) {
            Some(p) => p,
            None => {
                rows.push((label.to_string(), vec![None; sizes.len()]));
                rows.len() - 1
            }
        };
        if let Some(slot) = rows.get_mut(pos).and_then(|r| r.1.get_mut(i)) {
            *slot = Some(v);
        }
        // Each figure as soon as it is measured: a run that fails later keeps what it had.
        eprintln!("  = {label}: {v}");
    };
    for (i, &n) in sizes.iter().enumerate() {
        let file = dir.join(format!("participants-{n}-m{months}-seed1-{as_of}.csv"));
        cached(&file, |f| {
            generate::generate_since(&reference.regions, &reference.rules, n, 1, since, as_of, f)
        })?;
        let pays = dir.join(format!("contributions-{n}-m{months}-seed1-{as_of}.csv"));
        cached(&pays, |f| {
            generate::contributions(&reference.rules, &file, 1, as_of, f).map(|_| ())
        })?;
        eprintln!("{backend}, {n} participants: validating (the baseline)");
        let validate_rate = validate_rate(&file, reference, today)?;
        let (url, cleanup) = fresh_db(db, &dir, "cakupan_scale", &format!("scale-{n}.db")).await?;
        let errors = dir.join(format!("errors-{n}.csv"));
        eprintln!("importing participants into {}", crate::store::redact(&url));
        let people = child_import(&file, &url, &key_file, &errors)?;
        eprintln!(
            "  {} stored, {} rejected in {:.1} s",
            people.created, people.rejected, people.seconds
        );
        eprintln!("importing contributions");
        let posted = child_import_kind("contributions", &pays, &url, &key_file, &errors)?;
        eprintln!(
            "  {} posted, {} rejected in {:.1} s",
            posted.created, posted.rejected, posted.seconds
        );
        put("participants stored", i, people.created as f64);
        put(
            "baseline: validate participants.csv only (rows/s)",
            i,
            validate_rate,
        );
        put("import participants (rows/s)", i, people.rows_per_second);
        put(
            "  ÷ validate only",
            i,
            people.rows_per_second / validate_rate,
        );
        put(
            "  import participants: peak RSS (MB)",
            i,
            people.peak_rss_mb,
        );
        put(
            "contributions posted (24 months of BPU payments)",
            i,
            posted.created as f64,
        );
        put(
            "import contributions (postings/s)",
            i,
            posted.rows_per_second,
        );
        put(
            "  import contributions: peak RSS (MB)",
            i,
            posted.peak_rss_mb,
        );
        let store = crate::store::open(&url, pg_pool, keys.clone()).await?;
        let size = store.size_bytes().await?;
        put(
            "database bytes per participant",
            i,
            size as f64 / people.created.max(1) as f64,
        );
        eprintln!("recomputing the counters and timing the reports");
        let (recompute_ms, times) =
            report_times(store.as_ref(), reference, report_month, 21).await?;
        put(
            "baseline: recompute every counter from the ledger (ms)",
            i,
            recompute_ms,
        );
        for r in &times {
            if !r.same {
                bail!("{} differs from the recompute at {n} participants", r.label);
            }
            put(&format!("{} (ms, median of 21)", r.label), i, r.ms);
            put(
                &format!("  recompute ÷ {}", r.label),
                i,
                recompute_ms / r.ms.max(1e-6),
            );
        }
        eprintln!("exporting the registry");
        let export_file = dir.join(format!("export-{n}.csv"));
        let exported = child_export(&url, &key_file, &export_file)?;
        let _ = std::fs::remove_file(&export_file);
        if exported.rows != people.created {
            bail!(
                "the export wrote {} rows of {}",
                exported.rows,
                people.created
            );
        }
        put("export participants (rows/s)", i, exported.rows_per_second);
        put("  export: peak RSS (MB)", i, exported.peak_rss_mb);
        eprintln!("HTTP under wrk ({http_seconds} s a load)");
        let loads = http_loads(store.clone(), reference, http_seconds, 16, 2).await?;
        let base = loads
            .first()
            .map(|l| l.1.requests_per_second)
            .unwrap_or(0.0);
        for (label, load) in &loads {
            put(
                &format!("HTTP {label}: requests/s"),
                i,
                load.requests_per_second,
            );
            if !label.starts_with("baseline") {
                put(
                    &format!("  {label}: ÷ /healthz"),
                    i,
                    load.requests_per_second / base.max(1e-9),
                );
            }
            put(&format!("  {label}: p99 (ms)"), i, load.p99_ms);
            put(&format!("  {label}: not 2xx"), i, load.errors as f64);
        }
        drop(store);
        if !keep {
            drop_fresh(db, &url, cleanup).await?;
        } else {
            eprintln!("kept: {}", crate::store::redact(&url));
        }
    }
    print_scale(backend, sizes, &rows);
    Ok(())
}

/// The scale table: one column per size, and the growth from the first size to the last.
fn print_scale(backend: &str, sizes: &[u64], rows: &[Row]) {
    let head: Vec<String> = sizes.iter().map(|n| format!("{n}")).collect();
    let grow = sizes.len() > 1;
    print!("| {backend} | {} |", head.join(" | "));
    if grow {
        print!(" last ÷ first |");
    }
    println!();
    print!("|---|{}", "---:|".repeat(sizes.len()));
    if grow {
        print!("---:|");
    }
    println!();
    for (label, values) in rows {
        let cells: Vec<String> = values
            .iter()
            .map(|v| match v {
                None => "–".into(),
                Some(x) if x.abs() >= 100.0 || x.fract() == 0.0 => format!("{x:.0}"),
                Some(x) if x.abs() >= 1.0 => format!("{x:.1}"),
                Some(x) => format!("{x:.3}"),
            })
            .collect();
        print!("| {label} | {} |", cells.join(" | "));
        if grow {
            match (
                values.first().copied().flatten(),
                values.last().copied().flatten(),
            ) {
                (Some(a), Some(b)) if a != 0.0 => print!(" {:.2}× |", b / a),
                _ => print!(" – |"),
            }
        }
        println!();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// One report timed from the counters, against the recompute of the same run.
struct ReportTime {
    label: String,
    rows: usize,
    ms: f64,
    same: bool,
}

/// Every counter recomputed from the ledger once (the baseline), then each report from the
/// counters `runs` times (the median), each compared with the recompute.
async fn report_times(
    store: &dyn cakupan_store::Store,
    reference: &Reference,
    month: cakupan_domain::Month,
    runs: usize,
) -> Result<(f64, Vec<ReportTime>)> {
    use cakupan_domain::{Level, Month, RegionCode};
    let t = Instant::now();
    let recomputed = store.recompute(&reference.rules).await?;
    let recompute_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut out = Vec::new();
    for level in [Level::Nation, Level::Province, Level::Regency] {
        let mut times = Vec::new();
        let mut rows = Vec::new();
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            rows = store
                .active_report(level, RegionCode::NATION, None, month)
                .await?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        out.push(ReportTime {
            label: format!("active {month} by {}", level.as_str()),
            rows: rows.len(),
            ms: median(times),
            same: rows == recomputed.active_report(level, RegionCode::NATION, None, month),
        });
    }
    let months: Vec<Month> = month.plus(-35).through(month).collect();
    let mut times = Vec::new();
    let mut same = true;
    for run in 0..runs.max(1) {
        let t = Instant::now();
        let mut series = Vec::with_capacity(36);
        for m in &months {
            series.push(
                store
                    .active_report(Level::Nation, RegionCode::NATION, None, *m)
                    .await?,
            );
        }
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if run == 0 {
            same = months.iter().zip(&series).all(|(m, rows)| {
                *rows == recomputed.active_report(Level::Nation, RegionCode::NATION, None, *m)
            });
        }
    }
    out.push(ReportTime {
        label: "36-month national series".into(),
        rows: months.len(),
        ms: median(times),
        same,
    });
    Ok((recompute_ms, out))
}

async fn report_bench(
    db: &str,
    keys: std::sync::Arc<cakupan_store::crypto::Keys>,
    reference: &Reference,
    month: &str,
    runs: usize,
) -> Result<()> {
    let store = crate::store::open(db, 4, keys).await?;
    let month = cakupan_domain::Month::parse(month).map_err(|e| anyhow::anyhow!("--month: {e}"))?;
    let participants = store.count_participants().await?;
    println!(
        "{participants} participants in {}",
        crate::store::redact(db)
    );
    let (recompute_ms, times) = report_times(store.as_ref(), reference, month, runs).await?;
    println!(
        "| query | counters (ms, median of {runs}) | recompute from the ledger (ms) | ratio | same numbers |"
    );
    println!("|---|---:|---:|---:|---|");
    for r in times {
        println!(
            "| {} ({} rows) | {:.2} | {recompute_ms:.0} | {:.0}× | {} |",
            r.label,
            r.rows,
            r.ms,
            recompute_ms / r.ms.max(1e-6),
            r.same
        );
    }
    Ok(())
}

async fn audit_bench(
    db: &str,
    keys: Option<&Path>,
    reference: &Reference,
    participants: u64,
    reads: u64,
) -> Result<()> {
    use cakupan_store::accounts::AuditEntry;
    let dir = std::env::temp_dir().join(format!("cakupan-bench-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // A fresh database unless one is named: the entries written here are real audit entries.
    let url = if db == "sqlite://cakupan.db" {
        format!("sqlite://{}", dir.join("audit.db").display())
    } else {
        db.to_string()
    };
    let keys = if url.contains("cakupan-bench-audit-") {
        crate::store::load_keys(Some(&bench_keys(&dir)?))?
    } else {
        crate::store::load_keys(keys)?
    };
    let store = crate::store::open(&url, 4, keys).await?;
    store.ensure_regions(&reference.regions).await?;
    if store.count_participants().await? == 0 {
        let file = dir.join("participants.csv");
        generate::generate(
            &reference.regions,
            &reference.rules,
            participants,
            1,
            today_wib(),
            &mut std::fs::File::create(&file)?,
        )?;
        import::import_participants(
            store.clone(),
            reference.regions.clone(),
            reference.rules.clone(),
            today_wib(),
            &file,
            import::ImportOptions {
                batch: import::DEFAULT_BATCH,
                bulk: false,
                error_file: None,
                progress: false,
                quiet: true,
            },
        )
        .await?;
    }
    let n = store.count_participants().await?.max(1);
    let mut rng = generate::Rng::new(7);
    let ids: Vec<i64> = (0..reads).map(|_| 1 + rng.below(n) as i64).collect();
    let run = |audited: bool| {
        let store = store.clone();
        let ids = ids.clone();
        async move {
            let mut lat = Vec::with_capacity(ids.len());
            let t = Instant::now();
            for (i, id) in ids.iter().enumerate() {
                let one = Instant::now();
                let p = store.participant(*id).await?;
                if audited {
                    store
                        .append_audit(&[AuditEntry {
                            at: i as i64,
                            actor: "bench".into(),
                            role: "branch_officer".into(),
                            action: "participant.read".into(),
                            record: format!("participant:{}", p.map(|p| p.id).unwrap_or(0)),
                            request_id: format!("bench-{i}"),
                            purpose: "benchmark".into(),
                        }])
                        .await?;
                }
                lat.push(one.elapsed().as_secs_f64() * 1e3);
            }
            let secs = t.elapsed().as_secs_f64();
            lat.sort_by(|a, b| a.total_cmp(b));
            let p99 = lat[(lat.len() * 99 / 100).min(lat.len() - 1)];
            anyhow::Ok((ids.len() as f64 / secs, median(lat), p99))
        }
    };
    let (base_rate, base_p50, base_p99) = run(false).await?;
    let (audit_rate, audit_p50, audit_p99) = run(true).await?;
    println!(
        "{n} participants in {}; {reads} reads by id, one at a time",
        crate::store::redact(&url)
    );
    println!("| | reads/s | p50 (ms) | p99 (ms) |");
    println!("|---|---:|---:|---:|");
    println!("| read only (baseline) | {base_rate:.0} | {base_p50:.3} | {base_p99:.3} |");
    println!("| read + audit entry | {audit_rate:.0} | {audit_p50:.3} | {audit_p99:.3} |");
    println!(
        "| ratio | {:.2}× | {:.2}× | {:.2}× |",
        audit_rate / base_rate.max(1e-9),
        audit_p50 / base_p50.max(1e-9),
        audit_p99 / base_p99.max(1e-9)
    );
    if url.contains("cakupan-bench-audit-") {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// One wrk run's figures.
#[derive(Debug, Default, Clone, PartialEq)]
struct Load {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    /// Answers other than 2xx or 3xx.
    errors: u64,
}

/// A wrk duration (`812.00us`, `1.23ms`, `2.00s`, `1.50m`) in milliseconds.
fn wrk_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, factor) = if let Some(v) = s.strip_suffix("us") {
        (v, 1e-3)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60e3)
    } else {
        return None;
    };
    num.trim().parse::<f64>().ok().map(|v| v * factor)
}

/// Reads wrk's report (run with `--latency`): requests per second, the 50th and 99th
/// percentiles, the number of requests and of answers that were not 2xx or 3xx.
fn parse_wrk(out: &str) -> Result<Load> {
    let mut load = Load::default();
    for line in out.lines() {
        let t = line.trim();
        let words: Vec<&str> = t.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => load.requests_per_second = v.parse().unwrap_or(0.0),
            ["50%", v] => load.p50_ms = wrk_ms(v).unwrap_or(0.0),
            ["99%", v] => load.p99_ms = wrk_ms(v).unwrap_or(0.0),
            ["Non-2xx", "or", "3xx", "responses:", n] => load.errors = n.parse().unwrap_or(0),
            [n, "requests", "in", ..] => load.requests = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    if load.requests == 0 || load.requests_per_second == 0.0 {
        bail!("wrk reported no requests:\n{out}");
    }
    Ok(load)
}

/// The Lua script wrk runs for one endpoint.
fn wrk_script(kind: &str, token: &str, kpjs: &[String], district: &str) -> String {
    let auth = format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n");
    match kind {
        // Each thread numbers its own requests; the NIK's birth date and serial come from the
        // thread and the number, so every registration is a new person, valid and consistent
        // with its birth date and sex; its issuing district is the run's own (a real district
        // chosen at random), so a second run registers new people too.
        "register" => format!(
            r#"{auth}wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
function request()
  n = n + 1
  local c = n
  local day = 1 + c % 28
  local month = 1 + math.floor(c / 28) % 12
  local year = 60 + math.floor(c / 336) % 40
  local serial = 1 + tid * 2000 + math.floor(c / 13440) % 2000
  local nik = string.format("{district}%02d%02d%02d%04d", day + 40, month, year, serial)
  local body = string.format('{{"nik":"%s","name":"Siti Beban","birth_date":"19%02d-%02d-%02d","sex":"P","village_code":"32.73.01.1001","segment":"BPU","occupation_code":"84.1","income_base":1000000,"programs":"JKK+JKM","channel":"self"}}', nik, year, month, day)
  return wrk.format(nil, "/api/v1/participants", nil, body)
end
"#
        ),
        "lookup" => {
            let list: Vec<String> = kpjs.iter().map(|k| format!("\"{k}\"")).collect();
            format!(
                r#"{auth}local kpjs = {{{}}}
local i = 0
function request()
  i = i % #kpjs + 1
  return wrk.format("GET", "/api/v1/participants/by-kpj/" .. kpjs[i])
end
"#,
                list.join(",")
            )
        }
        _ => auth,
    }
}

/// `cakupan bench http`: registrations and look-ups through the real server over loopback
/// under wrk (a real load generator, installed by scripts/bench-tools.sh), against the same
/// server's `/healthz` in the same run.
pub async fn http_bench(
    (db, pg_pool): (&str, u32),
    keys: std::sync::Arc<cakupan_store::crypto::Keys>,
    reference: &Reference,
    seconds: u32,
    connections: u32,
    threads: u32,
) -> Result<()> {
    let store = crate::store::open(db, pg_pool, keys).await?;
    println!(
        "{} participants in {}; wrk {threads} threads, {connections} connections, {seconds} s each, over loopback on the same machine",
        store.count_participants().await?,
        crate::store::redact(db)
    );
    let loads = http_loads(store, reference, seconds, connections, threads).await?;
    println!("| endpoint | requests/s | ÷ baseline | p50 (ms) | p99 (ms) | requests | not 2xx |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let baseline = loads
        .first()
        .map(|l| l.1.requests_per_second)
        .unwrap_or(0.0);
    for (label, load) in &loads {
        println!(
            "| {label} | {:.0} | {:.3}× | {:.2} | {:.2} | {} | {} |",
            load.requests_per_second,
            load.requests_per_second / baseline.max(1e-9),
            load.p50_ms,
            load.p99_ms,
            load.requests,
            load.errors
        );
    }
    Ok(())
}

/// The loads of `bench http`, in order: the `/healthz` baseline, look-ups, registrations.
async fn http_loads(
    store: std::sync::Arc<dyn cakupan_store::Store>,
    reference: &Reference,
    seconds: u32,
    connections: u32,
    threads: u32,
) -> Result<Vec<(&'static str, Load)>> {
    let wrk = which("wrk")
        .context("wrk is not installed: run scripts/bench-tools.sh (Debian's wrk package) first")?;
    store.ensure_regions(&reference.regions).await?;
    let before = store.count_participants().await?;
    // The bench's own administrator and a session (no password sign-in is timed).
    let (token, token_hash) = bench_session(store.as_ref(), reference, "bench-http").await?;
    // Up to 10,000 KPJs to look up, read by id.
    let mut kpjs = Vec::new();
    let mut id = 1;
    while kpjs.len() < 10_000 && id <= before as i64 + 10 {
        if let Some(p) = store.participant(id).await? {
            kpjs.push(p.kpj);
        }
        id += (before as i64 / 10_000).max(1);
    }
    if kpjs.is_empty() {
        bail!("the database holds no participant to look up: fill it first (`cakupan simulate`)");
    }
    let state = cakupan_app::Context {
        store: store.clone(),
        regions: reference.regions.clone(),
        rules: reference.rules.clone(),
        today: today_wib,
        sms: None,
        auth: std::sync::Arc::new(crate::accounts::auth(reference)?),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(cakupan_server::serve(listener, state));
    let dir = tempdir("cakupan-bench-http")?;
    // The issuing district of this run's new NIKs: a real district picked by the clock.
    let districts: Vec<String> = reference
        .regions
        .iter()
        .filter(|r| r.code.level() == cakupan_domain::Level::District)
        .map(|r| r.code.to_string().replace('.', ""))
        .collect();
    let pick = cakupan_store::clock::now().nanosecond() as usize;
    let district = districts
        .get(pick % districts.len().max(1))
        .cloned()
        .unwrap_or_else(|| "327301".into());
    let mut loads = Vec::new();
    for (label, kind, path) in [
        ("baseline: GET /healthz", "healthz", "/healthz"),
        (
            "look up a participant by KPJ (GET, audited)",
            "lookup",
            "/api/v1/participants/by-kpj",
        ),
        (
            "register a participant (POST, audited)",
            "register",
            "/api/v1/participants",
        ),
    ] {
        let script = dir.join(format!("{kind}.lua"));
        std::fs::write(&script, wrk_script(kind, &token, &kpjs, &district))?;
        // wrk runs in a blocking thread: the server keeps the runtime's workers.
        let (wrk_bin, url) = (wrk.clone(), format!("http://{addr}{path}"));
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(wrk_bin)
                .arg(format!("-t{threads}"))
                .arg(format!("-c{connections}"))
                .arg(format!("-d{seconds}s"))
                .arg("--latency")
                .arg("-s")
                .arg(&script)
                .arg(url)
                .output()
        })
        .await??;
        let text = String::from_utf8_lossy(&out.stdout);
        loads.push((label, parse_wrk(&text).with_context(|| label.to_string())?));
    }
    server.abort();
    store.delete_session(&token_hash).await?;
    let after = store.count_participants().await?;
    eprintln!("{} participants registered by the run.", after - before);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(loads)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

fn tempdir(prefix: &str) -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// A session of the bench's own administrator `username` (created if missing, with a random
/// password nobody knows): the token and its hash.
async fn bench_session(
    store: &dyn cakupan_store::Store,
    reference: &Reference,
    username: &str,
) -> Result<(String, String)> {
    let auth = crate::accounts::auth(reference)?;
    let user_id = match store.user_by_username(username).await? {
        Some(u) => u.id,
        None => {
            let secret = cakupan_app::auth::new_token().map_err(|e| anyhow::anyhow!(e))?;
            let hash = cakupan_app::auth::Auth::new(
                cakupan_app::auth::Cost::TEST_ONLY,
                auth.policy.clone(),
            )
            .hash_password(&secret)
            .map_err(|e| anyhow::anyhow!(e))?;
            store
                .create_user(
                    &cakupan_store::accounts::NewUser {
                        username: username.into(),
                        password_hash: hash,
                        role: cakupan_domain::access::Role::Admin,
                        region: cakupan_domain::RegionCode::NATION,
                        agent_code: None,
                        nik_index: None,
                        employer_code: None,
                    },
                    cakupan_app::auth::now_secs(),
                )
                .await?
        }
    };
    let token = cakupan_app::auth::new_token().map_err(|e| anyhow::anyhow!(e))?;
    let token_hash = cakupan_store::accounts::token_hash(&token);
    let now = cakupan_app::auth::now_secs();
    store
        .create_session(&token_hash, user_id, now, now + 3600)
        .await?;
    Ok((token, token_hash))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wrk_reports_are_read() {
        let out = "Running 10s test @ http://127.0.0.1:4000/healthz
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.00us  300.00us  12.00ms   90.00%
    Req/Sec     9.80k   500.00     11.00k    70.00%
  Latency Distribution
     50%  750.00us
     75%    0.90ms
     90%    1.10ms
     99%    2.50ms
  195000 requests in 10.00s, 25.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:  19500.00
Transfer/sec:      2.50MB
";
        let l = parse_wrk(out).unwrap();
        assert_eq!(l.requests, 195_000);
        assert_eq!(l.errors, 3);
        assert!((l.requests_per_second - 19_500.0).abs() < 1e-9);
        assert!((l.p50_ms - 0.75).abs() < 1e-9);
        assert!((l.p99_ms - 2.5).abs() < 1e-9);
        assert_eq!(wrk_ms("1.50s"), Some(1500.0));
        assert!(parse_wrk("nothing").is_err());
    }
}
