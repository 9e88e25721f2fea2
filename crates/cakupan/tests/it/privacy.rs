//! Personal data at rest: the database alone reveals no one (DESIGN.md §7), and keys rotate
//! while the data stays readable.

use crate::harness::{self, input, reg};
use cakupan_domain::Nik;
use cakupan_domain::contribution::{ContributionInput, parse_payment};
use cakupan_domain::participants::HeirInput;
use cakupan_store::Store;
use cakupan_store::crypto::Keys;
use cakupan_store::ledger::NewPosting;
use std::sync::Arc;

const NIK: &str = "3273015203900003";
const HEIR_NIK: &str = "3273011203880001";
const NAME: &str = "Kartini Wulandari";
const HEIR: &str = "Bagus Prakoso";
const PHONE: &str = "81398765432";
const ADDRESS: &str = "Gang Sawo Kecik No. 17, RT 04/RW 09";

async fn register_known_people(s: &Arc<dyn Store>) -> i64 {
    let mut i = input(NIK);
    i.name = NAME.into();
    i.phone = format!("0{PHONE}");
    i.registered_on = "2026-01-05".into();
    i.address = ADDRESS.into();
    i.heirs = vec![HeirInput {
        name: HEIR.into(),
        relationship: "suami".into(),
        nik: HEIR_NIK.into(),
        phone: "081211112222".into(),
    }];
    let id = match s.register(harness::rules(), &reg(&i)).await.unwrap() {
        cakupan_store::Outcome::Created { id, .. } => id,
        o => panic!("{o:?}"),
    };
    let pay = ContributionInput {
        reference: "BNI-PRIV-1".into(),
        nik: NIK.into(),
        segment: "BPU".into(),
        first_month: "2026-01".into(),
        months: "1".into(),
        amount: "16800".into(),
        channel: "bank".into(),
        paid_on: "2026-01-10".into(),
    };
    s.post(
        harness::rules(),
        &NewPosting::Contribution(parse_payment(harness::rules(), &pay, harness::today()).unwrap()),
    )
    .await
    .unwrap();
    s.create_user(
        &cakupan_store::accounts::NewUser {
            username: "kartini".into(),
            password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            role: cakupan_domain::access::Role::Participant,
            region: cakupan_domain::RegionCode::NATION,
            agent_code: None,
            nik_index: Some(s.nik_index(&Nik::parse(NIK).unwrap())),
            employer_code: None,
        },
        0,
    )
    .await
    .unwrap();
    // Read back through the store: everything is there, in clear, for those with the keys.
    let p = s.participant(id).await.unwrap().unwrap();
    assert_eq!(p.registration.name, NAME);
    assert_eq!(p.registration.phone.as_deref(), Some("+6281398765432"));
    assert_eq!(p.registration.heirs[0].name, HEIR);
    assert_eq!(p.registration.address.as_deref(), Some(ADDRESS));
    assert_eq!(
        s.participants_by_nik(Nik::parse(NIK).unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    id
}

fn assert_nobody_in(dump: &[u8], what: &str) {
    let text = String::from_utf8_lossy(dump);
    for needle in [
        NIK,
        HEIR_NIK,
        NAME,
        "Wulandari",
        HEIR,
        PHONE,
        "1990-03-12",
        "Sawo Kecik",
    ] {
        assert!(!text.contains(needle), "{what} contains '{needle}'");
    }
    // The check itself finds what is there.
    assert!(
        text.contains("BNI-PRIV-1"),
        "{what} should hold the posting's reference"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_file_reveals_no_one() {
    let db = harness::sqlite(true).await;
    register_known_people(&db.store).await;
    db.store.size_bytes().await.unwrap(); // checkpoints the WAL into the file
    let url = db.url();
    let path = url.trim_start_matches("sqlite://");
    let mut bytes = std::fs::read(path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend(wal);
    }
    assert_nobody_in(&bytes, "the SQLite file");
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_dump_reveals_no_one() {
    let Some(db) = harness::postgres("a_postgres_dump_reveals_no_one", true).await else {
        return;
    };
    register_known_people(&db.store).await;
    let out = std::process::Command::new("pg_dump")
        .arg("--dbname")
        .arg(db.url())
        .output()
        .expect("pg_dump (Debian's postgresql-client) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_nobody_in(&out.stdout, "the PostgreSQL dump");
    db.finish().await;
}

macro_rules! privacy_contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::harness::sqlite(true).await;
                    super::$name(db.store.clone(), db.url()).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::harness::postgres(stringify!($name), true).await else { return };
                    super::$name(db.store.clone(), db.url()).await;
                    db.finish().await;
                }
            )*
        }
    };
}

privacy_contract! {
    keys_rotate_while_the_data_stays_readable,
    consents_and_corrections,
}

async fn open(url: &str, keys: Keys) -> Arc<dyn Store> {
    let keys = Arc::new(keys);
    if url.starts_with("sqlite") {
        Arc::new(
            cakupan_store_sqlite::SqliteStore::open(url, keys)
                .await
                .unwrap(),
        )
    } else {
        Arc::new(
            cakupan_store_postgres::PgStore::open(url, 4, keys)
                .await
                .unwrap(),
        )
    }
}

async fn keys_rotate_while_the_data_stays_readable(s: Arc<dyn Store>, url: String) {
    let id = register_known_people(&s).await;
    assert_eq!(s.key_versions().await.unwrap(), vec![(1, 1)]);
    // v2 added: the old rows still read; rotation re-encrypts them; afterwards v1 can go.
    let (two, _) = Keys::add_version(harness::KEYS_TEXT).unwrap();
    let s2 = open(&url, Keys::parse(&two).unwrap()).await;
    assert_eq!(
        s2.participant(id).await.unwrap().unwrap().registration.name,
        NAME
    );
    assert_eq!(s2.reseal(10).await.unwrap(), 1);
    assert_eq!(s2.reseal(10).await.unwrap(), 0);
    assert_eq!(s2.key_versions().await.unwrap(), vec![(2, 1)]);
    let only_v2: String = two
        .lines()
        .filter(|l| !l.starts_with("v1:"))
        .collect::<Vec<_>>()
        .join("\n");
    let s3 = open(&url, Keys::parse(&only_v2).unwrap()).await;
    let p = s3.participant(id).await.unwrap().unwrap();
    assert_eq!(
        (
            p.registration.name.as_str(),
            p.registration.heirs[0].name.as_str(),
            p.registration.address.as_deref()
        ),
        (NAME, HEIR, Some(ADDRESS))
    );
    // Look-ups by NIK keep working: the index key does not rotate.
    assert_eq!(
        s3.participants_by_nik(Nik::parse(NIK).unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    // The old keys alone no longer read the re-encrypted rows.
    assert!(s.participant(id).await.is_err());
}

async fn consents_and_corrections(s: Arc<dyn Store>, _url: String) {
    use cakupan_store::accounts::{Consent, Correction, CorrectionDecision};
    let id = register_known_people(&s).await;
    let index = s.nik_index(&Nik::parse(NIK).unwrap());
    for (d, at) in [("given", 10), ("withdrawn", 20)] {
        s.add_consent(
            &index,
            &Consent {
                purpose: "research".into(),
                notice_version: "2026-11".into(),
                decision: d.into(),
                at,
                channel: "self".into(),
            },
        )
        .await
        .unwrap();
    }
    let c = s.consents(&index).await.unwrap();
    assert_eq!(
        c.iter().map(|c| c.decision.as_str()).collect::<Vec<_>>(),
        ["given", "withdrawn"]
    );
    assert!(s.consents(&[0u8; 16]).await.unwrap().is_empty());
    let cid = s
        .add_correction(&Correction {
            id: 0,
            participant_id: id,
            village_code: "32.73.01.1001".into(),
            field: "name".into(),
            value: "Kartini Wulandari Putri".into(),
            reason: "akta lahir".into(),
            requested_at: 1_000,
            due_at: 1_000 + 72 * 3600,
            status: String::new(),
            decided_at: None,
            decided_by: None,
            note: None,
        })
        .await
        .unwrap();
    let open = s
        .open_corrections(cakupan_domain::RegionCode::parse("32.73").unwrap())
        .await
        .unwrap();
    assert_eq!((open.len(), open[0].id), (1, cid));
    assert_eq!(open[0].value, "Kartini Wulandari Putri");
    assert_eq!(open[0].status, "open");
    assert!(
        s.open_corrections(cakupan_domain::RegionCode::parse("33").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.open_corrections(cakupan_domain::RegionCode::NATION)
            .await
            .unwrap()
            .len(),
        1
    );
    let log = s.audit_for(&[format!("participant:{id}")]).await.unwrap();
    assert!(log.is_empty(), "the store itself writes no audit entries");

    // Refused: kept with its note; the record is unchanged; a retry returns it; deciding it
    // otherwise afterwards is refused.
    let refuse = CorrectionDecision {
        id: cid,
        status: "refused".into(),
        decided_by: "bandung".into(),
        decided_at: 2_000,
        note: "nama sesuai KTP".into(),
        corrected: None,
    };
    let c = s
        .decide_correction(harness::rules(), &refuse)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.status.as_str(), c.note.as_deref()),
        ("refused", Some("nama sesuai KTP"))
    );
    let again = s
        .decide_correction(harness::rules(), &refuse)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, c);
    let other = CorrectionDecision {
        status: "done".into(),
        ..refuse.clone()
    };
    let e = s
        .decide_correction(harness::rules(), &other)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already decided"), "{e}");
    assert_eq!(
        s.participant(id).await.unwrap().unwrap().registration.name,
        NAME
    );
    assert!(
        s.open_corrections(cakupan_domain::RegionCode::NATION)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.correction(cid).await.unwrap().unwrap(), c);
    assert!(s.correction(cid + 100).await.unwrap().is_none());

    // Done, moving the person to Cilacap: a second participation (PU) of the same NIK makes
    // the overlap correction move too; the counters stay equal to a recompute.
    let mut pu = input(NIK);
    pu.name = NAME.into();
    pu.segment = "PU".into();
    pu.income_base = "5000000".into();
    pu.programs = "JKK+JKM+JHT".into();
    pu.channel = "employer".into();
    pu.registered_on = "2026-02-01".into();
    s.register(harness::rules(), &reg(&pu)).await.unwrap();
    let move_id = s
        .add_correction(&Correction {
            id: 0,
            participant_id: id,
            village_code: "32.73.01.1001".into(),
            field: "village_code".into(),
            value: "33.01.01.2001".into(),
            reason: "pindah domisili".into(),
            requested_at: 3_000,
            due_at: 3_000 + 72 * 3600,
            status: String::new(),
            decided_at: None,
            decided_by: None,
            note: None,
        })
        .await
        .unwrap();
    let stored = s.participant(id).await.unwrap().unwrap();
    let mut moved = stored.registration.to_input();
    moved.village_code = "33.01.01.2001".into();
    moved.address = "Jl. Gatot Subroto 3".into();
    let done = CorrectionDecision {
        id: move_id,
        status: "done".into(),
        decided_by: "admin".into(),
        decided_at: 4_000,
        note: String::new(),
        corrected: Some(reg(&moved)),
    };
    let c = s
        .decide_correction(harness::rules(), &done)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.status, "done");
    let after = s.participant(id).await.unwrap().unwrap();
    assert_eq!(after.registration.village.to_string(), "33.01.01.2001");
    assert_eq!(
        after.registration.address.as_deref(),
        Some("Jl. Gatot Subroto 3")
    );
    assert_eq!(
        (after.registration.name.as_str(), after.kpj.as_str()),
        (NAME, stored.kpj.as_str())
    );
    crate::ledger::assert_counters_equal_ledger(&s).await;
    let month = cakupan_domain::Month::parse("2026-01").unwrap();
    let bpu = |region: &str| {
        let s = s.clone();
        let region = region.to_string();
        async move {
            s.active_report(
                cakupan_domain::Level::Province,
                cakupan_domain::RegionCode::parse(&region).unwrap(),
                Some(cakupan_domain::Segment::Bpu),
                month,
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.paid_active)
            .sum::<i64>()
        }
    };
    assert_eq!((bpu("32").await, bpu("33").await), (0, 1));
    // Changing the identity is refused, whatever the request said.
    let mut other_nik = stored.registration.to_input();
    other_nik.nik = "3273015203900004".into();
    let third = s
        .add_correction(&Correction {
            id: 0,
            participant_id: id,
            village_code: "33.01.01.2001".into(),
            field: "name".into(),
            value: "X".into(),
            reason: "x".into(),
            requested_at: 5_000,
            due_at: 5_000,
            status: String::new(),
            decided_at: None,
            decided_by: None,
            note: None,
        })
        .await
        .unwrap();
    let e = s
        .decide_correction(
            harness::rules(),
            &CorrectionDecision {
                id: third,
                corrected: Some(reg(&other_nik)),
                ..done.clone()
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("correction.identity"), "{e}");
    assert_eq!(s.correction(third).await.unwrap().unwrap().status, "open");
    assert_eq!(s.corrections_of(&[id]).await.unwrap().len(), 3);
}
