//! Distributing a migrated database over a Citus cluster (issue #23): the placements of
//! `citus.toml` (docs/operations.md) turned into `create_reference_table` and
//! `create_distributed_table` calls, in an order the cluster accepts, skipping what is already
//! distributed so that a second run changes nothing.

use crate::{Result, db, with_database};
use cakupan_store::StoreError;
use serde::Deserialize;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};

/// The plan, carried in the binary.
pub const PLAN: &str = include_str!("../citus.toml");

/// Where one table goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// `distributed`, `reference` or `local`.
    pub how: String,
    /// The distribution column of a distributed table.
    pub column: Option<String>,
    /// Distributed tables of one group are co-located.
    pub group: Option<String>,
    /// The distribution column must be added to the table first.
    #[serde(default)]
    pub add_column: bool,
    /// Keys a cluster would refuse as the schema stands.
    #[serde(default)]
    pub pending: Vec<Pending>,
}

/// A key a cluster would refuse, and the change that must come first.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    pub name: String,
    pub change: String,
}

/// The placements of [`PLAN`], by table.
pub fn plan() -> Result<BTreeMap<String, Placement>> {
    toml::from_str(PLAN).map_err(|e| StoreError::Database(format!("citus.toml: {e}")))
}

/// One step of the distribution: a table and the statement that places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub table: String,
    pub sql: String,
}

/// The statements that place every table of `plan` not in `done`, in an order the cluster
/// accepts: reference tables first, each after the reference tables it points to; then each
/// group of distributed tables, its first table (after the tables it points to) placed with
/// `colocate_with => 'none'` and the others co-located with it. `fks` are the foreign keys of
/// the schema as (table, table pointed to). Local tables stay where they are.
pub fn steps(
    plan: &BTreeMap<String, Placement>,
    fks: &[(String, String)],
    done: &BTreeSet<String>,
) -> Result<Vec<Step>> {
    for (t, p) in plan {
        if p.add_column || !p.pending.is_empty() {
            return Err(StoreError::Database(format!(
                "citus.toml: table {t} is not ready for a cluster (a column to add or keys pending); make those changes first"
            )));
        }
    }
    let order = ordered(plan.keys().cloned().collect(), fks)?;
    let mut out = Vec::new();
    for t in &order {
        if plan[t].how == "reference" && !done.contains(t) {
            out.push(Step {
                table: t.clone(),
                sql: format!("SELECT create_reference_table('{t}')"),
            });
        }
    }
    // Each group's anchor: a table of it already placed (a second run joins that group), else
    // its first table in the order.
    let group_of = |t: &str| plan[t].group.clone().unwrap_or_else(|| t.to_string());
    let mut anchors: BTreeMap<String, String> = BTreeMap::new();
    for t in order
        .iter()
        .filter(|t| done.contains(*t) && plan[*t].how == "distributed")
    {
        anchors.entry(group_of(t)).or_insert_with(|| t.clone());
    }
    for t in &order {
        let p = &plan[t];
        if p.how != "distributed" {
            continue;
        }
        let column = p.column.as_deref().ok_or_else(|| {
            StoreError::Database(format!("citus.toml: distributed table {t} has no column"))
        })?;
        let group = group_of(t);
        let colocate = match anchors.get(&group) {
            Some(anchor) if anchor != t => anchor.clone(),
            Some(_) => "none".to_string(),
            None => {
                anchors.insert(group, t.clone());
                "none".to_string()
            }
        };
        if !done.contains(t) {
            out.push(Step {
                table: t.clone(),
                sql: format!(
                    "SELECT create_distributed_table('{t}', '{column}', colocate_with => '{colocate}')"
                ),
            });
        }
    }
    Ok(out)
}

