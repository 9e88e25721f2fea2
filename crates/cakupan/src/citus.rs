//! `cakupan citus`: distributing a PostgreSQL database over a Citus cluster (issue #23,
//! docs/operations.md "Distributed PostgreSQL (Citus)").

use anyhow::{Result, bail};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum CitusCommand {
    /// Place every table of the database given by --db as citus.toml says (reference tables,
    /// distributed tables co-located by group, local tables left on the coordinator), after
    /// its migrations. The database must have the citus extension on the coordinator and on
    /// every worker, and its workers added (citus_add_node). Tables already placed are
    /// skipped, so a second run changes nothing.
    Apply {
        /// Print the statements without running them.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Refuses a database that cannot be on a Citus coordinator, before anything opens it (opening
/// a SQLite URL would create the file).
pub fn check_db(db: &str) -> Result<()> {
    if !(db.starts_with("postgres://") || db.starts_with("postgresql://")) {
        bail!("--db: `citus apply` needs a PostgreSQL database on a Citus coordinator");
    }
    Ok(())
}

pub async fn run(db: &str, cmd: CitusCommand) -> Result<()> {
    let CitusCommand::Apply { dry_run } = cmd;
    check_db(db)?;
    let a = cakupan_store_postgres::citus::apply_at(db, dry_run).await?;
    for s in &a.placed {
        println!("{};", s.sql);
    }
    println!(
        "Citus {} with {} workers: {} tables {}, {} already placed.",
        a.version,
        a.workers,
        a.placed.len(),
        if dry_run { "to place" } else { "placed" },
        a.already
    );
    Ok(())
}
