//! Bulk import of `participants.csv` (DESIGN.md §5): streamed, validated row by row, stored
//! in batches, with every bad row reported by line number.
//!
//! A reader thread parses and validates while the store writes the previous batch, so the two
//! cores overlap. Memory stays flat: at most two batches are in flight whatever the file size.
//! Re-running a file stores nothing twice: rows already registered with the same details are
//! counted as `existing`.

use anyhow::{Context as _, Result, bail};
use cakupan_domain::participants::{Context, Registration, RegistrationInput, validate};
use cakupan_domain::{FieldError, RegionTree, RuleSet};
use cakupan_store::{Outcome, Store};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use time::Date;

/// The header of `participants.csv`: the registration fields in order.
pub use cakupan_domain::participants::FIELDS as COLUMNS;
/// Columns `participants.csv` may add after [`COLUMNS`].
pub use cakupan_domain::participants::OPTIONAL_FIELDS as OPTIONAL_COLUMNS;

/// How many rows go to the store in one transaction. Larger commits rewrite each dirtied
/// page of the random NIK index less often (docs/benchmarks.md); two batches in flight of
/// this size keep the import under 200 MB.
pub const DEFAULT_BATCH: usize = 20_000;
/// Rows whose errors are also printed to the terminal (all go to the error file).
const TERMINAL_ERRORS: usize = 20;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub rows: u64,
    pub created: u64,
    pub existing: u64,
    pub rejected: u64,
    pub warnings: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub peak_rss_mb: f64,
    pub error_file: Option<PathBuf>,
}

/// One validated row, or the problems of one row, with its line number.
enum Item {
    Good(u64, Registration, usize),
    Bad(u64, Vec<FieldError>),
}

/// Validates only, storing nothing: the baseline that `bench import` compares against.
pub fn validate_file(
    path: &Path,
    regions: &RegionTree,
    rules: &RuleSet,
    today: Date,
) -> Result<(u64, u64)> {
    let ctx = Context {
        regions,
        rules,
        today,
    };
    let (mut rdr, _) = reader(path)?;
    let (mut good, mut bad) = (0, 0);
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec)? {
        match validate(&ctx, &input(&rec)) {
            Ok(_) => good += 1,
            Err(_) => bad += 1,
        }
    }
    Ok((good, bad))
}

/// A `participants.csv` reader and its number of columns: [`COLUMNS`], optionally followed by
/// the columns of [`OPTIONAL_COLUMNS`] (a prefix of them, in order).
fn reader(path: &Path) -> Result<(csv::Reader<BufReader<File>>, usize)> {
    let (rdr, n) = reader_optional(path, &COLUMNS, &OPTIONAL_COLUMNS)?;
    Ok((rdr, n))
}

fn reader_optional(
    path: &Path,
    columns: &[&str],
    optional: &[&str],
) -> Result<(csv::Reader<BufReader<File>>, usize)> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, f));
    let headers = rdr.headers().context("reading the header row")?.clone();
    // Spreadsheet programs often save UTF-8 with a byte-order mark before the first column.
    let got: Vec<&str> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim())
        .collect();
    let extra = got.len().saturating_sub(columns.len());
    if got.len() < columns.len()
        || got[..columns.len()] != *columns
        || extra > optional.len()
        || got[columns.len()..] != optional[..extra]
    {
        let optional_note = if optional.is_empty() {
            String::new()
        } else {
            format!("\n  (optionally followed by ,{})", optional.join(","))
        };
        bail!(
            "{}: the header row must be exactly\n  {}{optional_note}\nbut is\n  {}",
            path.display(),
            columns.join(","),
            got.join(",")
        );
    }
    Ok((rdr, got.len()))
}

fn input(rec: &csv::StringRecord) -> RegistrationInput {
    let g = |i: usize| rec.get(i).unwrap_or("").to_string();
    RegistrationInput {
        nik: g(0),
        name: g(1),
        birth_date: g(2),
        sex: g(3),
        phone: g(4),
        village_code: g(5),
        segment: g(6),
        occupation_code: g(7),
        income_base: g(8),
        programs: g(9),
        registered_on: g(10),
        channel: g(11),
        agent_code: g(12),
        address: g(13),
        budget_funded: g(14),
        heirs: Vec::new(),
    }
}

