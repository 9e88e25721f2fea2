//! Coverage targets as records on both backends: checked and idempotent writes, allocation
//! down the tree that sums to the parent, and the target report.

use crate::harness::{self, input, reg};
use cakupan_domain::coverage::Metric;
use cakupan_domain::{Month, RegionCode};
use cakupan_store::targets::{Weight, allocate_children, from_rules, report};
use cakupan_store::{Store, StoreError, TargetRecord};
use std::sync::Arc;

on_both_backends! {
    targets_are_checked_and_idempotent: true,
    allocation_sums_and_the_report_uses_it: true,
}

fn m(s: &str) -> Month {
    Month::parse(s).unwrap()
}

fn national() -> TargetRecord {
    from_rules(harness::rules()).unwrap().remove(0)
}

async fn targets_are_checked_and_idempotent(s: Arc<dyn Store>) {
    let t = national();
    assert_eq!(
        (t.metric, t.region, t.value, t.baseline),
        (
            Metric::StatusActive,
            RegionCode::NATION,
            70_000_000,
            Some((m("2023-02"), 35_300_000))
        )
    );
    assert_eq!(
        s.set_targets(std::slice::from_ref(&t), false)
            .await
            .unwrap(),
        1
    );
    // Seeding again keeps what is stored; an edit replaces it; a retry of the edit is the same.
    let mut edited = t.clone();
    edited.value = 71_000_000;
    edited.source = "board decision 2026/11".into();
    assert_eq!(
        s.set_targets(std::slice::from_ref(&t), false)
            .await
            .unwrap(),
        0
    );
    s.set_targets(std::slice::from_ref(&edited), true)
        .await
        .unwrap();
    s.set_targets(std::slice::from_ref(&edited), true)
        .await
        .unwrap();
    assert_eq!(s.targets().await.unwrap(), vec![edited.clone()]);
    s.set_targets(std::slice::from_ref(&t), false)
        .await
        .unwrap();
    assert_eq!(s.targets().await.unwrap()[0].value, 71_000_000);
    // One bad target in a batch: named, and nothing of the batch stored.
    let mut good = t.clone();
    good.region = RegionCode::parse("32").unwrap();
    let mut bad = t.clone();
    bad.region = RegionCode::parse("33").unwrap();
    bad.value = -5;
    match s.set_targets(&[good, bad], true).await {
        Err(StoreError::Rejected(e)) => {
            assert_eq!(
                (e.0[0].field.as_str(), e.0[0].rule),
                ("value", "value.negative")
            )
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(s.targets().await.unwrap().len(), 1);
}

async fn allocation_sums_and_the_report_uses_it(s: Arc<dyn Store>) {
    let regions = harness::regions();
    s.set_targets(&[national()], false).await.unwrap();
    // Two people in Kota Bandung (32.73), one in Kabupaten Bogor (32.01), registered in 2026.
    for (nik, village) in [
        ("3273015203900003", "32.73.01.1001"),
        ("3273014506850002", "32.73.01.1002"),
        ("3201014506850002", "32.01.01.1001"),
    ] {
        let mut i = input(nik);
        i.village_code = village.into();
        i.registered_on = "2026-01-05".into();
        s.register(harness::rules(), &reg(&i)).await.unwrap();
    }
    let now = m("2026-11");
    // Nation → provinces by employed persons: 38 provinces, summing to the national target.
    let provinces = allocate_children(s.as_ref(), regions, &national(), Weight::Employed, now)
        .await
        .unwrap();
    assert_eq!(provinces.len(), 38);
    assert_eq!(provinces.iter().map(|t| t.value).sum::<i64>(), 70_000_000);
    assert_eq!(
        provinces.iter().map(|t| t.baseline.unwrap().1).sum::<i64>(),
        35_300_000
    );
    let jabar = provinces
        .iter()
        .find(|t| t.region == RegionCode::parse("32").unwrap())
        .unwrap()
        .clone();
    // Jawa Barat: 23.50 of 139.85 million employed.
    let expected = 70_000_000.0 * 23.50 / 139.85;
    assert!(
        (jabar.value as f64 - expected).abs() <= 1.0,
        "{}",
        jabar.value
    );
    assert!(jabar.basis.contains("employed persons"), "{}", jabar.basis);
    // Below a province there are no employed figures: a clear error naming the weight.
    match allocate_children(s.as_ref(), regions, &jabar, Weight::Employed, now).await {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].field, "weight"),
        o => panic!("{o:?}"),
    }
    // Before anything is stored for Kota Bandung, the report allocates on the fly: by
    // employed persons to Jawa Barat, then by registered participants (2 of its 3).
    let r = report(
        s.as_ref(),
        regions,
        RegionCode::parse("32.73").unwrap(),
        now,
        3,
    )
    .await
    .unwrap();
    assert!(!r.stored);
    assert_eq!(
        r.target.value,
        (jabar.value as f64 * 2.0 / 3.0).round() as i64
    );
    assert!(
        r.target.basis.contains("registered participants"),
        "{}",
        r.target.basis
    );
    assert_eq!(r.progress.actual, 0);
    assert_eq!(r.progress.months_left, 1);
    // Stored, the region's own target is used.
    s.set_targets(&provinces, true).await.unwrap();
    let regencies = allocate_children(s.as_ref(), regions, &jabar, Weight::Registered, now)
        .await
        .unwrap();
    assert_eq!(regencies.iter().map(|t| t.value).sum::<i64>(), jabar.value);
    let mut bandung = regencies
        .into_iter()
        .find(|t| t.region == RegionCode::parse("32.73").unwrap())
        .unwrap();
    bandung.value = 1_000;
    bandung.basis = "stated".into();
    s.set_targets(&[bandung], true).await.unwrap();
    let r = report(
        s.as_ref(),
        regions,
        RegionCode::parse("32.73").unwrap(),
        now,
        3,
    )
    .await
    .unwrap();
    assert!(r.stored);
    assert_eq!(r.target.value, 1_000);
    assert!((r.progress.required_per_month - 1_000.0).abs() < 1e-9);
    let nation = report(s.as_ref(), regions, RegionCode::NATION, now, 3)
        .await
        .unwrap();
    assert!(nation.stored);
    assert_eq!(nation.target.value, 70_000_000);
    // An unknown region is named.
    match report(
        s.as_ref(),
        regions,
        RegionCode::parse("99").unwrap(),
        now,
        3,
    )
    .await
    {
        Err(StoreError::Rejected(e)) => assert_eq!(e.0[0].rule, "region.unknown"),
        o => panic!("{o:?}"),
    }
}