/// `tables` ordered so that every table comes after the tables its foreign keys point to
/// (alphabetical among equals, so the order is the same on every run).
fn ordered(tables: BTreeSet<String>, fks: &[(String, String)]) -> Result<Vec<String>> {
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for t in &tables {
        needs.entry(t.as_str()).or_default();
    }
    for (from, to) in fks {
        if from != to && tables.contains(from) && tables.contains(to) {
            needs.entry(from.as_str()).or_default().insert(to.as_str());
        }
    }
    let mut out: Vec<String> = Vec::with_capacity(tables.len());
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    while placed.len() < needs.len() {
        let ready: Vec<&str> = needs
            .iter()
            .filter(|(t, n)| !placed.contains(*t) && n.iter().all(|x| placed.contains(x)))
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            return Err(StoreError::Database(
                "the schema's foreign keys form a cycle; no order distributes it".into(),
            ));
        }
        for t in ready {
            placed.insert(t);
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// What `apply` found and did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The Citus version of the coordinator.
    pub version: String,
    /// Active worker nodes.
    pub workers: usize,
    /// Tables placed by this run, with their statements.
    pub placed: Vec<Step>,
    /// Tables already placed before it.
    pub already: usize,
}

/// Distributes the database of `pool` (migrated, on a Citus coordinator with workers) by the
/// plan. Refuses a database without the citus extension or without workers; a second run
/// places nothing. With `dry_run`, returns the statements without running them.
pub async fn apply(pool: &PgPool, dry_run: bool) -> Result<Applied> {
    let version: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
            .fetch_optional(pool)
            .await
            .map_err(db)?;
    let Some(version) = version else {
        return Err(StoreError::Database(
            "this database has no citus extension: run CREATE EXTENSION citus on the coordinator and on every worker, in this database, and add the workers (citus_add_node) first".into(),
        ));
    };
    let workers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM citus_get_active_worker_nodes()")
        .fetch_one(pool)
        .await
        .map_err(db)?;
    if workers == 0 {
        return Err(StoreError::Database(
            "the coordinator has no active worker: add them with citus_add_node first".into(),
        ));
    }
    let plan = plan()?;
    let tables: BTreeSet<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .map_err(db)?
    .into_iter()
    .collect();
    let placed: BTreeSet<&String> = plan.keys().collect();
    let unplanned: Vec<&String> = tables.iter().filter(|t| !placed.contains(t)).collect();
    if !unplanned.is_empty() {
        return Err(StoreError::Database(format!(
            "tables without a placement in citus.toml: {unplanned:?}; this binary does not match the schema"
        )));
    }
    let fks: Vec<(String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
         WHERE contype = 'f' AND connamespace = 'public'::regnamespace",
    )
    .fetch_all(pool)
    .await
    .map_err(db)?;
    let done: BTreeSet<String> =
        sqlx::query_scalar("SELECT logicalrelid::regclass::text FROM pg_dist_partition")
            .fetch_all(pool)
            .await
            .map_err(db)?
            .into_iter()
            .collect();
    let to_place = steps(&plan, &fks, &done)?;
    let already = plan
        .iter()
        .filter(|(t, p)| p.how != "local" && done.contains(*t))
        .count();
    if !dry_run && !to_place.is_empty() {
        place(pool, &plan, &to_place).await?;
    }
    Ok(Applied {
        version,
        workers: usize::try_from(workers).unwrap_or(0),
        placed: to_place,
        already,
    })
}

/// Runs `steps` in one transaction. A cluster refuses to distribute a table that local tables
/// still point to, and to distribute a table that points to a local one, so the foreign keys
/// of the tables being placed are dropped first and made again, with the same names and
/// definitions, once every table is placed. Nothing is left half done: a refusal rolls it all
/// back.
async fn place(pool: &PgPool, plan: &BTreeMap<String, Placement>, to_place: &[Step]) -> Result<()> {
    let moving: BTreeSet<&str> = to_place.iter().map(|s| s.table.as_str()).collect();
    let mut tx = pool.begin().await.map_err(db)?;
    // Reference tables are written on every node in the same transaction as the distributed
    // ones: one connection per node, in order.
    sqlx::query("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let fks: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, confrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
         FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace
         ORDER BY 1, 3",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    let touched: Vec<&(String, String, String, String)> = fks
        .iter()
        .filter(|(from, to, _, _)| {
            (moving.contains(from.as_str()) || moving.contains(to.as_str()))
                && plan.contains_key(from)
                && plan.contains_key(to)
        })
        .collect();
    for (from, _, name, _) in &touched {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {from} DROP CONSTRAINT {name}"
        )))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    for s in to_place {
        sqlx::query(sqlx::AssertSqlSafe(s.sql.clone()))
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Database(format!("{}: {e}", s.sql)))?;
    }
    for (from, _, name, def) in &touched {
        let sql = format!("ALTER TABLE {from} ADD CONSTRAINT {name} {def}");
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Database(format!("{sql}: {e}")))?;
    }
    tx.commit().await.map_err(db)
}

/// [`apply`] on the database `url` names (already migrated: open the store first).
pub async fn apply_at(url: &str, dry_run: bool) -> Result<Applied> {
    let pool = connect(url).await?;
    let out = apply(&pool, dry_run).await;
    pool.close().await;
    out
}

async fn connect(url: &str) -> Result<PgPool> {
    use std::str::FromStr;
    let opts = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Url(e.to_string()))?;
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .map_err(db)
}