/// Peak resident memory of this process so far, in MB (Linux `VmHWM`).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[derive(Debug)]
pub struct ImportOptions {
    pub batch: usize,
    /// The bulk path of a first load into an empty registry (`--bulk`, PostgreSQL).
    pub bulk: bool,
    pub error_file: Option<PathBuf>,
    pub progress: bool,
    pub quiet: bool,
}

pub async fn import_participants(
    store: Arc<dyn Store>,
    regions: Arc<RegionTree>,
    rules: Arc<RuleSet>,
    today: Date,
    path: &Path,
    opts: ImportOptions,
) -> Result<ImportSummary> {
    let started = Instant::now();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let (mut rdr, ncols) = reader(path)?;
    let mut out = Rejections::new(path, &opts, size)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<Item>, u64)>(2);
    let batch = opts.batch.max(1);
    let store_rules = rules.clone();
    let producer = tokio::task::spawn_blocking(move || -> Result<()> {
        let ctx = Context {
            regions: &regions,
            rules: &rules,
            today,
        };
        let mut rec = csv::StringRecord::new();
        let mut items = Vec::with_capacity(batch);
        let mut good = 0;
        loop {
            let more = match rdr.read_record(&mut rec) {
                Ok(m) => m,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    items.push(Item::Bad(
                        line,
                        vec![FieldError::new("row", "csv.format", e.to_string())],
                    ));
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        return Err(e.into());
                    }
                    continue;
                }
            };
            if more {
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                if rec.len() != ncols {
                    items.push(Item::Bad(
                        line,
                        vec![FieldError::new(
                            "row",
                            "csv.columns",
                            format!("expected {ncols} columns, found {}", rec.len()),
                        )],
                    ));
                } else {
                    match validate(&ctx, &input(&rec)) {
                        Ok((r, w)) => {
                            items.push(Item::Good(line, r, w.len()));
                            good += 1;
                        }
                        Err(e) => items.push(Item::Bad(line, e.0)),
                    }
                }
            }
            if good >= batch || (!more && !items.is_empty()) {
                let pos = rdr.position().byte();
                if tx.blocking_send((std::mem::take(&mut items), pos)).is_err() {
                    return Ok(()); // the writer stopped; its error is reported there
                }
                good = 0;
            }
            if !more {
                return Ok(());
            }
        }
    });

    let mut summary = ImportSummary::default();
    // The bulk path (issue #23): every good row goes to the store's one load, which answers
    // at the end; the rows it did not store come back by line.
    let (mut bulk_rows, bulk) = if opts.bulk {
        let (rows_tx, rows_rx) = tokio::sync::mpsc::channel::<Vec<(u64, Registration)>>(2);
        let (s, r) = (store.clone(), store_rules.clone());
        let load = tokio::spawn(async move { s.register_bulk(&r, rows_rx).await });
        (Some(rows_tx), Some(load))
    } else {
        (None, None)
    };
    while let Some((items, pos)) = rx.recv().await {
        let mut regs = Vec::new();
        let mut lines = Vec::new();
        for item in items {
            summary.rows += 1;
            match item {
                Item::Good(line, r, w) => {
                    summary.warnings += w as u64;
                    lines.push(line);
                    regs.push(r);
                }
                Item::Bad(line, errs) => {
                    summary.rejected += 1;
                    out.report(line, &errs)?;
                }
            }
        }
        if let Some(rows_tx) = &bulk_rows {
            let batch: Vec<(u64, Registration)> = lines.into_iter().zip(regs).collect();
            if rows_tx.send(batch).await.is_err() {
                break; // the load stopped; its error is reported below
            }
            out.bar.set_position(pos);
            out.bar.set_message(format!(
                "{} staged, {} rejected",
                summary.rows, summary.rejected
            ));
            continue;
        }
        let outcomes = store
            .register_batch(&store_rules, &regs)
            .await
            .context("storing a batch of participants")?;
        for (o, line) in outcomes.iter().zip(lines) {
            match o {
                Outcome::Created { .. } => summary.created += 1,
                Outcome::Existing { .. } => summary.existing += 1,
                Outcome::Conflict { kpj, segment } => {
                    summary.rejected += 1;
                    out.report(line, &[conflict(kpj, *segment)])?;
                }
            }
        }
        out.bar.set_position(pos);
        out.bar.set_message(format!(
            "{} stored, {} rejected",
            summary.created, summary.rejected
        ));
    }
    if let Some(load) = bulk {
        drop(rx); // a reader still sending (the load stopped early) stops
        // A file that could not be read to its end loads nothing: the load is dropped before
        // it is told the rows ended, and its transaction is rolled back with it.
        let read = producer
            .await
            .context("the reader thread failed")
            .and_then(|r| r);
        if let Err(e) = read {
            load.abort();
            let _ = load.await; // cancelled while the rows are still open: it never merges
            return Err(e.context("reading the file: nothing was loaded"));
        }
        bulk_rows.take(); // the end of the rows: the load merges what it staged
        let done = load
            .await
            .context("the bulk load failed")?
            .context("loading participants in bulk")?;
        summary.created = done.created;
        for (line, o) in done.repeats {
            match o {
                Outcome::Created { .. } => summary.created += 1,
                Outcome::Existing { .. } => summary.existing += 1,
                Outcome::Conflict { kpj, segment } => {
                    summary.rejected += 1;
                    out.report(line, &[conflict(&kpj, segment)])?;
                }
            }
        }
    } else {
        producer.await.context("the reader thread failed")??;
    }
    if summary.created > 0 {
        store.after_bulk_load(summary.created).await?;
    }
    out.finish(summary, started)
}

