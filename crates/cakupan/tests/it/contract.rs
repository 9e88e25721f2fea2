//! The store contract: the same cases on SQLite and PostgreSQL.

use crate::harness::{self, input, reg};
use cakupan_domain::{Kpj, Level, Nik};
use cakupan_store::{Outcome, Store, StoreError};
use std::sync::Arc;

on_both_backends! {
    regions_load_once: false,
    register_and_look_up: true,
    retry_is_idempotent: true,
    second_participation_in_segment_conflicts: true,
    one_nik_in_both_segments: true,
    batch_outcomes_in_order: true,
    concurrent_retries_store_once: true,
    failed_batch_writes_nothing: false,
    missing_rows_are_none: true,
    registration_and_its_audit_commit_together: true,
}

async fn regions_load_once(s: Arc<dyn Store>) {
    let first = s.ensure_regions(harness::regions()).await.unwrap();
    assert!(first.loaded);
    assert_eq!(first.count, 91_599);
    let again = s.ensure_regions(harness::regions()).await.unwrap();
    assert!(!again.loaded, "a second start must not reload the regions");
    let counts = s.region_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![
            (Level::Province, 38),
            (Level::Regency, 514),
            (Level::District, 7_285),
            (Level::Village, 83_762)
        ]
    );
}

async fn register_and_look_up(s: Arc<dyn Store>) {
    let mut i = input("3273015203900003");
    i.heirs = vec![cakupan_domain::participants::HeirInput {
        name: "Budi Santoso".into(),
        relationship: "suami".into(),
        nik: "3273011203880001".into(),
        phone: String::new(),
    }];
    let r = reg(&i);
    let Outcome::Created { id, kpj } = s.register(harness::rules(), &r).await.unwrap() else {
        panic!("not created")
    };
    assert!(
        Kpj::parse(&kpj).is_ok(),
        "issued KPJ {kpj} carries a valid check digit"
    );
    let by_id = s.participant(id).await.unwrap().unwrap();
    assert_eq!(by_id.kpj, kpj);
    assert_eq!(
        by_id.registration, r,
        "everything registered reads back unchanged"
    );
    assert_eq!(by_id.registration.heirs.len(), 1);
    assert_eq!(s.participant_by_kpj(&kpj).await.unwrap().unwrap().id, id);
    let by_nik = s.participants_by_nik(r.nik).await.unwrap();
    assert_eq!(by_nik.len(), 1);
    assert_eq!(by_nik[0].id, id);
    assert_eq!(s.count_participants().await.unwrap(), 1);
}

async fn retry_is_idempotent(s: Arc<dyn Store>) {
    let r = reg(&input("3273015203900003"));
    let Outcome::Created { id, kpj } = s.register(harness::rules(), &r).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        s.register(harness::rules(), &r).await.unwrap(),
        Outcome::Existing { id, kpj }
    );
    assert_eq!(s.count_participants().await.unwrap(), 1);
}

