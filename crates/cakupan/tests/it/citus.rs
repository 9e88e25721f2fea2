//! The distribution plan for a Citus cluster (crates/cakupan-store-postgres/citus.toml, explained
//! in docs/operations.md) against the schema the migrations build: every table placed, and
//! every unique key or foreign key a cluster would refuse listed as pending, with nothing listed
//! that is no longer true.

use crate::harness;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Placement {
    how: String,
    column: Option<String>,
    group: Option<String>,
    #[serde(default)]
    add_column: bool,
    #[serde(default)]
    pending: Vec<Pending>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pending {
    name: String,
    change: String,
}

/// A foreign key: its table, its name, its columns, the table and columns it points to.
type ForeignKey = (String, String, Vec<String>, String, Vec<String>);

const PLAN: &str = include_str!("../../../cakupan-store-postgres/citus.toml");

/// What a cluster would refuse, by constraint or index name, per table.
fn refused(
    plan: &BTreeMap<String, Placement>,
    columns: &BTreeMap<String, BTreeSet<String>>,
    unique: &[(String, String, Vec<String>)],
    foreign: &[ForeignKey],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let dist = |t: &str| {
        plan.get(t)
            .filter(|p| p.how == "distributed")
            .and_then(|p| p.column.clone())
            .filter(|c| columns.get(t).is_some_and(|cs| cs.contains(c)))
    };
    for (table, name, cols) in unique {
        if plan.get(table).is_some_and(|p| p.how == "distributed") {
            match dist(table) {
                Some(c) if cols.contains(&c) => {}
                _ => {
                    out.entry(table.clone()).or_default().insert(name.clone());
                }
            }
        }
    }
    for (table, name, cols, target, target_cols) in foreign {
        let (Some(from), Some(to)) = (plan.get(table), plan.get(target)) else {
            continue;
        };
        let ok = match (from.how.as_str(), to.how.as_str()) {
            (_, "reference") | ("local", "local") => true,
            ("distributed", "distributed") => {
                from.group.is_some()
                    && from.group == to.group
                    && dist(table).is_some_and(|c| cols.contains(&c))
                    && dist(target).is_some_and(|c| target_cols.contains(&c))
            }
            _ => false,
        };
        if !ok {
            out.entry(table.clone()).or_default().insert(name.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_covers_the_schema() {
    let plan: BTreeMap<String, Placement> = toml::from_str(PLAN).expect("citus.toml parses");
    for (table, p) in &plan {
        assert!(
            ["distributed", "reference", "local"].contains(&p.how.as_str()),
            "{table}: how = {}",
            p.how
        );
        assert_eq!(
            p.how == "distributed",
            p.column.is_some() && p.group.is_some(),
            "{table}: a distributed table names its column and group, no other does"
        );
        for e in &p.pending {
            assert!(
                !e.change.trim().is_empty(),
                "{table}: {} says no change",
                e.name
            );
        }
    }
    let Some(admin) = harness::postgres_url() else {
        return;
    };
    let (url, name) = cakupan_store_postgres::create_throwaway(&admin, "cakupan_test")
        .await
        .unwrap();
    // The migrations, as a server applies them.
    drop(
        cakupan_store_postgres::PgStore::open(&url, 2, harness::keys())
            .await
            .unwrap(),
    );
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
           AND c.relname <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut columns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (t, c) in rows {
        columns.entry(t).or_default().insert(c);
    }
    let unique: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "SELECT c.relname::text, i.relname::text,
                ARRAY(SELECT a.attname::text FROM unnest(x.indkey) k JOIN pg_attribute a
                      ON a.attrelid = c.oid AND a.attnum = k)
         FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND x.indisunique AND c.relname <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let foreign: Vec<ForeignKey> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.conname::text,
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) k JOIN pg_attribute a
                      ON a.attrelid = c.conrelid AND a.attnum = k),
                c.confrelid::regclass::text,
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) k JOIN pg_attribute a
                      ON a.attrelid = c.confrelid AND a.attnum = k)
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE c.contype = 'f' AND n.nspname = 'public'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    cakupan_store_postgres::drop_database(&admin, &name)
        .await
        .unwrap();

    let mut problems = Vec::new();
    let tables: BTreeSet<&String> = columns.keys().collect();
    let planned: BTreeSet<&String> = plan.keys().collect();
    for t in tables.difference(&planned) {
        problems.push(format!(
            "{t}: a table of the schema with no placement in citus.toml"
        ));
    }
    for t in planned.difference(&tables) {
        problems.push(format!(
            "{t}: placed in citus.toml but not a table of the schema"
        ));
    }
    for (table, p) in &plan {
        if let (Some(c), Some(cols)) = (&p.column, columns.get(table))
            && cols.contains(c) == p.add_column
        {
            let state = if p.add_column {
                "exists"
            } else {
                "does not exist"
            };
            problems.push(format!(
                "{table}: add_column = {} but the column {c} {state}",
                p.add_column
            ));
        }
    }
    let refused = refused(&plan, &columns, &unique, &foreign);
    for (table, p) in &plan {
        let listed: BTreeSet<String> = p.pending.iter().map(|e| e.name.clone()).collect();
        let found = refused.get(table).cloned().unwrap_or_default();
        for n in found.difference(&listed) {
            problems.push(format!(
                "{table}: {n} would be refused by a cluster and is not listed as pending"
            ));
        }
        for n in listed.difference(&found) {
            problems.push(format!(
                "{table}: {n} is listed as pending but a cluster would take it (or it is gone)"
            ));
        }
    }
    assert!(problems.is_empty(), "citus.toml:\n{}", problems.join("\n"));
    harness::mark_postgres_ran("the_plan_covers_the_schema");
}
