//! Accounts, sessions and the audit chain on both backends.

use cakupan_domain::RegionCode;
use cakupan_domain::access::Role;
use cakupan_store::accounts::{AuditEntry, NewUser, token_hash, verify_chain};
use cakupan_store::{Store, StoreError};
use std::sync::Arc;

on_both_backends! {
    users_and_sessions: false,
    concurrent_audit_appends_keep_one_chain: false,
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        role: Role::BranchOfficer,
        region: RegionCode::parse("32.73").unwrap(),
        agent_code: None,
        nik_index: None,
        employer_code: None,
    }
}

async fn users_and_sessions(s: Arc<dyn Store>) {
    assert_eq!(s.count_users().await.unwrap(), 0);
    let id = s.create_user(&new_user("siti"), 100).await.unwrap();
    match s.create_user(&new_user("siti"), 100).await {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "username.taken"),
        o => panic!("{o:?}"),
    }
    let u = s.user_by_username("siti").await.unwrap().unwrap();
    assert_eq!(
        (u.id, u.role.as_str(), u.region.as_str()),
        (id, "branch_officer", "32.73")
    );
    assert_eq!(
        u.principal().unwrap().region,
        RegionCode::parse("32.73").unwrap()
    );
    assert!(s.user_by_username("budi").await.unwrap().is_none());
    let h = token_hash("token-1");
    s.create_session(&h, id, 1_000, 2_000).await.unwrap();
    assert_eq!(
        s.session_user(&h, 1_500, 1_800)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(id)
    );
    assert!(
        s.session_user(&h, 2_000, 1_800).await.unwrap().is_none(),
        "expired"
    );
    assert!(
        s.session_user(&token_hash("token-2"), 1_500, 1_800)
            .await
            .unwrap()
            .is_none()
    );
    s.delete_session(&h).await.unwrap();
    s.delete_session(&h).await.unwrap();
    assert!(
        s.session_user(&h, 1_500, 1_800).await.unwrap().is_none(),
        "logged out"
    );
    // Issue 17, item 8, on both backends: idle sessions end; a use marks the session (once a
    // minute), so a session in use stays; the newest N stay; all end on request.
    let h = token_hash("token-3");
    s.create_session(&h, id, 10_000, 90_000).await.unwrap();
    assert!(
        s.session_user(&h, 10_000 + 1_799, 1_800)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.session_user(&h, 10_000 + 1_799 + 1_799, 1_800)
            .await
            .unwrap()
            .is_some(),
        "used at +1799, so alive"
    );
    assert!(
        s.session_user(&h, 20_000, 1_800).await.unwrap().is_none(),
        "unused too long"
    );
    for (i, at) in [20_000, 20_001, 20_002].into_iter().enumerate() {
        s.create_session(&token_hash(&format!("t{i}")), id, at, 90_000)
            .await
            .unwrap();
    }
    assert_eq!(
        s.trim_sessions(id, &token_hash("t2"), 2, 20_003)
            .await
            .unwrap(),
        2,
        "the oldest and the idle one"
    );
    assert!(
        s.session_user(&token_hash("t0"), 20_003, 1_800)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.session_user(&token_hash("t2"), 20_003, 1_800)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        s.end_sessions(id, Some(&token_hash("t2"))).await.unwrap(),
        1
    );
    assert!(
        s.session_user(&token_hash("t2"), 20_003, 1_800)
            .await
            .unwrap()
            .is_some()
    );
    s.set_password(id, "$argon2id$new", true).await.unwrap();
    let u = s.user_by_username("siti").await.unwrap().unwrap();
    assert_eq!(
        (u.password_hash.as_str(), u.must_change_password),
        ("$argon2id$new", true)
    );
    s.set_disabled(id, true).await.unwrap();
    assert!(
        s.session_user(&token_hash("t2"), 20_003, 1_800)
            .await
            .unwrap()
            .is_none(),
        "disabled"
    );
    s.set_disabled(id, false).await.unwrap();
    assert!(
        s.session_user(&token_hash("t2"), 20_003, 1_800)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.end_sessions(id, None).await.unwrap(), 1);
}

fn entry(actor: &str, n: usize) -> AuditEntry {
    AuditEntry {
        at: n as i64,
        actor: actor.into(),
        role: "branch_officer".into(),
        action: "participant.read".into(),
        record: format!("participant:{n}"),
        request_id: format!("{actor}-{n}"),
        purpose: "service".into(),
    }
}

async fn concurrent_audit_appends_keep_one_chain(s: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                for n in 0..10 {
                    s.append_audit(&[entry(&format!("u{t}"), n)]).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    s.append_audit(&[entry("batch", 1), entry("batch", 2)])
        .await
        .unwrap();
    let log = s.audit_log().await.unwrap();
    assert_eq!(verify_chain(s.keys(), &log), Ok(82));
    let (check, verdict) = s.audit_verify().await.unwrap();
    assert_eq!((check.count(), verdict), (82, Ok(())));
    // The anchor read from the last entry alone is the one the whole check arrives at.
    let anchor = s.audit_anchor().await.unwrap();
    assert_eq!(
        (anchor.count, anchor.hash.as_str()),
        (82, check.last_hash())
    );
    assert_eq!(s.audit_holds(&anchor).await.unwrap(), Ok(()));
}
