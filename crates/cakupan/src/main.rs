//! `cakupan`: the command line of the Cakupan platform.

// SQLite's page cache and the import's short-lived rows allocate heavily; mimalloc roughly
// halves the time glibc's allocator took in the import profile (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod accounts;
mod agents;
mod bench;
mod bench_bulk;
mod bench_enrolment;
mod bench_payments;
mod bench_reminders;
mod bench_wages;
mod campaign;
mod citus;
mod employers;
mod enrolment;
mod export;
mod generate;
mod import;
mod ledger;
mod participants;
mod payments;
mod reminders;
mod store;
mod targets;

use anyhow::{Context as _, Result, bail};
use cakupan_app::{Context as AppState, today_wib};
use cakupan_domain::month::parse_date;
use cakupan_domain::{Level, RegionCode, RegionTree, RuleSet};
use cakupan_store::Store;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "cakupan",
    version,
    about = "Cakupan: participant registry, contributions and coverage for a workers' social-security agency"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// Database URL: sqlite://FILE (default, created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        global = true,
        env = "CAKUPAN_DB",
        default_value = "sqlite://cakupan.db"
    )]
    db: String,
    /// Read rule files from this directory instead of the ones built into the binary.
    #[arg(long, global = true, env = "CAKUPAN_RULES_DIR")]
    rules_dir: Option<PathBuf>,
    /// PostgreSQL connection pool size.
    #[arg(long, global = true, env = "CAKUPAN_PG_POOL", default_value_t = 16)]
    pg_pool: u32,
    /// The key file that seals personal data (see docs/security.md); or the key text in
    /// CAKUPAN_KEYS.
    #[arg(long, global = true, env = "CAKUPAN_KEYS_FILE")]
    keys: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the pages (dashboard, participants, sign-in at /login) and the JSON API.
    Serve {
        #[arg(long, env = "CAKUPAN_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Serve HTTPS with this PEM certificate chain (with --tls-key).
        #[arg(long, env = "CAKUPAN_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, env = "CAKUPAN_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        #[command(flatten)]
        sms: enrolment::SmsArgs,
    },
    /// Load real regions and a simulated population into a local database, then serve.
    Demo {
        /// Simulated participants to generate and import on first run.
        #[arg(long, default_value_t = 200_000)]
        participants: u64,
        /// Months of employers' wage reports and payments before this month. Each month of
        /// the 200,000 takes about 40 s (docs/benchmarks.md), hence a short default.
        #[arg(long, default_value_t = 2)]
        employer_months: u32,
        /// Where the demo's simulated village campaign runs (Kabupaten Bandung; empty: none).
        #[arg(long, default_value = "32.04")]
        campaign_region: String,
        #[arg(long, env = "CAKUPAN_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Load and exit without serving.
        #[arg(long)]
        no_serve: bool,
        /// The SMS gateway (default: Kannel on loopback, started by scripts/kannel.sh).
        #[command(flatten)]
        sms: enrolment::SmsArgs,
    },
    /// The Kemendagri region tree.
    Regions {
        #[command(subcommand)]
        command: RegionsCommand,
    },
    /// The monthly contribution due, per programme, from the rules in force.
    Quote(Box<ledger::QuoteArgs>),
    /// Register and look up participants.
    Participant {
        #[command(subcommand)]
        command: participants::ParticipantCommand,
    },
    /// Bulk import.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Bulk export (streamed, memory flat whatever the size).
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Generate simulated data files.
    Generate {
        #[command(subcommand)]
        command: GenerateCommand,
    },
    /// Post to the ledger: contributions, reversals, terminations.
    Post {
        #[command(subcommand)]
        command: ledger::PostCommand,
    },
    /// Recompute every counter (and each employer's standing) from the ledger and the records
    /// and report each difference (exit 1 if any).
    Verify {
        /// Then replace the counters and the standings with the recompute, each in one
        /// transaction that holds off writers (after an upgrade that adds a counter, or to mend
        /// a difference).
        #[arg(long)]
        repair: bool,
    },
    /// Accounts: add users, tune the password-hashing cost.
    User {
        #[command(subcommand)]
        command: accounts::UserCommand,
    },
    /// The keys that seal personal data: generate, add a version, rotate.
    Keys {
        #[command(subcommand)]
        command: accounts::KeysCommand,
    },
    /// The audit log of personal-data reads and changes.
    Audit {
        #[command(subcommand)]
        command: accounts::AuditCommand,
    },
    /// Coverage targets: list, set, allocate down the region tree.
    Target {
        #[command(subcommand)]
        command: targets::TargetCommand,
    },
    /// Kantor Perisai (partner offices): add, list, monthly statements.
    Office {
        #[command(subcommand)]
        command: agents::OfficeCommand,
    },
    /// Perisai agents: appoint, show, events, deposits, statements, worklists.
    Agent {
        #[command(subcommand)]
        command: agents::AgentCommand,
    },
    /// The village campaign "Kerja Keras Bebas Cemas": the next wave's plan.
    Campaign {
        #[command(subcommand)]
        command: campaign::CampaignCommand,
    },
    /// Employers: register, list (in arrears), wage reports, payments, accounts, invoices.
    Employer {
        #[command(subcommand)]
        command: employers::EmployerCommand,
    },
    /// Self-registration: the funnel, the village search, a test SMS through the gateway.
    Enrolment {
        #[command(subcommand)]
        command: enrolment::EnrolmentCommand,
    },
    /// Reminders: plan a day's (or a dry run), send them, the experiments, retention.
    Reminders {
        #[command(subcommand)]
        command: reminders::ReminderCommand,
    },
    /// Payment rails: channel partners, settlement files, exceptions, daily totals.
    Payments {
        #[command(subcommand)]
        command: payments::PaymentCommand,
    },
    /// Reports from the counters.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// A simulated population and its payment histories, written through the same import
    /// paths as real files (generate participants.csv and contributions.csv, import both).
    Simulate {
        #[arg(long, default_value_t = 100_000)]
        participants: u64,
        /// Months of history: registrations and payments run over the months before today.
        #[arg(long, default_value_t = 24)]
        months: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Months of employers' wage reports and payments, before this month, over the
        /// simulated wage earners (0: none).
        #[arg(long, default_value_t = 12)]
        employer_months: u32,
        /// A regency (or province) in which to simulate a two-wave village campaign with its
        /// baseline survey (`campaign simulate`); none by default.
        #[arg(long, default_value = "")]
        campaign_region: String,
    },
    /// A Citus cluster: distribute this database's tables (docs/operations.md).
    Citus {
        #[command(subcommand)]
        command: citus::CitusCommand,
    },
    /// Benchmarks (see docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Registered and active Perisai agents per region in a month (CSV).
    Agents {
        /// YYYY-MM (default: this month).
        #[arg(long)]
        month: Option<String>,
        #[arg(long, default_value = "province")]
        by: String,
        #[arg(long)]
        region: Option<String>,
    },
    /// A region's peserta aktif against its target: the stored one, or one allocated from the
    /// nearest region above that has a stored target.
    Target {
        /// A region code (default: the nation).
        #[arg(long)]
        region: Option<String>,
        /// YYYY-MM (default: this month).
        #[arg(long)]
        month: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Active participants per region for a month (DESIGN.md §5).
    Active {
        /// YYYY-MM: one month.
        #[arg(long)]
        month: Option<String>,
        /// YYYY-MM: first month of a series (with --to).
        #[arg(long)]
        from: Option<String>,
        /// YYYY-MM: last month of a series.
        #[arg(long)]
        to: Option<String>,
        /// Answer from the ledger instead of the counters (slow: the benchmark baseline).
        #[arg(long)]
        recompute: bool,
        /// nation, province, regency, district or village.
        #[arg(long, default_value = "province")]
        by: String,
        /// Only regions inside this one.
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        segment: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: ledger::Format,
    },
}

