//! Throwaway databases for tests.

use cakupan_domain::participants::{Context, Registration, RegistrationInput, validate};
use cakupan_domain::{RegionTree, RuleSet};
use cakupan_store::Store;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

pub fn regions() -> &'static Arc<RegionTree> {
    static T: OnceLock<Arc<RegionTree>> = OnceLock::new();
    T.get_or_init(|| Arc::new(RegionTree::builtin().unwrap()))
}

pub fn rules() -> &'static Arc<RuleSet> {
    static R: OnceLock<Arc<RuleSet>> = OnceLock::new();
    R.get_or_init(|| Arc::new(RuleSet::builtin().unwrap()))
}

/// The day every test lives on: the in-process state's `today`, and `CAKUPAN_TODAY` for the
/// commands the tests run, so no test depends on the day it runs.
/// Rows per page of the pages' long lists (`web::PAGE_ROWS`).
pub const PAGE_ROWS: usize = cakupan_server::web::PAGE_ROWS;

pub fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 23)
}

/// [`today`] written YYYY-MM-DD.
pub fn today_text() -> String {
    cakupan_domain::month::format_date(today())
}

/// A month written YYYY-MM.
pub fn month(s: &str) -> cakupan_domain::Month {
    cakupan_domain::Month::parse(s).unwrap()
}

/// A valid BPU registration input; tests change what they need.
pub fn input(nik: &str) -> RegistrationInput {
    RegistrationInput {
        nik: nik.into(),
        name: "Siti Aminah".into(),
        birth_date: "1990-03-12".into(),
        sex: "P".into(),
        phone: "081234567890".into(),
        village_code: "32.73.01.1001".into(),
        segment: "BPU".into(),
        occupation_code: "84.1".into(),
        income_base: "1000000".into(),
        programs: "JKK+JKM".into(),
        registered_on: "2026-05-04".into(),
        channel: "self".into(),
        agent_code: String::new(),
        address: "Jl. Braga No. 12, RT 03/RW 05".into(),
        budget_funded: String::new(),
        heirs: vec![],
    }
}

pub fn reg(i: &RegistrationInput) -> Registration {
    let ctx = Context {
        regions: regions(),
        rules: rules(),
        today: today(),
    };
    validate(&ctx, i).unwrap().0
}

/// A test database and how to throw it away.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres {
        admin: String,
        name: String,
        test: String,
    },
    /// A database on every node of a Citus cluster.
    Citus {
        admin: String,
        name: String,
    },
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// The database's URL, to open it again (with other keys, or from a dump).
    pub fn url(&self) -> String {
        match &self.cleanup {
            Cleanup::File(p) => format!("sqlite://{}", p.display()),
            Cleanup::Postgres { admin, name, .. } | Cleanup::Citus { admin, name } => {
                cakupan_store_postgres::with_database(admin, name).unwrap()
            }
        }
    }
}

pub fn sqlite_url() -> (String, PathBuf) {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join("cakupan-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("t-{}-{n}.db", std::process::id()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    (format!("sqlite://{}", path.display()), path)
}

pub async fn sqlite(with_regions: bool) -> TestDb {
    let (url, path) = sqlite_url();
    let store: Arc<dyn Store> = Arc::new(
        cakupan_store_sqlite::SqliteStore::open(&url, keys())
            .await
            .unwrap(),
    );
    if with_regions {
        store.ensure_regions(regions()).await.unwrap();
    }
    TestDb {
        store,
        cleanup: Cleanup::File(path),
    }
}

/// The PostgreSQL server to test against, if any. With `CAKUPAN_REQUIRE_POSTGRES=1` (as
/// `.ci/run` sets it) a missing URL fails the test instead of skipping it.
pub fn postgres_url() -> Option<String> {
    match std::env::var("CAKUPAN_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("CAKUPAN_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("CAKUPAN_REQUIRE_POSTGRES=1 but CAKUPAN_TEST_POSTGRES_URL is not set");
            }
            eprintln!("CAKUPAN_TEST_POSTGRES_URL not set: PostgreSQL half skipped");
            None
        }
    }
}