async fn second_participation_in_segment_conflicts(s: Arc<dyn Store>) {
    let r = reg(&input("3273015203900003"));
    let Outcome::Created { kpj, .. } = s.register(harness::rules(), &r).await.unwrap() else {
        panic!()
    };
    let mut other = input("3273015203900003");
    other.name = "Siti Rahmawati".into();
    match s.register(harness::rules(), &reg(&other)).await {
        Err(e @ StoreError::Conflict { .. }) => {
            let msg = e.to_string();
            assert!(msg.starts_with("nik:"), "{msg}");
            assert!(
                msg.contains(&kpj),
                "the error names the existing KPJ: {msg}"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(s.count_participants().await.unwrap(), 1);
}

async fn one_nik_in_both_segments(s: Arc<dyn Store>) {
    let bpu = reg(&input("3273015203900003"));
    let mut pu = input("3273015203900003");
    pu.segment = "PU".into();
    pu.occupation_code = "15".into();
    pu.income_base = "4500000".into();
    pu.programs = "JKK+JKM+JHT+JP".into();
    pu.channel = "employer".into();
    let pu = reg(&pu);
    assert!(matches!(
        s.register(harness::rules(), &bpu).await.unwrap(),
        Outcome::Created { .. }
    ));
    assert!(matches!(
        s.register(harness::rules(), &pu).await.unwrap(),
        Outcome::Created { .. }
    ));
    let both = s.participants_by_nik(bpu.nik).await.unwrap();
    let segments: Vec<String> = both
        .iter()
        .map(|p| p.registration.segment.to_string())
        .collect();
    assert_eq!(segments, vec!["BPU", "PU"]);
    assert_ne!(both[0].kpj, both[1].kpj);
}

pub(crate) async fn batch_outcomes_in_order(s: Arc<dyn Store>) {
    let stored = reg(&input("3273015203900003"));
    let Outcome::Created {
        id: stored_id,
        kpj: stored_kpj,
    } = s.register(harness::rules(), &stored).await.unwrap()
    else {
        panic!()
    };
    let a = reg(&input("3273011203880001"));
    let mut changed = input("3273015203900003");
    changed.income_base = "1200000".into();
    let mut a_changed = input("3273011203880001");
    a_changed.name = "Someone Else".into();
    let batch = vec![
        a.clone(),
        stored.clone(),
        reg(&changed),
        a.clone(),
        reg(&a_changed),
    ];
    let out = s.register_batch(harness::rules(), &batch).await.unwrap();
    let Outcome::Created {
        id: a_id,
        kpj: a_kpj,
    } = out[0].clone()
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        out[1],
        Outcome::Existing {
            id: stored_id,
            kpj: stored_kpj.clone()
        }
    );
    assert_eq!(
        out[2],
        Outcome::Conflict {
            kpj: stored_kpj,
            segment: cakupan_domain::Segment::Bpu
        }
    );
    assert_eq!(
        out[3],
        Outcome::Existing {
            id: a_id,
            kpj: a_kpj.clone()
        }
    );
    assert_eq!(
        out[4],
        Outcome::Conflict {
            kpj: a_kpj,
            segment: cakupan_domain::Segment::Bpu
        }
    );
    assert_eq!(s.count_participants().await.unwrap(), 2);
}

async fn concurrent_retries_store_once(s: Arc<dyn Store>) {
    let r = reg(&input("3273015203900003"));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            let r = r.clone();
            tokio::spawn(async move { s.register(harness::rules(), &r).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        match t.await.unwrap() {
            Outcome::Created { id, .. } => {
                created += 1;
                ids.insert(id);
            }
            Outcome::Existing { id, .. } => {
                ids.insert(id);
            }
            o => panic!("{o:?}"),
        }
    }
    assert_eq!(created, 1, "exactly one of the concurrent retries stores");
    assert_eq!(ids.len(), 1, "all retries see the same participant");
    assert_eq!(s.count_participants().await.unwrap(), 1);
}

async fn failed_batch_writes_nothing(s: Arc<dyn Store>) {
    // No regions loaded: the village reference fails inside the transaction, after other
    // rows of the batch were inserted. Nothing of the batch may remain.
    let batch = vec![
        reg(&input("3273015203900003")),
        reg(&input("3273011203880001")),
    ];
    let e = s
        .register_batch(harness::rules(), &batch)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Sql(_)), "{e}");
    // The driver's error is kept as the source.
    assert!(std::error::Error::source(&e).is_some(), "{e}");
    assert_eq!(s.count_participants().await.unwrap(), 0);
    // And the store still works afterwards.
    s.ensure_regions(harness::regions()).await.unwrap();
    assert_eq!(
        s.register_batch(harness::rules(), &batch)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.count_participants().await.unwrap(), 2);
}

async fn missing_rows_are_none(s: Arc<dyn Store>) {
    assert!(s.participant(424_242).await.unwrap().is_none());
    assert!(s.participant_by_kpj("00000005724").await.unwrap().is_none());
    assert!(
        s.participants_by_nik(Nik::parse("3273015203900003").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.count_participants().await.unwrap(), 0);
}

/// A registration through `register_audited` writes its audit entry in its own transaction:
/// created and existing outcomes are audited with the participation's id, a conflict writes
/// nothing, and the chain stays whole.
async fn registration_and_its_audit_commit_together(s: Arc<dyn Store>) {
    use cakupan_store::accounts::{AuditEntry, RegistrationAudit, verify_chain};
    let entry = |action: &str| AuditEntry {
        at: 1,
        actor: "petugas".into(),
        role: "branch_officer".into(),
        action: action.into(),
        record: String::new(),
        request_id: "r1".into(),
        purpose: "enrolment".into(),
    };
    let audit = RegistrationAudit {
        created: entry("participant.register"),
        existing: entry("participant.read"),
    };
    let r = reg(&input("3273015203900003"));
    let Outcome::Created { id, .. } = s
        .register_audited(harness::rules(), &r, &audit)
        .await
        .unwrap()
    else {
        panic!("not created")
    };
    let again = s
        .register_audited(harness::rules(), &r, &audit)
        .await
        .unwrap();
    assert!(matches!(again, Outcome::Existing { .. }), "{again:?}");
    let mut other = input("3273015203900003");
    other.name = "Siti Rahmawati".into();
    let conflict = s
        .register_audited(harness::rules(), &reg(&other), &audit)
        .await
        .unwrap();
    assert!(matches!(conflict, Outcome::Conflict { .. }), "{conflict:?}");
    let log = s.audit_log().await.unwrap();
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.entry.action.as_str(), e.entry.record.as_str()))
        .collect();
    let record = format!("participant:{id}");
    assert_eq!(
        actions,
        vec![
            ("participant.register", record.as_str()),
            ("participant.read", record.as_str())
        ]
    );
    assert_eq!(verify_chain(s.keys(), &log), Ok(2));
    // Concurrent registrations (SQLite commits them together): 40 new people and 10 retries
    // of them, each answered with its own outcome, each audited once, one chain.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = s.clone();
            let audit = audit.clone();
            tokio::spawn(async move {
                let nik = format!("32730152039{:05}", 100 + i % 40);
                let r = reg(&input(&nik));
                let o = s
                    .register_audited(harness::rules(), &r, &audit)
                    .await
                    .unwrap();
                (i, o)
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        let (i, o) = t.await.unwrap();
        match o {
            Outcome::Created { .. } => created += 1,
            Outcome::Existing { .. } => {}
            Outcome::Conflict { .. } => panic!("task {i}: no conflict expected: {o:?}"),
        }
    }
    assert_eq!(created, 40);
    assert_eq!(s.count_participants().await.unwrap(), 41);
    let log = s.audit_log().await.unwrap();
    assert_eq!(verify_chain(s.keys(), &log), Ok(52));
    let registered = log
        .iter()
        .filter(|e| e.entry.action == "participant.register")
        .count();
    assert_eq!(registered, 41);
}