/// The error of a row whose NIK already has another participation in its segment.
fn conflict(kpj: &str, segment: cakupan_domain::Segment) -> FieldError {
    FieldError::new(
        "nik",
        "nik.one_per_segment",
        format!(
            "this NIK already has a {segment} participation with different details (KPJ {kpj})"
        ),
    )
    .with_args([kpj.to_string()])
}

/// A progress bar over the input's bytes, or a hidden one.
fn progress(bytes: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(bytes);
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{bar:30}] {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    b
}

/// Where an import's rejected rows go: the error file (created on the first one; FILE.errors.csv
/// beside the input unless another path is given) and the first few to the terminal.
struct Rejections {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    printed: usize,
    quiet: bool,
    bar: ProgressBar,
}

impl Rejections {
    /// Removes an earlier run's error file first: what is left beside the input after this run
    /// speaks of this run only.
    fn new(input: &Path, opts: &ImportOptions, bytes: u64) -> Result<Rejections> {
        let path = opts.error_file.clone().unwrap_or_else(|| {
            let mut p = input.as_os_str().to_owned();
            p.push(".errors.csv");
            PathBuf::from(p)
        });
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| {
                    format!("removing the earlier error file {}", path.display())
                });
            }
            _ => {}
        }
        Ok(Rejections {
            path,
            out: None,
            printed: 0,
            quiet: opts.quiet,
            bar: progress(bytes, opts.progress),
        })
    }

    fn report(&mut self, line: u64, errs: &[FieldError]) -> Result<()> {
        if self.out.is_none() {
            let f = File::create(&self.path)
                .with_context(|| format!("creating the error file {}", self.path.display()))?;
            let mut w = BufWriter::new(f);
            writeln!(w, "line,field,rule,message")?;
            self.out = Some(w);
        }
        if let Some(w) = self.out.as_mut() {
            for e in errs {
                writeln!(
                    w,
                    "{line},{},{},\"{}\"",
                    e.field,
                    e.rule,
                    e.message.replace('"', "\"\"")
                )?;
            }
        }
        if !self.quiet && self.printed < TERMINAL_ERRORS {
            let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
            self.bar
                .suspend(|| eprintln!("line {line}: {}", text.join("; ")));
            self.printed += 1;
        }
        Ok(())
    }

    /// Closes the error file and the progress bar and fills in the timings.
    fn finish(self, mut summary: ImportSummary, started: Instant) -> Result<ImportSummary> {
        self.bar.finish_and_clear();
        if let Some(mut w) = self.out {
            w.flush()?;
            summary.error_file = Some(self.path);
        }
        if self.printed < summary.rejected as usize && !self.quiet {
            eprintln!(
                "… {} more rejected rows: see the error file",
                summary.rejected as usize - self.printed
            );
        }
        summary.seconds = started.elapsed().as_secs_f64();
        summary.rows_per_second = summary.rows as f64 / summary.seconds.max(1e-9);
        summary.peak_rss_mb = peak_rss_mb();
        Ok(summary)
    }
}