pub async fn postgres(test: &str, with_regions: bool) -> Option<TestDb> {
    let admin = postgres_url()?;
    let (url, name) = cakupan_store_postgres::create_throwaway(&admin, "cakupan_test")
        .await
        .unwrap();
    let store = pg_store(&url, with_regions).await;
    Some(TestDb {
        store,
        cleanup: Cleanup::Postgres {
            admin,
            name,
            test: test.into(),
        },
    })
}

/// A new PostgreSQL database, migrated (with the regions if asked), whose store's connections
/// report the plan of every statement they run, nested ones (foreign-key checks) included:
/// PostgreSQL's `auto_explain` sends each plan as a JSON notice, which `plans::capture`
/// collects. Sequential scans are switched off, so that the small tables of a test are
/// planned as large ones would be: a statement that still scans a whole table or index has no
/// index to probe.
pub async fn postgres_explained(test: &str, with_regions: bool) -> Option<TestDb> {
    let mut db = postgres(test, with_regions).await?;
    let url = db.url();
    let settings = [
        "session_preload_libraries=auto_explain",
        "auto_explain.log_min_duration=0",
        "auto_explain.log_format=json",
        "auto_explain.log_level=notice",
        "auto_explain.log_nested_statements=on",
        "enable_seqscan=off",
        "client_min_messages=notice",
    ]
    .map(|s| format!("-c {s}"))
    .join(" ")
    .replace(' ', "%20")
    .replace('=', "%3D");
    let sep = if url.contains('?') { '&' } else { '?' };
    db.store = pg_store(&format!("{url}{sep}options={settings}"), false).await;
    Some(db)
}

/// The PostgreSQL store of a new database, migrated, with the regions if asked.
async fn pg_store(url: &str, with_regions: bool) -> Arc<dyn Store> {
    let store: Arc<dyn Store> = Arc::new(
        cakupan_store_postgres::PgStore::open(url, 8, keys())
            .await
            .unwrap(),
    );
    if with_regions {
        store.ensure_regions(regions()).await.unwrap();
    }
    store
}

/// The Citus coordinator to test against, if any (`CAKUPAN_TEST_CITUS_URL`: its maintenance
/// database, where the workers are registered; docs/operations.md says how to run one).
pub fn citus_url() -> Option<String> {
    match std::env::var("CAKUPAN_TEST_CITUS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("CAKUPAN_TEST_CITUS_URL not set: Citus half skipped");
            None
        }
    }
}

/// A fresh database on the Citus cluster, migrated, its tables placed by citus.toml
/// (`cakupan citus apply`'s own code) after the regions are loaded.
pub async fn citus(with_regions: bool) -> Option<TestDb> {
    let admin = citus_url()?;
    // One at a time: adding the same workers to two new databases at once races on the
    // workers' role propagation ("tuple concurrently updated").
    static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let creating = CREATING.lock().await;
    let (url, name) =
        cakupan_store_postgres::citus::create_cluster_throwaway(&admin, "cakupan_citus")
            .await
            .unwrap();
    drop(creating);
    let store = pg_store(&url, with_regions).await;
    cakupan_store_postgres::citus::apply_at(&url, false)
        .await
        .unwrap();
    Some(TestDb {
        store,
        cleanup: Cleanup::Citus { admin, name },
    })
}

impl TestDb {
    /// Drops the database and, for PostgreSQL, records that this test ran there.
    pub async fn finish(self) {
        let TestDb { store, cleanup } = self;
        drop(store);
        match cleanup {
            Cleanup::File(p) => {
                for ext in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{ext}", p.display()));
                }
            }
            Cleanup::Postgres { admin, name, test } => {
                cakupan_store_postgres::drop_database(&admin, &name)
                    .await
                    .unwrap();
                mark_postgres_ran(&test);
            }
            Cleanup::Citus { admin, name } => {
                cakupan_store_postgres::citus::drop_cluster_database(&admin, &name)
                    .await
                    .unwrap();
            }
        }
    }
}

