//! `cakupan export participants`: the registry as `participants.csv` (DESIGN.md §5), the file
//! `cakupan import participants` reads, e.g. to move from the embedded SQLite store to
//! PostgreSQL. It streams: one bounded page of the registry at a time (keyset by id), so its
//! memory does not grow with the registry.

use anyhow::{Context as _, Result};
use cakupan_domain::month::format_date;
use cakupan_domain::participants::{FIELDS, OPTIONAL_FIELDS};
use cakupan_store::Store;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

#[derive(Debug, Serialize, Deserialize)]
pub struct ExportSummary {
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub peak_rss_mb: f64,
}

/// Writes every participation, in id order, to `out` (a file written beside its final name
/// and renamed when complete, or `-` for standard output). Decrypted personal data leaves the
/// store, so the export is recorded in the audit log before the first page is read.
pub async fn participants(store: &dyn Store, out: &Path, page: u32) -> Result<ExportSummary> {
    let started = Instant::now();
    crate::store::audit(
        store,
        "participant.export",
        "participants:all".into(),
        "administration",
    )
    .await?;
    let to_stdout = out.as_os_str() == "-";
    let tmp = out.with_extension("partial");
    let rows = if to_stdout {
        write_pages(store, Box::new(std::io::stdout().lock()), page).await?
    } else {
        // Readable by its owner only: the file holds decrypted personal data.
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        let file = open
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        match write_pages(store, Box::new(file), page).await {
            Ok(rows) => {
                std::fs::rename(&tmp, out)
                    .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
                rows
            }
            Err(e) => {
                // Nothing half written is left where a reader might take it for the export.
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    Ok(ExportSummary {
        rows,
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        peak_rss_mb: crate::import::peak_rss_mb(),
    })
}

/// Writes the header and every page of the registry to `sink`; the number of rows.
async fn write_pages(store: &dyn Store, sink: Box<dyn Write>, page: u32) -> Result<u64> {
    let mut w = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, sink));
    w.write_record(FIELDS.iter().chain(OPTIONAL_FIELDS.iter()))?;
    let (mut after, mut rows) = (0i64, 0u64);
    loop {
        let batch = store.registry_page(after, page.max(1)).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for p in &batch {
            let r = &p.registration;
            w.write_record([
                r.nik.to_string().as_str(),
                &r.name,
                &format_date(r.birth_date),
                r.sex.as_str(),
                r.phone.as_deref().unwrap_or(""),
                &r.village.to_string(),
                r.segment.as_str(),
                &r.occupation_code,
                &r.income_base.0.to_string(),
                &r.programmes.to_string(),
                &format_date(r.registered_on),
                r.channel.as_str(),
                r.agent_code.as_deref().unwrap_or(""),
                r.address.as_deref().unwrap_or(""),
                if r.budget_funded { "ya" } else { "" },
            ])?;
        }
        rows += batch.len() as u64;
    }
    w.flush()?;
    Ok(rows)
}