/// The active workers of the coordinator `url` names: host and port.
async fn worker_nodes(url: &str) -> Result<Vec<(String, i64)>> {
    let pool = connect(url).await?;
    let nodes = sqlx::query_as(
        "SELECT node_name::text, node_port FROM citus_get_active_worker_nodes() ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .map_err(db);
    pool.close().await;
    nodes
}

/// The active workers of the coordinator `url` names, as URLs of the same user and database.
async fn worker_urls(url: &str, database: &str) -> Result<Vec<String>> {
    worker_nodes(url)
        .await?
        .iter()
        .map(|(host, port)| with_node(url, host, *port, database))
        .collect()
}

/// `url` pointed at `host:port` and `database`, its user, password and options kept.
fn with_node(url: &str, host: &str, port: i64, database: &str) -> Result<String> {
    let bad = || StoreError::Url("a PostgreSQL URL is postgres://user@host:port/db".into());
    let scheme_end = url.find("://").ok_or_else(bad)? + 3;
    let rest = &url[scheme_end..];
    let (before_query, query) = match rest.find('?') {
        Some(q) => (&rest[..q], &rest[q..]),
        None => (rest, ""),
    };
    let authority = before_query.split('/').next().unwrap_or("");
    let user = match authority.rfind('@') {
        Some(at) => &authority[..=at],
        None => "",
    };
    Ok(format!(
        "{}{user}{host}:{port}/{database}{query}",
        &url[..scheme_end]
    ))
}

/// A new empty database on the cluster whose coordinator `url` names (its maintenance
/// database, where the workers are registered), for a test run: created on the coordinator
/// and on every worker, the citus extension in each, the workers added to it. Returns its URL
/// and name; [`drop_cluster_database`] removes it from every node.
pub async fn create_cluster_throwaway(url: &str, prefix: &str) -> Result<(String, String)> {
    use sqlx::Connection;
    let (coordinator, name) = crate::create_throwaway(url, prefix).await?;
    let nodes = worker_nodes(url).await?;
    let workers = nodes
        .iter()
        .map(|(host, port)| with_node(url, host, *port, &name))
        .collect::<Result<Vec<_>>>()?;
    if workers.is_empty() {
        crate::drop_database(url, &name).await?;
        return Err(StoreError::Database(
            "the Citus coordinator has no active worker (citus_add_node)".into(),
        ));
    }
    for w in &workers {
        let admin = with_database(w, "postgres")?;
        let mut c = sqlx::PgConnection::connect(&admin).await.map_err(db)?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut c)
            .await
            .map_err(db)?;
        c.close().await.map_err(db)?;
        let mut c = sqlx::PgConnection::connect(w).await.map_err(db)?;
        sqlx::query("CREATE EXTENSION citus")
            .execute(&mut c)
            .await
            .map_err(db)?;
        c.close().await.map_err(db)?;
    }
    let mut c = sqlx::PgConnection::connect(&coordinator)
        .await
        .map_err(db)?;
    sqlx::query("CREATE EXTENSION citus")
        .execute(&mut c)
        .await
        .map_err(db)?;
    let (host, port) = node_of(url)?;
    sqlx::query("SELECT citus_set_coordinator_host($1, $2)")
        .bind(&host)
        .bind(port)
        .execute(&mut c)
        .await
        .map_err(db)?;
    for (h, p) in nodes {
        sqlx::query("SELECT citus_add_node($1, $2)")
            .bind(&h)
            .bind(i32::try_from(p).map_err(|_| StoreError::Url(format!("port {p}")))?)
            .execute(&mut c)
            .await
            .map_err(db)?;
    }
    c.close().await.map_err(db)?;
    Ok((coordinator, name))
}

/// The host and port of `url` (5432 when it names none).
fn node_of(url: &str) -> Result<(String, i32)> {
    use std::str::FromStr;
    let o = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Url(e.to_string()))?;
    Ok((o.get_host().to_string(), i32::from(o.get_port())))
}

/// Drops a database [`create_cluster_throwaway`] made, on the workers and the coordinator.
pub async fn drop_cluster_database(url: &str, name: &str) -> Result<()> {
    for w in worker_urls(url, "postgres").await? {
        crate::drop_database(&w, name).await?;
    }
    crate::drop_database(url, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn parents_come_first_and_groups_share_their_first_table() {
        let plan = plan().unwrap();
        let fks = vec![
            fk("postings", "participants"),
            fk("participants", "people"),
            fk("participants", "regions"),
            fk("invoice_lines", "invoices"),
            fk("agent_villages", "agents"),
        ];
        let s = steps(&plan, &fks, &BTreeSet::new()).unwrap();
        let at = |t: &str| s.iter().position(|x| x.table == t).unwrap();
        assert!(at("people") < at("participants") && at("participants") < at("postings"));
        assert!(at("invoices") < at("invoice_lines"));
        assert!(at("agents") < at("agent_villages"));
        assert!(
            at("regions") < at("people"),
            "reference tables before distributed ones"
        );
        // Each group's first table starts it; every other table of the group joins that one.
        for group in ["person", "employer"] {
            let members: Vec<&Step> = s
                .iter()
                .filter(|x| plan[&x.table].group.as_deref() == Some(group))
                .collect();
            assert!(members.len() > 2, "{group}");
            assert!(members[0].sql.contains("colocate_with => 'none'"));
            let anchor = format!("colocate_with => '{}'", members[0].table);
            assert!(
                members[1..].iter().all(|x| x.sql.contains(&anchor)),
                "{members:?}"
            );
        }
        assert!(!s.iter().any(|x| x.table == "audit"), "local tables stay");
        // What is already placed is skipped, and the group keeps its first table.
        let done: BTreeSet<String> = ["people".to_string()].into();
        let again = steps(&plan, &fks, &done).unwrap();
        assert!(!again.iter().any(|x| x.table == "people"));
        let p = again.iter().find(|x| x.table == "participants").unwrap();
        assert!(p.sql.contains("colocate_with => 'people'"));
    }

    #[test]
    fn a_cycle_is_refused() {
        let t: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        assert!(ordered(t, &[fk("a", "b"), fk("b", "a")]).is_err());
    }
}