#[derive(Debug, Subcommand)]
enum RegionsCommand {
    /// Print the path from the province down to a region, with names.
    Show { code: String },
    /// Counts per level, in the carried data and in the database.
    Stats,
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import contributions.csv (DESIGN.md §5): each amount must equal the dues.
    Contributions {
        file: PathBuf,
        #[arg(long)]
        errors: Option<PathBuf>,
        #[arg(long, default_value_t = 5_000)]
        batch: usize,
        #[arg(long)]
        summary_json: bool,
        #[arg(long)]
        quiet: bool,
    },
    /// Import a directory of wage reports (docs/formats.md): each `NIB_YYYY-MM.csv` is that
    /// employer's report of that month, submitted as `employer report` submits one. Nothing is
    /// written unless every file can be read; a report with problems bills nothing and its
    /// problems go to FILE.errors.csv. Running it again is safe.
    WageReports {
        dir: PathBuf,
        /// Employers whose reports go at once (each employer's months in order).
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Print the summary as JSON.
        #[arg(long)]
        summary_json: bool,
    },
    /// Import participants.csv (DESIGN.md §5).
    Participants {
        file: PathBuf,
        /// Where to write rejected rows (default: FILE.errors.csv).
        #[arg(long)]
        errors: Option<PathBuf>,
        #[arg(long, default_value_t = import::DEFAULT_BATCH)]
        batch: usize,
        /// A first load into an empty registry (PostgreSQL): every row staged with one binary
        /// COPY and merged in one transaction, indexes built after and counters from one
        /// aggregate (docs/operations.md). Refused where the registry or the ledger holds
        /// anything; then import without it, which stores nothing twice.
        #[arg(long)]
        bulk: bool,
        /// Print the summary as JSON (for scripts and `bench`).
        #[arg(long)]
        summary_json: bool,
        /// No progress bar and no per-row messages on the terminal.
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// The registry as participants.csv (DESIGN.md §5), decrypted: what `import participants`
    /// reads, e.g. to move from SQLite to PostgreSQL. Recorded in the audit log.
    Participants {
        /// The file to write (written beside it and renamed when complete), or `-`.
        #[arg(long)]
        out: PathBuf,
        /// Participations read per query.
        #[arg(long, default_value_t = 10_000)]
        page: u32,
        /// Print the summary as JSON (for scripts and `bench`).
        #[arg(long)]
        summary_json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum GenerateCommand {
    /// Simulated payment histories (contributions.csv) for the BPU participants of a
    /// participants.csv.
    Contributions {
        /// The participants.csv whose people pay.
        #[arg(long)]
        participants: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Payments run up to this date (YYYY-MM-DD; default today).
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// A simulated participants.csv.
    Participants {
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Registration dates run up to this date (YYYY-MM-DD; default today).
        #[arg(long)]
        as_of: Option<String>,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Reference data and rules, loaded once.
#[derive(Debug)]
pub struct Reference {
    pub regions: Arc<RegionTree>,
    pub rules: Arc<RuleSet>,
}

fn load_reference(global: &Global) -> Result<Reference> {
    let regions = RegionTree::builtin().context("loading the carried region tree")?;
    let rules = match &global.rules_dir {
        None => RuleSet::builtin().context("loading the built-in rules")?,
        Some(dir) => {
            let mut files = Vec::new();
            for e in
                std::fs::read_dir(dir).with_context(|| format!("--rules-dir {}", dir.display()))?
            {
                let p = e?.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    files.push((
                        name,
                        std::fs::read_to_string(&p)
                            .with_context(|| format!("reading {}", p.display()))?,
                    ));
                }
            }
            files.sort();
            let refs: Vec<(&str, &str)> = files
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            RuleSet::from_sources(&refs).context("loading rules from --rules-dir")?
        }
    };
    Ok(Reference {
        regions: Arc::new(regions),
        rules: Arc::new(rules),
    })
}

/// Opens the store and makes sure it holds the carried regions (first start loads them).
async fn open_store(global: &Global, reference: &Reference) -> Result<Arc<dyn Store>> {
    let keys = store::load_keys(global.keys.as_deref())?;
    let store = store::open(&global.db, global.pg_pool, keys).await?;
    let loaded = store
        .ensure_regions(&reference.regions)
        .await
        .context("loading regions into the store")?;
    if loaded.loaded {
        eprintln!(
            "Loaded {} Kemendagri regions into the {} store.",
            loaded.count,
            store.backend()
        );
    }
    // Counters built under other counting rules (an upgrade, another --rules-dir) are rebuilt
    // from the ledger before anything reads them.
    if store.counters_fingerprint().await?.as_deref()
        != Some(cakupan_domain::coverage::counting_fingerprint(&reference.rules).as_str())
    {
        // A new database has nothing to rebuild: its fingerprint is just recorded.
        if store.count_participants().await? > 0 {
            eprintln!(
                "The counting rules changed since the counters were built: rebuilding them from the ledger…"
            );
        }
        // The rebuild records the fingerprint it was made under.
        store
            .rebuild_counters(&reference.rules)
            .await
            .context("rebuilding the counters")?;
    }
    // The targets the rules carry, unless the store already holds its own for the same key.
    let defaults = cakupan_store::targets::from_rules(&reference.rules)?;
    store
        .set_targets(&defaults, false)
        .await
        .context("storing the targets of rules/targets.toml")?;
    Ok(store)
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAKUPAN_LOG")
                .unwrap_or_else(|_| "info,sqlx::query=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // The one clock: a malformed CAKUPAN_TODAY stops every command before it reads or writes.
    if let Some(day) = cakupan_store::clock::fixed_today().map_err(anyhow::Error::msg)? {
        tracing::info!(
            "the clock is set: today is {day} ({})",
            cakupan_store::clock::TODAY_VAR
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    let reference = load_reference(&cli.global)?;
    match cli.command {
        Command::Regions { command } => regions(&cli.global, &reference, command).await,
        Command::Quote(a) => ledger::quote_cmd(&reference, *a),
        Command::Participant { command } => {
            participants::participant(&cli.global, &reference, command).await
        }
        Command::Import {
            command:
                ImportCommand::Participants {
                    file,
                    errors,
                    batch,
                    bulk,
                    summary_json,
                    quiet,
                },
        } => {
            let store = open_store(&cli.global, &reference).await?;
            // Recorded before it runs, like an export: the file and what it did follow.
            store::audit(
                store.as_ref(),
                "import.participants",
                format!("file:{}{}", file.display(), if bulk { " bulk" } else { "" }),
                "enrolment",
            )
            .await?;
            let s = import::import_participants(
                store,
                reference.regions.clone(),
                reference.rules.clone(),
                today_wib(),
                &file,
                import::ImportOptions {
                    batch,
                    bulk,
                    error_file: errors,
                    progress: !quiet,
                    quiet,
                },
            )
            .await?;
            print_summary(&s, summary_json, "stored")
        }
        Command::Export {
            command:
                ExportCommand::Participants {
                    out,
                    page,
                    summary_json,
                },
        } => {
            let store = open_store(&cli.global, &reference).await?;
            let s = export::participants(store.as_ref(), &out, page).await?;
            if summary_json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                eprintln!(
                    "{} participations exported in {:.1} s ({:.0} rows/s), peak RSS {:.0} MB",
                    s.rows, s.seconds, s.rows_per_second, s.peak_rss_mb
                );
            }
            Ok(())
        }
        Command::Import {
            command:
                ImportCommand::Contributions {
                    file,
                    errors,
                    batch,
                    summary_json,
                    quiet,
                },
        } => {
            let store = open_store(&cli.global, &reference).await?;
            store::audit(
                store.as_ref(),
                "import.contributions",
                format!("file:{}", file.display()),
                "payment",
            )
            .await?;
            let s = import::import_contributions(
                store,
                reference.rules.clone(),
                today_wib(),
                &file,
                import::ImportOptions {
                    batch,
                    bulk: false,
                    error_file: errors,
                    progress: !quiet,
                    quiet,
                },
            )
            .await?;
            print_summary(&s, summary_json, "posted")
        }
        Command::Import {
            command:
                ImportCommand::WageReports {
                    dir,
                    concurrency,
                    summary_json,
                },
        } => {
            let store = open_store(&cli.global, &reference).await?;
            store::audit(
                store.as_ref(),
                "import.wage_reports",
                format!("dir:{}", dir.display()),
                "employer",
            )
            .await?;
            let s =
                employers::import_wage_reports(store.clone(), &reference, &dir, concurrency.max(1))
                    .await?;
            // As after any load: the server's statistics, when what was written is enough to
            // matter (docs/operations.md).
            store.after_bulk_load(s.lines as u64).await?;
            if summary_json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!(
                    "{} files: {} reports billed ({} lines, {} worker-months paid from credit), {} already submitted, {} refused, {} later months waiting; {:.1} s ({:.0} lines/s)",
                    s.files,
                    s.billed,
                    s.lines,
                    s.worker_months_paid,
                    s.repeats,
                    s.refused,
                    s.skipped,
                    s.seconds,
                    s.lines_per_second
                );
            }
            if s.refused > 0 {
                bail!(
                    "{} report(s) refused: nothing billed for them; their problems are in FILE.errors.csv beside each",
                    s.refused
                );
            }
            Ok(())
        }
        Command::Generate {
            command:
                GenerateCommand::Contributions {
                    participants,
                    seed,
                    as_of,
                    out,
                },
        } => {
            let as_of = match as_of {
                Some(s) => parse_date(&s)
                    .with_context(|| format!("--as-of '{s}' must be a date YYYY-MM-DD"))?,
                None => today_wib(),
            };
            let mut f = std::fs::File::create(&out)
                .with_context(|| format!("creating {}", out.display()))?;
            let (n, dropout) =
                generate::contributions(&reference.rules, &participants, seed, as_of, &mut f)?;
            eprintln!(
                "Wrote {n} contributions to {} (dropout {dropout:.3}, calibrated to the published BPU active share)",
                out.display()
            );
            Ok(())
        }
        Command::Generate {
            command:
                GenerateCommand::Participants {
                    count,
                    seed,
                    as_of,
                    out,
                },
        } => {
            let as_of = match as_of {
                Some(s) => parse_date(&s)
                    .with_context(|| format!("--as-of '{s}' must be a date YYYY-MM-DD"))?,
                None => today_wib(),
            };
            match out {
                Some(p) => {
                    let mut f = std::fs::File::create(&p)
                        .with_context(|| format!("creating {}", p.display()))?;
                    generate::generate(
                        &reference.regions,
                        &reference.rules,
                        count,
                        seed,
                        as_of,
                        &mut f,
                    )?;
                    eprintln!("Wrote {count} participants to {}", p.display());
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    generate::generate(
                        &reference.regions,
                        &reference.rules,
                        count,
                        seed,
                        as_of,
                        &mut lock,
                    )?;
                }
            }
            Ok(())
        }
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            sms,
        } => {
            let store = open_store(&cli.global, &reference).await?;
            let tls = tls_cert.zip(tls_key);
            serve(store, &reference, &listen, tls, &sms, None).await
        }
        Command::Demo {
            participants,
            employer_months,
            campaign_region,
            listen,
            no_serve,
            sms,
        } => {
            demo(
                &cli.global,
                &reference,
                (participants, employer_months, &campaign_region),
                &listen,
                no_serve,
                &sms,
            )
            .await
        }
        Command::Bench { command } => {
            bench::run(
                (&cli.global.db, cli.global.pg_pool),
                cli.global.keys.as_deref(),
                &reference,
                command,
            )
            .await
        }
        Command::Simulate {
            participants,
            months,
            seed,
            employer_months,
            campaign_region,
        } => {
            let store = open_store(&cli.global, &reference).await?;
            simulate(
                store,
                &reference,
                participants,
                months,
                seed,
                (employer_months, &campaign_region),
            )
            .await
        }
        Command::Post { command } => {
            let store = open_store(&cli.global, &reference).await?;
            ledger::post(store, &reference, command).await
        }
        Command::Citus { command } => {
            citus::check_db(&cli.global.db)?;
            // Migrated (and the regions loaded) first: the plan places the tables they make.
            open_store(&cli.global, &reference).await?;
            citus::run(&cli.global.db, command).await
        }
        Command::Verify { repair } => {
            let store = open_store(&cli.global, &reference).await?;
            if ledger::verify(store.as_ref(), &reference).await? {
                Ok(())
            } else if repair {
                let n = store.rebuild_counters(&reference.rules).await?;
                println!("Counters rebuilt from the ledger: {n} rows written.");
                let n = store.rebuild_employer_standings().await?;
                println!("Employer standings rebuilt from their records: {n} rows written.");
                if ledger::verify(store.as_ref(), &reference).await? {
                    Ok(())
                } else {
                    bail!("the counters still differ from the ledger after the rebuild")
                }
            } else {
                bail!(
                    "the counters differ from the ledger (run `cakupan verify --repair` to rebuild them)"
                )
            }
        }
        Command::Report {
            command:
                ReportCommand::Target {
                    region,
                    month,
                    json,
                },
        } => {
            let store = open_store(&cli.global, &reference).await?;
            targets::report_target(store.as_ref(), &reference, region, month, json).await
        }
        Command::User { command } => {
            let store = open_store(&cli.global, &reference).await?;
            accounts::run(store, &reference, command).await
        }
        Command::Keys { command } => {
            if accounts::keys_offline(&command)? {
                return Ok(());
            }
            let store = open_store(&cli.global, &reference).await?;
            match command {
                accounts::KeysCommand::Rotate { batch } => {
                    accounts::rotate(store.as_ref(), batch).await
                }
                _ => Ok(()),
            }
        }
        Command::Audit { command } => {
            let store = open_store(&cli.global, &reference).await?;
            accounts::audit(store.as_ref(), command).await
        }
        Command::Target { command } => {
            let store = open_store(&cli.global, &reference).await?;
            targets::run(store.as_ref(), &reference, command).await
        }
        Command::Office { command } => {
            let store = open_store(&cli.global, &reference).await?;
            agents::office(store, &reference, command).await
        }
        Command::Agent { command } => {
            let store = open_store(&cli.global, &reference).await?;
            agents::agent(store, &reference, command).await
        }
        Command::Campaign { command } => {
            let store = open_store(&cli.global, &reference).await?;
            campaign::run(store, &reference, command).await
        }
        Command::Employer { command } => {
            let store = open_store(&cli.global, &reference).await?;
            employers::run(store, &reference, command).await
        }
        Command::Payments { command } => {
            let store = open_store(&cli.global, &reference).await?;
            payments::run(store, &reference, command).await
        }
        Command::Enrolment { command } => {
            let store = open_store(&cli.global, &reference).await?;
            enrolment::run(store, &reference, command).await
        }
        Command::Reminders { command } => {
            let store = open_store(&cli.global, &reference).await?;
            reminders::run(store, &reference, command).await
        }
        Command::Report {
            command: ReportCommand::Agents { month, by, region },
        } => {
            let store = open_store(&cli.global, &reference).await?;
            agents::report(store, &reference, month, &by, region).await
        }
        Command::Report {
            command:
                ReportCommand::Active {
                    month,
                    from,
                    to,
                    recompute,
                    by,
                    region,
                    segment,
                    format,
                },
        } => {
            let store = open_store(&cli.global, &reference).await?;
            ledger::report_active(
                store.as_ref(),
                &reference,
                month,
                from,
                to,
                &by,
                region,
                segment,
                recompute,
                format,
            )
            .await
        }
    }
}

/// Generates a population over the real villages and the payment histories of its BPU
/// members, and imports both through the ordinary import code.
async fn simulate(
    store: Arc<dyn Store>,
    reference: &Reference,
    participants: u64,
    months: u32,
    seed: u64,
    (employer_months, campaign_region): (u32, &str),
) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("cakupan-simulate-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let today = today_wib();
    let since = cakupan_domain::Month::of(today)
        .plus(-(i32::try_from(months).unwrap_or(i32::MAX)))
        .first_day();
    let people = dir.join("participants.csv");
    let pays = dir.join("contributions.csv");
    eprintln!("Generating {participants} simulated participants across the real villages…");
    {
        let mut f = std::fs::File::create(&people)?;
        generate::generate_since(
            &reference.regions,
            &reference.rules,
            participants,
            seed,
            since,
            today,
            &mut f,
        )?;
    }
    let s = import::import_participants(
        store.clone(),
        reference.regions.clone(),
        reference.rules.clone(),
        today,
        &people,
        import::ImportOptions {
            batch: import::DEFAULT_BATCH,
            bulk: false,
            error_file: Some(dir.join("errors.csv")),
            progress: true,
            quiet: false,
        },
    )
    .await?;
    eprintln!(
        "{} participants stored, {} rejected in {:.1} s ({:.0} rows/s).",
        s.created, s.rejected, s.seconds, s.rows_per_second
    );
    let (offices, agents) = agents::network_from_file(store.as_ref(), reference, &people).await?;
    eprintln!(
        "Perisai network: {offices} offices, {agents} agents (from the enrolments through agents)."
    );
    eprintln!("Simulating the BPU participants' payment histories…");
    let (_, dropout) = {
        let mut f = std::fs::File::create(&pays)?;
        generate::contributions(&reference.rules, &people, seed, today, &mut f)?
    };
    let store_for_report = store.clone();
    let c = import::import_contributions(
        store,
        reference.rules.clone(),
        today,
        &pays,
        import::ImportOptions {
            batch: 5_000,
            bulk: false,
            error_file: Some(dir.join("contribution-errors.csv")),
            progress: true,
            quiet: false,
        },
    )
    .await?;
    eprintln!(
        "{} contributions posted, {} rejected in {:.1} s ({:.0} rows/s).",
        c.created, c.rejected, c.seconds, c.rows_per_second
    );
    let reactivated = agents::simulate_reactivations(store_for_report.as_ref(), reference).await?;
    eprintln!("Perisai offices asked to reactivate {reactivated} agents after idle spells.");
    if employer_months > 0 {
        eprintln!(
            "Simulating employers' wage reports and payments over the last {employer_months} months…"
        );
        let e = employers::simulate(
            store_for_report.clone(),
            reference,
            &people,
            seed,
            today,
            employer_months,
        )
        .await?;
        eprintln!(
            "{} employers (micro {}, small {}, medium {}, large {}): {} wage reports of {} lines ({} refused), {} stops; {} payments completing {} worker-months; {} employers in arrears; {:.1} s.",
            e.employers,
            e.by_size[0],
            e.by_size[1],
            e.by_size[2],
            e.by_size[3],
            e.reports,
            e.lines,
            e.blocked,
            e.stops,
            e.payments,
            e.worker_months_paid,
            e.in_arrears,
            e.seconds
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    calibration_report(
        store_for_report.clone(),
        reference,
        cakupan_domain::Month::of(today),
        dropout,
    )
    .await?;
    if !campaign_region.trim().is_empty() {
        let region = cakupan_domain::RegionCode::parse(campaign_region.trim())
            .map_err(|e| anyhow::anyhow!("--campaign-region: {e}"))?;
        eprintln!("Simulating a two-wave village campaign in {region} with its baseline survey…");
        campaign::simulate(
            store_for_report.clone(),
            reference,
            &campaign::Simulation {
                campaign: format!("KKBC-{}", region.to_string().replace('.', "")),
                region,
                effect: 6.0,
                baseline: 0.5,
                weeks: 3,
                per_district: 1,
                seed,
                today,
            },
        )
        .await?;
    }
    // Channel partners pay part of the BPU population through the SNAP endpoints and settle
    // the day with the faults settlements have (issue #19).
    // About one in fifty people is reached, at most 400 codes.
    let partner_payments = usize::try_from((participants / 50).min(400)).unwrap_or(400);
    if let Some(p) =
        payments::simulate_partners(store_for_report.clone(), reference, seed, partner_payments)
            .await?
    {
        let kinds: Vec<String> = p
            .exceptions
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        eprintln!(
            "Channel partners: {} payments through 2 simulated partners over the SNAP endpoints ({} retried after a lost answer, {} duplicates refused); {} settlement lines imported; open exceptions: {}.",
            p.paid,
            p.retried,
            p.duplicates_refused,
            p.settled_lines,
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(", ")
            }
        );
    }
    // The self-registration funnel, once every simulated registration (the campaign's too) is in.
    let enrolled = enrolment::simulate_funnel(store_for_report.as_ref(), reference, seed).await?;
    eprintln!(
        "Self-registration: {enrolled} workers registered themselves in the funnel's weeks (with those who asked for a code and stopped)."
    );
    // A reminder campaign whose payments respond to reminders with a known effect (issue #21).
    if let Some(r) = reminders::simulate(store_for_report.clone(), reference, seed).await? {
        eprintln!(
            "Reminders: {} reminders planned on {} ({:.0}% held out); payment within the window responds with +{:.0} pp to an SMS and +{:.0} pp to an agent (cakupan reminders experiment).",
            r.reminders,
            r.days.join(", "),
            r.holdout_ppm as f64 / 10_000.0,
            reminders::SMS_EFFECT * 100.0,
            reminders::AGENT_EFFECT * 100.0
        );
    }
    // Head office shares the national target out to every village, as `target allocate` does.
    let (parent, a) = cakupan_store::targets::allocation_for(
        store_for_report.as_ref(),
        &reference.regions,
        RegionCode::NATION,
        None,
        cakupan_domain::Level::Village,
        cakupan_domain::Month::of(today),
    )
    .await?;
    store::audit(
        store_for_report.as_ref(),
        "target.allocate",
        format!("targets::{}:village", parent.month),
        "administration",
    )
    .await?;
    store_for_report.set_targets(&a.targets, true).await?;
    eprintln!(
        "Allocated the national target of {} ({}) to {} regions down to the villages.",
        parent.value,
        parent.month,
        a.targets.len()
    );
    Ok(())
}

/// The demo's national target, scaled to its simulated registry (issue #22): the published
/// registry over the simulated one is the scale 1:N; the stated target and its baseline are
/// divided by N (the pages say "demo, scale 1:N") and allocated down to the villages again.
async fn demo_target(store: Arc<dyn Store>, reference: &Reference) -> Result<()> {
    use cakupan_domain::{Level, RegionCode};
    let month = cakupan_domain::Month::of(today_wib());
    let simulated = store
        .active_report(Level::Nation, RegionCode::NATION, None, month)
        .await?
        .into_iter()
        .next()
        .map(|r| r.registered)
        .unwrap_or(0);
    if simulated == 0 {
        return Ok(());
    }
    let published = generate::Calibration::published()?.registered_total;
    let scale = (published / simulated as f64).round().max(1.0) as i64;
    cakupan_store::targets::scale_national_targets(store.as_ref(), scale).await?;
    let (parent, a) = cakupan_store::targets::allocation_for(
        store.as_ref(),
        &reference.regions,
        RegionCode::NATION,
        None,
        Level::Village,
        month,
    )
    .await?;
    store.set_targets(&a.targets, true).await?;
    eprintln!(
        "Demo: the national target scaled 1:{scale} (published registry {published:.0} over {simulated} simulated): {} by {}, allocated to {} regions.",
        parent.value,
        parent.month,
        a.targets.len()
    );
    Ok(())
}

/// The published figures the simulation is calibrated to beside what it produced, read back
/// from the counters.
async fn calibration_report(
    store: Arc<dyn Store>,
    reference: &Reference,
    month: cakupan_domain::Month,
    dropout: f64,
) -> Result<()> {
    use cakupan_domain::{Level, RegionCode, Segment};
    let cal = generate::Calibration::published()?;
    let nation = |segment: Option<Segment>| {
        let store = store.clone();
        async move {
            anyhow::Ok(
                store
                    .active_report(Level::Nation, RegionCode::NATION, segment, month)
                    .await?
                    .into_iter()
                    .next()
                    .map(|r| (r.registered as f64, r.status_active as f64))
                    .unwrap_or((0.0, 0.0)),
            )
        }
    };
    let (pu, bpu) = (
        nation(Some(Segment::Pu)).await?,
        nation(Some(Segment::Bpu)).await?,
    );
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let published = generate::CALIBRATION_MONTH;
    eprintln!("Calibration (published, BPJS Ketenagakerjaan {published} → simulated, {month}):");
    eprintln!(
        "  PU share of PU+BPU registrations   {} → {}",
        pct(cal.pu_share),
        pct(pu.0 / (pu.0 + bpu.0).max(1.0))
    );
    eprintln!(
        "  BPU peserta aktif / registered BPU {} → {} (dropout {dropout:.3})",
        pct(cal.bpu_active_share),
        pct(bpu.1 / bpu.0.max(1.0))
    );
    eprintln!(
        "  PU peserta aktif / registered PU   {} → {} (paid through the simulated employers' invoices; none before their first month)",
        pct(cal.pu_active_share),
        pct(pu.1 / pu.0.max(1.0))
    );
    let weights = cal.province_weights(&reference.regions);
    let total_w: f64 = weights.values().sum();
    let rows = store
        .active_report(Level::Province, RegionCode::NATION, None, month)
        .await?;
    let total: f64 = rows.iter().map(|r| r.registered as f64).sum();
    let mut worst: (f64, String) = (0.0, String::new());
    for r in &rows {
        let Ok(code) = RegionCode::parse(&r.code) else {
            continue;
        };
        let Some(p) = cal.registered_by_province.get(&code.province_number()) else {
            continue;
        };
        let gap = (r.registered as f64 / total.max(1.0) - p / total_w.max(1.0)).abs();
        if gap > worst.0 {
            worst = (gap, r.code.clone());
        }
    }
    eprintln!(
        "  province shares of registrations   {} provinces published; largest gap {:.2} percentage points ({})",
        cal.registered_by_province.len(),
        100.0 * worst.0,
        worst.1
    );
    Ok(())
}

fn print_summary(s: &import::ImportSummary, json: bool, verb: &str) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(s)?);
    } else {
        println!(
            "{} rows: {} {verb}, {} already there, {} rejected, {} warnings; {:.1} s ({:.0} rows/s), peak RSS {:.0} MB",
            s.rows,
            s.created,
            s.existing,
            s.rejected,
            s.warnings,
            s.seconds,
            s.rows_per_second,
            s.peak_rss_mb
        );
        if let Some(p) = &s.error_file {
            println!("Rejected rows and reasons: {}", p.display());
        }
    }
    // Every row refused: the run did nothing, and a script must not read it as success.
    if s.created == 0 && s.existing == 0 && s.rejected > 0 {
        bail!(
            "nothing {verb}: all {} row(s) were rejected{}",
            s.rejected,
            s.error_file
                .as_ref()
                .map(|p| format!(" (reasons in {})", p.display()))
                .unwrap_or_default()
        );
    }
    Ok(())
}

async fn serve(
    store: Arc<dyn Store>,
    reference: &Reference,
    listen: &str,
    tls: Option<(PathBuf, PathBuf)>,
    sms_args: &enrolment::SmsArgs,
    sms: Option<cakupan_app::sms::Gateway>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("--listen {listen}: cannot bind"))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "Cakupan ({} store) listening on {}://{addr}  (API: /api/v1, OpenAPI: /api/v1/openapi.json)",
        store.backend(),
        if tls.is_some() { "https" } else { "http" }
    );
    let auth = Arc::new(accounts::auth(reference)?.with_secure_cookies(tls.is_some()));
    tracing::info!(
        "password hashing: Argon2id m={} KiB, t={}; at most {} at once within the budget",
        auth.cost.m_kib,
        auth.cost.t,
        auth.parallel_hashes()
    );
    // Every hour, expired one-time codes are deleted, and the audit log's anchor is written in
    // the server's log, at start and every hour: kept apart from
    // the database, it lets `audit verify --anchor <log>` find a truncated or wiped log. One row
    // read (the last entry), whatever the log's length; the chain is checked by `audit verify`.
    let anchored = store.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            // One-time codes a day past their expiry are of no use to anyone (issue #20).
            if let Err(e) = anchored
                .forget_codes(cakupan_store::clock::now_secs() - 86_400)
                .await
            {
                tracing::warn!("forgetting expired one-time codes: {e}");
            }
            match anchored.audit_anchor().await {
                Ok(a) => tracing::info!(
                    "{}",
                    a.line(&cakupan_app::accounts::rfc3339(
                        cakupan_store::clock::now_secs()
                    ))
                ),
                Err(e) => tracing::warn!("audit anchor: {e}"),
            }
        }
    });
    if store.count_users().await? == 0 {
        eprintln!(
            "No accounts yet: create the first administrator with `cakupan user add --username <name> --role admin` (its password is generated and shown once)."
        );
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let sms = sms.or_else(|| sms_args.gateway(&format!("{scheme}://{addr}")));
    match &sms {
        Some(g) => eprintln!("One-time codes go by SMS through {}", g.url),
        None => eprintln!(
            "No SMS gateway (--sms-url): self-registration and signing in with a code answer that codes cannot be sent."
        ),
    }
    let state = AppState {
        store,
        regions: reference.regions.clone(),
        rules: reference.rules.clone(),
        today: today_wib,
        sms: sms.map(Arc::new),
        auth,
    };
    match tls {
        None => cakupan_server::serve(listener, state).await?,
        Some((cert, key)) => {
            let std_listener = listener.into_std()?;
            cakupan_server::serve_tls(std_listener, &cert, &key, state)
                .await
                .with_context(|| {
                    format!(
                        "serving TLS with --tls-cert {} --tls-key {}",
                        cert.display(),
                        key.display()
                    )
                })?
        }
    }
    Ok(())
}

