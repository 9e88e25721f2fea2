//! Issue #23, item 0: no statement on a posting path may read more than it touches. The people
//! lock of a posting batch once read the whole of `people_pkey` (an `OR` with a subquery);
//! its plan must probe the index with the batch's keys.

/// The PostgreSQL plan of the people lock: an index condition on `people_pkey`, no filter over
/// the whole index. Sequential scans are switched off so that a tiny test table is planned as
/// a large one would be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_people_lock_probes_the_index() {
    let Some(db) = crate::harness::postgres("the_people_lock_probes_the_index", false).await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&db.url()).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let lines: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (COSTS OFF) {}",
        cakupan_store_postgres::PEOPLE_OF_BATCH_SQL
    )))
    .bind(vec![vec![1u8; 32]])
    .bind(vec![1i64])
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let plan = lines.join("\n");
    let people = plan
        .lines()
        .position(|l| l.contains("on people"))
        .unwrap_or_else(|| panic!("no scan of people: {plan}"));
    // The scan of people and what it reads through (a bitmap of the index, or the index).
    let scan: Vec<&str> = plan.lines().skip(people).collect();
    assert!(
        scan.iter()
            .any(|l| l.contains("Index Cond: (nik_index = ANY")),
        "{plan}"
    );
    assert!(!scan.iter().any(|l| l.contains("Filter:")), "{plan}");
    tx.rollback().await.unwrap();
    pool.close().await;
    db.finish().await;
}

/// Issue #23, item 0: the maintenance after a load is proportional to it on PostgreSQL. A
/// first load is always followed by `VACUUM (ANALYZE)` (a database never analysed estimates no
/// rows); a load smaller than the server's analyze scale factor (0.1) of the registry and the
/// ledger leaves the statistics as they are; a larger one refreshes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maintenance_after_a_load_is_proportional() {
    use crate::api::{app_on, auth};
    let Some(db) =
        crate::harness::postgres("the_maintenance_after_a_load_is_proportional", true).await
    else {
        return;
    };
    let app = app_on(db.store.clone(), &auth()).await;
    for i in 0..12 {
        let mut b = crate::api::body();
        b["nik"] = serde_json::json!(format!("32730152039{:05}", 100 + i));
        let (s, v) = crate::api::call_as(
            &app,
            Some(&app.token),
            "POST",
            "/api/v1/participants",
            Some(b.to_string()),
        )
        .await;
        assert_eq!(s, axum::http::StatusCode::CREATED, "{v}");
    }
    let pool = sqlx::PgPool::connect(&db.url()).await.unwrap();
    let vacuumed = || {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'participants'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            n
        }
    };
    let before = vacuumed().await;
    db.store.after_bulk_load(12).await.unwrap();
    let first = vacuumed().await;
    assert_eq!(first, before + 1, "a first load is analysed");
    // 12 rows estimated now: one more row is under a tenth of them.
    db.store.after_bulk_load(1).await.unwrap();
    assert_eq!(
        vacuumed().await,
        first,
        "a one-row load leaves the statistics"
    );
    db.store.after_bulk_load(2).await.unwrap();
    assert_eq!(
        vacuumed().await,
        first + 1,
        "a load of a tenth refreshes them"
    );
    pool.close().await;
    db.finish().await;
}