/// Imports `contributions.csv` (DESIGN.md §5): each row a contribution posting, checked
/// against the dues, posted in batches (each batch one transaction, counters included).
/// Re-running a file posts nothing twice.
/// The optional `collected_by` column: the Perisai agent who took the payment in cash (a
/// well-formed agent code, with channel `perisai`). Imported history is not re-checked
/// against the agent's standing and villages; collections made online are.
fn collected(
    p: &mut cakupan_domain::contribution::Payment,
    agent: &str,
) -> Result<(), cakupan_domain::FieldErrors> {
    if agent.is_empty() {
        return Ok(());
    }
    if !cakupan_store::agents::valid_code(agent) {
        return Err(FieldError::new(
            "collected_by",
            "code.format",
            "collected_by must be an agent code: 3 to 32 capital letters, digits or '-'",
        )
        .into());
    }
    if p.channel != cakupan_domain::contribution::PaymentChannel::Perisai {
        return Err(FieldError::new(
            "collected_by",
            "channel.collection",
            "a collection by a Perisai agent goes through the perisai channel",
        )
        .into());
    }
    p.collected_by = Some(agent.to_string());
    Ok(())
}

pub async fn import_contributions(
    store: Arc<dyn Store>,
    rules: Arc<RuleSet>,
    today: Date,
    path: &Path,
    opts: ImportOptions,
) -> Result<ImportSummary> {
    use cakupan_domain::contribution::{ContributionInput, FIELDS, parse_payment};
    use cakupan_store::ledger::{NewPosting, PostingOutcome};
    let started = Instant::now();
    let (mut rdr, ncols) = reader_optional(path, &FIELDS, &["collected_by"])?;
    let mut out = Rejections::new(
        path,
        &opts,
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
    )?;
    let mut summary = ImportSummary::default();
    let mut rec = csv::StringRecord::new();
    let batch = opts.batch.max(1);
    let mut postings: Vec<NewPosting> = Vec::with_capacity(batch);
    let mut lines: Vec<u64> = Vec::with_capacity(batch);
    loop {
        let more = rdr.read_record(&mut rec)?;
        if more {
            summary.rows += 1;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let g = |i: usize| rec.get(i).unwrap_or("").to_string();
            if rec.len() != ncols {
                summary.rejected += 1;
                let e = FieldError::new(
                    "row",
                    "csv.columns",
                    format!("expected {ncols} columns, found {}", rec.len()),
                );
                out.report(line, &[e])?;
            } else {
                let input = ContributionInput {
                    reference: g(0),
                    nik: g(1),
                    segment: g(2),
                    first_month: g(3),
                    months: g(4),
                    amount: g(5),
                    channel: g(6),
                    paid_on: g(7),
                };
                let collected_by = g(8);
                match parse_payment(&rules, &input, today).and_then(|mut p| {
                    collected(&mut p, collected_by.trim())?;
                    Ok(p)
                }) {
                    Ok(p) => {
                        postings.push(NewPosting::Contribution(p));
                        lines.push(line);
                    }
                    Err(e) => {
                        summary.rejected += 1;
                        out.report(line, &e.0)?;
                    }
                }
            }
        }
        if postings.len() >= batch || (!more && !postings.is_empty()) {
            let outcomes = store
                .post_batch(&rules, &postings)
                .await
                .context("posting a batch of contributions")?;
            for (o, line) in outcomes.iter().zip(&lines) {
                match o {
                    Ok(PostingOutcome::Posted { .. }) => summary.created += 1,
                    Ok(PostingOutcome::Existing { .. }) => summary.existing += 1,
                    Err(e) => {
                        summary.rejected += 1;
                        out.report(*line, &e.0)?;
                    }
                }
            }
            postings.clear();
            lines.clear();
            out.bar.set_position(rdr.position().byte());
            out.bar.set_message(format!(
                "{} posted, {} rejected",
                summary.created, summary.rejected
            ));
        }
        if !more {
            break;
        }
    }
    if summary.created > 0 {
        store.after_bulk_load(summary.created).await?;
    }
    out.finish(summary, started)
}