async fn demo(
    global: &Global,
    reference: &Reference,
    (participants, employer_months, campaign_region): (u64, u32, &str),
    listen: &str,
    no_serve: bool,
    sms: &enrolment::SmsArgs,
) -> Result<()> {
    let url = if global.db == "sqlite://cakupan.db" {
        "sqlite://cakupan-demo.db".to_string()
    } else {
        global.db.clone()
    };
    // The demo's own key file beside its database, unless keys were given.
    let keys = match &global.keys {
        Some(k) => Some(k.clone()),
        None if std::env::var("CAKUPAN_KEYS").is_ok_and(|k| !k.trim().is_empty()) => None,
        None => {
            let f = match url.strip_prefix("sqlite://") {
                Some(path) => PathBuf::from(format!("{path}.keys")),
                None => PathBuf::from("cakupan-demo.keys"),
            };
            if !f.exists() {
                write_private(&f, &cakupan_store::crypto::Keys::generate()?)?;
                eprintln!(
                    "Created the demo's key file {} (it seals the personal data; keep it with the demo database, never inside it).",
                    f.display()
                );
            }
            Some(f)
        }
    };
    let g = Global {
        db: url.clone(),
        rules_dir: global.rules_dir.clone(),
        pg_pool: global.pg_pool,
        keys,
    };
    let store = open_store(&g, reference).await?;
    let have = store.count_participants().await?;
    if have == 0 && participants > 0 {
        // Registrations since 2018, so the 36-month charts have a history.
        simulate(
            store.clone(),
            reference,
            participants,
            96,
            2026,
            (employer_months, campaign_region),
        )
        .await?;
        demo_target(store.clone(), reference).await?;
    } else {
        eprintln!("{url} already holds {have} participants; serving them.");
    }
    if store.count_users().await? == 0 {
        // The demo's own administrator, with a generated password shown once.
        // Given rather than generated by the service, so the demo's administrator is not asked
        // to change it at the first sign-in.
        let pw = cakupan_app::accounts::one_time_password().map_err(anyhow::Error::msg)?;
        accounts::add_user(
            store.clone(),
            reference,
            "admin",
            "admin",
            None,
            None,
            None,
            None,
            Some(pw.clone()),
        )
        .await?;
        // Administrators sign in with a second factor (rules/security.toml): set one up.
        let st = agents::state(store.clone(), reference)?;
        let totp = cakupan_app::accounts::enrol_totp(&st, &accounts::cli_admin(), "demo", "admin")
            .await
            .map_err(agents::api)?;
        eprintln!(
            "Demo administrator: username admin, password {pw} (shown once; sign in at http://{listen}/login, or POST /api/v1/sessions for the API)"
        );
        eprintln!(
            "Its second factor: add the key {} to an authenticator app (or open {}); recovery codes: {}",
            totp.secret,
            totp.otpauth_url,
            totp.recovery_codes.join(" ")
        );
    }
    if no_serve {
        return Ok(());
    }
    // Self-registration's codes go through Kannel on loopback unless a gateway was given.
    let kannel = PathBuf::from("cakupan-demo-kannel");
    let gateway = match sms.sms_url {
        Some(_) => None,
        None => enrolment::demo_gateway(&kannel, &format!("http://{listen}"), true),
    };
    let started = gateway.is_some();
    let served = serve(store, reference, listen, None, sms, gateway).await;
    if started {
        enrolment::stop_demo_gateway(&kannel);
    }
    served
}