/// `.ci/run` counts these lines to prove that the PostgreSQL half really ran.
pub fn mark_postgres_ran(test: &str) {
    if let Ok(path) = std::env::var("CAKUPAN_TEST_PG_MARKER") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "{test}").unwrap();
    }
}

/// The tests' key file text (fixed keys: tests only). Child processes get it through
/// `CAKUPAN_KEYS`.
pub const KEYS_TEXT: &str = "index:0707070707070707070707070707070707070707070707070707070707070707\nv1:0909090909090909090909090909090909090909090909090909090909090909\n";

/// The tests' keys, the same as [`KEYS_TEXT`].
pub fn keys() -> Arc<cakupan_store::crypto::Keys> {
    Arc::new(cakupan_store::crypto::Keys::for_tests())
}

/// Kannel on loopback (`scripts/kannel.sh start`, which `scripts/test.sh` runs): the gateway's
/// settings and the SMS centre simulator's output, where every SMS the gateway carried appears.
pub struct Kannel {
    pub gateway: cakupan_app::sms::Gateway,
    pub log: PathBuf,
}

/// The Kannel of this test run, if any. With `CAKUPAN_REQUIRE_KANNEL=1` (as `scripts/test.sh`
/// sets it once Kannel runs) a missing gateway fails the test instead of skipping it.
pub fn kannel() -> Option<Kannel> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        var("CAKUPAN_TEST_SMS_URL"),
        var("CAKUPAN_TEST_SMS_USER"),
        var("CAKUPAN_TEST_SMS_PASSWORD"),
        var("CAKUPAN_TEST_SMS_LOG"),
    ) {
        (Some(url), Some(username), Some(password), Some(log)) => Some(Kannel {
            gateway: cakupan_app::sms::Gateway {
                url,
                username,
                password,
                from: "BPJSTK".into(),
                report_base: None,
                inbound_token: None,
            },
            log: PathBuf::from(log),
        }),
        _ => {
            if std::env::var("CAKUPAN_REQUIRE_KANNEL").is_ok_and(|v| v == "1") {
                panic!(
                    "CAKUPAN_REQUIRE_KANNEL=1 but CAKUPAN_TEST_SMS_URL and its fellows are not set"
                );
            }
            eprintln!("CAKUPAN_TEST_SMS_URL not set (scripts/kannel.sh start): SMS tests skipped");
            None
        }
    }
}

/// A mobile number no other test of this run uses (the SMS centre's log is shared).
pub fn fresh_phone() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mix = nanos
        ^ (u64::from(std::process::id()) << 24)
        ^ N.fetch_add(1, Ordering::SeqCst).wrapping_mul(0x9E37_79B9);
    format!("0813{:08}", mix % 100_000_000)
}

impl Kannel {
    /// The texts the SMS centre received for `phone` (E.164 or 08…), in order.
    pub fn texts_to(&self, phone: &str) -> Vec<String> {
        let e164 = cakupan_domain::phone::normalise_phone(phone).unwrap();
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once("Got message ").map(|(_, m)| m))
            .filter_map(|m| {
                m.split_once(": <")
                    .map(|(_, body)| body.trim_end_matches('>'))
            })
            .filter_map(|body| {
                let mut parts = body.splitn(4, ' ');
                let (_from, to, _kind, text) =
                    (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
                (to == e164).then(|| text.to_string())
            })
            .collect()
    }

    /// Waits (up to 20 s) until `phone` has received more than `before` SMS; the newest text.
    pub async fn next_text(&self, phone: &str, before: usize) -> String {
        for _ in 0..200 {
            let texts = self.texts_to(phone);
            if texts.len() > before {
                return texts[texts.len() - 1].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "no SMS reached {phone} through Kannel within 20 s (log {})",
            self.log.display()
        );
    }

    /// The one-time code an SMS carries.
    pub fn code_in(text: &str) -> String {
        text.split_once("Cakupan: ")
            .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_default()
    }
}
