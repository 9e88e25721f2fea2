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