async fn regions(global: &Global, reference: &Reference, cmd: RegionsCommand) -> Result<()> {
    let tree = &reference.regions;
    match cmd {
        RegionsCommand::Show { code } => {
            let c = RegionCode::parse(&code).map_err(|e| anyhow::anyhow!("code '{code}': {e}"))?;
            let path = tree
                .path(c)
                .with_context(|| format!("{c} is not in the Kemendagri region list"))?;
            for (depth, r) in path.iter().enumerate() {
                let kind = if r.kind.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.kind)
                };
                println!(
                    "{}{:<14} {:<9} {}{kind}",
                    "  ".repeat(depth),
                    r.code.to_string(),
                    r.code.level().as_str(),
                    r.name
                );
            }
            let children = tree.children(c);
            if !children.is_empty() {
                println!("{} children", children.len());
            }
            Ok(())
        }
        RegionsCommand::Stats => {
            let store = open_store(global, reference).await?;
            let stored = store.region_counts().await?;
            println!("{:<10} {:>8} {:>8}", "level", "carried", "stored");
            for (i, level) in [
                Level::Province,
                Level::Regency,
                Level::District,
                Level::Village,
            ]
            .into_iter()
            .enumerate()
            {
                let s = stored
                    .iter()
                    .find(|(l, _)| *l == level)
                    .map(|x| x.1)
                    .unwrap_or(0);
                println!("{:<10} {:>8} {:>8}", level.as_str(), tree.counts()[i], s);
            }
            for (level, kind, n) in tree.kinds() {
                println!("  {} {kind}: {n}", level.as_str());
            }
            println!(
                "Source: Kepmendagri 300.2.2-2138/2025 as amended by 300.2.2-2430/2025, via cahyadsn/wilayah (MIT); see data/regions/README.md"
            );
            Ok(())
        }
    }
}

/// Writes a secret file readable by its owner only.
pub fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
