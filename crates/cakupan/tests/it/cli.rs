//! The `cakupan` command itself: generate, import (bad rows, re-runs), regions, quote.

use crate::harness;
use cakupan_store::clock::TODAY_VAR;
use std::io::Write;
use std::process::Command;

fn cakupan(db: &str, args: &[&str]) -> std::process::Output {
    cakupan_on(db, &harness::today_text(), args)
}

/// `cakupan` with the clock set to `day` (YYYY-MM-DD).
fn cakupan_on(db: &str, day: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cakupan"))
        .args(args)
        .env("CAKUPAN_DB", db)
        .env(TODAY_VAR, day)
        .env("CAKUPAN_KEYS", harness::KEYS_TEXT)
        .env("CAKUPAN_LOG", "warn")
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn regions_show_and_stats() {
    let (url, _) = harness::sqlite_url();
    let out = ok(&cakupan(&url, &["regions", "show", "32.73.01.1001"]));
    for name in ["Jawa Barat", "Kota Bandung", "Sukasari", "Sukarasa"] {
        assert!(out.contains(name), "{out}");
    }
    let out = ok(&cakupan(&url, &["regions", "stats"]));
    assert!(out.contains("village       83762    83762"), "{out}");
    let bad = cakupan(&url, &["regions", "show", "32.73.01.9999"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not in the Kemendagri region list"));
}

#[test]
fn quote_prints_the_breakdown() {
    let (url, _) = harness::sqlite_url();
    let args = [
        "quote",
        "--segment",
        "BPU",
        "--income-base",
        "1000000",
        "--programs",
        "JKK+JKM",
        "--occupation",
        "84",
        "--month",
    ];
    let may = ok(&cakupan(&url, &[&args[..], &["2026-05"]].concat()));
    assert!(may.contains("Total due per month: Rp8,400"), "{may}");
    let jan = ok(&cakupan(&url, &[&args[..], &["2026-01"]].concat()));
    assert!(jan.contains("Total due per month: Rp16,800"), "{jan}");
    let ojol = ok(&cakupan(
        &url,
        &[
            "quote",
            "--segment",
            "BPU",
            "--income-base",
            "1000000",
            "--programs",
            "JKK+JKM",
            "--occupation",
            "14.1",
            "--month",
            "2026-01",
        ],
    ));
    assert!(ojol.contains("Rp8,400"), "{ojol}");
    let bad = cakupan(
        &url,
        &[
            "quote",
            "--segment",
            "BPU",
            "--income-base",
            "1000001",
            "--programs",
            "JKK+JKM",
            "--occupation",
            "84",
            "--month",
            "2026-05",
        ],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("income_base"));
}

/// Generates a file, spoils some rows, imports it twice: good rows stored once, bad rows
/// reported with their line numbers, nothing stored twice.
fn import_round_trip(url: &str) {
    let dir =
        std::env::temp_dir().join(format!("cakupan-cli-{}-{}", std::process::id(), url.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("participants.csv");
    ok(&cakupan(
        url,
        &[
            "generate",
            "participants",
            "--count",
            "3000",
            "--seed",
            "7",
            "--as-of",
            "2026-11-01",
            "--out",
            file.to_str().unwrap(),
        ],
    ));
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3001);
    let first_data = lines[1].to_string();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    // Line 3002: invalid NIK; 3003: unknown village; 3004: income base not in the table;
    // 3005: the NIK of line 2 again in the same segment with another name; 3006: wrong column count.
    let mut bad_nik: Vec<String> = first_data.split(',').map(String::from).collect();
    bad_nik[0] = "12345".into();
    writeln!(f, "{}", bad_nik.join(",")).unwrap();
    let mut bad_village = first_data.split(',').map(String::from).collect::<Vec<_>>();
    bad_village[0] = "3273015203900003".into();
    bad_village[2] = "1990-03-12".into();
    bad_village[3] = "P".into();
    bad_village[5] = "32.73.01.9999".into();
    writeln!(f, "{}", bad_village.join(",")).unwrap();
    let mut bad_income = bad_village.clone();
    bad_income[5] = "32.73.01.1001".into();
    bad_income[6] = "BPU".into();
    bad_income[7] = "84".into();
    bad_income[8] = "1234567".into();
    bad_income[9] = "JKK+JKM".into();
    bad_income[11] = "self".into();
    bad_income[12] = String::new();
    writeln!(f, "{}", bad_income.join(",")).unwrap();
    let mut dup = first_data.split(',').map(String::from).collect::<Vec<_>>();
    dup[1] = "Nama Lain".into();
    writeln!(f, "{}", dup.join(",")).unwrap();
    writeln!(f, "too,few,columns").unwrap();
    drop(f);

    let errors = dir.join("errors.csv");
    let run = || -> serde_json::Value {
        let out = ok(&cakupan(
            url,
            &[
                "import",
                "participants",
                file.to_str().unwrap(),
                "--summary-json",
                "--quiet",
                "--errors",
                errors.to_str().unwrap(),
                "--batch",
                "700",
            ],
        ));
        serde_json::from_str(out.lines().last().unwrap()).unwrap()
    };
    let first = run();
    assert_eq!(first["rows"], 3005, "{first}");
    assert_eq!(first["created"], 3000, "{first}");
    assert_eq!(first["rejected"], 5, "{first}");
    let report = std::fs::read_to_string(&errors).unwrap();
    for want in [
        "3002,nik,nik.length",
        "3003,village_code,village_code.unknown",
        "3004,income_base,income_base.bracket",
        "3005,nik,nik.one_per_segment",
        "3006,row,csv.columns",
    ] {
        assert!(report.contains(want), "missing '{want}' in\n{report}");
    }
    let again = run();
    assert_eq!(
        again["created"], 0,
        "a re-run stores nothing twice: {again}"
    );
    assert_eq!(again["existing"], 3000, "{again}");
    assert_eq!(again["rejected"], 5, "{again}");

    // The imported participant can be found by NIK.
    let nik = first_data.split(',').next().unwrap();
    let shown = ok(&cakupan(url, &["participant", "show", nik]));
    assert!(shown.contains(nik), "{shown}");

    // The registry exported as participants.csv and imported into a fresh database (the
    // move from one backend to another) gives the same registry: exporting that one again
    // writes the same file. Every stored participant once, the spoiled rows not at all.
    let exported = dir.join("export.csv");
    let out = ok(&cakupan(
        url,
        &[
            "export",
            "participants",
            "--out",
            exported.to_str().unwrap(),
            "--page",
            "700",
            "--summary-json",
        ],
    ));
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["rows"], 3000, "{summary}");
    let first_export = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(first_export.lines().count(), 3001);
    assert!(!dir.join("export.partial").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&exported).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "decrypted personal data readable by its owner only"
        );
    }
    let mut original: Vec<&str> = lines[1..].iter().map(|l| &l[..16]).collect();
    let mut niks: Vec<&str> = first_export.lines().skip(1).map(|l| &l[..16]).collect();
    original.sort_unstable();
    niks.sort_unstable();
    assert_eq!(original, niks, "every generated person exported once");
    let (moved, moved_path) = harness::sqlite_url();
    let imported = ok(&cakupan(
        &moved,
        &[
            "import",
            "participants",
            exported.to_str().unwrap(),
            "--summary-json",
            "--quiet",
        ],
    ));
    let imported: serde_json::Value =
        serde_json::from_str(imported.lines().last().unwrap()).unwrap();
    assert_eq!(imported["created"], 3000, "{imported}");
    assert_eq!(imported["rejected"], 0, "{imported}");
    let again_file = dir.join("export-again.csv");
    ok(&cakupan(
        &moved,
        &[
            "export",
            "participants",
            "--out",
            again_file.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        std::fs::read_to_string(&again_file).unwrap(),
        first_export,
        "the moved registry exports the same file"
    );
    // The import wrote one audit entry (issue 17, item 7: the file, before it ran), and the
    // export of decrypted records one.
    let audit = ok(&cakupan(&moved, &["audit", "verify"]));
    assert!(audit.contains("intact: 2 entries"), "{audit}");
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", moved_path.display()));
    }

    // A header that is not the documented one is refused before anything is read.
    let wrong = dir.join("wrong.csv");
    std::fs::write(&wrong, "nik,name\n3273015203900003,Siti\n").unwrap();
    let out = cakupan(
        url,
        &["import", "participants", wrong.to_str().unwrap(), "--quiet"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("header row must be exactly"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_on_sqlite() {
    let (url, path) = harness::sqlite_url();
    import_round_trip(&url);
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_on_postgres() {
    let Some(admin) = harness::postgres_url() else {
        return;
    };
    let (url, name) = cakupan_store_postgres::create_throwaway(&admin, "cakupan_test")
        .await
        .unwrap();
    let u = url.clone();
    tokio::task::spawn_blocking(move || import_round_trip(&u))
        .await
        .unwrap();
    // The import left the planner's statistics and the visibility map current (it does not
    // rely on autovacuum, which may be off) and rebuilt the reports' covering index.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    for table in [
        "counters",
        "participants",
        "participant_ids",
        "posting_references",
    ] {
        let (vacuumed, analysed): (bool, bool) = sqlx::query_as(
            "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = $1",
        )
        .bind(table)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(
            vacuumed && analysed,
            "{table} vacuumed {vacuumed}, analysed {analysed}"
        );
    }
    let valid: bool = sqlx::query_scalar(
        "SELECT bool_and(i.indisvalid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'counters_level%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(valid, "no invalid index left by the rebuild");
    pool.close().await;
    cakupan_store_postgres::drop_database(&admin, &name)
        .await
        .unwrap();
    harness::mark_postgres_ran("import_on_postgres");
}

/// The bulk path of a first load (issue #23) stores what the ordinary import stores: the same
/// registry, counters, coverage states and name words, the same rows refused with the same
/// errors; `verify` finds nothing; a second bulk load is refused and changes nothing; SQLite
/// refuses the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_in_bulk() {
    let (lite, lite_path) = harness::sqlite_url();
    let dir = std::env::temp_dir().join(format!("cakupan-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("participants.csv");
    ok(&cakupan(
        &lite,
        &[
            "generate",
            "participants",
            "--count",
            "2500",
            "--seed",
            "11",
            "--as-of",
            "2026-11-01",
            "--out",
            file.to_str().unwrap(),
        ],
    ));
    // Line 2502 repeats line 2 exactly, 2503 gives its NIK and segment another name, 2504
    // breaks a rule; line 2505 registers the person of line 3 in the other segment (a person
    // in both: the overlap counters).
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let second: Vec<String> = lines[2].split(',').map(String::from).collect();
    let mut other_name: Vec<String> = lines[1].split(',').map(String::from).collect();
    other_name[1] = "Nama Lain".into();
    let mut bad = other_name.clone();
    bad[0] = "12345".into();
    // The person of line 3 in the other segment: that segment's facts (occupation, income,
    // programmes, channel, agent) taken from a row of it.
    let other: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>())
        .find(|r| r[6] != second[6])
        .unwrap();
    let mut both = second.clone();
    both[6..10].clone_from_slice(&other[6..10]);
    both[11..13].clone_from_slice(&other[11..13]);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    writeln!(f, "{}", lines[1]).unwrap();
    writeln!(f, "{}", other_name.join(",")).unwrap();
    writeln!(f, "{}", bad.join(",")).unwrap();
    writeln!(f, "{}", both.join(",")).unwrap();
    drop(f);

    // A bulk load that must be refused: what it said.
    let refused = |url: &str, file: &std::path::Path| -> String {
        let out = cakupan(
            url,
            &[
                "import",
                "participants",
                file.to_str().unwrap(),
                "--bulk",
                "--quiet",
            ],
        );
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // SQLite has no bulk path: refused by name, nothing written.
    let err = refused(&lite, &file);
    assert!(err.contains("bulk path runs on PostgreSQL"), "{err}");
    let said = ok(&cakupan(&lite, &["verify"]));
    assert!(
        said.contains("0 coverage states checked"),
        "nothing stored: {said}"
    );
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", lite_path.display()));
    }

    let Some(admin) = harness::postgres_url() else {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    let mut made = Vec::new();
    let mut summaries = Vec::new();
    for bulk in [true, false] {
        let (url, name) = cakupan_store_postgres::create_throwaway(&admin, "cakupan_test")
            .await
            .unwrap();
        let (u, fl, errors) = (
            url.clone(),
            file.clone(),
            dir.join(format!("errors-{bulk}.csv")),
        );
        let e = errors.clone();
        let summary = tokio::task::spawn_blocking(move || {
            let mut args = vec![
                "import",
                "participants",
                fl.to_str().unwrap(),
                "--summary-json",
                "--quiet",
                "--errors",
                e.to_str().unwrap(),
                "--batch",
                "700",
            ];
            if bulk {
                args.push("--bulk");
            }
            let out = ok(&cakupan(&u, &args));
            let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
            v
        })
        .await
        .unwrap();
        assert_eq!(summary["rows"], 2504, "{summary}");
        assert_eq!(summary["created"], 2501, "{summary}");
        assert_eq!(summary["existing"], 1, "{summary}");
        assert_eq!(summary["rejected"], 2, "{summary}");
        let report = std::fs::read_to_string(&errors).unwrap();
        for want in ["2503,nik,nik.one_per_segment", "2504,nik,nik.length"] {
            assert!(
                report.contains(want),
                "bulk {bulk}: missing '{want}' in\n{report}"
            );
        }
        summaries.push(summary);
        made.push((url, name));
    }
    // Both registries alike: the same counters, coverage states (by registration order),
    // name words and people, and the same export.
    let mut seen = Vec::new();
    for (url, _) in &made {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let counters: Vec<(String, String, i32, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT region, segment, month, registered, paid_active, status_active, nonactive
             FROM counters ORDER BY region, segment, month",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert!(
            counters.iter().any(|c| c.1 == "OVERLAP"),
            "a person in both segments"
        );
        let states: Vec<(String, i32)> = sqlx::query_as(
            "SELECT segment, registered FROM coverage_states ORDER BY participant_id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let sizes: (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM name_words), (SELECT COUNT(*) FROM people),
                    (SELECT COUNT(*) FROM participant_ids)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        let exported = dir.join(format!("export-{}.csv", seen.len()));
        let u = url.clone();
        let e = exported.clone();
        tokio::task::spawn_blocking(move || {
            ok(&cakupan(
                &u,
                &["export", "participants", "--out", e.to_str().unwrap()],
            ))
        })
        .await
        .unwrap();
        seen.push((
            counters,
            states,
            sizes,
            std::fs::read_to_string(&exported).unwrap(),
        ));
    }
    assert_eq!(seen[0].0, seen[1].0, "the same counters");
    assert_eq!(seen[0].1, seen[1].1, "the same coverage states");
    assert_eq!(
        seen[0].2, seen[1].2,
        "as many name words, people and claims"
    );
    assert_eq!(seen[0].3, seen[1].3, "the same registry");

    // On the bulk-loaded database: nothing to correct, a name found, and a second bulk load
    // refused before it writes anything.
    let (url, _) = made[0].clone();
    let nik = lines[1].split(',').next().unwrap().to_string();
    let (u, fl) = (url.clone(), file.clone());
    tokio::task::spawn_blocking(move || {
        let said = ok(&cakupan(&u, &["verify"]));
        assert!(said.contains(" 0 differences"), "{said}");
        assert!(ok(&cakupan(&u, &["participant", "show", &nik])).contains(&nik));
        let err = refused(&u, &fl);
        assert!(err.contains("loads an empty registry only"), "{err}");
        assert!(err.contains("2501 participations"), "{err}");
    })
    .await
    .unwrap();
    for (_, name) in &made {
        cakupan_store_postgres::drop_database(&admin, name)
            .await
            .unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
    harness::mark_postgres_ran("participants_in_bulk");
}

#[test]
fn register_from_the_command_line() {
    let (url, path) = harness::sqlite_url();
    let args = [
        "participant",
        "register",
        "--nik",
        "3273015203900003",
        "--name",
        "Siti Aminah",
        "--birth-date",
        "1990-03-12",
        "--sex",
        "P",
        "--village-code",
        "32.73.01.1001",
        "--segment",
        "BPU",
        "--occupation-code",
        "84",
        "--income-base",
        "1000000",
        "--programs",
        "JKK+JKM",
        "--registered-on",
        "2026-05-04",
        "--heir",
        "Budi:anak",
    ];
    let out = ok(&cakupan(&url, &args));
    assert!(out.contains("Registered: id 1, KPJ"), "{out}");
    let again = ok(&cakupan(&url, &args));
    assert!(again.contains("Already registered"), "{again}");
    let mut bad = args.to_vec();
    bad[3] = "327301520390000"; // 15 digits
    let out = cakupan(&url, &bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nik: NIK must be exactly 16 digits") && err.contains("nothing stored"),
        "{err}"
    );
    let _ = std::fs::remove_file(path);
}

/// One clock for every command: CAKUPAN_TODAY sets the day (a malformed one stops the command
/// before it touches anything), and a month reads as not yet due until its due date passes.
#[test]
fn the_clock_is_set_by_cakupan_today() {
    let (url, path) = harness::sqlite_url();
    let bad = cakupan_on(&url, "2026-13-01", &["regions", "stats"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("CAKUPAN_TODAY") && err.contains("YYYY-MM-DD"),
        "{err}"
    );

    let nik = "3273015203900003";
    ok(&cakupan(
        &url,
        &[
            "participant",
            "register",
            "--nik",
            nik,
            "--name",
            "Siti Aminah",
            "--birth-date",
            "1990-03-12",
            "--sex",
            "P",
            "--village-code",
            "32.73.01.1001",
            "--segment",
            "BPU",
            "--occupation-code",
            "84",
            "--income-base",
            "1000000",
            "--programs",
            "JKK+JKM",
            "--registered-on",
            "2026-05-04",
        ],
    ));
    // May to July paid; nothing for August (due on the 15th of August, rolled past the
    // weekend and Independence Day to the 18th).
    let amount: i64 = cakupan_domain::contribution::dues(
        harness::rules(),
        &cakupan_domain::contribution::Profile {
            segment: cakupan_domain::Segment::Bpu,
            income_base: cakupan_domain::Rupiah(1_000_000),
            programmes: cakupan_domain::ProgrammeSet::parse("JKK+JKM").unwrap(),
            sector: cakupan_domain::Sector::NonTransport,
            budget_funded: false,
            risk_class: None,
        },
        harness::month("2026-05"),
        3,
    )
    .unwrap()
    .iter()
    .map(|d| d.1.0)
    .sum();
    ok(&cakupan_on(
        &url,
        "2026-05-10",
        &[
            "post",
            "contribution",
            "--reference",
            "P-1",
            "--nik",
            nik,
            "--segment",
            "BPU",
            "--first-month",
            "2026-05",
            "--months",
            "3",
            "--amount",
            &amount.to_string(),
            "--channel",
            "bank",
            "--paid-on",
            "2026-05-10",
        ],
    ));
    let coverage = |day: &str| ok(&cakupan_on(&url, day, &["participant", "coverage", nik]));
    // The default range ends in the clock's month.
    let on_time = coverage("2026-08-05");
    let last = on_time.lines().last().unwrap();
    assert!(
        last.contains("2026-08") && last.contains("NOT_YET_DUE") && last.contains("due 2026-08-18"),
        "{on_time}"
    );
    let late = coverage("2026-08-19");
    let last = late.lines().last().unwrap();
    assert!(
        last.contains("2026-08") && last.contains("IN_ARREARS") && last.contains("1 overdue"),
        "{late}"
    );
    // In October the third due date (15 October) has passed: NONACTIVE, a lapse.
    let lapsed = coverage("2026-10-20");
    let last = lapsed.lines().last().unwrap();
    assert!(
        last.contains("2026-10") && last.contains("NONACTIVE") && last.contains("lapsed"),
        "{lapsed}"
    );
    let _ = std::fs::remove_file(path);
}

/// Counters built under other counting rules (a database from before arrears were counted from
/// due dates) are rebuilt from the ledger when a command next opens the database; a new
/// database is not announced as rebuilt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_are_rebuilt_when_the_counting_rules_change() {
    let (url, path) = harness::sqlite_url();
    let first = cakupan(&url, &["regions", "stats"]);
    assert!(!String::from_utf8_lossy(&first.stderr).contains("rebuilding"));
    ok(&cakupan(
        &url,
        &[
            "participant",
            "register",
            "--nik",
            "3273015203900003",
            "--name",
            "Siti Aminah",
            "--birth-date",
            "1990-03-12",
            "--sex",
            "P",
            "--village-code",
            "32.73.01.1001",
            "--segment",
            "BPU",
            "--occupation-code",
            "84",
            "--income-base",
            "1000000",
            "--programs",
            "JKK+JKM",
            "--registered-on",
            "2026-05-04",
        ],
    ));
    // As an older binary left it: another fingerprint, and counters it computed otherwise.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE meta SET value = 'v1-older-engine' WHERE key = 'counters_rules'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE counters SET nonactive = nonactive + 7")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let out = cakupan(&url, &["verify"]);
    let (said, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{said}{err}");
    assert!(err.contains("rebuilding them from the ledger"), "{err}");
    assert!(said.contains(" 0 differences"), "{said}");
    // Once rebuilt, the next command rebuilds nothing.
    let again = cakupan(&url, &["verify"]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("rebuilding"));
    // The coverage states the reminders plan from are checked against the ledger too.
    assert!(
        said.contains("1 coverage states checked, 0 differences"),
        "{said}"
    );
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE coverage_states SET last_paid = 24310")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let tampered = cakupan(&url, &["verify"]);
    let said = String::from_utf8_lossy(&tampered.stdout);
    assert!(!tampered.status.success(), "{said}");
    assert!(
        said.contains("1 coverage states checked, 1 differences"),
        "{said}"
    );
    let _ = std::fs::remove_file(path);
}

/// A database opened with keys that are not its own is refused by every command, naming the
/// fix, on both backends; its own keys still open it (issue 17, item 3).
fn wrong_keys_are_refused(url: &str) {
    let with = |keys: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cakupan"))
            .args(args)
            .env("CAKUPAN_DB", url)
            .env(TODAY_VAR, harness::today_text())
            .env("CAKUPAN_KEYS", keys)
            .env("CAKUPAN_LOG", "error")
            .output()
            .unwrap()
    };
    let register = [
        "participant",
        "register",
        "--nik",
        "3273015203900003",
        "--name",
        "Siti Aminah",
        "--birth-date",
        "1990-03-12",
        "--sex",
        "P",
        "--village-code",
        "32.73.01.1001",
        "--segment",
        "BPU",
        "--occupation-code",
        "84",
        "--income-base",
        "1000000",
        "--programs",
        "JKK+JKM",
        "--registered-on",
        "2026-05-04",
    ];
    ok(&with(harness::KEYS_TEXT, &register));
    let other = cakupan_store::crypto::Keys::generate().unwrap();
    for args in [
        &register[..],
        &["verify"],
        &["participant", "show", "3273015203900003"],
    ] {
        let out = with(&other, args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("keys.mismatch"), "{args:?}: {err}");
    }
    // Nothing was stored by the refused registration: the right keys see one participation.
    let shown = ok(&with(
        harness::KEYS_TEXT,
        &["participant", "show", "3273015203900003"],
    ));
    assert_eq!(shown.matches("KPJ ").count(), 1, "{shown}");
}

#[test]
fn wrong_keys_are_refused_on_sqlite() {
    let (url, path) = harness::sqlite_url();
    wrong_keys_are_refused(&url);
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_are_refused_on_postgres() {
    let Some(admin) = harness::postgres_url() else {
        return;
    };
    let (url, name) = cakupan_store_postgres::create_throwaway(&admin, "cakupan_test")
        .await
        .unwrap();
    let u = url.clone();
    tokio::task::spawn_blocking(move || wrong_keys_are_refused(&u))
        .await
        .unwrap();
    cakupan_store_postgres::drop_database(&admin, &name)
        .await
        .unwrap();
    harness::mark_postgres_ran("wrong_keys_are_refused_on_postgres");
}

#[test]
fn import_accepts_a_spreadsheet_byte_order_mark() {
    let (url, path) = harness::sqlite_url();
    let file = path.with_extension("bom.csv");
    std::fs::write(
        &file,
        format!(
            "\u{feff}{}\n3273015203900003,Siti Aminah,1990-03-12,P,,32.73.01.1001,BPU,84,1000000,JKK+JKM,2026-05-04,self,\n",
            cakupan_domain::participants::FIELDS.join(",")
        ),
    )
    .unwrap();
    let out = ok(&cakupan(
        &url,
        &[
            "import",
            "participants",
            file.to_str().unwrap(),
            "--summary-json",
            "--quiet",
        ],
    ));
    let s: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(s["created"], 1, "{s}");
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(path);
}

/// The optional `address` column after the standard ones: stored (sealed) and shown; a bad
/// address rejects its row by line.
#[test]
fn import_takes_the_optional_address_column() {
    let (url, path) = harness::sqlite_url();
    let file = path.with_extension("address.csv");
    std::fs::write(
        &file,
        format!(
            "{},address\n\
             3273015203900003,Siti Aminah,1990-03-12,P,,32.73.01.1001,BPU,84,1000000,JKK+JKM,2026-05-04,self,,\"Jl. Braga No. 12, RT 03/RW 05\"\n\
             3273015203900011,Dewi Lestari,1990-03-12,P,,32.73.01.1001,BPU,84,1000000,JKK+JKM,2026-05-04,self,,<b>x</b>\n",
            cakupan_domain::participants::FIELDS.join(",")
        ),
    )
    .unwrap();
    let out = ok(&cakupan(
        &url,
        &[
            "import",
            "participants",
            file.to_str().unwrap(),
            "--summary-json",
            "--quiet",
        ],
    ));
    let s: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        (s["created"].as_u64(), s["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    let errors = std::fs::read_to_string(format!("{}.errors.csv", file.display())).unwrap();
    assert!(errors.contains("3,address,text.characters"), "{errors}");
    let before = ok(&cakupan(&url, &["audit", "verify"]));
    let shown = ok(&cakupan(&url, &["participant", "show", "3273015203900003"]));
    assert!(
        shown.contains("address      Jl. Braga No. 12, RT 03/RW 05"),
        "{shown}"
    );
    // Reading personal data on the command line is in the audit log, like on a page.
    let entries = |text: &str| -> u64 {
        text.split("intact: ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    let after = ok(&cakupan(&url, &["audit", "verify"]));
    assert_eq!(entries(&after), entries(&before) + 1, "{before} → {after}");

    // A corrected file run again: nothing rejected, and the earlier run's error file is gone.
    let errors_file = format!("{}.errors.csv", file.display());
    let fixed = std::fs::read_to_string(&file)
        .unwrap()
        .replace("<b>x</b>", "Jl. Asia Afrika 8");
    std::fs::write(&file, fixed).unwrap();
    ok(&cakupan(
        &url,
        &["import", "participants", file.to_str().unwrap(), "--quiet"],
    ));
    assert!(
        !std::path::Path::new(&errors_file).exists(),
        "{errors_file} left from the earlier run"
    );

    // A file whose every row is refused stored nothing: the command fails and says so.
    std::fs::write(
        &file,
        format!(
            "{}\n3273015203900029,Dewi 123,1990-03-12,P,,32.73.01.1001,BPU,84,1000000,JKK+JKM,2026-05-04,self,\n",
            cakupan_domain::participants::FIELDS.join(",")
        ),
    )
    .unwrap();
    let refused = cakupan(
        &url,
        &["import", "participants", file.to_str().unwrap(), "--quiet"],
    );
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("nothing stored: all 1 row(s) were rejected") && err.contains(".errors.csv"),
        "{err}"
    );
    let _ = std::fs::remove_file(errors_file);
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(path);
}

/// Participants, their simulated payments, a bad payment row, a re-run: then `verify` finds
/// no difference and the reports agree with their recompute.
fn contributions_round_trip(url: &str) {
    let dir = std::env::temp_dir().join(format!(
        "cakupan-contrib-{}-{}",
        std::process::id(),
        url.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let people = dir.join("participants.csv");
    let pays = dir.join("contributions.csv");
    ok(&cakupan(
        url,
        &[
            "generate",
            "participants",
            "--count",
            "1500",
            "--seed",
            "5",
            "--as-of",
            "2026-11-01",
            "--out",
            people.to_str().unwrap(),
        ],
    ));
    ok(&cakupan(
        url,
        &[
            "import",
            "participants",
            people.to_str().unwrap(),
            "--quiet",
        ],
    ));
    ok(&cakupan(
        url,
        &[
            "generate",
            "contributions",
            "--participants",
            people.to_str().unwrap(),
            "--as-of",
            "2026-11-01",
            "--out",
            pays.to_str().unwrap(),
        ],
    ));
    let text = std::fs::read_to_string(&pays).unwrap();
    let rows = text.lines().count() - 1;
    assert!(rows > 500, "{rows} payments generated");
    let first: Vec<String> = text
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(String::from)
        .collect();
    let mut wrong = first.clone();
    wrong[0] = "WRONG-1".into();
    wrong[5] = (first[5].parse::<i64>().unwrap() + 1).to_string();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&pays)
        .unwrap();
    writeln!(f, "{}", wrong.join(",")).unwrap();
    drop(f);
    let errors = dir.join("errors.csv");
    let run = || -> serde_json::Value {
        let out = ok(&cakupan(
            url,
            &[
                "import",
                "contributions",
                pays.to_str().unwrap(),
                "--summary-json",
                "--quiet",
                "--errors",
                errors.to_str().unwrap(),
                "--batch",
                "400",
            ],
        ));
        serde_json::from_str(out.lines().last().unwrap()).unwrap()
    };
    let s = run();
    assert_eq!(
        (s["created"].as_u64(), s["rejected"].as_u64()),
        (Some(rows as u64), Some(1)),
        "{s}"
    );
    let report = std::fs::read_to_string(&errors).unwrap();
    assert!(
        report.contains(&format!("{},amount,amount.dues", rows + 2)),
        "{report}"
    );
    let again = run();
    assert_eq!(
        (again["created"].as_u64(), again["existing"].as_u64()),
        (Some(0), Some(rows as u64)),
        "{again}"
    );
    let verify = ok(&cakupan(url, &["verify"]));
    assert!(verify.contains(" 0 differences"), "{verify}");
    for by in ["nation", "province"] {
        let args = [
            "report", "active", "--from", "2025-06", "--to", "2026-10", "--by", by, "--format",
            "csv",
        ];
        let counters = ok(&cakupan(url, &args));
        let recomputed = ok(&cakupan(url, &[&args[..], &["--recompute"]].concat()));
        assert_eq!(
            counters, recomputed,
            "report --by {by} differs from its recompute"
        );
        assert!(counters.lines().count() > 17);
    }
    let coverage = ok(&cakupan(
        url,
        &["participant", "coverage", &first[1], "--to", "2026-10"],
    ));
    assert!(
        coverage.contains(&format!("paid by {}", first[0])),
        "{coverage}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn contributions_on_sqlite() {
    let (url, path) = harness::sqlite_url();
    contributions_round_trip(&url);
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contributions_on_postgres() {
    let Some(admin) = harness::postgres_url() else {
        return;
    };
    let (url, name) = cakupan_store_postgres::create_throwaway(&admin, "cakupan_test")
        .await
        .unwrap();
    let u = url.clone();
    tokio::task::spawn_blocking(move || contributions_round_trip(&u))
        .await
        .unwrap();
    cakupan_store_postgres::drop_database(&admin, &name)
        .await
        .unwrap();
    harness::mark_postgres_ran("contributions_on_postgres");
}

#[test]
fn targets_from_the_command_line() {
    let (url, _) = harness::sqlite_url();
    // The national target of rules/targets.toml is stored on first open, net of Jakon.
    let out = ok(&cakupan(&url, &["target", "list"]));
    assert!(
        out.contains("64470000") && out.contains("29770000 in 2023-02") && out.contains("stated"),
        "{out}"
    );
    let out = ok(&cakupan(&url, &["report", "target", "--month", "2026-11"]));
    assert!(
        out.contains("target      64470000 by 2026-12 (stated by a decision)")
            && out.contains("net of"),
        "{out}"
    );
    assert!(
        out.contains("required    64470000 more per month for 1 months"),
        "{out}"
    );
    // A province has no target until one is allocated: said, not computed.
    let none = cakupan(
        &url,
        &["report", "target", "--region", "32", "--month", "2026-11"],
    );
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("target.none"));
    // Allocated down to the regencies, stored, audited, and then read for Jawa Barat.
    let before = ok(&cakupan(&url, &["audit", "verify"]));
    let out = ok(&cakupan(
        &url,
        &["target", "allocate", "--down-to", "regency"],
    ));
    assert!(
        out.contains("552 targets stored down to the regency level from Indonesia 64470000")
            && out.contains("the regions one level below sum to 64470000"),
        "{out}"
    );
    let after = ok(&cakupan(&url, &["audit", "verify"]));
    assert_ne!(before, after, "the allocation is in the audit log");
    let out = ok(&cakupan(
        &url,
        &["report", "target", "--region", "32", "--month", "2026-11"],
    ));
    assert!(
        out.contains("Jawa Barat 32")
            && out.contains("by employed persons (BPS Sakernas August 2023)"),
        "{out}"
    );
    let out = ok(&cakupan(
        &url,
        &[
            "report", "target", "--region", "32.73", "--month", "2026-11",
        ],
    ));
    assert!(
        out.contains("share by residents (Kemendagri 2025)"),
        "{out}"
    );
    // Bad input names the flag and the rule; nothing is stored.
    let bad = cakupan(
        &url,
        &[
            "target", "set", "--region", "32", "--month", "2026-12", "--value", "-1", "--source",
            "x",
        ],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--value") && err.contains("value.negative"),
        "{err}"
    );
    let bad = cakupan(
        &url,
        &[
            "target",
            "allocate",
            "--region",
            "32",
            "--down-to",
            "province",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("level.below"));
    let out = ok(&cakupan(
        &url,
        &[
            "target",
            "set",
            "--region",
            "32.73",
            "--month",
            "2026-12",
            "--value",
            "5000",
            "--source",
            "Kanwil Jawa Barat plan 2026",
        ],
    ));
    assert!(out.contains("Target stored."), "{out}");
    let out = ok(&cakupan(&url, &["target", "list", "--region", "32.73"]));
    assert!(
        out.contains("Kota Bandung") && out.contains("5000"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_a_tampered_audit_log() {
    let (url, path) = harness::sqlite_url();
    let with_cost = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cakupan"))
            .args(args)
            .env("CAKUPAN_DB", &url)
            .env(TODAY_VAR, harness::today_text())
            .env("CAKUPAN_KEYS", harness::KEYS_TEXT)
            .env("CAKUPAN_LOG", "error")
            .env("CAKUPAN_ARGON2", "m=8,t=1,p=1")
            .output()
            .unwrap()
    };
    let out = ok(&with_cost(&[
        "user",
        "add",
        "--username",
        "Admin",
        "--role",
        "admin",
    ]));
    assert!(out.contains("User admin created (admin)."), "{out}");
    let pw = out
        .lines()
        .find_map(|l| l.strip_prefix("Password (shown once, not stored): "))
        .unwrap();
    assert_eq!(pw.len(), 20, "{pw}");
    let again = with_cost(&["user", "add", "--username", "admin", "--role", "admin"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("username.taken"));
    let scoped = with_cost(&[
        "user",
        "add",
        "--username",
        "lurah",
        "--role",
        "village_official",
        "--region",
        "32.73",
    ]);
    assert!(String::from_utf8_lossy(&scoped.stderr).contains("region.role_scope"));
    let short = std::env::temp_dir().join(format!("pw-{}", std::process::id()));
    std::fs::write(&short, "pendek\n").unwrap();
    let bad = with_cost(&[
        "user",
        "add",
        "--username",
        "budi",
        "--role",
        "analyst",
        "--password-file",
        short.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("password.length"));
    ok(&with_cost(&[
        "user",
        "add",
        "--username",
        "agen",
        "--role",
        "agent",
        "--region",
        "32.73.01",
        "--agent-code",
        "PRS-32-0001",
    ]));
    // Issue 17, item 8: a common password is refused by name, whatever its length.
    std::fs::write(&short, "Password1234!\n").unwrap();
    let common = with_cost(&[
        "user",
        "add",
        "--username",
        "budi",
        "--role",
        "analyst",
        "--password-file",
        short.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&common.stderr).contains("password.common"));
    // The account lifecycle from the command line, each step audited.
    let reset = ok(&with_cost(&[
        "user",
        "reset-password",
        "--username",
        "agen",
    ]));
    assert!(
        reset.contains("must be changed at the next sign-in"),
        "{reset}"
    );
    assert!(ok(&with_cost(&["user", "disable", "--username", "agen"])).contains("disabled"));
    ok(&with_cost(&["user", "end-sessions", "--username", "agen"]));
    ok(&with_cost(&["user", "enable", "--username", "agen"]));
    let nobody = with_cost(&["user", "disable", "--username", "nobody"]);
    assert!(!nobody.status.success());
    let out = ok(&with_cost(&["audit", "verify"]));
    assert!(out.contains("Audit log intact: 6 entries"), "{out}");
    // The chain is keyed: under another deployment's key file it does not verify, so whoever
    // rewrites the table without the key cannot make a chain that does.
    let other = Command::new(env!("CARGO_BIN_EXE_cakupan"))
        .args(["audit", "verify"])
        .env("CAKUPAN_DB", &url)
        .env(TODAY_VAR, harness::today_text())
        .env(
            "CAKUPAN_KEYS",
            cakupan_store::crypto::Keys::generate().unwrap(),
        )
        .env("CAKUPAN_LOG", "error")
        .output()
        .unwrap();
    // Another deployment's key file does not even open the database (issue 17): nothing is
    // read or written under keys whose blind indexes and audit chain are not this database's.
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        err.contains("keys.mismatch") && err.contains("--keys FILE"),
        "{err}"
    );
    // Tamper with the file behind the service's back: the chain names the entry.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit SET record = 'user:999' WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap();
    let broken = with_cost(&["audit", "verify"]);
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("entry 1 was altered"));
    sqlx::query("DELETE FROM audit WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap();
    let broken = with_cost(&["audit", "verify"]);
    assert!(String::from_utf8_lossy(&broken.stderr).contains("entry 1 is missing"));
    // Issue 17, item 7: a wiped log verifies on its own ("intact: 0 entries"), but not
    // against an anchor taken before. Anchors of a fresh log: two, the second after more
    // entries; both must hold.
    sqlx::query("DELETE FROM audit")
        .execute(&pool)
        .await
        .unwrap();
    let anchors = path.with_extension("anchors");
    ok(&with_cost(&[
        "user",
        "add",
        "--username",
        "sari",
        "--role",
        "analyst",
    ]));
    let first = ok(&with_cost(&[
        "audit",
        "anchor",
        "--out",
        anchors.to_str().unwrap(),
    ]));
    assert!(first.starts_with("audit anchor count=1 hash="), "{first}");
    ok(&with_cost(&[
        "user",
        "add",
        "--username",
        "tono",
        "--role",
        "analyst",
    ]));
    ok(&with_cost(&[
        "audit",
        "anchor",
        "--out",
        anchors.to_str().unwrap(),
    ]));
    let held = ok(&with_cost(&[
        "audit",
        "verify",
        "--anchor",
        anchors.to_str().unwrap(),
    ]));
    assert!(held.contains("holds all 2 anchor(s)"), "{held}");
    // The tail cut off: the chain that is left verifies, the anchor does not.
    sqlx::query("DELETE FROM audit WHERE id = 2")
        .execute(&pool)
        .await
        .unwrap();
    ok(&with_cost(&["audit", "verify"]));
    let cut = with_cost(&["audit", "verify", "--anchor", anchors.to_str().unwrap()]);
    assert!(!cut.status.success());
    assert!(
        String::from_utf8_lossy(&cut.stderr).contains("no longer holds entry 2"),
        "{}",
        String::from_utf8_lossy(&cut.stderr)
    );
    sqlx::query("DELETE FROM audit")
        .execute(&pool)
        .await
        .unwrap();
    let wiped = ok(&with_cost(&["audit", "verify"]));
    assert!(wiped.contains("intact: 0 entries"), "{wiped}");
    let wiped = with_cost(&["audit", "verify", "--anchor", anchors.to_str().unwrap()]);
    assert!(!wiped.status.success());
    let _ = std::fs::remove_file(&anchors);
    pool.close().await;
    let _ = std::fs::remove_file(&short);
    drop(path);
}

/// `serve --tls-cert --tls-key`: HTTPS with a certificate made here (openssl), checked by curl
/// against that certificate, with HSTS; plain HTTP on the same port gets nowhere.
#[test]
fn serves_https_when_given_a_certificate() {
    use std::io::BufRead;
    let (url, _) = harness::sqlite_url();
    let dir = std::env::temp_dir().join(format!("cakupan-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl) must be installed");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_cakupan"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("CAKUPAN_DB", &url)
        .env(TODAY_VAR, harness::today_text())
        .env("CAKUPAN_KEYS", harness::KEYS_TEXT)
        .env("CAKUPAN_ARGON2", "m=8,t=1,p=1")
        .env("CAKUPAN_LOG", "error")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("listening on https://")
                .nth(1)
                .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
        })
        .expect("the server says where it listens");
    // Keep reading what the server says, so that it never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{addr}/healthz"))
        .output()
        .expect("curl (Debian package curl) must be installed");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let plain = Command::new("curl")
        .args(["-s", "-m", "5"])
        .arg(format!("http://{addr}/healthz"))
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(text.contains(" 200"), "{text}");
    assert!(
        text.contains("strict-transport-security: max-age=31536000"),
        "{text}"
    );
    assert!(text.contains("\"status\":\"ok\""), "{text}");
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"status\":\"ok\""));
}

/// The Perisai network from the command line: an office, an agent (a BPU participant), a
/// participant they enrol, a collection with its receipt, a deposit refused above what is
/// held, the statement as CSV, the agent counts, and `verify` over the agent months.
#[test]
fn the_perisai_network_from_the_command_line() {
    let (url, path) = harness::sqlite_url();
    let register = |nik: &str, channel: &str, agent: &str| {
        let mut args = vec![
            "participant",
            "register",
            "--nik",
            nik,
            "--name",
            "Siti Aminah",
            "--birth-date",
            "1990-03-12",
            "--sex",
            "P",
            "--village-code",
            "32.73.01.1001",
            "--segment",
            "BPU",
            "--occupation-code",
            "84",
            "--income-base",
            "1000000",
            "--programs",
            "JKK+JKM",
            "--registered-on",
            "2026-10-01",
            "--channel",
            channel,
        ];
        if !agent.is_empty() {
            args.extend(["--agent-code", agent]);
        }
        cakupan(&url, &args)
    };
    ok(&register("3273016508800001", "self", ""));
    ok(&cakupan(
        &url,
        &[
            "office",
            "add",
            "--code",
            "KP-32-0001",
            "--name",
            "Koperasi Braga",
            "--kind",
            "cooperative",
            "--region",
            "32.73.01",
            "--from",
            "2026-01-01",
        ],
    ));
    let appointed = cakupan(
        &url,
        &[
            "agent",
            "add",
            "--code",
            "PRS-32-0009",
            "--office",
            "KP-32-0001",
            "--nik",
            "3273016508800001",
            "--villages",
            "32.73.01.1001,32.73.01.1002",
            "--appointed",
            "2026-10",
        ],
    );
    assert!(ok(&appointed).contains("Agent PRS-32-0009 appointed"));
    // Unknown office: refused with the field and rule.
    let bad = cakupan(
        &url,
        &[
            "agent",
            "add",
            "--code",
            "PRS-32-0010",
            "--office",
            "KP-99",
            "--nik",
            "3273016508800001",
            "--villages",
            "32.73.01.1001",
            "--appointed",
            "2026-10",
        ],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("office.unknown"));
    ok(&register("3273014101900001", "perisai", "PRS-32-0009"));
    let month = cakupan_domain::Month::of(harness::today());
    let today = harness::today_text();
    let dues = cakupan_domain::contribution::dues(
        harness::rules(),
        &cakupan_domain::contribution::Profile {
            segment: cakupan_domain::Segment::Bpu,
            income_base: cakupan_domain::Rupiah(1_000_000),
            programmes: cakupan_domain::ProgrammeSet::parse("JKK+JKM").unwrap(),
            sector: cakupan_domain::Sector::NonTransport,
            budget_funded: false,
            risk_class: None,
        },
        month,
        1,
    )
    .unwrap()[0]
        .1
        .0
        .to_string();
    let posted = ok(&cakupan(
        &url,
        &[
            "post",
            "contribution",
            "--reference",
            "KAS-1",
            "--nik",
            "3273014101900001",
            "--segment",
            "BPU",
            "--first-month",
            &month.to_string(),
            "--amount",
            &dues,
            "--channel",
            "perisai",
            "--paid-on",
            &today,
            "--collected-by",
            "PRS-32-0009",
        ],
    ));
    assert!(posted.contains("Receipt KW"), "{posted}");
    let shown = ok(&cakupan(&url, &["agent", "show", "PRS-32-0009"]));
    let held = cakupan_domain::Rupiah(dues.parse().unwrap());
    assert!(shown.contains(&format!("cash held  {held}")), "{shown}");
    let too_much = cakupan(
        &url,
        &[
            "agent",
            "deposit",
            "PRS-32-0009",
            "--reference",
            "BNI-1",
            "--amount",
            "999999",
        ],
    );
    assert!(String::from_utf8_lossy(&too_much.stderr).contains("deposit.above_held"));
    let csv = ok(&cakupan(
        &url,
        &[
            "office",
            "statement",
            "KP-32-0001",
            "--month",
            &month.to_string(),
            "--csv",
        ],
    ));
    let line = csv.lines().find(|l| l.starts_with("PRS-32-0009,")).unwrap();
    assert!(line.contains(&format!(",1,0,{dues},0,")), "{csv}");
    let counts = ok(&cakupan(
        &url,
        &[
            "report", "agents", "--by", "district", "--region", "32.73.01",
        ],
    ));
    assert!(counts.contains("32.73.01,Sukasari,1,1,0"), "{counts}");
    let verified = ok(&cakupan(&url, &["verify"]));
    assert!(
        verified.contains("agent-month rows checked, 0 differences"),
        "{verified}"
    );
    // The office's monthly target: a bad one named; one new participant a month from October
    // (October had none, November is not complete on the 23rd): in agreement, one month below.
    let bad = cakupan(
        &url,
        &[
            "office",
            "target",
            "KP-32-0001",
            "--from",
            "2026-10",
            "--acquisitions",
            "-3",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("office_target.negative"));
    ok(&cakupan(
        &url,
        &[
            "office",
            "target",
            "KP-32-0001",
            "--from",
            "2026-10",
            "--acquisitions",
            "1",
        ],
    ));
    let review = ok(&cakupan(&url, &["office", "review", "KP-32-0001"]));
    assert!(
        review.contains("2026-10         1        0  below")
            && review.contains(
                "In agreement: 1 consecutive month(s) below target (the agreement ends at 3)"
            ),
        "{review}"
    );
    let _ = std::fs::remove_file(path);
}

/// An employer from the command line: a report with a bad line is refused with the line named
/// and nothing billed, its valid part billed on confirmation, paid before the due date, settled.
/// Then a simulated year of wage reports from employers of every size, which `verify` confirms.
/// `cakupan employer add` of the employer the employer tests use (NIB 9120001234567).
const ADD_SINAR_BAJA: [&str; 14] = [
    "employer",
    "add",
    "--code",
    "9120001234567",
    "--name",
    "PT Sinar Baja",
    "--size",
    "medium",
    "--risk-class",
    "2",
    "--region",
    "32.73.01.1001",
    "--registered-on",
    "2026-01-05",
];

fn employers_round_trip(url: &str, participants: &str) {
    let dir = std::env::temp_dir().join(format!(
        "cakupan-employers-{}-{}",
        std::process::id(),
        url.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let nib = "9120001234567";
    let add = ADD_SINAR_BAJA;
    assert!(ok(&cakupan(url, &add)).contains("registered"));
    assert!(ok(&cakupan(url, &add)).contains("already registered"));
    let bad = cakupan(url, &[&add[..9], &["9"], &add[10..]].concat());
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("risk_class"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let file = dir.join("2026-10.csv");
    std::fs::write(
        &file,
        "nik,name,birth_date,sex,village_code,occupation_code,basic_wage,fixed_allowances,programs,action\n\
         3273015203900003,Siti Aminah,1990-03-12,P,32.73.01.1001,84,5000000,0,JKK+JKM+JHT+JP,enrol\n\
         3273011203880001,Budi Santoso,1988-03-12,L,32.73.01.1002,84,-5,0,JKK+JKM+JHT+JP,enrol\n",
    )
    .unwrap();
    let report = |extra: &[&str]| {
        cakupan(
            url,
            &[
                &["employer", "report", nib, "--month", "2026-10", "--file"][..],
                &[file.to_str().unwrap()],
                extra,
            ]
            .concat(),
        )
    };
    let refused = report(&[]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("line 3 basic_wage"), "{err}");
    assert!(err.contains("nothing billed"), "{err}");
    let nothing = cakupan(url, &["employer", "invoice", nib, "--month", "2026-10"]);
    assert!(!nothing.status.success(), "a refused report billed nothing");
    let billed = ok(&report(&["--confirm-valid-part"]));
    assert!(billed.contains("1 workers billed"), "{billed}");
    assert!(billed.contains("total Rp477,000"), "{billed}");
    // The 15th of November 2026 is a Sunday: due the next working day.
    assert!(billed.contains("due 2026-11-16"), "{billed}");
    // The same report again is a retry: the invoice does not change.
    let again = ok(&report(&["--confirm-valid-part"]));
    assert!(again.contains("already submitted"), "{again}");
    let paid = ok(&cakupan(
        url,
        &[
            "employer",
            "pay",
            nib,
            "--reference",
            "MANDIRI-77",
            "--amount",
            "477000",
            "--paid-on",
            "2026-11-10",
        ],
    ));
    assert!(paid.contains("Recorded: 1 worker-months paid"), "{paid}");
    assert!(paid.contains("outstanding Rp0, overdue Rp0"), "{paid}");
    let coverage = ok(&cakupan(
        url,
        &[
            "participant",
            "coverage",
            "3273015203900003",
            "--to",
            "2026-10",
        ],
    ));
    assert!(coverage.contains("2026-10  ACTIVE"), "{coverage}");

    let sim = cakupan(
        url,
        &[
            "simulate",
            "--participants",
            participants,
            "--months",
            "24",
            "--seed",
            "11",
            "--employer-months",
            "12",
        ],
    );
    let said = String::from_utf8_lossy(&sim.stderr).into_owned();
    assert!(sim.status.success(), "{said}");
    let line = said
        .lines()
        .find(|l| l.contains(" employers (micro "))
        .unwrap_or_else(|| panic!("{said}"));
    // Employers of every size, wage reports none of which was refused, payments.
    let sizes: Vec<u64> = line
        .split(['(', ')', ','])
        .filter_map(|part| part.split_whitespace().nth(1)?.parse().ok())
        .take(4)
        .collect();
    assert!(sizes.len() == 4 && sizes.iter().all(|&n| n > 0), "{line}");
    assert!(line.contains("(0 refused)"), "{line}");
    // Channel partners paid part of the BPU population over the SNAP endpoints (issue #19).
    let partners = said
        .lines()
        .find(|l| l.starts_with("Channel partners: "))
        .unwrap_or_else(|| panic!("{said}"));
    let paid: u64 = partners
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(paid > 0, "{partners}");
    let verify = ok(&cakupan(url, &["verify"]));
    assert!(verify.contains(" 0 differences"), "{verify}");
    // Last month's wage earners, paid for by now (the day the commands ran on).
    let now = harness::today();
    let last = if now.month() == time::Month::January {
        format!("{}-12", now.year() - 1)
    } else {
        format!("{}-{:02}", now.year(), u8::from(now.month()) - 1)
    };
    let pu = ok(&cakupan(
        url,
        &[
            "report",
            "active",
            "--segment",
            "PU",
            "--by",
            "nation",
            "--format",
            "csv",
            "--month",
            &last,
        ],
    ));
    let row: Vec<&str> = pu.lines().nth(1).unwrap().split(',').collect();
    let header: Vec<&str> = pu.lines().next().unwrap().split(',').collect();
    let at = |name: &str| {
        row[header.iter().position(|h| *h == name).unwrap()]
            .parse::<i64>()
            .unwrap()
    };
    assert!(
        at("status_active") > 0 && at("status_active") < at("registered"),
        "{pu}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn employers_on_sqlite() {
    let (url, path) = harness::sqlite_url();
    employers_round_trip(&url, "600");
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employers_on_postgres() {
    let Some(admin) = harness::postgres_url() else {
        return;
    };
    let (url, name) = cakupan_store_postgres::create_throwaway(&admin, "cakupan_test")
        .await
        .unwrap();
    let u = url.clone();
    tokio::task::spawn_blocking(move || employers_round_trip(&u, "300"))
        .await
        .unwrap();
    cakupan_store_postgres::drop_database(&admin, &name)
        .await
        .unwrap();
    harness::mark_postgres_ran("employers_on_postgres");
}

/// The campaign planner over the whole region tree: every village accounted for, and no
/// district given more sessions than its capacity.
#[test]
fn a_campaign_wave_is_planned_over_every_village() {
    let (url, path) = harness::sqlite_url();
    ok(&cakupan(
        &url,
        &[
            "simulate",
            "--participants",
            "400",
            "--months",
            "12",
            "--seed",
            "8",
            "--employer-months",
            "0",
        ],
    ));
    let csv = std::env::temp_dir().join(format!("cakupan-plan-{}.csv", std::process::id()));
    let out = ok(&cakupan(
        &url,
        &[
            "campaign",
            "plan",
            "--weeks",
            "3",
            "--sessions-per-district-week",
            "1",
            "--csv",
            csv.to_str().unwrap(),
        ],
    ));
    let first = out.lines().next().unwrap();
    let numbers: Vec<usize> = first
        .split([' ', ',', ';', ':'])
        .filter_map(|w| w.parse().ok())
        .collect();
    // villages, proposed, weeks, over capacity, without an agent, too small, reached.
    assert_eq!(numbers.len(), 7, "{first}");
    assert_eq!(numbers[0], 83_762, "{first}");
    assert_eq!(
        numbers[1] + numbers[3] + numbers[4] + numbers[5] + numbers[6],
        83_762,
        "every village is proposed or left out for a reason: {first}"
    );
    assert!(numbers[1] > 0, "{first}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), numbers[1]);
    let mut per_district: std::collections::HashMap<&str, usize> = Default::default();
    for r in &rows {
        let week: u32 = r[1].parse().unwrap();
        assert!((1..=3).contains(&week), "{r:?}");
        *per_district.entry(r[4]).or_default() += 1;
        let slots: usize = r[13].parse().unwrap();
        assert!(per_district[r[4]] <= slots && slots <= 3, "{r:?}");
    }
    // Ranked by potential: the first row of week 1 has the highest potential of week 1.
    let week1: Vec<f64> = rows
        .iter()
        .filter(|r| r[1] == "1")
        .map(|r| r[5].parse().unwrap())
        .collect();
    assert!(
        week1.windows(2).all(|w| w[0] >= w[1]),
        "week 1 out of rank order"
    );
    let _ = std::fs::remove_file(csv);
    let _ = std::fs::remove_file(path);
}

/// A simulated two-wave campaign over the real villages of Kabupaten Bandung: planned,
/// coordinated, held, with a known effect of 6 extra enrolments per reached village; each
/// wave's difference-in-differences estimate recovers it within its 95% interval, and the
/// interval is narrow enough to mean something. Then a survey of the campaign through the
/// command line: drawn, answered by CSV, the same file refused, weighted results.
fn a_two_wave_campaign(url: &str) {
    let out = ok(&cakupan(
        url,
        &[
            "campaign",
            "simulate",
            "--campaign",
            "SIM",
            "--region",
            "32.04",
            "--effect",
            "6",
            "--seed",
            "3",
        ],
    ));
    let known: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("Known effect"))
        .collect();
    assert_eq!(known.len(), 2, "{out}");
    for l in known {
        assert!(l.ends_with("recovered within its interval."), "{l}");
        let nums: Vec<f64> = l
            .split([' ', '(', ')', ':'])
            .filter_map(|w| w.trim_end_matches(['.', ',']).parse().ok())
            .collect();
        // 6.00, estimate, low, high ("95%" is not a number)
        let (low, high) = (nums[2], nums[3]);
        assert!(low <= 6.0 && 6.0 <= high && high - low < 3.0, "{l}");
    }
    let status = ok(&cakupan(url, &["campaign", "status", "--campaign", "SIM"]));
    assert!(status.contains("wave 1: 93 villages"), "{status}");
    // A session in a village outside the campaign is refused and names the rule.
    let refused = cakupan(
        url,
        &[
            "campaign",
            "session",
            "--campaign",
            "SIM",
            "--village",
            "32.73.01.1001",
            "--on",
            "2026-11-20",
            "--place",
            "Balai Desa",
            "--attendance",
            "farmer=10",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("session.not_in_campaign"),
        "{refused:?}"
    );
    // The proposal edited by hand: a village outside the campaign's region cannot join it; a
    // held village cannot leave its wave.
    let outside = cakupan(
        url,
        &[
            "campaign",
            "edit",
            "--campaign",
            "SIM",
            "--village",
            "32.73.01.1001",
            "--add-to-wave",
            "2",
            "--week",
            "1",
        ],
    );
    assert!(
        String::from_utf8_lossy(&outside.stderr).contains("campaign.outside"),
        "{outside:?}"
    );
    let list = ok(&cakupan(
        url,
        &[
            "campaign", "survey", "units", "SIM-BASE", "--region", "32.04",
        ],
    ));
    assert!(list.lines().count() > 400, "{list}");
    ok(&cakupan(url, &["campaign", "questionnaire", "add"]));
    ok(&cakupan(
        url,
        &[
            "campaign",
            "survey",
            "draw",
            "--code",
            "BASE",
            "--questionnaire",
            "kkbc",
            "--version",
            "1",
            "--region",
            "32.04",
            "--size",
            "93",
            "--campaign",
            "SIM",
        ],
    ));
    let units = ok(&cakupan(url, &["campaign", "survey", "units", "BASE"]));
    let mut csv = String::from("unit,version,audience,aware,willing_16800,channel,trust\n");
    for (i, line) in units.lines().skip(1).enumerate() {
        let unit = line.split(',').next().unwrap();
        let aware = if i % 3 == 0 { "ya" } else { "tidak" };
        csv.push_str(&format!("{unit},1,farmer,{aware},ya,bank,{}\n", 1 + i % 5));
    }
    // One file per database: the SQLite and PostgreSQL runs go side by side.
    let tag: String = url.chars().filter(char::is_ascii_alphanumeric).collect();
    let path = std::env::temp_dir().join(format!("cakupan-survey-{tag}.csv"));
    std::fs::write(&path, csv).unwrap();
    let p = path.to_str().unwrap();
    let added = ok(&cakupan(
        url,
        &["campaign", "survey", "respond", "BASE", "--file", p],
    ));
    assert!(added.starts_with("93 responses recorded"), "{added}");
    let again = cakupan(url, &["campaign", "survey", "respond", "BASE", "--file", p]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("survey.duplicate_upload"),
        "{again:?}"
    );
    let results = ok(&cakupan(
        url,
        &["campaign", "survey", "results", "BASE", "--by", "all"],
    ));
    let aware = results.lines().find(|l| l.starts_with("aware ")).unwrap();
    // 31 of 93 answered yes, one per stratum at least: a weighted share near a third.
    let share: f64 = aware.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!((0.2..0.5).contains(&share), "{results}");
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_two_wave_campaign_on_sqlite() {
    let (url, path) = harness::sqlite_url();
    a_two_wave_campaign(&url);
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_wave_campaign_on_postgres() {
    let Some(admin) = harness::postgres_url() else {
        return;
    };
    let (url, name) = cakupan_store_postgres::create_throwaway(&admin, "cakupan_test")
        .await
        .unwrap();
    let u = url.clone();
    tokio::task::spawn_blocking(move || a_two_wave_campaign(&u))
        .await
        .unwrap();
    cakupan_store_postgres::drop_database(&admin, &name)
        .await
        .unwrap();
    harness::mark_postgres_ran("a_two_wave_campaign_on_postgres");
}

/// `cakupan import wage-reports DIR` (issue #23): a directory of `NIB_YYYY-MM.csv` files, each
/// that employer's report of that month. A badly named file or an unknown employer stops the
/// run before anything is written; a report with problems bills nothing, writes its problems
/// beside the file and holds back the employer's later months; running it again is safe.
#[test]
fn wage_reports_from_a_directory() {
    let (url, path) = harness::sqlite_url();
    let dir = std::env::temp_dir().join(format!("cakupan-wage-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let nib = "9120001234567";
    ok(&cakupan(&url, &ADD_SINAR_BAJA));
    let header = crate::employers::HEADER;
    let enrol = format!(
        "{header}\n3273015203900003,Siti Aminah,1990-03-12,P,32.73.01.1001,84,5000000,0,JKK+JKM+JHT+JP,enrol\n\
         3273011203880001,Budi Santoso,1988-03-12,L,32.73.01.1002,84,4000000,0,JKK+JKM+JHT+JP,enrol\n"
    );
    let carry_on = |budi_wage: &str| {
        format!(
            "{header}\n3273015203900003,,,,,,5000000,0,JKK+JKM+JHT+JP,continue\n\
             3273011203880001,,,,,,{budi_wage},0,JKK+JKM+JHT+JP,continue\n"
        )
    };
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let import = || cakupan(&url, &["import", "wage-reports", dir.to_str().unwrap()]);
    let invoice = |month: &str| {
        cakupan(&url, &["employer", "invoice", nib, "--month", month])
            .status
            .success()
    };
    write(&format!("{nib}_2026-07.csv"), &enrol);
    write(&format!("{nib}_2026-08.csv"), &carry_on("4000000"));
    // A file not named NIB_YYYY-MM.csv, and an employer nobody registered: nothing written.
    write("juli.csv", &enrol);
    write("9120009999999_2026-08.csv", &enrol);
    let refused = import();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("nothing imported: 2 file(s)"), "{err}");
    assert!(
        err.contains("juli.csv: a wage report's file is named NIB_YYYY-MM.csv"),
        "{err}"
    );
    assert!(
        err.contains("no employer is registered with NIB 9120009999999"),
        "{err}"
    );
    assert!(!invoice("2026-07"), "nothing was billed");
    std::fs::remove_file(dir.join("juli.csv")).unwrap();
    std::fs::remove_file(dir.join("9120009999999_2026-08.csv")).unwrap();

    let out = ok(&import());
    assert!(
        out.starts_with("2 files: 2 reports billed (4 lines"),
        "{out}"
    );
    assert!(invoice("2026-07") && invoice("2026-08"));
    // Again: both are repeats, nothing changes.
    let again = ok(&import());
    assert!(
        again.starts_with("2 files: 0 reports billed (0 lines, 0 worker-months paid from credit), 2 already submitted, 0 refused"),
        "{again}"
    );

    // A bad wage in September: nothing billed for it, its problems beside it, October waits.
    write(&format!("{nib}_2026-09.csv"), &carry_on("-5"));
    write(&format!("{nib}_2026-10.csv"), &carry_on("4000000"));
    let held = import();
    assert!(!held.status.success());
    let said = String::from_utf8_lossy(&held.stdout);
    assert!(said.contains("1 refused, 1 later months waiting"), "{said}");
    let errors_file = dir.join(format!("{nib}_2026-09.csv.errors.csv"));
    let errors = std::fs::read_to_string(&errors_file).unwrap();
    assert!(
        errors.starts_with("line,field,rule,message\n3,basic_wage,"),
        "{errors}"
    );
    assert!(!invoice("2026-09") && !invoice("2026-10"));
    // Corrected, the run bills both and takes the problems away.
    write(&format!("{nib}_2026-09.csv"), &carry_on("4000000"));
    let done = ok(&import());
    assert!(done.contains("2 reports billed (4 lines"), "{done}");
    assert!(done.contains("2 already submitted, 0 refused"), "{done}");
    assert!(invoice("2026-09") && invoice("2026-10"));
    assert!(!errors_file.exists());
    let verify = ok(&cakupan(&url, &["verify"]));
    assert!(verify.contains(" 0 differences"), "{verify}");
    // The employer's standing row is checked against its records, and mended by `--repair`.
    assert!(
        verify.contains("1 employer standings checked, 0 differences"),
        "{verify}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("UPDATE employer_standings SET paid = paid + 1")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let tampered = cakupan(&url, &["verify"]);
    let said = String::from_utf8_lossy(&tampered.stdout);
    assert!(!tampered.status.success(), "{said}");
    assert!(
        said.contains(&format!("employer {nib}: standing"))
            && said.contains("1 employer standings checked, 1 differences"),
        "{said}"
    );
    let repaired = ok(&cakupan(&url, &["verify", "--repair"]));
    assert!(
        repaired.contains("Employer standings rebuilt from their records: 1 rows written."),
        "{repaired}"
    );
    let again = ok(&cakupan(&url, &["verify"]));
    assert!(
        again.contains("1 employer standings checked, 0 differences"),
        "{again}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(path);
}
