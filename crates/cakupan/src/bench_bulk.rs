//! `cakupan bench bulk` (issue #23, item 2): the bulk path of a first load on PostgreSQL
//! against `COPY` of the same rows into a bare table with the same unique key, in the same run,
//! and against the ordinary import.

use crate::bench::{
    Summary, bench_keys, cached, child_summary, drop_fresh, fresh_db, validate_rate,
};
use crate::{Reference, generate, today_wib};
use anyhow::{Result, bail};
use std::path::PathBuf;

/// Per size: the file generated (seed 1, as `bench import` makes it), the validate-only
/// baseline, `COPY` of the file into a bare table keyed by (nik, segment), the bulk load in a
/// child process (its rows/s and peak RSS), `verify` of what it stored, and (with
/// `ordinary`) the ordinary import into another fresh database.
pub async fn bulk_bench(
    db: &str,
    reference: &Reference,
    sizes: &[u64],
    work_dir: Option<PathBuf>,
    ordinary: bool,
) -> Result<()> {
    if !db.starts_with("postgres") {
        bail!(
            "bench bulk measures the bulk path, which runs on PostgreSQL: give --db postgres://…"
        );
    }
    let dir = work_dir.unwrap_or_else(|| std::env::temp_dir().join("cakupan-bench"));
    std::fs::create_dir_all(&dir)?;
    let key_file = bench_keys(&dir)?;
    let keys = crate::store::load_keys(Some(&key_file))?;
    let as_of = time::Date::from_calendar_date(2026, time::Month::November, 1)?;
    let today = today_wib().max(as_of);
    println!(
        "| rows | validate only (rows/s) | COPY into a bare table (rows/s) | bulk load (rows/s) | bulk ÷ COPY | bulk peak RSS (MB) | ordinary import (rows/s) | bulk ÷ ordinary | verify |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for &n in sizes {
        let file = dir.join(format!("participants-{n}-seed1-{as_of}.csv"));
        cached(&file, |f| {
            generate::generate(&reference.regions, &reference.rules, n, 1, as_of, f)
        })?;
        let validate = validate_rate(&file, reference, today)?;
        let (url, name) = fresh_db(db, &dir, "cakupan_bench", "unused.db").await?;
        let copy = {
            let (rows, took) = cakupan_store_postgres::copy_baseline(&url, &file).await?;
            rows as f64 / took.as_secs_f64().max(1e-9)
        };
        eprintln!("  {n} rows: COPY into a bare table {copy:.0} rows/s");
        let errors = dir.join(format!("bulk-errors-{n}.csv"));
        let bulk: Summary = child_summary(
            &[
                "import".into(),
                "participants".into(),
                file.clone().into(),
                "--bulk".into(),
                "--quiet".into(),
                "--errors".into(),
                errors.into(),
            ],
            &url,
            &key_file,
            "bulk load",
        )?;
        eprintln!(
            "  {n} rows: bulk load {:.0} rows/s ({} stored in {:.1} s), peak RSS {:.0} MB",
            bulk.rows_per_second, bulk.created, bulk.seconds, bulk.peak_rss_mb
        );
        let same = {
            let store = crate::store::open(&url, 2, keys.clone()).await?;
            crate::ledger::verify(store.as_ref(), reference).await?
        };
        drop_fresh(db, &url, name).await?;
        let plain = if ordinary {
            let (url, name) = fresh_db(db, &dir, "cakupan_bench", "unused.db").await?;
            let s: Summary = child_summary(
                &[
                    "import".into(),
                    "participants".into(),
                    file.clone().into(),
                    "--quiet".into(),
                    "--errors".into(),
                    dir.join(format!("errors-{n}.csv")).into(),
                ],
                &url,
                &key_file,
                "import",
            )?;
            drop_fresh(db, &url, name).await?;
            eprintln!(
                "  {n} rows: ordinary import {:.0} rows/s",
                s.rows_per_second
            );
            Some(s.rows_per_second)
        } else {
            None
        };
        println!(
            "| {} | {validate:.0} | {copy:.0} | {:.0} | {:.2} | {:.0} | {} | {} | {} |",
            bulk.rows,
            bulk.rows_per_second,
            bulk.rows_per_second / copy.max(1e-9),
            bulk.peak_rss_mb,
            plain.map_or("–".into(), |p| format!("{p:.0}")),
            plain.map_or("–".into(), |p| format!(
                "{:.1}×",
                bulk.rows_per_second / p.max(1e-9)
            )),
            if same { "0 differences" } else { "DIFFERENCES" },
        );
        if !same {
            bail!("the bulk-loaded counters differ from the recompute at {n} rows");
        }
    }
    Ok(())
}
